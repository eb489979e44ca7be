/*
 * fim.c - file-integrity monitoring: baseline, scans, inotify re-checks, the fim_accept action
 * (the contract and the baseline file format are in fim.h).
 *
 * Table: a chained hash of entries keyed by path. Each entry holds base (accepted) and seen
 * (last reported) states; gen is the number of the last full scan that visited it, so that the
 * end of a scan finds entries whose file is gone. A scan cut by max_files or max_depth reports
 * no deletions (an unvisited entry may still exist).
 *
 * Locking: f->mu guards the table, roots and counters. A file is stat'ed and hashed without
 * the lock (hashing is slow and rate-limited), then compared and updated under it; events are
 * emitted after the lock is released.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "act_int.h"
#include "common/log.h"
#include "common/vtime.h"
#include "fim.h"
#include "transport.h"

/* Returns the error of expr when it is not VIG_OK. */
#define VIG_FIM_TRY(expr) do { enum vig_err e_ = (expr); if (e_ != VIG_OK) return e_; } while (0)

#define VIG_FIM_FILE "baseline.ndjson"
#define VIG_FIM_MAX_BASELINE (256u << 20) /* larger baseline files are refused as corrupt */
#define VIG_FIM_SETTLE_NS (300 * 1000000ll) /* quiet time before a written file is re-checked */
#define VIG_FIM_SAVE_GAP_NS (5 * VIG_NS_PER_SEC) /* the thread saves at most this often */
#define VIG_FIM_RESCAN_GAP_NS (2 * VIG_NS_PER_SEC) /* event-triggered rescans, at most this often */
#define VIG_FIM_INO_MASK (IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
			  IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

const char *const vig_fim_default_paths[] = {
	"/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d",
	"/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d", "/root/.ssh", "/etc/crontab", "/etc/cron*",
	"/etc/systemd/system", "/etc/ld.so.preload", "/etc/pam.d", "/usr/bin", "/usr/sbin", NULL,
};

struct vig_fim_state {
	bool present;      /* the file existed */
	char sha256[65];   /* hex; "" when not hashed (too large, unreadable) */
	uint64_t size, ino;
	uint32_t mode;     /* st_mode, type bits included */
	uint32_t uid, gid;
	int64_t mtime_ns, ctime_ns;
};

struct vig_fim_entry {
	struct vig_fim_entry *next; /* hash chain */
	struct vig_fim_state base, seen;
	uint64_t gen;               /* last full scan that visited the file */
	char path[];
};

/* Change kinds (bits), one event each. */
enum {
	VIG_FIM_CREATED = 1,
	VIG_FIM_DELETED = 2,
	VIG_FIM_MODIFIED = 4,
	VIG_FIM_PERMS = 8,
	VIG_FIM_OWNER = 16,
};

struct vig_fim_watch {
	int wd;
	char *dir;
};

struct vig_fim_dirty {
	char *path;
	int64_t due_mono;
};

struct vig_fim {
	struct vig_fim_config cfg;   /* strings point into owned copies below */
	char *own[VIG_FIM_MAX_PATHS + VIG_FIM_MAX_EXCLUDES];
	size_t n_own;
	struct vig_agent_host host;
	vig_agent_emit_fn *emit;
	void *emit_ctx;
	int dir_fd;                  /* STATE/fim */

	pthread_mutex_t mu;
	struct vig_fim_entry **buckets;
	size_t n_buckets, n_entries;
	char **roots;                /* roots the baseline covers */
	size_t n_roots;
	bool unsaved;
	uint64_t gen;
	struct vig_fim_counters c;

	/* scan state (one scanner at a time: the FIM thread, or a test's thread) */
	size_t scan_files;
	bool scan_truncated;
	int64_t rate_t0;
	uint64_t rate_bytes;

	/* the thread */
	pthread_t thread;
	bool started;
	atomic_int stop;
	int ino_fd;
	struct vig_fim_watch *watches;
	size_t n_watches;
	bool watch_full;
	struct vig_fim_dirty dirty[VIG_FIM_MAX_DIRTY];
	size_t n_dirty;
	bool rescan;
};

/* ---- table ---- */

static uint64_t vig_fim_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static struct vig_fim_entry *vig_fim_find(struct vig_fim *f, const char *path)
{
	struct vig_fim_entry *e;

	if (!f->n_buckets)
		return NULL;
	for (e = f->buckets[vig_fim_hash(path) & (f->n_buckets - 1)]; e; e = e->next)
		if (strcmp(e->path, path) == 0)
			return e;
	return NULL;
}

static enum vig_err vig_fim_grow(struct vig_fim *f)
{
	size_t n = f->n_buckets ? f->n_buckets * 2 : 256;
	struct vig_fim_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return VIG_ENOMEM;
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct vig_fim_entry *e = f->buckets[i], *next;

		for (; e; e = next) {
			size_t k = vig_fim_hash(e->path) & (n - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(f->buckets);
	f->buckets = b;
	f->n_buckets = n;
	return VIG_OK;
}

/* New entry for path (both states absent); NULL when out of memory or over max_files. */
static struct vig_fim_entry *vig_fim_add(struct vig_fim *f, const char *path)
{
	size_t len = strlen(path);
	struct vig_fim_entry *e;
	size_t k;

	if (f->n_entries >= f->cfg.max_files)
		return NULL;
	if (f->n_entries >= f->n_buckets && vig_fim_grow(f) != VIG_OK)
		return NULL;
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->path, path, len + 1);
	k = vig_fim_hash(path) & (f->n_buckets - 1);
	e->next = f->buckets[k];
	f->buckets[k] = e;
	f->n_entries++;
	return e;
}

static void vig_fim_del(struct vig_fim *f, struct vig_fim_entry *e)
{
	struct vig_fim_entry **pp = &f->buckets[vig_fim_hash(e->path) & (f->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	free(e);
	f->n_entries--;
}

static void vig_fim_clear(struct vig_fim *f)
{
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct vig_fim_entry *e = f->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
		f->buckets[i] = NULL;
	}
	f->n_entries = 0;
	for (size_t i = 0; i < f->n_roots; i++)
		free(f->roots[i]);
	free(f->roots);
	f->roots = NULL;
	f->n_roots = 0;
}

/* ---- paths ---- */

/* path equals prefix or lies below it. */
static bool vig_fim_below(const char *prefix, const char *path)
{
	size_t l = strlen(prefix);

	while (l > 1 && prefix[l - 1] == '/')
		l--;
	return strncmp(prefix, path, l) == 0 && (path[l] == 0 || path[l] == '/' || (l == 1 && prefix[0] == '/'));
}

/* path, or one of its ancestors, matches pattern (a path or a glob). */
static bool vig_fim_matches(const char *pattern, const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (!strpbrk(pattern, "*?["))
		return vig_fim_below(pattern, path);
	if (n >= sizeof(buf))
		return false;
	memcpy(buf, path, n + 1);
	for (;;) {
		char *slash;

		if (fnmatch(pattern, buf, FNM_PATHNAME | FNM_PERIOD) == 0)
			return true;
		slash = strrchr(buf, '/');
		if (!slash || slash == buf)
			return false;
		*slash = 0;
	}
}

/* An exclusion with a '/' is a path or glob (with the paths below it); one without is a
 * pattern for the file name ("*.log"). */
static bool vig_fim_excluded(const struct vig_fim *f, const char *path)
{
	const char *base = strrchr(path, '/');

	for (size_t i = 0; i < f->cfg.n_exclude; i++) {
		const char *x = f->cfg.exclude[i];

		if (strchr(x, '/') ? vig_fim_matches(x, path) : fnmatch(x, base ? base + 1 : path, 0) == 0)
			return true;
	}
	return false;
}

/* Index of the configured root path lies under, or -1. */
static int vig_fim_root_of(const struct vig_fim *f, const char *path)
{
	for (size_t i = 0; i < f->cfg.n_paths; i++)
		if (vig_fim_matches(f->cfg.paths[i], path))
			return (int)i;
	return -1;
}

/* The baseline already covers root (its first scan was done). Called with mu held. */
static bool vig_fim_root_known(const struct vig_fim *f, const char *root)
{
	for (size_t i = 0; i < f->n_roots; i++)
		if (strcmp(f->roots[i], root) == 0)
			return true;
	return false;
}

/* ---- observing a file ---- */

/* Adds n to a counter that other threads read under mu. */
static void vig_fim_count(struct vig_fim *f, uint64_t *counter, uint64_t n)
{
	pthread_mutex_lock(&f->mu);
	*counter += n;
	pthread_mutex_unlock(&f->mu);
}

/* Holds hashing to cfg.hash_bytes_per_s: sleeps (in slices, watching stop) until n more bytes
 * fit. A window idle for more than a second starts again, so no burst is saved up. */
static void vig_fim_throttle(struct vig_fim *f, uint64_t n)
{
	double rate = (double)f->cfg.hash_bytes_per_s;
	int64_t now = vig_time_mono(), due;

	if (now - f->rate_t0 > (int64_t)((double)f->rate_bytes * 1e9 / rate) + VIG_NS_PER_SEC) {
		f->rate_t0 = now;
		f->rate_bytes = 0;
	}
	f->rate_bytes += n;
	due = f->rate_t0 + (int64_t)((double)f->rate_bytes * 1e9 / rate);
	while (now < due && !atomic_load(&f->stop)) {
		int64_t d = VIG_MIN(due - now, 100 * 1000000ll);
		struct timespec ts = { .tv_sec = d / VIG_NS_PER_SEC, .tv_nsec = d % VIG_NS_PER_SEC };

		nanosleep(&ts, NULL);
		now = vig_time_mono();
	}
}

static int64_t vig_fim_ts(const struct timespec *t)
{
	return (int64_t)t->tv_sec * VIG_NS_PER_SEC + t->tv_nsec;
}

/* The current state of path (lstat'ed as st) into cur; prev is the entry's last seen state
 * (its hash is reused when the file's identity and times did not change, unless rehash). */
static void vig_fim_observe(struct vig_fim *f, const char *path, const struct stat *st,
			    const struct vig_fim_state *prev, bool rehash, struct vig_fim_state *cur)
{
	char errbuf[VIG_ERRBUF_SIZE], target[PATH_MAX];
	uint8_t h[32];
	struct stat fst;
	ssize_t n;
	int fd;

	memset(cur, 0, sizeof(*cur));
	cur->present = true;
	cur->size = (uint64_t)st->st_size;
	cur->ino = (uint64_t)st->st_ino;
	cur->mode = st->st_mode;
	cur->uid = st->st_uid;
	cur->gid = st->st_gid;
	cur->mtime_ns = vig_fim_ts(&st->st_mtim);
	cur->ctime_ns = vig_fim_ts(&st->st_ctim);
	if (!rehash && prev && prev->present && prev->sha256[0] && prev->ino == cur->ino &&
	    prev->size == cur->size && prev->mtime_ns == cur->mtime_ns && prev->ctime_ns == cur->ctime_ns &&
	    prev->mode == cur->mode) {
		memcpy(cur->sha256, prev->sha256, sizeof(cur->sha256));
		return;
	}
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, sizeof(target));
		if (n < 0 || (size_t)n >= sizeof(target)) {
			vig_fim_count(f, &f->c.errors, 1);
			return;
		}
		vig_sha256(target, (size_t)n, h);
		vig_hex(h, 32, cur->sha256);
		return;
	}
	if (cur->size > f->cfg.max_file_bytes) {
		vig_fim_count(f, &f->c.skipped_large, 1);
		return;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &fst) != 0 || fst.st_ino != st->st_ino || !S_ISREG(fst.st_mode)) {
		/* unreadable, or replaced between lstat and open: the next check sees it */
		vig_fim_count(f, &f->c.errors, 1);
		if (fd >= 0)
			close(fd);
		return;
	}
	vig_fim_throttle(f, cur->size);
	if (vig_act_sha256_fd(fd, f->cfg.max_file_bytes, cur->sha256, errbuf) == VIG_OK)
		vig_fim_count(f, &f->c.hashed_bytes, cur->size);
	else
		vig_fim_count(f, &f->c.errors, 1);
	close(fd);
}

/* Kinds of change from old to cur. */
static unsigned vig_fim_diff(const struct vig_fim_state *old, const struct vig_fim_state *cur)
{
	unsigned k = 0;

	if (!old->present && cur->present)
		return VIG_FIM_CREATED;
	if (old->present && !cur->present)
		return VIG_FIM_DELETED;
	if (!old->present)
		return 0;
	if ((old->mode & S_IFMT) != (cur->mode & S_IFMT) || old->size != cur->size ||
	    strcmp(old->sha256, cur->sha256) != 0)
		k |= VIG_FIM_MODIFIED;
	if ((old->mode & 07777) != (cur->mode & 07777))
		k |= VIG_FIM_PERMS;
	if (old->uid != cur->uid || old->gid != cur->gid)
		k |= VIG_FIM_OWNER;
	return k;
}

/* ---- events ---- */

static enum vig_err vig_fim_state_fields(struct vig_event *ev, const struct vig_fim_state *s, bool prev)
{
	char mode[8], t[VIG_TIME_STRLEN], key[64];
	const char *pre = prev ? "vigil.fim.previous." : "file.";

	snprintf(mode, sizeof(mode), "%04o", (unsigned)(s->mode & 07777));
	vig_time_format(s->mtime_ns, t);
	if (s->sha256[0]) {
		if (prev)
			VIG_FIM_TRY(vig_event_ext_str(ev, "vigil.fim.previous.sha256", s->sha256, 64));
		else
			VIG_FIM_TRY(vig_event_set_cstr(ev, VIG_F_FILE_HASH_SHA256, s->sha256));
	}
	if (prev) {
		VIG_FIM_TRY(vig_event_ext_str(ev, "vigil.fim.previous.mode", mode, strlen(mode)));
		VIG_FIM_TRY(vig_event_ext_int(ev, "vigil.fim.previous.size", (int64_t)s->size));
	} else {
		VIG_FIM_TRY(vig_event_set_cstr(ev, VIG_F_FILE_MODE, mode));
		VIG_FIM_TRY(vig_event_set_int(ev, VIG_F_FILE_SIZE, (int64_t)s->size));
		VIG_FIM_TRY(vig_event_ext_str(ev, "file.type", S_ISLNK(s->mode) ? "symlink" : "file",
					    S_ISLNK(s->mode) ? 7 : 4));
	}
	snprintf(key, sizeof(key), "%suid", pre);
	VIG_FIM_TRY(vig_event_ext_int(ev, key, s->uid));
	snprintf(key, sizeof(key), "%sgid", pre);
	VIG_FIM_TRY(vig_event_ext_int(ev, key, s->gid));
	snprintf(key, sizeof(key), "%sinode", pre);
	VIG_FIM_TRY(vig_event_ext_int(ev, key, (int64_t)s->ino));
	snprintf(key, sizeof(key), "%smtime", pre);
	return vig_event_ext_str(ev, key, t, strlen(t));
}

static enum vig_err vig_fim_map(struct vig_event *ev, const struct vig_agent_host *host, unsigned kind,
				const char *path, const struct vig_fim_state *base, const struct vig_fim_state *cur)
{
	const char *type = "change", *action = "fim_modified", *name = strrchr(path, '/');

	switch (kind) {
	case VIG_FIM_CREATED: type = "creation"; action = "fim_created"; break;
	case VIG_FIM_DELETED: type = "deletion"; action = "fim_deleted"; break;
	case VIG_FIM_PERMS: action = "fim_permissions_changed"; break;
	case VIG_FIM_OWNER: action = "fim_owner_changed"; break;
	default: break;
	}
	VIG_FIM_TRY(vig_agent_map_head(ev, host, vig_time_now(), "file", type, action, "fim"));
	VIG_FIM_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_DATASET, "vigil.agent.fim"));
	VIG_FIM_TRY(vig_event_set_cstr(ev, VIG_F_FILE_PATH, path));
	VIG_FIM_TRY(vig_event_set_cstr(ev, VIG_F_FILE_NAME, name ? name + 1 : path));
	if (cur->present)
		VIG_FIM_TRY(vig_fim_state_fields(ev, cur, false));
	if (base->present)
		VIG_FIM_TRY(vig_fim_state_fields(ev, base, true));
	return VIG_OK;
}

/* One event per kind of change in kinds. */
static void vig_fim_emit(struct vig_fim *f, unsigned kinds, const char *path,
			 const struct vig_fim_state *base, const struct vig_fim_state *cur)
{
	struct vig_arena arena;
	struct vig_event ev;

	if (!kinds)
		return;
	vig_arena_init(&arena, 4 << 10, 256 << 10);
	vig_event_init(&ev, &arena);
	for (unsigned k = 1; k <= VIG_FIM_OWNER; k <<= 1) {
		enum vig_err err;

		if (!(kinds & k))
			continue;
		err = vig_fim_map(&ev, &f->host, k, path, base, cur);
		if (err == VIG_OK)
			f->emit(f->emit_ctx, &ev);
		else
			vig_warn("fim", "event mapping failed", "path=\"%s\" err=\"%s\"", path, vig_strerror(err));
		vig_event_clear(&ev);
		vig_arena_reset(&arena);
	}
	vig_arena_release(&arena);
}

static bool vig_fim_same(const struct vig_fim_state *a, const struct vig_fim_state *b)
{
	return a->present == b->present && strcmp(a->sha256, b->sha256) == 0 && a->size == b->size &&
	       a->ino == b->ino && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* Compares cur with path's entry, records it and emits the changes. silent: a root's first
 * scan (accept what is there). */
static void vig_fim_record(struct vig_fim *f, const char *path, const struct vig_fim_state *cur, bool silent)
{
	struct vig_fim_state base, old;
	struct vig_fim_entry *e;
	unsigned kinds;

	pthread_mutex_lock(&f->mu);
	e = vig_fim_find(f, path);
	if (!e && cur->present) {
		e = vig_fim_add(f, path);
		if (!e) {
			f->scan_truncated = true;
			pthread_mutex_unlock(&f->mu);
			return;
		}
		if (silent)
			e->base = e->seen = *cur;
		f->unsaved = true;
	}
	if (!e) {
		pthread_mutex_unlock(&f->mu);
		return;
	}
	e->gen = f->gen;
	kinds = vig_fim_diff(&e->seen, cur);
	if (!vig_fim_same(&e->seen, cur))
		f->unsaved = true;
	old = e->seen;
	base = e->base;
	e->seen = *cur;
	if ((kinds & VIG_FIM_DELETED) && !base.present)
		vig_fim_del(f, e); /* created and deleted again: nothing left to accept */
	f->c.changes += (uint64_t)__builtin_popcount(kinds);
	pthread_mutex_unlock(&f->mu);
	vig_fim_emit(f, kinds, path, &base, (kinds & VIG_FIM_DELETED) ? &old : cur);
}

/* Observes one file (lstat'ed as st) and records it. */
static void vig_fim_visit(struct vig_fim *f, const char *path, const struct stat *st, bool silent,
			  bool rehash)
{
	struct vig_fim_state prev = { 0 }, cur;
	struct vig_fim_entry *e;

	pthread_mutex_lock(&f->mu);
	e = vig_fim_find(f, path);
	if (e)
		prev = e->seen;
	pthread_mutex_unlock(&f->mu);
	vig_fim_observe(f, path, st, &prev, rehash, &cur);
	vig_fim_record(f, path, &cur, silent);
}

/* ---- inotify ---- */

static void vig_fim_watch(struct vig_fim *f, const char *dir)
{
	int wd;

	if (f->ino_fd < 0)
		return;
	wd = inotify_add_watch(f->ino_fd, dir, VIG_FIM_INO_MASK);
	if (wd < 0) {
		if (errno == ENOSPC && !f->watch_full) {
			f->watch_full = true;
			vig_fim_count(f, &f->c.overflows, 1);
			vig_warn("fim", "inotify watch limit reached, periodic rescans cover the rest", "dir=\"%s\"",
				 dir);
		}
		return;
	}
	for (size_t i = 0; i < f->n_watches; i++)
		if (f->watches[i].wd == wd)
			return;
	if (f->n_watches == VIG_FIM_MAX_WATCHES) {
		inotify_rm_watch(f->ino_fd, wd);
		if (!f->watch_full) {
			f->watch_full = true;
			vig_fim_count(f, &f->c.overflows, 1);
			vig_warn("fim", "more than the watched directories bound, periodic rescans cover the rest",
				 "max=%d", VIG_FIM_MAX_WATCHES);
		}
		return;
	}
	f->watches[f->n_watches].wd = wd;
	f->watches[f->n_watches].dir = strdup(dir);
	if (!f->watches[f->n_watches].dir) {
		inotify_rm_watch(f->ino_fd, wd);
		return;
	}
	f->n_watches++;
}

/* ---- scanning ---- */

static void vig_fim_walk(struct vig_fim *f, const char *path, int depth, bool silent, bool rehash)
{
	struct dirent *d;
	struct stat st;
	DIR *dir;

	if (atomic_load(&f->stop) || vig_fim_excluded(f, path))
		return;
	if (lstat(path, &st) != 0) {
		if (errno != ENOENT)
			vig_fim_count(f, &f->c.errors, 1);
		return;
	}
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
		if (f->scan_files++ >= f->cfg.max_files) {
			f->scan_truncated = true;
			return;
		}
		vig_fim_visit(f, path, &st, silent, rehash);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		return;
	if (depth >= f->cfg.max_depth) {
		f->scan_truncated = true;
		return;
	}
	vig_fim_watch(f, path);
	dir = opendir(path);
	if (!dir) {
		vig_fim_count(f, &f->c.errors, 1);
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		char child[PATH_MAX];

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "", d->d_name) >=
		    sizeof(child)) {
			vig_fim_count(f, &f->c.errors, 1);
			continue;
		}
		vig_fim_walk(f, child, depth + 1, silent, rehash);
	}
	closedir(dir);
}

/* Walks one configured root (glob patterns expanded); a single file's directory is watched. */
static void vig_fim_scan_root(struct vig_fim *f, const char *root, bool silent, bool rehash)
{
	char parent[PATH_MAX];
	glob_t g;

	if (strpbrk(root, "*?[")) {
		if (glob(root, GLOB_NOSORT, NULL, &g) != 0)
			return; /* no match (or an error): nothing to walk */
		for (size_t i = 0; i < g.gl_pathc; i++)
			vig_fim_walk(f, g.gl_pathv[i], 0, silent, rehash);
		globfree(&g);
	} else {
		vig_fim_walk(f, root, 0, silent, rehash);
	}
	snprintf(parent, sizeof(parent), "%s", root);
	if (strrchr(parent, '/') && strrchr(parent, '/') != parent) {
		struct stat st;

		*strrchr(parent, '/') = 0;
		if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
			vig_fim_watch(f, parent); /* a file (or a glob, or a missing path) shows up here */
	}
}

struct vig_fim_gone {
	char *path;
	struct vig_fim_state base, seen;
};

/* Entries the scan did not visit: gone when their root was scanned whole (collected into
 * *gone, *n_gone, to be reported without the lock), dropped when no root covers them any more.
 * Called with mu held. */
static void vig_fim_sweep(struct vig_fim *f, bool truncated, struct vig_fim_gone **gone, size_t *n_gone)
{
	size_t cap = 0;

	*gone = NULL;
	*n_gone = 0;
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct vig_fim_entry *e = f->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (e->gen == f->gen)
				continue;
			if (vig_fim_root_of(f, e->path) < 0 || vig_fim_excluded(f, e->path)) {
				vig_fim_del(f, e);
				f->unsaved = true;
				continue;
			}
			if (truncated || !e->seen.present)
				continue;
			if (*n_gone == cap) {
				struct vig_fim_gone *g = realloc(*gone, (cap ? cap * 2 : 16) * sizeof(*g));

				if (!g)
					return; /* the next scan finds the rest */
				*gone = g;
				cap = cap ? cap * 2 : 16;
			}
			(*gone)[*n_gone].path = strdup(e->path);
			if (!(*gone)[*n_gone].path)
				return;
			(*gone)[*n_gone].base = e->base;
			(*gone)[*n_gone].seen = e->seen;
			(*n_gone)++;
			f->c.changes++;
			f->unsaved = true;
			e->seen.present = false;
			if (!e->base.present)
				vig_fim_del(f, e);
		}
	}
}

/* Reports and frees what vig_fim_sweep() collected. */
static void vig_fim_report_gone(struct vig_fim *f, struct vig_fim_gone *gone, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vig_fim_emit(f, VIG_FIM_DELETED, gone[i].path, &gone[i].base, &gone[i].seen);
		free(gone[i].path);
	}
	free(gone);
}

static enum vig_err vig_fim_save_locked(struct vig_fim *f, char *errbuf);

static void vig_fim_emit_scan(struct vig_fim *f, int64_t t0)
{
	struct vig_fim_counters c;
	struct vig_arena arena;
	struct vig_event ev;
	enum vig_err err;

	vig_fim_counters(f, &c);
	vig_arena_init(&arena, 4 << 10, 64 << 10);
	vig_event_init(&ev, &arena);
	err = vig_agent_map_head(&ev, &f->host, vig_time_now(), "file", "info", "fim_scan", "fim");
	if (err == VIG_OK)
		err = vig_event_set_cstr(&ev, VIG_F_EVENT_KIND, "state");
	if (err == VIG_OK)
		err = vig_event_set_cstr(&ev, VIG_F_EVENT_DATASET, "vigil.agent.fim");
	if (err == VIG_OK) {
		const struct { const char *k; uint64_t v; } kv[] = {
			{ "vigil.fim.files", c.files }, { "vigil.fim.scans", c.scans },
			{ "vigil.fim.changes", c.changes }, { "vigil.fim.hashed_bytes", c.hashed_bytes },
			{ "vigil.fim.errors", c.errors }, { "vigil.fim.skipped_large", c.skipped_large },
			{ "vigil.fim.truncated", c.truncated }, { "vigil.fim.baseline_corrupt", c.baseline_corrupt },
			{ "vigil.fim.baseline_failed", c.baseline_failed }, { "vigil.fim.overflows", c.overflows },
			{ "vigil.fim.duration_ms", (uint64_t)((vig_time_mono() - t0) / 1000000) },
		};

		for (size_t i = 0; i < VIG_ARRAY_LEN(kv) && err == VIG_OK; i++)
			err = vig_event_ext_int(&ev, kv[i].k, (int64_t)kv[i].v);
	}
	if (err == VIG_OK)
		f->emit(f->emit_ctx, &ev);
	vig_arena_release(&arena);
}

enum vig_err vig_fim_scan(struct vig_fim *f, bool rehash, char *errbuf)
{
	int64_t t0 = vig_time_mono();
	bool silent[VIG_FIM_MAX_PATHS];
	struct vig_fim_gone *gone = NULL;
	size_t n_gone = 0;
	enum vig_err err = VIG_OK;

	pthread_mutex_lock(&f->mu);
	f->gen++;
	for (size_t i = 0; i < f->cfg.n_paths; i++)
		silent[i] = !vig_fim_root_known(f, f->cfg.paths[i]);
	pthread_mutex_unlock(&f->mu);
	f->scan_files = 0;
	f->scan_truncated = false;
	f->watch_full = false;
	for (size_t i = 0; i < f->cfg.n_paths && !atomic_load(&f->stop); i++)
		vig_fim_scan_root(f, f->cfg.paths[i], silent[i], rehash);
	if (atomic_load(&f->stop))
		return vig_errf(errbuf, VIG_ETIMEOUT, "stopped during the scan");
	pthread_mutex_lock(&f->mu);
	if (f->scan_truncated) {
		f->c.truncated++;
		vig_warn("fim", "scan cut by a bound: deletions not checked", "max_files=%zu max_depth=%d",
			 f->cfg.max_files, f->cfg.max_depth);
	}
	vig_fim_sweep(f, f->scan_truncated, &gone, &n_gone);
	for (size_t i = 0; i < f->cfg.n_paths; i++) {
		char **r, *s;

		if (vig_fim_root_known(f, f->cfg.paths[i]))
			continue;
		r = realloc(f->roots, (f->n_roots + 1) * sizeof(*r));
		s = strdup(f->cfg.paths[i]);
		if (r)
			f->roots = r;
		if (!r || !s) {
			free(s);
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			break;
		}
		f->roots[f->n_roots++] = s;
		f->unsaved = true;
	}
	f->c.scans++;
	if (f->unsaved && err == VIG_OK)
		err = vig_fim_save_locked(f, errbuf);
	pthread_mutex_unlock(&f->mu);
	vig_fim_report_gone(f, gone, n_gone);
	vig_fim_emit_scan(f, t0);
	return err;
}

enum vig_err vig_fim_check_path(struct vig_fim *f, const char *path, char *errbuf)
{
	int root = vig_fim_root_of(f, path);
	struct stat st;
	bool known;

	if (root < 0 || vig_fim_excluded(f, path))
		return VIG_OK;
	pthread_mutex_lock(&f->mu);
	known = vig_fim_root_known(f, f->cfg.paths[root]);
	pthread_mutex_unlock(&f->mu);
	if (!known)
		return VIG_OK; /* its root's first scan will take it in */
	if (lstat(path, &st) != 0) {
		struct vig_fim_state gone = { 0 };

		if (errno != ENOENT)
			return vig_errf(errbuf, VIG_EIO, "lstat %s: %s", path, strerror(errno));
		vig_fim_record(f, path, &gone, false);
		return VIG_OK;
	}
	if (S_ISDIR(st.st_mode))
		return vig_errf(errbuf, VIG_ECONFLICT, "%s is a directory", path);
	if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
		vig_fim_visit(f, path, &st, false, false);
	return VIG_OK;
}

/* ---- the baseline file ---- */

static enum vig_err vig_fim_state_json(struct vig_buf *b, const struct vig_fim_state *s)
{
	if (!s->present)
		return vig_buf_adds(b, "null");
	return vig_buf_printf(b,
			      "{\"sha256\":\"%s\",\"size\":%llu,\"ino\":%llu,\"mode\":%u,\"uid\":%u,\"gid\":%u,"
			      "\"mtime\":%lld,\"ctime\":%lld}",
			      s->sha256, (unsigned long long)s->size, (unsigned long long)s->ino, s->mode, s->uid,
			      s->gid, (long long)s->mtime_ns, (long long)s->ctime_ns);
}

static enum vig_err vig_fim_save_locked(struct vig_fim *f, char *errbuf)
{
	struct vig_buf b;
	uint8_t h[32];
	char hex[65];
	enum vig_err err;

	vig_buf_init(&b, VIG_FIM_MAX_BASELINE);
	vig_buf_adds(&b, "{\"vigil_fim_baseline\":1,\"roots\":[");
	for (size_t i = 0; i < f->n_roots; i++) {
		if (i)
			vig_buf_addc(&b, ',');
		vig_buf_add_json_str(&b, f->roots[i], strlen(f->roots[i]));
	}
	vig_buf_printf(&b, "],\"files\":%zu}\n", f->n_entries);
	for (size_t i = 0; i < f->n_buckets; i++) {
		for (struct vig_fim_entry *e = f->buckets[i]; e; e = e->next) {
			vig_buf_adds(&b, "{\"p\":");
			vig_buf_add_json_str(&b, e->path, strlen(e->path));
			vig_buf_adds(&b, ",\"b\":");
			vig_fim_state_json(&b, &e->base);
			vig_buf_adds(&b, ",\"s\":");
			vig_fim_state_json(&b, &e->seen);
			vig_buf_adds(&b, "}\n");
		}
	}
	vig_sha256(b.data, b.len, h);
	vig_hex(h, 32, hex);
	vig_buf_printf(&b, "{\"sha256\":\"%s\"}\n", hex);
	err = vig_buf_err(&b);
	if (err != VIG_OK)
		vig_errf(errbuf, err, "baseline of %zu files does not fit %u bytes", f->n_entries,
			 VIG_FIM_MAX_BASELINE);
	else
		err = vig_agent_write_at(f->dir_fd, VIG_FIM_FILE, b.data, b.len, 0600, errbuf);
	vig_buf_release(&b);
	if (err == VIG_OK) {
		f->unsaved = false;
	} else {
		f->c.baseline_failed++;
		vig_warn("fim", "baseline not saved", "err=\"%s\"", errbuf ? errbuf : "");
	}
	return err;
}

static bool vig_fim_state_parse(json_t *j, struct vig_fim_state *s)
{
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	const char *keys[] = { "size", "ino", "mode", "uid", "gid", "mtime", "ctime" };
	int64_t v[VIG_ARRAY_LEN(keys)];

	memset(s, 0, sizeof(*s));
	if (json_is_null(j))
		return true;
	if (!json_is_object(j) || !sha || (strlen(sha) != 64 && sha[0]) ||
	    strspn(sha, "0123456789abcdef") != strlen(sha))
		return false;
	for (size_t i = 0; i < VIG_ARRAY_LEN(keys); i++) {
		json_t *x = json_object_get(j, keys[i]);

		if (!json_is_integer(x))
			return false;
		v[i] = (int64_t)json_integer_value(x);
	}
	s->present = true;
	memcpy(s->sha256, sha, strlen(sha) + 1);
	s->size = (uint64_t)v[0];
	s->ino = (uint64_t)v[1];
	s->mode = (uint32_t)v[2];
	s->uid = (uint32_t)v[3];
	s->gid = (uint32_t)v[4];
	s->mtime_ns = v[5];
	s->ctime_ns = v[6];
	return true;
}

/* Parses one entry line into the table. */
static enum vig_err vig_fim_load_entry(struct vig_fim *f, const char *line, size_t n, char *errbuf)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	struct vig_fim_state base, seen;
	const char *p = json_string_value(json_object_get(j, "p"));
	struct vig_fim_entry *e;
	enum vig_err err = VIG_OK;

	if (!p || p[0] != '/' || !vig_fim_state_parse(json_object_get(j, "b"), &base) ||
	    !vig_fim_state_parse(json_object_get(j, "s"), &seen) || (!base.present && !seen.present) ||
	    vig_fim_find(f, p)) {
		err = vig_errf(errbuf, VIG_EPARSE, "malformed entry");
	} else if (!(e = vig_fim_add(f, p))) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "more entries than max_files (%zu)", f->cfg.max_files);
	} else {
		e->base = base;
		e->seen = seen;
	}
	json_decref(j);
	return err;
}

static enum vig_err vig_fim_load_header(struct vig_fim *f, const char *line, size_t n, size_t *files,
					char *errbuf)
{
	json_t *j = json_loadb(line, n, 0, NULL), *roots = json_object_get(j, "roots"), *r;
	json_t *nf = json_object_get(j, "files");
	enum vig_err err = VIG_OK;
	size_t i;

	if (json_integer_value(json_object_get(j, "vigil_fim_baseline")) != 1 || !json_is_array(roots) ||
	    !json_is_integer(nf) || json_integer_value(nf) < 0) {
		json_decref(j);
		return vig_errf(errbuf, VIG_EPARSE, "not a version 1 baseline header");
	}
	*files = (size_t)json_integer_value(nf);
	f->roots = calloc(json_array_size(roots) + 1, sizeof(*f->roots));
	if (!f->roots)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	json_array_foreach(roots, i, r) {
		if (err != VIG_OK)
			break;
		if (!json_is_string(r)) {
			err = vig_errf(errbuf, VIG_EPARSE, "root is not a string");
			break;
		}
		f->roots[f->n_roots] = strdup(json_string_value(r));
		if (!f->roots[f->n_roots])
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		else
			f->n_roots++;
	}
	json_decref(j);
	return err;
}

/* Checks the trailer's sha256 and loads header and entries of data (len bytes). */
static enum vig_err vig_fim_parse(struct vig_fim *f, const char *data, size_t len, char *errbuf)
{
	const char *end = data + len, *p = data, *trailer;
	size_t files = 0, loaded = 0;
	uint8_t h[32];
	char hex[65], want[128];
	enum vig_err err;

	if (len < 2 || data[len - 1] != '\n')
		return vig_errf(errbuf, VIG_EPARSE, "truncated");
	trailer = memrchr(data, '\n', len - 1);
	trailer = trailer ? trailer + 1 : data;
	vig_sha256(data, (size_t)(trailer - data), h);
	vig_hex(h, 32, hex);
	snprintf(want, sizeof(want), "{\"sha256\":\"%s\"}\n", hex);
	if ((size_t)(end - trailer) != strlen(want) || memcmp(trailer, want, strlen(want)) != 0)
		return vig_errf(errbuf, VIG_EPARSE, "checksum mismatch");
	while (p < trailer) {
		const char *nl = memchr(p, '\n', (size_t)(trailer - p));

		err = p == data ? vig_fim_load_header(f, p, (size_t)(nl - p), &files, errbuf)
				: vig_fim_load_entry(f, p, (size_t)(nl - p), errbuf);
		if (err != VIG_OK)
			return err;
		loaded += p != data;
		p = nl + 1;
	}
	if (loaded != files)
		return vig_errf(errbuf, VIG_EPARSE, "%zu entries where the header says %zu", loaded, files);
	return VIG_OK;
}

/* Loads STATE/fim/baseline.ndjson; a missing file is a fresh start, a corrupt one is counted. */
static void vig_fim_load(struct vig_fim *f)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	enum vig_err err = VIG_OK;
	int fd = openat(f->dir_fd, VIG_FIM_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT)
		return;
	if (fd < 0 || fstat(fd, &st) != 0)
		err = vig_errf(errbuf, VIG_EIO, "open: %s", strerror(errno));
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > VIG_FIM_MAX_BASELINE)
		err = vig_errf(errbuf, VIG_ETOOBIG, "not a regular file of at most %u bytes", VIG_FIM_MAX_BASELINE);
	else if (!(data = malloc((size_t)st.st_size + 1)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	while (err == VIG_OK && got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = vig_errf(errbuf, VIG_EIO, "short read");
			break;
		}
		got += (size_t)n;
	}
	if (err == VIG_OK)
		err = vig_fim_parse(f, data, got, errbuf);
	if (fd >= 0)
		close(fd);
	free(data);
	if (err != VIG_OK) {
		vig_fim_clear(f);
		f->c.baseline_corrupt++;
		vig_error("fim", "baseline unreadable, rebuilding it", "err=\"%s\"", errbuf);
	} else {
		vig_info("fim", "baseline loaded", "files=%zu roots=%zu", f->n_entries, f->n_roots);
	}
}

/* ---- lifecycle ---- */

/* Copies s into f's owned strings. */
static const char *vig_fim_own(struct vig_fim *f, const char *s)
{
	char *c = strdup(s);

	if (c)
		f->own[f->n_own++] = c;
	return c;
}

static enum vig_err vig_fim_config_copy(struct vig_fim *f, const struct vig_fim_config *cfg, char *errbuf)
{
	f->cfg = *cfg;
	f->cfg.n_paths = 0;
	f->cfg.n_exclude = 0;
	if (!cfg->n_paths) {
		for (size_t i = 0; vig_fim_default_paths[i]; i++)
			f->cfg.paths[f->cfg.n_paths++] = vig_fim_default_paths[i];
	}
	for (size_t i = 0; i < cfg->n_paths && i < VIG_FIM_MAX_PATHS; i++) {
		if (!cfg->paths[i] || cfg->paths[i][0] != '/' || strlen(cfg->paths[i]) >= PATH_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "FIM path must be absolute");
		if (!(f->cfg.paths[f->cfg.n_paths++] = vig_fim_own(f, cfg->paths[i])))
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < cfg->n_exclude && i < VIG_FIM_MAX_EXCLUDES; i++) {
		const char *x = cfg->exclude[i];

		if (!x || !x[0] || (strchr(x, '/') && x[0] != '/') || strlen(x) >= PATH_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "FIM exclusion must be an absolute path or a name pattern");
		if (!(f->cfg.exclude[f->cfg.n_exclude++] = vig_fim_own(f, cfg->exclude[i])))
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	f->cfg.max_files = cfg->max_files ? cfg->max_files : VIG_FIM_DEFAULT_MAX_FILES;
	f->cfg.max_depth = cfg->max_depth > 0 ? cfg->max_depth : VIG_FIM_DEFAULT_MAX_DEPTH;
	f->cfg.interval_s = cfg->interval_s > 0 ? cfg->interval_s : VIG_FIM_DEFAULT_INTERVAL_S;
	f->cfg.hash_bytes_per_s = cfg->hash_bytes_per_s ? cfg->hash_bytes_per_s : VIG_FIM_DEFAULT_HASH_RATE;
	f->cfg.max_file_bytes = cfg->max_file_bytes ? cfg->max_file_bytes : VIG_FIM_DEFAULT_MAX_FILE;
	return VIG_OK;
}

struct vig_fim *vig_fim_new(const struct vig_fim_config *cfg, const char *state_dir,
			    const struct vig_agent_host *host, vig_agent_emit_fn *emit, void *emit_ctx,
			    char *errbuf)
{
	char dir[VIG_AGENT_PATH_MAX];
	struct vig_fim *f = calloc(1, sizeof(*f));

	if (!f) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	f->dir_fd = -1;
	f->ino_fd = -1;
	pthread_mutex_init(&f->mu, NULL);
	if (vig_fim_config_copy(f, cfg, errbuf) != VIG_OK)
		goto out_free;
	f->host = *host;
	f->emit = emit;
	f->emit_ctx = emit_ctx;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/fim", state_dir) >= sizeof(dir)) {
		vig_errf(errbuf, VIG_EINVAL, "state directory path too long");
		goto out_free;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		vig_errf(errbuf, VIG_EIO, "mkdir %s: %s", dir, strerror(errno));
		goto out_free;
	}
	f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->dir_fd < 0) {
		vig_errf(errbuf, VIG_EIO, "open %s: %s", dir, strerror(errno));
		goto out_free;
	}
	vig_fim_load(f);
	return f;
out_free:
	vig_fim_free(f);
	return NULL;
}

enum vig_err vig_fim_accept(struct vig_fim *f, const char *path, size_t *n, char *errbuf)
{
	size_t count = 0;
	enum vig_err err = VIG_OK;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n_buckets; i++) {
		struct vig_fim_entry *e = f->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			if (path && !vig_fim_below(path, e->path))
				continue;
			count++;
			if (!e->seen.present)
				vig_fim_del(f, e);
			else
				e->base = e->seen;
		}
	}
	f->c.accepted += count;
	if (count)
		err = vig_fim_save_locked(f, errbuf);
	pthread_mutex_unlock(&f->mu);
	if (n)
		*n = count;
	if (!count && path)
		return vig_errf(errbuf, VIG_ENOTFOUND, "no baseline entry at %s", path);
	if (err == VIG_OK)
		vig_info("fim", "baseline accepted", "path=\"%s\" entries=%zu", path ? path : "(all)", count);
	return err;
}

void vig_fim_counters(struct vig_fim *f, struct vig_fim_counters *out)
{
	pthread_mutex_lock(&f->mu);
	*out = f->c;
	out->files = f->n_entries;
	pthread_mutex_unlock(&f->mu);
}

/* ---- the thread ---- */

static void vig_fim_mark(struct vig_fim *f, const char *path)
{
	int64_t due = vig_time_mono() + VIG_FIM_SETTLE_NS;

	for (size_t i = 0; i < f->n_dirty; i++) {
		if (strcmp(f->dirty[i].path, path) == 0) {
			f->dirty[i].due_mono = due;
			return;
		}
	}
	if (f->n_dirty == VIG_FIM_MAX_DIRTY || !(f->dirty[f->n_dirty].path = strdup(path))) {
		f->rescan = true;
		vig_fim_count(f, &f->c.overflows, 1);
		return;
	}
	f->dirty[f->n_dirty++].due_mono = due;
}

static void vig_fim_read_events(struct vig_fim *f)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(f->ino_fd, buf, sizeof(buf));

	for (char *p = buf; n > 0 && p < buf + n;) {
		struct inotify_event *ev = (struct inotify_event *)p;
		char path[PATH_MAX];

		p += sizeof(*ev) + ev->len;
		vig_fim_count(f, &f->c.inotify_events, 1);
		if (ev->mask & IN_Q_OVERFLOW) {
			vig_fim_count(f, &f->c.overflows, 1);
			f->rescan = true;
			continue;
		}
		for (size_t i = 0; i < f->n_watches; i++) {
			if (f->watches[i].wd != ev->wd)
				continue;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
				f->rescan = true;
				if (ev->mask & IN_IGNORED) {
					free(f->watches[i].dir);
					f->watches[i] = f->watches[--f->n_watches];
				}
			} else if (ev->mask & IN_ISDIR) {
				f->rescan = true; /* a directory came or went: walk again */
			} else if (ev->len &&
				   (size_t)snprintf(path, sizeof(path), "%s/%s", f->watches[i].dir, ev->name) <
					   sizeof(path)) {
				vig_fim_mark(f, path);
			}
			break;
		}
	}
}

/* Re-checks the dirty paths whose writes settled. */
static void vig_fim_check_dirty(struct vig_fim *f)
{
	int64_t now = vig_time_mono();
	char errbuf[VIG_ERRBUF_SIZE];

	for (size_t i = 0; i < f->n_dirty;) {
		char *path = f->dirty[i].path;

		if (f->dirty[i].due_mono > now) {
			i++;
			continue;
		}
		f->dirty[i] = f->dirty[--f->n_dirty];
		if (vig_fim_check_path(f, path, errbuf) == VIG_ECONFLICT)
			f->rescan = true;
		free(path);
	}
}

static void *vig_fim_main(void *arg)
{
	struct vig_fim *f = arg;
	char errbuf[VIG_ERRBUF_SIZE];
	int64_t next_scan, last_scan, last_save = vig_time_mono();
	uint64_t periodic = 0;

	vig_fim_scan(f, false, errbuf);
	last_scan = vig_time_mono();
	next_scan = last_scan + (int64_t)f->cfg.interval_s * VIG_NS_PER_SEC;
	while (!atomic_load(&f->stop)) {
		struct pollfd pfd = { .fd = f->ino_fd, .events = POLLIN };
		int64_t now;

		if (poll(&pfd, f->ino_fd >= 0 ? 1 : 0, 250) > 0)
			vig_fim_read_events(f);
		vig_fim_check_dirty(f);
		now = vig_time_mono();
		if (now >= next_scan || (f->rescan && now - last_scan >= VIG_FIM_RESCAN_GAP_NS)) {
			bool rehash = now >= next_scan && ++periodic % VIG_FIM_REHASH_EVERY == 0;

			f->rescan = false;
			vig_fim_scan(f, rehash, errbuf);
			last_scan = vig_time_mono();
			if (now >= next_scan)
				next_scan = last_scan + (int64_t)f->cfg.interval_s * VIG_NS_PER_SEC;
		}
		pthread_mutex_lock(&f->mu);
		if (f->unsaved && now - last_save >= VIG_FIM_SAVE_GAP_NS) {
			vig_fim_save_locked(f, errbuf);
			last_save = now;
		}
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

enum vig_err vig_fim_start(struct vig_fim *f, char *errbuf)
{
	pthread_attr_t attr;
	int rc;

	if (!(f->cfg.flags & VIG_FIM_NO_INOTIFY)) {
		f->watches = calloc(VIG_FIM_MAX_WATCHES, sizeof(*f->watches));
		f->ino_fd = f->watches ? inotify_init1(IN_NONBLOCK | IN_CLOEXEC) : -1;
		if (f->ino_fd < 0)
			vig_warn("fim", "inotify unavailable, periodic rescans only", "err=\"%s\"", strerror(errno));
	}
	/* walking, hashing and the event buffer need far less than the default 8 MiB */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	rc = pthread_create(&f->thread, &attr, vig_fim_main, f);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return vig_errf(errbuf, VIG_EIO, "cannot start the FIM thread: %s", strerror(rc));
	f->started = true;
	vig_info("fim", "file integrity monitoring started", "paths=%zu interval_s=%d hash_bytes_per_s=%llu",
		 f->cfg.n_paths, f->cfg.interval_s, (unsigned long long)f->cfg.hash_bytes_per_s);
	return VIG_OK;
}

void vig_fim_stop(struct vig_fim *f)
{
	char errbuf[VIG_ERRBUF_SIZE];

	if (!f)
		return;
	atomic_store(&f->stop, 1);
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = false;
	pthread_mutex_lock(&f->mu);
	if (f->unsaved && f->dir_fd >= 0)
		vig_fim_save_locked(f, errbuf);
	pthread_mutex_unlock(&f->mu);
}

void vig_fim_free(struct vig_fim *f)
{
	if (!f)
		return;
	vig_fim_stop(f);
	vig_fim_clear(f);
	free(f->buckets);
	for (size_t i = 0; i < f->n_watches; i++)
		free(f->watches[i].dir);
	free(f->watches);
	for (size_t i = 0; i < f->n_dirty; i++)
		free(f->dirty[i].path);
	for (size_t i = 0; i < f->n_own; i++)
		free(f->own[i]);
	if (f->ino_fd >= 0)
		close(f->ino_fd);
	if (f->dir_fd >= 0)
		close(f->dir_fd);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* ---- the fim_accept action (docs/agent-protocol.md) ---- */

enum vig_err vig_act_fim_accept(const struct vig_action_env *env, const char *action_id, json_t *params,
				json_t **result, char *errbuf)
{
	static const char *const known[] = { "path", NULL };
	const char *path = NULL;
	size_t n = 0;
	enum vig_err err;

	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK && json_object_get(params, "path"))
		err = vig_act_param_path(params, "path", &path, errbuf);
	if (err != VIG_OK)
		return err;
	if (!env->fim)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "file integrity monitoring is not running");
	err = vig_fim_accept(env->fim, path, &n, errbuf);
	if (err != VIG_OK)
		return err;
	*result = json_pack("{s:I,s:s?}", "accepted", (json_int_t)n, "path", path);
	return *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
