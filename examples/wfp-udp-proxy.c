// SPDX-License-Identifier: MIT
/*
 * wfp-udp-proxy - a chain-capable UDP redirect proxy written the Windows
 * way: winsock.h and libc socket calls only. It receives with WSARecvMsg
 * (through SIO_GET_EXTENSION_FUNCTION_POINTER) into a 2 KiB control buffer;
 * the first datagram of a redirected flow carries IP(V6)_WFP_REDIRECT_RECORDS
 * and IP(V6)_WFP_REDIRECT_CONTEXT control messages. For such a datagram it
 * opens a per-flow socket and sends the datagram to the original destination
 * with WSASendMsg, the records as an IP(V6)_WFP_REDIRECT_RECORDS control
 * message; later datagrams from the same source go the same way without
 * control messages. Answers go back to the application from the per-flow
 * socket (from the listening socket when the application's socket is
 * connected). Single-threaded. As on Windows, it asks for the messages on
 * its listening socket with setsockopt(IP_WFP_REDIRECT_RECORDS /
 * IP_WFP_REDIRECT_CONTEXT, TRUE) at IPPROTO_IP or IPPROTO_IPV6 (by family);
 * --wfp-off sets both FALSE instead (a test of that switch: the proxy then
 * gets no messages and forwards nothing).
 *
 *   wfp-udp-proxy --name NAME --listen ADDR:PORT [--log FILE] [--ready FILE]
 *                  [--idle SECONDS] [--wfp-off]
 *
 * Log lines:
 *   wfp proxy=NAME records=BYTES context=BYTES service=ID hop=H nhops=N
 *       orig=ADDR:PORT src=ADDR:PORT app_pid=PID app_comm=COMM connected=0|1
 *       level=ip|ipv6 send=ok|ERROR          (a datagram with WFP messages)
 *   dgram proxy=NAME src=ADDR:PORT bytes=N wfp=0|1 ctrunc=0|1 mark=0|1 flow=I
 *   reply proxy=NAME flow=I bytes=N
 *   unknown proxy=NAME src=ADDR:PORT       (no flow and no records)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <connredir/winsock.h>

#define MAXF 64

struct flow {
	SOCKET fd;                       /* INVALID_SOCKET: free */
	int connected;
	SOCKADDR_STORAGE app;
	socklen_t app_len;
	SOCKADDR_STORAGE dst;
	socklen_t dst_len;
	time_t last;
};

static struct flow flows[MAXF];
static const char *name = "wsudp";
static FILE *log_out;
static LPFN_WSARECVMSG WSARecvMsg_;

static const char *wsa_name(int e, char *buf, size_t size)
{
	switch (e) {
	case 0: return "ok";
	case WSAEINVAL: return "WSAEINVAL";
	case WSAEACCES: return "WSAEACCES";
	case WSAEOPNOTSUPP: return "WSAEOPNOTSUPP";
	case WSAEFAULT: return "WSAEFAULT";
	case FWP_E_NOT_FOUND: return "FWP_E_NOT_FOUND";
	default:
		snprintf(buf, size, "%d", e);
		return buf;
	}
}

static const char *fmt(const SOCKADDR_STORAGE *ss, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const SOCKADDR_IN *s4 = (const SOCKADDR_IN *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		const SOCKADDR_IN6 *s6 = (const SOCKADDR_IN6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
	return buf;
}

static int parse(const char *text, SOCKADDR_STORAGE *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	size_t n;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == text || (n = (size_t)(colon - text)) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, NULL, 10);
	memcpy(host, text, n);
	host[n] = 0;
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		SOCKADDR_IN6 *s6 = (SOCKADDR_IN6 *)ss;

		host[n - 1] = 0;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	SOCKADDR_IN *s4 = (SOCKADDR_IN *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

/* The original destination of a context, as a socket address. */
static void ctx_dst(const struct connredir_context *ctx, SOCKADDR_STORAGE *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (ctx->orig_family == AF_INET) {
		SOCKADDR_IN *s4 = (SOCKADDR_IN *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = ctx->orig_dst_port;
		memcpy(&s4->sin_addr, ctx->orig_dst + 12, 4);
		*len = sizeof(*s4);
	} else {
		SOCKADDR_IN6 *s6 = (SOCKADDR_IN6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = ctx->orig_dst_port;
		memcpy(&s6->sin6_addr, ctx->orig_dst, 16);
		*len = sizeof(*s6);
	}
}

static int same_addr(const SOCKADDR_STORAGE *a, socklen_t al, const SOCKADDR_STORAGE *b,
		     socklen_t bl)
{
	return al == bl && !memcmp(a, b, al);
}

/* Send @n bytes on flow @f, with the records as a control message if @rec. */
static int flow_send(struct flow *f, const char *data, size_t n, const void *rec, size_t rlen)
{
	union {
		WSACMSGHDR h;
		char space[WSA_CMSG_SPACE(CONNREDIR_RECORDS_MAX)];
	} cbuf;
	WSABUF wb = { .len = (ULONG)n, .buf = (CHAR *)data };
	WSAMSG m = { .name = (LPSOCKADDR)&f->dst, .namelen = (INT)f->dst_len,
		     .lpBuffers = &wb, .dwBufferCount = 1 };
	DWORD sent = 0;

	if (rec) {
		WSACMSGHDR *c;

		memset(&cbuf, 0, sizeof(cbuf));
		m.Control.buf = cbuf.space;
		m.Control.len = (ULONG)WSA_CMSG_SPACE(rlen);
		c = WSA_CMSG_FIRSTHDR(&m);
		c->cmsg_level = f->dst.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
		c->cmsg_type = f->dst.ss_family == AF_INET6 ? IPV6_WFP_REDIRECT_RECORDS :
			IP_WFP_REDIRECT_RECORDS;
		c->cmsg_len = WSA_CMSG_LEN(rlen);
		memcpy(WSA_CMSG_DATA(c), rec, rlen);
	}
	return WSASendMsg(f->fd, &m, 0, &sent, NULL, NULL) == SOCKET_ERROR ? WSAGetLastError() : 0;
}

static void on_datagram(SOCKET lfd, time_t now)
{
	static char data[65536];
	union {
		WSACMSGHDR h;
		char space[2048];   /* Envoy on Windows uses 2 KiB */
	} cbuf;
	SOCKADDR_STORAGE from;
	WSABUF wb = { .len = sizeof(data), .buf = data };
	WSAMSG m = { .name = (LPSOCKADDR)&from, .namelen = sizeof(from), .lpBuffers = &wb,
		     .dwBufferCount = 1, .Control = { .len = sizeof(cbuf.space), .buf = cbuf.space } };
	const void *rec = NULL;
	struct connredir_context ctx;
	size_t rlen = 0, clen = 0;
	int wfp = 0, level = 0, mark = 0, i, k = -1;
	struct flow *f = NULL;
	WSACMSGHDR *c;
	DWORD got = 0;
	char fs[64], os[64], num[16];

	if (WSARecvMsg_(lfd, &m, &got, NULL, NULL) == SOCKET_ERROR)
		return;
	for (c = WSA_CMSG_FIRSTHDR(&m); c; c = WSA_CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_MARK)
			mark = 1;
		if (c->cmsg_level != IPPROTO_IP && c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IP_WFP_REDIRECT_RECORDS) {
			rec = WSA_CMSG_DATA(c);
			rlen = c->cmsg_len - WSA_CMSG_LEN(0);
			level = c->cmsg_level;
			wfp = 1;
		} else if (c->cmsg_type == IP_WFP_REDIRECT_CONTEXT) {
			clen = c->cmsg_len - WSA_CMSG_LEN(0);
			memset(&ctx, 0, sizeof(ctx));
			memcpy(&ctx, WSA_CMSG_DATA(c), clen < sizeof(ctx) ? clen : sizeof(ctx));
			wfp = 1;
		}
	}
	fmt(&from, fs, sizeof(fs));
	if (rec && clen >= sizeof(ctx)) {
		/* A new flow: a free slot (or the oldest), its own socket. */
		for (i = 0; i < MAXF; i++) {
			if (flows[i].fd == INVALID_SOCKET) {
				k = i;
				break;
			}
			if (k < 0 || flows[i].last < flows[k].last)
				k = i;
		}
		f = &flows[k];
		if (f->fd != INVALID_SOCKET)
			closesocket(f->fd);
		memset(f, 0, sizeof(*f));
		ctx_dst(&ctx, &f->dst, &f->dst_len);
		memcpy(&f->app, &from, (size_t)m.namelen);
		f->app_len = (socklen_t)m.namelen;
		f->connected = !!(ctx.flags & CONNREDIR_CTX_UDP_CONNECTED);
		f->fd = socket(f->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		f->last = now;
		i = f->fd == INVALID_SOCKET ? WSAGetLastError() : flow_send(f, data, got, rec, rlen);
		fprintf(log_out, "wfp proxy=%s records=%zu context=%zu service=%u hop=%u nhops=%u "
			"orig=%s src=%s app_pid=%u app_comm=%s connected=%d level=%s send=%s\n",
			name, rlen, clen, ctx.service_id, ctx.hop, ctx.nhops,
			fmt(&f->dst, os, sizeof(os)), fs, ctx.app_pid, ctx.app_comm, f->connected,
			level == IPPROTO_IPV6 ? "ipv6" : "ip", wsa_name(i, num, sizeof(num)));
	} else {
		for (i = 0; i < MAXF; i++)
			if (flows[i].fd != INVALID_SOCKET &&
			    same_addr(&flows[i].app, flows[i].app_len, &from, (socklen_t)m.namelen))
				k = i;
		if (k >= 0) {
			f = &flows[k];
			f->last = now;
			flow_send(f, data, got, NULL, 0);
		} else {
			fprintf(log_out, "unknown proxy=%s src=%s\n", name, fs);
		}
	}
	fprintf(log_out, "dgram proxy=%s src=%s bytes=%u wfp=%d ctrunc=%d mark=%d flow=%d\n",
		name, fs, (unsigned)got, wfp, !!(m.dwFlags & MSG_CTRUNC), mark, k);
	fflush(log_out);
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *logpath = NULL, *ready = NULL;
	GUID id = WSAID_WSARECVMSG;
	SOCKADDR_STORAGE ls;
	struct pollfd p[MAXF + 1];
	socklen_t sl = 0;
	DWORD bytes = 0;
	SOCKET lfd;
	int i, idle = 30, one = 1, level;
	DWORD wfp_on = TRUE;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--name"))
			name = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--listen"))
			listen_s = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--log"))
			logpath = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--ready"))
			ready = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--idle"))
			idle = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--wfp-off"))
			wfp_on = FALSE;
		else
			return fprintf(stderr, "usage: wfp-udp-proxy --name NAME --listen ADDR:PORT "
				       "[--log FILE] [--ready FILE] [--idle S] [--wfp-off]\n"), 2;
	}
	if (!listen_s || parse(listen_s, &ls, &sl))
		return fprintf(stderr, "wfp-udp-proxy: --listen ADDR:PORT needed\n"), 2;
	log_out = logpath ? fopen(logpath, "a") : stdout;
	if (!log_out)
		return perror(logpath), 1;
	lfd = socket(ls.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (lfd != INVALID_SOCKET && ls.ss_family == AF_INET6)
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (lfd == INVALID_SOCKET || bind(lfd, (LPSOCKADDR)&ls, sl))
		return fprintf(stderr, "wfp-udp-proxy: %s: %s\n", listen_s, strerror(errno)), 1;
	level = ls.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
	if (setsockopt(lfd, level, IP_WFP_REDIRECT_RECORDS, &wfp_on, sizeof(wfp_on)) ||
	    setsockopt(lfd, level, IP_WFP_REDIRECT_CONTEXT, &wfp_on, sizeof(wfp_on)))
		return fprintf(stderr, "wfp-udp-proxy: setsockopt(IP_WFP_REDIRECT_*): %d\n",
			       WSAGetLastError()), 1;
	if (WSAIoctl(lfd, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof(id), &WSARecvMsg_,
		     sizeof(WSARecvMsg_), &bytes, NULL, NULL) == SOCKET_ERROR)
		return fprintf(stderr, "wfp-udp-proxy: WSARecvMsg: %d\n", WSAGetLastError()), 1;
	for (i = 0; i < MAXF; i++)
		flows[i].fd = INVALID_SOCKET;
	if (ready) {
		FILE *rf = fopen(ready, "w");

		if (rf)
			fclose(rf);
	}
	for (;;) {
		time_t now = time(NULL);

		p[0].fd = lfd;
		p[0].events = POLLIN;
		for (i = 0; i < MAXF; i++) {
			if (flows[i].fd != INVALID_SOCKET && now - flows[i].last > idle) {
				closesocket(flows[i].fd);
				flows[i].fd = INVALID_SOCKET;
			}
			p[i + 1].fd = flows[i].fd;
			p[i + 1].events = POLLIN;
		}
		if (poll(p, MAXF + 1, 1000) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN)
			on_datagram(lfd, now);
		for (i = 0; i < MAXF; i++) {
			struct flow *f = &flows[i];
			char buf[65536];
			ssize_t r;

			if (f->fd == INVALID_SOCKET || !(p[i + 1].revents & POLLIN))
				continue;
			r = recv(f->fd, buf, sizeof(buf), 0);
			if (r < 0)
				continue;
			f->last = now;
			sendto(f->connected ? lfd : f->fd, buf, (size_t)r, 0, (LPSOCKADDR)&f->app,
			       f->app_len);
			fprintf(log_out, "reply proxy=%s flow=%d bytes=%zd\n", name, i, r);
			fflush(log_out);
		}
	}
}
