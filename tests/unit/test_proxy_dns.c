// SPDX-License-Identifier: MIT
/*
 * test_proxy_dns.c - the DNS message parser (proxy/dns.h), the REFUSED
 * answer, the dns inspector's log fields and block=dns: rules
 * (proxy/inspect_dns.c, proxy/inspect_block.c), with malformed input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../proxy/inspect_http.c"
#include "../../proxy/inspect_tls.c"
#include "../../proxy/inspect_block.c"
#include "../../proxy/inspect_dns.c"

/* A query for www.example.test A, id 0x1234, RD. */
static const uint8_t q1[] = {
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0,
	0, 1, 0, 1,
};

static void bad_msg(const uint8_t *p, size_t n, const char *want, const char *what)
{
	struct dns_msg m;
	const char *why = NULL;

	CHECK(dns_parse(p, n, &m, &why) == -1, "%s: refused", what);
	CHECK_EQ_STR(why, want, "%s: why", what);
	CHECK(m.qname[0] == 0, "%s: no name", what);
}

static void test_parse(void)
{
	struct dns_msg m;
	uint8_t b[600];
	size_t i;

	UNIT_TEST("dns_parse");
	CHECK(dns_parse(q1, sizeof(q1), &m, NULL) == 0, "a query parses");
	CHECK_EQ_STR(m.qname, "www.example.test", "its name");
	CHECK(m.id == 0x1234 && m.qtype == 1 && m.qclass == 1 && dns_is_query(&m), "id, type, class");
	CHECK(m.question_end == sizeof(q1) && m.qname_wire_len == 18, "question end, wire name");
	/* every prefix is refused, never read past */
	for (i = 0; i < sizeof(q1); i++) {
		uint8_t *p = malloc(i ? i : 1);

		memcpy(p, q1, i);
		CHECK(dns_parse(p, i, &m, NULL) == -1, "prefix of %zu bytes refused", i);
		free(p);
	}
	bad_msg(NULL, 0, "shorter than a DNS header", "NULL");
	memcpy(b, q1, sizeof(q1));
	b[5] = 2;
	bad_msg(b, sizeof(q1), "not exactly one question", "QDCOUNT=2");
	b[5] = 0;
	bad_msg(b, sizeof(q1), "not exactly one question", "QDCOUNT=0");
	memcpy(b, q1, sizeof(q1));
	b[12] = 0x40;
	bad_msg(b, sizeof(q1), "bad label type in question", "label type 01");
	b[12] = 60;
	bad_msg(b, sizeof(q1), "question name runs past the end", "label past the end");
	/* pointers: to itself, forwards, into the header, a loop */
	memcpy(b, q1, sizeof(q1));
	b[12] = 0xc0; b[13] = 12;
	bad_msg(b, sizeof(q1), "bad compression pointer in question", "pointer to itself");
	b[13] = 20;
	bad_msg(b, sizeof(q1), "bad compression pointer in question", "pointer forwards");
	b[13] = 2;
	bad_msg(b, sizeof(q1), "bad compression pointer in question", "pointer into the header");
	/* a backward pointer is followed, but a loop ends: "a" + pointer to itself */
	memset(b, 0, sizeof(b));
	b[5] = 1;
	b[12] = 1; b[13] = 'a'; b[14] = 0xc0; b[15] = 12;
	b[16] = 0; b[17] = 1; b[18] = 0; b[19] = 1;
	bad_msg(b, 20, "bad compression pointer in question", "a pointer loop");
	/* a name longer than 255 bytes */
	memset(b, 0, sizeof(b));
	b[5] = 1;
	for (i = 0; i < 5; i++) {
		b[12 + i * 64] = 63;
		memset(b + 13 + i * 64, 'x', 63);
	}
	bad_msg(b, 12 + 5 * 64 + 5, "question name longer than 255 bytes", "a 320-byte name");
	memcpy(b, q1, sizeof(q1));
	bad_msg(b, sizeof(q1) - 2, "question type and class run past the end", "no class");
	/* odd bytes in a label are escaped, never taken as a dot */
	memcpy(b, q1, sizeof(q1));
	b[14] = '.';
	b[15] = 0;
	CHECK(dns_parse(b, sizeof(q1), &m, NULL) == 0, "odd bytes parse");
	CHECK_EQ_STR(m.qname, "w\\.\\000.example.test", "and are escaped");
	/* the root */
	memset(b, 0, sizeof(b));
	b[5] = 1; b[14] = 2; b[16] = 1;
	CHECK(dns_parse(b, 17, &m, NULL) == 0, "the root name parses");
	CHECK_EQ_STR(m.qname, ".", "as '.'");
}

static void test_refused(void)
{
	struct dns_msg q, a;
	uint8_t out[600];
	char t[16];
	size_t n;

	UNIT_TEST("dns_refused");
	CHECK(dns_parse(q1, sizeof(q1), &q, NULL) == 0, "query");
	n = dns_refused(&q, out, sizeof(out));
	CHECK(n == sizeof(q1), "REFUSED is as long as the query (%zu)", n);
	CHECK(dns_parse(out, n, &a, NULL) == 0, "REFUSED parses");
	CHECK(a.id == 0x1234 && a.qr && a.rcode == 5 && (a.flags & 0x0100), "id, QR, RCODE 5, RD");
	CHECK(!a.ancount && !a.nscount && !a.arcount, "no records");
	CHECK_EQ_STR(a.qname, "www.example.test", "the question echoed");
	CHECK(dns_refused(&q, out, 20) == 0, "too small a buffer: 0");
	CHECK_EQ_STR(dns_rcode_name(5, t, sizeof(t)), "REFUSED", "rcode name");
	CHECK_EQ_STR(dns_rcode_name(15, t, sizeof(t)), "RCODE15", "unknown rcode");
	CHECK_EQ_STR(dns_type_name(28, t, sizeof(t)), "AAAA", "type name");
	CHECK_EQ_STR(dns_type_name(999, t, sizeof(t)), "TYPE999", "unknown type");
}

static void test_inspectors(void)
{
	struct inspect_flow f = { .proto = "udp" };
	struct inspect_block_rule r;
	struct block_conf *bc = NULL;
	struct block_state bs = { 0 };
	struct dns_state ds = { 0 };
	const char *reason = NULL, *why = NULL;
	uint8_t ans[sizeof(q1)];
	char line[4096];
	struct json j;

	UNIT_TEST("dns_inspectors");
	CHECK(inspect_block_parse_rule("dns:*.Ads.Example.", &r, &why) == 0, "dns: rule parses");
	CHECK(r.kind == INSPECT_BLOCK_DNS && r.wildcard && !strcmp(r.name, ".ads.example"), "wildcard");
	CHECK(inspect_block_parse_rule("dns:", &r, &why) == -EINVAL, "dns: needs a name");
	CHECK(block_init("dns:www.example.test", (void **)&bc, &why) == 0, "block=dns: init");
	CHECK(block_on_start(bc, &bs, &f, &reason) == INSPECT_NEED_MORE, "UDP flow: wait for a datagram");
	CHECK(block_on_data(bc, &bs, &f, INSPECT_UP, q1, sizeof(q1), false, &reason) == INSPECT_BLOCK,
	      "the query is blocked");
	CHECK_EQ_STR(reason, "dns name www.example.test matches block=dns:www.example.test", "reason");
	CHECK(block_on_data(bc, &bs, &f, INSPECT_UP, q1, 20, false, &reason) == INSPECT_ALLOW,
	      "a malformed datagram is allowed");
	f.proto = NULL;
	CHECK(block_on_start(bc, &bs, &f, &reason) == INSPECT_ALLOW, "TCP flow: dns: rules do not apply");
	f.proto = "udp";
	block_fini(bc);

	CHECK(dns_on_start(NULL, &ds, &f, &reason) == INSPECT_NEED_MORE, "dns: waits on UDP");
	CHECK(dns_on_data(NULL, &ds, &f, INSPECT_UP, q1, sizeof(q1), false, &reason) ==
	      INSPECT_NEED_MORE, "dns: a query, waits for the answer");
	memcpy(ans, q1, sizeof(q1));
	ans[2] |= 0x80;
	ans[3] = 3;
	CHECK(dns_on_data(NULL, &ds, &f, INSPECT_DOWN, ans, 3, true, &reason) == INSPECT_ALLOW &&
	      !ds.have_answer, "a 3-byte answer is ignored");
	CHECK(dns_on_data(NULL, &ds, &f, INSPECT_DOWN, ans, sizeof(ans), true, &reason) == INSPECT_ALLOW,
	      "dns: the answer");
	json_begin(&j, line, sizeof(line));
	dns_log_fields(NULL, &ds, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"dns_qname\":\"www.example.test\",\"dns_qtype\":\"A\","
		     "\"dns_rcode\":\"NXDOMAIN\"}\n", "log fields");
	memset(&ds, 0, sizeof(ds));
	dns_on_start(NULL, &ds, &f, &reason);
	CHECK(dns_on_data(NULL, &ds, &f, INSPECT_UP, ans, sizeof(ans), false, &reason) == INSPECT_ALLOW,
	      "an answer as first datagram: not a query");
	json_begin(&j, line, sizeof(line));
	dns_log_fields(NULL, &ds, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"dns_qname\":null,\"dns_qtype\":null,\"dns_rcode\":null,"
		     "\"dns_error\":\"not a DNS query\"}\n", "log fields of a non-query");
}

int main(void)
{
	test_parse();
	test_refused();
	test_inspectors();
	return unit_done();
}
