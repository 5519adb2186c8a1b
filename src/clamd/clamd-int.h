/* SPDX-License-Identifier: Apache-2.0 */
/* The clamd module's private types, shared by its files:
 *   clamd-server.c  listeners, accept, drain/close, counters
 *   clamd-conn.c    one connection: reading, the command state machine, writing
 *   clamd-job.c     the work a command hands to libuv's thread pool
 *   clamd-path.c    SCAN of paths: the allow-list, the safe walk
 *   clamd-reply.c   reply texts: verdicts, VERSION, VERSIONCOMMANDS, STATS
 * Nothing outside src/clamd includes this header.
 */
#ifndef BW_CLAMD_INT_H
#define BW_CLAMD_INT_H

#include <stdint.h>
#include <uv.h>

#include "bulwark/bulwark.h"
#include "clamd/clamd-parse.h"
#include "clamd/clamd.h"
#include "core/accept.h"
#include "core/buf.h"
#include "core/vec.h"

/* The clamd release whose protocol this module answers for; VERSION reads
 * "ClamAV 1.0.0-Bulwark-<ver>/<dbver>/<dbdate>". */
#define BW_CLAMD_COMPAT "1.0.0"
#define BW_CLAMD_MAX_LISTENERS 64

/* ---- the allow-list of SCAN paths ------------------------------------------ */

typedef struct bw_clamd_root {
    char *lex;      /* as configured, normalised ("/srv/files") */
    char *real;     /* realpath() of it at start ("/data/files"); NULL if it did not resolve */
} bw_clamd_root_t;

typedef struct bw_clamd_allow {
    bw_clamd_root_t *v;
    size_t n;
    const char *key; /* "ScanPathAllow" or "LocalScanPathAllow", for messages */
} bw_clamd_allow_t;

int bw_clamd_allow_init(bw_clamd_allow_t *a, const bw_conf_list_t *paths, const char *key);
void bw_clamd_allow_free(bw_clamd_allow_t *a);

/* ---- the server ------------------------------------------------------------- */

struct conn;

typedef struct listener {
    bw_acceptor_t acc;        /* first: the acceptor's callbacks find the listener */
    int fd, is_unix, closed;
    struct bw_clamd_server *s;
} listener_t;

struct bw_clamd_server {
    uv_loop_t *loop;
    bw_clamd_env_t env;
    bw_limits_t lim;
    bw_clamd_allow_t allow_tcp, allow_local;
    char version[160];        /* "ClamAV 1.0.0-Bulwark-0.1.0/0/Mon Nov  3 10:00:00 2025" */
    listener_t *lst[BW_CLAMD_MAX_LISTENERS];
    size_t nlst;
    struct conn *conns;       /* open connections, a list */
    size_t nconns;
    unsigned refs;            /* open handles + connections + jobs: freed at 0 once closing */
    int draining, closing;
    bw_ratelog_t full_log;
    int full;                 /* MaxQueue connections open: the listeners are paused */
    unsigned pool_size;       /* libuv's thread pool */
    /* thread-pool occupancy for STATS, written from pool threads */
    unsigned jobs_queued, jobs_running;
};

typedef struct bw_clamd_server server_t;

void bw_clamd_server_unref(server_t *s);
/* MaxQueue: called when a connection opens or closes; pauses or resumes
 * the listeners. */
void bw_clamd_server_check_full(server_t *s);
void bw_clamd_log(server_t *s, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Counts one scanned object in the server-wide statistics. */
void bw_clamd_count(server_t *s, const bw_verdict_t *v);

/* ---- a connection and its jobs ---------------------------------------------- */

enum conn_state {
    CS_CMD,      /* waiting for a command */
    CS_STREAM,   /* INSTREAM chunks */
    CS_FD,       /* FILDES: the byte that carries the descriptor */
    CS_STOP,     /* no more commands: close once the jobs and the output are done */
};

typedef struct job job_t;

typedef struct conn {
    uv_poll_t poll;
    uv_timer_t timer;
    server_t *s;
    struct conn *prev, *next;
    int fd, is_unix;
    int handles, closing, eof;
    int events;               /* the poll's current mask */
    char peer[64];
    char *in;
    size_t in_len, in_cap;
    int recv_fd;              /* a descriptor received and not yet claimed by FILDES */
    enum conn_state state;
    int session, got_command, drain;
    unsigned next_id;         /* the id of the next command inside IDSESSION */
    char term;                /* the terminator of the last command */
    unsigned fd_id;           /* FILDES waiting for its descriptor: its id and terminator */
    char fd_term;
    unsigned jobs;            /* jobs in flight */
    job_t *job_list;          /* the same, for STATS */
    job_t *stream;            /* the INSTREAM being received */
    bw_clamd_stream_t chunks;
    bw_buf_t out;
    size_t out_off;
    uint64_t t_accept;        /* uv_now at accept: the first command's deadline counts from it */
    uint64_t cmd_start;       /* uv_now when the command being received began (0: none yet) */
} conn_t;

enum job_kind { JOB_STREAM, JOB_FILDES, JOB_PATH, JOB_MULTI_FILE };

typedef struct multi multi_t;

struct job {
    uv_work_t work;
    conn_t *c;
    job_t *prev, *next;       /* the connection's list */
    enum job_kind kind;
    bw_clamd_cmd_t cmd;
    unsigned id;              /* inside IDSESSION, else 0 */
    char term;
    uint64_t t_start;         /* monotonic ms, for STATS */
    char *path;               /* SCAN family: as the client gave it, trailing '/' trimmed */
    int fd;                   /* FILDES: the received descriptor */
    bw_scan_t *scan;          /* INSTREAM */
    uint64_t bytes;           /* INSTREAM bytes */
    bw_buf_t reply;           /* lines built on the pool thread */
    multi_t *multi;           /* MULTISCAN */
    size_t multi_index;       /* JOB_MULTI_FILE: its file */
    int found, errors;        /* JOB_MULTI_FILE: its outcome */
};

/* clamd-conn.c */
void bw_clamd_conn_accept(server_t *s, int fd, int is_unix);
void bw_clamd_conn_drain(conn_t *c);
void bw_clamd_conn_close(conn_t *c);
/* A job's reply is ready (or its connection went): called on the loop. */
void bw_clamd_conn_job_done(conn_t *c, job_t *j);
void bw_clamd_conn_send(conn_t *c, const char *p, size_t n);

/* clamd-job.c */
job_t *bw_clamd_job_new(conn_t *c, enum job_kind kind, bw_clamd_cmd_t cmd, unsigned id, char term);
/* Hands the job to the thread pool; on failure replies an error itself. */
void bw_clamd_job_queue(job_t *j);
void bw_clamd_job_free(job_t *j);

/* ---- replies (clamd-reply.c) -------------------------------------------------- */

/* "<id>: " when id, then the formatted text, then term. */
void bw_clamd_put(bw_buf_t *b, unsigned id, char term, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum { BW_CLAMD_R_OK = 0, BW_CLAMD_R_FOUND, BW_CLAMD_R_ERROR };
/* Appends the reply for one scanned object called `name` ("stream", a path,
 * "fd[5]"): its FOUND line (all of them with allmatch), or its ERROR line,
 * or, when ok_line, "name: OK".  Returns what it was. */
int bw_clamd_put_verdict(bw_buf_t *b, unsigned id, char term, const char *name,
                         const bw_verdict_t *v, const bw_clamd_conf_t *cc, int allmatch,
                         int ok_line);
void bw_clamd_version_init(server_t *s);
void bw_clamd_put_stats(bw_buf_t *b, server_t *s, unsigned id, char term);

/* ---- SCAN of paths (clamd-path.c; runs on a pool thread) ----------------------- */

typedef struct bw_clamd_walk {
    /* in */
    const bw_engine_t *engine;
    const bw_clamd_conf_t *cc;
    bw_limits_t lim;
    const bw_clamd_allow_t *allow;
    bw_clamd_cmd_t cmd;       /* SCAN, CONTSCAN, ALLMATCHSCAN, MULTISCAN */
    unsigned id;
    char term;
    char *disp;               /* the path as replies show it */
    int stop;                 /* SCAN: the first detection ends the walk */
    /* out */
    bw_buf_t *out;
    unsigned total, errors, found;
    uint64_t bytes;
    server_t *s;              /* for counting verdicts (atomic counters only) */
    /* MULTISCAN of a directory: the files, scanned afterwards in parallel */
    int collect;
    BW_VEC(char *) files;     /* display path and the resolved path, '\0'-separated */
} bw_clamd_walk_t;

/* Checks `path` against the allow-list and scans it (or, for MULTISCAN of
 * a directory, collects its files).  Replies go to w->out. */
void bw_clamd_walk_run(bw_clamd_walk_t *w, const char *path);
/* One collected MULTISCAN file: reopens it safely and scans it. */
void bw_clamd_walk_file(bw_clamd_walk_t *w, const char *entry);
void bw_clamd_walk_free(bw_clamd_walk_t *w);

/* MULTISCAN's parallel part, driven from the loop (clamd-job.c). */
struct multi {
    job_t *parent;            /* the MULTISCAN job: its path, id, term */
    bw_clamd_walk_t walk;     /* the collected files and the counters */
    size_t next, inflight, done;
    unsigned item_found, item_errors; /* of the files: clamd's group counts only these */
};

#endif
