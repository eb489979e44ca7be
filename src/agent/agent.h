/*
 * agent.h - the contract of vigil-agent's sensing half (library vigagent).
 *
 * Pieces, each in its own file:
 *   proctable.c  process table (pid -> identity, image, args, start), ancestry, argv splitting,
 *                exec flags, executable SHA-256 cache keyed by (dev, inode, mtime, size)
 *   map.c        records -> struct vig_event with ECS fields
 *   core.c       the agent: turns eBPF records and fallback observations into events
 *   ebpf.c       loads the BPF skeletons (probes/), attaches what this kernel allows, polls
 *                the ring buffers, reads the drop counters
 *   fallback.c   netlink proc connector, inotify, /proc/net/tcp{,6} polling
 *   output.c     --stdout writer and the NDJSON poster (--server, libcurl, bounded queue)
 *
 * Times: records carry CLOCK_BOOTTIME ns; events carry wall-clock ns (vtime.h). A process's
 * start is kept rounded down to clock ticks (USER_HZ), the resolution of /proc/PID/stat, so that
 * eBPF, the proc connector and the /proc seed agree on process.entity_id =
 * vig_entity_id(host.id, pid, start) for the same process.
 */
#ifndef VIG_AGENT_H
#define VIG_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/vig.h"
#include "event/event.h"
#include "vigil_abi.h"

#define VIG_AGENT_MAX_WATCH VIG_ABI_MAX_PREFIXES /* --watch paths */
#define VIG_AGENT_MAX_IGNORE VIG_ABI_MAX_IGNORE  /* --ignore-comm names, --ignore-uid uids */
#define VIG_AGENT_MAX_ANCESTRY 64                /* entity ids in process.ancestry */
#define VIG_AGENT_MAX_PROCS 65536                /* entries of the process table */
#define VIG_AGENT_MAX_ARGS 1024                  /* argv items kept */
#define VIG_AGENT_MAX_GONE 4096                  /* exited processes kept until the next drain */
#define VIG_AGENT_HASH_MAX_BYTES (512ull << 20)  /* executables larger are not hashed */
#define VIG_AGENT_FILE_RATE 2000                 /* default per-process file records per second */
#define VIG_AGENT_FILE_BURST 10000               /* default per-process burst of file records */
#define VIG_AGENT_UDP_WINDOW_S 60                /* default UDP de-duplication window */
#define VIG_AGENT_BATCH_MS 50                    /* default longest wait of a batched record */
#define VIG_AGENT_PROCESS_RING (2u << 20)        /* process rings: ~1,300 execs of short argv */
#define VIG_AGENT_RING_CPUS 8                    /* default CPUs per ring buffer group */
#define VIG_AGENT_MIN_RING (256u << 10)          /* smallest ring of a group */

/* ---- process table (proctable.c) ---- */

/* Exec flags (struct vig_proc.flags). */
#define VIG_PROC_F_MEMFD 0x1u        /* image is a memfd ("/memfd:" or dentry "memfd:") */
#define VIG_PROC_F_DELETED 0x2u      /* image file had no links left when executed */
#define VIG_PROC_F_WRITABLE_DIR 0x4u /* image under /tmp, /dev/shm or /var/tmp */
#define VIG_PROC_F_ARGS_TRUNC 0x8u   /* argv was cut to VIG_ABI_ARGS_LEN-1 bytes */
#define VIG_PROC_F_SEEDED 0x10u      /* entry came from a /proc read, not an observed exec */

struct vig_proc {
	int32_t pid;               /* thread group id */
	int32_t ppid;              /* parent's pid at the last update */
	uint32_t uid, euid, gid, egid; /* credentials */
	uint32_t auid;             /* login uid, UINT32_MAX when unset */
	uint32_t sessionid;        /* audit session, UINT32_MAX when unset */
	uint32_t tty_nr;           /* controlling tty (stat encoding), 0 if none */
	uint32_t flags;            /* VIG_PROC_F_* */
	int64_t start_ns;          /* CLOCK_BOOTTIME start, rounded down to clock ticks */
	uint64_t cgroup_id;        /* cgroup v2 id, 0 when unknown */
	char container_id[65];     /* container id from its cgroup's name, "" when none */
	char entity_id[33];        /* vig_entity_id(host, pid, start_ns) */
	char comm[VIG_ABI_COMM_LEN]; /* kernel comm */
	char sha256[65];           /* hex SHA-256 of the image, "" when unknown */
	char *exe;                 /* executable path (malloc), or NULL */
	char *args;                /* NUL-separated argv bytes (malloc), or NULL */
	uint32_t args_len;         /* bytes of args */
	char *cwd;                 /* working directory (malloc), or NULL */
	struct vig_proc *next;     /* hash chain */
};

struct vig_proctable;

/* New table for host_id (copied), holding at most max_procs entries (0: VIG_AGENT_MAX_PROCS).
 * proc_root is normally "/proc" (copied). NULL when out of memory. */
struct vig_proctable *vig_proctable_new(const char *host_id, const char *proc_root, size_t max_procs);
void vig_proctable_free(struct vig_proctable *t);
/* Entry of pid, or NULL. */
struct vig_proc *vig_proctable_get(struct vig_proctable *t, int32_t pid);
/* Entry of pid started at start_ns: the existing one when its start matches, else a fresh one
 * (an older entry with the same pid is dropped: the pid was reused). Sets pid, start_ns and
 * entity_id. NULL with VIG_ETOOBIG in *err when the table is full, VIG_ENOMEM when out of memory. */
struct vig_proc *vig_proctable_put(struct vig_proctable *t, int32_t pid, int64_t start_ns,
				   enum vig_err *err);
/* Forgets pid. */
void vig_proctable_remove(struct vig_proctable *t, int32_t pid);
/* Number of entries; entries refused because the table was full. */
size_t vig_proctable_count(const struct vig_proctable *t);
uint64_t vig_proctable_refused(const struct vig_proctable *t);
/* Reads /proc/<pid> (stat, status, cmdline, exe, cwd, loginuid, sessionid) into the table
 * and returns the entry, or NULL when the process is gone or unreadable. */
struct vig_proc *vig_proctable_load(struct vig_proctable *t, int32_t pid);
/* Loads every process in /proc; returns how many were loaded. */
size_t vig_proctable_seed(struct vig_proctable *t);
/* Forgets entries whose process no longer exists in /proc (an exit the sensors missed, e.g. a
 * dropped record); returns how many were removed. */
size_t vig_proctable_sweep(struct vig_proctable *t);
/* Entity ids of the ancestors of p, parent first, at most max (no cycles, stops at a pid the
 * table does not know or at pid 0). Returns the number written. */
size_t vig_proctable_ancestry(struct vig_proctable *t, const struct vig_proc *p,
			      const char *out[], size_t max);
/* Replaces p->exe / p->args / p->cwd with copies (n bytes); VIG_ENOMEM on failure. */
enum vig_err vig_proc_set_exe(struct vig_proc *p, const char *s, size_t n);
enum vig_err vig_proc_set_args(struct vig_proc *p, const char *s, size_t n);
enum vig_err vig_proc_set_cwd(struct vig_proc *p, const char *s, size_t n);
/* The container id in a cgroup's leaf name into id: 64 hex digits standing alone or between
 * a '-' or ':' and a '.' ("<id>", "docker-<id>.scope", "cri-containerd-<id>.scope",
 * "crio-<id>.scope", "libpod-<id>.scope"); false (id = "") when there is none. */
bool vig_container_id(const char *leaf, size_t len, char id[65]);
/* The leaf name of the cgroup in /proc/PID/cgroup text: the cgroup v2 line's when it is not
 * the root, else the pids (then cpuset) controller's; out = "" at a root. */
void vig_proc_cgroup_leaf(const char *text, char *out, size_t cap);
/* Copies image, args, cwd, hash, comm and credentials of src into dst (a fork). */
enum vig_err vig_proc_copy_image(struct vig_proc *dst, const struct vig_proc *src);
/* Host id used for entity ids. */
const char *vig_proctable_host_id(const struct vig_proctable *t);
const char *vig_proctable_proc_root(const struct vig_proctable *t);

/* Rounds CLOCK_BOOTTIME ns down to clock ticks (USER_HZ), the /proc/PID/stat resolution. */
int64_t vig_agent_ticks_round(int64_t boot_ns);

/* Splits NUL-separated argv bytes [buf, buf+len) into at most max items (a final item without
 * its NUL is kept). Returns the number of items; *more is set when items were left out. */
size_t vig_agent_args_split(const char *buf, size_t len, struct vig_str *out, size_t max, bool *more);
/* Joins argv bytes with single spaces into out (NUL-terminated, at most cap bytes); returns the
 * length written. Used for process.command_line. */
size_t vig_agent_args_join(const char *buf, size_t len, char *out, size_t cap);

/* Working directory from the exec record's cwd components (innermost first, NUL-terminated,
 * len bytes) into out (cap bytes): "/" for none, else "/outer/.../inner". Returns the length,
 * or 0 when the path does not fit out. */
size_t vig_agent_cwd_from_components(const char *buf, size_t len, char *out, size_t cap);

/* Exec flags of an image path as given to execve, its dentry name and link count. */
uint32_t vig_agent_exec_flags(const char *filename, const char *dname, uint32_t nlink);

/* SHA-256 (hex, 65 bytes) of the file at path, through a cache keyed by (dev, inode, mtime,
 * size) of the opened file. When want_ino is not 0 the opened file must have that inode (guards
 * /proc/PID/exe against a newer exec). VIG_ETOOBIG over VIG_AGENT_HASH_MAX_BYTES, VIG_EIO when
 * unreadable, VIG_ECONFLICT on an inode mismatch. */
enum vig_err vig_proctable_hash_file(struct vig_proctable *t, const char *path, uint64_t want_ino,
				     char out[65]);
/* The cached SHA-256 of the file (kdev, ino, mtime_ns, size) into out without touching the file
 * (kdev in the kernel's s_dev encoding, major << 20 | minor, as exec records carry it): true on
 * a hit (counted), false when it is not cached (nothing counted: the caller hashes the file). */
bool vig_proctable_hash_cached(struct vig_proctable *t, uint64_t kdev, uint64_t ino, int64_t mtime_ns,
			       uint64_t size, char out[65]);
/* Hash cache hits and misses, for health events and tests. */
void vig_proctable_hash_stats(const struct vig_proctable *t, uint64_t *hits, uint64_t *misses);

/* ---- host identity and event mapping (map.c) ---- */

struct vig_agent_host {
	char id[64];           /* /etc/machine-id (or a hash of the hostname when absent) */
	char name[256];        /* gethostname() */
	int64_t boot_wall_ns;  /* wall-clock time of CLOCK_BOOTTIME 0 */
};

/* Fills host from machine_id_path (NULL: /etc/machine-id) and the clocks. */
enum vig_err vig_agent_host_init(struct vig_agent_host *host, const char *machine_id_path, char *errbuf);
/* Wall-clock ns of a CLOCK_BOOTTIME ns. */
int64_t vig_agent_boot_to_wall(const struct vig_agent_host *host, int64_t boot_ns);

/* What the process event describes. */
enum vig_agent_proc_action { VIG_AGENT_EXEC, VIG_AGENT_FORK, VIG_AGENT_EXIT };

struct vig_agent_proc_event {
	enum vig_agent_proc_action action;
	int64_t ts_ns;          /* wall clock of the event */
	const struct vig_proc *proc;
	const struct vig_proc *parent;  /* NULL when unknown */
	const char **ancestry;  /* entity ids, parent first */
	size_t n_ancestry;
	int32_t exit_code;      /* EXIT: shell-style code (128+signal when killed) */
	int64_t duration_ns;    /* EXIT: run time, -1 when unknown */
	const char *source;     /* "ebpf" or "fallback" */
};

/* Maps a process record to ev (cleared first). */
enum vig_err vig_agent_map_process(struct vig_event *ev, const struct vig_agent_host *host,
				   const struct vig_agent_proc_event *pe);
/* Network: rec describes the connection; proc is the attributed process (may be NULL). */
enum vig_err vig_agent_map_net(struct vig_event *ev, const struct vig_agent_host *host,
			       const struct vig_abi_net *rec, int64_t ts_ns,
			       const struct vig_proc *proc, const char *source);
/* File: path/target are resolved absolute paths (target only for a rename). */
enum vig_err vig_agent_map_file(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_file *rec, int64_t ts_ns, const char *path,
				const char *target, const struct vig_proc *proc, const char *source);
/* Clears ev and sets what every agent event carries: @timestamp, event.kind=event, category,
 * type, action, module, dataset (vigil.agent.<category>), provider (source), host.id/name. */
enum vig_err vig_agent_map_head(struct vig_event *ev, const struct vig_agent_host *host, int64_t ts_ns,
				const char *category, const char *type, const char *action, const char *source);
/* File rate-limit summary: rec counts the file records of proc's process that were refused. */
enum vig_err vig_agent_map_rate(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_rate *rec, int64_t ts_ns, const struct vig_proc *proc);
/* Misc (privilege change, module, ptrace, memfd, bpf). */
enum vig_err vig_agent_map_misc(struct vig_event *ev, const struct vig_agent_host *host,
				const struct vig_abi_misc *rec, int64_t ts_ns, const struct vig_proc *proc);
/* Shell-style exit code of a kernel exit_code (status << 8 | signal). */
int32_t vig_agent_exit_code(int32_t kernel_code);
/* User name of uid ("" when unknown) into out (cap bytes); cached. */
void vig_agent_user_name(uint32_t uid, char *out, size_t cap);

/* ---- health ---- */

#define VIG_AGENT_MAX_PROGS 24
#define VIG_AGENT_MAX_LINKS 128 /* attachments: one per program, one per syscall event followed */

struct vig_agent_prog_status {
	char name[48];        /* program name ("vig_exec") */
	char object[16];      /* BPF object ("process") */
	bool loaded;          /* passed the verifier */
	bool attached;        /* attached to its hook */
	char error[128];      /* why not, "" when fine */
};

struct vig_agent_health {
	const char *mode;                    /* sensor mode: "ebpf-lsm", "ebpf-fentry",
					      * "ebpf-tracepoint" or "fallback" (vig_agent_sensor_mode) */
	char failure[VIG_ERRBUF_SIZE];       /* why eBPF is not used (fallback), or "" */
	struct vig_agent_prog_status progs[VIG_AGENT_MAX_PROGS];
	size_t n_progs;
	uint64_t drops[VIG_ABI_DROP__COUNT]; /* ring-buffer reserve failures per category */
	uint64_t events;                     /* events emitted */
	uint64_t bad_records;                /* records refused as malformed */
	uint64_t output_drops;               /* events lost by the output queue */
	uint64_t procs;                      /* entries in the process table */
};

/* Health event (event.kind=state, event.dataset=vigil.agent.health). */
enum vig_err vig_agent_map_health(struct vig_event *ev, const struct vig_agent_host *host,
				  const struct vig_agent_health *h, int64_t ts_ns);

/* ---- the agent (core.c) ---- */

/* Receives each event; the event lives until the callback returns. */
typedef void vig_agent_emit_fn(void *ctx, const struct vig_event *ev);

struct vig_agent_config {
	const char *watch[VIG_AGENT_MAX_WATCH];        /* file sensor path prefixes */
	size_t n_watch;
	const char *ignore_comm[VIG_AGENT_MAX_IGNORE]; /* comm names whose events are dropped */
	size_t n_ignore;
	uint32_t ignore_uid[VIG_AGENT_MAX_IGNORE];     /* real uids whose events are dropped */
	size_t n_ignore_uid;
	const char *ignore_path[VIG_AGENT_MAX_WATCH];  /* file paths not reported under the watch */
	size_t n_ignore_path;
	bool no_ebpf;                                  /* use the fallback sensors only */
	const char *machine_id_path;                   /* NULL: /etc/machine-id */
	const char *proc_root;                         /* NULL: /proc */
	int health_interval_s;                         /* seconds between health events; 0: 60 */
	int file_rate;       /* file records per second per process; 0: VIG_AGENT_FILE_RATE, <0: no limit */
	int file_burst;      /* records a process may send back to back; 0: VIG_AGENT_FILE_BURST */
	int udp_window_s;    /* one UDP event per process and peer per window; 0: VIG_AGENT_UDP_WINDOW_S */
	int batch_ms;        /* longest wait of a record for the reader; 0: VIG_AGENT_BATCH_MS, <0: none */
	int ring_cpus;       /* CPUs per ring buffer group; 0: VIG_AGENT_RING_CPUS */
};

struct vig_agent;

/* New agent; emit receives every event. NULL with errbuf set on failure. */
struct vig_agent *vig_agent_new(const struct vig_agent_config *cfg, vig_agent_emit_fn *emit,
				void *emit_ctx, char *errbuf);
void vig_agent_free(struct vig_agent *a);
/* Handles one eBPF record of size bytes (malformed ones are counted and refused). */
enum vig_err vig_agent_on_record(struct vig_agent *a, const void *data, size_t size);
/* Fallback observations. */
void vig_agent_on_fallback_exec(struct vig_agent *a, int32_t pid);
void vig_agent_on_fallback_fork(struct vig_agent *a, int32_t ppid, int32_t pid);
void vig_agent_on_fallback_exit(struct vig_agent *a, int32_t pid, int32_t kernel_code);
void vig_agent_on_fallback_file(struct vig_agent *a, uint32_t op, const char *path, const char *target,
				bool created);
void vig_agent_on_fallback_net(struct vig_agent *a, const struct vig_abi_net *rec);
/* Called after each drain of the sensor rings: forgets the processes whose exit was read before
 * the previous drain. An exit record does not remove its table entry at once because the same
 * process's last network, file and misc records sit in other rings that may be read later. */
void vig_agent_drained(struct vig_agent *a);
/* Runs sensors until *stop becomes true (signal handler). Starts in eBPF mode unless
 * cfg->no_ebpf or loading fails, then the fallback. */
enum vig_err vig_agent_run(struct vig_agent *a, volatile int *stop, char *errbuf);
/* Emits a health event now. */
void vig_agent_emit_health(struct vig_agent *a);
/* Counters and state for the health event (mode and programs set by the sensors). */
struct vig_agent_health *vig_agent_health(struct vig_agent *a);
struct vig_proctable *vig_agent_procs(struct vig_agent *a);
const struct vig_agent_host *vig_agent_host(const struct vig_agent *a);
const struct vig_agent_config *vig_agent_config(const struct vig_agent *a);

/* ---- sensors (ebpf.c, fallback.c) ---- */

struct vig_agent_ebpf;
/* Opens, configures, loads and attaches the probes; programs the kernel lacks are skipped and
 * recorded in health. Fails (VIG_EUNSUPPORTED/VIG_EIO) when the process sensor cannot run. */
enum vig_err vig_agent_ebpf_start(struct vig_agent *a, struct vig_agent_ebpf **out, char *errbuf);
/* Polls the ring buffers for up to timeout_ms; records go to vig_agent_on_record(). */
enum vig_err vig_agent_ebpf_poll(struct vig_agent_ebpf *e, int timeout_ms);
/* The sensor mode the eBPF probes run in (a static string). */
const char *vig_agent_ebpf_mode(const struct vig_agent_ebpf *e);
/* The sensor mode for what the upgrade probes found: BPF LSM programs run, fentry programs
 * run (both loaded and attached), or neither: "ebpf-lsm", "ebpf-fentry", "ebpf-tracepoint". */
const char *vig_agent_sensor_mode(bool fentry_ok, bool lsm_ok);
/* Sums the per-CPU drop counters into drops[]. */
void vig_agent_ebpf_drops(struct vig_agent_ebpf *e, uint64_t drops[VIG_ABI_DROP__COUNT]);
void vig_agent_ebpf_stop(struct vig_agent_ebpf *e);

struct vig_agent_fallback;
/* Starts the proc connector, inotify on the watched paths and /proc/net polling. */
enum vig_err vig_agent_fallback_start(struct vig_agent *a, struct vig_agent_fallback **out, char *errbuf);
enum vig_err vig_agent_fallback_poll(struct vig_agent_fallback *f, int timeout_ms);
void vig_agent_fallback_stop(struct vig_agent_fallback *f);

/* Parses one /proc/net/tcp or tcp6 line into rec (family, addresses, ports) and its state
 * (hex state code). false on a malformed line or the header. */
bool vig_agent_parse_proc_net_line(const char *line, bool v6, struct vig_abi_net *rec, unsigned *state,
				   uint64_t *inode);

/* ---- output (output.c) ---- */

/* Writes ev as one JSON line to stdout; ctx unused. */
void vig_agent_emit_stdout(void *ctx, const struct vig_event *ev);

struct vig_agent_poster;
/* Poster of NDJSON batches to url (POST, "Authorization: Bearer token") from a thread, with a
 * queue of at most max_queue_bytes (0: 8 MiB); when full, new events are dropped and counted.
 * cacert: PEM file of the certificates to trust for https (vigild's self-signed certificate),
 * or NULL for the system's store; the server is always verified. */
struct vig_agent_poster *vig_agent_poster_new(const char *url, const char *token, const char *cacert,
					      size_t max_queue_bytes, char *errbuf);
/* Emit callback for the poster (ctx is the poster). */
void vig_agent_emit_poster(void *ctx, const struct vig_event *ev);
/* Events dropped because the queue was full; batches sent. */
uint64_t vig_agent_poster_dropped(const struct vig_agent_poster *p);
uint64_t vig_agent_poster_sent(const struct vig_agent_poster *p);
/* Flushes what is queued (up to timeout_ms) and stops the thread. */
void vig_agent_poster_free(struct vig_agent_poster *p, int timeout_ms);

/* ---- durable files (spool.c) ---- */

/* Writes n bytes to dir_fd/name with mode through name.tmp, fsync, rename and an fsync of the
 * directory, so the file is either the old one or the whole new one after a crash. */
enum vig_err vig_agent_write_at(int dir_fd, const char *name, const void *data, size_t n, unsigned mode,
				char *errbuf);
/* The same for a path (its directory is opened for the call). */
enum vig_err vig_agent_write_file(const char *path, const void *data, size_t n, unsigned mode, char *errbuf);

#endif /* VIG_AGENT_H */
