/* SPDX-License-Identifier: Apache-2.0 */
/* console-store-bench: the console's store measured directly (no HTTP).
 *
 *   console-store-bench ingest URL THREADS EVENTS_PER_THREAD [BATCH]
 *       THREADS writers share one store (its connection pool, as the
 *       console's HTTP threads do), each adding batches of BATCH (500)
 *       generated events; prints events/s over the wall time.
 *   console-store-bench load URL EVENTS [DAYS]
 *       stores EVENTS generated events spread evenly over the last DAYS
 *       (30) days, in arrival order, batches of 5000, one writer.
 *   console-store-bench query URL RUNS
 *       the dashboard's queries, each RUNS times: stats over 24 h and 30
 *       days, and pages of 100 rows of the events table (newest, by node,
 *       threat, free text, client, type, a combination, a deep cursor);
 *       prints p50/p99/max in ms.
 *
 * Generated events look like a busy proxy farm: 20 nodes, 500 threat
 * names, 5000 clients, 50000 URLs, 80% detections. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/core.h"
#include "console/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return *s = x;
}

typedef struct gen_ev {
    char id[33], node[16], threat[48], client[24], object[64], json[768];
    const char *component, *type, *action;
    bw_store_event_t ev;
} gen_ev_t;

static const char *const comps[] = { "icap", "icap", "icap", "icap", "icap", "icap", "icap",
                                     "clamd", "clamd", "quarantine" };

static void gen(gen_ev_t *g, uint64_t *s, int64_t t_us)
{
    uint64_t r = rnd(s), r2 = rnd(s);
    snprintf(g->id, sizeof g->id, "%016llx%016llx", (unsigned long long)r, (unsigned long long)r2);
    snprintf(g->node, sizeof g->node, "proxy-%02d", (int)(r % 20) + 1);
    int det = (r2 >> 8) % 10 < 8;
    snprintf(g->threat, sizeof g->threat, "Win.Trojan.Agent-%d", (int)((r >> 12) % 500));
    snprintf(g->client, sizeof g->client, "10.%d.%d.%d", (int)((r >> 24) % 20),
             (int)((r >> 32) % 250), (int)((r >> 40) % 20));
    snprintf(g->object, sizeof g->object, "http://site%d.example/dl/file%d.exe",
             (int)((r2 >> 20) % 5000), (int)((r2 >> 36) % 10));
    g->component = comps[(r2 >> 48) % 10];
    g->type = det ? "detection" : "scan";
    g->action = det ? "deny" : "allow";
    time_t sec = (time_t)(t_us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(g->json, sizeof g->json,
                     "{\"id\":\"%s\",\"time\":\"%s.%06dZ\",\"node\":\"%s\",\"component\":\"%s\","
                     "\"type\":\"%s\",\"severity\":\"%s\",\"verdict\":\"%s\",\"action\":\"%s\","
                     "%s%s%s\"object\":{\"url\":\"%s\",\"size\":%d,\"sha256\":\"%016llx%016llx"
                     "%016llx%016llx\"},\"client\":{\"ip\":\"%s\",\"user\":\"user%d\",\"group\":\"default\"},"
                     "\"method\":\"RESPMOD\"}",
                     g->id, ts, (int)(t_us % 1000000), g->node, g->component, g->type,
                     det ? "high" : "info", det ? "INFECTED" : "CLEAN", g->action,
                     det ? "\"threats\":[\"" : "", det ? g->threat : "", det ? "\"]," : "", g->object,
                     (int)(r % 100000), (unsigned long long)r, (unsigned long long)r2,
                     (unsigned long long)(r ^ r2), (unsigned long long)(r + r2), g->client,
                     (int)((r >> 44) % 3000));
    g->ev = (bw_store_event_t){ .id = g->id, .time_us = t_us, .node = g->node,
                                .component = g->component, .type = g->type,
                                .severity = det ? 4 : 1, .threat = det ? g->threat : NULL,
                                .client = g->client, .object = g->object, .action = g->action,
                                .verdict = det ? "INFECTED" : "CLEAN", .json = g->json,
                                .json_len = (size_t)n };
}

static int add_batch(bw_store_t *st, gen_ev_t *g, size_t n)
{
    bw_store_event_t *ev = malloc(n * sizeof *ev);
    for (size_t i = 0; i < n; i++)
        ev[i] = g[i].ev;
    bw_err_t err = { { 0 } };
    size_t a, d;
    int rc = bw_store_add_events(st, ev, n, &a, &d, &err);
    if (rc != BW_OK)
        fprintf(stderr, "add_events: %s\n", err.msg);
    free(ev);
    return rc;
}

struct ing { bw_store_t *st; int k; long n; size_t batch; int rc; };

static void *ingest_thread(void *arg)
{
    struct ing *p = arg;
    uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(p->k + 1) ^ (uint64_t)time(NULL);
    gen_ev_t *g = malloc(p->batch * sizeof *g);
    int64_t t0 = (int64_t)time(NULL) * 1000000;
    for (long done = 0; done < p->n; done += (long)p->batch) {
        size_t b = p->n - done < (long)p->batch ? (size_t)(p->n - done) : p->batch;
        for (size_t i = 0; i < b; i++)
            gen(&g[i], &s, t0 + done + (int64_t)i);
        if (add_batch(p->st, g, b) != BW_OK) {
            p->rc = 1;
            break;
        }
    }
    free(g);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef json_t *(*qfn)(bw_store_t *, void *);

static void measure(const char *name, bw_store_t *st, int runs, json_t *(*fn)(bw_store_t *, const void *),
                    const void *arg)
{
    double *t = malloc(runs * sizeof *t);
    size_t rows = 0;
    for (int i = 0; i < runs; i++) {
        double a = now_s();
        json_t *r = fn(st, arg);
        t[i] = (now_s() - a) * 1000;
        if (!r) {
            printf("%-28s FAILED\n", name);
            free(t);
            return;
        }
        json_t *ev = json_object_get(r, "events");
        rows = ev ? json_array_size(ev) : json_array_size(json_object_get(r, "buckets"));
        json_decref(r);
    }
    qsort(t, runs, sizeof *t, cmp_d);
    printf("%-28s rows %4zu  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", name, rows, t[runs / 2],
           t[(int)(runs * 0.99) < runs ? (int)(runs * 0.99) : runs - 1], t[runs - 1]);
    fflush(stdout);
    free(t);
}

static json_t *q_events(bw_store_t *st, const void *f)
{
    bw_err_t err = { { 0 } };
    json_t *r = bw_store_query_events(st, f, &err);
    if (!r)
        fprintf(stderr, "query: %s\n", err.msg);
    return r;
}

struct srange { int64_t from, to; int bucket; };
static json_t *q_stats(bw_store_t *st, const void *a)
{
    const struct srange *s = a;
    bw_err_t err = { { 0 } };
    json_t *r = bw_store_stats(st, s->from, s->to, s->bucket, 10, &err);
    if (!r)
        fprintf(stderr, "stats: %s\n", err.msg);
    return r;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ingest|load|query URL ...\n", argv[0]);
        return 2;
    }
    bw_store_t *st;
    bw_err_t err = { { 0 } };
    if (bw_store_open(argv[2], &st, &err) != BW_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[1], "ingest")) {
        int nt = atoi(argv[3]);
        long per = argc > 4 ? atol(argv[4]) : 20000;
        size_t batch = argc > 5 ? (size_t)atol(argv[5]) : 500;
        pthread_t th[64];
        struct ing p[64];
        if (nt < 1 || nt > 64)
            return 2;
        double a = now_s();
        for (int k = 0; k < nt; k++) {
            p[k] = (struct ing){ st, k, per, batch, 0 };
            pthread_create(&th[k], NULL, ingest_thread, &p[k]);
        }
        for (int k = 0; k < nt; k++) {
            pthread_join(th[k], NULL);
            rc |= p[k].rc;
        }
        double s = now_s() - a;
        printf("ingest %s: %d threads x %ld events, batches of %zu: %.2f s, %.0f events/s\n",
               bw_store_kind(st), nt, per, batch, s, nt * per / s);
    } else if (!strcmp(argv[1], "load")) {
        long n = atol(argv[3]);
        int days = argc > 4 ? atoi(argv[4]) : 30;
        int64_t end = (int64_t)time(NULL) * 1000000, span = (int64_t)days * 86400 * 1000000;
        int64_t step = span / (n ? n : 1);
        enum { B = 5000 };
        gen_ev_t *g = malloc(B * sizeof *g);
        uint64_t s = 0x1234567 ^ (uint64_t)end;
        double a = now_s(), last = a;
        for (long done = 0; done < n; done += B) {
            size_t b = n - done < B ? (size_t)(n - done) : B;
            for (size_t i = 0; i < b; i++)
                gen(&g[i], &s, end - span + (done + (long)i) * step);
            if (add_batch(st, g, b) != BW_OK) {
                rc = 1;
                break;
            }
            if (now_s() - last > 30) {
                last = now_s();
                fprintf(stderr, "  %ld events, %.0f events/s\n", done + (long)b, (done + b) / (last - a));
            }
        }
        free(g);
        printf("load %s: %ld events over %d days in %.1f s (%.0f events/s)\n", bw_store_kind(st), n, days,
               now_s() - a, n / (now_s() - a));
    } else if (!strcmp(argv[1], "query")) {
        int runs = atoi(argv[3]);
        int64_t now = (int64_t)time(NULL) * 1000000, H = 3600LL * 1000000;
        printf("%lld events stored\n", (long long)bw_store_event_count(st));
        struct srange d1 = { now - 24 * H, now, 3600 }, d30 = { now - 30 * 24 * H, now, 86400 };
        measure("stats last 24 h (hourly)", st, runs, q_stats, &d1);
        measure("stats last 30 days (daily)", st, runs, q_stats, &d30);
        bw_store_filter_t f0 = { .limit = 100 };
        measure("page newest, no filter", st, runs, q_events, &f0);
        bw_store_filter_t f24 = { .from_us = now - 24 * H, .to_us = now, .limit = 100 };
        measure("page last 24 h", st, runs, q_events, &f24);
        bw_store_filter_t fn = { .node = "proxy-07", .limit = 100 };
        measure("page by node", st, runs, q_events, &fn);
        bw_store_filter_t ft = { .threat = "Agent-123", .limit = 100 };
        measure("page by threat (substring)", st, runs, q_events, &ft);
        bw_store_filter_t fx = { .text = "site4321.example", .limit = 100 };
        measure("page by free text", st, runs, q_events, &fx);
        bw_store_filter_t fr = { .text = "nowhere-to-be-found", .limit = 100 };
        measure("page by free text, no match", st, runs, q_events, &fr);
        bw_store_filter_t fc = { .client = "10.3.77.5", .limit = 100 };
        measure("page by client", st, runs, q_events, &fc);
        bw_store_filter_t fty = { .type = "scan", .limit = 100 };
        measure("page by type", st, runs, q_events, &fty);
        bw_store_filter_t fcomb = { .node = "proxy-03", .type = "detection", .min_severity = 3,
                                    .from_us = now - 7 * 24 * H, .limit = 100 };
        measure("page node+type+sev+7 days", st, runs, q_events, &fcomb);
        /* a deep cursor: the middle of the table */
        int64_t n = bw_store_event_count(st);
        bw_store_filter_t fd = { .before_seq = n / 2, .limit = 100 };
        measure("page deep cursor (middle)", st, runs, q_events, &fd);
        bw_store_filter_t fdn = { .before_seq = n / 2, .node = "proxy-11", .limit = 100 };
        measure("page deep cursor by node", st, runs, q_events, &fdn);
    }
    bw_store_close(st);
    return rc;
}
