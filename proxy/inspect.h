/* SPDX-License-Identifier: MIT */
/*
 * inspect.h - the inspector interface of connredir-proxy, and the flows'
 * inspection state.
 *
 * An inspector looks at a flow and gives a verdict: ALLOW, BLOCK (with a
 * reason), or NEED_MORE bytes. --inspect picks the inspectors, in order
 * (log, http, tls, block=RULE). Each flow starts with every inspector's
 * on_start(); those that answered NEED_MORE then see the first bytes of
 * each direction, up to INSPECT_WINDOW bytes per direction, through
 * on_data(). While any inspector still needs bytes, the client's bytes are
 * held by the proxy (not sent on) and every byte is copied through user
 * space; once all have answered, the held bytes go out and the rest of the
 * flow moves with splice(2). The first BLOCK ends the flow: both
 * connections are reset. At the end, on_end() runs for each inspector (the
 * log inspector writes its line there) and log_fields() lets each add its
 * findings to the log line.
 *
 * A UDP flow (f->proto "udp", udp.c) is inspected the same way with one
 * datagram per direction: the first datagram up (last=false, so an
 * inspector may wait for the answer) and then the first one down
 * (last=true). Only a BLOCK matters for it: a blocked flow's datagrams are
 * never sent on.
 *
 * inspect.c keeps the list of configured inspectors (set up once at start)
 * and each flow's per-inspector state and verdicts.
 */
#ifndef CONNREDIR_PROXY_INSPECT_H
#define CONNREDIR_PROXY_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <connredir/connredir.h>
#include "parse.h"

struct json;

/* An inspector sees at most this many bytes of each direction. */
#define INSPECT_WINDOW 16384

/* Directions. */
#define INSPECT_UP   0   /* client -> server: the application's bytes */
#define INSPECT_DOWN 1   /* server -> client */

enum inspect_verdict {
	INSPECT_NEED_MORE = 0,
	INSPECT_ALLOW = 1,
	INSPECT_BLOCK = 2,
};

/*
 * What an inspector may know of a flow. flow.c fills it: the identity
 * fields before on_start(), the counters as the flow goes, the end fields
 * before on_end().
 */
struct inspect_flow {
	const char *service;         /* --service, or NULL */
	const char *proto;           /* "udp" for a UDP flow; NULL: TCP */
	const char *instance;        /* --instance, or NULL */
	bool have_context;           /* ctx came from connredir_query_context() */
	struct connredir_context ctx;
	bool have_records;           /* rec came from the accepted socket */
	struct connredir_records_info rec;
	const char *dst_from;        /* "context", "so_original_dst" or NULL */
	struct crd_ipaddr client;    /* the accepted connection's peer */
	uint16_t client_port;        /* host order */
	bool have_dst;               /* dst is known */
	struct crd_ipaddr dst;       /* the original destination */
	uint16_t dst_port;           /* host order */
	struct timespec start_rt;    /* CLOCK_REALTIME at accept */
	struct timespec end_rt;      /* CLOCK_REALTIME at the end */
	uint64_t start_ns, end_ns;   /* CLOCK_MONOTONIC */
	uint64_t bytes[2];           /* bytes sent on, per direction */
	uint64_t spliced[2];         /* of which moved by splice(2) */
	enum inspect_verdict verdict; /* the flow's verdict so far */
	const char *verdict_by;      /* the inspector that blocked, or NULL */
	const char *reason;          /* its reason, or NULL */
	const char *end;             /* how the flow ended ("closed", ...) */
	int error;                   /* the errno of a failure, or 0 */
	void *priv;                  /* inspect.c's per-flow state */
};

/* An inspector. Every callback may be NULL. */
struct inspector {
	const char *name;       /* as written in --inspect */
	bool takes_arg;         /* written NAME=ARG */
	bool repeatable;        /* may be given again: init() adds to @conf */
	size_t state_size;      /* per-flow state, zeroed at flow start */

	/*
	 * init - take @arg (NULL unless takes_arg). @conf is NULL the first
	 * time; init stores its configuration there, and for a repeatable
	 * inspector gets it back to add to. Returns 0 or -errno with *why set
	 * to a phrase naming what is wrong with @arg.
	 */
	int (*init)(const char *arg, void **conf, const char **why);
	/* fini - free the configuration. */
	void (*fini)(void *conf);
	/*
	 * on_start - a new flow, before the proxy connects onward. Returns a
	 * verdict; for BLOCK, *reason (static or in @conf) says why.
	 */
	enum inspect_verdict (*on_start)(void *conf, void *state,
					 const struct inspect_flow *f,
					 const char **reason);
	/*
	 * on_data - the first @len bytes of direction @dir (INSPECT_UP or
	 * INSPECT_DOWN), always from the flow's first byte (every call gets
	 * all bytes so far: a parser may start over each time). @last: no more
	 * bytes will come this way (end of stream or the window is full);
	 * then NEED_MORE on INSPECT_UP counts as ALLOW. Called only while this
	 * inspector's verdict is NEED_MORE.
	 */
	enum inspect_verdict (*on_data)(void *conf, void *state,
					const struct inspect_flow *f, int dir,
					const uint8_t *data, size_t len, bool last,
					const char **reason);
	/* on_end - the flow ended (every end field of @f is set). */
	void (*on_end)(void *conf, void *state, const struct inspect_flow *f);
	/* log_fields - add this inspector's findings to a flow's log line. */
	void (*log_fields)(void *conf, const void *state, struct json *j);
};

/* The built-in inspectors (inspect_log.c, inspect_http.c, ...). */
extern const struct inspector inspect_log;
extern const struct inspector inspect_http;
extern const struct inspector inspect_tls;
extern const struct inspector inspect_block;
/*
 * The dns inspector (inspect_dns.c). Weak, so that a unit test built from
 * some of the inspectors' sources links without it.
 */
extern const struct inspector inspect_dns __attribute__((weak));

/* ---- configuration (at start) ---- */

/*
 * inspect_add_list - add the inspectors of one --inspect LIST
 * ("log,http,block=host:a.example"). An inspector given twice is an error
 * unless it is repeatable. Returns 0 or -EINVAL with *bad pointing at a
 * static copy of the faulty entry and *why at a phrase.
 */
int inspect_add_list(const char *list, const char **bad, const char **why);

/* inspect_has - 1 if inspector @name is configured. */
bool inspect_has(const char *name);

/* inspect_fini - free every inspector's configuration. */
void inspect_fini(void);

/* ---- per flow ---- */

/*
 * inspect_flow_start - set up @f's inspection state and run every
 * on_start(). Returns the flow's verdict (f->verdict, and for BLOCK
 * f->verdict_by, f->reason), or -ENOMEM.
 */
int inspect_flow_start(struct inspect_flow *f);

/*
 * inspect_flow_data - show the first @len bytes of direction @dir to every
 * inspector that still needs bytes. Returns the flow's verdict (as above).
 */
enum inspect_verdict inspect_flow_data(struct inspect_flow *f, int dir,
				       const uint8_t *data, size_t len, bool last);

/* inspect_flow_log_fields - every inspector's log_fields() for @f. */
void inspect_flow_log_fields(const struct inspect_flow *f, struct json *j);

/*
 * inspect_flow_end - run every on_end() (the log inspector writes the
 * flow's line there) and free @f's inspection state. Called once per flow,
 * also for one whose inspection never started (inspect_flow_start() not
 * run or failed): then only inspectors without per-flow state run.
 */
void inspect_flow_end(struct inspect_flow *f);

#endif /* CONNREDIR_PROXY_INSPECT_H */
