/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks and policies: what the administrator sends to nodes.
 *
 * A task for a group becomes one task per (non-revoked) node of the group,
 * so each node reports its own result.  A policy is a bulwark.conf fragment
 * validated here with bulwarkd's own key schema (src/app/schema.c) before it
 * is stored: the console accepts exactly what a node would, and a bad
 * fragment gets "policy:LINE: Key: what" and is not stored.  The node
 * validates again before applying (its version may differ), and a policy it
 * refuses never stops it (src/link). */
#include <stdlib.h>
#include <string.h>

#include "app/schema.h"
#include "bulwark/core.h"
#include "console/console.h"
#include "core/conf.h"
#include "core/log.h"

static const char *const task_types[] = {"update", "reload", "reload-bases", "quarantine.restore",
                                         "quarantine.delete", "unblock", NULL};

void bw_h_tasks_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    const char *node = bw_req_arg(r, "node");
    json_t *t = bw_store_tasks(r->con->store, node && *node ? node : NULL, 500, &err);
    if (!t)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, t);
}

static int check_args(bw_req_t *r, const char *type, json_t *args)
{
    if (args && !json_is_object(args)) {
        bw_reply_error(r, 400, "args: expected an object");
        return BW_ERR;
    }
    const char *need = !strncmp(type, "quarantine.", 11) ? "id"
                       : !strcmp(type, "unblock")        ? "address"
                                                         : NULL;
    if (need) {
        const char *v = json_string_value(json_object_get(args, need));
        if (!v || !*v || strlen(v) > 256) {
            bw_reply_error(r, 400, "args.%s: required for %s (a string)", need, type);
            return BW_ERR;
        }
    }
    return BW_OK;
}

void bw_h_tasks_post(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    const char *type = json_string_value(json_object_get(b, "type"));
    const char *node = json_string_value(json_object_get(b, "node"));
    const char *grp = json_string_value(json_object_get(b, "group"));
    json_t *args = json_object_get(b, "args");
    json_t *targets = json_array(), *ids = json_array(), *nodes = NULL;
    /* Always an object: the store is handed {} rather than NULL (store.c
     * turns a NULL into a json_object() it never frees). */
    json_t *noargs = json_object();
    int known = 0;
    for (int i = 0; type && task_types[i]; i++)
        known |= !strcmp(type, task_types[i]);
    if (!known) {
        bw_reply_error(r, 400, "type: one of update, reload, reload-bases, quarantine.restore, "
                               "quarantine.delete, unblock");
        goto out;
    }
    if (check_args(r, type, args) != BW_OK)
        goto out;
    if (!!node == !!grp) {
        bw_reply_error(r, 400, "give either node (an id) or group");
        goto out;
    }
    nodes = bw_store_nodes(r->con->store, &err);
    if (!nodes) {
        bw_reply_error(r, 500, "store: %s", err.msg);
        goto out;
    }
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        if (json_is_true(json_object_get(n, "revoked")))
            continue;
        const char *id = json_string_value(json_object_get(n, "id"));
        const char *g = json_string_value(json_object_get(n, "group"));
        const char *nm = json_string_value(json_object_get(n, "name"));
        if ((node && id && (!strcmp(node, id) || (nm && !strcmp(node, nm)))) ||
            (grp && g && !strcmp(grp, g)))
            json_array_append_new(targets, json_string(id));
    }
    if (json_array_size(targets) == 0) {
        bw_reply_error(r, 404, "%s %s: no such (non-revoked) node", node ? "node" : "group",
                       node ? node : grp);
        goto out;
    }
    json_t *t;
    json_array_foreach(targets, i, t)
    {
        int64_t tid;
        if (bw_store_add_task(r->con->store, json_string_value(t), type, args ? args : noargs,
                              r->user, &tid,
                              &err) != BW_OK) {
            bw_reply_error(r, 500, "store: %s", err.msg);
            goto out;
        }
        json_array_append_new(ids, json_integer(tid));
    }
    bw_log(BW_LOG_INFO, "%s queued %s for %zu node(s)", r->user, type, json_array_size(ids));
    bw_reply_json(r, 201, json_pack("{s:O}", "tasks", ids));
out:
    json_decref(nodes), json_decref(targets), json_decref(ids), json_decref(noargs), json_decref(b);
}

void bw_h_policies(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *p = bw_store_policies(r->con->store, &err);
    if (!p)
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_json(r, 200, p);
}

void bw_h_policy_get(bw_req_t *r)
{
    bw_err_t err = {{0}};
    json_t *p = bw_store_policy(r->con->store, r->param[0], &err);
    if (p)
        bw_reply_json(r, 200, p);
    else if (err.msg[0])
        bw_reply_error(r, 500, "store: %s", err.msg);
    else
        bw_reply_error(r, 404, "group %s: no policy", r->param[0]);
}

void bw_h_policy_put(bw_req_t *r)
{
    bw_err_t err = {{0}};
    const char *g = r->param[0];
    size_t gl = strlen(g);
    if (gl == 0 || gl > 64 ||
        strspn(g, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != gl) {
        bw_reply_error(r, 400, "group: 1 to 64 of A-Z a-z 0-9 . _ -");
        return;
    }
    json_t *b = bw_req_json(r);
    if (!b)
        return;
    json_t *cj = json_object_get(b, "conf");
    const char *conf = json_string_value(cj);
    bw_conf_state_t *st = NULL;
    int64_t version;
    if (!conf) {
        bw_reply_error(r, 400, "conf: expected the bulwark.conf fragment as a string");
    } else if (bw_conf_load_buf(&bw_app_schema, "policy", conf, json_string_length(cj), &st,
                                &err) != BW_OK) {
        bw_reply_error(r, 400, "%s", err.msg);
    } else if (bw_store_set_policy(r->con->store, g, conf, r->user, &version, &err) != BW_OK) {
        bw_reply_error(r, 500, "store: %s", err.msg);
    } else {
        bw_log(BW_LOG_INFO, "%s set the policy of group %s (version %lld)", r->user, g,
               (long long)version);
        bw_reply_json(r, 200, json_pack("{s:s,s:I}", "group", g, "version", (json_int_t)version));
    }
    if (st)
        bw_conf_free(st);
    json_decref(b);
}
