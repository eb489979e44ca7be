/*
 * process.bpf.c - the process sensor: exec, fork (new thread groups) and exit (group leaders)
 * from the scheduler's BTF tracepoints, which load on kernels without kprobes or fentry.
 *
 * exec sends the new image's filename as given to execve, the executed file's dentry name,
 * link count, inode and device (so user space can flag memfd and deleted executables and key
 * its hash cache), and argv copied from mm->arg_start..arg_end, capped at VIG_ABI_ARGS_LEN-1
 * bytes with VIG_ABI_F_ARGS_TRUNC set when longer. The record is built in a per-CPU scratch
 * buffer and copied into the ring without the unused tail of args[] (VIG_ABI_EXEC_SIZE), so a
 * typical exec takes ~1.5 KiB of ring instead of 5.6 KiB; bytes of cwd[] past cwd_len are not
 * cleared (user space reads cwd_len bytes).
 *
 * The working directory is walked here rather than read from /proc/PID/cwd later, because a
 * short-lived process is gone by then: from fs->pwd up through d_parent, crossing mounts via
 * mnt_parent/mnt_mountpoint, in bpf_loop steps (at most 2*VIG_ABI_CWD_DEPTH, mount crossings
 * included; kernels without bpf_loop leave it to user space), each component copied innermost first
 * at an offset kept below VIG_ABI_CWD_LEN/2 so that a copy of up to VIG_ABI_CWD_LEN/2 bytes
 * stays inside the buffer. Deeper or longer paths set VIG_ABI_F_CWD_TRUNC.
 */
#include "common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vig_abi_exec);
} exec_scratch SEC(".maps");

struct vig_cwd_walk {
	struct vig_abi_exec *e;
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *mnt;
	__u32 off;
	__u32 done; /* 1: reached the root */
};

/* One step of the walk (a bpf_loop callback): 0 continues, 1 stops. */
static long vig_cwd_step(__u32 i, void *arg)
{
	struct vig_cwd_walk *w = arg;
	/* locals first: CO-RE relocations apply to kernel types only, not to w */
	struct dentry *d = w->d;
	struct vfsmount *vm = w->vm;
	struct mount *mnt = w->mnt, *pm;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct dentry *mroot = BPF_CORE_READ(vm, mnt_root);
	__u32 off = w->off;
	long n;

	if (d == mroot) {
		pm = BPF_CORE_READ(mnt, mnt_parent);
		if (pm == mnt) {
			w->done = 1;
			return 1;
		}
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = pm;
		w->vm = (struct vfsmount *)((void *)pm + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}
	if (d == parent) {
		w->done = 1;
		return 1;
	}
	if (off >= VIG_ABI_CWD_LEN / 2)
		return 1;
	n = bpf_probe_read_kernel_str(&w->e->cwd[off & (VIG_ABI_CWD_LEN / 2 - 1)], VIG_ABI_CWD_LEN / 2,
				      BPF_CORE_READ(d, d_name.name));
	if (n <= 0)
		return 1;
	w->off = off + (__u32)n;
	w->d = parent;
	return 0;
}

static __always_inline void vig_walk_cwd(struct task_struct *p, struct vig_abi_exec *e)
{
	struct vig_cwd_walk w = { .e = e };
	struct path pwd;

	e->cwd_len = 0;
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop)) {
		e->hdr.flags |= VIG_ABI_F_CWD_TRUNC; /* no bpf_loop: user space reads /proc */
		return;
	}
	if (BPF_CORE_READ_INTO(&pwd, p, fs, pwd))
		return;
	w.d = pwd.dentry;
	w.vm = pwd.mnt;
	w.mnt = (struct mount *)((void *)w.vm - bpf_core_field_offset(struct mount, mnt));
	bpf_loop(VIG_ABI_CWD_DEPTH * 2, vig_cwd_step, &w, 0);
	if (!w.done)
		e->hdr.flags |= VIG_ABI_F_CWD_TRUNC;
	e->cwd_len = w.off < VIG_ABI_CWD_LEN ? w.off : VIG_ABI_CWD_LEN;
}

/* Leaf name of p's cgroup into dst: the default (v2) hierarchy's, or, where p sits at its root
 * (a cgroup v1 host), the pids controller's (cpuset's on kernels without it). A container
 * runtime names it after the container ("docker-<id>.scope", "<id>", "cri-containerd-<id>.scope"),
 * from which user space takes container.id. "" at a root. */
static __always_inline void vig_cgroup_leaf(struct task_struct *p, char *dst)
{
	struct css_set *cs = BPF_CORE_READ(p, cgroups);
	struct cgroup *cg = BPF_CORE_READ(cs, dfl_cgrp);

	dst[0] = 0;
	if (!cg || BPF_CORE_READ(cg, level) == 0) {
		struct cgroup_subsys_state *css = NULL;
		__u32 id = 0;

		if (bpf_core_enum_value_exists(enum cgroup_subsys_id, pids_cgrp_id))
			id = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
		bpf_probe_read_kernel(&css, sizeof(css),
				      (void *)cs + bpf_core_field_offset(struct css_set, subsys) + (id & 15) * sizeof(void *));
		cg = css ? BPF_CORE_READ(css, cgroup) : NULL;
		if (!cg || BPF_CORE_READ(cg, level) == 0)
			return;
	}
	bpf_probe_read_kernel_str(dst, VIG_ABI_CGROUP_LEN, BPF_CORE_READ(cg, kn, name));
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vig_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct vig_abi_exec *e;
	struct mm_struct *mm;
	struct file *f;
	__u64 as, ae, len;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 zero = 0;

	e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;
	vig_fill_hdr(&e->hdr, VIG_ABI_EXEC, VIG_ABI_EXEC_SIZE(0), id >> 32, (__u32)id);
	vig_fill_task(p, &e->task);
	e->old_pid = old_pid;
	vig_walk_cwd(p, e);
	vig_cgroup_leaf(p, e->cgroup);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	f = BPF_CORE_READ(bprm, file);
	e->exe_nlink = BPF_CORE_READ(f, f_inode, __i_nlink);
	e->exe_ino = BPF_CORE_READ(f, f_inode, i_ino);
	e->exe_dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	e->exe_size = BPF_CORE_READ(f, f_inode, i_size);
	e->exe_mtime_ns = 0;
	if (bpf_core_field_exists(f->f_inode->i_mtime_sec)) {
		struct inode *ino = BPF_CORE_READ(f, f_inode);

		e->exe_mtime_ns = BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ull +
				  BPF_CORE_READ(ino, i_mtime_nsec);
	}
	bpf_probe_read_kernel_str(e->exe_dname, sizeof(e->exe_dname),
				  BPF_CORE_READ(f, f_path.dentry, d_name.name));
	e->args_len = 0;
	mm = BPF_CORE_READ(p, mm);
	if (!mm) {
		e->hdr.flags |= VIG_ABI_F_NO_MM;
		goto submit;
	}
	as = BPF_CORE_READ(mm, arg_start);
	ae = BPF_CORE_READ(mm, arg_end);
	len = ae > as ? ae - as : 0;
	if (len > VIG_ABI_ARGS_LEN - 1) {
		len = VIG_ABI_ARGS_LEN - 1;
		e->hdr.flags |= VIG_ABI_F_ARGS_TRUNC;
	}
	len &= VIG_ABI_ARGS_LEN - 1;
	if (len && bpf_probe_read_user(e->args, len, (const void *)as) == 0)
		e->args_len = len;
submit:
	len = e->args_len & (VIG_ABI_ARGS_LEN - 1);
	e->hdr.size = VIG_ABI_EXEC_SIZE(len);
	vig_output(e, VIG_ABI_EXEC_SIZE(len), VIG_ABI_DROP_PROCESS);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vig_fork, struct task_struct *parent, struct task_struct *child)
{
	struct vig_abi_fork *e;
	__u32 pid = BPF_CORE_READ(child, pid);
	__u32 tgid = BPF_CORE_READ(child, tgid);

	if (pid != tgid)
		return 0; /* a new thread, not a new process */
	if (vig_task_ignored())
		return 0; /* current is the parent, whose comm and uid the child has; its exec still goes */
	e = vig_reserve(sizeof(*e), VIG_ABI_DROP_PROCESS);
	if (!e)
		return 0;
	vig_fill_hdr(&e->hdr, VIG_ABI_FORK, sizeof(*e), tgid, pid);
	vig_fill_task(child, &e->task);
	/* the child's start time is its own; group_leader may not be set up for reads yet */
	e->task.start_boot_ns = BPF_CORE_READ(child, start_boottime);
	e->task.ppid = BPF_CORE_READ(parent, tgid);
	vig_submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vig_exit, struct task_struct *p)
{
	struct vig_abi_exit *e;
	__u32 pid = BPF_CORE_READ(p, pid);
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__s32 code;

	if (pid != tgid)
		return 0; /* a thread, not the process */
	e = vig_reserve(sizeof(*e), VIG_ABI_DROP_PROCESS);
	if (!e)
		return 0;
	vig_fill_hdr(&e->hdr, VIG_ABI_EXIT, sizeof(*e), tgid, pid);
	code = BPF_CORE_READ(p, exit_code);
	if (code == 0)
		code = BPF_CORE_READ(p, signal, group_exit_code);
	e->exit_code = code;
	e->pad = 0;
	e->start_boot_ns = BPF_CORE_READ(p, start_boottime);
	BPF_CORE_READ_STR_INTO(&e->comm, p, comm);
	vig_submit(e);
	return 0;
}
