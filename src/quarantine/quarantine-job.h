/* SPDX-License-Identifier: Apache-2.0 */
/* Quarantining from the daemon: the store runs on libuv's thread pool, one
 * object at a time per worker, so a slow disk never holds the event loop
 * and never takes more than one of the pool's threads from the scans.
 *
 *   bw_quar_event_t ev = {.origin = url, .client = ip, .verdict = &v, ...};
 *   bw_quar_submit(loop, qc, &ev, &spool, &err);   // takes the spool's bytes
 *
 * Call on the loop's thread only (a bulwarkd worker has one loop).  Pending
 * jobs keep the loop alive, so a draining worker finishes them before it
 * exits.  Outcomes are logged to stderr ("bulwarkd: quarantine: ...").
 */
#ifndef BW_QUARANTINE_JOB_H
#define BW_QUARANTINE_JOB_H

#include <stdbool.h>
#include <uv.h>

#include "bulwark/bulwark.h"
#include "core/err.h"
#include "core/spool.h"
#include "quarantine/quarantine-t.h"

/* At most this many objects wait per worker, holding at most this many
 * bytes of memory between them (a spool that went to a temporary file
 * holds only its descriptor); past either bound an object is not stored. */
#define BW_QUAR_MAX_QUEUED 64
#define BW_QUAR_MAX_QUEUED_MEM (64u << 20)

/* What the daemon knows about an object it quarantines (strings may be
 * NULL or ""; they are copied). */
typedef struct bw_quar_event {
    const char *origin, *client, *user, *group, *method;
    const bw_verdict_t *verdict;
    bool partial; /* the bytes handed over are not the whole object */
} bw_quar_event_t;

/* Queues `content` for the store described by qc (copied).  The spool is
 * taken over: *content is left empty (re-initialised), so its owner may
 * free it as usual.  BW_OK when queued; BW_ERR with the reason when not
 * (the content is then dropped too). */
int bw_quar_submit(uv_loop_t *loop, const bw_quar_conf_t *qc, const bw_quar_event_t *ev,
                   bw_spool_t *content, bw_err_t *err);

/* Jobs queued or running in this process (for tests and stats). */
size_t bw_quar_pending(void);

#endif
