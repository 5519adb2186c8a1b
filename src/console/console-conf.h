/* SPDX-License-Identifier: Apache-2.0 */
/* bulwark-console's configuration: its own file (console.conf), its own key
 * table, read by the same core/conf machinery as bulwark.conf. */
#ifndef BW_CONSOLE_CONF_H
#define BW_CONSOLE_CONF_H

#include <stdint.h>

#include "core/conf.h"

typedef struct bw_console_conf {
    char *listen;          /* ADDR:PORT */
    char *tls_cert, *tls_key;
    char *database_url;    /* empty: sqlite:DataDirectory/console.db */
    char *data_dir;
    uint64_t retention_days, retention_max_events;
    uint64_t retention_interval_ms;
    uint64_t session_timeout_ms;
    uint64_t lockout_threshold, lockout_time_ms;
    uint64_t max_batch_events, max_batch_bytes;
    uint64_t max_body_bytes;  /* every other request body */
    uint64_t threads;
    char *ui_dir, *js_dir;
} bw_console_conf_t;

extern const bw_conf_table_t bw_console_conf_table;
extern const bw_conf_schema_t bw_console_schema;

#define BW_CONSOLE_DEFAULT_CONF "/etc/bulwark/console.conf"
#define BW_CONSOLE_INSTALLED_UI "/usr/share/bulwark/console-ui"

/* The quick start: the defaults with DataDirectory and Listen given on the
 * command line, as if a file said just that (so the same checks run). */
int bw_console_conf_quick(const char *data_dir, const char *listen, bw_conf_state_t **out,
                          bw_err_t *err);

#endif
