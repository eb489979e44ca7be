/*
 * test_http_util.c - unit tests of routing patterns, query strings, cookies, percent-decoding
 * and the error → status mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/http_util.h"

static void test_routes(void **state)
{
	char p[VIG_HTTP_PARAM_MAX];
	char longseg[300];

	assert_true(vig_http_route_match("/api/v1/health", "/api/v1/health", NULL));
	assert_false(vig_http_route_match("/api/v1/health", "/api/v1/health/", NULL));
	assert_false(vig_http_route_match("/api/v1/health", "/api/v1/healthz", NULL));
	assert_false(vig_http_route_match("/api/v1/events", "/api/v1/event", NULL));
	assert_true(vig_http_route_match("/api/v1/users/{id}", "/api/v1/users/42", p));
	assert_string_equal(p, "42");
	assert_false(vig_http_route_match("/api/v1/users/{id}", "/api/v1/users/", p));
	assert_false(vig_http_route_match("/api/v1/users/{id}", "/api/v1/users/4/x", p));
	assert_true(vig_http_route_match("/a/{id}/b", "/a/xy/b", p));
	assert_string_equal(p, "xy");
	memset(longseg, 'a', sizeof(longseg));
	memcpy(longseg, "/a/", 3);
	longseg[sizeof(longseg) - 1] = '\0';
	assert_false(vig_http_route_match("/a/{id}", longseg, p));
}

static void test_query(void **state)
{
	char v[32];

	assert_int_equal(vig_http_query_get("q=process.name%3Abash+and+x&limit=5", "q", v, sizeof(v)), 1);
	assert_string_equal(v, "process.name:bash and x");
	assert_int_equal(vig_http_query_get("q=a&limit=5", "limit", v, sizeof(v)), 1);
	assert_string_equal(v, "5");
	assert_int_equal(vig_http_query_get("qq=a&limit=5", "q", v, sizeof(v)), 0);
	assert_int_equal(vig_http_query_get("flag&x=1", "flag", v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(vig_http_query_get("q=%zz", "q", v, sizeof(v)), -1);
	assert_int_equal(vig_http_query_get("q=%4", "q", v, sizeof(v)), -1);
	assert_int_equal(vig_http_query_get("q=%00", "q", v, sizeof(v)), -1);
	assert_int_equal(vig_http_query_get("q=0123456789012345678901234567890123456789", "q", v, sizeof(v)), -1);
	assert_int_equal(vig_http_query_get(NULL, "q", v, sizeof(v)), 0);
	assert_true(vig_http_pct_decode("a%2Fb+c", 7, false, v, sizeof(v)));
	assert_string_equal(v, "a/b+c");
}

static void test_cookies(void **state)
{
	char v[65];

	assert_true(vig_http_cookie_get("a=1; vigil_session=abc; b=2", "vigil_session", v, sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(vig_http_cookie_get("vigil_session=xyz", "vigil_session", v, sizeof(v)));
	assert_string_equal(v, "xyz");
	assert_false(vig_http_cookie_get("xvigil_session=1", "vigil_session", v, sizeof(v)));
	assert_false(vig_http_cookie_get(NULL, "vigil_session", v, sizeof(v)));
	assert_false(vig_http_cookie_get("vigil_session=", "vigil_session", v, 0));
	assert_false(vig_http_cookie_get(
		"vigil_session=0123456789012345678901234567890123456789012345678901234567890123456789",
		"vigil_session", v, sizeof(v)));
}

static void test_status(void **state)
{
	assert_int_equal(vig_http_status_of(VIG_EINVAL), 400);
	assert_int_equal(vig_http_status_of(VIG_EAUTH), 401);
	assert_int_equal(vig_http_status_of(VIG_EPERM), 403);
	assert_int_equal(vig_http_status_of(VIG_ENOTFOUND), 404);
	assert_int_equal(vig_http_status_of(VIG_EEXIST), 409);
	assert_int_equal(vig_http_status_of(VIG_ETOOBIG), 413);
	assert_int_equal(vig_http_status_of(VIG_EBUSY), 429);
	assert_int_equal(vig_http_status_of(VIG_EIO), 500);
	assert_string_equal(vig_http_code_of(VIG_EINVAL), "einval");
	assert_string_equal(vig_http_code_of((enum vig_err)999), "einternal");
}

static void test_times(void **state)
{
	int64_t ns;

	assert_true(vig_http_parse_time("2026-11-23T19:05:00Z", &ns));
	assert_true(vig_http_parse_time("1700000000", &ns));
	assert_int_equal(ns, 1700000000LL * 1000000000LL);
	assert_false(vig_http_parse_time("yesterday", &ns));
	assert_true(vig_http_parse_interval("5m", &ns));
	assert_int_equal(ns, 300LL * 1000000000LL);
	assert_true(vig_http_parse_interval("3600", &ns));
	assert_false(vig_http_parse_interval("0s", &ns));
	assert_false(vig_http_parse_interval("-1h", &ns));
	assert_false(vig_http_parse_interval("h", &ns));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes), cmocka_unit_test(test_query),
		cmocka_unit_test(test_cookies), cmocka_unit_test(test_status),
		cmocka_unit_test(test_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
