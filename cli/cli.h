/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the connredir CLI's files share.
 *
 * Lower layers return 0 or -errno and print nothing, except through
 * crd_err(), which each command calls once, where the error is found, with
 * the object and the value it concerns.
 */
#ifndef CONNREDIR_CLI_H
#define CONNREDIR_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "crd_maps.h"
#include "escape.h"    /* common/: crd_esc() for strings from outside */
#include "json.h"      /* common/: json_fput_str() */

#define CRD_BPFFS "/sys/fs/bpf"
#define CRD_PIN_ROOT CRD_BPFFS "/connredir"
#define CRD_DEFAULT_INSTANCE "default"

/* Global options, set by main() before a command runs. */
extern const char *crd_instance;   /* --instance NAME */
extern bool crd_json;              /* --json (per command) */
/* The real standard output: stdout goes through the terminal escape
 * (main.c); only what escapes its fields itself and must send terminal
 * codes (events' colours) writes here. */
extern FILE *crd_stdout_raw;
extern bool crd_verbose;           /* --verbose, -v (log.c) */

/* Print "connredir: <message>\n" to stderr. */
void crd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* After a usage error (already said in one line): "connredir: try
 * 'connredir [CMD] --help'" on stderr, instead of the whole help. */
void crd_try_help(const char *cmd);

/* ---- commands: each parses its own options; returns the exit status ---- */
int attach_main(int argc, char **argv);
int detach_main(int argc, char **argv);
int service_main(int argc, char **argv);
int status_main(int argc, char **argv);
int exec_main(int argc, char **argv);
int set_main(int argc, char **argv);
int events_main(int argc, char **argv);
int flows_main(int argc, char **argv);
int stats_main(int argc, char **argv);
int apply_main(int argc, char **argv);
int upgrade_main(int argc, char **argv);

/* The programs attached to an instance's cgroup and their pinned links
 * (attach.c): attach, detach and upgrade go by this table. */
struct crd_link_def {
	const char *prog;   /* program name in connredir.bpf.o */
	const char *link;   /* its link's pin name in the instance directory */
};
extern const struct crd_link_def crd_links[];

extern const size_t crd_n_links;

/* A sentence for errno or libbpf error @err (either sign): libbpf's own
 * codes (LIBBPF_ERRNO__*) too, which strerror() calls "Unknown error". */
const char *crd_bpf_strerror(int err);

/* ---- log.c: libbpf's messages, --verbose notes -------------------------- */

/* libbpf's print callback, set once by main() for every command: warnings
 * only with --verbose or CONNREDIR_DEBUG (2: also libbpf's debug log). */
int crd_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap);
/* "connredir: <message>" on stderr, only with --verbose. */
void crd_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "EPERM" for -EPERM or EPERM. */
const char *crd_errname(int err);
/* One line for a failed load of required programs (@err = -errno): @what,
 * the program libbpf named as refused, the errno and its likely cause. */
void crd_load_failed(const char *what, int err);

/* ---- features.c: optional kernel features -------------------------------- */

enum crd_feature {
	CRD_FEAT_ITER,      /* "bpf_iterators": counting socket-storage maps */
	CRD_FEAT_MAX
};
struct crd_features {
	int err[CRD_FEAT_MAX];   /* 0: available; -errno: off */
	bool forced_off;         /* CONNREDIR_NO_OPTIONAL=1 */
};
/* CONNREDIR_NO_OPTIONAL is set (and not "0"). */
bool crd_no_optional(void);
const char *crd_feature_name(unsigned f);
/* What is missing while feature @f is off ("socket-storage maps are ..."). */
const char *crd_feature_use(unsigned f);
/* Why feature @f is off, into @buf. */
const char *crd_feature_why(const struct crd_features *fs, unsigned f, char *buf,
			    size_t len);
/*
 * crd_features_get - which optional features work for the instance pinned
 * in @dir (@sk_fd: its crd_sk_v3): all off with CONNREDIR_NO_OPTIONAL;
 * else as cached in @dir; else probed quietly now and cached. With
 * --verbose, one line per feature that is off.
 */
void crd_features_get(const char *dir, int sk_fd, struct crd_features *fs);

/* ---- instance.c: the pinned state of one instance ---------------------- */

/* The maps of an attached instance, opened from their pins. */
struct crd_inst {
	char dir[256];      /* CRD_PIN_ROOT/NAME */
	int lock_fd;        /* flock()ed instance directory */
	int svc_fd;         /* crd_svc_v3 */
	int cfg_fd;         /* crd_cfg_v3 */
	int order_fd;       /* crd_order_v3 */
	int stats_fd;       /* crd_stats_v3 */
	int svcst_fd;       /* crd_svcst_v3 */
	int sk_fd;          /* crd_sk_v3 */
	int conn_fd;        /* crd_conn_v3 */
	int pend_fd;        /* crd_pend_v3 */
	int flows_fd;       /* crd_flows_v3 */
	int events_fd;      /* crd_events_v3 */
	int lsn_fd;         /* crd_lsn_v3 */
	int uflows_fd;      /* crd_uflows_v3 */
	int ukey_fd;        /* crd_ukey_v3 */
	int urep_fd;        /* crd_urep_v3 */
	int usk_fd;         /* crd_usk_v3 */
};

/* Path of the pinned instance directory for @name into @buf. */
int crd_inst_dir(const char *name, char *buf, size_t len);

/*
 * crd_inst_open - open the pinned maps of instance @name and lock it
 * (exclusively if @exclusive). -ENOENT: not attached; -EPROTO: made by a
 * build with another map layout.
 */
int crd_inst_open(const char *name, bool exclusive, struct crd_inst *in);
void crd_inst_close(struct crd_inst *in);

int crd_inst_get_config(const struct crd_inst *in, struct crd_config *cfg);
int crd_inst_put_config(const struct crd_inst *in, const struct crd_config *cfg);

/* All services, by slot; slots with id 0 are free. */
int crd_inst_get_services(const struct crd_inst *in,
			  struct crd_service svcs[CRD_MAX_SERVICES]);

/* Write the weight order of @svcs into the inactive order and flip it. */
int crd_inst_publish_order(const struct crd_inst *in,
			   const struct crd_service svcs[CRD_MAX_SERVICES]);

/*
 * crd_inst_read_counters - what status and stats show: the configuration,
 * the services, the live weight order (n clamped), the totals and each
 * slot's counters. 0 or -errno.
 */
int crd_inst_read_counters(const struct crd_inst *in, struct crd_config *cfg,
			   struct crd_service svcs[CRD_MAX_SERVICES], struct crd_order *order,
			   uint64_t totals[CRD_ST_MAX],
			   struct crd_svc_stats ss[CRD_MAX_SERVICES]);

/* Sum a per-CPU counter map entry: @out gets @nvals u64 summed over CPUs. */
int crd_inst_sum_percpu(int map_fd, uint32_t key, uint64_t *out, size_t nvals);

/* The proxy of a service as the kernel sees it (proxycheck.c). */
struct crd_proxy_state {
	bool up;            /* its flows go to a listener of its proxy */
	pid_t pid;          /* the process holding its proxy address (0: none) */
	const char *why;    /* (!up) a sentence for the operator */
};

/*
 * crd_proxy_check - find the socket on service @s's proxy address (in this
 * network namespace), the process that holds it, and whether the kernel
 * takes it as @s's proxy (claimed for it, or bound by its identity). Needs
 * root (pidfd_getfd). Fills @ps.
 */
void crd_proxy_check(const struct crd_inst *in, const struct crd_service svcs[CRD_MAX_SERVICES],
		     const struct crd_service *s, struct crd_proxy_state *ps);

/* ---- mapcount.c: how many entries the per-flow maps hold --------------- */

/* One per-flow map of status: its entry count, or n < 0 and why not. */
struct crd_map_count {
	const char *name;   /* crd_pend_v3, ... */
	bool sk_storage;    /* socket storage: countable only with an iterator */
	long n;             /* >= 0, or -errno: not counted */
	char why[256];      /* n < 0: why not */
};
#define CRD_N_COUNTED_MAPS 8
/* Count the per-flow maps of @in, hash maps by walking their keys,
 * socket-storage maps with an iterator when @fs has one. */
void crd_count_maps(const struct crd_inst *in, const struct crd_features *fs,
		    struct crd_map_count out[CRD_N_COUNTED_MAPS]);

/* ---- cgroup.c: cgroup v2 paths ------------------------------------------ */

/* The cgroup v2 mount point ("/sys/fs/cgroup" or ".../unified"). */
int crd_cg2_root(char *buf, size_t len);

/*
 * crd_cg_resolve - resolve @path (absolute, or relative to @base when @base
 * is not NULL) to a canonical directory inside the v2 hierarchy. When
 * @create, a missing last component under @base is created (*created set).
 * Gives its id (inode), level below the root and canonical path.
 */
int crd_cg_resolve(const char *path, const char *base, bool create,
		   char *canon, size_t len, uint64_t *id, unsigned *level,
		   bool *created, const char **why);

/* Cgroup @id as its path, relative to @base when inside it (@base may be
 * NULL), or "cgroup id N" if it is not found (removed). */
const char *crd_cg_name(const char *base, __u64 id, char *buf, size_t len);

/* status.c: counter names ("redirected", ...) and state keys for JSON. */
const char *crd_stat_name(unsigned i);
extern const char *const crd_state_keys[4];

/* service.c: one service, as a table row or a JSON object. */
void service_print(FILE *f, const struct crd_service *s, bool json, int slot);

/* ---- service.c: building services and putting them in the maps ---------
 * (`service add|del` and `apply`). Functions taking @why point it, on
 * error, at a static phrase the caller prints with the service's name, the
 * option and its value.
 */

/* The options of `service add`, in service_opt_names[] ("proxy", ...). */
enum {
	SVC_OPT_PROXY, SVC_OPT_WEIGHT, SVC_OPT_PROTO, SVC_OPT_DST,
	SVC_OPT_NOT_DST, SVC_OPT_DPORT, SVC_OPT_APP_UID, SVC_OPT_APP_CG,
	SVC_OPT_OWNER_UID, SVC_OPT_OWNER_CG, SVC_OPT_FAIL, SVC_OPT_IMPLICIT, SVC_OPT_MAX
};
extern const char *const service_opt_names[SVC_OPT_MAX];

/* The SVC_OPT_* called @opt (no dashes), or -1. */
int service_opt_index(const char *opt);

/* A service as its options describe it, before its cgroups are resolved. */
struct crd_svc_spec {
	struct crd_service svc;  /* everything but the id and the cgroups */
	const char *app_cg;      /* app-cgroup PATH (the caller's string) */
	const char *owner_cg;    /* owner-cgroup PATH (the caller's string) */
};

/* An empty spec named @name (checked: -EINVAL); proto tcp, weight 0. */
int service_spec_init(struct crd_svc_spec *sp, const char *name, const char **why);

/* Apply option @opt (SVC_OPT_*) with value @arg, as `service add` does:
 * repeatable options (proxy, dst, not-dst, dport) add, others replace. */
int service_spec_opt(struct crd_svc_spec *sp, int opt, const char *arg,
		     const char **why);

/* Options that may be given more than once, and as comma-separated lists
 * (proxy, dst, not-dst, dport). */
bool service_opt_repeatable(int opt);

/*
 * service_spec_opt_list - service_spec_opt() with a value as the command
 * line and the configuration file both take it: for a repeatable option, a
 * comma-separated list ("80, 443, 8000-8099"), each item on its own. On
 * error @item (@len bytes) holds the item that is wrong.
 */
int service_spec_opt_list(struct crd_svc_spec *sp, int opt, const char *arg,
			  char *item, size_t len, const char **why);

/* -EINVAL if a required option is missing; @cli words *why for the
 * command line (--proxy) or for the configuration file (proxy =). */
int service_spec_check(const struct crd_svc_spec *sp, bool cli, const char **why);

/*
 * service_spec_resolve - @out = the service @sp describes (id 0), its
 * cgroup paths resolved, relative ones against @base (the attached cgroup).
 * When @create, a missing plain child of @base is made; otherwise, when
 * @pending is not NULL, it is left at id 0 and *pending set. On error
 * *bad_opt names the option (SVC_OPT_APP_CG or SVC_OPT_OWNER_CG).
 */
int service_spec_resolve(const struct crd_svc_spec *sp, const char *base,
			 bool create, struct crd_service *out, bool *pending,
			 int *bad_opt, const char **why);

/* Slot of service @name in @svcs, or -1; the first free slot, or -1. */
int service_slot(const struct crd_service svcs[CRD_MAX_SERVICES], const char *name);
int service_free_slot(const struct crd_service svcs[CRD_MAX_SERVICES]);

/* Hand out the next service id (ids are never reused); -EOVERFLOW when
 * they are exhausted. */
int service_new_id(const struct crd_inst *in, __u32 *id);

/* Write @s into slot @slot, not in the order yet, with fresh counters
 * (@stats_from < 0) or those of slot @stats_from. */
int service_put(const struct crd_inst *in, __u32 slot, const struct crd_service *s,
		int stats_from);

/* Empty slot @slot; it must be out of the order already. */
int service_clear(const struct crd_inst *in, __u32 slot);

/* The value of option @opt of @s as text ("-" if unset) into @buf. */
const char *service_field(const struct crd_service *s, int opt, char *buf, size_t len);

/* ---- names.c: what the tables show ------------------------------------- */

/* "1.2.3.4:80" / "[::1]:80" for a v4-mapped address and a network-order port. */
const char *crd_fmt_ep(const __u32 addr[4], __u16 port_be, char *buf, size_t len);
/* enum crd_cont: how a hop's connection continued its flow ("app",
 * "records", "implicit-thread", ...), and whether that was implicit. */
const char *crd_cont_name(unsigned cont);
bool crd_cont_implicit(unsigned cont);
/* The name of service @id among @svcs, or "#ID" in @buf if unknown. */
const char *crd_svc_name(const struct crd_service svcs[CRD_MAX_SERVICES], __u32 id,
			 char *buf, size_t len);
/* CLOCK_MONOTONIC now, in ns. */
__u64 crd_now_ns(void);

#endif /* CONNREDIR_CLI_H */
