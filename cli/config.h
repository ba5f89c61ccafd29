/* SPDX-License-Identifier: MIT */
/*
 * config.h - connredir.conf(5), the declarative configuration `apply` reads:
 * an [instance] section (which cgroup, the hop limit) and one
 * [service NAME] section per redirect service, with the options of
 * `connredir service add`.
 *
 * Problems are collected with the line they concern, then reported in line
 * order, each once: "connredir: FILE:LINE: service 'av': dport '9-3':
 * range start above range end".
 */
#ifndef CONNREDIR_CLI_CONFIG_H
#define CONNREDIR_CLI_CONFIG_H

#include <stdbool.h>

#include "cli.h"

/* One [service NAME] section. */
struct conf_service {
	struct crd_svc_spec spec;        /* its options, each checked */
	char *cg[2];                     /* owned copies of app-cgroup and
					  * owner-cgroup (spec points at them) */
	unsigned line;                   /* of its [service NAME] line */
	unsigned opt_line[SVC_OPT_MAX];  /* where each option was last given
					  * (0: not given) */
};

/* A problem and the line it concerns. */
struct conf_msg {
	unsigned line;                   /* 0: the file as a whole */
	char *text;
};

struct conf {
	const char *path;                /* the file, for messages */

	/* [instance] */
	unsigned inst_line;              /* of [instance]; 0: no such section */
	char name[CRD_NAME_LEN];         /* name = ("": not given) */
	char *cgroup;                    /* cgroup = (NULL: not given) */
	bool system_wide;                /* system-wide = yes */
	unsigned hop_limit;              /* hop-limit = (default
					  * CRD_DEFAULT_HOP_LIMIT) */
	unsigned name_line, cgroup_line, sw_line, hop_line; /* 0: not given */

	/* nothing but blank lines and comments: no section, no key (then
	 * conf_load() reports no problem; the caller decides) */
	bool empty;

	/* [service NAME]..., in file order */
	struct conf_service svc[CRD_MAX_SERVICES];
	unsigned n_svc;

	/* problems found, not yet reported */
	struct conf_msg *msgs;
	unsigned n_msgs;
};

/*
 * conf_load - read @path into @c and check everything that does not depend
 * on the running system (syntax, sections, keys, values, required options).
 * Returns 0 (problems, if any, are in @c: see conf_report), or -errno if
 * the file cannot be read. conf_free(@c) releases it in any case.
 */
int conf_load(const char *path, struct conf *c);

/* Record a problem at @line (0: the file as a whole). */
void conf_err(struct conf *c, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print the recorded problems in line order (the first CONF_MAX_REPORT,
 * each escaped and cut at CONF_MAX_TEXT characters, then how many more),
 * forget them, and return how many there were. */
#define CONF_MAX_REPORT 5
#define CONF_MAX_TEXT 200
unsigned conf_report(struct conf *c);

void conf_free(struct conf *c);

#endif /* CONNREDIR_CLI_CONFIG_H */
