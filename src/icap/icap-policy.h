/* SPDX-License-Identifier: Apache-2.0 */
/* What the encapsulated HTTP headers decide before the body is read:
 * exclusion from scanning, and notes on the verdict (partial content,
 * headers past the parser's table).  See icap-policy.c. */
#ifndef BW_ICAP_POLICY_H
#define BW_ICAP_POLICY_H

#include "icap/http-parse.h"
#include "icap/icap-body.h"
#include "icap/icap-service.h"

/* msg: the message whose body is scanned (NULL if none was sent); is_resp:
 * it is an HTTP response (RESPMOD); url: the object's URL or NULL; body:
 * its pipeline, which takes the notes.  Returns 1 when the object is
 * excluded (not to be scanned), else 0. */
int bw_icap_header_policy(bw_icap_env_t *env, const bw_icap_conf_t *ic, const bw_http_msg_t *msg,
                          int is_resp, const char *url, bw_icap_body_t *body);

/* 1 when the URL's path (not its query) or the Content-Type names an
 * executable or installer (.exe, .msi, application/x-msdownload...). */
int bw_icap_looks_executable(const char *url, const char *ctype);

#endif
