/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration loader: INI text -> a new, validated bw_conf_state_t.
 *
 * libinih does the INI lexing, but we feed it through our own line reader
 * (ini_parse_stream) rather than ini_parse, for three reasons:
 *   - line numbers: Debian's libinih calls the handler without one, and
 *     inih's own count drifts when it splits an over-long line; our reader
 *     hands inih exactly one line per call, so its count and ours agree, and
 *     an over-long line or a NUL byte is an error with its line number;
 *   - section headers: inih truncates section names to 50 bytes, too short
 *     for "[icapserver.engine.options:SOME_LONG_GROUP]"; the reader parses
 *     each header itself, so an unknown section or a bad group name is
 *     reported even when the section holds no keys;
 *   - the same code serves files and strings (tests, the fuzzer).
 * inih's run-time options (Debian builds them as globals) are fixed here:
 * no multi-line values (an indented line is not a continuation; the reader
 * also strips leading blanks, so it never could be), stop at the first error,
 * inline comments after whitespace with ';' or '#', lines up to
 * BW_CONF_MAX_LINE bytes.  The globals are process-wide, so loads are
 * serialised by a mutex.
 *
 * Values go straight into the module structs of a fresh state; unset keys
 * get their defaults, and group copies get the base values, at the end of
 * the load by parsing the same texts again (so inheritance needs no copy
 * semantics, even for custom types).  Any error frees the whole new state:
 * the caller's current one is never touched.
 */
#include "core/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "core/conf-int.h"

typedef struct loader {
    bw_conf_state_t *st;
    const char *name;            /* file name in messages */
    const char *buf;
    size_t len, pos;
    unsigned line;
    bool in_section;
    bool overlay;                /* the second file of bw_conf_load_overlay */
    const char *sec;             /* current section, the schema's spelling */
    const char *group;           /* current group or NULL */
    bool failed;
    bw_err_t *err;
    char snippet[41];            /* start of the current line, for syntax errors */
} loader_t;

/* ---- schema lookups ---------------------------------------------------- */

static const char *find_section(const bw_conf_schema_t *s, const char *name)
{
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++)
            if (!strcasecmp(s->tables[t]->keys[k].section, name))
                return s->tables[t]->keys[k].section;
    return NULL;
}

static bool section_groupable(const bw_conf_table_t *t, const char *sec)
{
    for (size_t k = 0; k < t->nkeys; k++)
        if ((t->keys[k].flags & BW_CONF_GROUPABLE) && !strcasecmp(t->keys[k].section, sec))
            return true;
    return false;
}

static const bw_conf_key_t *find_key(const bw_conf_schema_t *s, const char *sec, const char *name,
                                     size_t *ti, size_t *ki)
{
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++) {
            const bw_conf_key_t *row = &s->tables[t]->keys[k];
            if (!strcasecmp(row->section, sec) && !strcasecmp(row->name, name)) {
                *ti = t;
                *ki = k;
                return row;
            }
        }
    return NULL;
}

static size_t table_index(const bw_conf_state_t *st, const bw_conf_table_t *t)
{
    for (size_t i = 0; i < st->schema->ntables; i++)
        if (st->schema->tables[i] == t)
            return i;
    return SIZE_MAX;
}

/* ---- schema check ------------------------------------------------------ */

static size_t align_of(const bw_conf_key_t *k)
{
    if (k->flags & BW_CONF_REPEATABLE)
        return _Alignof(bw_conf_list_t);
    switch (k->type) {
    case BW_CONF_BOOL: return _Alignof(bool);
    case BW_CONF_INT: return _Alignof(int64_t);
    case BW_CONF_UINT: case BW_CONF_SIZE: case BW_CONF_DURATION: return _Alignof(uint64_t);
    case BW_CONF_STRING: case BW_CONF_PATH: return _Alignof(char *);
    case BW_CONF_ENUM: return _Alignof(int);
    case BW_CONF_CUSTOM: return 1;
    }
    return 1;
}

static int check_key(const bw_conf_table_t *t, const bw_conf_key_t *k, bw_err_t *err)
{
    if (!k->section || !k->section[0] || strpbrk(k->section, ":[]") || !k->name || !k->name[0] ||
        strpbrk(k->name, "=:;# \t"))
        return bw_err_set(err, "bad section or key name");
    if (k->type < BW_CONF_BOOL || k->type > BW_CONF_CUSTOM)
        return bw_err_set(err, "bad type %d", (int)k->type);
    if (k->type == BW_CONF_ENUM && (!k->words || !k->words[0].name))
        return bw_err_set(err, "enum without words");
    if (k->type == BW_CONF_CUSTOM && (!k->parse || !k->size))
        return bw_err_set(err, "custom type without parse hook or size");
    size_t sz = bw_conf_slot_size(k);
    if (k->offset > t->struct_size || sz > t->struct_size - k->offset ||
        k->offset % align_of(k))
        return bw_err_set(err, "offset %zu (+%zu bytes) does not fit a %zu-byte struct", k->offset,
                          sz, t->struct_size);
    bool unsig = k->type == BW_CONF_UINT || k->type == BW_CONF_SIZE ||
                 k->type == BW_CONF_DURATION || k->type == BW_CONF_STRING ||
                 k->type == BW_CONF_PATH;
    if ((k->min || k->max) && (k->min > k->max || (unsig && k->min < 0)))
        return bw_err_set(err, "bad bounds");
    return BW_OK;
}

int bw_conf_schema_check(const bw_conf_schema_t *s, bw_err_t *err)
{
    if (!s || (s->ntables && !s->tables))
        return bw_err_set(err, "no schema");
    for (size_t t = 0; t < s->ntables; t++) {
        const bw_conf_table_t *tab = s->tables[t];
        if (!tab || !tab->name || !tab->struct_size || (tab->nkeys && !tab->keys))
            return bw_err_set(err, "table %zu is incomplete", t);
        for (size_t t2 = 0; t2 < t; t2++)
            if (s->tables[t2] == tab)
                return bw_err_set(err, "table %s is listed twice", tab->name);
        for (size_t k = 0; k < tab->nkeys; k++) {
            const bw_conf_key_t *row = &tab->keys[k];
            if (check_key(tab, row, err))
                return bw_err_prefix(err, "table %s: [%s] %s", tab->name,
                                     row->section ? row->section : "?",
                                     row->name ? row->name : "?");
            size_t ti, ki;
            find_key(s, row->section, row->name, &ti, &ki);
            if (ti != t || ki != k)
                return bw_err_set(err, "table %s: [%s] %s: also declared by table %s", tab->name,
                                  row->section, row->name, s->tables[ti]->name);
        }
    }
    return BW_OK;
}

/* ---- state ------------------------------------------------------------- */

static void inst_free(const bw_conf_table_t *t, conf_inst_t *in)
{
    if (in->data && in->slots) {
        for (size_t k = 0; k < t->nkeys; k++) {
            const bw_conf_key_t *row = &t->keys[k];
            void *dst = in->data + row->offset;
            if (row->flags & BW_CONF_REPEATABLE) {
                bw_conf_list_t *l = dst;
                size_t es = bw_conf_elem_size(row);
                for (size_t i = 0; i < l->n; i++)
                    bw_conf_value_free(row, (unsigned char *)l->items + i * es);
                free(l->items);
            } else if (in->slots[k].parsed) {
                bw_conf_value_free(row, dst);
            }
        }
    }
    if (in->slots)
        for (size_t k = 0; k < t->nkeys; k++) {
            for (size_t i = 0; i < in->slots[k].raw.n; i++)
                free(in->slots[k].raw.v[i]);
            bw_vec_free(&in->slots[k].raw);
        }
    free(in->slots);
    free(in->data);
    free(in->group);
}

static int inst_init(const bw_conf_table_t *t, conf_inst_t *in, const char *group)
{
    memset(in, 0, sizeof *in);
    in->data = calloc(1, t->struct_size);
    in->slots = calloc(t->nkeys ? t->nkeys : 1, sizeof *in->slots);
    in->group = group ? strdup(group) : NULL;
    return in->data && in->slots && (!group || in->group) ? BW_OK : BW_ERR;
}

void bw_conf_free(bw_conf_state_t *st)
{
    if (!st)
        return;
    if (st->tabs) {
        for (size_t t = 0; t < st->schema->ntables; t++) {
            conf_tstate_t *ts = &st->tabs[t];
            inst_free(ts->t, &ts->base);
            for (size_t g = 0; g < ts->groups.n; g++) {
                inst_free(ts->t, ts->groups.v[g]);
                free(ts->groups.v[g]);
            }
            bw_vec_free(&ts->groups);
        }
        free(st->tabs);
    }
    for (size_t i = 0; i < st->grecs.n; i++)
        free(st->grecs.v[i].group);
    bw_vec_free(&st->grecs);
    free(st->source);
    free(st->overlay);
    free(st->dir);
    free(st);
}

static conf_inst_t *group_inst(const conf_tstate_t *ts, const char *group)
{
    for (size_t g = 0; g < ts->groups.n; g++)
        if (!strcmp(ts->groups.v[g]->group, group))
            return ts->groups.v[g];
    return NULL;
}

/* Parses one text into a key's storage: appends to a list, or sets a value. */
static int store(const bw_conf_state_t *st, const bw_conf_key_t *k, conf_inst_t *in, size_t ki,
                 const char *text, bw_err_t *err)
{
    void *dst = in->data + k->offset;
    if (!(k->flags & BW_CONF_REPEATABLE)) {
        if (bw_conf_value_parse(k, text, st->dir, dst, err))
            return BW_ERR;
        in->slots[ki].parsed = true;
        return BW_OK;
    }
    bw_conf_list_t *l = dst;
    size_t es = bw_conf_elem_size(k);
    if (l->n > SIZE_MAX / es - 2)
        return bw_err_set(err, "too many values");
    unsigned char *items = realloc(l->items, (l->n + 2) * es);
    if (!items)
        return bw_err_set(err, "out of memory");
    l->items = items;
    memset(items + l->n * es, 0, 2 * es);
    if (bw_conf_value_parse(k, text, st->dir, items + l->n * es, err))
        return BW_ERR;
    l->n++;
    in->slots[ki].parsed = true;
    return BW_OK;
}

/* Stores a default: each '\n'-separated piece of a repeatable key's. */
static int store_default(const bw_conf_state_t *st, const bw_conf_key_t *k, conf_inst_t *in,
                         size_t ki, bw_err_t *err)
{
    if (!k->def)
        return BW_OK;
    if (!(k->flags & BW_CONF_REPEATABLE))
        return store(st, k, in, ki, k->def, err);
    for (const char *p = k->def; *p;) {
        size_t n = strcspn(p, "\n");
        char *piece = strndup(p, n);
        if (!piece)
            return bw_err_set(err, "out of memory");
        int r = store(st, k, in, ki, piece, err);
        free(piece);
        if (r)
            return BW_ERR;
        p += n + (p[n] == '\n');
    }
    return BW_OK;
}

/* Forgets what the base file set for one key, so that an overlay's value
 * replaces it (a repeatable key's whole list, not one element). */
static void slot_clear(const bw_conf_key_t *k, conf_inst_t *in, size_t ki)
{
    conf_slot_t *slot = &in->slots[ki];
    void *dst = in->data + k->offset;
    if (k->flags & BW_CONF_REPEATABLE) {
        bw_conf_list_t *l = dst;
        size_t es = bw_conf_elem_size(k);
        for (size_t i = 0; i < l->n; i++)
            bw_conf_value_free(k, (unsigned char *)l->items + i * es);
        free(l->items);
        l->items = NULL;
        l->n = 0;
    } else if (slot->parsed) {
        bw_conf_value_free(k, dst);
        memset(dst, 0, bw_conf_slot_size(k));
    }
    slot->parsed = false;
    for (size_t i = 0; i < slot->raw.n; i++)
        free(slot->raw.v[i]);
    slot->raw.n = 0;
    slot->line = 0;
}

/* ---- the line reader and the inih handler ------------------------------ */

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool group_name_ok(const char *g)
{
    size_t n = 0;
    for (; g[n]; n++) {
        char c = g[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return n > 0 && n <= BW_CONF_MAX_GROUP;
}

static int fail(loader_t *L)
{
    L->failed = true;
    return BW_ERR;
}

static int unknown_section(loader_t *L, const char *name)
{
    const bw_conf_schema_t *s = L->st->schema;
    const char *best = NULL;
    int bd = 1 << 20;
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++) {
            int d = bw_conf_distance(name, s->tables[t]->keys[k].section);
            if (d < bd) {
                bd = d;
                best = s->tables[t]->keys[k].section;
            }
        }
    if (best && (bd <= 2 || bd <= (int)strlen(name) / 3))
        bw_err_set(L->err, "%s:%u: [%s]: unknown section (did you mean [%s]?)", L->name, L->line,
                   name, best);
    else
        bw_err_set(L->err, "%s:%u: [%s]: unknown section", L->name, L->line, name);
    return fail(L);
}

/* A "[section]" or "[section:GROUP]" line, parsed as inih parses it. */
static int section_header(loader_t *L, const char *p, size_t n)
{
    bw_conf_state_t *st = L->st;
    size_t e = 1;
    while (e < n && p[e] != ']' && !((p[e] == ';' || p[e] == '#') && blank(p[e - 1])))
        e++;
    if (e >= n || p[e] != ']') {
        bw_err_set(L->err, "%s:%u: section header without a closing ']'", L->name, L->line);
        return fail(L);
    }
    size_t a = e + 1;
    while (a < n && blank(p[a]))
        a++;
    if (a < n && !((p[a] == ';' || p[a] == '#') && blank(p[a - 1]))) {
        bw_err_set(L->err, "%s:%u: unexpected text after ']'", L->name, L->line);
        return fail(L);
    }
    size_t b = 1;
    while (b < e && blank(p[b]))
        b++;
    while (e > b && blank(p[e - 1]))
        e--;
    char name[BW_CONF_MAX_LINE + 1];
    memcpy(name, p + b, e - b);
    name[e - b] = '\0';
    char *colon = strchr(name, ':');
    const char *group = NULL;
    if (colon) {
        *colon = '\0';
        group = colon + 1;
    }
    const char *sec = find_section(st->schema, name);
    if (!sec)
        return unknown_section(L, name);
    L->in_section = true;
    L->sec = sec;
    L->group = NULL;
    if (!group)
        return BW_OK;
    if (!group_name_ok(group)) {
        bw_err_set(L->err, "%s:%u: [%s:%.*s]: bad group name (expected 1..%d letters, digits, "
                   "'_', '-' or '.')", L->name, L->line, sec, 64, group, BW_CONF_MAX_GROUP);
        return fail(L);
    }
    bool any = false;
    for (size_t t = 0; t < st->schema->ntables; t++) {
        conf_tstate_t *ts = &st->tabs[t];
        if (!section_groupable(ts->t, sec))
            continue;
        any = true;
        if (group_inst(ts, group))
            continue;
        conf_inst_t *in = malloc(sizeof *in);
        if (!in || inst_init(ts->t, in, group) || bw_vec_push(&ts->groups, in)) {
            if (in)
                inst_free(ts->t, in);
            free(in);
            bw_err_set(L->err, "%s: out of memory", L->name);
            return fail(L);
        }
    }
    if (!any) {
        bw_err_set(L->err, "%s:%u: [%s:%s]: section [%s] has no per-group keys", L->name, L->line,
                   sec, group, sec);
        return fail(L);
    }
    size_t gi = 0;
    while (gi < st->grecs.n &&
           !(st->grecs.v[gi].section == sec && !strcmp(st->grecs.v[gi].group, group)))
        gi++;
    if (gi == st->grecs.n) {
        conf_grec_t r = {sec, strdup(group), L->line};
        if (!r.group || bw_vec_push(&st->grecs, r)) {
            free(r.group);
            bw_err_set(L->err, "%s: out of memory", L->name);
            return fail(L);
        }
    }
    L->group = st->grecs.v[gi].group;
    return BW_OK;
}

static char *reader(char *str, int num, void *stream)
{
    loader_t *L = stream;
    if (L->failed || L->pos >= L->len)
        return NULL;
    const char *p = L->buf + L->pos;
    size_t rest = L->len - L->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t n = nl ? (size_t)(nl - p) : rest;
    L->pos += n + (nl != NULL);
    L->line++;
    if (L->line == 1 && n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) {
        p += 3;
        n -= 3;
    }
    while (n && blank(*p)) {
        p++;
        n--;
    }
    while (n && blank(p[n - 1]))
        n--;
    if (memchr(p, '\0', n)) {
        bw_err_set(L->err, "%s:%u: NUL byte in line", L->name, L->line);
        fail(L);
        return NULL;
    }
    /* num is inih's buffer size: BW_CONF_MAX_LINE + 3 unless a libinih
     * without Debian's run-time options ignored ours. */
    size_t limit = num > BW_CONF_MAX_LINE + 2 ? BW_CONF_MAX_LINE : num > 2 ? (size_t)num - 2 : 0;
    if (n > limit) {
        bw_err_set(L->err, "%s:%u: line is longer than %zu bytes", L->name, L->line, limit);
        fail(L);
        return NULL;
    }
    size_t sn = n < sizeof L->snippet - 1 ? n : sizeof L->snippet - 1;
    memcpy(L->snippet, p, sn);
    L->snippet[sn] = '\0';
    if (n && p[0] == '[' && section_header(L, p, n))
        return NULL;
    memcpy(str, p, n);
    str[n] = '\0';
    return str;
}

static int unknown_key(loader_t *L, const char *name)
{
    const bw_conf_schema_t *s = L->st->schema;
    const char *best = NULL, *elsewhere = NULL;
    int bd = 1 << 20;
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++) {
            const bw_conf_key_t *row = &s->tables[t]->keys[k];
            if (strcasecmp(row->section, L->sec)) {
                if (!strcasecmp(row->name, name))
                    elsewhere = row->section;
                continue;
            }
            int d = bw_conf_distance(name, row->name);
            if (d < bd) {
                bd = d;
                best = row->name;
            }
        }
    const char *g = L->group ? ":" : "", *gn = L->group ? L->group : "";
    if (best && (bd <= 2 || bd <= (int)strlen(name) / 3))
        bw_err_set(L->err, "%s:%u: [%s%s%s] %s: unknown key (did you mean %s?)", L->name, L->line,
                   L->sec, g, gn, name, best);
    else if (elsewhere)
        bw_err_set(L->err, "%s:%u: [%s%s%s] %s: unknown key (%s belongs in [%s])", L->name, L->line,
                   L->sec, g, gn, name, name, elsewhere);
    else
        bw_err_set(L->err, "%s:%u: [%s%s%s] %s: unknown key", L->name, L->line, L->sec, g, gn,
                   name);
    return fail(L);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    loader_t *L = user;
    (void)section; /* inih's copy may be truncated; the reader keeps the full one */
    if (L->failed)
        return 0;
    if (!L->in_section) {
        bw_err_set(L->err, "%s:%u: %s: key outside of any [section]", L->name, L->line, name);
        return fail(L), 0;
    }
    if (!value)
        value = "";
    size_t ti, ki;
    const bw_conf_key_t *k = find_key(L->st->schema, L->sec, name, &ti, &ki);
    if (!k)
        return unknown_key(L, name), 0;
    if (L->group && !(k->flags & BW_CONF_GROUPABLE)) {
        bw_err_set(L->err, "%s:%u: [%s:%s] %s: cannot be set per group (only in [%s])", L->name,
                   L->line, L->sec, L->group, k->name, L->sec);
        return fail(L), 0;
    }
    conf_tstate_t *ts = &L->st->tabs[ti];
    conf_inst_t *in = L->group ? group_inst(ts, L->group) : &ts->base;
    if (!in) { /* cannot happen: the header created it */
        bw_err_set(L->err, "%s:%u: %s: internal error: no group copy", L->name, L->line, name);
        return fail(L), 0;
    }
    conf_slot_t *slot = &in->slots[ki];
    if (L->overlay && slot->line && !slot->over)
        slot_clear(k, in, ki); /* the overlay's value replaces the base file's */
    if (L->overlay)
        slot->over = true;
    if (slot->line && !(k->flags & BW_CONF_REPEATABLE)) {
        bw_err_set(L->err, "%s:%u: %s: given twice (first at line %u)", L->name, L->line, k->name,
                   slot->line);
        return fail(L), 0;
    }
    char *raw = strdup(value);
    if (!raw || bw_vec_push(&slot->raw, raw)) {
        free(raw);
        bw_err_set(L->err, "%s: out of memory", L->name);
        return fail(L), 0;
    }
    if (!slot->line)
        slot->line = L->line;
    if (store(L->st, k, in, ki, value, L->err)) {
        bw_err_prefix(L->err, "%s:%u: %s", L->name, L->line, k->name);
        return fail(L), 0;
    }
    return 1;
}

/* ---- finishing: defaults, inheritance, checks -------------------------- */

static int finish(bw_conf_state_t *st, bw_err_t *err)
{
    for (size_t t = 0; t < st->schema->ntables; t++) {
        conf_tstate_t *ts = &st->tabs[t];
        const bw_conf_table_t *tab = ts->t;
        for (size_t k = 0; k < tab->nkeys; k++) {
            const bw_conf_key_t *row = &tab->keys[k];
            if (!ts->base.slots[k].line && store_default(st, row, &ts->base, k, err))
                return bw_err_prefix(err, "table %s: [%s] %s: bad default '%s'", tab->name,
                                     row->section, row->name, row->def);
            for (size_t g = 0; g < ts->groups.n; g++) {
                conf_inst_t *in = ts->groups.v[g];
                if (in->slots[k].line)
                    continue;
                const conf_slot_t *bs = &ts->base.slots[k];
                int r = BW_OK;
                if (!bs->line)
                    r = store_default(st, row, in, k, err);
                for (size_t i = 0; bs->line && i < bs->raw.n && !r; i++)
                    r = store(st, row, in, k, bs->raw.v[i], err);
                if (r && bs->line)
                    return bw_err_prefix(err, "%s:%u: %s", bs->over ? st->overlay : st->source,
                                         bs->line, row->name);
                if (r)
                    return bw_err_prefix(err, "table %s: [%s] %s: bad default '%s'", tab->name,
                                         row->section, row->name, row->def);
            }
        }
        if (tab->check) {
            if (tab->check(ts->base.data, NULL, err))
                return bw_err_prefix(err, "%s: %s", st->source, tab->name);
            for (size_t g = 0; g < ts->groups.n; g++)
                if (tab->check(ts->groups.v[g]->data, ts->groups.v[g]->group, err))
                    return bw_err_prefix(err, "%s: %s: group %s", st->source, tab->name,
                                         ts->groups.v[g]->group);
        }
    }
    /* A group section of a table that names its groups elsewhere must refer
     * to a defined group: a typo would otherwise silently never apply. */
    for (size_t i = 0; i < st->grecs.n; i++) {
        const conf_grec_t *r = &st->grecs.v[i];
        for (size_t t = 0; t < st->schema->ntables; t++) {
            const bw_conf_table_t *tab = st->schema->tables[t];
            const char *from = tab->groups_from;
            if (!from || !strcasecmp(from, r->section) || !section_groupable(tab, r->section))
                continue;
            const char *fs = find_section(st->schema, from);
            if (!bw_conf_has_group(st, fs ? fs : from, r->group, NULL))
                return bw_err_set(err, "%s:%u: [%s:%s]: group %s is not defined (no [%s:%s] "
                                  "section)", st->source, r->line, r->section, r->group, r->group,
                                  from, r->group);
        }
    }
    return BW_OK;
}

/* The absolute directory of `name`, which resolves relative paths even after
 * the daemon changes its working directory. */
static char *dir_of(const char *name)
{
    const char *slash = strrchr(name, '/');
    char cwd[4096];
    if (slash && name[0] == '/')
        return slash == name ? strdup("/") : strndup(name, (size_t)(slash - name));
    if (!getcwd(cwd, sizeof cwd))
        return strdup("");
    if (!slash)
        return strdup(cwd);
    size_t cl = strlen(cwd), rl = (size_t)(slash - name);
    char *d = malloc(cl + rl + 2);
    if (d) {
        memcpy(d, cwd, cl);
        d[cl] = '/';
        memcpy(d + cl + 1, name, rl);
        d[cl + 1 + rl] = '\0';
    }
    return d;
}

static pthread_mutex_t inih_lock = PTHREAD_MUTEX_INITIALIZER;
static char inline_prefixes[] = ";#";

/* One file's pass of the loader over a state: the base file, or the overlay
 * whose keys replace the base's values.  Called with inih_lock held. */
static bool parse_pass(bw_conf_state_t *st, const char *name, const char *text, size_t len,
                       bool overlay, bw_err_t *err)
{
    loader_t L = {.st = st, .name = name, .buf = text, .len = text ? len : 0, .err = err,
                  .overlay = overlay};
    int r = ini_parse_stream(reader, &L, handler, &L);
    if (!L.failed && r == -2) {
        bw_err_set(err, "%s: out of memory", name);
        L.failed = true;
    } else if (!L.failed && r) {
        /* inih stops at the first error, so the last line read is the bad one. */
        bw_err_set(err, "%s:%d: syntax error in '%s' (expected [section] or Key = value)", name, r,
                   (unsigned)r == L.line ? L.snippet : "?");
        L.failed = true;
    }
    return !L.failed;
}

static int load_texts(const bw_conf_schema_t *schema, const char *name, const char *text,
                      size_t len, const char *oname, const char *otext, size_t olen,
                      bw_conf_state_t **out, bw_err_t *err)
{
    if (bw_conf_schema_check(schema, err))
        return BW_ERR;
    if (!name)
        name = "(config)";
    bw_conf_state_t *st = calloc(1, sizeof *st);
    if (!st)
        return bw_err_set(err, "%s: out of memory", name);
    st->schema = schema;
    st->source = strdup(name);
    st->overlay = oname ? strdup(oname) : NULL;
    st->dir = dir_of(name);
    st->tabs = calloc(schema->ntables ? schema->ntables : 1, sizeof *st->tabs);
    if (!st->source || !st->dir || !st->tabs || (oname && !st->overlay)) {
        bw_conf_free(st);
        return bw_err_set(err, "%s: out of memory", name);
    }
    for (size_t t = 0; t < schema->ntables; t++) {
        st->tabs[t].t = schema->tables[t];
        if (inst_init(schema->tables[t], &st->tabs[t].base, NULL)) {
            bw_conf_free(st);
            return bw_err_set(err, "%s: out of memory", name);
        }
    }
    pthread_mutex_lock(&inih_lock);
    ini_allow_multiline = false;
    ini_allow_bom = true;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = inline_prefixes;
    ini_stop_on_first_error = true;
    ini_allow_no_value = false;
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = BW_CONF_MAX_LINE + 3;
    ini_initial_alloc = BW_CONF_MAX_LINE + 3;
    bool ok = parse_pass(st, st->source, text, len, false, err);
    if (ok && oname)
        ok = parse_pass(st, st->overlay, otext, olen, true, err);
    pthread_mutex_unlock(&inih_lock);
    if (!ok || finish(st, err)) {
        bw_conf_free(st);
        return BW_ERR;
    }
    *out = st;
    return BW_OK;
}

int bw_conf_load_buf(const bw_conf_schema_t *schema, const char *name, const char *text,
                     size_t len, bw_conf_state_t **out, bw_err_t *err)
{
    return load_texts(schema, name, text, len, NULL, NULL, 0, out, err);
}

int bw_conf_load_buf_overlay(const bw_conf_schema_t *schema, const char *name, const char *text,
                             size_t len, const char *oname, const char *otext, size_t olen,
                             bw_conf_state_t **out, bw_err_t *err)
{
    return load_texts(schema, name, text, len, oname ? oname : "(overlay)", otext, olen, out,
                      err);
}

/* Reads a whole configuration file (at most BW_CONF_MAX_FILE bytes). */
static int read_file(const char *path, char **out, size_t *outlen, bw_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len == cap) {
            if (cap > BW_CONF_MAX_FILE) {
                free(buf);
                close(fd);
                return bw_err_set(err, "%s: larger than %u bytes", path, BW_CONF_MAX_FILE);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return bw_err_set(err, "%s: cannot read: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (!buf)
        return bw_err_set(err, "%s: out of memory", path);
    if (len > BW_CONF_MAX_FILE) {
        free(buf);
        return bw_err_set(err, "%s: larger than %u bytes", path, BW_CONF_MAX_FILE);
    }
    *out = buf;
    *outlen = len;
    return BW_OK;
}

int bw_conf_load(const bw_conf_schema_t *schema, const char *path, bw_conf_state_t **out,
                 bw_err_t *err)
{
    return bw_conf_load_overlay(schema, path, NULL, out, err);
}

int bw_conf_load_overlay(const bw_conf_schema_t *schema, const char *path, const char *overlay,
                         bw_conf_state_t **out, bw_err_t *err)
{
    char *buf, *obuf = NULL;
    size_t len, olen = 0;
    if (read_file(path, &buf, &len, err))
        return BW_ERR;
    if (overlay && read_file(overlay, &obuf, &olen, err)) {
        free(buf);
        return BW_ERR;
    }
    int r = load_texts(schema, path, buf, len, overlay, obuf, olen, out, err);
    free(buf);
    free(obuf);
    return r;
}

/* ---- lookups ----------------------------------------------------------- */

static const conf_inst_t *lookup(const bw_conf_state_t *st, const bw_conf_table_t *t,
                                 const char *group, bool fallback)
{
    size_t i = st ? table_index(st, t) : SIZE_MAX;
    if (i == SIZE_MAX)
        return NULL;
    const conf_inst_t *in = group ? group_inst(&st->tabs[i], group) : NULL;
    return in ? in : (group && !fallback) ? NULL : &st->tabs[i].base;
}

const void *bw_conf_get(const bw_conf_state_t *st, const bw_conf_table_t *t, const char *group)
{
    const conf_inst_t *in = lookup(st, t, group, true);
    return in ? in->data : NULL;
}

unsigned bw_conf_line(const bw_conf_state_t *st, const bw_conf_table_t *t, const char *group,
                      const char *key)
{
    const conf_inst_t *in = lookup(st, t, group, false);
    for (size_t k = 0; in && k < t->nkeys; k++)
        if (!strcasecmp(t->keys[k].name, key))
            return in->slots[k].line;
    return 0;
}

bool bw_conf_is_set(const bw_conf_state_t *st, const bw_conf_table_t *t, const char *group,
                    const char *key)
{
    return bw_conf_line(st, t, group, key) != 0;
}

size_t bw_conf_group_count(const bw_conf_state_t *st, const bw_conf_table_t *t)
{
    size_t i = st ? table_index(st, t) : SIZE_MAX;
    return i == SIZE_MAX ? 0 : st->tabs[i].groups.n;
}

const char *bw_conf_group_name(const bw_conf_state_t *st, const bw_conf_table_t *t, size_t g)
{
    size_t i = st ? table_index(st, t) : SIZE_MAX;
    if (i == SIZE_MAX || g >= st->tabs[i].groups.n)
        return NULL;
    return st->tabs[i].groups.v[g]->group;
}

bool bw_conf_has_group(const bw_conf_state_t *st, const char *section, const char *group,
                       unsigned *line)
{
    for (size_t i = 0; st && i < st->grecs.n; i++)
        if (!strcasecmp(st->grecs.v[i].section, section) && !strcmp(st->grecs.v[i].group, group)) {
            if (line)
                *line = st->grecs.v[i].line;
            return true;
        }
    return false;
}

const char *bw_conf_source(const bw_conf_state_t *st)
{
    return st ? st->source : NULL;
}

const char *bw_conf_overlay(const bw_conf_state_t *st)
{
    return st ? st->overlay : NULL;
}
