/* SPDX-License-Identifier: Apache-2.0 */
/* The spool's readers: named cursors (evspool.h; the design is in evspool.c).
 *
 * A segment is hostile input as far as the reader is concerned (a torn line
 * after a power loss, a disk that returned zeros, a file an operator edited):
 * every line is checked to be one JSON object with a string "id", at most
 * BW_EVSPOOL_MAX_LINE bytes; anything else is skipped, counted and logged
 * (rate-limited), and the cursor moves past it so it never blocks the stream.
 * A line without its newline is a line still being written while its writer
 * lives, and a torn tail once the segment is finished. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bulwark/core.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ratelog.h"
#include "events/evspool-int.h"
#include "events/evspool.h"

#define WINDOW (BW_EVSPOOL_MAX_LINE * 4u)

struct bw_evspool_reader {
    char *dir, *name;
    bw_evspool_pos_t *pos; /* acknowledged offsets */
    size_t npos;
    uint64_t skipped;
    bw_ratelog_t rl;
    char *win; /* WINDOW bytes */
    int lock_fd; /* lock-NAME, held while the reader is open (-1: none) */
};

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

int bw_evspool_reader_open(const char *dir, const char *cursor, bw_evspool_reader_t **out,
                           bw_err_t *err)
{
    if (!name_ok(cursor))
        return bw_err_set(err, "events spool: cursor name '%.80s' is not [A-Za-z0-9_-]{1,64}",
                          cursor);
    if (mkdir(dir, 0750) && errno != EEXIST)
        return bw_err_set(err, "events spool: %s: %s", dir, strerror(errno));
    bw_evspool_reader_t *r = calloc(1, sizeof *r);
    if (r)
        r->lock_fd = -1;
    if (!r || !(r->dir = strdup(dir)) || !(r->name = strdup(cursor)) ||
        !(r->win = malloc(WINDOW))) {
        bw_evspool_reader_close(r);
        return bw_err_set(err, "events spool: out of memory");
    }
    char path[4096];
    /* One reader per cursor at a time: two processes reading the same
     * cursor would each deliver the same batch before either acknowledged
     * it (a stand-in pump beside bulwarkd's shipper did exactly that).  The
     * second is refused at once and says who holds it. */
    snprintf(path, sizeof path, "%s/lock-%s", dir, cursor);
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        bw_evspool_reader_close(r);
        return bw_err_set(err, "events spool: cursor %s: %s", cursor,
                          e == EWOULDBLOCK ? "in use by another reader (bulwarkd's shipper?)"
                                           : strerror(e));
    }
    snprintf(path, sizeof path, "%s/cursor-%s", dir, cursor);
    if (bw_evspool_cursor_load(path, &r->pos, &r->npos)) {
        int e = errno;
        bw_evspool_reader_close(r);
        return bw_err_set(err, "events spool: cursor %s is unreadable or malformed (%s); move "
                          "it away to read the spool from its start", path,
                          e ? strerror(e) : "bad format");
    }
    *out = r;
    return BW_OK;
}

void bw_evspool_reader_close(bw_evspool_reader_t *r)
{
    if (!r)
        return;
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    free(r->dir);
    free(r->name);
    free(r->pos);
    free(r->win);
    free(r);
}

uint64_t bw_evspool_skipped(const bw_evspool_reader_t *r)
{
    return r->skipped;
}

static void skip(bw_evspool_reader_t *r, const bw_evspool_seg_t *s, uint64_t off, size_t len,
                 const char *why)
{
    r->skipped++;
    uint64_t sup = 0;
    if (bw_ratelog_allow(&r->rl, bw_clock_ms(), 10000, &sup))
        bw_log(BW_LOG_WARN, "events: spool %s/seg-%" PRIu64 "-%" PRIu64 ".jsonl byte %" PRIu64
               ": %zu bytes skipped (%s; %" PRIu64 " skipped by reader %s so far)%s",
               r->dir, s->pid, s->n, off, len, why, r->skipped, r->name,
               sup ? " (similar messages suppressed)" : "");
}

/* Why the line is not an event, or NULL. */
static const char *line_bad(const char *p, size_t len)
{
    if (len == 0)
        return "empty line";
    if (len > BW_EVSPOOL_MAX_LINE)
        return "longer than the 64 KiB limit";
    if (memchr(p, '\0', len))
        return "NUL byte";
    json_error_t je;
    json_t *j = json_loadb(p, len, 0, &je);
    const char *why = NULL;
    if (!j)
        why = "not JSON";
    else if (!json_is_object(j))
        why = "not a JSON object";
    else if (!json_is_string(json_object_get(j, "id")))
        why = "no \"id\" string";
    json_decref(j);
    return why;
}

/* Finds the next '\n' at or after off; *at its offset.  0 found, 1 EOF. */
static int find_newline(int fd, uint64_t off, char *buf, uint64_t *at)
{
    ssize_t n;
    while ((n = pread(fd, buf, WINDOW, (off_t)off)) > 0) {
        char *nl = memchr(buf, '\n', (size_t)n);
        if (nl) {
            *at = off + (uint64_t)(nl - buf);
            return 0;
        }
        off += (uint64_t)n;
    }
    *at = off;
    return 1;
}

int bw_evspool_read(bw_evspool_reader_t *r, size_t max_events, size_t max_bytes, bw_buf_t *out,
                    size_t *n, bw_evspool_mark_t *mark, bw_err_t *err)
{
    bw_buf_reset(out);
    bw_buf_puts(out, "[");
    memset(mark, 0, sizeof *mark);
    *n = 0;
    bw_evspool_seg_t *segs;
    size_t nsegs;
    if (bw_evspool_list(r->dir, &segs, &nsegs))
        return bw_err_set(err, "events spool: %s: %s", r->dir, strerror(errno));
    bool full = false;
    for (size_t i = 0; i < nsegs && !full && mark->nseg < BW_EVSPOOL_MARK_SEGS; i++) {
        bw_evspool_seg_t *s = &segs[i];
        uint64_t off = bw_evspool_pos_find(r->pos, r->npos, s->pid, s->n), start = off;
        if (off >= s->size)
            continue;
        char path[4096];
        bw_evspool_segpath(path, sizeof path, r->dir, s->pid, s->n);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* dropped meanwhile */
        int finished = -1; /* asked only when a line has no newline */
        for (;;) {
            ssize_t got = pread(fd, r->win, WINDOW, (off_t)off);
            if (got <= 0)
                break;
            size_t used = 0;
            bool stop = false;
            while (used < (size_t)got) {
                char *p = r->win + used, *nl = memchr(p, '\n', (size_t)got - used);
                if (!nl)
                    break;
                size_t len = (size_t)(nl - p);
                const char *why = line_bad(p, len);
                if (why) {
                    skip(r, s, off, len, why);
                } else {
                    if (*n && (*n >= max_events || out->len + len + 2 > max_bytes)) {
                        stop = full = true;
                        break;
                    }
                    if (*n)
                        bw_buf_puts(out, ",");
                    bw_buf_append(out, p, len);
                    (*n)++;
                }
                used += len + 1;
                off += len + 1;
            }
            if (stop)
                break;
            if (used < (size_t)got) {
                /* The rest has no newline in the window. */
                size_t rest = (size_t)got - used;
                if (used > 0 && rest <= BW_EVSPOOL_MAX_LINE)
                    continue; /* read again from the line's start */
                uint64_t nl_at;
                int eof = find_newline(fd, off, r->win, &nl_at);
                if (!eof) {
                    skip(r, s, off, (size_t)(nl_at - off), "longer than the 64 KiB limit");
                    off = nl_at + 1;
                    continue;
                }
                if (finished < 0)
                    finished = bw_evspool_seg_finished(r->dir, s);
                if (finished && nl_at > off) {
                    skip(r, s, off, (size_t)(nl_at - off), "torn last line of a finished segment");
                    off = nl_at;
                }
                break;
            }
        }
        close(fd);
        if (off != start) {
            mark->seg[mark->nseg].pid = s->pid;
            mark->seg[mark->nseg].n = s->n;
            mark->seg[mark->nseg].off = off;
            mark->nseg++;
        }
    }
    free(segs);
    bw_buf_puts(out, "]");
    mark->events = *n;
    if (out->oom)
        return bw_err_set(err, "events spool: out of memory");
    return BW_OK;
}

/* ---- ack --------------------------------------------------------------------- */

static int set_pos(bw_evspool_reader_t *r, uint64_t pid, uint64_t sn, uint64_t off)
{
    for (size_t i = 0; i < r->npos; i++)
        if (r->pos[i].pid == pid && r->pos[i].n == sn) {
            if (off > r->pos[i].off)
                r->pos[i].off = off;
            return 0;
        }
    bw_evspool_pos_t *v = realloc(r->pos, (r->npos + 1) * sizeof *v);
    if (!v)
        return -1;
    r->pos = v;
    r->pos[r->npos++] = (bw_evspool_pos_t){pid, sn, off};
    return 0;
}

static int write_cursor(bw_evspool_reader_t *r, bw_err_t *err)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/cursor-%s", r->dir, r->name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "we");
    if (!f)
        return bw_err_set(err, "events spool: %s: %s", tmp, strerror(errno));
    bw_evspool_own(r->dir, fileno(f));
    fputs("bwcursor 1\n", f);
    for (size_t i = 0; i < r->npos; i++)
        fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", r->pos[i].pid, r->pos[i].n,
                r->pos[i].off);
    int bad = fflush(f) || fsync(fileno(f));
    int e = errno;
    if (fclose(f) || bad || rename(tmp, path)) {
        e = bad ? e : errno;
        unlink(tmp);
        return bw_err_set(err, "events spool: %s: %s", path, strerror(e));
    }
    int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself survives a power loss */
        close(dfd);
    }
    return BW_OK;
}

struct all_ctx {
    uint64_t pid, n, size;
    bool all_passed;
};
static void all_cb(const bw_evspool_pos_t *v, size_t n, void *ctx)
{
    struct all_ctx *a = ctx;
    if (bw_evspool_pos_find(v, n, a->pid, a->n) < a->size)
        a->all_passed = false;
}

int bw_evspool_ack(bw_evspool_reader_t *r, const bw_evspool_mark_t *mark, bw_err_t *err)
{
    for (size_t i = 0; i < mark->nseg && i < BW_EVSPOOL_MARK_SEGS; i++)
        if (set_pos(r, mark->seg[i].pid, mark->seg[i].n, mark->seg[i].off))
            return bw_err_set(err, "events spool: out of memory");
    bw_evspool_seg_t *segs;
    size_t nsegs;
    if (bw_evspool_list(r->dir, &segs, &nsegs))
        return bw_err_set(err, "events spool: %s: %s", r->dir, strerror(errno));
    /* Positions of segments that are gone are forgotten. */
    size_t k = 0;
    for (size_t i = 0; i < r->npos; i++) {
        bool there = false;
        for (size_t j = 0; j < nsegs && !there; j++)
            there = segs[j].pid == r->pos[i].pid && segs[j].n == r->pos[i].n;
        if (there)
            r->pos[k++] = r->pos[i];
    }
    r->npos = k;
    if (write_cursor(r, err)) {
        free(segs);
        return BW_ERR;
    }
    for (size_t j = 0; j < nsegs; j++) {
        bw_evspool_seg_t *s = &segs[j];
        if (bw_evspool_pos_find(r->pos, r->npos, s->pid, s->n) < s->size || s->size == 0)
            continue;
        if (!bw_evspool_seg_finished(r->dir, s))
            continue;
        struct all_ctx a = {s->pid, s->n, s->size, true};
        bw_evspool_each_cursor(r->dir, all_cb, &a);
        if (!a.all_passed)
            continue;
        char path[4096];
        bw_evspool_segpath(path, sizeof path, r->dir, s->pid, s->n);
        unlink(path);
    }
    free(segs);
    return BW_OK;
}

uint64_t bw_evspool_backlog(bw_evspool_reader_t *r)
{
    bw_evspool_seg_t *segs;
    size_t nsegs;
    if (bw_evspool_list(r->dir, &segs, &nsegs))
        return 0;
    uint64_t lines = 0;
    for (size_t i = 0; i < nsegs; i++) {
        uint64_t off = bw_evspool_pos_find(r->pos, r->npos, segs[i].pid, segs[i].n);
        if (off >= segs[i].size)
            continue;
        char path[4096];
        bw_evspool_segpath(path, sizeof path, r->dir, segs[i].pid, segs[i].n);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got;
        while ((got = pread(fd, r->win, WINDOW, (off_t)off)) > 0) {
            for (const char *p = r->win; (p = memchr(p, '\n', (size_t)(r->win + got - p))); p++)
                lines++;
            off += (uint64_t)got;
        }
        close(fd);
    }
    free(segs);
    return lines;
}
