// SPDX-License-Identifier: MIT
/*
 * crd-apicheck - exercises the socket-option API and prints what each call
 * answered, one "key=value" per line, for the API test to compare.
 *
 *   crd-apicheck local
 *       on sockets that were never redirected: records/context/state on an
 *       accepted and a connecting socket (ENOENT), on an unconnected TCP
 *       socket (ENOTCONN), on UDP and Unix sockets (EOPNOTSUPP).
 *   crd-apicheck accept [--drop-uid UID] ADDR:PORT
 *       listen, accept one redirected connection and query it every way:
 *       sizes, short buffers, the blob, state, context, SO_ORIGINAL_DST
 *       (after accepting, with --drop-uid, as another uid: no longer the
 *       service's proxy identity).
 *   crd-apicheck claim SERVICE ADDR:PORT
 *       listen and claim the listener for SERVICE: "claim=<errno>".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <connredir/connredir.h>
#include "parse.h"

static const char *en(int e)
{
	if (e < 0)
		e = -e;
	switch (e) {
	case 0: return "ok";
	case ENOENT: return "ENOENT";
	case ENOTCONN: return "ENOTCONN";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case ENOSPC: return "ENOSPC";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EPROTO: return "EPROTO";
	default: return strerror(e);
	}
}

static int listener(const struct crd_ipaddr *a, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int one = 1, fd;

	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->addr + 12, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		sl = sizeof(*s6);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16))
		return -1;
	return fd;
}

static void query_all(const char *who, int fd)
{
	struct connredir_context ctx;
	struct connredir_state_info st;
	char blob[CONNREDIR_RECORDS_MAX];
	size_t need = 0;

	printf("%s_records=%s\n", who, en(connredir_query_records(fd, blob, sizeof(blob), &need)));
	printf("%s_context=%s\n", who, en(connredir_query_context(fd, &ctx)));
	printf("%s_state=%s\n", who, en(connredir_query_state(fd, &st)));
}

static int local_checks(void)
{
	struct crd_ipaddr lo = { .family = AF_INET, .addr = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 } };
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int l, c, a, u, x;

	l = listener(&lo, 0);
	if (l < 0 || getsockname(l, (struct sockaddr *)&sin, &sl))
		return perror("listen"), 1;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	query_all("unconnected", c);
	if (connect(c, (struct sockaddr *)&sin, sl))
		return perror("connect"), 1;
	a = accept(l, NULL, NULL);
	query_all("direct_accepted", a);
	query_all("direct_connecting", c);
	query_all("listener", l);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	query_all("udp", u);
	x = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	query_all("unix", x);
	printf("set_on_udp=%s\n", en(connredir_set_records(u, "xxxxxxxx", 8)));
	close(a);
	close(c);
	close(l);
	close(u);
	close(x);
	return 0;
}

static int accept_checks(const char *ep, long drop_uid)
{
	struct connredir_records_info ri;
	struct connredir_state_info st;
	struct connredir_context ctx;
	struct sockaddr_storage ss;
	struct crd_ipaddr a;
	char blob[CONNREDIR_RECORDS_MAX], buf[64];
	const char *why;
	uint32_t size = 0;
	socklen_t len;
	size_t need = 0;
	uint16_t port;
	int l, fd, err;

	if (crd_parse_endpoint(ep, &a, &port, &why))
		return fprintf(stderr, "crd-apicheck: %s: %s\n", ep, why), 2;
	l = listener(&a, port);
	if (l < 0)
		return perror("listen"), 1;
	printf("listening=%s\n", ep);
	fflush(stdout);
	fd = accept(l, NULL, NULL);
	if (fd < 0)
		return perror("accept"), 1;
	if (drop_uid >= 0 && setresuid(drop_uid, drop_uid, drop_uid))
		return perror("setresuid"), 1;

	len = sizeof(size);
	err = getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS_SIZE, &size, &len) ? errno : 0;
	printf("raw_size=%s %u\n", en(err), size);
	len = 8;
	err = getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, blob, &len) ? errno : 0;
	printf("raw_short=%s\n", en(err));
	len = sizeof(blob);
	err = getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, blob, &len) ? errno : 0;
	printf("raw_records=%s %u\n", en(err), (unsigned)len);
	len = 1;
	err = getsockopt(fd, CONNREDIR_SOL, 99, blob, &len) ? errno : 0;
	printf("raw_unknown_opt=%s\n", en(err));

	err = connredir_query_records(fd, blob, 10, &need);
	printf("lib_short=%s needed=%zu\n", en(err), need);
	err = connredir_query_records(fd, blob, sizeof(blob), &need);
	printf("lib_records=%s size=%zu\n", en(err), need);
	err = connredir_records_decode(blob, need, &ri);
	printf("decode=%s nhops=%u first=%u\n", en(err), err ? 0 : ri.nhops,
	       err ? 0 : ri.services[0]);
	printf("decode_short=%s\n", en(connredir_records_decode(blob, need - 1, &ri)));
	err = connredir_query_state(fd, &st);
	printf("state=%s %s service=%u nhops=%u\n", en(err),
	       err ? "-" : connredir_state_name(st.state), st.service_id, st.nhops);
	err = connredir_query_context(fd, &ctx);
	if (!err) {
		struct crd_ipaddr d = { .family = AF_INET6 };

		memcpy(d.addr, ctx.orig_dst, 16);
		printf("context=ok dst=%s comm=%s service=%u hop=%u\n",
		       crd_format_endpoint(&d, ntohs(ctx.orig_dst_port), buf, sizeof(buf)),
		       ctx.app_comm, ctx.service_id, ctx.hop);
	} else {
		printf("context=%s\n", en(err));
	}
	len = sizeof(ss);
	err = connredir_original_dst(fd, &ss, &len);
	if (!err && ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		printf("origdst=%s:%u\n", inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf)),
		       ntohs(s4->sin_port));
	} else {
		printf("origdst=%s\n", en(err));
	}
	close(fd);
	close(l);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "local"))
		return local_checks();
	if (argc == 3 && !strcmp(argv[1], "accept"))
		return accept_checks(argv[2], -1);
	if (argc == 5 && !strcmp(argv[1], "accept") && !strcmp(argv[2], "--drop-uid"))
		return accept_checks(argv[4], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "claim")) {
		struct crd_ipaddr a;
		const char *why;
		uint16_t port;
		int l;

		if (crd_parse_endpoint(argv[3], &a, &port, &why))
			return fprintf(stderr, "crd-apicheck: %s: %s\n", argv[3], why), 2;
		l = listener(&a, port);
		if (l < 0)
			return perror("listen"), 1;
		printf("claim=%s\n", en(connredir_claim_listener(l, argv[2])));
		printf("claim_udp=%s\n", en(connredir_claim_listener(socket(AF_INET, SOCK_DGRAM, 0), argv[2])));
		close(l);
		return 0;
	}
	fprintf(stderr, "usage: crd-apicheck local | accept [--drop-uid UID] ADDR:PORT | claim SERVICE ADDR:PORT\n");
	return 2;
}
