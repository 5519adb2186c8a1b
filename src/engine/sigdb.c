/* SPDX-License-Identifier: Apache-2.0 */
/* The signature database builder: metas, the string pool, hash tables.
 *
 * Names are stored once in a NUL-separated pool and referred to by offset, so
 * that the database stays a set of flat arrays the cache can dump and map.
 *
 * Status tags.  Bulwark lets a signature say which status its match reports:
 * `NAME@SUSPICIOUS`, `NAME@WARNING`, ..., and `NAME@CURED=HEX` whose HEX is
 * the cured object handed back to the client.  Only the LAST '@' can start a
 * tag, and only when what follows looks like one (upper-case letters and '_',
 * then for CURED "=HEX"): third-party ClamAV databases do carry the odd '@' in
 * a name (an e-mail address in a phishing signature), and such a name must
 * load unchanged rather than fail the whole database.  Something that looks
 * like a tag but names no status is an error, because a typo there would
 * silently turn a WARNING into an INFECTED.
 *
 * Hash tables are sorted once, after loading, by (size, digest); lookups are a
 * binary search for the exact size, then one for BW_SIZE_ANY (`*`) entries,
 * which sort last.
 */
#include <stdlib.h>
#include <string.h>

#include "db-int.h"
#include "db-load.h"
#include "sig-hex.h"

static const struct {
    const char *name;
    bw_status_t st;
} status_tags[] = {
    {"INFECTED", BW_INFECTED},   {"CURED", BW_CURED},         {"WARNING", BW_WARNING},
    {"SUSPICIOUS", BW_SUSPICIOUS}, {"PROTECTED", BW_PROTECTED}, {"CORRUPTED", BW_CORRUPTED},
    {"ERROR", BW_ERROR},         {"TIMEOUT", BW_TIMEOUT},     {"TOO_LARGE", BW_TOO_LARGE},
};

static int is_tag_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }

/* Finds a tag: returns the index of its '@' or len when there is none; sets
 * *word_len to the length of the status word (before any '='). */
static size_t find_tag(const char *name, size_t len, size_t *word_len)
{
    size_t at = len;
    for (size_t i = len; i > 0; i--)
        if (name[i - 1] == '@') {
            at = i - 1;
            break;
        }
    if (at == len)
        return len;
    size_t i = at + 1;
    while (i < len && is_tag_char(name[i]))
        i++;
    if (i == at + 1)
        return len;              /* "@" then nothing tag-like */
    if (i < len && name[i] != '=')
        return len;              /* "@Foo.bar": part of the name */
    *word_len = i - at - 1;
    return at;
}

size_t bw_sigdb_name_len(const char *name, size_t len)
{
    size_t wl;
    return find_tag(name, len, &wl);
}

uint32_t bw_sigdb_add_string(bw_sigdb_t *db, const char *s, size_t len)
{
    size_t off = db->strings.n;
    if (off + len + 1 >= UINT32_MAX || bw_vec_reserve(&db->strings, len + 1))
        return UINT32_MAX;
    if (len)
        memcpy(db->strings.v + off, s, len);
    db->strings.v[off + len] = '\0';
    db->strings.n += len + 1;
    return (uint32_t)off;
}

const char *bw_sigdb_string(const bw_sigdb_t *db, uint32_t off)
{
    if (off >= db->strings.n)
        return "";
    return db->strings.v + off;
}

int bw_sigdb_add_meta(bw_sigdb_t *db, const char *name, size_t len, uint32_t *meta, bw_err_t *err)
{
    bw_sigmeta_t m = {0};
    m.status = BW_INFECTED;
    size_t word = 0;
    size_t at = find_tag(name, len, &word);
    if (at < len) {
        const char *w = name + at + 1;
        size_t k, nk = sizeof status_tags / sizeof status_tags[0];
        for (k = 0; k < nk; k++)
            if (strlen(status_tags[k].name) == word && !memcmp(status_tags[k].name, w, word))
                break;
        if (k == nk)
            return bw_err_set(err, "unknown status tag \"@%.*s\"", (int)word, w);
        m.status = (uint8_t)status_tags[k].st;
        const char *eq = w + word;
        size_t rest = len - (size_t)(eq - name);
        if (m.status == BW_CURED) {
            if (rest == 0)
                return bw_err_set(err, "status tag @CURED needs =HEX (the cured object)");
            const char *hex = eq + 1;
            size_t hn = rest - 1;
            if (hn % 2)
                return bw_err_set(err, "@CURED=HEX: odd number of hex digits");
            size_t boff = db->bytes.n;
            if (boff + hn / 2 > UINT32_MAX || bw_vec_reserve(&db->bytes, hn / 2 + 1))
                return bw_err_set(err, "out of memory");
            for (size_t i = 0; i < hn; i += 2) {
                int hi = bw_hexval(hex[i]), lo = bw_hexval(hex[i + 1]);
                if (hi < 0 || lo < 0)
                    return bw_err_set(err, "@CURED=HEX: bad hex digit at character %zu", i + 1);
                db->bytes.v[boff + i / 2] = (uint8_t)(hi << 4 | lo);
            }
            db->bytes.n += hn / 2;
            m.cure_off = (uint32_t)boff;
            m.cure_len = (uint32_t)(hn / 2);
        } else if (rest) {
            return bw_err_set(err, "only @CURED takes =HEX");
        }
        len = at;
    }
    if (len == 0)
        return bw_err_set(err, "empty signature name");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return bw_err_set(err, "control character 0x%02x in signature name", c);
    }
    if (db->metas.n >= UINT32_MAX)
        return bw_err_set(err, "too many signatures");
    m.name_off = bw_sigdb_add_string(db, name, len);
    if (m.name_off == UINT32_MAX || bw_vec_push(&db->metas, m))
        return bw_err_set(err, "out of memory");
    *meta = (uint32_t)(db->metas.n - 1);
    return BW_OK;
}

static int hashent_cmp(const void *a, const void *b)
{
    const bw_hashent_t *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? -1 : 1;
    return memcmp(x->digest, y->digest, sizeof x->digest);
}

void bw_sigdb_finish(bw_sigdb_t *db)
{
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            if (db->hashes[l][k].n > 1)
                qsort(db->hashes[l][k].v, db->hashes[l][k].n, sizeof(bw_hashent_t), hashent_cmp);
}

static const bw_hashent_t *bsearch_ent(const bw_hashent_t *v, size_t n, uint64_t size,
                                       const uint8_t *digest, size_t dlen)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = v[mid].size < size ? -1 : v[mid].size > size ? 1 : memcmp(v[mid].digest, digest, dlen);
        if (c == 0)
            return &v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const bw_hashent_t *bw_sigdb_find_hash(const bw_sigdb_t *db, int list, int kind, uint64_t size,
                                        const uint8_t *digest)
{
    static const size_t dlens[BW_HASH_KINDS] = {16, 20, 32};
    if (list < 0 || list >= BW_HLISTS || kind < 0 || kind >= BW_HASH_KINDS)
        return NULL;
    const bw_hashent_t *v = db->hashes[list][kind].v;
    size_t n = db->hashes[list][kind].n;
    if (!n)
        return NULL;
    /* Entries hold zeros past the digest length, so comparing dlen bytes of a
     * caller's digest orders the same way as the full 32-byte sort key. */
    const bw_hashent_t *e = NULL;
    if (size != BW_SIZE_ANY)
        e = bsearch_ent(v, n, size, digest, dlens[kind]);
    if (!e)
        e = bsearch_ent(v, n, BW_SIZE_ANY, digest, dlens[kind]);
    return e;
}

void bw_sigdb_free(bw_sigdb_t *db)
{
    if (!db)
        return;
    if (db->mapped) {
        /* The engine owns the mapping the arrays point into. */
        memset(db, 0, sizeof *db);
        return;
    }
    bw_vec_free(&db->toks);
    bw_vec_free(&db->alts);
    bw_vec_free(&db->bytes);
    bw_vec_free(&db->strings);
    bw_vec_free(&db->parts);
    bw_vec_free(&db->bsigs);
    bw_vec_free(&db->metas);
    bw_vec_free(&db->ldbs);
    bw_vec_free(&db->logic);
    for (int l = 0; l < BW_HLISTS; l++)
        for (int k = 0; k < BW_HASH_KINDS; k++)
            bw_vec_free(&db->hashes[l][k]);
    db->max_part_extent = 0;
}
