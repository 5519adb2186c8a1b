/* SPDX-License-Identifier: Apache-2.0 */
/* .ldb logical expressions: `0&1`, `(0|1)&2`, `0=2`, `0>2`, `0<3`, `(0|1|2)>1,2`.
 *
 * Compiled to a postfix program of bw_logic_op_t so evaluation is a loop over a
 * small stack.  Each value on the stack is a pair (count of matches, count of
 * distinct subsignatures matched): `|` adds both, `&` is true when both sides
 * are true, `=x`, `>x`, `<x` compare the match count and `,y` compares the
 * distinct count (ClamAV semantics).
 */
#ifndef BW_ENGINE_LDB_LOGIC_H
#define BW_ENGINE_LDB_LOGIC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "sigdb-t.h"

enum bw_logic_opcode {
    BW_LOP_PUSH = 1, /* push (counts[subsig], counts[subsig] ? 1 : 0) */
    BW_LOP_AND,
    BW_LOP_OR,
    BW_LOP_EQ,       /* x, y */
    BW_LOP_GT,
    BW_LOP_LT,
    /* Added by the ldb-logic implementation: a subsig with its own modifier
     * (`N=X`, `N>X`, `N<X`).  Pushes (counts[subsig] compared with x, the
     * count, {subsig}); y is ignored as ClamAV ignores it on a single subsig.
     * Unlike PUSH + EQ, the subsig stays in the distinct set (ClamAV). */
    BW_LOP_SUBEQ,
    BW_LOP_SUBGT,
    BW_LOP_SUBLT,
};

#define BW_LOGIC_DEPTH_MAX 64  /* parenthesis nesting accepted by the compiler */
#define BW_LOGIC_STACK_MAX 256 /* evaluation stack; deeper programs are refused */

/* Appends the program to db->logic; sets *first and *count.  nsubsigs is how many
 * subsignatures the line has: a reference past it is an error.  Errors say
 * "byte N of the logical expression: what". */
int bw_logic_compile(bw_sigdb_t *db, const char *expr, size_t len, unsigned nsubsigs,
                     uint32_t *first, uint32_t *count, bw_err_t *err);

/* counts[i]: how many times subsignature i matched. Returns 1 if true. */
int bw_logic_eval(const bw_logic_op_t *prog, uint32_t n, const uint32_t *counts);

#endif
