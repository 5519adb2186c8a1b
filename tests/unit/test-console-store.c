/* SPDX-License-Identifier: Apache-2.0 */
/* The console's store: the same cases against SQLite (a temp file per case)
 * and, when BW_TEST_PG_URL is set, against PostgreSQL (the schema emptied
 * before each case).  BW_TEST_STORE=sqlite|pg runs one engine only.  Lines
 * are "ok - sqlite: case" / "ok - pg: case".
 *
 * Filters are checked against a brute-force evaluation of the same
 * semantics over the events the case stored, so "exactly the right rows"
 * means it: no row missing, none extra. */
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "console/store.h"
#include "t.h"

static const char *g_url;      /* the engine of this round */
static char g_tmpdir[256];
static int g_n;

#define H (3600LL * 1000000)
#define DAY (24 * H)

static void quiet(void *a, const char *m) { (void)a, (void)m; }

static bw_store_t *open_store(void)
{
    char url[512];
    if (!strncmp(g_url, "postgres", 8)) {
        PGconn *c = PQconnectdb(g_url);
        PQsetNoticeProcessor(c, quiet, NULL);
        PGresult *r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "  reset schema: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        snprintf(url, sizeof url, "%s", g_url);
    } else {
        snprintf(url, sizeof url, "sqlite:%s/c%d.db", g_tmpdir, ++g_n);
    }
    bw_store_t *st = NULL;
    bw_err_t err = { { 0 } };
    if (bw_store_open(url, &st, &err) != BW_OK) {
        fprintf(stderr, "  open %s: %s\n", url, err.msg);
        exit(2);
    }
    return st;
}

/* ---- events the cases store: kept here to compute expected answers ---- */

typedef struct tev {
    char id[33];
    int64_t t;
    const char *node, *component, *type, *threat, *client, *user, *object, *action, *msg;
    int sev;
    char *json;
    bw_store_event_t ev;
} tev_t;

static void tev_make(tev_t *e, int n, int64_t t, const char *node, const char *component,
                     const char *type, int sev, const char *threat, const char *client,
                     const char *object, const char *action, const char *msg)
{
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%032x", n);
    e->t = t, e->node = node, e->component = component, e->type = type, e->sev = sev;
    e->threat = threat, e->client = client, e->object = object, e->action = action, e->msg = msg;
    json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:s,s:i}", "id", e->id, "time_us", (json_int_t)t, "node",
                          node, "component", component, "type", type, "sev", sev);
    if (threat)
        json_object_set_new(o, "threats", json_pack("[s]", threat));
    if (client)
        json_object_set_new(o, "client", json_pack("{s:s}", "ip", client));
    if (object)
        json_object_set_new(o, "object", json_pack("{s:s}", "url", object));
    if (action)
        json_object_set_new(o, "action", json_string(action));
    if (msg)
        json_object_set_new(o, "message", json_string(msg));
    e->json = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    e->ev = (bw_store_event_t){ .id = e->id, .time_us = t, .node = node, .component = component,
                                .type = type, .severity = sev, .threat = threat, .client = client,
                                .object = object, .action = action, .json = e->json,
                                .json_len = strlen(e->json) };
}

static int add(bw_store_t *st, tev_t *evs, size_t n, size_t *added, size_t *dups)
{
    bw_store_event_t *a = calloc(n, sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = evs[i].ev;
    bw_err_t err = { { 0 } };
    size_t ad = 0, du = 0;
    int rc = bw_store_add_events(st, a, n, &ad, &du, &err);
    if (rc != BW_OK)
        fprintf(stderr, "  add_events: %s\n", err.msg);
    free(a);
    if (added)
        *added = ad;
    if (dups)
        *dups = du;
    return rc;
}

static void tev_free(tev_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i].json);
}

/* ASCII case-insensitive substring (the promise for non-ASCII is exact case). */
static int ci_has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

/* SQLite's free text is by words (docs/console-storage.md): a word is a run
 * of ASCII letters and digits and non-ASCII bytes; every word of the query
 * must be a word of the event's text (ASCII case folded), a word followed
 * by '*' its prefix.  A query without a word matches nothing. */
static int is_wc(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int has_word(const char *hay, const char *w, size_t n, int prefix)
{
    for (const unsigned char *p = (const unsigned char *)hay; hay && *p;) {
        if (!is_wc(*p)) {
            p++;
            continue;
        }
        const unsigned char *s = p;
        while (is_wc(*p))
            p++;
        if (((size_t)(p - s) == n || (prefix && (size_t)(p - s) > n)) && !strncasecmp((const char *)s, w, n))
            return 1;
    }
    return 0;
}

static int words_match(const char *const *fields, size_t nf, const char *q)
{
    int words = 0;
    for (const unsigned char *p = (const unsigned char *)q; *p;) {
        if (!is_wc(*p)) {
            p++;
            continue;
        }
        const unsigned char *s = p;
        while (is_wc(*p))
            p++;
        int found = 0;
        for (size_t i = 0; i < nf && !found; i++)
            found = has_word(fields[i], (const char *)s, (size_t)(p - s), *p == '*');
        if (!found)
            return 0;
        words++;
    }
    return words > 0;
}

static int matches(const tev_t *e, const bw_store_filter_t *f)
{
    if (f->from_us && e->t < f->from_us) return 0;
    if (f->to_us && e->t >= f->to_us) return 0;
    if (f->node && (!e->node || strcmp(e->node, f->node))) return 0;
    if (f->component && (!e->component || strcmp(e->component, f->component))) return 0;
    if (f->type && (!e->type || strcmp(e->type, f->type))) return 0;
    if (f->client && (!e->client || strcmp(e->client, f->client))) return 0;
    if (f->action && (!e->action || strcmp(e->action, f->action))) return 0;
    if (f->min_severity && e->sev < f->min_severity) return 0;
    if (f->threat && !ci_has(e->threat, f->threat)) return 0;
    if (f->text) {
        /* what free text looks in (docs/console-storage.md): not the
         * component or the action, which have their own exact filters */
        const char *fields[] = { e->node, e->type, e->threat, e->client, e->object, e->msg };
        if (strncmp(g_url, "postgres", 8))
            return words_match(fields, sizeof fields / sizeof fields[0], f->text);
        int any = 0;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            any |= ci_has(fields[i], f->text);
        if (!any) return 0;
    }
    return 1;
}

/* Runs f through every page (limit 3) and compares the ids with the
 * brute-force answer, in newest-first order. */
static int check_filter(bw_store_t *st, tev_t *evs, size_t n, bw_store_filter_t f, const char *what)
{
    char got[4096] = "", want[4096] = "";
    for (size_t i = n; i-- > 0;)
        if (matches(&evs[i], &f)) {
            strcat(want, evs[i].id + 28);
            strcat(want, " ");
        }
    f.limit = 3;
    for (int page = 0; page < 100; page++) {
        bw_err_t err = { { 0 } };
        json_t *r = bw_store_query_events(st, &f, &err);
        if (!r) {
            fprintf(stderr, "  %s: %s\n", what, err.msg);
            return 0;
        }
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(r, "events"), i, e) {
            strcat(got, json_string_value(json_object_get(e, "id")) + 28);
            strcat(got, " ");
        }
        json_t *nc = json_object_get(r, "next_cursor");
        int more = json_is_integer(nc);
        if (more)
            f.before_seq = json_integer_value(nc);
        json_decref(r);
        if (!more)
            break;
    }
    if (strcmp(got, want)) {
        fprintf(stderr, "  filter %s: got [%s] want [%s]\n", what, got, want);
        return 0;
    }
    return 1;
}

/* ---- cases ---------------------------------------------------------------------- */

TEST(opens_and_migrates)
{
    bw_store_t *st = open_store();
    /* SQLite: version 2 made free text a word index */
    int version = strncmp(g_url, "postgres", 8) ? 2 : 1;
    CHECK_EQ(bw_store_schema_version(st), version);
    CHECK(!strcmp(bw_store_kind(st), strncmp(g_url, "postgres", 8) ? "sqlite" : "postgresql"));
    CHECK_EQ(bw_store_event_count(st), 0);
    bw_store_close(st);
    if (strncmp(g_url, "postgres", 8)) {
        /* Reopening the same file: nothing to migrate, same version. */
        char url[512];
        snprintf(url, sizeof url, "%s/c%d.db", g_tmpdir, g_n);
        bw_err_t err = { { 0 } };
        CHECK_EQ(bw_store_open(url, &st, &err), BW_OK);
        CHECK_EQ(bw_store_schema_version(st), version);
        bw_store_close(st);
    }
    bw_err_t err = { { 0 } };
    bw_store_t *bad = NULL;
    CHECK_EQ(bw_store_open("mysql://x", &bad, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "unknown scheme");
}

/* An SQLite store of schema version 1 (free text in a trigram index) is
 * migrated to version 2: its events are indexed again by words, from their
 * JSON, and their threats in the threat index. */
TEST(sqlite_v1_free_text_migrates)
{
    if (!strncmp(g_url, "postgres", 8))
        return;
    bw_store_t *st = open_store();
    tev_t e[3];
    tev_make(&e[0], 9001, 1000, "n", "icap", "detection", 4, "Win.Trojan.Agent", "10.1.1.1",
             "http://site77.example/x", "deny", NULL);
    tev_make(&e[1], 9002, 2000, "n", "icap", "scan", 1, NULL, NULL, NULL, NULL, "hello world");
    tev_make(&e[2], 9003, 3000, "n", "clamd", "detection", 4, "Eicar-Test", NULL, "/srv/a b", NULL, NULL);
    CHECK_EQ(add(st, e, 3, NULL, NULL), BW_OK);
    bw_store_close(st);
    char path[512];
    snprintf(path, sizeof path, "%s/c%d.db", g_tmpdir, g_n);
    sqlite3 *db;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    /* back to version 1's free text, as the console of version 1 left it */
    CHECK_EQ(sqlite3_exec(db, "DROP TRIGGER events_fts_delete; DROP TABLE events_fts; DROP TABLE events_th; "
                          "CREATE VIRTUAL TABLE events_fts USING fts5 (threat, body, tokenize = 'trigram', "
                          "detail = 'none', columnsize = 0); "
                          "INSERT INTO events_fts (rowid, threat, body) SELECT seq, COALESCE(threat, ''), json FROM events; "
                          "CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN "
                          "DELETE FROM events_fts WHERE rowid = old.seq; END; "
                          "DELETE FROM schema_version WHERE version = 2;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s", path);
    bw_err_t err = { { 0 } };
    CHECK_EQ(bw_store_open(url, &st, &err), BW_OK);
    CHECK_EQ(bw_store_schema_version(st), 2);
    const char *q[][2] = { { "site77", e[0].id }, { "HELLO", e[1].id }, { "10.1.1.1", e[0].id },
                           { "trojan", e[0].id } };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        bw_store_filter_t f = { .text = q[i][0], .limit = 10 };
        json_t *r = bw_store_query_events(st, &f, &err);
        json_t *a = json_object_get(r, "events");
        CHECK_EQ(json_array_size(a), 1);
        CHECK_STR(json_string_value(json_object_get(json_array_get(a, 0), "id")), q[i][1]);
        json_decref(r);
    }
    /* not the component, the action or the id */
    const char *none[] = { "clamd", "deny", "00000000000000000000000000002329" };
    for (size_t i = 0; i < 3; i++) {
        bw_store_filter_t f = { .text = none[i], .limit = 10 };
        json_t *r = bw_store_query_events(st, &f, &err);
        CHECK_EQ(json_array_size(json_object_get(r, "events")), 0);
        json_decref(r);
    }
    bw_store_filter_t f = { .threat = "car-te", .limit = 10 };
    json_t *r = bw_store_query_events(st, &f, &err);
    CHECK_EQ(json_array_size(json_object_get(r, "events")), 1);
    json_decref(r);
    tev_free(e, 3);
    bw_store_close(st);
}

TEST(dedupe_by_id)
{
    bw_store_t *st = open_store();
    tev_t e[5];
    for (int i = 0; i < 5; i++)
        tev_make(&e[i], i + 1, 1000 * H + i, "n1", "icap", "detection", 4, "Eicar", "10.0.0.1",
                 "http://x/", "deny", NULL);
    size_t a, d;
    CHECK_EQ(add(st, e, 3, &a, &d), BW_OK);
    CHECK_EQ(a, 3);
    CHECK_EQ(d, 0);
    /* A resent batch (lost acknowledgement) with two new ones. */
    CHECK_EQ(add(st, e, 5, &a, &d), BW_OK);
    CHECK_EQ(a, 2);
    CHECK_EQ(d, 3);
    /* One id twice in one batch. */
    tev_t f[2];
    tev_make(&f[0], 77, 1000 * H, "n1", "icap", "scan", 1, NULL, NULL, NULL, NULL, NULL);
    tev_make(&f[1], 77, 1000 * H, "n1", "icap", "scan", 1, NULL, NULL, NULL, NULL, NULL);
    CHECK_EQ(add(st, f, 2, &a, &d), BW_OK);
    CHECK_EQ(a, 1);
    CHECK_EQ(d, 1);
    CHECK_EQ(bw_store_event_count(st), 6);
    bw_err_t err = { { 0 } };
    json_t *s = bw_store_stats(st, 1000 * H, 1001 * H, 3600, 10, &err);
    CHECK(s != NULL);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(s, "totals"), "events")), 6);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(s, "totals"), "detections")), 5);
    json_decref(s);
    tev_free(e, 5);
    tev_free(f, 2);
    bw_store_close(st);
}

TEST(batch_all_or_nothing)
{
    bw_store_t *st = open_store();
    tev_t e[3];
    for (int i = 0; i < 3; i++)
        tev_make(&e[i], i + 1, 1000 * H, "n1", "icap", "detection", 4, "Eicar", NULL, NULL, NULL, NULL);
    e[2].ev.severity = 9; /* refused by the schema's CHECK: after two rows went in */
    size_t a = 99, d = 99;
    CHECK_EQ(add(st, e, 3, &a, &d), BW_ERR);
    CHECK_EQ(a, 0);
    CHECK_EQ(bw_store_event_count(st), 0);
    bw_err_t err = { { 0 } };
    int rc = 0;
    json_t *x = bw_store_get_event(st, e[0].id, &rc, &err);
    CHECK(x == NULL);
    CHECK_EQ(rc, BW_DECLINED);
    json_t *s = bw_store_stats(st, 1000 * H, 1001 * H, 3600, 10, &err);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(s, "totals"), "events")), 0);
    json_decref(s);
    /* The same batch fixed goes in whole. */
    e[2].ev.severity = 4;
    CHECK_EQ(add(st, e, 3, &a, &d), BW_OK);
    CHECK_EQ(a, 3);
    tev_free(e, 3);
    bw_store_close(st);
}

#define NF 16
static const char *const hostile[] = { "'; DROP TABLE events; --", "100%", "a_b", "quote\"s",
                                       "back\\slash", "O'Brien", "ünïcödé Ω", "%", "_", "\\" };

TEST(every_filter_exact_rows)
{
    bw_store_t *st = open_store();
    tev_t e[NF];
    const char *nodes[] = { "proxy-1", "proxy-2", "'; DROP TABLE events; --" };
    const char *threats[] = { "Eicar-Test-Signature", "Win.Trojan.Agent", "100%", "a_b", "quote\"s",
                              "back\\slash", "ünïcödé Ω", NULL };
    const char *clients[] = { "10.0.0.5", "10.0.0.6", "O'Brien" };
    const char *types[] = { "detection", "scan", "update.done" };
    const char *comps[] = { "icap", "clamd", "update" };
    const char *acts[] = { "deny", "allow", NULL };
    for (int i = 0; i < NF; i++)
        tev_make(&e[i], 100 + i, 2000 * H + i * H / 2, nodes[i % 3], comps[i % 3], types[i % 3],
                 1 + i % 5, threats[i % 8], clients[(i / 2) % 3], i % 4 ? "http://x/a%20b_c" : "/srv/f'1",
                 acts[i % 3], i == 7 ? "contains AxB and \\x" : NULL);
    CHECK_EQ(add(st, e, 8, NULL, NULL), BW_OK);
    CHECK_EQ(add(st, e + 8, NF - 8, NULL, NULL), BW_OK);
    int fails = 0;
    bw_store_filter_t f;
#define F(what, ...) do { memset(&f, 0, sizeof f); __VA_ARGS__; fails += !check_filter(st, e, NF, f, what); } while (0)
    F("none", (void)0);
    F("from", f.from_us = 2000 * H + 3 * H);
    F("to", f.to_us = 2000 * H + 3 * H);
    F("from+to", f.from_us = 2000 * H + H, f.to_us = 2000 * H + 5 * H);
    F("from+component", f.from_us = 2000 * H + 2 * H, f.component = "icap");
    F("to+severity+action", f.to_us = 2000 * H + 6 * H, f.min_severity = 2, f.action = "deny");
    F("from+node", f.from_us = 2000 * H + 2 * H, f.node = "proxy-2");
    for (int i = 0; i < 3; i++) {
        F("node", f.node = nodes[i]);
        F("client", f.client = clients[i]);
        F("type", f.type = types[i]);
        F("component", f.component = comps[i]);
    }
    F("action", f.action = "deny");
    F("severity", f.min_severity = 3);
    F("threat substring", f.threat = "trojan");
    F("threat case", f.threat = "EICAR-test");
    F("text short", f.text = "ab");
    F("text url", f.text = "a%20b");
    F("text case", f.text = "axb");
    F("text words", f.text = "contains x");
    F("text prefix", f.text = "cont*");
    F("text part of a word", f.text = "ontain");
    F("text words of two fields", f.text = "proxy-1 trojan");
    F("combined", f.node = "proxy-1", f.min_severity = 2, f.text = "x");
    F("text skips the component", f.text = "clamd");
    F("text skips the id", f.text = "0000000000");
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        F(hostile[i], f.node = hostile[i]);
        F(hostile[i], f.client = hostile[i]);
        F(hostile[i], f.threat = hostile[i]);
        F(hostile[i], f.text = hostile[i]);
        F(hostile[i], f.type = hostile[i]);
        F(hostile[i], f.action = hostile[i]);
        F(hostile[i], f.component = hostile[i]);
    }
#undef F
    CHECK_EQ(fails, 0);
    CHECK_EQ(bw_store_event_count(st), NF); /* and the table is still there */
    tev_free(e, NF);
    bw_store_close(st);
}

TEST(cursor_pages_no_gaps_no_repeats)
{
    bw_store_t *st = open_store();
    enum { N = 250 };
    tev_t *e = calloc(N, sizeof *e);
    for (int i = 0; i < N; i++)
        tev_make(&e[i], 1000 + i, 3000 * H + (N - i) * 1000, i % 2 ? "a" : "b", "icap", "detection", 3,
                 "T", NULL, NULL, NULL, NULL);
    for (int i = 0; i < N; i += 100)
        CHECK_EQ(add(st, e + i, N - i < 100 ? N - i : 100, NULL, NULL), BW_OK);
    /* newest first, pages of 7, a new event arriving in between */
    bw_store_filter_t f = { .limit = 7 };
    int seen[N + 1] = { 0 }, total = 0, repeats = 0, order_ok = 1;
    int64_t prev = INT64_MAX;
    for (int page = 0; page < 100; page++) {
        bw_err_t err = { { 0 } };
        json_t *r = bw_store_query_events(st, &f, &err);
        CHECK(r != NULL);
        if (!r)
            break;
        if (page == 3) {
            tev_t late;
            tev_make(&late, 99999, 3000 * H, "a", "icap", "scan", 1, NULL, NULL, NULL, NULL, NULL);
            CHECK_EQ(add(st, &late, 1, NULL, NULL), BW_OK);
            tev_free(&late, 1);
        }
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(r, "events"), i, x) {
            int64_t seq = json_integer_value(json_object_get(x, "seq"));
            int k = (int)strtol(json_string_value(json_object_get(x, "id")), NULL, 16) - 1000;
            if (seq >= prev)
                order_ok = 0;
            prev = seq;
            if (k >= 0 && k < N) {
                repeats += seen[k]++;
                total++;
            }
        }
        json_t *nc = json_object_get(r, "next_cursor");
        int more = json_is_integer(nc);
        f.before_seq = more ? json_integer_value(nc) : 0;
        json_decref(r);
        if (!more)
            break;
    }
    CHECK_EQ(total, N);
    CHECK_EQ(repeats, 0);
    CHECK(order_ok);
    /* follow mode: from the seq of the 100th event, oldest first, to the end */
    bw_err_t err = { { 0 } };
    json_t *one = bw_store_get_event(st, e[99].id, NULL, &err);
    bw_store_filter_t g = { .after_seq = json_integer_value(json_object_get(one, "seq")), .limit = 40 };
    json_decref(one);
    int got = 0, asc = 1;
    int64_t last = g.after_seq;
    for (int page = 0; page < 20; page++) {
        json_t *r = bw_store_query_events(st, &g, &err);
        size_t n = json_array_size(json_object_get(r, "events"));
        for (size_t i = 0; i < n; i++) {
            int64_t seq = json_integer_value(json_object_get(json_array_get(json_object_get(r, "events"), i), "seq"));
            asc &= seq > last;
            last = seq;
        }
        got += (int)n;
        g.after_seq = json_integer_value(json_object_get(r, "next_cursor"));
        json_decref(r);
        if (!n)
            break;
    }
    CHECK_EQ(got, N - 100 + 1); /* the rest of the batch events + the late one */
    CHECK(asc);
    tev_free(e, N);
    free(e);
    bw_store_close(st);
}

TEST(stats_match_count_by_hand)
{
    bw_store_t *st = open_store();
    enum { N = 300 };
    tev_t *e = calloc(N, sizeof *e);
    const char *thr[] = { "Eicar", "Trojan.A", "Worm.B", NULL };
    const char *cl[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5" };
    int64_t base = 24 * 400 * H; /* a day boundary */
    for (int i = 0; i < N; i++)
        tev_make(&e[i], 5000 + i, base - 5 * H + (int64_t)i * (3 * DAY / N), "n", i % 2 ? "icap" : "clamd",
                 i % 4 == 3 ? "scan" : "detection", 3, thr[i % 4], cl[(i * 7) % 5], "http://u/", NULL, NULL);
    CHECK_EQ(add(st, e, N, NULL, NULL), BW_OK);
    int64_t from = base - 3 * H, to = base + 2 * DAY + 5 * H;
    bw_err_t err = { { 0 } };
    json_t *s = bw_store_stats(st, from, to, 4 * 3600, 3, &err);
    CHECK(s != NULL);
    long long ev = 0, det = 0, per_thr[4] = { 0 }, per_cl[5] = { 0 }, bsum = 0;
    for (int i = 0; i < N; i++) {
        if (e[i].t < from || e[i].t >= to)
            continue;
        ev++;
        det += !strcmp(e[i].type, "detection");
        per_thr[i % 4]++;
        per_cl[(i * 7) % 5]++;
    }
    json_t *tot = json_object_get(s, "totals");
    CHECK_EQ(json_integer_value(json_object_get(tot, "events")), ev);
    CHECK_EQ(json_integer_value(json_object_get(tot, "detections")), det);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(s, "buckets"), i, b) {
        bsum += json_integer_value(json_object_get(b, "events"));
        CHECK_EQ(json_integer_value(json_object_get(b, "t")), from / 1000000 + (int64_t)i * 4 * 3600);
    }
    CHECK_EQ(bsum, ev);
    CHECK_EQ(json_array_size(json_object_get(s, "buckets")), (to - from + 4 * H - 1) / (4 * H));
    json_t *tt = json_object_get(s, "top_threats");
    CHECK_EQ(json_array_size(tt), 3);
    for (size_t k = 0; k < json_array_size(tt); k++) {
        const char *name = json_string_value(json_object_get(json_array_get(tt, k), "name"));
        for (int t = 0; t < 3; t++)
            if (!strcmp(name, thr[t]))
                CHECK_EQ(json_integer_value(json_object_get(json_array_get(tt, k), "count")), per_thr[t]);
    }
    long long csum = 0;
    json_t *tc = json_object_get(s, "top_clients");
    for (size_t k = 0; k < json_array_size(tc); k++)
        csum += json_integer_value(json_object_get(json_array_get(tc, k), "count"));
    long long sorted[5];
    memcpy(sorted, per_cl, sizeof sorted);
    for (int x = 0; x < 5; x++)
        for (int y = x + 1; y < 5; y++)
            if (sorted[y] > sorted[x]) { long long t = sorted[x]; sorted[x] = sorted[y]; sorted[y] = t; }
    CHECK_EQ(csum, sorted[0] + sorted[1] + sorted[2]);
    json_t *bc = json_object_get(s, "by_component");
    CHECK_EQ(json_array_size(bc), 2);
    CHECK(json_array_size(json_object_get(s, "top_urls")) == 1);
    json_decref(s);
    tev_free(e, N);
    free(e);
    bw_store_close(st);
}

TEST(retention_by_age_and_count)
{
    bw_store_t *st = open_store();
    enum { N = 40 };
    tev_t e[N];
    int64_t now = (int64_t)time(NULL) * 1000000;
    for (int i = 0; i < N; i++) /* 10 old (20 days), 30 recent */
        tev_make(&e[i], 7000 + i, i < 10 ? now - 20 * DAY : now - H, "n", "icap", "detection", 3,
                 "OldOrNew", NULL, NULL, NULL, NULL);
    CHECK_EQ(add(st, e, N, NULL, NULL), BW_OK);
    int64_t del = -1;
    bw_err_t err = { { 0 } };
    CHECK_EQ(bw_store_retain(st, 10 * 86400, 0, &del, &err), BW_OK);
    CHECK_EQ(del, 10);
    CHECK_EQ(bw_store_event_count(st), 30);
    CHECK_EQ(bw_store_retain(st, 0, 12, &del, &err), BW_OK);
    CHECK_EQ(del, 18);
    CHECK_EQ(bw_store_event_count(st), 12);
    /* the newest 12 by arrival stay; the free-text index forgot the rest */
    CHECK(bw_store_get_event(st, e[N - 13].id, NULL, &err) == NULL);
    json_t *x = bw_store_get_event(st, e[N - 12].id, NULL, &err);
    CHECK(x != NULL);
    json_decref(x);
    bw_store_filter_t f = { .text = "oldornew", .limit = 100 };
    json_t *r = bw_store_query_events(st, &f, &err);
    CHECK_EQ(json_array_size(json_object_get(r, "events")), 12);
    json_decref(r);
    /* the rollups of hours older than the age limit went too */
    json_t *s = bw_store_stats(st, now - 30 * DAY, now + H, 86400, 5, &err);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(s, "totals"), "events")), 30);
    json_decref(s);
    CHECK_EQ(bw_store_retain(st, 0, 0, &del, &err), BW_OK);
    CHECK_EQ(del, 0);
    tev_free(e, N);
    bw_store_close(st);
}

TEST(enrolment_tokens_are_one_time)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    int64_t now = (int64_t)time(NULL) * 1000000;
    CHECK_EQ(bw_store_add_enroll_token(st, "tok1", "web", now + H, &err), BW_OK);
    CHECK_EQ(bw_store_add_enroll_token(st, "tok2", "web", now - 1, &err), BW_OK);
    CHECK_EQ(bw_store_add_enroll_token(st, "tok3", "mail", now + H, &err), BW_OK);
    char *id = NULL, *id2 = NULL, *name = NULL;
    CHECK_EQ(bw_store_enroll(st, "tok1", "proxy-1", "cred1", &id, &err), BW_OK);
    CHECK(id && strlen(id) == 32);
    CHECK_EQ(bw_store_enroll(st, "tok1", "proxy-2", "cred2", &id2, &err), BW_DECLINED); /* used */
    CHECK_EQ(bw_store_enroll(st, "tok2", "proxy-2", "cred2", &id2, &err), BW_DECLINED); /* expired */
    CHECK_EQ(bw_store_enroll(st, "nope", "proxy-2", "cred2", &id2, &err), BW_DECLINED); /* unknown */
    /* a name already enrolled: refused, and the token is not spent */
    CHECK_EQ(bw_store_enroll(st, "tok3", "proxy-1", "cred3", &id2, &err), BW_DECLINED);
    CHECK_EQ(bw_store_enroll(st, "tok3", "proxy-3", "cred3", &id2, &err), BW_OK);
    char *nid = NULL;
    CHECK_EQ(bw_store_node_auth(st, "cred1", &nid, &name, &err), BW_OK);
    CHECK_STR(nid, id);
    CHECK_STR(name, "proxy-1");
    free(nid), free(name);
    CHECK_EQ(bw_store_node_auth(st, "cred-x", &nid, &name, &err), BW_DECLINED);
    json_t *n = bw_store_node(st, id2, &err);
    CHECK_STR(json_string_value(json_object_get(n, "group")), "mail");
    json_decref(n);
    free(id), free(id2);
    bw_store_close(st);
}

TEST(revocation_and_nodes)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    int64_t now = (int64_t)time(NULL) * 1000000;
    bw_store_add_enroll_token(st, "t1", "g", now + H, &err);
    bw_store_add_enroll_token(st, "t2", "g", now + H, &err);
    char *id = NULL, *id2 = NULL, *nid = NULL, *name = NULL;
    CHECK_EQ(bw_store_enroll(st, "t1", "box", "c1", &id, &err), BW_OK);
    json_t *rep = json_pack("{s:s,s:I,s:s,s:s}", "version", "1.2", "backlog", (json_int_t)5, "health", "ok",
                            "id", "forged");
    CHECK_EQ(bw_store_node_seen(st, id, rep, &err), BW_OK);
    json_decref(rep);
    json_t *n = bw_store_node(st, id, &err);
    CHECK_STR(json_string_value(json_object_get(n, "version")), "1.2");
    CHECK_STR(json_string_value(json_object_get(n, "id")), id); /* a report cannot rename it */
    CHECK(json_integer_value(json_object_get(n, "last_seen")) > 0);
    json_decref(n);
    CHECK_EQ(bw_store_node_set_group(st, id, "g2", &err), BW_OK);
    CHECK_EQ(bw_store_node_set_group(st, "nosuch", "g2", &err), BW_DECLINED);
    CHECK_EQ(bw_store_node_revoke(st, id, &err), BW_OK);
    CHECK_EQ(bw_store_node_auth(st, "c1", &nid, &name, &err), BW_DECLINED);
    CHECK_EQ(bw_store_node_revoke(st, "nosuch", &err), BW_DECLINED);
    /* a revoked name may enrol again (reinstalled machine) */
    CHECK_EQ(bw_store_enroll(st, "t2", "box", "c2", &id2, &err), BW_OK);
    json_t *all = bw_store_nodes(st, &err);
    CHECK_EQ(json_array_size(all), 2);
    json_decref(all);
    CHECK(bw_store_node(st, "nosuch", &err) == NULL);
    CHECK_STR(err.msg, "");
    free(id), free(id2);
    bw_store_close(st);
}

TEST(task_ownership)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    int64_t t1 = 0, t2 = 0;
    json_t *args = json_pack("{s:s}", "id", "q-1");
    CHECK_EQ(bw_store_add_task(st, "nodeA", "quarantine.restore", args, "admin", &t1, &err), BW_OK);
    json_decref(args);
    CHECK_EQ(bw_store_add_task(st, "nodeA", "update", NULL, "admin", &t2, &err), BW_OK);
    CHECK(t2 > t1);
    json_t *b = bw_store_take_tasks(st, "nodeB", &err);
    CHECK_EQ(json_array_size(b), 0);
    json_decref(b);
    json_t *a = bw_store_take_tasks(st, "nodeA", &err);
    CHECK_EQ(json_array_size(a), 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a, 0), "id")), t1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(json_array_get(a, 0), "args"), "id")), "q-1");
    json_decref(a);
    a = bw_store_take_tasks(st, "nodeA", &err); /* sent already */
    CHECK_EQ(json_array_size(a), 0);
    json_decref(a);
    CHECK_EQ(bw_store_task_result(st, "nodeB", t1, "done", "x", &err), BW_DECLINED);
    CHECK_EQ(bw_store_task_result(st, "nodeA", t1, "bogus", "x", &err), BW_ERR);
    CHECK_EQ(bw_store_task_result(st, "nodeA", t1, "done", "restored", &err), BW_OK);
    CHECK_EQ(bw_store_task_result(st, "nodeA", t2, "failed", "no update server", &err), BW_OK);
    json_t *l = bw_store_tasks(st, "nodeA", 10, &err);
    CHECK_EQ(json_array_size(l), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(l, 1), "state")), "done");
    CHECK_STR(json_string_value(json_object_get(json_array_get(l, 0), "state")), "failed");
    CHECK_STR(json_string_value(json_object_get(json_array_get(l, 0), "result")), "no update server");
    json_decref(l);
    l = bw_store_tasks(st, NULL, 1, &err);
    CHECK_EQ(json_array_size(l), 1);
    json_decref(l);
    bw_store_close(st);
}

TEST(policy_versions)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    int64_t v = 0;
    CHECK(bw_store_policy(st, "web", &err) == NULL);
    CHECK_STR(err.msg, "");
    CHECK_EQ(bw_store_set_policy(st, "web", "[icap]\nAction = deny\n", "admin", &v, &err), BW_OK);
    CHECK_EQ(v, 1);
    CHECK_EQ(bw_store_set_policy(st, "web", "[icap]\nAction = allow\n", "bob", &v, &err), BW_OK);
    CHECK_EQ(v, 2);
    CHECK_EQ(bw_store_set_policy(st, "mail'; --", "x", "admin", &v, &err), BW_OK);
    CHECK_EQ(v, 1);
    json_t *p = bw_store_policy(st, "web", &err);
    CHECK_EQ(json_integer_value(json_object_get(p, "version")), 2);
    CHECK_STR(json_string_value(json_object_get(p, "conf")), "[icap]\nAction = allow\n");
    CHECK_STR(json_string_value(json_object_get(p, "updated_by")), "bob");
    json_decref(p);
    json_t *all = bw_store_policies(st, &err);
    CHECK_EQ(json_array_size(all), 2);
    json_decref(all);
    bw_store_close(st);
}

TEST(users_and_lockout)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    CHECK_EQ(bw_store_user_count(st), 0);
    CHECK_EQ(bw_store_add_user(st, "alice", "admin", "$argon2id$x", &err), BW_OK);
    CHECK_EQ(bw_store_add_user(st, "alice", "viewer", "$argon2id$y", &err), BW_DECLINED);
    CHECK_EQ(bw_store_add_user(st, "eve", "root", "$argon2id$y", &err), BW_ERR);
    CHECK_EQ(bw_store_add_user(st, "bob", "viewer", "$argon2id$y", &err), BW_OK);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bw_store_login_failed(st, "alice", 5, 123456789, &err), BW_OK);
    json_t *u = bw_store_user(st, "alice", &err);
    CHECK_EQ(json_integer_value(json_object_get(u, "failures")), 4);
    CHECK(json_is_null(json_object_get(u, "locked_until")));
    json_decref(u);
    CHECK_EQ(bw_store_login_failed(st, "alice", 5, 123456789, &err), BW_OK);
    u = bw_store_user(st, "alice", &err);
    CHECK_EQ(json_integer_value(json_object_get(u, "locked_until")), 123456789);
    CHECK_STR(json_string_value(json_object_get(u, "pwhash")), "$argon2id$x");
    json_decref(u);
    CHECK_EQ(bw_store_login_ok(st, "alice", &err), BW_OK);
    u = bw_store_user(st, "alice", &err);
    CHECK_EQ(json_integer_value(json_object_get(u, "failures")), 0);
    CHECK(json_is_null(json_object_get(u, "locked_until")));
    json_decref(u);
    CHECK_EQ(bw_store_login_failed(st, "nobody", 5, 1, &err), BW_DECLINED);
    CHECK_EQ(bw_store_set_password(st, "bob", "$argon2id$z", &err), BW_OK);
    json_t *l = bw_store_users(st, &err);
    CHECK_EQ(json_array_size(l), 2);
    CHECK(json_object_get(json_array_get(l, 0), "pwhash") == NULL);
    json_decref(l);
    CHECK_EQ(bw_store_delete_user(st, "bob", &err), BW_OK);
    CHECK_EQ(bw_store_delete_user(st, "bob", &err), BW_DECLINED);
    CHECK_EQ(bw_store_user_count(st), 1);
    CHECK(bw_store_user(st, "bob", &err) == NULL);
    bw_store_close(st);
}

TEST(sessions_expire)
{
    bw_store_t *st = open_store();
    bw_err_t err = { { 0 } };
    int64_t now = (int64_t)time(NULL) * 1000000;
    bw_store_add_user(st, "alice", "viewer", "h", &err);
    CHECK_EQ(bw_store_add_session(st, "live", "alice", "csrf1", now + H, &err), BW_OK);
    CHECK_EQ(bw_store_add_session(st, "dead", "alice", "csrf2", now - 1, &err), BW_OK);
    json_t *s = bw_store_session(st, "live", &err);
    CHECK_STR(json_string_value(json_object_get(s, "user")), "alice");
    CHECK_STR(json_string_value(json_object_get(s, "role")), "viewer");
    CHECK_STR(json_string_value(json_object_get(s, "csrf")), "csrf1");
    json_decref(s);
    CHECK(bw_store_session(st, "dead", &err) == NULL);
    CHECK(bw_store_session(st, "' OR '1'='1", &err) == NULL);
    CHECK_EQ(bw_store_delete_session(st, "live", &err), BW_OK);
    CHECK(bw_store_session(st, "live", &err) == NULL);
    /* deleting a user ends their sessions */
    CHECK_EQ(bw_store_add_session(st, "s3", "alice", "c", now + H, &err), BW_OK);
    CHECK_EQ(bw_store_delete_user(st, "alice", &err), BW_OK);
    CHECK(bw_store_session(st, "s3", &err) == NULL);
    bw_store_close(st);
}

struct par { bw_store_t *st; int k; int rc; size_t added; };

static void *par_add(void *arg)
{
    struct par *p = arg;
    enum { B = 50 };
    tev_t e[B];
    for (int round = 0; round < 4; round++) {
        /* Threads overlap: ids k*100 + [0,150) so neighbours share 50. */
        for (int i = 0; i < B; i++)
            tev_make(&e[i], 100000 + p->k * 100 + round * 37 % 100 + i, 4000 * H, "n", "icap",
                     "detection", 3, "Par", "c", NULL, NULL, NULL);
        size_t a = 0;
        if (add(p->st, e, B, &a, NULL) != BW_OK)
            p->rc = BW_ERR;
        p->added += a;
        tev_free(e, B);
    }
    return NULL;
}

TEST(concurrent_batches_count_once)
{
    bw_store_t *st = open_store();
    enum { T = 4 };
    pthread_t th[T];
    struct par p[T];
    for (int k = 0; k < T; k++) {
        p[k] = (struct par){ st, k, BW_OK, 0 };
        pthread_create(&th[k], NULL, par_add, &p[k]);
    }
    size_t total = 0;
    for (int k = 0; k < T; k++) {
        pthread_join(th[k], NULL);
        CHECK_EQ(p[k].rc, BW_OK);
        total += p[k].added;
    }
    /* distinct ids: union of [k*100 + r*37%100, +50) */
    char seen[1000] = { 0 };
    size_t distinct = 0;
    for (int k = 0; k < T; k++)
        for (int r = 0; r < 4; r++)
            for (int i = 0; i < 50; i++) {
                int id = k * 100 + r * 37 % 100 + i;
                distinct += !seen[id];
                seen[id] = 1;
            }
    CHECK_EQ(total, distinct);
    CHECK_EQ(bw_store_event_count(st), (int64_t)distinct);
    bw_err_t err = { { 0 } };
    json_t *s = bw_store_stats(st, 4000 * H, 4001 * H, 3600, 5, &err);
    CHECK_EQ(json_integer_value(json_object_get(json_object_get(s, "totals"), "events")), (int64_t)distinct);
    json_decref(s);
    bw_store_close(st);
}

int main(void)
{
    (void)t_run; /* the cases run once per engine, by the loop below */
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/bw-store-XXXXXX", dir);
    if (!mkdtemp(g_tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    const char *only = getenv("BW_TEST_STORE"), *pg = getenv("BW_TEST_PG_URL");
    const char *case_only = getenv("T_ONLY");
    int failed = 0;
    for (int engine = 0; engine < 2; engine++) {
        const char *label = engine ? "pg" : "sqlite";
        if (only && strcmp(only, label))
            continue;
        if (engine && (!pg || !*pg))
            continue;
        g_url = engine ? pg : "sqlite";
        for (int i = 0; i < t_ncases; i++) {
            if (case_only && strcmp(case_only, t_cases[i].name))
                continue;
            t_failed_now = 0;
            t_cases[i].fn();
            printf("%sok - %s: %s\n", t_failed_now ? "not " : "", label, t_cases[i].name);
            fflush(stdout);
            failed += t_failed_now;
        }
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmpdir);
    return failed ? 1 : 0;
}
