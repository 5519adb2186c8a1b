/* SPDX-License-Identifier: Apache-2.0 */
/* Server-wide counters: one shared region, one slot per worker, summed on
 * read (see stats.h for the design).
 *
 * Why per-worker slots instead of one shared array of counters: a counter
 * that every worker increments bounces its cache line between cores on every
 * request; a slot per worker keeps each line with the core that writes it and
 * pushes the cost to the reader, who runs once a second at most.  Why atomic
 * adds rather than plain stores in the worker's own slot: a worker's scans
 * finish on libuv's thread pool, so one slot may have writers on several
 * threads; an uncontended relaxed add costs a few nanoseconds and can never
 * lose a count.
 *
 * Everything lives inside the mapping (names included), so the pointer the
 * supervisor created is valid, unchanged, in every forked worker. */
#include "core/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/core.h"

#define RING 60

/* One worker's counters.  Aligned so that two workers never write the same
 * cache line. */
struct bw_stats_slot {
    bw_stats_t *region;  /* the mapping this slot is part of (same address in
                            every process forked after create) */
    unsigned index;
    uint64_t v[BW_ST_COUNT];
    int64_t conns_open;
    int64_t scans_waiting, scans_running;
    uint64_t group[BW_STATS_MAX_GROUPS][2]; /* requests, detections */
} __attribute__((aligned(64)));
typedef struct bw_stats_slot stats_slot_t;

struct bw_stats {
    size_t size;                 /* bytes mapped */
    unsigned nworkers;
    unsigned ngroups;            /* atomic; written by the supervisor only */
    unsigned workers_alive;      /* atomic */
    unsigned workers_configured; /* atomic; 0: nworkers */
    uint64_t created_mono_ns;
    uint64_t start_time;         /* Unix seconds */
    /* requests/minute: the supervisor's ring of request totals, one a second */
    uint64_t ring[RING];
    uint64_t last_sec;
    uint64_t rpm;                /* atomic: read by the /metrics thread */
    char names[BW_STATS_MAX_GROUPS][BW_STATS_GROUP_NAME + 1];
    stats_slot_t slots[];
};

/* What each counter is called in the counters file and in Prometheus.  Rows
 * with a label belong to one labelled family, listed contiguously, so the
 * renderer prints its HELP/TYPE once. */
static const struct {
    const char *file, *prom, *label, *help;
} meta[BW_ST_COUNT] = {
    [BW_ST_REQUESTS] = {"requests", "bulwark_requests_total", NULL,
                        "ICAP requests answered (OPTIONS excluded)."},
    [BW_ST_CLEAN] = {"clean", "bulwark_verdicts_total", "clean", "Scanned objects by verdict."},
    [BW_ST_INFECTED] = {"infected", "bulwark_verdicts_total", "infected", NULL},
    [BW_ST_SUSPICIOUS] = {"suspicious", "bulwark_verdicts_total", "suspicious", NULL},
    [BW_ST_WARNING] = {"warning", "bulwark_verdicts_total", "warning", NULL},
    [BW_ST_PROTECTED] = {"protected", "bulwark_verdicts_total", "protected", NULL},
    [BW_ST_CORRUPTED] = {"corrupted", "bulwark_verdicts_total", "corrupted", NULL},
    [BW_ST_ERROR] = {"error", "bulwark_verdicts_total", "error", NULL},
    [BW_ST_CURED] = {"cured", "bulwark_verdicts_total", "cured", NULL},
    [BW_ST_TOO_LARGE] = {"too_large", "bulwark_too_large_total", NULL,
                         "Objects over MaxReqLength."},
    [BW_ST_TIMEOUT] = {"timeout", "bulwark_timeouts_total", NULL,
                       "Requests that timed out (scan or transfer)."},
    [BW_ST_BLOCKED] = {"blocked", "bulwark_blocked_total", NULL,
                       "Requests answered with a block page."},
    [BW_ST_BYTES] = {"traffic_bytes", "bulwark_processed_bytes_total", NULL,
                     "Body bytes processed."},
    [BW_ST_BYTES_CLEAN] = {"traffic_clean_bytes", "bulwark_clean_bytes_total", NULL,
                           "Body bytes of clean objects."},
    [BW_ST_BYTES_INFECTED] = {"traffic_infected_bytes", "bulwark_infected_bytes_total", NULL,
                              "Body bytes of infected objects."},
    [BW_ST_ENGINE_ERRORS] = {"engine_errors", "bulwark_engine_errors_total", NULL,
                             "Scan engine failures."},
    [BW_ST_CONNECTIONS] = {"connections", "bulwark_connections_total", NULL,
                           "ICAP connections accepted."},
    [BW_ST_RSCAN_REQUESTS] = {"rscan_requests", "bulwark_rscan_requests_total", NULL,
                              "Remote-scan (BWSCAN/1) SCAN requests."},
    [BW_ST_RSCAN_HITS] = {"rscan_cache_hits", "bulwark_rscan_cache_hits_total", NULL,
                          "Remote-scan requests answered from the verdict cache."},
    [BW_ST_RSCAN_BYTES] = {"rscan_content_bytes", "bulwark_rscan_content_bytes_total", NULL,
                           "Remote-scan content bytes received."},
};

const char *bw_stats_name(enum bw_stat k)
{
    return (unsigned)k < BW_ST_COUNT ? meta[k].file : NULL;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Group names end up in `name value` lines and in Prometheus labels: keep the
 * characters a configuration group name may have, replace anything else. */
static void put_name(char *dst, const char *src)
{
    size_t i = 0;
    for (; src[i] && i < BW_STATS_GROUP_NAME; i++) {
        char c = src[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        dst[i] = ok ? c : '_';
    }
    dst[i] = '\0';
}

bw_stats_t *bw_stats_create(unsigned nworkers, unsigned ngroups, const char *const *group_names)
{
    if (nworkers == 0 || nworkers > BW_STATS_MAX_WORKERS || ngroups > BW_STATS_MAX_GROUPS ||
        (ngroups > 1 && !group_names))
        return NULL;
    size_t size = sizeof(bw_stats_t) + (size_t)nworkers * sizeof(stats_slot_t);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    bw_stats_t *s = p; /* anonymous memory is zeroed */
    s->size = size;
    s->nworkers = nworkers;
    s->created_mono_ns = mono_ns();
    s->start_time = (uint64_t)time(NULL);
    /* Written directly rather than through bw_stats_group_slot, so that the
     * caller's index i is slot i even if two names were equal. */
    put_name(s->names[0], group_names && ngroups && group_names[0] ? group_names[0] : "default");
    for (unsigned i = 1; i < ngroups; i++) {
        char unnamed[32];
        snprintf(unnamed, sizeof unnamed, "group%u", i);
        put_name(s->names[i], group_names[i] && group_names[i][0] ? group_names[i] : unnamed);
    }
    s->ngroups = ngroups ? ngroups : 1;
    for (unsigned i = 0; i < nworkers; i++) {
        s->slots[i].region = s;
        s->slots[i].index = i;
    }
    return s;
}

bw_stats_slot_t *bw_stats_slot(bw_stats_t *s, unsigned slot)
{
    return s && slot < s->nworkers ? &s->slots[slot] : NULL;
}

void bw_stats_slot_add(bw_stats_slot_t *w, enum bw_stat k, uint64_t n)
{
    if (w)
        bw_stats_add(w->region, w->index, k, n);
}

void bw_stats_slot_verdict(bw_stats_slot_t *w, int status, uint64_t bytes)
{
    if (w)
        bw_stats_verdict(w->region, w->index, status, bytes);
}

void bw_stats_slot_group(bw_stats_slot_t *w, const char *group, int detected)
{
    if (w)
        bw_stats_group(w->region, w->index, bw_stats_group_find(w->region, group), detected);
}

void bw_stats_slot_conns(bw_stats_slot_t *w, int delta)
{
    if (w)
        bw_stats_conn_delta(w->region, w->index, delta);
}

void bw_stats_slot_scans(bw_stats_slot_t *w, int waiting, int running)
{
    if (w)
        bw_stats_scan_delta(w->region, w->index, waiting, running);
}

void bw_stats_destroy(bw_stats_t *s)
{
    if (s)
        munmap(s, s->size);
}

void bw_stats_add(bw_stats_t *s, unsigned worker, enum bw_stat k, uint64_t n)
{
    if (!s || worker >= s->nworkers || (unsigned)k >= BW_ST_COUNT)
        return;
    __atomic_fetch_add(&s->slots[worker].v[k], n, __ATOMIC_RELAXED);
}

void bw_stats_group(bw_stats_t *s, unsigned worker, unsigned group, int detected)
{
    if (!s || worker >= s->nworkers)
        return;
    if (group >= __atomic_load_n(&s->ngroups, __ATOMIC_ACQUIRE))
        group = 0;
    uint64_t *g = s->slots[worker].group[group];
    __atomic_fetch_add(&g[0], 1, __ATOMIC_RELAXED);
    if (detected)
        __atomic_fetch_add(&g[1], 1, __ATOMIC_RELAXED);
}

void bw_stats_conn_delta(bw_stats_t *s, unsigned worker, int delta)
{
    if (s && worker < s->nworkers)
        __atomic_fetch_add(&s->slots[worker].conns_open, (int64_t)delta, __ATOMIC_RELAXED);
}

void bw_stats_scan_delta(bw_stats_t *s, unsigned worker, int waiting, int running)
{
    if (!s || worker >= s->nworkers)
        return;
    if (waiting)
        __atomic_fetch_add(&s->slots[worker].scans_waiting, (int64_t)waiting, __ATOMIC_RELAXED);
    if (running)
        __atomic_fetch_add(&s->slots[worker].scans_running, (int64_t)running, __ATOMIC_RELAXED);
}

void bw_stats_worker_exited(bw_stats_t *s, unsigned worker)
{
    if (s && worker < s->nworkers) {
        __atomic_store_n(&s->slots[worker].conns_open, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->slots[worker].scans_waiting, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->slots[worker].scans_running, 0, __ATOMIC_RELAXED);
    }
}

void bw_stats_verdict(bw_stats_t *s, unsigned worker, int status, uint64_t bytes)
{
    static const enum bw_stat by_status[BW_STATUS_COUNT] = {
        [BW_CLEAN] = BW_ST_CLEAN,         [BW_CURED] = BW_ST_CURED,
        [BW_ERROR] = BW_ST_ERROR,         [BW_CORRUPTED] = BW_ST_CORRUPTED,
        [BW_PROTECTED] = BW_ST_PROTECTED, [BW_TIMEOUT] = BW_ST_TIMEOUT,
        [BW_TOO_LARGE] = BW_ST_TOO_LARGE, [BW_SUSPICIOUS] = BW_ST_SUSPICIOUS,
        [BW_WARNING] = BW_ST_WARNING,     [BW_INFECTED] = BW_ST_INFECTED,
    };
    if (!s)
        return;
    bw_stats_add(s, worker, BW_ST_REQUESTS, 1);
    if (status >= 0 && status < BW_STATUS_COUNT)
        bw_stats_add(s, worker, by_status[status], 1);
    bw_stats_add(s, worker, BW_ST_BYTES, bytes);
    if (status == BW_CLEAN)
        bw_stats_add(s, worker, BW_ST_BYTES_CLEAN, bytes);
    else if (status == BW_INFECTED)
        bw_stats_add(s, worker, BW_ST_BYTES_INFECTED, bytes);
}

void bw_stats_set_workers_configured(bw_stats_t *s, unsigned n)
{
    if (s)
        __atomic_store_n(&s->workers_configured, n, __ATOMIC_RELAXED);
}

void bw_stats_set_workers_alive(bw_stats_t *s, unsigned n)
{
    if (s)
        __atomic_store_n(&s->workers_alive, n, __ATOMIC_RELAXED);
}

unsigned bw_stats_group_find(const bw_stats_t *s, const char *name)
{
    if (!s || !name || !name[0])
        return 0;
    char want[BW_STATS_GROUP_NAME + 1];
    put_name(want, name);
    unsigned n = __atomic_load_n(&s->ngroups, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n && i < BW_STATS_MAX_GROUPS; i++)
        if (!strcmp(s->names[i], want))
            return i;
    return 0;
}

unsigned bw_stats_group_slot(bw_stats_t *s, const char *name)
{
    if (!s || !name || !name[0])
        return 0;
    char want[BW_STATS_GROUP_NAME + 1];
    put_name(want, name);
    unsigned n = __atomic_load_n(&s->ngroups, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (!strcmp(s->names[i], want))
            return i;
    if (n >= BW_STATS_MAX_GROUPS)
        return 0;
    /* The name is complete before the count that makes it visible. */
    memcpy(s->names[n], want, sizeof want);
    __atomic_store_n(&s->ngroups, n + 1, __ATOMIC_RELEASE);
    return n;
}

static uint64_t sum_requests(const bw_stats_t *s)
{
    uint64_t t = 0;
    for (unsigned w = 0; w < s->nworkers; w++)
        t += __atomic_load_n(&s->slots[w].v[BW_ST_REQUESTS], __ATOMIC_RELAXED);
    return t;
}

void bw_stats_tick_at(bw_stats_t *s, uint64_t sec)
{
    if (!s || sec <= s->last_sec)
        return;
    uint64_t total = sum_requests(s);
    uint64_t prev = s->ring[s->last_sec % RING]; /* the total at the last tick */
    uint64_t gap = sec - s->last_sec;
    /* Seconds nobody sampled get the last known total: their requests are
     * counted as if they came now, which keeps them in the window longest. */
    if (gap > RING) {
        for (unsigned i = 0; i < RING; i++)
            s->ring[i] = prev;
    } else {
        for (uint64_t t = s->last_sec + 1; t < sec; t++)
            s->ring[t % RING] = prev;
    }
    uint64_t old = s->ring[sec % RING]; /* the total 60 seconds ago */
    s->ring[sec % RING] = total;
    s->last_sec = sec;
    __atomic_store_n(&s->rpm, total >= old ? total - old : 0, __ATOMIC_RELAXED);
}

void bw_stats_tick(bw_stats_t *s)
{
    if (s)
        bw_stats_tick_at(s, (mono_ns() - s->created_mono_ns) / 1000000000u);
}

void bw_stats_read(const bw_stats_t *s, bw_stats_snapshot_t *out)
{
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    unsigned ng = __atomic_load_n(&s->ngroups, __ATOMIC_ACQUIRE);
    if (ng > BW_STATS_MAX_GROUPS)
        ng = BW_STATS_MAX_GROUPS;
    for (unsigned w = 0; w < s->nworkers; w++) {
        const stats_slot_t *sl = &s->slots[w];
        for (unsigned k = 0; k < BW_ST_COUNT; k++)
            out->v[k] += __atomic_load_n(&sl->v[k], __ATOMIC_RELAXED);
        int64_t c = __atomic_load_n(&sl->conns_open, __ATOMIC_RELAXED);
        if (c > 0)
            out->connections_open += (uint64_t)c;
        c = __atomic_load_n(&sl->scans_waiting, __ATOMIC_RELAXED);
        if (c > 0)
            out->scans_waiting += (uint64_t)c;
        c = __atomic_load_n(&sl->scans_running, __ATOMIC_RELAXED);
        if (c > 0)
            out->scans_running += (uint64_t)c;
        for (unsigned g = 0; g < ng; g++) {
            out->group_requests[g] += __atomic_load_n(&sl->group[g][0], __ATOMIC_RELAXED);
            out->group_detections[g] += __atomic_load_n(&sl->group[g][1], __ATOMIC_RELAXED);
        }
    }
    out->requests_per_minute = __atomic_load_n(&s->rpm, __ATOMIC_RELAXED);
    unsigned conf = __atomic_load_n(&s->workers_configured, __ATOMIC_RELAXED);
    out->workers = conf ? conf : s->nworkers;
    out->workers_alive = __atomic_load_n(&s->workers_alive, __ATOMIC_RELAXED);
    out->uptime_s = (mono_ns() - s->created_mono_ns) / 1000000000u;
    out->start_time = s->start_time;
    out->ngroups = ng;
    for (unsigned g = 0; g < ng; g++)
        out->group_name[g] = s->names[g];
}

/* Ends a memory stream: open_memstream sets *buf only at fflush/fclose, so
 * it is read after the close.  NULL if the text could not be built. */
static char *finish(FILE *f, char **buf)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        free(*buf);
        return NULL;
    }
    return *buf;
}

/* A fresh snapshot and a memory stream to render it into (both or neither). */
static FILE *snapshot_stream(const bw_stats_t *s, bw_stats_snapshot_t **sn, char **buf, size_t *len)
{
    *sn = malloc(sizeof **sn);
    FILE *f = *sn ? open_memstream(buf, len) : NULL;
    if (!f) {
        free(*sn);
        *sn = NULL;
        return NULL;
    }
    bw_stats_read(s, *sn);
    return f;
}

char *bw_stats_text(const bw_stats_t *s)
{
    bw_stats_snapshot_t *sn;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = snapshot_stream(s, &sn, &buf, &len);
    if (!f)
        return NULL;
    for (unsigned k = 0; k < BW_ST_COUNT; k++)
        fprintf(f, "%s %llu\n", meta[k].file, (unsigned long long)sn->v[k]);
    fprintf(f, "connections_open %llu\n", (unsigned long long)sn->connections_open);
    fprintf(f, "scans_waiting %llu\nscans_running %llu\n", (unsigned long long)sn->scans_waiting,
            (unsigned long long)sn->scans_running);
    fprintf(f, "requests_per_minute %llu\n", (unsigned long long)sn->requests_per_minute);
    fprintf(f, "workers %u\nworkers_alive %u\n", sn->workers, sn->workers_alive);
    fprintf(f, "uptime_seconds %llu\nstart_time %llu\n", (unsigned long long)sn->uptime_s,
            (unsigned long long)sn->start_time);
    for (unsigned g = 0; g < sn->ngroups; g++)
        fprintf(f, "group.%s.requests %llu\ngroup.%s.detections %llu\n", sn->group_name[g],
                (unsigned long long)sn->group_requests[g], sn->group_name[g],
                (unsigned long long)sn->group_detections[g]);
    free(sn);
    return finish(f, &buf);
}

int bw_stats_write_file(const bw_stats_t *s, const char *path)
{
    if (!s || !path || !path[0]) {
        errno = EINVAL;
        return BW_ERR;
    }
    char *text = bw_stats_text(s);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!text || !tmp) {
        free(text);
        free(tmp);
        errno = ENOMEM;
        return BW_ERR;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = BW_ERR, saved = 0;
    if (fd >= 0) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t w = write(fd, text + off, len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        /* mkstemp creates 0600; the counters are meant for monitoring tools. */
        if (off == len && fchmod(fd, 0644) == 0 && close(fd) == 0) {
            fd = -1;
            if (rename(tmp, path) == 0)
                rc = BW_OK;
        }
        saved = errno;
        if (fd >= 0)
            close(fd);
        if (rc != BW_OK)
            unlink(tmp);
    } else {
        saved = errno;
    }
    free(text);
    free(tmp);
    if (rc != BW_OK)
        errno = saved ? saved : EIO;
    return rc;
}

static void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *bw_stats_prometheus(const bw_stats_t *s)
{
    bw_stats_snapshot_t *sn;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = snapshot_stream(s, &sn, &buf, &len);
    if (!f)
        return NULL;
    const char *family = NULL;
    for (unsigned k = 0; k < BW_ST_COUNT; k++) {
        if (!family || strcmp(family, meta[k].prom)) {
            family = meta[k].prom;
            prom_family(f, family, "counter", meta[k].help);
        }
        if (meta[k].label)
            fprintf(f, "%s{status=\"%s\"} %llu\n", family, meta[k].label,
                    (unsigned long long)sn->v[k]);
        else
            fprintf(f, "%s %llu\n", family, (unsigned long long)sn->v[k]);
    }
    prom_family(f, "bulwark_connections_open", "gauge", "ICAP connections open now.");
    fprintf(f, "bulwark_connections_open %llu\n", (unsigned long long)sn->connections_open);
    prom_family(f, "bulwark_scans_waiting", "gauge",
                "ICAP scans waiting for a thread now (MaxQueuedScans bounds them per worker).");
    fprintf(f, "bulwark_scans_waiting %llu\n", (unsigned long long)sn->scans_waiting);
    prom_family(f, "bulwark_scans_running", "gauge", "ICAP scans on a thread now.");
    fprintf(f, "bulwark_scans_running %llu\n", (unsigned long long)sn->scans_running);
    prom_family(f, "bulwark_requests_per_minute", "gauge",
                "Requests answered in the last 60 seconds.");
    fprintf(f, "bulwark_requests_per_minute %llu\n",
            (unsigned long long)sn->requests_per_minute);
    prom_family(f, "bulwark_workers", "gauge", "Configured worker processes.");
    fprintf(f, "bulwark_workers %u\n", sn->workers);
    prom_family(f, "bulwark_workers_alive", "gauge", "Worker processes running.");
    fprintf(f, "bulwark_workers_alive %u\n", sn->workers_alive);
    prom_family(f, "bulwark_uptime_seconds", "gauge", "Seconds since the server started.");
    fprintf(f, "bulwark_uptime_seconds %llu\n", (unsigned long long)sn->uptime_s);
    prom_family(f, "bulwark_start_time_seconds", "gauge", "Unix time the server started.");
    fprintf(f, "bulwark_start_time_seconds %llu\n", (unsigned long long)sn->start_time);
    /* Group names hold only [A-Za-z0-9_.-] (put_name), so they need no
     * escaping inside a label value. */
    prom_family(f, "bulwark_group_requests_total", "counter", "Requests by policy group.");
    for (unsigned g = 0; g < sn->ngroups; g++)
        fprintf(f, "bulwark_group_requests_total{group=\"%s\"} %llu\n", sn->group_name[g],
                (unsigned long long)sn->group_requests[g]);
    prom_family(f, "bulwark_group_detections_total", "counter",
                "Requests with a detection, by policy group.");
    for (unsigned g = 0; g < sn->ngroups; g++)
        fprintf(f, "bulwark_group_detections_total{group=\"%s\"} %llu\n", sn->group_name[g],
                (unsigned long long)sn->group_detections[g]);
    free(sn);
    return finish(f, &buf);
}
