/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP service's configuration keys (kav4proxy.conf names).  This module
 * declares its own table; the daemon only adds it to the schema. */
#ifndef BW_ICAP_CONF_H
#define BW_ICAP_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf-t.h"

/* What to do with an object of a given status. */
/* QUARANTINE is a deny that also stores the object (src/quarantine). */
typedef enum bw_action { BW_ACT_SKIP = 0, BW_ACT_DENY, BW_ACT_CURE, BW_ACT_QUARANTINE } bw_action_t;

/* How a body the client cannot keep a copy of is answered (see icap-conn.c). */
enum { BW_ANSWER_PARTIAL = 0, BW_ANSWER_COMPLETE };

typedef struct bw_icap_conf {
    /* [icapserver.protocol] */
    uint64_t preview_size;
    uint64_t max_connections;
    bool allow204;
    bool allow206;
    char *respmod_url;
    char *reqmod_url;
    bw_conf_list_t scan_urls; /* char * items: paths taking both methods (NAS profile, c-icap clients) */
    uint64_t max_queued_scans; /* scans waiting for a thread; more requests get 503 (0: no bound) */
    char *client_ip_header;
    char *user_header;
    char *service_name;
    uint64_t options_ttl;   /* seconds */
    int answer_mode;        /* BW_ANSWER_PARTIAL or BW_ANSWER_COMPLETE */
    uint64_t hold_back;     /* partial: bytes held until the verdict */
    uint64_t max_send_delay_ms; /* partial: the longest any byte is held (0: until the verdict) */
    /* [icapserver.filter] */
    uint64_t max_req_length;
    bw_conf_list_t exclude_mime;   /* char * items: POSIX ERE on the Content-Type */
    bw_conf_list_t exclude_url;    /* char * items: POSIX ERE on the URL */
    bool block_partial_exec;       /* a 206 fragment of an executable is SUSPICIOUS */
    /* [icapserver.actions] */
    int infected_action, suspicious_action, warning_action, protected_action;
    int corrupted_action, error_action, cured_action, maxreqlength_action, timeout_action;
    /* [icapserver.engine.options] */
    bool scan_archives;
    bool cure;
    uint64_t max_scan_time_ms;
    uint64_t max_nesting_level;
    uint64_t max_files;
    uint64_t max_file_size;
    uint64_t max_scan_size;
    /* [icapserver.notify] */
    char *template_dir;
    /* [icapserver.network]: ICAP over TLS (icaps://), see icap-tls.h */
    bw_conf_list_t tls_listen;  /* char * items: TlsListenAddress */
    char *tls_cert;             /* TlsCertificateFile (PEM, the chain after the leaf) */
    char *tls_key;              /* TlsPrivateKeyFile (PEM) */
    /* [icapserver.network]: whole deadlines, against clients that trickle
     * bytes to keep the idle Timeout from expiring (icap-conn-deadline.c) */
    uint64_t header_timeout_ms;     /* HeaderTimeout: ICAP head + encapsulated headers */
    uint64_t tls_handshake_ms;      /* TlsHandshakeTimeout */
    uint64_t min_body_rate;         /* MinBodyRate: bytes per second (0: no rule) */
    uint64_t min_body_rate_ms;      /* MinBodyRatePeriod: the window it is measured over */
} bw_icap_conf_t;

extern const bw_conf_table_t bw_icap_conf_table;

#endif
