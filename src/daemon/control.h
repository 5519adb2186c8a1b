/* SPDX-License-Identifier: Apache-2.0 */
/* The control socket: a unix stream socket (mode 0600, root's) on which
 * `bulwark ctl` sends one command line and reads the answer.  The answer's
 * first line is "OK" or "ERROR"; the rest is text for the user; the daemon
 * closes the connection when done.  A command that takes time (a reload)
 * keeps its connection until the result is known. */
#ifndef BW_DAEMON_CONTROL_H
#define BW_DAEMON_CONTROL_H

#include <stddef.h>

#include "core/err.h"

#define BW_CTL_MAX_LINE 256

/* Opens `path`: refuses when a live daemon answers there, removes a stale
 * socket, creates the parent directory (0755) if missing.  Returns the
 * listening fd (non-blocking) or -1 with err set. */
int bw_ctl_listen(const char *path, bw_err_t *err);

/* Writes the whole answer and closes fd, without waiting: fd is
 * non-blocking, and a client whose socket buffer is full is dropped.
 * (Reading the command line is the supervisor's: supervisor-ctl.c.) */
void bw_ctl_reply(int fd, int ok, const char *text);

#endif
