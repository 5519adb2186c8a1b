// SPDX-License-Identifier: Apache-2.0
/* open-lat: the latency of open() + read-to-end + close() of each file of a
 * list, as an application sees it under on-access protection
 * (bench/agent-bench.sh).
 *
 *   open-lat [-o PER_FILE_OUT] LIST
 *
 * LIST holds one path per line.  Each file is opened, read to its end in
 * 64 KiB reads and closed, timed with CLOCK_MONOTONIC around the three
 * calls (a permission event is answered inside open(), so its whole cost
 * is in the figure).  Files whose open() or read() fails are not timed as
 * clean ones: each is printed on stderr as "blocked PATH" (EPERM, what a
 * protector answers) or "error PATH: message" (anything else), so the
 * caller can check that exactly the planted files were blocked.
 * stdout gets one line of key=value figures over the files that read:
 *   files= ok= blocked= errors= median_us= p90_us= p99_us= mean_us= total_ms=
 * and -o writes "NANOSECONDS ERRNO PATH" per file.
 *
 * Standalone (libc only) so that the bench builds it with cc alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Returns 0 or the errno of the failed call. */
static int open_read(const char *path)
{
    static char buf[1 << 16];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    int e = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0)
            continue;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
        }
        break;
    }
    close(fd);
    return e;
}

int main(int argc, char **argv)
{
    const char *out_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "o:")) != -1) {
        if (opt == 'o')
            out_path = optarg;
        else
            goto usage;
    }
    if (optind != argc - 1)
        goto usage;

    FILE *list = fopen(argv[optind], "r");
    if (!list) {
        fprintf(stderr, "open-lat: %s: %s\n", argv[optind], strerror(errno));
        return 2;
    }
    FILE *out = NULL;
    if (out_path && !(out = fopen(out_path, "w"))) {
        fprintf(stderr, "open-lat: %s: %s\n", out_path, strerror(errno));
        return 2;
    }

    size_t cap = 1024, n_ok = 0, n_files = 0, n_blocked = 0, n_err = 0;
    uint64_t *t_ok = malloc(cap * sizeof *t_ok), total = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    if (!t_ok)
        return 2;
    while ((len = getline(&line, &lcap, list)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        n_files++;
        uint64_t t0 = now_ns();
        int e = open_read(line);
        uint64_t dt = now_ns() - t0;
        if (out)
            fprintf(out, "%llu %d %s\n", (unsigned long long)dt, e, line);
        if (e == EPERM) {
            n_blocked++;
            fprintf(stderr, "blocked %s\n", line);
            continue;
        }
        if (e) {
            n_err++;
            fprintf(stderr, "error %s: %s\n", line, strerror(e));
            continue;
        }
        if (n_ok == cap) {
            cap *= 2;
            uint64_t *p = realloc(t_ok, cap * sizeof *t_ok);
            if (!p)
                return 2;
            t_ok = p;
        }
        t_ok[n_ok++] = dt;
        total += dt;
    }
    free(line);
    fclose(list);
    if (out)
        fclose(out);
    if (n_ok == 0) {
        printf("files=%zu ok=0 blocked=%zu errors=%zu\n", n_files, n_blocked, n_err);
        free(t_ok);
        return 1;
    }
    qsort(t_ok, n_ok, sizeof *t_ok, cmp_u64);
    printf("files=%zu ok=%zu blocked=%zu errors=%zu median_us=%.2f p90_us=%.2f p99_us=%.2f mean_us=%.2f total_ms=%.2f\n",
           n_files, n_ok, n_blocked, n_err, t_ok[n_ok / 2] / 1e3, t_ok[n_ok * 9 / 10] / 1e3,
           t_ok[n_ok * 99 / 100] / 1e3, (double)total / n_ok / 1e3, total / 1e6);
    free(t_ok);
    return 0;
usage:
    fprintf(stderr, "usage: open-lat [-o PER_FILE_OUT] LIST\n");
    return 2;
}
