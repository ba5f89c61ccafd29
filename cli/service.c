// SPDX-License-Identifier: MIT
/*
 * service.c - `service add|del|list`: the redirect services of an instance.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "parse.h"

static void service_usage(FILE *f)
{
	fprintf(f,
		"Usage: connredir [--instance NAME] service add NAME --proxy ADDR:PORT\n"
		"              [--proxy [ADDR6]:PORT] [--weight N] [--proto tcp|udp|all]\n"
		"              [--dst PREFIX]... [--not-dst PREFIX]... [--dport N[-M]]...\n"
		"              [--app-uid UID] [--app-cgroup PATH]\n"
		"              [--owner-uid UID] [--owner-cgroup PATH] [--fail open|closed]\n"
		"       connredir [--instance NAME] service del NAME\n"
		"       connredir [--instance NAME] service list [--json]\n\n"
		"A redirect service takes the connections its filter matches, in weight\n"
		"order (higher first), unless the flow's records say it already saw them.\n\n"
		"  --proxy ADDR:PORT     its proxy's listener; one IPv4 and/or one IPv6\n"
		"  --weight N            -2147483648..2147483647, default 0\n"
		"  --proto P             tcp (default), udp or all\n"
		"  --dst PREFIX          only destinations in PREFIX (up to %d)\n"
		"  --not-dst PREFIX      never destinations in PREFIX (up to %d)\n"
		"  --dport N[-M]         only these destination ports (up to %d)\n"
		"  --app-uid UID         only flows opened by this uid\n"
		"  --app-cgroup PATH     only flows opened in this cgroup subtree\n"
		"  --owner-uid UID       the proxy's identity: its uid\n"
		"  --owner-cgroup PATH   the proxy's identity: its cgroup subtree\n"
		"  --fail open|closed    when the proxy has no claimed listener: skip the\n"
		"                        service (open) or refuse the connection with\n"
		"                        ECONNREFUSED (closed, the default)\n"
		"A cgroup PATH that is not absolute is relative to the attached cgroup;\n"
		"a missing child there is created. A service needs an identity\n"
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

static int add_prefix(struct crd_service *s, bool not, const char *arg)
{
	struct crd_prefix *p;
	struct crd_ipaddr a;
	const char *why;
	uint8_t plen;
	__u8 *n = not ? &s->n_not_dst : &s->n_dst;

	if (crd_parse_prefix(arg, &a, &plen, &why)) {
		crd_err("service '%s': %s '%s': %s", s->name, not ? "--not-dst" : "--dst",
			arg, why);
		return -EINVAL;
	}
	if (*n >= CRD_MAX_PREFIXES) {
		crd_err("service '%s': %s '%s': at most %d prefixes", s->name,
			not ? "--not-dst" : "--dst", arg, CRD_MAX_PREFIXES);
		return -E2BIG;
	}
	p = not ? &s->not_dst[*n] : &s->dst[*n];
	memcpy(p->addr, a.addr, 16);
	p->plen = plen;
	(*n)++;
	return 0;
}

static int add_proxy(struct crd_service *s, const char *arg)
{
	struct crd_ipaddr a;
	const char *why;
	uint16_t port;

	if (crd_parse_endpoint(arg, &a, &port, &why)) {
		crd_err("service '%s': --proxy '%s': %s", s->name, arg, why);
		return -EINVAL;
	}
	if (crd_ipaddr_is_v4(&a)) {
		if (s->flags & CRD_SVC_PROXY4) {
			crd_err("service '%s': --proxy '%s': an IPv4 proxy address is "
				"already given", s->name, arg);
			return -EINVAL;
		}
		memcpy(&s->proxy4, a.addr + 12, 4);
		s->proxy4_port_be = htons(port);
		s->flags |= CRD_SVC_PROXY4;
	} else {
		if (s->flags & CRD_SVC_PROXY6) {
			crd_err("service '%s': --proxy '%s': an IPv6 proxy address is "
				"already given", s->name, arg);
			return -EINVAL;
		}
		memcpy(s->proxy6, a.addr, 16);
		s->proxy6_port_be = htons(port);
		s->flags |= CRD_SVC_PROXY6;
	}
	return 0;
}

static int cg_option(struct crd_service *s, const char *opt, const char *arg,
		     const char *base, __u64 *id, __u8 *level)
{
	char canon[PATH_MAX];
	const char *why = NULL;
	unsigned lvl;
	uint64_t cgid;
	int err;

	err = crd_cg_resolve(arg, base, true, canon, sizeof(canon), &cgid, &lvl,
			     NULL, &why);
	if (err) {
		crd_err("service '%s': %s '%s': %s", s->name, opt, arg, why);
		return err;
	}
	if (lvl >= CRD_CG_LEVELS) {
		crd_err("service '%s': %s '%s': cgroup is %u levels deep; at most %d "
			"are supported", s->name, opt, arg, lvl, CRD_CG_LEVELS - 1);
		return -E2BIG;
	}
	*id = cgid;
	*level = lvl;
	return 0;
}

static int service_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "proxy", required_argument, NULL, 'p' },
		{ "weight", required_argument, NULL, 'w' },
		{ "proto", required_argument, NULL, 'P' },
		{ "dst", required_argument, NULL, 'd' },
		{ "not-dst", required_argument, NULL, 'n' },
		{ "dport", required_argument, NULL, 'D' },
		{ "app-uid", required_argument, NULL, 'u' },
		{ "app-cgroup", required_argument, NULL, 'c' },
		{ "owner-uid", required_argument, NULL, 'U' },
		{ "owner-cgroup", required_argument, NULL, 'C' },
		{ "fail", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct crd_service svcs[CRD_MAX_SERVICES], s = { 0 };
	struct crd_svc_stats *zero_stats = NULL;
	const char *app_cg = NULL, *owner_cg = NULL, *why, *name;
	struct crd_config cfg;
	struct crd_inst in;
	uint64_t v;
	int32_t w;
	int c, i, slot = -1, err, ncpu;
	__u32 key;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			service_usage(stdout);
			return 0;
		}
		crd_err("service add: a service NAME is needed");
		service_usage(stderr);
		return 1;
	}
	name = argv[1];
	if (crd_parse_name(name, &why)) {
		crd_err("service '%s': %s", name, why);
		return 1;
	}
	snprintf(s.name, sizeof(s.name), "%s", name);
	s.proto_mask = CRD_PROTO_TCP;

	optind = 2;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (add_proxy(&s, optarg))
				return 1;
			break;
		case 'w':
			if (crd_parse_i32(optarg, INT32_MIN, INT32_MAX, &w, &why)) {
				crd_err("service '%s': --weight '%s': %s", name, optarg, why);
				return 1;
			}
			s.weight = w;
			break;
		case 'P':
			if (!strcmp(optarg, "tcp"))
				s.proto_mask = CRD_PROTO_TCP;
			else if (!strcmp(optarg, "udp"))
				s.proto_mask = CRD_PROTO_UDP;
			else if (!strcmp(optarg, "all"))
				s.proto_mask = CRD_PROTO_TCP | CRD_PROTO_UDP;
			else {
				crd_err("service '%s': --proto '%s': expected tcp, udp or all",
					name, optarg);
				return 1;
			}
			break;
		case 'd':
		case 'n':
			if (add_prefix(&s, c == 'n', optarg))
				return 1;
			break;
		case 'D': {
			uint16_t lo, hi;

			if (crd_parse_port_range(optarg, &lo, &hi, &why)) {
				crd_err("service '%s': --dport '%s': %s", name, optarg, why);
				return 1;
			}
			if (s.n_ports >= CRD_MAX_PORTS) {
				crd_err("service '%s': --dport '%s': at most %d port ranges",
					name, optarg, CRD_MAX_PORTS);
				return 1;
			}
			s.ports[s.n_ports].lo = lo;
			s.ports[s.n_ports].hi = hi;
			s.n_ports++;
			break;
		}
		case 'u':
		case 'U':
			if (crd_parse_u64(optarg, UINT32_MAX - 1, &v, &why)) {
				crd_err("service '%s': %s '%s': %s", name,
					c == 'u' ? "--app-uid" : "--owner-uid", optarg, why);
				return 1;
			}
			if (c == 'u') {
				s.app_uid = v;
				s.flags |= CRD_SVC_APP_UID;
			} else {
				s.owner_uid = v;
				s.flags |= CRD_SVC_OWNER_UID;
			}
			break;
		case 'c':
			app_cg = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "open"))
				s.flags |= CRD_SVC_FAIL_OPEN;
			else if (!strcmp(optarg, "closed"))
				s.flags &= ~CRD_SVC_FAIL_OPEN;
			else {
				crd_err("service '%s': --fail '%s': expected open or closed",
					name, optarg);
				return 1;
			}
			break;
		case 'C':
			owner_cg = optarg;
			break;
		case 'h':
			service_usage(stdout);
			return 0;
		default:
			service_usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		crd_err("service '%s': unexpected argument '%s'", name, argv[optind]);
		return 1;
	}
	if (!(s.flags & (CRD_SVC_PROXY4 | CRD_SVC_PROXY6))) {
		crd_err("service '%s': --proxy ADDR:PORT is required", name);
		return 1;
	}
	if (!(s.flags & CRD_SVC_OWNER_UID) && !owner_cg) {
		crd_err("service '%s': a proxy identity is required "
			"(--owner-uid UID and/or --owner-cgroup PATH)", name);
		return 1;
	}

	if (open_inst(true, &in))
		return 1;
	err = crd_inst_get_config(&in, &cfg);
	if (err) {
		crd_err("instance '%s': reading configuration: %s", crd_instance, strerror(-err));
		goto fail;
	}
	if (app_cg) {
		if (cg_option(&s, "--app-cgroup", app_cg, cfg.cgroup_path, &s.app_cgid,
			      &s.app_cg_level))
			goto fail;
		s.flags |= CRD_SVC_APP_CG;
	}
	if (owner_cg) {
		if (cg_option(&s, "--owner-cgroup", owner_cg, cfg.cgroup_path,
			      &s.owner_cgid, &s.owner_cg_level))
			goto fail;
		s.flags |= CRD_SVC_OWNER_CG;
	}
	err = crd_inst_get_services(&in, svcs);
	if (err) {
		crd_err("instance '%s': reading services: %s", crd_instance, strerror(-err));
		goto fail;
	}
	for (i = 0; i < CRD_MAX_SERVICES; i++) {
		if (svcs[i].id && !strcmp(svcs[i].name, name)) {
			crd_err("service '%s': already exists (id %u); delete it first",
				name, svcs[i].id);
			goto fail;
		}
		if (!svcs[i].id && slot < 0)
			slot = i;
	}
	if (slot < 0) {
		crd_err("service '%s': all %d service slots are in use", name,
			CRD_MAX_SERVICES);
		goto fail;
	}
	s.id = cfg.next_id++;
	if (s.id > 0xffff) {
		crd_err("service '%s': service ids are exhausted; detach and attach again",
			name);
		goto fail;
	}
	err = crd_inst_put_config(&in, &cfg);
	if (err)
		goto fail_err;
	/* Fresh counters for the slot, then the service, then the order. */
	ncpu = libbpf_num_possible_cpus();
	zero_stats = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero_stats));
	key = slot;
	if (!zero_stats || bpf_map_update_elem(in.svcst_fd, &key, zero_stats, BPF_ANY) ||
	    bpf_map_update_elem(in.svc_fd, &key, &s, BPF_ANY)) {
		err = zero_stats ? -errno : -ENOMEM;
		goto fail_err;
	}
	svcs[slot] = s;
	err = crd_inst_publish_order(&in, svcs);
	if (err)
		goto fail_err;
	free(zero_stats);
	crd_inst_close(&in);
	if (!crd_json)
		printf("service %s added (id %u, weight %d)\n", name, s.id, s.weight);
	return 0;
fail_err:
	crd_err("service '%s': updating the maps: %s", name, strerror(-err));
fail:
	free(zero_stats);
	crd_inst_close(&in);
	return 1;
}

static int service_del(int argc, char **argv)
{
	struct crd_service svcs[CRD_MAX_SERVICES], empty = { 0 };
	struct crd_inst in;
	__u32 key;
	int i, err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		service_usage(stdout);
		return 0;
	}
	if (argc != 2) {
		crd_err("service del: exactly one service NAME is needed");
		service_usage(stderr);
		return 1;
	}
	if (open_inst(true, &in))
		return 1;
	err = crd_inst_get_services(&in, svcs);
	if (err)
		goto fail;
	for (i = 0; i < CRD_MAX_SERVICES; i++)
		if (svcs[i].id && !strcmp(svcs[i].name, argv[1]))
			break;
	if (i == CRD_MAX_SERVICES) {
		crd_err("service '%s': no such service in instance '%s'", argv[1],
			crd_instance);
		crd_inst_close(&in);
		return 1;
	}
	/* Out of the order first, so no connect sees a half-removed service. */
	svcs[i] = empty;
	err = crd_inst_publish_order(&in, svcs);
	if (err)
		goto fail;
	key = i;
	if (bpf_map_update_elem(in.svc_fd, &key, &empty, BPF_ANY)) {
		err = -errno;
		goto fail;
	}
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


void service_print(FILE *f, const struct crd_service *s, bool json, int slot)
{
	struct crd_ipaddr a = { .family = AF_INET6 };
	char buf[128];
	int i;

	if (json) {
		fprintf(f, "{\"id\":%u,\"name\":", s->id);
		json_str(f, s->name);
		fprintf(f, ",\"weight\":%d,\"proto\":\"%s\",\"fail\":\"%s\",\"slot\":%d,\"proxy\":[",
			s->weight, proto_name(s->proto_mask),
			(s->flags & CRD_SVC_FAIL_OPEN) ? "open" : "closed", slot);
		if (s->flags & CRD_SVC_PROXY4) {
			memset(a.addr, 0, 10);
			a.addr[10] = a.addr[11] = 0xff;
			memcpy(a.addr + 12, &s->proxy4, 4);
			json_str(f, crd_format_endpoint(&a, ntohs(s->proxy4_port_be), buf, sizeof(buf)));
		}
		if (s->flags & CRD_SVC_PROXY6) {
			if (s->flags & CRD_SVC_PROXY4)
				fputc(',', f);
			memcpy(a.addr, s->proxy6, 16);
			json_str(f, crd_format_endpoint(&a, ntohs(s->proxy6_port_be), buf, sizeof(buf)));
		}
		fputs("],\"dst\":[", f);
		for (i = 0; i < s->n_dst; i++) {
			fputs(i ? "," : "", f);
			json_str(f, fmt_prefix(&s->dst[i], buf, sizeof(buf)));
		}
		fputs("],\"not_dst\":[", f);
		for (i = 0; i < s->n_not_dst; i++) {
			fputs(i ? "," : "", f);
			json_str(f, fmt_prefix(&s->not_dst[i], buf, sizeof(buf)));
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
	for (i = 0; i < s->n_ports; i++)
		fprintf(f, " dport=%u-%u", s->ports[i].lo, s->ports[i].hi);
	if (s->flags & CRD_SVC_APP_UID)
		fprintf(f, " app-uid=%u", s->app_uid);
	if (s->flags & CRD_SVC_APP_CG)
		fprintf(f, " app-cgroup=%llu", (unsigned long long)s->app_cgid);
	if (s->flags & CRD_SVC_OWNER_UID)
		fprintf(f, " owner-uid=%u", s->owner_uid);
	if (s->flags & CRD_SVC_OWNER_CG)
		fprintf(f, " owner-cgroup=%llu", (unsigned long long)s->owner_cgid);
	if (s->flags & CRD_SVC_FAIL_OPEN)
		fprintf(f, " fail=open");
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
		service_usage(argc < 2 ? stderr : stdout);
		return argc < 2;
	}
	if (!strcmp(argv[1], "add"))
		return service_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "del"))
		return service_del(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return service_list(argc - 1, argv + 1);
	crd_err("service: unknown subcommand '%s' (add, del or list)", argv[1]);
	service_usage(stderr);
	return 1;
}
