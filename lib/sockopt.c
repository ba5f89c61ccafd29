// SPDX-License-Identifier: MIT
/*
 * sockopt.c - the native API: thin wrappers over connredir's socket options.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <connredir/connredir.h>

#include "crd_export.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif

/*
 * The kernel answers ENOPROTOOPT for CONNREDIR_SOL when no connredir program
 * is attached to the socket's cgroup: say so as EOPNOTSUPP.
 */
static int crd_errno(void)
{
	return errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
}

CRD_EXPORT int connredir_query_records(int fd, void *buf, size_t size, size_t *needed)
{
	uint32_t want = 0;
	socklen_t len = sizeof(want);

	if (getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS_SIZE, &want, &len))
		return crd_errno();
	if (len != sizeof(want) || want == 0 || want > CONNREDIR_RECORDS_MAX)
		return -EPROTO;
	if (needed)
		*needed = want;
	if (!buf || size < want)
		return -ENOSPC;
	len = want;
	if (getsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, buf, &len))
		return crd_errno();
	if (needed)
		*needed = len;
	return 0;
}

CRD_EXPORT int connredir_set_records(int fd, const void *blob, size_t size)
{
	if (!blob || size == 0 || size > CONNREDIR_RECORDS_MAX)
		return -EINVAL;
	if (setsockopt(fd, CONNREDIR_SOL, CONNREDIR_RECORDS, blob, (socklen_t)size))
		return crd_errno();
	return 0;
}

CRD_EXPORT int connredir_query_context(int fd, struct connredir_context *ctx)
{
	socklen_t len = sizeof(*ctx);

	if (!ctx)
		return -EINVAL;
	memset(ctx, 0, sizeof(*ctx));
	if (getsockopt(fd, CONNREDIR_SOL, CONNREDIR_CONTEXT, ctx, &len))
		return crd_errno();
	if (len != sizeof(*ctx) || ctx->version != CONNREDIR_CONTEXT_VERSION)
		return -EPROTO;
	return 0;
}

CRD_EXPORT int connredir_query_state(int fd, struct connredir_state_info *info)
{
	socklen_t len = sizeof(*info);

	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	if (getsockopt(fd, CONNREDIR_SOL, CONNREDIR_STATE, info, &len))
		return crd_errno();
	return len == sizeof(*info) ? 0 : -EPROTO;
}

CRD_EXPORT int connredir_original_dst(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	socklen_t l = sizeof(sin);

	if (!ss || !len)
		return -EINVAL;
	if (!getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &sin, &l) && l == sizeof(sin)) {
		if (*len < sizeof(sin))
			return -ENOSPC;
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
		return 0;
	}
	l = sizeof(sin6);
	if (getsockopt(fd, SOL_IPV6, SO_ORIGINAL_DST, &sin6, &l) || l != sizeof(sin6))
		return errno == ENOPROTOOPT ? -ENOENT : -errno;
	if (*len < sizeof(sin6))
		return -ENOSPC;
	memcpy(ss, &sin6, sizeof(sin6));
	*len = sizeof(sin6);
	return 0;
}

CRD_EXPORT int connredir_claim_listener(int fd, const char *service)
{
	size_t n = service ? strlen(service) : 0;

	if (n == 0 || n > 31)
		return -EINVAL;
	if (setsockopt(fd, CONNREDIR_SOL, CONNREDIR_CLAIM, service, (socklen_t)n))
		return crd_errno();
	return 0;
}
