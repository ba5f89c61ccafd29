// SPDX-License-Identifier: MIT
/*
 * crd-socks - a minimal SOCKS5 server (no authentication, CONNECT only), the
 * upstream a redsocks test chain forwards to. A test fixture, not a product.
 *
 *   crd-socks --listen ADDR:PORT --log FILE --ready FILE
 *
 * For each CONNECT it logs one line "connect dst=ADDR:PORT from=ADDR:PORT
 * result=ok|ERRNO" and relays bytes both ways until both sides are done.
 * Only IPv4 and IPv6 addresses are accepted (no names: the test never sends
 * one). --ready FILE is created once the listener is up.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "parse.h"

static FILE *log_out;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return -1;
		got += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n <= 0)
			return -1;
		done += n;
	}
	return 0;
}

static void relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[16384];
	int open_dirs = 2;

	while (open_dirs > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(i ? a : b, SHUT_WR);
				p[i].fd = -1;
				open_dirs--;
				continue;
			}
			if (write_full(i ? a : b, buf, n))
				return;
		}
	}
}

static void *serve(void *arg)
{
	int c = (int)(long)arg, out = -1, err = 0;
	unsigned char h[4], buf[262];
	struct sockaddr_storage ss = { 0 }, peer;
	socklen_t sl = 0, pl = sizeof(peer);
	char dst[64] = "?", from[64] = "?";
	struct crd_ipaddr a = { 0 };
	uint16_t port = 0;

	if (!getpeername(c, (struct sockaddr *)&peer, &pl)) {
		if (peer.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&peer;

			a.family = AF_INET;
			memcpy(a.addr + 12, &s4->sin_addr, 4);
			a.addr[10] = a.addr[11] = 0xff;
			crd_format_endpoint(&a, ntohs(s4->sin_port), from, sizeof(from));
		}
	}
	/* greeting: VER NMETHODS METHODS... -> VER 0 (no authentication) */
	if (read_full(c, h, 2) || h[0] != 5 || read_full(c, buf, h[1]) ||
	    write_full(c, "\x05\x00", 2))
		goto done;
	/* request: VER CMD RSV ATYP */
	if (read_full(c, h, 4) || h[0] != 5 || h[1] != 1)
		goto done;
	memset(&a, 0, sizeof(a));
	if (h[3] == 1) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (read_full(c, buf, 6))
			goto done;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, buf, 4);
		memcpy(&s4->sin_port, buf + 4, 2);
		sl = sizeof(*s4);
		a.family = AF_INET;
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, buf, 4);
		port = ntohs(s4->sin_port);
	} else if (h[3] == 4) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (read_full(c, buf, 18))
			goto done;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, buf, 16);
		memcpy(&s6->sin6_port, buf + 16, 2);
		sl = sizeof(*s6);
		a.family = AF_INET6;
		memcpy(a.addr, buf, 16);
		port = ntohs(s6->sin6_port);
	} else {
		err = EAFNOSUPPORT;
		write_full(c, "\x05\x08\x00\x01\0\0\0\0\0\0", 10);
		goto log;
	}
	crd_format_endpoint(&a, port, dst, sizeof(dst));
	out = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (out < 0 || connect(out, (struct sockaddr *)&ss, sl)) {
		err = errno;
		write_full(c, "\x05\x05\x00\x01\0\0\0\0\0\0", 10);
		goto log;
	}
	if (write_full(c, "\x05\x00\x00\x01\0\0\0\0\0\0", 10))
		err = EPIPE;
log:
	pthread_mutex_lock(&log_lock);
	fprintf(log_out, "connect dst=%s from=%s result=%s\n", dst, from,
		err ? strerror(err) : "ok");
	fflush(log_out);
	pthread_mutex_unlock(&log_lock);
	if (!err)
		relay(c, out);
done:
	if (out >= 0)
		close(out);
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *logpath = NULL, *ready = NULL, *why = NULL;
	struct sockaddr_storage ss = { 0 };
	struct crd_ipaddr a;
	uint16_t port;
	socklen_t sl;
	int l, one = 1;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			listen_s = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			logpath = argv[i + 1];
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[i + 1];
	}
	if (!listen_s || !logpath || !ready) {
		fprintf(stderr, "usage: crd-socks --listen ADDR:PORT --log FILE --ready FILE\n");
		return 2;
	}
	if (crd_parse_endpoint(listen_s, &a, &port, &why)) {
		fprintf(stderr, "crd-socks: --listen '%s': %s\n", listen_s, why);
		return 2;
	}
	if (crd_ipaddr_is_v4(&a)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a.addr + 12, 4);
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a.addr, 16);
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	}
	log_out = fopen(logpath, "a");
	if (!log_out) {
		fprintf(stderr, "crd-socks: --log %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	l = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, sl) || listen(l, 1024)) {
		fprintf(stderr, "crd-socks: listen %s: %s\n", listen_s, strerror(errno));
		return 1;
	}
	fclose(fopen(ready, "w"));
	for (;;) {
		pthread_t t;
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			fprintf(stderr, "crd-socks: accept: %s\n", strerror(errno));
			return 1;
		}
		if (pthread_create(&t, NULL, serve, (void *)(long)c)) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}
