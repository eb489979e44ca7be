/*
 * static.h - serving the web console (console/dist) from vigild: static files for libevent's
 * evhttp with safe path resolution, content types, caching headers, conditional GET, a size
 * bound, the console's strict Content-Security-Policy and the single-page-application fallback.
 *
 * Contract: the router calls vig_static_serve() for every request it has no API route for.
 * Paths under /api/ and /metrics are never answered with the console (a JSON 404 instead), so a
 * mistyped API call does not get HTML back. Everything else that is not a file under root_dir
 * gets index.html (the console routes on the client), except under /assets/, where a missing
 * file is a plain 404 so that a stale hashed asset never comes back as HTML.
 */
#ifndef VIG_SERVER_STATIC_H
#define VIG_SERVER_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "common/vig.h"

struct evhttp_request;

/* Largest file served; bigger ones get 500 and a log record (the console's files are < 1 MiB). */
#define VIG_STATIC_MAX_FILE_BYTES (16u * 1024u * 1024u)
/* Longest request path accepted (percent-encoded form); longer ones get 414. */
#define VIG_STATIC_MAX_PATH 1024

/* The Content-Security-Policy sent with every console file. */
#define VIG_STATIC_CSP                                                                            \
	"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "         \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* Counters since start (all threads), for /metrics. */
struct vig_static_counters {
	uint64_t served;       /* 200 replies with a file (fallback included) */
	uint64_t fallback;     /* of those, index.html for an unknown client-side route */
	uint64_t not_modified; /* 304 replies */
	uint64_t not_found;    /* 404 replies */
	uint64_t rejected;     /* 400/405/414: bad method, malformed or unsafe path */
	uint64_t errors;       /* 500 replies: unreadable or oversized file, missing index.html */
};

/*
 * Resolves url_path (the request path, still percent-encoded, without the query) to a regular
 * file under root_dir and writes its canonical path (symlinks resolved) to out (out_cap bytes).
 * "/" means "/index.html". Returns:
 *   VIG_OK         out names a regular file inside root_dir;
 *   VIG_ENOTFOUND  no such file, or a directory (the caller may fall back to index.html);
 *   VIG_EINVAL     malformed path: no leading '/', bad or NUL percent-escape, control character,
 *                  backslash, empty, "." or ".." segment;
 *   VIG_ETOOBIG    url_path longer than VIG_STATIC_MAX_PATH or the result longer than out_cap;
 *   VIG_EPERM      the path resolves outside root_dir (a symlink escaping the root);
 *   VIG_EIO        root_dir itself cannot be resolved.
 * errbuf (VIG_ERRBUF_SIZE, may be NULL) gets the detail.
 */
enum vig_err vig_static_resolve(const char *root_dir, const char *url_path, char *out, size_t out_cap,
				char *errbuf);

/*
 * Answers req from the files under root_dir (see the contract above): GET and HEAD only (405 with
 * "Allow: GET, HEAD" otherwise); ETag from size and modification time with If-None-Match → 304;
 * "Cache-Control: public, max-age=31536000, immutable" under /assets/ (Vite's hashed names) and
 * "no-cache" for index.html and other files; security headers including VIG_STATIC_CSP.
 * The reply is sent before returning; the return value is its HTTP status (for the access log).
 */
int vig_static_serve(struct evhttp_request *req, const char *root_dir);

/* Copies the counters into out. */
void vig_static_counters(struct vig_static_counters *out);

#endif
