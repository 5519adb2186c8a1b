/* SPDX-License-Identifier: Apache-2.0 */
/* The node's link to bulwark-console (docs/console-nodes.md): enrolment,
 * the forwarder of the events spool, the heartbeat, tasks and policies.
 * The shipper process (src/daemon/shipper.c) owns one and calls
 * bw_link_step() in its loop; nothing here blocks longer than one HTTP
 * request (bounded) or one task. */
#ifndef BW_LINK_H
#define BW_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "link/link-conf.h"

typedef struct bw_link bw_link_t;

/* What the link needs from the process that runs it. */
typedef struct bw_link_env {
    const char *conf_path;     /* bulwark.conf: policies are validated over it */
    const char *spool_dir;     /* [events] SpoolDirectory */
    const char *node_name;     /* [events] NodeName */
    const char *quarantine_dir;/* [quarantine] QuarantineDir ("" = none) */
    const char *bulwark_path;  /* the `bulwark` program, for the update task */
    bool clamd;                /* the clamd protocol is on (for the heartbeat's components) */
    /* Asks the supervisor for "reload" / "reload-bases"; 1 OK, 0 refused
     * (*text: why), -1 unreachable (err).  *text is malloc'd or NULL. */
    int (*ctl)(void *ud, const char *command, char **text, bw_err_t *err);
    void *ctl_ud;
    /* Emits an event (a JSON object text without id/time/node: the events
     * module adds them).  May be NULL. */
    void (*emit)(void *ud, const char *type, const char *severity, const char *json_fields);
    void *emit_ud;
} bw_link_env_t;

/* Opens the spool reader (cursor "console") and reads the credential.  Not
 * being enrolled yet is not an error: the link enrols with EnrollToken, or
 * waits for `bulwark console enroll`. */
int bw_link_open(const bw_link_conf_t *lc, const bw_link_env_t *env, bw_link_t **out,
                 bw_err_t *err);
/* Does what is due now: enrol, forward, heartbeat, tasks, policy.  Returns
 * the milliseconds until it wants to run again (0: more is waiting). */
uint64_t bw_link_step(bw_link_t *l);
void bw_link_close(bw_link_t *l);

/* The policy checks alone (link-policy.c), also for tests: the sections a
 * policy may set, then the whole of bulwark.conf with the policy over it
 * against the one schema.  BW_ERR with "policy:LINE: ..." in err. */
int bw_link_policy_check(const char *conf_path, const char *policy, bw_err_t *err);
/* The allow-list alone over a policy text (`name` for messages): bulwarkd
 * runs it on PolicyFile before loading it over bulwark.conf. */
int bw_link_policy_allowed(const char *name, const char *text, size_t len, bw_err_t *err);
int bw_link_policy_file_allowed(const char *path, bw_err_t *err);

#endif
