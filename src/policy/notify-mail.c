/* SPDX-License-Identifier: Apache-2.0 */
/* E-mail to the administrators: one message per event, sent through SMTP as
 * a transfer on the notifier's shared libcurl multi handle (notify-curl.c),
 * so it is bounded, queued and asynchronous exactly like the webhook.
 *
 * The message is built here, by a pure function (bw_event_mail), from data
 * an attacker partly controls: the URL and the user name come from the
 * proxied request, the threat name from the signature database.  Two rules
 * keep that data in its place:
 *
 *   - Headers hold printable ASCII only.  Every other byte of an event field
 *     (CR, LF, other controls, DEL, anything above 0x7e) becomes %XX before
 *     it reaches the Subject, so no field can end a header line, start a new
 *     header (Bcc: ...), or fold into the next one.  Percent-encoding is
 *     what a URL's odd bytes look like anyway, and it is lossless enough for
 *     an administrator to see what was there.
 *   - The body is UTF-8 text under Content-Transfer-Encoding:
 *     quoted-printable, so the message on the wire is 7-bit ASCII with lines
 *     of at most 76 bytes, whatever the fields hold: no line-length limit of
 *     a relay can cut it, and no field can produce a line that is a lone "."
 *     (the SMTP end of data; a line never starts with "." here).  Control
 *     characters inside a value are shown escaped (\r, \n, \xNN) and invalid
 *     UTF-8 becomes U+FFFD, so a value always stays on its own "Name: value"
 *     line when the administrator reads it.
 *
 * The envelope (MAIL FROM, RCPT TO) is built only from MailFrom and MailTo,
 * which the configuration loader checked to be bare addresses
 * (bw_mail_address_ok): nothing of an event ever reaches an SMTP command.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "policy/notify-int.h"

/* ---- addresses ----------------------------------------------------------- */

static bool atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* A dot-atom (RFC 5322 3.2.3) of n bytes: atoms of allowed bytes separated by
 * single dots. */
static bool dot_atom(const char *s, size_t n, bool (*ok)(unsigned char))
{
    if (!n || s[0] == '.' || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' ? s[i + 1] == '.' : !ok((unsigned char)s[i]))
            return false;
    }
    return true;
}

static bool ldh(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static bool ip_literal_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == '.' || c == ':';
}

bool bw_mail_address_ok(const char *addr, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    size_t len = strlen(addr);
    const char *at = strrchr(addr, '@');
    if (!len) {
        *why = "empty";
        return false;
    }
    if (len > 254) {
        *why = "longer than 254 bytes";
        return false;
    }
    for (const char *p = addr; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f) {
            *why = "blank, control or non-ASCII character (a bare address is expected, without "
                   "a display name)";
            return false;
        }
        if (strchr("<>\"(),;:\\", c) && !(at && p > at && c == ':')) {
            *why = "character that needs quoting (a bare address is expected: name@domain, "
                   "without a display name or <>)";
            return false;
        }
    }
    if (!at || at == addr || !at[1]) {
        *why = "not of the form name@domain";
        return false;
    }
    if (!dot_atom(addr, (size_t)(at - addr), atext)) {
        *why = "bad local part before '@' (dots must separate words)";
        return false;
    }
    const char *d = at + 1;
    size_t dl = strlen(d);
    if (d[0] == '[') {
        /* [192.0.2.1] or [IPv6:2001:db8::1] */
        const char *in = d + 1;
        size_t il = dl >= 2 ? dl - 2 : 0;
        if (!strncasecmp(in, "IPv6:", 5)) {
            in += 5;
            il = il >= 5 ? il - 5 : 0;
        }
        bool ok = dl >= 3 && d[dl - 1] == ']' && il > 0;
        for (size_t i = 0; ok && i < il; i++)
            ok = ip_literal_char((unsigned char)in[i]);
        if (!ok) {
            *why = "bad address literal after '@' (expected [192.0.2.1] or [IPv6:2001:db8::1])";
            return false;
        }
        return true;
    }
    if (!dot_atom(d, dl, ldh)) {
        *why = "bad domain after '@' (expected letters, digits, '-' and dots)";
        return false;
    }
    return true;
}

/* ---- the message ----------------------------------------------------------- */

static size_t field_len(const char *s)
{
    return s ? strnlen(s, BW_NOTIFY_MAX_FIELD) : 0;
}

/* Appends s for a header: printable ASCII as is, any other byte as %XX; at
 * most `max` output bytes, then "...". */
static void put_header_text(bw_buf_t *b, const char *s, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = field_len(s), out = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t w = c >= 0x20 && c < 0x7f ? 1 : 3;
        if (out + w > max) {
            bw_buf_puts(b, "...");
            return;
        }
        if (w == 1) {
            bw_buf_append(b, &c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            bw_buf_append(b, e, 3);
        }
        out += w;
    }
}

/* Appends s for the body text (UTF-8, before the transfer encoding):
 * valid UTF-8 as is, controls escaped, invalid bytes as U+FFFD. */
static void put_body_text(bw_buf_t *b, const char *s)
{
    size_t n = field_len(s);
    if (!n) {
        bw_buf_puts(b, "-");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t l = nf_utf8_seq(p + i, n - i);
        if (l == 0) {
            bw_buf_puts(b, "\xef\xbf\xbd");
            i++;
        } else if (l > 1) {
            bw_buf_append(b, p + i, l);
            i += l;
        } else {
            if (c == '\r')
                bw_buf_puts(b, "\\r");
            else if (c == '\n')
                bw_buf_puts(b, "\\n");
            else if (c == '\t')
                bw_buf_puts(b, "\\t");
            else if (c < 0x20 || c == 0x7f)
                bw_buf_printf(b, "\\x%02x", (unsigned)c);
            else
                bw_buf_append(b, &c, 1);
            i++;
        }
    }
}

/* Quoted-printable (RFC 2045 6.7) of text whose lines end with '\n': lines
 * of at most 76 bytes ending with CRLF, soft breaks "=", and a '.' or 'F'
 * that would start a line encoded, so no line is "." (end of SMTP data) or
 * starts "From " (mangled by mbox). */
static bool qp_literal(unsigned char c, size_t col, bool line_end)
{
    if (col == 0 && (c == '.' || c == 'F'))
        return false;
    return (c > ' ' && c < 0x7f && c != '=') || ((c == ' ' || c == '\t') && !line_end);
}

static void put_qp(bw_buf_t *b, const char *text, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            bw_buf_puts(b, "\r\n");
            col = 0;
            continue;
        }
        bool line_end = i + 1 == n || text[i + 1] == '\n';
        /* A soft break needs the 76th byte for its '='; the last token of a
         * line may use it. */
        size_t limit = line_end ? 76 : 75;
        if (col > 0 && col + (qp_literal(c, col, line_end) ? 1 : 3) > limit) {
            bw_buf_puts(b, "=\r\n");
            col = 0;
        }
        if (qp_literal(c, col, line_end)) {
            bw_buf_append(b, &c, 1);
            col++;
        } else {
            char e[3] = {'=', hex[c >> 4], hex[c & 15]};
            bw_buf_append(b, e, 3);
            col += 3;
        }
    }
}

static void put_date(bw_buf_t *b, int64_t t)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
        tt = 0;
        gmtime_r(&tt, &tm);
    }
    bw_buf_printf(b, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                  months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

char *bw_event_mail(const bw_event_t *ev, const char *from, const char *const *to, size_t nto,
                    const char *message_id)
{
    bw_buf_t m = {0}, body = {0};
    bw_buf_puts(&m, "Date: ");
    put_date(&m, ev->time);
    bw_buf_printf(&m, "\r\nFrom: Bulwark <%s>\r\nTo: ", from ? from : "");
    for (size_t i = 0; i < nto; i++)
        bw_buf_printf(&m, "%s%s", i ? ",\r\n " : "", to[i]);
    /* Subject: "Bulwark: STATUS THREAT at URL", the parts that exist. */
    bw_buf_puts(&m, "\r\nSubject: Bulwark: ");
    put_header_text(&m, field_len(ev->status) ? ev->status : "DETECTION", 40);
    if (field_len(ev->threat)) {
        bw_buf_puts(&m, " ");
        put_header_text(&m, ev->threat, 120);
    }
    if (field_len(ev->url)) {
        bw_buf_puts(&m, " at ");
        put_header_text(&m, ev->url, 300);
    }
    if (message_id) {
        bw_buf_puts(&m, "\r\nMessage-ID: ");
        put_header_text(&m, message_id, 200);
    }
    bw_buf_puts(&m, "\r\nMIME-Version: 1.0\r\n"
                    "Content-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n"
                    "Auto-Submitted: auto-generated\r\n"
                    "\r\n");

    /* Labels padded to one column: "Client IP:" is the longest. */
    static const char *const names[] = {"Status", "Threat", "URL",    "Client IP",
                                        "User",   "Group",  "Action", "Method"};
    const char *vals[] = {ev->status, ev->threat, ev->url,    ev->client_ip,
                          ev->user,   ev->group,  ev->action, ev->method};
    bw_buf_puts(&body, "Bulwark reports a finding in an object it scanned.\n\n");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        bw_buf_printf(&body, "%s:%*s", names[i], (int)(11 - strlen(names[i])), "");
        put_body_text(&body, vals[i]);
        bw_buf_puts(&body, "\n");
    }
    bw_buf_printf(&body, "Size:       %llu bytes\n", (unsigned long long)ev->size);
    bw_buf_puts(&body, "Time:       ");
    {
        time_t tt = (time_t)ev->time;
        struct tm tm;
        if (gmtime_r(&tt, &tm) && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900)
            bw_buf_printf(&body, "%04d-%02d-%02d %02d:%02d:%02d UTC ", tm.tm_year + 1900,
                          tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        bw_buf_printf(&body, "(%lld)\n", (long long)ev->time);
    }
    bw_buf_puts(&body, "\n-- \nSent by bulwarkd to the MailTo addresses of [icapserver.notify].\n");
    if (!body.oom)
        put_qp(&m, body.p, body.len);
    bw_buf_append(&m, "", 1);
    bool oom = m.oom || body.oom;
    bw_buf_free(&body);
    if (oom) {
        bw_buf_free(&m);
        return NULL;
    }
    return m.p;
}

/* ---- the channel ------------------------------------------------------------ */

static size_t mail_read(char *buf, size_t size, size_t nitems, void *ud)
{
    nf_xfer_t *x = ud;
    size_t room = size * nitems, left = x->job->body_len - x->sent;
    size_t k = left < room ? left : room;
    memcpy(buf, x->job->body + x->sent, k);
    x->sent += k;
    return k;
}

static int mail_setup(bw_notifier_t *n, nf_xfer_t *x)
{
    CURL *e = x->easy;
    const bw_notify_conf_t *c = &n->conf;
    static const long tls[] = {
        [BW_STARTTLS_NO] = CURLUSESSL_NONE,
        [BW_STARTTLS_TRY] = CURLUSESSL_TRY,
        [BW_STARTTLS_YES] = CURLUSESSL_ALL,
    };
    int st = c->smtp_starttls >= BW_STARTTLS_NO && c->smtp_starttls <= BW_STARTTLS_YES
                 ? c->smtp_starttls
                 : BW_STARTTLS_YES;
    int bad = 0;
    bad |= curl_easy_setopt(e, CURLOPT_URL, c->smtp_url) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAIL_FROM, n->mail_envelope_from) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_MAIL_RCPT, (struct curl_slist *)n->mail_rcpt) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_READFUNCTION, mail_read) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_READDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->job->body_len) !=
           CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USE_SSL, tls[st]) != CURLE_OK;
    if (c->smtp_user[0]) {
        bad |= curl_easy_setopt(e, CURLOPT_USERNAME, c->smtp_user) != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, c->smtp_password) != CURLE_OK;
    }
    if (c->smtp_ca_file[0])
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, c->smtp_ca_file) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form */
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK;
#else
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_SMTP | CURLPROTO_SMTPS)) !=
           CURLE_OK;
#endif
    return bad ? -1 : 0;
}

static void mail_finish(bw_notifier_t *n, int res, long code, const char *err)
{
    if (res == CURLE_OK) {
        n->st.mail_sent++;
        return;
    }
    n->st.mail_failures++;
    if (code)
        nf_log(n, 4, "mail via %s: %s (last SMTP reply %ld)", n->conf.smtp_url, err, code);
    else
        nf_log(n, 4, "mail via %s: %s", n->conf.smtp_url, err);
}

/* This host's name if it is a valid domain, else "localhost". */
static char *host_name(void)
{
    char h[256] = "", probe[300];
    if (gethostname(h, sizeof h - 1))
        h[0] = '\0';
    snprintf(probe, sizeof probe, "x@%s", h);
    return strdup(h[0] && h[0] != '[' && bw_mail_address_ok(probe, NULL) ? h : "localhost");
}

int nf_mail_init(bw_notifier_t *n)
{
    const bw_conf_list_t *l = &n->conf.mail_to;
    size_t k = 0;
    n->mail.name = "mail";
    n->mail.timeout_ms = n->conf.mail_timeout_ms;
    n->host = host_name();
    n->mail_to = calloc(l->n + 1, sizeof *n->mail_to);
    if (!n->host || !n->mail_to)
        return -1;
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; i < l->n; i++) {
        const char *a = BW_CONF_LIST_AT(l, char *, i), *why = NULL;
        if (!a || !a[0])
            continue;
        /* The loader checked it; a struct filled by hand may not have been. */
        if (!bw_mail_address_ok(a, &why)) {
            nf_log(n, 3, "mail: MailTo value %zu ignored: %s", i + 1, why);
            continue;
        }
        char env[300];
        snprintf(env, sizeof env, "<%s>", a);
        struct curl_slist *r = curl_slist_append(rcpt, env);
        n->mail_to[k] = strdup(a);
        if (!r || !n->mail_to[k]) {
            curl_slist_free_all(r ? r : rcpt);
            return -1;
        }
        rcpt = r;
        k++;
    }
    n->mail_rcpt = rcpt;
    n->mail_nto = k;
    if (!k)
        return -1;
    const char *from = n->conf.mail_from, *why = NULL;
    if (from[0] && !bw_mail_address_ok(from, &why)) {
        nf_log(n, 3, "mail: MailFrom ignored: %s", why);
        from = "";
    }
    size_t fl = strlen(from) + strlen(n->host) + 16;
    n->mail_from = malloc(fl);
    n->mail_envelope_from = malloc(fl + 2);
    if (!n->mail_from || !n->mail_envelope_from)
        return -1;
    if (from[0])
        snprintf(n->mail_from, fl, "%s", from);
    else
        snprintf(n->mail_from, fl, "bulwark@%s", n->host);
    snprintf(n->mail_envelope_from, fl + 2, "<%s>", n->mail_from);
    n->mail.setup = mail_setup;
    n->mail.finish = mail_finish;
    return 0;
}

nf_job_t *nf_mail_job(bw_notifier_t *n, const bw_event_t *ev)
{
    char id[400];
    snprintf(id, sizeof id, "<%lld.%llu.%d@%s>", (long long)ev->time,
             (unsigned long long)++n->mail_seq, (int)getpid(), n->host);
    return nf_body_job(
        bw_event_mail(ev, n->mail_from, (const char *const *)n->mail_to, n->mail_nto, id));
}

void nf_mail_free(bw_notifier_t *n)
{
    curl_slist_free_all(n->mail_rcpt);
    n->mail_rcpt = NULL;
    for (size_t i = 0; n->mail_to && n->mail_to[i]; i++)
        free(n->mail_to[i]);
    free(n->mail_to);
    n->mail_to = NULL;
    free(n->mail_from);
    free(n->mail_envelope_from);
    free(n->host);
    n->mail_from = n->mail_envelope_from = n->host = NULL;
}
