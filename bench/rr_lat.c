// SPDX-License-Identifier: MIT
/*
 * rr_lat - request/reply round-trip latency on one established connection,
 * one request in flight at a time (ping-pong), TCP_NODELAY on.
 *
 * With --setup, one connection per set-up is made first (with the process
 * in the set-up's cgroup and network namespace), then the set-ups take
 * turns of --slice seconds on their connections.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

#define PROG "rr_lat"

static const char usage_text[] =
"Usage: rr_lat [--duration S] [--warmup N] [--request B] [--reply B] [--slice S]\n"
"              ADDR:PORT | --setup SPEC...\n"
"       rr_lat -h|--help\n"
"\n"
"Opens one connection to a bench_server at ADDR:PORT (IPv6 as\n"
"[ADDR]:PORT) and sends requests one at a time, each after the previous\n"
"reply arrived. Prints one JSON object: round trips and their latency\n"
"summary in nanoseconds (median p50, p99, p999); with --setup, one such\n"
"object per set-up under \"setups\".\n"
"\n"
"  --duration S   measure for S seconds in all (default 2; decimals allowed)\n"
"  --warmup N     round trips first, not counted (default 1000, per set-up)\n"
"  --request B    request bytes, header included (default 64, >= 16)\n"
"  --reply B      reply bytes (default 64)\n"
"  --setup SPEC   a set-up to take turns with the others (up to 8):\n"
"                 NAME,target=ADDR:PORT[,cgroup=DIR][,netns=FILE] (see\n"
"                 conn_rate --help)\n"
"  --slice S      the turn of each set-up (default 0.1)\n"
"  -h, --help     show this help\n";

static uint64_t req_bytes = 64, reply_bytes = 64;
static char *qbuf, *rbuf;

/* One round trip on @fd; its time in *t. 0 or -errno. */
static int round_trip(int fd, uint64_t *t)
{
	uint64_t t0 = bench_now_ns();
	int err;

	err = bench_write_all(fd, qbuf, req_bytes);
	if (!err)
		err = bench_read_all(fd, rbuf, reply_bytes);
	*t = bench_now_ns() - t0;
	return err;
}

static void json_rtt(struct bench_json *j, const char *key, struct bench_samples *s,
		     uint64_t time_ns)
{
	struct bench_summary sum;

	bench_samples_summary(s, &sum);
	if (key)
		bench_json_obj(j, key);
	bench_json_u64(j, "round_trips", sum.n);
	bench_json_dbl(j, key ? "busy_s" : "duration_s", (double)time_ns / 1e9);
	bench_json_dbl(j, "rate_per_s", time_ns ? (double)sum.n * 1e9 / (double)time_ns : 0);
	bench_json_summary(j, "rtt_ns", &sum);
	if (key)
		bench_json_close(j);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "request", required_argument, NULL, 'q' },
		{ "reply", required_argument, NULL, 'r' },
		{ "setup", required_argument, NULL, 's' },
		{ "slice", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct bench_setup su[BENCH_MAX_SETUPS];
	static struct bench_samples s[BENCH_MAX_SETUPS];
	uint64_t time_ns[BENCH_MAX_SETUPS] = { 0 };
	uint64_t duration = 2000000000ull, slice = 100000000ull, warmup = 1000;
	uint64_t start, t0, end, t, i;
	struct timeval tv = { .tv_sec = 10 };
	int fd[BENCH_MAX_SETUPS], c, one = 1, err, ns_cur = -1;
	unsigned n_su = 0, k;
	struct bench_req req;
	struct bench_json j;
	bool multi;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (bench_parse_seconds(optarg, &duration) || !duration) {
				bench_err(PROG, "--duration '%s': not a number of seconds", optarg);
				return 2;
			}
			break;
		case 'w':
			if (bench_parse_count(optarg, 0, UINT32_MAX, &warmup)) {
				bench_err(PROG, "--warmup '%s': not a number", optarg);
				return 2;
			}
			break;
		case 'q':
			if (bench_parse_count(optarg, sizeof(req), BENCH_MAX_MSG, &req_bytes)) {
				bench_err(PROG, "--request '%s': not a number from %zu to %u",
					  optarg, sizeof(req), BENCH_MAX_MSG);
				return 2;
			}
			break;
		case 'r':
			if (bench_parse_count(optarg, 1, BENCH_MAX_MSG, &reply_bytes)) {
				bench_err(PROG, "--reply '%s': not a number from 1 to %u",
					  optarg, BENCH_MAX_MSG);
				return 2;
			}
			break;
		case 's':
			if (n_su == BENCH_MAX_SETUPS) {
				bench_err(PROG, "--setup: at most %d", BENCH_MAX_SETUPS);
				return 2;
			}
			if (bench_setup_parse(PROG, optarg, &su[n_su++]))
				return 2;
			break;
		case 'l':
			if (bench_parse_seconds(optarg, &slice) || !slice) {
				bench_err(PROG, "--slice '%s': not a number of seconds", optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (n_su ? optind != argc : optind != argc - 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	multi = n_su > 0;
	if (!n_su) {
		if (bench_setup_single(PROG, argv[optind], &su[0]))
			return 2;
		n_su = 1;
		slice = duration;
	}
	signal(SIGPIPE, SIG_IGN);
	qbuf = calloc(1, req_bytes);
	rbuf = malloc(reply_bytes);
	if (!qbuf || !rbuf) {
		bench_err(PROG, "out of memory");
		return 1;
	}
	req = (struct bench_req){ .magic = BENCH_MAGIC, .req_len = (uint32_t)req_bytes,
				  .reply_len = (uint32_t)reply_bytes };
	memcpy(qbuf, &req, sizeof(req));

	/* One connection per set-up, each made where its set-up says. */
	for (k = 0; k < n_su; k++) {
		struct bench_setup *u = &su[k];

		if (bench_setup_open(PROG, u))
			return 1;
		err = bench_setup_enter_cgroup(u);
		if (!err)
			err = bench_setup_enter_netns(u, &ns_cur);
		if (err) {
			bench_err(PROG, "set-up %s: entering its cgroup or netns: %s", u->name,
				  strerror(-err));
			return 1;
		}
		fd[k] = socket(u->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd[k] < 0) {
			bench_err(PROG, "socket: %s", strerror(errno));
			return 1;
		}
		setsockopt(fd[k], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd[k], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd[k], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd[k], (const struct sockaddr *)&u->dst, u->dlen)) {
			bench_err(PROG, "connect '%s': %s", u->target_s, strerror(errno));
			return 1;
		}
		for (i = 0; i < warmup; i++) {
			err = round_trip(fd[k], &t);
			if (err) {
				bench_err(PROG, "%s: warm-up round trip %llu: %s", u->name,
					  (unsigned long long)i, strerror(-err));
				return 1;
			}
		}
	}

	start = bench_now_ns();
	do {
		for (k = 0; k < n_su; k++) {
			t0 = bench_now_ns();
			end = t0 + slice;
			for (i = 0;; i++) {
				err = round_trip(fd[k], &t);
				if (err) {
					bench_err(PROG, "%s: round trip: %s", su[k].name, strerror(-err));
					return 1;
				}
				if (bench_samples_add(&s[k], t)) {
					bench_err(PROG, "out of memory");
					return 1;
				}
				if (bench_now_ns() >= end)
					break;
			}
			time_ns[k] += bench_now_ns() - t0;
		}
	} while (bench_now_ns() - start < duration);
	t = bench_now_ns() - start;

	bench_json_begin(&j);
	bench_json_str(&j, "bench", "rr_lat");
	bench_json_u64(&j, "request_bytes", req_bytes);
	bench_json_u64(&j, "reply_bytes", reply_bytes);
	if (multi) {
		bench_json_dbl(&j, "slice_s", (double)slice / 1e9);
		bench_json_dbl(&j, "duration_s", (double)t / 1e9);
		bench_json_obj(&j, "setups");
	}
	for (k = 0; k < n_su; k++) {
		json_rtt(&j, multi ? su[k].name : NULL, &s[k], time_ns[k]);
		bench_samples_free(&s[k]);
		close(fd[k]);
	}
	if (multi)
		bench_json_close(&j);
	bench_json_close(&j);
	free(qbuf);
	free(rbuf);
	return 0;
}
