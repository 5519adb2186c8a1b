/* SPDX-License-Identifier: Apache-2.0 */
/* Policy groups: every ClientIP form, URL patterns, priority and ties, the
 * default group, AND semantics, errors with file:line, many groups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "policy/groups.h"
#include "t.h"

static const bw_conf_table_t *const tables[] = {&bw_groups_conf_table};
static const bw_conf_schema_t schema = {tables, 1};

/* Loads `text` and builds; returns NULL and fills err on failure. */
static bw_groups_t *build(const char *text, bw_err_t *err)
{
    bw_conf_state_t *st = NULL;
    bw_groups_t *g = NULL;
    err->msg[0] = '\0';
    if (bw_conf_load_buf(&schema, "g.conf", text, strlen(text), &st, err))
        return NULL;
    if (bw_groups_build(st, &g, err))
        g = NULL;
    bw_conf_free(st); /* the matcher must not depend on the state */
    return g;
}

#define M(g, ip, url) bw_groups_match((g), (ip), (url))
#define CHECK_NULL(x) CHECK((x) == NULL)

TEST(ipv4_address_cidr_mask)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:host]\nPriority = 3\nClientIP = 192.0.2.7\n"
                           "[icapserver.groups:net]\nPriority = 2\nClientIP = 10.0.0.0/8\n"
                           "[icapserver.groups:masked]\nPriority = 1\n"
                           "ClientIP = 192.168.0.0/255.255.0.0\n"
                           "[icapserver.groups:hostbits]\nClientIP = 172.16.5.9/12\n", &err);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(M(g, "192.0.2.7", NULL), "host");
    CHECK_NULL(M(g, "192.0.2.8", NULL));
    CHECK_STR(M(g, "10.0.0.0", NULL), "net");
    CHECK_STR(M(g, "10.255.255.255", NULL), "net");
    CHECK_NULL(M(g, "11.0.0.0", NULL));
    CHECK_NULL(M(g, "9.255.255.255", NULL));
    CHECK_STR(M(g, "192.168.44.1", NULL), "masked");
    CHECK_NULL(M(g, "192.169.0.1", NULL));
    CHECK_STR(M(g, "172.31.255.255", NULL), "hostbits"); /* host bits are masked off */
    CHECK_NULL(M(g, "172.32.0.0", NULL));
    CHECK_STR(M(g, " [10.1.2.3] ", NULL), "net");         /* blanks and brackets stripped */
    CHECK_STR(M(g, "::ffff:10.1.2.3", NULL), "net");      /* v4-mapped IPv6 is IPv4 */
    CHECK_NULL(M(g, NULL, NULL));
    CHECK_NULL(M(g, "not-an-ip", NULL));
    CHECK_NULL(M(g, "10.1.2", NULL));
    CHECK_EQ(bw_groups_count(g), 4);
    CHECK_STR(bw_groups_name(g, 0), "host");
    CHECK_STR(bw_groups_name(g, 3), "hostbits");
    CHECK_NULL(bw_groups_name(g, 4));
    CHECK_EQ(bw_groups_index(g, "masked"), 2);
    CHECK_EQ(bw_groups_index(g, "nope"), -1);
    bw_groups_free(g);
}

TEST(ipv6_forms)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:doc]\nClientIP = 2001:db8::/32\n"
                           "[icapserver.groups:one]\nPriority = 5\nClientIP = 2001:db8::1\n"
                           "[icapserver.groups:mask6]\nClientIP = fd00::/ffff:ff00::\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(M(g, "2001:db8::1", NULL), "one");
    CHECK_STR(M(g, "2001:DB8:0:0:0:0:0:1", NULL), "one");
    CHECK_STR(M(g, "2001:db8:ffff::2", NULL), "doc");
    CHECK_NULL(M(g, "2001:db9::1", NULL));
    CHECK_STR(M(g, "fd00:ab::1", NULL), "mask6");
    CHECK_NULL(M(g, "fd01::1", NULL));
    CHECK_NULL(M(g, "10.0.0.1", NULL));
    bw_groups_free(g);
}

TEST(nested_and_overlapping_ranges_pick_by_priority)
{
    bw_err_t err;
    /* Ranges nest across groups; the innermost is not necessarily the best. */
    bw_groups_t *g = build("[icapserver.groups:wide]\nPriority = 10\nClientIP = 10.0.0.0/8\n"
                           "[icapserver.groups:mid]\nPriority = 20\nClientIP = 10.1.0.0/16\n"
                           "ClientIP = 10.9.0.0/16\n"
                           "[icapserver.groups:narrow]\nPriority = 15\nClientIP = 10.1.2.0/24\n"
                           "[icapserver.groups:dup]\nPriority = 30\nClientIP = 10.1.0.0/16\n"
                           "URL = ^https://dup\\.example/\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(M(g, "10.1.2.3", NULL), "mid");
    CHECK_STR(M(g, "10.1.2.3", "https://dup.example/x"), "dup");
    CHECK_STR(M(g, "10.9.0.1", NULL), "mid");
    CHECK_STR(M(g, "10.2.0.1", NULL), "wide");
    CHECK_STR(M(g, "10.1.3.1", NULL), "mid");
    CHECK_NULL(M(g, "11.1.2.3", "https://dup.example/x"));
    bw_groups_free(g);
}

TEST(client_regex)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:re]\nClientIP = ^10\\.1\\.[0-9]+\\.\n"
                           "[icapserver.groups:re6]\nClientIP = ^FE80:\n"
                           "[icapserver.groups:partial]\nClientIP = 10.7.\n", &err);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(M(g, "10.1.200.4", NULL), "re");
    CHECK_NULL(M(g, "10.2.200.4", NULL));
    CHECK_STR(M(g, "fe80::1", NULL), "re6"); /* caseless */
    CHECK_STR(M(g, "10.7.1.1", NULL), "partial"); /* "10.7." is not an address form */
    CHECK_NULL(M(g, "10.1.200", NULL));          /* unparsable: no address at all */
    bw_groups_free(g);
}

TEST(url_patterns_case_sensitive)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:exe]\nURL = \\.exe$\nURL = ^ftp://\n"
                           "[icapserver.groups:news]\nURL = ^https?://([a-z]+\\.)*news\\.example/\n"
                           "[icapserver.groups:ci]\nURL = (?i)^http://CI\\.example/\n", &err);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(M(g, NULL, "http://a.example/setup.exe"), "exe");
    CHECK_NULL(M(g, NULL, "http://a.example/setup.EXE"));
    CHECK_STR(M(g, NULL, "ftp://x/y"), "exe");
    CHECK_STR(M(g, "1.2.3.4", "https://www.news.example/today"), "news");
    CHECK_NULL(M(g, NULL, "https://news.example.org/"));
    CHECK_STR(M(g, NULL, "http://ci.EXAMPLE/"), "ci");
    CHECK_NULL(M(g, NULL, NULL));
    CHECK_NULL(M(g, NULL, ""));
    bw_groups_free(g);
}

TEST(priority_ties_first_defined)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:a]\nURL = example\n"
                           "[icapserver.groups:b]\nURL = example\n"
                           "[icapserver.groups:c]\nPriority = 1\nURL = only-c\n"
                           "[icapserver.groups:d]\nPriority = 1\nURL = example\\.org\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(M(g, NULL, "http://example.com/"), "a");
    CHECK_STR(M(g, NULL, "http://example.org/"), "d");
    CHECK_STR(M(g, NULL, "http://example.org/only-c"), "c");
    CHECK_NULL(M(g, NULL, "http://other/"));
    bw_groups_free(g);
}

TEST(and_semantics_and_default)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:both]\nPriority = 9\nClientIP = 10.0.0.0/8\n"
                           "URL = ^http://intranet/\n"
                           "[icapserver.groups:ipgrp]\nPriority = 5\nClientIP = 10.0.0.0/8\n"
                           "[icapserver.groups:urlgrp]\nPriority = 1\nURL = \\.zip$\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(M(g, "10.0.0.1", "http://intranet/a"), "both");
    CHECK_STR(M(g, "10.0.0.1", "http://other/a"), "ipgrp");
    CHECK_STR(M(g, "10.0.0.1", NULL), "ipgrp");
    CHECK_STR(M(g, "192.0.2.1", "http://intranet/a.zip"), "urlgrp");
    CHECK_STR(M(g, "10.0.0.1", "http://intranet/a.zip"), "both");
    CHECK_NULL(M(g, "192.0.2.1", "http://intranet/a"));
    CHECK_NULL(M(g, NULL, NULL));
    bw_groups_free(g);
}

TEST(empty_values_and_inheritance)
{
    bw_err_t err;
    /* The base section's lists are inherited; an empty value clears them. */
    bw_groups_t *g = build("[icapserver.groups]\nClientIP = 10.0.0.0/8\n"
                           "[icapserver.groups:inherits]\nPriority = 2\nURL = ^http://a/\n"
                           "[icapserver.groups:cleared]\nPriority = 1\nClientIP =\n", &err);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(M(g, "10.1.1.1", "http://a/x"), "inherits");
    CHECK_STR(M(g, "192.0.2.1", "http://a/x"), "cleared");
    CHECK_STR(M(g, NULL, NULL), "cleared");
    bw_groups_free(g);
}

TEST(no_groups_is_default)
{
    bw_err_t err;
    bw_groups_t *g = build("", &err);
    CHECK(g != NULL);
    CHECK_EQ(bw_groups_count(g), 0);
    CHECK_NULL(M(g, "10.0.0.1", "http://x/"));
    bw_groups_free(g);
}

static void expect_error(const char *text, const char *where, const char *what)
{
    bw_err_t err;
    bw_groups_t *g = build(text, &err);
    CHECK(g == NULL);
    CHECK_CONTAINS(err.msg, where);
    CHECK_CONTAINS(err.msg, what);
    bw_groups_free(g);
}

TEST(errors_name_file_line_key)
{
    const char *pre = "[icapserver.groups:x]\nPriority = 1\n";
    char buf[256];
    const char *bad[][3] = {
        {"ClientIP = 10.0.0.0/33\n", "g.conf:3: ClientIP", "CIDR"},
        {"ClientIP = 10.0.0/8\n", "g.conf:3: ClientIP", "CIDR"},
        {"ClientIP = 2001:db8::/129\n", "g.conf:3: ClientIP", "0..128"},
        {"ClientIP = 10.0.0.300\n", "g.conf:3: ClientIP", "not a valid IP address"},
        {"ClientIP = 192.168.0.0/255.0.255.0\n", "g.conf:3: ClientIP", "mask"},
        {"ClientIP = 192.168.0.0/ffff::\n", "g.conf:3: ClientIP", "bad mask"},
        {"ClientIP = 192.168.0.0/xx\n", "g.conf:3: ClientIP", "bad mask"},
        {"ClientIP = 1:2:3:4:5:6:7:8:9\n", "g.conf:3: ClientIP", "not a valid IP address"},
        {"ClientIP = 10.0.0.1\nClientIP = ^10\\.(\n", "g.conf:4: ClientIP", "regex"},
        {"URL = ^http://(a\n", "g.conf:3: URL", "not a valid regex"},
        {"URL = ok\nURL = (a)\\1\n", "g.conf:4: URL", "not a valid regex"},
        {"Priority = -1\n", "g.conf:3: Priority", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        /* Priority is given once in `pre`: replace that line for its own case. */
        snprintf(buf, sizeof buf, "%s%s", strncmp(bad[i][0], "Priority", 8) ? pre :
                 "[icapserver.groups:x]\nURL = a\n", bad[i][0]);
        expect_error(buf, bad[i][1], bad[i][2]);
    }
}

TEST(hyperscan_message_in_error)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:x]\nURL = a{2,1}\n", &err);
    CHECK(g == NULL);
    CHECK_CONTAINS(err.msg, "g.conf:2: URL: 'a{2,1}' is not a valid regex: ");
    CHECK(strlen(err.msg) > strlen("g.conf:2: URL: 'a{2,1}' is not a valid regex: ") + 3);
}

TEST(two_hundred_groups)
{
    size_t cap = 200 * 160 + 1;
    char *text = malloc(cap);
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, cap - n,
                              "[icapserver.groups:g%d]\nPriority = %d\nClientIP = 10.%d.0.0/16\n"
                              "URL = ^http://site%d\\.example/\nURL = /common/\n",
                              i, i % 7, i, i);
    bw_err_t err;
    bw_groups_t *g = build(text, &err);
    free(text);
    CHECK(g != NULL);
    if (!g) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_EQ(bw_groups_count(g), 200);
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        char ip[32], url[64], name[16];
        snprintf(ip, sizeof ip, "10.%d.3.4", i);
        snprintf(url, sizeof url, "http://site%d.example/a", i);
        snprintf(name, sizeof name, "g%d", i);
        const char *m = M(g, ip, url);
        ok += m && !strcmp(m, name);
        snprintf(ip, sizeof ip, "10.%d.3.4", (i + 1) % 200);
        ok += M(g, ip, url) == NULL; /* address of another group: AND fails */
    }
    CHECK_EQ(ok, 400);
    /* /common/ is in every group: the best priority (6), first defined: g6. */
    CHECK_STR(M(g, "10.6.0.1", "http://x/common/"), "g6");
    CHECK_STR(M(g, "10.13.0.1", "http://x/common/"), "g13");
    CHECK_EQ(bw_groups_index(g, "g199"), 199);
    bw_groups_free(g);
}

TEST(clone_shares_and_outlives)
{
    bw_err_t err;
    bw_groups_t *g = build("[icapserver.groups:a]\nClientIP = 10.0.0.0/8\nURL = x\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    bw_groups_t *c = bw_groups_clone(g, &err);
    CHECK(c != NULL);
    bw_groups_free(g);
    CHECK_STR(M(c, "10.0.0.1", "x"), "a");
    CHECK_NULL(M(c, "10.0.0.1", "y"));
    CHECK_STR(bw_groups_name(c, 0), "a");
    bw_groups_free(c);
}

TEST(parse_addr)
{
    uint8_t a[16];
    CHECK_EQ(bw_groups_parse_addr("1.2.3.4", a), BW_OK);
    CHECK(a[10] == 0xff && a[11] == 0xff && a[12] == 1 && a[15] == 4);
    CHECK_EQ(bw_groups_parse_addr("::1", a), BW_OK);
    CHECK(a[15] == 1 && a[10] == 0);
    CHECK_EQ(bw_groups_parse_addr("1.2.3.4.5", a), BW_ERR);
    CHECK_EQ(bw_groups_parse_addr("", a), BW_ERR);
    CHECK_EQ(bw_groups_parse_addr(NULL, a), BW_ERR);
}

TEST(docs_policy_subnet_example)
{
    bw_err_t err; /* the worked example of docs/policy.md, group part */
    bw_groups_t *g = build("[icapserver.groups:accounting]\nPriority = 10\n"
                           "ClientIP = 10.20.0.0/16\nClientIP = 2001:db8:20::/48\n\n"
                           "[icapserver.groups:buildserver]\n"
                           "Priority = 20                     ; beats accounting\n"
                           "ClientIP = 10.20.5.5\n", &err);
    CHECK(g != NULL);
    if (!g)
        return;
    CHECK_STR(M(g, "10.20.7.1", "http://x/"), "accounting");
    CHECK_STR(M(g, "2001:db8:20:1::9", NULL), "accounting");
    CHECK_STR(M(g, "10.20.5.5", "http://x/"), "buildserver");
    CHECK_NULL(M(g, "10.21.0.1", "http://x/"));
    bw_groups_free(g);
}

int main(void)
{
    return t_run();
}
