// SPDX-License-Identifier: MIT
/*
 * conn_rate - new connections per second, each carrying one small request
 * and its reply, from --concurrency threads that each open connections one
 * after the other. The server closes after its reply (like HTTP/1.0), the
 * client reads to EOF and then closes, so no client port is left in
 * TIME_WAIT.
 *
 * With --setup, several set-ups take turns in slices of --slice seconds:
 * before each slice the process moves into the set-up's cgroup and every
 * thread into its network namespace; all threads stop at the slice's end
 * (finishing the connection in hand) before the next set-up's slice.
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

#define PROG "conn_rate"
#define MAX_THREADS 64

static const char usage_text[] =
"Usage: conn_rate [--duration S] [--concurrency N] [--request B] [--reply B]\n"
"                 [--slice S] ADDR:PORT | --setup SPEC...\n"
"       conn_rate -h|--help\n"
"\n"
"Opens connections to a bench_server at ADDR:PORT (IPv6 as [ADDR]:PORT) as\n"
"fast as it can: each sends one request, reads the reply and the server's\n"
"EOF, and closes. Prints one JSON object: connections completed, errors,\n"
"the rate, and the latency summary (nanoseconds, socket() to EOF); with\n"
"--setup, one such object per set-up under \"setups\".\n"
"\n"
"  --duration S      run for S seconds (default 2; decimals allowed)\n"
"  --concurrency N   threads, each with one connection at a time (default 4)\n"
"  --request B       request bytes, header included (default 64, >= 16)\n"
"  --reply B         reply bytes (default 64)\n"
"  --setup SPEC      a set-up to take turns with the others (up to 8):\n"
"                    NAME,target=ADDR:PORT[,cgroup=DIR][,netns=FILE]: connect\n"
"                    to ADDR:PORT with this process in the cgroup v2\n"
"                    directory DIR and the threads in the network namespace\n"
"                    FILE (e.g. /proc/PID/ns/net)\n"
"  --slice S         the turn of each set-up (default 0.1)\n"
"  -h, --help        show this help\n";

struct stats {
	struct bench_samples s;
	uint64_t ok, errors;
	int first_err;
	const char *first_step;
};

struct worker {
	pthread_t th;
	int ns_cur;
	struct stats st[BENCH_MAX_SETUPS];
};

static struct bench_setup su[BENCH_MAX_SETUPS];
static unsigned n_su;
static uint64_t req_bytes = 64, reply_bytes = 64;
static char *reqbuf;
static pthread_barrier_t bar;
static volatile unsigned cur;       /* the set-up of this slice */
static volatile uint64_t slice_end;
static volatile int done;

/* One connection; 0, or -errno with *step naming what failed. */
static int one_conn(const struct bench_setup *u, char *rbuf, const char **step)
{
	struct timeval tv = { .tv_sec = 10 };
	char tail;
	ssize_t n;
	int fd, err;

	*step = "socket";
	fd = socket(u->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	*step = "connect";
	if (connect(fd, (const struct sockaddr *)&u->dst, u->dlen)) {
		err = -errno;
		goto out;
	}
	*step = "send";
	err = bench_write_all(fd, reqbuf, req_bytes);
	if (err)
		goto out;
	*step = "recv";
	err = bench_read_all(fd, rbuf, reply_bytes);
	if (err)
		goto out;
	*step = "recv EOF";
	n = recv(fd, &tail, 1, 0);
	err = n == 0 ? 0 : n < 0 ? -errno : -EPROTO;
out:
	close(fd);
	return err;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char *rbuf = malloc(reply_bytes ? reply_bytes : 1);
	const struct bench_setup *u;
	struct stats *st;
	const char *step;
	uint64_t t0;
	int err;

	w->ns_cur = -1;
	for (;;) {
		pthread_barrier_wait(&bar);         /* the slice starts */
		if (done)
			break;
		st = &w->st[cur];
		u = &su[cur];
		err = bench_setup_enter_netns(u, &w->ns_cur);
		if (err) {
			if (!st->errors++) {
				st->first_err = -err;
				st->first_step = "setns";
			}
		} else {
			while (rbuf && (t0 = bench_now_ns()) < slice_end) {
				err = one_conn(u, rbuf, &step);
				if (err) {
					if (!st->errors++) {
						st->first_err = -err;
						st->first_step = step;
					}
					continue;
				}
				st->ok++;
				bench_samples_add(&st->s, bench_now_ns() - t0);
			}
		}
		pthread_barrier_wait(&bar);         /* the slice ended */
	}
	free(rbuf);
	return NULL;
}

static void json_stats(struct bench_json *j, const char *key, struct stats *st,
		       uint64_t time_ns)
{
	struct bench_summary sum;

	bench_samples_summary(&st->s, &sum);
	if (key)
		bench_json_obj(j, key);
	bench_json_u64(j, "connections", st->ok);
	bench_json_u64(j, "errors", st->errors);
	if (st->errors) {
		char why[160];

		snprintf(why, sizeof(why), "%s: %s", st->first_step, strerror(st->first_err));
		bench_json_str(j, "first_error", why);
	} else {
		bench_json_str(j, "first_error", NULL);
	}
	bench_json_dbl(j, key ? "busy_s" : "duration_s", (double)time_ns / 1e9);
	bench_json_dbl(j, "rate_per_s", time_ns ? (double)st->ok * 1e9 / (double)time_ns : 0);
	bench_json_summary(j, "lat_ns", &sum);
	if (key)
		bench_json_close(j);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "request", required_argument, NULL, 'q' },
		{ "reply", required_argument, NULL, 'r' },
		{ "setup", required_argument, NULL, 's' },
		{ "slice", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct worker ws[MAX_THREADS];
	static struct stats tot[BENCH_MAX_SETUPS];
	uint64_t duration = 2000000000ull, slice = 100000000ull, conc = 4, start, t0, t;
	uint64_t time_ns[BENCH_MAX_SETUPS] = { 0 };
	struct bench_req req;
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
		case 'c':
			if (bench_parse_count(optarg, 1, MAX_THREADS, &conc)) {
				bench_err(PROG, "--concurrency '%s': not a number from 1 to %d",
					  optarg, MAX_THREADS);
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
			if (bench_parse_count(optarg, 0, BENCH_MAX_MSG, &reply_bytes)) {
				bench_err(PROG, "--reply '%s': not a number from 0 to %u",
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
	for (i = 0; i < n_su; i++)
		if (bench_setup_open(PROG, &su[i]))
			return 1;
	signal(SIGPIPE, SIG_IGN);
	reqbuf = calloc(1, req_bytes);
	if (!reqbuf) {
		bench_err(PROG, "out of memory");
		return 1;
	}
	req = (struct bench_req){ .magic = BENCH_MAGIC, .req_len = (uint32_t)req_bytes,
				  .reply_len = (uint32_t)reply_bytes, .flags = BENCH_F_CLOSE };
	memcpy(reqbuf, &req, sizeof(req));

	pthread_barrier_init(&bar, NULL, (unsigned)conc + 1);
	for (i = 0; i < conc; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i])) {
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
	for (i = 0; i < conc; i++)
		pthread_join(ws[i].th, NULL);
	for (k = 0; k < n_su; k++) {
		for (i = 0; i < conc; i++) {
			struct stats *s = &ws[i].st[k];

			if (s->errors && !tot[k].errors) {
				tot[k].first_err = s->first_err;
				tot[k].first_step = s->first_step;
			}
			tot[k].errors += s->errors;
			tot[k].ok += s->ok;
			bench_samples_merge(&tot[k].s, &s->s);
			bench_samples_free(&s->s);
		}
	}

	bench_json_begin(&j);
	bench_json_str(&j, "bench", "conn_rate");
	bench_json_u64(&j, "concurrency", conc);
	bench_json_u64(&j, "request_bytes", req_bytes);
	bench_json_u64(&j, "reply_bytes", reply_bytes);
	if (!multi) {
		json_stats(&j, NULL, &tot[0], t);
	} else {
		bench_json_dbl(&j, "slice_s", (double)slice / 1e9);
		bench_json_dbl(&j, "duration_s", (double)t / 1e9);
		bench_json_obj(&j, "setups");
		for (k = 0; k < n_su; k++)
			json_stats(&j, su[k].name, &tot[k], time_ns[k]);
		bench_json_close(&j);
	}
	bench_json_close(&j);
	for (k = 0; k < n_su; k++)
		bench_samples_free(&tot[k].s);
	free(reqbuf);
	return 0;
}
