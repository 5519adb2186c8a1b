/* SPDX-License-Identifier: Apache-2.0 */
/* bulwark-console: the composition root.  Reads its configuration (a file,
 * or the quick start's two options), opens the store, makes the first admin
 * account, starts retention and the HTTP server, and waits for SIGTERM or
 * SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bulwark/bulwark.h"
#include "console/console.h"
#include "core/log.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: bulwark-console [-c console.conf] [-t]\n"
               "       bulwark-console --data DIR --listen ADDR:PORT   (quick start, no file)\n"
               "  -c, --config FILE  configuration file (default " BW_CONSOLE_DEFAULT_CONF ")\n"
               "  --data DIR         quick start: state in DIR (SQLite at DIR/console.db)\n"
               "  --listen ADDR:PORT quick start: where to listen (plain HTTP unless the\n"
               "                     file sets TlsCertificate)\n"
               "  -t, --test         check the configuration and exit (binds and creates nothing)\n"
               "  --print-config     print the effective configuration and exit\n"
               "  --config-doc       print the reference of every key (Markdown) and exit\n"
               "  -V, --version      print the version\n"
               "Environment: BULWARK_CONSOLE_ADMIN_PASSWORD sets the first admin's password.\n");
}

/* UiDirectory's default: the checkout's src/console/ui when the binary runs
 * from build/ (or build-san/) of a source tree, else the installed copy. */
static void default_ui(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (k > 0) {
        exe[k] = 0;
        char *s = strrchr(exe, '/');
        if (s) {
            *s = 0;
            if ((size_t)snprintf(out, n, "%s/../src/console/ui", exe) >= n)
                goto installed;
            struct stat st;
            char probe[PATH_MAX + 64];
            snprintf(probe, sizeof(probe), "%s/../src/console/store.h", exe);
            if (stat(out, &st) == 0 && S_ISDIR(st.st_mode) && stat(probe, &st) == 0) {
                char *rp = realpath(out, NULL);
                if (rp) {
                    snprintf(out, n, "%s", rp);
                    free(rp);
                }
                return;
            }
        }
    }
installed:
    snprintf(out, n, "%s", BW_CONSOLE_INSTALLED_UI);
}

static void store_url(const bw_console_conf_t *cf, char *out, size_t n)
{
    if (cf->database_url && *cf->database_url)
        snprintf(out, n, "%s", cf->database_url);
    else
        snprintf(out, n, "sqlite:%s/console.db", cf->data_dir);
}

/* -t: what can be checked without binding or creating anything. */
static int check_only(const bw_console_conf_t *cf)
{
    int bad = 0;
    const char *files[] = {cf->tls_cert, cf->tls_key};
    for (int i = 0; i < 2; i++)
        if (files[i] && *files[i] && access(files[i], R_OK) != 0) {
            fprintf(stderr, "bulwark-console: %s: %s\n", i ? "TlsKey" : "TlsCertificate",
                    strerror(errno));
            bad = 1;
        }
    const char *u = cf->database_url;
    if (u && *u && strncmp(u, "sqlite:", 7) && strncmp(u, "postgresql://", 13) &&
        strncmp(u, "postgres://", 11) && u[0] != '/') {
        fprintf(stderr, "bulwark-console: DatabaseUrl %s: expected sqlite:PATH, an absolute path "
                        "or postgresql://...\n", u);
        bad = 1;
    }
    if (!bad)
        printf("bulwark-console: configuration OK\n");
    return bad;
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL, *data = NULL, *listen = NULL;
    int test = 0, print = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"test", no_argument, NULL, 't'},
        {"data", required_argument, NULL, 'd'},   {"listen", required_argument, NULL, 'l'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {"config-doc", no_argument, NULL, 'D'},   {"print-config", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:tVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': conf_path = optarg; break;
        case 't': test = 1; break;
        case 'd': data = optarg; break;
        case 'l': listen = optarg; break;
        case 'P': print = 1; break;
        case 'V': printf("bulwark-console %s\n", BW_VERSION); return 0;
        case 'D': return bw_conf_doc(&bw_console_schema, stdout) == BW_OK ? 0 : 1;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || (!!data != !!listen) || (data && conf_path)) {
        usage(stderr);
        fprintf(stderr, "bulwark-console: --data and --listen go together, without -c\n");
        return 2;
    }
    bw_log_set_ident("bulwark-console");
    bw_err_t err = {{0}};
    bw_conf_state_t *st = NULL;
    int rc = data ? bw_console_conf_quick(data, listen, &st, &err)
                  : bw_conf_load(&bw_console_schema, conf_path ? conf_path : BW_CONSOLE_DEFAULT_CONF,
                                 &st, &err);
    if (rc != BW_OK) {
        fprintf(stderr, "bulwark-console: %s\n", err.msg);
        return 1;
    }
    const bw_console_conf_t *cf = bw_conf_get(st, &bw_console_conf_table, NULL);
    if (print) {
        rc = bw_conf_dump(&bw_console_schema, st, stdout) == BW_OK ? 0 : 1;
        bw_conf_free(st);
        return rc;
    }
    if (test) {
        rc = check_only(cf);
        bw_conf_free(st);
        return rc;
    }

    static bw_console_t con;
    con.conf = cf;
    con.started_us = bw_now_us();
    if (cf->ui_dir && *cf->ui_dir)
        snprintf(con.ui_dir, sizeof(con.ui_dir), "%s", cf->ui_dir);
    else
        default_ui(con.ui_dir, sizeof(con.ui_dir));
    snprintf(con.js_dir, sizeof(con.js_dir), "%s", cf->js_dir ? cf->js_dir : "");
    if (!cf->database_url || !*cf->database_url) {
        if (mkdir(cf->data_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "bulwark-console: DataDirectory %s: %s\n", cf->data_dir,
                    strerror(errno));
            return 1;
        }
    }
    char url[4200];
    store_url(cf, url, sizeof(url));
    if (bw_store_open(url, &con.store, &err) != BW_OK) {
        fprintf(stderr, "bulwark-console: database: %s\n", err.msg);
        return 1;
    }
    bw_log(BW_LOG_INFO, "store: %s, schema version %d; UI from %s", bw_store_kind(con.store),
           bw_store_schema_version(con.store), con.ui_dir);
    if (bw_console_first_admin(&con, &err) != BW_OK) {
        fprintf(stderr, "bulwark-console: first admin: %s\n", err.msg);
        bw_store_close(con.store);
        return 1;
    }
    /* Signals for main only: block them before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (bw_http_start(&con, &err) != BW_OK || bw_retention_start(&con, &err) != BW_OK) {
        fprintf(stderr, "bulwark-console: %s\n", err.msg);
        bw_http_stop(&con);
        bw_store_close(con.store);
        return 1;
    }
    int sig = 0;
    for (;;) {
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            bw_log(BW_LOG_INFO, "SIGHUP: nothing to reopen (restart to change the configuration)");
            continue;
        }
        break;
    }
    bw_log(BW_LOG_INFO, "signal %d: stopping", sig);
    bw_http_stop(&con);
    bw_retention_stop();
    bw_store_close(con.store);
    bw_conf_free(st);
    return 0;
}
