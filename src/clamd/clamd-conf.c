/* SPDX-License-Identifier: Apache-2.0 */
/* The [clamd] keys.  Names and defaults are clamd.conf's (ClamAV 1.x), so the
 * lines of an existing clamd.conf carry over; where clamd's unit differs from
 * Bulwark's usual one (MaxScanTime is milliseconds in clamd.conf, a plain
 * number is seconds in every other Bulwark duration) the clamd unit wins,
 * because a drop-in that silently multiplied a timeout by 1000 would not be
 * one. */
#include "clamd/clamd-conf.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"

static const bw_conf_enum_t enable_words[] = {
    {"no", BW_CLAMD_CMD_OFF},    {"yes", BW_CLAMD_CMD_ON}, {"local", BW_CLAMD_CMD_LOCAL},
    {"false", BW_CLAMD_CMD_OFF}, {"true", BW_CLAMD_CMD_ON}, {NULL, 0},
};

/* clamd's MaxScanTime: a plain number is milliseconds; a suffix (ms, s, m, h)
 * says its unit. */
static int parse_ms(const bw_conf_key_t *key, const char *value, void *dst, bw_err_t *err)
{
    (void)key;
    uint64_t ms = 0;
    size_t n = strspn(value, "0123456789");
    if (n && !value[n]) {
        char *end = NULL;
        ms = strtoull(value, &end, 10);
        if (n > 15)
            return bw_err_set(err, "'%s' is too large", value);
    } else if (bw_conf_parse_duration(value, &ms, err) != BW_OK) {
        return BW_ERR;
    }
    memcpy(dst, &ms, sizeof ms);
    return BW_OK;
}

/* LocalSocketMode: octal permission bits such as 660 or 0666. */
static int parse_mode(const bw_conf_key_t *key, const char *value, void *dst, bw_err_t *err)
{
    (void)key;
    size_t n = strlen(value);
    if (n && (n > 4 || strspn(value, "01234567") != n))
        return bw_err_set(err, "'%s' is not a permission mode (expected octal, e.g. 660)", value);
    char *copy = strdup(value);
    if (!copy)
        return bw_err_set(err, "out of memory");
    memcpy(dst, &copy, sizeof copy);
    return BW_OK;
}

static void free_str(const bw_conf_key_t *key, void *dst)
{
    (void)key;
    char *p;
    memcpy(&p, dst, sizeof p);
    free(p);
}

#define OFF(f) offsetof(bw_clamd_conf_t, f)
#define K(name, type, flags, def, lo, hi, field, doc) \
    {"clamd", name, type, flags, def, lo, hi, OFF(field), NULL, NULL, NULL, 0, NULL, doc}

static const bw_conf_key_t keys[] = {
    K("TCPSocket", BW_CONF_UINT, 0, "0", 0, 65535, tcp_port,
      "TCP port of the clamd protocol (0: no TCP listener)"),
    K("TCPAddr", BW_CONF_STRING, BW_CONF_REPEATABLE, NULL, 1, 255, tcp_addr,
      "address to bind TCPSocket on (repeatable; IPv6 allowed; none: 0.0.0.0)"),
    K("LocalSocket", BW_CONF_PATH, 0, "", 0, 107, local_socket,
      "unix socket of the clamd protocol (empty: none); FILDES works only here"),
    {"clamd", "LocalSocketMode", BW_CONF_CUSTOM, 0, "666", 0, 0, OFF(local_socket_mode), NULL,
     parse_mode, free_str, sizeof(char *), NULL, "permissions of LocalSocket, octal (empty: the umask's)"},
    K("LocalSocketGroup", BW_CONF_STRING, 0, "", 0, 64, local_socket_group,
      "group owning LocalSocket (empty: the daemon's group)"),
    K("FixStaleSocket", BW_CONF_BOOL, 0, "yes", 0, 0, fix_stale_socket,
      "remove a LocalSocket left by a daemon that died (only if nothing answers on it)"),
    K("MaxConnectionQueueLength", BW_CONF_UINT, 0, "200", 1, 65535, backlog,
      "listen backlog of the clamd sockets"),
    K("MaxQueue", BW_CONF_UINT, 0, "100", 1, 1000000, max_queue,
      "clamd connections a worker holds open; at it the worker stops accepting until one closes "
      "(the rest wait in the listen queue for any worker with room)"),
    K("StreamMaxLength", BW_CONF_SIZE, 0, "100M", 1, 0x7fffffffffffLL, stream_max,
      "INSTREAM data beyond this gets 'INSTREAM size limit exceeded. ERROR' and the connection closes"),
    K("CommandReadTimeout", BW_CONF_DURATION, 0, "30s", 100, 86400000, command_timeout_ms,
      "time to receive the first command from the connection, and any later command from its "
      "first byte, however slowly it trickles in (a plain number is seconds); then 'COMMAND READ TIMED OUT'"),
    K("ReadTimeout", BW_CONF_DURATION, 0, "120s", 100, 86400000, read_timeout_ms,
      "time to receive a later command or the next INSTREAM data"),
    K("MaxCommandLength", BW_CONF_UINT, 0, "4104", 64, 65536, max_line,
      "longest command line; a longer one closes the connection (clamd's buffer: PATH_MAX + 8)"),
    K("MaxSessionJobs", BW_CONF_UINT, 0, "64", 1, 4096, max_session_jobs,
      "IDSESSION commands in flight per connection; past it the connection is read no further until one ends"),
    {"clamd", "EnableShutdownCommand", BW_CONF_ENUM, 0, "local", 0, 0, OFF(enable_shutdown),
     enable_words, NULL, NULL, 0, NULL,
     "SHUTDOWN (and QUIT) stop bulwarkd: yes, no, or local (only over LocalSocket)"},
    {"clamd", "EnableReloadCommand", BW_CONF_ENUM, 0, "yes", 0, 0, OFF(enable_reload), enable_words,
     NULL, NULL, 0, NULL, "RELOAD reloads the databases: yes, no, or local (only over LocalSocket)"},
    K("AllowAllMatchScan", BW_CONF_BOOL, 0, "yes", 0, 0, allow_allmatch,
      "permit the ALLMATCHSCAN command"),
    K("MaxScanSize", BW_CONF_SIZE, 0, "400M", 0, 0, max_scan_size,
      "bytes scanned per object, unpacked members included"),
    K("MaxFileSize", BW_CONF_SIZE, 0, "100M", 0, 0, max_file_size,
      "largest single (inner) file scanned"),
    K("MaxRecursion", BW_CONF_UINT, 0, "17", 0, 64, max_recursion, "container recursion depth"),
    K("MaxFiles", BW_CONF_UINT, 0, "10000", 0, 1000000, max_files, "members scanned per container"),
    {"clamd", "MaxScanTime", BW_CONF_CUSTOM, 0, "120000", 0, 0, OFF(max_scan_time_ms), NULL,
     parse_ms, NULL, sizeof(uint64_t), NULL,
     "scan time per object in milliseconds as in clamd.conf (or with a unit: 30s; 0: no limit)"},
    K("ScanArchive", BW_CONF_BOOL, 0, "yes", 0, 0, scan_archive,
      "open archives and compressed streams"),
    K("AlertEncrypted", BW_CONF_BOOL, 0, "no", 0, 0, alert_encrypted,
      "report encrypted archives as Heuristics.Encrypted.* FOUND (else OK, as clamd)"),
    K("AlertExceedsMax", BW_CONF_BOOL, 0, "no", 0, 0, alert_exceeds_max,
      "report objects past a limit as Heuristics.Limits.Exceeded.* FOUND (else OK, as clamd)"),
    K("AlertBroken", BW_CONF_BOOL, 0, "no", 0, 0, alert_broken,
      "report CORRUPTED objects (broken containers, CORR- test files) as FOUND (else OK)"),
    K("ScanPathAllow", BW_CONF_PATH, BW_CONF_REPEATABLE, NULL, 1, 4096, scan_allow,
      "directory tree that TCP clients may SCAN (repeatable; none: TCP clients scan no path)"),
    K("LocalScanPathAllow", BW_CONF_PATH, BW_CONF_REPEATABLE, "/", 1, 4096, local_allow,
      "directory tree that LocalSocket clients may SCAN (repeatable; default: everything)"),
    K("MaxDirectoryRecursion", BW_CONF_UINT, 0, "15", 0, 256, max_dir_recursion,
      "directory depth a SCAN of a tree descends to"),
};

static int check(const void *conf, const char *group, bw_err_t *err)
{
    (void)group;
    const bw_clamd_conf_t *cc = conf;
    if (cc->tcp_addr.n && !cc->tcp_port)
        return bw_err_set(err, "[clamd] TCPAddr is set but TCPSocket (the port) is not");
    for (size_t i = 0; i < cc->scan_allow.n; i++)
        if (BW_CONF_LIST_AT(&cc->scan_allow, char *, i)[0] != '/')
            return bw_err_set(err, "[clamd] ScanPathAllow %s: must be an absolute path",
                              BW_CONF_LIST_AT(&cc->scan_allow, char *, i));
    return BW_OK;
}

const bw_conf_table_t bw_clamd_conf_table = {
    "clamd", sizeof(bw_clamd_conf_t), keys, BW_CONF_NKEYS(keys), NULL, check,
};

int bw_clamd_conf_enabled(const bw_clamd_conf_t *cc)
{
    return cc && (cc->tcp_port || (cc->local_socket && cc->local_socket[0]));
}
