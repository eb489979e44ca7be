/*
 * test_correlate.c - the correlation engine (correlate.h) against hand-written scenarios: every
 * correlation type, group-by (with missing fields and tenants), aliases, sliding and tumbling
 * windows in event time, ordering, chains and `generate`, bounds and evictions, rule swaps,
 * persistence round trips and malformed state files, plus the Sigma specification's own
 * correlation examples (VIG_SHARED_DIR/data/sigma-spec) and one run through the real detection
 * engine.
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

#include "common/vtime.h"
#include "detect/correlate.h"
#include "detect/detect.h"
#include "detect/sigma.h"
#include "event/sigma_map.h"

#define T0 (1700000000LL * VIG_NS_PER_SEC)
#define SEC(x) (T0 + (int64_t)(x) * VIG_NS_PER_SEC)
#define MAXREC 64

/* A firing, copied out of the callback. */
struct rec {
	char rule[80];
	char tenant[40];
	char vals[4][80];
	bool null[4];
	size_t n_group;
	double value;
	uint64_t n_events;
	int64_t first, last;
	char ids[40][40];
	size_t n_ids;
	bool alert;
};

struct fx {
	struct vig_sigma_ruleset rs;
	struct vig_corr *c;
	struct rec rec[MAXREC];
	size_t n_rec;
	char problem[VIG_ERRBUF_SIZE];
	size_t n_problems;
	struct vig_arena arena;
	int next_id;
};

static int on_fire(void *ctx, const struct vig_corr_fire *f)
{
	struct fx *x = ctx;
	struct rec *r;

	assert_true(x->n_rec < MAXREC);
	r = &x->rec[x->n_rec++];
	memset(r, 0, sizeof(*r));
	snprintf(r->rule, sizeof(r->rule), "%s", f->rule->name ? f->rule->name : f->rule->title);
	snprintf(r->tenant, sizeof(r->tenant), "%s", f->tenant);
	r->n_group = f->n_group;
	for (size_t i = 0; i < f->n_group && i < 4; i++) {
		r->null[i] = !f->group_values[i];
		snprintf(r->vals[i], sizeof(r->vals[i]), "%s", f->group_values[i] ? f->group_values[i] : "");
	}
	r->value = f->value;
	r->n_events = f->n_events;
	r->first = f->first_ns;
	r->last = f->last_ns;
	assert_true(f->n_event_ids <= 40);
	for (size_t i = 0; i < f->n_event_ids; i++)
		snprintf(r->ids[i], sizeof(r->ids[i]), "%s", f->event_ids[i]);
	r->n_ids = f->n_event_ids;
	r->alert = f->alert;
	return 0;
}

static void on_problem(void *ctx, const struct vig_sigma_rule *rule, const char *reason)
{
	struct fx *x = ctx;

	(void)rule;
	snprintf(x->problem, sizeof(x->problem), "%s", reason);
	x->n_problems++;
}

/* Loads yaml (multi-document) into x->rs and installs it in x->c (created with lim). */
static void fx_load(struct fx *x, const char *yaml, const struct vig_corr_limits *lim)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r = vig_sigma_load(yaml, strlen(yaml), NULL, err);

	if (!r)
		print_message("load failed: %s\n", err);
	assert_non_null(r);
	if (!x->c) {
		memset(x, 0, sizeof(*x));
		x->c = vig_corr_new(lim);
		assert_non_null(x->c);
		vig_arena_init(&x->arena, 4096, 64 << 20);
	} else {
		vig_sigma_ruleset_release(&x->rs);
	}
	vig_sigma_ruleset_init(&x->rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&x->rs, r), VIG_OK);
	assert_int_equal(vig_corr_set_rules(x->c, x->rs.rules, x->rs.n, on_problem, x, err), VIG_OK);
}

/* Installs new rules in x->c; the previous rule objects are freed only afterwards. */
static void fx_reload(struct fx *x, const char *yaml)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r = vig_sigma_load(yaml, strlen(yaml), NULL, err);
	struct vig_sigma_ruleset old = x->rs;

	assert_non_null(r);
	vig_sigma_ruleset_init(&x->rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&x->rs, r), VIG_OK);
	assert_int_equal(vig_corr_set_rules(x->c, x->rs.rules, x->rs.n, on_problem, x, err), VIG_OK);
	vig_sigma_ruleset_release(&old);
}

static void fx_free(struct fx *x)
{
	vig_corr_free(x->c);
	vig_sigma_ruleset_release(&x->rs);
	vig_arena_release(&x->arena);
	memset(x, 0, sizeof(*x));
}

static const struct vig_sigma_rule *rule_named(struct fx *x, const char *name)
{
	for (size_t i = 0; i < x->rs.n; i++)
		if ((x->rs.rules[i]->name && !strcmp(x->rs.rules[i]->name, name)) ||
		    (x->rs.rules[i]->id && !strcmp(x->rs.rules[i]->id, name)))
			return x->rs.rules[i];
	fail_msg("no rule '%s'", name);
	return NULL;
}

/* Feeds a match of rule `name` on an event at second `s` with name/value pairs kv (NULL
 * terminated) for tenant (NULL = "t1"); returns the number of firings. */
static size_t feed(struct fx *x, const char *name, int64_t s, const char *tenant, const char *const *kv)
{
	struct vig_event ev;
	char id[32];
	size_t nf = 99;

	vig_event_init(&ev, &x->arena);
	snprintf(id, sizeof(id), "ev-%d", ++x->next_id);
	assert_int_equal(vig_event_set_ts(&ev, VIG_F_TIMESTAMP, SEC(s)), VIG_OK);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_EVENT_ID, id), VIG_OK);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_TENANT_ID, tenant ? tenant : "t1"), VIG_OK);
	for (size_t i = 0; kv && kv[i]; i += 2)
		assert_int_equal(vig_event_set_by_name(&ev, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1])),
				 VIG_OK);
	assert_int_equal(vig_corr_feed(x->c, rule_named(x, name), NULL, &ev, on_fire, x, &nf), VIG_OK);
	return nf;
}

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

#define BASE(nm)                                                                                   \
	"title: base " nm "\nid: id-" nm "\nname: " nm "\nlogsource:\n  product: testprod\n"        \
	"detection:\n  sel:\n    event.action: " nm "\n  condition: sel\n"

static struct stats_view {
	struct vig_corr_stats s;
} sv;

static const struct vig_corr_stats *stats(struct fx *x)
{
	vig_corr_get_stats(x->c, &sv.s);
	return &sv.s;
}

/* ---- event_count, windows, group-by ---- */

static const char *const BRUTE =
	"title: brute force\nname: brute\nid: corr-brute\nlevel: high\ncorrelation:\n  type: event_count\n"
	"  rules: [fail]\n  group-by: [source.ip]\n  timespan: 30s\n  condition:\n    gte: 4\n---\n" BASE("fail");

static void test_event_count(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x, BRUTE, NULL);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(feed(&x, "fail", i, NULL, KV("source.ip", "10.0.0.1")), 0);
		assert_int_equal(feed(&x, "fail", i, NULL, KV("source.ip", "10.0.0.2")), 0);
	}
	assert_int_equal(feed(&x, "fail", 5, NULL, KV("source.ip", "10.0.0.1")), 1);
	assert_string_equal(x.rec[0].rule, "brute");
	assert_string_equal(x.rec[0].tenant, "t1");
	assert_int_equal(x.rec[0].n_group, 1);
	assert_string_equal(x.rec[0].vals[0], "10.0.0.1");
	assert_true(x.rec[0].value == 4);
	assert_int_equal(x.rec[0].n_events, 4);
	assert_int_equal(x.rec[0].first, SEC(0));
	assert_int_equal(x.rec[0].last, SEC(5));
	assert_int_equal(x.rec[0].n_ids, 4);
	assert_string_equal(x.rec[0].ids[0], "ev-1");
	assert_string_equal(x.rec[0].ids[3], "ev-7");
	assert_true(x.rec[0].alert);
	/* the group was emptied: one more event does not fire again */
	assert_int_equal(feed(&x, "fail", 6, NULL, KV("source.ip", "10.0.0.1")), 0);
	/* the base rule is referenced without generate: no alerts of its own */
	assert_false(vig_corr_rule_alerts(x.c, rule_named(&x, "fail")));
	assert_true(vig_corr_rule_alerts(x.c, rule_named(&x, "brute")));
	assert_true(vig_corr_rule_used(x.c, rule_named(&x, "fail")));
	assert_int_equal(stats(&x)->fired, 1);
	assert_int_equal(stats(&x)->rules, 1);
	fx_free(&x);
}

static void test_window_slides(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x, BRUTE, NULL);
	/* 0, 10, 20, 31: the first falls out of the 30 s window before the fourth arrives */
	assert_int_equal(feed(&x, "fail", 0, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 10, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 20, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 31, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(stats(&x)->entries, 3);
	/* 10, 20, 31, 35 are within 30 s */
	assert_int_equal(feed(&x, "fail", 35, NULL, KV("source.ip", "1.1.1.1")), 1);
	assert_int_equal(x.rec[0].first, SEC(10));
	/* an event older than the window of its group is late */
	assert_int_equal(feed(&x, "fail", 36, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 1, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(stats(&x)->late_events, 1);
	/* out of order within the window counts */
	assert_int_equal(feed(&x, "fail", 30, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 20, NULL, KV("source.ip", "1.1.1.1")), 0);
	assert_int_equal(feed(&x, "fail", 40, NULL, KV("source.ip", "1.1.1.1")), 1);
	assert_int_equal(x.rec[1].first, SEC(20));
	assert_int_equal(x.rec[1].last, SEC(40));
	/* advance drops the groups whose entries all left the window */
	assert_int_equal(feed(&x, "fail", 50, NULL, KV("source.ip", "2.2.2.2")), 0);
	assert_int_equal(vig_corr_advance(x.c, SEC(100), on_fire, &x, NULL), VIG_OK);
	assert_int_equal(stats(&x)->groups, 0);
	assert_int_equal(stats(&x)->entries, 0);
	fx_free(&x);
}

static void test_group_missing_and_tenants(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x, BRUTE, NULL);
	/* no source.ip: a group of its own */
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(&x, "fail", i, NULL, KV("user.name", "root")), 0);
	/* other tenant, same address: separate */
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(&x, "fail", i, "t2", KV("source.ip", "10.0.0.9")), 0);
	assert_int_equal(feed(&x, "fail", 3, "t1", KV("source.ip", "10.0.0.9")), 0);
	assert_int_equal(stats(&x)->groups, 3);
	assert_int_equal(feed(&x, "fail", 4, NULL, KV("user.name", "bob")), 1);
	assert_true(x.rec[0].null[0]);
	assert_string_equal(x.rec[0].tenant, "t1");
	assert_int_equal(feed(&x, "fail", 4, "t2", KV("source.ip", "10.0.0.9")), 1);
	assert_string_equal(x.rec[1].tenant, "t2");
	assert_false(x.rec[1].null[0]);
	fx_free(&x);
}

/* ---- the other types ---- */

static void test_value_count(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: spray\nname: spray\ncorrelation:\n  type: value_count\n  rules: [fail]\n"
		"  group-by: [source.ip]\n  timespan: 1m\n  condition:\n    field: user.name\n    gte: 3\n---\n" BASE("fail"),
		NULL);
	assert_int_equal(feed(&x, "fail", 0, NULL, KV("source.ip", "9.9.9.9", "user.name", "a")), 0);
	assert_int_equal(feed(&x, "fail", 1, NULL, KV("source.ip", "9.9.9.9", "user.name", "a")), 0);
	assert_int_equal(feed(&x, "fail", 2, NULL, KV("source.ip", "9.9.9.9")), 0); /* no value */
	assert_int_equal(feed(&x, "fail", 3, NULL, KV("source.ip", "9.9.9.9", "user.name", "b")), 0);
	assert_int_equal(feed(&x, "fail", 4, NULL, KV("source.ip", "9.9.9.9", "user.name", "c")), 1);
	assert_true(x.rec[0].value == 3);
	assert_int_equal(x.rec[0].n_events, 5);
	fx_free(&x);
}

static void test_temporal(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: recon\nname: recon\ncorrelation:\n  type: temporal\n  rules: [a, b, c]\n"
		"  group-by: [host.name]\n  timespan: 5m\n---\n" BASE("a") "---\n" BASE("b") "---\n" BASE("c"),
		NULL);
	assert_int_equal(feed(&x, "c", 0, NULL, KV("host.name", "h1")), 0);
	assert_int_equal(feed(&x, "a", 10, NULL, KV("host.name", "h1")), 0);
	assert_int_equal(feed(&x, "a", 10, NULL, KV("host.name", "h2")), 0);
	assert_int_equal(feed(&x, "b", 20, NULL, KV("host.name", "h2")), 0);
	assert_int_equal(feed(&x, "b", 20, NULL, KV("host.name", "h1")), 1);
	assert_string_equal(x.rec[0].vals[0], "h1");
	assert_true(x.rec[0].value == 3);
	/* out of the window: c at 0 is gone by 400 */
	assert_int_equal(feed(&x, "c", 400, NULL, KV("host.name", "h2")), 0);
	assert_int_equal(stats(&x)->fired, 1);
	fx_free(&x);
}

static void test_temporal_ordered(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: ordered\nname: ord\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n"
		"  group-by: [user.name]\n  timespan: 5m\n---\n" BASE("a") "---\n" BASE("b"),
		NULL);
	/* b then a: wrong order */
	assert_int_equal(feed(&x, "b", 0, NULL, KV("user.name", "u")), 0);
	assert_int_equal(feed(&x, "a", 10, NULL, KV("user.name", "u")), 0);
	/* a (10) then b (20): fires; the earlier b did not contribute */
	assert_int_equal(feed(&x, "b", 20, NULL, KV("user.name", "u")), 1);
	assert_int_equal(x.rec[0].first, SEC(10));
	assert_int_equal(x.rec[0].n_events, 2);
	assert_int_equal(x.rec[0].last, SEC(20));
	/* an out-of-order arrival is ordered by event time: b at 35 arrives before a at 30 */
	assert_int_equal(feed(&x, "b", 35, NULL, KV("user.name", "v")), 0);
	assert_int_equal(feed(&x, "a", 30, NULL, KV("user.name", "v")), 1);
	fx_free(&x);
}

static void test_value_sum_avg(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: exfil\nname: exfil\ncorrelation:\n  type: value_sum\n  rules: [web]\n"
		"  group-by: [source.ip]\n  timespan: 1h\n  condition:\n    field: network.bytes\n    gt: 1450\n"
		"---\ntitle: avg\nname: avg\ncorrelation:\n  type: value_avg\n  rules: [web]\n"
		"  group-by: [source.ip]\n  timespan: 1m\n  condition:\n    field: network.bytes\n    gt: 500\n"
		"---\n" BASE("web"),
		NULL);
	assert_int_equal(feed(&x, "web", 0, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "600")), 0);
	assert_int_equal(feed(&x, "web", 1, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "500")), 0);
	assert_int_equal(feed(&x, "web", 2, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "400")), 1);
	assert_string_equal(x.rec[0].rule, "exfil");
	assert_true(x.rec[0].value == 1500);
	/* the average (600 + 500 + 400) / 3 = 500 is checked when the minute closes: no firing */
	assert_int_equal(vig_corr_advance(x.c, SEC(61), on_fire, &x, NULL), VIG_OK);
	assert_int_equal(x.n_rec, 1);
	/* a new minute with an average of 700: fires at close, through an event past its end */
	assert_int_equal(feed(&x, "web", 100, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "900")), 0);
	assert_int_equal(feed(&x, "web", 110, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "500")), 0);
	assert_int_equal(feed(&x, "web", 170, NULL, KV("source.ip", "5.5.5.5", "network.bytes", "1")), 1);
	assert_string_equal(x.rec[1].rule, "avg");
	assert_true(x.rec[1].value == 700);
	assert_int_equal(x.rec[1].n_events, 2);
	fx_free(&x);
}

static void test_value_percentile_and_lt(void **state)
{
	struct fx x = {0};
	char img[32];

	(void)state;
	fx_load(&x,
		"title: rare\nname: rare\ncorrelation:\n  type: value_percentile\n  rules: [proc]\n"
		"  group-by: [host.name]\n  timespan: 1h\n  condition:\n    field: process.name\n    lte: 5\n"
		"---\ntitle: quiet\nname: quiet\ncorrelation:\n  type: event_count\n  rules: [proc]\n"
		"  group-by: [host.name]\n  timespan: 1h\n  condition:\n    lt: 3\n---\n" BASE("proc"),
		NULL);
	/* h1: 30 x bash then one nc (1 of 31 = 3.2 %): rare at close */
	for (int i = 0; i < 30; i++)
		assert_int_equal(feed(&x, "proc", i, NULL, KV("host.name", "h1", "process.name", "bash")), 0);
	assert_int_equal(feed(&x, "proc", 40, NULL, KV("host.name", "h1", "process.name", "nc")), 0);
	/* h2: two events, both common there: only `quiet` fires */
	for (int i = 0; i < 2; i++) {
		snprintf(img, sizeof(img), "ls");
		assert_int_equal(feed(&x, "proc", i, NULL, KV("host.name", "h2", "process.name", img)), 0);
	}
	assert_int_equal(vig_corr_advance(x.c, SEC(3601), on_fire, &x, NULL), VIG_OK);
	assert_int_equal(x.n_rec, 2);
	for (size_t i = 0; i < 2; i++) {
		if (!strcmp(x.rec[i].rule, "rare")) {
			assert_string_equal(x.rec[i].vals[0], "h1");
			assert_true(x.rec[i].value > 3.2 && x.rec[i].value < 3.3);
		} else {
			assert_string_equal(x.rec[i].rule, "quiet");
			assert_string_equal(x.rec[i].vals[0], "h2");
			assert_true(x.rec[i].value == 2);
		}
	}
	assert_int_equal(stats(&x)->groups, 0);
	fx_free(&x);
}

/* ---- aliases, chains, generate ---- */

static void test_aliases(void **state)
{
	struct fx x = {0};

	(void)state;
	/* the specification's alias example */
	fx_load(&x,
		"title: alias\nname: pivot\ncorrelation:\n  type: temporal\n  rules: [internal_error, new_network_connection]\n"
		"  group-by: [internal_ip, remote_ip]\n  timespan: 10s\n  aliases:\n    internal_ip:\n"
		"      internal_error: destination.ip\n      new_network_connection: source.ip\n    remote_ip:\n"
		"      internal_error: source.ip\n      new_network_connection: destination.ip\n---\n"
		BASE("internal_error") "---\n" BASE("new_network_connection"),
		NULL);
	assert_int_equal(feed(&x, "internal_error", 0, NULL, KV("destination.ip", "10.1.1.1", "source.ip", "8.8.8.8")), 0);
	/* same addresses in the wrong fields: another group */
	assert_int_equal(feed(&x, "new_network_connection", 1, NULL,
			      KV("source.ip", "8.8.8.8", "destination.ip", "10.1.1.1")), 0);
	assert_int_equal(feed(&x, "new_network_connection", 2, NULL,
			      KV("source.ip", "10.1.1.1", "destination.ip", "8.8.8.8")), 1);
	assert_string_equal(x.rec[0].vals[0], "10.1.1.1");
	assert_string_equal(x.rec[0].vals[1], "8.8.8.8");
	fx_free(&x);
}

/* The specification's example "Failed Logins Followed by Successful Login", verbatim. */
static const char *const SPEC_CHAIN =
	"title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
	"id: b180ead8-d58f-40b2-ae54-c8940995b9b6\nstatus: experimental\n"
	"correlation:\n    type: temporal_ordered\n    rules:\n        - multiple_failed_login\n"
	"        - successful_login\n    group-by:\n        - User\n    timespan: 10m\nlevel: high\n---\n"
	"title: Multiple failed logons\nid: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\nname: multiple_failed_login\n"
	"correlation:\n    type: event_count\n    rules:\n        - failed_login\n    group-by:\n        - User\n"
	"    timespan: 10m\n    condition:\n        gte: 10\n---\n"
	"title: Single failed login\nid: 53ba33fd-3a50-4468-a5ef-c583635cfa92\nname: failed_login\n"
	"logsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID:\n"
	"            - 529\n            - 4625\n    condition: selection\n---\n"
	"title: Successful login\nid: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\nname: successful_login\n"
	"logsource:\n    product: windows\n    service: security\ndetection:\n    selection:\n        EventID:\n"
	"            - 528\n            - 4624\n    condition: selection\n";

static void test_spec_chain(void **state)
{
	const char *user = vig_sigma_field("windows", NULL, "security", "User");
	struct fx x = {0};

	(void)state;
	if (!user)
		user = "User";
	fx_load(&x, SPEC_CHAIN, NULL);
	assert_int_equal(x.n_problems, 0);
	/* generate is false everywhere: only the outermost correlation alerts */
	assert_false(vig_corr_rule_alerts(x.c, rule_named(&x, "failed_login")));
	assert_false(vig_corr_rule_alerts(x.c, rule_named(&x, "successful_login")));
	assert_false(vig_corr_rule_alerts(x.c, rule_named(&x, "multiple_failed_login")));
	assert_true(vig_corr_rule_alerts(x.c, rule_named(&x, "b180ead8-d58f-40b2-ae54-c8940995b9b6")));
	/* a success before the failures does not count */
	assert_int_equal(feed(&x, "successful_login", 0, NULL, KV(user, "alice")), 0);
	for (int i = 1; i < 10; i++)
		assert_int_equal(feed(&x, "failed_login", i, NULL, KV(user, "alice")), 0);
	/* the tenth failure fires the inner correlation (no alert of its own) */
	assert_int_equal(feed(&x, "failed_login", 10, NULL, KV(user, "alice")), 1);
	assert_string_equal(x.rec[0].rule, "multiple_failed_login");
	assert_false(x.rec[0].alert);
	/* another user's success does not complete it */
	assert_int_equal(feed(&x, "successful_login", 20, NULL, KV(user, "bob")), 0);
	assert_int_equal(feed(&x, "successful_login", 30, NULL, KV(user, "alice")), 1);
	assert_true(x.rec[1].alert);
	assert_string_equal(x.rec[1].rule, "Correlation - Multiple Failed Logins Followed by Successful Login");
	assert_string_equal(x.rec[1].vals[0], "alice");
	assert_true(x.rec[1].value == 2);
	/* linked events: the ten failures (through the inner firing) and the success */
	assert_int_equal(x.rec[1].n_ids, 11);
	assert_string_equal(x.rec[1].ids[0], "ev-2");
	assert_string_equal(x.rec[1].ids[10], "ev-13");
	assert_int_equal(x.rec[1].first, SEC(10));
	assert_int_equal(x.rec[1].last, SEC(30));
	fx_free(&x);
}

static void test_generate_and_problems(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: g\nname: g\ncorrelation:\n  type: event_count\n  rules: [a]\n  group-by: [host.name]\n"
		"  timespan: 1m\n  generate: true\n  condition:\n    gte: 2\n---\n"
		"title: missing\nname: missing\ncorrelation:\n  type: event_count\n  rules: [nosuch]\n"
		"  group-by: [host.name]\n  timespan: 1m\n  condition:\n    gte: 2\n---\n"
		"title: c1\nname: c1\ncorrelation:\n  type: event_count\n  rules: [c2]\n  group-by: [host.name]\n"
		"  timespan: 1m\n  condition:\n    gte: 2\n---\n"
		"title: c2\nname: c2\ncorrelation:\n  type: event_count\n  rules: [c1, b]\n  group-by: [host.name]\n"
		"  timespan: 1m\n  condition:\n    gte: 2\n---\n" BASE("a") "---\n" BASE("b"),
		NULL);
	assert_true(vig_corr_rule_alerts(x.c, rule_named(&x, "a")));
	/* b is only referenced by a correlation on a cycle: it alerts as usual */
	assert_true(vig_corr_rule_alerts(x.c, rule_named(&x, "b")));
	assert_false(vig_corr_rule_used(x.c, rule_named(&x, "b")));
	assert_int_equal(stats(&x)->rules, 1);
	assert_int_equal(stats(&x)->inactive, 3);
	assert_true(x.n_problems >= 3);
	assert_int_equal(feed(&x, "b", 0, NULL, KV("host.name", "h")), 0);
	assert_int_equal(feed(&x, "b", 1, NULL, KV("host.name", "h")), 0);
	assert_int_equal(feed(&x, "a", 1, NULL, KV("host.name", "h")), 0);
	assert_int_equal(feed(&x, "a", 2, NULL, KV("host.name", "h")), 1);
	fx_free(&x);
}

/* ---- bounds ---- */

static void test_bounds(void **state)
{
	struct vig_corr_limits lim = {.max_groups_per_rule = 2, .max_events_per_group = 3, .max_event_ids = 2};
	struct fx x = {0};

	(void)state;
	fx_load(&x,
		"title: many\nname: many\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
		"  group-by: [source.ip]\n  timespan: 1h\n  condition:\n    gte: 3\n---\n" BASE("fail"),
		&lim);
	assert_int_equal(feed(&x, "fail", 0, NULL, KV("source.ip", "1.0.0.1")), 0);
	assert_int_equal(feed(&x, "fail", 1, NULL, KV("source.ip", "1.0.0.2")), 0);
	assert_int_equal(feed(&x, "fail", 2, NULL, KV("source.ip", "1.0.0.1")), 0); /* 1.0.0.2 is the LRU */
	assert_int_equal(feed(&x, "fail", 3, NULL, KV("source.ip", "1.0.0.3")), 0); /* evicts 1.0.0.2 */
	assert_int_equal(stats(&x)->evicted_groups, 1);
	assert_int_equal(stats(&x)->groups, 2);
	assert_int_equal(feed(&x, "fail", 4, NULL, KV("source.ip", "1.0.0.1")), 1);
	assert_int_equal(x.rec[0].n_events, 3);
	assert_int_equal(x.rec[0].n_ids, 2); /* the newest two */
	assert_string_equal(x.rec[0].ids[0], "ev-3");
	assert_string_equal(x.rec[0].ids[1], "ev-5");
	assert_int_equal(feed(&x, "fail", 5, NULL, KV("source.ip", "1.0.0.2")), 0); /* evicts 1.0.0.3 */
	assert_int_equal(stats(&x)->evicted_groups, 2);
	assert_int_equal(feed(&x, "fail", 6, NULL, KV("source.ip", "1.0.0.3")), 0); /* evicts 1.0.0.1 */
	assert_int_equal(stats(&x)->evicted_groups, 3);
	vig_corr_free(x.c);
	x.c = NULL;
	vig_sigma_ruleset_release(&x.rs);
	vig_arena_release(&x.arena);
	/* events per group: with gte 5 and 3 remembered it can never fire; evictions counted */
	memset(&x, 0, sizeof(x));
	fx_load(&x,
		"title: many\nname: many\ncorrelation:\n  type: event_count\n  rules: [fail]\n"
		"  group-by: [source.ip]\n  timespan: 1h\n  condition:\n    gte: 5\n---\n" BASE("fail"),
		&lim);
	for (int i = 0; i < 6; i++)
		assert_int_equal(feed(&x, "fail", i, NULL, KV("source.ip", "1.0.0.1")), 0);
	assert_int_equal(stats(&x)->evicted_events, 3);
	assert_int_equal(stats(&x)->entries, 3);
	fx_free(&x);
}

/* ---- swaps and persistence ---- */

static void test_swap_keeps_state(void **state)
{
	struct fx x = {0};

	(void)state;
	fx_load(&x, BRUTE, NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(feed(&x, "fail", i, NULL, KV("source.ip", "3.3.3.3")), 0);
	/* the same rules as new objects: state kept */
	fx_reload(&x, BRUTE);
	assert_int_equal(stats(&x)->groups, 1);
	assert_int_equal(feed(&x, "fail", 4, NULL, KV("source.ip", "3.3.3.3")), 1);
	assert_int_equal(feed(&x, "fail", 5, NULL, KV("source.ip", "3.3.3.3")), 0);
	/* the definition changed (group-by): state dropped and counted */
	fx_reload(&x, "title: brute force\nname: brute\nid: corr-brute\ncorrelation:\n  type: event_count\n"
		      "  rules: [fail]\n  group-by: [user.name]\n  timespan: 30s\n  condition:\n    gte: 4\n---\n" BASE("fail"));
	assert_int_equal(stats(&x)->groups, 0);
	assert_int_equal(stats(&x)->dropped_groups, 1);
	/* the rule is gone: its state too */
	assert_int_equal(feed(&x, "fail", 6, NULL, KV("user.name", "z")), 0);
	fx_reload(&x, BASE("fail"));
	assert_int_equal(stats(&x)->groups, 0);
	assert_int_equal(stats(&x)->dropped_groups, 2);
	assert_int_equal(stats(&x)->rules, 0);
	assert_true(vig_corr_rule_alerts(x.c, rule_named(&x, "fail")));
	fx_free(&x);
}

static void tmp_path(char *out, size_t cap)
{
	snprintf(out, cap, "/tmp/vig-test-corr-%d.state", (int)getpid());
}

static void test_persistence(void **state)
{
	char path[128], err[VIG_ERRBUF_SIZE];
	struct fx x = {0}, y = {0};
	size_t restored = 99;
	FILE *fp;

	(void)state;
	tmp_path(path, sizeof(path));
	fx_load(&x, SPEC_CHAIN, NULL);
	fx_load(&y, SPEC_CHAIN, NULL);
	{
		const char *user = vig_sigma_field("windows", NULL, "security", "User");
		if (!user)
			user = "User";
		for (int i = 0; i < 10; i++) /* inner fires; outer holds its first step */
			assert_int_equal(feed(&x, "failed_login", i, NULL, KV(user, "tab\tand %")), i == 9);
		assert_int_equal(feed(&x, "failed_login", 11, NULL, KV(user, "carol")), 0);
		assert_int_equal(feed(&x, "failed_login", 12, "t2", KV("host.name", "nouser")), 0);
		assert_int_equal(vig_corr_save(x.c, path, err), VIG_OK);
		assert_int_equal(vig_corr_restore(y.c, path, &restored, err), VIG_OK);
		assert_int_equal(restored, 3);
		assert_int_equal(stats(&y)->groups, 3);
		assert_int_equal(stats(&y)->entries, 3);
		y.next_id = 100;
		assert_int_equal(feed(&y, "successful_login", 20, NULL, KV(user, "tab\tand %")), 1);
		assert_string_equal(y.rec[0].vals[0], "tab\tand %");
		assert_int_equal(y.rec[0].n_ids, 11);
		assert_string_equal(y.rec[0].ids[0], "ev-1");
		assert_string_equal(y.rec[0].ids[10], "ev-101");
		/* the missing user of tenant t2 came back as missing */
		for (int i = 0; i < 9; i++)
			assert_int_equal(feed(&y, "failed_login", 13 + i, "t2", KV("host.name", "x")), i == 8);
		assert_true(y.rec[1].null[0]);
		assert_string_equal(y.rec[1].tenant, "t2");
	}
	/* a changed rule does not take the old state */
	fx_free(&y);
	fx_load(&y, BRUTE, NULL);
	assert_int_equal(vig_corr_restore(y.c, path, &restored, err), VIG_OK);
	assert_int_equal(restored, 0);
	assert_int_equal(stats(&y)->restore_skipped, 3);
	/* malformed and missing files */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("vigil-corr-state 1\nC\tcorr-brute\tnope\nG\tx\n", fp);
	fclose(fp);
	assert_int_equal(vig_corr_restore(y.c, path, &restored, err), VIG_EPARSE);
	assert_non_null(strstr(err, "line 3"));
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("something else\n", fp);
	fclose(fp);
	assert_int_equal(vig_corr_restore(y.c, path, &restored, err), VIG_EPARSE);
	unlink(path);
	assert_int_equal(vig_corr_restore(y.c, path, &restored, err), VIG_ENOTFOUND);
	/* over the size limit: nothing written */
	{
		struct vig_corr_limits lim = {.max_snapshot_bytes = 64};
		struct fx z = {0};
		fx_load(&z, BRUTE, &lim);
		assert_int_equal(feed(&z, "fail", 0, NULL, KV("source.ip", "10.10.10.10")), 0);
		assert_int_equal(feed(&z, "fail", 0, NULL, KV("source.ip", "10.10.10.11")), 0);
		assert_int_equal(vig_corr_save(z.c, path, err), VIG_ETOOBIG);
		assert_int_equal(access(path, F_OK), -1);
		fx_free(&z);
	}
	fx_free(&x);
	fx_free(&y);
}

/* ---- the specification's example files and the real engine ---- */

static void test_spec_files(void **state)
{
	static const char *const files[] = {"event_count.yml", "value_count.yml", "temporal.yml",
					    "temporal_ordered.yml", "value_sum.yml", "value_avg.yml",
					    "value_percentile.yml"};
	const char *dir = getenv("VIG_SHARED_DIR");
	char path[1024], err[VIG_ERRBUF_SIZE];

	(void)state;
	if (!dir) {
		print_message("skipped: VIG_SHARED_DIR not set\n");
		skip();
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(files); i++) {
		struct vig_sigma_rule *r;
		snprintf(path, sizeof(path), "%s/data/sigma-spec/tests/schema/correlation/%s", dir, files[i]);
		if (access(path, R_OK) != 0) {
			print_message("skipped: %s not found\n", path);
			skip();
		}
		r = vig_sigma_load_file(path, NULL, err);
		if (!r)
			print_message("%s: %s\n", files[i], err);
		assert_non_null(r);
		assert_int_equal(r->kind, VIG_SIGMA_CORRELATION);
		vig_sigma_free(r);
	}
	/* event_count.yml: 100 failed logins on one computer within the hour */
	{
		struct fx x = {0};
		char *yaml;
		FILE *fp;
		long n;
		snprintf(path, sizeof(path), "%s/data/sigma-spec/tests/schema/correlation/event_count.yml", dir);
		fp = fopen(path, "r");
		assert_non_null(fp);
		fseek(fp, 0, SEEK_END);
		n = ftell(fp);
		fseek(fp, 0, SEEK_SET);
		yaml = calloc(1, (size_t)n + 512);
		assert_int_equal(fread(yaml, 1, (size_t)n, fp), (size_t)n);
		fclose(fp);
		snprintf(yaml + n, 512, "\n---\ntitle: base\nid: 5638f7c0-ac70-491d-8465-2a65075e0d86\nlogsource:\n"
			 "  product: testprod\ndetection:\n  sel:\n    event.action: x\n  condition: sel\n");
		fx_load(&x, yaml, NULL);
		free(yaml);
		for (int i = 0; i < 99; i++)
			assert_int_equal(feed(&x, "5638f7c0-ac70-491d-8465-2a65075e0d86", i * 30, NULL,
					      KV("ComputerName", "dc1")), 0);
		assert_int_equal(feed(&x, "5638f7c0-ac70-491d-8465-2a65075e0d86", 3590, NULL, KV("ComputerName", "dc2")), 0);
		assert_int_equal(feed(&x, "5638f7c0-ac70-491d-8465-2a65075e0d86", 3590, NULL, KV("ComputerName", "dc1")), 1);
		assert_true(x.rec[0].value == 100);
		assert_int_equal(x.rec[0].n_ids, 32); /* the default bound */
		fx_free(&x);
	}
}

struct pipe_ctx {
	struct fx *x;
	const struct vig_event *ev;
};

static int on_match(void *arg, const struct vig_sigma_rule *rule)
{
	struct pipe_ctx *p = arg;

	assert_int_equal(vig_corr_feed(p->x->c, rule, NULL, p->ev, on_fire, p->x, NULL), VIG_OK);
	return 0;
}

static void test_through_engine(void **state)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_sigma_rule *const *rules;
	struct vig_sigma_rule *r;
	struct fx x = {0};
	size_t n;
	const char *yaml =
		"title: ssh brute force\nname: sshbf\ncorrelation:\n  type: event_count\n  rules: [sshfail]\n"
		"  group-by: [source.ip]\n  timespan: 5m\n  condition:\n    gte: 3\n---\n"
		"title: ssh failure\nname: sshfail\nlogsource:\n  product: linux\n  service: sshd\ndetection:\n"
		"  sel:\n    event.outcome: failure\n    event.category: authentication\n  condition: sel\n";

	(void)state;
	x.c = vig_corr_new(NULL);
	vig_arena_init(&x.arena, 4096, 1 << 20);
	r = vig_sigma_load(yaml, strlen(yaml), NULL, err);
	assert_non_null(r);
	vig_sigma_ruleset_init(&rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&rs, r), VIG_OK);
	eng = vig_detect_build(&rs, err);
	assert_non_null(eng);
	s = vig_detect_scratch_new(eng, err);
	assert_non_null(s);
	rules = vig_detect_rules(eng, &n);
	assert_int_equal(vig_corr_set_rules(x.c, rules, n, NULL, NULL, err), VIG_OK);
	for (int i = 0; i < 3; i++) {
		struct vig_event ev;
		struct pipe_ctx p = {&x, &ev};
		vig_event_init(&ev, &x.arena);
		vig_event_set_ts(&ev, VIG_F_TIMESTAMP, SEC(i));
		vig_event_set_cstr(&ev, VIG_F_TENANT_ID, "default");
		vig_event_set_cstr(&ev, VIG_F_EVENT_ID, i == 0 ? "a" : i == 1 ? "b" : "c");
		vig_event_set_cstr(&ev, VIG_F_EVENT_DATASET, "system.auth");
		vig_event_set_cstr(&ev, VIG_F_PROCESS_NAME, "sshd");
		vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "authentication");
		vig_event_set_cstr(&ev, VIG_F_EVENT_OUTCOME, "failure");
		vig_event_set_text(&ev, VIG_F_SOURCE_IP, "192.0.2.7", 9);
		assert_int_equal(vig_detect_match(eng, s, &ev, on_match, &p, &n), VIG_OK);
		if (n != 1)
			print_message("event %d matched %zu rules: check the sshd logsource routing\n", i, n);
		assert_int_equal(n, 1);
	}
	assert_int_equal(x.n_rec, 1);
	assert_string_equal(x.rec[0].vals[0], "192.0.2.7");
	assert_int_equal(x.rec[0].n_ids, 3);
	vig_detect_scratch_free(s);
	vig_corr_free(x.c);
	vig_detect_free(eng);
	vig_arena_release(&x.arena);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_count),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_group_missing_and_tenants),
		cmocka_unit_test(test_value_count),
		cmocka_unit_test(test_temporal),
		cmocka_unit_test(test_temporal_ordered),
		cmocka_unit_test(test_value_sum_avg),
		cmocka_unit_test(test_value_percentile_and_lt),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_spec_chain),
		cmocka_unit_test(test_generate_and_problems),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_swap_keeps_state),
		cmocka_unit_test(test_persistence),
		cmocka_unit_test(test_spec_files),
		cmocka_unit_test(test_through_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
