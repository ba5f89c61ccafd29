// SPDX-License-Identifier: MIT
/*
 * udp.c - the native API for UDP proxies.
 *
 * A proxy's UDP socket receives the datagrams of many flows, several of
 * which may share a source address (one unconnected application socket
 * talking to several destinations). The kernel tags each redirected
 * datagram with its flow's handle in the packet mark; these calls read it
 * (SO_RCVMARK) and ask the kernel for that flow's records and context by
 * handle, through the option name (getsockopt cannot take input bytes for
 * an option the kernel does not know).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <connredir/connredir.h>

#include "crd_export.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK 75
#endif

static int crd_errno(void)
{
	return errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
}

CRD_EXPORT int connredir_udp_listen(int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVMARK, &one, sizeof(one)))
		return -errno;
	return 0;
}

CRD_EXPORT ssize_t connredir_udp_recvfrom(int fd, void *buf, size_t len, int flags,
					  struct sockaddr *src, socklen_t *srclen,
					  uint32_t *handle)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(uint32_t)) * 4];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = src,
		.msg_namelen = srclen ? *srclen : 0,
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf.space,
		.msg_controllen = sizeof(cbuf.space),
	};
	struct cmsghdr *c;
	ssize_t n;

	if (handle)
		*handle = 0;
	n = recvmsg(fd, &msg, flags);
	if (n < 0)
		return -errno;
	if (srclen)
		*srclen = msg.msg_namelen;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		uint32_t mark;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_MARK ||
		    c->cmsg_len < CMSG_LEN(sizeof(mark)))
			continue;
		memcpy(&mark, CMSG_DATA(c), sizeof(mark));
		if (handle)
			*handle = CONNREDIR_MARK_HANDLE(mark);
	}
	return n;
}

static int udp_get(int fd, int what, uint32_t handle, void *buf, socklen_t *len)
{
	if (handle == 0 || handle > 0xffffff)
		return -EINVAL;
	if (getsockopt(fd, CONNREDIR_SOL, CONNREDIR_UDP_OPT(what, handle), buf, len))
		return crd_errno();
	return 0;
}

CRD_EXPORT int connredir_udp_query_records(int fd, uint32_t handle, void *buf,
					   size_t size, size_t *needed)
{
	uint32_t want = 0;
	socklen_t len = sizeof(want);
	int err;

	err = udp_get(fd, CONNREDIR_RECORDS_SIZE, handle, &want, &len);
	if (err)
		return err;
	if (len != sizeof(want) || want == 0 || want > CONNREDIR_RECORDS_MAX)
		return -EPROTO;
	if (needed)
		*needed = want;
	if (!buf || size < want)
		return -ENOSPC;
	len = want;
	err = udp_get(fd, CONNREDIR_RECORDS, handle, buf, &len);
	if (!err && needed)
		*needed = len;
	return err;
}

CRD_EXPORT int connredir_udp_query_context(int fd, uint32_t handle,
					   struct connredir_context *ctx)
{
	socklen_t len = sizeof(*ctx);
	int err;

	if (!ctx)
		return -EINVAL;
	memset(ctx, 0, sizeof(*ctx));
	err = udp_get(fd, CONNREDIR_CONTEXT, handle, ctx, &len);
	if (err)
		return err;
	if (len != sizeof(*ctx) || ctx->version != CONNREDIR_CONTEXT_VERSION)
		return -EPROTO;
	return 0;
}

CRD_EXPORT int connredir_udp_query_state(int fd, uint32_t handle,
					 struct connredir_state_info *info)
{
	socklen_t len = sizeof(*info);
	int err;

	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	err = udp_get(fd, CONNREDIR_STATE, handle, info, &len);
	if (err)
		return err;
	return len == sizeof(*info) ? 0 : -EPROTO;
}
