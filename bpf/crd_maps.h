/* SPDX-License-Identifier: MIT */
/*
 * crd_maps.h - every map and every struct the BPF programs share with user
 * space. Included by bpf/connredir.bpf.c (with vmlinux.h) and by lib/.
 *
 * Byte order: addresses are always 16 bytes in network order, IPv4 as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d), so one matcher serves both families and
 * an AF_INET6 socket connecting to ::ffff:a.b.c.d is treated exactly like an
 * AF_INET socket connecting to a.b.c.d. Ports are network order where the
 * name ends in _be, host order otherwise.
 *
 * Layout version: CRD_LAYOUT_VERSION. Map names carry it ("_v3"); a change to
 * any struct here bumps it, and the CLI refuses to mix layouts.
 */
#ifndef CONNREDIR_BPF_CRD_MAPS_H
#define CONNREDIR_BPF_CRD_MAPS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define CRD_LAYOUT_VERSION 3

/* Overriding CRD_MAX_SERVICES (-D) changes the map layout without renaming
 * the maps: `upgrade` refuses such a build for an instance made with
 * another value (tests/it/14-upgrade.sh builds one to check that). */
#ifndef CRD_MAX_SERVICES
#define CRD_MAX_SERVICES 64   /* service slots */
#endif
/* The decision's skip set is a 64-bit mask and slots are clamped with a
 * mask: CRD_MAX_SERVICES must be a power of two, at most 64. */
_Static_assert(CRD_MAX_SERVICES <= 64 && !(CRD_MAX_SERVICES & (CRD_MAX_SERVICES - 1)),
	       "CRD_MAX_SERVICES must be a power of two <= 64");
#define CRD_MAX_HOPS 16       /* == CONNREDIR_MAX_HOPS */
#define CRD_DEFAULT_HOP_LIMIT 8
#define CRD_MAX_PREFIXES 8    /* per list (--dst, --not-dst) */
#define CRD_MAX_PORTS 8       /* --dport ranges */
#define CRD_CG_LEVELS 8       /* cgroup ancestors kept for app filters */
#define CRD_NAME_LEN 32       /* service name, NUL included */
#define CRD_PATH_LEN 256      /* attached cgroup path, NUL included */

#define CRD_PEND_MAX 65536    /* connecting sockets not yet accepted */
#define CRD_FLOWS_MAX 262144  /* accepted redirected sockets alive */
#define CRD_UFLOWS_MAX 262144 /* UDP flows alive (application socket, dst) */
#define CRD_UDP_PER_SOCK 16   /* UDP flows one unconnected socket keeps; the
			       * least recently used goes when a new one comes */
#define CRD_QUOTA_MAX 65536   /* (kind, cgroup or uid) quota counters */

/* Default per-cgroup and per-uid quotas (crd_config.quota_*): a quarter of
 * the table each, so one cgroup or one uid can never take a table from the
 * others. `connredir quota` changes them per instance. */
#define CRD_DEFAULT_QUOTA_TCP (CRD_PEND_MAX / 4)
#define CRD_DEFAULT_QUOTA_UDP (CRD_UFLOWS_MAX / 4)

/* ---- Services ------------------------------------------------------------ */

/* struct crd_service.flags */
#define CRD_SVC_PROXY4 (1u << 0)     /* proxy4 / proxy4_port_be are set */
#define CRD_SVC_PROXY6 (1u << 1)     /* proxy6 / proxy6_port_be are set */
#define CRD_SVC_APP_UID (1u << 2)    /* filter: original app's uid */
#define CRD_SVC_APP_CG (1u << 3)     /* filter: original app's cgroup subtree */
#define CRD_SVC_OWNER_UID (1u << 4)  /* proxy identity: uid */
#define CRD_SVC_OWNER_CG (1u << 5)   /* proxy identity: cgroup subtree */
#define CRD_SVC_FAIL_OPEN (1u << 6)  /* proxy down: skip the service (else
				      * the connection fails, ECONNREFUSED) */
#define CRD_SVC_IMPLICIT (1u << 7)   /* its proxy sets no records: a connection
				      * of its identity without records continues
				      * from the service's place in the order */

/* struct crd_service.proto_mask */
#define CRD_PROTO_TCP (1u << 0)      /* SOCK_STREAM: TCP, MPTCP, TFO */
#define CRD_PROTO_UDP (1u << 1)

struct crd_prefix {
	__u32 addr[4];   /* network order, bits beyond plen are zero */
	__u8 plen;       /* 0-128, in the IPv6 space (IPv4 /8 is 104) */
	__u8 pad[3];
};

struct crd_port_range {
	__u16 lo;        /* host order, inclusive */
	__u16 hi;        /* host order, inclusive */
};

/* Map crd_svc_v3: array, key = slot (0..CRD_MAX_SERVICES-1). */
struct crd_service {
	__u32 id;                 /* 0: free slot; ids are never reused */
	__s32 weight;             /* higher is offered the flow first */
	char name[CRD_NAME_LEN];  /* unique, NUL-terminated */
	__u32 flags;              /* CRD_SVC_* */
	__u8 proto_mask;          /* CRD_PROTO_* it redirects */
	__u8 n_dst;               /* used entries of dst[] (0: any) */
	__u8 n_not_dst;           /* used entries of not_dst[] */
	__u8 n_ports;             /* used entries of ports[] (0: any) */
	__u8 app_cg_level;        /* level of app_cgid below the v2 root */
	__u8 owner_cg_level;      /* level of owner_cgid below the v2 root */
	__u16 pad;
	__u32 proxy4;             /* proxy listener, IPv4, network order */
	__u32 proxy6[4];          /* proxy listener, IPv6, network order */
	__u16 proxy4_port_be;
	__u16 proxy6_port_be;
	__u32 app_uid;            /* filter (CRD_SVC_APP_UID) */
	__u32 owner_uid;          /* identity (CRD_SVC_OWNER_UID) */
	__u32 pad2;
	__u64 app_cgid;           /* filter (CRD_SVC_APP_CG) */
	__u64 owner_cgid;         /* identity (CRD_SVC_OWNER_CG) */
	struct crd_prefix dst[CRD_MAX_PREFIXES];      /* include (any of) */
	struct crd_prefix not_dst[CRD_MAX_PREFIXES];  /* exclude (none of) */
	struct crd_port_range ports[CRD_MAX_PORTS];   /* destination ports */
};

/* Map crd_cfg_v3: array of one. */
struct crd_config {
	__u32 layout;             /* CRD_LAYOUT_VERSION of who created the maps */
	__u32 hop_limit;          /* redirections after which a flow passes */
	__u32 active_order;       /* which crd_order_v3 entry is live (0/1) */
	__u32 next_id;            /* next service id to hand out */
	__u64 cgroup_id;          /* the attached cgroup */
	__u64 attached_ns;        /* CLOCK_MONOTONIC at attach */
	__u32 events_pid;         /* the `events` reader; 0: none, and the
				   * hooks emit nothing */
	__u32 quota_tcp;          /* TCP application sockets with a live
				   * redirected flow, per cgroup and per uid
				   * (0: CRD_DEFAULT_QUOTA_TCP) */
	__u32 quota_udp;          /* UDP flows of applications, per cgroup and
				   * per uid (0: CRD_DEFAULT_QUOTA_UDP) */
	__u32 pad;
	char cgroup_path[CRD_PATH_LEN]; /* the attached cgroup, for humans */
};

/*
 * Map crd_order_v3: array of two, double-buffered. User space writes the
 * entry that is not active, then flips crd_config.active_order with one
 * 4-byte store, so a connect never reads a half-written order.
 */
struct crd_order {
	__u32 n;                          /* services in slot[] */
	__u32 gen;                        /* bumped at every publication: a
					   * cached UDP flow decided under
					   * another gen is decided again */
	__u32 slot[CRD_MAX_SERVICES];     /* slots, highest weight first */
};

/* ---- Flows ---------------------------------------------------------------- */

struct crd_addr {
	__u32 ip6[4];    /* network order; IPv4 as ::ffff:a.b.c.d */
};

/*
 * A flow's redirect records: the kernel's copy of its history and the
 * original application. Made when a flow is first redirected; every later
 * redirection appends a hop.
 */
struct crd_flow {
	__u64 flow_id;            /* random, the same at every hop */
	__u64 start_ns;           /* first redirection, CLOCK_MONOTONIC */
	__u64 app_cgid;           /* original app's cgroup id */
	__u64 app_cg_anc[CRD_CG_LEVELS]; /* its ancestors by level (0: none) */
	struct crd_addr orig_dst; /* where the application connected */
	struct crd_addr orig_src; /* the application socket's local address */
	__u16 orig_dst_port_be;
	__u16 orig_src_port_be;
	__u32 app_pid;            /* tgid */
	__u32 app_uid;
	__u32 app_gid;
	char app_comm[16];
	__u8 proto;               /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 orig_family;         /* AF_INET / AF_INET6 of orig_dst's form */
	__u8 nhops;               /* used entries of hops[] */
	__u8 flags;               /* CRD_FF_* */
	__u16 hops[CRD_MAX_HOPS]; /* service ids, oldest first */
	__u32 hop_us[CRD_MAX_HOPS]; /* µs from start_ns to each redirection */
	__u32 cont[CRD_MAX_HOPS / 8]; /* how the connection that made hop i
				   * continued the flow: 4 bits per hop,
				   * enum crd_cont (crd_flow_cont()) */
};

/* crd_flow.flags */
#define CRD_FF_TO_IMPLICIT (1u << 0) /* the last hop's service is --implicit:
				      * its proxy's accept queues the flow in
				      * crd_impq_v3 */
#define CRD_FF_CONTINUED (1u << 1)   /* an implicit continuation claimed it:
				      * never continued implicitly again */
/* crd_flow_entry.consumer of an entry being deleted: nobody can claim it. */
#define CRD_CONSUMER_DEAD (~0ULL)

/*
 * How a redirected connection continued its flow's history: the reason
 * behind each hop, shown by `flows` and `events`. A proxy of an --implicit
 * service sets no records; its connection continues the flow it accepted,
 * found by the rule in docs/DESIGN.md ("Implicit records").
 */
enum crd_cont {
	CRD_CONT_APP = 0,         /* first hop: the application's connection */
	CRD_CONT_RECORDS,         /* the proxy set the records (set-records) */
	CRD_CONT_THREAD,          /* implicit: the flow whose SO_ORIGINAL_DST the
				   * connecting thread read last */
	CRD_CONT_FIFO,            /* implicit: the oldest flow the service
				   * accepted for this destination */
	CRD_CONT_POSITION,        /* implicit, no flow found: new history that
				   * starts at the service's place in the order */
	CRD_CONT_RECORDLESS,      /* a (not --implicit) service's proxy set no
				   * records: new history that starts with its
				   * service */
};

static inline unsigned crd_flow_cont(const __u32 *cont, unsigned hop)
{
	return (cont[(hop / 8) & (CRD_MAX_HOPS / 8 - 1)] >> ((hop % 8) * 4)) & 0xf;
}

/*
 * Maps crd_pend_v3 (key struct crd_tuple: a connecting application socket,
 * written when its SYN leaves) and crd_flows_v3 (key: a random token, one per
 * accepted redirected socket, deleted when it closes).
 */
struct crd_flow_entry {
	struct crd_flow flow;
	__u64 consumer;           /* crd_sk.consumer_id of the socket the records
				   * were set on; 0: not set on any live socket;
				   * CRD_CONSUMER_DEAD: being deleted */
	__u32 orphan;             /* its owner (accepted socket, application UDP
				   * socket) is gone while a consumer still
				   * continues it: the consumer's release
				   * deletes it (crd_flow_drop) */
	__u32 pad;
};

/* A TCP 4-tuple as the connecting side sees it, in its network namespace:
 * a socket in another namespace that builds the same 4-tuple never matches. */
struct crd_tuple {
	__u64 netns;              /* network namespace cookie */
	struct crd_addr src;      /* application socket's local address */
	struct crd_addr dst;      /* the proxy listener it connects to */
	__u16 sport;              /* host order */
	__u16 dport;              /* host order */
	__u32 pad;
};

/* crd_sk.flags */
#define CRD_SKF_PUBLISHED (1u << 0)  /* tuple is a key in crd_pend_v3 */
#define CRD_SKF_QUOTA (1u << 1)      /* application socket: holds one TCP
				      * quota unit of q_cgid and q_uid */
#define CRD_SKF_HAD_RECORDS (1u << 2) /* outbound socket: continued a flow
				      * once; connecting again without its
				      * records is refused, never decided as
				      * a socket without records */
#define CRD_SKF_RELEASED (1u << 3)   /* application socket released while
				      * its crd_pend_v3 entry lives: the quota
				      * unit goes at TCP_CLOSE */

/*
 * Tokens: a TCP flow's token is a random key of crd_flows_v3; a UDP flow's
 * is CRD_TOKEN_UDP | its handle (key of crd_uflows_v3).
 */
#define CRD_TOKEN_UDP (1ULL << 63)
#define CRD_HANDLE_MASK 0xffffffu     /* UDP handles are 24 bits */

/* Socket-local storage crd_sk_v3: what connredir knows of a socket. */
struct crd_sk {
	__u64 token;              /* accepted socket: its key in crd_flows_v3 */
	__u64 used_token;         /* outbound socket: the flow it continues */
	__u64 consumer_id;        /* outbound socket: its claim on used_token */
	__u64 urep_cookie;        /* UDP proxy socket: the crd_urep_v3 entry it */
	__u32 urep_port;          /*  made replying to an application (port 0:
				   *  none), removed when it is released */
	__u32 cont;               /* outbound socket: how it continues used_token
				   * (enum crd_cont: RECORDS, THREAD, FIFO) */
	struct crd_tuple tuple;   /* connecting socket: its crd_pend_v3 key */
	__u32 flags;              /* CRD_SKF_* */
	__u32 q_uid;              /* (CRD_SKF_QUOTA) the uid charged */
	__u64 q_cgid;             /* (CRD_SKF_QUOTA) the cgroup charged */
};

/*
 * Socket-local storage crd_lsn_v3: who bound a socket (a would-be proxy
 * listener), recorded at bind(2). A service's flows go only to a listener
 * bound by its proxy identity, or claimed for it with CONNREDIR_CLAIM, so
 * the order in which proxies start and services are added does not matter.
 */
struct crd_lsn {
	__u64 cg_anc[CRD_CG_LEVELS]; /* binder's cgroup ancestors by level */
	__u32 uid;                /* binder's uid */
	__u32 claim_id;           /* service that claimed it (0: none) */
};
/* crd_lsn_v3 is cloned (BPF_F_CLONE) to the sockets a listener accepts, so
 * the accepted socket knows whose listener took it. */

/*
 * Socket-local storage crd_conn_v3: struct crd_flow_entry (consumer 0), the
 * records of a socket whose connect() was just redirected, kept only until
 * its SYN leaves (then moved to crd_pend_v3).
 */

/*
 * Implicit records (TCP). Map crd_impq_v3: per (service, original
 * destination), the flows an --implicit service's proxy accepted and has not
 * continued yet, oldest first; a ring of CRD_IMPQ_LEN tokens (the oldest is
 * overwritten when full). Map crd_hint_v3: per thread (pid_tgid), the flow
 * whose SO_ORIGINAL_DST it read last.
 */
#define CRD_IMPQ_LEN 16
#define CRD_IMPQ_MAX 16384    /* (service, destination) queues */
#define CRD_HINT_MAX 16384    /* threads */

struct crd_impq_key {
	__u32 svc_id;
	__u32 dst[4];             /* original destination, v4-mapped */
	__u16 dport_be;
	__u16 pad;
};

struct crd_impq {
	__u64 head;               /* next to take (free-running) */
	__u64 tail;               /* next free (free-running) */
	__u64 token[CRD_IMPQ_LEN]; /* crd_flows_v3 keys */
};

struct crd_hint {
	__u64 token;              /* crd_flows_v3 key */
	__u32 svc_id;             /* the service that accepted it */
	__u32 pad;
};

/* ---- UDP flows ---------------------------------------------------------- */

/*
 * A UDP flow is (application socket, original destination). Unconnected
 * sockets get a flow per destination (found again through crd_ukey_v3);
 * a connected socket has one. Datagrams of a flow reach the proxy tagged
 * with CRD_MARK(handle) in skb->mark (set by the egress program), which the
 * proxy reads with SO_RCVMARK and turns into records and context with
 * getsockopt(CONNREDIR_SOL, CONNREDIR_UDP_OPT(what, handle)).
 */
#define CRD_MARK_TAG 0xcd000000u
#define CRD_MARK(h) (CRD_MARK_TAG | ((h) & CRD_HANDLE_MASK))

/* crd_uflow.flags */
#define CRD_UF_CONNECTED (1u << 0)  /* the application socket is connected:
				     * replies must come from the proxy's
				     * listener address */

/* Map crd_uflows_v3: key __u32 handle. */
struct crd_uflow {
	struct crd_flow_entry e;  /* records, and the set-records claim */
	__u64 app_cookie;         /* the application socket */
	__u64 last_ns;            /* last datagram sent, CLOCK_MONOTONIC */
	__u32 proxy[4];           /* where its datagrams go (v4-mapped) */
	__u32 hop_src[4];         /* who sends them: the application, or the
				   * previous proxy's per-flow socket */
	__u16 proxy_port_be;
	__u16 hop_src_port_be;    /* 0 until known (the socket binds on its
				   * first send) */
	__u16 flags;              /* CRD_UF_* */
	__u16 slot;               /* the service that took it (crd_svc_v3
				   * slot): its later datagrams go on only
				   * while that service and its proxy live */
	__u32 gen;                /* crd_order.gen it was decided under */
	__u32 pad;
};

/* crd_uflow.flags */
#define CRD_UF_QUOTA (1u << 1)      /* charged to the application's cgroup
				     * and uid (crd_quota_v3) */

/* Map crd_ukey_v3: (application socket, destination) -> handle. */
struct crd_ukey {
	__u64 app_cookie;
	__u32 dst[4];             /* original destination, v4-mapped */
	__u16 dport_be;
	__u16 pad;
	__u32 pad2;
};

/* Socket-local storage crd_usk_v3: an application UDP socket's flows. */
struct crd_usk {
	__u32 handles[CRD_UDP_PER_SOCK]; /* 0: free */
	__u32 connected;          /* handle of its flow when connected */
	__u32 evicted;            /* a flow of it went before the socket
				   * (CRD_UDP_PER_SOCK, a dead proxy): a reply
				   * from a proxy's listening socket may be
				   * that flow's, so none is attributed by
				   * proxy address alone any more */
};

/*
 * Map crd_upend_v3: LRU hash, key = the sending thread (pid_tgid): the flow
 * its datagram being sent belongs to. The sendmsg hook writes it, the egress
 * program of the same datagram reads and clears it. Both run in the sending
 * thread, one after the other (udp_sendmsg -> ip_finish_output), so threads
 * sharing one socket never see each other's handle. Per thread and not per
 * CPU: the thread may sleep (allocating the skb) and move to another CPU in
 * between.
 */
#define CRD_UPEND_MAX 16384   /* threads in the middle of a send */
#define CRD_PENDING_NONE 0x80000000u  /* not a handle (24 bits): the
				       * datagram belongs to no flow */
struct crd_upend {
	__u64 app_cookie;         /* the sending socket (0: used up) */
	__u32 handle;             /* its flow, or CRD_PENDING_NONE */
	__u32 pad;
};

/*
 * Map crd_urep_v3: replies to an unconnected application socket. A proxy
 * answers each flow from its own per-flow socket; the application's recvmsg
 * hook finds the flow by (application socket, the proxy socket's port) and
 * shows the reply as coming from the original destination.
 */
struct crd_urep_key {
	__u64 app_cookie;
	__u32 port;               /* the proxy socket's local port, host order */
	__u32 pad;
};
struct crd_urep {
	__u32 dst[4];             /* original destination, v4-mapped */
	__u16 dport_be;
	__u16 pad;
	__u32 handle;
};

/* The records blob handed to proxies (opaque to them). */
#define CRD_BLOB_MAGIC 0x52445243u   /* "CRDR" little-endian */
#define CRD_BLOB_VERSION 1
struct crd_blob {
	__u32 magic;              /* CRD_BLOB_MAGIC */
	__u16 version;            /* CRD_BLOB_VERSION */
	__u16 size;               /* sizeof(struct crd_blob) */
	__u64 token;              /* the live flow it was read from */
	__u64 flow_id;            /* must match the kernel's copy */
	__u8 nhops;               /* must match the kernel's copy */
	__u8 pad[7];
	__u16 hops[CRD_MAX_HOPS]; /* must match the kernel's copy */
};

/* ---- Quotas --------------------------------------------------------------- */

/* Map crd_quota_v3: how much of each bounded table a cgroup or uid holds. */
enum crd_qkind {
	CRD_Q_TCP_CG = 1,         /* TCP application sockets, by cgroup id */
	CRD_Q_TCP_UID,            /* TCP application sockets, by uid */
	CRD_Q_UDP_CG,             /* UDP flows, by cgroup id */
	CRD_Q_UDP_UID,            /* UDP flows, by uid */
};
struct crd_qkey {
	__u64 id;                 /* cgroup id or uid */
	__u32 kind;               /* enum crd_qkind */
	__u32 pad;
};

/* ---- Counters ------------------------------------------------------------- */

/* Map crd_stats_v3: per-CPU array of one struct crd_stats. */
enum crd_stat {
	CRD_ST_CONNECT = 0,       /* connects seen by the hooks */
	CRD_ST_REDIRECTED,        /* connects redirected */
	CRD_ST_TO_LISTENER,       /* passed: destination is a service listener */
	CRD_ST_HOP_GUARD,         /* passed: hop guard tripped */
	CRD_ST_NO_STORAGE,        /* passed: no memory for the records */
	CRD_ST_PEND_FULL,         /* records not published: crd_pend_v3 full */
	CRD_ST_FLOWS_FULL,        /* records lost at accept: crd_flows_v3 full */
	CRD_ST_ACCEPTED,          /* redirected connections accepted by a proxy */
	CRD_ST_SET_OK,            /* set-records accepted */
	CRD_ST_SET_EINVAL,        /* set-records refused: bad blob */
	CRD_ST_SET_EACCES,        /* set-records refused: not the proxy */
	CRD_ST_FAIL_OPEN,         /* service skipped: its proxy is down */
	CRD_ST_FAIL_CLOSED,       /* connection refused: its proxy is down */
	CRD_ST_EVENTS_LOST,       /* events the ring buffer had no room for */
	CRD_ST_REFUSED_NO_STATE,  /* refused (fail closed): the state the flow
				   * needs could not be made or found */
	CRD_ST_BYPASS_NO_STATE,   /* went direct (fail open), same reason */
	CRD_ST_QUOTA,             /* refused: the cgroup or uid is at its quota */
	CRD_ST_SQUATTER,          /* bind or SO_REUSEPORT refused: would share
				   * a service's proxy port */
	CRD_ST_ADOPT_REFUSED,     /* accepted socket not given records: its
				   * listener is not the flow's proxy */
	CRD_ST_UDP_UNTRANSLATED,  /* a UDP reply from a proxy's listening
				   * socket to an unconnected application
				   * socket that has several flows through
				   * that proxy: delivered with the proxy's
				   * address (never a guessed destination) */
	CRD_ST_MAX
};
struct crd_stats {
	__u64 c[CRD_ST_MAX];
};

/* Map crd_svcst_v3: per-CPU array, key = slot. */
struct crd_svc_stats {
	__u64 redirected;         /* flows this service took */
	__u64 passed[4];          /* filter matched, passed, by state */
	__u64 hop_guard;          /* would have taken it, hop guard said no */
	__u64 fail_open;          /* skipped: proxy down, --fail open */
	__u64 fail_closed;        /* refused: proxy down, --fail closed */
	__u64 set_refused;        /* set-records refused on its flows */
	__u64 refused_no_state;   /* refused (fail closed): no state */
	__u64 bypass_no_state;    /* went direct (fail open): no state */
	__u64 quota;              /* refused: application at its quota */
};

/* ---- Events --------------------------------------------------------------- */

/* Ring buffer crd_events_v3 carries struct crd_event, only while a reader
 * has registered in crd_config.events_pid. */
enum crd_event_kind {
	CRD_EV_REDIRECTED = 1,    /* service took the flow; state: from which */
	CRD_EV_PASSED,            /* matched services all passed; state: why */
	CRD_EV_HOP_GUARD,         /* service would have taken it: hop limit */
	CRD_EV_PROXY_DOWN,        /* service skipped (fail open): no listener */
	CRD_EV_FAIL_CLOSED,       /* connection refused (fail closed) */
	CRD_EV_SET_REFUSED,       /* set-records refused; err: the errno */
	CRD_EV_NO_STATE,          /* state could not be made or found; err:
				   * ECONNREFUSED (refused, fail closed) or 0
				   * (went direct, fail open) */
	CRD_EV_QUOTA,             /* refused: cgroup (cgroup_id) or uid at its
				   * quota; err: EDQUOT */
	CRD_EV_SQUATTER,          /* bind / SO_REUSEPORT on a service's proxy
				   * port refused; err: EPERM */
};

struct crd_event {
	__u64 ts_ns;              /* CLOCK_MONOTONIC */
	__u64 flow_id;            /* 0 if the flow has no records yet */
	__u32 kind;               /* enum crd_event_kind */
	__u32 service_id;         /* the service concerned (0: none) */
	__u32 state;              /* enum connredir_state */
	__s32 err;                /* errno (SET_REFUSED, FAIL_CLOSED) */
	__u32 app_pid;            /* original application (or the caller, */
	__u32 app_uid;            /*  for SET_REFUSED) */
	__u32 caller_pid;         /* the process in the hook */
	__u8 proto;               /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 nhops;               /* history length before this decision */
	__u16 dport_be;           /* original destination port */
	__u32 dst[4];             /* original destination, v4-mapped */
	char comm[16];            /* original application's command */
	__u16 hops[CRD_MAX_HOPS]; /* history before this decision */
	__u32 cont;               /* enum crd_cont: how this connection
				   * continued the history (REDIRECTED,
				   * PASSED, ...) */
	__u32 pad;
	__u64 cgroup_id;          /* the caller's cgroup (QUOTA, SQUATTER) */
};

#endif /* CONNREDIR_BPF_CRD_MAPS_H */
