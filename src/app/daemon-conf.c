/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's keys.  Names follow kav4proxy.conf. */
#include "app/daemon-conf.h"

#include <stddef.h>

#define OFF(f) offsetof(bw_daemon_conf_t, f)

static const bw_conf_key_t keys[] = {
    {"path", "BasesPath", BW_CONF_PATH, BW_CONF_REPEATABLE, "/var/lib/bulwark/db", 1, 4096,
     OFF(bases), NULL, NULL, NULL, 0, NULL,
     "signature database directory or file (repeatable; relative to this file)"},
    {"path", "CacheDir", BW_CONF_PATH, 0, "", 0, 4096, OFF(cache_dir), NULL, NULL, NULL, 0, NULL,
     "compiled-database cache directory (empty: a temporary one; a reload compiles there in the "
     "background); written and trusted only as root: created root's 0755, and refused (compiled "
     "instead) if anyone else can write it"},
    {"path", "ControlSocket", BW_CONF_PATH, 0, BW_DEFAULT_CTL_SOCKET, 0, 107, OFF(control_socket),
     NULL, NULL, NULL, 0, NULL,
     "unix socket of `bulwark ctl` (mode 0600, owned by root; empty: none)"},
    {"path", "PidFile", BW_CONF_PATH, 0, "/run/bulwark/bulwarkd.pid", 0, 4096, OFF(pid_file), NULL,
     NULL, NULL, 0, NULL, "the supervisor's process id (empty: none)"},
    {"path", "CorePath", BW_CONF_PATH, 0, "", 0, 4096, OFF(core_path), NULL, NULL, NULL, 0, NULL,
     "directory where a crashing worker dumps core (empty: no core dumps); see docs/operations.md"},
    {"icapserver.network", "ListenAddress", BW_CONF_STRING, BW_CONF_REPEATABLE, "127.0.0.1:1344", 3,
     300, OFF(listen), NULL, NULL, NULL, 0, NULL,
     "address:port to listen on (repeatable; [::1]:1344 for IPv6, *:1344 for all)"},
    {"icapserver.network", "Timeout", BW_CONF_DURATION, 0, "60s", 100, 86400000, OFF(timeout_ms),
     NULL, NULL, NULL, 0, NULL, "idle or stalled client timeout (a plain number is seconds)"},
    {"icapserver.process", "MaxChildren", BW_CONF_UINT, 0, "0", 0, 256, OFF(max_children), NULL,
     NULL, NULL, 0, NULL, "worker processes (0: one per CPU core)"},
    {"icapserver.process", "MaxReqsPerChild", BW_CONF_UINT, 0, "0", 0, 0, OFF(max_reqs_per_child),
     NULL, NULL, NULL, 0, NULL, "recycle a worker after this many requests: it finishes them, exits and is replaced (0: never)"},
    {"icapserver.process", "User", BW_CONF_STRING, 0, "bulwark", 0, 64, OFF(user), NULL, NULL, NULL,
     0, NULL, "workers drop to this user when started as root (empty: stay root, not recommended)"},
    {"icapserver.process", "Group", BW_CONF_STRING, 0, "", 0, 64, OFF(group), NULL, NULL, NULL, 0,
     NULL, "workers' group (empty: the user's primary group)"},
    {"icapserver.process", "StopTimeout", BW_CONF_DURATION, 0, "30s", 100, 3600000,
     OFF(stop_timeout_ms), NULL, NULL, NULL, 0, NULL,
     "how long a stopping or replaced worker may take to finish its requests before it is killed"},
    {"icapserver.report", "ReportFileName", BW_CONF_PATH, 0, "", 0, 4096, OFF(report_file), NULL,
     NULL, NULL, 0, NULL, "report log, one line per scanned object (empty: none); reopened on SIGHUP"},
};

const bw_conf_table_t bw_daemon_conf_table = {
    "daemon", sizeof(bw_daemon_conf_t), keys, BW_CONF_NKEYS(keys), NULL, NULL,
};
