/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between event.c and evline.c only. */
#ifndef BW_EVENTS_EVENT_INT_H
#define BW_EVENTS_EVENT_INT_H

#include <jansson.h>

/* The node name every event carries (set up, or the host name). */
const char *bw_event_node(void);
/* json_string(s), with invalid UTF-8 replaced by U+FFFD; NULL: out of memory. */
json_t *bw_event_json_string(const char *s);

#endif
