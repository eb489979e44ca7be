/*
 * upgrade.bpf.h - what the upgrade probes (fentry.bpf.c, lsm.bpf.c) share: one program each,
 * loaded and attached once at start by ebpf.c to learn what the kernel allows, counting its
 * calls in "hits" and nothing else. Each is its own object so that one refusal cannot fail the
 * other's load or the sensors'.
 */
#ifndef VIGIL_UPGRADE_BPF_H
#define VIGIL_UPGRADE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void vig_count_hit(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&hits, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

#endif
