/* SPDX-License-Identifier: Apache-2.0 */
/* The console's HTTP layer: shared state, the request a handler sees, and the
 * handlers' declarations.  Only the files of this layer (http-*.c, api-*.c,
 * console-main.c) include it; storage is behind store.h. */
#ifndef BW_CONSOLE_H
#define BW_CONSOLE_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdint.h>

#include "console/console-conf.h"
#include "console/store.h"
#include "core/buf.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

typedef struct bw_console {
    const bw_console_conf_t *conf;
    bw_store_t *store;
    char ui_dir[4096], js_dir[4096];
    int tls;
    struct MHD_Daemon *mhd;
    int64_t started_us;
    /* /metrics counters (relaxed atomics: scrapes never lock). */
    atomic_uint_fast64_t req_2xx, req_3xx, req_4xx, req_5xx;
    atomic_uint_fast64_t ev_accepted, ev_dups, batches_ok, batches_refused, batches_too_big;
    atomic_uint_fast64_t logins_ok, logins_failed, logins_locked, node_auth_failed, csrf_refused;
    atomic_uint_fast64_t retention_deleted;
} bw_console_t;

/* Who a route lets in. */
typedef enum {
    BW_AUTH_NONE,    /* anyone (enrolment, sign-in, static files, /metrics) */
    BW_AUTH_NODE,    /* a node's credential */
    BW_AUTH_USER,    /* any signed-in user; writes only to what is their own */
    BW_AUTH_ADMIN,   /* admin for writes; viewers may GET */
} bw_auth_t;

typedef struct bw_req {
    bw_console_t *con;
    struct MHD_Connection *c;
    const char *method, *url;
    int get;                    /* GET or HEAD */
    const char *body;           /* NUL-terminated copy */
    size_t body_len;
    char param[2][256];         /* the {} segments of the route, percent-decoded */
    /* Authenticated caller. */
    char *user, *role;          /* a user's */
    int admin, bearer;
    char session_hash[65];
    char *node_id, *node_name;  /* a node's */
    /* The answer. */
    unsigned status;
    struct MHD_Response *resp;
    char cookie[512];           /* a Set-Cookie value, when not empty */
    int no_store;               /* Cache-Control: no-store (the API) */
} bw_req_t;

typedef void (*bw_handler_fn)(bw_req_t *r);

typedef struct bw_route {
    const char *method;   /* "GET" also answers HEAD */
    const char *pattern;  /* "/api/v1/nodes/{}/revoke"; a trailing "*" matches the rest */
    bw_auth_t auth;
    bw_handler_fn fn;
    int batch;            /* body limit: MaxBatchBytes instead of MaxRequestBytes */
} bw_route_t;

/* http-server.c */
int bw_http_start(bw_console_t *con, bw_err_t *err);
void bw_http_stop(bw_console_t *con);

/* http-reply.c */
void bw_reply_json(bw_req_t *r, unsigned status, json_t *body); /* steals body */
void bw_reply_error(bw_req_t *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bw_reply_text(bw_req_t *r, unsigned status, const char *type, char *text); /* takes text */
void bw_reply_empty(bw_req_t *r, unsigned status);
/* The request body as a JSON object, or NULL after answering 400. */
json_t *bw_req_json(bw_req_t *r);
/* A query parameter (NULL when absent). */
const char *bw_req_arg(bw_req_t *r, const char *name);
void bw_add_security_headers(bw_console_t *con, struct MHD_Response *resp);

/* http-route.c */
const bw_route_t *bw_route_find(const char *method, const char *url, bw_req_t *r,
                                int *method_mismatch);
/* Authenticates r for route rt; answers 401/403 itself and returns BW_ERR. */
int bw_auth_check(bw_req_t *r, const bw_route_t *rt);
void bw_req_free_auth(bw_req_t *r);

/* api-auth.c: crypto helpers shared by enrolment */
void bw_random_hex(char *out, size_t nbytes);   /* out: 2*nbytes+1 */
void bw_sha256_hex(const char *s, char out[65]);
int bw_ct_equal(const char *a, const char *b);  /* constant-time in the length of b */
int bw_password_hash(const char *pw, char *out, size_t outlen, bw_err_t *err);
int bw_password_verify(const char *encoded, const char *pw);
/* First start: an admin account when there is no user. */
int bw_console_first_admin(bw_console_t *con, bw_err_t *err);
int64_t bw_now_us(void);

/* Handlers (api-*.c, http-static.c). */
void bw_h_session_post(bw_req_t *r), bw_h_session_get(bw_req_t *r), bw_h_session_delete(bw_req_t *r);
void bw_h_users_get(bw_req_t *r), bw_h_users_post(bw_req_t *r), bw_h_user_delete(bw_req_t *r);
void bw_h_user_password(bw_req_t *r);
void bw_h_enroll(bw_req_t *r), bw_h_enroll_tokens(bw_req_t *r);
void bw_h_heartbeat(bw_req_t *r), bw_h_node_tasks(bw_req_t *r), bw_h_node_task_result(bw_req_t *r);
void bw_h_node_policy(bw_req_t *r);
void bw_h_nodes(bw_req_t *r), bw_h_node_get(bw_req_t *r), bw_h_node_patch(bw_req_t *r);
void bw_h_node_revoke(bw_req_t *r);
void bw_h_events_post(bw_req_t *r), bw_h_events_get(bw_req_t *r), bw_h_event_get(bw_req_t *r);
void bw_h_stats(bw_req_t *r), bw_h_quarantine(bw_req_t *r), bw_h_blocked(bw_req_t *r);
void bw_h_tasks_get(bw_req_t *r), bw_h_tasks_post(bw_req_t *r);
void bw_h_policies(bw_req_t *r), bw_h_policy_get(bw_req_t *r), bw_h_policy_put(bw_req_t *r);
void bw_h_metrics(bw_req_t *r);
void bw_h_static_index(bw_req_t *r), bw_h_static_ui(bw_req_t *r), bw_h_static_js(bw_req_t *r);

/* Retention thread (api-metrics.c). */
int bw_retention_start(bw_console_t *con, bw_err_t *err);
void bw_retention_stop(void);

#endif
