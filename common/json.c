// SPDX-License-Identifier: MIT
/*
 * json.c - one JSON object at a time, always valid, never overflowing; and
 * quoted strings on a stream. The one JSON escape (esc_byte).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

/* Room kept for "]", ",\"truncated\":true", "}\n" and the NUL. */
#define JSON_RESERVE 24

static size_t limit(const struct json *j)
{
	return j->cap - JSON_RESERVE;
}

/* Append @n bytes; false (and nothing written) if they do not fit. */
static bool put(struct json *j, const char *s, size_t n)
{
	if (j->len + n > limit(j))
		return false;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	return true;
}

static bool put_str(struct json *j, const char *s)
{
	return put(j, s, strlen(s));
}

/* @c as it is written inside a JSON string: into @e, its length. */
static size_t esc_byte(unsigned char c, char e[6])
{
	static const char hex[] = "0123456789abcdef";

	e[0] = '\\';
	switch (c) {
	case '"': e[1] = '"'; return 2;
	case '\\': e[1] = '\\'; return 2;
	case '\n': e[1] = 'n'; return 2;
	case '\r': e[1] = 'r'; return 2;
	case '\t': e[1] = 't'; return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	memcpy(e + 1, "u00", 3);
	e[4] = hex[c >> 4];
	e[5] = hex[c & 15];
	return 6;
}

/* A quoted, escaped string. */
static bool put_quoted(struct json *j, const unsigned char *s, size_t n)
{
	size_t i;
	char e[6];

	if (!put(j, "\"", 1))
		return false;
	for (i = 0; i < n; i++)
		if (!put(j, e, esc_byte(s[i], e)))
			return false;
	return put(j, "\"", 1);
}

void json_fput_str(FILE *f, const char *s)
{
	char e[6];

	fputc('"', f);
	for (; *s; s++)
		fwrite(e, 1, esc_byte((unsigned char)*s, e), f);
	fputc('"', f);
}

/* Start a member: the comma and "key":. */
static bool put_key(struct json *j, const char *key)
{
	if (!j->first && !put(j, ",", 1))
		return false;
	if (key && (!put_quoted(j, (const unsigned char *)key, strlen(key)) ||
		    !put(j, ":", 1)))
		return false;
	return true;
}

/* Every member goes through here: all of it, or none of it. */
#define MEMBER(j, body) do {					\
	size_t saved_ = (j)->len;				\
	if (body) {						\
		(j)->first = false;				\
	} else {						\
		(j)->len = saved_;				\
		(j)->truncated = true;				\
	}							\
} while (0)

void json_begin(struct json *j, char *buf, size_t cap)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->cap = cap;
	j->buf[0] = '{';
	j->len = 1;
	j->first = true;
}

void json_str(struct json *j, const char *key, const char *val)
{
	if (!val) {
		json_raw(j, key, "null");
		return;
	}
	json_strn(j, key, val, strlen(val));
}

void json_strn(struct json *j, const char *key, const void *val, size_t n)
{
	MEMBER(j, put_key(j, key) && put_quoted(j, val, n));
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	json_raw(j, key, num);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	json_raw(j, key, num);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_raw(j, key, v ? "true" : "false");
}

void json_raw(struct json *j, const char *key, const char *text)
{
	MEMBER(j, put_key(j, key) && put_str(j, text));
}

void json_array_begin(struct json *j, const char *key)
{
	size_t saved = j->len;

	if (put_key(j, key) && put(j, "[", 1)) {
		j->in_array = true;
		j->first = true;
	} else {
		/* The elements and the end are skipped: see skip(). */
		j->len = saved;
		j->truncated = true;
		j->in_array = false;
	}
}

/* Elements of an array whose opening did not fit are skipped. */
static bool skip(const struct json *j)
{
	return !j->in_array;
}

void json_array_strn(struct json *j, const void *val, size_t n)
{
	if (skip(j))
		return;
	MEMBER(j, put_key(j, NULL) && put_quoted(j, val, n));
}

void json_array_u64(struct json *j, uint64_t v)
{
	char num[24];

	if (skip(j))
		return;
	snprintf(num, sizeof(num), "%" PRIu64, v);
	MEMBER(j, put_key(j, NULL) && put_str(j, num));
}

void json_array_end(struct json *j)
{
	if (!j->in_array)
		return;
	/* Always fits: the reserve keeps room for it. */
	j->buf[j->len++] = ']';
	j->in_array = false;
	j->first = false;
}

size_t json_end(struct json *j)
{
	static const char tr[] = ",\"truncated\":true";

	json_array_end(j);
	if (j->truncated) {
		if (j->first) {
			memcpy(j->buf + j->len, tr + 1, sizeof(tr) - 2);
			j->len += sizeof(tr) - 2;
		} else {
			memcpy(j->buf + j->len, tr, sizeof(tr) - 1);
			j->len += sizeof(tr) - 1;
		}
	}
	j->buf[j->len++] = '}';
	j->buf[j->len++] = '\n';
	j->buf[j->len] = 0;
	return j->len;
}
