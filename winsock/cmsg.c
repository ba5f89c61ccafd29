// SPDX-License-Identifier: MIT
/*
 * cmsg.c - the control-message codec: a WSAMSG's data part as a msghdr,
 * and lists of WSACMSGHDR messages (which are Linux's: same layout) cut,
 * stripped and appended to. No socket, no state: what the unit tests and
 * the fuzz target drive directly.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CONNREDIR_WINSOCK_NO_REDIRECT /* libc's select/setsockopt/getsockopt here */
#include "winsock_int.h"

/*
 * WSACMSGHDR and the kernel's struct cmsghdr have the same layout and
 * alignment on Linux (size_t, int, int; padded to size_t), so a Winsock
 * control buffer is a Linux one: it is handed to the kernel as it is.
 */
_Static_assert(sizeof(WSACMSGHDR) == sizeof(struct cmsghdr), "cmsg header size");
_Static_assert(offsetof(WSACMSGHDR, cmsg_level) == offsetof(struct cmsghdr, cmsg_level), "level");
_Static_assert(offsetof(WSACMSGHDR, cmsg_type) == offsetof(struct cmsghdr, cmsg_type), "type");
_Static_assert(WSA_CMSG_LEN(1) == CMSG_LEN(1), "cmsg data offset");
_Static_assert(WSA_CMSG_SPACE(1) == CMSG_SPACE(1) && WSA_CMSG_SPACE(13) == CMSG_SPACE(13),
	       "cmsg padding");
_Static_assert(sizeof(DWORD) == 4 && sizeof(ULONG) == 4 && sizeof(GUID) == 16, "Windows sizes");

#define WS_IOV_MAX 1024          /* the kernel's UIO_MAXIOV */

/* ---- WSAMSG ------------------------------------------------------------------ */

/*
 * The data part of WSAMSG @m as a msghdr (no control): name, and the WSABUF
 * array as iovecs in @small or, beyond CRD_WS_IOV_STACK, in *@heap (the caller
 * frees it).
 */
int crd_ws_msghdr(const WSAMSG *m, struct msghdr *mh, struct iovec *small,
		  struct iovec **heap)
{
	struct iovec *iov = small;
	size_t total = 0;
	ULONG i;

	*heap = NULL;
	memset(mh, 0, sizeof(*mh));
	if (m->namelen < 0 || (m->dwBufferCount && !m->lpBuffers))
		return WSAEFAULT;
	if (m->dwBufferCount > WS_IOV_MAX)
		return WSAEINVAL;
	if (m->Control.len && !m->Control.buf)
		return WSAEFAULT;
	if (m->dwBufferCount > CRD_WS_IOV_STACK) {
		iov = *heap = calloc(m->dwBufferCount, sizeof(*iov));
		if (!iov)
			return WSAENOBUFS;
	}
	for (i = 0; i < m->dwBufferCount; i++) {
		iov[i].iov_base = m->lpBuffers[i].buf;
		iov[i].iov_len = m->lpBuffers[i].len;
		total += iov[i].iov_len;
	}
	if (total > INT_MAX)   /* the count must fit a DWORD; the kernel caps at 2 GiB anyway */
		return WSAEINVAL;
	mh->msg_name = m->name;
	mh->msg_namelen = m->name ? (socklen_t)m->namelen : 0;
	mh->msg_iov = iov;
	mh->msg_iovlen = m->dwBufferCount;
	return 0;
}

/* ---- Control-message lists ----------------------------------------------------- */

/* IP_WFP_* at IPPROTO_IP, IPV6_WFP_* (the same values) at IPPROTO_IPV6. */
int crd_ws_cmsg_is_wfp(const WSACMSGHDR *h, int type)
{
	return (h->cmsg_level == IPPROTO_IP && h->cmsg_type == type) ||
	       (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == type);
}

/*
 * Remove every control message of @level/@type from the list of @len bytes
 * at @buf (a list the kernel wrote: aligned, well formed), moving the rest
 * down. A malformed tail (a cmsg_len below the header size or past the end)
 * is cut off. Returns the new length.
 */
size_t crd_ws_cmsg_strip(void *buf, size_t len, int level, int type)
{
	unsigned char *b = buf;
	size_t off = 0, out = 0, step;
	WSACMSGHDR h;

	while (len - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (h.cmsg_len < sizeof(h) || h.cmsg_len > len - off)
			break;
		step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
		if (step > len - off)
			step = len - off;
		if (h.cmsg_level != level || h.cmsg_type != type) {
			if (out != off)
				memmove(b + out, b + off, step);
			out += step;
		}
		off += step;
	}
	return out;
}

/*
 * Cut the list of *@len bytes at @buf to its whole messages that fit in @cap
 * bytes (the last one's padding may be cut, as the kernel does). Returns 1
 * if a message was cut off (MSG_CTRUNC), else 0.
 */
int crd_ws_cmsg_fit(const void *buf, size_t *len, size_t cap)
{
	const unsigned char *b = buf;
	size_t off = 0, step;
	int cut = 0;
	WSACMSGHDR h;

	if (*len <= cap)
		return 0;
	while (*len - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (h.cmsg_len < sizeof(h) || h.cmsg_len > *len - off)
			break;
		if (off >= cap || h.cmsg_len > cap - off) {
			cut = 1;
			break;
		}
		step = WSA_CMSGHDR_ALIGN(h.cmsg_len);
		if (step > cap - off)
			step = cap - off;
		off += step;
	}
	*len = off;
	return cut;
}

/*
 * Append a control message @level/@type with @n data bytes from @data at
 * offset *@len of @buf (@cap bytes of room), in Windows' layout: header,
 * data at WSA_CMSG_DATA, cmsg_len = WSA_CMSG_LEN(n), *@len grown by
 * WSA_CMSG_SPACE(n) (or to @cap, when only the last padding does not fit).
 * *@len is first rounded up to the header alignment. Returns 0, or -1 with
 * nothing written if the message does not fit.
 */
int crd_ws_cmsg_append(void *buf, size_t *len, size_t cap, int level, int type,
		       const void *data, size_t n)
{
	unsigned char *b = buf;
	size_t at = WSA_CMSGHDR_ALIGN(*len), need = WSA_CMSG_LEN(n);
	WSACMSGHDR h;

	if (at < *len || at > cap || n > cap || need > cap - at)
		return -1;
	memset(&h, 0, sizeof(h));
	h.cmsg_len = need;
	h.cmsg_level = level;
	h.cmsg_type = type;
	memset(b + *len, 0, at - *len);
	memcpy(b + at, &h, sizeof(h));
	memset(b + at + sizeof(h), 0, WSA_CMSG_LEN(0) - sizeof(h));
	if (n)
		memcpy(b + at + WSA_CMSG_LEN(0), data, n);
	need = WSA_CMSG_SPACE(n) < cap - at ? WSA_CMSG_SPACE(n) : cap - at;
	memset(b + at + WSA_CMSG_LEN(n), 0, need - WSA_CMSG_LEN(n));
	*len = at + need;
	return 0;
}
