// SPDX-License-Identifier: MIT
/*
 * crd-udpproxy - a minimal records-aware UDP relay for the tests and the
 * demo, built on the native UDP API (connredir_udp_*), single-threaded.
 *
 *   crd-udpproxy --name NAME --listen ADDR:PORT [--log FILE] [--ready FILE]
 *                [--no-records] [--idle SECONDS]
 *
 * Per new flow (a handle it has not seen) it logs one line:
 *   hop proxy=NAME proto=udp state=STATE service=ID hop=H chain=ID,...
 *       orig=ADDR:PORT src=ADDR:PORT app_pid=PID app_comm=COMM app_uid=UID
 *       connected=0|1 set=ok|ERRNO|skipped flow=HEX handle=HEX
 * and "unmarked src=ADDR:PORT" for a datagram that carries no handle.
 * It relays datagrams to the original destination from a per-flow socket
 * (records set on it first), and answers the application from that socket,
 * or from its listening socket when the application's socket is connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
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

#define MAXF 256

struct flow {
	uint32_t handle;
	int fd;                           /* per-flow socket, -1: free */
	int connected;
	struct sockaddr_storage app;      /* who sent it to us */
	socklen_t app_len;
	struct sockaddr_storage dst;      /* original destination */
	socklen_t dst_len;
	time_t last;
};

static struct flow flows[MAXF];
static FILE *log_out;
static const char *name = "udp";
static int no_records;

static const char *en(int e)
{
	switch (e < 0 ? -e : e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "EOTHER";
	}
}

static void ep(const uint8_t a16[16], uint16_t port_be, char *buf, size_t len)
{
	struct crd_ipaddr a = { .family = AF_INET6 };

	memcpy(a.addr, a16, 16);
	crd_format_endpoint(&a, ntohs(port_be), buf, len);
}

static struct flow *new_flow(int lfd, uint32_t h, const struct sockaddr_storage *from,
			     socklen_t fl)
{
	struct connredir_records_info ri;
	struct connredir_state_info st;
	struct connredir_context ctx;
	char blob[CONNREDIR_RECORDS_MAX], chain[128] = "-", orig[64] = "?", src[64] = "?";
	const char *set = "skipped";
	struct flow *f = NULL;
	size_t blen = 0;
	int i, er, ec, es;

	for (i = 0; i < MAXF; i++)
		if (flows[i].fd < 0) {
			f = &flows[i];
			break;
		}
	if (!f)
		return NULL;
	er = connredir_udp_query_records(lfd, h, blob, sizeof(blob), &blen);
	ec = connredir_udp_query_context(lfd, h, &ctx);
	es = connredir_udp_query_state(lfd, h, &st);
	if (ec)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->handle = h;
	f->connected = !!(ctx.flags & CONNREDIR_CTX_UDP_CONNECTED);
	memcpy(&f->app, from, fl);
	f->app_len = fl;
	if (ctx.orig_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&f->dst;

		s4->sin_family = AF_INET;
		s4->sin_port = ctx.orig_dst_port;
		memcpy(&s4->sin_addr, ctx.orig_dst + 12, 4);
		f->dst_len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&f->dst;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = ctx.orig_dst_port;
		memcpy(&s6->sin6_addr, ctx.orig_dst, 16);
		f->dst_len = sizeof(*s6);
	}
	f->fd = socket(f->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0)
		return NULL;
	if (!no_records && !er)
		set = en(connredir_set_records(f->fd, blob, blen));
	if (!er && !connredir_records_decode(blob, blen, &ri)) {
		chain[0] = 0;
		for (i = 0; i < (int)ri.nhops; i++) {
			size_t l = strlen(chain);

			snprintf(chain + l, sizeof(chain) - l, "%s%u", i ? "," : "", ri.services[i]);
		}
	}
	ep(ctx.orig_dst, ctx.orig_dst_port, orig, sizeof(orig));
	ep(ctx.orig_src, ctx.orig_src_port, src, sizeof(src));
	fprintf(log_out, "hop proxy=%s proto=udp state=%s service=%u hop=%u chain=%s orig=%s "
		"src=%s app_pid=%u app_comm=%s app_uid=%u connected=%d set=%s flow=%llx "
		"handle=%x\n", name, es ? en(es) : connredir_state_name(st.state),
		ctx.service_id, ctx.hop, chain, orig, src, ctx.app_pid, ctx.app_comm,
		ctx.app_uid, f->connected, set, (unsigned long long)ctx.flow_id, h);
	fflush(log_out);
	return f;
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *logpath = NULL, *ready = NULL, *why;
	struct sockaddr_storage ls = { 0 };
	struct pollfd p[MAXF + 1];
	struct crd_ipaddr a;
	int lfd, i, idle = 30, one = 1;
	uint16_t port;
	socklen_t sl;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-records"))
			no_records = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--name"))
			name = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--listen"))
			listen_s = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--log"))
			logpath = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--ready"))
			ready = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--idle"))
			idle = atoi(argv[++i]);
		else
			return fprintf(stderr, "usage: crd-udpproxy --name NAME --listen ADDR:PORT "
				       "[--log FILE] [--ready FILE] [--no-records] [--idle S]\n"), 2;
	}
	if (!listen_s || crd_parse_endpoint(listen_s, &a, &port, &why))
		return fprintf(stderr, "crd-udpproxy: --listen needed (ADDR:PORT)\n"), 2;
	log_out = logpath ? fopen(logpath, "a") : stdout;
	if (!log_out)
		return perror(logpath), 1;
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ls;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a.addr + 12, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ls;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.addr, 16);
		sl = sizeof(*s6);
	}
	lfd = socket(ls.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ls.ss_family == AF_INET6)
		setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ls, sl) || connredir_udp_listen(lfd))
		return fprintf(stderr, "crd-udpproxy: %s: %s\n", listen_s, strerror(errno)), 1;
	for (i = 0; i < MAXF; i++)
		flows[i].fd = -1;
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	for (;;) {
		int n = 1, k;
		time_t now = time(NULL);

		p[0].fd = lfd;
		p[0].events = POLLIN;
		for (i = 0; i < MAXF; i++) {
			if (flows[i].fd >= 0 && now - flows[i].last > idle) {
				close(flows[i].fd);
				flows[i].fd = -1;
			}
			p[n].fd = flows[i].fd;   /* -1 entries are ignored by poll */
			p[n].events = POLLIN;
			n++;
		}
		if (poll(p, n, 1000) < 0 && errno != EINTR)
			return 1;
		if (p[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			char buf[65536], fs[64];
			uint32_t h = 0;
			ssize_t r = connredir_udp_recvfrom(lfd, buf, sizeof(buf), 0,
							   (struct sockaddr *)&from, &fl, &h);
			struct flow *f = NULL;

			if (r >= 0 && !h) {
				struct crd_ipaddr fa = { .family = from.ss_family };

				if (from.ss_family == AF_INET) {
					fa.addr[10] = fa.addr[11] = 0xff;
					memcpy(fa.addr + 12, &((struct sockaddr_in *)&from)->sin_addr, 4);
				}
				fprintf(log_out, "unmarked src=%s\n", crd_format_addr(&fa, fs, sizeof(fs)));
				fflush(log_out);
			} else if (r >= 0) {
				for (k = 0; k < MAXF; k++)
					if (flows[k].fd >= 0 && flows[k].handle == h)
						f = &flows[k];
				if (!f)
					f = new_flow(lfd, h, &from, fl);
				if (f) {
					f->last = now;
					sendto(f->fd, buf, r, 0, (struct sockaddr *)&f->dst, f->dst_len);
				}
			}
		}
		for (k = 0; k < MAXF; k++) {
			struct flow *f = &flows[k];
			char buf[65536];
			ssize_t r;

			if (f->fd < 0 || !(p[k + 1].revents & POLLIN))
				continue;
			r = recv(f->fd, buf, sizeof(buf), 0);
			if (r < 0)
				continue;
			f->last = now;
			sendto(f->connected ? lfd : f->fd, buf, r, 0, (struct sockaddr *)&f->app,
			       f->app_len);
		}
	}
}
