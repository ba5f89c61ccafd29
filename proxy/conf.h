/* SPDX-License-Identifier: MIT */
/*
 * conf.h - connredir-proxy's run-time configuration, as main.c parsed it
 * from the command line. Read-only once the event loop runs.
 */
#ifndef CONNREDIR_PROXY_CONF_H
#define CONNREDIR_PROXY_CONF_H

#include <stdbool.h>
#include <stdint.h>

struct proxy_conf {
	const char *service;        /* --service: the redirect service served */
	const char *instance;       /* --instance: a label, or NULL */
	unsigned max_flows;         /* --max-flows: concurrent flows at most */
	uint64_t peek_timeout_ns;   /* --peek-timeout, 0 = connect at once */
	uint64_t connect_timeout_ns; /* --connect-timeout, > 0 */
	uint64_t idle_timeout_ns;   /* --idle-timeout, 0 = never */
	uint64_t drain_timeout_ns;  /* --drain-timeout: after SIGTERM */
	uint64_t udp_idle_timeout_ns; /* --udp-idle-timeout, > 0 */
	bool no_claim;              /* --no-claim: do not claim the listeners */
	bool copy_only;             /* --copy-only: never splice(2) */
};

#endif /* CONNREDIR_PROXY_CONF_H */
