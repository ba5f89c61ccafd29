// SPDX-License-Identifier: MIT
/*
 * test_parse.c - table-driven unit tests for lib/parse.c.
 *
 * Every input is copied into a heap buffer of exactly strlen + 1 bytes
 * before it is parsed, so that AddressSanitizer (or valgrind) catches a
 * parser reading past the terminating NUL.
 *
 * Expected addresses are written as IPv6 text and converted with the libc's
 * inet_pton, independently of the parser under test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"
#include "unit.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define UNSET		"(why not set)"

static char *dup_exact(const char *s)
{
	char *p = strdup(s);

	if (!p) {
		perror("strdup");
		exit(2);
	}
	return p;
}

/* The 16-byte form of an IPv6 text, via the libc. */
static struct crd_ipaddr ip6(const char *text)
{
	struct crd_ipaddr a = { .family = AF_INET6 };

	if (inet_pton(AF_INET6, text, a.addr) != 1) {
		fprintf(stderr, "bad expected address in test: %s\n", text);
		exit(2);
	}
	return a;
}

static const char *errname(int e)
{
	switch (e) {
	case 0:		return "0";
	case -EINVAL:	return "-EINVAL";
	case -ERANGE:	return "-ERANGE";
	default:	return "other";
	}
}

/* The checks common to every failing row: return code and *why. */
static void check_fail(const char *fn, const char *in, int ret, int want,
		       const char *why, const char *want_why)
{
	CHECK_EQ_INT(ret, want, "%s(\"%s\") returns %s", fn, in,
		     errname(want));
	CHECK_EQ_STR(why, want_why, "%s(\"%s\") sets why", fn, in);
}

/* ---------------------------------------------------------------- addr */

static const struct addr_case {
	const char *in;
	int ret;
	int family;
	const char *want;	/* IPv6 text of the expected 16 bytes, or why */
} addr_cases[] = {
	{ "192.0.2.1",		0, AF_INET,  "::ffff:192.0.2.1" },
	{ "0.0.0.0",		0, AF_INET,  "::ffff:0.0.0.0" },
	{ "255.255.255.255",	0, AF_INET,  "::ffff:255.255.255.255" },
	{ "10.0.0.1",		0, AF_INET,  "::ffff:10.0.0.1" },
	{ "2001:db8::1",	0, AF_INET6, "2001:db8::1" },
	{ "2001:DB8::A",	0, AF_INET6, "2001:db8::a" },
	{ "::",			0, AF_INET6, "::" },
	{ "::1",		0, AF_INET6, "::1" },
	{ "1:2:3:4:5:6:7:8",	0, AF_INET6, "1:2:3:4:5:6:7:8" },
	{ "fe80::1",		0, AF_INET6, "fe80::1" },
	{ "[2001:db8::1]",	0, AF_INET6, "2001:db8::1" },
	{ "::ffff:1.2.3.4",	0, AF_INET6, "::ffff:1.2.3.4" },
	{ "[::ffff:1.2.3.4]",	0, AF_INET6, "::ffff:1.2.3.4" },
	{ "::1.2.3.4",		0, AF_INET6, "::1.2.3.4" },
	{ "",			-EINVAL, 0, "missing address" },
	{ " 1.2.3.4",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.4 ",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.4\n",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "01.2.3.4",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.00",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.4.5",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.4.",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "256.1.1.1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1000.1.1.1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1..2.3",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "+1.2.3.4",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.-4",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "10.1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "0x0a.0.0.1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "167772161",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "localhost",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1.2.3.4/8",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1:2:3:4:5:6:7:8:9",	-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "1::2::3",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "gggg::1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "12345::1",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "::ffff:01.2.3.4",	-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "2001:db8::1 ",	-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "::1]",		-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "0000:0000:0000:0000:0000:0000:0000:0000:0000",
				-EINVAL, 0, "invalid IPv4 or IPv6 address" },
	{ "fe80::1%eth0",	-EINVAL, 0, "IPv6 zone id not supported" },
	{ "[fe80::1%1]",	-EINVAL, 0, "IPv6 zone id not supported" },
	{ "[::1",		-EINVAL, 0, "missing closing bracket" },
	{ "[",			-EINVAL, 0, "missing closing bracket" },
	{ "[]",			-EINVAL, 0, "missing address" },
	{ "[::1]x",		-EINVAL, 0, "unexpected text after ']'" },
	{ "[::1]]",		-EINVAL, 0, "unexpected text after ']'" },
	{ "[1.2.3.4]",		-EINVAL, 0, "brackets are only for IPv6 addresses" },
};

static void test_addr(void)
{
	size_t i;

	UNIT_TEST("parse_addr");
	for (i = 0; i < ARRAY_SIZE(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		struct crd_ipaddr a;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_addr(in, &a, &why);

		if (c->ret) {
			check_fail("crd_parse_addr", c->in, ret, c->ret, why,
				   c->want);
		} else if (CHECK_EQ_INT(ret, 0, "crd_parse_addr(\"%s\") ok",
					c->in)) {
			struct crd_ipaddr w = ip6(c->want);

			CHECK(a.family == c->family &&
			      !memcmp(a.addr, w.addr, 16),
			      "crd_parse_addr(\"%s\") is %s, family %s", c->in,
			      c->want, c->family == AF_INET ? "AF_INET" :
			      "AF_INET6");
		}
		free(in);
	}

	/* IPv4-mapped literal: written as IPv6, but it is an IPv4 address. */
	{
		struct crd_ipaddr a = { 0 };

		crd_parse_addr("::ffff:1.2.3.4", &a, NULL);
		CHECK(a.family == AF_INET6 && crd_ipaddr_is_v4(&a),
		      "::ffff:1.2.3.4 is AF_INET6 and crd_ipaddr_is_v4");
		crd_parse_addr("1.2.3.4", &a, NULL);
		CHECK(a.family == AF_INET && crd_ipaddr_is_v4(&a),
		      "1.2.3.4 is AF_INET and crd_ipaddr_is_v4");
		crd_parse_addr("::1.2.3.4", &a, NULL);
		CHECK(!crd_ipaddr_is_v4(&a), "::1.2.3.4 is not IPv4");
		crd_parse_addr("::ffff:0:1.2.3.4", &a, NULL);
		CHECK(!crd_ipaddr_is_v4(&a), "::ffff:0:1.2.3.4 is not IPv4");
		crd_parse_addr("2001:db8::1", &a, NULL);
		CHECK(!crd_ipaddr_is_v4(&a), "2001:db8::1 is not IPv4");
	}

	/* A failed parse leaves the output alone; why == NULL is allowed. */
	{
		struct crd_ipaddr a, before;

		memset(&a, 0x5a, sizeof(a));
		before = a;
		CHECK_EQ_INT(crd_parse_addr("1.2.3.256", &a, NULL), -EINVAL,
			     "crd_parse_addr fails with why == NULL");
		CHECK(!memcmp(&a, &before, sizeof(a)),
		      "crd_parse_addr leaves *out alone on failure");
	}
}

/* ------------------------------------------------------------ endpoint */

static const struct ep_case {
	const char *in;
	int ret;
	const char *want;	/* IPv6 text of the address, or why */
	uint16_t port;
	int family;
} ep_cases[] = {
	{ "192.0.2.1:80",	0, "::ffff:192.0.2.1", 80, AF_INET },
	{ "1.2.3.4:1",		0, "::ffff:1.2.3.4", 1, AF_INET },
	{ "1.2.3.4:65535",	0, "::ffff:1.2.3.4", 65535, AF_INET },
	{ "1.2.3.4:080",	0, "::ffff:1.2.3.4", 80, AF_INET },
	{ "0.0.0.0:8080",	0, "::ffff:0.0.0.0", 8080, AF_INET },
	{ "[2001:db8::1]:443",	0, "2001:db8::1", 443, AF_INET6 },
	{ "[::]:1",		0, "::", 1, AF_INET6 },
	{ "[::ffff:1.2.3.4]:80", 0, "::ffff:1.2.3.4", 80, AF_INET6 },
	{ "",			-EINVAL, "missing address", 0, 0 },
	{ ":80",		-EINVAL, "missing address", 0, 0 },
	{ "1.2.3.4",		-EINVAL, "missing port", 0, 0 },
	{ "1.2.3.4:",		-EINVAL, "missing port", 0, 0 },
	{ "1.2.3.4:0",		-ERANGE, "port out of range (1-65535)", 0, 0 },
	{ "1.2.3.4:00000",	-ERANGE, "port out of range (1-65535)", 0, 0 },
	{ "1.2.3.4:65536",	-ERANGE, "port out of range (1-65535)", 0, 0 },
	{ "1.2.3.4:18446744073709551616",
				-ERANGE, "port out of range (1-65535)", 0, 0 },
	{ "1.2.3.4:+80",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4:-80",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4: 80",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4:80 ",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4:80x",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4:0x50",	-EINVAL, "invalid port", 0, 0 },
	{ "1.2.3.4:80:90",	-EINVAL, "invalid port", 0, 0 },
	{ "::1:80",		-EINVAL, "IPv6 address must be in brackets", 0, 0 },
	{ "2001:db8::1:443",	-EINVAL, "IPv6 address must be in brackets", 0, 0 },
	{ "::1",		-EINVAL, "IPv6 address must be in brackets", 0, 0 },
	{ "fe80::1%eth0:80",	-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ "host:80",		-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ "01.2.3.4:80",	-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ " 1.2.3.4:80",	-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ "80",			-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ "[::1",		-EINVAL, "missing closing bracket", 0, 0 },
	{ "[::1:80",		-EINVAL, "missing closing bracket", 0, 0 },
	{ "[::1]",		-EINVAL, "missing port", 0, 0 },
	{ "[::1]:",		-EINVAL, "missing port", 0, 0 },
	{ "[::1]80",		-EINVAL, "expected ':' after ']'", 0, 0 },
	{ "[::1]:0",		-ERANGE, "port out of range (1-65535)", 0, 0 },
	{ "[::1]:http",		-EINVAL, "invalid port", 0, 0 },
	{ "[]:80",		-EINVAL, "missing address", 0, 0 },
	{ "[1.2.3.4]:80",	-EINVAL, "brackets are only for IPv6 addresses", 0, 0 },
	{ "[fe80::1%eth0]:80",	-EINVAL, "IPv6 zone id not supported", 0, 0 },
};

static void test_endpoint(void)
{
	size_t i;

	UNIT_TEST("parse_endpoint");
	for (i = 0; i < ARRAY_SIZE(ep_cases); i++) {
		const struct ep_case *c = &ep_cases[i];
		struct crd_ipaddr a;
		uint16_t port = 0;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_endpoint(in, &a, &port, &why);

		if (c->ret) {
			check_fail("crd_parse_endpoint", c->in, ret, c->ret,
				   why, c->want);
		} else if (CHECK_EQ_INT(ret, 0, "crd_parse_endpoint(\"%s\") ok",
					c->in)) {
			struct crd_ipaddr w = ip6(c->want);

			CHECK(a.family == c->family &&
			      !memcmp(a.addr, w.addr, 16) && port == c->port,
			      "crd_parse_endpoint(\"%s\") is %s port %u",
			      c->in, c->want, c->port);
		}
		free(in);
	}

	{
		struct crd_ipaddr a;
		uint16_t port = 4242;

		memset(&a, 0x5a, sizeof(a));
		CHECK_EQ_INT(crd_parse_endpoint("1.2.3.4:0", &a, &port, NULL),
			     -ERANGE, "crd_parse_endpoint fails with why NULL");
		CHECK(port == 4242 && a.addr[0] == 0x5a,
		      "crd_parse_endpoint leaves outputs alone on failure");
	}
}

/* -------------------------------------------------------------- prefix */

static const struct prefix_case {
	const char *in;
	int ret;
	const char *want;	/* IPv6 text of the address, or why */
	uint8_t plen;
	int family;
} prefix_cases[] = {
	{ "10.0.0.0/8",		0, "::ffff:10.0.0.0", 104, AF_INET },
	{ "0.0.0.0/0",		0, "::ffff:0.0.0.0", 96, AF_INET },
	{ "192.0.2.1/32",	0, "::ffff:192.0.2.1", 128, AF_INET },
	{ "192.0.2.1",		0, "::ffff:192.0.2.1", 128, AF_INET },
	{ "192.0.2.128/25",	0, "::ffff:192.0.2.128", 121, AF_INET },
	{ "10.0.0.0/08",	0, "::ffff:10.0.0.0", 104, AF_INET },
	{ "2001:db8::/32",	0, "2001:db8::", 32, AF_INET6 },
	{ "::/0",		0, "::", 0, AF_INET6 },
	{ "::1/128",		0, "::1", 128, AF_INET6 },
	{ "::1",		0, "::1", 128, AF_INET6 },
	{ "2001:db8::8000/113",	0, "2001:db8::8000", 113, AF_INET6 },
	{ "[2001:db8::]/48",	0, "2001:db8::", 48, AF_INET6 },
	{ "[::1]",		0, "::1", 128, AF_INET6 },
	{ "::ffff:10.0.0.0/104", 0, "::ffff:10.0.0.0", 104, AF_INET6 },
	{ "::ffff:0.0.0.0/96",	0, "::ffff:0.0.0.0", 96, AF_INET6 },
	{ "",			-EINVAL, "missing address", 0, 0 },
	{ "/8",			-EINVAL, "missing address", 0, 0 },
	{ "10.0.0.0/",		-EINVAL, "missing prefix length", 0, 0 },
	{ "::/",		-EINVAL, "missing prefix length", 0, 0 },
	{ "10.0.0.0/x",		-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/+8",	-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/-1",	-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/ 8",	-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/8 ",	-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/8/8",	-EINVAL, "invalid prefix length", 0, 0 },
	{ "10.0.0.0/33",	-ERANGE, "prefix length out of range (0-32)", 0, 0 },
	{ "10.0.0.0/18446744073709551616",
				-ERANGE, "prefix length out of range (0-32)", 0, 0 },
	{ "::/129",		-ERANGE, "prefix length out of range (0-128)", 0, 0 },
	{ "::ffff:0.0.0.0/200",	-ERANGE, "prefix length out of range (0-128)", 0, 0 },
	{ "10.0.0.1/8",		-EINVAL, "host bits set", 0, 0 },
	{ "192.0.2.1/31",	-EINVAL, "host bits set", 0, 0 },
	{ "0.0.0.1/0",		-EINVAL, "host bits set", 0, 0 },
	{ "2001:db8::1/64",	-EINVAL, "host bits set", 0, 0 },
	{ "::1/0",		-EINVAL, "host bits set", 0, 0 },
	{ "::ffff:10.0.0.0/8",	-EINVAL, "host bits set", 0, 0 },
	{ "::ffff:0.0.0.0/95",	-EINVAL, "host bits set", 0, 0 },
	{ "10.0.0.256/8",	-EINVAL, "invalid IPv4 or IPv6 address", 0, 0 },
	{ "[10.0.0.0]/8",	-EINVAL, "brackets are only for IPv6 addresses", 0, 0 },
	{ "[::1/128]",		-EINVAL, "missing closing bracket", 0, 0 },
	{ "[::1]x/128",		-EINVAL, "unexpected text after ']'", 0, 0 },
};

static void test_prefix(void)
{
	size_t i;

	UNIT_TEST("parse_prefix");
	for (i = 0; i < ARRAY_SIZE(prefix_cases); i++) {
		const struct prefix_case *c = &prefix_cases[i];
		struct crd_ipaddr a;
		uint8_t plen = 0;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_prefix(in, &a, &plen, &why);

		if (c->ret) {
			check_fail("crd_parse_prefix", c->in, ret, c->ret, why,
				   c->want);
		} else if (CHECK_EQ_INT(ret, 0, "crd_parse_prefix(\"%s\") ok",
					c->in)) {
			struct crd_ipaddr w = ip6(c->want);

			CHECK(a.family == c->family &&
			      !memcmp(a.addr, w.addr, 16) && plen == c->plen,
			      "crd_parse_prefix(\"%s\") is %s/%u", c->in,
			      c->want, c->plen);
		}
		free(in);
	}
}

static const struct contains_case {
	const char *prefix;
	const char *addr;
	int want;
} contains_cases[] = {
	{ "10.0.0.0/8",		"10.1.2.3",		1 },
	{ "10.0.0.0/8",		"10.255.255.255",	1 },
	{ "10.0.0.0/8",		"11.0.0.0",		0 },
	{ "10.0.0.0/8",		"9.255.255.255",	0 },
	{ "10.0.0.0/8",		"::ffff:10.9.9.9",	1 },
	{ "10.0.0.0/8",		"::10.9.9.9",		0 },
	{ "192.0.2.0/25",	"192.0.2.127",		1 },
	{ "192.0.2.0/25",	"192.0.2.128",		0 },
	{ "192.0.2.1",		"192.0.2.1",		1 },
	{ "192.0.2.1",		"192.0.2.0",		0 },
	{ "0.0.0.0/0",		"1.2.3.4",		1 },
	{ "0.0.0.0/0",		"255.255.255.255",	1 },
	{ "0.0.0.0/0",		"2001:db8::1",		0 },
	{ "0.0.0.0/0",		"::",			0 },
	{ "::/0",		"1.2.3.4",		1 },
	{ "::/0",		"2001:db8::1",		1 },
	{ "::/0",		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 },
	{ "2001:db8::/32",	"2001:db8:ffff::1",	1 },
	{ "2001:db8::/32",	"2001:db9::1",		0 },
	{ "2001:db8::/33",	"2001:db8:7fff::1",	1 },
	{ "2001:db8::/33",	"2001:db8:8000::1",	0 },
	{ "::1",		"::1",			1 },
	{ "::1",		"::2",			0 },
	{ "::ffff:10.0.0.0/104", "10.255.0.1",		1 },
	{ "::ffff:10.0.0.0/104", "11.0.0.1",		0 },
	{ "::ffff:0.0.0.0/96",	"1.2.3.4",		1 },
	{ "::ffff:0.0.0.0/96",	"::1.2.3.4",		0 },
};

static void test_contains(void)
{
	struct crd_ipaddr p, a;
	uint8_t plen;
	size_t i;

	UNIT_TEST("prefix_contains");
	for (i = 0; i < ARRAY_SIZE(contains_cases); i++) {
		const struct contains_case *c = &contains_cases[i];

		if (crd_parse_prefix(c->prefix, &p, &plen, NULL) ||
		    crd_parse_addr(c->addr, &a, NULL)) {
			CHECK(0, "%s / %s parse", c->prefix, c->addr);
			continue;
		}
		CHECK_EQ_INT(crd_prefix_contains(&p, plen, &a), c->want,
			     "%s %s %s", c->prefix,
			     c->want ? "contains" : "does not contain",
			     c->addr);
	}

	/* A prefix length above 128 is treated as 128. */
	crd_parse_addr("2001:db8::1", &p, NULL);
	crd_parse_addr("2001:db8::2", &a, NULL);
	CHECK(crd_prefix_contains(&p, 200, &p) == 1 &&
	      crd_prefix_contains(&p, 200, &a) == 0,
	      "plen 200 behaves like 128");
}

/* ---------------------------------------------------------- port range */

static const struct range_case {
	const char *in;
	int ret;
	uint16_t lo, hi;
	const char *why;
} range_cases[] = {
	{ "80",		0, 80, 80, NULL },
	{ "1",		0, 1, 1, NULL },
	{ "65535",	0, 65535, 65535, NULL },
	{ "1-65535",	0, 1, 65535, NULL },
	{ "1000-2000",	0, 1000, 2000, NULL },
	{ "5-5",	0, 5, 5, NULL },
	{ "080-0090",	0, 80, 90, NULL },
	{ "",		-EINVAL, 0, 0, "missing port" },
	{ "0",		-ERANGE, 0, 0, "port out of range (1-65535)" },
	{ "65536",	-ERANGE, 0, 0, "port out of range (1-65535)" },
	{ "0-5",	-ERANGE, 0, 0, "port out of range (1-65535)" },
	{ "1-70000",	-ERANGE, 0, 0, "port out of range (1-65535)" },
	{ "1-18446744073709551616",
			-ERANGE, 0, 0, "port out of range (1-65535)" },
	{ "5-3",	-EINVAL, 0, 0, "range start above range end" },
	{ "65535-1",	-EINVAL, 0, 0, "range start above range end" },
	{ "-5",		-EINVAL, 0, 0, "missing range start" },
	{ "-",		-EINVAL, 0, 0, "missing range start" },
	{ "5-",		-EINVAL, 0, 0, "missing range end" },
	{ "1-2-3",	-EINVAL, 0, 0, "invalid port" },
	{ "1--3",	-EINVAL, 0, 0, "invalid port" },
	{ "+5",		-EINVAL, 0, 0, "invalid port" },
	{ " 5",		-EINVAL, 0, 0, "invalid port" },
	{ "5 ",		-EINVAL, 0, 0, "invalid port" },
	{ "5x",		-EINVAL, 0, 0, "invalid port" },
	{ "1 - 2",	-EINVAL, 0, 0, "invalid port" },
	{ "a-b",	-EINVAL, 0, 0, "invalid port" },
	{ "1,2",	-EINVAL, 0, 0, "invalid port" },
};

static void test_port_range(void)
{
	size_t i;

	UNIT_TEST("parse_port_range");
	for (i = 0; i < ARRAY_SIZE(range_cases); i++) {
		const struct range_case *c = &range_cases[i];
		uint16_t lo = 0, hi = 0;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_port_range(in, &lo, &hi, &why);

		if (c->ret)
			check_fail("crd_parse_port_range", c->in, ret, c->ret,
				   why, c->why);
		else if (CHECK_EQ_INT(ret, 0, "crd_parse_port_range(\"%s\") ok",
				      c->in))
			CHECK(lo == c->lo && hi == c->hi,
			      "crd_parse_port_range(\"%s\") is %u-%u [got %u-%u]",
			      c->in, c->lo, c->hi, lo, hi);
		free(in);
	}
}

/* ------------------------------------------------------------- numbers */

static const struct u64_case {
	const char *in;
	uint64_t max;
	int ret;
	uint64_t val;
	const char *why;
} u64_cases[] = {
	{ "0",			UINT64_MAX, 0, 0, NULL },
	{ "42",			UINT64_MAX, 0, 42, NULL },
	{ "007",		UINT64_MAX, 0, 7, NULL },
	{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX, NULL },
	{ "000000000000000000000000000018446744073709551615",
				UINT64_MAX, 0, UINT64_MAX, NULL },
	{ "100",		100, 0, 100, NULL },
	{ "0",			0, 0, 0, NULL },
	{ "18446744073709551616", UINT64_MAX, -ERANGE, 0, "number out of range" },
	{ "18446744073709551620", UINT64_MAX, -ERANGE, 0, "number out of range" },
	{ "99999999999999999999999", UINT64_MAX, -ERANGE, 0,
				"number out of range" },
	{ "101",		100, -ERANGE, 0, "number out of range" },
	{ "1",			0, -ERANGE, 0, "number out of range" },
	{ "4294967296",		UINT32_MAX, -ERANGE, 0, "number out of range" },
	{ "",			UINT64_MAX, -EINVAL, 0, "missing number" },
	{ "+5",			UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "-5",			UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ " 5",			UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "5 ",			UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "5x",			UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "0x10",		UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "1e3",		UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "1.5",		UINT64_MAX, -EINVAL, 0, "not a decimal number" },
	{ "99999999999999999999x", UINT64_MAX, -EINVAL, 0,
				"not a decimal number" },
};

static void test_u64(void)
{
	size_t i;

	UNIT_TEST("parse_u64");
	for (i = 0; i < ARRAY_SIZE(u64_cases); i++) {
		const struct u64_case *c = &u64_cases[i];
		uint64_t v = 12345;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_u64(in, c->max, &v, &why);

		if (c->ret) {
			check_fail("crd_parse_u64", c->in, ret, c->ret, why,
				   c->why);
			CHECK(v == 12345, "crd_parse_u64(\"%s\") leaves *out",
			      c->in);
		} else if (CHECK_EQ_INT(ret, 0, "crd_parse_u64(\"%s\") ok",
					c->in)) {
			CHECK(v == c->val, "crd_parse_u64(\"%s\") is %llu",
			      c->in, (unsigned long long)c->val);
		}
		free(in);
	}
}

static const struct i32_case {
	const char *in;
	int32_t min, max;
	int ret;
	int32_t val;
	const char *why;
} i32_cases[] = {
	{ "0",		INT32_MIN, INT32_MAX, 0, 0, NULL },
	{ "-0",		INT32_MIN, INT32_MAX, 0, 0, NULL },
	{ "17",		INT32_MIN, INT32_MAX, 0, 17, NULL },
	{ "-17",	INT32_MIN, INT32_MAX, 0, -17, NULL },
	{ "2147483647",	INT32_MIN, INT32_MAX, 0, INT32_MAX, NULL },
	{ "-2147483648", INT32_MIN, INT32_MAX, 0, INT32_MIN, NULL },
	{ "-1",		-1, 10, 0, -1, NULL },
	{ "10",		-1, 10, 0, 10, NULL },
	{ "2147483648",	INT32_MIN, INT32_MAX, -ERANGE, 0, "number out of range" },
	{ "-2147483649", INT32_MIN, INT32_MAX, -ERANGE, 0, "number out of range" },
	{ "18446744073709551616", INT32_MIN, INT32_MAX, -ERANGE, 0,
			"number out of range" },
	{ "-18446744073709551616", INT32_MIN, INT32_MAX, -ERANGE, 0,
			"number out of range" },
	{ "-2",		-1, 10, -ERANGE, 0, "number out of range" },
	{ "11",		-1, 10, -ERANGE, 0, "number out of range" },
	{ "",		INT32_MIN, INT32_MAX, -EINVAL, 0, "missing number" },
	{ "-",		INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ "--1",	INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ "+1",		INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ " 1",		INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ "- 1",	INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ "1-",		INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
	{ "0x1",	INT32_MIN, INT32_MAX, -EINVAL, 0, "not a decimal number" },
};

static void test_i32(void)
{
	size_t i;

	UNIT_TEST("parse_i32");
	for (i = 0; i < ARRAY_SIZE(i32_cases); i++) {
		const struct i32_case *c = &i32_cases[i];
		int32_t v = 12345;
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_i32(in, c->min, c->max, &v, &why);

		if (c->ret)
			check_fail("crd_parse_i32", c->in, ret, c->ret, why,
				   c->why);
		else if (CHECK_EQ_INT(ret, 0, "crd_parse_i32(\"%s\") ok",
				      c->in))
			CHECK_EQ_INT(v, c->val, "crd_parse_i32(\"%s\") value",
				     c->in);
		free(in);
	}
}

/* --------------------------------------------------------------- names */

static const struct name_case {
	const char *in;
	int ret;
	const char *why;
} name_cases[] = {
	{ "web",				0, NULL },
	{ "a",					0, NULL },
	{ "9",					0, NULL },
	{ "_x",					0, NULL },
	{ "A_b.c-d9",				0, NULL },
	{ "a.",					0, NULL },
	{ "abcdefghijklmnopqrstuvwxyz01234",	0, NULL },	/* 31 */
	{ "abcdefghijklmnopqrstuvwxyz012345",	-ERANGE,
						"name too long (max 31)" },
	{ "",			-EINVAL, "empty name" },
	{ ".hidden",		-EINVAL, "name must not start with '.' or '-'" },
	{ "..",			-EINVAL, "name must not start with '.' or '-'" },
	{ "-x",			-EINVAL, "name must not start with '.' or '-'" },
	{ "a b",		-EINVAL, "invalid character in name" },
	{ " a",			-EINVAL, "invalid character in name" },
	{ "a/b",		-EINVAL, "invalid character in name" },
	{ "a:b",		-EINVAL, "invalid character in name" },
	{ "x\t",		-EINVAL, "invalid character in name" },
	{ "caf\xc3\xa9",	-EINVAL, "invalid character in name" },
};

static void test_name(void)
{
	size_t i;

	UNIT_TEST("parse_name");
	for (i = 0; i < ARRAY_SIZE(name_cases); i++) {
		const struct name_case *c = &name_cases[i];
		const char *why = UNSET;
		char *in = dup_exact(c->in);
		int ret = crd_parse_name(in, &why);

		if (c->ret)
			check_fail("crd_parse_name", c->in, ret, c->ret, why,
				   c->why);
		else
			CHECK_EQ_INT(ret, 0, "crd_parse_name(\"%s\") ok",
				     c->in);
		free(in);
	}
}

/* ---------------------------------------------------------- formatters */

static const struct fmt_case {
	const char *in;		/* for crd_parse_addr */
	const char *addr;	/* crd_format_addr */
	const char *ep;		/* crd_format_endpoint with port 80 */
} fmt_cases[] = {
	{ "192.0.2.1",		"192.0.2.1",	"192.0.2.1:80" },
	{ "0.0.0.0",		"0.0.0.0",	"0.0.0.0:80" },
	{ "::ffff:1.2.3.4",	"1.2.3.4",	"1.2.3.4:80" },
	{ "2001:DB8:0:0:0:0:0:A", "2001:db8::a", "[2001:db8::a]:80" },
	{ "[::1]",		"::1",		"[::1]:80" },
	{ "::",			"::",		"[::]:80" },
	{ "1:2:3:4:5:6:7:8",	"1:2:3:4:5:6:7:8", "[1:2:3:4:5:6:7:8]:80" },
	{ "::1.2.3.4",		"::1.2.3.4",	"[::1.2.3.4]:80" },
};

static void test_format(void)
{
	char buf[64];
	struct crd_ipaddr a, b;
	uint16_t port;
	size_t i;

	UNIT_TEST("format");
	for (i = 0; i < ARRAY_SIZE(fmt_cases); i++) {
		const struct fmt_case *c = &fmt_cases[i];

		if (!CHECK_EQ_INT(crd_parse_addr(c->in, &a, NULL), 0,
				  "parse \"%s\"", c->in))
			continue;
		CHECK_EQ_STR(crd_format_addr(&a, buf, sizeof(buf)), c->addr,
			     "crd_format_addr(%s)", c->in);
		CHECK(crd_parse_addr(buf, &b, NULL) == 0 &&
		      !memcmp(a.addr, b.addr, 16),
		      "crd_format_addr(%s) round-trips", c->in);
		CHECK_EQ_STR(crd_format_endpoint(&a, 80, buf, sizeof(buf)),
			     c->ep, "crd_format_endpoint(%s, 80)", c->in);
		CHECK(crd_parse_endpoint(buf, &b, &port, NULL) == 0 &&
		      !memcmp(a.addr, b.addr, 16) && port == 80,
		      "crd_format_endpoint(%s, 80) round-trips", c->in);
	}

	/* Longest outputs fit the sizes parse.h promises (46 and 54). */
	{
		char b46[46], b54[54];
		const char *max6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

		crd_parse_addr(max6, &a, NULL);
		CHECK_EQ_STR(crd_format_addr(&a, b46, sizeof(b46)), max6,
			     "longest IPv6 fits 46 bytes");
		CHECK_EQ_STR(crd_format_endpoint(&a, 65535, b54, sizeof(b54)),
			     "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
			     "longest IPv6 endpoint fits 54 bytes");
		crd_parse_addr("255.255.255.255", &a, NULL);
		CHECK_EQ_STR(crd_format_endpoint(&a, 65535, b54, sizeof(b54)),
			     "255.255.255.255:65535",
			     "longest IPv4 endpoint fits");
	}

	/* Too small: "?" and the exact boundary. */
	crd_parse_addr("192.0.2.1", &a, NULL);
	CHECK_EQ_STR(crd_format_addr(&a, buf, 9), "?",
		     "crd_format_addr 192.0.2.1 into 9 bytes is \"?\"");
	CHECK_EQ_STR(crd_format_addr(&a, buf, 10), "192.0.2.1",
		     "crd_format_addr 192.0.2.1 into 10 bytes fits");
	CHECK_EQ_STR(crd_format_addr(&a, buf, 0), "?",
		     "crd_format_addr into 0 bytes is \"?\"");
	CHECK_EQ_STR(crd_format_endpoint(&a, 80, buf, 12), "?",
		     "crd_format_endpoint 192.0.2.1:80 into 12 bytes is \"?\"");
	CHECK_EQ_STR(crd_format_endpoint(&a, 80, buf, 13), "192.0.2.1:80",
		     "crd_format_endpoint 192.0.2.1:80 into 13 bytes fits");
	crd_parse_addr("2001:db8::1", &a, NULL);
	CHECK_EQ_STR(crd_format_endpoint(&a, 443, buf, 17), "?",
		     "crd_format_endpoint [2001:db8::1]:443 into 17 is \"?\"");
	CHECK_EQ_STR(crd_format_endpoint(&a, 443, buf, 18),
		     "[2001:db8::1]:443",
		     "crd_format_endpoint [2001:db8::1]:443 into 18 fits");

	/* The formatted buffer is the one returned. */
	CHECK(crd_format_addr(&a, buf, sizeof(buf)) == buf,
	      "crd_format_addr returns buf");
}

/* sockaddr <-> crd_ipaddr: both families, mapped form, round trips. */
static void test_sockaddr(void)
{
	static const char *const eps[] = { "192.0.2.1:80", "[2001:db8::1]:443",
					   "[::ffff:192.0.2.9]:53", "0.0.0.0:1" };
	struct sockaddr_storage ss;
	struct crd_ipaddr a, b;
	uint16_t port, p2;
	char buf[64];
	socklen_t sl;
	size_t i;

	UNIT_TEST("sockaddr");
	for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		CHECK_EQ_INT(crd_parse_endpoint(eps[i], &a, &port, NULL), 0, "%s", eps[i]);
		sl = crd_ipaddr_to_sockaddr(&a, port, a.family == AF_INET, &ss);
		CHECK_EQ_INT(ss.ss_family, a.family, "%s: family", eps[i]);
		CHECK_EQ_INT(sl, a.family == AF_INET ? sizeof(struct sockaddr_in) :
			     sizeof(struct sockaddr_in6), "%s: length", eps[i]);
		crd_ipaddr_from_sockaddr(&ss, &b, &p2);
		CHECK(!memcmp(a.addr, b.addr, 16) && p2 == port, "%s: round trip", eps[i]);
		CHECK_EQ_STR(crd_format_endpoint(&b, p2, buf, sizeof(buf)),
			     a.family == AF_INET6 && strchr(eps[i], '.') ? "192.0.2.9:53" : eps[i],
			     "%s: formatted again", eps[i]);
	}
	/* An IPv4 address as AF_INET6: ::ffff:a.b.c.d, and back to the same. */
	crd_parse_endpoint("198.51.100.7:8080", &a, &port, NULL);
	sl = crd_ipaddr_to_sockaddr(&a, port, false, &ss);
	CHECK_EQ_INT(ss.ss_family, AF_INET6, "mapped: family");
	CHECK_EQ_INT(sl, sizeof(struct sockaddr_in6), "mapped: length");
	crd_ipaddr_from_sockaddr(&ss, &b, &p2);
	CHECK(!memcmp(a.addr, b.addr, 16) && p2 == 8080, "mapped: round trip");
}

int main(void)
{
	test_addr();
	test_endpoint();
	test_prefix();
	test_contains();
	test_port_range();
	test_u64();
	test_i32();
	test_name();
	test_format();
	test_sockaddr();
	return unit_done();
}
