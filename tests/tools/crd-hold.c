// SPDX-License-Identifier: MIT
/*
 * crd-hold - open many echo connections, hold them, finish them on a signal.
 *
 *   crd-hold --count N [--bytes B] [--ready FILE] [--wait SECS]
 *            [--timeout SECS] ADDR:PORT
 *
 * Phase 1: opens N connections to ADDR:PORT (an echo server such as
 * crd-origin, or something redirected to one) one after the other; on each
 * it sends HELLO (64) bytes and reads them back, so a flow through a proxy
 * is established end to end. Then it creates FILE (containing N) and waits
 * for SIGUSR1 (at most --wait seconds, default 120). While it waits, each
 * connection sends one more byte every second once the previous one came
 * back, so no proxy or origin times the flow out as idle.
 *
 * Phase 2 (after SIGUSR1): on all connections at once, sends the rest of
 * its B bytes (default 65536; the bytes trickled while waiting count), shuts
 * down writing, and reads until EOF. Every byte read
 * back must be the byte sent at that position of that connection's stream
 * (byte p of connection k is a function of k and p, byte 0 is 0 so an
 * echo server never takes it for HTTP), and the stream must end exactly
 * after HELLO + B bytes.
 *
 * Output (stdout), after phase 2, in index order, then a summary:
 *   ok K bytes=T
 *   fail K REASON
 *   summary ok=N fail=M bytes=TOTAL
 * A connection that fails in phase 1 is reported as failed and not held.
 * Exit status: 0 if every connection succeeded, 1 if any failed or no
 * SIGUSR1 came, 2 on misuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"

#define PROG "crd-hold"
#define HELLO 64
#define CHUNK 16384

struct conn {
	int fd;
	bool failed, shut, done;
	unsigned long long sent, recvd;
	char reason[160];
};

static struct conn *conns;
static unsigned long long n_conns, bytes = 65536;
static double timeout_s = 30;

static unsigned char pat(unsigned long long k, unsigned long long p)
{
	if (!p)
		return 0;
	return (unsigned char)(p * 7 + (p >> 8) * 13 + k * 31 + 1);
}

static void fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Check @n received bytes of connection @k against the pattern. */
static bool check_rx(struct conn *c, unsigned long long k, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (c->recvd + i >= HELLO + bytes) {
			fail(c, "reply too long: more than %llu bytes", HELLO + bytes);
			return false;
		}
		if (b[i] != pat(k, c->recvd + i)) {
			fail(c, "mismatch at byte %llu: got 0x%02x want 0x%02x",
			     c->recvd + i, b[i], pat(k, c->recvd + i));
			return false;
		}
	}
	c->recvd += n;
	return true;
}

static void phase1(struct conn *c, unsigned long long k, const struct sockaddr_storage *dst,
		   socklen_t dlen)
{
	struct timeval tv = { .tv_sec = (time_t)timeout_s,
			      .tv_usec = (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6) };
	unsigned char buf[HELLO];
	ssize_t r;
	int i;

	c->fd = socket(dst->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (const struct sockaddr *)dst, dlen)) {
		fail(c, "connect: %s", strerror(errno));
		return;
	}
	for (i = 0; i < HELLO; i++)
		buf[i] = pat(k, i);
	if (send(c->fd, buf, HELLO, MSG_NOSIGNAL) != HELLO) {
		fail(c, "send hello: %s", strerror(errno));
		return;
	}
	c->sent = HELLO;
	while (c->recvd < HELLO) {
		r = recv(c->fd, buf, HELLO - c->recvd, 0);
		if (r <= 0) {
			fail(c, "hello echo: %s", r ? strerror(errno) : "peer closed");
			return;
		}
		if (!check_rx(c, k, buf, (size_t)r))
			return;
	}
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK))
		fail(c, "fcntl: %s", strerror(errno));
}

/* While held: read what came back; send one byte if all came back. */
static void trickle(void)
{
	unsigned char b[256];
	unsigned long long k;
	ssize_t n;

	for (k = 0; k < n_conns; k++) {
		struct conn *c = &conns[k];

		if (c->failed)
			continue;
		while (!c->failed && (n = recv(c->fd, b, sizeof(b), MSG_DONTWAIT)) != 0) {
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					fail(c, "recv while held: %s", strerror(errno));
				break;
			}
			check_rx(c, k, b, (size_t)n);
		}
		if (!n)
			fail(c, "peer closed while held (sent=%llu received=%llu)",
			     c->sent, c->recvd);
		if (c->failed || c->recvd != c->sent || c->sent >= HELLO + bytes)
			continue;
		b[0] = pat(k, c->sent);
		n = send(c->fd, b, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == 1)
			c->sent++;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail(c, "send while held: %s", strerror(errno));
	}
}

/* All held connections at once: send the rest, half-close, read to EOF. */
static void phase2(void)
{
	unsigned char out[CHUNK], in[CHUNK];
	struct pollfd *pf = calloc(n_conns, sizeof(*pf));
	unsigned long long k, left;
	int idle_ms = 0;

	if (!pf) {
		for (k = 0; k < n_conns; k++)
			fail(&conns[k], "calloc: %s", strerror(errno));
		return;
	}
	for (;;) {
		int r;

		left = 0;
		for (k = 0; k < n_conns; k++) {
			struct conn *c = &conns[k];

			pf[k].fd = -1;
			pf[k].revents = 0;
			if (c->failed || c->done)
				continue;
			left++;
			pf[k].fd = c->fd;
			pf[k].events = POLLIN | (c->sent < HELLO + bytes ? POLLOUT : 0);
		}
		if (!left)
			break;
		r = poll(pf, n_conns, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0) {
			idle_ms += 100;
			if (idle_ms >= timeout_s * 1000) {
				for (k = 0; k < n_conns; k++)
					if (!conns[k].failed && !conns[k].done)
						fail(&conns[k], "timeout: no progress for %gs "
						     "(sent=%llu received=%llu)", timeout_s,
						     conns[k].sent, conns[k].recvd);
				break;
			}
			continue;
		}
		idle_ms = 0;
		for (k = 0; k < n_conns; k++) {
			struct conn *c = &conns[k];
			ssize_t n;

			if (pf[k].fd < 0 || !pf[k].revents)
				continue;
			if (c->sent < HELLO + bytes && (pf[k].revents & POLLOUT)) {
				size_t want = HELLO + bytes - c->sent, i;

				if (want > CHUNK)
					want = CHUNK;
				for (i = 0; i < want; i++)
					out[i] = pat(k, c->sent + i);
				n = send(c->fd, out, want, MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN && errno != EINTR) {
					fail(c, "send: %s", strerror(errno));
					continue;
				}
				if (n > 0)
					c->sent += (unsigned long long)n;
			}
			if (c->sent == HELLO + bytes && !c->shut) {
				if (shutdown(c->fd, SHUT_WR)) {
					fail(c, "shutdown: %s", strerror(errno));
					continue;
				}
				c->shut = true;
			}
			if (pf[k].revents & (POLLIN | POLLERR | POLLHUP)) {
				n = recv(c->fd, in, sizeof(in), 0);
				if (n < 0) {
					if (errno != EAGAIN && errno != EINTR)
						fail(c, "recv: %s", strerror(errno));
				} else if (n == 0) {
					if (c->recvd != HELLO + bytes)
						fail(c, "short reply: %llu of %llu bytes", c->recvd,
						     HELLO + bytes);
					else if (!c->shut)
						fail(c, "peer closed before all was sent");
					else
						c->done = true;
				} else {
					check_rx(c, k, in, (size_t)n);
				}
			}
		}
	}
	free(pf);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s --count N [--bytes B] [--ready FILE] [--wait SECS]\n"
		"                [--timeout SECS] ADDR:PORT\n", PROG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "ready", required_argument, NULL, 'r' },
		{ "wait", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *ready = NULL, *why = NULL;
	unsigned long long k, nok = 0, nfail = 0, total = 0, wait_s = 120;
	struct sockaddr_storage dst = { 0 };
	socklen_t dlen;
	struct timespec ts = { 0 };
	struct crd_ipaddr addr;
	struct rlimit rl;
	uint64_t v;
	uint16_t port;
	sigset_t set;
	int c, sig;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
		case 'b':
		case 'w':
		case 't':
			if (crd_parse_u64(optarg, c == 'b' ? 1ull << 30 : 100000, &v, &why)) {
				fprintf(stderr, "%s: '%s': %s\n", PROG, optarg, why);
				return 2;
			}
			if (c == 'n')
				n_conns = v;
			else if (c == 'b')
				bytes = v;
			else if (c == 'w')
				wait_s = v;
			else
				timeout_s = (double)v;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !n_conns || timeout_s <= 0) {
		usage(stderr);
		return 2;
	}
	if (crd_parse_endpoint(argv[optind], &addr, &port, &why)) {
		fprintf(stderr, "%s: '%s': %s\n", PROG, argv[optind], why);
		return 2;
	}
	if (crd_ipaddr_is_v4(&addr)) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&dst;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr.addr + 12, 4);
		s4->sin_port = htons(port);
		dlen = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&dst;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr.addr, 16);
		s6->sin6_port = htons(port);
		dlen = sizeof(*s6);
	}

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* SIGUSR1 is taken with sigtimedwait; blocked before anyone can send it. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	conns = calloc(n_conns, sizeof(*conns));
	if (!conns) {
		fprintf(stderr, "%s: calloc: %s\n", PROG, strerror(errno));
		return 1;
	}
	for (k = 0; k < n_conns; k++) {
		conns[k].fd = -1;
		phase1(&conns[k], k, &dst, dlen);
	}
	if (ready) {
		char tmp[4096];
		FILE *f;

		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%llu\n", n_conns) < 0 || fclose(f) || rename(tmp, ready)) {
			fprintf(stderr, "%s: %s: %s\n", PROG, ready, strerror(errno));
			return 1;
		}
	}
	for (k = 0;; k++) {
		ts.tv_sec = 1;
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGUSR1)
			break;
		if (k >= wait_s) {
			fprintf(stderr, "%s: no SIGUSR1 within %llus\n", PROG, wait_s);
			return 1;
		}
		trickle();
	}
	phase2();
	for (k = 0; k < n_conns; k++) {
		if (conns[k].failed) {
			printf("fail %llu %s\n", k, conns[k].reason);
			nfail++;
		} else {
			printf("ok %llu bytes=%llu\n", k, conns[k].recvd);
			total += conns[k].recvd;
			nok++;
		}
		if (conns[k].fd >= 0)
			close(conns[k].fd);
	}
	printf("summary ok=%llu fail=%llu bytes=%llu\n", nok, nfail, total);
	free(conns);
	return nfail ? 1 : 0;
}
