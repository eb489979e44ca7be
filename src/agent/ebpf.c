/*
 * ebpf.c - the eBPF sensors' loader: for each probe object (process, net, file, misc) open the
 * skeleton, write the settings (rodata) and ring-buffer size, switch off programs whose hook the
 * kernel lacks (a tp_btf program needs the "btf_trace_<name>" type in the kernel's BTF), load,
 * attach program by program, and record every program's fate in the health state. The process
 * object is required; the others are optional and their failures are only reported.
 *
 * Lifecycle: open -> configure -> load -> attach -> poll -> stop. Stop is safe on a partly
 * started state and destroys skeletons (which detaches every link).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "common/log.h"

#include "file.skel.h"
#include "misc.skel.h"
#include "net.skel.h"
#include "process.skel.h"

struct vig_agent_ebpf {
	struct vig_agent *agent;
	struct vig_process_bpf *process;
	struct vig_net_bpf *net;
	struct vig_file_bpf *file;
	struct vig_misc_bpf *misc;
	struct ring_buffer *rb;
	struct btf *vmlinux;
	int drop_fds[4];  /* "drops" map of each loaded object, -1 when absent */
	struct bpf_link *links[VIG_AGENT_MAX_PROGS]; /* attached programs, destroyed at stop */
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

/* True when the kernel has the hook of a tp_btf/raw_tp program. */
static bool vig_hook_exists(struct vig_agent_ebpf *e, struct bpf_program *prog, char *why, size_t cap)
{
	const char *sec = bpf_program__section_name(prog);
	const char *tp = strchr(sec, '/');
	char type[128];

	if (!tp || !e->vmlinux)
		return true; /* nothing to check against: let the load decide */
	snprintf(type, sizeof(type), "btf_trace_%s", tp + 1);
	if (btf__find_by_name_kind(e->vmlinux, type, BTF_KIND_TYPEDEF) >= 0)
		return true;
	snprintf(why, cap, "kernel has no tracepoint %s", tp + 1);
	return false;
}

/* Load and attach one opened object; records per-program status. */
static enum vig_err vig_obj_load(struct vig_agent_ebpf *e, const char *name, struct bpf_object *obj,
				 struct bpf_map *events, size_t ring_bytes, struct bpf_map *drops,
				 bool sys_ok, char *errbuf)
{
	struct vig_agent_prog_status *st[VIG_AGENT_MAX_PROGS];
	struct bpf_program *prog;
	size_t n = 0, attached = 0;
	int err, i;

	bpf_map__set_max_entries(events, ring_bytes);
	bpf_object__for_each_program(prog, obj) {
		char why[128] = "";
		struct vig_agent_prog_status *s = vig_status(e->agent, name, bpf_program__name(prog));
		bool sys = strstr(bpf_program__section_name(prog), "/sys_e") != NULL;

		if (sys && !sys_ok)
			snprintf(why, sizeof(why), "syscall sensors are mapped for x86_64 only");
		if ((sys && !sys_ok) || !vig_hook_exists(e, prog, why, sizeof(why))) {
			bpf_program__set_autoload(prog, false);
			if (s)
				snprintf(s->error, sizeof(s->error), "%s", why);
		}
		if (n < VIG_ARRAY_LEN(st))
			st[n++] = s;
	}
	vig_libbpf_last[0] = 0;
	err = bpf_object__load(obj);
	if (err) {
		for (size_t k = 0; k < n; k++)
			if (st[k] && !st[k]->error[0])
				snprintf(st[k]->error, sizeof(st[k]->error), "load failed: %.30s %.80s", strerror(-err),
					 vig_libbpf_last);
		return vig_errf(errbuf, VIG_EIO, "%s probes failed to load: %s", name, strerror(-err));
	}
	i = 0;
	bpf_object__for_each_program(prog, obj) {
		struct vig_agent_prog_status *s = (size_t)i < n ? st[i] : NULL;
		struct bpf_link *link;

		i++;
		if (!bpf_program__autoload(prog))
			continue;
		if (s)
			s->loaded = true;
		link = bpf_program__attach(prog);
		if (!link) {
			if (s)
				snprintf(s->error, sizeof(s->error), "attach failed: %s", strerror(errno));
			continue;
		}
		if (s)
			s->attached = true;
		attached++;
		if (e->n_links < VIG_ARRAY_LEN(e->links))
			e->links[e->n_links++] = link;
		else
			bpf_link__disconnect(link); /* cannot happen: one object has fewer programs */
	}
	(void)drops;
	if (!attached)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "no %s probe attached", name);
	return VIG_OK;
}

static int vig_on_ring(void *ctx, void *data, size_t size)
{
	vig_agent_on_record(ctx, data, size);
	return 0;
}

static enum vig_err vig_ring_add(struct vig_agent_ebpf *e, struct bpf_map *events, char *errbuf)
{
	if (!e->rb) {
		e->rb = ring_buffer__new(bpf_map__fd(events), vig_on_ring, e->agent, NULL);
		if (!e->rb)
			return vig_errf(errbuf, VIG_EIO, "ring buffer: %s", strerror(errno));
		return VIG_OK;
	}
	if (ring_buffer__add(e->rb, bpf_map__fd(events), vig_on_ring, e->agent) != 0)
		return vig_errf(errbuf, VIG_EIO, "ring buffer: %s", strerror(errno));
	return VIG_OK;
}

static void vig_set_prefixes(struct vig_file_bpf *s, const struct vig_agent_config *cfg)
{
	uint32_t n = 0;

	for (size_t i = 0; i < cfg->n_watch && n < VIG_ABI_MAX_PREFIXES; i++) {
		size_t l = strlen(cfg->watch[i]);

		while (l > 1 && cfg->watch[i][l - 1] == '/')
			l--;
		if (l + 2 > VIG_ABI_PREFIX_LEN) {
			vig_warn("agent", "watch path too long for the kernel filter, skipped", "path=\"%s\"",
				 cfg->watch[i]);
			continue;
		}
		memcpy((char *)s->rodata->prefixes[n], cfg->watch[i], l);
		((char *)s->rodata->prefixes[n])[l] = '/';
		((char *)s->rodata->prefixes[n])[l + 1] = 0;
		n++;
	}
	s->rodata->n_prefixes = n;
}

/* Optional objects: failures are reported in health and logged, not fatal. */
static void vig_start_optional(struct vig_agent_ebpf *e, bool sys_ok)
{
	const struct vig_agent_config *cfg = vig_agent_config(e->agent);
	char err[VIG_ERRBUF_SIZE];

	e->net = vig_net_bpf__open();
	if (e->net) {
		e->net->rodata->agent_tgid = (uint32_t)getpid();
		if (vig_obj_load(e, "net", e->net->obj, e->net->maps.events, 1 << 20, e->net->maps.drops, sys_ok,
				 err) == VIG_OK && vig_ring_add(e, e->net->maps.events, err) == VIG_OK)
			e->drop_fds[1] = bpf_map__fd(e->net->maps.drops);
		else
			vig_warn("agent", "network sensor off", "err=\"%s\"", err);
	}
	if (cfg->n_watch) {
		e->file = vig_file_bpf__open();
		if (e->file) {
			e->file->rodata->agent_tgid = (uint32_t)getpid();
			vig_set_prefixes(e->file, cfg);
			if (vig_obj_load(e, "file", e->file->obj, e->file->maps.events, 1 << 20, e->file->maps.drops,
					 sys_ok, err) == VIG_OK && vig_ring_add(e, e->file->maps.events, err) == VIG_OK)
				e->drop_fds[2] = bpf_map__fd(e->file->maps.drops);
			else
				vig_warn("agent", "file sensor off", "err=\"%s\"", err);
		}
	}
	e->misc = vig_misc_bpf__open();
	if (e->misc) {
		e->misc->rodata->agent_tgid = (uint32_t)getpid();
		if (vig_obj_load(e, "misc", e->misc->obj, e->misc->maps.events, 1 << 20, e->misc->maps.drops, sys_ok,
				 err) == VIG_OK && vig_ring_add(e, e->misc->maps.events, err) == VIG_OK)
			e->drop_fds[3] = bpf_map__fd(e->misc->maps.drops);
		else
			vig_warn("agent", "misc sensor off", "err=\"%s\"", err);
	}
}

enum vig_err vig_agent_ebpf_start(struct vig_agent *a, struct vig_agent_ebpf **out, char *errbuf)
{
	struct vig_agent_ebpf *e = calloc(1, sizeof(*e));
	bool sys_ok;
	enum vig_err err;

	*out = NULL;
	if (!e)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (int i = 0; i < 4; i++)
		e->drop_fds[i] = -1;
	e->agent = a;
	libbpf_set_print(vig_libbpf_print);
#if defined(__x86_64__)
	sys_ok = true;
#else
	sys_ok = false;
#endif
	e->vmlinux = btf__load_vmlinux_btf();
	if (!e->vmlinux) {
		err = vig_errf(errbuf, VIG_EUNSUPPORTED, "kernel BTF unavailable: %s", strerror(errno));
		goto out_stop;
	}
	e->process = vig_process_bpf__open();
	if (!e->process) {
		err = vig_errf(errbuf, VIG_EIO, "cannot open process probes: %s", strerror(errno));
		goto out_stop;
	}
	e->process->rodata->agent_tgid = (uint32_t)getpid();
	err = vig_obj_load(e, "process", e->process->obj, e->process->maps.events, 4 << 20,
			   e->process->maps.drops, sys_ok, errbuf);
	if (err != VIG_OK)
		goto out_stop;
	err = vig_ring_add(e, e->process->maps.events, errbuf);
	if (err != VIG_OK)
		goto out_stop;
	e->drop_fds[0] = bpf_map__fd(e->process->maps.drops);
	vig_start_optional(e, sys_ok);
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

enum vig_err vig_agent_ebpf_poll(struct vig_agent_ebpf *e, int timeout_ms)
{
	int n = ring_buffer__poll(e->rb, timeout_ms);

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

		for (int o = 0; o < 4; o++) {
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
