/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by quarantine.c (the directory) and quarantine-object.c
 * (the encrypted container and its key).  Nothing outside src/quarantine
 * includes this header. */
#ifndef BW_QUARANTINE_INT_H
#define BW_QUARANTINE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "quarantine/quarantine.h"

#define BW_QUAR_KEY_LEN 32   /* AES-256 */
#define BW_QUAR_NONCE_LEN 12 /* GCM's native nonce size */
#define BW_QUAR_TAG_LEN 16
#define BW_QUAR_MAGIC "BWQ1"
#define BW_QUAR_HDR_LEN (4 + BW_QUAR_NONCE_LEN)
/* Bytes an object file adds to its content: header and tag. */
#define BW_QUAR_OVERHEAD (BW_QUAR_HDR_LEN + BW_QUAR_TAG_LEN)

/* Loads the store's key from `dirfd`/quarantine.key; with `create`, makes one
 * first when there is none (atomically: two workers racing get the same
 * key).  `dir` is for messages. */
int bw_quar_key_load(int dirfd, const char *dir, bool create, uint8_t key[BW_QUAR_KEY_LEN],
                     bw_err_t *err);

/* Encrypts what `fn` yields (at most max bytes, 0: no limit) into fd, which
 * is empty and open for writing.  Out: the plaintext's SHA-256, its length,
 * and whether it was cut at max. */
int bw_quar_obj_write(int fd, const uint8_t key[BW_QUAR_KEY_LEN], bw_quar_read_fn fn, void *ctx,
                      uint64_t max, uint8_t sha[32], uint64_t *size, bool *cut, bw_err_t *err);

/* Decrypts object file `fd` into `outfd` (-1: only verify).  Fails when the
 * file is not an object or its authentication tag does not verify (then
 * whatever was written to outfd must be discarded).  Out: the plaintext's
 * SHA-256 and length. */
int bw_quar_obj_read(int fd, const uint8_t key[BW_QUAR_KEY_LEN], int outfd, uint8_t sha[32],
                     uint64_t *size, bw_err_t *err);

/* Writes all of buf to fd (retrying short writes and EINTR). */
int bw_quar_write_all(int fd, const void *buf, size_t len);

#endif
