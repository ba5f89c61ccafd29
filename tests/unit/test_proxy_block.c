// SPDX-License-Identifier: MIT
/*
 * test_proxy_block.c - block=RULE rules (proxy/inspect_block.c): parsing,
 * including every malformed form; matching destinations and names; and the
 * block inspector at work through the inspection framework
 * (proxy/inspect.c), down to the log inspector's line for a blocked flow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

#include "../../proxy/log.c"
#include "../../proxy/inspect.c"
#include "../../proxy/inspect_log.c"
#include "../../proxy/inspect_http.c"
#include "../../proxy/inspect_tls.c"
#include "../../proxy/inspect_block.c"

static void good(const char *s, struct inspect_block_rule *r)
{
	const char *why = NULL;
	int err = inspect_block_parse_rule(s, r, &why);

	CHECK(err == 0, "'%s' parses (%s)", s, why ? why : "ok");
}

static void bad_rule(const char *s, const char *want)
{
	struct inspect_block_rule r;
	const char *why = NULL;
	int err = inspect_block_parse_rule(s, &r, &why);

	CHECK_EQ_INT(err, -EINVAL, "'%s' is refused", s ? s : "(null)");
	CHECK_EQ_STR(why, want, "'%s': why", s ? s : "(null)");
}

static struct crd_ipaddr ip(const char *s)
{
	struct crd_ipaddr a;

	if (crd_parse_addr(s, &a, NULL))
		abort();
	return a;
}

static void test_parse(void)
{
	struct inspect_block_rule r;

	UNIT_TEST("block_parse");
	good("dst:10.0.0.0/8", &r);
	CHECK(r.kind == INSPECT_BLOCK_DST && r.plen == 104 && r.port_lo == 0, "IPv4 /8, any port");
	good("dst:127.0.0.1", &r);
	CHECK(r.plen == 128 && r.port_lo == 0, "an address is a host prefix");
	good("dst:127.0.0.1:8081", &r);
	CHECK(r.plen == 128 && r.port_lo == 8081 && r.port_hi == 8081, "ADDR:PORT");
	good("dst:10.0.0.0/8:8000-8999", &r);
	CHECK(r.plen == 104 && r.port_lo == 8000 && r.port_hi == 8999, "PREFIX:PORT-PORT");
	good("dst:::1", &r);
	CHECK(r.plen == 128 && r.port_lo == 0 && r.addr.addr[15] == 1, "a bare IPv6 address");
	good("dst:2001:db8::/32", &r);
	CHECK(r.plen == 32 && r.port_lo == 0, "a bare IPv6 prefix");
	good("dst:[2001:db8::/32]:443", &r);
	CHECK(r.plen == 32 && r.port_lo == 443, "[PREFIX6]:PORT");
	good("dst:[2001:db8::]/32:443", &r);
	CHECK(r.plen == 32 && r.port_lo == 443, "[ADDR6]/LEN:PORT");
	good("dst:[::1]:80", &r);
	CHECK(r.plen == 128 && r.port_lo == 80, "[ADDR6]:PORT");
	good("dst:[2001:db8::]/32", &r);
	CHECK(r.plen == 32 && r.port_lo == 0, "[ADDR6]/LEN");
	good("dst:::ffff:10.0.0.0/104", &r);
	CHECK(r.plen == 104, "an IPv4-mapped IPv6 prefix");
	good("host:Evil.Example.", &r);
	CHECK(r.kind == INSPECT_BLOCK_HOST && !r.wildcard && !strcmp(r.name, "evil.example"),
	      "host: lower case, no trailing dot");
	good("sni:*.Ads.example", &r);
	CHECK(r.kind == INSPECT_BLOCK_SNI && r.wildcard && !strcmp(r.name, ".ads.example"),
	      "sni:*.DOMAIN keeps '.DOMAIN'");
	CHECK_EQ_STR(r.text, "sni:*.Ads.example", "the rule's text is kept as given");
	good("host:localhost", &r);
	good("host:a-b_c.x1", &r);

	bad_rule(NULL, "needs a rule: block=dst:PREFIX, block=host:NAME or block=sni:NAME");
	bad_rule("", "needs a rule: block=dst:PREFIX, block=host:NAME or block=sni:NAME");
	bad_rule("url:x", "unknown rule kind (dst:, host:, sni:)");
	bad_rule("DST:1.2.3.4", "unknown rule kind (dst:, host:, sni:)");
	bad_rule("dst:", "missing address");
	bad_rule("dst:1.2.3.4:x", "invalid port");
	bad_rule("dst:1.2.3.4:0", "port out of range (1-65535)");
	bad_rule("dst:1.2.3.4:9-1", "range start above range end");
	bad_rule("dst:10.0.0.1/8", "host bits set");
	bad_rule("dst:1.2.3.4/33", "prefix length out of range (0-32)");
	bad_rule("dst:1.2.3", "invalid IPv4 or IPv6 address");
	bad_rule("dst:example.com", "invalid IPv4 or IPv6 address");
	bad_rule("dst:[::1", "missing closing bracket");
	bad_rule("dst:[::1]x", "unexpected text after ']'");
	bad_rule("host:", "empty name");
	bad_rule("host:.", "empty name");
	bad_rule("sni:*.", "empty name");
	bad_rule("sni:*..", "empty name");
	bad_rule("host:a..b", "empty label in name");
	bad_rule("host:.a", "empty label in name");
	bad_rule("host:ex*ample", "a wildcard only as '*.' at the start");
	bad_rule("host:*", "a wildcard only as '*.' at the start");
	bad_rule("host:a.*.example", "a wildcard only as '*.' at the start");
	bad_rule("host:a b", "invalid character in name");
	bad_rule("host:a/b", "invalid character in name");
	bad_rule("host:[::1]", "invalid character in name");
	{
		char name[300];

		memset(name, 0, sizeof(name));
		memcpy(name, "host:", 5);
		memset(name + 5, 'a', 64);
		bad_rule(name, "label longer than 63 characters");
		memset(name + 5, 'a', 280);
		bad_rule(name, "rule too long");
		memset(name, 0, sizeof(name));
		memcpy(name, "sni:", 4);
		for (int i = 0; i < 254; i++)
			name[4 + i] = i % 50 == 49 ? '.' : 'b';
		bad_rule(name, "name too long");
	}
}

static void test_match(void)
{
	struct inspect_block_rule r;
	struct crd_ipaddr a;
	char name[300];

	UNIT_TEST("block_match");
	good("dst:10.0.0.0/8", &r);
	a = ip("10.1.2.3");
	CHECK(inspect_block_match_dst(&r, &a, 80), "10.1.2.3 in 10.0.0.0/8");
	a = ip("11.0.0.1");
	CHECK(!inspect_block_match_dst(&r, &a, 80), "11.0.0.1 not in 10.0.0.0/8");
	a = ip("::ffff:10.9.9.9");
	CHECK(inspect_block_match_dst(&r, &a, 80), "IPv4-mapped 10.9.9.9 in 10.0.0.0/8");
	good("dst:127.0.0.1:8000-8999", &r);
	a = ip("127.0.0.1");
	CHECK(inspect_block_match_dst(&r, &a, 8000) && inspect_block_match_dst(&r, &a, 8999),
	      "port range ends included");
	CHECK(!inspect_block_match_dst(&r, &a, 7999) && !inspect_block_match_dst(&r, &a, 9000),
	      "ports outside the range");
	good("dst:[2001:db8::/32]:443", &r);
	a = ip("2001:db8:1::5");
	CHECK(inspect_block_match_dst(&r, &a, 443) && !inspect_block_match_dst(&r, &a, 80),
	      "IPv6 prefix and port");
	good("host:evil.example", &r);
	CHECK(!inspect_block_match_dst(&r, &a, 443), "a host rule never matches a destination");

	CHECK(inspect_block_match_name(&r, "evil.example"), "exact name");
	CHECK(inspect_block_match_name(&r, "EVIL.Example."), "any case, trailing dot");
	CHECK(!inspect_block_match_name(&r, "notevil.example"), "no suffix match without '*.'");
	CHECK(!inspect_block_match_name(&r, "www.evil.example"), "no subdomain match without '*.'");
	CHECK(!inspect_block_match_name(&r, "evil.example.com"), "no prefix match");
	CHECK(!inspect_block_match_name(&r, ""), "empty name");
	CHECK(!inspect_block_match_name(&r, "."), "a lone dot");
	good("sni:*.ads.example", &r);
	CHECK(inspect_block_match_name(&r, "x.ads.example"), "*.DOMAIN: a subdomain");
	CHECK(inspect_block_match_name(&r, "a.b.ADS.example"), "*.DOMAIN: a deeper one");
	CHECK(!inspect_block_match_name(&r, "ads.example"), "*.DOMAIN: not DOMAIN itself");
	CHECK(!inspect_block_match_name(&r, "badads.example"), "*.DOMAIN: not a name ending in DOMAIN");
	good("dst:10.0.0.0/8", &r);
	CHECK(!inspect_block_match_name(&r, "10.0.0.1"), "a dst rule never matches a name");
	memset(name, 'x', 299);
	name[299] = 0;
	good("host:*.x", &r);
	CHECK(!inspect_block_match_name(&r, name), "a name over 253 characters never matches");

	CHECK(!inspect_block_host_name("Example.COM:8080", name, sizeof(name)) &&
	      !strcmp(name, "Example.COM"), "host name: port dropped");
	CHECK(!inspect_block_host_name("[::1]:80", name, sizeof(name)) && !strcmp(name, "[::1]"),
	      "host name: IPv6 literal kept whole");
	CHECK(!inspect_block_host_name("plain", name, sizeof(name)) && !strcmp(name, "plain"),
	      "host name: no port");
	CHECK(inspect_block_host_name("toolong.example", name, 5) == -EINVAL,
	      "host name: too long for the buffer");
}

/* ---- through the framework ---- */

static struct inspect_flow flow_to(const char *dst, uint16_t port)
{
	struct inspect_flow f;

	memset(&f, 0, sizeof(f));
	f.have_dst = true;
	f.dst = ip(dst);
	f.dst_port = port;
	f.client = ip("127.0.0.1");
	f.client_port = 40000;
	return f;
}

static enum inspect_verdict feed(struct inspect_flow *f, const char *s, bool last)
{
	return inspect_flow_data(f, INSPECT_UP, (const uint8_t *)s, strlen(s), last);
}

static void test_framework(void)
{
	static const char hello[] =   /* ClientHello, SNI x.ads.example */
		"\x16\x03\x01\x00\x45\x01\x00\x00\x41\x03\x03\x00\x01\x02\x03\x04"
		"\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
		"\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x00\x00\x02\x13\x01"
		"\x01\x00\x00\x16\x00\x00\x00\x12\x00\x10\x00\x00\x0d\x78\x2e\x61"
		"\x64\x73\x2e\x65\x78\x61\x6d\x70\x6c\x65";
	const char *bad = NULL, *why = NULL;
	struct inspect_flow f;
	char path[] = "/tmp/test_proxy_block.XXXXXX", line[4096];
	FILE *in;
	int fd, v;

	UNIT_TEST("block_framework");
	CHECK(inspect_add_list("log,http,nope", &bad, &why) == -EINVAL &&
	      !strcmp(bad, "nope") && !strcmp(why, "unknown inspector (log, http, tls, block=RULE)"),
	      "an unknown inspector in a list is named");
	inspect_fini();
	CHECK(inspect_add_list("block=host:a.example,block=dst:300.0.0.1", &bad, &why) == -EINVAL &&
	      !strcmp(bad, "block=dst:300.0.0.1"), "a bad rule after a good one is named");
	inspect_fini();
	CHECK(inspect_add_list("http,log,http", &bad, &why) == -EINVAL &&
	      !strcmp(why, "inspector given twice"), "http twice");
	inspect_fini();
	CHECK(inspect_add_list("log,", &bad, &why) == -EINVAL && !strcmp(why, "empty inspector name"),
	      "a trailing comma");
	inspect_fini();

	v = inspect_add_list("log,block=host:evil.example,block=sni:*.ads.example", &bad, &why);
	CHECK(v == 0, "log and two block rules");
	v = inspect_add_list("block=dst:10.0.0.0/8", &bad, &why);
	CHECK(v == 0 && inspect_has("block") && inspect_has("log") && !inspect_has("http"),
	      "a second --inspect adds a third rule to the same block inspector");

	f = flow_to("10.1.2.3", 80);
	CHECK_EQ_INT(inspect_flow_start(&f), INSPECT_BLOCK, "dst 10.1.2.3: BLOCK at start");
	CHECK_EQ_STR(f.reason, "destination 10.1.2.3:80 matches block=dst:10.0.0.0/8", "its reason");
	CHECK_EQ_STR(f.verdict_by, "block", "blocked by block");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 80);
	CHECK_EQ_INT(inspect_flow_start(&f), INSPECT_NEED_MORE, "other dst: needs the first bytes");
	CHECK_EQ_INT(feed(&f, "GET / HTTP/1.1\r\nHo", false), INSPECT_NEED_MORE, "half a head");
	CHECK_EQ_INT(feed(&f, "GET / HTTP/1.1\r\nHost: Evil.example:80\r\n", false), INSPECT_BLOCK,
		     "Host evil.example: BLOCK before the head ends");
	CHECK_EQ_STR(f.reason, "host Evil.example matches block=host:evil.example", "its reason");
	CHECK_EQ_INT(feed(&f, "more", false), INSPECT_BLOCK, "a verdict stays");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 80);
	inspect_flow_start(&f);
	CHECK_EQ_INT(feed(&f, "GET http://evil.example/ HTTP/1.1\r\nHost: good\r\n\r\n", false),
		     INSPECT_BLOCK, "absolute-form target evil.example: BLOCK");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 80);
	inspect_flow_start(&f);
	CHECK_EQ_INT(feed(&f, "GET / HTTP/1.1\r\nHost: good.example\r\n\r\n", false), INSPECT_ALLOW,
		     "Host good.example: ALLOW");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 443);
	inspect_flow_start(&f);
	CHECK_EQ_INT(inspect_flow_data(&f, INSPECT_UP, (const uint8_t *)hello, 30, false),
		     INSPECT_NEED_MORE, "a ClientHello's first 30 bytes");
	CHECK_EQ_INT(inspect_flow_data(&f, INSPECT_UP, (const uint8_t *)hello, sizeof(hello) - 1,
				       false), INSPECT_BLOCK, "SNI x.ads.example: BLOCK");
	CHECK_EQ_STR(f.reason, "server name x.ads.example matches block=sni:*.ads.example", "its reason");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 22);
	inspect_flow_start(&f);
	CHECK_EQ_INT(feed(&f, "SSH-2.0-x\r\n", false), INSPECT_ALLOW, "neither HTTP nor TLS: ALLOW");
	inspect_flow_end(&f);

	f = flow_to("192.0.2.1", 80);
	inspect_flow_start(&f);
	CHECK_EQ_INT(inspect_flow_data(&f, INSPECT_DOWN, (const uint8_t *)"220 hi\r\n", 8, true),
		     INSPECT_NEED_MORE, "the server's bytes, even its last, decide nothing");
	CHECK_EQ_INT(feed(&f, "GET / HTTP/1.1\r\nX: y", true), INSPECT_ALLOW,
		     "the client's last bytes with no Host: NEED_MORE counts as ALLOW");
	inspect_flow_end(&f);

	/* The log inspector's line for a blocked flow. */
	fd = mkstemp(path);
	close(fd);
	CHECK(log_open(path) == 0, "log to %s", path);
	f = flow_to("192.0.2.7", 8080);
	f.service = "fw";
	f.dst_from = "context";
	inspect_flow_start(&f);
	feed(&f, "GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", false);
	f.end = "blocked";
	inspect_flow_end(&f);
	log_close();
	in = fopen(path, "r");
	CHECK(in && fgets(line, sizeof(line), in), "a line was logged");
	CHECK(strstr(line, "\"service\":\"fw\"") && strstr(line, "\"orig_dst\":\"192.0.2.7:8080\""),
	      "service and destination: %.200s", line);
	CHECK(strstr(line, "\"verdict\":\"block\",\"blocked_by\":\"block\",\"reason\":\"host "
		      "evil.example matches block=host:evil.example\",\"end_reason\":\"blocked\""),
	      "verdict, blocker, reason, end");
	CHECK(strstr(line, "\"chain\":[],") && strstr(line, "\"app_pid\":null"),
	      "no records, no context: empty chain, null app");
	CHECK(line[strlen(line) - 2] == '}' && line[strlen(line) - 1] == '\n', "one JSON line");
	if (in)
		fclose(in);
	unlink(path);
	inspect_fini();
}

int main(void)
{
	test_parse();
	test_match();
	test_framework();
	return unit_done();
}
