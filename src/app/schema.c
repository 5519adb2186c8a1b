/* SPDX-License-Identifier: Apache-2.0 */
/* Every module's key table, in the order `--config-doc` documents them.  A
 * new module adds one line here (and nothing else) to own a section. */
#include "app/schema.h"

#include "app/daemon-conf.h"
#include "app/stats-conf.h"
#include "clamd/clamd-conf.h"
#include "rscan/rscan.h"
#include "events/events-conf.h"
#include "icap/icap-conf.h"
#include "link/link-conf.h"
#include "policy/groups.h"
#include "policy/notify.h"
#include "quarantine/quarantine.h"
#include "update/update-conf.h"

static const bw_conf_table_t *const tables[] = {
    &bw_daemon_conf_table, &bw_icap_conf_table, &bw_groups_conf_table,
    &bw_notify_conf_table, &bw_stats_conf_table,
    &bw_clamd_conf_table,
    &bw_rscan_conf_table,
    &bw_quar_conf_table,
    &bw_update_conf_table,
    &bw_events_conf_table,
    &bw_link_conf_table,
};

const bw_conf_schema_t bw_app_schema = {tables, sizeof tables / sizeof *tables};
