/* SPDX-License-Identifier: MIT */
/*
 * connredir.h - the native API of connredir for redirect services' proxies.
 *
 * connredir redirects local connections to registered redirect services and
 * keeps, in the kernel, each flow's redirection history: its redirect
 * records. A proxy that accepted a redirected connection asks for the records
 * and for its context, opens its own connection onward, sets the records on
 * it before connecting, and relays. Every redirect service can then tell
 * whether it has already seen the flow (the four states below), so services
 * chain without loops.
 *
 * Everything here is a thin wrapper around getsockopt(2)/setsockopt(2) on the
 * private level CONNREDIR_SOL: programs in any language can use the same
 * options directly. The options are answered in the kernel by connredir's
 * cgroup programs, so they work only on sockets created inside a cgroup
 * subtree connredir is attached to.
 *
 * Every function returns 0 on success or a negative errno value; none prints,
 * exits or keeps state.
 */
#ifndef CONNREDIR_CONNREDIR_H
#define CONNREDIR_CONNREDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#include <connredir/sockopt.h>

/* ---- The native C API ---- */

/*
 * connredir_query_records - copy the records blob of connection @fd.
 * @fd: the proxy's accepted socket.
 * @buf, @size: where to copy the blob and how much room there is.
 * @needed: if not NULL, receives the blob's size, also when @size is short.
 * Returns 0, -ENOSPC if @size is too small, -ENOENT if the connection was
 * never redirected, -ENOTCONN, -ENOTSOCK, -EOPNOTSUPP (no connredir on this
 * socket), or another -errno.
 */
int connredir_query_records(int fd, void *buf, size_t size, size_t *needed);

/*
 * connredir_set_records - apply a records blob to a new socket @fd before it
 * connects. Returns 0, -EINVAL (malformed, forged, stale or replayed blob),
 * -EACCES (caller is not the proxy of the service that last redirected the
 * flow), -EISCONN, -EOPNOTSUPP, or another -errno.
 */
int connredir_set_records(int fd, const void *blob, size_t size);

/*
 * connredir_query_context - the calling service's context for connection @fd.
 * Returns 0, -EACCES (not this caller's context), -ENOENT, -ENOTCONN or
 * another -errno.
 */
int connredir_query_context(int fd, struct connredir_context *ctx);

/*
 * connredir_query_state - the calling process's service and its state for
 * connection @fd. Returns 0, -ENOENT (never redirected) or another -errno.
 */
int connredir_query_state(int fd, struct connredir_state_info *info);

/*
 * connredir_original_dst - the original destination of a redirected
 * connection, as SO_ORIGINAL_DST gives it: a struct sockaddr_in for an IPv4
 * destination, a struct sockaddr_in6 otherwise. @len is in: the room at @ss,
 * out: the size written. Returns 0, -ENOENT or another -errno.
 */
int connredir_original_dst(int fd, struct sockaddr_storage *ss, socklen_t *len);

/*
 * connredir_claim_listener - claim listening socket @fd for service
 * @service (see CONNREDIR_CLAIM). Returns 0, -EACCES (caller is not the
 * service's proxy identity), -ENOENT (no such service), -EINVAL (not a TCP
 * socket, or a bad name), -EOPNOTSUPP (no connredir on this socket).
 */
int connredir_claim_listener(int fd, const char *service);

/* ---- UDP ---- */

/*
 * A redirected UDP flow is (application socket, original destination). Its
 * datagrams reach the proxy's socket tagged with the flow's handle. A proxy:
 *   1. calls connredir_udp_listen() on its socket once;
 *   2. receives with connredir_udp_recvfrom(), which also gives the handle;
 *   3. for a handle it has not seen, asks connredir_udp_query_records() and
 *      connredir_udp_query_context(), opens a per-flow UDP socket, sets the
 *      records on it (connredir_set_records()) and sends onward from it;
 *   4. answers the application from that per-flow socket, or, when the
 *      context has CONNREDIR_CTX_UDP_CONNECTED, from the socket it received
 *      on (a connected application socket accepts only that address).
 * The application sees every answer as coming from the original destination.
 */

/* connredir_udp_listen - let @fd receive flow handles (SO_RCVMARK). 0/-errno. */
int connredir_udp_listen(int fd);

/*
 * connredir_udp_recvfrom - recvfrom(2) that also gives the datagram's flow
 * handle in *@handle (0: not a redirected datagram). Returns the byte count
 * or -errno.
 */
ssize_t connredir_udp_recvfrom(int fd, void *buf, size_t len, int flags,
			       struct sockaddr *src, socklen_t *srclen, uint32_t *handle);

/*
 * The records, context and state of UDP flow @handle, asked on any socket
 * @fd of the caller inside the attached cgroup. Same rules and errors as the
 * TCP calls; -ENOENT when the flow is gone (its application socket closed).
 */
int connredir_udp_query_records(int fd, uint32_t handle, void *buf, size_t size,
				size_t *needed);
int connredir_udp_query_context(int fd, uint32_t handle, struct connredir_context *ctx);
int connredir_udp_query_state(int fd, uint32_t handle, struct connredir_state_info *info);

/* What connredir_records_decode() finds in a blob. */
struct connredir_records_info {
	unsigned version;                          /* blob layout version */
	unsigned nhops;                            /* redirections so far */
	uint32_t services[CONNREDIR_MAX_HOPS];     /* service ids, oldest first */
	uint64_t flow_id;                          /* the flow's id */
};

/*
 * connredir_records_decode - describe a records blob (for logs; proxies never
 * need to). Returns 0, or -EINVAL naming no field: the blob is not one
 * connredir could have made (wrong magic, version, size or hop count).
 */
int connredir_records_decode(const void *blob, size_t size,
			     struct connredir_records_info *info);

/* connredir_state_name - "NOT_REDIRECTED", ..., or "UNKNOWN". Never NULL. */
const char *connredir_state_name(unsigned state);

#ifdef __cplusplus
}
#endif
#endif /* CONNREDIR_CONNREDIR_H */
