// SPDX-License-Identifier: MIT
/*
 * fuzz_parse.c - libFuzzer target for lib/parse.c.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib \
 *		lib/parse.c fuzz/fuzz_parse.c -o /tmp/fuzz_parse
 *	/tmp/fuzz_parse -max_total_time=60 fuzz/corpus/parse
 *
 * The input is copied into a heap buffer of exactly size + 1 bytes and
 * NUL-terminated, so AddressSanitizer flags any read past the NUL. (Inputs
 * with an embedded NUL are parsed up to it, as C strings are.) Every parser
 * runs on it; whatever parses is checked against the contract in parse.h
 * and, for addresses, endpoints and prefixes, formatted back to text and
 * parsed again, which must give the same bytes, port and prefix length.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "parse.h"

#include "fuzz.h"

/* A failure must be -EINVAL or -ERANGE with a non-empty phrase. */
static void check_fail(int ret, const char *why)
{
	FUZZ_ASSERT(ret == -EINVAL || ret == -ERANGE);
	FUZZ_ASSERT(why != NULL && why[0] != '\0');
}

static int same_addr(const struct crd_ipaddr *a, const struct crd_ipaddr *b)
{
	return memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static void check_family(const struct crd_ipaddr *a)
{
	FUZZ_ASSERT(a->family == AF_INET || a->family == AF_INET6);
	if (a->family == AF_INET)
		FUZZ_ASSERT(crd_ipaddr_is_v4(a));
}

static void fuzz_addr(const char *s)
{
	struct crd_ipaddr a, b;
	const char *why = NULL, *txt;
	char buf[46];
	int ret;

	ret = crd_parse_addr(s, &a, &why);
	if (ret) {
		check_fail(ret, why);
		/* why == NULL must be accepted and give the same answer */
		FUZZ_ASSERT(crd_parse_addr(s, &b, NULL) == ret);
		return;
	}
	check_family(&a);
	txt = crd_format_addr(&a, buf, sizeof(buf));
	FUZZ_ASSERT(txt == buf);
	why = NULL;
	ret = crd_parse_addr(txt, &b, &why);
	if (ret)
		fprintf(stderr, "\"%s\" -> \"%s\": %s\n", s, txt, why);
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(same_addr(&a, &b));
	FUZZ_ASSERT(crd_ipaddr_is_v4(&a) == crd_ipaddr_is_v4(&b));
	FUZZ_ASSERT(crd_prefix_contains(&a, 128, &b));
}

static void fuzz_endpoint(const char *s)
{
	struct crd_ipaddr a, b;
	uint16_t port = 0, port2 = 0;
	const char *why = NULL, *txt;
	char buf[54];
	int ret;

	ret = crd_parse_endpoint(s, &a, &port, &why);
	if (ret) {
		check_fail(ret, why);
		FUZZ_ASSERT(crd_parse_endpoint(s, &b, &port2, NULL) == ret);
		return;
	}
	check_family(&a);
	FUZZ_ASSERT(port >= 1);
	txt = crd_format_endpoint(&a, port, buf, sizeof(buf));
	FUZZ_ASSERT(txt == buf);
	why = NULL;
	ret = crd_parse_endpoint(txt, &b, &port2, &why);
	if (ret)
		fprintf(stderr, "\"%s\" -> \"%s\": %s\n", s, txt, why);
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(same_addr(&a, &b) && port == port2);
}

static void fuzz_prefix(const char *s)
{
	struct crd_ipaddr a, b;
	uint8_t plen = 0, plen2 = 0;
	const char *why = NULL;
	char addr[46], txt[64];
	int v4, ret;

	ret = crd_parse_prefix(s, &a, &plen, &why);
	if (ret) {
		check_fail(ret, why);
		FUZZ_ASSERT(crd_parse_prefix(s, &b, &plen2, NULL) == ret);
		return;
	}
	check_family(&a);
	FUZZ_ASSERT(plen <= 128);
	if (a.family == AF_INET)
		FUZZ_ASSERT(plen >= 96);
	FUZZ_ASSERT(crd_prefix_contains(&a, plen, &a));
	FUZZ_ASSERT(crd_prefix_contains(&a, 0, &a));

	/*
	 * Back to text: an IPv4 (or IPv4-mapped) prefix prints as a dotted
	 * quad, so its length goes back to the 0-32 space. A mapped prefix
	 * that parsed always has plen >= 96: the ffff bits are set.
	 */
	FUZZ_ASSERT(crd_format_addr(&a, addr, sizeof(addr)) == addr);
	v4 = crd_ipaddr_is_v4(&a);
	if (v4)
		FUZZ_ASSERT(plen >= 96);
	snprintf(txt, sizeof(txt), "%s/%u", addr, v4 ? plen - 96u : plen);
	why = NULL;
	ret = crd_parse_prefix(txt, &b, &plen2, &why);
	if (ret)
		fprintf(stderr, "\"%s\" -> \"%s\": %s\n", s, txt, why);
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(same_addr(&a, &b) && plen == plen2);
}

static void fuzz_numbers(const char *s)
{
	uint16_t lo = 0, hi = 0;
	uint64_t u = 0;
	int32_t i = 0;
	const char *why = NULL;
	int ret;

	ret = crd_parse_port_range(s, &lo, &hi, &why);
	if (ret)
		check_fail(ret, why);
	else
		FUZZ_ASSERT(lo >= 1 && lo <= hi);

	why = NULL;
	ret = crd_parse_u64(s, UINT64_MAX, &u, &why);
	if (ret)
		check_fail(ret, why);

	why = NULL;
	ret = crd_parse_u64(s, 1000, &u, &why);
	if (ret)
		check_fail(ret, why);
	else
		FUZZ_ASSERT(u <= 1000);

	why = NULL;
	ret = crd_parse_i32(s, INT32_MIN, INT32_MAX, &i, &why);
	if (ret)
		check_fail(ret, why);

	why = NULL;
	ret = crd_parse_i32(s, -5, 5, &i, &why);
	if (ret)
		check_fail(ret, why);
	else
		FUZZ_ASSERT(i >= -5 && i <= 5);
}

static void fuzz_name(const char *s)
{
	const char *why = NULL;
	size_t n, k;
	int ret;

	ret = crd_parse_name(s, &why);
	if (ret) {
		check_fail(ret, why);
		return;
	}
	n = strlen(s);
	FUZZ_ASSERT(n >= 1 && n <= 31 && s[0] != '.' && s[0] != '-');
	for (k = 0; k < n; k++)
		FUZZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
				   s[k]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	fuzz_addr(s);
	fuzz_endpoint(s);
	fuzz_prefix(s);
	fuzz_numbers(s);
	fuzz_name(s);

	free(s);
	return 0;
}
