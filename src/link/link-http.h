/* SPDX-License-Identifier: Apache-2.0 */
/* The link's HTTPS client to bulwark-console (libcurl, one easy handle kept
 * for keep-alive).  Used by the shipper (link.c) and by the CLI
 * (`bulwark events`, `bulwark console enroll`). */
#ifndef BW_LINK_HTTP_H
#define BW_LINK_HTTP_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct bw_link_http bw_link_http_t;

/* `base` is the console's URL (https://host:port, a trailing '/' is fine);
 * `ca_file` the PEM CA to trust ("" or NULL: the system's).  http:// is
 * accepted only when allow_http is set (never by the node: link-conf.c
 * refuses it). */
int bw_link_http_new(const char *base, const char *ca_file, bw_link_http_t **out, bw_err_t *err);
void bw_link_http_free(bw_link_http_t *h);
/* The token sent as "Authorization: Bearer ..." (NULL: none). */
int bw_link_http_set_bearer(bw_link_http_t *h, const char *token);
/* One request: `method` GET/POST/PUT, `path` under the base ("/api/v1/..."),
 * `body` JSON (NULL: none).  On a transfer (any HTTP status) BW_OK with
 * *status set and the answer's body in `resp` (reset first, at most
 * 64 MiB).  BW_ERR with err set when no answer came (connect, TLS, timeout).
 * timeout_ms bounds the whole request. */
int bw_link_http_call(bw_link_http_t *h, const char *method, const char *path, const char *body,
                      size_t body_len, long timeout_ms, long *status, bw_buf_t *resp,
                      bw_err_t *err);
/* The console's error text from a JSON answer {"error":"..."} (or the start
 * of the body), written into out. */
void bw_link_http_error_of(const bw_buf_t *resp, long status, char *out, size_t cap);

#endif
