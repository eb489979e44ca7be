/*
 * act_quarantine.c - the "quarantine" and "restore" response actions.
 *
 * quarantine moves a regular file into STATE/quarantine/<id>/file (id: 32 random hex digits)
 * and writes STATE/quarantine/<id>/meta.json with what is needed to put it back: the original
 * path, sha256, size, mode, owner and mtime. The quarantined copy is made 0400, so it can no
 * longer be executed. On one filesystem the move is a rename; across filesystems the file is
 * copied to a temporary name, fsynced, renamed into place and only then is the original
 * unlinked, so a crash leaves at worst two copies, never none.
 *
 * restore puts the file back at its original path (refused when something exists there, or
 * when the quarantined content no longer has the recorded sha256), then gives it back its owner,
 * mode and mtime and removes the quarantine entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "act_int.h"
#include "common/vtime.h"

#define VIG_Q_META_MAX (64u << 10)

/* dir + "/" + name into out; VIG_ETOOBIG when it does not fit. */
static enum vig_err vig_q_join(char *out, size_t cap, const char *dir, const char *name, char *errbuf)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= cap)
		return vig_errf(errbuf, VIG_ETOOBIG, "path too long");
	return VIG_OK;
}

static enum vig_err vig_q_fsync_dir(const char *dir, char *errbuf)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "open %s: %s", dir, strerror(errno));
	if (fsync(fd) != 0 && errno != EINVAL) {
		close(fd);
		return vig_errf(errbuf, VIG_EIO, "fsync %s: %s", dir, strerror(errno));
	}
	close(fd);
	return VIG_OK;
}

/* Copies what src_fd holds into a new file dst (must not exist) with mode, fsynced. The new file
 * is removed again on failure. */
static enum vig_err vig_q_copy(int src_fd, const char *dst, mode_t mode, char *errbuf)
{
	char *buf = malloc(VIG_ACT_CHUNK_BYTES);
	enum vig_err err = VIG_OK;
	int fd = -1;
	ssize_t n;

	if (!buf)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		err = vig_errf(errbuf, errno == EEXIST ? VIG_EEXIST : VIG_EIO, "create %s: %s", dst, strerror(errno));
		goto out_free;
	}
	if (lseek(src_fd, 0, SEEK_SET) < 0) {
		err = vig_errf(errbuf, VIG_EIO, "seek: %s", strerror(errno));
		goto out_unlink;
	}
	while ((n = read(src_fd, buf, VIG_ACT_CHUNK_BYTES)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = vig_errf(errbuf, VIG_EIO, "read: %s", strerror(errno));
			goto out_unlink;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = vig_errf(errbuf, VIG_EIO, "write %s: %s", dst, strerror(errno));
				goto out_unlink;
			}
			off += w;
		}
	}
	if (fsync(fd) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "fsync %s: %s", dst, strerror(errno));
		goto out_unlink;
	}
	close(fd);
	free(buf);
	return VIG_OK;
out_unlink:
	close(fd);
	unlink(dst);
out_free:
	free(buf);
	return err;
}

/* Moves src to dst (which must not exist): rename on one filesystem, else copy + fsync + rename
 * + unlink of src. tmp is the temporary name used for the copy (next to dst). */
static enum vig_err vig_q_move(const char *src, const char *dst, const char *tmp, mode_t copy_mode, char *errbuf)
{
	enum vig_err err;
	int fd;

	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
		return VIG_OK;
	if (errno == EEXIST)
		return vig_errf(errbuf, VIG_EEXIST, "%s exists", dst);
	if (errno == EINVAL || errno == ENOSYS) { /* a filesystem without RENAME_NOREPLACE */
		if (link(src, dst) == 0) {
			unlink(src);
			return VIG_OK;
		}
		if (errno == EEXIST)
			return vig_errf(errbuf, VIG_EEXIST, "%s exists", dst);
	}
	if (errno != EXDEV && errno != EPERM && errno != ENOTSUP)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "move %s: %s", src, strerror(errno));
	fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "open %s: %s", src, strerror(errno));
	err = vig_q_copy(fd, tmp, copy_mode, errbuf);
	close(fd);
	if (err != VIG_OK)
		return err;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE) != 0 && (errno != EINVAL || link(tmp, dst) != 0)) {
		err = vig_errf(errbuf, errno == EEXIST ? VIG_EEXIST : VIG_EIO, "rename %s: %s", dst, strerror(errno));
		unlink(tmp);
		return err;
	}
	unlink(tmp); /* after link(); a no-op after a rename */
	if (unlink(src) != 0)
		return vig_errf(errbuf, VIG_EIO, "unlink %s: %s (a copy was made)", src, strerror(errno));
	return VIG_OK;
}

static bool vig_q_id_ok(const char *id)
{
	if (strlen(id) != 32)
		return false;
	for (size_t i = 0; i < 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static enum vig_err vig_q_write_meta(const char *qdir, json_t *meta, char *errbuf)
{
	char path[VIG_ACT_MAX_PATH + 64], tmp[VIG_ACT_MAX_PATH + 64];
	enum vig_err err;
	char *s = json_dumps(meta, JSON_SORT_KEYS | JSON_INDENT(2));
	size_t n, off = 0;
	int fd;

	if (!s)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = vig_q_join(path, sizeof(path), qdir, "meta.json", errbuf);
	if (err == VIG_OK)
		err = vig_q_join(tmp, sizeof(tmp), qdir, "meta.json.tmp", errbuf);
	if (err != VIG_OK)
		goto out_free;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = vig_errf(errbuf, VIG_EIO, "create %s: %s", tmp, strerror(errno));
		goto out_free;
	}
	n = strlen(s);
	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (off != n || fsync(fd) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out_free;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out_free;
	}
	err = vig_q_fsync_dir(qdir, errbuf);
out_free:
	free(s);
	return err;
}

static json_t *vig_q_mode_json(mode_t mode)
{
	char s[8];

	snprintf(s, sizeof(s), "%04o", (unsigned)(mode & 07777));
	return json_string(s);
}

enum vig_err vig_act_quarantine(const struct vig_action_env *env, const char *action_id, json_t *params,
				json_t **result, char *errbuf)
{
	static const char *const known[] = {"path", NULL};
	char root[VIG_ACT_MAX_PATH], qdir[VIG_ACT_MAX_PATH], qfile[VIG_ACT_MAX_PATH + 64],
		qtmp[VIG_ACT_MAX_PATH + 64], id[33], sha[65];
	uint8_t rnd[16];
	const char *path;
	json_t *meta = NULL;
	struct stat st, qst;
	enum vig_err err;
	int fd = -1;

	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_path(params, "path", &path, errbuf);
	if (err != VIG_OK)
		return err;
	if (!env->state_dir)
		return vig_errf(errbuf, VIG_EINVAL, "agent has no state directory");
	if (strncmp(path, env->state_dir, strlen(env->state_dir)) == 0 && path[strlen(env->state_dir)] == '/')
		return vig_errf(errbuf, VIG_EINVAL, "refusing to quarantine the agent's own state");
	if (lstat(path, &st) != 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vig_errf(errbuf, VIG_EINVAL, "%s is not a regular file", path);
	err = vig_random(rnd, sizeof(rnd));
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "no randomness");
	vig_hex(rnd, sizeof(rnd), id);
	err = vig_q_join(root, sizeof(root), env->state_dir, "quarantine", errbuf);
	if (err == VIG_OK)
		err = vig_q_join(qdir, sizeof(qdir), root, id, errbuf);
	if (err == VIG_OK)
		err = vig_q_join(qfile, sizeof(qfile), qdir, "file", errbuf);
	if (err == VIG_OK)
		err = vig_q_join(qtmp, sizeof(qtmp), qdir, "file.tmp", errbuf);
	if (err != VIG_OK)
		return err;
	if (mkdir(root, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "mkdir %s: %s", root, strerror(errno));
	if (mkdir(qdir, 0700) != 0)
		return vig_errf(errbuf, VIG_EIO, "mkdir %s: %s", qdir, strerror(errno));
	err = vig_q_move(path, qfile, qtmp, 0400, errbuf);
	if (err != VIG_OK)
		goto out_rmdir;
	fd = open(qfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &qst) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "open %s: %s", qfile, strerror(errno));
		goto out_undo;
	}
	if (fchmod(fd, 0400) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "chmod %s: %s", qfile, strerror(errno));
		goto out_undo;
	}
	err = vig_act_sha256_fd(fd, UINT64_MAX, sha, errbuf);
	if (err != VIG_OK)
		goto out_undo;
	meta = json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:I, s:o, s:I, s:I, s:o}", "quarantine_id", id, "path",
			 path, "sha256", sha, "size", (json_int_t)qst.st_size, "mode", vig_q_mode_json(st.st_mode),
			 "uid", (json_int_t)st.st_uid, "gid", (json_int_t)st.st_gid, "mtime",
			 vig_act_time_json(st.st_mtim.tv_sec, st.st_mtim.tv_nsec), "mtime_ns",
			 (json_int_t)(st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec), "mode_bits",
			 (json_int_t)(st.st_mode & 07777), "quarantined",
			 vig_act_time_json(vig_time_now() / VIG_NS_PER_SEC, 0));
	*result = json_deep_copy(meta);
	if (!meta || !*result) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_undo;
	}
	json_object_del(*result, "mtime_ns");
	json_object_del(*result, "mode_bits");
	json_object_del(*result, "quarantined");
	err = vig_q_write_meta(qdir, meta, errbuf);
	if (err != VIG_OK)
		goto out_undo;
	close(fd);
	json_decref(meta);
	return VIG_OK;
out_undo:
	/* The file is in quarantine but its record could not be made: put it back. */
	if (fd >= 0)
		close(fd);
	json_decref(meta);
	json_decref(*result);
	*result = NULL;
	{
		char e2[VIG_ERRBUF_SIZE];

		if (vig_q_move(qfile, path, qtmp, st.st_mode & 07777, e2) == VIG_OK)
			chmod(path, st.st_mode & 07777);
	}
out_rmdir:
	rmdir(qdir);
	return err;
}

/* Reads STATE/quarantine/<id>/meta.json. */
static enum vig_err vig_q_read_meta(const char *qdir, json_t **meta, char *errbuf)
{
	char path[VIG_ACT_MAX_PATH + 64];
	json_error_t jerr;
	struct stat st;
	enum vig_err err = vig_q_join(path, sizeof(path), qdir, "meta.json", errbuf);

	if (err != VIG_OK)
		return err;
	if (stat(path, &st) != 0)
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such quarantine entry");
	if (st.st_size > VIG_Q_META_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "quarantine record too large");
	*meta = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!*meta || !json_is_object(*meta)) {
		json_decref(*meta);
		*meta = NULL;
		return vig_errf(errbuf, VIG_EPARSE, "quarantine record unreadable: %s", jerr.text);
	}
	return VIG_OK;
}

enum vig_err vig_act_unquarantine(const struct vig_action_env *env, const char *action_id, json_t *params,
				  json_t **result, char *errbuf)
{
	static const char *const known[] = {"quarantine_id", NULL};
	char root[VIG_ACT_MAX_PATH], qdir[VIG_ACT_MAX_PATH], qfile[VIG_ACT_MAX_PATH + 64],
		tmp[VIG_ACT_MAX_PATH + 64], meta_path[VIG_ACT_MAX_PATH + 64], sha[65];
	const char *id, *path, *want_sha;
	json_t *meta = NULL;
	struct timespec times[2];
	struct stat st;
	enum vig_err err;
	int fd;

	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_str(params, "quarantine_id", true, 32, &id, errbuf);
	if (err != VIG_OK)
		return err;
	if (!vig_q_id_ok(id))
		return vig_errf(errbuf, VIG_EINVAL, "parameter quarantine_id must be 32 lowercase hex digits");
	if (!env->state_dir)
		return vig_errf(errbuf, VIG_EINVAL, "agent has no state directory");
	err = vig_q_join(root, sizeof(root), env->state_dir, "quarantine", errbuf);
	if (err == VIG_OK)
		err = vig_q_join(qdir, sizeof(qdir), root, id, errbuf);
	if (err == VIG_OK)
		err = vig_q_join(qfile, sizeof(qfile), qdir, "file", errbuf);
	if (err == VIG_OK)
		err = vig_q_join(meta_path, sizeof(meta_path), qdir, "meta.json", errbuf);
	if (err == VIG_OK)
		err = vig_q_read_meta(qdir, &meta, errbuf);
	if (err != VIG_OK)
		return err;
	path = json_string_value(json_object_get(meta, "path"));
	want_sha = json_string_value(json_object_get(meta, "sha256"));
	if (!path || path[0] != '/' || !want_sha || !json_is_integer(json_object_get(meta, "mode_bits")) ||
	    !json_is_integer(json_object_get(meta, "uid")) || !json_is_integer(json_object_get(meta, "gid")) ||
	    !json_is_integer(json_object_get(meta, "mtime_ns"))) {
		err = vig_errf(errbuf, VIG_EPARSE, "quarantine record incomplete");
		goto out_free;
	}
	if (lstat(path, &st) == 0) {
		err = vig_errf(errbuf, VIG_EEXIST, "%s exists", path);
		goto out_free;
	}
	fd = open(qfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = vig_errf(errbuf, VIG_EIO, "open %s: %s", qfile, strerror(errno));
		goto out_free;
	}
	err = vig_act_sha256_fd(fd, UINT64_MAX, sha, errbuf);
	close(fd);
	if (err != VIG_OK)
		goto out_free;
	if (strcmp(sha, want_sha) != 0) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "quarantined file does not match its sha256");
		goto out_free;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.vigil-restore", path) >= (int)sizeof(tmp)) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "path too long");
		goto out_free;
	}
	err = vig_q_move(qfile, path, tmp, 0600, errbuf);
	if (err != VIG_OK)
		goto out_free;
	/* Owner first: chown clears set-id bits that chmod then sets again. */
	if (lchown(path, (uid_t)json_integer_value(json_object_get(meta, "uid")),
		   (gid_t)json_integer_value(json_object_get(meta, "gid"))) != 0 ||
	    chmod(path, (mode_t)json_integer_value(json_object_get(meta, "mode_bits")) & 07777) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "restoring owner and mode of %s: %s", path, strerror(errno));
		goto out_free;
	}
	times[0].tv_sec = 0;
	times[0].tv_nsec = UTIME_OMIT;
	times[1].tv_sec = (time_t)(json_integer_value(json_object_get(meta, "mtime_ns")) / VIG_NS_PER_SEC);
	times[1].tv_nsec = (long)(json_integer_value(json_object_get(meta, "mtime_ns")) % VIG_NS_PER_SEC);
	if (utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "restoring mtime of %s: %s", path, strerror(errno));
		goto out_free;
	}
	unlink(meta_path);
	rmdir(qdir);
	*result = json_pack("{s:s, s:s}", "path", path, "sha256", sha);
	if (!*result)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	json_decref(meta);
	return err;
}
