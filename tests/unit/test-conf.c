/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration machinery against a sample schema shaped like the
 * daemon's and the policy's real tables: every type, repeatable keys, groups
 * with inheritance, every error's file:line, and reload safety. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "t.h"

/* ---- the sample schema ------------------------------------------------- */

typedef struct hostport {
    char host[64];
    unsigned port;
} hostport_t;

static int parse_hostport(const bw_conf_key_t *k, const char *v, void *dst, bw_err_t *err)
{
    hostport_t *hp = dst;
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || (size_t)(colon - v) >= sizeof hp->host)
        return bw_err_set(err, "'%s' is not an address (expected HOST:PORT)", v);
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || port == 0 || port > 65535)
        return bw_err_set(err, "bad port in '%s' (expected 1..65535)", v);
    memcpy(hp->host, v, (size_t)(colon - v));
    hp->host[colon - v] = '\0';
    hp->port = (unsigned)port;
    return BW_OK;
}

/* A custom value that owns heap memory, to prove hooks free what they made. */
static int parse_dup(const bw_conf_key_t *k, const char *v, void *dst, bw_err_t *err)
{
    if (!strcmp(v, "bad"))
        return bw_err_set(err, "'bad' is refused (expected anything else)");
    char *s = strdup(v);
    memcpy(dst, &s, sizeof s);
    return s ? BW_OK : BW_ERR;
}

static void free_dup(const bw_conf_key_t *k, void *dst)
{
    char *s;
    memcpy(&s, dst, sizeof s);
    free(s);
}

typedef struct net_conf {
    bw_conf_list_t listen; /* hostport_t */
    uint64_t timeout_ms;
    uint64_t preview;
    int64_t max_conn;
    int64_t offset;
    bool allow204;
    char *resp_url;
    char *bases;
    uint64_t children;
    char *tag; /* custom, heap */
} net_conf_t;

static const bw_conf_key_t net_keys[] = {
    {.section = "icapserver.network", .name = "ListenAddress", .type = BW_CONF_CUSTOM,
     .flags = BW_CONF_REPEATABLE, .def = "127.0.0.1:1344", .parse = parse_hostport,
     .size = sizeof(hostport_t), .offset = offsetof(net_conf_t, listen),
     .doc = "Address to listen on, HOST:PORT."},
    {.section = "icapserver.network", .name = "Timeout", .type = BW_CONF_DURATION, .def = "30s",
     .min = 1000, .max = 3600000, .offset = offsetof(net_conf_t, timeout_ms),
     .doc = "Idle connection timeout."},
    {.section = "icapserver.protocol", .name = "PreviewSize", .type = BW_CONF_SIZE, .def = "4K",
     .min = 0, .max = 65536, .offset = offsetof(net_conf_t, preview), .doc = "Preview bytes."},
    {.section = "icapserver.protocol", .name = "MaxConnections", .type = BW_CONF_INT,
     .def = "1000", .min = 1, .max = 100000, .offset = offsetof(net_conf_t, max_conn),
     .doc = "Concurrent connections."},
    {.section = "icapserver.protocol", .name = "ClockOffset", .type = BW_CONF_INT, .def = "-5",
     .offset = offsetof(net_conf_t, offset), .doc = "Signed, unbounded."},
    {.section = "icapserver.protocol", .name = "Allow204", .type = BW_CONF_BOOL, .def = "yes",
     .offset = offsetof(net_conf_t, allow204), .doc = "Answer 204."},
    {.section = "icapserver.protocol", .name = "RespModeServiceUrl", .type = BW_CONF_STRING,
     .def = "av/respmod", .min = 1, .max = 16, .offset = offsetof(net_conf_t, resp_url),
     .doc = "RESPMOD service path."},
    {.section = "path", .name = "BasesPath", .type = BW_CONF_PATH, .def = "/var/lib/bulwark",
     .offset = offsetof(net_conf_t, bases), .doc = "Databases."},
    {.section = "icapserver.process", .name = "MaxChildren", .type = BW_CONF_UINT, .def = "4",
     .min = 1, .max = 64, .offset = offsetof(net_conf_t, children), .doc = "Workers."},
    {.section = "icapserver.process", .name = "Tag", .type = BW_CONF_CUSTOM, .parse = parse_dup,
     .free = free_dup, .size = sizeof(char *), .offset = offsetof(net_conf_t, tag),
     .doc = "A heap-owning custom value."},
};

static const bw_conf_table_t net_table = {
    .name = "net", .struct_size = sizeof(net_conf_t), .keys = net_keys,
    .nkeys = BW_CONF_NKEYS(net_keys)};

enum { ACT_SKIP, ACT_DENY, ACT_CURE };
static const bw_conf_enum_t actions[] = {
    {"skip", ACT_SKIP}, {"deny", ACT_DENY}, {"cure", ACT_CURE}, {NULL, 0}};

typedef struct groups_conf {
    int64_t priority;
    bw_conf_list_t client_ip; /* char * */
    bw_conf_list_t url;       /* char * */
} groups_conf_t;

static const bw_conf_key_t group_keys[] = {
    {.section = "icapserver.groups", .name = "Priority", .type = BW_CONF_INT, .def = "0",
     .min = 0, .max = 1000, .flags = BW_CONF_GROUPABLE,
     .offset = offsetof(groups_conf_t, priority), .doc = "Higher wins."},
    {.section = "icapserver.groups", .name = "ClientIP", .type = BW_CONF_STRING,
     .flags = BW_CONF_GROUPABLE | BW_CONF_REPEATABLE, .offset = offsetof(groups_conf_t, client_ip),
     .doc = "Client address or range."},
    {.section = "icapserver.groups", .name = "URL", .type = BW_CONF_STRING,
     .flags = BW_CONF_GROUPABLE | BW_CONF_REPEATABLE, .offset = offsetof(groups_conf_t, url),
     .doc = "URL pattern."},
};

static const bw_conf_table_t groups_table = {
    .name = "groups", .struct_size = sizeof(groups_conf_t), .keys = group_keys,
    .nkeys = BW_CONF_NKEYS(group_keys)};

typedef struct policy_conf {
    int infected, suspicious;
    bw_conf_list_t exclude_mime; /* char * */
    uint64_t max_req;
    bool cure;
    uint64_t min_len; /* checked: min_len <= max_req */
} policy_conf_t;

static int policy_check(const void *conf, const char *group, bw_err_t *err)
{
    const policy_conf_t *p = conf;
    if (p->min_len > p->max_req)
        return bw_err_set(err, "MinLength is above MaxReqLength");
    return BW_OK;
}

static const bw_conf_key_t policy_keys[] = {
    {.section = "icapserver.actions", .name = "InfectedAction", .type = BW_CONF_ENUM,
     .def = "deny", .words = actions, .flags = BW_CONF_GROUPABLE,
     .offset = offsetof(policy_conf_t, infected), .doc = "What to do with INFECTED."},
    {.section = "icapserver.actions", .name = "SuspiciousAction", .type = BW_CONF_ENUM,
     .def = "deny", .words = actions, .flags = BW_CONF_GROUPABLE,
     .offset = offsetof(policy_conf_t, suspicious), .doc = "What to do with SUSPICIOUS."},
    {.section = "icapserver.filter", .name = "ExcludeMimeType", .type = BW_CONF_STRING,
     .def = "^audio/\n^video/", .flags = BW_CONF_GROUPABLE | BW_CONF_REPEATABLE,
     .offset = offsetof(policy_conf_t, exclude_mime), .doc = "Never scanned."},
    {.section = "icapserver.filter", .name = "MaxReqLength", .type = BW_CONF_SIZE, .def = "400M",
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(policy_conf_t, max_req),
     .doc = "Larger objects are TOO_LARGE."},
    {.section = "icapserver.filter", .name = "MinLength", .type = BW_CONF_SIZE, .def = "0",
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(policy_conf_t, min_len),
     .doc = "Cross-checked."},
    {.section = "icapserver.engine.options", .name = "Cure", .type = BW_CONF_BOOL, .def = "no",
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(policy_conf_t, cure), .doc = "Try to cure."},
};

static const bw_conf_table_t policy_table = {
    .name = "policy", .struct_size = sizeof(policy_conf_t), .keys = policy_keys,
    .nkeys = BW_CONF_NKEYS(policy_keys), .groups_from = "icapserver.groups",
    .check = policy_check};

static const bw_conf_table_t *const tables[] = {&net_table, &groups_table, &policy_table};
static const bw_conf_schema_t schema = {tables, 3};

/* ---- helpers ----------------------------------------------------------- */

static bw_err_t err;

static bw_conf_state_t *load(const char *text)
{
    bw_conf_state_t *st = NULL;
    err.msg[0] = '\0';
    if (bw_conf_load_buf(&schema, "/etc/bulwark/t.conf", text, strlen(text), &st, &err))
        return NULL;
    return st;
}

/* Loads text that must fail; returns the message. */
static const char *load_err(const char *text)
{
    bw_conf_state_t *st = load(text);
    if (st) {
        bw_conf_free(st);
        return "(loaded fine)";
    }
    return err.msg;
}

static const net_conf_t *net(const bw_conf_state_t *st)
{
    return bw_conf_get(st, &net_table, NULL);
}

#define HP(list, i) (&BW_CONF_LIST_AT(list, hostport_t, i))
#define STR(list, i) (BW_CONF_LIST_AT(list, char *, i))

/* ---- defaults ---------------------------------------------------------- */

TEST(empty_file_gives_every_default)
{
    bw_conf_state_t *st = load("");
    CHECK(st != NULL);
    if (!st)
        return;
    const net_conf_t *n = net(st);
    CHECK_EQ(n->listen.n, 1);
    CHECK_STR(HP(&n->listen, 0)->host, "127.0.0.1");
    CHECK_EQ(HP(&n->listen, 0)->port, 1344);
    CHECK_EQ(n->timeout_ms, 30000);
    CHECK_EQ(n->preview, 4096);
    CHECK_EQ(n->max_conn, 1000);
    CHECK_EQ(n->offset, -5);
    CHECK(n->allow204);
    CHECK_STR(n->resp_url, "av/respmod");
    CHECK_STR(n->bases, "/var/lib/bulwark");
    CHECK_EQ(n->children, 4);
    CHECK(n->tag == NULL);
    const policy_conf_t *p = bw_conf_get(st, &policy_table, NULL);
    CHECK_EQ(p->infected, ACT_DENY);
    CHECK_EQ(p->exclude_mime.n, 2);
    CHECK_STR(STR(&p->exclude_mime, 0), "^audio/");
    CHECK_STR(STR(&p->exclude_mime, 1), "^video/");
    CHECK(STR(&p->exclude_mime, 2) == NULL); /* NULL-terminated */
    CHECK_EQ(p->max_req, 400ull << 20);
    const groups_conf_t *g = bw_conf_get(st, &groups_table, NULL);
    CHECK_EQ(g->client_ip.n, 0);
    CHECK(g->client_ip.items == NULL);
    CHECK(!bw_conf_is_set(st, &net_table, NULL, "Timeout"));
    CHECK_EQ(bw_conf_group_count(st, &policy_table), 0);
    bw_conf_free(st);
}

TEST(each_table_alone_loads_its_defaults)
{
    /* The check every module's table gets: an empty file must load. */
    for (size_t i = 0; i < schema.ntables; i++) {
        bw_conf_schema_t one = {&tables[i], 1};
        bw_conf_state_t *st = NULL;
        CHECK_EQ(bw_conf_load_buf(&one, "empty.conf", "", 0, &st, &err), BW_OK);
        CHECK(bw_conf_get(st, tables[i], NULL) != NULL);
        bw_conf_free(st);
    }
}

TEST(bad_default_is_caught_by_loading_empty_file)
{
    static const bw_conf_key_t bad[] = {
        {.section = "s", .name = "K", .type = BW_CONF_UINT, .def = "12x",
         .offset = 0, .doc = "bad default"}};
    static const bw_conf_table_t t = {.name = "broken", .struct_size = sizeof(uint64_t),
                                      .keys = bad, .nkeys = 1};
    const bw_conf_table_t *tl[] = {&t};
    bw_conf_schema_t s = {tl, 1};
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_buf(&s, "e.conf", "", 0, &st, &err), BW_ERR);
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "table broken: [s] K: bad default '12x'");
}

TEST(schema_check_rejects_broken_tables)
{
    static const bw_conf_key_t dup[] = {
        {.section = "s", .name = "K", .type = BW_CONF_BOOL, .offset = 0},
        {.section = "S", .name = "k", .type = BW_CONF_BOOL, .offset = 1}};
    static const bw_conf_table_t t1 = {.name = "dup", .struct_size = 8, .keys = dup, .nkeys = 2};
    static const bw_conf_key_t off[] = {
        {.section = "s", .name = "K", .type = BW_CONF_UINT, .offset = 8}};
    static const bw_conf_table_t t2 = {.name = "off", .struct_size = 8, .keys = off, .nkeys = 1};
    static const bw_conf_key_t en[] = {{.section = "s", .name = "K", .type = BW_CONF_ENUM}};
    static const bw_conf_table_t t3 = {.name = "enum", .struct_size = 8, .keys = en, .nkeys = 1};
    const bw_conf_table_t *l1[] = {&t1}, *l2[] = {&t2}, *l3[] = {&t3};
    bw_conf_schema_t s1 = {l1, 1}, s2 = {l2, 1}, s3 = {l3, 1};
    CHECK_EQ(bw_conf_schema_check(&s1, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "also declared");
    CHECK_EQ(bw_conf_schema_check(&s2, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "does not fit");
    CHECK_EQ(bw_conf_schema_check(&s3, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "enum without words");
    CHECK_EQ(bw_conf_schema_check(&schema, &err), BW_OK);
}

/* ---- types ------------------------------------------------------------- */

TEST(bool_values)
{
    const char *yes[] = {"yes", "true", "on", "1", "YES", "True"};
    const char *no[] = {"no", "false", "off", "0", "Off"};
    char text[128];
    for (size_t i = 0; i < 6; i++) {
        snprintf(text, sizeof text, "[icapserver.protocol]\nAllow204 = %s\n", yes[i]);
        bw_conf_state_t *st = load(text);
        CHECK(st && net(st)->allow204);
        bw_conf_free(st);
    }
    for (size_t i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "[icapserver.protocol]\nAllow204 = %s\n", no[i]);
        bw_conf_state_t *st = load(text);
        CHECK(st && !net(st)->allow204);
        bw_conf_free(st);
    }
    CHECK_STR(load_err("[icapserver.protocol]\nAllow204 = maybe\n"),
              "/etc/bulwark/t.conf:2: Allow204: 'maybe' is not a boolean (expected yes or no)");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nAllow204 =\n"), "t.conf:2: Allow204: ''");
}

TEST(int_values_and_bounds)
{
    bw_conf_state_t *st = load("[icapserver.protocol]\nMaxConnections = 100000\nClockOffset = "
                               "-9223372036854775808\n");
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(net(st)->max_conn, 100000);
        CHECK(net(st)->offset == INT64_MIN);
    }
    bw_conf_free(st);
    CHECK_STR(load_err("[icapserver.protocol]\nMaxConnections = 0\n"),
              "/etc/bulwark/t.conf:2: MaxConnections: '0' is out of range "
              "(expected an integer in 1..100000)");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nMaxConnections = 100001\n"), "out of range");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nMaxConnections = 12abc\n"),
                   "'12abc' is not an integer");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nClockOffset = 9223372036854775808\n"),
                   "out of the 64-bit range");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nClockOffset = -\n"), "not an integer");
}

TEST(uint_values)
{
    bw_conf_state_t *st = load("[icapserver.process]\nMaxChildren = +64\n");
    CHECK(st && net(st)->children == 64);
    bw_conf_free(st);
    CHECK_CONTAINS(load_err("[icapserver.process]\nMaxChildren = -1\n"), "'-1' is not a number");
    CHECK_CONTAINS(load_err("[icapserver.process]\nMaxChildren = 65\n"),
                   "expected a number in 1..64");
    CHECK_CONTAINS(load_err("[icapserver.process]\nMaxChildren = 99999999999999999999\n"),
                   "too large");
}

TEST(size_values)
{
    uint64_t v = 0;
    CHECK_EQ(bw_conf_parse_size("400M", &v, &err), BW_OK);
    CHECK_EQ(v, 400ull << 20);
    CHECK_EQ(bw_conf_parse_size("1k", &v, &err), BW_OK);
    CHECK_EQ(v, 1024);
    CHECK_EQ(bw_conf_parse_size("2GiB", &v, &err), BW_OK);
    CHECK_EQ(v, 2ull << 30);
    CHECK_EQ(bw_conf_parse_size("10KB", &v, &err), BW_OK);
    CHECK_EQ(v, 10240);
    CHECK_EQ(bw_conf_parse_size("3T", &v, &err), BW_OK);
    CHECK_EQ(v, 3ull << 40);
    CHECK_EQ(bw_conf_parse_size("77", &v, &err), BW_OK);
    CHECK_EQ(v, 77);
    CHECK_EQ(bw_conf_parse_size("10X", &v, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "'10X' is not a size (expected");
    CHECK_EQ(bw_conf_parse_size("M", &v, &err), BW_ERR);
    CHECK_EQ(bw_conf_parse_size("1.5G", &v, &err), BW_ERR);
    CHECK_EQ(bw_conf_parse_size("99999999999T", &v, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "too large");
    bw_conf_state_t *st = load("[icapserver.protocol]\nPreviewSize = 64K\n");
    CHECK(st && net(st)->preview == 65536);
    bw_conf_free(st);
    CHECK_STR(load_err("[icapserver.protocol]\nPreviewSize = 65537\n"),
              "/etc/bulwark/t.conf:2: PreviewSize: '65537' is out of range "
              "(expected a size such as 400M in 0..64K)");
}

TEST(duration_values)
{
    uint64_t v = 0;
    CHECK_EQ(bw_conf_parse_duration("500ms", &v, &err), BW_OK);
    CHECK_EQ(v, 500);
    CHECK_EQ(bw_conf_parse_duration("30", &v, &err), BW_OK); /* plain = seconds */
    CHECK_EQ(v, 30000);
    CHECK_EQ(bw_conf_parse_duration("5m", &v, &err), BW_OK);
    CHECK_EQ(v, 300000);
    CHECK_EQ(bw_conf_parse_duration("1h", &v, &err), BW_OK);
    CHECK_EQ(v, 3600000);
    CHECK_EQ(bw_conf_parse_duration("2d", &v, &err), BW_OK);
    CHECK_EQ(v, 2ull * 86400000);
    CHECK_EQ(bw_conf_parse_duration("3x", &v, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "'3x' is not a duration");
    CHECK_EQ(bw_conf_parse_duration("s", &v, &err), BW_ERR);
    CHECK_EQ(bw_conf_parse_duration("99999999999999999d", &v, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "too large");
    bw_conf_state_t *st = load("[icapserver.network]\nTimeout = 1500ms\n");
    CHECK(st && net(st)->timeout_ms == 1500);
    bw_conf_free(st);
    CHECK_STR(load_err("[icapserver.network]\nTimeout = 999ms\n"),
              "/etc/bulwark/t.conf:2: Timeout: '999ms' is out of range "
              "(expected a duration such as 30s in 1s..1h)");
}

TEST(string_values_and_length_bounds)
{
    bw_conf_state_t *st = load("[icapserver.protocol]\nRespModeServiceUrl = x/y z\n");
    CHECK(st && !strcmp(net(st)->resp_url, "x/y z"));
    bw_conf_free(st);
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nRespModeServiceUrl =\n"),
                   "t.conf:2: RespModeServiceUrl: 0 bytes is the wrong length "
                   "(expected text of 1..16");
    CHECK_CONTAINS(load_err("[icapserver.protocol]\nRespModeServiceUrl = 12345678901234567\n"),
                   "17 bytes");
}

TEST(path_values_resolve_against_config_dir)
{
    bw_conf_state_t *st = load("[path]\nBasesPath = db/main\n");
    CHECK(st && !strcmp(net(st)->bases, "/etc/bulwark/db/main"));
    bw_conf_free(st);
    st = load("[path]\nBasesPath = /srv/db\n");
    CHECK(st && !strcmp(net(st)->bases, "/srv/db"));
    bw_conf_free(st);
    st = load("[path]\nBasesPath =\n");
    CHECK(st && !strcmp(net(st)->bases, ""));
    bw_conf_free(st);
    /* A relative config file name still yields an absolute directory. */
    char cwd[4096], want[4200];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(want, sizeof want, "%s/conf/db", cwd);
    st = NULL;
    const char *txt = "[path]\nBasesPath = db\n";
    CHECK_EQ(bw_conf_load_buf(&schema, "conf/b.conf", txt, strlen(txt), &st, &err), BW_OK);
    CHECK(st && !strcmp(net(st)->bases, want));
    bw_conf_free(st);
}

TEST(enum_values)
{
    bw_conf_state_t *st = load("[icapserver.actions]\nInfectedAction = CURE\n");
    const policy_conf_t *p = st ? bw_conf_get(st, &policy_table, NULL) : NULL;
    CHECK(p && p->infected == ACT_CURE && p->suspicious == ACT_DENY);
    bw_conf_free(st);
    CHECK_STR(load_err("[icapserver.actions]\nInfectedAction = block\n"),
              "/etc/bulwark/t.conf:2: InfectedAction: 'block' is not a valid value "
              "(expected one of skip|deny|cure)");
}

TEST(custom_values_and_their_errors)
{
    bw_conf_state_t *st = load("[icapserver.process]\nTag = hello\n");
    CHECK(st && net(st)->tag && !strcmp(net(st)->tag, "hello"));
    bw_conf_free(st); /* ASan checks the free hook ran */
    CHECK_STR(load_err("[icapserver.process]\nTag = bad\n"),
              "/etc/bulwark/t.conf:2: Tag: 'bad' is refused (expected anything else)");
    CHECK_STR(load_err("[icapserver.network]\nListenAddress = 127.0.0.1:0\n"),
              "/etc/bulwark/t.conf:2: ListenAddress: bad port in '127.0.0.1:0' "
              "(expected 1..65535)");
}

/* ---- repeatable and duplicate keys ------------------------------------- */

TEST(repeatable_keys_replace_default_then_accumulate)
{
    bw_conf_state_t *st = load("[icapserver.network]\n"
                               "ListenAddress = 0.0.0.0:1344\n"
                               "ListenAddress = [::1]:1344\n"
                               "Timeout = 10\n"
                               "ListenAddress = 10.0.0.1:11344\n");
    CHECK(st != NULL);
    if (!st)
        return;
    const net_conf_t *n = net(st);
    CHECK_EQ(n->listen.n, 3);
    CHECK_STR(HP(&n->listen, 0)->host, "0.0.0.0");
    CHECK_STR(HP(&n->listen, 1)->host, "[::1]");
    CHECK_EQ(HP(&n->listen, 2)->port, 11344);
    CHECK_EQ(HP(&n->listen, 3)->port, 0); /* the zeroed terminator */
    CHECK_EQ(bw_conf_line(st, &net_table, NULL, "ListenAddress"), 2);
    bw_conf_free(st);
    CHECK_CONTAINS(load_err("[icapserver.network]\nListenAddress = a:1\nListenAddress = nope\n"),
                   "t.conf:3: ListenAddress: 'nope' is not an address");
}

TEST(duplicate_key_names_both_lines)
{
    CHECK_STR(load_err("[icapserver.network]\nTimeout = 5\n\n[icapserver.protocol]\n"
                       "Allow204 = no\n[icapserver.network]\ntimeout = 6\n"),
              "/etc/bulwark/t.conf:7: Timeout: given twice (first at line 2)");
}

/* ---- unknown names, syntax --------------------------------------------- */

TEST(unknown_key_with_suggestion)
{
    CHECK_STR(load_err("# comment\n[icapserver.network]\nListenAdress = 1.2.3.4:5\n"),
              "/etc/bulwark/t.conf:3: [icapserver.network] ListenAdress: unknown key "
              "(did you mean ListenAddress?)");
    CHECK_STR(load_err("[icapserver.network]\nPreviewSize = 4K\n"),
              "/etc/bulwark/t.conf:2: [icapserver.network] PreviewSize: unknown key "
              "(PreviewSize belongs in [icapserver.protocol])");
    CHECK_STR(load_err("[icapserver.network]\nCompletelyDifferent = 1\n"),
              "/etc/bulwark/t.conf:2: [icapserver.network] CompletelyDifferent: unknown key");
}

TEST(unknown_section_with_suggestion)
{
    CHECK_STR(load_err("\n\n[icapserver.netwrok]\n"),
              "/etc/bulwark/t.conf:3: [icapserver.netwrok]: unknown section "
              "(did you mean [icapserver.network]?)");
    CHECK_STR(load_err("[zzz]\nA = 1\n"), "/etc/bulwark/t.conf:1: [zzz]: unknown section");
}

TEST(key_outside_section)
{
    CHECK_STR(load_err("Timeout = 5\n"),
              "/etc/bulwark/t.conf:1: Timeout: key outside of any [section]");
}

TEST(inih_syntax_errors_carry_the_line)
{
    CHECK_STR(load_err("[icapserver.network]\nTimeout = 5\nthis is not a key\n"),
              "/etc/bulwark/t.conf:3: syntax error in 'this is not a key' "
              "(expected [section] or Key = value)");
    CHECK_STR(load_err("[icapserver.network\n"),
              "/etc/bulwark/t.conf:1: section header without a closing ']'");
    CHECK_STR(load_err("[path] junk\n"), "/etc/bulwark/t.conf:1: unexpected text after ']'");
    CHECK_CONTAINS(load_err("[path]\nBasesPath = x\0y\n"), "(loaded fine)"); /* strlen stops */
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "n.conf", "[path]\nBasesPath = x\0y\n", 22, &st, &err),
             BW_ERR);
    CHECK_STR(err.msg, "n.conf:2: NUL byte in line");
}

TEST(comments_inline_comments_colon_and_case)
{
    bw_conf_state_t *st = load("\xEF\xBB\xBF; leading comment\n"
                               "# hash comment\n"
                               "[ICAPSERVER.Network]   ; section comment\n"
                               "timeout = 7 ; seven seconds\n"
                               "   ListenAddress: h:1 # indented, colon form\n"
                               "[icapserver.protocol]\n"
                               "RespModeServiceUrl = a#b;c\n");
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK_EQ(net(st)->timeout_ms, 7000);
    CHECK_EQ(net(st)->listen.n, 1);
    CHECK_STR(HP(&net(st)->listen, 0)->host, "h");
    CHECK_STR(net(st)->resp_url, "a#b;c"); /* no blank before: not a comment */
    bw_conf_free(st);
}

TEST(indented_line_is_not_a_continuation)
{
    /* With inih's multi-line values this would append to Timeout. */
    CHECK_STR(load_err("[icapserver.network]\nTimeout = 5\n    Timeout = 6\n"),
              "/etc/bulwark/t.conf:3: Timeout: given twice (first at line 2)");
    CHECK_CONTAINS(load_err("[icapserver.network]\nTimeout = 5\n    more\n"),
                   "t.conf:3: syntax error in 'more'");
}

TEST(crlf_file)
{
    bw_conf_state_t *st = load("[icapserver.network]\r\nTimeout = 9\r\n\r\n"
                               "[icapserver.protocol]\r\nRespModeServiceUrl = crlf\r\n");
    CHECK(st != NULL);
    if (st) {
        CHECK_EQ(net(st)->timeout_ms, 9000);
        CHECK_STR(net(st)->resp_url, "crlf");
    }
    bw_conf_free(st);
    CHECK_STR(load_err("[icapserver.network]\r\n\r\nTimeout = x\r\n"),
              "/etc/bulwark/t.conf:3: Timeout: 'x' is not a duration (expected a number with an "
              "optional ms, s, m, h or d suffix; a plain number is seconds)");
}

TEST(very_long_lines)
{
    size_t n = BW_CONF_MAX_LINE + 100;
    char *text = malloc(n + 200);
    /* The longest accepted line: a group URL pattern. */
    int h = sprintf(text, "[icapserver.groups:big]\n");
    int k = sprintf(text + h, "URL = ");
    size_t vlen = BW_CONF_MAX_LINE - (size_t)k;
    memset(text + h + k, 'a', vlen);
    strcpy(text + h + k + vlen, "\nPriority = 3\n");
    bw_conf_state_t *st = load(text);
    CHECK(st != NULL);
    if (st) {
        const groups_conf_t *g = bw_conf_get(st, &groups_table, "big");
        CHECK(g && g->url.n == 1 && strlen(STR(&g->url, 0)) == vlen && g->priority == 3);
    }
    bw_conf_free(st);
    /* One byte more is an error that names the line, and nothing reads past it. */
    memset(text + h + k, 'a', vlen + 1);
    strcpy(text + h + k + vlen + 1, "\nPriority = 3\n");
    CHECK_STR(load_err(text), "/etc/bulwark/t.conf:2: line is longer than 8192 bytes");
    free(text);
}

/* ---- groups ------------------------------------------------------------ */

static const char *group_conf =
    "[icapserver.groups:kids]\n"         /* 1 */
    "Priority = 10\n"                    /* 2 */
    "ClientIP = 10.0.0.0/8\n"            /* 3 */
    "ClientIP = 192.168.1.5\n"           /* 4 */
    "[icapserver.groups:staff]\n"        /* 5 */
    "[icapserver.actions]\n"             /* 6 */
    "SuspiciousAction = skip\n"          /* 7 */
    "[icapserver.filter]\n"              /* 8 */
    "ExcludeMimeType = ^image/\n"        /* 9 */
    "[icapserver.actions:kids]\n"        /* 10 */
    "InfectedAction = cure\n"            /* 11 */
    "[icapserver.filter:kids]\n"         /* 12 */
    "MaxReqLength = 1M\n"                /* 13 */
    "[icapserver.engine.options:staff]\n" /* 14 */
    "Cure = yes\n";                      /* 15 */

TEST(groups_override_and_inherit)
{
    bw_conf_state_t *st = load(group_conf);
    CHECK(st != NULL);
    if (!st)
        return;
    const policy_conf_t *base = bw_conf_get(st, &policy_table, NULL);
    const policy_conf_t *kids = bw_conf_get(st, &policy_table, "kids");
    const policy_conf_t *staff = bw_conf_get(st, &policy_table, "staff");
    const policy_conf_t *other = bw_conf_get(st, &policy_table, "nobody");
    CHECK(kids != base && staff != base && other == base);
    CHECK_EQ(base->infected, ACT_DENY);
    CHECK_EQ(kids->infected, ACT_CURE);     /* its own */
    CHECK_EQ(kids->suspicious, ACT_SKIP);   /* the base section's explicit value */
    CHECK_EQ(kids->max_req, 1u << 20);
    CHECK_EQ(staff->max_req, 400ull << 20); /* the default */
    CHECK(staff->cure && !kids->cure && !base->cure);
    CHECK_EQ(kids->exclude_mime.n, 1);      /* inherited list, own copy */
    CHECK_STR(STR(&kids->exclude_mime, 0), "^image/");
    CHECK(STR(&kids->exclude_mime, 0) != STR(&base->exclude_mime, 0));
    CHECK(bw_conf_is_set(st, &policy_table, "kids", "InfectedAction"));
    CHECK(!bw_conf_is_set(st, &policy_table, "kids", "SuspiciousAction"));
    CHECK_EQ(bw_conf_line(st, &policy_table, "staff", "Cure"), 15);
    const groups_conf_t *gk = bw_conf_get(st, &groups_table, "kids");
    CHECK(gk && gk->priority == 10 && gk->client_ip.n == 2);
    CHECK_STR(STR(&gk->client_ip, 1), "192.168.1.5");
    CHECK_EQ(bw_conf_group_count(st, &groups_table), 2);
    CHECK_STR(bw_conf_group_name(st, &groups_table, 0), "kids");
    CHECK_STR(bw_conf_group_name(st, &groups_table, 1), "staff");
    CHECK(bw_conf_group_name(st, &groups_table, 2) == NULL);
    unsigned line = 0;
    CHECK(bw_conf_has_group(st, "icapserver.filter", "kids", &line));
    CHECK_EQ(line, 12);
    CHECK(!bw_conf_has_group(st, "icapserver.filter", "staff", NULL));
    /* Tables that have no group sections answer with the base. */
    CHECK(bw_conf_get(st, &net_table, "kids") == net(st));
    bw_conf_free(st);
}

TEST(group_errors)
{
    CHECK_STR(load_err("[icapserver.groups:kids]\n[icapserver.actions:kdis]\n"
                       "InfectedAction = skip\n"),
              "/etc/bulwark/t.conf:2: [icapserver.actions:kdis]: group kdis is not defined "
              "(no [icapserver.groups:kdis] section)");
    CHECK_STR(load_err("[icapserver.network:kids]\n"),
              "/etc/bulwark/t.conf:1: [icapserver.network:kids]: section [icapserver.network] "
              "has no per-group keys");
    CHECK_CONTAINS(load_err("[icapserver.groups:a b]\n"), "t.conf:1: [icapserver.groups:a b]: "
                                                          "bad group name");
    CHECK_CONTAINS(load_err("[icapserver.groups:]\n"), "bad group name");
    CHECK_STR(load_err("[icapserver.groups:x]\n[icapserver.groups:x]\n"
                       "Priority = 1\nPriority = 2\n"),
              "/etc/bulwark/t.conf:4: Priority: given twice (first at line 3)");
}

TEST(non_groupable_key_in_group_section)
{
    static const bw_conf_key_t mixed[] = {
        {.section = "m", .name = "G", .type = BW_CONF_BOOL, .flags = BW_CONF_GROUPABLE,
         .offset = 0},
        {.section = "m", .name = "Global", .type = BW_CONF_BOOL, .offset = 1}};
    static const bw_conf_table_t t = {.name = "mixed", .struct_size = 2, .keys = mixed,
                                      .nkeys = 2};
    const bw_conf_table_t *tl[] = {&t};
    bw_conf_schema_t s = {tl, 1};
    bw_conf_state_t *st = NULL;
    const char *txt = "[m]\nGlobal = yes\n[m:g1]\nG = yes\nGlobal = no\n";
    CHECK_EQ(bw_conf_load_buf(&s, "m.conf", txt, strlen(txt), &st, &err), BW_ERR);
    CHECK_STR(err.msg, "m.conf:5: [m:g1] Global: cannot be set per group (only in [m])");
    txt = "[m]\nGlobal = yes\n[m:g1]\nG = yes\n";
    CHECK_EQ(bw_conf_load_buf(&s, "m.conf", txt, strlen(txt), &st, &err), BW_OK);
    const bool *g1 = bw_conf_get(st, &t, "g1");
    CHECK(g1 && g1[0] && g1[1]); /* the non-groupable key carries the base value */
    bw_conf_free(st);
}

TEST(table_check_hook)
{
    CHECK_STR(load_err("[icapserver.groups:k]\n[icapserver.filter:k]\nMaxReqLength = 1K\n"
                       "MinLength = 2K\n"),
              "/etc/bulwark/t.conf: policy: group k: MinLength is above MaxReqLength");
    CHECK_STR(load_err("[icapserver.filter]\nMinLength = 1K\nMaxReqLength = 512\n"),
              "/etc/bulwark/t.conf: policy: MinLength is above MaxReqLength");
    CHECK_STR(load_err("[icapserver.filter]\nMinLength = 512\nMaxReqLength = 512\n"),
              "(loaded fine)");
}

/* ---- reload safety, files, dump, doc ----------------------------------- */

TEST(failed_load_leaves_previous_state_intact)
{
    bw_conf_state_t *a = load(group_conf);
    CHECK(a != NULL);
    if (!a)
        return;
    const policy_conf_t *kids = bw_conf_get(a, &policy_table, "kids");
    bw_conf_state_t *b = (bw_conf_state_t *)&err; /* a sentinel that must survive */
    const char *bad = "[icapserver.actions]\nInfectedAction = skip\nSuspiciousAction = nope\n";
    CHECK_EQ(bw_conf_load_buf(&schema, "b.conf", bad, strlen(bad), &b, &err), BW_ERR);
    CHECK(b == (bw_conf_state_t *)&err);
    CHECK_CONTAINS(err.msg, "b.conf:3: SuspiciousAction");
    CHECK_EQ(kids->infected, ACT_CURE);
    CHECK_STR(STR(&kids->exclude_mime, 0), "^image/");
    CHECK_EQ(((const policy_conf_t *)bw_conf_get(a, &policy_table, NULL))->infected, ACT_DENY);
    bw_conf_free(a);
}

TEST(load_from_file)
{
    char path[] = "/tmp/bw-test-conf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *txt = "[icapserver.network]\nTimeout = 2m\n[path]\nBasesPath = db\n";
    CHECK_EQ(write(fd, txt, strlen(txt)), (long long)strlen(txt));
    close(fd);
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load(&schema, path, &st, &err), BW_OK);
    CHECK(st && net(st)->timeout_ms == 120000);
    CHECK(st && !strcmp(net(st)->bases, "/tmp/db"));
    CHECK(st && !strcmp(bw_conf_source(st), path));
    bw_conf_free(st);
    unlink(path);
    st = NULL;
    CHECK_EQ(bw_conf_load(&schema, path, &st, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "cannot open: No such file or directory");
    CHECK(st == NULL);
}

static char *dump(const bw_conf_state_t *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || bw_conf_dump(&schema, st, f) != BW_OK)
        return NULL;
    fclose(f);
    return buf;
}

TEST(dump_prints_everything_and_round_trips)
{
    bw_conf_state_t *a = load(group_conf);
    CHECK(a != NULL);
    if (!a)
        return;
    char *d1 = dump(a);
    CHECK(d1 != NULL);
    if (!d1) {
        bw_conf_free(a);
        return;
    }
    CHECK_CONTAINS(d1, "[icapserver.network]\nListenAddress = 127.0.0.1:1344\nTimeout = 30s\n");
    CHECK_CONTAINS(d1, "BasesPath = /var/lib/bulwark\n");
    CHECK_CONTAINS(d1, "[icapserver.filter]\nExcludeMimeType = ^image/\n");
    CHECK_CONTAINS(d1, "[icapserver.groups:kids]\nPriority = 10\nClientIP = 10.0.0.0/8\n"
                       "ClientIP = 192.168.1.5\n");
    CHECK_CONTAINS(d1, "[icapserver.actions:kids]\nInfectedAction = cure\n");
    CHECK_CONTAINS(d1, "; ClientIP has no values\n");
    CHECK_CONTAINS(d1, "; Tag is not set\n");
    /* The dump loads back to the same configuration. */
    bw_conf_state_t *b = load(d1);
    CHECK(b != NULL);
    char *d2 = b ? dump(b) : NULL;
    const char *body1 = d1 ? strchr(d1, '\n') : NULL, *body2 = d2 ? strchr(d2, '\n') : NULL;
    CHECK(body1 && body2 && !strcmp(body1, body2));
    const policy_conf_t *k = b ? bw_conf_get(b, &policy_table, "kids") : NULL;
    CHECK(k && k->infected == ACT_CURE && k->suspicious == ACT_SKIP);
    free(d1);
    free(d2);
    bw_conf_free(a);
    bw_conf_free(b);
}

TEST(doc_lists_every_key)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_EQ(bw_conf_doc(&schema, f), BW_OK);
    fclose(f);
    for (size_t t = 0; t < schema.ntables; t++)
        for (size_t k = 0; k < tables[t]->nkeys; k++) {
            char want[128];
            snprintf(want, sizeof want, "| `%s` |", tables[t]->keys[k].name);
            CHECK_CONTAINS(buf, want);
        }
    CHECK_CONTAINS(buf, "### [icapserver.actions]\n\nKeys marked *per group* may also be set in "
                        "`[icapserver.actions:GROUP]`.");
    CHECK_CONTAINS(buf, "enum: skip\\|deny\\|cure; *per group* | `deny` |");
    CHECK_CONTAINS(buf, "duration: a duration such as 30s in 1s..1h | `30s` | "
                        "Idle connection timeout. |");
    CHECK_CONTAINS(buf, "`^audio/`, `^video/`");
    free(buf);
}

/* ---- overlay files (a console policy over bulwark.conf) ---------------- */

static bw_conf_state_t *load_over(const char *base, const char *over)
{
    bw_conf_state_t *st = NULL;
    err.msg[0] = '\0';
    if (bw_conf_load_buf_overlay(&schema, "/etc/bulwark/t.conf", base, strlen(base),
                                 "/var/lib/bulwark/policy.conf", over, strlen(over), &st, &err))
        return NULL;
    return st;
}

TEST(overlay_replaces_base_values_and_keeps_the_rest)
{
    bw_conf_state_t *st = load_over("[icapserver.network]\nTimeout = 2m\n"
                                    "[icapserver.actions]\nInfectedAction = deny\n"
                                    "SuspiciousAction = skip\n"
                                    "[icapserver.filter]\nExcludeMimeType = ^a/\n"
                                    "ExcludeMimeType = ^b/\n",
                                    "[icapserver.actions]\nInfectedAction = cure\n"
                                    "[icapserver.filter]\nExcludeMimeType = ^c/\n"
                                    "[icapserver.protocol]\nPreviewSize = 1K\n");
    CHECK(st != NULL);
    if (!st)
        return;
    const policy_conf_t *p = bw_conf_get(st, &policy_table, NULL);
    CHECK_EQ(p->infected, ACT_CURE);   /* replaced */
    CHECK_EQ(p->suspicious, ACT_SKIP); /* the base's, untouched */
    CHECK_EQ(p->exclude_mime.n, 1);    /* a list is replaced whole, not appended to */
    CHECK_STR(STR(&p->exclude_mime, 0), "^c/");
    CHECK_EQ(net(st)->timeout_ms, 120000);
    CHECK_EQ(net(st)->preview, 1024);  /* set only by the overlay */
    CHECK_EQ(bw_conf_line(st, &policy_table, NULL, "InfectedAction"), 2);
    CHECK_STR(bw_conf_overlay(st), "/var/lib/bulwark/policy.conf");
    CHECK_STR(bw_conf_source(st), "/etc/bulwark/t.conf");
    bw_conf_free(st);
}

TEST(overlay_group_sections_and_inheritance)
{
    bw_conf_state_t *st = load_over("[icapserver.groups:kids]\nPriority = 1\n"
                                    "[icapserver.actions]\nSuspiciousAction = skip\n"
                                    "[icapserver.actions:kids]\nInfectedAction = skip\n",
                                    "[icapserver.actions]\nSuspiciousAction = cure\n"
                                    "[icapserver.actions:kids]\nInfectedAction = cure\n");
    CHECK(st != NULL);
    if (!st)
        return;
    const policy_conf_t *kids = bw_conf_get(st, &policy_table, "kids");
    CHECK_EQ(kids->infected, ACT_CURE);
    CHECK_EQ(kids->suspicious, ACT_CURE); /* inherits the overlaid base value */
    bw_conf_free(st);
}

TEST(overlay_errors_name_the_overlay_file_and_line)
{
    bw_conf_state_t *st = load_over("[icapserver.actions]\nInfectedAction = deny\n",
                                    "\n[icapserver.actions]\nInfectedAction = explode\n");
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "/var/lib/bulwark/policy.conf:3: InfectedAction");
    st = load_over("[icapserver.actions]\n", "[icapserver.actoins]\n");
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "/var/lib/bulwark/policy.conf:1:");
    /* Twice in the overlay is still twice. */
    st = load_over("[icapserver.actions]\nInfectedAction = deny\n",
                   "[icapserver.actions]\nInfectedAction = skip\nInfectedAction = cure\n");
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "/var/lib/bulwark/policy.conf:3: InfectedAction: given twice");
    /* Cross-key checks see the combined result. */
    st = load_over("[icapserver.filter]\nMaxReqLength = 10M\n",
                   "[icapserver.filter]\nMinLength = 20M\n");
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "MinLength is above MaxReqLength");
    /* Errors in the base still name the base. */
    st = load_over("[icapserver.actions]\nInfectedAction = x\n", "");
    CHECK(st == NULL);
    CHECK_CONTAINS(err.msg, "/etc/bulwark/t.conf:2:");
}

TEST(overlay_from_files)
{
    char base[] = "/tmp/bw-test-conf-XXXXXX", over[] = "/tmp/bw-test-over-XXXXXX";
    int fd = mkstemp(base), fo = mkstemp(over);
    CHECK(fd >= 0 && fo >= 0);
    const char *b = "[icapserver.network]\nTimeout = 2m\n";
    const char *o = "[icapserver.network]\nTimeout = 3m\n";
    CHECK_EQ(write(fd, b, strlen(b)), (long long)strlen(b));
    CHECK_EQ(write(fo, o, strlen(o)), (long long)strlen(o));
    close(fd);
    close(fo);
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_overlay(&schema, base, over, &st, &err), BW_OK);
    CHECK(st && net(st)->timeout_ms == 180000);
    bw_conf_free(st);
    st = NULL;
    CHECK_EQ(bw_conf_load_overlay(&schema, base, NULL, &st, &err), BW_OK);
    CHECK(st && net(st)->timeout_ms == 120000 && bw_conf_overlay(st) == NULL);
    bw_conf_free(st);
    unlink(over);
    st = NULL;
    CHECK_EQ(bw_conf_load_overlay(&schema, base, over, &st, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, over);
    unlink(base);
}

int main(void)
{
    return t_run();
}
