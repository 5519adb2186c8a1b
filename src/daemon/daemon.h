/* bulwarkd internals: logging, listeners, the supervisor and its workers. */
#ifndef BW_DAEMON_H
#define BW_DAEMON_H

#include <stdarg.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "app/daemon-conf.h"
#include "icap/icap-conf.h"

enum { BW_LOG_ERR = 3, BW_LOG_WARN = 4, BW_LOG_INFO = 6 };
void bw_log_init(int to_stderr);
void bw_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Everything a worker needs, prepared by the supervisor before it forks (so
 * the compiled engine's memory is shared copy-on-write). */
typedef struct bw_daemon {
    const bw_daemon_conf_t *dc;
    const bw_icap_conf_t *ic;
    bw_engine_t *engine;
    int nworkers;
    uint64_t *conn_slots;   /* nworkers counters in MAP_SHARED memory */
    const bw_conf_state_t *st;            /* for per-group configuration copies */
    struct bw_groups *groups;             /* built once, before fork */
    struct bw_stats *stats;               /* MAP_SHARED counters (NULL: none) */
    const struct bw_stats_conf *sc;
    const struct bw_notify_conf *nc;
} bw_daemon_t;

/* Opens a listening socket for "host:port" with SO_REUSEPORT, so each worker
 * can open its own and the kernel spreads connections.  Returns the fd or -1
 * with err set ("ListenAddress 1.2.3.4:1344: Address already in use"). */
int bw_listen_open(const char *addr, bw_err_t *err);

/* Runs one worker until it is told to stop; returns its exit code. */
int bw_worker_run(const bw_daemon_t *d, int index);

/* Forks and supervises the workers; returns the daemon's exit code. */
int bw_supervise(const bw_daemon_t *d);

#endif
