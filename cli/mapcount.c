// SPDX-License-Identifier: MIT
/*
 * mapcount.c - how many entries each per-flow map holds (status).
 *
 * Hash maps: by walking their keys with bpf_map_get_next_key, which works
 * on every kernel. Socket-storage maps have no keys to walk: only an
 * iterator program (crd_iter.bpf.c) can count them, and only where the
 * optional feature bpf_iterators is on (features.c); elsewhere they are
 * not counted, and say why.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "crd_iter.skel.h"

/* One walk of a hash map's keys; -EAGAIN if it ran past @max (entries
 * deleted under it make get_next_key start over). */
static long walk_keys(int map_fd, size_t key_size, __u32 max)
{
	unsigned char key[128], next[128];
	void *prev = NULL;
	long n = 0;

	while (!bpf_map_get_next_key(map_fd, prev, next)) {
		if (++n > (long)max)
			return -EAGAIN;
		memcpy(key, next, key_size);
		prev = key;
	}
	return errno == ENOENT ? n : -errno;
}

static long count_hash(int map_fd, size_t key_size)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	long n = -EAGAIN;
	int tries;

	if (key_size > 128)
		return -EINVAL;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	for (tries = 0; n == -EAGAIN && tries < 3; tries++)
		n = walk_keys(map_fd, key_size, info.max_entries);
	return n;
}

/* Sockets holding storage in @map_fd: crd_iter writes a byte for each. */
static long count_sk_storage(int map_fd)
{
	LIBBPF_OPTS(bpf_iter_attach_opts, opts);
	union bpf_iter_link_info linfo;
	struct crd_iter_bpf *skel;
	struct bpf_link *link = NULL;
	char buf[4096];
	long n = 0;
	ssize_t r;
	int fd = -1;

	skel = crd_iter_bpf__open_and_load();
	if (!skel)
		return -errno;
	memset(&linfo, 0, sizeof(linfo));
	linfo.map.map_fd = map_fd;
	opts.link_info = &linfo;
	opts.link_info_len = sizeof(linfo);
	link = bpf_program__attach_iter(skel->progs.crd_count_sk, &opts);
	if (!link) {
		n = -errno;
		goto out;
	}
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		n = -errno;
		goto out;
	}
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		n += r;
	if (r < 0)
		n = -errno;
out:
	if (fd >= 0)
		close(fd);
	bpf_link__destroy(link);
	crd_iter_bpf__destroy(skel);
	return n;
}

void crd_count_maps(const struct crd_inst *in, const struct crd_features *fs,
		    struct crd_map_count out[CRD_N_COUNTED_MAPS])
{
	const struct {
		const char *name;
		int fd;
		size_t key_size;    /* 0: socket storage */
	} maps[CRD_N_COUNTED_MAPS] = {
		{ "crd_pend_v3", in->pend_fd, sizeof(struct crd_tuple) },
		{ "crd_flows_v3", in->flows_fd, sizeof(__u64) },
		{ "crd_sk_v3", in->sk_fd, 0 },
		{ "crd_conn_v3", in->conn_fd, 0 },
		{ "crd_uflows_v3", in->uflows_fd, sizeof(__u32) },
		{ "crd_ukey_v3", in->ukey_fd, sizeof(struct crd_ukey) },
		{ "crd_urep_v3", in->urep_fd, sizeof(struct crd_urep_key) },
		{ "crd_usk_v3", in->usk_fd, 0 },
	};
	char why[200];
	unsigned i;

	for (i = 0; i < CRD_N_COUNTED_MAPS; i++) {
		struct crd_map_count *c = &out[i];

		c->name = maps[i].name;
		c->sk_storage = !maps[i].key_size;
		c->why[0] = '\0';
		if (!c->sk_storage) {
			c->n = count_hash(maps[i].fd, maps[i].key_size);
			if (c->n < 0)
				snprintf(c->why, sizeof(c->why), "walking its keys failed: %s (%s)",
					 strerror((int)-c->n), crd_errname((int)c->n));
		} else if (fs->err[CRD_FEAT_ITER]) {
			c->n = fs->err[CRD_FEAT_ITER];
			snprintf(c->why, sizeof(c->why), "needs BPF iterators: %s",
				 crd_feature_why(fs, CRD_FEAT_ITER, why, sizeof(why)));
		} else {
			c->n = count_sk_storage(maps[i].fd);
			if (c->n < 0)
				snprintf(c->why, sizeof(c->why), "the iterator failed: %s (%s)",
					 strerror((int)-c->n), crd_errname((int)c->n));
		}
	}
}
