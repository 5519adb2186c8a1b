/* SPDX-License-Identifier: Apache-2.0 */
/* Server-wide counters (core/stats.c): sums across forked workers, counts
 * that survive a worker's death, per-group counts, requests per minute, the
 * counters file and the Prometheus text. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "core/stats.h"
#include "t.h"

static int run_child(bw_stats_t *s, unsigned worker, unsigned n)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (unsigned i = 0; i < n; i++) {
            bw_stats_add(s, worker, BW_ST_REQUESTS, 1);
            bw_stats_add(s, worker, BW_ST_BYTES, 100);
            bw_stats_add(s, worker, i % 10 == 0 ? BW_ST_INFECTED : BW_ST_CLEAN, 1);
            bw_stats_group(s, worker, i % 2, i % 10 == 0);
        }
        bw_stats_conn_delta(s, worker, 3);
        _exit(0);
    }
    int st = -1;
    if (pid > 0)
        waitpid(pid, &st, 0);
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

TEST(forked_workers_are_summed)
{
    const char *names[] = {"default", "kids"};
    bw_stats_t *s = bw_stats_create(3, 2, names);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(run_child(s, 0, 1000));
    CHECK(run_child(s, 1, 500));
    bw_stats_add(s, 2, BW_ST_REQUESTS, 7); /* the parent as a third worker */
    bw_stats_snapshot_t sn;
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.v[BW_ST_REQUESTS], 1507);
    CHECK_EQ(sn.v[BW_ST_BYTES], 150000);
    CHECK_EQ(sn.v[BW_ST_INFECTED], 100 + 50);
    CHECK_EQ(sn.v[BW_ST_CLEAN], 900 + 450);
    CHECK_EQ(sn.connections_open, 6);
    CHECK_EQ(sn.workers, 3);
    CHECK_EQ(sn.ngroups, 2);
    CHECK_EQ(sn.group_requests[0], 500 + 250);
    CHECK_EQ(sn.group_requests[1], 500 + 250);
    /* i % 10 == 0 is always even: every detection fell in group 0 */
    CHECK_EQ(sn.group_detections[0], 150);
    CHECK_EQ(sn.group_detections[1], 0);
    bw_stats_destroy(s);
}

TEST(dead_worker_keeps_its_counts)
{
    bw_stats_t *s = bw_stats_create(2, 0, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(run_child(s, 0, 10));
    bw_stats_worker_exited(s, 0); /* the supervisor saw it die */
    bw_stats_snapshot_t sn;
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.v[BW_ST_REQUESTS], 10);
    CHECK_EQ(sn.connections_open, 0); /* the gauge went with it */
    CHECK(run_child(s, 0, 5));        /* restarted at the same index */
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.v[BW_ST_REQUESTS], 15);
    CHECK_EQ(sn.connections_open, 3);
    bw_stats_conn_delta(s, 1, -1); /* a stray close never makes the gauge negative */
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.connections_open, 3);
    bw_stats_destroy(s);
}

TEST(scan_gauges_follow_queue_and_thread)
{
    bw_stats_t *s = bw_stats_create(2, 0, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_snapshot_t sn;
    bw_stats_scan_delta(s, 0, +1, 0);  /* queued */
    bw_stats_scan_delta(s, 0, +1, 0);  /* another queued */
    bw_stats_scan_delta(s, 0, -1, +1); /* the first has its thread */
    bw_stats_scan_delta(s, 1, +1, 0);
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.scans_waiting, 2);
    CHECK_EQ(sn.scans_running, 1);
    char *t = bw_stats_text(s);
    CHECK(t && strstr(t, "scans_waiting 2\nscans_running 1\n"));
    free(t);
    bw_stats_scan_delta(s, 0, 0, -1); /* done */
    bw_stats_worker_exited(s, 1);     /* its queued scan died with it */
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.scans_waiting, 1);
    CHECK_EQ(sn.scans_running, 0);
    bw_stats_scan_delta(s, 5, +1, +1); /* no such worker: ignored */
    bw_stats_scan_delta(NULL, 0, +1, 0);
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.scans_waiting, 1);
    bw_stats_destroy(s);
}

static bw_stats_t *thr_stats;

static void *adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        bw_stats_add(thr_stats, 0, BW_ST_BYTES, 2);
    return NULL;
}

TEST(threads_of_one_worker_lose_no_count)
{
    thr_stats = bw_stats_create(1, 0, NULL);
    CHECK(thr_stats != NULL);
    if (!thr_stats)
        return;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    bw_stats_snapshot_t sn;
    bw_stats_read(thr_stats, &sn);
    CHECK_EQ(sn.v[BW_ST_BYTES], 800000);
    bw_stats_destroy(thr_stats);
}

TEST(bad_arguments_are_refused_or_ignored)
{
    CHECK(bw_stats_create(0, 0, NULL) == NULL);
    CHECK(bw_stats_create(BW_STATS_MAX_WORKERS + 1, 0, NULL) == NULL);
    CHECK(bw_stats_create(1, BW_STATS_MAX_GROUPS + 1, NULL) == NULL);
    CHECK(bw_stats_create(1, 3, NULL) == NULL);
    bw_stats_t *s = bw_stats_create(1, 1, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_add(s, 1, BW_ST_REQUESTS, 5);              /* no such worker */
    bw_stats_add(s, 0, (enum bw_stat)BW_ST_COUNT, 5);   /* no such counter */
    bw_stats_add(NULL, 0, BW_ST_REQUESTS, 5);
    bw_stats_group(s, 9, 0, 1);
    bw_stats_snapshot_t sn;
    bw_stats_read(s, &sn);
    uint64_t total = 0;
    for (int k = 0; k < BW_ST_COUNT; k++)
        total += sn.v[k];
    CHECK_EQ(total, 0);
    CHECK_EQ(sn.group_requests[0], 0);
    CHECK_STR(sn.group_name[0], "default");
    CHECK_STR(bw_stats_name(BW_ST_BYTES_INFECTED), "traffic_infected_bytes");
    CHECK(bw_stats_name((enum bw_stat)BW_ST_COUNT) == NULL);
    bw_stats_destroy(s);
}

/* The protocol layers count through slot handles (bw_stats_slot_*): what
 * they write lands in the owner's slot, by group name, and a missing handle
 * (no statistics) is harmless. */
TEST(writers_count_through_slot_handles)
{
    const char *names[] = {NULL, "kids", "staff"};
    bw_stats_t *s = bw_stats_create(2, 3, names);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_slot_t *w0 = bw_stats_slot(s, 0), *w1 = bw_stats_slot(s, 1);
    CHECK(w0 != NULL && w1 != NULL && w0 != w1);
    CHECK(bw_stats_slot(s, 2) == NULL);
    CHECK(bw_stats_slot(NULL, 0) == NULL);
    bw_stats_slot_verdict(w0, BW_INFECTED, 100);
    bw_stats_slot_verdict(w1, BW_CLEAN, 50);
    bw_stats_slot_add(w1, BW_ST_BLOCKED, 2);
    bw_stats_slot_group(w0, "staff", 1);
    bw_stats_slot_group(w1, "nobody", 0); /* unknown: the default group */
    bw_stats_slot_group(w1, NULL, 0);
    bw_stats_slot_conns(w0, +1);
    bw_stats_slot_conns(w1, +1);
    bw_stats_slot_conns(w1, -1);
    /* no statistics: every writer call is a no-op */
    bw_stats_slot_add(NULL, BW_ST_REQUESTS, 1);
    bw_stats_slot_verdict(NULL, BW_CLEAN, 1);
    bw_stats_slot_group(NULL, "kids", 1);
    bw_stats_slot_conns(NULL, 1);
    bw_stats_snapshot_t sn;
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.v[BW_ST_REQUESTS], 2);
    CHECK_EQ(sn.v[BW_ST_INFECTED], 1);
    CHECK_EQ(sn.v[BW_ST_CLEAN], 1);
    CHECK_EQ(sn.v[BW_ST_BYTES], 150);
    CHECK_EQ(sn.v[BW_ST_BLOCKED], 2);
    CHECK_EQ(sn.group_requests[2], 1);
    CHECK_EQ(sn.group_detections[2], 1);
    CHECK_EQ(sn.group_requests[0], 2);
    CHECK_EQ(sn.connections_open, 1);
    bw_stats_destroy(s);
}

TEST(groups_by_slot_and_by_name)
{
    const char *names[] = {NULL, "kids", "staff", ""};
    bw_stats_t *s = bw_stats_create(2, 4, names);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_group(s, 0, 1, 1);
    bw_stats_group(s, 1, 1, 0);
    bw_stats_group(s, 1, 2, 1);
    bw_stats_group(s, 0, 77, 1); /* unknown slot: counted under the default */
    CHECK_EQ(bw_stats_group_find(s, "staff"), 2);
    CHECK_EQ(bw_stats_group_find(s, "nobody"), 0);
    CHECK_EQ(bw_stats_group_find(s, NULL), 0);
    /* after a reload: known names keep their slot, new ones get the next */
    CHECK_EQ(bw_stats_group_slot(s, "kids"), 1);
    CHECK_EQ(bw_stats_group_slot(s, "guests"), 4);
    CHECK_EQ(bw_stats_group_find(s, "guests"), 4);
    CHECK_EQ(bw_stats_group_slot(s, "bad name\n"), 5); /* sanitised, not refused */
    CHECK_EQ(bw_stats_group_find(s, "bad name\n"), 5);
    bw_stats_group(s, 1, 4, 1);
    bw_stats_snapshot_t sn;
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.ngroups, 6);
    CHECK_STR(sn.group_name[0], "default");
    CHECK_STR(sn.group_name[1], "kids");
    CHECK_STR(sn.group_name[3], "group3");
    CHECK_STR(sn.group_name[5], "bad_name_");
    CHECK_EQ(sn.group_requests[0], 1);
    CHECK_EQ(sn.group_detections[0], 1);
    CHECK_EQ(sn.group_requests[1], 2);
    CHECK_EQ(sn.group_detections[1], 1);
    CHECK_EQ(sn.group_requests[2], 1);
    CHECK_EQ(sn.group_requests[4], 1);
    CHECK_EQ(sn.group_detections[4], 1);
    bw_stats_destroy(s);
}

TEST(group_table_full_falls_back_to_default)
{
    bw_stats_t *s = bw_stats_create(1, 1, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    char name[32];
    unsigned last = 0;
    for (unsigned i = 1; i < BW_STATS_MAX_GROUPS; i++) {
        snprintf(name, sizeof name, "g%u", i);
        last = bw_stats_group_slot(s, name);
    }
    CHECK_EQ(last, BW_STATS_MAX_GROUPS - 1);
    CHECK_EQ(bw_stats_group_slot(s, "one-too-many"), 0);
    bw_stats_destroy(s);
}

TEST(requests_per_minute_window)
{
    bw_stats_t *s = bw_stats_create(2, 0, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_snapshot_t sn;
    /* 10 requests a second for 30 seconds */
    for (uint64_t t = 1; t <= 30; t++) {
        bw_stats_add(s, (unsigned)(t % 2), BW_ST_REQUESTS, 10);
        bw_stats_tick_at(s, t);
    }
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 300);
    for (uint64_t t = 31; t <= 60; t++) {
        bw_stats_add(s, 0, BW_ST_REQUESTS, 10);
        bw_stats_tick_at(s, t);
    }
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 600);
    /* then 1 a second: the window slides, the old rate leaves it */
    for (uint64_t t = 61; t <= 90; t++) {
        bw_stats_add(s, 1, BW_ST_REQUESTS, 1);
        bw_stats_tick_at(s, t);
    }
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 30 * 10 + 30);
    bw_stats_tick_at(s, 90); /* same second again: nothing changes */
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 330);
    /* a late tick 20 s on: the skipped seconds saw no requests */
    bw_stats_add(s, 0, BW_ST_REQUESTS, 5);
    bw_stats_tick_at(s, 110);
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 10 * 10 + 30 + 5);
    /* silence for more than a minute */
    bw_stats_tick_at(s, 500);
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 0);
    bw_stats_add(s, 0, BW_ST_REQUESTS, 4);
    bw_stats_tick(s); /* the real clock: well before second 500, so no change */
    bw_stats_read(s, &sn);
    CHECK_EQ(sn.requests_per_minute, 0);
    CHECK_EQ(sn.v[BW_ST_REQUESTS], 300 + 300 + 30 + 5 + 4);
    bw_stats_destroy(s);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

/* Every line `name value`; returns the number of lines, -1 on a bad one. */
static int check_lines(const char *text)
{
    regex_t re;
    if (regcomp(&re, "^[A-Za-z0-9_.-]+ [0-9]+$", REG_EXTENDED | REG_NOSUB))
        return -1;
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break; /* the last line must end with a newline */
        char line[256];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        if (regexec(&re, line, 0, NULL, 0)) {
            fprintf(stderr, "  bad line: %s\n", line);
            n = -1;
            break;
        }
        n++;
        p = nl + 1;
    }
    if (*p)
        n = -1;
    regfree(&re);
    return n;
}

TEST(counters_file_format)
{
    const char *names[] = {"default", "kids"};
    bw_stats_t *s = bw_stats_create(2, 2, names);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_add(s, 0, BW_ST_REQUESTS, 12);
    bw_stats_add(s, 1, BW_ST_REQUESTS, 30);
    bw_stats_add(s, 1, BW_ST_INFECTED, 2);
    bw_stats_add(s, 0, BW_ST_BYTES_INFECTED, 4096);
    bw_stats_group(s, 1, 1, 1);
    bw_stats_set_workers_alive(s, 2);
    char dir[] = "/tmp/bw-stats-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/counters", dir);
    CHECK_EQ(bw_stats_write_file(s, path), BW_OK);
    char *text = slurp(path);
    CHECK(text != NULL);
    /* 17 counters, 8 more server lines, 2 lines per group */
    CHECK_EQ(check_lines(text), BW_ST_COUNT + 8 + 2 * 2);
    CHECK(!strncmp(text, "requests 42\n", 12));
    CHECK_CONTAINS(text, "\ninfected 2\n");
    CHECK_CONTAINS(text, "\ntraffic_infected_bytes 4096\n");
    CHECK_CONTAINS(text, "\nworkers 2\nworkers_alive 2\n");
    CHECK_CONTAINS(text, "\ngroup.kids.requests 1\ngroup.kids.detections 1\n");
    CHECK_CONTAINS(text, "\ngroup.default.requests 0\n");
    free(text);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    /* a rewrite replaces the file; no temporary file is left behind */
    bw_stats_add(s, 0, BW_ST_REQUESTS, 1);
    CHECK_EQ(bw_stats_write_file(s, path), BW_OK);
    text = slurp(path);
    CHECK(text && !strncmp(text, "requests 43\n", 12));
    free(text);
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        entries += e->d_name[0] != '.';
    if (d)
        closedir(d);
    CHECK_EQ(entries, 1);
    /* failures say why and leave nothing */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/no/such/dir/counters", dir);
    errno = 0;
    CHECK_EQ(bw_stats_write_file(s, bad), BW_ERR);
    CHECK_EQ(errno, ENOENT);
    CHECK_EQ(bw_stats_write_file(s, ""), BW_ERR);
    unlink(path);
    rmdir(dir);
    bw_stats_destroy(s);
}

TEST(counters_file_is_never_seen_partial)
{
    bw_stats_t *s = bw_stats_create(1, 1, NULL);
    CHECK(s != NULL);
    if (!s)
        return;
    char dir[] = "/tmp/bw-stats-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/counters", dir);
    CHECK_EQ(bw_stats_write_file(s, path), BW_OK);
    pid_t pid = fork();
    if (pid == 0) { /* a writer rewriting as fast as it can */
        for (;;) {
            bw_stats_add(s, 0, BW_ST_REQUESTS, 1);
            bw_stats_write_file(s, path);
        }
    }
    int complete = 0, partial = 0;
    for (int i = 0; i < 2000; i++) {
        char *text = slurp(path);
        if (text && check_lines(text) == BW_ST_COUNT + 8 + 2 &&
            strstr(text, "group.default.detections "))
            complete++;
        else
            partial++;
        free(text);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK_EQ(partial, 0);
    CHECK_EQ(complete, 2000);
    /* the writer, killed mid-write, may leave a temporary file: clean up */
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char p[300];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    bw_stats_destroy(s);
}

/* Checks the text exposition format 0.0.4 line by line: every sample belongs
 * to a family declared by one HELP and one TYPE line before it. */
static int prom_quiet; /* while testing the checker on bad input */

static int check_prometheus(const char *text, int *samples)
{
    regex_t help, type, sample;
    int rc = 0;
    regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\n]+$", REG_EXTENDED);
    regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$", REG_EXTENDED);
    regcomp(&sample,
            "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\""
            "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\")*\\})? [0-9]+$",
            REG_EXTENDED);
    char family[128] = "", typed[128] = "", seen[4096] = " ";
    *samples = 0;
    const char *p = text;
    while (*p && !rc) {
        const char *nl = strchr(p, '\n');
        if (!nl) {
            rc = -1;
            break;
        }
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(nl - p), p);
        regmatch_t m[3];
        if (!regexec(&help, line, 3, m, 0)) {
            snprintf(family, sizeof family, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            char key[140];
            snprintf(key, sizeof key, " %s ", family);
            if (strstr(seen, key))
                rc = -2; /* a family declared twice */
            strncat(seen, key + 1, sizeof seen - strlen(seen) - 1);
        } else if (!regexec(&type, line, 3, m, 0)) {
            snprintf(typed, sizeof typed, "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            if (strcmp(typed, family))
                rc = -3; /* TYPE must follow its HELP */
            if (!strncmp(line + m[2].rm_so, "counter", 7) &&
                (strlen(typed) < 6 || strcmp(typed + strlen(typed) - 6, "_total")))
                rc = -4; /* counters are named *_total */
        } else if (!regexec(&sample, line, 3, m, 0)) {
            if ((size_t)(m[1].rm_eo - m[1].rm_so) != strlen(typed) ||
                strncmp(line, typed, strlen(typed)))
                rc = -5; /* a sample outside its family */
            ++*samples;
        } else {
            rc = -6;
        }
        if (rc && !prom_quiet)
            fprintf(stderr, "  prometheus line rejected (%d): %s\n", rc, line);
        p = nl + 1;
    }
    regfree(&help);
    regfree(&type);
    regfree(&sample);
    return rc;
}

TEST(prometheus_text_parses)
{
    const char *names[] = {"default", "kids", "staff"};
    bw_stats_t *s = bw_stats_create(2, 3, names);
    CHECK(s != NULL);
    if (!s)
        return;
    bw_stats_add(s, 0, BW_ST_REQUESTS, 5);
    bw_stats_add(s, 1, BW_ST_CURED, 3);
    bw_stats_add(s, 1, BW_ST_CONNECTIONS, 9);
    bw_stats_group(s, 0, 2, 1);
    bw_stats_set_workers_alive(s, 1);
    char *text = bw_stats_prometheus(s);
    CHECK(text != NULL);
    if (!text) {
        bw_stats_destroy(s);
        return;
    }
    int samples = 0;
    CHECK_EQ(check_prometheus(text, &samples), 0);
    /* 17 counters + 8 gauges + 2 per group */
    CHECK_EQ(samples, BW_ST_COUNT + 8 + 2 * 3);
    CHECK_CONTAINS(text, "\nbulwark_requests_total 5\n");
    CHECK_CONTAINS(text, "\nbulwark_verdicts_total{status=\"cured\"} 3\n");
    CHECK_CONTAINS(text, "\nbulwark_verdicts_total{status=\"clean\"} 0\n");
    CHECK_CONTAINS(text, "\nbulwark_connections_total 9\n");
    CHECK_CONTAINS(text, "\nbulwark_workers 2\n");
    CHECK_CONTAINS(text, "\nbulwark_workers_alive 1\n");
    CHECK_CONTAINS(text, "\nbulwark_group_requests_total{group=\"staff\"} 1\n");
    CHECK_CONTAINS(text, "\nbulwark_group_detections_total{group=\"staff\"} 1\n");
    CHECK_CONTAINS(text, "# TYPE bulwark_requests_per_minute gauge\n");
    CHECK(!strncmp(text, "# HELP bulwark_requests_total ", 30));
    /* the checker itself rejects what it should */
    int dummy;
    prom_quiet = 1;
    CHECK(check_prometheus("bulwark_x 1\n", &dummy) != 0);
    CHECK(check_prometheus("# HELP a_total h\n# TYPE a_total counter\na_total 1.5\n", &dummy) != 0);
    CHECK(check_prometheus("# HELP a h\n# TYPE a counter\na 1\n", &dummy) != 0);
    CHECK(check_prometheus("# HELP a h\n# TYPE a gauge\na{x=\"y\"} 1\n", &dummy) == 0);
    prom_quiet = 0;
    free(text);
    bw_stats_destroy(s);
}

int main(void)
{
    return t_run();
}
