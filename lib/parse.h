/* SPDX-License-Identifier: MIT */
/*
 * parse.h - parsers for what users type: addresses, endpoints, prefixes,
 * port ranges, numbers and names. Shared by the CLI, the proxy and tests.
 *
 * Every parser returns 0 or -EINVAL / -ERANGE and, on failure, points *why
 * (when why is not NULL) at a static English phrase naming what was wrong,
 * such as "invalid port" or "prefix length out of range (0-32)". The caller
 * prints it with the object and value it concerns. Parsers never print,
 * never allocate and never read past the terminating NUL.
 */
#ifndef CONNREDIR_LIB_PARSE_H
#define CONNREDIR_LIB_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * An IP address kept the way the kernel side matches it: always 16 bytes in
 * network order, an IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 * family says how it was written: AF_INET for dotted quad, AF_INET6 for any
 * IPv6 form (an IPv4-mapped IPv6 literal stays AF_INET6).
 */
struct crd_ipaddr {
	int family;
	uint8_t addr[16];
};

/* 1 if @a holds an IPv4 address (written as one, or IPv4-mapped). */
int crd_ipaddr_is_v4(const struct crd_ipaddr *a);

/* @ss (AF_INET or AF_INET6) as an address and a host-order port. */
void crd_ipaddr_from_sockaddr(const struct sockaddr_storage *ss, struct crd_ipaddr *a,
			      uint16_t *port);

/* @a:@port as a sockaddr: AF_INET if @v4 (@a then holds an IPv4 address),
 * else AF_INET6 (an IPv4 address as ::ffff:a.b.c.d). Returns its length. */
socklen_t crd_ipaddr_to_sockaddr(const struct crd_ipaddr *a, uint16_t port, bool v4,
				 struct sockaddr_storage *ss);

/*
 * crd_parse_addr - "192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * "::ffff:192.0.2.1". No host names, no zone ids, no surrounding spaces.
 */
int crd_parse_addr(const char *s, struct crd_ipaddr *out, const char **why);

/*
 * crd_parse_endpoint - "ADDR:PORT" for IPv4, "[ADDR6]:PORT" for IPv6. The
 * port is decimal, 1-65535, no sign, no leading '+'. *port is host order.
 */
int crd_parse_endpoint(const char *s, struct crd_ipaddr *addr, uint16_t *port,
		       const char **why);

/*
 * crd_parse_prefix - "ADDR/LEN" or a bare ADDR (a host prefix: /32 or /128).
 * LEN is 0-32 for IPv4, 0-128 for IPv6. Bits set beyond LEN are an error
 * ("host bits set"). *plen is returned in the 128-bit space of @addr: an IPv4
 * /8 gives 104 (96 + 8), so one matcher serves both families.
 */
int crd_parse_prefix(const char *s, struct crd_ipaddr *addr, uint8_t *plen,
		     const char **why);

/* 1 if @a is inside the prefix @p/@plen (both in the 128-bit space). */
int crd_prefix_contains(const struct crd_ipaddr *p, uint8_t plen,
			const struct crd_ipaddr *a);

/*
 * crd_parse_port_range - "N" or "N-M", 1 <= N <= M <= 65535, decimal.
 * *lo and *hi are host order.
 */
int crd_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi,
			 const char **why);

/*
 * crd_parse_u64 - a decimal number 0..max, digits only (no sign, no space,
 * no hex, no empty string). -ERANGE above max.
 */
int crd_parse_u64(const char *s, uint64_t max, uint64_t *out, const char **why);

/* crd_parse_i32 - a decimal number with an optional '-', in [min, max]. */
int crd_parse_i32(const char *s, int32_t min, int32_t max, int32_t *out,
		  const char **why);

/*
 * crd_parse_name - a service or instance name: 1 to 31 characters from
 * [A-Za-z0-9_.-], not starting with '.' or '-'.
 */
int crd_parse_name(const char *s, const char **why);

/*
 * crd_format_addr - write @a as text ("192.0.2.1" for an IPv4 or IPv4-mapped
 * address, "2001:db8::1" otherwise) into @buf of @len bytes (46 suffices).
 * Returns @buf, or "?" if @len is too small.
 */
const char *crd_format_addr(const struct crd_ipaddr *a, char *buf, size_t len);

/*
 * crd_format_endpoint - "192.0.2.1:80" or "[2001:db8::1]:80" (@port host
 * order) into @buf of @len bytes (54 suffices). Returns @buf, or "?".
 */
const char *crd_format_endpoint(const struct crd_ipaddr *a, uint16_t port,
				char *buf, size_t len);

#endif /* CONNREDIR_LIB_PARSE_H */
