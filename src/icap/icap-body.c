/* SPDX-License-Identifier: Apache-2.0 */
/* The body pipeline: content decoding, multipart splitting, scans, merge.
 *
 * Every byte of a body reaches a scan, and where we may read a body
 * differently from the origin or the browser, every reading is scanned:
 *
 * - An upload (REQMOD) is stored by the origin as it crossed, so its raw
 *   bytes are always scanned as one object ("whole body"), whatever the
 *   decoding or the splitting gives besides.
 * - A download that claims a Content-Encoding is scanned decoded.  The raw
 *   bytes go through a second scan alongside; its verdict counts when the
 *   decoding failed (a mislabelled body is what the client then sees raw),
 *   and it is dropped otherwise (ending it would unpack the same stream a
 *   second time).  A finding in the raw bytes always counts.
 * - A multipart upload is split with every boundary its Content-Type
 *   headers name (a repeated parameter, boundary*=, two headers: origins
 *   differ in which one they take).  Each part is scanned as a file, its
 *   base64 or quoted-printable transfer encoding undone in a second scan,
 *   and a multipart part is split again (MP_DEPTH levels).  The preamble and
 *   epilogue are scanned as objects of their own.
 *
 * A part's scan ends inline when the part ends (its verdict is then merged);
 * only the last scans' ends run on the thread pool, through
 * bw_icap_body_finish().
 */
#include "icap/icap-body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "icap/http-decode.h"
#include "icap/multipart.h"

#define MP_CANDS 4 /* boundaries tried at the top level */
#define MP_DEPTH 3 /* multipart levels followed: the body, and two nested */

typedef struct split split_t;

struct bw_icap_body {
    const bw_engine_t *e;
    bw_limits_t lim;
    char name[256];
    int named;              /* name came from the request (not the "object" fallback) */
    bw_scan_t *scan;        /* the object (single-object mode) */
    int decided;
    bw_verdict_t merged;
    split_t *splits[MP_CANDS];
    size_t nsplit;
    int multipart;
    int decoding;
    bw_hdec_t dec;
    int dec_result;         /* bw_hdec_result_t once the decoder stopped */
    bw_scan_t *raw;         /* the raw bytes, beside a decoded or split reading */
    int raw_counts;         /* its verdict is merged at the end (an upload) */
    unsigned noted;         /* NOTE_* already added to the verdict */
    int sniffing;           /* an upload: its first line may name a boundary */
    char sniff[BW_MP_BOUNDARY_MAX + 64];
    size_t sniff_len;
};

/* One splitter and the scans of its current part. */
struct split {
    bw_icap_body_t *b;
    int depth;
    bw_mp_t mp;
    bw_scan_t *part;        /* the current part, as sent */
    bw_scan_t *dec;         /* the current part, transfer-decoded */
    bw_cte_dec_t cte;
    char part_name[1100];
    split_t *child;         /* a multipart part, split again */
    int sniffed;            /* the boundary came from the body, not the headers */
};

enum { NOTE_MP_AMBIG = 1, NOTE_MP_TRUNC = 2, NOTE_MP_HEAD = 4 };

static void merge(bw_icap_body_t *b, bw_verdict_t *v, const char *where, int allow_cure)
{
    bw_verdict_t *m = &b->merged;
    if (v->nthreats) {
        bw_threat_t *nt = realloc(m->threats, (m->nthreats + v->nthreats) * sizeof *nt);
        if (nt) {
            m->threats = nt;
            for (size_t i = 0; i < v->nthreats; i++) {
                bw_threat_t t = v->threats[i];
                if (where && t.path && !t.path[0]) {
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
    if (v->cured && allow_cure && !b->multipart) {
        m->cured = v->cured;
        m->cured_len = v->cured_len;
        v->cured = NULL;
    }
    m->bytes_scanned += v->bytes_scanned;
    bw_verdict_free(v);
    if (m->status == BW_INFECTED)
        b->decided = 1;
}

int bw_icap_body_note(bw_icap_body_t *b, bw_status_t st, const char *text)
{
    bw_verdict_t v = {0};
    v.status = st;
    v.threats = calloc(1, sizeof *v.threats);
    if (!v.threats)
        return BW_ERR;
    v.threats[0] = (bw_threat_t){st, strdup(text), strdup("")};
    if (!v.threats[0].name || !v.threats[0].path) {
        free(v.threats[0].name);
        free(v.threats[0].path);
        free(v.threats);
        return BW_ERR;
    }
    v.nthreats = 1;
    merge(b, &v, NULL, 0);
    return BW_OK;
}

static void note_once(bw_icap_body_t *b, unsigned which, bw_status_t st, const char *text)
{
    if (b->noted & which)
        return;
    b->noted |= which;
    bw_icap_body_note(b, st, text);
}

/* Ends a scan and merges its verdict under where (NULL: the object). */
static void end_scan(bw_icap_body_t *b, bw_scan_t **s, const char *where, int allow_cure)
{
    if (!*s)
        return;
    bw_verdict_t v;
    if (bw_scan_end(*s, &v) == BW_OK)
        merge(b, &v, where, allow_cure);
    else if (b->merged.status < BW_ERROR)
        b->merged.status = BW_ERROR;
    *s = NULL;
}

/* Feeds a scan; a finding that stops it early is merged at once. */
static void feed_scan(bw_icap_body_t *b, bw_scan_t **s, const char *p, size_t n, const char *where)
{
    if (*s && bw_scan_feed(*s, p, n) == BW_DONE)
        end_scan(b, s, where, 0);
}

/* ---- multipart ------------------------------------------------------------- */

static int on_part(void *ud, const bw_mp_event_t *ev);

/* A boundary*= value (RFC 2231): charset'language'percent-encoded. */
static size_t decode_ext(const char *p, size_t n, char *out, size_t cap)
{
    size_t i = 0, q = 0;
    while (i < n && q < 2)
        if (p[i++] == '\'')
            q++;
    if (q < 2)
        i = 0;
    size_t o = 0;
    for (; i < n && o < cap; i++) {
        unsigned h1, h2;
        if (p[i] == '%' && i + 2 < n && sscanf(p + i + 1, "%1x%1x", &h1, &h2) == 2) {
            out[o++] = (char)(h1 * 16 + h2);
            i += 2;
        } else {
            out[o++] = p[i];
        }
    }
    return o;
}

static split_t *split_new(bw_icap_body_t *b, int depth, const char *bnd, size_t n, int ext)
{
    char tmp[BW_MP_BOUNDARY_MAX + 1];
    if (ext) {
        n = decode_ext(bnd, n, tmp, sizeof tmp);
        bnd = tmp;
    }
    split_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->b = b;
    s->depth = depth;
    if (bw_mp_init(&s->mp, bnd, n) != BW_OK) {
        free(s);
        return NULL;
    }
    return s;
}

static void split_free(split_t *s)
{
    if (!s)
        return;
    split_free(s->child);
    if (s->part)
        bw_scan_abort(s->part);
    if (s->dec)
        bw_scan_abort(s->dec);
    free(s);
}

/* The boundaries a part's Content-Type names (its value as the splitter
 * kept it), through the same code as the message's. */
static size_t part_boundaries(const char *ctype, bw_icap_str_t *out, int *ext, size_t max,
                              int *ambiguous)
{
    static __thread bw_http_msg_t m; /* 8 KiB of header slots: not on the stack */
    m.nheaders = 1;
    m.headers[0].name = (bw_icap_str_t){"Content-Type", 12};
    m.headers[0].value = (bw_icap_str_t){ctype, strlen(ctype)};
    return bw_http_boundaries(&m, out, ext, max, ambiguous);
}

static void close_part(split_t *s, int finish_child)
{
    bw_icap_body_t *b = s->b;
    if (s->child) {
        if (finish_child && !b->decided)
            bw_mp_finish(&s->child->mp, on_part, s->child);
        split_free(s->child);
        s->child = NULL;
    }
    if (s->dec) {
        char out[8];
        size_t k = bw_cte_end(&s->cte, out);
        if (k)
            feed_scan(b, &s->dec, out, k, s->part_name);
        end_scan(b, &s->dec, s->part_name, 0);
    }
    end_scan(b, &s->part, s->part_name, 0);
}

static void begin_part(split_t *s, const bw_mp_part_t *p)
{
    bw_icap_body_t *b = s->b;
    if (p->kind == BW_MP_KIND_PART)
        snprintf(s->part_name, sizeof s->part_name, "%s",
                 p->has_filename && p->filename[0] ? p->filename : p->has_name ? p->name : "part");
    else
        snprintf(s->part_name, sizeof s->part_name, "%s",
                 p->kind == BW_MP_KIND_PREAMBLE ? "(preamble)"
                 : p->kind == BW_MP_KIND_EPILOGUE ? "(epilogue)" : "(raw)");
    s->part = bw_scan_begin(b->e, &b->lim, s->part_name);
    if (!s->part && b->merged.status < BW_ERROR)
        b->merged.status = BW_ERROR; /* not scanned: never a silent CLEAN */
    if (p->kind != BW_MP_KIND_PART)
        return;
    if (p->head_cut || p->ctype_twice)
        note_once(b, NOTE_MP_HEAD, BW_CORRUPTED,
                  "Broken.Multipart: ambiguous part headers (whole body scanned too)");
    bw_cte_t k = bw_cte_kind(p->cte);
    if (k == BW_CTE_BASE64 || k == BW_CTE_QP) {
        /* Origins mostly store the bytes as sent, but some decode: both. */
        bw_cte_init(&s->cte, k);
        s->dec = bw_scan_begin(b->e, &b->lim, s->part_name);
    }
    if (s->depth + 1 < MP_DEPTH && !strncasecmp(p->ctype, "multipart/", 10)) {
        bw_icap_str_t bnd[2];
        int ext[2], amb = 0;
        size_t nb = part_boundaries(p->ctype, bnd, ext, 2, &amb);
        if (amb || nb > 1)
            note_once(b, NOTE_MP_AMBIG, BW_CORRUPTED,
                      "Broken.Multipart: ambiguous boundary (whole body scanned too)");
        if (nb && (s->child = split_new(b, s->depth + 1, bnd[0].p, bnd[0].n, ext[0])))
            s->child->sniffed = s->sniffed;
    }
}

static void part_data(split_t *s, const char *p, size_t n)
{
    bw_icap_body_t *b = s->b;
    feed_scan(b, &s->part, p, n, s->part_name);
    while (s->dec && n) {
        char out[16384 + 8];
        size_t k = n < 16384 ? n : 16384;
        size_t o = bw_cte_feed(&s->cte, p, k, out);
        if (o)
            feed_scan(b, &s->dec, out, o, s->part_name);
        p += k;
        n -= k;
    }
}

static int on_part(void *ud, const bw_mp_event_t *ev)
{
    split_t *s = ud;
    bw_icap_body_t *b = s->b;
    switch (ev->type) {
    case BW_MP_PART_BEGIN:
        close_part(s, 1);
        begin_part(s, ev->part);
        break;
    case BW_MP_PART_DATA:
        part_data(s, ev->data, ev->len);
        if (s->child && !b->decided)
            bw_mp_feed(&s->child->mp, ev->data, ev->len, on_part, s->child);
        break;
    case BW_MP_PART_END:
        close_part(s, 1);
        break;
    case BW_MP_END:
        /* Every byte was scanned, but not as the parts the origin will see:
         * say so rather than pass it as plainly clean. */
        if ((ev->truncated || ev->error) && !s->sniffed)
            note_once(b, NOTE_MP_TRUNC, BW_CORRUPTED,
                      ev->error ? "Broken.Multipart: malformed part headers"
                                : "Broken.Multipart: no close delimiter");
        break;
    default:
        break;
    }
    return b->decided && !b->lim.all_match ? 1 : 0;
}

/* ---- the pipeline ------------------------------------------------------------ */

static int setup_multipart(bw_icap_body_t *b, const bw_http_msg_t *msg)
{
    bw_icap_str_t bnd[MP_CANDS];
    int ext[MP_CANDS], amb = 0;
    size_t nb = bw_http_boundaries(msg, bnd, ext, MP_CANDS, &amb);
    for (size_t i = 0; i < nb; i++) {
        split_t *s = split_new(b, 0, bnd[i].p, bnd[i].n, ext[i]);
        if (s)
            b->splits[b->nsplit++] = s;
        else
            amb = 1; /* a boundary we cannot follow (too long, CR/LF) */
    }
    if (nb && (amb || nb > 1 || msg->dropped))
        note_once(b, NOTE_MP_AMBIG, BW_CORRUPTED,
                  "Broken.Multipart: ambiguous boundary (whole body scanned too)");
    return b->nsplit ? BW_OK : BW_DECLINED;
}

/* The body's first line, held until its LF: "--" and a plausible boundary
 * there (RFC 2046 bchars, no blank) that no header named starts one more
 * split.  So a boundary the headers hide (past the 256th header, in a
 * parameter we could not parse) is still followed, as browsers always open
 * the body with the first delimiter.  A split found this way reports no
 * malformation of its own: the body may just be a file that starts "--". */
static void sniff_feed(bw_icap_body_t *b, const char *p, size_t n)
{
    size_t room = sizeof b->sniff - b->sniff_len, k = n < room ? n : room;
    memcpy(b->sniff + b->sniff_len, p, k);
    b->sniff_len += k;
    const char *lf = memchr(b->sniff, '\n', b->sniff_len);
    if (!lf && b->sniff_len < sizeof b->sniff)
        return;
    b->sniffing = 0;
    if (!lf || b->sniff_len < 3 || b->sniff[0] != '-' || b->sniff[1] != '-')
        return;
    size_t e = (size_t)(lf - b->sniff);
    while (e > 2 && (b->sniff[e - 1] == '\r' || b->sniff[e - 1] == ' ' || b->sniff[e - 1] == '\t'))
        e--;
    const char *bnd = b->sniff + 2;
    size_t bl = e - 2;
    if (bl == 0 || bl > BW_MP_BOUNDARY_MAX || b->nsplit == MP_CANDS)
        return;
    for (size_t i = 0; i < bl; i++)
        if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?",
                    bnd[i]))
            return;
    for (size_t i = 0; i < b->nsplit; i++)
        if (b->splits[i]->mp.patlen == bl + 4 && !memcmp(b->splits[i]->mp.pat + 4, bnd, bl))
            return; /* a header named it: already split */
    split_t *sp = split_new(b, 0, bnd, bl, 0);
    if (!sp)
        return;
    sp->sniffed = 1;
    b->splits[b->nsplit++] = sp;
    if (b->nsplit > 1)
        note_once(b, NOTE_MP_AMBIG, BW_CORRUPTED,
                  "Broken.Multipart: ambiguous boundary (whole body scanned too)");
    /* the new split has seen nothing yet: the held bytes, then this feed's rest */
    bw_mp_feed(&sp->mp, b->sniff, b->sniff_len, on_part, sp);
    if (k < n && !b->decided)
        bw_mp_feed(&sp->mp, p + k, n - k, on_part, sp);
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
    if (is_upload && msg && setup_multipart(b, msg) == BW_OK) {
        b->multipart = 1;
        /* The origin stores the parts, and whatever it makes of the rest:
         * the whole body is scanned too, as one object. */
        b->raw = bw_scan_begin(e, lim, "(whole body)");
        b->raw_counts = 1;
        b->sniffing = 1;
        if (!b->raw) {
            bw_icap_body_free(b);
            return NULL;
        }
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
    b->scan = bw_scan_begin(e, lim, b->name);
    if (b->decoding)
        b->raw = bw_scan_begin(e, lim, b->name);
    b->raw_counts = is_upload; /* an origin stores an upload as it crossed */
    b->sniffing = is_upload;
    if (!b->scan || (b->decoding && !b->raw)) {
        bw_icap_body_free(b);
        return NULL;
    }
    return b;
}

static int on_decoded(void *ud, const unsigned char *p, size_t n)
{
    bw_icap_body_t *b = ud;
    if (b->scan && bw_scan_feed(b->scan, p, n) == BW_DONE)
        b->decided = 1;
    return b->decided ? 1 : 0;
}

int bw_icap_body_feed(bw_icap_body_t *b, const char *p, size_t n)
{
    if (b->decided)
        return BW_DONE;
    feed_scan(b, &b->raw, p, n, b->multipart ? "(whole body)" : NULL);
    if (b->decided)
        return BW_DONE;
    size_t nsplit = b->nsplit; /* a split the sniff adds is fed by it */
    for (size_t i = 0; i < nsplit && !b->decided; i++)
        bw_mp_feed(&b->splits[i]->mp, p, n, on_part, b->splits[i]);
    if (b->sniffing && !b->decided)
        sniff_feed(b, p, n);
    if (!b->decided && !b->multipart) {
        if (b->decoding) {
            if (!b->dec_result)
                b->dec_result = bw_hdec_feed(&b->dec, p, n, on_decoded, b);
        } else if (b->scan && bw_scan_feed(b->scan, p, n) == BW_DONE) {
            b->decided = 1;
        }
    }
    return b->decided ? BW_DONE : BW_OK;
}

int bw_icap_body_decided(const bw_icap_body_t *b) { return b->decided; }

static void finish_single(bw_icap_body_t *b)
{
    if (b->decoding && !b->dec_result && !b->decided)
        b->dec_result = bw_hdec_end(&b->dec, on_decoded, b);
    end_scan(b, &b->scan, NULL, 1);
    /* What was decoded was scanned; a stream that broke off or hit a
     * bound is said in the verdict, never a silent CLEAN.  A stream that
     * does not decode is what the client gets raw: those bytes count. */
    bw_status_t st = BW_CLEAN;
    const char *why = NULL;
    int failed = 0;
    switch (b->dec_result) {
    case BW_HDEC_ERROR:
        st = BW_CORRUPTED, failed = 1;
        why = "Broken.ContentEncoding: corrupt stream (raw bytes scanned)";
        break;
    case BW_HDEC_TRUNCATED:
        st = BW_CORRUPTED, failed = 1;
        why = "Broken.ContentEncoding: truncated stream (raw bytes scanned)";
        break;
    case BW_HDEC_TOO_LARGE: st = BW_TOO_LARGE; why = "limits exceeded: max scan size (decoded)"; break;
    case BW_HDEC_RATIO: st = BW_ERROR; why = "limits exceeded: compression ratio (bomb?)"; break;
    default: break;
    }
    if (b->raw && (failed || b->raw_counts) && !b->decided)
        end_scan(b, &b->raw, NULL, 0);
    if (why)
        bw_icap_body_note(b, st, why);
}

static bw_status_t found_in(const bw_scan_t *s, bw_status_t st)
{
    bw_status_t f = s ? bw_scan_found(s) : BW_CLEAN;
    return f > st ? f : st;
}

/* What is merged already, the scans under way (the object, every split's
 * current part as sent and decoded, nested splits included) and the raw
 * one when its verdict counts. */
bw_status_t bw_icap_body_found(const bw_icap_body_t *b)
{
    bw_status_t st = found_in(b->scan, b->merged.status);
    if (b->raw_counts)
        st = found_in(b->raw, st);
    for (size_t i = 0; i < b->nsplit; i++)
        for (const split_t *sp = b->splits[i]; sp; sp = sp->child)
            st = found_in(sp->dec, found_in(sp->part, st));
    return st;
}

int bw_icap_body_finish(bw_icap_body_t *b, bw_verdict_t *out)
{
    for (size_t i = 0; i < b->nsplit; i++) {
        if (!b->decided)
            bw_mp_finish(&b->splits[i]->mp, on_part, b->splits[i]);
        close_part(b->splits[i], 0);
    }
    if (b->multipart) {
        if (!b->decided)
            end_scan(b, &b->raw, "(whole body)", 0);
    } else {
        finish_single(b);
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
    if (b->raw)
        bw_scan_abort(b->raw);
    for (size_t i = 0; i < b->nsplit; i++)
        split_free(b->splits[i]);
    if (b->decoding)
        bw_hdec_free(&b->dec);
    bw_verdict_free(&b->merged);
    free(b);
}
