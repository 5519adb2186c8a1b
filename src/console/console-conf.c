/* SPDX-License-Identifier: Apache-2.0 */
/* The console's keys: one [console] section in console.conf. */
#include "console/console-conf.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bulwark/core.h"
#include "core/buf.h"

#define OFF(f) offsetof(bw_console_conf_t, f)
#define S "console"

static const bw_conf_key_t keys[] = {
    {S, "Listen", BW_CONF_STRING, 0, "127.0.0.1:8443", 3, 300, OFF(listen), NULL, NULL, NULL, 0,
     NULL, "address:port of the HTTP(S) API and web UI ([::1]:8443 for IPv6, *:8443 for all)"},
    {S, "TlsCertificate", BW_CONF_PATH, 0, "", 0, 4096, OFF(tls_cert), NULL, NULL, NULL, 0, NULL,
     "PEM certificate (chain) for HTTPS (empty: plain HTTP, for a quick start on loopback only)"},
    {S, "TlsKey", BW_CONF_PATH, 0, "", 0, 4096, OFF(tls_key), NULL, NULL, NULL, 0, NULL,
     "PEM private key of TlsCertificate"},
    {S, "DatabaseUrl", BW_CONF_STRING, 0, "", 0, 4096, OFF(database_url), NULL, NULL, NULL, 0, NULL,
     "sqlite:PATH or postgresql://user@host/db (empty: sqlite:DataDirectory/console.db)"},
    {S, "DataDirectory", BW_CONF_PATH, 0, "/var/lib/bulwark-console", 1, 4096, OFF(data_dir), NULL,
     NULL, NULL, 0, NULL, "the console's state directory (the SQLite database lives here)"},
    {S, "RetentionDays", BW_CONF_UINT, 0, "90", 0, 36500, OFF(retention_days), NULL, NULL, NULL, 0,
     NULL, "events older than this many days are deleted (0: no age limit)"},
    {S, "RetentionMaxEvents", BW_CONF_UINT, 0, "0", 0, 0, OFF(retention_max_events), NULL, NULL,
     NULL, 0, NULL, "at most this many events are kept, the oldest go first (0: no limit)"},
    {S, "RetentionInterval", BW_CONF_DURATION, 0, "1h", 1000, 86400000, OFF(retention_interval_ms),
     NULL, NULL, NULL, 0, NULL, "how often retention runs (also once at start)"},
    {S, "SessionTimeout", BW_CONF_DURATION, 0, "8h", 60000, 2592000000, OFF(session_timeout_ms),
     NULL, NULL, NULL, 0, NULL, "lifetime of a sign-in session"},
    {S, "LockoutThreshold", BW_CONF_UINT, 0, "5", 1, 1000, OFF(lockout_threshold), NULL, NULL, NULL,
     0, NULL, "failed sign-ins in a row that lock an account"},
    {S, "LockoutTime", BW_CONF_DURATION, 0, "15m", 1000, 86400000, OFF(lockout_time_ms), NULL,
     NULL, NULL, 0, NULL, "how long a locked account stays locked"},
    {S, "MaxBatchEvents", BW_CONF_UINT, 0, "1000", 1, 100000, OFF(max_batch_events), NULL, NULL,
     NULL, 0, NULL, "most events in one POST /api/v1/events (more: 413)"},
    {S, "MaxBatchBytes", BW_CONF_SIZE, 0, "8M", 1024, 1073741824, OFF(max_batch_bytes), NULL, NULL,
     NULL, 0, NULL, "largest body of POST /api/v1/events (more: 413, refused while it arrives)"},
    {S, "MaxRequestBytes", BW_CONF_SIZE, 0, "1M", 1024, 67108864, OFF(max_body_bytes), NULL, NULL,
     NULL, 0, NULL, "largest body of every other request (policies, sign-in, tasks)"},
    {S, "Threads", BW_CONF_UINT, 0, "4", 1, 256, OFF(threads), NULL, NULL, NULL, 0, NULL,
     "HTTP worker threads"},
    {S, "UiDirectory", BW_CONF_PATH, 0, "", 0, 4096, OFF(ui_dir), NULL, NULL, NULL, 0, NULL,
     "the web UI's files (empty: src/console/ui of the source tree when run from it, else "
     BW_CONSOLE_INSTALLED_UI ")"},
    {S, "JsDirectory", BW_CONF_PATH, 0, "/usr/share/javascript", 0, 4096, OFF(js_dir), NULL, NULL,
     NULL, 0, NULL, "served as /js/: Debian's libjs-* packages (chart.js, jquery-datatables, ...)"},
};

static int check(const void *p, const char *group, bw_err_t *err)
{
    (void)group;
    const bw_console_conf_t *c = p;
    int cert = c->tls_cert && *c->tls_cert, key = c->tls_key && *c->tls_key;
    if (cert != key)
        return bw_err_set(err, "TlsCertificate and TlsKey go together (one is set, the other "
                               "is not)"), BW_ERR;
    return BW_OK;
}

const bw_conf_table_t bw_console_conf_table = {
    "console", sizeof(bw_console_conf_t), keys, BW_CONF_NKEYS(keys), NULL, check,
};

static const bw_conf_table_t *const tables[] = {&bw_console_conf_table};
const bw_conf_schema_t bw_console_schema = {tables, 1};

int bw_console_conf_quick(const char *data_dir, const char *listen, bw_conf_state_t **out,
                          bw_err_t *err)
{
    /* Values go through the loader like a file's, so a bad --listen gets the
     * same message; line breaks would inject keys, so they are refused. */
    if (strpbrk(data_dir, "\r\n") || strpbrk(listen, "\r\n"))
        return bw_err_set(err, "--data/--listen: line breaks are not allowed"), BW_ERR;
    bw_buf_t b = {0};
    bw_buf_printf(&b, "[console]\nDataDirectory = %s\nListen = %s\n", data_dir, listen);
    int rc = bw_conf_load_buf(&bw_console_schema, "command line", b.p ? b.p : "", b.len, out,
                              err);
    bw_buf_free(&b);
    return rc;
}
