// SPDX-License-Identifier: MIT
/*
 * upgrade.c - `upgrade`: give an attached instance the programs of another
 * build, keeping every pinned map.
 *
 * The new object (the skeleton compiled into this binary, or --object FILE)
 * is opened, its map layout checked against crd_config.layout and each of
 * its crd_* maps against the pin of the same name (type, key and value
 * size, max_entries, flags); any difference refuses the upgrade before
 * anything is loaded. Then every crd_* map is reused from its pin, the
 * object is loaded, and each pinned cgroup link (crd_links[]) is switched
 * to its new program with BPF_LINK_UPDATE (BPF_F_REPLACE: only if it still
 * runs the program read from it). A link that cannot be switched puts the
 * ones already switched back on their old programs.
 * See docs/DESIGN.md, section 3, "Upgrading the programs".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "connredir.skel.h"

/* Fault injection for tests/it/14-upgrade.sh: switching the N-th link
 * (1-based, in the order they are switched) fails with EIO, so that the
 * rollback is tested. */
#define UPGRADE_FAIL_ENV "CONNREDIR_TEST_UPGRADE_FAIL"


/* One pinned link and the program that replaces its own. */
struct upg_link {
	char pin[64];               /* its pin in the instance directory */
	char prog_name[64];         /* the program it runs */
	int link_fd;                /* the link, from the pin */
	int old_fd;                 /* the program it runs now */
	__u32 old_id;
	struct bpf_program *prog;   /* its replacement in the new object */
	__u32 new_id;
};

/* One crd_* map of the new object and its pin. */
struct upg_map {
	struct bpf_map *map;
	int pin_fd;                 /* -1: not pinned */
};

static void upgrade_usage(FILE *f)
{
	fprintf(f, "Usage: connredir [--instance NAME] upgrade [--object FILE] [--json]\n\n"
		"Replace the attached instance's programs with those of this connredir\n"
		"(or of FILE, a connredir.bpf.o), keeping every pinned map: services,\n"
		"counters, records and open flows stay. Each link switches to its new\n"
		"program atomically. Refused, with nothing changed, if a map of the new\n"
		"build differs from the pinned one (another map layout).\n\n"
		"  --object FILE   take the programs from FILE instead of the ones built\n"
		"                  into connredir\n"
		"  --json          print what was done as JSON\n"
		"  -h, --help      this help\n");
}

/* N of a map name ending in "_vN", or -1. */
static int name_layout(const char *name)
{
	const char *v = strrchr(name, '_');
	char *end;
	long n;

	if (!v || v[1] != 'v' || v[2] < '0' || v[2] > '9')
		return -1;
	n = strtol(v + 2, &end, 10);
	return *end || n <= 0 || n > 65535 ? -1 : (int)n;
}

/* libbpf's names of kinds of maps, programs and hooks ("?" if unknown). */
static const char *or_q(const char *s)
{
	return s ? s : "?";
}

/*
 * check_map - compare @um's map with its pin in @dir; print each difference
 * naming @src (where the new build comes from). Returns the number found.
 */
static int check_map(const char *dir, struct upg_map *um, const char *src)
{
	const char *name = bpf_map__name(um->map);
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int bad = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	um->pin_fd = bpf_obj_get(path);
	if (um->pin_fd < 0) {
		if (errno == ENOENT)
			crd_err("upgrade: map %s: in %s, not pinned in %s", name, src, dir);
		else
			crd_err("upgrade: map %s: %s", path, strerror(errno));
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(um->pin_fd, &info, &len)) {
		crd_err("upgrade: map %s: reading its info: %s", path, strerror(errno));
		return 1;
	}
	if (info.type != (__u32)bpf_map__type(um->map)) {
		crd_err("upgrade: map %s: type %s pinned, %s in %s", name,
			or_q(libbpf_bpf_map_type_str(info.type)),
			or_q(libbpf_bpf_map_type_str(bpf_map__type(um->map))), src);
		bad++;
	}
#define CMP(field, what, getter)						\
	if (info.field != getter(um->map)) {					\
		crd_err("upgrade: map %s: " what " %u pinned, %u in %s", name,	\
			info.field, getter(um->map), src);			\
		bad++;								\
	}
	CMP(key_size, "key size", bpf_map__key_size)
	CMP(value_size, "value size", bpf_map__value_size)
	CMP(max_entries, "max_entries", bpf_map__max_entries)
	CMP(map_flags, "map_flags", bpf_map__map_flags)
#undef CMP
	return bad;
}

/*
 * scan_pins - every crd_* map pinned in @dir must be in @obj, every link_*
 * pin in crd_links[]. Returns the problems found.
 */
static int scan_pins(const char *dir, struct bpf_object *obj, const char *src)
{
	struct dirent *de;
	int bad = 0;
	size_t i;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		crd_err("upgrade: %s: %s", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (!strncmp(name, "crd_", 4)) {
			if (!bpf_object__find_map_by_name(obj, name)) {
				crd_err("upgrade: map %s: pinned in %s, not in %s", name, dir, src);
				bad++;
			}
		} else if (!strncmp(name, "link_", 5)) {
			for (i = 0; i < crd_n_links; i++)
				if (!strcmp(crd_links[i].link, name))
					break;
			if (i == crd_n_links) {
				crd_err("upgrade: link %s/%s: this connredir has no program "
					"for it (attached by another version?)", dir, name);
				bad++;
			}
		}
	}
	closedir(d);
	return bad;
}

/*
 * open_link - open @l's pin, the program it runs, and find its replacement
 * in @obj; check that the replacement fits the hook. Returns problems.
 */
static int open_link(const char *dir, struct upg_link *l, struct bpf_object *obj,
		     const char *src)
{
	struct bpf_link_info li;
	struct bpf_prog_info pi;
	__u32 len = sizeof(li), hook;
	char path[PATH_MAX];
	int bad = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, l->pin);
	l->link_fd = bpf_obj_get(path);
	if (l->link_fd < 0) {
		crd_err("upgrade: link %s: %s", path,
			errno == ENOENT ? "not pinned (attached by another version? "
			"detach and attach again)" : strerror(errno));
		return 1;
	}
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(l->link_fd, &li, &len)) {
		crd_err("upgrade: link %s: reading its info: %s", path, strerror(errno));
		return 1;
	}
	if (li.type != BPF_LINK_TYPE_CGROUP) {
		crd_err("upgrade: link %s: of type %s, not cgroup", path,
			or_q(libbpf_bpf_link_type_str(li.type)));
		return 1;
	}
	hook = li.cgroup.attach_type;
	l->old_id = li.prog_id;
	l->old_fd = bpf_prog_get_fd_by_id(li.prog_id);
	if (l->old_fd < 0) {
		crd_err("upgrade: link %s: its program (id %u): %s", path, li.prog_id,
			strerror(errno));
		return 1;
	}
	memset(&pi, 0, sizeof(pi));
	len = sizeof(pi);
	if (bpf_obj_get_info_by_fd(l->old_fd, &pi, &len)) {
		crd_err("upgrade: program id %u: reading its info: %s", li.prog_id,
			strerror(errno));
		return 1;
	}
	/* Kernel names are cut at BPF_OBJ_NAME_LEN - 1 characters. */
	if (strncmp(pi.name, l->prog_name, BPF_OBJ_NAME_LEN - 1)) {
		crd_err("upgrade: link %s: runs program '%s' (id %u), not %s: changed "
			"by hand? refusing to touch it", path, pi.name, li.prog_id, l->prog_name);
		bad++;
	}
	l->prog = bpf_object__find_program_by_name(obj, l->prog_name);
	if (!l->prog) {
		crd_err("upgrade: program %s (link %s): not in %s", l->prog_name, l->pin, src);
		return bad + 1;
	}
	if ((__u32)bpf_program__type(l->prog) != pi.type) {
		crd_err("upgrade: program %s: of type %s in %s, the attached one is %s",
			l->prog_name, or_q(libbpf_bpf_prog_type_str(bpf_program__type(l->prog))),
			src, or_q(libbpf_bpf_prog_type_str(pi.type)));
		bad++;
	}
	if ((__u32)bpf_program__expected_attach_type(l->prog) != hook) {
		crd_err("upgrade: program %s: for hook %s in %s, its link is on %s",
			l->prog_name,
			or_q(libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(l->prog))),
			src, or_q(libbpf_bpf_attach_type_str(hook)));
		bad++;
	}
	return bad;
}

static __u32 prog_id(int fd)
{
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);

	memset(&pi, 0, sizeof(pi));
	return bpf_obj_get_info_by_fd(fd, &pi, &len) ? 0 : pi.id;
}

/* The id of the program the link pinned at @dir/@pin runs, or 0. */
static __u32 pinned_prog_id(const char *dir, const char *pin)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", dir, pin);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	memset(&li, 0, sizeof(li));
	err = bpf_obj_get_info_by_fd(fd, &li, &len);
	close(fd);
	return err ? 0 : li.prog_id;
}

/*
 * switch_link - put link @l on its new program (@forward) or back on its
 * old one, in place, only if it still runs the program expected. 0 or
 * -errno.
 */
static int switch_link(struct upg_link *l, bool forward)
{
	LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = BPF_F_REPLACE);
	int new_fd = bpf_program__fd(l->prog);

	opts.old_prog_fd = forward ? l->old_fd : new_fd;
	return bpf_link_update(l->link_fd, forward ? new_fd : l->old_fd, &opts) ? -errno : 0;
}

static void print_result(const struct upg_link *ls, size_t n, const char *object,
			 int layout)
{
	size_t i;

	if (crd_json) {
		printf("{\"instance\":");
		json_fput_str(stdout, crd_instance);
		printf(",\"object\":");
		if (object)
			json_fput_str(stdout, object);
		else
			printf("null");
		printf(",\"layout\":%d,\"programs\":[", layout);
		for (i = 0; i < n; i++) {
			printf("%s{\"program\":", i ? "," : "");
			json_fput_str(stdout, ls[i].prog_name);
			printf(",\"link\":");
			json_fput_str(stdout, ls[i].pin);
			printf(",\"old_id\":%u,\"new_id\":%u}", ls[i].old_id, ls[i].new_id);
		}
		printf("]}\n");
		return;
	}
	printf("instance %s: %zu programs upgraded (%s%s), maps kept\n", crd_instance, n,
	       object ? "from " : "built-in programs", object ? object : "");
	for (i = 0; i < n; i++)
		printf("  %-20s prog id %u -> %u\n", ls[i].prog_name, ls[i].old_id,
		       ls[i].new_id);
}

int upgrade_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "object", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct connredir_bpf *skel = NULL;
	struct bpf_object *obj = NULL;
	struct stat st;
	struct upg_link *ls = NULL;
	struct upg_map *ms = NULL;
	const char *object = NULL, *fail_env;
	char src[PATH_MAX + 16], dir[256];
	struct crd_config cfg;
	struct crd_inst in;
	struct bpf_program *p;
	struct bpf_map *map;
	size_t i, n_maps = 0, n_links = 0, max_links = crd_n_links, fail_at = 0;
	int c, err, bad = 0, new_layout = -1, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			object = optarg;
			break;
		case 'j':
			crd_json = true;
			break;
		case 'h':
			upgrade_usage(stdout);
			return 0;
		default:
			crd_try_help("upgrade");
			return 1;
		}
	}
	if (optind != argc) {
		crd_try_help("upgrade");
		return 1;
	}
	fail_env = getenv(UPGRADE_FAIL_ENV);
	if (fail_env)
		fail_at = strtoul(fail_env, NULL, 10);

	crd_inst_dir(crd_instance, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		crd_err("instance '%s': not attached (no %s)", crd_instance, dir);
		return 1;
	}
	/* The same exclusive lock as service, set and detach. */
	err = crd_inst_open(crd_instance, true, &in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance,
			err == -ENOENT ? "not attached" :
			err == -EPROTO ? "made by a connredir with another map layout: "
			"upgrade keeps the maps, so it cannot change their layout (detach "
			"and attach again)" : strerror(-err));
		return 1;
	}
	err = crd_inst_get_config(&in, &cfg);
	if (err) {
		crd_err("instance '%s': reading crd_cfg_v3: %s", crd_instance, strerror(-err));
		goto out;
	}

	if (object) {
		snprintf(src, sizeof(src), "%s", object);
		if (stat(object, &st)) {
			crd_err("--object '%s': %s", object, strerror(errno));
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			crd_err("--object '%s': %s, not a BPF object file", object,
				S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
			goto out;
		}
		obj = bpf_object__open_file(object, NULL);
		if (!obj) {
			crd_err("--object '%s': %s", object, crd_bpf_strerror(errno));
			goto out;
		}
	} else {
		snprintf(src, sizeof(src), "this connredir's built-in programs");
		skel = connredir_bpf__open();
		if (!skel) {
			crd_err("opening the built-in BPF object: %s", crd_bpf_strerror(errno));
			goto out;
		}
		obj = skel->obj;
	}

	/* ---- the new build's map layout ---- */
	bpf_object__for_each_map(map, obj)
		n_maps++;
	ms = calloc(n_maps ? n_maps : 1, sizeof(*ms));
	ls = calloc(max_links, sizeof(*ls));
	if (!ms || !ls) {
		crd_err("upgrade: %s", strerror(ENOMEM));
		goto out;
	}
	for (i = 0; i < max_links; i++)
		ls[i].link_fd = ls[i].old_fd = -1;
	n_maps = 0;
	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		int l;

		if (strncmp(name, "crd_", 4)) {
			/* Global variables: not pinned, made afresh. */
			if (strstr(name, ".bss") ||
			    (strstr(name, ".data") && !strstr(name, ".rodata")))
				fprintf(stderr, "connredir: upgrade: note: %s holds global "
					"variables, which are not pinned: the new programs "
					"start from their initial values\n", name);
			continue;
		}
		ms[n_maps].map = map;
		ms[n_maps].pin_fd = -1;
		l = name_layout(name);
		if (l < 0 || (new_layout >= 0 && l != new_layout)) {
			crd_err("upgrade: map %s: its name does not end in _v%d like the "
				"other maps of %s: cannot tell the build's map layout", name,
				new_layout >= 0 ? new_layout : CRD_LAYOUT_VERSION, src);
			bad++;
		} else {
			new_layout = l;
		}
		n_maps++;
	}
	if (!object && new_layout >= 0 && new_layout != CRD_LAYOUT_VERSION) {
		crd_err("upgrade: the built-in maps are named _v%d, but this build's "
			"CRD_LAYOUT_VERSION is %d", new_layout, CRD_LAYOUT_VERSION);
		bad++;
	}
	if (new_layout < 0) {
		crd_err("upgrade: %s has no crd_* maps: not a connredir BPF object", src);
		bad++;
	} else if ((__u32)new_layout != cfg.layout) {
		crd_err("upgrade: %s has map layout %d, the instance map layout %u "
			"(crd_config.layout): upgrade keeps the maps, so it cannot change "
			"their layout (detach and attach again)", src, new_layout, cfg.layout);
		bad++;
	}

	/* ---- same layout: every map by its shape, every link ---- */
	if (!bad) {
		for (i = 0; i < n_maps; i++)
			bad += check_map(dir, &ms[i], src);
		for (i = 0; i < crd_n_links; i++) {
			snprintf(ls[i].pin, sizeof(ls[i].pin), "%s", crd_links[i].link);
			snprintf(ls[i].prog_name, sizeof(ls[i].prog_name), "%s",
				 crd_links[i].prog);
		}
		n_links = crd_n_links;
		bad += scan_pins(dir, obj, src);
		for (i = 0; i < n_links; i++)
			bad += open_link(dir, &ls[i], obj, src);
	}
	if (bad) {
		crd_err("instance '%s': not upgraded: %d difference%s between %s and the "
			"pinned instance (above); nothing was changed", crd_instance, bad,
			bad == 1 ? "" : "s", src);
		goto out;
	}

	/* ---- load the new programs on the pinned maps ---- */
	bpf_object__for_each_program(p, obj) {
		for (i = 0; i < n_links; i++)
			if (ls[i].prog == p)
				break;
		if (i < n_links)
			continue;
		bpf_program__set_autoload(p, false);   /* no link of ours runs it */
	}
	for (i = 0; i < n_maps; i++) {
		err = bpf_map__reuse_fd(ms[i].map, ms[i].pin_fd);
		if (err) {
			crd_err("upgrade: reusing map %s: %s", bpf_map__name(ms[i].map),
				strerror(-err));
			crd_err("instance '%s': not upgraded; nothing was changed", crd_instance);
			goto out;
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		char what[PATH_MAX + 48];

		snprintf(what, sizeof(what), "loading the programs of %s", src);
		crd_load_failed(what, err);
		crd_err("instance '%s': not upgraded; nothing was changed", crd_instance);
		goto out;
	}
	for (i = 0; i < n_links; i++)
		ls[i].new_id = prog_id(bpf_program__fd(ls[i].prog));

	/* ---- switch each link; on failure switch the done ones back ---- */
	for (i = 0; i < n_links; i++) {
		struct upg_link *l = &ls[i];

		err = fail_at == i + 1 ? -EIO : switch_link(l, true);
		if (err) {
			crd_err("upgrade: switching %s/%s from program id %u to %u: %s", dir,
				l->pin, l->old_id, l->new_id, strerror(-err));
			break;
		}
	}
	if (i < n_links) {
		size_t done = i, left = 0;

		while (i-- > 0) {
			struct upg_link *l = &ls[i];

			err = switch_link(l, false);
			if (err) {
				crd_err("upgrade: rolling back %s/%s to program id %u: %s; it "
					"stays on the new program (id %u)", dir, l->pin,
					l->old_id, strerror(-err), l->new_id);
				left++;
			}
		}
		if (left)
			crd_err("instance '%s': upgrade failed; %zu of the %zu links switched "
				"could not be rolled back and run the new programs (same map "
				"layout, so the instance keeps working); run upgrade again",
				crd_instance, left, done);
		else
			crd_err("instance '%s': upgrade failed; the %zu link%s already "
				"switched %s rolled back to the old programs: nothing changed",
				crd_instance, done, done == 1 ? "" : "s",
				done == 1 ? "was" : "were");
		goto out;
	}
	for (i = 0; i < n_links; i++) {
		__u32 now = pinned_prog_id(dir, ls[i].pin);

		if (now != ls[i].new_id) {
			crd_err("upgrade: %s/%s runs program id %u after the switch, "
				"expected %u", dir, ls[i].pin, now, ls[i].new_id);
			goto out;
		}
	}
	print_result(ls, n_links, object, new_layout);
	ret = 0;
out:
	for (i = 0; ls && i < max_links; i++) {
		if (ls[i].link_fd >= 0)
			close(ls[i].link_fd);
		if (ls[i].old_fd >= 0)
			close(ls[i].old_fd);
	}
	for (i = 0; ms && i < n_maps; i++)
		if (ms[i].pin_fd >= 0)
			close(ms[i].pin_fd);
	free(ls);
	free(ms);
	/* The links hold the new programs; the object's own fds go. */
	if (skel)
		connredir_bpf__destroy(skel);
	else
		bpf_object__close(obj);
	crd_inst_close(&in);
	return ret;
}
