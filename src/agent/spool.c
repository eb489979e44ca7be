/*
 * spool.c - the agent's disk queue of event batches (docs/agent-protocol.md, "Events").
 *
 * Layout of the spool directory (mode 0700):
 *   <seq>.ndjson.zst   one batch: one zstd frame (content size recorded) of NDJSON events
 *   seq                the next sequence number, decimal; never goes back
 *   *.tmp              a batch or sequence being written; removed at open
 *
 * Invariants:
 *   - a batch file appears under its final name only after its bytes were fsync'ed (written as
 *     .tmp, fsync, rename, directory fsync), so a crash leaves either no batch or a whole one;
 *     a file that is still not one whole zstd frame (a torn file, a disk error) is removed at
 *     open and counted in `corrupt`;
 *   - sequences are unique and increasing over the agent's life: next = max(the seq file, the
 *     highest batch + 1), and the seq file is rewritten (same way) for every batch, so a resend
 *     after a restart carries the same batch id and the server answers it as a duplicate;
 *   - the index (seq, bytes, time) is kept in memory in sequence order; the total of bytes never
 *     exceeds max_bytes: a put first drops the oldest batches (decompressed only to count their
 *     events into dropped_events).
 * Not thread-safe: the transport serialises calls with its own lock.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "common/log.h"
#include "common/vtime.h"
#include "transport.h"

#define VIG_SPOOL_SUFFIX ".ndjson.zst"
#define VIG_SPOOL_MAX_FILE (VIG_SPOOL_BATCH_BYTES * 2u) /* larger files are not ours */

struct vig_spool_item {
	uint64_t seq;
	uint64_t bytes;
	int64_t time_ns;
};

struct vig_spool {
	char *dir;
	int dir_fd;
	uint64_t max_bytes;
	struct vig_spool_item *items; /* [head, n) live, sequence order */
	size_t head, n, cap;
	struct vig_spool_stats st;
};

static void vig_spool_path(const struct vig_spool *s, uint64_t seq, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%020llu" VIG_SPOOL_SUFFIX, s->dir, (unsigned long long)seq);
}

enum vig_err vig_agent_write_at(int dir_fd, const char *name, const void *data, size_t n, unsigned mode,
				char *errbuf)
{
	char tmp[VIG_AGENT_PATH_MAX];
	const char *p = data;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0) /* a leftover tmp file keeps its old mode under O_TRUNC */
		goto out_fail;
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out_fail;
		p += w;
		n -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out_fail;
	close(fd);
	if (renameat(dir_fd, tmp, dir_fd, name) != 0 || fsync(dir_fd) != 0) {
		unlinkat(dir_fd, tmp, 0);
		return vig_errf(errbuf, VIG_EIO, "cannot commit %s: %s", name, strerror(errno));
	}
	return VIG_OK;
out_fail:
	vig_errf(errbuf, VIG_EIO, "cannot write %s: %s", tmp, strerror(errno));
	close(fd);
	unlinkat(dir_fd, tmp, 0);
	return VIG_EIO;
}

enum vig_err vig_agent_write_file(const char *path, const void *data, size_t n, unsigned mode, char *errbuf)
{
	char dir[VIG_AGENT_PATH_MAX];
	const char *slash = strrchr(path, '/');
	enum vig_err err;
	int dfd;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return vig_errf(errbuf, VIG_EINVAL, "not a path under a directory: %s", path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", dir, strerror(errno));
	err = vig_agent_write_at(dfd, slash + 1, data, n, mode, errbuf);
	close(dfd);
	return err;
}

/* Reads a whole file of at most max bytes into b (reset first). */
static enum vig_err vig_read_file(int dir_fd, const char *name, size_t max, struct vig_buf *b,
				  char *errbuf)
{
	char chunk[16384];
	enum vig_err err = VIG_OK;
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);

	vig_buf_reset(b);
	if (fd < 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "spool: cannot open %s: %s",
				name, strerror(errno));
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = vig_errf(errbuf, VIG_EIO, "spool: cannot read %s: %s", name, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (b->len + (size_t)r > max) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "spool: %s is larger than %zu bytes", name, max);
			break;
		}
		if (vig_buf_add(b, chunk, (size_t)r) != VIG_OK) {
			err = vig_errf(errbuf, VIG_ENOMEM, "spool: out of memory reading %s", name);
			break;
		}
	}
	close(fd);
	return err;
}

/* true when [p, p+n) is exactly one complete zstd frame with a known content size. */
static bool vig_zst_whole(const void *p, size_t n)
{
	size_t fsz = ZSTD_findFrameCompressedSize(p, n);
	unsigned long long csz;

	if (ZSTD_isError(fsz) || fsz != n)
		return false;
	csz = ZSTD_getFrameContentSize(p, n);
	return csz != ZSTD_CONTENTSIZE_ERROR && csz != ZSTD_CONTENTSIZE_UNKNOWN &&
	       csz <= VIG_SPOOL_MAX_FILE;
}

enum vig_err vig_spool_decompress(const void *zst, size_t n, size_t max_out, struct vig_buf *out,
				  char *errbuf)
{
	unsigned long long csz = ZSTD_getFrameContentSize(zst, n);
	size_t r;

	vig_buf_reset(out);
	if (csz == ZSTD_CONTENTSIZE_ERROR || csz == ZSTD_CONTENTSIZE_UNKNOWN)
		return vig_errf(errbuf, VIG_EPARSE, "spool: not a zstd frame with a content size");
	if (csz > max_out)
		return vig_errf(errbuf, VIG_ETOOBIG, "spool: batch of %llu bytes exceeds %zu", csz, max_out);
	/* grow to csz bytes (+NUL) through the buffer's own allocator */
	if (vig_buf_add(out, "", 0) != VIG_OK)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t i = 0; i < csz; i += 4096) {
		static const char zeros[4096];

		if (vig_buf_add(out, zeros, VIG_MIN((size_t)(csz - i), sizeof(zeros))) != VIG_OK)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	r = ZSTD_decompress(out->data, (size_t)csz, zst, n);
	if (ZSTD_isError(r) || r != csz) {
		vig_buf_reset(out);
		return vig_errf(errbuf, VIG_EPARSE, "spool: corrupt batch: %s",
				ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short content");
	}
	return VIG_OK;
}

static enum vig_err vig_index_push(struct vig_spool *s, uint64_t seq, uint64_t bytes, int64_t t)
{
	if (s->n == s->cap) {
		size_t live = s->n - s->head;

		if (s->head && s->head >= s->cap / 2) {
			memmove(s->items, s->items + s->head, live * sizeof(*s->items));
			s->head = 0;
			s->n = live;
		} else {
			size_t ncap = s->cap ? s->cap * 2 : 64;
			struct vig_spool_item *ni = realloc(s->items, ncap * sizeof(*ni));

			if (!ni)
				return VIG_ENOMEM;
			s->items = ni;
			s->cap = ncap;
		}
	}
	s->items[s->n++] = (struct vig_spool_item){ .seq = seq, .bytes = bytes, .time_ns = t };
	s->st.bytes += bytes;
	s->st.batches++;
	return VIG_OK;
}

static void vig_index_pop(struct vig_spool *s)
{
	s->st.bytes -= s->items[s->head].bytes;
	s->st.batches--;
	s->head++;
	if (s->head == s->n)
		s->head = s->n = 0;
}

static int vig_item_cmp(const void *a, const void *b)
{
	const struct vig_spool_item *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Parses "<digits>.ndjson.zst"; false for anything else. */
static bool vig_batch_name(const char *name, uint64_t *seq)
{
	const char *dot = strchr(name, '.');

	return dot && dot != name && strcmp(dot, VIG_SPOOL_SUFFIX) == 0 &&
	       vig_parse_u64(name, (size_t)(dot - name), seq) && *seq > 0;
}

/* Lists the directory: removes temporary and torn files, indexes whole batches. */
static enum vig_err vig_spool_scan(struct vig_spool *s, char *errbuf)
{
	struct vig_buf b;
	enum vig_err err = VIG_OK;
	struct dirent *de;
	int fd = dup(s->dir_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return vig_errf(errbuf, VIG_EIO, "spool: cannot list %s: %s", s->dir, strerror(errno));
	}
	vig_buf_init(&b, VIG_SPOOL_MAX_FILE + 1);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct stat st;
		uint64_t seq;

		if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			unlinkat(s->dir_fd, de->d_name, 0);
			continue;
		}
		if (!vig_batch_name(de->d_name, &seq))
			continue;
		if (seq >= s->st.next_seq)
			s->st.next_seq = seq + 1;
		if (vig_read_file(s->dir_fd, de->d_name, VIG_SPOOL_MAX_FILE, &b, NULL) != VIG_OK ||
		    !vig_zst_whole(b.data, b.len) || fstatat(s->dir_fd, de->d_name, &st, 0) != 0) {
			vig_warn("agent", "spool: removing an unreadable batch", "file=\"%s/%s\"", s->dir,
				 de->d_name);
			unlinkat(s->dir_fd, de->d_name, 0);
			s->st.corrupt++;
			continue;
		}
		if (vig_index_push(s, seq, (uint64_t)st.st_size,
				   (int64_t)st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec) != VIG_OK) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			break;
		}
	}
	closedir(d);
	vig_buf_release(&b);
	if (err == VIG_OK && s->n)
		qsort(s->items, s->n, sizeof(*s->items), vig_item_cmp);
	return err;
}

static enum vig_err vig_seq_load(struct vig_spool *s, char *errbuf)
{
	struct vig_buf b;
	uint64_t v;
	enum vig_err err;
	size_t n;

	vig_buf_init(&b, 64);
	err = vig_read_file(s->dir_fd, "seq", 32, &b, errbuf);
	if (err == VIG_ENOTFOUND) {
		vig_buf_release(&b);
		return VIG_OK;
	}
	if (err != VIG_OK) {
		vig_buf_release(&b);
		return err;
	}
	n = b.len;
	while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == ' '))
		n--;
	if (!b.len || !vig_parse_u64(b.data, n, &v)) {
		/* a damaged counter: the batch names still give a floor; warn, go on */
		vig_warn("agent", "spool: unreadable sequence file", "dir=\"%s\"", s->dir);
	} else if (v > s->st.next_seq) {
		s->st.next_seq = v;
	}
	vig_buf_release(&b);
	return VIG_OK;
}

struct vig_spool *vig_spool_open(const char *dir, uint64_t max_bytes, char *errbuf)
{
	struct vig_spool *s;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		vig_errf(errbuf, VIG_EIO, "spool: cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	s->max_bytes = max_bytes ? max_bytes : VIG_SPOOL_DEFAULT_MAX;
	s->st.next_seq = 1;
	s->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dir_fd < 0) {
		vig_errf(errbuf, VIG_EIO, "spool: cannot open %s: %s", dir, strerror(errno));
		goto out_free;
	}
	if (vig_spool_scan(s, errbuf) != VIG_OK || vig_seq_load(s, errbuf) != VIG_OK)
		goto out_free;
	if (s->st.corrupt)
		vig_warn("agent", "spool: torn batches removed", "dir=\"%s\" count=%llu", dir,
			 (unsigned long long)s->st.corrupt);
	return s;
out_free:
	vig_spool_free(s);
	return NULL;
}

void vig_spool_free(struct vig_spool *s)
{
	if (!s)
		return;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s->items);
	free(s->dir);
	free(s);
}

/* Drops the oldest batch, counting its events. */
static void vig_spool_drop_oldest(struct vig_spool *s)
{
	struct vig_spool_item *it = &s->items[s->head];
	char path[VIG_AGENT_PATH_MAX], *name;
	struct vig_buf zst, raw;

	vig_spool_path(s, it->seq, path, sizeof(path));
	name = strrchr(path, '/') + 1;
	vig_buf_init(&zst, VIG_SPOOL_MAX_FILE + 1);
	vig_buf_init(&raw, VIG_SPOOL_MAX_FILE + 1);
	if (vig_read_file(s->dir_fd, name, VIG_SPOOL_MAX_FILE, &zst, NULL) == VIG_OK &&
	    vig_spool_decompress(zst.data, zst.len, VIG_SPOOL_MAX_FILE, &raw, NULL) == VIG_OK) {
		for (size_t i = 0; i < raw.len; i++)
			s->st.dropped_events += raw.data[i] == '\n';
	}
	vig_buf_release(&zst);
	vig_buf_release(&raw);
	unlinkat(s->dir_fd, name, 0);
	s->st.dropped_batches++;
	vig_warn("agent", "spool full: oldest batch dropped", "seq=%llu bytes=%llu dropped_batches=%llu",
		 (unsigned long long)it->seq, (unsigned long long)it->bytes,
		 (unsigned long long)s->st.dropped_batches);
	vig_index_pop(s);
}

enum vig_err vig_spool_put(struct vig_spool *s, const void *ndjson, size_t len, uint32_t n_events,
			   uint64_t *seq, char *errbuf)
{
	char path[VIG_AGENT_PATH_MAX], num[32];
	size_t bound = ZSTD_compressBound(len), zlen;
	enum vig_err err;
	uint64_t my_seq;
	void *z;

	(void)n_events;
	if (len > VIG_SPOOL_MAX_FILE)
		return vig_errf(errbuf, VIG_ETOOBIG, "spool: batch of %zu bytes is too large", len);
	z = malloc(bound);
	if (!z)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	zlen = ZSTD_compress(z, bound, ndjson, len, 3);
	if (ZSTD_isError(zlen)) {
		free(z);
		return vig_errf(errbuf, VIG_EINTERNAL, "spool: zstd: %s", ZSTD_getErrorName(zlen));
	}
	if (zlen > s->max_bytes) {
		free(z);
		return vig_errf(errbuf, VIG_ETOOBIG, "spool: a batch of %zu bytes exceeds the bound of %llu",
				zlen, (unsigned long long)s->max_bytes);
	}
	while (s->st.batches && s->st.bytes + zlen > s->max_bytes)
		vig_spool_drop_oldest(s);
	my_seq = s->st.next_seq;
	vig_spool_path(s, my_seq, path, sizeof(path));
	err = vig_agent_write_at(s->dir_fd, strrchr(path, '/') + 1, z, zlen, 0600, errbuf);
	free(z);
	if (err != VIG_OK)
		return err;
	s->st.next_seq++;
	snprintf(num, sizeof(num), "%llu\n", (unsigned long long)s->st.next_seq);
	err = vig_agent_write_at(s->dir_fd, "seq", num, strlen(num), 0600, errbuf);
	if (err != VIG_OK)
		vig_warn("agent", "spool: sequence not saved (batch names still carry it)", "err=\"%s\"",
			 errbuf ? errbuf : "");
	if (vig_index_push(s, my_seq, zlen, vig_time_now()) != VIG_OK)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	s->st.written++;
	if (seq)
		*seq = my_seq;
	return VIG_OK;
}

enum vig_err vig_spool_peek(struct vig_spool *s, uint64_t *seq, struct vig_buf *zst, char *errbuf)
{
	while (s->head < s->n) {
		struct vig_spool_item *it = &s->items[s->head];
		char path[VIG_AGENT_PATH_MAX];
		enum vig_err err;

		vig_spool_path(s, it->seq, path, sizeof(path));
		err = vig_read_file(s->dir_fd, strrchr(path, '/') + 1, VIG_SPOOL_MAX_FILE, zst, errbuf);
		if (err == VIG_ENOMEM)
			return err;
		if (err == VIG_OK && vig_zst_whole(zst->data, zst->len)) {
			*seq = it->seq;
			return VIG_OK;
		}
		vig_warn("agent", "spool: batch vanished or unreadable", "file=\"%s\"", path);
		unlinkat(s->dir_fd, strrchr(path, '/') + 1, 0);
		s->st.corrupt++;
		vig_index_pop(s);
	}
	vig_buf_reset(zst);
	return vig_errf(errbuf, VIG_ENOTFOUND, "spool: empty");
}

enum vig_err vig_spool_ack(struct vig_spool *s, uint64_t seq, char *errbuf)
{
	char path[VIG_AGENT_PATH_MAX];
	size_t i;

	for (i = s->head; i < s->n && s->items[i].seq != seq; i++)
		;
	if (i == s->n)
		return vig_errf(errbuf, VIG_ENOTFOUND, "spool: batch %llu is not spooled",
				(unsigned long long)seq);
	vig_spool_path(s, seq, path, sizeof(path));
	if (unlinkat(s->dir_fd, strrchr(path, '/') + 1, 0) != 0 && errno != ENOENT)
		return vig_errf(errbuf, VIG_EIO, "spool: cannot delete %s: %s", path, strerror(errno));
	fsync(s->dir_fd);
	/* batches are acknowledged in order; one in the middle is moved to the head first */
	if (i != s->head) {
		struct vig_spool_item tmp = s->items[i];

		memmove(s->items + s->head + 1, s->items + s->head, (i - s->head) * sizeof(*s->items));
		s->items[s->head] = tmp;
	}
	vig_index_pop(s);
	s->st.acked++;
	return VIG_OK;
}

void vig_spool_stats(struct vig_spool *s, struct vig_spool_stats *out)
{
	*out = s->st;
	out->oldest_ns = s->head < s->n ? s->items[s->head].time_ns : 0;
}
