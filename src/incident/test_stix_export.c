/*
 * test_stix_export.c - the STIX 2.1 builder: patterns of every observable type with the
 * literal escaping of the patterning grammar, UUIDv5 ids checked against an independent
 * value (Python's uuid.uuid5 over the same namespace and name), millisecond timestamps, TLP
 * marking-definitions (2.0 and 1.0 ids), red left out unless asked for, and a whole bundle
 * read back by Vigil's own STIX parser (src/intel/stix.c) so that export and import agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incident/stix_export.h"
#include "intel/intel.h"

static void test_patterns(void **state)
{
	static const struct {
		const char *type, *value, *want;
	} ok[] = {
		{"ip", "198.51.100.7", "[ipv4-addr:value = '198.51.100.7']"},
		{"ip", "10.1.2.3/8", "[ipv4-addr:value = '10.0.0.0/8']"},
		{"ip", "2001:DB8::1", "[ipv6-addr:value = '2001:db8::1']"},
		{"domain", "evil.example", "[domain-name:value = 'evil.example']"},
		{"hostname", "web-01.corp", "[domain-name:value = 'web-01.corp']"},
		{"url", "http://x.example/a?b='c'", "[url:value = 'http://x.example/a?b=\\'c\\'']"},
		{"hash", "D41D8CD98F00B204E9800998ECF8427E", "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
		{"hash", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
		 "[file:hashes.'SHA-1' = 'da39a3ee5e6b4b0d3255bfef95601890afd80709']"},
		{"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		 "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']"},
		{"email", "o'brien@example.org", "[email-addr:value = 'o\\'brien@example.org']"},
		{"user", "CORP\\alice", "[user-account:account_login = 'CORP\\\\alice']"},
		{"file", "a'b\\c.exe", "[file:name = 'a\\'b\\\\c.exe']"},
	};
	static const struct {
		const char *type, *value;
	} bad[] = {{"other", "x"}, {"hash", "abc"}, {"hash", "zz9d8cd98f00b204e9800998ecf8427e"},
		   {"ip", "300.1.1.1"}, {"ip", "evil.example"}, {"domain", ""}, {"nonsense", "x"}};
	char out[VIG_STIX_PATTERN_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_true(vig_stix_pattern(ok[i].type, ok[i].value, out, sizeof(out)));
		assert_string_equal(out, ok[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(vig_stix_pattern(bad[i].type, bad[i].value, out, sizeof(out)));
	/* too small a buffer fails instead of truncating */
	assert_false(vig_stix_pattern("domain", "evil.example", out, 20));
}

static void test_ids_and_times(void **state)
{
	char a[VIG_STIX_ID_MAX], b[VIG_STIX_ID_MAX], t[VIG_STIX_TIME_STRLEN];

	(void)state;
	vig_stix_id("indicator", "indicator/acme/7", a);
	/* python3 -c "import uuid; print(uuid.uuid5(uuid.UUID('1f4c7a52-0b8e-4c59-9d0e-6a2b3c8d9e71'),
	 * 'indicator/acme/7'))" */
	assert_string_equal(a, "indicator--fb420798-ad6e-5f99-a7db-8687551bbf74");
	vig_stix_id("indicator", "indicator/acme/7", b);
	assert_string_equal(a, b);
	vig_stix_id("indicator", "indicator/acme/8", b);
	assert_string_not_equal(a, b);
	vig_stix_time(1764000000LL * 1000000000LL, t);
	assert_string_equal(t, "2025-11-24T16:00:00.000Z");
	vig_stix_time(1764000000LL * 1000000000LL + 123456789, t);
	assert_string_equal(t, "2025-11-24T16:00:00.123Z");
}

static void test_markings(void **state)
{
	json_t *m;

	(void)state;
	assert_string_equal(vig_stix_tlp2_id("clear"), "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487");
	assert_string_equal(vig_stix_tlp2_id("white"), vig_stix_tlp2_id("clear"));
	assert_string_equal(vig_stix_tlp2_id("amber+strict"), "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003");
	assert_string_equal(vig_stix_tlp1_id("white"), "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9");
	assert_string_equal(vig_stix_tlp1_id("red"), "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed");
	assert_null(vig_stix_tlp1_id("amber+strict"));
	assert_null(vig_stix_tlp2_id("purple"));
	m = vig_stix_marking(vig_stix_tlp1_id("green"));
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "name")), "TLP:GREEN");
	assert_string_equal(json_string_value(json_object_get(json_object_get(m, "definition"), "tlp")), "green");
	json_decref(m);
	m = vig_stix_marking(vig_stix_tlp2_id("amber+strict"));
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "name")), "TLP:AMBER+STRICT");
	json_decref(m);
	assert_null(vig_stix_marking("marking-definition--00000000-0000-0000-0000-000000000000"));
}

static json_t *incident(void)
{
	return json_pack("{s:i,s:s,s:s,s:s,s:s,s:[{s:i,s:s,s:s,s:s,s:s},{s:i,s:s,s:s,s:s,s:s},"
			 "{s:i,s:s,s:s,s:s,s:s},{s:i,s:s,s:s,s:s,s:s}]}",
			 "id", 42, "title", "Beacon to C2", "description", "seen on web-01", "created",
			 "2026-11-20T08:00:00Z", "updated", "2026-11-21T09:30:00.250Z", "observables", "id", 1,
			 "type", "ip", "value", "198.51.100.7", "tlp", "green", "created", "2026-11-20T08:00:00Z",
			 "id", 2, "type", "domain", "value", "c2.example", "tlp", "red", "created",
			 "2026-11-20T08:00:01Z", "id", 3, "type", "other", "value", "whatever", "tlp", "clear",
			 "created", "2026-11-20T08:00:02Z", "id", 4, "type", "hash", "value",
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "tlp", "amber+strict",
			 "created", "2026-11-20T08:00:03Z");
}

static size_t count_type(json_t *objs, const char *type)
{
	size_t i, n = 0;
	json_t *o;

	json_array_foreach(objs, i, o)
		n += strcmp(json_string_value(json_object_get(o, "type")), type) == 0;
	return n;
}

static void test_bundle(void **state)
{
	struct vig_stix_export_opts o = {.tenant = "acme", .tenant_name = "Acme Corp",
					 .tenant_created_ns = 1700000000LL * 1000000000LL};
	json_t *inc = incident(), *b1 = NULL, *b2 = NULL, *objs, *report, *x;
	char errbuf[VIG_ERRBUF_SIZE], *t1, *t2;
	struct vig_intel_list *l;
	size_t skipped = 0, i;

	(void)state;
	assert_int_equal(vig_stix_export_incident(inc, &o, &b1, &skipped, errbuf), VIG_OK);
	assert_int_equal(skipped, 2); /* red and other */
	objs = json_object_get(b1, "objects");
	assert_int_equal(count_type(objs, "identity"), 1);
	assert_int_equal(count_type(objs, "indicator"), 2);
	assert_int_equal(count_type(objs, "report"), 1);
	/* green: 2.0 + 1.0; amber+strict: 2.0 only */
	assert_int_equal(count_type(objs, "marking-definition"), 3);
	report = NULL;
	json_array_foreach(objs, i, x) {
		const char *type = json_string_value(json_object_get(x, "type"));

		assert_string_equal(json_string_value(json_object_get(x, "spec_version")), "2.1");
		if (!strcmp(type, "report"))
			report = x;
		if (!strcmp(type, "indicator")) {
			assert_string_equal(json_string_value(json_object_get(x, "pattern_type")), "stix");
			assert_string_equal(json_string_value(json_object_get(x, "valid_from")),
					    json_string_value(json_object_get(x, "created")));
		}
	}
	assert_non_null(report);
	assert_int_equal(json_array_size(json_object_get(report, "object_refs")), 2);
	assert_string_equal(json_string_value(json_object_get(report, "modified")), "2026-11-21T09:30:00.250Z");
	/* the most restrictive TLP included marks the report */
	assert_string_equal(json_string_value(json_array_get(json_object_get(report, "object_marking_refs"), 0)),
			    vig_stix_tlp2_id("amber+strict"));

	/* a re-export is the same document, ids included */
	assert_int_equal(vig_stix_export_incident(inc, &o, &b2, NULL, errbuf), VIG_OK);
	t1 = json_dumps(b1, JSON_SORT_KEYS);
	t2 = json_dumps(b2, JSON_SORT_KEYS);
	assert_string_equal(t1, t2);
	free(t2);
	json_decref(b2);

	/* Vigil's own STIX parser reads the two indicators back */
	l = vig_intel_list_new(0);
	assert_int_equal(vig_intel_parse_stix(t1, strlen(t1), 0, l, errbuf), VIG_OK);
	assert_int_equal(vig_intel_list_len(l), 2);
	vig_intel_list_free(l);
	free(t1);
	json_decref(b1);

	/* include_red adds the domain */
	o.include_red = true;
	assert_int_equal(vig_stix_export_incident(inc, &o, &b1, &skipped, errbuf), VIG_OK);
	assert_int_equal(skipped, 1);
	assert_int_equal(count_type(json_object_get(b1, "objects"), "indicator"), 3);
	json_decref(b1);

	/* not an incident */
	json_object_del(inc, "observables");
	assert_int_equal(vig_stix_export_incident(inc, &o, &b1, NULL, errbuf), VIG_EINVAL);
	assert_null(b1);
	json_decref(inc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_ids_and_times),
		cmocka_unit_test(test_markings),
		cmocka_unit_test(test_bundle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
