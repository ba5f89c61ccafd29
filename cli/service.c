// SPDX-License-Identifier: MIT
/*
 * service.c - `service add|del|list`: the redirect services of an instance,
 * and the building blocks `apply` shares: a service from its options
 * (service_spec_*) and a service in and out of the maps (service_put, ...).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "parse.h"

static void service_usage(FILE *f)
{
	fprintf(f,
		"Usage: connredir [--instance NAME] service add NAME --proxy ADDR:PORT\n"
		"              [--proxy [ADDR6]:PORT] [--weight N] [--proto tcp|udp|all]\n"
		"              [--dst PREFIX]... [--not-dst PREFIX]... [--dport N[-M][,...]]...\n"
		"              [--app-uid UID] [--app-cgroup PATH]\n"
		"              [--owner-uid UID] [--owner-cgroup PATH] [--fail open|closed]\n"
		"              [--implicit]\n"
		"       connredir [--instance NAME] service del NAME\n"
		"       connredir [--instance NAME] service list [--json]\n\n"
		"A redirect service takes the connections its filter matches, in weight\n"
		"order (higher first), unless the flow's records say it already saw them.\n\n"
		"  --proxy ADDR:PORT     its proxy's listener; one IPv4 and/or one IPv6\n"
		"  --weight N            -2147483648..2147483647, default 0\n"
		"  --proto P             tcp (default), udp or all\n"
		"  --dst PREFIX          only destinations in PREFIX (up to %d)\n"
		"  --not-dst PREFIX      never destinations in PREFIX (up to %d)\n"
		"  --dport N[-M][,...]   only these destination ports (up to %d)\n"
		"  --app-uid UID         only flows opened by this uid\n"
		"  --app-cgroup PATH     only flows opened in this cgroup subtree\n"
		"  --owner-uid UID       the proxy's identity: its uid\n"
		"  --owner-cgroup PATH   the proxy's identity: its cgroup subtree\n"
		"  --fail open|closed    when the proxy has no claimed listener: skip the\n"
		"                        service (open) or refuse the connection with\n"
		"                        ECONNREFUSED (closed, the default)\n"
		"  --implicit            its proxy sets no records (it reads only\n"
		"                        SO_ORIGINAL_DST, e.g. redsocks): connredir sets\n"
		"                        them, continuing the flow the proxy accepted, so\n"
		"                        later services see the original application and\n"
		"                        such proxies cannot loop\n"
		"--proxy, --dst, --not-dst and --dport may be repeated and take\n"
		"comma-separated lists (--dport 80,443), as connredir.conf(5) does.\n"
		"A cgroup PATH that is not absolute is relative to the attached cgroup.\n"
		"An --app-cgroup must exist; a missing --owner-cgroup that is a plain\n"
		"child name is created (for the proxy to run in), once everything else\n"
		"is checked, and removed again if the add fails. A service needs an identity\n"
		"(--owner-uid and/or --owner-cgroup): it is how the kernel recognises\n"
		"its proxy, lets it set records and never hands it its own flows. A\n"
		"listener the proxy binds is claimed for its service: the service's flows\n"
		"go to no other process holding the port.\n",
		CRD_MAX_PREFIXES, CRD_MAX_PREFIXES, CRD_MAX_PORTS);
}

static int open_inst(bool exclusive, struct crd_inst *in)
{
	int err = crd_inst_open(crd_instance, exclusive, in);

	if (err == -ENOENT)
		crd_err("instance '%s': not attached (run 'connredir attach' first)",
			crd_instance);
	else if (err == -EPROTO)
		crd_err("instance '%s': made by a connredir with another map layout; "
			"detach it with that version first", crd_instance);
	else if (err)
		crd_err("instance '%s': %s", crd_instance, strerror(-err));
	return err;
}

#define STR_(x) #x
#define STR(x) STR_(x)

/* The deepest cgroup a filter or an identity can name, in levels below the
 * root: the kernel keeps CRD_CG_LEVELS ancestors, the root's included. */
#define CG_MAX_LEVEL 7
_Static_assert(CG_MAX_LEVEL == CRD_CG_LEVELS - 1, "CG_MAX_LEVEL");

/* A name `service add` may create as a child of the attached cgroup. */
static bool plain_child(const char *path)
{
	return path[0] && path[0] != '/' && !strchr(path, '/') &&
	       strcmp(path, ".") && strcmp(path, "..");
}

int service_spec_resolve(const struct crd_svc_spec *sp, const char *base,
			 bool create, struct crd_service *out, bool *pending,
			 int *bad_opt, const char **why)
{
	const struct {
		int opt;
		const char *path;
		__u32 flag;
		__u64 *id;
		__u8 *level;
	} cgs[] = {
		{ SVC_OPT_APP_CG, sp->app_cg, CRD_SVC_APP_CG, &out->app_cgid,
		  &out->app_cg_level },
		{ SVC_OPT_OWNER_CG, sp->owner_cg, CRD_SVC_OWNER_CG, &out->owner_cgid,
		  &out->owner_cg_level },
	};
	char canon[PATH_MAX];
	unsigned lvl;
	uint64_t id;
	size_t i;
	bool mk;
	int err;

	*out = sp->svc;
	if (pending)
		*pending = false;
	for (i = 0; i < sizeof(cgs) / sizeof(cgs[0]); i++) {
		if (!cgs[i].path)
			continue;
		*bad_opt = cgs[i].opt;
		out->flags |= cgs[i].flag;
		/* Only a proxy's (owner) cgroup is made: an application cgroup
		 * that does not exist is a typo (no application is in it). */
		mk = create && cgs[i].opt == SVC_OPT_OWNER_CG;
		err = crd_cg_resolve(cgs[i].path, base, mk, canon, sizeof(canon),
				     &id, &lvl, NULL, why);
		if (err == -ENOENT && !create && pending && base &&
		    cgs[i].opt == SVC_OPT_OWNER_CG && plain_child(cgs[i].path)) {
			/* Made when the service is added; no id before that. */
			*pending = true;
			continue;
		}
		if (err)
			return err;
		if (lvl > CG_MAX_LEVEL) {
			*why = "cgroup is too deep; at most " STR(CG_MAX_LEVEL)
			       " levels below the root are supported";
			return -E2BIG;
		}
		*cgs[i].id = id;
		*cgs[i].level = lvl;
	}
	return 0;
}

int service_slot(const struct crd_service svcs[CRD_MAX_SERVICES], const char *name)
{
	int i;

	for (i = 0; i < CRD_MAX_SERVICES; i++)
		if (svcs[i].id && !strcmp(svcs[i].name, name))
			return i;
	return -1;
}

int service_free_slot(const struct crd_service svcs[CRD_MAX_SERVICES])
{
	int i;

	for (i = 0; i < CRD_MAX_SERVICES; i++)
		if (!svcs[i].id)
			return i;
	return -1;
}

int service_new_id(const struct crd_inst *in, __u32 *id)
{
	struct crd_config cfg;
	int err;

	err = crd_inst_get_config(in, &cfg);
	if (err)
		return err;
	if (cfg.next_id > 0xffff)
		return -EOVERFLOW;
	*id = cfg.next_id++;
	return crd_inst_put_config(in, &cfg);
}

int service_put(const struct crd_inst *in, __u32 slot, const struct crd_service *s,
		int stats_from)
{
	struct crd_svc_stats *st;
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	__u32 key;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	st = calloc(ncpu, sizeof(*st));
	if (!st)
		return -ENOMEM;
	key = stats_from;
	if (stats_from >= 0 && bpf_map_lookup_elem(in->svcst_fd, &key, st)) {
		err = -errno;
		goto out;
	}
	/* Its counters first, then the service. */
	key = slot;
	if (bpf_map_update_elem(in->svcst_fd, &key, st, BPF_ANY) ||
	    bpf_map_update_elem(in->svc_fd, &key, s, BPF_ANY))
		err = -errno;
out:
	free(st);
	return err;
}

int service_clear(const struct crd_inst *in, __u32 slot)
{
	struct crd_service empty = { 0 };

	return bpf_map_update_elem(in->svc_fd, &slot, &empty, BPF_ANY) ? -errno : 0;
}

static const char *spec_value(const struct crd_svc_spec *sp, int opt)
{
	return opt == SVC_OPT_APP_CG ? sp->app_cg : sp->owner_cg;
}

static int service_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "proxy", required_argument, NULL, 'o' },
		{ "weight", required_argument, NULL, 'o' },
		{ "proto", required_argument, NULL, 'o' },
		{ "dst", required_argument, NULL, 'o' },
		{ "not-dst", required_argument, NULL, 'o' },
		{ "dport", required_argument, NULL, 'o' },
		{ "app-uid", required_argument, NULL, 'o' },
		{ "app-cgroup", required_argument, NULL, 'o' },
		{ "owner-uid", required_argument, NULL, 'o' },
		{ "owner-cgroup", required_argument, NULL, 'o' },
		{ "fail", required_argument, NULL, 'o' },
		{ "implicit", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct crd_service svcs[CRD_MAX_SERVICES], s;
	char made[PATH_MAX] = "", item[256];
	const char *why, *name;
	bool pending = false;
	struct crd_svc_spec sp;
	struct crd_config cfg;
	struct crd_inst in;
	int c, idx, opt, slot, err, ret = 1;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			service_usage(stdout);
			return 0;
		}
		crd_err("service add: a service NAME is needed");
		crd_try_help("service");
		return 1;
	}
	name = argv[1];
	if (service_spec_init(&sp, name, &why)) {
		crd_err("service '%s': %s", name, why);
		return 1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 'i':
			service_spec_opt(&sp, SVC_OPT_IMPLICIT, "yes", &why);
			break;
		case 'o':
			opt = service_opt_index(opts[idx].name);
			if (service_spec_opt_list(&sp, opt, optarg, item, sizeof(item), &why)) {
				crd_err("service '%s': --%s '%s': %s", name,
					opts[idx].name, item, why);
				return 1;
			}
			break;
		case 'h':
			service_usage(stdout);
			return 0;
		default:
			crd_try_help("service");
			return 1;
		}
	}
	if (optind != argc) {
		crd_err("service '%s': unexpected argument '%s'", name, argv[optind]);
		return 1;
	}
	if (service_spec_check(&sp, true, &why)) {
		crd_err("service '%s': %s", name, why);
		return 1;
	}

	if (open_inst(true, &in))
		return 1;
	err = crd_inst_get_config(&in, &cfg);
	if (err) {
		crd_err("instance '%s': reading configuration: %s", crd_instance, strerror(-err));
		goto out;
	}
	/* Everything is checked before a cgroup is made: a failed add leaves
	 * nothing behind. */
	if (service_spec_resolve(&sp, cfg.cgroup_path, false, &s, &pending, &opt, &why)) {
		crd_err("service '%s': --%s '%s': %s", name, service_opt_names[opt],
			spec_value(&sp, opt), why);
		goto out;
	}
	err = crd_inst_get_services(&in, svcs);
	if (err) {
		crd_err("instance '%s': reading services: %s", crd_instance, strerror(-err));
		goto out;
	}
	slot = service_slot(svcs, name);
	if (slot >= 0) {
		crd_err("service '%s': already exists (id %u); delete it first",
			name, svcs[slot].id);
		goto out;
	}
	slot = service_free_slot(svcs);
	if (slot < 0) {
		crd_err("service '%s': all %d service slots are in use", name,
			CRD_MAX_SERVICES);
		goto out;
	}
	if (pending) {
		/* The owner cgroup, a plain child of the attached one. */
		snprintf(made, sizeof(made), "%s/%s", cfg.cgroup_path, sp.owner_cg);
		if (service_spec_resolve(&sp, cfg.cgroup_path, true, &s, NULL, &opt, &why)) {
			crd_err("service '%s': --%s '%s': %s", name, service_opt_names[opt],
				spec_value(&sp, opt), why);
			goto out;
		}
	}
	err = service_new_id(&in, &s.id);
	if (err == -EOVERFLOW) {
		crd_err("service '%s': service ids are exhausted; detach and attach again",
			name);
		goto out;
	}
	if (!err)
		err = service_put(&in, slot, &s, -1);
	if (!err) {
		svcs[slot] = s;
		err = crd_inst_publish_order(&in, svcs);
	}
	if (err) {
		crd_err("service '%s': updating the maps: %s", name, strerror(-err));
		goto out;
	}
	if (!crd_json)
		printf("service %s added (id %u, weight %d)\n", name, s.id, s.weight);
	ret = 0;
out:
	if (ret && made[0])
		rmdir(made);   /* made above for this service only */
	crd_inst_close(&in);
	return ret;
}

static int service_del(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES], empty = { 0 };
	struct crd_inst in;
	int slot, err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		service_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		crd_err("service del: exactly one service NAME is needed");
		crd_try_help("service");
		return 1;
	}
	if (open_inst(true, &in))
		return 1;
	err = crd_inst_get_services(&in, svcs);
	if (err)
		goto fail;
	slot = service_slot(svcs, argv[1]);
	if (slot < 0) {
		crd_err("service '%s': no such service in instance '%s'", argv[1],
			crd_instance);
		crd_inst_close(&in);
		return 1;
	}
	/* Out of the order first, so no connect sees a half-removed service. */
	svcs[slot] = empty;
	err = crd_inst_publish_order(&in, svcs);
	if (!err)
		err = service_clear(&in, slot);
	if (err)
		goto fail;
	crd_inst_close(&in);
	printf("service %s deleted\n", argv[1]);
	return 0;
fail:
	crd_err("service '%s': %s", argv[1], strerror(-err));
	crd_inst_close(&in);
	return 1;
}

/* Text of one prefix, "10.0.0.0/8" or "2001:db8::/32". */
static const char *fmt_prefix(const struct crd_prefix *p, char *buf, size_t len)
{
	struct crd_ipaddr a = { .family = AF_INET6 };
	char addr[64];
	unsigned plen = p->plen;

	memcpy(a.addr, p->addr, 16);
	if (crd_ipaddr_is_v4(&a) && plen >= 96)
		plen -= 96;
	snprintf(buf, len, "%s/%u", crd_format_addr(&a, addr, sizeof(addr)), plen);
	return buf;
}

static const char *proto_name(unsigned mask)
{
	switch (mask) {
	case CRD_PROTO_TCP:
		return "tcp";
	case CRD_PROTO_UDP:
		return "udp";
	default:
		return "all";
	}
}

/* Append to @buf (of @len, holding *@off bytes) like snprintf. */
static void bprintf(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void bprintf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off += n;
}

const char *service_field(const struct crd_service *s, int opt, char *buf, size_t len)
{
	struct crd_ipaddr a = { .family = AF_INET6 };
	const struct crd_prefix *pfx = s->dst;
	char tmp[128];
	size_t off = 0;
	int i, n = s->n_dst;

	buf[0] = '\0';
	switch (opt) {
	case SVC_OPT_PROXY:
		if (s->flags & CRD_SVC_PROXY4) {
			memset(a.addr, 0, 10);
			a.addr[10] = a.addr[11] = 0xff;
			memcpy(a.addr + 12, &s->proxy4, 4);
			bprintf(buf, len, &off, "%s", crd_format_endpoint(&a,
				ntohs(s->proxy4_port_be), tmp, sizeof(tmp)));
		}
		if (s->flags & CRD_SVC_PROXY6) {
			memcpy(a.addr, s->proxy6, 16);
			bprintf(buf, len, &off, "%s%s", off ? "," : "",
				crd_format_endpoint(&a, ntohs(s->proxy6_port_be), tmp,
						    sizeof(tmp)));
		}
		break;
	case SVC_OPT_WEIGHT:
		bprintf(buf, len, &off, "%d", s->weight);
		break;
	case SVC_OPT_PROTO:
		bprintf(buf, len, &off, "%s", proto_name(s->proto_mask));
		break;
	case SVC_OPT_NOT_DST:
		pfx = s->not_dst;
		n = s->n_not_dst;
		/* fall through */
	case SVC_OPT_DST:
		for (i = 0; i < n; i++)
			bprintf(buf, len, &off, "%s%s", i ? "," : "",
				fmt_prefix(&pfx[i], tmp, sizeof(tmp)));
		break;
	case SVC_OPT_DPORT:
		for (i = 0; i < s->n_ports; i++) {
			bprintf(buf, len, &off, "%s%u", i ? "," : "", s->ports[i].lo);
			if (s->ports[i].hi != s->ports[i].lo)
				bprintf(buf, len, &off, "-%u", s->ports[i].hi);
		}
		break;
	case SVC_OPT_APP_UID:
		if (s->flags & CRD_SVC_APP_UID)
			bprintf(buf, len, &off, "%u", s->app_uid);
		break;
	case SVC_OPT_OWNER_UID:
		if (s->flags & CRD_SVC_OWNER_UID)
			bprintf(buf, len, &off, "%u", s->owner_uid);
		break;
	case SVC_OPT_APP_CG:
		if (s->flags & CRD_SVC_APP_CG)
			bprintf(buf, len, &off, "cgroup id %llu",
				(unsigned long long)s->app_cgid);
		break;
	case SVC_OPT_OWNER_CG:
		if (s->flags & CRD_SVC_OWNER_CG)
			bprintf(buf, len, &off, "cgroup id %llu",
				(unsigned long long)s->owner_cgid);
		break;
	case SVC_OPT_FAIL:
		bprintf(buf, len, &off, "%s",
			(s->flags & CRD_SVC_FAIL_OPEN) ? "open" : "closed");
		break;
	case SVC_OPT_IMPLICIT:
		bprintf(buf, len, &off, "%s", (s->flags & CRD_SVC_IMPLICIT) ? "yes" : "no");
		break;
	}
	if (!buf[0])
		snprintf(buf, len, "-");
	return buf;
}

void service_print(FILE *f, const struct crd_service *s, bool json, int slot)
{
	struct crd_ipaddr a = { .family = AF_INET6 };
	char buf[128], path[PATH_MAX];
	int i;

	if (json) {
		fprintf(f, "{\"id\":%u,\"name\":", s->id);
		json_fput_str(f, s->name);
		fprintf(f, ",\"weight\":%d,\"proto\":\"%s\",\"fail\":\"%s\",\"implicit\":%s,"
			"\"slot\":%d,\"proxy\":[",
			s->weight, proto_name(s->proto_mask),
			(s->flags & CRD_SVC_FAIL_OPEN) ? "open" : "closed",
			(s->flags & CRD_SVC_IMPLICIT) ? "true" : "false", slot);
		if (s->flags & CRD_SVC_PROXY4) {
			memset(a.addr, 0, 10);
			a.addr[10] = a.addr[11] = 0xff;
			memcpy(a.addr + 12, &s->proxy4, 4);
			json_fput_str(f, crd_format_endpoint(&a, ntohs(s->proxy4_port_be), buf, sizeof(buf)));
		}
		if (s->flags & CRD_SVC_PROXY6) {
			if (s->flags & CRD_SVC_PROXY4)
				fputc(',', f);
			memcpy(a.addr, s->proxy6, 16);
			json_fput_str(f, crd_format_endpoint(&a, ntohs(s->proxy6_port_be), buf, sizeof(buf)));
		}
		fputs("],\"dst\":[", f);
		for (i = 0; i < s->n_dst; i++) {
			fputs(i ? "," : "", f);
			json_fput_str(f, fmt_prefix(&s->dst[i], buf, sizeof(buf)));
		}
		fputs("],\"not_dst\":[", f);
		for (i = 0; i < s->n_not_dst; i++) {
			fputs(i ? "," : "", f);
			json_fput_str(f, fmt_prefix(&s->not_dst[i], buf, sizeof(buf)));
		}
		fputs("],\"dport\":[", f);
		for (i = 0; i < s->n_ports; i++)
			fprintf(f, "%s\"%u-%u\"", i ? "," : "", s->ports[i].lo, s->ports[i].hi);
		fputs("]", f);
		if (s->flags & CRD_SVC_APP_UID)
			fprintf(f, ",\"app_uid\":%u", s->app_uid);
		if (s->flags & CRD_SVC_APP_CG)
			fprintf(f, ",\"app_cgroup_id\":%llu", (unsigned long long)s->app_cgid);
		if (s->flags & CRD_SVC_OWNER_UID)
			fprintf(f, ",\"owner_uid\":%u", s->owner_uid);
		if (s->flags & CRD_SVC_OWNER_CG)
			fprintf(f, ",\"owner_cgroup_id\":%llu", (unsigned long long)s->owner_cgid);
		fputs("}", f);
		return;
	}
	fprintf(f, "%-4u %-16s %8d  %-4s ", s->id, s->name, s->weight,
		proto_name(s->proto_mask));
	if (s->flags & CRD_SVC_PROXY4) {
		memset(a.addr, 0, 10);
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, &s->proxy4, 4);
		fprintf(f, "%s", crd_format_endpoint(&a, ntohs(s->proxy4_port_be), buf, sizeof(buf)));
	}
	if (s->flags & CRD_SVC_PROXY6) {
		memcpy(a.addr, s->proxy6, 16);
		fprintf(f, "%s%s", (s->flags & CRD_SVC_PROXY4) ? "," : "",
			crd_format_endpoint(&a, ntohs(s->proxy6_port_be), buf, sizeof(buf)));
	}
	for (i = 0; i < s->n_dst; i++)
		fprintf(f, " dst=%s", fmt_prefix(&s->dst[i], buf, sizeof(buf)));
	for (i = 0; i < s->n_not_dst; i++)
		fprintf(f, " not-dst=%s", fmt_prefix(&s->not_dst[i], buf, sizeof(buf)));
	if (s->n_ports)
		fprintf(f, " dport=%s", service_field(s, SVC_OPT_DPORT, buf, sizeof(buf)));
	if (s->flags & CRD_SVC_APP_UID)
		fprintf(f, " app-uid=%u", s->app_uid);
	if (s->flags & CRD_SVC_APP_CG)
		fprintf(f, " app-cgroup=%s", crd_cg_name(NULL, s->app_cgid, path, sizeof(path)));
	if (s->flags & CRD_SVC_OWNER_UID)
		fprintf(f, " owner-uid=%u", s->owner_uid);
	if (s->flags & CRD_SVC_OWNER_CG)
		fprintf(f, " owner-cgroup=%s", crd_cg_name(NULL, s->owner_cgid, path, sizeof(path)));
	if (s->flags & CRD_SVC_FAIL_OPEN)
		fprintf(f, " fail=open");
	if (s->flags & CRD_SVC_IMPLICIT)
		fprintf(f, " implicit");
	fputc('\n', f);
}

static int service_list(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES];
	struct crd_order order;
	struct crd_config cfg;
	struct crd_inst in;
	bool json = false;
	__u32 k, i;
	int err;

	for (i = 1; i < (unsigned)argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			service_usage(stdout);
			return 0;
		} else {
			crd_err("service list: unknown argument '%s'", argv[i]);
			return 1;
		}
	}
	if (open_inst(false, &in))
		return 1;
	err = crd_inst_get_services(&in, svcs);
	if (!err)
		err = crd_inst_get_config(&in, &cfg);
	k = cfg.active_order & 1;
	if (!err && bpf_map_lookup_elem(in.order_fd, &k, &order))
		err = -errno;
	crd_inst_close(&in);
	if (err) {
		crd_err("instance '%s': %s", crd_instance, strerror(-err));
		return 1;
	}
	if (json)
		fputs("[", stdout);
	else
		printf("%-4s %-16s %8s  %-4s %s\n", "ID", "NAME", "WEIGHT", "PROTO",
		       "PROXY / FILTER");
	for (i = 0; i < order.n && i < CRD_MAX_SERVICES; i++) {
		if (json && i)
			fputc(',', stdout);
		service_print(stdout, &svcs[order.slot[i] % CRD_MAX_SERVICES], json,
			      order.slot[i]);
	}
	if (json)
		fputs("]\n", stdout);
	return 0;
}

int service_main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc >= 2) {
			service_usage(stdout);
			return 0;
		}
		crd_err("service: a subcommand is needed (add, del or list)");
		crd_try_help("service");
		return 1;
	}
	if (!strcmp(argv[1], "add"))
		return service_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return service_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return service_list(argc - 1, argv + 1);
	crd_err("service: unknown subcommand '%s' (add, del or list)", argv[1]);
	crd_try_help("service");
	return 1;
}
