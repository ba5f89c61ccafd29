/* SPDX-License-Identifier: MIT */
/*
 * udp.h - connredir-proxy's UDP side: the --udp-listen sockets and the UDP
 * flow table, in the same event loop as the TCP listeners and flows.
 *
 * A UDP flow is one redirected application flow (connredir's flow handle,
 * see connredir_udp_recvfrom()). For a handle it has not seen, the proxy
 * asks the kernel for the flow's records and context, runs the inspectors
 * on the first datagram, opens a per-flow UDP socket, sets the records on
 * it and sends the datagram on to the original destination from it.
 * Answers come back on that socket and go to the application from it, or
 * from the listening socket when the context says the application's socket
 * is connected (CONNREDIR_CTX_UDP_CONNECTED). A flow blocked by an
 * inspector sends nothing on; a DNS query in it is answered REFUSED by the
 * proxy. A flow ends after --udp-idle-timeout without a datagram either
 * way, or at shutdown; its log line is written then. At most --max-flows
 * UDP flows exist at a time: a datagram that would start one more is
 * dropped.
 */
#ifndef CONNREDIR_PROXY_UDP_H
#define CONNREDIR_PROXY_UDP_H

#include <stdint.h>

#include "conf.h"
#include "parse.h"

#define UDP_MAX_LISTEN 16

/*
 * udp_listen - a UDP socket bound to @addr:@port (IPV6_V6ONLY for IPv6),
 * made to receive flow handles. @text (kept) is how it was written.
 * Returns 0 or -errno with *what naming the call that failed.
 */
int udp_listen(const char *text, const struct crd_ipaddr *addr, uint16_t port,
	       const char **what);

/* udp_start - receive on every UDP listener from the event loop. 0/-errno. */
int udp_start(const struct proxy_conf *conf);

/* udp_count - UDP flows open. */
unsigned udp_count(void);

/* udp_timeout_ms - until the next idle time-out; -1: none. */
int udp_timeout_ms(void);

/* udp_expire - end the flows idle for --udp-idle-timeout. */
void udp_expire(void);

/* udp_stop - close the listeners and end every flow ("shutdown"). */
void udp_stop(void);

#endif /* CONNREDIR_PROXY_UDP_H */
