// SPDX-License-Identifier: MIT
/*
 * fuzz_service.c - libFuzzer target for the options of `connredir service
 * add` (cli/service_spec.c: service_spec_init, service_opt_index,
 * service_spec_opt, service_spec_check) and, through them, lib/parse.c's
 * endpoint, prefix, port range and number parsers as the CLI uses them.
 *
 *	make build/fuzz/fuzz_service
 *	build/fuzz/fuzz_service -max_total_time=60 build/fuzz-work/x fuzz/corpus/service
 *
 * The input is an argument vector: NUL-separated words, as in
 * /proc/PID/cmdline. The first is the service NAME; then "--OPT VALUE",
 * "--OPT=VALUE" or "OPT=VALUE" (the configuration file's form) and
 * "--implicit". Each word is a heap copy of exactly its size.
 *
 * Checked: a refused option leaves the spec as it was and says why; an
 * accepted one changes exactly what lib/parse.c says it should; the spec
 * keeps its invariants (fuzz_svc.h); service_spec_check answers from the
 * fields; the spec's options written back as text and applied to a fresh
 * spec give the same spec.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_svc.h"

#define MAX_WORDS 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One option applied, with what lib/parse.c says it must do. */
static void apply(struct crd_svc_spec *sp, int opt, const char *val)
{
	struct crd_svc_spec before = *sp;
	const struct crd_service *s = &sp->svc;
	const char *why = NULL;
	struct crd_ipaddr a;
	uint16_t port, lo, hi;
	uint8_t plen;
	int32_t w;
	uint64_t u;
	int r, ok;

	r = service_spec_opt(sp, opt, val, &why);
	if (r) {
		FUZZ_ASSERT(r == -EINVAL || r == -E2BIG);
		FUZZ_ASSERT(why && why[0]);
		FUZZ_ASSERT(fuzz_same_spec(&before, sp));   /* refused: untouched */
	}
	fuzz_check_spec(sp);

	switch (opt) {
	case SVC_OPT_PROXY:
		ok = !crd_parse_endpoint(val, &a, &port, NULL);
		if (ok && crd_ipaddr_is_v4(&a))
			ok = !(before.svc.flags & CRD_SVC_PROXY4);
		else if (ok)
			ok = !(before.svc.flags & CRD_SVC_PROXY6);
		FUZZ_ASSERT(ok == !r);
		if (!r && crd_ipaddr_is_v4(&a))
			FUZZ_ASSERT(!memcmp(&s->proxy4, a.addr + 12, 4) &&
				    ntohs(s->proxy4_port_be) == port);
		else if (!r)
			FUZZ_ASSERT(!memcmp(s->proxy6, a.addr, 16) &&
				    ntohs(s->proxy6_port_be) == port);
		break;
	case SVC_OPT_WEIGHT:
		ok = !crd_parse_i32(val, INT32_MIN, INT32_MAX, &w, NULL);
		FUZZ_ASSERT(ok == !r);
		if (ok)
			FUZZ_ASSERT(s->weight == w);
		break;
	case SVC_OPT_DST:
	case SVC_OPT_NOT_DST: {
		const struct crd_prefix *arr = opt == SVC_OPT_DST ? s->dst : s->not_dst;
		unsigned n0 = opt == SVC_OPT_DST ? before.svc.n_dst : before.svc.n_not_dst;
		unsigned n1 = opt == SVC_OPT_DST ? s->n_dst : s->n_not_dst;

		ok = !crd_parse_prefix(val, &a, &plen, NULL);
		FUZZ_ASSERT((ok && n0 < CRD_MAX_PREFIXES) == !r);
		if (!r)
			FUZZ_ASSERT(n1 == n0 + 1 && arr[n0].plen == plen &&
				    !memcmp(arr[n0].addr, a.addr, 16));
		break;
	}
	case SVC_OPT_DPORT:
		ok = !crd_parse_port_range(val, &lo, &hi, NULL);
		FUZZ_ASSERT((ok && before.svc.n_ports < CRD_MAX_PORTS) == !r);
		if (!r)
			FUZZ_ASSERT(s->n_ports == before.svc.n_ports + 1 &&
				    s->ports[before.svc.n_ports].lo == lo &&
				    s->ports[before.svc.n_ports].hi == hi);
		break;
	case SVC_OPT_APP_UID:
	case SVC_OPT_OWNER_UID:
		ok = !crd_parse_u64(val, UINT32_MAX - 1, &u, NULL);
		FUZZ_ASSERT(ok == !r);
		if (ok)
			FUZZ_ASSERT((opt == SVC_OPT_APP_UID ? s->app_uid : s->owner_uid) == u);
		break;
	case SVC_OPT_APP_CG:
	case SVC_OPT_OWNER_CG:
		FUZZ_ASSERT(!r && (opt == SVC_OPT_APP_CG ? sp->app_cg : sp->owner_cg) == val);
		break;
	case SVC_OPT_PROTO:
		FUZZ_ASSERT(!r == (!strcmp(val, "tcp") || !strcmp(val, "udp") ||
				   !strcmp(val, "all")));
		break;
	case SVC_OPT_FAIL:
		FUZZ_ASSERT(!r == (!strcmp(val, "open") || !strcmp(val, "closed")));
		break;
	case SVC_OPT_IMPLICIT:
		FUZZ_ASSERT(!r == (!strcmp(val, "yes") || !strcmp(val, "no")));
		break;
	default:
		FUZZ_ASSERT(r == -EINVAL);
		break;
	}
}

struct replay {
	struct crd_svc_spec sp;
	char *vals[64];   /* heap copies: app_cg / owner_cg point into them */
	unsigned n;
};

static void replay_one(void *ctx, int opt, const char *val)
{
	struct replay *rp = ctx;
	const char *why = NULL;
	char *copy = strdup(val);

	FUZZ_ASSERT(copy && rp->n < sizeof(rp->vals) / sizeof(rp->vals[0]));
	rp->vals[rp->n++] = copy;
	if (service_spec_opt(&rp->sp, opt, copy, &why)) {
		fprintf(stderr, "%s '%s' written back is refused: %s\n",
			service_opt_names[opt], val, why);
		FUZZ_ASSERT(0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char *words[MAX_WORDS];
	size_t nw = 0, i, off, len;
	struct crd_svc_spec sp;
	struct replay rp;
	const char *why = NULL;
	char *name, *eq;
	int opt, r;

	if (!ready) {
		for (i = 0; i < SVC_OPT_MAX; i++)
			FUZZ_ASSERT(service_opt_index(service_opt_names[i]) == (int)i);
		FUZZ_ASSERT(service_opt_index("") == -1 && service_opt_index("--proxy") == -1);
		ready = 1;
	}
	for (off = 0; off < size && nw < MAX_WORDS; off += len + 1) {
		const uint8_t *end = memchr(data + off, 0, size - off);

		len = end ? (size_t)(end - (data + off)) : size - off;
		words[nw] = malloc(len + 1);
		FUZZ_ASSERT(words[nw]);
		memcpy(words[nw], data + off, len);
		words[nw++][len] = '\0';
	}
	if (!nw)
		return 0;

	name = words[0];
	r = service_spec_init(&sp, name, &why);
	if (r) {
		FUZZ_ASSERT(r == -EINVAL && why && why[0]);
		FUZZ_ASSERT(crd_parse_name(name, NULL) != 0);
		goto out;
	}
	FUZZ_ASSERT(!strcmp(sp.svc.name, name));
	fuzz_check_spec(&sp);
	fuzz_check_required(&sp);

	for (i = 1; i < nw; i++) {
		char *w = words[i], *key = w, *val;

		if (!strncmp(w, "--", 2))
			key = w + 2;
		eq = strchr(key, '=');
		if (eq) {
			*eq = '\0';
			val = eq + 1;
		} else if (key == w) {
			continue;           /* a bare word: not an option */
		} else if (!strcmp(key, "implicit")) {
			val = "yes";        /* --implicit takes no value */
		} else if (i + 1 < nw) {
			val = words[++i];
		} else {
			break;              /* --OPT without its value */
		}
		opt = service_opt_index(key);
		if (opt < 0)
			opt = -1;
		apply(&sp, opt, val);
		if (eq)
			*eq = '=';
	}
	fuzz_check_required(&sp);

	/* Written back and parsed again: the same spec. */
	memset(&rp, 0, sizeof(rp));
	FUZZ_ASSERT(!service_spec_init(&rp.sp, sp.svc.name, NULL));
	fuzz_emit_spec(&sp, replay_one, &rp);
	FUZZ_ASSERT(fuzz_same_spec(&sp, &rp.sp));
	for (i = 0; i < rp.n; i++)
		free(rp.vals[i]);
out:
	for (i = 0; i < nw; i++)
		free(words[i]);
	return 0;
}
