/* SPDX-License-Identifier: Apache-2.0 */
/* bw_ctl_call: one command line out, the answer in until the daemon closes.
 * bw_ctl_socket_of: where that socket is, from a configuration file that
 * may be broken.
 *
 * `bulwark ctl reload` exists to make the daemon read a changed file, and a
 * changed file may be wrong.  If the client validated the whole file first,
 * a typo would stop the reload in the client, where the daemon never logs
 * it, and `ctl status` (which would say what went wrong) could not run
 * either.  So the client reads one key, leniently, and the daemon, which
 * validates everything, refuses the reload and says file:line.  The lexing
 * is libinih's with the options the loader (core/conf.c) sets, so the key
 * is read the same way the daemon reads it. */
#include <errno.h>
#include <ini.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "app/ctl-client.h"
#include "app/daemon-conf.h"
#include "bulwark/bulwark.h"
#include "core/clock.h"
#include "core/conf.h"

int bw_ctl_call(const char *socket_path, const char *command, int timeout_ms, char **text,
                bw_err_t *err)
{
    *text = NULL;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (!socket_path || !socket_path[0] || strlen(socket_path) >= sizeof sa.sun_path) {
        bw_err_set(err, "control socket '%s': not a usable path", socket_path ? socket_path : "");
        return -1;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        if (e == EACCES || e == EPERM) {
            bw_err_set(err, "permission denied on the control socket %s: %s (it is root's: run "
                            "this as root)", socket_path, strerror(e));
            return BW_CTL_DENIED;
        }
        bw_err_set(err, "cannot reach bulwarkd at %s: %s", socket_path, strerror(e));
        return -1;
    }
    char line[300];
    int n = snprintf(line, sizeof line, "%s\n", command);
    if (n <= 0 || (size_t)n >= sizeof line || send(fd, line, (size_t)n, MSG_NOSIGNAL) != n) {
        bw_err_set(err, "control socket %s: cannot send the command", socket_path);
        close(fd);
        return -1;
    }
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    long long deadline = (long long)bw_clock_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - (long long)bw_clock_ms();
        struct pollfd p = {fd, POLLIN, 0};
        if (!buf || left <= 0 || poll(&p, 1, (int)left) <= 0) {
            bw_err_set(err, "control socket %s: no complete answer within %d ms", socket_path,
                       timeout_ms);
            free(buf);
            close(fd);
            return -1;
        }
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                bw_err_set(err, "out of memory");
                free(buf);
                close(fd);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int ok;
    const char *rest;
    if (strncmp(buf, "OK\n", 3) == 0) {
        ok = 1;
        rest = buf + 3;
    } else if (strncmp(buf, "ERROR\n", 6) == 0) {
        ok = 0;
        rest = buf + 6;
    } else {
        bw_err_set(err, "control socket %s: unexpected answer", socket_path);
        free(buf);
        return -1;
    }
    memmove(buf, rest, strlen(rest) + 1);
    *text = buf;
    return ok;
}

/* ---- the control socket's path, leniently ------------------------------ */

typedef struct peek {
    const char *buf;
    size_t len, pos;
    unsigned line;   /* of the line inih is handling */
    char *value;     /* the first [path] ControlSocket, malloc'd */
    unsigned vline;
} peek_t;

/* One line per call, leading blanks dropped (as core/conf.c's reader: an
 * indented line is not a continuation), an over-long line cut. */
static char *peek_reader(char *str, int num, void *stream)
{
    peek_t *P = stream;
    if (P->pos >= P->len || num < 2)
        return NULL;
    const char *p = P->buf + P->pos;
    size_t rest = P->len - P->pos;
    const char *nl = memchr(p, '\n', rest);
    size_t n = nl ? (size_t)(nl - p) : rest;
    P->pos += n + (nl != NULL);
    P->line++;
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    const char *nul = memchr(p, '\0', n);
    if (nul)
        n = (size_t)(nul - p);
    if (n > (size_t)num - 1)
        n = (size_t)num - 1;
    memcpy(str, p, n);
    str[n] = '\0';
    return str;
}

/* Is inih's section name "path"?  The loader also takes "[ path ]", which
 * inih hands over with its blanks. */
static int is_path_section(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncasecmp(s, "path", 4) != 0)
        return 0;
    for (s += 4; *s == ' ' || *s == '\t'; s++)
        ;
    return *s == '\0';
}

static int peek_handler(void *user, const char *section, const char *name, const char *value)
{
    peek_t *P = user;
    if (!P->value && section && is_path_section(section) && name &&
        !strcasecmp(name, "ControlSocket")) {
        P->value = strdup(value ? value : "");
        P->vline = P->line;
    }
    return 1; /* never an error: everything else is the daemon's to judge */
}

static char inline_prefixes[] = ";#";

int bw_ctl_socket_of(const char *conf_path, char *out, size_t cap, char *note, size_t ncap,
                     bw_err_t *err)
{
    note[0] = '\0';
    FILE *f = fopen(conf_path, "re");
    int e = errno;
    char *buf = NULL;
    size_t len = 0, bcap = 0;
    while (f) { /* at most what the loader reads; the rest is not looked at */
        if (len == bcap) {
            char *nb = bcap < BW_CONF_MAX_FILE ? realloc(buf, bcap = bcap ? 2 * bcap : 65536) : NULL;
            if (!nb) {
                e = ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, bcap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                e = errno ? errno : EIO;
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f)
        fclose(f);
    if (!buf) {
        snprintf(note, ncap, "cannot read %s (%s): using the default control socket %s",
                 conf_path, strerror(e), BW_DEFAULT_CTL_SOCKET);
        snprintf(out, cap, "%s", BW_DEFAULT_CTL_SOCKET);
        return BW_OK;
    }
    peek_t P = {buf, len, 0, 0, NULL, 0};
    ini_allow_multiline = false;
    ini_allow_bom = true;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = inline_prefixes;
    ini_stop_on_first_error = false;
    ini_allow_no_value = false;
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = BW_CONF_MAX_LINE + 3;
    ini_initial_alloc = BW_CONF_MAX_LINE + 3;
    int r = ini_parse_stream(peek_reader, &P, peek_handler, &P);
    ini_stop_on_first_error = true; /* the loader's setting */
    free(buf);
    if (r == -2 && !P.value)
        return bw_err_set(err, "%s: out of memory", conf_path);
    if (!P.value) {
        snprintf(out, cap, "%s", BW_DEFAULT_CTL_SOCKET);
        return BW_OK;
    }
    int rc = BW_OK;
    if (!P.value[0]) {
        rc = bw_err_set(err, "%s:%u: ControlSocket is empty: bulwarkd runs without a control "
                        "socket", conf_path, P.vline);
    } else if (P.value[0] == '/') {
        if (snprintf(out, cap, "%s", P.value) >= (int)cap)
            rc = bw_err_set(err, "%s:%u: ControlSocket: path too long", conf_path, P.vline);
    } else {
        /* Relative to the file's directory, as the loader resolves a path. */
        const char *slash = strrchr(conf_path, '/');
        char cwd[4096] = "";
        int n;
        if (slash)
            n = conf_path[0] == '/'
                    ? snprintf(out, cap, "%.*s/%s", (int)(slash - conf_path), conf_path, P.value)
                    : snprintf(out, cap, "%s/%.*s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".",
                               (int)(slash - conf_path), conf_path, P.value);
        else
            n = snprintf(out, cap, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", P.value);
        if (n < 0 || (size_t)n >= cap)
            rc = bw_err_set(err, "%s:%u: ControlSocket: path too long", conf_path, P.vline);
    }
    free(P.value);
    return rc;
}
