/*
 * test_common.c - unit tests of the common helpers: arena, buf, time, integer parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/vig.h"
#include "common/vtime.h"

static void test_arena_limit(void **state)
{
	struct vig_arena a;

	vig_arena_init(&a, 64, 256);
	assert_non_null(vig_arena_alloc(&a, 100));
	assert_non_null(vig_arena_alloc(&a, 100));
	assert_null(vig_arena_alloc(&a, 100)); /* over 256 */
	vig_arena_reset(&a);
	assert_int_equal(a.used_bytes, 0);
	char *s = vig_arena_strndup(&a, "hello world", 5);
	assert_string_equal(s, "hello");
	vig_arena_release(&a);
	vig_arena_release(&a); /* repeatable */
}

static void test_buf_limit_and_json(void **state)
{
	struct vig_buf b;

	vig_buf_init(&b, 16);
	assert_int_equal(vig_buf_adds(&b, "0123456789"), VIG_OK);
	assert_int_equal(vig_buf_adds(&b, "0123456789"), VIG_ETOOBIG);
	assert_int_equal(vig_buf_err(&b), VIG_ETOOBIG);
	assert_int_equal(vig_buf_adds(&b, "x"), VIG_ETOOBIG); /* sticky */
	vig_buf_reset(&b);
	vig_buf_release(&b);

	vig_buf_init(&b, 0);
	vig_buf_add_json_str(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\xc3\xa9\"");
	vig_buf_release(&b);
}

static void test_time_roundtrip(void **state)
{
	int64_t ns;
	char out[VIG_TIME_STRLEN];

	assert_true(vig_time_parse("2026-11-23T19:05:00Z", 20, &ns));
	assert_int_equal(ns, 1795460700LL * VIG_NS_PER_SEC);
	vig_time_format(ns, out);
	assert_string_equal(out, "2026-11-23T19:05:00.000Z");
	assert_true(vig_time_parse("2026-11-23T20:05:00.5+01:00", 27, &ns));
	assert_int_equal(ns, 1795460700LL * VIG_NS_PER_SEC + 500000000);
	assert_true(vig_time_parse("1795460700.25", 13, &ns));
	assert_int_equal(ns, 1795460700LL * VIG_NS_PER_SEC + 250000000);
	assert_true(vig_time_parse("2026-11-23T19:05:00.000000001Z", 30, &ns));
	vig_time_format(ns, out);
	assert_string_equal(out, "2026-11-23T19:05:00.000000001Z");
	assert_false(vig_time_parse("2026-13-01T00:00:00Z", 20, &ns));
	assert_false(vig_time_parse("yesterday", 9, &ns));
	assert_false(vig_time_parse("2026-11-23T19:05:00Zjunk", 24, &ns));
	assert_false(vig_time_parse("9999-01-01T00:00:00Z", 20, &ns));      /* past int64 ns */
	assert_false(vig_time_parse("99999999999999999", 17, &ns));         /* epoch overflow */
	assert_true(vig_time_parse("2261-12-31T23:59:59Z", 20, &ns));
	vig_time_format(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999999999Z");
	assert_int_equal(vig_time_day(-1), -1);
}

static void test_parse_int(void **state)
{
	int64_t v;
	uint64_t u;

	assert_true(vig_parse_i64("-9223372036854775808", 20, &v));
	assert_true(v == INT64_MIN);
	assert_false(vig_parse_i64("9223372036854775808", 19, &v));
	assert_true(vig_parse_u64("18446744073709551615", 20, &u));
	assert_false(vig_parse_u64("18446744073709551616", 20, &u));
	assert_false(vig_parse_u64("", 0, &u));
	assert_false(vig_parse_u64("12a", 3, &u));
}

/* vig_file_create: a new file with the mode asked for; an existing one is refused, not truncated. */
static void test_file_create(void **state)
{
	char dir[] = "/tmp/vig-common-XXXXXX", path[64], err[VIG_ERRBUF_SIZE];
	struct stat sb;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	fp = vig_file_create(path, 0600, err);
	assert_non_null(fp);
	fputs("secret", fp);
	fclose(fp);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_null(vig_file_create(path, 0600, err));
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 6);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_limit),
		cmocka_unit_test(test_buf_limit_and_json),
		cmocka_unit_test(test_time_roundtrip),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_file_create),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
