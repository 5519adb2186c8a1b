/* SPDX-License-Identifier: Apache-2.0 */
/* .ldb logical expressions: ClamAV semantics of &, |, parentheses and the
 * =X >X <X ,Y modifiers (on single subsigs and on groups), every error with
 * its byte offset, and the depth/stack limits. */
#include "t.h"

#include "engine/ldb-logic.h"

static bw_err_t err;

/* Compiles expr for nsub subsigs and evaluates it against counts. */
static int ev(const char *expr, unsigned nsub, const uint32_t *counts)
{
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    uint32_t first = 99, count = 0;
    int rc = bw_logic_compile(&db, expr, strlen(expr), nsub, &first, &count, &err);
    if (rc != BW_OK) {
        fprintf(stderr, "  \"%s\": %s\n", expr, err.msg);
        free(db.logic.v);
        return -1;
    }
    int r = bw_logic_eval(&db.logic.v[first], count, counts);
    free(db.logic.v);
    return r;
}

#define C(...) ((const uint32_t[]){__VA_ARGS__})

TEST(single_subsig)
{
    CHECK_EQ(ev("0", 1, C(1)), 1);
    CHECK_EQ(ev("0", 1, C(0)), 0);
    CHECK_EQ(ev("1", 2, C(0, 3)), 1);
}

TEST(and_or_parentheses)
{
    CHECK_EQ(ev("0&1", 2, C(1, 1)), 1);
    CHECK_EQ(ev("0&1", 2, C(1, 0)), 0);
    CHECK_EQ(ev("0|1", 2, C(0, 1)), 1);
    CHECK_EQ(ev("0|1", 2, C(0, 0)), 0);
    CHECK_EQ(ev("(0|1)&2", 3, C(0, 1, 1)), 1);
    CHECK_EQ(ev("(0|1)&2", 3, C(1, 1, 0)), 0);
    CHECK_EQ(ev("0&(1|(2&3))", 4, C(1, 0, 1, 1)), 1);
    CHECK_EQ(ev("0&(1|(2&3))", 4, C(1, 0, 1, 0)), 0);
    CHECK_EQ(ev("((((0))))", 1, C(1)), 1);
    CHECK_EQ(ev("0&1&2&3", 4, C(1, 1, 1, 1)), 1);
    CHECK_EQ(ev("0&1&2&3", 4, C(1, 1, 0, 1)), 0);
}

TEST(no_precedence_chains_nest_to_the_right)
{
    /* ClamAV: 0&1|2 is 0&(1|2), not (0&1)|2 */
    CHECK_EQ(ev("0&1|2", 3, C(0, 0, 1)), 0);
    CHECK_EQ(ev("0&1|2", 3, C(1, 0, 1)), 1);
    /* 0|1&2 is 0|(1&2) */
    CHECK_EQ(ev("0|1&2", 3, C(1, 0, 0)), 1);
    CHECK_EQ(ev("0|1&2", 3, C(0, 1, 0)), 0);
    CHECK_EQ(ev("0&1&2|3|4&5", 6, C(1, 1, 0, 0, 0, 1)), 0);
    CHECK_EQ(ev("0&1&2|3|4&5", 6, C(1, 1, 0, 0, 1, 1)), 1);
    CHECK_EQ(ev("0&1&2|3|4&5", 6, C(1, 0, 1, 1, 1, 1)), 0);
}

TEST(modifiers_on_a_single_subsig)
{
    CHECK_EQ(ev("0=2", 1, C(2)), 1);
    CHECK_EQ(ev("0=2", 1, C(3)), 0);
    CHECK_EQ(ev("0>2", 1, C(3)), 1);
    CHECK_EQ(ev("0>2", 1, C(2)), 0);
    CHECK_EQ(ev("0<2", 1, C(1)), 1);
    CHECK_EQ(ev("0<2", 1, C(2)), 0);
    CHECK_EQ(ev("0<2", 1, C(0)), 1); /* < counts zero matches as fewer */
    /* =0: must not match */
    CHECK_EQ(ev("0=0", 1, C(0)), 1);
    CHECK_EQ(ev("0=0", 1, C(1)), 0);
    CHECK_EQ(ev("1&0=0", 2, C(0, 1)), 1);
    CHECK_EQ(ev("1&0=0", 2, C(1, 1)), 0);
    /* ,Y after a single subsig is accepted and ignored, as in ClamAV */
    CHECK_EQ(ev("0>1,5", 1, C(2)), 1);
}

TEST(modifiers_on_groups)
{
    /* the block's count is the sum of the counts of its true operands */
    CHECK_EQ(ev("(0|1|2)>3", 3, C(2, 0, 2)), 1);
    CHECK_EQ(ev("(0|1|2)>3", 3, C(2, 0, 1)), 0);
    CHECK_EQ(ev("(0|1)=2", 2, C(1, 1)), 1);
    CHECK_EQ(ev("(0|1)=2", 2, C(2, 1)), 0);
    CHECK_EQ(ev("(0|1)<2", 2, C(1, 0)), 1);
    CHECK_EQ(ev("(0|1)<2", 2, C(1, 1)), 0);
    /* ,Y: at least Y distinct subsigs */
    CHECK_EQ(ev("(0|1|2)>1,2", 3, C(5, 0, 0)), 0);
    CHECK_EQ(ev("(0|1|2)>1,2", 3, C(1, 0, 1)), 1);
    CHECK_EQ(ev("(0|1|2)=3,3", 3, C(1, 1, 1)), 1);
    CHECK_EQ(ev("(0|1|2)=3,3", 3, C(3, 0, 0)), 0);
    /* a group =0: none of it may match; a false & group counts 0 */
    CHECK_EQ(ev("2&(0|1)=0", 3, C(0, 0, 1)), 1);
    CHECK_EQ(ev("2&(0|1)=0", 3, C(0, 1, 1)), 0);
    CHECK_EQ(ev("(0&1)<1", 2, C(5, 0)), 1);
    /* an and-group only counts when it is true */
    CHECK_EQ(ev("(0&1)>2", 2, C(2, 1)), 1);
    CHECK_EQ(ev("(0&1)>2", 2, C(3, 0)), 0);
    /* the same subsig twice is one distinct subsig */
    CHECK_EQ(ev("(0|0)>1,2", 1, C(1)), 0);
    CHECK_EQ(ev("(0|0)>1", 1, C(1)), 1);
    /* modifiers bind to the operand just before them */
    CHECK_EQ(ev("(0|1)>1&2", 3, C(1, 1, 1)), 1);
    CHECK_EQ(ev("(0|1)>1&2", 3, C(1, 0, 1)), 0);
    CHECK_EQ(ev("2&(0|1)>1", 3, C(1, 1, 1)), 1);
    /* a modified group keeps its count but (ClamAV) no distinct set */
    CHECK_EQ(ev("((0|1)>0|2)>0,2", 3, C(1, 1, 0)), 0);
    CHECK_EQ(ev("((0|1)>0|2)>0,1", 3, C(0, 0, 1)), 1);
    /* =0 on a subsig still names it in the distinct set (ClamAV) */
    CHECK_EQ(ev("(0=0|1)>0,2", 2, C(0, 1)), 1);
}

TEST(program_shape)
{
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    uint32_t first, count;
    CHECK_EQ(bw_logic_compile(&db, "0", 1, 1, &first, &count, &err), BW_OK);
    CHECK_EQ(first, 0);
    CHECK_EQ(count, 1);
    CHECK_EQ(db.logic.v[0].op, BW_LOP_PUSH);
    CHECK_EQ(bw_logic_compile(&db, "(1|2)>3,2", 9, 3, &first, &count, &err), BW_OK);
    CHECK_EQ(first, 1);
    CHECK_EQ(count, 4);
    CHECK_EQ(db.logic.v[1].op, BW_LOP_PUSH);
    CHECK_EQ(db.logic.v[1].subsig, 1);
    CHECK_EQ(db.logic.v[2].subsig, 2);
    CHECK_EQ(db.logic.v[3].op, BW_LOP_OR);
    CHECK_EQ(db.logic.v[4].op, BW_LOP_GT);
    CHECK_EQ(db.logic.v[4].x, 3);
    CHECK_EQ(db.logic.v[4].y, 2);
    CHECK_EQ(bw_logic_compile(&db, "0=4", 3, 1, &first, &count, &err), BW_OK);
    CHECK_EQ(db.logic.v[first].op, BW_LOP_SUBEQ);
    CHECK_EQ(db.logic.v[first].x, 4);
    free(db.logic.v);
}

static void check_err(const char *expr, unsigned nsub, const char *msg)
{
    bw_sigdb_t db;
    memset(&db, 0, sizeof db);
    uint32_t first, count;
    CHECK_EQ(bw_logic_compile(&db, "0", 1, 1, &first, &count, &err), BW_OK);
    err.msg[0] = 0;
    int rc = bw_logic_compile(&db, expr, strlen(expr), nsub, &first, &count, &err);
    if (rc != BW_ERR || !strstr(err.msg, msg))
        fprintf(stderr, "  \"%s\": rc %d, \"%s\"\n", expr, rc, err.msg);
    CHECK_EQ(rc, BW_ERR);
    CHECK_CONTAINS(err.msg, msg);
    CHECK_EQ(db.logic.n, 1); /* rolled back */
    free(db.logic.v);
}

TEST(errors_say_what_and_where)
{
    check_err("", 2, "byte 0 of the logical expression: empty expression");
    check_err("(0|1", 2, "byte 0 of the logical expression: unbalanced parenthesis");
    check_err("0|1)", 2, "byte 3 of the logical expression: unbalanced parenthesis");
    check_err(")", 2, "byte 0 of the logical expression: unbalanced parenthesis");
    check_err("0|x", 2, "byte 2 of the logical expression: bad character");
    check_err("0 |1", 2, "byte 1 of the logical expression: unexpected character");
    check_err("0|2", 2, "byte 2 of the logical expression: subsignature 2 does not exist");
    check_err("0|1 ", 2, "byte 3 of the logical expression: unexpected character");
    check_err("0|1(", 2, "byte 3 of the logical expression: operator expected");
    check_err("(0)1", 2, "byte 3 of the logical expression: operator expected");
    check_err("0|", 2, "byte 2 of the logical expression: operand expected at end");
    check_err("&1", 2, "byte 0 of the logical expression: operand expected before operator");
    check_err("0&&1", 2, "byte 2 of the logical expression: operand expected before operator");
    check_err("0>", 2, "byte 2 of the logical expression: number expected");
    check_err("0>1,", 2, "byte 4 of the logical expression: number expected");
    check_err(">1", 2, "byte 0 of the logical expression: modifier without an operand");
    check_err("0>1>2", 2, "byte 3 of the logical expression: modifier in the wrong place");
    check_err("0>99999999999", 2, "byte 2 of the logical expression: number overflow");
    check_err("99999999999", 2, "byte 0 of the logical expression: number overflow");
    check_err("()", 2, "byte 1 of the logical expression: unbalanced parenthesis");
    check_err("70", 80, "byte 0 of the logical expression: subsignature index above 63");
}

TEST(depth_and_stack_are_bounded)
{
    char buf[8192];
    /* 64 levels of parentheses are fine, 65 are not */
    size_t n = 0;
    for (int i = 0; i < BW_LOGIC_DEPTH_MAX; i++)
        buf[n++] = '(';
    buf[n++] = '0';
    for (int i = 0; i < BW_LOGIC_DEPTH_MAX; i++)
        buf[n++] = ')';
    buf[n] = 0;
    CHECK_EQ(ev(buf, 1, C(1)), 1);
    memmove(buf + 1, buf, n + 1);
    buf[0] = '(';
    strcat(buf, ")");
    check_err(buf, 1, "parentheses nested too deep");
    /* a long run of one operator folds: constant stack */
    n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(buf + n, "%s%d", i ? "|" : "", i % 64);
    uint32_t counts[64] = {0};
    CHECK_EQ(ev(buf, 64, counts), 0);
    counts[63] = 1;
    CHECK_EQ(ev(buf, 64, counts), 1);
    /* alternating operators nest to the right and need a deep stack */
    n = 0;
    for (int i = 0; i < 600; i++)
        n += (size_t)sprintf(buf + n, "%s0", i ? (i % 2 ? "&" : "|") : "");
    check_err(buf, 1, "expression too complex");
    /* a hostile deep paren run must not recurse without bound */
    memset(buf, '(', sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    check_err(buf, 1, "parentheses nested too deep");
}

TEST(eval_refuses_damaged_programs)
{
    uint32_t counts[2] = {1, 1};
    bw_logic_op_t bad1[] = {{.op = BW_LOP_AND}};
    bw_logic_op_t bad2[] = {{.op = BW_LOP_PUSH, .subsig = 0}, {.op = BW_LOP_PUSH, .subsig = 1}};
    bw_logic_op_t bad3[] = {{.op = 77}};
    bw_logic_op_t bad4[] = {{.op = BW_LOP_EQ, .x = 0}};
    bw_logic_op_t good[] = {{.op = BW_LOP_PUSH, .subsig = 0}, {.op = BW_LOP_PUSH, .subsig = 1},
                            {.op = BW_LOP_AND}};
    CHECK_EQ(bw_logic_eval(bad1, 1, counts), 0);
    CHECK_EQ(bw_logic_eval(bad2, 2, counts), 0);
    CHECK_EQ(bw_logic_eval(bad3, 1, counts), 0);
    CHECK_EQ(bw_logic_eval(bad4, 1, counts), 0);
    CHECK_EQ(bw_logic_eval(good, 3, counts), 1);
    CHECK_EQ(bw_logic_eval(good, 0, counts), 0);
}

int main(void)
{
    return t_run();
}
