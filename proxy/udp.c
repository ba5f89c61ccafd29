// SPDX-License-Identifier: MIT
/*
 * udp.c - UDP listeners and flows (see udp.h).
 *
 * Flows are found by their handle in a hash table, and kept in one list in
 * the order of their last datagram, so the idle time-out looks only at the
 * list's head. A flow is freed only by udp_expire() and udp_stop(), which
 * run outside the event batch: no handler can see a freed flow.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <connredir/connredir.h>

#include "dns.h"
#include "events.h"
#include "inspect.h"
#include "log.h"
#include "udp.h"

#define HASH_SIZE 4096u
#define RECV_BATCH 64
#define DGRAM_MAX 65536
#define WARN_EVERY_NS 10000000000ull     /* 10 s */

struct ulistener {
	struct events_handler h;
	int fd;
	const char *text;
};

struct uflow {
	struct events_handler h;
	int fd;                          /* per-flow socket */
	struct ulistener *l;             /* where the application's datagrams come */
	uint32_t handle;
	bool connected;                  /* answer from the listener */
	bool inspected_down;             /* the first answer was shown */
	struct sockaddr_storage app, dst;
	socklen_t app_len, dst_len;
	uint64_t last_ns;
	struct inspect_flow view;
	struct uflow *hnext;             /* hash chain */
	struct uflow *prev, *next;       /* by last datagram, oldest first */
};

static struct ulistener uls[UDP_MAX_LISTEN];
static unsigned n_uls;
static const struct proxy_conf *conf;
static struct uflow *table[HASH_SIZE];
static struct uflow *head, *tail;
static unsigned n_uflows;
static uint64_t warned_full, warned_unmarked;
static uint8_t buf[DGRAM_MAX];

int udp_listen(const char *text, const struct crd_ipaddr *addr, uint16_t port,
	       const char **what)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, err;

	if (n_uls == UDP_MAX_LISTEN) {
		*what = "listen";
		return -E2BIG;
	}
	sl = crd_ipaddr_to_sockaddr(addr, port, addr->family == AF_INET, &ss);
	*what = "socket";
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "setsockopt";
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto cleanup;
	*what = "bind";
	if (bind(fd, (struct sockaddr *)&ss, sl))
		goto cleanup;
	*what = "connredir_udp_listen";
	err = connredir_udp_listen(fd);
	if (err) {
		close(fd);
		return err;
	}
	uls[n_uls].fd = fd;
	uls[n_uls].text = text;
	n_uls++;
	return 0;
cleanup:
	err = -errno;
	close(fd);
	return err;
}

static struct uflow **slot(uint32_t handle)
{
	return &table[(handle * 2654435761u) >> 20 & (HASH_SIZE - 1)];
}

static struct uflow *find(uint32_t handle)
{
	struct uflow *f;

	for (f = *slot(handle); f; f = f->hnext)
		if (f->handle == handle)
			return f;
	return NULL;
}

static void unlink_list(struct uflow *f)
{
	*(f->prev ? &f->prev->next : &head) = f->next;
	*(f->next ? &f->next->prev : &tail) = f->prev;
	f->prev = f->next = NULL;
}

/* The flow had a datagram: to the list's tail. */
static void touch(struct uflow *f)
{
	f->last_ns = events_now();
	if (tail == f)
		return;
	unlink_list(f);
	f->prev = tail;
	*(tail ? &tail->next : &head) = f;
	tail = f;
}

static void uflow_end(struct uflow *f, const char *how)
{
	struct uflow **pp;

	f->view.end = how;
	f->view.end_ns = events_now();
	clock_gettime(CLOCK_REALTIME, &f->view.end_rt);
	inspect_flow_end(&f->view);
	if (f->fd >= 0)
		close(f->fd);
	for (pp = slot(f->handle); *pp; pp = &(*pp)->hnext)
		if (*pp == f) {
			*pp = f->hnext;
			break;
		}
	unlink_list(f);
	n_uflows--;
	free(f);
}

/* Send @len bytes to the application, as the original destination. */
static void answer(struct uflow *f, const void *data, size_t len)
{
	int fd = f->connected ? f->l->fd : f->fd;

	if (fd >= 0 && sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&f->app,
			      f->app_len) == (ssize_t)len)
		f->view.bytes[INSPECT_DOWN] += len;
}

static void on_flow(struct events_handler *h, uint32_t ev)
{
	struct uflow *f = (struct uflow *)h;
	int i;

	for (i = 0; i < RECV_BATCH; i++) {
		ssize_t r = recv(f->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    !f->view.error)
				f->view.error = errno;   /* e.g. ECONNREFUSED: kept for the log */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		touch(f);
		if (f->view.verdict == INSPECT_BLOCK)
			continue;               /* nothing was sent: nothing to answer */
		if (!f->inspected_down) {
			f->inspected_down = true;
			if (inspect_flow_data(&f->view, INSPECT_DOWN, buf, (size_t)r, true) ==
			    INSPECT_BLOCK)
				continue;
		}
		answer(f, buf, (size_t)r);
	}
}

/* A datagram up, for a flow that exists. */
static void up(struct uflow *f, size_t len, bool first)
{
	touch(f);
	if (first)
		inspect_flow_data(&f->view, INSPECT_UP, buf, len, false);
	if (f->view.verdict == INSPECT_BLOCK) {
		struct dns_msg q;
		uint8_t out[DNS_HEADER_LEN + DNS_NAME_WIRE_MAX + 4];
		size_t n;

		/* A blocked DNS query gets REFUSED from the proxy, never goes on. */
		if (!dns_parse(buf, len, &q, NULL) && dns_is_query(&q) &&
		    (n = dns_refused(&q, out, sizeof(out))))
			answer(f, out, n);
		return;
	}
	if (sendto(f->fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&f->dst, f->dst_len) ==
	    (ssize_t)len)
		f->view.bytes[INSPECT_UP] += len;
}

/* A datagram of a handle not seen yet: make its flow, or NULL (dropped). */
static struct uflow *new_flow(struct ulistener *l, uint32_t handle,
			      const struct sockaddr_storage *from, socklen_t fl)
{
	char blob[CONNREDIR_RECORDS_MAX];
	size_t blob_len = 0;
	struct uflow *f;
	int err;

	if (n_uflows >= conf->max_flows) {
		if (events_now() - warned_full >= WARN_EVERY_NS || !warned_full) {
			warned_full = events_now();
			log_warn("UDP: %u flows open (--max-flows): dropping datagrams of "
				 "new flows", n_uflows);
		}
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->fd = -1;
	f->l = l;
	f->handle = handle;
	f->h.fn = on_flow;
	err = connredir_udp_query_context(l->fd, handle, &f->view.ctx);
	if (err) {                     /* the flow is gone already */
		free(f);
		return NULL;
	}
	f->view.have_context = true;
	/* Without its records the flow cannot be handed on: sent as ours, it
	 * would skip every later service that filters on the application.
	 * (Gone between the two questions: its application closed.) */
	if (connredir_udp_query_records(l->fd, handle, blob, sizeof(blob), &blob_len)) {
		free(f);
		return NULL;
	}
	f->view.have_records = !connredir_records_decode(blob, blob_len, &f->view.rec);
	f->connected = !!(f->view.ctx.flags & CONNREDIR_CTX_UDP_CONNECTED);
	memcpy(&f->app, from, fl);
	f->app_len = fl;
	f->view.proto = "udp";
	f->view.service = conf->service;
	f->view.instance = conf->instance;
	f->view.start_ns = f->last_ns = events_now();
	clock_gettime(CLOCK_REALTIME, &f->view.start_rt);
	crd_ipaddr_from_sockaddr(from, &f->view.client, &f->view.client_port);
	f->view.dst.family = f->view.ctx.orig_family == AF_INET ? AF_INET : AF_INET6;
	memcpy(f->view.dst.addr, f->view.ctx.orig_dst, 16);
	f->view.dst_port = ntohs(f->view.ctx.orig_dst_port);
	f->view.dst_from = "context";
	f->view.have_dst = true;
	f->dst_len = crd_ipaddr_to_sockaddr(&f->view.dst, f->view.dst_port,
					     f->view.dst.family == AF_INET, &f->dst);

	/* Records on the per-flow socket before anything is sent from it. */
	f->fd = socket(f->dst.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0 ||
	    (blob_len && connredir_set_records(f->fd, blob, blob_len)) ||
	    events_add(f->fd, EPOLLIN, &f->h)) {
		log_warn("UDP: flow %x to port %u: no per-flow socket: %s", handle,
			 f->view.dst_port, strerror(errno));
		if (f->fd >= 0)
			close(f->fd);
		free(f);
		return NULL;
	}
	n_uflows++;
	f->hnext = *slot(handle);
	*slot(handle) = f;
	f->prev = tail;
	*(tail ? &tail->next : &head) = f;
	tail = f;
	if (inspect_flow_start(&f->view) < 0)
		f->view.verdict = INSPECT_ALLOW;   /* no inspection: relay */
	return f;
}

static void on_listener(struct events_handler *h, uint32_t ev)
{
	struct ulistener *l = (struct ulistener *)h;
	int i;

	for (i = 0; i < RECV_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		uint32_t handle = 0;
		struct uflow *f;
		ssize_t r = connredir_udp_recvfrom(l->fd, buf, sizeof(buf), MSG_DONTWAIT,
						   (struct sockaddr *)&from, &fl, &handle);

		if (r == -EAGAIN || r == -EWOULDBLOCK)
			return;
		if (r < 0)
			continue;
		if (!handle) {
			if (events_now() - warned_unmarked >= WARN_EVERY_NS || !warned_unmarked) {
				warned_unmarked = events_now();
				log_warn("UDP: --udp-listen '%s': dropping a datagram that was "
					 "not redirected by connredir", l->text);
			}
			continue;
		}
		f = find(handle);
		if (f) {
			up(f, (size_t)r, false);
			continue;
		}
		f = new_flow(l, handle, &from, fl);
		if (f)
			up(f, (size_t)r, true);
	}
}

int udp_start(const struct proxy_conf *c)
{
	unsigned i;
	int err;

	conf = c;
	for (i = 0; i < n_uls; i++) {
		uls[i].h.fn = on_listener;
		err = events_add(uls[i].fd, EPOLLIN, &uls[i].h);
		if (err)
			return err;
	}
	return 0;
}

unsigned udp_count(void)
{
	return n_uflows;
}

int udp_timeout_ms(void)
{
	uint64_t at, now = events_now();

	if (!head)
		return -1;
	at = head->last_ns + conf->udp_idle_timeout_ns;
	return at > now ? (int)((at - now + 999999) / 1000000) : 0;
}

void udp_expire(void)
{
	uint64_t now = events_now();

	while (head && head->last_ns + conf->udp_idle_timeout_ns <= now)
		uflow_end(head, "idle-timeout");
}

void udp_stop(void)
{
	unsigned i;

	for (i = 0; i < n_uls; i++)
		if (uls[i].fd >= 0)
			close(uls[i].fd);
	n_uls = 0;
	while (head)
		uflow_end(head, "shutdown");
}
