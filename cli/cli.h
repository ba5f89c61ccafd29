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
#include <stdio.h>

#include "crd_maps.h"

#define CRD_BPFFS "/sys/fs/bpf"
#define CRD_PIN_ROOT CRD_BPFFS "/connredir"
#define CRD_DEFAULT_INSTANCE "default"

/* Global options, set by main() before a command runs. */
extern const char *crd_instance;   /* --instance NAME */
extern bool crd_json;              /* --json (per command) */

/* Print "connredir: <message>\n" to stderr. */
void crd_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* ---- instance.c: the pinned state of one instance ---------------------- */

/* The maps of an attached instance, opened from their pins. */
struct crd_inst {
	char dir[256];      /* CRD_PIN_ROOT/NAME */
	int lock_fd;        /* flock()ed instance directory */
	int svc_fd;         /* crd_svc_v1 */
	int cfg_fd;         /* crd_cfg_v1 */
	int order_fd;       /* crd_order_v1 */
	int stats_fd;       /* crd_stats_v1 */
	int svcst_fd;       /* crd_svcst_v1 */
	int sk_fd;          /* crd_sk_v1 */
	int conn_fd;        /* crd_conn_v1 */
	int pend_fd;        /* crd_pend_v1 */
	int flows_fd;       /* crd_flows_v1 */
	int events_fd;      /* crd_events_v1 */
	int lsn_fd;         /* crd_lsn_v1 */
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

/* Sum a per-CPU counter map entry: @out gets @nvals u64 summed over CPUs. */
int crd_inst_sum_percpu(int map_fd, uint32_t key, uint64_t *out, size_t nvals);

/* Entries of a hash map; of a socket-storage map (through an iterator). */
long crd_map_count_hash(int map_fd, size_t key_size);
long crd_map_count_sk_storage(int map_fd);

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

/* status.c: counter names ("redirected", ...) and state keys for JSON. */
const char *crd_stat_name(unsigned i);
extern const char *const crd_state_keys[4];

/* service.c: one service, as a table row or a JSON object. */
void service_print(FILE *f, const struct crd_service *s, bool json, int slot);

/* ---- json.c: a small JSON writer on stdout ------------------------------ */
void json_str(FILE *f, const char *s);   /* a quoted, escaped string */

/* ---- names.c: what the tables show ------------------------------------- */

/* "1.2.3.4:80" / "[::1]:80" for a v4-mapped address and a network-order port. */
const char *crd_fmt_ep(const __u32 addr[4], __u16 port_be, char *buf, size_t len);
/* The name of service @id among @svcs, or "#ID" in @buf if unknown. */
const char *crd_svc_name(const struct crd_service svcs[CRD_MAX_SERVICES], __u32 id,
			 char *buf, size_t len);
/* CLOCK_MONOTONIC now, in ns. */
__u64 crd_now_ns(void);

#endif /* CONNREDIR_CLI_H */
