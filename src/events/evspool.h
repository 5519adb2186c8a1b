/* SPDX-License-Identifier: Apache-2.0 */
/* The node's durable event spool: a directory of append-only JSON-lines
 * segment files, written by every process of the daemon and read by named
 * cursors (the console forwarder, the syslog and file outputs).
 *
 * Writer.  One per process.  It appends each event as one whole line with one
 * write() to its own segment <dir>/seg-<pid>-<n>.jsonl (n: the segment's
 * creation time in microseconds, so names sort by age across processes and a
 * reused pid never names an old file), O_APPEND, so a crash can only leave a
 * torn LAST line, which readers skip and count.  A segment is rolled at
 * SegmentSize; a rolled or cleanly closed segment is sealed (mode 0440); the
 * writer holds flock(LOCK_SH) on its open segment, so a reader knows a
 * segment whose lock it can take belongs to a dead writer.  When the spool
 * exceeds max_bytes, the oldest sealed (or dead) segments are deleted, the
 * events in them that some cursor had not yet passed are added to the durable
 * counter <dir>/dropped, and an `events.dropped` event is appended: a drop is
 * never silent.
 *
 * Durability.  append() returns once the line is in the kernel (a process
 * crash, even SIGKILL, loses nothing); bw_evspool_writer_set_sync() makes the
 * writer fdatasync at most every interval_ms (0: after every line), so a power
 * loss loses at most that interval's events.  See docs/events.md.
 *
 * Reader.  A named cursor ("console", "syslog", "file", ...) persisted in
 * <dir>/cursor-<name>: for every segment it has read from, the byte offset
 * acknowledged.  read() returns whole, valid JSON-object lines past the cursor,
 * oldest segment first; ack() persists the cursor (temp + fsync + rename), so
 * after a crash of the reader the unacknowledged batch is read again
 * (at-least-once; the consumers deduplicate by event id).  Invalid lines
 * (not JSON, not an object, longer than BW_EVSPOOL_MAX_LINE, NUL bytes, a torn
 * tail of a dead segment) are skipped, counted and logged (rate-limited). */
#ifndef BW_EVENTS_EVSPOOL_H
#define BW_EVENTS_EVSPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* The longest event line accepted (the console's limit on one event). */
#define BW_EVSPOOL_MAX_LINE (64u * 1024u)
/* A batch spans at most this many segments (read() stops there). */
#define BW_EVSPOOL_MARK_SEGS 32

typedef struct bw_evspool_writer bw_evspool_writer_t;
typedef struct bw_evspool_reader bw_evspool_reader_t;

/* Where a batch ends: for each segment it touched, the offset after its last
 * line.  Plain data: copy it, keep it on the stack. */
typedef struct bw_evspool_mark {
    size_t nseg;
    struct {
        uint64_t pid, n; /* the segment seg-<pid>-<n>.jsonl */
        uint64_t off;    /* offset after the batch's last line (or skipped bytes) */
    } seg[BW_EVSPOOL_MARK_SEGS];
    uint64_t events; /* events in the batch */
} bw_evspool_mark_t;

/* ---- writer --------------------------------------------------------------- */
/* Creates dir when missing (mode 0750).  max_bytes 0: unbounded. */
int bw_evspool_writer_open(const char *dir, uint64_t max_bytes, bw_evspool_writer_t **out,
                           bw_err_t *err);
/* Segment size (default 16 MiB; clamped to max_bytes/4 so that dropping
 * works in steps).  Call right after open. */
void bw_evspool_writer_set_segment_size(bw_evspool_writer_t *w, uint64_t bytes);
/* fdatasync at most every interval_ms (0: after every append; default:
 * never, the kernel's write-back).  Call right after open. */
void bw_evspool_writer_set_sync(bw_evspool_writer_t *w, uint64_t interval_ms);
/* json: one event, without the newline (it is added); must not contain a
 * newline; at most BW_EVSPOOL_MAX_LINE bytes.  Thread-safe. */
int bw_evspool_append(bw_evspool_writer_t *w, const char *json, size_t len, bw_err_t *err);
/* Syncs, seals the segment, frees.  NULL is fine. */
void bw_evspool_writer_close(bw_evspool_writer_t *w);
/* In a forked child: frees the parent's writer WITHOUT sealing or syncing its
 * segment (the parent still writes it).  NULL is fine. */
void bw_evspool_writer_forget(bw_evspool_writer_t *w);

/* ---- reader --------------------------------------------------------------- */
/* cursor: [A-Za-z0-9_-]{1,64}. */
int bw_evspool_reader_open(const char *dir, const char *cursor, bw_evspool_reader_t **out,
                           bw_err_t *err);
/* Up to max_events / max_bytes (at least one event when any is there) of not
 * yet acknowledged events, oldest segment first, as a JSON array text in out
 * (replaced: "[{...},{...}]"); *n the count (0: nothing new); mark remembers
 * where the batch ends.  Returns 0, or -1 with err (an I/O error). */
int bw_evspool_read(bw_evspool_reader_t *r, size_t max_events, size_t max_bytes, bw_buf_t *out,
                    size_t *n, bw_evspool_mark_t *mark, bw_err_t *err);
/* Durably advances the cursor to mark (write temp + fsync + rename); segments
 * every cursor has passed, whose writer has moved on or died, are deleted. */
int bw_evspool_ack(bw_evspool_reader_t *r, const bw_evspool_mark_t *mark, bw_err_t *err);
/* Events not yet acknowledged by this cursor (counts the lines; cheap enough
 * for a heartbeat every few seconds). */
uint64_t bw_evspool_backlog(bw_evspool_reader_t *r);
/* Invalid lines this reader skipped since it was opened. */
uint64_t bw_evspool_skipped(const bw_evspool_reader_t *r);
void bw_evspool_reader_close(bw_evspool_reader_t *r);

/* Events dropped (MaxSpoolSize) since the spool was made: <dir>/dropped. */
uint64_t bw_evspool_dropped(const char *dir);

#endif
