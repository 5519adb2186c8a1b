/* SPDX-License-Identifier: Apache-2.0 */
/* Configuration key tables: the types a module uses to declare its keys.
 *
 * Every module that reads bulwark.conf describes its keys in one static table
 * (nginx directive tables, Redis standardConfig): one row per key, giving the
 * section, the key, its type, its default, its bounds and where the parsed
 * value lives inside the module's own config struct (offsetof).  The core
 * machinery (conf.h) reads the INI file, finds each key's row, parses the
 * value with the one parser for its type and stores it.  Defaults are strings
 * parsed by that same parser, so a table cannot hold a default that a file
 * could not; a unit test loads an empty file against every table.
 *
 * Storage per type (the field at `offset` in the module struct):
 *   BW_CONF_BOOL      bool
 *   BW_CONF_INT       int64_t
 *   BW_CONF_UINT      uint64_t
 *   BW_CONF_SIZE      uint64_t, bytes       ("400M"; K/M/G/T are binary multiples)
 *   BW_CONF_DURATION  uint64_t, milliseconds ("500ms", "30s", "5m", "1h"; a plain
 *                                             number is seconds)
 *   BW_CONF_STRING    char *  (owned by the loaded state; NULL when the default is NULL)
 *   BW_CONF_PATH      char *  (a relative path is resolved against the directory of
 *                              the configuration file; "" stays "", meaning unset)
 *   BW_CONF_ENUM      int     (the value of the matching word in `words`)
 *   BW_CONF_CUSTOM    `size` bytes, filled by the row's `parse` hook
 * A BW_CONF_REPEATABLE key stores a bw_conf_list_t instead: `n` elements of the
 * type's storage, followed by one zeroed element (so a string list is also a
 * NULL-terminated char * array).
 */
#ifndef BW_CORE_CONF_T_H
#define BW_CORE_CONF_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum bw_conf_type {
    BW_CONF_BOOL = 1,
    BW_CONF_INT,
    BW_CONF_UINT,
    BW_CONF_SIZE,
    BW_CONF_DURATION,
    BW_CONF_STRING,
    BW_CONF_PATH,
    BW_CONF_ENUM,
    BW_CONF_CUSTOM,
} bw_conf_type_t;

enum {
    /* The key may be given several times; values accumulate in a list.  The
     * first occurrence in a section replaces the default list. */
    BW_CONF_REPEATABLE = 1u << 0,
    /* The key may also appear in `[section:GROUP]` copies of its section;
     * a group that does not set it inherits the base section's value. */
    BW_CONF_GROUPABLE = 1u << 1,
    /* A secret (a password): dumps show "(hidden)" instead of the value. */
    BW_CONF_SECRET = 1u << 2,
};

/* One word of an enum key; a table of these ends with { NULL, 0 }. */
typedef struct bw_conf_enum {
    const char *name;
    int value;
} bw_conf_enum_t;

/* A repeatable key's storage. */
typedef struct bw_conf_list {
    size_t n;
    void *items; /* n elements + 1 zeroed element; NULL when n == 0 */
} bw_conf_list_t;

#define BW_CONF_LIST_AT(list, T, i) (((T *)(list)->items)[i])

struct bw_conf_key;

/* A custom value parser: parses `value` into `dst` (key->size zeroed bytes).
 * On failure writes "what is wrong (expected ...)" to err and returns BW_ERR;
 * the loader adds "file:line: Key: ".  It must be a pure function of its
 * inputs: a group that inherits a value gets it by parsing the same text again. */
typedef int (*bw_conf_parse_fn)(const struct bw_conf_key *key, const char *value, void *dst,
                                bw_err_t *err);
/* Releases what a successful parse put into `dst` (not dst itself). */
typedef void (*bw_conf_free_fn)(const struct bw_conf_key *key, void *dst);

typedef struct bw_conf_key {
    const char *section;  /* "icapserver.network" (matched case-insensitively) */
    const char *name;     /* "ListenAddress" (matched case-insensitively) */
    bw_conf_type_t type;
    unsigned flags;       /* BW_CONF_REPEATABLE | BW_CONF_GROUPABLE | BW_CONF_SECRET */
    /* The default, as file text.  NULL: the zero value (false, 0, NULL string,
     * empty list).  A repeatable key's default may hold several values
     * separated by '\n'. */
    const char *def;
    /* Bounds, inclusive, in the stored unit (bytes, milliseconds); for
     * STRING/PATH they bound the length.  min == max == 0: unbounded.
     * UINT/SIZE/DURATION read them as unsigned (both must be >= 0). */
    int64_t min, max;
    size_t offset;                 /* offsetof(module_struct, field) */
    const bw_conf_enum_t *words;   /* BW_CONF_ENUM */
    bw_conf_parse_fn parse;        /* BW_CONF_CUSTOM */
    bw_conf_free_fn free;          /* BW_CONF_CUSTOM, optional */
    size_t size;                   /* BW_CONF_CUSTOM: bytes of storage per value */
    const void *arg;               /* BW_CONF_CUSTOM: anything the hook wants */
    const char *doc;               /* one line, for bw_conf_doc() */
} bw_conf_key_t;

/* All the keys of one module, stored in one struct of `struct_size` bytes. */
typedef struct bw_conf_table {
    const char *name;              /* module name, used in messages and docs */
    size_t struct_size;
    const bw_conf_key_t *keys;
    size_t nkeys;
    /* If set: a `[section:G]` of this table's sections is an error unless
     * `[groups_from:G]` also appears in the file (the section that defines
     * groups, e.g. "icapserver.groups"). */
    const char *groups_from;
    /* Optional cross-key check, called once per loaded copy of the struct
     * (group NULL for the base).  Writes "what is wrong" to err. */
    int (*check)(const void *conf, const char *group, bw_err_t *err);
} bw_conf_table_t;

#define BW_CONF_NKEYS(arr) (sizeof(arr) / sizeof((arr)[0]))

/* The set of tables a program reads: static, built by the composition root. */
typedef struct bw_conf_schema {
    const bw_conf_table_t *const *tables;
    size_t ntables;
} bw_conf_schema_t;

/* A loaded configuration: self-contained and immutable; see conf.h. */
typedef struct bw_conf_state bw_conf_state_t;

/* Longest accepted line, in bytes, without its line ending. */
#define BW_CONF_MAX_LINE 8192
/* Largest accepted configuration file. */
#define BW_CONF_MAX_FILE (16u << 20)
/* Longest group name (the GROUP in [section:GROUP]). */
#define BW_CONF_MAX_GROUP 64

#endif
