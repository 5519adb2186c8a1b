/* SPDX-License-Identifier: Apache-2.0 */
/* events-emit-bench: the cost of one ICAP event on the emitting thread,
 * alone (no ICAP, no scan): N `scan` events shaped as icap-answer.c makes
 * them, written into a real spool in a temp directory, built two ways:
 *   jansson  bw_event_new + setters + bw_event_emit (the path before the
 *            line builder; still the path of the other producers)
 *   line     bw_evline_* + bw_evline_emit (the ICAP path now)
 *   format   the line built and dropped (no write): the formatting alone
 * Prints ns per event, the best of ROUNDS rounds (the machine is shared:
 * the best round is the one least disturbed).  Built and run by
 * hand (BENCHMARKS.md, "Events", has the command):
 *   cc -O2 -Iinclude -Isrc bench/events-emit-bench.c build/libbulwark.a ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/core.h"
#include "events/event.h"

static const char *URL = "http://cdn.example.com/static/js/app.3f9a1c.js?v=20261208";

static void via_jansson(int64_t size)
{
    json_t *ev = bw_event_new("icap", "scan", BW_SEV_INFO);
    bw_event_set_str(ev, "verdict", "CLEAN");
    bw_event_set_str(ev, "action", "allow");
    json_t *o = bw_event_sub(ev, "object");
    bw_event_set_str(o, "url", URL);
    bw_event_set_int(o, "size", size);
    json_t *cl = bw_event_sub(ev, "client");
    bw_event_set_str(cl, "ip", "192.0.2.17");
    bw_event_set_str(cl, "user", "alice");
    bw_event_set_str(cl, "group", "default");
    bw_event_set_str(ev, "method", "RESPMOD");
    bw_event_emit(ev);
}

static void build_line(bw_evline_t *l, int64_t size)
{
    bw_evline_begin(l, "icap", "scan", BW_SEV_INFO);
    bw_evline_str(l, "verdict", "CLEAN");
    bw_evline_str(l, "action", "allow");
    bw_evline_obj(l, "object");
    bw_evline_str(l, "url", URL);
    bw_evline_int(l, "size", size);
    bw_evline_end(l, '}');
    bw_evline_obj(l, "client");
    bw_evline_str(l, "ip", "192.0.2.17");
    bw_evline_str(l, "user", "alice");
    bw_evline_str(l, "group", "default");
    bw_evline_end(l, '}');
    bw_evline_str(l, "method", "RESPMOD");
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : NULL;
    char dir[] = "/tmp/bw-emitbench-XXXXXX";
    if (!mkdtemp(dir))
        return 2;
    bw_events_conf_t c = {0};
    char node[] = "bench-node";
    c.enable = c.clean = true;
    c.spool_dir = dir;
    c.node_name = node;
    c.max_spool_size = 0;
    c.sync_interval_ms = 1000; /* the default: a background fdatasync each second */
    bw_err_t err;
    if (bw_event_setup(&c, &err) != BW_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    const char *modes[] = {"jansson", "line", "format"};
    for (int m = 0; m < 3; m++) {
        if (only && strcmp(only, modes[m]))
            continue;
        double best = 1e18;
        for (int r = 0; r < rounds; r++) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++) {
                if (m == 0) {
                    via_jansson(i);
                } else {
                    bw_evline_t l;
                    build_line(&l, i);
                    if (m == 1) {
                        bw_evline_emit(&l);
                    } else {
                        size_t len;
                        const char *s = bw_evline_text(&l, &len);
                        __asm__ volatile("" : : "r"(s) : "memory");
                        bw_evline_free(&l);
                    }
                }
            }
            double ns = (now_ns() - t0) / (double)n;
            if (ns < best)
                best = ns;
        }
        printf("%-8s %8.0f ns/event (best of %d rounds of %ld)\n", modes[m], best, rounds, n);
    }
    printf("failures %llu\n", (unsigned long long)bw_event_failures());
    bw_event_shutdown();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) ? 1 : 0;
}
