/* SPDX-License-Identifier: Apache-2.0 */
/* Member names as the unpacker reports them: pure helpers, kept apart from
 * libarchive so they can be unit-tested on their own. */
#ifndef BW_ENGINE_UNPACK_NAME_H
#define BW_ENGINE_UNPACK_NAME_H

#include <stddef.h>
#include <stdint.h>

#define BW_MEMBER_NAME_MAX 1024

/* Writes a display-safe form of an archive member name into out (always
 * NUL-terminated, at most outlen - 1 bytes): leading '/' stripped, empty and
 * "." components dropped, "dir/.." collapsed, control bytes replaced by '?'.
 * A ".." that would climb above the archive's root is kept literally, so the
 * report shows the traversal attempt ("../../etc/x"); nothing is ever written
 * to disk under this name.  An empty result becomes "(unnamed)".  Returns the
 * length written. */
size_t bw_member_name(const char *in, char *out, size_t outlen);

/* The original file name stored in a gzip header (FNAME), base name only and
 * sanitised as above, into out.  Returns 1 when there was one, 0 otherwise. */
int bw_gzip_orig_name(const uint8_t *h, size_t len, char *out, size_t outlen);

/* Makes s safe as a threat name or reason: control bytes and ';' (which the
 * ICAP X-Infection-Found header uses as a separator) become ' '. */
void bw_reason_clean(char *s);

#endif
