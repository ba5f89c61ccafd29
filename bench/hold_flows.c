// SPDX-License-Identifier: MIT
/*
 * hold_flows - open many connections and keep them open, so that what each
 * open flow costs (kernel maps, socket storage, a proxy's memory) can be
 * read while they are. Each connection carries one request and its
 * one-byte reply first, so a flow through a proxy is established end to end
 * (the proxy's onward connection too) before it counts as open.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

#define PROG "hold_flows"
#define MAX_TARGETS 8

static const char usage_text[] =
"Usage: hold_flows --count N [--batch B] [--hold S] [--ready FILE] ADDR:PORT...\n"
"       hold_flows -h|--help\n"
"\n"
"Opens N connections to bench_servers, spread evenly over the ADDR:PORT\n"
"given (IPv6 as [ADDR]:PORT; one address pair has about 64,000 ports, so\n"
"give more targets, e.g. an IPv4 and an IPv6 one, for more flows). Each\n"
"sends one request and reads its one-byte reply, then stays open. Once\n"
"all are open it creates FILE (containing the number open), and holds\n"
"them until SIGTERM/SIGINT or --hold seconds; then it resets them (no\n"
"TIME_WAIT left behind) and prints one JSON object.\n"
"\n"
"  --count N      connections to open (required)\n"
"  --batch B      connections opened before their replies are read\n"
"                 (default 256)\n"
"  --hold S       hold at most S seconds (default: until a signal)\n"
"  --ready FILE   create FILE once every connection is open\n"
"  -h, --help     show this help\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "hold", required_argument, NULL, 'H' },
		{ "ready", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sockaddr_storage dst[MAX_TARGETS];
	socklen_t dst_len[MAX_TARGETS];
	struct sigaction sa = { .sa_handler = on_signal };
	struct timeval tv = { .tv_sec = 10 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct bench_req req = { .magic = BENCH_MAGIC, .req_len = sizeof(req), .reply_len = 1 };
	uint64_t count = 0, batch = 256, hold = 0, opened = 0, failed = 0, i, k, t0, t_open;
	uint64_t nofile;
	const char *ready = NULL, *first_step = NULL;
	unsigned n_dst = 0;
	int *fds, c, err, first_err = 0;
	struct bench_json j;
	char byte;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (bench_parse_count(optarg, 1, 10000000, &count)) {
				bench_err(PROG, "--count '%s': not a positive number", optarg);
				return 2;
			}
			break;
		case 'b':
			if (bench_parse_count(optarg, 1, 65536, &batch)) {
				bench_err(PROG, "--batch '%s': not a number from 1 to 65536", optarg);
				return 2;
			}
			break;
		case 'H':
			if (bench_parse_seconds(optarg, &hold)) {
				bench_err(PROG, "--hold '%s': not a number of seconds", optarg);
				return 2;
			}
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (!count || optind == argc || argc - optind > MAX_TARGETS) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (; optind < argc; optind++, n_dst++)
		if (bench_parse_endpoint(PROG, "server", argv[optind], &dst[n_dst],
					 &dst_len[n_dst]))
			return 2;
	nofile = bench_raise_nofile();
	if (nofile < count + 32) {
		bench_err(PROG, "--count %llu: the descriptor limit (RLIMIT_NOFILE) is %llu",
			  (unsigned long long)count, (unsigned long long)nofile);
		return 1;
	}
	fds = malloc(count * sizeof(*fds));
	if (!fds) {
		bench_err(PROG, "out of memory");
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	t0 = bench_now_ns();
	for (i = 0; i < count && !stop; i += batch) {
		uint64_t end = i + batch < count ? i + batch : count;

		for (k = i; k < end; k++) {
			struct sockaddr_storage *d = &dst[k % n_dst];
			const char *step = "socket";
			int fd;

			fds[k] = -1;
			fd = socket(d->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd >= 0) {
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
				step = "connect";
				err = connect(fd, (struct sockaddr *)d, dst_len[k % n_dst]) ? -errno : 0;
				if (!err) {
					step = "send";
					err = bench_write_all(fd, &req, sizeof(req));
				}
				if (!err) {
					fds[k] = fd;
					continue;
				}
				close(fd);
			} else {
				err = -errno;
			}
			if (!failed++) {
				first_err = -err;
				first_step = step;
			}
		}
		for (k = i; k < end; k++) {
			if (fds[k] < 0)
				continue;
			err = bench_read_all(fds[k], &byte, 1);
			if (!err) {
				opened++;
				continue;
			}
			close(fds[k]);
			fds[k] = -1;
			if (!failed++) {
				first_err = -err;
				first_step = "recv";
			}
		}
	}
	t_open = bench_now_ns() - t0;
	if (ready) {
		FILE *f = fopen(ready, "w");

		if (!f || fprintf(f, "%llu\n", (unsigned long long)opened) < 0 || fclose(f)) {
			bench_err(PROG, "--ready '%s': %s", ready, strerror(errno));
			stop = 1;
		}
	}
	t0 = bench_now_ns();
	while (!stop && (!hold || bench_now_ns() - t0 < hold))
		usleep(50000);
	for (k = 0; k < count && k < i; k++) {
		if (fds[k] < 0)
			continue;
		setsockopt(fds[k], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[k]);
	}
	free(fds);

	bench_json_begin(&j);
	bench_json_str(&j, "bench", "hold_flows");
	bench_json_u64(&j, "requested", count);
	bench_json_u64(&j, "opened", opened);
	bench_json_u64(&j, "failed", failed);
	if (failed) {
		char why[160];

		snprintf(why, sizeof(why), "%s: %s", first_step, strerror(first_err));
		bench_json_str(&j, "first_error", why);
	} else {
		bench_json_str(&j, "first_error", NULL);
	}
	bench_json_dbl(&j, "open_s", (double)t_open / 1e9);
	bench_json_dbl(&j, "open_rate_per_s", t_open ? (double)opened * 1e9 / (double)t_open : 0);
	bench_json_close(&j);
	return 0;
}
