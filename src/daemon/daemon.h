/* SPDX-License-Identifier: Apache-2.0 */
/* bulwarkd internals: logging, listeners, generations, the supervisor and
 * its workers, the control socket.
 *
 * A *generation* (bw_daemon_t) is one loaded configuration with everything
 * a worker needs: the parsed keys, the compiled engine, the groups, the
 * listening sockets, the report log.  The supervisor builds it completely,
 * validating everything, before a single worker sees it; a reload builds the
 * next generation beside the running one, starts its workers, and only then
 * asks the old workers to finish their requests and exit (nginx's way).  A
 * generation that fails to build is dropped and the running one goes on. */
#ifndef BW_DAEMON_H
#define BW_DAEMON_H

#include <stdarg.h>
#include <sys/types.h>
#include <time.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "core/log.h"
#include "app/daemon-conf.h"
#include "icap/icap-conf.h"

/* bw_log() and its levels are core/log.h's; this names them "bulwarkd" and,
 * unless to_stderr, sends them to syslog (log.c). */
void bw_log_init(int to_stderr);

typedef enum bw_listener_kind {
    BW_LST_ICAP,   /* ListenAddress */
    BW_LST_ICAPS,  /* TlsListenAddress */
    BW_LST_CLAMD,  /* [clamd] TCPSocket/TCPAddr, LocalSocket */
    BW_LST_RSCAN,  /* [rscan] Listen */
} bw_listener_kind_t;

typedef struct bw_listener {
    bw_listener_kind_t kind;
    int is_unix;
    int fd;          /* listening, owned by the generation */
    char name[320];  /* "icap 127.0.0.1:1344": also the key a reload matches on */
} bw_listener_t;

#define BW_MAX_LISTENERS 64

/* Everything a worker needs, prepared by the supervisor before it forks (so
 * the compiled engine's memory is shared copy-on-write). */
typedef struct bw_daemon {
    unsigned generation;                  /* 1, 2, ... one per successful (re)load */
    bw_conf_state_t *st;                  /* owned */
    const char *conf_path;
    const bw_daemon_conf_t *dc;
    const bw_icap_conf_t *ic;
    const struct bw_stats_conf *sc;
    const struct bw_notify_conf *nc;
    const struct bw_clamd_conf *cc;
    const struct bw_rscan_conf *rc;       /* [rscan] */
    void *rscan_tls_ctx;                  /* SSL_CTX for BW_LST_RSCAN (NULL: plain) */
    const struct bw_events_conf *ec;      /* [events] */       /* NULL until the clamd module is linked */
    bw_engine_t *engine;                  /* one reference, owned */
    struct bw_groups *groups;             /* owned */
    bw_listener_t listeners[BW_MAX_LISTENERS];
    size_t nlisteners;
    void *tls_ctx;                        /* SSL_CTX for BW_LST_ICAPS (NULL: none) */
    int report_fd;                        /* ReportFileName, opened by the supervisor (-1: none) */
    int nworkers;
    /* Shared between generations (owned by the supervisor): */
    unsigned slot_base;                   /* this generation's first worker slot */
    uint64_t *conn_slots;                 /* open connections per worker slot, MAP_SHARED */
    size_t nslots;
    struct bw_stats *stats;               /* MAP_SHARED counters (NULL: none) */
    /* Resolved User/Group (drop = 0: run as started). */
    int drop;
    uid_t uid;
    gid_t gid;
} bw_daemon_t;

/* ---- listen.c -------------------------------------------------------------- */
/* Opens a listening socket for "host:port" ("[v6]:port", "*:port"; the port
 * 1..65535) of key `key`.  Returns the fd or -1 with err set
 * ("ListenAddress 1.2.3.4:1344: Address already in use"). */
int bw_listen_open(const char *key, const char *addr, bw_err_t *err);
/* The same checks without a socket (for bulwarkd -t): the syntax, the port,
 * and that the host resolves.  BW_OK or BW_ERR with err set. */
int bw_listen_check(const char *key, const char *addr, bw_err_t *err);
/* Does host (NULL, "" or "*": any) with numeric `port` resolve as
 * bw_net_listen would resolve it?  err: "<what>: <reason>". */
int bw_listen_check_host(const char *what, const char *host, const char *port, bw_err_t *err);

/* ---- generation.c ---------------------------------------------------------- */
/* Loads `conf_path` and builds a complete generation: configuration, groups,
 * listeners (reusing `prev`'s sockets for unchanged addresses), report log,
 * and the engine: `engine` if given (a reference is taken), else loaded
 * synchronously.  BW_OK, or BW_ERR with err set and nothing left behind. */
int bw_gen_build(const char *conf_path, const bw_daemon_t *prev, bw_engine_t *engine,
                 bw_daemon_t **out, bw_err_t *err);
/* bulwarkd -t: the same generation, checked completely, with nothing the
 * running daemon holds touched: no listening socket (addresses are only
 * resolved: every listener has fd -1), no report log created, the workers'
 * directories checked but not created (generation.c, dirs.c say what). */
int bw_gen_check(const char *conf_path, bw_daemon_t **out, bw_err_t *err);
/* bulwark.conf with the console policy ([console] PolicyFile) over it when
 * that file exists: what every generation is built from. */
int bw_gen_conf_load(const char *conf_path, bw_conf_state_t **st, bw_err_t *err);
/* Reads only the configuration (for a reload: does the engine change?). */
int bw_gen_conf_peek(const char *conf_path, bw_conf_state_t **st, bw_err_t *err);
/* Do two configurations name the same databases and cache? */
int bw_gen_same_bases(const bw_daemon_conf_t *a, const bw_daemon_conf_t *b);
void bw_gen_free(bw_daemon_t *d);

/* ---- dirs.c ---------------------------------------------------------------- */
/* Creates or checks every directory the workers write (QuarantineDir when
 * an action quarantines, CorePath, the spool) for the workers' user, and
 * CacheDir for root; BW_ERR with "file:line: Key path: what" otherwise.
 * With `check` (bulwarkd -t) the workers' directories are only checked: a
 * missing one must be creatable, and is logged as such. */
int bw_dirs_prepare(const bw_daemon_t *d, int check, bw_err_t *err);
/* bw_load_opts_t.note for the daemon: the reason goes to the log. */
void bw_dirs_cache_note(void *arg, const char *msg);

/* daemon-events.c: this process's event writer and the daemon's events. */
void bw_devents_setup(const bw_daemon_t *d, const char *who);
void bw_devents_started(const bw_daemon_t *d);
void bw_devents_stopped(void);
void bw_devents_reload(int ok, const char *msg);
void bw_devents_worker_died(int index, int pid, int status);

/* ---- loader.c -------------------------------------------------------------- */
/* Compiles databases in a child process, so the supervisor keeps supervising
 * while a large database compiles; the child writes the compiled cache and the
 * supervisor then maps it (fast).  One load at a time. */
typedef struct bw_loader bw_loader_t;
bw_loader_t *bw_loader_start(const bw_daemon_conf_t *dc, bw_err_t *err);
int bw_loader_fd(const bw_loader_t *l);   /* readable when the child is done */
/* After bw_loader_fd is readable: the engine (BW_OK) or the child's error. */
int bw_loader_finish(bw_loader_t *l, bw_engine_t **out, bw_err_t *err);
void bw_loader_cancel(bw_loader_t *l);

/* ---- privs.c --------------------------------------------------------------- */
/* Resolves User/Group into d->uid/gid/drop (only when running as root). */
int bw_privs_resolve(bw_daemon_t *d, bw_err_t *err);
/* In a worker, after it has everything root gives: CorePath, then
 * setgroups/setgid/setuid.  BW_OK or BW_ERR (the worker must then exit). */
int bw_privs_drop(const bw_daemon_t *d, bw_err_t *err);
/* systemd readiness (NOTIFY_SOCKET); a no-op without systemd. */
void bw_sd_notify(const char *state);

/* ---- worker.c -------------------------------------------------------------- */
/* Runs one worker (slot d->slot_base + index) until it is told to stop;
 * returns its exit code. */
int bw_worker_run(const bw_daemon_t *d, int index);

/* ---- supervisor.c ---------------------------------------------------------- */
/* Forks and supervises the workers of `first`, serves the control socket,
 * reloads on SIGHUP/SIGUSR1; returns the daemon's exit code.  Takes `first`. */
int bw_supervise(bw_daemon_t *first, const char *conf_path, int foreground);

#endif
