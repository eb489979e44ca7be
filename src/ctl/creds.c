/*
 * creds.c - reading and writing vigilctl's credentials file (see creds.h).
 *
 * The file holds a secret, so it is created 0600 from the start (never chmod'ed after the
 * fact), written to a temporary file in the same directory and renamed over the old one, so
 * that a crash leaves either the old or the new file, never half of one.
 */
#include "creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"

enum vig_err vig_ctl_creds_path(char *out, size_t n, char *errbuf)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int len;

	if (xdg && xdg[0] == '/')
		len = snprintf(out, n, "%s/vigil/credentials", xdg);
	else if (home && *home)
		len = snprintf(out, n, "%s/.config/vigil/credentials", home);
	else
		return vig_errf(errbuf, VIG_ENOTFOUND, "neither HOME nor XDG_CONFIG_HOME is set");
	if (len < 0 || (size_t)len >= n)
		return vig_errf(errbuf, VIG_ETOOBIG, "credentials path too long");
	return VIG_OK;
}

static bool set_field(char *dst, size_t dstsz, const char *v, size_t n)
{
	if (n >= dstsz)
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

/* Applies one "key=value" line; false when the value does not fit. */
static bool apply_line(struct vig_ctl_creds *c, const char *line, size_t n)
{
	const char *eq = memchr(line, '=', n);
	size_t klen, vlen;
	const char *v;

	if (!eq)
		return false;
	klen = (size_t)(eq - line);
	v = eq + 1;
	vlen = n - klen - 1;
#define KEY_IS(k) (klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
	if (KEY_IS("url"))
		return set_field(c->url, sizeof(c->url), v, vlen);
	if (KEY_IS("token"))
		return set_field(c->token, sizeof(c->token), v, vlen);
	if (KEY_IS("token_id"))
		return set_field(c->token_id, sizeof(c->token_id), v, vlen);
	if (KEY_IS("cacert"))
		return set_field(c->cacert, sizeof(c->cacert), v, vlen);
	if (KEY_IS("insecure")) {
		c->insecure = vlen == 1 && v[0] == '1';
		return true;
	}
#undef KEY_IS
	return true; /* unknown key: ignored */
}

enum vig_err vig_ctl_creds_load(const char *path, struct vig_ctl_creds *c, char *errbuf)
{
	char data[VIG_CTL_CREDS_MAX_BYTES + 1];
	struct stat st;
	ssize_t got;
	size_t len = 0, line_no = 1;
	int fd;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return vig_errf(errbuf, VIG_ENOTFOUND, "no credentials at %s", path);
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077))
		fprintf(stderr, "vigilctl: warning: %s is readable by other users (chmod 600 it)\n",
			path);
	while (len < sizeof(data) && (got = read(fd, data + len, sizeof(data) - len)) > 0)
		len += (size_t)got;
	close(fd);
	if (len > VIG_CTL_CREDS_MAX_BYTES)
		return vig_errf(errbuf, VIG_EPARSE, "%s is larger than %d bytes", path,
				VIG_CTL_CREDS_MAX_BYTES);
	for (size_t pos = 0; pos < len; line_no++) {
		const char *line = data + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;

		pos += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (!apply_line(c, line, n))
			return vig_errf(errbuf, VIG_EPARSE, "%s:%zu: malformed line", path, line_no);
	}
	return VIG_OK;
}

/* Creates the parent directory of path (one level, mode 0700) when missing. */
static enum vig_err make_parent(const char *path, char *errbuf)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash || slash == path)
		return VIG_OK;
	n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return vig_errf(errbuf, VIG_ETOOBIG, "path too long");
	memcpy(dir, path, n);
	dir[n] = '\0';
	for (size_t i = 1; i <= n; i++) { /* mkdir -p */
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		char saved = dir[i];
		dir[i] = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
		dir[i] = saved;
	}
	return VIG_OK;
}

enum vig_err vig_ctl_creds_save(const char *path, const struct vig_ctl_creds *c, char *errbuf)
{
	struct vig_buf text, tmp;
	enum vig_err err = VIG_OK;
	int fd = -1;

	vig_buf_init(&text, VIG_CTL_CREDS_MAX_BYTES);
	vig_buf_init(&tmp, 4096);
	if (strchr(c->url, '\n') || strchr(c->token, '\n') || strchr(c->token_id, '\n') ||
	    strchr(c->cacert, '\n')) {
		err = vig_errf(errbuf, VIG_EINVAL, "credentials must not contain newlines");
		goto out_release;
	}
	vig_buf_printf(&text, "# vigilctl credentials, written by 'vigilctl login'\n"
			      "url=%s\ntoken=%s\ntoken_id=%s\ncacert=%s\ninsecure=%d\n",
		       c->url, c->token, c->token_id, c->cacert, c->insecure ? 1 : 0);
	vig_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	if (vig_buf_err(&text) != VIG_OK || vig_buf_err(&tmp) != VIG_OK) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "credentials too long");
		goto out_release;
	}
	err = make_parent(path, errbuf);
	if (err != VIG_OK)
		goto out_release;
	fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", tmp.data, strerror(errno));
		goto out_release;
	}
	if (write(fd, text.data, text.len) != (ssize_t)text.len || fsync(fd) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot write %s: %s", tmp.data, strerror(errno));
		goto out_unlink_tmp;
	}
	if (close(fd) != 0) {
		fd = -1;
		err = vig_errf(errbuf, VIG_EIO, "cannot write %s: %s", tmp.data, strerror(errno));
		goto out_unlink_tmp;
	}
	fd = -1;
	if (rename(tmp.data, path) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot rename to %s: %s", path, strerror(errno));
		goto out_unlink_tmp;
	}
	goto out_release;

out_unlink_tmp:
	if (fd >= 0)
		close(fd);
	unlink(tmp.data);
out_release:
	vig_buf_release(&text);
	vig_buf_release(&tmp);
	return err;
}

enum vig_err vig_ctl_creds_remove(const char *path, char *errbuf)
{
	if (unlink(path) != 0 && errno != ENOENT)
		return vig_errf(errbuf, VIG_EIO, "cannot remove %s: %s", path, strerror(errno));
	return VIG_OK;
}
