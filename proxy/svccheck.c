// SPDX-License-Identifier: MIT
/*
 * svccheck.c - the service's proxy addresses, read from its instance's
 * pinned crd_svc_v3 map with two bpf(2) calls (the proxy does not link
 * libbpf), compared with a --listen address.
 */
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crd_maps.h"
#include "log.h"
#include "svccheck.h"

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(__NR_bpf, cmd, a, sizeof(*a));
}

/* Service @name into @out: 0, or -1 if it cannot be read or is not there. */
static int find_service(const char *instance, const char *name, struct crd_service *out)
{
	char path[256];
	union bpf_attr a;
	__u32 k;
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/bpf/connredir/%s/crd_svc_v3", instance);
	memset(&a, 0, sizeof(a));
	a.pathname = (__u64)(unsigned long)path;
	fd = sys_bpf(BPF_OBJ_GET, &a);
	if (fd < 0)
		return -1;
	for (k = 0; k < CRD_MAX_SERVICES; k++) {
		memset(&a, 0, sizeof(a));
		a.map_fd = fd;
		a.key = (__u64)(unsigned long)&k;
		a.value = (__u64)(unsigned long)out;
		if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a))
			break;
		if (out->id && !strncmp(out->name, name, sizeof(out->name))) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	return -1;
}

/* @want (16 bytes, v4-mapped for IPv4) and @port match @addr:@lport, a
 * wildcard @addr matching any address of its family. */
static int same(const uint8_t want[16], uint16_t port, const struct crd_ipaddr *addr,
		uint16_t lport)
{
	static const uint8_t zero[16];
	int v4 = crd_ipaddr_is_v4(addr);

	if (port != lport)
		return 0;
	if (v4 ? !memcmp(addr->addr + 12, zero, 4) : !memcmp(addr->addr, zero, 16))
		return 1;
	return !memcmp(want, addr->addr, 16);
}

void svccheck_listen(const char *instance, const char *service, const char *text,
		     const struct crd_ipaddr *addr, uint16_t port)
{
	struct crd_service s;
	uint8_t a4[16] = { [10] = 0xff, [11] = 0xff }, a6[16];
	char p4[64] = "", p6[80] = "", b[INET6_ADDRSTRLEN];
	int v4 = crd_ipaddr_is_v4(addr);

	if (!service || find_service(instance ? instance : "default", service, &s))
		return;
	memcpy(a4 + 12, &s.proxy4, 4);
	memcpy(a6, s.proxy6, 16);
	if (v4 && (s.flags & CRD_SVC_PROXY4) && same(a4, ntohs(s.proxy4_port_be), addr, port))
		return;
	if (!v4 && (s.flags & CRD_SVC_PROXY6) && same(a6, ntohs(s.proxy6_port_be), addr, port))
		return;
	if (s.flags & CRD_SVC_PROXY4)
		snprintf(p4, sizeof(p4), "%s:%u", inet_ntop(AF_INET, &s.proxy4, b, sizeof(b)),
			 ntohs(s.proxy4_port_be));
	if (s.flags & CRD_SVC_PROXY6)
		snprintf(p6, sizeof(p6), "%s[%s]:%u", p4[0] ? " " : "",
			 inet_ntop(AF_INET6, s.proxy6, b, sizeof(b)), ntohs(s.proxy6_port_be));
	log_warn("service '%s': --listen '%s' is not its proxy address (%s%s): the "
		 "service sends its flows there, not here (see 'connredir service list')",
		 service, text, p4, p6);
}
