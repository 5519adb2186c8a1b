/* SPDX-License-Identifier: Apache-2.0 */
/* The [icapserver.notify] keys of the notifier: NotifyScript, the webhook
 * and mail.  (The section also holds NotifyTemplateDir, which belongs to the
 * ICAP table; the loader allows two tables in one section because the key
 * names differ.)
 *
 * Everything that can be checked when the file is read is checked then, so
 * a typo in an address or URL stops a start or a reload with the file and
 * line instead of becoming a warning per detection much later: addresses
 * and the SMTP URL through custom parsers (which get file:line), and the
 * combinations (credentials without TLS, a password without a user) in the
 * table's cross-key check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "policy/notify-int.h"

#define OFF(f) offsetof(bw_notify_conf_t, f)

static int store_string(const char *value, void *dst, bw_err_t *err)
{
    char *copy = strdup(value);
    if (!copy)
        return bw_err_set(err, "out of memory");
    memcpy(dst, &copy, sizeof copy);
    return BW_OK;
}

static void free_string(const bw_conf_key_t *key, void *dst)
{
    (void)key;
    char *p;
    memcpy(&p, dst, sizeof p);
    free(p);
}

/* MailTo and MailFrom: a bare address, or empty (MailTo: ignored; MailFrom:
 * bulwark@<host name>). */
static int parse_address(const bw_conf_key_t *key, const char *value, void *dst, bw_err_t *err)
{
    (void)key;
    const char *why = NULL;
    if (value[0] && !bw_mail_address_ok(value, &why))
        return bw_err_set(err, "'%.100s' is not a usable mail address: %s", value, why);
    return store_string(value, dst, err);
}

/* smtp://host[:port][/ehlo-name] or smtps://...; credentials belong in
 * SmtpUser/SmtpPassword, not in the URL, which appears in log messages. */
static int parse_smtp_url(const bw_conf_key_t *key, const char *value, void *dst, bw_err_t *err)
{
    (void)key;
    size_t skip = !strncasecmp(value, "smtp://", 7) ? 7 : !strncasecmp(value, "smtps://", 8) ? 8 : 0;
    if (!skip || !value[skip] || value[skip] == '/' || value[skip] == ':')
        return bw_err_set(err, "'%.100s' is not an smtp:// or smtps:// URL with a host", value);
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return bw_err_set(err, "blank or control character at byte %zu",
                              (size_t)(p - value));
    size_t auth_len = strcspn(value + skip, "/?#");
    if (memchr(value + skip, '@', auth_len))
        return bw_err_set(err, "'%.100s' holds credentials: set SmtpUser and SmtpPassword "
                               "instead (the URL appears in log messages)", value);
    return store_string(value, dst, err);
}

static const bw_conf_enum_t starttls_words[] = {
    {"no", BW_STARTTLS_NO}, {"try", BW_STARTTLS_TRY}, {"yes", BW_STARTTLS_YES}, {NULL, 0},
};

static int notify_check(const void *conf, const char *group, bw_err_t *err)
{
    const bw_notify_conf_t *c = conf;
    (void)group;
    const char *u = c->webhook_url;
    if (u && u[0]) {
        size_t skip = !strncasecmp(u, "http://", 7) ? 7 : !strncasecmp(u, "https://", 8) ? 8 : 0;
        if (!skip || !u[skip] || u[skip] == '/')
            return bw_err_set(err, "WebhookUrl: '%.80s' is not an http:// or https:// URL with "
                              "a host", u);
        for (const char *p = u; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return bw_err_set(err, "WebhookUrl: blank or control character at byte %zu",
                                  (size_t)(p - u));
    }
    const char *s = c->script;
    if (s && s[0]) {
        struct stat sb;
        if (stat(s, &sb) || !S_ISREG(sb.st_mode) || access(s, X_OK))
            return bw_err_set(err, "NotifyScript: %.200s is not an executable file", s);
    }
    bool user = c->smtp_user && c->smtp_user[0];
    bool smtps = c->smtp_url && !strncasecmp(c->smtp_url, "smtps://", 8);
    if (user && !smtps && c->smtp_starttls != BW_STARTTLS_YES)
        return bw_err_set(err, "SmtpUser: the password would cross the network in clear over "
                               "smtp:// (use smtps://, or SmtpStartTls = yes)");
    if (!user && c->smtp_password && c->smtp_password[0])
        return bw_err_set(err, "SmtpPassword: set without SmtpUser");
    const char *ca = c->smtp_ca_file;
    if (ca && ca[0] && access(ca, R_OK))
        return bw_err_set(err, "SmtpCAFile: %.200s is not a readable file", ca);
    return BW_OK;
}

static const bw_conf_key_t keys[] = {
    {"icapserver.notify", "NotifyScript", BW_CONF_PATH, 0, "", 0, 4096, OFF(script), NULL, NULL,
     NULL, 0, NULL,
     "program run per detection with the event in BULWARK_* environment variables (no shell; "
     "empty: none)"},
    {"icapserver.notify", "NotifyScriptTimeout", BW_CONF_DURATION, 0, "10s", 100, 3600000,
     OFF(script_timeout_ms), NULL, NULL, NULL, 0, NULL,
     "a NotifyScript still running after this is killed (SIGKILL to its process group)"},
    {"icapserver.notify", "NotifyMaxConcurrent", BW_CONF_UINT, 0, "4", 1, 256, OFF(max_running),
     NULL, NULL, NULL, 0, NULL,
     "scripts (and webhook posts, and mails) running at once per worker"},
    {"icapserver.notify", "NotifyMaxQueued", BW_CONF_UINT, 0, "100", 0, 100000, OFF(max_queued),
     NULL, NULL, NULL, 0, NULL,
     "events waiting per channel and worker; more are dropped, counted and logged"},
    {"icapserver.notify", "WebhookUrl", BW_CONF_STRING, 0, "", 0, 2048, OFF(webhook_url), NULL,
     NULL, NULL, 0, NULL, "http(s) URL that receives each event as a JSON POST (empty: none)"},
    {"icapserver.notify", "WebhookTimeout", BW_CONF_DURATION, 0, "5s", 100, 600000,
     OFF(webhook_timeout_ms), NULL, NULL, NULL, 0, NULL,
     "whole-transfer bound of one webhook POST (connecting included)"},
    {"icapserver.notify", "MailTo", BW_CONF_CUSTOM, BW_CONF_REPEATABLE, NULL, 0, 0, OFF(mail_to),
     NULL, parse_address, free_string, sizeof(char *), NULL,
     "address that receives a mail per detection (repeatable; none: no mail)"},
    {"icapserver.notify", "MailFrom", BW_CONF_CUSTOM, 0, "", 0, 0, OFF(mail_from), NULL,
     parse_address, free_string, sizeof(char *), NULL,
     "sender address of the mails (empty: bulwark@<host name>)"},
    {"icapserver.notify", "SmtpUrl", BW_CONF_CUSTOM, 0, "smtp://localhost", 0, 0, OFF(smtp_url),
     NULL, parse_smtp_url, free_string, sizeof(char *), NULL,
     "mail server: smtp://host[:port] (STARTTLS per SmtpStartTls) or smtps://host[:port] (TLS)"},
    {"icapserver.notify", "SmtpStartTls", BW_CONF_ENUM, 0, "no", 0, 0, OFF(smtp_starttls),
     starttls_words, NULL, NULL, 0, NULL,
     "smtp:// only: no, try (if the server offers it), yes (required)"},
    {"icapserver.notify", "SmtpUser", BW_CONF_STRING, 0, "", 0, 256, OFF(smtp_user), NULL, NULL,
     NULL, 0, NULL, "SMTP AUTH user (empty: no AUTH); needs smtps:// or SmtpStartTls = yes"},
    {"icapserver.notify", "SmtpPassword", BW_CONF_STRING, BW_CONF_SECRET, "", 0, 256, OFF(smtp_password),
     NULL, NULL, NULL, 0, NULL, "SMTP AUTH password (keep this file unreadable to others)"},
    {"icapserver.notify", "SmtpCAFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(smtp_ca_file), NULL,
     NULL, NULL, 0, NULL,
     "PEM CA certificates to verify the mail server with (empty: the system's)"},
    {"icapserver.notify", "MailTimeout", BW_CONF_DURATION, 0, "10s", 100, 600000,
     OFF(mail_timeout_ms), NULL, NULL, NULL, 0, NULL,
     "whole-session bound of one mail (connecting and TLS included)"},
};

const bw_conf_table_t bw_notify_conf_table = {
    "notify", sizeof(bw_notify_conf_t), keys, BW_CONF_NKEYS(keys), NULL, notify_check,
};

bool bw_notify_conf_enabled(const bw_notify_conf_t *c)
{
    if (!c)
        return false;
    if ((c->script && c->script[0]) || (c->webhook_url && c->webhook_url[0]))
        return true;
    for (size_t i = 0; i < c->mail_to.n; i++) {
        const char *a = BW_CONF_LIST_AT(&c->mail_to, char *, i);
        if (a && a[0])
            return true;
    }
    return false;
}
