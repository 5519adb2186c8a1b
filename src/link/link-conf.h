/* SPDX-License-Identifier: Apache-2.0 */
/* The [console] keys: where the node's link to bulwark-console points, and
 * where it keeps what enrolment and policies give it (docs/console-nodes.md).
 * The table lives with the link (link-conf.c) but this header is part of the
 * app layer (docs/ARCHITECTURE.md): the one schema (src/app/schema.c) lists
 * it, and the daemon's generation build reads PolicyFile from it. */
#ifndef BW_LINK_CONF_H
#define BW_LINK_CONF_H

#include <stdint.h>

#include "core/conf-t.h"

typedef struct bw_link_conf {
    char *url;              /* Url: https://console:8443 ("" = no console link) */
    char *ca_file;          /* CAFile: PEM CA that signed the console's certificate ("" = system) */
    char *enroll_token;     /* EnrollToken: one-time enrolment token ("" = none) */
    char *credential_file;  /* CredentialFile: the node's credential, written at enrolment */
    char *group;            /* Group: the group asked for at enrolment ("" = the token's) */
    uint64_t poll_ms;       /* PollInterval: heartbeat, tasks and policy */
    uint64_t batch_size;    /* BatchSize: events per POST */
    uint64_t max_backoff_ms;/* MaxRetryInterval: cap of the back-off between failed tries */
    char *policy_file;      /* PolicyFile: the applied policy fragment */
    char *restore_dir;      /* RestoreDirectory: quarantine.restore writes here */
} bw_link_conf_t;

extern const bw_conf_table_t bw_link_conf_table;

#endif
