/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the configuration machinery: the value layer (conf-value.c)
 * shared by the loader (conf.c) and the dump/doc printers (conf-dump.c). */
#ifndef BW_CORE_CONF_INT_H
#define BW_CORE_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/conf-t.h"
#include "core/vec.h"

/* One key in one copy of a module struct. */
typedef struct conf_slot {
    unsigned line;        /* first line that set it explicitly; 0: default/inherited */
    bool parsed;          /* the storage holds a parsed value to release */
    bool over;            /* set by the overlay file (line is a line of it) */
    BW_VEC(char *) raw;   /* the file texts parsed into it, in order (explicit only) */
} conf_slot_t;

/* One copy of a module struct: the base, or a group's. */
typedef struct conf_inst {
    char *group;          /* NULL for the base */
    unsigned char *data;  /* table->struct_size bytes */
    conf_slot_t *slots;   /* table->nkeys */
} conf_inst_t;

typedef struct conf_tstate {
    const bw_conf_table_t *t;
    conf_inst_t base;
    BW_VEC(conf_inst_t *) groups;
} conf_tstate_t;

/* A [section:GROUP] header as first seen. */
typedef struct conf_grec {
    const char *section;  /* the schema's spelling */
    char *group;
    unsigned line;
} conf_grec_t;

struct bw_conf_state {
    char *source;         /* file name for messages */
    char *overlay;        /* overlay file name (bw_conf_load_overlay) or NULL */
    char *dir;            /* absolute directory that resolves relative paths */
    const bw_conf_schema_t *schema;
    conf_tstate_t *tabs;  /* parallel to schema->tables */
    BW_VEC(conf_grec_t) grecs;
};

/* Bytes one value of the key's type takes (one list element for a
 * repeatable key). */
size_t bw_conf_elem_size(const bw_conf_key_t *k);
/* Bytes the key takes in the module struct. */
size_t bw_conf_slot_size(const bw_conf_key_t *k);
/* Parses `text` into one value at `dst` (zeroed, bw_conf_elem_size bytes),
 * checking bounds; `dir` (may be NULL) resolves relative paths. */
int bw_conf_value_parse(const bw_conf_key_t *k, const char *text, const char *dir, void *dst,
                        bw_err_t *err);
/* Releases what bw_conf_value_parse stored at `dst`. */
void bw_conf_value_free(const bw_conf_key_t *k, void *dst);
/* "bool", "size", ... */
const char *bw_conf_type_name(bw_conf_type_t t);
/* What a value must look like, e.g. "a size such as 400M, in 1K..2G". */
void bw_conf_expect(const bw_conf_key_t *k, char *buf, size_t len);
/* Case-insensitive edit distance, capped at 64 characters per side
 * (longer strings compare as far apart). */
int bw_conf_distance(const char *a, const char *b);

#endif
