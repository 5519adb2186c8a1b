/* SPDX-License-Identifier: Apache-2.0 */
/* The client side of bulwarkd's control socket (daemon/control.h has the
 * protocol): `bulwark ctl` and `bulwark update` use it, and find it in the
 * configuration without validating the rest of the file. */
#ifndef BW_APP_CTL_CLIENT_H
#define BW_APP_CTL_CLIENT_H

#include "core/err.h"

/* Sends `command` and reads the whole answer (waiting at most timeout_ms).
 * Returns 1 if the daemon said OK, 0 if it said ERROR (*text holds why),
 * BW_CTL_DENIED with err set when the socket exists but this user may not
 * use it (EACCES/EPERM: a daemon may well be running), or -1 with err set
 * when it could not be reached (no socket, nobody listening, no answer).
 * *text is malloc'd (the answer after its status line) on 1 and 0. */
#define BW_CTL_DENIED (-2)
int bw_ctl_call(const char *socket_path, const char *command, int timeout_ms, char **text,
                bw_err_t *err);

/* The control socket that the configuration file `conf_path` names, read
 * leniently: only the first `ControlSocket` of the base `[path]` section is
 * looked at, and every other line (unknown keys, bad values, syntax errors)
 * is ignored, because the daemon, not the client, validates the file and
 * says what is wrong with it (a `reload` must reach it to do so).  The value
 * is taken as the full loader takes it: a relative path is relative to the
 * file's directory.  Not set, or the file unreadable: the compiled-in default
 * (*note then says which, for an unreadable file).  BW_ERR with err set when
 * the file names no usable socket (an empty value: the daemon runs without
 * one; a path too long for a unix socket).  Sets libinih's process-wide
 * options: not while another thread runs bw_conf_load. */
int bw_ctl_socket_of(const char *conf_path, char *out, size_t cap, char *note, size_t ncap,
                     bw_err_t *err);

#endif
