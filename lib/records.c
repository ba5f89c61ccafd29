// SPDX-License-Identifier: MIT
/*
 * records.c - describing a records blob, and state names.
 *
 * Proxies never need to look inside a blob; logs and tools do.
 */
#include <errno.h>
#include <string.h>

#include <connredir/connredir.h>
#include "crd_maps.h"

#include "crd_export.h"

_Static_assert(sizeof(struct crd_blob) <= CONNREDIR_RECORDS_MAX, "blob fits 1 KiB");
_Static_assert(CRD_MAX_HOPS == CONNREDIR_MAX_HOPS, "one hop limit");

CRD_EXPORT int connredir_records_decode(const void *blob, size_t size,
					struct connredir_records_info *info)
{
	struct crd_blob b;
	unsigned i;

	if (!blob || !info || size != sizeof(b))
		return -EINVAL;
	memcpy(&b, blob, sizeof(b));
	if (b.magic != CRD_BLOB_MAGIC || b.version != CRD_BLOB_VERSION ||
	    b.size != sizeof(b) || b.nhops == 0 || b.nhops > CRD_MAX_HOPS)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->version = b.version;
	info->nhops = b.nhops;
	info->flow_id = b.flow_id;
	for (i = 0; i < b.nhops; i++) {
		if (b.hops[i] == 0)
			return -EINVAL;
		info->services[i] = b.hops[i];
	}
	return 0;
}

CRD_EXPORT const char *connredir_state_name(unsigned state)
{
	static const char *const names[] = {
		"NOT_REDIRECTED", "REDIRECTED_BY_SELF", "REDIRECTED_BY_OTHER",
		"PREVIOUSLY_REDIRECTED_BY_SELF",
	};

	return state < 4 ? names[state] : "UNKNOWN";
}
