/* SPDX-License-Identifier: Apache-2.0 */
/* Value parsers for configuration keys: one parser per type, used for file
 * values and table defaults alike.
 *
 * Every parser is strict: the whole value must be consumed, numbers must not
 * overflow, and the error says what was wrong and what was expected, since an
 * administrator reads it at 3 a.m. from a failed reload.  Sizes use binary
 * multiples (K = 1024), because the limits they configure (memory, spool
 * files) are counted in pages and buffers; durations are stored in
 * milliseconds and a bare number means seconds, because every duration key
 * the proxy product defines (Timeout, MaxSendDelayTime, MaxScanTime) is
 * documented in seconds.
 */
#include "core/conf-int.h"
#include "core/conf.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/core.h"

/* Longest piece of a bad value quoted back in a message. */
#define QUOTE 60

static int digits_u64(const char **ps, uint64_t *out)
{
    const char *s = *ps;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *ps = s;
    *out = v;
    return 0;
}

int bw_conf_parse_bool(const char *s, bool *out, bw_err_t *err)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return BW_OK;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return BW_OK;
        }
    }
    return bw_err_set(err, "'%.*s' is not a boolean (expected yes or no)", QUOTE, s);
}

int bw_conf_parse_uint(const char *s, uint64_t *out, bw_err_t *err)
{
    const char *p = s + (*s == '+');
    int r = digits_u64(&p, out);
    if (r == -2)
        return bw_err_set(err, "'%.*s' is too large", QUOTE, s);
    if (r || *p)
        return bw_err_set(err, "'%.*s' is not a number (expected decimal digits)", QUOTE, s);
    return BW_OK;
}

int bw_conf_parse_int(const char *s, int64_t *out, bw_err_t *err)
{
    bool neg = *s == '-';
    const char *p = s + (*s == '-' || *s == '+');
    uint64_t v;
    int r = digits_u64(&p, &v);
    if (r == -2 || (r == 0 && v > (uint64_t)INT64_MAX + neg))
        return bw_err_set(err, "'%.*s' is out of the 64-bit range", QUOTE, s);
    if (r || *p)
        return bw_err_set(err, "'%.*s' is not an integer (expected decimal digits)", QUOTE, s);
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return BW_OK;
}

int bw_conf_parse_size(const char *s, uint64_t *bytes, bw_err_t *err)
{
    const char *p = s;
    uint64_t v, mul = 1;
    int r = digits_u64(&p, &v);
    if (r == 0) {
        switch (*p) {
        case 'k': case 'K': mul = 1ull << 10; p++; break;
        case 'm': case 'M': mul = 1ull << 20; p++; break;
        case 'g': case 'G': mul = 1ull << 30; p++; break;
        case 't': case 'T': mul = 1ull << 40; p++; break;
        default: break;
        }
        if (mul > 1 && (*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B'))
            p += 2;
        else if (*p == 'b' || *p == 'B')
            p++;
    }
    if (r == -1 || *p)
        return bw_err_set(err, "'%.*s' is not a size (expected a number of bytes with an optional "
                          "K, M, G or T suffix, e.g. 400M)", QUOTE, s);
    if (r == -2 || v > UINT64_MAX / mul)
        return bw_err_set(err, "'%.*s' is too large", QUOTE, s);
    *bytes = v * mul;
    return BW_OK;
}

int bw_conf_parse_duration(const char *s, uint64_t *ms, bw_err_t *err)
{
    const char *p = s;
    uint64_t v, mul = 1000;
    int r = digits_u64(&p, &v);
    if (r == 0 && *p) {
        if (!strcasecmp(p, "ms"))
            mul = 1;
        else if (!strcasecmp(p, "s"))
            mul = 1000;
        else if (!strcasecmp(p, "m"))
            mul = 60 * 1000;
        else if (!strcasecmp(p, "h"))
            mul = 3600 * 1000;
        else if (!strcasecmp(p, "d"))
            mul = 86400 * 1000;
        else
            r = -1;
    }
    if (r == -1)
        return bw_err_set(err, "'%.*s' is not a duration (expected a number with an optional "
                          "ms, s, m, h or d suffix; a plain number is seconds)", QUOTE, s);
    if (r == -2 || v > UINT64_MAX / mul)
        return bw_err_set(err, "'%.*s' is too large", QUOTE, s);
    *ms = v * mul;
    return BW_OK;
}

/* Prints a value in the key's own unit, as a user would write it. */
static void fmt_num(const bw_conf_key_t *k, uint64_t u, int64_t i, char *buf, size_t len)
{
    if (k->type == BW_CONF_SIZE) {
        static const char suf[] = "TGMK";
        for (int s = 0; s < 4; s++) {
            uint64_t m = 1ull << (10 * (4 - s));
            if (u && u % m == 0) {
                snprintf(buf, len, "%" PRIu64 "%c", u / m, suf[s]);
                return;
            }
        }
        snprintf(buf, len, "%" PRIu64, u);
    } else if (k->type == BW_CONF_DURATION) {
        static const struct { uint64_t ms; const char *suf; } units[] = {
            {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
        for (size_t s = 0; s < 4; s++) {
            if (u && u % units[s].ms == 0) {
                snprintf(buf, len, "%" PRIu64 "%s", u / units[s].ms, units[s].suf);
                return;
            }
        }
        snprintf(buf, len, "%" PRIu64 "ms", u);
    } else if (k->type == BW_CONF_INT) {
        snprintf(buf, len, "%" PRId64, i);
    } else {
        snprintf(buf, len, "%" PRIu64, u);
    }
}

static bool bounded(const bw_conf_key_t *k)
{
    return k->min != 0 || k->max != 0;
}

void bw_conf_expect(const bw_conf_key_t *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    const char *what = "";
    switch (k->type) {
    case BW_CONF_BOOL: snprintf(buf, len, "yes or no"); return;
    case BW_CONF_INT: what = "an integer"; break;
    case BW_CONF_UINT: what = "a number"; break;
    case BW_CONF_SIZE: what = "a size such as 400M"; break;
    case BW_CONF_DURATION: what = "a duration such as 30s"; break;
    case BW_CONF_STRING: what = "text"; break;
    case BW_CONF_PATH: what = "a path"; break;
    case BW_CONF_CUSTOM: what = "a value"; break;
    case BW_CONF_ENUM: {
        size_t n = 0;
        buf[0] = '\0';
        for (const bw_conf_enum_t *w = k->words; w && w->name && n < len; w++)
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "|" : "", w->name);
        return;
    }
    }
    if (!bounded(k) || k->type == BW_CONF_CUSTOM) {
        snprintf(buf, len, "%s", what);
    } else if (k->type == BW_CONF_STRING || k->type == BW_CONF_PATH) {
        snprintf(buf, len, "%s of %" PRId64 "..%" PRId64 " bytes", what, k->min, k->max);
    } else {
        fmt_num(k, (uint64_t)k->min, k->min, lo, sizeof lo);
        fmt_num(k, (uint64_t)k->max, k->max, hi, sizeof hi);
        snprintf(buf, len, "%s in %s..%s", what, lo, hi);
    }
}

const char *bw_conf_type_name(bw_conf_type_t t)
{
    switch (t) {
    case BW_CONF_BOOL: return "bool";
    case BW_CONF_INT: return "int";
    case BW_CONF_UINT: return "uint";
    case BW_CONF_SIZE: return "size";
    case BW_CONF_DURATION: return "duration";
    case BW_CONF_STRING: return "string";
    case BW_CONF_PATH: return "path";
    case BW_CONF_ENUM: return "enum";
    case BW_CONF_CUSTOM: return "custom";
    }
    return "?";
}

size_t bw_conf_elem_size(const bw_conf_key_t *k)
{
    switch (k->type) {
    case BW_CONF_BOOL: return sizeof(bool);
    case BW_CONF_INT: return sizeof(int64_t);
    case BW_CONF_UINT: case BW_CONF_SIZE: case BW_CONF_DURATION: return sizeof(uint64_t);
    case BW_CONF_STRING: case BW_CONF_PATH: return sizeof(char *);
    case BW_CONF_ENUM: return sizeof(int);
    case BW_CONF_CUSTOM: return k->size;
    }
    return 0;
}

size_t bw_conf_slot_size(const bw_conf_key_t *k)
{
    return (k->flags & BW_CONF_REPEATABLE) ? sizeof(bw_conf_list_t) : bw_conf_elem_size(k);
}

static int range_err(const bw_conf_key_t *k, const char *text, bw_err_t *err)
{
    char exp[96];
    bw_conf_expect(k, exp, sizeof exp);
    return bw_err_set(err, "'%.*s' is out of range (expected %s)", QUOTE, text, exp);
}

static char *resolve(const char *text, const char *dir)
{
    if (!text[0] || text[0] == '/' || !dir || !dir[0])
        return strdup(text);
    size_t dl = strlen(dir), tl = strlen(text);
    char *p = malloc(dl + tl + 2);
    if (p) {
        memcpy(p, dir, dl);
        p[dl] = '/';
        memcpy(p + dl + 1, text, tl + 1);
    }
    return p;
}

int bw_conf_value_parse(const bw_conf_key_t *k, const char *text, const char *dir, void *dst,
                        bw_err_t *err)
{
    uint64_t u = 0;
    int64_t i = 0;
    switch (k->type) {
    case BW_CONF_BOOL:
        return bw_conf_parse_bool(text, dst, err);
    case BW_CONF_INT:
        if (bw_conf_parse_int(text, &i, err))
            return BW_ERR;
        if (bounded(k) && (i < k->min || i > k->max))
            return range_err(k, text, err);
        memcpy(dst, &i, sizeof i);
        return BW_OK;
    case BW_CONF_UINT:
    case BW_CONF_SIZE:
    case BW_CONF_DURATION:
        if (k->type == BW_CONF_UINT ? bw_conf_parse_uint(text, &u, err)
            : k->type == BW_CONF_SIZE ? bw_conf_parse_size(text, &u, err)
                                      : bw_conf_parse_duration(text, &u, err))
            return BW_ERR;
        if (bounded(k) && (u < (uint64_t)k->min || u > (uint64_t)k->max))
            return range_err(k, text, err);
        memcpy(dst, &u, sizeof u);
        return BW_OK;
    case BW_CONF_STRING:
    case BW_CONF_PATH: {
        size_t n = strlen(text);
        if (bounded(k) && ((int64_t)n < k->min || (int64_t)n > k->max)) {
            char exp[96];
            bw_conf_expect(k, exp, sizeof exp);
            return bw_err_set(err, "%zu bytes is the wrong length (expected %s)", n, exp);
        }
        char *s = k->type == BW_CONF_PATH ? resolve(text, dir) : strdup(text);
        if (!s)
            return bw_err_set(err, "out of memory");
        memcpy(dst, &s, sizeof s);
        return BW_OK;
    }
    case BW_CONF_ENUM:
        for (const bw_conf_enum_t *w = k->words; w && w->name; w++) {
            if (!strcasecmp(w->name, text)) {
                memcpy(dst, &w->value, sizeof w->value);
                return BW_OK;
            }
        }
        {
            char exp[160];
            bw_conf_expect(k, exp, sizeof exp);
            return bw_err_set(err, "'%.*s' is not a valid value (expected one of %s)", QUOTE, text,
                              exp);
        }
    case BW_CONF_CUSTOM:
        if (!k->parse)
            return bw_err_set(err, "no parser for this key");
        if (k->parse(k, text, dst, err)) {
            if (k->free)
                k->free(k, dst);
            return BW_ERR;
        }
        return BW_OK;
    }
    return bw_err_set(err, "unknown key type %d", (int)k->type);
}

void bw_conf_value_free(const bw_conf_key_t *k, void *dst)
{
    if (k->type == BW_CONF_STRING || k->type == BW_CONF_PATH) {
        char *s;
        memcpy(&s, dst, sizeof s);
        free(s);
        s = NULL;
        memcpy(dst, &s, sizeof s);
    } else if (k->type == BW_CONF_CUSTOM && k->free) {
        k->free(k, dst);
    }
}

int bw_conf_distance(const char *a, const char *b)
{
    enum { CAP = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la > CAP || lb > CAP)
        return 1 << 20;
    int row[CAP + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}
