/* SPDX-License-Identifier: MIT */
/*
 * inspect_block.h - block=RULE rules of the block inspector.
 *
 *   dst:ADDR  dst:PREFIX  dst:ADDR:PORT  dst:PREFIX:PORT[-PORT]
 *   dst:[ADDR6]:PORT  dst:[PREFIX6]:PORT   the original destination
 *   dst:[ADDR6]/LEN:PORT                   (PORT may be a range N-M)
 *   host:NAME  host:*.DOMAIN               the HTTP Host (or absolute-form
 *                                          or CONNECT target) of the request
 *   sni:NAME   sni:*.DOMAIN                the TLS ClientHello's server name
 *   dns:NAME   dns:*.DOMAIN                the question name of a DNS query,
 *                                          the first datagram of a UDP flow
 *
 * Names compare without case and without a trailing dot; "*.DOMAIN"
 * matches every name ending in ".DOMAIN" (not DOMAIN itself).
 */
#ifndef CONNREDIR_PROXY_INSPECT_BLOCK_H
#define CONNREDIR_PROXY_INSPECT_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "parse.h"

#define INSPECT_BLOCK_NAME_MAX 253

enum inspect_block_kind {
	INSPECT_BLOCK_DST,
	INSPECT_BLOCK_HOST,
	INSPECT_BLOCK_SNI,
	INSPECT_BLOCK_DNS,
};

struct inspect_block_rule {
	enum inspect_block_kind kind;
	char text[INSPECT_BLOCK_NAME_MAX + 16];  /* the rule as given */
	/* dst: */
	struct crd_ipaddr addr;
	uint8_t plen;                  /* in the 128-bit space (parse.h) */
	uint16_t port_lo, port_hi;     /* host order; 0-0: any port */
	/* host:, sni:, dns: */
	char name[INSPECT_BLOCK_NAME_MAX + 1];  /* lower case, no trailing dot;
						   ".DOMAIN" for "*.DOMAIN" */
	bool wildcard;
};

/*
 * inspect_block_parse_rule - parse RULE (the text after "block="). Returns
 * 0 or -EINVAL with *why naming the fault.
 */
int inspect_block_parse_rule(const char *s, struct inspect_block_rule *r,
			     const char **why);

/* inspect_block_match_dst - 1 if dst: rule @r covers @a port @port (host order). */
bool inspect_block_match_dst(const struct inspect_block_rule *r,
			     const struct crd_ipaddr *a, uint16_t port);

/*
 * inspect_block_match_name - 1 if host:/sni:/dns: rule @r covers @name, a host
 * name as sent (any case, maybe a trailing dot). An empty name, or one
 * longer than INSPECT_BLOCK_NAME_MAX, never matches.
 */
bool inspect_block_match_name(const struct inspect_block_rule *r, const char *name);

/*
 * inspect_block_host_name - the host name of an HTTP Host value or
 * authority ("Example.COM:8080" -> "example.com"; "[::1]:80" -> "[::1]")
 * into @out of @size bytes. Returns 0, or -EINVAL if it does not fit.
 */
int inspect_block_host_name(const char *host, char *out, size_t size);

#endif /* CONNREDIR_PROXY_INSPECT_BLOCK_H */
