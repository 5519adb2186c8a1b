/* SPDX-License-Identifier: Apache-2.0 */
/* Proxy policy groups: the [icapserver.groups] key table, the matcher build
 * and the per-request match (design in groups.h).
 *
 * Why this shape: a request costs one binary search over all address ranges
 * plus at most two Hyperscan scans, whatever the number of groups.  Ranks
 * (0 = highest Priority, ties in file order) turn "highest priority among the
 * matching groups" into "lowest set bit", and let a URL scan stop as soon as
 * the best group the address allows has matched.  Everything built here is
 * immutable and shared between handles; a handle only adds its own scratch
 * and one bitmap, so threads clone handles instead of rebuilding.
 */
#include "policy/groups.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <hs/hs.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bulwark/bulwark.h"
#include "core/conf.h"
#include "core/vec.h"

typedef unsigned __int128 u128;

#define NONE UINT32_MAX
#define URL_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY)
#define IP_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY | HS_FLAG_CASELESS)
#define MAX_ADDR_TEXT 64

/* ---- addresses ---------------------------------------------------------- */

static u128 load128(const uint8_t b[16])
{
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

/* Parses one bare address; *v4 says it was IPv4 (stored as ::ffff:a.b.c.d). */
static int parse_addr(const char *s, uint8_t out[16], bool *v4)
{
    uint8_t b4[4];
    if (inet_pton(AF_INET, s, b4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, b4, 4);
        *v4 = true;
        return BW_OK;
    }
    *v4 = false;
    return inet_pton(AF_INET6, s, out) == 1 ? BW_OK : BW_ERR;
}

int bw_groups_parse_addr(const char *text, uint8_t out[16])
{
    if (!text)
        return BW_ERR;
    while (*text == ' ' || *text == '\t')
        text++;
    size_t n = strlen(text);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\r'))
        n--;
    if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
        text++;
        n -= 2;
    }
    if (n == 0 || n >= MAX_ADDR_TEXT)
        return BW_ERR;
    char buf[MAX_ADDR_TEXT];
    memcpy(buf, text, n);
    buf[n] = '\0';
    bool v4;
    return parse_addr(buf, out, &v4);
}

/* Prefix length of a contiguous mask, or -1. */
static int mask_bits(const uint8_t *m, size_t n)
{
    int bits = 0;
    size_t i = 0;
    while (i < n && m[i] == 0xff)
        i++, bits += 8;
    if (i < n) {
        uint8_t x = m[i++];
        while (x & 0x80)
            x = (uint8_t)(x << 1), bits++;
        if (x)
            return -1;
    }
    for (; i < n; i++)
        if (m[i])
            return -1;
    return bits;
}

/* Classifies one ClientIP value.  1: an address form, parsed into [*lo,*hi];
 * 0: not an address form (a regex); BW_ERR: an address form that does not
 * parse, with err saying why. */
static int parse_ip_entry(const char *s, u128 *lo, u128 *hi, bw_err_t *err)
{
    size_t n = strlen(s), ndots = 0;
    const char *sl = strchr(s, '/');
    size_t alen = sl ? (size_t)(sl - s) : n;
    char a[MAX_ADDR_TEXT];
    uint8_t addr[16];
    bool v4 = false;
    /* An address before a '/' makes it a CIDR or ip/mask whatever follows. */
    if (sl && alen < sizeof a) {
        memcpy(a, s, alen);
        a[alen] = '\0';
    }
    if (!sl || alen >= sizeof a || parse_addr(a, addr, &v4)) {
        bool colon = false, digits_dots = true;
        for (size_t i = 0; i < n; i++) {
            char c = s[i];
            if (!isxdigit((unsigned char)c) && c != '.' && c != ':' && c != '/')
                return 0;
            colon |= c == ':';
            ndots += c == '.';
            digits_dots &= isdigit((unsigned char)c) || c == '.';
        }
        if (n == 0 || (!sl && !colon && !(digits_dots && ndots == 3)))
            return 0;
    }
    if (alen >= sizeof a)
        return bw_err_set(err, "'%.80s' is not a valid address (too long)", s);
    memcpy(a, s, alen);
    a[alen] = '\0';
    if (parse_addr(a, addr, &v4))
        return bw_err_set(err, "'%.80s' is not a valid %s (expected an IPv4 or IPv6 address%s)",
                          s, sl ? "CIDR" : "IP address", sl ? " before the '/'" : "");
    int bits = v4 ? 32 : 128;
    if (sl) {
        const char *m = sl + 1;
        size_t ml = strlen(m);
        if (ml > 0 && ml <= 3 && strspn(m, "0123456789") == ml) {
            bits = atoi(m);
            if (bits > (v4 ? 32 : 128))
                return bw_err_set(err, "'%.80s' is not a valid CIDR: prefix length /%s is out of "
                                  "range (expected 0..%d)", s, m, v4 ? 32 : 128);
        } else {
            uint8_t mb[16];
            bool mv4 = false;
            if (ml == 0 || ml >= MAX_ADDR_TEXT || parse_addr(m, mb, &mv4) || mv4 != v4)
                return bw_err_set(err, "'%.80s' has a bad mask (expected /LENGTH or an %s mask "
                                  "such as %s)", s, v4 ? "IPv4" : "IPv6",
                                  v4 ? "255.255.0.0" : "ffff:ffff::");
            bits = v4 ? mask_bits(mb + 12, 4) : mask_bits(mb, 16);
            if (bits < 0)
                return bw_err_set(err, "'%.80s' has a bad mask: %s is not contiguous (expected "
                                  "ones then zeros, such as %s)", s, m,
                                  v4 ? "255.255.0.0" : "ffff:ffff::");
        }
    }
    int p = v4 ? 96 + bits : bits;
    u128 all = ~(u128)0, mask = p == 0 ? 0 : all << (128 - p);
    *lo = load128(addr) & mask;
    *hi = *lo | ~mask;
    return 1;
}

/* ---- the key table ------------------------------------------------------ */

static int check_regex(const char *v, unsigned flags, bw_err_t *err)
{
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_expression_info(v, flags, &info, &ce) != HS_SUCCESS) {
        bw_err_set(err, "'%.100s' is not a valid regex: %s", v, ce ? ce->message : "?");
        hs_free_compile_error(ce);
        return BW_ERR;
    }
    free(info);
    return BW_OK;
}

static int store_text(const char *v, void *dst, bw_err_t *err)
{
    char *s = strdup(v);
    if (!s)
        return bw_err_set(err, "out of memory");
    memcpy(dst, &s, sizeof s);
    return BW_OK;
}

static int parse_client(const bw_conf_key_t *k, const char *v, void *dst, bw_err_t *err)
{
    u128 lo, hi;
    int r = *v ? parse_ip_entry(v, &lo, &hi, err) : 1;
    if (r < 0 || (r == 0 && check_regex(v, IP_FLAGS, err)))
        return BW_ERR;
    return store_text(v, dst, err);
}

static int parse_url(const bw_conf_key_t *k, const char *v, void *dst, bw_err_t *err)
{
    if (*v && check_regex(v, URL_FLAGS, err))
        return BW_ERR;
    return store_text(v, dst, err);
}

static void free_text(const bw_conf_key_t *k, void *dst)
{
    char *s;
    memcpy(&s, dst, sizeof s);
    free(s);
}

#define SEC "icapserver.groups"
#define OFF(f) offsetof(bw_groups_conf_t, f)
static const bw_conf_key_t keys[] = {
    {SEC, "Priority", BW_CONF_UINT, BW_CONF_GROUPABLE, "0", 0, 0, OFF(priority), NULL, NULL, NULL,
     0, NULL, "the matching group with the highest Priority wins (ties: the first defined)"},
    {SEC, "ClientIP", BW_CONF_CUSTOM, BW_CONF_GROUPABLE | BW_CONF_REPEATABLE, NULL, 0, 0,
     OFF(client_ip), NULL, parse_client, free_text, sizeof(char *), NULL,
     "client address: IP, CIDR, ip/mask (IPv4 or IPv6) or a regex over the address text; "
     "none: any client"},
    {SEC, "URL", BW_CONF_CUSTOM, BW_CONF_GROUPABLE | BW_CONF_REPEATABLE, NULL, 0, 0, OFF(url),
     NULL, parse_url, free_text, sizeof(char *), NULL,
     "request URL regex (POSIX ERE as Hyperscan reads it, case-sensitive); none: any URL"},
};

const bw_conf_table_t bw_groups_conf_table = {
    "groups", sizeof(bw_groups_conf_t), keys, BW_CONF_NKEYS(keys), NULL, NULL,
};

/* ---- the compiled matcher ---------------------------------------------- */

/* One distinct address range; ranks[off..off+n) are the groups holding it. */
typedef struct range {
    u128 lo, hi;
    uint32_t parent; /* the nearest enclosing range, or NONE */
    uint32_t off, n;
} range_t;

/* Patterns of one database: expression id -> ranks[off[id]..off[id+1]). */
typedef struct pdb {
    hs_database_t *db;
    uint32_t *off, *ranks;
} pdb_t;

typedef struct shared {
    atomic_uint refs;
    size_t n, words;      /* groups; 64-bit words per rank bitmap */
    char **names;         /* definition order */
    uint32_t *def_of;     /* rank -> definition index */
    uint32_t *rank_of;    /* definition index -> rank */
    uint64_t *any_ip;     /* ranks whose ClientIP list is empty */
    uint64_t *any_url;    /* ranks whose URL list is empty */
    range_t *ranges;
    size_t nranges;
    uint32_t *range_ranks;
    pdb_t url, ip;
} shared_t;

struct bw_groups {
    shared_t *s;
    hs_scratch_t *scratch;
    uint64_t *ipmask;
};

static void shared_free(shared_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->names && i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->def_of);
    free(s->rank_of);
    free(s->any_ip);
    free(s->any_url);
    free(s->ranges);
    free(s->range_ranks);
    pdb_t *p[2] = {&s->url, &s->ip};
    for (int i = 0; i < 2; i++) {
        hs_free_database(p[i]->db);
        free(p[i]->off);
        free(p[i]->ranks);
    }
    free(s);
}

static bw_groups_t *handle_new(shared_t *s, const hs_scratch_t *proto, bw_err_t *err)
{
    bw_groups_t *g = calloc(1, sizeof *g);
    if (g)
        g->ipmask = calloc(s->words ? s->words : 1, sizeof *g->ipmask);
    if (!g || !g->ipmask)
        goto oom;
    if (proto && hs_clone_scratch(proto, &g->scratch) != HS_SUCCESS)
        goto oom;
    if (!proto) {
        pdb_t *p[2] = {&s->url, &s->ip};
        for (int i = 0; i < 2; i++)
            if (p[i]->db && hs_alloc_scratch(p[i]->db, &g->scratch) != HS_SUCCESS)
                goto oom;
    }
    atomic_fetch_add(&s->refs, 1);
    g->s = s;
    return g;
oom:
    if (g) {
        free(g->ipmask);
        hs_free_scratch(g->scratch);
        free(g);
    }
    bw_err_set(err, "groups: out of memory");
    return NULL;
}

bw_groups_t *bw_groups_clone(const bw_groups_t *g, bw_err_t *err)
{
    return g ? handle_new(g->s, g->scratch, err) : NULL;
}

void bw_groups_free(bw_groups_t *g)
{
    if (!g)
        return;
    if (atomic_fetch_sub(&g->s->refs, 1) == 1)
        shared_free(g->s);
    hs_free_scratch(g->scratch);
    free(g->ipmask);
    free(g);
}

size_t bw_groups_count(const bw_groups_t *g)
{
    return g ? g->s->n : 0;
}

const char *bw_groups_name(const bw_groups_t *g, size_t i)
{
    return g && i < g->s->n ? g->s->names[i] : NULL;
}

int bw_groups_index(const bw_groups_t *g, const char *name)
{
    for (size_t i = 0; g && name && i < g->s->n; i++)
        if (!strcmp(g->s->names[i], name))
            return (int)i;
    return -1;
}

/* ---- matching ----------------------------------------------------------- */

#define SETBIT(m, r) ((m)[(r) >> 6] |= (uint64_t)1 << ((r) & 63))
#define HASBIT(m, r) (((m)[(r) >> 6] >> ((r) & 63)) & 1)

static uint32_t first_bit(const uint64_t *m, const uint64_t *and_m, size_t words)
{
    for (size_t w = 0; w < words; w++) {
        uint64_t x = m[w] & (and_m ? and_m[w] : ~(uint64_t)0);
        if (x)
            return (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
    }
    return NONE;
}

/* The ranges holding `a`: the last range starting at or before it, then up
 * its chain of enclosing ranges (ranges nest or are disjoint, so every range
 * holding `a` is on that chain, and once one holds it all above do too). */
static void match_ranges(const shared_t *s, u128 a, uint64_t *mask)
{
    size_t lo = 0, hi = s->nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ranges[mid].lo <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t i = lo ? (uint32_t)(lo - 1) : NONE;
    while (i != NONE && s->ranges[i].hi < a)
        i = s->ranges[i].parent;
    for (; i != NONE; i = s->ranges[i].parent)
        for (uint32_t k = 0; k < s->ranges[i].n; k++)
            SETBIT(mask, s->range_ranks[s->ranges[i].off + k]);
}

static int on_ip(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                 void *ctx)
{
    bw_groups_t *g = ctx;
    const pdb_t *p = &g->s->ip;
    for (uint32_t k = p->off[id]; k < p->off[id + 1]; k++)
        SETBIT(g->ipmask, p->ranks[k]);
    return 0;
}

typedef struct url_ctx {
    const pdb_t *p;
    const uint64_t *ipmask;
    uint32_t best, floor;
} url_ctx_t;

static int on_url(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    url_ctx_t *c = ctx;
    for (uint32_t k = c->p->off[id]; k < c->p->off[id + 1]; k++) {
        uint32_t r = c->p->ranks[k];
        if (r < c->best && HASBIT(c->ipmask, r))
            c->best = r;
    }
    return c->best == c->floor; /* nothing can beat it: stop the scan */
}

const char *bw_groups_match(bw_groups_t *g, const char *client_ip, const char *url)
{
    if (!g || !g->s->n)
        return NULL;
    const shared_t *s = g->s;
    memcpy(g->ipmask, s->any_ip, s->words * sizeof *g->ipmask);
    uint8_t a[16];
    if (bw_groups_parse_addr(client_ip, a) == BW_OK) {
        match_ranges(s, load128(a), g->ipmask);
        if (s->ip.db) {
            size_t n = strlen(client_ip);
            if (n <= 4 * MAX_ADDR_TEXT)
                hs_scan(s->ip.db, client_ip, (unsigned)n, 0, g->scratch, on_ip, g);
        }
    }
    url_ctx_t c = {&s->url, g->ipmask, first_bit(g->ipmask, s->any_url, s->words),
                   first_bit(g->ipmask, NULL, s->words)};
    if (c.floor == NONE)
        return NULL;
    if (c.best != c.floor && url && s->url.db) {
        size_t n = strlen(url);
        if (n > UINT32_MAX)
            n = UINT32_MAX;
        hs_scan(s->url.db, url, (unsigned)n, 0, g->scratch, on_url, &c);
    }
    return c.best == NONE ? NULL : s->names[s->def_of[c.best]];
}

/* ---- building ----------------------------------------------------------- */

typedef struct pat {
    const char *text;
    uint32_t rank;
    const char *group; /* for the error's line */
} pat_t;

typedef BW_VEC(pat_t) pvec_t;

static int cmp_pat(const void *a, const void *b)
{
    const pat_t *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

typedef struct raw_range {
    u128 lo, hi;
    uint32_t rank;
} raw_range_t;

static int cmp_range(const void *a, const void *b)
{
    const raw_range_t *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi > y->hi ? -1 : 1; /* enclosing ranges first */
    return (x->rank > y->rank) - (x->rank < y->rank);
}

static unsigned key_line(const bw_conf_state_t *st, const char *group, const char *key)
{
    unsigned l = bw_conf_line(st, &bw_groups_conf_table, group, key);
    return l ? l : bw_conf_line(st, &bw_groups_conf_table, NULL, key);
}

/* Compiles one database from `pv` (sorted here; equal texts become one
 * expression listing all their groups). */
static int compile_pdb(const bw_conf_state_t *st, pvec_t *pv, unsigned flags, const char *key,
                       pdb_t *out, bw_err_t *err)
{
    if (!pv->n)
        return BW_OK;
    qsort(pv->v, pv->n, sizeof *pv->v, cmp_pat);
    const char **expr = malloc(pv->n * sizeof *expr);
    unsigned *fl = malloc(pv->n * sizeof *fl), *ids = malloc(pv->n * sizeof *ids);
    size_t *first = malloc(pv->n * sizeof *first);
    out->off = malloc((pv->n + 1) * sizeof *out->off);
    out->ranks = malloc(pv->n * sizeof *out->ranks);
    int rc = BW_ERR;
    if (!expr || !fl || !ids || !first || !out->off || !out->ranks) {
        bw_err_set(err, "%s: groups: out of memory", bw_conf_source(st));
        goto done;
    }
    size_t ne = 0, nr = 0;
    for (size_t i = 0; i < pv->n; i++) {
        if (!i || strcmp(pv->v[i].text, pv->v[i - 1].text)) {
            out->off[ne] = (uint32_t)nr;
            first[ne] = i;
            expr[ne] = pv->v[i].text;
            fl[ne] = flags;
            ids[ne] = (unsigned)ne;
            ne++;
        }
        if (!nr || out->off[ne - 1] == nr || out->ranks[nr - 1] != pv->v[i].rank)
            out->ranks[nr++] = pv->v[i].rank;
    }
    out->off[ne] = (uint32_t)nr;
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(expr, fl, ids, (unsigned)ne, HS_MODE_BLOCK, NULL, &out->db, &ce) !=
        HS_SUCCESS) {
        if (ce && ce->expression >= 0 && (size_t)ce->expression < ne) {
            const pat_t *p = &pv->v[first[ce->expression]];
            bw_err_set(err, "%s:%u: %s: '%.100s' is not a valid regex: %s (group %s)",
                       bw_conf_source(st), key_line(st, p->group, key), key, p->text, ce->message,
                       p->group);
        } else {
            bw_err_set(err, "%s: groups: cannot compile the %s patterns: %s", bw_conf_source(st),
                       key, ce ? ce->message : "?");
        }
        hs_free_compile_error(ce);
        out->db = NULL;
        goto done;
    }
    rc = BW_OK;
done:
    free(expr);
    free(fl);
    free(ids);
    free(first);
    return rc;
}

static int build_ranges(shared_t *s, raw_range_t *rr, size_t n)
{
    if (!n)
        return BW_OK;
    qsort(rr, n, sizeof *rr, cmp_range);
    s->ranges = malloc(n * sizeof *s->ranges);
    s->range_ranks = malloc(n * sizeof *s->range_ranks);
    uint32_t *stack = malloc(n * sizeof *stack);
    if (!s->ranges || !s->range_ranks || !stack) {
        free(stack);
        return BW_ERR;
    }
    size_t nr = 0, nk = 0, sp = 0;
    for (size_t i = 0; i < n; i++) {
        if (nr && s->ranges[nr - 1].lo == rr[i].lo && s->ranges[nr - 1].hi == rr[i].hi) {
            range_t *last = &s->ranges[nr - 1];
            if (s->range_ranks[nk - 1] != rr[i].rank) {
                s->range_ranks[nk++] = rr[i].rank;
                last->n++;
            }
            continue;
        }
        /* Ranges on the stack that end before this one starts do not hold it;
         * the first that does not end before it encloses it (nesting). */
        while (sp && s->ranges[stack[sp - 1]].hi < rr[i].lo)
            sp--;
        range_t *r = &s->ranges[nr];
        r->lo = rr[i].lo;
        r->hi = rr[i].hi;
        r->parent = sp ? stack[sp - 1] : NONE;
        r->off = (uint32_t)nk;
        r->n = 1;
        s->range_ranks[nk++] = rr[i].rank;
        stack[sp++] = (uint32_t)nr++;
    }
    s->nranges = nr;
    free(stack);
    return BW_OK;
}

static int cmp_prio(const void *a, const void *b, void *arg)
{
    const uint64_t *prio = arg;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (prio[x] != prio[y])
        return prio[x] > prio[y] ? -1 : 1;
    return (x > y) - (x < y);
}

int bw_groups_build(const bw_conf_state_t *st, bw_groups_t **out, bw_err_t *err)
{
    const bw_conf_table_t *t = &bw_groups_conf_table;
    const char *src = bw_conf_source(st);
    if (!st || !bw_conf_get(st, t, NULL))
        return bw_err_set(err, "%s: groups: the schema has no [%s] table", src ? src : "?", SEC);
    size_t n = bw_conf_group_count(st, t);
    if (n >= NONE)
        return bw_err_set(err, "%s: groups: too many groups", src);
    shared_t *s = calloc(1, sizeof *s);
    pvec_t urls = {0}, ips = {0};
    raw_range_t *rr = NULL;
    size_t nrr = 0, caprr = 0;
    uint64_t *prio = NULL;
    int rc = BW_ERR;
    if (!s)
        goto oom;
    s->n = n;
    s->words = (n + 63) / 64;
    size_t w = s->words ? s->words : 1;
    s->names = calloc(n ? n : 1, sizeof *s->names);
    s->def_of = calloc(n ? n : 1, sizeof *s->def_of);
    s->rank_of = calloc(n ? n : 1, sizeof *s->rank_of);
    s->any_ip = calloc(w, sizeof *s->any_ip);
    s->any_url = calloc(w, sizeof *s->any_url);
    prio = calloc(n ? n : 1, sizeof *prio);
    if (!s->names || !s->def_of || !s->rank_of || !s->any_ip || !s->any_url || !prio)
        goto oom;
    for (size_t d = 0; d < n; d++) {
        const bw_groups_conf_t *gc = bw_conf_get(st, t, bw_conf_group_name(st, t, d));
        s->names[d] = strdup(bw_conf_group_name(st, t, d));
        if (!s->names[d])
            goto oom;
        prio[d] = gc->priority;
        s->def_of[d] = (uint32_t)d;
    }
    qsort_r(s->def_of, n, sizeof *s->def_of, cmp_prio, prio);
    for (uint32_t r = 0; r < n; r++)
        s->rank_of[s->def_of[r]] = r;
    for (size_t d = 0; d < n; d++) {
        const char *name = s->names[d];
        const bw_groups_conf_t *gc = bw_conf_get(st, t, name);
        uint32_t r = s->rank_of[d];
        bool has_ip = false, has_url = false;
        for (size_t i = 0; i < gc->client_ip.n; i++) {
            const char *v = BW_CONF_LIST_AT(&gc->client_ip, char *, i);
            if (!v || !*v)
                continue;
            has_ip = true;
            u128 lo, hi;
            int k = parse_ip_entry(v, &lo, &hi, err);
            if (k < 0) {
                bw_err_prefix(err, "%s:%u: ClientIP", src, key_line(st, name, "ClientIP"));
                goto fail;
            }
            if (k == 0 && bw_vec_push(&ips, (pat_t){v, r, name}))
                goto oom;
            if (k == 1) {
                if (nrr == caprr) {
                    caprr = caprr ? caprr * 2 : 64;
                    raw_range_t *nv = realloc(rr, caprr * sizeof *nv);
                    if (!nv)
                        goto oom;
                    rr = nv;
                }
                rr[nrr++] = (raw_range_t){lo, hi, r};
            }
        }
        for (size_t i = 0; i < gc->url.n; i++) {
            const char *v = BW_CONF_LIST_AT(&gc->url, char *, i);
            if (!v || !*v)
                continue;
            has_url = true;
            if (bw_vec_push(&urls, (pat_t){v, r, name}))
                goto oom;
        }
        if (!has_ip)
            SETBIT(s->any_ip, r);
        if (!has_url)
            SETBIT(s->any_url, r);
    }
    if (build_ranges(s, rr, nrr))
        goto oom;
    if (compile_pdb(st, &urls, URL_FLAGS, "URL", &s->url, err) ||
        compile_pdb(st, &ips, IP_FLAGS, "ClientIP", &s->ip, err))
        goto fail;
    bw_groups_t *g = handle_new(s, NULL, err);
    if (!g)
        goto fail;
    *out = g;
    s = NULL; /* owned by g now */
    rc = BW_OK;
    goto fail;
oom:
    bw_err_set(err, "%s: groups: out of memory", src);
fail:
    free(urls.v);
    free(ips.v);
    free(rr);
    free(prio);
    shared_free(s);
    return rc;
}
