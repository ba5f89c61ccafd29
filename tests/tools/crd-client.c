/*
 * crd-client - echo test client fixture for connredir integration tests.
 *
 * Usage:
 *   crd-client [options] ADDR PORT
 *
 *   ADDR is a numeric IPv4 or IPv6 address (IPv6 with or without
 *   brackets).  An IPv6 ADDR always uses an AF_INET6 socket.
 *
 * Options:
 *   -6             use an AF_INET6 socket; an IPv4 ADDR is then connected
 *                  as the IPv4-mapped address ::ffff:ADDR
 *   --mptcp        socket(..., IPPROTO_MPTCP) (262)
 *   --tfo          TCP Fast Open: sendto(fd, payload, MSG_FASTOPEN, addr)
 *                  instead of connect()
 *   --tfo-connect  TCP Fast Open via setsockopt(TCP_FASTOPEN_CONNECT, 1)
 *                  followed by connect() and send() (exclusive with --tfo;
 *                  needs --bytes > 0, the deferred SYN leaves with the
 *                  first write)
 *   --count N      number of rounds, run one after the other (default 1)
 *   --parallel N   connections per round, all open at once (default 1)
 *   --bytes N      payload bytes per connection (default 1000, 0 allowed)
 *   --hold SECS    keep connections open SECS seconds after the echo was
 *                  received, before shutting down (default 0; fractions ok)
 *   --timeout SECS per-connection I/O timeout: the longest wait for any
 *                  single step (connect, or any progress in the exchange)
 *                  (default 10; 0 = no timeout; fractions ok)
 *   --errno        add to each "fail" line the failing call's errno by its
 *                  name, " errno=NAME" (e.g. ECONNREFUSED; "-" when the
 *                  failure has none: a mismatch, a timeout, a short reply),
 *                  and for a failed connect also where it failed and after
 *                  how long, " in=connect|sendto|SO_ERROR ms=M": "connect"
 *                  (or "sendto" for --tfo) when that call itself returned
 *                  the error, "SO_ERROR" when it failed later, after
 *                  EINPROGRESS; M = milliseconds from socket() to the
 *                  failure, three decimals
 *   -h, --help     show usage
 *
 * Total connections = count * parallel; connection indexes run from 0 to
 * count*parallel-1 (round r, slot j has index r*parallel + j).
 * Each round: open all `parallel` connections (socket + connect / TFO
 * sendto, waiting until each connect completes), then do the exchange on
 * each in index order, then hold, then finish and close all of them.
 * --count 20000 = 20000 sequential connections; --parallel 2000 = 2000
 * connections open at the same time.
 *
 * Exchange on connection with index k (payload byte i = (i*7 + k) & 0xff):
 *   without --hold: send all N bytes, shutdown(SHUT_WR), read until EOF,
 *     interleaved with poll() so large payloads cannot deadlock;
 *   with --hold: send all N bytes, read back N bytes, sleep SECS with the
 *     connection still established, then shutdown(SHUT_WR) and read until
 *     EOF (in a round, the hold happens once after all exchanges).
 * The reply must be exactly the bytes sent, followed by EOF.
 * local= and peer= are getsockname()/getpeername() of the client socket,
 * taken once the connection is established (before shutdown).
 *
 * Output (stdout; one flushed line per connection, in index order, printed
 * when its round has finished (after the hold, before the sockets are
 * closed); then one summary line at the end):
 *   ok <index> local=<A:P> peer=<A:P> bytes=<N>
 *   fail <index> <reason>            (with --errno: <reason> errno=NAME
 *                                      [in=CALL ms=M])
 *   summary ok=<n> fail=<n>
 * <reason> is free text (rest of the line), always starting with the
 * failing step, e.g. "connect 127.0.0.1:28080: Connection refused",
 * "connect 127.0.0.1:28080: timed out after 10s",
 * "socket(AF_INET, IPPROTO_MPTCP): Protocol not available",
 * "sendto(MSG_FASTOPEN) 127.0.0.1:28080: Operation not supported",
 * "setsockopt(TCP_FASTOPEN_CONNECT): ...", "recv: Connection reset by peer",
 * "send: Broken pipe", "shutdown: Connection reset by peer",
 * "timeout: no progress for 10s (sent=1000 received=0)",
 * "mismatch at byte 17: got 0x00 want 0x83", "short reply: 10 of 1000 bytes",
 * "reply too long: more than 1000 bytes", "peer closed after 10 of 1000
 * bytes sent", "peer closed before hold".
 * <A:P> is "1.2.3.4:80" or "[::1]:80" ("[::ffff:1.2.3.4]:80" for mapped
 * addresses), "?" if unavailable.
 *
 * Exit status: 0 if every connection succeeded, 1 if any failed, 2 on
 * misuse.  RLIMIT_NOFILE's soft limit is raised to the hard limit at start.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <time.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define PROG "crd-client"
#define ADDR_FMT_LEN 64
#define REASON_LEN 256
#define CHUNK 65536	/* multiple of 256: the pattern repeats every 256 bytes */

enum mode { M_CONNECT, M_TFO, M_TFO_CONNECT };

struct cfg {
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char dststr[ADDR_FMT_LEN];
	int proto;
	enum mode mode;
	unsigned long long count, parallel, bytes;
	double hold, timeout;
	bool errnos;
};

struct conn {
	int fd;
	bool failed;
	bool have_addrs;
	bool shut;
	unsigned long long index, sent, recvd;
	char local[ADDR_FMT_LEN];
	char peer[ADDR_FMT_LEN];
	char reason[REASON_LEN];
	int err;		/* errno of the failing call, 0: none */
	const char *in;		/* a failed connect: where it failed */
	double ms;		/* a failed connect: ms from socket() */
};

static struct cfg g;
static unsigned char g_pat[CHUNK + 256];
static unsigned char g_rbuf[CHUNK];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options] ADDR PORT\n"
		"  -6              use an AF_INET6 socket (IPv4 ADDR -> ::ffff:ADDR)\n"
		"  --mptcp         use IPPROTO_MPTCP\n"
		"  --tfo           TCP Fast Open via sendto(MSG_FASTOPEN)\n"
		"  --tfo-connect   TCP Fast Open via TCP_FASTOPEN_CONNECT + connect\n"
		"  --count N       sequential rounds (default 1)\n"
		"  --parallel N    connections open at once per round (default 1)\n"
		"  --bytes N       payload bytes per connection (default 1000)\n"
		"  --hold SECS     keep connections open after the echo (default 0)\n"
		"  --timeout SECS  per-connection I/O timeout (default 10, 0 = none)\n"
		"  --errno         add errno=NAME (and for a connect in=CALL ms=M) to\n"
		"                  each fail line\n"
		"  -h, --help      show this help\n"
		"Prints \"ok <i> local=A:P peer=A:P bytes=N\" or \"fail <i> <reason>\"\n"
		"per connection and \"summary ok=N fail=N\"; exit 0 iff all ok.\n");
}

__attribute__((format(printf, 1, 2)))
static void warnx_(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fmt_addr(const struct sockaddr_storage *ss, char *out, size_t n)
{
	char h[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		if (inet_ntop(AF_INET, &s->sin_addr, h, sizeof(h))) {
			snprintf(out, n, "%s:%u", h, ntohs(s->sin_port));
			return;
		}
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;

		if (inet_ntop(AF_INET6, &s->sin6_addr, h, sizeof(h))) {
			snprintf(out, n, "[%s]:%u", h, ntohs(s->sin6_port));
			return;
		}
	}
	snprintf(out, n, "?");
}

static bool parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool parse_secs(const char *s, double *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	*v = strtod(s, &end);
	return !errno && !*end && *v >= 0 && *v < 1e6;	/* rejects nan/inf */
}

static bool parse_dst(const char *addr, const char *port, bool v6sock)
{
	char host[INET6_ADDRSTRLEN + 2];
	unsigned long long p;
	size_t l = strlen(addr);
	struct in_addr a4;
	struct in6_addr a6;

	if (!parse_ull(port, &p) || p > 65535)
		return false;
	if (l >= 2 && addr[0] == '[' && addr[l - 1] == ']') {
		if (l - 2 >= sizeof(host))
			return false;
		memcpy(host, addr + 1, l - 2);
		host[l - 2] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
	} else if (inet_pton(AF_INET, addr, &a4) == 1) {
		memset(&g.dst, 0, sizeof(g.dst));
		if (!v6sock) {
			struct sockaddr_in *s = (struct sockaddr_in *)&g.dst;

			s->sin_family = AF_INET;
			s->sin_addr = a4;
			s->sin_port = htons((uint16_t)p);
			g.dstlen = sizeof(*s);
			return true;
		}
		memset(&a6, 0, sizeof(a6));
		a6.s6_addr[10] = 0xff;
		a6.s6_addr[11] = 0xff;
		memcpy(&a6.s6_addr[12], &a4, 4);
	} else if (inet_pton(AF_INET6, addr, &a6) != 1) {
		return false;
	}
	memset(&g.dst, 0, sizeof(g.dst));
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&g.dst;

	s6->sin6_family = AF_INET6;
	s6->sin6_addr = a6;
	s6->sin6_port = htons((uint16_t)p);
	g.dstlen = sizeof(*s6);
	return true;
}

static int timeout_ms(void)
{
	if (g.timeout <= 0)
		return -1;
	double ms = g.timeout * 1000.0 + 0.999;

	return ms > 2147483647.0 ? 2147483647 : ms < 1.0 ? 1 : (int)ms;
}

static void fill_pattern(unsigned long long index)
{
	for (size_t i = 0; i < sizeof(g_pat); i++)
		g_pat[i] = (unsigned char)((i * 7 + index) & 0xff);
}

static inline unsigned char expected(unsigned long long off,
				     unsigned long long index)
{
	return (unsigned char)((off * 7 + index) & 0xff);
}

__attribute__((format(printf, 2, 3)))
static void fail(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return;
	c->failed = true;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Note the errno of a failure about to be reported with fail(); for a
 * connect also where it failed (@in) and when (@t0: socket() time). */
static void fail_errno(struct conn *c, int e, const char *in, double t0)
{
	if (c->failed)
		return;
	c->err = e;
	c->in = in;
	c->ms = in ? now_ms() - t0 : 0;
}

static void close_conn(struct conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Returns poll() result; fills *revents. */
static int wait_fd(int fd, short events, short *revents)
{
	struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
	int r;

	do {
		r = poll(&p, 1, timeout_ms());
	} while (r < 0 && errno == EINTR);
	*revents = p.revents;
	return r;
}

/* socket + connect (or TFO sendto); waits until connect completed. */
static void open_conn(struct conn *c)
{
	int one = 1, soerr = 0;
	socklen_t sl = sizeof(soerr);
	short re;
	int r;
	const char *step = "connect";
	double t0 = now_ms();

	c->fd = socket(g.dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       g.proto);
	if (c->fd < 0) {
		fail_errno(c, errno, NULL, 0);
		fail(c, "socket(%s%s): %s",
		     g.dst.ss_family == AF_INET6 ? "AF_INET6" : "AF_INET",
		     g.proto == IPPROTO_MPTCP ? ", IPPROTO_MPTCP" : "",
		     strerror(errno));
		return;
	}
	switch (g.mode) {
	case M_TFO: {
		size_t n = g.bytes < CHUNK ? (size_t)g.bytes : CHUNK;
		ssize_t s;

		step = "sendto(MSG_FASTOPEN)";
		fill_pattern(c->index);
		s = sendto(c->fd, g_pat, n, MSG_FASTOPEN | MSG_NOSIGNAL,
			   (struct sockaddr *)&g.dst, g.dstlen);
		if (s >= 0) {
			c->sent = (unsigned long long)s;
		} else if (errno != EINPROGRESS) {
			fail_errno(c, errno, "sendto", t0);
			fail(c, "sendto(MSG_FASTOPEN) %s: %s", g.dststr,
			     strerror(errno));
			return;
		}
		break;
	}
	case M_TFO_CONNECT:
		if (setsockopt(c->fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one,
			       sizeof(one)) < 0) {
			fail_errno(c, errno, NULL, 0);
			fail(c, "setsockopt(TCP_FASTOPEN_CONNECT): %s",
			     strerror(errno));
			return;
		}
		/* fall through */
	case M_CONNECT:
		if (connect(c->fd, (struct sockaddr *)&g.dst, g.dstlen) < 0 &&
		    errno != EINPROGRESS) {
			fail_errno(c, errno, "connect", t0);
			fail(c, "connect %s: %s", g.dststr, strerror(errno));
			return;
		}
		break;
	}
	/* With TCP_FASTOPEN_CONNECT and a cached cookie the connect is
	 * deferred and POLLOUT is reported immediately; the exchange then
	 * waits for establishment before shutting down. */
	r = wait_fd(c->fd, POLLOUT, &re);
	if (r < 0) {
		fail_errno(c, errno, NULL, 0);
		fail(c, "poll: %s", strerror(errno));
		return;
	}
	if (r == 0) {
		fail(c, "%s %s: timed out after %gs", step, g.dststr, g.timeout);
		return;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
		fail_errno(c, errno, NULL, 0);
		fail(c, "getsockopt(SO_ERROR): %s", strerror(errno));
		return;
	}
	if (soerr) {
		fail_errno(c, soerr, "SO_ERROR", t0);
		fail(c, "%s %s: %s", step, g.dststr, strerror(soerr));
		return;
	}
}

/* Record local/peer once established.  Returns true when established. */
static bool try_addrs(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (c->have_addrs)
		return true;
	memset(&ss, 0, sizeof(ss));
	if (getpeername(c->fd, (struct sockaddr *)&ss, &len) < 0)
		return false;
	fmt_addr(&ss, c->peer, sizeof(c->peer));
	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) == 0)
		fmt_addr(&ss, c->local, sizeof(c->local));
	else
		snprintf(c->local, sizeof(c->local), "?");
	c->have_addrs = true;
	return true;
}

/* Verify received bytes; returns false on failure. */
static bool check_rx(struct conn *c, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned long long off = c->recvd + i;

		if (off >= g.bytes) {
			fail(c, "reply too long: more than %llu bytes", g.bytes);
			return false;
		}
		if (b[i] != expected(off, c->index)) {
			fail(c, "mismatch at byte %llu: got 0x%02x want 0x%02x",
			     off, b[i], expected(off, c->index));
			return false;
		}
	}
	c->recvd += n;
	return true;
}

/*
 * Drive the exchange.  If until_eof is false, stop once all bytes were
 * sent and echoed (no shutdown); otherwise shut down the write side once
 * everything was sent (and the connection is established) and read to EOF.
 */
static void run_exchange(struct conn *c, bool until_eof)
{
	if (c->failed)
		return;
	fill_pattern(c->index);
	for (;;) {
		short ev = POLLIN, re;
		int r;

		if (c->sent == g.bytes && !c->shut && try_addrs(c) &&
		    (until_eof)) {
			if (shutdown(c->fd, SHUT_WR) < 0) {
				int e = errno, soerr = 0;
				socklen_t sl = sizeof(soerr);

				/* e.g. reset while held: report the real cause */
				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
					       &sl) == 0 && soerr)
					e = soerr;
				fail_errno(c, e, NULL, 0);
				fail(c, "shutdown: %s", strerror(e));
				return;
			}
			c->shut = true;
		}
		if (!until_eof && c->sent == g.bytes && c->recvd == g.bytes &&
		    try_addrs(c))
			return;
		if (c->sent < g.bytes || !c->have_addrs)
			ev |= POLLOUT;
		r = wait_fd(c->fd, ev, &re);
		if (r < 0) {
			fail_errno(c, errno, NULL, 0);
			fail(c, "poll: %s", strerror(errno));
			return;
		}
		if (r == 0) {
			fail(c, "timeout: no progress for %gs (sent=%llu received=%llu)",
			     g.timeout, c->sent, c->recvd);
			return;
		}
		if (re & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t n = recv(c->fd, g_rbuf, sizeof(g_rbuf), MSG_DONTWAIT);

			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != EINTR) {
					fail_errno(c, errno, NULL, 0);
					fail(c, "recv: %s", strerror(errno));
					return;
				}
			} else if (n == 0) {
				try_addrs(c);
				if (c->sent < g.bytes) {
					fail(c, "peer closed after %llu of %llu bytes sent",
					     c->sent, g.bytes);
				} else if (c->recvd < g.bytes) {
					fail(c, "short reply: %llu of %llu bytes",
					     c->recvd, g.bytes);
				} else if (!until_eof) {
					fail(c, "peer closed before hold");
				}
				return;	/* EOF: done */
			} else {
				try_addrs(c);
				if (!check_rx(c, g_rbuf, (size_t)n))
					return;
			}
		}
		if ((re & (POLLOUT | POLLERR | POLLHUP)) && c->sent < g.bytes) {
			unsigned long long left = g.bytes - c->sent;
			size_t n = left < CHUNK ? (size_t)left : CHUNK;
			ssize_t s = send(c->fd, g_pat + (c->sent % 256), n,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (s < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != EINTR) {
					fail_errno(c, errno, NULL, 0);
					fail(c, "send: %s", strerror(errno));
					return;
				}
			} else {
				c->sent += (unsigned long long)s;
			}
		}
	}
}

static void report(struct conn *c, unsigned long long *ok, unsigned long long *nfail)
{
	if (c->failed) {
		printf("fail %llu %s", c->index, c->reason);
		if (g.errnos) {
			const char *n = c->err ? strerrorname_np(c->err) : NULL;

			printf(" errno=%s", n ? n : c->err ? "?" : "-");
			if (c->in)
				printf(" in=%s ms=%.3f", c->in, c->ms);
		}
		printf("\n");
		(*nfail)++;
	} else {
		printf("ok %llu local=%s peer=%s bytes=%llu\n", c->index,
		       c->local, c->peer, g.bytes);
		(*ok)++;
	}
	fflush(stdout);
}

static void sleep_secs(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	enum { O_MPTCP = 256, O_TFO, O_TFO_CONNECT, O_COUNT, O_PARALLEL,
	       O_BYTES, O_HOLD, O_TIMEOUT, O_ERRNO };
	static const struct option opts[] = {
		{ "mptcp", no_argument, NULL, O_MPTCP },
		{ "tfo", no_argument, NULL, O_TFO },
		{ "tfo-connect", no_argument, NULL, O_TFO_CONNECT },
		{ "count", required_argument, NULL, O_COUNT },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "bytes", required_argument, NULL, O_BYTES },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "errno", no_argument, NULL, O_ERRNO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool v6 = false, tfo = false, tfoc = false;
	unsigned long long nok = 0, nfail = 0;
	struct conn *conns;
	struct sigaction sa;
	int opt;

	g.proto = 0;
	g.count = 1;
	g.parallel = 1;
	g.bytes = 1000;
	g.hold = 0;
	g.timeout = 10;
	while ((opt = getopt_long(argc, argv, "6h", opts, NULL)) != -1) {
		bool okarg = true;

		switch (opt) {
		case '6':
			v6 = true;
			break;
		case O_MPTCP:
			g.proto = IPPROTO_MPTCP;
			break;
		case O_TFO:
			tfo = true;
			break;
		case O_TFO_CONNECT:
			tfoc = true;
			break;
		case O_COUNT:
			okarg = parse_ull(optarg, &g.count) && g.count > 0;
			break;
		case O_PARALLEL:
			okarg = parse_ull(optarg, &g.parallel) && g.parallel > 0 &&
				g.parallel <= 1000000;
			break;
		case O_BYTES:
			okarg = parse_ull(optarg, &g.bytes);
			break;
		case O_HOLD:
			okarg = parse_secs(optarg, &g.hold);
			break;
		case O_TIMEOUT:
			okarg = parse_secs(optarg, &g.timeout);
			break;
		case O_ERRNO:
			g.errnos = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!okarg) {
			warnx_("invalid value '%s' for --%s", optarg,
			       opts[opt - O_MPTCP].name);
			usage(stderr);
			return 2;
		}
	}
	if (tfo && tfoc) {
		warnx_("--tfo and --tfo-connect are mutually exclusive");
		usage(stderr);
		return 2;
	}
	g.mode = tfo ? M_TFO : tfoc ? M_TFO_CONNECT : M_CONNECT;
	if (tfoc && g.bytes == 0) {
		/* a deferred TFO connect only starts with the first write */
		warnx_("--tfo-connect needs --bytes > 0");
		usage(stderr);
		return 2;
	}
	if (argc - optind != 2) {
		warnx_("expected ADDR PORT");
		usage(stderr);
		return 2;
	}
	if (!parse_dst(argv[optind], argv[optind + 1], v6)) {
		warnx_("invalid address/port '%s' '%s' (numeric IPv4/IPv6, port 0-65535)",
		       argv[optind], argv[optind + 1]);
		usage(stderr);
		return 2;
	}
	if (g.count > ULLONG_MAX / g.parallel) {
		warnx_("--count * --parallel overflows");
		return 2;
	}
	fmt_addr(&g.dst, g.dststr, sizeof(g.dststr));

	raise_nofile();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	conns = calloc((size_t)g.parallel, sizeof(*conns));
	if (!conns) {
		warnx_("calloc(%llu connections): %s", g.parallel, strerror(errno));
		return 1;
	}
	for (unsigned long long r = 0; r < g.count; r++) {
		bool held = g.hold > 0;

		for (unsigned long long j = 0; j < g.parallel; j++) {
			struct conn *c = &conns[j];

			memset(c, 0, sizeof(*c));
			c->fd = -1;
			c->index = r * g.parallel + j;
			snprintf(c->local, sizeof(c->local), "?");
			snprintf(c->peer, sizeof(c->peer), "?");
			open_conn(c);
			if (c->failed)
				close_conn(c);
		}
		for (unsigned long long j = 0; j < g.parallel; j++)
			run_exchange(&conns[j], !held);
		if (held) {
			sleep_secs(g.hold);
			for (unsigned long long j = 0; j < g.parallel; j++)
				run_exchange(&conns[j], true);
		}
		for (unsigned long long j = 0; j < g.parallel; j++)
			report(&conns[j], &nok, &nfail);
		for (unsigned long long j = 0; j < g.parallel; j++)
			close_conn(&conns[j]);
	}
	free(conns);
	printf("summary ok=%llu fail=%llu\n", nok, nfail);
	fflush(stdout);
	return nfail ? 1 : 0;
}
