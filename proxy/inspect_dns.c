// SPDX-License-Identifier: MIT
/*
 * inspect_dns.c - the dns inspector: on a UDP flow, the first datagram up
 * read as a DNS query (name and type) and the first datagram down as its
 * answer (response code), for the log line (dns_qname, dns_qtype,
 * dns_rcode). It never blocks; block=dns:NAME rules do (inspect_block.c).
 * On TCP flows it does nothing.
 */
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "inspect.h"
#include "json.h"

struct dns_state {
	bool udp;                 /* a UDP flow: log the fields */
	bool have_query, have_answer;
	uint16_t id, qtype;
	unsigned rcode;
	const char *why;          /* the first datagram is not a query */
	char qname[DNS_NAME_TEXT_MAX];
};

static enum inspect_verdict dns_on_start(void *conf, void *state,
					 const struct inspect_flow *f, const char **reason)
{
	struct dns_state *s = state;

	s->udp = f->proto && !strcmp(f->proto, "udp");
	return s->udp ? INSPECT_NEED_MORE : INSPECT_ALLOW;
}

static enum inspect_verdict dns_on_data(void *conf, void *state,
					const struct inspect_flow *f, int dir,
					const uint8_t *data, size_t len, bool last,
					const char **reason)
{
	struct dns_state *s = state;
	struct dns_msg m;

	if (!s->udp)
		return INSPECT_ALLOW;
	if (dir == INSPECT_UP) {
		if (dns_parse(data, len, &m, &s->why))
			return INSPECT_ALLOW;
		if (!dns_is_query(&m)) {
			s->why = "not a DNS query";
			return INSPECT_ALLOW;
		}
		s->have_query = true;
		s->id = m.id;
		s->qtype = m.qtype;
		snprintf(s->qname, sizeof(s->qname), "%s", m.qname);
		return INSPECT_NEED_MORE;        /* wait for the answer */
	}
	/* The first datagram down: the answer, if it is one to our query. */
	if (s->have_query && len >= DNS_HEADER_LEN && (data[2] & 0x80) &&
	    dns_get16(data) == s->id) {
		s->have_answer = true;
		s->rcode = data[3] & 0xf;
	}
	return INSPECT_ALLOW;
}

static void dns_log_fields(void *conf, const void *state, struct json *j)
{
	const struct dns_state *s = state;
	char buf[16];

	if (!s || !s->udp)
		return;
	json_str(j, "dns_qname", s->have_query ? s->qname : NULL);
	json_str(j, "dns_qtype", s->have_query ? dns_type_name(s->qtype, buf, sizeof(buf)) : NULL);
	json_str(j, "dns_rcode", s->have_answer ? dns_rcode_name(s->rcode, buf, sizeof(buf)) : NULL);
	if (!s->have_query && s->why)
		json_str(j, "dns_error", s->why);
}

const struct inspector inspect_dns = {
	.name = "dns",
	.state_size = sizeof(struct dns_state),
	.on_start = dns_on_start,
	.on_data = dns_on_data,
	.log_fields = dns_log_fields,
};
