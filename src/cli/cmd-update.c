/* SPDX-License-Identifier: Apache-2.0 */
/* `bulwark update`: the front end of the updater (src/update/).
 *
 *   bulwark update [-c FILE] [--force] [--dry-run] [-v]   one update
 *   bulwark update --rollback [-c FILE]                   back to the previous set
 *   bulwark update --daemon [--interval DUR] [-c FILE]    one update per interval
 *   bulwark update --sign KEY.pem [--set-version N] DIR   write and sign a manifest
 *   bulwark update --manifest [--set-version N] DIR       the same, unsigned
 *
 * It reads the same bulwark.conf as bulwarkd, through the one schema, so
 * BasesPath means the same thing to both: the first BasesPath entry is the
 * set the updater manages, and the others (local signatures, allow lists)
 * are loaded next to the new set in the trial compile, as bulwarkd will load
 * them.
 *
 * Signals: SIGTERM, SIGINT and SIGHUP stay blocked for the whole run and are
 * only looked at, with sigpending() while an update runs (the library polls
 * a stop callback) and with sigtimedwait() between runs.  So a stop never
 * interrupts a rename half-way, the staging directory is always cleaned up,
 * and no handler runs inside libcurl.  In --daemon mode SIGHUP starts a run
 * at once (the configuration is read again before every run).
 *
 * Exit codes (docs/update.md): 0 updated, up to date, rolled back or signed;
 * 2 usage, configuration or local error; 3 download failed; 4 verification
 * failed; 5 the set does not load; 6 in place, but PostUpdateCmd or
 * publishing failed; 7 another update holds the lock.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/daemon-conf.h"
#include "app/schema.h"
#include "cli.h"
#include "core/conf.h"
#include "events/event.h"
#include "update/update.h"

enum {
    EXIT_DOWNLOAD = 3,
    EXIT_VERIFY = 4,
    EXIT_COMPILE = 5,
    EXIT_POST = 6,
    EXIT_LOCKED = 7,
};

enum { OPT_ROLLBACK = 256, OPT_DAEMON, OPT_INTERVAL, OPT_FORCE, OPT_SIGN, OPT_MANIFEST,
       OPT_SET_VERSION };

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"rollback", no_argument, NULL, OPT_ROLLBACK},
    {"daemon", no_argument, NULL, OPT_DAEMON},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"force", no_argument, NULL, OPT_FORCE},
    {"dry-run", no_argument, NULL, 'n'},
    {"verbose", no_argument, NULL, 'v'},
    {"sign", required_argument, NULL, OPT_SIGN},
    {"manifest", no_argument, NULL, OPT_MANIFEST},
    {"set-version", required_argument, NULL, OPT_SET_VERSION},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void update_help(FILE *f)
{
    fprintf(f,
            "Usage: bulwark update [OPTIONS]\n"
            "       bulwark update --rollback [-c FILE]\n"
            "       bulwark update --daemon [--interval DURATION] [-c FILE]\n"
            "       bulwark update --sign KEY.pem [--set-version N] [--force] DIR\n"
            "       bulwark update --manifest [--set-version N] [--force] DIR\n"
            "\n"
            "Fetches the signature set published at [updater.options] UpdateServerUrl (or\n"
            "UpdateSourceDir), checks it (signature, sizes, SHA-256, a trial compile) and\n"
            "switches the first [path] BasesPath to it atomically.\n"
            "\n"
            "  -c, --config=FILE     configuration (default %s)\n"
            "      --rollback        switch back to the previous set\n"
            "      --daemon          update now and then every UpdateInterval, until SIGTERM\n"
            "                        (stays in the foreground; SIGHUP: update now)\n"
            "      --interval=DUR    the period for --daemon (30s, 15m, 1h; default\n"
            "                        UpdateInterval)\n"
            "      --force           install even a version that is older than, equal to or\n"
            "                        rolled back from the installed one; with --sign, sign a\n"
            "                        set that does not load\n"
            "  -n, --dry-run         fetch the manifest and say what an update would do\n"
            "  -v, --verbose         say each step\n"
            "      --sign=KEY.pem    publisher: write DIR/bulwark.manifest and sign it with\n"
            "                        the ed25519 private key (DIR/bulwark.manifest.sig)\n"
            "      --manifest        publisher: write DIR/bulwark.manifest, unsigned\n"
            "      --set-version=N   the version to give the set (default: one more than\n"
            "                        DIR's current manifest, or 1)\n"
            "  -h, --help            this text\n"
            "\n"
            "Exit status: 0 updated, up to date, rolled back or signed; 2 usage,\n"
            "configuration or local error; 3 download failed; 4 verification failed;\n"
            "5 the set does not load; 6 installed, but PostUpdateCmd or publishing failed;\n"
            "7 another update is running.\n",
            BW_DEFAULT_CONF);
}

typedef struct opts {
    const char *conf_path;
    int rollback, daemon, force, dry_run, verbose;
    uint64_t interval_ms;
    const char *sign_key;
    int manifest_only;
    uint64_t set_version;
} opts_t;

/* ---- output -------------------------------------------------------------------- */

static int g_daemon_mode; /* prefix lines with the time (--daemon) */

static void stamp(FILE *f)
{
    if (!g_daemon_mode)
        return;
    char buf[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z ", localtime_r(&now, &tm));
    fputs(buf, f);
}

static void on_log(void *arg, int level, const char *msg)
{
    const opts_t *o = arg;
    if (level == BW_UPDATE_LOG_INFO && !o->verbose)
        return;
    stamp(stderr);
    fprintf(stderr, "bulwark update: %s%s\n",
            level == BW_UPDATE_LOG_WARN ? "warning: " : level == BW_UPDATE_LOG_NOTE ? "note: " : "",
            msg);
}

static int exit_code(const bw_update_report_t *rep)
{
    switch (rep->failure) {
    case BW_UPDATE_FAIL_NONE: return BW_EXIT_CLEAN;
    case BW_UPDATE_FAIL_DOWNLOAD: return EXIT_DOWNLOAD;
    case BW_UPDATE_FAIL_VERIFY: return EXIT_VERIFY;
    case BW_UPDATE_FAIL_COMPILE: return EXIT_COMPILE;
    case BW_UPDATE_FAIL_POST: return EXIT_POST;
    case BW_UPDATE_FAIL_LOCKED: return EXIT_LOCKED;
    default: return BW_EXIT_ERROR;
    }
}

static void version_text(char *out, size_t len, int have, uint64_t v)
{
    if (have)
        snprintf(out, len, "version %" PRIu64, v);
    else
        snprintf(out, len, "an unversioned set");
}

/* Prints what a run came to; returns the exit code. */
static int report(const opts_t *o, const bw_update_report_t *rep)
{
    char from[48], to[48];
    version_text(from, sizeof from, rep->have_from, rep->from);
    version_text(to, sizeof to, rep->have_to, rep->to);
    stamp(stdout);
    switch (rep->outcome) {
    case BW_UPDATE_UPDATED:
        if (rep->have_from)
            printf("updated from version %" PRIu64 " to %" PRIu64 "\n", rep->from, rep->to);
        else if (rep->had_set)
            printf("updated from %s to version %" PRIu64 "\n", from, rep->to);
        else
            printf("installed version %" PRIu64 " (there was no set at BasesPath)\n", rep->to);
        if (o->verbose)
            printf("%zu files: %zu fetched (%" PRIu64 " bytes), %zu unchanged; %" PRIu64
                   " signatures in use\n", rep->nfiles, rep->fetched, rep->fetched_bytes,
                   rep->reused, rep->signatures);
        break;
    case BW_UPDATE_CURRENT:
        printf("up to date (version %" PRIu64 ")\n", rep->to);
        break;
    case BW_UPDATE_SKIPPED:
        printf("up to date (%s; %s)\n", from, rep->message);
        break;
    case BW_UPDATE_WOULD_UPDATE:
        printf("would update from %s to %s: %zu of %zu files to fetch (%" PRIu64 " bytes)\n",
               from, to, rep->fetched, rep->nfiles, rep->fetched_bytes);
        break;
    case BW_UPDATE_ROLLED_BACK:
        printf("rolled back from %s to %s\n", from, to);
        break;
    case BW_UPDATE_SIGNED:
        printf("wrote the manifest of version %" PRIu64 " (%zu files)%s\n", rep->to, rep->nfiles,
               o->sign_key ? ", signed" : ", unsigned");
        break;
    case BW_UPDATE_FAILED:
        break;
    }
    fflush(stdout);
    if (rep->outcome == BW_UPDATE_CURRENT && rep->message[0]) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: warning: %s\n", rep->message);
    }
    if (rep->outcome == BW_UPDATE_FAILED) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: %s: %s\n", bw_update_failure_name(rep->failure),
                rep->message);
    } else if (rep->failure == BW_UPDATE_FAIL_POST) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: %s: %s\n", bw_update_failure_name(rep->failure),
                rep->post_error);
    }
    return exit_code(rep);
}

/* ---- configuration and one run ------------------------------------------------------- */

static int stop_requested(void *arg)
{
    (void)arg;
    sigset_t pending;
    return sigpending(&pending) == 0 &&
           (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* Loads the configuration; NULL after printing why. */
static bw_conf_state_t *load_conf(const opts_t *o)
{
    bw_conf_state_t *st = NULL;
    bw_err_t err = {{0}};
    if (bw_conf_load(&bw_app_schema, o->conf_path, &st, &err) != BW_OK) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: %s\n", err.msg);
        return NULL;
    }
    return st;
}

static int run_once(const opts_t *o, const bw_conf_state_t *st)
{
    const bw_daemon_conf_t *dc = bw_conf_get(st, &bw_daemon_conf_table, NULL);
    const bw_update_conf_t *uc = bw_conf_get(st, &bw_update_conf_table, NULL);
    if (!dc || !uc || dc->bases.n == 0) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: %s: no [path] BasesPath\n", o->conf_path);
        return BW_EXIT_ERROR;
    }
    const char *const *bases = dc->bases.items;
    bw_update_req_t req = {
        .conf = uc,
        .bases_path = bases[0],
        .other_bases = bases + 1,
        .nother = dc->bases.n - 1,
        .cache_dir = dc->cache_dir,
        .force = o->force,
        .dry_run = o->dry_run,
        .log = on_log,
        .log_arg = (void *)o,
        .stop = stop_requested,
    };
    /* update.done / update.failed go to the node's event spool (docs/events.md) */
    const bw_events_conf_t *ec = bw_conf_get(st, &bw_events_conf_table, NULL);
    bw_err_t eerr;
    if (ec && !o->dry_run && bw_event_setup(ec, &eerr) != BW_OK) {
        stamp(stderr);
        fprintf(stderr, "bulwark update: events not written: %s\n", eerr.msg);
    }
    bw_update_report_t rep;
    if (o->rollback)
        bw_update_rollback(&req, &rep);
    else
        bw_update_run(&req, &rep);
    bw_event_shutdown();
    return report(o, &rep);
}

/* Waits up to ms for SIGTERM/SIGINT (returns 1) or SIGHUP (returns 0 early). */
static int wait_or_stop(uint64_t ms)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)(ms / 1000);
    end.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            return 0;
        struct timespec left = {end.tv_sec - now.tv_sec, end.tv_nsec - now.tv_nsec};
        if (left.tv_nsec < 0) {
            left.tv_sec--;
            left.tv_nsec += 1000000000L;
        }
        int sig = sigtimedwait(&set, NULL, &left);
        if (sig == SIGTERM || sig == SIGINT)
            return 1;
        if (sig == SIGHUP)
            return 0;
        if (sig < 0 && errno != EINTR && errno != EAGAIN)
            return 1;
    }
}

static int daemon_loop(opts_t *o)
{
    g_daemon_mode = 1;
    bw_conf_state_t *st = load_conf(o);
    if (!st)
        return BW_EXIT_ERROR;
    stamp(stderr);
    fprintf(stderr, "bulwark update: daemon started (pid %ld, configuration %s)\n",
            (long)getpid(), o->conf_path);
    for (;;) {
        const bw_update_conf_t *uc = bw_conf_get(st, &bw_update_conf_table, NULL);
        uint64_t interval = o->interval_ms ? o->interval_ms : uc->interval_ms;
        run_once(o, st);
        if (stop_requested(NULL) || wait_or_stop(interval))
            break;
        /* the file may have changed; a broken edit keeps the last good one */
        bw_conf_state_t *next = load_conf(o);
        if (next) {
            bw_conf_free(st);
            st = next;
        } else {
            stamp(stderr);
            fprintf(stderr, "bulwark update: keeping the previous configuration\n");
        }
    }
    stamp(stderr);
    fprintf(stderr, "bulwark update: daemon stopping\n");
    bw_conf_free(st);
    return BW_EXIT_CLEAN;
}

/* ---- the command ------------------------------------------------------------------------ */

static int parse_opts(int argc, char **argv, opts_t *o)
{
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "c:nvh", long_opts, NULL)) != -1) {
        bw_err_t err;
        switch (c) {
        case 'c': o->conf_path = optarg; break;
        case OPT_ROLLBACK: o->rollback = 1; break;
        case OPT_DAEMON: o->daemon = 1; break;
        case OPT_FORCE: o->force = 1; break;
        case 'n': o->dry_run = 1; break;
        case 'v': o->verbose = 1; break;
        case OPT_SIGN: o->sign_key = optarg; break;
        case OPT_MANIFEST: o->manifest_only = 1; break;
        case OPT_INTERVAL:
            if (bw_conf_parse_duration(optarg, &o->interval_ms, &err) != BW_OK ||
                o->interval_ms < 1000) {
                fprintf(stderr, "bulwark update: --interval '%s': a duration of at least 1s "
                        "(30s, 15m, 1h)\n", optarg);
                return -1;
            }
            break;
        case OPT_SET_VERSION:
            if (bw_cli_parse_uint(optarg, INT64_MAX, &o->set_version) != BW_OK ||
                o->set_version == 0) {
                fprintf(stderr, "bulwark update: --set-version '%s': a number from 1 to %lld\n",
                        optarg, (long long)INT64_MAX);
                return -1;
            }
            break;
        case 'h': update_help(stdout); return 1;
        default: return -1;
        }
    }
    int publisher = o->sign_key || o->manifest_only;
    const char *clash = NULL;
    if (publisher && o->sign_key && o->manifest_only)
        clash = "--sign and --manifest";
    else if (publisher && (o->rollback || o->daemon || o->dry_run))
        clash = "--sign/--manifest and --rollback/--daemon/--dry-run";
    else if (o->rollback && (o->daemon || o->dry_run || o->force))
        clash = "--rollback and --daemon/--dry-run/--force";
    else if (o->daemon && o->force)
        clash = "--daemon and --force"; /* it would reinstall the same set every round */
    else if (o->set_version && !publisher)
        clash = "--set-version without --sign or --manifest";
    else if (o->interval_ms && !o->daemon)
        clash = "--interval without --daemon";
    if (clash) {
        fprintf(stderr, "bulwark update: %s do not go together\n", clash);
        return -1;
    }
    if (publisher != (optind == argc - 1)) {
        fprintf(stderr, publisher ? "bulwark update: --sign/--manifest take one directory\n"
                                  : "bulwark update: unexpected argument '%s'\n",
                optind < argc ? argv[optind] : "");
        return -1;
    }
    return 0;
}

int bw_cmd_update(int argc, char **argv)
{
    opts_t o = {.conf_path = BW_DEFAULT_CONF};
    int rc = parse_opts(argc, argv, &o);
    if (rc) {
        if (rc < 0)
            fputs("Try 'bulwark update --help'.\n", stderr);
        return rc < 0 ? BW_EXIT_ERROR : BW_EXIT_CLEAN;
    }
    if (o.sign_key || o.manifest_only) {
        bw_update_report_t rep;
        bw_update_sign_dir(argv[argc - 1], o.sign_key, o.set_version, !o.force, &rep);
        return report(&o, &rep);
    }
    /* a vanished reader of our output is an EPIPE to handle, not a death */
    signal(SIGPIPE, SIG_IGN);
    /* blocked for good: looked at with sigpending/sigtimedwait (see the top) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (o.daemon)
        return daemon_loop(&o);
    bw_conf_state_t *st = load_conf(&o);
    if (!st)
        return BW_EXIT_ERROR;
    rc = run_once(&o, st);
    bw_conf_free(st);
    return rc;
}
