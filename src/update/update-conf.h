/* SPDX-License-Identifier: Apache-2.0 */
/* The updater's configuration keys: section [updater.options].
 *
 * Names follow kav4proxy.conf's updater section where it has one
 * (UpdateServerUrl, PostUpdateCmd, ConnectTimeout, ProxyAddress, PassiveFtp);
 * the rest are Bulwark's.  bulwarkd loads this table too (every program reads
 * the same bulwark.conf), so a mistake here is refused by both. */
#ifndef BW_UPDATE_CONF_H
#define BW_UPDATE_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "core/conf-t.h"

enum { BW_UPDATE_SOURCE_URL = 0, BW_UPDATE_SOURCE_DIR = 1 };

typedef struct bw_update_conf {
    int source;                 /* UpdateSource: BW_UPDATE_SOURCE_* */
    char *server_url;           /* UpdateServerUrl: http/https/ftp/ftps base URL ("": none) */
    char *source_dir;           /* UpdateSourceDir ("": none) */
    char *public_key;           /* UpdatePublicKey: ed25519 PEM ("": signatures not checked) */
    char *post_cmd;             /* PostUpdateCmd: /bin/sh command ("": none) */
    uint64_t post_timeout_ms;   /* PostUpdateTimeout */
    char *publish_dir;          /* PublishDir ("": do not publish) */
    uint64_t connect_timeout_ms;/* ConnectTimeout */
    uint64_t timeout_ms;        /* Timeout: one transfer, start to end */
    uint64_t low_speed_limit;   /* LowSpeedLimit: bytes/s (0: no low-speed cutoff) */
    uint64_t low_speed_time_ms; /* LowSpeedTime: how long below LowSpeedLimit aborts */
    uint64_t retries;           /* Retries: extra attempts of a failed transfer */
    uint64_t retry_delay_ms;    /* RetryDelay */
    char *proxy;                /* ProxyAddress ("": libcurl's default, the *_proxy variables) */
    bool passive_ftp;           /* PassiveFtp */
    char *ca_file;              /* CaFile: CA bundle for https/ftps ("": the system's) */
    uint64_t max_set_size;      /* MaxSetSize: bytes, the whole set */
    uint64_t interval_ms;       /* UpdateInterval: --daemon period */
} bw_update_conf_t;

extern const bw_conf_table_t bw_update_conf_table;

#endif
