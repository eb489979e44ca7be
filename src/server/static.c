/*
 * static.c - the web console's static files for vigild (see static.h for the contract).
 *
 * Path safety is layered: the percent-decoded request path is checked lexically first (no "." or
 * ".." segment, no empty segment, no backslash, no control character, no NUL escape), then both
 * the root and the candidate are canonicalised with realpath() and the candidate must lie under
 * the root followed by '/', which also defeats symlinks that point outside. The file is then
 * opened with O_NOFOLLOW and checked with fstat() (regular file, size bound) on the descriptor
 * actually read, so a file swapped after the check cannot turn into something else.
 *
 * Files are read into the reply buffer rather than added with evbuffer_add_file(): vigild's
 * connections are TLS bufferevents, which cannot use sendfile segments, and the console's files
 * are small (bounded by VIG_STATIC_MAX_FILE_BYTES).
 */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"

#define ASSETS_PREFIX "/assets/"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"
#define ETAG_CAP 64

static struct vig_static_counters counters;

static void count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

void vig_static_counters(struct vig_static_counters *out)
{
	out->served = __atomic_load_n(&counters.served, __ATOMIC_RELAXED);
	out->fallback = __atomic_load_n(&counters.fallback, __ATOMIC_RELAXED);
	out->not_modified = __atomic_load_n(&counters.not_modified, __ATOMIC_RELAXED);
	out->not_found = __atomic_load_n(&counters.not_found, __ATOMIC_RELAXED);
	out->rejected = __atomic_load_n(&counters.rejected, __ATOMIC_RELAXED);
	out->errors = __atomic_load_n(&counters.errors, __ATOMIC_RELAXED);
}

/* ---- path resolution ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Strict percent-decoding of src into dst (cap bytes, NUL-terminated); false on a malformed
 * escape, an escaped NUL, or overflow. '+' stays '+' (this is a path, not a form). */
static bool pct_decode(const char *src, char *dst, size_t cap)
{
	size_t n = 0;

	for (const char *p = src; *p; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return false;
			p += 2;
		}
		if (n + 1 >= cap)
			return false;
		dst[n++] = c;
	}
	dst[n] = '\0';
	return true;
}

/* Lexical checks on a decoded path; returns NULL when it is acceptable, else the reason. */
static const char *path_problem(const char *p)
{
	const char *seg;

	if (p[0] != '/')
		return "path does not start with /";
	for (const unsigned char *u = (const unsigned char *)p; *u; u++) {
		if (*u < 0x20 || *u == 0x7f)
			return "control character in path";
		if (*u == '\\')
			return "backslash in path";
	}
	seg = p + 1;
	while (*seg) {
		const char *end = strchr(seg, '/');
		size_t len = end ? (size_t)(end - seg) : strlen(seg);

		if (len == 0 && end)
			return "empty segment in path";
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return "dot segment in path";
		if (!end)
			break;
		seg = end + 1;
	}
	return NULL;
}

enum vig_err vig_static_resolve(const char *root_dir, const char *url_path, char *out, size_t out_cap,
				char *errbuf)
{
	char decoded[VIG_STATIC_MAX_PATH + 1];
	char root[PATH_MAX], cand[PATH_MAX + VIG_STATIC_MAX_PATH + 16], real[PATH_MAX];
	const char *why, *rel;
	size_t rlen;
	struct stat st;
	int n;

	if (!url_path || !root_dir)
		return vig_errf(errbuf, VIG_EINVAL, "no path");
	if (strlen(url_path) > VIG_STATIC_MAX_PATH)
		return vig_errf(errbuf, VIG_ETOOBIG, "path longer than %d bytes", VIG_STATIC_MAX_PATH);
	if (!pct_decode(url_path, decoded, sizeof(decoded)))
		return vig_errf(errbuf, VIG_EINVAL, "malformed percent-escape in path");
	why = path_problem(decoded);
	if (why)
		return vig_errf(errbuf, VIG_EINVAL, "%s", why);
	if (!realpath(root_dir, root))
		return vig_errf(errbuf, VIG_EIO, "console directory %s: %s", root_dir, strerror(errno));
	rel = strcmp(decoded, "/") == 0 ? "/index.html" : decoded;
	n = snprintf(cand, sizeof(cand), "%s%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(cand))
		return vig_errf(errbuf, VIG_ETOOBIG, "path too long");
	if (!realpath(cand, real)) {
		if (errno == ENOENT || errno == ENOTDIR)
			return vig_errf(errbuf, VIG_ENOTFOUND, "no such file");
		if (errno == ENAMETOOLONG)
			return vig_errf(errbuf, VIG_ETOOBIG, "path too long");
		return vig_errf(errbuf, VIG_ENOTFOUND, "cannot resolve: %s", strerror(errno));
	}
	rlen = strlen(root);
	/* realpath("/") is "/": then every absolute path is inside, which is what it means. */
	if (!(rlen == 1 && root[0] == '/') &&
	    (strncmp(real, root, rlen) != 0 || real[rlen] != '/'))
		return vig_errf(errbuf, VIG_EPERM, "path leaves the console directory");
	if (stat(real, &st) != 0)
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such file");
	if (!S_ISREG(st.st_mode))
		return vig_errf(errbuf, VIG_ENOTFOUND, "not a regular file");
	if (strlen(real) >= out_cap)
		return vig_errf(errbuf, VIG_ETOOBIG, "resolved path too long");
	memcpy(out, real, strlen(real) + 1);
	return VIG_OK;
}

/* ---- replies ---- */

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".map", "application/json"},
		{".webmanifest", "application/manifest+json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".jpeg", "image/jpeg"},
		{".gif", "image/gif"},
		{".webp", "image/webp"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".woff", "font/woff"},
		{".txt", "text/plain; charset=utf-8"},
		{".wasm", "application/wasm"},
	};
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');

	if (dot && (!slash || dot > slash)) {
		for (size_t i = 0; i < VIG_ARRAY_LEN(types); i++) {
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
		}
	}
	return "application/octet-stream";
}

static void security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "Content-Security-Policy", VIG_STATIC_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
}

/* A small error reply: JSON for API-looking paths (like vigild's), plain text otherwise. msg is
 * one of this file's constant messages or an errbuf from vig_static_resolve(); JSON replies only
 * ever carry constants, so nothing needs escaping. */
static int reply_error(struct evhttp_request *req, int status, const char *reason, const char *msg,
		       bool json)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	security_headers(h);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (json) {
		evhttp_add_header(h, "Content-Type", "application/json");
		if (body)
			evbuffer_add_printf(body, "{\"error\":\"%s\",\"code\":\"%s\"}", msg,
					    status == 404 ? "enotfound" : "einval");
	} else {
		evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
		if (body)
			evbuffer_add_printf(body, "%s\n", msg);
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD && body)
		evbuffer_drain(body, evbuffer_get_length(body));
	evhttp_send_reply(req, status, reason, body);
	if (body)
		evbuffer_free(body);
	if (status == 404)
		count(&counters.not_found);
	else if (status >= 500)
		count(&counters.errors);
	else
		count(&counters.rejected);
	return status;
}

/* True when the If-None-Match header lists etag (or is "*"). Weak comparison: a W/ prefix on
 * either side is ignored, as RFC 9110 asks for If-None-Match. */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' ||
						     p[elen] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/* Sends one file (already resolved, inside the root). */
static int send_file(struct evhttp_request *req, const char *path, const char *cache, bool fallback)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	bool head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
	struct evbuffer *body = NULL;
	char etag[ETAG_CAP], lastmod[64], len[32];
	struct stat st;
	struct tm tm;
	off_t done = 0;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		vig_warn("static", "cannot open console file", "path=%s err=\"%s\"", path, strerror(errno));
		return reply_error(req, 500, "Internal Server Error", "cannot read the file", false);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return reply_error(req, 404, "Not Found", "not found", false);
	}
	if ((uint64_t)st.st_size > VIG_STATIC_MAX_FILE_BYTES) {
		close(fd);
		vig_warn("static", "console file over the size bound", "path=%s size=%lld max=%u", path,
			 (long long)st.st_size, VIG_STATIC_MAX_FILE_BYTES);
		return reply_error(req, 500, "Internal Server Error", "file too large to serve", false);
	}
	snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	strftime(lastmod, sizeof(lastmod), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	security_headers(h);
	evhttp_add_header(h, "Cache-Control", cache);
	evhttp_add_header(h, "ETag", etag);
	evhttp_add_header(h, "Last-Modified", lastmod);
	if (inm && etag_matches(inm, etag)) {
		close(fd);
		evhttp_send_reply(req, 304, "Not Modified", NULL);
		count(&counters.not_modified);
		return 304;
	}
	evhttp_add_header(h, "Content-Type", content_type(path));
	if (head) {
		close(fd);
		snprintf(len, sizeof(len), "%lld", (long long)st.st_size);
		evhttp_add_header(h, "Content-Length", len);
		evhttp_send_reply(req, 200, "OK", NULL);
		goto counted;
	}
	body = evbuffer_new();
	if (!body) {
		close(fd);
		return reply_error(req, 500, "Internal Server Error", "out of memory", false);
	}
	while (done < st.st_size) {
		int got = evbuffer_read(body, fd, (int)VIG_MIN(st.st_size - done, (off_t)(1 << 20)));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* shrank under us: send what there is, the ETag will differ next time */
		done += got;
	}
	close(fd);
	evhttp_send_reply(req, 200, "OK", body);
	evbuffer_free(body);
counted:
	count(&counters.served);
	if (fallback)
		count(&counters.fallback);
	return 200;
}

static bool is_api_path(const char *p)
{
	return strcmp(p, "/api") == 0 || strncmp(p, "/api/", 5) == 0 || strcmp(p, "/metrics") == 0 ||
	       strncmp(p, "/metrics/", 9) == 0;
}

int vig_static_serve(struct evhttp_request *req, const char *root_dir)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char file[PATH_MAX], index[PATH_MAX], errbuf[VIG_ERRBUF_SIZE];
	enum vig_err err;

	if (!path || !*path)
		path = "/";
	if (is_api_path(path))
		return reply_error(req, 404, "Not Found", "no such endpoint", true);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		return reply_error(req, 405, "Method Not Allowed", "method not allowed", false);
	}
	err = vig_static_resolve(root_dir, path, file, sizeof(file), errbuf);
	switch (err) {
	case VIG_OK:
		return send_file(req, file,
				 strncmp(path, ASSETS_PREFIX, strlen(ASSETS_PREFIX)) == 0 ? CACHE_IMMUTABLE
											  : CACHE_REVALIDATE,
				 false);
	case VIG_EINVAL:
		return reply_error(req, 400, "Bad Request", errbuf, false);
	case VIG_ETOOBIG:
		return reply_error(req, 414, "URI Too Long", errbuf, false);
	case VIG_EIO:
		vig_warn("static", "console directory unusable", "err=\"%s\"", errbuf);
		return reply_error(req, 500, "Internal Server Error", "console not available", false);
	case VIG_EPERM:
		vig_warn("static", "path escapes the console directory", "path=%s", path);
		return reply_error(req, 404, "Not Found", "not found", false);
	default:
		break;
	}
	/* Not a file: a client-side route gets index.html; a missing asset stays a 404. */
	if (strncmp(path, ASSETS_PREFIX, strlen(ASSETS_PREFIX)) == 0)
		return reply_error(req, 404, "Not Found", "not found", false);
	err = vig_static_resolve(root_dir, "/index.html", index, sizeof(index), errbuf);
	if (err != VIG_OK) {
		vig_warn("static", "console index.html missing", "dir=%s err=\"%s\"", root_dir, errbuf);
		return reply_error(req, 500, "Internal Server Error",
				   "console not built: run console/build.sh", false);
	}
	return send_file(req, index, CACHE_REVALIDATE, true);
}
