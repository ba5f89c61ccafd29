// SPDX-License-Identifier: MIT
/*
 * inspect_tls.c - the tls inspector: the server name (SNI) and ALPN list of
 * a TLS ClientHello, read by a bounds-checked parser.
 */
#include <stdio.h>
#include <string.h>

#include "inspect.h"
#include "inspect_tls.h"
#include "json.h"

#define TLS_HANDSHAKE 22
#define TLS_CLIENT_HELLO 1
#define TLS_RECORD_MAX 16384
#define EXT_SERVER_NAME 0
#define EXT_ALPN 16

/* A bounds-checked reader over [p, p + n). */
struct rd {
	const uint8_t *p;
	size_t n, off;
};

static bool rd_u8(struct rd *r, uint8_t *v)
{
	if (r->n - r->off < 1)
		return false;
	*v = r->p[r->off++];
	return true;
}

static bool rd_u16(struct rd *r, uint16_t *v)
{
	if (r->n - r->off < 2)
		return false;
	*v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return true;
}

/* A sub-reader over the next @len bytes. */
static bool rd_sub(struct rd *r, size_t len, struct rd *sub)
{
	if (r->n - r->off < len)
		return false;
	sub->p = r->p + r->off;
	sub->n = len;
	sub->off = 0;
	r->off += len;
	return true;
}

static size_t rd_left(const struct rd *r)
{
	return r->n - r->off;
}

static int tls_fail(const char **why, const char *what, int status)
{
	if (why)
		*why = what;
	return status;
}

#define MALFORMED(what) tls_fail(why, what, INSPECT_TLS_MALFORMED)

static bool is_name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* server_name (RFC 6066 section 3). */
static int parse_sni(struct rd *e, struct inspect_tls_hello *h, const char **why)
{
	struct rd list;
	uint16_t len;

	if (!rd_u16(e, &len) || len != rd_left(e) || len == 0)
		return MALFORMED("bad server_name list length");
	rd_sub(e, len, &list);
	while (rd_left(&list)) {
		struct rd name;
		uint8_t type;
		uint16_t nl;
		size_t i;

		if (!rd_u8(&list, &type) || !rd_u16(&list, &nl) || !rd_sub(&list, nl, &name))
			return MALFORMED("bad server_name entry");
		if (type != 0)
			continue;
		if (h->has_sni)
			return MALFORMED("two host names in server_name");
		if (nl == 0 || nl > 255)
			return MALFORMED("bad server name length");
		for (i = 0; i < nl; i++)
			if (!is_name_char(name.p[i]))
				return MALFORMED("server name is not a host name");
		memcpy(h->sni, name.p, nl);
		h->sni[nl] = 0;
		h->has_sni = true;
	}
	return INSPECT_TLS_DONE;
}

/* application_layer_protocol_negotiation (RFC 7301 section 3.1). */
static int parse_alpn(struct rd *e, struct inspect_tls_hello *h, const char **why)
{
	struct rd list;
	uint16_t len;

	if (!rd_u16(e, &len) || len != rd_left(e) || len < 2)
		return MALFORMED("bad ALPN list length");
	rd_sub(e, len, &list);
	h->has_alpn = true;
	while (rd_left(&list)) {
		struct rd name;
		uint8_t nl;
		size_t k;

		if (!rd_u8(&list, &nl) || nl == 0 || !rd_sub(&list, nl, &name))
			return MALFORMED("bad ALPN protocol name");
		if (h->n_alpn == INSPECT_TLS_ALPN_MAX) {
			h->alpn_truncated = true;
			continue;
		}
		k = nl > INSPECT_TLS_ALPN_KEEP ? INSPECT_TLS_ALPN_KEEP : nl;
		if (k < nl)
			h->alpn_truncated = true;
		memcpy(h->alpn[h->n_alpn], name.p, k);
		h->alpn_len[h->n_alpn++] = (uint8_t)k;
	}
	return INSPECT_TLS_DONE;
}

/* The ClientHello body (RFC 8446 section 4.1.2), all @n bytes of it. */
static int parse_hello(const uint8_t *p, size_t n, struct inspect_tls_hello *h,
		       const char **why)
{
	struct rd r = { p, n, 0 }, skip, exts;
	bool seen_sni = false, seen_alpn = false;
	uint8_t l8;
	uint16_t l16;
	int st;

	if (!rd_u16(&r, &h->version) || !rd_sub(&r, 32, &skip))
		return MALFORMED("ClientHello too short");
	if (!rd_u8(&r, &l8) || l8 > 32 || !rd_sub(&r, l8, &skip))
		return MALFORMED("bad session id");
	if (!rd_u16(&r, &l16) || l16 < 2 || l16 % 2 || !rd_sub(&r, l16, &skip))
		return MALFORMED("bad cipher suites");
	if (!rd_u8(&r, &l8) || l8 < 1 || !rd_sub(&r, l8, &skip))
		return MALFORMED("bad compression methods");
	if (!rd_left(&r))
		return INSPECT_TLS_DONE;           /* no extensions */
	if (!rd_u16(&r, &l16) || l16 != rd_left(&r))
		return MALFORMED("bad extensions length");
	rd_sub(&r, l16, &exts);
	while (rd_left(&exts)) {
		struct rd e;
		uint16_t type, len;

		if (!rd_u16(&exts, &type) || !rd_u16(&exts, &len) || !rd_sub(&exts, len, &e))
			return MALFORMED("bad extension length");
		if (type == EXT_SERVER_NAME) {
			if (seen_sni)
				return MALFORMED("two server_name extensions");
			seen_sni = true;
			st = parse_sni(&e, h, why);
		} else if (type == EXT_ALPN) {
			if (seen_alpn)
				return MALFORMED("two ALPN extensions");
			seen_alpn = true;
			st = parse_alpn(&e, h, why);
		} else {
			continue;
		}
		if (st != INSPECT_TLS_DONE)
			return st;
	}
	return INSPECT_TLS_DONE;
}

int inspect_tls_parse(const uint8_t *p, size_t n, struct inspect_tls_hello *h,
		      const char **why)
{
	uint8_t hs[INSPECT_TLS_HELLO_MAX + 4];   /* the handshake bytes, joined */
	size_t off = 0, hlen = 0, need = 0;
	bool first = true;

	memset(h, 0, sizeof(*h));
	if (n == 0)
		return INSPECT_TLS_NEED_MORE;
	/* Checked byte by byte, so a prefix says no more than the whole. */
	if (p[0] != TLS_HANDSHAKE)
		return tls_fail(why, "not a TLS handshake record", INSPECT_TLS_NOT_TLS);
	if (n >= 2 && p[1] != 3)
		return tls_fail(why, "not a TLS record version", INSPECT_TLS_NOT_TLS);
	if (n >= 3 && p[2] > 4)
		return tls_fail(why, "not a TLS record version", INSPECT_TLS_NOT_TLS);
	for (;;) {
		size_t rl, take;

		if (n - off < 5) {
			if (!first && n > off && p[off] != TLS_HANDSHAKE)
				return MALFORMED("ClientHello interrupted by another record");
			return INSPECT_TLS_NEED_MORE;
		}
		if (p[off] != TLS_HANDSHAKE)
			return MALFORMED("ClientHello interrupted by another record");
		rl = (size_t)p[off + 3] << 8 | p[off + 4];
		if (first)
			h->record_version = (uint16_t)(p[off + 1] << 8 | p[off + 2]);
		if (rl == 0 || rl > TLS_RECORD_MAX)
			return MALFORMED("bad record length");
		first = false;
		off += 5;
		take = rl < n - off ? rl : n - off;
		if (hlen + take > sizeof(hs))
			take = sizeof(hs) - hlen;   /* beyond need: see below */
		memcpy(hs + hlen, p + off, take);
		hlen += take;
		if (hlen && hs[0] != TLS_CLIENT_HELLO)
			return tls_fail(why, "first handshake message is not a ClientHello",
				    INSPECT_TLS_NOT_TLS);
		if (hlen >= 4 && !need) {
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3]);
			if (need > sizeof(hs))
				return MALFORMED("ClientHello too large to inspect");
		}
		if (need && hlen >= need)
			return parse_hello(hs + 4, need - 4, h, why);
		if (take < rl)
			return INSPECT_TLS_NEED_MORE;   /* the record is not all here */
		off += rl;
	}
}

/* ---- the inspector ---- */

struct tls_state {
	struct inspect_tls_hello hello;
	int status;
	const char *why;
	bool seen;       /* bytes were looked at */
};

static enum inspect_verdict tls_on_data(void *conf, void *state,
					const struct inspect_flow *f, int dir,
					const uint8_t *data, size_t len, bool last,
					const char **reason)
{
	struct tls_state *s = state;

	if (dir != INSPECT_UP)
		return INSPECT_NEED_MORE;
	s->why = NULL;
	s->seen = len > 0;
	s->status = inspect_tls_parse(data, len, &s->hello, &s->why);
	return s->status == INSPECT_TLS_NEED_MORE ? INSPECT_NEED_MORE : INSPECT_ALLOW;
}

static void tls_log_fields(void *conf, const void *state, struct json *j)
{
	const struct tls_state *s = state;
	unsigned i;

	switch (s->status) {
	case INSPECT_TLS_DONE:
		json_str(j, "tls_sni", s->hello.has_sni ? s->hello.sni : NULL);
		json_array_begin(j, "tls_alpn");
		for (i = 0; i < s->hello.n_alpn; i++)
			json_array_strn(j, s->hello.alpn[i], s->hello.alpn_len[i]);
		json_array_end(j);
		break;
	case INSPECT_TLS_MALFORMED:
		json_str(j, "tls_error", s->why);
		break;
	case INSPECT_TLS_NEED_MORE:
		if (s->seen)
			json_str(j, "tls_error", "incomplete ClientHello");
		break;
	default:
		break;
	}
}

const struct inspector inspect_tls = {
	.name = "tls",
	.state_size = sizeof(struct tls_state),
	.on_data = tls_on_data,
	.log_fields = tls_log_fields,
};
