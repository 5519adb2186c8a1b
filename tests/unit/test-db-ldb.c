/* SPDX-License-Identifier: Apache-2.0 */
/* .ldb loading: TDB keys, subsignature forms and modifiers, unsupported
 * kinds, rollback of half-compiled signatures, errors with file:line.  The
 * hex and logic compilers belong to other files: only the fields the loader
 * fills in are checked (bsig range, owner, subsig, offsets, target, fsize). */
#include <stdint.h>

#include "db-test-util.h"
#include "engine/db-load.h"
#include "t.h"

TEST(valid_ldb_fills_ldb_and_consecutive_bsigs)
{
    fx_t f;
    fx_init(&f);
    const char *text = "Test.One;Engine:51-255,Target:0;0&1;41414141;EOF-10:42424242::i\n"
                       "Test.Two;Target:1,FileSize:100-2000;0|(1&2);10,5:43434343;44444444::f;"
                       "*:45454545::w\n";
    CHECK_EQ(load(&f, "ldb", text), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 2);
    CHECK_EQ(f.db.bsigs.n, 5);
    CHECK_EQ(count_of(&f.L, "ldb"), 2);
    CHECK_EQ(f.L.signatures, 2);
    if (f.db.ldbs.n == 2 && f.db.bsigs.n == 5) {
        const bw_ldb_t *a = &f.db.ldbs.v[0], *b = &f.db.ldbs.v[1];
        CHECK_EQ(a->bsig_first, 0);
        CHECK_EQ(a->bsig_count, 2);
        CHECK_EQ(a->target, 0);
        CHECK_EQ(a->fsize_min, 0);
        CHECK(a->fsize_max == UINT64_MAX);
        CHECK(a->logic_count > 0);
        CHECK_STR(bw_sigdb_string(&f.db, f.db.metas.v[a->meta].name_off), "Test.One");
        CHECK_EQ(b->bsig_first, 2);
        CHECK_EQ(b->bsig_count, 3);
        CHECK_EQ(b->target, BW_TARGET_PE);
        CHECK_EQ(b->fsize_min, 100);
        CHECK_EQ(b->fsize_max, 2000);
        CHECK(b->logic_first >= a->logic_first + a->logic_count);
        CHECK_STR(bw_sigdb_string(&f.db, f.db.metas.v[b->meta].name_off), "Test.Two");
        const bw_bsig_t *s = f.db.bsigs.v;
        for (int i = 0; i < 5; i++) {
            CHECK_EQ(s[i].is_ldb, 1);
            CHECK_EQ(s[i].owner, i < 2 ? 0 : 1);
            CHECK_EQ(s[i].subsig, i < 2 ? i : i - 2);
        }
        CHECK_EQ(s[0].off_kind, BW_OFF_ANY);
        CHECK_EQ(s[1].off_kind, BW_OFF_EOF);
        CHECK_EQ(s[1].off, 10);
        CHECK_EQ(s[2].off_kind, BW_OFF_ABS);
        CHECK_EQ(s[2].off, 10);
        CHECK_EQ(s[2].shift, 5);
        CHECK_EQ(s[2].target, BW_TARGET_PE);
        CHECK_EQ(s[4].off_kind, BW_OFF_ANY);
        /* ::i and ::f reach the compiled parts as flags */
        CHECK(f.db.parts.v[s[1].part_first].flags & BW_PARTF_NOCASE);
        CHECK(f.db.parts.v[s[3].part_first].flags & BW_PARTF_FULLWORD);
        CHECK(!(f.db.parts.v[s[0].part_first].flags & (BW_PARTF_NOCASE | BW_PARTF_FULLWORD)));
    }
    fx_free(&f);
}

TEST(unsupported_tdb_and_targets_are_counted)
{
    fx_t f;
    fx_init(&f);
    const char *text = "E;Engine:1-100,Target:0;0;41414141\n"
                       "E2;Engine:201-255,Target:0;0;41414141\n"
                       "T;Target:3;0;41414141\n"
                       "C;Target:0,Container:CL_TYPE_ZIP;0;41414141\n"
                       "P;Target:1,EntryPoint:0-100;0;41414141\n"
                       "I;Target:0,Intermediates:CL_TYPE_ZIP;0;41414141\n"
                       /* engine decides first, even with an unsupported key */
                       "E3;Engine:1-2,Target:0,IconGroup1:x;0;41414141\n";
    CHECK_EQ(load(&f, "ldb", text), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 0);
    CHECK_EQ(f.db.bsigs.n, 0);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb engine range"), 3);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb target 3 (HTML)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb TDB key Container"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb TDB key EntryPoint"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb TDB key Intermediates"), 1);
    CHECK_EQ(count_of(&f.L, "ldb"), 0);
    fx_free(&f);
}

TEST(special_subsignatures_skip_the_signature)
{
    fx_t f;
    fx_init(&f);
    const char *text =
        "Pcre;Engine:81-255,Target:0;0&1;41414141;0/clamav/g\n"
        "Pcre2;Engine:81-255,Target:0;0&1;41414141;200,300:0/cla\\x3Bmav/ge\n"
        "Bc;Engine:81-255,Target:0;0&1;41414141;0(>>5#hb2#=10)\n"
        "Macro;Engine:51-255,Target:0;0&1;616161;${6-7}12$\n"
        "Fuzzy;Engine:150-255,Target:0;0&1;41414141;fuzzy_img#af2ad01ed42993c7#0\n"
        "Ep;Target:1;0&1;41414141;EP+0:42424242\n"
        "Sx;Target:1;0;S1+5,3:42424242\n";
    CHECK_EQ(load(&f, "ldb", text), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 0);
    CHECK_EQ(f.db.bsigs.n, 0);
    CHECK_EQ(f.db.metas.n, 0);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb PCRE subsignature"), 2);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb byte-compare subsignature"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb macro subsignature"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb fuzzy image subsignature"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb offset EP+n"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb offset Sx+n"), 1);
    fx_free(&f);
}

TEST(wide_ascii_loads_ascii_and_counts)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load(&f, "ldb", "WA;Engine:81-255,Target:0;0&1;414141;68656c6c6f::wa\n"), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 1);
    CHECK_EQ(f.db.bsigs.n, 2);
    CHECK_EQ(count_of(&f.L, "unsupported: ldb ::wa (wide part ignored)"), 1);
    CHECK_EQ(count_of(&f.L, "ldb"), 1);
    fx_free(&f);
}

TEST(declined_subsig_rolls_back_everything)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load(&f, "ldb", "Ok;Target:0;0;41414141\n"), BW_OK);
    size_t toks = f.db.toks.n, bytes = f.db.bytes.n, parts = f.db.parts.n, logic = f.db.logic.n;
    size_t strings = f.db.strings.n;
    /* subsig 1 is one exact byte: the compiler declines it */
    CHECK_EQ(load(&f, "ldb", "Weak;Target:0;0&1;42424242;41\n"), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 1);
    CHECK_EQ(f.db.bsigs.n, 1);
    CHECK_EQ(f.db.toks.n, toks);
    CHECK_EQ(f.db.bytes.n, bytes);
    CHECK_EQ(f.db.parts.n, parts);
    CHECK_EQ(f.db.logic.n, logic);
    CHECK_EQ(f.db.strings.n, strings);
    CHECK_EQ(f.db.metas.n, 1);
    CHECK_EQ(count_of(&f.L, "ldb"), 1);
    CHECK_EQ(count_prefix(&f.L, "unsupported: "), 1);
    /* and the next signature still gets consecutive bsigs */
    CHECK_EQ(load(&f, "ldb", "Next;Target:0;0&1;43434343;44444444\n"), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 2);
    if (f.db.ldbs.n == 2) {
        CHECK_EQ(f.db.ldbs.v[1].bsig_first, 1);
        CHECK_EQ(f.db.bsigs.v[2].owner, 1);
        CHECK_EQ(f.db.bsigs.v[2].subsig, 1);
    }
    fx_free(&f);
}

TEST(ignored_ldb_is_skipped)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load(&f, "ign2", "Ign.Ldb\n"), BW_OK);
    CHECK_EQ(load(&f, "ldu", "Ign.Ldb;Target:0;0;41414141\nKept;Target:0;0;41414141\n"), BW_OK);
    CHECK_EQ(f.db.ldbs.n, 1);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 1);
    CHECK_EQ(count_of(&f.L, "ldu"), 1);
    fx_free(&f);
}

TEST(ldb_errors_name_file_and_line)
{
    expect_error("ldb", "A;Target:0;0\n", "t.ldb:1:", "fields");
    expect_error("ldb", ";Target:0;0;41414141\n", "t.ldb:1:", "empty signature name");
    expect_error("ldb", "A;Target:0;;41414141\n", "t.ldb:1:", "empty logical expression");
    expect_error("ldb", "A;Target:x;0;41414141\n", "t.ldb:1:", "bad target type");
    expect_error("ldb", "A;Engine:x-3,Target:0;0;41414141\n", "t.ldb:1:", "bad Engine range");
    expect_error("ldb", "A;Engine:9-3,Target:0;0;41414141\n", "t.ldb:1:", "bad Engine range");
    expect_error("ldb", "A;Target:0,FileSize:a;0;41414141\n", "t.ldb:1:", "bad FileSize range");
    expect_error("ldb", "A;Target:0,Bogus:1;0;41414141\n", "t.ldb:1:", "unknown target description key");
    expect_error("ldb", "A;Target;0;41414141\n", "t.ldb:1:", "Key:Value");
    expect_error("ldb", "A;Target:0;0&1;41414141;\n", "t.ldb:1:", "subsignature 1 is empty");
    expect_error("ldb", "A;Target:0;0;41414141::x\n", "t.ldb:1: subsignature 0", "modifier 'x'");
    expect_error("ldb", "A;Target:0;0;41414141::\n", "t.ldb:1: subsignature 0", "modifier");
    expect_error("ldb", "A;Target:0;0;1:2:41414141\n", "t.ldb:1: subsignature 0", "':'");
    expect_error("ldb", "A;Target:0;0;EOF+1:41414141\n", "t.ldb:1: subsignature 0", "bad offset");
    expect_error("ldb", "A;Target:0;0;10:\n", "t.ldb:1: subsignature 0", "empty hex");
    expect_error("ldb", "#\nA;Target:0;0;4141zz41\n", "t.ldb:2: subsignature 0: hex signature", "byte");
    expect_error("ldb", "A;Target:0;0&5;41414141;42424242\n", "t.ldb:1:", "logical expression");
    expect_error("ldb", "A@NOPE;Target:0;0;41414141\n", "t.ldb:1:", "unknown status tag");
    /* 65 subsignatures */
    char line[2048] = "A;Target:0;0";
    for (int i = 0; i < 65; i++)
        strcat(line, ";41414141");
    strcat(line, "\n");
    expect_error("ldb", line, "t.ldb:1:", "too many subsignatures (65, at most 64)");
}

TEST(sixty_four_subsignatures_load)
{
    fx_t f;
    fx_init(&f);
    char line[2048] = "A;Target:0;0&63";
    for (int i = 0; i < 64; i++) {
        char s[16];
        snprintf(s, sizeof s, ";4141%04x", i);
        strcat(line, s);
    }
    strcat(line, "\n");
    CHECK_EQ(load(&f, "ldb", line), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 64);
    if (f.db.bsigs.n == 64)
        CHECK_EQ(f.db.bsigs.v[63].subsig, 63);
    fx_free(&f);
}

int main(void) { return t_run(); }
