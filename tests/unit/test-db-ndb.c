/* SPDX-License-Identifier: Apache-2.0 */
/* .ndb loading: offsets, targets, flevel, ignore lists, unsupported forms,
 * errors with file:line.  The hex compiler belongs to sig-hex.c: these tests
 * only look at the fields the loader fills in (offset, target, owner). */
#include <stdint.h>

#include "db-test-util.h"
#include "engine/db-load.h"
#include "t.h"

static const char *bsig_name(const bw_sigdb_t *db, size_t i)
{
    return bw_sigdb_string(db, db->metas.v[db->bsigs.v[i].owner].name_off);
}

TEST(offsets_and_targets_fill_the_bsig)
{
    fx_t f;
    fx_init(&f);
    const char *text = "Any.Off:0:*:41424344\n"
                       "Abs.Off:1:10:41424344\n"
                       "Abs.Shift:6:10,5:41424344\n"
                       "Eof.Off:9:EOF-20:41424344\n"
                       "Eof.Shift:10:EOF-20,4:41424344\r\n"
                       "Ole.Sig:2:0:41424344:51\n"
                       "Star.Target:*:*:41424344\n";
    CHECK_EQ(load(&f, "ndb", text), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 7);
    CHECK_EQ(count_of(&f.L, "ndb"), 7);
    CHECK_EQ(f.L.signatures, 7);
    if (f.db.bsigs.n == 7) {
        const bw_bsig_t *b = f.db.bsigs.v;
        CHECK_EQ(b[0].off_kind, BW_OFF_ANY);
        CHECK_EQ(b[0].target, BW_TARGET_ANY);
        CHECK_EQ(b[1].off_kind, BW_OFF_ABS);
        CHECK_EQ(b[1].off, 10);
        CHECK_EQ(b[1].shift, 0);
        CHECK_EQ(b[1].target, BW_TARGET_PE);
        CHECK_EQ(b[2].off_kind, BW_OFF_ABS);
        CHECK_EQ(b[2].off, 10);
        CHECK_EQ(b[2].shift, 5);
        CHECK_EQ(b[2].target, BW_TARGET_ELF);
        CHECK_EQ(b[3].off_kind, BW_OFF_EOF);
        CHECK_EQ(b[3].off, 20);
        CHECK_EQ(b[3].target, BW_TARGET_MACHO);
        CHECK_EQ(b[4].off_kind, BW_OFF_EOF);
        CHECK_EQ(b[4].shift, 4);
        CHECK_EQ(b[4].target, BW_TARGET_PDF);
        CHECK_EQ(b[5].target, BW_TARGET_OLE2);
        CHECK_EQ(b[6].target, BW_TARGET_ANY);
        for (size_t i = 0; i < 7; i++) {
            CHECK_EQ(b[i].is_ldb, 0);
            CHECK_EQ(b[i].subsig, 0);
            CHECK(b[i].owner < f.db.metas.n);
        }
        CHECK_STR(bsig_name(&f.db, 0), "Any.Off");
        CHECK_STR(bsig_name(&f.db, 4), "Eof.Shift");
        CHECK(b[0].part_count >= 1);
    }
    fx_free(&f);
}

TEST(unsupported_targets_are_counted)
{
    fx_t f;
    fx_init(&f);
    const char *text = "H:3:*:41424344\n"
                       "M:4:*:41424344\n"
                       "G:5:*:41424344\n"
                       "A:7:*:41424344\n"
                       "A2:7:*:41424344\n"
                       "J:12:*:41424344\n"
                       "X:40:*:41424344\n";
    CHECK_EQ(load(&f, "ndb", text), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 0);
    CHECK_EQ(f.db.metas.n, 0);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 3 (HTML)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 4 (mail)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 5 (graphics)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 7 (ASCII)"), 2);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 12 (Java)"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb target 40 (other)"), 1);
    CHECK_EQ(count_of(&f.L, "ndb"), 0);
    CHECK_EQ(f.L.signatures, 0);
    fx_free(&f);
}

TEST(unsupported_offsets_are_counted)
{
    fx_t f;
    fx_init(&f);
    const char *text = "A:1:EP+0:41424344\n"
                       "B:1:EP-5,10:41424344\n"
                       "C:1:S2+10:41424344\n"
                       "D:1:SE1:41424344\n"
                       "E:1:SL+4:41424344\n"
                       "F:1:VI:41424344\n"
                       "G:0:$12:41424344\n";
    CHECK_EQ(load(&f, "ndb", text), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 0);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset EP+n"), 2);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset Sx+n"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset SEx"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset SL+n"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset VI"), 1);
    CHECK_EQ(count_of(&f.L, "unsupported: ndb offset $macro"), 1);
    fx_free(&f);
}

TEST(ndb_errors_name_file_and_line)
{
    expect_error("ndb", "A:0:*\n", "t.ndb:1:", "fields");
    expect_error("ndb", "A:0:*:4142:1:2:3\n", "t.ndb:1:", "fields");
    expect_error("ndb", "A:0:*:41424344\n:0:*:41424344\n", "t.ndb:2:", "empty signature name");
    expect_error("ndb", "A:x:*:41424344\n", "t.ndb:1:", "bad target type");
    expect_error("ndb", "A:-1:*:41424344\n", "t.ndb:1:", "bad target type");
    expect_error("ndb", "A:0:EOF+3:41424344\n", "t.ndb:1:", "bad offset");
    expect_error("ndb", "A:0:abc:41424344\n", "t.ndb:1:", "bad offset");
    expect_error("ndb", "A:0:10,x:41424344\n", "t.ndb:1:", "shift");
    expect_error("ndb", "A:0:1,2,3:41424344\n", "t.ndb:1:", "bad offset");
    expect_error("ndb", "A:0:*,5:41424344\n", "t.ndb:1:", "bad offset");
    expect_error("ndb", "A:0:99999999999:41424344\n", "t.ndb:1:", "offset too large");
    expect_error("ndb", "A:0:EP+x:41424344\n", "t.ndb:1:", "bad offset");
    expect_error("ndb", "A:0:*:\n", "t.ndb:1:", "empty hex signature");
    expect_error("ndb", "A:0:*:41424344:zz\n", "t.ndb:1:", "functionality level");
    expect_error("ndb", "#\n\nA:0:*:4142zz44\n", "t.ndb:3: hex signature", "byte");
    expect_error("ndb", "A@NOSUCH:0:*:41424344\n", "t.ndb:1:", "unknown status tag");
    expect_error("ndb", "A\x7f:0:*:41424344\n", "t.ndb:1:", "control character");
}

TEST(declined_hex_is_counted_not_loaded)
{
    fx_t f;
    fx_init(&f);
    /* one exact byte between wildcards: no anchor the prefilter could use */
    CHECK_EQ(load(&f, "ndb", "Weak:0:*:41\nGood:0:*:41424344\n"), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 1);
    CHECK_EQ(f.db.metas.n, 1);
    CHECK_EQ(count_of(&f.L, "ndb"), 1);
    CHECK_EQ(count_prefix(&f.L, "unsupported: "), 1);
    /* the reason is kept, without a byte position that would split counts */
    for (size_t i = 0; i < f.L.counts.n; i++)
        if (!strncmp(f.L.counts.v[i].kind, "unsupported: ", 13))
            CHECK(strncmp(f.L.counts.v[i].kind + 13, "byte ", 5) != 0);
    fx_free(&f);
}

TEST(flevel_and_ignore_skip_lines)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load(&f, "ign2", "Ign.Me\n"), BW_OK);
    const char *text = "Old:0:*:41424344:1:100\n"
                       "New:0:*:41424344:300\n"
                       "Ok:0:*:41424344:51:255\n"
                       "Ign.Me:0:*:41424344\n"
                       "Ign.Me@WARNING:3:*:41424344\n";
    CHECK_EQ(load(&f, "ndb", text), BW_OK);
    CHECK_EQ(f.db.bsigs.n, 1);
    CHECK_EQ(count_of(&f.L, "unsupported: flevel"), 2);
    CHECK_EQ(count_of(&f.L, "ignored (.ign2)"), 2);
    CHECK_EQ(count_of(&f.L, "ndb"), 1);
    fx_free(&f);
}

TEST(ndu_counts_as_ndu_and_tags_apply)
{
    fx_t f;
    fx_init(&f);
    CHECK_EQ(load(&f, "ndu", "PUA.Thing@SUSPICIOUS:0:*:41424344\n"), BW_OK);
    CHECK_EQ(count_of(&f.L, "ndu"), 1);
    CHECK_EQ(f.db.bsigs.n, 1);
    if (f.db.bsigs.n == 1) {
        const bw_sigmeta_t *m = &f.db.metas.v[f.db.bsigs.v[0].owner];
        CHECK_EQ(m->status, BW_SUSPICIOUS);
        CHECK_STR(bw_sigdb_string(&f.db, m->name_off), "PUA.Thing");
    }
    fx_free(&f);
}

int main(void) { return t_run(); }
