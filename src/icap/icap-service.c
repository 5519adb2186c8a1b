/* SPDX-License-Identifier: Apache-2.0 */
/* Service lookup, fixed answers, verdict headers and block pages.
 *
 * Squid treats any ICAP status but 100/200/204/206 as a service failure, so a
 * block is never an ICAP error: it is a 200 that carries an HTTP 403 page.
 * NAS clients look for the verdict in headers instead, so every verdict
 * answer carries all of the X-* forms PROTOCOL-NOTES.md lists.
 */
#include "icap/icap-service.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *reason_of(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 404: return "ICAP Service Not Found";
    case 405: return "Method Not Allowed For Service";
    case 408: return "Request Timeout";
    case 500: return "Server Error";
    case 501: return "Method Not Implemented";
    case 503: return "Service Overloaded";
    case 505: return "ICAP Version Not Supported";
    default: return "Unknown";
    }
}

static char *read_small_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *b = malloc(65537);
    ssize_t n = b ? read(fd, b, 65536) : -1;
    close(fd);
    if (n < 0) {
        free(b);
        return NULL;
    }
    b[n] = 0;
    return b;
}

int bw_icap_env_init(bw_icap_env_t *env, const bw_icap_conf_t *ic, bw_engine_t *engine,
                     bw_err_t *err)
{
    memset(env, 0, sizeof *env);
    env->ic = ic;
    env->engine = engine;
    const bw_db_info_t *info = bw_engine_info(engine);
    /* The ISTag changes whenever the database sources change (their hash);
     * the version is for people reading it.  RFC 3507 allows 32 bytes with
     * the quotes: "BW-" + at most 10 version digits + "-" + 16 hex digits. */
    char ver[24];
    snprintf(ver, sizeof ver, "%llu", (unsigned long long)info->version);
    snprintf(env->istag, sizeof env->istag, "\"BW-%.10s-%.16s\"", ver, info->source_hash);
    snprintf(env->product, sizeof env->product, "Bulwark %s", BW_VERSION);
    for (int s = 0; s < BW_STATUS_COUNT; s++) {
        if (!ic->template_dir || !ic->template_dir[0] || s == BW_CLEAN)
            continue;
        char path[4096], name[32];
        snprintf(name, sizeof name, "%s", bw_status_name((bw_status_t)s));
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        snprintf(path, sizeof path, "%s/object_%s.html", ic->template_dir, name);
        env->templates[s] = read_small_file(path);
    }
    (void)err;
    return BW_OK;
}

static void excl_free(bw_icap_excl_t *x)
{
    regex_t *m = x->mime, *u = x->url;
    for (size_t i = 0; i < x->nmime; i++)
        regfree(&m[i]);
    for (size_t i = 0; i < x->nurl; i++)
        regfree(&u[i]);
    free(m);
    free(u);
}

static int compile_list(const bw_conf_list_t *l, void **out, size_t *n)
{
    regex_t *res = calloc(l->n ? l->n : 1, sizeof *res);
    if (!res)
        return BW_ERR;
    size_t k = 0;
    for (; k < l->n; k++)
        if (regcomp(&res[k], BW_CONF_LIST_AT(l, char *, k), REG_EXTENDED | REG_NOSUB) != 0)
            break; /* cannot happen: the loader compiled it already */
    *out = res;
    *n = k;
    return BW_OK;
}

int bw_icap_excluded(bw_icap_env_t *env, const bw_icap_conf_t *ic, const char *ctype,
                     const char *url)
{
    bw_icap_excl_t *x = NULL;
    for (size_t i = 0; i < env->nexcl && !x; i++)
        if (env->excl[i].ic == ic)
            x = &env->excl[i];
    if (!x) {
        bw_icap_excl_t *nx = realloc(env->excl, (env->nexcl + 1) * sizeof *nx);
        if (!nx)
            return 0;
        env->excl = nx;
        x = &nx[env->nexcl];
        memset(x, 0, sizeof *x);
        x->ic = ic;
        if (compile_list(&ic->exclude_mime, &x->mime, &x->nmime) != BW_OK ||
            compile_list(&ic->exclude_url, &x->url, &x->nurl) != BW_OK) {
            excl_free(x);
            return 0;
        }
        env->nexcl++;
    }
    regex_t *m = x->mime, *u = x->url;
    for (size_t i = 0; ctype && i < x->nmime; i++)
        if (regexec(&m[i], ctype, 0, NULL, 0) == 0)
            return 1;
    for (size_t i = 0; url && i < x->nurl; i++)
        if (regexec(&u[i], url, 0, NULL, 0) == 0)
            return 1;
    return 0;
}

void bw_icap_env_free(bw_icap_env_t *env)
{
    for (size_t i = 0; i < env->nexcl; i++)
        excl_free(&env->excl[i]);
    free(env->excl);
    for (int s = 0; s < BW_STATUS_COUNT; s++)
        free(env->templates[s]);
    memset(env, 0, sizeof *env);
}

static int path_is(const bw_icap_str_t *path, const char *want)
{
    const char *p = path->p;
    size_t n = path->n;
    while (n && *p == '/') {
        p++;
        n--;
    }
    while (*want == '/')
        want++;
    return strlen(want) == n && !strncmp(p, want, n);
}

bw_icap_svc_t bw_icap_service_lookup(const bw_icap_env_t *env, const bw_icap_str_t *path)
{
    if (path_is(path, env->ic->respmod_url))
        return BW_SVC_RESPMOD;
    if (path_is(path, env->ic->reqmod_url))
        return BW_SVC_REQMOD;
    const bw_conf_list_t *scan = &env->ic->scan_urls;
    for (size_t i = 0; i < scan->n; i++)
        if (path_is(path, BW_CONF_LIST_AT(scan, char *, i)))
            return BW_SVC_SCAN;
    return BW_SVC_NONE;
}

int bw_icap_service_allows(bw_icap_svc_t svc, bw_icap_method_t m)
{
    if (m == BW_ICAP_OPTIONS)
        return 1;
    switch (svc) {
    case BW_SVC_RESPMOD: return m == BW_ICAP_RESPMOD;
    case BW_SVC_REQMOD: return m == BW_ICAP_REQMOD;
    case BW_SVC_SCAN: return m == BW_ICAP_RESPMOD || m == BW_ICAP_REQMOD;
    default: return 0;
    }
}

void bw_icap_build_head(const bw_icap_env_t *env, int status, bw_buf_t *out)
{
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    bw_buf_printf(out, "ICAP/1.0 %d %s\r\nDate: %s\r\nServer: %s\r\nISTag: %s\r\n", status,
                  reason_of(status), date, env->product, env->istag);
}

void bw_icap_build_options(const bw_icap_env_t *env, bw_icap_svc_t svc, int close, bw_buf_t *out)
{
    const bw_icap_conf_t *ic = env->ic;
    bw_icap_build_head(env, 200, out);
    const char *methods = svc == BW_SVC_RESPMOD ? "RESPMOD" : svc == BW_SVC_REQMOD ? "REQMOD"
                                                                                   : "RESPMOD, REQMOD";
    bw_buf_printf(out, "Methods: %s\r\nService: %s %s\r\nServiceId: bulwark\r\n", methods,
                  ic->service_name, BW_VERSION);
    bw_buf_printf(out, "Max-Connections: %llu\r\nOptions-TTL: %llu\r\n",
                  (unsigned long long)ic->max_connections, (unsigned long long)ic->options_ttl);
    if (ic->allow204 && ic->allow206)
        bw_buf_puts(out, "Allow: 204, 206\r\n");
    else if (ic->allow204)
        bw_buf_puts(out, "Allow: 204\r\n");
    else if (ic->allow206)
        bw_buf_puts(out, "Allow: 206\r\n");
    if (ic->preview_size)
        bw_buf_printf(out, "Preview: %llu\r\nTransfer-Preview: *\r\n",
                      (unsigned long long)ic->preview_size);
    bw_buf_puts(out, "X-Include: X-Client-IP, X-Client-Username, X-Authenticated-User\r\n");
    if (close)
        bw_buf_puts(out, "Connection: close\r\n");
    bw_buf_puts(out, "Encapsulated: null-body=0\r\n\r\n");
}

void bw_icap_build_error(const bw_icap_env_t *env, int status, int close, bw_buf_t *out)
{
    bw_icap_build_head(env, status, out);
    if (status == 503)
        bw_buf_puts(out, "Retry-After: 1\r\n");
    if (close)
        bw_buf_puts(out, "Connection: close\r\n");
    bw_buf_puts(out, "Encapsulated: null-body=0\r\n\r\n");
}

void bw_icap_build_204(const bw_icap_env_t *env, const bw_verdict_t *v, int close, bw_buf_t *out)
{
    bw_icap_build_head(env, 204, out);
    if (v)
        bw_icap_verdict_headers(v, 0, out);
    if (close)
        bw_buf_puts(out, "Connection: close\r\n");
    bw_buf_puts(out, "Encapsulated: null-body=0\r\n\r\n");
}

int bw_icap_may_quarantine(const bw_icap_conf_t *ic)
{
    const int acts[] = {ic->infected_action, ic->suspicious_action, ic->warning_action,
                        ic->protected_action, ic->corrupted_action, ic->error_action,
                        ic->cured_action, ic->maxreqlength_action, ic->timeout_action};
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++)
        if (acts[i] == BW_ACT_QUARANTINE)
            return 1;
    return 0;
}

static bw_action_t configured_action(const bw_icap_conf_t *ic, const bw_verdict_t *v)
{
    switch (v->status) {
    case BW_CLEAN: return BW_ACT_SKIP;
    case BW_INFECTED: return (bw_action_t)ic->infected_action;
    case BW_SUSPICIOUS: return (bw_action_t)ic->suspicious_action;
    case BW_WARNING: return (bw_action_t)ic->warning_action;
    case BW_PROTECTED: return (bw_action_t)ic->protected_action;
    case BW_CORRUPTED: return (bw_action_t)ic->corrupted_action;
    case BW_ERROR: return (bw_action_t)ic->error_action;
    case BW_TIMEOUT: return (bw_action_t)ic->timeout_action;
    case BW_TOO_LARGE: return (bw_action_t)ic->maxreqlength_action;
    case BW_CURED:
        if (!ic->cure || !v->cured)
            return (bw_action_t)ic->infected_action; /* not curable here: as infected */
        return (bw_action_t)ic->cured_action;
    default: return BW_ACT_DENY;
    }
}

/* 1 when some finding of v is curable: the object holds a detection even
 * when a policy status (TOO_LARGE, ERROR...) outranks CURED. */
static int has_cured_finding(const bw_verdict_t *v)
{
    if (v->status == BW_CURED)
        return 1;
    for (size_t i = 0; i < v->nthreats; i++)
        if (v->threats[i].status == BW_CURED)
            return 1;
    return 0;
}

/* A cured object is never delivered as the original.  As in the proxy
 * product whose keys these are, `skip` for a curable object lets the
 * *cured* object through, so `skip` and `cure` both mean "the cure" there;
 * when there is no cure to give (Cure = no, or no cured bytes: a member of
 * an archive, a part of a form), the object is blocked.  The same holds
 * for a verdict whose status outranks a CURED finding and whose action
 * would pass it (a TOO_LARGE object found curable in its scanned part).
 * `cure` for any other status blocks: only a cured object can be returned.
 * The report line and %ACTION% say what was done: cure or deny. */
bw_action_t bw_icap_action_for(const bw_icap_conf_t *ic, const bw_verdict_t *v)
{
    bw_action_t a = configured_action(ic, v);
    int curable = ic->cure && v->cured;
    if (has_cured_finding(v) && (a == BW_ACT_SKIP || a == BW_ACT_CURE))
        return curable ? BW_ACT_CURE : BW_ACT_DENY;
    if (a == BW_ACT_CURE)
        return BW_ACT_DENY;
    return a;
}

/* Header values must stay on one line and, for X-Infection-Found, free of ';'. */
static void put_clean(bw_buf_t *out, const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if ((unsigned char)c < 0x20 || c == 0x7f || c == ';')
            c = '_';
        bw_buf_append(out, &c, 1);
    }
}

void bw_icap_verdict_headers(const bw_verdict_t *v, int blocked, bw_buf_t *out)
{
    if (v->status == BW_CLEAN) {
        bw_buf_puts(out, "X-Response-Info: Passed\r\n");
        return;
    }
    const char *name = bw_verdict_name(v);
    /* Type: 0 virus, 1 policy (limits, errors), 2 container violation.
     * Resolution: 0 not repaired, 1 repaired, 2 blocked. */
    int type = (v->status == BW_INFECTED || v->status == BW_WARNING || v->status == BW_SUSPICIOUS ||
                v->status == BW_CURED) ? 0 : (v->status == BW_PROTECTED || v->status == BW_CORRUPTED) ? 2 : 1;
    int resolution = v->status == BW_CURED && !blocked ? 1 : blocked ? 2 : 0;
    bw_buf_printf(out, "X-Infection-Found: Type=%d; Resolution=%d; Threat=", type, resolution);
    put_clean(out, name);
    bw_buf_puts(out, ";\r\n");
    bw_buf_printf(out, "X-Violations-Found: %zu\r\n", v->nthreats);
    for (size_t i = 0; i < v->nthreats; i++) {
        const bw_threat_t *t = &v->threats[i];
        bw_buf_puts(out, "\t");
        put_clean(out, t->path[0] ? t->path : "-");
        bw_buf_puts(out, "\r\n\t");
        put_clean(out, t->name);
        bw_buf_printf(out, "\r\n\t%d\r\n\t%d\r\n", (int)t->status, resolution);
    }
    bw_buf_puts(out, "X-Virus-ID: ");
    put_clean(out, name);
    bw_buf_printf(out, "\r\nX-Response-Info: %s\r\nX-Response-Desc: %s ", blocked ? "Blocked" : "Passed",
                  bw_status_name(v->status));
    put_clean(out, name);
    bw_buf_puts(out, "\r\n");
}

static void html_escape(bw_buf_t *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': bw_buf_puts(out, "&lt;"); break;
        case '>': bw_buf_puts(out, "&gt;"); break;
        case '&': bw_buf_puts(out, "&amp;"); break;
        case '"': bw_buf_puts(out, "&quot;"); break;
        case '\'': bw_buf_puts(out, "&#39;"); break;
        default: bw_buf_append(out, s, 1);
        }
    }
}

static const char builtin_page[] =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Blocked by %PRODUCT%</title></head>\n"
    "<body style=\"font-family:sans-serif;max-width:40em;margin:3em auto\">\n"
    "<h1>The object was blocked</h1>\n<p>%URL%</p>\n<p>Verdict: <b>%VERDICT%</b> %VIRUS_LIST%</p>\n"
    "<p>Client: %CLIENT_ADDR% &middot; Action: %ACTION% &middot; %DATE%</p>\n<hr><p>%PRODUCT%</p>\n"
    "</body></html>\n";

void bw_icap_render_block(const bw_icap_env_t *env, const bw_verdict_t *v, const char *url,
                          const char *client, const char *action, const char *group,
                          bw_buf_t *html)
{
    const char *t = env->templates[v->status] ? env->templates[v->status] : builtin_page;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    while (*t) {
        const char *pct = strchr(t, '%');
        if (!pct) {
            bw_buf_puts(html, t);
            break;
        }
        bw_buf_append(html, t, (size_t)(pct - t));
        const char *end = strchr(pct + 1, '%');
        size_t n = end ? (size_t)(end - pct - 1) : 0;
        const char *macro = pct + 1;
#define IS(m) (n == strlen(m) && !strncmp(macro, m, n))
        if (end && IS("URL")) {
            html_escape(html, url ? url : "");
        } else if (end && IS("VERDICT")) {
            html_escape(html, bw_status_name(v->status));
        } else if (end && IS("VIRUS_LIST")) {
            for (size_t i = 0; i < v->nthreats; i++) {
                if (i)
                    bw_buf_puts(html, ", ");
                html_escape(html, v->threats[i].name);
                if (v->threats[i].path[0]) {
                    bw_buf_puts(html, " (");
                    html_escape(html, v->threats[i].path);
                    bw_buf_puts(html, ")");
                }
            }
        } else if (end && IS("CLIENT_ADDR")) {
            html_escape(html, client ? client : "");
        } else if (end && IS("ACTION")) {
            html_escape(html, action);
        } else if (end && IS("DATE")) {
            html_escape(html, date);
        } else if (end && IS("GROUP")) {
            html_escape(html, group ? group : "default");
        } else if (end && IS("PRODUCT")) {
            html_escape(html, env->product);
        } else {
            bw_buf_append(html, "%", 1); /* not a macro: keep the percent sign */
            t = pct + 1;
            continue;
        }
#undef IS
        t = end + 1;
    }
}

void bw_icap_chunk_out(bw_buf_t *out, const void *p, size_t n)
{
    if (!n)
        return;
    bw_buf_printf(out, "%zx\r\n", n);
    bw_buf_append(out, p, n);
    bw_buf_puts(out, "\r\n");
}
