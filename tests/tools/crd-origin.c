/*
 * crd-origin - origin server test fixture for connredir integration tests.
 *
 * Usage:
 *   crd-origin [--ready FILE] [--log FILE] ADDR:PORT [ADDR:PORT...]
 *
 *   ADDR is a numeric IPv4 address (127.0.0.1) or a bracketed numeric IPv6
 *   address ([::1]).  PORT 0 picks a free port (see the "listening" lines).
 *   Every listener gets SO_REUSEADDR and a backlog of 1024; IPv6 listeners
 *   get IPV6_V6ONLY=1.  TCP_FASTOPEN (queue 256) is also set, best effort,
 *   so Fast Open clients can carry data in the SYN when the sysctl
 *   net.ipv4.tcp_fastopen has the server bit (2) set.  One single-threaded
 *   poll() loop serves all connections (non-blocking sockets, no limit on
 *   connections other than RLIMIT_NOFILE, whose soft limit is raised to
 *   the hard limit at start).  Listeners are plain TCP (an MPTCP client
 *   falls back to TCP against them).
 *
 * Per connection the server looks at the first bytes received:
 *
 *   HTTP mode - the data starts with an HTTP method followed by a space
 *   ("GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ",
 *   "CONNECT ", "TRACE ").  The server reads up to the end of the headers
 *   (\r\n\r\n, headers at most 64 KiB) plus a Content-Length body if any,
 *   then answers exactly:
 *
 *     HTTP/1.1 200 OK\r\n
 *     Content-Type: text/plain\r\n
 *     Connection: close\r\n
 *     Content-Length: <length of body>\r\n
 *     \r\n
 *     origin ok local=<A:P> peer=<A:P> bytes=<N>\n
 *
 *   local = the address the connection was accepted on (getsockname),
 *   peer = the client address (getpeername), N = request bytes received
 *   so far (headers + body).  A HEAD request gets the same headers but no
 *   body.  Afterwards the server shuts down its sending side, discards
 *   whatever else arrives until the client closes (at most 5 s), and closes.
 *   Errors: EOF before the request is complete, a bad Content-Length or
 *   "Transfer-Encoding: chunked" (not supported) give
 *   "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
 *   headers over 64 KiB give the same with
 *   "431 Request Header Fields Too Large".
 *
 *   Echo mode - anything else (including a connection that sends nothing
 *   and shuts down, or sends only a prefix of a method name such as "GE"
 *   and shuts down).  Every byte received is written back unchanged, with
 *   back-pressure, until the client shuts down its side; once all bytes
 *   were written back the connection is closed.
 *
 * Address format <A:P> used everywhere: IPv4 "1.2.3.4:80", IPv6
 * "[::1]:80" (inet_ntop text, so IPv4-mapped addresses print as
 * "[::ffff:1.2.3.4]:80"); "?" when the address cannot be obtained.
 *
 * Output:
 *   stdout: one line per listener once all listeners are listening
 *             listening <A:P>
 *           (actual bound address, so PORT 0 shows the chosen port),
 *           flushed.  Nothing else is written to stdout.
 *   --ready FILE: FILE is unlinked at start, and once all listeners are
 *           listening it is created atomically (written as FILE.tmp, then
 *           renamed) containing the same "listening <A:P>" lines.
 *           It is not removed on exit.
 *   --log FILE: opened in append mode; exactly one line per accepted
 *           connection when it is closed (normally, on error, or at
 *           shutdown), flushed per line:
 *             conn local=<A:P> peer=<A:P> in=<bytes received> out=<bytes sent>
 *   stderr: "crd-origin: <call> <address>: <strerror>" diagnostics.
 *
 * Exit status: 0 after SIGTERM/SIGINT (all connections are closed and
 * logged first), 1 on a setup error (bind, listen, ...), 2 on misuse.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "crd-origin"
#define ADDR_FMT_LEN 64
#define BACKLOG 1024
#define MAX_HDR (64 * 1024)
#define IO_CHUNK (64 * 1024)
#define DRAIN_MS 5000
#define MAX_LISTENERS 64

enum state {
	ST_DETECT,	/* classifying the first bytes */
	ST_HTTP_HDR,	/* reading HTTP headers */
	ST_HTTP_BODY,	/* reading the Content-Length body */
	ST_HTTP_RESP,	/* writing the response */
	ST_DRAIN,	/* response sent, SHUT_WR done, discarding until EOF */
	ST_ECHO,	/* echoing */
};

struct conn {
	int fd;
	enum state st;
	bool rd_eof;
	bool is_head;
	char local[ADDR_FMT_LEN];
	char peer[ADDR_FMT_LEN];
	unsigned long long in, out;
	unsigned long long body_left;
	/* ST_DETECT/ST_HTTP_HDR: request bytes so far.
	 * ST_ECHO/ST_HTTP_RESP: pending output, from offset off. */
	char *buf;
	size_t len, cap, off;
	size_t scanned;	/* bytes of buf already searched for \r\n\r\n */
	struct timespec deadline;	/* ST_DRAIN */
};

struct listener {
	int fd;
	char addr[ADDR_FMT_LEN];
};

static volatile sig_atomic_t g_stop;
static FILE *g_log;
static struct conn **g_conns;
static size_t g_nconns, g_capconns;
static char g_scratch[IO_CHUNK];

static const char *const http_methods[] = {
	"GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ",
	"CONNECT ", "TRACE ",
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [--ready FILE] [--log FILE] ADDR:PORT [ADDR:PORT...]\n"
		"  ADDR is numeric IPv4 (127.0.0.1) or bracketed IPv6 ([::1]).\n"
		"  Answers HTTP requests with \"origin ok local=... peer=... bytes=N\",\n"
		"  echoes anything else back until the client shuts down.\n"
		"  --ready FILE  create FILE once all listeners listen\n"
		"  --log FILE    append \"conn local=A:P peer=A:P in=N out=N\" per connection\n"
		"  -h, --help    show this help\n");
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

static void fd_addrs(int fd, char *local, char *peer)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	if (local) {
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			fmt_addr(&ss, local, ADDR_FMT_LEN);
		else
			snprintf(local, ADDR_FMT_LEN, "?");
	}
	memset(&ss, 0, sizeof(ss));
	len = sizeof(ss);
	if (peer) {
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
			fmt_addr(&ss, peer, ADDR_FMT_LEN);
		else
			snprintf(peer, ADDR_FMT_LEN, "?");
	}
}

static bool parse_port(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "1.2.3.4:80" or "[::1]:80" */
static bool parse_hostport(const char *arg, struct sockaddr_storage *ss,
			   socklen_t *sslen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *portstr;
	uint16_t port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');

		if (!rb || rb[1] != ':')
			return false;
		hl = (size_t)(rb - arg - 1);
		if (hl == 0 || hl >= sizeof(host))
			return false;
		memcpy(host, arg + 1, hl);
		host[hl] = '\0';
		portstr = rb + 2;
		if (!parse_port(portstr, &port))
			return false;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
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
	if (!parse_port(colon + 1, &port))
		return false;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
		return false;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	*sslen = sizeof(*s4);
	return true;
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

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool buf_reserve(struct conn *c, size_t need)
{
	size_t ncap;
	char *nb;

	if (need <= c->cap)
		return true;
	ncap = c->cap ? c->cap : 1024;
	while (ncap < need)
		ncap *= 2;
	nb = realloc(c->buf, ncap);
	if (!nb)
		return false;
	c->buf = nb;
	c->cap = ncap;
	return true;
}

static void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	if (g_log) {
		fprintf(g_log, "conn local=%s peer=%s in=%llu out=%llu\n",
			c->local, c->peer, c->in, c->out);
		fflush(g_log);
	}
	close(c->fd);
	c->fd = -1;
}

/* Output pending?  (In ST_DETECT/ST_HTTP_HDR buf holds request bytes.) */
static bool has_output(const struct conn *c)
{
	return (c->st == ST_ECHO || c->st == ST_HTTP_RESP) && c->off < c->len;
}

/* Write pending output (buf[off..len]).  Returns -1 on fatal error. */
static int conn_flush(struct conn *c)
{
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			warnx_("send %s (peer %s): %s", c->local, c->peer,
			       strerror(errno));
			return -1;
		}
		c->off += (size_t)n;
		c->out += (unsigned long long)n;
	}
	c->off = c->len = 0;
	return 0;
}

/* Queue data for output (echo or response) and try to send it. */
static int conn_queue(struct conn *c, const char *data, size_t n)
{
	if (c->off == c->len)
		c->off = c->len = 0;
	if (!buf_reserve(c, c->len + n)) {
		warnx_("malloc: %s", strerror(ENOMEM));
		return -1;
	}
	memmove(c->buf + c->len, data, n);
	c->len += n;
	return conn_flush(c);
}

static void start_drain(struct conn *c)
{
	c->st = ST_DRAIN;
	if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		warnx_("shutdown %s (peer %s): %s", c->local, c->peer,
		       strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &c->deadline);
	c->deadline.tv_sec += DRAIN_MS / 1000;
}

static int http_simple(struct conn *c, const char *status)
{
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %s\r\nConnection: close\r\n"
			 "Content-Length: 0\r\n\r\n", status);

	c->len = c->off = 0;
	c->st = ST_HTTP_RESP;
	return conn_queue(c, hdr, (size_t)n);
}

static int http_respond(struct conn *c)
{
	char body[256], resp[512];
	int bl, rl;

	bl = snprintf(body, sizeof(body),
		      "origin ok local=%s peer=%s bytes=%llu\n",
		      c->local, c->peer, c->in);
	rl = snprintf(resp, sizeof(resp),
		      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		      "Connection: close\r\nContent-Length: %d\r\n\r\n%s",
		      bl, c->is_head ? "" : body);
	c->len = c->off = 0;
	c->st = ST_HTTP_RESP;
	return conn_queue(c, resp, (size_t)rl);
}

/* Find a header value (case-insensitive name) in hdr[0..len). */
static const char *find_header(const char *hdr, size_t len, const char *name,
			       size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(hdr, '\n', len);	/* skip request line */

	while (p && (size_t)(p - hdr) + 1 < len) {
		const char *line = p + 1;
		const char *end = hdr + len;
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			const char *v = line + nl + 1;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;

			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' ||
					  ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		p = eol < end ? eol : NULL;
	}
	return NULL;
}

/* Headers complete at buf[0..hend) (hend includes \r\n\r\n). */
static int http_headers_done(struct conn *c, size_t hend)
{
	const char *v;
	size_t vl;
	unsigned long long cl = 0, extra;

	v = find_header(c->buf, hend, "Transfer-Encoding", &vl);
	if (v && !(vl == 8 && strncasecmp(v, "identity", 8) == 0))
		return http_simple(c, "400 Bad Request");
	v = find_header(c->buf, hend, "Content-Length", &vl);
	if (v) {
		char tmp[32];
		char *end;

		if (vl == 0 || vl >= sizeof(tmp))
			return http_simple(c, "400 Bad Request");
		memcpy(tmp, v, vl);
		tmp[vl] = '\0';
		if (tmp[0] < '0' || tmp[0] > '9')
			return http_simple(c, "400 Bad Request");
		errno = 0;
		cl = strtoull(tmp, &end, 10);
		if (errno || *end)
			return http_simple(c, "400 Bad Request");
	}
	extra = c->len - hend;
	c->body_left = extra >= cl ? 0 : cl - extra;
	c->len = c->off = 0;
	if (c->body_left == 0)
		return http_respond(c);
	c->st = ST_HTTP_BODY;
	return 0;
}

static int http_scan(struct conn *c)
{
	size_t start = c->scanned >= 3 ? c->scanned - 3 : 0;

	for (size_t i = start; i + 4 <= c->len; i++) {
		if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
			if (i + 4 > MAX_HDR)
				break;
			return http_headers_done(c, i + 4);
		}
	}
	c->scanned = c->len;
	if (c->len > MAX_HDR)
		return http_simple(c, "431 Request Header Fields Too Large");
	return 0;
}

/* Classify buffered first bytes: 1 = HTTP, 0 = echo, -1 = undecided. */
static int classify(const struct conn *c)
{
	bool prefix = false;

	for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
		size_t ml = strlen(http_methods[i]);
		size_t n = c->len < ml ? c->len : ml;

		if (memcmp(c->buf, http_methods[i], n) == 0) {
			if (c->len >= ml)
				return 1;
			prefix = true;
		}
	}
	return prefix ? -1 : 0;
}

static int become_echo(struct conn *c)
{
	c->st = ST_ECHO;
	c->off = 0;	/* buffered bytes become pending output */
	return conn_flush(c);
}

/* Handle readable socket.  Returns -1 to close. */
static int conn_read(struct conn *c)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		char *dst;
		size_t room;
		ssize_t n;

		if (c->st == ST_HTTP_RESP || has_output(c))
			return 0;	/* wait for output to drain */
		if (c->st == ST_DETECT || c->st == ST_HTTP_HDR) {
			if (!buf_reserve(c, c->len + 4096)) {
				warnx_("malloc: %s", strerror(ENOMEM));
				return -1;
			}
			dst = c->buf + c->len;
			room = c->cap - c->len;
		} else {
			dst = g_scratch;
			room = sizeof(g_scratch);
		}
		n = recv(c->fd, dst, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			warnx_("recv %s (peer %s): %s", c->local, c->peer,
			       strerror(errno));
			return -1;
		}
		if (n == 0) {
			c->rd_eof = true;
			switch (c->st) {
			case ST_DETECT:
				if (become_echo(c) < 0)
					return -1;
				break;
			case ST_HTTP_HDR:
			case ST_HTTP_BODY:
				if (http_simple(c, "400 Bad Request") < 0)
					return -1;
				break;
			default:
				break;
			}
			return 0;
		}
		c->in += (unsigned long long)n;
		switch (c->st) {
		case ST_DETECT: {
			int k;

			c->len += (size_t)n;
			k = classify(c);
			if (k == 0) {
				if (become_echo(c) < 0)
					return -1;
			} else if (k == 1) {
				c->is_head = memcmp(c->buf, "HEAD ", 5) == 0;
				c->st = ST_HTTP_HDR;
				if (http_scan(c) < 0)
					return -1;
			}
			break;
		}
		case ST_HTTP_HDR:
			c->len += (size_t)n;
			if (http_scan(c) < 0)
				return -1;
			break;
		case ST_HTTP_BODY:
			if ((unsigned long long)n >= c->body_left) {
				c->body_left = 0;
				if (http_respond(c) < 0)
					return -1;
			} else {
				c->body_left -= (unsigned long long)n;
			}
			break;
		case ST_ECHO:
			if (conn_queue(c, g_scratch, (size_t)n) < 0)
				return -1;
			break;
		case ST_DRAIN:
		case ST_HTTP_RESP:
			break;
		}
	}
	return 0;
}

/* Post-I/O state transitions.  Returns -1 when the connection is done. */
static int conn_advance(struct conn *c)
{
	if (c->st == ST_HTTP_RESP && c->off == c->len)
		start_drain(c);
	if (c->st == ST_ECHO && c->rd_eof && c->off == c->len)
		return -1;
	if (c->st == ST_DRAIN && c->rd_eof)
		return -1;
	return 0;
}

static short conn_events(const struct conn *c)
{
	short ev = 0;

	if (has_output(c))
		ev |= POLLOUT;
	else if (!c->rd_eof && c->st != ST_HTTP_RESP)
		ev |= POLLIN;
	return ev;
}

static bool add_conn(struct conn *c)
{
	if (g_nconns == g_capconns) {
		size_t ncap = g_capconns ? g_capconns * 2 : 256;
		struct conn **n = realloc(g_conns, ncap * sizeof(*n));

		if (!n)
			return false;
		g_conns = n;
		g_capconns = ncap;
	}
	g_conns[g_nconns++] = c;
	return true;
}

static void free_conn(struct conn *c)
{
	conn_close(c);
	free(c->buf);
	free(c);
}

/* Accept everything pending.  Returns false on resource exhaustion. */
static bool do_accept(struct listener *l)
{
	for (;;) {
		struct conn *c;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			warn_ratelimited("accept", l->addr, errno);
			return false;
		}
		c = calloc(1, sizeof(*c));
		if (!c || !add_conn(c)) {
			warnx_("accept %s: out of memory", l->addr);
			free(c);
			close(fd);
			return false;
		}
		c->fd = fd;
		c->st = ST_DETECT;
		fd_addrs(fd, c->local, c->peer);
	}
}

static int write_ready(const char *path, struct listener *ls, size_t nls)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + 5);
	FILE *f;
	int rc = -1;

	if (!tmp) {
		warnx_("malloc: %s", strerror(ENOMEM));
		return -1;
	}
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", 5);
	f = fopen(tmp, "we");
	if (!f) {
		warnx_("fopen %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	for (size_t i = 0; i < nls; i++)
		fprintf(f, "listening %s\n", ls[i].addr);
	if (ferror(f)) {
		warnx_("write %s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
	} else if (fclose(f) != 0) {
		warnx_("close %s: %s", tmp, strerror(errno));
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		warnx_("rename %s -> %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
	} else {
		rc = 0;
	}
	free(tmp);
	return rc;
}

static int open_listener(const char *arg, struct listener *l)
{
	struct sockaddr_storage ss, bound;
	socklen_t sl, bl = sizeof(bound);
	int one = 1, qlen = 256;

	if (!parse_hostport(arg, &ss, &sl)) {
		warnx_("invalid address '%s' (want IPV4:PORT or [IPV6]:PORT)", arg);
		return -2;
	}
	fmt_addr(&ss, l->addr, sizeof(l->addr));
	l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0) {
		warnx_("socket %s: %s", l->addr, strerror(errno));
		return -1;
	}
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		warnx_("setsockopt(SO_REUSEADDR) %s: %s", l->addr, strerror(errno));
		goto fail;
	}
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		warnx_("setsockopt(IPV6_V6ONLY) %s: %s", l->addr, strerror(errno));
		goto fail;
	}
	(void)setsockopt(l->fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen));
	if (bind(l->fd, (struct sockaddr *)&ss, sl) < 0) {
		warnx_("bind %s: %s", l->addr, strerror(errno));
		goto fail;
	}
	if (listen(l->fd, BACKLOG) < 0) {
		warnx_("listen %s: %s", l->addr, strerror(errno));
		goto fail;
	}
	memset(&bound, 0, sizeof(bound));
	if (getsockname(l->fd, (struct sockaddr *)&bound, &bl) == 0)
		fmt_addr(&bound, l->addr, sizeof(l->addr));
	return 0;
fail:
	close(l->fd);
	l->fd = -1;
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ready", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ready = NULL, *logpath = NULL;
	struct listener ls[MAX_LISTENERS];
	size_t nls = 0;
	struct pollfd *pfds = NULL;
	size_t pfdcap = 0;
	sigset_t block, waitmask;
	struct sigaction sa;
	int64_t accept_pause_until = 0;
	int rc = 0, opt;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			ready = optarg;
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		warnx_("missing ADDR:PORT");
		usage(stderr);
		return 2;
	}
	if (argc - optind > MAX_LISTENERS) {
		warnx_("too many listeners (max %d)", MAX_LISTENERS);
		return 2;
	}

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

	if (ready && unlink(ready) < 0 && errno != ENOENT) {
		warnx_("unlink %s: %s", ready, strerror(errno));
		return 1;
	}
	if (logpath) {
		g_log = fopen(logpath, "ae");
		if (!g_log) {
			warnx_("fopen %s: %s", logpath, strerror(errno));
			return 1;
		}
	}
	for (int i = optind; i < argc; i++) {
		int r = open_listener(argv[i], &ls[nls]);

		if (r < 0) {
			rc = r == -2 ? 2 : 1;
			if (r == -2)
				usage(stderr);
			goto out;
		}
		nls++;
	}
	for (size_t i = 0; i < nls; i++)
		printf("listening %s\n", ls[i].addr);
	fflush(stdout);
	if (ready && write_ready(ready, ls, nls) < 0) {
		rc = 1;
		goto out;
	}

	while (!g_stop) {
		size_t n = nls + g_nconns, nc = g_nconns;
		int64_t now = now_ms();
		bool accepting = now >= accept_pause_until;
		bool draining = false;
		struct timespec tmo = { 0, 0 }, *tp = NULL;
		int pr;

		if (n > pfdcap) {
			size_t ncap = pfdcap ? pfdcap : 256;
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
		for (size_t i = 0; i < nls; i++) {
			pfds[i].fd = accepting ? ls[i].fd : -1;
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
		}
		for (size_t i = 0; i < nc; i++) {
			pfds[nls + i].fd = g_conns[i]->fd;
			pfds[nls + i].events = conn_events(g_conns[i]);
			pfds[nls + i].revents = 0;
			if (g_conns[i]->st == ST_DRAIN)
				draining = true;
		}
		if (!accepting) {
			int64_t d = accept_pause_until - now;

			tmo.tv_sec = d / 1000;
			tmo.tv_nsec = (d % 1000) * 1000000;
			tp = &tmo;
		}
		if (draining && (!tp || tmo.tv_sec >= 1)) {
			tmo.tv_sec = 0;
			tmo.tv_nsec = 500 * 1000000L;
			tp = &tmo;
		}
		pr = ppoll(pfds, n, tp, &waitmask);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			warnx_("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		for (size_t i = 0; i < nc; i++) {
			struct conn *c = g_conns[i];
			short re = pfds[nls + i].revents;
			bool done = false;

			if (re & POLLNVAL) {
				done = true;
			} else if (re) {
				if (has_output(c) &&
				    (re & (POLLOUT | POLLERR | POLLHUP))) {
					if (conn_flush(c) < 0)
						done = true;
				}
				if (!done && (re & (POLLIN | POLLERR | POLLHUP)) &&
				    !has_output(c)) {
					if (conn_read(c) < 0)
						done = true;
				}
			}
			if (!done && conn_advance(c) < 0)
				done = true;
			if (!done && c->st == ST_DRAIN) {
				struct timespec ts;

				clock_gettime(CLOCK_MONOTONIC, &ts);
				if (ts.tv_sec > c->deadline.tv_sec ||
				    (ts.tv_sec == c->deadline.tv_sec &&
				     ts.tv_nsec >= c->deadline.tv_nsec))
					done = true;
			}
			if (done)
				conn_close(c);
		}
		/* compact: drop closed connections */
		{
			size_t w = 0;

			for (size_t i = 0; i < g_nconns; i++) {
				if (g_conns[i]->fd < 0)
					free_conn(g_conns[i]);
				else
					g_conns[w++] = g_conns[i];
			}
			g_nconns = w;
		}
		for (size_t i = 0; i < nls; i++) {
			if (pfds[i].revents & POLLIN) {
				if (!do_accept(&ls[i])) {
					accept_pause_until = now_ms() + 100;
					break;
				}
			}
		}
	}

out:
	for (size_t i = 0; i < g_nconns; i++)
		free_conn(g_conns[i]);
	free(g_conns);
	free(pfds);
	for (size_t i = 0; i < nls; i++)
		close(ls[i].fd);
	if (g_log)
		fclose(g_log);
	return rc;
}
