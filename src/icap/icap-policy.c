/* SPDX-License-Identifier: Apache-2.0 */
/* Header-driven policy: exclusions and partial content.
 *
 * Exclusions (ExcludeMimeType, ExcludeURL) exist for streaming media, which
 * never ends and cannot be scanned.  An exclusion lets an object through
 * unscanned, so it is taken only when the headers are unambiguous:
 *
 * - Two different Content-Type headers: browsers take the last, a regex
 *   over the first would exclude by a type the browser does not use.  No
 *   exclusion (the object is scanned).
 * - Content-Disposition: attachment (or a filename): the object is a
 *   download saved to disk, whatever its type says.  No exclusion.
 * - Headers past the parser's table (m->dropped): a later header may say
 *   anything.  No exclusion, and the verdict notes it.
 *
 * Partial content (HTTP 206): a client can fetch an object in ranges and
 * rejoin them, so each range alone may hold no signature.  Like the other
 * proxy scanners, each fragment is scanned and the verdict names it
 * ("Partial.Content: bytes a-b/n", a CLEAN note: the report log shows it);
 * BlockPartialExecutables = yes also flags a fragment of an executable as
 * SUSPICIOUS (SuspiciousAction decides).  The full answer is Squid fetching
 * whole objects (range_offset_limit): docs/policy.md.
 */
#include "icap/icap-policy.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"

static void copy_clean(char *dst, size_t cap, bw_icap_str_t s)
{
    size_t n = s.n < cap - 1 ? s.n : cap - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = (unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f ? '?' : s.p[i];
    dst[n] = 0;
}

int bw_icap_looks_executable(const char *url, const char *ctype)
{
    static const char *const exts[] = {
        "exe", "dll", "scr", "com", "pif", "cpl", "sys", "msi", "msp", "msix", "appx", "bat",
        "cmd", "ps1", "vbs", "vbe", "js", "jse", "wsf", "hta", "jar", "apk", "dmg", "pkg",
        "deb", "rpm", "elf", "bin", "run", "sh", "lnk", "iso", "img", "cab", NULL};
    static const char *const types[] = {
        "application/x-msdownload", "application/x-msdos-program", "application/x-dosexec",
        "application/vnd.microsoft.portable-executable", "application/x-executable",
        "application/x-msi", "application/x-ms-installer", "application/java-archive",
        "application/vnd.android.package-archive", "application/x-sh",
        "application/x-apple-diskimage", NULL};
    if (ctype)
        for (size_t i = 0; types[i]; i++) {
            size_t n = strlen(types[i]);
            if (!strncasecmp(ctype, types[i], n) && (!ctype[n] || ctype[n] == ';' || ctype[n] == ' '))
                return 1;
        }
    if (!url)
        return 0;
    size_t end = strcspn(url, "?#");
    const char *slash = url;
    for (const char *p = url; p < url + end; p++)
        if (*p == '/')
            slash = p + 1;
    const char *dot = NULL;
    for (const char *p = slash; p < url + end; p++)
        if (*p == '.')
            dot = p + 1;
    if (!dot)
        return 0;
    size_t n = (size_t)(url + end - dot);
    for (size_t i = 0; exts[i]; i++)
        if (strlen(exts[i]) == n && !strncasecmp(dot, exts[i], n))
            return 1;
    return 0;
}

int bw_icap_header_policy(bw_icap_env_t *env, const bw_icap_conf_t *ic, const bw_http_msg_t *msg,
                          int is_resp, const char *url, bw_icap_body_t *body)
{
    char ctype[256] = "";
    int have_ct = 0, may_exclude = 1;
    if (msg) {
        bw_icap_str_t type, bnd;
        int rc = bw_http_content_type(msg, &type, &bnd);
        int h = bw_hdr_find(msg->headers, msg->nheaders, "Content-Type", 0);
        if (rc == BW_ERR) {
            /* differing Content-Type headers (or a malformed one): scan */
            int k = h, last = h;
            while ((k = bw_hdr_find(msg->headers, msg->nheaders, "Content-Type", (size_t)k + 1)) >= 0)
                last = k;
            if (last >= 0 && last != h)
                may_exclude = 0;
        }
        if (h >= 0) {
            copy_clean(ctype, sizeof ctype, msg->headers[h].value);
            have_ct = 1;
        }
        if (bw_http_is_attachment(msg))
            may_exclude = 0;
        if (msg->dropped) {
            char why[128];
            snprintf(why, sizeof why, "Broken.HTTP: %zu headers past the first %d not read",
                     msg->dropped, BW_HTTP_MAX_HEADERS);
            bw_icap_body_note(body, BW_CORRUPTED, why);
            may_exclude = 0;
        }
    }
    if (may_exclude && bw_icap_excluded(env, ic, have_ct ? ctype : NULL, url))
        return 1;
    if (msg && is_resp && msg->status == 206) {
        char range[96] = "?";
        int h = bw_hdr_find(msg->headers, msg->nheaders, "Content-Range", 0);
        if (h >= 0)
            copy_clean(range, sizeof range, msg->headers[h].value);
        char why[160];
        snprintf(why, sizeof why, "Partial.Content: %s (only this fragment scanned)", range);
        bw_icap_body_note(body, BW_CLEAN, why);
        if (ic->block_partial_exec && bw_icap_looks_executable(url, have_ct ? ctype : NULL))
            bw_icap_body_note(body, BW_SUSPICIOUS,
                              "Policy.PartialContent.Executable: a fragment of an executable "
                              "(BlockPartialExecutables)");
    }
    return 0;
}
