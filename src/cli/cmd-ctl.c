/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark ctl start|stop|restart|status|reload|reload-bases|stats`
 *
 * Everything but start goes through the daemon's control socket
 * (daemon/control.h), whose path comes from the same bulwark.conf the daemon
 * reads ([path] ControlSocket), so the two cannot disagree, or from -s.
 * Only that key is read, leniently (app/ctl-client.h): a `reload` of a file
 * with a mistake must reach the daemon, which refuses it with file:line,
 * logs it and shows it in `status`.  `start` and `restart` load the whole
 * file first (a broken one fails them with file:line before anything is
 * stopped or run); then bulwarkd validates the configuration and databases
 * before it detaches.  `stop` returns once the daemon is gone, so `restart`
 * and init scripts can chain.
 *
 * Exit codes: 0 done; 1 the daemon refused or failed (the reason is printed);
 * 2 usage or configuration error; 3 not running (`status`, as LSB wants);
 * 4 insufficient privilege (the control socket is root's; LSB's code for it):
 * "not running" would be a lie when the daemon is there but this user may not
 * talk to it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/ctl-client.h"
#include "app/daemon-conf.h"
#include "app/schema.h"
#include "cli.h"

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2, CTL_NOT_RUNNING = 3, CTL_DENIED = 4 };

static void ctl_usage(FILE *f)
{
    fprintf(f,
            "Usage: bulwark ctl [-c bulwark.conf] [-s SOCKET] [-t SECONDS] COMMAND\n"
            "\n"
            "Commands:\n"
            "  start         start bulwarkd (checks the configuration first)\n"
            "  stop          stop bulwarkd gracefully and wait until it is gone\n"
            "  restart       stop, then start\n"
            "  status        version, databases, uptime, workers, load, last reload\n"
            "  reload        reload the configuration (the daemon validates it; if it\n"
            "                refuses, the running configuration stays, the reason is\n"
            "                printed, logged and shown by status, and the exit code is 1)\n"
            "  reload-bases  recompile the databases in the background and switch\n"
            "  stats         the server-wide counters (`name value` lines)\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE   configuration (default " BW_DEFAULT_CONF ")\n"
            "  -s, --socket PATH   control socket (default: [path] ControlSocket of the\n"
            "                      configuration, read alone: the rest of the file is\n"
            "                      the daemon's to check; else " BW_DEFAULT_CTL_SOCKET ")\n"
            "  -t, --timeout SEC   how long to wait for the daemon (default 120)\n"
            "  -h, --help          this text\n"
            "\n"
            "Exit codes: 0 done, 1 failed, 2 usage or configuration error, 3 not running,\n"
            "4 permission denied (the control socket is root's).\n");
}

static int ms_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    return nanosleep(&ts, NULL);
}

/* 1 if a daemon answers on `sock`, BW_CTL_DENIED if we may not ask it
 * (*err says why), else 0. */
static int running_err(const char *sock, bw_err_t *err)
{
    char *text = NULL;
    int rc = bw_ctl_call(sock, "ping", 2000, &text, err);
    free(text);
    return rc == BW_CTL_DENIED ? BW_CTL_DENIED : rc == 1;
}

static int running(const char *sock)
{
    bw_err_t err;
    return running_err(sock, &err) == 1;
}

/* bulwarkd beside this program (a build tree or /usr/sbin next to /usr/bin),
 * else from PATH. */
static void find_daemon(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            const char *tries[] = {"%s/bulwarkd", "%s/../sbin/bulwarkd"};
            for (size_t i = 0; i < 2; i++) {
                snprintf(out, cap, tries[i], self);
                if (access(out, X_OK) == 0)
                    return;
            }
        }
    }
    snprintf(out, cap, "bulwarkd");
}

static int do_start(const char *conf, const char *sock, int timeout_s)
{
    bw_err_t err;
    int r = running_err(sock, &err);
    if (r == BW_CTL_DENIED) {
        fprintf(stderr, "bulwark ctl: %s\n", err.msg);
        return CTL_DENIED;
    }
    if (r == 1) {
        printf("bulwarkd is already running\n");
        return CTL_OK;
    }
    char daemon[PATH_MAX + 32];
    find_daemon(daemon, sizeof daemon);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bulwark ctl: fork: %s\n", strerror(errno));
        return CTL_FAILED;
    }
    if (pid == 0) {
        execlp(daemon, daemon, "-c", conf, (char *)NULL);
        fprintf(stderr, "bulwark ctl: cannot run %s: %s\n", daemon, strerror(errno));
        _exit(127);
    }
    /* bulwarkd detaches once the configuration and databases are loaded;
     * its exit status says whether they were. */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bulwark ctl: bulwarkd did not start (status %d)\n",
                WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
        return CTL_FAILED;
    }
    for (int waited = 0; waited < timeout_s * 1000; waited += 100) {
        if (running(sock)) {
            printf("bulwarkd started\n");
            return CTL_OK;
        }
        ms_sleep(100);
    }
    fprintf(stderr, "bulwark ctl: bulwarkd started but does not answer on %s\n", sock);
    return CTL_FAILED;
}

static int do_stop(const char *sock, int timeout_s)
{
    char *text = NULL;
    bw_err_t err;
    int rc = bw_ctl_call(sock, "stop", 5000, &text, &err);
    free(text);
    if (rc == BW_CTL_DENIED) {
        fprintf(stderr, "bulwark ctl: %s\n", err.msg);
        return CTL_DENIED;
    }
    if (rc < 0) {
        printf("bulwarkd is not running (%s)\n", err.msg);
        return CTL_OK; /* stopping a stopped service succeeds (LSB) */
    }
    /* The socket goes away when the supervisor exits, after its workers. */
    struct stat sb;
    for (int waited = 0; waited < timeout_s * 1000; waited += 100) {
        if (stat(sock, &sb) != 0 && !running(sock)) {
            printf("bulwarkd stopped\n");
            return CTL_OK;
        }
        ms_sleep(100);
    }
    fprintf(stderr, "bulwark ctl: bulwarkd is still running after %d s\n", timeout_s);
    return CTL_FAILED;
}

static int do_simple(const char *sock, const char *verb, int timeout_s)
{
    char *text = NULL;
    bw_err_t err;
    int rc = bw_ctl_call(sock, verb, timeout_s * 1000, &text, &err);
    if (rc == BW_CTL_DENIED) {
        fprintf(stderr, "bulwark ctl: %s\n", err.msg);
        return CTL_DENIED;
    }
    if (rc < 0) {
        fprintf(stderr, "bulwark ctl: %s\n", err.msg);
        return CTL_NOT_RUNNING;
    }
    fputs(text, rc == 1 ? stdout : stderr);
    free(text);
    return rc == 1 ? CTL_OK : CTL_FAILED;
}

int bw_cmd_ctl(int argc, char **argv)
{
    const char *conf = BW_DEFAULT_CONF, *sock = NULL;
    int timeout_s = 120;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"socket", required_argument, NULL, 's'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "+c:s:t:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': conf = optarg; break;
        case 's': sock = optarg; break;
        case 't': {
            uint64_t v;
            if (bw_cli_parse_uint(optarg, 86400, &v) != BW_OK || v == 0) {
                fprintf(stderr, "bulwark ctl: --timeout: '%s' is not a number of seconds\n", optarg);
                return CTL_USAGE;
            }
            timeout_s = (int)v;
            break;
        }
        case 'h': ctl_usage(stdout); return CTL_OK;
        default: ctl_usage(stderr); return CTL_USAGE;
        }
    }
    if (optind != argc - 1) {
        ctl_usage(stderr);
        return CTL_USAGE;
    }
    const char *verb = argv[optind];
    static const char *const verbs[] = {"start", "stop",  "restart", "status",
                                        "reload", "reload-bases", "stats"};
    int known = 0;
    for (size_t i = 0; i < sizeof verbs / sizeof *verbs; i++)
        known |= strcmp(verb, verbs[i]) == 0;
    if (!known) {
        fprintf(stderr, "bulwark ctl: unknown command '%s'\n", verb);
        ctl_usage(stderr);
        return CTL_USAGE;
    }
    char sockbuf[4096];
    int starts = strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0;
    if (starts) {
        /* It runs bulwarkd on this file: check it all before anything is
         * stopped or started. */
        bw_conf_state_t *st = NULL;
        bw_err_t err;
        if (bw_conf_load(&bw_app_schema, conf, &st, &err) != BW_OK) {
            fprintf(stderr, "bulwark ctl: %s\n", err.msg);
            return CTL_USAGE;
        }
        const bw_daemon_conf_t *dc = bw_conf_get(st, &bw_daemon_conf_table, NULL);
        snprintf(sockbuf, sizeof sockbuf, "%s", dc->control_socket ? dc->control_socket : "");
        bw_conf_free(st);
        if (!sockbuf[0] && !sock) {
            fprintf(stderr, "bulwark ctl: %s sets no ControlSocket\n", conf);
            return CTL_USAGE;
        }
    } else if (!sock) {
        bw_err_t err;
        char note[4400];
        if (bw_ctl_socket_of(conf, sockbuf, sizeof sockbuf, note, sizeof note, &err) != BW_OK) {
            fprintf(stderr, "bulwark ctl: %s\n", err.msg);
            return CTL_USAGE;
        }
        if (note[0])
            fprintf(stderr, "bulwark ctl: %s\n", note);
    }
    if (!sock)
        sock = sockbuf;
    if (strcmp(verb, "start") == 0)
        return do_start(conf, sock, timeout_s);
    if (strcmp(verb, "stop") == 0)
        return do_stop(sock, timeout_s);
    if (strcmp(verb, "restart") == 0) {
        int rc = do_stop(sock, timeout_s);
        return rc == CTL_OK ? do_start(conf, sock, timeout_s) : rc;
    }
    if (strcmp(verb, "status") == 0) {
        int rc = do_simple(sock, "status", timeout_s);
        if (rc == CTL_NOT_RUNNING)
            printf("bulwarkd is not running\n");
        return rc;
    }
    return do_simple(sock, verb, timeout_s);
}
