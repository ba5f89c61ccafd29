// SPDX-License-Identifier: MIT
/*
 * crd-setrec - try to set a (possibly damaged) records blob on a new socket,
 * then optionally connect and say where the connection really went.
 *
 *   crd-setrec [--truncate N] [--flip token|flow|hop|magic|size]
 *              [--connect-first] [--connect ADDR:PORT] BLOBFILE
 *
 * Prints "set <ok|EINVAL|EACCES|EISCONN|...>" and, with --connect,
 * "peer <ADDR:PORT>" (getpeername after connect: a redirected connection
 * shows the proxy) or "connect-error <errno>". Exit 0 unless it could not
 * run at all (bad arguments, unreadable blob, socket failure).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>
#include "parse.h"

static const char *errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case EISCONN: return "EISCONN";
	case ENOENT: return "ENOENT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return strerror(e);
	}
}

static socklen_t to_sockaddr(const struct crd_ipaddr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->addr + 12, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->addr, 16);
	return sizeof(*s6);
}

int main(int argc, char **argv)
{
	const char *flip = NULL, *target = NULL, *why, *path = NULL;
	unsigned char blob[CONNREDIR_RECORDS_MAX];
	struct sockaddr_storage ss, peer;
	struct crd_ipaddr addr;
	size_t len, trunc = 0;
	int connect_first = 0, fd, i, err = 0;
	socklen_t sl = 0, pl;
	uint16_t port = 0;
	FILE *f;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--truncate") && i + 1 < argc)
			trunc = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--flip") && i + 1 < argc)
			flip = argv[++i];
		else if (!strcmp(argv[i], "--connect") && i + 1 < argc)
			target = argv[++i];
		else if (!strcmp(argv[i], "--connect-first"))
			connect_first = 1;
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else {
			fprintf(stderr, "usage: crd-setrec [--truncate N] [--flip token|flow|hop|magic|size] "
				"[--connect-first] [--connect ADDR:PORT] BLOBFILE\n");
			return 2;
		}
	}
	if (!path || (connect_first && !target))
		return fprintf(stderr, "crd-setrec: BLOBFILE (and --connect with --connect-first) needed\n"), 2;
	f = fopen(path, "r");
	if (!f)
		return fprintf(stderr, "crd-setrec: %s: %s\n", path, strerror(errno)), 2;
	len = fread(blob, 1, sizeof(blob), f);
	fclose(f);
	if (len < 32)
		return fprintf(stderr, "crd-setrec: %s: too short\n", path), 2;
	/* Offsets follow struct crd_blob: magic 0, size 6, token 8, flow 16,
	 * nhops 24, hops 32. */
	if (flip) {
		if (!strcmp(flip, "magic"))
			blob[0] ^= 1;
		else if (!strcmp(flip, "size"))
			blob[6] ^= 1;
		else if (!strcmp(flip, "token"))
			blob[8] ^= 0x55;
		else if (!strcmp(flip, "flow"))
			blob[16] ^= 0x55;
		else if (!strcmp(flip, "hop"))
			blob[32] ^= 0x7;
		else
			return fprintf(stderr, "crd-setrec: --flip %s: unknown field\n", flip), 2;
	}
	if (trunc && trunc < len)
		len = trunc;
	if (target) {
		if (crd_parse_endpoint(target, &addr, &port, &why))
			return fprintf(stderr, "crd-setrec: --connect %s: %s\n", target, why), 2;
		sl = to_sockaddr(&addr, port, &ss);
	}
	fd = socket(target ? ss.ss_family : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return perror("crd-setrec: socket"), 2;
	if (connect_first && connect(fd, (struct sockaddr *)&ss, sl))
		return fprintf(stderr, "crd-setrec: connect: %s\n", strerror(errno)), 2;
	err = connredir_set_records(fd, blob, len);
	printf("set %s\n", errname(-err));
	if (target && !connect_first) {
		if (connect(fd, (struct sockaddr *)&ss, sl)) {
			printf("connect-error %s\n", errname(errno));
		} else {
			struct crd_ipaddr pa = { 0 };
			char buf[64];

			pl = sizeof(peer);
			getpeername(fd, (struct sockaddr *)&peer, &pl);
			if (peer.ss_family == AF_INET) {
				pa.family = AF_INET;
				pa.addr[10] = pa.addr[11] = 0xff;
				memcpy(pa.addr + 12, &((struct sockaddr_in *)&peer)->sin_addr, 4);
				port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
			} else {
				pa.family = AF_INET6;
				memcpy(pa.addr, &((struct sockaddr_in6 *)&peer)->sin6_addr, 16);
				port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
			}
			printf("peer %s\n", crd_format_endpoint(&pa, port, buf, sizeof(buf)));
			shutdown(fd, SHUT_WR);
			while (read(fd, buf, sizeof(buf)) > 0)
				;
		}
	}
	close(fd);
	return 0;
}
