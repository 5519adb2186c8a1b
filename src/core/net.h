/* SPDX-License-Identifier: Apache-2.0 */
/* Listening TCP sockets, for every listener of bulwarkd (ICAP, ICAPS,
 * clamd): one place that gets the socket options right. */
#ifndef BW_CORE_NET_H
#define BW_CORE_NET_H

#include "core/err.h"

/* Binds and listens on host:port (host NULL or "" or "*": every address;
 * a numeric port), non-blocking and close-on-exec, SO_REUSEADDR, and
 * IPV6_V6ONLY for IPv6 so a separate IPv4 listener can share the port.
 * Returns the fd, or -1 with err set to "<what>: <reason>". */
int bw_net_listen(const char *what, const char *host, const char *port, int backlog,
                  bw_err_t *err);

#endif
