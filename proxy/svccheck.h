/* SPDX-License-Identifier: MIT */
/*
 * svccheck.h - does a --listen address match the service's --proxy? A
 * proxy listening where its service does not send flows gets none: say so.
 */
#ifndef CONNREDIR_PROXY_SVCCHECK_H
#define CONNREDIR_PROXY_SVCCHECK_H

#include <stdint.h>

#include "parse.h"

/*
 * svccheck_listen - if service @service of instance @instance can be read
 * (its pinned map: root), warn on stderr, one line, when the TCP listener
 * @text (@addr, @port) is none of the service's proxy addresses. Silent
 * when the service cannot be read (the claim reports a missing service).
 */
void svccheck_listen(const char *instance, const char *service, const char *text,
		     const struct crd_ipaddr *addr, uint16_t port);

#endif /* CONNREDIR_PROXY_SVCCHECK_H */
