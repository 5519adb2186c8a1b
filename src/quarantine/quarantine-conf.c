/* SPDX-License-Identifier: Apache-2.0 */
/* The [quarantine] keys.  The section is ours (kav4proxy.conf has no
 * quarantine); it is read by bulwarkd, which stores objects, and by
 * `bulwark quarantine`, which manages them, so both agree on the directory.
 * Which objects go there is the policy's business: the `quarantine` value
 * of the [icapserver.actions] keys. */
#include <stddef.h>

#include "quarantine/quarantine.h"

#define OFF(f) offsetof(bw_quar_conf_t, f)

static const bw_conf_key_t keys[] = {
    {"quarantine", "QuarantineDir", BW_CONF_PATH, 0, "/var/lib/bulwark/quarantine", 1, 4000,
     OFF(dir), NULL, NULL, NULL, 0, NULL,
     "directory of quarantined objects (mode 0700; created with its parents by the supervisor "
     "at start and on reload, owned by the workers' User)"},
    {"quarantine", "MaxQuarantineSize", BW_CONF_SIZE, 0, "1G", 0, 0, OFF(max_total), NULL, NULL,
     NULL, 0, NULL, "bytes all quarantined objects may take; a new object that does not fit is "
                    "not stored, and logged (0: no limit)"},
    {"quarantine", "MaxObjectSize", BW_CONF_SIZE, 0, "100M", 0, 0, OFF(max_object), NULL, NULL,
     NULL, 0, NULL, "bytes kept of one object; a larger one is cut and its record says "
                    "partial: yes (0: no limit)"},
};

const bw_conf_table_t bw_quar_conf_table = {
    "quarantine", sizeof(bw_quar_conf_t), keys, BW_CONF_NKEYS(keys), NULL, NULL,
};
