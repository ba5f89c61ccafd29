// SPDX-License-Identifier: MIT
/*
 * socket.c - the Winsock calls a proxy written for Windows makes around
 * the redirect codes (winsock.h): WSAStartup, WSACleanup, WSASocket,
 * closesocket, WSAConnect, WSAAccept,
 * WSASend/WSASendTo/WSARecv/WSARecvFrom, ioctlsocket, and select(),
 * setsockopt() and getsockopt() with Winsock's rules. Each is the libc call
 * underneath, with Winsock's errors in WSAGetLastError(); none emulates
 * overlapped I/O (a call that asks for it fails at once, WSAEOPNOTSUPP).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "crd_export.h"
#include "winsock_int.h"

/* Fail with Winsock error @w: SOCKET_ERROR (also INVALID_SOCKET: both -1). */
static int ws_fail(int w)
{
	crd_ws_set_last(w);
	return SOCKET_ERROR;
}

/* Fail with the errno of the libc call that just failed. */
static int ws_fail_errno(void)
{
	return ws_fail(crd_ws_from_errno(errno));
}

/* ---- Sockets ------------------------------------------------------------------ */

CRD_EXPORT int closesocket(SOCKET s)
{
	int saved = errno, err = crd_ws_socket(s);

	if (!err)
		crd_ws_flow_forget(s);
	if (!err && close(s) && errno != EINTR)
		err = crd_ws_from_errno(errno);
	if (err) {
		crd_ws_set_last(err);
		return SOCKET_ERROR;
	}
	errno = saved;
	return 0;
}

CRD_EXPORT int WSAStartup(WORD wVersionRequested, LPWSADATA lpWSAData)
{
	WORD v = wVersionRequested;

	if (!lpWSAData)
		return WSAEFAULT;
	if ((v & 0xff) < 1)
		return WSAVERNOTSUPPORTED;
	if ((v & 0xff) > 2 || ((v & 0xff) == 2 && (v >> 8) > 2))
		v = MAKEWORD(2, 2);
	memset(lpWSAData, 0, sizeof(*lpWSAData));
	lpWSAData->wVersion = v;
	lpWSAData->wHighVersion = MAKEWORD(2, 2);
	strcpy(lpWSAData->szDescription, "connredir Winsock compatibility");
	strcpy(lpWSAData->szSystemStatus, "Running");
	return 0;
}

CRD_EXPORT int WSACleanup(void)
{
	return 0;
}

void crd_ws_reset(void)
{
	crd_ws_events_reset();
	crd_ws_flows_reset();
	crd_ws_copy_reset();
}

static SOCKET ws_socket_flags(int af, int type, int protocol, const void *info, GROUP g,
			      DWORD flags)
{
	const DWORD known = WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT;
	SOCKET s;

	if (flags & WSA_FLAG_REGISTERED_IO)
		return ws_fail(WSAEOPNOTSUPP);
	if (info || g != 0 || (flags & ~known))
		return ws_fail(WSAEINVAL);
	if (flags & WSA_FLAG_NO_HANDLE_INHERIT)
		type |= SOCK_CLOEXEC;
	s = socket(af, type, protocol);
	return s < 0 ? ws_fail_errno() : s;
}

CRD_EXPORT SOCKET WSASocketA(int af, int type, int protocol, LPWSAPROTOCOL_INFOA lpProtocolInfo,
			     GROUP g, DWORD dwFlags)
{
	return ws_socket_flags(af, type, protocol, lpProtocolInfo, g, dwFlags);
}

CRD_EXPORT SOCKET WSASocketW(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo,
			     GROUP g, DWORD dwFlags)
{
	return ws_socket_flags(af, type, protocol, lpProtocolInfo, g, dwFlags);
}

CRD_EXPORT int WSAConnect(SOCKET s, const struct sockaddr *name, int namelen,
			  LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS, LPQOS lpGQOS)
{
	int saved = errno;

	if ((lpCallerData && lpCallerData->len) || (lpCalleeData && lpCalleeData->len) ||
	    lpSQOS || lpGQOS)
		return ws_fail(WSAEOPNOTSUPP);
	if (namelen < 0)
		return ws_fail(WSAEFAULT);
	if (connect(s, name, (socklen_t)namelen))
		return ws_fail_errno();   /* EINPROGRESS: WSAEWOULDBLOCK, as on Windows */
	errno = saved;
	return 0;
}

CRD_EXPORT SOCKET WSAAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
			    LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	WSABUF caller, callee;
	GROUP g = 0;
	SOCKET a;
	int saved = errno, verdict;

	if (addr && (!addrlen || *addrlen < 0))
		return ws_fail(WSAEFAULT);
	a = accept(s, (struct sockaddr *)&peer, &plen);
	if (a < 0)
		return ws_fail_errno();
	if (lpfnCondition) {
		if (getsockname(a, (struct sockaddr *)&local, &llen))
			llen = 0;
		caller = (WSABUF){ .len = plen, .buf = (CHAR *)&peer };
		callee = (WSABUF){ .len = llen, .buf = (CHAR *)&local };
		verdict = lpfnCondition(&caller, NULL, NULL, NULL, &callee, NULL, &g,
					dwCallbackData);
		if (verdict != CF_ACCEPT) {
			close(a);
			return ws_fail(verdict == CF_REJECT ? WSAECONNREFUSED :
				       verdict == CF_DEFER ? WSAEOPNOTSUPP : WSAEINVAL);
		}
	}
	if (addr) {
		memcpy(addr, &peer, (size_t)*addrlen < plen ? (size_t)*addrlen : plen);
		*addrlen = (INT)plen;
	}
	errno = saved;
	return a;
}

/* ---- Data ----------------------------------------------------------------------- */

/*
 * One send or receive of @count WSABUFs at @bufs, with @name / *@namelen
 * (an address to send to, or room for the peer's), @flags. Returns 0 or a
 * Winsock error; *@n the bytes, *@out_flags the result flags.
 */
static int ws_xfer(SOCKET s, int send, LPWSABUF bufs, DWORD count, struct sockaddr *name,
		   int *namelen, int flags, DWORD *n, int *out_flags)
{
	struct iovec small[CRD_WS_IOV_STACK], *heap = NULL;
	WSAMSG m = { .name = name, .namelen = namelen ? *namelen : 0, .lpBuffers = bufs,
		     .dwBufferCount = count };
	struct msghdr mh;
	ssize_t r;
	int err, type = 0;
	socklen_t tl = sizeof(type);

	err = crd_ws_msghdr(&m, &mh, small, &heap);
	if (err)
		return err;
	r = send ? sendmsg(s, &mh, flags | MSG_NOSIGNAL) : recvmsg(s, &mh, flags);
	if (r < 0) {
		err = crd_ws_from_errno(errno);
	} else {
		*n = (DWORD)r;
		*out_flags = mh.msg_flags;
		if (namelen && name)
			*namelen = (int)mh.msg_namelen;
		/* A datagram cut short: Windows fails the receive, count set. */
		if (!send && (mh.msg_flags & MSG_TRUNC) &&
		    !getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &tl) && type != SOCK_STREAM)
			err = WSAEMSGSIZE;
	}
	free(heap);
	return err;
}

/* The common part of the four data calls. */
static int ws_data(SOCKET s, int send, LPWSABUF bufs, DWORD count, LPDWORD bytes,
		   LPDWORD flags_io, DWORD flags_in, struct sockaddr *name, int *namelen,
		   LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE fn)
{
	int saved = errno, out_flags = 0, err;
	DWORD n = 0;

	if (ov || fn)
		return crd_ws_no_overlapped();
	if (!bytes || (!send && !flags_io) || (namelen && *namelen < 0))
		return ws_fail(WSAEFAULT);
	*bytes = 0;
	err = ws_xfer(s, send, bufs, count, name, namelen,
		      (int)(send ? flags_in : *flags_io), &n, &out_flags);
	*bytes = n;
	if (!send && (!err || err == WSAEMSGSIZE))
		*flags_io = (DWORD)out_flags;
	if (err)
		return ws_fail(err);
	errno = saved;
	return 0;
}

CRD_EXPORT int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesSent, DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	return ws_data(s, 1, lpBuffers, dwBufferCount, lpNumberOfBytesSent, NULL, dwFlags, NULL,
		       NULL, lpOverlapped, lpCompletionRoutine);
}

CRD_EXPORT int WSASendTo(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
			 LPDWORD lpNumberOfBytesSent, DWORD dwFlags, const struct sockaddr *lpTo,
			 int iTolen, LPWSAOVERLAPPED lpOverlapped,
			 LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	int len = lpTo ? iTolen : 0;

	/* sendmsg(2) does not write the name: dropping const is safe. */
	return ws_data(s, 1, lpBuffers, dwBufferCount, lpNumberOfBytesSent, NULL, dwFlags,
		       (struct sockaddr *)(uintptr_t)lpTo, lpTo ? &len : NULL, lpOverlapped,
		       lpCompletionRoutine);
}

CRD_EXPORT int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	return ws_data(s, 0, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, 0, NULL,
		       NULL, lpOverlapped, lpCompletionRoutine);
}

CRD_EXPORT int WSARecvFrom(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
			   LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags, struct sockaddr *lpFrom,
			   LPINT lpFromlen, LPWSAOVERLAPPED lpOverlapped,
			   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine)
{
	if (lpFrom && !lpFromlen)
		return ws_fail(WSAEFAULT);
	return ws_data(s, 0, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, 0, lpFrom,
		       lpFrom ? lpFromlen : NULL, lpOverlapped, lpCompletionRoutine);
}

CRD_EXPORT int ioctlsocket(SOCKET s, long cmd, unsigned long *argp)
{
	int saved = errno, v, fl;

	if (!argp)
		return ws_fail(WSAEFAULT);
	switch (cmd) {
	case FIONBIO:
		fl = fcntl(s, F_GETFL);
		if (fl < 0 || fcntl(s, F_SETFL, *argp ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
			return ws_fail_errno();
		break;
	case FIONREAD:
	case SIOCATMARK:
		if (ioctl(s, (unsigned long)cmd, &v))
			return ws_fail_errno();
		*argp = (unsigned long)v;
		break;
	default:
		return ws_fail(WSAEINVAL);
	}
	errno = saved;
	return 0;
}

/* ---- select ------------------------------------------------------------------------ */

/* The highest descriptor in @set (NULL: none) above @top, or @top. */
static int ws_top_fd(const fd_set *set, int top)
{
	int fd;

	if (!set)
		return top;
	for (fd = FD_SETSIZE - 1; fd > top; fd--)
		if (FD_ISSET(fd, set))
			return fd;
	return top;
}

CRD_EXPORT int connredir_ws_select(int nfds, fd_set *readfds, fd_set *writefds,
				   fd_set *exceptfds, struct timeval *timeout)
{
	struct timeval t, *tp = NULL;
	int top = -1, r, saved = errno;

	top = ws_top_fd(readfds, top);
	top = ws_top_fd(writefds, top);
	top = ws_top_fd(exceptfds, top);
	if (top < 0)
		return ws_fail(WSAEINVAL);   /* Winsock: no socket in any set */
	if (timeout) {
		t = *timeout;                /* Winsock leaves *timeout alone */
		tp = &t;
	}
	r = select(top + 1, readfds, writefds, exceptfds, tp);
	if (r < 0)
		return ws_fail_errno();
	errno = saved;
	return r;
}

/* ---- Socket options ---------------------------------------------------------------- */

static int ws_is_wfp_option(int level, int optname)
{
	return (level == IPPROTO_IP || level == IPPROTO_IPV6) &&
	       (optname == IP_WFP_REDIRECT_RECORDS || optname == IP_WFP_REDIRECT_CONTEXT);
}

CRD_EXPORT int connredir_ws_setsockopt(int s, int level, int optname, const void *optval,
				       socklen_t optlen)
{
	int saved = errno, on, err;
	DWORD v;

	if (ws_is_wfp_option(level, optname)) {
		if (!optval || optlen < sizeof(DWORD))
			return ws_fail(WSAEFAULT);
		memcpy(&v, optval, sizeof(v));
		on = v != 0;
		err = crd_ws_wfp_option(s, optname, 1, &on);
		if (err)
			return ws_fail(err);
	} else if (level == SOL_SOCKET && optname == SO_EXCLUSIVEADDRUSE) {
		if (!optval || optlen < sizeof(DWORD))
			return ws_fail(WSAEFAULT);
		if (fcntl(s, F_GETFD) < 0)
			return ws_fail(WSAENOTSOCK);
	} else {
		return setsockopt(s, level, optname, optval, optlen);
	}
	errno = saved;
	return 0;
}

CRD_EXPORT int connredir_ws_getsockopt(int s, int level, int optname, void *optval,
				       socklen_t *optlen)
{
	int saved = errno, on = 0, err;
	DWORD v;

	if (ws_is_wfp_option(level, optname) ||
	    (level == SOL_SOCKET && optname == SO_EXCLUSIVEADDRUSE)) {
		if (!optval || !optlen || *optlen < sizeof(DWORD))
			return ws_fail(WSAEFAULT);
		if (level != SOL_SOCKET) {
			err = crd_ws_wfp_option(s, optname, 0, &on);
			if (err)
				return ws_fail(err);
		} else if (fcntl(s, F_GETFD) < 0) {
			return ws_fail(WSAENOTSOCK);
		}
		v = (DWORD)on;
		memcpy(optval, &v, sizeof(v));
		*optlen = sizeof(v);
		errno = saved;
		return 0;
	}
	return getsockopt(s, level, optname, optval, optlen);
}
