/* SPDX-License-Identifier: Apache-2.0 */
/* The scan pipeline: one object in, one verdict out.
 *
 * Every byte fed goes, in one pass, to the digests the database needs, to the
 * body matcher (scan-body.c), and, while the object's type is unknown, to a
 * head buffer.  Once the head says "container" the object is also spooled,
 * and at the end it is unpacked (unpack.c) into child scans of the members.
 * Limits are statuses: an object past a budget ends TOO_LARGE or TIMEOUT,
 * never CLEAN.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "db-load.h"
#include "scan-int.h"
#include "scan-t.h"

#define FEED_SLICE (256u * 1024u)

static const EVP_MD *md_of(int kind)
{
    return kind == BW_HASH_MD5 ? EVP_md5() : kind == BW_HASH_SHA1 ? EVP_sha1() : EVP_sha256();
}

static bw_scan_t *scan_new(const bw_engine_t *e, const bw_limits_t *lim, bw_scan_t *parent,
                           const char *path)
{
    bw_scan_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->e = e;
    if (lim)
        s->lim = *lim;
    else
        bw_limits_default(&s->lim);
    s->parent = parent;
    s->root = parent ? parent->root : s;
    s->depth = parent ? parent->depth + 1 : 0;
    s->path = strdup(path);
    s->head = malloc(BW_FTYPE_HEAD);
    bw_spool_init(&s->spool, BW_SPOOL_MEM_DEFAULT);
    if (!s->path || !s->head)
        goto fail;
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        if (!e->need_hash[k])
            continue;
        s->md[k] = EVP_MD_CTX_new();
        if (!s->md[k] || !EVP_DigestInit_ex(s->md[k], md_of(k), NULL))
            goto fail;
    }
    if (!parent)
        s->deadline_ms = s->lim.max_scan_ms ? bw_clock_ms() + s->lim.max_scan_ms : 0;
    if (bw_body_begin(s) != BW_OK)
        goto fail;
    return s;
fail:
    bw_scan_abort(s);
    return NULL;
}

bw_scan_t *bw_scan_begin(const bw_engine_t *e, const bw_limits_t *lim, const char *name)
{
    const char *base = name ? strrchr(name, '/') : NULL;
    base = base && base[1] ? base + 1 : (name && *name ? name : "stream");
    return scan_new(e, lim, NULL, base);
}

bw_scan_t *bw_scan_begin_child(bw_scan_t *parent, const char *member_name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", parent->path, member_name && *member_name ? member_name : "?") < 0)
        return NULL;
    bw_scan_t *s = scan_new(parent->e, &parent->lim, parent, p);
    free(p);
    return s;
}

static void free_findings(bw_scan_t *s)
{
    for (size_t i = 0; i < s->findings.n; i++) {
        free(s->findings.v[i].name);
        free(s->findings.v[i].path);
    }
    s->findings.n = 0;
}

void bw_scan_abort(bw_scan_t *s)
{
    if (!s)
        return;
    bw_body_free(s);
    for (int k = 0; k < BW_HASH_KINDS; k++)
        EVP_MD_CTX_free(s->md[k]);
    free_findings(s);
    bw_vec_free(&s->findings);
    bw_spool_free(&s->spool);
    free(s->head);
    free(s->path);
    free(s);
}

void bw_scan_add_finding(bw_scan_t *s, bw_status_t st, uint32_t meta, const char *name,
                         const char *path)
{
    if (!path)
        path = s->parent ? s->path : "";
    for (size_t i = 0; i < s->findings.n; i++) {
        const bw_finding_t *f = &s->findings.v[i];
        if (f->status == st && !strcmp(f->name, name) && !strcmp(f->path, path))
            return; /* one line per signature and place */
    }
    bw_finding_t f = {st, meta, strdup(name), strdup(path)};
    if (!f.name || !f.path || bw_vec_push(&s->findings, f)) {
        free(f.name);
        free(f.path);
        s->failed = 1;
        return;
    }
    if (st == BW_INFECTED && !s->lim.all_match)
        s->root->stop = 1;
}

void bw_scan_bsig_matched(bw_scan_t *s, uint32_t bsig)
{
    const bw_sigdb_t *db = &s->e->db;
    const bw_sigmeta_t *m = &db->metas.v[db->bsigs.v[bsig].owner];
    bw_scan_add_finding(s, (bw_status_t)m->status, db->bsigs.v[bsig].owner,
                        bw_sigdb_string(db, m->name_off), NULL);
}

void bw_scan_report(bw_scan_t *s, bw_status_t st, const char *name, const char *sub)
{
    char *p = NULL;
    if (sub && asprintf(&p, "%s/%s", s->path, sub) < 0)
        p = NULL;
    bw_scan_add_finding(s, st, UINT32_MAX, name, p ? p : NULL);
    free(p);
    if (st == BW_TOO_LARGE || st == BW_TIMEOUT)
        s->done = 1;
}

const bw_limits_t *bw_scan_limits(const bw_scan_t *s) { return &s->lim; }
uint32_t bw_scan_depth(const bw_scan_t *s) { return s->depth; }
int bw_scan_decided(const bw_scan_t *s) { return s->root->stop; }

bw_status_t bw_scan_found(const bw_scan_t *s)
{
    bw_status_t st = BW_CLEAN;
    for (size_t i = 0; i < s->findings.n; i++)
        if (s->findings.v[i].status > st)
            st = s->findings.v[i].status;
    return st;
}

int bw_scan_check_budget(bw_scan_t *s)
{
    bw_scan_t *r = s->root;
    if (r->stop)
        return BW_DONE;
    if (r->lim.max_scan_bytes && r->total_bytes > r->lim.max_scan_bytes) {
        bw_scan_report(r, BW_TOO_LARGE, "limits exceeded: max scan size", NULL);
        r->stop = 1;
        return BW_DONE;
    }
    if (r->deadline_ms && bw_clock_ms() > r->deadline_ms) {
        bw_scan_report(r, BW_TIMEOUT, "limits exceeded: max scan time", NULL);
        r->stop = 1;
        return BW_DONE;
    }
    return BW_OK;
}

static void decide_type(bw_scan_t *s)
{
    if (s->type_known)
        return;
    s->type = bw_ftype_detect(s->head, s->head_len);
    s->type_known = 1;
    if (bw_ftype_is_container(s->type) && s->lim.scan_archives) {
        s->spooling = 1;
        if (bw_spool_write(&s->spool, s->head, s->head_len) != BW_OK)
            s->failed = 1;
    }
    bw_body_type_known(s);
}

/* 1 if a hash table of this kind has an entry of this size or of any size. */
static int hash_size_possible(const bw_sigdb_t *db, int kind, uint64_t size)
{
    for (int l = 0; l < BW_HLISTS; l++) {
        const bw_hashent_t *v = db->hashes[l][kind].v;
        size_t lo = 0, hi = db->hashes[l][kind].n;
        if (hi && v[hi - 1].size == BW_SIZE_ANY)
            return 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (v[mid].size < size)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < db->hashes[l][kind].n && v[lo].size == size)
            return 1;
    }
    return 0;
}

int bw_scan_expect_size(bw_scan_t *s, uint64_t size)
{
    if (s->size)
        return BW_DECLINED;
    s->size_hint = size;
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        if (s->md[k] && !hash_size_possible(&s->e->db, k, size)) {
            EVP_MD_CTX_free(s->md[k]);
            s->md[k] = NULL;
            s->md_skipped[k] = 1;
        }
    }
    return BW_OK;
}

static int feed_slice(bw_scan_t *s, const uint8_t *p, size_t len)
{
    if (s->lim.max_file_size && s->size + len > s->lim.max_file_size) {
        bw_scan_report(s, BW_TOO_LARGE, "limits exceeded: max file size", NULL);
        return BW_DONE;
    }
    s->size += len;
    s->root->total_bytes += len;
    if (bw_scan_check_budget(s) != BW_OK)
        return BW_DONE;
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        if (!s->md[k])
            continue;
        if (s->size > s->e->hash_max_size[k]) {
            /* Larger than any hash signature of this kind: its digest can
             * match nothing (a stream of unknown size, e.g. clamd INSTREAM,
             * would otherwise be hashed to its end for no use). */
            EVP_MD_CTX_free(s->md[k]);
            s->md[k] = NULL;
            continue;
        }
        EVP_DigestUpdate(s->md[k], p, len);
    }
    if (!s->type_known) {
        size_t take = BW_FTYPE_HEAD - s->head_len;
        if (take > len)
            take = len;
        memcpy(s->head + s->head_len, p, take);
        s->head_len += take;
        if (s->head_len == BW_FTYPE_HEAD) {
            decide_type(s);
            if (s->spooling && take < len && bw_spool_write(&s->spool, p + take, len - take))
                s->failed = 1;
        }
    } else if (s->spooling && bw_spool_write(&s->spool, p, len) != BW_OK) {
        s->failed = 1;
    }
    if (bw_body_feed(s, p, len) != BW_OK)
        s->failed = 1;
    return s->failed ? BW_ERR : BW_OK;
}

int bw_scan_feed(bw_scan_t *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len && !s->done) {
        /* After a decisive detection only the allow-list digests still
         * matter; without an allow list nothing does. */
        if (s->root->stop && !s->e->has_allow)
            return BW_DONE;
        size_t n = len < FEED_SLICE ? len : FEED_SLICE;
        int rc = feed_slice(s, p, n);
        if (rc == BW_DONE)
            s->done = 1;
        else if (rc != BW_OK)
            return BW_ERR;
        p += n;
        len -= n;
    }
    return (s->done || (s->root->stop && !s->e->has_allow)) ? BW_DONE : BW_OK;
}

/* Hash signatures and the allow list; returns 1 if the object is allowed. */
static int check_hashes(bw_scan_t *s)
{
    const bw_sigdb_t *db = &s->e->db;
    uint8_t dig[BW_HASH_KINDS][32];
    int have[BW_HASH_KINDS] = {0};
    if (s->done)
        return 0; /* a truncated object has no meaningful digest */
    /* A digest skipped on the size hint matters only if the whole object was
     * read and turned out to have another size; a scan stopped by a
     * decisive detection has its verdict already. */
    for (int k = 0; k < BW_HASH_KINDS && !s->root->stop; k++) {
        if (s->md_skipped[k] && s->size != s->size_hint) {
            bw_scan_add_finding(s, BW_ERROR, UINT32_MAX,
                                "scan error: object size changed during scan", NULL);
            break;
        }
    }
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        unsigned len = 0;
        if (s->md[k] && EVP_DigestFinal_ex(s->md[k], dig[k], &len))
            have[k] = 1;
    }
    for (int k = 0; k < BW_HASH_KINDS; k++)
        if (have[k] && bw_sigdb_find_hash(db, BW_HLIST_ALLOW, k, s->size, dig[k]))
            return 1;
    for (int k = 0; k < BW_HASH_KINDS; k++) {
        const bw_hashent_t *h = have[k] ? bw_sigdb_find_hash(db, BW_HLIST_DETECT, k, s->size, dig[k]) : NULL;
        if (h) {
            const bw_sigmeta_t *m = &db->metas.v[h->meta];
            bw_scan_add_finding(s, (bw_status_t)m->status, h->meta,
                                bw_sigdb_string(db, m->name_off), NULL);
        }
    }
    return 0;
}

/* Finishes one object (root or child): everything but building the verdict. */
static void scan_finish(bw_scan_t *s)
{
    decide_type(s);
    bw_body_end(s);
    int allowed = check_hashes(s);
    if (allowed) {
        free_findings(s);
        return;
    }
    if (s->spooling && !s->done && !s->root->stop && !s->failed) {
        if (bw_unpack(s, &s->spool, s->type) != BW_OK)
            s->failed = 1;
    }
    if (s->failed)
        bw_scan_add_finding(s, BW_ERROR, UINT32_MAX, "scan error: out of memory or I/O", NULL);
}

int bw_scan_end_child(bw_scan_t *c)
{
    scan_finish(c);
    bw_scan_t *p = c->parent;
    int rc = BW_OK;
    for (size_t i = 0; i < c->findings.n; i++) {
        bw_finding_t *f = &c->findings.v[i];
        bw_scan_add_finding(p, f->status, f->meta, f->name, f->path);
    }
    bw_scan_abort(c);
    return rc;
}

int bw_scan_end(bw_scan_t *s, bw_verdict_t *out)
{
    memset(out, 0, sizeof *out);
    scan_finish(s);
    out->status = BW_CLEAN;
    out->bytes_scanned = s->total_bytes;
    out->threats = calloc(s->findings.n ? s->findings.n : 1, sizeof *out->threats);
    if (!out->threats) {
        bw_scan_abort(s);
        return BW_ERR;
    }
    for (size_t i = 0; i < s->findings.n; i++) {
        bw_finding_t *f = &s->findings.v[i];
        out->threats[i] = (bw_threat_t){f->status, f->name, f->path};
        f->name = f->path = NULL; /* ownership moves to the verdict */
        if (f->status > out->status)
            out->status = f->status;
    }
    out->nthreats = s->findings.n;
    if (out->status == BW_CURED) {
        /* The cure for this object: the replacement its signature names. */
        const bw_sigdb_t *db = &s->e->db;
        for (size_t i = 0; i < s->findings.n; i++) {
            uint32_t mi = s->findings.v[i].meta;
            if (mi == UINT32_MAX || out->threats[i].path[0])
                continue;
            const bw_sigmeta_t *m = &db->metas.v[mi];
            out->cured = malloc(m->cure_len ? m->cure_len : 1);
            if (out->cured) {
                memcpy(out->cured, db->bytes.v + m->cure_off, m->cure_len);
                out->cured_len = m->cure_len;
            }
            break;
        }
    }
    bw_scan_abort(s);
    return BW_OK;
}

int bw_scan_fd(const bw_engine_t *e, const bw_limits_t *lim, int fd, const char *name,
               bw_verdict_t *out)
{
    bw_scan_t *s = bw_scan_begin(e, lim, name);
    if (!s)
        return BW_ERR;
    /* A regular file is read whole, from offset 0, with pread: the size
     * expected is st_size, and a caller's descriptor (clamd's FILDES, a
     * file scanned twice) keeps its offset.  A pipe is read from where it
     * is. */
    struct stat st;
    int whole = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (whole)
        bw_scan_expect_size(s, (uint64_t)st.st_size);
    uint8_t *buf = malloc(FEED_SLICE);
    if (!buf) {
        bw_scan_abort(s);
        return BW_ERR;
    }
    off_t off = 0;
    for (;;) {
        ssize_t n = whole ? pread(fd, buf, FEED_SLICE, off) : read(fd, buf, FEED_SLICE);
        if (n > 0)
            off += n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            free(buf);
            bw_scan_abort(s);
            errno = err;
            return BW_ERR;
        }
        if (n == 0 || bw_scan_feed(s, buf, (size_t)n) != BW_OK)
            break;
    }
    free(buf);
    return bw_scan_end(s, out);
}

int bw_scan_path(const bw_engine_t *e, const bw_limits_t *lim, const char *path, bw_verdict_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return BW_ERR;
    int rc = bw_scan_fd(e, lim, fd, path, out);
    int err = errno;
    close(fd);
    errno = err;
    return rc;
}
