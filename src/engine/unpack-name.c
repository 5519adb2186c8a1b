/* SPDX-License-Identifier: Apache-2.0 */
/* Member names: what an archive says a file is called, made safe to print.
 *
 * A member name is attacker-chosen text that ends up in reports, logs, JSON
 * and ICAP headers.  We only ever stream members into child scans, so a name
 * like "../../etc/passwd" can do no harm on disk here; what it can do is
 * forge log lines (embedded newlines) or hide where a threat sits.  So the
 * name is normalised the way an extractor would see it ("a/./b/../c" is
 * "a/c"), but a ".." that climbs out of the archive is kept: an administrator
 * should see that the archive tried it.
 */
#include "engine/unpack-name.h"

#include <string.h>

static void put(char *out, size_t outlen, size_t *n, char c)
{
    if (*n + 1 < outlen)
        out[(*n)++] = c;
}

size_t bw_member_name(const char *in, char *out, size_t outlen)
{
    if (!outlen)
        return 0;
    size_t n = 0;
    size_t floor = 0; /* out[0..floor) holds leading ".." that cannot be popped */
    const char *p = in ? in : "";
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t clen = (size_t)(p - start);
        if (clen == 0 || (clen == 1 && start[0] == '.'))
            continue;
        if (clen == 2 && start[0] == '.' && start[1] == '.') {
            if (n > floor) {
                /* pop the last component (and its separator) */
                while (n > floor && out[n - 1] != '/')
                    n--;
                if (n > floor)
                    n--;
                continue;
            }
            if (n > 0 && out[n - 1] != '/')
                put(out, outlen, &n, '/');
            put(out, outlen, &n, '.');
            put(out, outlen, &n, '.');
            floor = n;
            continue;
        }
        if (n > 0 && out[n - 1] != '/')
            put(out, outlen, &n, '/');
        for (size_t i = 0; i < clen; i++) {
            unsigned char c = (unsigned char)start[i];
            put(out, outlen, &n, (c < 0x20 || c == 0x7f) ? '?' : (char)c);
        }
    }
    out[n] = 0;
    if (n == 0) {
        strncpy(out, "(unnamed)", outlen - 1);
        out[outlen - 1] = 0;
        n = strlen(out);
    }
    return n;
}

int bw_gzip_orig_name(const uint8_t *h, size_t len, char *out, size_t outlen)
{
    if (len < 10 || h[0] != 0x1f || h[1] != 0x8b || h[2] != 8 || !outlen)
        return 0;
    uint8_t flg = h[3];
    size_t off = 10;
    if (flg & 4) { /* FEXTRA */
        if (len < off + 2)
            return 0;
        off += 2 + ((size_t)h[off] | (size_t)h[off + 1] << 8);
    }
    if (!(flg & 8) || off >= len) /* FNAME */
        return 0;
    const uint8_t *end = memchr(h + off, 0, len - off);
    if (!end || end == h + off)
        return 0;
    /* base name only: the stored name is the compressing user's path */
    const uint8_t *base = h + off;
    for (const uint8_t *q = h + off; q < end; q++)
        if (*q == '/' || *q == '\\')
            base = q + 1;
    char tmp[BW_MEMBER_NAME_MAX];
    size_t bl = (size_t)(end - base);
    if (bl == 0)
        return 0;
    if (bl >= sizeof tmp)
        bl = sizeof tmp - 1;
    memcpy(tmp, base, bl);
    tmp[bl] = 0;
    if (!strcmp(tmp, ".") || !strcmp(tmp, ".."))
        return 0;
    bw_member_name(tmp, out, outlen);
    return 1;
}

void bw_reason_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ';')
            *s = ' ';
}
