/*
 * common.bpf.h - helpers every Vigil BPF object shares: the per-CPU drop counters, the
 * settings user space writes between open and load, and the task snapshot (credentials,
 * login uid, session, tty, start time, cgroup) read with CO-RE.
 */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "vigil_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Settings, set by the loader between open and load. */
const volatile __u32 agent_tgid = 0; /* the agent's own pid: its syscalls are not reported */
/* Batched wake-ups: records are submitted without waking the reader until wake_bytes are
 * queued, except the first record into an empty ring while the reader is idle, which wakes it
 * (user space then waits its batch interval before reading, see ebpf.c); 0 wakes it for every
 * record. */
const volatile __u64 wake_bytes = 0;
/* 1 while the reader sleeps with nothing pending (user space writes it through the mmapped
 * .bss): only then does the first record into an empty ring wake it. */
__u32 reader_idle = 0;

/* Ignore lists (--ignore-comm, --ignore-uid), filled by user space between load and attach;
 * the counts (rodata) let the programs skip the lookups when a list is empty. */
const volatile __u32 n_ignore_comm = 0;
const volatile __u32 n_ignore_uid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIG_ABI_MAX_IGNORE);
	__type(key, char[VIG_ABI_COMM_LEN]);
	__type(value, __u8);
} ignore_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIG_ABI_MAX_IGNORE);
	__type(key, __u32);
	__type(value, __u8);
} ignore_uid SEC(".maps");

/* Ring buffers of records, one per group of cpus_per_group CPUs, so that CPUs of one group
 * contend only with each other for a ring's lock: "events" holds them, and user space creates
 * and sizes the rings and puts them in before attaching (ebpf.c). The template only gives the
 * inner maps their type. */
const volatile __u32 cpus_per_group = 1;

struct vig_ring_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIG_ABI_MAX_RING_GROUPS);
	__type(key, __u32);
	__array(values, struct vig_ring_map);
} events SEC(".maps");

/* The ring of the current CPU's group, or NULL (not set up: counted as a drop by callers).
 * Programs cannot migrate while they run, so two calls in one program give the same ring. */
static __always_inline void *vig_ring(void)
{
	__u32 g = bpf_get_smp_processor_id() / (cpus_per_group ? cpus_per_group : 1);

	return bpf_map_lookup_elem(&events, &g);
}

/* Per-CPU count of records lost to a full ring buffer, by enum vig_abi_drop. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIG_ABI_DROP__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

static __always_inline void vig_count_drop(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &slot);

	if (n)
		*n += 1;
}

/* Submit flags when the ring holds avail bytes, self of them this record's (0 when it is not
 * in the ring yet): wake the reader for the first record into an empty ring while it is idle,
 * and once wake_bytes are waiting; otherwise it reads within its batch interval anyway. A race
 * with the reader going idle can cost one record the reader's idle timeout. */
static __always_inline __u64 vig_wake_flags(void *rb, __u64 self)
{
	__u64 avail;

	if (!wake_bytes)
		return 0;
	avail = bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA);
	return (avail <= self && reader_idle) || avail >= wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Submits a reserved record (it starts with its vig_abi_hdr); in the ring it takes its size
 * plus an 8-byte header, rounded up to 8. */
static __always_inline void vig_submit(void *p)
{
	void *rb = vig_ring(); /* the ring vig_reserve() took p from: same CPU */
	__u64 flags = rb ? vig_wake_flags(rb, (((struct vig_abi_hdr *)p)->size + 15) & ~7ull) : 0;

	bpf_ringbuf_submit(p, flags);
}

/* Copies size bytes of a record from p into the ring, or counts a drop in slot. */
static __always_inline void vig_output(void *p, __u64 size, __u32 slot)
{
	void *rb = vig_ring();

	if (!rb || bpf_ringbuf_output(rb, p, size, vig_wake_flags(rb, 0)))
		vig_count_drop(slot);
}

/* Reserves a record of size bytes or counts a drop in slot. */
static __always_inline void *vig_reserve(__u64 size, __u32 slot)
{
	void *rb = vig_ring();
	void *p = rb ? bpf_ringbuf_reserve(rb, size, 0) : NULL;

	if (!p)
		vig_count_drop(slot);
	return p;
}

/* True when the current task's records are not wanted: its real uid or its comm is on an
 * ignore list. Checked before any ring space is taken, so ignored activity costs a lookup. */
static __always_inline bool vig_task_ignored(void)
{
	if (n_ignore_uid) {
		__u32 uid = (__u32)bpf_get_current_uid_gid();

		if (bpf_map_lookup_elem(&ignore_uid, &uid))
			return true;
	}
	if (n_ignore_comm) {
		char comm[VIG_ABI_COMM_LEN] = {};

		bpf_get_current_comm(comm, sizeof(comm));
		if (bpf_map_lookup_elem(&ignore_comm, comm))
			return true;
	}
	return false;
}

static __always_inline void vig_fill_hdr(struct vig_abi_hdr *h, __u32 type, __u32 size,
					 __u32 pid, __u32 tid)
{
	h->type = type;
	h->size = size;
	h->ktime_ns = bpf_ktime_get_boot_ns();
	h->pid = pid;
	h->tid = tid;
	h->flags = 0;
	h->pad = 0;
}

/* Snapshot of task t into o (every field written). */
static __always_inline void vig_fill_task(struct task_struct *t, struct vig_abi_task *o)
{
	struct tty_struct *tty;

	o->ppid = BPF_CORE_READ(t, real_parent, tgid);
	o->uid = BPF_CORE_READ(t, real_cred, uid.val);
	o->euid = BPF_CORE_READ(t, real_cred, euid.val);
	o->gid = BPF_CORE_READ(t, real_cred, gid.val);
	o->egid = BPF_CORE_READ(t, real_cred, egid.val);
	o->auid = 0xffffffffu;
	o->sessionid = 0xffffffffu;
	if (bpf_core_field_exists(t->loginuid)) {
		o->auid = BPF_CORE_READ(t, loginuid.val);
		o->sessionid = BPF_CORE_READ(t, sessionid);
	}
	o->tty_nr = 0;
	tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		__u32 major = BPF_CORE_READ(tty, driver, major);
		__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);

		o->tty_nr = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
	}
	o->start_boot_ns = BPF_CORE_READ(t, group_leader, start_boottime);
	o->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&o->comm, t, comm);
}

#endif /* VIGIL_COMMON_BPF_H */
