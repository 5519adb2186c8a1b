/* SPDX-License-Identifier: Apache-2.0 */
/* What `bulwark scan` prints: per-file result lines (text or JSON) and the
 * summary.
 *
 * Formatting is kept apart from printing: a worker thread formats a file's
 * whole result into a buffer and writes it with one call under the output
 * lock, so lines of different files interleave but never tear.
 *
 * Text lines follow clamscan, so that scripts written for it keep working:
 * "path: OK", "path: NAME FOUND" for INFECTED, and "path: STATUS NAME" for
 * Bulwark's other statuses (clamscan has no word for them).  A finding inside
 * a container appends " [container/inner/path]".
 *
 * JSON must stay valid whatever bytes a file name holds.  File names on Linux
 * are byte strings; a byte that is not part of well-formed UTF-8 is written
 * as \u00XX (Latin-1 reading).  That is lossy for such names, but a consumer
 * that chokes on invalid JSON loses the whole line, which is worse.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 if the bytes
 * there are not one (overlong forms, surrogates, > U+10FFFF, truncation). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void bw_cli_json_str(bw_cli_buf_t *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t len = strlen((const char *)s);
    bw_cli_buf_add(b, "\"", 1);
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t run = 0;
        switch (c) {
        case '"': bw_cli_buf_add(b, "\\\"", 2); i++; continue;
        case '\\': bw_cli_buf_add(b, "\\\\", 2); i++; continue;
        case '\n': bw_cli_buf_add(b, "\\n", 2); i++; continue;
        case '\r': bw_cli_buf_add(b, "\\r", 2); i++; continue;
        case '\t': bw_cli_buf_add(b, "\\t", 2); i++; continue;
        default: break;
        }
        if (c < 0x20 || c == 0x7f || (run = utf8_len(s + i, len - i)) == 0) {
            bw_cli_buf_printf(b, "\\u%04x", c);
            i++;
            continue;
        }
        bw_cli_buf_add(b, s + i, run);
        i += run;
    }
    bw_cli_buf_add(b, "\"", 1);
}

void bw_cli_status_label(bw_status_t st, char *out, size_t outlen)
{
    const char *n = bw_status_name(st);
    size_t i = 0;
    if (!outlen)
        return;
    if (!n)
        n = "UNKNOWN";
    for (; n[i] && i + 1 < outlen; i++) {
        char c = n[i];
        if (c == '_')
            c = ' ';
        else if (i > 0 && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[i] = c;
    }
    out[i] = '\0';
}

static const char *status_name(bw_status_t st)
{
    const char *n = bw_status_name(st);
    return n ? n : "UNKNOWN";
}

static void format_threat_text(bw_cli_buf_t *b, const char *path, const bw_threat_t *t)
{
    const char *name = t->name && *t->name ? t->name : "(unnamed)";
    if (t->status == BW_INFECTED)
        bw_cli_buf_printf(b, "%s: %s FOUND", path, name);
    else
        bw_cli_buf_printf(b, "%s: %s %s", path, status_name(t->status), name);
    /* The engine reports "" at top level; be lenient if it names the object
     * itself. */
    if (t->path && *t->path && strcmp(t->path, path) != 0)
        bw_cli_buf_printf(b, " [%s]", t->path);
    bw_cli_buf_add(b, "\n", 1);
}

static void format_text(bw_cli_buf_t *b, const bw_cli_result_t *r, int only_found)
{
    const bw_verdict_t *v = r->verdict;
    if (!v) {
        bw_cli_buf_printf(b, "%s: ERROR: %s\n", r->path, r->error ? r->error : "scan failed");
        return;
    }
    if (v->status == BW_CLEAN) {
        if (!only_found)
            bw_cli_buf_printf(b, "%s: OK\n", r->path);
        return;
    }
    size_t shown = 0;
    for (size_t i = 0; i < v->nthreats; i++) {
        /* With --all-match a container may report clean members' siblings;
         * a CLEAN entry is no finding and is not printed. */
        if (v->threats[i].status == BW_CLEAN)
            continue;
        format_threat_text(b, r->path, &v->threats[i]);
        shown++;
    }
    if (!shown) {
        /* A non-clean verdict without a named finding: say the status anyway
         * so that the exit code is never the only trace of it. */
        bw_cli_buf_printf(b, "%s: %s\n", r->path, status_name(v->status));
    }
}

static void format_json(bw_cli_buf_t *b, const bw_cli_result_t *r, int only_found)
{
    const bw_verdict_t *v = r->verdict;
    if (v && v->status == BW_CLEAN && only_found)
        return;
    bw_cli_buf_puts(b, "{\"path\":");
    bw_cli_json_str(b, r->path);
    bw_cli_buf_puts(b, ",\"status\":");
    bw_cli_json_str(b, v ? status_name(v->status) : "ERROR");
    if (!v) {
        bw_cli_buf_puts(b, ",\"error\":");
        bw_cli_json_str(b, r->error ? r->error : "scan failed");
    }
    bw_cli_buf_puts(b, ",\"threats\":[");
    size_t shown = 0;
    for (size_t i = 0; v && i < v->nthreats; i++) {
        const bw_threat_t *t = &v->threats[i];
        if (t->status == BW_CLEAN)
            continue;
        if (shown++)
            bw_cli_buf_add(b, ",", 1);
        bw_cli_buf_puts(b, "{\"name\":");
        bw_cli_json_str(b, t->name);
        bw_cli_buf_puts(b, ",\"status\":");
        bw_cli_json_str(b, status_name(t->status));
        bw_cli_buf_puts(b, ",\"path\":");
        bw_cli_json_str(b, t->path);
        bw_cli_buf_add(b, "}", 1);
    }
    bw_cli_buf_printf(b, "],\"size\":%" PRIu64 ",\"bytes_scanned\":%" PRIu64 ",\"ms\":%.3f}\n",
                      r->size, v ? v->bytes_scanned : 0, r->ms);
}

void bw_cli_format_result(bw_cli_buf_t *b, const bw_cli_result_t *r, int json, int only_found)
{
    if (json)
        format_json(b, r, only_found);
    else
        format_text(b, r, only_found);
}

void bw_cli_format_summary(bw_cli_buf_t *b, const bw_cli_stats_t *s)
{
    const double mib = 1024.0 * 1024.0;
    bw_cli_buf_puts(b, "\n----------- SCAN SUMMARY -----------\n");
    bw_cli_buf_printf(b, "Known signatures: %" PRIu64 "\n", s->signatures);
    bw_cli_buf_printf(b, "Engine version: %s\n", BW_VERSION);
    bw_cli_buf_printf(b, "Database version: %" PRIu64 "\n", s->db_version);
    bw_cli_buf_printf(b, "Scanned directories: %" PRIu64 "\n", s->dirs);
    bw_cli_buf_printf(b, "Scanned files: %" PRIu64 "\n", s->files);
    bw_cli_buf_printf(b, "Infected files: %" PRIu64 "\n", s->found_files);
    if (s->errors)
        bw_cli_buf_printf(b, "Total errors: %" PRIu64 "\n", s->errors);
    bw_cli_buf_printf(b, "Data scanned: %.2f MiB\n", (double)s->bytes_scanned / mib);
    bw_cli_buf_printf(b, "Data read: %.2f MiB\n", (double)s->bytes_read / mib);
    bw_cli_buf_printf(b, "Time: %.3f sec\n", s->secs);
    double tput = s->secs > 0 ? (double)s->bytes_scanned / mib / s->secs : 0.0;
    bw_cli_buf_printf(b, "Throughput: %.2f MiB/s\n", tput);
    /* Severity order, highest first: the line a reader looks for comes first. */
    for (int st = BW_STATUS_COUNT - 1; st > BW_CLEAN; st--) {
        if (!s->by_status[st])
            continue;
        char label[32];
        bw_cli_status_label((bw_status_t)st, label, sizeof label);
        bw_cli_buf_printf(b, "%s: %" PRIu64 "\n", label, s->by_status[st]);
    }
}
