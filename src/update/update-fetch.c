/* SPDX-License-Identifier: Apache-2.0 */
/* The update sources: a URL through libcurl, or a local directory.
 *
 * Both answer the same two questions, "give me NAME in memory" (the manifest
 * and its signature: small, bounded) and "write NAME into this file" (the
 * data: bounded by the manifest's size for it), and classify every failure
 * the same way (bw_fetch_rc_t), so the caller decides retries and exit codes
 * without knowing which source it has.
 *
 * Bounds are enforced while the bytes arrive, not after: a server that
 * sends more than the manifest announced is cut off at the first byte too
 * many, so a hostile or broken server cannot fill the disk.  The digest is
 * computed on the way to the disk, so a file is read once.
 *
 * Time is bounded twice: Timeout caps one transfer from start to end, and
 * the low-speed cutoff (LowSpeedLimit bytes/s for LowSpeedTime) ends one
 * that trickles, so a server sending a byte a second holds the updater for
 * LowSpeedTime per attempt, not Timeout.
 *
 * One curl handle serves a whole run: the connection is kept alive from the
 * manifest to the last file.  The manifest and its signature are asked for
 * with "Cache-Control: no-cache", because an HTTP cache in between that
 * served a stale manifest would make every server look up to date; data
 * files need no such care, their digests are checked.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "update/update-int.h"

typedef struct sink {
    bw_buf_t *mem;      /* memory sink, or NULL */
    int fd;             /* file sink when mem is NULL */
    uint64_t limit;
    uint64_t got;
    EVP_MD_CTX *sha;    /* file sink only */
    int too_big, write_errno;
} sink_t;

static int sink_put(sink_t *s, const char *p, size_t n)
{
    if (n > s->limit - s->got) {
        s->too_big = 1;
        return -1;
    }
    if (s->mem) {
        bw_buf_append(s->mem, p, n);
        if (s->mem->oom) {
            s->write_errno = ENOMEM;
            return -1;
        }
    } else {
        while (n) {
            ssize_t w = write(s->fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                s->write_errno = errno;
                return -1;
            }
            EVP_DigestUpdate(s->sha, p, (size_t)w);
            s->got += (uint64_t)w;
            p += w;
            n -= (size_t)w;
        }
        return 0;
    }
    s->got += n;
    return 0;
}

static bw_fetch_rc_t sink_failure(const sink_t *s, const char *where, bw_err_t *err)
{
    if (s->too_big) {
        bw_err_set(err, "%s: more than the %llu bytes expected", where,
                   (unsigned long long)s->limit);
        return BW_FETCH_TOOBIG;
    }
    bw_err_set(err, "%s: writing the local copy: %s", where, strerror(s->write_errno));
    return BW_FETCH_LOCAL;
}

/* ---- directory source ------------------------------------------------------ */

static bw_fetch_rc_t dir_fetch(bw_fetch_t *f, const char *name, sink_t *s, bw_err_t *err)
{
    char where[4200];
    bw_fetch_where(f, name, where, sizeof where);
    int fd = open(where, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        bw_err_set(err, "%s: %s", where, strerror(e));
        return e == ENOENT ? BW_FETCH_NOTFOUND : BW_FETCH_FAILED;
    }
    char buf[1 << 16];
    bw_fetch_rc_t rc = BW_FETCH_OK;
    for (;;) {
        if (f->stop && f->stop(f->stop_arg)) {
            bw_err_set(err, "%s: stopped", where);
            rc = BW_FETCH_STOPPED;
            break;
        }
        ssize_t got = read(fd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            bw_err_set(err, "%s: %s", where, strerror(errno));
            rc = BW_FETCH_TRANSIENT; /* EIO on a network file system may pass */
            break;
        }
        if (got == 0)
            break;
        if (sink_put(s, buf, (size_t)got)) {
            rc = sink_failure(s, where, err);
            break;
        }
    }
    close(fd);
    return rc;
}

/* ---- URL source ------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_global_rc;

static void curl_global(void)
{
    curl_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    return sink_put(arg, p, size * n) ? 0 : size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    bw_fetch_t *f = arg;
    (void)dt, (void)dn, (void)ut, (void)un;
    return f->stop && f->stop(f->stop_arg) ? 1 : 0;
}

/* Options that stay the same for every transfer of the run. */
static int curl_setup(bw_fetch_t *f, bw_err_t *err)
{
    const bw_update_conf_t *c = f->conf;
    CURL *h = f->curl;
    int bad = 0;
    bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https,ftp,ftps") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https,ftp,ftps") != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_USERAGENT, "bulwark-update/" BW_VERSION) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms) !=
           CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms) != CURLE_OK;
    if (c->low_speed_limit) {
        long secs = (long)((c->low_speed_time_ms + 999) / 1000);
        bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, (long)c->low_speed_limit) != CURLE_OK;
        bad |= curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, secs ? secs : 1L) != CURLE_OK;
    }
    bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK;
    bad |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, f) != CURLE_OK;
    if (c->proxy && c->proxy[0])
        bad |= curl_easy_setopt(h, CURLOPT_PROXY, c->proxy) != CURLE_OK;
    if (c->ca_file && c->ca_file[0])
        bad |= curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) != CURLE_OK;
    if (!c->passive_ftp)
        bad |= curl_easy_setopt(h, CURLOPT_FTPPORT, "-") != CURLE_OK;
    if (bad)
        return bw_err_set(err, "libcurl refused an option (is it built with http, https and "
                          "ftp?)");
    return BW_OK;
}

static bw_fetch_rc_t classify(CURLcode cc, long http, const char *where, const char *detail,
                              const sink_t *s, const bw_update_conf_t *c, bw_err_t *err)
{
    const char *what = detail && detail[0] ? detail : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_OK:
        return BW_FETCH_OK;
    case CURLE_WRITE_ERROR:
        if (s->too_big || s->write_errno)
            return sink_failure(s, where, err);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        bw_err_set(err, "%s: stopped", where);
        return BW_FETCH_STOPPED;
    case CURLE_FILESIZE_EXCEEDED:
        bw_err_set(err, "%s: the server announces more than the %llu bytes expected", where,
                   (unsigned long long)s->limit);
        return BW_FETCH_TOOBIG;
    case CURLE_REMOTE_FILE_NOT_FOUND:
        bw_err_set(err, "%s: not found on the server (%s)", where, what);
        return BW_FETCH_NOTFOUND;
    case CURLE_HTTP_RETURNED_ERROR:
        bw_err_set(err, "%s: HTTP %ld", where, http);
        if (http == 404 || http == 410)
            return BW_FETCH_NOTFOUND;
        return (http >= 500 || http == 408 || http == 429) ? BW_FETCH_TRANSIENT
                                                           : BW_FETCH_FAILED;
    case CURLE_OPERATION_TIMEDOUT:
        if (strstr(what, "too slow")) {
            bw_err_set(err, "%s: too slow: under %llu bytes/s for %llu s (LowSpeedLimit, "
                       "LowSpeedTime) after %llu bytes", where,
                       (unsigned long long)c->low_speed_limit,
                       (unsigned long long)((c->low_speed_time_ms + 999) / 1000),
                       (unsigned long long)s->got);
        } else {
            bw_err_set(err, "%s: timed out after %llu bytes (%s)", where,
                       (unsigned long long)s->got, what);
        }
        return BW_FETCH_TRANSIENT;
    case CURLE_PARTIAL_FILE:
        bw_err_set(err, "%s: the transfer was cut short after %llu bytes (%s)", where,
                   (unsigned long long)s->got, what);
        return BW_FETCH_TRANSIENT;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_LOGIN_DENIED:
    case CURLE_REMOTE_ACCESS_DENIED:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_USE_SSL_FAILED:
    case CURLE_TOO_MANY_REDIRECTS:
        bw_err_set(err, "%s: %s", where, what);
        return BW_FETCH_FAILED;
    default:
        break;
    }
    bw_err_set(err, "%s: %s", where, what);
    return BW_FETCH_TRANSIENT;
}

static bw_fetch_rc_t url_fetch(bw_fetch_t *f, const char *name, int no_cache, sink_t *s,
                               bw_err_t *err)
{
    char where[4200], detail[CURL_ERROR_SIZE] = "";
    bw_fetch_where(f, name, where, sizeof where);
    CURL *h = f->curl;
    struct curl_slist *hdrs = NULL;
    if (no_cache) {
        hdrs = curl_slist_append(hdrs, "Cache-Control: no-cache");
        hdrs = curl_slist_append(hdrs, "Pragma: no-cache");
    }
    curl_easy_setopt(h, CURLOPT_URL, where);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->limit);
    CURLcode cc = curl_easy_perform(h);
    long http = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    return classify(cc, http, where, detail, s, f->conf, err);
}

/* ---- the interface ---------------------------------------------------------- */

int bw_fetch_init(bw_fetch_t *f, const bw_update_conf_t *conf, int (*stop)(void *), void *arg,
                  bw_err_t *err)
{
    memset(f, 0, sizeof *f);
    f->conf = conf;
    f->stop = stop;
    f->stop_arg = arg;
    f->is_dir = conf->source == BW_UPDATE_SOURCE_DIR;
    f->base = f->is_dir ? conf->source_dir : conf->server_url;
    if (!f->base || !f->base[0])
        return bw_err_set(err, f->is_dir ? "UpdateSource = dir but no UpdateSourceDir is set"
                                         : "no update source: set [updater.options] "
                                           "UpdateServerUrl (or UpdateSource = dir and "
                                           "UpdateSourceDir)");
    f->base_len = strlen(f->base);
    while (f->base_len > 1 && f->base[f->base_len - 1] == '/')
        f->base_len--;
    if (f->is_dir)
        return BW_OK;
    pthread_once(&curl_once, curl_global);
    if (curl_global_rc != CURLE_OK)
        return bw_err_set(err, "libcurl: %s", curl_easy_strerror(curl_global_rc));
    f->curl = curl_easy_init();
    if (!f->curl)
        return bw_err_set(err, "libcurl: cannot create a handle");
    if (curl_setup(f, err)) {
        bw_fetch_close(f);
        return BW_ERR;
    }
    return BW_OK;
}

void bw_fetch_close(bw_fetch_t *f)
{
    if (f->curl)
        curl_easy_cleanup(f->curl);
    f->curl = NULL;
}

void bw_fetch_where(const bw_fetch_t *f, const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%.*s/%s", (int)f->base_len, f->base, name);
}

bw_fetch_rc_t bw_fetch_mem(bw_fetch_t *f, const char *name, size_t max, int no_cache,
                           bw_buf_t *out, bw_err_t *err)
{
    sink_t s = {.mem = out, .fd = -1, .limit = max};
    out->len = 0;
    return f->is_dir ? dir_fetch(f, name, &s, err) : url_fetch(f, name, no_cache, &s, err);
}

bw_fetch_rc_t bw_fetch_fd(bw_fetch_t *f, const char *name, int fd, uint64_t limit,
                          uint8_t sha[32], uint64_t *got, bw_err_t *err)
{
    sink_t s = {.fd = fd, .limit = limit};
    *got = 0;
    if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0) {
        bw_err_set(err, "%s: emptying the local copy: %s", name, strerror(errno));
        return BW_FETCH_LOCAL;
    }
    s.sha = EVP_MD_CTX_new();
    if (!s.sha || !EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(s.sha);
        bw_err_set(err, "out of memory");
        return BW_FETCH_LOCAL;
    }
    bw_fetch_rc_t rc = f->is_dir ? dir_fetch(f, name, &s, err) : url_fetch(f, name, 0, &s, err);
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(s.sha, sha, &len))
        memset(sha, 0, 32);
    EVP_MD_CTX_free(s.sha);
    *got = s.got;
    return rc;
}
