// SPDX-License-Identifier: MIT
/*
 * inspect_log.c - the log inspector: one JSON line per flow, at its end,
 * to the --log destination (log.c). The fields are described in
 * connredir-proxy(8); keep the two in step.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "inspect.h"
#include "json.h"
#include "log.h"

#define LOG_LINE_MAX 8192

/* "2025-01-31T12:00:00.123456Z" */
static const char *rfc3339(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	size_t n;

	gmtime_r(&ts->tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%06uZ", (unsigned)(ts->tv_nsec / 1000) % 1000000);
	return buf;
}

static const char *verdict_name(enum inspect_verdict v)
{
	switch (v) {
	case INSPECT_ALLOW: return "allow";
	case INSPECT_BLOCK: return "block";
	default: return "undecided";
	}
}

static void endpoint(struct json *j, const char *key, bool have,
		     const struct crd_ipaddr *a, uint16_t port)
{
	char buf[64];

	json_str(j, key, have ? crd_format_endpoint(a, port, buf, sizeof(buf)) : NULL);
}

static void log_on_end(void *conf, void *state, const struct inspect_flow *f)
{
	char line[LOG_LINE_MAX], t[48], num[32];
	const struct connredir_context *c = &f->ctx;
	struct json j;
	uint64_t us;
	unsigned i;

	json_begin(&j, line, sizeof(line));
	json_str(&j, "start", rfc3339(&f->start_rt, t, sizeof(t)));
	json_str(&j, "end", rfc3339(&f->end_rt, t, sizeof(t)));
	us = (f->end_ns - f->start_ns) / 1000;
	snprintf(num, sizeof(num), "%" PRIu64 ".%03u", us / 1000, (unsigned)(us % 1000));
	json_raw(&j, "duration_ms", num);
	json_str(&j, "proto", f->proto ? f->proto : "tcp");
	json_str(&j, "instance", f->instance);
	json_str(&j, "service", f->service);
	if (f->have_context)
		json_u64(&j, "service_id", c->service_id);
	else
		json_raw(&j, "service_id", "null");
	if (f->have_context || f->have_records) {
		snprintf(num, sizeof(num), "%016" PRIx64,
			 f->have_context ? c->flow_id : f->rec.flow_id);
		json_str(&j, "flow_id", num);
	} else {
		json_raw(&j, "flow_id", "null");
	}
	json_array_begin(&j, "chain");
	for (i = 0; f->have_records && i < f->rec.nhops && i < CONNREDIR_MAX_HOPS; i++)
		json_array_u64(&j, f->rec.services[i]);
	json_array_end(&j);
	if (f->have_context) {
		struct crd_ipaddr src = { .family = AF_INET6 };

		memcpy(src.addr, c->orig_src, 16);
		json_u64(&j, "hop", c->hop);
		json_u64(&j, "app_pid", c->app_pid);
		json_u64(&j, "app_uid", c->app_uid);
		json_u64(&j, "app_gid", c->app_gid);
		json_strn(&j, "app_comm", c->app_comm, strnlen(c->app_comm, sizeof(c->app_comm)));
		json_u64(&j, "app_cgroup_id", c->app_cgroup_id);
		endpoint(&j, "app_src", true, &src, ntohs(c->orig_src_port));
	} else {
		static const char *const none[] = {
			"hop", "app_pid", "app_uid", "app_gid", "app_comm",
			"app_cgroup_id", "app_src",
		};

		for (i = 0; i < sizeof(none) / sizeof(none[0]); i++)
			json_raw(&j, none[i], "null");
	}
	endpoint(&j, "client", true, &f->client, f->client_port);
	endpoint(&j, "orig_dst", f->have_dst, &f->dst, f->dst_port);
	json_str(&j, "dst_from", f->dst_from);
	json_u64(&j, "bytes_up", f->bytes[INSPECT_UP]);
	json_u64(&j, "bytes_down", f->bytes[INSPECT_DOWN]);
	json_u64(&j, "spliced_up", f->spliced[INSPECT_UP]);
	json_u64(&j, "spliced_down", f->spliced[INSPECT_DOWN]);
	json_str(&j, "verdict", verdict_name(f->verdict));
	json_str(&j, "blocked_by", f->verdict == INSPECT_BLOCK ? f->verdict_by : NULL);
	json_str(&j, "reason", f->verdict == INSPECT_BLOCK ? f->reason : NULL);
	json_str(&j, "end_reason", f->end);
	json_str(&j, "error", f->error ? strerror(f->error) : NULL);
	inspect_flow_log_fields(f, &j);
	log_line(line, json_end(&j));
}

const struct inspector inspect_log = {
	.name = "log",
	.on_end = log_on_end,
};
