/* SPDX-License-Identifier: Apache-2.0 */
/* One output of evout.c: a sink that delivers a batch of events or fails. */
#ifndef BW_EVENTS_EVOUT_INT_H
#define BW_EVENTS_EVOUT_INT_H

#include <jansson.h>

#include "core/err.h"
#include "events/events-conf.h"

typedef struct bw_evsink bw_evsink_t;
struct bw_evsink {
    /* Delivers every event of the array (all or nothing: the batch is
     * acknowledged only when this returns BW_OK; a retry may repeat some). */
    int (*send)(bw_evsink_t *s, json_t *events, bw_err_t *err);
    /* Drops a connection after a failure (the next send reconnects). */
    void (*reset)(bw_evsink_t *s);
    void (*free)(bw_evsink_t *s);
};

/* evout-file.c: JSON lines or CEF lines appended to path. */
bw_evsink_t *bw_evsink_file_new(const char *path, int cef);
/* evout-syslog.c: SyslogTarget (udp/tcp/tls). */
bw_evsink_t *bw_evsink_syslog_new(const bw_events_conf_t *c, bw_err_t *err);

/* evout-cef.c: the CEF escapings (a header field; an extension value). */
void bw_cef_put_header(bw_buf_t *b, const char *s);
void bw_cef_put_ext(bw_buf_t *b, const char *s);

#endif
