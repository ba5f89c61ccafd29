// SPDX-License-Identifier: MIT
/*
 * test_winsock.c - unit tests for winsock.h / libconnredir-winsock: everything
 * that needs no BPF. Constants and layouts, the WSA_CMSG_* walk, WSAIoctl's
 * argument, socket-type and state errors and bad-pointer detection, the
 * extension function lookup with WSARecvMsg/WSASendMsg over a Unix socket
 * pair, the per-thread last error, overlapped completion, events, and the
 * resets of the library's global state (winsock/winsock_int.h).
 *
 * Checks on TCP/UDP sockets that connect run in a network namespace of
 * their own (loopback only), made at start; without root they are skipped,
 * which the runner counts as a failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>   /* with winsock.h: no clash (IOC_IN ...) */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <connredir/winsock.h>
#include "winsock_int.h"   /* not API: the cmsg codec and the flow table (static link) */
#include "unit.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

#define QREC SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS
#define QCTX SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT
#define SETREC SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS

static const DWORD read_only_dword = 5;

/* WSAIoctl with an output buffer: its return, the error, the byte count. */
struct io {
	int rc;
	int err;
	DWORD bytes;
};

static struct io ioctl_out(SOCKET s, DWORD code, void *out, DWORD cb)
{
	struct io r = { .bytes = 77 };

	WSASetLastError(0);
	r.rc = WSAIoctl(s, code, NULL, 0, out, cb, &r.bytes, NULL, NULL);
	r.err = r.rc ? WSAGetLastError() : 0;
	return r;
}

static struct io ioctl_set(SOCKET s, const void *in, DWORD cb_in, DWORD cb_out)
{
	struct io r = { .bytes = 77 };
	char out[8];

	WSASetLastError(0);
	r.rc = WSAIoctl(s, SETREC, (void *)in, cb_in, cb_out ? out : NULL, cb_out,
			&r.bytes, NULL, NULL);
	r.err = r.rc ? WSAGetLastError() : 0;
	return r;
}

static void test_constants(void)
{
	GUID rm = WSAID_WSARECVMSG, sm = WSAID_WSASENDMSG;
	static const uint8_t rm4[8] = { 0x8a, 0x53, 0xe5, 0x4f, 0xe3, 0x51, 0xc3, 0x22 };
	static const uint8_t sm4[8] = { 0x84, 0xa7, 0x0d, 0xee, 0x44, 0xcf, 0x60, 0x6d };

	UNIT_TEST("constants");
	CHECK_EQ_INT(SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, 0x980000DCu, "SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS");
	CHECK_EQ_INT(SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT, 0x980000DDu, "SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT");
	CHECK_EQ_INT(SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, 0x980000DEu, "SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS");
	CHECK_EQ_INT(SIO_GET_EXTENSION_FUNCTION_POINTER, 0xC8000006u, "SIO_GET_EXTENSION_FUNCTION_POINTER");
	CHECK_EQ_INT(IP_WFP_REDIRECT_RECORDS, 60, "IP_WFP_REDIRECT_RECORDS");
	CHECK_EQ_INT(IPV6_WFP_REDIRECT_RECORDS, 60, "IPV6_WFP_REDIRECT_RECORDS");
	CHECK_EQ_INT(IP_WFP_REDIRECT_CONTEXT, 70, "IP_WFP_REDIRECT_CONTEXT");
	CHECK_EQ_INT(IPV6_WFP_REDIRECT_CONTEXT, 70, "IPV6_WFP_REDIRECT_CONTEXT");
	CHECK_EQ_INT(SOCKET_ERROR, -1, "SOCKET_ERROR");
	CHECK_EQ_INT(INVALID_SOCKET, -1, "INVALID_SOCKET is what socket(2) fails with");
	CHECK_EQ_INT(WSAEINTR, 10004, "WSAEINTR");
	CHECK_EQ_INT(WSAEACCES, 10013, "WSAEACCES");
	CHECK_EQ_INT(WSAEFAULT, 10014, "WSAEFAULT");
	CHECK_EQ_INT(WSAEINVAL, 10022, "WSAEINVAL");
	CHECK_EQ_INT(WSAEWOULDBLOCK, 10035, "WSAEWOULDBLOCK");
	CHECK_EQ_INT(WSAEINPROGRESS, 10036, "WSAEINPROGRESS");
	CHECK_EQ_INT(WSAENOTSOCK, 10038, "WSAENOTSOCK");
	CHECK_EQ_INT(WSAENOPROTOOPT, 10042, "WSAENOPROTOOPT");
	CHECK_EQ_INT(WSAEOPNOTSUPP, 10045, "WSAEOPNOTSUPP");
	CHECK_EQ_INT(WSAENETDOWN, 10050, "WSAENETDOWN");
	CHECK_EQ_INT(WSAENOBUFS, 10055, "WSAENOBUFS");
	CHECK_EQ_INT(WSAEISCONN, 10056, "WSAEISCONN");
	CHECK_EQ_INT(WSAENOTCONN, 10057, "WSAENOTCONN");
	CHECK_EQ_INT(WSAECONNREFUSED, 10061, "WSAECONNREFUSED");
	CHECK_EQ_INT(WSA_IO_PENDING, 997, "WSA_IO_PENDING");
	CHECK_EQ_INT(WSA_IO_INCOMPLETE, 996, "WSA_IO_INCOMPLETE");
	CHECK_EQ_INT(WSA_OPERATION_ABORTED, 995, "WSA_OPERATION_ABORTED");
	CHECK_EQ_INT(WSA_INVALID_HANDLE, 6, "WSA_INVALID_HANDLE");
	CHECK_EQ_INT(WSA_INVALID_PARAMETER, 87, "WSA_INVALID_PARAMETER");
	CHECK_EQ_INT(ERROR_INSUFFICIENT_BUFFER, 122, "ERROR_INSUFFICIENT_BUFFER");
	CHECK_EQ_INT((uint32_t)FWP_E_NOT_FOUND, 0x80320008u, "FWP_E_NOT_FOUND");
	CHECK(FWP_E_NOT_FOUND < 0, "FWP_E_NOT_FOUND is a negative HRESULT (defined, never returned)");
	CHECK_EQ_INT(WSA_WAIT_TIMEOUT, 258, "WSA_WAIT_TIMEOUT");
	CHECK_EQ_INT(WSA_WAIT_FAILED, 0xFFFFFFFFu, "WSA_WAIT_FAILED");
	CHECK_EQ_INT(WSA_MAXIMUM_WAIT_EVENTS, 64, "WSA_MAXIMUM_WAIT_EVENTS");
	CHECK_EQ_INT(sizeof(DWORD), 4, "DWORD is 32 bits");
	CHECK_EQ_INT(sizeof(ULONG), 4, "ULONG is 32 bits, as on Windows");
	CHECK_EQ_INT(sizeof(GUID), 16, "GUID is 16 bytes");
	CHECK(rm.Data1 == 0xf689d7c8 && rm.Data2 == 0x6f1f && rm.Data3 == 0x436b &&
	      !memcmp(rm.Data4, rm4, 8), "WSAID_WSARECVMSG is Windows' GUID");
	CHECK(sm.Data1 == 0xa441e712 && sm.Data2 == 0x754f && sm.Data3 == 0x43ca &&
	      !memcmp(sm.Data4, sm4, 8), "WSAID_WSASENDMSG is Windows' GUID");
	CHECK_EQ_INT(MAKEWORD(2, 2), 0x0202, "MAKEWORD(2, 2)");
#if UINTPTR_MAX == UINT64_MAX
	/* Windows x64 layouts. */
	CHECK(sizeof(WSACMSGHDR) == 16 && offsetof(WSACMSGHDR, cmsg_level) == 8 &&
	      offsetof(WSACMSGHDR, cmsg_type) == 12, "WSACMSGHDR: SIZE_T len, INT level, INT type");
	CHECK(sizeof(WSABUF) == 16 && offsetof(WSABUF, buf) == 8, "WSABUF: ULONG len, CHAR *buf");
	CHECK(sizeof(WSAMSG) == 56 && offsetof(WSAMSG, namelen) == 8 &&
	      offsetof(WSAMSG, lpBuffers) == 16 && offsetof(WSAMSG, dwBufferCount) == 24 &&
	      offsetof(WSAMSG, Control) == 32 && offsetof(WSAMSG, dwFlags) == 48, "WSAMSG layout");
	CHECK(sizeof(WSAOVERLAPPED) == 32 && offsetof(WSAOVERLAPPED, InternalHigh) == 8 &&
	      offsetof(WSAOVERLAPPED, Offset) == 16 && offsetof(WSAOVERLAPPED, OffsetHigh) == 20 &&
	      offsetof(WSAOVERLAPPED, Pointer) == 16 && offsetof(WSAOVERLAPPED, hEvent) == 24,
	      "WSAOVERLAPPED layout");
#endif
}

static void test_cmsg(void)
{
	union {
		WSACMSGHDR align;
		unsigned char b[256];
	} u;
	WSAMSG m = { 0 };
	LPWSACMSGHDR c;
	uint32_t v = 0xdeadbeef, got;
	size_t n;
	int count, ok = 1;

	UNIT_TEST("cmsg");
	CHECK_EQ_INT(WSA_CMSG_LEN(0), 16, "WSA_CMSG_LEN(0)");
	CHECK_EQ_INT(WSA_CMSG_LEN(4), 20, "WSA_CMSG_LEN(4)");
	CHECK_EQ_INT(WSA_CMSG_SPACE(0), 16, "WSA_CMSG_SPACE(0)");
	CHECK_EQ_INT(WSA_CMSG_SPACE(4), 24, "WSA_CMSG_SPACE(4)");
	CHECK_EQ_INT(WSA_CMSG_SPACE(16), 32, "WSA_CMSG_SPACE(16)");
	CHECK_EQ_INT(WSA_CMSGHDR_ALIGN(9), 16, "WSA_CMSGHDR_ALIGN(9)");
	CHECK_EQ_INT(WSA_CMSGDATA_ALIGN(17), 24, "WSA_CMSGDATA_ALIGN(17)");
	for (n = 0; n < 64; n++)
		ok &= WSA_CMSG_LEN(n) == CMSG_LEN(n) && WSA_CMSG_SPACE(n) == CMSG_SPACE(n);
	CHECK(ok, "WSA_CMSG_LEN/SPACE equal Linux's CMSG_LEN/SPACE for 0..63");
	CHECK_EQ_INT(WSA_CMSG_DATA(&u.align) - u.b, 16, "WSA_CMSG_DATA is 16 bytes past the header");

	/* Build three messages the Windows way: FIRSTHDR, fill, NXTHDR. */
	memset(&u, 0, sizeof(u));
	m.Control.buf = (CHAR *)u.b;
	m.Control.len = sizeof(u.b);
	c = WSA_CMSG_FIRSTHDR(&m);
	CHECK(c == (LPWSACMSGHDR)u.b, "FIRSTHDR is the start of Control");
	c->cmsg_len = WSA_CMSG_LEN(sizeof(v));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = 2;
	memcpy(WSA_CMSG_DATA(c), &v, sizeof(v));
	c = WSA_CMSG_NXTHDR(&m, c);
	CHECK(c && (unsigned char *)c == u.b + WSA_CMSG_SPACE(4), "NXTHDR on a zeroed buffer: next slot");
	if (!c)
		return;
	c->cmsg_len = WSA_CMSG_LEN(5);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_WFP_REDIRECT_RECORDS;
	memcpy(WSA_CMSG_DATA(c), "hello", 5);
	c = WSA_CMSG_NXTHDR(&m, c);
	CHECK(c && (unsigned char *)c == u.b + WSA_CMSG_SPACE(4) + WSA_CMSG_SPACE(5),
	      "NXTHDR pads the 5-byte message to 8");
	if (!c)
		return;
	c->cmsg_len = WSA_CMSG_LEN(0);
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_WFP_REDIRECT_CONTEXT;
	m.Control.len = WSA_CMSG_SPACE(4) + WSA_CMSG_SPACE(5) + WSA_CMSG_LEN(0);

	count = 0;
	for (c = WSA_CMSG_FIRSTHDR(&m); c; c = WSA_CMSG_NXTHDR(&m, c)) {
		count++;
		if (count == 1) {
			memcpy(&got, WSA_CMSG_DATA(c), sizeof(got));
			CHECK(c->cmsg_level == SOL_SOCKET && c->cmsg_type == 2 && got == v,
			      "walk: 1st message, level/type/data");
		} else if (count == 2) {
			CHECK(c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_WFP_REDIRECT_RECORDS &&
			      c->cmsg_len == WSA_CMSG_LEN(5) && !memcmp(WSA_CMSG_DATA(c), "hello", 5),
			      "walk: 2nd message, level/type/data");
		} else if (count == 3) {
			CHECK(c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_WFP_REDIRECT_CONTEXT,
			      "walk: 3rd message, empty, unpadded at the end");
		} else {
			break;
		}
	}
	CHECK_EQ_INT(count, 3, "the walk sees exactly three messages");
	CHECK(WSA_CMSG_NXTHDR(&m, NULL) == WSA_CMSG_FIRSTHDR(&m), "NXTHDR(msg, NULL) is FIRSTHDR");

	/* Damaged lists end the walk instead of looping or running off. */
	((LPWSACMSGHDR)u.b)->cmsg_len = 0;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "cmsg_len 0: NXTHDR is NULL (Windows loops)");
	((LPWSACMSGHDR)u.b)->cmsg_len = 15;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "cmsg_len below the header: NULL");
	((LPWSACMSGHDR)u.b)->cmsg_len = (SIZE_T)-8;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "cmsg_len near SIZE_MAX: NULL");
	((LPWSACMSGHDR)u.b)->cmsg_len = m.Control.len + 1;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "cmsg_len past the buffer: NULL");
	((LPWSACMSGHDR)u.b)->cmsg_len = WSA_CMSG_LEN(4);
	((LPWSACMSGHDR)(u.b + WSA_CMSG_SPACE(4)))->cmsg_len = 200;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "next message's cmsg_len past the buffer: NULL");
	((LPWSACMSGHDR)(u.b + WSA_CMSG_SPACE(4)))->cmsg_len = WSA_CMSG_LEN(5);
	m.Control.len = WSA_CMSG_SPACE(4) + sizeof(WSACMSGHDR) - 1;
	CHECK(WSA_CMSG_NXTHDR(&m, (LPWSACMSGHDR)u.b) == NULL, "no room for the next header: NULL");
	m.Control.len = sizeof(WSACMSGHDR) - 1;
	CHECK(WSA_CMSG_FIRSTHDR(&m) == NULL, "Control shorter than a header: FIRSTHDR is NULL");
	m.Control.len = sizeof(u.b);
	m.Control.buf = NULL;
	CHECK(WSA_CMSG_FIRSTHDR(&m) == NULL, "Control.buf NULL: FIRSTHDR is NULL");
}

static void expect(struct io r, int err, DWORD bytes, const char *what)
{
	char w[160];

	snprintf(w, sizeof(w), "%s: SOCKET_ERROR", what);
	CHECK_EQ_INT(r.rc, err ? SOCKET_ERROR : 0, "%s", err ? w : what);
	CHECK_EQ_INT(r.err, err, "%s: error", what);
	CHECK_EQ_INT(r.bytes, bytes, "%s: *lpcbBytesReturned", what);
}

static void test_not_socket(void)
{
	char buf[64];
	int p[2], dn, closed;

	UNIT_TEST("not_socket");
	if (pipe(p))
		return;
	dn = open("/dev/null", O_RDWR);
	closed = dup(dn);
	close(closed);
	expect(ioctl_out(p[0], QREC, buf, sizeof(buf)), WSAENOTSOCK, 0, "records on a pipe");
	expect(ioctl_out(p[0], QREC, NULL, 0), WSAENOTSOCK, 0, "size query on a pipe");
	expect(ioctl_out(dn, QCTX, buf, sizeof(buf)), WSAENOTSOCK, 0, "context on /dev/null");
	expect(ioctl_set(dn, buf, 64, 0), WSAENOTSOCK, 0, "set on /dev/null");
	expect(ioctl_out(closed, QREC, buf, sizeof(buf)), WSAENOTSOCK, 0, "records on a closed fd");
	expect(ioctl_out(-1, QREC, buf, sizeof(buf)), WSAENOTSOCK, 0, "records on INVALID_SOCKET");
	expect(ioctl_out(p[1], 0x12345678, buf, sizeof(buf)), WSAENOTSOCK, 0,
	       "unknown code on a pipe: not a socket first");
	close(p[0]);
	close(p[1]);
	close(dn);
}

static void test_args(void)
{
	char buf[64], blob[64] = { 0 };
	struct io r;
	DWORD bytes = 9;
	int t, t6, u, x, rc;

	UNIT_TEST("args");
	t = socket(AF_INET, SOCK_STREAM, 0);
	t6 = socket(AF_INET6, SOCK_STREAM, 0);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	x = socket(AF_UNIX, SOCK_STREAM, 0);

	WSASetLastError(0);
	rc = WSAIoctl(t, QREC, NULL, 0, buf, sizeof(buf), NULL, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT,
	      "lpcbBytesReturned NULL without overlapped: WSAEFAULT");
	rc = WSAIoctl(t, QREC, NULL, 0, buf, sizeof(buf), (LPDWORD)16, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT,
	      "lpcbBytesReturned outside the address space: WSAEFAULT, no crash");
	rc = WSAIoctl(t, QREC, NULL, 0, buf, sizeof(buf), (LPDWORD)&read_only_dword, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT && read_only_dword == 5,
	      "lpcbBytesReturned read-only: WSAEFAULT, no crash");
	rc = WSAIoctl(t, QREC, NULL, 0, buf, sizeof(buf), &bytes, (LPWSAOVERLAPPED)16, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT && bytes == 0,
	      "lpOverlapped outside the address space: WSAEFAULT");

	expect(ioctl_out(t, 0x12345678, buf, sizeof(buf)), WSAEINVAL, 0, "unknown control code");
	expect(ioctl_out(t, SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS + 3, buf, sizeof(buf)),
	       WSAEINVAL, 0, "code 223 (not defined)");
	expect(ioctl_out(x, QREC, buf, sizeof(buf)), WSAEOPNOTSUPP, 0, "records on a Unix socket");
	expect(ioctl_out(x, QCTX, NULL, 0), WSAEOPNOTSUPP, 0, "context size on a Unix socket");
	expect(ioctl_set(x, blob, sizeof(blob), 0), WSAEOPNOTSUPP, 0, "set on a Unix socket");
	expect(ioctl_out(u, QREC, buf, sizeof(buf)), WSAEINVAL, 0, "records on a UDP socket");
	expect(ioctl_out(u, QCTX, buf, sizeof(buf)), WSAEINVAL, 0, "context on a UDP socket");
	expect(ioctl_set(u, blob, sizeof(blob), 0), WSAEINVAL, 0, "set on a UDP socket");

	/* Buffer rule 2 is an argument check: it comes before the socket's state. */
	expect(ioctl_out(t, QREC, buf, 2), WSAEINVAL, 0, "records into 2 bytes: WSAEINVAL, 0 bytes");
	expect(ioctl_out(t, QREC, buf, 1), WSAEINVAL, 0, "records into 1 byte: WSAEINVAL");
	expect(ioctl_out(t, QCTX, buf, 3), WSAEINVAL, 0, "context into 3 bytes: WSAEINVAL");
	expect(ioctl_out(t, QREC, NULL, 0), WSAENOTCONN, 0, "size query, unconnected: WSAENOTCONN");
	expect(ioctl_out(t, QREC, NULL, 2), WSAENOTCONN, 0,
	       "NULL buffer of size 2 is a size query: WSAENOTCONN");
	expect(ioctl_out(t, QREC, buf, 4), WSAENOTCONN, 0, "records into 4 bytes, unconnected");
	expect(ioctl_out(t, QREC, buf, sizeof(buf)), WSAENOTCONN, 0, "records, unconnected");
	expect(ioctl_out(t, QCTX, buf, sizeof(buf)), WSAENOTCONN, 0, "context, unconnected");
	expect(ioctl_out(t6, QREC, buf, sizeof(buf)), WSAENOTCONN, 0, "records, unconnected IPv6");

	expect(ioctl_set(t, blob, sizeof(blob), 4), WSAEINVAL, 0, "set with cbOutBuffer 4: WSAEINVAL");
	expect(ioctl_set(t, blob, 0, 0), WSAEINVAL, 0, "set with an empty blob: WSAEINVAL");
	expect(ioctl_set(t, NULL, 0, 0), WSAEINVAL, 0, "set with no blob: WSAEINVAL");
	expect(ioctl_set(t, NULL, 64, 0), WSAEFAULT, 0, "set with NULL and 64 bytes: WSAEFAULT");
	expect(ioctl_set(t, blob, CONNREDIR_RECORDS_MAX + 1, 0), WSAEINVAL, 0,
	       "set with more than 1 KiB: WSAEINVAL");
	r = ioctl_set(t, blob, sizeof(blob), 0);
	CHECK(r.rc == SOCKET_ERROR && (r.err == WSAEOPNOTSUPP || r.err == WSAEINVAL) && r.bytes == 0,
	      "set of a zero blob: WSAEOPNOTSUPP without connredir, WSAEINVAL with it [got %d]", r.err);
	close(t);
	close(t6);
	close(u);
	close(x);
}

/* The checks on connected, bound and listening IP sockets (own netns). */
static void test_connected(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	char buf[64], blob[64] = { 0 };
	int l, c, a, b;
	struct io r;

	UNIT_TEST("connected");
	l = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&sin, &sl)) {
		CHECK(0, "listen on 127.0.0.1: %s", strerror(errno));
		return;
	}
	expect(ioctl_out(l, QREC, buf, sizeof(buf)), WSAENOTCONN, 0, "records on a listener");
	expect(ioctl_set(l, blob, sizeof(blob), 0), WSAEINVAL, 0, "set on a listener: WSAEINVAL");
	b = socket(AF_INET, SOCK_STREAM, 0);
	bind(b, (struct sockaddr *)&(struct sockaddr_in){ .sin_family = AF_INET }, sizeof(sin));
	expect(ioctl_out(b, QREC, NULL, 0), WSAENOTCONN, 0, "size query on a bound socket");
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&sin, sl)) {
		CHECK(0, "connect to 127.0.0.1: %s", strerror(errno));
		return;
	}
	a = accept(l, NULL, NULL);
	expect(ioctl_set(c, blob, sizeof(blob), 0), WSAEISCONN, 0, "set after connect: WSAEISCONN");
	expect(ioctl_set(a, blob, sizeof(blob), 0), WSAEISCONN, 0, "set on an accepted socket: WSAEISCONN");
	expect(ioctl_out(a, QREC, buf, 2), WSAEINVAL, 0, "records into 2 bytes, connected: WSAEINVAL");
	/* No connredir program here (or one that never redirected this). */
	r = ioctl_out(a, QREC, NULL, 0);
	CHECK(r.rc == SOCKET_ERROR && (r.err == WSAEOPNOTSUPP || r.err == WSAENOPROTOOPT) && r.bytes == 0,
	      "size query on a direct connection: WSAEOPNOTSUPP (no connredir) or WSAENOPROTOOPT [got %d]",
	      r.err);
	r = ioctl_out(a, QCTX, buf, sizeof(buf));
	CHECK(r.rc == SOCKET_ERROR && (r.err == WSAEOPNOTSUPP || r.err == WSAENOPROTOOPT),
	      "context on a direct connection: WSAEOPNOTSUPP or WSAENOPROTOOPT [got %d]", r.err);
	close(a);
	close(b);
	close(c);
	close(l);
}

static void test_extension(void)
{
	GUID rid = WSAID_WSARECVMSG, sid = WSAID_WSASENDMSG, bad = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG rfn = NULL;
	LPFN_WSASENDMSG sfn = NULL;
	DWORD bytes = 0;
	int u, x, rc;

	UNIT_TEST("extension");
	u = socket(AF_INET, SOCK_DGRAM, 0);
	x = socket(AF_UNIX, SOCK_DGRAM, 0);
	bad.Data4[7] ^= 1;
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &rfn, sizeof(rfn),
		      &bytes, NULL, NULL);
	CHECK(rc == 0 && rfn && bytes == sizeof(rfn), "WSAID_WSARECVMSG gives WSARecvMsg, bytes = %zu",
	      sizeof(rfn));
	rc = WSAIoctl(x, SIO_GET_EXTENSION_FUNCTION_POINTER, &sid, sizeof(sid), &sfn, sizeof(sfn),
		      &bytes, NULL, NULL);
	CHECK(rc == 0 && sfn == WSASendMsg, "WSAID_WSASENDMSG gives WSASendMsg (on a Unix socket too)");
	bytes = 5;
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &bad, sizeof(bad), &rfn, sizeof(rfn),
		      &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL && bytes == 0,
	      "an unknown GUID: WSAEINVAL");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid) - 1, &rfn, sizeof(rfn),
		      &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "cbInBuffer short of a GUID: WSAEFAULT");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &rfn, 4,
		      &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT,
	      "cbOutBuffer short of a pointer: WSAEFAULT");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), NULL, sizeof(rfn),
		      &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "no output buffer: WSAEFAULT");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, (void *)16, sizeof(rid), &rfn,
		      sizeof(rfn), &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "GUID outside the address space: WSAEFAULT");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), (void *)16,
		      sizeof(rfn), &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT,
	      "output outside the address space: WSAEFAULT, no crash");
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid),
		      (void *)&read_only_dword, sizeof(rfn), &bytes, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "read-only output: WSAEFAULT");
	close(u);
	close(x);
}

/* WSASendMsg and WSARecvMsg over a Unix datagram pair (no network). */
static void test_msg(void)
{
	GUID rid = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG WSARecvMsg = NULL;
	union {
		WSACMSGHDR align;
		char b[512];
	} ctl, rctl;
	char data[64], rdata[64], r2[3][4];
	WSABUF wb[10], rb[3];
	WSAMSG m, rm;
	LPWSACMSGHDR c;
	DWORD bytes = 0, sent = 0, got = 0;
	int sv[2], p[2], one = 1, rc, fd = -1, i, pid = 0;
	struct stat st;

	UNIT_TEST("msg");
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) || pipe(p))
		return;
	WSAIoctl(sv[1], SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &WSARecvMsg,
		 sizeof(WSARecvMsg), &bytes, NULL, NULL);
	if (!CHECK(WSARecvMsg != NULL, "WSARecvMsg through its GUID"))
		return;

	/* A file descriptor in SCM_RIGHTS, built with the WSA_CMSG_* macros. */
	memset(&ctl, 0, sizeof(ctl));
	memset(&m, 0, sizeof(m));
	strcpy(data, "hello, windows");
	wb[0] = (WSABUF){ .len = (ULONG)strlen(data), .buf = data };
	m.lpBuffers = wb;
	m.dwBufferCount = 1;
	m.Control.buf = ctl.b;
	m.Control.len = WSA_CMSG_SPACE(sizeof(int));
	c = WSA_CMSG_FIRSTHDR(&m);
	c->cmsg_len = WSA_CMSG_LEN(sizeof(int));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	memcpy(WSA_CMSG_DATA(c), &p[0], sizeof(int));
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == 0 && sent == strlen(data), "WSASendMsg with SCM_RIGHTS: %u bytes", (unsigned)sent);

	memset(&rm, 0, sizeof(rm));
	memset(&rctl, 0, sizeof(rctl));
	rb[0] = (WSABUF){ .len = sizeof(rdata), .buf = rdata };
	rm.lpBuffers = rb;
	rm.dwBufferCount = 1;
	rm.Control.buf = rctl.b;
	rm.Control.len = sizeof(rctl.b);
	rc = WSARecvMsg(sv[1], &rm, &got, NULL, NULL);
	CHECK(rc == 0 && got == strlen(data) && !memcmp(rdata, data, got), "WSARecvMsg: the data");
	CHECK_EQ_INT(rm.Control.len, WSA_CMSG_SPACE(sizeof(int)), "WSARecvMsg: Control.len = bytes used");
	for (c = WSA_CMSG_FIRSTHDR(&rm); c; c = WSA_CMSG_NXTHDR(&rm, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, WSA_CMSG_DATA(c), sizeof(fd));
	CHECK(fd >= 0 && !fstat(fd, &st) && S_ISFIFO(st.st_mode),
	      "WSARecvMsg: the pipe arrived in SCM_RIGHTS, found with WSA_CMSG_*");
	if (fd >= 0)
		close(fd);
	CHECK_EQ_INT(rm.dwFlags, 0, "WSARecvMsg: dwFlags 0");

	/* The kernel's control messages, walked with WSA_CMSG_*. */
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	m.Control.buf = NULL;
	m.Control.len = 0;
	WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	rm.Control.buf = rctl.b;
	rm.Control.len = sizeof(rctl.b);
	rc = WSARecvMsg(sv[1], &rm, &got, NULL, NULL);
	for (c = WSA_CMSG_FIRSTHDR(&rm); c; c = WSA_CMSG_NXTHDR(&rm, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
			memcpy(&pid, WSA_CMSG_DATA(c), sizeof(pid));
	CHECK(rc == 0 && pid == getpid(), "SCM_CREDENTIALS from the kernel: our pid");
	one = 0;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));

	/* Truncation: MSG_TRUNC and MSG_CTRUNC (libc's values) in dwFlags. */
	m.Control.buf = ctl.b;
	m.Control.len = WSA_CMSG_SPACE(sizeof(int));
	WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	rb[0].len = 4;
	rm.Control.len = sizeof(WSACMSGHDR) + 2;
	rm.dwFlags = 0;
	rc = WSARecvMsg(sv[1], &rm, &got, NULL, NULL);
	CHECK(rc == 0 && got == 4 && (rm.dwFlags & MSG_TRUNC) && (rm.dwFlags & MSG_CTRUNC),
	      "short data and control buffers: 4 bytes, MSG_TRUNC | MSG_CTRUNC");
	rb[0].len = sizeof(rdata);

	/* Scatter/gather beyond the on-stack iovecs. */
	for (i = 0; i < 10; i++)
		wb[i] = (WSABUF){ .len = 1, .buf = &data[i] };
	m.dwBufferCount = 10;
	m.Control.len = 0;
	WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	for (i = 0; i < 3; i++)
		rb[i] = (WSABUF){ .len = 4, .buf = r2[i] };
	rm.dwBufferCount = 3;
	rm.Control.len = 0;
	rm.dwFlags = 0;
	rc = WSARecvMsg(sv[1], &rm, &got, NULL, NULL);
	CHECK(rc == 0 && sent == 10 && got == 10 && !memcmp(r2[0], "hell", 4) &&
	      !memcmp(r2[1], "o, w", 4) && !memcmp(r2[2], "in", 2),
	      "10 WSABUFs out, 3 in: the same bytes");
	rm.dwBufferCount = 1;
	rb[0] = (WSABUF){ .len = sizeof(rdata), .buf = rdata };
	m.dwBufferCount = 1;
	wb[0] = (WSABUF){ .len = 5, .buf = data };

	rc = WSARecvMsg(sv[1], &rm, &got, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK && got == 0,
	      "nothing to receive, non-blocking: WSAEWOULDBLOCK");

	/* Control messages WSASendMsg refuses. */
	memset(&ctl, 0, sizeof(ctl));
	m.Control.buf = ctl.b;
	m.Control.len = WSA_CMSG_SPACE(8);
	c = WSA_CMSG_FIRSTHDR(&m);
	c->cmsg_len = WSA_CMSG_LEN(8);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_WFP_REDIRECT_RECORDS;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP && sent == 0,
	      "IP_WFP_REDIRECT_RECORDS on the way out: WSAEOPNOTSUPP (UDP records not wired yet)");
	c->cmsg_level = IPPROTO_IPV6;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP,
	      "IPV6_WFP_REDIRECT_RECORDS on the way out: WSAEOPNOTSUPP");
	c->cmsg_type = IPV6_WFP_REDIRECT_CONTEXT;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL, "a context is never sent: WSAEINVAL");
	c->cmsg_len = 3;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL, "cmsg_len 3: WSAEINVAL");
	c->cmsg_len = WSA_CMSG_SPACE(8) + 1;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL, "cmsg_len past Control: WSAEINVAL");
	m.Control.len = 70000;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOBUFS, "Control.len over 64 KiB: WSAENOBUFS");
	m.Control.buf = NULL;
	m.Control.len = 8;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "Control.buf NULL with a length: WSAEFAULT");
	m.Control.len = 0;
	rc = WSASendMsg(sv[0], NULL, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "WSASendMsg(NULL msg): WSAEFAULT");
	rc = WSASendMsg(sv[0], &m, 0, NULL, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT,
	      "WSASendMsg without a count or overlapped: WSAEFAULT");
	wb[0].buf = (CHAR *)16;
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "a data buffer the kernel finds bad: WSAEFAULT");
	wb[0].buf = data;
	rc = WSASendMsg(p[1], &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK, "WSASendMsg on a pipe: WSAENOTSOCK");
	rc = WSARecvMsg(p[0], &rm, &got, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK, "WSARecvMsg on a pipe: WSAENOTSOCK");
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* UDP to ourselves on loopback (own netns): the name comes back. */
static void test_msg_name(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_storage from;
	socklen_t sl = sizeof(sin);
	GUID rid = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG WSARecvMsg = NULL;
	char buf[16];
	WSABUF wb = { .len = 3, .buf = (CHAR *)"abc" }, rb = { .len = sizeof(buf), .buf = buf };
	WSAMSG m = { 0 }, rm = { 0 };
	DWORD bytes, got = 0;
	int u, rc;

	UNIT_TEST("msg_name");
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) || getsockname(u, (struct sockaddr *)&sin, &sl))
		return;
	WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &WSARecvMsg,
		 sizeof(WSARecvMsg), &bytes, NULL, NULL);
	m.name = (LPSOCKADDR)&sin;
	m.namelen = sizeof(sin);
	m.lpBuffers = &wb;
	m.dwBufferCount = 1;
	rc = WSASendMsg(u, &m, 0, &bytes, NULL, NULL);
	CHECK(rc == 0 && bytes == 3, "WSASendMsg to a name (unconnected UDP)");
	rm.name = (LPSOCKADDR)&from;
	rm.namelen = sizeof(from);
	rm.lpBuffers = &rb;
	rm.dwBufferCount = 1;
	rc = WSARecvMsg(u, &rm, &got, NULL, NULL);
	CHECK(rc == 0 && got == 3 && rm.namelen == sizeof(struct sockaddr_in) &&
	      ((struct sockaddr_in *)&from)->sin_port == sin.sin_port,
	      "WSARecvMsg: the source in name, namelen = sizeof(sockaddr_in)");
	close(u);
}

static void *thread_last_error(void *arg)
{
	int *out = arg;

	out[0] = WSAGetLastError();
	WSASetLastError(5678);
	out[1] = WSAGetLastError();
	return NULL;
}

static void test_last_error(void)
{
	int in_thread[2] = { -1, -1 }, p[2];
	pthread_t t;
	DWORD bytes;

	UNIT_TEST("last_error");
	WSASetLastError(1234);
	CHECK_EQ_INT(WSAGetLastError(), 1234, "WSASetLastError(1234) then WSAGetLastError()");
	pthread_create(&t, NULL, thread_last_error, in_thread);
	pthread_join(t, NULL);
	CHECK_EQ_INT(in_thread[0], 0, "a new thread starts with 0");
	CHECK_EQ_INT(in_thread[1], 5678, "a thread sees its own error");
	CHECK_EQ_INT(WSAGetLastError(), 1234, "the other thread's error did not change ours");
	WSASetLastError(FWP_E_NOT_FOUND);
	CHECK(WSAGetLastError() == FWP_E_NOT_FOUND && errno == ENOENT,
	      "FWP_E_NOT_FOUND kept, errno ENOENT alongside");
	WSASetLastError(ERROR_INSUFFICIENT_BUFFER);
	CHECK(WSAGetLastError() == ERROR_INSUFFICIENT_BUFFER && errno == ENOSPC,
	      "ERROR_INSUFFICIENT_BUFFER kept, errno ENOSPC alongside");
	CHECK(close(-1) == SOCKET_ERROR && WSAGetLastError() == WSAEBADF,
	      "a failing libc call (close(-1): EBADF) is the last error: WSAEBADF");
	connect(-1, NULL, 0);
	CHECK_EQ_INT(WSAGetLastError(), WSAEBADF, "connect(-1) fails EBADF too");
	if (!pipe(p)) {
		CHECK(WSAIoctl(p[0], QREC, NULL, 0, NULL, 0, &bytes, NULL, NULL) == SOCKET_ERROR &&
		      WSAGetLastError() == WSAENOTSOCK && errno == ENOTSOCK,
		      "WSAIoctl's error, and errno ENOTSOCK alongside");
		close(p[0]);
		close(p[1]);
	}
	WSASetLastError(0);
	CHECK(WSAGetLastError() == 0 && errno == 0, "WSASetLastError(0) clears it");
}

struct routine_log {
	int calls;
	DWORD err, bytes, flags;
	LPWSAOVERLAPPED ov;
};

static void routine(DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED ov, DWORD dwFlags)
{
	struct routine_log *log = ov->hEvent;   /* Windows' idiom: hEvent carries the context */

	log->calls++;
	log->err = dwError;
	log->bytes = cbTransferred;
	log->flags = dwFlags;
	log->ov = ov;
}

static void test_overlapped(void)
{
	GUID rid = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG fn = NULL;
	struct routine_log log = { 0 };
	WSAOVERLAPPED ov;
	WSAEVENT ev;
	DWORD bytes = 99, xfer = 0, flags = 9;
	int u, p[2], rc;

	UNIT_TEST("overlapped");
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (pipe(p))
		return;
	ev = WSACreateEvent();
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &fn, sizeof(fn),
		      NULL, &ov, NULL);
	CHECK(rc == 0 && fn, "overlapped, lpcbBytesReturned NULL: returns 0 at once");
	CHECK(ov.Internal == 0 && ov.InternalHigh == sizeof(fn), "Internal 0, InternalHigh = bytes");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_EVENT_0,
		     "the event is signalled when the call returns");
	CHECK(WSAGetOverlappedResult(u, &ov, &xfer, FALSE, &flags) && xfer == sizeof(fn) && flags == 0,
	      "WSAGetOverlappedResult: TRUE, the byte count, flags 0");
	WSAResetEvent(ev);
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &fn, sizeof(fn),
		      &bytes, &ov, NULL);
	CHECK(rc == 0 && bytes == sizeof(fn), "overlapped with lpcbBytesReturned: it is filled too");

	/* A completion routine: runs before the call returns; hEvent is ours. */
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = &log;
	rc = WSAIoctl(u, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &fn, sizeof(fn),
		      NULL, &ov, routine);
	CHECK(rc == 0 && log.calls == 1, "the completion routine ran once before the call returned");
	CHECK(log.err == 0 && log.bytes == sizeof(fn) && log.flags == 0 && log.ov == &ov,
	      "routine(0, bytes, lpOverlapped, 0)");
	CHECK(ov.hEvent == &log, "hEvent (the caller's context) untouched");

	/* A call that fails at once: no routine, the status is recorded. */
	rc = WSAIoctl(p[0], QREC, NULL, 0, NULL, 0, NULL, &ov, routine);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK && log.calls == 1,
	      "failed at once: SOCKET_ERROR, and the routine is not called");
	CHECK_EQ_INT(ov.Internal, WSAENOTSOCK, "failed at once: Internal holds the error");
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	WSAResetEvent(ev);
	rc = WSAIoctl(u, QREC, NULL, 0, NULL, 0, NULL, &ov, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL && ov.Internal == WSAEINVAL,
	      "records on UDP, overlapped: WSAEINVAL in the return and in Internal");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE), WSA_WAIT_EVENT_0,
		     "failed at once: the event is signalled all the same");
	CHECK(!WSAGetOverlappedResult(u, &ov, &xfer, TRUE, &flags) && WSAGetLastError() == WSAEINVAL,
	      "WSAGetOverlappedResult: FALSE with the call's error");
	ov.Internal = WSA_IO_PENDING;
	CHECK(!WSAGetOverlappedResult(u, &ov, &xfer, TRUE, &flags) && WSAGetLastError() == WSA_IO_INCOMPLETE,
	      "WSAGetOverlappedResult on a structure never completed: WSA_IO_INCOMPLETE");
	CHECK(!WSAGetOverlappedResult(u, &ov, NULL, TRUE, &flags) && WSAGetLastError() == WSAEFAULT,
	      "WSAGetOverlappedResult without lpcbTransfer: WSAEFAULT");
	CHECK(!WSAGetOverlappedResult(p[0], &ov, &xfer, TRUE, &flags) && WSAGetLastError() == WSAENOTSOCK,
	      "WSAGetOverlappedResult on a pipe: WSAENOTSOCK");
	WSACloseEvent(ev);
	close(u);
	close(p[0]);
	close(p[1]);
}

static void *set_later(void *arg)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	WSASetEvent(*(WSAEVENT *)arg);
	return NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_events(void)
{
	WSAEVENT e[2], stale, many[65];
	struct timespec t0;
	pthread_t t;
	DWORD r;
	int x;

	UNIT_TEST("events");
	e[0] = WSACreateEvent();
	e[1] = WSACreateEvent();
	CHECK(e[0] != WSA_INVALID_EVENT && e[1] != WSA_INVALID_EVENT && e[0] != e[1],
	      "WSACreateEvent: two distinct handles");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, e, FALSE, 0, FALSE), WSA_WAIT_TIMEOUT,
		     "a new event is not signalled");
	CHECK(WSASetEvent(e[0]), "WSASetEvent: TRUE");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, e, FALSE, 0, FALSE), WSA_WAIT_EVENT_0, "signalled");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, e, FALSE, 0, FALSE), WSA_WAIT_EVENT_0,
		     "manual reset: still signalled after a wait");
	CHECK(WSAResetEvent(e[0]), "WSAResetEvent: TRUE");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(1, e, FALSE, 0, FALSE), WSA_WAIT_TIMEOUT, "reset");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = WSAWaitForMultipleEvents(1, e, FALSE, 60, FALSE);
	CHECK(r == WSA_WAIT_TIMEOUT && ms_since(&t0) >= 55, "a 60 ms timeout waits about 60 ms");
	WSASetEvent(e[1]);
	CHECK_EQ_INT(WSAWaitForMultipleEvents(2, e, FALSE, 0, FALSE), WSA_WAIT_EVENT_0 + 1,
		     "the second of two: WSA_WAIT_EVENT_0 + 1");
	CHECK_EQ_INT(WSAWaitForMultipleEvents(2, e, TRUE, 20, FALSE), WSA_WAIT_TIMEOUT,
		     "all of two, one signalled: timeout");
	WSASetEvent(e[0]);
	CHECK_EQ_INT(WSAWaitForMultipleEvents(2, e, TRUE, 0, FALSE), WSA_WAIT_EVENT_0,
		     "all of two, both signalled");
	WSAResetEvent(e[0]);
	WSAResetEvent(e[1]);
	pthread_create(&t, NULL, set_later, &e[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = WSAWaitForMultipleEvents(1, e, FALSE, WSA_INFINITE, TRUE);
	CHECK(r == WSA_WAIT_EVENT_0 && ms_since(&t0) >= 40, "WSA_INFINITE: woken by another thread's WSASetEvent");
	pthread_join(t, NULL);
	pthread_create(&t, NULL, set_later, &e[1]);
	WSASetEvent(e[0]);
	r = WSAWaitForMultipleEvents(2, e, TRUE, 5000, FALSE);
	CHECK_EQ_INT(r, WSA_WAIT_EVENT_0, "all of two: the second set later by a thread");
	pthread_join(t, NULL);

	stale = e[0];
	CHECK(WSACloseEvent(e[0]), "WSACloseEvent: TRUE");
	CHECK(!WSACloseEvent(stale) && WSAGetLastError() == WSA_INVALID_HANDLE,
	      "closing twice: FALSE, WSA_INVALID_HANDLE");
	e[0] = WSACreateEvent();
	CHECK(e[0] != stale, "a new event in the freed slot has a new handle");
	CHECK(!WSASetEvent(stale) && WSAGetLastError() == WSA_INVALID_HANDLE,
	      "a stale handle is refused, not followed");
	CHECK(!WSASetEvent(WSA_INVALID_EVENT) && WSAGetLastError() == WSA_INVALID_HANDLE,
	      "WSA_INVALID_EVENT is refused");
	CHECK(!WSAResetEvent((WSAEVENT)&x) && WSAGetLastError() == WSA_INVALID_HANDLE,
	      "a pointer is not a handle");
	CHECK(WSAWaitForMultipleEvents(0, e, FALSE, 0, FALSE) == WSA_WAIT_FAILED &&
	      WSAGetLastError() == WSA_INVALID_PARAMETER, "wait for 0 events: WSA_INVALID_PARAMETER");
	for (x = 0; x < 65; x++)
		many[x] = e[1];
	CHECK(WSAWaitForMultipleEvents(65, many, FALSE, 0, FALSE) == WSA_WAIT_FAILED &&
	      WSAGetLastError() == WSA_INVALID_PARAMETER, "wait for 65 events: WSA_INVALID_PARAMETER");
	CHECK(WSAWaitForMultipleEvents(64, many, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0,
	      "wait for 64 events (the maximum), all signalled: the first");
	CHECK(WSAWaitForMultipleEvents(1, NULL, FALSE, 0, FALSE) == WSA_WAIT_FAILED &&
	      WSAGetLastError() == WSA_INVALID_PARAMETER, "wait on NULL: WSA_INVALID_PARAMETER");
	many[1] = stale;
	CHECK(WSAWaitForMultipleEvents(2, many, FALSE, 0, FALSE) == WSA_WAIT_FAILED &&
	      WSAGetLastError() == WSA_INVALID_HANDLE, "wait on a stale handle: WSA_INVALID_HANDLE");
	WSACloseEvent(e[0]);
	WSACloseEvent(e[1]);
}

static void test_misc(void)
{
	WSADATA d;
	int p[2], s;

	UNIT_TEST("misc");
	CHECK(WSAStartup(MAKEWORD(2, 2), &d) == 0 && d.wVersion == MAKEWORD(2, 2) &&
	      d.wHighVersion == MAKEWORD(2, 2), "WSAStartup(2.2): 0, version 2.2");
	CHECK(WSAStartup(MAKEWORD(3, 0), &d) == 0 && d.wVersion == MAKEWORD(2, 2),
	      "WSAStartup(3.0): 0, version 2.2");
	CHECK_EQ_INT(WSAStartup(MAKEWORD(2, 2), NULL), WSAEFAULT, "WSAStartup(NULL): WSAEFAULT");
	CHECK_EQ_INT(WSACleanup(), 0, "WSACleanup: 0");
	if (pipe(p))
		return;
	CHECK(closesocket(p[0]) == SOCKET_ERROR && WSAGetLastError() == WSAENOTSOCK &&
	      fcntl(p[0], F_GETFD) >= 0, "closesocket on a pipe: WSAENOTSOCK, left open");
	s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(closesocket(s) == 0 && fcntl(s, F_GETFD) < 0, "closesocket on a socket closes it");
	close(p[0]);
	close(p[1]);
}

/* One control message at @buf + *@off: level, type, data length; *@off moves on. */
static int cmsg_at(const unsigned char *buf, size_t len, size_t *off, int *level, int *type,
		   size_t *n)
{
	WSACMSGHDR h;

	if (len - *off < sizeof(h))
		return -1;
	memcpy(&h, buf + *off, sizeof(h));
	if (h.cmsg_len < WSA_CMSG_LEN(0) || h.cmsg_len > len - *off)
		return -1;
	*level = h.cmsg_level;
	*type = h.cmsg_type;
	*n = h.cmsg_len - WSA_CMSG_LEN(0);
	*off += WSA_CMSG_SPACE(*n) < len - *off ? WSA_CMSG_SPACE(*n) : len - *off;
	return 0;
}

static void test_udp_helpers(void)
{
	union {
		WSACMSGHDR align;
		unsigned char b[256];
	} u;
	unsigned char rec[13], ctx[120];
	size_t len = 0, off = 0, n, l2;
	int level, type, i, fd = 1000;
	uint32_t mark = 0xcd000001u;

	UNIT_TEST("udp_helpers");
	memset(rec, 0xab, sizeof(rec));
	memset(ctx, 0x5c, sizeof(ctx));
	memset(&u, 0xee, sizeof(u));
	/* Append: Windows layout, padded, aligned. */
	CHECK(!crd_ws_cmsg_append(u.b, &len, sizeof(u.b), SOL_SOCKET, SO_MARK, &mark, 4) &&
	      len == WSA_CMSG_SPACE(4), "append SO_MARK: %zu bytes", len);
	CHECK(!crd_ws_cmsg_append(u.b, &len, sizeof(u.b), IPPROTO_IP, IP_WFP_REDIRECT_RECORDS,
				  rec, sizeof(rec)) &&
	      len == WSA_CMSG_SPACE(4) + WSA_CMSG_SPACE(13), "append a 13-byte records blob");
	CHECK(cmsg_at(u.b, len, &off, &level, &type, &n) == 0 && level == SOL_SOCKET &&
	      type == SO_MARK && n == 4, "first message read back");
	CHECK(cmsg_at(u.b, len, &off, &level, &type, &n) == 0 && level == IPPROTO_IP &&
	      type == IP_WFP_REDIRECT_RECORDS && n == 13 &&
	      !memcmp(u.b + off - WSA_CMSG_SPACE(13) + WSA_CMSG_LEN(0), rec, 13) &&
	      u.b[off - 1] == 0, "records read back, padding zeroed");
	l2 = len;
	CHECK(crd_ws_cmsg_append(u.b, &l2, len + WSA_CMSG_LEN(sizeof(ctx)) - 1, IPPROTO_IP,
				 IP_WFP_REDIRECT_CONTEXT,
				 ctx, sizeof(ctx)) == -1 && l2 == len,
	      "append that does not fit: -1, nothing written");
	l2 = 0;
	CHECK(crd_ws_cmsg_append(u.b, &l2, WSA_CMSG_LEN(4), SOL_SOCKET, SO_MARK, &mark, 4) == 0 &&
	      l2 == WSA_CMSG_LEN(4), "append with room for all but the last padding");
	l2 = 0;
	CHECK(crd_ws_cmsg_append(u.b, &l2, 0, SOL_SOCKET, SO_MARK, &mark, 0) == -1 && l2 == 0,
	      "append into no room: -1");

	/* Strip: the SO_MARK message goes, the rest moves down. */
	len = 0;
	crd_ws_cmsg_append(u.b, &len, sizeof(u.b), IPPROTO_IP, IP_PKTINFO, rec, 12);
	crd_ws_cmsg_append(u.b, &len, sizeof(u.b), SOL_SOCKET, SO_MARK, &mark, 4);
	crd_ws_cmsg_append(u.b, &len, sizeof(u.b), IPPROTO_IP, IP_TTL, &i, 4);
	n = crd_ws_cmsg_strip(u.b, len, SOL_SOCKET, SO_MARK);
	CHECK(n == WSA_CMSG_SPACE(12) + WSA_CMSG_SPACE(4), "strip SO_MARK: %zu bytes left", n);
	off = 0;
	CHECK(!cmsg_at(u.b, n, &off, &level, &type, &l2) && type == IP_PKTINFO &&
	      !cmsg_at(u.b, n, &off, &level, &type, &l2) && type == IP_TTL && off == n,
	      "strip keeps IP_PKTINFO and IP_TTL in order");
	CHECK(crd_ws_cmsg_strip(u.b, n, SOL_SOCKET, SO_MARK) == n, "strip with nothing to strip");
	CHECK(crd_ws_cmsg_strip(u.b, 7, SOL_SOCKET, SO_MARK) == 0, "strip of a short tail: 0");
	/* Fit: whole messages within the caller's room. */
	l2 = n;
	CHECK(crd_ws_cmsg_fit(u.b, &l2, n) == 0 && l2 == n, "fit: all fit");
	l2 = n;
	CHECK(crd_ws_cmsg_fit(u.b, &l2, n - 1) == 0 && l2 == n - 1,
	      "fit: only the last padding cut: no MSG_CTRUNC (%zu)", l2);
	l2 = n;
	CHECK(crd_ws_cmsg_fit(u.b, &l2, n - 5) == 1 && l2 == WSA_CMSG_SPACE(12),
	      "fit: the last message cut off (%zu)", l2);
	l2 = n;
	CHECK(crd_ws_cmsg_fit(u.b, &l2, 8) == 1 && l2 == 0, "fit: not even a header");

	/* The flow table: new once, LRU bounded, forgotten with the socket. */
	CHECK(crd_ws_flow_first(fd, 1, 7, 1) == 1, "flow 7: first");
	CHECK(crd_ws_flow_first(fd, 1, 7, 1) == 0, "flow 7: then known");
	CHECK(crd_ws_flow_first(fd, 1, 0, 1) == 0, "handle 0 (not redirected): never first");
	CHECK(crd_ws_flow_first(fd, 2, 7, 1) == 1, "same descriptor, another inode: first again");
	CHECK(crd_ws_flow_first(fd, 1, 8, 0) == 1 && crd_ws_flow_first(fd, 1, 8, 0) == 1,
	      "without remember (MSG_PEEK) a flow stays new");
	for (i = 0; i < CRD_WS_FLOWS; i++)
		crd_ws_flow_first(fd + 1, 1, 100 + i, 1);
	crd_ws_flow_first(fd + 1, 1, 100, 1);                /* 100 most recent */
	CHECK(crd_ws_flow_first(fd + 1, 1, 5000, 1) == 1, "a flow past the bound: first");
	CHECK(crd_ws_flow_first(fd + 1, 1, 100, 1) == 0, "the most recently used stays");
	CHECK(crd_ws_flow_first(fd + 1, 1, 101, 1) == 1, "the least recently used was evicted");
	crd_ws_flow_forget(fd);
	CHECK(crd_ws_flow_first(fd, 2, 7, 1) == 1, "forget: the descriptor's flows are gone");
	for (i = 0; i < CRD_WS_SOCKETS + 1; i++)
		crd_ws_flow_first(2000 + i, 1, 9, 1);
	CHECK(crd_ws_flow_first(2000, 1, 9, 1) == 1, "sockets past the bound: the oldest forgotten");
	CHECK(crd_ws_flow_first(2000 + CRD_WS_SOCKETS, 1, 9, 1) == 0, "the newest remembered");
	for (i = 0; i < CRD_WS_SOCKETS + 1; i++)
		crd_ws_flow_forget(2000 + i);
	crd_ws_flow_forget(fd);
	crd_ws_flow_forget(fd + 1);
}

/* Open descriptors of this process. */
static int open_fds(void)
{
	int n = 0, fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/* The library's global state goes back to the state at load on request. */
static void test_reset(void)
{
	WSAEVENT e, again;
	int fds;

	UNIT_TEST("reset");
	fds = open_fds();
	e = WSACreateEvent();
	CHECK(e != WSA_INVALID_EVENT && WSASetEvent(e), "an event before the reset");
	crd_ws_events_reset();
	CHECK(!WSASetEvent(e) && WSAGetLastError() == WSA_INVALID_HANDLE,
	      "events reset: the old handle is refused (WSA_INVALID_HANDLE)");
	CHECK_EQ_INT(open_fds(), fds, "events reset: its eventfd is closed");
	again = WSACreateEvent();
	CHECK(again != WSA_INVALID_EVENT &&
	      WSAWaitForMultipleEvents(1, &again, FALSE, 0, FALSE) == WSA_WAIT_TIMEOUT,
	      "events reset: a new event works, not signalled");
	CHECK(WSACloseEvent(again), "events reset: the new event closes");

	CHECK(crd_ws_flow_first(3000, 1, 7, 1) == 1 && crd_ws_flow_first(3000, 1, 7, 1) == 0,
	      "a flow remembered before the reset");
	crd_ws_flows_reset();
	CHECK(crd_ws_flow_first(3000, 1, 7, 1) == 1, "flows reset: the flow is new again");

	e = WSACreateEvent();
	crd_ws_reset();
	CHECK(!WSACloseEvent(e) && crd_ws_flow_first(3000, 1, 7, 1) == 1,
	      "crd_ws_reset: no event, no flow remembered");
	crd_ws_reset();
	CHECK_EQ_INT(open_fds(), fds, "crd_ws_reset: nothing left open");
}

/* WSARecvMsg/WSASendMsg on UDP sockets (network namespace, not attached). */
static void test_udp_msg(void)
{
	GUID rid = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG WSARecvMsg = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	union {
		WSACMSGHDR align;
		char b[512];
	} ctl;
	char data[16] = "udp", rdata[16], blob[CONNREDIR_RECORDS_MAX + 1];
	WSABUF wb = { .len = 3, .buf = data }, rb = { .len = sizeof(rdata), .buf = rdata };
	WSAMSG m, rm;
	LPWSACMSGHDR c;
	DWORD bytes = 0, got = 0, sent = 0;
	int r, s, tcp, one = 1, on = 0, mark_seen = 0, pktinfo = 0, rc;
	socklen_t ol = sizeof(on);

	UNIT_TEST("udp_msg");
	r = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	if (!CHECK(r >= 0 && s >= 0 && tcp >= 0 && !bind(r, (struct sockaddr *)&a, sizeof(a)) &&
		   !getsockname(r, (struct sockaddr *)&a, &al), "UDP sockets on loopback"))
		return;
	WSAIoctl(r, SIO_GET_EXTENSION_FUNCTION_POINTER, &rid, sizeof(rid), &WSARecvMsg,
		 sizeof(WSARecvMsg), &bytes, NULL, NULL);
	if (!CHECK(WSARecvMsg != NULL, "WSARecvMsg through its GUID"))
		return;
	setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));

	memset(&m, 0, sizeof(m));
	m.name = (LPSOCKADDR)&a;
	m.namelen = sizeof(a);
	m.lpBuffers = &wb;
	m.dwBufferCount = 1;
	rc = WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	CHECK(rc == 0 && sent == 3, "WSASendMsg over UDP, no control");

	memset(&rm, 0, sizeof(rm));
	rm.lpBuffers = &rb;
	rm.dwBufferCount = 1;
	rm.Control.buf = ctl.b;
	rm.Control.len = sizeof(ctl.b);
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	for (c = WSA_CMSG_FIRSTHDR(&rm); c; c = WSA_CMSG_NXTHDR(&rm, c)) {
		mark_seen |= c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK;
		pktinfo |= c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO;
	}
	CHECK(rc == 0 && got == 3 && pktinfo && !mark_seen &&
	      rm.Control.len == WSA_CMSG_SPACE(sizeof(struct in_pktinfo)) && rm.dwFlags == 0,
	      "WSARecvMsg: IP_PKTINFO kept, SO_MARK not asked for, not delivered (Control.len %u)",
	      (unsigned)rm.Control.len);
	CHECK(!getsockopt(r, SOL_SOCKET, SO_RCVMARK, &on, &ol) && on == 1,
	      "WSARecvMsg turned SO_RCVMARK on");

	/* Room for IP_PKTINFO only: the hidden SO_MARK does not cause MSG_CTRUNC. */
	WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	rm.Control.len = WSA_CMSG_SPACE(sizeof(struct in_pktinfo));
	rm.dwFlags = 0;
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	CHECK(rc == 0 && !(rm.dwFlags & MSG_CTRUNC) &&
	      rm.Control.len == WSA_CMSG_SPACE(sizeof(struct in_pktinfo)),
	      "exact room for IP_PKTINFO: no MSG_CTRUNC");
	WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	rm.Control.len = WSA_CMSG_SPACE(sizeof(struct in_pktinfo)) - 8;
	rm.dwFlags = 0;
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	CHECK(rc == 0 && (rm.dwFlags & MSG_CTRUNC) &&
	      rm.Control.len <= WSA_CMSG_SPACE(sizeof(struct in_pktinfo)) - 8,
	      "too little room for IP_PKTINFO: MSG_CTRUNC, within the room (Control.len %u)",
	      (unsigned)rm.Control.len);
	WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	rm.Control.buf = (char *)8;   /* not mapped */
	rm.Control.len = sizeof(ctl.b);
	WSASetLastError(0);
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEFAULT, "bad Control.buf: WSAEFAULT");
	rm.Control.buf = ctl.b;
	WSASetLastError(0);
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK, "nothing left: WSAEWOULDBLOCK");

	/* A caller that turned SO_RCVMARK on itself gets SO_MARK. */
	closesocket(r);
	r = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	a.sin_port = 0;
	bind(r, (struct sockaddr *)&a, sizeof(a));
	al = sizeof(a);
	getsockname(r, (struct sockaddr *)&a, &al);
	setsockopt(r, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one));
	WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	rm.Control.len = sizeof(ctl.b);
	mark_seen = 0;
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	for (c = WSA_CMSG_FIRSTHDR(&rm); c; c = WSA_CMSG_NXTHDR(&rm, c))
		mark_seen |= c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK;
	CHECK(rc == 0 && mark_seen, "SO_RCVMARK turned on by the caller: SO_MARK delivered");

	/* Records on send: checked, applied, or the send fails. */
	memset(&ctl, 0, sizeof(ctl));
	memset(blob, 0x41, sizeof(blob));
	m.Control.buf = ctl.b;
	m.Control.len = WSA_CMSG_SPACE(16);
	c = WSA_CMSG_FIRSTHDR(&m);
	if (!CHECK(c != NULL, "a control header to fill"))
		return;
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_WFP_REDIRECT_RECORDS;
	c->cmsg_len = WSA_CMSG_LEN(16);
	m.Control.len = WSA_CMSG_SPACE(16);
	WSASetLastError(0);
	rc = WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEOPNOTSUPP,
	      "records on a UDP socket without connredir: WSAEOPNOTSUPP");
	rm.Control.len = sizeof(ctl.b);
	WSASetLastError(0);
	rc = WSARecvMsg(r, &rm, &got, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK,
	      "and the datagram was not sent");
	c->cmsg_len = WSA_CMSG_LEN(0);
	m.Control.len = WSA_CMSG_SPACE(0);
	WSASetLastError(0);
	rc = WSASendMsg(s, &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL, "an empty records blob: WSAEINVAL");
	WSASetLastError(0);
	m.name = NULL;
	m.namelen = 0;
	rc = WSASendMsg(tcp, &m, 0, &sent, NULL, NULL);
	CHECK(rc == SOCKET_ERROR && WSAGetLastError() == WSAEINVAL,
	      "records message on a TCP socket: WSAEINVAL");
	closesocket(r);
	closesocket(s);
	closesocket(tcp);
}

int main(void)
{
	int netns = unit_own_netns();

	test_constants();
	test_cmsg();
	test_not_socket();
	test_args();
	test_extension();
	test_msg();
	test_last_error();
	test_overlapped();
	test_events();
	test_misc();
	test_udp_helpers();
	test_reset();
	if (netns) {
		test_connected();
		test_msg_name();
		test_udp_msg();
	} else {
		printf("SKIP connected: no network namespace of our own (needs root)\n");
	}
	return unit_done();
}
