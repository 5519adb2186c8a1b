/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the configuration loader: the input is the text of a config file,
 * loaded (with its exact length, NULs included) against a sample schema that
 * has every key type, repeatable and per-group keys, a custom parser and a
 * groups_from rule.  A successful load is dumped, every group copy looked up,
 * and the state freed; ASan/LSan catch leaks on every error path. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"

typedef struct sample {
    bw_conf_list_t listen; /* char *, custom "host:port" kept as text */
    uint64_t timeout, size, count;
    int64_t prio;
    bool flag;
    int action;
    char *name, *path;
    bw_conf_list_t urls;
} sample_t;

static int parse_hp(const bw_conf_key_t *k, const char *v, void *dst, bw_err_t *err)
{
    const char *c = strrchr(v, ':');
    if (!c || c == v || !c[1] || strspn(c + 1, "0123456789") != strlen(c + 1))
        return bw_err_set(err, "not HOST:PORT");
    char *s = strdup(v);
    if (!s)
        return bw_err_set(err, "out of memory");
    memcpy(dst, &s, sizeof s);
    return BW_OK;
}

static void free_hp(const bw_conf_key_t *k, void *dst)
{
    char *s;
    memcpy(&s, dst, sizeof s);
    free(s);
}

static const bw_conf_enum_t acts[] = {{"skip", 0}, {"deny", 1}, {"cure", 2}, {NULL, 0}};

static const bw_conf_key_t keys[] = {
    {.section = "net", .name = "Listen", .type = BW_CONF_CUSTOM, .flags = BW_CONF_REPEATABLE,
     .def = "127.0.0.1:1344\n[::1]:1344", .parse = parse_hp, .free = free_hp,
     .size = sizeof(char *), .offset = offsetof(sample_t, listen)},
    {.section = "net", .name = "Timeout", .type = BW_CONF_DURATION, .def = "30", .min = 1,
     .max = 86400000, .offset = offsetof(sample_t, timeout)},
    {.section = "net", .name = "Count", .type = BW_CONF_UINT, .def = "3",
     .offset = offsetof(sample_t, count)},
    {.section = "path", .name = "Base", .type = BW_CONF_PATH, .def = "db",
     .offset = offsetof(sample_t, path)},
    {.section = "groups", .name = "Priority", .type = BW_CONF_INT, .flags = BW_CONF_GROUPABLE,
     .min = -100, .max = 100, .offset = offsetof(sample_t, prio)},
    {.section = "groups", .name = "URL", .type = BW_CONF_STRING,
     .flags = BW_CONF_GROUPABLE | BW_CONF_REPEATABLE, .offset = offsetof(sample_t, urls)},
    {.section = "actions", .name = "Action", .type = BW_CONF_ENUM, .def = "deny", .words = acts,
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(sample_t, action)},
    {.section = "actions", .name = "Flag", .type = BW_CONF_BOOL, .flags = BW_CONF_GROUPABLE,
     .offset = offsetof(sample_t, flag)},
    {.section = "actions", .name = "Max", .type = BW_CONF_SIZE, .def = "400M",
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(sample_t, size)},
    {.section = "actions", .name = "Name", .type = BW_CONF_STRING, .max = 32,
     .flags = BW_CONF_GROUPABLE, .offset = offsetof(sample_t, name)},
};

static const bw_conf_table_t table = {.name = "sample", .struct_size = sizeof(sample_t),
                                      .keys = keys, .nkeys = BW_CONF_NKEYS(keys),
                                      .groups_from = "groups"};
static const bw_conf_table_t *const tables[] = {&table};
static const bw_conf_schema_t schema = {tables, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink)
        sink = fopen("/dev/null", "w");
    bw_conf_state_t *st = NULL;
    bw_err_t err;
    if (bw_conf_load_buf(&schema, "fuzz.conf", (const char *)data, size, &st, &err) != BW_OK) {
        if (st || !memchr(err.msg, '\0', sizeof err.msg))
            abort();
        return 0;
    }
    const sample_t *base = bw_conf_get(st, &table, NULL);
    if (!base || base->listen.n > size + 2)
        abort();
    for (size_t g = 0; g < bw_conf_group_count(st, &table); g++) {
        const sample_t *s = bw_conf_get(st, &table, bw_conf_group_name(st, &table, g));
        if (!s || (s->action < 0 || s->action > 2) || s->prio < -100 || s->prio > 100)
            abort();
        for (size_t i = 0; i < s->urls.n; i++)
            if (!BW_CONF_LIST_AT(&s->urls, char *, i))
                abort();
    }
    if (sink)
        bw_conf_dump(&schema, st, sink);
    bw_conf_free(st);
    return 0;
}
