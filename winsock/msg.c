// SPDX-License-Identifier: MIT
/*
 * msg.c - WSASendMsg and WSARecvMsg. Control messages pass as they are
 * (Winsock's layout is Linux's) except the WFP ones: on the way out the
 * records are set on the socket (redirect.c) and taken out of the list;
 * on the way in, on an IPv4/IPv6 datagram socket, the kernel's SO_MARK
 * message names the flow, and its first datagram gets the records and
 * context appended (redirect.c, flows.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include <connredir/connredir.h>
#include "crd_export.h"
#include "winsock_int.h"

/*
 * The control messages of @m for sendmsg(2), in @mh. They pass through
 * unchanged (same layout), except the WFP types, which are taken out: the
 * records go to crd_ws_send_records(), a context is never sent. In
 * that case the others are copied to *@copy (the caller frees it). A list
 * with a cmsg_len below the header size or past the buffer is WSAEINVAL;
 * trailing bytes too few for a header are ignored, as the kernel does.
 * Headers are read with memcpy: Control.buf need not be aligned.
 */
static int ws_control_out(SOCKET s, const WSAMSG *m, struct msghdr *mh, unsigned char **copy)
{
	const unsigned char *buf = (const unsigned char *)m->Control.buf;
	size_t len = m->Control.len, off, step, kept = 0;
	int pass, wfp = 0, err;
	WSACMSGHDR h;

	*copy = NULL;
	mh->msg_control = NULL;
	mh->msg_controllen = 0;
	if (len == 0)
		return 0;
	if (len > CRD_WS_CONTROL_MAX)
		return WSAENOBUFS;
	for (pass = 0; pass < 2; pass++) {
		for (off = 0; len - off >= sizeof(h); off += step) {
			memcpy(&h, buf + off, sizeof(h));
			if (h.cmsg_len < sizeof(h) || h.cmsg_len > len - off)
				return WSAEINVAL;
			step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
			if (step > len - off)
				step = len - off;
			if (crd_ws_cmsg_is_wfp(&h, IP_WFP_REDIRECT_CONTEXT))
				return WSAEINVAL;
			if (crd_ws_cmsg_is_wfp(&h, IP_WFP_REDIRECT_RECORDS)) {
				wfp = 1;
				if (pass == 1) {
					err = crd_ws_send_records(s,
								       buf + off + WSA_CMSG_LEN(0),
								       h.cmsg_len - WSA_CMSG_LEN(0));
					if (err)
						return err;
				}
			} else if (pass == 1) {
				memcpy(*copy + kept, buf + off, step);
				kept += step;
			}
		}
		if (!wfp) {
			mh->msg_control = (void *)buf;
			mh->msg_controllen = len;
			return 0;
		}
		if (pass == 0) {
			*copy = malloc(len);
			if (!*copy)
				return WSAENOBUFS;
		}
	}
	mh->msg_control = kept ? *copy : NULL;
	mh->msg_controllen = kept;
	return 0;
}

CRD_EXPORT INT WSASendMsg(SOCKET s, LPWSAMSG lpMsg, DWORD dwFlags, LPDWORD lpNumberOfBytesSent,
			  LPWSAOVERLAPPED lpOverlapped,
			  LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct iovec small[CRD_WS_IOV_STACK], *heap = NULL;
	unsigned char *control = NULL;
	struct crd_ws_call c;
	struct msghdr mh;
	ssize_t r;
	DWORD n = 0;
	int err;

	if (lpOverlapped || lpCompletionRoutine)
		return crd_ws_no_overlapped();
	crd_ws_call_begin(&c, lpNumberOfBytesSent, NULL, NULL);
	err = crd_ws_socket(s);
	if (!err)
		err = c.fault;
	if (!err && !lpMsg)
		err = WSAEFAULT;
	if (!err)
		err = crd_ws_msghdr(lpMsg, &mh, small, &heap);
	if (!err)
		err = ws_control_out(s, lpMsg, &mh, &control);
	if (!err) {
		r = sendmsg(s, &mh, (int)dwFlags | MSG_NOSIGNAL);
		if (r < 0)
			err = crd_ws_from_errno(errno);
		else
			n = (DWORD)r;
	}
	free(control);
	free(heap);
	return crd_ws_call_end(&c, err, n);
}

/* Control room added for the kernel's SO_MARK message, which we strip. */
#define WS_MARK_ROOM CMSG_SPACE(sizeof(uint32_t))
#define WS_RECV_STACK 2048

/*
 * recvmsg(2) on an IPv4/IPv6 datagram socket: into our own control buffer
 * with room for the SO_MARK message, which is read for the flow handle and
 * taken out unless the caller turned SO_RCVMARK on; then the WFP messages on
 * a flow's first datagram; then the list is copied to the caller's buffer
 * (through the kernel: a bad Control.buf is WSAEFAULT, the datagram is
 * consumed). Returns 0 or a Winsock error; *@n the bytes.
 */
static int ws_recv_udp(SOCKET s, uint64_t ino, int family, int user_mark, LPWSAMSG m,
		       struct msghdr *mh, DWORD *n)
{
	size_t cap = m->Control.len, room, used;
	unsigned char small[WS_RECV_STACK], *cbuf = small;
	struct cmsghdr *c;
	uint32_t mark = 0;
	int in_flags = (int)m->dwFlags, flags, err = 0;
	ssize_t r;

	if (cap > CRD_WS_CONTROL_MAX)
		cap = CRD_WS_CONTROL_MAX;
	room = cap + WS_MARK_ROOM;
	if (room > sizeof(small)) {
		cbuf = malloc(room);
		if (!cbuf)
			return WSAENOBUFS;
	}
	mh->msg_control = cbuf;
	mh->msg_controllen = room;
	r = recvmsg(s, mh, in_flags);
	if (r < 0) {
		err = crd_ws_from_errno(errno);
		goto out;
	}
	*n = (DWORD)r;
	flags = mh->msg_flags;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK &&
		    c->cmsg_len >= CMSG_LEN(sizeof(mark)))
			memcpy(&mark, CMSG_DATA(c), sizeof(mark));
	used = mh->msg_controllen;
	if (!user_mark)
		used = crd_ws_cmsg_strip(cbuf, used, SOL_SOCKET, SO_MARK);
	if (crd_ws_cmsg_fit(cbuf, &used, cap))
		flags |= MSG_CTRUNC;
	if (CONNREDIR_MARK_HANDLE(mark))
		flags |= crd_ws_recv_records(s, ino, family, CONNREDIR_MARK_HANDLE(mark),
						!(in_flags & MSG_PEEK), cbuf, &used, cap);
	if (used)
		err = crd_ws_copy(m->Control.buf, cbuf, used, 1);
	if (!err) {
		if (m->name)
			m->namelen = (INT)mh->msg_namelen;
		m->Control.len = (ULONG)used;
		m->dwFlags = (ULONG)flags;
	}
out:
	if (cbuf != small)
		free(cbuf);
	return err;
}

INT crd_ws_recvmsg(SOCKET s, LPWSAMSG lpMsg, LPDWORD lpdwNumberOfBytesRecvd,
		   LPWSAOVERLAPPED lpOverlapped,
		   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	struct iovec small[CRD_WS_IOV_STACK], *heap = NULL;
	struct crd_ws_call c;
	struct msghdr mh;
	uint64_t ino = 0;
	size_t cap;
	ssize_t r;
	DWORD n = 0;
	int err, udp, user_mark;

	if (lpOverlapped || lpCompletionRoutine)
		return crd_ws_no_overlapped();
	crd_ws_call_begin(&c, lpdwNumberOfBytesRecvd, NULL, NULL);
	err = crd_ws_socket_ino(s, &ino);
	if (!err)
		err = c.fault;
	if (!err && !lpMsg)
		err = WSAEFAULT;
	if (!err)
		err = crd_ws_msghdr(lpMsg, &mh, small, &heap);
	if (!err && (udp = crd_ws_udp_setup(s, ino, &user_mark)))
		err = ws_recv_udp(s, ino, udp, user_mark, lpMsg, &mh, &n);
	else if (!err) {
		cap = lpMsg->Control.len;
		mh.msg_control = cap ? lpMsg->Control.buf : NULL;
		mh.msg_controllen = cap;
		r = recvmsg(s, &mh, (int)lpMsg->dwFlags);
		if (r < 0) {
			err = crd_ws_from_errno(errno);
		} else {
			n = (DWORD)r;
			if (lpMsg->name)
				lpMsg->namelen = (INT)mh.msg_namelen;
			lpMsg->Control.len = (ULONG)mh.msg_controllen;
			lpMsg->dwFlags = (ULONG)mh.msg_flags;
		}
	}
	free(heap);
	return crd_ws_call_end(&c, err, n);
}
