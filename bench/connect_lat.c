// SPDX-License-Identifier: MIT
/*
 * connect_lat - the latency of connect() + accept() to a local listener,
 * one connection at a time, in one process: what a connect hook adds.
 *
 * Each iteration: socket(), connect() (blocking) to the target, accept()
 * on the listener, --pairs times in a row; the time from the first
 * socket() to the last accept() is one sample. Then the accepted sockets
 * are closed, then the connecting ones (so TIME_WAIT stays on the
 * listener's side and the ephemeral ports are free at once); closing is
 * not in the sample, only in the rate.
 *
 * With --setup, several set-ups are measured in one run, interleaved in
 * blocks of --block iterations: before each block the process moves itself
 * into the set-up's cgroup (a socket belongs to the cgroup its creator was
 * in, so each set-up's sockets see that cgroup's programs, or none). On a
 * machine shared with other work, set-ups compared a few milliseconds
 * apart see the same background load, which separate runs do not.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define PROG "connect_lat"
#define MAX_PAIRS 4
#define MAX_SETUPS BENCH_MAX_SETUPS

static const char usage_text[] =
"Usage: connect_lat [--duration S] [--count N] [--warmup N] [--pairs N]\n"
"                   [--listen ADDR:PORT] [--listen-cgroup DIR] [--connect ADDR:PORT]\n"
"       connect_lat [--duration S] [--warmup N] [--block N] --setup SPEC...\n"
"       connect_lat -h|--help\n"
"\n"
"Measures connect() + accept() to a local listener, one connection at a\n"
"time. Prints one JSON object: iterations, rate and the latency summary\n"
"(nanoseconds) of one iteration; with --setup, one such object per set-up\n"
"under \"setups\".\n"
"\n"
"  --duration S         measure for S seconds (default 2; decimals allowed)\n"
"  --count N            stop after N iterations (default: no limit)\n"
"  --warmup N           iterations run first and not counted (default 200,\n"
"                       per set-up)\n"
"  --pairs N            connections per iteration, one after the other\n"
"                       (default 1, at most 4): --pairs 2 is the cost of one\n"
"                       more local connection\n"
"  --listen ADDR:PORT   the listener (default 127.0.0.1:0, any free port)\n"
"  --listen-cgroup DIR  create and bind the listener in a child process\n"
"                       placed in the cgroup v2 directory DIR (a proxy\n"
"                       identity), then accept here\n"
"  --connect ADDR:PORT  connect there instead of to the listener (a\n"
"                       destination a redirect service sends to it)\n"
"  --setup SPEC         a set-up to interleave with the others (up to 8):\n"
"                       NAME[,cgroup=DIR][,pairs=N][,listen=ADDR:PORT]\n"
"                       [,listen-cgroup=DIR][,connect=ADDR:PORT]; cgroup=DIR:\n"
"                       run its iterations (and make its listener) with this\n"
"                       process in the cgroup v2 directory DIR\n"
"  --block N            iterations per set-up before moving on to the next\n"
"                       (default 16)\n"
"  -h, --help           show this help\n";

struct setup {
	const char *name;
	const char *cgroup;       /* NULL: stay where we are */
	unsigned pairs;
	const char *listen_s, *listen_cg, *connect_s;
	int cg_fd;                /* DIR/cgroup.procs, or -1 */
	int lfd;
	struct sockaddr_storage dst;
	socklen_t dlen;
	struct bench_samples s;
	uint64_t busy_ns;         /* time in its blocks, closes included */
};

static int make_listener(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, 4096)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Make the listener in a child that first joins @cgdir; get it by SCM_RIGHTS. */
static int listener_in_cgroup(const char *cgdir, const struct sockaddr_storage *ss,
			      socklen_t len)
{
	char cbuf[CMSG_SPACE(sizeof(int))], dummy = 0;
	struct iovec iov = { .iov_base = &dummy, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int sp[2], fd = -1, st;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sp))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int cfd, l;

		close(sp[0]);
		cfd = bench_cgroup_open(cgdir);
		if (cfd < 0 || bench_cgroup_enter(cfd)) {
			bench_err(PROG, "listen-cgroup '%s': %s", cgdir,
				  strerror(cfd < 0 ? -cfd : errno));
			_exit(1);
		}
		l = make_listener(ss, len);
		if (l < 0) {
			bench_err(PROG, "listener: %s", strerror(-l));
			_exit(1);
		}
		memset(cbuf, 0, sizeof(cbuf));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &l, sizeof(int));
		_exit(sendmsg(sp[1], &mh, 0) == 1 ? 0 : 1);
	}
	close(sp[1]);
	if (recvmsg(sp[0], &mh, 0) == 1) {
		cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	close(sp[0]);
	waitpid(pid, &st, 0);
	return fd >= 0 ? fd : -EIO;
}

/* One iteration; @t is set to its latency. 0 or -errno (after a message). */
static int one_iteration(const struct setup *u, uint64_t *t)
{
	int c[MAX_PAIRS], a[MAX_PAIRS], err = 0;
	unsigned i, made = 0;
	uint64_t t0, t1;

	t0 = bench_now_ns();
	for (i = 0; i < u->pairs; i++) {
		c[i] = socket(u->dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c[i] < 0) {
			err = -errno;
			bench_err(PROG, "%s: socket: %s", u->name, strerror(errno));
			break;
		}
		if (connect(c[i], (const struct sockaddr *)&u->dst, u->dlen)) {
			err = -errno;
			bench_err(PROG, "%s: connect: %s", u->name, strerror(errno));
			close(c[i]);
			break;
		}
		a[i] = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (a[i] < 0) {
			err = -errno;
			bench_err(PROG, "%s: accept: %s", u->name, strerror(errno));
			close(c[i]);
			break;
		}
		made++;
	}
	t1 = bench_now_ns();
	*t = t1 - t0;
	for (i = 0; i < made; i++)
		close(a[i]);
	for (i = 0; i < made; i++)
		close(c[i]);
	return err;
}

/* Open the set-up's cgroup, enter it, make its listener. 0 or -1. */
static int setup_prepare(struct setup *u)
{
	struct sockaddr_storage lss;
	socklen_t llen;
	int err;

	u->cg_fd = -1;
	if (u->cgroup) {
		u->cg_fd = bench_cgroup_open(u->cgroup);
		if (u->cg_fd < 0 || bench_cgroup_enter(u->cg_fd)) {
			bench_err(PROG, "%s: cgroup '%s': %s", u->name, u->cgroup,
				  strerror(u->cg_fd < 0 ? -u->cg_fd : errno));
			return -1;
		}
	}
	if (bench_parse_endpoint(PROG, "listen", u->listen_s, &lss, &llen) ||
	    (u->connect_s && bench_parse_endpoint(PROG, "connect", u->connect_s, &u->dst, &u->dlen)))
		return -1;
	u->lfd = u->listen_cg ? listener_in_cgroup(u->listen_cg, &lss, llen)
			      : make_listener(&lss, llen);
	if (u->lfd < 0) {
		bench_err(PROG, "%s: listener '%s': %s", u->name, u->listen_s, strerror(-u->lfd));
		return -1;
	}
	if (!u->connect_s) {
		u->dlen = sizeof(u->dst);
		if (getsockname(u->lfd, (struct sockaddr *)&u->dst, &u->dlen)) {
			err = errno;
			bench_err(PROG, "%s: getsockname: %s", u->name, strerror(err));
			return -1;
		}
	}
	return 0;
}

/* "NAME,key=value,..." into @u (strings point into @spec, which is modified). */
static int parse_setup(char *spec, struct setup *u)
{
	char *tok, *save = NULL, *v;
	uint64_t n;

	*u = (struct setup){ .pairs = 1, .listen_s = "127.0.0.1:0" };
	u->name = strtok_r(spec, ",", &save);
	if (!u->name || !*u->name || strchr(u->name, '=') || strchr(u->name, '"'))
		return -EINVAL;
	while ((tok = strtok_r(NULL, ",", &save))) {
		v = strchr(tok, '=');
		if (!v)
			return -EINVAL;
		*v++ = 0;
		if (!strcmp(tok, "cgroup"))
			u->cgroup = v;
		else if (!strcmp(tok, "listen"))
			u->listen_s = v;
		else if (!strcmp(tok, "listen-cgroup"))
			u->listen_cg = v;
		else if (!strcmp(tok, "connect"))
			u->connect_s = v;
		else if (!strcmp(tok, "pairs") && !bench_parse_count(v, 1, MAX_PAIRS, &n))
			u->pairs = (unsigned)n;
		else
			return -EINVAL;
	}
	return 0;
}

static void json_setup(struct bench_json *j, struct setup *u, const char *key)
{
	struct bench_summary sum;

	bench_samples_summary(&u->s, &sum);
	if (key)
		bench_json_obj(j, key);
	bench_json_u64(j, "pairs", u->pairs);
	bench_json_bool(j, "redirect_target", u->connect_s != NULL);
	bench_json_u64(j, "iterations", sum.n);
	bench_json_dbl(j, "busy_s", (double)u->busy_ns / 1e9);
	bench_json_dbl(j, "rate_per_s", u->busy_ns ? (double)sum.n * 1e9 / (double)u->busy_ns : 0);
	bench_json_summary(j, "lat_ns", &sum);
	if (key)
		bench_json_close(j);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "pairs", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "listen-cgroup", required_argument, NULL, 'g' },
		{ "connect", required_argument, NULL, 'c' },
		{ "setup", required_argument, NULL, 's' },
		{ "block", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct setup su[MAX_SETUPS];
	uint64_t duration = 2000000000ull, count = 0, warmup = 200, pairs = 1, block = 16;
	const char *listen_s = "127.0.0.1:0", *connect_s = NULL, *cgdir = NULL;
	unsigned n_su = 0, i, k;
	bool single_opts = false;
	struct bench_json j;
	uint64_t t, start, end, b0, iters = 0;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (bench_parse_seconds(optarg, &duration) || !duration) {
				bench_err(PROG, "--duration '%s': not a number of seconds", optarg);
				return 2;
			}
			break;
		case 'n':
			if (bench_parse_count(optarg, 1, UINT32_MAX, &count)) {
				bench_err(PROG, "--count '%s': not a positive number", optarg);
				return 2;
			}
			break;
		case 'w':
			if (bench_parse_count(optarg, 0, UINT32_MAX, &warmup)) {
				bench_err(PROG, "--warmup '%s': not a number", optarg);
				return 2;
			}
			break;
		case 'p':
			if (bench_parse_count(optarg, 1, MAX_PAIRS, &pairs)) {
				bench_err(PROG, "--pairs '%s': not a number from 1 to %d",
					  optarg, MAX_PAIRS);
				return 2;
			}
			single_opts = true;
			break;
		case 'l':
			listen_s = optarg;
			single_opts = true;
			break;
		case 'g':
			cgdir = optarg;
			single_opts = true;
			break;
		case 'c':
			connect_s = optarg;
			single_opts = true;
			break;
		case 's':
			if (n_su == MAX_SETUPS || parse_setup(optarg, &su[n_su])) {
				bench_err(PROG, "--setup '%s': not NAME[,cgroup=DIR][,pairs=N]"
					  "[,listen=A:P][,listen-cgroup=DIR][,connect=A:P] "
					  "(at most %d)", optarg, MAX_SETUPS);
				return 2;
			}
			n_su++;
			break;
		case 'b':
			if (bench_parse_count(optarg, 1, 1000000, &block)) {
				bench_err(PROG, "--block '%s': not a positive number", optarg);
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
	if (optind != argc || (n_su && single_opts)) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!n_su) {
		su[0] = (struct setup){ .name = "default", .pairs = (unsigned)pairs,
					.listen_s = listen_s, .listen_cg = cgdir,
					.connect_s = connect_s };
		n_su = 1;
		block = UINT32_MAX;
	}
	for (i = 0; i < n_su; i++)
		if (setup_prepare(&su[i]))
			return 1;

	/* Warm-up, then blocks in turn until the time (or count) is up. */
	for (i = 0; i < n_su; i++) {
		if (su[i].cg_fd >= 0 && bench_cgroup_enter(su[i].cg_fd))
			return 1;
		for (k = 0; k < warmup; k++)
			if (one_iteration(&su[i], &t))
				return 1;
	}
	start = bench_now_ns();
	end = start + duration;
	for (;;) {
		for (i = 0; i < n_su; i++) {
			struct setup *u = &su[i];

			if (u->cg_fd >= 0 && n_su > 1 && bench_cgroup_enter(u->cg_fd)) {
				bench_err(PROG, "%s: cannot enter cgroup '%s': %s", u->name,
					  u->cgroup, strerror(errno));
				return 1;
			}
			b0 = bench_now_ns();
			for (k = 0; k < block; k++) {
				if (one_iteration(u, &t))
					return 1;
				if (bench_samples_add(&u->s, t)) {
					bench_err(PROG, "out of memory");
					return 1;
				}
				iters++;
				if ((count && iters >= count) ||
				    ((k & 15) == 15 && bench_now_ns() >= end))
					break;
			}
			u->busy_ns += bench_now_ns() - b0;
		}
		if ((count && iters >= count) || bench_now_ns() >= end)
			break;
	}
	t = bench_now_ns() - start;

	bench_json_begin(&j);
	bench_json_str(&j, "bench", "connect_lat");
	if (n_su == 1 && !su[0].cgroup && !strcmp(su[0].name, "default")) {
		json_setup(&j, &su[0], NULL);
		bench_json_dbl(&j, "duration_s", (double)t / 1e9);
	} else {
		bench_json_bool(&j, "interleaved", true);
		bench_json_u64(&j, "block", block);
		bench_json_dbl(&j, "duration_s", (double)t / 1e9);
		bench_json_obj(&j, "setups");
		for (i = 0; i < n_su; i++)
			json_setup(&j, &su[i], su[i].name);
		bench_json_close(&j);
	}
	bench_json_close(&j);
	for (i = 0; i < n_su; i++) {
		bench_samples_free(&su[i].s);
		close(su[i].lfd);
		if (su[i].cg_fd >= 0)
			close(su[i].cg_fd);
	}
	return 0;
}
