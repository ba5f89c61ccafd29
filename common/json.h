/* SPDX-License-Identifier: MIT */
/*
 * json.h - the one JSON writer of connredir and connredir-proxy: building
 * one JSON object (a log line) in a caller's buffer, and quoted strings on
 * a stream (json_fput_str) for the CLI's output.
 *
 * Every function appends one member (or array element) whole or not at all:
 * a member that does not fit is left out and the object is marked
 * truncated, so json_end() always gives valid JSON. Strings are escaped:
 * '"', '\\' and control characters as JSON escapes, and bytes >= 0x7f as
 * \u00XX (the bytes read as Latin-1), so any byte string gives valid,
 * lossless JSON text.
 */
#ifndef CONNREDIR_COMMON_JSON_H
#define CONNREDIR_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	char *buf;       /* the caller's buffer */
	size_t cap;      /* its size; at least 64 */
	size_t len;      /* bytes written */
	bool first;      /* no member (or element) yet at this level */
	bool in_array;   /* inside json_array_begin() */
	bool truncated;  /* a member was left out */
};

/* json_begin - start an object in @buf of @cap bytes (>= 64). */
void json_begin(struct json *j, char *buf, size_t cap);

/* json_str - "key":"value" (NULL @val: "key":null). */
void json_str(struct json *j, const char *key, const char *val);

/* json_strn - "key":"..." from @n bytes at @val, which may hold any byte. */
void json_strn(struct json *j, const char *key, const void *val, size_t n);

/* json_u64, json_i64 - "key":N. */
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);

/* json_bool - "key":true|false. */
void json_bool(struct json *j, const char *key, bool v);

/* json_raw - "key":TEXT, TEXT already valid JSON (a number, null). */
void json_raw(struct json *j, const char *key, const char *text);

/*
 * json_array_begin - "key":[ ; then json_array_str()/json_array_u64()
 * elements, then json_array_end(). Arrays do not nest. If the opening does
 * not fit, the elements and the end are left out too.
 */
void json_array_begin(struct json *j, const char *key);
void json_array_strn(struct json *j, const void *val, size_t n);
void json_array_u64(struct json *j, uint64_t v);
void json_array_end(struct json *j);

/*
 * json_end - close the object ("truncated":true first if something was
 * left out) and add '\n'. Returns the line's length; buf is NUL-terminated.
 */
size_t json_end(struct json *j);

/* json_fput_str - @s as a quoted JSON string on @f, escaped as above. */
void json_fput_str(FILE *f, const char *s);

#endif /* CONNREDIR_COMMON_JSON_H */
