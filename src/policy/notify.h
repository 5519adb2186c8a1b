/* Administrator notifications: a NotifyScript run per event and a webhook
 * (an HTTP POST of the event as JSON), both driven by the worker's libuv loop
 * and never blocking it.
 *
 *   bw_notifier_t *n = bw_notifier_new(loop, bw_conf_get(st, &bw_notify_conf_table, NULL));
 *   bw_notifier_set_log(n, my_log, NULL);
 *   bw_event_t ev = {.status = "INFECTED", .threat = "EICAR-Test-File", ...};
 *   bw_notify(n, &ev);          // returns at once; the work happens in the loop
 *   ...
 *   bw_notifier_free(n);        // outside uv_run: drains (bounded), then frees
 *
 * Threading: every function except bw_event_json must be called on the
 * loop's thread.  Keys and behaviour: docs/notify.md.
 */
#ifndef BW_POLICY_NOTIFY_H
#define BW_POLICY_NOTIFY_H

#include <stdint.h>
#include <uv.h>

#include "core/conf-t.h"

/* [icapserver.notify] keys (this table shares the section with
 * NotifyTemplateDir of the icap table; the loader allows that because the
 * key names differ). */
typedef struct bw_notify_conf {
    char *script;                /* NotifyScript: absolute path, NULL or "" = none */
    uint64_t script_timeout_ms;  /* NotifyScriptTimeout, default 10s */
    uint64_t max_running;        /* NotifyMaxConcurrent, default 4: scripts (and posts) at once */
    uint64_t max_queued;         /* NotifyMaxQueued, default 100: events waiting per channel */
    char *webhook_url;           /* WebhookUrl: http(s) URL, NULL or "" = none */
    uint64_t webhook_timeout_ms; /* WebhookTimeout, default 5s */
} bw_notify_conf_t;

extern const bw_conf_table_t bw_notify_conf_table;

/* One event.  Any string may be NULL (an empty environment variable, a JSON
 * null).  Strings longer than BW_NOTIFY_MAX_FIELD bytes are cut. */
typedef struct bw_event {
    const char *status, *threat, *url, *client_ip, *user, *group, *action, *method;
    uint64_t size;
    int64_t time; /* unix seconds */
} bw_event_t;

#define BW_NOTIFY_MAX_FIELD 8192

typedef struct bw_notifier bw_notifier_t;

/* A notifier bound to `loop`; `conf` is copied (it may be freed after).
 * NULL only when out of memory or libcurl cannot be initialised. */
bw_notifier_t *bw_notifier_new(uv_loop_t *loop, const bw_notify_conf_t *conf);

/* Log sink for failures, timeouts and drops (level: 3 error, 4 warning,
 * 6 info, as syslog and bw_log).  Without one, messages go to stderr. */
typedef void (*bw_notify_log_fn)(void *ud, int level, const char *msg);
void bw_notifier_set_log(bw_notifier_t *n, bw_notify_log_fn fn, void *ud);

/* Never blocks: copies the event for the script and for the webhook.  Each
 * channel runs at most max_running at once and queues max_queued more; an
 * event beyond that is dropped for that channel and counted. */
void bw_notify(bw_notifier_t *n, const bw_event_t *ev);

typedef struct bw_notify_stats {
    uint64_t script_runs;      /* scripts started */
    uint64_t script_failures;  /* could not start, non-zero exit, or killed by a signal not ours */
    uint64_t script_timeouts;  /* killed after NotifyScriptTimeout */
    uint64_t webhook_posts;    /* posts answered with a 2xx status */
    uint64_t webhook_failures; /* connection errors, timeouts, non-2xx answers */
    uint64_t dropped;          /* deliveries dropped (full queue, or shutting down); per channel */
    /* Gauges (additive): work in flight and waiting now. */
    uint64_t script_running, script_queued, webhook_running, webhook_queued;
} bw_notify_stats_t;

void bw_notifier_stats(const bw_notifier_t *n, bw_notify_stats_t *out);

/* Stops accepting, drops what is queued, lets running work finish within its
 * own timeouts (killing scripts and aborting posts that outlive them), and
 * frees.  It runs `loop` itself (UV_RUN_ONCE) until done, so it must not be
 * called from inside a callback of that loop: use bw_notifier_close there. */
void bw_notifier_free(bw_notifier_t *n);

/* The same without waiting: the notifier frees itself once its running work
 * and handles are finished.  Safe from inside loop callbacks (e.g. a reload
 * that replaces the notifier).  `n` must not be used afterwards. */
void bw_notifier_close(bw_notifier_t *n);

/* The event as one JSON object (malloc'd; NULL when out of memory):
 *   {"status":..,"threat":..,"url":..,"client_ip":..,"user":..,"group":..,
 *    "action":..,"method":..,"size":N,"time":N}
 * Any bytes give valid JSON: controls, quotes and backslashes are escaped,
 * valid UTF-8 passes through, and each byte of an invalid sequence becomes
 * U+FFFD. */
char *bw_event_json(const bw_event_t *ev);

#endif
