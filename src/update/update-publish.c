/* SPDX-License-Identifier: Apache-2.0 */
/* Publishing sets: PublishDir for other servers, and manifests for publishers.
 *
 * A published directory has exactly the layout an update server has (the
 * data files, bulwark.manifest, bulwark.manifest.sig), so other servers can
 * read it as UpdateSourceDir over a shared file system, or any web or FTP
 * server can serve it as UpdateServerUrl.  Re-publishing keeps the
 * upstream signature: downstream servers check the publisher's key, not
 * this server's, so a compromised relay cannot sign sets of its own.
 *
 * Readers may be reading while we write.  Each file is replaced by rename,
 * data first, then the signature, then the manifest, and files that the new
 * manifest drops go last.  A reader can still pair an old manifest with a
 * new data file or signature; the updater then sees a mismatch, finds the
 * manifest changed under it, and starts over (update.c), so a race costs a
 * retry, never a wrong set.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

static int same_bytes(const bw_buf_t *a, const bw_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || !memcmp(a->p, b->p, a->len));
}

/* Whether dir/name already holds exactly f (size, then digest). */
static int holds(const char *dir, const bw_manifest_file_t *f)
{
    char *p = bw_upd_join(dir, f->name);
    uint8_t sha[32];
    uint64_t size = 0;
    bw_err_t err;
    struct stat st;
    int ok = p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == f->size &&
             bw_upd_sha256_path(p, sha, &size, &err) == BW_OK && size == f->size &&
             !memcmp(sha, f->sha256, 32);
    free(p);
    return ok;
}

static int publish_locked(const char *dir, const char *set_dir, const bw_manifest_t *m,
                          const bw_buf_t *mbytes, const bw_buf_t *sig, int *changed,
                          bw_err_t *err)
{
    bw_buf_t old = {0}, oldsig = {0};
    bw_manifest_t oldm = {0};
    char *mp = bw_upd_join(dir, BW_MANIFEST_NAME), *sp = bw_upd_join(dir, BW_MANIFEST_SIG_NAME);
    int rc = BW_OK;
    if (!mp || !sp) {
        rc = bw_err_set(err, "out of memory");
        goto out;
    }
    int have_old = bw_upd_read_file(mp, BW_MANIFEST_MAX_BYTES, &old, err) == BW_OK;
    int have_oldsig = bw_upd_read_file(sp, 4096, &oldsig, err) == BW_OK;
    if (have_old && same_bytes(&old, mbytes) && (sig->len ? have_oldsig && same_bytes(&oldsig, sig)
                                                           : !have_oldsig))
        goto out; /* already published */
    if (have_old && bw_manifest_parse(old.p, old.len, &oldm, err) != BW_OK)
        memset(&oldm, 0, sizeof oldm); /* not ours to read: replace everything */
    for (size_t i = 0; i < m->nfiles; i++) {
        const bw_manifest_file_t *f = &m->files[i];
        if (holds(dir, f))
            continue;
        char *src = bw_upd_join(set_dir, f->name);
        uint8_t sha[32];
        uint64_t size = 0;
        rc = src ? bw_upd_copy_atomic(src, dir, f->name, 0644, sha, &size, err)
                 : bw_err_set(err, "out of memory");
        free(src);
        if (rc == BW_OK && (size != f->size || memcmp(sha, f->sha256, 32)))
            rc = bw_err_set(err, "%s/%s changed on disk since it was verified", set_dir, f->name);
        if (rc != BW_OK)
            goto out;
        *changed = 1;
    }
    if (sig->len)
        rc = bw_upd_write_atomic(dir, BW_MANIFEST_SIG_NAME, sig->p, sig->len, 0644, err);
    else if (unlink(sp) != 0 && errno != ENOENT)
        rc = bw_err_set(err, "%s: %s", sp, strerror(errno));
    if (rc == BW_OK)
        rc = bw_upd_write_atomic(dir, BW_MANIFEST_NAME, mbytes->p, mbytes->len, 0644, err);
    if (rc != BW_OK)
        goto out;
    *changed = 1;
    for (size_t i = 0; i < oldm.nfiles; i++) {
        if (bw_manifest_find(m, oldm.files[i].name))
            continue;
        char *p = bw_upd_join(dir, oldm.files[i].name);
        if (p)
            unlink(p);
        free(p);
    }
    bw_upd_fsync_dir(dir);
out:
    bw_manifest_free(&oldm);
    bw_buf_free(&old);
    bw_buf_free(&oldsig);
    free(mp);
    free(sp);
    return rc;
}

int bw_publish_set(const char *dir, const char *set_dir, const bw_manifest_t *m,
                   const bw_buf_t *mbytes, const bw_buf_t *sig, int *changed, bw_err_t *err)
{
    *changed = 0;
    struct stat st;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return bw_err_set(err, "PublishDir %s: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bw_err_set(err, "PublishDir %s: not a directory", dir);
    /* two servers publishing into one share take turns */
    char *lp = bw_upd_join(dir, ".bulwark-publish.lock");
    int lfd = lp ? open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644) : -1;
    if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
        bw_err_set(err, "PublishDir lock %s: %s", lp ? lp : dir, strerror(errno));
        if (lfd >= 0)
            close(lfd);
        free(lp);
        return BW_ERR;
    }
    free(lp);
    int rc = publish_locked(dir, set_dir, m, mbytes, sig, changed, err);
    close(lfd);
    if (rc != BW_OK)
        bw_err_prefix(err, "publishing to %s", dir);
    return rc;
}

/* ---- writing a manifest (bulwark update --sign / --manifest) ------------------- */

static int list_files(const char *dir, bw_manifest_t *m, bw_err_t *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return bw_err_set(err, "%s: %s", dir, strerror(errno));
    size_t cap = 0;
    int rc = BW_OK;
    struct dirent *de;
    while (rc == BW_OK && (de = readdir(d))) {
        const char *n = de->d_name;
        if (n[0] == '.' || !strcmp(n, BW_MANIFEST_NAME) || !strcmp(n, BW_MANIFEST_SIG_NAME))
            continue;
        char *p = bw_upd_join(dir, n);
        struct stat st;
        if (!p) {
            rc = bw_err_set(err, "out of memory");
        } else if (lstat(p, &st) != 0) {
            rc = bw_err_set(err, "%s: %s", p, strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
            rc = bw_err_set(err, "%s: not a regular file (a set is a flat directory of files)",
                            p);
        } else if (!bw_manifest_name_ok(n)) {
            rc = bw_err_set(err, "%s: the name cannot go in a manifest (1-%d of A-Z a-z 0-9 . _ "
                            "- +, starting with a letter or digit)", p, BW_MANIFEST_MAX_NAME);
        } else if (m->nfiles == BW_MANIFEST_MAX_FILES) {
            rc = bw_err_set(err, "%s: more than %d files", dir, BW_MANIFEST_MAX_FILES);
        } else {
            if (m->nfiles == cap) {
                size_t nc = cap ? cap * 2 : 16;
                bw_manifest_file_t *nv = realloc(m->files, nc * sizeof *nv);
                if (!nv) {
                    rc = bw_err_set(err, "out of memory");
                    free(p);
                    break;
                }
                m->files = nv;
                cap = nc;
            }
            bw_manifest_file_t *f = &m->files[m->nfiles];
            memset(f, 0, sizeof *f);
            memcpy(f->name, n, strlen(n) + 1); /* name_ok bounded it */
            int hr = bw_upd_sha256_path(p, f->sha256, &f->size, err);
            if (hr == BW_DECLINED)
                rc = bw_err_set(err, "%s: vanished while the directory was listed", p);
            else if (hr != BW_OK)
                rc = BW_ERR;
            else
                m->nfiles++;
        }
        free(p);
    }
    closedir(d);
    if (rc == BW_OK && m->nfiles == 0)
        rc = bw_err_set(err, "%s: no database files to list", dir);
    bw_manifest_sort(m);
    return rc;
}

static int fail(bw_update_report_t *rep, bw_update_failure_t f, const bw_err_t *err)
{
    rep->outcome = BW_UPDATE_FAILED;
    rep->failure = f;
    snprintf(rep->message, sizeof rep->message, "%s", err->msg);
    return BW_ERR;
}

int bw_update_sign_dir(const char *dir, const char *key_path, uint64_t version, int check_load,
                       bw_update_report_t *rep)
{
    memset(rep, 0, sizeof *rep);
    bw_err_t err = {{0}};
    bw_manifest_t m = {0};
    bw_buf_t text = {0}, old = {0};
    EVP_PKEY *key = NULL;
    int rc = BW_ERR;
    if (key_path && bw_upd_load_privkey(key_path, &key, &err) != BW_OK) {
        fail(rep, BW_UPDATE_FAIL_LOCAL, &err);
        goto out;
    }
    if (list_files(dir, &m, &err) != BW_OK) {
        fail(rep, BW_UPDATE_FAIL_LOCAL, &err);
        goto out;
    }
    char *mp = bw_upd_join(dir, BW_MANIFEST_NAME);
    if (mp && bw_upd_read_file(mp, BW_MANIFEST_MAX_BYTES, &old, &err) == BW_OK) {
        bw_manifest_t prev;
        if (bw_manifest_parse(old.p, old.len, &prev, &err) == BW_OK) {
            rep->have_from = 1;
            rep->from = prev.version;
            bw_manifest_free(&prev);
        }
    }
    free(mp);
    m.version = version ? version : rep->have_from ? rep->from + 1 : 1;
    if (check_load) {
        const char *paths[] = {dir};
        bw_engine_t *e = NULL;
        char lerr[512] = "";
        if (bw_engine_load(paths, 1, NULL, &e, lerr, sizeof lerr) != BW_OK) {
            bw_err_set(&err, "not signing a set that does not load: %s (--force signs it "
                       "anyway)", lerr);
            fail(rep, BW_UPDATE_FAIL_COMPILE, &err);
            goto out;
        }
        rep->signatures = bw_engine_info(e) ? bw_engine_info(e)->signatures : 0;
        bw_engine_unref(e);
    }
    time_t now = time(NULL);
    struct tm tm;
    strftime(m.created, sizeof m.created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    if (bw_manifest_format(&m, &text, &err) != BW_OK) {
        fail(rep, BW_UPDATE_FAIL_LOCAL, &err);
        goto out;
    }
    /* signature first, manifest last: see the note on readers at the top */
    if (key) {
        uint8_t sig[64];
        if (bw_upd_sign(key, text.p, text.len, sig, &err) != BW_OK ||
            bw_upd_write_atomic(dir, BW_MANIFEST_SIG_NAME, sig, sizeof sig, 0644, &err)) {
            fail(rep, BW_UPDATE_FAIL_LOCAL, &err);
            goto out;
        }
    } else {
        char *sp = bw_upd_join(dir, BW_MANIFEST_SIG_NAME);
        if (sp)
            unlink(sp); /* a signature of another manifest would only mislead */
        free(sp);
    }
    if (bw_upd_write_atomic(dir, BW_MANIFEST_NAME, text.p, text.len, 0644, &err) != BW_OK) {
        fail(rep, BW_UPDATE_FAIL_LOCAL, &err);
        goto out;
    }
    rep->outcome = BW_UPDATE_SIGNED;
    rep->have_to = 1;
    rep->to = m.version;
    rep->nfiles = m.nfiles;
    rc = BW_OK;
out:
    EVP_PKEY_free(key);
    bw_manifest_free(&m);
    bw_buf_free(&text);
    bw_buf_free(&old);
    return rc;
}
