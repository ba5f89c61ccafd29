// SPDX-License-Identifier: MIT
/*
 * fuzz_http.c - libFuzzer target for the http inspector's request-head
 * parser (proxy/inspect_http.c) and the block inspector's host matching.
 *
 *	make build/fuzz/fuzz_http
 *	build/fuzz/fuzz_http -max_total_time=60 fuzz/corpus/http
 *
 * The input is a client's first bytes (copied to a heap buffer of exactly
 * its size, so AddressSanitizer sees any read past the end). Checked: what
 * the parser reports is within its bounds; a prefix of the input gives
 * NEED_MORE or the same answer as the whole; the log fields are one valid
 * JSON object; host names taken from the head match a rule only as the
 * rule says.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/inspect_http.c"
#include "../proxy/inspect_tls.c"
#include "../proxy/inspect_block.c"

#include "fuzz.h"

static void check_req(const struct inspect_http_req *r, int st, size_t n)
{
	FUZZ_ASSERT(st >= INSPECT_HTTP_NEED_MORE && st <= INSPECT_HTTP_MALFORMED);
	FUZZ_ASSERT(strlen(r->method) <= INSPECT_HTTP_METHOD_MAX);
	FUZZ_ASSERT(r->target_len <= INSPECT_HTTP_KEEP && r->target[r->target_len] == 0);
	FUZZ_ASSERT(strlen(r->target) == r->target_len);   /* no NUL inside */
	FUZZ_ASSERT(strlen(r->host) <= INSPECT_HTTP_KEEP);
	FUZZ_ASSERT(strlen(r->authority) <= INSPECT_HTTP_KEEP);
	FUZZ_ASSERT(strlen(r->version) <= 8);
	if (st == INSPECT_HTTP_DONE)
		FUZZ_ASSERT(r->line_done && r->head_len >= 13 && r->head_len <= n);
	if (st == INSPECT_HTTP_MALFORMED)
		FUZZ_ASSERT(r->line_done);
	if (r->has_host || r->has_authority)
		FUZZ_ASSERT(r->line_done);
}

static void check_match(const char *host)
{
	static struct inspect_block_rule exact, wild;
	static int ready;
	char name[INSPECT_HTTP_KEEP + 1];
	size_t n;

	if (!ready) {
		FUZZ_ASSERT(!inspect_block_parse_rule("host:evil.example", &exact, NULL));
		FUZZ_ASSERT(!inspect_block_parse_rule("host:*.ads.example", &wild, NULL));
		ready = 1;
	}
	if (inspect_block_host_name(host, name, sizeof(name)))
		return;
	n = strlen(name);
	if (n && name[n - 1] == '.')
		name[--n] = 0;
	if (inspect_block_match_name(&exact, name))
		FUZZ_ASSERT(!strcasecmp(name, "evil.example"));
	if (inspect_block_match_name(&wild, name))
		FUZZ_ASSERT(n > 12 && !strcasecmp(name + n - 12, ".ads.example"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inspect_http_req r, p;
	struct http_state s;
	char line[4096];
	struct json j;
	const char *why = NULL;
	uint8_t *buf;
	size_t i, step;
	int st, ps;

	if (size > INSPECT_WINDOW)
		size = INSPECT_WINDOW;          /* the proxy never shows more */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	st = inspect_http_parse(buf, size, &r, &why);
	check_req(&r, st, size);
	if (st == INSPECT_HTTP_NOT_HTTP || st == INSPECT_HTTP_MALFORMED)
		FUZZ_ASSERT(why && *why);

	/* Prefixes: all of them for short inputs, a sample for long ones. */
	step = size <= 512 ? 1 : size / 128;
	for (i = 0; i < size; i += step) {
		ps = inspect_http_parse(buf, i, &p, NULL);
		check_req(&p, ps, i);
		FUZZ_ASSERT(ps == INSPECT_HTTP_NEED_MORE || ps == st);
		if (p.has_host) {   /* a Host seen early is the same later */
			FUZZ_ASSERT(r.has_host && !strcmp(p.host, r.host));
		}
	}

	if (r.has_host)
		check_match(r.host);
	if (r.has_authority)
		check_match(r.authority);

	memset(&s, 0, sizeof(s));
	s.req = r;
	s.status = st;
	s.why = why;
	json_begin(&j, line, sizeof(line));
	http_log_fields(NULL, &s, &j);
	FUZZ_ASSERT(json_end(&j) == strlen(line));
	FUZZ_ASSERT(line[0] == '{' && !strcmp(line + strlen(line) - 2, "}\n"));
	free(buf);
	return 0;
}
