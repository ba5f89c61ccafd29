// SPDX-License-Identifier: MIT
/*
 * test_proxy_tls.c - the tls inspector's ClientHello parser
 * (proxy/inspect_tls.c): ClientHellos built here field by field, whole, in
 * pieces, over several records, and broken in every length it checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../proxy/inspect_tls.c"

/* ---- a ClientHello builder ---- */

struct buf {
	uint8_t b[70000];
	size_t n;
};

static void put8(struct buf *b, unsigned v) { b->b[b->n++] = (uint8_t)v; }
static void put16(struct buf *b, unsigned v) { put8(b, v >> 8); put8(b, v); }
static void put24(struct buf *b, unsigned v) { put8(b, v >> 16); put16(b, v); }
static void putn(struct buf *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n); b->n += n; }

/* What to build, and what to break. */
struct spec {
	const char *sni;          /* NULL: no server_name */
	const char *alpn[12];     /* NULL-terminated */
	unsigned sid_len;         /* session id length (32 normally) */
	unsigned cs_len;          /* cipher suites length (4 normally) */
	unsigned comp_len;        /* compression methods length (1) */
	bool no_exts;             /* no extensions block at all */
	int exts_len_delta;       /* added to the extensions length */
	int sni_list_delta;       /* added to the server_name list length */
	int alpn_list_delta;      /* added to the ALPN list length */
	bool two_snis;            /* two server_name extensions */
	bool two_names;           /* two host_name entries in one */
	bool two_alpns;           /* two ALPN extensions */
	unsigned pad;             /* a padding extension of this many bytes */
	size_t split[4];          /* record boundaries in the handshake (0: none) */
	uint8_t hs_type;          /* 1 normally */
	unsigned rec_version;     /* 0x0301 normally */
};

static void spec_init(struct spec *s)
{
	memset(s, 0, sizeof(*s));
	s->sid_len = 32;
	s->cs_len = 4;
	s->comp_len = 1;
	s->hs_type = 1;
	s->rec_version = 0x0301;
}

static void build(const struct spec *s, struct buf *out)
{
	static struct buf hs, body, exts, e;
	size_t i, off, end;

	exts.n = 0;
	for (i = 0; i < (s->sni ? (s->two_snis ? 2u : 1u) : 0u); i++) {
		size_t nl = strlen(s->sni);

		e.n = 0;
		put16(&e, (unsigned)((3 + nl) * (s->two_names ? 2 : 1) + s->sni_list_delta));
		put8(&e, 0);
		put16(&e, (unsigned)nl);
		putn(&e, s->sni, nl);
		if (s->two_names) {
			put8(&e, 0);
			put16(&e, (unsigned)nl);
			putn(&e, s->sni, nl);
		}
		put16(&exts, 0);
		put16(&exts, (unsigned)e.n);
		putn(&exts, e.b, e.n);
	}
	for (i = 0; s->alpn[0] && i < (s->two_alpns ? 2u : 1u); i++) {
		size_t k, len = 0;

		for (k = 0; s->alpn[k]; k++)
			len += 1 + strlen(s->alpn[k]);
		e.n = 0;
		put16(&e, (unsigned)(len + s->alpn_list_delta));
		for (k = 0; s->alpn[k]; k++) {
			put8(&e, (unsigned)strlen(s->alpn[k]));
			putn(&e, s->alpn[k], strlen(s->alpn[k]));
		}
		put16(&exts, 16);
		put16(&exts, (unsigned)e.n);
		putn(&exts, e.b, e.n);
	}
	put16(&exts, 43);                       /* supported_versions */
	put16(&exts, 3);
	putn(&exts, "\x02\x03\x04", 3);
	if (s->pad) {
		put16(&exts, 21);
		put16(&exts, s->pad);
		memset(exts.b + exts.n, 0, s->pad);
		exts.n += s->pad;
	}
	body.n = 0;
	put16(&body, 0x0303);
	for (i = 0; i < 32; i++)
		put8(&body, (unsigned)i);
	put8(&body, s->sid_len);
	for (i = 0; i < s->sid_len; i++)
		put8(&body, 0xaa);
	put16(&body, s->cs_len);
	for (i = 0; i < s->cs_len; i++)
		put8(&body, 0x13);
	put8(&body, s->comp_len);
	for (i = 0; i < s->comp_len; i++)
		put8(&body, 0);
	if (!s->no_exts) {
		put16(&body, (unsigned)((int)exts.n + s->exts_len_delta));
		putn(&body, exts.b, exts.n);
	}
	hs.n = 0;
	put8(&hs, s->hs_type);
	put24(&hs, (unsigned)body.n);
	putn(&hs, body.b, body.n);
	out->n = 0;
	for (off = 0, i = 0; off < hs.n; i++) {
		end = i < 4 && s->split[i] && s->split[i] < hs.n ? s->split[i] : hs.n;
		while (end - off > TLS_RECORD_MAX)     /* a record holds 2^14 at most */
			end = off + TLS_RECORD_MAX;
		put8(out, TLS_HANDSHAKE);
		put16(out, s->rec_version);
		put16(out, (unsigned)(end - off));
		putn(out, hs.b + off, end - off);
		off = end;
	}
}

static const char *status_name(int st)
{
	switch (st) {
	case INSPECT_TLS_NEED_MORE: return "NEED_MORE";
	case INSPECT_TLS_DONE: return "DONE";
	case INSPECT_TLS_NOT_TLS: return "NOT_TLS";
	case INSPECT_TLS_MALFORMED: return "MALFORMED";
	default: return "?";
	}
}

/* Parse @b, and each prefix: NEED_MORE or the same answer. */
static int parse_all(const struct buf *b, struct inspect_tls_hello *h, const char **why)
{
	struct inspect_tls_hello p;
	size_t i, bad = 0;
	int final;

	*why = NULL;
	final = inspect_tls_parse(b->b, b->n, h, why);
	for (i = 0; i < b->n; i++) {
		int st = inspect_tls_parse(b->b, i, &p, NULL);

		if (st != INSPECT_TLS_NEED_MORE && st != final)
			bad++;
	}
	CHECK(bad == 0, "every prefix of %zu bytes is NEED_MORE or %s (%zu not)", b->n,
	      status_name(final), bad);
	return final;
}

static void expect(const char *what, const struct spec *s, int want, const char *want_why)
{
	static struct buf b;
	struct inspect_tls_hello h;
	const char *why;
	int st;

	build(s, &b);
	st = parse_all(&b, &h, &why);
	CHECK_EQ_STR(status_name(st), status_name(want), "%s: status", what);
	if (want_why)
		CHECK_EQ_STR(why, want_why, "%s: why", what);
}

static void test_good(void)
{
	static struct buf b;
	struct inspect_tls_hello h;
	const char *why;
	struct spec s;
	size_t splits[] = { 1, 3, 4, 5, 40, 100 };
	unsigned i;
	int st;

	UNIT_TEST("tls_good");
	spec_init(&s);
	s.sni = "www.example.com";
	s.alpn[0] = "h2";
	s.alpn[1] = "http/1.1";
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_DONE, "a ClientHello with SNI and ALPN");
	CHECK(h.has_sni, "SNI found");
	CHECK_EQ_STR(h.sni, "www.example.com", "SNI");
	CHECK(h.has_alpn && h.n_alpn == 2 && !h.alpn_truncated, "two ALPN names");
	CHECK(h.alpn_len[0] == 2 && !memcmp(h.alpn[0], "h2", 2), "ALPN[0] h2");
	CHECK(h.alpn_len[1] == 8 && !memcmp(h.alpn[1], "http/1.1", 8), "ALPN[1] http/1.1");
	CHECK_EQ_INT(h.version, 0x0303, "legacy_version");
	CHECK_EQ_INT(h.record_version, 0x0301, "record version");

	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		s.split[0] = splits[i];
		build(&s, &b);
		st = parse_all(&b, &h, &why);
		CHECK(st == INSPECT_TLS_DONE && !strcmp(h.sni, "www.example.com") && h.n_alpn == 2,
		      "handshake split into two records after byte %zu", splits[i]);
	}
	s.split[0] = 2;
	s.split[1] = 7;
	s.split[2] = 60;
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && !strcmp(h.sni, "www.example.com"), "split into four records");

	spec_init(&s);
	s.no_exts = true;
	expect("no extensions at all", &s, INSPECT_TLS_DONE, NULL);
	spec_init(&s);
	s.sid_len = 0;
	s.sni = "a";
	expect("no session id, one-letter name", &s, INSPECT_TLS_DONE, NULL);

	spec_init(&s);
	s.sni = "x.example";
	build(&s, &b);
	memcpy(b.b + b.n, "\x17\x03\x03\x00\x01\x00", 6);   /* early data after it */
	b.n += 6;
	st = inspect_tls_parse(b.b, b.n, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && !strcmp(h.sni, "x.example"), "bytes after the hello are ignored");

	spec_init(&s);
	s.sni = "big.example";
	s.pad = 14000;                /* a hello of two full records */
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && !strcmp(h.sni, "big.example"), "a 14 KB hello over 2 records");
}

static void test_alpn_limits(void)
{
	static char name255[256], name256[257], long_alpn[101];
	struct inspect_tls_hello h;
	static struct buf b;
	const char *why;
	struct spec s;
	int i, st;

	UNIT_TEST("tls_limits");
	spec_init(&s);
	for (i = 0; i < 10; i++)
		s.alpn[i] = i % 2 ? "h2" : "http/1.1";
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && h.n_alpn == INSPECT_TLS_ALPN_MAX && h.alpn_truncated,
	      "10 ALPN names: %d kept, marked truncated", INSPECT_TLS_ALPN_MAX);
	spec_init(&s);
	memset(long_alpn, 'p', 100);
	s.alpn[0] = long_alpn;
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && h.alpn_len[0] == INSPECT_TLS_ALPN_KEEP && h.alpn_truncated,
	      "a 100-byte ALPN name: %d bytes kept", INSPECT_TLS_ALPN_KEEP);
	memset(name255, 'a', 255);
	for (i = 63; i < 255; i += 64)
		name255[i] = '.';
	spec_init(&s);
	s.sni = name255;
	build(&s, &b);
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_DONE && strlen(h.sni) == 255, "a 255-byte server name");
	memset(name256, 'a', 256);
	spec_init(&s);
	s.sni = name256;
	expect("a 256-byte server name", &s, INSPECT_TLS_MALFORMED, "bad server name length");
	spec_init(&s);
	s.pad = 17000;
	expect("a hello larger than INSPECT_TLS_HELLO_MAX", &s, INSPECT_TLS_MALFORMED,
	       "ClientHello too large to inspect");
}

static void test_not_tls(void)
{
	struct inspect_tls_hello h;
	const char *why;
	struct spec s;
	int st;

	UNIT_TEST("tls_not_tls");
	st = inspect_tls_parse((const uint8_t *)"GET / HTTP/1.1\r\n", 16, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NOT_TLS, "HTTP");
	st = inspect_tls_parse((const uint8_t *)"\x80\x2e\x01\x03\x01", 5, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NOT_TLS, "an SSLv2 ClientHello");
	st = inspect_tls_parse((const uint8_t *)"\x17\x03\x03\x00\x10", 5, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NOT_TLS, "application data first");
	st = inspect_tls_parse((const uint8_t *)"\x16\x02", 2, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NOT_TLS, "record version 2.x");
	st = inspect_tls_parse((const uint8_t *)"\x16\x03\x05", 3, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NOT_TLS, "record version 3.5");
	st = inspect_tls_parse((const uint8_t *)"\x16", 1, &h, &why);
	CHECK_EQ_INT(st, INSPECT_TLS_NEED_MORE, "one handshake byte: NEED_MORE");
	spec_init(&s);
	s.hs_type = 2;
	expect("a ServerHello", &s, INSPECT_TLS_NOT_TLS, "first handshake message is not a ClientHello");
}

static void test_malformed(void)
{
	struct inspect_tls_hello h;
	static struct buf b;
	const char *why;
	struct spec s;
	int st;

	UNIT_TEST("tls_malformed");
	st = inspect_tls_parse((const uint8_t *)"\x16\x03\x01\x00\x00", 5, &h, &why);
	CHECK(st == INSPECT_TLS_MALFORMED && !strcmp(why, "bad record length"), "an empty record");
	st = inspect_tls_parse((const uint8_t *)"\x16\x03\x01\x40\x01", 5, &h, &why);
	CHECK(st == INSPECT_TLS_MALFORMED && !strcmp(why, "bad record length"), "a record over 2^14");
#define BAD(what, field, value, want_why) do { \
		spec_init(&s); s.sni = "a.example"; s.alpn[0] = "h2"; s.field = value; \
		expect(what, &s, INSPECT_TLS_MALFORMED, want_why); \
	} while (0)
	BAD("session id of 33 bytes", sid_len, 33, "bad session id");
	BAD("odd cipher suites length", cs_len, 3, "bad cipher suites");
	BAD("no cipher suites", cs_len, 0, "bad cipher suites");
	BAD("no compression methods", comp_len, 0, "bad compression methods");
	BAD("extensions length one too long", exts_len_delta, 1, "bad extensions length");
	BAD("extensions length one too short", exts_len_delta, -1, "bad extensions length");
	BAD("server_name list length too long", sni_list_delta, 1, "bad server_name list length");
	BAD("server_name list length too short", sni_list_delta, -1, "bad server_name list length");
	BAD("two server_name extensions", two_snis, true, "two server_name extensions");
	BAD("two host names in one", two_names, true, "two host names in server_name");
	BAD("two ALPN extensions", two_alpns, true, "two ALPN extensions");
	BAD("ALPN list length too long", alpn_list_delta, 1, "bad ALPN list length");
	BAD("ALPN list length too short", alpn_list_delta, -1, "bad ALPN list length");
	BAD("server name with '/'", sni, "a/b.example", "server name is not a host name");
	BAD("empty server name", sni, "", "bad server name length");
	BAD("empty ALPN name", alpn[0], "", "bad ALPN list length");

	spec_init(&s);
	s.sni = "x.example";
	s.split[0] = 50;
	build(&s, &b);
	b.b[5 + 50] = 0x15;          /* the second record is an alert */
	st = parse_all(&b, &h, &why);
	CHECK(st == INSPECT_TLS_MALFORMED && !strcmp(why, "ClientHello interrupted by another record"),
	      "a record of another type inside the hello");
}

/* Random damage to a good hello: never a crash, prefixes stay consistent. */
static void test_mutations(void)
{
	static struct buf good, b;
	struct inspect_tls_hello h;
	const char *why;
	struct spec s;
	unsigned seed = 12345, i, k, done = 0;

	UNIT_TEST("tls_mutations");
	spec_init(&s);
	s.sni = "mut.example";
	s.alpn[0] = "h2";
	s.split[0] = 30;
	build(&s, &good);
	for (i = 0; i < 300; i++) {
		b = good;
		for (k = 0; k < 1 + i % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			b.b[(seed >> 8) % b.n] = (uint8_t)(seed >> 20);
		}
		if (inspect_tls_parse(b.b, b.n, &h, &why) == INSPECT_TLS_DONE)
			done++;
		if (i % 50 == 0)
			parse_all(&b, &h, &why);
	}
	CHECK(1, "300 damaged hellos parsed without a crash (%u still DONE)", done);
}

static void test_inspector(void)
{
	static struct buf b;
	struct tls_state st = { 0 };
	struct inspect_flow f = { 0 };
	const char *reason = NULL;
	char line[512];
	struct json j;
	struct spec s;
	int v;

	UNIT_TEST("tls_inspector");
	spec_init(&s);
	s.sni = "log.example";
	s.alpn[0] = "h2";
	s.alpn[1] = "x\"y";
	build(&s, &b);
	v = tls_on_data(NULL, &st, &f, INSPECT_UP, b.b, 10, false, &reason);
	CHECK_EQ_INT(v, INSPECT_NEED_MORE, "the first 10 bytes: NEED_MORE");
	v = tls_on_data(NULL, &st, &f, INSPECT_UP, b.b, b.n, false, &reason);
	CHECK_EQ_INT(v, INSPECT_ALLOW, "all of it: ALLOW");
	json_begin(&j, line, sizeof(line));
	tls_log_fields(NULL, &st, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"tls_sni\":\"log.example\",\"tls_alpn\":[\"h2\",\"x\\\"y\"]}\n",
		     "log fields (escaped)");
	memset(&st, 0, sizeof(st));
	tls_on_data(NULL, &st, &f, INSPECT_UP, b.b, 10, true, &reason);
	json_begin(&j, line, sizeof(line));
	tls_log_fields(NULL, &st, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"tls_error\":\"incomplete ClientHello\"}\n", "cut short: the error");
}

int main(void)
{
	test_good();
	test_alpn_limits();
	test_not_tls();
	test_malformed();
	test_mutations();
	test_inspector();
	return unit_done();
}
