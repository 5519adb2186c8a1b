/* The supervisor: forks the workers, restarts any that dies (saying why),
 * and on SIGTERM stops them all.  It never touches a client socket, so a
 * file that crashes a parser costs one worker's connections, not the
 * service. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/stats.h"
#include "daemon/daemon.h"
#include "daemon/stats.h"

static volatile sig_atomic_t got_term, got_hup, got_usr2, got_alarm;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGUSR2)
        got_usr2 = 1;
    else if (sig == SIGALRM)
        got_alarm = 1;
    else
        got_term = 1;
}

/* Once a second (SIGALRM interrupts waitpid): the requests-per-minute ring,
 * and the counters file every StatisticsInterval or on SIGUSR2. */
static void stats_work(const bw_daemon_t *d, uint64_t *since_ms)
{
    const char *file = d->sc && d->sc->counter_file && d->sc->counter_file[0] ? d->sc->counter_file : NULL;
    if (got_alarm) {
        got_alarm = 0;
        bw_stats_tick(d->stats);
        *since_ms += 1000;
        if (file && *since_ms >= d->sc->interval_ms) {
            *since_ms = 0;
            got_usr2 = 1;
        }
    }
    if (got_usr2) {
        got_usr2 = 0;
        static int warned;
        if (file && bw_stats_write_file(d->stats, file) != BW_OK && !warned++)
            bw_log(BW_LOG_ERR, "CounterStatisticsFile %s: cannot write", file);
    }
}

/* The signals the supervisor handles; without SA_RESTART, so each one
 * interrupts its waitpid(). */
static void set_handlers(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, NULL);
}

static pid_t spawn(const bw_daemon_t *d, int index)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A worker never outlives its supervisor, even one killed by SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        /* (Interval timers are not inherited: the child has no tick.)  The
         * supervisor writes statistics on SIGUSR2; a worker ignores it, so
         * `kill -USR2` on the whole process group is harmless. */
        set_handlers(SIG_DFL);
        signal(SIGUSR2, SIG_IGN);
        _exit(bw_worker_run(d, index));
    }
    if (pid < 0)
        bw_log(BW_LOG_ERR, "fork: %s", strerror(errno));
    return pid;
}

/* The /metrics endpoint runs in a process of its own, never as a thread of
 * the supervisor: a thread running while the supervisor forks a worker could
 * hold a lock (an allocator's, a library's) that the worker then inherits
 * locked.  The counters are in shared memory, so any process can serve them. */
static pid_t spawn_metrics(const bw_daemon_t *d)
{
    if (!d->sc || !d->sc->metrics_addr || !d->sc->metrics_addr[0])
        return 0;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        set_handlers(SIG_DFL);
        signal(SIGUSR2, SIG_IGN);
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigprocmask(SIG_BLOCK, &stop, NULL);
        bw_err_t err;
        if (bw_stats_http_start(d->stats, d->sc->metrics_addr, &err) != BW_OK) {
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
    return pid;
}

int bw_supervise(const bw_daemon_t *d)
{
    int n = d->nworkers;
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    time_t *started = calloc((size_t)n, sizeof *started);
    if (!pids || !started)
        return 1;
    set_handlers(on_signal);
    signal(SIGPIPE, SIG_IGN);
    struct itimerval tick = {{1, 0}, {1, 0}};
    setitimer(ITIMER_REAL, &tick, NULL);
    uint64_t since_ms = 0;
    for (int i = 0; i < n; i++) {
        pids[i] = spawn(d, i);
        started[i] = time(NULL);
    }
    pid_t mpid = spawn_metrics(d);
    time_t mstarted = time(NULL);
    bw_log(BW_LOG_INFO, "%d worker(s) started", n);
    bw_stats_set_workers_alive(d->stats, (unsigned)n);
    while (!got_term) {
        int st;
        stats_work(d, &since_ms);
        pid_t pid = waitpid(-1, &st, 0);
        if (got_hup) {
            got_hup = 0;
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGHUP);
        }
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pid == mpid) {
            bw_log(BW_LOG_ERR, "metrics process (pid %d) ended (status %d); restarting", (int)pid,
                   WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
            if (time(NULL) - mstarted < 1)
                sleep(1);
            mpid = got_term ? 0 : spawn_metrics(d);
            mstarted = time(NULL);
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (pids[i] != pid)
                continue;
            if (WIFSIGNALED(st))
                bw_log(BW_LOG_ERR, "worker %d (pid %d) killed by signal %d (%s); restarting", i,
                       (int)pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
            else
                bw_log(WEXITSTATUS(st) ? BW_LOG_ERR : BW_LOG_INFO,
                       "worker %d (pid %d) exited with status %d; restarting", i, (int)pid,
                       WEXITSTATUS(st));
            if (d->conn_slots) /* its connections died with it */
                __atomic_store_n(&d->conn_slots[i], 0, __ATOMIC_RELAXED);
            bw_stats_worker_exited(d->stats, (unsigned)i);
            if (time(NULL) - started[i] < 1)
                sleep(1); /* a worker that cannot start must not spin */
            pids[i] = got_term ? 0 : spawn(d, i);
            started[i] = time(NULL);
        }
    }
    struct itimerval off;
    memset(&off, 0, sizeof off);
    setitimer(ITIMER_REAL, &off, NULL);
    bw_log(BW_LOG_INFO, "stopping");
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGTERM);
    if (mpid > 0) {
        kill(mpid, SIGTERM);
        waitpid(mpid, NULL, 0);
    }
    /* Workers drain their connections; give them a bounded time. */
    time_t deadline = time(NULL) + 10;
    int alive = 1;
    while (alive && time(NULL) < deadline) {
        alive = 0;
        for (int i = 0; i < n; i++) {
            if (pids[i] > 0 && waitpid(pids[i], NULL, WNOHANG) == 0)
                alive = 1;
            else
                pids[i] = 0;
        }
        if (alive)
            usleep(20000);
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    free(pids);
    free(started);
    return 0;
}
