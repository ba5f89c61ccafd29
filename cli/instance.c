// SPDX-License-Identifier: MIT
/*
 * instance.c - the pinned maps of one connredir instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"

int crd_inst_dir(const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", CRD_PIN_ROOT, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int open_pin(const char *dir, const char *map)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, map);
	return bpf_obj_get(path);
}

void crd_inst_close(struct crd_inst *in)
{
	int *fds[] = { &in->svc_fd, &in->cfg_fd, &in->order_fd, &in->stats_fd,
		       &in->svcst_fd, &in->sk_fd, &in->conn_fd, &in->pend_fd,
		       &in->flows_fd, &in->events_fd, &in->lsn_fd, &in->uflows_fd,
		       &in->ukey_fd, &in->urep_fd, &in->usk_fd, &in->lock_fd };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int crd_inst_open(const char *name, bool exclusive, struct crd_inst *in)
{
	struct {
		int *fd;
		const char *name;
	} maps[] = {
		{ &in->svc_fd, "crd_svc_v3" },     { &in->cfg_fd, "crd_cfg_v3" },
		{ &in->order_fd, "crd_order_v3" }, { &in->stats_fd, "crd_stats_v3" },
		{ &in->svcst_fd, "crd_svcst_v3" }, { &in->sk_fd, "crd_sk_v3" },
		{ &in->conn_fd, "crd_conn_v3" },   { &in->pend_fd, "crd_pend_v3" },
		{ &in->flows_fd, "crd_flows_v3" }, { &in->events_fd, "crd_events_v3" },
		{ &in->lsn_fd, "crd_lsn_v3" },     { &in->uflows_fd, "crd_uflows_v3" },
		{ &in->ukey_fd, "crd_ukey_v3" },   { &in->urep_fd, "crd_urep_v3" },
		{ &in->usk_fd, "crd_usk_v3" },
	};
	struct crd_config cfg;
	size_t i;
	int err;

	memset(in, 0, sizeof(*in));
	in->lock_fd = -1;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		*maps[i].fd = -1;
	err = crd_inst_dir(name, in->dir, sizeof(in->dir));
	if (err)
		return err;
	in->lock_fd = open(in->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (in->lock_fd < 0)
		return -errno;
	if (flock(in->lock_fd, exclusive ? LOCK_EX : LOCK_SH)) {
		err = -errno;
		goto fail;
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		*maps[i].fd = open_pin(in->dir, maps[i].name);
		if (*maps[i].fd < 0) {
			/* A pin named for another layout version. */
			err = errno == ENOENT ? -EPROTO : -errno;
			goto fail;
		}
	}
	err = crd_inst_get_config(in, &cfg);
	if (err)
		goto fail;
	if (cfg.layout != CRD_LAYOUT_VERSION) {
		err = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	crd_inst_close(in);
	return err;
}

int crd_inst_get_config(const struct crd_inst *in, struct crd_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(in->cfg_fd, &zero, cfg) ? -errno : 0;
}

int crd_inst_put_config(const struct crd_inst *in, const struct crd_config *cfg)
{
	__u32 zero = 0;

	return bpf_map_update_elem(in->cfg_fd, &zero, cfg, BPF_ANY) ? -errno : 0;
}

int crd_inst_get_services(const struct crd_inst *in,
			  struct crd_service svcs[CRD_MAX_SERVICES])
{
	__u32 k;

	for (k = 0; k < CRD_MAX_SERVICES; k++)
		if (bpf_map_lookup_elem(in->svc_fd, &k, &svcs[k]))
			return -errno;
	return 0;
}

static const struct crd_service *sort_base;

static int by_weight(const void *a, const void *b)
{
	const struct crd_service *x = &sort_base[*(const __u32 *)a];
	const struct crd_service *y = &sort_base[*(const __u32 *)b];

	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int crd_inst_publish_order(const struct crd_inst *in,
			   const struct crd_service svcs[CRD_MAX_SERVICES])
{
	struct crd_order order = { 0 }, old;
	struct crd_config cfg;
	__u32 k, next;
	int err;

	for (k = 0; k < CRD_MAX_SERVICES; k++)
		if (svcs[k].id)
			order.slot[order.n++] = k;
	sort_base = svcs;
	qsort(order.slot, order.n, sizeof(order.slot[0]), by_weight);
	err = crd_inst_get_config(in, &cfg);
	if (err)
		return err;
	/* A new generation: cached UDP flows are decided again. */
	next = cfg.active_order & 1;
	if (!bpf_map_lookup_elem(in->order_fd, &next, &old))
		order.gen = old.gen + 1;
	next = !(cfg.active_order & 1);
	if (bpf_map_update_elem(in->order_fd, &next, &order, BPF_ANY))
		return -errno;
	cfg.active_order = next;
	return crd_inst_put_config(in, &cfg);
}

int crd_inst_read_counters(const struct crd_inst *in, struct crd_config *cfg,
			   struct crd_service svcs[CRD_MAX_SERVICES], struct crd_order *order,
			   uint64_t totals[CRD_ST_MAX],
			   struct crd_svc_stats ss[CRD_MAX_SERVICES])
{
	__u32 k;
	int err;

	err = crd_inst_get_config(in, cfg);
	if (err)
		return err;
	err = crd_inst_get_services(in, svcs);
	if (err)
		return err;
	k = cfg->active_order & 1;
	if (bpf_map_lookup_elem(in->order_fd, &k, order))
		return -errno;
	if (order->n > CRD_MAX_SERVICES)
		order->n = CRD_MAX_SERVICES;
	err = crd_inst_sum_percpu(in->stats_fd, 0, totals, CRD_ST_MAX);
	for (k = 0; !err && k < CRD_MAX_SERVICES; k++)
		err = crd_inst_sum_percpu(in->svcst_fd, k, (uint64_t *)&ss[k],
					  sizeof(ss[k]) / sizeof(uint64_t));
	return err;
}

int crd_inst_sum_percpu(int map_fd, uint32_t key, uint64_t *out, size_t nvals)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	size_t c, i;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc((size_t)ncpu * nvals, sizeof(uint64_t));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &key, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(out, 0, nvals * sizeof(uint64_t));
	for (c = 0; c < (size_t)ncpu; c++)
		for (i = 0; i < nvals; i++)
			out[i] += vals[c * nvals + i];
	free(vals);
	return 0;
}
