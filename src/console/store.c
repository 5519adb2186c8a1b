/* SPDX-License-Identifier: Apache-2.0 */
/* The console's storage, engine-neutral part: opening by URL, the
 * connection pool, schema migrations, and everything but the events
 * (nodes, enrolment, tasks, policies, users, sessions) written once in SQL
 * both engines understand (store-int.h says how).
 *
 * The pool: a fixed number of connections made at open, handed out one per
 * call.  SQLite runs in WAL mode, so readers on their own connections never
 * wait for the writer, and writers queue on SQLite's lock (busy timeout);
 * PostgreSQL gets a handful of connections, enough for the HTTP server's
 * thread pool without loading the server with idle backends. */
#include "console/store-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bulwark/core.h"

void bw_rows_free(bw_rows_t *r)
{
    if (!r || !r->cell)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cell[i]);
    free(r->cell);
    r->cell = NULL;
    r->nrows = r->ncols = 0;
}

int64_t bw_rows_int(const bw_rows_t *r, size_t row, size_t col)
{
    const char *s = bw_rows_get(r, row, col);
    return s ? strtoll(s, NULL, 10) : 0;
}

int64_t bw_store_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int bw_store_random_hex(char out[33], bw_err_t *err)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return bw_err_set(err, "getrandom: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return BW_OK;
}

void *bw_store_conn(bw_store_t *st)
{
    pthread_mutex_lock(&st->mu);
    while (st->nidle == 0)
        pthread_cond_wait(&st->cv, &st->mu);
    void *c = st->idle[--st->nidle];
    pthread_mutex_unlock(&st->mu);
    return c;
}

void bw_store_release(bw_store_t *st, void *c)
{
    pthread_mutex_lock(&st->mu);
    st->idle[st->nidle++] = c;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

int bw_store_exec(bw_store_t *st, void *c, const char *sql, const bw_sqlv_t *p, int np,
                  bw_rows_t *out, bw_err_t *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (c)
        return st->ops->exec(c, sql, p, np, out, err);
    void *own = bw_store_conn(st);
    int rc = st->ops->exec(own, sql, p, np, out, err);
    bw_store_release(st, own);
    return rc;
}

/* Applies the migrations the database has not seen, in order, each in its
 * own transaction with its version row, so a crash leaves a whole version. */
static int migrate(bw_store_t *st, void *c, bw_err_t *err)
{
    const bw_store_ops_t *o = st->ops;
    if (o->script(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                     "applied BIGINT NOT NULL)", err) != BW_OK)
        return bw_err_prefix(err, "schema_version");
    for (;;) {
        if (o->exec(c, o->begin_write, NULL, 0, NULL, err) != BW_OK)
            return BW_ERR;
        /* PostgreSQL: two consoles starting at once migrate one after the other. */
        if (o->pg && o->exec(c, "SELECT pg_advisory_xact_lock(4242001)", NULL, 0, NULL, err) != BW_OK)
            goto fail;
        bw_rows_t r = { 0 };
        if (o->exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_version", NULL, 0, &r, err) != BW_OK)
            goto fail;
        int v = (int)bw_rows_int(&r, 0, 0);
        bw_rows_free(&r);
        if (v > o->nmigrations) {
            o->exec(c, "ROLLBACK", NULL, 0, NULL, NULL);
            return bw_err_set(err, "database schema version %d is newer than this console's (%d)", v,
                              o->nmigrations);
        }
        if (v == o->nmigrations) {
            st->version = v;
            return o->exec(c, "COMMIT", NULL, 0, NULL, err);
        }
        for (int k = 0; k < 4 && o->migrations[v].script[k]; k++)
            if (o->script(c, o->migrations[v].script[k], err) != BW_OK) {
                bw_err_prefix(err, "migration to schema version %d", v + 1);
                goto fail;
            }
        bw_sqlv_t p[2] = { SQLV_I(v + 1), SQLV_I(bw_store_now_us()) };
        if (o->exec(c, "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)", p, 2, NULL,
                    err) != BW_OK
            || o->exec(c, "COMMIT", NULL, 0, NULL, err) != BW_OK)
            goto fail;
    }
fail:
    o->exec(c, "ROLLBACK", NULL, 0, NULL, NULL);
    return BW_ERR;
}

int bw_store_open(const char *url, bw_store_t **out, bw_err_t *err)
{
    *out = NULL;
    const bw_store_ops_t *ops = &bw_store_sqlite_ops;
    if (!url || !*url)
        return bw_err_set(err, "DatabaseUrl: empty");
    if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11))
        ops = &bw_store_pg_ops;
    else if (strstr(url, "://"))
        return bw_err_set(err, "DatabaseUrl %s: unknown scheme (sqlite:PATH, PATH or postgresql://...)", url);
    bw_store_t *st = calloc(1, sizeof *st);
    if (!st)
        return bw_err_set(err, "out of memory");
    st->ops = ops;
    st->url = strdup(url);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    pthread_mutex_init(&st->wmu, NULL);
    st->conns = calloc(ops->pool_size, sizeof *st->conns);
    st->idle = calloc(ops->pool_size, sizeof *st->idle);
    if (!st->url || !st->conns || !st->idle) {
        bw_store_close(st);
        return bw_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < ops->pool_size; i++) {
        if (ops->connect(url, &st->conns[i], err) != BW_OK) {
            bw_store_close(st);
            return BW_ERR;
        }
        st->nconns++;
        /* Migrate on the first connection before the others exist, so they
         * all see the current schema (SQLite caches it per connection). */
        if (i == 0 && migrate(st, st->conns[0], err) != BW_OK) {
            bw_store_close(st);
            return BW_ERR;
        }
        st->idle[st->nidle++] = st->conns[i];
    }
    *out = st;
    return BW_OK;
}

void bw_store_close(bw_store_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nconns; i++)
        st->ops->disconnect(st->conns[i]);
    free(st->conns);
    free(st->idle);
    free(st->url);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->wmu);
    free(st);
}

const char *bw_store_kind(const bw_store_t *st) { return st->ops->kind; }
int bw_store_schema_version(bw_store_t *st) { return st->version; }

/* ---- small helpers ------------------------------------------------------- */

/* One value of the first row, strdup'd; NULL when there is no row. */
static int query_one(bw_store_t *st, const char *sql, const bw_sqlv_t *p, int np, int64_t *iv,
                     bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, sql, p, np, &r, err) != BW_OK)
        return BW_ERR;
    int found = r.nrows > 0;
    if (found && iv)
        *iv = bw_rows_int(&r, 0, 0);
    bw_rows_free(&r);
    return found ? BW_OK : BW_DECLINED;
}

static json_t *jstr_or_null(const char *s) { return s ? json_string(s) : json_null(); }
static json_t *jint_or_null(const char *s) { return s ? json_integer(strtoll(s, NULL, 10)) : json_null(); }

/* One write in its own transaction on one connection. */
int bw_store_tx_begin(bw_store_t *st, void **c, bw_err_t *err)
{
    if (st->ops->serialize_writes)
        pthread_mutex_lock(&st->wmu);
    *c = bw_store_conn(st);
    if (st->ops->exec(*c, st->ops->begin_write, NULL, 0, NULL, err) != BW_OK) {
        bw_store_release(st, *c);
        if (st->ops->serialize_writes)
            pthread_mutex_unlock(&st->wmu);
        return BW_ERR;
    }
    return BW_OK;
}

int bw_store_tx_end(bw_store_t *st, void *c, int rc, bw_err_t *err)
{
    if (rc == BW_OK && st->ops->exec(c, "COMMIT", NULL, 0, NULL, err) != BW_OK)
        rc = BW_ERR;
    if (rc != BW_OK)
        st->ops->exec(c, "ROLLBACK", NULL, 0, NULL, NULL);
    bw_store_release(st, c);
    if (st->ops->serialize_writes)
        pthread_mutex_unlock(&st->wmu);
    return rc;
}

#define tx_begin bw_store_tx_begin
#define tx_end bw_store_tx_end

/* ---- nodes and enrolment --------------------------------------------------- */

int bw_store_add_enroll_token(bw_store_t *st, const char *hash, const char *grp, int64_t expires_us,
                              bw_err_t *err)
{
    bw_sqlv_t p[4] = { SQLV_S(hash), SQLV_S(grp ? grp : "default"), SQLV_I(expires_us),
                       SQLV_I(bw_store_now_us()) };
    return bw_store_exec(st, NULL, "INSERT INTO enroll_tokens (hash, grp, expires, created) "
                         "VALUES (?1, ?2, ?3, ?4)", p, 4, NULL, err);
}

int bw_store_enroll(bw_store_t *st, const char *token, const char *name, const char *cred,
                    char **node_id, bw_err_t *err)
{
    *node_id = NULL;
    char id[33];
    if (bw_store_random_hex(id, err) != BW_OK)
        return BW_ERR;
    void *c;
    if (tx_begin(st, &c, err) != BW_OK)
        return BW_ERR;
    int64_t now = bw_store_now_us();
    bw_rows_t r = { 0 };
    bw_sqlv_t p[4] = { SQLV_I(now), SQLV_S(id), SQLV_S(token), SQLV_NULL };
    int rc = st->ops->exec(c, "UPDATE enroll_tokens SET used = ?1, node_id = ?2 WHERE hash = ?3 "
                           "AND used IS NULL AND expires > ?1 RETURNING grp", p, 3, &r, err);
    if (rc == BW_OK && r.nrows == 0)
        rc = bw_err_set(err, "enrolment token unknown, used or expired"), rc = BW_DECLINED;
    char *grp = rc == BW_OK ? strdup(bw_rows_get(&r, 0, 0)) : NULL;
    bw_rows_free(&r);
    if (rc == BW_OK) {
        p[0] = SQLV_S(name);
        rc = st->ops->exec(c, "SELECT 1 FROM nodes WHERE name = ?1 AND revoked IS NULL", p, 1, &r, err);
        if (rc == BW_OK && r.nrows > 0)
            rc = bw_err_set(err, "node %s is already enrolled", name), rc = BW_DECLINED;
        bw_rows_free(&r);
    }
    if (rc == BW_OK) {
        bw_sqlv_t q[5] = { SQLV_S(id), SQLV_S(name), SQLV_S(grp), SQLV_S(cred), SQLV_I(now) };
        rc = st->ops->exec(c, "INSERT INTO nodes (id, name, grp, cred, enrolled) VALUES "
                           "(?1, ?2, ?3, ?4, ?5)", q, 5, NULL, err);
    }
    free(grp);
    rc = tx_end(st, c, rc, err);
    if (rc == BW_OK && !(*node_id = strdup(id)))
        return bw_err_set(err, "out of memory");
    return rc;
}

int bw_store_node_auth(bw_store_t *st, const char *cred, char **node_id, char **name, bw_err_t *err)
{
    *node_id = *name = NULL;
    bw_rows_t r;
    bw_sqlv_t p[1] = { SQLV_S(cred) };
    if (bw_store_exec(st, NULL, "SELECT id, name FROM nodes WHERE cred = ?1 AND revoked IS NULL", p,
                      1, &r, err) != BW_OK)
        return BW_ERR;
    int rc = BW_DECLINED;
    if (r.nrows) {
        *node_id = strdup(bw_rows_get(&r, 0, 0));
        *name = strdup(bw_rows_get(&r, 0, 1));
        rc = BW_OK;
        if (!*node_id || !*name) {
            free(*node_id), free(*name);
            *node_id = *name = NULL;
            rc = bw_err_set(err, "out of memory");
        }
    }
    bw_rows_free(&r);
    return rc;
}

int bw_store_node_seen(bw_store_t *st, const char *node_id, json_t *report, bw_err_t *err)
{
    char *txt = report ? json_dumps(report, JSON_COMPACT) : NULL;
    bw_sqlv_t p[3] = { SQLV_I(bw_store_now_us()), SQLV_S(txt), SQLV_S(node_id) };
    bw_rows_t r;
    int rc = bw_store_exec(st, NULL, "UPDATE nodes SET last_seen = ?1, report = COALESCE(?2, report) "
                           "WHERE id = ?3", p, 3, &r, err);
    free(txt);
    if (rc == BW_OK && r.changes == 0)
        rc = bw_err_set(err, "node %s: not found", node_id), rc = BW_DECLINED;
    return rc;
}

#define NODE_COLS "id, name, grp, enrolled, last_seen, revoked, report"

static json_t *node_json(const bw_rows_t *r, size_t i)
{
    json_t *o = json_object();
    /* The report's fields first, so they can never shadow ours. */
    const char *rep = bw_rows_get(r, i, 6);
    json_t *rj = rep ? json_loads(rep, 0, NULL) : NULL;
    if (json_is_object(rj))
        json_object_update(o, rj);
    json_decref(rj);
    json_object_set_new(o, "id", json_string(bw_rows_get(r, i, 0)));
    json_object_set_new(o, "name", json_string(bw_rows_get(r, i, 1)));
    json_object_set_new(o, "group", json_string(bw_rows_get(r, i, 2)));
    json_object_set_new(o, "enrolled", jint_or_null(bw_rows_get(r, i, 3)));
    json_object_set_new(o, "last_seen", jint_or_null(bw_rows_get(r, i, 4)));
    json_object_set_new(o, "revoked", jint_or_null(bw_rows_get(r, i, 5)));
    return o;
}

json_t *bw_store_nodes(bw_store_t *st, bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, "SELECT " NODE_COLS " FROM nodes ORDER BY name, enrolled", NULL, 0, &r,
                      err) != BW_OK)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < r.nrows; i++)
        json_array_append_new(a, node_json(&r, i));
    bw_rows_free(&r);
    return a;
}

json_t *bw_store_node(bw_store_t *st, const char *node_id, bw_err_t *err)
{
    bw_rows_t r;
    bw_sqlv_t p[1] = { SQLV_S(node_id) };
    err->msg[0] = 0;
    if (bw_store_exec(st, NULL, "SELECT " NODE_COLS " FROM nodes WHERE id = ?1", p, 1, &r, err) != BW_OK)
        return NULL;
    json_t *o = r.nrows ? node_json(&r, 0) : NULL;
    bw_rows_free(&r);
    return o;
}

static int update_node(bw_store_t *st, const char *sql, const bw_sqlv_t *p, int np, const char *id,
                       bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, sql, p, np, &r, err) != BW_OK)
        return BW_ERR;
    if (r.changes == 0)
        return bw_err_set(err, "node %s: not found", id), BW_DECLINED;
    return BW_OK;
}

int bw_store_node_set_group(bw_store_t *st, const char *node_id, const char *grp, bw_err_t *err)
{
    bw_sqlv_t p[2] = { SQLV_S(grp), SQLV_S(node_id) };
    return update_node(st, "UPDATE nodes SET grp = ?1 WHERE id = ?2", p, 2, node_id, err);
}

int bw_store_node_revoke(bw_store_t *st, const char *node_id, bw_err_t *err)
{
    bw_sqlv_t p[2] = { SQLV_I(bw_store_now_us()), SQLV_S(node_id) };
    return update_node(st, "UPDATE nodes SET revoked = COALESCE(revoked, ?1) WHERE id = ?2", p, 2,
                       node_id, err);
}

/* ---- tasks ------------------------------------------------------------------ */

int bw_store_add_task(bw_store_t *st, const char *node_id, const char *type, json_t *args,
                      const char *by, int64_t *task_id, bw_err_t *err)
{
    char *a = args ? json_dumps(args, JSON_COMPACT) : strdup("{}");
    int64_t now = bw_store_now_us();
    bw_sqlv_t p[5] = { SQLV_S(node_id), SQLV_S(type), SQLV_S(a ? a : "{}"), SQLV_I(now), SQLV_S(by) };
    int64_t id = 0;
    int rc = query_one(st, "INSERT INTO tasks (node_id, type, args, state, created, updated, created_by) "
                       "VALUES (?1, ?2, ?3, 'queued', ?4, ?4, ?5) RETURNING id", p, 5, &id, err);
    free(a);
    if (rc == BW_DECLINED)
        rc = bw_err_set(err, "task not stored");
    if (task_id)
        *task_id = id;
    return rc;
}

json_t *bw_store_take_tasks(bw_store_t *st, const char *node_id, bw_err_t *err)
{
    bw_sqlv_t p[2] = { SQLV_I(bw_store_now_us()), SQLV_S(node_id) };
    bw_rows_t r;
    if (bw_store_exec(st, NULL, "UPDATE tasks SET state = 'sent', updated = ?1 WHERE node_id = ?2 "
                      "AND state = 'queued' RETURNING id, type, args, created", p, 2, &r, err) != BW_OK)
        return NULL;
    /* RETURNING gives no order: sort by id (oldest first) here. */
    json_t *a = json_array();
    size_t *ord = calloc(r.nrows ? r.nrows : 1, sizeof *ord);
    for (size_t i = 0; i < r.nrows; i++) {
        size_t j = i;
        while (j > 0 && bw_rows_int(&r, ord[j - 1], 0) > bw_rows_int(&r, i, 0)) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    for (size_t k = 0; k < r.nrows; k++) {
        size_t i = ord[k];
        json_t *args = json_loads(bw_rows_get(&r, i, 2), 0, NULL);
        json_array_append_new(a, json_pack("{s:I,s:s,s:o,s:I}", "id", (json_int_t)bw_rows_int(&r, i, 0),
                                           "type", bw_rows_get(&r, i, 1), "args",
                                           args ? args : json_object(), "created",
                                           (json_int_t)bw_rows_int(&r, i, 3)));
    }
    free(ord);
    bw_rows_free(&r);
    return a;
}

int bw_store_task_result(bw_store_t *st, const char *node_id, int64_t task_id, const char *state,
                         const char *message, bw_err_t *err)
{
    if (!state || (strcmp(state, "done") && strcmp(state, "failed")))
        return bw_err_set(err, "task state %s: must be done or failed", state ? state : "(none)");
    bw_sqlv_t p[5] = { SQLV_S(state), SQLV_S(message), SQLV_I(bw_store_now_us()), SQLV_I(task_id),
                       SQLV_S(node_id) };
    bw_rows_t r;
    if (bw_store_exec(st, NULL, "UPDATE tasks SET state = ?1, result = ?2, updated = ?3 WHERE id = ?4 "
                      "AND node_id = ?5", p, 5, &r, err) != BW_OK)
        return BW_ERR;
    if (r.changes == 0)
        return bw_err_set(err, "task %lld: not this node's", (long long)task_id), BW_DECLINED;
    return BW_OK;
}

json_t *bw_store_tasks(bw_store_t *st, const char *node_id, size_t limit, bw_err_t *err)
{
    if (limit == 0 || limit > 10000)
        limit = 10000;
    bw_sqlv_t p[2] = { SQLV_I(limit), SQLV_S(node_id) };
    bw_rows_t r;
#define TASK_SQL "SELECT t.id, t.node_id, n.name, t.type, t.args, t.state, t.result, t.created, " \
    "t.updated, t.created_by FROM tasks t LEFT JOIN nodes n ON n.id = t.node_id "
    if (bw_store_exec(st, NULL, node_id ? TASK_SQL "WHERE t.node_id = ?2 ORDER BY t.id DESC LIMIT ?1"
                                        : TASK_SQL "ORDER BY t.id DESC LIMIT ?1",
                      p, node_id ? 2 : 1, &r, err) != BW_OK)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < r.nrows; i++) {
        json_t *args = json_loads(bw_rows_get(&r, i, 4), 0, NULL);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(bw_rows_int(&r, i, 0)));
        json_object_set_new(o, "node", jstr_or_null(bw_rows_get(&r, i, 1)));
        json_object_set_new(o, "node_name", jstr_or_null(bw_rows_get(&r, i, 2)));
        json_object_set_new(o, "type", jstr_or_null(bw_rows_get(&r, i, 3)));
        json_object_set_new(o, "args", args ? args : json_object());
        json_object_set_new(o, "state", jstr_or_null(bw_rows_get(&r, i, 5)));
        json_object_set_new(o, "result", jstr_or_null(bw_rows_get(&r, i, 6)));
        json_object_set_new(o, "created", jint_or_null(bw_rows_get(&r, i, 7)));
        json_object_set_new(o, "updated", jint_or_null(bw_rows_get(&r, i, 8)));
        json_object_set_new(o, "created_by", jstr_or_null(bw_rows_get(&r, i, 9)));
        json_array_append_new(a, o);
    }
    bw_rows_free(&r);
    return a;
}

/* ---- policies ---------------------------------------------------------------- */

int bw_store_set_policy(bw_store_t *st, const char *grp, const char *conf, const char *by,
                        int64_t *version, bw_err_t *err)
{
    void *c;
    if (tx_begin(st, &c, err) != BW_OK)
        return BW_ERR;
    bw_rows_t r = { 0 };
    bw_sqlv_t p[5] = { SQLV_S(grp), SQLV_S(conf), SQLV_I(bw_store_now_us()), SQLV_S(by), SQLV_NULL };
    /* Every version is kept: (grp, version) is the key, so two writers at
     * once cannot both make version N (one fails and says so). */
    int rc = st->ops->exec(c, "INSERT INTO policies (grp, version, conf, updated, updated_by) SELECT ?1, "
                           "COALESCE(MAX(version), 0) + 1, ?2, ?3, ?4 FROM policies WHERE grp = ?1 "
                           "RETURNING version", p, 4, &r, err);
    if (rc == BW_OK && version)
        *version = bw_rows_int(&r, 0, 0);
    bw_rows_free(&r);
    return tx_end(st, c, rc, err);
}

#define POLICY_SQL "SELECT p.grp, p.version, p.conf, p.updated, p.updated_by FROM policies p " \
    "WHERE p.version = (SELECT MAX(version) FROM policies q WHERE q.grp = p.grp)"

static json_t *policy_json(const bw_rows_t *r, size_t i)
{
    return json_pack("{s:s,s:I,s:s,s:o,s:o}", "group", bw_rows_get(r, i, 0), "version",
                     (json_int_t)bw_rows_int(r, i, 1), "conf", bw_rows_get(r, i, 2), "updated",
                     jint_or_null(bw_rows_get(r, i, 3)), "updated_by", jstr_or_null(bw_rows_get(r, i, 4)));
}

json_t *bw_store_policy(bw_store_t *st, const char *grp, bw_err_t *err)
{
    bw_rows_t r;
    bw_sqlv_t p[1] = { SQLV_S(grp) };
    err->msg[0] = 0;
    if (bw_store_exec(st, NULL, POLICY_SQL " AND p.grp = ?1", p, 1, &r, err) != BW_OK)
        return NULL;
    json_t *o = r.nrows ? policy_json(&r, 0) : NULL;
    bw_rows_free(&r);
    return o;
}

json_t *bw_store_policies(bw_store_t *st, bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, POLICY_SQL " ORDER BY p.grp", NULL, 0, &r, err) != BW_OK)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < r.nrows; i++)
        json_array_append_new(a, policy_json(&r, i));
    bw_rows_free(&r);
    return a;
}

/* ---- users, sessions, lock-out --------------------------------------------------- */

int bw_store_add_user(bw_store_t *st, const char *name, const char *role, const char *pwhash,
                      bw_err_t *err)
{
    if (!role || (strcmp(role, "admin") && strcmp(role, "viewer")))
        return bw_err_set(err, "role %s: must be admin or viewer", role ? role : "(none)");
    bw_sqlv_t p[4] = { SQLV_S(name), SQLV_S(role), SQLV_S(pwhash), SQLV_I(bw_store_now_us()) };
    bw_rows_t r;
    if (bw_store_exec(st, NULL, "INSERT INTO users (name, role, pwhash, failures, created) VALUES "
                      "(?1, ?2, ?3, 0, ?4) ON CONFLICT (name) DO NOTHING", p, 4, &r, err) != BW_OK)
        return BW_ERR;
    if (r.changes == 0)
        return bw_err_set(err, "user %s already exists", name), BW_DECLINED;
    return BW_OK;
}

static int update_user(bw_store_t *st, const char *sql, const bw_sqlv_t *p, int np, const char *name,
                       bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, sql, p, np, &r, err) != BW_OK)
        return BW_ERR;
    if (r.changes == 0)
        return bw_err_set(err, "user %s: not found", name), BW_DECLINED;
    return BW_OK;
}

int bw_store_set_password(bw_store_t *st, const char *name, const char *pwhash, bw_err_t *err)
{
    bw_sqlv_t p[2] = { SQLV_S(pwhash), SQLV_S(name) };
    return update_user(st, "UPDATE users SET pwhash = ?1, failures = 0, locked_until = NULL "
                       "WHERE name = ?2", p, 2, name, err);
}

int bw_store_delete_user(bw_store_t *st, const char *name, bw_err_t *err)
{
    bw_sqlv_t p[1] = { SQLV_S(name) };
    void *c;
    if (tx_begin(st, &c, err) != BW_OK)
        return BW_ERR;
    bw_rows_t r = { 0 };
    int rc = st->ops->exec(c, "DELETE FROM sessions WHERE usr = ?1", p, 1, NULL, err);
    if (rc == BW_OK)
        rc = st->ops->exec(c, "DELETE FROM users WHERE name = ?1", p, 1, &r, err);
    if (rc == BW_OK && r.changes == 0)
        rc = bw_err_set(err, "user %s: not found", name), rc = BW_DECLINED;
    return tx_end(st, c, rc, err);
}

int64_t bw_store_user_count(bw_store_t *st)
{
    int64_t n = -1;
    bw_err_t e;
    if (query_one(st, "SELECT COUNT(*) FROM users", NULL, 0, &n, &e) != BW_OK)
        return -1;
    return n;
}

json_t *bw_store_user(bw_store_t *st, const char *name, bw_err_t *err)
{
    bw_rows_t r;
    bw_sqlv_t p[1] = { SQLV_S(name) };
    err->msg[0] = 0;
    if (bw_store_exec(st, NULL, "SELECT name, role, pwhash, failures, locked_until FROM users "
                      "WHERE name = ?1", p, 1, &r, err) != BW_OK)
        return NULL;
    json_t *o = NULL;
    if (r.nrows)
        o = json_pack("{s:s,s:s,s:s,s:I,s:o}", "name", bw_rows_get(&r, 0, 0), "role",
                      bw_rows_get(&r, 0, 1), "pwhash", bw_rows_get(&r, 0, 2), "failures",
                      (json_int_t)bw_rows_int(&r, 0, 3), "locked_until",
                      jint_or_null(bw_rows_get(&r, 0, 4)));
    bw_rows_free(&r);
    return o;
}

json_t *bw_store_users(bw_store_t *st, bw_err_t *err)
{
    bw_rows_t r;
    if (bw_store_exec(st, NULL, "SELECT name, role, failures, locked_until, created FROM users "
                      "ORDER BY name", NULL, 0, &r, err) != BW_OK)
        return NULL;
    json_t *a = json_array();
    for (size_t i = 0; i < r.nrows; i++)
        json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:o,s:o}", "name", bw_rows_get(&r, i, 0),
                                           "role", bw_rows_get(&r, i, 1), "failures",
                                           (json_int_t)bw_rows_int(&r, i, 2), "locked_until",
                                           jint_or_null(bw_rows_get(&r, i, 3)), "created",
                                           jint_or_null(bw_rows_get(&r, i, 4))));
    bw_rows_free(&r);
    return a;
}

int bw_store_login_failed(bw_store_t *st, const char *name, int threshold, int64_t until_us,
                          bw_err_t *err)
{
    /* One statement: concurrent failures each count (no read-modify-write race). */
    bw_sqlv_t p[3] = { SQLV_I(threshold), SQLV_I(until_us), SQLV_S(name) };
    return update_user(st, "UPDATE users SET failures = failures + 1, locked_until = CASE WHEN "
                       "failures + 1 >= ?1 THEN ?2 ELSE locked_until END WHERE name = ?3", p, 3, name,
                       err);
}

int bw_store_login_ok(bw_store_t *st, const char *name, bw_err_t *err)
{
    bw_sqlv_t p[1] = { SQLV_S(name) };
    return update_user(st, "UPDATE users SET failures = 0, locked_until = NULL WHERE name = ?1", p, 1,
                       name, err);
}

int bw_store_add_session(bw_store_t *st, const char *hash, const char *user, const char *csrf,
                         int64_t expires_us, bw_err_t *err)
{
    int64_t now = bw_store_now_us();
    bw_sqlv_t p[5] = { SQLV_S(hash), SQLV_S(user), SQLV_S(csrf), SQLV_I(expires_us), SQLV_I(now) };
    /* Expired sessions go when a new one comes: the table stays small. */
    bw_store_exec(st, NULL, "DELETE FROM sessions WHERE expires <= ?5", p, 5, NULL, NULL);
    return bw_store_exec(st, NULL, "INSERT INTO sessions (hash, usr, csrf, expires, created) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)", p, 5, NULL, err);
}

json_t *bw_store_session(bw_store_t *st, const char *hash, bw_err_t *err)
{
    bw_rows_t r;
    bw_sqlv_t p[2] = { SQLV_S(hash), SQLV_I(bw_store_now_us()) };
    err->msg[0] = 0;
    if (bw_store_exec(st, NULL, "SELECT s.usr, u.role, s.csrf, s.expires FROM sessions s JOIN users u "
                      "ON u.name = s.usr WHERE s.hash = ?1 AND s.expires > ?2", p, 2, &r, err) != BW_OK)
        return NULL;
    json_t *o = NULL;
    if (r.nrows)
        o = json_pack("{s:s,s:s,s:s,s:I}", "user", bw_rows_get(&r, 0, 0), "role", bw_rows_get(&r, 0, 1),
                      "csrf", bw_rows_get(&r, 0, 2), "expires", (json_int_t)bw_rows_int(&r, 0, 3));
    bw_rows_free(&r);
    return o;
}

int bw_store_delete_session(bw_store_t *st, const char *hash, bw_err_t *err)
{
    bw_sqlv_t p[1] = { SQLV_S(hash) };
    return bw_store_exec(st, NULL, "DELETE FROM sessions WHERE hash = ?1", p, 1, NULL, err);
}
