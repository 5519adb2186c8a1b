/* SPDX-License-Identifier: Apache-2.0 */
/* The body pipeline of one ICAP request: what stands between the decoded ICAP
 * chunks and the scan engine.  A download (RESPMOD) is content-decoded
 * (gzip, deflate, br, zstd) and scanned as one object, its raw bytes too
 * when the decoding fails; an upload (REQMOD) is scanned raw, and a
 * multipart one is also split and every part is scanned as a file of its
 * own (decoded, nested parts split), the preamble and epilogue included.
 * The verdicts are merged. */
#ifndef BW_ICAP_BODY_H
#define BW_ICAP_BODY_H

#include <stddef.h>

#include "bulwark/bulwark.h"
#include "icap/http-parse.h"

typedef struct bw_icap_body bw_icap_body_t;

/* msg: the encapsulated HTTP message whose body this is (NULL if none was
 * sent); name: the object's display name (the URL's last segment). */
bw_icap_body_t *bw_icap_body_new(const bw_engine_t *e, const bw_limits_t *lim, int is_upload,
                                 const bw_http_msg_t *msg, const char *name);
/* BW_OK, or BW_DONE once a verdict is decided (the rest need not be fed). */
int bw_icap_body_feed(bw_icap_body_t *b, const char *p, size_t n);
int bw_icap_body_decided(const bw_icap_body_t *b);
/* Adds a finding that is not the scan's (a policy note: partial content,
 * headers not read) to the verdict; BW_CLEAN notes only name the object's
 * condition in the report.  BW_OK or BW_ERR (out of memory). */
int bw_icap_body_note(bw_icap_body_t *b, bw_status_t st, const char *text);
/* The highest status found so far, in the merged parts and the scan under
 * way (BW_CLEAN when nothing was). */
bw_status_t bw_icap_body_found(const bw_icap_body_t *b);
/* Ends every scan and merges the verdicts.  May unpack archives: the
 * connection layer calls it on the thread pool. */
int bw_icap_body_finish(bw_icap_body_t *b, bw_verdict_t *out);
void bw_icap_body_free(bw_icap_body_t *b);

#endif
