/* The body pipeline: content decoding, multipart splitting, scans, merge.
 *
 * Every byte of a body reaches a scan: a multipart upload's preamble and
 * epilogue are scanned as objects of their own, and a part the splitter could
 * not delimit is scanned raw.  A part's scan ends inline when the part ends
 * (its verdict is then merged); only the last scan's end runs on the thread
 * pool, through bw_icap_body_finish().
 */
#include "icap/icap-body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "icap/http-decode.h"
#include "icap/multipart.h"

struct bw_icap_body {
    const bw_engine_t *e;
    bw_limits_t lim;
    char name[256];
    int named;              /* name came from the request (not the "object" fallback) */
    bw_scan_t *scan;        /* the object (or part) being scanned */
    char scan_name[1100];
    int decided;
    bw_verdict_t merged;
    int multipart;
    bw_mp_t mp;
    int decoding;
    bw_hdec_t dec;
    int dec_result;         /* bw_hdec_result_t once the decoder stopped */
};

static void merge(bw_icap_body_t *b, bw_verdict_t *v, const char *where)
{
    bw_verdict_t *m = &b->merged;
    if (v->nthreats) {
        bw_threat_t *nt = realloc(m->threats, (m->nthreats + v->nthreats) * sizeof *nt);
        if (nt) {
            m->threats = nt;
            for (size_t i = 0; i < v->nthreats; i++) {
                bw_threat_t t = v->threats[i];
                if (where && !t.path[0]) {
                    free(t.path);
                    t.path = strdup(where);
                }
                m->threats[m->nthreats++] = t;
                v->threats[i].name = v->threats[i].path = NULL;
            }
        }
    }
    if (v->status > m->status)
        m->status = v->status;
    if (v->cured && !b->multipart) {
        m->cured = v->cured;
        m->cured_len = v->cured_len;
        v->cured = NULL;
    }
    m->bytes_scanned += v->bytes_scanned;
    bw_verdict_free(v);
    if (m->status == BW_INFECTED)
        b->decided = 1;
}

static int scan_open(bw_icap_body_t *b, const char *name)
{
    snprintf(b->scan_name, sizeof b->scan_name, "%s", name && *name ? name : b->name);
    b->scan = bw_scan_begin(b->e, &b->lim, b->scan_name);
    return b->scan ? BW_OK : BW_ERR;
}

static void scan_close(bw_icap_body_t *b, int multipart_part)
{
    if (!b->scan)
        return;
    bw_verdict_t v;
    if (bw_scan_end(b->scan, &v) == BW_OK)
        merge(b, &v, multipart_part ? b->scan_name : NULL);
    else
        b->merged.status = b->merged.status > BW_ERROR ? b->merged.status : BW_ERROR;
    b->scan = NULL;
}

static void scan_bytes(bw_icap_body_t *b, const char *p, size_t n)
{
    if (b->scan && bw_scan_feed(b->scan, p, n) == BW_DONE && !b->multipart)
        b->decided = 1;
}

static int on_part(void *ud, const bw_mp_event_t *ev)
{
    bw_icap_body_t *b = ud;
    switch (ev->type) {
    case BW_MP_PART_BEGIN: {
        const bw_mp_part_t *p = ev->part;
        char nm[1100];
        if (p->kind == BW_MP_KIND_PART)
            snprintf(nm, sizeof nm, "%s", p->has_filename && p->filename[0] ? p->filename
                                          : p->has_name ? p->name : "part");
        else
            snprintf(nm, sizeof nm, "%s", p->kind == BW_MP_KIND_PREAMBLE ? "(preamble)"
                                          : p->kind == BW_MP_KIND_EPILOGUE ? "(epilogue)" : "(raw)");
        scan_close(b, 1);
        return scan_open(b, nm) == BW_OK ? 0 : 1;
    }
    case BW_MP_PART_DATA:
        scan_bytes(b, ev->data, ev->len);
        return 0;
    case BW_MP_PART_END:
        scan_close(b, 1);
        return b->decided && !b->lim.all_match ? 1 : 0;
    case BW_MP_END:
        if (ev->truncated || ev->error) {
            /* Every byte was scanned, but not as the parts the origin will
             * see: say so rather than pass it as plainly clean. */
            bw_verdict_t v = {0};
            v.status = BW_CORRUPTED;
            v.threats = calloc(1, sizeof *v.threats);
            if (v.threats) {
                v.threats[0] = (bw_threat_t){BW_CORRUPTED,
                    strdup(ev->error ? "Broken.Multipart: malformed part headers"
                                     : "Broken.Multipart: no close delimiter"), strdup("")};
                v.nthreats = 1;
            }
            merge(b, &v, NULL);
        }
        return 0;
    default:
        return 0;
    }
}

bw_icap_body_t *bw_icap_body_new(const bw_engine_t *e, const bw_limits_t *lim, int is_upload,
                                 const bw_http_msg_t *msg, const char *name)
{
    bw_icap_body_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->e = e;
    b->lim = *lim;
    snprintf(b->name, sizeof b->name, "%s", name && *name ? name : "object");
    b->named = name && *name;
    bw_icap_str_t type, boundary;
    if (is_upload && msg && bw_http_content_type(msg, &type, &boundary) == BW_OK &&
        type.n == 19 && !strncasecmp(type.p, "multipart/form-data", 19) && boundary.n &&
        bw_mp_init(&b->mp, boundary.p, boundary.n) == BW_OK) {
        b->multipart = 1;
        return b;
    }
    /* One coding is undone before scanning; for anything else the raw
     * bytes are scanned (the engine still opens gzip, bzip2, xz and zstd
     * streams it recognises). */
    bw_http_coding_t codings[4];
    size_t nc = 0;
    if (msg && bw_http_content_encoding(msg, codings, 4, &nc) == BW_OK && nc == 1) {
        if (bw_hdec_init(&b->dec, codings[0], lim->max_scan_bytes, lim->max_ratio) == BW_HDEC_OK)
            b->decoding = 1;
        else
            bw_hdec_free(&b->dec);
    }
    if (scan_open(b, b->name) != BW_OK) {
        bw_icap_body_free(b);
        return NULL;
    }
    return b;
}

static int on_decoded(void *ud, const unsigned char *p, size_t n)
{
    bw_icap_body_t *b = ud;
    scan_bytes(b, (const char *)p, n);
    return b->decided ? 1 : 0;
}

int bw_icap_body_feed(bw_icap_body_t *b, const char *p, size_t n)
{
    if (b->decided)
        return BW_DONE;
    if (b->multipart) {
        bw_mp_feed(&b->mp, p, n, on_part, b);
    } else if (b->decoding) {
        if (!b->dec_result)
            b->dec_result = bw_hdec_feed(&b->dec, p, n, on_decoded, b);
    } else {
        scan_bytes(b, p, n);
    }
    return b->decided ? BW_DONE : BW_OK;
}

int bw_icap_body_decided(const bw_icap_body_t *b) { return b->decided; }

bw_status_t bw_icap_body_found(const bw_icap_body_t *b)
{
    bw_status_t st = b->scan ? bw_scan_found(b->scan) : BW_CLEAN;
    return b->merged.status > st ? b->merged.status : st;
}

int bw_icap_body_finish(bw_icap_body_t *b, bw_verdict_t *out)
{
    if (b->multipart) {
        if (!b->decided)
            bw_mp_finish(&b->mp, on_part, b);
        scan_close(b, 1);
    } else {
        if (b->decoding && !b->dec_result && !b->decided)
            b->dec_result = bw_hdec_end(&b->dec, on_decoded, b);
        scan_close(b, 0);
        /* What was decoded was scanned; a stream that broke off or hit a
         * bound is said in the verdict, never a silent CLEAN. */
        bw_status_t st = BW_CLEAN;
        const char *why = NULL;
        switch (b->dec_result) {
        case BW_HDEC_ERROR: st = BW_CORRUPTED; why = "Broken.ContentEncoding: corrupt stream"; break;
        case BW_HDEC_TRUNCATED: st = BW_CORRUPTED; why = "Broken.ContentEncoding: truncated stream"; break;
        case BW_HDEC_TOO_LARGE: st = BW_TOO_LARGE; why = "limits exceeded: max scan size (decoded)"; break;
        case BW_HDEC_RATIO: st = BW_ERROR; why = "limits exceeded: compression ratio (bomb?)"; break;
        default: break;
        }
        if (why) {
            bw_verdict_t v = {0};
            v.status = st;
            v.threats = calloc(1, sizeof *v.threats);
            if (v.threats) {
                v.threats[0] = (bw_threat_t){st, strdup(why), strdup("")};
                v.nthreats = 1;
            }
            merge(b, &v, NULL);
        }
        /* A finding in the object itself is named after the object (its URL's
         * last segment): NAS clients show X-Violations-Found's file name line,
         * and a member's path already starts with it ("a.zip/x.exe"). */
        for (size_t i = 0; b->named && i < b->merged.nthreats; i++) {
            bw_threat_t *t = &b->merged.threats[i];
            char *nm = t->path && !t->path[0] ? strdup(b->name) : NULL;
            if (nm) {
                free(t->path);
                t->path = nm;
            }
        }
    }
    *out = b->merged;
    memset(&b->merged, 0, sizeof b->merged);
    return BW_OK;
}

void bw_icap_body_free(bw_icap_body_t *b)
{
    if (!b)
        return;
    if (b->scan)
        bw_scan_abort(b->scan);
    if (b->decoding)
        bw_hdec_free(&b->dec);
    bw_verdict_free(&b->merged);
    free(b);
}
