/* SPDX-License-Identifier: Apache-2.0 */
/* bw_hex_compile: the token/part layout of each syntax element, splitting,
 * ::w ::i ::f, every error with its byte offset, DECLINED, and roll-back. */
#include "t.h"
#include "sig-test-util.h"

static const bw_tok_t *tok(const bw_sigdb_t *db, uint32_t part, uint32_t k)
{
    return &db->toks.v[db->parts.v[part].tok_first + k];
}

static int pool_eq(const bw_sigdb_t *db, uint32_t off, const char *bytes, size_t n)
{
    return off + n <= db->bytes.n && memcmp(db->bytes.v + off, bytes, n) == 0;
}

TEST(plain_hex_is_one_bytes_token)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "48656c6C6F", 0, 0), BW_OK);
    CHECK_EQ(db.bsigs.n, 1);
    CHECK_EQ(db.bsigs.v[0].part_first, 0);
    CHECK_EQ(db.bsigs.v[0].part_count, 1);
    CHECK_EQ(db.bsigs.v[0].off_kind, BW_OFF_ANY);
    CHECK_EQ(db.parts.n, 1);
    const bw_part_t *p = &db.parts.v[0];
    CHECK_EQ(p->tok_count, 1);
    CHECK_EQ(p->anchor_tok, p->tok_first);
    CHECK_EQ(tok(&db, 0, 0)->kind, BW_TOK_BYTES);
    CHECK_EQ(tok(&db, 0, 0)->b, 5);
    CHECK(pool_eq(&db, tok(&db, 0, 0)->a, "Hello", 5));
    CHECK_EQ(p->min_before + p->max_before + p->min_after + p->max_after, 0);
    CHECK_EQ(p->gap_min, 0);
    CHECK_EQ(p->gap_max, 0);
    CHECK_EQ(p->index, 0);
    CHECK_EQ(p->bsig, 0);
    CHECK_EQ(db.max_part_extent, 5);
    tdb_free(&db);
}

TEST(wildcard_bytes_become_a_fixed_gap_and_anchor_is_longest_run)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "4142????434445", 0, 0), BW_OK);
    const bw_part_t *p = &db.parts.v[0];
    CHECK_EQ(p->tok_count, 3);
    CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_GAP);
    CHECK_EQ(tok(&db, 0, 1)->a, 2);
    CHECK_EQ(tok(&db, 0, 1)->b, 2);
    CHECK_EQ(p->anchor_tok, p->tok_first + 2); /* CDE beats AB */
    CHECK_EQ(p->min_before, 4);
    CHECK_EQ(p->max_before, 4);
    CHECK_EQ(p->max_after, 0);
    CHECK_EQ(db.max_part_extent, 7);
    tdb_free(&db);
}

TEST(nibbles_become_masked_tokens)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424?" "?5" "4344", 0, 0), BW_OK);
    const bw_tok_t *m = tok(&db, 0, 1);
    CHECK_EQ(m->kind, BW_TOK_MASKED);
    CHECK_EQ(m->b, 2);
    CHECK(pool_eq(&db, m->a, "\x40\x05\xf0\x0f", 4)); /* values, then masks */
    tdb_free(&db);
}

TEST(star_splits_into_parts)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344*45464748*494a", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 3);
    CHECK_EQ(db.bsigs.v[0].part_count, 3);
    for (uint32_t k = 0; k < 3; k++) {
        CHECK_EQ(db.parts.v[k].index, k);
        CHECK_EQ(db.parts.v[k].bsig, 0);
    }
    CHECK_EQ(db.parts.v[0].gap_max, 0);
    CHECK_EQ(db.parts.v[1].gap_min, 0);
    CHECK_EQ(db.parts.v[1].gap_max, BW_GAP_INF);
    CHECK_EQ(db.parts.v[2].gap_max, BW_GAP_INF);
    CHECK(pool_eq(&db, tok(&db, 2, 0)->a, "IJ", 2));
    tdb_free(&db);
}

TEST(bounded_ranges_stay_in_the_part)
{
    struct { const char *sig; uint32_t a, b; } c[] = {
        {"4142{5}4344", 5, 5}, {"4142{-5}4344", 0, 5}, {"4142{2-7}4344", 2, 7},
        {"4142[2-7]4344", 2, 7}, {"4142??{2-7}??4344", 4, 9},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        bw_sigdb_t db = {0};
        CHECK_EQ(tcomp(&db, c[i].sig, 0, 0), BW_OK);
        CHECK_EQ(db.parts.n, 1);
        CHECK_EQ(db.parts.v[0].tok_count, 3);
        CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_GAP);
        CHECK_EQ(tok(&db, 0, 1)->a, c[i].a);
        CHECK_EQ(tok(&db, 0, 1)->b, c[i].b);
        CHECK_EQ(db.parts.v[0].min_after, c[i].a + 2);
        CHECK_EQ(db.parts.v[0].max_after, c[i].b + 2);
        tdb_free(&db);
    }
}

TEST(open_range_splits_with_its_lower_bound)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344{7-}45464748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 2);
    CHECK_EQ(db.parts.v[1].gap_min, 7);
    CHECK_EQ(db.parts.v[1].gap_max, BW_GAP_INF);
    tdb_free(&db);
}

TEST(huge_range_splits_at_extent_limit)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344{10-2000000}4546{3}4748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 2);
    CHECK_EQ(db.parts.v[1].gap_min, 10);
    CHECK_EQ(db.parts.v[1].gap_max, 2000000);
    CHECK_EQ(db.parts.v[1].tok_count, 3); /* 4546 {3} 4748: the small gap stays */
    /* a fixed gap just under the limit does not split */
    CHECK_EQ(tcomp(&db, "41424344{1000000}45464748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 1);
    CHECK(db.max_part_extent >= 1000008);
    CHECK_EQ(tcomp(&db, "41424344{1048573}45464748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 2);
    CHECK_EQ(db.parts.v[1].gap_min, 1048573);
    CHECK_EQ(db.parts.v[1].gap_max, 1048573);
    tdb_free(&db);
}

TEST(wildcards_next_to_a_cut_join_the_gap)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344??*????{2-3}45464748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 2);
    CHECK_EQ(db.parts.v[0].tok_count, 1);
    CHECK_EQ(db.parts.v[1].tok_count, 1);
    CHECK_EQ(db.parts.v[1].gap_min, 5);
    CHECK_EQ(db.parts.v[1].gap_max, BW_GAP_INF);
    /* *??* : the empty part between two cuts disappears */
    CHECK_EQ(tcomp(&db, "41424344*??*45464748", 0, 0), BW_OK);
    CHECK_EQ(db.parts.n, 2);
    CHECK_EQ(db.parts.v[1].gap_min, 1);
    tdb_free(&db);
}

TEST(alternatives_are_one_token_sorted_by_length)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344(616263|78|3?79)", 0, 0), BW_OK);
    const bw_tok_t *t = tok(&db, 0, 1);
    CHECK_EQ(t->kind, BW_TOK_ALT);
    CHECK_EQ(t->flags & BW_TOKF_NEGATE, 0);
    CHECK_EQ(t->b, 3);
    const bw_alt_t *a = &db.alts.v[t->a];
    CHECK_EQ(a[0].len, 1);
    CHECK_EQ(a[1].len, 2);
    CHECK_EQ(a[2].len, 3);
    CHECK(pool_eq(&db, a[0].off, "x\xff", 2));
    CHECK(pool_eq(&db, a[1].off, "\x30y\xf0\xff", 4));
    CHECK(pool_eq(&db, a[2].off, "abc\xff\xff\xff", 6));
    CHECK_EQ(db.parts.v[0].min_after, 1);
    CHECK_EQ(db.parts.v[0].max_after, 3);
    tdb_free(&db);
}

TEST(negated_alternatives_carry_the_flag)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "4142!(43|44)4546", 0, 0), BW_OK);
    const bw_tok_t *t = tok(&db, 0, 1);
    CHECK_EQ(t->kind, BW_TOK_ALT);
    CHECK(t->flags & BW_TOKF_NEGATE);
    CHECK_EQ(t->b, 2);
    tdb_free(&db);
}

TEST(single_alternative_group_is_inline_bytes)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41(4243)44", 0, 0), BW_OK);
    CHECK_EQ(db.parts.v[0].tok_count, 1);
    CHECK_EQ(tok(&db, 0, 0)->b, 4);
    CHECK_EQ(db.alts.n, 0);
    tdb_free(&db);
}

TEST(boundaries_are_tokens_with_lookaround_byte)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "(B)41424344(L)", 0, 0), BW_OK);
    const bw_part_t *p = &db.parts.v[0];
    CHECK_EQ(p->tok_count, 3);
    CHECK_EQ(tok(&db, 0, 0)->kind, BW_TOK_BOUNDARY);
    CHECK_EQ(tok(&db, 0, 0)->flags, BW_TOKF_B | BW_TOKF_LEFT);
    CHECK_EQ(tok(&db, 0, 2)->flags, BW_TOKF_L);
    CHECK_EQ(p->min_before, 0);
    CHECK_EQ(p->max_before, 1);
    CHECK_EQ(p->max_after, 1);
    CHECK_EQ(db.max_part_extent, 6);
    /* next to a gap construct: look-arounds, no context byte needed */
    CHECK_EQ(tcomp(&db, "4142(W){2-3}!(B)4344", 0, 0), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_BOUNDARY);
    CHECK_EQ(tok(&db, 0, 1)->flags, BW_TOKF_W);
    CHECK_EQ(tok(&db, 0, 3)->kind, BW_TOK_BOUNDARY);
    CHECK_EQ(tok(&db, 0, 3)->flags, BW_TOKF_B | BW_TOKF_LEFT | BW_TOKF_NEGATE);
    CHECK_EQ(db.parts.v[0].max_before + db.parts.v[0].max_after, 5);
    /* between bytes: a consuming one-byte class */
    CHECK_EQ(tcomp(&db, "4142(W)4344", 0, 0), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_ALT);
    CHECK_EQ(tok(&db, 0, 1)->flags, BW_TOKF_NEGATE);
    CHECK_EQ(tok(&db, 0, 1)->b, 62);
    CHECK_EQ(db.parts.v[0].max_before + db.parts.v[0].max_after, 3);
    CHECK_EQ(tcomp(&db, "4142!(B)4344", 0, 0), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->flags, 0);
    CHECK_EQ(tok(&db, 0, 1)->b, 63);
    CHECK_EQ(tcomp(&db, "4142(L)4344", 0, 0), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->b, 2);
    CHECK_EQ(db.parts.v[0].min_after, 3);
    CHECK_EQ(db.parts.v[0].max_after, 4);
    tdb_free(&db);
}

TEST(wide_inserts_zero_bytes_and_doubles_gaps)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "4142{2-3}43(44|4546)", 0, 1), BW_OK);
    const bw_part_t *p = &db.parts.v[0];
    CHECK_EQ(p->tok_count, 4);
    CHECK(pool_eq(&db, tok(&db, 0, 0)->a, "A\0B\0", 4));
    CHECK_EQ(tok(&db, 0, 1)->a, 4);
    CHECK_EQ(tok(&db, 0, 1)->b, 6);
    CHECK(pool_eq(&db, tok(&db, 0, 2)->a, "C\0", 2));
    const bw_alt_t *a = &db.alts.v[tok(&db, 0, 3)->a];
    CHECK_EQ(a[0].len, 2);
    CHECK_EQ(a[1].len, 4);
    CHECK(pool_eq(&db, a[1].off, "E\0F\0", 4));
    /* `??` under ::w is any byte then 00 */
    CHECK_EQ(tcomp(&db, "41??42", 0, 1), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_GAP);
    CHECK(pool_eq(&db, tok(&db, 0, 2)->a, "\0B\0", 3));
    CHECK_EQ(tcomp(&db, "4142{5-}4344", 0, 1), BW_OK);
    CHECK_EQ(db.parts.v[1].gap_min, 10);
    tdb_free(&db);
}

TEST(part_flags_and_fullword_lookaround)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344*45464748", BW_PARTF_NOCASE | BW_PARTF_FULLWORD, 0), BW_OK);
    CHECK_EQ(db.parts.v[0].flags, BW_PARTF_NOCASE | BW_PARTF_FULLWORD);
    CHECK_EQ(db.parts.v[1].flags, BW_PARTF_NOCASE | BW_PARTF_FULLWORD);
    CHECK_EQ(db.parts.v[0].max_before, 1);
    CHECK_EQ(db.parts.v[0].max_after, 0);
    CHECK_EQ(db.parts.v[1].max_before, 0);
    CHECK_EQ(db.parts.v[1].max_after, 1);
    tdb_free(&db);
}

TEST(appends_after_existing_signatures)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41424344", 0, 0), BW_OK);
    uint32_t idx = 0;
    CHECK_EQ(bw_hex_compile(&db, "45464748*(49|4a)4b4c", 20, 0, 0, &idx, &t_err), BW_OK);
    CHECK_EQ(idx, 1);
    CHECK_EQ(db.bsigs.v[1].part_first, 1);
    CHECK_EQ(db.bsigs.v[1].part_count, 2);
    CHECK_EQ(db.parts.v[1].bsig, 1);
    CHECK_EQ(db.parts.v[2].bsig, 1);
    CHECK_EQ(db.parts.v[1].tok_first, 1);
    CHECK_EQ(db.parts.v[2].anchor_tok, db.parts.v[2].tok_first + 1);
    tdb_free(&db);
}

/* Every error: code, message, byte offset, and nothing left behind. */
static void check_err(const char *sig, int wide, int code, const char *msg)
{
    bw_sigdb_t db = {0};
    memset(&db, 0, sizeof db);
    uint32_t idx = 0;
    CHECK_EQ(bw_hex_compile(&db, "41424344", 8, 0, 0, &idx, &t_err), BW_OK);
    size_t n[5] = {db.toks.n, db.alts.n, db.bytes.n, db.parts.n, db.bsigs.n};
    uint32_t ext = db.max_part_extent;
    t_err.msg[0] = 0;
    int rc = bw_hex_compile(&db, sig, strlen(sig), 0, wide, &idx, &t_err);
    if (rc != code || !strstr(t_err.msg, msg))
        fprintf(stderr, "  signature \"%s\": rc %d, \"%s\"\n", sig, rc, t_err.msg);
    CHECK_EQ(rc, code);
    CHECK_CONTAINS(t_err.msg, msg);
    CHECK_EQ(db.toks.n, n[0]);
    CHECK_EQ(db.alts.n, n[1]);
    CHECK_EQ(db.bytes.n, n[2]);
    CHECK_EQ(db.parts.n, n[3]);
    CHECK_EQ(db.bsigs.n, n[4]);
    CHECK_EQ(db.max_part_extent, ext);
    tdb_free(&db);
}

TEST(errors_say_what_and_where)
{
    check_err("", 0, BW_ERR, "byte 0: empty signature");
    check_err("(B)", 0, BW_ERR, "byte 0: empty signature");
    check_err("4142434", 0, BW_ERR, "byte 6: odd number of hex digits");
    check_err("41424*3", 0, BW_ERR, "byte 4: odd number of hex digits");
    check_err("4142x344", 0, BW_ERR, "byte 4: bad character 'x'");
    check_err("41424 44", 0, BW_ERR, "byte 5: bad character");
    check_err("4142\n44", 0, BW_ERR, "byte 4: bad character 0x0a");
    check_err("4142(43|44", 0, BW_ERR, "byte 4: unbalanced parenthesis");
    check_err("41424344)", 0, BW_ERR, "byte 8: unbalanced parenthesis");
    check_err("4142(43||44)4546", 0, BW_ERR, "byte 8: empty alternative");
    check_err("4142()4546", 0, BW_ERR, "byte 5: empty alternative");
    check_err("4142(43|)4546", 0, BW_ERR, "byte 8: empty alternative");
    check_err("4142!(43|4445)4647", 0, BW_ERR, "byte 5: negated alternatives of different lengths");
    check_err("4142!434445", 0, BW_ERR, "byte 4: '!' must be followed by '('");
    check_err("4142{5-3}4344", 0, BW_ERR, "byte 4: range {5-3} has its upper bound below");
    check_err("4142{99999999999}4344", 0, BW_ERR, "byte 5: number overflow");
    check_err("4142{4294967295}4344", 0, BW_ERR, "number overflow");
    check_err("4142{3000000000}4344", 1, BW_ERR, "number overflow");
    check_err("4142{}4344", 0, BW_ERR, "byte 4: empty range");
    check_err("4142{-}4344", 0, BW_ERR, "byte 4: empty range");
    check_err("4142{3x}4344", 0, BW_ERR, "byte 6: bad character 'x'");
    check_err("4142{3", 0, BW_ERR, "byte 4: unterminated '{'");
    check_err("4142[3]4344", 0, BW_ERR, "byte 4: [x-y] needs both bounds");
    check_err("41424344}", 0, BW_ERR, "byte 8: unbalanced '}'");
    check_err("4142|4344", 0, BW_ERR, "byte 4: '|' outside alternatives");
    check_err("*41424344", 0, BW_ERR, "byte 0: signature starts with a gap");
    check_err("(B){3}41424344", 0, BW_ERR, "byte 3: signature starts with a gap");
    check_err("??*41424344", 0, BW_ERR, "byte 2: signature starts with a gap");
    check_err("41424344*", 0, BW_ERR, "byte 8: signature ends with a gap");
    check_err("41424344{2-}(L)", 0, BW_ERR, "byte 8: signature ends with a gap");
    check_err("41424344*??", 0, BW_ERR, "signature ends with a gap");
    check_err("4142**4344", 0, BW_ERR, "byte 5: two gaps in a row");
    check_err("4142{2}{3}4344", 0, BW_ERR, "byte 7: two gaps in a row");
    check_err("4142*{3}4344", 0, BW_ERR, "byte 5: two gaps in a row");
    check_err("4142(43|*)44", 0, BW_ERR, "byte 8: '*' is not allowed inside alternatives");
    check_err("4142(43|4)44", 0, BW_ERR, "byte 8: odd number of hex digits");
    check_err("4142!(Q)44", 0, BW_ERR, "byte 6: bad character 'Q'");
}

TEST(unusable_signatures_are_declined)
{
    check_err("41", 0, BW_DECLINED, "part 0 has no run of 2 exact bytes");
    check_err("41??42??43", 0, BW_DECLINED, "byte 0: part 0 has no run");
    check_err("41424344*45", 0, BW_DECLINED, "byte 9: part 1 has no run");
    check_err("41424344*4?4?", 0, BW_DECLINED, "part 1 has no run");
    check_err("41424344*(45|46)", 0, BW_DECLINED, "part 1 has no run");
    check_err("????", 0, BW_DECLINED, "part 0 has no run");
    check_err("4142(43|(44|45)46)", 0, BW_DECLINED, "byte 8: nested alternatives are not supported");
    check_err("4142(43|(B))44", 0, BW_DECLINED, "byte 8: nested alternatives");
    /* wide makes one literal byte an anchor of two */
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "41", 0, 1), BW_OK);
    tdb_free(&db);
    /* too many variable elements for the verifier's fixed stack */
    char big[4096] = "4142";
    for (int i = 0; i <= BW_PART_CHOICES_MAX; i++)
        strcat(big, "{0-1}43");
    check_err(big, 0, BW_DECLINED, "variable-length elements");
}

TEST(nibble_and_case_forms_are_accepted)
{
    bw_sigdb_t db = {0};
    CHECK_EQ(tcomp(&db, "aBcDeF", 0, 0), BW_OK);
    CHECK(pool_eq(&db, tok(&db, 0, 0)->a, "\xab\xcd\xef", 3));
    CHECK_EQ(tcomp(&db, "4142a??b4344(?1|2?)", 0, 0), BW_OK);
    CHECK_EQ(tok(&db, 0, 1)->kind, BW_TOK_MASKED);
    CHECK(pool_eq(&db, tok(&db, 0, 1)->a, "\xa0\x0b\xf0\x0f", 4));
    const bw_alt_t *a = &db.alts.v[tok(&db, 0, 3)->a];
    CHECK(pool_eq(&db, a[0].off, "\x01\x0f", 2));
    CHECK(pool_eq(&db, a[1].off, "\x20\xf0", 2));
    tdb_free(&db);
}

int main(void)
{
    return t_run();
}
