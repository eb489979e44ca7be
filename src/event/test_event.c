/*
 * test_event.c - unit tests of the event model, its JSON codec and the Sigma field map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/event.h"
#include "event/event_json.h"
#include "event/sigma_map.h"

struct fx {
	struct vig_arena arena;
	struct vig_event ev;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	vig_arena_init(&fx->arena, 4096, 1 << 20);
	vig_event_init(&fx->ev, &fx->arena);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	vig_arena_release(&fx->arena);
	free(fx);
	return 0;
}

static void test_registry(void **state)
{
	int f = vig_field_lookup("process.name", 12);

	assert_int_equal(f, VIG_F_PROCESS_NAME);
	assert_string_equal(vig_field_info(VIG_F_PROCESS_NAME)->column, "process_name");
	assert_string_equal(vig_field_info(VIG_F_TIMESTAMP)->column, "ts");
	assert_int_equal(vig_field_lookup("@timestamp", 10), VIG_F_TIMESTAMP);
	assert_int_equal(vig_field_lookup("process.nam", 11), -1);
	assert_int_equal(vig_field_lookup("process.name.x", 14), -1);
	assert_int_equal(vig_field_lookup("process.name\0xyz", 16), -1); /* NUL inside */
	assert_int_equal(vig_field_lookup("process.nam\0", 12), -1);
	assert_true(vig_field_is_object("process.parent", 14));
	assert_false(vig_field_is_object("process.name", 12));
	/* Every name is unique and looks itself up. */
	for (int i = 0; i < VIG_F__COUNT; i++) {
		const char *n = vig_field_info((enum vig_field)i)->name;
		assert_int_equal(vig_field_lookup(n, strlen(n)), i);
	}
}

static void test_setters(void **state)
{
	struct fx *fx = *state;
	struct vig_event *ev = &fx->ev;
	char buf[64];
	const char *direct;

	assert_int_equal(vig_event_set_cstr(ev, VIG_F_PROCESS_NAME, "bash"), VIG_OK);
	assert_int_equal(vig_event_set_int(ev, VIG_F_PROCESS_NAME, 3), VIG_EINVAL);
	assert_int_equal(vig_event_set_text(ev, VIG_F_DESTINATION_PORT, "4444", 4), VIG_OK);
	assert_int_equal(vig_event_set_text(ev, VIG_F_DESTINATION_PORT, "44x", 3), VIG_EINVAL);
	assert_int_equal(vig_event_set_ip(ev, VIG_F_SOURCE_IP, "10.1.2.3", 8), VIG_OK);
	assert_int_equal(vig_event_set_ip(ev, VIG_F_SOURCE_IP, "10.1.2", 6), VIG_EINVAL);
	vig_val_text(vig_event_get(ev, VIG_F_SOURCE_IP), buf, sizeof(buf), &direct);
	assert_string_equal(buf, "10.1.2.3");
	for (int i = 0; i < 10; i++)
		assert_int_equal(vig_event_list_add(ev, VIG_F_PROCESS_ARGS, "a", 1), VIG_OK);
	assert_int_equal(vig_event_get(ev, VIG_F_PROCESS_ARGS)->n, 10);
	assert_int_equal(vig_event_ext_str(ev, "process.name", "x", 1), VIG_EINVAL);
	assert_int_equal(vig_event_ext_str(ev, "process", "x", 1), VIG_EINVAL);
	assert_int_equal(vig_event_ext_str(ev, "process.name.sub", "x", 1), VIG_EINVAL);
	assert_int_equal(vig_event_ext_str(ev, "x..y", "x", 1), VIG_EINVAL); /* empty segment */
	assert_int_equal(vig_event_ext_str(ev, ".x", "x", 1), VIG_EINVAL);
	assert_int_equal(vig_event_ext_str(ev, "a.b", "x", 1), VIG_OK);
	assert_int_equal(vig_event_ext_str(ev, "a", "x", 1), VIG_EINVAL);
	assert_int_equal(vig_event_ext_int(ev, "a.b", 7), VIG_OK); /* replaces */
	assert_int_equal(vig_event_ext_get(ev, "a.b", 3)->u.i, 7);
	assert_int_equal(vig_event_get_by_name(ev, "destination.port", 16)->u.i, 4444);
}

static void test_cidr(void **state)
{
	uint8_t lo[16], hi[16], ip[16];

	assert_true(vig_cidr_parse("10.0.0.0/8", 10, lo, hi));
	assert_true(vig_ip_parse("10.255.1.1", 10, ip));
	assert_true(memcmp(lo, ip, 16) <= 0 && memcmp(ip, hi, 16) <= 0);
	assert_true(vig_ip_parse("11.0.0.0", 8, ip));
	assert_true(memcmp(ip, hi, 16) > 0);
	assert_true(vig_cidr_parse("fe80::/10", 9, lo, hi));
	assert_true(vig_ip_parse("febf::1", 7, ip));
	assert_true(memcmp(lo, ip, 16) <= 0 && memcmp(ip, hi, 16) <= 0);
	assert_false(vig_cidr_parse("10.0.0.0/33", 11, lo, hi));
	assert_false(vig_cidr_parse("10.0.0.0/x", 10, lo, hi));
}

static void test_json_roundtrip(void **state)
{
	struct fx *fx = *state;
	const char *in =
		"{\"@timestamp\":\"2026-11-23T19:05:00.000Z\",\"event\":{\"category\":\"process\"},"
		"\"process.name\":\"bash\",\"process\":{\"pid\":42,\"args\":[\"bash\",\"-c\",\"id\"],"
		"\"parent\":{\"name\":\"sshd\"}},\"source\":{\"ip\":\"::1\"},\"labels\":{\"env\":\"prod\"},"
		"\"score\":1.5,\"ok\":true,\"tags\":[\"a\",1]}";
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_buf out;

	assert_int_equal(vig_event_from_json(&fx->ev, in, strlen(in), NULL, err), VIG_OK);
	assert_int_equal(fx->ev.f[VIG_F_PROCESS_PID].u.i, 42);
	assert_string_equal(fx->ev.f[VIG_F_PROCESS_PARENT_NAME].u.s, "sshd");
	vig_buf_init(&out, 0);
	assert_int_equal(vig_event_to_json(&fx->ev, &out), VIG_OK);
	assert_string_equal(out.data,
		"{\"@timestamp\":\"2026-11-23T19:05:00.000Z\",\"event\":{\"category\":\"process\"},"
		"\"labels\":{\"env\":\"prod\"},\"ok\":true,\"process\":{\"args\":[\"bash\",\"-c\",\"id\"],"
		"\"name\":\"bash\",\"parent\":{\"name\":\"sshd\"},\"pid\":42},\"score\":1.5,"
		"\"source\":{\"ip\":\"::1\"},\"tags\":\"[\\\"a\\\",1]\"}");
	/* The output decodes to the same output. */
	struct vig_event ev2;
	vig_event_init(&ev2, &fx->arena);
	assert_int_equal(vig_event_from_json(&ev2, out.data, out.len, NULL, err), VIG_OK);
	struct vig_buf out2;
	vig_buf_init(&out2, 0);
	vig_event_to_json(&ev2, &out2);
	assert_string_equal(out.data, out2.data);
	vig_buf_release(&out);
	vig_buf_release(&out2);
}

static void test_json_errors(void **state)
{
	struct fx *fx = *state;
	char err[VIG_ERRBUF_SIZE];
	struct vig_json_limits lim = {64, 3};
	static const struct {
		const char *json;
		enum vig_err rc;
		const char *msg;
	} cases[] = {
		{"[1]", VIG_EPARSE, "an event must be a JSON object"},
		{"{\"a\":", VIG_EPARSE, "invalid JSON"},
		{"{\"process\":{\"pid\":\"x\"}}", VIG_EINVAL, "field process.pid: not a valid long"},
		{"{\"source\":{\"ip\":\"300.1.1.1\"}}", VIG_EINVAL, "field source.ip"},
		{"{\"process\":5}", VIG_EINVAL, "field process: expected an object"},
		{"{\"a\":{\"b\":{\"c\":{\"d\":1}}}}", VIG_ETOOBIG, "nesting deeper"},
		{"{\"a\":1,\"a\":2}", VIG_EPARSE, "field a: duplicate key"},
		{"{\"process\":{\"pid\":1},\"process.pid\":2}", VIG_EPARSE, "field process.pid: duplicate key"},
		{"{\"a\":1} x", VIG_EPARSE, "end of input expected"},
		{"{\"a\":1,}", VIG_EPARSE, "expected a key"},
		{"{\"a\":01}", VIG_EPARSE, "invalid JSON"},
		{"{\"a\":\"\\ud800\"}", VIG_EPARSE, "unpaired surrogate"},
		{"{\"a\":\"\\x\"}", VIG_EPARSE, "bad escape"},
		{"{\"a\":\"\x01\"}", VIG_EPARSE, "control character"},
		{"{\"a\":\"\xc3\x28\"}", VIG_EPARSE, "invalid UTF-8"},
		{"{\"a\":tru}", VIG_EPARSE, "unexpected character"},
		{"{\"process\":{\"args\":[[1]]}}", VIG_EINVAL, "list items must be scalars"},
		{"{\"process\":{\"name\":[\"x\"]}}", VIG_EINVAL, "field process.name: expected a scalar"},
		{"{\"\":1}", VIG_EINVAL, "empty key"},
		{"", VIG_EPARSE, "empty input"},
		{"{\"@timestamp\":true}", VIG_EINVAL, "field @timestamp"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vig_event_clear(&fx->ev);
		err[0] = '\0';
		enum vig_err rc = vig_event_from_json(&fx->ev, cases[i].json, strlen(cases[i].json),
						      &lim, err);
		assert_int_equal(rc, cases[i].rc);
		assert_non_null(strstr(err, cases[i].msg));
	}
	char big[100];
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[99] = '}';
	assert_int_equal(vig_event_from_json(&fx->ev, big, sizeof(big), &lim, err), VIG_ETOOBIG);
}

/* Escapes, numbers and whitespace decode to what they mean; a field set before decoding is
 * replaced, not reported as a duplicate. */
static void test_json_details(void **state)
{
	struct fx *fx = *state;
	const char *in = " {\"message\" : \"tab\\there \\u00e9 \\ud83d\\ude00 \\/\", "
			 "\"n\":-12.5e1, \"big\": 123456789012345678901, \"z\": -0,"
			 "\"arr\" : [ 1 , { \"k\" : \"v w\" } ], \"source\":{\"port\":22.0}} \n";
	char err[VIG_ERRBUF_SIZE] = "";

	vig_event_set_cstr(&fx->ev, VIG_F_MESSAGE, "raw line");
	assert_int_equal(vig_event_from_json(&fx->ev, in, strlen(in), NULL, err), VIG_OK);
	assert_string_equal(fx->ev.f[VIG_F_MESSAGE].u.s, "tab\there \xc3\xa9 \xf0\x9f\x98\x80 /");
	assert_true(vig_event_ext_get(&fx->ev, "n", 1)->u.d == -125.0);
	assert_int_equal(vig_event_ext_get(&fx->ev, "big", 3)->type, VIG_T_FLOAT);
	assert_int_equal(vig_event_ext_get(&fx->ev, "z", 1)->u.i, 0);
	assert_string_equal(vig_event_ext_get(&fx->ev, "arr", 3)->u.s, "[1,{\"k\":\"v w\"}]");
	assert_int_equal(fx->ev.f[VIG_F_SOURCE_PORT].u.i, 22);
}

static void test_entity_id(void **state)
{
	char a[33], b[33], c[33];

	vig_entity_id("host1", 42, 1000, a);
	vig_entity_id("host1", 42, 1000, b);
	vig_entity_id("host1", 42, 1001, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_int_equal(strlen(a), 32);
}

static void test_sigma_map(void **state)
{
	assert_string_equal(vig_sigma_field("linux", "process_creation", NULL, "Image"),
			    "process.executable");
	assert_string_equal(vig_sigma_field("linux", "process_creation", NULL, "commandline"),
			    "process.command_line");
	assert_string_equal(vig_sigma_field("linux", "file_rename", NULL, "TargetFilename"),
			    "file.target_path");
	assert_string_equal(vig_sigma_field("linux", "file_event", NULL, "TargetFilename"),
			    "file.path");
	assert_string_equal(vig_sigma_field(NULL, "webserver", NULL, "cs-uri-query"), "url.query");
	assert_null(vig_sigma_field("linux", NULL, "auditd", "a0"));
	/* Every target is a core field, or an extension name that cannot clash with one. */
	unsigned n;
	const struct vig_sigma_map_entry *t = vig_sigma_map_table(&n);
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(t[i].ecs);
		if (vig_field_lookup(t[i].ecs, len) >= 0)
			continue;
		assert_false(vig_field_is_object(t[i].ecs, len));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_setters, setup, teardown),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test_setup_teardown(test_json_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_details, setup, teardown),
		cmocka_unit_test(test_entity_id),
		cmocka_unit_test(test_sigma_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
