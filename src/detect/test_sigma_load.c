/*
 * test_sigma_load.c - the Sigma loader: rule attributes, multi-document files, correlation
 * and filter rules (including the specification's own examples when $VIG_SHARED_DIR is set),
 * and every refusal with its exact reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/sigma.h"

static const char RULE[] = "title: Netcat Shell\n"
			   "id: 7f734ed0-0000-0000-0000-000000000001\n"
			   "status: test\n"
			   "level: high\n"
			   "author: Vigil\n"
			   "tags: [attack.execution, attack.t1059]\n"
			   "references:\n  - https://example.com\n"
			   "falsepositives: Admins\n"
			   "related:\n  - id: aaa\n    type: derived\n"
			   "logsource:\n  product: Linux\n  category: process_creation\n"
			   "detection:\n  sel:\n    Image|endswith: /nc\n  condition: sel\n";

static void test_attributes(void **state)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r = vig_sigma_load(RULE, strlen(RULE), NULL, err);

	assert_non_null(r);
	assert_int_equal(r->kind, VIG_SIGMA_DETECTION);
	assert_string_equal(r->title, "Netcat Shell");
	assert_string_equal(r->id, "7f734ed0-0000-0000-0000-000000000001");
	assert_string_equal(r->level, "high");
	assert_string_equal(r->status, "test");
	assert_int_equal(r->tags.n, 2);
	assert_string_equal(r->tags.v[1], "attack.t1059");
	assert_int_equal(r->falsepositives.n, 1);
	assert_int_equal(r->references.n, 1);
	assert_int_equal(r->n_related, 1);
	assert_string_equal(r->related[0].type, "derived");
	assert_string_equal(r->logsource.product, "linux"); /* lowercased */
	assert_string_equal(r->logsource.category, "process_creation");
	assert_null(r->logsource.service);
	assert_int_equal(vig_sigma_atom_count(r), 1);
	assert_null(r->next);
	vig_sigma_free(r);
}

static void test_multi_document(void **state)
{
	char buf[4096], err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r;

	snprintf(buf, sizeof(buf), "%s---\n%s", RULE, RULE);
	r = vig_sigma_load(buf, strlen(buf), NULL, err);
	assert_non_null(r);
	assert_non_null(r->next);
	assert_null(r->next->next);
	{
		struct vig_sigma_ruleset rs;
		vig_sigma_ruleset_init(&rs, 1);
		assert_int_equal(vig_sigma_ruleset_add(&rs, r), VIG_ETOOBIG); /* frees what it cannot hold */
		assert_int_equal(rs.n, 1);
		vig_sigma_ruleset_release(&rs);
	}
	/* A bad second document refuses the file and says which. */
	snprintf(buf, sizeof(buf), "%s---\ntitle: x\n", RULE);
	assert_null(vig_sigma_load(buf, strlen(buf), NULL, err));
	assert_string_equal(err, "document 2: missing logsource");
}

static void test_correlation_and_filter(void **state)
{
	char err[VIG_ERRBUF_SIZE];
	const char *corr = "title: Many failed logins\nid: c1\nname: many_failed\ncorrelation:\n  type: value_count\n"
			   "  rules:\n    - 5638f7c0\n    - failed_login\n  group-by:\n    - ComputerName\n"
			   "  timespan: 1h\n  condition:\n    field: User\n    gt: 10\n    lte: 200\n"
			   "  aliases:\n    ip:\n      failed_login: SourceIp\n      fw: src_ip\n  generate: true\n";
	const char *filt = "title: Filter admins\nlogsource:\n  category: process_creation\n  product: windows\n"
			   "filter:\n  rules:\n    - 6f3e2987\n  selection:\n    User|startswith: 'adm_'\n"
			   "  condition: not selection\n";
	struct vig_sigma_rule *r = vig_sigma_load(corr, strlen(corr), NULL, err);

	assert_non_null(r);
	assert_int_equal(r->kind, VIG_SIGMA_CORRELATION);
	assert_string_equal(r->name, "many_failed");
	assert_int_equal(r->corr->type, VIG_CORR_VALUE_COUNT);
	assert_int_equal(r->corr->rules.n, 2);
	assert_string_equal(r->corr->group_by.v[0], "ComputerName");
	assert_int_equal(r->corr->timespan_s, 3600);
	assert_int_equal(r->corr->cond.ops, VIG_CORR_GT | VIG_CORR_LTE);
	assert_true(r->corr->cond.gt == 10.0 && r->corr->cond.lte == 200.0);
	assert_string_equal(r->corr->cond.field, "User");
	assert_int_equal(r->corr->n_aliases, 2);
	assert_string_equal(r->corr->aliases[1].field, "src_ip");
	assert_true(r->corr->generate);
	vig_sigma_free(r);

	r = vig_sigma_load(filt, strlen(filt), NULL, err);
	assert_non_null(r);
	assert_int_equal(r->kind, VIG_SIGMA_FILTER);
	assert_int_equal(r->filter->rules.n, 1);
	assert_int_equal(vig_sigma_atom_count(r), 1);
	vig_sigma_free(r);
}

/* The specification's own schema examples all load. */
static void test_spec_examples(void **state)
{
	static const char *const files[] = {
		"correlation/event_count.yml", "correlation/event_count_ecs.yml", "correlation/temporal.yml",
		"correlation/temporal_ordered.yml", "correlation/value_avg.yml", "correlation/value_count.yml",
		"correlation/value_percentile.yml", "correlation/value_sum.yml", "filter/filter_1.yml",
		"filter/filter_ecs.yml", "rules/rule_1.yml", "rules/rule_ecs.yml",
	};
	const char *d = getenv("VIG_SHARED_DIR");
	char path[1024], err[VIG_ERRBUF_SIZE];

	if (!d) {
		skip();
		return;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct vig_sigma_rule *r;
		snprintf(path, sizeof(path), "%s/data/sigma-spec/tests/schema/%s", d, files[i]);
		r = vig_sigma_load_file(path, NULL, err);
		if (!r && strstr(err, "cannot open")) {
			skip();
			return;
		}
		if (!r)
			print_message("%s: %s\n", files[i], err);
		assert_non_null(r);
		vig_sigma_free(r);
	}
}

static void expect_error(const char *detection, const char *reason)
{
	char yaml[2048], err[VIG_ERRBUF_SIZE];

	snprintf(yaml, sizeof(yaml), "title: t\nlogsource:\n  product: linux\ndetection:\n%s", detection);
	assert_null(vig_sigma_load(yaml, strlen(yaml), NULL, err));
	if (strcmp(err, reason) != 0)
		print_message("got: %s\nwant: %s\n", err, reason);
	assert_string_equal(err, reason);
}

static void test_refusals(void **state)
{
	char err[VIG_ERRBUF_SIZE];
	const char *bad_yaml = "title: t\ndetection: [a, b\n";
	const char *legacy = "action: global\ntitle: t\nlogsource: {product: linux}\n";
	const char *no_title = "logsource: {product: linux}\ndetection: {sel: {a: b}, condition: sel}\n";

	assert_null(vig_sigma_load(bad_yaml, strlen(bad_yaml), NULL, err));
	assert_string_equal(err, "yaml error at line 3 column 1: did not find expected ',' or ']'");
	assert_null(vig_sigma_load(legacy, strlen(legacy), NULL, err));
	assert_string_equal(err, "legacy multi-document action 'global' is not supported (sigma v1 rule collection)");
	assert_null(vig_sigma_load(no_title, strlen(no_title), NULL, err));
	assert_string_equal(err, "missing title");
	assert_null(vig_sigma_load("", 0, NULL, err));
	assert_string_equal(err, "no rule in input");
	{
		struct vig_sigma_opts o = {.max_bytes = 10};
		assert_null(vig_sigma_load(RULE, strlen(RULE), &o, err));
	}

	expect_error("  sel:\n    Image|foo: x\n  condition: sel\n",
		     "unsupported modifier 'foo' in selection 'sel' field 'Image'");
	expect_error("  sel:\n    Image: x\n  condition: sel and other\n", "unknown selection 'other' in condition");
	expect_error("  sel:\n    Image: x\n  condition: 1 of filter*\n", "'filter*' in condition matches no selection");
	expect_error("  sel:\n    Image: x\n", "missing condition in detection");
	expect_error("  sel:\n    Image: x\n  condition: (sel\n", "missing ')' in condition");
	expect_error("  sel:\n    Image: x\n  condition: sel)\n", "unbalanced ')' in condition");
	expect_error("  sel:\n    Image: x\n  condition: sel | count() > 5\n",
		     "aggregation expression ('|') in condition is not supported, use a correlation rule");
	expect_error("  sel:\n    CommandLine|re: 'a(b'\n  condition: sel\n",
		     "invalid regular expression in selection 'sel' field 'CommandLine': missing closing parenthesis at "
		     "offset 3");
	expect_error("  sel:\n    CommandLine|i: 'a'\n  condition: sel\n",
		     "modifiers i/m/s need 're' in selection 'sel' field 'CommandLine'");
	expect_error("  sel:\n    CommandLine|contains|startswith: 'a'\n  condition: sel\n",
		     "conflicting modifiers contains/startswith/endswith in selection 'sel' field 'CommandLine'");
	expect_error("  sel:\n    DestinationIp|cidr: 10.0.0.0/33\n  condition: sel\n",
		     "invalid cidr '10.0.0.0/33' in selection 'sel' field 'DestinationIp'");
	expect_error("  sel:\n    pid|gt: ten\n  condition: sel\n", "value 'ten' is not a number in selection 'sel' field 'pid'");
	expect_error("  sel:\n    pid|exists: maybe\n  condition: sel\n",
		     "modifier 'exists' needs true or false in selection 'sel' field 'pid'");
	expect_error("  sel:\n    Cmd|base64: 'a*'\n  condition: sel\n",
		     "wildcards cannot be combined with an encoding modifier in selection 'sel' field 'Cmd'");
	expect_error("  sel:\n    Cmd: []\n  condition: sel\n", "empty value list in selection 'sel' field 'Cmd'");
	expect_error("  sel:\n    Cmd:\n      a: b\n  condition: sel\n", "value is a map in selection 'sel' field 'Cmd'");
	expect_error("  sel:\n    - a\n    - {Cmd: b}\n  condition: sel\n", "selection 'sel' mixes plain values and maps");
	expect_error("  sel: {}\n  condition: sel\n", "selection 'sel' is empty");
	expect_error("  sel:\n    Cmd|re|cidr: x\n  condition: sel\n",
		     "conflicting modifiers in selection 'sel' field 'Cmd'");
}

static void test_yaml_bombs(void **state)
{
	char err[VIG_ERRBUF_SIZE];
	/* A self-referencing alias and a nested alias fan-out must end in an error, not a hang. */
	const char *selfref = "title: t\nlogsource: {product: linux}\ndetection: &a\n  sel: *a\n  condition: sel\n";
	const char *fan = "title: t\nlogsource: {product: linux}\ndetection:\n  sel:\n    a: &x [v, v, v, v, v, v, v, v]\n"
			  "    b: *x\n  condition: sel\n";
	struct vig_sigma_rule *r;

	r = vig_sigma_load(selfref, strlen(selfref), NULL, err);
	vig_sigma_free(r);
	r = vig_sigma_load(fan, strlen(fan), NULL, err);
	assert_non_null(r);
	vig_sigma_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attributes),	     cmocka_unit_test(test_multi_document),
		cmocka_unit_test(test_correlation_and_filter), cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_refusals),	     cmocka_unit_test(test_yaml_bombs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
