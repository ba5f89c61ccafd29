/* SPDX-License-Identifier: MIT */
/*
 * bench.h - what the benchmark programs share: the request header the
 * bench_server understands, clocks, sample sets and their percentiles, a
 * one-object JSON writer for stdout, and small socket helpers.
 *
 * Every bench program prints exactly one JSON object on stdout (its result)
 * and nothing else there; errors go to stderr as "PROG: what: why" and the
 * program exits 1. Usage errors exit 2.
 */
#ifndef CONNREDIR_BENCH_H
#define CONNREDIR_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- the bench_server protocol ------------------------------------------ */

#define BENCH_MAGIC 0x48434e42u   /* "BNCH" little-endian */

/* struct bench_req.flags */
#define BENCH_F_CLOSE (1u << 0)   /* close the connection after the reply */
#define BENCH_F_SINK (1u << 1)    /* read to EOF, answer the byte count */

/*
 * A request: this header, then req_len - sizeof(header) bytes of payload.
 * The server answers reply_len bytes (zeros), then reads the next request,
 * or closes with BENCH_F_CLOSE. With BENCH_F_SINK it reads everything after
 * the header until EOF and answers the number of those bytes as a
 * little-endian uint64_t, then closes. Fields are little-endian.
 */
struct bench_req {
	uint32_t magic;           /* BENCH_MAGIC */
	uint32_t req_len;         /* bytes of this request, header included */
	uint32_t reply_len;       /* bytes the server answers */
	uint32_t flags;           /* BENCH_F_* */
};

#define BENCH_MAX_MSG (1u << 20)  /* request and reply sizes, at most */

/* ---- time ----------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/*
 * bench_parse_seconds - "2", "0.5", "0.025": seconds into nanoseconds
 * (at most 3600 s). Returns 0 or -EINVAL.
 */
int bench_parse_seconds(const char *s, uint64_t *ns);

/* bench_parse_count - a decimal count in [min, max]. 0 or -EINVAL. */
int bench_parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- samples ---------------------------------------------------------------- */

/* A growing set of nanosecond samples (latencies). */
struct bench_samples {
	uint64_t *v;
	size_t n, cap;
};

/* Summary of a sample set; all zero for an empty set. */
struct bench_summary {
	size_t n;
	uint64_t min, p25, p50, p75, p90, p99, p999, max;
	double mean;
};

/* bench_samples_add - append @ns. Returns 0 or -ENOMEM. */
int bench_samples_add(struct bench_samples *s, uint64_t ns);

/* bench_samples_merge - append every sample of @from to @to. 0 or -ENOMEM. */
int bench_samples_merge(struct bench_samples *to, const struct bench_samples *from);

/* bench_samples_summary - sort @s (in place) and summarise it into @out. */
void bench_samples_summary(struct bench_samples *s, struct bench_summary *out);

/* bench_samples_free - free @s (which may be zeroed or already freed). */
void bench_samples_free(struct bench_samples *s);

/* ---- JSON on stdout ------------------------------------------------------------ */

/*
 * One JSON object written with printf as it is built. Keys are plain
 * identifiers (no escaping); string values are escaped.
 */
struct bench_json {
	int depth;
	bool first[8];            /* no member yet at this depth */
};

void bench_json_begin(struct bench_json *j);            /* "{" */
void bench_json_obj(struct bench_json *j, const char *key); /* "key":{ */
void bench_json_close(struct bench_json *j);            /* "}" (and "\n" at depth 0) */
void bench_json_u64(struct bench_json *j, const char *key, uint64_t v);
void bench_json_dbl(struct bench_json *j, const char *key, double v);
void bench_json_str(struct bench_json *j, const char *key, const char *v); /* NULL: null */
void bench_json_bool(struct bench_json *j, const char *key, bool v);

/* bench_json_summary - "key":{"n":..,"min":..,"p25":..,...,"mean":..} */
void bench_json_summary(struct bench_json *j, const char *key, const struct bench_summary *s);

/* ---- sockets --------------------------------------------------------------------- */

/*
 * bench_parse_endpoint - "ADDR:PORT" or "[ADDR6]:PORT" into @ss (AF_INET or
 * AF_INET6) and *len; port 0 (any free port) is accepted. Returns 0, or
 * -EINVAL after printing "PROG: what 'S': why" to stderr.
 */
int bench_parse_endpoint(const char *prog, const char *what, const char *s,
			 struct sockaddr_storage *ss, socklen_t *len);

/* bench_write_all / bench_read_all - the whole buffer, restarting on EINTR.
 * 0, or -errno (-ECONNRESET for an early EOF on read). */
int bench_write_all(int fd, const void *buf, size_t len);
int bench_read_all(int fd, void *buf, size_t len);

/* bench_raise_nofile - raise RLIMIT_NOFILE's soft limit to the hard one;
 * returns the soft limit now in force. */
uint64_t bench_raise_nofile(void);

/* bench_touch - create the (empty) file @path; 0 or -errno. */
int bench_touch(const char *path);

/* ---- set-ups: where and to whom a client connects --------------------------------- */

/*
 * A client program may measure several set-ups in one run, interleaved in
 * short slices, so that all of them see the same background load. A
 * set-up names a target, and optionally the cgroup the process moves into
 * (its sockets then meet that cgroup's programs) and the network namespace
 * the measuring thread enters (setns; only that thread) before it makes
 * its sockets.
 */
#define BENCH_MAX_SETUPS 8

struct bench_setup {
	const char *name;
	const char *target_s;     /* ADDR:PORT */
	struct sockaddr_storage dst;
	socklen_t dlen;
	const char *cgroup;       /* a cgroup v2 directory, or NULL */
	const char *netns;        /* a netns file (/proc/PID/ns/net), or NULL */
	int cg_fd;                /* its cgroup.procs, or -1 */
	int ns_fd;                /* the netns to enter: @netns, or the initial one */
};

/*
 * bench_setup_parse - "NAME,target=ADDR:PORT[,cgroup=DIR][,netns=FILE]"
 * into @u (strings point into @spec, which is modified). The target must be
 * there. Returns 0, or -EINVAL after a message naming the option.
 */
int bench_setup_parse(const char *prog, char *spec, struct bench_setup *u);

/* bench_setup_single - the one set-up of a run given only ADDR:PORT. */
int bench_setup_single(const char *prog, const char *target, struct bench_setup *u);

/*
 * bench_setup_open - open @u's cgroup.procs and netns file (the initial
 * netns of the process when it has none). 0, or -1 after a message.
 */
int bench_setup_open(const char *prog, struct bench_setup *u);

/* bench_setup_enter_cgroup - move the whole process into @u's cgroup (if
 * any). 0 or -errno. */
int bench_setup_enter_cgroup(const struct bench_setup *u);

/* bench_setup_enter_netns - move the calling thread into @u's netns, unless
 * *cur (the fd of the netns it is in) is that one already; updates *cur.
 * 0 or -errno. */
int bench_setup_enter_netns(const struct bench_setup *u, int *cur);

/* bench_cgroup_open - open DIR/cgroup.procs for writing; the fd or -errno. */
int bench_cgroup_open(const char *dir);

/* bench_cgroup_enter - move this process into the cgroup of @fd (from
 * bench_cgroup_open). 0 or -errno. */
int bench_cgroup_enter(int fd);

/* bench_err - "PROG: " + printf-formatted message + "\n" on stderr. */
void bench_err(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* CONNREDIR_BENCH_H */
