/* SPDX-License-Identifier: Apache-2.0 */
/* The [events] key table (events-conf.h). */
#include "events/events-conf.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bulwark/core.h"

#define OFF(f) offsetof(bw_events_conf_t, f)
#define SEC "events"

static const bw_conf_enum_t format_words[] = {
    {"rfc5424", BW_EVOUT_FMT_RFC5424}, {"cef", BW_EVOUT_FMT_CEF}, {NULL, 0},
};

static const bw_conf_enum_t facility_words[] = {
    {"kern", 0}, {"user", 1}, {"mail", 2}, {"daemon", 3}, {"auth", 4}, {"syslog", 5},
    {"lpr", 6}, {"news", 7}, {"uucp", 8}, {"cron", 9}, {"authpriv", 10}, {"ftp", 11},
    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19}, {"local4", 20},
    {"local5", 21}, {"local6", 22}, {"local7", 23}, {NULL, 0},
};

int bw_events_parse_target(const char *t, char *proto, size_t proto_len, char *host,
                           size_t host_len, char *port, size_t port_len, bw_err_t *err)
{
    const char *sep = strstr(t, "://");
    if (!sep || (size_t)(sep - t) != 3 ||
        (strncasecmp(t, "udp", 3) && strncasecmp(t, "tcp", 3) && strncasecmp(t, "tls", 3)))
        return bw_err_set(err, "SyslogTarget: '%.80s' is not udp://HOST:PORT, tcp://HOST:PORT "
                          "or tls://HOST:PORT", t);
    snprintf(proto, proto_len, "%.3s", t);
    for (char *p = proto; *p; p++)
        *p = (char)(*p | 0x20);
    const char *h = sep + 3, *colon, *hend;
    if (*h == '[') { /* [IPv6]:port */
        hend = strchr(h, ']');
        if (!hend || hend[1] != ':')
            return bw_err_set(err, "SyslogTarget: '%.80s': [IPv6 address]:PORT expected", t);
        h++;
        colon = hend + 1;
    } else {
        colon = strrchr(h, ':');
        hend = colon;
    }
    if (!colon || hend == h || !colon[1])
        return bw_err_set(err, "SyslogTarget: '%.80s': HOST:PORT expected", t);
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return bw_err_set(err, "SyslogTarget: '%.80s': the port is not a number", t);
    if ((size_t)(hend - h) >= host_len || strlen(colon + 1) >= port_len ||
        strtol(colon + 1, NULL, 10) < 1 || strtol(colon + 1, NULL, 10) > 65535)
        return bw_err_set(err, "SyslogTarget: '%.80s': host too long or port out of 1..65535", t);
    snprintf(host, host_len, "%.*s", (int)(hend - h), h);
    snprintf(port, port_len, "%s", colon + 1);
    return BW_OK;
}

static int events_check(const void *conf, const char *group, bw_err_t *err)
{
    const bw_events_conf_t *c = conf;
    (void)group;
    if (c->syslog_target && c->syslog_target[0]) {
        char p[8], h[256], port[8];
        if (bw_events_parse_target(c->syslog_target, p, sizeof p, h, sizeof h, port, sizeof port,
                                   err))
            return BW_ERR;
    }
    if (c->node_name)
        for (const char *p = c->node_name; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f)
                return bw_err_set(err, "NodeName: blank or control character at byte %zu",
                                  (size_t)(p - c->node_name));
    if (c->enable && !(c->spool_dir && c->spool_dir[0]))
        return bw_err_set(err, "Enable = yes needs a SpoolDirectory");
    return BW_OK;
}

static const bw_conf_key_t keys[] = {
    {SEC, "Enable", BW_CONF_BOOL, 0, "yes", 0, 0, OFF(enable), NULL, NULL, NULL, 0, NULL,
     "write events (detections, quarantine, updates, reloads; docs/events.md) to the spool "
     "for the console and the outputs below; the report log is written either way"},
    {SEC, "NodeName", BW_CONF_STRING, 0, "", 0, 255, OFF(node_name), NULL, NULL, NULL, 0, NULL,
     "the node's name in every event (empty: the host name)"},
    {SEC, "SpoolDirectory", BW_CONF_PATH, 0, "/var/lib/bulwark/events", 0, 4096, OFF(spool_dir),
     NULL, NULL, NULL, 0, NULL,
     "the durable spool: one segment file per process, cursors of the readers"},
    {SEC, "MaxSpoolSize", BW_CONF_SIZE, 0, "256M", 65536, (int64_t)1 << 40, OFF(max_spool_size),
     NULL, NULL, NULL, 0, NULL,
     "bound of the spool; when over it the oldest events are dropped, counted (the "
     "`dropped` file) and reported by an events.dropped event"},
    {SEC, "SegmentSize", BW_CONF_SIZE, 0, "16M", 4096, (int64_t)1 << 32, OFF(segment_size), NULL,
     NULL, NULL, 0, NULL,
     "a process's segment file is rolled at this size (at most MaxSpoolSize/8)"},
    {SEC, "Clean", BW_CONF_BOOL, 0, "no", 0, 0, OFF(clean), NULL, NULL, NULL, 0, NULL,
     "also a `scan` event for every clean object (many events: a busy proxy scans thousands "
     "a second)"},
    {SEC, "SyncInterval", BW_CONF_DURATION, 0, "1s", 0, 3600000, OFF(sync_interval_ms), NULL,
     NULL, NULL, 0, NULL,
     "how often a background thread fdatasyncs the spool: a power loss loses at most this "
     "much (0: after every event, slow); a process crash loses nothing"},
    {SEC, "SyslogTarget", BW_CONF_STRING, 0, "", 0, 300, OFF(syslog_target), NULL, NULL, NULL, 0,
     NULL, "send events to syslog: udp://HOST:PORT, tcp://HOST:PORT (RFC 6587 octet counting) "
     "or tls://HOST:PORT (RFC 5425) (empty: no syslog output)"},
    {SEC, "SyslogCAFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(syslog_ca_file), NULL, NULL, NULL, 0,
     NULL, "CA certificates (PEM) the tls:// syslog server is checked against (empty: the "
     "system's)"},
    {SEC, "SyslogFacility", BW_CONF_ENUM, 0, "local0", 0, 0, OFF(syslog_facility),
     facility_words, NULL, NULL, 0, NULL, "the syslog facility of the events"},
    {SEC, "SyslogFormat", BW_CONF_ENUM, 0, "rfc5424", 0, 0, OFF(syslog_format), format_words,
     NULL, NULL, 0, NULL, "the syslog message: rfc5424 (structured data and the event's JSON) "
     "or cef (an ArcSight CEF line)"},
    {SEC, "CefFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(cef_file), NULL, NULL, NULL, 0, NULL,
     "append events as CEF lines to this file (empty: none)"},
    {SEC, "JsonFile", BW_CONF_PATH, 0, "", 0, 4096, OFF(json_file), NULL, NULL, NULL, 0, NULL,
     "append events as JSON lines to this file (empty: none)"},
};

const bw_conf_table_t bw_events_conf_table = {
    "events", sizeof(bw_events_conf_t), keys, BW_CONF_NKEYS(keys), NULL, events_check,
};
