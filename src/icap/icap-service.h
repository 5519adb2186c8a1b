/* SPDX-License-Identifier: Apache-2.0 */
/* The ICAP service layer: which service a URI names, what each answer looks
 * like, and how a verdict becomes an action.  Everything here builds bytes
 * into a bw_buf_t; the connection layer (icap-conn.c) only sends them. */
#ifndef BW_ICAP_SERVICE_H
#define BW_ICAP_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include "bulwark/bulwark.h"
#include "core/buf.h"
#include "core/conf.h"
#include "icap/icap-conf.h"
#include "icap/icap-parse-t.h"

typedef enum bw_icap_svc {
    BW_SVC_NONE = 0,
    BW_SVC_RESPMOD, /* av/respmod: RESPMOD only */
    BW_SVC_REQMOD,  /* av/reqmod: REQMOD only */
    BW_SVC_SCAN,    /* avscan, scan (ScanServiceUrl, repeatable): both; the NAS profile */
} bw_icap_svc_t;

/* Compiled exclusion patterns of one configuration copy (base or group). */
typedef struct bw_icap_excl {
    const bw_icap_conf_t *ic;
    void *mime, *url;      /* regex_t arrays */
    size_t nmime, nurl;
} bw_icap_excl_t;

/* One worker's view of the service: configuration, engine, templates. */
typedef struct bw_icap_env {
    const bw_icap_conf_t *ic;
    bw_engine_t *engine;
    char istag[40];           /* quoted, as sent */
    char *templates[BW_STATUS_COUNT]; /* block page per status (NULL: built-in) */
    FILE *report;             /* report log, or NULL */
    char product[64];
    bw_icap_excl_t *excl;     /* compiled on first use, one per configuration copy */
    size_t nexcl;
    const bw_conf_state_t *st; /* the loaded configuration: group copies come from it */
    struct bw_groups *groups;  /* the policy's group matcher (NULL: default group only) */
    struct bw_stats_slot *stats; /* where this server counts (core/stats.h; NULL: none) */
    struct bw_notifier *notifier; /* NotifyScript and webhook (NULL: none) */
} bw_icap_env_t;

/* Fills env from the configuration and the engine (templates are read once). */
int bw_icap_env_init(bw_icap_env_t *env, const bw_icap_conf_t *ic, bw_engine_t *engine,
                     bw_err_t *err);
void bw_icap_env_free(bw_icap_env_t *env);

/* The service a request path names (leading '/' optional). */
bw_icap_svc_t bw_icap_service_lookup(const bw_icap_env_t *env, const bw_icap_str_t *path);
int bw_icap_service_allows(bw_icap_svc_t svc, bw_icap_method_t m);

/* The status line and the headers every answer carries (Date, Server, ISTag). */
void bw_icap_build_head(const bw_icap_env_t *env, int status, bw_buf_t *out);
/* The OPTIONS answer for a service. */
void bw_icap_build_options(const bw_icap_env_t *env, bw_icap_svc_t svc, int close, bw_buf_t *out);
/* A bodiless error answer (400, 404, 405, 408, 500, 501, 503, 505). */
void bw_icap_build_error(const bw_icap_env_t *env, int status, int close, bw_buf_t *out);
void bw_icap_build_204(const bw_icap_env_t *env, const bw_verdict_t *v, int close, bw_buf_t *out);

/* 1 when ExcludeMimeType matches the Content-Type or ExcludeURL the URL
 * (either may be NULL) under configuration copy ic. */
int bw_icap_excluded(bw_icap_env_t *env, const bw_icap_conf_t *ic, const char *ctype,
                     const char *url);

/* The action the configuration assigns to a verdict. */
bw_action_t bw_icap_action_for(const bw_icap_conf_t *ic, const bw_verdict_t *v);
/* 1 when some action of configuration copy ic is `quarantine`: the
 * connection then keeps its own copy of a body even when the client keeps
 * one (Allow: 204), so that the object can be stored (docs/quarantine.md). */
int bw_icap_may_quarantine(const bw_icap_conf_t *ic);

/* Adds X-Infection-Found, X-Violations-Found, X-Virus-ID, X-Response-Info
 * (and X-Response-Desc) for a verdict; `blocked` says what happened. */
void bw_icap_verdict_headers(const bw_verdict_t *v, int blocked, bw_buf_t *out);

/* The HTML block page for a verdict, with its macros expanded and every
 * value HTML-escaped. */
void bw_icap_render_block(const bw_icap_env_t *env, const bw_verdict_t *v, const char *url,
                          const char *client, const char *action, const char *group,
                          bw_buf_t *html);

/* Appends one chunk of ICAP chunked framing (nothing for n == 0). */
void bw_icap_chunk_out(bw_buf_t *out, const void *p, size_t n);

#endif
