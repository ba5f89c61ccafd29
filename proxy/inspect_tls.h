/* SPDX-License-Identifier: MIT */
/*
 * inspect_tls.h - the TLS ClientHello parser behind the tls inspector (and
 * the block inspector's sni: rules).
 */
#ifndef CONNREDIR_PROXY_INSPECT_TLS_H
#define CONNREDIR_PROXY_INSPECT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSPECT_TLS_HELLO_MAX  16384  /* larger ClientHellos are not parsed */
#define INSPECT_TLS_ALPN_MAX   8      /* ALPN names kept */
#define INSPECT_TLS_ALPN_KEEP  63     /* bytes kept of each */

enum inspect_tls_status {
	INSPECT_TLS_NEED_MORE = 0, /* a prefix of a ClientHello: more bytes */
	INSPECT_TLS_DONE,          /* a complete ClientHello was parsed */
	INSPECT_TLS_NOT_TLS,       /* the stream does not start a TLS handshake */
	INSPECT_TLS_MALFORMED,     /* it does, but breaks the rules */
};

struct inspect_tls_hello {
	uint16_t record_version;    /* of the first record */
	uint16_t version;           /* the ClientHello's legacy_version */
	bool has_sni;               /* a server_name of type host_name */
	char sni[256];              /* it, as sent (1-255 bytes, checked) */
	bool has_alpn;              /* an ALPN extension */
	unsigned n_alpn;            /* names kept (at most INSPECT_TLS_ALPN_MAX) */
	uint8_t alpn_len[INSPECT_TLS_ALPN_MAX];
	uint8_t alpn[INSPECT_TLS_ALPN_MAX][INSPECT_TLS_ALPN_KEEP]; /* any bytes */
	bool alpn_truncated;        /* more names, or longer names, than kept */
};

/*
 * inspect_tls_parse - parse the first @n bytes of a client's stream as TLS
 * records (content type handshake, version 3.x, 1 to 2^14 bytes each)
 * carrying a ClientHello, which may be split over several records and
 * arrive in pieces. Every length is checked against its container; a
 * repeated server_name or ALPN extension, a server name that is not a
 * host name, or bytes left over inside the hello are MALFORMED. Fills @h
 * (zeroed first) and returns an enum inspect_tls_status; for NOT_TLS and
 * MALFORMED *why (if @why) names the fault. The result for a prefix is
 * NEED_MORE or the same as for the whole.
 */
int inspect_tls_parse(const uint8_t *p, size_t n, struct inspect_tls_hello *h,
		      const char **why);

#endif /* CONNREDIR_PROXY_INSPECT_TLS_H */
