// SPDX-License-Identifier: MIT
/*
 * features.c - the optional kernel features connredir can do without.
 *
 * Today one: BPF iterators (status counts socket-storage maps with one).
 * Some kernels refuse iterator programs even to root (EPERM), and libbpf,
 * when a load fails, prints blocks of errors and reads a log buffer the
 * kernel filled behind Valgrind's back. So whether a feature works is
 * probed once, quietly, with raw bpf(2) calls and no log buffer, and the
 * result is cached in the instance's pin directory (docs/DESIGN.md,
 * "Optional kernel features"). CONNREDIR_NO_OPTIONAL=1 turns every
 * optional feature off without probing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"

/* The cache: one array element pinned as DIR/features. Its pin name does
 * not start with crd_: it is no map of the BPF object (upgrade leaves it
 * alone, detach removes it with the rest). */
#define CACHE_PIN "features"
#define CACHE_VERSION 1
struct feat_cache {
	__u32 version;
	__u32 n;                 /* features probed: CRD_FEAT_MAX of the writer */
	__s32 err[14];           /* per feature: 0 or -errno */
};

static const struct {
	const char *name;
	const char *use;
} feats[CRD_FEAT_MAX] = {
	[CRD_FEAT_ITER] = { "bpf_iterators", "socket-storage maps are not counted" },
};

const char *crd_feature_name(unsigned f)
{
	return f < CRD_FEAT_MAX ? feats[f].name : "?";
}

const char *crd_feature_use(unsigned f)
{
	return f < CRD_FEAT_MAX ? feats[f].use : "?";
}

bool crd_no_optional(void)
{
	const char *v = getenv("CONNREDIR_NO_OPTIONAL");

	return v && *v && strcmp(v, "0");
}

const char *crd_feature_why(const struct crd_features *f, unsigned i, char *buf,
			    size_t len)
{
	int err = i < CRD_FEAT_MAX ? f->err[i] : -EINVAL;

	if (f->forced_off)
		snprintf(buf, len, "forced off by CONNREDIR_NO_OPTIONAL=1");
	else if (err == -ESRCH || err == -ENOENT)
		snprintf(buf, len, "this kernel has no BTF for it (%s)", crd_errname(err));
	else
		snprintf(buf, len, "refused by this kernel: %s (%s)", strerror(-err),
			 crd_errname(err));
	return buf;
}

/*
 * probe_iter - load an iterator program for socket-storage maps (it returns
 * at once), make an iterator over @sk_fd and read it: everything status's
 * count does. 0 or -errno.
 */
static int probe_iter(int sk_fd)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, popts, .expected_attach_type = BPF_TRACE_ITER);
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	union bpf_iter_link_info linfo;
	int id, prog, link = -1, it = -1, err = 0;
	char buf[64];

	id = libbpf_find_vmlinux_btf_id("bpf_sk_storage_map", BPF_TRACE_ITER);
	if (id < 0)
		return id;
	popts.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "crd_probe_iter", "Dual MIT/GPL",
			     insns, sizeof(insns) / sizeof(insns[0]), &popts);
	if (prog < 0)
		return -errno;
	memset(&linfo, 0, sizeof(linfo));
	linfo.map.map_fd = sk_fd;
	lopts.iter_info = &linfo;
	lopts.iter_info_len = sizeof(linfo);
	link = bpf_link_create(prog, 0, BPF_TRACE_ITER, &lopts);
	if (link < 0) {
		err = -errno;
		goto out;
	}
	it = bpf_iter_create(link);
	if (it < 0 || read(it, buf, sizeof(buf)) < 0)
		err = -errno;
out:
	if (it >= 0)
		close(it);
	if (link >= 0)
		close(link);
	close(prog);
	return err;
}

static int cache_read(const char *dir, struct crd_features *f)
{
	struct feat_cache c;
	char path[512];
	__u32 zero = 0;
	unsigned i;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, CACHE_PIN);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, &c))
		err = -errno;
	else if (c.version != CACHE_VERSION || c.n < CRD_FEAT_MAX)
		err = -ESTALE;   /* another build's: probe again */
	close(fd);
	for (i = 0; !err && i < CRD_FEAT_MAX; i++)
		f->err[i] = c.err[i];
	return err;
}

/* Best effort: a status that cannot write the cache probes again next time. */
static void cache_write(const char *dir, const struct crd_features *f)
{
	struct feat_cache c = { .version = CACHE_VERSION, .n = CRD_FEAT_MAX };
	char path[512];
	__u32 zero = 0;
	unsigned i;
	int fd;

	_Static_assert(CRD_FEAT_MAX <= sizeof(c.err) / sizeof(c.err[0]), "cache room");
	for (i = 0; i < CRD_FEAT_MAX; i++)
		c.err[i] = f->err[i];
	snprintf(path, sizeof(path), "%s/%s", dir, CACHE_PIN);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "crd_features", sizeof(zero), sizeof(c),
			    1, NULL);
	if (fd < 0)
		return;
	if (!bpf_map_update_elem(fd, &zero, &c, BPF_ANY))
		bpf_obj_pin(fd, path);   /* EEXIST: another command was first */
	close(fd);
}

void crd_features_get(const char *dir, int sk_fd, struct crd_features *f)
{
	char why[256];
	unsigned i;

	memset(f, 0, sizeof(*f));
	if (crd_no_optional()) {
		f->forced_off = true;
		for (i = 0; i < CRD_FEAT_MAX; i++)
			f->err[i] = -ENOTSUP;
	} else if (cache_read(dir, f)) {
		f->err[CRD_FEAT_ITER] = probe_iter(sk_fd);
		cache_write(dir, f);
	}
	for (i = 0; i < CRD_FEAT_MAX; i++)
		if (f->err[i])
			crd_note("optional kernel feature %s is off: %s; %s", feats[i].name,
				 crd_feature_why(f, i, why, sizeof(why)), feats[i].use);
}
