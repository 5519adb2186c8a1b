/* SPDX-License-Identifier: Apache-2.0 */
/* Enrolment: a one-time token (from [console] EnrollToken or `bulwark
 * console enroll`) is exchanged once for the node's own credential, kept in
 * CredentialFile (JSON, mode 0600).  The token is worthless after that (the
 * console refuses a second use), so a leaked bulwark.conf does not let
 * anyone enrol a second node; the credential itself never leaves the node
 * except towards the console over verified TLS. */
#include "link/link-cred.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "link/link-http.h"

static int copy_field(json_t *j, const char *key, char *dst, size_t cap, bool required)
{
    const char *v = json_string_value(json_object_get(j, key));
    json_t *num = json_object_get(j, key);
    if (!v && json_is_integer(num)) {
        snprintf(dst, cap, "%lld", (long long)json_integer_value(num));
        return BW_OK;
    }
    if (!v)
        return required ? BW_ERR : BW_OK;
    if (strlen(v) >= cap)
        return BW_ERR;
    snprintf(dst, cap, "%s", v);
    return BW_OK;
}

int bw_link_cred_load(const char *path, bw_link_cred_t *c, bw_err_t *err)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT)
        return BW_DECLINED;
    if (fd < 0)
        return bw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || (sb.st_mode & 077)) {
        close(fd);
        return bw_err_set(err, "%s: must be a regular file of mode 0600 (it holds the node's "
                          "console credential)", path);
    }
    json_error_t je;
    json_t *j = json_loadfd(fd, 0, &je);
    close(fd);
    if (!j)
        return bw_err_set(err, "%s:%d: %s", path, je.line, je.text);
    int bad = copy_field(j, "credential", c->credential, sizeof c->credential, true) ||
              copy_field(j, "node_id", c->node_id, sizeof c->node_id, false) ||
              copy_field(j, "url", c->url, sizeof c->url, false) ||
              copy_field(j, "name", c->name, sizeof c->name, false) ||
              copy_field(j, "group", c->group, sizeof c->group, false);
    json_decref(j);
    if (bad || !c->credential[0])
        return bw_err_set(err, "%s: not a console credential (expected a JSON object with "
                          "\"credential\")", path);
    return BW_OK;
}

int bw_link_cred_save(const char *path, const bw_link_cred_t *c, bw_err_t *err)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "url", c->url, "node_id", c->node_id,
                          "name", c->name, "group", c->group, "credential", c->credential);
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text)
        return bw_err_set(err, "%s: out of memory", path);
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid()) >= (int)sizeof tmp) {
        free(text);
        return bw_err_set(err, "%s: path too long", path);
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(text);
        return bw_err_set(err, "%s: cannot create: %s", tmp, strerror(errno));
    }
    size_t len = strlen(text), off = 0;
    int ok = 1;
    while (off < len && ok) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        off += w > 0 ? (size_t)w : 0;
    }
    ok = ok && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        unlink(tmp);
        return bw_err_set(err, "%s: cannot write: %s", path, strerror(e));
    }
    return BW_OK;
}

int bw_link_enroll(const char *url, const char *ca_file, const char *token, const char *name,
                   const char *group, const char *path, bw_link_cred_t *c, bw_err_t *err)
{
    memset(c, 0, sizeof *c);
    if (!token || !token[0])
        return bw_err_set(err, "enrolment needs a token (EnrollToken or --token)");
    bw_link_http_t *h;
    if (bw_link_http_new(url, ca_file, &h, err))
        return BW_ERR;
    json_t *req = json_pack("{s:s, s:s, s:s}", "token", token, "name", name, "version",
                            BW_VERSION);
    if (req && group && group[0])
        json_object_set_new(req, "group", json_string(group));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        bw_link_http_free(h);
        return bw_err_set(err, "out of memory");
    }
    bw_buf_t resp = {0};
    long status = 0;
    int r = bw_link_http_call(h, "POST", "/api/v1/enroll", body, strlen(body), 30000, &status,
                              &resp, err);
    free(body);
    bw_link_http_free(h);
    if (r) {
        bw_buf_free(&resp);
        return BW_ERR;
    }
    if (status != 201 && status != 200) {
        char msg[512];
        bw_link_http_error_of(&resp, status, msg, sizeof msg);
        bw_buf_free(&resp);
        return bw_err_set(err, "enrolment refused by %s: %s", url, msg);
    }
    json_error_t je;
    json_t *j = json_loadb(resp.p ? resp.p : "", resp.len, 0, &je);
    bw_buf_free(&resp);
    int bad = !j || copy_field(j, "credential", c->credential, sizeof c->credential, true) ||
              copy_field(j, "node_id", c->node_id, sizeof c->node_id, false) ||
              copy_field(j, "group", c->group, sizeof c->group, false);
    json_decref(j);
    if (bad || !c->credential[0])
        return bw_err_set(err, "enrolment: the console's answer holds no credential");
    snprintf(c->url, sizeof c->url, "%s", url);
    snprintf(c->name, sizeof c->name, "%s", name);
    return bw_link_cred_save(path, c, err);
}
