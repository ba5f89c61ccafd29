// SPDX-License-Identifier: MIT
/*
 * records-proxy.c - the smallest useful proxy of a connredir redirect
 * service, written against the installed library only.
 *
 *   records-proxy SERVICE ADDR:PORT      (127.0.0.1:15001 or [::1]:15001)
 *
 * It listens on ADDR:PORT and claims the listener for SERVICE (so run it as
 * the service's proxy identity, e.g. `connredir exec --cgroup proxy-SERVICE
 * -- records-proxy ...`). For each redirected connection, in a child
 * process: it asks the kernel for the flow's records, state and context,
 * prints one line, opens a socket to the original destination, sets the
 * records on it before connecting (so the next service sees the flow was
 * here and nothing loops), and relays both ways until both are done.
 *
 * Build it against an installed connredir:
 *
 *   cc -o records-proxy records-proxy.c $(pkg-config --cflags --libs connredir)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* accept4 */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>

/* "127.0.0.1:15001" or "[::1]:15001" into @ss. */
static int parse_listen(const char *arg, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[64];
	const char *colon = strrchr(arg, ':');
	size_t hl;

	if (!colon || colon == arg)
		return -1;
	hl = colon - arg;
	if (arg[0] == '[') {
		if (hl < 3 || arg[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -1;
		memcpy(host, arg + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, arg, hl);
		host[hl] = '\0';
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(atoi(colon + 1));
		*len = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(atoi(colon + 1));
		*len = sizeof(*s6);
	} else {
		return -1;
	}
	return atoi(colon + 1) > 0 ? 0 : -1;
}

/* Copy both ways until both sides have shut down their sending. */
static void relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	char buf[16384];
	int open_dirs = 2, i;

	while (open_dirs > 0 && poll(p, 2, -1) > 0) {
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(p[!i].fd, SHUT_WR);
				p[i].fd = -1;   /* poll ignores it from now on */
				open_dirs--;
				continue;
			}
			if (write(p[!i].fd, buf, n) != n)
				return;
		}
	}
}

static int handle(int c)
{
	char blob[CONNREDIR_RECORDS_MAX], addr[INET6_ADDRSTRLEN];
	struct connredir_state_info st;
	struct connredir_context ctx;
	struct sockaddr_storage dst;
	socklen_t dlen = sizeof(dst);
	size_t len;
	int err, out;

	err = connredir_query_records(c, blob, sizeof(blob), &len);
	if (!err)
		err = connredir_query_state(c, &st);
	if (!err)
		err = connredir_query_context(c, &ctx);
	if (!err)
		err = connredir_original_dst(c, &dst, &dlen);
	if (err) {
		fprintf(stderr, "records-proxy: not a redirected connection: %s\n",
			strerror(-err));
		return 1;
	}
	if (dst.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&dst)->sin_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&dst)->sin6_addr, addr, sizeof(addr));
	printf("flow %016llx service %u hop %u state %s app %s pid %u dst %s port %u\n",
	       (unsigned long long)ctx.flow_id, ctx.service_id, ctx.hop,
	       connredir_state_name(st.state), ctx.app_comm, ctx.app_pid, addr,
	       ntohs(ctx.orig_dst_port));
	fflush(stdout);

	out = socket(dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (out < 0)
		return 1;
	err = connredir_set_records(out, blob, len);   /* before connect() */
	if (err || connect(out, (struct sockaddr *)&dst, dlen)) {
		fprintf(stderr, "records-proxy: onward to %s: %s\n", addr,
			strerror(err ? -err : errno));
		return 1;
	}
	relay(c, out);
	close(out);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int l, c, one = 1, err;

	if (argc != 3 || parse_listen(argv[2], &ss, &len)) {
		fprintf(stderr, "Usage: records-proxy SERVICE ADDR:PORT\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN);   /* no zombies */
	l = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&ss, len) || listen(l, 128)) {
		perror("records-proxy: listen");
		return 1;
	}
	err = connredir_claim_listener(l, argv[1]);
	if (err) {
		fprintf(stderr, "records-proxy: claiming the listener for '%s': %s\n",
			argv[1], strerror(-err));
		return 1;
	}
	printf("listening on %s for service %s\n", argv[2], argv[1]);
	fflush(stdout);
	for (;;) {
		c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("records-proxy: accept");
			return 1;
		}
		switch (fork()) {
		case 0:
			close(l);
			_exit(handle(c));
		case -1:
			perror("records-proxy: fork");
			break;
		}
		close(c);
	}
}
