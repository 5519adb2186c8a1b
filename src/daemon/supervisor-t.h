/* SPDX-License-Identifier: Apache-2.0 */
/* The supervisor's private state, shared by its three files:
 * supervisor.c (the loop, the children, the tick), supervisor-reload.c
 * (building and committing generations) and supervisor-ctl.c (the control
 * socket's verbs).  See supervisor.c for the design. */
#ifndef BW_DAEMON_SUPERVISOR_T_H
#define BW_DAEMON_SUPERVISOR_T_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/clock.h"
#include "daemon/control.h"
#include "daemon/daemon.h"

#define MAX_SLOTS_MIN 64   /* worker slots per half, at least */
#define MAX_WAITERS 16     /* control clients waiting for a reload */
#define MAX_CTL_CONNS 16   /* control clients still sending their command line */
#define CTL_DEADLINE_MS 2000 /* ... each has this long to send it */

enum { RELOAD_CONF = 1, RELOAD_BASES = 2 };

typedef struct child {
    pid_t pid;             /* 0: free entry */
    bw_daemon_t *gen;
    int index;             /* worker index within its generation */
    time_t started;
    int stopping;          /* we asked it to stop: its exit is expected */
    uint64_t restart_at;   /* for a dead worker awaiting its back-off (ms) */
} child_t;

/* A control client whose command line has not arrived yet. */
typedef struct ctl_conn {
    int fd;                /* -1: free */
    uint64_t deadline_ms;
    uint64_t accepted_ms;
    size_t n;
    char line[BW_CTL_MAX_LINE];
} ctl_conn_t;

typedef struct old_gen {
    bw_daemon_t *gen;
    uint64_t deadline_ms;  /* after this its workers are killed */
} old_gen_t;

typedef struct sup {
    const char *conf_path;
    bw_daemon_t *cur;
    old_gen_t old[4];
    size_t nold;
    child_t *kids;
    size_t nkids;
    unsigned half;                /* worker slots per generation parity */
    uint64_t *conn_slots;
    struct bw_stats *stats;
    pid_t metrics_pid;
    time_t metrics_started;
    char metrics_addr[320];
    /* The shipper (shipper.c): its pid, its channel, what it was started from */
    pid_t ship_pid;
    time_t ship_started;
    int ship_fd;                  /* the supervisor's end of the channel; -1: none */
    char ship_sig[8192];
    int sigfd, timerfd, ctlfd;
    /* Reloads */
    int pending;                  /* RELOAD_* bits asked and not started */
    int running;                  /* RELOAD_* bits of the reload in progress */
    bw_loader_t *loader;
    int waiters[MAX_WAITERS], nwaiters;     /* clients of the pending reload */
    int rwaiters[MAX_WAITERS], nrwaiters;   /* clients of the running reload */
    time_t last_reload;
    int last_reload_ok;
    char last_reload_msg[1024];
    /* Stop */
    int stopping;
    uint64_t stop_deadline_ms;
    int stop_waiters[MAX_WAITERS], nstop_waiters;
    time_t started;
    uint64_t stats_since_ms;
    char ctl_path[4096];          /* ControlSocket as started (a reload cannot move it) */
    ctl_conn_t ctl[MAX_CTL_CONNS];
} sup_t;

/* supervisor.c */
void bw_sup_start_generation(sup_t *s, bw_daemon_t *g);
unsigned bw_sup_alive_of(const sup_t *s, const bw_daemon_t *g);
void bw_sup_signal_generation(sup_t *s, const bw_daemon_t *g, int sig);
void bw_sup_set_metrics(sup_t *s, const bw_daemon_t *g);
void bw_sup_set_shipper(sup_t *s, const bw_daemon_t *g);
/* supervisor-ctl.c: a request from the shipper's channel */
void bw_sup_on_shipper(sup_t *s);
/* supervisor-reload.c */
void bw_sup_request_reload(sup_t *s, int what, int client);
void bw_sup_try_start_reload(sup_t *s);
void bw_sup_on_loader(sup_t *s);
void bw_sup_answer_waiters(int *w, int *n, int ok, const char *msg);
/* supervisor-ctl.c */
void bw_sup_ctl_init(sup_t *s);
void bw_sup_on_control(sup_t *s);             /* the listening socket is readable */
/* Adds the pending clients to p (at most MAX_CTL_CONNS); returns how many. */
int bw_sup_ctl_pollfds(const sup_t *s, struct pollfd *p);
/* After poll: reads the clients that became readable (p as filled). */
void bw_sup_ctl_on_clients(sup_t *s, const struct pollfd *p, int n);
/* Drops the clients past their deadline; returns the ms until the next one
 * (-1: none). */
int bw_sup_ctl_expire(sup_t *s);
void bw_sup_ctl_close_all(sup_t *s);

#endif
