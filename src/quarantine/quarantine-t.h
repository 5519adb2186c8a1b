/* SPDX-License-Identifier: Apache-2.0 */
/* Quarantine types: the [quarantine] settings, the metadata record that sits
 * beside each stored object, and the limits of its fields.
 *
 * The record is a fixed-size struct (no pointers) so that its parser never
 * allocates and a record can be copied into a thread-pool job by value.
 */
#ifndef BW_QUARANTINE_T_H
#define BW_QUARANTINE_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* An id is the SHA-256 of the original content, 64 lowercase hex digits.
 * Commands accept a unique prefix of at least this many digits. */
#define BW_QUAR_ID_LEN 64
#define BW_QUAR_MIN_PREFIX 8

/* Field limits: a longer value is cut by the writer and refused by the
 * parser, so whatever the parser accepts fits the struct. */
#define BW_QUAR_MAX_ORIGIN 4096
#define BW_QUAR_MAX_THREATS 32
#define BW_QUAR_MAX_THREAT 255
#define BW_QUAR_MAX_SHORT 127   /* client, user, group, method */
#define BW_QUAR_MAX_STATUS 31
/* A record file larger than this is refused (the largest valid one is
 * about 13 KiB). */
#define BW_QUAR_MAX_RECORD 65536

/* The [quarantine] section (quarantine-conf.c). */
typedef struct bw_quar_conf {
    char *dir;              /* QuarantineDir */
    uint64_t max_total;     /* MaxQuarantineSize: bytes of all stored objects (0: no limit) */
    uint64_t max_object;    /* MaxObjectSize: bytes stored per object; more is cut (0: no limit) */
} bw_quar_conf_t;

/* One metadata record (`<id>.meta`, format in quarantine-meta.c). */
typedef struct bw_quar_meta {
    char sha256[BW_QUAR_ID_LEN + 1];  /* of the stored content: the id */
    uint64_t size;                    /* bytes stored */
    bool partial;                     /* the stored bytes are not the whole object */
    time_t time;                      /* when it was quarantined (UTC) */
    char status[BW_QUAR_MAX_STATUS + 1];         /* verdict status: "INFECTED" */
    size_t nthreats;
    char threats[BW_QUAR_MAX_THREATS][BW_QUAR_MAX_THREAT + 1];
    char origin[BW_QUAR_MAX_ORIGIN + 1];         /* URL or path */
    char client[BW_QUAR_MAX_SHORT + 1];          /* client address ("" unknown) */
    char user[BW_QUAR_MAX_SHORT + 1];
    char group[BW_QUAR_MAX_SHORT + 1];           /* policy group */
    char method[BW_QUAR_MAX_SHORT + 1];          /* RESPMOD, REQMOD, scan, ... */
} bw_quar_meta_t;

/* An open quarantine directory (quarantine.c). */
typedef struct bw_quar_store bw_quar_store_t;

/* Pulls the content to store: up to len bytes into buf; returns the count,
 * 0 at the end, -1 on error (errno set). */
typedef long (*bw_quar_read_fn)(void *ctx, void *buf, size_t len);

#endif
