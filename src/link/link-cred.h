/* SPDX-License-Identifier: Apache-2.0 */
/* Enrolment and the node's credential (link-cred.c). */
#ifndef BW_LINK_CRED_H
#define BW_LINK_CRED_H

#include "core/err.h"

typedef struct bw_link_cred {
    char url[2048];         /* the console it was issued by */
    char node_id[128];
    char name[256];
    char group[128];
    char credential[512];   /* the bearer secret */
} bw_link_cred_t;

/* Reads CredentialFile.  BW_DECLINED when it does not exist (not enrolled);
 * BW_ERR with "path: what" when it is unreadable, malformed, or readable by
 * others (the credential is a secret: mode 0600 is required). */
int bw_link_cred_load(const char *path, bw_link_cred_t *c, bw_err_t *err);
/* Writes it atomically (temporary file, fsync, rename), mode 0600. */
int bw_link_cred_save(const char *path, const bw_link_cred_t *c, bw_err_t *err);
/* POST /api/v1/enroll with the one-time token; on 201 fills *c (url, name,
 * node_id, group, credential) and saves it at `path`.  A refused token is
 * BW_ERR with the console's error ("HTTP 401: ..."). */
int bw_link_enroll(const char *url, const char *ca_file, const char *token, const char *name,
                   const char *group, const char *path, bw_link_cred_t *c, bw_err_t *err);

#endif
