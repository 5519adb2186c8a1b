/* SPDX-License-Identifier: Apache-2.0 */
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

#include "core/clock.h"
#include "core/stats.h"
#include "clamd/clamd.h"
#include "daemon/control.h"
#include "daemon/daemon.h"
#include "daemon/shipper.h"
#include "daemon/stats.h"
#include "daemon/supervisor-t.h"
#include "policy/groups.h"

/* ---- children -------------------------------------------------------------- */

/* A new child starts with default handlers and every signal unblocked but
 * SIGTERM and SIGINT: those stay blocked (the supervisor blocks them for its
 * signalfd) until the worker has its own handlers, so a stop that arrives
 * while it starts is held and then drains it, instead of killing it. */
static void child_signals_default(void)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGTERM);
    sigdelset(&all, SIGINT);
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
    if (s->ship_fd >= 0)
        close(s->ship_fd);
    for (int i = 0; i < s->nwaiters; i++)
        close(s->waiters[i]);
    for (int i = 0; i < s->nrwaiters; i++)
        close(s->rwaiters[i]);
    if (s->loader)
        close(bw_loader_fd(s->loader));
    bw_sup_ctl_close_all(s);
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
        k->restart_at = bw_clock_ms() + 1000;
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

void bw_sup_start_generation(sup_t *s, bw_daemon_t *g)
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

unsigned bw_sup_alive_of(const sup_t *s, const bw_daemon_t *g)
{
    unsigned n = 0;
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].gen == g && s->kids[i].pid > 0)
            n++;
    return n;
}

void bw_sup_signal_generation(sup_t *s, const bw_daemon_t *g, int sig)
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

void bw_sup_set_metrics(sup_t *s, const bw_daemon_t *g)
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

/* ---- shipper process (shipper.c) ------------------------------------------------ */

static pid_t spawn_shipper(sup_t *s)
{
    if (!strcmp(s->ship_sig, "-"))
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv)) {
        bw_log(BW_LOG_ERR, "socketpair (shipper): %s", strerror(errno));
        return 0;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        close(sv[0]);
        close_supervisor_fds(s);
        close_other_generations(s, NULL); /* it serves no listener of ours */
        child_signals_default();
        signal(SIGUSR2, SIG_IGN);
        signal(SIGUSR1, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        int fl = fcntl(sv[1], F_GETFL);
        fcntl(sv[1], F_SETFL, fl & ~O_NONBLOCK);
        bw_shipper_main(s->cur, sv[1]);
    }
    close(sv[1]);
    if (pid < 0) {
        bw_log(BW_LOG_ERR, "fork (shipper): %s", strerror(errno));
        close(sv[0]);
        return 0;
    }
    if (s->ship_fd >= 0)
        close(s->ship_fd);
    s->ship_fd = sv[0];
    s->ship_started = time(NULL);
    return pid;
}

/* SIGTERM, then SIGKILL after 5 s: the shipper may be inside a request
 * (bounded) or waiting for the reload that is restarting it.  Killing it is
 * safe: what it had not acknowledged is sent again by the next one. */
static void stop_shipper(sup_t *s)
{
    if (s->ship_pid > 0) {
        kill(s->ship_pid, SIGTERM);
        uint64_t until = bw_clock_ms() + 5000;
        while (waitpid(s->ship_pid, NULL, WNOHANG) == 0) {
            if (bw_clock_ms() >= until) {
                kill(s->ship_pid, SIGKILL);
                waitpid(s->ship_pid, NULL, 0);
                break;
            }
            usleep(20000);
        }
        s->ship_pid = 0;
    }
    if (s->ship_fd >= 0)
        close(s->ship_fd);
    s->ship_fd = -1;
}

void bw_sup_set_shipper(sup_t *s, const bw_daemon_t *g)
{
    char sig[sizeof s->ship_sig];
    bw_shipper_signature(g, sig, sizeof sig);
    if (!strcmp(sig, s->ship_sig) && (s->ship_pid > 0 || !strcmp(sig, "-")))
        return;
    stop_shipper(s);
    snprintf(s->ship_sig, sizeof s->ship_sig, "%s", sig);
    s->ship_pid = spawn_shipper(s);
}

/* ---- worker exits ------------------------------------------------------------ */

static void forget_old_if_drained(sup_t *s)
{
    for (size_t i = 0; i < s->nold;) {
        bw_daemon_t *g = s->old[i].gen;
        if (bw_sup_alive_of(s, g) == 0) {
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

/* A helper process (the shipper, the metrics server) that ended is started
 * again, a second later if it died young, unless the daemon is stopping. */
static void restart_helper(sup_t *s, const char *what, pid_t pid, int st, time_t started,
                           pid_t *slot, pid_t (*start)(sup_t *))
{
    *slot = 0;
    if (s->stopping)
        return;
    bw_log(BW_LOG_ERR, "%s process (pid %d) ended (status %d); restarting", what, (int)pid,
           WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
    if (time(NULL) - started < 1)
        sleep(1);
    *slot = start(s);
}

static void on_child_exit(sup_t *s, pid_t pid, int st)
{
    if (pid == s->ship_pid) {
        restart_helper(s, "shipper", pid, st, s->ship_started, &s->ship_pid, spawn_shipper);
        return;
    }
    if (pid == s->metrics_pid) {
        restart_helper(s, "metrics", pid, st, s->metrics_started, &s->metrics_pid, spawn_metrics);
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
        if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st)))
            bw_devents_worker_died(k->index, (int)pid, st);
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
            k->restart_at = bw_clock_ms() + 1000;
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
        bw_stats_set_workers_alive(s->stats, bw_sup_alive_of(s, s->cur));
    }
    bw_sup_try_start_reload(s);
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
    uint64_t t = bw_clock_ms();
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
            bw_sup_signal_generation(s, s->old[i].gen, SIGKILL);
            s->old[i].deadline_ms = UINT64_MAX;
        }
    if (s->stopping && t >= s->stop_deadline_ms) {
        bw_log(BW_LOG_WARN, "workers still busy after StopTimeout; killing them");
        for (size_t i = 0; i < s->nkids; i++)
            if (s->kids[i].pid > 0)
                kill(s->kids[i].pid, SIGKILL);
        if (s->ship_pid > 0)
            kill(s->ship_pid, SIGKILL);
        s->stop_deadline_ms = UINT64_MAX;
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
    bw_sup_answer_waiters(s->waiters, &s->nwaiters, 0, "bulwarkd is stopping");
    bw_sup_answer_waiters(s->rwaiters, &s->nrwaiters, 0, "bulwarkd is stopping");
    s->stop_deadline_ms = bw_clock_ms() + (s->cur->dc ? s->cur->dc->stop_timeout_ms : 30000);
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].pid > 0) {
            s->kids[i].stopping = 1;
            kill(s->kids[i].pid, SIGTERM);
        }
    if (s->metrics_pid > 0)
        kill(s->metrics_pid, SIGTERM);
    if (s->ship_pid > 0)
        kill(s->ship_pid, SIGTERM);
}

static int anyone_alive(const sup_t *s)
{
    for (size_t i = 0; i < s->nkids; i++)
        if (s->kids[i].pid > 0)
            return 1;
    return s->metrics_pid > 0 || s->ship_pid > 0;
}

static void on_signalfd(sup_t *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD: reap(s); break;
        case SIGHUP: bw_sup_request_reload(s, RELOAD_CONF, -1); break;
        case SIGUSR1: bw_sup_request_reload(s, RELOAD_BASES, -1); break;
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
    s->ship_fd = -1;
    bw_sup_ctl_init(s);
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
    bw_devents_setup(first, "supervisor");
    bw_devents_started(first);
    bw_sup_start_generation(s, first);
    bw_sup_set_metrics(s, first);
    bw_sup_set_shipper(s, first);
    bw_log(BW_LOG_INFO, "%d worker(s) started", first->nworkers);
    bw_stats_set_workers_alive(s->stats, (unsigned)first->nworkers);
    bw_stats_set_workers_configured(s->stats, (unsigned)first->nworkers);
    char ready[64];
    snprintf(ready, sizeof ready, "READY=1\nMAINPID=%d", (int)getpid());
    bw_sd_notify(ready);

    while (!s->stopping || anyone_alive(s)) {
        struct pollfd p[5 + MAX_CTL_CONNS];
        int n = 0;
        p[n++] = (struct pollfd){s->sigfd, POLLIN, 0};
        p[n++] = (struct pollfd){s->timerfd, POLLIN, 0};
        int ictl = -1, iload = -1, iship = -1;
        if (s->ship_fd >= 0 && !s->stopping) {
            iship = n;
            p[n++] = (struct pollfd){s->ship_fd, POLLIN, 0};
        }
        if (s->ctlfd >= 0 && !s->stopping) {
            ictl = n;
            p[n++] = (struct pollfd){s->ctlfd, POLLIN, 0};
        }
        if (s->loader) {
            iload = n;
            p[n++] = (struct pollfd){bw_loader_fd(s->loader), POLLIN, 0};
        }
        /* Control clients still sending their line, each with a deadline. */
        int iclients = n, nclients = 0, wait_ms = -1;
        if (s->stopping) {
            bw_sup_ctl_close_all(s);
        } else {
            wait_ms = bw_sup_ctl_expire(s);
            nclients = bw_sup_ctl_pollfds(s, p + n);
            n += nclients;
        }
        if (poll(p, (nfds_t)n, wait_ms) < 0) {
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
        if (nclients)
            bw_sup_ctl_on_clients(s, p + iclients, nclients);
        if (ictl >= 0 && p[ictl].revents)
            bw_sup_on_control(s);
        if (iship >= 0 && s->ship_fd >= 0 && p[iship].revents)
            bw_sup_on_shipper(s);
        if (iload >= 0 && s->loader && p[iload].revents)
            bw_sup_on_loader(s);
        reap(s); /* SIGCHLD can coalesce; reaping here too is cheap */
    }
    write_counters(s);
    bw_devents_stopped();
    bw_sup_ctl_close_all(s);
    if (s->ship_fd >= 0)
        close(s->ship_fd);
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
