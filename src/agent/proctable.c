/*
 * proctable.c - the agent's process table: pid -> identity (entity id from host, pid and start
 * time), image, argv, cwd, credentials, image hash. Filled from observed exec/fork records and,
 * for processes that predate the agent or that a record did not describe, from /proc reads.
 *
 * Invariants: at most max_procs entries (further puts are refused and counted); an entry's
 * entity_id always matches (host_id, pid, start_ns); a put with a different start for a known
 * pid replaces the entry (pid reuse). Ancestry follows ppid links, bounded by
 * VIG_AGENT_MAX_ANCESTRY and stopped at the first repeat.
 *
 * The SHA-256 cache is direct-mapped (VIG_HASHCACHE_SLOTS) on (dev, inode, mtime, size) of the
 * opened file, so a rewritten binary is hashed again and an unchanged one is read once. An exec
 * record carries the same four facts read in the kernel, so a hit costs no syscall at all
 * (vig_proctable_hash_cached); only a miss opens and reads the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent.h"
#include "common/vtime.h"

#define VIG_PROC_BUCKETS 8192
#define VIG_HASHCACHE_SLOTS 4096

struct vig_hash_slot {
	uint64_t dev, ino, size;
	int64_t mtime_ns;
	char hex[65];
	bool used;
};

struct vig_proctable {
	struct vig_proc *buckets[VIG_PROC_BUCKETS];
	size_t count;
	size_t max_procs;
	uint64_t refused;
	char host_id[64];
	char proc_root[128];
	struct vig_hash_slot *hashes; /* VIG_HASHCACHE_SLOTS */
	uint64_t hash_hits, hash_misses;
};

static size_t vig_bucket(int32_t pid)
{
	return ((uint32_t)pid * 2654435761u) % VIG_PROC_BUCKETS;
}

int64_t vig_agent_ticks_round(int64_t boot_ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	int64_t tick = VIG_NS_PER_SEC / (hz > 0 ? hz : 100);

	return boot_ns - boot_ns % tick;
}

struct vig_proctable *vig_proctable_new(const char *host_id, const char *proc_root, size_t max_procs)
{
	struct vig_proctable *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->hashes = calloc(VIG_HASHCACHE_SLOTS, sizeof(*t->hashes));
	if (!t->hashes) {
		free(t);
		return NULL;
	}
	t->max_procs = max_procs ? max_procs : VIG_AGENT_MAX_PROCS;
	snprintf(t->host_id, sizeof(t->host_id), "%s", host_id ? host_id : "");
	snprintf(t->proc_root, sizeof(t->proc_root), "%s", proc_root ? proc_root : "/proc");
	return t;
}

static void vig_proc_free(struct vig_proc *p)
{
	free(p->exe);
	free(p->args);
	free(p->cwd);
	free(p);
}

void vig_proctable_free(struct vig_proctable *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < VIG_PROC_BUCKETS; i++) {
		struct vig_proc *p = t->buckets[i];

		while (p) {
			struct vig_proc *next = p->next;

			vig_proc_free(p);
			p = next;
		}
	}
	free(t->hashes);
	free(t);
}

struct vig_proc *vig_proctable_get(struct vig_proctable *t, int32_t pid)
{
	for (struct vig_proc *p = t->buckets[vig_bucket(pid)]; p; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

void vig_proctable_remove(struct vig_proctable *t, int32_t pid)
{
	struct vig_proc **pp = &t->buckets[vig_bucket(pid)];

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->pid == pid) {
			struct vig_proc *dead = *pp;

			*pp = dead->next;
			vig_proc_free(dead);
			t->count--;
			return;
		}
	}
}

struct vig_proc *vig_proctable_put(struct vig_proctable *t, int32_t pid, int64_t start_ns,
				   enum vig_err *err)
{
	struct vig_proc *p = vig_proctable_get(t, pid);

	*err = VIG_OK;
	if (p && p->start_ns == start_ns)
		return p;
	if (p)
		vig_proctable_remove(t, pid);
	if (t->count >= t->max_procs) {
		t->refused++;
		*err = VIG_ETOOBIG;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		*err = VIG_ENOMEM;
		return NULL;
	}
	p->pid = pid;
	p->start_ns = start_ns;
	p->auid = UINT32_MAX;
	p->sessionid = UINT32_MAX;
	vig_entity_id(t->host_id, pid, start_ns, p->entity_id);
	p->next = t->buckets[vig_bucket(pid)];
	t->buckets[vig_bucket(pid)] = p;
	t->count++;
	return p;
}

size_t vig_proctable_count(const struct vig_proctable *t)
{
	return t->count;
}

uint64_t vig_proctable_refused(const struct vig_proctable *t)
{
	return t->refused;
}

const char *vig_proctable_host_id(const struct vig_proctable *t)
{
	return t->host_id;
}

const char *vig_proctable_proc_root(const struct vig_proctable *t)
{
	return t->proc_root;
}

static enum vig_err vig_set_bytes(char **dst, const char *s, size_t n, bool nul_end)
{
	char *c = malloc(n + 1);

	if (!c)
		return VIG_ENOMEM;
	memcpy(c, s, n);
	c[n] = 0;
	free(*dst);
	*dst = c;
	(void)nul_end;
	return VIG_OK;
}

enum vig_err vig_proc_set_exe(struct vig_proc *p, const char *s, size_t n)
{
	return vig_set_bytes(&p->exe, s, n, true);
}

enum vig_err vig_proc_set_args(struct vig_proc *p, const char *s, size_t n)
{
	enum vig_err err = vig_set_bytes(&p->args, s, n, false);

	if (err == VIG_OK)
		p->args_len = (uint32_t)n;
	return err;
}

enum vig_err vig_proc_set_cwd(struct vig_proc *p, const char *s, size_t n)
{
	return vig_set_bytes(&p->cwd, s, n, true);
}

enum vig_err vig_proc_copy_image(struct vig_proc *dst, const struct vig_proc *src)
{
	enum vig_err err = VIG_OK;

	if (src->exe && (err = vig_proc_set_exe(dst, src->exe, strlen(src->exe))) != VIG_OK)
		return err;
	if (src->args && (err = vig_proc_set_args(dst, src->args, src->args_len)) != VIG_OK)
		return err;
	if (src->cwd && (err = vig_proc_set_cwd(dst, src->cwd, strlen(src->cwd))) != VIG_OK)
		return err;
	memcpy(dst->sha256, src->sha256, sizeof(dst->sha256));
	memcpy(dst->comm, src->comm, sizeof(dst->comm));
	dst->uid = src->uid;
	dst->euid = src->euid;
	dst->gid = src->gid;
	dst->egid = src->egid;
	dst->auid = src->auid;
	dst->sessionid = src->sessionid;
	dst->tty_nr = src->tty_nr;
	dst->cgroup_id = src->cgroup_id;
	memcpy(dst->container_id, src->container_id, sizeof(dst->container_id));
	dst->flags = src->flags & ~VIG_PROC_F_SEEDED;
	return VIG_OK;
}

size_t vig_proctable_ancestry(struct vig_proctable *t, const struct vig_proc *p,
			      const char *out[], size_t max)
{
	size_t n = 0;
	int32_t seen[VIG_AGENT_MAX_ANCESTRY + 1];
	int32_t ppid = p->ppid;

	seen[0] = p->pid;
	while (n < max && n < VIG_AGENT_MAX_ANCESTRY && ppid > 0) {
		struct vig_proc *a = vig_proctable_get(t, ppid);

		if (!a)
			break;
		for (size_t i = 0; i <= n; i++)
			if (seen[i] == a->pid)
				return n; /* a cycle: stale links after pid reuse */
		seen[n + 1] = a->pid;
		out[n++] = a->entity_id;
		ppid = a->ppid;
	}
	return n;
}

size_t vig_agent_args_split(const char *buf, size_t len, struct vig_str *out, size_t max, bool *more)
{
	size_t n = 0, i = 0;

	*more = false;
	while (i < len) {
		const char *s = buf + i;
		const char *z = memchr(s, 0, len - i);
		size_t l = z ? (size_t)(z - s) : len - i;

		if (n == max) {
			*more = true;
			break;
		}
		out[n].p = s;
		out[n].len = (uint32_t)l;
		n++;
		i += l + 1;
	}
	return n;
}

size_t vig_agent_args_join(const char *buf, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	while (len > 0 && buf[len - 1] == 0)
		len--; /* trailing NULs are separators, not empty arguments */
	for (size_t i = 0; i < len && o + 1 < cap; i++)
		out[o++] = buf[i] ? buf[i] : ' ';
	out[o] = 0;
	return o;
}

size_t vig_agent_cwd_from_components(const char *buf, size_t len, char *out, size_t cap)
{
	size_t o = 0, end = len;

	if (cap < 2)
		return 0;
	while (end > 0 && buf[end - 1] == 0)
		end--;
	/* walk the components from the last (outermost) to the first */
	while (end > 0) {
		size_t start = end;

		while (start > 0 && buf[start - 1] != 0)
			start--;
		if (o + 1 + (end - start) + 1 > cap)
			return 0;
		out[o++] = '/';
		memcpy(out + o, buf + start, end - start);
		o += end - start;
		end = start > 0 ? start - 1 : 0;
		while (end > 0 && buf[end - 1] == 0)
			end--; /* tolerate empty components */
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return o;
}

static bool vig_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

uint32_t vig_agent_exec_flags(const char *filename, const char *dname, uint32_t nlink)
{
	uint32_t f = 0;
	bool memfd = vig_has_prefix(filename, "/memfd:") || (dname && vig_has_prefix(dname, "memfd:"));

	if (memfd)
		f |= VIG_PROC_F_MEMFD;
	else if (nlink == 0)
		f |= VIG_PROC_F_DELETED;
	if (vig_has_prefix(filename, "/tmp/") || vig_has_prefix(filename, "/dev/shm/") ||
	    vig_has_prefix(filename, "/var/tmp/"))
		f |= VIG_PROC_F_WRITABLE_DIR;
	return f;
}

/* ---- /proc reads ---- */

/* Reads at most cap-1 bytes of a file into buf (NUL-terminated); returns bytes or -1. */
static ssize_t vig_read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < cap - 1) {
		n = read(fd, buf + total, cap - 1 - (size_t)total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = 0;
	return total;
}

static bool vig_parse_stat(const char *s, struct vig_proc *p, int32_t *ppid, int64_t *start_ticks)
{
	const char *lp = strchr(s, '('), *rp = strrchr(s, ')');
	const char *q;
	int field = 3;
	uint64_t v;

	if (!lp || !rp || rp < lp)
		return false;
	snprintf(p->comm, sizeof(p->comm), "%.*s", (int)VIG_MIN((size_t)(rp - lp - 1), sizeof(p->comm) - 1), lp + 1);
	q = rp + 1;
	while (*q && field <= 22) {
		const char *e;

		while (*q == ' ')
			q++;
		e = strchr(q, ' ');
		if (!e)
			e = q + strlen(q);
		if (field == 4 || field == 7 || field == 22) {
			if (!vig_parse_u64(q, (size_t)(e - q), &v))
				return false;
			if (field == 4)
				*ppid = (int32_t)v;
			else if (field == 7)
				p->tty_nr = (uint32_t)v;
			else
				*start_ticks = (int64_t)v;
		}
		field++;
		q = e;
	}
	return field > 22;
}

static void vig_parse_ids(const char *status, const char *key, uint32_t *real, uint32_t *eff)
{
	const char *l = strstr(status, key);
	unsigned long a, b;

	if (l && sscanf(l + strlen(key), "%lu %lu", &a, &b) == 2) {
		*real = (uint32_t)a;
		*eff = (uint32_t)b;
	}
}

static void vig_read_link(const char *path, char *out, size_t cap)
{
	ssize_t n = readlink(path, out, cap - 1);

	out[n > 0 ? n : 0] = 0;
}

struct vig_proc *vig_proctable_load(struct vig_proctable *t, int32_t pid)
{
	char path[192], buf[4096];
	struct vig_proc tmp = { 0 }, *p;
	int32_t ppid = 0;
	int64_t ticks = 0;
	long hz = sysconf(_SC_CLK_TCK);
	enum vig_err err;
	uint64_t v;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%d/stat", t->proc_root, pid);
	if (vig_read_small(path, buf, sizeof(buf)) <= 0 || !vig_parse_stat(buf, &tmp, &ppid, &ticks))
		return NULL;
	p = vig_proctable_put(t, pid, ticks * (VIG_NS_PER_SEC / (hz > 0 ? hz : 100)), &err);
	if (!p)
		return NULL;
	p->ppid = ppid;
	p->tty_nr = tmp.tty_nr;
	memcpy(p->comm, tmp.comm, sizeof(p->comm));
	p->flags |= VIG_PROC_F_SEEDED;
	snprintf(path, sizeof(path), "%s/%d/status", t->proc_root, pid);
	if (vig_read_small(path, buf, sizeof(buf)) > 0) {
		vig_parse_ids(buf, "\nUid:", &p->uid, &p->euid);
		vig_parse_ids(buf, "\nGid:", &p->gid, &p->egid);
	}
	snprintf(path, sizeof(path), "%s/%d/loginuid", t->proc_root, pid);
	n = vig_read_small(path, buf, 32);
	if (n > 0 && vig_parse_u64(buf, strcspn(buf, "\n"), &v))
		p->auid = (uint32_t)v;
	snprintf(path, sizeof(path), "%s/%d/sessionid", t->proc_root, pid);
	n = vig_read_small(path, buf, 32);
	if (n > 0 && vig_parse_u64(buf, strcspn(buf, "\n"), &v))
		p->sessionid = (uint32_t)v;
	snprintf(path, sizeof(path), "%s/%d/cmdline", t->proc_root, pid);
	n = vig_read_small(path, buf, VIG_ABI_ARGS_LEN);
	if (n > 0)
		vig_proc_set_args(p, buf, (size_t)n);
	if (n == VIG_ABI_ARGS_LEN - 1)
		p->flags |= VIG_PROC_F_ARGS_TRUNC;
	snprintf(path, sizeof(path), "%s/%d/exe", t->proc_root, pid);
	vig_read_link(path, buf, sizeof(buf));
	if (buf[0]) {
		size_t l = strlen(buf);
		const char *del = " (deleted)";

		if (l > strlen(del) && strcmp(buf + l - strlen(del), del) == 0) {
			l -= strlen(del);
			p->flags |= VIG_PROC_F_DELETED;
		}
		vig_proc_set_exe(p, buf, l);
		buf[l] = 0;
		p->flags |= vig_agent_exec_flags(buf, NULL, 1);
	}
	snprintf(path, sizeof(path), "%s/%d/cwd", t->proc_root, pid);
	vig_read_link(path, buf, sizeof(buf));
	if (buf[0])
		vig_proc_set_cwd(p, buf, strlen(buf));
	snprintf(path, sizeof(path), "%s/%d/cgroup", t->proc_root, pid);
	if (vig_read_small(path, buf, sizeof(buf)) > 0) {
		char leaf[VIG_ABI_CGROUP_LEN];

		vig_proc_cgroup_leaf(buf, leaf, sizeof(leaf));
		vig_container_id(leaf, strlen(leaf), p->container_id);
	}
	return p;
}

static bool vig_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool vig_container_id(const char *leaf, size_t len, char id[65])
{
	id[0] = 0;
	for (size_t i = 0; i + 64 <= len; i++) {
		bool start = i == 0 || leaf[i - 1] == '-' || leaf[i - 1] == ':';
		bool end = i + 64 == len || leaf[i + 64] == '.';

		if (start && end && vig_hex64(leaf + i)) {
			memcpy(id, leaf + i, 64);
			id[64] = 0;
			return true;
		}
	}
	return false;
}

void vig_proc_cgroup_leaf(const char *text, char *out, size_t cap)
{
	static const char *const pick[] = { "0::", ":pids:", ":cpuset:" };

	out[0] = 0;
	for (size_t k = 0; k < VIG_ARRAY_LEN(pick); k++) {
		for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
			size_t n = strcspn(line, "\n");
			const char *at = k == 0 ? (strncmp(line, pick[k], 3) == 0 ? line : NULL) : strstr(line, pick[k]);
			const char *path, *slash;

			if (!at || (size_t)(at - line) >= n)
				continue;
			path = at + strlen(pick[k]);
			slash = path;
			for (const char *c = path; c < line + n; c++)
				if (*c == '/')
					slash = c + 1;
			if (slash >= line + n)
				break; /* the root: try the next hierarchy */
			snprintf(out, cap, "%.*s", (int)(line + n - slash), slash);
			return;
		}
	}
}

size_t vig_proctable_seed(struct vig_proctable *t)
{
	DIR *d = opendir(t->proc_root);
	struct dirent *de;
	size_t n = 0;
	uint64_t pid;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!vig_parse_u64(de->d_name, strlen(de->d_name), &pid) || pid == 0 || pid > INT32_MAX)
			continue;
		if (vig_proctable_load(t, (int32_t)pid))
			n++;
	}
	closedir(d);
	return n;
}

size_t vig_proctable_sweep(struct vig_proctable *t)
{
	char path[192];
	struct stat st;
	size_t removed = 0;

	for (size_t i = 0; i < VIG_PROC_BUCKETS; i++) {
		struct vig_proc **pp = &t->buckets[i];

		while (*pp) {
			struct vig_proc *p = *pp;

			snprintf(path, sizeof(path), "%s/%d", t->proc_root, p->pid);
			if (stat(path, &st) == 0) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			vig_proc_free(p);
			t->count--;
			removed++;
		}
	}
	return removed;
}

/* ---- executable hashes ---- */

static size_t vig_hash_slot_of(uint64_t dev, uint64_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev) % VIG_HASHCACHE_SLOTS;
}

static enum vig_err vig_sha256_fd(int fd, uint64_t size, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], h[32];
	unsigned int hl = 0;
	uint64_t total = 0;
	enum vig_err err = VIG_OK;
	ssize_t n;

	if (!md)
		return VIG_ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = VIG_EINTERNAL;
		goto out_free_md;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = VIG_EIO;
			goto out_free_md;
		}
		total += (uint64_t)n;
		if (total > VIG_AGENT_HASH_MAX_BYTES) {
			err = VIG_ETOOBIG;
			goto out_free_md;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	(void)size;
	EVP_DigestFinal_ex(md, h, &hl);
	vig_hex(h, 32, out);
out_free_md:
	EVP_MD_CTX_free(md);
	return err;
}

enum vig_err vig_proctable_hash_file(struct vig_proctable *t, const char *path, uint64_t want_ino,
				     char out[65])
{
	struct vig_hash_slot *slot;
	struct stat st;
	enum vig_err err;
	int fd;

	out[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return VIG_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = VIG_EIO;
		goto out_close;
	}
	if (want_ino && (uint64_t)st.st_ino != want_ino) {
		err = VIG_ECONFLICT;
		goto out_close;
	}
	if ((uint64_t)st.st_size > VIG_AGENT_HASH_MAX_BYTES) {
		err = VIG_ETOOBIG;
		goto out_close;
	}
	slot = &t->hashes[vig_hash_slot_of(st.st_dev, st.st_ino)];
	if (slot->used && slot->dev == st.st_dev && slot->ino == st.st_ino &&
	    slot->size == (uint64_t)st.st_size &&
	    slot->mtime_ns == st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec) {
		memcpy(out, slot->hex, 65);
		t->hash_hits++;
		err = VIG_OK;
		goto out_close;
	}
	t->hash_misses++;
	err = vig_sha256_fd(fd, (uint64_t)st.st_size, out);
	if (err != VIG_OK)
		goto out_close;
	slot->used = true;
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->size = (uint64_t)st.st_size;
	slot->mtime_ns = st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec;
	memcpy(slot->hex, out, 65);
out_close:
	close(fd);
	return err;
}

bool vig_proctable_hash_cached(struct vig_proctable *t, uint64_t kdev, uint64_t ino, int64_t mtime_ns,
			       uint64_t size, char out[65])
{
	uint64_t dev = makedev((unsigned)(kdev >> 20), (unsigned)(kdev & 0xfffff));
	const struct vig_hash_slot *slot = &t->hashes[vig_hash_slot_of(dev, ino)];

	if (!slot->used || slot->dev != dev || slot->ino != ino || slot->size != size ||
	    slot->mtime_ns != mtime_ns)
		return false;
	memcpy(out, slot->hex, 65);
	t->hash_hits++;
	return true;
}

void vig_proctable_hash_stats(const struct vig_proctable *t, uint64_t *hits, uint64_t *misses)
{
	*hits = t->hash_hits;
	*misses = t->hash_misses;
}
