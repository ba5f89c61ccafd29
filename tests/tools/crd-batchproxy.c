// SPDX-License-Identifier: MIT
/*
 * crd-batchproxy - a transparent proxy that reads nothing: no records, no
 * context, no SO_ORIGINAL_DST. It accepts a batch of N connections, then
 * connects onward to a fixed address once per accepted connection, in the
 * order it accepted them, and relays each pair. A test fixture for the
 * first-in-first-out rule of implicit records.
 *
 *   crd-batchproxy --listen ADDR:PORT --to ADDR:PORT --batch N --log FILE
 *                  --ready FILE
 *
 * Logs "accept K peer=ADDR:PORT" for the K-th connection of a batch and
 * "onward K local=ADDR:PORT" for its onward connection (K from 0).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "parse.h"

#define MAX_BATCH 64

static const char *fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	struct crd_ipaddr a;
	uint16_t port;

	crd_ipaddr_from_sockaddr(ss, &a, &port);
	return crd_format_endpoint(&a, port, buf, len);
}

struct pair {
	int a, b;
};

static void *relay(void *arg)
{
	struct pair *p = arg;
	struct pollfd pf[2] = { { .fd = p->a, .events = POLLIN }, { .fd = p->b, .events = POLLIN } };
	char buf[16384];
	int open_dirs = 2;

	while (open_dirs > 0 && poll(pf, 2, -1) >= 0) {
		for (int i = 0; i < 2; i++) {
			ssize_t n, off = 0;

			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				shutdown(i ? p->a : p->b, SHUT_WR);
				pf[i].fd = -1;
				open_dirs--;
				continue;
			}
			while (off < n) {
				ssize_t w = write(i ? p->a : p->b, buf + off, n - off);

				if (w <= 0)
					goto out;
				off += w;
			}
		}
	}
out:
	close(p->a);
	close(p->b);
	free(p);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *listen_s = NULL, *to_s = NULL, *logpath = NULL, *ready = NULL, *why;
	struct sockaddr_storage lss, tss;
	socklen_t lsl, tsl;
	struct crd_ipaddr a;
	uint16_t port;
	int batch = 0, l, one = 1;
	FILE *log;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--listen"))
			listen_s = argv[i + 1];
		else if (!strcmp(argv[i], "--to"))
			to_s = argv[i + 1];
		else if (!strcmp(argv[i], "--batch"))
			batch = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--log"))
			logpath = argv[i + 1];
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[i + 1];
	}
	if (!listen_s || !to_s || !logpath || !ready || batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "usage: crd-batchproxy --listen ADDR:PORT --to ADDR:PORT "
			"--batch N (1-%d) --log FILE --ready FILE\n", MAX_BATCH);
		return 2;
	}
	if (crd_parse_endpoint(listen_s, &a, &port, &why)) {
		fprintf(stderr, "crd-batchproxy: --listen '%s': %s\n", listen_s, why);
		return 2;
	}
	lsl = crd_ipaddr_to_sockaddr(&a, port, crd_ipaddr_is_v4(&a), &lss);
	if (crd_parse_endpoint(to_s, &a, &port, &why)) {
		fprintf(stderr, "crd-batchproxy: --to '%s': %s\n", to_s, why);
		return 2;
	}
	tsl = crd_ipaddr_to_sockaddr(&a, port, crd_ipaddr_is_v4(&a), &tss);
	log = fopen(logpath, "a");
	if (!log) {
		fprintf(stderr, "crd-batchproxy: --log %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	l = socket(lss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(l, (struct sockaddr *)&lss, lsl) || listen(l, 1024)) {
		fprintf(stderr, "crd-batchproxy: listen %s: %s\n", listen_s, strerror(errno));
		return 1;
	}
	fclose(fopen(ready, "w"));
	for (;;) {
		int in[MAX_BATCH];
		char b1[64];

		for (int k = 0; k < batch; k++) {
			struct sockaddr_storage peer;
			socklen_t pl = sizeof(peer);

			in[k] = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
			if (in[k] < 0) {
				if (errno == EINTR || errno == ECONNABORTED) {
					k--;
					continue;
				}
				fprintf(stderr, "crd-batchproxy: accept: %s\n", strerror(errno));
				return 1;
			}
			fprintf(log, "accept %d peer=%s\n", k, fmt(&peer, b1, sizeof(b1)));
			fflush(log);
		}
		for (int k = 0; k < batch; k++) {
			struct sockaddr_storage loc;
			socklen_t ll = sizeof(loc);
			struct pair *p;
			pthread_t t;
			int out = socket(tss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

			if (out < 0 || connect(out, (struct sockaddr *)&tss, tsl) ||
			    getsockname(out, (struct sockaddr *)&loc, &ll)) {
				fprintf(log, "onward %d error=%s\n", k, strerror(errno));
				fflush(log);
				if (out >= 0)
					close(out);
				close(in[k]);
				continue;
			}
			fprintf(log, "onward %d local=%s\n", k, fmt(&loc, b1, sizeof(b1)));
			fflush(log);
			p = malloc(sizeof(*p));
			if (p) {
				p->a = in[k];
				p->b = out;
			}
			if (!p || pthread_create(&t, NULL, relay, p)) {
				free(p);
				close(out);
				close(in[k]);
				continue;
			}
			pthread_detach(t);
		}
	}
}
