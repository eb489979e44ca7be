/*
 * net.bpf.c - the network sensor: TCP state changes from tp_btf/inet_sock_set_state, IPv4 and
 * IPv6. CLOSE->SYN_SENT starts an outgoing connect: current is the connecting process, but the
 * local port is not chosen yet, so the process is remembered per socket in "connecting" and the
 * event is sent at SYN_SENT->ESTABLISHED (or ->CLOSE, flagged failed), which may run in softirq;
 * CLOSE->LISTEN is listen() (current is the owner, remembered per local port in "listeners");
 * SYN_RECV->ESTABLISHED is an accepted connection, which runs in softirq context where current
 * means nothing, so it is attributed to the process that listens on the local port.
 *
 * UDP has no connection state to follow, so it is seen at the socket syscalls instead
 * (their sys_enter_* and sys_exit_* events, sys.bpf.h): connect() on a UDP socket, sendto/sendmsg with
 * a destination (or on a connected socket: its peer), recvfrom/recvmsg that return the source
 * address. sys_enter keeps the fd's socket and the user pointer of the address; sys_exit, when
 * the call succeeded, reads the address (bpf_probe_read_user: for a receive the kernel has just
 * written it) and the local address and port from the socket (bound by then). sendmmsg and
 * recvmmsg are not followed (glibc's resolver connect()s first, which is). A record goes out
 * only for the first call per (process, op, local address and port, peer address and port) in
 * udp_window_ns, remembered in the LRU map "udp_seen", so a DNS client or a flood makes one
 * event per peer and window, not one per datagram.
 */
#include "common.bpf.h"
#include "sys.bpf.h"

#define VIG_TCP_ESTABLISHED 1
#define VIG_TCP_SYN_SENT 2
#define VIG_TCP_SYN_RECV 3
#define VIG_TCP_CLOSE 7
#define VIG_TCP_LISTEN 10
#define VIG_AF_INET 2
#define VIG_AF_INET6 10
#define VIG_IPPROTO_TCP 6
#define VIG_IPPROTO_UDP 17
#define VIG_S_IFMT 0170000
#define VIG_S_IFSOCK 0140000

const volatile __u64 udp_window_ns = 60ull * 1000000000ull; /* one event per peer per window */

struct vig_listener {
	__u32 tgid;
	__u32 uid;
	char comm[VIG_ABI_COMM_LEN];
	__u32 ignored; /* the process is on an ignore list: its connection's events are not sent */
	__u32 pad;
};

/* Local port -> listening process, for attributing accepted connections. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vig_listener);
} listeners SEC(".maps");

/* Socket -> connecting process, between SYN_SENT and the handshake's end. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct vig_listener);
} connecting SEC(".maps");

static __always_inline void vig_copy_addrs(const struct sock *sk, struct vig_abi_net *e)
{
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (e->family == VIG_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(vig_sock_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct vig_abi_net *e;
	struct vig_listener *l = NULL;
	__u16 family, proto;
	__u32 op, port, flags = 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 skey = (__u64)sk;

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if (proto != VIG_IPPROTO_TCP || (family != VIG_AF_INET && family != VIG_AF_INET6))
		return 0;
	port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (oldstate == VIG_TCP_CLOSE && newstate == VIG_TCP_SYN_SENT) {
		struct vig_listener c = { .tgid = id >> 32, .uid = (__u32)bpf_get_current_uid_gid() };

		bpf_get_current_comm(c.comm, sizeof(c.comm));
		c.ignored = vig_task_ignored();
		bpf_map_update_elem(&connecting, &skey, &c, BPF_ANY);
		return 0;
	} else if (oldstate == VIG_TCP_SYN_SENT && (newstate == VIG_TCP_ESTABLISHED || newstate == VIG_TCP_CLOSE)) {
		op = VIG_ABI_NET_CONNECT;
		if (newstate == VIG_TCP_CLOSE)
			flags = VIG_ABI_F_FAILED;
	} else if (oldstate == VIG_TCP_CLOSE && newstate == VIG_TCP_LISTEN) {
		op = VIG_ABI_NET_LISTEN;
		if (vig_task_ignored()) { /* remembered, so that its accepts are ignored too */
			struct vig_listener nl = { .tgid = id >> 32, .ignored = 1 };

			bpf_map_update_elem(&listeners, &port, &nl, BPF_ANY);
			return 0;
		}
	} else if (oldstate == VIG_TCP_SYN_RECV && newstate == VIG_TCP_ESTABLISHED) {
		op = VIG_ABI_NET_ACCEPT;
	} else {
		if (oldstate == VIG_TCP_LISTEN && newstate == VIG_TCP_CLOSE)
			bpf_map_delete_elem(&listeners, &port);
		return 0;
	}
	if (op != VIG_ABI_NET_LISTEN) {
		if (op == VIG_ABI_NET_ACCEPT)
			l = bpf_map_lookup_elem(&listeners, &port);
		else
			l = bpf_map_lookup_elem(&connecting, &skey);
		if (l && l->ignored) {
			if (op == VIG_ABI_NET_CONNECT)
				bpf_map_delete_elem(&connecting, &skey);
			return 0;
		}
	}
	e = vig_reserve(sizeof(*e), VIG_ABI_DROP_NET);
	if (!e)
		return 0;
	vig_fill_hdr(&e->hdr, VIG_ABI_NET, sizeof(*e), id >> 32, (__u32)id);
	e->hdr.flags = flags;
	e->op = op;
	e->family = family;
	e->protocol = proto;
	e->sport = port;
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	vig_copy_addrs(sk, e);
	if (op == VIG_ABI_NET_LISTEN) {
		struct vig_listener nl = { .tgid = id >> 32, .uid = e->uid };

		__builtin_memcpy(nl.comm, e->comm, sizeof(nl.comm));
		bpf_map_update_elem(&listeners, &port, &nl, BPF_ANY);
	} else {
		if (l) {
			e->hdr.pid = l->tgid;
			e->hdr.tid = l->tgid;
			e->uid = l->uid;
			__builtin_memcpy(e->comm, l->comm, sizeof(e->comm));
		} else {
			e->hdr.pid = 0; /* unknown: softirq context, or began before the agent */
			e->hdr.tid = 0;
			e->uid = 0xffffffffu;
			__builtin_memset(e->comm, 0, sizeof(e->comm));
		}
	}
	if (op == VIG_ABI_NET_CONNECT)
		bpf_map_delete_elem(&connecting, &skey);
	vig_submit(e);
	return 0;
}

/* ---- UDP ---- */

/* Between sys_enter and sys_exit of a followed UDP call. */
struct vig_udp_call {
	__u64 sk;      /* struct sock * of the fd */
	__u64 uaddr;   /* user sockaddr (connect, sendto, recvfrom) or user_msghdr (sendmsg, recvmsg) */
	__u32 op;      /* VIG_ABI_NET_UDP_* */
	__u32 is_msg;  /* uaddr is a msghdr */
};

VIG_PENDING_MAP(udp_pending, struct vig_udp_call);

struct vig_udp_key {
	__u32 tgid;
	__u16 op;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u32 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Last report per (process, op, 5-tuple), CLOCK_BOOTTIME ns. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vig_udp_key);
	__type(value, __u64);
} udp_seen SEC(".maps");

/* The UDP syscall nr is followed as (VIG_ABI_NET_UDP_*), or 0. */
static __always_inline __u32 vig_udp_op(long nr)
{
	switch (nr) {
	case VIG_NR_CONNECT: return VIG_ABI_NET_UDP_CONNECT;
	case VIG_NR_SENDTO: case VIG_NR_SENDMSG: return VIG_ABI_NET_UDP_SEND;
	case VIG_NR_RECVFROM: case VIG_NR_RECVMSG: return VIG_ABI_NET_UDP_RECV;
	default: return 0;
	}
}

/* The struct sock of fd in the current task when it is an IPv4/IPv6 UDP socket, else NULL. */
static __always_inline struct sock *vig_udp_sock(long fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct file **fds = BPF_CORE_READ(t, files, fdt, fd);
	struct file *file = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (fd < 0 || fd > 1048576)
		return NULL;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return NULL;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & VIG_S_IFMT) != VIG_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != VIG_IPPROTO_UDP)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != VIG_AF_INET && family != VIG_AF_INET6)
		return NULL;
	return sk;
}

SEC("tp/syscalls/sys_enter_sendto") /* and every other followed call: see vig_sys_names */
int vig_udp_enter(struct vig_sys_enter_ctx *ctx)
{
	long nr = ctx->nr;
	struct vig_udp_call c;
	__u32 op = vig_udp_op(nr);
	__u64 id;
	struct sock *sk;

	if (!op || !VIG_SYS_SUPPORTED)
		return 0;
	id = bpf_get_current_pid_tgid();
	if ((id >> 32) == agent_tgid || vig_task_ignored())
		return 0;
	sk = vig_udp_sock(vig_sys_arg(ctx, 0));
	if (!sk)
		return 0;
	__builtin_memset(&c, 0, sizeof(c));
	c.op = op;
	c.sk = (__u64)sk;
	switch (nr) {
	case VIG_NR_CONNECT: c.uaddr = vig_sys_arg(ctx, 1); break;
	case VIG_NR_SENDTO: case VIG_NR_RECVFROM: c.uaddr = vig_sys_arg(ctx, 4); break;
	default: c.uaddr = vig_sys_arg(ctx, 1); c.is_msg = 1; break;
	}
	bpf_map_update_elem(&udp_pending, &id, &c, BPF_ANY);
	return 0;
}

/* Peer address from a user sockaddr into e (family, daddr, dport); 0 when it is not IPv4/6. */
static __always_inline int vig_udp_read_peer(__u64 uaddr, struct vig_abi_net *e)
{
	struct { __u16 family; __u16 port; __u32 a4; __u8 a6[16]; } sa = {};

	if (bpf_probe_read_user(&sa, 8, (const void *)uaddr))
		return 0;
	if (sa.family == VIG_AF_INET) {
		__builtin_memcpy(e->daddr, &sa.a4, 4);
	} else if (sa.family == VIG_AF_INET6) {
		if (bpf_probe_read_user(e->daddr, 16, (const void *)(uaddr + 8)))
			return 0;
	} else {
		return 0;
	}
	e->dport = bpf_ntohs(sa.port);
	return sa.family;
}

/* Peer of a connected socket into e; 0 when it has none. */
static __always_inline int vig_udp_sock_peer(struct sock *sk, struct vig_abi_net *e)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!e->dport)
		return 0;
	if (family == VIG_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO(e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	return family;
}

SEC("tp/syscalls/sys_exit_sendto")
int vig_udp_exit(struct vig_sys_exit_ctx *ctx)
{
	long ret = ctx->ret;
	__u64 id, now, *last;
	struct vig_udp_call *c;
	struct vig_udp_key k;
	struct vig_abi_net e;
	struct sock *sk;
	__u64 uaddr;
	int fam;

	id = bpf_get_current_pid_tgid();
	c = bpf_map_lookup_elem(&udp_pending, &id);
	if (!c)
		return 0;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memset(&e, 0, sizeof(e));
	sk = (struct sock *)c->sk;
	uaddr = c->uaddr;
	k.op = c->op;
	if (uaddr && c->is_msg && bpf_probe_read_user(&uaddr, sizeof(uaddr), (const void *)uaddr))
		uaddr = 0; /* msg_name is the first member of struct user_msghdr */
	bpf_map_delete_elem(&udp_pending, &id);
	if (ret < 0)
		return 0;
	e.family = BPF_CORE_READ(sk, __sk_common.skc_family);
	fam = uaddr ? vig_udp_read_peer(uaddr, &e) : 0;
	if (!fam && k.op != VIG_ABI_NET_UDP_CONNECT)
		fam = vig_udp_sock_peer(sk, &e); /* no address given: a connected socket's peer */
	if (!fam)
		return 0; /* AF_UNSPEC connect (a disconnect), or no peer known */
	e.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (e.family == VIG_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)e.saddr, sk, __sk_common.skc_rcv_saddr);
	else
		BPF_CORE_READ_INTO(e.saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	if (fam == VIG_AF_INET && e.family == VIG_AF_INET6) {
		/* an IPv4 address given to a dual-stack socket: keep both ends in IPv6 form */
		__builtin_memcpy(e.daddr + 12, e.daddr, 4);
		__builtin_memset(e.daddr, 0, 10);
		e.daddr[10] = 0xff;
		e.daddr[11] = 0xff;
	}
	k.tgid = id >> 32;
	k.family = e.family;
	k.sport = e.sport;
	k.dport = e.dport;
	__builtin_memcpy(k.saddr, e.saddr, sizeof(k.saddr));
	__builtin_memcpy(k.daddr, e.daddr, sizeof(k.daddr));
	now = bpf_ktime_get_boot_ns();
	last = bpf_map_lookup_elem(&udp_seen, &k);
	if (last && now - *last < udp_window_ns)
		return 0; /* reported within the window: nothing is reserved for a repeat */
	bpf_map_update_elem(&udp_seen, &k, &now, BPF_ANY);
	vig_fill_hdr(&e.hdr, VIG_ABI_NET, sizeof(e), id >> 32, (__u32)id);
	e.op = k.op;
	e.protocol = VIG_IPPROTO_UDP;
	e.uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	vig_output(&e, sizeof(e), VIG_ABI_DROP_NET);
	return 0;
}
