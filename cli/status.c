// SPDX-License-Identifier: MIT
/*
 * status.c - `status`: attach point, services, counters and map sizes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cli.h"

static const char *const stat_names[CRD_ST_MAX] = {
	[CRD_ST_CONNECT] = "connects",
	[CRD_ST_REDIRECTED] = "redirected",
	[CRD_ST_TO_LISTENER] = "passed_to_listener",
	[CRD_ST_HOP_GUARD] = "hop_guard_trips",
	[CRD_ST_NO_STORAGE] = "no_storage",
	[CRD_ST_PEND_FULL] = "pending_full",
	[CRD_ST_FLOWS_FULL] = "flows_full",
	[CRD_ST_ACCEPTED] = "accepted",
	[CRD_ST_SET_OK] = "set_records_ok",
	[CRD_ST_SET_EINVAL] = "set_records_einval",
	[CRD_ST_SET_EACCES] = "set_records_eacces",
	[CRD_ST_FAIL_OPEN] = "fail_open",
	[CRD_ST_FAIL_CLOSED] = "fail_closed",
	[CRD_ST_EVENTS_LOST] = "events_lost",
	[CRD_ST_UDP_UNTRANSLATED] = "udp_replies_untranslated",
	[CRD_ST_REFUSED_NO_STATE] = "refused_no_state",
	[CRD_ST_BYPASS_NO_STATE] = "bypassed_no_state",
	[CRD_ST_QUOTA] = "refused_quota",
	[CRD_ST_SQUATTER] = "squatters_refused",
	[CRD_ST_ADOPT_REFUSED] = "adopt_refused",
};

_Static_assert(sizeof(stat_names) / sizeof(stat_names[0]) == CRD_ST_MAX,
	       "a name for every counter");

const char *crd_stat_name(unsigned i)
{
	return i < CRD_ST_MAX && stat_names[i] ? stat_names[i] : "?";
}

const char *const crd_state_keys[4] = {
	"not_redirected", "by_self", "by_other", "previously_by_self",
};

static void status_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] status [--json]\n\n"
		"Show where the instance is attached, its hop limit, its services with\n"
		"their counters, the global counters (hop_guard_trips among them), how\n"
		"many entries each per-flow map holds (\"n/a\", null in JSON, where this\n"
		"kernel gives no way to count them) and the optional kernel features\n"
		"that are off.\n");
}

int status_main(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES];
	uint64_t totals[CRD_ST_MAX];
	struct crd_svc_stats ss[CRD_MAX_SERVICES];
	struct crd_order order;
	struct crd_config cfg;
	struct crd_map_count mc[CRD_N_COUNTED_MAPS];
	struct crd_features fs;
	struct crd_inst in;
	struct crd_proxy_state px[CRD_MAX_SERVICES];
	char why[256];
	bool json = false, first;
	__u32 i;
	int err;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			status_usage(stdout);
			return 0;
		} else {
			crd_err("status: unknown argument '%s'", argv[i]);
			crd_try_help("status");
			return 1;
		}
	}
	err = crd_inst_open(crd_instance, false, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" :
			err == -EPROTO ? "made by a connredir with another map layout" :
			strerror(-err));
		return 1;
	}
	err = crd_inst_read_counters(&in, &cfg, svcs, &order, totals, ss);
	crd_features_get(in.dir, in.sk_fd, &fs);
	crd_count_maps(&in, &fs, mc);
	for (i = 0; !err && i < order.n; i++)
		crd_proxy_check(&in, svcs, &svcs[order.slot[i] % CRD_MAX_SERVICES], &px[i]);
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': reading maps: %s", crd_instance, strerror(-err));
		return 1;
	}

	if (json) {
		printf("{\"instance\":");
		json_fput_str(stdout, crd_instance);
		printf(",\"cgroup\":");
		json_fput_str(stdout, cfg.cgroup_path);
		printf(",\"cgroup_id\":%llu,\"hop_limit\":%u,\"layout\":%u,"
		       "\"quota_tcp\":%u,\"quota_udp\":%u,"
		       "\"events_reader_pid\":%u,\"counters\":{",
		       (unsigned long long)cfg.cgroup_id, cfg.hop_limit, cfg.layout,
		       cfg.quota_tcp ? cfg.quota_tcp : CRD_DEFAULT_QUOTA_TCP,
		       cfg.quota_udp ? cfg.quota_udp : CRD_DEFAULT_QUOTA_UDP,
		       cfg.events_pid);
		for (i = 0; i < CRD_ST_MAX; i++)
			printf("%s\"%s\":%llu", i ? "," : "", stat_names[i],
			       (unsigned long long)totals[i]);
		printf("},\"maps\":{");
		for (i = 0; i < CRD_N_COUNTED_MAPS; i++) {
			printf("%s\"%s\":", i ? "," : "", mc[i].name);
			if (mc[i].n >= 0)
				printf("%ld", mc[i].n);
			else
				printf("null");
		}
		printf("},\"maps_not_counted\":{");
		for (i = 0, first = true; i < CRD_N_COUNTED_MAPS; i++) {
			if (mc[i].n >= 0)
				continue;
			printf("%s\"%s\":", first ? "" : ",", mc[i].name);
			json_fput_str(stdout, mc[i].why);
			first = false;
		}
		printf("},\"lacking_features\":[");
		for (i = 0, first = true; i < CRD_FEAT_MAX; i++) {
			if (!fs.err[i])
				continue;
			printf("%s{\"feature\":\"%s\",\"reason\":", first ? "" : ",",
			       crd_feature_name(i));
			json_fput_str(stdout, crd_feature_why(&fs, i, why, sizeof(why)));
			printf(",\"effect\":");
			json_fput_str(stdout, crd_feature_use(i));
			printf("}");
			first = false;
		}
		printf("],\"services\":[");
		for (i = 0; i < order.n; i++) {
			__u32 slot = order.slot[i] % CRD_MAX_SERVICES;
			int s;

			printf("%s{\"service\":", i ? "," : "");
			service_print(stdout, &svcs[slot], true, slot);
			printf(",\"redirected\":%llu,\"hop_guard\":%llu,\"fail_open\":%llu,"
			       "\"fail_closed\":%llu,\"set_refused\":%llu,\"passed\":{",
			       (unsigned long long)ss[slot].redirected,
			       (unsigned long long)ss[slot].hop_guard,
			       (unsigned long long)ss[slot].fail_open,
			       (unsigned long long)ss[slot].fail_closed,
			       (unsigned long long)ss[slot].set_refused);
			for (s = 0; s < 4; s++)
				printf("%s\"%s\":%llu", s ? "," : "", crd_state_keys[s],
				       (unsigned long long)ss[slot].passed[s]);
			printf("},\"proxy\":{\"up\":%s,\"pid\":", px[i].up ? "true" : "false");
			if (px[i].pid)
				printf("%d", (int)px[i].pid);
			else
				fputs("null", stdout);
			fputs(",\"why\":", stdout);
			if (px[i].why)
				json_fput_str(stdout, px[i].why);
			else
				fputs("null", stdout);
			printf("}}");
		}
		printf("]}\n");
		return 0;
	}
	printf("instance:   %s\n", crd_instance);
	printf("cgroup:     %s (id %llu)\n", cfg.cgroup_path,
	       (unsigned long long)cfg.cgroup_id);
	printf("hop limit:  %u\n", cfg.hop_limit);
	printf("quotas:     %u TCP sockets, %u UDP flows per cgroup and per uid\n",
	       cfg.quota_tcp ? cfg.quota_tcp : CRD_DEFAULT_QUOTA_TCP,
	       cfg.quota_udp ? cfg.quota_udp : CRD_DEFAULT_QUOTA_UDP);
	if (cfg.events_pid)
		printf("events:     read by pid %u\n", cfg.events_pid);
	else
		printf("events:     no reader (none are made)\n");
	printf("services:   %u\n\n", order.n);
	if (order.n) {
		printf("%-4s %-16s %8s %12s %12s %12s %10s\n", "ID", "NAME", "WEIGHT",
		       "REDIRECTED", "PASS_SELF", "PASS_PREV", "HOP_GUARD");
		for (i = 0; i < order.n; i++) {
			__u32 slot = order.slot[i] % CRD_MAX_SERVICES;

			printf("%-4u %-16s %8d %12llu %12llu %12llu %10llu\n",
			       svcs[slot].id, svcs[slot].name, svcs[slot].weight,
			       (unsigned long long)ss[slot].redirected,
			       (unsigned long long)ss[slot].passed[1],
			       (unsigned long long)ss[slot].passed[3],
			       (unsigned long long)ss[slot].hop_guard);
		}
		printf("\nproxies:\n");
		for (i = 0; i < order.n; i++) {
			__u32 slot = order.slot[i] % CRD_MAX_SERVICES;

			if (px[i].up)
				printf("  %-16s up (pid %d)\n", svcs[slot].name, (int)px[i].pid);
			else if (px[i].pid)
				printf("  %-16s down: pid %d holds its address, but %s\n",
				       svcs[slot].name, (int)px[i].pid, px[i].why);
			else
				printf("  %-16s down: %s\n", svcs[slot].name, px[i].why);
		}
		printf("\n");
	}
	printf("counters:\n");
	for (i = 0; i < CRD_ST_MAX; i++)
		printf("  %-20s %llu\n", stat_names[i], (unsigned long long)totals[i]);
	printf("maps:\n");
	for (i = 0; i < CRD_N_COUNTED_MAPS; i++) {
		if (mc[i].n >= 0)
			printf("  %-20s %ld\n", mc[i].name, mc[i].n);
		else if (mc[i].sk_storage && fs.err[CRD_FEAT_ITER])
			printf("  %-20s n/a (needs BPF iterators)\n", mc[i].name);
		else
			printf("  %-20s n/a (%s)\n", mc[i].name, mc[i].why);
	}
	printf("optional kernel features:\n");
	for (i = 0; i < CRD_FEAT_MAX; i++) {
		if (!fs.err[i])
			printf("  %-20s available\n", crd_feature_name(i));
		else
			printf("  %-20s off: %s; %s\n", crd_feature_name(i),
			       crd_feature_why(&fs, i, why, sizeof(why)), crd_feature_use(i));
	}
	return 0;
}
