/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP service's keys.  Section and key names follow kav4proxy.conf where
 * it has one (the seed is the spec); the rest are ours and documented in
 * docs/configuration.md. */
#include "icap/icap-conf.h"

#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"

static const bw_conf_enum_t answer_words[] = {
    {"partial", BW_ANSWER_PARTIAL}, {"complete", BW_ANSWER_COMPLETE}, {NULL, 0},
};

static const bw_conf_enum_t action_words[] = {
    {"skip", BW_ACT_SKIP}, {"deny", BW_ACT_DENY}, {"cure", BW_ACT_CURE},
    {"quarantine", BW_ACT_QUARANTINE}, {NULL, 0},
};

/* A POSIX extended regular expression, checked when the file is read so a
 * bad one is reported with its file and line. */
static int parse_regex(const bw_conf_key_t *key, const char *value, void *dst, bw_err_t *err)
{
    (void)key;
    regex_t re;
    int rc = regcomp(&re, value, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[200];
        regerror(rc, &re, msg, sizeof msg);
        return bw_err_set(err, "bad regular expression \"%s\": %s", value, msg);
    }
    regfree(&re);
    char *copy = strdup(value);
    if (!copy)
        return bw_err_set(err, "out of memory");
    memcpy(dst, &copy, sizeof copy);
    return BW_OK;
}

static void free_regex(const bw_conf_key_t *key, void *dst)
{
    (void)key;
    char *p;
    memcpy(&p, dst, sizeof p);
    free(p);
}

/* Streaming media never ends: scanning it would hold the stream forever.
 * These types are the radio and live-video ones; an ordinary audio or
 * video file (with a Content-Length) is still scanned unless the admin
 * adds its type. */
#define STREAM_MIME_DEFAULT \
    "^audio/(aacp|x-scpls|x-mpegurl|mpegurl)$\n" \
    "^application/(vnd\\.apple\\.mpegurl|x-mpegurl|vnd\\.ms\\.wms-hdr\\.asfv1|x-mms-framed)$\n" \
    "^video/(mp2t|x-ms-asf)$"
#define STREAM_URL_DEFAULT \
    "^[^?#]*\\.m3u8([?#]|$)\n" \
    "^https?://[^/?#]*/;stream(\\.nsv|\\.mp3)?$\n" \
    "^https?://[^/?#]*(icecast|shoutcast|radio)[^/?#]*/[^?#]*(stream|live)[^/?#]*([?#]|$)"

/* TLS listeners need a certificate and its key.  Whether the files load is
 * checked when the daemon builds its TLS context (bw_icap_tls_ctx_new), not
 * here: every program that reads bulwark.conf runs this check, and `bulwark
 * ctl` run by an operator may not be allowed to read the private key. */
static int check_conf(const void *conf, const char *group, bw_err_t *err)
{
    const bw_icap_conf_t *ic = conf;
    if (group || !ic->tls_listen.n)
        return BW_OK;
    if (!ic->tls_cert || !ic->tls_cert[0])
        return bw_err_set(err, "TlsListenAddress %s needs TlsCertificateFile",
                          BW_CONF_LIST_AT(&ic->tls_listen, char *, 0));
    if (!ic->tls_key || !ic->tls_key[0])
        return bw_err_set(err, "TlsListenAddress %s needs TlsPrivateKeyFile",
                          BW_CONF_LIST_AT(&ic->tls_listen, char *, 0));
    return BW_OK;
}

#define OFF(f) offsetof(bw_icap_conf_t, f)
#define ACTION(key, field, def, doc) \
    {"icapserver.actions", key, BW_CONF_ENUM, BW_CONF_GROUPABLE, def, 0, 0, OFF(field), \
     action_words, NULL, NULL, 0, NULL, doc}

static const bw_conf_key_t keys[] = {
    {"icapserver.protocol", "PreviewSize", BW_CONF_UINT, 0, "4096", 0, 1 << 20, OFF(preview_size),
     NULL, NULL, NULL, 0, NULL, "Preview bytes advertised in OPTIONS (0 disables preview)"},
    {"icapserver.protocol", "MaxConnections", BW_CONF_UINT, 0, "1000", 1, 1000000,
     OFF(max_connections), NULL, NULL, NULL, 0, NULL,
     "connections open at once, all workers together; past it 503 (advertised as Max-Connections). "
     "A worker holding its share (MaxConnections / MaxChildren) stops accepting while others have room"},
    {"icapserver.protocol", "Allow204", BW_CONF_BOOL, 0, "yes", 0, 0, OFF(allow204), NULL, NULL,
     NULL, 0, NULL, "answer 204 for clean objects when the client allows it"},
    {"icapserver.protocol", "Allow206", BW_CONF_BOOL, 0, "yes", 0, 0, OFF(allow206), NULL, NULL,
     NULL, 0, NULL, "answer 206 use-original-body for clean objects when the client allows it"},
    {"icapserver.protocol", "RespModeServiceUrl", BW_CONF_STRING, 0, "av/respmod", 1, 200,
     OFF(respmod_url), NULL, NULL, NULL, 0, NULL, "service path for RESPMOD (downloads)"},
    {"icapserver.protocol", "ReqModeServiceUrl", BW_CONF_STRING, 0, "av/reqmod", 1, 200,
     OFF(reqmod_url), NULL, NULL, NULL, 0, NULL, "service path for REQMOD (uploads)"},
    {"icapserver.protocol", "ScanServiceUrl", BW_CONF_STRING, BW_CONF_REPEATABLE, "avscan\nscan", 1,
     200, OFF(scan_urls), NULL, NULL, NULL, 0, NULL,
     "service path taking both methods, the NAS profile (repeatable; docs/icap-nas.md)"},
    {"icapserver.protocol", "MaxQueuedScans", BW_CONF_UINT, 0, "128", 0, 1000000,
     OFF(max_queued_scans), NULL, NULL, NULL, 0, NULL,
     "scans waiting for a thread, per worker; past it a new request gets 503 with Retry-After "
     "(0: no bound)"},
    {"icapserver.protocol", "HTTPClientIpICAPHeader", BW_CONF_STRING, 0, "X-Client-IP", 1, 100,
     OFF(client_ip_header), NULL, NULL, NULL, 0, NULL, "ICAP header holding the client address"},
    {"icapserver.protocol", "HTTPUserNameICAPHeader", BW_CONF_STRING, 0, "X-Client-Username", 1,
     100, OFF(user_header), NULL, NULL, NULL, 0, NULL,
     "ICAP header holding the user name (plain or base64)"},
    {"icapserver.protocol", "ServiceName", BW_CONF_STRING, 0, "Bulwark anti-virus", 1, 100,
     OFF(service_name), NULL, NULL, NULL, 0, NULL, "the Service header of OPTIONS"},
    {"icapserver.protocol", "OptionsTTL", BW_CONF_UINT, 0, "3600", 0, 86400 * 7, OFF(options_ttl),
     NULL, NULL, NULL, 0, NULL, "seconds a client may cache the OPTIONS answer"},
    {"icapserver.protocol", "AnswerMode", BW_CONF_ENUM, BW_CONF_GROUPABLE, "partial", 0, 0, OFF(answer_mode),
     answer_words, NULL, NULL, 0, NULL,
     "large bodies the client keeps no copy of: partial streams them back while scanning and "
     "holds back the last HoldBackSize bytes; complete holds all until the verdict"},
    {"icapserver.protocol", "HoldBackSize", BW_CONF_SIZE, BW_CONF_GROUPABLE, "64K", 0, 0,
     OFF(hold_back), NULL, NULL, NULL, 0, NULL, "partial mode: bytes held back until the verdict"},
    {"icapserver.protocol", "MaxSendDelayTime", BW_CONF_DURATION, BW_CONF_GROUPABLE, "10s", 0, 0,
     OFF(max_send_delay_ms), NULL, NULL, NULL, 0, NULL,
     "partial mode: a slow body's held-back bytes are released after this long (0: never)"},
    {"icapserver.filter", "MaxReqLength", BW_CONF_SIZE, BW_CONF_GROUPABLE, "0", 0, 0,
     OFF(max_req_length), NULL, NULL, NULL, 0, NULL,
     "objects larger than this are TOO_LARGE and follow MaxReqLengthAction (0: no limit)"},
    {"icapserver.filter", "ExcludeMimeType", BW_CONF_CUSTOM, BW_CONF_REPEATABLE | BW_CONF_GROUPABLE,
     STREAM_MIME_DEFAULT, 0, 0, OFF(exclude_mime), NULL, parse_regex, free_regex, sizeof(char *),
     NULL, "objects whose Content-Type matches (POSIX ERE, repeatable) are not scanned: 204 from the preview"},
    {"icapserver.filter", "ExcludeURL", BW_CONF_CUSTOM, BW_CONF_REPEATABLE | BW_CONF_GROUPABLE,
     STREAM_URL_DEFAULT, 0, 0, OFF(exclude_url), NULL, parse_regex, free_regex, sizeof(char *), NULL,
     "objects whose URL matches (POSIX ERE, repeatable) are not scanned: 204 from the preview"},
    {"icapserver.filter", "BlockPartialExecutables", BW_CONF_BOOL, BW_CONF_GROUPABLE, "no", 0, 0,
     OFF(block_partial_exec), NULL, NULL, NULL, 0, NULL,
     "a 206 Partial Content response whose URL or Content-Type names an executable gets a "
     "SUSPICIOUS finding (SuspiciousAction decides); every 206 is scanned and noted either way"},
    ACTION("InfectedAction", infected_action, "deny", "action for INFECTED objects"),
    ACTION("SuspiciousAction", suspicious_action, "deny", "action for SUSPICIOUS objects"),
    ACTION("WarningAction", warning_action, "deny", "action for WARNING objects"),
    ACTION("ProtectedAction", protected_action, "skip", "action for PROTECTED (encrypted) objects"),
    ACTION("CorruptedAction", corrupted_action, "skip", "action for CORRUPTED objects"),
    ACTION("ErrorAction", error_action, "skip", "action for objects whose scan failed (ERROR)"),
    ACTION("CuredAction", cured_action, "cure", "action for curable objects: cure or skip returns the cured object, never the original"),
    ACTION("MaxReqLengthAction", maxreqlength_action, "skip", "action for TOO_LARGE objects"),
    ACTION("TimeoutAction", timeout_action, "skip", "action for objects whose scan timed out"),
    {"icapserver.engine.options", "ScanArchives", BW_CONF_BOOL, BW_CONF_GROUPABLE, "yes", 0, 0,
     OFF(scan_archives), NULL, NULL, NULL, 0, NULL, "open archives and compressed streams"},
    {"icapserver.engine.options", "Cure", BW_CONF_BOOL, BW_CONF_GROUPABLE, "yes", 0, 0, OFF(cure),
     NULL, NULL, NULL, 0, NULL, "cure curable objects (no: they follow InfectedAction, and are blocked where it says skip or cure)"},
    {"icapserver.engine.options", "MaxScanTime", BW_CONF_DURATION, BW_CONF_GROUPABLE, "120s", 0, 0,
     OFF(max_scan_time_ms), NULL, NULL, NULL, 0, NULL, "scan time per object (0: no limit)"},
    {"icapserver.engine.options", "MaxNestingLevel", BW_CONF_UINT, BW_CONF_GROUPABLE, "17", 0, 64,
     OFF(max_nesting_level), NULL, NULL, NULL, 0, NULL, "container recursion depth"},
    {"icapserver.engine.options", "MaxFiles", BW_CONF_UINT, BW_CONF_GROUPABLE, "10000", 0, 1000000,
     OFF(max_files), NULL, NULL, NULL, 0, NULL, "members per container"},
    {"icapserver.engine.options", "MaxFileSize", BW_CONF_SIZE, BW_CONF_GROUPABLE, "100M", 0, 0,
     OFF(max_file_size), NULL, NULL, NULL, 0, NULL, "largest single (inner) file scanned"},
    {"icapserver.engine.options", "MaxScanSize", BW_CONF_SIZE, BW_CONF_GROUPABLE, "400M", 0, 0,
     OFF(max_scan_size), NULL, NULL, NULL, 0, NULL, "bytes scanned per object, unpacked included"},
    {"icapserver.network", "TlsListenAddress", BW_CONF_STRING, BW_CONF_REPEATABLE, NULL, 3, 300,
     OFF(tls_listen), NULL, NULL, NULL, 0, NULL,
     "address:port for ICAP over TLS, icaps:// (repeatable; 11344 is the usual port; empty: none)"},
    {"icapserver.network", "TlsCertificateFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(tls_cert), NULL,
     NULL, NULL, 0, NULL, "PEM server certificate, then its chain (needed with TlsListenAddress)"},
    {"icapserver.network", "TlsPrivateKeyFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(tls_key), NULL,
     NULL, NULL, 0, NULL, "PEM private key of TlsCertificateFile (read before privileges drop)"},
    {"icapserver.network", "HeaderTimeout", BW_CONF_DURATION, 0, "20s", 100, 86400000,
     OFF(header_timeout_ms), NULL, NULL, NULL, 0, NULL,
     "a request's ICAP head and encapsulated HTTP headers must be complete this long after its "
     "first byte, however steadily they trickle in (else 408 and close)"},
    {"icapserver.network", "TlsHandshakeTimeout", BW_CONF_DURATION, 0, "10s", 100, 86400000,
     OFF(tls_handshake_ms), NULL, NULL, NULL, 0, NULL,
     "an icaps:// connection's TLS handshake must be over this long after it was accepted "
     "(else it is closed)"},
    {"icapserver.network", "MinBodyRate", BW_CONF_SIZE, 0, "256", 0, 0, OFF(min_body_rate), NULL,
     NULL, NULL, 0, NULL,
     "bytes per second a body must arrive at, averaged over each MinBodyRatePeriod while it is "
     "read (the first period is the grace; 0: no rule); slower gets 408 and close"},
    {"icapserver.network", "MinBodyRatePeriod", BW_CONF_DURATION, 0, "30s", 1000, 86400000,
     OFF(min_body_rate_ms), NULL, NULL, NULL, 0, NULL, "the window MinBodyRate is measured over"},
    {"icapserver.notify", "NotifyTemplateDir", BW_CONF_PATH, 0, "templates", 0, 0,
     OFF(template_dir), NULL, NULL, NULL, 0, NULL,
     "directory of block-page templates object_<status>.html (relative to the config file)"},
};

/* [icapserver.actions:G], [icapserver.filter:G] and [icapserver.engine.options:G]
 * are per-group copies: G must be defined as [icapserver.groups:G]. */
const bw_conf_table_t bw_icap_conf_table = {
    "icap", sizeof(bw_icap_conf_t), keys, BW_CONF_NKEYS(keys), "icapserver.groups", check_conf,
};
