// SPDX-License-Identifier: MIT
/*
 * test_proxy_json.c - the log line builder (proxy/json.c): escaping of any
 * byte, arrays, nulls, and truncation that still leaves valid JSON.
 */
#include <stdio.h>
#include <string.h>

#include "unit.h"

#include "../../proxy/json.c"

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
	return unit_done();
}
