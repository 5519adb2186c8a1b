/* SPDX-License-Identifier: Apache-2.0 */
/* Proxy policy groups: which [icapserver.groups:NAME] a request belongs to.
 *
 * A group is chosen by the client address (X-Client-IP) and the request URL.
 * The matcher is built once per loaded configuration and must stay cheap with
 * hundreds of groups and thousands of patterns, so nothing is tried group by
 * group:
 *   - every address range (IP, CIDR, ip/mask, IPv4 and IPv6 in one 128-bit
 *     space, IPv4 as ::ffff:a.b.c.d) of every group sits in one sorted table
 *     searched by binary search; ranges are CIDR prefixes, so they nest or are
 *     disjoint, and each entry links to its enclosing entry: the ranges holding
 *     an address are one short chain from the search hit;
 *   - every URL pattern of every group is in ONE Hyperscan block-mode database
 *     (ids map to groups); ClientIP regexes are in a second one, as they are
 *     matched against another text (the address as sent);
 *   - groups are ranked by Priority (highest first, ties: first defined), and
 *     candidate sets are bitmaps over ranks, so the answer is the lowest rank
 *     whose address test and URL test both hold.
 * Address forms and patterns are checked when the file is loaded (the key's
 * own parser), so a bad CIDR, mask or regex is reported at its exact line.
 */
#ifndef BW_POLICY_GROUPS_H
#define BW_POLICY_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf-t.h"
#include "core/err.h"

/* Section "icapserver.groups", all keys per group:
 *   Priority  uint, default 0: the highest matching Priority wins.
 *   ClientIP  repeatable: an IPv4/IPv6 address, a CIDR (10.0.0.0/8,
 *             2001:db8::/32), ip/mask (192.168.0.0/255.255.0.0, contiguous
 *             masks only), or else a Hyperscan (POSIX ERE-like) regex matched,
 *             caseless, against the address text as sent.  Text made only of
 *             hex digits, '.', ':' and '/' that holds a '/' or ':', or that is
 *             four dotted numbers, is an address form and must parse.
 *   URL       repeatable: regexes matched against the request URL,
 *             case-sensitively (write [Hh]ost or (?i) for caseless parts).
 * Empty values (`ClientIP =`) are ignored: giving only an empty value clears
 * a list a group would otherwise inherit from the base [icapserver.groups].
 * Both lists are stored as NULL-terminated char * arrays, like string lists. */
extern const bw_conf_table_t bw_groups_conf_table;

typedef struct bw_groups_conf {
    uint64_t priority;
    bw_conf_list_t client_ip; /* char * */
    bw_conf_list_t url;       /* char * */
} bw_groups_conf_t;

typedef struct bw_groups bw_groups_t;

/* Builds the matcher from every [icapserver.groups:NAME] of the loaded state
 * (bw_conf_group_count/name on the table, in file order).  The result copies
 * what it needs: it does not refer to `st` afterwards.  Errors name
 * "file:line: Key: ..." (line from bw_conf_line(): the key's first line in
 * that group, or in the base section when inherited).  BW_OK or BW_ERR; on
 * error *out is untouched. */
int bw_groups_build(const bw_conf_state_t *st, bw_groups_t **out, bw_err_t *err);

/* The name of the matching group with the highest Priority (ties: the first
 * defined), or NULL for the default group.  client_ip: the text sent in
 * X-Client-IP (IPv4 or IPv6, blanks and [brackets] stripped; NULL or
 * unparsable means no address, and then no ClientIP entry matches); url: the
 * request URL (NULL: none, and then no URL pattern matches).  A group matches
 * when its ClientIP list is empty or one entry matches, AND its URL list is
 * empty or one pattern matches.  The name lives as long as `g`.
 *
 * Threads: a bw_groups_t holds one Hyperscan scratch and is NOT thread-safe.
 * Each thread that matches uses its own handle from bw_groups_clone(), which
 * shares the compiled tables (reference counted, immutable). */
const char *bw_groups_match(bw_groups_t *g, const char *client_ip, const char *url);

/* A new handle on the same compiled matcher with its own scratch: cheap (no
 * compiling).  Free each handle with bw_groups_free(); the shared part goes
 * with the last one.  NULL and err set on out-of-memory. */
bw_groups_t *bw_groups_clone(const bw_groups_t *g, bw_err_t *err);

/* Groups in definition order (file order), for per-group statistics. */
size_t bw_groups_count(const bw_groups_t *g);
const char *bw_groups_name(const bw_groups_t *g, size_t i); /* NULL if i >= count */
int bw_groups_index(const bw_groups_t *g, const char *name); /* -1 if none */
void bw_groups_free(bw_groups_t *g);

/* Parses an address as bw_groups_match() does (exposed for tests and for
 * the policy's %CLIENT_ADDR% checks): BW_OK and *out (IPv4 as ::ffff:a.b.c.d,
 * big-endian bytes) or BW_ERR. */
int bw_groups_parse_addr(const char *text, uint8_t out[16]);

#endif
