/* SPDX-License-Identifier: Apache-2.0 */
/* The scan pipeline end to end through the public API: databases written by
 * the test, objects fed in every chunking, verdicts checked. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "t.h"

static const char EICAR[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static char tmpdir[256];

static const char *write_db(const char *name, const char *content)
{
    static char path[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/bw-test-scan.XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(content, f);
    fclose(f);
    return path;
}

static bw_engine_t *load1(const char *path)
{
    bw_engine_t *e = NULL;
    char err[512] = "";
    const char *paths[] = {path};
    if (bw_engine_load(paths, 1, NULL, &e, err, sizeof err) != BW_OK)
        fprintf(stderr, "  load %s: %s\n", path, err);
    return e;
}

/* Scans buf in chunks of `chunk` bytes (0: all at once). */
static bw_status_t scan_buf(const bw_engine_t *e, const void *buf, size_t len, size_t chunk,
                            bw_verdict_t *v)
{
    bw_limits_t lim;
    bw_limits_default(&lim);
    bw_scan_t *s = bw_scan_begin(e, &lim, "obj");
    if (!s)
        return BW_ERROR;
    const char *p = buf;
    size_t step = chunk ? chunk : (len ? len : 1);
    for (size_t off = 0; off < len; off += step) {
        size_t n = len - off < step ? len - off : step;
        if (bw_scan_feed(s, p + off, n) != BW_OK)
            break;
    }
    bw_scan_end(s, v);
    return v->status;
}

static bw_status_t scan_str(const bw_engine_t *e, const char *str, const char **name)
{
    static char namebuf[128];
    bw_verdict_t v;
    bw_status_t st = scan_buf(e, str, strlen(str), 0, &v);
    snprintf(namebuf, sizeof namebuf, "%s", bw_verdict_name(&v));
    if (name)
        *name = namebuf;
    bw_verdict_free(&v);
    return st;
}

TEST(eicar_and_modifications)
{
    bw_engine_t *e = load1("../db/test");
    CHECK(e != NULL);
    if (!e)
        return;
    const char *name;
    CHECK_EQ(scan_str(e, EICAR, &name), BW_INFECTED);
    CHECK_STR(name, "EICAR-Test-File");
    struct { const char *pre; bw_status_t st; const char *name; } mods[] = {
        {"CURE-", BW_CURED, "EICAR-Test-File-CURE"},
        {"DELE-", BW_INFECTED, "EICAR-Test-File-DELE"},
        {"WARN-", BW_WARNING, "EICAR-Test-File-WARN"},
        {"SUSP-", BW_SUSPICIOUS, "EICAR-Test-File-SUSP"},
        {"CORR-", BW_CORRUPTED, "EICAR-Test-File-CORR"},
        {"ERRO-", BW_ERROR, "EICAR-Test-File-ERRO"},
    };
    for (size_t i = 0; i < sizeof mods / sizeof *mods; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s%s", mods[i].pre, EICAR);
        CHECK_EQ(scan_str(e, buf, &name), mods[i].st);
        CHECK_STR(name, mods[i].name);
    }
    /* the cure of CURE- is the word CURE */
    char buf[128];
    snprintf(buf, sizeof buf, "CURE-%s", EICAR);
    bw_verdict_t v;
    scan_buf(e, buf, strlen(buf), 0, &v);
    CHECK_EQ(v.cured_len, 4);
    CHECK(v.cured && !memcmp(v.cured, "CURE", 4));
    bw_verdict_free(&v);
    /* EICAR not at offset 0 is not the test file */
    snprintf(buf, sizeof buf, "xx%s", EICAR);
    CHECK_EQ(scan_str(e, buf, NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "hello, world\n", NULL), BW_CLEAN);
    bw_engine_unref(e);
}

TEST(every_chunking_finds_eicar)
{
    bw_engine_t *e = load1("../db/test");
    if (!e) { CHECK(0); return; }
    char buf[256];
    snprintf(buf, sizeof buf, "WARN-%s", EICAR);
    for (size_t chunk = 1; chunk <= strlen(buf); chunk++) {
        bw_verdict_t v;
        CHECK_EQ(scan_buf(e, buf, strlen(buf), chunk, &v), BW_WARNING);
        bw_verdict_free(&v);
    }
    bw_engine_unref(e);
}

TEST(multipart_star_across_a_megabyte)
{
    bw_engine_t *e = load1(write_db("star.ndb", "Star.Test:0:*:41414141*42424242\n"));
    if (!e) { CHECK(0); return; }
    size_t n = 1 << 20;
    char *b = calloc(1, n + 16);
    memcpy(b + 10, "AAAA", 4);
    memcpy(b + n, "BBBB", 4);
    bw_verdict_t v;
    CHECK_EQ(scan_buf(e, b, n + 16, 4096, &v), BW_INFECTED);
    CHECK_STR(bw_verdict_name(&v), "Star.Test");
    bw_verdict_free(&v);
    /* wrong order: no match */
    memset(b, 0, n + 16);
    memcpy(b + 10, "BBBB", 4);
    memcpy(b + n, "AAAA", 4);
    CHECK_EQ(scan_buf(e, b, n + 16, 4096, &v), BW_CLEAN);
    bw_verdict_free(&v);
    free(b);
    bw_engine_unref(e);
}

TEST(range_gap_bounds)
{
    bw_engine_t *e = load1(write_db("gap.ndb", "Gap.Test:0:*:41414141{2-4}42424242\n"));
    if (!e) { CHECK(0); return; }
    const char *cases[][2] = {
        {"AAAA.BBBB", "0"}, {"AAAA..BBBB", "1"}, {"AAAA....BBBB", "1"}, {"AAAA.....BBBB", "0"},
    };
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ(scan_str(e, cases[i][0], NULL), cases[i][1][0] == '1' ? BW_INFECTED : BW_CLEAN);
    bw_engine_unref(e);
}

TEST(offsets_exact_shift_and_eof)
{
    bw_engine_t *e = load1(write_db("off.ndb",
        "Exact:0:4:58595a57\n"      /* XYZW at 4 */
        "Shift:0:10,3:51525354\n"   /* QRST at 10..13 */
        "Tail:0:EOF-4:4a4b4c4d\n"));/* JKLM ending the object */
    if (!e) { CHECK(0); return; }
    CHECK_EQ(scan_str(e, "....XYZW", NULL), BW_INFECTED);
    CHECK_EQ(scan_str(e, ".....XYZW", NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "............QRST", NULL), BW_INFECTED);
    CHECK_EQ(scan_str(e, "..............QRST", NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "whatever JKLM", NULL), BW_INFECTED);
    CHECK_EQ(scan_str(e, "whatever JKLM.", NULL), BW_CLEAN);
    bw_engine_unref(e);
}

TEST(logical_signatures)
{
    bw_engine_t *e = load1(write_db("l.ldb",
        "Both;Engine:51-255,Target:0;0&1;41414141;42424242\n"
        "Thrice;Target:0;0>2;43434343\n"));
    if (!e) { CHECK(0); return; }
    const char *name;
    CHECK_EQ(scan_str(e, "AAAA and BBBB", &name), BW_INFECTED);
    CHECK_STR(name, "Both");
    CHECK_EQ(scan_str(e, "AAAA only", NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "CCCC CCCC", NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "CCCC CCCC CCCC", &name), BW_INFECTED);
    CHECK_STR(name, "Thrice");
    bw_engine_unref(e);
}

TEST(hashes_and_allow_list)
{
    /* md5("hello\n") = b1946ac92492d2347c6235b4d2611184, 6 bytes;
     * sha256("bye\n") = ... computed by the engine: use size * to test any-size. */
    const char *dir = write_db("h.hdb", "b1946ac92492d2347c6235b4d2611184:6:Hello.Hash\n");
    (void)dir;
    write_db("h.hsb", "4c2a8e4d0d6ba0e0b8d5bd1c4e1a6fd0c6e6e2a2e6a0a7a6c1cb1d6d9e1d3f4a:*:Never.Matches\n");
    bw_engine_t *e = load1(tmpdir);
    if (!e) { CHECK(0); return; }
    const char *name;
    CHECK_EQ(scan_str(e, "hello\n", &name), BW_INFECTED);
    CHECK_STR(name, "Hello.Hash");
    CHECK_EQ(scan_str(e, "hello!\n", NULL), BW_CLEAN);
    bw_engine_unref(e);
    /* the .fp allow list wins over a body match */
    char d2[300];
    snprintf(d2, sizeof d2, "%s/allow", tmpdir);
    mkdir(d2, 0700);
    char p[400];
    snprintf(p, sizeof p, "%s/a.ndb", d2);
    FILE *f = fopen(p, "w"); fputs("Hello.Body:0:*:68656c6c6f\n", f); fclose(f);
    const char *paths[] = {d2};
    char err[512];
    CHECK(bw_engine_load(paths, 1, NULL, &e, err, sizeof err) == BW_OK);
    CHECK_EQ(scan_str(e, "hello\n", NULL), BW_INFECTED);
    bw_engine_unref(e);
    snprintf(p, sizeof p, "%s/a.fp", d2);
    f = fopen(p, "w"); fputs("b1946ac92492d2347c6235b4d2611184:6:Hello.Allowed\n", f); fclose(f);
    CHECK(bw_engine_load(paths, 1, NULL, &e, err, sizeof err) == BW_OK);
    CHECK_EQ(scan_str(e, "hello\n", NULL), BW_CLEAN);
    CHECK_EQ(scan_str(e, "hello world\n", NULL), BW_INFECTED);
    bw_engine_unref(e);
}

TEST(target_type_gate)
{
    bw_engine_t *e = load1(write_db("elf.ndb", "Elf.Only:6:*:deadbeefcafe\n"));
    if (!e) { CHECK(0); return; }
    unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    memcpy(elf + 40, "\xde\xad\xbe\xef\xca\xfe", 6);
    unsigned char plain[64] = {0};
    memcpy(plain + 40, "\xde\xad\xbe\xef\xca\xfe", 6);
    bw_verdict_t v;
    CHECK_EQ(scan_buf(e, elf, sizeof elf, 7, &v), BW_INFECTED);
    bw_verdict_free(&v);
    CHECK_EQ(scan_buf(e, plain, sizeof plain, 0, &v), BW_CLEAN);
    bw_verdict_free(&v);
    bw_engine_unref(e);
}

TEST(compiled_cache_round_trip)
{
    char cache[300];
    snprintf(cache, sizeof cache, "%s/cache", tmpdir[0] ? tmpdir : "/tmp");
    write_db("c.ndb", "Cache.Test:0:*:6361636865{-3}6869\n");
    char dbp[300];
    snprintf(dbp, sizeof dbp, "%s/c.ndb", tmpdir);
    const char *paths[] = {dbp};
    bw_load_opts_t o = {.cache_dir = cache};
    bw_engine_t *e1 = NULL, *e2 = NULL;
    char err[512];
    CHECK(bw_engine_load(paths, 1, &o, &e1, err, sizeof err) == BW_OK);
    CHECK(bw_engine_load(paths, 1, &o, &e2, err, sizeof err) == BW_OK);
    if (!e1 || !e2) return;
    CHECK_EQ(bw_engine_info(e1)->from_cache, 0);
    CHECK_EQ(bw_engine_info(e2)->from_cache, 1);
    CHECK_STR(bw_engine_info(e1)->source_hash, bw_engine_info(e2)->source_hash);
    CHECK_EQ(scan_str(e2, "cache..hi", NULL), BW_INFECTED);
    CHECK_EQ(scan_str(e2, "cache....hi", NULL), BW_CLEAN);
    bw_engine_unref(e1);
    bw_engine_unref(e2);
}

/* A damaged cache file is a miss (recompiled), never a crash or a wrong engine. */
TEST(damaged_cache_is_recompiled)
{
    char cache[300], dbp[300], cmd[700];
    snprintf(cache, sizeof cache, "%s/cache2", tmpdir[0] ? tmpdir : "/tmp");
    write_db("d.ndb", "Damage.Test:0:*:64616d616765{2-4}6d65\n");
    snprintf(dbp, sizeof dbp, "%s/d.ndb", tmpdir);
    const char *paths[] = {dbp};
    bw_load_opts_t o = {.cache_dir = cache};
    bw_engine_t *e = NULL;
    char err[512];
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    bw_engine_unref(e);
    /* flip one byte in the middle of every cache image, keeping its size */
    snprintf(cmd, sizeof cmd,
             "for f in %s/*.bwdb; do n=$(stat -c %%s \"$f\"); printf '\\377' | "
             "dd of=\"$f\" bs=1 seek=$((n / 2)) conv=notrunc status=none; done", cache);
    CHECK(system(cmd) == 0);
    e = NULL;
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    CHECK_EQ(bw_engine_info(e)->from_cache, 0);
    CHECK_EQ(scan_str(e, "damage..me", NULL), BW_INFECTED);
    CHECK_EQ(scan_str(e, "damage......me", NULL), BW_CLEAN);
    bw_engine_unref(e);
    /* and the recompiled engine rewrote a good cache */
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    CHECK_EQ(bw_engine_info(e)->from_cache, 1);
    bw_engine_unref(e);
}

static char g_note[1024];
static void note_cb(void *arg, const char *msg)
{
    (void)arg;
    snprintf(g_note, sizeof g_note, "%s", msg);
}

/* The cache is believed only if nobody else can have written it: a
 * group-writable image, or a directory anyone can write, is refused with a
 * note and the sources are compiled (engine-cache.c). */
TEST(cache_others_can_write_is_refused)
{
    char cache[300], dbp[300], path[700];
    snprintf(cache, sizeof cache, "%s/cache3", tmpdir[0] ? tmpdir : "/tmp");
    write_db("t.ndb", "Trust.Test:0:*:7472757374{-2}6d65\n");
    snprintf(dbp, sizeof dbp, "%s/t.ndb", tmpdir);
    const char *paths[] = {dbp};
    bw_load_opts_t o = {.cache_dir = cache, .note = note_cb};
    bw_engine_t *e = NULL;
    char err[512];
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    snprintf(path, sizeof path, "%s/%s.bwdb", cache, bw_engine_info(e)->source_hash);
    bw_engine_unref(e);
    CHECK(chmod(path, 0664) == 0);
    g_note[0] = 0;
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    CHECK_EQ(bw_engine_info(e)->from_cache, 0);
    CHECK(strstr(g_note, "writable by its group") != NULL);
    CHECK_EQ(scan_str(e, "trust.me", NULL), BW_INFECTED);
    bw_engine_unref(e);
    CHECK(chmod(cache, 0777) == 0);
    g_note[0] = 0;
    CHECK(bw_engine_load(paths, 1, &o, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    CHECK_EQ(bw_engine_info(e)->from_cache, 0);
    CHECK(strstr(g_note, "is writable by everyone") != NULL);
    bw_engine_unref(e);
}

struct thr { bw_engine_t *e; int bad; };
static void *thr_main(void *arg)
{
    struct thr *t = arg;
    char buf[128];
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof buf, "%s%s", i % 2 ? "SUSP-" : "", EICAR);
        if (scan_str(t->e, buf, NULL) != (i % 2 ? BW_SUSPICIOUS : BW_INFECTED))
            t->bad++;
    }
    return NULL;
}

TEST(concurrent_scans_share_one_engine)
{
    bw_engine_t *e = load1("../db/test");
    if (!e) { CHECK(0); return; }
    pthread_t th[4];
    struct thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){e, 0};
        pthread_create(&th[i], NULL, thr_main, &t[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(t[i].bad, 0);
    }
    bw_engine_unref(e);
}

TEST(file_size_limit_is_a_status)
{
    bw_engine_t *e = load1("../db/test");
    if (!e) { CHECK(0); return; }
    bw_limits_t lim;
    bw_limits_default(&lim);
    lim.max_file_size = 1000;
    bw_scan_t *s = bw_scan_begin(e, &lim, "big");
    char buf[600] = {0};
    int rc = bw_scan_feed(s, buf, sizeof buf);
    CHECK_EQ(rc, BW_OK);
    rc = bw_scan_feed(s, buf, sizeof buf);
    CHECK_EQ(rc, BW_DONE);
    bw_verdict_t v;
    bw_scan_end(s, &v);
    CHECK_EQ(v.status, BW_TOO_LARGE);
    CHECK_CONTAINS(bw_verdict_name(&v), "max file size");
    bw_verdict_free(&v);
    bw_engine_unref(e);
}

/* A 96-byte 7z whose header declares 3 x 10^8 substreams (craft.py
 * sevenzip_streams): libarchive would calloc 3.9 GB.  The unpack heap budget
 * refuses it and the verdict says so; outside libarchive nothing is bounded. */
static const char SEVENZ_STREAMS[] =
    "\x37\x7a\xbc\xaf\x27\x1c\x00\x04\x5c\xc6\x40\xbf\x15\x00\x00\x00\x00\x00\x00\x00"
    "\x2b\x00\x00\x00\x00\x00\x00\x00\x4a\x15\x91\x89\x42\x55\x4c\x57\x41\x52\x4b\x2d"
    "\x52\x41\x57\x2d\x37\x5a\x2d\x4d\x41\x52\x4b\x45\x52\x17\x06\x00\x03\x09\x15\x00"
    "\x00\x00\x07\x0b\x03\x00\x01\x01\x00\x01\x01\x00\x01\x01\x00\x0c\x01\x01\x01\x00"
    "\x08\x0d\xe5\x00\xe1\xf5\xe5\x00\xe1\xf5\xe5\x00\xe1\xf5\x00\x00";

TEST(unpack_memory_bound_is_a_status)
{
    bw_engine_t *e = load1("../db/test");
    if (!e) { CHECK(0); return; }
    bw_verdict_t v;
    scan_buf(e, SEVENZ_STREAMS, sizeof SEVENZ_STREAMS - 1, 0, &v);
    CHECK_EQ(v.status, BW_TOO_LARGE);
    CHECK_CONTAINS(bw_verdict_name(&v), "max unpack memory");
    bw_verdict_free(&v);
    /* a budget of 0 is the 2 GiB hard cap, still far below 3.9 GB */
    bw_limits_t lim;
    bw_limits_default(&lim);
    lim.max_unpack_mem = 0;
    bw_scan_t *s = bw_scan_begin(e, &lim, "obj");
    CHECK(s != NULL);
    bw_scan_feed(s, SEVENZ_STREAMS, sizeof SEVENZ_STREAMS - 1);
    bw_scan_end(s, &v);
    CHECK_EQ(v.status, BW_TOO_LARGE);
    bw_verdict_free(&v);
    /* the program's own allocations are not counted: 300 MiB (untouched) */
    void *big = malloc(300u << 20);
    CHECK(big != NULL);
    free(big);
    bw_engine_unref(e);
}

/* A detection that stops the scan early must not be followed by a spurious
 * "size changed" ERROR from the digests skipped on the size hint. */
TEST(early_stop_reports_only_the_detection)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/early", tmpdir[0] ? tmpdir : "/tmp");
    write_db("x", "");
    snprintf(dir, sizeof dir, "%s/early", tmpdir);
    mkdir(dir, 0700);
    char p[400];
    snprintf(p, sizeof p, "%s/e.ndb", dir);
    FILE *f = fopen(p, "w"); fputs("Early.Marker:0:*:4541524c594d41524b4552\n", f); fclose(f);
    snprintf(p, sizeof p, "%s/e.hdb", dir);
    f = fopen(p, "w"); fputs("00112233445566778899aabbccddeeff:1234:Some.Hash\n", f); fclose(f);
    const char *paths[] = {dir};
    bw_engine_t *e = NULL;
    char err[512];
    CHECK(bw_engine_load(paths, 1, NULL, &e, err, sizeof err) == BW_OK);
    if (!e) return;
    snprintf(p, sizeof p, "%s/big.bin", tmpdir);
    f = fopen(p, "w");
    fputs("EARLYMARKER", f);
    for (int i = 0; i < 3 << 18; i++) fputc(i & 0x7f, f);
    fclose(f);
    bw_limits_t lim;
    bw_limits_default(&lim);
    bw_verdict_t v;
    CHECK(bw_scan_path(e, &lim, p, &v) == BW_OK);
    CHECK_EQ(v.status, BW_INFECTED);
    CHECK_EQ(v.nthreats, 1);
    CHECK_STR(bw_verdict_name(&v), "Early.Marker");
    bw_verdict_free(&v);
    bw_engine_unref(e);
}

TEST(bad_database_is_refused_with_location)
{
    const char *p = write_db("bad.ndb", "Good:0:*:41414141\nBad:0:*:4141zz41\n");
    bw_engine_t *e = NULL;
    char err[512] = "";
    const char *paths[] = {p};
    CHECK(bw_engine_load(paths, 1, NULL, &e, err, sizeof err) == BW_ERR);
    CHECK(e == NULL);
    CHECK_CONTAINS(err, "bad.ndb:2");
    unlink(p);
}

int main(void)
{
    int rc = t_run();
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        if (system(cmd)) {}
    }
    return rc;
}
