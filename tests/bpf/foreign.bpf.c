// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * foreign.bpf.c - somebody else's program on the same cgroup hook, for the
 * coexistence test: it sends IPv4 connects to port 9999 to port 8080.
 * connredir must neither disturb it nor be disturbed by it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("cgroup/connect4")
int foreign_connect4(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port == bpf_htons(9999))
		ctx->user_port = bpf_htons(8080);
	return 1;
}
