// SPDX-License-Identifier: MIT
/*
 * crd-testproxy - a minimal records-aware relay for the integration tests
 * and the demo: one thread per connection, everything it learns logged.
 *
 *   crd-testproxy --name NAME --listen ADDR:PORT [--listen ...] [--log FILE]
 *                 [--no-records] [--blob-dir DIR] [--ready FILE] [--reuseport]
 *
 * Per accepted connection it asks the kernel for the records, the state and
 * the context, connects to the original destination (setting the records
 * first unless --no-records), relays both ways with half-close carried
 * across, and logs one line when it has connected onward:
 *
 *   hop proxy=NAME state=STATE service=ID hop=H nhops=N chain=ID,ID,...
 *       orig=ADDR:PORT src=ADDR:PORT app_pid=PID app_comm=COMM app_uid=UID
 *       set=ok|ERRNO|skipped flow=HEX records=ERRNO context=ERRNO
 *       onward=ok|failed peer=ADDR:PORT (the connecting socket)
 *
 * (one line; a query that fails shows as its errno name instead of the
 * value, e.g. state=ENOENT). With --blob-dir the records blob of each flow
 * is written to DIR/FLOWID.blob for tests that replay or forge it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>
#include "parse.h"

#define MAX_LISTEN 4

static const char *name = "proxy";
static FILE *log_out;
static int no_records;
static int reuseport;     /* SO_REUSEPORT on the listeners (port sharing tests) */
static const char *blob_dir;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ENOSPC: return "ENOSPC";
	case ENOTCONN: return "ENOTCONN";
	case EISCONN: return "EISCONN";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return "EOTHER";
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: crd-testproxy --name NAME --listen ADDR:PORT [--listen ...]\n"
		"                     [--log FILE] [--no-records] [--blob-dir DIR] [--ready FILE]\n"
		"                     [--reuseport]\n");
}

/* Copy until EOF on @from, then shut down writing on @to. 0 or -errno. */
static void relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	int open_in[2] = { 1, 1 };
	char buf[65536];

	while (open_in[0] || open_in[1]) {
		int i;

		if (poll(p, 2, 30000) <= 0)
			return;
		for (i = 0; i < 2; i++) {
			ssize_t n, w, off = 0;

			if (!open_in[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				if (n < 0 && errno == ECONNRESET) {
					struct linger l = { 1, 0 };

					setsockopt(p[!i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
					return;
				}
				open_in[i] = 0;
				p[i].events = 0;
				p[i].fd = -1;
				shutdown(i ? a : b, SHUT_WR);
				continue;
			}
			while (off < n) {
				w = write(i ? a : b, buf + off, n - off);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

struct conn {
	int fd;
};

/* The accepted socket's peer (the connecting socket), as ADDR:PORT. */
static void peer_str(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct crd_ipaddr a;
	uint16_t port;

	snprintf(buf, len, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl))
		return;
	crd_ipaddr_from_sockaddr(&ss, &a, &port);
	crd_format_endpoint(&a, port, buf, len);
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	struct connredir_records_info ri;
	struct connredir_state_info st;
	struct connredir_context ctx;
	struct sockaddr_storage ss;
	char blob[CONNREDIR_RECORDS_MAX], chain[128] = "", orig[64] = "?", src[64] = "?";
	char state[48], svc[16] = "?", hop[16] = "?", peer[64];
	const char *set = "skipped";
	size_t blen = 0;
	int err_rec, err_st, err_ctx, out = -1, i;
	socklen_t sl;

	err_rec = connredir_query_records(c->fd, blob, sizeof(blob), &blen);
	err_st = connredir_query_state(c->fd, &st);
	err_ctx = connredir_query_context(c->fd, &ctx);
	if (!err_rec && !connredir_records_decode(blob, blen, &ri)) {
		for (i = 0; i < (int)ri.nhops; i++) {
			size_t l = strlen(chain);

			snprintf(chain + l, sizeof(chain) - l, "%s%u", i ? "," : "", ri.services[i]);
		}
		if (blob_dir) {
			char path[512];
			FILE *f;

			snprintf(path, sizeof(path), "%s/%016llx-%u.blob", blob_dir,
				 (unsigned long long)ri.flow_id, ri.nhops);
			f = fopen(path, "w");
			if (f) {
				fwrite(blob, 1, blen, f);
				fclose(f);
			}
		}
	}
	snprintf(state, sizeof(state), "%s",
		 err_st ? errname(-err_st) : connredir_state_name(st.state));
	if (!err_ctx) {
		struct crd_ipaddr a = { .family = AF_INET6 };

		memcpy(a.addr, ctx.orig_dst, 16);
		crd_format_endpoint(&a, ntohs(ctx.orig_dst_port), orig, sizeof(orig));
		memcpy(a.addr, ctx.orig_src, 16);
		crd_format_endpoint(&a, ntohs(ctx.orig_src_port), src, sizeof(src));
		snprintf(svc, sizeof(svc), "%u", ctx.service_id);
		snprintf(hop, sizeof(hop), "%u", ctx.hop);
	}

	/* Onward: to the original destination, from the context or, for a
	 * proxy that only knows SO_ORIGINAL_DST, from that. */
	sl = sizeof(ss);
	if (!err_ctx) {
		memset(&ss, 0, sizeof(ss));
		if (ctx.orig_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			sin->sin_port = ctx.orig_dst_port;
			memcpy(&sin->sin_addr, ctx.orig_dst + 12, 4);
			sl = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = ctx.orig_dst_port;
			memcpy(&sin6->sin6_addr, ctx.orig_dst, 16);
			sl = sizeof(*sin6);
		}
	} else if (connredir_original_dst(c->fd, &ss, &sl)) {
		goto log;
	}
	out = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (out < 0)
		goto log;
	if (!no_records && !err_rec)
		set = errname(-connredir_set_records(out, blob, blen));
	if (connect(out, (struct sockaddr *)&ss, sl)) {
		close(out);
		out = -1;
	}
log:
	peer_str(c->fd, peer, sizeof(peer));
	pthread_mutex_lock(&log_lock);
	fprintf(log_out, "hop proxy=%s state=%s service=%s hop=%s nhops=%u chain=%s "
		"orig=%s src=%s app_pid=%u app_comm=%s app_uid=%u set=%s flow=%llx "
		"records=%s context=%s onward=%s peer=%s\n",
		name, state, svc, hop, err_st ? 0 : st.nhops, chain[0] ? chain : "-",
		orig, src, err_ctx ? 0 : ctx.app_pid, err_ctx ? "?" : ctx.app_comm,
		err_ctx ? 0 : ctx.app_uid, set,
		err_ctx ? 0ULL : (unsigned long long)ctx.flow_id,
		errname(-err_rec), errname(-err_ctx), out >= 0 ? "ok" : "failed", peer);
	fflush(log_out);
	pthread_mutex_unlock(&log_lock);
	if (out >= 0) {
		relay(c->fd, out);
		close(out);
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_loop(void *arg)
{
	int lfd = (int)(long)arg;

	for (;;) {
		struct conn *c;
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return NULL;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		if (pthread_create(&t, NULL, serve, c)) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

int main(int argc, char **argv)
{
	int lfds[MAX_LISTEN], nl = 0, i, one = 1;
	const char *ready = NULL, *logpath = NULL, *why;
	pthread_t t[MAX_LISTEN];

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--reuseport")) {
			reuseport = 1;
		} else if (!strcmp(a, "--no-records")) {
			no_records = 1;
		} else if (i + 1 < argc && !strcmp(a, "--name")) {
			name = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--log")) {
			logpath = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--blob-dir")) {
			blob_dir = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--ready")) {
			ready = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--listen") && nl < MAX_LISTEN) {
			struct crd_ipaddr addr;
			struct sockaddr_storage ss = { 0 };
			socklen_t sl;
			uint16_t port;

			if (crd_parse_endpoint(argv[++i], &addr, &port, &why)) {
				fprintf(stderr, "crd-testproxy: --listen '%s': %s\n", argv[i], why);
				return 2;
			}
			if (addr.family == AF_INET) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

				s4->sin_family = AF_INET;
				s4->sin_port = htons(port);
				memcpy(&s4->sin_addr, addr.addr + 12, 4);
				sl = sizeof(*s4);
			} else {
				struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

				s6->sin6_family = AF_INET6;
				s6->sin6_port = htons(port);
				memcpy(&s6->sin6_addr, addr.addr, 16);
				sl = sizeof(*s6);
			}
			lfds[nl] = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (lfds[nl] < 0 ||
			    setsockopt(lfds[nl], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
			    (reuseport &&
			     setsockopt(lfds[nl], SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
			    (ss.ss_family == AF_INET6 &&
			     setsockopt(lfds[nl], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
			    bind(lfds[nl], (struct sockaddr *)&ss, sl) || listen(lfds[nl], 4096)) {
				fprintf(stderr, "crd-testproxy: listen %s: %s\n", argv[i], strerror(errno));
				return 1;
			}
			nl++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!nl) {
		usage(stderr);
		return 2;
	}
	log_out = logpath ? fopen(logpath, "a") : stdout;
	if (!log_out) {
		fprintf(stderr, "crd-testproxy: --log %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	for (i = 0; i < nl; i++)
		pthread_create(&t[i], NULL, accept_loop, (void *)(long)lfds[i]);
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (f)
			fclose(f);
	}
	for (i = 0; i < nl; i++)
		pthread_join(t[i], NULL);
	return 0;
}
