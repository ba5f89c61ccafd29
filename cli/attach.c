// SPDX-License-Identifier: MIT
/*
 * attach.c - `attach`, `detach` and `set`: an instance's life.
 *
 * attach loads the programs, pins every map and every cgroup link under
 * CRD_PIN_ROOT/NAME and exits: the pins keep redirection working with no
 * daemon. detach unpins them, which detaches the links; programs others
 * attached to the same cgroup are never touched.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "parse.h"
#include "connredir.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

const char *crd_bpf_strerror(int err)
{
	static char buf[128];

	if (err < 0)
		err = -err;
	switch (err) {
	case LIBBPF_ERRNO__LIBELF:
		return "not an ELF file (libelf cannot read it)";
	case LIBBPF_ERRNO__FORMAT:
		return "not a BPF object file (an ELF file of eBPF programs, as clang "
		       "-target bpf makes)";
	case LIBBPF_ERRNO__KVERSION:
		return "the BPF object has a wrong 'version' section";
	case LIBBPF_ERRNO__ENDIAN:
		return "the BPF object is built for the other byte order";
	case LIBBPF_ERRNO__RELOC:
		return "the BPF object's relocations cannot be resolved (built against "
		       "another kernel's BTF?)";
	case LIBBPF_ERRNO__LOAD:
	case LIBBPF_ERRNO__VERIFY:
		return "the kernel refused to load a program (its verifier; see "
		       "CONNREDIR_DEBUG=1)";
	case LIBBPF_ERRNO__PROG2BIG:
		return "a program is too big for this kernel";
	case LIBBPF_ERRNO__KVER:
		return "the BPF object needs another kernel version";
	}
	if (err >= __LIBBPF_ERRNO__START && err < __LIBBPF_ERRNO__END &&
	    !libbpf_strerror(err, buf, sizeof(buf)))
		return buf;
	return strerror(err);
}

/* Mount bpffs at CRD_BPFFS unless a bpffs is already there. */
static int ensure_bpffs(void)
{
	struct statfs sfs;

	if (!statfs(CRD_BPFFS, &sfs) && sfs.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir(CRD_BPFFS, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", CRD_BPFFS, "bpf", 0, "mode=0700"))
		return -errno;
	return 0;
}

/* Every program attached to the cgroup, and the name of its pinned link.
 * attach, detach and upgrade all go by this table. */
const struct crd_link_def crd_links[] = {
	{ "crd_connect4", "link_connect4" },
	{ "crd_connect6", "link_connect6" },
	{ "crd_sockops", "link_sockops" },
	{ "crd_getsockopt", "link_getsockopt" },
	{ "crd_setsockopt", "link_setsockopt" },
	{ "crd_sock_release", "link_sock_release" },
	{ "crd_bind4", "link_bind4" },
	{ "crd_bind6", "link_bind6" },
	{ "crd_sendmsg4", "link_sendmsg4" },
	{ "crd_sendmsg6", "link_sendmsg6" },
	{ "crd_recvmsg4", "link_recvmsg4" },
	{ "crd_recvmsg6", "link_recvmsg6" },
	{ "crd_getpeername4", "link_getpeername4" },
	{ "crd_getpeername6", "link_getpeername6" },
	{ "crd_egress", "link_egress" },
};
const size_t crd_n_links = sizeof(crd_links) / sizeof(crd_links[0]);
#define N_LINKS (sizeof(crd_links) / sizeof(crd_links[0]))

/* Remove everything pinned in @dir, then @dir, then the root if empty. */
static int unpin_all(const char *dir)
{
	struct dirent *de;
	char path[PATH_MAX];
	size_t i;
	DIR *d;
	int err = 0;

	/* Links first: programs stop running before their maps go. */
	for (i = 0; i < N_LINKS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, crd_links[i].link);
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	}
	d = opendir(dir);
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (unlink(path) && errno != ENOENT)
				err = -errno;
		}
		closedir(d);
	}
	if (rmdir(dir) && errno != ENOENT)
		err = -errno;
	rmdir(CRD_PIN_ROOT);   /* only succeeds when no other instance is left */
	return err;
}

static void attach_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] attach [--system-wide] [--hop-limit N] CGROUP_PATH\n\n"
		"Load connredir's programs and attach them to the cgroup v2 directory\n"
		"CGROUP_PATH: every socket created by a process in that subtree is\n"
		"subject to redirection. State is pinned under %s/NAME.\n\n"
		"  --system-wide   allow CGROUP_PATH to be the root of the hierarchy\n"
		"                  (every process on the machine)\n"
		"  --hop-limit N   redirections after which a flow is never redirected\n"
		"                  again (1-%d, default %d)\n"
		"  -h, --help      this help\n", CRD_PIN_ROOT, CRD_MAX_HOPS,
		CRD_DEFAULT_HOP_LIMIT);
}

int attach_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "system-wide", no_argument, NULL, 'S' },
		{ "hop-limit", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bpf_program *progs[N_LINKS];
	struct bpf_link *links[N_LINKS] = { 0 };
	struct connredir_bpf *skel = NULL;
	struct crd_config cfg = { 0 };
	struct crd_features fs;
	char cg[PATH_MAX], root[PATH_MAX], dir[256], path[PATH_MAX];
	bool system_wide = false, pinned = false;
	const char *why = NULL;
	uint64_t hop_limit = CRD_DEFAULT_HOP_LIMIT, cgid;
	struct timespec ts;
	struct bpf_map *map;
	unsigned level;
	int c, err, cg_fd = -1, ret = 1;
	size_t i;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			system_wide = true;
			break;
		case 'H':
			if (crd_parse_u64(optarg, CRD_MAX_HOPS, &hop_limit, &why) || !hop_limit) {
				crd_err("--hop-limit '%s': %s", optarg,
					why ? why : "must be at least 1");
				return 1;
			}
			break;
		case 'h':
			attach_usage(stdout);
			return 0;
		default:
			crd_try_help("attach");
			return 1;
		}
	}
	if (optind != argc - 1) {
		crd_err("attach: %s", optind < argc ? "exactly one CGROUP_PATH is needed" :
			"a CGROUP_PATH is needed");
		crd_try_help("attach");
		return 1;
	}
	err = crd_cg_resolve(argv[optind], NULL, false, cg, sizeof(cg), &cgid,
			     &level, NULL, &why);
	if (err) {
		crd_err("cgroup '%s': %s", argv[optind], why);
		return 1;
	}
	if (strlen(cg) >= CRD_PATH_LEN) {
		crd_err("cgroup '%s': path longer than %d bytes", cg, CRD_PATH_LEN - 1);
		return 1;
	}
	if (crd_cg2_root(root, sizeof(root)) == 0 && !strcmp(cg, root) && !system_wide) {
		crd_err("cgroup '%s': is the root of the cgroup v2 hierarchy; attaching "
			"there redirects every process on the machine (add --system-wide "
			"if that is what you want)", argv[optind]);
		return 1;
	}
	err = ensure_bpffs();
	if (err) {
		crd_err("bpffs at %s: cannot mount: %s", CRD_BPFFS, strerror(-err));
		return 1;
	}
	crd_inst_dir(crd_instance, dir, sizeof(dir));
	if (!access(dir, F_OK)) {
		crd_err("instance '%s': already attached (%s exists); detach it first",
			crd_instance, dir);
		return 1;
	}
	skel = connredir_bpf__open();
	if (!skel) {
		crd_err("loading BPF object: %s", crd_bpf_strerror(errno));
		goto out;
	}
	err = connredir_bpf__load(skel);
	if (err) {
		crd_load_failed("loading BPF programs", err);
		goto out;
	}
	if (mkdir(CRD_PIN_ROOT, 0700) && errno != EEXIST) {
		crd_err("%s: %s", CRD_PIN_ROOT, strerror(errno));
		goto out;
	}
	if (mkdir(dir, 0700)) {
		crd_err("%s: %s", dir, strerror(errno));
		goto out;
	}
	pinned = true;

	cfg.layout = CRD_LAYOUT_VERSION;
	cfg.hop_limit = hop_limit;
	cfg.next_id = 1;
	cfg.cgroup_id = cgid;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cfg.attached_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	memcpy(cfg.cgroup_path, cg, strlen(cg) + 1);
	{
		__u32 zero = 0;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.crd_cfg_v3), &zero, &cfg, BPF_ANY)) {
			crd_err("writing the configuration map: %s", strerror(errno));
			goto out;
		}
	}
	bpf_object__for_each_map(map, skel->obj) {
		if (strncmp(bpf_map__name(map), "crd_", 4))
			continue;   /* .bss and friends */
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__pin(map, path);
		if (err) {
			crd_err("pinning map %s: %s", path, strerror(-err));
			goto out;
		}
	}

	/* Probe the optional features once, now, and cache what works. */
	crd_features_get(dir, bpf_map__fd(skel->maps.crd_sk_v3), &fs);

	cg_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0) {
		crd_err("cgroup '%s': %s", cg, strerror(errno));
		goto out;
	}
	for (i = 0; i < N_LINKS; i++) {
		progs[i] = bpf_object__find_program_by_name(skel->obj, crd_links[i].prog);
		if (!progs[i]) {
			crd_err("program %s: not in this build", crd_links[i].prog);
			goto out;
		}
	}
	for (i = 0; i < N_LINKS; i++) {
		links[i] = bpf_program__attach_cgroup(progs[i], cg_fd);
		if (!links[i]) {
			crd_err("attaching %s to cgroup '%s': %s",
				bpf_program__name(progs[i]), cg, strerror(errno));
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, crd_links[i].link);
		err = bpf_link__pin(links[i], path);
		if (err) {
			crd_err("pinning link %s: %s", path, strerror(-err));
			goto out;
		}
	}
	printf("instance %s attached to %s (hop limit %u)\n", crd_instance, cg,
	       (unsigned)hop_limit);
	ret = 0;
out:
	for (i = 0; i < N_LINKS; i++)
		bpf_link__destroy(links[i]);   /* the pins keep them alive */
	if (cg_fd >= 0)
		close(cg_fd);
	if (ret && pinned)
		unpin_all(dir);
	connredir_bpf__destroy(skel);
	return ret;
}

static void detach_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] detach\n\n"
		"Detach this instance's programs from its cgroup and remove its pinned\n"
		"maps. Programs of other instances or other tools stay attached.\n"
		"Connections already redirected keep going; new ones are not redirected.\n");
}

int detach_main(int argc, char **argv)
{
	struct crd_inst in;
	char dir[256];
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		detach_usage(stdout);
		return 0;
	}
	if (argc != 1) {
		crd_try_help("detach");
		return 1;
	}
	crd_inst_dir(crd_instance, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		crd_err("instance '%s': not attached (no %s)", crd_instance, dir);
		return 1;
	}
	/* Lock out concurrent service changes while the pins go. A layout
	 * mismatch must not stop a detach. */
	err = crd_inst_open(crd_instance, true, &in);
	err = unpin_all(dir);
	if (in.lock_fd >= 0 || in.svc_fd >= 0)
		crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': removing %s: %s", crd_instance, dir, strerror(-err));
		return 1;
	}
	printf("instance %s detached\n", crd_instance);
	return 0;
}

static void set_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] set [--hop-limit N] [--quota-tcp N]\n"
		"                                          [--quota-udp N]\n\n"
		"  --hop-limit N   redirections after which a flow is never redirected\n"
		"                  again (1-%d)\n"
		"  --quota-tcp N   TCP application sockets with a live redirected flow\n"
		"                  that one cgroup, and one uid, may hold (1-%d;\n"
		"                  default %d); past it connect() fails with EDQUOT\n"
		"  --quota-udp N   UDP flows one cgroup, and one uid, may hold (1-%d;\n"
		"                  default %d); past it sendmsg() fails with EDQUOT\n",
		CRD_MAX_HOPS, CRD_PEND_MAX, CRD_DEFAULT_QUOTA_TCP, CRD_UFLOWS_MAX,
		CRD_DEFAULT_QUOTA_UDP);
}

int set_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hop-limit", required_argument, NULL, 'H' },
		{ "quota-tcp", required_argument, NULL, 'T' },
		{ "quota-udp", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct crd_config cfg;
	struct crd_inst in;
	const char *why = NULL;
	uint64_t hop = 0, qtcp = 0, qudp = 0;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			if (crd_parse_u64(optarg, CRD_MAX_HOPS, &hop, &why) || !hop) {
				crd_err("--hop-limit '%s': %s", optarg,
					why ? why : "must be at least 1");
				return 1;
			}
			break;
		case 'T':
		case 'U':
			if (crd_parse_u64(optarg, c == 'T' ? CRD_PEND_MAX : CRD_UFLOWS_MAX,
					  c == 'T' ? &qtcp : &qudp, &why) ||
			    !(c == 'T' ? qtcp : qudp)) {
				crd_err("--quota-%s '%s': %s", c == 'T' ? "tcp" : "udp", optarg,
					why ? why : "must be at least 1");
				return 1;
			}
			break;
		case 'h':
			set_usage(stdout);
			return 0;
		default:
			crd_try_help("set");
			return 1;
		}
	}
	if (optind != argc || !(hop || qtcp || qudp)) {
		crd_err("set: %s", optind != argc ? "unexpected argument" :
			"nothing to set (--hop-limit, --quota-tcp or --quota-udp)");
		crd_try_help("set");
		return 1;
	}
	err = crd_inst_open(crd_instance, true, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" : strerror(-err));
		return 1;
	}
	err = crd_inst_get_config(&in, &cfg);
	if (!err) {
		if (hop)
			cfg.hop_limit = hop;
		if (qtcp)
			cfg.quota_tcp = qtcp;
		if (qudp)
			cfg.quota_udp = qudp;
		err = crd_inst_put_config(&in, &cfg);
	}
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance, strerror(-err));
		return 1;
	}
	return 0;
}
