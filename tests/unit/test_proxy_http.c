// SPDX-License-Identifier: MIT
/*
 * test_proxy_http.c - the http inspector's request-head parser
 * (proxy/inspect_http.c): what it finds, what is not HTTP, what is
 * malformed, and that every prefix of a head says NEED_MORE or the final
 * answer, never something else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#include "../../proxy/inspect_http.c"

static const char *status_name(int st)
{
	switch (st) {
	case INSPECT_HTTP_NEED_MORE: return "NEED_MORE";
	case INSPECT_HTTP_DONE: return "DONE";
	case INSPECT_HTTP_NOT_HTTP: return "NOT_HTTP";
	case INSPECT_HTTP_MALFORMED: return "MALFORMED";
	default: return "?";
	}
}

static int parse(const char *s, struct inspect_http_req *r, const char **why)
{
	*why = NULL;
	return inspect_http_parse((const uint8_t *)s, strlen(s), r, why);
}

/* Every proper prefix is NEED_MORE or the final status; returns the final. */
static int parse_prefixes(const char *s, size_t n, struct inspect_http_req *r,
			  const char **why)
{
	struct inspect_http_req p;
	int final = inspect_http_parse((const uint8_t *)s, n, r, why);
	size_t i, bad = 0;

	for (i = 0; i < n; i++) {
		int st = inspect_http_parse((const uint8_t *)s, i, &p, NULL);

		if (st != INSPECT_HTTP_NEED_MORE && st != final)
			bad++;
	}
	CHECK(bad == 0, "every prefix of a %zu-byte input is NEED_MORE or %s (%zu not)",
	      n, status_name(final), bad);
	return final;
}

static void expect(const char *what, const char *s, int want, const char *want_why)
{
	struct inspect_http_req r;
	const char *why = NULL;
	int st = parse_prefixes(s, strlen(s), &r, &why);

	CHECK_EQ_STR(status_name(st), status_name(want), "%s: status", what);
	if (want_why)
		CHECK_EQ_STR(why, want_why, "%s: why", what);
}

static void test_complete(void)
{
	static const char req[] = "GET /index.html?q=1 HTTP/1.1\r\n"
				  "User-Agent: curl/7.88.1\r\n"
				  "Host: www.example.com:8080\r\n"
				  "Accept: */*\r\n\r\nBODY";
	struct inspect_http_req r;
	const char *why;
	int st;

	UNIT_TEST("http_complete");
	st = parse_prefixes(req, strlen(req), &r, &why);
	CHECK_EQ_INT(st, INSPECT_HTTP_DONE, "a GET head is DONE");
	CHECK_EQ_STR(r.method, "GET", "method");
	CHECK_EQ_STR(r.target, "/index.html?q=1", "target");
	CHECK_EQ_INT(r.target_len, 15, "target length");
	CHECK_EQ_STR(r.version, "HTTP/1.1", "version");
	CHECK(r.has_host, "Host found");
	CHECK_EQ_STR(r.host, "www.example.com:8080", "Host value");
	CHECK(!r.has_authority, "an origin-form target has no authority");
	CHECK_EQ_INT(r.head_len, strlen(req) - 4, "head_len stops at the empty line");

	st = parse("POST /x HTTP/1.0\nhOsT:\t a.example \t\n\n", &r, &why);
	CHECK_EQ_INT(st, INSPECT_HTTP_DONE, "LF line ends, HTTP/1.0");
	CHECK_EQ_STR(r.host, "a.example", "Host value trimmed, name without case");
	CHECK_EQ_STR(r.version, "HTTP/1.0", "version 1.0");

	st = parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && r.has_host && !r.host[0], "an empty Host is a Host");
	st = parse("GET / HTTP/1.0\r\nX: y\r\n\r\n", &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && !r.has_host, "no Host header: has_host false");
	st = parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nY:z\r\n\r\n", &r, &why);
	CHECK_EQ_INT(st, INSPECT_HTTP_DONE, "empty and unspaced field values");
	st = parse("OPTIONS * HTTP/1.1\r\n\r\n", &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && !strcmp(r.target, "*"), "asterisk-form target");
	st = parse("M-SEARCH * HTTP/1.1\r\n\r\n", &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && !strcmp(r.method, "M-SEARCH"), "method with '-'");
}

static void test_partial(void)
{
	struct inspect_http_req r;
	const char *why;
	int st;

	UNIT_TEST("http_partial");
	st = parse("", &r, &why);
	CHECK_EQ_INT(st, INSPECT_HTTP_NEED_MORE, "nothing yet: NEED_MORE");
	st = parse("GET / HTTP/1.1\r\nHost: a.example\r\nAccept: x", &r, &why);
	CHECK_EQ_INT(st, INSPECT_HTTP_NEED_MORE, "in the headers: NEED_MORE");
	CHECK(r.line_done && r.has_host && !strcmp(r.host, "a.example"),
	      "a partial head already has the request line and a complete Host");
	st = parse("GET / HTTP/1.1\r\nHost: a.exa", &r, &why);
	CHECK(st == INSPECT_HTTP_NEED_MORE && !r.has_host, "a Host line not ended is not taken");
	st = parse("GET / HTTP/1.1\r", &r, &why);
	CHECK(st == INSPECT_HTTP_NEED_MORE && !r.line_done, "request line without its LF");
}

static void test_not_http(void)
{
	UNIT_TEST("http_not_http");
	expect("TLS record", "\x16\x03\x01\x00\x05hello", INSPECT_HTTP_NOT_HTTP, "no request method");
	expect("lower-case method", "get / HTTP/1.1\r\n\r\n", INSPECT_HTTP_NOT_HTTP, "no request method");
	expect("SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", INSPECT_HTTP_NOT_HTTP, "no request method");
	expect("method too long", "ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n", INSPECT_HTTP_NOT_HTTP,
	       "method too long");
	expect("HTTP/0.9", "GET /\r\n", INSPECT_HTTP_NOT_HTTP, "bad request target");
	expect("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", INSPECT_HTTP_NOT_HTTP,
	       "not HTTP/1.x");
	expect("two spaces", "GET  / HTTP/1.1\r\n", INSPECT_HTTP_NOT_HTTP, "bad request target");
	expect("control in target", "GET /a\x01 HTTP/1.1\r\n", INSPECT_HTTP_NOT_HTTP,
	       "bad request target");
	expect("version letters", "GET / HTTP/1.x\r\n", INSPECT_HTTP_NOT_HTTP, "not HTTP/1.x");
	expect("junk after version", "GET / HTTP/1.1 x\r\n", INSPECT_HTTP_NOT_HTTP,
	       "bad end of request line");
	expect("CR then junk", "GET / HTTP/1.1\rX", INSPECT_HTTP_NOT_HTTP, "bad end of request line");
	expect("SMTP-like", "EHLO mail.example\r\n", INSPECT_HTTP_NOT_HTTP, "bad request target");
	expect("FTP-like", "USER anonymous x\r\n", INSPECT_HTTP_NOT_HTTP, "not HTTP/1.x");
	{
		char *big = malloc(INSPECT_HTTP_LINE_MAX + 64);

		memcpy(big, "GET /", 5);
		memset(big + 5, 'a', INSPECT_HTTP_LINE_MAX);
		strcpy(big + 5 + INSPECT_HTTP_LINE_MAX, " HTTP/1.1\r\n\r\n");
		expect("target longer than INSPECT_HTTP_LINE_MAX", big, INSPECT_HTTP_NOT_HTTP,
		       "request target too long");
		free(big);
	}
}

static void test_malformed(void)
{
	char host[400];

	UNIT_TEST("http_malformed");
	expect("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHOST: b\r\n\r\n",
	       INSPECT_HTTP_MALFORMED, "duplicate Host header");
	expect("obsolete line folding", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
	       INSPECT_HTTP_MALFORMED, "obsolete line folding");
	expect("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	       INSPECT_HTTP_MALFORMED, "bad header field name");
	expect("no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "bad header field name");
	expect("empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "bad header field name");
	{
		static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
		struct inspect_http_req r;
		const char *why = NULL;
		int st = parse_prefixes(nul, sizeof(nul) - 1, &r, &why);

		CHECK(st == INSPECT_HTTP_MALFORMED && why &&
		      !strcmp(why, "control character in header field"), "NUL in a value: MALFORMED");
	}
	expect("DEL in a value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "control character in header field");
	expect("bare CR in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "bare CR in header field");
	expect("CR then junk at the end", "GET / HTTP/1.1\r\nHost: a\r\n\rX", INSPECT_HTTP_MALFORMED,
	       "bad end of header section");
	expect("space inside Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "bad character in Host header");
	expect("slash in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", INSPECT_HTTP_MALFORMED,
	       "bad character in Host header");
	snprintf(host, sizeof(host), "GET / HTTP/1.1\r\nHost: %0300d\r\n\r\n", 0);
	expect("Host over 255 bytes", host, INSPECT_HTTP_MALFORMED, "Host header too long");
	{
		struct inspect_http_req r;
		const char *why;

		parse("GET / HTTP/1.1\r\nHost: first\r\nHost: second\r\n\r\n", &r, &why);
		CHECK(r.has_host && !strcmp(r.host, "first"), "a malformed head keeps the first Host");
	}
}

static void test_targets(void)
{
	struct inspect_http_req r;
	const char *why;
	char big[600];
	int st;

	UNIT_TEST("http_targets");
	st = parse("GET http://u:p@Evil.Example:80/x?y HTTP/1.1\r\nHost: good\r\n\r\n", &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && r.has_authority, "absolute-form: an authority");
	CHECK_EQ_STR(r.authority, "Evil.Example:80", "absolute-form: user info dropped");
	st = parse("GET HTTPS://a.example HTTP/1.1\r\n\r\n", &r, &why);
	CHECK_EQ_STR(r.authority, "a.example", "https, any case, no path");
	st = parse("CONNECT evil.example:443 HTTP/1.1\r\n\r\n", &r, &why);
	CHECK(r.has_authority && !strcmp(r.authority, "evil.example:443"),
	      "CONNECT: the target is the authority");
	st = parse("GET ftp://a.example/ HTTP/1.1\r\n\r\n", &r, &why);
	CHECK(!r.has_authority, "other schemes: no authority");
	snprintf(big, sizeof(big), "GET /%0400d HTTP/1.1\r\n\r\n", 7);
	st = parse(big, &r, &why);
	CHECK(st == INSPECT_HTTP_DONE && r.target_truncated && r.target_len == INSPECT_HTTP_KEEP &&
	      strlen(r.target) == INSPECT_HTTP_KEEP, "a long target is kept truncated");
	snprintf(big, sizeof(big), "GET http://%0300d/ HTTP/1.1\r\n\r\n", 7);
	st = parse(big, &r, &why);
	CHECK(r.has_authority && r.authority_truncated, "a long authority is marked truncated");
}

static void test_inspector(void)
{
	static const char req[] = "GET /p HTTP/1.1\r\nHost: h.example\r\n\r\n";
	struct http_state s = { 0 };
	struct inspect_flow f = { 0 };
	const char *reason = NULL;
	char line[1024];
	struct json j;
	int v;

	UNIT_TEST("http_inspector");
	v = http_on_data(NULL, &s, &f, INSPECT_DOWN, (const uint8_t *)"HTTP/1.1 200", 12, false, &reason);
	CHECK_EQ_INT(v, INSPECT_NEED_MORE, "server bytes: still needs the client's");
	v = http_on_data(NULL, &s, &f, INSPECT_UP, (const uint8_t *)req, 20, false, &reason);
	CHECK_EQ_INT(v, INSPECT_NEED_MORE, "half a head: NEED_MORE");
	v = http_on_data(NULL, &s, &f, INSPECT_UP, (const uint8_t *)req, sizeof(req) - 1, false, &reason);
	CHECK_EQ_INT(v, INSPECT_ALLOW, "the whole head: ALLOW");
	json_begin(&j, line, sizeof(line));
	http_log_fields(NULL, &s, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"http_method\":\"GET\",\"http_target\":\"/p\",\"http_version\":"
		     "\"HTTP/1.1\",\"http_host\":\"h.example\"}\n", "log fields");
	memset(&s, 0, sizeof(s));
	v = http_on_data(NULL, &s, &f, INSPECT_UP, (const uint8_t *)"\x16\x03", 2, false, &reason);
	CHECK_EQ_INT(v, INSPECT_ALLOW, "not HTTP: ALLOW at once");
	json_begin(&j, line, sizeof(line));
	http_log_fields(NULL, &s, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{}\n", "not HTTP: no log fields");
	memset(&s, 0, sizeof(s));
	http_on_data(NULL, &s, &f, INSPECT_UP, (const uint8_t *)"GET /\"x HTTP/1.1\r\nHost", 22, true,
		     &reason);
	json_begin(&j, line, sizeof(line));
	http_log_fields(NULL, &s, &j);
	json_end(&j);
	CHECK_EQ_STR(line, "{\"http_method\":\"GET\",\"http_target\":\"/\\\"x\",\"http_version\":"
		     "\"HTTP/1.1\",\"http_host\":null,\"http_error\":\"incomplete request head\"}\n",
		     "cut short: what was read, escaped, and the error");
}

int main(void)
{
	test_complete();
	test_partial();
	test_not_http();
	test_malformed();
	test_targets();
	test_inspector();
	return unit_done();
}
