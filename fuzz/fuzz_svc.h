/* SPDX-License-Identifier: MIT */
/*
 * fuzz_svc.h - what fuzz_service.c and fuzz_config.c check of a service
 * spec (cli/service_spec.c): its invariants, and its options written back
 * as text (independently of service.c's own formatting) so that the same
 * options, parsed again, give the same spec.
 */
#ifndef CONNREDIR_FUZZ_SVC_H
#define CONNREDIR_FUZZ_SVC_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "parse.h"

#include "fuzz.h"

/* The flags service_spec_opt may set (the cgroup ones come at resolve). */
#define SPEC_FLAGS (CRD_SVC_PROXY4 | CRD_SVC_PROXY6 | CRD_SVC_APP_UID |	\
		    CRD_SVC_OWNER_UID | CRD_SVC_FAIL_OPEN | CRD_SVC_IMPLICIT)

static void fuzz_check_prefix(const struct crd_prefix *p)
{
	const uint8_t *b = (const uint8_t *)p->addr;
	unsigned bit;

	FUZZ_ASSERT(p->plen <= 128);
	for (bit = p->plen; bit < 128; bit++)
		FUZZ_ASSERT(!(b[bit / 8] & (0x80 >> (bit % 8))));   /* no host bits */
	FUZZ_ASSERT(!p->pad[0] && !p->pad[1] && !p->pad[2]);
}

/* Everything a spec built by service_spec_init/opt must be. */
static void fuzz_check_spec(const struct crd_svc_spec *sp)
{
	const struct crd_service *s = &sp->svc;
	const char *why = NULL;
	unsigned i;

	FUZZ_ASSERT(s->id == 0);
	FUZZ_ASSERT(memchr(s->name, 0, sizeof(s->name)));
	FUZZ_ASSERT(crd_parse_name(s->name, &why) == 0);
	FUZZ_ASSERT((s->flags & ~SPEC_FLAGS) == 0);
	FUZZ_ASSERT(s->proto_mask >= 1 && s->proto_mask <= 3);
	FUZZ_ASSERT(s->n_dst <= CRD_MAX_PREFIXES && s->n_not_dst <= CRD_MAX_PREFIXES);
	FUZZ_ASSERT(s->n_ports <= CRD_MAX_PORTS);
	for (i = 0; i < s->n_dst; i++)
		fuzz_check_prefix(&s->dst[i]);
	for (i = 0; i < s->n_not_dst; i++)
		fuzz_check_prefix(&s->not_dst[i]);
	for (i = 0; i < s->n_ports; i++)
		FUZZ_ASSERT(s->ports[i].lo >= 1 && s->ports[i].lo <= s->ports[i].hi);
	FUZZ_ASSERT(!(s->flags & CRD_SVC_PROXY4) == !s->proxy4_port_be);
	FUZZ_ASSERT(!(s->flags & CRD_SVC_PROXY6) == !s->proxy6_port_be);
	if (s->flags & CRD_SVC_PROXY6) {
		struct crd_ipaddr a = { .family = AF_INET6 };

		memcpy(a.addr, s->proxy6, 16);
		FUZZ_ASSERT(!crd_ipaddr_is_v4(&a));   /* a mapped one is proxy4's */
	}
	if (s->flags & CRD_SVC_APP_UID)
		FUZZ_ASSERT(s->app_uid != UINT32_MAX);
	else
		FUZZ_ASSERT(s->app_uid == 0);
	if (s->flags & CRD_SVC_OWNER_UID)
		FUZZ_ASSERT(s->owner_uid != UINT32_MAX);
	else
		FUZZ_ASSERT(s->owner_uid == 0);
	FUZZ_ASSERT(!s->app_cgid && !s->owner_cgid && !s->app_cg_level && !s->owner_cg_level);
}

/* service_spec_check's answer, from the spec's fields. */
static void fuzz_check_required(const struct crd_svc_spec *sp)
{
	const char *why = NULL;
	int want = (sp->svc.flags & (CRD_SVC_PROXY4 | CRD_SVC_PROXY6)) &&
		   ((sp->svc.flags & CRD_SVC_OWNER_UID) || sp->owner_cg);
	int cli;

	for (cli = 0; cli < 2; cli++) {
		why = NULL;
		if (service_spec_check(sp, cli, &why) == 0) {
			FUZZ_ASSERT(want);
		} else {
			FUZZ_ASSERT(!want && why && why[0]);
		}
	}
}

static int fuzz_same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int fuzz_same_spec(const struct crd_svc_spec *a, const struct crd_svc_spec *b)
{
	return !memcmp(&a->svc, &b->svc, sizeof(a->svc)) &&
	       fuzz_same_str(a->app_cg, b->app_cg) && fuzz_same_str(a->owner_cg, b->owner_cg);
}

static const char *fuzz_fmt_prefix(const struct crd_prefix *p, char *buf, size_t len)
{
	struct crd_ipaddr a = { .family = AF_INET6 };
	char addr[64];
	unsigned plen = p->plen;

	memcpy(a.addr, p->addr, 16);
	if (crd_ipaddr_is_v4(&a)) {
		FUZZ_ASSERT(plen >= 96);
		plen -= 96;
	}
	snprintf(buf, len, "%s/%u", crd_format_addr(&a, addr, sizeof(addr)), plen);
	return buf;
}

typedef void (*fuzz_emit_fn)(void *ctx, int opt, const char *val);

/*
 * Every option of @sp, one value at a time, in an order that rebuilds the
 * same spec from service_spec_init (repeatable ones in their array order).
 */
static void fuzz_emit_spec(const struct crd_svc_spec *sp, fuzz_emit_fn emit, void *ctx)
{
	const struct crd_service *s = &sp->svc;
	struct crd_ipaddr a = { .family = AF_INET6 };
	char buf[128];
	unsigned i;

	if (s->flags & CRD_SVC_PROXY4) {
		memset(a.addr, 0, 10);
		a.addr[10] = a.addr[11] = 0xff;
		memcpy(a.addr + 12, &s->proxy4, 4);
		emit(ctx, SVC_OPT_PROXY, crd_format_endpoint(&a, ntohs(s->proxy4_port_be),
							     buf, sizeof(buf)));
	}
	if (s->flags & CRD_SVC_PROXY6) {
		memcpy(a.addr, s->proxy6, 16);
		emit(ctx, SVC_OPT_PROXY, crd_format_endpoint(&a, ntohs(s->proxy6_port_be),
							     buf, sizeof(buf)));
	}
	snprintf(buf, sizeof(buf), "%d", s->weight);
	emit(ctx, SVC_OPT_WEIGHT, buf);
	emit(ctx, SVC_OPT_PROTO, s->proto_mask == CRD_PROTO_TCP ? "tcp" :
				 s->proto_mask == CRD_PROTO_UDP ? "udp" : "all");
	for (i = 0; i < s->n_dst; i++)
		emit(ctx, SVC_OPT_DST, fuzz_fmt_prefix(&s->dst[i], buf, sizeof(buf)));
	for (i = 0; i < s->n_not_dst; i++)
		emit(ctx, SVC_OPT_NOT_DST, fuzz_fmt_prefix(&s->not_dst[i], buf, sizeof(buf)));
	for (i = 0; i < s->n_ports; i++) {
		snprintf(buf, sizeof(buf), "%u-%u", s->ports[i].lo, s->ports[i].hi);
		emit(ctx, SVC_OPT_DPORT, buf);
	}
	if (s->flags & CRD_SVC_APP_UID) {
		snprintf(buf, sizeof(buf), "%u", s->app_uid);
		emit(ctx, SVC_OPT_APP_UID, buf);
	}
	if (s->flags & CRD_SVC_OWNER_UID) {
		snprintf(buf, sizeof(buf), "%u", s->owner_uid);
		emit(ctx, SVC_OPT_OWNER_UID, buf);
	}
	if (sp->app_cg)
		emit(ctx, SVC_OPT_APP_CG, sp->app_cg);
	if (sp->owner_cg)
		emit(ctx, SVC_OPT_OWNER_CG, sp->owner_cg);
	emit(ctx, SVC_OPT_FAIL, (s->flags & CRD_SVC_FAIL_OPEN) ? "open" : "closed");
	emit(ctx, SVC_OPT_IMPLICIT, (s->flags & CRD_SVC_IMPLICIT) ? "yes" : "no");
}

#endif /* CONNREDIR_FUZZ_SVC_H */
