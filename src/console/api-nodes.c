/* SPDX-License-Identifier: Apache-2.0 */
/* Nodes: enrolment, the node-side endpoints (heartbeat, tasks, policy) and
 * the administrator's view of the nodes.
 *
 * Enrolment trades a one-time token (made by an admin, valid for a time,
 * bound to a group) for the node's own credential: 256 random bits shown
 * once, stored as SHA-256.  The store marks the token used in the same
 * transaction that registers the node, so a token enrols one node.
 * Revocation deletes nothing but makes the credential unknown to
 * bw_store_node_auth at once: the next request of that node gets 401. */
#include <stdlib.h>
#include <string.h>

#include "bulwark/core.h"
#include "console/console.h"
#include "core/log.h"

static int valid_label(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= max &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

void bw_h_enroll_tokens(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *grp = json_string_value(json_object_get(b, "group"));
    json_t *ttlj = json_object_get(b, "ttl");
    int64_t ttl = ttlj ? json_integer_value(ttlj) : 86400;
    if (!grp)
        grp = "default";
    if (!valid_label(grp, 64))
        bw_reply_error(r, 400, "group: 1 to 64 of A-Z a-z 0-9 . _ -");
    else if ((ttlj && !json_is_integer(ttlj)) || ttl < 60 || ttl > 30 * 86400)
        bw_reply_error(r, 400, "ttl: seconds, 60 to 2592000");
    else {
        char tok[65], h[65];
        bw_random_hex(tok, 32);
        bw_sha256_hex(tok, h);
        int64_t exp = bw_now_us() + ttl * 1000000;
        if (bw_store_add_enroll_token(r->con->store, h, grp, exp, &err) != BW_OK)
            bw_reply_error(r, 500, "store: %s", err.msg);
        else {
            bw_log(BW_LOG_INFO, "%s made an enrolment token for group %s", r->user, grp);
            bw_reply_json(r, 201, json_pack("{s:s,s:s,s:I}", "token", tok, "group", grp,
                                            "expires", (json_int_t)(exp / 1000000)));
        }
    }
    json_decref(b);
}

void bw_h_enroll(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *tok = json_string_value(json_object_get(b, "token"));
    const char *name = json_string_value(json_object_get(b, "name"));
    if (!tok || strlen(tok) > 256 || !*tok) {
        bw_reply_error(r, 400, "token: missing");
    } else if (!valid_label(name, 128)) {
        bw_reply_error(r, 400, "name: 1 to 128 of A-Z a-z 0-9 . _ -");
    } else {
        char th[65], cred[65], ch[65];
        char *node_id = NULL;
        bw_sha256_hex(tok, th);
        bw_random_hex(cred, 32);
        bw_sha256_hex(cred, ch);
        int rc = bw_store_enroll(r->con->store, th, name, ch, &node_id, &err);
        if (rc == BW_DECLINED) {
            bw_log(BW_LOG_WARN, "enrolment of %s refused: %s", name, err.msg);
            bw_reply_error(r, 401, "enrolment refused: unknown, used or expired token, or the "
                                   "name is enrolled already");
        } else if (rc != BW_OK) {
            bw_reply_error(r, 500, "store: %s", err.msg);
        } else {
            json_t *n = bw_store_node(r->con->store, node_id, &err);
            const char *grp = n ? json_string_value(json_object_get(n, "group")) : NULL;
            bw_log(BW_LOG_INFO, "node %s enrolled (id %s, group %s)", name, node_id,
                   grp ? grp : "default");
            bw_reply_json(r, 201, json_pack("{s:s,s:s,s:s}", "node_id", node_id, "credential",
                                            cred, "group", grp ? grp : "default"));
            json_decref(n);
        }
        free(node_id);
    }
    json_decref(b);
}

static int64_t queued_tasks(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *t = bw_store_tasks(r->con->store, r->node_id, 1000, &err);
    int64_t k = 0;
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x)
    {
        const char *st = json_string_value(json_object_get(x, "state"));
        if (st && !strcmp(st, "queued"))
            k++;
    }
    json_decref(t);
    return k;
}

void bw_h_heartbeat(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    json_t *n = NULL;
    if (bw_store_node_seen(r->con->store, r->node_id, b, &err) != BW_OK) {
        bw_reply_error(r, 500, "store: %s", err.msg);
        goto out;
    }
    n = bw_store_node(r->con->store, r->node_id, &err);
    const char *grp = n ? json_string_value(json_object_get(n, "group")) : NULL;
    json_t *p = grp ? bw_store_policy(r->con->store, grp, &err) : NULL;
    json_int_t pv = p ? json_integer_value(json_object_get(p, "version")) : 0;
    json_decref(p);
    bw_reply_json(r, 200, json_pack("{s:I,s:I}", "policy_version", pv, "tasks",
                                    (json_int_t)queued_tasks(r)));
out:
    json_decref(n);
    json_decref(b);
}

void bw_h_node_tasks(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *t = bw_store_take_tasks(r->con->store, r->node_id, &err);
    if (!t)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, json_pack("{s:o}", "tasks", t));
}

void bw_h_node_task_result(bw_req_t *r)
{
    bw_err_t err = {{0}};
    char *end;
    long long id = strtoll(r->param[0], &end, 10);
    if (*end || id <= 0) {
        bw_reply_error(r, 400, "task id: not a number");
        return;
    }
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *st = json_string_value(json_object_get(b, "state"));
    const char *msg = json_string_value(json_object_get(b, "message"));
    if (!st || (strcmp(st, "done") && strcmp(st, "failed")))
        bw_reply_error(r, 400, "state: done or failed");
    else if (msg && strlen(msg) > 4096)
        bw_reply_error(r, 400, "message: at most 4096 bytes");
    else {
        int rc = bw_store_task_result(r->con->store, r->node_id, id, st, msg ? msg : "", &err);
        if (rc == BW_DECLINED)
            bw_reply_error(r, 404, "task %lld: not this node's", id);
        else if (rc != BW_OK)
            bw_reply_error(r, 500, "store: %s", err.msg);
        else
            bw_reply_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "state", st));
    }
    json_decref(b);
}

void bw_h_node_policy(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *n = bw_store_node(r->con->store, r->node_id, &err);
    const char *grp = n ? json_string_value(json_object_get(n, "group")) : NULL;
    json_t *p = grp ? bw_store_policy(r->con->store, grp, &err) : NULL;
    if (p) {
        bw_reply_json(r, 200, json_pack("{s:O,s:O,s:O}", "group", json_object_get(p, "group"),
                                        "version", json_object_get(p, "version"), "conf",
                                        json_object_get(p, "conf")));
        json_decref(p);
    } else if (err.msg[0]) {
        bw_reply_error(r, 500, "store: %s", err.msg);
    } else {
        bw_reply_empty(r, 204);
    }
    json_decref(n);
}

void bw_h_nodes(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *n = bw_store_nodes(r->con->store, &err);
    if (!n)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, n);
}

void bw_h_node_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *n = bw_store_node(r->con->store, r->param[0], &err);
    if (n)
        bw_reply_json(r, 200, n);
    else if (err.msg[0])
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_error(r, 404, "node %s: not found", r->param[0]);
}

void bw_h_node_patch(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *n = bw_store_node(r->con->store, r->param[0], &err);
    if (!n) {
        bw_reply_error(r, 404, "node %s: not found", r->param[0]);
        return;
    }
    json_decref(n);
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *grp = json_string_value(json_object_get(b, "group"));
    if (!valid_label(grp, 64))
        bw_reply_error(r, 400, "group: 1 to 64 of A-Z a-z 0-9 . _ -");
    else if (bw_store_node_set_group(r->con->store, r->param[0], grp, &err) != BW_OK)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, bw_store_node(r->con->store, r->param[0], &err));
    json_decref(b);
}

void bw_h_node_revoke(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *n = bw_store_node(r->con->store, r->param[0], &err);
    if (!n) {
        bw_reply_error(r, 404, "node %s: not found", r->param[0]);
        return;
    }
    json_decref(n);
    if (bw_store_node_revoke(r->con->store, r->param[0], &err) != BW_OK)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else {
        bw_log(BW_LOG_WARN, "%s revoked node %s", r->user, r->param[0]);
        bw_reply_json(r, 200, json_pack("{s:s,s:b}", "id", r->param[0], "revoked", 1));
    }
}
