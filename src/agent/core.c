/*
 * core.c - the agent proper: owns the host identity, the process table and one event, turns
 * eBPF records and fallback observations into events, and runs the sensor loop.
 *
 * Record handling: every record is checked for type and size before use (a malformed one is
 * counted in health.bad_records and refused). exec updates or creates the table entry (image,
 * argv, cwd walked by the BPF program (else /proc/PID/cwd at event time), hash of /proc/PID/exe checked against the exec's
 * inode, else of the path), fork copies the parent's image into a new entry, exit emits and
 * forgets the entry after the next drain of the rings (vig_agent_drained). Parents unknown to the table are read from /proc on demand.
 *
 * Run loop: eBPF mode when the process sensor loads and attaches, else fallback mode; a health
 * event at start and every health_interval_s seconds.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "common/log.h"
#include "common/vtime.h"

struct vig_agent {
	struct vig_agent_config cfg;
	struct vig_agent_host host;
	struct vig_proctable *procs;
	struct vig_arena arena;     /* backs ev; reset per event */
	struct vig_event ev;
	vig_agent_emit_fn *emit;
	void *emit_ctx;
	struct vig_agent_health health;
	/* exits whose table entries go at the end of the next drain (vig_reap_gone) */
	struct vig_gone { int32_t pid; int64_t start_ns; } gone[VIG_AGENT_MAX_GONE];
	size_t n_gone;      /* entries in gone[] */
	size_t n_gone_old;  /* of those, the ones from before the last drain */
};

struct vig_agent *vig_agent_new(const struct vig_agent_config *cfg, vig_agent_emit_fn *emit,
				void *emit_ctx, char *errbuf)
{
	struct vig_agent *a = calloc(1, sizeof(*a));

	if (!a) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	a->cfg = *cfg;
	if (a->cfg.health_interval_s <= 0)
		a->cfg.health_interval_s = 60;
	if (vig_agent_host_init(&a->host, cfg->machine_id_path, errbuf) != VIG_OK)
		goto out_free_agent;
	a->procs = vig_proctable_new(a->host.id, cfg->proc_root, 0);
	if (!a->procs) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory for the process table");
		goto out_free_agent;
	}
	vig_arena_init(&a->arena, 16 << 10, 4 << 20);
	vig_event_init(&a->ev, &a->arena);
	a->emit = emit;
	a->emit_ctx = emit_ctx;
	a->health.mode = cfg->no_ebpf ? "fallback" : "ebpf-tracepoint";
	return a;
out_free_agent:
	free(a);
	return NULL;
}

void vig_agent_free(struct vig_agent *a)
{
	if (!a)
		return;
	vig_proctable_free(a->procs);
	vig_arena_release(&a->arena);
	free(a);
}

struct vig_agent_health *vig_agent_health(struct vig_agent *a) { return &a->health; }
struct vig_proctable *vig_agent_procs(struct vig_agent *a) { return a->procs; }
const struct vig_agent_host *vig_agent_host(const struct vig_agent *a) { return &a->host; }
const struct vig_agent_config *vig_agent_config(const struct vig_agent *a) { return &a->cfg; }

/* True when activity of a process with this comm and real uid (UINT32_MAX: unknown) is not
 * reported (--ignore-comm, --ignore-uid). The kernel drops most such records before they take
 * ring space; exec and exit records still come, to keep the process table right, and the
 * fallback sensors have no kernel filter. */
static bool vig_ignored(const struct vig_agent *a, const char *comm, uint32_t uid)
{
	for (size_t i = 0; i < a->cfg.n_ignore; i++)
		if (strncmp(a->cfg.ignore_comm[i], comm, VIG_ABI_COMM_LEN) == 0)
			return true;
	for (size_t i = 0; uid != UINT32_MAX && i < a->cfg.n_ignore_uid; i++)
		if (a->cfg.ignore_uid[i] == uid)
			return true;
	return false;
}

/* Emits a.ev when err is VIG_OK; logs a mapping failure otherwise. Resets the arena. */
static void vig_emit(struct vig_agent *a, enum vig_err err, const char *what)
{
	if (err == VIG_OK) {
		a->health.events++;
		a->emit(a->emit_ctx, &a->ev);
	} else {
		a->health.bad_records++;
		vig_warn("agent", "event mapping failed", "what=%s err=\"%s\"", what, vig_strerror(err));
	}
	vig_event_clear(&a->ev);
	vig_arena_reset(&a->arena);
}

/* The table entry of pid, from /proc when the table does not know it. */
static struct vig_proc *vig_lookup(struct vig_agent *a, int32_t pid)
{
	struct vig_proc *p;

	if (pid <= 0)
		return NULL;
	p = vig_proctable_get(a->procs, pid);
	return p ? p : vig_proctable_load(a->procs, pid);
}

static void vig_emit_process(struct vig_agent *a, enum vig_agent_proc_action act, struct vig_proc *p,
			     int64_t ts, int32_t code, int64_t duration, const char *source)
{
	const char *anc[VIG_AGENT_MAX_ANCESTRY];
	struct vig_agent_proc_event pe = {
		.action = act, .ts_ns = ts, .proc = p, .exit_code = code, .duration_ns = duration,
		.source = source, .ancestry = anc,
	};

	pe.parent = vig_lookup(a, p->ppid);
	pe.n_ancestry = vig_proctable_ancestry(a->procs, p, anc, VIG_ARRAY_LEN(anc));
	vig_emit(a, vig_agent_map_process(&a->ev, &a->host, &pe), "process");
}

static void vig_fill_from_task(struct vig_proc *p, const struct vig_abi_task *t)
{
	p->ppid = (int32_t)t->ppid;
	p->uid = t->uid;
	p->euid = t->euid;
	p->gid = t->gid;
	p->egid = t->egid;
	p->auid = t->auid;
	p->sessionid = t->sessionid;
	p->tty_nr = t->tty_nr;
	p->cgroup_id = t->cgroup_id;
	memcpy(p->comm, t->comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = 0;
}

/* Working directory (when want_cwd) and image path of a live process from /proc. */
static void vig_proc_links(struct vig_agent *a, struct vig_proc *p, const char *filename, const char *dname,
			   bool want_cwd)
{
	char path[192], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/cwd", vig_proctable_proc_root(a->procs), p->pid);
	n = want_cwd ? readlink(path, buf, sizeof(buf) - 1) : 0;
	if (n > 0)
		vig_proc_set_cwd(p, buf, (size_t)n);
	/* an absolute path names the image, except the fd paths of fexecve/execveat (a memfd,
	 * an unlinked file), which /proc/PID/exe resolves to what they point at */
	if (filename[0] == '/' && strncmp(filename, "/dev/fd/", 8) != 0 && strncmp(filename, "/proc/", 6) != 0) {
		vig_proc_set_exe(p, filename, strlen(filename));
		return;
	}
	snprintf(path, sizeof(path), "%s/%d/exe", vig_proctable_proc_root(a->procs), p->pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0)
			n -= 10;
		vig_proc_set_exe(p, buf, (size_t)n);
	} else if (strncmp(dname, "memfd:", 6) == 0) {
		/* gone already: name the memfd the way /proc/PID/exe would */
		char memfd[VIG_ABI_NAME_LEN + 2];

		snprintf(memfd, sizeof(memfd), "/%s", dname);
		vig_proc_set_exe(p, memfd, strlen(memfd));
	} else if (filename[0]) {
		vig_proc_set_exe(p, filename, strlen(filename));
	}
}

static void vig_hash_image(struct vig_agent *a, struct vig_proc *p, uint64_t ino)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%d/exe", vig_proctable_proc_root(a->procs), p->pid);
	if (vig_proctable_hash_file(a->procs, path, ino, p->sha256) == VIG_OK)
		return;
	if (p->exe && !(p->flags & (VIG_PROC_F_MEMFD | VIG_PROC_F_DELETED)))
		vig_proctable_hash_file(a->procs, p->exe, ino, p->sha256);
}

static enum vig_err vig_on_exec(struct vig_agent *a, const struct vig_abi_exec *r)
{
	char filename[VIG_ABI_PATH_LEN], dname[VIG_ABI_NAME_LEN], kcwd[VIG_ABI_CWD_LEN + 2];
	struct vig_proc *p;
	size_t kcwd_len;
	enum vig_err err;

	if (r->args_len >= VIG_ABI_ARGS_LEN)
		return VIG_EPARSE;
	snprintf(filename, sizeof(filename), "%.*s", (int)strnlen(r->filename, sizeof(r->filename)), r->filename);
	snprintf(dname, sizeof(dname), "%.*s", (int)strnlen(r->exe_dname, sizeof(r->exe_dname)), r->exe_dname);
	p = vig_proctable_put(a->procs, (int32_t)r->hdr.pid, vig_agent_ticks_round((int64_t)r->task.start_boot_ns),
			      &err);
	if (!p)
		return err;
	vig_fill_from_task(p, &r->task);
	vig_container_id(r->cgroup, strnlen(r->cgroup, sizeof(r->cgroup)), p->container_id);
	p->flags = vig_agent_exec_flags(filename, dname, r->exe_nlink);
	if (r->hdr.flags & VIG_ABI_F_ARGS_TRUNC)
		p->flags |= VIG_PROC_F_ARGS_TRUNC;
	vig_proc_set_args(p, r->args, r->args_len);
	kcwd_len = 0;
	if (!(r->hdr.flags & VIG_ABI_F_CWD_TRUNC) && r->cwd_len <= VIG_ABI_CWD_LEN)
		kcwd_len = vig_agent_cwd_from_components(r->cwd, r->cwd_len, kcwd, sizeof(kcwd));
	vig_proc_links(a, p, filename, dname, kcwd_len == 0);
	if (kcwd_len)
		vig_proc_set_cwd(p, kcwd, kcwd_len); /* the kernel's view: no /proc read needed */
	p->sha256[0] = 0;
	/* the record names the image's (dev, inode, mtime, size): a cached hash needs no syscall */
	if (!r->exe_mtime_ns || !vig_proctable_hash_cached(a->procs, r->exe_dev, r->exe_ino,
							   (int64_t)r->exe_mtime_ns, r->exe_size, p->sha256))
		vig_hash_image(a, p, r->exe_ino);
	if (vig_ignored(a, p->comm, p->uid))
		return VIG_OK;
	vig_emit_process(a, VIG_AGENT_EXEC, p, vig_agent_boot_to_wall(&a->host, (int64_t)r->hdr.ktime_ns), 0, -1,
			 "ebpf");
	return VIG_OK;
}

static enum vig_err vig_on_fork(struct vig_agent *a, const struct vig_abi_fork *r)
{
	struct vig_proc *p, *parent;
	enum vig_err err;

	parent = vig_lookup(a, (int32_t)r->task.ppid);
	p = vig_proctable_put(a->procs, (int32_t)r->hdr.pid, vig_agent_ticks_round((int64_t)r->task.start_boot_ns),
			      &err);
	if (!p)
		return err;
	if (parent)
		vig_proc_copy_image(p, parent);
	vig_fill_from_task(p, &r->task);
	if (vig_ignored(a, p->comm, p->uid))
		return VIG_OK;
	vig_emit_process(a, VIG_AGENT_FORK, p, vig_agent_boot_to_wall(&a->host, (int64_t)r->hdr.ktime_ns), 0, -1,
			 "ebpf");
	return VIG_OK;
}

/* Forgets the first n exited processes of gone[] (unless their pid was reused since). */
static void vig_reap_gone(struct vig_agent *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vig_proc *p = vig_proctable_get(a->procs, a->gone[i].pid);

		if (p && p->start_ns == a->gone[i].start_ns)
			vig_proctable_remove(a->procs, a->gone[i].pid);
	}
	memmove(a->gone, a->gone + n, (a->n_gone - n) * sizeof(a->gone[0]));
	a->n_gone -= n;
	a->n_gone_old = a->n_gone_old > n ? a->n_gone_old - n : 0;
}

void vig_agent_drained(struct vig_agent *a)
{
	vig_reap_gone(a, a->n_gone_old); /* exits seen before the drain that just ended */
	a->n_gone_old = a->n_gone;
}

static enum vig_err vig_on_exit(struct vig_agent *a, const struct vig_abi_exit *r)
{
	struct vig_proc *p = vig_proctable_get(a->procs, (int32_t)r->hdr.pid);
	int64_t start = vig_agent_ticks_round((int64_t)r->start_boot_ns);
	int64_t duration = (int64_t)r->hdr.ktime_ns - (int64_t)r->start_boot_ns;
	enum vig_err err;

	if (!p || p->start_ns != start) {
		/* never seen (or a reused pid): what the record says is all there is */
		p = vig_proctable_put(a->procs, (int32_t)r->hdr.pid, start, &err);
		if (!p)
			return err;
		memcpy(p->comm, r->comm, sizeof(p->comm));
		p->comm[sizeof(p->comm) - 1] = 0;
	}
	if (!vig_ignored(a, p->comm, p->uid))
		vig_emit_process(a, VIG_AGENT_EXIT, p, vig_agent_boot_to_wall(&a->host, (int64_t)r->hdr.ktime_ns),
				 vig_agent_exit_code(r->exit_code), duration, "ebpf");
	/* the entry stays until the rings are drained once more: the process's last network, file
	 * and misc records sit in other rings, which may be read after this one */
	if (a->n_gone == VIG_ARRAY_LEN(a->gone))
		vig_reap_gone(a, 1);
	a->gone[a->n_gone].pid = p->pid;
	a->gone[a->n_gone++].start_ns = p->start_ns;
	return VIG_OK;
}

/* Absolute form of a record path: itself when absolute, else joined to the dirfd's path or
 * the cwd read from /proc (best effort; the process may be gone). */
/* An absolute path for a path of a file record: relative ones against the directory fd or the
 * working directory of the process, read from /proc while it lives; the working directory
 * the kernel recorded at its exec (proc) serves when it has exited by the time the record is
 * read, as a short-lived "rm x" has (a chdir after the exec is then not seen). Unresolvable
 * paths stay relative (and are not watched). */
static void vig_resolve(struct vig_agent *a, const struct vig_proc *proc, uint32_t pid, int32_t dirfd,
			const char *in, char *out, size_t cap)
{
	char link[192], base[4096];
	ssize_t n;

	if (in[0] == '/' || in[0] == 0) {
		snprintf(out, cap, "%s", in);
		return;
	}
	if (dirfd == -100)
		snprintf(link, sizeof(link), "%s/%u/cwd", vig_proctable_proc_root(a->procs), pid);
	else
		snprintf(link, sizeof(link), "%s/%u/fd/%d", vig_proctable_proc_root(a->procs), pid, dirfd);
	n = readlink(link, base, sizeof(base) - 1);
	if (n <= 0 && dirfd == -100 && proc && proc->cwd && proc->cwd[0] == '/')
		n = snprintf(base, sizeof(base), "%s", proc->cwd);
	if (n <= 0 || (size_t)n >= sizeof(base)) {
		snprintf(out, cap, "%s", in);
		return;
	}
	base[n] = 0;
	snprintf(out, cap, "%s/%s", strcmp(base, "/") == 0 ? "" : base, in[0] == '.' && in[1] == '/' ? in + 2 : in);
}

/* True when path is one of the n directories of list or below one. */
static bool vig_under(const char *const *list, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(list[i]);

		while (l > 1 && list[i][l - 1] == '/')
			l--;
		if (strncmp(path, list[i], l) == 0 && (path[l] == '/' || path[l] == 0))
			return true;
	}
	return false;
}

/* True when path is watched (--watch) and not ignored (--ignore-path). */
static bool vig_watched(const struct vig_agent *a, const char *path)
{
	return vig_under(a->cfg.watch, a->cfg.n_watch, path) &&
	       !vig_under(a->cfg.ignore_path, a->cfg.n_ignore_path, path);
}

static enum vig_err vig_on_file(struct vig_agent *a, const struct vig_abi_file *r)
{
	char p1[VIG_ABI_PATH_LEN], p2[VIG_ABI_PATH_LEN], path[4096 + 256], target[4096 + 256] = "";
	const struct vig_proc *proc;

	snprintf(p1, sizeof(p1), "%.*s", (int)strnlen(r->path, sizeof(r->path)), r->path);
	snprintf(p2, sizeof(p2), "%.*s", (int)strnlen(r->path2, sizeof(r->path2)), r->path2);
	proc = vig_proctable_get(a->procs, (int32_t)r->hdr.pid); /* its exec's cwd, if /proc has none */
	vig_resolve(a, proc, r->hdr.pid, r->dirfd, p1, path, sizeof(path));
	if (r->op == VIG_ABI_FILE_RENAME)
		vig_resolve(a, proc, r->hdr.pid, r->dirfd2, p2, target, sizeof(target));
	if (!vig_watched(a, path) && !(target[0] && vig_watched(a, target)))
		return VIG_OK; /* a relative path that resolved outside the watched trees */
	if (!proc)
		proc = vig_lookup(a, (int32_t)r->hdr.pid);
	if (vig_ignored(a, r->comm, proc ? proc->uid : UINT32_MAX))
		return VIG_OK;
	vig_emit(a, vig_agent_map_file(&a->ev, &a->host, r, vig_agent_boot_to_wall(&a->host, (int64_t)r->hdr.ktime_ns),
				       path, target, proc, "ebpf"), "file");
	return VIG_OK;
}

static size_t vig_record_min(uint32_t type)
{
	switch (type) {
	case VIG_ABI_EXEC: return VIG_ABI_EXEC_SIZE(0); /* plus args_len bytes, checked below */
	case VIG_ABI_FORK: return sizeof(struct vig_abi_fork);
	case VIG_ABI_EXIT: return sizeof(struct vig_abi_exit);
	case VIG_ABI_NET: return sizeof(struct vig_abi_net);
	case VIG_ABI_FILE: return sizeof(struct vig_abi_file);
	case VIG_ABI_MISC: return sizeof(struct vig_abi_misc);
	case VIG_ABI_RATE: return sizeof(struct vig_abi_rate);
	default: return 0;
	}
}

enum vig_err vig_agent_on_record(struct vig_agent *a, const void *data, size_t size)
{
	const struct vig_abi_hdr *h = data;
	size_t need;
	enum vig_err err = VIG_OK;

	if (size < sizeof(*h)) {
		a->health.bad_records++;
		return VIG_EPARSE;
	}
	need = vig_record_min(h->type);
	if (need && h->type == VIG_ABI_EXEC && size >= need) {
		uint32_t args_len = ((const struct vig_abi_exec *)data)->args_len;

		need = args_len < VIG_ABI_ARGS_LEN ? VIG_ABI_EXEC_SIZE(args_len) : 0;
	}
	if (!need || size < need || h->size != need) {
		a->health.bad_records++;
		return VIG_EPARSE;
	}
	switch (h->type) {
	case VIG_ABI_EXEC: err = vig_on_exec(a, data); break;
	case VIG_ABI_FORK: err = vig_on_fork(a, data); break;
	case VIG_ABI_EXIT: err = vig_on_exit(a, data); break;
	case VIG_ABI_FILE: err = vig_on_file(a, data); break;
	case VIG_ABI_NET: {
		const struct vig_abi_net *r = data;

		if (vig_ignored(a, r->comm, r->uid))
			break;
		vig_emit(a, vig_agent_map_net(&a->ev, &a->host, r, vig_agent_boot_to_wall(&a->host, (int64_t)h->ktime_ns),
					      vig_lookup(a, (int32_t)h->pid), "ebpf"), "network");
		break;
	}
	case VIG_ABI_RATE: /* file records of one process refused by the rate limit */
		vig_emit(a, vig_agent_map_rate(&a->ev, &a->host, data, vig_agent_boot_to_wall(&a->host, (int64_t)h->ktime_ns),
					       vig_lookup(a, (int32_t)h->pid)), "rate");
		break;
	case VIG_ABI_MISC: {
		const struct vig_abi_misc *r = data;

		if (vig_ignored(a, r->comm, r->old_uid))
			break;
		vig_emit(a, vig_agent_map_misc(&a->ev, &a->host, r, vig_agent_boot_to_wall(&a->host, (int64_t)h->ktime_ns),
					       vig_lookup(a, (int32_t)h->pid)), "misc");
		break;
	}
	}
	if (err == VIG_EPARSE)
		a->health.bad_records++;
	return err;
}

/* ---- fallback observations ---- */

void vig_agent_on_fallback_exec(struct vig_agent *a, int32_t pid)
{
	struct vig_proc *p = vig_proctable_load(a->procs, pid);

	if (!p)
		return; /* gone before we could read it */
	p->flags &= ~VIG_PROC_F_SEEDED;
	vig_hash_image(a, p, 0);
	if (!vig_ignored(a, p->comm, p->uid))
		vig_emit_process(a, VIG_AGENT_EXEC, p, vig_time_now(), 0, -1, "fallback");
}

void vig_agent_on_fallback_fork(struct vig_agent *a, int32_t ppid, int32_t pid)
{
	struct vig_proc *parent = vig_lookup(a, ppid);
	struct vig_proc *p = vig_proctable_load(a->procs, pid);

	if (!p)
		return;
	if (parent && !p->sha256[0])
		memcpy(p->sha256, parent->sha256, sizeof(p->sha256));
	if (!vig_ignored(a, p->comm, p->uid))
		vig_emit_process(a, VIG_AGENT_FORK, p, vig_time_now(), 0, -1, "fallback");
}

void vig_agent_on_fallback_exit(struct vig_agent *a, int32_t pid, int32_t kernel_code)
{
	struct vig_proc *p = vig_proctable_get(a->procs, pid);
	struct timespec ts;
	int64_t now_boot;

	if (!p)
		return;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	now_boot = (int64_t)ts.tv_sec * VIG_NS_PER_SEC + ts.tv_nsec;
	if (!vig_ignored(a, p->comm, p->uid))
		vig_emit_process(a, VIG_AGENT_EXIT, p, vig_time_now(), vig_agent_exit_code(kernel_code),
				 now_boot - p->start_ns, "fallback");
	vig_proctable_remove(a->procs, pid);
}

void vig_agent_on_fallback_file(struct vig_agent *a, uint32_t op, const char *path, const char *target,
				bool created)
{
	struct vig_abi_file r;

	memset(&r, 0, sizeof(r));
	r.hdr.type = VIG_ABI_FILE;
	r.hdr.size = sizeof(r);
	r.op = op;
	if (created)
		r.hdr.flags |= VIG_ABI_F_CREATED;
	vig_emit(a, vig_agent_map_file(&a->ev, &a->host, &r, vig_time_now(), path, target, NULL, "fallback"), "file");
}

void vig_agent_on_fallback_net(struct vig_agent *a, const struct vig_abi_net *rec)
{
	vig_emit(a, vig_agent_map_net(&a->ev, &a->host, rec, vig_time_now(), NULL, "fallback"), "network");
}

/* ---- run loop ---- */

void vig_agent_emit_health(struct vig_agent *a)
{
	a->health.procs = vig_proctable_count(a->procs);
	vig_emit(a, vig_agent_map_health(&a->ev, &a->host, &a->health, vig_time_now()), "health");
}

enum vig_err vig_agent_run(struct vig_agent *a, volatile int *stop, char *errbuf)
{
	struct vig_agent_ebpf *ebpf = NULL;
	struct vig_agent_fallback *fb = NULL;
	char why[VIG_ERRBUF_SIZE] = "";
	int64_t next_health;
	enum vig_err err = VIG_OK;

	vig_info("agent", "seeding process table", "procs=%zu", vig_proctable_seed(a->procs));
	if (!a->cfg.no_ebpf) {
		err = vig_agent_ebpf_start(a, &ebpf, why);
		if (err != VIG_OK)
			vig_warn("agent", "ebpf sensors unavailable, using fallback", "err=\"%s\"", why);
	} else {
		snprintf(why, sizeof(why), "ebpf disabled by --no-ebpf");
	}
	if (!ebpf) {
		a->health.mode = "fallback";
		snprintf(a->health.failure, sizeof(a->health.failure), "%s", why);
		err = vig_agent_fallback_start(a, &fb, errbuf);
		if (err != VIG_OK)
			return err;
	} else {
		a->health.mode = vig_agent_ebpf_mode(ebpf);
	}
	vig_info("agent", "sensors running", "mode=%s", a->health.mode);
	vig_agent_emit_health(a);
	malloc_trim(0); /* return the heap that loading the probes (BTF parsing) and the seed used */
	next_health = vig_time_mono() + (int64_t)a->cfg.health_interval_s * VIG_NS_PER_SEC;
	while (!*stop) {
		err = ebpf ? vig_agent_ebpf_poll(ebpf, 200) : vig_agent_fallback_poll(fb, 200);
		vig_agent_drained(a);
		if (err != VIG_OK && err != VIG_ETIMEOUT) {
			vig_errf(errbuf, err, "sensor poll failed");
			break;
		}
		err = VIG_OK;
		if (vig_time_mono() >= next_health) {
			if (ebpf)
				vig_agent_ebpf_drops(ebpf, a->health.drops);
			vig_proctable_sweep(a->procs);
			vig_agent_emit_health(a);
			next_health = vig_time_mono() + (int64_t)a->cfg.health_interval_s * VIG_NS_PER_SEC;
		}
	}
	if (ebpf)
		vig_agent_ebpf_drops(ebpf, a->health.drops);
	vig_agent_emit_health(a);
	vig_agent_ebpf_stop(ebpf);
	vig_agent_fallback_stop(fb);
	return err;
}
