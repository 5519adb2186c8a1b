/* SPDX-License-Identifier: Apache-2.0 */
/* bw_part_verify: each syntax element matching and not matching, ::w ::i
 * ::f, boundaries at stream and window edges, which match is reported, and
 * the work bound. */
#include <time.h>

#include "t.h"
#include "sig-test-util.h"

#define YES(sig, str) CHECK_EQ(TM(sig, str), 1)
#define NO(sig, str) CHECK_EQ(TM(sig, str), 0)

TEST(exact_bytes)
{
    YES("68656c6c6f", "say hello");
    NO("68656c6c6f", "say hellO");
    NO("68656c6c6f", "say hell");
    uint64_t s, e;
    CHECK_EQ(tmatch("68656c6c6f", 0, 0, "say hello!", 10, &s, &e), 1);
    CHECK_EQ(s, 4);
    CHECK_EQ(e, 9);
}

TEST(any_byte_wildcard)
{
    YES("4142??4344", "xxAB.CDxx");
    CHECK_EQ(tmatch("4142??" "??4344", 0, 0, "AB\0\0CD", 6, NULL, NULL), 1);
    NO("4142??4344", "ABCD");
    NO("4142??4344", "AB..CD");
    YES("??41424344", "xABCD");
    NO("??41424344", "ABCD");   /* the leading byte must exist */
    YES("41424344??", "ABCDx");
    NO("41424344??", "ABCD");
}

TEST(high_and_low_nibbles)
{
    YES("41424?", "ABC");
    YES("41424?", "ABO");   /* 0x4f */
    NO("41424?", "AB1");    /* 0x31 */
    YES("4142?3", "ABC");
    YES("4142?3", "ABS");   /* 0x53 */
    NO("4142?3", "ABD");
    YES("3?3?4142", "12AB");
    NO("3?3?4142", "1AAB");
}

TEST(fixed_and_ranged_gaps)
{
    YES("4142{3}4344", "AB123CD");
    NO("4142{3}4344", "AB12CD");
    NO("4142{3}4344", "AB1234CD");
    YES("4142{-2}4344", "ABCD");
    YES("4142{-2}4344", "AB12CD");
    NO("4142{-2}4344", "AB123CD");
    YES("4142{2-4}4344", "AB12CD");
    YES("4142{2-4}4344", "AB1234CD");
    NO("4142{2-4}4344", "AB1CD");
    NO("4142{2-4}4344", "AB12345CD");
    YES("4142[1-2]43", "AB1C");
    /* a gap before the anchor */
    YES("41{1-3}42434445", "A..BCDE");
    NO("41{1-3}42434445", "A....BCDE");
}

TEST(alternatives_single_multi_and_nibble)
{
    YES("4142(43|44|45)4647", "ABEFG");
    NO("4142(43|44|45)4647", "ABXFG");
    YES("4142(4344|45)4647", "ABCDFG");
    YES("4142(4344|45)4647", "ABEFG");
    NO("4142(4344|45)4647", "ABCFG");
    YES("4142(3?|7a)4647", "AB7FG");
    YES("4142(3?|7a)4647", "ABzFG");
    NO("4142(3?|7a)4647", "ABaFG");
    /* lengths differ and the shorter alternative leads nowhere */
    YES("4142(43|434343)4445", "ABCCCDE");
    /* an alternative before the anchor, matched backward */
    YES("(7878|79)41424344", "yABCD");
    YES("(7878|79)41424344", "xxABCD");
    NO("(7878|79)41424344", "xABCD");
}

TEST(negated_alternatives)
{
    YES("4142!(43|44)4546", "ABxEF");
    NO("4142!(43|44)4546", "ABCEF");
    NO("4142!(43|44)4546", "ABDEF");
    YES("4142!(4344|4546)4748", "ABCEGH");
    NO("4142!(4344|4546)4748", "ABCDGH");
    YES("!(58)41424344", "YABCD");
    NO("!(58)41424344", "XABCD");
    NO("!(58)41424344", "ABCD"); /* needs a byte there */
}

TEST(word_boundary_B)
{
    YES("(B)41424344", "ABCD");     /* stream start */
    YES("(B)41424344", " ABCD");
    NO("(B)41424344", "xABCD");
    NO("(B)41424344", "_ABCD");
    YES("41424344(B)", "ABCD.");
    YES("41424344(B)", "ABCD");     /* stream end, at EOF */
    NO("41424344(B)", "ABCD9");
    /* next to a gap construct: a look-around, as at a subpattern's end */
    YES("4142{1-2}(B)4344", "AB. CD");
    NO("4142{1-2}(B)4344", "ABxyCD");
    YES("4142(B){1-2}4344", "AB.xCD");
    NO("4142(B){1-2}4344", "ABxxCD");
    /* between two bytes: a class that consumes one byte (ClamAV) */
    YES("4142(B)4344", "AB.CD");
    YES("4142(B)4344", "AB CD");
    NO("4142(B)4344", "AB_CD");
    NO("4142(B)4344", "ABCD");
}

TEST(negated_boundaries)
{
    YES("!(B)41424344", "xABCD");
    NO("!(B)41424344", " ABCD");
    NO("!(B)41424344", "ABCD");     /* the stream start is a boundary */
    YES("41424344!(L)", "ABCDx");
    NO("41424344!(L)", "ABCD\n");
    NO("41424344!(L)", "ABCD");
    YES("4142!(W)4344", "ABxCD");   /* class: an alphanumeric byte */
    NO("4142!(W)4344", "AB.CD");
    YES("4142!(L)4344", "ABxCD");
    NO("4142!(L)4344", "AB\nCD");
}

TEST(line_boundary_L)
{
    YES("(L)41424344", "x\nABCD");
    YES("(L)41424344", "x\rABCD");
    YES("(L)41424344", "ABCD");
    NO("(L)41424344", "x ABCD");
    YES("41424344(L)", "ABCD\r\n");
    YES("41424344(L)", "ABCD\n");
    NO("41424344(L)", "ABCD ");
    /* as a class between bytes: \n or \r\n */
    YES("4142(L)4344", "AB\nCD");
    YES("4142(L)4344", "AB\r\nCD");
    NO("4142(L)4344", "AB\rCD");
    NO("4142(L)4344", "AB CD");
}

TEST(non_alnum_W)
{
    YES("(W)41424344", "_ABCD");
    NO("(W)41424344", "zABCD");
    YES("41424344(W)", "ABCD-");
    NO("41424344(W)", "ABCD0");
    /* ClamAV's own vectors (check_matchers.c) */
    YES("(W)6969696969", "iiiii");
    YES("6a6a6a(W)6a6a", "jjj&jj");
    YES("6b6b6b6b6b(W)", "kkkkk");
    NO("(W)6c6c6c6c6c", "slllll");
    NO("6d6d6d6d6d(W)", "mmmmme");
    NO("6a6a6a(W)6a6a", "jjjjj");
    CHECK_EQ(tmatch("4142(W)4344", 0, 1, "A\0B\0-\0C\0D\0", 10, NULL, NULL), 1);
    CHECK_EQ(tmatch("4142(W)4344", 0, 1, "A\0B\0x\0C\0D\0", 10, NULL, NULL), 0);
}

TEST(boundary_needs_the_byte_or_eof)
{
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "41424344(B)", 0, 0), BW_OK);
    const uint8_t d[] = "xxABCD";
    /* the byte after is not here yet: no match until more data or EOF */
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, 6, 2, 0, &s, &e), 0);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, 6, 2, 1, &s, &e), 1);
    CHECK_EQ(tcomp(&db, "(B)41424344", 0, 0), BW_OK);
    /* window starts at stream offset 2 = the anchor: byte 1 is unknown */
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d + 2, 2, 4, 2, 1, &s, &e), 0);
    /* window from offset 1 holds the ' ' before it */
    const uint8_t d2[] = "x ABCD";
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d2 + 1, 1, 5, 2, 1, &s, &e), 1);
    CHECK_EQ(s, 2);
    CHECK_EQ(e, 6);
    /* and the true stream start is an edge even for a window at 0 */
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d2 + 2, 0, 4, 0, 0, &s, &e), 1);
    tdb_free(&db);
}

TEST(nocase)
{
    CHECK_EQ(tmatch("68656c6c6f", BW_PARTF_NOCASE, 0, "HeLLo", 5, NULL, NULL), 1);
    CHECK_EQ(tmatch("68656c6c6f", 0, 0, "HeLLo", 5, NULL, NULL), 0);
    CHECK_EQ(tmatch("616263??" "(78|79)", BW_PARTF_NOCASE, 0, "ABC.Y", 5, NULL, NULL), 1);
    CHECK_EQ(tmatch("616263??" "(78|79)", 0, 0, "abc.Y", 5, NULL, NULL), 0);
    CHECK_EQ(tmatch("616263{1-3}7879", BW_PARTF_NOCASE, 0, "ABC..XY", 7, NULL, NULL), 1);
    CHECK_EQ(tmatch("5b5b", BW_PARTF_NOCASE, 0, "{{", 2, NULL, NULL), 0); /* not letters */
}

TEST(fullword)
{
    uint32_t f = BW_PARTF_FULLWORD;
    CHECK_EQ(tmatch("6576696c", f, 0, "an evil act", 11, NULL, NULL), 1);
    CHECK_EQ(tmatch("6576696c", f, 0, "evil", 4, NULL, NULL), 1);
    CHECK_EQ(tmatch("6576696c", f, 0, "devil", 5, NULL, NULL), 0);
    CHECK_EQ(tmatch("6576696c", f, 0, "evils", 5, NULL, NULL), 0);
    CHECK_EQ(tmatch("6576696c", 0, 0, "devils", 6, NULL, NULL), 1);
    /* multi-part: only the first part's start and the last part's end */
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "6576696c*676f6f64", f, 0), BW_OK);
    CHECK_EQ(tpart(&db, 0, "evilxgood", 9, &s, &e), 1); /* end of part 0 is free */
    CHECK_EQ(tpart(&db, 1, "evilxgood", 9, &s, &e), 1); /* 'x' before part 1 is fine... */
    CHECK_EQ(tpart(&db, 1, "evil goodx", 10, &s, &e), 0); /* ...but 'x' after it is not */
    CHECK_EQ(tpart(&db, 1, "evil good", 9, &s, &e), 1);
    CHECK_EQ(tpart(&db, 1, "evilgood", 8, &s, &e), 1);
    tdb_free(&db);
}

TEST(wide)
{
    const char w[] = "x\0A\0B\0C\0D\0y\0";
    CHECK_EQ(tmatch("41424344", 0, 1, w, sizeof w - 1, NULL, NULL), 1);
    CHECK_EQ(tmatch("41424344", 0, 0, w, sizeof w - 1, NULL, NULL), 0);
    CHECK_EQ(tmatch("4142??4344", 0, 1, "A\0B\0z\0C\0D\0", 10, NULL, NULL), 1);
    CHECK_EQ(tmatch("4142??4344", 0, 1, "A\0B\0zzC\0D\0", 10, NULL, NULL), 0);
    CHECK_EQ(tmatch("4142{1-2}4344", 0, 1, "A\0B\0z\0z\0C\0D\0", 12, NULL, NULL), 1);
    CHECK_EQ(tmatch("4142(43|4445)", 0, 1, "A\0B\0D\0E\0", 8, NULL, NULL), 1);
    CHECK_EQ(tmatch("4142(43|4445)", 0, 1, "A\0B\0DE", 6, NULL, NULL), 0);
    CHECK_EQ(tmatch("4142", BW_PARTF_NOCASE, 1, "a\0b\0", 4, NULL, NULL), 1);
    uint64_t s, e;
    CHECK_EQ(tmatch("41424344", 0, 1, w, sizeof w - 1, &s, &e), 1);
    CHECK_EQ(s, 2);
    CHECK_EQ(e, 10);
}

TEST(reports_latest_start_and_earliest_end)
{
    uint64_t s, e;
    /* AB can be 1..3 bytes before CDEF: the latest start wins */
    CHECK_EQ(tmatch("4142{0-3}43444546", 0, 0, "ABABABCDEF", 10, &s, &e), 1);
    CHECK_EQ(s, 4);
    CHECK_EQ(e, 10);
    /* XY can follow at several distances: the earliest end wins */
    CHECK_EQ(tmatch("41424344{0-4}5859", 0, 0, "ABCDXYXYXY", 10, &s, &e), 1);
    CHECK_EQ(s, 0);
    CHECK_EQ(e, 6);
    /* alternatives: shortest that works */
    CHECK_EQ(tmatch("41424344(45|4546)", 0, 0, "ABCDEF", 6, &s, &e), 1);
    CHECK_EQ(e, 5);
    /* two variable elements: the greedy first choice is not the best one */
    CHECK_EQ(tmatch("(58|5858)??{0-2}41424344", 0, 0, "XXXXABCD", 8, &s, &e), 1);
    CHECK_EQ(s, 2);
    CHECK_EQ(e, 8);
}

TEST(window_edges)
{
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "5858{2}41424344??5959", 0, 0), BW_OK);
    const bw_part_t *p = &db.parts.v[0];
    const uint8_t d[] = "..XX..ABCD.YY..";
    CHECK_EQ(bw_part_verify(&db, p, d, 0, 15, 6, 0, &s, &e), 1);
    CHECK_EQ(s, 2);
    CHECK_EQ(e, 13);
    /* window [3, 15): the first X is gone */
    CHECK_EQ(bw_part_verify(&db, p, d + 3, 3, 12, 6, 0, &s, &e), 0);
    /* window [2, 13): exactly enough */
    CHECK_EQ(bw_part_verify(&db, p, d + 2, 2, 11, 6, 0, &s, &e), 1);
    /* window [2, 12): the last Y is not there yet, EOF or not */
    CHECK_EQ(bw_part_verify(&db, p, d + 2, 2, 10, 6, 0, &s, &e), 0);
    CHECK_EQ(bw_part_verify(&db, p, d + 2, 2, 10, 6, 1, &s, &e), 0);
    /* anchor outside the window, or not at the position given */
    CHECK_EQ(bw_part_verify(&db, p, d + 7, 7, 8, 6, 0, &s, &e), 0);
    CHECK_EQ(bw_part_verify(&db, p, d, 0, 15, 5, 0, &s, &e), 0);
    CHECK_EQ(bw_part_verify(&db, p, d, 0, 15, UINT64_MAX - 2, 0, &s, &e), 0);
    /* stream offsets far from zero */
    uint64_t base = (uint64_t)1 << 40;
    CHECK_EQ(bw_part_verify(&db, p, d, base, 15, base + 6, 0, &s, &e), 1);
    CHECK_EQ(s, base + 2);
    tdb_free(&db);
}

TEST(multi_part_parts_verify_separately)
{
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "41424344{1-}(45|46)4748*4949", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 3);
    const char *d = "ABCD..FGH..II";
    CHECK_EQ(tpart(&db, 0, d, 13, &s, &e), 1);
    CHECK_EQ(e, 4);
    CHECK_EQ(tpart(&db, 1, d, 13, &s, &e), 1);
    CHECK_EQ(s, 6);
    CHECK_EQ(e, 9);
    CHECK_EQ(tpart(&db, 2, d, 13, &s, &e), 1);
    CHECK_EQ(s, 11);
    CHECK_EQ(db.parts.v[1].gap_min, 1);
    CHECK(s - 9 >= db.parts.v[2].gap_min);
    CHECK_EQ(tpart(&db, 1, "ABCD..XGH", 9, &s, &e), 0);
    tdb_free(&db);
}

TEST(hostile_signature_is_bounded)
{
    /* many ranges over data of near-misses: the search must stop fast */
    char sig[512] = "";
    for (int i = 0; i < 12; i++)
        strcat(sig, "41{0-6}");
    strcat(sig, "4243");
    static uint8_t d[4096];
    memset(d, 'A', sizeof d);
    memcpy(d + sizeof d - 2, "BC", 2); /* anchor at the end; everything before is A */
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, sig, 0, 0), BW_OK);
    clock_t t0 = clock();
    int r = bw_part_verify(&db, &db.parts.v[0], d, 0, sizeof d, sizeof d - 2, 1, &s, &e);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_EQ(r, 1); /* a match exists and is found early */
    CHECK_EQ(e, sizeof d);
    CHECK(secs < 0.5);
    /* unmatchable: one byte that is never there */
    strcpy(sig, "");
    for (int i = 0; i < 12; i++)
        strcat(sig, "41{0-6}");
    strcat(sig, "5a{0-6}4243");
    CHECK_EQ(tcomp(&db, sig, 0, 0), BW_OK);
    t0 = clock();
    r = bw_part_verify(&db, &db.parts.v[0], d, 0, sizeof d, sizeof d - 2, 1, &s, &e);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK_EQ(r, 0);
    CHECK(secs < 0.5);
    tdb_free(&db);
}

TEST(long_gap_scans_fast)
{
    /* a 500 KB range gap: candidates are found with memchr, not stepped */
    size_t n = 590000;
    uint8_t *d = calloc(n, 1);
    memcpy(d, "ABCD", 4);
    memcpy(d + n - 2, "XY", 2);
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "41424344{0-599000}5859", 0, 0), BW_OK);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, n, 0, 1, &s, &e), 1);
    CHECK_EQ(e, n);
    CHECK_EQ(tcomp(&db, "5859{0-599000}41424344", 0, 0), BW_OK);
    memcpy(d, "XY", 2);
    memcpy(d + n - 4, "ABCD", 4);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, n, n - 4, 1, &s, &e), 1);
    CHECK_EQ(s, 0);
    /* the same without memchr: ::i, and a masked byte after the gap */
    CHECK_EQ(tcomp(&db, "7879{0-589994}41424344", BW_PARTF_NOCASE, 0), BW_OK);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, n, n - 4, 1, &s, &e), 1);
    CHECK_EQ(s, 0);
    CHECK_EQ(tcomp(&db, "41424344{0-589994}5?59", 0, 0), BW_OK);
    memcpy(d, "ABCD", 4);
    memcpy(d + n - 2, "XY", 2);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, n, 0, 1, &s, &e), 1);
    CHECK_EQ(e, n);
    CHECK_EQ(tcomp(&db, "41424344{0-589993}5?59", 0, 0), BW_OK); /* one byte short */
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], d, 0, n, 0, 1, &s, &e), 0);
    free(d);
    tdb_free(&db);
}

TEST(damaged_part_is_refused)
{
    bw_sigdb_t db = {0};
    uint64_t s, e;
    CHECK_EQ(tcomp(&db, "41424344", 0, 0), BW_OK);
    bw_part_t p = db.parts.v[0];
    p.anchor_tok = 7;
    CHECK_EQ(bw_part_verify(&db, &p, (const uint8_t *)"ABCD", 0, 4, 0, 1, &s, &e), 0);
    p = db.parts.v[0];
    p.tok_count = 1000;
    CHECK_EQ(bw_part_verify(&db, &p, (const uint8_t *)"ABCD", 0, 4, 0, 1, &s, &e), 0);
    CHECK_EQ(bw_part_verify(&db, &db.parts.v[0], (const uint8_t *)"ABCD", 0, 4, 0, 1, &s, &e), 1);
    tdb_free(&db);
}

int main(void)
{
    return t_run();
}
