/*
 * map.c - from sensor records to Vigil events: the ECS fields of process, network, file, misc
 * and health events, plus the host identity and the boot-to-wall clock conversion.
 *
 * Every event gets @timestamp, event.kind, event.category, event.type, event.action,
 * event.module "vigil", event.dataset "vigil.agent.<category>", event.provider = the sensor
 * ("ebpf" or "fallback"), host.id and host.name. Facts ECS has no core slot for go into
 * extension fields under process.* (process.tty, process.audit.*) or vigil.* (exec flags).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "common/vtime.h"

#define VIG_CHECK(expr)                      \
	do {                                 \
		enum vig_err e_ = (expr);    \
		if (e_ != VIG_OK)            \
			return e_;           \
	} while (0)

static int64_t vig_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * VIG_NS_PER_SEC + ts.tv_nsec;
}

enum vig_err vig_agent_host_init(struct vig_agent_host *host, const char *machine_id_path, char *errbuf)
{
	char buf[128] = "";
	int fd;
	ssize_t n = 0;
	size_t l;

	memset(host, 0, sizeof(*host));
	if (gethostname(host->name, sizeof(host->name) - 1) != 0)
		snprintf(host->name, sizeof(host->name), "unknown");
	fd = open(machine_id_path ? machine_id_path : "/etc/machine-id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = 0;
	l = strcspn(buf, " \r\n\t");
	if (l == 0 || l >= sizeof(host->id)) {
		uint8_t h[32];

		/* no machine id: a stable stand-in derived from the host name */
		vig_sha256(host->name, strlen(host->name), h);
		vig_hex(h, 16, host->id);
	} else {
		memcpy(host->id, buf, l);
		host->id[l] = 0;
	}
	host->boot_wall_ns = vig_clock_ns(CLOCK_REALTIME) - vig_clock_ns(CLOCK_BOOTTIME);
	(void)errbuf;
	return VIG_OK;
}

int64_t vig_agent_boot_to_wall(const struct vig_agent_host *host, int64_t boot_ns)
{
	return host->boot_wall_ns + boot_ns;
}

int32_t vig_agent_exit_code(int32_t kernel_code)
{
	if (kernel_code & 0x7f)
		return 128 + (kernel_code & 0x7f);
	return (kernel_code >> 8) & 0xff;
}

#define VIG_USER_CACHE 64
static struct {
	pthread_mutex_t mu;
	uint32_t uid[VIG_USER_CACHE];
	char name[VIG_USER_CACHE][64];
	bool used[VIG_USER_CACHE];
} vig_users = { .mu = PTHREAD_MUTEX_INITIALIZER };

void vig_agent_user_name(uint32_t uid, char *out, size_t cap)
{
	size_t slot = uid % VIG_USER_CACHE;
	struct passwd pw, *res = NULL;
	char buf[1024];

	out[0] = 0;
	if (cap == 0)
		return;
	pthread_mutex_lock(&vig_users.mu);
	if (vig_users.used[slot] && vig_users.uid[slot] == uid) {
		snprintf(out, cap, "%s", vig_users.name[slot]);
		pthread_mutex_unlock(&vig_users.mu);
		return;
	}
	pthread_mutex_unlock(&vig_users.mu);
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return;
	snprintf(out, cap, "%s", pw.pw_name);
	pthread_mutex_lock(&vig_users.mu);
	vig_users.used[slot] = true;
	vig_users.uid[slot] = uid;
	snprintf(vig_users.name[slot], sizeof(vig_users.name[slot]), "%s", pw.pw_name);
	pthread_mutex_unlock(&vig_users.mu);
}

static enum vig_err vig_set_uid(struct vig_event *ev, enum vig_field id_f, enum vig_field name_f, uint32_t uid)
{
	char num[16], name[64];

	if (uid == UINT32_MAX)
		return VIG_OK;
	snprintf(num, sizeof(num), "%u", uid);
	VIG_CHECK(vig_event_set_cstr(ev, id_f, num));
	vig_agent_user_name(uid, name, sizeof(name));
	if (name[0])
		VIG_CHECK(vig_event_set_cstr(ev, name_f, name));
	return VIG_OK;
}

static enum vig_err vig_map_common(struct vig_event *ev, const struct vig_agent_host *host, int64_t ts,
				   const char *category, const char *type, const char *action,
				   const char *source)
{
	char dataset[64];

	vig_event_clear(ev);
	snprintf(dataset, sizeof(dataset), "vigil.agent.%s", category);
	VIG_CHECK(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ts));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_KIND, "event"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, category));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_TYPE, type));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_ACTION, action));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_MODULE, "vigil"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_DATASET, dataset));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_PROVIDER, source ? source : "ebpf"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_HOST_ID, host->id));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_HOST_NAME, host->name));
	return VIG_OK;
}

/* Basename of the image, or the comm when the image is unknown. */
static const char *vig_proc_name(const struct vig_proc *p)
{
	const char *s;

	if (!p->exe || !p->exe[0])
		return p->comm;
	s = strrchr(p->exe, '/');
	return s ? s + 1 : p->exe;
}

/* The subject process (parent=false) or the parent (parent=true) block of fields. */
static enum vig_err vig_map_proc_fields(struct vig_event *ev, const struct vig_agent_host *host,
					const struct vig_proc *p, bool parent)
{
	char cmd[VIG_ABI_ARGS_LEN];
	size_t n;

	VIG_CHECK(vig_event_set_int(ev, parent ? VIG_F_PROCESS_PARENT_PID : VIG_F_PROCESS_PID, p->pid));
	VIG_CHECK(vig_event_set_cstr(ev, parent ? VIG_F_PROCESS_PARENT_ENTITY_ID : VIG_F_PROCESS_ENTITY_ID,
				     p->entity_id));
	if (p->exe)
		VIG_CHECK(vig_event_set_cstr(ev, parent ? VIG_F_PROCESS_PARENT_EXECUTABLE : VIG_F_PROCESS_EXECUTABLE,
					     p->exe));
	if (vig_proc_name(p)[0])
		VIG_CHECK(vig_event_set_cstr(ev, parent ? VIG_F_PROCESS_PARENT_NAME : VIG_F_PROCESS_NAME,
					     vig_proc_name(p)));
	if (p->args && p->args_len) {
		n = vig_agent_args_join(p->args, p->args_len, cmd, sizeof(cmd));
		VIG_CHECK(vig_event_set_str(ev, parent ? VIG_F_PROCESS_PARENT_COMMAND_LINE : VIG_F_PROCESS_COMMAND_LINE,
					    cmd, n));
	}
	if (p->cwd)
		VIG_CHECK(vig_event_set_cstr(ev, parent ? VIG_F_PROCESS_PARENT_WORKING_DIRECTORY
						       : VIG_F_PROCESS_WORKING_DIRECTORY, p->cwd));
	VIG_CHECK(vig_event_set_ts(ev, parent ? VIG_F_PROCESS_PARENT_START : VIG_F_PROCESS_START,
				   vig_agent_boot_to_wall(host, p->start_ns)));
	if (p->sha256[0])
		VIG_CHECK(vig_event_set_cstr(ev, parent ? VIG_F_PROCESS_PARENT_HASH_SHA256 : VIG_F_PROCESS_HASH_SHA256,
					     p->sha256));
	VIG_CHECK(vig_set_uid(ev, parent ? VIG_F_PROCESS_PARENT_USER_ID : VIG_F_PROCESS_USER_ID,
			      parent ? VIG_F_PROCESS_PARENT_USER_NAME : VIG_F_PROCESS_USER_NAME, p->euid));
	if (!parent && p->container_id[0]) /* the event's process runs in a container */
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_CONTAINER_ID, p->container_id));
	return VIG_OK;
}

static enum vig_err vig_map_proc_args(struct vig_event *ev, const struct vig_proc *p)
{
	struct vig_str items[VIG_AGENT_MAX_ARGS];
	bool more = false;
	size_t n = 0;

	if (p->args && p->args_len)
		n = vig_agent_args_split(p->args, p->args_len, items, VIG_ARRAY_LEN(items), &more);
	for (size_t i = 0; i < n; i++)
		VIG_CHECK(vig_event_list_add(ev, VIG_F_PROCESS_ARGS, items[i].p, items[i].len));
	VIG_CHECK(vig_event_ext_int(ev, "process.args_count", (int64_t)n));
	if (more || (p->flags & VIG_PROC_F_ARGS_TRUNC))
		VIG_CHECK(vig_event_ext_bool(ev, "vigil.process.args_truncated", true));
	return VIG_OK;
}

enum vig_err vig_agent_map_process(struct vig_event *ev, const struct vig_agent_host *host,
				   const struct vig_agent_proc_event *pe)
{
	static const char *const actions[] = { "exec", "fork", "exit" };
	const struct vig_proc *p = pe->proc;

	VIG_CHECK(vig_map_common(ev, host, pe->ts_ns, "process",
				 pe->action == VIG_AGENT_EXIT ? "end" : "start", actions[pe->action], pe->source));
	VIG_CHECK(vig_map_proc_fields(ev, host, p, false));
	VIG_CHECK(vig_map_proc_args(ev, p));
	VIG_CHECK(vig_set_uid(ev, VIG_F_USER_ID, VIG_F_USER_NAME, p->uid));
	VIG_CHECK(vig_set_uid(ev, VIG_F_USER_EFFECTIVE_ID, VIG_F_USER_EFFECTIVE_NAME, p->euid));
	if (pe->parent)
		VIG_CHECK(vig_map_proc_fields(ev, host, pe->parent, true));
	else if (p->ppid > 0)
		VIG_CHECK(vig_event_set_int(ev, VIG_F_PROCESS_PARENT_PID, p->ppid));
	for (size_t i = 0; i < pe->n_ancestry; i++)
		VIG_CHECK(vig_event_list_add(ev, VIG_F_PROCESS_ANCESTRY, pe->ancestry[i], strlen(pe->ancestry[i])));
	if (pe->action == VIG_AGENT_EXIT) {
		VIG_CHECK(vig_event_set_int(ev, VIG_F_PROCESS_EXIT_CODE, pe->exit_code));
		if (pe->duration_ns >= 0)
			VIG_CHECK(vig_event_set_int(ev, VIG_F_EVENT_DURATION, pe->duration_ns));
		VIG_CHECK(vig_event_set_ts(ev, VIG_F_EVENT_END, pe->ts_ns));
	}
	if (p->auid != UINT32_MAX)
		VIG_CHECK(vig_event_ext_int(ev, "process.audit.login_uid", p->auid));
	if (p->sessionid != UINT32_MAX)
		VIG_CHECK(vig_event_ext_int(ev, "process.audit.session_id", p->sessionid));
	if (p->tty_nr)
		VIG_CHECK(vig_event_ext_int(ev, "process.tty.char_device", p->tty_nr));
	if (p->cgroup_id)
		VIG_CHECK(vig_event_ext_int(ev, "process.cgroup.id", (int64_t)p->cgroup_id));
	if (pe->action == VIG_AGENT_EXEC) {
		if (p->flags & VIG_PROC_F_MEMFD)
			VIG_CHECK(vig_event_ext_bool(ev, "vigil.exec.memfd", true));
		if (p->flags & VIG_PROC_F_DELETED)
			VIG_CHECK(vig_event_ext_bool(ev, "vigil.exec.deleted", true));
		if (p->flags & VIG_PROC_F_WRITABLE_DIR)
			VIG_CHECK(vig_event_ext_bool(ev, "vigil.exec.writable_dir", true));
	}
	return VIG_OK;
}

/* pid, name and entity id of the process behind a network/file/misc record. */
static enum vig_err vig_map_actor(struct vig_event *ev, const struct vig_proc *proc, uint32_t pid,
				  const char *comm)
{
	if (pid)
		VIG_CHECK(vig_event_set_int(ev, VIG_F_PROCESS_PID, pid));
	if (proc) {
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_PROCESS_ENTITY_ID, proc->entity_id));
		if (proc->exe)
			VIG_CHECK(vig_event_set_cstr(ev, VIG_F_PROCESS_EXECUTABLE, proc->exe));
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_PROCESS_NAME, vig_proc_name(proc)));
	} else if (comm && comm[0]) {
		VIG_CHECK(vig_event_set_str(ev, VIG_F_PROCESS_NAME, comm, strnlen(comm, VIG_ABI_COMM_LEN)));
	}
	return VIG_OK;
}

static void vig_abi_ip16(uint16_t family, const uint8_t *a, uint8_t out[16])
{
	if (family == 2) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, a, 4);
	} else {
		memcpy(out, a, 16);
	}
}

enum vig_err vig_agent_map_net(struct vig_event *ev, const struct vig_agent_host *host,
			       const struct vig_abi_net *rec, int64_t ts_ns,
			       const struct vig_proc *proc, const char *source)
{
	const char *action, *dir, *type;
	uint8_t ip[16];

	switch (rec->op) {
	case VIG_ABI_NET_CONNECT: action = "connection_attempted"; dir = "egress"; type = "start"; break;
	case VIG_ABI_NET_ACCEPT: action = "connection_accepted"; dir = "ingress"; type = "start"; break;
	case VIG_ABI_NET_LISTEN: action = "listening"; dir = "ingress"; type = "start"; break;
	case VIG_ABI_NET_UDP_CONNECT: action = "udp_connect"; dir = "egress"; type = "connection"; break;
	case VIG_ABI_NET_UDP_SEND: action = "udp_send"; dir = "egress"; type = "connection"; break;
	case VIG_ABI_NET_UDP_RECV: action = "udp_recv"; dir = "ingress"; type = "connection"; break;
	default: return VIG_EINVAL;
	}
	if (rec->family != 2 && rec->family != 10)
		return VIG_EINVAL;
	if ((rec->op >= VIG_ABI_NET_UDP_CONNECT) != (rec->protocol == 17))
		return VIG_EINVAL; /* UDP ops come with IPPROTO_UDP only, TCP ones never */
	VIG_CHECK(vig_map_common(ev, host, ts_ns, "network", type, action, source));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_NETWORK_TRANSPORT, rec->protocol == 17 ? "udp" : "tcp"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_NETWORK_DIRECTION, dir));
	/* network.protocol is the application protocol where the port says it (ECS), else the IP
	 * version as before */
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_NETWORK_PROTOCOL,
				     rec->protocol == 17 && (rec->dport == 53 || rec->sport == 53) ? "dns" :
				     rec->family == 2 ? "ipv4" : "ipv6"));
	VIG_CHECK(vig_event_ext_str(ev, "network.type", rec->family == 2 ? "ipv4" : "ipv6", 4));
	if (rec->op == VIG_ABI_NET_CONNECT)
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_OUTCOME,
					     rec->hdr.flags & VIG_ABI_F_FAILED ? "failure" : "success"));
	/* source is the initiator: the local end of a connect or send, the remote end of an accept
	 * or a received datagram */
	if (rec->op == VIG_ABI_NET_ACCEPT || rec->op == VIG_ABI_NET_UDP_RECV) {
		vig_abi_ip16(rec->family, rec->daddr, ip);
		VIG_CHECK(vig_event_set_ip16(ev, VIG_F_SOURCE_IP, ip));
		VIG_CHECK(vig_event_set_int(ev, VIG_F_SOURCE_PORT, rec->dport));
		vig_abi_ip16(rec->family, rec->saddr, ip);
		VIG_CHECK(vig_event_set_ip16(ev, VIG_F_DESTINATION_IP, ip));
		VIG_CHECK(vig_event_set_int(ev, VIG_F_DESTINATION_PORT, rec->sport));
	} else {
		vig_abi_ip16(rec->family, rec->saddr, ip);
		VIG_CHECK(vig_event_set_ip16(ev, VIG_F_SOURCE_IP, ip));
		VIG_CHECK(vig_event_set_int(ev, VIG_F_SOURCE_PORT, rec->sport));
		if (rec->op != VIG_ABI_NET_LISTEN) {
			vig_abi_ip16(rec->family, rec->daddr, ip);
			VIG_CHECK(vig_event_set_ip16(ev, VIG_F_DESTINATION_IP, ip));
			VIG_CHECK(vig_event_set_int(ev, VIG_F_DESTINATION_PORT, rec->dport));
		}
	}
	if (rec->uid != UINT32_MAX)
		VIG_CHECK(vig_set_uid(ev, VIG_F_USER_ID, VIG_F_USER_NAME, rec->uid));
	return vig_map_actor(ev, proc, rec->hdr.pid, rec->comm);
}

static const char *vig_mode_str(uint32_t mode, char out[8])
{
	snprintf(out, 8, "%04o", mode & 07777);
	return out;
}

enum vig_err vig_agent_map_file(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_file *rec, int64_t ts_ns, const char *path,
				const char *target, const struct vig_proc *proc, const char *source)
{
	const char *type, *action, *name;
	char mode[8];

	switch (rec->op) {
	case VIG_ABI_FILE_OPEN:
		if (rec->hdr.flags & VIG_ABI_F_CREATED) {
			type = "creation";
			action = "creation";
		} else {
			type = "change";
			action = "modification";
		}
		break;
	case VIG_ABI_FILE_UNLINK: type = "deletion"; action = "deletion"; break;
	case VIG_ABI_FILE_RENAME: type = "change"; action = "rename"; break;
	case VIG_ABI_FILE_CHMOD: type = "change"; action = "attributes_modified"; break;
	case VIG_ABI_FILE_CHOWN: type = "change"; action = "owner_modified"; break;
	case VIG_ABI_FILE_MKDIR: type = "creation"; action = "directory_creation"; break;
	default: return VIG_EINVAL;
	}
	VIG_CHECK(vig_map_common(ev, host, ts_ns, "file", type, action, source));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_FILE_PATH, path));
	name = strrchr(path, '/');
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_FILE_NAME, name ? name + 1 : path));
	if (target && target[0])
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_FILE_TARGET_PATH, target));
	if (rec->op == VIG_ABI_FILE_CHMOD || rec->op == VIG_ABI_FILE_MKDIR ||
	    (rec->op == VIG_ABI_FILE_OPEN && (rec->open_flags & 0100)))
		VIG_CHECK(vig_event_set_cstr(ev, VIG_F_FILE_MODE, vig_mode_str(rec->mode, mode)));
	if (rec->op == VIG_ABI_FILE_CHOWN) {
		VIG_CHECK(vig_event_ext_int(ev, "file.uid", (int32_t)rec->uid));
		VIG_CHECK(vig_event_ext_int(ev, "file.gid", (int32_t)rec->gid));
	}
	if (rec->ino)
		VIG_CHECK(vig_event_ext_int(ev, "file.inode", (int64_t)rec->ino));
	return vig_map_actor(ev, proc, rec->hdr.pid, rec->comm);
}

enum vig_err vig_agent_map_rate(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_rate *rec, int64_t ts_ns, const struct vig_proc *proc)
{
	char msg[160];
	int64_t first = vig_agent_boot_to_wall(host, (int64_t)rec->first_ns);
	int64_t last = vig_agent_boot_to_wall(host, (int64_t)rec->last_ns);

	if (rec->suppressed == 0 || rec->last_ns < rec->first_ns)
		return VIG_EINVAL;
	VIG_CHECK(vig_map_common(ev, host, ts_ns, "file", "info", "file_events_rate_limited", "ebpf"));
	VIG_CHECK(vig_event_set_ts(ev, VIG_F_EVENT_START, first));
	VIG_CHECK(vig_event_set_ts(ev, VIG_F_EVENT_END, last));
	VIG_CHECK(vig_event_ext_int(ev, "vigil.rate_limit.suppressed", (int64_t)rec->suppressed));
	snprintf(msg, sizeof(msg), "%llu file events of this process were not reported (per-process rate limit)",
		 (unsigned long long)rec->suppressed);
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_MESSAGE, msg));
	return vig_map_actor(ev, proc, rec->hdr.pid, rec->comm);
}

enum vig_err vig_agent_map_misc(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_misc *rec, int64_t ts_ns, const struct vig_proc *proc)
{
	const char *cat = "process", *type = "change", *action;
	size_t nl = strnlen(rec->name, sizeof(rec->name));

	switch (rec->op) {
	case VIG_ABI_MISC_SETUID:
		action = (rec->nr == VIG_NR_SETGID || rec->nr == VIG_NR_SETREGID || rec->nr == VIG_NR_SETRESGID ||
			  rec->nr == VIG_NR_SETFSGID) ? "setgid" : "setuid";
		break;
	case VIG_ABI_MISC_CAPSET: action = "capset"; break;
	case VIG_ABI_MISC_MODULE: cat = "driver"; type = "start"; action = "module_load"; break;
	case VIG_ABI_MISC_PTRACE: type = "access"; action = "ptrace_attach"; break;
	case VIG_ABI_MISC_MEMFD: cat = "file"; type = "creation"; action = "memfd_create"; break;
	case VIG_ABI_MISC_BPF: type = "change"; action = "bpf_prog_load"; break;
	default: return VIG_EINVAL;
	}
	VIG_CHECK(vig_map_common(ev, host, ts_ns, cat, type, action, "ebpf"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_OUTCOME, rec->ret < 0 ? "failure" : "success"));
	VIG_CHECK(vig_map_actor(ev, proc, rec->hdr.pid, rec->comm));
	VIG_CHECK(vig_set_uid(ev, VIG_F_USER_ID, VIG_F_USER_NAME, rec->old_uid));
	if (rec->op == VIG_ABI_MISC_SETUID) {
		VIG_CHECK(vig_set_uid(ev, VIG_F_USER_EFFECTIVE_ID, VIG_F_USER_EFFECTIVE_NAME, rec->new_euid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.old_euid", rec->old_euid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.new_uid", rec->new_uid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.new_euid", rec->new_euid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.old_egid", rec->old_egid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.new_gid", rec->new_gid));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.new_egid", rec->new_egid));
	} else if (rec->op == VIG_ABI_MISC_CAPSET) {
		VIG_CHECK(vig_event_ext_int(ev, "vigil.creds.cap_effective", (int64_t)rec->cap_effective));
	} else if (rec->op == VIG_ABI_MISC_PTRACE) {
		VIG_CHECK(vig_event_ext_int(ev, "vigil.ptrace.request", (int64_t)rec->arg[0]));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.ptrace.target_pid", (int64_t)rec->arg[1]));
	} else if (rec->op == VIG_ABI_MISC_MEMFD) {
		VIG_CHECK(vig_event_set_str(ev, VIG_F_FILE_NAME, rec->name, nl));
		VIG_CHECK(vig_event_ext_int(ev, "vigil.memfd.flags", (int64_t)rec->arg[1]));
	} else if (rec->op == VIG_ABI_MISC_MODULE && nl) {
		VIG_CHECK(vig_event_ext_str(ev, "vigil.module.name", rec->name, nl));
	} else if (rec->op == VIG_ABI_MISC_BPF) {
		if (nl)
			VIG_CHECK(vig_event_ext_str(ev, "vigil.bpf.prog_name", rec->name, nl));
	}
	return VIG_OK;
}

enum vig_err vig_agent_map_health(struct vig_event *ev, const struct vig_agent_host *host,
				  const struct vig_agent_health *h, int64_t ts_ns)
{
	static const char *const drop_keys[VIG_ABI_DROP__COUNT] = {
		"vigil.agent.drops.process", "vigil.agent.drops.network", "vigil.agent.drops.file",
		"vigil.agent.drops.misc", "vigil.agent.drops.file_rate_limited"
	};
	char key[96];

	VIG_CHECK(vig_map_common(ev, host, ts_ns, "host", "info", "health", h->mode));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_KIND, "state"));
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_EVENT_DATASET, "vigil.agent.health"));
	VIG_CHECK(vig_event_ext_str(ev, "vigil.agent.mode", h->mode, strlen(h->mode)));
	if (h->failure[0])
		VIG_CHECK(vig_event_ext_str(ev, "vigil.agent.failure", h->failure, strlen(h->failure)));
	for (size_t i = 0; i < VIG_ABI_DROP__COUNT; i++)
		VIG_CHECK(vig_event_ext_int(ev, drop_keys[i], (int64_t)h->drops[i]));
	VIG_CHECK(vig_event_ext_int(ev, "vigil.agent.events", (int64_t)h->events));
	VIG_CHECK(vig_event_ext_int(ev, "vigil.agent.bad_records", (int64_t)h->bad_records));
	VIG_CHECK(vig_event_ext_int(ev, "vigil.agent.output_drops", (int64_t)h->output_drops));
	VIG_CHECK(vig_event_ext_int(ev, "vigil.agent.processes", (int64_t)h->procs));
	for (size_t i = 0; i < h->n_progs; i++) {
		const struct vig_agent_prog_status *p = &h->progs[i];
		const char *st = p->attached ? "attached" : p->loaded ? "loaded" : "off";

		snprintf(key, sizeof(key), "vigil.agent.probes.%s", p->name);
		VIG_CHECK(vig_event_ext_str(ev, key, st, strlen(st)));
		if (p->error[0]) {
			snprintf(key, sizeof(key), "vigil.agent.probe_errors.%s", p->name);
			VIG_CHECK(vig_event_ext_str(ev, key, p->error, strlen(p->error)));
		}
	}
	VIG_CHECK(vig_event_set_cstr(ev, VIG_F_MESSAGE, strncmp(h->mode, "ebpf", 4) == 0 ?
				     "agent sensors running on ebpf" : "agent sensors running in fallback mode"));
	return VIG_OK;
}

/* The fields every agent event starts with, for mappers outside this file (fim.c). */
enum vig_err vig_agent_map_head(struct vig_event *ev, const struct vig_agent_host *host, int64_t ts_ns,
				const char *category, const char *type, const char *action, const char *source)
{
	return vig_map_common(ev, host, ts_ns, category, type, action, source);
}
