/* The client side of bulwarkd's control socket (daemon/control.h has the
 * protocol): `bulwark ctl` and `bulwark update` use it. */
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

#endif
