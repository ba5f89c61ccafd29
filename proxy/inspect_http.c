// SPDX-License-Identifier: MIT
/*
 * inspect_http.c - the http inspector: an HTTP/1.x request line and Host
 * header, for the log and for block=host: rules.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "inspect.h"
#include "inspect_http.h"
#include "json.h"

/* RFC 9110 tchar. */
static bool is_tchar(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_method_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* Characters a Host value may hold (RFC 3986 authority, loosely). */
static bool is_host_char(uint8_t c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("-._~!$&'()*+,;=:[]%", c) != NULL;
}

static int http_fail(const char **why, const char *what, int status)
{
	if (why)
		*why = what;
	return status;
}

/* Keep up to INSPECT_HTTP_KEEP bytes of @s as a C string. */
static size_t keep(char *dst, const uint8_t *s, size_t n)
{
	size_t k = n > INSPECT_HTTP_KEEP ? INSPECT_HTTP_KEEP : n;

	memcpy(dst, s, k);
	dst[k] = 0;
	return k;
}

/* host[:port] of an absolute-form target ("http://user@host:port/path"). */
static void find_authority(struct inspect_http_req *r, const uint8_t *t, size_t n)
{
	size_t s, e, i;

	if (!strcmp(r->method, "CONNECT")) {
		s = 0;
		e = n;
	} else if (n >= 7 && !strncasecmp((const char *)t, "http://", 7)) {
		s = 7;
	} else if (n >= 8 && !strncasecmp((const char *)t, "https://", 8)) {
		s = 8;
	} else {
		return;
	}
	if (s) {
		for (e = s; e < n && t[e] != '/' && t[e] != '?' && t[e] != '#'; e++)
			;
		for (i = s; i < e; i++)   /* drop user info: after the last '@' */
			if (t[i] == '@')
				s = i + 1;
	}
	r->has_authority = true;
	r->authority_truncated = e - s > INSPECT_HTTP_KEEP;
	keep(r->authority, t + s, e - s);
}

/* The request line from @p[0]; *pos is where the header fields start. */
static int parse_line(const uint8_t *p, size_t n, struct inspect_http_req *r,
		      size_t *pos, const char **why)
{
	static const char ver[] = "HTTP/1.";
	size_t i = 0, t0, t1, k;

	while (i < n && is_method_char(p[i])) {
		if (++i > INSPECT_HTTP_METHOD_MAX)
			return http_fail(why, "method too long", INSPECT_HTTP_NOT_HTTP);
	}
	if (i == n)
		return INSPECT_HTTP_NEED_MORE;
	if (i == 0 || p[i] != ' ')
		return http_fail(why, "no request method", INSPECT_HTTP_NOT_HTTP);
	memcpy(r->method, p, i);
	r->method[i] = 0;
	t0 = ++i;
	while (i < n && p[i] > 0x20 && p[i] != 0x7f) {
		if (++i - t0 > INSPECT_HTTP_LINE_MAX)
			return http_fail(why, "request target too long", INSPECT_HTTP_NOT_HTTP);
	}
	if (i == n)
		return INSPECT_HTTP_NEED_MORE;
	if (i == t0 || p[i] != ' ')
		return http_fail(why, "bad request target", INSPECT_HTTP_NOT_HTTP);
	t1 = i++;
	for (k = 0; k < sizeof(ver) - 1; k++, i++) {
		if (i == n)
			return INSPECT_HTTP_NEED_MORE;
		if (p[i] != (uint8_t)ver[k])
			return http_fail(why, "not HTTP/1.x", INSPECT_HTTP_NOT_HTTP);
	}
	if (i == n)
		return INSPECT_HTTP_NEED_MORE;
	if (p[i] < '0' || p[i] > '9')
		return http_fail(why, "not HTTP/1.x", INSPECT_HTTP_NOT_HTTP);
	memcpy(r->version, p + i - 7, 8);
	r->version[8] = 0;
	i++;
	if (i == n)
		return INSPECT_HTTP_NEED_MORE;
	if (p[i] == '\r') {
		if (++i == n)
			return INSPECT_HTTP_NEED_MORE;
	}
	if (p[i] != '\n')
		return http_fail(why, "bad end of request line", INSPECT_HTTP_NOT_HTTP);
	*pos = i + 1;
	r->target_len = keep(r->target, p + t0, t1 - t0);
	r->target_truncated = t1 - t0 > INSPECT_HTTP_KEEP;
	find_authority(r, p + t0, t1 - t0);
	r->line_done = true;
	return INSPECT_HTTP_DONE;
}

/* The Host field's value @v of @n bytes (spaces trimmed). */
static int take_host(struct inspect_http_req *r, const uint8_t *v, size_t n,
		     const char **why)
{
	size_t i;

	if (r->has_host)
		return http_fail(why, "duplicate Host header", INSPECT_HTTP_MALFORMED);
	if (n > INSPECT_HTTP_KEEP)
		return http_fail(why, "Host header too long", INSPECT_HTTP_MALFORMED);
	for (i = 0; i < n; i++)
		if (!is_host_char(v[i]))
			return http_fail(why, "bad character in Host header", INSPECT_HTTP_MALFORMED);
	keep(r->host, v, n);
	r->has_host = true;
	return INSPECT_HTTP_DONE;
}

int inspect_http_parse(const uint8_t *p, size_t n, struct inspect_http_req *r,
		       const char **why)
{
	size_t i = 0;
	int st;

	memset(r, 0, sizeof(*r));
	st = parse_line(p, n, r, &i, why);
	if (st != INSPECT_HTTP_DONE)
		return st;
	for (;;) {
		size_t k, v0, ve;
		bool is_host;

		if (i == n)
			return INSPECT_HTTP_NEED_MORE;
		if (p[i] == '\r' || p[i] == '\n') {   /* the empty line */
			if (p[i] == '\r') {
				if (++i == n)
					return INSPECT_HTTP_NEED_MORE;
				if (p[i] != '\n')
					return http_fail(why, "bad end of header section",
						    INSPECT_HTTP_MALFORMED);
			}
			r->head_len = i + 1;
			return INSPECT_HTTP_DONE;
		}
		if (p[i] == ' ' || p[i] == '\t')
			return http_fail(why, "obsolete line folding", INSPECT_HTTP_MALFORMED);
		for (k = i; i < n && is_tchar(p[i]); i++)
			;
		if (i == n)
			return INSPECT_HTTP_NEED_MORE;
		if (i == k || p[i] != ':')
			return http_fail(why, "bad header field name", INSPECT_HTTP_MALFORMED);
		is_host = i - k == 4 && !strncasecmp((const char *)p + k, "host", 4);
		v0 = ++i;
		for (; i < n && p[i] != '\n'; i++) {
			if (p[i] == '\r' && i + 1 < n && p[i + 1] != '\n')
				return http_fail(why, "bare CR in header field",
					    INSPECT_HTTP_MALFORMED);
			if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') || p[i] == 0x7f)
				return http_fail(why, "control character in header field",
					    INSPECT_HTTP_MALFORMED);
		}
		if (i == n)
			return INSPECT_HTTP_NEED_MORE;
		ve = i;
		if (ve > v0 && p[ve - 1] == '\r')
			ve--;
		while (v0 < ve && (p[v0] == ' ' || p[v0] == '\t'))
			v0++;
		while (ve > v0 && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
			ve--;
		if (is_host) {
			st = take_host(r, p + v0, ve - v0, why);
			if (st != INSPECT_HTTP_DONE)
				return st;
		}
		i++;
	}
}

/* ---- the inspector ---- */

struct http_state {
	struct inspect_http_req req;
	int status;
	const char *why;
	bool last;
};

static enum inspect_verdict http_on_data(void *conf, void *state,
					 const struct inspect_flow *f, int dir,
					 const uint8_t *data, size_t len, bool last,
					 const char **reason)
{
	struct http_state *s = state;

	if (dir != INSPECT_UP)
		return INSPECT_NEED_MORE;
	s->why = NULL;
	s->status = inspect_http_parse(data, len, &s->req, &s->why);
	s->last = last;
	return s->status == INSPECT_HTTP_NEED_MORE ? INSPECT_NEED_MORE : INSPECT_ALLOW;
}

static void http_log_fields(void *conf, const void *state, struct json *j)
{
	const struct http_state *s = state;

	if (!s->req.line_done)
		return;
	json_str(j, "http_method", s->req.method);
	json_strn(j, "http_target", s->req.target, s->req.target_len);
	json_str(j, "http_version", s->req.version);
	json_str(j, "http_host", s->req.has_host ? s->req.host : NULL);
	if (s->status == INSPECT_HTTP_MALFORMED)
		json_str(j, "http_error", s->why);
	else if (s->status == INSPECT_HTTP_NEED_MORE)
		json_str(j, "http_error", "incomplete request head");
}

const struct inspector inspect_http = {
	.name = "http",
	.state_size = sizeof(struct http_state),
	.on_data = http_on_data,
	.log_fields = http_log_fields,
};
