/* SPDX-License-Identifier: Apache-2.0 */
/* The link's HTTPS client (link-http.h).  Peer and host name are always
 * verified; with CAFile only that CA is trusted (a test CA, or the
 * organisation's), otherwise the system store.  Redirects are not followed:
 * the credential must go only where Url says. */
#include "link/link-http.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"

#define MAX_ANSWER (64u << 20)

struct bw_link_http {
    CURL *h;
    char *base;
    char *ca;
    char *auth;  /* "Authorization: Bearer ..." or NULL */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int bw_link_http_new(const char *base, const char *ca_file, bw_link_http_t **out, bw_err_t *err)
{
    if (!base || (strncasecmp(base, "https://", 8) && strncasecmp(base, "http://", 7)))
        return bw_err_set(err, "console URL '%s': expected https://HOST:PORT", base ? base : "");
    pthread_once(&curl_once, curl_init);
    bw_link_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return bw_err_set(err, "out of memory");
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    h->base = strndup(base, bl);
    h->ca = ca_file && ca_file[0] ? strdup(ca_file) : NULL;
    h->h = curl_easy_init();
    if (!h->base || !h->h || (ca_file && ca_file[0] && !h->ca)) {
        bw_link_http_free(h);
        return bw_err_set(err, "out of memory");
    }
    *out = h;
    return BW_OK;
}

void bw_link_http_free(bw_link_http_t *h)
{
    if (!h)
        return;
    if (h->h)
        curl_easy_cleanup(h->h);
    free(h->base);
    free(h->ca);
    free(h->auth);
    free(h);
}

int bw_link_http_set_bearer(bw_link_http_t *h, const char *token)
{
    free(h->auth);
    h->auth = NULL;
    if (!token)
        return BW_OK;
    size_t n = strlen(token) + 32;
    h->auth = malloc(n);
    if (!h->auth)
        return BW_ERR;
    snprintf(h->auth, n, "Authorization: Bearer %s", token);
    return BW_OK;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    bw_buf_t *b = ud;
    if (b->len + sz * n > MAX_ANSWER)
        return 0;
    bw_buf_append(b, p, sz * n);
    return b->oom ? 0 : sz * n;
}

int bw_link_http_call(bw_link_http_t *h, const char *method, const char *path, const char *body,
                      size_t body_len, long timeout_ms, long *status, bw_buf_t *resp,
                      bw_err_t *err)
{
    bw_buf_reset(resp);
    size_t ul = strlen(h->base) + strlen(path) + 1;
    char *url = malloc(ul);
    if (!url)
        return bw_err_set(err, "out of memory");
    snprintf(url, ul, "%s%s", h->base, path);
    struct curl_slist *hdrs = NULL, *t;
    if ((t = curl_slist_append(hdrs, "Accept: application/json")))
        hdrs = t;
    if (body && (t = curl_slist_append(hdrs, "Content-Type: application/json")))
        hdrs = t;
    if (h->auth && (t = curl_slist_append(hdrs, h->auth)))
        hdrs = t;
    if ((t = curl_slist_append(hdrs, "Expect:")))
        hdrs = t;
    char detail[CURL_ERROR_SIZE] = "";
    CURL *c = h->h;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "bulwark-link/" BW_VERSION);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 10000 ? timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
    if (!strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        if (strcmp(method, "POST"))
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);
    free(url);
    if (rc != CURLE_OK)
        return bw_err_set(err, "%s %s%s: %s", method, h->base, path,
                          detail[0] ? detail : curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return BW_OK;
}

void bw_link_http_error_of(const bw_buf_t *resp, long status, char *out, size_t cap)
{
    json_error_t je;
    json_t *j = resp->len ? json_loadb(resp->p, resp->len, 0, &je) : NULL;
    const char *e = j ? json_string_value(json_object_get(j, "error")) : NULL;
    if (e)
        snprintf(out, cap, "HTTP %ld: %s", status, e);
    else
        snprintf(out, cap, "HTTP %ld: %.*s", status, (int)(resp->len < 200 ? resp->len : 200),
                 resp->p ? resp->p : "");
    /* the console's text goes into logs and events: no line breaks */
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    json_decref(j);
}
