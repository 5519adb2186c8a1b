/* SPDX-License-Identifier: Apache-2.0 */
/* One update, start to end.
 *
 *   lock -> manifest + signature -> check the signature -> parse -> compare
 *   versions -> stage: every file reused from the current set or fetched,
 *   each checked against its size and SHA-256 -> trial compile of the staged
 *   set with the other BasesPath entries, into a temporary cache -> switch
 *   BasesPath -> warm CacheDir -> remove old sets -> publish -> PostUpdateCmd
 *
 * The order is the point.  The signature is checked before the manifest is
 * parsed, so with a key the parser only ever sees the publisher's bytes.
 * Versions are compared before anything is downloaded, so an up-to-date run
 * costs two small requests, and an older signed set (a stale mirror, or an
 * attacker replaying yesterday's set to keep a detection out) is refused
 * unless --force.  Nothing outside the staging directory changes until the
 * staged set has passed every check, including the trial compile (which also
 * checks each .cvd header's MD5 in the engine's loader) run with exactly the
 * paths bulwarkd will load, so a set that compiles here compiles there.
 *
 * Files whose name, size and digest are unchanged are hard-linked from the
 * current set rather than fetched again (ClamAV's main.cvd changes rarely
 * and is the bulk of a set); the link is re-hashed first, so a file damaged
 * on disk is fetched anew rather than carried forward.
 *
 * A source can change while we read it (a publisher writing PublishDir, a
 * mirror syncing).  A bad signature, a mismatch or a missing file is
 * therefore followed by one more look at the manifest and signature: if they
 * changed (or the manifest vanished), the run starts over (at most three
 * times), and if not, the failure is what it looks like and the run fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "events/event.h"
#include "update/update-int.h"

#define SIG_MAX 4096  /* a signature file larger than this is not ours */
#define ATTEMPTS 3    /* whole-run restarts when the source changes under us */

typedef struct run {
    const bw_update_req_t *req;
    const bw_update_conf_t *c;
    bw_update_report_t *rep;
    bw_store_t store;
    bw_fetch_t fetch;
    EVP_PKEY *key;
    bw_buf_t mbytes, sig;    /* as fetched */
    bw_manifest_t m;         /* mbytes, parsed */
    bw_manifest_t cur;       /* the installed set's manifest, if have_cur */
    int have_cur;
    char *stage, *cache;     /* temporary directories in the store */
    char source_hash[65];    /* of the staged set, from the trial compile */
    bw_err_t err;
} run_t;

void bw_upd_log(const bw_update_req_t *req, int level, const char *fmt, ...)
{
    if (!req || !req->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    req->log(req->log_arg, level, msg);
}

const char *bw_update_failure_name(bw_update_failure_t f)
{
    switch (f) {
    case BW_UPDATE_FAIL_NONE: return "none";
    case BW_UPDATE_FAIL_LOCAL: return "local error";
    case BW_UPDATE_FAIL_DOWNLOAD: return "download failed";
    case BW_UPDATE_FAIL_VERIFY: return "verification failed";
    case BW_UPDATE_FAIL_COMPILE: return "trial compile failed";
    case BW_UPDATE_FAIL_POST: return "after the update";
    case BW_UPDATE_FAIL_LOCKED: return "locked";
    case BW_UPDATE_FAIL_STOPPED: return "stopped";
    }
    return "?";
}

static int fail(run_t *r, bw_update_failure_t f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(run_t *r, bw_update_failure_t f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->rep->message, sizeof r->rep->message, fmt, ap);
    va_end(ap);
    r->rep->outcome = BW_UPDATE_FAILED;
    r->rep->failure = f;
    return BW_ERR;
}

static void post_failed(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void post_failed(run_t *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->rep->post_error, sizeof r->rep->post_error, fmt, ap);
    va_end(ap);
    r->rep->failure = BW_UPDATE_FAIL_POST;
}

static int stopped(const run_t *r)
{
    return r->req->stop && r->req->stop(r->req->stop_arg);
}

/* Sleeps ms in small steps; 0 when asked to stop meanwhile. */
static int pause_ms(const run_t *r, uint64_t ms)
{
    while (ms) {
        if (stopped(r))
            return 0;
        uint64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return !stopped(r);
}

/* After a transient failure: 1 to try again (after the pause), 0 not. */
static int retry(run_t *r, unsigned attempt, bw_fetch_rc_t *rc)
{
    if (*rc != BW_FETCH_TRANSIENT || attempt >= r->c->retries)
        return 0;
    bw_upd_log(r->req, BW_UPDATE_LOG_NOTE, "%s; retry %u of %" PRIu64 " in %" PRIu64 " ms",
               r->err.msg, attempt + 1, r->c->retries, r->c->retry_delay_ms);
    if (!pause_ms(r, r->c->retry_delay_ms)) {
        *rc = BW_FETCH_STOPPED;
        bw_err_set(&r->err, "stopped");
        return 0;
    }
    return 1;
}

static bw_fetch_rc_t fetch_mem(run_t *r, const char *name, size_t max, bw_buf_t *out)
{
    bw_fetch_rc_t rc;
    unsigned attempt = 0;
    do
        rc = bw_fetch_mem(&r->fetch, name, max, 1, out, &r->err);
    while (retry(r, attempt++, &rc));
    return rc;
}

static bw_fetch_rc_t fetch_fd(run_t *r, const bw_manifest_file_t *f, int fd, uint8_t sha[32],
                              uint64_t *got)
{
    bw_fetch_rc_t rc;
    unsigned attempt = 0;
    do
        rc = bw_fetch_fd(&r->fetch, f->name, fd, f->size, sha, got, &r->err);
    while (retry(r, attempt++, &rc));
    return rc;
}

/* The failure class of a fetch that did not succeed. */
static int fetch_failed(run_t *r, bw_fetch_rc_t rc)
{
    switch (rc) {
    case BW_FETCH_TOOBIG: return fail(r, BW_UPDATE_FAIL_VERIFY, "%s", r->err.msg);
    case BW_FETCH_LOCAL: return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    case BW_FETCH_STOPPED: return fail(r, BW_UPDATE_FAIL_STOPPED, "%s", r->err.msg);
    default: return fail(r, BW_UPDATE_FAIL_DOWNLOAD, "%s", r->err.msg);
    }
}

/* ---- manifest and signature -------------------------------------------------- */

static int source_changed(run_t *r);

/* Fetches, checks and parses the manifest.  BW_OK, BW_ERR (rep says why), or
 * BW_AGAIN when the signature failed because the source changed meanwhile. */
static int get_manifest(run_t *r)
{
    char where[4200];
    bw_fetch_where(&r->fetch, BW_MANIFEST_NAME, where, sizeof where);
    bw_manifest_free(&r->m);
    bw_fetch_rc_t rc = fetch_mem(r, BW_MANIFEST_NAME, BW_MANIFEST_MAX_BYTES, &r->mbytes);
    if (rc == BW_FETCH_NOTFOUND)
        return fail(r, BW_UPDATE_FAIL_DOWNLOAD, "%s (is this the directory that holds the "
                    "published set?)", r->err.msg);
    if (rc == BW_FETCH_TOOBIG)
        return fail(r, BW_UPDATE_FAIL_VERIFY, "%s: larger than %u bytes: not a manifest", where,
                    BW_MANIFEST_MAX_BYTES);
    if (rc != BW_FETCH_OK)
        return fetch_failed(r, rc);

    char swhere[4200];
    bw_fetch_where(&r->fetch, BW_MANIFEST_SIG_NAME, swhere, sizeof swhere);
    rc = fetch_mem(r, BW_MANIFEST_SIG_NAME, SIG_MAX, &r->sig);
    if (rc == BW_FETCH_NOTFOUND) {
        r->sig.len = 0;
        if (r->key)
            return fail(r, BW_UPDATE_FAIL_VERIFY, "%s: no signature, and UpdatePublicKey "
                        "requires one", swhere);
    } else if (rc == BW_FETCH_TOOBIG) {
        return fail(r, BW_UPDATE_FAIL_VERIFY, "%s: larger than %d bytes: not an ed25519 "
                    "signature", swhere, SIG_MAX);
    } else if (rc != BW_FETCH_OK) {
        return fetch_failed(r, rc);
    }
    if (r->key) {
        if (bw_upd_verify(r->key, r->mbytes.p, r->mbytes.len, r->sig.p, r->sig.len, &r->err)) {
            int rc_fail = fail(r, BW_UPDATE_FAIL_VERIFY, "%s: %s", swhere, r->err.msg);
            /* a publisher writes the signature, then the manifest: caught in between? */
            return source_changed(r) ? BW_AGAIN : rc_fail;
        }
        bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "signature of %s verified with %s", where,
                   r->c->public_key);
    } else {
        bw_upd_log(r->req, BW_UPDATE_LOG_WARN, "no UpdatePublicKey: the set's origin is not "
                   "checked, only its files against the manifest");
    }
    if (bw_manifest_parse(r->mbytes.p, r->mbytes.len, &r->m, &r->err) != BW_OK)
        return fail(r, BW_UPDATE_FAIL_VERIFY, "%s: %s", where, r->err.msg);
    return BW_OK;
}

/* Whether the source's manifest or signature differ from the ones this run
 * started with (a publisher or mirror at work). */
static int source_changed(run_t *r)
{
    bw_buf_t m = {0}, s = {0};
    bw_err_t keep = r->err;
    int changed = 0;
    bw_fetch_rc_t mrc = fetch_mem(r, BW_MANIFEST_NAME, BW_MANIFEST_MAX_BYTES, &m);
    if (mrc == BW_FETCH_NOTFOUND) {
        changed = 1; /* it was there a moment ago: someone is rewriting the set */
    } else if (mrc == BW_FETCH_OK) {
        changed = m.len != r->mbytes.len || (m.len && memcmp(m.p, r->mbytes.p, m.len));
        bw_fetch_rc_t rc = fetch_mem(r, BW_MANIFEST_SIG_NAME, SIG_MAX, &s);
        if (!changed && rc == BW_FETCH_OK)
            changed = s.len != r->sig.len || (s.len && memcmp(s.p, r->sig.p, s.len));
        else if (!changed && rc == BW_FETCH_NOTFOUND)
            changed = r->sig.len != 0;
    }
    bw_buf_free(&m);
    bw_buf_free(&s);
    r->err = keep;
    return changed;
}

/* The installed set's manifest, if it has one. */
static void read_current(run_t *r)
{
    bw_buf_t b = {0};
    bw_err_t err;
    char *p = bw_upd_join(r->store.base, BW_MANIFEST_NAME);
    bw_manifest_free(&r->cur);
    r->have_cur = 0;
    if (r->store.kind != BW_STORE_NONE && p &&
        bw_upd_read_file(p, BW_MANIFEST_MAX_BYTES, &b, &err) == BW_OK) {
        if (bw_manifest_parse(b.p, b.len, &r->cur, &err) == BW_OK)
            r->have_cur = 1;
        else
            bw_upd_log(r->req, BW_UPDATE_LOG_WARN, "%s: %s; treating the installed set as "
                       "unversioned", p, err.msg);
    }
    free(p);
    bw_buf_free(&b);
}

static int same_files(const bw_manifest_t *a, const bw_manifest_t *b)
{
    if (a->nfiles != b->nfiles)
        return 0;
    for (size_t i = 0; i < a->nfiles; i++)
        if (strcmp(a->files[i].name, b->files[i].name) || a->files[i].size != b->files[i].size ||
            memcmp(a->files[i].sha256, b->files[i].sha256, 32))
            return 0;
    return 1;
}

/* ---- staging ------------------------------------------------------------------ */

/* A file of the current set identical to f, linked (or copied) into the
 * stage and re-hashed.  BW_DECLINED: not reusable, fetch it. */
static int reuse(run_t *r, const bw_manifest_file_t *f, const char *dst)
{
    const bw_manifest_file_t *old = r->have_cur ? bw_manifest_find(&r->cur, f->name) : NULL;
    if (!old || old->size != f->size || memcmp(old->sha256, f->sha256, 32))
        return BW_DECLINED;
    char *src = bw_upd_join(r->store.base, f->name);
    uint8_t sha[32];
    uint64_t size = 0;
    bw_err_t err;
    int rc = BW_DECLINED;
    if (src && link(src, dst) == 0) {
        if (bw_upd_sha256_path(dst, sha, &size, &err) == BW_OK && size == f->size &&
            !memcmp(sha, f->sha256, 32))
            rc = BW_OK;
        else
            unlink(dst);
    } else if (src && bw_upd_copy_atomic(src, r->stage, f->name, 0644, sha, &size, &err) ==
                          BW_OK) {
        if (size == f->size && !memcmp(sha, f->sha256, 32))
            rc = BW_OK;
        else
            unlink(dst);
    }
    if (rc != BW_OK && src)
        bw_upd_log(r->req, BW_UPDATE_LOG_NOTE, "%s is missing or differs from its manifest: "
                   "fetching it again", src);
    free(src);
    return rc;
}

/* BW_OK, BW_ERR (failed: rep says why), BW_AGAIN (the source changed). */
static int fetch_one(run_t *r, const bw_manifest_file_t *f, const char *dst)
{
    char where[4200], got_hex[65], want_hex[65];
    bw_fetch_where(&r->fetch, f->name, where, sizeof where);
    int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s: %s", dst, strerror(errno));
    uint8_t sha[32];
    uint64_t got = 0;
    bw_fetch_rc_t rc = fetch_fd(r, f, fd, sha, &got);
    int bad = 0;
    if (rc == BW_FETCH_OK) {
        if (got != f->size) {
            bad = fail(r, BW_UPDATE_FAIL_VERIFY, "%s: %" PRIu64 " bytes arrived, the manifest "
                       "says %" PRIu64 " (cut short, or changed on the server)", where, got,
                       f->size);
        } else if (memcmp(sha, f->sha256, 32)) {
            bw_hex32(sha, got_hex);
            bw_hex32(f->sha256, want_hex);
            bad = fail(r, BW_UPDATE_FAIL_VERIFY, "%s: SHA-256 %s, the manifest says %s "
                       "(tampered or corrupted)", where, got_hex, want_hex);
        } else if (fchmod(fd, 0644) || fsync(fd)) {
            bad = fail(r, BW_UPDATE_FAIL_LOCAL, "%s: %s", dst, strerror(errno));
        }
    } else if (rc == BW_FETCH_NOTFOUND) {
        bad = fail(r, BW_UPDATE_FAIL_DOWNLOAD, "%s, though the manifest lists it", r->err.msg);
    } else if (rc == BW_FETCH_TOOBIG) {
        bad = fail(r, BW_UPDATE_FAIL_VERIFY, "%s: larger than the manifest's %" PRIu64
                   " bytes (tampered, or changed on the server)", where, f->size);
    } else {
        bad = fetch_failed(r, rc);
    }
    close(fd);
    if (bad && (r->rep->failure == BW_UPDATE_FAIL_VERIFY || rc == BW_FETCH_NOTFOUND) &&
        source_changed(r))
        return BW_AGAIN;
    if (!bad) {
        r->rep->fetched++;
        r->rep->fetched_bytes += got;
    }
    return bad ? BW_ERR : BW_OK;
}

static int stage_files(run_t *r)
{
    if (bw_store_mktemp(&r->store, "stage", &r->stage, &r->err))
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    if (bw_upd_write_atomic(r->stage, BW_MANIFEST_NAME, r->mbytes.p, r->mbytes.len, 0644,
                            &r->err) ||
        (r->sig.len && bw_upd_write_atomic(r->stage, BW_MANIFEST_SIG_NAME, r->sig.p, r->sig.len,
                                           0644, &r->err)))
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    r->rep->fetched = r->rep->reused = 0;
    r->rep->fetched_bytes = 0;
    for (size_t i = 0; i < r->m.nfiles; i++) {
        const bw_manifest_file_t *f = &r->m.files[i];
        if (stopped(r))
            return fail(r, BW_UPDATE_FAIL_STOPPED, "stopped");
        char *dst = bw_upd_join(r->stage, f->name);
        if (!dst)
            return fail(r, BW_UPDATE_FAIL_LOCAL, "out of memory");
        int rc = reuse(r, f, dst);
        if (rc == BW_OK) {
            r->rep->reused++;
            bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "%s: unchanged, kept", f->name);
        } else {
            rc = fetch_one(r, f, dst);
            if (rc == BW_OK)
                bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "%s: fetched, %" PRIu64 " bytes",
                           f->name, f->size);
        }
        free(dst);
        if (rc != BW_OK)
            return rc;
    }
    if (bw_upd_fsync_dir(r->stage) != 0)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s: %s", r->stage, strerror(errno));
    return BW_OK;
}

static void rm_temp(char **path)
{
    if (*path)
        bw_upd_rmtree(*path);
    free(*path);
    *path = NULL;
}

/* Loads `set` with the other BasesPath entries, as bulwarkd will, into a
 * fresh cache directory (so the compile is real, never a cache hit). */
static int trial_compile(run_t *r, const char *set, const char *what)
{
    if (bw_store_mktemp(&r->store, "cache", &r->cache, &r->err))
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    size_t n = 1 + r->req->nother;
    const char **paths = calloc(n, sizeof *paths);
    if (!paths)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "out of memory");
    paths[0] = set;
    for (size_t i = 0; i < r->req->nother; i++)
        paths[1 + i] = r->req->other_bases[i];
    bw_load_opts_t opts = {.cache_dir = r->cache};
    bw_engine_t *e = NULL;
    char lerr[768] = "";
    int rc = bw_engine_load(paths, n, &opts, &e, lerr, sizeof lerr);
    free(paths);
    if (rc != BW_OK || !e) {
        /* "<stage>/bad.ndb:3: ..." reads better as "bad.ndb:3: ..." */
        size_t sl = strlen(set);
        const char *msg = !strncmp(lerr, set, sl) && lerr[sl] == '/' ? lerr + sl + 1 : lerr;
        return fail(r, BW_UPDATE_FAIL_COMPILE, "%s does not load: %s", what, msg);
    }
    const bw_db_info_t *info = bw_engine_info(e);
    r->rep->signatures = info ? info->signatures : 0;
    snprintf(r->source_hash, sizeof r->source_hash, "%s", info ? info->source_hash : "");
    bw_engine_unref(e);
    bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "%s compiles: %" PRIu64 " signatures in use", what,
               r->rep->signatures);
    return BW_OK;
}

/* Puts the trial compile's result into CacheDir, so that bulwarkd's reload
 * maps it instead of compiling again.  Best effort, and only into a CacheDir
 * of this user's: bulwarkd trusts a compiled database only when its owner
 * (root) wrote it (docs/operations.md), so the packaged updater, which runs
 * as the workers' user, leaves the compile to the daemon's reload. */
static void warm_cache(run_t *r)
{
    const char *dir = r->req->cache_dir;
    if (!dir || !dir[0] || !r->cache || !r->source_hash[0])
        return;
    struct stat dst_dir;
    if (stat(dir, &dst_dir) == 0 && dst_dir.st_uid != geteuid()) {
        bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "CacheDir %s is not this user's: bulwarkd "
                   "compiles the new set on reload", dir);
        return;
    }
    char name[80], *src;
    snprintf(name, sizeof name, "%s.bwdb", r->source_hash);
    if (!(src = bw_upd_join(r->cache, name)))
        return;
    char *dst = bw_upd_join(dir, name);
    uint8_t sha[32];
    uint64_t size;
    struct stat st;
    if (stat(src, &st) == 0 && dst && (link(src, dst) == 0 || errno == EEXIST ||
                                       bw_upd_copy_atomic(src, dir, name, 0644, sha, &size,
                                                          &r->err) == BW_OK))
        bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "compiled set stored in CacheDir %s", dir);
    else
        bw_upd_log(r->req, BW_UPDATE_LOG_WARN, "could not store the compiled set in CacheDir "
                   "%s; bulwarkd compiles it on reload", dir);
    free(src);
    free(dst);
}

/* ---- after the switch ----------------------------------------------------------- */

static void run_post_cmd(run_t *r)
{
    const char *cmd = r->c->post_cmd;
    if (!cmd || !cmd[0])
        return;
    char from[48], to[48], *bases = NULL;
    const char *extra[4];
    size_t k = 0;
    /* always set, empty for a set without a version, so nothing inherited leaks in */
    snprintf(from, sizeof from, "BULWARK_UPDATE_FROM=");
    snprintf(to, sizeof to, "BULWARK_UPDATE_TO=");
    if (r->rep->have_from)
        snprintf(from, sizeof from, "BULWARK_UPDATE_FROM=%" PRIu64, r->rep->from);
    if (r->rep->have_to)
        snprintf(to, sizeof to, "BULWARK_UPDATE_TO=%" PRIu64, r->rep->to);
    extra[k++] = from;
    extra[k++] = to;
    if (asprintf(&bases, "BULWARK_BASES=%s", r->store.base) < 0) {
        post_failed(r, "PostUpdateCmd: out of memory");
        return;
    }
    extra[k++] = bases;
    extra[k] = NULL;
    if (bw_upd_run_cmd(cmd, extra, r->c->post_timeout_ms, &r->err) == BW_OK)
        bw_upd_log(r->req, BW_UPDATE_LOG_INFO, "PostUpdateCmd '%s' succeeded", cmd);
    else
        post_failed(r, "PostUpdateCmd '%s' %s", cmd, r->err.msg);
    free(bases);
}

/* PublishDir gets the installed set (when it has a manifest). */
static void publish(run_t *r)
{
    const char *dir = r->c->publish_dir;
    if (!dir || !dir[0])
        return;
    bw_buf_t mb = {0}, sb = {0};
    bw_manifest_t m = {0};
    char *mp = bw_upd_join(r->store.base, BW_MANIFEST_NAME);
    char *sp = bw_upd_join(r->store.base, BW_MANIFEST_SIG_NAME);
    int changed = 0, rd = BW_ERR;
    bw_err_t rerr = {0};
    if (mp && sp)
        rd = bw_upd_read_file(mp, BW_MANIFEST_MAX_BYTES, &mb, &rerr);
    if (rd == BW_DECLINED) {
        /* after a rollback to the set a package installed */
        post_failed(r, "PublishDir %s: the set in use is unversioned (no %s), so nothing is "
                    "published; PublishDir still offers what it held", dir, BW_MANIFEST_NAME);
    } else if (rd != BW_OK || bw_manifest_parse(mb.p, mb.len, &m, &rerr) != BW_OK) {
        post_failed(r, "PublishDir: the installed set has no usable manifest (%s)",
                    rerr.msg[0] ? rerr.msg : "out of memory");
    } else if (bw_upd_read_file(sp, SIG_MAX, &sb, &r->err) == BW_ERR) {
        post_failed(r, "PublishDir: %s", r->err.msg);
    } else if (bw_publish_set(dir, r->store.base, &m, &mb, &sb, &changed, &r->err) != BW_OK) {
        post_failed(r, "%s", r->err.msg);
    } else if (changed) {
        bw_upd_log(r->req, BW_UPDATE_LOG_NOTE, "published version %" PRIu64 " to %s", m.version,
                   dir);
    }
    bw_manifest_free(&m);
    bw_buf_free(&mb);
    bw_buf_free(&sb);
    free(mp);
    free(sp);
}

/* ---- the run ---------------------------------------------------------------------- */

/* Whether the offered set should be installed; when not, rep says why. */
static int wanted(run_t *r)
{
    bw_update_report_t *rep = r->rep;
    rep->have_to = 1;
    rep->to = r->m.version;
    rep->have_from = r->have_cur;
    rep->from = r->have_cur ? r->cur.version : 0;
    rep->had_set = r->store.kind != BW_STORE_NONE;
    rep->nfiles = r->m.nfiles;
    if (r->req->force)
        return 1;
    if (r->have_cur && r->m.version == r->cur.version) {
        rep->outcome = BW_UPDATE_CURRENT;
        if (!same_files(&r->m, &r->cur))
            snprintf(rep->message, sizeof rep->message, "the source's set differs from the "
                     "installed one under the same version %" PRIu64 " (a publisher reused a "
                     "version number?); --force installs it", r->m.version);
        return 0;
    }
    if (r->have_cur && r->m.version < r->cur.version) {
        fail(r, BW_UPDATE_FAIL_VERIFY, "the source offers version %" PRIu64 ", older than the "
             "installed %" PRIu64 " (a stale mirror, or an old set replayed); not installing it "
             "(--force does)", r->m.version, r->cur.version);
        return 0;
    }
    uint64_t mark = bw_store_rolled_back(&r->store);
    if (mark && mark == r->m.version) {
        rep->outcome = BW_UPDATE_SKIPPED;
        snprintf(rep->message, sizeof rep->message, "version %" PRIu64 " was rolled back; "
                 "waiting for a newer one (--force installs it)", mark);
        return 0;
    }
    return 1;
}

static void plan(run_t *r)
{
    bw_update_report_t *rep = r->rep;
    rep->outcome = BW_UPDATE_WOULD_UPDATE;
    for (size_t i = 0; i < r->m.nfiles; i++) {
        const bw_manifest_file_t *f = &r->m.files[i];
        const bw_manifest_file_t *old = r->have_cur ? bw_manifest_find(&r->cur, f->name) : NULL;
        if (old && old->size == f->size && !memcmp(old->sha256, f->sha256, 32)) {
            rep->reused++;
        } else {
            rep->fetched++;
            rep->fetched_bytes += f->size;
        }
    }
}

static int check_space(run_t *r)
{
    uint64_t total = bw_manifest_total(&r->m);
    if (total > r->c->max_set_size)
        return fail(r, BW_UPDATE_FAIL_VERIFY, "the set adds up to %" PRIu64 " bytes, more than "
                    "MaxSetSize (%" PRIu64 ")", total, r->c->max_set_size);
    struct statvfs vfs;
    if (statvfs(r->store.sets, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        if (avail < total)
            return fail(r, BW_UPDATE_FAIL_LOCAL, "%s: %" PRIu64 " bytes free, the set needs up "
                        "to %" PRIu64, r->store.sets, avail, total);
    }
    return BW_OK;
}

static int update_once(run_t *r)
{
    int rc = get_manifest(r);
    if (rc != BW_OK)
        return rc;
    if (!wanted(r))
        return r->rep->outcome == BW_UPDATE_FAILED ? BW_ERR : BW_OK;
    if (r->req->dry_run) {
        plan(r);
        return BW_OK;
    }
    if (check_space(r) != BW_OK)
        return BW_ERR;
    rc = stage_files(r);
    if (rc != BW_OK)
        return rc;
    if (trial_compile(r, r->stage, "the new set") != BW_OK)
        return BW_ERR;
    if (bw_store_install(&r->store, r->stage, r->m.version, &r->err) != BW_OK)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "installing the new set: %s", r->err.msg);
    free(r->stage); /* renamed into place: nothing left to remove */
    r->stage = NULL;
    r->rep->outcome = BW_UPDATE_UPDATED;
    if (bw_store_set_rolled_back(&r->store, 0, &r->err) != BW_OK)
        bw_upd_log(r->req, BW_UPDATE_LOG_WARN, "%s", r->err.msg);
    warm_cache(r);
    bw_store_cleanup(&r->store, r->req);
    return BW_OK;
}

static int open_run(run_t *r, const bw_update_req_t *req, bw_update_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    memset(r, 0, sizeof *r);
    r->req = req;
    r->c = req->conf;
    r->rep = rep;
    r->store.lock_fd = -1;
    if (!req->bases_path || !req->bases_path[0])
        return fail(r, BW_UPDATE_FAIL_LOCAL, "no BasesPath to update");
    if (bw_store_open(&r->store, req->bases_path, &r->err) != BW_OK)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    int rc = bw_store_lock(&r->store, &r->err);
    if (rc == BW_AGAIN)
        return fail(r, BW_UPDATE_FAIL_LOCKED, "%s", r->err.msg);
    if (rc != BW_OK)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    /* under the lock, the store may have changed since it was opened */
    if (bw_store_refresh(&r->store, &r->err) != BW_OK)
        return fail(r, BW_UPDATE_FAIL_LOCAL, "%s", r->err.msg);
    bw_store_clean_stale(&r->store, req);
    read_current(r);
    return BW_OK;
}

static void close_run(run_t *r)
{
    rm_temp(&r->stage);
    rm_temp(&r->cache);
    bw_fetch_close(&r->fetch);
    EVP_PKEY_free(r->key);
    bw_manifest_free(&r->m);
    bw_manifest_free(&r->cur);
    bw_buf_free(&r->mbytes);
    bw_buf_free(&r->sig);
    bw_store_close(&r->store);
}

/* update.done (a new set in place, or rolled back) / update.failed
 * (docs/events.md); "up to date" makes no event (hourly noise). */
static void emit_update(const bw_update_req_t *req, const bw_update_report_t *rep)
{
    int failed = rep->outcome == BW_UPDATE_FAILED || rep->failure != BW_UPDATE_FAIL_NONE;
    if (!bw_event_enabled() || req->dry_run ||
        (!failed && rep->outcome != BW_UPDATE_UPDATED && rep->outcome != BW_UPDATE_ROLLED_BACK))
        return;
    json_t *ev = bw_event_new("update", failed ? "update.failed" : "update.done",
                              failed ? BW_SEV_HIGH : BW_SEV_INFO);
    json_t *db = bw_event_sub(ev, "db");
    if (rep->have_to)
        bw_event_set_int(db, "version", (int64_t)rep->to);
    else if (rep->have_from)
        bw_event_set_int(db, "version", (int64_t)rep->from);
    if (rep->signatures)
        bw_event_set_int(db, "signatures", (int64_t)rep->signatures);
    if (failed)
        bw_event_set_str(ev, "error", rep->post_error[0] ? rep->post_error : rep->message);
    else
        bw_event_set_str(ev, "message", rep->outcome == BW_UPDATE_ROLLED_BACK
                                            ? "rolled back to the previous set"
                                            : "a new signature set is in place");
    bw_event_emit(ev);
}

static int result(const bw_update_report_t *rep)
{
    return rep->outcome != BW_UPDATE_FAILED && rep->failure == BW_UPDATE_FAIL_NONE ? BW_OK
                                                                                    : BW_ERR;
}

int bw_update_run(const bw_update_req_t *req, bw_update_report_t *rep)
{
    run_t r;
    if (open_run(&r, req, rep) != BW_OK)
        goto out;
    const bw_update_conf_t *c = req->conf;
    if (c->public_key && c->public_key[0] &&
        bw_upd_load_pubkey(c->public_key, &r.key, &r.err) != BW_OK) {
        fail(&r, BW_UPDATE_FAIL_LOCAL, "%s", r.err.msg);
        goto out;
    }
    if (bw_fetch_init(&r.fetch, c, req->stop, req->stop_arg, &r.err) != BW_OK) {
        fail(&r, BW_UPDATE_FAIL_LOCAL, "%s", r.err.msg);
        goto out;
    }
    for (int attempt = 1;; attempt++) {
        int rc = update_once(&r);
        if (rc != BW_AGAIN)
            break;
        rm_temp(&r.stage);
        rm_temp(&r.cache);
        if (attempt == ATTEMPTS) {
            fail(&r, BW_UPDATE_FAIL_VERIFY, "the source kept changing during %d attempts: %s",
                 ATTEMPTS, r.err.msg);
            break;
        }
        bw_upd_log(req, BW_UPDATE_LOG_NOTE, "the source changed during the update; starting "
                   "over");
        memset(rep, 0, sizeof *rep);
        if (!pause_ms(&r, 1000)) {
            fail(&r, BW_UPDATE_FAIL_STOPPED, "stopped");
            break;
        }
    }
    /* an up-to-date run publishes too, so PublishDir can be set up at any time */
    if (rep->outcome == BW_UPDATE_UPDATED ||
        (r.have_cur && (rep->outcome == BW_UPDATE_CURRENT || rep->outcome == BW_UPDATE_SKIPPED)))
        publish(&r);
    if (rep->outcome == BW_UPDATE_UPDATED)
        run_post_cmd(&r);
out:
    close_run(&r);
    emit_update(req, rep);
    return result(rep);
}

int bw_update_rollback(const bw_update_req_t *req, bw_update_report_t *rep)
{
    run_t r;
    char *prev = NULL;
    if (open_run(&r, req, rep) != BW_OK)
        goto out;
    if (r.store.kind != BW_STORE_LINK) {
        fail(&r, BW_UPDATE_FAIL_LOCAL, "BasesPath %s is %s, not a set installed by bulwark "
             "update: there is nothing to roll back to", r.store.base,
             r.store.kind == BW_STORE_DIR ? "a plain directory" : "missing");
        goto out;
    }
    /* check what we return to before switching: the engine may have changed
     * since that set was installed */
    prev = bw_store_prev_path(&r.store);
    struct stat st;
    if (!prev || stat(prev, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fail(&r, BW_UPDATE_FAIL_LOCAL, "no previous set to roll back to in %s (one is kept "
             "from the second set installed on)", r.store.sets);
        goto out;
    }
    bw_manifest_t pm = {0};
    bw_buf_t pb = {0};
    char *pmp = bw_upd_join(prev, BW_MANIFEST_NAME);
    if (pmp && bw_upd_read_file(pmp, BW_MANIFEST_MAX_BYTES, &pb, &r.err) == BW_OK &&
        bw_manifest_parse(pb.p, pb.len, &pm, &r.err) == BW_OK) {
        rep->have_to = 1;
        rep->to = pm.version;
    }
    bw_manifest_free(&pm);
    bw_buf_free(&pb);
    free(pmp);
    rep->have_from = r.have_cur;
    rep->from = r.have_cur ? r.cur.version : 0;
    if (trial_compile(&r, prev, "the previous set") != BW_OK)
        goto out;
    if (bw_store_rollback(&r.store, &r.err) != BW_OK) {
        fail(&r, BW_UPDATE_FAIL_LOCAL, "rolling back: %s", r.err.msg);
        goto out;
    }
    rep->outcome = BW_UPDATE_ROLLED_BACK;
    if (r.have_cur && bw_store_set_rolled_back(&r.store, r.cur.version, &r.err) != BW_OK)
        bw_upd_log(req, BW_UPDATE_LOG_WARN, "%s", r.err.msg);
    warm_cache(&r);
    /* PublishDir must stop offering the version we just left: servers
     * downstream would install it.  Same atomic per-file publish as after an
     * update (update-publish.c). */
    publish(&r);
    run_post_cmd(&r);
out:
    free(prev);
    close_run(&r);
    emit_update(req, rep);
    return result(rep);
}
