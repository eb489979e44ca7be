/*
 * fim.h - file-integrity monitoring of vigil-agent (library vigagent): a baseline of the
 * configured files, verified by inotify and by periodic rescans, changes sent as events.
 *
 * Paths are files, directories (walked recursively, bounded by depth and file count) or glob(3)
 * patterns ("/etc/cron*", "/home/?*"); exclusions are fnmatch(3) patterns or path prefixes.
 * Regular files and symbolic links get an entry: SHA-256 (of the content; of the target text
 * for a link), size, mode, uid, gid, mtime, inode (and ctime, kept to skip re-hashing).
 *
 * Every entry holds two states:
 *   base  the accepted state: what a change is compared with and reported as previous values;
 *   seen  the last state observed and reported, so that one change is reported once.
 * The first scan of a root (a configured path not in the baseline file yet) accepts what it
 * finds silently. Later scans compare with seen: a new file is fim_created, a missing one
 * fim_deleted, other content fim_modified, another mode fim_permissions_changed, another
 * uid/gid fim_owner_changed (one event per kind); mtime or inode alone are not reported.
 * vig_fim_accept() makes seen the new base (a path, a directory's entries, or all).
 *
 * Durability: STATE/fim/baseline.ndjson, written through vig_agent_write_at() (tmp file, fsync,
 * rename) after each scan that changed something and after each accept. Line 1 is the header
 * {"vigil_fim_baseline":1,"roots":[...],"files":N}, then one entry per line, then
 * {"sha256":"<hex of all previous bytes>"}. A file that does not read back whole is corrupt: it
 * is counted (baseline_corrupt), logged, and the baseline is rebuilt by the next scan.
 *
 * Cost: hashing is held to hash_bytes_per_s on average (sleeps between files); a file whose
 * inode, size, mtime and ctime did not change keeps its hash, except in every
 * VIG_FIM_REHASH_EVERY-th periodic rescan, which re-hashes everything. Files over
 * max_file_bytes get size and metadata but no hash.
 *
 * Threads: vig_fim_start() runs scans and inotify on one thread; vig_fim_accept() and
 * vig_fim_counters() may be called from any thread (one mutex guards the table).
 */
#ifndef VIG_AGENT_FIM_H
#define VIG_AGENT_FIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "common/vig.h"

#define VIG_FIM_MAX_PATHS 64                      /* --fim-path options */
#define VIG_FIM_MAX_EXCLUDES 64                   /* --fim-exclude options */
#define VIG_FIM_DEFAULT_MAX_FILES 50000           /* entries, at most */
#define VIG_FIM_DEFAULT_MAX_DEPTH 16              /* directory levels below a root */
#define VIG_FIM_DEFAULT_INTERVAL_S 3600           /* seconds between periodic rescans */
#define VIG_FIM_DEFAULT_HASH_RATE (16ull << 20)   /* hashed bytes per second */
#define VIG_FIM_DEFAULT_MAX_FILE (256ull << 20)   /* larger files are not hashed */
#define VIG_FIM_REHASH_EVERY 24                   /* every Nth periodic rescan re-hashes all */
#define VIG_FIM_MAX_WATCHES 4096                  /* inotify directory watches */
#define VIG_FIM_MAX_DIRTY 4096                    /* paths waiting for a re-check */

/* Flag of struct vig_fim_config.flags. */
#define VIG_FIM_NO_INOTIFY 0x1u /* periodic rescans only */

struct vig_fim_config {
	const char *paths[VIG_FIM_MAX_PATHS];      /* absolute paths or glob patterns */
	size_t n_paths;                            /* 0: vig_fim_default_paths */
	const char *exclude[VIG_FIM_MAX_EXCLUDES]; /* fnmatch patterns or path prefixes */
	size_t n_exclude;
	size_t max_files;                          /* 0: VIG_FIM_DEFAULT_MAX_FILES */
	int max_depth;                             /* 0: VIG_FIM_DEFAULT_MAX_DEPTH */
	int interval_s;                            /* 0: VIG_FIM_DEFAULT_INTERVAL_S */
	uint64_t hash_bytes_per_s;                 /* 0: VIG_FIM_DEFAULT_HASH_RATE */
	uint64_t max_file_bytes;                   /* 0: VIG_FIM_DEFAULT_MAX_FILE */
	unsigned flags;                            /* VIG_FIM_* */
};

/* The default paths (NULL-terminated). */
extern const char *const vig_fim_default_paths[];

struct vig_fim_counters {
	uint64_t files;            /* entries in the baseline */
	uint64_t scans;            /* full scans done */
	uint64_t changes;          /* change events emitted */
	uint64_t hashed_bytes;     /* bytes hashed since start */
	uint64_t errors;           /* files that could not be read (stat, open, hash) */
	uint64_t skipped_large;    /* files over max_file_bytes (not hashed) */
	uint64_t truncated;        /* scans cut by max_files or max_depth */
	uint64_t baseline_corrupt; /* baseline files that did not read back (rebuilt) */
	uint64_t baseline_failed;  /* baseline writes that failed */
	uint64_t inotify_events;   /* inotify events handled */
	uint64_t overflows;        /* inotify queue overflows and watch-limit hits (full rescan) */
	uint64_t accepted;         /* entries accepted by vig_fim_accept() */
};

struct vig_fim;

/* New monitor: copies cfg, loads STATE/fim/baseline.ndjson (a corrupt one is counted and
 * ignored) and sends events to emit(emit_ctx, ev), which must be safe to call from the FIM
 * thread. host names the events. NULL with errbuf set on failure. */
struct vig_fim *vig_fim_new(const struct vig_fim_config *cfg, const char *state_dir,
			    const struct vig_agent_host *host, vig_agent_emit_fn *emit, void *emit_ctx,
			    char *errbuf);
/* Scans every root now (on the caller's thread): compares, emits, saves. rehash: ignore the
 * (inode, size, mtime, ctime) shortcut and hash every file. */
enum vig_err vig_fim_scan(struct vig_fim *f, bool rehash, char *errbuf);
/* Re-checks one path (a file event): compares its state with the entry and emits. */
enum vig_err vig_fim_check_path(struct vig_fim *f, const char *path, char *errbuf);
/* Starts the FIM thread: a first scan, inotify on the scanned directories, a rescan every
 * interval_s. */
enum vig_err vig_fim_start(struct vig_fim *f, char *errbuf);
/* Accepts the last seen state as the baseline: of path (a file, or every entry below a
 * directory) or of all entries when path is NULL; saves. *n (may be NULL) receives the number
 * of entries accepted. VIG_ENOTFOUND when path names no entry. */
enum vig_err vig_fim_accept(struct vig_fim *f, const char *path, size_t *n, char *errbuf);
void vig_fim_counters(struct vig_fim *f, struct vig_fim_counters *out);
/* Stops the thread (if started) and saves what is unsaved; accept and counters still work. */
void vig_fim_stop(struct vig_fim *f);
/* Stops and frees. */
void vig_fim_free(struct vig_fim *f);

#endif /* VIG_AGENT_FIM_H */
