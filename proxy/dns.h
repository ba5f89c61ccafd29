/* SPDX-License-Identifier: MIT */
/*
 * dns.h - a bounds-checked DNS message parser (header and the one question
 * of a query or an answer, RFC 1035 section 4.1) and the proxy's REFUSED
 * answer. Header-only (static inline), so that each inspector that needs it
 * (inspect_dns.c, inspect_block.c) and the unit tests and fuzzers that
 * include those sources get it without a new object to link.
 *
 * Only QDCOUNT=1 messages are accepted (every real resolver sends one
 * question). A question name is read label by label (length 1..63, the
 * whole name at most 255 bytes on the wire); a compression pointer, which
 * a question has no business using, is followed only backwards, at most
 * DNS_MAX_PTRS times, so no input can loop or read out of bounds.
 */
#ifndef CONNREDIR_PROXY_DNS_H
#define CONNREDIR_PROXY_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define DNS_HEADER_LEN 12
#define DNS_NAME_WIRE_MAX 255     /* RFC 1035 2.3.4 */
#define DNS_NAME_TEXT_MAX 1024    /* 255 bytes, each at most "\DDD" */
#define DNS_MAX_PTRS 16
#define DNS_RCODE_REFUSED 5

struct dns_msg {
	uint16_t id;
	uint16_t flags;           /* QR, opcode, AA, TC, RD, RA, Z, RCODE */
	uint16_t qdcount, ancount, nscount, arcount;
	bool qr;                  /* an answer */
	unsigned opcode, rcode;
	bool compressed;          /* the question name used a pointer */
	uint8_t qname_wire[DNS_NAME_WIRE_MAX]; /* uncompressed, with the root label */
	size_t qname_wire_len;
	char qname[DNS_NAME_TEXT_MAX];   /* "www.example.test", "." for the root */
	uint16_t qtype, qclass;
	size_t question_end;      /* offset just past the question */
};

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Append label bytes to the text form, dig-style escapes ("\." "\\" "\DDD"). */
static inline bool dns_text_label(char *out, size_t *pos, const uint8_t *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = l[i];
		int w;

		if (c == '.' || c == '\\')
			w = snprintf(out + *pos, DNS_NAME_TEXT_MAX - *pos, "\\%c", c);
		else if (c <= 0x20 || c >= 0x7f || c == '"')
			w = snprintf(out + *pos, DNS_NAME_TEXT_MAX - *pos, "\\%03u", c);
		else
			w = snprintf(out + *pos, DNS_NAME_TEXT_MAX - *pos, "%c", c);
		if (w < 0 || (size_t)w >= DNS_NAME_TEXT_MAX - *pos)
			return false;
		*pos += (size_t)w;
	}
	return true;
}

/*
 * dns_parse - parse @len bytes at @p: header and the question. Returns 0,
 * or -1 with *why (if @why) naming the fault; @m is zeroed first and holds
 * what was read before a fault (the header, once there were 12 bytes).
 */
static inline int dns_parse(const uint8_t *p, size_t len, struct dns_msg *m, const char **why)
{
	size_t off = DNS_HEADER_LEN, end = 0, tpos = 0;
	unsigned ptrs = 0;
	const char *w = NULL;

	memset(m, 0, sizeof(*m));
#define DNS_BAD(s) do { w = (s); goto bad; } while (0)
	if (!p || len < DNS_HEADER_LEN)
		DNS_BAD("shorter than a DNS header");
	m->id = dns_get16(p);
	m->flags = dns_get16(p + 2);
	m->qdcount = dns_get16(p + 4);
	m->ancount = dns_get16(p + 6);
	m->nscount = dns_get16(p + 8);
	m->arcount = dns_get16(p + 10);
	m->qr = m->flags >> 15;
	m->opcode = (m->flags >> 11) & 0xf;
	m->rcode = m->flags & 0xf;
	if (m->qdcount != 1)
		DNS_BAD("not exactly one question");
	for (;;) {
		uint8_t l;

		if (off >= len)
			DNS_BAD("question name runs past the end");
		l = p[off];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (off + 1 >= len)
				DNS_BAD("question name runs past the end");
			to = (size_t)(l & 0x3f) << 8 | p[off + 1];
			if (!end)
				end = off + 2;
			if (to >= off || to < DNS_HEADER_LEN || ++ptrs > DNS_MAX_PTRS)
				DNS_BAD("bad compression pointer in question");
			m->compressed = true;
			off = to;
			continue;
		}
		if (l & 0xc0)
			DNS_BAD("bad label type in question");
		if (m->qname_wire_len + 1 + l > DNS_NAME_WIRE_MAX)
			DNS_BAD("question name longer than 255 bytes");
		if (l == 0) {
			m->qname_wire[m->qname_wire_len++] = 0;
			off++;
			break;
		}
		if (off + 1 + l > len)
			DNS_BAD("question name runs past the end");
		memcpy(m->qname_wire + m->qname_wire_len, p + off, (size_t)l + 1);
		m->qname_wire_len += (size_t)l + 1;
		if (tpos && tpos + 1 < DNS_NAME_TEXT_MAX)
			m->qname[tpos++] = '.';
		if (!dns_text_label(m->qname, &tpos, p + off + 1, l))
			DNS_BAD("question name too long");
		off += (size_t)l + 1;
	}
	if (!end)
		end = off;
	if (tpos == 0)
		m->qname[tpos++] = '.';
	m->qname[tpos] = 0;
	if (end + 4 > len)
		DNS_BAD("question type and class run past the end");
	m->qtype = dns_get16(p + end);
	m->qclass = dns_get16(p + end + 2);
	m->question_end = end + 4;
	return 0;
bad:
#undef DNS_BAD
	m->qname[0] = 0;
	m->qname_wire_len = 0;
	if (why)
		*why = w;
	return -1;
}

/* dns_is_query - a parsed standard query (QR=0, OPCODE=0). */
static inline bool dns_is_query(const struct dns_msg *m)
{
	return !m->qr && m->opcode == 0;
}

/*
 * dns_refused - the proxy's answer to query @q: same id, opcode and RD,
 * QR=1, RCODE=REFUSED, the question echoed, nothing else. Returns its
 * length, or 0 if it does not fit in @size bytes.
 */
static inline size_t dns_refused(const struct dns_msg *q, uint8_t *out, size_t size)
{
	size_t n = DNS_HEADER_LEN + q->qname_wire_len + 4;
	uint16_t flags = (uint16_t)(0x8000 | (q->flags & 0x7900) | DNS_RCODE_REFUSED);

	if (!q->qname_wire_len || n > size)
		return 0;
	memset(out, 0, DNS_HEADER_LEN);
	out[0] = (uint8_t)(q->id >> 8);
	out[1] = (uint8_t)q->id;
	out[2] = (uint8_t)(flags >> 8);
	out[3] = (uint8_t)flags;
	out[5] = 1;
	memcpy(out + DNS_HEADER_LEN, q->qname_wire, q->qname_wire_len);
	out[DNS_HEADER_LEN + q->qname_wire_len] = (uint8_t)(q->qtype >> 8);
	out[DNS_HEADER_LEN + q->qname_wire_len + 1] = (uint8_t)q->qtype;
	out[DNS_HEADER_LEN + q->qname_wire_len + 2] = (uint8_t)(q->qclass >> 8);
	out[DNS_HEADER_LEN + q->qname_wire_len + 3] = (uint8_t)q->qclass;
	return n;
}

/* dns_type_name - "A", "AAAA", ..., or "TYPEn" in @buf (>= 12 bytes). */
static inline const char *dns_type_name(uint16_t t, char *buf, size_t size)
{
	static const struct { uint16_t t; const char *n; } types[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" }, { 12, "PTR" },
		{ 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" }, { 33, "SRV" },
		{ 35, "NAPTR" }, { 41, "OPT" }, { 43, "DS" }, { 48, "DNSKEY" },
		{ 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" }, { 257, "CAA" },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].t == t)
			return types[i].n;
	snprintf(buf, size, "TYPE%u", t);
	return buf;
}

/* dns_rcode_name - "NOERROR", "REFUSED", ..., or "RCODEn" in @buf. */
static inline const char *dns_rcode_name(unsigned rc, char *buf, size_t size)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	if (rc < sizeof(names) / sizeof(names[0]))
		return names[rc];
	snprintf(buf, size, "RCODE%u", rc);
	return buf;
}

#endif /* CONNREDIR_PROXY_DNS_H */
