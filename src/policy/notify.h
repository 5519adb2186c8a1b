/* SPDX-License-Identifier: Apache-2.0 */
/* Administrator notifications: a NotifyScript run per event, a webhook (an
 * HTTP POST of the event as JSON) and an e-mail through SMTP, all driven by
 * the worker's libuv loop and never blocking it.
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

#include <stdbool.h>
#include <stddef.h>
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
    bw_conf_list_t mail_to;      /* MailTo (repeatable) char *: addresses; "" entries ignored */
    char *mail_from;             /* MailFrom: address, NULL or "" = bulwark@<host name> */
    char *smtp_url;              /* SmtpUrl: smtp://host[:port] or smtps://, default smtp://localhost */
    char *smtp_user;             /* SmtpUser: NULL or "" = no AUTH */
    char *smtp_password;         /* SmtpPassword */
    int smtp_starttls;           /* SmtpStartTls: BW_STARTTLS_*, default no */
    char *smtp_ca_file;          /* SmtpCAFile: CA bundle for TLS, NULL or "" = the system's */
    uint64_t mail_timeout_ms;    /* MailTimeout, default 10s */
} bw_notify_conf_t;

/* SmtpStartTls on smtp:// URLs (smtps:// is TLS from the first byte). */
enum { BW_STARTTLS_NO, BW_STARTTLS_TRY, BW_STARTTLS_YES };

extern const bw_conf_table_t bw_notify_conf_table;

/* Whether `c` asks for any channel (script, webhook or mail): the worker
 * creates a notifier only then. */
bool bw_notify_conf_enabled(const bw_notify_conf_t *c);

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

/* Never blocks: copies the event for the script, the webhook and mail.  Each
 * channel runs at most max_running at once and queues max_queued more; an
 * event beyond that is dropped for that channel and counted. */
void bw_notify(bw_notifier_t *n, const bw_event_t *ev);

typedef struct bw_notify_stats {
    uint64_t script_runs;      /* scripts started */
    uint64_t script_failures;  /* could not start, non-zero exit, or killed by a signal not ours */
    uint64_t script_timeouts;  /* killed after NotifyScriptTimeout */
    uint64_t webhook_posts;    /* posts answered with a 2xx status */
    uint64_t webhook_failures; /* connection errors, timeouts, non-2xx answers */
    uint64_t mail_sent;        /* messages the SMTP server accepted */
    uint64_t mail_failures;    /* connection, TLS, AUTH or SMTP errors, timeouts */
    uint64_t dropped;          /* deliveries dropped (full queue, or shutting down); per channel */
    /* Gauges (additive): work in flight and waiting now. */
    uint64_t script_running, script_queued, webhook_running, webhook_queued;
    uint64_t mail_running, mail_queued;
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

/* The event as an RFC 5322 message (malloc'd, CRLF line ends; NULL when out
 * of memory), as the mail channel sends it:
 *   Date (from ev->time, UTC), From, To (`to`: nto addresses), Subject
 *   "Bulwark: STATUS THREAT at URL", Message-ID (`message_id`, "<...>", or
 *   NULL: none), MIME headers, then a quoted-printable UTF-8 body with one
 *   "Name: value" line per event field.
 * Header values are pure printable ASCII whatever the event holds (other
 * bytes become %XX), so no event field can add or fold a header line; in
 * the body, control characters are shown escaped (\r, \n, \xNN) and
 * invalid UTF-8 becomes U+FFFD.  Addresses are used as given: the
 * configuration checked them (bw_mail_address_ok). */
char *bw_event_mail(const bw_event_t *ev, const char *from, const char *const *to, size_t nto,
                    const char *message_id);

/* Whether `addr` is a bare address we accept for MailFrom and MailTo:
 * local@domain in printable ASCII, with no blanks, quotes, angle brackets,
 * commas or other characters that would need quoting in a header.  On
 * false, *why says what is wrong. */
bool bw_mail_address_ok(const char *addr, const char **why);

#endif
