/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the event spool's segment reader (evspool-read.c): the input is a
 * finished segment file (sealed, as after a crash or a roll) of arbitrary
 * bytes: torn last lines, NUL bytes, invalid JSON, lines over the 64 KiB
 * limit (an input starting with 'H' gets a 70 000-byte line in front).  The
 * reader must return only JSON objects with a string "id", as a valid JSON
 * array whose size is the count it says, skip (and count) the rest, make
 * progress on every call (no hang) and, once everything is acknowledged,
 * have nothing left. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"
#include "events/evspool.h"

static void quiet(int level, const char *msg, void *ctx)
{
    (void)level, (void)msg, (void)ctx;
}

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/bw-fuzz-evspool-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        bw_log_set_sink(quiet, NULL);
    }
    char seg[128], cur[128];
    snprintf(seg, sizeof seg, "%s/seg-1-1.jsonl", dir);
    snprintf(cur, sizeof cur, "%s/cursor-f", dir);
    unlink(seg);
    unlink(cur);
    int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    if (fd < 0)
        abort();
    if (size && data[0] == 'H') {
        static char big[70000];
        memset(big, 'a', sizeof big);
        if (write(fd, big, sizeof big) != (ssize_t)sizeof big)
            abort();
    }
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    fchmod(fd, 0440); /* sealed: a torn tail is final */
    close(fd);

    bw_evspool_reader_t *r;
    bw_err_t err;
    if (bw_evspool_reader_open(dir, "f", &r, &err))
        abort();
    bw_buf_t b = {0};
    size_t total_lines = 0;
    for (size_t i = 0; i < size + 80000; i++)
        total_lines += i < size ? data[i] == '\n' : 0;
    size_t rounds = 0;
    for (;;) {
        size_t n;
        bw_evspool_mark_t m;
        if (bw_evspool_read(r, 3, 4096, &b, &n, &m, &err))
            abort();
        if (n == 0 && m.nseg == 0)
            break;
        json_error_t je;
        json_t *a = json_loadb(b.p, b.len, 0, &je);
        if (!json_is_array(a) || json_array_size(a) != n)
            abort();
        size_t k;
        json_t *e;
        json_array_foreach(a, k, e) if (!json_is_object(e) || !json_is_string(json_object_get(e, "id")))
            abort();
        json_decref(a);
        if (bw_evspool_ack(r, &m, &err))
            abort();
        if (++rounds > total_lines + 3) /* every call consumes at least one line */
            abort();
    }
    if (bw_evspool_backlog(r) != 0)
        abort();
    bw_buf_free(&b);
    bw_evspool_reader_close(r);
    unlink(seg);
    unlink(cur);
    return 0;
}
