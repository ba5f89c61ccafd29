/*
 * crd-origdst - SO_ORIGINAL_DST probe / minimal transparent proxy, written
 * the way unmodified redsocks-style programs are, as a connredir test
 * fixture.
 *
 * Usage:
 *   crd-origdst [--once] [--forward] ADDR:PORT
 *
 *   ADDR is a numeric IPv4 address or a bracketed numeric IPv6 address
 *   ([::1]).  The listener gets SO_REUSEADDR (and IPV6_V6ONLY=1 for IPv6),
 *   backlog 1024; PORT 0 picks a free port.
 *
 * For every accepted connection:
 *   struct sockaddr_in sin; socklen_t len = sizeof(sin);
 *   getsockopt(fd, SOL_IP, SO_ORIGINAL_DST (80), &sin, &len)
 * and, if that fails and the accepted socket is AF_INET6:
 *   struct sockaddr_in6 sin6; len = sizeof(sin6);
 *   getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST (80), &sin6, &len)
 * The error reported is the one of the last call made.  A successful
 * answer whose address family is neither AF_INET nor AF_INET6 (or whose
 * length is too short for it) is reported as EAFNOSUPPORT.  Typical errors
 * for a connection nothing redirected: ENOENT (netfilter conntrack has no
 * NAT entry) or ENOPROTOOPT (no conntrack getsockopt registered).
 *
 * Without --forward the connection is closed right after printing.
 * With --forward the probe connects (non-blocking) to the original
 * destination and relays bytes both ways (half-closes are propagated with
 * shutdown(SHUT_WR)) until both directions reached EOF, then closes both.
 * If either side fails (reset, error) the other one is closed with an RST
 * (SO_LINGER 0).  Forwarding is refused with ELOOP (forward-error line,
 * client reset) when the original destination is the listener's own
 * address, or when the accepted connection comes from one of the probe's
 * own upstream sockets (its outgoing connection was redirected back to
 * it); the latter connection still gets its origdst line first.  All
 * connections are served concurrently by one poll() loop.
 *
 * --once: stop accepting after the first connection and exit once it has
 * been handled (with --forward: once its relay finished).  Connections
 * still waiting in the backlog are reset when the listener is closed.
 *
 * Output (stdout, each line flushed):
 *   listening <A:P>                              once, when listening
 *   origdst <A:P>                                per connection, on success
 *   origdst-error <ERRNO> <strerror text>        per connection, on failure
 * and with --forward only:
 *   forward-error <A:P> <ERRNO> <strerror text>  socket/connect to <A:P>
 *                                                failed, or ELOOP (above);
 *                                                the client is reset
 *   forward-done <A:P> up=<N> down=<N>           relay to <A:P> finished
 *                                                (up = client->destination
 *                                                bytes, down = the reverse);
 *                                                also printed for a relay
 *                                                aborted by an error
 * <A:P> is "1.2.3.4:80" or "[::1]:80"; <ERRNO> is the symbolic name such
 * as ENOENT or ENOPROTOOPT ("E<number>" if unknown), e.g.
 *   origdst-error ENOENT No such file or directory
 * With concurrent connections, forward-done lines may interleave with
 * origdst lines of later connections.
 * stderr: "crd-origdst: <call> <address>: <strerror>" diagnostics.
 *
 * Exit status: 0 on SIGTERM/SIGINT or after --once, 1 on setup errors,
 * 2 on misuse.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80	/* <linux/netfilter_ipv4.h> */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80	/* <linux/netfilter_ipv6/ip6_tables.h> */
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif
#ifndef SOL_IPV6
#define SOL_IPV6 41
#endif

#define PROG "crd-origdst"
#define ADDR_FMT_LEN 64
#define BACKLOG 1024
#define BUFSZ (64 * 1024)

struct dir {
	char buf[BUFSZ];
	size_t len, off;
	bool eof;		/* read side reached EOF */
	bool shut;		/* shutdown(SHUT_WR) done on destination */
	unsigned long long bytes;
};

struct relay {
	int cfd, ufd;		/* client, upstream (original destination) */
	bool connecting;
	bool dead;
	bool have_ulocal;
	struct sockaddr_storage ulocal;	/* local address of ufd */
	char dst[ADDR_FMT_LEN];
	struct dir up;		/* cfd -> ufd */
	struct dir down;	/* ufd -> cfd */
};

static volatile sig_atomic_t g_stop;
static struct relay **g_rel;
static size_t g_nrel, g_caprel;
static char g_listen_str[ADDR_FMT_LEN];

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--once] [--forward] ADDR:PORT\n"
		"  ADDR is numeric IPv4 (127.0.0.1) or bracketed IPv6 ([::1]).\n"
		"  Prints \"origdst A:P\" or \"origdst-error ERRNO text\" per accepted\n"
		"  connection (getsockopt SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST).\n"
		"  --forward  connect to the original destination and relay\n"
		"  --once     exit after the first connection\n"
		"  -h, --help show this help\n");
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

static const char *errno_name(int e, char *tmp, size_t n)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	const char *s = strerrorname_np(e);

	if (s)
		return s;
#else
	static const struct { int e; const char *n; } tab[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
		{ EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EINVAL, "EINVAL" },
		{ ENFILE, "ENFILE" }, { EMFILE, "EMFILE" }, { EPIPE, "EPIPE" },
		{ ELOOP, "ELOOP" }, { ENOTSOCK, "ENOTSOCK" },
		{ ENOPROTOOPT, "ENOPROTOOPT" }, { EOPNOTSUPP, "EOPNOTSUPP" },
		{ EAFNOSUPPORT, "EAFNOSUPPORT" }, { EADDRINUSE, "EADDRINUSE" },
		{ EADDRNOTAVAIL, "EADDRNOTAVAIL" }, { ENETUNREACH, "ENETUNREACH" },
		{ ECONNABORTED, "ECONNABORTED" }, { ECONNRESET, "ECONNRESET" },
		{ ENOTCONN, "ENOTCONN" }, { ETIMEDOUT, "ETIMEDOUT" },
		{ ECONNREFUSED, "ECONNREFUSED" }, { EHOSTUNREACH, "EHOSTUNREACH" },
		{ EINPROGRESS, "EINPROGRESS" },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (tab[i].e == e)
			return tab[i].n;
#endif
	snprintf(tmp, n, "E%d", e);
	return tmp;
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

static bool parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool parse_hostport(const char *arg, struct sockaddr_storage *ss,
			   socklen_t *sslen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint16_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (!rb || rb[1] != ':')
			return false;
		hl = (size_t)(rb - arg - 1);
		if (hl == 0 || hl >= sizeof(host))
			return false;
		memcpy(host, arg + 1, hl);
		host[hl] = '\0';
		if (!parse_port(rb + 2, &port) ||
		    inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return false;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*sslen = sizeof(*s6);
		return true;
	}
	colon = strrchr(arg, ':');
	if (!colon)
		return false;
	hl = (size_t)(colon - arg);
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	if (!parse_port(colon + 1, &port) ||
	    inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return false;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	*sslen = sizeof(*s4);
	return true;
}

static bool same_addr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return false;
}

/* Repeated accept failures (EMFILE...) are reported at most once a second. */
static void warn_ratelimited(const char *call, const char *addr, int e)
{
	static struct timespec last;
	static int last_e;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (e == last_e && last.tv_sec && now.tv_sec - last.tv_sec < 1)
		return;
	last = now;
	last_e = e;
	warnx_("%s %s: %s", call, addr, strerror(e));
}

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void print_errno(const char *prefix, const char *addr, int e)
{
	char tmp[32];

	if (addr)
		printf("%s %s %s %s\n", prefix, addr, errno_name(e, tmp, sizeof(tmp)),
		       strerror(e));
	else
		printf("%s %s %s\n", prefix, errno_name(e, tmp, sizeof(tmp)),
		       strerror(e));
	fflush(stdout);
}

/* The SO_ORIGINAL_DST lookup, redsocks-style.  Returns 0 or an errno. */
static int get_origdst(int fd, int family, struct sockaddr_storage *out)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	socklen_t len;

	memset(out, 0, sizeof(*out));
	memset(&sin, 0, sizeof(sin));
	len = sizeof(sin);
	if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sin, &len) == 0) {
		if (sin.sin_family == AF_INET && len >= sizeof(sin)) {
			memcpy(out, &sin, sizeof(sin));
			return 0;
		}
		if (family != AF_INET6) {
			warnx_("getsockopt(SOL_IP, SO_ORIGINAL_DST): family %d len %u",
			       sin.sin_family, (unsigned)len);
			return EAFNOSUPPORT;
		}
		/* fall through to the IPv6 query */
	} else if (family != AF_INET6) {
		return errno;
	}
	memset(&sin6, 0, sizeof(sin6));
	len = sizeof(sin6);
	if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &sin6, &len) < 0)
		return errno;
	if (sin6.sin6_family == AF_INET6 && len >= sizeof(sin6)) {
		memcpy(out, &sin6, sizeof(sin6));
		return 0;
	}
	if (sin6.sin6_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		memcpy(out, &sin6, sizeof(struct sockaddr_in));
		return 0;
	}
	warnx_("getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST): family %d len %u",
	       sin6.sin6_family, (unsigned)len);
	return EAFNOSUPPORT;
}

static void rst_close(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void relay_finish(struct relay *r, bool abort_)
{
	if (r->dead)
		return;
	r->dead = true;
	if (!r->connecting) {
		printf("forward-done %s up=%llu down=%llu\n", r->dst,
		       r->up.bytes, r->down.bytes);
		fflush(stdout);
	}
	if (abort_) {
		rst_close(r->cfd);
		rst_close(r->ufd);
	} else {
		close(r->cfd);
		close(r->ufd);
	}
	r->cfd = r->ufd = -1;
}

/* Move data src -> dst for one direction.  Returns -1 on fatal error. */
static int pump(struct relay *r, struct dir *d, int src, int dst,
		const char *sname, const char *dname)
{
	for (int rounds = 0;; rounds++) {
		while (d->off < d->len) {
			ssize_t n = send(dst, d->buf + d->off, d->len - d->off,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				warnx_("send to %s (relay %s): %s", dname, r->dst,
				       strerror(errno));
				return -1;
			}
			d->off += (size_t)n;
			d->bytes += (unsigned long long)n;
		}
		d->off = d->len = 0;
		if (d->eof) {
			/* everything relayed: propagate the half-close */
			if (!d->shut) {
				d->shut = true;
				if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN) {
					warnx_("shutdown %s (relay %s): %s", dname,
					       r->dst, strerror(errno));
					return -1;
				}
			}
			return 0;
		}
		if (rounds >= 16)
			return 0;	/* be fair to other relays */
		ssize_t n = recv(src, d->buf, sizeof(d->buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			warnx_("recv from %s (relay %s): %s", sname, r->dst,
			       strerror(errno));
			return -1;
		}
		if (n == 0)
			d->eof = true;
		else
			d->len = (size_t)n;
	}
}

static int relay_io(struct relay *r)
{
	if (pump(r, &r->up, r->cfd, r->ufd, "client", "destination") < 0 ||
	    pump(r, &r->down, r->ufd, r->cfd, "destination", "client") < 0)
		return -1;
	return 0;
}

static bool add_relay(struct relay *r)
{
	if (g_nrel == g_caprel) {
		size_t ncap = g_caprel ? g_caprel * 2 : 64;
		struct relay **n = realloc(g_rel, ncap * sizeof(*n));

		if (!n)
			return false;
		g_rel = n;
		g_caprel = ncap;
	}
	g_rel[g_nrel++] = r;
	return true;
}

/*
 * True if the accepted connection comes from one of our own upstream
 * sockets, i.e. our outgoing connection was redirected back to us.
 */
static bool is_own_upstream(int cfd)
{
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);

	memset(&peer, 0, sizeof(peer));
	if (getpeername(cfd, (struct sockaddr *)&peer, &pl) < 0)
		return false;
	for (size_t i = 0; i < g_nrel; i++) {
		const struct relay *r = g_rel[i];

		if (!r->dead && r->have_ulocal && same_addr(&peer, &r->ulocal))
			return true;
	}
	return false;
}

/* Handle one accepted connection.  Takes ownership of cfd. */
static void handle_conn(int cfd, bool forward)
{
	struct sockaddr_storage local, od;
	socklen_t ll = sizeof(local);
	char odstr[ADDR_FMT_LEN];
	struct relay *r;
	socklen_t sl;
	int e;

	memset(&local, 0, sizeof(local));
	if (getsockname(cfd, (struct sockaddr *)&local, &ll) < 0) {
		warnx_("getsockname (listener %s): %s", g_listen_str,
		       strerror(errno));
		local.ss_family = AF_UNSPEC;
	}
	e = get_origdst(cfd, local.ss_family, &od);
	if (e) {
		print_errno("origdst-error", NULL, e);
		close(cfd);
		return;
	}
	fmt_addr(&od, odstr, sizeof(odstr));
	printf("origdst %s\n", odstr);
	fflush(stdout);
	if (!forward) {
		close(cfd);
		return;
	}
	if (same_addr(&od, &local) || is_own_upstream(cfd)) {
		print_errno("forward-error", odstr, ELOOP);
		rst_close(cfd);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !add_relay(r)) {
		warnx_("relay %s: out of memory", odstr);
		free(r);
		rst_close(cfd);
		return;
	}
	r->cfd = cfd;
	r->connecting = true;
	snprintf(r->dst, sizeof(r->dst), "%s", odstr);
	r->ufd = socket(od.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->ufd < 0) {
		e = errno;
		warnx_("socket for %s: %s", odstr, strerror(e));
		print_errno("forward-error", odstr, e);
		relay_finish(r, true);
		return;
	}
	if (connect(r->ufd, (struct sockaddr *)&od,
		    od.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					     : sizeof(struct sockaddr_in)) == 0) {
		r->connecting = false;
	} else if (errno != EINPROGRESS) {
		e = errno;
		warnx_("connect %s: %s", odstr, strerror(e));
		print_errno("forward-error", odstr, e);
		relay_finish(r, true);
		return;
	}
	sl = sizeof(r->ulocal);
	r->have_ulocal = getsockname(r->ufd, (struct sockaddr *)&r->ulocal, &sl) == 0;
}

static void relay_connected(struct relay *r)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (getsockopt(r->ufd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		warnx_("connect %s: %s", r->dst, strerror(soerr));
		print_errno("forward-error", r->dst, soerr);
		relay_finish(r, true);
		return;
	}
	r->connecting = false;
}

static bool relay_complete(const struct relay *r)
{
	return r->up.eof && r->up.shut && r->down.eof && r->down.shut;
}

static short dir_events_src(const struct dir *d)
{
	return (!d->eof && d->off == d->len) ? POLLIN : 0;
}

static short dir_events_dst(const struct dir *d)
{
	return d->off < d->len ? POLLOUT : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "forward", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool once = false, forward = false, accepting = true;
	struct sockaddr_storage ss, bound;
	socklen_t sl, bl = sizeof(bound);
	struct pollfd *pfds = NULL;
	size_t pfdcap = 0;
	sigset_t block, waitmask;
	struct sigaction sa;
	struct timespec pause_until = { 0, 0 };
	int lfd = -1, one = 1, opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			once = true;
			break;
		case 'f':
			forward = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		warnx_("expected exactly one ADDR:PORT");
		usage(stderr);
		return 2;
	}
	if (!parse_hostport(argv[optind], &ss, &sl)) {
		warnx_("invalid address '%s' (want IPV4:PORT or [IPV6]:PORT)",
		       argv[optind]);
		usage(stderr);
		return 2;
	}
	fmt_addr(&ss, g_listen_str, sizeof(g_listen_str));

	raise_nofile();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		warnx_("socket %s: %s", g_listen_str, strerror(errno));
		return 1;
	}
	if (setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		warnx_("setsockopt(SO_REUSEADDR) %s: %s", g_listen_str,
		       strerror(errno));
		rc = 1;
		goto out;
	}
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		warnx_("setsockopt(IPV6_V6ONLY) %s: %s", g_listen_str,
		       strerror(errno));
		rc = 1;
		goto out;
	}
	if (bind(lfd, (struct sockaddr *)&ss, sl) < 0) {
		warnx_("bind %s: %s", g_listen_str, strerror(errno));
		rc = 1;
		goto out;
	}
	if (listen(lfd, BACKLOG) < 0) {
		warnx_("listen %s: %s", g_listen_str, strerror(errno));
		rc = 1;
		goto out;
	}
	memset(&bound, 0, sizeof(bound));
	if (getsockname(lfd, (struct sockaddr *)&bound, &bl) == 0)
		fmt_addr(&bound, g_listen_str, sizeof(g_listen_str));
	printf("listening %s\n", g_listen_str);
	fflush(stdout);

	while (!g_stop && (accepting || g_nrel > 0)) {
		size_t n = 1 + 2 * g_nrel, nr = g_nrel;
		struct timespec now, tmo, *tp = NULL;
		bool paused = false;
		int pr;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < pause_until.tv_sec ||
		    (now.tv_sec == pause_until.tv_sec &&
		     now.tv_nsec < pause_until.tv_nsec)) {
			paused = true;
			tmo.tv_sec = 0;
			tmo.tv_nsec = 100 * 1000000L;
			tp = &tmo;
		}
		if (n > pfdcap) {
			size_t ncap = pfdcap ? pfdcap : 64;
			struct pollfd *np;

			while (ncap < n)
				ncap *= 2;
			np = realloc(pfds, ncap * sizeof(*np));
			if (!np) {
				warnx_("malloc: %s", strerror(ENOMEM));
				rc = 1;
				break;
			}
			pfds = np;
			pfdcap = ncap;
		}
		pfds[0].fd = (accepting && !paused) ? lfd : -1;
		pfds[0].events = POLLIN;
		pfds[0].revents = 0;
		for (size_t i = 0; i < nr; i++) {
			struct relay *r = g_rel[i];
			struct pollfd *pc = &pfds[1 + 2 * i], *pu = pc + 1;

			pc->revents = pu->revents = 0;
			if (r->connecting) {
				pc->fd = -1;
				pc->events = 0;
				pu->fd = r->ufd;
				pu->events = POLLOUT;
				continue;
			}
			pc->fd = r->cfd;
			pc->events = dir_events_src(&r->up) | dir_events_dst(&r->down);
			pu->fd = r->ufd;
			pu->events = dir_events_src(&r->down) | dir_events_dst(&r->up);
		}
		pr = ppoll(pfds, n, tp, &waitmask);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			warnx_("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		for (size_t i = 0; i < nr; i++) {
			struct relay *r = g_rel[i];
			short rc_ = pfds[1 + 2 * i].revents;
			short ru = pfds[2 + 2 * i].revents;

			if (r->dead)
				continue;
			if (r->connecting) {
				if (ru)
					relay_connected(r);
				if (r->dead || r->connecting)
					continue;
				rc_ = POLLIN;	/* try both directions now */
				ru = POLLIN;
			}
			if (!rc_ && !ru)
				continue;
			if (relay_io(r) < 0) {
				relay_finish(r, true);
				continue;
			}
			if (relay_complete(r)) {
				relay_finish(r, false);
				continue;
			}
			/* Error/hangup on a socket we are not waiting to read
			 * from: nothing more can be learnt by reading, so give
			 * up rather than spin. */
			if (((rc_ & POLLERR) || ((rc_ & POLLHUP) && r->up.eof)) ||
			    ((ru & POLLERR) || ((ru & POLLHUP) && r->down.eof))) {
				if (!relay_complete(r))
					relay_finish(r, true);
			}
		}
		if (pfds[0].revents & POLLIN) {
			for (;;) {
				int cfd = accept4(lfd, NULL, NULL,
						  SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (cfd < 0) {
					if (errno == EINTR || errno == ECONNABORTED ||
					    errno == EPROTO)
						continue;
					if (errno != EAGAIN && errno != EWOULDBLOCK) {
						warn_ratelimited("accept", g_listen_str,
								 errno);
						clock_gettime(CLOCK_MONOTONIC,
							      &pause_until);
						pause_until.tv_nsec += 100 * 1000000L;
						if (pause_until.tv_nsec >= 1000000000L) {
							pause_until.tv_sec++;
							pause_until.tv_nsec -= 1000000000L;
						}
					}
					break;
				}
				handle_conn(cfd, forward);
				if (once) {
					accepting = false;
					close(lfd);
					lfd = -1;
					break;
				}
			}
		}
		/* drop finished relays (also those that failed in handle_conn) */
		{
			size_t w = 0;

			for (size_t i = 0; i < g_nrel; i++) {
				if (g_rel[i]->dead)
					free(g_rel[i]);
				else
					g_rel[w++] = g_rel[i];
			}
			g_nrel = w;
		}
	}

out:
	for (size_t i = 0; i < g_nrel; i++) {
		relay_finish(g_rel[i], true);
		free(g_rel[i]);
	}
	free(g_rel);
	free(pfds);
	if (lfd >= 0)
		close(lfd);
	return rc;
}
