/* SPDX-License-Identifier: Apache-2.0 */
/* The link's loop: what is due when, and how failures slow it down.
 *
 * Two independent clocks drive it.  Forwarding runs whenever the spool has
 * events (a full batch is followed at once by the next); the poll (the
 * heartbeat, then tasks and the policy when the heartbeat's answer says
 * there are some) runs every PollInterval.  Each has its own back-off, so a
 * console that refuses batches still sees the node's heartbeat, and the
 * other way round.
 *
 * Back-off: after the n-th failure in a row the next try waits a random
 * time in [d/2, d] with d = min(MaxRetryInterval, 1 s * 2^(n-1)) ("equal
 * jitter"): the doubling keeps a dead console from being hammered, the cap
 * bounds how long a node stays silent after the console comes back, and the
 * jitter keeps a thousand nodes that lost the console at the same moment
 * from coming back in lock-step.  A success resets it.
 *
 * Delivery: the spool cursor "console" is acknowledged only after the
 * console answered 200 for the batch, i.e. after it committed it (the
 * console's contract).  A crash (or SIGKILL) between the console's commit
 * and our acknowledgement sends the batch again: at-least-once.  Events
 * carry a unique id and the console stores an id once, so it holds each
 * event exactly once (docs/console-nodes.md).
 */
#include "link/link-int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bulwark/bulwark.h"
#include "core/clock.h"
#include "core/log.h"

uint64_t bw_link_now(void)
{
    return bw_clock_ms();
}

void bw_link_fail(bw_link_t *l, link_backoff_t *b)
{
    if (b->fails < 40)
        b->fails++;
    uint64_t d = 1000;
    for (unsigned i = 1; i < b->fails && d < l->c.max_backoff_ms; i++)
        d *= 2;
    if (d > l->c.max_backoff_ms)
        d = l->c.max_backoff_ms;
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
        r = (uint32_t)rand();
    uint64_t wait = d / 2 + (d / 2 ? r % (d / 2 + 1) : 0);
    b->until_ms = bw_link_now() + wait;
}

void bw_link_ok(link_backoff_t *b)
{
    b->fails = 0;
    b->until_ms = 0;
}

void bw_link_emit(bw_link_t *l, const char *type, const char *severity, const char *fmt, ...)
{
    if (!l->env.emit)
        return;
    char fields[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    l->env.emit(l->env.emit_ud, type, severity, fields);
}

int bw_link_call(bw_link_t *l, const char *method, const char *path, const char *body,
                 long *status, bw_err_t *err)
{
    int r = bw_link_http_call(l->http, method, path, body, body ? strlen(body) : 0,
                              LINK_TIMEOUT_MS, status, &l->resp, err);
    if (r == BW_OK && (*status == 401 || *status == 403)) {
        if (!l->refused) {
            char msg[512];
            bw_link_http_error_of(&l->resp, *status, msg, sizeof msg);
            bw_log(BW_LOG_ERR, "console %s refuses this node's credential (revoked or unknown: "
                   "%s); events stay in the spool; enrol again with `bulwark console enroll`",
                   l->c.url, msg);
        }
        l->refused = true;
    } else if (r == BW_OK && *status < 400) {
        if (l->refused)
            bw_log(BW_LOG_INFO, "console %s accepts this node again", l->c.url);
        l->refused = false;
    }
    return r;
}

static char *dupe(const char *s)
{
    return strdup(s ? s : "");
}

int bw_link_open(const bw_link_conf_t *lc, const bw_link_env_t *env, bw_link_t **out,
                 bw_err_t *err)
{
    bw_link_t *l = calloc(1, sizeof *l);
    if (!l)
        return bw_err_set(err, "out of memory");
    l->c = *lc;
    l->c.url = dupe(lc->url);
    l->c.ca_file = dupe(lc->ca_file);
    l->c.enroll_token = dupe(lc->enroll_token);
    l->c.credential_file = dupe(lc->credential_file);
    l->c.group = dupe(lc->group);
    l->c.policy_file = dupe(lc->policy_file);
    l->c.restore_dir = dupe(lc->restore_dir);
    l->env = *env;
    if (!l->c.url || !l->c.ca_file || !l->c.enroll_token || !l->c.credential_file ||
        !l->c.group || !l->c.policy_file || !l->c.restore_dir) {
        bw_link_close(l);
        return bw_err_set(err, "out of memory");
    }
    if (bw_link_http_new(l->c.url, l->c.ca_file, &l->http, err) ||
        bw_evspool_reader_open(env->spool_dir, "console", &l->spool, err)) {
        bw_link_close(l);
        return BW_ERR;
    }
    int r = bw_link_cred_load(l->c.credential_file, &l->cred, err);
    if (r == BW_ERR) {
        bw_link_close(l);
        return BW_ERR;
    }
    l->enrolled = r == BW_OK;
    if (l->enrolled)
        bw_link_http_set_bearer(l->http, l->cred.credential);
    bw_link_policy_init(l);
    *out = l;
    return BW_OK;
}

void bw_link_close(bw_link_t *l)
{
    if (!l)
        return;
    if (l->spool)
        bw_evspool_reader_close(l->spool);
    bw_link_http_free(l->http);
    free(l->c.url);
    free(l->c.ca_file);
    free(l->c.enroll_token);
    free(l->c.credential_file);
    free(l->c.group);
    free(l->c.policy_file);
    free(l->c.restore_dir);
    bw_buf_free(&l->resp);
    explicit_bzero(&l->cred, sizeof l->cred);
    free(l);
}

/* Not enrolled: with EnrollToken, enrol now; otherwise look for a
 * credential `bulwark console enroll` may have written meanwhile. */
static void try_enrol(bw_link_t *l)
{
    bw_err_t err;
    int r = bw_link_cred_load(l->c.credential_file, &l->cred, &err);
    if (r == BW_DECLINED && l->c.enroll_token[0]) {
        r = bw_link_enroll(l->c.url, l->c.ca_file, l->c.enroll_token, l->env.node_name,
                           l->c.group, l->c.credential_file, &l->cred, &err);
        if (r == BW_OK)
            bw_log(BW_LOG_INFO, "enrolled with console %s as node %s (id %s, group %s)",
                   l->c.url, l->cred.name, l->cred.node_id, l->cred.group[0] ? l->cred.group : "-");
    }
    if (r == BW_OK) {
        l->enrolled = true;
        bw_link_http_set_bearer(l->http, l->cred.credential);
        bw_link_ok(&l->poll_bo);
        return;
    }
    if (r == BW_DECLINED) {
        if (!l->said_not_enrolled)
            bw_log(BW_LOG_WARN, "not enrolled with console %s: no %s and no EnrollToken "
                   "(run `bulwark console enroll`); events are kept in the spool", l->c.url,
                   l->c.credential_file);
        l->said_not_enrolled = true;
        l->poll_bo.until_ms = bw_link_now() + l->c.poll_ms;
        return;
    }
    bw_log(BW_LOG_ERR, "console enrolment: %s", err.msg);
    bw_link_fail(l, &l->poll_bo);
}

/* "database version: N" and the workers line of the supervisor's status. */
static void node_status(bw_link_t *l, long long *db_version, char *db_time, size_t tcap,
                        const char **health)
{
    *db_version = -1;
    db_time[0] = '\0';
    *health = "unknown";
    if (!l->env.ctl)
        return;
    char *text = NULL;
    bw_err_t err;
    int r = l->env.ctl(l->env.ctl_ud, "status", &text, &err);
    if (r == 1 && text) {
        const char *p = strstr(text, "database version: ");
        if (p)
            *db_version = strtoll(p + 18, NULL, 10);
        p = strstr(text, "database time: ");
        if (p)
            snprintf(db_time, tcap, "%.*s", (int)strcspn(p + 15, "\n"), p + 15);
        unsigned up = 0, want = 0;
        p = strstr(text, "workers: ");
        if (p && sscanf(p, "workers: %u of %u", &up, &want) == 2)
            *health = up == want ? "ok" : "degraded";
        else
            *health = "ok";
    } else {
        *health = "unreachable";
    }
    free(text);
}

static void heartbeat(bw_link_t *l)
{
    long long dbv;
    char dbt[128];
    const char *health;
    node_status(l, &dbv, dbt, sizeof dbt, &health);
    json_t *hb = json_pack("{s:s, s:s, s:s, s:I, s:I, s:[s], s:I, s:s, s:s}", "version",
                           BW_VERSION, "name", l->env.node_name ? l->env.node_name : "",
                           "health", health, "backlog",
                           (json_int_t)bw_evspool_backlog(l->spool), "dropped",
                           (json_int_t)(bw_evspool_dropped(l->env.spool_dir) + l->rejected),
                           "components", "icap", "policy_version",
                           (json_int_t)l->policy_version, "policy_status", l->policy_status,
                           "policy_error", l->policy_error);
    if (hb && dbv >= 0)
        json_object_set_new(hb, "db_version", json_integer(dbv));
    if (hb && dbt[0])
        json_object_set_new(hb, "db_time", json_string(dbt));
    if (hb && l->env.clamd)
        json_array_append_new(json_object_get(hb, "components"), json_string("clamd"));
    char *body = hb ? json_dumps(hb, JSON_COMPACT) : NULL;
    json_decref(hb);
    if (!body)
        return;
    long status = 0;
    bw_err_t err;
    int r = bw_link_call(l, "POST", "/api/v1/node/heartbeat", body, &status, &err);
    free(body);
    if (r || status != 200) {
        if (r)
            bw_log(BW_LOG_WARN, "console heartbeat: %s", err.msg);
        else if (status != 401 && status != 403) {
            char msg[512];
            bw_link_http_error_of(&l->resp, status, msg, sizeof msg);
            bw_log(BW_LOG_WARN, "console heartbeat: %s", msg);
        }
        bw_link_fail(l, &l->poll_bo);
        return;
    }
    bw_link_ok(&l->poll_bo);
    json_error_t je;
    json_t *a = json_loadb(l->resp.p ? l->resp.p : "", l->resp.len, 0, &je);
    json_t *pv = json_object_get(a, "policy_version");
    long long cv = json_is_integer(pv) ? (long long)json_integer_value(pv) : 0;
    json_t *tk = json_object_get(a, "tasks");
    long long ntasks = json_is_integer(tk) ? (long long)json_integer_value(tk) : 1;
    json_decref(a);
    if (ntasks > 0)
        bw_link_tasks(l);
    bw_link_policy_sync(l, cv);
}

uint64_t bw_link_step(bw_link_t *l)
{
    uint64_t now = bw_link_now();
    if (!l->enrolled) {
        if (now >= l->poll_bo.until_ms)
            try_enrol(l);
        if (!l->enrolled)
            return l->poll_bo.until_ms > now ? l->poll_bo.until_ms - now : 1000;
        now = bw_link_now();
    }
    int more = 0;
    if (now >= l->send_bo.until_ms) {
        int r = bw_link_forward(l);
        if (r < 0)
            bw_link_fail(l, &l->send_bo);
        else
            bw_link_ok(&l->send_bo);
        more = r > 0;
    }
    now = bw_link_now();
    if (now >= l->next_poll_ms && now >= l->poll_bo.until_ms) {
        heartbeat(l);
        l->next_poll_ms = bw_link_now() + l->c.poll_ms;
    }
    if (more)
        return 0;
    now = bw_link_now();
    uint64_t next = l->next_poll_ms > l->poll_bo.until_ms ? l->next_poll_ms : l->poll_bo.until_ms;
    /* New events are noticed within a second even without a wake-up. */
    uint64_t send_at = l->send_bo.until_ms > now ? l->send_bo.until_ms : now + 1000;
    if (send_at < next)
        next = send_at;
    return next > now ? next - now : 0;
}
