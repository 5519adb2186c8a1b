/* SPDX-License-Identifier: Apache-2.0 */
/* The [events] keys (events-conf.c): the event stream of this node, its
 * spool and the extra outputs.  docs/events.md explains them. */
#ifndef BW_EVENTS_CONF_H
#define BW_EVENTS_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf-t.h"

enum { BW_EVOUT_FMT_RFC5424 = 0, BW_EVOUT_FMT_CEF = 1 };

typedef struct bw_events_conf {
    bool enable;               /* Enable: events at all */
    char *node_name;           /* NodeName ("": the host name) */
    char *spool_dir;           /* SpoolDirectory */
    uint64_t max_spool_size;   /* MaxSpoolSize: bytes */
    uint64_t segment_size;     /* SegmentSize: bytes */
    bool clean;                /* Clean: a scan event per clean object */
    uint64_t sync_interval_ms; /* SyncInterval (0: fdatasync after every event) */
    char *syslog_target;       /* SyslogTarget: udp://h:p, tcp://h:p, tls://h:p ("": none) */
    char *syslog_ca_file;      /* SyslogCAFile ("": the system's CAs) */
    int syslog_facility;       /* SyslogFacility: 0..23 */
    int syslog_format;         /* SyslogFormat: BW_EVOUT_FMT_* */
    char *cef_file;            /* CefFile: CEF lines to a file ("": none) */
    char *json_file;           /* JsonFile: JSON lines to a file ("": none) */
} bw_events_conf_t;

extern const bw_conf_table_t bw_events_conf_table;

/* "udp"/"tcp"/"tls", host and port of a SyslogTarget; BW_ERR with why. */
int bw_events_parse_target(const char *t, char *proto, size_t proto_len, char *host,
                           size_t host_len, char *port, size_t port_len, bw_err_t *err);

#endif
