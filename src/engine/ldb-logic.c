/* SPDX-License-Identifier: Apache-2.0 */
/* .ldb logical expressions: compiler to a postfix program, and evaluator.
 *
 * Semantics are ClamAV's (libclamav cli_ac_chklsig), written down here
 * because the documentation leaves the corners open:
 *  - Every sub-expression yields (true?, match count, set of subsigs).  A
 *    false one yields (false, 0, {}): it adds nothing to an enclosing count.
 *  - `N`: true when subsig N matched at least once; count = its matches.
 *  - `N=X`, `N>X`, `N<X`: compare subsig N's match count; a `,Y` after a
 *    single subsig is accepted and ignored (ClamAV does the same).  When true
 *    the count is N's count and N joins the set even with 0 matches, so
 *    `N=0` ("must not match") is true exactly when N did not match.
 *  - `A&B`, `A|B`: boolean and/or; when true, count = sum of the counts of
 *    the true operands, set = union.
 *  - `(E)=X,Y` (also `>`, `<`): c = E's count if E is true, else 0; true
 *    when c compares with X and, if Y > 0, the set holds at least Y
 *    subsigs.  The result carries count c and, as in ClamAV, an empty set.
 *  - No precedence: a chain of operators nests to the right, as ClamAV
 *    splits at the first operator: `0&1|2` is `0&(1|2)`.  A run of one
 *    operator is associative, so the compiler folds it to the left to keep
 *    the evaluation stack shallow; only a change of operator deepens it.
 *  - Subsigs are numbered 0..63 (ClamAV allows 64 per signature), which
 *    lets the evaluator keep the set as a 64-bit mask.
 *
 * Hostile input: parenthesis depth is limited to BW_LOGIC_DEPTH_MAX and the
 * evaluation stack to BW_LOGIC_STACK_MAX (both checked at compile time), and
 * the evaluator re-checks its stack on every op, so a damaged program can
 * only evaluate to false.
 */
#include "ldb-logic.h"

#include <string.h>

typedef struct lc {
    bw_sigdb_t *db;
    const char *s;
    size_t len, i;
    unsigned nsubsigs;
    bw_err_t *err;
    uint32_t sp, sp_max; /* simulated evaluation stack */
} lc_t;

static int lerr(lc_t *c, size_t at, const char *what)
{
    return bw_err_set(c->err, "byte %zu of the logical expression: %s", at, what);
}

static int emit(lc_t *c, bw_logic_op_t op, int stack_delta)
{
    if (bw_vec_push(&c->db->logic, op))
        return bw_err_set(c->err, "out of memory");
    c->sp = (uint32_t)((int)c->sp + stack_delta);
    if (c->sp > c->sp_max)
        c->sp_max = c->sp;
    if (c->sp > BW_LOGIC_STACK_MAX)
        return lerr(c, c->i, "expression too complex");
    return BW_OK;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int parse_u32(lc_t *c, uint32_t *out)
{
    size_t start = c->i;
    uint64_t v = 0;
    if (c->i >= c->len || !is_digit(c->s[c->i]))
        return lerr(c, start, "number expected");
    while (c->i < c->len && is_digit(c->s[c->i])) {
        v = v * 10 + (uint64_t)(c->s[c->i] - '0');
        if (v > UINT32_MAX)
            return lerr(c, start, "number overflow");
        c->i++;
    }
    *out = (uint32_t)v;
    return BW_OK;
}

/* Optional `=X`, `>X`, `<X`, with optional `,Y`. */
static int parse_mod(lc_t *c, uint8_t *op, uint32_t *x, uint32_t *y)
{
    *op = 0;
    *x = *y = 0;
    if (c->i >= c->len)
        return BW_OK;
    char ch = c->s[c->i];
    if (ch != '=' && ch != '>' && ch != '<')
        return BW_OK;
    c->i++;
    if (parse_u32(c, x))
        return BW_ERR;
    if (c->i < c->len && c->s[c->i] == ',') {
        c->i++;
        if (parse_u32(c, y))
            return BW_ERR;
    }
    *op = ch == '=' ? BW_LOP_EQ : ch == '>' ? BW_LOP_GT : BW_LOP_LT;
    return BW_OK;
}

static int parse_chain(lc_t *c, unsigned depth);

/* A subsig number or a parenthesised chain, then its modifier. */
static int parse_term(lc_t *c, unsigned depth)
{
    if (c->i >= c->len)
        return lerr(c, c->i, c->len ? "operand expected at end" : "empty expression");
    char ch = c->s[c->i];
    uint8_t mop;
    uint32_t x, y;
    if (ch == '(') {
        size_t open = c->i;
        if (depth >= BW_LOGIC_DEPTH_MAX)
            return lerr(c, open, "parentheses nested too deep");
        c->i++;
        if (parse_chain(c, depth + 1))
            return BW_ERR;
        if (c->i >= c->len || c->s[c->i] != ')')
            return lerr(c, open, "unbalanced parenthesis");
        c->i++;
        if (parse_mod(c, &mop, &x, &y))
            return BW_ERR;
        if (mop && emit(c, (bw_logic_op_t){.op = mop, .x = x, .y = y}, 0))
            return BW_ERR;
        return BW_OK;
    }
    if (!is_digit(ch)) {
        if (ch == ')')
            return lerr(c, c->i, "unbalanced parenthesis");
        if (ch == '&' || ch == '|')
            return lerr(c, c->i, "operand expected before operator");
        if (ch == '=' || ch == '>' || ch == '<' || ch == ',')
            return lerr(c, c->i, "modifier without an operand");
        return lerr(c, c->i, "bad character");
    }
    size_t at = c->i;
    uint32_t n;
    if (parse_u32(c, &n))
        return BW_ERR;
    if (n >= c->nsubsigs)
        return bw_err_set(c->err,
                          "byte %zu of the logical expression: subsignature %u does not exist "
                          "(the signature has %u)", at, n, c->nsubsigs);
    if (n >= 64)
        return lerr(c, at, "subsignature index above 63");
    if (parse_mod(c, &mop, &x, &y))
        return BW_ERR;
    uint8_t op = mop == BW_LOP_EQ   ? BW_LOP_SUBEQ
                 : mop == BW_LOP_GT ? BW_LOP_SUBGT
                 : mop == BW_LOP_LT ? BW_LOP_SUBLT
                                    : BW_LOP_PUSH;
    return emit(c, (bw_logic_op_t){.op = op, .subsig = (uint16_t)n, .x = x, .y = y}, 1);
}

/* term (op term)*, nesting to the right; see the file comment. */
static int parse_chain(lc_t *c, unsigned depth)
{
    uint8_t pend[BW_LOGIC_STACK_MAX];
    uint32_t np = 0;
    if (parse_term(c, depth))
        return BW_ERR;
    while (c->i < c->len && (c->s[c->i] == '&' || c->s[c->i] == '|')) {
        uint8_t op = c->s[c->i] == '&' ? BW_LOP_AND : BW_LOP_OR;
        c->i++;
        if (c->i >= c->len)
            return lerr(c, c->i, "operand expected at end");
        if (np && pend[np - 1] == op) {
            /* X op t op REST == (X op t) op REST */
            if (emit(c, (bw_logic_op_t){.op = op}, -1))
                return BW_ERR;
            np--;
        }
        if (np == BW_LOGIC_STACK_MAX)
            return lerr(c, c->i, "expression too complex");
        pend[np++] = op;
        if (parse_term(c, depth))
            return BW_ERR;
    }
    while (np)
        if (emit(c, (bw_logic_op_t){.op = pend[--np]}, -1))
            return BW_ERR;
    return BW_OK;
}

int bw_logic_compile(bw_sigdb_t *db, const char *expr, size_t len, unsigned nsubsigs,
                     uint32_t *first, uint32_t *count, bw_err_t *err)
{
    size_t old = db->logic.n;
    lc_t c = {.db = db, .s = expr, .len = len, .nsubsigs = nsubsigs, .err = err};
    int rc = parse_chain(&c, 0);
    if (rc == BW_OK && c.i < len) {
        char ch = expr[c.i];
        rc = lerr(&c, c.i,
                  ch == ')' ? "unbalanced parenthesis"
                  : (ch == '=' || ch == '>' || ch == '<') ? "modifier in the wrong place"
                  : (ch >= '0' && ch <= '9') || ch == '(' ? "operator expected"
                                                          : "unexpected character");
    }
    if (rc == BW_OK && c.sp != 1)
        rc = lerr(&c, 0, "internal error: unbalanced program");
    if (rc != BW_OK) {
        db->logic.n = old;
        return rc;
    }
    *first = (uint32_t)old;
    *count = (uint32_t)(db->logic.n - old);
    return BW_OK;
}

typedef struct lval {
    uint64_t cnt;
    uint64_t ids;
    uint8_t truth;
} lval_t;

static int cmp(uint8_t op, uint64_t v, uint32_t x)
{
    switch (op) {
    case BW_LOP_EQ: case BW_LOP_SUBEQ: return v == x;
    case BW_LOP_GT: case BW_LOP_SUBGT: return v > x;
    default: return v < x;
    }
}

int bw_logic_eval(const bw_logic_op_t *prog, uint32_t n, const uint32_t *counts)
{
    lval_t st[BW_LOGIC_STACK_MAX];
    uint32_t sp = 0;
    for (uint32_t i = 0; i < n; i++) {
        const bw_logic_op_t *o = &prog[i];
        switch (o->op) {
        case BW_LOP_PUSH:
        case BW_LOP_SUBEQ:
        case BW_LOP_SUBGT:
        case BW_LOP_SUBLT: {
            if (sp == BW_LOGIC_STACK_MAX || o->subsig >= 64)
                return 0;
            uint32_t v = counts[o->subsig];
            int t = o->op == BW_LOP_PUSH ? v > 0 : cmp(o->op, v, o->x);
            st[sp++] = t ? (lval_t){v, (uint64_t)1 << o->subsig, 1} : (lval_t){0, 0, 0};
            break;
        }
        case BW_LOP_AND:
        case BW_LOP_OR: {
            if (sp < 2)
                return 0;
            lval_t r = st[--sp], *l = &st[sp - 1];
            int t = o->op == BW_LOP_AND ? (l->truth && r.truth) : (l->truth || r.truth);
            *l = t ? (lval_t){l->cnt + r.cnt, l->ids | r.ids, 1} : (lval_t){0, 0, 0};
            break;
        }
        case BW_LOP_EQ:
        case BW_LOP_GT:
        case BW_LOP_LT: {
            if (sp < 1)
                return 0;
            lval_t *v = &st[sp - 1];
            int t = cmp(o->op, v->cnt, o->x) &&
                    (o->y == 0 || (uint32_t)__builtin_popcountll(v->ids) >= o->y);
            *v = t ? (lval_t){v->cnt, 0, 1} : (lval_t){0, 0, 0};
            break;
        }
        default:
            return 0;
        }
    }
    return sp == 1 && st[0].truth;
}
