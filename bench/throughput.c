// SPDX-License-Identifier: MIT
/*
 * throughput - bulk transfer: --streams connections each send as fast as
 * they can for a while, then half-close; the bench_server counts what it
 * received and answers the count, so the figure is bytes that arrived, not
 * bytes that left the client's buffers, over the time from connect() to
 * the count.
 *
 * With --setup, several set-ups take turns: each turn (--slice seconds) is
 * a fresh connection per stream, made after the process moved into the
 * set-up's cgroup and each stream's thread into its network namespace.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"

#define PROG "throughput"
#define MAX_STREAMS 16

static const char usage_text[] =
"Usage: throughput [--duration S] [--streams N] [--chunk B] [--slice S]\n"
"                  ADDR:PORT | --setup SPEC...\n"
"       throughput -h|--help\n"
"\n"
"Sends bulk data to a bench_server at ADDR:PORT (IPv6 as [ADDR]:PORT) on\n"
"each of N connections, then half-closes and reads the count of bytes the\n"
"server received. Prints one JSON object: bytes received, the time from\n"
"connect() to the last count, and the rate; with --setup, one such object\n"
"per set-up under \"setups\".\n"
"\n"
"  --duration S   send for S seconds in all (default 2; decimals allowed)\n"
"  --streams N    connections in parallel, one thread each (default 1)\n"
"  --chunk B      bytes per send() (default 131072)\n"
"  --setup SPEC   a set-up to take turns with the others (up to 8):\n"
"                 NAME,target=ADDR:PORT[,cgroup=DIR][,netns=FILE] (see\n"
"                 conn_rate --help)\n"
"  --slice S      the turn of each set-up: one connection per stream\n"
"                 sending this long (default 0.3)\n"
"  -h, --help     show this help\n";

struct stream {
	pthread_t th;
	int ns_cur;
	uint64_t sent[BENCH_MAX_SETUPS], received[BENCH_MAX_SETUPS];
	int err;
	const char *step;
};

static struct bench_setup su[BENCH_MAX_SETUPS];
static unsigned n_su;
static uint64_t chunk = 128 * 1024;
static char *buf;
static pthread_barrier_t bar;
static volatile unsigned cur;
static volatile uint64_t slice_end;
static volatile int done;

/* One connection sending until slice_end. 0 or -1 (s->err, s->step set). */
static int one_stream(struct stream *s, const struct bench_setup *u)
{
	struct timeval tv = { .tv_sec = 30 };
	struct bench_req req = { .magic = BENCH_MAGIC, .req_len = sizeof(req),
				 .flags = BENCH_F_SINK };
	uint64_t sent = 0, rcvd = 0;
	uint8_t cnt[8];
	ssize_t n;
	int fd, i;

	s->step = "setns";
	i = bench_setup_enter_netns(u, &s->ns_cur);
	if (i) {
		s->err = -i;
		return -1;
	}
	s->step = "socket";
	fd = socket(u->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		s->err = errno;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	s->step = "connect";
	if (connect(fd, (const struct sockaddr *)&u->dst, u->dlen))
		goto fail;
	s->step = "send";
	if (bench_write_all(fd, &req, sizeof(req)) < 0)
		goto fail;
	while (bench_now_ns() < slice_end) {
		n = send(fd, buf, chunk, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		sent += (uint64_t)n;
	}
	s->step = "shutdown";
	if (shutdown(fd, SHUT_WR))
		goto fail;
	s->step = "recv count";
	i = bench_read_all(fd, cnt, sizeof(cnt));
	if (i) {
		errno = -i;
		goto fail;
	}
	for (i = 7; i >= 0; i--)
		rcvd = rcvd << 8 | cnt[i];
	s->sent[cur] += sent;
	s->received[cur] += rcvd;
	close(fd);
	return 0;
fail:
	s->err = errno;
	close(fd);
	return -1;
}

static void *stream_main(void *arg)
{
	struct stream *s = arg;

	s->ns_cur = -1;
	for (;;) {
		pthread_barrier_wait(&bar);
		if (done)
			break;
		if (!s->err)
			one_stream(s, &su[cur]);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

static void json_rate(struct bench_json *j, const char *key, uint64_t sent, uint64_t rcvd,
		      uint64_t time_ns)
{
	double secs = (double)time_ns / 1e9;

	if (key)
		bench_json_obj(j, key);
	bench_json_u64(j, "bytes_sent", sent);
	bench_json_u64(j, "bytes_received", rcvd);
	bench_json_dbl(j, key ? "busy_s" : "duration_s", secs);
	bench_json_dbl(j, "gbit_per_s", secs > 0 ? (double)rcvd * 8 / 1e9 / secs : 0);
	bench_json_dbl(j, "mbyte_per_s", secs > 0 ? (double)rcvd / 1e6 / secs : 0);
	if (key)
		bench_json_close(j);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "streams", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "setup", required_argument, NULL, 'u' },
		{ "slice", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct stream ss[MAX_STREAMS];
	uint64_t duration = 2000000000ull, slice = 300000000ull, streams = 1, start, t0, t;
	uint64_t time_ns[BENCH_MAX_SETUPS] = { 0 }, sent, rcvd;
	struct bench_json j;
	unsigned i, k;
	bool multi;
	int c, err;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (bench_parse_seconds(optarg, &duration) || !duration) {
				bench_err(PROG, "--duration '%s': not a number of seconds", optarg);
				return 2;
			}
			break;
		case 's':
			if (bench_parse_count(optarg, 1, MAX_STREAMS, &streams)) {
				bench_err(PROG, "--streams '%s': not a number from 1 to %d",
					  optarg, MAX_STREAMS);
				return 2;
			}
			break;
		case 'c':
			if (bench_parse_count(optarg, 1, 16u << 20, &chunk)) {
				bench_err(PROG, "--chunk '%s': not a number from 1 to %u",
					  optarg, 16u << 20);
				return 2;
			}
			break;
		case 'u':
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
	for (i = 0; i < n_su; i++)
		if (bench_setup_open(PROG, &su[i]))
			return 1;
	signal(SIGPIPE, SIG_IGN);
	buf = malloc(chunk);
	if (!buf) {
		bench_err(PROG, "out of memory");
		return 1;
	}
	memset(buf, 0x5a, chunk);

	pthread_barrier_init(&bar, NULL, (unsigned)streams + 1);
	for (i = 0; i < streams; i++) {
		if (pthread_create(&ss[i].th, NULL, stream_main, &ss[i])) {
			bench_err(PROG, "pthread_create: failed");
			return 1;
		}
	}
	start = bench_now_ns();
	do {
		for (i = 0; i < n_su; i++) {
			err = bench_setup_enter_cgroup(&su[i]);
			if (err) {
				bench_err(PROG, "set-up %s: cgroup '%s': %s", su[i].name,
					  su[i].cgroup, strerror(-err));
				return 1;
			}
			cur = i;
			t0 = bench_now_ns();
			slice_end = t0 + slice;
			pthread_barrier_wait(&bar);
			pthread_barrier_wait(&bar);
			time_ns[i] += bench_now_ns() - t0;
		}
	} while (bench_now_ns() - start < duration);
	t = bench_now_ns() - start;
	done = 1;
	pthread_barrier_wait(&bar);
	for (i = 0; i < streams; i++) {
		pthread_join(ss[i].th, NULL);
		if (ss[i].err) {
			bench_err(PROG, "stream %u: %s: %s", i, ss[i].step, strerror(ss[i].err));
			return 1;
		}
	}

	bench_json_begin(&j);
	bench_json_str(&j, "bench", "throughput");
	bench_json_u64(&j, "streams", streams);
	bench_json_u64(&j, "chunk_bytes", chunk);
	if (multi) {
		bench_json_dbl(&j, "slice_s", (double)slice / 1e9);
		bench_json_dbl(&j, "duration_s", (double)t / 1e9);
		bench_json_obj(&j, "setups");
	}
	for (k = 0; k < n_su; k++) {
		for (sent = rcvd = 0, i = 0; i < streams; i++) {
			sent += ss[i].sent[k];
			rcvd += ss[i].received[k];
		}
		json_rate(&j, multi ? su[k].name : NULL,
			  sent, rcvd, time_ns[k]);
	}
	if (multi)
		bench_json_close(&j);
	bench_json_close(&j);
	free(buf);
	return 0;
}
