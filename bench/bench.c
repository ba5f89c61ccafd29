// SPDX-License-Identifier: MIT
/*
 * bench.c - helpers shared by the benchmark programs (see bench.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "parse.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_parse_seconds(const char *s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 1000000000ull;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 3600)
			return -EINVAL;
	}
	if (p == s && *p != '.')
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (!*p)
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return -EINVAL;
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p || (whole == 3600 && frac))
		return -EINVAL;
	*ns = whole * 1000000000ull + frac;
	return 0;
}

int bench_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (crd_parse_u64(s, max, &v, NULL) || v < min)
		return -EINVAL;
	*out = v;
	return 0;
}

/* ---- samples ---- */

int bench_samples_add(struct bench_samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
	return 0;
}

int bench_samples_merge(struct bench_samples *to, const struct bench_samples *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		if (bench_samples_add(to, from->v[i]))
			return -ENOMEM;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The sample at quantile q (nearest rank) of a sorted set of n > 0. */
static uint64_t quantile(const uint64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	return v[i >= n ? n - 1 : i];
}

void bench_samples_summary(struct bench_samples *s, struct bench_summary *out)
{
	long double sum = 0;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	for (i = 0; i < s->n; i++)
		sum += s->v[i];
	out->n = s->n;
	out->min = s->v[0];
	out->max = s->v[s->n - 1];
	out->p25 = quantile(s->v, s->n, 0.25);
	out->p50 = quantile(s->v, s->n, 0.50);
	out->p75 = quantile(s->v, s->n, 0.75);
	out->p90 = quantile(s->v, s->n, 0.90);
	out->p99 = quantile(s->v, s->n, 0.99);
	out->p999 = quantile(s->v, s->n, 0.999);
	out->mean = (double)(sum / s->n);
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* ---- JSON ---- */

static void member(struct bench_json *j, const char *key)
{
	if (!j->first[j->depth])
		putchar(',');
	j->first[j->depth] = false;
	if (key)
		printf("\"%s\":", key);
}

void bench_json_begin(struct bench_json *j)
{
	memset(j, 0, sizeof(*j));
	j->first[0] = true;
	putchar('{');
}

void bench_json_obj(struct bench_json *j, const char *key)
{
	member(j, key);
	putchar('{');
	if (j->depth < 7)
		j->depth++;
	j->first[j->depth] = true;
}

void bench_json_close(struct bench_json *j)
{
	putchar('}');
	if (j->depth == 0) {
		putchar('\n');
		fflush(stdout);
	} else {
		j->depth--;
	}
}

void bench_json_u64(struct bench_json *j, const char *key, uint64_t v)
{
	member(j, key);
	printf("%llu", (unsigned long long)v);
}

void bench_json_dbl(struct bench_json *j, const char *key, double v)
{
	member(j, key);
	if (v != v || v > 1e300 || v < -1e300)
		fputs("null", stdout);
	else
		printf("%.6g", v);
}

void bench_json_str(struct bench_json *j, const char *key, const char *v)
{
	const unsigned char *p;

	member(j, key);
	if (!v) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

void bench_json_bool(struct bench_json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", stdout);
}

void bench_json_summary(struct bench_json *j, const char *key, const struct bench_summary *s)
{
	bench_json_obj(j, key);
	bench_json_u64(j, "n", s->n);
	bench_json_u64(j, "min", s->min);
	bench_json_u64(j, "p25", s->p25);
	bench_json_u64(j, "p50", s->p50);
	bench_json_u64(j, "p75", s->p75);
	bench_json_u64(j, "p90", s->p90);
	bench_json_u64(j, "p99", s->p99);
	bench_json_u64(j, "p999", s->p999);
	bench_json_u64(j, "max", s->max);
	bench_json_dbl(j, "mean", s->mean);
	bench_json_close(j);
}

/* ---- sockets ---- */

int bench_parse_endpoint(const char *prog, const char *what, const char *s,
			 struct sockaddr_storage *ss, socklen_t *len)
{
	struct crd_ipaddr a;
	const char *why = NULL;
	char buf[80];
	size_t n = strlen(s);
	uint16_t port;
	int any = 0;

	/* "ADDR:0", any free port, is fine for a listener. */
	if (n > 2 && n < sizeof(buf) && !strcmp(s + n - 2, ":0") && s[n - 3] != ':') {
		memcpy(buf, s, n + 1);
		buf[n - 1] = '1';
		s = buf;
		any = 1;
	}
	if (crd_parse_endpoint(s, &a, &port, &why)) {
		bench_err(prog, "%s '%s': %s", what, s, why ? why : "invalid");
		return -EINVAL;
	}
	if (any)
		port = 0;
	memset(ss, 0, sizeof(*ss));
	if (a.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a.addr + 12, 4);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a.addr, 16);
		*len = sizeof(*s6);
	}
	return 0;
}

int bench_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint64_t bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

int bench_touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* ---- set-ups ---- */

int bench_setup_parse(const char *prog, char *spec, struct bench_setup *u)
{
	char *tok, *save = NULL, *v;

	*u = (struct bench_setup){ .cg_fd = -1, .ns_fd = -1 };
	u->name = strtok_r(spec, ",", &save);
	if (!u->name || !*u->name || strchr(u->name, '=') || strchr(u->name, '"') ||
	    strchr(u->name, '\\'))
		goto bad;
	while ((tok = strtok_r(NULL, ",", &save))) {
		v = strchr(tok, '=');
		if (!v)
			goto bad;
		*v++ = 0;
		if (!strcmp(tok, "target"))
			u->target_s = v;
		else if (!strcmp(tok, "cgroup"))
			u->cgroup = v;
		else if (!strcmp(tok, "netns"))
			u->netns = v;
		else
			goto bad;
	}
	if (!u->target_s)
		goto bad;
	return bench_parse_endpoint(prog, "--setup target", u->target_s, &u->dst, &u->dlen);
bad:
	bench_err(prog, "--setup: not NAME,target=ADDR:PORT[,cgroup=DIR][,netns=FILE]");
	return -EINVAL;
}

int bench_setup_single(const char *prog, const char *target, struct bench_setup *u)
{
	*u = (struct bench_setup){ .name = "default", .target_s = target,
				   .cg_fd = -1, .ns_fd = -1 };
	return bench_parse_endpoint(prog, "server", target, &u->dst, &u->dlen);
}

int bench_cgroup_open(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int bench_cgroup_enter(int fd)
{
	return write(fd, "0\n", 2) == 2 ? 0 : -errno;
}

int bench_setup_open(const char *prog, struct bench_setup *u)
{
	static int initial = -1;

	if (u->cgroup) {
		u->cg_fd = bench_cgroup_open(u->cgroup);
		if (u->cg_fd < 0) {
			bench_err(prog, "set-up %s: cgroup '%s': %s", u->name, u->cgroup,
				  strerror(-u->cg_fd));
			return -1;
		}
	}
	if (initial < 0)
		initial = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	u->ns_fd = u->netns ? open(u->netns, O_RDONLY | O_CLOEXEC) : initial;
	if (u->ns_fd < 0) {
		bench_err(prog, "set-up %s: netns '%s': %s", u->name,
			  u->netns ? u->netns : "/proc/thread-self/ns/net", strerror(errno));
		return -1;
	}
	return 0;
}

int bench_setup_enter_cgroup(const struct bench_setup *u)
{
	return u->cg_fd >= 0 ? bench_cgroup_enter(u->cg_fd) : 0;
}

int bench_setup_enter_netns(const struct bench_setup *u, int *cur)
{
	if (*cur == u->ns_fd)
		return 0;
	if (setns(u->ns_fd, CLONE_NEWNET))
		return -errno;
	*cur = u->ns_fd;
	return 0;
}

void bench_err(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
