/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own configuration keys: paths, listeners, processes, report. */
#ifndef BW_DAEMON_CONF_H
#define BW_DAEMON_CONF_H

#include <stdint.h>

#include "core/conf-t.h"

/* [path] ControlSocket when the file does not set it (`bulwark ctl` uses it
 * too, when it cannot read the file). */
#define BW_DEFAULT_CTL_SOCKET "/run/bulwark/bulwarkd.ctl"

typedef struct bw_daemon_conf {
    bw_conf_list_t bases;       /* [path] BasesPath, char * items */
    char *cache_dir;            /* [path] CacheDir */
    bw_conf_list_t listen;      /* [icapserver.network] ListenAddress, char * items */
    uint64_t timeout_ms;        /* [icapserver.network] Timeout */
    uint64_t max_children;      /* [icapserver.process] MaxChildren (0: one per core) */
    uint64_t max_reqs_per_child;/* [icapserver.process] MaxReqsPerChild (0: never recycle) */
    char *report_file;          /* [icapserver.report] ReportFileName */
    char *user, *group;         /* [icapserver.process] User, Group: workers run as these ("" = stay) */
    uint64_t stop_timeout_ms;   /* [icapserver.process] StopTimeout: bound on a graceful stop/drain */
    char *core_path;            /* [path] CorePath: workers dump core here ("" = no dumps) */
    char *control_socket;       /* [path] ControlSocket: `bulwark ctl` talks here ("" = none) */
    char *pid_file;             /* [path] PidFile ("" = none) */
} bw_daemon_conf_t;

extern const bw_conf_table_t bw_daemon_conf_table;

#endif
