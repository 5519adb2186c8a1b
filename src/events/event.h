/* SPDX-License-Identifier: Apache-2.0 */
/* Events: one structured record per thing that happened on the node
 * (a detection, a quarantined object, an update, a reload), the same model
 * for every component; docs/events.md lists every type and field.
 *
 * A producer builds a jansson object with bw_event_new() (id, time, node,
 * component, type, severity filled in), adds its type's fields and hands it
 * to bw_event_emit(), which serialises it to one line and appends it to the
 * process's spool writer, set up once by the daemon (bw_event_setup) like
 * bw_log's sink.  Emitting never fails the caller and never blocks it for
 * long (one write() to a local file): a failure is counted
 * (bw_event_failures) and logged, rate-limited.  Without a set-up (events
 * off, the CLI, unit tests) bw_event_enabled() is false and emit only frees.
 *
 * Thread-safe after set-up: the workers' scan threads and loop emit at once. */
#ifndef BW_EVENTS_EVENT_H
#define BW_EVENTS_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "events/events-conf.h"

typedef enum bw_event_severity {
    BW_SEV_INFO = 1,
    BW_SEV_LOW,
    BW_SEV_MEDIUM,
    BW_SEV_HIGH,
    BW_SEV_CRITICAL,
} bw_event_severity_t;

/* "info" ... "critical". */
const char *bw_event_severity_name(bw_event_severity_t s);

/* ---- process set-up (the daemon) ----------------------------------------- */
/* Opens this process's spool writer from [events] (nothing when Enable = no)
 * and remembers NodeName and Clean.  Replaces an earlier set-up. */
int bw_event_setup(const bw_events_conf_t *conf, bw_err_t *err);
/* Flushes, seals this process's segment and stops emitting. */
void bw_event_shutdown(void);
/* In a child right after fork(): drops the parent's writer without touching
 * its segment (call bw_event_setup afterwards to emit from the child). */
void bw_event_forget(void);
/* Only the node name (a program that emits nothing, or tests). */
void bw_event_set_node(const char *node);

/* Whether emit writes anywhere: producers skip building events when not. */
bool bw_event_enabled(void);
/* Whether [events] Clean = yes (a scan event per clean object). */
bool bw_event_clean_enabled(void);
/* Events that could not be written since set-up. */
uint64_t bw_event_failures(void);
/* Events written since set-up. */
uint64_t bw_event_emitted(void);

/* ---- building ----------------------------------------------------------- */
/* A new event object with id, time, node, component, type and severity;
 * NULL only when out of memory. */
json_t *bw_event_new(const char *component, const char *type, bw_event_severity_t sev);
/* Sets key to the string s (NULL or empty: left out).  Invalid UTF-8 is
 * replaced by U+FFFD (jansson refuses it), so a hostile URL still arrives. */
void bw_event_set_str(json_t *obj, const char *key, const char *s);
void bw_event_set_int(json_t *obj, const char *key, int64_t v);
/* The sub-object key of ev ("object", "client", "db", ...), made when missing. */
json_t *bw_event_sub(json_t *ev, const char *key);
/* Appends s to the array key ("threats"), made when missing. */
void bw_event_add_str(json_t *ev, const char *key, const char *s);

/* Writes ev (steals the reference; NULL is fine) to the process's spool. */
void bw_event_emit(json_t *ev);

/* ---- the line builder: the same JSON without a jansson tree ------------------
 * For the producers on the scan path (the ICAP `scan` and `detection`
 * events): the line is formatted straight into a buffer on the caller's
 * stack, members in the order they are added, strings escaped exactly as
 * jansson's JSON_COMPACT dump escapes them (a string with a byte >= 0x80 goes
 * through jansson itself, so invalid UTF-8 becomes U+FFFD as with
 * bw_event_set_str).  The result is byte for byte what bw_event_new + the
 * setters + json_dumps would give (tests/unit/test-events-line.c checks it).
 * Keys must be plain ASCII literals.  A line over the stack buffer moves to
 * the heap; out of memory drops the event and counts it as a failure. */
typedef struct bw_evline {
    char *p;          /* stack or heap */
    size_t len, cap;
    bool comma;       /* a member or element was written at this level */
    bool oom;
    char stack[2048];
} bw_evline_t;

/* Starts l with id, time, node, component, type and severity. */
void bw_evline_begin(bw_evline_t *l, const char *component, const char *type,
                     bw_event_severity_t sev);
/* As bw_event_set_str / set_int: a NULL or empty s is left out. */
void bw_evline_str(bw_evline_t *l, const char *key, const char *s);
void bw_evline_int(bw_evline_t *l, const char *key, int64_t v);
/* A sub-object or an array member, closed by bw_evline_end ('}' or ']'). */
void bw_evline_obj(bw_evline_t *l, const char *key);
void bw_evline_arr(bw_evline_t *l, const char *key);
/* An array element (as bw_event_add_str: an empty s is kept, NULL left out). */
void bw_evline_elem(bw_evline_t *l, const char *s);
void bw_evline_end(bw_evline_t *l, char close);
/* Closes the top object and returns the line (no newline; NULL when out of
 * memory); valid until bw_evline_free. */
const char *bw_evline_text(bw_evline_t *l, size_t *len);
void bw_evline_free(bw_evline_t *l);
/* Closes, writes to the process's spool as bw_event_emit does, and frees. */
void bw_evline_emit(bw_evline_t *l);

/* The id and time of a new event, for producers that do not use jansson
 * (and tests): id 33 bytes, time 28 bytes ("2026-12-08T02:16:18.123456Z"). */
void bw_event_make_id(char id[33]);
void bw_event_make_time(char out[28]);

#endif
