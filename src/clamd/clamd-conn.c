/* SPDX-License-Identifier: Apache-2.0 */
/* One clamd connection: read, parse (clamd-parse.c), dispatch, write.
 *
 * The socket is watched with a uv_poll_t and read with recvmsg() directly,
 * not through uv_read: FILDES needs the SCM_RIGHTS descriptor that arrives
 * with one particular byte, which libuv's stream layer would take for a
 * handle to accept.  Replies are small and written with send() at once; the
 * rest, if the client reads slowly, goes out as the socket becomes writable.
 *
 * clamd's connection rules, kept here:
 *   - outside IDSESSION a connection carries one command, then closes after
 *     its reply (whatever else the client sent is ignored);
 *   - inside IDSESSION commands are pipelined, each reply carries its
 *     command's number ("3: stream: OK"), replies come in the order the
 *     scans end, and END closes once every reply is out;
 *   - INSTREAM chunks are fed to the scan as they arrive; a length past
 *     StreamMaxLength is answered at once and the connection closes;
 *   - CommandReadTimeout for the first command, ReadTimeout after it:
 *     "COMMAND READ TIMED OUT" and the connection closes.  A command is
 *     also bounded as a whole: the first must be complete CommandReadTimeout
 *     after the connection opened, a later one CommandReadTimeout after its
 *     first byte, so a client trickling a byte at a time cannot hold the
 *     connection (a slowloris) by keeping the idle timer from expiring;
 *   - replies a client does not read stop the reading (OUT_PENDING_MAX);
 *   - a command line longer than MaxCommandLength, or a read error, closes
 *     without a reply, and so does a client that disconnects mid-stream.
 *
 * Lifetime: a connection is freed when its two handles are closed and no
 * job of its own is in the thread pool.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "events/event.h"
#include "clamd/clamd-int.h"
#include "core/stats.h"

#define READ_CHUNK 65536
#define READ_ROUNDS 16
/* Replies waiting for a client that does not read them: past this many
 * bytes the connection is read no further (so no more commands run and no
 * more replies pile up) until the client has taken them.  An IDSESSION
 * client that pipelined millions of zPING without reading grew a worker by
 * a megabyte a second before this bound. */
#define OUT_PENDING_MAX (64u * 1024u)

static void update_poll(conn_t *c);
static void arm_timer(conn_t *c);
static int wants_read(const conn_t *c);
static void process(conn_t *c, int eop);
static void maybe_finish(conn_t *c);

/* ---- lifetime -------------------------------------------------------------- */

static void conn_free_if_done(conn_t *c)
{
    if (c->handles || c->jobs)
        return;
    server_t *s = c->s;
    if (c->fd >= 0)
        close(c->fd);
    if (c->recv_fd >= 0)
        close(c->recv_fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (s->env.stats)
        bw_stats_slot_conns(s->env.stats, -1);
    free(c->in);
    bw_buf_free(&c->out);
    free(c);
    bw_clamd_server_check_full(s);
    bw_clamd_server_unref(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->handles--;
    conn_free_if_done(c);
}

void bw_clamd_conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->stream) {
        /* a stream cut short: no verdict, no reply */
        job_t *j = c->stream;
        c->stream = NULL;
        if (j->prev)
            j->prev->next = j->next;
        else
            c->job_list = j->next;
        if (j->next)
            j->next->prev = j->prev;
        c->jobs--;
        bw_clamd_job_free(j);
    }
    /* Unread input would make close() send a reset that can overtake the
     * reply already on its way: read it away first. */
    char sink[4096];
    for (int i = 0; i < 64 && recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        ;
    uv_poll_stop(&c->poll);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* ---- output ---------------------------------------------------------------- */

static void flush(conn_t *c)
{
    while (!c->closing && c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        bw_clamd_conn_close(c); /* the client went away */
        return;
    }
    if (c->out_off == c->out.len) {
        bw_buf_reset(&c->out);
        c->out_off = 0;
    }
}

void bw_clamd_conn_send(conn_t *c, const char *p, size_t n)
{
    if (c->closing || !n)
        return;
    int pending = c->out_off < c->out.len;
    bw_buf_append(&c->out, p, n);
    if (c->out.oom) {
        bw_clamd_conn_close(c);
        return;
    }
    if (!pending)
        flush(c); /* else the socket is full: the poll sends when it is writable */
}

/* Appends a reply line built with bw_clamd_put and sends it. */
#define REPLY(c, id, term, ...)                                 \
    do {                                                        \
        bw_buf_t rb_ = {0};                                     \
        bw_clamd_put(&rb_, (id), (term), __VA_ARGS__);          \
        bw_clamd_conn_send((c), rb_.p, rb_.len);                \
        bw_buf_free(&rb_);                                      \
    } while (0)

static void maybe_finish(conn_t *c)
{
    if (!c->closing && c->state == CS_STOP && c->jobs == 0 && c->out_off == c->out.len)
        bw_clamd_conn_close(c);
}

/* ---- timers and polling ------------------------------------------------------ */

static void on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->closing)
        return;
    if (c->state == CS_STOP) {
        bw_clamd_conn_close(c); /* a client that does not read its replies */
        return;
    }
    c->state = CS_STOP;
    /* clamd writes this one with '\n' whatever the command's form */
    bw_clamd_conn_send(c, "COMMAND READ TIMED OUT\n", 23);
    if (c->stream && !c->closing) {
        job_t *j = c->stream; /* no verdict for a stream cut short */
        c->stream = NULL;
        bw_clamd_conn_job_done(c, j);
        if (c->closing)
            return;
    }
    maybe_finish(c);
    update_poll(c);
    arm_timer(c);
}

static void arm_timer(conn_t *c)
{
    if (c->closing)
        return;
    const bw_clamd_conf_t *cc = c->s->env.cc;
    uint64_t ms;
    /* The loop's clock is read when an iteration starts, and one iteration
     * can run a long pipeline of commands: a deadline counted from that
     * stale time would expire early. */
    uv_update_time(c->s->loop);
    uint64_t now = uv_now(c->s->loop);
    if (c->state == CS_CMD && wants_read(c) && (!c->got_command || c->in_len)) {
        /* A deadline for the whole command, not an idle time. */
        if (!c->cmd_start)
            c->cmd_start = now;
        uint64_t end = (c->got_command ? c->cmd_start : c->t_accept) + cc->command_timeout_ms;
        ms = end > now ? end - now : 1;
    } else if (c->out_off < c->out.len)
        ms = cc->read_timeout_ms;           /* the client must read */
    else if (c->state == CS_STOP)
        ms = 0;                             /* our scans take what they take */
    else if (c->state == CS_CMD && c->session && c->jobs)
        ms = 0;                             /* a session waiting for its replies */
    else if (c->state == CS_CMD && !c->got_command)
        ms = cc->command_timeout_ms;
    else
        ms = cc->read_timeout_ms;
    if (ms)
        uv_timer_start(&c->timer, on_timeout, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_poll(uv_poll_t *h, int status, int events);

static int wants_read(const conn_t *c)
{
    if (c->eof || c->state == CS_STOP)
        return 0;
    if (c->out.len - c->out_off > OUT_PENDING_MAX)
        return 0; /* back-pressure: the client reads its replies first */
    if (c->state == CS_CMD && c->session && c->jobs >= c->s->env.cc->max_session_jobs)
        return 0; /* back-pressure: resumes when a job ends */
    return 1;
}

static void update_poll(conn_t *c)
{
    if (c->closing)
        return;
    int ev = (wants_read(c) ? UV_READABLE : 0) | (c->out_off < c->out.len ? UV_WRITABLE : 0);
    if (ev == c->events)
        return;
    c->events = ev;
    if (ev)
        uv_poll_start(&c->poll, ev, on_poll);
    else
        uv_poll_stop(&c->poll);
}

/* ---- input ------------------------------------------------------------------- */

static void consume(conn_t *c, size_t n)
{
    if (n >= c->in_len) {
        c->in_len = 0;
        return;
    }
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

static int allowed_here(const conn_t *c, int setting)
{
    return setting == BW_CLAMD_CMD_ON || (setting == BW_CLAMD_CMD_LOCAL && c->is_unix);
}

static int valid_in_session(bw_clamd_cmd_t cmd)
{
    switch (cmd) {
    case BW_CLAMD_FILDES: case BW_CLAMD_SCAN: case BW_CLAMD_END: case BW_CLAMD_INSTREAM:
    case BW_CLAMD_VERSION: case BW_CLAMD_PING: case BW_CLAMD_STATS:
    case BW_CLAMD_VERSIONCOMMANDS:
        return 1;
    default:
        return 0;
    }
}

static void start_stream(conn_t *c, unsigned id, char term)
{
    server_t *s = c->s;
    job_t *j = bw_clamd_job_new(c, JOB_STREAM, BW_CLAMD_INSTREAM, id, term);
    if (j)
        j->scan = bw_scan_begin(s->env.engine, &s->lim, "stream");
    if (!j || !j->scan) {
        if (j) {
            bw_clamd_put(&j->reply, id, term, "Error processing command. ERROR");
            c->state = CS_STOP;
            bw_clamd_conn_job_done(c, j);
        } else {
            REPLY(c, id, term, "Error processing command. ERROR");
            c->state = CS_STOP;
        }
        return;
    }
    bw_clamd_stream_init(&c->chunks, s->env.cc->stream_max);
    c->stream = j;
    c->state = CS_STREAM;
}

static void start_path(conn_t *c, const bw_clamd_req_t *req, unsigned id)
{
    const bw_clamd_conf_t *cc = c->s->env.cc;
    char *path = strndup(req->arg, req->arg_len);
    if (!path) {
        REPLY(c, id, req->term, "Error processing command. ERROR");
        return;
    }
    if (req->cmd == BW_CLAMD_ALLMATCHSCAN && !cc->allow_allmatch) {
        REPLY(c, id, req->term, "%s: ALLMATCHSCAN command disabled by clamd configuration. ERROR",
              path);
        free(path);
        return;
    }
    job_t *j = bw_clamd_job_new(c, JOB_PATH, req->cmd, id, req->term);
    if (!j) {
        free(path);
        REPLY(c, id, req->term, "Error processing command. ERROR");
        return;
    }
    j->path = path;
    bw_clamd_job_queue(j);
}

static void command(conn_t *c, const bw_clamd_req_t *req)
{
    server_t *s = c->s;
    unsigned id = c->session ? c->next_id : 0;
    if (c->session && req->style == BW_CLAMD_BARE) {
        REPLY(c, id, c->term, "Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR");
        REPLY(c, id, c->term, "Error processing command. ERROR");
        c->state = CS_STOP;
        return;
    }
    char term = req->term;
    c->term = term;
    c->got_command = 1;
    if (c->session && !valid_in_session(req->cmd)) {
        REPLY(c, id, term, "Command invalid inside IDSESSION. ERROR");
        c->state = CS_STOP;
        return;
    }
    if (c->session)
        c->next_id++;
    const bw_clamd_conf_t *cc = s->env.cc;
    switch (req->cmd) {
    case BW_CLAMD_PING:
        REPLY(c, id, term, "PONG");
        break;
    case BW_CLAMD_VERSION:
        REPLY(c, id, term, "%s", s->version);
        break;
    case BW_CLAMD_VERSIONCOMMANDS: {
        char list[400] = "";
        for (int k = BW_CLAMD_SCAN; k < BW_CLAMD_CMD_COUNT; k++) {
            strcat(list, " ");
            strcat(list, bw_clamd_cmd_name((bw_clamd_cmd_t)k));
        }
        REPLY(c, id, term, "%s| COMMANDS:%s", s->version, list);
        break;
    }
    case BW_CLAMD_STATS: {
        bw_buf_t b = {0};
        bw_clamd_put_stats(&b, s, id, term);
        bw_clamd_conn_send(c, b.p, b.len);
        bw_buf_free(&b);
        break;
    }
    case BW_CLAMD_RELOAD:
        if (!allowed_here(c, cc->enable_reload)) {
            REPLY(c, 0, term, "RELOAD command disabled by clamd configuration. ERROR");
        } else {
            bw_clamd_log(s, 6, "RELOAD from %s", c->peer);
            if (s->env.request_reload)
                s->env.request_reload();
            REPLY(c, 0, term, "RELOADING");
        }
        break;
    case BW_CLAMD_SHUTDOWN:
    case BW_CLAMD_QUIT:
        if (!allowed_here(c, cc->enable_shutdown)) {
            REPLY(c, 0, term, "%s command disabled by clamd configuration. ERROR",
                  bw_clamd_cmd_name(req->cmd));
        } else {
            bw_clamd_log(s, 6, "%s from %s", bw_clamd_cmd_name(req->cmd), c->peer);
            if (s->env.request_shutdown)
                s->env.request_shutdown();
        }
        break;
    case BW_CLAMD_DETSTATS:
    case BW_CLAMD_DETSTATSCLEAR:
        break; /* removed from clamd: it closes without a word */
    case BW_CLAMD_END:
        if (!c->session)
            REPLY(c, 0, term, "UNKNOWN COMMAND");
        c->state = CS_STOP;
        return;
    case BW_CLAMD_IDSESSION:
        c->session = 1;
        c->next_id = 1;
        return;
    case BW_CLAMD_INSTREAM:
        start_stream(c, id, term);
        return;
    case BW_CLAMD_FILDES:
        c->fd_id = id;
        c->fd_term = term;
        c->state = CS_FD;
        return;
    case BW_CLAMD_SCAN:
    case BW_CLAMD_CONTSCAN:
    case BW_CLAMD_MULTISCAN:
    case BW_CLAMD_ALLMATCHSCAN:
        start_path(c, req, id);
        break;
    default:
        REPLY(c, 0, term, "UNKNOWN COMMAND");
        c->state = CS_STOP;
        return;
    }
    if (!c->session)
        c->state = CS_STOP;
}

/* INSTREAM: takes every chunk byte in the buffer into the scan. */
static void feed_stream(conn_t *c)
{
    size_t off = 0;
    while (c->state == CS_STREAM && off < c->in_len) {
        job_t *j = c->stream;
        size_t used = 0, n = 0;
        const char *data = NULL;
        bw_clamd_chunk_ev_t ev =
            bw_clamd_stream_feed(&c->chunks, c->in + off, c->in_len - off, &used, &data, &n);
        off += used;
        if (ev == BW_CHUNK_BYTES) {
            j->bytes += n;
            if (j->scan && !j->found) {
                int r = bw_scan_feed(j->scan, data, n);
                if (r != BW_OK)
                    j->found = 1; /* decided (or failed): the rest is read, not scanned */
            }
        } else if (ev == BW_CHUNK_LAST) {
            c->stream = NULL;
            c->state = c->session ? CS_CMD : CS_STOP;
            bw_clamd_job_queue(j);
        } else if (ev == BW_CHUNK_OVER) {
            c->stream = NULL;
            c->state = CS_STOP;
            bw_clamd_log(c->s, 4, "INSTREAM from %s: size limit %llu exceeded", c->peer,
                         (unsigned long long)c->chunks.limit);
            bw_clamd_put(&j->reply, j->id, j->term, "INSTREAM size limit exceeded. ERROR");
            bw_clamd_conn_job_done(c, j);
            if (c->closing)
                return;
        } else {
            break;
        }
    }
    consume(c, off);
}

static void take_fd(conn_t *c)
{
    consume(c, 1); /* the byte that carried the descriptor */
    int fd = c->recv_fd;
    c->recv_fd = -1;
    if (fd < 0) {
        REPLY(c, c->fd_id, c->fd_term, "No file descriptor received. ERROR");
        c->state = CS_STOP;
        return;
    }
    c->state = c->session ? CS_CMD : CS_STOP;
    job_t *j = bw_clamd_job_new(c, JOB_FILDES, BW_CLAMD_FILDES, c->fd_id, c->fd_term);
    if (!j) {
        close(fd);
        REPLY(c, c->fd_id, c->fd_term, "Error processing command. ERROR");
        c->state = CS_STOP;
        return;
    }
    j->fd = fd;
    bw_clamd_job_queue(j);
}

static void process_buffer(conn_t *c, int eop);

/* A descriptor arrives with the byte after its FILDES; once every buffered
 * command has run, one nobody claimed is a protocol error (as in clamd). */
static void process(conn_t *c, int eop)
{
    process_buffer(c, eop);
    if (!c->closing && c->recv_fd >= 0 && c->state != CS_FD && c->in_len == 0) {
        close(c->recv_fd);
        c->recv_fd = -1;
        REPLY(c, c->session ? c->next_id : 0, c->term,
              "PROTOCOL ERROR: ancillary data sent without FILDES. ERROR");
        c->state = CS_STOP;
        c->in_len = 0;
    }
}

static void process_buffer(conn_t *c, int eop)
{
    const bw_clamd_conf_t *cc = c->s->env.cc;
    while (!c->closing) {
        switch (c->state) {
        case CS_CMD: {
            if (c->drain) {
                c->state = CS_STOP;
                continue;
            }
            if (!c->in_len || !wants_read(c)) {
                if (c->in_len)
                    c->cmd_start = 0; /* held back by us: its clock starts when we read again */
                return;
            }
            bw_clamd_req_t req;
            int r = bw_clamd_parse_cmd(c->in, c->in_len, eop, (size_t)cc->max_line, &req);
            if (r == BW_AGAIN)
                return;
            if (r == BW_ERR) {
                bw_clamd_log(c->s, 4, "%s: command longer than %llu bytes", c->peer,
                             (unsigned long long)cc->max_line);
                bw_clamd_conn_close(c);
                return;
            }
            command(c, &req); /* req's slices point into c->in: consume after */
            if (!c->closing)
                consume(c, (size_t)r);
            c->cmd_start = 0; /* the next command's clock starts now */
            break;
        }
        case CS_STREAM:
            if (!c->in_len)
                return;
            feed_stream(c);
            if (c->state == CS_STREAM)
                return;
            break;
        case CS_FD:
            if (!c->in_len)
                return;
            take_fd(c);
            break;
        case CS_STOP:
            c->in_len = 0; /* clamd ignores what follows the last command */
            return;
        }
    }
}

static void on_eof(conn_t *c)
{
    c->eof = 1;
    if (c->state == CS_STREAM || c->state == CS_FD) {
        bw_clamd_conn_close(c); /* cut short: clamd closes without a reply */
        return;
    }
    if (c->state == CS_CMD)
        c->state = CS_STOP;
}

/* Reads what the socket has, with any descriptor passed along (unix). */
static void do_read(conn_t *c)
{
    for (int round = 0; round < READ_ROUNDS && !c->closing && wants_read(c); round++) {
        if (c->in_cap - c->in_len < READ_CHUNK / 4) {
            size_t want = c->in_len + READ_CHUNK;
            char *np = realloc(c->in, want);
            if (!np) {
                bw_clamd_conn_close(c);
                return;
            }
            c->in = np;
            c->in_cap = want;
        }
        struct iovec iov = {c->in + c->in_len, c->in_cap - c->in_len};
        union {
            char buf[CMSG_SPACE(sizeof(int) * 8)];
            struct cmsghdr align;
        } ctl;
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (c->is_unix) {
            msg.msg_control = ctl.buf;
            msg.msg_controllen = sizeof ctl.buf;
        }
        ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | (c->is_unix ? MSG_CMSG_CLOEXEC : 0));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                bw_clamd_conn_close(c);
            return;
        }
        if (c->is_unix) {
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                    continue;
                size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t k = 0; k < nfd; k++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof fd);
                    if (c->recv_fd >= 0)
                        close(c->recv_fd); /* clamd keeps the last one too */
                    c->recv_fd = fd;
                }
            }
            if (msg.msg_flags & MSG_CTRUNC) {
                bw_clamd_log(c->s, 4, "%s: control message truncated", c->peer);
                bw_clamd_conn_close(c);
                return;
            }
        }
        if (n == 0) {
            on_eof(c);
            return;
        }
        c->in_len += (size_t)n;
        process(c, 1);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    conn_t *c = h->data;
    if (status < 0) {
        bw_clamd_conn_close(c);
        return;
    }
    if (events & UV_WRITABLE) {
        flush(c);
        if (!c->closing && c->in_len && c->state == CS_CMD && wants_read(c))
            process(c, 0); /* commands held back until the client read its replies */
    }
    if ((events & UV_READABLE) && !c->closing)
        do_read(c);
    maybe_finish(c);
    update_poll(c);
    arm_timer(c);
}

/* ---- jobs ending ----------------------------------------------------------------- */

/* Logs each FOUND line of a reply (from the loop: the log callback need not
 * be thread-safe). */
static void log_found(conn_t *c, const bw_buf_t *b)
{
    if (!c->s->env.log || !b->len)
        return;
    const char *p = b->p, *end = b->p + b->len;
    while (p < end) {
        const char *e = p;
        while (e < end && *e != '\n' && *e != '\0')
            e++;
        size_t n = (size_t)(e - p);
        if (n > 6 && !memcmp(e - 6, " FOUND", 6))
            bw_clamd_log(c->s, 6, "%s: %.*s", c->peer, (int)n, p);
        p = e + 1;
    }
}

/* A `detection` event per FOUND line (docs/events.md): the path (or
 * "stream"), the threat and the client.  The reply is what the client got,
 * so the event says exactly that; "id: " of IDSESSION is taken off. */
static void emit_found(conn_t *c, const bw_buf_t *b, unsigned id)
{
    if (!bw_event_enabled() || !b->len)
        return;
    const char *p = b->p, *end = b->p + b->len;
    while (p < end) {
        const char *e = p;
        while (e < end && *e != '\n' && *e != '\0')
            e++;
        size_t n = (size_t)(e - p);
        const char *line = p;
        p = e + 1;
        if (n <= 6 || memcmp(e - 6, " FOUND", 6))
            continue;
        char buf[4200];
        snprintf(buf, sizeof buf, "%.*s", (int)(n - 6), line);
        char *s = buf;
        if (id) {
            char pre[16];
            int k = snprintf(pre, sizeof pre, "%u: ", id);
            if (!strncmp(s, pre, (size_t)k))
                s += k;
        }
        char *sep = strstr(s, ": "), *next;
        while (sep && (next = strstr(sep + 2, ": ")))
            sep = next; /* the last ": " (a path may hold one) */
        if (!sep)
            continue;
        *sep = '\0';
        json_t *ev = bw_event_new("clamd", "detection", BW_SEV_HIGH);
        bw_event_set_str(ev, "verdict", "FOUND");
        bw_event_set_str(ev, "action", "report");
        bw_event_add_str(ev, "threats", sep + 2);
        json_t *o = bw_event_sub(ev, "object");
        bw_event_set_str(o, "path", s);
        bw_event_set_str(bw_event_sub(ev, "client"), "ip", c->peer);
        bw_event_emit(ev);
    }
}

void bw_clamd_conn_job_done(conn_t *c, job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else if (c->job_list == j)
        c->job_list = j->next;
    if (j->next)
        j->next->prev = j->prev;
    c->jobs--;
    if (!c->closing && j->reply.len) {
        log_found(c, &j->reply);
        emit_found(c, &j->reply, j->id);
        if (j->reply.oom)
            REPLY(c, j->id, j->term, "Error processing command. ERROR");
        else
            bw_clamd_conn_send(c, j->reply.p, j->reply.len);
    }
    bw_clamd_job_free(j);
    if (c->closing) {
        conn_free_if_done(c);
        return;
    }
    process(c, 0); /* a session may have commands waiting for a free slot */
    maybe_finish(c);
    update_poll(c);
    arm_timer(c);
}

/* ---- accept and drain ------------------------------------------------------------- */

void bw_clamd_conn_accept(server_t *s, int fd, int is_unix)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->s = s;
    c->fd = fd;
    c->is_unix = is_unix;
    c->recv_fd = -1;
    c->term = '\n';
    c->state = CS_CMD;
    c->t_accept = uv_now(s->loop);
    if (uv_poll_init_socket(s->loop, &c->poll, fd) != 0) {
        close(fd);
        free(c);
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->poll.data = c->timer.data = c;
    c->handles = 2;
    s->refs++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (s->env.stats) {
        bw_stats_slot_add(s->env.stats, BW_ST_CONNECTIONS, 1);
        bw_stats_slot_conns(s->env.stats, +1);
    }
    if (is_unix) {
        snprintf(c->peer, sizeof c->peer, "local");
    } else {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
                port = ntohs(in->sin_port);
            } else if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
                port = ntohs(in6->sin6_port);
            }
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    update_poll(c);
    arm_timer(c);
}

void bw_clamd_conn_drain(conn_t *c)
{
    if (c->closing)
        return;
    c->drain = 1;
    if (c->state == CS_CMD && c->jobs == 0) {
        bw_clamd_conn_close(c); /* idle, or a command not yet complete */
        return;
    }
    if (c->state == CS_CMD)
        c->state = CS_STOP; /* a session: no more commands, the running ones finish */
    maybe_finish(c);
    update_poll(c);
    arm_timer(c);
}
