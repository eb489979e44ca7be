/*
 * file.bpf.c - the file sensor: open-for-write/create, unlink, rename, chmod, chown and mkdir
 * of paths under the configured prefixes, from the syscalls' sys_enter_* events (arguments,
 * in-kernel prefix filter) and sys_exit_* events (result; see sys.bpf.h for how they are
 * attached). Only successful calls are reported.
 *
 * Filtering: an absolute path must start with one of prefixes[] (each ends with '/') and with
 * none of ignore_prefixes[] (--ignore-path); for a rename either path may match. Processes on
 * the ignore lists (common.bpf.h) are left at sys_enter. A relative path cannot be judged here, so it passes with
 * VIG_ABI_F_REL_PATH when pass_relative is set and user space resolves and filters it.
 * Opens are reported once per (process, inode) ("first write"), remembered in an LRU map.
 * "Created" is a heuristic: O_CREAT and the opened inode's atime equals its ctime, which holds
 * for a new inode; an existing file that was never read or changed since it was made can match.
 *
 * Rate limit: each process (tgid) has a token bucket in "buckets" (LRU), applied at sys_exit
 * just before ring-buffer space is taken: one record per rate_interval_ns on average, bursts
 * of up to rate_burst. The bucket is kept as a GCRA "theoretical arrival time" (tat): a record
 * at time now passes when tat - now <= (rate_burst - 1) * rate_interval_ns, and then tat grows
 * by rate_interval_ns (a process first seen passes and starts its bucket). A refused
 * record is counted in drops[VIG_ABI_DROP_FILE_RATE] and in the bucket. A VIG_ABI_RATE summary
 * with the count is sent at the process's first file record once VIG_ABI_RATE_WINDOW_NS have
 * passed since its first refused one, or when it exits (vig_file_gone); user space sends the
 * summary of a process that went quiet (ebpf.c sweeps "buckets" once a second). So a process
 * gets at most one summary per window. Records with a relative path count too (they cost ring
 * space before user space resolves and filters them). Threads of one process share a bucket
 * without locks; under concurrent use the counts are approximate (a few records either way).
 * rate_interval_ns 0 turns the limit off.
 */
#include "common.bpf.h"
#include "sys.bpf.h"

#define VIG_O_WRONLY 01
#define VIG_O_RDWR 02
#define VIG_O_CREAT 0100
#define VIG_O_TRUNC 01000
#define VIG_AT_FDCWD -100

const volatile char prefixes[VIG_ABI_MAX_PREFIXES][VIG_ABI_PREFIX_LEN] = {};
const volatile __u32 n_prefixes = 0;
/* --ignore-path: prefixes (each ending in '/') under which nothing is reported */
const volatile char ignore_prefixes[VIG_ABI_MAX_PREFIXES][VIG_ABI_PREFIX_LEN] = {};
const volatile __u32 n_ignore_prefixes = 0;
const volatile __u8 pass_relative = 1;
const volatile __u64 rate_interval_ns = 0; /* 1e9 / records per second; 0: no limit */
const volatile __u64 rate_burst = 1;       /* records a process may send back to back */

VIG_PENDING_MAP(pending, struct vig_abi_file);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vig_abi_file);
} scratch SEC(".maps");

struct vig_seen_key {
	__u32 tgid;
	__u32 pad;
	__u64 ino;
	__u64 dev;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vig_seen_key);
	__type(value, __u8);
} seen SEC(".maps");

/* Token bucket per process (struct vig_abi_bucket, vigil_abi.h: user space sweeps it too). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct vig_abi_bucket);
} buckets SEC(".maps");

/* The file syscall nr is followed as (VIG_ABI_FILE_*), or 0. */
static __always_inline __u32 vig_file_op(long nr)
{
	switch (nr) {
	case VIG_NR_OPEN: case VIG_NR_CREAT: case VIG_NR_OPENAT: return VIG_ABI_FILE_OPEN;
	case VIG_NR_UNLINK: case VIG_NR_UNLINKAT: return VIG_ABI_FILE_UNLINK;
	case VIG_NR_RENAME: case VIG_NR_RENAMEAT: case VIG_NR_RENAMEAT2: return VIG_ABI_FILE_RENAME;
	case VIG_NR_CHMOD: case VIG_NR_FCHMODAT: case VIG_NR_FCHMODAT2: return VIG_ABI_FILE_CHMOD;
	case VIG_NR_CHOWN: case VIG_NR_LCHOWN: case VIG_NR_FCHOWNAT: return VIG_ABI_FILE_CHOWN;
	case VIG_NR_MKDIR: case VIG_NR_MKDIRAT: return VIG_ABI_FILE_MKDIR;
	default: return 0;
	}
}

/* Sends the summary of b (tgid's refused records) and clears its count. */
static __always_inline void vig_rate_summary(__u32 tgid, struct vig_abi_bucket *b)
{
	struct vig_abi_rate *r = vig_reserve(sizeof(*r), VIG_ABI_DROP_FILE);

	if (!r)
		return; /* counted as a file drop; the count stays for the next summary */
	vig_fill_hdr(&r->hdr, VIG_ABI_RATE, sizeof(*r), tgid, tgid);
	r->suppressed = b->suppressed;
	r->first_ns = b->first_ns;
	r->last_ns = b->last_ns;
	__builtin_memcpy(r->comm, b->comm, sizeof(r->comm));
	vig_submit(r);
	b->suppressed = 0;
}

/* 1 when tgid may send a record now (the bucket pays for it), 0 when it is refused. */
static __always_inline int vig_rate_allow(__u32 tgid, const char *comm)
{
	struct vig_abi_bucket *b, nb = {};
	__u64 now, tat;
	int ok = 0;

	if (!rate_interval_ns)
		return 1;
	now = bpf_ktime_get_boot_ns();
	b = bpf_map_lookup_elem(&buckets, &tgid);
	if (!b) {
		nb.tat = now + rate_interval_ns;
		__builtin_memcpy(nb.comm, comm, sizeof(nb.comm));
		bpf_map_update_elem(&buckets, &tgid, &nb, BPF_ANY);
		return 1;
	}
	tat = b->tat > now ? b->tat : now;
	if (tat - now <= (rate_burst - 1) * rate_interval_ns) {
		b->tat = tat + rate_interval_ns;
		ok = 1;
	} else {
		vig_count_drop(VIG_ABI_DROP_FILE_RATE);
		if (!b->suppressed)
			b->first_ns = now;
		b->suppressed++;
		b->last_ns = now;
	}
	if (b->suppressed && now - b->first_ns >= VIG_ABI_RATE_WINDOW_NS) {
		__builtin_memcpy(b->comm, comm, sizeof(b->comm));
		vig_rate_summary(tgid, b);
	}
	return ok;
}

/* True when path (absolute) starts with one of the first n prefixes of list. */
static __always_inline int vig_prefix_match(const volatile char (*list)[VIG_ABI_PREFIX_LEN], __u32 n,
					    const char *path)
{
	for (__u32 i = 0; i < VIG_ABI_MAX_PREFIXES; i++) {
		int ok = 1;

		if (i >= n)
			break;
		for (__u32 j = 0; j < VIG_ABI_PREFIX_LEN; j++) {
			char c = list[i][j];

			if (c == 0)
				break;
			if (path[j] != c) {
				ok = 0;
				break;
			}
		}
		if (ok)
			return 1;
	}
	return 0;
}

/* Reads a user path into dst; returns 1 when it should be reported. */
static __always_inline int vig_read_path(char *dst, __u64 uptr, struct vig_abi_file *f)
{
	long n = bpf_probe_read_user_str(dst, VIG_ABI_PATH_LEN, (const void *)uptr);

	if (n <= 0) {
		dst[0] = 0;
		return 0;
	}
	if (n == VIG_ABI_PATH_LEN)
		f->hdr.flags |= VIG_ABI_F_PATH_TRUNC;
	if (dst[0] != '/') {
		if (!pass_relative)
			return 0;
		f->hdr.flags |= VIG_ABI_F_REL_PATH;
		return 1;
	}
	return vig_prefix_match(prefixes, n_prefixes, dst) &&
	       !(n_ignore_prefixes && vig_prefix_match(ignore_prefixes, n_ignore_prefixes, dst));
}

SEC("tp/syscalls/sys_enter_openat") /* and every other followed call: see vig_sys_names */
int vig_file_enter(struct vig_sys_enter_ctx *ctx)
{
	long nr = ctx->nr;
	struct vig_abi_file *f;
	__u64 id;
	__u32 zero = 0, op;
	__u64 p1 = 0, p2 = 0;
	int want;

	op = vig_file_op(nr);
	if (!op || !VIG_SYS_SUPPORTED)
		return 0;
	id = bpf_get_current_pid_tgid();
	if ((id >> 32) == agent_tgid || vig_task_ignored())
		return 0;
	f = bpf_map_lookup_elem(&scratch, &zero);
	if (!f)
		return 0;
	vig_fill_hdr(&f->hdr, VIG_ABI_FILE, sizeof(*f), id >> 32, (__u32)id);
	f->op = op;
	f->ret = 0;
	f->open_flags = 0;
	f->mode = 0;
	f->uid = 0;
	f->gid = 0;
	f->dirfd = VIG_AT_FDCWD;
	f->dirfd2 = VIG_AT_FDCWD;
	f->ino = 0;
	f->path2[0] = 0;
	switch (nr) {
	case VIG_NR_OPEN:
		p1 = vig_sys_arg(ctx, 0);
		f->open_flags = vig_sys_arg(ctx, 1);
		f->mode = vig_sys_arg(ctx, 2);
		break;
	case VIG_NR_CREAT:
		p1 = vig_sys_arg(ctx, 0);
		f->open_flags = VIG_O_CREAT | VIG_O_WRONLY | VIG_O_TRUNC;
		f->mode = vig_sys_arg(ctx, 1);
		break;
	case VIG_NR_OPENAT:
		f->dirfd = vig_sys_arg(ctx, 0);
		p1 = vig_sys_arg(ctx, 1);
		f->open_flags = vig_sys_arg(ctx, 2);
		f->mode = vig_sys_arg(ctx, 3);
		break;
	case VIG_NR_UNLINK: case VIG_NR_RENAME: case VIG_NR_CHMOD: case VIG_NR_CHOWN:
	case VIG_NR_LCHOWN: case VIG_NR_MKDIR:
		p1 = vig_sys_arg(ctx, 0);
		p2 = nr == VIG_NR_RENAME ? vig_sys_arg(ctx, 1) : 0;
		if (nr == VIG_NR_CHMOD || nr == VIG_NR_MKDIR)
			f->mode = vig_sys_arg(ctx, 1);
		if (nr == VIG_NR_CHOWN || nr == VIG_NR_LCHOWN) {
			f->uid = vig_sys_arg(ctx, 1);
			f->gid = vig_sys_arg(ctx, 2);
		}
		break;
	case VIG_NR_UNLINKAT:
		f->dirfd = vig_sys_arg(ctx, 0);
		p1 = vig_sys_arg(ctx, 1);
		f->open_flags = vig_sys_arg(ctx, 2);
		break;
	case VIG_NR_RENAMEAT: case VIG_NR_RENAMEAT2:
		f->dirfd = vig_sys_arg(ctx, 0);
		p1 = vig_sys_arg(ctx, 1);
		f->dirfd2 = vig_sys_arg(ctx, 2);
		p2 = vig_sys_arg(ctx, 3);
		f->open_flags = nr == VIG_NR_RENAMEAT2 ? vig_sys_arg(ctx, 4) : 0;
		break;
	case VIG_NR_FCHMODAT: case VIG_NR_FCHMODAT2: case VIG_NR_MKDIRAT:
		f->dirfd = vig_sys_arg(ctx, 0);
		p1 = vig_sys_arg(ctx, 1);
		f->mode = vig_sys_arg(ctx, 2);
		break;
	case VIG_NR_FCHOWNAT:
		f->dirfd = vig_sys_arg(ctx, 0);
		p1 = vig_sys_arg(ctx, 1);
		f->uid = vig_sys_arg(ctx, 2);
		f->gid = vig_sys_arg(ctx, 3);
		break;
	}
	if (op == VIG_ABI_FILE_OPEN &&
	    !(f->open_flags & (VIG_O_WRONLY | VIG_O_RDWR | VIG_O_CREAT | VIG_O_TRUNC)))
		return 0;
	want = vig_read_path(f->path, p1, f);
	if (p2)
		want |= vig_read_path(f->path2, p2, f);
	if (!want)
		return 0;
	bpf_get_current_comm(f->comm, sizeof(f->comm));
	bpf_map_update_elem(&pending, &id, f, BPF_ANY);
	return 0;
}

/* Inode of fd in the current task, with the "created" heuristic into *created. */
static __always_inline void vig_fd_inode(long fd, __u64 *ino, __u64 *dev, int *created)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *file = NULL;
	struct inode *inode;

	*ino = 0;
	*dev = 0;
	*created = 0;
	if (fd < 0 || fd > 1048576)
		return;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return;
	inode = BPF_CORE_READ(file, f_inode);
	*ino = BPF_CORE_READ(inode, i_ino);
	*dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		*created = BPF_CORE_READ(inode, i_atime_sec) == BPF_CORE_READ(inode, i_ctime_sec) &&
			   BPF_CORE_READ(inode, i_atime_nsec) == BPF_CORE_READ(inode, i_ctime_nsec);
	} else {
		*created = BPF_CORE_READ(inode, i_size) == 0;
	}
}

SEC("tp/syscalls/sys_exit_openat")
int vig_file_exit(struct vig_sys_exit_ctx *ctx)
{
	struct vig_abi_file *f;
	long ret = ctx->ret;
	__u64 id;

	id = bpf_get_current_pid_tgid();
	f = bpf_map_lookup_elem(&pending, &id);
	if (!f)
		return 0;
	if (ret < 0)
		goto out_delete;
	f->ret = ret;
	if (f->op == VIG_ABI_FILE_OPEN) {
		struct vig_seen_key k = { .tgid = id >> 32 };
		__u8 one = 1;
		int created;

		vig_fd_inode(ret, &k.ino, &k.dev, &created);
		f->ino = k.ino;
		if (created && (f->open_flags & VIG_O_CREAT))
			f->hdr.flags |= VIG_ABI_F_CREATED;
		else if (k.ino && bpf_map_lookup_elem(&seen, &k))
			goto out_delete; /* this process already opened this inode for writing */
		if (k.ino)
			bpf_map_update_elem(&seen, &k, &one, BPF_ANY);
	}
	if (!vig_rate_allow(id >> 32, f->comm))
		goto out_delete;
	vig_output(f, sizeof(*f), VIG_ABI_DROP_FILE);
out_delete:
	bpf_map_delete_elem(&pending, &id);
	return 0;
}

/* A process left: the summary of what its bucket still holds, then the bucket goes. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(vig_file_gone, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	struct vig_abi_bucket *b;

	if (!rate_interval_ns || BPF_CORE_READ(p, pid) != tgid)
		return 0;
	b = bpf_map_lookup_elem(&buckets, &tgid);
	if (!b)
		return 0;
	if (b->suppressed)
		vig_rate_summary(tgid, b);
	bpf_map_delete_elem(&buckets, &tgid);
	return 0;
}
