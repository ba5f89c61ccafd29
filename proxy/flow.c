// SPDX-License-Identifier: MIT
/*
 * flow.c - one flow's state machine:
 *
 *   accept -> learn (records, context or SO_ORIGINAL_DST) -> on_start
 *   verdicts -> [peek: while an inspector needs the client's first bytes,
 *   wait for them, up to --peek-timeout] -> connect onward (records set
 *   first) -> relay, with the client's bytes held and every byte copied
 *   while an inspector needs bytes, spliced after -> end (log line) -> reap.
 *
 * Peeking before connecting means a flow refused for its Host or server
 * name never reaches its destination, nor the services after this one in
 * the chain; the time-out lets protocols where the server speaks first
 * (SMTP, SSH) through.
 *
 * Time-outs are kept in three lists, each in deadline order because every
 * flow in it has the same time-out: flows peeking (by accept), connecting
 * (by connect start) and relaying (by last activity: moved to the tail
 * whenever bytes move).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <connredir/connredir.h>

#include "events.h"
#include "flow.h"
#include "inspect.h"
#include "pool.h"
#include "relay.h"

#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

enum flow_state { FLOW_PEEKING, FLOW_CONNECTING, FLOW_RELAYING, FLOW_DEAD };

struct flow_list {
	struct flow *head, *tail;
};

struct flow {
	struct events_handler ch, sh;     /* client, server socket handlers */
	struct relay_sock cs, ss;         /* client, server sockets */
	struct relay_dir dir[2];          /* INSPECT_UP: cs->ss, INSPECT_DOWN: ss->cs */
	struct inspect_flow view;         /* what inspectors see */
	size_t shown[2];                  /* window bytes shown to the inspectors */
	bool last_shown[2];               /* ... and their last call */
	enum flow_state state;
	uint64_t since;                   /* accept, connect start, or last activity (ns) */
	struct flow_list *list;           /* peeking, connecting or active */
	uint8_t *blob;                    /* while peeking: the records to set */
	size_t blob_len;
	struct flow *prev, *next;
	struct flow *dead_next;
	struct flow *again_next;          /* in the again list */
	bool in_again;
};

static const struct proxy_conf *conf;
static struct flow_list peeking, connecting, active;
static struct flow *dead;
static struct flow *again;            /* flows to pump without an event */
static unsigned n_flows;
static unsigned n_flows_peak;         /* most flows open since the last trim */

/* At no flow after at least this many at once, flow_reap() trims the heap. */
#define FLOW_TRIM_PEAK 64

/* Reset a socket on close: an RST, not a FIN. */
#define RESET_CLIENT 1u
#define RESET_SERVER 2u

void flow_init(const struct proxy_conf *c)
{
	conf = c;
}

unsigned flow_count(void)
{
	return n_flows;
}

/* ---- lists ---- */

static void list_del(struct flow *f)
{
	struct flow_list *l = f->list;

	if (!l)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = NULL;
	f->list = NULL;
}

static void list_add_tail(struct flow_list *l, struct flow *f)
{
	f->list = l;
	f->prev = l->tail;
	f->next = NULL;
	if (l->tail)
		l->tail->next = f;
	else
		l->head = f;
	l->tail = f;
}

/* Bytes moved: a relaying flow goes to the end of the idle queue. */
static void touch(struct flow *f)
{
	if (f->list != &active)
		return;                 /* peek and connect time-outs are absolute */
	f->since = events_now();
	if (active.tail != f) {
		list_del(f);
		list_add_tail(&active, f);
	}
}

/* ---- addresses ---- */

/* ---- the end ---- */

static void reset_on_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* End @f: close (resetting what @reset says), log, queue for reaping. */
static void flow_end(struct flow *f, const char *how, int err, unsigned reset)
{
	int d;

	if (f->state == FLOW_DEAD)
		return;
	f->state = FLOW_DEAD;
	list_del(f);
	if (reset & RESET_CLIENT)
		reset_on_close(f->cs.fd);
	if (reset & RESET_SERVER)
		reset_on_close(f->ss.fd);
	close(f->cs.fd);
	if (f->ss.fd >= 0)
		close(f->ss.fd);
	f->cs.fd = f->ss.fd = -1;
	free(f->blob);
	f->blob = NULL;
	for (d = 0; d < 2; d++) {
		f->view.bytes[d] = f->dir[d].bytes;
		f->view.spliced[d] = f->dir[d].spliced_bytes;
		relay_dir_free(&f->dir[d]);
	}
	f->view.end = how;
	f->view.error = err;
	f->view.end_ns = events_now();
	clock_gettime(CLOCK_REALTIME, &f->view.end_rt);
	inspect_flow_end(&f->view);
	f->dead_next = dead;
	dead = f;
	n_flows--;
}

/* A relay error on direction @d: the side that failed is gone, reset the other. */
static void relay_failed(struct flow *f, int d, int err)
{
	bool client = (d == INSPECT_UP) == (f->dir[d].err_side == RELAY_SRC);
	bool reset = err == ECONNRESET || err == EPIPE;

	if (client)
		flow_end(f, reset ? "client-reset" : "client-error", err, RESET_SERVER);
	else
		flow_end(f, reset ? "server-reset" : "server-error", err, RESET_CLIENT);
}

/* ---- relaying ---- */

static bool start_connect(struct flow *f, const void *blob, size_t blob_len);

/* Every inspector has its verdict: send the held bytes, splice the rest. */
static void release(struct flow *f)
{
	int d;

	for (d = 0; d < 2; d++) {
		f->dir[d].hold = false;
		relay_dir_window(&f->dir[d], false);
		if (!conf->copy_only)
			relay_dir_use_splice(&f->dir[d]);
	}
}

/* Show new window bytes to the inspectors. false if the flow ended. */
static bool inspect(struct flow *f, bool *moved)
{
	int d;

	for (d = 0; d < 2 && f->view.verdict == INSPECT_NEED_MORE; d++) {
		struct relay_dir *r = &f->dir[d];
		bool last;
		enum inspect_verdict v;

		if (!r->window)
			continue;
		last = relay_window_full(r) || r->eof;
		if (r->len == f->shown[d] && last == f->last_shown[d])
			continue;
		f->shown[d] = r->len;
		f->last_shown[d] = last;
		v = inspect_flow_data(&f->view, d, r->buf, r->len, last);
		if (last)
			relay_dir_window(r, false);
		if (v == INSPECT_BLOCK) {
			flow_end(f, "blocked", 0, RESET_CLIENT | RESET_SERVER);
			return false;
		}
		if (v == INSPECT_ALLOW) {
			release(f);
			*moved = true;
			if (f->state == FLOW_PEEKING &&
			    !start_connect(f, f->blob, f->blob_len))
				return false;
		}
	}
	return true;
}

/*
 * Move everything that can move (up to RELAY_BUDGET a direction: then the
 * flow goes to the again list); end the flow when both directions are done.
 */
static void pump(struct flow *f)
{
	bool moved, any = false, more;
	int d, err;

	do {
		moved = more = false;
		for (d = 0; d < 2; d++) {
			err = relay_pump(&f->dir[d], &moved);
			if (err) {
				relay_failed(f, d, -err);
				return;
			}
			more |= f->dir[d].more;
		}
		if (!inspect(f, &moved))
			return;
		any |= moved;
	} while (moved && !more);
	if (more && !f->in_again) {
		f->in_again = true;
		f->again_next = again;
		again = f;
	}
	if (f->dir[INSPECT_UP].shut && f->dir[INSPECT_DOWN].shut) {
		flow_end(f, "closed", 0, 0);
		return;
	}
	if (any)
		touch(f);
}

static int sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return errno;
	return err;
}

static void connected(struct flow *f)
{
	list_del(f);
	f->state = FLOW_RELAYING;
	f->ss.up = true;
	f->ss.wr = true;
	f->since = events_now();
	list_add_tail(&active, f);
}

static void on_client(struct events_handler *h, uint32_t ev)
{
	struct flow *f = container_of(h, struct flow, ch);
	int err;

	if (f->state == FLOW_DEAD)
		return;
	if (ev & EPOLLERR) {
		err = sock_error(f->cs.fd);
		if (err) {
			flow_end(f, err == ECONNRESET ? "client-reset" : "client-error",
				 err, RESET_SERVER);
			return;
		}
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		f->cs.rd = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		f->cs.wr = true;
	pump(f);
}

static void on_server(struct events_handler *h, uint32_t ev)
{
	struct flow *f = container_of(h, struct flow, sh);
	int err = 0;

	if (f->state == FLOW_DEAD)
		return;
	if (ev & EPOLLERR)
		err = sock_error(f->ss.fd);
	if (f->state == FLOW_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (!err && (ev & (EPOLLERR | EPOLLHUP)))
			err = ECONNREFUSED;   /* hung up without saying why */
		if (err) {
			/* Carry the refusal back as an RST. */
			flow_end(f, "connect-failed", err, RESET_CLIENT);
			return;
		}
		connected(f);
	} else if (err) {
		flow_end(f, err == ECONNRESET ? "server-reset" : "server-error", err,
			 RESET_CLIENT);
		return;
	}
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		f->ss.rd = true;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		f->ss.wr = true;
	pump(f);
}

/* ---- the start ---- */

/* true if @a is the wildcard address (0.0.0.0 or ::) */
static bool addr_is_any(const struct crd_ipaddr *a)
{
	static const uint8_t zero[16];

	return crd_ipaddr_is_v4(a) ? !memcmp(a->addr + 12, zero, 4) :
				     !memcmp(a->addr, zero, 16);
}

/*
 * Would a flow to @dst:@port loop through this proxy (accepted on @fd by a
 * listener bound to @laddr:@lport)? Only a wildcard listener needs to ask
 * the kernel which local address the connection came to.
 */
static bool loops(int fd, const struct crd_ipaddr *dst, uint16_t port,
		  const struct crd_ipaddr *laddr, uint16_t lport)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	struct crd_ipaddr la;
	uint16_t lp;

	if (port != lport)
		return false;
	if (!addr_is_any(laddr))
		return !memcmp(laddr->addr, dst->addr, 16);
	if (getsockname(fd, (struct sockaddr *)&local, &ll))
		return false;
	crd_ipaddr_from_sockaddr(&local, &la, &lp);
	return lp == port && !memcmp(la.addr, dst->addr, 16);
}

/*
 * Where the flow was going: from this service's context, or (an
 * unmodified transparent proxy's way) SO_ORIGINAL_DST. Returns 0 or
 * -errno. The records are asked for once, with room for the largest
 * (no CONNREDIR_RECORDS_SIZE query first).
 */
static int learn(struct flow *f, int fd, void *blob, size_t *blob_len,
		 const struct crd_ipaddr *laddr, uint16_t lport)
{
	struct inspect_flow *v = &f->view;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss), bl = CONNREDIR_RECORDS_MAX;
	int err;

	if (!getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, blob, &bl) && bl) {
		*blob_len = bl;
		v->have_records = !connredir_records_decode(blob, *blob_len, &v->rec);
	} else {
		*blob_len = 0;
	}
	if (!connredir_query_context(fd, &v->ctx)) {
		v->have_context = true;
		v->dst.family = v->ctx.orig_family == AF_INET ? AF_INET : AF_INET6;
		memcpy(v->dst.addr, v->ctx.orig_dst, 16);
		v->dst_port = ntohs(v->ctx.orig_dst_port);
		v->dst_from = "context";
	} else {
		err = connredir_original_dst(fd, &ss, &sl);
		if (err)
			return err;
		crd_ipaddr_from_sockaddr(&ss, &v->dst, &v->dst_port);
		v->dst_from = "so_original_dst";
	}
	v->have_dst = true;
	/* A connection made to the proxy itself would loop through it. */
	if (loops(fd, &v->dst, v->dst_port, laddr, lport))
		return -ELOOP;
	return 0;
}

/*
 * Open the onward connection (records set first). 0 or -errno, with *how
 * the end_reason: "connect-failed" if connect() itself refused.
 */
static int connect_onward(struct flow *f, const void *blob, size_t blob_len,
			  const char **how)
{
	bool v4 = crd_ipaddr_is_v4(&f->view.dst) && f->view.dst.family == AF_INET;
	struct sockaddr_storage ss;
	socklen_t sl = crd_ipaddr_to_sockaddr(&f->view.dst, f->view.dst_port, v4, &ss);
	int one = 1, err;

	f->ss.fd = socket(v4 ? AF_INET : AF_INET6,
			  SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->ss.fd < 0)
		return -errno;
	setsockopt(f->ss.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (blob_len) {
		err = connredir_set_records(f->ss.fd, blob, blob_len);
		if (err)
			return err;
	}
	*how = "connect-failed";
	if (connect(f->ss.fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS)
		return -errno;
	return 0;
}

int flow_start(int fd, const struct sockaddr_storage *peer,
	       const struct crd_ipaddr *laddr, uint16_t lport)
{
	char blob[CONNREDIR_RECORDS_MAX];
	size_t blob_len = 0;
	struct flow *f;
	int err, d;

	f = calloc(1, sizeof(*f));
	if (!f) {
		reset_on_close(fd);
		close(fd);
		return -ENOMEM;
	}
	if (++n_flows > n_flows_peak)
		n_flows_peak = n_flows;
	f->ch.fn = on_client;
	f->sh.fn = on_server;
	f->cs = (struct relay_sock){ .fd = fd, .up = true };
	f->ss = (struct relay_sock){ .fd = -1 };
	relay_dir_init(&f->dir[INSPECT_UP], &f->cs, &f->ss);
	relay_dir_init(&f->dir[INSPECT_DOWN], &f->ss, &f->cs);
	f->state = FLOW_PEEKING;        /* not connected onward yet */
	f->since = f->view.start_ns = events_now();
	clock_gettime(CLOCK_REALTIME, &f->view.start_rt);
	f->view.service = conf->service;
	f->view.instance = conf->instance;
	crd_ipaddr_from_sockaddr(peer, &f->view.client, &f->view.client_port);
	/* TCP_NODELAY comes from the listener (dispatch.c). */

	err = learn(f, fd, blob, &blob_len, laddr, lport);
	if (err) {
		flow_end(f, "no-destination", -err, RESET_CLIENT);
		return 0;
	}
	err = inspect_flow_start(&f->view);
	if (err < 0) {
		flow_end(f, "error", -err, RESET_CLIENT);
		return 0;
	}
	if (err == INSPECT_BLOCK) {
		flow_end(f, "blocked", 0, RESET_CLIENT);
		return 0;
	}
	for (d = 0; d < 2; d++) {
		if (f->view.verdict == INSPECT_NEED_MORE)
			relay_dir_window(&f->dir[d], true);
		else if (!conf->copy_only)
			relay_dir_use_splice(&f->dir[d]);
	}
	f->dir[INSPECT_UP].hold = f->view.verdict == INSPECT_NEED_MORE;
	err = events_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &f->ch);
	if (err) {
		flow_end(f, "error", -err, RESET_CLIENT);
		return 0;
	}
	if (f->view.verdict == INSPECT_NEED_MORE && conf->peek_timeout_ns) {
		if (blob_len) {
			f->blob = malloc(blob_len);
			if (!f->blob) {
				flow_end(f, "error", ENOMEM, RESET_CLIENT);
				return 0;
			}
			memcpy(f->blob, blob, blob_len);
			f->blob_len = blob_len;
		}
		f->state = FLOW_PEEKING;
		list_add_tail(&peeking, f);
		return 0;
	}
	start_connect(f, blob, blob_len);
	return 0;
}

/*
 * Connect onward now (the flow leaves the peeking list for the connecting
 * one). Returns false if that failed and the flow ended.
 */
static bool start_connect(struct flow *f, const void *blob, size_t blob_len)
{
	const char *how = "error";
	int err;

	err = connect_onward(f, blob, blob_len, &how);
	if (!err) {
		how = "error";
		err = events_add(f->ss.fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &f->sh);
	}
	if (err) {
		flow_end(f, how, -err, RESET_CLIENT);
		return false;
	}
	free(f->blob);
	f->blob = NULL;
	list_del(f);
	f->state = FLOW_CONNECTING;
	f->since = events_now();
	list_add_tail(&connecting, f);
	return true;
}

/* ---- time-outs and the end of everything ---- */

/* ms from now until @deadline (ns), rounded up, at least 0. */
static int ms_until(uint64_t deadline)
{
	uint64_t now = events_now();

	if (deadline <= now)
		return 0;
	deadline = (deadline - now + 999999) / 1000000;
	return deadline > 3600000 ? 3600000 : (int)deadline;
}

int flow_timeout_ms(void)
{
	int t = -1, u;

	if (peeking.head)
		t = ms_until(peeking.head->since + conf->peek_timeout_ns);
	if (connecting.head) {
		u = ms_until(connecting.head->since + conf->connect_timeout_ns);
		if (t < 0 || u < t)
			t = u;
	}
	if (conf->idle_timeout_ns && active.head) {
		u = ms_until(active.head->since + conf->idle_timeout_ns);
		if (t < 0 || u < t)
			t = u;
	}
	return t;
}

void flow_expire(void)
{
	uint64_t now = events_now();

	/* The client said nothing (yet): connect; the inspectors keep waiting. */
	while (peeking.head && peeking.head->since + conf->peek_timeout_ns <= now)
		start_connect(peeking.head, peeking.head->blob, peeking.head->blob_len);
	while (connecting.head && connecting.head->since + conf->connect_timeout_ns <= now)
		flow_end(connecting.head, "connect-timeout", ETIMEDOUT, RESET_CLIENT);
	while (conf->idle_timeout_ns && active.head &&
	       active.head->since + conf->idle_timeout_ns <= now)
		flow_end(active.head, "idle-timeout", 0, RESET_CLIENT | RESET_SERVER);
}

void flow_release_all(void)
{
	pool_trim();
}

void flow_abort_all(void)
{
	while (peeking.head)
		flow_end(peeking.head, "shutdown", 0, RESET_CLIENT);
	while (connecting.head)
		flow_end(connecting.head, "shutdown", 0, RESET_CLIENT | RESET_SERVER);
	while (active.head)
		flow_end(active.head, "shutdown", 0, RESET_CLIENT | RESET_SERVER);
	while (again) {                 /* all dead now: let flow_reap() free them */
		again->in_again = false;
		again = again->again_next;
	}
}

bool flow_busy(void)
{
	return again != NULL;
}

void flow_run_again(void)
{
	struct flow *list = again;

	again = NULL;
	while (list) {
		struct flow *f = list;

		list = f->again_next;
		f->in_again = false;
		if (f->state != FLOW_DEAD)
			pump(f);
	}
}

void flow_reap(void)
{
	struct flow *keep = NULL;

	while (dead) {
		struct flow *f = dead;

		dead = f->dead_next;
		if (f->in_again) {      /* flow_run_again() still holds it */
			f->dead_next = keep;
			keep = f;
		} else {
			free(f);
		}
	}
	dead = keep;
	/*
	 * No flow open: no pipe is kept (descriptors go back to idle). No
	 * flow open any more after many: give the buffers and the memory
	 * they took back to the system, which glibc's free() leaves in the
	 * heap (a burst of 10,000 flows would otherwise keep its RSS for
	 * good). Fewer flows keep their buffers for the next ones.
	 */
	if (!n_flows && !dead) {
		pool_trim_pipes();
		if (n_flows_peak >= FLOW_TRIM_PEAK) {
			pool_trim();
			malloc_trim(0);
			n_flows_peak = 0;
		}
	}
}
