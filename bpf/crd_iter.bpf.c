// SPDX-License-Identifier: (MIT OR GPL-2.0)
/*
 * crd_iter.bpf.c - counts the sockets that hold storage in a socket-storage
 * map. `connredir status` uses it to show that no per-flow state outlives
 * its sockets: socket-storage maps cannot be walked with get_next_key.
 * Writes one byte per socket; the reader counts bytes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("iter/bpf_sk_storage_map")
int crd_count_sk(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	char one = 1;

	if (ctx->sk && ctx->value)
		bpf_seq_write(ctx->meta->seq, &one, sizeof(one));
	return 0;
}
