/* The daemon's keys.  Names follow kav4proxy.conf. */
#include "app/daemon-conf.h"

#include <stddef.h>

#define OFF(f) offsetof(bw_daemon_conf_t, f)

static const bw_conf_key_t keys[] = {
    {"path", "BasesPath", BW_CONF_PATH, BW_CONF_REPEATABLE, "/var/lib/bulwark/db", 1, 4096,
     OFF(bases), NULL, NULL, NULL, 0, NULL,
     "signature database directory or file (repeatable; relative to this file)"},
    {"path", "CacheDir", BW_CONF_PATH, 0, "", 0, 4096, OFF(cache_dir), NULL, NULL, NULL, 0, NULL,
     "compiled-database cache directory (empty: no cache)"},
    {"icapserver.network", "ListenAddress", BW_CONF_STRING, BW_CONF_REPEATABLE, "127.0.0.1:1344", 3,
     300, OFF(listen), NULL, NULL, NULL, 0, NULL,
     "address:port to listen on (repeatable; [::1]:1344 for IPv6, *:1344 for all)"},
    {"icapserver.network", "Timeout", BW_CONF_DURATION, 0, "60s", 100, 86400000, OFF(timeout_ms),
     NULL, NULL, NULL, 0, NULL, "idle or stalled client timeout (a plain number is seconds)"},
    {"icapserver.process", "MaxChildren", BW_CONF_UINT, 0, "0", 0, 256, OFF(max_children), NULL,
     NULL, NULL, 0, NULL, "worker processes (0: one per CPU core)"},
    {"icapserver.process", "MaxReqsPerChild", BW_CONF_UINT, 0, "0", 0, 0, OFF(max_reqs_per_child),
     NULL, NULL, NULL, 0, NULL, "recycle a worker after this many requests, checked at its next connection (0: never)"},
    {"icapserver.report", "ReportFileName", BW_CONF_PATH, 0, "", 0, 4096, OFF(report_file), NULL,
     NULL, NULL, 0, NULL, "report log, one line per scanned object (empty: none); reopened on SIGHUP"},
};

const bw_conf_table_t bw_daemon_conf_table = {
    "daemon", sizeof(bw_daemon_conf_t), keys, BW_CONF_NKEYS(keys), NULL, NULL,
};
