/* SPDX-License-Identifier: Apache-2.0 */
/* The clamd command and INSTREAM chunk parsers (src/clamd/clamd-parse.c).
 * Every input is placed against a guard page, so reading one byte past the
 * end faults.  Expected answers come from real clamd 1.4 (see
 * tests/integration/test-clamd-diff.sh for the live comparison). */
#include <stdint.h>

#include "t.h"
#include "guard.h"
#include "bulwark/bulwark.h"
#include "clamd/clamd-parse.h"

static int parse(const char *s, size_t n, int eop, bw_clamd_req_t *req)
{
    return bw_clamd_parse_cmd(guard(s, n), n, eop, 4104, req);
}

#define P(lit, eop, req) parse(lit, sizeof(lit) - 1, eop, req)

TEST(z_form_ping)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("zPING\0", 0, &r), 6);
    CHECK_EQ(r.cmd, BW_CLAMD_PING);
    CHECK_EQ(r.style, BW_CLAMD_Z);
    CHECK_EQ(r.term, '\0');
}

TEST(n_form_and_crlf)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("nVERSION\n", 0, &r), 9);
    CHECK_EQ(r.cmd, BW_CLAMD_VERSION);
    CHECK_EQ(r.term, '\n');
    CHECK_EQ(P("nPING\r\n", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_PING);
    /* the z form is not chomped: clamd answers UNKNOWN COMMAND */
    CHECK_EQ(P("zPING\r\0", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
}

TEST(needs_terminator)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("zPING", 0, &r), BW_AGAIN);
    CHECK_EQ(P("zPING", 1, &r), BW_AGAIN); /* a packet end ends only the legacy form */
    CHECK_EQ(P("nPING", 1, &r), BW_AGAIN);
    CHECK_EQ(P("", 1, &r), BW_AGAIN);
}

TEST(legacy_form)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("PING\n", 0, &r), 5);
    CHECK_EQ(r.cmd, BW_CLAMD_PING);
    CHECK_EQ(r.style, BW_CLAMD_BARE);
    /* one read = one command, as clamd */
    CHECK_EQ(P("PING", 0, &r), BW_AGAIN);
    CHECK_EQ(P("PING", 1, &r), 4);
    CHECK_EQ(r.cmd, BW_CLAMD_PING);
    /* not every command exists in the legacy form */
    CHECK_EQ(P("VERSIONCOMMANDS\n", 0, &r), 16);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("INSTREAM\n", 0, &r), 9);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("IDSESSION\n", 0, &r), 10);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("SCAN /tmp\n", 0, &r), 10);
    CHECK_EQ(r.cmd, BW_CLAMD_SCAN);
}

TEST(arguments)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("nSCAN /tmp/x y\n", 0, &r), 15);
    CHECK_EQ(r.cmd, BW_CLAMD_SCAN);
    CHECK_EQ(r.arg_len, 8);
    CHECK(!memcmp(r.arg, "/tmp/x y", 8));
    /* clamd skips exactly one byte after the name, whatever it is */
    CHECK_EQ(P("nSCANX/a\n", 0, &r), 9);
    CHECK_EQ(r.cmd, BW_CLAMD_SCAN);
    CHECK_EQ(r.arg_len, 2);
    CHECK_EQ(P("nSCAN  /a\n", 0, &r), 10);
    CHECK_EQ(r.arg_len, 3);
    CHECK(!memcmp(r.arg, " /a", 3));
    CHECK_EQ(P("nSCAN \n", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_SCAN);
    CHECK_EQ(r.arg_len, 0);
    /* a path command without its path, a plain one with trailing bytes */
    CHECK_EQ(P("nSCAN\n", 0, &r), 6);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("nPINGX\n", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("nPING \n", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("nCONTSCAN /a\n", 0, &r), 13);
    CHECK_EQ(r.cmd, BW_CLAMD_CONTSCAN);
    CHECK_EQ(P("zMULTISCAN /a\0", 0, &r), 14);
    CHECK_EQ(r.cmd, BW_CLAMD_MULTISCAN);
    CHECK_EQ(P("zALLMATCHSCAN /a\0", 0, &r), 17);
    CHECK_EQ(r.cmd, BW_CLAMD_ALLMATCHSCAN);
}

TEST(prefix_order)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("zVERSIONCOMMANDS\0", 0, &r), 17);
    CHECK_EQ(r.cmd, BW_CLAMD_VERSIONCOMMANDS);
    CHECK_EQ(P("zDETSTATSCLEAR\0", 0, &r), 15);
    CHECK_EQ(r.cmd, BW_CLAMD_DETSTATSCLEAR);
    CHECK_EQ(P("zDETSTATS\0", 0, &r), 10);
    CHECK_EQ(r.cmd, BW_CLAMD_DETSTATS);
    CHECK_EQ(P("zIDSESSION\0", 0, &r), 11);
    CHECK_EQ(r.cmd, BW_CLAMD_IDSESSION);
    CHECK_EQ(P("zEND\0", 0, &r), 5);
    CHECK_EQ(r.cmd, BW_CLAMD_END);
    CHECK_EQ(P("nping\n", 0, &r), 6);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN); /* names are case-sensitive */
    CHECK_EQ(P(" PING\n", 0, &r), 6);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
}

TEST(embedded_nul_ends_the_command)
{
    bw_clamd_req_t r;
    CHECK_EQ(P("nPI\0NG\n", 0, &r), 7);
    CHECK_EQ(r.cmd, BW_CLAMD_UNKNOWN);
    CHECK_EQ(P("nPING\0junk\n", 0, &r), 11);
    CHECK_EQ(r.cmd, BW_CLAMD_PING);
}

TEST(pipelined_commands)
{
    const char in[] = "zIDSESSION\0zPING\0zEND\0";
    const char *g = guard(in, sizeof in - 1);
    bw_clamd_req_t r;
    size_t off = 0;
    bw_clamd_cmd_t want[] = {BW_CLAMD_IDSESSION, BW_CLAMD_PING, BW_CLAMD_END};
    for (int i = 0; i < 3; i++) {
        int n = bw_clamd_parse_cmd(g + off, sizeof in - 1 - off, 0, 4104, &r);
        CHECK(n > 0);
        CHECK_EQ(r.cmd, want[i]);
        off += (size_t)n;
    }
    CHECK_EQ(off, sizeof in - 1);
}

TEST(line_limit)
{
    size_t n = 1 << 20;
    char *big = malloc(n);
    memset(big, 'a', n);
    memcpy(big, "nSCAN /", 7);
    bw_clamd_req_t r;
    /* no terminator in a megabyte: an error, not an endless wait */
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, n), n, 0, 4104, &r), BW_ERR);
    big[n - 1] = '\n';
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, n), n, 0, 4104, &r), BW_ERR);
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, 4104), 4104, 0, 4104, &r), BW_AGAIN);
    big[4104] = '\n';
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, 4105), 4105, 0, 4104, &r), 4105);
    /* legacy: a long line without newline is an error too, packet or not */
    big[4104] = 'a';
    memcpy(big, "SCAN /", 6);
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, 5000), 5000, 0, 4104, &r), BW_ERR);
    CHECK_EQ(bw_clamd_parse_cmd(guard(big, 5000), 5000, 1, 4104, &r), BW_ERR);
    free(big);
}

TEST(names)
{
    CHECK_STR(bw_clamd_cmd_name(BW_CLAMD_INSTREAM), "INSTREAM");
    CHECK_STR(bw_clamd_cmd_name(BW_CLAMD_UNKNOWN), "UNKNOWN");
    CHECK(bw_clamd_cmd_takes_path(BW_CLAMD_SCAN));
    CHECK(!bw_clamd_cmd_takes_path(BW_CLAMD_PING));
}

/* ---- INSTREAM chunks ---- */

static void be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

TEST(stream_chunks)
{
    char in[4 + 5 + 4 + 3 + 4];
    be32(in, 5);
    memcpy(in + 4, "hello", 5);
    be32(in + 9, 3);
    memcpy(in + 13, "abc", 3);
    be32(in + 16, 0);
    bw_clamd_stream_t st;
    bw_clamd_stream_init(&st, 100);
    const char *g = guard(in, sizeof in);
    size_t off = 0, used, n;
    const char *d;
    char got[16];
    size_t gl = 0;
    bw_clamd_chunk_ev_t ev;
    while ((ev = bw_clamd_stream_feed(&st, g + off, sizeof in - off, &used, &d, &n)) == BW_CHUNK_BYTES) {
        memcpy(got + gl, d, n);
        gl += n;
        off += used;
    }
    off += used;
    CHECK_EQ(ev, BW_CHUNK_LAST);
    CHECK_EQ(off, sizeof in);
    CHECK_EQ(gl, 8);
    CHECK(!memcmp(got, "helloabc", 8));
}

TEST(stream_byte_by_byte)
{
    char in[4 + 70 + 4];
    be32(in, 70);
    memset(in + 4, 'x', 70);
    be32(in + 74, 0);
    bw_clamd_stream_t st;
    bw_clamd_stream_init(&st, 1000);
    size_t total = 0, used, n;
    const char *d;
    bw_clamd_chunk_ev_t ev = BW_CHUNK_MORE;
    for (size_t i = 0; i < sizeof in; i++) {
        ev = bw_clamd_stream_feed(&st, guard(in + i, 1), 1, &used, &d, &n);
        CHECK_EQ(used, 1);
        if (ev == BW_CHUNK_BYTES)
            total += n;
    }
    CHECK_EQ(ev, BW_CHUNK_LAST);
    CHECK_EQ(total, 70);
}

TEST(stream_over_limit)
{
    char in[8];
    be32(in, 2 * 1024 * 1024);
    bw_clamd_stream_t st;
    bw_clamd_stream_init(&st, 1024 * 1024);
    size_t used, n;
    const char *d;
    /* refused at the length, before any of its bytes */
    CHECK_EQ(bw_clamd_stream_feed(&st, guard(in, 4), 4, &used, &d, &n), BW_CHUNK_OVER);
    /* the sum counts: 600 + 600 past 1000 */
    char two[4 + 600 + 4];
    be32(two, 600);
    memset(two + 4, 'a', 600);
    be32(two + 604, 600);
    bw_clamd_stream_init(&st, 1000);
    size_t off = 0;
    bw_clamd_chunk_ev_t ev;
    const char *g = guard(two, sizeof two);
    while ((ev = bw_clamd_stream_feed(&st, g + off, sizeof two - off, &used, &d, &n)) == BW_CHUNK_BYTES)
        off += used;
    CHECK_EQ(ev, BW_CHUNK_OVER);
    /* exactly the limit is allowed */
    char ok[4 + 10 + 4];
    be32(ok, 10);
    memset(ok + 4, 'b', 10);
    be32(ok + 14, 0);
    bw_clamd_stream_init(&st, 10);
    off = 0;
    g = guard(ok, sizeof ok);
    while ((ev = bw_clamd_stream_feed(&st, g + off, sizeof ok - off, &used, &d, &n)) == BW_CHUNK_BYTES)
        off += used;
    CHECK_EQ(ev, BW_CHUNK_LAST);
}

TEST(stream_truncated_needs_more)
{
    char in[4 + 3];
    be32(in, 100);
    memcpy(in + 4, "abc", 3);
    bw_clamd_stream_t st;
    bw_clamd_stream_init(&st, 1000);
    size_t used, n;
    const char *d;
    const char *g = guard(in, sizeof in);
    CHECK_EQ(bw_clamd_stream_feed(&st, g, sizeof in, &used, &d, &n), BW_CHUNK_BYTES);
    CHECK_EQ(n, 3);
    CHECK_EQ(bw_clamd_stream_feed(&st, g + used, sizeof in - used, &used, &d, &n), BW_CHUNK_MORE);
    CHECK_EQ(st.left, 97);
}

int main(void) { return t_run(); }
