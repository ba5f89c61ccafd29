// SPDX-License-Identifier: MIT
/*
 * fuzz_tls.c - libFuzzer target for the tls inspector's ClientHello parser
 * (proxy/inspect_tls.c) and the block inspector's SNI matching.
 *
 *	make build/fuzz/fuzz_tls
 *	build/fuzz/fuzz_tls -max_total_time=60 fuzz/corpus/tls
 *
 * The input is a client's first bytes (copied to a heap buffer of exactly
 * its size). Checked: the parser stays in bounds (AddressSanitizer), what
 * it reports is within its limits and is a host name, a prefix of the input
 * gives NEED_MORE or the same answer as the whole, the log fields are one
 * JSON object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/inspect_http.c"
#include "../proxy/inspect_tls.c"
#include "../proxy/inspect_block.c"

#include "fuzz.h"

static void check_hello(const struct inspect_tls_hello *h, int st)
{
	size_t i, n = strlen(h->sni);

	FUZZ_ASSERT(st >= INSPECT_TLS_NEED_MORE && st <= INSPECT_TLS_MALFORMED);
	FUZZ_ASSERT(h->n_alpn <= INSPECT_TLS_ALPN_MAX);
	for (i = 0; i < h->n_alpn; i++)
		FUZZ_ASSERT(h->alpn_len[i] >= 1 && h->alpn_len[i] <= INSPECT_TLS_ALPN_KEEP);
	if (h->n_alpn)
		FUZZ_ASSERT(h->has_alpn);
	if (h->has_sni) {
		FUZZ_ASSERT(n >= 1 && n <= 255);
		for (i = 0; i < n; i++)
			FUZZ_ASSERT(is_name_char((uint8_t)h->sni[i]));
	} else {
		FUZZ_ASSERT(n == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct inspect_block_rule wild;
	static int ready;
	struct inspect_tls_hello h, p;
	struct tls_state s;
	char line[4096];
	struct json j;
	const char *why = NULL;
	uint8_t *buf;
	size_t i, step;
	int st, ps;

	if (!ready) {
		FUZZ_ASSERT(!inspect_block_parse_rule("sni:*.ads.example", &wild, NULL));
		ready = 1;
	}
	if (size > INSPECT_WINDOW)
		size = INSPECT_WINDOW;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	st = inspect_tls_parse(buf, size, &h, &why);
	check_hello(&h, st);
	if (st == INSPECT_TLS_NOT_TLS || st == INSPECT_TLS_MALFORMED)
		FUZZ_ASSERT(why && *why);

	step = size <= 512 ? 1 : size / 128;
	for (i = 0; i < size; i += step) {
		ps = inspect_tls_parse(buf, i, &p, NULL);
		check_hello(&p, ps);
		FUZZ_ASSERT(ps == INSPECT_TLS_NEED_MORE || ps == st);
		if (ps == INSPECT_TLS_DONE)   /* the same hello, the same findings */
			FUZZ_ASSERT(!strcmp(p.sni, h.sni) && p.n_alpn == h.n_alpn);
	}

	if (h.has_sni && inspect_block_match_name(&wild, h.sni)) {
		size_t n = strlen(h.sni) - (h.sni[strlen(h.sni) - 1] == '.');

		FUZZ_ASSERT(n > 12 && !strncasecmp(h.sni + n - 12, ".ads.example", 12));
	}

	memset(&s, 0, sizeof(s));
	s.hello = h;
	s.status = st;
	s.why = why;
	s.seen = size > 0;
	json_begin(&j, line, sizeof(line));
	tls_log_fields(NULL, &s, &j);
	FUZZ_ASSERT(json_end(&j) == strlen(line));
	FUZZ_ASSERT(line[0] == '{' && !strcmp(line + strlen(line) - 2, "}\n"));
	free(buf);
	return 0;
}
