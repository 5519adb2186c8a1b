/* The client side of bulwarkd's control socket (daemon/control.h has the
 * protocol): `bulwark ctl` and `bulwark update` use it. */
#ifndef BW_APP_CTL_CLIENT_H
#define BW_APP_CTL_CLIENT_H

#include "core/err.h"

/* Sends `command` and reads the whole answer (waiting at most timeout_ms).
 * Returns 1 if the daemon said OK, 0 if it said ERROR (*text holds why), or
 * -1 with err set when it could not be reached.  *text is malloc'd (the
 * answer after its status line) on 1 and 0. */
int bw_ctl_call(const char *socket_path, const char *command, int timeout_ms, char **text,
                bw_err_t *err);

#endif
