/* SPDX-License-Identifier: Apache-2.0 */
/* Policies: the console keeps a bulwark.conf fragment per node group; the
 * node fetches its group's, checks it, keeps it in PolicyFile and reloads.
 *
 * What a policy may set.  A policy comes over the network, and the file it
 * is kept in is written by the shipper, which runs as the unprivileged User;
 * the supervisor, running as root, then loads it over bulwark.conf.  So a
 * policy must not be able to change anything that decides privileges, paths
 * or programs run: only an allow-list of sections is accepted (how objects
 * are treated: [icapserver.actions], [icapserver.filter],
 * [icapserver.engine.options], [icapserver.protocol], [icapserver.groups],
 * and their :GROUP sections), and within them no key whose value is a path.
 * [path], [icapserver.process], [icapserver.network], [icapserver.report],
 * [icapserver.notify] (scripts, mail), [clamd], [quarantine],
 * [updater.options], [events], [console] and the statistics are refused with
 * the line that names them.  bulwarkd applies the same check when it loads
 * PolicyFile (generation.c), so a file written by anyone else as User gains
 * nothing either.
 *
 * Applying.  The policy is checked as a whole before anything is written:
 * the allow-list, then bulwark.conf with the policy over it against the one
 * schema (every key, value, group and cross-key check, as bulwarkd -t would).
 * Only then is PolicyFile replaced (temporary file + rename) and the
 * supervisor asked to reload.  If the reload fails anyway, the previous
 * PolicyFile is put back.  Either way the running configuration stays as it
 * was on failure, the node keeps serving, and the exact error goes to the
 * console in every heartbeat (policy_status/policy_error) and as a
 * policy.failed event; success is policy.applied.  A version that failed is
 * not tried again until the console has a new one.
 */
#include "link/link-int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/schema.h"
#include "bulwark/core.h"
#include "core/conf.h"
#include "core/log.h"

#define HEADER "; bulwark console policy: version "

void bw_link_policy_init(bw_link_t *l)
{
    snprintf(l->policy_status, sizeof l->policy_status, "none");
    char *text = NULL;
    size_t len = 0;
    if (bw_link_read_file(l->c.policy_file, &text, &len))
        return;
    if (!strncmp(text, HEADER, strlen(HEADER))) {
        l->policy_version = strtoll(text + strlen(HEADER), NULL, 10);
        l->policy_tried = l->policy_version;
        snprintf(l->policy_status, sizeof l->policy_status, "applied");
    }
    free(text);
}

static int write_file(const char *path, const char *a, const char *b, bw_err_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0)
        return bw_err_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    bool ok = true;
    const char *parts[2] = {a, b};
    for (int i = 0; i < 2 && ok; i++) {
        size_t n = strlen(parts[i]), off = 0;
        while (off < n && ok) {
            ssize_t w = write(fd, parts[i] + off, n - off);
            if (w < 0 && errno == EINTR)
                continue;
            ok = w > 0;
            off += w > 0 ? (size_t)w : 0;
        }
    }
    ok = ok && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || rename(tmp, path)) {
        e = ok ? errno : e;
        unlink(tmp);
        return bw_err_set(err, "%s: cannot write: %s", path, strerror(e));
    }
    return BW_OK;
}

static void report(bw_link_t *l, long long version, const char *group, bool ok,
                   const char *error)
{
    l->policy_tried = version;
    if (ok)
        l->policy_version = version;
    snprintf(l->policy_status, sizeof l->policy_status, "%s",
             ok ? (version ? "applied" : "none") : "failed");
    snprintf(l->policy_error, sizeof l->policy_error, "%s", ok ? "" : error);
    bw_log(ok ? BW_LOG_INFO : BW_LOG_ERR, "console policy %lld (group %s): %s%s%s", version,
           group, ok ? "applied" : "refused: ", ok ? "" : error, "");
    json_t *f = json_pack("{s:{s:I, s:s, s:s}, s:s}", "policy", "version", (json_int_t)version,
                          "group", group, "status", ok ? "applied" : "failed", "message",
                          ok ? "policy applied" : "policy refused; the configuration is "
                                                  "unchanged");
    if (f && !ok)
        json_object_set_new(f, "error", json_string(error));
    char *ft = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    if (ft && l->env.emit)
        l->env.emit(l->env.emit_ud, ok ? "policy.applied" : "policy.failed", ok ? "info" : "high",
                    ft);
    free(ft);
}

/* Puts `text` (NULL: no policy) in PolicyFile and reloads; on a failed
 * reload the previous file comes back. */
static int apply(bw_link_t *l, long long version, const char *text, char *msg, size_t cap)
{
    char *prev = NULL;
    size_t plen = 0;
    bool had = bw_link_read_file(l->c.policy_file, &prev, &plen) == 0;
    bw_err_t err;
    char head[128];
    snprintf(head, sizeof head, HEADER "%lld (written by the shipper; do not edit)\n", version);
    int r = text ? write_file(l->c.policy_file, head, text, &err)
                 : (unlink(l->c.policy_file) && errno != ENOENT
                        ? bw_err_set(&err, "%s: %s", l->c.policy_file, strerror(errno))
                        : BW_OK);
    if (r) {
        snprintf(msg, cap, "%s", err.msg);
        free(prev);
        return 0;
    }
    char *answer = NULL;
    int ok = l->env.ctl ? l->env.ctl(l->env.ctl_ud, "reload", &answer, &err) : -1;
    if (ok != 1) {
        snprintf(msg, cap, "reload: %s",
                 ok == 0 && answer ? answer : ok < 0 && l->env.ctl ? err.msg : "refused");
        size_t n = strlen(msg);
        while (n && msg[n - 1] == '\n')
            msg[--n] = '\0';
        if (had)
            write_file(l->c.policy_file, prev, "", &err);
        else
            unlink(l->c.policy_file);
    }
    free(answer);
    free(prev);
    return ok == 1;
}

void bw_link_policy_sync(bw_link_t *l, long long cv)
{
    if (cv == l->policy_version && strcmp(l->policy_status, "failed"))
        return;
    if (cv == l->policy_tried && !strcmp(l->policy_status, "failed"))
        return;
    long status = 0;
    bw_err_t err;
    if (bw_link_call(l, "GET", "/api/v1/node/policy", NULL, &status, &err) ||
        (status != 200 && status != 204)) {
        bw_link_fail(l, &l->poll_bo);
        return;
    }
    char msg[1024] = "";
    if (status == 204) { /* the group has no policy (any more) */
        if (l->policy_version) {
            bool ok = apply(l, 0, NULL, msg, sizeof msg);
            report(l, 0, "-", ok, msg);
        }
        return;
    }
    json_error_t je;
    json_t *a = json_loadb(l->resp.p ? l->resp.p : "", l->resp.len, 0, &je);
    json_t *jv = json_object_get(a, "version");
    long long version = json_is_integer(jv) ? (long long)json_integer_value(jv) : cv;
    const char *group = json_string_value(json_object_get(a, "group"));
    const char *conf = json_string_value(json_object_get(a, "conf"));
    char grp[128];
    snprintf(grp, sizeof grp, "%s", group ? group : "-");
    if (!conf) {
        report(l, version, grp, false, "the console's policy answer holds no \"conf\"");
    } else if (version == l->policy_version && !strcmp(l->policy_status, "applied")) {
        /* already in place */
    } else if (bw_link_policy_check(l->env.conf_path, conf, &err)) {
        report(l, version, grp, false, err.msg);
    } else {
        bool ok = apply(l, version, conf, msg, sizeof msg);
        report(l, version, grp, ok, msg);
    }
    json_decref(a);
}
