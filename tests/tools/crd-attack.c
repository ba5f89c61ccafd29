/*
 * crd-attack - a hostile process for connredir's enforcement tests
 * (tests/it/18-hostile.sh). Each subcommand is one attack; it prints one
 * result line and exits 0 once the attack ran (whatever its outcome: the
 * test judges it), 2 on a usage or set-up error.
 *
 *   crd-attack optmem [-u] ADDR:PORT
 *       Fill the socket's option memory (net.core.optmem_max): TCP_MD5SIG
 *       keys on a TCP socket, IPv6 multicast memberships on a UDP one
 *       (-u). Then connect (TCP) or send one datagram "optmem" (UDP).
 *       Prints "filled=N result=ok|ERRNO".
 *   crd-attack tcpfill ADDR:PORT N HOLD
 *       Open N TCP connections to ADDR:PORT (one after the other), keep
 *       the ones that connected HOLD seconds, then close them.
 *       Prints "ok=A EDQUOT=B other=C" once all were tried (before HOLD).
 *   crd-attack udpfill ADDR:PORT SOCKETS DSTS HOLD
 *       SOCKETS UDP sockets each send one datagram to DSTS destinations
 *       (ports PORT .. PORT+DSTS-1); keep them HOLD seconds.
 *       Prints "ok=A EDQUOT=B other=C" once all were sent (before HOLD).
 *   crd-attack squat [-u] [--after] [--reuseaddr] ADDR:PORT SECS
 *       Bind ADDR:PORT with SO_REUSEPORT (--reuseaddr: SO_REUSEADDR, for
 *       UDP) set before bind (--after: SO_REUSEPORT set after bind), then
 *       listen and count the connections (or datagrams) received in SECS.
 *       Prints "bind=ok|ERRNO got=N".
 *   crd-attack sink [-u] ADDR:PORT SECS
 *       The same without sharing: a plain listener (or UDP socket) that
 *       counts what it gets. Prints "bind=ok|ERRNO got=N".
 *   crd-attack nsadopt ADDR:PORT SRCPORT
 *       Listen on ADDR:PORT, connect to it from ADDR:SRCPORT, and ask the
 *       accepted socket for SO_ORIGINAL_DST and the connredir context.
 *       Run in its own network namespace with the same 4-tuple as a flow
 *       of another namespace. Prints "origdst=A:P|ERRNO context=ok|ERRNO".
 *   crd-attack pending ADDR:PORT SRCPORT SECS
 *       The victim of nsadopt: from 127.0.0.1:SRCPORT (or [::1]), start a
 *       connect to ADDR:PORT, print "connecting", keep the socket SECS.
 *   crd-attack udpburst ADDR:PORT N
 *       N times: a new UDP socket sends one datagram "burst <i>" to
 *       ADDR:PORT and is closed at once. Prints "sent=A failed=B".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <connredir/connredir.h>

#include "parse.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif

static void usage(void)
{
	fprintf(stderr, "usage: crd-attack optmem|tcpfill|udpfill|squat|sink|nsadopt|udpburst ... "
		"(see the comment at the top of tests/tools/crd-attack.c)\n");
	exit(2);
}

static socklen_t endpoint(const char *s, struct sockaddr_storage *ss)
{
	struct crd_ipaddr a;
	const char *why;
	uint16_t port;

	if (crd_parse_endpoint(s, &a, &port, &why)) {
		fprintf(stderr, "crd-attack: '%s': %s\n", s, why);
		exit(2);
	}
	return crd_ipaddr_to_sockaddr(&a, port, crd_ipaddr_is_v4(&a), ss);
}

static const char *ename(int e)
{
	static char buf[32];

	switch (e) {
	case 0: return "ok";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EDQUOT: return "EDQUOT";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ENOTCONN: return "ENOTCONN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOMEM: return "ENOMEM";
	case ENOBUFS: return "ENOBUFS";
	}
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port :
		     ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* connect() with a timeout of @ms; 0 or the errno. */
static int connect_wait(int fd, const struct sockaddr_storage *ss, socklen_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t el = sizeof(int);
	int err = 0;

	if (!connect(fd, (const struct sockaddr *)ss, len))
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (poll(&p, 1, ms) != 1)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
		return errno;
	return err;
}

static int cmd_optmem(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int udp = 0, fd, n = 0, err;

	if (argc > 1 && !strcmp(argv[1], "-u")) {
		udp = 1;
		argc--, argv++;
	}
	if (argc != 2)
		usage();
	len = endpoint(argv[1], &ss);
	if (udp) {
		struct ipv6_mreq m = { .ipv6mr_interface = 1 };   /* lo */
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };

		/* An AF_INET6 socket (v4 destinations as ::ffff:a.b.c.d): its
		 * multicast memberships are option memory with no other limit. */
		if (ss.ss_family == AF_INET) {
			s6.sin6_port = ((struct sockaddr_in *)&ss)->sin_port;
			s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&s6.sin6_addr.s6_addr[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
			memcpy(&ss, &s6, sizeof(s6));
			len = sizeof(s6);
		}
		fd = socket(AF_INET6, SOCK_DGRAM, 0);
		if (fd < 0)
			return 2;
		for (n = 0; n < 100000; n++) {
			m.ipv6mr_multiaddr.s6_addr[0] = 0xff;
			m.ipv6mr_multiaddr.s6_addr[1] = 0x05;
			m.ipv6mr_multiaddr.s6_addr[14] = n >> 8;
			m.ipv6mr_multiaddr.s6_addr[15] = n;
			if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m)))
				break;
		}
		err = sendto(fd, "optmem", 6, 0, (struct sockaddr *)&ss, len) == 6 ? 0 : errno;
	} else {
		struct tcp_md5sig k = { .tcpm_keylen = 16 };
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&k.tcpm_addr;

		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return 2;
		memset(k.tcpm_key, 'k', 16);
		for (n = 0; n < 100000; n++) {
			/* keys for peers the socket never talks to */
			if (ss.ss_family == AF_INET) {
				struct sockaddr_in *a4 = (struct sockaddr_in *)&k.tcpm_addr;

				a4->sin_family = AF_INET;
				a4->sin_addr.s_addr = htonl(0x0a000000u | (unsigned)(n + 1));
			} else {
				a6->sin6_family = AF_INET6;
				a6->sin6_addr.s6_addr[0] = 0xfd;
				a6->sin6_addr.s6_addr[14] = (n + 1) >> 8;
				a6->sin6_addr.s6_addr[15] = n + 1;
			}
			if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &k, sizeof(k)))
				break;
		}
		err = connect_wait(fd, &ss, len, 3000);
	}
	printf("filled=%d result=%s\n", n, ename(err));
	close(fd);
	return 0;
}

static void tally(int err, int *ok, int *dq, int *other)
{
	if (!err)
		(*ok)++;
	else if (err == EDQUOT)
		(*dq)++;
	else
		(*other)++;
}

static int cmd_tcpfill(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int n, hold, i, ok = 0, dq = 0, other = 0, *fds;
	socklen_t len;

	if (argc != 4)
		usage();
	len = endpoint(argv[1], &ss);
	n = atoi(argv[2]);
	hold = atoi(argv[3]);
	fds = calloc(n > 0 ? n : 1, sizeof(int));
	if (!fds)
		return 2;
	for (i = 0; i < n; i++) {
		int err;

		fds[i] = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fds[i] < 0) {
			other++;
			continue;
		}
		err = connect_wait(fds[i], &ss, len, 3000);
		tally(err, &ok, &dq, &other);
		if (err) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	printf("ok=%d EDQUOT=%d other=%d\n", ok, dq, other);
	fflush(stdout);
	sleep(hold);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

static int cmd_udpfill(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int ns, nd, hold, i, j, ok = 0, dq = 0, other = 0, *fds;
	uint16_t port;
	socklen_t len;

	if (argc != 5)
		usage();
	len = endpoint(argv[1], &ss);
	port = get_port(&ss);
	ns = atoi(argv[2]);
	nd = atoi(argv[3]);
	hold = atoi(argv[4]);
	fds = calloc(ns > 0 ? ns : 1, sizeof(int));
	if (!fds)
		return 2;
	for (i = 0; i < ns; i++) {
		fds[i] = socket(ss.ss_family, SOCK_DGRAM, 0);
		for (j = 0; j < nd; j++) {
			set_port(&ss, port + j);
			if (fds[i] < 0)
				other++;
			else
				tally(sendto(fds[i], "fill", 4, 0, (struct sockaddr *)&ss, len) == 4 ?
				      0 : errno, &ok, &dq, &other);
		}
	}
	printf("ok=%d EDQUOT=%d other=%d\n", ok, dq, other);
	fflush(stdout);
	sleep(hold);
	for (i = 0; i < ns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	return 0;
}

static volatile sig_atomic_t stopping;
static void on_term(int sig) { stopping = 1; }

static int cmd_squat(int argc, char **argv)
{
	int udp = 0, after = 0, one = 1, fd, secs, got = 0, err = 0;
	int opt = strcmp(argv[0], "sink") ? SO_REUSEPORT : 0;
	struct sockaddr_storage ss;
	socklen_t len;
	time_t end;

	while (argc > 1 && argv[1][0] == '-') {
		if (!strcmp(argv[1], "-u"))
			udp = 1;
		else if (!strcmp(argv[1], "--after"))
			after = 1;
		else if (!strcmp(argv[1], "--reuseaddr"))
			opt = SO_REUSEADDR;
		else
			usage();
		argc--, argv++;
	}
	if (argc != 3)
		usage();
	len = endpoint(argv[1], &ss);
	secs = atoi(argv[2]);
	fd = socket(ss.ss_family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 2;
	if (opt && !after && setsockopt(fd, SOL_SOCKET, opt, &one, sizeof(one)))
		err = errno;
	if (!err && bind(fd, (struct sockaddr *)&ss, len))
		err = errno;
	if (opt && !err && after && setsockopt(fd, SOL_SOCKET, opt, &one, sizeof(one)))
		err = errno;
	if (!err && !udp && listen(fd, 128))
		err = errno;
	printf("bind=%s", ename(err));
	fflush(stdout);
	end = time(NULL) + secs;
	signal(SIGTERM, on_term);   /* SIGTERM: stop early, still report */
	while (!err && !stopping && time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[2048];

		if (poll(&p, 1, 100) != 1)
			continue;
		if (udp) {
			while (recv(fd, buf, sizeof(buf), 0) >= 0)
				got++;
		} else {
			int c;

			while ((c = accept(fd, NULL, NULL)) >= 0) {
				got++;
				close(c);
			}
		}
	}
	printf(" got=%d\n", got);
	close(fd);
	return 0;
}

static int cmd_nsadopt(int argc, char **argv)
{
	struct sockaddr_storage ss, src, od;
	struct connredir_context ctx;
	int l, c, a, one = 1, err;
	socklen_t len, ol = sizeof(od);
	char abuf[64];

	if (argc != 3)
		usage();
	len = endpoint(argv[1], &ss);
	memcpy(&src, &ss, sizeof(ss));
	set_port(&src, (uint16_t)atoi(argv[2]));
	l = socket(ss.ss_family, SOCK_STREAM, 0);
	c = socket(ss.ss_family, SOCK_STREAM, 0);
	if (l < 0 || c < 0 ||
	    setsockopt(c, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, 8) ||
	    bind(c, (struct sockaddr *)&src, len) ||
	    connect(c, (struct sockaddr *)&ss, len)) {
		fprintf(stderr, "crd-attack nsadopt: set-up: %s\n", strerror(errno));
		return 2;
	}
	a = accept(l, NULL, NULL);
	if (a < 0)
		return 2;
	err = getsockopt(a, ss.ss_family == AF_INET ? SOL_IP : SOL_IPV6, SO_ORIGINAL_DST,
			 &od, &ol) ? errno : 0;
	if (!err) {
		struct crd_ipaddr ia;
		uint16_t port;

		crd_ipaddr_from_sockaddr(&od, &ia, &port);
		printf("origdst=%s", crd_format_endpoint(&ia, port, abuf, sizeof(abuf)));
	} else {
		printf("origdst=%s", ename(err));
	}
	err = connredir_query_context(a, &ctx) ? errno : 0;
	printf(" context=%s\n", ename(err));
	close(a);
	close(c);
	close(l);
	return 0;
}

static int cmd_pending(int argc, char **argv)
{
	struct sockaddr_storage ss, src;
	int fd, one = 1;
	socklen_t len;

	if (argc != 4)
		usage();
	len = endpoint(argv[1], &ss);
	endpoint(ss.ss_family == AF_INET ? "127.0.0.1:1" : "[::1]:1", &src);
	set_port(&src, (uint16_t)atoi(argv[2]));
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&src, len) ||
	    (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)) {
		printf("pending=%s\n", ename(errno));
		return 0;
	}
	printf("connecting\n");
	sleep(atoi(argv[3]));
	close(fd);
	return 0;
}

static int cmd_udpburst(int argc, char **argv)
{
	struct sockaddr_storage ss;
	int n, i, sent = 0, failed = 0;
	socklen_t len;
	char buf[32];

	if (argc != 3)
		usage();
	len = endpoint(argv[1], &ss);
	n = atoi(argv[2]);
	for (i = 0; i < n; i++) {
		int fd = socket(ss.ss_family, SOCK_DGRAM, 0), k;

		if (fd < 0) {
			failed++;
			continue;
		}
		k = snprintf(buf, sizeof(buf), "burst %d", i);
		if (sendto(fd, buf, k, 0, (struct sockaddr *)&ss, len) == k)
			sent++;
		else
			failed++;
		close(fd);
	}
	printf("sent=%d failed=%d\n", sent, failed);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "optmem", cmd_optmem },   { "tcpfill", cmd_tcpfill }, { "udpfill", cmd_udpfill },
		{ "squat", cmd_squat },     { "nsadopt", cmd_nsadopt }, { "udpburst", cmd_udpburst },
		{ "sink", cmd_squat },      { "pending", cmd_pending },
	};
	size_t i;

	if (argc < 2)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	usage();
	return 2;
}
