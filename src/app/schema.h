/* SPDX-License-Identifier: Apache-2.0 */
/* The one registration table of configuration sections: every program that
 * reads bulwark.conf (bulwarkd, `bulwark update`, `bulwark quarantine`,
 * `bulwark ctl start`) loads it against this schema, so they all accept the
 * same file and reject the same mistakes.  (The other `bulwark ctl` verbs read
 * only ControlSocket, leniently: the daemon judges the file; ctl-client.h.) */
#ifndef BW_APP_SCHEMA_H
#define BW_APP_SCHEMA_H

#include "core/conf.h"

extern const bw_conf_schema_t bw_app_schema;

/* The default configuration file. */
#define BW_DEFAULT_CONF "/etc/bulwark/bulwark.conf"

#endif
