// SPDX-License-Identifier: MIT
/*
 * fuzz_dns.c - libFuzzer target for the DNS message parser (proxy/dns.h),
 * the proxy's REFUSED answer, the dns inspector and block=dns: matching.
 *
 *	make build/fuzz/fuzz_dns
 *	build/fuzz/fuzz_dns -max_total_time=30 build/fuzz-work-dns fuzz/corpus/dns
 *
 * The input is a datagram (copied to a heap buffer of exactly its size).
 * Checked: the parser stays in bounds (AddressSanitizer); a parsed name
 * has at most 255 bytes on the wire and ends in the root label; a REFUSED
 * answer to a parsed query parses again with the same id and name; the log
 * fields are one JSON object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/inspect_http.c"
#include "../proxy/inspect_tls.c"
#include "../proxy/inspect_block.c"
#include "../proxy/inspect_dns.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct inspect_block_rule wild;
	static int ready;
	struct inspect_flow f = { .proto = "udp" };
	struct dns_state ds;
	struct dns_msg m, a;
	const char *why = NULL, *reason = NULL;
	uint8_t out[DNS_HEADER_LEN + DNS_NAME_WIRE_MAX + 4];
	char line[4096];
	struct json j;
	uint8_t *buf;
	size_t n;

	if (!ready) {
		FUZZ_ASSERT(!inspect_block_parse_rule("dns:*.ads.example", &wild, NULL));
		ready = 1;
	}
	if (size > 65535)
		size = 65535;
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);

	if (dns_parse(buf, size, &m, &why) == 0) {
		FUZZ_ASSERT(m.qdcount == 1 && m.question_end <= size);
		FUZZ_ASSERT(m.qname_wire_len >= 1 && m.qname_wire_len <= DNS_NAME_WIRE_MAX);
		FUZZ_ASSERT(m.qname_wire[m.qname_wire_len - 1] == 0);
		FUZZ_ASSERT(m.qname[0] && strlen(m.qname) < DNS_NAME_TEXT_MAX);
		n = dns_refused(&m, out, sizeof(out));
		FUZZ_ASSERT(n == DNS_HEADER_LEN + m.qname_wire_len + 4);
		FUZZ_ASSERT(dns_parse(out, n, &a, NULL) == 0);
		FUZZ_ASSERT(a.id == m.id && a.qr && a.rcode == DNS_RCODE_REFUSED);
		FUZZ_ASSERT(!strcmp(a.qname, m.qname) && a.qtype == m.qtype);
		if (inspect_block_match_name(&wild, m.qname)) {
			size_t l = strlen(m.qname) - (m.qname[strlen(m.qname) - 1] == '.');

			FUZZ_ASSERT(l > 12 && !strncasecmp(m.qname + l - 12, ".ads.example", 12));
		}
	} else {
		FUZZ_ASSERT(why && *why && m.qname[0] == 0);
	}

	memset(&ds, 0, sizeof(ds));
	FUZZ_ASSERT(dns_on_start(NULL, &ds, &f, &reason) == INSPECT_NEED_MORE);
	dns_on_data(NULL, &ds, &f, INSPECT_UP, buf, size, false, &reason);
	dns_on_data(NULL, &ds, &f, INSPECT_DOWN, buf, size, true, &reason);
	json_begin(&j, line, sizeof(line));
	dns_log_fields(NULL, &ds, &j);
	FUZZ_ASSERT(json_end(&j) == strlen(line));
	FUZZ_ASSERT(line[0] == '{' && !strcmp(line + strlen(line) - 2, "}\n"));
	free(buf);
	return 0;
}
