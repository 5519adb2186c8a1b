/* SPDX-License-Identifier: Apache-2.0 */
/* The updater's key table (update-conf.h). */
#include "update/update-conf.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"

#define OFF(f) offsetof(bw_update_conf_t, f)
#define SEC "updater.options"

static const bw_conf_enum_t source_words[] = {
    {"url", BW_UPDATE_SOURCE_URL}, {"dir", BW_UPDATE_SOURCE_DIR}, {NULL, 0},
};

/* The URL is handed to libcurl as a base: schemes are limited to the ones the
 * updater means to speak (libcurl would also take file://, dict://, ...). */
static int check_url(const char *u, bw_err_t *err)
{
    static const char *const schemes[] = {"http://", "https://", "ftp://", "ftps://", NULL};
    size_t skip = 0;
    for (int i = 0; schemes[i]; i++)
        if (!strncasecmp(u, schemes[i], strlen(schemes[i])))
            skip = strlen(schemes[i]);
    if (!skip || !u[skip] || u[skip] == '/')
        return bw_err_set(err, "UpdateServerUrl: '%.80s' is not an http, https, ftp or ftps URL "
                          "with a host", u);
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return bw_err_set(err, "UpdateServerUrl: blank or control character at byte %zu",
                              (size_t)(p - u));
    if (strchr(u, '?') || strchr(u, '#'))
        return bw_err_set(err, "UpdateServerUrl: a base URL takes no query or fragment "
                          "(file names are appended to it)");
    return BW_OK;
}

static int update_check(const void *conf, const char *group, bw_err_t *err)
{
    const bw_update_conf_t *c = conf;
    (void)group;
    if (c->server_url && c->server_url[0] && check_url(c->server_url, err))
        return BW_ERR;
    if (c->source == BW_UPDATE_SOURCE_DIR && !(c->source_dir && c->source_dir[0]))
        return bw_err_set(err, "UpdateSource = dir needs UpdateSourceDir");
    if (c->proxy)
        for (const char *p = c->proxy; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return bw_err_set(err, "ProxyAddress: blank or control character at byte %zu",
                                  (size_t)(p - c->proxy));
    return BW_OK;
}

static const bw_conf_key_t keys[] = {
    {SEC, "UpdateSource", BW_CONF_ENUM, 0, "url", 0, 0, OFF(source), source_words, NULL, NULL, 0,
     NULL, "where `bulwark update` takes signature sets from: url (UpdateServerUrl) or dir "
     "(UpdateSourceDir)"},
    {SEC, "UpdateServerUrl", BW_CONF_STRING, 0, "", 0, 2048, OFF(server_url), NULL, NULL, NULL, 0,
     NULL, "base URL of the published set (http, https, ftp or ftps); the updater fetches "
     "URL/bulwark.manifest, URL/bulwark.manifest.sig and URL/FILE"},
    {SEC, "UpdateSourceDir", BW_CONF_PATH, 0, "", 0, 4096, OFF(source_dir), NULL, NULL, NULL, 0,
     NULL, "directory holding a published set (another server's PublishDir), for UpdateSource = "
     "dir"},
    {SEC, "UpdatePublicKey", BW_CONF_PATH, 0, "", 0, 4096, OFF(public_key), NULL, NULL, NULL, 0,
     NULL, "ed25519 public key (PEM); when set, every set must carry a valid "
     "bulwark.manifest.sig (empty: sets are not authenticated)"},
    {SEC, "PostUpdateCmd", BW_CONF_STRING, 0, "", 0, 4096, OFF(post_cmd), NULL, NULL, NULL, 0,
     NULL, "command run through /bin/sh after a new set is in place or rolled back, e.g. to make "
     "bulwarkd reload (empty: none)"},
    {SEC, "PostUpdateTimeout", BW_CONF_DURATION, 0, "5m", 1000, 3600000, OFF(post_timeout_ms),
     NULL, NULL, NULL, 0, NULL, "PostUpdateCmd still running after this is killed and reported "
     "as failed"},
    {SEC, "PublishDir", BW_CONF_PATH, 0, "", 0, 4096, OFF(publish_dir), NULL, NULL, NULL, 0, NULL,
     "after an update, copy the verified set (with its manifest and signature) here for other "
     "servers' UpdateSourceDir (empty: do not publish)"},
    {SEC, "ConnectTimeout", BW_CONF_DURATION, 0, "30s", 1000, 600000, OFF(connect_timeout_ms),
     NULL, NULL, NULL, 0, NULL, "bound on connecting to the update server"},
    {SEC, "Timeout", BW_CONF_DURATION, 0, "30m", 1000, 86400000, OFF(timeout_ms), NULL, NULL,
     NULL, 0, NULL, "bound on one file's transfer, connecting included"},
    {SEC, "LowSpeedLimit", BW_CONF_SIZE, 0, "1K", 0, (int64_t)1 << 30, OFF(low_speed_limit),
     NULL, NULL, NULL, 0, NULL, "a transfer slower than this many bytes a second for "
     "LowSpeedTime is aborted (and retried like a cut connection), so a server that drips "
     "cannot hold the updater until Timeout (0: no low-speed cutoff)"},
    {SEC, "LowSpeedTime", BW_CONF_DURATION, 0, "30s", 1000, 3600000, OFF(low_speed_time_ms),
     NULL, NULL, NULL, 0, NULL, "how long a transfer may stay below LowSpeedLimit (whole "
     "seconds)"},
    {SEC, "Retries", BW_CONF_UINT, 0, "2", 0, 20, OFF(retries), NULL, NULL, NULL, 0, NULL,
     "extra attempts of a transfer that failed on the way (connection, cut short, too slow, "
     "5xx)"},
    {SEC, "RetryDelay", BW_CONF_DURATION, 0, "10s", 0, 3600000, OFF(retry_delay_ms), NULL, NULL,
     NULL, 0, NULL, "pause before each retry"},
    {SEC, "ProxyAddress", BW_CONF_STRING, 0, "", 0, 2048, OFF(proxy), NULL, NULL, NULL, 0, NULL,
     "proxy for the update server, e.g. http://proxy:3128 (empty: the http_proxy/https_proxy "
     "variables, if set)"},
    {SEC, "PassiveFtp", BW_CONF_BOOL, 0, "yes", 0, 0, OFF(passive_ftp), NULL, NULL, NULL, 0, NULL,
     "FTP in passive mode (no: active mode)"},
    {SEC, "CaFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(ca_file), NULL, NULL, NULL, 0, NULL,
     "CA certificates (PEM) that https/ftps servers are checked against (empty: the system's)"},
    {SEC, "MaxSetSize", BW_CONF_SIZE, 0, "4G", 1024, (int64_t)1 << 40, OFF(max_set_size), NULL,
     NULL, NULL, 0, NULL,
     "a set whose manifest adds up to more than this is refused before downloading"},
    {SEC, "UpdateInterval", BW_CONF_DURATION, 0, "1h", 1000, 604800000, OFF(interval_ms), NULL,
     NULL, NULL, 0, NULL, "period of `bulwark update --daemon`"},
};

const bw_conf_table_t bw_update_conf_table = {
    "update", sizeof(bw_update_conf_t), keys, BW_CONF_NKEYS(keys), NULL, update_check,
};
