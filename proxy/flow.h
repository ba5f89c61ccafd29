/* SPDX-License-Identifier: MIT */
/*
 * flow.h - a flow's life: from the accepted connection, through the
 * kernel's records and context, inspection (waiting up to --peek-timeout
 * for the client's first bytes before connecting, while an inspector needs
 * them), the onward connection, to relaying and its end (and log line).
 *
 * A flow ends when both directions have passed their EOF on ("closed"),
 * when either side resets or fails (the other side is then reset too), when
 * an inspector blocks it, when the onward connection fails or times out,
 * when it has been idle for --idle-timeout, or at shutdown. Its memory is
 * freed by flow_reap(), after the event batch it ended in.
 */
#ifndef CONNREDIR_PROXY_FLOW_H
#define CONNREDIR_PROXY_FLOW_H

#include <stdbool.h>
#include <sys/socket.h>

#include "conf.h"
#include "parse.h"

/* flow_init - use @conf (kept) for every flow. */
void flow_init(const struct proxy_conf *conf);

/*
 * flow_start - take over the accepted, non-blocking connection @fd from
 * @peer, accepted by a listener bound to @laddr:@lport (a flow going there
 * would loop through the proxy): learn where it was going, connect onward,
 * start relaying. On any
 * failure the connection is reset and closed, and the flow logged. Returns
 * 0, or -errno when no flow could be made (the connection is then closed).
 */
int flow_start(int fd, const struct sockaddr_storage *peer,
	       const struct crd_ipaddr *laddr, uint16_t lport);

/* flow_count - flows not yet ended. */
unsigned flow_count(void);

/* flow_timeout_ms - until the next connect or idle time-out; -1: none. */
int flow_timeout_ms(void);

/* flow_expire - end the flows whose time-out has passed. */
void flow_expire(void);

/*
 * flow_abort_all - end every flow now, resetting both sides ("shutdown");
 * flow_reap() then frees them all.
 */
void flow_abort_all(void);

/*
 * flow_busy - true if some flow stopped moving bytes only to let the others
 * have their turn: the loop must not sleep before flow_run_again().
 */
bool flow_busy(void);

/* flow_run_again - give those flows their next turn. */
void flow_run_again(void);

/* flow_reap - free the flows that ended since the last call. */
void flow_reap(void);

/* flow_release_all - at exit, after the last flow_reap(): free every pooled buffer. */
void flow_release_all(void);

#endif /* CONNREDIR_PROXY_FLOW_H */
