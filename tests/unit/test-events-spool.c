/* SPDX-License-Identifier: Apache-2.0 */
/* The event spool: round trip, at-least-once after a reader crash, SIGKILL of
 * writer and reader mid-stream, the size bound (drops counted and reported),
 * hostile segment files. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "events/event.h"
#include "events/evspool.h"
#include "t.h"

static char *mkdtemp_dir(void)
{
    static char d[64];
    snprintf(d, sizeof d, "/tmp/bw-evspool-XXXXXX");
    return mkdtemp(d);
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

static void append_seq(bw_evspool_writer_t *w, long seq, int pad)
{
    char line[512];
    int n = snprintf(line, sizeof line, "{\"id\":\"%032lx\",\"type\":\"scan\",\"seq\":%ld,\"pad\":\"%*s\"}",
                     seq, seq, pad, "");
    bw_err_t err;
    if (bw_evspool_append(w, line, (size_t)n, &err))
        fprintf(stderr, "append: %s\n", err.msg);
}

/* Reads everything into seen[] (counts per seq), acking each batch. */
static long drain(const char *dir, const char *cursor, unsigned *seen, long max, long *dropped_evs)
{
    bw_evspool_reader_t *r;
    bw_err_t err;
    if (bw_evspool_reader_open(dir, cursor, &r, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    bw_buf_t b = {0};
    long total = 0;
    for (;;) {
        size_t n;
        bw_evspool_mark_t m;
        if (bw_evspool_read(r, 100, 1 << 20, &b, &n, &m, &err) || n == 0)
            break;
        json_t *a = json_loadb(b.p, b.len, 0, NULL);
        CHECK(json_is_array(a) && json_array_size(a) == n);
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e) {
            const char *type = json_string_value(json_object_get(e, "type"));
            if (type && !strcmp(type, "events.dropped")) {
                if (dropped_evs)
                    (*dropped_evs)++;
                continue;
            }
            long s = (long)json_integer_value(json_object_get(e, "seq"));
            if (s >= 0 && s < max)
                seen[s]++;
            total++;
        }
        json_decref(a);
        CHECK(bw_evspool_ack(r, &m, &err) == 0);
    }
    CHECK_EQ(bw_evspool_backlog(r), 0);
    bw_buf_free(&b);
    bw_evspool_reader_close(r);
    return total;
}

TEST(round_trip_in_order_and_ack)
{
    char *dir = mkdtemp_dir();
    bw_evspool_writer_t *w;
    bw_err_t err;
    CHECK(bw_evspool_writer_open(dir, 0, &w, &err) == 0);
    for (long i = 0; i < 500; i++)
        append_seq(w, i, 10);
    bw_evspool_reader_t *r;
    CHECK(bw_evspool_reader_open(dir, "t", &r, &err) == 0);
    CHECK_EQ(bw_evspool_backlog(r), 500);
    bw_buf_t b = {0};
    size_t n;
    bw_evspool_mark_t m;
    CHECK(bw_evspool_read(r, 7, 1 << 20, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 7);
    json_t *a = json_loadb(b.p, b.len, 0, NULL);
    CHECK_EQ(json_array_size(a), 7);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a, 6), "seq")), 6);
    json_decref(a);
    /* not acknowledged: a new reader of the same cursor gets them again */
    bw_evspool_reader_close(r);
    CHECK(bw_evspool_reader_open(dir, "t", &r, &err) == 0);
    CHECK(bw_evspool_read(r, 7, 1 << 20, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 7);
    CHECK(bw_evspool_ack(r, &m, &err) == 0);
    CHECK_EQ(bw_evspool_backlog(r), 493);
    bw_evspool_reader_close(r);
    /* max_bytes bounds the batch (but one event always comes) */
    CHECK(bw_evspool_reader_open(dir, "t", &r, &err) == 0);
    CHECK(bw_evspool_read(r, 1000, 10, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 1);
    bw_evspool_reader_close(r);
    bw_buf_free(&b);
    bw_evspool_writer_close(w);
    unsigned seen[500] = {0};
    CHECK_EQ(drain(dir, "t", seen, 500, NULL), 493);
    CHECK_EQ(seen[6], 0);
    CHECK_EQ(seen[7], 1);
    CHECK_EQ(seen[499], 1);
    /* every cursor passed the sealed segment: it is gone; a second cursor
     * made later would have kept it */
    DIR *d = opendir(dir);
    int segs = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        segs += !strncmp(e->d_name, "seg-", 4);
    closedir(d);
    CHECK_EQ(segs, 0);
    rm_rf(dir);
}

TEST(bad_appends_refused)
{
    char *dir = mkdtemp_dir();
    bw_evspool_writer_t *w;
    bw_err_t err;
    CHECK(bw_evspool_writer_open(dir, 0, &w, &err) == 0);
    CHECK(bw_evspool_append(w, "{\"id\":\"a\"}\n{\"id\":\"b\"}", 21, &err) != 0);
    CHECK(bw_evspool_append(w, "", 0, &err) != 0);
    char *big = malloc(BW_EVSPOOL_MAX_LINE + 2);
    memset(big, 'x', BW_EVSPOOL_MAX_LINE + 1);
    CHECK(bw_evspool_append(w, big, BW_EVSPOOL_MAX_LINE + 1, &err) != 0);
    free(big);
    bw_evspool_writer_close(w);
    rm_rf(dir);
}

TEST(hostile_segment_lines_skipped_and_counted)
{
    char *dir = mkdtemp_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/seg-999999-1.jsonl", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"id\":\"a1\",\"seq\":0}\n", f);
    fputs("not json\n", f);
    fputs("[1,2]\n", f);
    fputs("{\"noid\":1}\n", f);
    fwrite("{\"id\":\"x\0y\"}\n", 1, 13, f);
    fputs("\n", f);
    for (int i = 0; i < 70000; i++)
        fputc('a', f);
    fputs("\n{\"id\":\"a2\",\"seq\":1}\n", f);
    fputs("{\"id\":\"torn\",\"se", f); /* torn tail of a dead writer */
    fclose(f);
    /* no writer holds its lock: finished */
    unsigned seen[2] = {0};
    bw_evspool_reader_t *r;
    bw_err_t err;
    CHECK(bw_evspool_reader_open(dir, "t", &r, &err) == 0);
    bw_buf_t b = {0};
    size_t n;
    bw_evspool_mark_t m;
    CHECK(bw_evspool_read(r, 100, 1 << 20, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(bw_evspool_skipped(r), 7);
    CHECK_CONTAINS(b.p, "\"a2\"");
    CHECK(bw_evspool_ack(r, &m, &err) == 0);
    CHECK(bw_evspool_read(r, 100, 1 << 20, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 0);
    (void)seen;
    bw_buf_free(&b);
    bw_evspool_reader_close(r);
    CHECK(access(path, F_OK) != 0); /* passed and finished: deleted */
    rm_rf(dir);
}

TEST(bound_drops_oldest_counts_and_reports)
{
    char *dir = mkdtemp_dir();
    bw_event_set_node("t");
    bw_evspool_writer_t *w;
    bw_err_t err;
    enum { N = 3000 };
    CHECK(bw_evspool_writer_open(dir, 65536, &w, &err) == 0);
    bw_evspool_writer_set_segment_size(w, 8192);
    for (long i = 0; i < N; i++)
        append_seq(w, i, 60);
    bw_evspool_writer_close(w);
    /* the spool stays near its bound */
    DIR *d = opendir(dir);
    struct dirent *e;
    uint64_t total = 0;
    while ((e = readdir(d))) {
        struct stat st;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (!strncmp(e->d_name, "seg-", 4) && !stat(p, &st))
            total += (uint64_t)st.st_size;
    }
    closedir(d);
    CHECK(total <= 65536 + 8192);
    uint64_t dropped = bw_evspool_dropped(dir);
    static unsigned seen[N];
    long devs = 0;
    long got = drain(dir, "t", seen, N, &devs);
    CHECK(dropped > 0);
    CHECK(devs > 0);
    /* every event is either still there or counted as dropped (the count
     * also includes events.dropped reports that were dropped in turn) */
    CHECK((uint64_t)got + dropped >= N);
    CHECK((uint64_t)got + dropped <= N + 100);
    /* the oldest went, the newest stayed */
    CHECK_EQ(seen[0], 0);
    CHECK_EQ(seen[N - 1], 1);
    for (long i = 1; i < N; i++)
        if (seen[i - 1] && !seen[i]) {
            CHECK(!"a hole: a newer event dropped while an older one stayed");
            break;
        }
    rm_rf(dir);
}

/* A writer and a reader in their own processes, both SIGKILLed mid-stream;
 * then the spool is read to its end: every event written is seen, at least
 * once, and duplicates only come from the batch the reader had not acked. */
TEST(sigkill_writer_and_reader_nothing_lost)
{
    char *dir = mkdtemp_dir();
    enum { MAXSEQ = 2000000 };
    char seenpath[256];
    snprintf(seenpath, sizeof seenpath, "%s.seen", dir);
    int pw[2], pr[2];
    CHECK(pipe(pw) == 0 && pipe(pr) == 0);
    pid_t wp = fork();
    if (wp == 0) {
        bw_evspool_writer_t *w;
        bw_err_t err;
        if (bw_evspool_writer_open(dir, 0, &w, &err))
            _exit(1);
        bw_evspool_writer_set_segment_size(w, 20000); /* many rolls */
        for (long i = 0; i < MAXSEQ; i++) {
            append_seq(w, i, 20);
            if (i == 3000)
                (void)!write(pw[1], "x", 1);
        }
        _exit(0);
    }
    pid_t rp = fork();
    if (rp == 0) {
        int out = open(seenpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        bw_evspool_reader_t *r;
        bw_err_t err;
        if (bw_evspool_reader_open(dir, "t", &r, &err))
            _exit(1);
        bw_buf_t b = {0};
        long got = 0;
        for (;;) {
            size_t n;
            bw_evspool_mark_t m;
            if (bw_evspool_read(r, 50, 1 << 20, &b, &n, &m, &err))
                _exit(2);
            if (!n)
                continue;
            json_t *a = json_loadb(b.p, b.len, 0, NULL);
            size_t i;
            json_t *e;
            char line[64];
            json_array_foreach(a, i, e) {
                int l = snprintf(line, sizeof line, "%lld\n",
                                 (long long)json_integer_value(json_object_get(e, "seq")));
                (void)!write(out, line, (size_t)l);
            }
            json_decref(a);
            if (bw_evspool_ack(r, &m, &err))
                _exit(3);
            got += (long)n;
            if (got >= 2000 && got - (long)n < 2000)
                (void)!write(pr[1], "x", 1);
        }
    }
    char c;
    CHECK(read(pw[0], &c, 1) == 1); /* the writer is mid-stream */
    CHECK(read(pr[0], &c, 1) == 1); /* the reader has acked batches */
    kill(rp, SIGKILL);
    kill(wp, SIGKILL);
    waitpid(rp, NULL, 0);
    waitpid(wp, NULL, 0);
    static unsigned seen[MAXSEQ];
    FILE *f = fopen(seenpath, "r");
    long s, before = 0;
    while (f && fscanf(f, "%ld", &s) == 1)
        if (s >= 0 && s < MAXSEQ) {
            seen[s]++;
            before++;
        }
    if (f)
        fclose(f);
    long after = drain(dir, "t", seen, MAXSEQ, NULL);
    long hi = -1, missing = 0, dups = 0;
    for (long i = 0; i < MAXSEQ; i++)
        if (seen[i])
            hi = i;
    for (long i = 0; i <= hi; i++) {
        missing += !seen[i];
        dups += seen[i] > 1;
    }
    fprintf(stderr, "  written up to %ld; read %ld before the kill, %ld after; %ld duplicates\n",
            hi, before, after, dups);
    CHECK(hi >= 3000);
    CHECK(before >= 2000);
    CHECK_EQ(missing, 0);
    CHECK(dups <= 50); /* at most the one unacknowledged batch */
    unlink(seenpath);
    rm_rf(dir);
}

TEST(two_writers_one_reader)
{
    char *dir = mkdtemp_dir();
    for (int k = 0; k < 2; k++)
        if (fork() == 0) {
            bw_evspool_writer_t *w;
            bw_err_t err;
            if (bw_evspool_writer_open(dir, 0, &w, &err))
                _exit(1);
            for (long i = 0; i < 1000; i++)
                append_seq(w, k * 1000 + i, 5);
            bw_evspool_writer_close(w);
            _exit(0);
        }
    while (wait(NULL) > 0)
        ;
    static unsigned seen[2000];
    CHECK_EQ(drain(dir, "t", seen, 2000, NULL), 2000);
    int ok = 1;
    for (int i = 0; i < 2000; i++)
        ok &= seen[i] == 1;
    CHECK(ok);
    CHECK_EQ(bw_evspool_dropped(dir), 0);
    rm_rf(dir);
}

/* A forked child must not append into its parent's segment (it would write
 * into a file the parent seals and a reader takes for the parent's); the
 * check is a fork counter now, not getpid() per append. */
TEST(append_from_a_forked_child_refused)
{
    char *dir = mkdtemp_dir();
    bw_evspool_writer_t *w;
    bw_err_t err;
    CHECK(bw_evspool_writer_open(dir, 0, &w, &err) == 0);
    CHECK(bw_evspool_append(w, "{\"id\":\"x1\"}", 11, &err) == 0);
    pid_t p = fork();
    if (p == 0) {
        bw_err_t e2;
        int rc = bw_evspool_append(w, "{\"id\":\"x2\"}", 11, &e2);
        _exit(rc != 0 && strstr(e2.msg, "belongs to process") ? 0 : 1);
    }
    int st = -1;
    waitpid(p, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(bw_evspool_append(w, "{\"id\":\"x3\"}", 11, &err) == 0); /* the parent still can */
    bw_evspool_writer_close(w);
    bw_evspool_reader_t *r;
    CHECK(bw_evspool_reader_open(dir, "t", &r, &err) == 0);
    bw_buf_t b = {0};
    size_t n = 0;
    bw_evspool_mark_t m;
    CHECK(bw_evspool_read(r, 10, 1 << 20, &b, &n, &m, &err) == 0);
    CHECK_EQ(n, 2);
    CHECK(b.p && !memmem(b.p, b.len, "\"x2\"", 4));
    bw_buf_free(&b);
    bw_evspool_reader_close(r);
    rm_rf(dir);
}

int main(void)
{
    return t_run();
}
