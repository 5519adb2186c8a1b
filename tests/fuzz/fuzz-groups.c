/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the policy groups: the input is the text of a config file, loaded
 * against the groups table alone (so every ClientIP and URL value reaches the
 * address parser and Hyperscan's checker); if it loads, the matcher is built
 * and a few fixed address/URL pairs matched.  The answer must be NULL or one
 * of the group names, and a clone must give the same answers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "policy/groups.h"

static const bw_conf_table_t *const tables[] = {&bw_groups_conf_table};
static const bw_conf_schema_t schema = {tables, 1};

static const char *const pairs[][2] = {
    {"10.1.2.3", "http://www.example.com/index.html"},
    {"192.168.0.1", "https://intranet.example/a.exe?x=1"},
    {"2001:db8::1", "ftp://files.example.org/pub/"},
    {"::ffff:172.16.0.9", ""},
    {NULL, "http://a/"},
    {"not an address", NULL},
    {"0.0.0.0", "http://[::1]:8080/%00%ff"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "x"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bw_conf_state_t *st = NULL;
    bw_err_t err;
    if (size > 65536)
        return 0; /* Hyperscan compile time grows with the pattern set */
    if (bw_conf_load_buf(&schema, "fuzz.conf", (const char *)data, size, &st, &err) != BW_OK)
        return 0;
    bw_groups_t *g = NULL;
    if (bw_groups_build(st, &g, &err) == BW_OK) {
        bw_groups_t *c = bw_groups_clone(g, &err);
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            const char *m = bw_groups_match(g, pairs[i][0], pairs[i][1]);
            if (m && bw_groups_index(g, m) < 0)
                abort();
            if (c && bw_groups_match(c, pairs[i][0], pairs[i][1]) != m)
                abort();
        }
        if (bw_groups_count(g) != bw_conf_group_count(st, &bw_groups_conf_table))
            abort();
        bw_groups_free(c);
        bw_groups_free(g);
    } else if (!memchr(err.msg, '\0', sizeof err.msg) || g) {
        abort();
    }
    bw_conf_free(st);
    return 0;
}
