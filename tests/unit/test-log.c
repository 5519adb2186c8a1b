/* SPDX-License-Identifier: Apache-2.0 */
/* core/log: the default stderr line (time, ident[pid], level), a sink that
 * takes the messages instead, and long messages cut with their newline. */
#include <regex.h>
#include <unistd.h>

#include "core/log.h"
#include "t.h"

/* Runs fn with stderr redirected into a pipe; returns what it wrote. */
static char *capture(void (*fn)(void))
{
    static char out[8192];
    int p[2];
    if (pipe(p) != 0)
        return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(p[1], 2);
    close(p[1]);
    fn();
    dup2(saved, 2);
    close(saved);
    ssize_t n = read(p[0], out, sizeof out - 1);
    close(p[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static int matches(const char *text, const char *re)
{
    regex_t r;
    if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE) != 0)
        return 0;
    int ok = regexec(&r, text, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

static void two_lines(void)
{
    bw_log(BW_LOG_WARN, "quarantine: %s: not stored", "http://x/");
    bw_log(BW_LOG_INFO, "icaps client: %d", 7);
}

TEST(default_line_has_time_ident_pid_level)
{
    bw_log_set_ident("bulwarkd");
    char *out = capture(two_lines);
    char re[256];
    snprintf(re, sizeof re,
             "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} bulwarkd\\[%d\\] warning: "
             "quarantine: http://x/: not stored\n"
             "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} bulwarkd\\[%d\\] info: "
             "icaps client: 7\n$",
             (int)getpid(), (int)getpid());
    CHECK(out && matches(out, re));
}

static int got_level;
static char got_msg[256];
static void *got_ctx;
static void sink(int level, const char *msg, void *ctx)
{
    got_level = level;
    snprintf(got_msg, sizeof got_msg, "%s", msg);
    got_ctx = ctx;
}

static void one_error(void)
{
    bw_log(BW_LOG_ERR, "disk %s", "full");
}

TEST(sink_takes_the_message_and_null_restores_stderr)
{
    int ctx;
    bw_log_set_sink(sink, &ctx);
    char *out = capture(one_error);
    CHECK_STR(out, "");
    CHECK_EQ(got_level, BW_LOG_ERR);
    CHECK_STR(got_msg, "disk full");
    CHECK(got_ctx == &ctx);
    bw_log_set_sink(NULL, NULL);
    out = capture(one_error);
    CHECK(out && matches(out, " error: disk full\n$"));
}

static void long_line(void)
{
    static char big[5000];
    memset(big, 'a', sizeof big - 1);
    bw_log(BW_LOG_INFO, "%s", big);
}

TEST(long_message_is_cut_and_ends_with_newline)
{
    char *out = capture(long_line);
    CHECK(out != NULL);
    if (!out)
        return;
    size_t n = strlen(out);
    CHECK(n > 2000 && n < 2300);
    CHECK(n && out[n - 1] == '\n');
    CHECK(strchr(out, '\n') == out + n - 1);
}

TEST(level_names)
{
    CHECK_STR(bw_log_level_name(BW_LOG_ERR), "error");
    CHECK_STR(bw_log_level_name(2), "error");
    CHECK_STR(bw_log_level_name(BW_LOG_WARN), "warning");
    CHECK_STR(bw_log_level_name(5), "info");
    CHECK_STR(bw_log_level_name(BW_LOG_INFO), "info");
}

int main(void)
{
    return t_run();
}
