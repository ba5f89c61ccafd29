// SPDX-License-Identifier: MIT
/*
 * test_common.c - common/: the one JSON writer (common/json.c: escaping of
 * any byte, arrays, nulls, truncation that still leaves valid JSON, quoted
 * strings on a stream) and the one terminal escape (common/escape.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "json.h"
#include "unit.h"


/* A small JSON validator: objects, arrays, strings, numbers, literals. */
static const char *value(const char *p);

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\n')
		p++;
	return p;
}

static const char *string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *value(const char *p)
{
	p = ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = string(ws(p));
				if (!p || *(p = ws(p)) != ':')
					return NULL;
				p++;
			}
			p = value(p);
			if (!p)
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return string(p);
	if (!strncmp(p, "null", 4) || !strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		p++;
		while ((*p >= '0' && *p <= '9') || *p == '.')
			p++;
		return p;
	}
	return NULL;
}

static bool valid(const char *s)
{
	const char *end = value(s);

	return end && !strcmp(end, "\n");
}

/* Nothing a terminal acts on: printable ASCII, and '\n' '\t' if @lines. */
static bool inert(const char *s, bool lines)
{
	for (; *s; s++) {
		unsigned char c = *s;

		if ((c < 0x20 || c >= 0x7f) && !(lines && (c == '\n' || c == '\t')))
			return false;
	}
	return true;
}

static void test_escape(void)
{
	char all[256], out[2048], small[10], *text = NULL;
	size_t n, len = 0;
	bool cut;
	FILE *f;
	int i, p[2];

	UNIT_TEST("escape");
	for (i = 0; i < 256; i++)
		all[i] = (char)(i ? i : 'x');
	n = crd_esc_mem(out, sizeof(out), all, sizeof(all), false, &cut);
	CHECK(!cut && n == strlen(out) && inert(out, false),
	      "all 256 bytes: only printable ASCII comes out");
	CHECK(strstr(out, "\\x1b") && strstr(out, "\\x7f\\x80") && strstr(out, "\\xff") &&
	      strstr(out, "\\x0a\\x0b"), "ESC, DEL, bytes >= 0x80 and '\\n' as \\xNN");
	CHECK(strstr(out, "[\\\\]"), "a backslash doubled: %s", "[\\\\]");
	CHECK_EQ_STR(crd_esc("comm\033[2J\xc3\xa9", out, sizeof(out)), "comm\\x1b[2J\\xc3\\xa9",
		     "an escape sequence and UTF-8 as \\xNN");
	crd_esc_mem(out, sizeof(out), "a\nb\tc\r\\", 7, true, NULL);
	CHECK_EQ_STR(out, "a\nb\tc\\x0d\\", "keep_lines keeps '\\n', '\\t' and '\\\\' only");
	n = crd_esc_mem(small, sizeof(small), "abcdef\033\033", 8, false, &cut);
	CHECK(cut && n == 6 && !strcmp(small, "abcdef"), "cut between whole escapes: %s", small);
	crd_esc_mem(small, 1, "abc", 3, false, &cut);
	CHECK(cut && !small[0], "a 1-byte buffer: empty, cut");

	/* The stream: what goes through it reaches the descriptor escaped. */
	if (pipe(p)) {
		CHECK(0, "pipe");
		return;
	}
	f = crd_esc_stream(p[1]);
	CHECK(f != NULL, "crd_esc_stream");
	if (!f)
		return;
	for (i = 0; i < 3000; i++)   /* more than one internal buffer */
		fputc(i % 3 ? 'a' : 0x1b, f);
	fputs("\nend\n", f);
	fclose(f);
	close(p[1]);
	f = fdopen(p[0], "r");
	if (f) {
		while (getdelim(&text, &len, 0, f) > 0)
			break;
		fclose(f);
	}
	CHECK(text && strlen(text) == 1000 * 4 + 2000 + 5 && inert(text, true) &&
	      !strcmp(text + strlen(text) - 5, "\nend\n"),
	      "the stream escapes every write, keeps lines, loses nothing");
	free(text);
}

static void test_json_stream(void)
{
	char all[256], *text = NULL;
	size_t len = 0;
	FILE *f;
	int i;

	UNIT_TEST("json_fput_str");
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = 0;
	f = open_memstream(&text, &len);
	if (!f) {
		CHECK(0, "open_memstream");
		return;
	}
	fputc('{', f);
	json_fput_str(f, "k");
	fputc(':', f);
	json_fput_str(f, all);
	fputs("}\n", f);
	fclose(f);
	CHECK(valid(text) && inert(text, true), "bytes 1..255: valid JSON, ASCII only");
	CHECK(strstr(text, "\\u007f\\u0080") && strstr(text, "\\u00ff\"") &&
	      strstr(text, "\\u001b") && strstr(text, "\\\"") && strstr(text, "\\\\"),
	      "as the buffer writer escapes them (\\u00XX, \\\", \\\\)");
	free(text);
}

int main(void)
{
	char buf[8192], all[256];
	struct json j;
	size_t n;
	int i;

	UNIT_TEST("json");
	json_begin(&j, buf, sizeof(buf));
	n = json_end(&j);
	CHECK_EQ_STR(buf, "{}\n", "an empty object");
	CHECK_EQ_INT(n, 3, "its length");

	json_begin(&j, buf, sizeof(buf));
	json_str(&j, "s", "a\"b\\c\n\t\r");
	json_str(&j, "n", NULL);
	json_u64(&j, "u", 18446744073709551615ull);
	json_i64(&j, "i", -5);
	json_bool(&j, "t", true);
	json_raw(&j, "r", "1.500");
	json_array_begin(&j, "a");
	json_array_u64(&j, 1);
	json_array_strn(&j, "x", 1);
	json_array_end(&j);
	json_array_begin(&j, "e");
	json_array_end(&j);
	json_end(&j);
	CHECK_EQ_STR(buf, "{\"s\":\"a\\\"b\\\\c\\n\\t\\r\",\"n\":null,\"u\":18446744073709551615,"
		     "\"i\":-5,\"t\":true,\"r\":1.500,\"a\":[1,\"x\"],\"e\":[]}\n", "every kind of member");
	CHECK(valid(buf), "valid JSON");

	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	json_begin(&j, buf, sizeof(buf));
	json_strn(&j, "bytes", all, sizeof(all));
	json_end(&j);
	CHECK(valid(buf), "all 256 byte values give valid JSON");
	CHECK(strstr(buf, "\\u0000\\u0001") && strstr(buf, "\\u007f\\u0080") && strstr(buf, "\\u00ff\""),
	      "control and non-ASCII bytes as \\u00XX");
	CHECK(strstr(buf, " !\\\"#"), "printable ASCII as is, '\"' escaped");

	for (size_t cap = 64; cap <= 400; cap += 7) {
		char small[400];
		bool ok = true;

		json_begin(&j, small, cap);
		for (i = 0; i < 20; i++) {
			json_str(&j, "key", "a value with \"quotes\" and \x01");
			json_array_begin(&j, "arr");
			json_array_strn(&j, "elem", 4);
			json_array_u64(&j, 42);
			json_array_end(&j);
		}
		n = json_end(&j);
		ok = valid(small) && n < cap && strstr(small, "\"truncated\":true}\n");
		if (!ok) {
			CHECK(0, "truncated into %zu bytes: valid JSON marked truncated: %s", cap, small);
			break;
		}
		if (cap + 7 > 400)
			CHECK(1, "truncated into 64..400 bytes: always valid JSON, marked truncated");
	}
	json_begin(&j, buf, 64);
	json_array_begin(&j, "a_key_so_long_that_the_array_does_not_fit_at_all_in_sixty_four");
	json_array_u64(&j, 1);
	json_array_end(&j);
	json_u64(&j, "k", 2);
	json_end(&j);
	CHECK(valid(buf) && !strcmp(buf, "{\"k\":2,\"truncated\":true}\n"),
	      "an array whose opening does not fit is left out whole: %s", buf);
	test_json_stream();
	test_escape();
	return unit_done();
}
