/* SPDX-License-Identifier: Apache-2.0 */
/* clamd-load: a closed-loop INSTREAM load generator for bench/clamd-bench.sh.
 *
 *   clamd-load --addr /path/sock|127.0.0.1:PORT --file F --expect TEXT
 *              [--conc N] [--secs S] [--chunk BYTES]
 *
 * N threads each open a connection, send "zINSTREAM\0", the file in chunks
 * and the zero length, read the reply to EOF, check that it contains TEXT
 * ("FOUND" or "stream: OK"), and start again, for S seconds.  One line of
 * results: requests, requests/s, MB/s of payload, and the replies that
 * failed or did not match (any of those makes the exit status 1, so a server
 * that skips work cannot post a figure).  libc and pthreads only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *addr, *expect;
static char *payload; /* the whole request: command, chunks, zero length */
static size_t payload_len, file_len;
static double secs = 5;
static volatile int stop;

typedef struct stats {
    uint64_t ok, bad, err;
    char first_bad[256];
} stats_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd;
    if (addr[0] == '/') {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", addr);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
            close(fd);
            return -1;
        }
        return fd;
    }
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, host, &sa.sin_addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int one_request(stats_t *st)
{
    int fd = dial();
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < payload_len) {
        ssize_t n = send(fd, payload + off, payload_len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    char reply[512];
    size_t rl = 0;
    for (;;) {
        ssize_t n = recv(fd, reply + rl, sizeof reply - 1 - rl, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        rl += (size_t)n;
        if (rl == sizeof reply - 1)
            break;
    }
    close(fd);
    reply[rl] = 0;
    for (size_t i = 0; i < rl; i++)
        if (!reply[i])
            reply[i] = '|';
    if (!strstr(reply, expect)) {
        if (!st->first_bad[0])
            snprintf(st->first_bad, sizeof st->first_bad, "%.200s", rl ? reply : "(nothing)");
        return 0;
    }
    return 1;
}

static void *worker(void *arg)
{
    stats_t *st = arg;
    while (!stop) {
        int r = one_request(st);
        if (stop)
            break;
        if (r > 0)
            st->ok++;
        else if (r == 0)
            st->bad++;
        else
            st->err++;
    }
    return NULL;
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    int conc = 4;
    size_t chunk = 65536;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--addr")) addr = argv[i + 1];
        else if (!strcmp(argv[i], "--file")) file = argv[i + 1];
        else if (!strcmp(argv[i], "--expect")) expect = argv[i + 1];
        else if (!strcmp(argv[i], "--conc")) conc = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--secs")) secs = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--chunk")) chunk = (size_t)atol(argv[i + 1]);
        else { fprintf(stderr, "unknown option %s\n", argv[i]); return 2; }
    }
    if (!addr || !file || !expect || conc < 1 || conc > 256 || !chunk) {
        fprintf(stderr, "usage: clamd-load --addr A --file F --expect TEXT [--conc N] [--secs S] [--chunk B]\n");
        return 2;
    }
    int fd = open(file, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb)) {
        perror(file);
        return 2;
    }
    file_len = (size_t)sb.st_size;
    size_t nchunks = file_len / chunk + 1;
    payload = malloc(10 + file_len + nchunks * 4 + 4);
    memcpy(payload, "zINSTREAM", 10);
    size_t o = 10, done = 0;
    while (done < file_len) {
        size_t n = file_len - done < chunk ? file_len - done : chunk;
        put_be32(payload + o, (uint32_t)n);
        o += 4;
        if (read(fd, payload + o, n) != (ssize_t)n) {
            perror("read");
            return 2;
        }
        o += n;
        done += n;
    }
    put_be32(payload + o, 0);
    payload_len = o + 4;
    close(fd);

    pthread_t *th = calloc((size_t)conc, sizeof *th);
    stats_t *st = calloc((size_t)conc, sizeof *st);
    double t0 = now();
    for (int i = 0; i < conc; i++)
        pthread_create(&th[i], NULL, worker, &st[i]);
    while (now() - t0 < secs)
        usleep(20000);
    stop = 1;
    double el = now() - t0;
    for (int i = 0; i < conc; i++)
        pthread_join(th[i], NULL);
    stats_t tot = {0};
    for (int i = 0; i < conc; i++) {
        tot.ok += st[i].ok;
        tot.bad += st[i].bad;
        tot.err += st[i].err;
        if (!tot.first_bad[0] && st[i].first_bad[0])
            memcpy(tot.first_bad, st[i].first_bad, sizeof tot.first_bad);
    }
    printf("requests %llu reqs_per_s %.1f mb_per_s %.2f bad %llu errors %llu%s%s\n",
           (unsigned long long)tot.ok, (double)tot.ok / el,
           (double)tot.ok * (double)file_len / el / 1e6, (unsigned long long)tot.bad,
           (unsigned long long)tot.err, tot.first_bad[0] ? " first_bad " : "", tot.first_bad);
    return tot.bad || tot.err || !tot.ok ? 1 : 0;
}
