/* SPDX-License-Identifier: Apache-2.0 */
/* The answers after a verdict: clean (204, 206 or the 200 echo), cured,
 * blocked (a 200 carrying the HTTP 403 page), or, when the answer already
 * started before the verdict, the rest of the echo or a cut connection.
 * Also the report line every answered object gets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events/event.h"
#include "icap/icap-conn-t.h"
#include "core/stats.h"
#include "policy/notify.h"
#include "quarantine/quarantine-job.h"
#include "quarantine/quarantine.h"

/* Squid sends X-Client-Username base64-encoded when icap_client_username_encode
 * is on.  A value that is valid base64 of printable text is decoded; anything
 * else is taken as the plain name. */
void bw_conn_user_decode(char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s);
    if (n < 4 || n % 4)
        return;
    char out[128];
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            const char *p = s[i + k] == '=' ? NULL : strchr(tab, s[i + k]);
            if (s[i + k] == '=' && i + 4 == n && k >= 2)
                v[k] = -1;
            else if (!p || !s[i + k])
                return;
            else
                v[k] = (int)(p - tab);
        }
        if (v[2] < 0 && v[3] >= 0)
            return;
        unsigned bits = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) |
                        ((unsigned)(v[2] < 0 ? 0 : v[2]) << 6) | (unsigned)(v[3] < 0 ? 0 : v[3]);
        int nb = v[2] < 0 ? 1 : v[3] < 0 ? 2 : 3;
        for (int k = 0; k < nb; k++) {
            unsigned char ch = (unsigned char)(bits >> (16 - 8 * k));
            if (ch < 0x20 || ch == 0x7f || o + 1 >= sizeof out)
                return;
            out[o++] = (char)ch;
        }
    }
    out[o] = 0;
    memcpy(s, out, o + 1);
}


static void bw_log_conn(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bw_log_conn(conn_t *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bw_log(BW_LOG_WARN, "%s %s: %s", bw_icap_method_name(c->method), c->url[0] ? c->url : "-", msg);
}


/* Copies an HTTP head, dropping the framing headers when the body changes. */
void bw_conn_put_http_head(bw_buf_t *out, const bw_http_msg_t *m, int new_body, size_t new_len)
{
    if (!new_body) {
        /* The head exactly as received: its bytes are in m's slices. */
        const char *start = m->is_response ? m->version.p : m->method.p;
        bw_buf_append(out, start, m->head_len);
        return;
    }
    if (m->is_response)
        bw_buf_printf(out, "%.*s %d %.*s\r\n", (int)m->version.n, m->version.p, m->status,
                      (int)m->reason.n, m->reason.p);
    else
        bw_buf_printf(out, "%.*s %.*s %.*s\r\n", (int)m->method.n, m->method.p, (int)m->target.n,
                      m->target.p, (int)m->version.n, m->version.p);
    for (size_t i = 0; i < m->nheaders; i++) {
        const bw_icap_header_t *h = &m->headers[i];
        if (bw_icap_str_eq_ci(h->name, "Content-Length") ||
            bw_icap_str_eq_ci(h->name, "Content-Encoding") ||
            bw_icap_str_eq_ci(h->name, "Transfer-Encoding"))
            continue;
        bw_buf_printf(out, "%.*s: %.*s\r\n", (int)h->name.n, h->name.p, (int)h->value.n, h->value.p);
    }
    bw_buf_printf(out, "Content-Length: %zu\r\n\r\n", new_len);
}

const bw_http_msg_t *bw_conn_body_msg(conn_t *c)
{
    if (c->method == BW_ICAP_REQMOD)
        return c->has_req ? &c->reqmsg : NULL;
    return c->has_res ? &c->resmsg : NULL;
}

/* Encapsulated header for an answer that carries msg (may be NULL) and,
 * if has_body, a body after it. */
void bw_conn_put_encap(bw_buf_t *out, const bw_http_msg_t *msg, int is_resp_msg, size_t hdr_len,
                      int has_body)
{
    const char *hdr = is_resp_msg ? "res-hdr" : "req-hdr";
    const char *bod = is_resp_msg ? "res-body" : "req-body";
    if (msg && has_body)
        bw_buf_printf(out, "Encapsulated: %s=0, %s=%zu\r\n\r\n", hdr, bod, hdr_len);
    else if (msg)
        bw_buf_printf(out, "Encapsulated: %s=0, null-body=%zu\r\n\r\n", hdr, hdr_len);
    else if (has_body)
        bw_buf_printf(out, "Encapsulated: %s=0\r\n\r\n", bod);
    else
        bw_buf_puts(out, "Encapsulated: null-body=0\r\n\r\n");
}

static void answer_clean(conn_t *c)
{
    const bw_icap_conf_t *ic = c->ic;
    int in_preview = c->has_preview && !c->sent_100;
    const bw_http_msg_t *msg = bw_conn_body_msg(c);
    int has_body = c->body_kind == BW_ENC_REQ_BODY || c->body_kind == BW_ENC_RES_BODY;
    if (ic->allow204 && (in_preview || (c->allow & BW_ICAP_ALLOW_204))) {
        bw_icap_build_204(c->w->env, &c->verdict, c->client_close, &c->out);
        bw_conn_respond(c, 0);
        return;
    }
    bw_buf_t head = {0};
    if (msg)
        bw_conn_put_http_head(&head, msg, 0, 0);
    /* Squid lists 206 even when it may only be used inside the preview: after
     * the preview it takes 206 only if it also takes 204 (it kept the body). */
    int use206 = ic->allow206 && (c->allow & BW_ICAP_ALLOW_206) && has_body &&
                 (in_preview || !c->has_preview || (c->allow & BW_ICAP_ALLOW_204));
    bw_icap_build_head(c->w->env, use206 ? 206 : 200, &c->out);
    bw_icap_verdict_headers(&c->verdict, 0, &c->out);
    if (c->client_close || c->close_after)
        bw_buf_puts(&c->out, "Connection: close\r\n");
    bw_conn_put_encap(&c->out, msg, c->method != BW_ICAP_REQMOD, head.len, has_body);
    bw_buf_append(&c->out, head.p, head.len);
    bw_buf_free(&head);
    if (use206) {
        bw_buf_puts(&c->out, "0; use-original-body=0\r\n\r\n");
    } else if (has_body) {
        c->echo_active = 1; /* on_write streams the body after this head */
        c->echo_off = 0;
    }
    bw_conn_respond(c, 0);
}

static void answer_block(conn_t *c, const char *action)
{
    bw_buf_t html = {0};
    bw_icap_render_block(c->w->env, &c->verdict, c->url, c->client_ip, action, c->group, &html);
    bw_buf_t http = {0};
    bw_buf_printf(&http,
                  "HTTP/1.1 403 Forbidden\r\nContent-Type: text/html; charset=utf-8\r\n"
                  "Cache-Control: no-store\r\nContent-Length: %zu\r\nConnection: close\r\n"
                  "X-Bulwark-Verdict: %s\r\n\r\n",
                  html.len, bw_status_name(c->verdict.status));
    bw_icap_build_head(c->w->env, 200, &c->out);
    bw_icap_verdict_headers(&c->verdict, 1, &c->out);
    if (c->client_close || c->close_after)
        bw_buf_puts(&c->out, "Connection: close\r\n");
    bw_buf_printf(&c->out, "Encapsulated: res-hdr=0, res-body=%zu\r\n\r\n", http.len);
    bw_buf_append(&c->out, http.p, http.len);
    bw_icap_chunk_out(&c->out, html.p, html.len);
    bw_buf_puts(&c->out, "0\r\n\r\n");
    bw_buf_free(&html);
    bw_buf_free(&http);
    bw_conn_respond(c, 0);
}

static void answer_cured(conn_t *c)
{
    const bw_http_msg_t *msg = bw_conn_body_msg(c);
    bw_buf_t head = {0};
    if (msg)
        bw_conn_put_http_head(&head, msg, 1, c->verdict.cured_len);
    bw_icap_build_head(c->w->env, 200, &c->out);
    bw_icap_verdict_headers(&c->verdict, 0, &c->out);
    if (c->client_close || c->close_after)
        bw_buf_puts(&c->out, "Connection: close\r\n");
    bw_conn_put_encap(&c->out, msg, c->method != BW_ICAP_REQMOD, head.len, 1);
    bw_buf_append(&c->out, head.p, head.len);
    bw_buf_free(&head);
    bw_icap_chunk_out(&c->out, c->verdict.cured, c->verdict.cured_len);
    bw_buf_puts(&c->out, "0\r\n\r\n");
    bw_conn_respond(c, 0);
}

static const char *action_name(bw_action_t a)
{
    return a == BW_ACT_DENY ? "deny" : a == BW_ACT_CURE ? "cure"
           : a == BW_ACT_QUARANTINE ? "quarantine" : "skip";
}

/* One line per object, eleven space-separated fields (docs/policy.md):
 * TIME CLIENT USER METHOD URL SIZE STATUS THREAT ACTION MSms GROUP.
 * Every field that comes from the request (client address, user, URL) or
 * may hold blanks (the threat name, the group) is percent-encoded, so a
 * forged X-Client-IP or a Host header with spaces cannot add fields or
 * lines, and a reader can split on spaces. */
static void report_line(conn_t *c, bw_action_t a)
{
    FILE *f = c->w->env->report;
    if (!f)
        return;
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S%z", &tm);
    bw_buf_t l = {0};
    bw_buf_printf(&l, "%s ", ts);
    bw_buf_put_field(&l, c->client_ip);
    bw_buf_puts(&l, " ");
    bw_buf_put_field(&l, c->user);
    bw_buf_printf(&l, " %s ", bw_icap_method_name(c->method));
    bw_buf_put_field(&l, c->url);
    bw_buf_printf(&l, " %llu %s ", (unsigned long long)c->body_bytes,
                  bw_status_name(c->verdict.status));
    bw_buf_put_field(&l, bw_verdict_name(&c->verdict));
    bw_buf_printf(&l, " %s %llums ", c->excluded ? "excluded" : action_name(a),
                  (unsigned long long)(bw_clock_ms() - c->t_start));
    bw_buf_put_field(&l, c->group ? c->group : "default");
    bw_buf_puts(&l, "\n");
    if (!l.oom)
        fwrite(l.p, 1, l.len, f);
    bw_buf_free(&l);
    fflush(f);
}

/* Server-wide counters (one slot per worker, no lock) and, for anything
 * found, the administrator's notifications (never blocking). */
static void count_and_notify(conn_t *c, bw_action_t a)
{
    bw_icap_env_t *env = c->w->env;
    bw_status_t st = c->verdict.status;
    int found = st != BW_CLEAN;
    if (env->stats) {
        bw_stats_slot_verdict(env->stats, st, c->body_bytes);
        if (a == BW_ACT_DENY || a == BW_ACT_QUARANTINE)
            bw_stats_slot_add(env->stats, BW_ST_BLOCKED, 1);
        int detected = st == BW_INFECTED || st == BW_SUSPICIOUS || st == BW_WARNING || st == BW_CURED;
        bw_stats_slot_group(env->stats, c->group, detected);
    }
    if (found && env->notifier) {
        bw_event_t ev = {
            .status = bw_status_name(st), .threat = bw_verdict_name(&c->verdict),
            .url = c->url, .client_ip = c->client_ip, .user = c->user,
            .group = c->group ? c->group : "default", .action = action_name(a),
            .method = bw_icap_method_name(c->method), .size = c->body_bytes,
            .time = (int64_t)time(NULL),
        };
        bw_notify(env->notifier, &ev);
    }
}

/* The event of an answered object (docs/events.md): `detection` for every
 * verdict other than CLEAN, `scan` for a clean one only with [events] Clean.
 * No SHA-256: the engine digests an object only when a hash signature of its
 * size exists, so there is none to reuse; the quarantine.stored event carries
 * the SHA-256 of what was stored. */
static bw_event_severity_t bw_icap_event_severity(bw_status_t st)
{
    switch (st) {
    case BW_INFECTED: return BW_SEV_HIGH;
    case BW_SUSPICIOUS: case BW_CURED: return BW_SEV_MEDIUM;
    case BW_CLEAN: return BW_SEV_INFO;
    default: return BW_SEV_LOW; /* warnings, limits, errors, encrypted */
    }
}

static void emit_event(conn_t *c, bw_action_t a)
{
    int clean = c->verdict.status == BW_CLEAN;
    if (clean ? !bw_event_clean_enabled() : !bw_event_enabled())
        return;
    /* Formatted straight into a line, no jansson tree: this runs for every
     * object with Clean = yes (event.h, bw_evline_*; the same JSON). */
    bw_evline_t ev;
    bw_evline_begin(&ev, "icap", clean ? "scan" : "detection",
                    bw_icap_event_severity(c->verdict.status));
    bw_evline_str(&ev, "verdict", bw_status_name(c->verdict.status));
    bw_evline_str(&ev, "action", c->excluded ? "excluded" : clean ? "allow" : action_name(a));
    bool threats = false; /* as bw_event_add_str: no array without a name */
    for (size_t i = 0; i < c->verdict.nthreats; i++) {
        if (!c->verdict.threats[i].name)
            continue;
        if (!threats)
            bw_evline_arr(&ev, "threats");
        threats = true;
        bw_evline_elem(&ev, c->verdict.threats[i].name);
    }
    if (threats)
        bw_evline_end(&ev, ']');
    bw_evline_obj(&ev, "object");
    bw_evline_str(&ev, "url", c->url);
    bw_evline_int(&ev, "size", (int64_t)c->body_bytes);
    bw_evline_end(&ev, '}');
    bw_evline_obj(&ev, "client");
    bw_evline_str(&ev, "ip", c->client_ip);
    bw_evline_str(&ev, "user", c->user);
    bw_evline_str(&ev, "group", c->group ? c->group : "default");
    bw_evline_end(&ev, '}');
    bw_evline_str(&ev, "method", bw_icap_method_name(c->method));
    bw_evline_emit(&ev);
}

/* The `quarantine` action: the object as the daemon holds it goes to the
 * quarantine store, off the loop (src/quarantine/quarantine-job.c); the
 * client gets the deny's answer.  The raw spool is handed over: after a
 * quarantine verdict the answer is a block page or a cut, never an echo.
 * What is stored is the body as it crossed (content-encoded, a whole
 * upload form), and "partial" when the daemon did not receive or keep all
 * of it (docs/quarantine.md).  A failure is logged; the answer is the same. */
static void quarantine_object(conn_t *c)
{
    const bw_conf_state_t *st = c->w->env->st;
    const bw_quar_conf_t *qc = st ? bw_conf_get(st, &bw_quar_conf_table, NULL) : NULL;
    int has_body = c->body_kind == BW_ENC_REQ_BODY || c->body_kind == BW_ENC_RES_BODY;
    int received = !has_body || (c->chunk.state == BW_CHS_DONE &&
                                 (!c->has_preview || c->sent_100 || c->chunk.ieof));
    bw_err_t err;
    if (!qc) {
        bw_log_conn(c, "quarantine: not stored: no [quarantine] configuration");
        return;
    }
    if (c->raw.size == 0 && c->body_bytes > 0) {
        bw_log_conn(c, "quarantine: not stored: the daemon kept none of its %llu bytes (the "
                       "client keeps its own copy: Allow 204/206)",
                    (unsigned long long)c->body_bytes);
        return;
    }
    bw_quar_event_t ev = {
        .origin = c->url, .client = c->client_ip, .user = c->user,
        .group = c->group ? c->group : "default", .method = bw_icap_method_name(c->method),
        .verdict = &c->verdict, .partial = !received || c->raw.size != c->body_bytes,
    };
    if (bw_quar_submit(c->w->loop, qc, &ev, &c->raw, &err) != BW_OK)
        bw_log_conn(c, "quarantine: not stored: %s", err.msg);
}

void bw_conn_answer_verdict(conn_t *c)
{
    if (c->too_large && c->verdict.status < BW_TOO_LARGE) {
        /* Past MaxReqLength the rest was not scanned: the status says so. */
        bw_threat_t *nt = realloc(c->verdict.threats, (c->verdict.nthreats + 1) * sizeof *nt);
        if (nt) {
            c->verdict.threats = nt;
            nt[c->verdict.nthreats].status = BW_TOO_LARGE;
            nt[c->verdict.nthreats].name = strdup("limits exceeded: MaxReqLength");
            nt[c->verdict.nthreats].path = strdup("");
            if (nt[c->verdict.nthreats].name && nt[c->verdict.nthreats].path)
                c->verdict.nthreats++;
        }
        c->verdict.status = BW_TOO_LARGE;
    }
    bw_action_t a = bw_icap_action_for(c->ic, &c->verdict);
    c->w->requests++;
    report_line(c, a);
    count_and_notify(c, a);
    emit_event(c, a);
    if (a == BW_ACT_QUARANTINE)
        quarantine_object(c);
    if (c->early) {
        if (c->verdict.status == BW_CLEAN || a == BW_ACT_SKIP) {
            /* the rest of the echo, then the last chunk */
            c->state = ST_WRITE;
            c->echo_active = 1;
            c->echo_off = c->echo_sent;
            uv_timer_start(&c->timer, bw_conn_on_timeout, c->w->timeout_ms, c->w->timeout_ms);
            bw_conn_echo_next(c);
        } else {
            /* The head went out before the verdict: cut the answer, so the
             * client never gets the complete object (PROTOCOL-NOTES).  A
             * cure is cut too: the HTTP head that went out frames the
             * original (its Content-Length, its Content-Encoding), so the
             * cured bytes cannot follow it. */
            bw_log_conn(c, "verdict %s after the answer started: connection cut",
                        bw_status_name(c->verdict.status));
            bw_conn_close(c);
        }
        return;
    }
    /* bw_icap_action_for never says skip for an object with a curable
     * finding, and says cure only when the cured bytes are here. */
    if (c->verdict.status == BW_CLEAN || a == BW_ACT_SKIP)
        answer_clean(c);
    else if (a == BW_ACT_CURE && c->verdict.cured)
        answer_cured(c);
    else
        answer_block(c, action_name(a));
}


/* Appends raw[from, from+n) to c->out as chunks. */
int bw_conn_put_raw_chunks(conn_t *c, uint64_t from, uint64_t n)
{
    const uint8_t *mem = bw_spool_mem(&c->raw);
    while (n) {
        size_t k = n > ECHO_BLOCK ? ECHO_BLOCK : (size_t)n;
        bw_buf_printf(&c->out, "%zx\r\n", k);
        if (mem) {
            bw_buf_append(&c->out, mem + from, k);
        } else {
            char *tmp = malloc(k);
            if (!tmp || bw_spool_pread(&c->raw, tmp, k, from) != (ssize_t)k) {
                free(tmp);
                return BW_ERR;
            }
            bw_buf_append(&c->out, tmp, k);
            free(tmp);
        }
        bw_buf_puts(&c->out, "\r\n");
        from += k;
        n -= k;
    }
    return BW_OK;
}

/* Sends the answer's head before the verdict (see EARLY_BYTES). */
void bw_conn_send_early_head(conn_t *c)
{
    const bw_http_msg_t *msg = bw_conn_body_msg(c);
    bw_buf_t head = {0};
    if (msg)
        bw_conn_put_http_head(&head, msg, 0, 0);
    bw_icap_build_head(c->w->env, 200, &c->out);
    if (c->client_close || c->close_after)
        bw_buf_puts(&c->out, "Connection: close\r\n");
    bw_conn_put_encap(&c->out, msg, c->method != BW_ICAP_REQMOD, head.len, 1);
    bw_buf_append(&c->out, head.p, head.len);
    bw_buf_free(&head);
    c->early = 1;
    bw_conn_flush(c);
}

