/* The supervisor: forks the workers of the current generation, replaces any
 * that dies (saying why), reloads, serves the control socket, and on SIGTERM
 * stops everything gracefully.  It never touches a client socket, so a file
 * that crashes a parser costs one worker's connections, not the service.
 *
 * One poll() loop over a signalfd (every signal the supervisor handles), a
 * one-second timerfd (statistics, restart back-off, drain deadlines), the
 * control socket and the background compile's pipe.  Nothing blocks for
 * long: a compile runs in a child (loader.c), and a control client that has
 * asked for a reload keeps its connection until the reload's result.
 *
 * Reloads (SIGHUP or `ctl reload`: configuration; SIGUSR1, `ctl
 * reload-bases` or clamd RELOAD: databases) build a whole new generation
 * first (generation.c).  Only when it is complete are its workers started,
 * and only then are the old workers asked to finish their requests and exit.
 * The listening sockets are shared, so connections that arrive meanwhile
 * wait in the kernel's queue for whichever worker accepts first.  A failed
 * reload changes nothing and is reported to the log and to `ctl status`.
 *
 * Worker slots: statistics and connection counters have 2 x MaxSlots slots;
 * generation g uses the half (g % 2).  A reload waits until the generation
 * before the current one has drained, so two live generations never share
 * a slot.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "clamd/clamd.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/stats.h"
#include "policy/groups.h"

#define MAX_SLOTS_MIN 64   /* worker slots per half, at least */
#define MAX_WAITERS 16     /* control clients waiting for a reload */

enum { RELOAD_CONF = 1, RELOAD_BASES = 2 };

typedef struct child {
    pid_t pid;             /* 0: free entry */
    bw_daemon_t *gen;
    int index;             /* worker index within its generation */
    time_t started;
    int stopping;          /* we asked it to stop: its exit is expected */
    uint64_t restart_at;   /* for a dead worker awaiting its back-off (ms) */
} child_t;

typedef struct old_gen {
    bw_daemon_t *gen;
    uint64_t deadline_ms;  /* after this its workers are killed */
} old_gen_t;

typedef struct sup {
    const char *conf_path;
    bw_daemon_t *cur;
    old_gen_t old[4];
    size_t nold;
    child_t *kids;
    size_t nkids;
    unsigned half;                /* worker slots per generation parity */
    uint64_t *conn_slots;
    struct bw_stats *stats;
    pid_t metrics_pid;
    time_t metrics_started;
    char metrics_addr[320];
    int sigfd, timerfd, ctlfd;
    /* Reloads */
    int pending;                  /* RELOAD_* bits asked and not started */
    int running;                  /* RELOAD_* bits of the reload in progress */
    bw_loader_t *loader;
    int waiters[MAX_WAITERS], nwaiters;     /* clients of the pending reload */
    int rwaiters[MAX_WAITERS], nrwaiters;   /* clients of the running reload */
    time_t last_reload;
    int last_reload_ok;
    char last_reload_msg[1024];
    /* Stop */
    int stopping;
    uint64_t stop_deadline_ms;
    int stop_waiters[MAX_WAITERS], nstop_waiters;
    time_t started;
    uint64_t stats_since_ms;
    char ctl_path[4096];          /* ControlSocket as started (a reload cannot move it) */
} sup_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- children -------------------------------------------------------------- */

static void child_signals_default(void)
{
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], SIG_DFL);
}

static void close_supervisor_fds(sup_t *s)
{
    close(s->sigfd);
    close(s->timerfd);
    if (s->ctlfd >= 0)
        close(s->ctlfd);
    for (int i = 0; i < s->nwaiters; i++)
        close(s->waiters[i]);
    for (int i = 0; i < s->nrwaiters; i++)
        close(s->rwaiters[i]);
    if (s->loader)
        close(bw_loader_fd(s->loader));
}

/* In a new child: the sockets and files of generations other than its own
 * (a removed listening address must not stay open in a new worker, where
 * connections would queue for nobody). */
static void close_other_generations(sup_t *s, const bw_daemon_t *mine)
{
    const bw_daemon_t *gens[8];
    size_t n = 0;
    gens[n++] = s->cur;
    for (size_t i = 0; i < s->nold && n < 8; i++)
        gens[n++] = s->old[i].gen;
    for (size_t i = 0; i < n; i++) {
        if (gens[i] == mine)
            continue;
        for (size_t l = 0; l < gens[i]->nlisteners; l++)
            close(gens[i]->listeners[l].fd);
        if (gens[i]->report_fd >= 0)
            close(gens[i]->report_fd);
    }
}

static void spawn(sup_t *s, child_t *k)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A worker never outlives its supervisor, even one killed by SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        close_supervisor_fds(s);
        close_other_generations(s, k->gen);
        child_signals_default();
        /* The supervisor writes statistics on SIGUSR2 and reloads on
         * SIGUSR1; a worker ignores both, so signalling the whole process
         * group is harmless. */
        signal(SIGUSR2, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        _exit(bw_worker_run(k->gen, k->index));
    }
    if (pid < 0) {
        bw_log(BW_LOG_ERR, "fork: %s", strerror(errno));
        k->pid = 0;
        k->restart_at = now_ms() + 1000;
        return;
    }
    k->pid = pid;
    k->started = time(NULL);
    k->stopping = 0;
    k->restart_at = 0;
}

static child_t *child_slot(sup_t *s)
{
    for (size_t i = 0; i < s->nkids; i++)
        if (!s->kids[i].pid && !s->kids[i].gen)
            return &s->kids[i];
    return NULL;
}

static void start_generation(sup_t *s, bw_daemon_t *g)
{
    for (int i = 0; i < g->nworkers; i++) {
        child_t *k = child_slot(s);
        if (!k)
            break; /* cannot happen: nkids covers both halves */
        memset(k, 0, sizeof *k);
        k->gen = g;
        k->index = i;
        spawn(s, k);
    }
}

static unsigned alive_of(const sup_t *s, const bw_daemon_t *g)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].gen == g && s->kids[i].pid > 0)
            n++;
    return n;
}

static void signal_generation(sup_t *s, const bw_daemon_t *g, int sig)
{
    for (size_t i = 0; i < s->nkids; i++) {
        child_t *k = &s->kids[i];
        if (k->gen != g)
            continue;
        if (k->pid > 0) {
            k->stopping = 1;
            kill(k->pid, sig);
        } else {
            k->gen = NULL; /* a dead worker awaiting restart: forget it */
        }
    }
}

/* ---- metrics process ------------------------------------------------------- */

static pid_t spawn_metrics(sup_t *s)
{
    if (!s->metrics_addr[0] || !s->stats)
        return 0;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        close_supervisor_fds(s);
        close_other_generations(s, NULL); /* it serves no listener of ours */
        child_signals_default();
        signal(SIGUSR2, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        bw_err_t err;
        if (bw_stats_http_start(s->stats, s->metrics_addr, &err) != BW_OK) {
            bw_log(BW_LOG_ERR, "%s", err.msg);
            _exit(2);
        }
        int sig;
        sigwait(&stop, &sig);
        bw_stats_http_stop();
        _exit(0);
    }
    if (pid < 0)
        bw_log(BW_LOG_ERR, "fork (metrics): %s", strerror(errno));
    s->metrics_started = time(NULL);
    return pid > 0 ? pid : 0;
}

static void set_metrics(sup_t *s, const bw_daemon_t *g)
{
    const char *addr = g->sc && g->sc->metrics_addr ? g->sc->metrics_addr : "";
    if (strcmp(addr, s->metrics_addr) == 0 && (s->metrics_pid > 0 || !addr[0]))
        return;
    if (s->metrics_pid > 0) {
        kill(s->metrics_pid, SIGTERM);
        waitpid(s->metrics_pid, NULL, 0);
        s->metrics_pid = 0;
    }
    snprintf(s->metrics_addr, sizeof s->metrics_addr, "%s", addr);
    s->metrics_pid = spawn_metrics(s);
}

/* ---- reloads ----------------------------------------------------------------- */

static void register_groups(sup_t *s, const bw_daemon_t *g)
{
    for (size_t i = 0; s->stats && i < bw_groups_count(g->groups); i++)
        bw_stats_group_slot(s->stats, bw_groups_name(g->groups, i));
}

static void answer_waiters(int *w, int *n, int ok, const char *msg)
{
    char text[1200];
    snprintf(text, sizeof text, "%s\n", msg);
    for (int i = 0; i < *n; i++)
        bw_ctl_reply(w[i], ok, text);
    *n = 0;
}

static void reload_done(sup_t *s, int ok, const char *msg)
{
    s->last_reload = time(NULL);
    s->last_reload_ok = ok;
    snprintf(s->last_reload_msg, sizeof s->last_reload_msg, "%s", msg);
    bw_log(ok ? BW_LOG_INFO : BW_LOG_ERR, "reload: %s", msg);
    answer_waiters(s->rwaiters, &s->nrwaiters, ok, msg);
    s->running = 0;
    bw_sd_notify("READY=1");
}

/* The new generation is complete: start it, then retire the current one. */
static void commit(sup_t *s, bw_daemon_t *g, const char *what)
{
    bw_daemon_t *old = s->cur;
    g->generation = old->generation + 1;
    g->slot_base = (g->generation % 2) * s->half;
    g->conn_slots = s->conn_slots;
    g->nslots = 2 * (size_t)s->half;
    g->stats = s->stats;
    register_groups(s, g);
    start_generation(s, g);
    s->cur = g;
    uint64_t grace = old->dc ? old->dc->stop_timeout_ms : 30000;
    s->old[s->nold].gen = old;
    s->old[s->nold].deadline_ms = now_ms() + grace;
    s->nold++;
    signal_generation(s, old, SIGTERM);
    set_metrics(s, g);
    const bw_db_info_t *info = bw_engine_info(g->engine);
    char msg[1024];
    snprintf(msg, sizeof msg,
             "%s reloaded: generation %u, database version %u, %llu signatures, %d worker(s)",
             what, g->generation, info->version, (unsigned long long)info->signatures,
             g->nworkers);
    reload_done(s, 1, msg);
}

/* A databases-only reload keeps the running configuration: the new
 * generation takes over the old one's parsed keys and groups (the old
 * workers have their own copies since fork) and gets the new engine. */
static int gen_with_engine(sup_t *s, bw_engine_t *engine, bw_daemon_t **out, bw_err_t *err)
{
    bw_daemon_t *old = s->cur;
    bw_daemon_t *g = calloc(1, sizeof *g);
    if (!g)
        return bw_err_set(err, "out of memory");
    *g = *old;
    g->report_fd = old->report_fd >= 0 ? fcntl(old->report_fd, F_DUPFD_CLOEXEC, 3) : -1;
    for (size_t i = 0; i < old->nlisteners; i++)
        g->listeners[i].fd = fcntl(old->listeners[i].fd, F_DUPFD_CLOEXEC, 3);
    g->engine = engine;
    /* Ownership of the configuration moves to the new generation. */
    old->st = NULL;
    old->groups = NULL;
    old->tls_ctx = NULL;
    *out = g;
    return BW_OK;
}

static void finish_reload(sup_t *s, bw_engine_t *engine)
{
    bw_err_t err;
    bw_daemon_t *g = NULL;
    int rc;
    if (s->running & RELOAD_CONF)
        rc = bw_gen_build(s->conf_path, s->cur, engine ? engine : s->cur->engine, &g, &err);
    else
        rc = gen_with_engine(s, bw_engine_ref(engine), &g, &err);
    if (engine)
        bw_engine_unref(engine); /* the generation holds its own reference */
    if (rc == BW_OK && (unsigned)g->nworkers > s->half) {
        rc = bw_err_set(&err, "MaxChildren %d is above the %u worker slots of this run (restart "
                              "bulwarkd to raise it)", g->nworkers, s->half);
        bw_gen_free(g);
    }
    if (rc != BW_OK) {
        reload_done(s, 0, err.msg);
        return;
    }
    commit(s, g, s->running & RELOAD_CONF ? "configuration" : "databases");
}

static void try_start_reload(sup_t *s)
{
    if (s->stopping || s->running || !s->pending || s->nold > 0)
        return;
    s->running = s->pending;
    s->pending = 0;
    memcpy(s->rwaiters, s->waiters, sizeof s->waiters);
    s->nrwaiters = s->nwaiters;
    s->nwaiters = 0;
    bw_sd_notify("RELOADING=1");
    bw_err_t err;
    const bw_daemon_conf_t *dc = s->cur->dc;
    bw_conf_state_t *peek = NULL;
    int need_engine = (s->running & RELOAD_BASES) != 0;
    if (s->running & RELOAD_CONF) {
        if (bw_gen_conf_peek(s->conf_path, &peek, &err) != BW_OK) {
            reload_done(s, 0, err.msg);
            return;
        }
        dc = bw_conf_get(peek, &bw_daemon_conf_table, NULL);
        if (!bw_gen_same_bases(dc, s->cur->dc))
            need_engine = 1;
    }
    if (!need_engine) {
        bw_conf_free(peek);
        finish_reload(s, NULL);
        return;
    }
    s->loader = bw_loader_start(dc, &err);
    bw_conf_free(peek);
    if (!s->loader)
        reload_done(s, 0, err.msg);
    /* else: the loader's pipe becomes readable when the compile is done */
}

static void request_reload(sup_t *s, int what, int client)
{
    s->pending |= what;
    if (client >= 0) {
        if (s->nwaiters < MAX_WAITERS)
            s->waiters[s->nwaiters++] = client;
        else
            bw_ctl_reply(client, 0, "too many reloads waiting\n");
    }
    try_start_reload(s);
}

static void on_loader(sup_t *s)
{
    bw_err_t err;
    bw_engine_t *e = NULL;
    int rc = bw_loader_finish(s->loader, &e, &err);
    s->loader = NULL;
    if (rc != BW_OK) {
        reload_done(s, 0, err.msg);
        return;
    }
    finish_reload(s, e);
}

/* ---- worker exits ------------------------------------------------------------ */

static void forget_old_if_drained(sup_t *s)
{
    for (size_t i = 0; i < s->nold;) {
        bw_daemon_t *g = s->old[i].gen;
        if (alive_of(s, g) == 0) {
            for (size_t k = 0; k < s->nkids; k++)
                if (s->kids[k].gen == g)
                    s->kids[k].gen = NULL;
            bw_log(BW_LOG_INFO, "generation %u retired", g->generation);
            bw_gen_free(g);
            malloc_trim(0); /* the old engine's pages go back to the system */
            s->old[i] = s->old[--s->nold];
            continue;
        }
        i++;
    }
}

static void on_child_exit(sup_t *s, pid_t pid, int st)
{
    if (pid == s->metrics_pid) {
        s->metrics_pid = 0;
        if (!s->stopping) {
            bw_log(BW_LOG_ERR, "metrics process (pid %d) ended (status %d); restarting", (int)pid,
                   WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
            if (time(NULL) - s->metrics_started < 1)
                sleep(1);
            s->metrics_pid = spawn_metrics(s);
        }
        return;
    }
    for (size_t i = 0; i < s->nkids; i++) {
        child_t *k = &s->kids[i];
        if (k->pid != pid)
            continue;
        unsigned slot = k->gen->slot_base + (unsigned)k->index;
        if (s->conn_slots) /* its connections died with it */
            __atomic_store_n(&s->conn_slots[slot], 0, __ATOMIC_RELAXED);
        bw_stats_worker_exited(s->stats, slot);
        k->pid = 0;
        int current = k->gen == s->cur && !s->stopping;
        if (WIFSIGNALED(st))
            bw_log(BW_LOG_ERR, "worker %d (pid %d) killed by signal %d (%s)%s%s", k->index,
                   (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)),
                   WCOREDUMP(st) ? ", core dumped" : "", current ? "; restarting" : "");
        else if (!k->stopping || WEXITSTATUS(st))
            bw_log(WEXITSTATUS(st) ? BW_LOG_ERR : BW_LOG_INFO,
                   "worker %d (pid %d) exited with status %d%s", k->index, (int)pid,
                   WEXITSTATUS(st), current ? "; restarting" : "");
        if (!current) {
            if (k->gen != s->cur)
                forget_old_if_drained(s);
            return;
        }
        /* A worker that dies at once must not make the supervisor spin. */
        if (time(NULL) - k->started < 1)
            k->restart_at = now_ms() + 1000;
        else
            spawn(s, k);
        return;
    }
}

static void reap(sup_t *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
        on_child_exit(s, pid, st);
    if (s->stats) {
        bw_stats_set_workers_alive(s->stats, alive_of(s, s->cur));
        bw_stats_set_workers_configured(s->stats, (unsigned)s->cur->nworkers);
    }
    try_start_reload(s);
}

/* ---- the once-a-second tick ---------------------------------------------------- */

static void write_counters(sup_t *s)
{
    const char *file = s->cur->sc && s->cur->sc->counter_file && s->cur->sc->counter_file[0]
                           ? s->cur->sc->counter_file : NULL;
    static int warned;
    if (file && bw_stats_write_file(s->stats, file) != BW_OK && !warned++)
        bw_log(BW_LOG_ERR, "CounterStatisticsFile %s: cannot write", file);
}

static void tick(sup_t *s)
{
    uint64_t t = now_ms();
    bw_stats_tick(s->stats);
    s->stats_since_ms += 1000;
    if (s->cur->sc && s->stats_since_ms >= s->cur->sc->interval_ms) {
        s->stats_since_ms = 0;
        write_counters(s);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        child_t *k = &s->kids[i];
        if (!k->pid && k->gen == s->cur && k->restart_at && t >= k->restart_at && !s->stopping)
            spawn(s, k);
    }
    for (size_t i = 0; i < s->nold; i++)
        if (t >= s->old[i].deadline_ms) {
            bw_log(BW_LOG_WARN, "generation %u: workers still busy after StopTimeout; killing them",
                   s->old[i].gen->generation);
            signal_generation(s, s->old[i].gen, SIGKILL);
            s->old[i].deadline_ms = UINT64_MAX;
        }
    if (s->stopping && t >= s->stop_deadline_ms) {
        bw_log(BW_LOG_WARN, "workers still busy after StopTimeout; killing them");
        for (size_t i = 0; i < s->nkids; i++)
            if (s->kids[i].pid > 0)
                kill(s->kids[i].pid, SIGKILL);
        s->stop_deadline_ms = UINT64_MAX;
    }
}

/* ---- control verbs -------------------------------------------------------------- */

static void fmt_duration(char *out, size_t cap, uint64_t s)
{
    if (s >= 86400)
        snprintf(out, cap, "%llud %lluh %llum", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
    else if (s >= 3600)
        snprintf(out, cap, "%lluh %llum %llus", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
    else
        snprintf(out, cap, "%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
}

static char *status_text(sup_t *s)
{
    bw_stats_snapshot_t snap;
    memset(&snap, 0, sizeof snap);
    if (s->stats)
        bw_stats_read(s->stats, &snap);
    const bw_db_info_t *info = bw_engine_info(s->cur->engine);
    char up[64], when[64] = "never";
    fmt_duration(up, sizeof up, (uint64_t)(time(NULL) - s->started));
    if (s->last_reload) {
        struct tm tm;
        localtime_r(&s->last_reload, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    }
    char pids[512] = "";
    size_t pl = 0;
    for (size_t i = 0; i < s->nkids && pl < sizeof pids - 16; i++)
        if (s->kids[i].gen == s->cur && s->kids[i].pid > 0)
            pl += (size_t)snprintf(pids + pl, sizeof pids - pl, "%s%d", pl ? " " : "",
                                   (int)s->kids[i].pid);
    unsigned draining = 0;
    for (size_t i = 0; i < s->nold; i++)
        draining += alive_of(s, s->old[i].gen);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "version: bulwarkd %s\n", BW_VERSION);
    fprintf(f, "pid: %d\n", (int)getpid());
    fprintf(f, "uptime: %s\n", up);
    fprintf(f, "configuration: %s (generation %u)\n", s->conf_path, s->cur->generation);
    fprintf(f, "database version: %u\n", info->version);
    fprintf(f, "signatures: %llu\n", (unsigned long long)info->signatures);
    fprintf(f, "workers: %u of %d running (%s)%s\n", alive_of(s, s->cur), s->cur->nworkers, pids,
            draining ? "" : "");
    if (draining)
        fprintf(f, "workers draining: %u\n", draining);
    fprintf(f, "connections: %llu open\n", (unsigned long long)snap.connections_open);
    fprintf(f, "requests: %llu total, %.2f/s over the last minute\n",
            (unsigned long long)snap.v[BW_ST_REQUESTS], (double)snap.requests_per_minute / 60.0);
    if (s->last_reload)
        fprintf(f, "last reload: %s %s: %s\n", when, s->last_reload_ok ? "ok" : "FAILED",
                s->last_reload_msg);
    else
        fprintf(f, "last reload: never\n");
    if (s->running || s->pending)
        fprintf(f, "reload: in progress\n");
    fclose(f);
    return out;
}

static void on_control(sup_t *s)
{
    int c = accept4(s->ctlfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    char line[BW_CTL_MAX_LINE];
    if (bw_ctl_read_line(c, line, sizeof line, 2000) < 0) {
        bw_ctl_reply(c, 0, "expected one command line (status, stats, reload, reload-bases, stop)\n");
        return;
    }
    if (strcmp(line, "status") == 0) {
        char *t = status_text(s);
        bw_ctl_reply(c, t != NULL, t ? t : "out of memory\n");
        free(t);
    } else if (strcmp(line, "stats") == 0) {
        char *t = s->stats ? bw_stats_text(s->stats) : NULL;
        bw_ctl_reply(c, t != NULL, t ? t : "statistics are not available\n");
        free(t);
    } else if (strcmp(line, "reload") == 0) {
        request_reload(s, RELOAD_CONF, c);
    } else if (strcmp(line, "reload-bases") == 0) {
        request_reload(s, RELOAD_BASES, c);
    } else if (strcmp(line, "stop") == 0) {
        char t[64];
        snprintf(t, sizeof t, "stopping (pid %d)\n", (int)getpid());
        bw_ctl_reply(c, 1, t);
        raise(SIGTERM);
    } else if (strcmp(line, "ping") == 0) {
        bw_ctl_reply(c, 1, "pong\n");
    } else {
        char t[BW_CTL_MAX_LINE + 64];
        snprintf(t, sizeof t, "unknown command '%.64s' (status, stats, reload, reload-bases, stop)\n",
                 line);
        bw_ctl_reply(c, 0, t);
    }
}

/* ---- the loop -------------------------------------------------------------------- */

static void begin_stop(sup_t *s)
{
    if (s->stopping)
        return;
    s->stopping = 1;
    bw_sd_notify("STOPPING=1");
    bw_log(BW_LOG_INFO, "stopping");
    if (s->loader) {
        bw_loader_cancel(s->loader);
        s->loader = NULL;
    }
    answer_waiters(s->waiters, &s->nwaiters, 0, "bulwarkd is stopping");
    answer_waiters(s->rwaiters, &s->nrwaiters, 0, "bulwarkd is stopping");
    s->stop_deadline_ms = now_ms() + (s->cur->dc ? s->cur->dc->stop_timeout_ms : 30000);
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].pid > 0) {
            s->kids[i].stopping = 1;
            kill(s->kids[i].pid, SIGTERM);
        }
    if (s->metrics_pid > 0)
        kill(s->metrics_pid, SIGTERM);
}

static int anyone_alive(const sup_t *s)
{
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].pid > 0)
            return 1;
    return s->metrics_pid > 0;
}

static void on_signalfd(sup_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD: reap(s); break;
        case SIGHUP: request_reload(s, RELOAD_CONF, -1); break;
        case SIGUSR1: request_reload(s, RELOAD_BASES, -1); break;
        case SIGUSR2: write_counters(s); break;
        case SIGTERM:
        case SIGINT: begin_stop(s); break;
        }
    }
}

int bw_supervise(bw_daemon_t *first, const char *conf_path, int foreground)
{
    (void)foreground;
    sup_t *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    s->conf_path = conf_path;
    s->cur = first;
    s->started = time(NULL);
    s->ctlfd = -1;
    first->generation = 1;
    s->half = (unsigned)(first->nworkers > MAX_SLOTS_MIN ? first->nworkers : MAX_SLOTS_MIN);
    s->nkids = 2 * (size_t)s->half;
    s->kids = calloc(s->nkids, sizeof *s->kids);
    void *slots = mmap(NULL, s->nkids * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    s->conn_slots = slots == MAP_FAILED ? NULL : slots;
    {
        /* Group statistics slots: the default group first, then each group. */
        size_t ng = bw_groups_count(first->groups);
        const char **names = calloc(ng + 1, sizeof *names);
        for (size_t i = 0; names && i < ng; i++)
            names[i + 1] = bw_groups_name(first->groups, i);
        s->stats = names ? bw_stats_create((unsigned)s->nkids, (unsigned)ng + 1, names) : NULL;
        free(names);
    }
    if (!s->kids || !s->conn_slots || !s->stats) {
        bw_log(BW_LOG_ERR, "out of memory");
        return 1;
    }
    first->slot_base = (first->generation % 2) * s->half;
    first->conn_slots = s->conn_slots;
    first->nslots = s->nkids;
    first->stats = s->stats;

    sigset_t set;
    sigemptyset(&set);
    const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaddset(&set, sigs[i]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its = {{1, 0}, {1, 0}};
    timerfd_settime(s->timerfd, 0, &its, NULL);

    snprintf(s->ctl_path, sizeof s->ctl_path, "%s",
             first->dc->control_socket ? first->dc->control_socket : "");
    if (s->ctl_path[0]) {
        bw_err_t err;
        s->ctlfd = bw_ctl_listen(s->ctl_path, &err);
        if (s->ctlfd < 0) {
            bw_log(BW_LOG_ERR, "%s", err.msg);
            return 2;
        }
    }
    start_generation(s, first);
    set_metrics(s, first);
    bw_log(BW_LOG_INFO, "%d worker(s) started", first->nworkers);
    bw_stats_set_workers_alive(s->stats, (unsigned)first->nworkers);
    char ready[64];
    snprintf(ready, sizeof ready, "READY=1\nMAINPID=%d", (int)getpid());
    bw_sd_notify(ready);

    while (!s->stopping || anyone_alive(s)) {
        struct pollfd p[4];
        int n = 0;
        p[n++] = (struct pollfd){s->sigfd, POLLIN, 0};
        p[n++] = (struct pollfd){s->timerfd, POLLIN, 0};
        int ictl = -1, iload = -1;
        if (s->ctlfd >= 0 && !s->stopping) {
            ictl = n;
            p[n++] = (struct pollfd){s->ctlfd, POLLIN, 0};
        }
        if (s->loader) {
            iload = n;
            p[n++] = (struct pollfd){bw_loader_fd(s->loader), POLLIN, 0};
        }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            bw_log(BW_LOG_ERR, "poll: %s", strerror(errno));
            begin_stop(s);
            continue;
        }
        if (p[0].revents)
            on_signalfd(s);
        if (p[1].revents) {
            uint64_t ticks;
            if (read(s->timerfd, &ticks, sizeof ticks) > 0)
                tick(s);
        }
        if (ictl >= 0 && p[ictl].revents)
            on_control(s);
        if (iload >= 0 && s->loader && p[iload].revents)
            on_loader(s);
        reap(s); /* SIGCHLD can coalesce; reaping here too is cheap */
    }
    write_counters(s);
    if (s->ctlfd >= 0) {
        close(s->ctlfd);
        unlink(s->ctl_path);
    }
    for (size_t i = 0; i < s->nold; i++)
        bw_gen_free(s->old[i].gen);
    bw_daemon_t *cur = s->cur;
    if (cur->cc)
        bw_clamd_unlink_socket(cur->cc);
    bw_gen_free(cur);
    bw_stats_destroy(s->stats);
    munmap(s->conn_slots, s->nkids * sizeof(uint64_t));
    free(s->kids);
    free(s);
    return 0;
}
