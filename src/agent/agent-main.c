/* SPDX-License-Identifier: Apache-2.0 */
/* bulwark-agent: options, configuration, the engine, and the supervisor.
 *
 *   bulwark-agent --path DIR -d DBDIR -f     quick start, no configuration file
 *   bulwark-agent -c /etc/bulwark/agent.conf
 *   bulwark-agent -c agent.conf -t           check the configuration
 *   bulwark-agent --status [--socket PATH]   the counters of a running agent
 *
 * The quick start writes the configuration it stands for into memory and
 * loads it through the same tables, so it cannot mean something a file could
 * not.  --respawn runs the agent under a small supervisor in this program
 * (for machines without systemd; the unit uses Restart=always instead): the
 * supervisor's own file accesses are allowed like the agent's. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "app/ctl-client.h"
#include "core/buf.h"
#include "core/conf.h"
#include "core/log.h"
#include "events/event.h"
#include "events/events-conf.h"
#include "quarantine/quarantine.h"

#define DEFAULT_CONF "/etc/bulwark/agent.conf"
#define DEFAULT_SOCK "/run/bulwark/agent.sock"

static const bw_conf_table_t *const tables[] = {&bw_agent_conf_table, &bw_agent_scanner_conf_table,
                                                &bw_agent_drop_conf_table, &bw_events_conf_table};
static const bw_conf_schema_t schema = {tables, sizeof tables / sizeof tables[0]};

static bw_agent_t agent;
static bw_conf_state_t *g_state;

/* Early exits free what was loaded (so the sanitizer build sees no leak). */
static int finish(int rc)
{
    bw_agent_excl_free(&agent.excl);
    bw_agent_cache_free(agent.cache);
    agent.cache = NULL;
    if (agent.engine)
        bw_engine_unref(agent.engine);
    agent.engine = NULL;
    bw_conf_free(g_state);
    g_state = NULL;
    return rc;
}
static volatile sig_atomic_t child_pid;

static void on_stop(int sig)
{
    (void)sig;
    agent.stop = 1;
}

static void on_stop_sup(int sig)
{
    if (child_pid > 0)
        kill(child_pid, sig);
    _exit(0);
}

static void syslog_sink(int level, const char *msg, void *ctx)
{
    (void)ctx;
    syslog(level, "%s", msg);
}

static void usage(FILE *f)
{
    fputs("usage: bulwark-agent [-c FILE] [-f] [-t] [--respawn]\n"
          "       bulwark-agent --path DIR [--path DIR...] -d DBDIR [-f] [--socket PATH]\n"
          "                     [--quarantine DIR] [--deadline MS] [--fail-closed]\n"
          "       bulwark-agent --status [--socket PATH | -c FILE]\n"
          "       bulwark-agent --config-doc\n"
          "  -c, --config FILE   configuration (default " DEFAULT_CONF ")\n"
          "  -p, --path DIR      quick start: protect DIR (open, exec, close-write; block infected)\n"
          "  -d, --database DIR  quick start: database directory of the in-process engine\n"
          "  -f, --foreground    log to stderr (default: syslog)\n"
          "  -t, --test          check the configuration and exit\n"
          "      --respawn       restart the agent when it dies (a supervisor process)\n"
          "      --status        print the counters of the running agent\n",
          f);
}

static int supervise(void)
{
    signal(SIGTERM, on_stop_sup);
    signal(SIGINT, on_stop_sup);
    for (;;) {
        pid_t p = fork();
        if (p < 0)
            return 1;
        if (p == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            return -1; /* the child goes on as the agent */
        }
        child_pid = p;
        int st;
        while (waitpid(p, &st, 0) < 0 && errno == EINTR)
            ;
        child_pid = 0;
        if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 2))
            return WEXITSTATUS(st);
        fprintf(stderr, "bulwark-agent: agent %d %s %d; restarting\n", (int)p,
                WIFSIGNALED(st) ? "killed by signal" : "exited with",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        sleep(1);
    }
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL, *db = NULL, *sock = NULL, *quar = NULL, *deadline = NULL;
    int fg = 0, test = 0, status = 0, respawn = 0, doc = 0, fail_closed = 0;
    bw_buf_t paths = {0};
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"path", required_argument, NULL, 'p'},
        {"database", required_argument, NULL, 'd'}, {"foreground", no_argument, NULL, 'f'},
        {"test", no_argument, NULL, 't'}, {"status", no_argument, NULL, 'S'},
        {"socket", required_argument, NULL, 's'}, {"quarantine", required_argument, NULL, 'q'},
        {"deadline", required_argument, NULL, 'D'}, {"fail-closed", no_argument, NULL, 'F'},
        {"respawn", no_argument, NULL, 'R'}, {"config-doc", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:p:d:fth", opts, NULL)) != -1) {
        switch (o) {
        case 'c': conf_path = optarg; break;
        case 'p': bw_buf_printf(&paths, "Paths = %s\n", optarg); break;
        case 'd': db = optarg; break;
        case 'f': fg = 1; break;
        case 't': test = 1; break;
        case 'S': status = 1; break;
        case 's': sock = optarg; break;
        case 'q': quar = optarg; break;
        case 'D': deadline = optarg; break;
        case 'F': fail_closed = 1; break;
        case 'R': respawn = 1; break;
        case 'K': doc = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (doc)
        return bw_conf_doc(&schema, stdout) == BW_OK ? 0 : 1;

    bw_err_t err = {{0}};
    bw_conf_state_t *st = NULL;
    int rc;
    if (paths.len) {
        if (conf_path) {
            fputs("bulwark-agent: --path is the quick start; use Paths in the file with -c\n",
                  stderr);
            return 2;
        }
        bw_buf_t t = {0};
        bw_buf_printf(&t, "[agent]\n%sControlSocket = %s\n", paths.p,
                      sock ? sock : DEFAULT_SOCK);
        if (quar)
            bw_buf_printf(&t, "QuarantineDirectory = %s\n", quar);
        if (deadline)
            bw_buf_printf(&t, "Deadline = %s\n", deadline);
        if (fail_closed)
            bw_buf_printf(&t, "FailMode = closed\n");
        bw_buf_printf(&t, "[scanner]\nDatabaseDirectory = %s\n", db ? db : "/var/lib/bulwark/db");
        rc = bw_conf_load_buf(&schema, "(quick start)/", t.p, t.len, &st, &err);
        bw_buf_free(&t);
    } else if (status && sock) {
        rc = BW_OK;
    } else {
        rc = bw_conf_load(&schema, conf_path ? conf_path : DEFAULT_CONF, &st, &err);
    }
    bw_buf_free(&paths);
    g_state = st;
    if (rc != BW_OK) {
        fprintf(stderr, "bulwark-agent: %s\n", err.msg);
        return finish(2);
    }
    if (status) {
        const bw_agent_conf_t *c = st ? bw_conf_get(st, &bw_agent_conf_table, NULL) : NULL;
        char *text = NULL;
        const char *path = sock ? sock : c->control_socket;
        rc = bw_ctl_call(path, "status", 10000, &text, &err);
        if (rc < 0) {
            fprintf(stderr, "bulwark-agent: %s\n", err.msg);
            printf("bulwark-agent is not running\n");
            return finish(3);
        }
        fputs(text, rc == 1 ? stdout : stderr);
        free(text);
        return finish(rc == 1 ? 0 : 1);
    }
    bw_agent_t *a = &agent;
    if (bw_agent_setup(a, st, &err) != BW_OK) {
        fprintf(stderr, "bulwark-agent: %s\n", err.msg);
        return finish(2);
    }
    if (test) {
        char acts[64];
        printf("configuration OK: %zu path(s), %zu drop folder(s), profile deadline %llu ms, "
               "fail %s, infected: %s\n",
               a->conf.paths.n, a->drop.dirs.n, (unsigned long long)a->conf.deadline_ms,
               a->conf.fail_mode == BW_AG_FAIL_OPEN ? "open" : "closed",
               bw_agent_actions_name(a->act[BW_INFECTED], acts, sizeof acts));
        return finish(0);
    }
    if (!fg) {
        openlog("bulwark-agent", LOG_PID, LOG_DAEMON);
        bw_log_set_sink(syslog_sink, NULL);
    }
    bw_log_set_ident("bulwark-agent");
    if (respawn) {
        int r = supervise();
        if (r >= 0)
            return finish(r);
    }
    a->self = getpid();
    a->parent = respawn ? getppid() : 0;
    a->started = time(NULL);
    const char *delay = getenv("BW_AGENT_TEST_SCAN_DELAY_MS");
    if (delay && *delay) {
        a->test_delay_ms = (unsigned)strtoul(delay, NULL, 10);
        bw_log(BW_LOG_WARN, "BW_AGENT_TEST_SCAN_DELAY_MS=%u: every scan is delayed (testing only)",
               a->test_delay_ms);
    }
    pthread_mutex_init(&a->quar_lock, NULL);
    a->cache = bw_agent_cache_new(a->conf.cache_entries);

    const char *dbs[] = {a->scanner.db_dir};
    char lerr[1024] = "";
    bw_load_opts_t lo = {0};
    /* Remote mode loads the local engine only when it is the fallback. */
    if ((a->scanner.mode == 0 || a->scanner.fallback == 0) &&
        bw_engine_load(dbs, 1, &lo, &a->engine, lerr, sizeof lerr) != BW_OK) {
        fprintf(stderr, "bulwark-agent: database %s: %s\n", a->scanner.db_dir, lerr);
        return finish(1);
    }
    const bw_events_conf_t *ec = bw_conf_get(st, &bw_events_conf_table, NULL);
    if (ec->enable && bw_event_setup(ec, &err) != BW_OK)
        bw_log(BW_LOG_ERR, "events: %s (detections are logged only)", err.msg);

    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (a->conf.control_socket && a->conf.control_socket[0] &&
        bw_agent_ctl_start(a, a->conf.control_socket, &err) != BW_OK) {
        fprintf(stderr, "bulwark-agent: %s\n", err.msg);
        return finish(1);
    }
    if (bw_agent_drop_start(a, &err) != BW_OK) {
        fprintf(stderr, "bulwark-agent: %s\n", err.msg);
        return finish(1);
    }
    if (a->conf.paths.n) {
        rc = bw_agent_fan_run(a, &err);
        if (rc != BW_OK) {
            fprintf(stderr, "bulwark-agent: %s\n", err.msg);
            return finish(1);
        }
    } else {
        bw_log(BW_LOG_INFO, "drop-folder mode only");
        while (!a->stop)
            pause();
    }
    bw_log(BW_LOG_INFO, "stopping");
    if (a->conf.control_socket && a->conf.control_socket[0])
        unlink(a->conf.control_socket);
    bw_event_shutdown();
    close(a->fan_fd);
    _exit(0); /* detached scanning threads may still hold the engine */
}
