/* SPDX-License-Identifier: MIT */
/*
 * inspect_http.h - the HTTP/1.x request-head parser behind the http
 * inspector (and the block inspector's host: rules).
 */
#ifndef CONNREDIR_PROXY_INSPECT_HTTP_H
#define CONNREDIR_PROXY_INSPECT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSPECT_HTTP_METHOD_MAX 20    /* longer: not HTTP */
#define INSPECT_HTTP_LINE_MAX   8192  /* request target: longer is not HTTP */
#define INSPECT_HTTP_KEEP       255   /* bytes kept of a target, host, authority */

enum inspect_http_status {
	INSPECT_HTTP_NEED_MORE = 0, /* a prefix of a request head: more bytes */
	INSPECT_HTTP_DONE,          /* a complete request head (up to the empty line) */
	INSPECT_HTTP_NOT_HTTP,      /* no HTTP/1.x request line */
	INSPECT_HTTP_MALFORMED,     /* a request line, then a bad header section */
};

/* What the parser found; each part is set once it is complete. */
struct inspect_http_req {
	bool line_done;                           /* method, target, version set */
	char method[INSPECT_HTTP_METHOD_MAX + 1];
	char target[INSPECT_HTTP_KEEP + 1];       /* may hold any byte but NUL... */
	size_t target_len;                        /* ...so this is its length */
	bool target_truncated;                    /* longer than INSPECT_HTTP_KEEP */
	char version[9];                          /* "HTTP/1.1" */
	bool has_host;                            /* a Host header was seen */
	char host[INSPECT_HTTP_KEEP + 1];         /* its value, spaces trimmed */
	bool has_authority;                       /* absolute-form or CONNECT target */
	char authority[INSPECT_HTTP_KEEP + 1];    /* host[:port] of that target */
	bool authority_truncated;
	size_t head_len;                          /* DONE: bytes of the head */
};

/*
 * inspect_http_parse - parse the first @n bytes of a client's stream as an
 * HTTP/1.x request head: request line (METHOD SP TARGET SP HTTP/1.D, METHOD
 * of upper-case letters, '-' and '_'), header fields, empty line; lines end
 * in CRLF or LF. A repeated Host header, obsolete line folding, a space
 * before a colon, or a control character in a field is MALFORMED. Fills
 * @r (zeroed first) with what is complete, and returns an enum
 * inspect_http_status; for NOT_HTTP and MALFORMED *why (if @why) names the
 * fault. The result for a prefix is NEED_MORE or the same as for the whole.
 */
int inspect_http_parse(const uint8_t *p, size_t n, struct inspect_http_req *r,
		       const char **why);

#endif /* CONNREDIR_PROXY_INSPECT_HTTP_H */
