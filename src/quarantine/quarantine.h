/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantine store: objects kept encrypted, named by the SHA-256 of their
 * content, each with a metadata record beside it.  docs/quarantine.md says
 * why it is built this way; quarantine.c holds the directory logic,
 * quarantine-object.c the encrypted container, quarantine-meta.c the record.
 *
 *   bw_quar_store_t *s;
 *   if (bw_quar_open(dir, true, &s, &err)) ...
 *   bw_quar_meta_t m = {0};  ... fill origin, status, threats, client ...
 *   if (bw_quar_put(s, &m, read_fn, ctx, max_object, max_total, &err)) ...
 *   // m.sha256 is the id now
 *   bw_quar_close(s);
 *
 * Every path inside the directory is built here from a validated id; no
 * function takes a file name from its caller except the restore target.
 * Results: BW_OK; BW_DECLINED when the id names nothing in the store;
 * BW_ERR with "what is wrong" (and the file, and line for records) in err.
 */
#ifndef BW_QUARANTINE_H
#define BW_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bulwark/bulwark.h"
#include "core/buf.h"
#include "core/conf-t.h"
#include "core/err.h"
#include "quarantine/quarantine-t.h"

/* File names inside the directory. */
#define BW_QUAR_KEY_FILE "quarantine.key"
#define BW_QUAR_OBJ_EXT ".bwq"
#define BW_QUAR_META_EXT ".meta"

/* ---- quarantine-conf.c: the [quarantine] keys ------------------------------- */

extern const bw_conf_table_t bw_quar_conf_table;

/* ---- quarantine.c: the store ------------------------------------------------ */

/* Opens the quarantine at `dir`.  With `create` (the daemon) a missing
 * directory is made (mode 0700; its parent must exist) and a missing key
 * file is generated; without it (the CLI, which only reads and removes) both
 * must exist.  A directory or key that other users may read is refused. */
int bw_quar_open(const char *dir, bool create, bw_quar_store_t **out, bw_err_t *err);
void bw_quar_close(bw_quar_store_t *s);
const char *bw_quar_dir(const bw_quar_store_t *s);

/* Checks an id given by a user: BW_QUAR_MIN_PREFIX..64 hex digits, nothing
 * else ("../x", "", "abc" are refused).  Writes it lowercased to `out`. */
int bw_quar_id_check(const char *arg, char out[BW_QUAR_ID_LEN + 1], bw_err_t *err);

/* The full id of the one object or record whose id starts with `arg`.
 * BW_DECLINED when none does; BW_ERR for a bad or ambiguous id. */
int bw_quar_resolve(bw_quar_store_t *s, const char *arg, char id[BW_QUAR_ID_LEN + 1],
                    bw_err_t *err);

/* Stores content pulled from `fn` with the record `meta` (the caller fills
 * time, status, threats, origin, client, user, group, method, partial).
 * At most max_object bytes are kept (0: all); a longer object is cut and
 * marked partial.  The store refuses an object that would take the
 * directory's objects past max_total bytes (0: no limit).  On success
 * meta->sha256 (the id) and meta->size are set.  The object, then the record,
 * are each written to a temporary file, synced and renamed into place, so a
 * crash leaves either the old state or the new one. */
int bw_quar_put(bw_quar_store_t *s, bw_quar_meta_t *meta, bw_quar_read_fn fn, void *ctx,
                uint64_t max_object, uint64_t max_total, bw_err_t *err);

/* The record of `id` (a full id).  A malformed record gives
 * "DIR/ID.meta:LINE: what".  BW_DECLINED when there is no record. */
int bw_quar_get_meta(bw_quar_store_t *s, const char *id, bw_quar_meta_t *out, bw_err_t *err);

/* One entry of bw_quar_each: `meta` is NULL when the record is missing or
 * broken, and `problem` then says why (with file:line); `object_bytes` is
 * the stored (encrypted) size, -1 when the object file is missing. */
typedef struct bw_quar_entry {
    const char *id;
    const bw_quar_meta_t *meta;
    const char *problem;
    int64_t object_bytes;
} bw_quar_entry_t;

/* Calls fn for every id that has an object or a record, in id order; the
 * entry and what it points to live only during the call.  A non-zero
 * return from fn stops the walk and is returned. */
int bw_quar_each(bw_quar_store_t *s, int (*fn)(void *ud, const bw_quar_entry_t *e), void *ud,
                 bw_err_t *err);

/* Decrypts object `id` to the path `to` (outside the quarantine).  The
 * content is written to a temporary file beside `to` and put in place only
 * when its authentication tag verifies and its SHA-256 equals the id; a
 * tampered or swapped object is refused and leaves nothing behind.  An
 * existing `to` is replaced only with `force`.  The file is mode 0600. */
int bw_quar_restore(bw_quar_store_t *s, const char *id, const char *to, bool force,
                    bw_err_t *err);

/* Removes object and record of `id`.  BW_DECLINED when neither exists. */
int bw_quar_delete(bw_quar_store_t *s, const char *id, bw_err_t *err);

/* ---- quarantine-meta.c: the record (pure) ---------------------------------- */

/* Parses a record held in buf[0..len).  On failure *line is the line at
 * fault (1-based) and err says what; the caller adds the file name. */
int bw_quar_meta_parse(const char *buf, size_t len, bw_quar_meta_t *out, unsigned *line,
                       bw_err_t *err);
/* Appends the record's text. */
void bw_quar_meta_format(const bw_quar_meta_t *m, bw_buf_t *out);
/* Copies src into a field of `cap` bytes (the NUL included): cut to fit,
 * control characters replaced by '?', so the record stays line-based. */
void bw_quar_field_set(char *dst, size_t cap, const char *src);
/* Fills status and threat names (with where in a container) from a verdict. */
void bw_quar_meta_set_verdict(bw_quar_meta_t *m, const bw_verdict_t *v);

#endif
