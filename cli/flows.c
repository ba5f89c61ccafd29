// SPDX-License-Identifier: MIT
/*
 * flows.c - `flows`: every live redirected flow, read from the kernel's maps.
 *
 * A flow that went through N services has an entry in crd_flows_v3 for each
 * proxy's accepted socket, and possibly one in crd_pend_v3 for a hop whose
 * handshake is under way; all share its flow id. One line per flow id, from
 * the entry with the longest history.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cli.h"

struct flow_row {
	struct crd_flow f;
	unsigned accepted;   /* hops whose proxy accepted (crd_flows_v3 entries) */
	unsigned pending;    /* hops connecting (crd_pend_v3 entries) */
};

struct flow_set {
	struct flow_row *rows;
	size_t n, cap;
};

static int add_entry(struct flow_set *fs, const struct crd_flow *f, bool pending)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (fs->rows[i].f.flow_id == f->flow_id)
			break;
	if (i == fs->n) {
		if (fs->n == fs->cap) {
			size_t cap = fs->cap ? fs->cap * 2 : 64;
			struct flow_row *r = realloc(fs->rows, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			fs->rows = r;
			fs->cap = cap;
		}
		memset(&fs->rows[i], 0, sizeof(fs->rows[i]));
		fs->rows[i].f = *f;
		fs->n++;
	} else if (f->nhops > fs->rows[i].f.nhops) {
		fs->rows[i].f = *f;
	}
	if (pending)
		fs->rows[i].pending++;
	else
		fs->rows[i].accepted++;
	return 0;
}

/* Walk a hash map of struct crd_flow_entry values. */
static int walk(int fd, size_t key_size, struct flow_set *fs, bool pending)
{
	unsigned char key[64], next[64];
	struct crd_flow_entry e;
	void *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, &e))
			continue;   /* closed meanwhile */
		err = add_entry(fs, &e.flow, pending);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

/* Walk crd_uflows_v3: one entry per hop of a UDP flow. */
static int walk_udp(int fd, struct flow_set *fs)
{
	__u32 key, next, *prev = NULL;
	struct crd_uflow uf;
	int err;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &uf))
			continue;
		err = add_entry(fs, &uf.e.flow, false);
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int by_start(const void *a, const void *b)
{
	const struct flow_row *x = a, *y = b;

	return x->f.start_ns < y->f.start_ns ? -1 : x->f.start_ns > y->f.start_ns;
}

static void flows_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] flows [--json]\n\n"
		"List every live redirected flow (TCP and UDP), oldest first: its id,\n"
		"protocol, the\n"
		"application that opened it (pid, command, uid), where it was going,\n"
		"the chain of services it went through so far, the current hop (the\n"
		"service that has it now), how many hops are accepted or connecting, and\n"
		"its age. Read from the kernel's maps; nothing needs to be running.\n");
}

int flows_main(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES];
	struct flow_set fs = { 0 };
	struct crd_inst in;
	bool json = false;
	char b1[64], b2[64], nb[16];
	__u64 now;
	size_t i;
	int a, err, k;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--json")) {
			json = true;
		} else if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) {
			flows_usage(stdout);
			return 0;
		} else {
			crd_err("flows: unknown argument '%s'", argv[a]);
			crd_try_help("flows");
			return 1;
		}
	}
	err = crd_inst_open(crd_instance, false, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" : strerror(-err));
		return 1;
	}
	err = crd_inst_get_services(&in, svcs);
	if (!err)
		err = walk(in.flows_fd, sizeof(__u64), &fs, false);
	if (!err)
		err = walk(in.pend_fd, sizeof(struct crd_tuple), &fs, true);
	if (!err)
		err = walk_udp(in.uflows_fd, &fs);
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': reading flows: %s", crd_instance, strerror(-err));
		free(fs.rows);
		return 1;
	}
	if (fs.n)   /* qsort wants a non-null array, even of none */
		qsort(fs.rows, fs.n, sizeof(fs.rows[0]), by_start);
	now = crd_now_ns();

	if (!json)
		printf("%-16s %-5s %-24s %6s %-24s %-30s %-12s %8s\n", "FLOW", "PROTO",
		       "APPLICATION", "UID", "ORIGINAL-DST", "CHAIN", "HOP", "AGE");
	else
		fputs("[", stdout);
	for (i = 0; i < fs.n; i++) {
		const struct crd_flow *f = &fs.rows[i].f;
		unsigned n = f->nhops > CRD_MAX_HOPS ? CRD_MAX_HOPS : f->nhops;
		double age = now > f->start_ns ? (now - f->start_ns) / 1e9 : 0;
		char app[96], chain[256] = "";
		char comm[17], ecomm[65];

		memcpy(comm, f->app_comm, 16);
		comm[16] = 0;
		if (json) {
			printf("%s{\"flow_id\":\"%016llx\",\"proto\":\"%s\",\"app_pid\":%u,"
			       "\"app_comm\":", i ? "," : "", (unsigned long long)f->flow_id,
			       f->proto == 17 ? "udp" : "tcp", f->app_pid);
			json_fput_str(stdout, comm);
			printf(",\"app_uid\":%u,\"app_cgroup_id\":%llu,\"orig_dst\":", f->app_uid,
			       (unsigned long long)f->app_cgid);
			json_fput_str(stdout, crd_fmt_ep(f->orig_dst.ip6, f->orig_dst_port_be, b1, sizeof(b1)));
			printf(",\"orig_src\":");
			json_fput_str(stdout, crd_fmt_ep(f->orig_src.ip6, f->orig_src_port_be, b2, sizeof(b2)));
			printf(",\"chain\":[");
			for (k = 0; k < (int)n; k++) {
				printf("%s{\"id\":%u,\"name\":", k ? "," : "", f->hops[k]);
				json_fput_str(stdout, crd_svc_name(svcs, f->hops[k], nb, sizeof(nb)));
				printf(",\"via\":\"%s\"}", crd_cont_name(crd_flow_cont(f->cont, k)));
			}
			printf("],\"hop\":%u,\"accepted\":%u,\"connecting\":%u,\"age_s\":%.3f}",
			       n, fs.rows[i].accepted, fs.rows[i].pending, age);
			continue;
		}
		snprintf(app, sizeof(app), "%u/%s", f->app_pid, crd_esc(comm, ecomm, sizeof(ecomm)));
		for (k = 0; k < (int)n; k++) {
			size_t l = strlen(chain);

			/* "~>": the proxy before set no records, connredir
			 * continued the flow for it (--implicit) */
			snprintf(chain + l, sizeof(chain) - l, "%s%s",
				 !k ? "" : crd_cont_implicit(crd_flow_cont(f->cont, k)) ? "~>" : ">",
				 crd_svc_name(svcs, f->hops[k], nb, sizeof(nb)));
		}
		printf("%016llx %-5s %-24s %6u %-24s %-30s %-12s %7.1fs\n",
		       (unsigned long long)f->flow_id, f->proto == 17 ? "udp" : "tcp", app,
		       f->app_uid, crd_fmt_ep(f->orig_dst.ip6, f->orig_dst_port_be, b1, sizeof(b1)),
		       chain, n ? crd_svc_name(svcs, f->hops[n - 1], nb, sizeof(nb)) : "-", age);
	}
	if (json)
		fputs("]\n", stdout);
	free(fs.rows);
	return 0;
}
