/* SPDX-License-Identifier: Apache-2.0 */
/* The BWSCAN/1 parser, both directions, pure over (buf, len).
 *
 * The protocol is line-based with one binary part (the chunked content), so
 * every function here finds one '\n'-terminated line and splits it on single
 * spaces.  Fields are strict: the hash is exactly 64 hex digits, sizes are
 * decimal without sign or leading garbage, names are percent-encoded so they
 * never hold a space, a control byte or a NUL.  Anything else is an ERROR
 * naming the field and the byte offset; a line longer than
 * BW_RSCAN_MAX_LINE cannot be skipped safely, so its consumed count is 0 and
 * the caller closes the connection.
 */
#include "rscan/rscan-parse.h"

#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Finds the line: BW_OK with *n its length without the '\n'. */
static int find_line(const char *buf, size_t len, size_t *n, size_t *consumed, bw_err_t *err)
{
    size_t lim = len < BW_RSCAN_MAX_LINE + 1 ? len : BW_RSCAN_MAX_LINE + 1;
    const char *nl = memchr(buf, '\n', lim);
    *consumed = 0;
    if (!nl) {
        if (len > BW_RSCAN_MAX_LINE)
            return bw_err_set(err, "byte 0: line longer than %d bytes", BW_RSCAN_MAX_LINE);
        return BW_AGAIN;
    }
    *n = (size_t)(nl - buf);
    *consumed = *n + 1;
    if (*n && buf[*n - 1] == '\r') /* tolerate CRLF from hand-typed sessions */
        (*n)--;
    for (size_t i = 0; i < *n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return bw_err_set(err, "byte %zu: control byte 0x%02x in the line", i,
                              (unsigned char)buf[i]);
    return BW_OK;
}

/* Splits line[0..n) into at most max fields on single spaces. */
static size_t split(const char *line, size_t n, const char **f, size_t *fl, size_t max)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || line[i] == ' ') {
            if (k == max)
                return max + 1;
            f[k] = line + start;
            fl[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    return k;
}

static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (!n || n > 19)
        return BW_ERR;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return BW_ERR;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return BW_OK;
}

/* Decodes a percent-encoded field; "-" is the empty string. */
static int pct_decode(const char *s, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    if (n == 1 && s[0] == '-') {
        dst[0] = 0;
        return BW_OK;
    }
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return BW_ERR;
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0)
                return BW_ERR;
            c = h * 16 + l;
            if (c == 0)
                return BW_ERR;
            i += 2;
        }
        if (o + 1 >= cap)
            return BW_ERR;
        dst[o++] = (char)c;
    }
    dst[o] = 0;
    return BW_OK;
}

static int is_word(const char *f, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(f, w, n) == 0;
}

int bw_rscan_parse_request(const char *buf, size_t len, bw_rscan_req_t *out, size_t *consumed,
                           bw_err_t *err)
{
    size_t n;
    int rc = find_line(buf, len, &n, consumed, err);
    if (rc != BW_OK)
        return rc;
    const char *f[5];
    size_t fl[5];
    size_t k = split(buf, n, f, fl, 4);
    memset(out, 0, sizeof *out);
    if (k >= 1 && is_word(f[0], fl[0], "PING")) {
        if (k != 1)
            return bw_err_set(err, "byte 4: PING takes no argument");
        out->kind = BW_RSCAN_REQ_PING;
        return BW_OK;
    }
    if (!(k >= 1 && is_word(f[0], fl[0], "SCAN")))
        return bw_err_set(err, "byte 0: unknown command (expected SCAN or PING)");
    if (k != 4)
        return bw_err_set(err, "byte 4: SCAN takes 3 arguments: <sha256-hex> <size> <name>");
    if (fl[1] != 64)
        return bw_err_set(err, "byte 5: the SHA-256 must be 64 hex digits");
    for (size_t i = 0; i < 64; i++) {
        int v = hexval(f[1][i]);
        if (v < 0)
            return bw_err_set(err, "byte %zu: not a hex digit in the SHA-256", 5 + i);
        out->sha256[i] = "0123456789abcdef"[v];
    }
    out->sha256[64] = 0;
    if (parse_u64(f[2], fl[2], &out->size) != BW_OK)
        return bw_err_set(err, "byte %zu: the size must be a decimal number", (size_t)(f[2] - buf));
    if (pct_decode(f[3], fl[3], out->name, sizeof out->name) != BW_OK)
        return bw_err_set(err, "byte %zu: bad percent-encoding or name too long",
                          (size_t)(f[3] - buf));
    out->kind = BW_RSCAN_REQ_SCAN;
    return BW_OK;
}

int bw_rscan_parse_chunk(const char *buf, size_t len, uint64_t *chunk_len, size_t *consumed,
                         bw_err_t *err)
{
    size_t n;
    int rc = find_line(buf, len, &n, consumed, err);
    if (rc != BW_OK)
        return rc;
    if (!n || n > 8)
        return bw_err_set(err, "byte 0: a chunk header is 1 to 8 hex digits");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(buf[i]);
        if (h < 0)
            return bw_err_set(err, "byte %zu: not a hex digit in the chunk length", i);
        v = v * 16 + (uint64_t)h;
    }
    if (v > BW_RSCAN_MAX_CHUNK)
        return bw_err_set(err, "byte 0: chunk of %llu bytes, at most %u", (unsigned long long)v,
                          BW_RSCAN_MAX_CHUNK);
    *chunk_len = v;
    return BW_OK;
}

int bw_rscan_parse_reply(const char *buf, size_t len, bw_rscan_reply_t *out, size_t *consumed,
                         bw_err_t *err)
{
    size_t n;
    int rc = find_line(buf, len, &n, consumed, err);
    if (rc != BW_OK)
        return rc;
    memset(out, 0, sizeof *out);
    if (n >= 5 && memcmp(buf, "ERROR", 5) == 0 && (n == 5 || buf[5] == ' ')) {
        out->kind = BW_RSCAN_REP_ERROR;
        size_t m = n > 6 ? n - 6 : 0;
        if (m >= sizeof out->threat)
            m = sizeof out->threat - 1;
        if (m)
            memcpy(out->threat, buf + 6, m);
        out->threat[m] = 0;
        return BW_OK;
    }
    const char *f[6];
    size_t fl[6];
    size_t k = split(buf, n, f, fl, 5);
    if (k == 1 && is_word(f[0], fl[0], "SEND")) {
        out->kind = BW_RSCAN_REP_SEND;
        return BW_OK;
    }
    if (k == 2 && is_word(f[0], fl[0], "PONG")) {
        if (!fl[1] || fl[1] >= sizeof out->db_version)
            return bw_err_set(err, "byte 5: bad database version");
        memcpy(out->db_version, f[1], fl[1]);
        out->kind = BW_RSCAN_REP_PONG;
        return BW_OK;
    }
    if (k == 5 && is_word(f[0], fl[0], "VERDICT")) {
        char st[32];
        if (!fl[1] || fl[1] >= sizeof st)
            return bw_err_set(err, "byte 8: bad status");
        memcpy(st, f[1], fl[1]);
        st[fl[1]] = 0;
        if (bw_status_from_name(st, &out->status) != BW_OK)
            return bw_err_set(err, "byte 8: unknown status '%s'", st);
        if (pct_decode(f[2], fl[2], out->threat, sizeof out->threat) != BW_OK)
            return bw_err_set(err, "byte %zu: bad threat name", (size_t)(f[2] - buf));
        if (!fl[3] || fl[3] >= sizeof out->db_version)
            return bw_err_set(err, "byte %zu: bad database version", (size_t)(f[3] - buf));
        memcpy(out->db_version, f[3], fl[3]);
        if (is_word(f[4], fl[4], "cached"))
            out->cached = 1;
        else if (!is_word(f[4], fl[4], "scanned"))
            return bw_err_set(err, "byte %zu: expected 'cached' or 'scanned'", (size_t)(f[4] - buf));
        out->kind = BW_RSCAN_REP_VERDICT;
        return BW_OK;
    }
    return bw_err_set(err, "byte 0: unknown reply");
}

size_t bw_rscan_pct_encode(const char *src, char *dst, size_t cap)
{
    static const char safe[] = "._/~+:@,=-";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 strchr(safe, *p);
        if (ok) {
            if (o + 1 >= cap)
                return (size_t)-1;
            dst[o++] = (char)*p;
        } else {
            if (o + 3 >= cap)
                return (size_t)-1;
            dst[o++] = '%';
            dst[o++] = "0123456789ABCDEF"[*p >> 4];
            dst[o++] = "0123456789ABCDEF"[*p & 15];
        }
    }
    if (cap)
        dst[o] = 0;
    return o;
}
