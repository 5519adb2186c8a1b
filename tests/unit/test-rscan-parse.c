/* SPDX-License-Identifier: Apache-2.0 */
/* The BWSCAN/1 parser (src/rscan/rscan-parse.c), both directions.  Every
 * input sits against a guard page, so a read one byte past it faults. */
#include <stdint.h>

#include "t.h"
#include "guard.h"
#include "rscan/rscan-parse.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LEN(lit) (sizeof(lit) - 1)

static int req(const char *s, size_t n, bw_rscan_req_t *r, size_t *used, bw_err_t *e)
{
    return bw_rscan_parse_request(guard(s, n), n, r, used, e);
}
#define REQ(lit) req(lit, LEN(lit), &r, &used, &e)

TEST(scan_request)
{
    bw_rscan_req_t r;
    size_t used;
    bw_err_t e;
    CHECK_EQ(REQ("SCAN " SHA " 1234 dir/a%20b.txt\nPING\n"), BW_OK);
    CHECK_EQ(used, LEN("SCAN " SHA " 1234 dir/a%20b.txt\n"));
    CHECK_EQ(r.kind, BW_RSCAN_REQ_SCAN);
    CHECK_STR(r.sha256, SHA);
    CHECK_EQ(r.size, 1234);
    CHECK_STR(r.name, "dir/a b.txt");
    /* upper-case hex is accepted and normalised; "-" is no name */
    CHECK_EQ(REQ("SCAN 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef 0 -\r\n"), BW_OK);
    CHECK_STR(r.sha256, SHA);
    CHECK_STR(r.name, "");
    CHECK_EQ(REQ("PING\n"), BW_OK);
    CHECK_EQ(r.kind, BW_RSCAN_REQ_PING);
}

TEST(need_more)
{
    bw_rscan_req_t r;
    size_t used;
    bw_err_t e;
    CHECK_EQ(REQ("SCAN " SHA " 12"), BW_AGAIN);
    CHECK_EQ(REQ(""), BW_AGAIN);
    CHECK_EQ(REQ("PIN"), BW_AGAIN);
}

TEST(malformed_requests_are_skippable_errors)
{
    bw_rscan_req_t r;
    size_t used;
    bw_err_t e;
    static const char *bad[] = {
        "HELLO\n", "SCAN\n", "SCAN " SHA " 12\n", "SCAN " SHA " 12 a b\n",
        "SCAN abc 12 n\n", "SCAN " SHA "0 12 n\n", "SCAN " SHA " -1 n\n", "SCAN " SHA " 1x n\n",
        "SCAN " SHA " 99999999999999999999 n\n", "SCAN " SHA " 12 %4\n", "SCAN " SHA " 12 %zz\n",
        "SCAN " SHA " 12 a%00b\n", "SCAN " SHA "  12 n\n", "PING x\n", "SCAN " SHA " 12 a\tb\n",
        "scan " SHA " 12 n\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t n = strlen(bad[i]);
        e.msg[0] = 0;
        int rc = req(bad[i], n, &r, &used, &e);
        if (rc != BW_ERR || used != n || strncmp(e.msg, "byte ", 5) != 0) {
            fprintf(stderr, "  case %zu: rc %d used %zu msg '%s'\n", i, rc, used, e.msg);
            CHECK(0);
        }
    }
}

TEST(overlong_line_is_fatal)
{
    static char big[BW_RSCAN_MAX_LINE + 10];
    memset(big, 'a', sizeof big);
    bw_rscan_req_t r;
    size_t used = 99;
    bw_err_t e;
    CHECK_EQ(req(big, sizeof big, &r, &used, &e), BW_ERR);
    CHECK_EQ(used, 0);
    /* exactly at the limit, without its newline yet: still need-more */
    CHECK_EQ(req(big, BW_RSCAN_MAX_LINE, &r, &used, &e), BW_AGAIN);
    /* a long name that decodes past the name buffer is an error, not a cut */
    char line[BW_RSCAN_MAX_LINE];
    int n = snprintf(line, sizeof line, "SCAN " SHA " 1 ");
    memset(line + n, 'x', BW_RSCAN_NAME_MAX + 5);
    line[n + BW_RSCAN_NAME_MAX + 5] = '\n';
    CHECK_EQ(req(line, (size_t)n + BW_RSCAN_NAME_MAX + 6, &r, &used, &e), BW_ERR);
}

TEST(chunks)
{
    uint64_t len;
    size_t used;
    bw_err_t e;
    CHECK_EQ(bw_rscan_parse_chunk(guard("1f4\nxx", 6), 6, &len, &used, &e), BW_OK);
    CHECK_EQ(len, 500);
    CHECK_EQ(used, 4);
    CHECK_EQ(bw_rscan_parse_chunk(guard("0\n", 2), 2, &len, &used, &e), BW_OK);
    CHECK_EQ(len, 0);
    CHECK_EQ(bw_rscan_parse_chunk(guard("1f", 2), 2, &len, &used, &e), BW_AGAIN);
    CHECK_EQ(bw_rscan_parse_chunk(guard("zz\n", 3), 3, &len, &used, &e), BW_ERR);
    CHECK_EQ(bw_rscan_parse_chunk(guard("\n", 1), 1, &len, &used, &e), BW_ERR);
    CHECK_EQ(bw_rscan_parse_chunk(guard("100001\n", 7), 7, &len, &used, &e), BW_ERR); /* > 1 MiB */
    CHECK_EQ(bw_rscan_parse_chunk(guard("100000\n", 7), 7, &len, &used, &e), BW_OK);
    CHECK_EQ(bw_rscan_parse_chunk(guard("-1\n", 3), 3, &len, &used, &e), BW_ERR);
}

TEST(replies)
{
    bw_rscan_reply_t r;
    size_t used;
    bw_err_t e;
    const char *v = "VERDICT INFECTED Eicar%20Test 3.abcdef012345 cached\n";
    CHECK_EQ(bw_rscan_parse_reply(guard(v, strlen(v)), strlen(v), &r, &used, &e), BW_OK);
    CHECK_EQ(r.kind, BW_RSCAN_REP_VERDICT);
    CHECK_EQ(r.status, BW_INFECTED);
    CHECK_STR(r.threat, "Eicar Test");
    CHECK_STR(r.db_version, "3.abcdef012345");
    CHECK_EQ(r.cached, 1);
    v = "VERDICT CLEAN - 3.x scanned\n";
    CHECK_EQ(bw_rscan_parse_reply(guard(v, strlen(v)), strlen(v), &r, &used, &e), BW_OK);
    CHECK_STR(r.threat, "");
    CHECK_EQ(r.cached, 0);
    v = "SEND\n";
    CHECK_EQ(bw_rscan_parse_reply(guard(v, 5), 5, &r, &used, &e), BW_OK);
    CHECK_EQ(r.kind, BW_RSCAN_REP_SEND);
    v = "ERROR size mismatch: x\n";
    CHECK_EQ(bw_rscan_parse_reply(guard(v, strlen(v)), strlen(v), &r, &used, &e), BW_OK);
    CHECK_EQ(r.kind, BW_RSCAN_REP_ERROR);
    CHECK_STR(r.threat, "size mismatch: x");
    v = "PONG 0.abc\n";
    CHECK_EQ(bw_rscan_parse_reply(guard(v, strlen(v)), strlen(v), &r, &used, &e), BW_OK);
    CHECK_STR(r.db_version, "0.abc");
    static const char *bad[] = {"VERDICT BOGUS - 1 cached\n", "VERDICT CLEAN - 1 maybe\n",
                                "VERDICT CLEAN -\n", "PONG\n", "SEND more\n", "WHAT\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_EQ(bw_rscan_parse_reply(guard(bad[i], strlen(bad[i])), strlen(bad[i]), &r, &used, &e),
                 BW_ERR);
}

TEST(percent_encoding_round_trips)
{
    char enc[64];
    bw_rscan_req_t r;
    size_t used;
    bw_err_t e;
    CHECK_EQ(bw_rscan_pct_encode("a b\n%/c", enc, sizeof enc), 13);
    CHECK_STR(enc, "a%20b%0A%25/c");
    char line[200];
    int n = snprintf(line, sizeof line, "SCAN " SHA " 1 %s\n", enc);
    CHECK_EQ(req(line, (size_t)n, &r, &used, &e), BW_OK);
    CHECK_STR(r.name, "a b\n%/c");
    CHECK_EQ(bw_rscan_pct_encode("\x01\x02\x03", enc, 5), (size_t)-1); /* does not fit */
}

int main(void) { return t_run(); }
