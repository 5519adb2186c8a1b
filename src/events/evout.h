/* SPDX-License-Identifier: Apache-2.0 */
/* The extra event outputs for SIEMs: syslog (RFC 5424 over UDP, TCP with
 * octet-counting framing (RFC 6587) or TLS (RFC 5425)), CEF lines (to a file,
 * or as the message of syslog with SyslogFormat = cef) and JSON lines to a
 * file.  Each output is a reader of the node's spool with its own cursor
 * ("syslog", "cef", "json"), so a SIEM that is down loses nothing the spool
 * still holds and each output acknowledges only what it delivered.
 *
 * The shipper process (src/daemon/shipper.c) opens them from [events] and
 * calls bw_evout_pump() in its loop.  Sending blocks for at most a few
 * seconds (connect and send timeouts): the shipper is its own process. */
#ifndef BW_EVENTS_EVOUT_H
#define BW_EVENTS_EVOUT_H

#include <stdint.h>

#include "core/err.h"
#include "events/events-conf.h"

typedef struct bw_evout bw_evout_t;

/* Opens every output [events] configures, reading conf->spool_dir.  *out is
 * NULL when none is configured (pump and close accept NULL).  Connecting
 * happens in pump, so a SIEM that is down does not fail the open. */
int bw_evout_open(const bw_events_conf_t *conf, bw_evout_t **out, bw_err_t *err);
/* Sends what is new to each output (at most a few batches per call) and acks
 * what was delivered; an output that fails is retried after a back-off
 * (1 s doubling to 60 s) and logged, rate-limited.  now_ms: a monotonic clock.
 * Returns how many milliseconds the caller may wait before calling again
 * (0: more is pending now). */
uint64_t bw_evout_pump(bw_evout_t *o, uint64_t now_ms);
/* Events not yet delivered by the slowest output (for the heartbeat). */
uint64_t bw_evout_backlog(bw_evout_t *o);
void bw_evout_close(bw_evout_t *o);

/* ---- formatting, exposed for the tests ------------------------------------ */
#include "core/buf.h"
#include <jansson.h>
/* Appends the CEF:0 line of ev (no newline) to b. */
void bw_evout_format_cef(bw_buf_t *b, const json_t *ev);
/* Appends the RFC 5424 message of ev (no framing) to b: <PRI>1 TIME HOST
 * bulwarkd - TYPE [bulwark@32473 ...] MSG, MSG being the event's JSON
 * (fmt BW_EVOUT_FMT_RFC5424) or its CEF line (BW_EVOUT_FMT_CEF). */
void bw_evout_format_5424(bw_buf_t *b, const json_t *ev, int facility, int fmt);

#endif
