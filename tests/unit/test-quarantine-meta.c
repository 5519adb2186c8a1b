/* SPDX-License-Identifier: Apache-2.0 */
/* The quarantine metadata record: format and strict parse (quarantine-meta.c).
 * Every input is parsed from a guard-page copy, so a read past the end
 * faults. */
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "quarantine/quarantine.h"
#include "t.h"

#define SHA "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"

static const char good[] =
    "# Bulwark quarantine record\n"
    "version: 1\n"
    "sha256: " SHA "\n"
    "size: 68\n"
    "partial: no\n"
    "time: 2024-05-01T12:00:00Z\n"
    "status: INFECTED\n"
    "threat: Eicar-Test-Signature\n"
    "origin: http://example.com/eicar.com\n"
    "client: 192.0.2.7\n"
    "user:\n"
    "group: default\n"
    "method: RESPMOD\n";

static bw_quar_meta_t m;
static bw_err_t err;
static unsigned line;

static int parse(const char *s)
{
    const char *p = guard(s, strlen(s));
    memset(&err, 0, sizeof err);
    return bw_quar_meta_parse(p, strlen(s), &m, &line, &err);
}

/* The good record with line `n` (1-based) replaced by `repl` (which
 * carries its own newline, or is "" to drop the line). */
static const char *with_line(unsigned n, const char *repl)
{
    static char out[8192];
    const char *p = good;
    size_t o = 0;
    for (unsigned i = 1; *p; i++) {
        const char *nl = strchr(p, '\n');
        size_t len = (size_t)(nl - p) + 1;
        if (i == n) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", repl);
        } else {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = '\0';
    return out;
}

TEST(parses_a_good_record)
{
    CHECK_EQ(parse(good), BW_OK);
    CHECK_STR(m.sha256, SHA);
    CHECK_EQ(m.size, 68);
    CHECK(!m.partial);
    CHECK_EQ(m.time, 1714564800);
    CHECK_STR(m.status, "INFECTED");
    CHECK_EQ(m.nthreats, 1);
    CHECK_STR(m.threats[0], "Eicar-Test-Signature");
    CHECK_STR(m.origin, "http://example.com/eicar.com");
    CHECK_STR(m.client, "192.0.2.7");
    CHECK_STR(m.user, "");
    CHECK_STR(m.group, "default");
    CHECK_STR(m.method, "RESPMOD");
}

TEST(format_then_parse_gives_the_same_record)
{
    bw_quar_meta_t a = {0};
    memcpy(a.sha256, SHA, 65);
    a.size = 123456789012345ull;
    a.partial = true;
    a.time = 1700000000;
    strcpy(a.status, "SUSPICIOUS");
    a.nthreats = 2;
    strcpy(a.threats[0], "Heuristic.A in a.zip/x.exe");
    strcpy(a.threats[1], "limits exceeded: MaxReqLength");
    strcpy(a.origin, "http://h/p?q=1: two");
    strcpy(a.client, " 10.0.0.1 ");
    strcpy(a.group, "lab");
    strcpy(a.method, "REQMOD");
    bw_buf_t b = {0};
    bw_quar_meta_format(&a, &b);
    bw_buf_append(&b, "", 1);
    CHECK(!b.oom);
    CHECK_EQ(parse(b.p), BW_OK);
    CHECK_STR(m.sha256, SHA);
    CHECK_EQ(m.size, a.size);
    CHECK(m.partial);
    CHECK_EQ(m.time, a.time);
    CHECK_STR(m.status, "SUSPICIOUS");
    CHECK_EQ(m.nthreats, 2);
    CHECK_STR(m.threats[1], "limits exceeded: MaxReqLength");
    CHECK_STR(m.origin, a.origin);
    CHECK_STR(m.client, " 10.0.0.1 ");
    CHECK_STR(m.user, "");
    bw_buf_free(&b);
}

TEST(field_set_cuts_and_neutralises_control_characters)
{
    char f[8];
    bw_quar_field_set(f, sizeof f, "a\nb\rc\x7f" "defgh");
    CHECK_STR(f, "a?b?c?d");
    bw_quar_field_set(f, sizeof f, NULL);
    CHECK_STR(f, "");
}

TEST(comments_are_skipped_anywhere)
{
    CHECK_EQ(parse(with_line(5, "# a note\npartial: no\n")), BW_OK);
    CHECK_EQ(parse(with_line(5, "#\npartial: yes\n")), BW_OK);
    CHECK(m.partial);
}

#define BAD(name, lineno, input, what)                              \
    TEST(name)                                                      \
    {                                                               \
        CHECK_EQ(parse(input), BW_ERR);                             \
        CHECK_EQ(line, lineno);                                     \
        CHECK_CONTAINS(err.msg, what);                              \
    }

BAD(refuses_an_unknown_key, 4, with_line(4, "bytes: 68\n"), "unknown key 'bytes'")
BAD(refuses_a_duplicate_key, 5, with_line(5, "size: 68\n"), "given twice (first on line 4)")
BAD(refuses_a_missing_key, 12, with_line(4, ""), "missing 'size'")
BAD(refuses_an_empty_record, 1, "", "missing 'version'")
BAD(refuses_an_empty_line, 6, with_line(6, "\n"), "empty line")
BAD(refuses_a_key_without_space, 4, with_line(4, "size:68\n"), "expected 'key: value'")
BAD(refuses_an_upper_case_key, 4, with_line(4, "Size: 68\n"), "expected 'key: value'")
BAD(refuses_a_line_without_colon, 9, with_line(9, "origin http://x/\n"), "expected 'key: value'")
BAD(refuses_a_missing_final_newline, 1, "version: 1", "no newline")
BAD(refuses_a_carriage_return, 9, with_line(9, "origin: http://x/\r\n"), "control character 0x0d")
BAD(refuses_another_version, 2, with_line(2, "version: 2\n"), "unsupported record version '2'")
BAD(refuses_an_upper_case_sha, 3,
    with_line(3, "sha256: 275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F\n"),
    "64 lowercase hex")
BAD(refuses_a_short_sha, 3, with_line(3, "sha256: 275a021b\n"), "64 lowercase hex")
BAD(refuses_a_size_with_leading_zero, 4, with_line(4, "size: 068\n"), "not a byte count")
BAD(refuses_a_negative_size, 4, with_line(4, "size: -1\n"), "not a byte count")
BAD(refuses_an_overflowing_size, 4, with_line(4, "size: 18446744073709551616\n"),
    "not a byte count")
BAD(refuses_a_bad_partial, 5, with_line(5, "partial: maybe\n"), "expected yes or no")
BAD(refuses_a_nonexistent_date, 6, with_line(6, "time: 2024-02-30T12:00:00Z\n"), "not a UTC time")
BAD(refuses_a_local_time, 6, with_line(6, "time: 2024-05-01T12:00:00+02:00\n"), "not a UTC time")
BAD(refuses_an_hour_25, 6, with_line(6, "time: 2024-05-01T25:00:00Z\n"), "not a UTC time")
BAD(refuses_an_unknown_status, 7, with_line(7, "status: EVIL\n"), "unknown status 'EVIL'")
BAD(refuses_a_lower_case_status, 7, with_line(7, "status: infected\n"), "unknown status")

TEST(accepts_the_largest_size)
{
    CHECK_EQ(parse(with_line(4, "size: 18446744073709551615\n")), BW_OK);
    CHECK(m.size == UINT64_MAX);
}

TEST(refuses_a_value_longer_than_its_field)
{
    char rec[8192];
    char client[200];
    memset(client, 'a', sizeof client - 1);
    client[sizeof client - 1] = '\0';
    char l[300];
    snprintf(l, sizeof l, "client: %s\n", client);
    snprintf(rec, sizeof rec, "%s", with_line(10, l));
    CHECK_EQ(parse(rec), BW_ERR);
    CHECK_EQ(line, 10);
    CHECK_CONTAINS(err.msg, "client: value of 199 bytes (at most 127)");
}

TEST(refuses_more_than_32_threats)
{
    char threats[4096] = "";
    size_t o = 0;
    for (int i = 0; i < 33; i++)
        o += (size_t)snprintf(threats + o, sizeof threats - o, "threat: T%d\n", i);
    static char rec[8192];
    snprintf(rec, sizeof rec, "%s", with_line(8, threats));
    CHECK_EQ(parse(rec), BW_ERR);
    CHECK_EQ(line, 8 + 32);
    CHECK_CONTAINS(err.msg, "more than 32");
    /* 32 are fine */
    threats[o - strlen("threat: T32\n")] = '\0';
    snprintf(rec, sizeof rec, "%s", with_line(8, threats));
    CHECK_EQ(parse(rec), BW_OK);
    CHECK_EQ(m.nthreats, 32);
    CHECK_STR(m.threats[31], "T31");
}

TEST(refuses_an_oversized_record)
{
    static char big[BW_QUAR_MAX_RECORD + 2];
    memset(big, '#', sizeof big - 1);
    big[sizeof big - 2] = '\n';
    CHECK_EQ(parse(big), BW_ERR);
    CHECK_CONTAINS(err.msg, "at most 65536");
}

TEST(a_record_cut_inside_a_line_is_refused)
{
    /* Cut anywhere: an error (never a crash, never a read past the end),
     * except at a line end after every required key. */
    size_t n = strlen(good);
    for (size_t i = 0; i < n; i++) {
        const char *p = guard(good, i);
        int rc = bw_quar_meta_parse(p, i, &m, &line, &err);
        int whole_lines = i > 0 && good[i - 1] == '\n';
        if (rc != BW_ERR && !(rc == BW_OK && whole_lines && strstr(good + i, "origin:") == NULL)) {
            fprintf(stderr, "  prefix of %zu bytes gave %d\n", i, rc);
            CHECK(rc == BW_ERR);
            break;
        }
    }
}

TEST(refuses_a_nul_byte)
{
    static const char rec[] = "version: 1\nsize: 6\0008\n";
    const char *p = guard(rec, sizeof rec - 1);
    CHECK_EQ(bw_quar_meta_parse(p, sizeof rec - 1, &m, &line, &err), BW_ERR);
    CHECK_EQ(line, 2);
    CHECK_CONTAINS(err.msg, "control character 0x00");
}

TEST(set_verdict_names_threats_and_where)
{
    bw_threat_t th[2] = {{BW_INFECTED, (char *)"Eicar", (char *)""},
                         {BW_SUSPICIOUS, (char *)"Heur", (char *)"a.zip/b.exe"}};
    bw_verdict_t v = {.status = BW_INFECTED, .nthreats = 2, .threats = th};
    bw_quar_meta_t a = {0};
    bw_quar_meta_set_verdict(&a, &v);
    CHECK_STR(a.status, "INFECTED");
    CHECK_EQ(a.nthreats, 2);
    CHECK_STR(a.threats[0], "Eicar");
    CHECK_STR(a.threats[1], "Heur in a.zip/b.exe");
}

int main(void)
{
    int rc = t_run();
    guard_free();
    return rc;
}
