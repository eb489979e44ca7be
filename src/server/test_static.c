/*
 * test_static.c - the console's static file serving, over real HTTP: an evhttp server on a
 * loopback port whose only handler is vig_static_serve(), and libevent's HTTP client, in one
 * event loop. The fixture directory is written by the test: index.html, a hashed asset, a
 * favicon, a sub-directory, a symlink inside the root and one pointing outside it, and a sparse
 * file over the size bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "static.h"

#define INDEX_HTML "<!doctype html><title>console</title>\n"
#define ASSET_JS "console.log('asset');\n"

struct fixture {
	char root[128];    /* the console directory */
	char outside[128]; /* a secret file outside it */
	char parent[128];  /* temp dir holding both */
	struct event_base *base;
	struct evhttp *http;
	ev_uint16_t port;
};

struct reply {
	int status;
	char ctype[128];
	char cache[128];
	char etag[64];
	char csp[512];
	char allow[32];
	char clen[32];
	char body[4096];
	size_t body_len;
	bool done;
};

static void write_file(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct fixture *fx = arg;

	vig_static_serve(req, fx->root);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char p[PATH_MAX], tmpl[] = "/tmp/vig-test-static-XXXXXX";
	struct evhttp_bound_socket *sock;
	int fd;

	assert_non_null(fx);
	assert_non_null(mkdtemp(tmpl));
	snprintf(fx->parent, sizeof(fx->parent), "%s", tmpl);
	snprintf(fx->root, sizeof(fx->root), "%s/dist", tmpl);
	snprintf(fx->outside, sizeof(fx->outside), "%s/secret.txt", tmpl);
	assert_int_equal(mkdir(fx->root, 0755), 0);
	snprintf(p, sizeof(p), "%s/assets", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(fx->root, "index.html", INDEX_HTML);
	write_file(fx->root, "assets/index-AbC123.js", ASSET_JS);
	write_file(fx->root, "favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
	write_file(fx->root, "sub/page.txt", "sub page\n");
	write_file(fx->parent, "secret.txt", "top secret\n");
	snprintf(p, sizeof(p), "%s/escape.txt", fx->root);
	assert_int_equal(symlink(fx->outside, p), 0);
	snprintf(p, sizeof(p), "%s/alias.html", fx->root);
	assert_int_equal(symlink("index.html", p), 0);
	snprintf(p, sizeof(p), "%s/huge.bin", fx->root);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)VIG_STATIC_MAX_FILE_BYTES + 1), 0);
	close(fd);

	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->http = evhttp_new(fx->base);
	assert_non_null(fx->http);
	evhttp_set_allowed_methods(fx->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						     EVHTTP_REQ_DELETE);
	evhttp_set_gencb(fx->http, on_request, fx);
	sock = evhttp_bind_socket_with_handle(fx->http, "127.0.0.1", 0);
	assert_non_null(sock);
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		assert_int_equal(getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl), 0);
		fx->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	*state = fx;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes the fixture tree (symlinks themselves, never their targets). */
static int rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	evhttp_free(fx->http);
	event_base_free(fx->base);
	rm_tree(fx->parent);
	free(fx);
	return 0;
}

static void copy_header(struct evkeyvalq *h, const char *name, char *out, size_t cap)
{
	const char *v = evhttp_find_header(h, name);

	snprintf(out, cap, "%s", v ? v : "");
}

static void on_reply(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	struct evkeyvalq *h;
	struct evbuffer *b;

	r->done = true;
	if (!req) {
		r->status = -1;
		return;
	}
	r->status = evhttp_request_get_response_code(req);
	h = evhttp_request_get_input_headers(req);
	copy_header(h, "Content-Type", r->ctype, sizeof(r->ctype));
	copy_header(h, "Cache-Control", r->cache, sizeof(r->cache));
	copy_header(h, "ETag", r->etag, sizeof(r->etag));
	copy_header(h, "Content-Security-Policy", r->csp, sizeof(r->csp));
	copy_header(h, "Allow", r->allow, sizeof(r->allow));
	copy_header(h, "Content-Length", r->clen, sizeof(r->clen));
	b = evhttp_request_get_input_buffer(req);
	r->body_len = evbuffer_get_length(b);
	evbuffer_remove(b, r->body, sizeof(r->body) - 1);
	r->body[VIG_MIN(r->body_len, sizeof(r->body) - 1)] = '\0';
}

/* Sends one request (raw path as written on the request line) and runs the loop until the reply. */
static void fetch(struct fixture *fx, enum evhttp_cmd_type cmd, const char *path, const char *inm,
		  struct reply *r)
{
	struct evhttp_connection *conn = evhttp_connection_base_new(fx->base, NULL, "127.0.0.1", fx->port);
	struct evhttp_request *req;

	memset(r, 0, sizeof(*r));
	assert_non_null(conn);
	req = evhttp_request_new(on_reply, r);
	assert_non_null(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
	if (inm)
		evhttp_add_header(evhttp_request_get_output_headers(req), "If-None-Match", inm);
	assert_int_equal(evhttp_make_request(conn, req, cmd, path), 0);
	while (!r->done)
		event_base_loop(fx->base, EVLOOP_ONCE);
	evhttp_connection_free(conn);
}

static void test_index_and_assets(void **state)
{
	struct fixture *fx = *state;
	struct reply r;

	fetch(fx, EVHTTP_REQ_GET, "/", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, INDEX_HTML);
	assert_string_equal(r.ctype, "text/html; charset=utf-8");
	assert_string_equal(r.cache, "no-cache");
	assert_string_equal(r.csp, VIG_STATIC_CSP);
	assert_true(r.etag[0] == '"');

	fetch(fx, EVHTTP_REQ_GET, "/assets/index-AbC123.js", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, ASSET_JS);
	assert_string_equal(r.ctype, "text/javascript; charset=utf-8");
	assert_string_equal(r.cache, "public, max-age=31536000, immutable");

	fetch(fx, EVHTTP_REQ_GET, "/favicon.svg?v=1", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "image/svg+xml");
	assert_string_equal(r.cache, "no-cache");

	/* percent-encoded names are decoded; a symlink inside the root is fine */
	fetch(fx, EVHTTP_REQ_GET, "/sub/p%61ge.txt", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "sub page\n");
	fetch(fx, EVHTTP_REQ_GET, "/alias.html", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, INDEX_HTML);
}

static void test_spa_fallback(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	struct vig_static_counters before, after;

	vig_static_counters(&before);
	fetch(fx, EVHTTP_REQ_GET, "/search?q=host.name%3Aweb-01&range=1h", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, INDEX_HTML);
	assert_string_equal(r.cache, "no-cache");
	fetch(fx, EVHTTP_REQ_GET, "/users/42/edit", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, INDEX_HTML);
	/* a directory is not a file: fallback too */
	fetch(fx, EVHTTP_REQ_GET, "/sub", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, INDEX_HTML);
	vig_static_counters(&after);
	assert_int_equal(after.fallback - before.fallback, 3);

	/* a missing hashed asset is a 404, never HTML */
	fetch(fx, EVHTTP_REQ_GET, "/assets/index-OLD.js", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "<!doctype"));

	/* API and metrics paths never get the console */
	fetch(fx, EVHTTP_REQ_GET, "/api/v1/nosuch", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.ctype, "application/json");
	assert_non_null(strstr(r.body, "\"code\":\"enotfound\""));
	fetch(fx, EVHTTP_REQ_GET, "/metrics", NULL, &r);
	assert_int_equal(r.status, 404);
	fetch(fx, EVHTTP_REQ_GET, "/api", NULL, &r);
	assert_int_equal(r.status, 404);
	/* but a route that merely starts with the letters is a console route */
	fetch(fx, EVHTTP_REQ_GET, "/apis", NULL, &r);
	assert_int_equal(r.status, 200);
}

static void test_unsafe_paths(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	static const char *const bad[] = {
		"/../secret.txt",     "/assets/../../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt",
		"/assets/%2E%2E/%2E%2E/secret.txt", "/./index.html", "/a%00b", "/a%zz", "/a%2",
		"/a\\..\\secret.txt", "/assets//index-AbC123.js", "/a%0d%0aSet-Cookie:x=1",
	};
	struct vig_static_counters before, after;

	vig_static_counters(&before);
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		fetch(fx, EVHTTP_REQ_GET, bad[i], NULL, &r);
		if (r.status != 400)
			fail_msg("%s: status %d", bad[i], r.status);
		assert_null(strstr(r.body, "top secret"));
	}
	vig_static_counters(&after);
	assert_int_equal(after.rejected - before.rejected, VIG_ARRAY_LEN(bad));

	/* a symlink pointing outside the root is refused as not found */
	fetch(fx, EVHTTP_REQ_GET, "/escape.txt", NULL, &r);
	assert_int_equal(r.status, 404);
	assert_null(strstr(r.body, "top secret"));
}

static void test_conditional_and_methods(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	char etag[64], list[160];

	fetch(fx, EVHTTP_REQ_GET, "/assets/index-AbC123.js", NULL, &r);
	assert_int_equal(r.status, 200);
	snprintf(etag, sizeof(etag), "%s", r.etag);

	fetch(fx, EVHTTP_REQ_GET, "/assets/index-AbC123.js", etag, &r);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(r.etag, etag);
	snprintf(list, sizeof(list), "\"nope\", W/%s", etag);
	fetch(fx, EVHTTP_REQ_GET, "/assets/index-AbC123.js", list, &r);
	assert_int_equal(r.status, 304);
	fetch(fx, EVHTTP_REQ_GET, "/assets/index-AbC123.js", "\"other\"", &r);
	assert_int_equal(r.status, 200);

	/* HEAD: headers and length, no body */
	fetch(fx, EVHTTP_REQ_HEAD, "/index.html", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_int_equal(atoi(r.clen), (int)strlen(INDEX_HTML));

	fetch(fx, EVHTTP_REQ_POST, "/index.html", NULL, &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD");
	fetch(fx, EVHTTP_REQ_DELETE, "/", NULL, &r);
	assert_int_equal(r.status, 405);
}

static void test_size_bound_and_missing_index(void **state)
{
	struct fixture *fx = *state;
	struct reply r;
	char p[PATH_MAX];

	fetch(fx, EVHTTP_REQ_GET, "/huge.bin", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_true(r.body_len < 100);

	snprintf(p, sizeof(p), "%s/index.html", fx->root);
	assert_int_equal(unlink(p), 0);
	fetch(fx, EVHTTP_REQ_GET, "/search", NULL, &r);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body, "console/build.sh"));
	write_file(fx->root, "index.html", INDEX_HTML);
}

static void test_resolve_direct(void **state)
{
	struct fixture *fx = *state;
	char out[PATH_MAX], errbuf[VIG_ERRBUF_SIZE], longp[VIG_STATIC_MAX_PATH + 8];

	assert_int_equal(vig_static_resolve(fx->root, "/", out, sizeof(out), errbuf), VIG_OK);
	assert_non_null(strstr(out, "/dist/index.html"));
	assert_int_equal(vig_static_resolve(fx->root, "/nope", out, sizeof(out), errbuf), VIG_ENOTFOUND);
	assert_int_equal(vig_static_resolve(fx->root, "index.html", out, sizeof(out), errbuf), VIG_EINVAL);
	assert_int_equal(vig_static_resolve(fx->root, "/escape.txt", out, sizeof(out), errbuf), VIG_EPERM);
	assert_string_equal(errbuf, "path leaves the console directory");
	assert_int_equal(vig_static_resolve("/nonexistent-vigil-dir", "/", out, sizeof(out), errbuf), VIG_EIO);
	assert_int_equal(vig_static_resolve(fx->root, "/", out, 8, errbuf), VIG_ETOOBIG);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(vig_static_resolve(fx->root, longp, out, sizeof(out), errbuf), VIG_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_assets),
		cmocka_unit_test(test_spa_fallback),
		cmocka_unit_test(test_unsafe_paths),
		cmocka_unit_test(test_conditional_and_methods),
		cmocka_unit_test(test_size_bound_and_missing_index),
		cmocka_unit_test(test_resolve_direct),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
