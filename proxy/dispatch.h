/* SPDX-License-Identifier: MIT */
/*
 * dispatch.h - the listeners: making them, claiming them for the service,
 * accepting flows, and holding back while --max-flows flows are open (or
 * the process is out of file descriptors).
 */
#ifndef CONNREDIR_PROXY_DISPATCH_H
#define CONNREDIR_PROXY_DISPATCH_H

#include <stdint.h>

#include "parse.h"

#define DISPATCH_MAX_LISTEN 16

/*
 * dispatch_listen - a listening TCP socket on @addr:@port (SO_REUSEADDR,
 * IPV6_V6ONLY for IPv6), @text (kept) being how it was written. Returns 0
 * or -errno with *what naming the call that failed ("bind", ...).
 */
int dispatch_listen(const char *text, const struct crd_ipaddr *addr, uint16_t port,
		    const char **what);

/*
 * dispatch_claim - claim every listener for @service
 * (connredir_claim_listener). Returns 0 or the first -errno, with *which
 * set to that listener's text.
 */
int dispatch_claim(const char *service, const char **which);

/* dispatch_count - listeners made; dispatch_text - the text of the @i-th. */
unsigned dispatch_count(void);
const char *dispatch_text(unsigned i);

/*
 * dispatch_start - accept on every listener from the event loop, at most
 * @max_flows flows at a time. Returns 0 or -errno.
 */
int dispatch_start(unsigned max_flows);

/*
 * dispatch_update - after each event batch: accept again if flows ended
 * below the limit, or the pause after running out of descriptors is over.
 */
void dispatch_update(void);

/* dispatch_timeout_ms - until the pause is over; -1: none. */
int dispatch_timeout_ms(void);

/* dispatch_stop - close every listener: no new flows (idempotent). */
void dispatch_stop(void);

#endif /* CONNREDIR_PROXY_DISPATCH_H */
