/* SPDX-License-Identifier: Apache-2.0 */
/* The webhook: an HTTP POST of the event's JSON (bw_event_json) to
 * WebhookUrl, run as a transfer on the notifier's shared libcurl multi
 * handle (notify-curl.c).  This file holds only what is HTTP about it: the
 * POST's options and what counts as delivered (any 2xx).  Redirects are
 * not followed and only http/https are allowed, so a hostile or confused
 * receiver cannot bounce the event elsewhere.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "policy/notify-int.h"

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
    (void)p;
    (void)ud;
    return size * nmemb;
}

static int hook_setup(bw_notifier_t *n, nf_xfer_t *x)
{
    CURL *e = x->easy;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, n->conf.webhook_url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POST, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->job->body) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->job->body_len) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)n->hook_hdrs) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "bulwark-notify/1") != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form */
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
           CURLE_OK;
#endif
    return bad ? -1 : 0;
}

static void hook_finish(bw_notifier_t *n, int res, long code, const char *err)
{
    if (res == CURLE_OK && code >= 200 && code < 300) {
        n->st.webhook_posts++;
        return;
    }
    n->st.webhook_failures++;
    if (res != CURLE_OK)
        nf_log(n, 4, "webhook %s: %s", n->conf.webhook_url, err);
    else
        nf_log(n, 4, "webhook %s: answered HTTP %ld", n->conf.webhook_url, code);
}

int nf_hook_init(bw_notifier_t *n)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!h2) {
        curl_slist_free_all(h);
        return -1;
    }
    n->hook_hdrs = h2;
    n->hook.name = "webhook";
    n->hook.timeout_ms = n->conf.webhook_timeout_ms;
    n->hook.setup = hook_setup;
    n->hook.finish = hook_finish;
    return 0;
}

nf_job_t *nf_hook_job(const bw_event_t *ev)
{
    return nf_body_job(bw_event_json(ev));
}

void nf_hook_free(bw_notifier_t *n)
{
    curl_slist_free_all(n->hook_hdrs);
    n->hook_hdrs = NULL;
}
