// SPDX-License-Identifier: MIT
/*
 * service_spec.c - a service from its options (service_spec_*), as
 * `service add` and `apply` build it: pure parsing, no BPF, no cgroups, so
 * the fuzzers (fuzz/fuzz_service.c, fuzz/fuzz_config.c) link it alone.
 * Resolving the cgroups and putting a service in the maps stay in
 * service.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "parse.h"

#define STR_(x) #x
#define STR(x) STR_(x)

const char *const service_opt_names[SVC_OPT_MAX] = {
	[SVC_OPT_PROXY] = "proxy",
	[SVC_OPT_WEIGHT] = "weight",
	[SVC_OPT_PROTO] = "proto",
	[SVC_OPT_DST] = "dst",
	[SVC_OPT_NOT_DST] = "not-dst",
	[SVC_OPT_DPORT] = "dport",
	[SVC_OPT_APP_UID] = "app-uid",
	[SVC_OPT_APP_CG] = "app-cgroup",
	[SVC_OPT_OWNER_UID] = "owner-uid",
	[SVC_OPT_OWNER_CG] = "owner-cgroup",
	[SVC_OPT_FAIL] = "fail",
	[SVC_OPT_IMPLICIT] = "implicit",
};

int service_opt_index(const char *opt)
{
	int i;

	for (i = 0; i < SVC_OPT_MAX; i++)
		if (!strcmp(opt, service_opt_names[i]))
			return i;
	return -1;
}

int service_spec_init(struct crd_svc_spec *sp, const char *name, const char **why)
{
	memset(sp, 0, sizeof(*sp));
	if (crd_parse_name(name, why))
		return -EINVAL;
	snprintf(sp->svc.name, sizeof(sp->svc.name), "%s", name);
	sp->svc.proto_mask = CRD_PROTO_TCP;
	return 0;
}

static int spec_prefix(struct crd_service *s, bool not, const char *arg,
		       const char **why)
{
	__u8 *n = not ? &s->n_not_dst : &s->n_dst;
	struct crd_prefix *p;
	struct crd_ipaddr a;
	uint8_t plen;

	if (crd_parse_prefix(arg, &a, &plen, why))
		return -EINVAL;
	if (*n >= CRD_MAX_PREFIXES) {
		*why = "at most " STR(CRD_MAX_PREFIXES) " prefixes";
		return -E2BIG;
	}
	p = not ? &s->not_dst[*n] : &s->dst[*n];
	memcpy(p->addr, a.addr, 16);
	p->plen = plen;
	(*n)++;
	return 0;
}

static int spec_proxy(struct crd_service *s, const char *arg, const char **why)
{
	struct crd_ipaddr a;
	uint16_t port;

	if (crd_parse_endpoint(arg, &a, &port, why))
		return -EINVAL;
	if (crd_ipaddr_is_v4(&a)) {
		if (s->flags & CRD_SVC_PROXY4) {
			*why = "an IPv4 proxy address is already given";
			return -EINVAL;
		}
		memcpy(&s->proxy4, a.addr + 12, 4);
		s->proxy4_port_be = htons(port);
		s->flags |= CRD_SVC_PROXY4;
	} else {
		if (s->flags & CRD_SVC_PROXY6) {
			*why = "an IPv6 proxy address is already given";
			return -EINVAL;
		}
		memcpy(s->proxy6, a.addr, 16);
		s->proxy6_port_be = htons(port);
		s->flags |= CRD_SVC_PROXY6;
	}
	return 0;
}

static int spec_dport(struct crd_service *s, const char *arg, const char **why)
{
	uint16_t lo, hi;

	if (crd_parse_port_range(arg, &lo, &hi, why))
		return -EINVAL;
	if (s->n_ports >= CRD_MAX_PORTS) {
		*why = "at most " STR(CRD_MAX_PORTS) " port ranges";
		return -E2BIG;
	}
	s->ports[s->n_ports].lo = lo;
	s->ports[s->n_ports].hi = hi;
	s->n_ports++;
	return 0;
}

int service_spec_opt(struct crd_svc_spec *sp, int opt, const char *arg,
		     const char **why)
{
	struct crd_service *s = &sp->svc;
	uint64_t v;
	int32_t w;

	switch (opt) {
	case SVC_OPT_PROXY:
		return spec_proxy(s, arg, why);
	case SVC_OPT_WEIGHT:
		if (crd_parse_i32(arg, INT32_MIN, INT32_MAX, &w, why))
			return -EINVAL;
		s->weight = w;
		return 0;
	case SVC_OPT_PROTO:
		if (!strcmp(arg, "tcp"))
			s->proto_mask = CRD_PROTO_TCP;
		else if (!strcmp(arg, "udp"))
			s->proto_mask = CRD_PROTO_UDP;
		else if (!strcmp(arg, "all"))
			s->proto_mask = CRD_PROTO_TCP | CRD_PROTO_UDP;
		else {
			*why = "expected tcp, udp or all";
			return -EINVAL;
		}
		return 0;
	case SVC_OPT_DST:
	case SVC_OPT_NOT_DST:
		return spec_prefix(s, opt == SVC_OPT_NOT_DST, arg, why);
	case SVC_OPT_DPORT:
		return spec_dport(s, arg, why);
	case SVC_OPT_APP_UID:
	case SVC_OPT_OWNER_UID:
		if (crd_parse_u64(arg, UINT32_MAX - 1, &v, why))
			return -EINVAL;
		if (opt == SVC_OPT_APP_UID) {
			s->app_uid = v;
			s->flags |= CRD_SVC_APP_UID;
		} else {
			s->owner_uid = v;
			s->flags |= CRD_SVC_OWNER_UID;
		}
		return 0;
	case SVC_OPT_APP_CG:
		sp->app_cg = arg;
		return 0;
	case SVC_OPT_OWNER_CG:
		sp->owner_cg = arg;
		return 0;
	case SVC_OPT_FAIL:
		if (!strcmp(arg, "open"))
			s->flags |= CRD_SVC_FAIL_OPEN;
		else if (!strcmp(arg, "closed"))
			s->flags &= ~CRD_SVC_FAIL_OPEN;
		else {
			*why = "expected open or closed";
			return -EINVAL;
		}
		return 0;
	case SVC_OPT_IMPLICIT:
		if (!strcmp(arg, "yes"))
			s->flags |= CRD_SVC_IMPLICIT;
		else if (!strcmp(arg, "no"))
			s->flags &= ~CRD_SVC_IMPLICIT;
		else {
			*why = "expected yes or no";
			return -EINVAL;
		}
		return 0;
	}
	*why = "unknown option";
	return -EINVAL;
}

bool service_opt_repeatable(int opt)
{
	return opt == SVC_OPT_PROXY || opt == SVC_OPT_DST || opt == SVC_OPT_NOT_DST ||
	       opt == SVC_OPT_DPORT;
}

int service_spec_opt_list(struct crd_svc_spec *sp, int opt, const char *arg,
			  char *item, size_t len, const char **why)
{
	const char *s, *e;
	size_t n;
	int err;

	if (!service_opt_repeatable(opt)) {
		snprintf(item, len, "%s", arg);
		return service_spec_opt(sp, opt, arg, why);
	}
	/* "a, b" is "a" and "b", each checked on its own. */
	for (s = arg;; s = e + 1) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = strchr(s, ',');
		if (!e)
			e = s + strlen(s);
		n = e - s;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n >= len) {
			snprintf(item, len, "%.*s", (int)n, s);
			*why = "too long";
			return -EINVAL;
		}
		snprintf(item, len, "%.*s", (int)n, s);
		err = service_spec_opt(sp, opt, item, why);
		if (err)
			return err;
		if (!*e)
			return 0;
	}
}

int service_spec_check(const struct crd_svc_spec *sp, bool cli, const char **why)
{
	if (!(sp->svc.flags & (CRD_SVC_PROXY4 | CRD_SVC_PROXY6))) {
		*why = cli ? "--proxy ADDR:PORT is required" :
			     "a proxy address is required (proxy = ADDR:PORT)";
		return -EINVAL;
	}
	if (!(sp->svc.flags & CRD_SVC_OWNER_UID) && !sp->owner_cg) {
		*why = cli ? "a proxy identity is required "
			     "(--owner-uid UID and/or --owner-cgroup PATH)" :
			     "a proxy identity is required "
			     "(owner-uid = UID and/or owner-cgroup = PATH)";
		return -EINVAL;
	}
	return 0;
}
