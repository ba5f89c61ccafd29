// SPDX-License-Identifier: MIT
/*
 * wfp-tcp-proxy - a chain-capable redirect proxy written the Windows way:
 * winsock.h and libc socket calls only, as Microsoft's WFP proxy sample
 * does it. Per accepted connection it queries the redirect records and its
 * context with WSAIoctl, opens its own socket to the original destination,
 * sets the records on it with SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS before
 * connect(), and relays. It also tries the buffer rules and error cases on
 * the way and logs every answer, for the integration test.
 *
 *   wfp-tcp-proxy --name NAME --listen ADDR:PORT [--log FILE] [--ready FILE]
 *               [--blob-dir DIR]
 *   wfp-tcp-proxy --local
 *   wfp-tcp-proxy --try-set BLOBFILE [--flip OFFSET] [--connect ADDR:PORT]
 *
 * Proxy mode logs one line per accepted connection once it has connected
 * onward (or given up), each WSAIoctl answer as ERROR/BYTES (ok/64,
 * ERROR_INSUFFICIENT_BUFFER/64, WSAEINVAL/0, WSAENOPROTOOPT/0 ...):
 *
 *   hop proxy=NAME service=ID hop=H nhops=N orig=ADDR:PORT app_pid=PID
 *       app_comm=COMM flow=HEX size=.. tiny=.. short=.. badptr=.. records=..
 *       ctxsize=.. context=.. ovl=../EVENT routine=ERR/BYTES/CALLS|none
 *       out_query=.. set_cbout=.. set_empty=.. set_badptr=.. set=..
 *       onward=ok|ERROR set_after=..
 *
 * With --blob-dir the records blob of each flow goes to DIR/FLOW-NHOPS.blob
 * (FLOW as in the log line).
 * --local prints key=answer lines for sockets that were never redirected
 * (run it inside the attached cgroup, and outside). --try-set sets a blob on
 * a new socket ("set=ANSWER") and with --connect says where the connection
 * went ("peer=ADDR:PORT" or "connect=ERROR").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <connredir/winsock.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80   /* Linux, SOL_IP: what an unmodified proxy reads */
#endif

#define QREC SIO_QUERY_WFP_CONNECTION_REDIRECT_RECORDS
#define QCTX SIO_QUERY_WFP_CONNECTION_REDIRECT_CONTEXT
#define SETREC SIO_SET_WFP_CONNECTION_REDIRECT_RECORDS

/* Microsoft's sample: 8 KiB for the records, two SOCKADDR_STORAGEs for the context. */
#define REDIRECT_RECORDS_SIZE 8192
#define REDIRECT_CONTEXT_SIZE (sizeof(SOCKADDR_STORAGE) * 2)

static const char *proxy_name = "wsproxy";
static const char *blob_dir;
static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *wsa_name(int e, char *buf, size_t size)
{
	switch (e) {
	case 0: return "ok";
	case ERROR_INSUFFICIENT_BUFFER: return "ERROR_INSUFFICIENT_BUFFER";
	case FWP_E_NOT_FOUND: return "FWP_E_NOT_FOUND";
	case WSAEINVAL: return "WSAEINVAL";
	case WSAEFAULT: return "WSAEFAULT";
	case WSAEACCES: return "WSAEACCES";
	case WSAENOTSOCK: return "WSAENOTSOCK";
	case WSAENOTCONN: return "WSAENOTCONN";
	case WSAEISCONN: return "WSAEISCONN";
	case WSAEOPNOTSUPP: return "WSAEOPNOTSUPP";
	case WSAENOPROTOOPT: return "WSAENOPROTOOPT";
	case WSAECONNREFUSED: return "WSAECONNREFUSED";
	case WSAENETDOWN: return "WSAENETDOWN";
	default:
		snprintf(buf, size, "%d", e);
		return buf;
	}
}

/* One WSAIoctl answer as "ERROR/BYTES". */
struct answer {
	char text[48];
	int err;
	DWORD bytes;
};

static void answer_set(struct answer *a, int rc, DWORD bytes)
{
	char num[16];

	a->err = rc == SOCKET_ERROR ? WSAGetLastError() : 0;
	a->bytes = bytes;
	snprintf(a->text, sizeof(a->text), "%s/%u", wsa_name(a->err, num, sizeof(num)),
		 (unsigned)bytes);
}

static struct answer ioctl_answer(SOCKET s, DWORD code, void *in, DWORD cb_in, void *out,
				  DWORD cb_out)
{
	struct answer a;
	DWORD bytes = 12345;
	int rc;

	rc = WSAIoctl(s, code, in, cb_in, out, cb_out, &bytes, NULL, NULL);
	answer_set(&a, rc, bytes);
	return a;
}

static int parse_endpoint(const char *text, SOCKADDR_STORAGE *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	long port;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (!colon || colon == text)
		return -1;
	port = strtol(colon + 1, NULL, 10);
	n = (size_t)(colon - text);
	if (port < 0 || port > 65535 || n >= sizeof(host))
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		SOCKADDR_IN6 *s6 = (SOCKADDR_IN6 *)ss;

		host[n - 1] = '\0';
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

static const char *format_endpoint(const SOCKADDR_STORAGE *ss, char *buf, size_t size)
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

/* The original destination from a connredir context blob. */
static socklen_t context_destination(const struct connredir_context *ctx, SOCKADDR_STORAGE *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ctx->orig_family == AF_INET) {
		SOCKADDR_IN *s4 = (SOCKADDR_IN *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = ctx->orig_dst_port;
		memcpy(&s4->sin_addr, ctx->orig_dst + 12, 4);
		return sizeof(*s4);
	}
	SOCKADDR_IN6 *s6 = (SOCKADDR_IN6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = ctx->orig_dst_port;
	memcpy(&s6->sin6_addr, ctx->orig_dst, 16);
	return sizeof(*s6);
}

/* Copy both ways until both sides are done; half-close carried across. */
static void relay(SOCKET a, SOCKET b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	int open_in[2] = { 1, 1 };
	char buf[65536];

	while (open_in[0] || open_in[1]) {
		int i;

		if (poll(p, 2, 30000) <= 0)
			return;
		for (i = 0; i < 2; i++) {
			SOCKET from = i ? b : a, to = i ? a : b;
			ssize_t n, w, off = 0;

			if (!open_in[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(from, buf, sizeof(buf), 0);
			if (n <= 0) {
				if (n < 0 && WSAGetLastError() == WSAECONNRESET) {
					struct linger l = { 1, 0 };

					setsockopt(to, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
					return;
				}
				open_in[i] = 0;
				p[i].events = 0;
				p[i].fd = -1;
				shutdown(to, SHUT_WR);
				continue;
			}
			while (off < n) {
				w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

struct routine_seen {
	int calls;
	DWORD err, bytes;
};

static void CALLBACK on_complete(DWORD dwError, DWORD cbTransferred, LPWSAOVERLAPPED ov,
				 DWORD dwFlags)
{
	struct routine_seen *seen = ov->hEvent;   /* the Windows idiom: our context */

	seen->calls++;
	seen->err = dwError;
	seen->bytes = cbTransferred;
}

static void *serve(void *arg)
{
	SOCKET accepted = (SOCKET)(intptr_t)arg, outbound = INVALID_SOCKET;
	BYTE *records = calloc(1, REDIRECT_RECORDS_SIZE);
	BYTE context[REDIRECT_CONTEXT_SIZE];
	struct connredir_context ctx;
	struct answer size, tiny, shrt, bad, rec, ctxsize, cx, ovl, outq = { .text = "-" },
		      set_cbout = { .text = "-" }, set_empty = { .text = "-" },
		      set_bad = { .text = "-" }, set = { .text = "-" }, set_after = { .text = "-" };
	struct routine_seen seen = { 0 };
	char orig[80] = "?", onward[48] = "none", ovl_text[80], routine_text[64], num[16];
	SOCKADDR_STORAGE dst;
	socklen_t dst_len = 0;
	WSAOVERLAPPED ov;
	WSAEVENT ev;
	int rc, have_ctx = 0;

	if (!records) {
		closesocket(accepted);
		return NULL;
	}
	/* The buffer rules, tried one by one. */
	size = ioctl_answer(accepted, QREC, NULL, 0, NULL, 0);
	tiny = ioctl_answer(accepted, QREC, NULL, 0, records, 2);
	shrt = ioctl_answer(accepted, QREC, NULL, 0, records, 8);
	bad = ioctl_answer(accepted, QREC, NULL, 0, (void *)16, 1024);
	ctxsize = ioctl_answer(accepted, QCTX, NULL, 0, NULL, 0);

	/* Overlapped, with an event; then with a completion routine. */
	ev = WSACreateEvent();
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = ev;
	rc = WSAIoctl(accepted, QREC, NULL, 0, records, REDIRECT_RECORDS_SIZE, NULL, &ov, NULL);
	answer_set(&ovl, rc, (DWORD)ov.InternalHigh);
	snprintf(ovl_text, sizeof(ovl_text), "%s/%s", ovl.text,
		 WSAWaitForMultipleEvents(1, &ev, FALSE, 0, FALSE) == WSA_WAIT_EVENT_0 ?
		 "signalled" : "unsignalled");
	WSACloseEvent(ev);
	memset(&ov, 0, sizeof(ov));
	ov.hEvent = &seen;
	WSAIoctl(accepted, QREC, NULL, 0, records, REDIRECT_RECORDS_SIZE, NULL, &ov, on_complete);
	if (seen.calls)
		snprintf(routine_text, sizeof(routine_text), "%s/%u/%d",
			 wsa_name((int)seen.err, num, sizeof(num)), (unsigned)seen.bytes, seen.calls);
	else
		snprintf(routine_text, sizeof(routine_text), "none");

	/* As Microsoft's sample: the records, then the context (optional). */
	rec = ioctl_answer(accepted, QREC, NULL, 0, records, REDIRECT_RECORDS_SIZE);
	cx = ioctl_answer(accepted, QCTX, NULL, 0, context, sizeof(context));
	if (!cx.err && cx.bytes >= sizeof(ctx)) {
		memcpy(&ctx, context, sizeof(ctx));
		have_ctx = 1;
		dst_len = context_destination(&ctx, &dst);
	} else {
		/* No context for us: what an unmodified proxy reads. */
		SOCKADDR_IN s4;
		socklen_t l = sizeof(s4);

		if (!getsockopt(accepted, SOL_IP, SO_ORIGINAL_DST, &s4, &l)) {
			memset(&dst, 0, sizeof(dst));
			memcpy(&dst, &s4, sizeof(s4));
			dst_len = sizeof(s4);
		}
	}
	if (dst_len)
		format_endpoint(&dst, orig, sizeof(orig));
	if (have_ctx && blob_dir && !rec.err) {
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%llx-%u.blob", blob_dir,
			 (unsigned long long)ctx.flow_id, ctx.nhops);
		f = fopen(path, "w");
		if (f) {
			fwrite(records, 1, rec.bytes, f);
			fclose(f);
		}
	}

	if (dst_len) {
		outbound = socket(dst.ss_family, SOCK_STREAM, 0);
		if (outbound == INVALID_SOCKET)
			snprintf(onward, sizeof(onward), "socket:%d", WSAGetLastError());
	}
	if (outbound != INVALID_SOCKET) {
		outq = ioctl_answer(outbound, QREC, NULL, 0, NULL, 0);
		if (!rec.err) {
			/* Refused before the kernel sees them: no effect on the flow. */
			set_cbout = ioctl_answer(outbound, SETREC, records, rec.bytes, context, 4);
			set_empty = ioctl_answer(outbound, SETREC, records, 0, NULL, 0);
			set_bad = ioctl_answer(outbound, SETREC, (void *)16, rec.bytes, NULL, 0);
			/* Attach the records to the proxy socket, before connect. */
			set = ioctl_answer(outbound, SETREC, records, rec.bytes, NULL, 0);
		}
		if (connect(outbound, (SOCKADDR *)&dst, dst_len) == SOCKET_ERROR) {
			snprintf(onward, sizeof(onward), "%s",
				 wsa_name(WSAGetLastError(), num, sizeof(num)));
			closesocket(outbound);
			outbound = INVALID_SOCKET;
		} else {
			snprintf(onward, sizeof(onward), "ok");
			if (!rec.err)
				set_after = ioctl_answer(outbound, SETREC, records, rec.bytes,
							 NULL, 0);
		}
	}

	pthread_mutex_lock(&log_lock);
	fprintf(log_out, "hop proxy=%s service=%s%u hop=%s%u nhops=%u orig=%s app_pid=%u "
		"app_comm=%s flow=%llx size=%s tiny=%s short=%s badptr=%s records=%s "
		"ctxsize=%s context=%s ovl=%s routine=%s out_query=%s set_cbout=%s "
		"set_empty=%s set_badptr=%s set=%s onward=%s set_after=%s\n",
		proxy_name, have_ctx ? "" : "-", have_ctx ? ctx.service_id : 0,
		have_ctx ? "" : "-", have_ctx ? ctx.hop : 0, have_ctx ? ctx.nhops : 0, orig,
		have_ctx ? ctx.app_pid : 0, have_ctx ? ctx.app_comm : "?",
		have_ctx ? (unsigned long long)ctx.flow_id : 0ULL, size.text, tiny.text,
		shrt.text, bad.text, rec.text, ctxsize.text, cx.text, ovl_text, routine_text,
		outq.text, set_cbout.text, set_empty.text, set_bad.text, set.text, onward,
		set_after.text);
	fflush(log_out);
	pthread_mutex_unlock(&log_lock);

	if (outbound != INVALID_SOCKET) {
		relay(accepted, outbound);
		closesocket(outbound);
	}
	closesocket(accepted);
	free(records);
	return NULL;
}

static SOCKET listen_on(const SOCKADDR_STORAGE *ss, socklen_t len)
{
	SOCKET l = socket(ss->ss_family, SOCK_STREAM, 0);
	int one = 1;

	if (l == INVALID_SOCKET)
		return INVALID_SOCKET;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(l, (const SOCKADDR *)ss, len) == SOCKET_ERROR || listen(l, 1024) == SOCKET_ERROR) {
		closesocket(l);
		return INVALID_SOCKET;
	}
	return l;
}

/* --local: every answer for sockets that were never redirected. */
static int local_checks(void)
{
	SOCKADDR_STORAGE ss;
	socklen_t len;
	char buf[CONNREDIR_RECORDS_MAX], zero[64] = { 0 };
	SOCKET l, c, a, u, x, t;
	int p[2];

	parse_endpoint("127.0.0.1:0", &ss, &len);
	l = listen_on(&ss, len);
	len = sizeof(ss);
	if (l == INVALID_SOCKET || getsockname(l, (SOCKADDR *)&ss, &len))
		return perror("wfp-tcp-proxy: listen"), 1;
	c = socket(AF_INET, SOCK_STREAM, 0);
	t = socket(AF_INET, SOCK_STREAM, 0);
	printf("unconnected_records=%s\n", ioctl_answer(c, QREC, NULL, 0, buf, sizeof(buf)).text);
	printf("unconnected_context=%s\n", ioctl_answer(c, QCTX, NULL, 0, buf, sizeof(buf)).text);
	printf("set_garbage=%s\n", ioctl_answer(t, SETREC, zero, sizeof(zero), NULL, 0).text);
	if (connect(c, (SOCKADDR *)&ss, len) == SOCKET_ERROR)
		return perror("wfp-tcp-proxy: connect"), 1;
	a = accept(l, NULL, NULL);
	printf("direct_accepted_size=%s\n", ioctl_answer(a, QREC, NULL, 0, NULL, 0).text);
	printf("direct_accepted_records=%s\n", ioctl_answer(a, QREC, NULL, 0, buf, sizeof(buf)).text);
	printf("direct_accepted_context=%s\n", ioctl_answer(a, QCTX, NULL, 0, buf, sizeof(buf)).text);
	printf("direct_accepted_tiny=%s\n", ioctl_answer(a, QREC, NULL, 0, buf, 2).text);
	printf("direct_connecting_records=%s\n", ioctl_answer(c, QREC, NULL, 0, buf, sizeof(buf)).text);
	printf("listener_records=%s\n", ioctl_answer(l, QREC, NULL, 0, buf, sizeof(buf)).text);
	printf("set_connected=%s\n", ioctl_answer(c, SETREC, zero, sizeof(zero), NULL, 0).text);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	printf("udp_records=%s\n", ioctl_answer(u, QREC, NULL, 0, buf, sizeof(buf)).text);
	x = socket(AF_UNIX, SOCK_STREAM, 0);
	printf("unix_records=%s\n", ioctl_answer(x, QREC, NULL, 0, buf, sizeof(buf)).text);
	if (!pipe(p)) {
		printf("pipe_records=%s\n", ioctl_answer(p[0], QREC, NULL, 0, buf, sizeof(buf)).text);
		close(p[0]);
		close(p[1]);
	}
	printf("unknown_code=%s\n", ioctl_answer(a, 0x980000DF, NULL, 0, buf, sizeof(buf)).text);
	closesocket(a);
	closesocket(c);
	closesocket(t);
	closesocket(l);
	closesocket(u);
	closesocket(x);
	return 0;
}

/* --try-set: a blob on a new socket, then optionally connect. */
static int try_set(const char *path, long flip, const char *target)
{
	BYTE blob[CONNREDIR_RECORDS_MAX];
	SOCKADDR_STORAGE ss, peer;
	socklen_t len = 0, pl = sizeof(peer);
	char buf[80];
	size_t n;
	SOCKET s;
	FILE *f = fopen(path, "r");

	if (!f)
		return fprintf(stderr, "wfp-tcp-proxy: %s: %s\n", path, strerror(errno)), 2;
	n = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	if (flip >= 0 && (size_t)flip < n)
		blob[flip] ^= 0x55;
	if (target && parse_endpoint(target, &ss, &len))
		return fprintf(stderr, "wfp-tcp-proxy: --connect %s: bad endpoint\n", target), 2;
	s = socket(target ? ss.ss_family : AF_INET, SOCK_STREAM, 0);
	if (s == INVALID_SOCKET)
		return perror("wfp-tcp-proxy: socket"), 2;
	printf("set=%s\n", ioctl_answer(s, SETREC, blob, (DWORD)n, NULL, 0).text);
	if (target) {
		if (connect(s, (SOCKADDR *)&ss, len) == SOCKET_ERROR) {
			printf("connect=%s\n", wsa_name(WSAGetLastError(), buf, sizeof(buf)));
		} else {
			getpeername(s, (SOCKADDR *)&peer, &pl);
			printf("peer=%s\n", format_endpoint(&peer, buf, sizeof(buf)));
			shutdown(s, SHUT_WR);
			while (recv(s, buf, sizeof(buf), 0) > 0)
				;
		}
	}
	closesocket(s);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: wfp-tcp-proxy --name NAME --listen ADDR:PORT [--log FILE] [--ready FILE]\n"
		"                   [--blob-dir DIR]\n"
		"       wfp-tcp-proxy --local\n"
		"       wfp-tcp-proxy --try-set BLOBFILE [--flip OFFSET] [--connect ADDR:PORT]\n");
}

int main(int argc, char **argv)
{
	const char *listen_text = NULL, *log_path = NULL, *ready = NULL, *set_path = NULL,
		   *target = NULL;
	SOCKADDR_STORAGE ss;
	socklen_t len;
	WSADATA wsa;
	long flip = -1;
	SOCKET l;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (WSAStartup(MAKEWORD(2, 2), &wsa))
		return fprintf(stderr, "wfp-tcp-proxy: WSAStartup failed\n"), 1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--local"))
			return local_checks();
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(stdout), 0;
		if (i + 1 >= argc)
			return usage(stderr), 2;
		if (!strcmp(a, "--name"))
			proxy_name = argv[++i];
		else if (!strcmp(a, "--listen"))
			listen_text = argv[++i];
		else if (!strcmp(a, "--log"))
			log_path = argv[++i];
		else if (!strcmp(a, "--ready"))
			ready = argv[++i];
		else if (!strcmp(a, "--blob-dir"))
			blob_dir = argv[++i];
		else if (!strcmp(a, "--try-set"))
			set_path = argv[++i];
		else if (!strcmp(a, "--flip"))
			flip = strtol(argv[++i], NULL, 10);
		else if (!strcmp(a, "--connect"))
			target = argv[++i];
		else
			return usage(stderr), 2;
	}
	if (set_path)
		return try_set(set_path, flip, target);
	if (!listen_text)
		return usage(stderr), 2;
	if (parse_endpoint(listen_text, &ss, &len))
		return fprintf(stderr, "wfp-tcp-proxy: --listen %s: bad endpoint\n", listen_text), 2;
	l = listen_on(&ss, len);
	if (l == INVALID_SOCKET)
		return fprintf(stderr, "wfp-tcp-proxy: listen %s: error %d\n", listen_text,
			       WSAGetLastError()), 1;
	log_out = log_path ? fopen(log_path, "a") : stdout;
	if (!log_out)
		return fprintf(stderr, "wfp-tcp-proxy: --log %s: %s\n", log_path, strerror(errno)), 1;
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	for (;;) {
		pthread_t t;
		SOCKET s = accept(l, NULL, NULL);

		if (s == INVALID_SOCKET) {
			int e = WSAGetLastError();

			if (e == WSAEINTR || e == WSAECONNABORTED || e == WSAEMFILE)
				continue;
			fprintf(stderr, "wfp-tcp-proxy: accept: error %d\n", e);
			return 1;
		}
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)s)) {
			closesocket(s);
			continue;
		}
		pthread_detach(t);
	}
}
