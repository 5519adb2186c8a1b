/* SPDX-License-Identifier: Apache-2.0 */
/* Server-wide counters shared by the processes of one server.
 *
 * One MAP_SHARED anonymous region, created by its owner (bulwarkd's
 * supervisor) before it forks, holds one slot of counters per writer
 * (cache-line aligned, so writers never share a line).  Which process writes
 * which slot is the owner's knowledge, not this module's: the owner hands each
 * writer a bw_stats_slot_t (bw_stats_slot), and the protocol layers count
 * through that handle without ever seeing an index or a process.  A writer
 * adds only to its own slot with relaxed atomic adds:
 * no lock, no contention, and safe from the worker's thread pool too.  Readers
 * (the supervisor, its /metrics thread) sum the slots; a sum may be a few
 * increments behind a concurrent writer, never torn.
 *
 * Slots are never reset: a worker that dies keeps its counts in its slot and
 * the worker restarted at the same index continues adding to it, so totals
 * only grow (as Prometheus counters must).  Gauges (open connections, workers
 * alive) are the exception: bw_stats_worker_exited() zeroes a dead worker's.
 *
 * Per-group counts are kept by slot index; the region holds the group names
 * (written only by the supervisor, published with release stores), so a
 * configuration reload can add groups without remapping anything.
 *
 *   bw_stats_t *s = bw_stats_create(nworkers, ngroups, names);   // before fork
 *   // owner, for writer i:  env.stats = bw_stats_slot(s, i);
 *   // writer:        bw_stats_slot_add(env.stats, BW_ST_REQUESTS, 1);
 *   //                bw_stats_slot_group(env.stats, "staff", detected);
 *   // supervisor:    bw_stats_tick(s) once a second;
 *   //                bw_stats_write_file(s, path) on SIGUSR2 / every interval
 */
#ifndef BW_CORE_STATS_H
#define BW_CORE_STATS_H

#include <stddef.h>
#include <stdint.h>

enum bw_stat {
    BW_ST_REQUESTS,       /* ICAP requests answered (OPTIONS excluded) */
    BW_ST_CLEAN,          /* verdicts, one per scanned request */
    BW_ST_INFECTED,
    BW_ST_SUSPICIOUS,
    BW_ST_WARNING,
    BW_ST_PROTECTED,
    BW_ST_CORRUPTED,
    BW_ST_ERROR,
    BW_ST_CURED,
    BW_ST_TOO_LARGE,      /* over MaxReqLength */
    BW_ST_TIMEOUT,        /* scan or transfer timed out */
    BW_ST_BLOCKED,        /* answered with a block page (action deny) */
    BW_ST_BYTES,          /* body bytes processed */
    BW_ST_BYTES_CLEAN,    /* ... of clean objects */
    BW_ST_BYTES_INFECTED, /* ... of infected objects */
    BW_ST_ENGINE_ERRORS,  /* engine failures (not ERRO- verdicts: real errors) */
    BW_ST_CONNECTIONS,    /* connections accepted */
    BW_ST_RSCAN_REQUESTS, /* BWSCAN/1 SCAN requests */
    BW_ST_RSCAN_HITS,     /* ... answered from the verdict cache */
    BW_ST_RSCAN_BYTES,    /* ... content bytes received */
    BW_ST_COUNT
};

/* Group slots, the default group (slot 0) included. */
#define BW_STATS_MAX_GROUPS 256
/* Longest group name kept (conf.h's BW_CONF_MAX_GROUP); longer names are cut. */
#define BW_STATS_GROUP_NAME 64
/* Worker slots. */
#define BW_STATS_MAX_WORKERS 1024

typedef struct bw_stats bw_stats_t;

typedef struct bw_stats_snapshot {
    uint64_t v[BW_ST_COUNT];     /* summed over every worker slot */
    uint64_t requests_per_minute;/* as of the last tick */
    uint64_t connections_open;   /* gauge: open connections of live workers */
    uint64_t scans_waiting;      /* gauge: ICAP scans queued for a pool thread */
    uint64_t scans_running;      /* gauge: ICAP scans on a pool thread */
    unsigned workers;            /* configured workers (or slots, if never set) */
    unsigned workers_alive;      /* as last set by the supervisor */
    uint64_t uptime_s;           /* since bw_stats_create */
    uint64_t start_time;         /* Unix time of bw_stats_create */
    unsigned ngroups;            /* group slots in use (>= 1: slot 0 is the default) */
    const char *group_name[BW_STATS_MAX_GROUPS]; /* point into the region */
    uint64_t group_requests[BW_STATS_MAX_GROUPS];
    uint64_t group_detections[BW_STATS_MAX_GROUPS];
} bw_stats_snapshot_t;

/* Maps the shared region; call before forking.  `group_names` has `ngroups`
 * entries naming slots 0..ngroups-1 (slot 0 is the default group; a NULL name
 * reads "default", another NULL or empty name "groupN"); group_names may be
 * NULL when ngroups <= 1.  Bytes outside [A-Za-z0-9_.-] become '_'.  Returns NULL
 * if nworkers is 0 or above BW_STATS_MAX_WORKERS, ngroups above
 * BW_STATS_MAX_GROUPS, or mmap fails. */
bw_stats_t *bw_stats_create(unsigned nworkers, unsigned ngroups, const char *const *group_names);
void bw_stats_destroy(bw_stats_t *s);

/* ---- writers: what the protocol layers use ---------------------------------
 * One writer's slot, as a handle.  Every function below accepts NULL (no
 * statistics) and ignores out-of-range arguments. */
typedef struct bw_stats_slot bw_stats_slot_t;
/* The handle of slot `slot`, or NULL when there is no such slot (the owner
 * calls this; the pointer is valid in every process forked after create). */
bw_stats_slot_t *bw_stats_slot(bw_stats_t *s, unsigned slot);
void bw_stats_slot_add(bw_stats_slot_t *w, enum bw_stat k, uint64_t n);
/* One scanned object (see bw_stats_verdict). */
void bw_stats_slot_verdict(bw_stats_slot_t *w, int status, uint64_t bytes);
/* One request of the group named `group` (NULL or unknown: the default
 * group), and one detection if `detected`. */
void bw_stats_slot_group(bw_stats_slot_t *w, const char *group, int detected);
/* Open-connection gauge: +1 on accept, -1 on close. */
void bw_stats_slot_conns(bw_stats_slot_t *w, int delta);
/* Scan-queue gauges (see bw_stats_scan_delta). */
void bw_stats_slot_scans(bw_stats_slot_t *w, int waiting, int running);

/* ---- the owner's side, by slot index ------------------------------------- */

/* Adds n to counter k of `worker`'s slot.  Out-of-range arguments are
 * ignored (never a crash).  One relaxed atomic add. */
void bw_stats_add(bw_stats_t *s, unsigned worker, enum bw_stat k, uint64_t n);
/* Counts one request of group slot `group` (and one detection if `detected`).
 * A slot not in use counts under the default group 0. */
void bw_stats_group(bw_stats_t *s, unsigned worker, unsigned group, int detected);
/* One scanned request of `bytes` body bytes with verdict status `status`
 * (a bw_status_t of bulwark.h): the request, its status's counter and the
 * traffic counters.  ICAP and clamd count through this one function. */
void bw_stats_verdict(bw_stats_t *s, unsigned worker, int status, uint64_t bytes);
/* Open-connection gauge of `worker`: +1 on accept, -1 on close. */
void bw_stats_conn_delta(bw_stats_t *s, unsigned worker, int delta);
/* ICAP scan gauges of `worker`: a scan queued for a pool thread is
 * (+1, 0), taking its thread (-1, +1), done (0, -1).  They show how close a
 * worker is to MaxQueuedScans, and let a test see a thread busy. */
void bw_stats_scan_delta(bw_stats_t *s, unsigned worker, int waiting, int running);
/* The supervisor saw `worker` die: its gauges go to zero (its connections died
 * with it); its counters stay. */
void bw_stats_worker_exited(bw_stats_t *s, unsigned worker);
void bw_stats_set_workers_alive(bw_stats_t *s, unsigned n);
/* The configured worker count (MaxChildren), when it differs from the slot
 * count given to bw_stats_create (bulwarkd keeps spare slots for reloads). */
void bw_stats_set_workers_configured(bw_stats_t *s, unsigned n);

/* Group slots by name (supervisor only, e.g. after a reload): finds `name`
 * or gives it the next free slot.  Returns the slot, or 0 (the default
 * group) when the table is full or name is NULL/empty/"default". */
unsigned bw_stats_group_slot(bw_stats_t *s, const char *name);
/* Lookup only (any process): the slot of `name`, or 0 when unknown. */
unsigned bw_stats_group_find(const bw_stats_t *s, const char *name);

/* Called once a second by the supervisor: samples the request total into a
 * 60-second ring and updates requests_per_minute. */
void bw_stats_tick(bw_stats_t *s);
/* The same at `sec` seconds after bw_stats_create (for tests and callers with
 * their own clock).  Seconds skipped since the last tick are filled with the
 * last known total; a tick for a second already sampled (or second 0) does
 * nothing. */
void bw_stats_tick_at(bw_stats_t *s, uint64_t sec);

void bw_stats_read(const bw_stats_t *s, bw_stats_snapshot_t *out);

/* The counters as `name value` lines (the counters file, `bulwark ctl
 * stats`); malloc'd, NULL on allocation failure. */
char *bw_stats_text(const bw_stats_t *s);
/* Writes bw_stats_text atomically: a temporary file in the same directory,
 * then rename(), so a reader never sees a partial file.  BW_OK or BW_ERR with
 * errno set (the temporary file is removed). */
int bw_stats_write_file(const bw_stats_t *s, const char *path);
/* The Prometheus text exposition format 0.0.4, with HELP and TYPE lines;
 * malloc'd, NULL on allocation failure. */
char *bw_stats_prometheus(const bw_stats_t *s);

/* The name of counter k in the counters file ("requests", "infected"...). */
const char *bw_stats_name(enum bw_stat k);

#endif
