/* SPDX-License-Identifier: Apache-2.0 */
/* Loading bulwark.conf against the modules' key tables (conf-t.h).
 *
 * A load builds a new, self-contained bw_conf_state_t (its own copies of
 * every string) and validates it completely; it never touches a state loaded
 * before.  A reload therefore loads the new file and, only on success, swaps
 * the pointer the program reads (nginx): a bad file leaves the running
 * configuration as it was and says "file:line: Key: what is wrong".
 *
 *   static const bw_conf_table_t *const tables[] = { &net_table, &policy_table };
 *   static const bw_conf_schema_t schema = { tables, 2 };
 *   bw_conf_state_t *st; bw_err_t err;
 *   if (bw_conf_load(&schema, "bulwark.conf", &st, &err)) die(err.msg);
 *   const struct net_conf *nc = bw_conf_get(st, &net_table, NULL);
 *   const struct policy_conf *pc = bw_conf_get(st, &policy_table, "kids");
 *
 * Syntax (libinih with fixed options; docs/configuration.md):
 *   [section] and [section:GROUP] headers, `Key = value` (or `Key: value`)
 *   lines, ';' and '#' comment lines, and inline comments that start with ';'
 *   or '#' after whitespace.  Section and key names match case-insensitively.
 */
#ifndef BW_CORE_CONF_H
#define BW_CORE_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/conf-t.h"

/* Sanity-checks the tables (unique section/key pairs, offsets inside the
 * struct, enum words and custom hooks present).  bw_conf_load runs it too.
 * BW_OK or BW_ERR with "table NAME: [section] Key: what". */
int bw_conf_schema_check(const bw_conf_schema_t *schema, bw_err_t *err);

/* Loads the file at `path` (at most BW_CONF_MAX_FILE bytes).  On success
 * *out is a new state owned by the caller (bw_conf_free); on failure *out is
 * untouched, nothing leaks, and err says "path:line: ..." (or "path: ..." for
 * errors without a line). */
int bw_conf_load(const bw_conf_schema_t *schema, const char *path, bw_conf_state_t **out,
                 bw_err_t *err);
/* The same over text in memory (`len` bytes, NULs are rejected as errors);
 * `name` stands for the file name in messages, and its directory resolves
 * relative paths. */
int bw_conf_load_buf(const bw_conf_schema_t *schema, const char *name, const char *text,
                     size_t len, bw_conf_state_t **out, bw_err_t *err);
/* Loads `path`, then the overlay file `overlay` (NULL: none, as
 * bw_conf_load) over it: every key the overlay sets replaces the base file's
 * value for that key (a repeatable key's whole list), in the base sections
 * or a group's; keys it does not set keep the base's.  Both files are
 * checked as one configuration; an error in the overlay names the overlay
 * file and its line.  Relative paths resolve against the base's directory.
 * (This is how a console policy, a bulwark.conf fragment, is applied over
 * bulwark.conf: docs/console-nodes.md.) */
int bw_conf_load_overlay(const bw_conf_schema_t *schema, const char *path, const char *overlay,
                         bw_conf_state_t **out, bw_err_t *err);
int bw_conf_load_buf_overlay(const bw_conf_schema_t *schema, const char *name, const char *text,
                             size_t len, const char *oname, const char *otext, size_t olen,
                             bw_conf_state_t **out, bw_err_t *err);
void bw_conf_free(bw_conf_state_t *st);

/* The module struct of `table` as loaded: for `group` NULL (or a group the
 * file never named for this table) the base sections' values; otherwise the
 * group's copy, in which every key the group did not set holds the base
 * value.  NULL only if the table is not in the state's schema. */
const void *bw_conf_get(const bw_conf_state_t *st, const bw_conf_table_t *table,
                        const char *group);
/* Whether `key` (by name) was set explicitly in the file, in the base
 * sections (group NULL) or in the group's own sections. */
bool bw_conf_is_set(const bw_conf_state_t *st, const bw_conf_table_t *table, const char *group,
                    const char *key);
/* The line that set it first (0: not set). */
unsigned bw_conf_line(const bw_conf_state_t *st, const bw_conf_table_t *table, const char *group,
                      const char *key);
/* The groups that have their own copy for `table`, in order of first
 * appearance in the file.  Names live as long as the state. */
size_t bw_conf_group_count(const bw_conf_state_t *st, const bw_conf_table_t *table);
const char *bw_conf_group_name(const bw_conf_state_t *st, const bw_conf_table_t *table, size_t i);
/* Whether `[section:group]` appeared in the file; *line gets its line. */
bool bw_conf_has_group(const bw_conf_state_t *st, const char *section, const char *group,
                       unsigned *line);
/* The file name the state was loaded from. */
const char *bw_conf_source(const bw_conf_state_t *st);
/* The overlay file's name, or NULL when loaded without one. */
const char *bw_conf_overlay(const bw_conf_state_t *st);

/* Prints the effective configuration as a loadable INI file: every key of
 * every base section with its value, then each group section with the keys
 * the group sets. */
int bw_conf_dump(const bw_conf_schema_t *schema, const bw_conf_state_t *st, FILE *f);
/* Prints Markdown reference documentation for every key of the schema. */
int bw_conf_doc(const bw_conf_schema_t *schema, FILE *f);

/* The value parsers, also for command-line options.  Each returns BW_OK or
 * BW_ERR with "what is wrong (expected ...)" in err. */
int bw_conf_parse_bool(const char *s, bool *out, bw_err_t *err);
int bw_conf_parse_int(const char *s, int64_t *out, bw_err_t *err);
int bw_conf_parse_uint(const char *s, uint64_t *out, bw_err_t *err);
int bw_conf_parse_size(const char *s, uint64_t *bytes, bw_err_t *err);
int bw_conf_parse_duration(const char *s, uint64_t *ms, bw_err_t *err);

#endif
