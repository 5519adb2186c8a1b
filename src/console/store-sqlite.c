/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite engine of the console's store (the embedded default).
 *
 * WAL journal with synchronous=NORMAL: a commit is one append to the WAL
 * without an fsync, durable against a crash of the console process; after
 * a power loss or kernel crash the last commits (already acknowledged to
 * the nodes) can be lost: the documented price of ingestion speed
 * (docs/console-storage.md; PostgreSQL is the choice when that matters).  Readers never wait for the writer; writers
 * queue on SQLite's lock with a 30 s busy timeout, and take it at BEGIN
 * (BEGIN IMMEDIATE) so two writers never deadlock upgrading a read lock.
 *
 * Each connection keeps its prepared statements in a small cache keyed by
 * the SQL text, so the hot statements (event insert, rollup upsert, the
 * common queries) are parsed once per connection. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/store-int.h"

#define STMT_CACHE 48

typedef struct sq_conn {
    sqlite3 *db;
    struct { char *sql; sqlite3_stmt *st; } cache[STMT_CACHE];
    unsigned next;
} sq_conn_t;

static int sq_err(sq_conn_t *c, bw_err_t *err, const char *what)
{
    return bw_err_set(err, "sqlite: %s: %s", what, sqlite3_errmsg(c->db));
}

static int sq_script(void *conn, const char *sql, bw_err_t *err)
{
    sq_conn_t *c = conn;
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bw_err_set(err, "sqlite: %s", msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return BW_ERR;
    }
    return BW_OK;
}

static void sq_disconnect(void *conn)
{
    sq_conn_t *c = conn;
    if (!c)
        return;
    for (int i = 0; i < STMT_CACHE; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    sqlite3_close(c->db);
    free(c);
}

static int sq_connect(const char *url, void **out, bw_err_t *err)
{
    const char *path = !strncmp(url, "sqlite:", 7) ? url + 7 : url;
    /* "sqlite:///abs/path" too: the URL form some users write. */
    if (!strncmp(path, "//", 2))
        path += 2;
    if (!*path)
        return bw_err_set(err, "DatabaseUrl %s: no file", url);
    sq_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return bw_err_set(err, "out of memory");
    int rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        bw_err_set(err, "sqlite %s: %s", path, c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sq_disconnect(c);
        return BW_ERR;
    }
    sqlite3_busy_timeout(c->db, 30000);
    if (sq_script(c, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                     "PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY; "
                     "PRAGMA mmap_size = 268435456; PRAGMA foreign_keys = OFF; "
                     "PRAGMA analysis_limit = 1000;", err) != BW_OK) {
        bw_err_prefix(err, "%s", path);
        sq_disconnect(c);
        return BW_ERR;
    }
    *out = c;
    return BW_OK;
}

static sqlite3_stmt *sq_prepare(sq_conn_t *c, const char *sql, bw_err_t *err)
{
    for (int i = 0; i < STMT_CACHE; i++)
        if (c->cache[i].sql && !strcmp(c->cache[i].sql, sql))
            return c->cache[i].st;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        sq_err(c, err, "prepare");
        return NULL;
    }
    char *copy = strdup(sql);
    if (!copy) {
        sqlite3_finalize(st);
        bw_err_set(err, "out of memory");
        return NULL;
    }
    unsigned i = c->next++ % STMT_CACHE;
    sqlite3_finalize(c->cache[i].st);
    free(c->cache[i].sql);
    c->cache[i].sql = copy;
    c->cache[i].st = st;
    return st;
}

static int sq_exec(void *conn, const char *sql, const bw_sqlv_t *p, int np, bw_rows_t *out,
                   bw_err_t *err)
{
    sq_conn_t *c = conn;
    sqlite3_stmt *st = sq_prepare(c, sql, err);
    if (!st)
        return BW_ERR;
    int rc = BW_OK;
    for (int i = 0; i < np; i++) {
        int r;
        if (p[i].type == BW_SQLV_INT)
            r = sqlite3_bind_int64(st, i + 1, p[i].i);
        else if (p[i].type == BW_SQLV_TEXT)
            r = sqlite3_bind_text(st, i + 1, p[i].s, p[i].i > 0 ? (int)p[i].i : -1, SQLITE_STATIC);
        else
            r = sqlite3_bind_null(st, i + 1);
        if (r != SQLITE_OK) {
            rc = sq_err(c, err, "bind");
            goto done;
        }
    }
    size_t cap = 0;
    int ncol = sqlite3_column_count(st);
    for (;;) {
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = sq_err(c, err, "step");
            goto done;
        }
        if (!out)
            continue;
        out->ncols = (size_t)ncol;
        if ((out->nrows + 1) * out->ncols > cap) {
            size_t ncap = cap ? cap * 2 : 16 * out->ncols;
            char **n = realloc(out->cell, ncap * sizeof *n);
            if (!n) {
                rc = bw_err_set(err, "out of memory");
                goto done;
            }
            out->cell = n;
            cap = ncap;
        }
        char **row = out->cell + out->nrows * out->ncols;
        for (int j = 0; j < ncol; j++) {
            if (sqlite3_column_type(st, j) == SQLITE_NULL) {
                row[j] = NULL;
            } else {
                const char *t = (const char *)sqlite3_column_text(st, j);
                row[j] = strdup(t ? t : "");
            }
        }
        out->nrows++;
    }
    if (out && !sqlite3_stmt_readonly(st))
        out->changes = sqlite3_changes(c->db);
done:
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != BW_OK && out)
        bw_rows_free(out);
    return rc;
}

static int sq_insert_events(void *conn, const bw_store_event_t *ev, char *const *ftext, size_t n,
                            int64_t now_us, unsigned char *inserted, bw_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        const bw_store_event_t *e = &ev[i];
        bw_sqlv_t p[14] = { SQLV_S(e->id), SQLV_I(e->time_us), SQLV_I(now_us), SQLV_S(e->node),
                            SQLV_S(e->component), SQLV_S(e->type), SQLV_I(e->severity),
                            SQLV_S(e->threat), SQLV_S(e->client), SQLV_S(e->user), SQLV_S(e->object),
                            SQLV_S(e->action), SQLV_S(e->verdict), SQLV_S(e->json) };
        p[13].i = e->json_len > 0 && e->json_len < (1u << 30) ? (int64_t)e->json_len : 0;
        bw_rows_t r = { 0 };
        if (sq_exec(conn, "INSERT INTO events (id, time, received, node, component, type, severity, "
                    "threat, client, usr, object, action, verdict, json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                    "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) ON CONFLICT (id) DO NOTHING RETURNING seq", p,
                    14, &r, err) != BW_OK)
            return bw_err_prefix(err, "event %zu (%s)", i, e->id);
        inserted[i] = r.nrows > 0;
        int64_t seq = r.nrows ? bw_rows_int(&r, 0, 0) : 0;
        bw_rows_free(&r);
        if (!inserted[i])
            continue;
        bw_sqlv_t q[2] = { SQLV_I(seq), SQLV_S(ftext[i]) };
        if (sq_exec(conn, "INSERT INTO events_fts (rowid, body) VALUES (?1, ?2)", q, 2, NULL, err) != BW_OK)
            return bw_err_prefix(err, "event %zu (%s): free-text index", i, e->id);
        /* Only events with a threat have a row in the threat's index. */
        if (!e->threat || !*e->threat)
            continue;
        q[1] = SQLV_S(e->threat);
        if (sq_exec(conn, "INSERT INTO events_th (rowid, threat) VALUES (?1, ?2)", q, 2, NULL, err) != BW_OK)
            return bw_err_prefix(err, "event %zu (%s): threat index", i, e->id);
    }
    return BW_OK;
}

static int sq_upsert_rollups(void *conn, const bw_rollup_t *r, size_t n, bw_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        bw_sqlv_t p[5] = { SQLV_I(r[i].dim), SQLV_I(r[i].t), SQLV_S(r[i].key), SQLV_I(r[i].events),
                           SQLV_I(r[i].detections) };
        const char *sql = r[i].day
            ? "INSERT INTO rollup_d (dim, t, key, events, detections) VALUES (?1, ?2, ?3, ?4, ?5) "
              "ON CONFLICT (dim, key, t) DO UPDATE SET events = rollup_d.events + excluded.events, "
              "detections = rollup_d.detections + excluded.detections"
            : "INSERT INTO rollup_h (dim, t, key, events, detections) VALUES (?1, ?2, ?3, ?4, ?5) "
              "ON CONFLICT (dim, key, t) DO UPDATE SET events = rollup_h.events + excluded.events, "
              "detections = rollup_h.detections + excluded.detections";
        if (sq_exec(conn, sql, p, 5, NULL, err) != BW_OK)
            return bw_err_prefix(err, "rollup");
    }
    return BW_OK;
}

/* Version 1.  seq is AUTOINCREMENT: never reused, even after every event
 * was purged, so a client's cursor never points at a different event.
 * The indexes on node, client and type end in the rowid (seq), so a page
 * filtered by one of them walks the index in seq order and stops at the
 * limit.  The free-text table holds only the searchable text, detail=none
 * (no positions: the trigram LIKE query needs none, and it is 3-4 times
 * smaller than detail=full). */
static const char sq_v1[] =
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE "
    "  CHECK (length(id) BETWEEN 1 AND 64), time BIGINT NOT NULL, received BIGINT NOT NULL, node TEXT, "
    "  component TEXT, type TEXT, severity INTEGER CHECK (severity BETWEEN 0 AND 5), threat TEXT, client TEXT, usr TEXT, object TEXT, action TEXT, verdict TEXT, "
    "  json TEXT NOT NULL);\n"
    "CREATE INDEX events_time ON events (time);\n"
    "CREATE INDEX events_node ON events (node);\n"
    "CREATE INDEX events_client ON events (client);\n"
    "CREATE INDEX events_type ON events (type);\n"
    "CREATE VIRTUAL TABLE events_fts USING fts5 (threat, body, tokenize = 'trigram', detail = 'none', columnsize = 0);\n"
    "CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN "
    "  DELETE FROM events_fts WHERE rowid = old.seq; END;\n"
    /* Rollups (store-events.c): keyed by (dim, key, t), so one key's
     * counts over a range are one index range; WITHOUT ROWID: the key is
     * the table. */
    "CREATE TABLE rollup_h (dim INTEGER NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, "
    "  events BIGINT NOT NULL, detections BIGINT NOT NULL, PRIMARY KEY (dim, key, t)) WITHOUT ROWID;\n"
    "CREATE TABLE rollup_d (dim INTEGER NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, "
    "  events BIGINT NOT NULL, detections BIGINT NOT NULL, PRIMARY KEY (dim, key, t)) WITHOUT ROWID;\n"
    "CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, node_id TEXT NOT NULL, type TEXT NOT NULL, "
    "  args TEXT NOT NULL, state TEXT NOT NULL, result TEXT, created BIGINT NOT NULL, "
    "  updated BIGINT NOT NULL, created_by TEXT);\n";

/* Version 2: free text by words instead of trigrams (docs/console-storage.md,
 * "Free text").  The trigram index of the searchable text was more than
 * half of the cost of storing an event (about 60 trigrams per event against
 * 8 words); substring search stays where it is cheap and expected, the
 * threat filter: events_th holds the threat names alone (only the events
 * that have one), trigram-indexed.  The `ascii` tokenizer: a word is a run
 * of ASCII letters and digits and of any non-ASCII characters; every other
 * ASCII character separates words; ASCII case is folded.  The query side
 * (store-events.c, text_match) splits the user's text by the same rule, so
 * a query never becomes an FTS5 phrase (detail=none has no positions).
 * Existing events are indexed again from their JSON, with the same values
 * bw_store_ftext takes (json_tree: every string but the skipped keys; its
 * columns are qualified, as json_tree has columns named json and type too). */
static const char sq_v2[] =
    "DROP TRIGGER events_fts_delete;\n"
    "DROP TABLE events_fts;\n"
    "CREATE VIRTUAL TABLE events_fts USING fts5 (body, tokenize = 'ascii', detail = 'none', columnsize = 0);\n"
    "CREATE VIRTUAL TABLE events_th USING fts5 (threat, tokenize = 'trigram', detail = 'none', columnsize = 0);\n"
    "INSERT INTO events_fts (rowid, body) SELECT e.seq, (SELECT group_concat(j.value, ' ') "
    "  FROM json_tree(e.json) j WHERE j.type = 'text' AND NOT (j.path = '$' AND j.key IN ('id', 'time', "
    "  'component', 'severity', 'verdict', 'action', 'method')) "
    "  AND (j.key IS NULL OR j.key NOT IN ('sha256', 'group', 'size'))) FROM events e;\n"
    "INSERT INTO events_th (rowid, threat) SELECT seq, threat FROM events WHERE threat <> '';\n"
    "CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN "
    "  DELETE FROM events_fts WHERE rowid = old.seq; DELETE FROM events_th WHERE rowid = old.seq; END;\n";

static const struct bw_migration sq_migrations[] = {
    { { sq_v1, bw_store_schema_common_v1, NULL } },
    { { sq_v2, NULL } },
};

const bw_store_ops_t bw_store_sqlite_ops = {
    .kind = "sqlite",
    .pg = 0,
    .pool_size = 8,
    .begin_write = "BEGIN IMMEDIATE",
    .serialize_writes = 1,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .exec = sq_exec,
    .script = sq_script,
    .insert_events = sq_insert_events,
    .upsert_rollups = sq_upsert_rollups,
    .migrations = sq_migrations,
    .nmigrations = 2,
};
