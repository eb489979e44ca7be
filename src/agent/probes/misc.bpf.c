/*
 * misc.bpf.c - the "misc" sensor: privilege changes (setuid/setgid families, capset), kernel
 * module loads (init_module/finit_module, plus tp_btf/module_load where the kernel has it),
 * ptrace attach/seize, memfd_create and bpf(BPF_PROG_LOAD). Arguments and the credentials
 * before the call are stashed at the syscall's sys_enter event; the result and the credentials
 * after the call are added at its sys_exit event (sys.bpf.h). The agent's own calls (it loads
 * BPF) are skipped.
 */
#include "common.bpf.h"
#include "sys.bpf.h"

#define VIG_PTRACE_ATTACH 16
#define VIG_PTRACE_SEIZE 0x4206
#define VIG_BPF_PROG_LOAD 5
#define VIG_BPF_ATTR_PROG_NAME_OFF 48 /* offsetof(union bpf_attr, prog_name) */

VIG_PENDING_MAP(pending, struct vig_abi_misc);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vig_abi_misc);
} scratch SEC(".maps");

static __always_inline void vig_creds(struct task_struct *t, __u32 *uid, __u32 *euid,
				      __u32 *gid, __u32 *egid)
{
	*uid = BPF_CORE_READ(t, cred, uid.val);
	*euid = BPF_CORE_READ(t, cred, euid.val);
	*gid = BPF_CORE_READ(t, cred, gid.val);
	*egid = BPF_CORE_READ(t, cred, egid.val);
}

/* Dentry name of the current task's fd into dst. */
static __always_inline void vig_fd_name(long fd, char *dst)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *file = NULL;

	dst[0] = 0;
	if (fd < 0 || fd > 1048576)
		return;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	bpf_probe_read_kernel_str(dst, VIG_ABI_NAME_LEN, BPF_CORE_READ(file, f_path.dentry, d_name.name));
}

static __always_inline __u32 vig_misc_op(long nr)
{
	switch (nr) {
	case VIG_NR_SETUID: case VIG_NR_SETGID: case VIG_NR_SETREUID: case VIG_NR_SETREGID:
	case VIG_NR_SETRESUID: case VIG_NR_SETRESGID: case VIG_NR_SETFSUID: case VIG_NR_SETFSGID:
		return VIG_ABI_MISC_SETUID;
	case VIG_NR_CAPSET: return VIG_ABI_MISC_CAPSET;
	case VIG_NR_PTRACE: return VIG_ABI_MISC_PTRACE;
	case VIG_NR_MEMFD_CREATE: return VIG_ABI_MISC_MEMFD;
	case VIG_NR_BPF: return VIG_ABI_MISC_BPF;
	case VIG_NR_INIT_MODULE: case VIG_NR_FINIT_MODULE: return VIG_ABI_MISC_MODULE;
	default: return 0;
	}
}

SEC("tp/syscalls/sys_enter_setuid") /* and every other followed call: see vig_sys_names */
int vig_misc_enter(struct vig_sys_enter_ctx *ctx)
{
	long nr = ctx->nr;
	struct vig_abi_misc *m;
	struct task_struct *t;
	__u64 id;
	__u32 zero = 0, op;

	op = vig_misc_op(nr);
	if (!op || !VIG_SYS_SUPPORTED)
		return 0;
	id = bpf_get_current_pid_tgid();
	if ((id >> 32) == agent_tgid || vig_task_ignored())
		return 0;
	m = bpf_map_lookup_elem(&scratch, &zero);
	if (!m)
		return 0;
	vig_fill_hdr(&m->hdr, VIG_ABI_MISC, sizeof(*m), id >> 32, (__u32)id);
	m->op = op;
	m->nr = nr;
	m->ret = 0;
	for (int i = 0; i < 4; i++)
		m->arg[i] = vig_sys_arg(ctx, i);
	if (op == VIG_ABI_MISC_PTRACE && m->arg[0] != VIG_PTRACE_ATTACH && m->arg[0] != VIG_PTRACE_SEIZE)
		return 0;
	if (op == VIG_ABI_MISC_BPF && m->arg[0] != VIG_BPF_PROG_LOAD)
		return 0;
	t = bpf_get_current_task_btf();
	vig_creds(t, &m->old_uid, &m->old_euid, &m->old_gid, &m->old_egid);
	m->new_uid = m->old_uid;
	m->new_euid = m->old_euid;
	m->new_gid = m->old_gid;
	m->new_egid = m->old_egid;
	m->cap_effective = 0;
	m->name[0] = 0;
	if (op == VIG_ABI_MISC_MEMFD)
		bpf_probe_read_user_str(m->name, sizeof(m->name), (const void *)m->arg[0]);
	else if (op == VIG_ABI_MISC_BPF)
		bpf_probe_read_user_str(m->name, 16, (const void *)(m->arg[1] + VIG_BPF_ATTR_PROG_NAME_OFF));
	else if (op == VIG_ABI_MISC_MODULE && nr == VIG_NR_FINIT_MODULE)
		vig_fd_name(m->arg[0], m->name);
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	bpf_map_update_elem(&pending, &id, m, BPF_ANY);
	return 0;
}

SEC("tp/syscalls/sys_exit_setuid")
int vig_misc_exit(struct vig_sys_exit_ctx *ctx)
{
	struct vig_abi_misc *m;
	struct task_struct *t;
	const struct cred *c;
	__u64 id;

	id = bpf_get_current_pid_tgid();
	m = bpf_map_lookup_elem(&pending, &id);
	if (!m)
		return 0;
	m->ret = ctx->ret;
	t = bpf_get_current_task_btf();
	vig_creds(t, &m->new_uid, &m->new_euid, &m->new_gid, &m->new_egid);
	c = BPF_CORE_READ(t, cred);
	bpf_probe_read_kernel(&m->cap_effective, sizeof(m->cap_effective), &c->cap_effective);
	vig_output(m, sizeof(*m), VIG_ABI_DROP_MISC);
	bpf_map_delete_elem(&pending, &id);
	return 0;
}

/* Kernel module loaded (only where the module tracepoint exists; else autoload is off). */
SEC("tp_btf/module_load")
int BPF_PROG(vig_module_load, struct module *mod)
{
	struct vig_abi_misc *m;
	__u64 id = bpf_get_current_pid_tgid();

	m = vig_reserve(sizeof(*m), VIG_ABI_DROP_MISC);
	if (!m)
		return 0;
	__builtin_memset(m, 0, sizeof(*m));
	vig_fill_hdr(&m->hdr, VIG_ABI_MISC, sizeof(*m), id >> 32, (__u32)id);
	m->op = VIG_ABI_MISC_MODULE;
	bpf_get_current_comm(m->comm, sizeof(m->comm));
	BPF_CORE_READ_STR_INTO(&m->name, mod, name);
	vig_submit(m);
	return 0;
}
