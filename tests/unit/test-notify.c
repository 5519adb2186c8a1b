/* Notifications: the script channel (environment, timeout kill, failures,
 * the concurrency and queue bounds), the webhook against a receiver in a
 * thread of this test (JSON body, refused port, hanging peer, HTTP error),
 * JSON escaping, the configuration keys, and a bounded shutdown.  Every
 * test runs a real uv loop and measures that it never stalls. */
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
