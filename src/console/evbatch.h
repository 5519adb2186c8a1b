/* SPDX-License-Identifier: Apache-2.0 */
/* The event-batch validator: pure over (buf, len), no store, no sockets, so
 * the fuzzer (tests/fuzz/fuzz-console-batch.c) calls exactly what the
 * ingestion endpoint calls. */
#ifndef BW_CONSOLE_EVBATCH_H
#define BW_CONSOLE_EVBATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define BW_EVBATCH_MAX_EVENT (64u << 10) /* one event's JSON, bytes */

/* Result of a validation: BW_OK with *events (an array the caller
 * json_decref()s), or BW_ERR with err naming the event index and the field
 * ("events[3].time: not RFC 3339 UTC ...") and *too_big set when the batch
 * holds more than max_events (the endpoint answers 413 instead of 400). */
int bw_evbatch_validate(const char *buf, size_t len, size_t max_events, json_t **events,
                        int *too_big, bw_err_t *err);

/* The same, for the ingestion endpoint: each valid event gets "node" set to
 * node (when not NULL) and is serialised once; that text is what the 64 KiB
 * limit measures and what is stored: (*texts)[i] for events[i], freed with
 * bw_evbatch_texts_free(*texts, n).  Nothing is handed back on BW_ERR. */
int bw_evbatch_prepare(const char *buf, size_t len, size_t max_events, const char *node,
                       json_t **events, char ***texts, int *too_big, bw_err_t *err);
void bw_evbatch_texts_free(char **texts, size_t n);

/* "2026-12-08T02:16:18.123456Z" (or a +HH:MM offset) -> microseconds since the
 * epoch.  BW_ERR when malformed. */
int bw_evbatch_parse_time(const char *s, int64_t *us);
/* info..critical -> 1..5; 0 when unknown. */
int bw_evbatch_severity(const char *s);

#endif
