/* SPDX-License-Identifier: Apache-2.0 */
/* The event line builder (event.h, bw_evline_*).
 *
 * Why a second way to make the same JSON: with [events] Clean = yes every
 * object the ICAP service answers makes an event, and building it as a
 * jansson tree (json_pack, a hash table per object, a malloc per member and
 * string) and then dumping it cost about two thirds of the 8-9 us an event
 * took (BENCHMARKS.md, "Events").  The ICAP events have a fixed shape with
 * short, mostly ASCII values, so they are formatted straight into a buffer
 * on the caller's stack.
 *
 * Why the output is still "jansson's": consumers (the console's batch
 * validator, SIEMs reading JsonFile, the unit tests) see one format whatever
 * produced the line, and a byte-for-byte check against json_dumps stays
 * possible (tests/unit/test-events-line.c).  So strings are escaped exactly
 * as jansson's dump does without flags: '"', '\\' and the control
 * characters, with \b \f \n \r \t and \u00XX (upper-case hex) for the rest;
 * '/' and DEL stay as they are.  A value with a byte >= 0x80 is handed to
 * jansson itself (json_string, U+FFFD for invalid UTF-8 as bw_event_set_str
 * does, json_dumpb): such values are rare on this path and their UTF-8 rules
 * (overlongs, surrogates) are jansson's to decide. */
#include "events/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/event-int.h"

static void grow_slow(bw_evline_t *l, size_t need)
{
    size_t cap = l->cap * 2;
    while (cap < l->len + need)
        cap *= 2;
    char *n = l->p == l->stack ? malloc(cap) : realloc(l->p, cap);
    if (!n) {
        l->oom = true;
        return;
    }
    if (l->p == l->stack)
        memcpy(n, l->stack, l->len);
    l->p = n;
    l->cap = cap;
}

/* Inlined: nearly every call fits (the check only). */
static inline void grow(bw_evline_t *l, size_t need)
{
    if (!l->oom && l->len + need > l->cap)
        grow_slow(l, need);
}

static void put(bw_evline_t *l, const char *s, size_t n)
{
    grow(l, n);
    if (l->oom)
        return;
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void putc1(bw_evline_t *l, char c)
{
    grow(l, 1);
    if (!l->oom)
        l->p[l->len++] = c;
}

/* A string that jansson must judge (a byte >= 0x80): its own dump. */
static void put_str_jansson(bw_evline_t *l, const char *s)
{
    json_t *v = bw_event_json_string(s);
    if (!v) {
        l->oom = true;
        return;
    }
    char tmp[1024];
    size_t n = json_dumpb(v, tmp, sizeof tmp, JSON_ENCODE_ANY | JSON_COMPACT);
    if (n > 0 && n <= sizeof tmp) {
        put(l, tmp, n);
    } else {
        char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (d)
            put(l, d, strlen(d));
        else
            l->oom = true;
        free(d);
    }
    json_decref(v);
}

/* 1: a byte put_str copies as it is; 0: one to escape, or >= 0x80. */
static const unsigned char plain[256] = {
#define R8(v) v, v, v, v, v, v, v, v
    R8(0), R8(0), R8(0), R8(0),                 /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, R8(1),              /* 0x20-0x2f: '"' */
    R8(1), R8(1), R8(1), R8(1), R8(1),          /* 0x30-0x57 */
    1, 1, 1, 1, 0, 1, 1, 1,                     /* 0x58-0x5f: '\\' */
    R8(1), R8(1), R8(1), R8(1),                 /* 0x60-0x7f */
#undef R8
};

/* s quoted and escaped as jansson dumps it (see the essay above). */
static void put_str(bw_evline_t *l, const char *s)
{
    size_t n = strlen(s);
    /* Worst case for ASCII: every byte as \u00XX. */
    grow(l, n * 6 + 2);
    if (l->oom)
        return;
    char *o = l->p + l->len, *start = o;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (plain[c]) {
            *o++ = (char)c;
            continue;
        }
        if (c >= 0x80) {
            put_str_jansson(l, s); /* l->len unchanged so far: start again there */
            return;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default: {
            static const char hx[] = "0123456789ABCDEF";
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hx[c >> 4];
            *o++ = hx[c & 15];
        }
        }
    }
    *o++ = '"';
    l->len += (size_t)(o - start);
}

static void put_key(bw_evline_t *l, const char *key)
{
    if (l->comma)
        putc1(l, ',');
    put_str(l, key);
    putc1(l, ':');
    l->comma = true;
}

void bw_evline_begin(bw_evline_t *l, const char *component, const char *type,
                     bw_event_severity_t sev)
{
    l->p = l->stack;
    l->len = 0;
    l->cap = sizeof l->stack;
    l->oom = false;
    char id[33], t[28];
    bw_event_make_id(id);
    bw_event_make_time(t);
    /* id and time are hex digits and "0123456789-:.TZ": nothing to escape */
    put(l, "{\"id\":\"", 7);
    put(l, id, 32);
    put(l, "\",\"time\":\"", 10);
    put(l, t, 27);
    putc1(l, '"');
    l->comma = true;
    bw_evline_str(l, "node", bw_event_node());
    bw_evline_str(l, "component", component);
    bw_evline_str(l, "type", type);
    bw_evline_str(l, "severity", bw_event_severity_name(sev));
}

void bw_evline_str(bw_evline_t *l, const char *key, const char *s)
{
    if (!s || !s[0])
        return;
    put_key(l, key);
    put_str(l, s);
}

void bw_evline_int(bw_evline_t *l, const char *key, int64_t v)
{
    put_key(l, key);
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    put(l, b, (size_t)n);
}

void bw_evline_obj(bw_evline_t *l, const char *key)
{
    put_key(l, key);
    putc1(l, '{');
    l->comma = false;
}

void bw_evline_arr(bw_evline_t *l, const char *key)
{
    put_key(l, key);
    putc1(l, '[');
    l->comma = false;
}

void bw_evline_elem(bw_evline_t *l, const char *s)
{
    if (!s)
        return;
    if (l->comma)
        putc1(l, ',');
    put_str(l, s);
    l->comma = true;
}

void bw_evline_end(bw_evline_t *l, char close)
{
    putc1(l, close);
    l->comma = true;
}

const char *bw_evline_text(bw_evline_t *l, size_t *len)
{
    putc1(l, '}');
    grow(l, 1);
    if (l->oom) {
        *len = 0;
        return NULL;
    }
    l->p[l->len] = 0; /* not counted: a C string for tests and fallbacks */
    *len = l->len;
    return l->p;
}

void bw_evline_free(bw_evline_t *l)
{
    if (l->p != l->stack)
        free(l->p);
    l->p = l->stack;
    l->len = 0;
    l->cap = sizeof l->stack;
}
