// SPDX-License-Identifier: MIT
/*
 * events.c - `events`: the kernel's redirection decisions as they happen.
 *
 * The hooks write events to the ring buffer crd_events_v3 only while a
 * reader is registered (crd_config.events_pid), so with no reader running
 * they cost one load and one branch. One reader at a time: the ring buffer
 * has one consumer position. Events the buffer had no room for are counted
 * in the kernel (events_lost) and reported here, never dropped silently.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <connredir/connredir.h>

#include "cli.h"
#include "parse.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct reader {
	struct crd_service svcs[CRD_MAX_SERVICES];
	const struct crd_inst *in;
	bool json, color;
	unsigned long long seen, max;
};

static const char *kind_name(unsigned k)
{
	static const char *const names[] = {
		[CRD_EV_REDIRECTED] = "redirected",
		[CRD_EV_PASSED] = "passed",
		[CRD_EV_HOP_GUARD] = "hop-guard",
		[CRD_EV_PROXY_DOWN] = "proxy-down",
		[CRD_EV_FAIL_CLOSED] = "fail-closed",
		[CRD_EV_SET_REFUSED] = "set-refused",
		[CRD_EV_NO_STATE] = "no-state",
		[CRD_EV_QUOTA] = "quota",
		[CRD_EV_SQUATTER] = "squatter",
	};

	return k < sizeof(names) / sizeof(names[0]) && names[k] ? names[k] : "unknown";
}

static const char *err_name(int e)
{
	switch (e) {
	case 0: return "";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case EISCONN: return "EISCONN";
	case ENOENT: return "ENOENT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EDQUOT: return "EDQUOT";
	case EPERM: return "EPERM";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	default: return "errno";
	}
}

/* The wall-clock time of CLOCK_MONOTONIC @mono_ns, ISO 8601 UTC with
 * microseconds. */
static const char *wall_time(unsigned long long mono_ns, char *buf, size_t len)
{
	struct timespec rt, mt;
	long long off;
	time_t sec;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mt);
	off = ((long long)rt.tv_sec - mt.tv_sec) * 1000000000LL + (rt.tv_nsec - mt.tv_nsec);
	mono_ns += off;
	sec = mono_ns / 1000000000ULL;
	gmtime_r(&sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lluZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (mono_ns % 1000000000ULL) / 1000);
	return buf;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct reader *r = ctx;
	const struct crd_event *ev = data;
	char dst[64], nb[16], comm[17], chain[256] = "", ecomm[65], echain[1024], esvc[64], tbuf[96];
	const char *svc;
	unsigned i, n;

	if (len < sizeof(*ev))
		return 0;
	/* A service added since the reader started: read the names again. */
	if (ev->service_id && crd_svc_name(r->svcs, ev->service_id, nb, sizeof(nb))[0] == '#')
		crd_inst_get_services(r->in, r->svcs);
	svc = ev->service_id ? crd_svc_name(r->svcs, ev->service_id, nb, sizeof(nb)) : "-";
	memcpy(comm, ev->comm, 16);
	comm[16] = 0;
	n = ev->nhops > CRD_MAX_HOPS ? CRD_MAX_HOPS : ev->nhops;
	crd_fmt_ep(ev->dst, ev->dport_be, dst, sizeof(dst));
	if (r->json) {
		printf("{\"ts_ns\":%llu,\"time\":\"%s\",\"event\":\"%s\",\"service_id\":%u,"
		       "\"service\":", (unsigned long long)ev->ts_ns,
		       wall_time(ev->ts_ns, tbuf, sizeof(tbuf)), kind_name(ev->kind),
		       ev->service_id);
		json_fput_str(stdout, svc);
		printf(",\"state\":\"%s\",\"errno\":%d,\"error\":\"%s\",\"app_pid\":%u,"
		       "\"app_uid\":%u,\"app_comm\":", connredir_state_name(ev->state),
		       ev->err, err_name(ev->err), ev->app_pid, ev->app_uid);
		json_fput_str(stdout, comm);
		printf(",\"caller_pid\":%u,\"proto\":\"%s\",\"dst\":", ev->caller_pid,
		       ev->proto == 17 ? "udp" : "tcp");
		json_fput_str(stdout, dst);
		printf(",\"flow_id\":\"%016llx\",\"chain\":[", (unsigned long long)ev->flow_id);
		for (i = 0; i < n; i++)
			printf("%s%u", i ? "," : "", ev->hops[i]);
		printf("],\"via\":\"%s\",\"cgroup_id\":%llu}\n", crd_cont_name(ev->cont),
		       (unsigned long long)ev->cgroup_id);
	} else {
		for (i = 0; i < n; i++) {
			size_t l = strlen(chain);

			snprintf(chain + l, sizeof(chain) - l, "%s%s", i ? ">" : "",
				 crd_svc_name(r->svcs, ev->hops[i], nb, sizeof(nb)));
		}
		/* With colour the line goes out raw (crd_stdout_raw), so what
		 * comes from outside is escaped here, field by field. */
		fprintf(r->color ? crd_stdout_raw : stdout,
		       "%s %s%-11s%s %-14s %-29s app=%s/%s uid=%u dst=%s chain=%s%s%s%s%s "
		       "flow=%016llx\n", wall_time(ev->ts_ns, tbuf, sizeof(tbuf)),
		       r->color ? (ev->kind == CRD_EV_REDIRECTED ? "\033[32m" :
				   ev->kind == CRD_EV_PASSED ? "" : "\033[33m") : "",
		       kind_name(ev->kind), r->color ? "\033[0m" : "",
		       crd_esc(ev->service_id ? crd_svc_name(r->svcs, ev->service_id, nb, sizeof(nb)) : "-",
			       esvc, sizeof(esvc)),
		       connredir_state_name(ev->state), crd_esc(comm, ecomm, sizeof(ecomm)),
		       (snprintf(nb, sizeof(nb), "%u", ev->app_pid), nb), ev->app_uid, dst,
		       chain[0] ? crd_esc(chain, echain, sizeof(echain)) : "-",
		       ev->err ? " error=" : "", ev->err ? err_name(ev->err) : "",
		       crd_cont_implicit(ev->cont) ? " via=" : "",
		       crd_cont_implicit(ev->cont) ? crd_cont_name(ev->cont) : "",
		       (unsigned long long)ev->flow_id);
		if (r->color)
			fflush(crd_stdout_raw);
	}
	r->seen++;
	if (r->max && r->seen >= r->max)
		stop = 1;
	return 0;
}

static void report_lost(const struct reader *r, unsigned long long lost)
{
	if (r->json)
		printf("{\"event\":\"lost\",\"count\":%llu}\n", lost);
	else
		printf("lost        %llu events (the ring buffer was full: the reader is "
		       "too slow)\n", lost);
	fflush(stdout);
}

static void events_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] events [--json] [--follow] [--count N]\n\n"
		"Stream the kernel's decisions: redirected (to which service, from which\n"
		"state), passed (which state), hop-guard, proxy-down (service skipped,\n"
		"--fail open), fail-closed, set-refused (who, why). Events are produced\n"
		"only while a reader runs; one reader at a time. Events the ring buffer\n"
		"had no room for are reported as lost.\n\n"
		"  --follow    keep reading until interrupted (default: stop after one\n"
		"              second without events)\n"
		"  --count N   stop after N events\n"
		"  --json      one JSON object per line\n");
}

int events_main(int argc, char **argv)
{
	struct ring_buffer *rb = NULL;
	struct reader r = { 0 };
	struct crd_config cfg;
	struct sigaction sa;
	struct crd_inst in;
	bool follow = false;
	uint64_t lost0[CRD_ST_MAX], lostv[CRD_ST_MAX];
	unsigned long long reported = 0, last_seen = 0;
	const char *why;
	int a, err, idle = 0, ret = 1;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			r.json = true;
		} else if (!strcmp(argv[a], "--follow") || !strcmp(argv[a], "-f")) {
			follow = true;
		} else if (!strcmp(argv[a], "--count") && a + 1 < argc) {
			uint64_t v;

			if (crd_parse_u64(argv[++a], UINT64_MAX, &v, &why)) {
				crd_err("events: --count '%s': %s", argv[a], why);
				return 1;
			}
			r.max = v;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			events_usage(stdout);
			return 0;
		} else {
			crd_err("events: unknown argument '%s'", argv[a]);
			crd_try_help("events");
			return 1;
		}
	}
	err = crd_inst_open(crd_instance, true, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" : strerror(-err));
		return 1;
	}
	r.in = &in;
	r.color = isatty(STDOUT_FILENO);
	err = crd_inst_get_config(&in, &cfg);
	if (err)
		goto fail;
	if (cfg.events_pid && cfg.events_pid != (unsigned)getpid() &&
	    (kill(cfg.events_pid, 0) == 0 || errno == EPERM)) {
		crd_err("instance '%s': another events reader (pid %u) is running",
			crd_instance, cfg.events_pid);
		goto out;
	}
	err = crd_inst_get_services(&in, r.svcs);
	if (!err)
		err = crd_inst_sum_percpu(in.stats_fd, 0, lost0, CRD_ST_MAX);
	if (err)
		goto fail;
	rb = ring_buffer__new(in.events_fd, on_event, &r, NULL);
	if (!rb) {
		err = -errno;
		goto fail;
	}
	/* Drain what a reader killed earlier left behind, then register. */
	ring_buffer__consume(rb);
	r.seen = 0;
	cfg.events_pid = getpid();
	err = crd_inst_put_config(&in, &cfg);
	if (err)
		goto fail;
	flock(in.lock_fd, LOCK_UN);   /* services may change while we read */

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	while (!stop) {
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR)
			break;
		fflush(stdout);
		if (!crd_inst_sum_percpu(in.stats_fd, 0, lostv, CRD_ST_MAX) &&
		    lostv[CRD_ST_EVENTS_LOST] - lost0[CRD_ST_EVENTS_LOST] > reported) {
			unsigned long long now_lost =
				lostv[CRD_ST_EVENTS_LOST] - lost0[CRD_ST_EVENTS_LOST];

			report_lost(&r, now_lost - reported);
			reported = now_lost;
		}
		if (r.seen != last_seen) {
			last_seen = r.seen;
			idle = 0;
		} else if (!follow && ++idle >= 10) {
			break;
		}
	}
	ret = 0;
	/* Unregister: the hooks stop producing events. */
	flock(in.lock_fd, LOCK_EX);
	if (!crd_inst_get_config(&in, &cfg) && cfg.events_pid == (unsigned)getpid()) {
		cfg.events_pid = 0;
		crd_inst_put_config(&in, &cfg);
	}
	ring_buffer__consume(rb);
	if (!crd_inst_sum_percpu(in.stats_fd, 0, lostv, CRD_ST_MAX) &&
	    lostv[CRD_ST_EVENTS_LOST] - lost0[CRD_ST_EVENTS_LOST] > reported)
		report_lost(&r, lostv[CRD_ST_EVENTS_LOST] - lost0[CRD_ST_EVENTS_LOST] - reported);
	fflush(stdout);
	goto out;
fail:
	crd_err("instance '%s': events: %s", crd_instance, strerror(-err));
out:
	ring_buffer__free(rb);
	crd_inst_close(&in);
	return ret;
}
