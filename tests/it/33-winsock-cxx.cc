// SPDX-License-Identifier: MIT
/*
 * 33-winsock-cxx.cc - the C++ length overloads of winsock.h at run time:
 * int * and unsigned long * lengths and counts go in and come back right,
 * and NULL still reaches the plain call. Prints "ok WHAT" or "bad WHAT" per
 * check (33-winsock-names.sh turns them into PASS/FAIL); loopback only.
 */
#include <connredir/winsock.h>

#include <cstdio>

static int bad;

static void say(bool ok, const char *what)
{
	std::printf("%s %s\n", ok ? "ok" : "bad", what);
	bad += !ok;
}

int main()
{
	SOCKADDR_STORAGE ss, peer;
	SOCKADDR_IN *a = (SOCKADDR_IN *)&ss;
	SOCKET l = socket(AF_INET, SOCK_STREAM, 0), c, s, u;
	int ilen = sizeof(ss), type = 0;
	unsigned long ulen = sizeof(ss), ubytes = 99, uflags = 0;
	long lbytes = 99;
	GUID id = WSAID_WSARECVMSG;
	LPFN_WSARECVMSG fn = NULL;
	char buf[8] = "abc", in[8];
	WSABUF wb = { 3, buf }, ib = { sizeof(in), in };

	ZeroMemory(&ss, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (SOCKADDR *)&ss, sizeof(*a)) || listen(l, 2))
		return say(false, "a listener on 127.0.0.1"), 1;
	say(getsockname(l, (SOCKADDR *)&ss, &ilen) == 0 && ilen == (int)sizeof(SOCKADDR_IN) &&
	    INETADDR_PORT((SOCKADDR *)&ss) != 0, "getsockname with an int length: 16 back");
	ZeroMemory(&peer, sizeof(peer));
	say(getsockname(l, (SOCKADDR *)&peer, &ulen) == 0 && ulen == sizeof(SOCKADDR_IN) &&
	    INETADDR_PORT((SOCKADDR *)&peer) == INETADDR_PORT((SOCKADDR *)&ss),
	    "getsockname with an unsigned long length: 16 back");
	ilen = sizeof(type);
	say(getsockopt(l, SOL_SOCKET, SO_TYPE, (char *)&type, &ilen) == 0 && ilen == 4 &&
	    type == SOCK_STREAM, "getsockopt(SO_TYPE) with a char * value and an int length");
	c = socket(AF_INET, SOCK_STREAM, 0);
	say(WSAConnect(c, (SOCKADDR *)&ss, sizeof(*a), NULL, NULL, NULL, NULL) == 0, "WSAConnect");
	ilen = sizeof(peer);
	s = accept(l, (SOCKADDR *)&peer, &ilen);
	say(s >= 0 && ilen == (int)sizeof(SOCKADDR_IN) && INETADDR_ISLOOPBACK((SOCKADDR *)&peer),
	    "accept with an int length");
	ulen = sizeof(peer);
	say(getpeername(c, (SOCKADDR *)&peer, &ulen) == 0 && ulen == sizeof(SOCKADDR_IN),
	    "getpeername with an unsigned long length");
	say(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &fn, sizeof(fn),
		     &ubytes, NULL, NULL) == 0 && ubytes == sizeof(fn) && fn != NULL,
	    "WSAIoctl with an unsigned long count: the pointer size back");
	say(WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &fn, sizeof(fn),
		     &lbytes, NULL, NULL) == 0 && lbytes == (long)sizeof(fn), "... with a long count");
	ubytes = 99;
	say(WSASend(c, &wb, 1, &ubytes, 0, NULL, NULL) == 0 && ubytes == 3,
	    "WSASend with an unsigned long count: 3");
	ubytes = 99;
	say(WSARecv(s, &ib, 1, &ubytes, &uflags, NULL, NULL) == 0 && ubytes == 3 && uflags == 0,
	    "WSARecv with unsigned long count and flags: 3, 0");
	closesocket(c);
	closesocket(s);
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (SOCKADDR *)&ss, sizeof(*a));
	s = accept(l, NULL, NULL);
	say(s >= 0, "accept(s, NULL, NULL) reaches libc's accept");
	closesocket(s);
	closesocket(c);

	u = socket(AF_INET, SOCK_DGRAM, 0);
	a->sin_port = 0;
	ilen = sizeof(ss);
	if (bind(u, (SOCKADDR *)&ss, sizeof(*a)) || getsockname(u, (SOCKADDR *)&ss, &ilen))
		return say(false, "a UDP socket"), 1;
	sendto(u, buf, 3, 0, (SOCKADDR *)&ss, sizeof(*a));
	ilen = sizeof(peer);
	say(recvfrom(u, in, sizeof(in), 0, (SOCKADDR *)&peer, &ilen) == 3 &&
	    ilen == (int)sizeof(SOCKADDR_IN), "recvfrom with an int length");
	sendto(u, buf, 3, 0, (SOCKADDR *)&ss, sizeof(*a));
	say(recvfrom(u, in, sizeof(in), 0, NULL, NULL) == 3, "recvfrom with NULL, NULL");
	closesocket(u);
	closesocket(l);
	return bad ? 1 : 0;
}
