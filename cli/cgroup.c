// SPDX-License-Identifier: MIT
/*
 * cgroup.c - finding the cgroup v2 hierarchy and resolving paths in it.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int crd_cg2_root(char *buf, size_t len)
{
	struct mntent *m;
	FILE *f = setmntent("/proc/self/mounts", "r");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		if (strlen(m->mnt_dir) + 1 > len) {
			err = -ENAMETOOLONG;
			break;
		}
		strcpy(buf, m->mnt_dir);
		err = 0;
		break;
	}
	endmntent(f);
	return err;
}

int crd_cg_resolve(const char *path, const char *base, bool create,
		   char *canon, size_t len, uint64_t *id, unsigned *level,
		   bool *created, const char **why)
{
	char root[PATH_MAX], joined[PATH_MAX], real[PATH_MAX];
	struct stat st;
	size_t rl;
	unsigned lvl = 0;
	const char *p;
	int n;

	if (created)
		*created = false;
	if (!path || !*path) {
		*why = "empty cgroup path";
		return -EINVAL;
	}
	if (crd_cg2_root(root, sizeof(root))) {
		*why = "no cgroup v2 hierarchy is mounted";
		return -ENOENT;
	}
	if (path[0] == '/' || !base)
		n = snprintf(joined, sizeof(joined), "%s", path);
	else
		n = snprintf(joined, sizeof(joined), "%s/%s", base, path);
	if (n < 0 || (size_t)n >= sizeof(joined)) {
		*why = "cgroup path too long";
		return -ENAMETOOLONG;
	}
	if (create && path[0] != '/' && base && access(joined, F_OK) && errno == ENOENT) {
		if (strstr(path, "..") || strchr(path, '/')) {
			*why = "only a plain child name can be created";
			return -EINVAL;
		}
		if (mkdir(joined, 0755)) {
			*why = "cannot create the cgroup";
			return -errno;
		}
		if (created)
			*created = true;
	}
	if (!realpath(joined, real)) {
		*why = errno == ENOENT ? "no such cgroup" : "cannot resolve the path";
		return -errno;
	}
	rl = strlen(root);
	if (strncmp(real, root, rl) || (real[rl] != '/' && real[rl] != '\0')) {
		*why = "not inside the cgroup v2 hierarchy";
		return -EINVAL;
	}
	if (stat(real, &st) || !S_ISDIR(st.st_mode)) {
		*why = "not a cgroup directory";
		return -ENOTDIR;
	}
	for (p = real + rl; *p; p++)
		if (*p == '/')
			lvl++;
	if (strlen(real) + 1 > len) {
		*why = "cgroup path too long";
		return -ENAMETOOLONG;
	}
	strcpy(canon, real);
	if (id)
		*id = st.st_ino;
	if (level)
		*level = lvl;
	return 0;
}

/* ---- naming a cgroup by its id ----------------------------------------------- */

static __u64 find_id;
static char find_path[PATH_MAX];

static int find_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (type != FTW_D)
		return FTW_CONTINUE;
	if (st->st_ino == find_id) {
		snprintf(find_path, sizeof(find_path), "%s", path);
		return FTW_STOP;
	}
	return ftw->level >= CRD_CG_LEVELS ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
}

/* Cgroup @id as its path, relative to @base when inside it. */
const char *crd_cg_name(const char *base, __u64 id, char *buf, size_t len)
{
	char root[PATH_MAX];
	size_t bl = base ? strlen(base) : 0;

	find_id = id;
	if (crd_cg2_root(root, sizeof(root)) ||
	    nftw(root, find_cb, 16, FTW_PHYS | FTW_ACTIONRETVAL) != FTW_STOP)
		snprintf(buf, len, "cgroup id %llu", (unsigned long long)id);
	else if (base && !strncmp(find_path, base, bl) && find_path[bl] == '/')
		snprintf(buf, len, "%s", find_path + bl + 1);
	else
		snprintf(buf, len, "%s", find_path);
	return buf;
}
