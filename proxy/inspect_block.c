// SPDX-License-Identifier: MIT
/*
 * inspect_block.c - the block inspector: refuse flows by original
 * destination (at once, before connecting), by HTTP host or by TLS server
 * name (as soon as the client's first bytes tell); on UDP flows, by
 * destination or by DNS question name (the first datagram).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "inspect.h"
#include "inspect_block.h"
#include "inspect_http.h"
#include "inspect_tls.h"

static int bad(const char **why, const char *what)
{
	if (why)
		*why = what;
	return -EINVAL;
}

/* NAME or *.DOMAIN: labels of [a-z0-9_-], lower-cased into r->name. */
static int parse_name(const char *s, struct inspect_block_rule *r, const char **why)
{
	size_t n, i, label = 0;

	if (!strncmp(s, "*.", 2)) {
		r->wildcard = true;
		s++;                       /* keep the dot: ".DOMAIN" */
	}
	n = strlen(s);
	if (n && s[n - 1] == '.' && !(r->wildcard && n == 1))
		n--;                       /* a trailing dot */
	if (n == 0 || (r->wildcard && n == 1))
		return bad(why, "empty name");
	if (n > INSPECT_BLOCK_NAME_MAX)
		return bad(why, "name too long");
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.' && !(r->wildcard && i == 0)) {
			if (label == 0)
				return bad(why, "empty label in name");
			label = 0;
		} else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
			if (++label > 63)
				return bad(why, "label longer than 63 characters");
		} else if (c == '*') {
			return bad(why, "a wildcard only as '*.' at the start");
		} else if (c != '.') {
			return bad(why, "invalid character in name");
		}
		r->name[i] = (char)tolower((unsigned char)c);
	}
	if (label == 0)
		return bad(why, "empty label in name");
	r->name[n] = 0;
	return 0;
}

/*
 * PREFIX[:PORT[-PORT]], [PREFIX6]:PORT[-PORT] or [ADDR6]/LEN:PORT[-PORT];
 * without a port, whatever crd_parse_prefix() takes ("2001:db8::/32",
 * "[2001:db8::]/32").
 */
static int parse_dst(const char *s, struct inspect_block_rule *r, const char **why)
{
	char addr[128];
	const char *port = NULL, *colon, *end;
	size_t n;

	if (s[0] == '[' && (end = strchr(s, ']')) && end[1] == ':') {
		port = end + 2;
		s++;
		n = (size_t)(end - s);
	} else if (s[0] == '[' && (end = strchr(s, ']')) && end[1] == '/' &&
		   (colon = strchr(end, ':'))) {
		port = colon + 1;
		n = (size_t)(colon - s);
	} else {
		colon = strchr(s, ':');
		/* One ':' after an IPv4 prefix starts a port; more: IPv6. */
		if (colon && !strchr(colon + 1, ':') && memchr(s, '.', (size_t)(colon - s)))
			port = colon + 1;
		n = port ? (size_t)(colon - s) : strlen(s);
	}
	if (n >= sizeof(addr))
		return bad(why, "invalid address");
	memcpy(addr, s, n);
	addr[n] = 0;
	if (crd_parse_prefix(addr, &r->addr, &r->plen, why))
		return -EINVAL;
	if (port && crd_parse_port_range(port, &r->port_lo, &r->port_hi, why))
		return -EINVAL;
	return 0;
}

int inspect_block_parse_rule(const char *s, struct inspect_block_rule *r,
			     const char **why)
{
	static const char *const kinds[] = { "dst:", "host:", "sni:", "dns:" };
	size_t k, n;

	memset(r, 0, sizeof(*r));
	if (!s || !*s)
		return bad(why, "needs a rule: block=dst:PREFIX, block=host:NAME or block=sni:NAME");
	if (strlen(s) >= sizeof(r->text))
		return bad(why, "rule too long");
	snprintf(r->text, sizeof(r->text), "%s", s);
	for (k = 0; k < 4; k++) {
		n = strlen(kinds[k]);
		if (!strncmp(s, kinds[k], n))
			break;
	}
	if (k == 4)
		return bad(why, "unknown rule kind (dst:, host:, sni:)");
	r->kind = (enum inspect_block_kind)k;
	if (r->kind == INSPECT_BLOCK_DST)
		return parse_dst(s + n, r, why);
	return parse_name(s + n, r, why);
}

bool inspect_block_match_dst(const struct inspect_block_rule *r,
			     const struct crd_ipaddr *a, uint16_t port)
{
	if (r->kind != INSPECT_BLOCK_DST || !crd_prefix_contains(&r->addr, r->plen, a))
		return false;
	return r->port_lo == 0 || (port >= r->port_lo && port <= r->port_hi);
}

bool inspect_block_match_name(const struct inspect_block_rule *r, const char *name)
{
	size_t n = strlen(name), rn = strlen(r->name), i;

	if (r->kind == INSPECT_BLOCK_DST)
		return false;
	if (n && name[n - 1] == '.')
		n--;
	if (n == 0 || n > INSPECT_BLOCK_NAME_MAX)
		return false;
	if (r->wildcard) {
		if (n <= rn)
			return false;      /* "*.x.example" never matches "x.example" */
		name += n - rn;
		n = rn;
	} else if (n != rn) {
		return false;
	}
	for (i = 0; i < n; i++)
		if (tolower((unsigned char)name[i]) != r->name[i])
			return false;
	return true;
}

int inspect_block_host_name(const char *host, char *out, size_t size)
{
	size_t n;
	const char *colon;

	if (host[0] == '[') {
		const char *end = strchr(host, ']');

		n = end ? (size_t)(end - host + 1) : strlen(host);
	} else {
		colon = strchr(host, ':');
		n = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (n >= size)
		return -EINVAL;
	memcpy(out, host, n);
	out[n] = 0;
	return 0;
}

/* ---- the inspector ---- */

struct block_conf {
	unsigned n;
	bool names_http, names_tls;     /* host: / sni: rules exist */
	bool names_dns;                 /* dns: rules exist */
	struct inspect_block_rule *rules;
};

struct block_state {
	char reason[2 * INSPECT_BLOCK_NAME_MAX + 64];
};

static int block_init(const char *arg, void **confp, const char **why)
{
	struct block_conf *c = *confp;
	struct inspect_block_rule r, *rules;
	int err;

	err = inspect_block_parse_rule(arg, &r, why);
	if (err)
		return err;
	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return bad(why, "out of memory");
		*confp = c;
	}
	rules = realloc(c->rules, (c->n + 1) * sizeof(*rules));
	if (!rules)
		return bad(why, "out of memory");
	rules[c->n++] = r;
	c->rules = rules;
	c->names_http |= r.kind == INSPECT_BLOCK_HOST;
	c->names_tls |= r.kind == INSPECT_BLOCK_SNI;
	c->names_dns |= r.kind == INSPECT_BLOCK_DNS;
	return 0;
}

static void block_fini(void *conf)
{
	struct block_conf *c = conf;

	if (c)
		free(c->rules);
	free(c);
}

static enum inspect_verdict block_on_start(void *conf, void *state,
					   const struct inspect_flow *f,
					   const char **reason)
{
	const struct block_conf *c = conf;
	struct block_state *s = state;
	char dst[64];
	unsigned i;

	for (i = 0; f->have_dst && i < c->n; i++) {
		if (!inspect_block_match_dst(&c->rules[i], &f->dst, f->dst_port))
			continue;
		snprintf(s->reason, sizeof(s->reason), "destination %s matches block=%s",
			 crd_format_endpoint(&f->dst, f->dst_port, dst, sizeof(dst)),
			 c->rules[i].text);
		*reason = s->reason;
		return INSPECT_BLOCK;
	}
	if (f->proto && !strcmp(f->proto, "udp"))
		return c->names_dns ? INSPECT_NEED_MORE : INSPECT_ALLOW;
	return c->names_http || c->names_tls ? INSPECT_NEED_MORE : INSPECT_ALLOW;
}

/* Block if a rule of @kind covers @name (@what says where it came from). */
static bool match(const struct block_conf *c, struct block_state *s,
		  enum inspect_block_kind kind, const char *what, const char *name)
{
	unsigned i;

	for (i = 0; i < c->n; i++) {
		if (c->rules[i].kind != kind || !inspect_block_match_name(&c->rules[i], name))
			continue;
		snprintf(s->reason, sizeof(s->reason), "%s %s matches block=%s", what,
			 name, c->rules[i].text);
		return true;
	}
	return false;
}

static enum inspect_verdict block_on_data(void *conf, void *state,
					  const struct inspect_flow *f, int dir,
					  const uint8_t *data, size_t len, bool last,
					  const char **reason)
{
	const struct block_conf *c = conf;
	struct block_state *s = state;
	bool decided = true;
	char name[INSPECT_HTTP_KEEP + 1];

	if (dir != INSPECT_UP)
		return INSPECT_NEED_MORE;
	if (f->proto && !strcmp(f->proto, "udp")) {
		struct dns_msg m;

		if (c->names_dns && !dns_parse(data, len, &m, NULL) && dns_is_query(&m) &&
		    match(c, s, INSPECT_BLOCK_DNS, "dns name", m.qname))
			goto block;
		return INSPECT_ALLOW;
	}
	/* What is found counts even in a head that turns out malformed. */
	if (c->names_http) {
		struct inspect_http_req req;
		int st = inspect_http_parse(data, len, &req, NULL);

		if (req.has_host && !inspect_block_host_name(req.host, name, sizeof(name)) &&
		    match(c, s, INSPECT_BLOCK_HOST, "host", name))
			goto block;
		if (req.has_authority && !req.authority_truncated &&
		    !inspect_block_host_name(req.authority, name, sizeof(name)) &&
		    match(c, s, INSPECT_BLOCK_HOST, "request target host", name))
			goto block;
		decided &= st != INSPECT_HTTP_NEED_MORE;
	}
	if (c->names_tls) {
		struct inspect_tls_hello h;
		int st = inspect_tls_parse(data, len, &h, NULL);

		if (h.has_sni && match(c, s, INSPECT_BLOCK_SNI, "server name", h.sni))
			goto block;
		decided &= st != INSPECT_TLS_NEED_MORE;
	}
	return decided ? INSPECT_ALLOW : INSPECT_NEED_MORE;
block:
	*reason = s->reason;
	return INSPECT_BLOCK;
}

const struct inspector inspect_block = {
	.name = "block",
	.takes_arg = true,
	.repeatable = true,
	.state_size = sizeof(struct block_state),
	.init = block_init,
	.fini = block_fini,
	.on_start = block_on_start,
	.on_data = block_on_data,
};
