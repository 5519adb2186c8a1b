/* SPDX-License-Identifier: Apache-2.0 */
/* The event model and the process's emitter (event.h).
 *
 * Emitting is on the scan path of every worker, so it is kept to: a small
 * jansson object dumped compact into a stack buffer (or, for the ICAP events
 * made per object, a line formatted directly: evline.c), one writev() under
 * this process's mutex.  No fsync here (a sync thread does it, SyncInterval), no network,
 * nothing that can wait on another process.  A failure (disk full, the spool
 * directory gone) is counted and logged at most once per 10 s, and the
 * request goes on: events must never cost a scan. */
#include "events/event.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bulwark/core.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/ratelog.h"
#include "events/event-int.h"
#include "events/evspool-int.h"
#include "events/evspool.h"

static bw_evspool_writer_t *writer;
static bool clean_on;
static char node[256];
static _Atomic uint64_t failures, emitted;
static pthread_mutex_t rl_mu = PTHREAD_MUTEX_INITIALIZER;
static bw_ratelog_t rl;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Every child of a process that emits starts without its parent's writer:
 * the parent's segment is the parent's (a child writing into it, or holding
 * its lock after the parent died, would confuse readers).  Only the
 * descriptor is closed: the mutex may be held by a thread the fork did not
 * copy. */
/* Bumped in every forked child: a thread's pool of random bytes made before
 * the fork must not be used again (parent and child would repeat ids). */
static _Atomic unsigned fork_gen;

static void atfork_child(void)
{
    atomic_fetch_add(&fork_gen, 1);
    if (writer) {
        int fd = bw_evspool_writer_fd(writer);
        if (fd >= 0)
            close(fd);
        writer = NULL; /* leaked on purpose, see above */
    }
}
/* The writer's fdatasync thread must not exist while the process forks
 * (the supervisor forks its workers): a thread copied out of the child can
 * leave a lock held there forever.  It is joined before the fork and
 * started again in the parent. */
static void atfork_prepare(void)
{
    if (writer)
        bw_evspool_writer_pause_sync(writer);
}
static void atfork_parent(void)
{
    if (writer)
        bw_evspool_writer_resume_sync(writer);
}
static void atfork_init(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

const char *bw_event_severity_name(bw_event_severity_t s)
{
    switch (s) {
    case BW_SEV_LOW: return "low";
    case BW_SEV_MEDIUM: return "medium";
    case BW_SEV_HIGH: return "high";
    case BW_SEV_CRITICAL: return "critical";
    default: return "info";
    }
}

void bw_event_set_node(const char *n)
{
    if (n && n[0])
        snprintf(node, sizeof node, "%s", n);
    else if (gethostname(node, sizeof node - 1))
        snprintf(node, sizeof node, "localhost");
}

int bw_event_setup(const bw_events_conf_t *c, bw_err_t *err)
{
    pthread_once(&atfork_once, atfork_init);
    bw_event_shutdown();
    bw_event_set_node(c->node_name);
    clean_on = c->clean;
    if (!c->enable)
        return BW_OK;
    bw_evspool_writer_t *w;
    if (bw_evspool_writer_open(c->spool_dir, c->max_spool_size, &w, err))
        return BW_ERR;
    if (c->segment_size)
        bw_evspool_writer_set_segment_size(w, c->segment_size);
    bw_evspool_writer_set_sync(w, c->sync_interval_ms);
    atomic_store(&failures, 0);
    atomic_store(&emitted, 0);
    writer = w;
    return BW_OK;
}

void bw_event_shutdown(void)
{
    bw_evspool_writer_t *w = writer;
    writer = NULL;
    bw_evspool_writer_close(w);
}

void bw_event_forget(void)
{
    bw_evspool_writer_t *w = writer;
    writer = NULL;
    bw_evspool_writer_forget(w);
}

bool bw_event_enabled(void)
{
    return writer != NULL;
}
bool bw_event_clean_enabled(void)
{
    return writer != NULL && clean_on;
}
uint64_t bw_event_failures(void)
{
    return atomic_load(&failures);
}
uint64_t bw_event_emitted(void)
{
    return atomic_load(&emitted);
}

/* 16 random bytes.  getrandom() once per 256 ids and thread, not per event:
 * a system call per event showed in the Clean = yes benchmark. */
static void random16(unsigned char r[16])
{
    static __thread unsigned char pool[4096];
    static __thread size_t left;
    static __thread unsigned gen;
    unsigned g = atomic_load(&fork_gen);
    if (left < 16 || gen != g) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        if (got < sizeof pool) { /* no entropy source: time, pid and a counter */
            static _Atomic uint64_t ctr;
            uint64_t a = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), b = ++ctr;
            memcpy(r, &a, 8);
            memcpy(r + 8, &b, 8);
            left = 0;
            return;
        }
        left = sizeof pool;
        gen = g;
    }
    memcpy(r, pool + sizeof pool - left, 16);
    memset(pool + sizeof pool - left, 0, 16); /* used bytes do not stay around */
    left -= 16;
}

void bw_event_make_id(char id[33])
{
    unsigned char r[16];
    random16(r);
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        id[2 * i] = hx[r[i] >> 4];
        id[2 * i + 1] = hx[r[i] & 15];
    }
    id[32] = 0;
}

/* The date and second are formatted once per second and thread: gmtime_r
 * takes glibc's time-zone lock and snprintf is not free, on every event. */
void bw_event_make_time(char out[28])
{
    static __thread time_t sec = (time_t)-1;
    static __thread char prefix[20];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char buf[64];
        snprintf(buf, sizeof buf, "%04u-%02u-%02uT%02u:%02u:%02u",
                 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
                 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u);
        memcpy(prefix, buf, 19);
        sec = ts.tv_sec;
    }
    memcpy(out, prefix, 19);
    unsigned long us = (unsigned long)ts.tv_nsec / 1000u % 1000000u;
    out[19] = '.';
    for (int i = 25; i >= 20; i--, us /= 10)
        out[i] = (char)('0' + us % 10);
    out[26] = 'Z';
    out[27] = 0;
}

const char *bw_event_node(void)
{
    if (!node[0])
        bw_event_set_node(NULL);
    return node;
}

json_t *bw_event_new(const char *component, const char *type, bw_event_severity_t sev)
{
    if (!node[0])
        bw_event_set_node(NULL);
    char id[33], t[28];
    bw_event_make_id(id);
    bw_event_make_time(t);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", id, "time", t, "node", node,
                     "component", component, "type", type, "severity",
                     bw_event_severity_name(sev));
}

/* s with every invalid UTF-8 sequence replaced by U+FFFD (malloc'd). */
static char *utf8_fix(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1), *q = o;
    if (!o)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        bool ok = len > 0;
        for (int i = 1; ok && i < len; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok && len > 1) {
            char tmp[5] = {0};
            memcpy(tmp, p, (size_t)len);
            json_t *j = json_stringn(tmp, (size_t)len); /* overlongs, surrogates */
            ok = j != NULL;
            json_decref(j);
        }
        if (ok) {
            memcpy(q, p, (size_t)len);
            q += len;
            p += len;
        } else {
            memcpy(q, "\xEF\xBF\xBD", 3);
            q += 3;
            p++;
        }
    }
    *q = 0;
    return o;
}

json_t *bw_event_json_string(const char *s)
{
    json_t *v = json_string(s);
    if (!v) {
        char *f = utf8_fix(s);
        v = f ? json_string(f) : NULL;
        free(f);
    }
    return v;
}

void bw_event_set_str(json_t *obj, const char *key, const char *s)
{
    if (!obj || !s || !s[0])
        return;
    json_t *v = bw_event_json_string(s);
    if (v)
        json_object_set_new(obj, key, v);
}

void bw_event_set_int(json_t *obj, const char *key, int64_t v)
{
    if (obj)
        json_object_set_new(obj, key, json_integer((json_int_t)v));
}

json_t *bw_event_sub(json_t *ev, const char *key)
{
    if (!ev)
        return NULL;
    json_t *o = json_object_get(ev, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(ev, key, o);
    }
    return o;
}

void bw_event_add_str(json_t *ev, const char *key, const char *s)
{
    if (!ev || !s)
        return;
    json_t *a = json_object_get(ev, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(ev, key, a);
    }
    json_t *v = bw_event_json_string(s);
    if (v)
        json_array_append_new(a, v);
}

static void fail(const char *why)
{
    atomic_fetch_add(&failures, 1);
    uint64_t sup = 0;
    pthread_mutex_lock(&rl_mu);
    int allow = bw_ratelog_allow(&rl, bw_clock_ms(), 10000, &sup);
    pthread_mutex_unlock(&rl_mu);
    if (allow)
        bw_log(BW_LOG_ERR, "events: an event was lost: %s (%" PRIu64 " lost so far)%s", why,
               atomic_load(&failures), sup ? "; similar messages suppressed" : "");
}

void bw_event_emit(json_t *ev)
{
    if (!ev)
        return;
    bw_evspool_writer_t *w = writer;
    if (!w) {
        json_decref(ev);
        return;
    }
    /* Into a stack buffer (no malloc) when it fits, as nearly every event does. */
    char stack[4096], *s = stack;
    size_t len = json_dumpb(ev, stack, sizeof stack, JSON_COMPACT);
    if (len == 0 || len > sizeof stack) {
        s = json_dumps(ev, JSON_COMPACT);
        len = s ? strlen(s) : 0;
    }
    json_decref(ev);
    if (!s) {
        fail("out of memory");
        return;
    }
    bw_err_t err;
    if (bw_evspool_append(w, s, len, &err))
        fail(err.msg);
    else
        atomic_fetch_add(&emitted, 1);
    if (s != stack)
        free(s);
}

void bw_evline_emit(bw_evline_t *l)
{
    size_t len;
    const char *s = bw_evline_text(l, &len);
    bw_evspool_writer_t *w = writer;
    if (!w) {
        bw_evline_free(l);
        return;
    }
    bw_err_t err;
    if (!s)
        fail("out of memory");
    else if (bw_evspool_append(w, s, len, &err))
        fail(err.msg);
    else
        atomic_fetch_add(&emitted, 1);
    bw_evline_free(l);
}
