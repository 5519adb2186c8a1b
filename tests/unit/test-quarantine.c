/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantine store (quarantine.c, quarantine-object.c) on a real
 * temporary directory, and the daemon's thread-pool job (quarantine-job.c)
 * on a real libuv loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>

#include "quarantine/quarantine-job.h"
#include "quarantine/quarantine.h"
#include "t.h"

static const char eicar[] =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static char root[256];      /* a fresh temporary directory per test */
static char qdir[300];      /* root/q: the quarantine */

static void fresh(void)
{
    snprintf(root, sizeof root, "/tmp/bw-quar-test.XXXXXX");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(qdir, sizeof qdir, "%s/q", root);
}

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "  cleanup of %s failed\n", path);
}

/* A reader over a memory buffer. */
typedef struct mem_src {
    const char *p;
    size_t len, off;
} mem_src_t;

static long mem_read(void *ctx, void *buf, size_t len)
{
    mem_src_t *m = ctx;
    size_t n = m->len - m->off < len ? m->len - m->off : len;
    memcpy(buf, m->p + m->off, n);
    m->off += n;
    return (long)n;
}

static long failing_read(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    errno = EIO;
    return -1;
}

static void sha_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned len = 0;
    EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static void fill_meta(bw_quar_meta_t *m)
{
    memset(m, 0, sizeof *m);
    m->time = 1714564800;
    strcpy(m->status, "INFECTED");
    m->nthreats = 1;
    strcpy(m->threats[0], "Eicar-Test-Signature");
    strcpy(m->origin, "http://example.com/eicar.com");
    strcpy(m->client, "192.0.2.7");
    strcpy(m->group, "default");
    strcpy(m->method, "RESPMOD");
}

/* Stores `len` bytes of `p`; returns the store's result, id in m. */
static int put(bw_quar_store_t *s, const void *p, size_t len, bw_quar_meta_t *m, uint64_t max_obj,
               uint64_t max_total, bw_err_t *err)
{
    mem_src_t src = {p, len, 0};
    fill_meta(m);
    return bw_quar_put(s, m, mem_read, &src, max_obj, max_total, err);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, prefix, strlen(prefix)))
            n++;
    if (d)
        closedir(d);
    return n;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* Opens a fresh store holding EICAR; id in `id`. */
static bw_quar_store_t *store_with_eicar(char id[65])
{
    fresh();
    bw_quar_store_t *s = NULL;
    bw_err_t err;
    bw_quar_meta_t m;
    if (bw_quar_open(qdir, true, &s, &err) != BW_OK ||
        put(s, eicar, strlen(eicar), &m, 0, 0, &err) != BW_OK) {
        fprintf(stderr, "  setup: %s\n", err.msg);
        exit(2);
    }
    memcpy(id, m.sha256, 65);
    return s;
}

TEST(open_creates_the_directory_and_key_private)
{
    fresh();
    bw_quar_store_t *s;
    bw_err_t err;
    CHECK_EQ(bw_quar_open(qdir, false, &s, &err), BW_ERR); /* read-only: no directory yet */
    CHECK_CONTAINS(err.msg, "No such file");
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_OK);
    CHECK_EQ(mode_of(qdir), 0700);
    char key[400];
    snprintf(key, sizeof key, "%s/%s", qdir, BW_QUAR_KEY_FILE);
    struct stat st;
    CHECK(stat(key, &st) == 0 && st.st_size == 32);
    CHECK_EQ(mode_of(key), 0600);
    bw_quar_close(s);
    /* reopened: the same key is used, not a new one */
    size_t n1 = 0, n2 = 0;
    char *k1 = slurp(key, &n1);
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_OK);
    bw_quar_close(s);
    char *k2 = slurp(key, &n2);
    CHECK(k1 && k2 && n1 == 32 && n2 == 32 && !memcmp(k1, k2, 32));
    free(k1);
    free(k2);
    rm_rf(root);
}

TEST(open_refuses_a_directory_others_can_read)
{
    fresh();
    CHECK(mkdir(qdir, 0700) == 0 && chmod(qdir, 0755) == 0);
    bw_quar_store_t *s;
    bw_err_t err;
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "mode 0755 lets other users in");
    rm_rf(root);
}

TEST(open_refuses_a_key_others_can_read)
{
    char id[65];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_close(s);
    char key[400];
    snprintf(key, sizeof key, "%s/%s", qdir, BW_QUAR_KEY_FILE);
    CHECK(chmod(key, 0644) == 0);
    bw_err_t err;
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "lets other users read the key");
    rm_rf(root);
}

TEST(put_names_the_object_by_its_sha256_and_encrypts_it)
{
    char id[65], want[65];
    bw_quar_store_t *s = store_with_eicar(id);
    sha_hex(eicar, strlen(eicar), want);
    CHECK_STR(id, want);
    char path[400];
    snprintf(path, sizeof path, "%s/%s.bwq", qdir, id);
    CHECK_EQ(mode_of(path), 0600);
    size_t n = 0;
    char *b = slurp(path, &n);
    CHECK(b != NULL);
    CHECK_EQ(n, strlen(eicar) + 32); /* header + tag */
    CHECK(b && !memcmp(b, "BWQ1", 4));
    CHECK(b && !memmem(b, n, "EICAR", 5));          /* not in clear */
    CHECK(b && !memmem(b, n, eicar + 10, 16));
    free(b);
    snprintf(path, sizeof path, "%s/%s.meta", qdir, id);
    CHECK_EQ(mode_of(path), 0600);
    CHECK_EQ(count_entries(qdir, ".tmp-"), 0);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(the_record_reads_back)
{
    char id[65];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_meta_t m;
    bw_err_t err;
    CHECK_EQ(bw_quar_get_meta(s, id, &m, &err), BW_OK);
    CHECK_STR(m.sha256, id);
    CHECK_EQ(m.size, strlen(eicar));
    CHECK(!m.partial);
    CHECK_EQ(m.time, 1714564800);
    CHECK_STR(m.status, "INFECTED");
    CHECK_STR(m.threats[0], "Eicar-Test-Signature");
    CHECK_STR(m.origin, "http://example.com/eicar.com");
    CHECK_STR(m.client, "192.0.2.7");
    bw_quar_close(s);
    rm_rf(root);
}

TEST(restore_gives_back_the_exact_bytes)
{
    char id[65], to[400];
    bw_quar_store_t *s = store_with_eicar(id);
    snprintf(to, sizeof to, "%s/restored", root);
    bw_err_t err;
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_OK);
    size_t n = 0;
    char *b = slurp(to, &n);
    CHECK(b && n == strlen(eicar) && !memcmp(b, eicar, n));
    free(b);
    CHECK_EQ(mode_of(to), 0600);
    /* refuses to overwrite, replaces with force */
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "exists (--force replaces it)");
    FILE *f = fopen(to, "w");
    fputs("other", f);
    fclose(f);
    CHECK_EQ(bw_quar_restore(s, id, to, true, &err), BW_OK);
    b = slurp(to, &n);
    CHECK(b && n == strlen(eicar) && !memcmp(b, eicar, n));
    free(b);
    /* into a directory: under the id */
    char sub[500], inside[600];
    snprintf(sub, sizeof sub, "%s/dir", root);
    mkdir(sub, 0700);
    CHECK_EQ(bw_quar_restore(s, id, sub, false, &err), BW_OK);
    snprintf(inside, sizeof inside, "%s/%s", sub, id);
    CHECK_EQ(mode_of(inside), 0600);
    CHECK_EQ(count_entries(root, "restored.bwq-"), 0);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(restore_refuses_a_tampered_object_and_leaves_nothing)
{
    char id[65], path[400], to[400];
    bw_quar_store_t *s = store_with_eicar(id);
    snprintf(path, sizeof path, "%s/%s.bwq", qdir, id);
    snprintf(to, sizeof to, "%s/restored", root);
    int fd = open(path, O_RDWR);
    unsigned char c;
    CHECK(pread(fd, &c, 1, 20) == 1);
    c ^= 1;
    CHECK(pwrite(fd, &c, 1, 20) == 1); /* one bit of the ciphertext */
    close(fd);
    bw_err_t err;
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "authentication failed");
    CHECK_CONTAINS(err.msg, "nothing restored");
    CHECK(access(to, F_OK) != 0);
    CHECK_EQ(count_entries(root, "restored"), 0); /* no temporary left either */
    bw_quar_close(s);
    rm_rf(root);
}

TEST(restore_refuses_an_object_swapped_for_another)
{
    char id[65], other[65], a[400], b[400], to[400];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_meta_t m;
    bw_err_t err;
    CHECK_EQ(put(s, "harmless", 8, &m, 0, 0, &err), BW_OK);
    memcpy(other, m.sha256, 65);
    snprintf(a, sizeof a, "%s/%s.bwq", qdir, id);
    snprintf(b, sizeof b, "%s/%s.bwq", qdir, other);
    CHECK(rename(b, a) == 0); /* a valid object under the wrong name */
    snprintf(to, sizeof to, "%s/restored", root);
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "not its id");
    CHECK(access(to, F_OK) != 0);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(restore_refuses_another_key)
{
    char id[65], key[400], to[400];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_close(s);
    snprintf(key, sizeof key, "%s/%s", qdir, BW_QUAR_KEY_FILE);
    int fd = open(key, O_WRONLY);
    CHECK(pwrite(fd, "0123456789abcdef0123456789abcdef", 32, 0) == 32);
    close(fd);
    bw_err_t err;
    CHECK_EQ(bw_quar_open(qdir, false, &s, &err), BW_OK);
    snprintf(to, sizeof to, "%s/restored", root);
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "authentication failed");
    bw_quar_close(s);
    rm_rf(root);
}

TEST(restore_does_not_follow_a_planted_symlink)
{
    char id[65], path[400], to[400], target[400];
    bw_quar_store_t *s = store_with_eicar(id);
    snprintf(path, sizeof path, "%s/%s.bwq", qdir, id);
    snprintf(target, sizeof target, "%s/elsewhere", root);
    CHECK(rename(path, target) == 0 && symlink(target, path) == 0);
    snprintf(to, sizeof to, "%s/restored", root);
    bw_err_t err;
    CHECK_EQ(bw_quar_restore(s, id, to, false, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, ".bwq: Too many levels of symbolic links");
    bw_quar_close(s);
    rm_rf(root);
}

TEST(ids_that_are_not_hex_prefixes_are_refused)
{
    static const char *bad[] = {
        "", "../x", "abc", "1234567", "ghijklmn", "12345678/..", "../../etc/passwd",
        "12345678 ", " 12345678", "12345678.meta",
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f0", /* 65 */
    };
    char out[65];
    bw_err_t err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (bw_quar_id_check(bad[i], out, &err) != BW_ERR) {
            fprintf(stderr, "  accepted '%s'\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_CONTAINS(err.msg, "is not a quarantine id");
    CHECK_EQ(bw_quar_id_check("ABCDEF12", out, &err), BW_OK);
    CHECK_STR(out, "abcdef12");
}

TEST(resolve_takes_a_unique_prefix)
{
    char id[65], got[65];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_err_t err;
    char pre[9];
    memcpy(pre, id, 8);
    pre[8] = 0;
    CHECK_EQ(bw_quar_resolve(s, pre, got, &err), BW_OK);
    CHECK_STR(got, id);
    CHECK_EQ(bw_quar_resolve(s, id, got, &err), BW_OK);
    CHECK_STR(got, id);
    /* bad ids never reach the directory */
    CHECK_EQ(bw_quar_resolve(s, "../q", got, &err), BW_ERR);
    CHECK_EQ(bw_quar_resolve(s, "", got, &err), BW_ERR);
    CHECK_EQ(bw_quar_resolve(s, "1234567", got, &err), BW_ERR);
    /* a valid id that is not there */
    char absent[65];
    memcpy(absent, id, 65);
    absent[0] = absent[0] == 'f' ? '0' : 'f';
    CHECK_EQ(bw_quar_resolve(s, absent, got, &err), BW_DECLINED);
    CHECK_CONTAINS(err.msg, "no quarantined object");
    bw_quar_close(s);
    rm_rf(root);
}

TEST(resolve_refuses_an_ambiguous_prefix)
{
    char id[65], got[65], path[500];
    bw_quar_store_t *s = store_with_eicar(id);
    /* Two records whose ids share 10 digits (names are what resolve reads). */
    const char *a = "aaaaaaaaaa1000000000000000000000000000000000000000000000000000000";
    const char *b = "aaaaaaaaaa2000000000000000000000000000000000000000000000000000000";
    snprintf(path, sizeof path, "%s/%.64s.meta", qdir, a);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof path, "%s/%.64s.bwq", qdir, b);
    fclose(fopen(path, "w"));
    bw_err_t err;
    CHECK_EQ(bw_quar_resolve(s, "aaaaaaaaaa", got, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "ambiguous: 2 ids");
    CHECK_EQ(bw_quar_resolve(s, a, got, &err), BW_ERR); /* 65 digits */
    CHECK_EQ(bw_quar_resolve(s, "AAAAAAAAAA1", got, &err), BW_OK);
    CHECK(strncmp(got, a, 64) == 0 && strlen(got) == 64);
    CHECK_EQ(bw_quar_resolve(s, "aaaaaaaaaa2", got, &err), BW_OK);
    CHECK(strncmp(got, b, 64) == 0);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(a_corrupted_record_gives_file_and_line)
{
    char id[65], path[400];
    bw_quar_store_t *s = store_with_eicar(id);
    snprintf(path, sizeof path, "%s/%s.meta", qdir, id);
    /* line 4 (size) spoiled */
    size_t n = 0;
    char *b = slurp(path, &n);
    char *size = b ? strstr(b, "size: ") : NULL;
    CHECK(size != NULL);
    if (size)
        size[6] = 'x';
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    bw_quar_meta_t m;
    bw_err_t err;
    CHECK_EQ(bw_quar_get_meta(s, id, &m, &err), BW_ERR);
    char want[500];
    snprintf(want, sizeof want, "%s:4: size: ", path);
    CHECK_CONTAINS(err.msg, want);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(a_record_under_another_id_is_refused)
{
    char id[65], other[65], from[400], to[400];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_meta_t m;
    bw_err_t err;
    CHECK_EQ(put(s, "harmless", 8, &m, 0, 0, &err), BW_OK);
    memcpy(other, m.sha256, 65);
    snprintf(from, sizeof from, "%s/%s.meta", qdir, other);
    snprintf(to, sizeof to, "%s/%s.meta", qdir, id);
    CHECK(rename(from, to) == 0);
    CHECK_EQ(bw_quar_get_meta(s, id, &m, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, ".meta:3: sha256: ");
    CHECK_CONTAINS(err.msg, "not the record's own id");
    bw_quar_close(s);
    rm_rf(root);
}

TEST(delete_removes_object_and_record)
{
    char id[65];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_err_t err;
    CHECK_EQ(bw_quar_delete(s, id, &err), BW_OK);
    CHECK_EQ(count_entries(qdir, id), 0);
    CHECK_EQ(bw_quar_delete(s, id, &err), BW_DECLINED);
    char got[65];
    CHECK_EQ(bw_quar_resolve(s, id, got, &err), BW_DECLINED);
    bw_quar_close(s);
    rm_rf(root);
}

TEST(max_object_size_cuts_and_marks_partial)
{
    fresh();
    bw_quar_store_t *s;
    bw_err_t err;
    bw_quar_meta_t m;
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_OK);
    CHECK_EQ(put(s, eicar, strlen(eicar), &m, 10, 0, &err), BW_OK);
    char want[65];
    sha_hex(eicar, 10, want);
    CHECK_STR(m.sha256, want);
    CHECK_EQ(m.size, 10);
    CHECK(m.partial);
    /* exactly at the limit is whole */
    CHECK_EQ(put(s, eicar, 10, &m, 10, 0, &err), BW_OK);
    CHECK(!m.partial);
    bw_quar_meta_t r;
    CHECK_EQ(bw_quar_get_meta(s, want, &r, &err), BW_OK);
    CHECK(!r.partial); /* the newest event replaced the record */
    bw_quar_close(s);
    rm_rf(root);
}

TEST(max_quarantine_size_refuses_what_does_not_fit)
{
    fresh();
    bw_quar_store_t *s;
    bw_err_t err;
    bw_quar_meta_t m;
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_OK);
    uint64_t one = strlen(eicar) + 32;
    CHECK_EQ(put(s, eicar, strlen(eicar), &m, 0, one, &err), BW_OK);
    /* the same object again fits (it replaces itself) */
    CHECK_EQ(put(s, eicar, strlen(eicar), &m, 0, one, &err), BW_OK);
    CHECK_EQ(put(s, "harmless", 8, &m, 0, one, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "quarantine full");
    CHECK_EQ(count_entries(qdir, ".tmp-"), 0);
    CHECK_EQ(count_entries(qdir, ""), 2 + 3); /* . .. key object record */
    bw_quar_close(s);
    rm_rf(root);
}

TEST(a_read_error_stores_nothing)
{
    fresh();
    bw_quar_store_t *s;
    bw_err_t err;
    bw_quar_meta_t m;
    CHECK_EQ(bw_quar_open(qdir, true, &s, &err), BW_OK);
    fill_meta(&m);
    CHECK_EQ(bw_quar_put(s, &m, failing_read, NULL, 0, 0, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "Input/output error");
    CHECK_EQ(count_entries(qdir, ""), 2 + 1); /* . .. key */
    bw_quar_close(s);
    rm_rf(root);
}

typedef struct seen {
    int n, broken, missing;
    char first[65];
} seen_t;

static int on_entry(void *ud, const bw_quar_entry_t *e)
{
    seen_t *s = ud;
    if (!s->n++)
        memcpy(s->first, e->id, 65);
    s->broken += e->meta == NULL;
    s->missing += e->object_bytes < 0;
    return 0;
}

TEST(each_lists_objects_and_reports_orphans)
{
    char id[65], path[500];
    bw_quar_store_t *s = store_with_eicar(id);
    bw_quar_meta_t m;
    bw_err_t err;
    CHECK_EQ(put(s, "harmless", 8, &m, 0, 0, &err), BW_OK);
    seen_t seen = {0};
    CHECK_EQ(bw_quar_each(s, on_entry, &seen, &err), 0);
    CHECK_EQ(seen.n, 2);
    CHECK_EQ(seen.broken, 0);
    CHECK_EQ(seen.missing, 0);
    /* an object without record, a record without object, and junk names */
    snprintf(path, sizeof path, "%s/%s.meta", qdir, m.sha256);
    unlink(path);
    snprintf(path, sizeof path, "%s/%s.bwq", qdir, id);
    unlink(path);
    snprintf(path, sizeof path, "%s/notes.txt", qdir);
    fclose(fopen(path, "w"));
    memset(&seen, 0, sizeof seen);
    CHECK_EQ(bw_quar_each(s, on_entry, &seen, &err), 0);
    CHECK_EQ(seen.n, 2);
    CHECK_EQ(seen.broken, 1);
    CHECK_EQ(seen.missing, 1);
    bw_quar_close(s);
    rm_rf(root);
}

/* ---- the daemon's job ---------------------------------------------------------- */

TEST(submit_stores_off_the_loop_and_takes_the_spool)
{
    fresh();
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_spool_t sp;
    bw_spool_init(&sp, 16); /* small: the content goes to a temporary file */
    for (int i = 0; i < 100; i++)
        CHECK_EQ(bw_spool_write(&sp, eicar, strlen(eicar)), BW_OK);
    CHECK(sp.fd >= 0);
    bw_threat_t th = {BW_INFECTED, (char *)"Eicar-Test-Signature", (char *)""};
    bw_verdict_t v = {.status = BW_INFECTED, .nthreats = 1, .threats = &th};
    bw_quar_conf_t qc = {.dir = qdir, .max_total = 0, .max_object = 0};
    bw_quar_event_t ev = {.origin = "http://x/e\r\nvil", .client = "10.1.2.3", .group = "lab",
                          .method = "RESPMOD", .verdict = &v, .partial = false};
    bw_err_t err;
    CHECK_EQ(bw_quar_submit(&loop, &qc, &ev, &sp, &err), BW_OK);
    CHECK(sp.fd < 0 && sp.size == 0); /* taken over */
    CHECK_EQ(bw_quar_pending(), 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(bw_quar_pending(), 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
    char *all = malloc(100 * strlen(eicar)), id[65];
    for (int i = 0; i < 100; i++)
        memcpy(all + i * strlen(eicar), eicar, strlen(eicar));
    sha_hex(all, 100 * strlen(eicar), id);
    free(all);
    bw_quar_store_t *s;
    bw_quar_meta_t m;
    CHECK_EQ(bw_quar_open(qdir, false, &s, &err), BW_OK);
    CHECK_EQ(bw_quar_get_meta(s, id, &m, &err), BW_OK);
    CHECK_EQ(m.size, 100 * strlen(eicar));
    CHECK_STR(m.origin, "http://x/e??vil");
    CHECK_STR(m.client, "10.1.2.3");
    CHECK_STR(m.group, "lab");
    CHECK_STR(m.status, "INFECTED");
    CHECK_STR(m.threats[0], "Eicar-Test-Signature");
    bw_quar_close(s);
    bw_spool_free(&sp);
    rm_rf(root);
}

TEST(submit_logs_a_failed_store_and_frees_everything)
{
    fresh();
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_spool_t sp;
    bw_spool_init(&sp, BW_SPOOL_MEM_DEFAULT);
    bw_spool_write(&sp, eicar, strlen(eicar));
    char missing[400];
    snprintf(missing, sizeof missing, "%s/no/such/dir", root);
    bw_quar_conf_t qc = {.dir = missing};
    bw_quar_event_t ev = {.origin = "http://x/", .verdict = NULL};
    bw_err_t err;
    CHECK_EQ(bw_quar_submit(&loop, &qc, &ev, &sp, &err), BW_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(bw_quar_pending(), 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK(access(missing, F_OK) != 0);
    bw_spool_free(&sp);
    rm_rf(root);
}

TEST(submit_refuses_past_its_queue_bound)
{
    fresh();
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_quar_conf_t qc = {.dir = qdir};
    bw_quar_event_t ev = {.origin = "http://x/"};
    bw_err_t err;
    int accepted = 0, refused = 0;
    for (int i = 0; i < BW_QUAR_MAX_QUEUED + 5; i++) {
        bw_spool_t sp;
        bw_spool_init(&sp, BW_SPOOL_MEM_DEFAULT);
        char body[32];
        snprintf(body, sizeof body, "object %d", i);
        bw_spool_write(&sp, body, strlen(body));
        if (bw_quar_submit(&loop, &qc, &ev, &sp, &err) == BW_OK)
            accepted++;
        else
            refused++;
        bw_spool_free(&sp);
    }
    CHECK_EQ(accepted, BW_QUAR_MAX_QUEUED);
    CHECK_EQ(refused, 5);
    CHECK_CONTAINS(err.msg, "too many objects waiting");
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(bw_quar_pending(), 0);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(count_entries(qdir, ""), 2 + 1 + 2 * BW_QUAR_MAX_QUEUED);
    rm_rf(root);
}

int main(void)
{
    return t_run();
}
