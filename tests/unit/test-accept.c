/* SPDX-License-Identifier: Apache-2.0 */
/* core/accept.c and core/ratelog.h: a paused acceptor takes nothing; one out
 * of descriptors sheds one connection with its reserve, backs off instead of
 * retrying (one log line, not one per wake-up), and accepts the rest once
 * descriptors are free again. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/accept.h"
#include "core/ratelog.h"
#include "t.h"

TEST(ratelog_suppresses_and_counts)
{
    bw_ratelog_t r = {0};
    uint64_t n = 99;
    CHECK(bw_ratelog_allow(&r, 1000, 10000, &n));
    CHECK_EQ(n, 0);
    for (int i = 0; i < 5; i++)
        CHECK(!bw_ratelog_allow(&r, 1000 + (uint64_t)i * 100, 10000, &n));
    CHECK(bw_ratelog_allow(&r, 11000, 10000, &n));
    CHECK_EQ(n, 5);
    CHECK(!bw_ratelog_allow(&r, 11001, 10000, &n));
}

static int listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &l))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 ? fd : -1;
}

static int accepted, logged;

static void on_fd(bw_acceptor_t *a, int fd)
{
    (void)a;
    accepted++;
    close(fd);
}

static void on_log(int level, const char *msg)
{
    (void)level;
    (void)msg;
    logged++;
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
    uint64_t end = uv_now(loop) + ms;
    while (uv_now(loop) < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        usleep(1000);
        uv_update_time(loop);
    }
}

TEST(paused_acceptor_takes_nothing)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port, lfd = listener(&port);
    CHECK(lfd >= 0);
    bw_acceptor_t a;
    accepted = 0;
    CHECK_EQ(bw_acceptor_start(&a, &loop, lfd, "t", 1, on_fd, on_log, NULL), 0);
    bw_acceptor_pause(&a);
    int c1 = dial(port), c2 = dial(port);
    run_for(&loop, 50);
    CHECK_EQ(accepted, 0);
    bw_acceptor_resume(&a);
    run_for(&loop, 50);
    CHECK_EQ(accepted, 2);
    bw_acceptor_close(&a, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
    close(c1);
    close(c2);
    close(lfd);
}

/* In a child: the descriptor limit is lowered for it alone. */
static int emfile_child(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    int port, lfd = listener(&port);
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = dial(port);
    bw_acceptor_t a;
    if (lfd < 0 || c[2] < 0 || bw_acceptor_start(&a, &loop, lfd, "t", 8, on_fd, on_log, NULL))
        return 10;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int top = dup(0);
    rl.rlim_cur = (rlim_t)top + 1; /* below it every descriptor is taken, or filled next */
    setrlimit(RLIMIT_NOFILE, &rl);
    close(top);
    int fill[64], nfill = 0;
    while (nfill < 64 && (fill[nfill] = dup(0)) >= 0)
        nfill++;
    if (errno != EMFILE)
        return 11;
    accepted = logged = 0;
    run_for(&loop, 100); /* inside the back-off: one attempt, one shed, one line */
    if (accepted != 0 || a.shed != 1 || logged != 1 || !a.backing_off)
        return 12;
    for (int i = 0; i < nfill; i++)
        close(fill[i]);
    run_for(&loop, 2 * BW_ACCEPT_BACKOFF_MS);
    if (accepted != 2) /* the other two, once descriptors are free */
        return 13;
    return 0;
}

TEST(out_of_descriptors_backs_off_and_sheds_one)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(emfile_child());
    int st = -1;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

int main(void)
{
    return t_run();
}
