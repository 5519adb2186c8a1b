/* SPDX-License-Identifier: Apache-2.0 */
/* The PostgreSQL engine of the console's store (libpq).
 *
 * Every statement is PQexecParams: the SQL text is fixed (or assembled from
 * fixed pieces, store-events.c) and every value travels as a parameter,
 * typed bigint or text.  Each statement is a network round trip, so the
 * two bulk paths of ingestion are one statement each: the batch goes as
 * one JSON array parameter that json_to_recordset turns into rows
 * (INSERT ... SELECT ... ON CONFLICT (id) DO NOTHING RETURNING id tells
 * which ids were new), and the batch's summed rollup lines likewise.
 *
 * Ingestion takes a transaction-scoped advisory lock first: batches commit
 * in the order their seq values were drawn, so a reader following with
 * "seq > cursor" never skips a row that commits later with a smaller seq.
 * One insert statement of 500 rows holds it for milliseconds.
 *
 * A connection that broke (server restart) is reset before its next use. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/store-int.h"

#define OID_INT8 20
#define OID_TEXT 25
#define MAXP 512

static void pg_disconnect(void *conn)
{
    if (conn)
        PQfinish(conn);
}

static void pg_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg; /* "relation exists, skipping" and such: not for the console's log */
}

static int pg_connect(const char *url, void **out, bw_err_t *err)
{
    PGconn *c = PQconnectdb(url);
    if (!c)
        return bw_err_set(err, "postgresql: out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        /* The message names host and port; the URL may hold a password, so
         * it is not repeated. */
        bw_err_set(err, "postgresql: %s", PQerrorMessage(c));
        size_t n = strlen(err->msg);
        while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
            err->msg[--n] = 0;
        PQfinish(c);
        return BW_ERR;
    }
    PQsetNoticeProcessor(c, pg_notice, NULL);
    *out = c;
    return BW_OK;
}

static int pg_fail(PGconn *c, PGresult *res, bw_err_t *err)
{
    bw_err_set(err, "postgresql: %s", res ? PQresultErrorMessage(res) : PQerrorMessage(c));
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '\n' || err->msg[n - 1] == ' '))
        err->msg[--n] = 0;
    PQclear(res);
    return BW_ERR;
}

static void pg_ensure(PGconn *c)
{
    if (PQstatus(c) != CONNECTION_OK)
        PQreset(c);
}

static int pg_script(void *conn, const char *sql, bw_err_t *err)
{
    PGconn *c = conn;
    pg_ensure(c);
    PGresult *res = PQexec(c, sql);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return pg_fail(c, res, err);
    PQclear(res);
    return BW_OK;
}

/* ?N -> $N (the placeholders store.c writes; none sits inside a literal). */
static char *pg_sql(const char *sql)
{
    char *s = strdup(sql);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        if (*p == '?' && p[1] >= '0' && p[1] <= '9')
            *p = '$';
    return s;
}

static int pg_exec(void *conn, const char *sql, const bw_sqlv_t *p, int np, bw_rows_t *out,
                   bw_err_t *err)
{
    PGconn *c = conn;
    if (np > MAXP)
        return bw_err_set(err, "postgresql: too many parameters");
    Oid types[MAXP];
    const char *vals[MAXP];
    char ints[MAXP][24];
    for (int i = 0; i < np; i++) {
        if (p[i].type == BW_SQLV_INT) {
            snprintf(ints[i], sizeof ints[i], "%lld", (long long)p[i].i);
            vals[i] = ints[i];
            types[i] = OID_INT8;
        } else if (p[i].type == BW_SQLV_TEXT) {
            vals[i] = p[i].s;
            types[i] = OID_TEXT;
        } else {
            vals[i] = NULL;
            types[i] = 0;
        }
    }
    char *q = pg_sql(sql);
    if (!q)
        return bw_err_set(err, "out of memory");
    pg_ensure(c);
    PGresult *res = PQexecParams(c, q, np, types, vals, NULL, NULL, 0);
    free(q);
    ExecStatusType s = PQresultStatus(res);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
        return pg_fail(c, res, err);
    if (out) {
        size_t nr = (size_t)PQntuples(res), nc = (size_t)PQnfields(res);
        out->nrows = nr;
        out->ncols = nc;
        size_t ncell = nr * nc;
        out->cell = ncell > 0 ? calloc(ncell, sizeof *out->cell) : NULL;
        if (ncell > 0 && !out->cell) {
            PQclear(res);
            out->nrows = 0;
            return bw_err_set(err, "out of memory");
        }
        for (size_t i = 0; i < nr; i++)
            for (size_t j = 0; j < nc; j++)
                if (!PQgetisnull(res, (int)i, (int)j))
                    out->cell[i * nc + j] = strdup(PQgetvalue(res, (int)i, (int)j));
        const char *ct = PQcmdTuples(res);
        out->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
    }
    PQclear(res);
    return BW_OK;
}

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static int pg_insert_events(void *conn, const bw_store_event_t *ev, char *const *ftext, size_t n,
                            int64_t now_us, unsigned char *inserted, bw_err_t *err)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        const bw_store_event_t *e = &ev[i];
        json_t *js = json_stringn(e->json, e->json_len ? e->json_len : strlen(e->json));
        json_t *o = json_object();
        json_object_set_new(o, "id", jstr(e->id));
        json_object_set_new(o, "time", json_integer(e->time_us));
        json_object_set_new(o, "node", jstr(e->node));
        json_object_set_new(o, "component", jstr(e->component));
        json_object_set_new(o, "type", jstr(e->type));
        json_object_set_new(o, "severity", json_integer(e->severity));
        json_object_set_new(o, "threat", jstr(e->threat));
        json_object_set_new(o, "client", jstr(e->client));
        json_object_set_new(o, "usr", jstr(e->user));
        json_object_set_new(o, "object", jstr(e->object));
        json_object_set_new(o, "action", jstr(e->action));
        json_object_set_new(o, "verdict", jstr(e->verdict));
        json_object_set_new(o, "ftext", jstr(ftext[i]));
        json_object_set_new(o, "json", js ? js : json_null());
        json_object_set_new(o, "o", json_integer((json_int_t)i)); /* seq follows the batch order */
        json_array_append_new(a, o);
        if (!js) {
            json_decref(a);
            return bw_err_set(err, "event %zu (%s): not valid UTF-8", i, e->id);
        }
    }
    char *txt = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    if (!txt)
        return bw_err_set(err, "out of memory (or a field not valid UTF-8)");
    bw_sqlv_t p[2] = { SQLV_S(txt), SQLV_I(now_us) };
    bw_rows_t r = { 0 };
    int rc = pg_exec(conn, "SELECT pg_advisory_xact_lock(4242002)", NULL, 0, NULL, err);
    if (rc == BW_OK)
        rc = pg_exec(conn, "INSERT INTO events (id, time, received, node, component, type, severity, "
                     "threat, client, usr, object, action, verdict, ftext, json) SELECT x.id, x.time, ?2, "
                     "x.node, x.component, x.type, x.severity, x.threat, x.client, x.usr, x.object, "
                     "x.action, x.verdict, x.ftext, x.json FROM json_to_recordset(?1::json) "
                     "AS x(id text, time bigint, node text, component text, type text, "
                     "severity int, threat text, client text, usr text, object text, action text, "
                     "verdict text, ftext text, json text, o bigint) ORDER BY x.o "
                     "ON CONFLICT (id) DO NOTHING RETURNING id", p, 2, &r, err);
    free(txt);
    if (rc != BW_OK)
        return rc;
    /* Which were new: the first occurrence of each returned id (a batch may
     * hold one id twice; the second is then a duplicate). */
    json_t *ids = json_object();
    for (size_t i = 0; i < r.nrows; i++)
        json_object_set_new(ids, bw_rows_get(&r, i, 0), json_true());
    for (size_t i = 0; i < n; i++) {
        inserted[i] = json_object_get(ids, ev[i].id) != NULL;
        if (inserted[i])
            json_object_del(ids, ev[i].id);
    }
    json_decref(ids);
    bw_rows_free(&r);
    return BW_OK;
}

static int pg_upsert_rollups(void *conn, const bw_rollup_t *r, size_t n, bw_err_t *err)
{
    for (int day = 0; day < 2; day++) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            if (r[i].day == day)
                json_array_append_new(a, json_pack("{s:i,s:I,s:s,s:I,s:I}", "dim", r[i].dim, "t",
                                                   (json_int_t)r[i].t, "key", r[i].key, "ev",
                                                   (json_int_t)r[i].events, "det",
                                                   (json_int_t)r[i].detections));
        char *txt = json_array_size(a) ? json_dumps(a, JSON_COMPACT) : NULL;
        size_t cnt = json_array_size(a);
        json_decref(a);
        if (!cnt)
            continue;
        if (!txt)
            return bw_err_set(err, "out of memory");
        bw_sqlv_t p[1] = { SQLV_S(txt) };
        int rc = pg_exec(conn, day
            ? "INSERT INTO rollup_d (dim, t, key, events, detections) SELECT x.dim, x.t, x.key, x.ev, "
              "x.det FROM json_to_recordset(?1::json) AS x(dim int, t bigint, key text, ev bigint, "
              "det bigint) ON CONFLICT (dim, key, t) DO UPDATE SET events = rollup_d.events + "
              "excluded.events, detections = rollup_d.detections + excluded.detections"
            : "INSERT INTO rollup_h (dim, t, key, events, detections) SELECT x.dim, x.t, x.key, x.ev, "
              "x.det FROM json_to_recordset(?1::json) AS x(dim int, t bigint, key text, ev bigint, "
              "det bigint) ON CONFLICT (dim, key, t) DO UPDATE SET events = rollup_h.events + "
              "excluded.events, detections = rollup_h.detections + excluded.detections",
            p, 1, NULL, err);
        free(txt);
        if (rc != BW_OK)
            return bw_err_prefix(err, "rollup");
    }
    return BW_OK;
}

/* Version 1.  pg_trgm is a trusted extension (PostgreSQL 13+): the owner
 * of the database may create it, no superuser needed.  Its GIN indexes
 * answer ILIKE '%...%' on the free text and on the threat name. */
static const char pg_v1[] =
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    "CREATE TABLE events (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "  id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64), time BIGINT NOT NULL, "
    "  received BIGINT NOT NULL, node TEXT, component TEXT, type TEXT, "
    "  severity INTEGER CHECK (severity BETWEEN 0 AND 5), threat TEXT, client TEXT, usr TEXT, object TEXT, "
    "  action TEXT, verdict TEXT, ftext TEXT, json TEXT NOT NULL);\n"
    "CREATE INDEX events_time ON events (time);\n"
    "CREATE INDEX events_node ON events (node, seq);\n"
    "CREATE INDEX events_client ON events (client, seq);\n"
    "CREATE INDEX events_type ON events (type, seq);\n"
    "CREATE INDEX events_ftext ON events USING gin (ftext gin_trgm_ops);\n"
    "CREATE INDEX events_threat ON events USING gin (threat gin_trgm_ops);\n"
    "CREATE TABLE rollup_h (dim INTEGER NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, "
    "  events BIGINT NOT NULL, detections BIGINT NOT NULL, PRIMARY KEY (dim, key, t));\n"
    "CREATE TABLE rollup_d (dim INTEGER NOT NULL, key TEXT NOT NULL, t BIGINT NOT NULL, "
    "  events BIGINT NOT NULL, detections BIGINT NOT NULL, PRIMARY KEY (dim, key, t));\n"
    "CREATE TABLE tasks (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, node_id TEXT NOT NULL, "
    "  type TEXT NOT NULL, args TEXT NOT NULL, state TEXT NOT NULL, result TEXT, created BIGINT NOT NULL, "
    "  updated BIGINT NOT NULL, created_by TEXT);\n";

static const struct bw_migration pg_migrations[] = {
    { { pg_v1, bw_store_schema_common_v1, NULL } },
};

const bw_store_ops_t bw_store_pg_ops = {
    .kind = "postgresql",
    .pg = 1,
    .pool_size = 4,
    .begin_write = "BEGIN",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .script = pg_script,
    .insert_events = pg_insert_events,
    .upsert_rollups = pg_upsert_rollups,
    .migrations = pg_migrations,
    .nmigrations = 1,
};
