/* SPDX-License-Identifier: Apache-2.0 */
/* The event model (id, time, fields, UTF-8), CEF escaping and RFC 5424
 * formatting.  With arguments `pump CONF SECONDS` it is also the integration
 * test's stand-in for the shipper: it opens the outputs of CONF's [events]
 * and pumps until every output has delivered everything (exit 0) or SECONDS
 * pass (exit 1). */
#include <regex.h>
#include <unistd.h>

#include <jansson.h>

#include "app/schema.h"
#include "core/clock.h"
#include "core/conf.h"
#include "events/event.h"
#include "events/events-conf.h"
#include "events/evout.h"
#include "t.h"

static int matches(const char *s, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB))
        return 0;
    int m = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return m;
}

TEST(event_has_id_time_node_component_type_severity)
{
    bw_event_set_node("proxy-1");
    json_t *ev = bw_event_new("icap", "detection", BW_SEV_HIGH);
    json_t *ev2 = bw_event_new("icap", "detection", BW_SEV_HIGH);
    const char *id = json_string_value(json_object_get(ev, "id"));
    CHECK(id && matches(id, "^[0-9a-f]{32}$"));
    CHECK(strcmp(id, json_string_value(json_object_get(ev2, "id"))) != 0);
    const char *t = json_string_value(json_object_get(ev, "time"));
    CHECK(t && matches(t, "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6}Z$"));
    CHECK_STR(json_string_value(json_object_get(ev, "node")), "proxy-1");
    CHECK_STR(json_string_value(json_object_get(ev, "component")), "icap");
    CHECK_STR(json_string_value(json_object_get(ev, "type")), "detection");
    CHECK_STR(json_string_value(json_object_get(ev, "severity")), "high");
    json_decref(ev);
    json_decref(ev2);
    CHECK_STR(bw_event_severity_name(BW_SEV_INFO), "info");
    CHECK_STR(bw_event_severity_name(BW_SEV_CRITICAL), "critical");
}

TEST(fields_sub_objects_arrays_and_invalid_utf8)
{
    json_t *ev = bw_event_new("icap", "detection", BW_SEV_HIGH);
    bw_event_add_str(ev, "threats", "Eicar-Test-Signature");
    bw_event_add_str(ev, "threats", "Other");
    bw_event_set_str(bw_event_sub(ev, "object"), "url", "http://x/\xff\xfe<script>");
    bw_event_set_int(bw_event_sub(ev, "object"), "size", 68);
    bw_event_set_str(ev, "message", NULL); /* left out */
    bw_event_set_str(ev, "error", "");     /* left out */
    CHECK_EQ(json_array_size(json_object_get(ev, "threats")), 2);
    json_t *o = json_object_get(ev, "object");
    CHECK_STR(json_string_value(json_object_get(o, "url")), "http://x/\xEF\xBF\xBD\xEF\xBF\xBD<script>");
    CHECK_EQ(json_integer_value(json_object_get(o, "size")), 68);
    CHECK(!json_object_get(ev, "message") && !json_object_get(ev, "error"));
    json_decref(ev);
}

TEST(emit_without_setup_is_harmless)
{
    CHECK(!bw_event_enabled());
    bw_event_emit(bw_event_new("daemon", "daemon.started", BW_SEV_INFO));
    bw_event_emit(NULL);
    CHECK_EQ(bw_event_emitted(), 0);
}

static json_t *sample(void)
{
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:{s:s,s:i},s:{s:s,s:s,s:s},s:s}",
        "id", "5f0c9e0d6a3b4c1e9a7d2b8c4e6f1a2b", "time", "2026-12-08T02:16:18.123456Z",
        "node", "proxy 1", "component", "icap", "type", "detection", "severity", "high",
        "verdict", "INFECTED", "action", "deny", "threats", "Evil|Name\\x=y",
        "object", "url", "http://h/a=b|c\\d\r\ne]\"", "size", 68,
        "client", "ip", "10.0.0.5", "user", "alice", "group", "default", "method", "RESPMOD");
    return ev;
}

TEST(cef_escaping_and_fields)
{
    bw_buf_t b = {0};
    json_t *ev = sample();
    bw_evout_format_cef(&b, ev);
    bw_buf_append(&b, "", 1);
    CHECK_CONTAINS(b.p, "CEF:0|Bulwark|bulwarkd|");
    /* header: | and \ escaped */
    CHECK_CONTAINS(b.p, "|detection|Evil\\|Name\\\\x=y|8|");
    /* extension: = and \ escaped, newlines as \r \n, | left alone */
    CHECK_CONTAINS(b.p, " request=http://h/a\\=b|c\\\\d\\r\\ne]\"");
    CHECK_CONTAINS(b.p, "|8|rt=1796696178123 ");
    CHECK_CONTAINS(b.p, " dvchost=proxy 1");
    CHECK_CONTAINS(b.p, " src=10.0.0.5 suser=alice cs1Label=group cs1=default");
    CHECK_CONTAINS(b.p, " cs2Label=threats cs2=Evil|Name\\\\x\\=y");
    CHECK_CONTAINS(b.p, " fsize=68");
    CHECK_CONTAINS(b.p, " act=deny outcome=INFECTED");
    CHECK(!strchr(b.p, '\n'));
    json_decref(ev);
    bw_buf_free(&b);
}

TEST(rfc5424_header_structured_data_and_msg)
{
    bw_buf_t b = {0};
    json_t *ev = sample();
    bw_evout_format_5424(&b, ev, 16, BW_EVOUT_FMT_RFC5424);
    bw_buf_append(&b, "", 1);
    /* local0 (16) * 8 + err (3, "high") = 131; the blank in the node is '_' */
    CHECK(!strncmp(b.p, "<131>1 2026-12-08T02:16:18.123456Z proxy_1 bulwarkd - detection "
                        "[bulwark@32473 id=\"5f0c9e0d6a3b4c1e9a7d2b8c4e6f1a2b\"", 108));
    CHECK_CONTAINS(b.p, " threat=\"Evil|Name\\\\x=y\"");
    CHECK_CONTAINS(b.p, " url=\"http://h/a=b|c\\\\d\r\ne\\]\\\"\"");
    CHECK_CONTAINS(b.p, " client=\"10.0.0.5\" user=\"alice\"] {\"id\":");
    json_t *back = json_loads(strstr(b.p, "] {") + 2, 0, NULL);
    CHECK(json_equal(back, ev));
    json_decref(back);
    bw_buf_reset(&b);
    bw_evout_format_5424(&b, ev, 1, BW_EVOUT_FMT_CEF);
    bw_buf_append(&b, "", 1);
    CHECK(!strncmp(b.p, "<11>1 ", 6));
    CHECK_CONTAINS(b.p, "] CEF:0|Bulwark|");
    json_decref(ev);
    bw_buf_free(&b);
}

TEST(syslog_target_parsing)
{
    char p[8], h[256], port[8];
    bw_err_t err;
    CHECK(bw_events_parse_target("tls://siem.example.org:6514", p, 8, h, 256, port, 8, &err) == 0);
    CHECK_STR(p, "tls");
    CHECK_STR(h, "siem.example.org");
    CHECK_STR(port, "6514");
    CHECK(bw_events_parse_target("udp://[::1]:514", p, 8, h, 256, port, 8, &err) == 0);
    CHECK_STR(h, "::1");
    CHECK(bw_events_parse_target("http://x:1", p, 8, h, 256, port, 8, &err) != 0);
    CHECK(bw_events_parse_target("tcp://x", p, 8, h, 256, port, 8, &err) != 0);
    CHECK(bw_events_parse_target("tcp://x:99999", p, 8, h, 256, port, 8, &err) != 0);
    CHECK(bw_events_parse_target("tcp://:514", p, 8, h, 256, port, 8, &err) != 0);
}

static int pump(const char *conf, int seconds)
{
    bw_conf_state_t *st;
    bw_err_t err = {{0}};
    if (bw_conf_load(&bw_app_schema, conf, &st, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    const bw_events_conf_t *ec = bw_conf_get(st, &bw_events_conf_table, NULL);
    bw_evout_t *o;
    if (bw_evout_open(ec, &o, &err) || !o) {
        fprintf(stderr, "evout: %s\n", err.msg[0] ? err.msg : "no output configured");
        return 2;
    }
    uint64_t end = bw_clock_ms() + (uint64_t)seconds * 1000;
    int rc = 1;
    while (bw_clock_ms() < end) {
        uint64_t wait = bw_evout_pump(o, bw_clock_ms());
        if (bw_evout_backlog(o) == 0) {
            rc = 0;
            break;
        }
        usleep((useconds_t)(wait > 200 ? 200 : wait) * 1000);
    }
    bw_evout_close(o);
    bw_conf_free(st);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "pump"))
        return pump(argv[2], atoi(argv[3]));
    return t_run();
}
