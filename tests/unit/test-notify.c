/* SPDX-License-Identifier: Apache-2.0 */
/* Notifications: the script channel (environment, timeout kill, failures,
 * the concurrency and queue bounds), the webhook against a receiver in a
 * thread of this test (JSON body, refused port, hanging peer, HTTP error),
 * mail (the message's format and header-injection safety, checked with
 * Python's email parser; delivery to an SMTP responder in a thread; a
 * hanging server, a refused recipient, the queue bounds), JSON escaping,
 * the configuration keys, and a bounded shutdown.  Every test runs a real
 * uv loop and measures that it never stalls. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "icap/icap-conf.h"
#include "policy/notify.h"
#include "t.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmpdir[256];

static void mk_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/bw-notify-XXXXXX");
        if (!mkdtemp(tmpdir))
            abort();
    }
}

/* Writes an executable shell script; returns its path (static buffer per call site). */
static void write_script(char *path, size_t len, const char *name, const char *body)
{
    mk_tmpdir();
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

typedef struct logcap {
    char text[8192];
    int n;
} logcap_t;

static void cap_log(void *ud, int level, const char *msg)
{
    logcap_t *c = ud;
    size_t l = strlen(c->text);
    snprintf(c->text + l, sizeof c->text - l, "%d %s\n", level, msg);
    c->n++;
}

/* Runs the loop until cond() holds or max_ms pass; a 10 ms ticker records
 * the largest gap between ticks, which is how long the loop was blocked. */
typedef bool (*cond_fn)(bw_notifier_t *n);
static uint64_t max_gap_ms, last_tick;
static cond_fn cur_cond;
static bw_notifier_t *cur_n;
static bool cond_met;

static void on_tick(uv_timer_t *t)
{
    uint64_t now = uv_hrtime() / 1000000;
    if (last_tick && now - last_tick > max_gap_ms)
        max_gap_ms = now - last_tick;
    last_tick = now;
    if (cur_cond && cur_cond(cur_n)) {
        cond_met = true;
        uv_stop(t->loop);
    }
}

static void on_deadline(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static bool run_until(uv_loop_t *loop, bw_notifier_t *n, cond_fn c, uint64_t max_ms)
{
    uv_timer_t tick, dl;
    uv_timer_init(loop, &tick);
    uv_timer_init(loop, &dl);
    cur_cond = c;
    cur_n = n;
    cond_met = false;
    last_tick = 0;
    uv_timer_start(&tick, on_tick, 0, 10);
    uv_timer_start(&dl, on_deadline, max_ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&dl, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    cur_cond = NULL;
    return cond_met;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

static bw_notify_conf_t base_conf(void)
{
    bw_notify_conf_t c = {.script = NULL, .script_timeout_ms = 5000, .max_running = 4,
                          .max_queued = 100, .webhook_url = NULL, .webhook_timeout_ms = 2000};
    return c;
}

static bw_notify_stats_t stats(bw_notifier_t *n)
{
    bw_notify_stats_t s;
    bw_notifier_stats(n, &s);
    return s;
}

static bool script_idle(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.script_running == 0 && s.script_queued == 0 && s.script_runs + s.script_failures > 0;
}

static bool hook_idle(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.webhook_running == 0 && s.webhook_queued == 0 &&
           s.webhook_posts + s.webhook_failures > 0;
}

static bool timed_out(bw_notifier_t *n)
{
    return stats(n).script_timeouts > 0;
}

static const bw_event_t sample = {
    .status = "INFECTED", .threat = "EICAR-Test-File", .url = "http://example.com/eicar.com",
    .client_ip = "10.1.2.3", .user = "alice", .group = "kids", .action = "deny",
    .method = "RESPMOD", .size = 68, .time = 1700000000,
};

/* Whether the process is gone (or a zombie nobody has reaped yet). */
static bool process_gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        if (kill(pid, 0) && errno == ESRCH)
            return true;
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
        char *st = slurp(p, NULL);
        bool zombie = st && strstr(st, ") Z ");
        free(st);
        if (zombie)
            return true;
        usleep(10000);
    }
    return false;
}

/* Checks with python3 that `json` is strict UTF-8 JSON and that evaluating
 * `expr` over it (as d) prints `want`. */
static bool py_json(const char *json, const char *expr, const char *want)
{
    mk_tmpdir();
    char jp[300], cmd[1024];
    snprintf(jp, sizeof jp, "%s/doc.json", tmpdir);
    FILE *f = fopen(jp, "wb");
    fputs(json, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1],encoding=\"utf-8\"));"
             " sys.stdout.write(ascii(%s))' %s",
             expr, jp);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    if (rc || strcmp(out, want)) {
        fprintf(stderr, "  python: %s gave [%s] (rc %d), want [%s]\n", expr, out, rc, want);
        return false;
    }
    return true;
}

/* ---- JSON ----------------------------------------------------------------- */

TEST(json_fields_and_nulls)
{
    bw_event_t ev = sample;
    ev.user = NULL;
    char *j = bw_event_json(&ev);
    CHECK_STR(j, "{\"status\":\"INFECTED\",\"threat\":\"EICAR-Test-File\","
                 "\"url\":\"http://example.com/eicar.com\",\"client_ip\":\"10.1.2.3\","
                 "\"user\":null,\"group\":\"kids\",\"action\":\"deny\",\"method\":\"RESPMOD\","
                 "\"size\":68,\"time\":1700000000}");
    CHECK(py_json(j, "[d[\"user\"], d[\"size\"], d[\"status\"]]", "[None, 68, 'INFECTED']"));
    free(j);
}

TEST(json_escapes_odd_bytes)
{
    bw_event_t ev = sample;
    /* quote, backslash, controls, DEL, a lone continuation byte, an
     * overlong NUL, a surrogate, a truncated sequence, valid 2/3/4-byte
     * UTF-8 and U+2028. */
    ev.url = "a\"b\\c\n\r\t\x01\x1f\x7f|\x80|\xc0\x80|\xed\xa0\x80|\xe2\x82|"
             "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xe2\x80\xa8";
    ev.threat = "\xff\xfe";
    char *j = bw_event_json(&ev);
    CHECK_CONTAINS(j, "\"url\":\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\u007f|\\ufffd|"
                      "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
                      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\u2028\"");
    CHECK_CONTAINS(j, "\"threat\":\"\\ufffd\\ufffd\"");
    CHECK(py_json(j, "d[\"url\"]",
                  "'a\"b\\\\c\\n\\r\\t\\x01\\x1f\\x7f|\\ufffd|\\ufffd\\ufffd|"
                  "\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|\\xe9\\u20ac\\U0001f600|\\u2028'"));
    free(j);
}

TEST(json_every_byte_value_is_valid)
{
    /* All 255 non-NUL byte values, plus every 2-byte pair starting with a
     * lead byte: the result must always parse as strict UTF-8 JSON. */
    char all[256 + 3 * 64 * 2 + 1];
    size_t k = 0;
    for (int c = 1; c < 256; c++)
        all[k++] = (char)c;
    for (int c = 0xC0; c < 0x100; c++) {
        all[k++] = (char)c;
        all[k++] = (char)(0x80 + (c & 0x3f));
    }
    all[k] = '\0';
    bw_event_t ev = {.url = all};
    char *j = bw_event_json(&ev);
    CHECK(j != NULL);
    CHECK(py_json(j, "len(d[\"url\"]) > 300", "True"));
    free(j);
}

/* ---- configuration --------------------------------------------------------- */

static const bw_conf_table_t *const tables[] = {&bw_icap_conf_table, &bw_notify_conf_table};
static const bw_conf_schema_t schema = {tables, 2};

TEST(conf_defaults_and_shared_section)
{
    bw_err_t err = {{0}};
    CHECK_EQ(bw_conf_schema_check(&schema, &err), BW_OK);
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/bulwark/bulwark.conf", "", 0, &st, &err), BW_OK);
    const bw_notify_conf_t *c = st ? bw_conf_get(st, &bw_notify_conf_table, NULL) : NULL;
    CHECK(c != NULL);
    if (c) {
        CHECK(!c->script || !c->script[0]);
        CHECK(!c->webhook_url || !c->webhook_url[0]);
        CHECK_EQ(c->script_timeout_ms, 10000);
        CHECK_EQ(c->webhook_timeout_ms, 5000);
        CHECK_EQ(c->max_running, 4);
        CHECK_EQ(c->max_queued, 100);
    }
    bw_conf_free(st);

    /* Two tables' keys in one [icapserver.notify] section. */
    const char *text = "[icapserver.notify]\nNotifyTemplateDir = /tmp\nNotifyScript = /bin/true\n"
                       "NotifyMaxConcurrent = 2\nWebhookUrl = http://127.0.0.1:9/hook\n"
                       "WebhookTimeout = 250ms\n";
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", text, strlen(text), &st, &err), BW_OK);
    if (st) {
        c = bw_conf_get(st, &bw_notify_conf_table, NULL);
        const bw_icap_conf_t *ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
        CHECK_STR(c->script, "/bin/true");
        CHECK_STR(c->webhook_url, "http://127.0.0.1:9/hook");
        CHECK_EQ(c->max_running, 2);
        CHECK_EQ(c->webhook_timeout_ms, 250);
        CHECK_STR(ic->template_dir, "/tmp");
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    bw_conf_free(st);
}

static void conf_fails(const char *text, const char *want)
{
    bw_err_t err = {{0}};
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", text, strlen(text), &st, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, want);
    bw_conf_free(st);
}

TEST(conf_errors)
{
    conf_fails("[icapserver.notify]\nWebhookUrl = ftp://x/y\n", "WebhookUrl");
    conf_fails("[icapserver.notify]\nWebhookUrl = http://\n", "not an http");
    conf_fails("[icapserver.notify]\nNotifyScript = /nonexistent/script\n",
               "/nonexistent/script is not an executable file");
    conf_fails("[icapserver.notify]\nNotifyScript = /etc/passwd\n", "not an executable");
    conf_fails("[icapserver.notify]\nNotifyMaxConcurrent = 0\n", "b.conf:2: NotifyMaxConcurrent");
    conf_fails("[icapserver.notify]\nNotifyScriptTimeout = 1ms\n", "NotifyScriptTimeout");
    conf_fails("[icapserver.notify:kids]\nNotifyScript = /bin/true\n", "no per-group keys");
}

/* ---- the script ------------------------------------------------------------- */

TEST(script_gets_environment_intact)
{
    char script[300], out[300];
    mk_tmpdir();
    snprintf(out, sizeof out, "%s/env.out", tmpdir);
    char body[600];
    snprintf(body, sizeof body, "exec /usr/bin/env -0 > '%s'", out);
    write_script(script, sizeof script, "env.sh", body);

    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = script;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_event_t ev = sample;
    ev.url = "http://x/?q=\"it's\"&r=$(rm -rf /)`id`\nline2\\ ; echo pwned";
    ev.threat = "Trojan.Win32 \"quoted\" 'single'";
    ev.user = NULL;
    ev.size = 18446744073709551615ull;
    ev.time = -5;
    bw_notify(n, &ev);
    CHECK(run_until(&loop, n, script_idle, 5000));
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.script_runs, 1);
    CHECK_EQ(s.script_failures, 0);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    CHECK_EQ(lc.n, 0);

    size_t len = 0;
    char *env = slurp(out, &len);
    CHECK(env != NULL);
    int seen = 0, others = 0;
    const char *want[][2] = {
        {"BULWARK_STATUS", "INFECTED"},   {"BULWARK_THREAT", ev.threat},
        {"BULWARK_URL", ev.url},          {"BULWARK_CLIENT_IP", "10.1.2.3"},
        {"BULWARK_USER", ""},             {"BULWARK_GROUP", "kids"},
        {"BULWARK_ACTION", "deny"},       {"BULWARK_METHOD", "RESPMOD"},
        {"BULWARK_SIZE", "18446744073709551615"}, {"BULWARK_TIME", "-5"},
    };
    for (size_t off = 0; env && off < len;) {
        const char *e = env + off;
        off += strlen(e) + 1;
        const char *eq = strchr(e, '=');
        if (!eq)
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            if (strlen(want[i][0]) == (size_t)(eq - e) && !strncmp(e, want[i][0], (size_t)(eq - e))) {
                CHECK_STR(eq + 1, want[i][1]);
                seen |= 1 << i;
                known = true;
            }
        if (!strncmp(e, "PATH=", 5)) {
            seen |= 1 << 10;
            known = true;
        }
        /* The shell may add its own; nothing of ours may leak (HOME, ...). */
        if (!known && strncmp(e, "PWD=", 4) && strncmp(e, "SHLVL=", 6) && strncmp(e, "_=", 2)) {
            fprintf(stderr, "  unexpected variable %s\n", e);
            others++;
        }
    }
    CHECK_EQ(seen, (1 << 11) - 1);
    CHECK_EQ(others, 0);
    free(env);
}

TEST(script_hang_is_killed_and_loop_not_blocked)
{
    char script[300], pidf[300];
    mk_tmpdir();
    snprintf(pidf, sizeof pidf, "%s/hang.pid", tmpdir);
    char body[600];
    /* A child that would outlive a kill of the shell alone. */
    snprintf(body, sizeof body, "sleep 30 &\necho $! > '%s'\nwait", pidf);
    write_script(script, sizeof script, "hang.sh", body);
    unlink(pidf);

    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = script;
    c.script_timeout_ms = 300;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    bw_notify(n, &sample);
    uint64_t call_ms = now_ms() - t0;
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, timed_out, 5000));
    uint64_t took = now_ms() - t0;
    CHECK(took >= 280 && took < 2000);
    CHECK(call_ms < 100);
    CHECK(max_gap_ms < 250);
    CHECK(run_until(&loop, n, script_idle, 2000));
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.script_runs, 1);
    CHECK_EQ(s.script_timeouts, 1);
    CHECK_EQ(s.script_failures, 0);
    CHECK_CONTAINS(lc.text, "killed after");
    CHECK_CONTAINS(lc.text, "NotifyScriptTimeout");
    char *pid = slurp(pidf, NULL);
    CHECK(pid != NULL);
    if (pid)
        CHECK(process_gone((pid_t)atoi(pid)));
    free(pid);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    fprintf(stderr, "  # hang: killed after %llu ms, largest loop gap %llu ms\n",
            (unsigned long long)took, (unsigned long long)max_gap_ms);
}

TEST(script_failures_counted)
{
    char bad[300], noexec[300];
    write_script(bad, sizeof bad, "fail.sh", "exit 3");
    write_script(noexec, sizeof noexec, "noexec.sh", "exit 0");
    chmod(noexec, 0644);
    const char *paths[] = {bad, noexec, "/nonexistent/notify.sh"};
    const char *msgs[] = {"exit status 3", "cannot start", "cannot start"};
    for (int i = 0; i < 3; i++) {
        uv_loop_t loop;
        uv_loop_init(&loop);
        bw_notify_conf_t c = base_conf();
        c.script = (char *)paths[i];
        bw_notifier_t *n = bw_notifier_new(&loop, &c);
        logcap_t lc = {{0}, 0};
        bw_notifier_set_log(n, cap_log, &lc);
        bw_notify(n, &sample);
        bw_notify(n, &sample);
        CHECK(run_until(&loop, n, script_idle, 5000));
        bw_notify_stats_t s = stats(n);
        CHECK_EQ(s.script_failures, 2);
        CHECK_EQ(s.script_runs, i == 0 ? 2 : 0);
        CHECK_EQ(s.script_timeouts, 0);
        CHECK_CONTAINS(lc.text, msgs[i]);
        CHECK_CONTAINS(lc.text, paths[i]);
        bw_notifier_free(n);
        CHECK_EQ(uv_loop_close(&loop), 0);
    }
}

static bool seven_done(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.script_runs == 7 && s.script_running == 0;
}

TEST(script_concurrency_and_queue_bounds)
{
    char script[300], dir[300], counts[300];
    mk_tmpdir();
    snprintf(dir, sizeof dir, "%s/running", tmpdir);
    snprintf(counts, sizeof counts, "%s/counts", tmpdir);
    mkdir(dir, 0755);
    unlink(counts);
    char body[1600];
    /* Each run registers itself, records how many run now, and leaves. */
    snprintf(body, sizeof body,
             "touch '%s'/$$\nls '%s' | wc -l >> '%s'\nsleep 0.3\nrm -f '%s'/$$", dir, dir, counts,
             dir);
    write_script(script, sizeof script, "slow.sh", body);

    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = script;
    c.max_running = 2;
    c.max_queued = 5;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 10; i++)
        bw_notify(n, &sample);
    CHECK(now_ms() - t0 < 500);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.script_running, 2);
    CHECK_EQ(s.script_queued, 5);
    CHECK_EQ(s.dropped, 3);
    CHECK_CONTAINS(lc.text, "queue full");
    CHECK_EQ(lc.n, 1); /* one message for the burst, not one per drop */
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, seven_done, 10000));
    uint64_t took = now_ms() - t0;
    CHECK(took >= 4 * 300 - 50); /* 7 runs two at a time: four rounds */
    CHECK(max_gap_ms < 250);
    s = stats(n);
    CHECK_EQ(s.script_runs, 7);
    CHECK_EQ(s.script_failures, 0);
    CHECK_EQ(s.dropped, 3);
    char *cs = slurp(counts, NULL);
    int lines = 0, maxc = 0;
    for (char *p = cs; p && *p;) {
        int v = atoi(p);
        if (v > maxc)
            maxc = v;
        lines++;
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    CHECK_EQ(lines, 7);
    CHECK(maxc >= 1 && maxc <= 2);
    free(cs);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(free_is_bounded_and_kills_running_scripts)
{
    char script[300], pidf[300];
    mk_tmpdir();
    snprintf(pidf, sizeof pidf, "%s/free.pid", tmpdir);
    char body[600];
    snprintf(body, sizeof body, "echo $$ > '%s'\nexec sleep 30", pidf);
    write_script(script, sizeof script, "free.sh", body);
    unlink(pidf);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = script;
    c.script_timeout_ms = 400;
    c.webhook_timeout_ms = 200;
    c.max_running = 1;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_notify(n, &sample);
    bw_notify(n, &sample); /* queued: dropped at shutdown */
    run_until(&loop, n, NULL, 100);
    uint64_t t0 = now_ms();
    bw_notifier_free(n);
    uint64_t took = now_ms() - t0;
    CHECK(took < 2000);
    CHECK_CONTAINS(lc.text, "dropped 1 queued");
    char *pid = slurp(pidf, NULL);
    CHECK(pid != NULL);
    if (pid)
        CHECK(process_gone((pid_t)atoi(pid)));
    free(pid);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(close_from_inside_a_callback)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = "/bin/true";
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    bw_notify(n, &sample);
    bw_notifier_close(n); /* no waiting: frees itself when /bin/true exits */
    uint64_t t0 = now_ms();
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once the notifier's handles are gone */
    CHECK(now_ms() - t0 < 2000);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(nothing_configured_is_a_noop)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.script = "";
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    CHECK(n != NULL);
    bw_notify(n, &sample);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.script_runs + s.script_failures + s.webhook_posts + s.webhook_failures + s.dropped,
             0);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

/* ---- the webhook: a receiver in a thread ---------------------------------- */

enum { RX_OK, RX_500, RX_HANG };

typedef struct rx {
    int lfd, port, mode;
    pthread_t th;
    pthread_mutex_t mu;
    int nreq;
    char heads[8][2048];
    char bodies[8][4096];
    int hung[16], nhung;
    volatile int stop;
} rx_t;

static void *rx_main(void *arg)
{
    rx_t *r = arg;
    while (!r->stop) {
        struct pollfd pf = {r->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char buf[8192];
        size_t got = 0;
        char *hend = NULL;
        long clen = -1;
        for (int spins = 0; spins < 200 && got < sizeof buf - 1; spins++) {
            struct pollfd cp = {fd, POLLIN, 0};
            if (poll(&cp, 1, 20) <= 0)
                continue;
            ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            buf[got] = '\0';
            hend = strstr(buf, "\r\n\r\n");
            if (hend && clen < 0) {
                char *cl = strcasestr(buf, "\r\nContent-Length:");
                clen = cl && cl < hend ? strtol(cl + 17, NULL, 10) : 0;
            }
            if (hend && (size_t)(hend + 4 - buf) + (size_t)clen <= got)
                break;
        }
        pthread_mutex_lock(&r->mu);
        if (hend && r->nreq < 8) {
            size_t hl = (size_t)(hend - buf);
            snprintf(r->heads[r->nreq], sizeof r->heads[0], "%.*s", (int)hl, buf);
            snprintf(r->bodies[r->nreq], sizeof r->bodies[0], "%s", hend + 4);
            r->nreq++;
        }
        pthread_mutex_unlock(&r->mu);
        if (r->mode == RX_HANG && r->nhung < 16) {
            r->hung[r->nhung++] = fd; /* never answer; closed at the end */
            continue;
        }
        const char *ans = r->mode == RX_OK
                              ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                              : "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ssize_t w = write(fd, ans, strlen(ans));
        (void)w;
        close(fd);
    }
    return NULL;
}

static int listen_local(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &al))
        abort();
    *port = ntohs(a.sin_port);
    return fd;
}

static void rx_start(rx_t *r, int mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->lfd = listen_local(&r->port);
    pthread_mutex_init(&r->mu, NULL);
    pthread_create(&r->th, NULL, rx_main, r);
}

static void rx_stop(rx_t *r)
{
    r->stop = 1;
    pthread_join(r->th, NULL);
    for (int i = 0; i < r->nhung; i++)
        close(r->hung[i]);
    close(r->lfd);
    pthread_mutex_destroy(&r->mu);
}

static bool three_posted(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.webhook_posts + s.webhook_failures >= 3 && s.webhook_running == 0;
}

TEST(webhook_posts_json_to_receiver)
{
    rx_t r;
    rx_start(&r, RX_OK);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bulwark/hook", r.port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.webhook_url = url;
    c.max_running = 2;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_event_t ev = sample;
    ev.url = "http://x/\"<script>\"\n\xff";
    for (int i = 0; i < 3; i++) {
        ev.size = (uint64_t)i;
        bw_notify(n, &ev);
    }
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, three_posted, 5000));
    CHECK(max_gap_ms < 250);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.webhook_posts, 3);
    CHECK_EQ(s.webhook_failures, 0);
    CHECK_EQ(lc.n, 0);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    rx_stop(&r);
    CHECK_EQ(r.nreq, 3);
    int sizes = 0;
    for (int i = 0; i < r.nreq && i < 3; i++) {
        CHECK(!strncmp(r.heads[i], "POST /bulwark/hook HTTP/1.1\r\n", 29));
        CHECK(strcasestr(r.heads[i], "\r\nContent-Type: application/json") != NULL);
        CHECK(py_json(r.bodies[i],
                      "[d[k] for k in (\"status\",\"threat\",\"url\",\"client_ip\",\"user\","
                      "\"group\",\"action\",\"method\",\"time\")]",
                      "['INFECTED', 'EICAR-Test-File', 'http://x/\"<script>\"\\n\\ufffd', "
                      "'10.1.2.3', 'alice', 'kids', 'deny', 'RESPMOD', 1700000000]"));
        char *sz = strstr(r.bodies[i], "\"size\":");
        if (sz)
            sizes |= 1 << atoi(sz + 7);
    }
    CHECK_EQ(sizes, 7); /* each event once */
}

TEST(webhook_refused_port_is_a_failure)
{
    int port;
    int fd = listen_local(&port);
    close(fd); /* nothing listens there now */
    char url[128];
    /* A host name, so that curl's resolver is part of the path too. */
    snprintf(url, sizeof url, "http://localhost:%d/hook", port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.webhook_url = url;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    bw_notify(n, &sample);
    CHECK(run_until(&loop, n, hook_idle, 5000));
    CHECK(now_ms() - t0 < 1500);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.webhook_failures, 1);
    CHECK_EQ(s.webhook_posts, 0);
    CHECK_CONTAINS(lc.text, url);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

TEST(webhook_hanging_peer_times_out)
{
    rx_t r;
    rx_start(&r, RX_HANG);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.webhook_url = url;
    c.webhook_timeout_ms = 300;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    bw_notify(n, &sample);
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, hook_idle, 5000));
    uint64_t took = now_ms() - t0;
    CHECK(took >= 280 && took < 2000);
    CHECK(max_gap_ms < 250);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.webhook_failures, 1);
    CHECK_CONTAINS(lc.text, "timed out");
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    rx_stop(&r);
    CHECK_EQ(r.nreq, 1); /* it did reach the peer */
}

TEST(webhook_http_error_is_a_failure)
{
    rx_t r;
    rx_start(&r, RX_500);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.webhook_url = url;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_notify(n, &sample);
    CHECK(run_until(&loop, n, hook_idle, 5000));
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.webhook_failures, 1);
    CHECK_EQ(s.webhook_posts, 0);
    CHECK_CONTAINS(lc.text, "HTTP 500");
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    rx_stop(&r);
}

TEST(webhook_free_aborts_transfer_in_flight)
{
    rx_t r;
    rx_start(&r, RX_HANG);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", r.port);
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = base_conf();
    c.webhook_url = url;
    c.webhook_timeout_ms = 600;
    c.script_timeout_ms = 100;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_notify(n, &sample);
    run_until(&loop, n, NULL, 100);
    uint64_t t0 = now_ms();
    bw_notifier_free(n);
    CHECK(now_ms() - t0 < 2500);
    CHECK_CONTAINS(lc.text, "webhook");
    CHECK_EQ(uv_loop_close(&loop), 0);
    rx_stop(&r);
}

/* ---- mail: the message ------------------------------------------------------ */

static const char *const two_to[] = {"a@example.net", "b@example.org"};

static char *sample_mail(const bw_event_t *ev)
{
    return bw_event_mail(ev, "bulwark@test.example", two_to, 2, "<1700000000.1.42@test.example>");
}

/* Checks with python3's email parser (policy default: headers unfolded and
 * decoded, the body's transfer encoding undone) that evaluating `expr` over
 * the message (m, and body = its decoded text) prints `want`. */
static bool py_mail(const char *msg, const char *expr, const char *want)
{
    mk_tmpdir();
    char mp[300], cmd[1400];
    snprintf(mp, sizeof mp, "%s/msg.eml", tmpdir);
    FILE *f = fopen(mp, "wb");
    fputs(msg, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, email, email.policy, email.utils;"
             " m = email.message_from_bytes(open(sys.argv[1], \"rb\").read(),"
             " policy=email.policy.default); body = m.get_content();"
             " sys.stdout.write(ascii(%s))' %s",
             expr, mp);
    FILE *p = popen(cmd, "r");
    char out[16384] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int rc = p ? pclose(p) : -1;
    if (rc || strcmp(out, want)) {
        fprintf(stderr, "  python: %s gave [%.2000s] (rc %d), want [%.2000s]\n", expr, out, rc,
                want);
        return false;
    }
    return true;
}

/* What any relay accepts, whatever the event held: 7-bit printable ASCII
 * with CRLF line ends only, header lines within 998 bytes, body lines
 * within 76 (quoted-printable), and no body line starting with '.'. */
static bool wire_ok(const char *msg)
{
    bool in_body = false;
    size_t col = 0, line = 1;
    for (const char *p = msg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r') {
            if (p[1] != '\n') {
                fprintf(stderr, "  line %zu: bare CR\n", line);
                return false;
            }
            if (col == 0 && !in_body)
                in_body = true;
            p++;
            col = 0;
            line++;
            continue;
        }
        if (c == '\n' || c < 0x20 || c > 0x7e) {
            fprintf(stderr, "  line %zu: byte 0x%02x\n", line, c);
            return false;
        }
        if (in_body && col == 0 && c == '.') {
            fprintf(stderr, "  line %zu starts with '.'\n", line);
            return false;
        }
        if (col == 0 && !in_body && (c == ' ' || c == '\t') && line > 1) {
            /* a folded header line: only To: folds */
        }
        col++;
        if (col > (in_body ? 76u : 998u)) {
            fprintf(stderr, "  line %zu longer than %u\n", line, in_body ? 76u : 998u);
            return false;
        }
    }
    return in_body;
}

#define MAIL_KEYS                                                                                 \
    "['Date', 'From', 'To', 'Subject', 'Message-ID', 'MIME-Version', 'Content-Type', "          \
    "'Content-Transfer-Encoding', 'Auto-Submitted']"

TEST(mail_message_headers_and_body)
{
    char *m = sample_mail(&sample);
    CHECK(m != NULL);
    CHECK(wire_ok(m));
    CHECK(py_mail(m, "list(m.keys())", MAIL_KEYS));
    CHECK(py_mail(m, "[m[\"Subject\"], m[\"From\"], m[\"To\"], m[\"Message-ID\"]]",
                  "['Bulwark: INFECTED EICAR-Test-File at http://example.com/eicar.com', "
                  "'Bulwark <bulwark@test.example>', 'a@example.net, b@example.org', "
                  "'<1700000000.1.42@test.example>']"));
    CHECK(py_mail(m, "email.utils.parsedate_to_datetime(m[\"Date\"]).timestamp()", "1700000000.0"));
    CHECK(py_mail(m, "[m.get_content_type(), m.get_content_charset()]", "['text/plain', 'utf-8']"));
    CHECK(py_mail(m, "[l for l in body.splitlines() if \":\" in l][:10]",
                  "['Status:     INFECTED', 'Threat:     EICAR-Test-File', "
                  "'URL:        http://example.com/eicar.com', 'Client IP:  10.1.2.3', "
                  "'User:       alice', 'Group:      kids', 'Action:     deny', "
                  "'Method:     RESPMOD', 'Size:       68 bytes', "
                  "'Time:       2023-11-14 22:13:20 UTC (1700000000)']"));
    free(m);

    /* Missing fields: "-" in the body; the subject keeps what exists. */
    bw_event_t ev = {.status = "CORRUPTED", .size = 0, .time = 0};
    m = bw_event_mail(&ev, "f@x.example", two_to, 1, NULL);
    CHECK(wire_ok(m));
    CHECK(py_mail(m, "[m[\"Subject\"], m[\"To\"], \"Message-ID\" in m]",
                  "['Bulwark: CORRUPTED', 'a@example.net', False]"));
    CHECK(py_mail(m, "[l for l in body.splitlines() if l.startswith((\"Threat\", \"URL\", \"User\"))]",
                  "['Threat:     -', 'URL:        -', 'User:       -']"));
    free(m);
}

TEST(mail_event_fields_cannot_inject_headers)
{
    bw_event_t ev = sample;
    ev.url = "http://x/a\r\nBcc: victim@evil.example\r\n\r\nfake body";
    ev.threat = "Evil\nX-Injected: 1";
    ev.status = "INFECTED\r\n ";
    ev.user = "bob\r\nCc: c@evil.example";
    ev.client_ip = "\r\n.\r\n";
    char *m = sample_mail(&ev);
    CHECK(m != NULL);
    CHECK(wire_ok(m));
    CHECK(py_mail(m, "list(m.keys())", MAIL_KEYS));
    CHECK(py_mail(m, "m[\"Subject\"]",
                  "'Bulwark: INFECTED%0D%0A  Evil%0AX-Injected: 1 at "
                  "http://x/a%0D%0ABcc: victim@evil.example%0D%0A%0D%0Afake body'"));
    CHECK(py_mail(m, "[l for l in body.splitlines() if l.startswith((\"URL\", \"User\", \"Client\"))]",
                  "['URL:        http://x/a\\\\r\\\\nBcc: victim@evil.example\\\\r\\\\n\\\\r\\\\nfake body', "
                  "'Client IP:  \\\\r\\\\n.\\\\r\\\\n', "
                  "'User:       bob\\\\r\\\\nCc: c@evil.example']"));
    CHECK(strstr(m, "\nBcc") == NULL && strstr(m, "\nCc:") == NULL && strstr(m, "\nX-Injected") == NULL);
    free(m);
}

TEST(mail_odd_bytes_and_long_values)
{
    /* invalid UTF-8, valid 2- and 3-byte UTF-8, controls, then 9000 bytes:
     * the subject is cut with "...", the body value at 8192 bytes. */
    static char url[9200];
    size_t k = (size_t)snprintf(url, sizeof url, "http://x/\xff\xc3\xa9\xe2\x82\xac\x01\x7f=");
    memset(url + k, 'a', 9000);
    url[k + 9000] = '\0';
    bw_event_t ev = sample;
    ev.url = url;
    ev.threat = "Tr\xc3\xa9jan";
    char *m = sample_mail(&ev);
    CHECK(m != NULL);
    CHECK(wire_ok(m));
    CHECK(py_mail(m, "[m[\"Subject\"][:69], m[\"Subject\"][-6:], len(m[\"Subject\"]) < 500]",
                  "['Bulwark: INFECTED Tr%C3%A9jan at http://x/%FF%C3%A9%E2%82%AC%01%7F=aa', "
                  "'aaa...', True]"));
    char want[9400];
    snprintf(want, sizeof want, "'URL:        http://x/\\ufffd\\xe9\\u20ac\\\\x01\\\\x7f=%.*s'",
             (int)(BW_NOTIFY_MAX_FIELD - k), url + k);
    CHECK(py_mail(m, "[l for l in body.splitlines() if l.startswith(\"URL\")][0]", want));
    CHECK(py_mail(m, "[l for l in body.splitlines() if l.startswith(\"Threat\")][0]",
                  "'Threat:     Tr\\xe9jan'"));
    free(m);
}

TEST(mail_no_body_line_starts_with_a_dot)
{
    /* Soft line breaks fall at every position of a run of dots for some
     * length: no line may start with '.' (SMTP's end of data) or "From ". */
    char url[400];
    for (int len = 0; len < 160; len++) {
        int k = snprintf(url, sizeof url, "http://x/");
        memset(url + k, '.', (size_t)len);
        snprintf(url + k + len, sizeof url - (size_t)(k + len), "From x");
        bw_event_t ev = sample;
        ev.url = url;
        ev.user = url;
        char *m = sample_mail(&ev);
        bool ok = wire_ok(m) && !strstr(m, "\r\nFrom ");
        if (!ok)
            fprintf(stderr, "  with %d dots\n", len);
        CHECK(ok);
        if (len == 151)
            CHECK(py_mail(m, "[l[12:] for l in body.splitlines() if l.startswith(\"URL\")][0]",
                          "'http://x/......................................................."
                          "......................................................................"
                          "..........................From x'"));
        free(m);
    }
}

TEST(mail_address_checks)
{
    const char *good[] = {"admin@example.net", "a.b+tag@sub.example.co", "root@localhost",
                          "x@[192.0.2.1]", "x@[IPv6:2001:db8::1]", "o'brien@example.ie",
                          "x_y-z=1@a-b.example"};
    const char *bad[] = {"", "admin", "@example.net", "admin@", "Admin <a@b.example>",
                         "<a@b.example>", "a@b c.example", "a@b\r\nBcc: x@y", "a..b@x.example",
                         ".a@x.example", "a.@x.example", "a@x..example", "a@.x.example",
                         "a@b.example,c@d.example", "\"q\"@x.example", "a@ex_ample.com",
                         "a@[x]", "a@[]", "caf\xc3\xa9@x.example", "a@b;c", "a@b:25"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *why = NULL;
        bool ok = bw_mail_address_ok(good[i], &why);
        if (!ok)
            fprintf(stderr, "  refused %s: %s\n", good[i], why);
        CHECK(ok);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *why = NULL;
        bool ok = bw_mail_address_ok(bad[i], &why);
        if (ok)
            fprintf(stderr, "  accepted %s\n", bad[i]);
        CHECK(!ok && why && why[0]);
    }
}

TEST(mail_conf_keys)
{
    bw_err_t err = {{0}};
    bw_conf_state_t *st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", "", 0, &st, &err), BW_OK);
    const bw_notify_conf_t *c = st ? bw_conf_get(st, &bw_notify_conf_table, NULL) : NULL;
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ(c->mail_to.n, 0);
        CHECK_STR(c->smtp_url, "smtp://localhost");
        CHECK_STR(c->mail_from, "");
        CHECK_EQ(c->smtp_starttls, BW_STARTTLS_NO);
        CHECK_EQ(c->mail_timeout_ms, 10000);
        CHECK(!bw_notify_conf_enabled(c));
    }
    bw_conf_free(st);

    const char *text = "[icapserver.notify]\nMailTo = sec@example.net\nMailTo =\n"
                       "MailTo = soc@example.org\nMailFrom = av@proxy.example\n"
                       "SmtpUrl = smtps://mail.example:465\nSmtpUser = av\nSmtpPassword = s3cret\n"
                       "MailTimeout = 2s\n";
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", text, strlen(text), &st, &err), BW_OK);
    if (st) {
        c = bw_conf_get(st, &bw_notify_conf_table, NULL);
        CHECK_EQ(c->mail_to.n, 3);
        CHECK_STR(BW_CONF_LIST_AT(&c->mail_to, char *, 0), "sec@example.net");
        CHECK_STR(BW_CONF_LIST_AT(&c->mail_to, char *, 2), "soc@example.org");
        CHECK_STR(c->mail_from, "av@proxy.example");
        CHECK_STR(c->smtp_url, "smtps://mail.example:465");
        CHECK_STR(c->smtp_user, "av");
        CHECK_EQ(c->mail_timeout_ms, 2000);
        CHECK(bw_notify_conf_enabled(c));
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    bw_conf_free(st);
    /* An empty MailTo alone enables nothing. */
    text = "[icapserver.notify]\nMailTo =\n";
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", text, strlen(text), &st, &err), BW_OK);
    if (st)
        CHECK(!bw_notify_conf_enabled(bw_conf_get(st, &bw_notify_conf_table, NULL)));
    bw_conf_free(st);
    /* STARTTLS required makes a password on smtp:// acceptable. */
    text = "[icapserver.notify]\nSmtpUrl = smtp://mx.example:587\nSmtpStartTls = yes\n"
           "SmtpUser = u\nSmtpPassword = p\n";
    st = NULL;
    CHECK_EQ(bw_conf_load_buf(&schema, "/etc/b.conf", text, strlen(text), &st, &err), BW_OK);
    bw_conf_free(st);

    conf_fails("[icapserver.notify]\nMailTo = Admin <a@b.example>\n", "b.conf:2: MailTo");
    conf_fails("[icapserver.notify]\n\nMailTo = a@b.example\nMailTo = a@b@c\n",
               "b.conf:4: MailTo: 'a@b@c' is not a usable mail address");
    conf_fails("[icapserver.notify]\nMailFrom = bulwark\n", "b.conf:2: MailFrom");
    conf_fails("[icapserver.notify]\nSmtpUrl = http://mail.example\n",
               "b.conf:2: SmtpUrl: 'http://mail.example' is not an smtp:// or smtps:// URL");
    conf_fails("[icapserver.notify]\nSmtpUrl = smtp://\n", "SmtpUrl");
    conf_fails("[icapserver.notify]\nSmtpUrl = smtp://u:pw@mail.example\n", "holds credentials");
    conf_fails("[icapserver.notify]\nSmtpUser = u\nSmtpPassword = p\n", "in clear");
    conf_fails("[icapserver.notify]\nSmtpStartTls = try\nSmtpUser = u\n", "in clear");
    conf_fails("[icapserver.notify]\nSmtpPassword = p\n", "SmtpPassword: set without SmtpUser");
    conf_fails("[icapserver.notify]\nSmtpStartTls = maybe\n", "b.conf:2: SmtpStartTls");
    conf_fails("[icapserver.notify]\nMailTimeout = 10ms\n", "b.conf:2: MailTimeout");
    conf_fails("[icapserver.notify]\nSmtpCAFile = /nonexistent/ca.pem\n",
               "SmtpCAFile: /nonexistent/ca.pem is not a readable file");
    conf_fails("[icapserver.notify:kids]\nMailTo = a@b.example\n", "no per-group keys");
}

/* ---- mail: an SMTP responder in a thread ------------------------------------ */

enum { SMTP_OK, SMTP_HANG, SMTP_REJECT_RCPT };

typedef struct smtp_rx {
    int lfd, port, mode;
    pthread_t th;
    pthread_mutex_t mu;
    struct smtp_session {
        struct smtp_rx *r;
        int fd;
        pthread_t th;
    } sess[8];
    int nsess;
    int nmsg;
    char env[8][512];      /* MAIL FROM and RCPT TO lines of each message */
    char data[8][12000];   /* what came between DATA and the final "." */
    int hung[16], nhung;
    volatile int stop;
} smtp_rx_t;

/* Reads one CRLF line into line (without CRLF); false on EOF, timeout, stop. */
static bool smtp_line(smtp_rx_t *r, int fd, char *buf, size_t *have, char *line, size_t cap)
{
    for (int spins = 0; spins < 250 && !r->stop; spins++) {
        char *e = memmem(buf, *have, "\r\n", 2);
        if (e) {
            size_t l = (size_t)(e - buf);
            snprintf(line, cap, "%.*s", (int)l, buf);
            memmove(buf, e + 2, *have - l - 2);
            *have -= l + 2;
            return true;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 20) <= 0)
            continue;
        ssize_t k = read(fd, buf + *have, 16384 - *have);
        if (k <= 0)
            return false;
        *have += (size_t)k;
    }
    return false;
}

static void say(int fd, const char *s)
{
    ssize_t w = write(fd, s, strlen(s));
    (void)w;
}

typedef struct smtp_session smtp_session_t;

/* One SMTP session (a server serves several at once: curl may open a
 * connection per message and keep it for the next). */
static void *smtp_session(void *arg)
{
    smtp_session_t *ss = arg;
    smtp_rx_t *r = ss->r;
    int fd = ss->fd;
    char buf[16384], line[12000], env[512] = "";
    size_t have = 0;
    say(fd, "220 test.example ESMTP\r\n");
    while (smtp_line(r, fd, buf, &have, line, sizeof line)) {
        if (!strncasecmp(line, "EHLO", 4) || !strncasecmp(line, "HELO", 4)) {
            say(fd, "250 test.example\r\n");
        } else if (!strncasecmp(line, "MAIL FROM:", 10)) {
            snprintf(env, sizeof env, "%.200s", line);
            say(fd, "250 OK\r\n");
        } else if (!strncasecmp(line, "RCPT TO:", 8)) {
            size_t l = strlen(env);
            snprintf(env + l, sizeof env - l, "|%.200s", line);
            say(fd, r->mode == SMTP_REJECT_RCPT ? "550 5.1.1 no such user\r\n" : "250 OK\r\n");
        } else if (!strcasecmp(line, "DATA")) {
            say(fd, "354 go ahead\r\n");
            char data[12000] = "";
            size_t dl = 0;
            while (smtp_line(r, fd, buf, &have, line, sizeof line) && strcmp(line, "."))
                dl += (size_t)snprintf(data + dl, dl < sizeof data ? sizeof data - dl : 0,
                                       "%s\r\n", line);
            pthread_mutex_lock(&r->mu);
            if (r->nmsg < 8) {
                snprintf(r->env[r->nmsg], sizeof r->env[0], "%s", env);
                snprintf(r->data[r->nmsg], sizeof r->data[0], "%s", data);
                r->nmsg++;
            }
            pthread_mutex_unlock(&r->mu);
            say(fd, "250 queued\r\n");
        } else if (!strcasecmp(line, "QUIT")) {
            say(fd, "221 bye\r\n");
            break;
        } else if (!strcasecmp(line, "RSET") || !strcasecmp(line, "NOOP")) {
            say(fd, "250 OK\r\n");
        } else {
            say(fd, "502 not here\r\n");
        }
    }
    close(fd);
    return NULL;
}

static void *smtp_main(void *arg)
{
    smtp_rx_t *r = arg;
    while (!r->stop) {
        struct pollfd pf = {r->lfd, POLLIN, 0};
        if (poll(&pf, 1, 50) <= 0)
            continue;
        int fd = accept(r->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        if (r->mode == SMTP_HANG || r->nsess == 8) {
            if (r->nhung < 16)
                r->hung[r->nhung++] = fd; /* never greets; closed at the end */
            else
                close(fd);
            continue;
        }
        smtp_session_t *ss = &r->sess[r->nsess++];
        ss->r = r;
        ss->fd = fd;
        pthread_create(&ss->th, NULL, smtp_session, ss);
    }
    for (int i = 0; i < r->nsess; i++)
        pthread_join(r->sess[i].th, NULL);
    return NULL;
}

static void smtp_start(smtp_rx_t *r, int mode)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->lfd = listen_local(&r->port);
    pthread_mutex_init(&r->mu, NULL);
    pthread_create(&r->th, NULL, smtp_main, r);
}

static void smtp_stop(smtp_rx_t *r)
{
    r->stop = 1;
    pthread_join(r->th, NULL);
    for (int i = 0; i < r->nhung; i++)
        close(r->hung[i]);
    close(r->lfd);
    pthread_mutex_destroy(&r->mu);
}

static bool mail_idle(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.mail_running == 0 && s.mail_queued == 0 && s.mail_sent + s.mail_failures > 0;
}

static bool two_mailed(bw_notifier_t *n)
{
    bw_notify_stats_t s = stats(n);
    return s.mail_sent + s.mail_failures >= 2 && s.mail_running == 0;
}

static bw_notify_conf_t mail_conf(char *url, char **to, size_t nto)
{
    bw_notify_conf_t c = base_conf();
    c.smtp_url = url;
    c.mail_to = (bw_conf_list_t){nto, to};
    c.mail_from = "bulwark@test.example";
    c.mail_timeout_ms = 3000;
    return c;
}

TEST(mail_delivered_to_smtp_server)
{
    smtp_rx_t r;
    smtp_start(&r, SMTP_OK);
    char url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", r.port);
    char *to[] = {"a@example.net", "", "b@example.org", NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = mail_conf(url, to, 3);
    CHECK(bw_notify_conf_enabled(&c));
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_event_t ev = sample;
    bw_notify(n, &ev);
    ev.status = "WARNING";
    ev.threat = "EICAR-Test-File-WARN";
    bw_notify(n, &ev);
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, two_mailed, 5000));
    CHECK(max_gap_ms < 250);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.mail_sent, 2);
    CHECK_EQ(s.mail_failures, 0);
    CHECK_EQ(s.webhook_posts + s.script_runs, 0);
    CHECK_EQ(lc.n, 0);
    if (lc.n)
        fprintf(stderr, "  log: %s", lc.text);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    smtp_stop(&r);
    CHECK_EQ(r.nmsg, 2);
    int seen = 0, ids = 0;
    for (int i = 0; i < r.nmsg && i < 2; i++) {
        CHECK_STR(r.env[i], "MAIL FROM:<bulwark@test.example>|RCPT TO:<a@example.net>|"
                            "RCPT TO:<b@example.org>");
        CHECK_CONTAINS(r.data[i], "\r\nFrom: Bulwark <bulwark@test.example>\r\n");
        CHECK_CONTAINS(r.data[i], "\r\nTo: a@example.net,\r\n b@example.org\r\n");
        CHECK(wire_ok(r.data[i]));
        if (strstr(r.data[i], "\r\nSubject: Bulwark: INFECTED EICAR-Test-File at "
                              "http://example.com/eicar.com\r\n"))
            seen |= 1;
        if (strstr(r.data[i], "\r\nSubject: Bulwark: WARNING EICAR-Test-File-WARN at "
                              "http://example.com/eicar.com\r\n"))
            seen |= 2;
        /* Unique Message-IDs: the sequence number is the second part
         * (the two sessions may finish in either order). */
        const char *id = strstr(r.data[i], "\r\nMessage-ID: <1700000000.");
        CHECK(id != NULL);
        if (id)
            ids |= 1 << atoi(id + strlen("\r\nMessage-ID: <1700000000."));
    }
    CHECK_EQ(seen, 3);
    CHECK_EQ(ids, 6);
}

TEST(mail_and_webhook_share_the_loop)
{
    smtp_rx_t sr;
    smtp_start(&sr, SMTP_OK);
    rx_t hr;
    rx_start(&hr, RX_OK);
    char surl[128], hurl[128];
    snprintf(surl, sizeof surl, "smtp://localhost:%d", sr.port); /* resolved by curl */
    snprintf(hurl, sizeof hurl, "http://127.0.0.1:%d/hook", hr.port);
    char *to[] = {"soc@example.net", NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = mail_conf(surl, to, 1);
    c.webhook_url = hurl;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    bw_notify(n, &sample);
    CHECK(run_until(&loop, n, mail_idle, 5000));
    CHECK(run_until(&loop, n, hook_idle, 5000));
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.mail_sent, 1);
    CHECK_EQ(s.webhook_posts, 1);
    CHECK_EQ(lc.n, 0);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    smtp_stop(&sr);
    rx_stop(&hr);
    CHECK_EQ(sr.nmsg, 1);
    CHECK_EQ(hr.nreq, 1);
}

TEST(mail_hanging_server_times_out_without_blocking)
{
    smtp_rx_t r;
    smtp_start(&r, SMTP_HANG);
    char url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", r.port);
    char *to[] = {"a@example.net", NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = mail_conf(url, to, 1);
    c.mail_timeout_ms = 300;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    bw_notify(n, &sample);
    uint64_t call_ms = now_ms() - t0;
    max_gap_ms = 0;
    CHECK(run_until(&loop, n, mail_idle, 5000));
    uint64_t took = now_ms() - t0;
    CHECK(call_ms < 100);
    CHECK(took >= 280 && took < 2000);
    CHECK(max_gap_ms < 250);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.mail_failures, 1);
    CHECK_EQ(s.mail_sent, 0);
    CHECK_CONTAINS(lc.text, url);
    CHECK_CONTAINS(lc.text, "timed out");
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
    smtp_stop(&r);
    CHECK_EQ(r.nhung, 1); /* it did connect */
}

TEST(mail_refused_recipient_and_port_are_failures)
{
    smtp_rx_t r;
    smtp_start(&r, SMTP_REJECT_RCPT);
    int closed_port;
    close(listen_local(&closed_port));
    char url[2][128];
    snprintf(url[0], sizeof url[0], "smtp://127.0.0.1:%d", r.port);
    snprintf(url[1], sizeof url[1], "smtp://127.0.0.1:%d", closed_port);
    const char *want[] = {"550", "onnect"};
    for (int i = 0; i < 2; i++) {
        char *to[] = {"nobody@example.net", NULL};
        uv_loop_t loop;
        uv_loop_init(&loop);
        bw_notify_conf_t c = mail_conf(url[i], to, 1);
        bw_notifier_t *n = bw_notifier_new(&loop, &c);
        logcap_t lc = {{0}, 0};
        bw_notifier_set_log(n, cap_log, &lc);
        bw_notify(n, &sample);
        CHECK(run_until(&loop, n, mail_idle, 5000));
        bw_notify_stats_t s = stats(n);
        CHECK_EQ(s.mail_failures, 1);
        CHECK_EQ(s.mail_sent, 0);
        CHECK_CONTAINS(lc.text, url[i]);
        CHECK_CONTAINS(lc.text, want[i]);
        bw_notifier_free(n);
        CHECK_EQ(uv_loop_close(&loop), 0);
    }
    smtp_stop(&r);
    CHECK_EQ(r.nmsg, 0);
}

TEST(mail_queue_bounds_and_bounded_free)
{
    smtp_rx_t r;
    smtp_start(&r, SMTP_HANG);
    char url[128];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", r.port);
    char *to[] = {"a@example.net", NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = mail_conf(url, to, 1);
    c.max_running = 1;
    c.max_queued = 1;
    c.mail_timeout_ms = 600;
    c.script_timeout_ms = 100;
    c.webhook_timeout_ms = 100;
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    logcap_t lc = {{0}, 0};
    bw_notifier_set_log(n, cap_log, &lc);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 3; i++)
        bw_notify(n, &sample);
    CHECK(now_ms() - t0 < 200);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.mail_running, 1);
    CHECK_EQ(s.mail_queued, 1);
    CHECK_EQ(s.dropped, 1);
    CHECK_CONTAINS(lc.text, "mail: queue full");
    run_until(&loop, n, NULL, 100);
    t0 = now_ms();
    bw_notifier_free(n); /* drops the queued one, then the running one times out */
    CHECK(now_ms() - t0 < 2500);
    CHECK_CONTAINS(lc.text, "dropped 1 queued");
    CHECK_EQ(uv_loop_close(&loop), 0);
    smtp_stop(&r);
}

TEST(mail_hand_filled_bad_addresses_are_ignored)
{
    /* The loader refuses these; a caller filling the struct itself gets a
     * logged refusal, never an address with CR LF in an SMTP command. */
    char *to[] = {"a@b.example\r\nRCPT TO:<x@evil.example>", NULL};
    uv_loop_t loop;
    uv_loop_init(&loop);
    bw_notify_conf_t c = mail_conf("smtp://127.0.0.1:9", to, 1);
    c.mail_from = "x\r\n@y";
    bw_notifier_t *n = bw_notifier_new(&loop, &c);
    CHECK(n != NULL);
    bw_notify(n, &sample);
    bw_notify_stats_t s = stats(n);
    CHECK_EQ(s.mail_running + s.mail_queued + s.mail_sent + s.mail_failures, 0);
    bw_notifier_free(n);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int rc = t_run();
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd))
            rc = rc ? rc : 0;
    }
    return rc;
}
