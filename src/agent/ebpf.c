/*
 * ebpf.c - the eBPF sensors' loader: for each probe object (process, net, file, misc) open the
 * skeleton, write the settings (rodata) and ring-buffer size, switch off programs whose hook the
 * kernel lacks (a tp_btf program needs the "btf_trace_<name>" type in the kernel's BTF), load,
 * attach program by program, and record every program's fate in the health state. The process
 * object is required; the others are optional and their failures are only reported.
 *
 * Lifecycle: open every object -> configure -> decide each program's hook -> load -> attach
 * -> map the rings -> poll -> stop. Stop is safe on a partly started state and destroys
 * skeletons (which detaches every link).
 *
 * Memory: parsing the kernel BTF costs about 12 MB at its peak (libbpf reads the 5.5 MB file and
 * copies it), and libbpf parses it again for each object it loads. So the hooks of every object
 * are decided from one parse that is freed before the first load, the loads run one at a time,
 * and the rings (whose pages count in the resident set as soon as they are mapped, twice their
 * size) are mapped only after the last load: the agent's peak stays near its steady size.
 *
 * Upgrade probes: before the sensors, a tiny fentry object and a tiny BPF LSM object are each
 * loaded and attached once (then detached) to learn what this kernel allows; the result is the
 * sensor mode (vig_agent_sensor_mode) reported in health events and heartbeats, with the
 * refusal reason of each probe (e.g. EPERM) in its program status and one log line. The sensors
 * themselves are the tracepoint set in every mode today.
 *
 * Wake-ups: unless batch_ms < 0, records are submitted without waking the reader, except the
 * first record into an empty ring and once a quarter of a ring is queued (wake_bytes). The
 * agent waits on its own edge-triggered epoll of the rings, so only those explicit wake-ups end
 * a wait (a level-triggered one would return while any record is queued). While idle (the
 * objects' reader_idle flag set) a first record wakes it and its batch gets batch_ms to fill;
 * while records keep coming the flag is clear and it reads every batch_ms (sooner when a ring
 * is a quarter full). Under an exec storm the agent wakes a few times per batch instead of for
 * every record, which is most of the cost a busy 2-CPU host sees; a record waits at most
 * batch_ms (rarely, when it races the flag, the caller's timeout); an idle agent sleeps until
 * the caller's timeout.
 */
#include <errno.h>
#include <malloc.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "common/log.h"
#include "common/vtime.h"

#include "fentry.skel.h"
#include "file.skel.h"
#include "lsm.skel.h"
#include "misc.skel.h"
#include "net.skel.h"
#include "process.skel.h"

/* One sensor object between open and poll. */
struct vig_obj {
	const char *name;        /* "process", "net", "file", "misc" */
	struct bpf_object *obj;  /* NULL: not opened (off by configuration or open failed) */
	struct bpf_object_skeleton *skel; /* its skeleton: loading it maps .bss for reader_idle */
	struct bpf_map *events;
	struct bpf_map *drops;
	struct bpf_map *ignore_comm;
	struct bpf_map *ignore_uid;
	size_t ring_bytes;       /* ring memory of the object, split between the CPU groups */
	size_t group_bytes;      /* the ring of one group (a power of two) */
	int ring_fds[VIG_ABI_MAX_RING_GROUPS]; /* the rings, in "events" by group; -1 when not made */
	size_t first_status;     /* index of its first program in the health state */
	size_t n_status;
	bool ok;                 /* loaded with at least one program attached */
};

enum { VIG_OBJ_PROCESS, VIG_OBJ_NET, VIG_OBJ_FILE, VIG_OBJ_MISC, VIG_OBJ__COUNT };

struct vig_agent_ebpf {
	struct vig_agent *agent;
	struct vig_obj objs[VIG_OBJ__COUNT];
	struct vig_process_bpf *process;
	struct vig_net_bpf *net;
	struct vig_file_bpf *file;
	struct vig_misc_bpf *misc;
	struct ring_buffer *rb;
	struct btf *vmlinux;
	int drop_fds[VIG_OBJ__COUNT]; /* "drops" map of each loaded object, -1 when absent */
	int batch_ms;     /* longest wait of a queued record, 0: wake per record */
	uint32_t cpus_per_group; /* CPUs sharing one ring of each object */
	uint32_t n_groups;       /* rings per object */
	int epfd;         /* edge-triggered epoll of the rings (batch_ms > 0), or -1 */
	bool pending;     /* the last read found records: more are likely queued without a wake-up */
	__u32 *idle[VIG_OBJ__COUNT]; /* each loaded object's reader_idle (mmapped .bss), or NULL */
	int64_t next_sweep; /* CLOCK_BOOTTIME ns of the next rate-limit sweep */
	const char *mode; /* sensor mode (vig_agent_sensor_mode) */
	int tracefs;      /* syscall events reachable: -1 unknown, 0 no, 1 yes (vig_tracefs_ready) */
	char tracefs_why[96];
	struct bpf_link *links[VIG_AGENT_MAX_LINKS]; /* attached programs, destroyed at stop */
	size_t n_links;
};

static char vig_libbpf_last[160]; /* last libbpf warning, for error reports (loader thread only) */

static int vig_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strcspn(line, "\n");
	line[n] = 0;
	if (level == LIBBPF_WARN)
		snprintf(vig_libbpf_last, sizeof(vig_libbpf_last), "%.159s", line);
	vig_debug("libbpf", "message", "level=%d text=\"%s\"", (int)level, line);
	return 0;
}

static struct vig_agent_prog_status *vig_status(struct vig_agent *a, const char *obj, const char *prog)
{
	struct vig_agent_health *h = vig_agent_health(a);
	struct vig_agent_prog_status *s;

	if (h->n_progs >= VIG_AGENT_MAX_PROGS)
		return NULL;
	s = &h->progs[h->n_progs++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", prog);
	snprintf(s->object, sizeof(s->object), "%s", obj);
	return s;
}

/* The syscalls each syscall sensor follows, by program (both its enter and exit program are
 * attached to the events of these names). A name the kernel has no event for (a syscall it
 * lacks, such as init_module without module support) is skipped. */
static const struct {
	const char *prog;
	const char *const *names;
} vig_sys_names[] = {
	{ "vig_file_", (const char *const[]){ "open", "creat", "openat", "unlink", "unlinkat", "rename",
		"renameat", "renameat2", "chmod", "fchmodat", "fchmodat2", "chown", "lchown", "fchownat",
		"mkdir", "mkdirat", NULL } },
	{ "vig_misc_", (const char *const[]){ "setuid", "setgid", "setreuid", "setregid", "setresuid",
		"setresgid", "setfsuid", "setfsgid", "capset", "ptrace", "init_module", "finit_module",
		"memfd_create", "bpf", NULL } },
	{ "vig_udp_", (const char *const[]){ "connect", "sendto", "recvfrom", "sendmsg", "recvmsg", NULL } },
};

#define VIG_SYS_SECTION "tp/syscalls/"

static bool vig_tracefs_events(void)
{
	return access("/sys/kernel/tracing/events/syscalls", F_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events/syscalls", F_OK) == 0;
}

/* True when the syscall events can be attached: libbpf reads their ids from tracefs, which is
 * mounted here when nothing is (as systemd would); the answer is kept for the other objects. */
static bool vig_tracefs_ready(struct vig_agent_ebpf *e)
{
	if (e->tracefs >= 0)
		return e->tracefs == 1;
	e->tracefs = vig_tracefs_events();
	if (!e->tracefs) {
		if (mount("tracefs", "/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			snprintf(e->tracefs_why, sizeof(e->tracefs_why), "no syscall events: mount tracefs: %s",
				 strerror(errno));
		else if (!(e->tracefs = vig_tracefs_events()))
			snprintf(e->tracefs_why, sizeof(e->tracefs_why), "kernel has no syscall events");
		else
			vig_info("agent", "mounted tracefs for the syscall events", "path=/sys/kernel/tracing");
	}
	return e->tracefs == 1;
}

/* True when the kernel has the hook of a tp_btf/raw_tp program or, for a syscall sensor,
 * syscall events. */
static bool vig_hook_exists(struct vig_agent_ebpf *e, struct bpf_program *prog, char *why, size_t cap)
{
	const char *sec = bpf_program__section_name(prog);
	const char *tp = strchr(sec, '/');
	char type[128];

	if (strncmp(sec, VIG_SYS_SECTION, strlen(VIG_SYS_SECTION)) == 0) {
		if (vig_tracefs_ready(e))
			return true;
		snprintf(why, cap, "%s", e->tracefs_why);
		return false;
	}
	if (strncmp(sec, "tp_btf/", 7) != 0 && strncmp(sec, "raw_tp/", 7) != 0)
		return true; /* not a tracepoint */
	if (!tp || !e->vmlinux)
		return true; /* nothing to check against: let the load decide */
	snprintf(type, sizeof(type), "btf_trace_%s", tp + 1);
	if (btf__find_by_name_kind(e->vmlinux, type, BTF_KIND_TYPEDEF) >= 0)
		return true;
	snprintf(why, cap, "kernel has no tracepoint %s", tp + 1);
	return false;
}

static void vig_keep_link(struct vig_agent_ebpf *e, struct bpf_link *link)
{
	if (e->n_links < VIG_ARRAY_LEN(e->links))
		e->links[e->n_links++] = link;
	else
		bpf_link__destroy(link); /* cannot happen: VIG_AGENT_MAX_LINKS covers every event */
}

/* Attaches a syscall sensor's program to the enter or exit event of each syscall it follows
 * (vig_sys_names); records it in s. The number of events attached. */
static size_t vig_attach_syscalls(struct vig_agent_ebpf *e, struct bpf_program *prog,
				  struct vig_agent_prog_status *s)
{
	const char *name = bpf_program__name(prog);
	const char *dir = strstr(bpf_program__section_name(prog), "sys_exit_") ? "sys_exit_" : "sys_enter_";
	size_t n = 0, missing = 0;

	if (s)
		s->loaded = true;
	for (size_t i = 0; i < VIG_ARRAY_LEN(vig_sys_names); i++) {
		if (strncmp(name, vig_sys_names[i].prog, strlen(vig_sys_names[i].prog)) != 0)
			continue;
		for (const char *const *sc = vig_sys_names[i].names; *sc; sc++) {
			char event[64];
			struct bpf_link *link;

			snprintf(event, sizeof(event), "%s%s", dir, *sc);
			link = bpf_program__attach_tracepoint(prog, "syscalls", event);
			if (!link) {
				if (errno != ENOENT && s && !s->error[0])
					snprintf(s->error, sizeof(s->error), "attach %s failed: %s", event,
						 strerror(errno));
				missing++;
				continue;
			}
			vig_keep_link(e, link);
			n++;
		}
	}
	if (s)
		s->attached = n > 0;
	if (missing)
		vig_debug("agent", "syscall events not attached", "program=%s missing=%zu", name, missing);
	return n;
}

/* Attaches a loaded program, recording it in s (may be NULL); the link or NULL. */
static struct bpf_link *vig_attach(struct bpf_program *prog, struct vig_agent_prog_status *s)
{
	struct bpf_link *link;

	if (s)
		s->loaded = true;
	link = bpf_program__attach(prog);
	if (s && !link)
		snprintf(s->error, sizeof(s->error), "attach failed: %s", strerror(errno));
	else if (s)
		s->attached = true;
	return link;
}

/* Fills an object's ignore lists (--ignore-comm, --ignore-uid) between its load and attach. */
static enum vig_err vig_fill_ignore(struct vig_agent_ebpf *e, struct vig_obj *o, char *errbuf)
{
	const struct vig_agent_config *cfg = vig_agent_config(e->agent);
	uint8_t one = 1;

	for (size_t i = 0; i < cfg->n_ignore; i++) {
		char comm[VIG_ABI_COMM_LEN] = "";

		strncpy(comm, cfg->ignore_comm[i], sizeof(comm) - 1);
		if (bpf_map_update_elem(bpf_map__fd(o->ignore_comm), comm, &one, BPF_ANY) != 0)
			return vig_errf(errbuf, VIG_EIO, "%s ignore list: %s", o->name, strerror(errno));
	}
	for (size_t i = 0; i < cfg->n_ignore_uid; i++)
		if (bpf_map_update_elem(bpf_map__fd(o->ignore_uid), &cfg->ignore_uid[i], &one, BPF_ANY) != 0)
			return vig_errf(errbuf, VIG_EIO, "%s ignore list: %s", o->name, strerror(errno));
	return VIG_OK;
}

/* Records the programs of an opened object in the health state and switches off those whose
 * hook the kernel lacks (or that this architecture cannot map); needs e->vmlinux. */
static void vig_obj_prepare(struct vig_agent_ebpf *e, struct vig_obj *o, bool sys_ok)
{
	struct bpf_program *prog;

	o->first_status = vig_agent_health(e->agent)->n_progs;
	bpf_map__set_max_entries(o->events, e->n_groups);
	bpf_object__for_each_program(prog, o->obj) {
		char why[128] = "";
		struct vig_agent_prog_status *s = vig_status(e->agent, o->name, bpf_program__name(prog));
		bool sys = strncmp(bpf_program__section_name(prog), VIG_SYS_SECTION, strlen(VIG_SYS_SECTION)) == 0;

		if (s)
			o->n_status++;
		if (sys && !sys_ok)
			snprintf(why, sizeof(why), "syscall sensors are mapped for x86_64 only");
		if ((sys && !sys_ok) || !vig_hook_exists(e, prog, why, sizeof(why))) {
			bpf_program__set_autoload(prog, false);
			if (s)
				snprintf(s->error, sizeof(s->error), "%s", why);
		}
	}
}

/* Loads and attaches a prepared object; records per-program status. */
static enum vig_err vig_obj_load(struct vig_agent_ebpf *e, struct vig_obj *o, char *errbuf)
{
	struct vig_agent_prog_status *st = &vig_agent_health(e->agent)->progs[o->first_status];
	struct bpf_program *prog;
	size_t attached = 0, i = 0;
	int err;

	vig_libbpf_last[0] = 0;
	err = bpf_object__load_skeleton(o->skel); /* the object, then its .bss mapped for writing */
	if (err) {
		for (size_t k = 0; k < o->n_status; k++)
			if (!st[k].error[0])
				snprintf(st[k].error, sizeof(st[k].error), "load failed: %.30s %.80s", strerror(-err),
					 vig_libbpf_last);
		return vig_errf(errbuf, VIG_EIO, "%s probes failed to load: %s", o->name, strerror(-err));
	}
	if (vig_fill_ignore(e, o, errbuf) != VIG_OK)
		return VIG_EIO; /* attaching would report what the administrator asked to leave out */
	for (uint32_t g = 0; g < e->n_groups; g++) { /* the rings, before any program can write */
		char name[16];

		snprintf(name, sizeof(name), "vig_%.6s_%02u", o->name, g & 63u); /* g < 64 */
		o->ring_fds[g] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, name, 0, 0, (uint32_t)o->group_bytes, NULL);
		if (o->ring_fds[g] < 0 || bpf_map_update_elem(bpf_map__fd(o->events), &g, &o->ring_fds[g], BPF_ANY) != 0)
			return vig_errf(errbuf, VIG_EIO, "%s ring %u: %s", o->name, g, strerror(errno));
	}
	bpf_object__for_each_program(prog, o->obj) {
		struct vig_agent_prog_status *s = i < o->n_status ? &st[i] : NULL;
		struct bpf_link *link;

		i++;
		if (!bpf_program__autoload(prog))
			continue;
		if (strncmp(bpf_program__section_name(prog), VIG_SYS_SECTION, strlen(VIG_SYS_SECTION)) == 0) {
			attached += vig_attach_syscalls(e, prog, s) > 0;
			continue;
		}
		link = vig_attach(prog, s);
		if (!link)
			continue;
		attached++;
		vig_keep_link(e, link);
	}
	if (!attached)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "no %s probe attached", o->name);
	o->ok = true;
	return VIG_OK;
}

static int vig_on_ring(void *ctx, void *data, size_t size)
{
	vig_agent_on_record(ctx, data, size);
	return 0;
}

/* Maps the rings of a loaded object into the read set and the wake-up epoll. */
static enum vig_err vig_ring_add(struct vig_agent_ebpf *e, struct vig_obj *o, char *errbuf)
{
	for (uint32_t g = 0; g < e->n_groups; g++) {
		int fd = o->ring_fds[g];

		if (!e->rb)
			e->rb = ring_buffer__new(fd, vig_on_ring, e->agent, NULL);
		else if (ring_buffer__add(e->rb, fd, vig_on_ring, e->agent) != 0)
			return vig_errf(errbuf, VIG_EIO, "%s ring buffer: %s", o->name, strerror(errno));
		if (!e->rb)
			return vig_errf(errbuf, VIG_EIO, "%s ring buffer: %s", o->name, strerror(errno));
		if (e->epfd >= 0) {
			struct epoll_event ev = { .events = EPOLLIN | EPOLLET };

			if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
				return vig_errf(errbuf, VIG_EIO, "%s ring epoll: %s", o->name, strerror(errno));
		}
	}
	return VIG_OK;
}

/* Writes the n paths of list as kernel prefixes (each ending in '/') into out; their count. */
static uint32_t vig_put_prefixes(char (*out)[VIG_ABI_PREFIX_LEN], const char *const *list, size_t n,
				 const char *what)
{
	uint32_t k = 0;

	for (size_t i = 0; i < n && k < VIG_ABI_MAX_PREFIXES; i++) {
		size_t l = strlen(list[i]);

		while (l > 1 && list[i][l - 1] == '/')
			l--;
		if (l + 2 > VIG_ABI_PREFIX_LEN) {
			vig_warn("agent", "path too long for the kernel filter, skipped", "option=%s path=\"%s\"",
				 what, list[i]);
			continue;
		}
		memcpy(out[k], list[i], l);
		out[k][l] = '/';
		out[k][l + 1] = 0;
		k++;
	}
	return k;
}

static void vig_set_prefixes(struct vig_file_bpf *s, const struct vig_agent_config *cfg)
{
	s->rodata->n_prefixes = vig_put_prefixes((char (*)[VIG_ABI_PREFIX_LEN])s->rodata->prefixes, cfg->watch,
						 cfg->n_watch, "watch");
	s->rodata->n_ignore_prefixes = vig_put_prefixes((char (*)[VIG_ABI_PREFIX_LEN])s->rodata->ignore_prefixes,
							cfg->ignore_path, cfg->n_ignore_path, "ignore-path");
}


/* File rate limit settings from the configuration (see file.bpf.c). */
static void vig_set_rate(struct vig_file_bpf *s, const struct vig_agent_config *cfg)
{
	int rate = cfg->file_rate ? cfg->file_rate : VIG_AGENT_FILE_RATE;
	int burst = cfg->file_burst > 0 ? cfg->file_burst : VIG_AGENT_FILE_BURST;

	if (rate < 0) {
		s->rodata->rate_interval_ns = 0;
		bpf_program__set_autoload(s->progs.vig_file_gone, false); /* nothing to summarise */
		return;
	}
	s->rodata->rate_interval_ns = (uint64_t)VIG_NS_PER_SEC / (uint64_t)rate;
	s->rodata->rate_burst = (uint64_t)burst;
}

/* Submit without waking the reader until a quarter of the ring of ring_bytes is queued. */
static uint64_t vig_wake_bytes(const struct vig_agent_ebpf *e, size_t ring_bytes)
{
	return e->batch_ms > 0 ? ring_bytes / 4 : 0;
}

/* CPUs per ring group (--ring-cpus) and the number of groups, at most VIG_ABI_MAX_RING_GROUPS
 * (larger hosts get larger groups). */
static void vig_ring_groups(struct vig_agent_ebpf *e)
{
	int ring_cpus = vig_agent_config(e->agent)->ring_cpus;
	int ncpu = libbpf_num_possible_cpus();
	uint32_t per = ring_cpus > 0 ? (uint32_t)ring_cpus : VIG_AGENT_RING_CPUS;

	if (ncpu < 1)
		ncpu = 1;
	if ((ncpu + per - 1) / per > VIG_ABI_MAX_RING_GROUPS)
		per = (ncpu + VIG_ABI_MAX_RING_GROUPS - 1) / VIG_ABI_MAX_RING_GROUPS;
	e->cpus_per_group = per;
	e->n_groups = ((uint32_t)ncpu + per - 1) / per;
}

/* Records an opened skeleton's object and maps in slot i and writes the settings every object
 * shares (its rodata, frozen at load). */
static void vig_obj_bind(struct vig_agent_ebpf *e, int i, struct bpf_object_skeleton *skel, struct bpf_object *obj,
			 struct bpf_map *const maps[4], __u32 *const rodata[4], __u64 *wake_bytes)
{
	const struct vig_agent_config *cfg = vig_agent_config(e->agent);
	struct vig_obj *o = &e->objs[i];

	o->skel = skel;
	o->obj = obj;
	o->events = maps[0];
	o->drops = maps[1];
	o->ignore_comm = maps[2];
	o->ignore_uid = maps[3];
	*rodata[0] = (uint32_t)getpid();
	*rodata[1] = (uint32_t)cfg->n_ignore;
	*rodata[2] = (uint32_t)cfg->n_ignore_uid;
	*rodata[3] = e->cpus_per_group;
	o->group_bytes = VIG_AGENT_MIN_RING;
	while (o->group_bytes * 2 <= o->ring_bytes / e->n_groups)
		o->group_bytes *= 2;
	*wake_bytes = vig_wake_bytes(e, o->group_bytes);
}

/* The maps and settings every object shares (common.bpf.h), by name in each skeleton. */
#define VIG_OBJ_BIND(e, i, skel)                                                                   \
	vig_obj_bind(e, i, (skel)->skeleton, (skel)->obj,                                          \
		     (struct bpf_map *const[4]){ (skel)->maps.events, (skel)->maps.drops,              \
						 (skel)->maps.ignore_comm, (skel)->maps.ignore_uid },      \
		     (__u32 *const[4]){ &(skel)->rodata->agent_tgid, &(skel)->rodata->n_ignore_comm,    \
					&(skel)->rodata->n_ignore_uid, &(skel)->rodata->cpus_per_group },  \
		     &(skel)->rodata->wake_bytes)

/* Opens and configures every sensor object the configuration asks for; an object that fails to
 * open stays NULL. */
static void vig_open_objects(struct vig_agent_ebpf *e)
{
	const struct vig_agent_config *cfg = vig_agent_config(e->agent);
	struct vig_obj *o = e->objs;

	o[VIG_OBJ_PROCESS] = (struct vig_obj){ .name = "process", .ring_bytes = VIG_AGENT_PROCESS_RING };
	o[VIG_OBJ_NET] = (struct vig_obj){ .name = "net", .ring_bytes = 1 << 20 };
	o[VIG_OBJ_FILE] = (struct vig_obj){ .name = "file", .ring_bytes = 1 << 20 };
	o[VIG_OBJ_MISC] = (struct vig_obj){ .name = "misc", .ring_bytes = 1 << 20 };
	for (int i = 0; i < VIG_OBJ__COUNT; i++)
		for (int g = 0; g < VIG_ABI_MAX_RING_GROUPS; g++)
			o[i].ring_fds[g] = -1;
	e->process = vig_process_bpf__open();
	if (e->process)
		VIG_OBJ_BIND(e, VIG_OBJ_PROCESS, e->process);
	e->net = vig_net_bpf__open();
	if (e->net) {
		VIG_OBJ_BIND(e, VIG_OBJ_NET, e->net);
		e->net->rodata->udp_window_ns = (uint64_t)(cfg->udp_window_s > 0 ? cfg->udp_window_s
										  : VIG_AGENT_UDP_WINDOW_S) * VIG_NS_PER_SEC;
	}
	e->file = cfg->n_watch ? vig_file_bpf__open() : NULL;
	if (e->file) {
		VIG_OBJ_BIND(e, VIG_OBJ_FILE, e->file);
		vig_set_prefixes(e->file, cfg);
		vig_set_rate(e->file, cfg);
	}
	e->misc = vig_misc_bpf__open();
	if (e->misc)
		VIG_OBJ_BIND(e, VIG_OBJ_MISC, e->misc);
}

const char *vig_agent_sensor_mode(bool fentry_ok, bool lsm_ok)
{
	if (lsm_ok)
		return "ebpf-lsm";
	return fentry_ok ? "ebpf-fentry" : "ebpf-tracepoint";
}

/* Loads and attaches the one program of an upgrade probe object, then detaches it; records its
 * status under name. True when the kernel ran it. */
static bool vig_try_upgrade(struct vig_agent_ebpf *e, const char *name, struct bpf_object *obj)
{
	struct bpf_program *prog = obj ? bpf_object__next_program(obj, NULL) : NULL;
	struct vig_agent_prog_status *s;
	struct bpf_link *link;
	int err;

	if (!prog)
		return false;
	s = vig_status(e->agent, name, bpf_program__name(prog));
	err = bpf_object__load(obj);
	if (err) {
		if (s)
			snprintf(s->error, sizeof(s->error), "load failed: %s", strerror(-err));
		return false;
	}
	link = vig_attach(prog, s);
	bpf_link__destroy(link);
	return link != NULL;
}

/* Tries the fentry and BPF LSM probes and sets e->mode. */
static void vig_probe_upgrades(struct vig_agent_ebpf *e)
{
	struct vig_fentry_bpf *fe = vig_fentry_bpf__open();
	struct vig_lsm_bpf *lsm = vig_lsm_bpf__open();
	size_t first = vig_agent_health(e->agent)->n_progs;
	bool fentry_ok = vig_try_upgrade(e, "fentry", fe ? fe->obj : NULL);
	bool lsm_ok = vig_try_upgrade(e, "lsm", lsm ? lsm->obj : NULL);
	const struct vig_agent_health *h = vig_agent_health(e->agent);

	vig_fentry_bpf__destroy(fe);
	vig_lsm_bpf__destroy(lsm);
	e->mode = vig_agent_sensor_mode(fentry_ok, lsm_ok);
	vig_info("agent", "sensor mode", "mode=%s fentry=\"%s\" lsm=\"%s\"", e->mode,
		 fentry_ok ? "ok" : h->n_progs > first ? h->progs[first].error : "no object",
		 lsm_ok ? "ok" : h->n_progs > first + 1 ? h->progs[first + 1].error : "no object");
}

const char *vig_agent_ebpf_mode(const struct vig_agent_ebpf *e)
{
	return e && e->mode ? e->mode : "ebpf-tracepoint";
}

enum vig_err vig_agent_ebpf_start(struct vig_agent *a, struct vig_agent_ebpf **out, char *errbuf)
{
	struct vig_agent_ebpf *e = calloc(1, sizeof(*e));
	char err_opt[VIG_ERRBUF_SIZE];
	bool sys_ok;
	enum vig_err err;

	*out = NULL;
	if (!e)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (int i = 0; i < VIG_OBJ__COUNT; i++) {
		e->drop_fds[i] = -1;
		for (int g = 0; g < VIG_ABI_MAX_RING_GROUPS; g++)
			e->objs[i].ring_fds[g] = -1;
	}
	e->agent = a;
	e->tracefs = -1;
	e->epfd = -1;
	e->batch_ms = vig_agent_config(a)->batch_ms;
	if (e->batch_ms == 0)
		e->batch_ms = VIG_AGENT_BATCH_MS;
	if (e->batch_ms > 0 && (e->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		err = vig_errf(errbuf, VIG_EIO, "epoll: %s", strerror(errno));
		goto out_stop;
	}
	libbpf_set_print(vig_libbpf_print);
#if defined(__x86_64__)
	sys_ok = true;
#else
	sys_ok = false;
#endif
	vig_ring_groups(e);
	vig_open_objects(e);
	if (!e->process) {
		err = vig_errf(errbuf, VIG_EIO, "cannot open process probes: %s", strerror(errno));
		goto out_stop;
	}
	e->vmlinux = btf__load_vmlinux_btf();
	if (!e->vmlinux) {
		err = vig_errf(errbuf, VIG_EUNSUPPORTED, "kernel BTF unavailable: %s", strerror(errno));
		goto out_stop;
	}
	for (int i = 0; i < VIG_OBJ__COUNT; i++)
		if (e->objs[i].obj)
			vig_obj_prepare(e, &e->objs[i], sys_ok);
	btf__free(e->vmlinux); /* every hook is decided: give its ~6 MB back before libbpf parses its own */
	e->vmlinux = NULL;
	malloc_trim(0);
	vig_probe_upgrades(e);
	err = vig_obj_load(e, &e->objs[VIG_OBJ_PROCESS], errbuf);
	if (err != VIG_OK)
		goto out_stop;
	for (int i = VIG_OBJ_PROCESS + 1; i < VIG_OBJ__COUNT; i++) /* optional: reported, not fatal */
		if (e->objs[i].obj && vig_obj_load(e, &e->objs[i], err_opt) != VIG_OK)
			vig_warn("agent", "sensor off", "object=%s err=\"%s\"", e->objs[i].name, err_opt);
	malloc_trim(0);
	for (int i = 0; i < VIG_OBJ__COUNT; i++) {
		struct vig_obj *o = &e->objs[i];

		if (!o->ok)
			continue;
		err = vig_ring_add(e, o, i == VIG_OBJ_PROCESS ? errbuf : err_opt);
		if (err != VIG_OK && i == VIG_OBJ_PROCESS)
			goto out_stop;
		if (err != VIG_OK) {
			vig_warn("agent", "sensor off", "object=%s err=\"%s\"", o->name, err_opt);
			continue;
		}
		e->drop_fds[i] = bpf_map__fd(o->drops);
	}
	/* .bss is mmapped at load: the skeletons' pointers are valid from here on */
	e->idle[VIG_OBJ_PROCESS] = &e->process->bss->reader_idle;
	e->idle[VIG_OBJ_NET] = e->objs[VIG_OBJ_NET].ok ? &e->net->bss->reader_idle : NULL;
	e->idle[VIG_OBJ_FILE] = e->objs[VIG_OBJ_FILE].ok ? &e->file->bss->reader_idle : NULL;
	e->idle[VIG_OBJ_MISC] = e->objs[VIG_OBJ_MISC].ok ? &e->misc->bss->reader_idle : NULL;
	for (size_t i = 0; i < vig_agent_health(a)->n_progs; i++) {
		const struct vig_agent_prog_status *s = &vig_agent_health(a)->progs[i];

		vig_info("agent", "probe", "object=%s program=%s loaded=%d attached=%d error=\"%s\"", s->object,
			 s->name, s->loaded, s->attached, s->error);
	}
	*out = e;
	return VIG_OK;
out_stop:
	vig_agent_ebpf_stop(e);
	return err;
}

/* Summaries for processes that went quiet while rate limited (the kernel sends one only at the
 * process's next file record or at its exit): at most once a second, every bucket whose
 * refusals are older than the window is reported as a VIG_ABI_RATE record and cleared. A
 * refusal the kernel counts between the read and the write back is lost from the summary (it
 * stays in the drop counter). */
static void vig_rate_sweep(struct vig_agent_ebpf *e)
{
	struct vig_abi_bucket b;
	struct vig_abi_rate r;
	uint32_t key = 0, next;
	struct timespec ts;
	int64_t now;
	int fd;

	if (e->drop_fds[VIG_OBJ_FILE] < 0 || !e->file->rodata->rate_interval_ns)
		return;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	now = (int64_t)ts.tv_sec * VIG_NS_PER_SEC + ts.tv_nsec;
	if (now < e->next_sweep)
		return;
	e->next_sweep = now + VIG_NS_PER_SEC;
	fd = bpf_map__fd(e->file->maps.buckets);
	for (int n = 0; n < 8192 && bpf_map_get_next_key(fd, n ? &key : NULL, &next) == 0; n++) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &b) != 0 || !b.suppressed ||
		    now - (int64_t)b.first_ns < (int64_t)VIG_ABI_RATE_WINDOW_NS)
			continue;
		memset(&r, 0, sizeof(r));
		r.hdr.type = VIG_ABI_RATE;
		r.hdr.size = sizeof(r);
		r.hdr.ktime_ns = (uint64_t)now;
		r.hdr.pid = key;
		r.hdr.tid = key;
		r.suppressed = b.suppressed;
		r.first_ns = b.first_ns;
		r.last_ns = b.last_ns;
		memcpy(r.comm, b.comm, sizeof(r.comm));
		b.suppressed = 0;
		bpf_map_update_elem(fd, &key, &b, BPF_EXIST);
		vig_agent_on_record(e->agent, &r, sizeof(r));
	}
}

static void vig_set_idle(struct vig_agent_ebpf *e, __u32 v)
{
	for (int i = 0; i < VIG_OBJ__COUNT; i++)
		if (e->idle[i])
			__atomic_store_n(e->idle[i], v, __ATOMIC_SEQ_CST);
}

/* Waits up to ms for a wake-up of a ring: > 0 woken, 0 timed out, -errno. */
static int vig_wait(struct vig_agent_ebpf *e, int ms)
{
	struct epoll_event ev[VIG_OBJ__COUNT];
	int r = epoll_wait(e->epfd, ev, VIG_OBJ__COUNT, ms);

	return r < 0 ? (errno == EINTR ? 0 : -errno) : r;
}

enum vig_err vig_agent_ebpf_poll(struct vig_agent_ebpf *e, int timeout_ms)
{
	int n;

	if (e->epfd < 0) {
		n = ring_buffer__poll(e->rb, timeout_ms); /* a wake-up per record */
	} else if (!e->pending) {
		vig_set_idle(e, 1);
		n = ring_buffer__consume(e->rb); /* queued before the flag was seen: no wake-up comes */
		if (n == 0 && (n = vig_wait(e, timeout_ms)) > 0) {
			vig_set_idle(e, 0); /* a first record: its batch fills for batch_ms */
			n = vig_wait(e, e->batch_ms);
			if (n >= 0)
				n = ring_buffer__consume(e->rb);
		}
		vig_set_idle(e, 0);
		e->pending = n > 0;
	} else {
		n = vig_wait(e, e->batch_ms); /* a quarter-full ring ends this sooner */
		if (n >= 0)
			n = ring_buffer__consume(e->rb);
		e->pending = n > 0;
	}
	vig_rate_sweep(e);
	if (n < 0 && n != -EINTR)
		return VIG_EIO;
	return VIG_OK;
}

void vig_agent_ebpf_drops(struct vig_agent_ebpf *e, uint64_t drops[VIG_ABI_DROP__COUNT])
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0 || ncpu > 4096)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (uint32_t k = 0; k < VIG_ABI_DROP__COUNT; k++) {
		uint64_t sum = 0;

		for (int o = 0; o < VIG_OBJ__COUNT; o++) {
			if (e->drop_fds[o] < 0 || bpf_map_lookup_elem(e->drop_fds[o], &k, vals) != 0)
				continue;
			for (int c = 0; c < ncpu; c++)
				sum += vals[c];
		}
		drops[k] = sum;
	}
	free(vals);
}

void vig_agent_ebpf_stop(struct vig_agent_ebpf *e)
{
	if (!e)
		return;
	ring_buffer__free(e->rb);
	e->rb = NULL;
	if (e->epfd >= 0)
		close(e->epfd);
	for (int i = 0; i < VIG_OBJ__COUNT; i++)
		for (int g = 0; g < VIG_ABI_MAX_RING_GROUPS; g++)
			if (e->objs[i].ring_fds[g] >= 0)
				close(e->objs[i].ring_fds[g]);
	for (size_t i = 0; i < e->n_links; i++)
		bpf_link__destroy(e->links[i]);
	e->n_links = 0;
	vig_misc_bpf__destroy(e->misc);
	vig_file_bpf__destroy(e->file);
	vig_net_bpf__destroy(e->net);
	vig_process_bpf__destroy(e->process);
	btf__free(e->vmlinux);
	free(e);
}
