/*
 * net.bpf.c - the network sensor: TCP state changes from tp_btf/inet_sock_set_state, IPv4 and
 * IPv6. CLOSE->SYN_SENT starts an outgoing connect: current is the connecting process, but the
 * local port is not chosen yet, so the process is remembered per socket in "connecting" and the
 * event is sent at SYN_SENT->ESTABLISHED (or ->CLOSE, flagged failed), which may run in softirq;
 * CLOSE->LISTEN is listen() (current is the owner, remembered per local port in "listeners");
 * SYN_RECV->ESTABLISHED is an accepted connection, which runs in softirq context where current
 * means nothing, so it is attributed to the process that listens on the local port.
 */
#include "common.bpf.h"

#define VIG_TCP_ESTABLISHED 1
#define VIG_TCP_SYN_SENT 2
#define VIG_TCP_SYN_RECV 3
#define VIG_TCP_CLOSE 7
#define VIG_TCP_LISTEN 10
#define VIG_AF_INET 2
#define VIG_AF_INET6 10
#define VIG_IPPROTO_TCP 6

struct vig_listener {
	__u32 tgid;
	__u32 uid;
	char comm[VIG_ABI_COMM_LEN];
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
		bpf_map_update_elem(&connecting, &skey, &c, BPF_ANY);
		return 0;
	} else if (oldstate == VIG_TCP_SYN_SENT && (newstate == VIG_TCP_ESTABLISHED || newstate == VIG_TCP_CLOSE)) {
		op = VIG_ABI_NET_CONNECT;
		if (newstate == VIG_TCP_CLOSE)
			flags = VIG_ABI_F_FAILED;
	} else if (oldstate == VIG_TCP_CLOSE && newstate == VIG_TCP_LISTEN) {
		op = VIG_ABI_NET_LISTEN;
	} else if (oldstate == VIG_TCP_SYN_RECV && newstate == VIG_TCP_ESTABLISHED) {
		op = VIG_ABI_NET_ACCEPT;
	} else {
		if (oldstate == VIG_TCP_LISTEN && newstate == VIG_TCP_CLOSE)
			bpf_map_delete_elem(&listeners, &port);
		return 0;
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
		if (op == VIG_ABI_NET_ACCEPT)
			l = bpf_map_lookup_elem(&listeners, &port);
		else
			l = bpf_map_lookup_elem(&connecting, &skey);
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
	bpf_ringbuf_submit(e, 0);
	return 0;
}
