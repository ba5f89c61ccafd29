// SPDX-License-Identifier: MIT
/*
 * test_winsock_sock.c - unit tests for winsock/socket.c and the Winsock
 * rules around it: select() with nfds ignored, the IP_WFP_REDIRECT_*
 * socket options at IPPROTO_IP and IPPROTO_IPV6 (and that Linux's options
 * 60/70 are left alone), overlapped data calls failing at once, the
 * overlapped-only extension lookups, native errors never surfacing as a
 * negative FWP_E_* number, and WSASocket/WSAConnect/WSAAccept/WSASend/
 * WSARecv/WSASendTo/WSARecvFrom/ioctlsocket on loopback.
 *
 * Everything runs in a network namespace of its own (loopback only); without
 * root the checks are skipped, which the runner counts as a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/winsock.h>
#include "winsock_int.h"   /* not API: crd_ws_native_error (static link) */
#include "unit.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

/* A call that blocks instead of failing at once ends the test here. */
static void on_alarm(int sig)
{
	static const char msg[] = "FAIL main: a call blocked (alarm)\n";

	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static int sockopt_int(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return (getsockopt)(s, level, name, &v, &l) ? -1 : v;
}

static void test_select(void)
{
	int p[2], hi;
	fd_set r, w;
	struct timeval tv = { 2, 0 }, zero = { 0, 0 };

	UNIT_TEST("select");
	if (!CHECK(!socketpair(AF_UNIX, SOCK_STREAM, 0, p), "a socket pair"))
		return;
	FD_ZERO(&r);
	FD_SET(p[1], &r);
	CHECK(select(0, &r, NULL, NULL, &zero) == 0, "nothing to read, nfds 0: 0 (timeout)");
	(void)!write(p[0], "x", 1);
	FD_ZERO(&r);
	FD_SET(p[1], &r);
	CHECK(select(0, &r, NULL, NULL, &tv) == 1 && FD_ISSET(p[1], &r),
	      "data waiting, FD_SET, nfds 0: ready (Winsock ignores nfds)");
	CHECK(tv.tv_sec == 2 && tv.tv_usec == 0, "the timeout is left unchanged, as Winsock does");
	hi = dup2(p[1], 700);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(hi, &r);
	FD_SET(p[0], &w);
	CHECK(hi == 700 && select(1, &r, &w, NULL, &tv) == 2 && FD_ISSET(hi, &r) &&
	      !FD_ISSET(p[0], &r) && FD_ISSET(p[0], &w),
	      "descriptor 700 read-ready and another write-ready, nfds 1: both seen");
	FD_ZERO(&r);
	CHECK(select(0, &r, NULL, NULL, &zero) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL,
	      "no descriptor in any set: WSAEINVAL");
	CHECK(select(0, NULL, NULL, NULL, &zero) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL,
	      "all sets NULL: WSAEINVAL");
	close(hi);
	close(p[0]);
	close(p[1]);
}

/* setsockopt(@level, @name, @on) then getsockopt: the state read back, or -1. */
static int wfp_set_get(int s, int level, int name, DWORD on)
{
	DWORD v = 99;
	socklen_t l = sizeof(v);

	if (setsockopt(s, level, name, &on, sizeof(on)))
		return -1;
	if (getsockopt(s, level, name, &v, &l) || l != sizeof(DWORD))
		return -2;
	return (int)v;
}

static void test_wfp_options(void)
{
	int u4 = socket(AF_INET, SOCK_DGRAM, 0), u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	int t = socket(AF_INET, SOCK_STREAM, 0), p[2], flow0, pmtu0, rc;
	DWORD on = TRUE;
	WORD small = 1;

	UNIT_TEST("wfp_options");
	if (!CHECK(u4 >= 0 && u6 >= 0 && t >= 0 && !pipe(p), "UDP v4/v6 and TCP sockets"))
		return;
	CHECK(sockopt_int(u4, SOL_SOCKET, SO_RCVMARK) == 0, "SO_RCVMARK off before");
	CHECK(wfp_set_get(u4, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, TRUE) == 1,
	      "UDP v4, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS TRUE: 0, reads back TRUE");
	CHECK(sockopt_int(u4, SOL_SOCKET, SO_RCVMARK) == 1,
	      "the socket is set up for the messages at once (SO_RCVMARK on)");
	CHECK(wfp_set_get(u4, IPPROTO_IP, IP_WFP_REDIRECT_CONTEXT, TRUE) == 1,
	      "UDP v4, IPPROTO_IP, IP_WFP_REDIRECT_CONTEXT TRUE");
	CHECK(wfp_set_get(u4, IPPROTO_IP, IP_WFP_REDIRECT_CONTEXT, FALSE) == 0,
	      "FALSE turns the context message off");
	CHECK(wfp_set_get(u4, IPPROTO_IPV6, IPV6_WFP_REDIRECT_RECORDS, TRUE) == 1,
	      "UDP v4, IPPROTO_IPV6 level accepted too");

	flow0 = sockopt_int(u6, IPPROTO_IPV6, IPV6_AUTOFLOWLABEL);
	pmtu0 = sockopt_int(u6, IPPROTO_IPV6, IPV6_RECVPATHMTU);
	CHECK(IPV6_WFP_REDIRECT_RECORDS == IPV6_RECVPATHMTU &&
	      IPV6_WFP_REDIRECT_CONTEXT == IPV6_AUTOFLOWLABEL,
	      "the WFP options share their numbers with IPV6_RECVPATHMTU / IPV6_AUTOFLOWLABEL");
	/* Each set to what Linux's option of that number is not. */
	CHECK(wfp_set_get(u6, IPPROTO_IPV6, IPV6_WFP_REDIRECT_RECORDS, !pmtu0) == !pmtu0 &&
	      wfp_set_get(u6, IPPROTO_IPV6, IPV6_WFP_REDIRECT_CONTEXT, !flow0) == !flow0,
	      "UDP v6, IPPROTO_IPV6, both options set and read back");
	CHECK(sockopt_int(u6, IPPROTO_IPV6, IPV6_RECVPATHMTU) == pmtu0 &&
	      sockopt_int(u6, IPPROTO_IPV6, IPV6_AUTOFLOWLABEL) == flow0,
	      "Linux's IPV6_RECVPATHMTU and IPV6_AUTOFLOWLABEL untouched [%d %d]", pmtu0, flow0);
	CHECK(wfp_set_get(u6, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, FALSE) == 0,
	      "UDP v6, IPPROTO_IP level, FALSE");
	CHECK(sockopt_int(u6, SOL_SOCKET, SO_RCVMARK) == 1, "UDP v6: SO_RCVMARK on");

	rc = setsockopt(t, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, &on, sizeof(on));
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOPROTOOPT, "TCP: WSAENOPROTOOPT");
	rc = setsockopt(p[0], IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, &on, sizeof(on));
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK, "a pipe: WSAENOTSOCK");
	rc = setsockopt(u4, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, &small, sizeof(small));
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "optlen 2: WSAEFAULT");
	rc = setsockopt(u4, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, NULL, sizeof(on));
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "optval NULL: WSAEFAULT");

	CHECK(setsockopt(t, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, &on, sizeof(on)) == 0,
	      "SO_EXCLUSIVEADDRUSE TRUE: accepted");
	CHECK(wfp_set_get(t, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, TRUE) == 0,
	      "SO_EXCLUSIVEADDRUSE reads back FALSE (it does nothing)");
	CHECK(setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 &&
	      sockopt_int(t, SOL_SOCKET, SO_REUSEADDR) == 1, "other options reach libc");
	close(u4);
	close(u6);
	close(t);
	close(p[0]);
	close(p[1]);
}

static int routine_calls;
static void routine(DWORD e, DWORD n, LPWSAOVERLAPPED ov, DWORD f)
{
	routine_calls++;
}

static void test_overlapped(void)
{
	GUID rid = WSAID_WSARECVMSG;
	GUID refused[] = { WSAID_ACCEPTEX, WSAID_CONNECTEX, WSAID_GETACCEPTEXSOCKADDRS,
			   WSAID_DISCONNECTEX, WSAID_TRANSMITFILE };
	LPFN_WSARECVMSG WSARecvMsg = NULL;
	void *fn = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char data[16];
	WSABUF b = { sizeof(data), data };
	WSAMSG m;
	WSAOVERLAPPED ov;
	WSAEVENT ev = WSACreateEvent();
	DWORD n = 7, flags = 0;
	int u = socket(AF_INET, SOCK_DGRAM, 0), p[2], rc, fromlen = sizeof(a);
	unsigned i;

	UNIT_TEST("overlapped");
	if (!CHECK(u >= 0 && !bind(u, (struct sockaddr *)&a, sizeof(a)) &&
		   !socketpair(AF_UNIX, SOCK_STREAM, 0, p) && ev != WSA_INVALID_EVENT,
		   "a blocking UDP socket and a blocking socket pair, nothing to read"))
		return;
	WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &WSARecvMsg,
		 sizeof(WSARecvMsg), &n, NULL, NULL);
	if (!CHECK(WSARecvMsg != NULL, "WSARecvMsg through its GUID"))
		return;
	alarm(10);

	memset(&ov, 0x5a, sizeof(ov));
	ov.hEvent = ev;
	memset(&m, 0, sizeof(m));
	m.lpBuffers = &b;
	m.dwBufferCount = 1;
	n = 7;
	rc = WSARecvMsg(u, &m, &n, &ov, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP,
	      "overlapped WSARecvMsg on a blocking socket: WSAEOPNOTSUPP at once (no deadlock)");
	CHECK(ov.Internal == (ULONG_PTR)0x5a5a5a5a5a5a5a5aull && n == 7 &&
	      WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT,
	      "the WSAOVERLAPPED, the count and the event are untouched");
	rc = WSARecv(p[1], &b, 1, &n, &flags, &ov, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP, "overlapped WSARecv: WSAEOPNOTSUPP");
	rc = WSARecvFrom(u, &b, 1, &n, &flags, (struct sockaddr *)&a, &fromlen, NULL, routine);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP && routine_calls == 0,
	      "WSARecvFrom with only a completion routine: WSAEOPNOTSUPP, routine not called");
	rc = WSASend(p[0], &b, 1, &n, 0, &ov, routine);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP && routine_calls == 0,
	      "overlapped WSASend: WSAEOPNOTSUPP, nothing sent");
	rc = WSASendTo(u, &b, 1, &n, 0, (struct sockaddr *)&a, sizeof(a), &ov, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP, "overlapped WSASendTo: WSAEOPNOTSUPP");
	m.name = (LPSOCKADDR)&a;
	m.namelen = sizeof(a);
	rc = WSASendMsg(u, &m, 0, NULL, &ov, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP, "overlapped WSASendMsg: WSAEOPNOTSUPP");
	b.len = 1;
	rc = WSASend(p[0], &b, 1, &n, 0, NULL, NULL);
	CHECK(rc == 0 && n == 1, "the same WSASend without lpOverlapped sends");
	alarm(0);

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &refused[i], sizeof(GUID), &fn,
			      sizeof(fn), &n, NULL, NULL);
		CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP && fn == NULL,
		      "overlapped-only extension %u (AcceptEx, ConnectEx ...): WSAEOPNOTSUPP", i);
	}
	WSACloseEvent(ev);
	close(u);
	close(p[0]);
	close(p[1]);
}

static void test_native_errors(void)
{
	static const DWORD codes[] = { SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS,
				       SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT,
				       SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS };
	int e, bad = 0, w;
	unsigned i;

	UNIT_TEST("native_errors");
	for (i = 0; i < 3; i++)
		for (e = 1; e < 200; e++) {
			w = crd_ws_native_error(-e, codes[i]);
			if (w <= 0 || w == (int)FWP_E_NOT_FOUND)
				bad++;
		}
	CHECK(bad == 0, "every native -errno, for every WFP code, is a positive Winsock error");
	CHECK(crd_ws_native_error(-ENOENT, codes[0]) == WSAENOPROTOOPT &&
	      crd_ws_native_error(-ENOENT, codes[1]) == WSAENOPROTOOPT &&
	      crd_ws_native_error(-ENOENT, codes[2]) == WSAENOPROTOOPT,
	      "never redirected (WFP's FWP_E_NOT_FOUND): WSAENOPROTOOPT");
	CHECK(crd_ws_native_error(-EACCES, codes[1]) == WSAENOPROTOOPT,
	      "another service's context: WSAENOPROTOOPT (none for the caller)");
	CHECK(crd_ws_native_error(-EACCES, codes[2]) == WSAEACCES, "SET by another proxy: WSAEACCES");
	CHECK(crd_ws_native_error(-EOPNOTSUPP, codes[0]) == WSAEOPNOTSUPP, "no connredir: WSAEOPNOTSUPP");
}

static void test_inetaddr(void)
{
	SOCKADDR_STORAGE x, y;
	SOCKADDR *sx = (SOCKADDR *)&x, *sy = (SOCKADDR *)&y;
	SOCKADDR_IN *x4 = (SOCKADDR_IN *)&x;
	SOCKADDR_IN6 *x6 = (SOCKADDR_IN6 *)&x;
	static const UCHAR one6[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

	UNIT_TEST("inetaddr");
	memset(&x, 0x5a, sizeof(x));
	x.ss_family = AF_INET;
	INETADDR_SETANY(sx);
	CHECK(x4->sin_family == AF_INET && x4->sin_port == 0 && x4->sin_addr.s_addr == 0 &&
	      INETADDR_ISANY(sx) && !INETADDR_ISLOOPBACK(sx), "v4 SETANY: 0.0.0.0 port 0, ISANY");
	INETADDR_SETLOOPBACK(sx);
	INETADDR_SET_PORT(sx, htons(853));
	CHECK(x4->sin_addr.s_addr == htonl(0x7f000001u) && INETADDR_ISLOOPBACK(sx) &&
	      !INETADDR_ISANY(sx) && INETADDR_PORT(sx) == htons(853) &&
	      INETADDR_ADDRESS(sx) == (PUCHAR)&x4->sin_addr && INETADDR_ADDRESS(sx)[0] == 127,
	      "v4 SETLOOPBACK, SET_PORT, PORT (network order), ADDRESS");
	memset(&x, 0x5a, sizeof(x));
	x.ss_family = AF_INET6;
	INETADDR_SETANY(sx);
	CHECK(x6->sin6_family == AF_INET6 && x6->sin6_port == 0 && x6->sin6_scope_id == 0 &&
	      x6->sin6_flowinfo == 0 && INETADDR_ISANY(sx), "v6 SETANY: ::, port, flow, scope 0");
	INETADDR_SETLOOPBACK(sx);
	INETADDR_SET_PORT(sx, htons(53));
	CHECK(!memcmp(&x6->sin6_addr, one6, 16) && INETADDR_ISLOOPBACK(sx) &&
	      INETADDR_PORT(sx) == htons(53) && INETADDR_ADDRESS(sx) == (PUCHAR)&x6->sin6_addr,
	      "v6 SETLOOPBACK (::1), SET_PORT, PORT, ADDRESS");
	memcpy(&y, &x, sizeof(y));
	INETADDR_SET_PORT(sy, htons(54));
	CHECK(INETADDR_ISEQUAL(sx, sy), "ISEQUAL: same address, ports not compared");
	y.ss_family = AF_INET;
	CHECK(!INETADDR_ISEQUAL(sx, sy), "ISEQUAL: another family differs");
}

static int cond_verdict;
static int cond_calls;
static int condition(LPWSABUF caller, LPWSABUF cdata, LPQOS s, LPQOS g, LPWSABUF callee,
		     LPWSABUF edata, GROUP *grp, DWORD_PTR data)
{
	const SOCKADDR *peer = (const SOCKADDR *)caller->buf;

	cond_calls++;
	if (data != 42 || cdata || edata || s || g || !callee || callee->len == 0 ||
	    !INETADDR_ISLOOPBACK(peer))
		return -1;
	return cond_verdict;
}

static void test_sockets(void)
{
	SOCKADDR_STORAGE ss, peer;
	SOCKADDR_IN *a = (SOCKADDR_IN *)&ss;
	socklen_t sl = sizeof(ss);
	SOCKET l, c, s, u, v;
	char out1[] = "hello ", out2[] = "winsock", in[64];
	WSABUF ob[2] = { { 6, out1 }, { 7, out2 } }, ib = { sizeof(in), in };
	DWORD n = 0, flags = 0;
	INT plen = sizeof(peer);
	unsigned long arg;
	int rc;

	UNIT_TEST("sockets");
	ZeroMemory(&ss, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = WSASocket(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
		      WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
	if (!CHECK(l != INVALID_SOCKET && !bind(l, (SOCKADDR *)&ss, sizeof(*a)) && !listen(l, 4) &&
		   !getsockname(l, (SOCKADDR *)&ss, &sl), "WSASocket(WSA_FLAG_OVERLAPPED) listens"))
		return;
	CHECK(fcntl(l, F_GETFD) & FD_CLOEXEC, "WSA_FLAG_NO_HANDLE_INHERIT: close-on-exec");
	CHECK(WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_REGISTERED_IO) == INVALID_SOCKET &&
	      WSAGetLastError() == WSAEOPNOTSUPP, "WSA_FLAG_REGISTERED_IO: WSAEOPNOTSUPP");
	CHECK(WSASocketW(AF_INET, SOCK_STREAM, 0, NULL, 0, WSA_FLAG_MULTIPOINT_C_ROOT) == INVALID_SOCKET &&
	      WSAGetLastError() == WSAEINVAL, "a multipoint flag: WSAEINVAL");
	CHECK(WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 3, 0) == INVALID_SOCKET &&
	      WSAGetLastError() == WSAEINVAL, "a socket group: WSAEINVAL");

	c = WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 0, 0);
	CHECK(WSAConnect(c, (SOCKADDR *)&ss, sizeof(*a), NULL, NULL, NULL, NULL) == 0, "WSAConnect");
	cond_verdict = CF_ACCEPT;
	s = WSAAccept(l, (SOCKADDR *)&peer, &plen, condition, 42);
	CHECK(s != INVALID_SOCKET && cond_calls == 1 && plen == sizeof(SOCKADDR_IN) &&
	      INETADDR_ISLOOPBACK((SOCKADDR *)&peer),
	      "WSAAccept: the condition sees the peer and the local address, CF_ACCEPT");
	rc = WSASend(c, ob, 2, &n, 0, NULL, NULL);
	CHECK(rc == 0 && n == 13, "WSASend of two buffers: 13 bytes");
	flags = 0;
	rc = WSARecv(s, &ib, 1, &n, &flags, NULL, NULL);
	CHECK(rc == 0 && n == 13 && !memcmp(in, "hello winsock", 13) && flags == 0,
	      "WSARecv: the 13 bytes, flags 0");
	arg = 0;
	CHECK(ioctlsocket(s, FIONREAD, &arg) == 0 && arg == 0, "ioctlsocket(FIONREAD): 0 bytes");
	arg = 1;
	CHECK(ioctlsocket(s, FIONBIO, &arg) == 0, "ioctlsocket(FIONBIO, 1)");
	rc = WSARecv(s, &ib, 1, &n, &flags, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK,
	      "non-blocking WSARecv with nothing to read: WSAEWOULDBLOCK");
	CHECK(ioctlsocket(s, 0x1234, &arg) == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL,
	      "ioctlsocket with another code: WSAEINVAL");
	CHECK(WSARecv(s, &ib, 1, NULL, &flags, NULL, NULL) == SOCKET_ERROR &&
	      WSAGetLastError() == WSAEFAULT, "WSARecv without a count: WSAEFAULT");
	CHECK(WSARecv(s, &ib, 1, &n, NULL, NULL, NULL) == SOCKET_ERROR &&
	      WSAGetLastError() == WSAEFAULT, "WSARecv without flags: WSAEFAULT");
	CHECK(shutdown(c, SD_SEND) == 0 && ioctlsocket(s, FIONBIO, (arg = 0, &arg)) == 0 &&
	      WSARecv(s, &ib, 1, &n, &flags, NULL, NULL) == 0 && n == 0,
	      "shutdown(SD_SEND): WSARecv gets 0 bytes");
	closesocket(s);
	closesocket(c);

	c = WSASocketA(AF_INET, SOCK_STREAM, 0, NULL, 0, 0);
	CHECK(WSAConnect(c, (SOCKADDR *)&ss, sizeof(*a), NULL, NULL, NULL, NULL) == 0, "WSAConnect again");
	cond_verdict = CF_REJECT;
	plen = sizeof(peer);
	CHECK(WSAAccept(l, (SOCKADDR *)&peer, &plen, condition, 42) == INVALID_SOCKET &&
	      WSAGetLastError() == WSAECONNREFUSED, "CF_REJECT: WSAECONNREFUSED, connection closed");
	CHECK(WSAConnect(c, (SOCKADDR *)&ss, sizeof(*a), &ob[0], NULL, NULL, NULL) == SOCKET_ERROR &&
	      WSAGetLastError() == WSAEOPNOTSUPP, "WSAConnect with caller data: WSAEOPNOTSUPP");
	closesocket(c);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	rc = WSAConnect(c, (SOCKADDR *)&ss, sizeof(*a), NULL, NULL, NULL, NULL);
	CHECK(rc == 0 || WSAGetLastError() == WSAEWOULDBLOCK,
	      "non-blocking WSAConnect: WSAEWOULDBLOCK (not WSAEINPROGRESS) [%d]", WSAGetLastError());
	closesocket(c);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	rc = connect(c, (SOCKADDR *)&ss, sizeof(*a));
	CHECK(rc == 0 || (errno == EINPROGRESS && WSAGetLastError() == WSAEWOULDBLOCK),
	      "non-blocking connect(2), then WSAGetLastError: WSAEWOULDBLOCK, as on Windows [rc %d]", rc);
	closesocket(c);
	closesocket(l);

	/* UDP: WSASendTo / WSARecvFrom, and a datagram cut short. */
	u = socket(AF_INET, SOCK_DGRAM, 0);
	v = socket(AF_INET, SOCK_DGRAM, 0);
	a->sin_port = 0;
	sl = sizeof(ss);
	if (!CHECK(u >= 0 && v >= 0 && !bind(u, (SOCKADDR *)&ss, sizeof(*a)) &&
		   !getsockname(u, (SOCKADDR *)&ss, &sl), "UDP sockets"))
		return;
	rc = WSASendTo(v, ob, 2, &n, 0, (SOCKADDR *)&ss, sizeof(*a), NULL, NULL);
	CHECK(rc == 0 && n == 13, "WSASendTo of two buffers");
	plen = sizeof(peer);
	flags = 0;
	ib.len = 5;
	rc = WSARecvFrom(u, &ib, 1, &n, &flags, (SOCKADDR *)&peer, &plen, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEMSGSIZE && n == 5 &&
	      (flags & MSG_TRUNC) && plen == sizeof(SOCKADDR_IN) && INETADDR_PORT((SOCKADDR *)&peer),
	      "WSARecvFrom into 5 bytes: WSAEMSGSIZE, 5 bytes, MSG_TRUNC, the sender's address");
	close(u);
	close(v);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	test_native_errors();
	test_select();
	test_inetaddr();
	if (unit_own_netns()) {
		test_wfp_options();
		test_overlapped();
		test_sockets();
	} else {
		printf("SKIP sockets: no network namespace of our own (needs root)\n");
	}
	return unit_done();
}
