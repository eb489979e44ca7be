/*
 * vigil_abi.h - the records the agent's BPF programs send to user space, and the settings they
 * read. Included by both sides: the BPF objects (the probes/ .bpf.c files, built against a generated
 * vmlinux.h) and the user-space loader (the src/agent .c files, built against <linux/types.h>).
 *
 * Rules of this header: plain data only; fixed-width types; every hole made explicit as pad[]
 * and zeroed before submit; sizes pinned by _Static_assert so that a change on one side without
 * the other fails the build. Every record starts with struct vig_abi_hdr. Times are
 * CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns), converted to wall time in user space.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIG_ABI_COMM_LEN 16      /* TASK_COMM_LEN */
#define VIG_ABI_PATH_LEN 256     /* bytes of a path kept by the kernel side (NUL included) */
#define VIG_ABI_ARGS_LEN 4096    /* bytes of argv kept (power of two; at most LEN-1 used) */
#define VIG_ABI_NAME_LEN 64      /* bytes of a dentry name / memfd name / module name */
#define VIG_ABI_CWD_LEN 1024     /* bytes of cwd components (power of two) */
#define VIG_ABI_CWD_DEPTH 32     /* most cwd components walked */
#define VIG_ABI_CGROUP_LEN 96    /* bytes of the task's cgroup leaf name (NUL included) */
#define VIG_ABI_MAX_PREFIXES 8   /* watched path prefixes for the file sensor */
#define VIG_ABI_PREFIX_LEN 64    /* bytes of one prefix (NUL included) */
#define VIG_ABI_MAX_IGNORE 32    /* entries of each in-kernel ignore list (comm, uid) */
#define VIG_ABI_MAX_RING_GROUPS 64 /* rings per object, one per group of CPUs */

/* Record types (vig_abi_hdr.type). */
enum vig_abi_type {
	VIG_ABI_EXEC = 1,
	VIG_ABI_FORK = 2,
	VIG_ABI_EXIT = 3,
	VIG_ABI_NET = 4,
	VIG_ABI_FILE = 5,
	VIG_ABI_MISC = 6,
	VIG_ABI_RATE = 7,
};

/* Drop counter slots (per-CPU array "drops", one per object, index = category). */
enum vig_abi_drop {
	VIG_ABI_DROP_PROCESS = 0,
	VIG_ABI_DROP_NET = 1,
	VIG_ABI_DROP_FILE = 2,
	VIG_ABI_DROP_MISC = 3,
	VIG_ABI_DROP_FILE_RATE = 4, /* file records refused by the per-process rate limit */
	VIG_ABI_DROP__COUNT = 5,
};

/* Record flags (vig_abi_hdr.flags). */
#define VIG_ABI_F_ARGS_TRUNC 0x1u  /* argv longer than VIG_ABI_ARGS_LEN-1 bytes */
#define VIG_ABI_F_PATH_TRUNC 0x2u  /* a path did not fit VIG_ABI_PATH_LEN */
#define VIG_ABI_F_REL_PATH 0x4u    /* path is relative (to dirfd/cwd); user space resolves */
#define VIG_ABI_F_CREATED 0x8u     /* file: the open created the inode (heuristic, see file.bpf.c) */
#define VIG_ABI_F_NO_MM 0x10u      /* exec: task had no mm, argv missing */
#define VIG_ABI_F_FAILED 0x20u     /* net connect: the handshake failed (SYN_SENT -> CLOSE) */
#define VIG_ABI_F_CWD_TRUNC 0x40u  /* exec: cwd deeper or longer than the walk allows */

struct vig_abi_hdr {
	__u32 type;     /* enum vig_abi_type */
	__u32 size;     /* bytes of the whole record */
	__u64 ktime_ns; /* CLOCK_BOOTTIME ns when the record was made */
	__u32 pid;      /* thread group id (user-space "pid") of the subject process */
	__u32 tid;      /* thread id */
	__u32 flags;    /* VIG_ABI_F_* */
	__u32 pad;      /* zero */
};

/* Credentials and identity of a task at the time of the record. */
struct vig_abi_task {
	__u32 ppid;           /* real parent's tgid */
	__u32 uid;            /* real uid */
	__u32 euid;           /* effective uid */
	__u32 gid;            /* real gid */
	__u32 egid;           /* effective gid */
	__u32 auid;           /* login uid (task->loginuid), 4294967295 when unset */
	__u32 sessionid;      /* audit session id */
	__u32 tty_nr;         /* controlling tty as (major << 8 | minor_lo), 0 if none */
	__u64 start_boot_ns;  /* task start, CLOCK_BOOTTIME ns (group leader's) */
	__u64 cgroup_id;      /* cgroup v2 id of the task (0 on pure cgroup v1) */
	char comm[VIG_ABI_COMM_LEN]; /* task comm, NUL-terminated */
};

/* Process exec (tp_btf/sched_process_exec). Sent without the unused tail of args[]:
 * hdr.size is VIG_ABI_EXEC_SIZE(args_len), so a short command line costs ~1.5 KiB of ring. */
struct vig_abi_exec {
	struct vig_abi_hdr hdr;
	struct vig_abi_task task;
	__u32 args_len;      /* bytes of args used (NUL-separated argv) */
	__u32 old_pid;       /* pid before exec (differs when a non-leader thread execs) */
	__u32 exe_nlink;     /* link count of the executed inode (0: deleted or memfd) */
	__u32 cwd_len;       /* bytes of cwd used */
	__u64 exe_ino;       /* inode number of the executed file */
	__u64 exe_dev;       /* s_dev of its super block (kernel encoding: major << 20 | minor) */
	__u64 exe_mtime_ns;  /* its mtime (ns since the epoch), 0 when the kernel's inode lacks it */
	__u64 exe_size;      /* its size in bytes */
	char filename[VIG_ABI_PATH_LEN];   /* bprm->filename as passed to execve */
	char exe_dname[VIG_ABI_NAME_LEN];  /* dentry name of the executed file ("memfd:x") */
	char cwd[VIG_ABI_CWD_LEN];         /* working directory as NUL-terminated components,
					    * innermost first ("b\0a\0" is /a/b); empty = "/" */
	char cgroup[VIG_ABI_CGROUP_LEN];   /* leaf name of the task's cgroup ("docker-<id>.scope"),
					    * "" at a hierarchy's root (see process.bpf.c) */
	char args[VIG_ABI_ARGS_LEN];       /* argv bytes from mm->arg_start */
};

/* Process fork (tp_btf/sched_process_fork, new thread groups only). hdr.pid is the child. */
struct vig_abi_fork {
	struct vig_abi_hdr hdr;
	struct vig_abi_task task; /* the child's */
};

/* Process exit (tp_btf/sched_process_exit, group leader only). */
struct vig_abi_exit {
	struct vig_abi_hdr hdr;
	__s32 exit_code;      /* task->exit_code (status << 8 | signal) */
	__u32 pad;            /* zero */
	__u64 start_boot_ns;  /* start of the exiting task */
	char comm[VIG_ABI_COMM_LEN];
};

/* TCP state change (tp_btf/inet_sock_set_state) or UDP socket call (tp_btf/sys_exit). */
#define VIG_ABI_NET_CONNECT 1     /* SYN_SENT -> ESTABLISHED or CLOSE (ports known by then) */
#define VIG_ABI_NET_ACCEPT 2      /* SYN_RECV -> ESTABLISHED */
#define VIG_ABI_NET_LISTEN 3      /* CLOSE -> LISTEN */
#define VIG_ABI_NET_UDP_CONNECT 4 /* connect() on a UDP socket */
#define VIG_ABI_NET_UDP_SEND 5    /* sendto/sendmsg of a UDP socket (first per window and peer) */
#define VIG_ABI_NET_UDP_RECV 6    /* recvfrom/recvmsg returning the source address (likewise) */
struct vig_abi_net {
	struct vig_abi_hdr hdr;
	__u32 op;             /* VIG_ABI_NET_* */
	__u16 family;         /* AF_INET (2) or AF_INET6 (10) */
	__u16 protocol;       /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u16 sport;          /* local port, host order */
	__u16 dport;          /* remote port, host order */
	__u32 uid;            /* uid of the attributed process */
	__u8 saddr[16];       /* local address (IPv4 in the first 4 bytes) */
	__u8 daddr[16];       /* remote address (UDP: the peer, sender of a received datagram) */
	char comm[VIG_ABI_COMM_LEN]; /* comm of the attributed process */
};

/* Per-process file rate limit summary (file.bpf.c): the file records of one process that the
 * token bucket refused since the last summary, at most one per process per
 * VIG_ABI_RATE_WINDOW_NS (file.bpf.c), or when it exits. */
#define VIG_ABI_RATE_WINDOW_NS (10ull * 1000000000ull) /* at most one summary per process per 10 s */

/* The file sensor's token bucket of one process, value of its "buckets" map (key: tgid). */
struct vig_abi_bucket {
	__u64 tat;        /* GCRA theoretical arrival time, CLOCK_BOOTTIME ns */
	__u64 suppressed; /* records refused since the last summary */
	__u64 first_ns;   /* first refused record since the last summary */
	__u64 last_ns;    /* last refused record */
	char comm[VIG_ABI_COMM_LEN];
};

struct vig_abi_rate {
	struct vig_abi_hdr hdr;
	__u64 suppressed;     /* records refused since the previous summary */
	__u64 first_ns;       /* CLOCK_BOOTTIME ns of the first refused record */
	__u64 last_ns;        /* and of the last */
	char comm[VIG_ABI_COMM_LEN];
};

/* File operations (tp_btf/sys_enter + sys_exit on the file syscalls). */
#define VIG_ABI_FILE_OPEN 1   /* open/openat/creat for writing or creating */
#define VIG_ABI_FILE_UNLINK 2 /* unlink/unlinkat (AT_REMOVEDIR: rmdir) */
#define VIG_ABI_FILE_RENAME 3 /* rename/renameat/renameat2 */
#define VIG_ABI_FILE_CHMOD 4  /* chmod/fchmodat/fchmodat2 */
#define VIG_ABI_FILE_CHOWN 5  /* chown/lchown/fchownat */
#define VIG_ABI_FILE_MKDIR 6  /* mkdir/mkdirat */
struct vig_abi_file {
	struct vig_abi_hdr hdr;
	__u32 op;            /* VIG_ABI_FILE_* */
	__s32 ret;           /* syscall result (negative errno on failure) */
	__u32 open_flags;    /* open: O_* flags; unlinkat/renameat2: flags */
	__u32 mode;          /* open/chmod/mkdir: mode argument */
	__u32 uid;           /* chown: new owner */
	__u32 gid;           /* chown: new group */
	__s32 dirfd;         /* dirfd of the first path (-100 AT_FDCWD) */
	__s32 dirfd2;        /* dirfd of the second path (rename) */
	__u64 ino;           /* open: inode of the opened file, 0 if unknown */
	char comm[VIG_ABI_COMM_LEN];
	char path[VIG_ABI_PATH_LEN];   /* first path as passed */
	char path2[VIG_ABI_PATH_LEN];  /* rename: new path */
};

/* Privilege changes, module loads, ptrace, memfd_create, bpf. */
#define VIG_ABI_MISC_SETUID 1  /* setuid family, setgid family (syscall nr in nr) */
#define VIG_ABI_MISC_CAPSET 2
#define VIG_ABI_MISC_MODULE 3  /* init_module/finit_module (or module_load tracepoint) */
#define VIG_ABI_MISC_PTRACE 4  /* PTRACE_ATTACH/SEIZE */
#define VIG_ABI_MISC_MEMFD 5   /* memfd_create */
#define VIG_ABI_MISC_BPF 6     /* bpf(BPF_PROG_LOAD) */
struct vig_abi_misc {
	struct vig_abi_hdr hdr;
	__u32 op;            /* VIG_ABI_MISC_* */
	__u32 nr;            /* syscall number (0 for a tracepoint) */
	__s64 ret;           /* syscall result */
	__u64 arg[4];        /* raw syscall arguments (meaning per op) */
	__u32 old_uid;       /* creds before the call */
	__u32 old_euid;
	__u32 old_gid;
	__u32 old_egid;
	__u32 new_uid;       /* creds after the call */
	__u32 new_euid;
	__u32 new_gid;
	__u32 new_egid;
	__u64 cap_effective; /* capset: effective set after the call */
	char comm[VIG_ABI_COMM_LEN];
	char name[VIG_ABI_NAME_LEN]; /* memfd name, module file/name, bpf prog name */
};

#define VIG_ABI_MAX_RECORD sizeof(struct vig_abi_exec)
/* Bytes of an exec record with args_len bytes of argv (args_len < VIG_ABI_ARGS_LEN). */
#define VIG_ABI_EXEC_SIZE(args_len) (__builtin_offsetof(struct vig_abi_exec, args) + (args_len))

_Static_assert(sizeof(struct vig_abi_hdr) == 32, "vig_abi_hdr layout");
_Static_assert(sizeof(struct vig_abi_task) == 64, "vig_abi_task layout");
_Static_assert(sizeof(struct vig_abi_exec) == 32 + 64 + 48 + 256 + 64 + 1024 + 96 + 4096, "vig_abi_exec layout");
_Static_assert(sizeof(struct vig_abi_fork) == 96, "vig_abi_fork layout");
_Static_assert(sizeof(struct vig_abi_exit) == 64, "vig_abi_exit layout");
_Static_assert(sizeof(struct vig_abi_net) == 32 + 16 + 32 + 16, "vig_abi_net layout");
_Static_assert(sizeof(struct vig_abi_file) == 32 + 40 + 16 + 512, "vig_abi_file layout");
_Static_assert(sizeof(struct vig_abi_misc) == 32 + 16 + 32 + 32 + 8 + 16 + 64, "vig_abi_misc layout");
_Static_assert(sizeof(struct vig_abi_rate) == 32 + 24 + 16, "vig_abi_rate layout");
_Static_assert(sizeof(struct vig_abi_bucket) == 32 + 16, "vig_abi_bucket layout");

/* x86_64 syscall numbers used by the file and misc sensors (the sys_enter/sys_exit raw
 * tracepoints carry the number; other architectures leave those sensors off). */
#define VIG_NR_OPEN 2
#define VIG_NR_CREAT 85
#define VIG_NR_OPENAT 257
#define VIG_NR_UNLINK 87
#define VIG_NR_UNLINKAT 263
#define VIG_NR_RENAME 82
#define VIG_NR_RENAMEAT 264
#define VIG_NR_RENAMEAT2 316
#define VIG_NR_CHMOD 90
#define VIG_NR_FCHMODAT 268
#define VIG_NR_FCHMODAT2 452
#define VIG_NR_CHOWN 92
#define VIG_NR_LCHOWN 94
#define VIG_NR_FCHOWNAT 260
#define VIG_NR_MKDIR 83
#define VIG_NR_MKDIRAT 258
#define VIG_NR_SETUID 105
#define VIG_NR_SETGID 106
#define VIG_NR_SETREUID 113
#define VIG_NR_SETREGID 114
#define VIG_NR_SETRESUID 117
#define VIG_NR_SETRESGID 119
#define VIG_NR_SETFSUID 122
#define VIG_NR_SETFSGID 123
#define VIG_NR_CAPSET 126
#define VIG_NR_PTRACE 101
#define VIG_NR_INIT_MODULE 175
#define VIG_NR_FINIT_MODULE 313
#define VIG_NR_MEMFD_CREATE 319
#define VIG_NR_BPF 321
#define VIG_NR_CONNECT 42
#define VIG_NR_SENDTO 44
#define VIG_NR_RECVFROM 45
#define VIG_NR_SENDMSG 46
#define VIG_NR_RECVMSG 47

#endif /* VIGIL_ABI_H */
