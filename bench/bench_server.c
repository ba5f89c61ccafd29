// SPDX-License-Identifier: MIT
/*
 * bench_server - the origin of every benchmark: answers struct bench_req
 * requests (bench.h) on any number of listeners, with one epoll loop per
 * thread, each thread with its own SO_REUSEPORT listener per address.
 *
 * Runs until SIGTERM or SIGINT, then prints one JSON object with what it
 * served.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"

#define PROG "bench_server"
#define MAX_LISTEN 16
#define MAX_THREADS 16
#define IO_BUF (256 * 1024)

static const char usage_text[] =
"Usage: bench_server [--threads N] [--ready FILE] ADDR:PORT...\n"
"       bench_server -h|--help\n"
"\n"
"The origin server of the benchmarks. On each ADDR:PORT (IPv6 as\n"
"[ADDR]:PORT) it answers requests of the bench protocol (bench/bench.h):\n"
"a 16-byte header (magic, request length, reply length, flags), then the\n"
"request's payload; it answers the reply length in zero bytes and reads\n"
"the next request, closes after the reply (flag close), or reads to EOF\n"
"and answers the byte count (flag sink, for throughput).\n"
"\n"
"  --threads N   epoll loops, each with its own SO_REUSEPORT listeners\n"
"                (default 1, at most 16)\n"
"  --ready FILE  create FILE once every listener listens\n"
"  -h, --help    show this help\n"
"\n"
"SIGTERM or SIGINT: stop, print one JSON object (connections, requests,\n"
"bytes in and out) on stdout, exit 0.\n";

enum conn_state { RD_HDR, RD_BODY, WR_REPLY, SINK, WR_COUNT };

struct conn {
	int fd;
	enum conn_state state;
	uint32_t events;          /* the epoll mask in force */
	uint32_t got;             /* header bytes read */
	struct bench_req req;
	uint64_t left;            /* body bytes to read, reply bytes to write */
	uint64_t sunk;            /* sink: bytes after the header */
	uint8_t count[8];         /* sink: the answer */
	uint32_t count_off;
};

struct worker {
	pthread_t th;
	int ep;
	int lfd[MAX_LISTEN];
	unsigned n_lfd;
	uint64_t conns, reqs, bytes_in, bytes_out;
	char *buf;
};

static volatile sig_atomic_t stop;
static struct sockaddr_storage addrs[MAX_LISTEN];
static socklen_t addr_lens[MAX_LISTEN];
static const char *addr_text[MAX_LISTEN];
static unsigned n_addrs;
static const uint8_t zeros[64 * 1024];

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_one(unsigned i)
{
	int fd, one = 1;

	fd = socket(addrs[i].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    (addrs[i].ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (struct sockaddr *)&addrs[i], addr_lens[i]) ||
	    listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void conn_close(struct worker *w, struct conn *c)
{
	epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Wait for @ev (EPOLLIN or EPOLLOUT) on @c. */
static void conn_want(struct worker *w, struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->events == ev)
		return;
	c->events = ev;
	epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Move @c along until it would block; false once it is closed. */
static bool conn_run(struct worker *w, struct conn *c)
{
	ssize_t n;
	size_t want;

	for (;;) {
		switch (c->state) {
		case RD_HDR:
			n = recv(c->fd, (char *)&c->req + c->got, sizeof(c->req) - c->got,
				 MSG_DONTWAIT);
			if (n <= 0)
				goto rd_end;
			w->bytes_in += (uint64_t)n;
			c->got += (uint32_t)n;
			if (c->got < sizeof(c->req))
				break;
			if (c->req.magic != BENCH_MAGIC || c->req.req_len < sizeof(c->req) ||
			    c->req.req_len > BENCH_MAX_MSG || c->req.reply_len > BENCH_MAX_MSG)
				goto close;
			w->reqs++;
			if (c->req.flags & BENCH_F_SINK) {
				c->state = SINK;
			} else {
				c->left = c->req.req_len - sizeof(c->req);
				c->state = RD_BODY;
			}
			break;
		case RD_BODY:
			if (!c->left) {
				c->left = c->req.reply_len;
				c->state = WR_REPLY;
				break;
			}
			want = c->left < IO_BUF ? (size_t)c->left : IO_BUF;
			n = recv(c->fd, w->buf, want, MSG_DONTWAIT);
			if (n <= 0)
				goto rd_end;
			w->bytes_in += (uint64_t)n;
			c->left -= (uint64_t)n;
			break;
		case WR_REPLY:
			if (!c->left) {
				if (c->req.flags & BENCH_F_CLOSE)
					goto close;
				c->got = 0;
				c->state = RD_HDR;
				conn_want(w, c, EPOLLIN);
				break;
			}
			want = c->left < sizeof(zeros) ? (size_t)c->left : sizeof(zeros);
			n = send(c->fd, zeros, want, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				conn_want(w, c, EPOLLOUT);
				return true;
			}
			if (n <= 0)
				goto close;
			w->bytes_out += (uint64_t)n;
			c->left -= (uint64_t)n;
			break;
		case SINK:
			n = recv(c->fd, w->buf, IO_BUF, MSG_DONTWAIT);
			if (n < 0)
				goto rd_end;
			if (n == 0) {
				uint64_t v = c->sunk;
				int i;

				for (i = 0; i < 8; i++)
					c->count[i] = (uint8_t)(v >> (8 * i));
				c->count_off = 0;
				c->state = WR_COUNT;
				break;
			}
			w->bytes_in += (uint64_t)n;
			c->sunk += (uint64_t)n;
			break;
		case WR_COUNT:
			n = send(c->fd, c->count + c->count_off, 8 - c->count_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				conn_want(w, c, EPOLLOUT);
				return true;
			}
			if (n <= 0)
				goto close;
			w->bytes_out += (uint64_t)n;
			c->count_off += (uint32_t)n;
			if (c->count_off == 8)
				goto close;
			break;
		}
		continue;
rd_end:
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			conn_want(w, c, EPOLLIN);
			return true;
		}
		goto close;
	}
close:
	conn_close(w, c);
	return false;
}

static void accept_all(struct worker *w, int lfd)
{
	struct epoll_event e;
	struct conn *c;
	int fd, one = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;   /* EAGAIN, or EMFILE and the like: try later */
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->state = RD_HDR;
		c->events = EPOLLIN;
		e.events = EPOLLIN;
		e.data.ptr = c;
		if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e)) {
			close(fd);
			free(c);
			continue;
		}
		w->conns++;
		conn_run(w, c);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[256];
	int n, i;

	while (!stop) {
		n = epoll_wait(w->ep, ev, 256, 200);
		for (i = 0; i < n; i++) {
			uintptr_t p = (uintptr_t)ev[i].data.ptr;

			if (p < MAX_LISTEN)
				accept_all(w, w->lfd[p]);
			else
				conn_run(w, (struct conn *)ev[i].data.ptr);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "ready", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct worker ws[MAX_THREADS];
	const char *ready = NULL;
	uint64_t nthreads = 1, conns = 0, reqs = 0, in = 0, out = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	struct bench_json j;
	unsigned t, i;
	int c, fd;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (bench_parse_count(optarg, 1, MAX_THREADS, &nthreads)) {
				bench_err(PROG, "--threads '%s': not a number from 1 to %d",
					  optarg, MAX_THREADS);
				return 2;
			}
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (optind == argc || argc - optind > MAX_LISTEN) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (; optind < argc; optind++, n_addrs++) {
		addr_text[n_addrs] = argv[optind];
		if (bench_parse_endpoint(PROG, "listen address", argv[optind],
					 &addrs[n_addrs], &addr_lens[n_addrs]))
			return 2;
	}
	bench_raise_nofile();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	for (t = 0; t < nthreads; t++) {
		struct worker *w = &ws[t];

		w->buf = malloc(IO_BUF);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (!w->buf || w->ep < 0) {
			bench_err(PROG, "thread %u: %s", t, strerror(errno));
			return 1;
		}
		for (i = 0; i < n_addrs; i++) {
			struct epoll_event e = { .events = EPOLLIN, .data.ptr = (void *)(uintptr_t)i };

			fd = listen_one(i);
			if (fd < 0) {
				bench_err(PROG, "listen address '%s': %s", addr_text[i],
					  strerror(-fd));
				return 1;
			}
			w->lfd[i] = fd;
			epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &e);
		}
		w->n_lfd = n_addrs;
	}
	for (t = 0; t < nthreads; t++) {
		if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t])) {
			bench_err(PROG, "pthread_create: failed");
			return 1;
		}
	}
	if (ready && bench_touch(ready)) {
		bench_err(PROG, "--ready '%s': %s", ready, strerror(errno));
		stop = 1;
	}
	for (t = 0; t < nthreads; t++) {
		pthread_join(ws[t].th, NULL);
		conns += ws[t].conns;
		reqs += ws[t].reqs;
		in += ws[t].bytes_in;
		out += ws[t].bytes_out;
	}
	bench_json_begin(&j);
	bench_json_str(&j, "bench", "bench_server");
	bench_json_u64(&j, "threads", nthreads);
	bench_json_u64(&j, "connections", conns);
	bench_json_u64(&j, "requests", reqs);
	bench_json_u64(&j, "bytes_in", in);
	bench_json_u64(&j, "bytes_out", out);
	bench_json_close(&j);
	return 0;
}
