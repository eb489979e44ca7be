/*
 * sys.bpf.h - the syscall sensors' context. The file, misc and UDP sensors are tracepoint
 * programs attached by user space to the syscalls/sys_enter_<name> and sys_exit_<name> events
 * of exactly the syscalls they follow (ebpf.c, vig_sys_names), so every other syscall on the
 * host costs one bit test in the kernel instead of a run of each program: with tp_btf/sys_enter
 * every syscall paid about 260 ns here.
 *
 * The context is what the kernel hands a BPF program at a syscall event: the common header,
 * the syscall number and the six arguments (or the return value). The number is read as an int
 * at offset 8, which holds both for kernels that pass the event record (int nr) and for those
 * that pass an unsigned long (little-endian). Syscall numbers are mapped for x86_64 only;
 * elsewhere the sensors stay off (user space does not load them).
 */
#ifndef VIGIL_SYS_BPF_H
#define VIGIL_SYS_BPF_H

struct vig_sys_enter_ctx {
	__u64 common; /* struct trace_entry: not readable by BPF */
	__s32 nr;
	__s32 pad;
	__u64 args[6];
};

struct vig_sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__s32 pad;
	__s64 ret;
};

/* Argument n of the call. Read with a helper rather than a context load: the kernel refuses to
 * attach a program to an event whose record is shorter than the furthest context offset the
 * program loads (sys_enter_setuid has one argument, renameat2 five), and one program serves
 * them all; an argument the syscall does not have reads as whatever the slot holds. */
static __always_inline __u64 vig_sys_arg(struct vig_sys_enter_ctx *ctx, int n)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &ctx->args[n & 7]);
	return v;
}

#if defined(__TARGET_ARCH_x86)
#define VIG_SYS_SUPPORTED 1
#else
#define VIG_SYS_SUPPORTED 0
#endif

/* Per-thread stash between sys_enter and sys_exit; user space sizes nothing here. */
#define VIG_PENDING_MAP(name, vtype)                     \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, 8192);               \
		__type(key, __u64);                      \
		__type(value, vtype);                    \
	} name SEC(".maps")

#endif
