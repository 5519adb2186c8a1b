/* SPDX-License-Identifier: Apache-2.0 */
/* The shipper process (shipper.c): the console link and the events outputs. */
#ifndef BW_DAEMON_SHIPPER_H
#define BW_DAEMON_SHIPPER_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"

/* Whether the generation needs a shipper ([console] Url or an [events] output). */
bool bw_shipper_wanted(const bw_daemon_t *g);
/* Everything the shipper was started from: a reload that changes it
 * restarts the shipper ("-" when none is wanted). */
void bw_shipper_signature(const bw_daemon_t *g, char *out, size_t cap);
/* The child's body after fork (signals reset, supervisor fds closed);
 * `chan` is its end of the channel to the supervisor.  Never returns. */
void bw_shipper_main(const bw_daemon_t *g, int chan) __attribute__((noreturn));

#endif
