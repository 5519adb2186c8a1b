/* SPDX-License-Identifier: Apache-2.0 */
/* Validating a batch of events before anything is stored.
 *
 * The whole batch is checked first and stored in one transaction after, so a
 * batch is all or nothing: a node whose batch is refused gets a 400 that
 * names the event and the field (its forwarder bisects to find the bad one,
 * src/link) and the console holds none of it.  The rules are those of
 * docs/events.md: id, time, component, type and severity required and
 * well-formed, the optional fields of the right JSON type, one event at most
 * 64 KiB of JSON.  jansson refuses invalid UTF-8 and \u0000 while parsing, so
 * every string that reaches the store is valid UTF-8 without NULs. */
#include "console/evbatch.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulwark/core.h"

static const char *const components[] = {"icap",   "clamd",  "quarantine", "update", "daemon",
                                         "events", "agent", "sensor",     NULL};
static const char *const severities[] = {"info", "low", "medium", "high", "critical", NULL};

int bw_evbatch_severity(const char *s)
{
    for (int i = 0; s && severities[i]; i++)
        if (!strcmp(s, severities[i]))
            return i + 1;
    return 0;
}

static int in_list(const char *s, const char *const *l)
{
    for (; *l; l++)
        if (!strcmp(s, *l))
            return 1;
    return 0;
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int bw_evbatch_parse_time(const char *s, int64_t *us)
{
    int Y, M, D, h, m, sec;
    if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' || digits(s + 17, 2, &sec))
        return BW_ERR;
    if (Y < 1970 || Y > 9999 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return BW_ERR;
    const char *p = s + 19;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 6)
                frac = frac * 10 + (*p - '0');
            nd++, p++;
        }
        if (nd == 0 || nd > 9)
            return BW_ERR;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return BW_ERR;
        off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return BW_ERR;
    }
    if (*p)
        return BW_ERR;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    int64_t t = (int64_t)timegm(&tm) - off;
    *us = t * 1000000 + frac;
    return BW_OK;
}

typedef enum { T_STR, T_INT, T_OBJ, T_ARR_STR, T_ANY } ftype_t;

/* The optional fields whose type the console relies on (indexes, the UI). */
static const struct {
    const char *name;
    ftype_t t;
} fields[] = {
    {"node", T_STR},      {"verdict", T_STR},  {"action", T_STR},   {"threats", T_ARR_STR},
    {"object", T_OBJ},    {"client", T_OBJ},   {"method", T_STR},   {"quarantine", T_OBJ},
    {"db", T_OBJ},        {"task", T_OBJ},     {"dropped", T_INT},  {"message", T_STR},
    {"error", T_STR},     {"src_ip", T_STR},   {"src_port", T_INT}, {"dest_ip", T_STR},
    {"dest_port", T_INT}, {"proto", T_STR},    {"app_proto", T_STR}, {"flow_id", T_INT},
    {"alert", T_OBJ},
};

static int check_type(json_t *v, ftype_t t)
{
    switch (t) {
    case T_STR: return json_is_string(v);
    case T_INT: return json_is_integer(v);
    case T_OBJ: return json_is_object(v);
    case T_ARR_STR: {
        if (!json_is_array(v))
            return 0;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (!json_is_string(x)) return 0;
        return 1;
    }
    default: return 1;
    }
}

static int check_event(json_t *ev, size_t i, const char *node, char **text, bw_err_t *err)
{
    if (!json_is_object(ev))
        return bw_err_set(err, "events[%zu]: not an object", i), BW_ERR;
    static const char *const req[] = {"id", "time", "component", "type", "severity"};
    for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++) {
        json_t *v = json_object_get(ev, req[k]);
        if (!v)
            return bw_err_set(err, "events[%zu].%s: missing", i, req[k]), BW_ERR;
        if (!json_is_string(v))
            return bw_err_set(err, "events[%zu].%s: not a string", i, req[k]), BW_ERR;
    }
    const char *id = json_string_value(json_object_get(ev, "id"));
    size_t idn = strlen(id);
    if (idn != 32 || strspn(id, "0123456789abcdef") != 32)
        return bw_err_set(err, "events[%zu].id: not 32 lowercase hex digits", i), BW_ERR;
    int64_t us;
    if (bw_evbatch_parse_time(json_string_value(json_object_get(ev, "time")), &us) != BW_OK)
        return bw_err_set(err, "events[%zu].time: not RFC 3339 (2026-12-08T02:16:18.123456Z)",
                          i), BW_ERR;
    const char *comp = json_string_value(json_object_get(ev, "component"));
    if (!in_list(comp, components))
        return bw_err_set(err, "events[%zu].component: unknown (icap, clamd, quarantine, update, "
                               "daemon, events, agent, sensor)", i), BW_ERR;
    const char *type = json_string_value(json_object_get(ev, "type"));
    size_t tn = strlen(type);
    if (tn == 0 || tn > 64 || strspn(type, "abcdefghijklmnopqrstuvwxyz0123456789._-") != tn)
        return bw_err_set(err, "events[%zu].type: not a dotted name (a-z, 0-9, '.', '_', '-'; "
                               "at most 64)", i), BW_ERR;
    if (!bw_evbatch_severity(json_string_value(json_object_get(ev, "severity"))))
        return bw_err_set(err, "events[%zu].severity: unknown (info, low, medium, high, "
                               "critical)", i), BW_ERR;
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        json_t *v = json_object_get(ev, fields[k].name);
        if (v && !check_type(v, fields[k].t))
            return bw_err_set(err, "events[%zu].%s: wrong type (expected %s)", i, fields[k].name,
                              fields[k].t == T_STR   ? "a string"
                              : fields[k].t == T_INT ? "an integer"
                              : fields[k].t == T_OBJ ? "an object"
                                                     : "an array of strings"), BW_ERR;
    }
    /* The size as it will be stored: with the sender's node name, serialised
     * once (the caller stores this text: no second serialisation). */
    if (node && json_object_set_new(ev, "node", json_string(node)))
        return bw_err_set(err, "events[%zu]: out of memory", i), BW_ERR;
    char *s = json_dumps(ev, JSON_COMPACT);
    if (!s)
        return bw_err_set(err, "events[%zu]: cannot be serialised", i), BW_ERR;
    size_t n = strlen(s);
    if (n > BW_EVBATCH_MAX_EVENT) {
        free(s);
        return bw_err_set(err, "events[%zu]: %zu bytes, more than %u", i, n,
                          BW_EVBATCH_MAX_EVENT), BW_ERR;
    }
    if (text)
        *text = s;
    else
        free(s);
    return BW_OK;
}

void bw_evbatch_texts_free(char **texts, size_t n)
{
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
}

int bw_evbatch_prepare(const char *buf, size_t len, size_t max_events, const char *node,
                       json_t **events, char ***texts, int *too_big, bw_err_t *err)
{
    *events = NULL;
    *too_big = 0;
    if (texts)
        *texts = NULL;
    json_error_t je;
    /* Depth is bounded by jansson (JSON_PARSER_MAX_DEPTH); duplicates are refused
     * so two readers of an event cannot disagree on a field. */
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return bw_err_set(err, "body: line %d column %d: %s", je.line, je.column, je.text),
               BW_ERR;
    json_t *arr = json_is_object(root) ? json_object_get(root, "events") : NULL;
    if (!arr || !json_is_array(arr)) {
        json_decref(root);
        return bw_err_set(err, "body: expected {\"events\":[...]}"), BW_ERR;
    }
    size_t n = json_array_size(arr);
    if (n > max_events) {
        json_decref(root);
        *too_big = 1;
        return bw_err_set(err, "events: %zu events, more than %zu in one batch", n, max_events),
               BW_ERR;
    }
    char **t = texts ? calloc(n ? n : 1, sizeof *t) : NULL;
    if (texts && !t) {
        json_decref(root);
        return bw_err_set(err, "out of memory"), BW_ERR;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(arr, i, ev)
    {
        if (check_event(ev, i, node, t ? &t[i] : NULL, err) != BW_OK) {
            bw_evbatch_texts_free(t, n);
            json_decref(root);
            return BW_ERR;
        }
    }
    *events = json_incref(arr);
    if (texts)
        *texts = t;
    json_decref(root);
    return BW_OK;
}

int bw_evbatch_validate(const char *buf, size_t len, size_t max_events, json_t **events,
                        int *too_big, bw_err_t *err)
{
    return bw_evbatch_prepare(buf, len, max_events, NULL, events, NULL, too_big, err);
}
