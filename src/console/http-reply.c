/* SPDX-License-Identifier: Apache-2.0 */
/* Answers: JSON bodies, {"error": "..."} bodies, and the security headers
 * every response carries.  The Content-Security-Policy allows no inline
 * script and no foreign origin, so an event field that slipped past the UI's
 * escaping still cannot run as script; frame-ancestors and X-Frame-Options
 * refuse framing (click-jacking of the task buttons). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/console.h"

static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
                          "object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

void bw_add_security_headers(bw_console_t *con, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy", CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    if (con->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
}

static void set(bw_req_t *r, unsigned status, struct MHD_Response *resp)
{
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = status;
}

void bw_reply_text(bw_req_t *r, unsigned status, const char *type, char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    set(r, status, resp);
}

void bw_reply_json(bw_req_t *r, unsigned status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!s) {
        s = strdup("{\"error\":\"internal error\"}");
        status = 500;
        if (!s)
            return;
    }
    /* Newline-terminated, as curl users expect. */
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (t) {
        t[n] = '\n', t[n + 1] = 0;
        s = t;
    }
    bw_reply_text(r, status, "application/json", s);
}

void bw_reply_error(bw_req_t *r, unsigned status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    bw_reply_json(r, status, json_pack("{s:s}", "error", msg));
}

void bw_reply_empty(bw_req_t *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"",
                                                                MHD_RESPMEM_PERSISTENT);
    if (resp)
        set(r, status, resp);
}

json_t *bw_req_json(bw_req_t *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        bw_reply_error(r, 400, "body: line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        bw_reply_error(r, 400, "body: expected a JSON object");
        return NULL;
    }
    return j;
}

const char *bw_req_arg(bw_req_t *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}
