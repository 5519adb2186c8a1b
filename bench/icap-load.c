/* SPDX-License-Identifier: Apache-2.0 */
/*
 * icap-load: a small ICAP (RFC 3507) RESPMOD load generator for benchmarking
 * ICAP anti-virus services (bulwarkd, c-icap + virus_scan) on loopback.
 *
 * Design decisions:
 * - One thread per keep-alive connection, each driving a non-blocking socket
 *   with poll(). Threads keep the code straightforward and the latency of one
 *   request is measured by the thread that owns it; poll() lets the thread
 *   read while it writes, so a server that answers (or echoes) before the
 *   request body is complete cannot deadlock it.
 * - The request bytes are built once per object (clean and marker) and shared
 *   read-only by all threads; each request is sent with writev() as
 *   [head][16-byte stamp][rest]. The stamp (request number) makes every body
 *   distinct, because libclamav and possibly other engines cache verdicts of
 *   identical objects by hash, which would measure a cache instead of a scan.
 *   --same-body turns the stamp off.
 * - Every response is parsed fully (ICAP status line and headers,
 *   Encapsulated, the encapsulated HTTP headers, the chunked body), so that
 *   keep-alive framing is verified on every request, and its outcome is
 *   checked: a marker object must come back as 200 + encapsulated HTTP 403,
 *   a clean one as 204 or as a 200 echo of exactly the bytes sent. Anything
 *   else is an error, and the exit status is 1 when there is any error.
 * - Every loop is bounded: by the byte counts of the buffers, by a per-request
 *   timeout, and by --requests or --duration.
 *
 * Build: cc -O2 -pthread -o icap-load icap-load.c   (see bench/Makefile)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define STAMP_LEN 16
#define RBUF_SIZE (256 * 1024)
#define MAX_HDR (64 * 1024) /* ICAP or encapsulated header block limit */

/* ---- options ---------------------------------------------------------- */

static struct {
    const char *host, *port, *service;
    int conns;
    long requests;  /* 0: use duration */
    double duration, warmup, timeout;
    size_t size;
    const char *file, *marker_file, *marker_hex;
    long preview;   /* -1: no preview */
    int allow204, same_body, json, verbose, cut_ok;
    long marker_every;
    size_t chunk;
    uint64_t seed;
} opt = {
    .host = "127.0.0.1", .port = "1344", .service = "avscan", .conns = 8,
    .duration = 10, .timeout = 60, .size = 15 * 1024, .preview = -1,
    .chunk = 65536, .seed = 1,
};

/* ---- shared request templates ----------------------------------------- */

/* One object as the bytes of a complete RESPMOD request. part1 is everything
 * sent first (head, preview or whole body, terminator); part2 is what is sent
 * after a 100 Continue (empty without preview). stamp_off is where, in part1,
 * the first body byte is. */
typedef struct {
    const unsigned char *body;
    size_t size;
    char *part1, *part2;
    size_t len1, len2, stamp_off;
    int ieof; /* whole body fit in the preview */
} obj_t;

static obj_t clean_obj, marker_obj;

/* ---- per-thread results ----------------------------------------------- */

enum { E_CONNECT, E_TIMEOUT, E_EOF, E_IO, E_PROTO, E_STATUS, E_MISSED, E_FALSEBLOCK,
       E_ECHO, E_NKIND };
static const char *const ekind_name[E_NKIND] = {
    "connect", "timeout", "eof", "io", "protocol", "status", "missed_marker",
    "false_block", "echo_mismatch",
};

typedef struct {
    pthread_t tid;
    int idx;
    double *lat; /* ms */
    size_t nlat, caplat;
    long errors[E_NKIND];
    long st100, st200, st204, st_other;
    long blocked, cut, markers, reconnects, retried;
    uint64_t body_bytes;
} worker_t;

static atomic_long seq;          /* request numbers, for stamps and markers */
static atomic_long tickets;      /* --requests mode */
static atomic_int stop_flag, measuring;
static atomic_int err_printed;
static unsigned stamp_nonce;     /* differs per invocation: see the stamp */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("icap-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* Print the first few errors in detail; later ones are only counted. */
static void report_err(worker_t *w, int kind, const char *fmt, ...)
{
    w->errors[kind]++;
    if (atomic_fetch_add(&err_printed, 1) >= (opt.verbose ? 50 : 5))
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "icap-load: conn %d: %s: ", w->idx, ekind_name[kind]);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- object and request construction ----------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        die("%s: not a regular file", path);
    unsigned char *p = malloc((size_t)st.st_size + 1);
    if (!p || fread(p, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        die("%s: read failed", path);
    fclose(f);
    *len = (size_t)st.st_size;
    return p;
}

/* Append to a growing string buffer. */
typedef struct { char *p; size_t len, cap; } sbuf_t;

static void sb_add(sbuf_t *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        die("header too long");
    sb_add(b, tmp, (size_t)n);
}

/* Body bytes [from, to) as chunks of at most opt.chunk bytes. *first, if
 * still 0, gets the offset in b of the first data byte of the first chunk
 * when that chunk can hold a stamp. */
static void sb_chunks(sbuf_t *b, const unsigned char *body, size_t from, size_t to,
                      size_t *first)
{
    while (from < to) {
        size_t n = to - from < opt.chunk ? to - from : opt.chunk;
        sb_printf(b, "%zx\r\n", n);
        if (first && !*first && from == 0 && n >= STAMP_LEN)
            *first = b->len;
        sb_add(b, body + from, n);
        sb_add(b, "\r\n", 2);
        from += n;
    }
}

static void build_obj(obj_t *o, const unsigned char *body, size_t size, const char *name)
{
    sbuf_t req = {0}, hdr = {0}, s2 = {0};
    o->body = body;
    o->size = size;
    /* The encapsulated HTTP request and response headers: the server sees
     * a URL and a Content-Length, as from a proxy. */
    sb_printf(&hdr, "GET http://bench.invalid/%s HTTP/1.1\r\nHost: bench.invalid\r\n\r\n", name);
    size_t reqhdr_len = hdr.len;
    sb_printf(&hdr, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    "Content-Length: %zu\r\n\r\n", size);
    sb_printf(&req, "RESPMOD icap://%s:%s/%s ICAP/1.0\r\nHost: %s:%s\r\n",
              opt.host, opt.port, opt.service, opt.host, opt.port);
    if (opt.allow204)
        sb_printf(&req, "Allow: 204\r\n");
    if (opt.preview >= 0)
        sb_printf(&req, "Preview: %ld\r\n", opt.preview);
    sb_printf(&req, "Encapsulated: req-hdr=0, res-hdr=%zu, res-body=%zu\r\n\r\n",
              reqhdr_len, hdr.len);
    sb_add(&req, hdr.p, hdr.len);
    size_t pv = size;
    if (opt.preview >= 0 && (size_t)opt.preview < size)
        pv = (size_t)opt.preview;
    o->ieof = opt.preview >= 0 && pv == size;
    /* The stamp goes into the first chunk of part1; a body too small for it,
     * or a zero-byte preview, is sent unstamped. */
    o->stamp_off = 0;
    if (opt.preview >= 0) {
        sb_chunks(&req, body, 0, pv, &o->stamp_off);
        sb_printf(&req, o->ieof ? "0; ieof\r\n\r\n" : "0\r\n\r\n");
        if (!o->ieof) {
            sb_chunks(&s2, body, pv, size, NULL);
            sb_printf(&s2, "0\r\n\r\n");
        }
    } else {
        sb_chunks(&req, body, 0, size, &o->stamp_off);
        sb_printf(&req, "0\r\n\r\n");
    }
    if (opt.same_body)
        o->stamp_off = 0;
    o->part1 = req.p;
    o->len1 = req.len;
    o->part2 = s2.p;
    o->len2 = s2.len;
    free(hdr.p);
}

/* ---- response parser ---------------------------------------------------- */

enum { P_ICAP_HDR, P_ENC_HDR, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER };
enum { R_MORE, R_CONTINUE, R_DONE, R_ERR };

typedef struct {
    int state;
    int status, http_status, conn_close, has_body;
    int n100;               /* 100 Continue seen (kept across resp_reset) */
    size_t enc_len;         /* bytes of encapsulated headers to read */
    size_t chunk_left;
    uint64_t body_bytes;
    int echo_ok;
    const obj_t *obj;       /* what was sent, for the echo comparison */
    const unsigned char *stamp;
    int stamped;
    char why[160];
    int lost_kind;          /* E_EOF or E_IO when the connection was lost */
    int got_bytes;          /* any byte of an answer arrived */
} resp_t;

static void resp_reset(resp_t *r)
{
    r->state = P_ICAP_HDR;
    r->status = r->http_status = r->conn_close = r->has_body = 0;
    r->enc_len = r->chunk_left = 0;
    r->body_bytes = 0;
    r->echo_ok = 1;
    r->why[0] = 0;
}

static const char *memfind(const char *p, size_t n, const char *needle)
{
    return memmem(p, n, needle, strlen(needle));
}

/* Value of header `name` within the header block [p, p+n), or NULL. */
static const char *hdr_value(const char *p, size_t n, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *end = p + n;
    const char *line = memfind(p, n, "\r\n"); /* skip the status line */
    while (line && line + 2 < end) {
        line += 2;
        const char *eol = memfind(line, (size_t)(end - line), "\r\n");
        if (!eol)
            break;
        if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

/* Parses `ICAP/1.0 NNN`; sets has_body/enc_len from Encapsulated. */
static int parse_icap_head(resp_t *r, const char *p, size_t n)
{
    if (n < 12 || memcmp(p, "ICAP/1.", 7) != 0 || p[8] != ' ')
        return snprintf(r->why, sizeof r->why, "bad status line at offset 0"), -1;
    r->status = atoi(p + 9);
    size_t vl;
    const char *v = hdr_value(p, n, "Connection", &vl);
    if (v && vl >= 5 && strncasecmp(v, "close", 5) == 0)
        r->conn_close = 1;
    v = hdr_value(p, n, "Encapsulated", &vl);
    r->enc_len = 0;
    r->has_body = 0;
    if (!v) {
        if (r->status == 200)
            return snprintf(r->why, sizeof r->why, "200 without Encapsulated"), -1;
        return 0;
    }
    /* The last entry gives the length of the encapsulated headers; its name
     * says whether a chunked body follows. */
    char buf[256];
    if (vl >= sizeof buf)
        return snprintf(r->why, sizeof r->why, "Encapsulated too long"), -1;
    memcpy(buf, v, vl);
    buf[vl] = 0;
    char *save = NULL, *last_name = NULL;
    long last_off = -1;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *eq = strchr(tok, '=');
        if (!eq)
            return snprintf(r->why, sizeof r->why, "bad Encapsulated entry '%s'", tok), -1;
        *eq = 0;
        long off = strtol(eq + 1, NULL, 10);
        if (off < last_off || off > MAX_HDR)
            return snprintf(r->why, sizeof r->why, "bad Encapsulated offset %ld", off), -1;
        last_off = off;
        last_name = tok;
    }
    if (!last_name)
        return snprintf(r->why, sizeof r->why, "empty Encapsulated"), -1;
    r->enc_len = (size_t)last_off;
    r->has_body = strcmp(last_name, "null-body") != 0;
    return 0;
}

/* Consume what is in [*pp, end) for the current response. */
static int resp_feed(resp_t *r, const char **pp, const char *end)
{
    const char *p = *pp;
    int ret = R_MORE;
    for (;;) {
        size_t avail = (size_t)(end - p);
        if (r->state == P_ICAP_HDR) {
            const char *e = memfind(p, avail, "\r\n\r\n");
            if (!e) {
                if (avail > MAX_HDR)
                    ret = R_ERR, snprintf(r->why, sizeof r->why, "ICAP header over %d bytes", MAX_HDR);
                break;
            }
            size_t hl = (size_t)(e - p) + 4;
            if (parse_icap_head(r, p, hl) != 0) {
                ret = R_ERR;
                break;
            }
            p += hl;
            if (r->status == 100) {
                ret = R_CONTINUE;
                break;
            }
            r->state = P_ENC_HDR;
        } else if (r->state == P_ENC_HDR) {
            if (avail < r->enc_len)
                break;
            if (r->enc_len >= 12 && memcmp(p, "HTTP/", 5) == 0) {
                const char *sp = memchr(p, ' ', r->enc_len);
                if (sp)
                    r->http_status = atoi(sp + 1);
            }
            p += r->enc_len;
            if (!r->has_body) {
                ret = R_DONE;
                break;
            }
            r->state = P_CHUNK_SIZE;
        } else if (r->state == P_CHUNK_SIZE || r->state == P_TRAILER) {
            const char *e = memfind(p, avail, "\r\n");
            if (!e) {
                if (avail > 4096)
                    ret = R_ERR, snprintf(r->why, sizeof r->why, "chunk line over 4096 bytes");
                break;
            }
            if (r->state == P_TRAILER) {
                int blank = e == p;
                p = e + 2;
                if (blank) {
                    ret = R_DONE;
                    break;
                }
                continue;
            }
            char *hend;
            unsigned long long n = strtoull(p, &hend, 16);
            if (hend == p || n > (1ULL << 40)) {
                ret = R_ERR;
                snprintf(r->why, sizeof r->why, "bad chunk size at body byte %llu",
                         (unsigned long long)r->body_bytes);
                break;
            }
            p = e + 2;
            if (n == 0) {
                r->state = P_TRAILER;
            } else {
                r->chunk_left = (size_t)n;
                r->state = P_CHUNK_DATA;
            }
        } else if (r->state == P_CHUNK_DATA) {
            if (!avail)
                break;
            size_t n = avail < r->chunk_left ? avail : r->chunk_left;
            /* Compare an echo with what was sent (stamped prefix included). */
            if (r->echo_ok && r->obj) {
                uint64_t at = r->body_bytes;
                if (at + n > r->obj->size) {
                    r->echo_ok = 0;
                } else {
                    for (size_t i = 0; i < n && at + i < STAMP_LEN && r->stamped; i++)
                        if ((unsigned char)p[i] != r->stamp[at + i])
                            r->echo_ok = 0;
                    size_t skip = (r->stamped && at < STAMP_LEN) ? (size_t)(STAMP_LEN - at) : 0;
                    if (skip < n && memcmp(p + skip, r->obj->body + at + skip, n - skip) != 0)
                        r->echo_ok = 0;
                }
            }
            r->body_bytes += n;
            r->chunk_left -= n;
            p += n;
            if (!r->chunk_left)
                r->state = P_CHUNK_CRLF;
        } else { /* P_CHUNK_CRLF */
            if (avail < 2)
                break;
            if (p[0] != '\r' || p[1] != '\n') {
                ret = R_ERR;
                snprintf(r->why, sizeof r->why, "no CRLF after chunk at body byte %llu",
                         (unsigned long long)r->body_bytes);
                break;
            }
            p += 2;
            r->state = P_CHUNK_SIZE;
        }
    }
    *pp = p;
    return ret;
}

/* ---- connection and request loop ---------------------------------------- */

typedef struct {
    int fd;
    char *rbuf;
    size_t rs, re; /* unread bytes are rbuf[rs, re) */
    long served;   /* answers completed on this connection */
} conn_t;

static struct addrinfo *target;

static int conn_open(conn_t *c)
{
    c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, target->ai_addr, target->ai_addrlen) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    c->rs = c->re = 0;
    c->served = 0;
    return 0;
}

static void conn_close(conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rs = c->re = 0;
}

/* Outgoing bytes as up to 6 segments. */
typedef struct {
    struct iovec v[6];
    int n, i;
} outq_t;

static void outq_add(outq_t *q, const void *p, size_t len)
{
    if (len && q->n < 6) {
        q->v[q->n].iov_base = (void *)p;
        q->v[q->n].iov_len = len;
        q->n++;
    }
}

static void outq_advance(outq_t *q, size_t n)
{
    while (n && q->i < q->n) {
        size_t k = n < q->v[q->i].iov_len ? n : q->v[q->i].iov_len;
        q->v[q->i].iov_base = (char *)q->v[q->i].iov_base + k;
        q->v[q->i].iov_len -= k;
        n -= k;
        if (!q->v[q->i].iov_len)
            q->i++;
    }
}

/* One request on c; returns 0 when it completed (outcome checked by the
 * caller from r), -1 after an error (reported), -2 when the connection was
 * lost (not reported: r->lost_kind and r->why say how; a marker request
 * may end so by design with --cut-ok). The caller closes c after < 0. */
static int do_request(worker_t *w, conn_t *c, const obj_t *o, const unsigned char *stamp,
                      resp_t *r)
{
    outq_t q = {0};
    if (o->stamp_off) {
        outq_add(&q, o->part1, o->stamp_off);
        outq_add(&q, stamp, STAMP_LEN);
        outq_add(&q, o->part1 + o->stamp_off + STAMP_LEN, o->len1 - o->stamp_off - STAMP_LEN);
    } else {
        outq_add(&q, o->part1, o->len1);
    }
    resp_reset(r);
    r->n100 = 0;
    r->lost_kind = 0;
    r->got_bytes = 0;
    r->obj = o;
    r->stamp = stamp;
    r->stamped = o->stamp_off != 0;
    int preview_wait = opt.preview >= 0 && !o->ieof;
    int done = 0;
    double deadline = now_s() + opt.timeout;
    while (!(done && q.i >= q.n)) {
        double left = deadline - now_s();
        if (left <= 0) {
            report_err(w, E_TIMEOUT, "no complete response within %.0f s", opt.timeout);
            return -1;
        }
        struct pollfd pf = {.fd = c->fd, .events = POLLIN};
        if (q.i < q.n)
            pf.events |= POLLOUT;
        int pr = poll(&pf, 1, (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR) {
            report_err(w, E_IO, "poll: %s", strerror(errno));
            return -1;
        }
        if (pr <= 0)
            continue;
        if ((pf.revents & POLLOUT) && q.i < q.n) {
            ssize_t n = writev(c->fd, q.v + q.i, q.n - q.i);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                r->lost_kind = E_IO;
                snprintf(r->why, sizeof r->why, "write: %s", strerror(errno));
                return -2;
            }
            if (n > 0)
                outq_advance(&q, (size_t)n);
        }
        if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (c->rs == c->re) {
            c->rs = c->re = 0;
        } else if (c->rs > 0 && RBUF_SIZE - c->re < 65536) {
            memmove(c->rbuf, c->rbuf + c->rs, c->re - c->rs);
            c->re -= c->rs;
            c->rs = 0;
        }
        ssize_t n = read(c->fd, c->rbuf + c->re, RBUF_SIZE - c->re);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            r->lost_kind = E_IO;
            snprintf(r->why, sizeof r->why, "read: %s", strerror(errno));
            return -2;
        }
        if (n == 0) {
            r->lost_kind = E_EOF;
            snprintf(r->why, sizeof r->why, "server closed the connection %s (status %d, %llu body bytes)",
                     r->state == P_ICAP_HDR && c->rs == c->re ? "before a response" : "mid-response",
                     r->status, (unsigned long long)r->body_bytes);
            return -2;
        }
        c->re += (size_t)n;
        r->got_bytes = 1;
        if (done) { /* bytes after a complete response: the server pipelines? */
            report_err(w, E_PROTO, "%zd unexpected bytes after the response", n);
            return -1;
        }
        /* Bounded: every pass either consumes bytes or stops. */
        while (!done && c->rs < c->re) {
            const char *p = c->rbuf + c->rs;
            int pr2 = resp_feed(r, &p, c->rbuf + c->re);
            c->rs = (size_t)(p - c->rbuf);
            if (pr2 == R_ERR) {
                report_err(w, E_PROTO, "%s", r->why);
                return -1;
            }
            if (pr2 == R_CONTINUE) {
                r->n100++;
                if (!preview_wait) {
                    report_err(w, E_PROTO, "100 Continue not after a preview%s",
                               o->ieof ? " (ieof was sent)" : "");
                    return -1;
                }
                preview_wait = 0;
                outq_add(&q, o->part2, o->len2);
                resp_reset(r);
                continue;
            }
            if (pr2 == R_DONE)
                done = 1;
            else
                break;
        }
        if (done && c->rs < c->re) {
            report_err(w, E_PROTO, "%zu unexpected bytes after the response", c->re - c->rs);
            return -1;
        }
        if ((size_t)RBUF_SIZE - c->re == 0 && c->rs == 0) {
            report_err(w, E_PROTO, "header block does not fit in %d bytes", RBUF_SIZE);
            return -1;
        }
    }
    return 0;
}

static void add_lat(worker_t *w, double ms)
{
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 4096;
        w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
        if (!w->lat)
            die("out of memory");
    }
    w->lat[w->nlat++] = ms;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    conn_t c = {.fd = -1, .rbuf = malloc(RBUF_SIZE)};
    resp_t r;
    unsigned char stamp[STAMP_LEN];
    if (!c.rbuf)
        die("out of memory");
    while (!atomic_load(&stop_flag)) {
        int counted = atomic_load(&measuring);
        if (counted && opt.requests && atomic_fetch_add(&tickets, 1) >= opt.requests)
            break;
        if (c.fd < 0) {
            if (conn_open(&c) != 0) {
                if (counted)
                    report_err(w, E_CONNECT, "%s:%s: %s", opt.host, opt.port, strerror(errno));
                usleep(20000);
                continue;
            }
        }
        long i = atomic_fetch_add(&seq, 1);
        int is_marker = opt.marker_every > 0 && i % opt.marker_every == opt.marker_every - 1;
        const obj_t *o = is_marker ? &marker_obj : &clean_obj;
        /* Unique across invocations too: a server's verdict cache must not
         * recognise a body sent by an earlier run or point. */
        snprintf((char *)stamp, sizeof stamp, "%08x%07lx", stamp_nonce, i & 0xfffffffL);
        stamp[STAMP_LEN - 1] = '\n';
        double t0 = now_s();
        int rc = do_request(w, &c, o, stamp, &r);
        /* A kept-alive connection the server closed before any byte of the
         * answer (it was idle when the server decided to close it: a worker
         * being replaced) is retried once on a new connection, as HTTP
         * clients and Squid do (RFC 9112 section 9.3.1); counted apart. */
        if (rc == -2 && c.served > 0 && !r.got_bytes &&
            (r.lost_kind == E_EOF || r.lost_kind == E_IO)) {
            conn_close(&c);
            if (conn_open(&c) == 0) {
                if (counted)
                    w->retried++;
                rc = do_request(w, &c, o, stamp, &r);
            }
        }
        double ms = (now_s() - t0) * 1000;
        if (rc == -2 && is_marker && opt.cut_ok) {
            /* A server that streams the answer before the verdict can only
             * block a late finding by cutting the connection. */
            conn_close(&c);
            if (counted) {
                w->cut++;
                w->markers++;
                w->body_bytes += o->size;
                add_lat(w, ms);
            }
            continue;
        }
        if (rc != 0) {
            if (rc == -2 && counted)
                report_err(w, r.lost_kind, "%s request %ld: %s", is_marker ? "marker" : "clean",
                           i, r.why);
            if (counted) /* a failed marker request is a marker not blocked */
                w->markers += is_marker;
            if (!counted) /* warm-up failures are not counted */
                memset(w->errors, 0, sizeof w->errors);
            conn_close(&c);
            continue;
        }
        c.served++;
        if (r.conn_close) {
            conn_close(&c);
            w->reconnects++;
        }
        if (!counted)
            continue;
        w->st100 += r.n100;
        if (r.status == 200)
            w->st200++;
        else if (r.status == 204)
            w->st204++;
        else
            w->st_other++;
        w->markers += is_marker;
        int blocked = r.status == 200 && r.http_status == 403;
        if (is_marker) {
            if (blocked)
                w->blocked++;
            else
                report_err(w, E_MISSED, "marker request %ld answered ICAP %d / HTTP %d", i,
                           r.status, r.http_status);
        } else if (blocked) {
            report_err(w, E_FALSEBLOCK, "clean request %ld blocked", i);
        } else if (r.status == 200) {
            if (r.http_status != 200 || !r.has_body || r.body_bytes != o->size || !r.echo_ok)
                report_err(w, E_ECHO, "clean request %ld: 200 with HTTP %d and %llu body bytes"
                           " (%zu sent)%s", i, r.http_status, (unsigned long long)r.body_bytes,
                           o->size, r.echo_ok ? "" : ", content differs");
        } else if (r.status != 204) {
            report_err(w, E_STATUS, "request %ld: ICAP status %d", i, r.status);
        }
        w->body_bytes += o->size;
        add_lat(w, ms);
    }
    conn_close(&c);
    free(c.rbuf);
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)n);
    if (k >= n)
        k = n - 1;
    return v[k];
}

static size_t parse_size(const char *s)
{
    char *e;
    double v = strtod(s, &e);
    if (e == s || v < 0)
        die("bad size '%s'", s);
    switch (*e) {
    case 'k': case 'K': v *= 1024; e++; break;
    case 'm': case 'M': v *= 1024 * 1024; e++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; e++; break;
    }
    if (*e)
        die("bad size '%s'", s);
    return (size_t)v;
}

static void usage(void)
{
    fputs("usage: icap-load [options]\n"
          "  --host H (127.0.0.1) --port P (1344) --service PATH (avscan)\n"
          "  --conns N (8)            keep-alive connections, one thread each\n"
          "  --requests N | --duration S (10)   how long to run\n"
          "  --warmup S (0)           run S seconds first without counting\n"
          "  --size BYTES[k|m] (15k)  random clean object (--seed S) | --file PATH\n"
          "  --marker-every K         every K-th request sends the marker object\n"
          "  --marker-file PATH | --marker-hex HEX  (hex planted near the end of a\n"
          "                           copy of the clean object)\n"
          "  --preview N              send a Preview of N bytes\n"
          "  --allow204               send Allow: 204\n"
          "  --chunk BYTES (65536)    chunk size of the request body\n"
          "  --same-body              do not stamp each body with its request number\n"
          "  --cut-ok                 a marker request may end with the connection cut\n"
          "                           (a server streaming its answer before the verdict)\n"
          "  --timeout S (60)         per-request timeout\n"
          "  --json --verbose\n"
          "Exit status: 0 no errors, 1 errors, 2 usage or setup failure.\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"service", 1, 0, 's'},
        {"conns", 1, 0, 'c'}, {"requests", 1, 0, 'n'}, {"duration", 1, 0, 'd'},
        {"warmup", 1, 0, 'w'}, {"size", 1, 0, 'z'}, {"file", 1, 0, 'f'},
        {"marker-every", 1, 0, 'k'}, {"marker-file", 1, 0, 'M'}, {"marker-hex", 1, 0, 'X'},
        {"preview", 1, 0, 'P'}, {"allow204", 0, 0, 'A'}, {"chunk", 1, 0, 'C'},
        {"same-body", 0, 0, 'S'}, {"timeout", 1, 0, 't'}, {"seed", 1, 0, 'r'},
        {"json", 0, 0, 'j'}, {"verbose", 0, 0, 'v'}, {"cut-ok", 0, 0, 'K'}, {"help", 0, 0, '?'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = optarg; break;
        case 's': opt.service = optarg[0] == '/' ? optarg + 1 : optarg; break;
        case 'c': opt.conns = atoi(optarg); break;
        case 'n': opt.requests = atol(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'z': opt.size = parse_size(optarg); break;
        case 'f': opt.file = optarg; break;
        case 'k': opt.marker_every = atol(optarg); break;
        case 'M': opt.marker_file = optarg; break;
        case 'X': opt.marker_hex = optarg; break;
        case 'P': opt.preview = atol(optarg); break;
        case 'A': opt.allow204 = 1; break;
        case 'C': opt.chunk = parse_size(optarg); break;
        case 'S': opt.same_body = 1; break;
        case 't': opt.timeout = atof(optarg); break;
        case 'r': opt.seed = strtoull(optarg, NULL, 10); break;
        case 'j': opt.json = 1; break;
        case 'v': opt.verbose = 1; break;
        case 'K': opt.cut_ok = 1; break;
        default: usage();
        }
    }
    if (optind != argc || opt.conns < 1 || opt.conns > 4096 || opt.chunk < 1 ||
        opt.timeout <= 0 || (!opt.requests && opt.duration <= 0) || opt.requests < 0 ||
        opt.preview < -1 || opt.marker_every < 0)
        usage();
    if (opt.marker_every && !opt.marker_file && !opt.marker_hex)
        die("--marker-every needs --marker-file or --marker-hex");
    signal(SIGPIPE, SIG_IGN);
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        stamp_nonce = (unsigned)(ts.tv_nsec ^ (ts.tv_sec << 20) ^ ((long)getpid() << 8));
    }

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(opt.host, opt.port, &hints, &target);
    if (gai != 0)
        die("%s:%s: %s", opt.host, opt.port, gai_strerror(gai));

    /* Objects. */
    unsigned char *body;
    size_t size;
    if (opt.file) {
        body = read_file(opt.file, &size);
    } else {
        size = opt.size;
        body = malloc(size + 8);
        if (!body)
            die("out of memory");
        uint64_t s = opt.seed * 0x9e3779b97f4a7c15ULL + 1;
        for (size_t i = 0; i < size; i += 8) {
            uint64_t x = xorshift(&s);
            memcpy(body + i, &x, 8);
        }
    }
    build_obj(&clean_obj, body, size, "clean.bin");
    if (opt.marker_file) {
        size_t msize;
        unsigned char *m = read_file(opt.marker_file, &msize);
        build_obj(&marker_obj, m, msize, "marker.bin");
    } else if (opt.marker_hex) {
        size_t hl = strlen(opt.marker_hex) / 2;
        if (!hl || hl + STAMP_LEN > size)
            die("--marker-hex: object of %zu bytes too small for %zu marker bytes", size, hl);
        unsigned char *m = malloc(size + 1);
        if (!m)
            die("out of memory");
        memcpy(m, body, size);
        /* Near the end (the last 1/8, at least past the stamp): a server
         * that scans only a prefix of the object misses it. */
        size_t at = size - hl - (size - hl - STAMP_LEN) / 8;
        for (size_t i = 0; i < hl; i++) {
            unsigned v;
            if (sscanf(opt.marker_hex + 2 * i, "%2x", &v) != 1)
                die("--marker-hex: bad hex at %zu", 2 * i);
            m[at + i] = (unsigned char)v;
        }
        build_obj(&marker_obj, m, size, "marker.bin");
    }

    worker_t *ws = calloc((size_t)opt.conns, sizeof *ws);
    if (!ws)
        die("out of memory");
    if (opt.warmup <= 0)
        atomic_store(&measuring, 1);
    for (int i = 0; i < opt.conns; i++) {
        ws[i].idx = i;
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0)
            die("pthread_create failed");
    }
    if (opt.warmup > 0) {
        usleep((useconds_t)(opt.warmup * 1e6));
        atomic_store(&err_printed, 0);
        atomic_store(&measuring, 1);
    }
    double t0 = now_s();
    if (!opt.requests) {
        while (now_s() - t0 < opt.duration)
            usleep(20000);
        atomic_store(&stop_flag, 1);
    }
    for (int i = 0; i < opt.conns; i++)
        pthread_join(ws[i].tid, NULL);
    double elapsed = now_s() - t0;

    /* Merge. A request counts when it started after the warm-up; the window
     * ends when the last worker has finished its last request. */
    size_t n = 0;
    long errs[E_NKIND] = {0}, st100 = 0, st200 = 0, st204 = 0, sto = 0, blocked = 0,
         cut = 0, markers = 0, reconn = 0, retried = 0, nerr = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < opt.conns; i++)
        n += ws[i].nlat;
    double *lat = malloc((n + 1) * sizeof *lat);
    if (!lat)
        die("out of memory");
    n = 0;
    for (int i = 0; i < opt.conns; i++) {
        worker_t *w = &ws[i];
        memcpy(lat + n, w->lat, w->nlat * sizeof *lat);
        n += w->nlat;
        for (int k = 0; k < E_NKIND; k++)
            errs[k] += w->errors[k], nerr += w->errors[k];
        st100 += w->st100, st200 += w->st200, st204 += w->st204, sto += w->st_other;
        blocked += w->blocked, cut += w->cut, markers += w->markers, reconn += w->reconnects;
        retried += w->retried;
        bytes += w->body_bytes;
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    double rps = elapsed > 0 ? (double)n / elapsed : 0;
    double mbps = elapsed > 0 ? (double)bytes / 1e6 / elapsed : 0;
    double p50 = pct(lat, n, 50), p90 = pct(lat, n, 90), p99 = pct(lat, n, 99);
    double mx = n ? lat[n - 1] : 0;
    /* The client shares the machine with the server: say what it cost. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (opt.json) {
        printf("{\"conns\": %d, \"size\": %zu, \"preview\": %ld, \"allow204\": %d, "
               "\"requests\": %zu, \"seconds\": %.3f, \"rps\": %.1f, \"mbps\": %.2f, "
               "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
               "\"errors\": %ld, \"blocked\": %ld, \"cut\": %ld, \"markers\": %ld, \"status_100\": %ld, "
               "\"status_200\": %ld, \"status_204\": %ld, \"status_other\": %ld, "
               "\"reconnects\": %ld, \"retried\": %ld, \"client_cpu_s\": %.3f, \"error_kinds\": {",
               opt.conns, size, opt.preview, opt.allow204, n, elapsed, rps, mbps, p50, p90, p99,
               mx, nerr, blocked, cut, markers, st100, st200, st204, sto, reconn, retried, cpu);
        for (int k = 0; k < E_NKIND; k++)
            printf("%s\"%s\": %ld", k ? ", " : "", ekind_name[k], errs[k]);
        printf("}}\n");
    } else {
        printf("%zu requests in %.2f s over %d conns, %zu-byte objects%s%s\n", n, elapsed,
               opt.conns, size, opt.allow204 ? ", Allow: 204" : "",
               opt.preview >= 0 ? ", preview" : "");
        printf("  %.1f req/s  %.2f MB/s\n", rps, mbps);
        printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", p50, p90, p99, mx);
        printf("  status: 100x%ld 200x%ld 204x%ld other x%ld; blocked %ld (403) + %ld (cut) of %ld"
               " markers; reconnects %ld (retried %ld); client CPU %.2f s\n", st100, st200, st204,
               sto, blocked, cut, markers, reconn, retried, cpu);
        printf("  errors: %ld", nerr);
        for (int k = 0; k < E_NKIND; k++)
            if (errs[k])
                printf("  %s=%ld", ekind_name[k], errs[k]);
        printf("\n");
    }
    for (int i = 0; i < opt.conns; i++)
        free(ws[i].lat);
    free(ws);
    free(lat);
    freeaddrinfo(target);
    return nerr || (opt.marker_every && blocked + cut != markers) ? 1 : 0;
}
