// SPDX-License-Identifier: MIT
/*
 * stats.c - `stats`: per-service and total counters (per-CPU maps, summed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cli.h"

static void stats_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] stats [--json]\n\n"
		"Per service, in weight order: flows redirected to it; connections its\n"
		"filter matched that it passed, by state (its own proxy's, BY_SELF, or a\n"
		"flow it already saw, PREVIOUSLY_BY_SELF); hop-guard trips; fail-open\n"
		"skips and fail-closed refusals while its proxy was down; set-records\n"
		"refusals on its flows. Then the totals.\n");
}

int stats_main(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES];
	struct crd_svc_stats ss[CRD_MAX_SERVICES];
	uint64_t totals[CRD_ST_MAX];
	struct crd_order order;
	struct crd_config cfg;
	struct crd_inst in;
	bool json = false;
	unsigned i, st;
	int a, err;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = true;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			stats_usage(stdout);
			return 0;
		} else {
			crd_err("stats: unknown argument '%s'", argv[a]);
			crd_try_help("stats");
			return 1;
		}
	}
	err = crd_inst_open(crd_instance, false, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" : strerror(-err));
		return 1;
	}
	err = crd_inst_read_counters(&in, &cfg, svcs, &order, totals, ss);
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': reading counters: %s", crd_instance, strerror(-err));
		return 1;
	}
	if (json) {
		printf("{\"services\":[");
		for (i = 0; i < order.n; i++) {
			const struct crd_svc_stats *c = &ss[order.slot[i] % CRD_MAX_SERVICES];
			const struct crd_service *s = &svcs[order.slot[i] % CRD_MAX_SERVICES];

			printf("%s{\"id\":%u,\"name\":", i ? "," : "", s->id);
			json_fput_str(stdout, s->name);
			printf(",\"redirected\":%llu,\"passed\":{", (unsigned long long)c->redirected);
			for (st = 0; st < 4; st++)
				printf("%s\"%s\":%llu", st ? "," : "", crd_state_keys[st],
				       (unsigned long long)c->passed[st]);
			printf("},\"hop_guard\":%llu,\"fail_open\":%llu,\"fail_closed\":%llu,"
			       "\"set_refused\":%llu,\"refused_no_state\":%llu,"
			       "\"bypassed_no_state\":%llu,\"refused_quota\":%llu}",
			       (unsigned long long)c->hop_guard,
			       (unsigned long long)c->fail_open, (unsigned long long)c->fail_closed,
			       (unsigned long long)c->set_refused,
			       (unsigned long long)c->refused_no_state,
			       (unsigned long long)c->bypass_no_state, (unsigned long long)c->quota);
		}
		printf("],\"totals\":{");
		for (i = 0; i < CRD_ST_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", crd_stat_name(i),
			       (unsigned long long)totals[i]);
		printf("}}\n");
		return 0;
	}
	printf("%-4s %-16s %10s %10s %10s %9s %9s %11s %11s\n", "ID", "SERVICE",
	       "REDIRECTED", "PASS_SELF", "PASS_PREV", "HOP_GUARD", "FAIL_OPEN",
	       "FAIL_CLOSED", "SET_REFUSED");
	for (i = 0; i < order.n; i++) {
		const struct crd_svc_stats *c = &ss[order.slot[i] % CRD_MAX_SERVICES];
		const struct crd_service *s = &svcs[order.slot[i] % CRD_MAX_SERVICES];

		printf("%-4u %-16s %10llu %10llu %10llu %9llu %9llu %11llu %11llu\n", s->id,
		       s->name, (unsigned long long)c->redirected,
		       (unsigned long long)c->passed[1], (unsigned long long)c->passed[3],
		       (unsigned long long)c->hop_guard, (unsigned long long)c->fail_open,
		       (unsigned long long)c->fail_closed, (unsigned long long)c->set_refused);
	}
	printf("\ntotals:\n");
	for (i = 0; i < CRD_ST_MAX; i++)
		printf("  %-20s %llu\n", crd_stat_name(i), (unsigned long long)totals[i]);
	return 0;
}
