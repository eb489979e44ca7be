/*
 * tail.c - log file forwarding (--tail PATH[:FORMAT]): follows files the way `tail -F` does and
 * turns each record into an event with the project's parsers (src/parse).
 *
 * One thread polls every file every poll_ms:
 *   - reads what was appended (at most VIG_TAIL_READ_MAX bytes a round per file), splits it into
 *     lines (or, for FORMAT wtmp, into struct utmp records); a line longer than
 *     VIG_PARSE_MAX_LINE is cut there and counted;
 *   - rotation: when PATH now names another inode (or nothing), the old file is read to its end
 *     first, then the new file is opened and read from its start;
 *   - truncation: when the file became shorter than the position, reading restarts at 0;
 *   - the position (inode, offset of the last whole record) is saved to
 *     STATE/tail/<sha256(path)[0:16]>.json at most once a second and at stop, so a restart
 *     continues where the last run stopped (from the start of the file when its inode changed
 *     meanwhile; from the end for a file never seen before).
 * Parsed events get host.id/host.name when the line had none and the extension field
 * log.file.path; a record the parser refuses is still forwarded (message kept, event.dataset
 * "vigil.tail") and counted as failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#include <jansson.h>

#include "common/log.h"
#include "common/vtime.h"
#include "parse/parse.h"
#include "transport.h"

#define VIG_TAIL_READ_MAX (4u << 20) /* bytes read per file per round */
#define TAIL_TRY(x)                              \
	do {                                     \
		enum vig_err tail_err_ = (x);    \
		if (tail_err_ != VIG_OK)         \
			return tail_err_;        \
	} while (0)

struct vig_tail_one {
	struct vig_tail_file spec;
	const struct vig_parser *parser; /* NULL: auto (or wtmp) */
	bool wtmp;
	int fd;
	uint64_t ino, dev;
	uint64_t off;              /* offset after the last whole record */
	uint64_t rpos;             /* offset of the next read (off + pending bytes) */
	uint64_t saved_off, saved_ino;
	char state_path[VIG_AGENT_PATH_MAX];
	struct vig_buf partial;    /* bytes of an incomplete record */
	bool skipping;             /* inside an over-long line: drop until its newline */
	struct vig_parse_ctx pctx;
};

struct vig_tail {
	struct vig_tail_one *files;
	size_t n;
	struct vig_forward_sink sink;
	int poll_ms;
	struct vig_arena arena;
	struct vig_event ev;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	pthread_t thread;
	_Atomic uint64_t lines, failed, rotations;
};

enum vig_err vig_tail_spec_parse(const char *spec, struct vig_tail_file *out, char *errbuf)
{
	const char *colon = strrchr(spec, ':');
	size_t plen = colon ? (size_t)(colon - spec) : strlen(spec);

	memset(out, 0, sizeof(*out));
	if (spec[0] != '/' || plen == 0 || plen >= sizeof(out->path))
		return vig_errf(errbuf, VIG_EINVAL, "--tail takes an absolute path[:format]");
	memcpy(out->path, spec, plen);
	snprintf(out->format, sizeof(out->format), "%s", colon ? colon + 1 : "auto");
	if (strcmp(out->format, "auto") != 0 && strcmp(out->format, "wtmp") != 0 &&
	    !vig_parser_find(out->format))
		return vig_errf(errbuf, VIG_EINVAL, "--tail %s: unknown format %s", out->path, out->format);
	return VIG_OK;
}

/* ---- wtmp ---- */

enum vig_err vig_wtmp_to_event(const void *rec, size_t n, struct vig_event *ev)
{
	struct utmp u;
	char user[sizeof(u.ut_user) + 1], line[sizeof(u.ut_line) + 1], host[sizeof(u.ut_host) + 1];
	char msg[512];
	bool login;
	int64_t ts;

	if (n < sizeof(u))
		return VIG_EINVAL;
	memcpy(&u, rec, sizeof(u));
	if (u.ut_type != USER_PROCESS && u.ut_type != DEAD_PROCESS)
		return VIG_ENOTFOUND;
	login = u.ut_type == USER_PROCESS;
	snprintf(user, sizeof(user), "%.*s", (int)sizeof(u.ut_user), u.ut_user);
	snprintf(line, sizeof(line), "%.*s", (int)sizeof(u.ut_line), u.ut_line);
	snprintf(host, sizeof(host), "%.*s", (int)sizeof(u.ut_host), u.ut_host);
	ts = (int64_t)u.ut_tv.tv_sec * VIG_NS_PER_SEC + (int64_t)u.ut_tv.tv_usec * 1000;
	snprintf(msg, sizeof(msg), "wtmp %s user=%s line=%s host=%s pid=%d", login ? "login" : "logout", user,
		 line, host, (int)u.ut_pid);
	TAIL_TRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ts));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_MESSAGE, msg));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_KIND, "event"));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, "session"));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_TYPE, login ? "start" : "end"));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_ACTION, login ? "user_login" : "user_logout"));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_OUTCOME, "success"));
	TAIL_TRY(vig_event_set_cstr(ev, VIG_F_EVENT_DATASET, "login.wtmp"));
	TAIL_TRY(vig_event_set_int(ev, VIG_F_PROCESS_PID, u.ut_pid));
	if (user[0]) {
		TAIL_TRY(vig_event_set_cstr(ev, VIG_F_USER_NAME, user));
		TAIL_TRY(vig_event_list_add(ev, VIG_F_RELATED_USER, user, strlen(user)));
	}
	if (line[0])
		TAIL_TRY(vig_event_ext_str(ev, "login.tty", line, strlen(line)));
	if (host[0]) {
		if (vig_event_set_ip(ev, VIG_F_SOURCE_IP, host, strlen(host)) == VIG_OK)
			TAIL_TRY(vig_event_list_add(ev, VIG_F_RELATED_IP, host, strlen(host)));
		else
			TAIL_TRY(vig_event_set_cstr(ev, VIG_F_SOURCE_DOMAIN, host));
	}
	return VIG_OK;
}

/* ---- positions ---- */

static void vig_tail_state_load(struct vig_tail_one *f, bool *known, uint64_t *ino, uint64_t *off)
{
	json_t *doc = json_load_file(f->state_path, 0, NULL);
	const char *path = json_string_value(json_object_get(doc, "path"));

	*known = false;
	if (path && strcmp(path, f->spec.path) == 0 && json_is_integer(json_object_get(doc, "inode")) &&
	    json_is_integer(json_object_get(doc, "offset"))) {
		*known = true;
		*ino = (uint64_t)json_integer_value(json_object_get(doc, "inode"));
		*off = (uint64_t)json_integer_value(json_object_get(doc, "offset"));
	}
	json_decref(doc);
}

static void vig_tail_state_save(struct vig_tail_one *f)
{
	char tmp[VIG_AGENT_PATH_MAX + 8];
	json_t *doc;

	if (f->saved_off == f->off && f->saved_ino == f->ino)
		return;
	doc = json_pack("{s:s, s:I, s:I}", "path", f->spec.path, "inode", (json_int_t)f->ino, "offset",
			(json_int_t)f->off);
	snprintf(tmp, sizeof(tmp), "%s.tmp", f->state_path);
	if (doc && json_dump_file(doc, tmp, JSON_COMPACT) == 0 && rename(tmp, f->state_path) == 0) {
		f->saved_off = f->off;
		f->saved_ino = f->ino;
	} else {
		vig_warn("agent", "tail: cannot save the position", "file=\"%s\"", f->state_path);
	}
	json_decref(doc);
}

/* ---- records ---- */

static void vig_tail_emit(struct vig_tail *t, struct vig_tail_one *f, const char *rec, size_t n)
{
	char errbuf[VIG_ERRBUF_SIZE];
	enum vig_err err;

	vig_event_clear(&t->ev);
	vig_arena_reset(&t->arena);
	if (f->wtmp) {
		err = vig_wtmp_to_event(rec, n, &t->ev);
		if (err == VIG_ENOTFOUND)
			return; /* boot, run level, ... records */
	} else {
		while (n && rec[n - 1] == '\r')
			n--;
		if (!n)
			return;
		err = f->parser ? f->parser->parse(&f->pctx, rec, n, &t->ev, errbuf)
				: vig_parse_auto(&f->pctx, rec, n, &t->ev, NULL, errbuf);
		if (err == VIG_ENOTFOUND)
			return;
	}
	if (err != VIG_OK) {
		t->failed++;
		if (f->wtmp)
			return;
		/* the parser kept the message; forward it as a plain log line */
		if (!vig_event_get(&t->ev, VIG_F_MESSAGE))
			vig_event_set_text(&t->ev, VIG_F_MESSAGE, rec, n);
		if (!vig_event_get(&t->ev, VIG_F_EVENT_DATASET))
			vig_event_set_cstr(&t->ev, VIG_F_EVENT_DATASET, "vigil.tail");
	}
	if (!vig_event_get(&t->ev, VIG_F_TIMESTAMP))
		vig_event_set_ts(&t->ev, VIG_F_TIMESTAMP, vig_time_now());
	if (!vig_event_get(&t->ev, VIG_F_HOST_ID))
		vig_event_set_cstr(&t->ev, VIG_F_HOST_ID, t->sink.host->id);
	if (!vig_event_get(&t->ev, VIG_F_HOST_NAME))
		vig_event_set_cstr(&t->ev, VIG_F_HOST_NAME, t->sink.host->name);
	vig_event_ext_str(&t->ev, "log.file.path", f->spec.path, strlen(f->spec.path));
	t->lines++;
	t->sink.emit(t->sink.ctx, &t->ev);
}

/* Consumes data read at file position pos: whole records are emitted and move f->off past
 * them; the rest waits in f->partial. */
static void vig_tail_feed(struct vig_tail *t, struct vig_tail_one *f, const char *data, size_t n,
			  uint64_t pos)
{
	if (f->wtmp) {
		while (n) {
			size_t take = VIG_MIN(n, sizeof(struct utmp) - f->partial.len);

			vig_buf_add(&f->partial, data, take);
			data += take;
			n -= take;
			pos += take;
			if (f->partial.len == sizeof(struct utmp)) {
				vig_tail_emit(t, f, f->partial.data, f->partial.len);
				f->off = pos;
				vig_buf_reset(&f->partial);
			}
		}
		return;
	}
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (f->skipping) {
			/* rest of an over-long line: dropped */
		} else if (f->partial.len + take > VIG_PARSE_MAX_LINE) {
			vig_buf_add(&f->partial, data, VIG_PARSE_MAX_LINE - f->partial.len);
			vig_tail_emit(t, f, f->partial.data, f->partial.len);
			t->failed++;
			vig_buf_reset(&f->partial);
			f->skipping = true;
		} else {
			vig_buf_add(&f->partial, data, take);
		}
		if (!nl)
			break;
		if (!f->skipping)
			vig_tail_emit(t, f, f->partial.data ? f->partial.data : "", f->partial.len);
		vig_buf_reset(&f->partial);
		f->skipping = false;
		pos += take + 1;
		f->off = pos;
		data = nl + 1;
		n -= take + 1;
	}
}

/* Reads what is appended to f; returns bytes read. */
static size_t vig_tail_read(struct vig_tail *t, struct vig_tail_one *f)
{
	char buf[65536];
	size_t total = 0;

	while (total < VIG_TAIL_READ_MAX) {
		ssize_t r = pread(f->fd, buf, sizeof(buf), (off_t)f->rpos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		total += (size_t)r;
		vig_tail_feed(t, f, buf, (size_t)r, f->rpos);
		f->rpos += (uint64_t)r;
	}
	return total;
}

static void vig_tail_open(struct vig_tail *t, struct vig_tail_one *f, bool first)
{
	struct stat st;
	uint64_t ino = 0, off = 0;
	bool known = false;
	int fd = open(f->spec.path, O_RDONLY | O_CLOEXEC);

	(void)t;
	if (fd < 0)
		return;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return;
	}
	f->fd = fd;
	f->ino = (uint64_t)st.st_ino;
	f->dev = (uint64_t)st.st_dev;
	vig_buf_reset(&f->partial);
	f->skipping = false;
	if (!first) {
		f->off = f->rpos = 0; /* a rotated-in or newly created file: from its start */
		vig_info("agent", "tailing", "file=\"%s\" format=%s offset=0", f->spec.path, f->spec.format);
		return;
	}
	vig_tail_state_load(f, &known, &ino, &off);
	if (known && ino == f->ino && off <= (uint64_t)st.st_size)
		f->off = off;
	else if (known)
		f->off = 0;
	else
		f->off = (uint64_t)st.st_size;
	if (f->wtmp)
		f->off -= f->off % sizeof(struct utmp);
	f->rpos = f->off;
	f->saved_off = f->off;
	f->saved_ino = f->ino;
	vig_info("agent", "tailing", "file=\"%s\" format=%s offset=%llu", f->spec.path, f->spec.format,
		 (unsigned long long)f->off);
}

/* One round for f: read, then look for rotation or truncation. */
static void vig_tail_round(struct vig_tail *t, struct vig_tail_one *f, bool *first)
{
	struct stat st;

	if (f->fd < 0) {
		vig_tail_open(t, f, *first);
		*first = false;
		if (f->fd < 0)
			return;
	}
	vig_tail_read(t, f);
	if (stat(f->spec.path, &st) != 0 || (uint64_t)st.st_ino != f->ino || (uint64_t)st.st_dev != f->dev) {
		vig_tail_read(t, f); /* the rest of the old file */
		close(f->fd);
		f->fd = -1;
		t->rotations++;
		vig_info("agent", "tail: file rotated", "file=\"%s\"", f->spec.path);
		vig_tail_open(t, f, false);
		if (f->fd >= 0)
			vig_tail_read(t, f);
		return;
	}
	if ((uint64_t)st.st_size < f->rpos) {
		vig_info("agent", "tail: file truncated", "file=\"%s\"", f->spec.path);
		t->rotations++;
		f->off = f->rpos = 0;
		vig_buf_reset(&f->partial);
		f->skipping = false;
		vig_tail_read(t, f);
	}
}

static void *vig_tail_main(void *arg)
{
	struct vig_tail *t = arg;
	bool *first = calloc(t->n, sizeof(bool));
	int64_t next_save = 0;

	for (size_t i = 0; first && i < t->n; i++)
		first[i] = true;
	pthread_mutex_lock(&t->mu);
	while (first && !t->stop) {
		struct timespec until;

		pthread_mutex_unlock(&t->mu);
		for (size_t i = 0; i < t->n; i++)
			vig_tail_round(t, &t->files[i], &first[i]);
		if (vig_time_mono() >= next_save) {
			for (size_t i = 0; i < t->n; i++)
				if (t->files[i].fd >= 0)
					vig_tail_state_save(&t->files[i]);
			next_save = vig_time_mono() + VIG_NS_PER_SEC;
		}
		pthread_mutex_lock(&t->mu);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)t->poll_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		if (!t->stop)
			pthread_cond_timedwait(&t->cv, &t->mu, &until);
	}
	pthread_mutex_unlock(&t->mu);
	for (size_t i = 0; i < t->n; i++)
		if (t->files[i].fd >= 0)
			vig_tail_state_save(&t->files[i]);
	free(first);
	return NULL;
}

struct vig_tail *vig_tail_start(const struct vig_tail_file *files, size_t n, const char *state_dir,
				const struct vig_forward_sink *sink, int poll_ms, char *errbuf)
{
	char dir[VIG_AGENT_PATH_MAX - 64];
	struct vig_tail *t;

	if (!n || n > VIG_TAIL_MAX_FILES) {
		vig_errf(errbuf, VIG_EINVAL, "between 1 and %d --tail files", VIG_TAIL_MAX_FILES);
		return NULL;
	}
	snprintf(dir, sizeof(dir), "%s/tail", state_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->files = calloc(n, sizeof(*t->files)))) {
		free(t);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	t->n = n;
	t->sink = *sink;
	t->poll_ms = poll_ms > 0 ? poll_ms : 250;
	vig_arena_init(&t->arena, 16 << 10, 4 << 20);
	vig_event_init(&t->ev, &t->arena);
	for (size_t i = 0; i < n; i++) {
		struct vig_tail_one *f = &t->files[i];
		uint8_t h[32];
		char hex[65];

		f->spec = files[i];
		f->fd = -1;
		f->wtmp = strcmp(f->spec.format, "wtmp") == 0;
		f->parser = f->wtmp || strcmp(f->spec.format, "auto") == 0 ? NULL : vig_parser_find(f->spec.format);
		vig_buf_init(&f->partial, VIG_PARSE_MAX_LINE + 1);
		vig_parse_ctx_init(&f->pctx, 0);
		vig_sha256(f->spec.path, strlen(f->spec.path), h);
		vig_hex(h, 8, hex);
		snprintf(f->state_path, sizeof(f->state_path), "%s/%.16s.json", dir, hex);
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->thread, NULL, vig_tail_main, t) != 0) {
		vig_errf(errbuf, VIG_EIO, "cannot start the tail thread");
		t->thread = 0;
		t->stop = true;
		vig_tail_stop(t);
		return NULL;
	}
	return t;
}

void vig_tail_counters(struct vig_tail *t, uint64_t *lines, uint64_t *failed, uint64_t *rotations)
{
	*lines = t->lines;
	*failed = t->failed;
	*rotations = t->rotations;
}

void vig_tail_stop(struct vig_tail *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	bool started = !t->stop;

	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (started)
		pthread_join(t->thread, NULL);
	for (size_t i = 0; i < t->n; i++) {
		if (t->files[i].fd >= 0)
			close(t->files[i].fd);
		vig_buf_release(&t->files[i].partial);
	}
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	vig_arena_release(&t->arena);
	free(t->files);
	free(t);
}
