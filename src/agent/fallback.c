/*
 * fallback.c - sensors for kernels where the eBPF probes cannot load (or --no-ebpf):
 *   - process: the netlink proc connector (fork/exec/exit of thread groups) plus /proc reads
 *     of the process at event time (a process that is gone first is missed: a known limit);
 *   - file: inotify on the watched directories (and directories created under them, up to
 *     VIG_FB_MAX_WATCHES); no process attribution, renames paired by cookie within a read;
 *   - network: /proc/net/tcp and tcp6 polled every second; a socket inode seen for the first
 *     time in LISTEN, SYN_SENT or ESTABLISHED is reported once (ESTABLISHED on a local port
 *     that is listening counts as accepted). The first poll is a baseline and reports nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include "agent.h"
#include "common/log.h"
#include "common/vtime.h"

#define VIG_FB_MAX_WATCHES 1024
#define VIG_FB_MAX_SOCKS 65536
#define VIG_FB_NET_PERIOD_NS VIG_NS_PER_SEC

struct vig_fb_sock {
	uint64_t inode;
	uint32_t seen_gen; /* poll generation that last saw it */
};

struct vig_agent_fallback {
	struct vig_agent *agent;
	int cn_fd;                        /* proc connector socket, -1 when unavailable */
	int in_fd;                        /* inotify fd, -1 when nothing is watched */
	int wd[VIG_FB_MAX_WATCHES];       /* watch descriptors */
	char *wpath[VIG_FB_MAX_WATCHES];  /* their directories */
	size_t n_watch;
	struct vig_fb_sock *socks;        /* known socket inodes, unsorted, bounded */
	size_t n_socks;
	uint32_t gen;
	int64_t next_net;
	uint16_t listen_ports[1024];
	size_t n_listen;
};

static int vig_cn_open(char *errbuf)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	union {
		char raw[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))];
		struct nlmsghdr align;
	} msg;
	struct nlmsghdr *nl = &msg.align;
	struct cn_msg *cn;
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);

	if (fd < 0) {
		vig_errf(errbuf, VIG_EIO, "proc connector socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		vig_errf(errbuf, VIG_EIO, "proc connector bind: %s", strerror(errno));
		close(fd);
		return -1;
	}
	memset(&msg, 0, sizeof(msg));
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + sizeof(op));
	nl->nlmsg_type = NLMSG_DONE;
	nl->nlmsg_pid = 0;
	cn = NLMSG_DATA(nl);
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (send(fd, nl, nl->nlmsg_len, 0) < 0) {
		vig_errf(errbuf, VIG_EIO, "proc connector listen: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void vig_cn_read(struct vig_agent_fallback *f)
{
	union {
		char raw[16384];
		struct nlmsghdr align;
	} buf;
	ssize_t n = recv(f->cn_fd, buf.raw, sizeof(buf.raw), MSG_DONTWAIT);
	struct nlmsghdr *nl;

	if (n <= 0)
		return;
	for (nl = &buf.align; NLMSG_OK(nl, (size_t)n); nl = NLMSG_NEXT(nl, n)) {
		struct cn_msg *cn = NLMSG_DATA(nl);
		struct proc_event evbuf, *ev = &evbuf;

		if (nl->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(*ev)) || cn->len < sizeof(*ev))
			continue;
		memcpy(&evbuf, cn->data, sizeof(evbuf)); /* cn->data is only 4-byte aligned */
		switch (ev->what) {
		case PROC_EVENT_FORK:
			if (ev->event_data.fork.child_pid == ev->event_data.fork.child_tgid)
				vig_agent_on_fallback_fork(f->agent, ev->event_data.fork.parent_tgid,
							   ev->event_data.fork.child_tgid);
			break;
		case PROC_EVENT_EXEC:
			vig_agent_on_fallback_exec(f->agent, ev->event_data.exec.process_tgid);
			break;
		case PROC_EVENT_EXIT:
			if (ev->event_data.exit.process_pid == ev->event_data.exit.process_tgid)
				vig_agent_on_fallback_exit(f->agent, ev->event_data.exit.process_tgid,
							   (int32_t)ev->event_data.exit.exit_code);
			break;
		default:
			break;
		}
	}
}

/* ---- inotify ---- */

#define VIG_IN_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE)

static void vig_in_add(struct vig_agent_fallback *f, const char *dir)
{
	int wd;

	if (f->n_watch >= VIG_FB_MAX_WATCHES) {
		vig_warn("agent", "inotify watch limit reached", "dir=\"%s\"", dir);
		return;
	}
	wd = inotify_add_watch(f->in_fd, dir, VIG_IN_MASK | IN_ONLYDIR);
	if (wd < 0) {
		vig_warn("agent", "cannot watch directory", "dir=\"%s\" err=\"%s\"", dir, strerror(errno));
		return;
	}
	f->wpath[f->n_watch] = strdup(dir);
	if (!f->wpath[f->n_watch]) {
		inotify_rm_watch(f->in_fd, wd);
		return;
	}
	f->wd[f->n_watch++] = wd;
}

static const char *vig_in_dir(struct vig_agent_fallback *f, int wd)
{
	for (size_t i = 0; i < f->n_watch; i++)
		if (f->wd[i] == wd)
			return f->wpath[i];
	return NULL;
}

static void vig_in_read(struct vig_agent_fallback *f)
{
	union {
		char raw[16384];
		struct inotify_event align;
	} buf;
	char path[4096 + 256], from[4096 + 256] = "";
	uint32_t from_cookie = 0;
	ssize_t n = read(f->in_fd, buf.raw, sizeof(buf.raw));

	for (ssize_t off = 0; n > 0 && off + (ssize_t)sizeof(struct inotify_event) <= n;) {
		struct inotify_event *ie = (struct inotify_event *)(buf.raw + off);
		const char *dir = vig_in_dir(f, ie->wd);

		off += (ssize_t)sizeof(*ie) + ie->len;
		if (!dir || ie->len == 0 || off > n)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ie->name);
		if (ie->mask & IN_MOVED_FROM) {
			if (from[0])
				vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_UNLINK, from, NULL, false);
			snprintf(from, sizeof(from), "%s", path);
			from_cookie = ie->cookie;
		} else if (ie->mask & IN_MOVED_TO) {
			if (from[0] && from_cookie == ie->cookie) {
				vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_RENAME, from, path, false);
				from[0] = 0;
			} else {
				vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_OPEN, path, NULL, true);
			}
		} else if (ie->mask & IN_CREATE) {
			if (ie->mask & IN_ISDIR) {
				vig_in_add(f, path);
				vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_MKDIR, path, NULL, true);
			} else {
				vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_OPEN, path, NULL, true);
			}
		} else if (ie->mask & IN_DELETE) {
			vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_UNLINK, path, NULL, false);
		} else if (ie->mask & IN_ATTRIB) {
			vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_CHMOD, path, NULL, false);
		} else if (ie->mask & IN_CLOSE_WRITE) {
			vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_OPEN, path, NULL, false);
		}
	}
	if (from[0]) /* moved out of the watched trees */
		vig_agent_on_fallback_file(f->agent, VIG_ABI_FILE_UNLINK, from, NULL, false);
}

/* ---- /proc/net ---- */

static bool vig_hex_u32(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if (n == 0 || n > 8)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* "0100007F:1F90" (v4) or 32 hex digits ":" port (v6) into addr bytes and port. */
static bool vig_parse_endpoint(const char *s, size_t n, bool v6, uint8_t addr[16], uint16_t *port)
{
	size_t alen = v6 ? 32 : 8;
	uint32_t w, p;

	if (n != alen + 5 || s[alen] != ':')
		return false;
	memset(addr, 0, 16);
	for (size_t i = 0; i < alen / 8; i++) {
		if (!vig_hex_u32(s + i * 8, 8, &w))
			return false;
		memcpy(addr + i * 4, &w, 4); /* the kernel prints each word in host order */
	}
	if (!vig_hex_u32(s + alen + 1, 4, &p))
		return false;
	*port = (uint16_t)p;
	return true;
}

bool vig_agent_parse_proc_net_line(const char *line, bool v6, struct vig_abi_net *rec, unsigned *state,
				   uint64_t *inode)
{
	const char *tok[10];
	size_t len[10], nt = 0;
	const char *p = line;
	uint64_t uid = 0;
	uint32_t st;

	while (*p && nt < 10) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			break;
		tok[nt] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		len[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (nt < 10 || tok[0][len[0] - 1] != ':')
		return false;
	memset(rec, 0, sizeof(*rec));
	rec->family = v6 ? 10 : 2;
	rec->protocol = 6;
	if (!vig_parse_endpoint(tok[1], len[1], v6, rec->saddr, &rec->sport) ||
	    !vig_parse_endpoint(tok[2], len[2], v6, rec->daddr, &rec->dport) || !vig_hex_u32(tok[3], len[3], &st) ||
	    !vig_parse_u64(tok[7], len[7], &uid) || !vig_parse_u64(tok[9], len[9], inode))
		return false;
	rec->uid = (uint32_t)uid;
	*state = st;
	return true;
}

static struct vig_fb_sock *vig_sock_find(struct vig_agent_fallback *f, uint64_t inode)
{
	for (size_t i = 0; i < f->n_socks; i++)
		if (f->socks[i].inode == inode)
			return &f->socks[i];
	return NULL;
}

static bool vig_is_listening(const struct vig_agent_fallback *f, uint16_t port)
{
	for (size_t i = 0; i < f->n_listen; i++)
		if (f->listen_ports[i] == port)
			return true;
	return false;
}

static void vig_net_file(struct vig_agent_fallback *f, const char *path, bool v6, bool baseline)
{
	FILE *fp = fopen(path, "re");
	char line[512];

	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		struct vig_abi_net rec;
		struct vig_fb_sock *s;
		unsigned state;
		uint64_t inode;

		if (!vig_agent_parse_proc_net_line(line, v6, &rec, &state, &inode) || inode == 0)
			continue;
		if (state != 0x01 && state != 0x02 && state != 0x0A)
			continue;
		if (state == 0x0A && !vig_is_listening(f, rec.sport) && f->n_listen < VIG_ARRAY_LEN(f->listen_ports))
			f->listen_ports[f->n_listen++] = rec.sport;
		s = vig_sock_find(f, inode);
		if (s) {
			s->seen_gen = f->gen;
			continue;
		}
		if (f->n_socks >= VIG_FB_MAX_SOCKS)
			continue;
		f->socks[f->n_socks].inode = inode;
		f->socks[f->n_socks++].seen_gen = f->gen;
		if (baseline)
			continue;
		rec.hdr.type = VIG_ABI_NET;
		rec.hdr.size = sizeof(rec);
		rec.op = state == 0x0A ? VIG_ABI_NET_LISTEN :
			 state == 0x01 && vig_is_listening(f, rec.sport) ? VIG_ABI_NET_ACCEPT : VIG_ABI_NET_CONNECT;
		vig_agent_on_fallback_net(f->agent, &rec);
	}
	fclose(fp);
}

static void vig_net_poll(struct vig_agent_fallback *f)
{
	char path[192];
	const char *root = vig_proctable_proc_root(vig_agent_procs(f->agent));
	bool baseline = f->gen == 0;

	f->gen++;
	snprintf(path, sizeof(path), "%s/net/tcp", root);
	vig_net_file(f, path, false, baseline);
	snprintf(path, sizeof(path), "%s/net/tcp6", root);
	vig_net_file(f, path, true, baseline);
	/* forget sockets that are gone */
	for (size_t i = 0; i < f->n_socks;) {
		if (f->socks[i].seen_gen != f->gen)
			f->socks[i] = f->socks[--f->n_socks];
		else
			i++;
	}
}

/* ---- lifecycle ---- */

enum vig_err vig_agent_fallback_start(struct vig_agent *a, struct vig_agent_fallback **out, char *errbuf)
{
	const struct vig_agent_config *cfg = vig_agent_config(a);
	struct vig_agent_fallback *f = calloc(1, sizeof(*f));
	char err[VIG_ERRBUF_SIZE];

	*out = NULL;
	if (!f)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	f->agent = a;
	f->in_fd = -1;
	f->socks = calloc(VIG_FB_MAX_SOCKS, sizeof(*f->socks));
	if (!f->socks) {
		free(f);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	f->cn_fd = vig_cn_open(err);
	if (f->cn_fd < 0)
		vig_warn("agent", "process fallback sensor off", "err=\"%s\"", err);
	if (cfg->n_watch) {
		f->in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (f->in_fd < 0)
			vig_warn("agent", "inotify unavailable", "err=\"%s\"", strerror(errno));
		for (size_t i = 0; f->in_fd >= 0 && i < cfg->n_watch; i++)
			vig_in_add(f, cfg->watch[i]);
	}
	vig_net_poll(f);
	f->next_net = vig_time_mono() + VIG_FB_NET_PERIOD_NS;
	*out = f;
	return VIG_OK;
}

enum vig_err vig_agent_fallback_poll(struct vig_agent_fallback *f, int timeout_ms)
{
	struct pollfd pfd[2];
	int n = 0, rc;
	int64_t now = vig_time_mono();
	int64_t until_net = (f->next_net - now) / 1000000;

	if (until_net < timeout_ms)
		timeout_ms = until_net < 0 ? 0 : (int)until_net;
	if (f->cn_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = f->cn_fd, .events = POLLIN };
	if (f->in_fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = f->in_fd, .events = POLLIN };
	rc = n ? poll(pfd, (nfds_t)n, timeout_ms) : (usleep((useconds_t)timeout_ms * 1000), 0);
	if (rc < 0 && errno != EINTR)
		return VIG_EIO;
	for (int i = 0; rc > 0 && i < n; i++) {
		if (!(pfd[i].revents & POLLIN))
			continue;
		if (pfd[i].fd == f->cn_fd)
			vig_cn_read(f);
		else
			vig_in_read(f);
	}
	if (vig_time_mono() >= f->next_net) {
		vig_net_poll(f);
		f->next_net = vig_time_mono() + VIG_FB_NET_PERIOD_NS;
	}
	return VIG_OK;
}

void vig_agent_fallback_stop(struct vig_agent_fallback *f)
{
	if (!f)
		return;
	if (f->cn_fd >= 0)
		close(f->cn_fd);
	if (f->in_fd >= 0)
		close(f->in_fd);
	for (size_t i = 0; i < f->n_watch; i++)
		free(f->wpath[i]);
	free(f->socks);
	free(f);
}
