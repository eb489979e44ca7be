/*
 * test_filter.c - Sigma filters through the real detection engine: a filter naming rules
 * removes their matches when its detection holds and only then; a filter naming no rule
 * applies to every rule within its logsource and to no other; a filter is only evaluated on
 * events of its own logsource; the engine counts what it removed; the specification's
 * example filters load and apply to the rules they name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "detect/filter.h"
#include "detect/sigma.h"

#define PROC_RULE(id, extra)                                                                       \
	"title: rule " id "\nid: " id "\nlogsource:\n  product: linux\n  category: process_creation\n" \
	"detection:\n  sel:\n    Image|endswith: '/tar'\n" extra "  condition: sel\n"

struct hits {
	char ids[8][40];
	size_t n;
};

static int on_rule(void *ctx, const struct vig_sigma_rule *r)
{
	struct hits *h = ctx;

	if (h->n < 8)
		snprintf(h->ids[h->n++], sizeof(h->ids[0]), "%s", r->id ? r->id : "?");
	return 0;
}

struct eng {
	struct vig_detect_engine *e;
	struct vig_detect_scratch *s;
};

static void build(struct eng *x, const char *yaml)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_sigma_rule *r = vig_sigma_load(yaml, strlen(yaml), NULL, err);

	if (!r)
		print_message("load: %s\n", err);
	assert_non_null(r);
	vig_sigma_ruleset_init(&rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&rs, r), VIG_OK);
	x->e = vig_detect_build(&rs, err);
	assert_non_null(x->e);
	x->s = vig_detect_scratch_new(x->e, err);
	assert_non_null(x->s);
}

static void done(struct eng *x)
{
	vig_detect_scratch_free(x->s);
	vig_detect_free(x->e);
}

/* Matches a process start of exe by user (NULL: no user); returns the matching rules. */
static struct hits run(struct eng *x, const char *exe, const char *user)
{
	struct vig_arena a;
	struct vig_event ev;
	struct hits h = {0};
	size_t n = 99;

	vig_arena_init(&a, 4096, 1 << 20);
	vig_event_init(&ev, &a);
	vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "a1");
	vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process");
	vig_event_set_cstr(&ev, VIG_F_EVENT_TYPE, "start");
	vig_event_set_cstr(&ev, VIG_F_PROCESS_EXECUTABLE, exe);
	if (user)
		vig_event_set_cstr(&ev, VIG_F_USER_NAME, user);
	assert_int_equal(vig_detect_match(x->e, x->s, &ev, on_rule, &h, &n), VIG_OK);
	assert_int_equal(n, h.n);
	vig_arena_release(&a);
	return h;
}

static void test_named_filter(void **state)
{
	struct eng x;
	struct hits h;
	struct vig_detect_counters c;
	struct vig_detect_stats st;

	(void)state;
	build(&x, PROC_RULE("r-1", "") "---\n" PROC_RULE("r-2", "") "---\n"
		  "title: admins archive\nid: f-1\nlogsource:\n  product: linux\n  category: process_creation\n"
		  "filter:\n  rules:\n    - r-1\n  selection:\n    User|startswith: 'adm_'\n  condition: selection\n");
	vig_detect_get_stats(x.e, &st);
	assert_int_equal(st.detection_rules, 2);
	h = run(&x, "/usr/bin/tar", "adm_bob");
	assert_int_equal(h.n, 1);
	assert_string_equal(h.ids[0], "r-2");
	h = run(&x, "/usr/bin/tar", "bob");
	assert_int_equal(h.n, 2);
	h = run(&x, "/usr/bin/tar", NULL);
	assert_int_equal(h.n, 2);
	/* the filter alone never reports */
	h = run(&x, "/usr/bin/ls", "adm_bob");
	assert_int_equal(h.n, 0);
	vig_detect_scratch_counters(x.s, &c);
	assert_int_equal(c.filtered, 1);
	done(&x);
}

static void test_logsource_filter(void **state)
{
	struct eng x;
	struct hits h;

	(void)state;
	/* names no rule: applies to every process_creation rule, not to the network rule */
	build(&x, PROC_RULE("r-1", "") "---\n" PROC_RULE("r-2", "") "---\n"
		  "title: net\nid: n-1\nlogsource:\n  product: linux\n  category: network_connection\n"
		  "detection:\n  sel:\n    destination.port: 4444\n  condition: sel\n---\n"
		  "title: backups\nid: f-2\nlogsource:\n  category: process_creation\n"
		  "filter:\n  rules: []\n  selection:\n    User: backup\n  condition: selection\n");
	assert_int_equal(run(&x, "/bin/tar", "backup").n, 0);
	assert_int_equal(run(&x, "/bin/tar", "root").n, 2);
	assert_int_equal(vig_filter_index_rule_filters(NULL, NULL), 0);
	done(&x);
	/* a filter of another logsource is not evaluated on these events: the match stays */
	build(&x, PROC_RULE("r-1", "") "---\n"
		  "title: other\nid: f-3\nlogsource:\n  product: windows\n  category: process_creation\n"
		  "filter:\n  rules: [r-1]\n  selection:\n    User: backup\n  condition: selection\n");
	h = run(&x, "/bin/tar", "backup");
	assert_int_equal(h.n, 1);
	done(&x);
}

static void test_spec_filters(void **state)
{
	const char *dir = getenv("VIG_SHARED_DIR");
	char path[1024], err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_filter_index *fx;
	const char *rules =
		"title: rar\nid: 6f3e2987-db24-4c78-a860-b4f4095a7095\nlogsource:\n  product: windows\n"
		"  category: process_creation\ndetection:\n  sel:\n    Image|endswith: rar.exe\n  condition: sel\n---\n"
		"title: other\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n  product: windows\n"
		"  category: process_creation\ndetection:\n  sel:\n    Image|endswith: x.exe\n  condition: sel\n";
	struct vig_sigma_rule *r, *f;

	(void)state;
	if (!dir) {
		print_message("skipped: VIG_SHARED_DIR not set\n");
		skip();
	}
	snprintf(path, sizeof(path), "%s/data/sigma-spec/tests/schema/filter/filter_1.yml", dir);
	if (access(path, R_OK) != 0) {
		print_message("skipped: %s not found\n", path);
		skip();
	}
	f = vig_sigma_load_file(path, NULL, err);
	assert_non_null(f);
	assert_int_equal(f->kind, VIG_SIGMA_FILTER);
	r = vig_sigma_load(rules, strlen(rules), NULL, err);
	assert_non_null(r);
	vig_sigma_ruleset_init(&rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&rs, r), VIG_OK);
	assert_int_equal(vig_sigma_ruleset_add(&rs, f), VIG_OK);
	fx = vig_filter_index_build(rs.rules, rs.n, err);
	assert_non_null(fx);
	assert_int_equal(vig_filter_index_filters(fx), 1);
	assert_int_equal(vig_filter_index_rule_filters(fx, rs.rules[0]), 1);
	assert_int_equal(vig_filter_index_rule_filters(fx, rs.rules[1]), 0);
	vig_filter_index_free(fx);
	vig_sigma_ruleset_release(&rs);
	snprintf(path, sizeof(path), "%s/data/sigma-spec/tests/schema/filter/filter_ecs.yml", dir);
	f = vig_sigma_load_file(path, NULL, err);
	if (!f)
		print_message("filter_ecs.yml: %s\n", err);
	assert_non_null(f);
	vig_sigma_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_filter),
		cmocka_unit_test(test_logsource_filter),
		cmocka_unit_test(test_spec_filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
