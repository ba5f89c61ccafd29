// SPDX-License-Identifier: MIT
/*
 * fuzz_escape.c - the terminal escape and the JSON writer (common/) on
 * arbitrary bytes: the escaped text holds only printable ASCII (and '\n',
 * '\t' when kept), reads back to the input (field mode),
 * and a JSON string of any bytes is printable ASCII too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Undo crd_esc_mem(): @s back into bytes at @out; its length. */
static size_t unescape(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		if (*s != '\\') {
			out[n++] = (uint8_t)*s++;
		} else if (s[1] == '\\') {
			out[n++] = '\\';
			s += 2;
		} else {
			FUZZ_ASSERT(s[1] == 'x' && s[2] && s[3]);
			out[n++] = (uint8_t)strtoul((char[]){ s[2], s[3], 0 }, NULL, 16);
			s += 4;
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size ? data[0] % 64 + 1 : 1, n, i, back_n;
	char *out = malloc(size * 4 + 1), *small = malloc(cap), json[4096];
	uint8_t *back = malloc(size + 1);
	struct json j;
	bool cut;
	int keep;

	FUZZ_ASSERT(out && small && back);
	for (keep = 0; keep < 2; keep++) {
		n = crd_esc_mem(out, size * 4 + 1, data, size, keep, &cut);
		FUZZ_ASSERT(!cut && n == strlen(out));
		for (i = 0; i < n; i++) {
			unsigned char c = out[i];

			FUZZ_ASSERT((c >= 0x20 && c < 0x7f) || (keep && (c == '\n' || c == '\t')));
		}
		if (!keep) {
			back_n = unescape(out, back);
			FUZZ_ASSERT(back_n == size && !memcmp(back, data, size));
		}
		n = crd_esc_mem(small, cap, data, size, keep, &cut);
		FUZZ_ASSERT(n < cap && n == strlen(small) && !strncmp(small, out, n));
	}
	json_begin(&j, json, sizeof(json));
	json_strn(&j, "k", data, size);
	n = json_end(&j);
	for (i = 0; i < n; i++)
		FUZZ_ASSERT((json[i] >= 0x20 && json[i] < 0x7f) || json[i] == '\n');
	free(out);
	free(small);
	free(back);
	return 0;
}
