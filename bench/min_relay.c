// SPDX-License-Identifier: MIT
/*
 * min_relay.c - the baseline connredir-proxy is weighed against: the
 * simplest transparent relay behind nftables REDIRECT. One thread, epoll
 * (edge-triggered), accept, SO_ORIGINAL_DST, a non-blocking connect there,
 * then read/write through a 16 KiB buffer a direction, SHUT_WR passed on.
 * No inspection, no records, no log, no time-outs.
 *
 *   min_relay [--ready FILE] ADDR:PORT
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80      /* <linux/netfilter_ipv4.h> clashes with <netinet/in.h> */
#endif

#define BUF 16384

struct dir {
	int src, dst;
	size_t off, len;
	bool eof;
	char buf[BUF];
};

struct conn {
	struct dir d[2];        /* client->server, server->client */
	struct conn *dead_next; /* closed: freed after the event batch */
	bool dead;
};

static struct conn *dead;

/* Move what can move on @d. false on an error. */
static bool pump(struct dir *d)
{
	ssize_t n;

	for (;;) {
		if (d->off < d->len) {
			n = send(d->dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
			if (n < 0)
				return errno == EAGAIN;
			d->off += (size_t)n;
			continue;
		}
		if (d->eof)
			return true;
		n = read(d->src, d->buf, BUF);
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0) {
			d->eof = true;
			shutdown(d->dst, SHUT_WR);
			return true;
		}
		d->off = 0;
		d->len = (size_t)n;
	}
}

static void conn_close(struct conn *c)
{
	close(c->d[0].src);
	close(c->d[0].dst);
	c->dead = true;
	c->dead_next = dead;
	dead = c;
}

static void on_event(struct conn *c, uint32_t ev)
{
	if (c->dead)
		return;
	if ((ev & EPOLLERR) || !pump(&c->d[0]) || !pump(&c->d[1]) ||
	    (c->d[0].eof && c->d[1].eof && c->d[0].off == c->d[0].len &&
	     c->d[1].off == c->d[1].len))
		conn_close(c);
}

static void on_accept(int ep, int lfd)
{
	struct sockaddr_storage dst;
	socklen_t dl = sizeof(dst);
	struct epoll_event e = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET };
	struct conn *c;
	int cfd, sfd;

	while ((cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(cfd, SOL_IP, SO_ORIGINAL_DST, &dst, &dl) ||
		    (sfd = socket(dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
			close(cfd);
			continue;
		}
		if ((connect(sfd, (struct sockaddr *)&dst, dl) && errno != EINPROGRESS) ||
		    !(c = malloc(sizeof(*c)))) {
			close(cfd);
			close(sfd);
			continue;
		}
		c->d[0] = (struct dir){ .src = cfd, .dst = sfd };
		c->d[1] = (struct dir){ .src = sfd, .dst = cfd };
		c->dead = false;
		e.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e);
		epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: min_relay [--ready FILE] ADDR:PORT\n"
		"A minimal transparent relay (SO_ORIGINAL_DST) for nftables REDIRECT: the\n"
		"baseline of make bench. --ready FILE: create FILE once listening.\n");
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct epoll_event ev[64], e = { .events = EPOLLIN };
	const char *ready = NULL;
	int lfd, ep, one = 1, i, n;

	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--ready")) {
		ready = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (bench_parse_endpoint("min_relay", "address", argv[1], &ss, &sl))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&ss, sl) || listen(lfd, 4096)) {
		fprintf(stderr, "min_relay: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	e.data.ptr = NULL;      /* NULL: the listener */
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e)) {
		fprintf(stderr, "min_relay: epoll: %s\n", strerror(errno));
		return 1;
	}
	if (ready && bench_touch(ready)) {
		fprintf(stderr, "min_relay: --ready '%s': %s\n", ready, strerror(errno));
		return 1;
	}
	for (;;) {
		n = epoll_wait(ep, ev, 64, -1);
		for (i = 0; i < n; i++) {
			if (!ev[i].data.ptr)
				on_accept(ep, lfd);
			else
				on_event(ev[i].data.ptr, ev[i].events);
		}
		while (dead) {
			struct conn *c = dead;

			dead = c->dead_next;
			free(c);
		}
	}
}
