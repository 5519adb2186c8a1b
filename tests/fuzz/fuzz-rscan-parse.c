/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the BWSCAN/1 parsers as a server and a client drive them: the
 * input is parsed as a stream of requests, each followed (for a SCAN) by
 * chunk headers and the data they announce, and again as a stream of
 * replies.  Each parse gets an exact-size copy of what is left, so ASan sees
 * a read past it; a parser must never consume more than it was given, must
 * report need-more only without consuming, and must leave decoded fields
 * NUL-terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "rscan/rscan-parse.h"

static void as_server(const uint8_t *p, size_t n)
{
    size_t off = 0;
    bw_err_t err;
    while (off < n) {
        size_t len = n - off, used = 0;
        char *b = malloc(len);
        memcpy(b, p + off, len);
        bw_rscan_req_t r;
        int rc = bw_rscan_parse_request(b, len, &r, &used, &err);
        if (used > len || (rc == BW_AGAIN && used))
            abort();
        if (rc == BW_OK && (strlen(r.sha256) > 64 || strlen(r.name) >= sizeof r.name))
            abort();
        free(b);
        if (rc == BW_AGAIN || !used)
            return;
        off += used;
        if (rc != BW_OK || r.kind != BW_RSCAN_REQ_SCAN)
            continue;
        for (;;) { /* the content */
            len = n - off;
            if (!len)
                return;
            b = malloc(len);
            memcpy(b, p + off, len);
            uint64_t clen = 0;
            used = 0;
            rc = bw_rscan_parse_chunk(b, len, &clen, &used, &err);
            free(b);
            if (used > len || (rc == BW_OK && clen > BW_RSCAN_MAX_CHUNK))
                abort();
            if (rc != BW_OK)
                return; /* the server closes on a bad header */
            off += used;
            if (!clen)
                break;
            if (clen > n - off)
                return;
            off += (size_t)clen;
        }
    }
}

static void as_client(const uint8_t *p, size_t n)
{
    size_t off = 0;
    bw_err_t err;
    bw_rscan_reply_t *r = malloc(sizeof *r);
    while (off < n) {
        size_t len = n - off, used = 0;
        char *b = malloc(len);
        memcpy(b, p + off, len);
        int rc = bw_rscan_parse_reply(b, len, r, &used, &err);
        free(b);
        if (used > len || (rc == BW_AGAIN && used))
            abort();
        if (rc == BW_OK && (strlen(r->threat) >= sizeof r->threat ||
                            strlen(r->db_version) >= sizeof r->db_version ||
                            (r->kind == BW_RSCAN_REP_VERDICT && (unsigned)r->status >= BW_STATUS_COUNT)))
            abort();
        if (rc == BW_AGAIN || !used)
            break;
        off += used;
    }
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *p, size_t n)
{
    as_server(p, n);
    as_client(p, n);
    char enc[64];
    char src[32];
    size_t k = n < sizeof src - 1 ? n : sizeof src - 1;
    memcpy(src, p, k);
    src[k] = 0;
    size_t e = bw_rscan_pct_encode(src, enc, sizeof enc);
    if (e != (size_t)-1 && (e >= sizeof enc || strlen(enc) != e))
        abort();
    return 0;
}
