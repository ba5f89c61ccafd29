// SPDX-License-Identifier: MIT
/*
 * redirect.c - the redirect records and the redirect context between
 * Winsock's buffers and the native API (libconnredir): the WSAIoctl
 * queries and SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS (TCP), and the
 * IP(V6)_WFP_REDIRECT_RECORDS / _CONTEXT control messages of UDP (sent
 * with WSASendMsg, received on a flow's first datagram with WSARecvMsg).
 * The blobs pass as they are: the kernel checks what it reads.
 */
#include <errno.h>
#include <sys/socket.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include <connredir/connredir.h>
#include "winsock_int.h"

/*
 * 0 if socket @s can carry redirect records (IPv4/IPv6 stream: TCP, MPTCP),
 * WSAEOPNOTSUPP if its family has no redirection (Unix, netlink, packet),
 * WSAEINVAL if it is an IP socket of another type (UDP, raw: these use
 * control messages).
 */
/* The type of IP socket @s in *@type: 0, WSAEOPNOTSUPP (not IP) or an error. */
static int ws_ip_socket_type(SOCKET s, int *type)
{
	int dom, err;

	err = crd_ws_sockopt_int(s, SO_DOMAIN, &dom);
	if (!err)
		err = crd_ws_sockopt_int(s, SO_TYPE, type);
	if (err)
		return err;
	return dom == AF_INET || dom == AF_INET6 ? 0 : WSAEOPNOTSUPP;
}

static int ws_redirect_socket(SOCKET s)
{
	int type, err = ws_ip_socket_type(s, &type);

	if (err)
		return err;
	return type == SOCK_STREAM ? 0 : WSAEINVAL;
}

/* 0 if @s is connected, WSAENOTCONN if not, or another error. */
static int ws_connected(SOCKET s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getpeername(s, (struct sockaddr *)&ss, &len) ? crd_ws_from_errno(errno) : 0;
}

/* The two queries, under the buffer rules of winsock.h. */
int crd_ws_query(SOCKET s, DWORD code, void *out, DWORD cb_out, DWORD *n)
{
	struct connredir_context ctx;
	size_t need = 0;
	int err, r;

	err = ws_redirect_socket(s);
	if (err)
		return err;
	if (out && cb_out > 0 && cb_out < sizeof(ULONG))
		return WSAEINVAL;                           /* rule 2 */
	err = ws_connected(s);
	if (err)
		return err;
	if (!out)
		cb_out = 0;
	if (code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS) {
		/* The kernel copies the blob straight to @out: it checks it. */
		r = connredir_query_records(s, cb_out ? out : NULL, cb_out, &need);
		if (r && r != -ENOSPC)
			return crd_ws_native_error(r, code);
		*n = (DWORD)need;
		return r ? ERROR_INSUFFICIENT_BUFFER : 0;   /* rules 1, 3; 4 */
	}
	r = connredir_query_context(s, &ctx);
	if (r)
		return crd_ws_native_error(r, code);
	*n = sizeof(ctx);
	if (cb_out < sizeof(ctx))
		return ERROR_INSUFFICIENT_BUFFER;           /* rules 1, 3 */
	err = crd_ws_copy(out, &ctx, sizeof(ctx), 1);
	if (err)
		*n = 0;
	return err;                                         /* rule 4 */
}

int crd_ws_set_records(SOCKET s, const void *in, DWORD cb_in, DWORD cb_out)
{
	int err, listening, r;

	err = ws_redirect_socket(s);
	if (err)
		return err;
	if (cb_out != 0 || cb_in == 0 || cb_in > CONNREDIR_RECORDS_MAX)
		return WSAEINVAL;
	err = crd_ws_sockopt_int(s, SO_ACCEPTCONN, &listening);
	if (err)
		return err;
	if (listening)
		return WSAEINVAL;
	if (!in)
		return WSAEFAULT;
	err = ws_connected(s);
	if (!err)
		return WSAEISCONN;
	if (err != WSAENOTCONN)
		return err;
	/* The kernel reads the blob from @in: it checks the address (where
	 * connredir is attached; elsewhere it never reads it). */
	r = connredir_set_records(s, in, cb_in);
	return r ? crd_ws_native_error(r, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) : 0;
}

/*
 * UDP, outward: a proxy hands on the records it received on a flow's first
 * datagram as an IP(V6)_WFP_REDIRECT_RECORDS control message on the first
 * datagram it sends onward (to the WSAMSG's name, or the connected peer).
 * They are set on the socket with connredir_set_records() before the
 * datagram goes; a blob the kernel refuses fails the send (never a send
 * without the records: that would let the flow loop).
 */
int crd_ws_send_records(SOCKET s, const void *blob, size_t len)
{
	int type, err, r;

	err = ws_ip_socket_type(s, &type);
	if (err)
		return err;
	if (type != SOCK_DGRAM)
		return WSAEINVAL;   /* TCP: SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS */
	if (len == 0 || len > CONNREDIR_RECORDS_MAX)
		return WSAEINVAL;
	/* The kernel reads the blob (part of Control.buf) and checks it. */
	r = connredir_set_records(s, blob, len);
	return r ? crd_ws_native_error(r, SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS) : 0;
}

/*
 * UDP, inward: on the first datagram of a redirected flow, a proxy gets the
 * records and its context as IP_WFP_REDIRECT_RECORDS and
 * IP_WFP_REDIRECT_CONTEXT control messages (IPV6_* on an IPv6 socket),
 * appended after the kernel's messages in @buf (*@len bytes used so far,
 * @cap bytes of room in all). Returns MSG_CTRUNC if they do not fit (the
 * flow is then not remembered: the next datagram brings them again), else 0.
 * Without @remember (MSG_PEEK) the flow stays new.
 */
int crd_ws_recv_records(SOCKET s, uint64_t ino, int family, uint32_t handle,
			int remember, unsigned char *buf, size_t *len, size_t cap)
{
	int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	struct connredir_context ctx;
	unsigned char blob[CONNREDIR_RECORDS_MAX];
	size_t blen = 0, at = *len;
	unsigned off;
	int rr = -1, rc = -1, trunc = 0;

	if (!crd_ws_flow_claim(s, ino, handle, remember, &off))
		return 0;
	/* Either may be missing: the flow ended, or the context is another service's. */
	if (!(off & CRD_WS_RECORDS_OFF))
		rr = connredir_udp_query_records(s, handle, blob, sizeof(blob), &blen);
	if (!(off & CRD_WS_CONTEXT_OFF))
		rc = connredir_udp_query_context(s, handle, &ctx);
	if (!rr && crd_ws_cmsg_append(buf, len, cap, level, IP_WFP_REDIRECT_RECORDS, blob, blen))
		trunc = 1;
	if (!trunc && !rc &&
	    crd_ws_cmsg_append(buf, len, cap, level, IP_WFP_REDIRECT_CONTEXT, &ctx, sizeof(ctx)))
		trunc = 1;
	if (trunc) {
		*len = at;   /* both or neither */
		if (remember)
			crd_ws_flow_unsee(s, ino, handle);
		return MSG_CTRUNC;
	}
	return 0;
}
