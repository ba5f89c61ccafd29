// SPDX-License-Identifier: MIT
/*
 * names.c - turning kernel values into what the tables show.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "cli.h"
#include "parse.h"

const char *crd_fmt_ep(const __u32 addr[4], __u16 port_be, char *buf, size_t len)
{
	struct crd_ipaddr a = { .family = AF_INET6 };

	memcpy(a.addr, addr, 16);
	return crd_format_endpoint(&a, ntohs(port_be), buf, len);
}

const char *crd_svc_name(const struct crd_service svcs[CRD_MAX_SERVICES], __u32 id,
			 char *buf, size_t len)
{
	int i;

	for (i = 0; i < CRD_MAX_SERVICES; i++)
		if (svcs[i].id && svcs[i].id == id)
			return svcs[i].name;
	snprintf(buf, len, "#%u", id);
	return buf;
}

__u64 crd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

const char *crd_cont_name(unsigned cont)
{
	switch (cont) {
	case CRD_CONT_APP: return "app";
	case CRD_CONT_RECORDS: return "records";
	case CRD_CONT_THREAD: return "implicit-thread";
	case CRD_CONT_FIFO: return "implicit-fifo";
	case CRD_CONT_POSITION: return "implicit-position";
	case CRD_CONT_RECORDLESS: return "recordless";
	}
	return "unknown";
}

bool crd_cont_implicit(unsigned cont)
{
	return cont == CRD_CONT_THREAD || cont == CRD_CONT_FIFO || cont == CRD_CONT_POSITION;
}
