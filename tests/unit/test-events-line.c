/* SPDX-License-Identifier: Apache-2.0 */
/* The event line builder (bw_evline_*) against the jansson path it replaces
 * on the ICAP scan path: the same event built both ways must give the same
 * bytes (after the id and time, which differ per event and have fixed
 * widths), for hostile values too: quotes, backslashes, every control
 * character, DEL, '/', valid and invalid UTF-8 (overlong, surrogate, cut
 * short), a URL longer than the builder's stack buffer.  Also: the time
 * format with its cached second, and emit into a real spool. */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bulwark/core.h"
#include "events/event.h"
#include "events/evspool.h"
#include "t.h"

/* {"id":"<32 hex>","time":"<27>" */
#define PREFIX_LEN (7 + 32 + 10 + 27 + 1)

struct icap_ev {
    const char *type, *verdict, *action, *url, *ip, *user, *group, *method;
    const char *threats[3];
    size_t nthreats;
    int64_t size;
};

/* The old producer (icap-answer.c before the builder), verbatim in shape. */
static char *via_jansson(const struct icap_ev *e)
{
    json_t *ev = bw_event_new("icap", e->type, BW_SEV_INFO);
    bw_event_set_str(ev, "verdict", e->verdict);
    bw_event_set_str(ev, "action", e->action);
    for (size_t i = 0; i < e->nthreats; i++)
        bw_event_add_str(ev, "threats", e->threats[i]);
    json_t *o = bw_event_sub(ev, "object");
    bw_event_set_str(o, "url", e->url);
    bw_event_set_int(o, "size", e->size);
    json_t *cl = bw_event_sub(ev, "client");
    bw_event_set_str(cl, "ip", e->ip);
    bw_event_set_str(cl, "user", e->user);
    bw_event_set_str(cl, "group", e->group);
    bw_event_set_str(ev, "method", e->method);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    return s;
}

/* The new producer's shape (icap-answer.c emit_event). */
static char *via_line(const struct icap_ev *e)
{
    bw_evline_t l;
    bw_evline_begin(&l, "icap", e->type, BW_SEV_INFO);
    bw_evline_str(&l, "verdict", e->verdict);
    bw_evline_str(&l, "action", e->action);
    bool arr = false;
    for (size_t i = 0; i < e->nthreats; i++) {
        if (!e->threats[i])
            continue;
        if (!arr)
            bw_evline_arr(&l, "threats");
        arr = true;
        bw_evline_elem(&l, e->threats[i]);
    }
    if (arr)
        bw_evline_end(&l, ']');
    bw_evline_obj(&l, "object");
    bw_evline_str(&l, "url", e->url);
    bw_evline_int(&l, "size", e->size);
    bw_evline_end(&l, '}');
    bw_evline_obj(&l, "client");
    bw_evline_str(&l, "ip", e->ip);
    bw_evline_str(&l, "user", e->user);
    bw_evline_str(&l, "group", e->group);
    bw_evline_end(&l, '}');
    bw_evline_str(&l, "method", e->method);
    size_t len;
    const char *t = bw_evline_text(&l, &len);
    char *s = t ? strndup(t, len) : NULL;
    if (t && strlen(t) != len)
        s[0] = 'X'; /* a NUL inside: make the comparison fail */
    bw_evline_free(&l);
    return s;
}

static int same(const struct icap_ev *e)
{
    char *a = via_jansson(e), *b = via_line(e);
    int ok = a && b && strlen(a) > PREFIX_LEN && strlen(b) > PREFIX_LEN &&
             !strncmp(a, "{\"id\":\"", 7) && !strncmp(b, "{\"id\":\"", 7) &&
             !strcmp(a + PREFIX_LEN, b + PREFIX_LEN);
    if (!ok)
        fprintf(stderr, "  jansson: %s\n  line:    %s\n", a ? a : "(null)", b ? b : "(null)");
    /* and the line parses back with the values jansson holds */
    json_error_t je;
    json_t *j = b ? json_loads(b, 0, &je) : NULL;
    if (!j || strlen(json_string_value(json_object_get(j, "id"))) != 32)
        ok = 0;
    json_decref(j);
    free(a);
    free(b);
    return ok;
}

TEST(line_equals_jansson_for_plain_events)
{
    bw_event_set_node("node-1.example");
    struct icap_ev clean = {"scan", "CLEAN", "allow", "http://example.com/a/b.js?x=1&y=2",
                            "192.0.2.7", "alice", "default", "RESPMOD", {0}, 0, 15360};
    CHECK(same(&clean));
    struct icap_ev det = {"detection", "INFECTED", "deny", "http://example.com/eicar.com",
                          "2001:db8::1", NULL, "staff", "REQMOD",
                          {"Eicar-Test-Signature", "Second.Threat"}, 2, 68};
    CHECK(same(&det));
    struct icap_ev empty = {"scan", "CLEAN", "allow", "", "", "", "default", "OPTIONS",
                            {0}, 0, 0};
    CHECK(same(&empty)); /* empty strings are left out both ways */
    struct icap_ev nulls = {"detection", "ERROR", "skip", NULL, NULL, NULL, "default", NULL,
                            {NULL, "", "x"}, 3, -1};
    CHECK(same(&nulls)); /* a NULL threat skipped, an empty one kept */
    struct icap_ev allnull = {"detection", "ERROR", "skip", NULL, NULL, NULL, "default", NULL,
                              {NULL}, 1, INT64_MAX};
    CHECK(same(&allnull)); /* no array at all */
}

TEST(line_escapes_as_jansson_does)
{
    bw_event_set_node("node \"quoted\" \\ /slash");
    char ctl[40];
    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    ctl[31] = 0x7f;
    ctl[32] = '/';
    ctl[33] = 0;
    const char *vals[] = {
        "a\"b\\c/d", ctl, "<script>alert(1)</script>",
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",   /* valid 2-, 3-, 4-byte UTF-8 */
        "bad \xFF\xFE end",                             /* invalid bytes */
        "overlong \xC0\xAF and \xE0\x80\xAF",           /* overlongs */
        "surrogate \xED\xA0\x80 x",                     /* an encoded surrogate */
        "cut \xE2\x82",                                 /* truncated at the end */
        "\x01\xC3\xA9\"",                               /* control + UTF-8 + quote */
    };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        struct icap_ev e = {"detection", "INFECTED", "deny", vals[i], vals[i], vals[i], vals[i],
                            "RESPMOD", {vals[i], vals[i]}, 2, 1};
        if (!same(&e))
            fprintf(stderr, "  value %zu differs\n", i), t_failed_now = 1;
    }
    bw_event_set_node("node-1");
}

TEST(line_longer_than_its_stack_buffer)
{
    size_t n = 20000;
    char *url = malloc(n + 1), *ascii = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        url[i] = i % 97 == 0 ? '"' : i % 89 == 0 ? '\x02' : i % 83 == 0 ? '\xC3' : 'a';
        ascii[i] = i % 7 == 0 ? '\\' : 'b';
    }
    url[n] = ascii[n] = 0;
    struct icap_ev e = {"scan", "CLEAN", "allow", url, ascii, NULL, "default", "RESPMOD",
                        {0}, 0, 5};
    CHECK(same(&e));
    free(url);
    free(ascii);
}

TEST(time_format_with_the_cached_second)
{
    char t[28];
    for (int i = 0; i < 3; i++) {
        struct timespec before, after;
        clock_gettime(CLOCK_REALTIME, &before);
        bw_event_make_time(t);
        clock_gettime(CLOCK_REALTIME, &after);
        CHECK_EQ(strlen(t), 27);
        CHECK(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
              t[19] == '.' && t[26] == 'Z');
        /* the same instant as gmtime + strftime would write it */
        char want[32], want2[32];
        struct tm tm;
        gmtime_r(&before.tv_sec, &tm);
        strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
        gmtime_r(&after.tv_sec, &tm);
        strftime(want2, sizeof want2, "%Y-%m-%dT%H:%M:%S", &tm);
        CHECK(!strncmp(t, want, 19) || !strncmp(t, want2, 19));
        long us = strtol(t + 20, NULL, 10);
        CHECK(us >= 0 && us < 1000000);
        if (!strncmp(t, want, 19) && before.tv_sec == after.tv_sec)
            CHECK(us >= before.tv_nsec / 1000 && us <= after.tv_nsec / 1000);
        usleep(300000); /* across a second now and then: the cache must follow */
    }
}

TEST(line_emitted_into_the_spool)
{
    char dir[] = "/tmp/bw-evline-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    bw_events_conf_t c = {0};
    c.enable = true;
    c.clean = true;
    char node[] = "n1";
    c.spool_dir = dir;
    c.node_name = node;
    c.sync_interval_ms = UINT64_MAX;
    bw_err_t err;
    CHECK(bw_event_setup(&c, &err) == BW_OK);
    uint64_t before = bw_event_emitted();
    for (int i = 0; i < 3; i++) {
        bw_evline_t l;
        bw_evline_begin(&l, "icap", "scan", BW_SEV_INFO);
        bw_evline_str(&l, "verdict", "CLEAN");
        bw_evline_obj(&l, "object");
        bw_evline_int(&l, "size", i);
        bw_evline_end(&l, '}');
        bw_evline_emit(&l);
    }
    CHECK_EQ(bw_event_emitted() - before, 3);
    bw_event_shutdown();
    /* three lines, each a JSON object with its own id */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cat %s/seg-*.jsonl", dir);
    FILE *f = popen(cmd, "r");
    char line[1024], ids[3][40] = {{0}};
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        CHECK(j != NULL);
        if (j && n < 3) {
            snprintf(ids[n], sizeof ids[n], "%s", json_string_value(json_object_get(j, "id")));
            CHECK_STR(json_string_value(json_object_get(j, "node")), "n1");
            CHECK_EQ(json_integer_value(json_object_get(json_object_get(j, "object"), "size")), n);
        }
        json_decref(j);
        n++;
    }
    if (f)
        pclose(f);
    CHECK_EQ(n, 3);
    CHECK(strcmp(ids[0], ids[1]) && strcmp(ids[1], ids[2]) && strlen(ids[0]) == 32);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    (void)!system(cmd);
}

int main(void)
{
    return t_run();
}
