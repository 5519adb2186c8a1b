/* SPDX-License-Identifier: Apache-2.0 */
/* The console's storage, one interface over two engines.
 *
 * SQLite (embedded, the zero-set-up default: `DatabaseUrl = sqlite:/var/lib/
 * bulwark-console/console.db`, or a bare path) and PostgreSQL (`DatabaseUrl =
 * postgresql://...`) sit behind this header: store-sqlite.c and store-pg.c
 * implement the same bw_store_ops_t, and the HTTP layer never sees SQL.  Both
 * pass the same tests (tests/unit/test-console-store.c run against each).
 *
 * Rich results are jansson objects, because the only consumer turns them
 * into JSON for the REST API anyway; the shapes are those of the API
 * (docs/console-api.md), so a handler returns what the store gives it.
 *
 * Threads: a bw_store_t is safe to use from many threads at once (the
 * console's HTTP server runs a thread pool); each backend keeps a small
 * pool of connections inside.  Every write is one transaction: a batch of
 * events is stored completely or not at all.
 *
 * Times are microseconds since the epoch (int64_t), UTC. */
#ifndef BW_CONSOLE_STORE_H
#define BW_CONSOLE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct bw_store bw_store_t;

/* Opens (creating if needed) and migrates the schema to the current
 * version.  `url`: "sqlite:PATH", a bare PATH, or "postgresql://..." /
 * "postgres://...".  On failure err says what and where. */
int bw_store_open(const char *url, bw_store_t **out, bw_err_t *err);
void bw_store_close(bw_store_t *st);
/* "sqlite" or "postgresql". */
const char *bw_store_kind(const bw_store_t *st);
/* The schema version after migration. */
int bw_store_schema_version(bw_store_t *st);

/* ---- events ------------------------------------------------------------ */

/* One event as ingested.  `json` is the complete, validated event object as
 * the node sent it (after the console set "node" to the authenticated
 * node's name); the other fields are copies of its indexed fields, NULL or
 * 0 when the event has none. */
typedef struct bw_store_event {
    const char *id;          /* unique across nodes: the deduplication key */
    int64_t time_us;         /* the event's own time */
    const char *node, *component, *type;
    int severity;            /* 1 info .. 5 critical (docs/events.md) */
    const char *threat;      /* the first threat name */
    const char *client;      /* client address (ICAP/clamd) or src_ip (network) */
    const char *user;
    const char *object;      /* URL or path */
    const char *action, *verdict;
    const char *json;
    size_t json_len;
    const char *ftext;       /* the searchable text (bw_store_ftext_json), or NULL: the
                              * store makes it from json (one more parse) */
} bw_store_event_t;

/* The text free-text search looks in (docs/console-storage.md, "Free
 * text"), from a parsed event: malloc'd, NULL when out of memory. */
char *bw_store_ftext_json(json_t *event);

/* Stores n events in one transaction; an id already stored is skipped and
 * counted in *dups (the console sees each event once).  Also maintains the
 * per-hour rollups the dashboard reads. */
int bw_store_add_events(bw_store_t *st, const bw_store_event_t *ev, size_t n, size_t *added,
                        size_t *dups, bw_err_t *err);

/* Filters of the events table; NULL / 0 fields do not filter.  Text fields
 * match exactly except `text` (free text in the event's searchable values:
 * its words on SQLite, a substring on PostgreSQL; docs/console-storage.md)
 * and `threat` (substring, case-insensitive).  Values are
 * bound as parameters, never pasted into SQL. */
typedef struct bw_store_filter {
    int64_t from_us, to_us;  /* time range, [from, to) */
    const char *node, *component, *type, *threat, *client, *text, *action;
    int min_severity;
    int64_t before_seq;      /* cursor of a newest-first page: seq < before_seq (0: none) */
    int64_t after_seq;       /* follow mode: seq > after_seq, oldest first (0: newest first) */
    size_t limit;            /* 1..1000 */
} bw_store_filter_t;

/* {"events":[{"seq":N, ...event fields...}, ...], "next_cursor": N or null}.
 * Newest first (by seq) unless after_seq is set.  NULL on error. */
json_t *bw_store_query_events(bw_store_t *st, const bw_store_filter_t *f, bw_err_t *err);
/* The event object with "seq" and "received" added; NULL and err "not
 * found" (BW_DECLINED in *rc when rc is not NULL) when there is none. */
json_t *bw_store_get_event(bw_store_t *st, const char *id, int *rc, bw_err_t *err);

/* The dashboard's aggregates over [from, to):
 * {"buckets":[{"t":sec,"events":N,"detections":N}],  (bucket_s wide)
 *  "top_threats":[{"name":S,"count":N}], "top_clients":[...], "top_urls":[...],
 *  "by_component":[...], "totals":{"events":N,"detections":N}}.
 * Read from the rollups, never by scanning the events. */
json_t *bw_store_stats(bw_store_t *st, int64_t from_us, int64_t to_us, int bucket_s,
                       size_t top_n, bw_err_t *err);

/* Retention: deletes events older than max_age_s (0: no age limit), then
 * the oldest until at most max_events remain (0: no count limit).
 * *deleted gets how many went. */
int bw_store_retain(bw_store_t *st, int64_t max_age_s, int64_t max_events, int64_t *deleted,
                    bw_err_t *err);
int64_t bw_store_event_count(bw_store_t *st);

/* ---- nodes and enrolment ------------------------------------------------- */

/* A one-time enrolment token for group `grp`, valid until expires_us.  Only
 * its SHA-256 is stored; the caller shows the token once. */
int bw_store_add_enroll_token(bw_store_t *st, const char *token_sha256_hex, const char *grp,
                              int64_t expires_us, bw_err_t *err);
/* Uses the token (once: a second use fails) and registers node `name`
 * with credential hash `cred_sha256_hex`.  BW_DECLINED for an unknown,
 * used or expired token, or a name already enrolled and not revoked.
 * *node_id (caller frees) gets the new node's id. */
int bw_store_enroll(bw_store_t *st, const char *token_sha256_hex, const char *name,
                    const char *cred_sha256_hex, char **node_id, bw_err_t *err);
/* The node a credential belongs to: BW_OK and its id and name (caller
 * frees), BW_DECLINED when unknown or revoked. */
int bw_store_node_auth(bw_store_t *st, const char *cred_sha256_hex, char **node_id,
                       char **name, bw_err_t *err);
/* Heartbeat: last_seen = now and the node's report (an object with
 * version, db_version, db_time, health, backlog, dropped, components,
 * policy_version, policy_status, policy_error). */
int bw_store_node_seen(bw_store_t *st, const char *node_id, json_t *report, bw_err_t *err);
/* [{"id","name","group","enrolled","last_seen","revoked",...report fields}] */
json_t *bw_store_nodes(bw_store_t *st, bw_err_t *err);
json_t *bw_store_node(bw_store_t *st, const char *node_id, bw_err_t *err); /* NULL: none */
int bw_store_node_set_group(bw_store_t *st, const char *node_id, const char *grp, bw_err_t *err);
int bw_store_node_revoke(bw_store_t *st, const char *node_id, bw_err_t *err);

/* ---- tasks ---------------------------------------------------------------- */

/* Queues a task of `type` with `args` (an object) for one node.  *task_id
 * gets its id. */
int bw_store_add_task(bw_store_t *st, const char *node_id, const char *type, json_t *args,
                      const char *created_by, int64_t *task_id, bw_err_t *err);
/* The node's queued tasks, marked "sent": [{"id","type","args","created"}]. */
json_t *bw_store_take_tasks(bw_store_t *st, const char *node_id, bw_err_t *err);
/* The node reports a result: state "done" or "failed" and a message.
 * BW_DECLINED when the task is not this node's. */
int bw_store_task_result(bw_store_t *st, const char *node_id, int64_t task_id,
                         const char *state, const char *message, bw_err_t *err);
/* [{"id","node","node_name","type","args","state","result","created","updated",
 *   "created_by"}], newest first, at most limit, optionally one node's. */
json_t *bw_store_tasks(bw_store_t *st, const char *node_id, size_t limit, bw_err_t *err);

/* ---- policies ------------------------------------------------------------- */

/* Sets group grp's policy (bulwark.conf fragment text); the version goes up
 * by one.  *version gets the new version. */
int bw_store_set_policy(bw_store_t *st, const char *grp, const char *conf, const char *by,
                        int64_t *version, bw_err_t *err);
/* {"group","version","conf","updated","updated_by"}, or NULL when the group
 * has none (err empty) or on error (err set). */
json_t *bw_store_policy(bw_store_t *st, const char *grp, bw_err_t *err);
json_t *bw_store_policies(bw_store_t *st, bw_err_t *err);

/* ---- users, sessions and lock-out ---------------------------------------- */

/* role: "admin" or "viewer"; pwhash: the encoded Argon2id string. */
int bw_store_add_user(bw_store_t *st, const char *name, const char *role, const char *pwhash,
                      bw_err_t *err);
int bw_store_set_password(bw_store_t *st, const char *name, const char *pwhash, bw_err_t *err);
int bw_store_delete_user(bw_store_t *st, const char *name, bw_err_t *err);
int64_t bw_store_user_count(bw_store_t *st);
/* {"name","role","pwhash","failures","locked_until"} or NULL (no such user). */
json_t *bw_store_user(bw_store_t *st, const char *name, bw_err_t *err);
json_t *bw_store_users(bw_store_t *st, bw_err_t *err); /* without pwhash */
/* After a failed sign-in: failures + 1, and locked_until = until_us when
 * the count reaches `threshold`.  After a good one: failures = 0. */
int bw_store_login_failed(bw_store_t *st, const char *name, int threshold, int64_t until_us,
                          bw_err_t *err);
int bw_store_login_ok(bw_store_t *st, const char *name, bw_err_t *err);

/* Sessions by the SHA-256 of their token. */
int bw_store_add_session(bw_store_t *st, const char *token_sha256_hex, const char *user,
                         const char *csrf, int64_t expires_us, bw_err_t *err);
/* {"user","role","csrf","expires"} for a live session, else NULL. */
json_t *bw_store_session(bw_store_t *st, const char *token_sha256_hex, bw_err_t *err);
int bw_store_delete_session(bw_store_t *st, const char *token_sha256_hex, bw_err_t *err);

#endif
