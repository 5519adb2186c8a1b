/* SPDX-License-Identifier: Apache-2.0 */
/* The [rscan] keys: bulwarkd as the scanning server of bulwark-agent. */
#include <stddef.h>
#include <string.h>

#include "core/conf.h"
#include "rscan/rscan.h"

#define OFF(f) offsetof(bw_rscan_conf_t, f)
#define K(name, type, flags, def, lo, hi, field, doc) \
    {"rscan", name, type, flags, def, lo, hi, OFF(field), NULL, NULL, NULL, 0, NULL, doc}

static const bw_conf_key_t keys[] = {
    K("Listen", BW_CONF_STRING, BW_CONF_REPEATABLE, NULL, 3, 300, listen,
      "host:port of the BWSCAN/1 remote-scan server (repeatable; none: off)"),
    K("TlsCertificate", BW_CONF_PATH, 0, "", 0, 4096, tls_cert,
      "PEM server certificate and chain (empty: plain TCP, for loopback tests only)"),
    K("TlsKey", BW_CONF_PATH, 0, "", 0, 4096, tls_key, "PEM private key of TlsCertificate"),
    K("TlsClientCA", BW_CONF_PATH, 0, "", 0, 4096, tls_client_ca,
      "PEM CA(s) for client certificates; when set, clients without a valid one are refused"),
    K("CacheEntries", BW_CONF_UINT, 0, "65536", 0, 100000000, cache_entries,
      "verdicts each worker keeps in memory (0: none)"),
    K("RedisUrl", BW_CONF_STRING, 0, "", 0, 1024, redis_url,
      "redis://host:port[/db] of the verdict cache shared by several servers (empty: none)"),
    K("RedisTtl", BW_CONF_DURATION, 0, "168h", 1000, 315360000000ULL, redis_ttl_ms,
      "how long a verdict stays in Redis"),
    K("MaxFileSize", BW_CONF_SIZE, 0, "100M", 1, 0x7fffffffffffLL, max_file_size,
      "largest file a client may offer; a larger one gets ERROR"),
    K("Timeout", BW_CONF_DURATION, 0, "60s", 100, 86400000, timeout_ms,
      "time a connection may stay silent, idle or in the middle of a transfer"),
};

static int check(const void *conf, const char *group, bw_err_t *err)
{
    (void)group;
    const bw_rscan_conf_t *rc = conf;
    if (rc->tls_cert[0] && !rc->tls_key[0])
        return bw_err_set(err, "[rscan] TlsCertificate needs TlsKey");
    if (rc->tls_client_ca[0] && !rc->tls_cert[0])
        return bw_err_set(err, "[rscan] TlsClientCA needs TlsCertificate");
    if (rc->redis_url[0] && strncmp(rc->redis_url, "redis://", 8) != 0)
        return bw_err_set(err, "[rscan] RedisUrl %s: expected redis://host:port[/db]", rc->redis_url);
    return BW_OK;
}

const bw_conf_table_t bw_rscan_conf_table = {
    "rscan", sizeof(bw_rscan_conf_t), keys, BW_CONF_NKEYS(keys), NULL, check,
};

int bw_rscan_conf_enabled(const bw_rscan_conf_t *rc)
{
    return rc && rc->listen.n > 0;
}
