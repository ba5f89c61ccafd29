// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * connredir.bpf.c - the kernel side of connredir.
 *
 * connect4/connect6  decide, for each connect() of a SOCK_STREAM socket in
 *                    the attached subtree, which redirect service (if any)
 *                    gets the flow, rewrite the destination to its proxy and
 *                    keep the flow's records with the socket (crd_conn_v3).
 * sockops            when the SYN leaves (TCP_CONNECT_CB), publish those
 *                    records under the 4-tuple (crd_pend_v3); when the proxy's
 *                    side of the handshake completes (PASSIVE_ESTABLISHED_CB)
 *                    move them to the accepted socket (crd_flows_v3 + a token
 *                    in crd_sk_v3); when a socket reaches TCP_CLOSE, drop what
 *                    it owned.
 * getsockopt         answer the CONNREDIR_SOL options and SO_ORIGINAL_DST.
 * setsockopt         apply a records blob to a proxy's outbound socket.
 * sock_release       drop a closed socket's claims at once (stale blobs).
 *
 * Entry points are thin; the work is in the crd_* workers below.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "crd_maps.h"
#include <connredir/sockopt.h>

#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOL_IP 0
#define SOL_IPV6 41
#define SO_ORIGINAL_DST 80
#define EPERM 1
#define ENOMEM 12
#define ENOENT 2
#define EACCES 13
#define EINVAL 22
#define ENOSPC 28
#define ENOPROTOOPT 92
#define EOPNOTSUPP 95
#define EISCONN 106
#define ENOTCONN 107
#define ECONNREFUSED 111
#define EDQUOT 122
#define SOL_SOCKET 1
#define SOL_TCP 6
#define SO_REUSEADDR 2
#define SO_REUSEPORT 15
#define SO_MARK 36
#define TCP_USER_TIMEOUT 18

/* skb->mark of a connection whose records could not be handed on: its
 * packets are dropped at egress (crd_doom). Outside CRD_MARK_TAG's range. */
#define CRD_DOOM_MARK 0xcc00dead

#define CRD_IPPROTO_MPTCP 262

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* ---- Maps (layouts in crd_maps.h) --------------------------------------- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CRD_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct crd_service);
} crd_svc_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crd_config);
} crd_cfg_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct crd_order);
} crd_order_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crd_stats);
} crd_stats_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CRD_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct crd_svc_stats);
} crd_svcst_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct crd_sk);
} crd_sk_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct crd_flow_entry);
} crd_conn_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct crd_lsn);
} crd_lsn_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_PEND_MAX);
	__type(key, struct crd_tuple);
	__type(value, struct crd_flow_entry);
} crd_pend_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_FLOWS_MAX);
	__type(key, __u64);
	__type(value, struct crd_flow_entry);
} crd_flows_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_UFLOWS_MAX);
	__type(key, __u32);
	__type(value, struct crd_uflow);
} crd_uflows_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_UFLOWS_MAX);
	__type(key, struct crd_ukey);
	__type(value, __u32);
} crd_ukey_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_UFLOWS_MAX);
	__type(key, struct crd_urep_key);
	__type(value, struct crd_urep);
} crd_urep_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct crd_usk);
} crd_usk_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, CRD_QUOTA_MAX);
	__type(key, struct crd_qkey);
	__type(value, __s64);
} crd_quota_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRD_IMPQ_MAX);
	__type(key, struct crd_impq_key);
	__type(value, struct crd_impq);
} crd_impq_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRD_HINT_MAX);
	__type(key, __u64);
	__type(value, struct crd_hint);
} crd_hint_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CRD_UPEND_MAX);
	__type(key, __u64);
	__type(value, struct crd_upend);
} crd_upend_v3 SEC(".maps");

/* A zeroed crd_impq, to create a queue (too big for the stack beside the
 * sockops tuple). Never written. */
static const struct crd_impq crd_impq_zero;

/* Room to build a UDP flow entry (too big for the 512-byte stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct crd_uflow);
} crd_scratch_v3 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} crd_events_v3 SEC(".maps");

/* ---- Small helpers -------------------------------------------------------- */

/*
 * Clamp an index so the verifier sees the bound: clang drops a plain "& mask"
 * after a range check it already knows about, and the check it keeps is on
 * another register.
 */
/* Load a context field into a register the compiler cannot re-derive. */
#define crd_ld(field) ({ __u32 __v = (field); asm volatile("" : "+r"(__v)); __v; })

#define crd_bound(x, mask) ({ __u32 __v = (x); asm volatile("%0 &= %1" : "+r"(__v) : "i"(mask)); __v; })

static __always_inline void crd_count(enum crd_stat what)
{
	__u32 zero = 0;
	struct crd_stats *st = bpf_map_lookup_elem(&crd_stats_v3, &zero);

	if (st && what < CRD_ST_MAX)
		st->c[what]++;
}

static __always_inline struct crd_svc_stats *crd_svc_stats(__u32 slot)
{
	return bpf_map_lookup_elem(&crd_svcst_v3, &slot);
}

static __always_inline __u64 crd_random64(void)
{
	__u64 r = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();

	return r ? r : 1;
}

static __always_inline int crd_is_v4mapped(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

static __always_inline void crd_set_v4(struct crd_addr *a, __u32 ip4)
{
	a->ip6[0] = 0;
	a->ip6[1] = 0;
	a->ip6[2] = bpf_htonl(0xffff);
	a->ip6[3] = ip4;
}

/*
 * The address a destination actually reaches: the any-addresses reach
 * loopback (0.0.0.0 and ::ffff:0.0.0.0: 127.0.0.1; ::, ::1), so a filter on
 * 127.0.0.1/32 or ::1/128 cannot be escaped through them.
 */
static __always_inline void crd_normalize(struct crd_addr *a)
{
	if (crd_is_v4mapped(a->ip6)) {
		if (!a->ip6[3])
			a->ip6[3] = bpf_htonl(0x7f000001);
	} else if (!(a->ip6[0] | a->ip6[1] | a->ip6[2] | a->ip6[3])) {
		a->ip6[3] = bpf_htonl(1);
	}
}

/* Is @a in 127.0.0.0/8 (v4-mapped)? Any of it reaches a listener bound to
 * the any-address, as 127.0.0.1 does: for --dst it counts as 127.0.0.1 too. */
static __always_inline int crd_is_lo_alias(const __u32 a[4])
{
	return crd_is_v4mapped(a) && (a[3] & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000);
}

/* Does prefix @p contain address @a (both network order, 128-bit space)? */
static __always_inline int crd_prefix_match(const struct crd_prefix *p,
					    const __u32 a[4])
{
	__u32 plen = p->plen;
	int i;

	for (i = 0; i < 4; i++) {
		__u32 bits, mask;

		if (plen == 0)
			return 1;
		bits = plen > 32 ? 32 : plen;
		mask = bits == 32 ? 0xffffffff : ~(0xffffffffu >> bits);
		if ((a[i] & bpf_htonl(mask)) != p->addr[i])
			return 0;
		plen -= bits;
	}
	return 1;
}

/*
 * Is the current task this service's proxy? A service without any identity
 * has no proxy that the kernel can recognise.
 */
static __always_inline int crd_is_owner(const struct crd_service *svc)
{
	int known = 0;

	if (svc->flags & CRD_SVC_OWNER_UID) {
		if ((__u32)bpf_get_current_uid_gid() != svc->owner_uid)
			return 0;
		known = 1;
	}
	if (svc->flags & CRD_SVC_OWNER_CG) {
		if (svc->owner_cg_level >= 64 ||
		    bpf_get_current_ancestor_cgroup_id(svc->owner_cg_level) != svc->owner_cgid)
			return 0;
		known = 1;
	}
	return known;
}

/* The state of a flow with history @hops[0..nhops) for service @id. */
static __always_inline int crd_state_of(const __u16 *hops, __u32 nhops, __u32 id)
{
	int i;

	if (nhops == 0)
		return CONNREDIR_NOT_REDIRECTED;
	if (nhops > CRD_MAX_HOPS)
		nhops = CRD_MAX_HOPS;
	if (hops[(nhops - 1) & (CRD_MAX_HOPS - 1)] == id)
		return CONNREDIR_REDIRECTED_BY_SELF;
	for (i = 0; i < CRD_MAX_HOPS - 1; i++) {
		if (i + 1 >= nhops)
			break;
		if (hops[i] == id)
			return CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF;
	}
	return CONNREDIR_REDIRECTED_BY_OTHER;
}

static __always_inline struct crd_order *crd_live_order(struct crd_config **cfgp,
							__u32 *idxp)
{
	__u32 zero = 0, idx;
	struct crd_config *cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);

	if (!cfg)
		return NULL;
	*cfgp = cfg;
	idx = cfg->active_order & 1;
	*idxp = idx;
	return bpf_map_lookup_elem(&crd_order_v3, &idx);
}

/* ---- The connect decision --------------------------------------------------- */

struct crd_decide {
	/* in */
	__u32 dst[4];             /* destination, network order, v4-mapped */
	__u16 dport;              /* host order */
	__u8 proto_bit;           /* CRD_PROTO_* of the socket */
	__u8 want6;               /* 1: need an IPv6 proxy address (native v6) */
	__u8 connect6;            /* 1: AF_INET6 socket (may use v4-mapped) */
	__u8 nhops;               /* history length (real hops) */
	__u16 self_id;            /* no records, caller is this service's proxy */
	__u16 hops[CRD_MAX_HOPS]; /* history */
	__u32 app_uid;            /* original application */
	__u64 app_cg_anc[CRD_CG_LEVELS];
	__u32 order_idx;          /* live crd_order_v3 entry (map value
				   * pointers do not survive into callbacks) */
	__u32 self_pos;           /* self_id's place in the weight order */
	__u8 self_implicit;       /* self_id's service is --implicit */
	__u8 cont;                /* enum crd_cont: how this connection
				   * continues the history */
	/* out */
	__u8 to_listener;         /* destination is a service's listener */
	__u8 chosen_state;        /* state of the flow for the chosen one */
	__u8 pass_state;          /* the state pass_id passed in */
	__u8 no_route;            /* the chosen (fail closed) service has no
				   * proxy of this socket's family */
	__u8 pad[2];
	__u64 skip;               /* in: slots skipped: their proxy is down */
	__s32 chosen;             /* slot that takes the flow, -1: none */
	__u32 pass_id;            /* first matching service that passed */
};

/*
 * Global (not static) so the verifier checks it once, on its own, instead of
 * at every place a bpf_loop callback may run it.
 */
__noinline int crd_filter_match(const struct crd_service *svc,
				const struct crd_decide *d)
{
	int i, ok;

	if (!svc || !d)
		return 0;
	if (!(svc->proto_mask & d->proto_bit))
		return 0;
	if ((svc->flags & CRD_SVC_APP_UID) && svc->app_uid != d->app_uid)
		return 0;
	if (svc->flags & CRD_SVC_APP_CG) {
		__u32 lvl = svc->app_cg_level;

		if (lvl >= CRD_CG_LEVELS || d->app_cg_anc[lvl] != svc->app_cgid)
			return 0;
	}
	if (svc->n_dst) {
		__u32 lo[4] = { 0, 0, bpf_htonl(0xffff), bpf_htonl(0x7f000001) };
		int alias = crd_is_lo_alias(d->dst);

		ok = 0;
		for (i = 0; i < CRD_MAX_PREFIXES; i++) {
			if (i >= svc->n_dst)
				break;
			if (crd_prefix_match(&svc->dst[i], d->dst) ||
			    (alias && crd_prefix_match(&svc->dst[i], lo))) {
				ok = 1;
				break;
			}
		}
		if (!ok)
			return 0;
	}
	for (i = 0; i < CRD_MAX_PREFIXES; i++) {
		if (i >= svc->n_not_dst)
			break;
		if (crd_prefix_match(&svc->not_dst[i], d->dst))
			return 0;
	}
	if (svc->n_ports) {
		ok = 0;
		for (i = 0; i < CRD_MAX_PORTS; i++) {
			if (i >= svc->n_ports)
				break;
			if (d->dport >= svc->ports[i].lo && d->dport <= svc->ports[i].hi) {
				ok = 1;
				break;
			}
		}
		if (!ok)
			return 0;
	}
	return 1;
}

static __always_inline int crd_is_listener(const struct crd_service *svc,
					   const struct crd_decide *d)
{
	__u16 port_be = bpf_htons(d->dport);

	if ((svc->flags & CRD_SVC_PROXY4) && svc->proxy4_port_be == port_be &&
	    crd_is_v4mapped(d->dst) && d->dst[3] == svc->proxy4)
		return 1;
	if ((svc->flags & CRD_SVC_PROXY6) && svc->proxy6_port_be == port_be &&
	    d->dst[0] == svc->proxy6[0] && d->dst[1] == svc->proxy6[1] &&
	    d->dst[2] == svc->proxy6[2] && d->dst[3] == svc->proxy6[3])
		return 1;
	return 0;
}

/* Can this service's proxy be reached from this socket? */
static __always_inline int crd_has_route(const struct crd_service *svc,
					 const struct crd_decide *d)
{
	if (d->want6)
		return !!(svc->flags & CRD_SVC_PROXY6);
	if (svc->flags & CRD_SVC_PROXY4)
		return 1;
	return d->connect6 && (svc->flags & CRD_SVC_PROXY6);
}

/*
 * The service at place @i of live order @order_idx (its slot in *@slot), for
 * the bpf_loop callbacks that walk the order; NULL if the place is empty or
 * past the order (i >= CRD_MAX_SERVICES: the callback stops).
 */
static __always_inline struct crd_service *crd_order_svc(__u32 order_idx, __u32 i, __u32 *slot)
{
	struct crd_order *order = bpf_map_lookup_elem(&crd_order_v3, &order_idx);
	struct crd_service *svc;

	if (i >= CRD_MAX_SERVICES || !order)
		return NULL;
	*slot = order->slot[crd_bound(i, CRD_MAX_SERVICES - 1)];
	svc = bpf_map_lookup_elem(&crd_svc_v3, slot);
	return svc && svc->id ? svc : NULL;
}

/* bpf_loop callback: consider the i-th service in weight order. */
static long crd_decide_one(__u32 i, void *arg)
{
	struct crd_decide *d = arg;
	struct crd_service *svc;
	struct crd_svc_stats *ss;
	__u32 slot;
	int state;

	svc = crd_order_svc(d->order_idx, i, &slot);
	if (!svc)
		return i >= CRD_MAX_SERVICES;
	if (crd_is_listener(svc, d)) {
		d->to_listener = 1;
		return 1;
	}
	if (d->chosen >= 0 || (d->skip & (1ULL << (slot & 63))))
		return 0;   /* keep looking only for listeners */
	if (!crd_filter_match(svc, d))
		return 0;
	if (d->nhops == 0 && d->self_id == 0)
		state = CONNREDIR_NOT_REDIRECTED;
	else if (d->nhops == 0)
		/*
		 * A connection without records by a service's proxy is BY_SELF
		 * for that service. The proxy of an --implicit service (one that
		 * never sets records) continues the flow from its service's place:
		 * every service of higher weight counts as having seen it, so
		 * such proxies cannot loop. Only there: an identity as broad as
		 * uid 0 must not let every root process skip the heavier services.
		 */
		state = d->self_id == svc->id ? CONNREDIR_REDIRECTED_BY_SELF :
			(d->self_implicit && i <= d->self_pos) ?
			CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF : CONNREDIR_NOT_REDIRECTED;
	else
		state = crd_state_of(d->hops, d->nhops, svc->id);
	if (state == CONNREDIR_REDIRECTED_BY_SELF ||
	    state == CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF) {
		ss = crd_svc_stats(slot);
		if (ss)
			ss->passed[state & 3]++;
		if (!d->pass_id) {
			d->pass_id = svc->id;
			d->pass_state = state;
		}
		return 0;
	}
	if (!crd_has_route(svc, d)) {
		/* Its proxy cannot be reached from this socket's family: a
		 * fail-open service is skipped, a fail-closed one refuses (as
		 * for a proxy that is down), never passes it by. */
		if (svc->flags & CRD_SVC_FAIL_OPEN)
			return 0;
		d->no_route = 1;
	}
	d->chosen = slot;
	d->chosen_state = state;
	return 0;
}

struct crd_owner_find {
	__u32 order_idx;          /* live crd_order_v3 entry */
	__u32 want_id;            /* 0: any service; else only this id */
	__u32 found_id;           /* first service whose proxy is the caller */
	__s32 found_slot;
	__u32 found_pos;          /* its place in the weight order */
	__u32 found_flags;        /* its CRD_SVC_* flags */
};

/* bpf_loop callback: is the caller the proxy of the i-th service? */
static long crd_owner_one(__u32 i, void *arg)
{
	struct crd_owner_find *f = arg;
	struct crd_service *svc;
	__u32 slot;

	svc = crd_order_svc(f->order_idx, i, &slot);
	if (!svc)
		return i >= CRD_MAX_SERVICES;
	if (f->want_id && svc->id != f->want_id)
		return 0;
	if (!crd_is_owner(svc))
		return 0;
	f->found_id = svc->id;
	f->found_slot = slot;
	f->found_pos = i;
	f->found_flags = svc->flags;
	return 1;
}

/* The first service (weight order) whose proxy the caller is; 0 if none. */
static __always_inline __u32 crd_caller_service_pos(struct crd_order *order,
						    __u32 order_idx, __u32 want_id,
						    __s32 *slot, __u32 *pos, __u32 *flags)
{
	struct crd_owner_find f = { .order_idx = order_idx, .want_id = want_id,
				    .found_slot = -1 };

	if (!order)
		return 0;
	bpf_loop(order->n > CRD_MAX_SERVICES ? CRD_MAX_SERVICES : order->n,
		 crd_owner_one, &f, 0);
	if (slot)
		*slot = f.found_slot;
	if (pos)
		*pos = f.found_pos;
	if (flags)
		*flags = f.found_flags;
	return f.found_id;
}

#define crd_caller_service(order, idx, want, slot) \
	crd_caller_service_pos(order, idx, want, slot, NULL, NULL)

/* The live flow a token names: a TCP flow, or a UDP flow's records. */
static __always_inline struct crd_flow_entry *crd_flow_by_token(__u64 token)
{
	struct crd_uflow *uf;
	__u32 h;

	if (!(token & CRD_TOKEN_UDP))
		return bpf_map_lookup_elem(&crd_flows_v3, &token);
	h = token & CRD_HANDLE_MASK;
	uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
	return uf ? &uf->e : NULL;
}

static __always_inline void crd_quota_give(__u32 kind, __u64 cgid, __u32 uid);

/*
 * Delete the entry a token names; a UDP flow's quota unit goes with it.
 * Returns 0 (deleted, or gone already) or the error of a delete that did not
 * happen: the hash map's bucket was busy (-EBUSY: another program on this
 * CPU, say a softirq's, held it). The caller then tries again later (at
 * sock_release, after TCP_CLOSE) instead of leaving the entry behind.
 */
static __always_inline int crd_flow_delete(__u64 token)
{
	__u32 h = token & CRD_HANDLE_MASK;
	struct crd_uflow *uf;
	long err;

	if (!(token & CRD_TOKEN_UDP)) {
		err = bpf_map_delete_elem(&crd_flows_v3, &token);
		return err == -ENOENT ? 0 : (int)err;
	}
	uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
	if (uf && (uf->flags & CRD_UF_QUOTA)) {
		uf->flags &= ~CRD_UF_QUOTA;
		crd_quota_give(CRD_Q_UDP_CG, uf->e.flow.app_cgid, uf->e.flow.app_uid);
	}
	err = bpf_map_delete_elem(&crd_uflows_v3, &h);
	return err == -ENOENT ? 0 : (int)err;
}

/*
 * The history an outbound socket continues, if records were set on it.
 * *@lost: records were set on it, and they are gone (never expected: a flow
 * whose owner goes stays while its consumer lives, crd_flow_orphan()).
 */
static __always_inline struct crd_flow_entry *crd_continued(struct bpf_sock *sk, int *lost)
{
	struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	struct crd_flow_entry *e;

	*lost = 0;
	if (!s)
		return NULL;
	if (!s->used_token) {
		/* Its claim ended (TCP_CLOSE) and it connects again. */
		*lost = !!(s->flags & CRD_SKF_HAD_RECORDS);
		return NULL;
	}
	e = crd_flow_by_token(s->used_token);
	if (!e || e->consumer != s->consumer_id) {
		*lost = 1;
		return NULL;
	}
	return e;
}

/*
 * The owner of flow entry @e (the proxy's accepted socket, the application's
 * UDP socket) is gone. Returns 1 if the caller deletes it now; 0 if a
 * consumer still continues it: the records must outlive the owner until the
 * consumer is done (a UDP proxy forwards datagrams of a flow whose
 * application already closed), and the consumer's release deletes them.
 */
static __always_inline int crd_flow_orphan(struct crd_flow_entry *e)
{
	e->orphan = 1;
	return __sync_val_compare_and_swap(&e->consumer, 0, CRD_CONSUMER_DEAD) == 0;
}

/* Give up this socket's claim on the flow it continues (set-records); the
 * last one out of an orphaned entry deletes it. */
static __always_inline void crd_drop_used(struct crd_sk *s)
{
	struct crd_flow_entry *e;

	if (!s->used_token)
		return;
	s->flags |= CRD_SKF_HAD_RECORDS;
	e = crd_flow_by_token(s->used_token);
	if (e) {
		if (__sync_val_compare_and_swap(&e->consumer, s->consumer_id, 0) ==
		    s->consumer_id && e->orphan)
			__sync_val_compare_and_swap(&e->consumer, 0, CRD_CONSUMER_DEAD);
		/* Marked for deletion (by us now, by its owner, or an earlier
		 * try that found the bucket busy): delete it; keep the token
		 * to try again if that fails. */
		if (e->orphan && e->consumer == CRD_CONSUMER_DEAD &&
		    crd_flow_delete(s->used_token))
			return;
	}
	s->used_token = 0;
}

/*
 * The process's name, not the calling thread's: dig, not "isc-net-0000".
 * Falls back to the thread's name if the task cannot be read.
 */
static __always_inline void crd_process_comm(char comm[16])
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = NULL;

	if (task && !bpf_probe_read_kernel(&leader, sizeof(leader), &task->group_leader) &&
	    leader && bpf_probe_read_kernel_str(comm, 16, &leader->comm) > 0)
		return;
	bpf_get_current_comm(comm, 16);
}

static __always_inline void crd_fill_app(struct crd_flow *f)
{
	__u64 ug = bpf_get_current_uid_gid();
	int l;

	f->app_pid = bpf_get_current_pid_tgid() >> 32;
	f->app_uid = (__u32)ug;
	f->app_gid = ug >> 32;
	f->app_cgid = bpf_get_current_cgroup_id();
	for (l = 0; l < CRD_CG_LEVELS; l++)
		f->app_cg_anc[l] = bpf_get_current_ancestor_cgroup_id(l);
	crd_process_comm(f->app_comm);
}

/* ---- Quotas ------------------------------------------------------------------ */

static __always_inline __s64 *crd_qcount(__u32 kind, __u64 id)
{
	struct crd_qkey k = { .id = id, .kind = kind };
	__s64 zero = 0, *v;

	v = bpf_map_lookup_elem(&crd_quota_v3, &k);
	if (v)
		return v;
	bpf_map_update_elem(&crd_quota_v3, &k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&crd_quota_v3, &k);
}

/*
 * Charge one unit of @kind (CRD_Q_TCP_CG or CRD_Q_UDP_CG; the uid kind
 * follows it) to cgroup @cgid and uid @uid, each limited to @limit. Returns
 * 0, -EDQUOT (either is at its quota) or -ENOSPC (no counter: no state).
 * Global: verified once.
 */
__noinline int crd_quota_take(__u32 kind, __u64 cgid, __u32 uid, __u32 limit)
{
	__s64 *c, *u;

	c = crd_qcount(kind, cgid);
	if (!c)
		return -ENOSPC;
	u = crd_qcount(kind + 1, uid);
	if (!u)
		return -ENOSPC;
	if (*c >= limit || *u >= limit)
		return -EDQUOT;
	__sync_fetch_and_add(c, 1);
	__sync_fetch_and_add(u, 1);
	return 0;
}

static __always_inline void crd_quota_give1(__u32 kind, __u64 id)
{
	struct crd_qkey k = { .id = id, .kind = kind };
	__s64 *v = bpf_map_lookup_elem(&crd_quota_v3, &k);

	if (v)
		__sync_fetch_and_add(v, -1);
}

static __always_inline void crd_quota_give(__u32 kind, __u64 cgid, __u32 uid)
{
	crd_quota_give1(kind, cgid);
	crd_quota_give1(kind + 1, uid);
}

/* ---- Events ----------------------------------------------------------------- */

/*
 * Emit one event, only while a reader is registered: with none, the hooks
 * pay one load and one branch. A full ring buffer is counted, never silent.
 */
static __always_inline struct crd_event *crd_event_start(const struct crd_config *cfg,
							 __u32 kind)
{
	struct crd_event *ev;

	if (!cfg->events_pid)
		return NULL;
	ev = bpf_ringbuf_reserve(&crd_events_v3, sizeof(*ev), 0);
	if (!ev) {
		crd_count(CRD_ST_EVENTS_LOST);
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->kind = kind;
	ev->caller_pid = bpf_get_current_pid_tgid() >> 32;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	return ev;
}

/* One redirection question and its answer, for the global deciders. */
struct crd_redir {
	struct crd_addr dst;      /* in: destination, v4-mapped */
	struct crd_addr proxy;    /* out: where to send it instead */
	__u16 port_be;            /* in: destination port */
	__u16 proxy_port_be;      /* out */
	__u8 v6;                  /* in: AF_INET6 socket */
	__u8 connecting;          /* in: connect() (else sendmsg) */
	__u8 proto_bit;           /* in: CRD_PROTO_* */
	__u8 nhops;               /* out: history length before this hop */
	__u32 chosen_state;       /* out: the flow's state for the service */
	__u32 self_id;            /* out: no records, the caller is this
				   * service's proxy */
	__u32 self_pos;           /* (self_known) self_id's place in the order */
	__u32 self_flags;         /* (self_known) self_id's CRD_SVC_* flags */
	__u32 self_known;         /* self_id, self_pos, self_flags are set */
	__u32 cont;               /* in: how the socket continues its flow
				   * (set-records, implicit); out: enum crd_cont
				   * of the new hop */
	__u64 skip;               /* (crd_choose) slots skipped so far: their
				   * proxy is down, --fail open */
	__u64 flow_id;            /* out: the flow's id: its records' for a
				   * flow that has them, else a new one, given
				   * to the records made for it and to every
				   * event about the decision */
};

/* An event about a connect decision described by @r (history @prev).
 * Global, so it is verified once, not at each of its call sites. */
/* @kind_svc: kind << 32 | service id; @state_err: state << 32 | errno.
 * (Packed: five arguments at most, and no stack for them.) */
__noinline int crd_emit_decision(const struct crd_config *cfg, __u64 kind_svc,
				 __u64 state_err, struct crd_redir *r,
				 const struct crd_flow_entry *prev)
{
	struct crd_event *ev;

	if (!cfg || !r)
		return 0;
	ev = crd_event_start(cfg, kind_svc >> 32);
	if (!ev)
		return 0;
	ev->service_id = (__u32)kind_svc;
	ev->state = state_err >> 32;
	ev->err = (__s32)(__u32)state_err;
	ev->proto = r->proto_bit == CRD_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	ev->nhops = r->nhops;
	ev->dport_be = r->port_be;
	__builtin_memcpy(ev->dst, r->dst.ip6, sizeof(ev->dst));
	ev->cont = r->cont;
	if (prev) {
		__builtin_memcpy(ev->hops, prev->flow.hops, sizeof(ev->hops));
		ev->flow_id = prev->flow.flow_id;
		ev->app_pid = prev->flow.app_pid;
		ev->app_uid = prev->flow.app_uid;
		__builtin_memcpy(ev->comm, prev->flow.app_comm, sizeof(ev->comm));
		/* the original destination, not this hop's */
		__builtin_memcpy(ev->dst, prev->flow.orig_dst.ip6, sizeof(ev->dst));
		ev->dport_be = prev->flow.orig_dst_port_be;
	} else {
		if (!r->flow_id)   /* the id its records will get too */
			r->flow_id = crd_random64();
		ev->flow_id = r->flow_id;
		ev->app_pid = ev->caller_pid;
		ev->app_uid = (__u32)bpf_get_current_uid_gid();
		crd_process_comm(ev->comm);
	}
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* bpf_loop callback: is slot i the service with id f->id? */
struct crd_id_find {
	__u32 id;
	__s32 slot;
};

static long crd_id_one(__u32 i, void *arg)
{
	struct crd_id_find *f = arg;
	struct crd_service *svc;
	__u32 slot = i;

	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (svc && svc->id == f->id) {
		f->slot = slot;
		return 1;
	}
	return 0;
}

/* ---- Proxy liveness ------------------------------------------------------------ */

/*
 * Is the service's proxy listening at @proxy:@port_be, on a listener claimed
 * for this service (by its identity at bind, or CONNREDIR_CLAIM)? Looked up
 * at every connect, so a restarted proxy is noticed at once; a squatter on
 * the port is not the proxy.
 */
static __always_inline int crd_lsn_ok(const struct crd_service *svc, const struct crd_lsn *o);

static __always_inline int crd_proxy_up(struct bpf_sock_addr *ctx,
					const struct crd_service *svc,
					const struct crd_addr *proxy, __u16 port_be, int udp)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *l;
	struct crd_lsn *o;

	if (crd_is_v4mapped(proxy->ip6)) {
		t.ipv4.daddr = proxy->ip6[3];
		t.ipv4.dport = port_be;
		if (udp)
			l = bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
		else
			l = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	} else {
		__builtin_memcpy(t.ipv6.daddr, proxy->ip6, 16);
		t.ipv6.dport = port_be;
		if (udp)
			l = bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
		else
			l = bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	}
	if (!l)
		return 0;
	o = bpf_sk_storage_get(&crd_lsn_v3, l, 0, 0);
	bpf_sk_release(l);
	return o && crd_lsn_ok(svc, o);
}

/*
 * May the listener whose crd_lsn_v3 is @o take @svc's flows? Claimed for it
 * (CONNREDIR_CLAIM), or bound by its proxy identity and not claimed for
 * another service that still exists.
 */
static __always_inline int crd_lsn_ok(const struct crd_service *svc, const struct crd_lsn *o)
{
	int ok, known = 0;

	if (o->claim_id == svc->id)
		return 1;
	if (o->claim_id) {
		/* Claimed for another service that still exists: that
		 * service's, whoever bound it. */
		struct crd_id_find f = { .id = o->claim_id, .slot = -1 };

		bpf_loop(CRD_MAX_SERVICES, crd_id_one, &f, 0);
		if (f.slot >= 0)
			return 0;
	}
	/* Bound by the service's proxy identity? (Also when claimed for an
	 * earlier instance of the service, deleted and added again.) */
	ok = 1;
	if (svc->flags & CRD_SVC_OWNER_UID) {
		ok = ok && o->uid == svc->owner_uid;
		known = 1;
	}
	if (svc->flags & CRD_SVC_OWNER_CG) {
		__u32 lvl = svc->owner_cg_level;

		ok = ok && lvl < CRD_CG_LEVELS && o->cg_anc[lvl & (CRD_CG_LEVELS - 1)] == svc->owner_cgid;
		known = 1;
	}
	return ok && known;
}

/* Where service @svc's proxy is, for a socket described by @d. */
static __always_inline void crd_proxy_addr(const struct crd_service *svc,
					   const struct crd_decide *d,
					   struct crd_addr *proxy, __u16 *port_be)
{
	if (d->want6 || !(svc->flags & CRD_SVC_PROXY4)) {
		__builtin_memcpy(proxy->ip6, svc->proxy6, sizeof(proxy->ip6));
		*port_be = svc->proxy6_port_be;
	} else {
		crd_set_v4(proxy, svc->proxy4);
		*port_be = svc->proxy4_port_be;
	}
}

#define crd_emit(cfg, k, id, st, e, r, prev) ({				\
	if ((cfg)->events_pid)						\
		crd_emit_decision((cfg), ((__u64)(k) << 32) | (__u32)(id),	\
				  ((__u64)(st) << 32) | (__u32)(e), (r), (prev)); \
})

#define CRD_DECIDE 0x10000 /* (crd_udp_pre) go on: decide */
#define CRD_REWRITE 0x10001 /* (crd_udp_pre) send to @r's proxy */
#define CRD_PASS (-1)     /* leave the connect unchanged */
#define CRD_REFUSE (-2)   /* fail the connect: ECONNREFUSED */
#define CRD_NOSTATE (-3)  /* (crd_*_post) the flow's state could not be made */
#define CRD_QUOTA (-4)    /* fail the connect: EDQUOT, the application's
			   * cgroup or uid is at its quota */

/*
 * crd_connect - the decision for one connect(). @dst is the destination in
 * the 128-bit space, @port_be its port. Returns the slot chosen (>= 0) and
 * fills @proxy/@proxy_port_be, CRD_PASS to let the connect go unchanged, or
 * CRD_REFUSE to fail it (the chosen service's proxy is down, --fail closed).
 */
/* Is any service registered? (Nothing to decide otherwise.) */
static __always_inline int crd_have_services(void)
{
	struct crd_config *cfg = NULL;
	struct crd_order *order;
	__u32 idx;

	order = crd_live_order(&cfg, &idx);
	return order && order->n;
}


/* Describe, in @d, a socket about to talk to @dst:@port_be; @cont: how
 * it continues @prev (enum crd_cont), if @prev. */
static __always_inline void crd_decide_init(struct crd_decide *d, const __u32 dst[4],
					    __u16 port_be, int connect6, __u8 proto_bit,
					    struct crd_order *order,
					    const struct crd_flow_entry *prev, __u32 cont,
					    const struct crd_redir *r)
{
	__u32 n, i;

	__builtin_memcpy(d->dst, dst, sizeof(d->dst));
	d->dport = bpf_ntohs(port_be);
	d->proto_bit = proto_bit;
	d->connect6 = connect6;
	d->want6 = connect6 && !crd_is_v4mapped(dst);
	d->chosen = -1;
	if (prev) {
		n = prev->flow.nhops;
		d->nhops = n > CRD_MAX_HOPS ? CRD_MAX_HOPS : n;
		__builtin_memcpy(d->hops, prev->flow.hops, sizeof(d->hops));
		d->app_uid = prev->flow.app_uid;
		__builtin_memcpy(d->app_cg_anc, prev->flow.app_cg_anc, sizeof(d->app_cg_anc));
		d->cont = cont;
	} else {
		d->app_uid = (__u32)bpf_get_current_uid_gid();
		for (i = 0; i < CRD_CG_LEVELS; i++)
			d->app_cg_anc[i] = bpf_get_current_ancestor_cgroup_id(i);
		/* A proxy that sets no records is never handed its own flow. */
		__u32 flags = 0;

		if (r->self_known) {   /* crd_implicit() asked already */
			d->self_id = r->self_id;
			d->self_pos = r->self_pos;
			flags = r->self_flags;
		} else {
			d->self_id = crd_caller_service_pos(order, d->order_idx, 0, NULL,
							    &d->self_pos, &flags);
		}
		d->self_implicit = !!(flags & CRD_SVC_IMPLICIT);
		d->cont = !d->self_id ? CRD_CONT_APP :
			d->self_implicit ? CRD_CONT_POSITION : CRD_CONT_RECORDLESS;
	}
}


/*
 * crd_choose - which service takes the flow @d describes: the first in
 * weight order whose filter matches and whose state lets it, whose proxy is
 * up (or, with --fail open, the next one). Returns its slot and fills
 * @r's proxy, or CRD_PASS, or CRD_REFUSE. Global: verified once, on its own.
 */

#define CRD_AGAIN 0x10002 /* (crd_choose_round) a service was skipped: again */

/*
 * One round of the decision: the first service in weight order that
 * matches, may take the flow and is not skipped. Returns its slot (its
 * proxy is up; @r's proxy filled), CRD_PASS, CRD_REFUSE, or CRD_AGAIN when
 * it skipped one more service (fail open, proxy down). Global: verified
 * once, however many rounds crd_choose() runs.
 */
__noinline int crd_choose_round(struct bpf_sock_addr *ctx, struct crd_redir *r,
				const struct crd_flow_entry *prev)
{
	struct crd_decide dd = {}, *d = &dd;
	struct crd_config *cfg = NULL;
	struct crd_order *order;
	struct crd_service *svc;
	struct crd_svc_stats *ss;
	__u32 slot, n, idx = 0;

	if (!ctx || !r)
		return CRD_REFUSE;
	order = crd_live_order(&cfg, &idx);
	if (!order || !cfg)
		return CRD_PASS;   /* no configuration: no service to match */
	d->order_idx = idx;
	crd_decide_init(d, r->dst.ip6, r->port_be, r->v6, r->proto_bit, order, prev, r->cont, r);
	d->skip = r->skip;
	r->nhops = d->nhops;
	r->self_id = d->self_id;
	r->self_pos = d->self_pos;
	r->self_flags = d->self_implicit ? CRD_SVC_IMPLICIT : 0;
	r->self_known = 1;   /* the next round need not ask again */
	if (!r->flow_id && prev)
		r->flow_id = prev->flow.flow_id;   /* a new flow's: drawn when needed */
	r->cont = d->cont;
	n = order->n > CRD_MAX_SERVICES ? CRD_MAX_SERVICES : order->n;
	bpf_loop(n, crd_decide_one, d, 0);
	if (d->to_listener) {
		crd_count(CRD_ST_TO_LISTENER);
		return CRD_PASS;
	}
	if (d->chosen < 0) {
		if (d->pass_id)
			crd_emit(cfg, CRD_EV_PASSED, d->pass_id, d->pass_state, 0, r, prev);
		return CRD_PASS;
	}
	slot = d->chosen;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (!svc)
		return CRD_REFUSE;
	ss = crd_svc_stats(slot);
	if (d->nhops >= cfg->hop_limit || d->nhops >= CRD_MAX_HOPS) {
		crd_count(CRD_ST_HOP_GUARD);
		if (ss)
			ss->hop_guard++;
		crd_emit(cfg, CRD_EV_HOP_GUARD, svc->id, d->chosen_state, 0, r, prev);
		return CRD_PASS;
	}
	crd_proxy_addr(svc, d, &r->proxy, &r->proxy_port_be);
	if (!d->no_route && crd_proxy_up(ctx, svc, &r->proxy, r->proxy_port_be,
					 d->proto_bit == CRD_PROTO_UDP)) {
		/* Counted and told once its state exists (crd_redirected). */
		r->chosen_state = d->chosen_state;
		return slot;
	}
	if (!(svc->flags & CRD_SVC_FAIL_OPEN)) {
		crd_count(CRD_ST_FAIL_CLOSED);
		if (ss)
			ss->fail_closed++;
		crd_emit(cfg, CRD_EV_FAIL_CLOSED, svc->id, d->chosen_state, ECONNREFUSED, r, prev);
		return CRD_REFUSE;
	}
	crd_count(CRD_ST_FAIL_OPEN);
	if (ss)
		ss->fail_open++;
	crd_emit(cfg, CRD_EV_PROXY_DOWN, svc->id, d->chosen_state, 0, r, prev);
	r->skip |= 1ULL << (slot & 63);
	return CRD_AGAIN;
}

/*
 * crd_choose - which service takes the flow @r describes: the first in
 * weight order whose filter matches, whose state lets it take the flow and
 * whose proxy is up; with --fail open a service whose proxy is down is
 * skipped for the next. Returns its slot and fills @r's proxy, or CRD_PASS,
 * or CRD_REFUSE.
 *
 * Every matching service is considered: each round either ends the
 * decision or skips one more service, so CRD_MAX_SERVICES + 1 rounds always
 * suffice. Should they not, the flow is refused: never a fail-closed
 * service left unconsidered.
 */
static __always_inline int crd_choose(struct bpf_sock_addr *ctx,
				      const struct crd_flow_entry *prev, struct crd_redir *r)
{
	int i, ret;

	r->skip = 0;
	for (i = 0; i <= CRD_MAX_SERVICES; i++) {
		ret = crd_choose_round(ctx, r, prev);
		if (ret != CRD_AGAIN)
			return ret;
	}
	crd_count(CRD_ST_REFUSED_NO_STATE);
	return CRD_REFUSE;
}

/* The flow @r describes went to the service in @slot, its state made: count
 * it and tell it, now that it happened. */
__noinline int crd_redirected(__u32 slot, struct crd_redir *r,
			      const struct crd_flow_entry *prev)
{
	struct crd_config *cfg;
	struct crd_service *svc;
	struct crd_svc_stats *ss;
	__u32 zero = 0;

	if (!r)
		return 0;
	crd_count(CRD_ST_REDIRECTED);
	ss = crd_svc_stats(slot);
	if (ss)
		ss->redirected++;
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (cfg && svc)
		crd_emit(cfg, CRD_EV_REDIRECTED, svc->id, r->chosen_state, 0, r, prev);
	return 0;
}

/*
 * The one failure rule: a matched flow for which connredir cannot make,
 * find or trust the state it needs ends in its service's failure policy,
 * never in "let it through" by accident. @why: CRD_NOSTATE or CRD_QUOTA
 * (the application is at its quota: refused whatever the policy). Returns
 * CRD_PASS (fail open: the flow goes direct, counted as bypassed),
 * CRD_REFUSE or CRD_QUOTA.
 */
__noinline int crd_fail_policy(__u32 slot, int why, struct crd_redir *r,
			       const struct crd_flow_entry *prev)
{
	struct crd_config *cfg;
	struct crd_service *svc;
	struct crd_svc_stats *ss;
	__u32 zero = 0, id = 0, open = 0;

	if (!r)
		return CRD_REFUSE;
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	ss = crd_svc_stats(slot);
	if (svc) {
		id = svc->id;
		open = svc->flags & CRD_SVC_FAIL_OPEN;
	}
	if (why == CRD_QUOTA) {
		crd_count(CRD_ST_QUOTA);
		if (ss)
			ss->quota++;
		if (cfg)
			crd_emit(cfg, CRD_EV_QUOTA, id, r->chosen_state, EDQUOT, r, prev);
		return CRD_QUOTA;
	}
	if (open) {
		crd_count(CRD_ST_BYPASS_NO_STATE);
		if (ss)
			ss->bypass_no_state++;
		if (cfg)
			crd_emit(cfg, CRD_EV_NO_STATE, id, r->chosen_state, 0, r, prev);
		return CRD_PASS;
	}
	crd_count(CRD_ST_REFUSED_NO_STATE);
	if (ss)
		ss->refused_no_state++;
	if (cfg)
		crd_emit(cfg, CRD_EV_NO_STATE, id, r->chosen_state, ECONNREFUSED, r, prev);
	return CRD_REFUSE;
}

/* The records of a flow just redirected to @svc: @prev's plus one hop, or
 * new ones for the calling application. */
static __always_inline void crd_fill_flow(struct crd_flow *f,
					  const struct crd_flow_entry *prev,
					  const __u32 dst[4], __u16 port_be, __u8 proto,
					  __u32 nhops, __u32 self_id, __u32 cont,
					  const struct crd_service *svc)
{
	__u64 now = bpf_ktime_get_ns(), us;
	__u32 n, w, sh;

	if (prev) {
		__builtin_memcpy(f, &prev->flow, sizeof(*f));
		f->flags &= ~CRD_FF_CONTINUED;   /* this hop's entry: not yet */
		/* The destination is the one this connection asked for: the same
		 * as before, unless the proxy sends the flow on to somewhere else
		 * (an upstream proxy), where the next proxy must send it too. */
		__builtin_memcpy(f->orig_dst.ip6, dst, sizeof(f->orig_dst.ip6));
		f->orig_dst_port_be = port_be;
		f->orig_family = crd_is_v4mapped(dst) ? AF_INET : AF_INET6;
	} else {
		__builtin_memset(f, 0, sizeof(*f));
		f->flow_id = crd_random64();
		f->start_ns = now;
		__builtin_memcpy(f->orig_dst.ip6, dst, sizeof(f->orig_dst.ip6));
		f->orig_dst_port_be = port_be;
		f->orig_family = crd_is_v4mapped(dst) ? AF_INET : AF_INET6;
		f->proto = proto;
		crd_fill_app(f);
		/* A proxy that set no records: its own service is the first hop
		 * of what it hands on, so the next proxy's records show it. */
		if (self_id && nhops == 0) {
			f->hops[0] = self_id;
			nhops = 1;
		}
	}
	n = nhops;
	if (n < CRD_MAX_HOPS) {
		us = (now - f->start_ns) / 1000;
		f->hops[n] = svc->id;
		f->hop_us[n] = us > 0xffffffffULL ? 0xffffffff : us;
		f->nhops = n + 1;
		w = (n / 8) & (CRD_MAX_HOPS / 8 - 1);
		sh = (n % 8) * 4;
		f->cont[w] = (f->cont[w] & ~(0xfu << sh)) | ((cont & 0xf) << sh);
	}
	/* An --implicit service's proxy accepting it queues it (crd_adopt). */
	if (svc->flags & CRD_SVC_IMPLICIT)
		f->flags |= CRD_FF_TO_IMPLICIT;
	else
		f->flags &= ~CRD_FF_TO_IMPLICIT;
}

/*
 * crd_connect - the decision for one connect() of a stream socket. @dst is
 * the destination in the 128-bit space, @port_be its port. Returns the slot
 * chosen (>= 0) and fills @proxy/@proxy_port_be, CRD_PASS to let the connect
 * go unchanged, or CRD_REFUSE to fail it (the chosen service's proxy is
 * down, --fail closed).
 */
/* The TCP flow @rd just got, to the service in @slot: its records go with
 * the socket until its SYN leaves. */
__noinline int crd_tcp_post(struct bpf_sock_addr *ctx, const struct crd_flow_entry *prev,
			    struct crd_redir *rd, __u32 slot)
{
	struct bpf_sock *sk = ctx->sk;
	struct crd_service *svc;
	struct crd_flow_entry *fe;

	struct crd_config *cfg;
	struct crd_sk *s;
	__u32 zero = 0, limit;
	__u64 cgid;
	int err;

	if (!rd || !sk)
		return CRD_NOSTATE;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	if (!svc || !cfg)
		return CRD_NOSTATE;
	/* Everything the flow needs until its SYN leaves is made here, where
	 * a failure can still refuse the connect: crd_sk (which publish and
	 * the quota release use) and the records. */
	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		crd_count(CRD_ST_NO_STORAGE);
		return CRD_NOSTATE;
	}
	if (!prev && !rd->self_id && !(s->flags & CRD_SKF_QUOTA)) {
		/* An application's flow: one unit of its cgroup's and uid's
		 * quota while its socket lives (crd_sock_release). */
		limit = cfg->quota_tcp ? cfg->quota_tcp : CRD_DEFAULT_QUOTA_TCP;
		cgid = bpf_get_current_cgroup_id();
		err = crd_quota_take(CRD_Q_TCP_CG, cgid, (__u32)bpf_get_current_uid_gid(), limit);
		if (err == -EDQUOT)
			return CRD_QUOTA;
		if (err)
			return CRD_NOSTATE;
		s->flags |= CRD_SKF_QUOTA;
		s->q_cgid = cgid;
		s->q_uid = (__u32)bpf_get_current_uid_gid();
	}
	fe = bpf_sk_storage_get(&crd_conn_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!fe) {
		crd_count(CRD_ST_NO_STORAGE);
		return CRD_NOSTATE;
	}
	fe->consumer = 0;
	fe->orphan = 0;
	crd_fill_flow(&fe->flow, prev, rd->dst.ip6, rd->port_be, IPPROTO_TCP, rd->nhops,
		      rd->self_id, rd->cont, svc);
	if (!prev && rd->flow_id)
		fe->flow.flow_id = rd->flow_id;   /* the id its events carried */
	else if (!prev)
		rd->flow_id = fe->flow.flow_id;
	return slot;
}

/* Fail a connect or sendmsg at once with a clear errno (not the default
 * EPERM): ECONNREFUSED (fail closed), EDQUOT (at quota). */
static __always_inline int crd_connect_refuse(int ret)
{
	bpf_set_retval(ret == CRD_QUOTA ? -EDQUOT : -ECONNREFUSED);
	return 0;
}


/* ---- bind: who owns a would-be listener ------------------------------------- */

/*
 * Record who binds a stream socket, so the connect hooks can tell a
 * service's proxy listener from a squatter on its port (WFP's
 * localRedirectTargetPID), whichever was set up first.
 */
static __always_inline void crd_bind_note(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct crd_lsn *l;
	int i;

	if ((ctx->type != SOCK_STREAM && ctx->type != SOCK_DGRAM) || !sk)
		return;
	l = bpf_sk_storage_get(&crd_lsn_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!l)
		return;
	l->uid = (__u32)bpf_get_current_uid_gid();
	for (i = 0; i < CRD_CG_LEVELS; i++)
		l->cg_anc[i] = bpf_get_current_ancestor_cgroup_id(i);
}

/* ---- Port sharing: a service's proxy port is its proxy's alone ------------- */

struct crd_port_find {
	__u32 order_idx;          /* live crd_order_v3 entry */
	__u16 port_be;            /* the port being shared */
	__u16 pad;
	__s32 other;              /* a service on that port whose proxy the
				   * caller is not (-1: none) */
	__s32 own;                /* one whose proxy the caller is (-1: none) */
};

/* bpf_loop callback: does the i-th service's proxy listen on f->port_be? */
static long crd_port_one(__u32 i, void *arg)
{
	struct crd_port_find *f = arg;
	struct crd_service *svc;
	__u32 slot;

	svc = crd_order_svc(f->order_idx, i, &slot);
	if (!svc)
		return i >= CRD_MAX_SERVICES;
	if (!((svc->flags & CRD_SVC_PROXY4) && svc->proxy4_port_be == f->port_be) &&
	    !((svc->flags & CRD_SVC_PROXY6) && svc->proxy6_port_be == f->port_be))
		return 0;
	if (crd_is_owner(svc))
		f->own = slot;
	else
		f->other = slot;
	return 0;
}

static __always_inline void crd_squatter_event(__u32 svc_slot)
{
	struct crd_config *cfg;
	struct crd_service *svc;
	struct crd_event *ev;
	__u32 zero = 0, slot = svc_slot;

	crd_count(CRD_ST_SQUATTER);
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	if (!cfg || !cfg->events_pid)
		return;
	ev = crd_event_start(cfg, CRD_EV_SQUATTER);
	if (!ev)
		return;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	ev->service_id = svc ? svc->id : 0;
	ev->err = EPERM;
	ev->app_pid = ev->caller_pid;
	ev->app_uid = (__u32)bpf_get_current_uid_gid();
	crd_process_comm(ev->comm);
	bpf_ringbuf_submit(ev, 0);
}

/*
 * A socket with SO_REUSEPORT (or, for UDP, SO_REUSEADDR) about to share
 * port @port_be, bound or being bound to @addr (v4-mapped): may it? Not
 * if a service's proxy listens on that port and the caller is not that
 * proxy: a squatter in the proxy's reuseport group would take a share of
 * the flows meant for the claimed proxy. Nor, for the proxy itself, if a
 * socket that is not its own already holds the address (a squatter that
 * came first). Global: verified once. Returns 0 (allowed) or -EPERM.
 */
/* Whose proxy port is @port_be? Returns -1 if no service's, else a slot
 * of a service whose proxy the caller is, else -2 - a slot of another's. */
__noinline int crd_port_owner(__u32 port_be)
{
	struct crd_port_find f = { .port_be = port_be, .other = -1, .own = -1 };
	struct crd_config *cfg = NULL;
	struct crd_order *order;
	__u32 idx = 0;

	order = crd_live_order(&cfg, &idx);
	if (!order || !order->n)
		return -1;
	f.order_idx = idx;
	bpf_loop(order->n > CRD_MAX_SERVICES ? CRD_MAX_SERVICES : order->n, crd_port_one, &f, 0);
	if (f.own >= 0)
		return f.own & (CRD_MAX_SERVICES - 1);
	if (f.other >= 0)
		return -2 - (f.other & (CRD_MAX_SERVICES - 1));
	return -1;
}

__noinline int crd_share_check(struct bpf_sock_addr *ctx, __u32 port_be,
			       const struct crd_addr *addr)
{
	struct bpf_sock_tuple t = {};
	struct crd_service *svc;
	struct bpf_sock *l;
	struct crd_lsn *o;
	__u32 slot;
	int ok, own;

	if (!ctx || !addr)
		return 0;
	own = crd_port_owner(port_be);
	if (own == -1)
		return 0;
	if (own < 0) {
		crd_squatter_event(-2 - own);
		return -EPERM;
	}
	/* The proxy joins: is someone else there already? */
	if (crd_is_v4mapped(addr->ip6)) {
		t.ipv4.daddr = addr->ip6[3];
		t.ipv4.dport = port_be;
		l = ctx->type == SOCK_DGRAM ?
			bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0) :
			bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	} else {
		__builtin_memcpy(t.ipv6.daddr, addr->ip6, 16);
		t.ipv6.dport = port_be;
		l = ctx->type == SOCK_DGRAM ?
			bpf_sk_lookup_udp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0) :
			bpf_sk_lookup_tcp(ctx, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	}
	if (!l)
		return 0;
	o = bpf_sk_storage_get(&crd_lsn_v3, l, 0, 0);
	bpf_sk_release(l);
	slot = own;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	ok = svc && o && crd_lsn_ok(svc, o);
	if (ok)
		return 0;
	crd_squatter_event(own);
	return -EPERM;
}

/* Does the socket being bound share its port (SO_REUSEPORT; for UDP also
 * SO_REUSEADDR, which lets UDP sockets share an address)? */
static __always_inline int crd_shares(struct bpf_sock_addr *ctx)
{
	int v = 0;

	if (!bpf_getsockopt(ctx, SOL_SOCKET, SO_REUSEPORT, &v, sizeof(v)) && v)
		return 1;
	v = 0;
	return ctx->type == SOCK_DGRAM &&
	       !bpf_getsockopt(ctx, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)) && v;
}

/*
 * Record who binds a socket, so the connect hooks can tell a service's
 * proxy listener from a squatter on its port (WFP's
 * localRedirectTargetPID), whichever was set up first; refuse (EPERM) a
 * bind that would share a service's proxy port with its proxy.
 */
static __always_inline int crd_bind(struct bpf_sock_addr *ctx, const struct crd_addr *a)
{
	__u32 port_be = (__u16)ctx->user_port;

	if (port_be && (ctx->type == SOCK_STREAM || ctx->type == SOCK_DGRAM) &&
	    crd_shares(ctx) && crd_share_check(ctx, port_be, a))
		return 0;
	crd_bind_note(ctx);
	return 1;
}

SEC("cgroup/bind4")
int crd_bind4(struct bpf_sock_addr *ctx)
{
	struct crd_addr a;

	crd_set_v4(&a, ctx->user_ip4);
	return crd_bind(ctx, &a);
}

SEC("cgroup/bind6")
int crd_bind6(struct bpf_sock_addr *ctx)
{
	struct crd_addr a;

	a.ip6[0] = ctx->user_ip6[0];
	a.ip6[1] = ctx->user_ip6[1];
	a.ip6[2] = ctx->user_ip6[2];
	a.ip6[3] = ctx->user_ip6[3];
	return crd_bind(ctx, &a);
}

/* ---- UDP ------------------------------------------------------------------ */

static __always_inline int crd_addr_eq(const __u32 a[4], const __u32 b[4])
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Forget UDP flow @h of application socket @cookie: both its maps. */
static __always_inline void crd_uflow_del(__u32 h)
{
	struct crd_uflow *uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
	struct crd_ukey k = {};

	if (!uf || uf->e.orphan)
		return;
	k.app_cookie = uf->app_cookie;
	__builtin_memcpy(k.dst, uf->e.flow.orig_dst.ip6, sizeof(k.dst));
	k.dport_be = uf->e.flow.orig_dst_port_be;
	if (!(uf->flags & CRD_UF_CONNECTED))
		bpf_map_delete_elem(&crd_ukey_v3, &k);
	/* Its quota unit stays while the entry does (a consumer may keep it:
	 * crd_flow_delete() gives it back with the entry). */
	if (crd_flow_orphan(&uf->e))
		crd_flow_delete(CRD_TOKEN_UDP | h);
}

/*
 * The datagram the calling thread is sending on socket @cookie belongs to
 * flow @h (CRD_PENDING_NONE: to none); read by crd_egress (crd_upend_take).
 */
static __always_inline void crd_upend_set(__u64 cookie, __u32 h)
{
	__u64 tid = bpf_get_current_pid_tgid();
	struct crd_upend v = { .app_cookie = cookie, .handle = h };

	bpf_map_update_elem(&crd_upend_v3, &tid, &v, BPF_ANY);
}

/* Handle @h is no longer one of @u's flows. */
static __always_inline void crd_usk_forget(struct crd_usk *u, __u32 h)
{
	int i;

	for (i = 0; i < CRD_UDP_PER_SOCK; i++)
		if (u->handles[i] == h)
			u->handles[i] = 0;
}

/* A free place for a new flow in @u; the least recently used one goes. */
static __always_inline int crd_usk_place(struct crd_usk *u)
{
	__u64 oldest = ~0ULL;
	int i, victim = 0;

	for (i = 0; i < CRD_UDP_PER_SOCK; i++) {
		struct crd_uflow *uf;
		__u32 h = u->handles[i];

		if (!h)
			return i;
		uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
		if (!uf)
			return i;   /* gone already */
		if (uf->last_ns < oldest) {
			oldest = uf->last_ns;
			victim = i;
		}
	}
	crd_uflow_del(u->handles[victim & (CRD_UDP_PER_SOCK - 1)]);
	u->handles[victim & (CRD_UDP_PER_SOCK - 1)] = 0;
	u->evicted = 1;
	return victim;
}

/*
 * A proxy's per-flow socket answering the application (or previous proxy)
 * of the flow it continues: note the reply path, so that socket's recvmsg
 * hook shows the answer as coming from the original destination.
 */
static __always_inline void crd_udp_note_reply(struct bpf_sock *sk, struct crd_sk *s,
					       const struct crd_uflow *uf, __u32 h)
{
	struct crd_urep_key k = {};
	struct crd_urep r = {};

	if (!s || !sk->src_port)
		return;
	k.app_cookie = uf->app_cookie;
	k.port = sk->src_port;
	__builtin_memcpy(r.dst, uf->e.flow.orig_dst.ip6, sizeof(r.dst));
	r.dport_be = uf->e.flow.orig_dst_port_be;
	r.handle = h;
	if (bpf_map_update_elem(&crd_urep_v3, &k, &r, BPF_ANY))
		return;
	s->urep_cookie = k.app_cookie;
	s->urep_port = k.port;
}

/*
 * Note who sends the flow's datagrams, from the packet itself: the socket
 * may be bound to a wildcard address. For a first hop that is also the
 * application's address (orig_src).
 */
static __always_inline void crd_udp_sender(struct __sk_buff *skb, struct bpf_sock *sk,
					   struct crd_uflow *uf)
{
	struct crd_addr a;
	__u16 sport;

	if (uf->hop_src_port_be)
		return;
	/* The source address sits at a fixed offset of either header; the
	 * port is the socket's own (bound by now), whatever IPv4 options or
	 * IPv6 extension headers come before the UDP header. */
	sport = bpf_htons((__u16)sk->src_port);
	if (!sport)
		return;
	if (skb->protocol == bpf_htons(0x0800)) {
		__u32 v4;

		if (bpf_skb_load_bytes(skb, 12, &v4, 4))
			return;
		crd_set_v4(&a, v4);
	} else if (skb->protocol == bpf_htons(0x86dd)) {
		if (bpf_skb_load_bytes(skb, 8, a.ip6, 16))
			return;
	} else {
		return;
	}
	__builtin_memcpy(uf->hop_src, a.ip6, 16);
	uf->hop_src_port_be = sport;
	if (uf->e.flow.nhops == 1) {
		uf->e.flow.orig_src = a;
		uf->e.flow.orig_src_port_be = sport;
	}
}

/* Is @skb addressed to @uf's proxy? The destination address sits at a
 * fixed offset of either header; the port follows the IPv4 header (its
 * length in IHL) or an IPv6 header whose next header is UDP (with
 * extension headers only the address is compared). */
static __always_inline int crd_udp_to_proxy(struct __sk_buff *skb, const struct crd_uflow *uf)
{
	struct crd_addr a;
	__u16 dport = 0;
	__u8 b = 0;

	if (skb->protocol == bpf_htons(0x0800)) {
		__u32 v4;

		if (bpf_skb_load_bytes(skb, 16, &v4, 4) || bpf_skb_load_bytes(skb, 0, &b, 1))
			return 0;
		crd_set_v4(&a, v4);
		if (bpf_skb_load_bytes(skb, (b & 0xf) * 4 + 2, &dport, 2))
			return 0;
	} else if (skb->protocol == bpf_htons(0x86dd)) {
		if (bpf_skb_load_bytes(skb, 24, a.ip6, 16) || bpf_skb_load_bytes(skb, 6, &b, 1))
			return 0;
		if (b == IPPROTO_UDP && bpf_skb_load_bytes(skb, 40 + 2, &dport, 2))
			return 0;
		if (b != IPPROTO_UDP)
			dport = uf->proxy_port_be;
	} else {
		return 0;
	}
	return dport == uf->proxy_port_be && crd_addr_eq(a.ip6, uf->proxy);
}

/*
 * crd_udp_pre - a UDP socket about to send to @rd's destination, by sendmsg
 * or connect (@rd->connecting). Before any decision: a proxy answering the
 * flow's sender passes (and notes the reply path); a flow this socket
 * already has goes where it went (CRD_REWRITE, @rd filled). Otherwise
 * CRD_DECIDE.
 */
/*
 * May a cached UDP flow's next datagram go where the first one went? Only
 * while the service that took it is still there (same id in its slot) and
 * its proxy still listens there, claimed for it: checked at every datagram
 * of an unconnected socket, like the connect-time check.
 */
static __always_inline int crd_udp_flow_live(struct bpf_sock_addr *ctx,
					     const struct crd_uflow *uf, __u32 gen)
{
	struct crd_service *svc;
	struct crd_addr p;
	__u32 slot = uf->slot, n = uf->e.flow.nhops;

	/* Decided under another set of services (one was added, removed or
	 * changed since): decide again, the new rules apply at once. */
	if (uf->gen != gen)
		return 0;
	if (slot >= CRD_MAX_SERVICES || n == 0 || n > CRD_MAX_HOPS)
		return 0;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (!svc || !svc->id || svc->id != uf->e.flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)])
		return 0;
	__builtin_memcpy(p.ip6, uf->proxy, sizeof(p.ip6));
	return crd_proxy_up(ctx, svc, &p, uf->proxy_port_be, 1);
}

__noinline int crd_udp_pre(struct bpf_sock_addr *ctx, struct crd_redir *rd)
{
	struct crd_config *cfg = NULL;
	struct bpf_sock *sk = ctx->sk;
	struct crd_flow_entry *prev;
	struct crd_uflow *uf, *cur;
	struct crd_order *order;
	struct crd_ukey k = {};
	struct crd_usk *u;
	struct crd_sk *s;
	const __u32 *dst;
	__u32 oidx = 0, h = 0, *hp;
	__u16 port_be;
	__u64 cookie, now;
	int connecting, lost;

	if (!rd || !sk || ctx->type != SOCK_DGRAM || ctx->protocol != IPPROTO_UDP)
		return CRD_PASS;
	dst = rd->dst.ip6;
	port_be = rd->port_be;
	connecting = rd->connecting;
	order = crd_live_order(&cfg, &oidx);
	if (!order || !cfg || order->n == 0)
		return CRD_PASS;
	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	prev = crd_continued(sk, &lost);
	if (!prev && lost) {
		crd_count(CRD_ST_REFUSED_NO_STATE);
		return CRD_REFUSE;   /* its records are gone: never as its own */
	}
	if (prev && s && (s->used_token & CRD_TOKEN_UDP)) {
		/* A proxy's per-flow socket answering the flow's sender. */
		__u32 ph = s->used_token & CRD_HANDLE_MASK;

		cur = bpf_map_lookup_elem(&crd_uflows_v3, &ph);
		if (cur && cur->hop_src_port_be == port_be && crd_addr_eq(cur->hop_src, dst)) {
			if (!connecting)
				crd_udp_note_reply(sk, s, cur, ph);
			return CRD_PASS;
		}
	}
	if (!prev && bpf_sk_storage_get(&crd_lsn_v3, sk, 0, 0) &&
	    crd_caller_service(order, oidx, 0, NULL))
		return CRD_PASS;   /* a proxy's own bound socket answering */

	now = bpf_ktime_get_ns();
	cookie = bpf_get_socket_cookie(ctx);
	u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, 0);
	if (u && !connecting) {
		/* A flow this socket already has: same decision, fresh use. */
		k.app_cookie = cookie;
		__builtin_memcpy(k.dst, dst, sizeof(k.dst));
		k.dport_be = port_be;
		hp = bpf_map_lookup_elem(&crd_ukey_v3, &k);
		if (hp) {
			h = *hp;
			uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
			if (uf && !crd_udp_flow_live(ctx, uf, order->gen)) {
				/* Its service is gone or its proxy is down:
				 * decide again (fail open/closed, another
				 * service, or a restarted proxy). */
				crd_uflow_del(h);
				crd_usk_forget(u, h);
				u->evicted = 1;
				uf = NULL;
			}
			if (uf) {
				uf->last_ns = now;
				crd_upend_set(cookie, h);
				__builtin_memcpy(rd->proxy.ip6, uf->proxy, sizeof(rd->proxy.ip6));
				rd->proxy_port_be = uf->proxy_port_be;
				return CRD_REWRITE;
			}
		}
	}
	crd_count(CRD_ST_CONNECT);
	return CRD_DECIDE;
}

/* The UDP flow @rd just got, to the service in @slot: its records and maps. */
__noinline int crd_udp_post(struct bpf_sock_addr *ctx, const struct crd_flow_entry *prev,
			    struct crd_redir *rd, __u32 slot)
{
	struct bpf_sock *sk = ctx->sk;
	struct crd_service *svc;
	struct crd_uflow *uf;
	struct crd_ukey k = {};
	struct crd_usk *u;
	struct crd_config *cfg;
	__u32 zero = 0, h = 0, limit;
	__u64 cookie, now;
	int i, place, err;

	if (!rd || !sk)
		return CRD_NOSTATE;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	if (!svc || !cfg)
		return CRD_NOSTATE;

	uf = bpf_map_lookup_elem(&crd_scratch_v3, &zero);
	u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!uf || !u) {
		crd_count(CRD_ST_NO_STORAGE);
		return CRD_NOSTATE;
	}
	__builtin_memset(uf, 0, sizeof(*uf));
	crd_fill_flow(&uf->e.flow, prev, rd->dst.ip6, rd->port_be, IPPROTO_UDP, rd->nhops,
		      rd->self_id, rd->cont, svc);
	if (!prev && rd->flow_id)
		uf->e.flow.flow_id = rd->flow_id;   /* the id its events carried */
	else if (!prev)
		rd->flow_id = uf->e.flow.flow_id;
	now = bpf_ktime_get_ns();
	cookie = bpf_get_socket_cookie(ctx);
	uf->app_cookie = cookie;
	uf->last_ns = now;
	__builtin_memcpy(uf->proxy, rd->proxy.ip6, sizeof(uf->proxy));
	uf->proxy_port_be = rd->proxy_port_be;
	uf->flags = rd->connecting ? CRD_UF_CONNECTED : 0;
	uf->slot = slot;
	{
		struct crd_config *c2 = NULL;
		__u32 oidx = 0;
		struct crd_order *o2 = crd_live_order(&c2, &oidx);

		uf->gen = o2 ? o2->gen : 0;
	}
	if (!prev && !rd->self_id) {
		/* An application's flow: one unit of its cgroup's and uid's
		 * quota while the flow lives (crd_uflow_del). */
		limit = cfg->quota_udp ? cfg->quota_udp : CRD_DEFAULT_QUOTA_UDP;
		err = crd_quota_take(CRD_Q_UDP_CG, uf->e.flow.app_cgid, uf->e.flow.app_uid, limit);
		if (err == -EDQUOT)
			return CRD_QUOTA;
		if (err)
			return CRD_NOSTATE;
		uf->flags |= CRD_UF_QUOTA;
	}
	/* This hop's sender is filled in at egress, from the packet. */
	for (i = 0; i < 3; i++) {
		h = bpf_get_prandom_u32() & CRD_HANDLE_MASK;
		if (h && !bpf_map_update_elem(&crd_uflows_v3, &h, uf, BPF_NOEXIST))
			break;
		h = 0;
	}
	if (!h) {
		crd_count(CRD_ST_FLOWS_FULL);
		if (uf->flags & CRD_UF_QUOTA)
			crd_quota_give(CRD_Q_UDP_CG, uf->e.flow.app_cgid, uf->e.flow.app_uid);
		return CRD_NOSTATE;
	}
	if (rd->connecting) {
		if (u->connected)
			crd_uflow_del(u->connected);
		u->connected = h;
	} else {
		place = crd_usk_place(u);
		u->handles[place & (CRD_UDP_PER_SOCK - 1)] = h;
		k.app_cookie = cookie;
		__builtin_memcpy(k.dst, rd->dst.ip6, sizeof(k.dst));
		k.dport_be = rd->port_be;
		bpf_map_update_elem(&crd_ukey_v3, &k, &h, BPF_ANY);
		crd_upend_set(cookie, h);
	}
	return slot;
}

/* Rewrite a sock_addr context's destination to @a:@port_be. */
static __always_inline int crd_rewrite4(struct bpf_sock_addr *ctx,
					const struct crd_addr *a, __u16 port_be)
{
	if (!crd_is_v4mapped(a->ip6))
		return 1;   /* an IPv6-only proxy cannot take an AF_INET socket */
	ctx->user_ip4 = a->ip6[3];
	ctx->user_port = port_be;
	return 1;
}

static __always_inline int crd_rewrite6(struct bpf_sock_addr *ctx,
					const struct crd_addr *a, __u16 port_be)
{
	ctx->user_ip6[0] = a->ip6[0];
	ctx->user_ip6[1] = a->ip6[1];
	ctx->user_ip6[2] = a->ip6[2];
	ctx->user_ip6[3] = a->ip6[3];
	ctx->user_port = port_be;
	return 1;
}

/*
 * A reply from a proxy's listening socket (its address and port) to
 * unconnected application socket @u: it stands for the one flow of @u
 * through that proxy. With two or more (or one that went before the socket
 * did, whose late replies look the same) nothing tells them apart: the
 * reply keeps the proxy's address, counted (udp_replies_untranslated).
 * Never a guessed destination.
 */
static __always_inline int crd_udp_reverse_lsn(const struct crd_usk *u, const __u32 src[4],
					       __u16 port_be, struct crd_addr *orig,
					       __u16 *orig_port_be)
{
	struct crd_uflow *uf;
	int i, n = 0;
	__u32 h;

	for (i = 0; i < CRD_UDP_PER_SOCK; i++) {
		h = u->handles[i];
		if (!h)
			continue;
		uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
		if (!uf || uf->proxy_port_be != port_be || !crd_addr_eq(uf->proxy, src))
			continue;
		if (n++)
			break;
		__builtin_memcpy(orig->ip6, uf->e.flow.orig_dst.ip6, 16);
		*orig_port_be = uf->e.flow.orig_dst_port_be;
	}
	if (n == 1 && !u->evicted)
		return 1;
	if (n)
		crd_count(CRD_ST_UDP_UNTRANSLATED);
	return 0;
}

/*
 * The original destination a UDP reply from @src:@port_be stands for, for
 * the application socket @sk, or 0.
 */
static __always_inline int crd_udp_reverse(struct bpf_sock_addr *ctx, const __u32 src[4],
					   __u16 port_be, struct crd_addr *orig,
					   __u16 *orig_port_be)
{
	struct bpf_sock *sk = ctx->sk;
	struct crd_urep_key k = {};
	struct crd_uflow *uf;
	struct crd_urep *r;
	struct crd_usk *u;
	__u32 h;

	if (!sk)
		return 0;
	u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, 0);
	if (!u)
		return 0;
	if (u->connected) {
		h = u->connected;
		uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
		if (!uf || uf->proxy_port_be != port_be || !crd_addr_eq(uf->proxy, src))
			return 0;
		__builtin_memcpy(orig->ip6, uf->e.flow.orig_dst.ip6, 16);
		*orig_port_be = uf->e.flow.orig_dst_port_be;
		return 1;
	}
	k.app_cookie = bpf_get_socket_cookie(ctx);
	k.port = bpf_ntohs(port_be);
	r = bpf_map_lookup_elem(&crd_urep_v3, &k);
	if (r) {
		h = r->handle;
		uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
		if (uf && crd_addr_eq(uf->proxy, src)) {
			__builtin_memcpy(orig->ip6, r->dst, 16);
			*orig_port_be = r->dport_be;
			return 1;
		}
	}
	return crd_udp_reverse_lsn(u, src, port_be, orig, orig_port_be);
}

static __always_inline int crd_reverse4(struct bpf_sock_addr *ctx)
{
	struct crd_addr src, orig;
	__u16 port = 0;

	crd_set_v4(&src, ctx->user_ip4);
	if (crd_udp_reverse(ctx, src.ip6, (__u16)ctx->user_port, &orig, &port) &&
	    crd_is_v4mapped(orig.ip6)) {
		ctx->user_ip4 = orig.ip6[3];
		ctx->user_port = port;
	}
	return 1;
}

static __always_inline int crd_reverse6(struct bpf_sock_addr *ctx)
{
	struct crd_addr src, orig;
	__u16 port = 0;

	src.ip6[0] = ctx->user_ip6[0];
	src.ip6[1] = ctx->user_ip6[1];
	src.ip6[2] = ctx->user_ip6[2];
	src.ip6[3] = ctx->user_ip6[3];
	if (crd_udp_reverse(ctx, src.ip6, (__u16)ctx->user_port, &orig, &port))
		crd_rewrite6(ctx, &orig, port);
	return 1;
}

/* A reply's source, and a connected socket's peer, are the original
 * destination, as if nothing had been redirected. */
SEC("cgroup/recvmsg4")
int crd_recvmsg4(struct bpf_sock_addr *ctx)
{
	return crd_reverse4(ctx);
}

SEC("cgroup/recvmsg6")
int crd_recvmsg6(struct bpf_sock_addr *ctx)
{
	return crd_reverse6(ctx);
}

SEC("cgroup/getpeername4")
int crd_getpeername4(struct bpf_sock_addr *ctx)
{
	return crd_reverse4(ctx);
}

SEC("cgroup/getpeername6")
int crd_getpeername6(struct bpf_sock_addr *ctx)
{
	return crd_reverse6(ctx);
}

/*
 * Tag each redirected datagram with its flow's handle, so the proxy can tell
 * the flows of one unconnected socket apart (they share a 4-tuple once
 * redirected), and note the sender's address once the socket is bound.
 */
SEC("cgroup_skb/egress")
int crd_egress(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct crd_upend *p;
	struct crd_uflow *uf;
	struct crd_usk *u;
	__u64 tid;
	__u32 h;

	if (skb->mark == CRD_DOOM_MARK)
		return 0;   /* its records could not be handed on (crd_doom) */
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP)
		return 1;
	u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, 0);
	if (!u)
		return 1;
	h = 0;
	tid = bpf_get_current_pid_tgid();
	p = bpf_map_lookup_elem(&crd_upend_v3, &tid);
	if (p && p->app_cookie && p->app_cookie == bpf_get_socket_cookie(skb)) {
		/* This thread's datagram, marked by its own sendmsg. */
		h = p->handle;
		p->app_cookie = 0;
	}
	if (h == CRD_PENDING_NONE)
		return 1;   /* sent elsewhere, decided: not redirected */
	if (!h && sk->state == BPF_TCP_ESTABLISHED)
		h = u->connected;   /* send() on the connected socket */
	if (!h)
		return 1;
	uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);
	if (!uf || uf->e.orphan) {
		/* Addressed to a proxy for a flow that is gone (another
		 * thread's datagram evicted it): untagged, the proxy could not
		 * tell whose it is. Dropped, never sent as nobody's. */
		crd_count(CRD_ST_REFUSED_NO_STATE);
		return 0;
	}
	if (!crd_udp_to_proxy(skb, uf))
		return 1;   /* a stale handle (its send failed after the hook):
			     * this datagram does not go to the flow's proxy */
	crd_udp_sender(skb, sk, uf);
	skb->mark = CRD_MARK(h);
	return 1;
}

/* An application UDP socket closed: its flows go. */
static __always_inline void crd_usk_release(struct crd_usk *u)
{
	int i;

	for (i = 0; i < CRD_UDP_PER_SOCK; i++) {
		if (u->handles[i])
			crd_uflow_del(u->handles[i]);
		u->handles[i] = 0;
	}
	if (u->connected)
		crd_uflow_del(u->connected);
	u->connected = 0;
}

/* ---- Implicit records ---------------------------------------------------------- */

/* Claim live flow @e for one outbound socket; 0 if another socket has it. */
static __always_inline __u64 crd_try_claim(struct crd_flow_entry *e)
{
	__u64 claim = crd_random64() | 1;

	return __sync_val_compare_and_swap(&e->consumer, 0, claim) == 0 ? claim : 0;
}

/*
 * crd_implicit - the caller, the proxy of an --implicit service, connects a
 * TCP socket without records: find the flow it continues and claim it for
 * the socket, as set-records would have. The rule (docs/DESIGN.md,
 * "Implicit records"), first that finds a live flow not yet continued:
 *   1. the flow whose SO_ORIGINAL_DST the calling thread read last, if this
 *      connection goes to that flow's original destination;
 *   2. the oldest flow the service accepted for this destination (FIFO);
 *   3. the flow whose SO_ORIGINAL_DST the calling thread read last, wherever
 *      this connection goes (a proxy that forwards to an upstream).
 * Returns 1 if a flow was claimed, -1 if one was found and could not be
 * kept (no socket storage: the connect is refused). Also answers, in @r, which service the
 * caller is the proxy of, so the decision does not ask again.
 */
__noinline int crd_implicit(struct bpf_sock_addr *ctx, struct crd_redir *r)
{
	struct crd_flow_entry *e = NULL, *he = NULL;
	struct crd_config *cfg = NULL;
	struct crd_impq_key k = {};
	struct crd_order *order;
	struct crd_hint *hint;
	struct crd_impq *q;
	struct bpf_sock *sk;
	struct crd_sk *s;
	__u64 tid, tok = 0, htok = 0, claim = 0;
	__u32 idx = 0, flags = 0, pos = 0, self, how = 0, i;
	__u64 head, tail;

	if (!r)
		return 0;
	sk = ctx->sk;
	if (!sk)
		return 0;
	order = crd_live_order(&cfg, &idx);
	if (!order)
		return 0;
	self = crd_caller_service_pos(order, idx, 0, NULL, &pos, &flags);
	r->self_id = self;
	r->self_pos = pos;
	r->self_flags = flags;
	r->self_known = 1;
	if (!self || !(flags & CRD_SVC_IMPLICIT))
		return 0;

	tid = bpf_get_current_pid_tgid();
	hint = bpf_map_lookup_elem(&crd_hint_v3, &tid);
	if (hint && hint->svc_id == self) {
		htok = hint->token;
		he = bpf_map_lookup_elem(&crd_flows_v3, &htok);
		if (he && (he->consumer || (he->flow.flags & CRD_FF_CONTINUED)))
			he = NULL;
	}
	if (he && he->flow.orig_dst_port_be == r->port_be &&
	    crd_addr_eq(he->flow.orig_dst.ip6, r->dst.ip6)) {
		claim = crd_try_claim(he);
		if (claim) {
			e = he;
			tok = htok;
			how = CRD_CONT_THREAD;
		}
	}
	if (!e) {
		k.svc_id = self;
		__builtin_memcpy(k.dst, r->dst.ip6, sizeof(k.dst));
		k.dport_be = r->port_be;
		q = bpf_map_lookup_elem(&crd_impq_v3, &k);
		if (q) {
			head = q->head;
			tail = q->tail;
			if (tail - head > CRD_IMPQ_LEN)
				head = tail - CRD_IMPQ_LEN;
			for (i = 0; i < CRD_IMPQ_LEN; i++) {
				if (head == tail)
					break;
				tok = q->token[head & (CRD_IMPQ_LEN - 1)];
				head++;
				e = bpf_map_lookup_elem(&crd_flows_v3, &tok);
				if (e && !e->consumer && !(e->flow.flags & CRD_FF_CONTINUED)) {
					claim = crd_try_claim(e);
					if (claim)
						break;
				}
				e = NULL;
			}
			q->head = head;
			if (e)
				how = CRD_CONT_FIFO;
		}
	}
	if (!e && he) {
		claim = crd_try_claim(he);
		if (claim) {
			e = he;
			tok = htok;
			how = CRD_CONT_THREAD;
		}
	}
	if (!e)
		return 0;
	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s) {
		/* Found, and cannot be kept: continuing as if none had been
		 * found would hand the flow on without its application. */
		if (__sync_val_compare_and_swap(&e->consumer, claim, 0) == claim && e->orphan &&
		    __sync_val_compare_and_swap(&e->consumer, 0, CRD_CONSUMER_DEAD) == 0)
			crd_flow_delete(tok);   /* its owner went meanwhile */
		return -1;
	}
	crd_drop_used(s);
	s->used_token = tok;
	s->consumer_id = claim;
	s->cont = how;
	e->flow.flags |= CRD_FF_CONTINUED;   /* never found again */
	if (tok == htok)
		bpf_map_delete_elem(&crd_hint_v3, &tid);
	return 1;
}

/*
 * An --implicit service's proxy accepted flow @e (token @token): queue it
 * under (service, original destination) for crd_implicit().
 */
__noinline int crd_impq_push(const struct crd_flow_entry *e, __u64 token)
{
	struct crd_impq_key k = {};
	struct crd_impq *q;
	__u64 slot;
	__u32 n, i;

	if (!e)
		return 0;
	n = e->flow.nhops;
	if (n == 0 || n > CRD_MAX_HOPS)
		return 0;
	k.svc_id = e->flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)];
	__builtin_memcpy(k.dst, e->flow.orig_dst.ip6, sizeof(k.dst));
	k.dport_be = e->flow.orig_dst_port_be;
	q = bpf_map_lookup_elem(&crd_impq_v3, &k);
	if (!q) {
		bpf_map_update_elem(&crd_impq_v3, &k, &crd_impq_zero, BPF_NOEXIST);
		q = bpf_map_lookup_elem(&crd_impq_v3, &k);
		if (!q)
			return 0;
	}
	/* Reserve a slot (no fetch-and-add return value before -mcpu=v3). */
	for (i = 0; i < 4; i++) {
		slot = q->tail;
		if (__sync_val_compare_and_swap(&q->tail, slot, slot + 1) == slot) {
			q->token[slot & (CRD_IMPQ_LEN - 1)] = token;
			return 1;
		}
	}
	return 0;
}

/*
 * connect() on a UDP socket again: its old connected flow ends here,
 * whatever the new destination's decision (also with no service left).
 */
static __always_inline void crd_udp_reconnect(struct bpf_sock *sk)
{
	struct crd_usk *u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, 0);

	if (u && u->connected) {
		crd_uflow_del(u->connected);
		u->connected = 0;
	}
}

/*
 * A UDP datagram that goes where it was addressed (no flow of this socket
 * takes it): egress must not tag it with the socket's connected flow.
 */
static __always_inline void crd_udp_unmarked(struct bpf_sock_addr *ctx, int connecting)
{
	struct crd_usk *u = bpf_sk_storage_get(&crd_usk_v3, ctx->sk, 0, 0);

	if (u && !connecting)
		crd_upend_set(bpf_get_socket_cookie(ctx), CRD_PENDING_NONE);
}

/* ---- connect: TCP and connected UDP -------------------------------------------- */

/*
 * crd_redirect - the decision for a connect() (TCP, connected UDP) or a UDP
 * sendmsg(). The heavy parts are global functions, verified once each and
 * called one after another, not nested, to keep the stack small.
 */
static __always_inline int crd_redirect(struct bpf_sock_addr *ctx, struct crd_redir *r,
					int udp)
{
	struct bpf_sock *sk = ctx->sk;
	struct crd_flow_entry *prev;
	int ret, slot, lost;

	if (!sk)
		return CRD_PASS;
	crd_normalize(&r->dst);
	if (udp && r->connecting)
		crd_udp_reconnect(sk);
	if (!crd_have_services())
		return CRD_PASS;
	if (udp) {
		ret = crd_udp_pre(ctx, r);
		if (ret != CRD_DECIDE) {
			if (ret == CRD_PASS)
				crd_udp_unmarked(ctx, r->connecting);
			return ret;
		}
	} else {
		/* TCP and MPTCP only (not SCTP's stream sockets, say). */
		if (ctx->type != SOCK_STREAM ||
		    (ctx->protocol != IPPROTO_TCP && ctx->protocol != CRD_IPPROTO_MPTCP))
			return CRD_PASS;
		/* Already connecting or connected: the kernel says EALREADY
		 * or EISCONN after this hook; the flow was decided before
		 * (a TCP_FASTOPEN_CONNECT socket's first write comes here
		 * too, its records still to be published). */
		if (sk->state != BPF_TCP_CLOSE)
			return CRD_PASS;
		crd_count(CRD_ST_CONNECT);
		/* A reconnecting socket must not publish a stale decision. */
		bpf_sk_storage_delete(&crd_conn_v3, sk);
	}
	prev = crd_continued(sk, &lost);
	if (!prev && lost) {
		/* Records were set on this socket and are gone: deciding it as
		 * a socket without records would let a proxy's onward flow
		 * skip the services that filter on the application. */
		crd_count(CRD_ST_REFUSED_NO_STATE);
		return CRD_REFUSE;
	}
	if (!prev && !udp) {
		ret = crd_implicit(ctx, r);
		if (ret < 0) {
			crd_count(CRD_ST_REFUSED_NO_STATE);
			return CRD_REFUSE;
		}
		if (ret)
			prev = crd_continued(sk, &lost);
	}
	if (prev) {
		struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);

		r->cont = s ? s->cont : CRD_CONT_RECORDS;
	}
	r->proto_bit = udp ? CRD_PROTO_UDP : CRD_PROTO_TCP;
	slot = crd_choose(ctx, prev, r);
	if (slot < 0) {
		if (udp && slot == CRD_PASS)
			crd_udp_unmarked(ctx, r->connecting);
		return slot;
	}
	ret = udp ? crd_udp_post(ctx, prev, r, slot) : crd_tcp_post(ctx, prev, r, slot);
	if (ret >= 0) {
		crd_redirected(slot, r, prev);
		return ret;
	}
	ret = crd_fail_policy(slot, ret, r, prev);
	if (udp && ret == CRD_PASS)
		crd_udp_unmarked(ctx, r->connecting);
	return ret;
}

SEC("cgroup/connect4")
int crd_connect4(struct bpf_sock_addr *ctx)
{
	struct crd_redir r = { .connecting = 1 };
	int ret;

	crd_set_v4(&r.dst, ctx->user_ip4);
	r.port_be = (__u16)ctx->user_port;
	ret = crd_redirect(ctx, &r, ctx->type == SOCK_DGRAM);
	if (ret == CRD_REFUSE || ret == CRD_QUOTA)
		return crd_connect_refuse(ret);
	return ret < 0 ? 1 : crd_rewrite4(ctx, &r.proxy, r.proxy_port_be);
}

SEC("cgroup/connect6")
int crd_connect6(struct bpf_sock_addr *ctx)
{
	struct crd_redir r = { .connecting = 1, .v6 = 1 };
	int ret;

	r.dst.ip6[0] = ctx->user_ip6[0];
	r.dst.ip6[1] = ctx->user_ip6[1];
	r.dst.ip6[2] = ctx->user_ip6[2];
	r.dst.ip6[3] = ctx->user_ip6[3];
	r.port_be = (__u16)ctx->user_port;
	ret = crd_redirect(ctx, &r, ctx->type == SOCK_DGRAM);
	if (ret == CRD_REFUSE || ret == CRD_QUOTA)
		return crd_connect_refuse(ret);
	return ret < 0 ? 1 : crd_rewrite6(ctx, &r.proxy, r.proxy_port_be);
}

SEC("cgroup/sendmsg4")
int crd_sendmsg4(struct bpf_sock_addr *ctx)
{
	struct crd_redir r = {};
	int ret;

	crd_set_v4(&r.dst, ctx->user_ip4);
	r.port_be = (__u16)ctx->user_port;
	ret = crd_redirect(ctx, &r, 1);
	if (ret == CRD_REFUSE || ret == CRD_QUOTA)
		return crd_connect_refuse(ret);
	return ret < 0 ? 1 : crd_rewrite4(ctx, &r.proxy, r.proxy_port_be);
}

SEC("cgroup/sendmsg6")
int crd_sendmsg6(struct bpf_sock_addr *ctx)
{
	struct crd_redir r = { .v6 = 1 };
	int ret;

	r.dst.ip6[0] = ctx->user_ip6[0];
	r.dst.ip6[1] = ctx->user_ip6[1];
	r.dst.ip6[2] = ctx->user_ip6[2];
	r.dst.ip6[3] = ctx->user_ip6[3];
	r.port_be = (__u16)ctx->user_port;
	ret = crd_redirect(ctx, &r, 1);
	if (ret == CRD_REFUSE || ret == CRD_QUOTA)
		return crd_connect_refuse(ret);
	return ret < 0 ? 1 : crd_rewrite6(ctx, &r.proxy, r.proxy_port_be);
}

/* ---- sockops: hand the records to the accepted socket ----------------------- */


/*
 * The 4-tuple of a sockops socket: local is src, remote is dst (swapped when
 * @swap). Every field is loaded unconditionally: given a branch per family,
 * clang selects between two context pointers and loads once, which the
 * verifier rejects ("dereference of modified ctx ptr").
 */
static __always_inline void crd_skops_tuple(struct bpf_sock_ops *skops,
					    struct crd_tuple *t, int swap)
{
	struct crd_addr local, remote;
	__u32 family = crd_ld(skops->family);
	__u32 l4 = crd_ld(skops->local_ip4), r4 = crd_ld(skops->remote_ip4);
	__u32 l0 = crd_ld(skops->local_ip6[0]), l1 = crd_ld(skops->local_ip6[1]);
	__u32 l2 = crd_ld(skops->local_ip6[2]), l3 = crd_ld(skops->local_ip6[3]);
	__u32 r0 = crd_ld(skops->remote_ip6[0]), r1 = crd_ld(skops->remote_ip6[1]);
	__u32 r2 = crd_ld(skops->remote_ip6[2]), r3 = crd_ld(skops->remote_ip6[3]);
	__u16 lport = crd_ld(skops->local_port);
	__u16 rport = bpf_ntohl(crd_ld(skops->remote_port));

	if (family == AF_INET) {
		crd_set_v4(&local, l4);
		crd_set_v4(&remote, r4);
	} else {
		local.ip6[0] = l0;
		local.ip6[1] = l1;
		local.ip6[2] = l2;
		local.ip6[3] = l3;
		remote.ip6[0] = r0;
		remote.ip6[1] = r1;
		remote.ip6[2] = r2;
		remote.ip6[3] = r3;
	}
	__builtin_memset(t, 0, sizeof(*t));
	t->netns = bpf_get_netns_cookie(skops);
	if (!swap) {
		t->src = local;
		t->dst = remote;
		t->sport = lport;
		t->dport = rport;
	} else {
		t->src = remote;
		t->dst = local;
		t->sport = rport;
		t->dport = lport;
	}
}

/*
 * The records of a connection could not be handed on (crd_pend_v3 full, no
 * memory): its packets are dropped at egress (CRD_DOOM_MARK) and it fails
 * with ETIMEDOUT within about a second, so the proxy never serves it
 * without its records. Not counted as a redirect after all.
 */
static __always_inline void crd_doom_sock(struct bpf_sock_ops *skops)
{
	int mark = CRD_DOOM_MARK, ms = 1;

	bpf_setsockopt(skops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	bpf_setsockopt(skops, SOL_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
}

static __always_inline void crd_doom(struct bpf_sock_ops *skops)
{
	crd_doom_sock(skops);
	crd_count(CRD_ST_REFUSED_NO_STATE);
	{
		__u32 zero = 0;
		struct crd_stats *st = bpf_map_lookup_elem(&crd_stats_v3, &zero);

		if (st)   /* per-CPU sums wrap: a decrement is exact */
			st->c[CRD_ST_REDIRECTED]--;
	}
}

/* The SYN is about to leave: publish the records under the 4-tuple. */
static __always_inline void crd_publish(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct crd_flow_entry *fe;
	struct crd_sk *s;
	struct crd_tuple t;

	if (!sk)
		return;
	fe = bpf_sk_storage_get(&crd_conn_v3, sk, 0, 0);
	if (!fe)
		return;
	crd_skops_tuple(skops, &t, 0);
	if (fe->flow.nhops == 1) {
		fe->flow.orig_src = t.src;
		fe->flow.orig_src_port_be = bpf_htons(t.sport);
	}
	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s || bpf_map_update_elem(&crd_pend_v3, &t, fe, BPF_ANY)) {
		crd_count(CRD_ST_PEND_FULL);
		crd_doom(skops);
	} else {
		s->tuple = t;
		s->flags |= CRD_SKF_PUBLISHED;
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_STATE_CB_FLAG);
	}
	bpf_sk_storage_delete(&crd_conn_v3, sk);
}

/* Is accepted socket @sk, whose crd_lsn_v3 its listener's was cloned to,
 * the proxy's of the service that last redirected @f? */
static __always_inline int crd_accepted_by_proxy(struct bpf_sock *sk, const struct crd_flow *f)
{
	struct crd_id_find q = { .slot = -1 };
	struct crd_service *svc;
	struct crd_lsn *o;
	__u32 n = f->nhops, slot;

	if (n == 0 || n > CRD_MAX_HOPS)
		return 0;
	q.id = f->hops[(n - 1) & (CRD_MAX_HOPS - 1)];
	o = bpf_sk_storage_get(&crd_lsn_v3, sk, 0, 0);
	if (!o)
		return 0;
	bpf_loop(CRD_MAX_SERVICES, crd_id_one, &q, 0);
	if (q.slot < 0)
		return 0;
	slot = q.slot;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	return svc && crd_lsn_ok(svc, o);
}

/* The proxy's side of the handshake completed: adopt the records. */
static __always_inline void crd_adopt(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct crd_flow_entry *e;
	struct crd_tuple t;
	struct crd_sk *s;
	__u64 token;
	int ok;

	if (!sk)
		return;
	crd_skops_tuple(skops, &t, 1);
	e = bpf_map_lookup_elem(&crd_pend_v3, &t);
	/* Only a socket accepted by the flow's proxy gets its records: the
	 * listener's crd_lsn_v3 (cloned to the accepted socket) must be
	 * claimed for, or bound by, the service that redirected it. The
	 * clone is not kept: an accepted socket is no listener. */
	ok = e && crd_accepted_by_proxy(sk, &e->flow);
	bpf_sk_storage_delete(&crd_lsn_v3, sk);
	if (!e)
		return;
	if (!ok) {
		/* Not the flow's proxy (a socket that shares its port): this
		 * connection is dropped, never served without its records. */
		crd_count(CRD_ST_ADOPT_REFUSED);
		crd_doom_sock(skops);
		return;
	}
	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	token = crd_random64() & ~CRD_TOKEN_UDP;   /* TCP tokens: top bit clear */
	if (!token)
		token = 1;
	if (!s || bpf_map_update_elem(&crd_flows_v3, &token, e, BPF_NOEXIST)) {
		crd_count(CRD_ST_FLOWS_FULL);
	} else {
		s->token = token;
		crd_count(CRD_ST_ACCEPTED);
		if (e->flow.flags & CRD_FF_TO_IMPLICIT)
			crd_impq_push(e, token);
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
					  BPF_SOCK_OPS_STATE_CB_FLAG);
	}
	bpf_map_delete_elem(&crd_pend_v3, &t);
}

/* An accepted socket's flow entry, and its claim as an outbound socket:
 * both end when the user closes the socket (a blob from it is stale). */
static __always_inline void crd_drop_claims(struct crd_sk *s)
{
	if (s->token) {
		struct crd_flow_entry *e = bpf_map_lookup_elem(&crd_flows_v3, &s->token);

		/* Ours to delete (no consumer, or a try that found the bucket
		 * busy): keep the token to try again at sock_release if the
		 * delete does not happen. */
		if (!(e && (crd_flow_orphan(e) || e->consumer == CRD_CONSUMER_DEAD) &&
		      crd_flow_delete(s->token)))
			s->token = 0;
	}
	crd_drop_used(s);
}

/* Drop every claim socket state @s holds (idempotent), at TCP_CLOSE. */
static __always_inline void crd_forget(struct crd_sk *s)
{
	crd_drop_claims(s);
	if (s->flags & CRD_SKF_PUBLISHED) {
		bpf_map_delete_elem(&crd_pend_v3, &s->tuple);
		s->flags &= ~CRD_SKF_PUBLISHED;
	}
	if ((s->flags & (CRD_SKF_QUOTA | CRD_SKF_RELEASED)) ==
	    (CRD_SKF_QUOTA | CRD_SKF_RELEASED)) {
		s->flags &= ~(CRD_SKF_QUOTA | CRD_SKF_RELEASED);
		crd_quota_give(CRD_Q_TCP_CG, s->q_cgid, s->q_uid);
	}
}

SEC("sockops")
int crd_sockops(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct crd_sk *s;

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		crd_publish(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		crd_adopt(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		sk = skops->sk;
		if (skops->args[1] != BPF_TCP_CLOSE || !sk)
			break;
		s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
		if (s)
			crd_forget(s);
		break;
	}
	return 1;
}

SEC("cgroup/sock_release")
int crd_sock_release(struct bpf_sock *sk)
{
	struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	struct crd_usk *u = bpf_sk_storage_get(&crd_usk_v3, sk, 0, 0);

	if (u)
		crd_usk_release(u);
	if (s && s->urep_port) {
		struct crd_urep_key k = { .app_cookie = s->urep_cookie, .port = s->urep_port };

		bpf_map_delete_elem(&crd_urep_v3, &k);
		s->urep_port = 0;
	}

	/* The pending tuple stays until TCP_CLOSE: the proxy may not have
	 * completed its side of the handshake yet. */
	if (s)
		crd_drop_claims(s);
	if (s && (s->flags & CRD_SKF_QUOTA)) {
		if (s->flags & CRD_SKF_PUBLISHED) {
			/* Its pending entry lives until TCP_CLOSE: so does
			 * the unit (crd_forget). */
			s->flags |= CRD_SKF_RELEASED;
		} else {
			s->flags &= ~CRD_SKF_QUOTA;
			crd_quota_give(CRD_Q_TCP_CG, s->q_cgid, s->q_uid);
		}
	}
	return 1;
}

/* ---- getsockopt / setsockopt: the API --------------------------------------- */

/* Answer a getsockopt with @len bytes of @src; -ENOSPC if they do not fit. */
static __always_inline int crd_answer(struct bpf_sockopt *ctx, const void *src, __u32 len)
{
	__u8 *optval = ctx->optval;
	__u8 *end = ctx->optval_end;

	if (optval + len > end) {
		ctx->retval = -ENOSPC;
		return 1;
	}
	bpf_probe_read_kernel(optval, len, src);
	ctx->optlen = len;
	/* clang 14 may merge the two 4-byte stores into one 8-byte store,
	 * which the verifier rejects. */
	asm volatile("" ::: "memory");
	ctx->retval = 0;
	return 1;
}

static __always_inline int crd_fail(struct bpf_sockopt *ctx, int err)
{
	ctx->retval = -err;
	return 1;
}

/* The live flow entry of an accepted socket, or an errno in *err. */
static __always_inline struct crd_flow_entry *crd_accepted_flow(struct bpf_sock *sk, int *err)
{
	struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	struct crd_flow_entry *e;

	if (sk->state == BPF_TCP_CLOSE || sk->state == BPF_TCP_LISTEN ||
	    sk->state == BPF_TCP_SYN_SENT) {
		*err = ENOTCONN;
		return NULL;
	}
	if (!s || !s->token) {
		*err = ENOENT;
		return NULL;
	}
	e = bpf_map_lookup_elem(&crd_flows_v3, &s->token);
	if (!e) {
		*err = ENOENT;
		return NULL;
	}
	*err = 0;
	return e;
}

/* The records blob (or its size) of live flow @e, known by @token. */
static __always_inline int crd_answer_records(struct bpf_sockopt *ctx,
					      const struct crd_flow_entry *e,
					      __u64 token, int size_only)
{
	struct crd_blob b = {};
	__u32 sz = sizeof(b);

	if (size_only)
		return crd_answer(ctx, &sz, sizeof(sz));
	b.magic = CRD_BLOB_MAGIC;
	b.version = CRD_BLOB_VERSION;
	b.size = sizeof(b);
	b.token = token;
	b.flow_id = e->flow.flow_id;
	b.nhops = e->flow.nhops;
	__builtin_memcpy(b.hops, e->flow.hops, sizeof(b.hops));
	return crd_answer(ctx, &b, sizeof(b));
}

static __always_inline int crd_get_records(struct bpf_sockopt *ctx, struct bpf_sock *sk,
					   int size_only)
{
	struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	struct crd_flow_entry *e;
	int err;

	e = crd_accepted_flow(sk, &err);
	if (!e || !s)
		return crd_fail(ctx, err ? err : ENOENT);
	return crd_answer_records(ctx, e, s->token, size_only);
}

/* The state of flow @f for the caller, and the caller's service id. */
static __always_inline int crd_caller_state(const struct crd_flow *f, __u32 *svc_id)
{
	struct crd_config *cfg = NULL;
	__u32 n = f->nhops, last, id, idx = 0;
	struct crd_order *order = crd_live_order(&cfg, &idx);

	*svc_id = 0;
	if (!order || n == 0)
		return CONNREDIR_NOT_REDIRECTED;
	if (n > CRD_MAX_HOPS)
		n = CRD_MAX_HOPS;
	/* Best first: the service that last redirected the flow. */
	last = f->hops[(n - 1) & (CRD_MAX_HOPS - 1)];
	id = crd_caller_service(order, idx, last, NULL);
	if (id) {
		*svc_id = id;
		return CONNREDIR_REDIRECTED_BY_SELF;
	}
	id = crd_caller_service(order, idx, 0, NULL);
	if (!id)
		return CONNREDIR_REDIRECTED_BY_OTHER;
	*svc_id = id;
	return crd_state_of(f->hops, n, id);
}

static __always_inline int crd_answer_state(struct bpf_sockopt *ctx,
					    const struct crd_flow_entry *e)
{
	struct connredir_state_info info = {};
	__u32 id;

	info.state = crd_caller_state(&e->flow, &id);
	info.service_id = id;
	info.nhops = e->flow.nhops;
	return crd_answer(ctx, &info, sizeof(info));
}

static __always_inline int crd_get_state(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct crd_flow_entry *e;
	int err;

	e = crd_accepted_flow(sk, &err);
	if (!e)
		return crd_fail(ctx, err);
	return crd_answer_state(ctx, e);
}

static __always_inline int crd_answer_context(struct bpf_sockopt *ctx,
					      const struct crd_flow_entry *e, __u8 flags)
{
	struct connredir_context c = {};
	const struct crd_flow *f = &e->flow;
	__u32 id, n, i;
	int state, hop = -1;

	state = crd_caller_state(f, &id);
	if (state != CONNREDIR_REDIRECTED_BY_SELF &&
	    state != CONNREDIR_PREVIOUSLY_REDIRECTED_BY_SELF)
		return crd_fail(ctx, EACCES);
	n = f->nhops > CRD_MAX_HOPS ? CRD_MAX_HOPS : f->nhops;
	for (i = 0; i < CRD_MAX_HOPS; i++) {
		if (i >= n)
			break;
		if (f->hops[i] == id)
			hop = i;
	}
	if (hop < 0)
		return crd_fail(ctx, EACCES);
	c.version = CONNREDIR_CONTEXT_VERSION;
	c.size = sizeof(c);
	c.service_id = id;
	c.hop = hop;
	__builtin_memcpy(c.orig_dst, f->orig_dst.ip6, 16);
	__builtin_memcpy(c.orig_src, f->orig_src.ip6, 16);
	c.orig_dst_port = f->orig_dst_port_be;
	c.orig_src_port = f->orig_src_port_be;
	c.protocol = f->proto;
	c.orig_family = f->orig_family;
	c.nhops = f->nhops;
	c.flags = flags;
	c.app_pid = f->app_pid;
	c.app_uid = f->app_uid;
	c.app_gid = f->app_gid;
	c.app_cgroup_id = f->app_cgid;
	__builtin_memcpy(c.app_comm, f->app_comm, sizeof(c.app_comm));
	c.flow_id = f->flow_id;
	c.start_ns = f->start_ns;
	c.redirect_ns = f->start_ns + (__u64)f->hop_us[hop & (CRD_MAX_HOPS - 1)] * 1000;
	return crd_answer(ctx, &c, sizeof(c));
}

/*
 * An --implicit service's proxy asked about accepted flow @e (its original
 * destination or its context): the calling thread's next connection without records most likely
 * continues it (crd_implicit()).
 */
static __always_inline void crd_hint_note(struct bpf_sock *sk, const struct crd_flow_entry *e)
{
	struct crd_sk *s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, 0);
	struct crd_hint h = {};
	__u64 tid = bpf_get_current_pid_tgid();
	__u32 n = e->flow.nhops;

	if (!s || !s->token || n == 0 || n > CRD_MAX_HOPS)
		return;
	h.token = s->token;
	h.svc_id = e->flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)];
	bpf_map_update_elem(&crd_hint_v3, &tid, &h, BPF_ANY);
}

static __always_inline int crd_get_context(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct crd_flow_entry *e;
	int err;

	e = crd_accepted_flow(sk, &err);
	if (!e)
		return crd_fail(ctx, err);
	if (e->flow.flags & CRD_FF_TO_IMPLICIT)
		crd_hint_note(sk, e);
	return crd_answer_context(ctx, e, 0);
}

/* getsockopt(CONNREDIR_SOL, CONNREDIR_UDP_OPT(what, handle)): a UDP flow. */
/* Is the caller the proxy of the service that redirected flow @e last? */
static __always_inline int crd_is_last_proxy(const struct crd_flow_entry *e)
{
	struct crd_config *cfg = NULL;
	struct crd_order *order;
	__u32 n = e->flow.nhops, idx = 0;

	if (n == 0 || n > CRD_MAX_HOPS)
		return 0;
	order = crd_live_order(&cfg, &idx);
	return crd_caller_service(order, idx, e->flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)],
				  NULL) != 0;
}

static __always_inline int crd_get_udp(struct bpf_sockopt *ctx)
{
	__u32 what = (__u32)ctx->optname >> 24, h = ctx->optname & CRD_HANDLE_MASK;
	struct crd_uflow *uf = bpf_map_lookup_elem(&crd_uflows_v3, &h);

	if (!uf)
		return crd_fail(ctx, ENOENT);
	switch (what) {
	case CONNREDIR_RECORDS:
		return crd_answer_records(ctx, &uf->e, CRD_TOKEN_UDP | h, 0);
	case CONNREDIR_RECORDS_SIZE:
		return crd_answer_records(ctx, &uf->e, CRD_TOKEN_UDP | h, 1);
	case CONNREDIR_CONTEXT:
		/* The handle is in every datagram's mark: the application's
		 * identity goes only to the proxy of the service that has it. */
		if (!crd_is_last_proxy(&uf->e))
			return crd_fail(ctx, EACCES);
		return crd_answer_context(ctx, &uf->e, (uf->flags & CRD_UF_CONNECTED) ?
					  CONNREDIR_CTX_UDP_CONNECTED : 0);
	case CONNREDIR_STATE:
		return crd_answer_state(ctx, &uf->e);
	}
	return crd_fail(ctx, ENOPROTOOPT);
}

struct crd_sockaddr_in {
	__u16 family;
	__u16 port_be;
	__u32 addr;
	__u8 zero[8];
};

struct crd_sockaddr_in6 {
	__u16 family;
	__u16 port_be;
	__u32 flowinfo;
	__u32 addr[4];
	__u32 scope_id;
};

/* SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST for a redirected accepted socket. */
static __always_inline int crd_get_origdst(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct crd_flow_entry *e;
	int err;

	if (ctx->retval == 0)
		return 1;   /* netfilter answered: its answer stands */
	e = crd_accepted_flow(sk, &err);
	if (!e)
		return 1;   /* keep the kernel's error */
	if (e->flow.flags & CRD_FF_TO_IMPLICIT)
		crd_hint_note(sk, e);
	if (ctx->level == SOL_IP) {
		struct crd_sockaddr_in sin = {};

		if (!crd_is_v4mapped(e->flow.orig_dst.ip6))
			return 1;
		sin.family = AF_INET;
		sin.port_be = e->flow.orig_dst_port_be;
		sin.addr = e->flow.orig_dst.ip6[3];
		return crd_answer(ctx, &sin, sizeof(sin));
	} else {
		struct crd_sockaddr_in6 sin6 = {};

		sin6.family = AF_INET6;
		sin6.port_be = e->flow.orig_dst_port_be;
		__builtin_memcpy(sin6.addr, e->flow.orig_dst.ip6, 16);
		return crd_answer(ctx, &sin6, sizeof(sin6));
	}
}

SEC("cgroup/getsockopt")
int crd_getsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return 1;
	if (ctx->level == CONNREDIR_SOL) {
		if ((__u32)ctx->optname >= (1u << 24))
			return crd_get_udp(ctx);
		if (sk->protocol != IPPROTO_TCP)
			return crd_fail(ctx, EOPNOTSUPP);
		switch (ctx->optname) {
		case CONNREDIR_RECORDS:
			return crd_get_records(ctx, sk, 0);
		case CONNREDIR_RECORDS_SIZE:
			return crd_get_records(ctx, sk, 1);
		case CONNREDIR_CONTEXT:
			return crd_get_context(ctx, sk);
		case CONNREDIR_STATE:
			return crd_get_state(ctx, sk);
		}
		return crd_fail(ctx, ENOPROTOOPT);
	}
	if (ctx->optname == SO_ORIGINAL_DST &&
	    (ctx->level == SOL_IP || ctx->level == SOL_IPV6) &&
	    sk->protocol == IPPROTO_TCP)
		return crd_get_origdst(ctx, sk);
	return 1;
}

/*
 * Refuse a setsockopt with @err; the kernel's handler does not run. The
 * event names the caller (who) and the errno (why); @e, if known, is the
 * flow the caller tried to continue.
 */
static __always_inline int crd_refuse_flow(struct bpf_sockopt *ctx, int err,
					   enum crd_stat st,
					   const struct crd_flow_entry *e)
{
	struct crd_config *cfg;
	struct crd_event *ev;
	__u32 zero = 0;

	crd_count(st);
	cfg = bpf_map_lookup_elem(&crd_cfg_v3, &zero);
	if (cfg && cfg->events_pid) {
		ev = crd_event_start(cfg, CRD_EV_SET_REFUSED);
		if (ev) {
			ev->err = err;
			ev->app_pid = ev->caller_pid;
			ev->app_uid = (__u32)bpf_get_current_uid_gid();
			crd_process_comm(ev->comm);
			ev->proto = e ? e->flow.proto :
				    ctx->sk ? ctx->sk->protocol : IPPROTO_TCP;
			if (e) {
				__u32 n = e->flow.nhops;

				ev->flow_id = e->flow.flow_id;
				ev->nhops = n;
				if (n > 0 && n <= CRD_MAX_HOPS)
					ev->service_id = e->flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)];
				__builtin_memcpy(ev->hops, e->flow.hops, sizeof(ev->hops));
				__builtin_memcpy(ev->dst, e->flow.orig_dst.ip6, sizeof(ev->dst));
				ev->dport_be = e->flow.orig_dst_port_be;
			}
			bpf_ringbuf_submit(ev, 0);
		}
	}
	bpf_set_retval(-err);
	return 0;
}

#define crd_refuse(ctx, err, st) crd_refuse_flow(ctx, err, st, NULL)

/* Count a set-records refusal against the service whose flow it was. */
static __always_inline void crd_svc_refused(struct crd_order *order, __u32 id)
{
	struct crd_id_find f = { .id = id, .slot = -1 };
	struct crd_svc_stats *ss;

	bpf_loop(CRD_MAX_SERVICES, crd_id_one, &f, 0);
	if (f.slot < 0)
		return;
	ss = crd_svc_stats(f.slot);
	if (ss)
		ss->set_refused++;
}

static __always_inline int crd_set_records(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct crd_config *cfg = NULL;
	struct crd_order *order;
	struct crd_flow_entry *e;
	struct crd_blob b;
	struct crd_sk *s;
	__u8 *optval = ctx->optval;
	__u8 *end = ctx->optval_end;
	__u64 claim, old;
	__u32 n, last, i, idx = 0;
	__s32 slot = -1;

	if (sk->protocol != IPPROTO_TCP && sk->protocol != IPPROTO_UDP)
		return crd_refuse(ctx, EOPNOTSUPP, CRD_ST_SET_EINVAL);
	/* Before connect: a TCP socket in CLOSE, an unconnected UDP one (the
	 * kernel marks a connected UDP socket ESTABLISHED). */
	if (sk->state != BPF_TCP_CLOSE)
		return crd_refuse(ctx, EISCONN, CRD_ST_SET_EINVAL);
	if (ctx->optlen != sizeof(b) || optval + sizeof(b) > end)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	__builtin_memcpy(&b, optval, sizeof(b));
	if (b.magic != CRD_BLOB_MAGIC || b.version != CRD_BLOB_VERSION ||
	    b.size != sizeof(b) || b.nhops == 0 || b.nhops > CRD_MAX_HOPS)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	e = crd_flow_by_token(b.token);
	if (!e || e->flow.flow_id != b.flow_id || e->flow.nhops != b.nhops)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	n = b.nhops;
	for (i = 0; i < CRD_MAX_HOPS; i++) {
		if (i >= n)
			break;
		if (e->flow.hops[i] != b.hops[i])
			return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	}
	/* Only the proxy of the service that last redirected the flow. */
	order = crd_live_order(&cfg, &idx);
	last = e->flow.hops[(n - 1) & (CRD_MAX_HOPS - 1)];
	if (!crd_caller_service(order, idx, last, &slot)) {
		crd_svc_refused(order, last);
		return crd_refuse_flow(ctx, EACCES, CRD_ST_SET_EACCES, e);
	}

	s = bpf_sk_storage_get(&crd_sk_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	if (s->used_token == b.token && e->consumer == s->consumer_id && s->consumer_id) {
		ctx->optlen = -1;   /* the same blob again on the same socket */
		return 1;
	}
	claim = crd_random64();
	old = __sync_val_compare_and_swap(&e->consumer, 0, claim);
	if (old != 0) {   /* already continued by another live socket: a replay */
		crd_svc_refused(order, last);
		return crd_refuse_flow(ctx, EINVAL, CRD_ST_SET_EINVAL, e);
	}
	crd_drop_used(s);   /* this socket's earlier claim, if any */
	s->used_token = b.token;
	s->consumer_id = claim;
	s->cont = CRD_CONT_RECORDS;
	crd_count(CRD_ST_SET_OK);
	ctx->optlen = -1;   /* consumed: the kernel's handler does not run */
	return 1;
}

struct crd_name_find {
	char name[CRD_NAME_LEN];  /* NUL-padded */
	__u32 found_slot;         /* CRD_MAX_SERVICES: none */
};

/* bpf_loop callback: is slot i the service named f->name? */
static long crd_name_one(__u32 i, void *arg)
{
	struct crd_name_find *f = arg;
	struct crd_service *svc;
	__u32 slot = i, k;

	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (!svc || !svc->id)
		return 0;
	for (k = 0; k < CRD_NAME_LEN; k++)
		if (svc->name[k] != f->name[k])
			return 0;
	f->found_slot = slot;
	return 1;
}

/* Claim a listener for a service: only that service's proxy may. */
static __always_inline int crd_claim(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	struct crd_name_find f = { .found_slot = CRD_MAX_SERVICES };
	__u8 *optval = ctx->optval;
	__u8 *end = ctx->optval_end;
	struct crd_service *svc;
	struct crd_lsn *s;
	__u32 n = ctx->optlen, slot;

	if (sk->protocol != IPPROTO_TCP)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	if (n == 0 || n >= CRD_NAME_LEN)
		return crd_refuse(ctx, EINVAL, CRD_ST_SET_EINVAL);
	/* The first n bytes are the name; the rest stays NUL. */
	for (slot = 0; slot < CRD_NAME_LEN - 1; slot++) {
		if (slot >= n || optval + slot + 1 > end)
			break;
		f.name[slot] = optval[slot];
	}
	bpf_loop(CRD_MAX_SERVICES, crd_name_one, &f, 0);
	slot = f.found_slot;
	svc = bpf_map_lookup_elem(&crd_svc_v3, &slot);
	if (!svc)
		return crd_refuse(ctx, ENOENT, CRD_ST_SET_EINVAL);
	if (!crd_is_owner(svc))
		return crd_refuse(ctx, EACCES, CRD_ST_SET_EACCES);
	s = bpf_sk_storage_get(&crd_lsn_v3, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return crd_refuse(ctx, ENOMEM, CRD_ST_SET_EINVAL);
	s->claim_id = svc->id;
	ctx->optlen = -1;
	return 1;
}

/*
 * SO_REUSEPORT turned on for a socket already bound to a service's proxy
 * port, by someone who is not its proxy: refused (EPERM), as at bind.
 */
static __always_inline int crd_reuseport_opt(struct bpf_sockopt *ctx, struct bpf_sock *sk)
{
	__u8 *optval = ctx->optval;
	int own;

	if (optval + sizeof(int) > (__u8 *)ctx->optval_end || !*(int *)optval)
		return 1;
	own = crd_port_owner(bpf_htons((__u16)sk->src_port));
	if (own >= -1)
		return 1;
	crd_squatter_event(-2 - own);
	bpf_set_retval(-EPERM);
	return 0;
}

SEC("cgroup/setsockopt")
int crd_setsockopt(struct bpf_sockopt *ctx)
{
	struct bpf_sock *sk = ctx->sk;

	if (ctx->level == SOL_SOCKET) {
		if (ctx->optname == SO_REUSEPORT && sk && sk->src_port)
			return crd_reuseport_opt(ctx, sk);
		return 1;
	}
	if (ctx->level != CONNREDIR_SOL || !sk)
		return 1;
	if (ctx->optname == CONNREDIR_RECORDS)
		return crd_set_records(ctx, sk);
	if (ctx->optname == CONNREDIR_CLAIM)
		return crd_claim(ctx, sk);
	return crd_refuse(ctx, ENOPROTOOPT, CRD_ST_SET_EINVAL);
}
