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
/* Syscall number at tp_btf/sys_exit (what syscall_get_nr() reads), so that an exit program can
 * leave at once on the syscalls it does not follow instead of looking up its pending map. */
static __always_inline long vig_sys_nr(struct pt_regs *regs)
{
	return regs->orig_ax; /* a direct load: tp_btf hands a trusted pointer */
}
#define VIG_SYS_SUPPORTED 1
#else
static __always_inline __u64 vig_sys_arg(struct pt_regs *regs, int n)
{
	return 0;
}
static __always_inline long vig_sys_nr(struct pt_regs *regs)
{
	return -1;
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
