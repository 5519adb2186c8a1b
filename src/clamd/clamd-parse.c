/* SPDX-License-Identifier: Apache-2.0 */
/* clamd's command framing and INSTREAM chunks, as clamd 1.x reads them.
 *
 * Matching is clamd's own (session.c parse_command): the table is searched in
 * order for a name that prefixes the command; a command that takes a path
 * needs at least one byte after its name and the path starts one byte later
 * (so "SCAN /x" and, as in clamd, "SCANX/x" both scan "/x"); a command that
 * takes none must end right after its name.  Some names are refused in the
 * legacy form.  A NUL inside an n-form or legacy line ends the command there,
 * because clamd compares C strings.  Reproducing these quirks is the point:
 * a client that works against clamd must get the same answers here.
 */
#include "clamd/clamd-parse.h"

#include <string.h>

#include "bulwark/bulwark.h"

typedef struct cmd_row {
    const char *name;
    unsigned char len;
    unsigned char need_arg;
    unsigned char legacy_ok;
    bw_clamd_cmd_t cmd;
} cmd_row_t;

#define ROW(n, arg, old, c) {n, sizeof(n) - 1, arg, old, c}
/* clamd's order: VERSIONCOMMANDS before VERSION and DETSTATSCLEAR before
 * DETSTATS, because the shorter names prefix the longer ones. */
static const cmd_row_t rows[] = {
    ROW("SCAN", 1, 1, BW_CLAMD_SCAN),
    ROW("QUIT", 0, 1, BW_CLAMD_QUIT),
    ROW("RELOAD", 0, 1, BW_CLAMD_RELOAD),
    ROW("PING", 0, 1, BW_CLAMD_PING),
    ROW("CONTSCAN", 1, 1, BW_CLAMD_CONTSCAN),
    ROW("VERSIONCOMMANDS", 0, 0, BW_CLAMD_VERSIONCOMMANDS),
    ROW("VERSION", 0, 1, BW_CLAMD_VERSION),
    ROW("END", 0, 0, BW_CLAMD_END),
    ROW("SHUTDOWN", 0, 1, BW_CLAMD_SHUTDOWN),
    ROW("MULTISCAN", 1, 1, BW_CLAMD_MULTISCAN),
    ROW("FILDES", 0, 1, BW_CLAMD_FILDES),
    ROW("STATS", 0, 1, BW_CLAMD_STATS),
    ROW("IDSESSION", 0, 0, BW_CLAMD_IDSESSION),
    ROW("INSTREAM", 0, 0, BW_CLAMD_INSTREAM),
    ROW("DETSTATSCLEAR", 0, 1, BW_CLAMD_DETSTATSCLEAR),
    ROW("DETSTATS", 0, 1, BW_CLAMD_DETSTATS),
    ROW("ALLMATCHSCAN", 1, 0, BW_CLAMD_ALLMATCHSCAN),
};

const char *bw_clamd_cmd_name(bw_clamd_cmd_t cmd)
{
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (rows[i].cmd == cmd)
            return rows[i].name;
    return "UNKNOWN";
}

int bw_clamd_cmd_takes_path(bw_clamd_cmd_t cmd)
{
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (rows[i].cmd == cmd)
            return rows[i].need_arg;
    return 0;
}

/* Classifies the command text s[0..n) (no prefix, no terminator). */
static void classify(const char *s, size_t n, int legacy, bw_clamd_req_t *req)
{
    const char *nul = memchr(s, '\0', n);
    if (nul)
        n = (size_t)(nul - s);
    req->cmd = BW_CLAMD_UNKNOWN;
    req->arg = NULL;
    req->arg_len = 0;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const cmd_row_t *r = &rows[i];
        if (n < r->len || memcmp(s, r->name, r->len))
            continue;
        size_t rest = n - r->len;
        if (r->need_arg ? rest == 0 : rest != 0)
            return;
        if (legacy && !r->legacy_ok)
            return;
        req->cmd = r->cmd;
        if (r->need_arg) {
            req->arg = s + r->len + 1;
            req->arg_len = rest - 1;
        }
        return;
    }
}

int bw_clamd_parse_cmd(const char *buf, size_t len, int eop, size_t max_line, bw_clamd_req_t *req)
{
    memset(req, 0, sizeof *req);
    if (len == 0)
        return BW_AGAIN;
    char first = buf[0];
    if (first == 'z' || first == 'n') {
        char term = first == 'z' ? '\0' : '\n';
        const char *end = memchr(buf, term, len);
        if (!end)
            return len > max_line ? BW_ERR : BW_AGAIN;
        size_t line = (size_t)(end - buf);
        if (line > max_line)
            return BW_ERR;
        size_t n = line - 1;
        if (term == '\n')
            while (n && (buf[n] == '\r' || buf[n] == '\n'))
                n--; /* clamd chomps the trailing \r of an n-form line */
        req->style = first == 'z' ? BW_CLAMD_Z : BW_CLAMD_N;
        req->term = term;
        classify(buf + 1, n, 0, req);
        return (int)(line + 1);
    }
    /* Legacy: up to a newline, else what this read brought. */
    const char *nl = memchr(buf, '\n', len);
    size_t line, used;
    if (nl) {
        line = (size_t)(nl - buf);
        used = line + 1;
    } else if (eop) {
        line = used = len;
    } else {
        return len > max_line ? BW_ERR : BW_AGAIN;
    }
    if (line > max_line)
        return BW_ERR;
    size_t n = line;
    while (n && (buf[n - 1] == '\r' || buf[n - 1] == '\n'))
        n--;
    req->style = BW_CLAMD_BARE;
    req->term = '\n';
    classify(buf, n, 1, req);
    return (int)used;
}

void bw_clamd_stream_init(bw_clamd_stream_t *st, uint64_t limit)
{
    memset(st, 0, sizeof *st);
    st->limit = limit;
}

bw_clamd_chunk_ev_t bw_clamd_stream_feed(bw_clamd_stream_t *st, const char *buf, size_t len,
                                         size_t *used, const char **data, size_t *n)
{
    size_t i = 0;
    *data = NULL;
    *n = 0;
    while (i < len || st->left == 0) {
        if (st->ended) {
            *used = i;
            return BW_CHUNK_LAST;
        }
        if (st->left) {
            size_t take = len - i < st->left ? len - i : st->left;
            st->left -= (uint32_t)take;
            *data = buf + i;
            *n = take;
            *used = i + take;
            return BW_CHUNK_BYTES;
        }
        while (st->have < 4 && i < len)
            st->hdr[st->have++] = (uint8_t)buf[i++];
        if (st->have < 4)
            break;
        uint32_t clen = (uint32_t)st->hdr[0] << 24 | (uint32_t)st->hdr[1] << 16 |
                        (uint32_t)st->hdr[2] << 8 | st->hdr[3];
        st->have = 0;
        if (clen == 0) {
            st->ended = 1;
            *used = i;
            return BW_CHUNK_LAST;
        }
        /* clamd checks each length against what is left of the quota
         * before reading its bytes, so the error comes at once. */
        if (clen > st->limit - st->total) {
            *used = i;
            return BW_CHUNK_OVER;
        }
        st->total += clen;
        st->left = clen;
    }
    *used = i;
    return BW_CHUNK_MORE;
}
