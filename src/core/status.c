/* SPDX-License-Identifier: Apache-2.0 */
/* Status names: the vocabulary of bulwark/core.h. */
#include <strings.h>

#include "bulwark/core.h"

static const char *const status_names[BW_STATUS_COUNT] = {
    [BW_CLEAN] = "CLEAN",         [BW_CURED] = "CURED",         [BW_ERROR] = "ERROR",
    [BW_CORRUPTED] = "CORRUPTED", [BW_PROTECTED] = "PROTECTED", [BW_TIMEOUT] = "TIMEOUT",
    [BW_TOO_LARGE] = "TOO_LARGE", [BW_SUSPICIOUS] = "SUSPICIOUS", [BW_WARNING] = "WARNING",
    [BW_INFECTED] = "INFECTED",
};

const char *bw_status_name(bw_status_t s)
{
    return (unsigned)s < BW_STATUS_COUNT ? status_names[s] : "UNKNOWN";
}

int bw_status_from_name(const char *name, bw_status_t *out)
{
    for (int i = 0; i < BW_STATUS_COUNT; i++) {
        if (!strcasecmp(name, status_names[i])) {
            *out = (bw_status_t)i;
            return BW_OK;
        }
    }
    return BW_ERR;
}
