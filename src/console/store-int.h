/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the console's storage: what store.c (the engine-neutral part)
 * needs from an engine, store-sqlite.c and store-pg.c.
 *
 * An engine gives connections and one way to run a statement: SQL text
 * with numbered placeholders ?1, ?2, ... (PostgreSQL's engine rewrites
 * them to $1, $2) and an array of bound values; every row comes back as
 * text cells.  All SQL that both engines understand alike lives in store.c
 * and store-events.c, so the logic (transactions, dedupe, rollups, keyset
 * pagination) exists once.  What differs is behind the ops: the schema
 * (migrations), the bulk paths of event ingestion (a prepared statement in
 * a loop for SQLite, one statement over a JSON array for PostgreSQL, where
 * each statement is a network round trip) and free-text search. */
#ifndef BW_CONSOLE_STORE_INT_H
#define BW_CONSOLE_STORE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "console/store.h"

enum { BW_SQLV_NULL = 0, BW_SQLV_TEXT, BW_SQLV_INT };

typedef struct bw_sqlv {
    int type;
    const char *s;
    int64_t i;
} bw_sqlv_t;

static inline bw_sqlv_t bw_sqlv_s(const char *s)
{
    return (bw_sqlv_t){ s ? BW_SQLV_TEXT : BW_SQLV_NULL, s, 0 };
}
#define SQLV_S(x) bw_sqlv_s(x)
#define SQLV_I(x) ((bw_sqlv_t){ BW_SQLV_INT, NULL, (int64_t)(x) })
#define SQLV_NULL ((bw_sqlv_t){ BW_SQLV_NULL, NULL, 0 })

/* A result: nrows x ncols text cells (NULL for SQL NULL), and the number of
 * rows a write changed. */
typedef struct bw_rows {
    size_t nrows, ncols;
    char **cell;
    int64_t changes;
} bw_rows_t;

void bw_rows_free(bw_rows_t *r);
static inline const char *bw_rows_get(const bw_rows_t *r, size_t row, size_t col)
{
    return r->cell[row * r->ncols + col];
}
int64_t bw_rows_int(const bw_rows_t *r, size_t row, size_t col);

/* One line of a rollup: the counts of one key in one hour (or day). */
enum { BW_DIM_TOTAL = 0, BW_DIM_THREAT, BW_DIM_CLIENT, BW_DIM_URL, BW_DIM_COMPONENT, BW_DIM_NODE,
       BW_DIM_COUNT };
typedef struct bw_rollup {
    int day;          /* 0: rollup_h (t = hour start), 1: rollup_d (t = day start) */
    int dim;
    int64_t t;        /* seconds */
    const char *key;  /* "" for BW_DIM_TOTAL */
    int64_t events, detections;
} bw_rollup_t;

typedef struct bw_store_ops {
    const char *kind;
    int pg;
    size_t pool_size;
    const char *begin_write;  /* "BEGIN IMMEDIATE" / "BEGIN" */
    /* One writer at a time inside the process (SQLite): writers queue on a
     * mutex instead of SQLite's busy handler, which sleeps 1..100 ms
     * between retries and wasted most of the time with 4 writers. */
    int serialize_writes;
    int (*connect)(const char *url, void **conn, bw_err_t *err);
    void (*disconnect)(void *conn);
    int (*exec)(void *conn, const char *sql, const bw_sqlv_t *p, int np, bw_rows_t *out,
                bw_err_t *err);
    /* Several statements, no parameters (migrations). */
    int (*script)(void *conn, const char *sql, bw_err_t *err);
    /* Inserts the events skipping ids already stored; inserted[i] = 1 for each
     * one stored now; ftext[i] the text free-text search looks in. */
    int (*insert_events)(void *conn, const bw_store_event_t *ev, char *const *ftext, size_t n,
                         int64_t now_us, unsigned char *inserted, bw_err_t *err);
    int (*upsert_rollups)(void *conn, const bw_rollup_t *r, size_t n, bw_err_t *err);
    /* Schema: migrations[i] takes the schema from version i to i + 1; its
     * scripts run in order (NULL ends the list). */
    const struct bw_migration { const char *script[4]; } *migrations;
    int nmigrations;
} bw_store_ops_t;

extern const bw_store_ops_t bw_store_sqlite_ops;
extern const bw_store_ops_t bw_store_pg_ops;

struct bw_store {
    const bw_store_ops_t *ops;
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_mutex_t wmu;   /* held through a write transaction when ops->serialize_writes */
    void **conns;    /* all of them */
    void **idle;     /* a stack of those not in use */
    size_t nconns, nidle;
    int version;
};

/* A connection from the pool (waits while all are busy) and back. */
void *bw_store_conn(bw_store_t *st);
void bw_store_release(bw_store_t *st, void *c);

/* A connection in a write transaction (BEGIN done) and its end (COMMIT
 * when rc is BW_OK, else ROLLBACK); both release what they took. */
int bw_store_tx_begin(bw_store_t *st, void **c, bw_err_t *err);
int bw_store_tx_end(bw_store_t *st, void *c, int rc, bw_err_t *err);

/* Runs sql on a pooled connection (or on c when not NULL). */
int bw_store_exec(bw_store_t *st, void *c, const char *sql, const bw_sqlv_t *p, int np,
                  bw_rows_t *out, bw_err_t *err);

int64_t bw_store_now_us(void);
/* 32 lowercase hex characters of random bits into out[33]. */
int bw_store_random_hex(char out[33], bw_err_t *err);

/* The text free-text search looks in: the string values of the event
 * except its id, time, enumerations and hashes (store-events.c:
 * ftext_wanted), space-separated.  Caller frees. */
char *bw_store_ftext(const char *json, size_t len);

/* The tables both engines write alike (store-migrate.c); each engine's
 * first migration creates events and tasks, then runs this. */
extern const char bw_store_schema_common_v1[];

#endif
