/* SPDX-License-Identifier: Apache-2.0 */
/* The routing table and who may call what.
 *
 * One table says, per method and path, which handler answers and who is let
 * in: nobody needs to read the handlers to audit access.  Authentication:
 *  - node routes: `Authorization: Bearer <credential>`; the console keeps
 *    only the credential's SHA-256 and looks that up, so a stolen database
 *    holds no usable credential; a revoked node is unknown at once;
 *  - user routes: the `bw_session` cookie, or `Authorization: Bearer
 *    <session token>` (the CLI).  A cookie can be sent by the browser on a
 *    cross-site request, so every cookie-authenticated POST/PUT/PATCH/DELETE
 *    must carry the session's `X-CSRF-Token` (compared in constant time); a
 *    bearer token cannot be sent by another site, so it needs none;
 *  - roles: viewers GET; writes on BW_AUTH_ADMIN routes are admin-only
 *    (BW_AUTH_USER routes, the caller's own session and password, are open
 *    to every signed-in user). */
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/console.h"

static const bw_route_t routes[] = {
    {"POST", "/api/v1/enroll", BW_AUTH_NONE, bw_h_enroll, 0},
    {"POST", "/api/v1/events", BW_AUTH_NODE, bw_h_events_post, 1},
    {"POST", "/api/v1/node/heartbeat", BW_AUTH_NODE, bw_h_heartbeat, 0},
    {"GET", "/api/v1/node/tasks", BW_AUTH_NODE, bw_h_node_tasks, 0},
    {"POST", "/api/v1/node/tasks/{}", BW_AUTH_NODE, bw_h_node_task_result, 0},
    {"GET", "/api/v1/node/policy", BW_AUTH_NODE, bw_h_node_policy, 0},
    {"POST", "/api/v1/session", BW_AUTH_NONE, bw_h_session_post, 0},
    {"GET", "/api/v1/session", BW_AUTH_USER, bw_h_session_get, 0},
    {"DELETE", "/api/v1/session", BW_AUTH_USER, bw_h_session_delete, 0},
    {"GET", "/api/v1/events", BW_AUTH_ADMIN, bw_h_events_get, 0},
    {"GET", "/api/v1/events/{}", BW_AUTH_ADMIN, bw_h_event_get, 0},
    {"GET", "/api/v1/stats", BW_AUTH_ADMIN, bw_h_stats, 0},
    {"GET", "/api/v1/nodes", BW_AUTH_ADMIN, bw_h_nodes, 0},
    {"GET", "/api/v1/nodes/{}", BW_AUTH_ADMIN, bw_h_node_get, 0},
    {"PATCH", "/api/v1/nodes/{}", BW_AUTH_ADMIN, bw_h_node_patch, 0},
    {"POST", "/api/v1/nodes/{}/revoke", BW_AUTH_ADMIN, bw_h_node_revoke, 0},
    {"POST", "/api/v1/enrollment-tokens", BW_AUTH_ADMIN, bw_h_enroll_tokens, 0},
    {"GET", "/api/v1/tasks", BW_AUTH_ADMIN, bw_h_tasks_get, 0},
    {"POST", "/api/v1/tasks", BW_AUTH_ADMIN, bw_h_tasks_post, 0},
    {"GET", "/api/v1/policies", BW_AUTH_ADMIN, bw_h_policies, 0},
    {"GET", "/api/v1/policies/{}", BW_AUTH_ADMIN, bw_h_policy_get, 0},
    {"PUT", "/api/v1/policies/{}", BW_AUTH_ADMIN, bw_h_policy_put, 0},
    {"GET", "/api/v1/quarantine", BW_AUTH_ADMIN, bw_h_quarantine, 0},
    {"GET", "/api/v1/blocked", BW_AUTH_ADMIN, bw_h_blocked, 0},
    {"GET", "/api/v1/users", BW_AUTH_ADMIN, bw_h_users_get, 0},
    {"POST", "/api/v1/users", BW_AUTH_ADMIN, bw_h_users_post, 0},
    {"DELETE", "/api/v1/users/{}", BW_AUTH_ADMIN, bw_h_user_delete, 0},
    {"PUT", "/api/v1/users/{}/password", BW_AUTH_USER, bw_h_user_password, 0},
    {"GET", "/metrics", BW_AUTH_NONE, bw_h_metrics, 0},
    {"GET", "/", BW_AUTH_NONE, bw_h_static_index, 0},
    {"GET", "/ui/*", BW_AUTH_NONE, bw_h_static_ui, 0},
    {"GET", "/js/*", BW_AUTH_NONE, bw_h_static_js, 0},
};

/* MHD hands the path already percent-decoded; a {} segment is copied as is
 * (bounded), "*" keeps the rest for the static handlers. */
static int match(const char *pat, const char *url, bw_req_t *r)
{
    int np = 0;
    while (*pat && *url) {
        if (pat[0] == '*') {
            if (r) {
                size_t n = strlen(url);
                if (n >= sizeof(r->param[0]))
                    return 0;
                memcpy(r->param[0], url, n + 1);
            }
            return 1;
        }
        if (pat[0] == '{' && pat[1] == '}') {
            size_t n = strcspn(url, "/");
            if (n == 0 || n >= sizeof(r->param[0]) || np >= 2)
                return 0;
            if (r) {
                memcpy(r->param[np], url, n);
                r->param[np][n] = 0;
            }
            np++;
            pat += 2, url += n;
            continue;
        }
        if (*pat != *url)
            return 0;
        pat++, url++;
    }
    if (pat[0] == '*' && !*url && r)
        r->param[0][0] = 0;
    return !*url && (!*pat || !strcmp(pat, "*"));
}

const bw_route_t *bw_route_find(const char *method, const char *url, bw_req_t *r,
                                int *method_mismatch)
{
    *method_mismatch = 0;
    int head = !strcmp(method, "HEAD");
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        bw_req_t tmp;
        if (!match(routes[i].pattern, url, &tmp))
            continue;
        if (strcmp(routes[i].method, method) && !(head && !strcmp(routes[i].method, "GET"))) {
            *method_mismatch = 1;
            continue;
        }
        match(routes[i].pattern, url, r);
        return &routes[i];
    }
    return NULL;
}

void bw_req_free_auth(bw_req_t *r)
{
    free(r->user), free(r->role), free(r->node_id), free(r->node_name);
    r->user = r->role = r->node_id = r->node_name = NULL;
}

static const char *bearer(bw_req_t *r)
{
    const char *a = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (a && !strncasecmp(a, "Bearer ", 7)) {
        a += 7;
        while (*a == ' ')
            a++;
        return *a ? a : NULL;
    }
    return NULL;
}

int bw_auth_check(bw_req_t *r, const bw_route_t *rt)
{
    bw_console_t *con = r->con;
    bw_err_t err = {{0}};
    if (rt->auth == BW_AUTH_NONE)
        return BW_OK;
    if (rt->auth == BW_AUTH_NODE) {
        const char *cred = bearer(r);
        char h[65];
        if (!cred || strlen(cred) > 256) {
            atomic_fetch_add_explicit(&con->node_auth_failed, 1, memory_order_relaxed);
            bw_reply_error(r, 401, "node credential required (Authorization: Bearer)");
            return BW_ERR;
        }
        bw_sha256_hex(cred, h);
        int rc = bw_store_node_auth(con->store, h, &r->node_id, &r->node_name, &err);
        if (rc == BW_OK)
            return BW_OK;
        if (rc == BW_DECLINED) {
            atomic_fetch_add_explicit(&con->node_auth_failed, 1, memory_order_relaxed);
            bw_reply_error(r, 401, "unknown or revoked node credential");
        } else {
            bw_reply_error(r, 500, "store: %s", err.msg);
        }
        return BW_ERR;
    }
    /* A user. */
    const char *tok = bearer(r);
    r->bearer = tok != NULL;
    if (!tok)
        tok = MHD_lookup_connection_value(r->c, MHD_COOKIE_KIND, "bw_session");
    if (!tok || !*tok || strlen(tok) > 256) {
        bw_reply_error(r, 401, "sign in first (session cookie or Authorization: Bearer)");
        return BW_ERR;
    }
    bw_sha256_hex(tok, r->session_hash);
    json_t *s = bw_store_session(con->store, r->session_hash, &err);
    if (!s) {
        if (err.msg[0])
            bw_reply_error(r, 500, "store: %s", err.msg);
        else
            bw_reply_error(r, 401, "session expired or unknown: sign in again");
        return BW_ERR;
    }
    const char *user = json_string_value(json_object_get(s, "user"));
    const char *role = json_string_value(json_object_get(s, "role"));
    const char *csrf = json_string_value(json_object_get(s, "csrf"));
    r->user = strdup(user ? user : "");
    r->role = strdup(role ? role : "viewer");
    r->admin = role && !strcmp(role, "admin");
    if (!r->get && !r->bearer) {
        const char *h = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!h || !csrf || !bw_ct_equal(h, csrf)) {
            json_decref(s);
            atomic_fetch_add_explicit(&con->csrf_refused, 1, memory_order_relaxed);
            bw_reply_error(r, 403, "X-CSRF-Token missing or wrong");
            return BW_ERR;
        }
    }
    json_decref(s);
    if (rt->auth == BW_AUTH_ADMIN && !r->get && !r->admin) {
        bw_reply_error(r, 403, "%s %s: admin only (you are %s)", r->method, r->url, r->role);
        return BW_ERR;
    }
    return BW_OK;
}
