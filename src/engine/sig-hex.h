/* SPDX-License-Identifier: Apache-2.0 */
/* The ClamAV hex-signature compiler and the part verifier.
 *
 * bw_hex_compile() is a pure parser over (hex, len): it appends tokens, alts,
 * bytes and parts to the database arrays and never reads anything else.  It
 * accepts the full body syntax: hex pairs, `??`, `a?`, `?a`, `*`, `{n}`, `{-n}`,
 * `{n-}`, `{n-m}`, `(aa|bb)` (alternatives may differ in length and hold
 * nibble wildcards), `!(aa|bb)`, and the boundaries `(B)`, `(L)`, `(W)`.
 *
 * Splitting: the signature is cut into parts at `*` and `{n-}` and at any
 * `{n-m}` whose upper bound would make a part longer than BW_PART_EXTENT_MAX;
 * the cut gap becomes the next part's gap_min/gap_max.  Each part gets as
 * anchor its longest BYTES token; a part whose longest exact run is shorter
 * than BW_ANCHOR_MIN makes the whole signature unusable (BW_DECLINED, with the
 * reason in err), because a prefilter on one byte would fire on everything.
 */
#ifndef BW_ENGINE_SIG_HEX_H
#define BW_ENGINE_SIG_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "core/chars.h"
#include "core/err.h"
#include "sigdb-t.h"

/* Most variable-width elements (range gaps, alternatives of differing
 * lengths) one part may hold: the verifier backtracks over them with a
 * fixed-size stack.  A part with more is BW_DECLINED. */
#define BW_PART_CHOICES_MAX 128
/* Work bound of one bw_part_verify() call, in token attempts and gap
 * candidates; past it the search stops (see sig-match.c). */
#define BW_VERIFY_STEPS_MAX 100000

/* bw_hexval (one hex digit's value) is core/chars.h's. */

/* Compiles one hex signature into db as a new body signature (appended to
 * db->bsigs, with off_kind ANY and owner/subsig 0: the caller fills those in).
 * part_flags (BW_PARTF_*) are applied to every part; wide != 0 compiles the
 * UTF-16LE form (each byte followed by 00) as ClamAV's ::w does.
 * Returns BW_OK and sets *bsig_index; BW_ERR (malformed, err says
 * "byte N: what"); BW_DECLINED (valid but unusable here, err says why).
 * On any failure the arrays are rolled back to their previous lengths. */
int bw_hex_compile(bw_sigdb_t *db, const char *hex, size_t len, uint32_t part_flags, int wide,
                   uint32_t *bsig_index, bw_err_t *err);

/* Verifies one part against data held in a window.
 *   win[0] is stream offset win_off; win_len bytes are available;
 *   anchor_start is the stream offset where the anchor literal begins (the
 *   prefilter reported its end);
 *   at_eof: no more bytes will come (boundaries at the end count as edges).
 * The caller guarantees the window covers [anchor_start - max_before,
 * anchor_end + max_after) or the stream edges.
 * Returns 1 on a match, with *m_start and *m_end the stream offsets of the part's
 * first byte and one past its last; 0 otherwise.  When gaps or alternatives
 * allow several matches, the one with the latest start and then the earliest
 * end is reported (the most permissive for chaining parts). */
int bw_part_verify(const bw_sigdb_t *db, const bw_part_t *p, const uint8_t *win, uint64_t win_off,
                   size_t win_len, uint64_t anchor_start, int at_eof, uint64_t *m_start,
                   uint64_t *m_end);

#endif
