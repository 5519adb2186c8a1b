/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantine metadata record: a small line-based text file beside each
 * object, written by the daemon and read by `bulwark quarantine`.
 *
 *   # Bulwark quarantine record
 *   version: 1
 *   sha256: 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
 *   size: 68
 *   partial: no
 *   time: 2024-05-01T12:00:00Z
 *   status: INFECTED
 *   threat: Eicar-Test-Signature
 *   origin: http://example.com/eicar.com
 *   client: 192.0.2.7
 *   user:
 *   group: default
 *   method: RESPMOD
 *
 * Why text and not JSON or a binary header: an administrator reads it with
 * `cat`, greps a directory of them, and a damaged one points at its line.
 * The parser is strict, because the file lives in a directory other tools
 * may touch: every line is `key: value` or a `#` comment and ends with a
 * newline; keys are known, lower case, given once (threat up to 32 times);
 * values hold no control characters and fit their field.  It is a pure
 * function over a buffer, allocates nothing, and reports the line at fault.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "quarantine/quarantine.h"

enum key_id {
    K_VERSION, K_SHA256, K_SIZE, K_PARTIAL, K_TIME, K_STATUS, K_THREAT, K_ORIGIN,
    K_CLIENT, K_USER, K_GROUP, K_METHOD, K_COUNT
};

static const struct {
    const char *name;
    bool required;
} key_info[K_COUNT] = {
    [K_VERSION] = {"version", true}, [K_SHA256] = {"sha256", true},
    [K_SIZE] = {"size", true},       [K_PARTIAL] = {"partial", true},
    [K_TIME] = {"time", true},       [K_STATUS] = {"status", true},
    [K_THREAT] = {"threat", false},  [K_ORIGIN] = {"origin", true},
    [K_CLIENT] = {"client", false},  [K_USER] = {"user", false},
    [K_GROUP] = {"group", false},    [K_METHOD] = {"method", false},
};

void bw_quar_field_set(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (!cap)
        return;
    for (; src && src[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)src[n];
        dst[n] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    dst[n] = '\0';
}

void bw_quar_meta_set_verdict(bw_quar_meta_t *m, const bw_verdict_t *v)
{
    bw_quar_field_set(m->status, sizeof m->status, bw_status_name(v->status));
    m->nthreats = 0;
    for (size_t i = 0; i < v->nthreats && m->nthreats < BW_QUAR_MAX_THREATS; i++) {
        const bw_threat_t *t = &v->threats[i];
        char one[BW_QUAR_MAX_THREAT + 1];
        if (t->path && t->path[0])
            snprintf(one, sizeof one, "%s in %s", t->name ? t->name : "", t->path);
        else
            snprintf(one, sizeof one, "%s", t->name ? t->name : "");
        bw_quar_field_set(m->threats[m->nthreats++], sizeof m->threats[0], one);
    }
}

static void put_field(bw_buf_t *out, const char *key, const char *value)
{
    if (value[0])
        bw_buf_printf(out, "%s: %s\n", key, value);
    else
        bw_buf_printf(out, "%s:\n", key);
}

void bw_quar_meta_format(const bw_quar_meta_t *m, bw_buf_t *out)
{
    char ts[32] = "1970-01-01T00:00:00Z";
    struct tm tm;
    if (gmtime_r(&m->time, &tm))
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bw_buf_puts(out, "# Bulwark quarantine record\nversion: 1\n");
    put_field(out, "sha256", m->sha256);
    bw_buf_printf(out, "size: %llu\n", (unsigned long long)m->size);
    put_field(out, "partial", m->partial ? "yes" : "no");
    put_field(out, "time", ts);
    put_field(out, "status", m->status);
    for (size_t i = 0; i < m->nthreats && i < BW_QUAR_MAX_THREATS; i++)
        put_field(out, "threat", m->threats[i]);
    put_field(out, "origin", m->origin);
    put_field(out, "client", m->client);
    put_field(out, "user", m->user);
    put_field(out, "group", m->group);
    put_field(out, "method", m->method);
}

/* ---- parsing ------------------------------------------------------------------ */

static int is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return BW_ERR;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return BW_OK;
}

/* "YYYY-MM-DDTHH:MM:SSZ", a real UTC date and time. */
static int parse_time(const char *v, size_t n, time_t *out)
{
    int y, mo, d, h, mi, s;
    if (n != 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' ||
        v[19] != 'Z' || digits(v, 4, &y) || digits(v + 5, 2, &mo) || digits(v + 8, 2, &d) ||
        digits(v + 11, 2, &h) || digits(v + 14, 2, &mi) || digits(v + 17, 2, &s))
        return BW_ERR;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
        return BW_ERR;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = s};
    time_t t = timegm(&tm);
    struct tm back;
    /* timegm normalises 31 April into 1 May: a date that does not come back
     * unchanged did not exist. */
    if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
        return BW_ERR;
    *out = t;
    return BW_OK;
}

static int parse_u64(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20 || (n > 1 && v[0] == '0'))
        return BW_ERR;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return BW_ERR;
        unsigned dg = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - dg) / 10)
            return BW_ERR;
        x = x * 10 + dg;
    }
    *out = x;
    return BW_OK;
}

/* Copies a value into a field of cap bytes (NUL included), or fails. */
static int set_str(char *dst, size_t cap, const char *v, size_t n, const char *key, bw_err_t *err)
{
    if (n >= cap)
        return bw_err_set(err, "%s: value of %zu bytes (at most %zu)", key, n, cap - 1);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return BW_OK;
}

static int take_value(bw_quar_meta_t *m, enum key_id k, const char *v, size_t n, bw_err_t *err)
{
    const char *name = key_info[k].name;
    switch (k) {
    case K_VERSION:
        if (n != 1 || v[0] != '1')
            return bw_err_set(err, "version: unsupported record version '%.*s' (expected 1)",
                              (int)(n > 20 ? 20 : n), v);
        return BW_OK;
    case K_SHA256:
        for (size_t i = 0; i < n; i++)
            if (!is_lower_hex(v[i]))
                n = 0;
        if (n != BW_QUAR_ID_LEN)
            return bw_err_set(err, "sha256: expected 64 lowercase hex digits");
        return set_str(m->sha256, sizeof m->sha256, v, n, name, err);
    case K_SIZE:
        if (parse_u64(v, n, &m->size) != BW_OK)
            return bw_err_set(err, "size: '%.*s' is not a byte count (expected decimal digits)",
                              (int)(n > 24 ? 24 : n), v);
        return BW_OK;
    case K_PARTIAL:
        if (n == 3 && !memcmp(v, "yes", 3))
            m->partial = true;
        else if (n == 2 && !memcmp(v, "no", 2))
            m->partial = false;
        else
            return bw_err_set(err, "partial: expected yes or no");
        return BW_OK;
    case K_TIME:
        if (parse_time(v, n, &m->time) != BW_OK)
            return bw_err_set(err, "time: '%.*s' is not a UTC time (expected YYYY-MM-DDTHH:MM:SSZ)",
                              (int)(n > 32 ? 32 : n), v);
        return BW_OK;
    case K_STATUS: {
        char tmp[BW_QUAR_MAX_STATUS + 1];
        bw_status_t st;
        if (set_str(tmp, sizeof tmp, v, n, name, err) != BW_OK)
            return BW_ERR;
        if (bw_status_from_name(tmp, &st) != BW_OK || strcmp(bw_status_name(st), tmp) != 0)
            return bw_err_set(err, "status: unknown status '%s' (expected INFECTED, SUSPICIOUS, ...)",
                              tmp);
        memcpy(m->status, tmp, n + 1);
        return BW_OK;
    }
    case K_THREAT:
        if (m->nthreats >= BW_QUAR_MAX_THREATS)
            return bw_err_set(err, "threat: more than %d threat lines", BW_QUAR_MAX_THREATS);
        if (set_str(m->threats[m->nthreats], sizeof m->threats[0], v, n, name, err) != BW_OK)
            return BW_ERR;
        m->nthreats++;
        return BW_OK;
    case K_ORIGIN: return set_str(m->origin, sizeof m->origin, v, n, name, err);
    case K_CLIENT: return set_str(m->client, sizeof m->client, v, n, name, err);
    case K_USER: return set_str(m->user, sizeof m->user, v, n, name, err);
    case K_GROUP: return set_str(m->group, sizeof m->group, v, n, name, err);
    case K_METHOD: return set_str(m->method, sizeof m->method, v, n, name, err);
    default: return bw_err_set(err, "internal: key %d", (int)k);
    }
}

/* One `key: value` line (without its newline). */
static int parse_line(bw_quar_meta_t *m, const char *p, size_t n, unsigned lineno,
                      unsigned seen_at[K_COUNT], bw_err_t *err)
{
    if (n == 0)
        return bw_err_set(err, "empty line (expected 'key: value')");
    size_t k = 0;
    while (k < n && ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9') || p[k] == '-'))
        k++;
    if (k == 0 || k > 32 || k == n || p[k] != ':' || (k + 1 < n && p[k + 1] != ' '))
        return bw_err_set(err, "expected 'key: value' (a lower-case key, a colon and a space)");
    enum key_id id = K_COUNT;
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(key_info[i].name) == k && !memcmp(key_info[i].name, p, k))
            id = (enum key_id)i;
    if (id == K_COUNT)
        return bw_err_set(err, "unknown key '%.*s'", (int)k, p);
    if (id != K_THREAT && seen_at[id])
        return bw_err_set(err, "%s: given twice (first on line %u)", key_info[id].name,
                          seen_at[id]);
    if (!seen_at[id])
        seen_at[id] = lineno;
    const char *v = k + 1 < n ? p + k + 2 : p + n;
    size_t vn = k + 1 < n ? n - k - 2 : 0;
    for (size_t i = 0; i < vn; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch == 0x7f)
            return bw_err_set(err, "%s: control character 0x%02x in the value", key_info[id].name,
                              ch);
    }
    return take_value(m, id, v, vn, err);
}

int bw_quar_meta_parse(const char *buf, size_t len, bw_quar_meta_t *out, unsigned *line,
                       bw_err_t *err)
{
    unsigned seen_at[K_COUNT] = {0};
    unsigned lineno = 0;
    memset(out, 0, sizeof *out);
    *line = 0;
    if (len > BW_QUAR_MAX_RECORD)
        return bw_err_set(err, "record of %zu bytes (at most %d)", len, BW_QUAR_MAX_RECORD);
    size_t off = 0;
    while (off < len) {
        lineno++;
        const char *p = buf + off;
        const char *nl = memchr(p, '\n', len - off);
        if (!nl) {
            *line = lineno;
            return bw_err_set(err, "the last line has no newline (the record is cut short)");
        }
        size_t n = (size_t)(nl - p);
        off += n + 1;
        if (n && p[0] == '#')
            continue;
        if (parse_line(out, p, n, lineno, seen_at, err) != BW_OK) {
            *line = lineno;
            return BW_ERR;
        }
    }
    for (int i = 0; i < K_COUNT; i++) {
        if (key_info[i].required && !seen_at[i]) {
            *line = lineno ? lineno : 1;
            return bw_err_set(err, "missing '%s' (the record ends here)", key_info[i].name);
        }
    }
    return BW_OK;
}
