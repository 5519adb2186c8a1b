/* SPDX-License-Identifier: Apache-2.0 */
/* bulwarkd: the composition root.  It reads the configuration against the
 * one schema (app/schema.c), builds the first generation (configuration,
 * groups, listeners, engine: generation.c), and hands over to the
 * supervisor.  Everything that can be wrong with the configuration stops the
 * start here, with its reason, instead of a crash loop of workers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/schema.h"
#include "daemon/daemon.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bulwarkd [-c bulwark.conf] [-f] [-t] [--print-config] [--config-doc]\n"
               "  -c FILE          configuration file (default " BW_DEFAULT_CONF ")\n"
               "  -f               stay in the foreground and log to stderr\n"
               "  -t, --test       check the configuration and databases, then exit\n"
               "                   (binds no port: safe beside a running daemon)\n"
               "  --print-config   print the effective configuration and exit\n"
               "  --config-doc     print the reference of every key (Markdown) and exit\n"
               "  -V, --version    print the version\n"
               "Signals: SIGHUP reloads the configuration, SIGUSR1 the databases,\n"
               "SIGUSR2 writes the counters file, SIGTERM stops gracefully.\n");
}

static void write_pid_file(const char *path)
{
    if (!path || !path[0])
        return;
    char tmp[4200];
    /* Its directory (/run/bulwark) may not exist yet on a fresh machine:
     * created as for ControlSocket (control.c), so `make run` starts clean. */
    snprintf(tmp, sizeof tmp, "%s", path);
    char *slash = strrchr(tmp, '/');
    if (slash && slash != tmp) {
        *slash = '\0';
        (void)mkdir(tmp, 0755); /* EEXIST is fine; other errors show at fopen */
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* Not fopen(): a FIFO or a symlink planted at the temporary name must
     * neither block the start nor redirect root's write. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f && fd >= 0)
        close(fd);
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 || rename(tmp, path) != 0)
        bw_log(BW_LOG_WARN, "PidFile %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    const char *conf_path = BW_DEFAULT_CONF;
    int foreground = 0, print_config = 0, test_only = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
        {"print-config", no_argument, NULL, 'P'}, {"config-doc", no_argument, NULL, 'D'},
        {"test", no_argument, NULL, 't'},         {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:ftVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': conf_path = optarg; break;
        case 'f': foreground = 1; break;
        case 't': test_only = 1; break;
        case 'P': print_config = 1; break;
        case 'D': return bw_conf_doc(&bw_app_schema, stdout) == BW_OK ? 0 : 1;
        case 'V': printf("bulwarkd %s\n", BW_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bw_log_init(1);
    /* A reload re-reads the file by this name long after the start, and the
     * daemon's working directory is / by then: a relative -c must become
     * absolute now.  (The current directory is prefixed rather than every
     * symlink resolved: paths in the file stay relative to where it is
     * named, as at start.) */
    char conf_abs[PATH_MAX + 256], cwd[PATH_MAX];
    if (conf_path[0] != '/') {
        if (!getcwd(cwd, sizeof cwd) ||
            snprintf(conf_abs, sizeof conf_abs, "%s/%s", cwd, conf_path) >= (int)sizeof conf_abs) {
            fprintf(stderr, "bulwarkd: %s: cannot make the path absolute: %s\n", conf_path,
                    strerror(errno ? errno : ENAMETOOLONG));
            return 2;
        }
        conf_path = conf_abs;
    }
    bw_err_t err;
    if (print_config) {
        bw_conf_state_t *st = NULL;
        if (bw_gen_conf_load(conf_path, &st, &err) != BW_OK) {
            fprintf(stderr, "bulwarkd: %s\n", err.msg);
            return 2;
        }
        int rc = bw_conf_dump(&bw_app_schema, st, stdout) == BW_OK ? 0 : 1;
        bw_conf_free(st);
        return rc;
    }
    bw_daemon_t *d = NULL;
    if ((test_only ? bw_gen_check(conf_path, &d, &err) : bw_gen_build(conf_path, NULL, NULL, &d, &err))
        != BW_OK) {
        fprintf(stderr, "bulwarkd: %s\n", err.msg);
        return 2;
    }
    const bw_db_info_t *info = bw_engine_info(d->engine);
    bw_log(BW_LOG_INFO, "engine: %llu signatures, database version %llu%s",
           (unsigned long long)info->signatures, (unsigned long long)info->version,
           info->from_cache ? " (from cache)" : "");
    for (size_t i = 0; i < d->nlisteners; i++)
        bw_log(BW_LOG_INFO, "%s: %s", test_only ? "listen address OK (not bound by -t)" : "listening",
               d->listeners[i].name);
    if (test_only) {
        /* -t binds nothing, writes no pid file and opens no control socket:
         * it is run on the live configuration, beside the running daemon. */
        printf("bulwarkd: %s: configuration and databases OK\n", conf_path);
        bw_gen_free(d);
        return 0;
    }
    if (!foreground) {
        if (daemon(0, 0) != 0) {
            perror("bulwarkd: daemon");
            return 1;
        }
        bw_log_init(0);
    }
    write_pid_file(d->dc->pid_file);
    char pid_file[4096];
    snprintf(pid_file, sizeof pid_file, "%s", d->dc->pid_file ? d->dc->pid_file : "");
    int rc = bw_supervise(d, conf_path, foreground);
    if (pid_file[0])
        unlink(pid_file);
    return rc;
}
