/* SPDX-License-Identifier: Apache-2.0 */
/* Exclusions: decided in the fanotify loop before any scan, so they must be
 * cheap and never touch the file.  Path prefixes compare whole components
 * ("/var/lib" excludes "/var/lib/x", not "/var/library"); globs are fnmatch
 * over the whole path; extensions compare case-insensitively; processes by
 * their /proc/PID/comm name, users by uid. */
#include <ctype.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent.h"

static size_t count(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static char **dupv(char *const *v, size_t *n, int strip_slash, int strip_dot)
{
    *n = count(v);
    char **out = calloc(*n + 1, sizeof *out);
    if (!out)
        return NULL;
    for (size_t i = 0; i < *n; i++) {
        const char *s = v[i];
        if (strip_dot && s[0] == '.')
            s++;
        out[i] = strdup(s);
        if (!out[i])
            return out;
        size_t l = strlen(out[i]);
        while (strip_slash && l > 1 && out[i][l - 1] == '/')
            out[i][--l] = 0;
    }
    return out;
}

int bw_agent_excl_init(bw_agent_excl_t *x, char *const *paths, char *const *globs,
                       char *const *exts, char *const *procs, char *const *users, bw_err_t *err)
{
    memset(x, 0, sizeof *x);
    x->paths = dupv(paths, &x->npaths, 1, 0);
    x->globs = dupv(globs, &x->nglobs, 0, 0);
    x->exts = dupv(exts, &x->nexts, 0, 1);
    x->procs = dupv(procs, &x->nprocs, 0, 0);
    size_t nu = count(users);
    x->uids = calloc(nu + 1, sizeof *x->uids);
    if (!x->paths || !x->globs || !x->exts || !x->procs || !x->uids) {
        bw_err_set(err, "out of memory");
        return BW_ERR;
    }
    for (size_t i = 0; i < x->npaths; i++)
        if (!x->paths[i] || x->paths[i][0] != '/') {
            bw_err_set(err, "ExcludePath '%s': not an absolute path", paths[i]);
            return BW_ERR;
        }
    for (size_t i = 0; i < nu; i++) {
        const char *u = users[i];
        char *end;
        unsigned long v = strtoul(u, &end, 10);
        if (u[0] && !*end) {
            x->uids[x->nuids++] = (uid_t)v;
            continue;
        }
        struct passwd pw, *res = NULL;
        char buf[4096];
        if (getpwnam_r(u, &pw, buf, sizeof buf, &res) != 0 || !res) {
            bw_err_set(err, "ExcludeUser '%s': no such user", u);
            return BW_ERR;
        }
        x->uids[x->nuids++] = res->pw_uid;
    }
    return BW_OK;
}

static void freev(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void bw_agent_excl_free(bw_agent_excl_t *x)
{
    freev(x->paths, x->npaths);
    freev(x->globs, x->nglobs);
    freev(x->exts, x->nexts);
    freev(x->procs, x->nprocs);
    free(x->uids);
    memset(x, 0, sizeof *x);
}

static bool prefix_of(const char *pre, const char *path)
{
    size_t l = strlen(pre);
    if (l == 1 && pre[0] == '/')
        return path[0] == '/';
    return strncmp(pre, path, l) == 0 && (path[l] == 0 || path[l] == '/');
}

bool bw_agent_under(char *const *prefixes, const char *path)
{
    for (size_t i = 0; prefixes && prefixes[i]; i++) {
        char tmp[4096];
        size_t l = strlen(prefixes[i]);
        if (l >= sizeof tmp)
            continue;
        memcpy(tmp, prefixes[i], l + 1);
        while (l > 1 && tmp[l - 1] == '/')
            tmp[--l] = 0;
        if (prefix_of(tmp, path))
            return true;
    }
    return false;
}

bool bw_agent_excl_path(const bw_agent_excl_t *x, const char *path)
{
    for (size_t i = 0; i < x->npaths; i++)
        if (prefix_of(x->paths[i], path))
            return true;
    for (size_t i = 0; i < x->nglobs; i++)
        if (fnmatch(x->globs[i], path, 0) == 0)
            return true;
    if (x->nexts) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        const char *dot = strrchr(base, '.');
        if (dot && dot != base)
            for (size_t i = 0; i < x->nexts; i++)
                if (strcasecmp(dot + 1, x->exts[i]) == 0)
                    return true;
    }
    return false;
}

bool bw_agent_excl_proc(const bw_agent_excl_t *x, const char *comm, uid_t uid)
{
    for (size_t i = 0; i < x->nprocs; i++)
        if (comm && strcmp(comm, x->procs[i]) == 0)
            return true;
    for (size_t i = 0; i < x->nuids; i++)
        if (uid == x->uids[i])
            return true;
    return false;
}
