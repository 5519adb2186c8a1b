/* SPDX-License-Identifier: Apache-2.0 */
/* The vocabulary every layer shares, from core up: the internal result codes
 * and the verdict statuses with their names.  It belongs to the core layer
 * (docs/ARCHITECTURE.md), so core code says BW_OK and BW_INFECTED without
 * knowing the engine; the engine's public header includes it. */
#ifndef BULWARK_CORE_H
#define BULWARK_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

/* The release, for --version, the events' CEF header and the like. */
#define BW_VERSION "0.1.0"

/* Internal result codes: one small set, translated to protocol codes only at
 * the protocol edge. */
enum {
    BW_OK = 0,
    BW_ERR = -1,
    BW_AGAIN = -2,
    BW_DECLINED = -3,
    BW_DONE = 1, /* bw_scan_feed: the verdict is decided, more bytes change nothing */
};

typedef enum bw_status {
    BW_CLEAN = 0,
    BW_CURED,
    BW_ERROR,
    BW_CORRUPTED,
    BW_PROTECTED,
    BW_TIMEOUT,
    BW_TOO_LARGE,
    BW_SUSPICIOUS,
    BW_WARNING,
    BW_INFECTED,
    BW_STATUS_COUNT
} bw_status_t;
/* The numeric order above is the severity order: when one object yields
 * several findings (members of an archive), the highest value wins. */

const char *bw_status_name(bw_status_t s);           /* "CLEAN", "INFECTED", ... */
int bw_status_from_name(const char *name, bw_status_t *out); /* BW_OK / BW_ERR */

#ifdef __cplusplus
}
#endif
#endif
