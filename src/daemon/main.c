/* bulwarkd: the composition root.  It reads the configuration against every
 * module's key table, loads the engine once (shared by the workers after
 * fork), checks every listener can be opened, and hands over to the
 * supervisor. */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "app/schema.h"
#include "daemon/daemon.h"
#include "daemon/stats.h"
#include "policy/groups.h"
#include "policy/notify.h"


static void usage(FILE *f)
{
    fprintf(f, "usage: bulwarkd -c bulwark.conf [-f] [--print-config] [--config-doc]\n"
               "  -c FILE          configuration file (default /etc/bulwark/bulwark.conf)\n"
               "  -f               stay in the foreground and log to stderr\n"
               "  --print-config   print the effective configuration and exit\n"
               "  --config-doc     print the reference of every key (Markdown) and exit\n"
               "  -V, --version    print the version\n");
}

int main(int argc, char **argv)
{
    const char *conf_path = BW_DEFAULT_CONF;
    int foreground = 0, print_config = 0;
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"foreground", no_argument, NULL, 'f'},
        {"print-config", no_argument, NULL, 'P'}, {"config-doc", no_argument, NULL, 'D'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
        switch (o) {
        case 'c': conf_path = optarg; break;
        case 'f': foreground = 1; break;
        case 'P': print_config = 1; break;
        case 'D': return bw_conf_doc(&bw_app_schema, stdout) == BW_OK ? 0 : 1;
        case 'V': printf("bulwarkd %s\n", BW_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bw_log_init(1);
    bw_conf_state_t *st = NULL;
    bw_err_t err;
    if (bw_conf_load(&bw_app_schema, conf_path, &st, &err) != BW_OK) {
        fprintf(stderr, "bulwarkd: %s\n", err.msg);
        return 2;
    }
    if (print_config) {
        int rc = bw_conf_dump(&bw_app_schema, st, stdout) == BW_OK ? 0 : 1;
        bw_conf_free(st);
        return rc;
    }
    bw_daemon_t d;
    memset(&d, 0, sizeof d);
    d.dc = bw_conf_get(st, &bw_daemon_conf_table, NULL);
    d.ic = bw_conf_get(st, &bw_icap_conf_table, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    d.nworkers = d.dc->max_children ? (int)d.dc->max_children : (int)(cores > 0 ? cores : 1);

    d.st = st;
    d.sc = bw_conf_get(st, &bw_stats_conf_table, NULL);
    d.nc = bw_conf_get(st, &bw_notify_conf_table, NULL);
    if (bw_groups_build(st, &d.groups, &err) != BW_OK) {
        fprintf(stderr, "bulwarkd: %s\n", err.msg);
        bw_conf_free(st);
        return 2;
    }
    {
        /* Statistics slots: the default group first, then each group. */
        size_t ng = bw_groups_count(d.groups);
        const char **names = calloc(ng + 1, sizeof *names);
        for (size_t i = 0; names && i < ng; i++)
            names[i + 1] = bw_groups_name(d.groups, i);
        d.stats = names ? bw_stats_create((unsigned)d.nworkers, (unsigned)ng + 1, names) : NULL;
        free(names);
    }
    /* Connection counters every worker sees: MaxConnections is server-wide. */
    void *slots = mmap(NULL, (size_t)d.nworkers * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    d.conn_slots = slots == MAP_FAILED ? NULL : slots;
    char lerr[1024];
    bw_load_opts_t lo = {d.dc->cache_dir && d.dc->cache_dir[0] ? d.dc->cache_dir : NULL};
    const char **paths = (const char **)d.dc->bases.items;
    if (bw_engine_load(paths, d.dc->bases.n, &lo, &d.engine, lerr, sizeof lerr) != BW_OK) {
        fprintf(stderr, "bulwarkd: %s\n", lerr);
        bw_groups_free(d.groups);
        bw_stats_destroy(d.stats);
        bw_conf_free(st);
        return 2;
    }
    const bw_db_info_t *info = bw_engine_info(d.engine);
    bw_log(BW_LOG_INFO, "engine: %llu signatures, database version %u%s",
           (unsigned long long)info->signatures, info->version,
           info->from_cache ? " (from cache)" : "");
    /* Open each listener once here, so a bad address stops the start with
     * its reason instead of a crash loop of workers. */
    for (size_t i = 0; i < d.dc->listen.n; i++) {
        int fd = bw_listen_open(BW_CONF_LIST_AT(&d.dc->listen, char *, i), &err);
        if (fd < 0) {
            fprintf(stderr, "bulwarkd: %s: %s\n", conf_path, err.msg);
            bw_engine_unref(d.engine);
            bw_groups_free(d.groups);
            bw_stats_destroy(d.stats);
            bw_conf_free(st);
            return 2;
        }
        close(fd);
        bw_log(BW_LOG_INFO, "listening on %s", BW_CONF_LIST_AT(&d.dc->listen, char *, i));
    }
    if (!foreground) {
        if (daemon(0, 0) != 0) {
            perror("bulwarkd: daemon");
            return 1;
        }
        bw_log_init(0);
    }
    /* Check the metrics address binds, so a bad one stops the start; the
     * endpoint itself runs in its own process (supervisor.c), and no thread
     * is left running here when the workers fork. */
    if (d.sc->metrics_addr && d.sc->metrics_addr[0] &&
        bw_stats_http_start(d.stats, d.sc->metrics_addr, &err) != BW_OK) {
        bw_log(BW_LOG_ERR, "%s", err.msg);
        bw_engine_unref(d.engine);
        bw_groups_free(d.groups);
        bw_stats_destroy(d.stats);
        bw_conf_free(st);
        return 2;
    }
    bw_stats_http_stop();
    int rc = bw_supervise(&d);
    if (d.sc->counter_file && d.sc->counter_file[0])
        bw_stats_write_file(d.stats, d.sc->counter_file);
    bw_stats_destroy(d.stats);
    bw_groups_free(d.groups);
    bw_engine_unref(d.engine);
    bw_conf_free(st);
    return rc;
}
