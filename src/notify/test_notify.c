/*
 * test_notify.c - notification routes and deliveries against a real in-memory control DB and
 * a real HTTP receiver on loopback (a thread of this test): route matching by event, severity,
 * rule, day and hour; validation of routes; queueing per matching route; a webhook delivered
 * with a correct HMAC signature; a failing target retried with backoff and then dead; replay of
 * a dead delivery; tenant scoping of routes and deliveries; CEF escaping through a syslog
 * receiver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/testutil.h"
#include "common/vtime.h"
#include "notify/notify.h"

#define SEC 1000000000LL

struct fx {
	struct vig_db *db;
	struct vig_principal sys, a, b;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a, VIG_ROLE_TENANT_ADMIN, "tenant-a", "alice");
	vig_test_principal(&f->b, VIG_ROLE_TENANT_ADMIN, "tenant-b", "alice");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vig_db_close(f->db);
	free(f);
	return 0;
}

/* ---- a one-shot TCP receiver: accepts connections, keeps what arrived, answers HTTP ---- */

struct receiver {
	int fd, port, status; /* status: HTTP status answered, 0 = raw (syslog) */
	char buf[65536];
	size_t len;
	int conns, want;
	pthread_t th;
};

static void *recv_main(void *arg)
{
	struct receiver *r = arg;

	while (r->conns < r->want) {
		int c = accept(r->fd, NULL, NULL);
		char tmp[8192];
		ssize_t n;

		if (c < 0)
			break;
		r->conns++;
		while ((n = recv(c, tmp, sizeof(tmp), 0)) > 0) {
			if (r->len + (size_t)n < sizeof(r->buf)) {
				memcpy(r->buf + r->len, tmp, (size_t)n);
				r->len += (size_t)n;
				r->buf[r->len] = '\0';
			}
			if (r->status) {
				char *hdr_end = strstr(r->buf, "\r\n\r\n");
				char *cl = strcasestr(r->buf, "Content-Length:");

				if (hdr_end && cl && (size_t)(hdr_end + 4 - r->buf) + (size_t)atoi(cl + 15) <= r->len) {
					char reply[128];
					int m = snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
							 r->status);

					(void)!send(c, reply, (size_t)m, MSG_NOSIGNAL);
					break;
				}
			}
		}
		close(c);
	}
	return NULL;
}

static void receiver_start(struct receiver *r, int status, int want)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	memset(r, 0, sizeof(*r));
	r->status = status;
	r->want = want;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r->fd, 8), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &sl), 0);
	r->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&r->th, NULL, recv_main, r), 0);
}

static void receiver_join(struct receiver *r)
{
	pthread_join(r->th, NULL);
	close(r->fd);
}

static json_t *route(struct fx *f, const struct vig_principal *who, const char *json)
{
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *in = json_loads(json, 0, NULL), *out = NULL;

	assert_non_null(in);
	assert_int_equal(vig_notify_route_create(f->db, who, in, &out, err), VIG_OK);
	json_decref(in);
	return out;
}

static void test_matching(void **state)
{
	/* 2026-11-23 is a Monday; 10:30 UTC */
	int64_t mon = (int64_t)1795429800 * SEC;
	json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "events", "incident.created,sla.breach", "min_severity", "high",
			      "rule", "lin-*", "days", "mon-fri", "hours", "08-18");
	struct vig_notify_event ev = {.tenant = "t", .kind = "incident.created", .severity = "critical", .rule_id = "lin-ssh"};

	(void)state;
	assert_true(vig_notify_route_matches(r, &ev, mon));
	ev.severity = "medium";
	assert_false(vig_notify_route_matches(r, &ev, mon));
	ev.severity = "high";
	ev.kind = "alert.created";
	assert_false(vig_notify_route_matches(r, &ev, mon));
	ev.kind = "sla.breach";
	ev.rule_id = "win-x";
	assert_false(vig_notify_route_matches(r, &ev, mon));
	ev.rule_id = "lin-x";
	assert_false(vig_notify_route_matches(r, &ev, mon + 9 * 3600 * SEC));  /* 19:30: off duty */
	assert_false(vig_notify_route_matches(r, &ev, mon + 5 * 86400 * SEC)); /* Saturday */
	json_object_set_new(r, "hours", json_string("22-06"));                /* a night shift */
	json_object_set_new(r, "days", json_string(""));
	assert_true(vig_notify_route_matches(r, &ev, mon + 13 * 3600 * SEC)); /* 23:30 */
	assert_false(vig_notify_route_matches(r, &ev, mon));
	json_decref(r);
}

static void test_routes_validation_and_scope(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL, *in;
	static const char *const bad[] = {
		"{\"name\":\"x\",\"channel\":\"fax\",\"target\":\"1\"}",
		"{\"name\":\"x\",\"channel\":\"webhook\",\"target\":\"ftp://h/\"}",
		"{\"name\":\"x\",\"channel\":\"email\",\"target\":\"a@b, c@d\"}",
		"{\"name\":\"x\",\"channel\":\"syslog\",\"target\":\"nohostport\"}",
		"{\"name\":\"x\",\"channel\":\"webhook\",\"target\":\"http://h/\",\"days\":\"funday\"}",
		"{\"name\":\"x\",\"channel\":\"webhook\",\"target\":\"http://h/\",\"hours\":\"25-3\"}",
		"{\"name\":\"x\",\"channel\":\"webhook\",\"target\":\"http://h/\",\"min_severity\":\"dire\"}",
		"{\"name\":\"x\",\"channel\":\"webhook\",\"target\":\"http://h/\",\"colour\":\"red\"}",
		"{\"channel\":\"webhook\",\"target\":\"http://h/\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = json_loads(bad[i], 0, NULL);
		assert_int_equal(vig_notify_route_create(f->db, &f->a, in, &out, err), VIG_EINVAL);
		json_decref(in);
	}
	out = route(f, &f->a, "{\"name\":\"soc\",\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:1/\",\"secret\":\"s3\"}");
	assert_true(json_is_true(json_object_get(out, "has_secret")));
	assert_null(json_object_get(out, "secret"));
	{
		int64_t id = json_integer_value(json_object_get(out, "id"));
		json_t *patch = json_pack("{s:b}", "enabled", 0), *o2 = NULL;

		assert_int_equal(vig_notify_route_update(f->db, &f->b, id, patch, &o2, err), VIG_ENOTFOUND);
		assert_int_equal(vig_notify_route_update(f->db, &f->a, id, patch, &o2, err), VIG_OK);
		assert_false(json_is_true(json_object_get(o2, "enabled")));
		json_decref(o2);
		json_decref(patch);
		assert_int_equal(vig_notify_route_delete(f->db, &f->b, id, err), VIG_ENOTFOUND);
		assert_int_equal(vig_notify_routes_list(f->db, &f->b, &o2, err), VIG_OK);
		assert_int_equal(json_array_size(json_object_get(o2, "routes")), 0);
		json_decref(o2);
		assert_int_equal(vig_notify_route_delete(f->db, &f->a, id, err), VIG_OK);
	}
	json_decref(out);
}

static void test_webhook_signed_and_retry(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", url[128], sig[72];
	struct receiver rcv;
	struct vig_notify_opts opts = {0};
	size_t queued = 0, sent = 0, failed = 0;
	int64_t now = vig_time_now();
	json_t *data = json_pack("{s:i,s:s}", "id", 7, "title", "Shell on web-01");
	struct vig_notify_event ev = {.tenant = "tenant-a", .kind = "incident.created", .severity = "high",
				      .title = "Shell on web-01", .data = data};
	json_t *r1, *r2, *r3, *d = NULL;

	receiver_start(&rcv, 200, 1);
	snprintf(url, sizeof(url), "{\"name\":\"hook\",\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:%d/hook\",\"secret\":\"k3y\"}",
		 rcv.port);
	r1 = route(f, &f->a, url);
	/* a route that never answers (port 1) and one of tenant B that must not see A's event */
	r2 = route(f, &f->a, "{\"name\":\"dead\",\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:1/\",\"min_severity\":\"high\"}");
	r3 = route(f, &f->b, "{\"name\":\"b\",\"channel\":\"webhook\",\"target\":\"http://127.0.0.1:1/\"}");
	assert_int_equal(vig_notify_emit(f->db, &ev, now, &queued, err), VIG_OK);
	assert_int_equal(queued, 2);
	assert_int_equal(vig_notify_deliver_due(f->db, &opts, now, &sent, &failed, err), VIG_OK);
	assert_int_equal(sent, 1);
	assert_int_equal(failed, 1);
	receiver_join(&rcv);
	/* the receiver got the JSON and a signature it can verify */
	{
		char *body = strstr(rcv.buf, "\r\n\r\n");
		char *h = strcasestr(rcv.buf, "X-Vigil-Signature: ");

		assert_non_null(body);
		assert_non_null(h);
		body += 4;
		vig_notify_sign("k3y", body, strlen(body), sig);
		assert_memory_equal(h + 19, sig, strlen(sig));
		assert_non_null(strstr(body, "\"event\":\"incident.created\""));
		assert_non_null(strstr(rcv.buf, "X-Vigil-Event: incident.created"));
	}
	/* the failing one is retried with backoff, then dead after the last attempt */
	assert_int_equal(vig_notify_deliver_due(f->db, &opts, now, &sent, &failed, err), VIG_OK);
	assert_int_equal(sent + failed, 0); /* not due yet */
	for (int i = 1; i < VIG_NOTIFY_MAX_ATTEMPTS; i++) {
		now += 3600 * SEC;
		assert_int_equal(vig_notify_deliver_due(f->db, &opts, now, &sent, &failed, err), VIG_OK);
		assert_int_equal(failed, 1);
	}
	assert_int_equal(vig_notify_deliveries(f->db, &f->a, "dead", 10, &d, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(d, "deliveries")), 1);
	{
		json_t *x = json_array_get(json_object_get(d, "deliveries"), 0);
		int64_t id = json_integer_value(json_object_get(x, "id"));

		assert_int_equal(json_integer_value(json_object_get(x, "attempts")), VIG_NOTIFY_MAX_ATTEMPTS);
		assert_non_null(json_string_value(json_object_get(x, "last_error")));
		assert_int_equal(vig_notify_replay(f->db, &f->b, id, now, err), VIG_ENOTFOUND);
		assert_int_equal(vig_notify_replay(f->db, &f->a, id, now, err), VIG_OK);
		assert_int_equal(vig_notify_replay(f->db, &f->a, id, now, err), VIG_ECONFLICT);
	}
	json_decref(d);
	assert_int_equal(vig_notify_deliveries(f->db, &f->b, NULL, 10, &d, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(d, "deliveries")), 0);
	json_decref(d);
	json_decref(r1);
	json_decref(r2);
	json_decref(r3);
	json_decref(data);
}

static void test_syslog_cef(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", spec[160];
	struct receiver rcv;
	struct vig_notify_opts opts = {0};
	size_t sent = 0, failed = 0;
	int64_t now = vig_time_now();
	struct vig_notify_event ev = {.tenant = "tenant-a", .kind = "sla.breach", .severity = "critical",
				      .rule_id = "r=1", .title = "a|b=c\nd"};
	json_t *r;

	receiver_start(&rcv, 0, 1);
	snprintf(spec, sizeof(spec), "{\"name\":\"siem\",\"channel\":\"syslog\",\"target\":\"127.0.0.1:%d\"}", rcv.port);
	r = route(f, &f->a, spec);
	assert_int_equal(vig_notify_emit(f->db, &ev, now, NULL, err), VIG_OK);
	assert_int_equal(vig_notify_deliver_due(f->db, &opts, now, &sent, &failed, err), VIG_OK);
	assert_int_equal(sent, 1);
	receiver_join(&rcv);
	assert_non_null(strstr(rcv.buf, "CEF:0|Vigil|vigild|"));
	assert_non_null(strstr(rcv.buf, "|sla.breach|a\\|b=c d|9|")); /* header: pipe escaped, newline a space */
	assert_non_null(strstr(rcv.buf, "cs2=r\\=1"));                /* extension: = escaped */
	assert_non_null(strstr(rcv.buf, "msg=a|b\\=c\\nd"));
	json_decref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching),
		cmocka_unit_test_setup_teardown(test_routes_validation_and_scope, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_webhook_signed_and_retry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_syslog_cef, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
