/* SPDX-License-Identifier: Apache-2.0 */
/* Events as ArcSight CEF:0 lines (evout.h; docs/events.md has the mapping).
 *
 *   CEF:0|Bulwark|bulwarkd|VERSION|TYPE|NAME|SEVERITY|key=value key=value ...
 *
 * The escaping is the specification's (ArcSight "Implementing ArcSight CEF",
 * rev 25): in the header, backslash and pipe are escaped with a backslash;
 * in extension values, backslash and equals sign are escaped, and a newline
 * or carriage return becomes \n or \r.  A header field cannot hold a line
 * break at all, so one becomes a space.  The header's SEVERITY is 0..10. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bulwark/bulwark.h"
#include "core/buf.h"
#include "events/evout-int.h"
#include "events/evout.h"

void bw_cef_put_header(bw_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '|')
            bw_buf_append(b, "\\", 1);
        if (*s == '\n' || *s == '\r')
            bw_buf_append(b, " ", 1);
        else
            bw_buf_append(b, s, 1);
    }
}

void bw_cef_put_ext(bw_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '=')
            bw_buf_append(b, "\\", 1), bw_buf_append(b, s, 1);
        else if (*s == '\n')
            bw_buf_append(b, "\\n", 2);
        else if (*s == '\r')
            bw_buf_append(b, "\\r", 2);
        else
            bw_buf_append(b, s, 1);
    }
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void ext(bw_buf_t *b, const char *key, const char *v)
{
    if (!v || !v[0])
        return;
    bw_buf_printf(b, " %s=", key);
    bw_cef_put_ext(b, v);
}

static int cef_severity(const char *s)
{
    if (!s)
        return 0;
    return !strcmp(s, "critical") ? 10 : !strcmp(s, "high") ? 8 : !strcmp(s, "medium") ? 5
           : !strcmp(s, "low") ? 3 : 1;
}

/* "2026-12-08T02:16:18.123456Z" -> milliseconds since the epoch ("" if not). */
static void rt_of(const char *t, char *out, size_t len)
{
    struct tm tm = {0};
    unsigned us = 0;
    out[0] = 0;
    if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
        return;
    const char *dot = strchr(t, '.');
    if (dot)
        sscanf(dot + 1, "%6u", &us);
    snprintf(out, len, "%lld%03u", (long long)timegm(&tm), us / 1000);
}

void bw_evout_format_cef(bw_buf_t *b, const json_t *ev)
{
    const json_t *obj = json_object_get(ev, "object"), *cl = json_object_get(ev, "client");
    const json_t *th = json_object_get(ev, "threats");
    bw_buf_t threats = {0};
    size_t i;
    const json_t *t;
    json_array_foreach(th, i, t) {
        if (i)
            bw_buf_puts(&threats, ",");
        bw_buf_puts(&threats, json_string_value(t) ? json_string_value(t) : "");
    }
    bw_buf_append(&threats, "", 1); /* NUL-terminated, even when empty */
    const char *type = str(ev, "type"), *name = threats.oom ? NULL : threats.p;
    if (!name || !name[0])
        name = str(ev, "message") ? str(ev, "message") : type;
    bw_buf_puts(b, "CEF:0|Bulwark|bulwarkd|" BW_VERSION "|");
    bw_cef_put_header(b, type ? type : "unknown");
    bw_buf_puts(b, "|");
    bw_cef_put_header(b, name ? name : "");
    bw_buf_printf(b, "|%d|", cef_severity(str(ev, "severity")));
    size_t start = b->len;
    char rt[32];
    rt_of(str(ev, "time"), rt, sizeof rt);
    ext(b, "rt", rt);
    ext(b, "dvchost", str(ev, "node"));
    ext(b, "cat", str(ev, "component"));
    ext(b, "externalId", str(ev, "id"));
    ext(b, "act", str(ev, "action"));
    ext(b, "outcome", str(ev, "verdict"));
    ext(b, "request", str(obj, "url"));
    ext(b, "filePath", str(obj, "path"));
    json_t *size = json_object_get(obj, "size");
    if (json_is_integer(size))
        bw_buf_printf(b, " fsize=%lld", (long long)json_integer_value(size));
    ext(b, "fileHash", str(obj, "sha256"));
    ext(b, "src", str(cl, "ip"));
    ext(b, "suser", str(cl, "user"));
    if (str(cl, "group"))
        ext(b, "cs1Label", "group"), ext(b, "cs1", str(cl, "group"));
    if (name && name == threats.p && name[0])
        ext(b, "cs2Label", "threats"), ext(b, "cs2", threats.p);
    const json_t *q = json_object_get(ev, "quarantine");
    if (str(q, "id"))
        ext(b, "cs3Label", "quarantineId"), ext(b, "cs3", str(q, "id"));
    ext(b, "requestMethod", str(ev, "method"));
    const char *msg = str(ev, "error") ? str(ev, "error") : str(ev, "message");
    ext(b, "msg", msg);
    json_t *dropped = json_object_get(ev, "dropped");
    if (json_is_integer(dropped))
        bw_buf_printf(b, " cn1Label=dropped cn1=%lld", (long long)json_integer_value(dropped));
    /* the extension starts after the last '|' with no blank before its first key */
    if (b->len > start && b->p[start] == ' ')
        memmove(b->p + start, b->p + start + 1, --b->len - start);
    bw_buf_free(&threats);
}
