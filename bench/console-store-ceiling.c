/* SPDX-License-Identifier: Apache-2.0 */
/* The store alone, for console-ingest-bench.sh: one thread calls
 * bw_store_add_events with batches of 500 events shaped like the HTTP
 * benchmark's (a tenth detections), with no HTTP, no JSON parsing and no
 * validation, so the two figures side by side say what the HTTP layer costs
 * and what the storage can take at most.
 *
 *   console-store-ceiling URL BATCHES      prints "events seconds" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bulwark/core.h"
#include "console/store.h"

#define N 500

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: console-store-ceiling URL BATCHES\n");
        return 2;
    }
    bw_store_t *st;
    bw_err_t err;
    if (bw_store_open(argv[1], &st, &err) != BW_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int batches = atoi(argv[2]);
    static bw_store_event_t ev[N];
    static char ids[N][33], js[N][640], cl[N][32], url[N][80];
    double t0 = now();
    size_t total = 0;
    for (int b = 0; b < batches; b++) {
        for (size_t i = 0; i < N; i++) {
            unsigned char r[16];
            if (getrandom(r, sizeof(r), 0) != sizeof(r))
                return 1;
            for (int k = 0; k < 16; k++)
                sprintf(ids[i] + 2 * k, "%02x", r[k]);
            int det = i % 10 == 0;
            snprintf(cl[i], sizeof(cl[i]), "10.0.%d.%zu", b % 250, i % 250);
            snprintf(url[i], sizeof(url[i]), "http://bench.example/%d/%zu", b, i);
            snprintf(js[i], sizeof(js[i]),
                     "{\"id\":\"%s\",\"time\":\"2026-12-08T02:16:18.000001Z\",\"node\":\"n1\","
                     "\"component\":\"icap\",\"type\":\"%s\",\"severity\":\"%s\",\"verdict\":\"%s\","
                     "\"action\":\"%s\",\"threats\":[%s],\"object\":{\"url\":\"%s\",\"size\":1000},"
                     "\"client\":{\"ip\":\"%s\",\"user\":\"u1\"},\"method\":\"RESPMOD\"}",
                     ids[i], det ? "detection" : "scan", det ? "high" : "info",
                     det ? "INFECTED" : "CLEAN", det ? "deny" : "allow",
                     det ? "\"Bench.Threat\"" : "", url[i], cl[i]);
            ev[i] = (bw_store_event_t){.id = ids[i], .time_us = 1796696178000001LL, .node = "n1",
                                       .component = "icap", .type = det ? "detection" : "scan",
                                       .severity = det ? 4 : 1, .threat = det ? "Bench.Threat" : NULL,
                                       .client = cl[i], .user = "u1", .object = url[i],
                                       .action = det ? "deny" : "allow",
                                       .verdict = det ? "INFECTED" : "CLEAN", .json = js[i],
                                       .json_len = strlen(js[i])};
        }
        size_t added, dups;
        if (bw_store_add_events(st, ev, N, &added, &dups, &err) != BW_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        total += added;
    }
    printf("%zu %.3f\n", total, now() - t0);
    bw_store_close(st);
    return total == (size_t)batches * N ? 0 : 1;
}
