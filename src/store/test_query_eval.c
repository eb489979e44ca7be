/*
 * test_query_eval.c - unit tests of the in-memory query evaluator: every operator on every
 * value type (keyword and case-insensitive text, numbers, times, IPs and CIDR, lists,
 * extension fields), boolean structure, absent fields, bare words, and the pattern matcher's
 * escapes and backtracking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/vtime.h"
#include "store/query_eval.h"

static struct vig_arena arena;
static struct vig_event ev;

static int setup(void **state)
{
	(void)state;
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_PROCESS_NAME, "Bash"), VIG_OK);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_HOST_NAME, "Web-01"), VIG_OK);
	assert_int_equal(vig_event_set_int(&ev, VIG_F_DESTINATION_PORT, 4444), VIG_OK);
	assert_int_equal(vig_event_set_ip(&ev, VIG_F_SOURCE_IP, "10.1.2.3", 8), VIG_OK);
	assert_int_equal(vig_event_set_ts(&ev, VIG_F_TIMESTAMP, 1700000000LL * VIG_NS_PER_SEC), VIG_OK);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_MESSAGE, "Failed password for root from 10.1.2.3"),
			 VIG_OK);
	assert_int_equal(vig_event_list_add(&ev, VIG_F_PROCESS_ARGS, "-la", 3), VIG_OK);
	assert_int_equal(vig_event_list_add(&ev, VIG_F_PROCESS_ARGS, "/tmp", 4), VIG_OK);
	assert_int_equal(vig_event_ext_int(&ev, "cef.severity", 7), VIG_OK);
	assert_int_equal(vig_event_ext_str(&ev, "log.syslog.appname", "sshd", 4), VIG_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vig_arena_release(&arena);
	return 0;
}

static bool m(const char *q)
{
	char eb[VIG_ERRBUF_SIZE] = "";
	struct vig_query *pq = vig_query_parse(q, strlen(q), NULL, eb);
	bool r;

	if (!pq)
		fail_msg("query %s: %s", q, eb);
	r = vig_query_match(pq, &ev);
	vig_query_free(pq);
	return r;
}

static void test_text(void **state)
{
	(void)state;
	assert_true(m("process.name:bash"));       /* not a keyword field: case-insensitive */
	assert_true(m("process.name:BASH"));
	assert_false(m("process.name:zsh"));
	assert_true(m("process.name:ba*"));
	assert_true(m("process.name:?ash"));
	assert_false(m("process.name:ba"));
	assert_true(m("host.name:web-*"));
	assert_true(m("process.name:[a TO c]"));
	assert_false(m("process.name:{bash TO c]"));
	assert_true(m("process.name:*"));
	assert_false(m("user.name:*"));            /* absent */
	assert_true(m("not user.name:root"));      /* absent never matches a term */
}

static void test_numbers_times(void **state)
{
	(void)state;
	assert_true(m("destination.port:4444"));
	assert_false(m("destination.port:4445"));
	assert_true(m("destination.port:>=4444"));
	assert_false(m("destination.port:>4444"));
	assert_true(m("destination.port:[1 TO 5000]"));
	assert_false(m("destination.port:[1 TO 4444}"));
	assert_true(m("destination.port:[4000 TO *]"));
	assert_true(m("@timestamp:>=2023-11-14T00:00:00Z"));
	assert_false(m("@timestamp:<2023-11-14T00:00:00Z"));
}

static void test_ip(void **state)
{
	(void)state;
	assert_true(m("source.ip:10.1.2.3"));
	assert_false(m("source.ip:10.1.2.4"));
	assert_true(m("source.ip:10.0.0.0/8"));
	assert_false(m("source.ip:192.168.0.0/16"));
	assert_true(m("source.ip:[10.1.0.0 TO 10.2.0.0]"));
	assert_false(m("source.ip:{10.1.2.3 TO 10.2.0.0]"));
}

static void test_list_ext(void **state)
{
	(void)state;
	assert_true(m("process.args:-la"));
	assert_true(m("process.args:/tm*"));
	assert_false(m("process.args:-r"));
	assert_true(m("cef.severity:7"));
	assert_true(m("cef.severity:>=5"));
	assert_false(m("cef.severity:<5"));
	assert_true(m("log.syslog.appname:SSHD"));
	assert_true(m("log.syslog.appname:ss*"));
	assert_false(m("no.such.field:x"));
}

static void test_bool_and_words(void **state)
{
	(void)state;
	assert_true(m("process.name:bash and destination.port:4444"));
	assert_false(m("process.name:bash and destination.port:1"));
	assert_true(m("process.name:zsh or destination.port:4444"));
	assert_true(m("not (process.name:zsh or destination.port:1)"));
	assert_true(m("password"));
	assert_true(m("\"FAILED PASSWORD\""));
	assert_false(m("accepted"));
	assert_true(m("fail*root"));
	assert_true(m(""));
	assert_false(vig_query_match(NULL, &ev));
}

static void test_patterns(void **state)
{
	(void)state;
	assert_true(vig_query_pattern_match("a*b*c", "axxbyyc", 7, false));
	assert_false(vig_query_pattern_match("a*b*c", "axxbyy", 6, false));
	assert_true(vig_query_pattern_match("a\\*b", "a*b", 3, false));
	assert_false(vig_query_pattern_match("a\\*b", "axb", 3, false));
	assert_true(vig_query_pattern_match("*", "", 0, false));
	assert_false(vig_query_pattern_match("?", "", 0, false));
	assert_true(vig_query_pattern_match("AB?", "abc", 3, true));
	assert_false(vig_query_pattern_match("AB?", "abc", 3, false));
	assert_true(vig_query_pattern_match("*aab", "aaaab", 5, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),         cmocka_unit_test(test_numbers_times),
		cmocka_unit_test(test_ip),           cmocka_unit_test(test_list_ext),
		cmocka_unit_test(test_bool_and_words), cmocka_unit_test(test_patterns),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
