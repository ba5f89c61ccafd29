// SPDX-License-Identifier: MIT
/*
 * crd-udpecho - a UDP echo server and client for the UDP tests.
 *
 *   crd-udpecho serve [--ready FILE] ADDR:PORT...
 *       answer each datagram with "from=<ADDR:PORT it was sent to> <payload>"
 *       (from the socket bound to that address).
 *   crd-udpecho send [--connect] [-6] [--count N] DEST...
 *       one socket (unconnected; with --connect one connected socket per
 *       DEST), N rounds of one datagram to each DEST, then wait for every
 *       answer. Prints per answer:
 *         reply src=<recvfrom source> from=<server's own address> ok|MISMATCH
 *       (ok: the application sees the answer coming from where the server
 *       really is), with --connect also "peer=<getpeername>", and at the end
 *       "summary ok=N bad=N missing=N". Exit 0 only if all answers are ok.
 *       With -6 an IPv4 DEST is reached as ::ffff:ADDR from an AF_INET6
 *       socket. With --step DIR, each round's answers are awaited before
 *       the next round, which starts only once DIR/go.<round> exists
 *       (DIR/done.<round> tells the test the round was answered).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "parse.h"

#define MAXS 16

static socklen_t mk(const struct crd_ipaddr *a, uint16_t port, int v6,
		    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (!v6 && a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->addr + 12, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->addr, 16);
	return sizeof(*s6);
}

static const char *fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct crd_ipaddr a = { 0 };
	uint16_t port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		a.family = AF_INET;
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, &s4->sin_addr, 4);
		port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		a.family = AF_INET6;
		memcpy(a.addr, &s6->sin6_addr, 16);
		port = ntohs(s6->sin6_port);
	}
	return crd_format_endpoint(&a, port, buf, len);
}

static int serve(int argc, char **argv)
{
	struct pollfd p[MAXS];
	char names[MAXS][64];
	const char *ready = NULL, *why;
	int n = 0, i, one = 1;

	for (i = 0; i < argc; i++) {
		struct sockaddr_storage ss;
		struct crd_ipaddr a;
		uint16_t port;
		socklen_t sl;

		if (!strcmp(argv[i], "--ready") && i + 1 < argc) {
			ready = argv[++i];
			continue;
		}
		if (n == MAXS || crd_parse_endpoint(argv[i], &a, &port, &why))
			return fprintf(stderr, "crd-udpecho: %s: bad address\n", argv[i]), 2;
		sl = mk(&a, port, 0, &ss);
		p[n].fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		p[n].events = POLLIN;
		if (ss.ss_family == AF_INET6)
			setsockopt(p[n].fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (p[n].fd < 0 || bind(p[n].fd, (struct sockaddr *)&ss, sl))
			return fprintf(stderr, "crd-udpecho: bind %s: %s\n", argv[i], strerror(errno)), 1;
		snprintf(names[n], sizeof(names[n]), "%s", argv[i]);
		n++;
	}
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	for (;;) {
		if (poll(p, n, -1) < 0 && errno != EINTR)
			return 1;
		for (i = 0; i < n; i++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			char in[1500], out[1600];
			ssize_t r;
			int m;

			if (!(p[i].revents & POLLIN))
				continue;
			r = recvfrom(p[i].fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &fl);
			if (r < 0)
				continue;
			in[r] = 0;
			m = snprintf(out, sizeof(out), "from=%s %s", names[i], in);
			sendto(p[i].fd, out, m, 0, (struct sockaddr *)&from, fl);
		}
	}
}

/* Wait for answers on @fds until @want came (or 3 s without any). */
static __attribute__((noinline)) void collect(const int *fds, int nfd, int conn, int want,
					       int *okp, int *badp)
{
	int ok = 0, bad = 0, i;

	if (nfd <= 0 || nfd > MAXS)
		return;
	while (ok + bad < want) {
		struct pollfd p[MAXS];
		int got;

		for (i = 0; i < nfd; i++)
			p[i].fd = fds[i], p[i].events = POLLIN;
		got = poll(p, nfd, 3000);
		if (got <= 0)
			break;
		for (i = 0; i < nfd; i++) {
			struct sockaddr_storage from, peer;
			socklen_t fl = sizeof(from), pl = sizeof(peer);
			char in[1600], src[64], pr[64], *f, *sp;
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			n = recvfrom(fds[i], in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &fl);
			if (n < 0)
				continue;
			in[n] = 0;
			f = strstr(in, "from=");
			f = f ? f + 5 : in;
			sp = strchr(f, ' ');
			if (sp)
				*sp = 0;
			fmt(&from, src, sizeof(src));
			/* An IPv4 server reached from an AF_INET6 socket shows as ::ffff:a.b.c.d;
			 * crd_format_endpoint prints it as a.b.c.d, like the server's name. */
			if (!strcmp(src, f))
				ok++;
			else
				bad++;
			printf("reply src=%s from=%s %s", src, f, strcmp(src, f) ? "MISMATCH" : "ok");
			if (conn && !getpeername(fds[i], (struct sockaddr *)&peer, &pl))
				printf(" peer=%s", fmt(&peer, pr, sizeof(pr)));
			printf("\n");
		}
	}
	*okp += ok;
	*badp += bad;
}

/* With --step DIR: round @r was answered; wait for DIR/go.<r+1> (10 s). */
static void step(const char *dir, int r)
{
	char path[512];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/done.%d", dir, r);
	f = fopen(path, "w");
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "%s/go.%d", dir, r + 1);
	for (i = 0; i < 200 && access(path, F_OK); i++)
		usleep(50000);
}

static int send_all(int argc, char **argv)
{
	struct sockaddr_storage dst[MAXS];
	socklen_t dl[MAXS];
	int fds[MAXS], nd = 0, nfd, i, r, v6 = 0, conn = 0, count = 1;
	int ok = 0, bad = 0, want;
	const char *why, *stepdir = NULL;

	for (i = 0; i < argc; i++) {
		struct crd_ipaddr a;
		uint16_t port;

		if (!strcmp(argv[i], "--connect"))
			conn = 1;
		else if (!strcmp(argv[i], "-6"))
			v6 = 1;
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--step") && i + 1 < argc)
			stepdir = argv[++i];
		else if (nd < MAXS && !crd_parse_endpoint(argv[i], &a, &port, &why))
			dl[nd] = mk(&a, port, v6, &dst[nd]), nd++;
		else
			return fprintf(stderr, "crd-udpecho: %s: bad argument\n", argv[i]), 2;
	}
	if (!nd)
		return fprintf(stderr, "crd-udpecho send: no DEST\n"), 2;
	nfd = conn ? nd : 1;
	for (i = 0; i < nfd; i++) {
		fds[i] = socket(v6 ? AF_INET6 : dst[0].ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			return perror("socket"), 1;
		if (conn && connect(fds[i], (struct sockaddr *)&dst[i], dl[i]))
			return perror("connect"), 1;
	}
	for (r = 0; r < count; r++) {
		for (i = 0; i < nd; i++) {
			char msg[64];
			int m = snprintf(msg, sizeof(msg), "round=%d dest=%d", r, i);
			ssize_t s = conn ? send(fds[i], msg, m, 0)
					 : sendto(fds[0], msg, m, 0, (struct sockaddr *)&dst[i], dl[i]);

			if (s < 0)
				printf("send-error %d %s\n", i, strerror(errno));
		}
		if (stepdir) {
			collect(fds, nfd, conn, nd, &ok, &bad);
			if (r + 1 < count)
				step(stepdir, r);
		}
	}
	want = nd * count;
	if (!stepdir)
		collect(fds, nfd, conn, want, &ok, &bad);
	printf("summary ok=%d bad=%d missing=%d\n", ok, bad, want - ok - bad);
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	return ok == want ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return send_all(argc - 2, argv + 2);
	fprintf(stderr, "usage: crd-udpecho serve [--ready FILE] ADDR:PORT... | "
		"send [--connect] [-6] [--count N] [--step DIR] DEST...\n");
	return 2;
}
