/* SPDX-License-Identifier: Apache-2.0 */
/* Static files: the web UI (/ and /ui/...) from UiDirectory and Debian's
 * JavaScript libraries (/js/...) from JsDirectory.
 *
 * A path is accepted only if every segment is made of [A-Za-z0-9._+-] and
 * none starts with '.': no "..", no hidden files, no encoded slashes or
 * backslashes (MHD has decoded %2F already, and '/' is the only separator
 * allowed), so a request cannot leave its directory.  The file must be a
 * regular file.  Symbolic links inside the directories are followed: Debian's
 * /usr/share/javascript is made of them, and both trees belong to root.
 * Content types come from the extension; unknown ones are refused rather
 * than guessed (nosniff is set anyway). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "console/console.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".ttf", "font/ttf"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return NULL;
}

static int safe_path(const char *p)
{
    if (!*p || strlen(p) > 1024)
        return 0;
    const char *s = p;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 0 || s[0] == '.')
            return 0;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '+'))
                return 0;
        }
        s += n;
        if (*s == '/')
            s++;
        if (!*s && s[-1] == '/')
            return 0;
    }
    return 1;
}

static void serve(bw_req_t *r, const char *root, const char *rel)
{
    if (!safe_path(rel)) {
        bw_reply_error(r, 404, "not found");
        return;
    }
    const char *type = type_of(rel);
    if (!type) {
        bw_reply_error(r, 404, "not found");
        return;
    }
    char path[8192];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path)) {
        bw_reply_error(r, 404, "not found");
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        bw_reply_error(r, 404, "not found");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        bw_reply_error(r, 500, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (r->resp)
        MHD_destroy_response(r->resp);
    r->resp = resp;
    r->status = 200;
}

void bw_h_static_index(bw_req_t *r)
{
    serve(r, r->con->ui_dir, "index.html");
}

void bw_h_static_ui(bw_req_t *r)
{
    serve(r, r->con->ui_dir, r->param[0]);
}

void bw_h_static_js(bw_req_t *r)
{
    serve(r, r->con->js_dir, r->param[0]);
}
