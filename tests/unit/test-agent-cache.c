/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's verdict cache, exclusions, action lines and profiles. */
#include "agent/agent.h"
#include "t.h"

static bw_agent_key_t key(uint64_t ino, int64_t mt)
{
    bw_agent_key_t k = {.dev = 8, .ino = ino, .size = 100, .mtime_ns = mt, .ctime_ns = mt};
    return k;
}

TEST(cache_hit_and_miss)
{
    bw_agent_cache_t *c = bw_agent_cache_new(64);
    bw_agent_key_t k = key(1, 10);
    bw_status_t s = BW_ERROR;
    CHECK_EQ(bw_agent_cache_get(c, &k, &s), 0);
    bw_agent_cache_put(c, &k, BW_CLEAN);
    CHECK_EQ(bw_agent_cache_get(c, &k, &s), 1);
    CHECK_EQ(s, BW_CLEAN);
    bw_agent_key_t k2 = key(1, 11); /* the same inode, changed */
    CHECK_EQ(bw_agent_cache_get(c, &k2, &s), 0);
    k2 = key(1, 10);
    k2.size = 101;
    CHECK_EQ(bw_agent_cache_get(c, &k2, &s), 0);
    bw_agent_cache_free(c);
}

TEST(cache_new_version_replaces_old)
{
    bw_agent_cache_t *c = bw_agent_cache_new(64);
    bw_agent_key_t a = key(5, 1), b = key(5, 2);
    bw_status_t s;
    bw_agent_cache_put(c, &a, BW_CLEAN);
    bw_agent_cache_put(c, &b, BW_INFECTED);
    CHECK_EQ(bw_agent_cache_count(c), 1);
    CHECK_EQ(bw_agent_cache_get(c, &a, &s), 0);
    CHECK_EQ(bw_agent_cache_get(c, &b, &s), 1);
    CHECK_EQ(s, BW_INFECTED);
    bw_agent_cache_free(c);
}

TEST(cache_drop_on_close_write)
{
    bw_agent_cache_t *c = bw_agent_cache_new(64);
    bw_agent_key_t a = key(7, 1), other = key(8, 1);
    bw_status_t s;
    bw_agent_cache_put(c, &a, BW_CLEAN);
    bw_agent_cache_put(c, &other, BW_CLEAN);
    bw_agent_cache_drop(c, 8, 7);
    CHECK_EQ(bw_agent_cache_get(c, &a, &s), 0);
    CHECK_EQ(bw_agent_cache_get(c, &other, &s), 1);
    CHECK_EQ(bw_agent_cache_count(c), 1);
    bw_agent_cache_free(c);
}

TEST(cache_full_never_answers_for_another_file)
{
    bw_agent_cache_t *c = bw_agent_cache_new(16);
    for (uint64_t i = 0; i < 1000; i++) {
        bw_agent_key_t k = key(i, 1);
        bw_agent_cache_put(c, &k, i % 2 ? BW_INFECTED : BW_CLEAN);
    }
    CHECK(bw_agent_cache_count(c) <= 16);
    for (uint64_t i = 0; i < 1000; i++) {
        bw_agent_key_t k = key(i, 1);
        bw_status_t s;
        if (bw_agent_cache_get(c, &k, &s))
            CHECK_EQ(s, i % 2 ? BW_INFECTED : BW_CLEAN);
    }
    bw_agent_key_t last = key(999, 1);
    bw_status_t s;
    CHECK_EQ(bw_agent_cache_get(c, &last, &s), 1);
    bw_agent_cache_free(c);
}

TEST(exclusions)
{
    char *paths[] = {"/var/lib/", "/srv/x", NULL};
    char *globs[] = {"*/cache/*.tmp", NULL};
    char *exts[] = {".LOG", "iso", NULL};
    char *procs[] = {"backupd", NULL};
    char *users[] = {"0", "4242", NULL};
    bw_agent_excl_t x;
    bw_err_t err;
    CHECK_EQ(bw_agent_excl_init(&x, paths, globs, exts, procs, users, &err), BW_OK);
    CHECK(bw_agent_excl_path(&x, "/var/lib/a"));
    CHECK(bw_agent_excl_path(&x, "/var/lib"));
    CHECK(!bw_agent_excl_path(&x, "/var/library/a"));
    CHECK(bw_agent_excl_path(&x, "/srv/x/y/z"));
    CHECK(!bw_agent_excl_path(&x, "/srv/xy"));
    CHECK(bw_agent_excl_path(&x, "/home/u/cache/a.tmp"));
    CHECK(!bw_agent_excl_path(&x, "/home/u/cache/a.tmpx"));
    CHECK(bw_agent_excl_path(&x, "/a/b.log"));
    CHECK(bw_agent_excl_path(&x, "/a/b.ISO"));
    CHECK(!bw_agent_excl_path(&x, "/a/.log"));  /* a dot file has no extension */
    CHECK(!bw_agent_excl_path(&x, "/a.log/b"));
    CHECK(bw_agent_excl_proc(&x, "backupd", 1000));
    CHECK(!bw_agent_excl_proc(&x, "backup", 1000));
    CHECK(bw_agent_excl_proc(&x, "cat", 4242));
    CHECK(!bw_agent_excl_proc(&x, "cat", 1000));
    bw_agent_excl_free(&x);
}

TEST(exclusions_refuse_bad_input)
{
    char *rel[] = {"var/lib", NULL};
    char *nouser[] = {"no-such-user-bw-test", NULL};
    bw_agent_excl_t x;
    bw_err_t err;
    CHECK_EQ(bw_agent_excl_init(&x, rel, NULL, NULL, NULL, NULL, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "not an absolute path");
    bw_agent_excl_free(&x);
    CHECK_EQ(bw_agent_excl_init(&x, NULL, NULL, NULL, NULL, nouser, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "no such user");
    bw_agent_excl_free(&x);
}

TEST(under_paths)
{
    char *p[] = {"/srv/data/", NULL};
    char *root[] = {"/", NULL};
    CHECK(bw_agent_under(p, "/srv/data/x"));
    CHECK(!bw_agent_under(p, "/srv/database"));
    CHECK(bw_agent_under(root, "/anything"));
}

TEST(actions_and_profiles)
{
    int act[BW_STATUS_COUNT], fm;
    uint64_t ms, to;
    bool ar;
    bw_agent_profile_defaults(BW_AG_PROFILE_HIGH, act, &fm, &ms, &ar, &to);
    CHECK_EQ(act[BW_INFECTED], BW_AG_ACT_BLOCK | BW_AG_ACT_QUARANTINE);
    CHECK_EQ(fm, BW_AG_FAIL_CLOSED);
    bw_agent_profile_defaults(BW_AG_PROFILE_LOW, act, &fm, &ms, &ar, &to);
    CHECK_EQ(act[BW_SUSPICIOUS], BW_AG_ACT_REPORT);
    CHECK_EQ(fm, BW_AG_FAIL_OPEN);
    CHECK(!ar);
    char *lines[] = {"INFECTED delete", "SUSPICIOUS block,quarantine", "CURED cure", NULL};
    bw_err_t err;
    CHECK_EQ(bw_agent_parse_actions(lines, act, &err), BW_OK);
    CHECK_EQ(act[BW_INFECTED], BW_AG_ACT_DELETE);
    CHECK_EQ(act[BW_SUSPICIOUS], BW_AG_ACT_BLOCK | BW_AG_ACT_QUARANTINE);
    char buf[64];
    CHECK_STR(bw_agent_actions_name(act[BW_SUSPICIOUS], buf, sizeof buf), "block,quarantine");
    char *bad1[] = {"INFECTED explode", NULL}, *bad2[] = {"NOPE block", NULL}, *bad3[] = {"INFECTED", NULL};
    CHECK_EQ(bw_agent_parse_actions(bad1, act, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "unknown action");
    CHECK_EQ(bw_agent_parse_actions(bad2, act, &err), BW_ERR);
    CHECK_CONTAINS(err.msg, "unknown status");
    CHECK_EQ(bw_agent_parse_actions(bad3, act, &err), BW_ERR);
}

int main(void) { return t_run(); }
