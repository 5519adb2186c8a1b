/* SPDX-License-Identifier: Apache-2.0 */
/* bulwark-agent: on-access scanning with fanotify.  The pieces:
 *   agent-conf.c    the [agent], [scanner] and [drop] keys and the profiles
 *   agent-excl.c    exclusions (pure: path prefix, glob, extension, process, user)
 *   agent-cache.c   the verdict cache and the in-flight table (one scan per inode)
 *   agent-fan.c     the fanotify loop, the deadline keeper and the scanning threads
 *   agent-scan.c    scanning one file, the actions, events and the report line
 *   agent-ctl.c     the control socket (`status`)
 *   agent-drop.c    drop-folder mode (inotify)
 *   agent-main.c    options, quick start, the respawning supervisor
 * docs/agent.md explains the design and what the kernel allows. */
#ifndef BW_AGENT_H
#define BW_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bulwark/bulwark.h"
#include "core/conf-t.h"
#include "core/err.h"

enum { BW_AG_PROFILE_HIGH = 0, BW_AG_PROFILE_RECOMMENDED, BW_AG_PROFILE_LOW };
enum { BW_AG_FAIL_OPEN = 0, BW_AG_FAIL_CLOSED = 1 };
enum { BW_AG_EV_OPEN = 1, BW_AG_EV_EXEC = 2, BW_AG_EV_CLOSE_WRITE = 4 };
/* Action bits per status. */
enum {
    BW_AG_ACT_REPORT = 0,
    BW_AG_ACT_BLOCK = 1,
    BW_AG_ACT_QUARANTINE = 2,
    BW_AG_ACT_DELETE = 4,
    BW_AG_ACT_CURE = 8,
};

/* The [agent] section as stored by the conf table. */
typedef struct bw_agent_conf {
    bw_conf_list_t paths;        /* Paths */
    bw_conf_list_t events;       /* Events: open, exec, close-write */
    bw_conf_list_t excl_path;    /* ExcludePath */
    bw_conf_list_t excl_glob;    /* ExcludeGlob */
    bw_conf_list_t excl_ext;     /* ExcludeExtension */
    bw_conf_list_t excl_proc;    /* ExcludeProcess */
    bw_conf_list_t excl_user;    /* ExcludeUser (names or uids) */
    int profile;                 /* Profile */
    uint64_t deadline_ms;        /* Deadline */
    int fail_mode;               /* FailMode */
    uint64_t max_file_size;      /* MaxFileSize */
    bool archives;               /* Archives */
    uint64_t scan_timeout_ms;    /* ScanTimeout */
    uint64_t threads;            /* Threads */
    uint64_t cache_entries;      /* CacheEntries */
    bool ignore_marks;           /* IgnoreMarks */
    bw_conf_list_t actions;      /* Action: "STATUS action[,action]" */
    char *quarantine_dir;        /* QuarantineDirectory */
    char *control_socket;        /* ControlSocket */
} bw_agent_conf_t;

typedef struct bw_agent_scanner_conf {
    int mode;                    /* Mode: local|remote */
    char *server, *ca_file, *cert, *key;
    int fallback;                /* Fallback: local|open|closed */
    char *db_dir;                /* DatabaseDirectory */
} bw_agent_scanner_conf_t;

typedef struct bw_agent_drop_conf {
    bw_conf_list_t dirs;         /* Directories */
    bool record_clean;           /* RecordClean */
} bw_agent_drop_conf_t;

extern const bw_conf_table_t bw_agent_conf_table;
extern const bw_conf_table_t bw_agent_scanner_conf_table;
extern const bw_conf_table_t bw_agent_drop_conf_table;

/* ---- agent-excl.c -------------------------------------------------------- */
typedef struct bw_agent_excl {
    char **paths;  size_t npaths;   /* prefixes, without trailing '/' */
    char **globs;  size_t nglobs;   /* fnmatch over the full path */
    char **exts;   size_t nexts;    /* without the dot, compared case-insensitively */
    char **procs;  size_t nprocs;   /* /proc/PID/comm names */
    uid_t *uids;   size_t nuids;
} bw_agent_excl_t;

/* Each list is NULL-terminated strings (conf lists are).  Users by name or number. */
int bw_agent_excl_init(bw_agent_excl_t *x, char *const *paths, char *const *globs,
                       char *const *exts, char *const *procs, char *const *users, bw_err_t *err);
void bw_agent_excl_free(bw_agent_excl_t *x);
/* Whether path (absolute) is excluded by prefix, glob or extension. */
bool bw_agent_excl_path(const bw_agent_excl_t *x, const char *path);
bool bw_agent_excl_proc(const bw_agent_excl_t *x, const char *comm, uid_t uid);
/* Whether path is under one of prefixes (NULL-terminated; "/" covers all). */
bool bw_agent_under(char *const *prefixes, const char *path);

/* ---- agent-cache.c ------------------------------------------------------- */
typedef struct bw_agent_key {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
} bw_agent_key_t;

typedef struct bw_agent_cache bw_agent_cache_t;
bw_agent_cache_t *bw_agent_cache_new(size_t entries);
void bw_agent_cache_free(bw_agent_cache_t *c);
/* 1 and *status when the key is known, else 0. */
int bw_agent_cache_get(bw_agent_cache_t *c, const bw_agent_key_t *k, bw_status_t *status);
void bw_agent_cache_put(bw_agent_cache_t *c, const bw_agent_key_t *k, bw_status_t status);
/* Forgets every entry of (dev, ino), whatever its times. */
void bw_agent_cache_drop(bw_agent_cache_t *c, uint64_t dev, uint64_t ino);
size_t bw_agent_cache_count(bw_agent_cache_t *c);

/* ---- the running agent --------------------------------------------------- */
typedef struct bw_agent_stats {
    atomic_ullong events, perm_events, scans, cache_hits, ignore_marks, allowed, blocked,
        deadline_misses, excluded, own, quarantined, deleted, cured, errors, drop_scanned,
        queue_full, remote_scans, remote_cached, remote_failures, fallback_local, fallback_open,
        fallback_closed;
} bw_agent_stats_t;

typedef struct bw_agent bw_agent_t;

/* A scan result, for actions and events. */
typedef struct bw_agent_result {
    bw_status_t status;
    char threat[256];
    int actions;        /* what the policy asked */
    int done;           /* what was done (action bits) */
    bool skipped;       /* not scanned: too large, excluded */
} bw_agent_result_t;

struct bw_agent {
    bw_agent_conf_t conf;
    bw_agent_scanner_conf_t scanner;
    bw_agent_drop_conf_t drop;
    int events_mask;            /* BW_AG_EV_* */
    int act[BW_STATUS_COUNT];   /* action bits per status */
    bw_limits_t limits;
    bw_engine_t *engine;
    bw_agent_excl_t excl;
    bw_agent_cache_t *cache;
    struct bw_quar_store *quar;
    pthread_mutex_t quar_lock;
    bw_agent_stats_t st;
    pid_t self, parent;         /* parent: the supervisor, when respawning */
    int fan_fd;
    volatile int stop;
    time_t started;
    atomic_int remote_down;     /* the scanning server failed last time */
    unsigned test_delay_ms;     /* BW_AGENT_TEST_SCAN_DELAY_MS: tests of the Deadline only */
};

/* agent-conf.c: applies the profile and the explicit keys to a. */
int bw_agent_setup(bw_agent_t *a, const void *conf_state, bw_err_t *err);
int bw_agent_parse_actions(char *const *lines, int act[BW_STATUS_COUNT], bw_err_t *err);
void bw_agent_profile_defaults(int profile, int act[BW_STATUS_COUNT], int *fail_mode,
                               uint64_t *max_size, bool *archives, uint64_t *timeout_ms);
const char *bw_agent_actions_name(int bits, char *buf, size_t cap);

/* agent-scan.c: scans the open fd (path for reports), applies the actions
 * except BLOCK (the caller answers the kernel) and emits the event.
 * act: the action bits per status (NULL: the agent's). */
void bw_agent_scan_fd(bw_agent_t *a, int fd, const char *path, pid_t pid, const char *how,
                      const int *act, bw_agent_result_t *r);
/* The comm and uid of pid ("?" and -1 when it has gone). */
void bw_agent_proc_info(pid_t pid, char comm[32], uid_t *uid);

/* agent-fan.c */
int bw_agent_fan_run(bw_agent_t *a, bw_err_t *err);

/* agent-ctl.c: a thread serving ControlSocket. */
int bw_agent_ctl_start(bw_agent_t *a, const char *path, bw_err_t *err);
void bw_agent_ctl_status(bw_agent_t *a, char *buf, size_t cap);

/* agent-drop.c: a thread watching [drop] Directories. */
int bw_agent_drop_start(bw_agent_t *a, bw_err_t *err);

#endif
