/* SPDX-License-Identifier: Apache-2.0 */
/* The [clamd] section: bulwarkd as a drop-in clamd.  Key names are clamd.conf's,
 * so an administrator can carry the lines of an existing clamd.conf over; the
 * few keys clamd does not have (EnableShutdownCommand, ScanPathAllow, ...) are
 * Bulwark's and documented in docs/clamd.md. */
#ifndef BW_CLAMD_CONF_H
#define BW_CLAMD_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf-t.h"

/* Who may use SHUTDOWN / RELOAD. */
enum { BW_CLAMD_CMD_OFF = 0, BW_CLAMD_CMD_ON, BW_CLAMD_CMD_LOCAL };

typedef struct bw_clamd_conf {
    /* listeners: clamd is off unless TCPSocket or LocalSocket is set */
    uint64_t tcp_port;            /* TCPSocket (0: no TCP listener) */
    bw_conf_list_t tcp_addr;      /* TCPAddr, char * items (none: 0.0.0.0) */
    char *local_socket;           /* LocalSocket ("" : none) */
    char *local_socket_mode;      /* LocalSocketMode, octal text ("" : leave the umask's) */
    char *local_socket_group;     /* LocalSocketGroup ("" : the process's group) */
    bool fix_stale_socket;        /* FixStaleSocket */
    uint64_t backlog;             /* MaxConnectionQueueLength */
    uint64_t max_queue;           /* MaxQueue: open connections per worker, then it stops accepting */
    /* protocol */
    uint64_t stream_max;          /* StreamMaxLength, bytes */
    uint64_t command_timeout_ms;  /* CommandReadTimeout: the first command */
    uint64_t read_timeout_ms;     /* ReadTimeout: later commands and INSTREAM data */
    uint64_t max_line;            /* MaxCommandLength */
    uint64_t max_session_jobs;    /* MaxSessionJobs: commands in flight per IDSESSION */
    int enable_shutdown;          /* EnableShutdownCommand: BW_CLAMD_CMD_* */
    int enable_reload;            /* EnableReloadCommand */
    bool allow_allmatch;          /* AllowAllMatchScan */
    /* engine limits, as clamd.conf names them */
    uint64_t max_scan_size;       /* MaxScanSize */
    uint64_t max_file_size;       /* MaxFileSize */
    uint64_t max_recursion;       /* MaxRecursion */
    uint64_t max_files;           /* MaxFiles */
    uint64_t max_scan_time_ms;    /* MaxScanTime (a plain number is milliseconds, as in clamd) */
    bool scan_archive;            /* ScanArchive */
    /* which statuses become FOUND besides detections */
    bool alert_encrypted;         /* AlertEncrypted: PROTECTED -> FOUND */
    bool alert_exceeds_max;       /* AlertExceedsMax: limits -> Heuristics.Limits.Exceeded.* FOUND */
    bool alert_broken;            /* AlertBroken: CORRUPTED -> FOUND */
    /* SCAN of paths */
    bw_conf_list_t scan_allow;    /* ScanPathAllow, char * items: trees TCP clients may scan */
    bw_conf_list_t local_allow;   /* LocalScanPathAllow: trees unix-socket clients may scan */
    uint64_t max_dir_recursion;   /* MaxDirectoryRecursion */
} bw_clamd_conf_t;

extern const bw_conf_table_t bw_clamd_conf_table;

/* 1 when the configuration opens any clamd listener. */
int bw_clamd_conf_enabled(const bw_clamd_conf_t *cc);

#endif
