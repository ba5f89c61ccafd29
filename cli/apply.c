// SPDX-License-Identifier: MIT
/*
 * apply.c - `apply FILE`: make an instance match connredir.conf(5).
 *
 * Everything is checked before anything changes: the file (config.c), then
 * the system (the cgroups it names, the attached instance, free service
 * ids). Only then does apply attach the instance if it is not attached, set
 * the hop limit, and change the services in one flip of the weight order:
 * new and changed services are written into free slots (not yet in the
 * order, so not yet seen by any hook), the order that has them, and not the
 * removed or replaced ones, is published with one store, and only then are
 * the old slots emptied. A connect sees the old set of services or the new
 * one, never a mix, and a changed service is never missing.
 *
 * A changed service keeps its id and its counters while its proxy identity
 * (owner-uid, owner-cgroup) stays the same: the flows it already redirected
 * stay its own, and the listener its proxy claimed (a claim names the
 * service id) still counts. A new identity is another proxy: a new id.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

enum { ACT_SAME, ACT_ADD, ACT_CHANGE };

/* What happens to one service of the file. */
struct step {
	int act;        /* ACT_* */
	int cur;        /* slot of the live service of that name; -1: none */
	__u32 old_id;   /* its id */
	bool keep_id;   /* ACT_CHANGE with the same proxy identity */
};

struct plan {
	struct crd_service want[CRD_MAX_SERVICES]; /* the file's, resolved */
	bool pending[CRD_MAX_SERVICES];  /* a cgroup of it is yet to be made */
	struct step step[CRD_MAX_SERVICES];
	bool remove[CRD_MAX_SERVICES];   /* by live slot */
	unsigned new_ids;                /* ids to hand out */
	unsigned changes;                /* of services */
};

/* The instance as it is. */
struct live {
	bool attached;
	struct crd_inst in;
	struct crd_config cfg;
	struct crd_service svcs[CRD_MAX_SERVICES];
};

static void apply_usage(FILE *f)
{
	fprintf(f,
		"Usage: connredir [--instance NAME] apply [--check] [--allow-empty] FILE\n"
		"       connredir [--instance NAME] apply --detach FILE\n\n"
		"Make the instance match the configuration FILE (connredir.conf(5)):\n"
		"attach it to the [instance] cgroup if it is not attached, set its hop\n"
		"limit, and add, change and remove services until exactly the file's\n"
		"[service NAME] sections are registered. Everything is checked before\n"
		"anything changes. One line per change: \"+ service NAME\",\n"
		"\"~ service NAME: weight 200 -> 250\", \"- service NAME\"; or \"= no changes\".\n\n"
		"  --check     check FILE and print the changes apply would make;\n"
		"              change nothing\n"
		"  --detach    detach the instance FILE names (to stop it); FILE must\n"
		"              still be a correct file, or nothing is detached\n"
		"  --allow-empty  an empty FILE (only blanks and comments) means no\n"
		"              instance: detach it; without this, an empty FILE is\n"
		"              refused\n"
		"  -h, --help  this help\n"
		"The instance is the file's 'name =', else --instance (default \"%s\").\n"
		"Exit status: 0, or 1 if FILE is wrong (its first 5 problems are printed\n"
		"as FILE:LINE: ...) or a change failed.\n", CRD_DEFAULT_INSTANCE);
}

/* Run a command's main() with its stdout muted (its errors still show). */
static int run_quiet(int (*fn)(int, char **), int argc, char **argv)
{
	int saved, null, rc;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (saved < 0 || null < 0 || dup2(null, STDOUT_FILENO) < 0) {
		if (saved >= 0)
			close(saved);
		if (null >= 0)
			close(null);
		return fn(argc, argv);
	}
	rc = fn(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(null);
	return rc;
}

/* The file's name = wins over the default instance, and must agree with an
 * explicit --instance. */
static int pick_instance(struct conf *c)
{
	if (!c->name[0])
		return 0;
	if (strcmp(crd_instance, CRD_DEFAULT_INSTANCE) && strcmp(crd_instance, c->name)) {
		conf_err(c, c->name_line, "[instance]: name '%s' differs from --instance '%s'",
			 c->name, crd_instance);
		return -EINVAL;
	}
	crd_instance = c->name;
	return 0;
}

/* ---- the plan --------------------------------------------------------------- */

static bool same_service(const struct crd_service *a, const struct crd_service *b)
{
	struct crd_service x = *a, y = *b;

	x.id = y.id = 0;
	return !memcmp(&x, &y, sizeof(x));
}

static bool same_identity(const struct crd_service *a, const struct crd_service *b)
{
	__u32 m = CRD_SVC_OWNER_UID | CRD_SVC_OWNER_CG;

	return (a->flags & m) == (b->flags & m) &&
	       (!(a->flags & CRD_SVC_OWNER_UID) || a->owner_uid == b->owner_uid) &&
	       (!(a->flags & CRD_SVC_OWNER_CG) || a->owner_cgid == b->owner_cgid);
}

static void make_plan(struct plan *pl, const struct conf *c, const struct live *lv)
{
	unsigned i, k;

	pl->new_ids = pl->changes = 0;
	for (k = 0; k < CRD_MAX_SERVICES; k++)
		pl->remove[k] = lv->attached && lv->svcs[k].id;
	for (i = 0; i < c->n_svc; i++) {
		struct step *st = &pl->step[i];

		memset(st, 0, sizeof(*st));
		st->cur = lv->attached ? service_slot(lv->svcs, pl->want[i].name) : -1;
		if (st->cur < 0) {
			st->act = ACT_ADD;
			pl->new_ids++;
			pl->changes++;
			continue;
		}
		pl->remove[st->cur] = false;
		st->old_id = lv->svcs[st->cur].id;
		if (same_service(&pl->want[i], &lv->svcs[st->cur]))
			continue;
		st->act = ACT_CHANGE;
		st->keep_id = same_identity(&pl->want[i], &lv->svcs[st->cur]);
		pl->new_ids += !st->keep_id;
		pl->changes++;
	}
	for (k = 0; k < CRD_MAX_SERVICES; k++)
		pl->changes += pl->remove[k];
}

/* "~ service NAME: weight 200 -> 250, dport 80 -> 80,443" */
static void print_change(FILE *f, const struct conf_service *cs,
			 const struct crd_service *old, const struct crd_service *new,
			 const char *base)
{
	static const __u32 cg_flag[2] = { CRD_SVC_APP_CG, CRD_SVC_OWNER_CG };
	char a[PATH_MAX], b[PATH_MAX];
	const char *sep = ": ";
	int opt;

	fprintf(f, "~ service %s", new->name);
	for (opt = 0; opt < SVC_OPT_MAX; opt++) {
		if (opt == SVC_OPT_APP_CG || opt == SVC_OPT_OWNER_CG) {
			int w = opt == SVC_OPT_OWNER_CG;
			__u32 fl = cg_flag[w];
			__u64 oid = w ? old->owner_cgid : old->app_cgid;
			__u64 nid = w ? new->owner_cgid : new->app_cgid;

			if ((old->flags & fl) == (new->flags & fl) &&
			    (!(old->flags & fl) || oid == nid))
				continue;
			snprintf(b, sizeof(b), "%s", cs->cg[w] ? cs->cg[w] : "-");
			if (old->flags & fl)
				crd_cg_name(base, oid, a, sizeof(a));
			else
				snprintf(a, sizeof(a), "-");
		} else {
			service_field(old, opt, a, sizeof(a));
			service_field(new, opt, b, sizeof(b));
			if (!strcmp(a, b))
				continue;
		}
		fprintf(f, "%s%s %s -> %s", sep, service_opt_names[opt], a, b);
		sep = ", ";
	}
	fputc('\n', f);
}

static void print_plan(FILE *f, const struct plan *pl, const struct conf *c,
		       const struct live *lv, const char *cg)
{
	bool any = false;
	unsigned i, k;

	if (!lv->attached) {
		fprintf(f, "+ instance %s: cgroup %s, hop-limit %u%s\n", crd_instance, cg,
			c->hop_limit, c->system_wide ? ", system-wide" : "");
		any = true;
	} else if (lv->cfg.hop_limit != c->hop_limit) {
		fprintf(f, "~ instance %s: hop-limit %u -> %u\n", crd_instance,
			lv->cfg.hop_limit, c->hop_limit);
		any = true;
	}
	for (i = 0; i < c->n_svc; i++) {
		if (pl->step[i].act == ACT_ADD)
			fprintf(f, "+ service %s\n", pl->want[i].name);
		else if (pl->step[i].act == ACT_CHANGE)
			print_change(f, &c->svc[i], &lv->svcs[pl->step[i].cur], &pl->want[i], cg);
	}
	for (k = 0; k < CRD_MAX_SERVICES; k++)
		if (pl->remove[k])
			fprintf(f, "- service %s\n", lv->svcs[k].name);
	if (!any && !pl->changes)
		fprintf(f, "= no changes\n");
}

/* ---- checking against the system ------------------------------------------ */

/* The file's services, their cgroups resolved against @base (the attached
 * cgroup); with @create, missing children of @base are made. */
static void resolve_services(struct plan *pl, struct conf *c, const char *base,
			     bool create)
{
	const char *why;
	unsigned i;
	int bad;

	for (i = 0; i < c->n_svc; i++) {
		struct conf_service *cs = &c->svc[i];

		if (service_spec_resolve(&cs->spec, base, create, &pl->want[i],
					 create ? NULL : &pl->pending[i], &bad, &why))
			conf_err(c, cs->opt_line[bad], "service '%s': %s '%s': %s",
				 cs->spec.svc.name, service_opt_names[bad],
				 cs->cg[bad == SVC_OPT_OWNER_CG], why);
	}
}

/* The instance as it is: lv->attached false if it is not attached. */
static int read_live(struct live *lv, bool exclusive)
{
	int err;

	lv->attached = false;
	err = crd_inst_open(crd_instance, exclusive, &lv->in);
	if (err == -ENOENT)
		return 0;
	if (err == -EPROTO) {
		crd_err("instance '%s': made by a connredir with another map layout; "
			"detach it with that version first", crd_instance);
		return err;
	}
	if (!err)
		err = crd_inst_get_config(&lv->in, &lv->cfg);
	if (!err)
		err = crd_inst_get_services(&lv->in, lv->svcs);
	if (err) {
		crd_err("instance '%s': %s", crd_instance, strerror(-err));
		crd_inst_close(&lv->in);
		return err;
	}
	lv->attached = true;
	return 0;
}

/* ---- changing things -------------------------------------------------------- */

static int attach(const struct conf *c, char *cg)
{
	char a0[] = "attach", a1[] = "--hop-limit", a2[16], a3[] = "--system-wide";
	char *argv[6];
	int n = 0;

	snprintf(a2, sizeof(a2), "%u", c->hop_limit);
	argv[n++] = a0;
	argv[n++] = a1;
	argv[n++] = a2;
	if (c->system_wide)
		argv[n++] = a3;
	argv[n++] = cg;
	argv[n] = NULL;
	return run_quiet(attach_main, n, argv) ? -EIO : 0;
}

static int execute(const struct plan *pl, const struct conf *c, struct live *lv)
{
	struct crd_service next[CRD_MAX_SERVICES], empty = { 0 };
	bool clear[CRD_MAX_SERVICES] = { false }, busy[CRD_MAX_SERVICES];
	unsigned i, k, need = 0, nfree = 0;
	bool early;
	int pass, err;

	if (lv->cfg.hop_limit != c->hop_limit) {
		err = crd_inst_get_config(&lv->in, &lv->cfg);
		if (err)
			return err;
		lv->cfg.hop_limit = c->hop_limit;
		err = crd_inst_put_config(&lv->in, &lv->cfg);
		if (err)
			return err;
	}
	memcpy(next, lv->svcs, sizeof(next));
	for (i = 0; i < c->n_svc; i++)
		need += pl->step[i].act != ACT_SAME;
	for (k = 0; k < CRD_MAX_SERVICES; k++)
		nfree += !lv->svcs[k].id;
	/* Without room for the old and the new side by side, the removed and
	 * the replaced go first, and each replacement takes its old slot. */
	early = need > nfree;
	if (early) {
		for (k = 0; k < CRD_MAX_SERVICES; k++)
			if (pl->remove[k])
				next[k] = empty;
		for (i = 0; i < c->n_svc; i++)
			if (pl->step[i].act == ACT_CHANGE)
				next[pl->step[i].cur] = empty;
		err = crd_inst_publish_order(&lv->in, next);
		for (k = 0; !err && k < CRD_MAX_SERVICES; k++)
			if (lv->svcs[k].id && !next[k].id)
				err = service_clear(&lv->in, k);
		if (err)
			return err;
	}
	for (k = 0; k < CRD_MAX_SERVICES; k++)
		busy[k] = next[k].id;
	/* Changes first: in the early case they reuse their own slots. */
	for (pass = ACT_CHANGE; pass >= ACT_ADD; pass--) {
		for (i = 0; i < c->n_svc; i++) {
			const struct step *st = &pl->step[i];
			struct crd_service s = pl->want[i];
			int slot = -1, from = -1;

			if (st->act != pass)
				continue;
			if (st->act == ACT_CHANGE && st->keep_id) {
				s.id = st->old_id;
				from = st->cur;
			} else {
				err = service_new_id(&lv->in, &s.id);
				if (err)
					return err;
			}
			if (early && st->act == ACT_CHANGE) {
				slot = st->cur;
			} else {
				for (k = 0; k < CRD_MAX_SERVICES && slot < 0; k++)
					if (!busy[k])
						slot = k;
				if (slot < 0)
					return -ENOSPC;   /* checked before: cannot be */
			}
			busy[slot] = true;
			err = service_put(&lv->in, slot, &s, from);
			if (err)
				return err;
			next[slot] = s;
			if (!early && st->act == ACT_CHANGE) {
				next[st->cur] = empty;
				clear[st->cur] = true;
			}
		}
	}
	if (!early) {
		for (k = 0; k < CRD_MAX_SERVICES; k++) {
			if (pl->remove[k]) {
				next[k] = empty;
				clear[k] = true;
			}
		}
	}
	err = crd_inst_publish_order(&lv->in, next);
	for (k = 0; !err && k < CRD_MAX_SERVICES; k++)
		if (clear[k])
			err = service_clear(&lv->in, k);
	return err;
}

/* ---- the command -------------------------------------------------------------- */

static int apply_conf(struct conf *c, bool check)
{
	char cg[PATH_MAX], root[PATH_MAX], *text = NULL;
	const char *why = NULL, *path;
	struct live lv = { 0 };
	struct plan *pl;
	FILE *out = NULL;
	size_t text_len;
	unsigned cg_line = c->cgroup_line ? c->cgroup_line : c->inst_line;
	uint64_t cgid = 0;
	int err, ret = 1;

	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		crd_err("apply: out of memory");
		return 1;
	}
	/* The file's own problems and the system's are reported together;
	 * the services' cgroups are looked at only in a good file. */
	pick_instance(c);

	/* The cgroup: it exists, it is not the root unless system-wide. */
	cg[0] = '\0';
	path = c->cgroup;
	if (!path && c->system_wide && !crd_cg2_root(root, sizeof(root)))
		path = root;
	if (!c->inst_line || (!c->cgroup && !c->system_wide)) {
		/* reported by conf_load() */
	} else if (!path) {
		conf_err(c, c->inst_line, "[instance]: no cgroup v2 hierarchy is mounted");
	} else if (crd_cg_resolve(path, NULL, false, cg, sizeof(cg), &cgid, NULL,
				  NULL, &why)) {
		conf_err(c, cg_line, "[instance]: cgroup '%s': %s", path, why);
		cg[0] = '\0';
	} else if (strlen(cg) >= CRD_PATH_LEN) {
		conf_err(c, cg_line, "[instance]: cgroup '%s': path longer than %d "
			 "bytes", cg, CRD_PATH_LEN - 1);
		cg[0] = '\0';
	} else if (!crd_cg2_root(root, sizeof(root)) && !strcmp(cg, root) &&
		   !c->system_wide) {
		conf_err(c, cg_line, "[instance]: cgroup '%s': is the root of the "
			 "cgroup v2 hierarchy; attaching there redirects every process on "
			 "the machine (add 'system-wide = yes' if that is what you want)",
			 path);
		cg[0] = '\0';
	}
	if (c->n_msgs)
		goto report;

	/* The instance: attached where the file says, room for the ids. */
	if (read_live(&lv, !check))
		goto out;
	if (lv.attached && lv.cfg.cgroup_id != cgid) {
		conf_err(c, cg_line, "[instance]: cgroup '%s': instance '%s' is attached "
			 "to %s; detach it first to move it", cg, crd_instance,
			 lv.cfg.cgroup_path);
		goto report;
	}
	resolve_services(pl, c, cg, false);
	if (c->n_msgs)
		goto report;
	make_plan(pl, c, &lv);
	if (lv.attached && lv.cfg.next_id + pl->new_ids > 0x10000) {
		conf_err(c, 0, "instance '%s': service ids are exhausted (%u more needed); "
			 "detach and apply again", crd_instance, pl->new_ids);
		goto report;
	}
	if (check) {
		print_plan(stdout, pl, c, &lv, cg);
		ret = 0;
		goto out;
	}

	/* Everything is right: change things. */
	if (!lv.attached) {
		if (attach(c, cg))
			goto out;
		out = open_memstream(&text, &text_len);
		if (!out)
			goto nomem;
		print_plan(out, pl, c, &lv, cg);
		if (read_live(&lv, true))
			goto out;
		if (!lv.attached) {
			crd_err("instance '%s': not attached after attach", crd_instance);
			goto out;
		}
	}
	resolve_services(pl, c, lv.cfg.cgroup_path, true);
	if (c->n_msgs)
		goto report;
	make_plan(pl, c, &lv);
	if (!out) {
		out = open_memstream(&text, &text_len);
		if (!out)
			goto nomem;
		print_plan(out, pl, c, &lv, cg);
	}
	err = execute(pl, c, &lv);
	if (err == -EOVERFLOW) {
		crd_err("instance '%s': service ids are exhausted; detach and apply again",
			crd_instance);
		goto out;
	}
	if (err) {
		crd_err("instance '%s': updating the maps: %s", crd_instance, strerror(-err));
		goto out;
	}
	fclose(out);
	out = NULL;
	fputs(text, stdout);
	ret = 0;
	goto out;
nomem:
	crd_err("apply: out of memory");
	goto out;
report:
	conf_report(c);
out:
	if (out)
		fclose(out);
	free(text);
	if (lv.attached)
		crd_inst_close(&lv.in);
	free(pl);
	return ret;
}

/* --detach, or an empty file with --allow-empty: the instance goes. A file
 * with any problem changes nothing. */
static int apply_detach(struct conf *c, bool check)
{
	char a0[] = "detach", dir[256];
	char *argv[] = { a0, NULL };

	pick_instance(c);
	if (c->n_msgs) {
		conf_report(c);
		return 1;
	}
	crd_inst_dir(crd_instance, dir, sizeof(dir));
	if (access(dir, F_OK)) {
		printf("= instance %s: not attached\n", crd_instance);
		return 0;
	}
	if (check) {
		printf("- instance %s\n", crd_instance);
		return 0;
	}
	if (run_quiet(detach_main, 1, argv))
		return 1;
	printf("- instance %s\n", crd_instance);
	return 0;
}

int apply_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "detach", no_argument, NULL, 'd' },
		{ "allow-empty", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool check = false, detach = false, allow_empty = false;
	struct conf *c;
	int ch, err, ret;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			check = true;
			break;
		case 'd':
			detach = true;
			break;
		case 'e':
			allow_empty = true;
			break;
		case 'h':
			apply_usage(stdout);
			return 0;
		default:
			crd_try_help("apply");
			return 1;
		}
	}
	if (optind != argc - 1) {
		crd_err("apply: exactly one configuration FILE is needed");
		crd_try_help("apply");
		return 1;
	}
	if (check && detach) {
		crd_err("apply: --check and --detach do not go together");
		return 1;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		crd_err("apply: out of memory");
		return 1;
	}
	err = conf_load(argv[optind], c);
	if (err) {
		crd_err("%s: %s", argv[optind], strerror(-err));
		ret = 1;
	} else if (c->empty && !allow_empty) {
		crd_err("%s: the file is empty (no [instance] section, no service); "
			"nothing changed (give --allow-empty to detach instance '%s' "
			"with an empty file)", argv[optind], crd_instance);
		ret = 1;
	} else if (detach || c->empty) {
		ret = apply_detach(c, check);
	} else {
		ret = apply_conf(c, check);
	}
	conf_free(c);
	free(c);
	return ret;
}
