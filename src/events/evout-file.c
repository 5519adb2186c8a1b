/* SPDX-License-Identifier: Apache-2.0 */
/* JsonFile and CefFile: events appended as lines to a file.  The file is
 * opened for every batch (O_APPEND), so logrotate can move it away without
 * a signal, and fdatasync'd before the batch is acknowledged: an event the
 * spool forgets is on the disk of the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "core/buf.h"
#include "events/evout-int.h"
#include "events/evout.h"

typedef struct {
    bw_evsink_t base;
    char *path;
    int cef;
} file_sink_t;

static int file_send(bw_evsink_t *s, json_t *events, bw_err_t *err)
{
    file_sink_t *f = (file_sink_t *)s;
    bw_buf_t b = {0};
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        if (f->cef) {
            bw_evout_format_cef(&b, ev);
        } else {
            char *line = json_dumps(ev, JSON_COMPACT);
            if (line)
                bw_buf_puts(&b, line);
            free(line);
        }
        bw_buf_puts(&b, "\n");
    }
    if (b.oom) {
        bw_buf_free(&b);
        return bw_err_set(err, "%s: out of memory", f->path);
    }
    int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        bw_buf_free(&b);
        return bw_err_set(err, "%s: %s", f->path, strerror(errno));
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.p + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            bw_buf_free(&b);
            return bw_err_set(err, "%s: write: %s", f->path, strerror(e));
        }
        off += (size_t)w;
    }
    int rc = fdatasync(fd) == 0 ? BW_OK : bw_err_set(err, "%s: fdatasync: %s", f->path,
                                                     strerror(errno));
    close(fd);
    bw_buf_free(&b);
    return rc;
}

static void file_reset(bw_evsink_t *s)
{
    (void)s;
}

static void file_free(bw_evsink_t *s)
{
    file_sink_t *f = (file_sink_t *)s;
    free(f->path);
    free(f);
}

bw_evsink_t *bw_evsink_file_new(const char *path, int cef)
{
    file_sink_t *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return NULL;
    }
    f->cef = cef;
    f->base.send = file_send;
    f->base.reset = file_reset;
    f->base.free = file_free;
    return &f->base;
}
