/* SPDX-License-Identifier: MIT */
/*
 * sockopt.h - connredir's socket options: the stable interface any language
 * can use with plain getsockopt(2)/setsockopt(2). Included by connredir.h and
 * by the BPF programs that answer these options, so it has no dependencies.
 */
#ifndef CONNREDIR_SOCKOPT_H
#define CONNREDIR_SOCKOPT_H

#ifndef __bpf__
#include <stdint.h>
#endif

/* ---- The raw socket-option interface (stable, usable from any language) ---- */

/* The socket-option level of connredir. No kernel protocol uses it. */
#define CONNREDIR_SOL 0x4352

/*
 * getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, buf, &len): the records
 * blob of a redirected connection (on the proxy's accepted socket). At most
 * CONNREDIR_RECORDS_MAX bytes. Fails with ENOSPC if len is too small (ask
 * CONNREDIR_RECORDS_SIZE first), ENOENT if the connection was never
 * redirected, ENOTCONN if the socket is not connected.
 *
 * setsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, blob, bloblen): on a new
 * socket, before connect(2): continue the flow the blob came from. EINVAL for
 * a blob that is malformed, truncated, forged, stale (its flow has closed) or
 * already applied to another live socket; EACCES when the caller is not the
 * proxy identity of the service that last redirected the flow; EISCONN once
 * the socket is connected. The kernel applies its own copy of the flow's
 * history: a blob cannot add or remove a service.
 */
#define CONNREDIR_RECORDS 1
/* getsockopt: uint32_t, the size of the records blob (same errors). */
#define CONNREDIR_RECORDS_SIZE 2
/*
 * getsockopt: struct connredir_context for the calling process's service.
 * EACCES unless the caller is the proxy identity of a service whose state for
 * this connection is BY_SELF or PREVIOUSLY_BY_SELF.
 */
#define CONNREDIR_CONTEXT 3
/* getsockopt: struct connredir_state_info for the calling process. */
#define CONNREDIR_STATE 4
/*
 * setsockopt(fd, CONNREDIR_SOL, CONNREDIR_CLAIM, name, strlen(name)): claim a
 * TCP listening (or bound) socket as the listener of the service @name.
 * Only the service's proxy identity may (EACCES); ENOENT if there is no such
 * service. A service that requires a claimed listener sends its flows only to
 * a listener its proxy claimed, never to another process holding the port.
 */
#define CONNREDIR_CLAIM 5

/*
 * UDP. A redirected UDP flow is (application socket, original destination).
 * Its datagrams reach the proxy's socket carrying the flow's handle in the
 * packet mark (read it with SO_RCVMARK: see CONNREDIR_MARK_HANDLE); the proxy
 * asks for the flow's records, size, context or state by putting the handle
 * into the option name: getsockopt(fd, CONNREDIR_SOL,
 * CONNREDIR_UDP_OPT(CONNREDIR_RECORDS, handle), ...), on any socket of its
 * own inside the attached cgroup. Records are set on the proxy's per-flow
 * socket with CONNREDIR_RECORDS as for TCP.
 */
#define CONNREDIR_UDP_OPT(what, handle) ((int)(((what) << 24) | ((handle) & 0xffffff)))
#define CONNREDIR_MARK_TAG 0xcd000000u
/* The flow handle a packet mark carries, or 0 if it carries none. */
#define CONNREDIR_MARK_HANDLE(mark) \
	(((mark) & 0xff000000u) == CONNREDIR_MARK_TAG ? (mark) & 0xffffffu : 0)

/* connredir_context.flags */
#define CONNREDIR_CTX_UDP_CONNECTED 0x1 /* the application's UDP socket is
					 * connected: answer it from the
					 * proxy's listening socket */

/* The largest records blob, in bytes (fits the 1 KiB buffers proxies use). */
#define CONNREDIR_RECORDS_MAX 1024
/* The most redirections a flow's records can hold. */
#define CONNREDIR_MAX_HOPS 16

/* The four states of a connection for one redirect service (WFP's order). */
enum connredir_state {
	CONNREDIR_NOT_REDIRECTED = 0,
	CONNREDIR_REDIRECTED_BY_SELF = 1,
	CONNREDIR_REDIRECTED_BY_OTHER = 2,
	CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF = 3,
};

/*
 * What CONNREDIR_CONTEXT returns. Addresses are IPv6; an IPv4 address is
 * IPv4-mapped (::ffff:a.b.c.d). Ports are in network byte order.
 */
struct connredir_context {
	uint32_t version;        /* CONNREDIR_CONTEXT_VERSION */
	uint32_t size;           /* sizeof(struct connredir_context) */
	uint32_t service_id;     /* the service this context belongs to */
	uint32_t hop;            /* its place in the chain, 0 = first */
	uint8_t orig_dst[16];    /* where the application connected */
	uint8_t orig_src[16];    /* the application socket's local address */
	uint16_t orig_dst_port;  /* network byte order */
	uint16_t orig_src_port;  /* network byte order */
	uint8_t protocol;        /* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t orig_family;     /* AF_INET if the original destination is IPv4 */
	uint8_t nhops;           /* redirections so far, this one included */
	uint8_t flags;           /* CONNREDIR_CTX_* */
	uint32_t app_pid;        /* original application: process id (tgid) */
	uint32_t app_uid;        /* its uid */
	uint32_t app_gid;        /* its gid */
	uint32_t reserved;       /* 0; keeps the layout the same on 32-bit */
	uint64_t app_cgroup_id;  /* its cgroup v2 id */
	char app_comm[16];       /* its command name, NUL-terminated */
	uint64_t flow_id;        /* the flow's id, the same at every hop */
	uint64_t redirect_ns;    /* when this service redirected it, CLOCK_MONOTONIC */
	uint64_t start_ns;       /* when the flow was first redirected, CLOCK_MONOTONIC */
};
#define CONNREDIR_CONTEXT_VERSION 1

/* What CONNREDIR_STATE returns. */
struct connredir_state_info {
	uint32_t state;       /* enum connredir_state, for service_id */
	uint32_t service_id;  /* the caller's service (0: caller is no proxy) */
	uint32_t nhops;       /* redirections in the records */
	uint32_t reserved;
};

#endif /* CONNREDIR_SOCKOPT_H */
