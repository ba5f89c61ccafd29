// SPDX-License-Identifier: MIT
/*
 * parse.c - parsers for what users type: addresses, endpoints, prefixes,
 * port ranges, numbers and names. See parse.h for the contract.
 *
 * Decisions worth knowing about:
 *
 * - An IPv4 address is exactly four dot-separated decimal parts 0-255 of
 *   one to three digits with no leading zero: "01.2.3.4" is rejected (as
 *   glibc's and musl's inet_pton do), "0.0.0.0" is fine. None of the
 *   inet_aton shorthands ("10.1", "0x0a.0.0.1", "167772161") are accepted.
 *   The dotted quad is parsed here, not by inet_pton, so the rule does not
 *   depend on the libc.
 * - IPv6 text is limited to [0-9A-Fa-f:.] and handed to inet_pton. An
 *   embedded IPv4 tail ("::ffff:1.2.3.4") follows the libc's rules (glibc
 *   and musl: no leading zeros either). Zone ids ("fe80::1%eth0") are
 *   rejected with their own phrase.
 * - "[ADDR6]" is accepted wherever an address is (crd_parse_addr, the
 *   address of crd_parse_prefix: "[2001:db8::]/32"); a dotted quad inside
 *   brackets is rejected, an IPv4-mapped IPv6 literal inside brackets is not.
 * - Decimal numbers (ports, prefix lengths, crd_parse_u64, crd_parse_i32)
 *   accept leading zeros: "080" is 80, never octal. Signs other than the
 *   '-' of crd_parse_i32 ("+5", "-0" is fine there), spaces, hex and empty
 *   strings are rejected.
 * - Errors are reported in reading order: "99999999999999999999x" is "not
 *   a decimal number" (-EINVAL), not "number out of range".
 * - On failure the output arguments are left untouched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"

/* Longest IPv6 text inet_pton can possibly accept (INET6_ADDRSTRLEN - 1). */
#define ADDR6_TEXT_MAX	45

#define WHY_BAD_ADDR	"invalid IPv4 or IPv6 address"
#define WHY_NO_ADDR	"missing address"
#define WHY_NO_PORT	"missing port"
#define WHY_BAD_PORT	"invalid port"
#define WHY_PORT_RANGE	"port out of range (1-65535)"

static int fail(const char **why, int err, const char *msg)
{
	if (why)
		*why = msg;
	return err;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Decimal digits s[0..n) into *out, at most @max. -EINVAL if empty or not
 * all digits (checked first, over the whole span), -ERANGE above @max.
 */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return -EINVAL;
	for (i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');

		/* v * 10 + d > max, written so that nothing overflows */
		if (d > max || v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Strict dotted quad s[0..n): see the notes at the top. */
static int parse_v4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned int v = 0;
		size_t start;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		start = i;
		while (i < n && is_digit(s[i]) && i - start < 3)
			v = v * 10 + (unsigned int)(s[i++] - '0');
		if (i == start || v > 255)
			return -1;
		if (i - start > 1 && s[start] == '0')
			return -1;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : -1;
}

static void set_v4(struct crd_ipaddr *out, const uint8_t v4[4])
{
	memset(out->addr, 0, 10);
	out->addr[10] = 0xff;
	out->addr[11] = 0xff;
	memcpy(out->addr + 12, v4, 4);
	out->family = AF_INET;
}

/* Address without brackets in s[0..n). */
static int parse_addr_n(const char *s, size_t n, struct crd_ipaddr *out,
			const char **why)
{
	char buf[ADDR6_TEXT_MAX + 1];
	struct in6_addr a6;
	uint8_t v4[4];
	int colon = 0;
	size_t i;

	if (n == 0)
		return fail(why, -EINVAL, WHY_NO_ADDR);
	if (parse_v4(s, n, v4) == 0) {
		set_v4(out, v4);
		return 0;
	}
	if (memchr(s, '%', n))
		return fail(why, -EINVAL, "IPv6 zone id not supported");
	for (i = 0; i < n; i++) {
		if (s[i] == ':')
			colon = 1;
		else if (!is_xdigit(s[i]) && s[i] != '.')
			return fail(why, -EINVAL, WHY_BAD_ADDR);
	}
	if (!colon || n > ADDR6_TEXT_MAX)
		return fail(why, -EINVAL, WHY_BAD_ADDR);
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return fail(why, -EINVAL, WHY_BAD_ADDR);
	memcpy(out->addr, &a6, 16);
	out->family = AF_INET6;
	return 0;
}

/* IPv6 inside brackets, s[0] == '[' and s[n - 1] == ']'. */
static int parse_bracketed(const char *s, size_t n, struct crd_ipaddr *out,
			   const char **why)
{
	struct crd_ipaddr tmp;
	int ret;

	ret = parse_addr_n(s + 1, n - 2, &tmp, why);
	if (ret)
		return ret;
	if (tmp.family != AF_INET6)
		return fail(why, -EINVAL,
			    "brackets are only for IPv6 addresses");
	*out = tmp;
	return 0;
}

/* Address, bracketed or not, filling s[0..n) exactly. */
static int parse_addr_any(const char *s, size_t n, struct crd_ipaddr *out,
			  const char **why)
{
	const char *close;

	if (n == 0 || s[0] != '[')
		return parse_addr_n(s, n, out, why);
	close = memchr(s, ']', n);
	if (!close)
		return fail(why, -EINVAL, "missing closing bracket");
	if (close != s + n - 1)
		return fail(why, -EINVAL, "unexpected text after ']'");
	return parse_bracketed(s, n, out, why);
}

/* Port s[0..n), 1-65535. */
static int parse_port(const char *s, size_t n, uint16_t *out, const char **why)
{
	uint64_t v = 0;
	int ret;

	if (n == 0)
		return fail(why, -EINVAL, WHY_NO_PORT);
	ret = parse_dec(s, n, 65535, &v);
	if (ret == -EINVAL)
		return fail(why, ret, WHY_BAD_PORT);
	if (ret || v == 0)
		return fail(why, -ERANGE, WHY_PORT_RANGE);
	*out = (uint16_t)v;
	return 0;
}

/* Mask of the bits of byte @byte (0-15) that lie within the first @plen. */
static uint8_t byte_mask(unsigned int plen, unsigned int byte)
{
	unsigned int bits;

	if (plen >= 8 * (byte + 1))
		return 0xff;
	if (plen <= 8 * byte)
		return 0;
	bits = plen - 8 * byte;
	return (uint8_t)(0xff << (8 - bits));
}

int crd_ipaddr_is_v4(const struct crd_ipaddr *a)
{
	static const uint8_t mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff,
	};

	return memcmp(a->addr, mapped, sizeof(mapped)) == 0;
}

int crd_parse_addr(const char *s, struct crd_ipaddr *out, const char **why)
{
	return parse_addr_any(s, strlen(s), out, why);
}

int crd_parse_endpoint(const char *s, struct crd_ipaddr *addr, uint16_t *port,
		       const char **why)
{
	struct crd_ipaddr a, tmp;
	const char *first, *last, *p;
	uint16_t pt;
	size_t n = strlen(s);
	int ret;

	if (n == 0)
		return fail(why, -EINVAL, WHY_NO_ADDR);

	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return fail(why, -EINVAL, "missing closing bracket");
		ret = parse_bracketed(s, (size_t)(close - s) + 1, &a, why);
		if (ret)
			return ret;
		p = close + 1;
		if (*p == '\0')
			return fail(why, -EINVAL, WHY_NO_PORT);
		if (*p != ':')
			return fail(why, -EINVAL, "expected ':' after ']'");
		p++;
	} else {
		first = memchr(s, ':', n);
		last = strrchr(s, ':');
		if (!first) {
			if (parse_addr_n(s, n, &tmp, NULL) == 0)
				return fail(why, -EINVAL, WHY_NO_PORT);
			return fail(why, -EINVAL, WHY_BAD_ADDR);
		}
		if (first != last) {
			/*
			 * Two or more colons: either IPv6 without brackets
			 * ("::1:80" is ambiguous, so it is refused) or an
			 * IPv4 address followed by a bad port.
			 */
			if (parse_addr_n(s, (size_t)(first - s), &tmp,
					 NULL) == 0 && tmp.family == AF_INET)
				last = first;
			else if (parse_addr_n(s, n, &tmp, NULL) == 0 ||
				 parse_addr_n(s, (size_t)(last - s), &tmp,
					      NULL) == 0)
				return fail(why, -EINVAL,
					    "IPv6 address must be in brackets");
			else
				return fail(why, -EINVAL, WHY_BAD_ADDR);
		}
		/* One colon left of the port: only IPv4 can be here. */
		ret = parse_addr_n(s, (size_t)(last - s), &a, why);
		if (ret)
			return ret;
		p = last + 1;
	}

	ret = parse_port(p, strlen(p), &pt, why);
	if (ret)
		return ret;
	*addr = a;
	*port = pt;
	return 0;
}

int crd_parse_prefix(const char *s, struct crd_ipaddr *addr, uint8_t *plen,
		     const char **why)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct crd_ipaddr a;
	unsigned int len = 128;
	unsigned int i;
	int ret;

	ret = parse_addr_any(s, alen, &a, why);
	if (ret)
		return ret;

	if (slash) {
		const char *l = slash + 1;
		uint64_t max = a.family == AF_INET ? 32 : 128;
		uint64_t v = 0;

		if (*l == '\0')
			return fail(why, -EINVAL, "missing prefix length");
		ret = parse_dec(l, strlen(l), max, &v);
		if (ret == -EINVAL)
			return fail(why, ret, "invalid prefix length");
		if (ret)
			return fail(why, ret, a.family == AF_INET ?
				    "prefix length out of range (0-32)" :
				    "prefix length out of range (0-128)");
		len = (unsigned int)v + (a.family == AF_INET ? 96 : 0);
	}

	for (i = 0; i < 16; i++)
		if (a.addr[i] & (uint8_t)~byte_mask(len, i))
			return fail(why, -EINVAL, "host bits set");

	*addr = a;
	*plen = (uint8_t)len;
	return 0;
}

int crd_prefix_contains(const struct crd_ipaddr *p, uint8_t plen,
			const struct crd_ipaddr *a)
{
	unsigned int len = plen > 128 ? 128 : plen;
	unsigned int i;

	for (i = 0; i < 16; i++)
		if ((p->addr[i] ^ a->addr[i]) & byte_mask(len, i))
			return 0;
	return 1;
}

int crd_parse_port_range(const char *s, uint16_t *lo, uint16_t *hi,
			 const char **why)
{
	size_t n = strlen(s);
	const char *dash = memchr(s, '-', n);
	uint16_t l, h;
	int ret;

	if (n == 0)
		return fail(why, -EINVAL, WHY_NO_PORT);
	if (!dash) {
		ret = parse_port(s, n, &l, why);
		if (ret)
			return ret;
		*lo = *hi = l;
		return 0;
	}
	if (dash == s)
		return fail(why, -EINVAL, "missing range start");
	if (dash[1] == '\0')
		return fail(why, -EINVAL, "missing range end");
	ret = parse_port(s, (size_t)(dash - s), &l, why);
	if (ret)
		return ret;
	ret = parse_port(dash + 1, strlen(dash + 1), &h, why);
	if (ret)
		return ret;
	if (l > h)
		return fail(why, -EINVAL, "range start above range end");
	*lo = l;
	*hi = h;
	return 0;
}

int crd_parse_u64(const char *s, uint64_t max, uint64_t *out, const char **why)
{
	uint64_t v = 0;
	int ret;

	if (*s == '\0')
		return fail(why, -EINVAL, "missing number");
	ret = parse_dec(s, strlen(s), max, &v);
	if (ret == -EINVAL)
		return fail(why, ret, "not a decimal number");
	if (ret)
		return fail(why, ret, "number out of range");
	*out = v;
	return 0;
}

int crd_parse_i32(const char *s, int32_t min, int32_t max, int32_t *out,
		  const char **why)
{
	int neg = s[0] == '-';
	const char *d = s + neg;
	uint64_t mag = 0;
	int64_t v;
	int ret;

	if (*s == '\0')
		return fail(why, -EINVAL, "missing number");
	ret = parse_dec(d, strlen(d), neg ? (uint64_t)INT32_MAX + 1 :
			(uint64_t)INT32_MAX, &mag);
	if (ret == -EINVAL)
		return fail(why, ret, "not a decimal number");
	if (ret)
		return fail(why, ret, "number out of range");
	v = neg ? -(int64_t)mag : (int64_t)mag;
	if (v < min || v > max)
		return fail(why, -ERANGE, "number out of range");
	*out = (int32_t)v;
	return 0;
}

int crd_parse_name(const char *s, const char **why)
{
	size_t n;

	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (!is_digit(c) && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '_' && c != '.' &&
		    c != '-')
			return fail(why, -EINVAL, "invalid character in name");
	}
	if (n == 0)
		return fail(why, -EINVAL, "empty name");
	if (s[0] == '.' || s[0] == '-')
		return fail(why, -EINVAL,
			    "name must not start with '.' or '-'");
	if (n > 31)
		return fail(why, -ERANGE, "name too long (max 31)");
	return 0;
}

const char *crd_format_addr(const struct crd_ipaddr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];
	size_t n;

	if (crd_ipaddr_is_v4(a)) {
		if (!inet_ntop(AF_INET, a->addr + 12, tmp, sizeof(tmp)))
			return "?";
	} else {
		if (!inet_ntop(AF_INET6, a->addr, tmp, sizeof(tmp)))
			return "?";
	}
	n = strlen(tmp);
	if (!buf || n >= len)
		return "?";
	memcpy(buf, tmp, n + 1);
	return buf;
}

const char *crd_format_endpoint(const struct crd_ipaddr *a, uint16_t port,
				char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	char tmp[INET6_ADDRSTRLEN + 16];
	int n;

	if (crd_format_addr(a, ip, sizeof(ip)) != ip)
		return "?";
	if (crd_ipaddr_is_v4(a))
		n = snprintf(tmp, sizeof(tmp), "%s:%u", ip, (unsigned int)port);
	else
		n = snprintf(tmp, sizeof(tmp), "[%s]:%u", ip,
			     (unsigned int)port);
	if (n < 0 || !buf || (size_t)n >= len)
		return "?";
	memcpy(buf, tmp, (size_t)n + 1);
	return buf;
}

void crd_ipaddr_from_sockaddr(const struct sockaddr_storage *ss, struct crd_ipaddr *a,
			      uint16_t *port)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		a->family = AF_INET;
		a->addr[10] = a->addr[11] = 0xff;
		memcpy(a->addr + 12, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		a->family = AF_INET6;
		memcpy(a->addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
}

socklen_t crd_ipaddr_to_sockaddr(const struct crd_ipaddr *a, uint16_t port, bool v4,
				 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (v4) {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->addr + 12, 4);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
}
