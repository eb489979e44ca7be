/*
 * sys.bpf.h - syscall arguments from the pt_regs that tp_btf/sys_enter receives. Only x86_64
 * is mapped; elsewhere the file and misc sensors stay off (user space does not load them).
 */
#ifndef VIGIL_SYS_BPF_H
#define VIGIL_SYS_BPF_H

#if defined(__TARGET_ARCH_x86)
static __always_inline __u64 vig_sys_arg(struct pt_regs *regs, int n)
{
	switch (n) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	default: return BPF_CORE_READ(regs, r8);
	}
}
#define VIG_SYS_SUPPORTED 1
#else
static __always_inline __u64 vig_sys_arg(struct pt_regs *regs, int n)
{
	return 0;
}
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
