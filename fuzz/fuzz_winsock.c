// SPDX-License-Identifier: MIT
/*
 * fuzz_winsock.c - libFuzzer target for winsock.h and libconnredir-winsock: the
 * WSA_CMSG_* walk, the control-message handling of WSASendMsg and
 * WSARecvMsg, and WSAIoctl's buffer and size rules.
 *
 *	make build/fuzz/fuzz_winsock
 *	build/fuzz/fuzz_winsock -max_total_time=60 fuzz/corpus/winsock
 *
 * Input: 16 parameter bytes, then a control buffer (shorter inputs are all
 * control buffer, with zero parameters):
 *	[0] which descriptor   [1] which control code   [2..5] cbOutBuffer
 *	[6..9] cbInBuffer      [10] flags (NULL out, NULL count, overlapped,
 *	routine, NULL in, event) [11] receive control room   [12..15] a raw code
 *
 * Each input is walked with WSA_CMSG_FIRSTHDR/NXTHDR (every header returned
 * must lie in the buffer, the walk must end, and it must agree with an
 * independent reference walk); sent with WSASendMsg over a non-blocking
 * Unix datagram pair (no network) and received with WSARecvMsg, the answer
 * checked against what the control list holds (malformed: WSAEINVAL; a WFP
 * records message: WSAEOPNOTSUPP; else the kernel decides; file
 * descriptors passed in SCM_RIGHTS are received and closed); and used as
 * the input of a WSAIoctl whose answer is checked against the buffer rules.
 * The control buffer also goes through WSARecvMsg's UDP helpers (strip a
 * type, cut to a room, append a message): every result must stay in its
 * exact heap buffer and be a list of whole, well-formed messages.
 * Output buffers are exact heap allocations followed by a guard that must
 * stay untouched (library copies go through the kernel, which ASan does
 * not see).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/winsock.h>
#include "winsock_int.h"   /* not API: WSARecvMsg's UDP control-message helpers */

#include "fuzz.h"

#define H sizeof(WSACMSGHDR)
#define GUARD 64
#define OUT_MAX 2048

static int sv[2] = { -1, -1 };   /* Unix datagram pair */
static int tcp = -1, udp = -1, ustream = -1, devnull = -1;
static WSAEVENT event;
static LPFN_WSARECVMSG recv_msg;

static void setup(void)
{
	GUID id = WSAID_WSARECVMSG;
	DWORD bytes;
	int one = 1;

	FUZZ_ASSERT(!socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ustream = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	event = WSACreateEvent();
	FUZZ_ASSERT(tcp >= 0 && udp >= 0 && ustream >= 0 && devnull >= 0 && event);
	FUZZ_ASSERT(!WSAIoctl(sv[1], SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id),
			      &recv_msg, sizeof(recv_msg), &bytes, NULL, NULL));
}

static uint32_t u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static WSACMSGHDR header_at(const unsigned char *buf, size_t off)
{
	WSACMSGHDR h;

	memcpy(&h, buf + off, sizeof(h));
	return h;
}

/* The number of headers FIRSTHDR/NXTHDR must visit, computed apart. */
static size_t reference_walk(const unsigned char *buf, size_t len)
{
	size_t off = 0, n, room, step;
	WSACMSGHDR h;

	if (len < H)
		return 0;
	for (n = 1;; n++) {
		room = len - off;
		h = header_at(buf, off);
		if (h.cmsg_len < H || h.cmsg_len > room)
			return n;
		step = (h.cmsg_len + __alignof__(WSACMSGHDR) - 1) & ~(__alignof__(WSACMSGHDR) - 1);
		if (step > room || room - step < H)
			return n;
		if (header_at(buf, off + step).cmsg_len > room - step)
			return n;
		off += step;
	}
}

static void fuzz_walk(unsigned char *buf, size_t len)
{
	WSAMSG m = { .Control = { .len = (ULONG)len, .buf = (CHAR *)buf } };
	size_t n = 0, off, prev = 0, k;
	LPWSACMSGHDR c;
	volatile unsigned sum = 0;

	FUZZ_ASSERT(WSA_CMSG_NXTHDR(&m, NULL) == WSA_CMSG_FIRSTHDR(&m));
	for (c = WSA_CMSG_FIRSTHDR(&m); c; c = WSA_CMSG_NXTHDR(&m, c)) {
		off = (size_t)((unsigned char *)c - buf);
		FUZZ_ASSERT(off + H <= len);
		FUZZ_ASSERT(off % __alignof__(WSACMSGHDR) == 0);
		if (n > 0) {
			FUZZ_ASSERT(off >= prev + H);
			FUZZ_ASSERT(c->cmsg_len <= len - off);
		}
		if (c->cmsg_len >= WSA_CMSG_LEN(0) && c->cmsg_len <= len - off)
			for (k = 0; k < c->cmsg_len - WSA_CMSG_LEN(0); k++)
				sum += WSA_CMSG_DATA(c)[k];
		prev = off;
		n++;
		FUZZ_ASSERT(n <= len / H);
	}
	FUZZ_ASSERT(n == reference_walk(buf, len));
	(void)sum;
}

/* What WSASendMsg must answer for control list @buf (0: up to the kernel). */
static int expected_send(const unsigned char *buf, size_t len)
{
	size_t off = 0, step;
	int records = 0;
	WSACMSGHDR h;

	if (len > 65536)
		return WSAENOBUFS;
	while (len - off >= H) {
		h = header_at(buf, off);
		if (h.cmsg_len < H || h.cmsg_len > len - off)
			return WSAEINVAL;
		if ((h.cmsg_level == IPPROTO_IP || h.cmsg_level == IPPROTO_IPV6) &&
		    h.cmsg_type == IP_WFP_REDIRECT_CONTEXT)
			return WSAEINVAL;
		if ((h.cmsg_level == IPPROTO_IP || h.cmsg_level == IPPROTO_IPV6) &&
		    h.cmsg_type == IP_WFP_REDIRECT_RECORDS)
			records = 1;
		step = (h.cmsg_len + __alignof__(WSACMSGHDR) - 1) & ~(__alignof__(WSACMSGHDR) - 1);
		if (step >= len - off)
			break;
		off += step;
	}
	return records ? WSAEOPNOTSUPP : 0;
}

/* Receive everything queued; close any descriptor that came with it. */
static void drain(size_t room)
{
	static union {
		WSACMSGHDR align;
		unsigned char b[8192];
	} ctl;
	char data[64];
	WSABUF wb = { .len = sizeof(data), .buf = data };
	WSAMSG m;
	LPWSACMSGHDR c;
	DWORD got;
	int i, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		memset(&m, 0, sizeof(m));
		m.lpBuffers = &wb;
		m.dwBufferCount = 1;
		m.Control.buf = (CHAR *)ctl.b;
		m.Control.len = (ULONG)room;
		got = 7;
		if (recv_msg(sv[1], &m, &got, NULL, NULL) == SOCKET_ERROR) {
			FUZZ_ASSERT(WSAGetLastError() == WSAEWOULDBLOCK && got == 0);
			return;
		}
		FUZZ_ASSERT(got <= sizeof(data));
		FUZZ_ASSERT(m.Control.len <= room);
		for (c = WSA_CMSG_FIRSTHDR(&m); c; c = WSA_CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			FUZZ_ASSERT(c->cmsg_len <= m.Control.len);
			for (i = 0; (size_t)(i + 1) * sizeof(int) <= c->cmsg_len - WSA_CMSG_LEN(0); i++) {
				int fd;

				memcpy(&fd, WSA_CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
				close(fd);
			}
		}
	}
}

static void fuzz_send(const unsigned char *control, size_t len, const uint8_t *p)
{
	unsigned char *buf = malloc(len ? len : 1);
	char byte = 'x';
	WSABUF wb = { .len = 1, .buf = &byte };
	WSAMSG m = { .lpBuffers = &wb, .dwBufferCount = 1 };
	DWORD sent = 9;
	int want, rc, err;

	FUZZ_ASSERT(buf);
	memcpy(buf, control, len);
	m.Control.buf = (CHAR *)buf;
	m.Control.len = (ULONG)len;
	want = expected_send(buf, len);
	rc = WSASendMsg(sv[0], &m, 0, &sent, NULL, NULL);
	err = rc ? WSAGetLastError() : 0;
	FUZZ_ASSERT(rc == 0 || rc == SOCKET_ERROR);
	if (want)
		FUZZ_ASSERT(rc == SOCKET_ERROR && err == want);
	if (rc)
		FUZZ_ASSERT(err != 0 && sent == 0);
	else
		FUZZ_ASSERT(sent == 1);
	/* The control buffer was only read. */
	FUZZ_ASSERT(!memcmp(buf, control, len));
	free(buf);
	drain(p[11] * 32u);
}

static void routine(DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED ov, DWORD dwFlags)
{
	(*(int *)ov->hEvent)++;
}

static void fuzz_ioctl(const unsigned char *blob, size_t len, const uint8_t *p)
{
	static const DWORD codes[] = {
		SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS, SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT,
		SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS, SIO_GET_EXTENSION_FUNCTION_POINTER,
	};
	const int fds[] = { tcp, udp, ustream, sv[0], devnull, -1 };
	int fd = fds[p[0] % 6], is_socket = p[0] % 6 < 4, calls = 0, rc, err;
	DWORD code = p[1] % 5 < 4 ? codes[p[1] % 5] : u32(p + 12);
	DWORD cb_out = u32(p + 2) % (OUT_MAX + 1), cb_in = u32(p + 6) % (OUT_MAX + 1);
	int null_out = p[10] & 1, null_count = p[10] & 2, overlapped = p[10] & 4,
	    with_routine = p[10] & 8, null_in = p[10] & 16, with_event = p[10] & 32;
	unsigned char *out = malloc(cb_out + GUARD), *in;
	WSAOVERLAPPED ov;
	DWORD bytes = 12345;
	size_t k;

	FUZZ_ASSERT(out);
	if (cb_in > len)
		cb_in = (DWORD)len;
	in = malloc(cb_in ? cb_in : 1);
	FUZZ_ASSERT(in);
	memcpy(in, blob, cb_in);
	memset(out, 0xa5, cb_out + GUARD);
	memset(&ov, 0, sizeof(ov));
	WSAResetEvent(event);
	ov.hEvent = with_routine ? (HANDLE)&calls : with_event ? event : NULL;
	WSASetLastError(0);
	rc = WSAIoctl(fd, code, null_in ? NULL : in, cb_in, null_out ? NULL : out, cb_out,
		      null_count ? NULL : &bytes, overlapped ? &ov : NULL,
		      with_routine ? routine : NULL);
	err = rc ? WSAGetLastError() : 0;

	FUZZ_ASSERT(rc == 0 || rc == SOCKET_ERROR);
	FUZZ_ASSERT(rc == 0 || err != 0);
	for (k = 0; k < GUARD; k++)
		FUZZ_ASSERT(out[cb_out + k] == 0xa5);
	if (!is_socket)
		FUZZ_ASSERT(err == WSAENOTSOCK);
	else if (null_count && !overlapped)
		FUZZ_ASSERT(err == WSAEFAULT);
	if (!null_count) {
		if (err == ERROR_INSUFFICIENT_BUFFER)
			FUZZ_ASSERT(bytes > 0 && (null_out || bytes > cb_out));
		else if (err)
			FUZZ_ASSERT(bytes == 0);
		else
			FUZZ_ASSERT(bytes <= cb_out);
	}
	if (is_socket && (null_count ? overlapped : 1) && fd == tcp &&
	    (code == SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS ||
	     code == SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT)) {
		if (!null_out && cb_out > 0 && cb_out < sizeof(ULONG))
			FUZZ_ASSERT(err == WSAEINVAL);
		else
			FUZZ_ASSERT(err == WSAENOTCONN);   /* never connected */
	}
	if (code == SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS && is_socket && err != WSAEFAULT &&
	    cb_out != 0 && (fd == tcp || fd == udp))
		FUZZ_ASSERT(err == WSAEINVAL);
	if (overlapped) {
		FUZZ_ASSERT((DWORD)ov.Internal == (DWORD)err);
		FUZZ_ASSERT(calls == (with_routine && rc == 0 ? 1 : 0));
		if (with_event && !with_routine)
			FUZZ_ASSERT(WSAWaitForMultipleEvents(1, &event, FALSE, 0, FALSE) ==
				    WSA_WAIT_EVENT_0);
	} else {
		FUZZ_ASSERT(calls == 0);
	}
	if (!err && code == SIO_GET_EXTENSION_FUNCTION_POINTER) {
		void *fn;

		FUZZ_ASSERT(cb_out >= sizeof(fn) && !null_out);
		memcpy(&fn, out, sizeof(fn));
		FUZZ_ASSERT(fn != NULL);
	}
	free(in);
	free(out);
}

/*
 * Every message of the list of @len bytes at @buf is whole (@exact: and the
 * list ends with one); unless @exact is 2, none is @level/@type.
 */
static void check_list(const unsigned char *buf, size_t len, int level, int type, int exact)
{
	size_t off = 0, step;
	WSACMSGHDR h;

	while (len - off >= H) {
		h = header_at(buf, off);
		FUZZ_ASSERT(h.cmsg_len >= H && h.cmsg_len <= len - off);
		if (exact < 2)   /* 2: any type may be there */
			FUZZ_ASSERT(h.cmsg_level != level || h.cmsg_type != type);
		step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
		off += step < len - off ? step : len - off;
	}
	FUZZ_ASSERT(off == len || !exact);
}

static void fuzz_helpers(const unsigned char *control, size_t len, const uint8_t *p)
{
	int level = p[0] & 1 ? IPPROTO_IP : SOL_SOCKET, type = p[0] & 1 ? p[1] : SO_MARK;
	size_t n, cut, cap = len ? u32(p + 2) % (len + 1) : 0, used, room;
	unsigned char *a, *b;
	int trunc;

	a = malloc(len ? len : 1);
	FUZZ_ASSERT(a);
	memcpy(a, control, len);
	n = crd_ws_cmsg_strip(a, len, level, type);
	FUZZ_ASSERT(n <= len);
	check_list(a, n, level, type, 1);
	cut = n;
	trunc = crd_ws_cmsg_fit(a, &cut, cap);
	FUZZ_ASSERT(cut <= n);
	if (n <= cap)
		FUZZ_ASSERT(cut == n && !trunc);
	else
		FUZZ_ASSERT(cut <= cap);
	check_list(a, cut, level, type, 1);
	room = cut + (p[6] & 0x7f);
	b = malloc(room ? room : 1);
	FUZZ_ASSERT(b);
	memcpy(b, a, cut);
	used = cut;
	if (!crd_ws_cmsg_append(b, &used, room, IPPROTO_IP, IP_WFP_REDIRECT_RECORDS, control,
				len < p[7] ? len : p[7])) {
		FUZZ_ASSERT(used > cut && used <= room);
		check_list(b, used, 0, 0, 2);
	} else {
		FUZZ_ASSERT(used == cut);
	}
	free(b);
	free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zero[16];
	const uint8_t *params = size >= 16 ? data : zero;
	const uint8_t *control = size >= 16 ? data + 16 : data;
	size_t len = size >= 16 ? size - 16 : size;
	unsigned char *buf;

	if (sv[0] < 0)
		setup();
	buf = malloc(len ? len : 1);   /* exactly len bytes: ASan sees any overrun */
	FUZZ_ASSERT(buf);
	memcpy(buf, control, len);
	fuzz_walk(buf, len);
	free(buf);
	fuzz_helpers(control, len, params);
	fuzz_send(control, len, params);
	fuzz_ioctl(control, len, params);
	return 0;
}
