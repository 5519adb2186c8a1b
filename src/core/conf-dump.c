/* SPDX-License-Identifier: Apache-2.0 */
/* Printing configuration: the effective values of a loaded state as an INI
 * file (bw_conf_dump, for `bulwarkd --print-config` and `bulwark ctl`), and
 * the reference documentation of every key as Markdown (bw_conf_doc), so
 * the documentation is generated from the same tables the loader reads and
 * cannot drift from them.
 *
 * The dump prints each value as the text it was parsed from (file text or
 * the table's default), not a re-formatting of the stored value: every type,
 * custom ones included, then round-trips through the loader without a
 * formatter per type.  Paths are the exception: they print resolved, so the
 * dump means the same wherever it is loaded from.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bulwark/core.h"
#include "core/conf-int.h"
#include "core/conf.h"

/* Calls fn for each distinct section of the schema, in order of first
 * appearance (a section may be shared by several tables). */
static void each_section(const bw_conf_schema_t *s, void (*fn)(const char *sec, void *arg),
                         void *arg)
{
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++) {
            const char *sec = s->tables[t]->keys[k].section;
            bool seen = false;
            for (size_t t2 = 0; t2 <= t && !seen; t2++)
                for (size_t k2 = 0; k2 < (t2 == t ? k : s->tables[t2]->nkeys) && !seen; k2++)
                    seen = !strcasecmp(s->tables[t2]->keys[k2].section, sec);
            if (!seen)
                fn(sec, arg);
        }
}

/* One "Key = value" line; an empty value prints as "Key =". */
static void line(FILE *f, const char *key, const char *v, int n)
{
    if (n)
        fprintf(f, "%s = %.*s\n", key, n, v);
    else
        fprintf(f, "%s =\n", key);
}

/* Prints one key's value lines from one copy of its struct. */
static void dump_key(FILE *f, const bw_conf_key_t *k, const conf_inst_t *in, size_t ki)
{
    const conf_slot_t *slot = &in->slots[ki];
    const void *dst = in->data + k->offset;
    if ((k->flags & BW_CONF_SECRET) && slot->line) {
        fprintf(f, "%s = (hidden)\n", k->name);
        return;
    }
    if (k->type == BW_CONF_PATH) {
        const char *const *v = dst;
        size_t n = 1;
        if (k->flags & BW_CONF_REPEATABLE) {
            const bw_conf_list_t *l = dst;
            v = l->items;
            n = l->n;
        }
        if (!n)
            fprintf(f, "; %s has no values\n", k->name);
        for (size_t i = 0; i < n; i++) {
            if (v[i])
                line(f, k->name, v[i], (int)strlen(v[i]));
            else
                fprintf(f, "; %s is not set\n", k->name);
        }
        return;
    }
    if (slot->line) {
        for (size_t i = 0; i < slot->raw.n; i++)
            line(f, k->name, slot->raw.v[i], (int)strlen(slot->raw.v[i]));
        return;
    }
    if (k->def && (k->flags & BW_CONF_REPEATABLE)) {
        for (const char *p = k->def; *p;) {
            size_t n = strcspn(p, "\n");
            line(f, k->name, p, (int)n);
            p += n + (p[n] == '\n');
        }
        if (!k->def[0])
            fprintf(f, "; %s has no values\n", k->name);
        return;
    }
    if (k->def) {
        line(f, k->name, k->def, (int)strlen(k->def));
        return;
    }
    /* No default: the zero value. */
    if (k->flags & BW_CONF_REPEATABLE) {
        fprintf(f, "; %s has no values\n", k->name);
    } else if (k->type == BW_CONF_BOOL) {
        fprintf(f, "%s = no\n", k->name);
    } else if (k->type == BW_CONF_INT || k->type == BW_CONF_UINT || k->type == BW_CONF_SIZE ||
               k->type == BW_CONF_DURATION) {
        fprintf(f, "%s = 0\n", k->name);
    } else if (k->type == BW_CONF_ENUM) {
        const bw_conf_enum_t *w = k->words;
        while (w->name && w->value != 0)
            w++;
        if (w->name)
            fprintf(f, "%s = %s\n", k->name, w->name);
        else
            fprintf(f, "; %s is not set\n", k->name);
    } else {
        fprintf(f, "; %s is not set\n", k->name);
    }
}

typedef struct dump_ctx {
    FILE *f;
    const bw_conf_state_t *st;
} dump_ctx_t;

static void dump_section(const char *sec, void *arg)
{
    dump_ctx_t *c = arg;
    fprintf(c->f, "[%s]\n", sec);
    for (size_t t = 0; t < c->st->schema->ntables; t++) {
        const conf_tstate_t *ts = &c->st->tabs[t];
        for (size_t k = 0; k < ts->t->nkeys; k++)
            if (!strcasecmp(ts->t->keys[k].section, sec))
                dump_key(c->f, &ts->t->keys[k], &ts->base, k);
    }
    fputc('\n', c->f);
}

int bw_conf_dump(const bw_conf_schema_t *schema, const bw_conf_state_t *st, FILE *f)
{
    if (!st || !f || (schema && schema != st->schema))
        return BW_ERR;
    dump_ctx_t c = {f, st};
    fprintf(f, "# Effective configuration loaded from %s\n\n", st->source);
    each_section(st->schema, dump_section, &c);
    for (size_t i = 0; i < st->grecs.n; i++) {
        const conf_grec_t *r = &st->grecs.v[i];
        fprintf(f, "[%s:%s]\n", r->section, r->group);
        bool any = false;
        for (size_t t = 0; t < st->schema->ntables; t++) {
            const conf_tstate_t *ts = &st->tabs[t];
            const conf_inst_t *in = NULL;
            for (size_t g = 0; g < ts->groups.n && !in; g++)
                if (!strcmp(ts->groups.v[g]->group, r->group))
                    in = ts->groups.v[g];
            for (size_t k = 0; in && k < ts->t->nkeys; k++)
                if (in->slots[k].line && !strcasecmp(ts->t->keys[k].section, r->section)) {
                    dump_key(f, &ts->t->keys[k], in, k);
                    any = true;
                }
        }
        fprintf(f, any ? "; other keys: as in [%s]\n\n" : "; every key as in [%s]\n\n", r->section);
    }
    return ferror(f) ? BW_ERR : BW_OK;
}

/* Markdown table cell text: '|' would end the cell, a newline the row. */
static void cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputs("`, `", f);
        else
            fputc(*s, f);
    }
}

typedef struct doc_ctx {
    const bw_conf_schema_t *s;
    FILE *f;
} doc_ctx_t;

static void doc_section(const char *sec, void *arg)
{
    const bw_conf_schema_t *s = ((doc_ctx_t *)arg)->s;
    FILE *f = ((doc_ctx_t *)arg)->f;
    bool groupable = false;
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++)
            if (!strcasecmp(s->tables[t]->keys[k].section, sec) &&
                (s->tables[t]->keys[k].flags & BW_CONF_GROUPABLE))
                groupable = true;
    fprintf(f, "### [%s]\n\n", sec);
    if (groupable)
        fprintf(f, "Keys marked *per group* may also be set in `[%s:GROUP]`.\n\n", sec);
    fprintf(f, "| Key | Value | Default | Description |\n|---|---|---|---|\n");
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t k = 0; k < s->tables[t]->nkeys; k++) {
            const bw_conf_key_t *row = &s->tables[t]->keys[k];
            if (strcasecmp(row->section, sec))
                continue;
            char exp[256];
            bw_conf_expect(row, exp, sizeof exp);
            fprintf(f, "| `%s` | %s: ", row->name, bw_conf_type_name(row->type));
            cell(f, exp);
            if (row->flags & BW_CONF_REPEATABLE)
                fputs("; repeatable", f);
            if (row->flags & BW_CONF_GROUPABLE)
                fputs("; *per group*", f);
            fputs(" | ", f);
            if (row->def && row->def[0]) {
                fputc('`', f);
                cell(f, row->def);
                fputc('`', f);
            } else {
                fputs("(none)", f);
            }
            fputs(" | ", f);
            cell(f, row->doc ? row->doc : "");
            fputs(" |\n", f);
        }
    fputc('\n', f);
}

int bw_conf_doc(const bw_conf_schema_t *schema, FILE *f)
{
    bw_err_t err;
    if (!f || bw_conf_schema_check(schema, &err))
        return BW_ERR;
    doc_ctx_t c = {schema, f};
    each_section(schema, doc_section, &c);
    return ferror(f) ? BW_ERR : BW_OK;
}
