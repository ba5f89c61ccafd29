// SPDX-License-Identifier: MIT
/*
 * dispatch.c - listening and accepting.
 *
 * Listeners are level-triggered: a burst larger than one batch is picked
 * up at the next wake-up. A wake-up accepts at most "batch" connections,
 * which starts at 1 and doubles (up to ACCEPT_BATCH) while every accept of
 * a wake-up succeeds, and falls back to 1 at the first EAGAIN: one
 * connection at a time costs one accept4() (no extra one to see EAGAIN),
 * and a burst is taken in batches. TCP_NODELAY is set once on the
 * listener; accepted sockets inherit it. While the proxy holds back (at --max-flows, or
 * for a moment after EMFILE/ENFILE) the listeners wait for no event, and
 * connections queue in the kernel's backlog.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>

#include "dispatch.h"
#include "events.h"
#include "flow.h"
#include "log.h"

#define ACCEPT_BATCH 64
#define BACKLOG 4096
#define EMFILE_PAUSE_NS 100000000ull     /* 100 ms */
#define WARN_EVERY_NS 10000000000ull     /* 10 s */

struct listener {
	struct events_handler h;
	int fd;
	const char *text;
	struct crd_ipaddr addr;         /* bound to (for the loop check) */
	uint16_t port;
	unsigned batch;                 /* accepts at the next wake-up */
};

static struct listener ls[DISPATCH_MAX_LISTEN];
static unsigned n_ls;
static unsigned max_flows;
static bool paused, started;
static uint64_t retry_at, warned_at;

int dispatch_listen(const char *text, const struct crd_ipaddr *addr, uint16_t port,
		    const char **what)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int fd, one = 1, err;

	if (n_ls == DISPATCH_MAX_LISTEN) {
		*what = "listen";
		return -E2BIG;
	}
	if (addr->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, addr->addr + 12, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, addr->addr, 16);
		sl = sizeof(*s6);
	}
	*what = "socket";
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))))
		goto cleanup;
	*what = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sl))
		goto cleanup;
	*what = "listen";
	if (listen(fd, BACKLOG))
		goto cleanup;
	ls[n_ls].fd = fd;
	ls[n_ls].text = text;
	ls[n_ls].addr = *addr;
	ls[n_ls].port = port;
	ls[n_ls].batch = 1;
	n_ls++;
	return 0;
cleanup:
	err = -errno;
	close(fd);
	return err;
}

int dispatch_claim(const char *service, const char **which)
{
	unsigned i;
	int err;

	for (i = 0; i < n_ls; i++) {
		err = connredir_claim_listener(ls[i].fd, service);
		if (err) {
			*which = ls[i].text;
			return err;
		}
	}
	return 0;
}

unsigned dispatch_count(void)
{
	return n_ls;
}

const char *dispatch_text(unsigned i)
{
	return i < n_ls ? ls[i].text : NULL;
}

static void set_paused(bool on)
{
	unsigned i;

	if (on == paused)
		return;
	paused = on;
	for (i = 0; i < n_ls; i++)
		if (ls[i].fd >= 0)
			events_mod(ls[i].fd, on ? 0 : EPOLLIN, &ls[i].h);
}

static void on_listener(struct events_handler *h, uint32_t ev)
{
	struct listener *l = (struct listener *)((char *)h - offsetof(struct listener, h));
	unsigned i;

	for (i = 0; i < l->batch && l->fd >= 0; i++) {
		struct sockaddr_storage peer;
		socklen_t pl = sizeof(peer);
		int fd;

		if (flow_count() >= max_flows) {
			set_paused(true);
			return;
		}
		fd = accept4(l->fd, (struct sockaddr *)&peer, &pl,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN) {
				l->batch = 1;
				return;
			}
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if (events_now() - warned_at >= WARN_EVERY_NS || !warned_at) {
				warned_at = events_now();
				log_warn("listener %s: accept: %s%s", l->text, strerror(errno),
					 errno == EMFILE || errno == ENFILE ?
					 " (raise the file descriptor limit or lower --max-flows)" : "");
			}
			retry_at = events_now() + EMFILE_PAUSE_NS;
			set_paused(true);
			return;
		}
		flow_start(fd, &peer, &l->addr, l->port);
	}
	if (l->batch < ACCEPT_BATCH)
		l->batch *= 2;          /* all accepted: there may be more */
}

int dispatch_start(unsigned max)
{
	unsigned i;
	int err;

	max_flows = max;
	for (i = 0; i < n_ls; i++) {
		ls[i].h.fn = on_listener;
		err = events_add(ls[i].fd, EPOLLIN, &ls[i].h);
		if (err)
			return err;
	}
	started = true;
	return 0;
}

void dispatch_update(void)
{
	if (!paused || !started)
		return;
	if (retry_at) {
		if (events_now() < retry_at)
			return;
		retry_at = 0;
	}
	if (flow_count() < max_flows)
		set_paused(false);
}

int dispatch_timeout_ms(void)
{
	uint64_t now = events_now();

	if (!paused || !retry_at)
		return -1;
	return retry_at <= now ? 0 : (int)((retry_at - now + 999999) / 1000000);
}

void dispatch_stop(void)
{
	unsigned i;

	for (i = 0; i < n_ls; i++) {
		if (ls[i].fd >= 0)
			close(ls[i].fd);
		ls[i].fd = -1;
	}
	started = false;
}
