/* SPDX-License-Identifier: Apache-2.0 */
/* Internal scan interface shared by the scan pipeline and the unpackers.
 *
 * A container member is scanned by a child scan: same engine, depth + 1, the
 * path "parent/member", and the top-level object's budgets (scanned bytes,
 * deadline, member count) shared through the root.  A child's findings are
 * merged into its parent when the child ends.
 */
#ifndef BW_ENGINE_SCAN_INT_H
#define BW_ENGINE_SCAN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bulwark/bulwark.h"
#include "ftype.h"
#include "core/spool.h"

/* Starts a scan of a member of s's object.  Returns NULL on out-of-memory. */
bw_scan_t *bw_scan_begin_child(bw_scan_t *parent, const char *member_name);
/* Ends the child, merges its findings into its parent, frees it. */
int bw_scan_end_child(bw_scan_t *child);

/* Records a finding at s's path (plus "/sub" when sub is not NULL):
 * status and a signature name or a reason ("limits exceeded: max files"). */
void bw_scan_report(bw_scan_t *s, bw_status_t st, const char *name, const char *sub);

/* Limits and budgets seen from inside an unpacker. */
const bw_limits_t *bw_scan_limits(const bw_scan_t *s);
uint32_t bw_scan_depth(const bw_scan_t *s);   /* 0 for the top-level object */
/* BW_OK while within time and byte budgets; otherwise reports TIMEOUT or
 * TOO_LARGE once (at the root) and returns BW_DONE: stop unpacking. */
int bw_scan_check_budget(bw_scan_t *s);
/* 1 when a detection already decided the verdict (and all_match is off). */
int bw_scan_decided(const bw_scan_t *s);

/* Unpacks a spooled container of type t and scans its members through child
 * scans of s.  Reports PROTECTED for encrypted members, CORRUPTED for broken
 * data in a container whose format was recognised, and limits as statuses.
 * Returns BW_OK (findings are in s) or BW_ERR (out of memory). */
int bw_unpack(bw_scan_t *s, const bw_spool_t *sp, bw_ftype_t t);

#endif
