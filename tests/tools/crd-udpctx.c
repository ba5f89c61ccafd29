// SPDX-License-Identifier: MIT
/*
 * crd-udpctx - ask connredir for a UDP flow's context by its handle, as a
 * proxy would (connredir_udp_query_context), and print what came back:
 *
 *   crd-udpctx HANDLE       (hexadecimal, as crd-udpproxy logs it)
 *
 * Prints "ok app_pid=PID app_comm=COMM" or "error=ERRNO-NAME"; exits 0 if
 * the query was answered, 1 if it was refused, 2 on misuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <connredir/connredir.h>

int main(int argc, char **argv)
{
	struct connredir_context ctx;
	unsigned long h;
	char *end;
	int fd, err;

	if (argc != 2) {
		fprintf(stderr, "usage: crd-udpctx HANDLE\n");
		return 2;
	}
	errno = 0;
	h = strtoul(argv[1], &end, 16);
	if (errno || *end || end == argv[1] || h == 0 || h > 0xffffff) {
		fprintf(stderr, "crd-udpctx: '%s': not a handle (1-ffffff, hexadecimal)\n", argv[1]);
		return 2;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("crd-udpctx: socket");
		return 2;
	}
	err = connredir_udp_query_context(fd, (uint32_t)h, &ctx);
	close(fd);
	if (err) {
		printf("error=%s\n", strerrorname_np(-err) ? strerrorname_np(-err) : "?");
		return 1;
	}
	printf("ok app_pid=%u app_comm=%.16s\n", ctx.app_pid, ctx.app_comm);
	return 0;
}
