/* SPDX-License-Identifier: Apache-2.0 */
/* What a console policy may set, and the check of a policy against the one
 * schema (link.h).  Why the allow-list is what it is: link-policy.c.  Kept
 * apart from the rest of the link because bulwarkd itself (generation.c)
 * runs the allow-list over PolicyFile before loading it. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/schema.h"
#include "bulwark/core.h"
#include "link/link-int.h"
#include "core/buf.h"
#include "core/conf.h"
#include "link/link.h"

static const char *const allowed[] = {
    "icapserver.actions", "icapserver.filter", "icapserver.engine.options",
    "icapserver.protocol", "icapserver.groups", NULL,
};

static bool section_allowed(const char *sec, size_t n)
{
    for (int i = 0; allowed[i]; i++)
        if (strlen(allowed[i]) == n && !strncasecmp(allowed[i], sec, n))
            return true;
    return false;
}

static const bw_conf_key_t *schema_key(const char *sec, size_t sn, const char *name, size_t nn)
{
    for (size_t t = 0; t < bw_app_schema.ntables; t++)
        for (size_t k = 0; k < bw_app_schema.tables[t]->nkeys; k++) {
            const bw_conf_key_t *row = &bw_app_schema.tables[t]->keys[k];
            if (strlen(row->section) == sn && !strncasecmp(row->section, sec, sn) &&
                strlen(row->name) == nn && !strncasecmp(row->name, name, nn))
                return row;
        }
    return NULL;
}

int bw_link_policy_allowed(const char *name, const char *text, size_t len, bw_err_t *err)
{
    const char *sec = NULL;
    size_t sn = 0;
    unsigned line = 0;
    for (size_t pos = 0; pos < len;) {
        const char *p = text + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;
        pos += n + (nl != NULL);
        line++;
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
            n--;
        if (!n || *p == ';' || *p == '#')
            continue;
        if (*p == '[') {
            const char *rb = memchr(p, ']', n);
            size_t hn = rb ? (size_t)(rb - p - 1) : n - 1;
            const char *colon = memchr(p + 1, ':', hn);
            sec = p + 1;
            sn = colon ? (size_t)(colon - sec) : hn;
            if (!section_allowed(sec, sn))
                return bw_err_set(err, "%s:%u: [%.*s]: not allowed in a policy (a policy may set "
                                  "only [icapserver.actions], [icapserver.filter], "
                                  "[icapserver.engine.options], [icapserver.protocol] and "
                                  "[icapserver.groups])", name, line, (int)(sn > 80 ? 80 : sn),
                                  sec);
            continue;
        }
        size_t kn = strcspn(p, "=:");
        if (kn > n)
            kn = n;
        while (kn && (p[kn - 1] == ' ' || p[kn - 1] == '\t'))
            kn--;
        if (!sec)
            continue; /* the full check names it: key outside of any section */
        const bw_conf_key_t *k = schema_key(sec, sn, p, kn);
        if (k && k->type == BW_CONF_PATH)
            return bw_err_set(err, "%s:%u: %s: a path cannot be set by a policy", name, line,
                              k->name);
    }
    return BW_OK;
}

int bw_link_read_file(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    bw_buf_t b = {0};
    char tmp[8192];
    ssize_t r;
    while ((r = read(fd, tmp, sizeof tmp)) > 0 || (r < 0 && errno == EINTR))
        if (r > 0)
            bw_buf_append(&b, tmp, (size_t)r);
    int e = r < 0 ? errno : 0;
    close(fd);
    bw_buf_append(&b, "", 1);
    if (e || b.oom) {
        bw_buf_free(&b);
        return e ? -e : -ENOMEM;
    }
    *out = b.p;
    *len = b.len - 1;
    return 0;
}

int bw_link_policy_check(const char *conf_path, const char *policy, bw_err_t *err)
{
    size_t plen = strlen(policy);
    if (bw_link_policy_allowed("policy", policy, plen, err))
        return BW_ERR;
    char *base = NULL;
    size_t blen = 0;
    int e = bw_link_read_file(conf_path, &base, &blen);
    if (e)
        return bw_err_set(err, "%s: cannot read: %s", conf_path, strerror(-e));
    bw_conf_state_t *st = NULL;
    int r = bw_conf_load_buf_overlay(&bw_app_schema, conf_path, base, blen, "policy", policy,
                                     plen, &st, err);
    free(base);
    bw_conf_free(st);
    return r;
}


int bw_link_policy_file_allowed(const char *path, bw_err_t *err)
{
    char *text = NULL;
    size_t len = 0;
    int e = bw_link_read_file(path, &text, &len);
    if (e)
        return bw_err_set(err, "%s: cannot read: %s", path, strerror(-e));
    int r = bw_link_policy_allowed(path, text, len, err);
    free(text);
    return r;
}
