/*
 * test_incident.c - incidents in a real (in-memory) control DB: the lifecycle rules and the
 * milestones they stamp, alerts attached with their observables, sightings across incidents,
 * comments and tasks, merge and split, automatic grouping by keys within a window, tenant
 * isolation on every call, and the audit chain that every change extends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "auth/testutil.h"
#include "common/vtime.h"
#include "incident/incident.h"

#define SEC 1000000000LL

struct fx {
	struct vig_db *db;
	struct vig_principal sys, a, b, provider;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a, VIG_ROLE_TIER2, "tenant-a", "alice");
	vig_test_principal(&f->b, VIG_ROLE_TIER2, "tenant-b", "bob");
	f->provider = f->sys;
	snprintf(f->provider.username, sizeof(f->provider.username), "mdr-lead");
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

/* Records one alert and returns its id. */
static int64_t alert(struct fx *f, const char *tenant, const char *rule, const char *host,
		     const char *user, const char *level, int64_t now)
{
	struct vig_alert_tx *tx;
	struct vig_alert_match m = {.tenant = tenant, .rule_id = rule, .title = rule, .level = level,
				    .host = host, .user = user, .event_id = "e1"};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = 0;

	assert_int_equal(vig_alert_tx_begin(f->db, 3600 * SEC, &tx, err), VIG_OK);
	assert_int_equal(vig_alert_tx_record(tx, &m, now, NULL, &id, NULL, err), VIG_OK);
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	return id;
}

static const char *s(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void test_lifecycle_rules(void **state)
{
	(void)state;
	assert_true(vig_inc_transition_ok(VIG_INC_NEW, VIG_INC_CONTAINED));
	assert_true(vig_inc_transition_ok(VIG_INC_CLOSED, VIG_INC_INVESTIGATING));
	assert_false(vig_inc_transition_ok(VIG_INC_CONTAINED, VIG_INC_ACKNOWLEDGED));
	assert_false(vig_inc_transition_ok(VIG_INC_CLOSED, VIG_INC_NEW));
	assert_true(vig_inc_resolution_valid("false_positive"));
	assert_false(vig_inc_resolution_valid("maybe"));
}

static void test_create_update_close(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now();
	int64_t a1 = alert(f, "tenant-a", "ssh-brute", "web-01", "root", "high", now);
	int64_t a2 = alert(f, "tenant-a", "rev-shell", "web-01", "www-data", "critical", now);
	int64_t ids[] = {a1, a2};
	int64_t id = 0, cid = 0, tid = 0;
	json_t *inc = NULL, *patch, *after = NULL;
	struct vig_inc_new in = {.title = "Web server compromise", .alert_ids = ids, .n_alerts = 2,
				 .tags = json_pack("[s]", "web")};

	assert_int_equal(vig_inc_create(f->db, &f->a, &in, &id, err), VIG_OK);
	json_decref(in.tags);
	assert_int_equal(vig_inc_get(f->db, &f->a, id, &inc, err), VIG_OK);
	assert_string_equal(s(inc, "status"), "new");
	assert_string_equal(s(inc, "severity"), "critical"); /* the worst alert's */
	assert_string_equal(s(inc, "priority"), "p3");
	assert_int_equal(json_array_size(json_object_get(inc, "alerts")), 2);
	/* observables extracted from the alerts: host and both users */
	assert_int_equal(json_array_size(json_object_get(inc, "observables")), 3);
	assert_int_equal(json_array_size(json_object_get(inc, "timeline")), 1);
	json_decref(inc);

	/* an alert can be in one incident only */
	{
		int64_t id2;
		struct vig_inc_new in2 = {.title = "dup", .alert_ids = &a1, .n_alerts = 1};

		assert_int_equal(vig_inc_create(f->db, &f->a, &in2, &id2, err), VIG_ECONFLICT);
	}
	/* closing needs a resolution; skipping forward is allowed and stamps the milestones */
	patch = json_pack("{s:s}", "status", "closed");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, NULL, err), VIG_EINVAL);
	assert_non_null(strstr(err, "resolution"));
	json_decref(patch);
	patch = json_pack("{s:s,s:s}", "status", "contained", "owner", "alice");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, "isolated the host", &after, err), VIG_OK);
	json_decref(patch);
	assert_string_equal(s(after, "status"), "contained");
	assert_string_equal(s(after, "owner"), "alice");
	assert_non_null(s(after, "acknowledged"));
	assert_non_null(s(after, "contained"));
	assert_true(json_is_null(json_object_get(after, "resolved")));
	json_decref(after);
	/* going back is refused */
	patch = json_pack("{s:s}", "status", "acknowledged");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, NULL, err), VIG_ECONFLICT);
	json_decref(patch);
	/* comment and task */
	assert_int_equal(vig_inc_comment(f->db, &f->a, id, "reverse shell to 203.0.113.9 confirmed", &cid, err), VIG_OK);
	assert_int_equal(vig_inc_task_add(f->db, &f->a, id, "Reimage web-01", "alice", &tid, err), VIG_OK);
	assert_int_equal(vig_inc_task_update(f->db, &f->a, tid, "done", NULL, err), VIG_OK);
	assert_int_equal(vig_inc_task_update(f->db, &f->b, tid, "open", NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_inc_comment(f->db, &f->a, id, "", NULL, err), VIG_EINVAL);
	/* close with a resolution, then reopen clears it */
	patch = json_pack("{s:s,s:s}", "status", "closed", "resolution", "true_positive");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, &after, err), VIG_OK);
	json_decref(patch);
	assert_string_equal(s(after, "resolution"), "true_positive");
	assert_non_null(s(after, "closed"));
	assert_int_equal(json_array_size(json_object_get(after, "comments")), 1);
	assert_string_equal(s(json_array_get(json_object_get(after, "tasks"), 0), "status"), "done");
	json_decref(after);
	patch = json_pack("{s:s}", "status", "investigating");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, "new evidence", &after, err), VIG_OK);
	json_decref(patch);
	assert_true(json_is_null(json_object_get(after, "resolution")));
	assert_true(json_is_null(json_object_get(after, "closed")));
	/* the timeline has every change, oldest first */
	assert_true(json_array_size(json_object_get(after, "timeline")) >= 7);
	assert_string_equal(s(json_array_get(json_object_get(after, "timeline"), 0), "kind"), "incident.create");
	json_decref(after);
	/* unknown keys and bad values are refused */
	patch = json_pack("{s:s}", "colour", "red");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, NULL, err), VIG_EINVAL);
	json_decref(patch);
	patch = json_pack("{s:s}", "priority", "p9");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, NULL, err), VIG_EINVAL);
	json_decref(patch);
	/* every change is in the audit chain, which verifies */
	{
		int64_t rows = 0, bad = 0;

		assert_int_equal(vig_audit_verify(f->db, &rows, &bad, NULL, err), VIG_OK);
		assert_true(rows >= 8);
	}
}

static void test_tenant_isolation(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now();
	int64_t b1 = alert(f, "tenant-b", "r", "db-9", NULL, "low", now);
	int64_t id = 0;
	json_t *out = NULL, *patch = json_pack("{s:s}", "title", "x");
	struct vig_inc_new in = {.title = "B's incident"};

	assert_int_equal(vig_inc_create(f->db, &f->b, &in, &id, err), VIG_OK);
	assert_int_equal(vig_inc_get(f->db, &f->a, id, &out, err), VIG_ENOTFOUND);
	assert_int_equal(vig_inc_update(f->db, &f->a, id, patch, NULL, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_inc_comment(f->db, &f->a, id, "hi", NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_inc_alerts(f->db, &f->b, id, &b1, 1, false, err), VIG_OK);
	/* A cannot attach B's alert to its own incident, nor create in B */
	{
		int64_t aid = 0;
		struct vig_inc_new in_a = {.title = "A", .alert_ids = &b1, .n_alerts = 1};
		struct vig_inc_new in_b = {.title = "A in B", .tenant = "tenant-b"};

		assert_int_equal(vig_inc_create(f->db, &f->a, &in_a, &aid, err), VIG_ENOTFOUND);
		assert_int_equal(vig_inc_create(f->db, &f->a, &in_b, &aid, err), VIG_EPERM);
	}
	/* lists: each tenant sees its own; the provider sees both */
	{
		struct vig_inc_filter flt = {0};

		assert_int_equal(vig_inc_list(f->db, &f->a, &flt, &out, err), VIG_OK);
		assert_int_equal(json_array_size(json_object_get(out, "incidents")), 0);
		json_decref(out);
		assert_int_equal(vig_inc_list(f->db, &f->provider, &flt, &out, err), VIG_OK);
		assert_int_equal(json_array_size(json_object_get(out, "incidents")), 1);
		json_decref(out);
		flt.tenant = "tenant-b";
		assert_int_equal(vig_inc_list(f->db, &f->a, &flt, &out, err), VIG_EPERM);
	}
	json_decref(patch);
}

static void test_sightings_merge_split(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now();
	int64_t x1 = alert(f, "tenant-a", "c2", "pc-1", "carol", "medium", now);
	int64_t x2 = alert(f, "tenant-a", "c2", "pc-2", "dave", "medium", now);
	int64_t x3 = alert(f, "tenant-a", "miner", "pc-3", "erin", "low", now);
	int64_t i1 = 0, i2 = 0, i3 = 0, obs = 0;
	json_t *o = NULL, *obsl, *x;
	size_t k;
	bool seen = false;
	int64_t both[] = {x2, x3};
	struct vig_inc_new n1 = {.title = "C2 on pc-1", .alert_ids = &x1, .n_alerts = 1};
	struct vig_inc_new n2 = {.title = "C2 wave", .alert_ids = both, .n_alerts = 2};

	assert_int_equal(vig_inc_create(f->db, &f->a, &n1, &i1, err), VIG_OK);
	assert_int_equal(vig_inc_create(f->db, &f->a, &n2, &i2, err), VIG_OK);
	assert_int_equal(vig_inc_observable_add(f->db, &f->a, i1, "ip", "198.51.100.23", "red", "amber", &obs, err), VIG_OK);
	assert_int_equal(vig_inc_observable_add(f->db, &f->a, i2, "ip", "198.51.100.23", NULL, NULL, NULL, err), VIG_OK);
	assert_int_equal(vig_inc_observable_add(f->db, &f->a, i2, "colour", "x", NULL, NULL, NULL, err), VIG_EINVAL);
	assert_int_equal(vig_inc_observable_add(f->db, &f->a, i2, "ip", "1.2.3.4", "purple", NULL, NULL, err), VIG_EINVAL);
	/* the shared IP shows the other incident as a sighting */
	assert_int_equal(vig_inc_get(f->db, &f->a, i1, &o, err), VIG_OK);
	obsl = json_object_get(o, "observables");
	json_array_foreach(obsl, k, x) {
		if (!strcmp(s(x, "value"), "198.51.100.23")) {
			assert_string_equal(s(x, "tlp"), "red");
			assert_int_equal(json_array_size(json_object_get(x, "sightings")), 1);
			assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(x, "sightings"), 0),
									    "incident")), i2);
			seen = true;
		}
	}
	assert_true(seen);
	json_decref(o);
	/* split the miner alert out of the wave */
	assert_int_equal(vig_inc_split(f->db, &f->a, i2, &x3, 1, "Miner on pc-3", &i3, err), VIG_OK);
	assert_int_equal(vig_inc_split(f->db, &f->a, i2, &x1, 1, NULL, &i3, err), VIG_ENOTFOUND);
	assert_int_equal(vig_inc_get(f->db, &f->a, i2, &o, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 1);
	json_decref(o);
	/* merge the wave into pc-1's incident: alerts move, the wave closes as duplicate */
	assert_int_equal(vig_inc_merge(f->db, &f->a, i1, i2, err), VIG_OK);
	assert_int_equal(vig_inc_merge(f->db, &f->a, i1, i1, err), VIG_EINVAL);
	assert_int_equal(vig_inc_get(f->db, &f->a, i1, &o, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 2);
	json_decref(o);
	assert_int_equal(vig_inc_get(f->db, &f->a, i2, &o, err), VIG_OK);
	assert_string_equal(s(o, "status"), "closed");
	assert_string_equal(s(o, "resolution"), "duplicate");
	json_decref(o);
	/* detach, then delete an observable */
	assert_int_equal(vig_inc_alerts(f->db, &f->a, i1, &x1, 1, true, err), VIG_OK);
	assert_int_equal(vig_inc_observable_delete(f->db, &f->a, obs, err), VIG_OK);
	assert_int_equal(vig_inc_observable_delete(f->db, &f->b, obs, err), VIG_ENOTFOUND);
}

static void test_grouping(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_inc_grouping g = {.window_ns = 3600 * SEC, .min_severity = VIG_ALERT_SEV_MEDIUM};
	int64_t now = vig_time_now();
	int64_t g1 = alert(f, "tenant-a", "r1", "srv-1", NULL, "high", now);
	int64_t g2 = alert(f, "tenant-a", "r2", "srv-1", NULL, "critical", now);
	int64_t g3 = alert(f, "tenant-a", "r1", "srv-2", NULL, "high", now);
	int64_t low = alert(f, "tenant-a", "r9", "srv-1", NULL, "low", now);
	int64_t i1 = 0, i2 = 0, i3 = 0, i4 = 0;
	bool created = false;
	json_t *o = NULL;

	assert_int_equal(vig_inc_grouping_parse("host, nope", &g, err), VIG_EINVAL);
	assert_int_equal(vig_inc_grouping_parse("host", &g, err), VIG_OK);
	assert_int_equal(g.n_keys, 1);
	assert_int_equal(vig_inc_group_alert(f->db, &g, g1, now, &i1, &created, err), VIG_OK);
	assert_true(created);
	assert_int_equal(vig_inc_group_alert(f->db, &g, g2, now + SEC, &i2, &created, err), VIG_OK);
	assert_false(created);
	assert_int_equal(i2, i1);
	assert_int_equal(vig_inc_group_alert(f->db, &g, g3, now + SEC, &i3, &created, err), VIG_OK);
	assert_true(created);
	assert_true(i3 != i1);
	/* below the severity threshold: left alone */
	assert_int_equal(vig_inc_group_alert(f->db, &g, low, now, &i4, &created, err), VIG_OK);
	assert_int_equal(i4, 0);
	assert_int_equal(vig_inc_get(f->db, &f->a, i1, &o, err), VIG_OK);
	assert_string_equal(s(o, "severity"), "critical"); /* raised by the second alert */
	assert_string_equal(s(o, "group_key"), "host=srv-1");
	assert_int_equal(json_array_size(json_object_get(o, "alerts")), 2);
	json_decref(o);
	/* after the window a new incident starts */
	{
		int64_t late = alert(f, "tenant-a", "r3", "srv-1", NULL, "high", now);
		int64_t i5 = 0;

		assert_int_equal(vig_inc_group_alert(f->db, &g, late, now + 7200 * SEC, &i5, &created, err), VIG_OK);
		assert_true(created);
		assert_true(i5 != i1);
	}
}


/* The incident's created time moved back by secs (a controllable clock for the SLA). */
static void age(struct fx *f, int64_t id, int64_t secs)
{
	sqlite3 *h = vig_db_lock(f->db);
	char sql[160];

	snprintf(sql, sizeof(sql), "UPDATE incidents SET created = created - %lld WHERE id = %lld",
		 (long long)(secs * SEC), (long long)id);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	vig_db_unlock(f->db);
}

static const char *clock_state(json_t *inc, const char *clock)
{
	return s(json_object_get(json_object_get(inc, "sla"), clock), "state");
}

static void test_sla(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now(), id = 0, id2 = 0;
	size_t warn = 0, breach = 0;
	json_t *o = NULL, *t;
	struct vig_inc_new in = {.title = "critical one", .severity = "critical", .priority = "p3"};
	struct vig_inc_new in2 = {.title = "low one", .severity = "low"};

	/* the defaults, then a tenant's own targets for critical */
	assert_int_equal(vig_sla_default("critical").acknowledge_s, 15 * 60);
	assert_int_equal(vig_sla_default("informational").resolve_s, 0);
	t = json_pack("{s:{s:i,s:i,s:i}}", "critical", "acknowledge_s", 100, "contain_s", 1000, "resolve_s", 5000);
	assert_int_equal(vig_sla_set(f->db, &f->a, NULL, t, err), VIG_OK);
	json_decref(t);
	t = json_pack("{s:{s:i}}", "severe", "acknowledge_s", 1);
	assert_int_equal(vig_sla_set(f->db, &f->a, NULL, t, err), VIG_EINVAL);
	json_decref(t);
	assert_int_equal(vig_sla_get(f->db, &f->a, NULL, &o, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "targets"), "critical"),
							    "acknowledge_s")), 100);
	assert_true(json_is_true(json_object_get(json_object_get(json_object_get(o, "targets"), "high"), "default")));
	json_decref(o);
	assert_int_equal(vig_sla_get(f->db, &f->b, "tenant-a", &o, err), VIG_ENOTFOUND);

	assert_int_equal(vig_inc_create(f->db, &f->a, &in, &id, err), VIG_OK);
	assert_int_equal(vig_inc_create(f->db, &f->a, &in2, &id2, err), VIG_OK);
	assert_int_equal(vig_inc_get(f->db, &f->a, id, &o, err), VIG_OK);
	assert_string_equal(clock_state(o, "acknowledge"), "running");
	json_decref(o);
	/* 80 s of 100: a warning on acknowledge, nothing else */
	age(f, id, 80);
	assert_int_equal(vig_sla_check(f->db, vig_time_now(), &warn, &breach, NULL, NULL, err), VIG_OK);
	assert_int_equal(warn, 1);
	assert_int_equal(breach, 0);
	/* checking again records nothing new */
	assert_int_equal(vig_sla_check(f->db, vig_time_now(), &warn, &breach, NULL, NULL, err), VIG_OK);
	assert_int_equal(warn + breach, 0);
	/* past the target: a breach, and the priority escalates p3 -> p2 */
	age(f, id, 40);
	assert_int_equal(vig_sla_check(f->db, vig_time_now(), &warn, &breach, NULL, NULL, err), VIG_OK);
	assert_int_equal(breach, 1);
	assert_int_equal(vig_inc_get(f->db, &f->a, id, &o, err), VIG_OK);
	assert_string_equal(clock_state(o, "acknowledge"), "breached");
	assert_string_equal(clock_state(o, "contain"), "running");
	assert_string_equal(s(o, "priority"), "p2");
	{
		json_t *tl = json_object_get(o, "timeline"), *x;
		size_t i, n_warn = 0, n_breach = 0;

		json_array_foreach(tl, i, x) {
			n_warn += !strcmp(s(x, "kind"), "sla.warning");
			n_breach += !strcmp(s(x, "kind"), "sla.breach");
		}
		assert_int_equal(n_warn, 1);
		assert_int_equal(n_breach, 1);
	}
	json_decref(o);
	/* acknowledging late keeps it breached; resolving as a false positive skips contain */
	t = json_pack("{s:s,s:s}", "status", "resolved", "resolution", "false_positive");
	assert_int_equal(vig_inc_update(f->db, &f->a, id, t, NULL, &o, err), VIG_OK);
	json_decref(t);
	assert_string_equal(clock_state(o, "acknowledge"), "breached");
	assert_string_equal(clock_state(o, "contain"), "skipped");
	assert_string_equal(clock_state(o, "resolve"), "met");
	json_decref(o);
	/* metrics: both incidents, MTTA over the one acknowledged, FP rate 1 of 1 resolved */
	assert_int_equal(vig_soc_metrics(f->db, &f->a, NULL, now - 86400 * SEC, now + 3600 * SEC, &o, err), VIG_OK);
	{
		json_t *m = json_object_get(o, "total");

		assert_int_equal(json_integer_value(json_object_get(m, "incidents")), 2);
		assert_true(json_real_value(json_object_get(m, "mtta_s")) >= 120.0);
		assert_true(json_real_value(json_object_get(m, "false_positive_rate")) == 1.0);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "sla_breaches"), "acknowledge")), 1);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "by_status"), "resolved")), 1);
	}
	json_decref(o);
	assert_int_equal(vig_soc_metrics(f->db, &f->a, "tenant-b", now - 60 * SEC, now, &o, err), VIG_EPERM);
	assert_int_equal(vig_soc_metrics(f->db, &f->a, NULL, now, now, &o, err), VIG_EINVAL);
}

static void test_blocklist(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", norm[64];
	int64_t now = vig_time_now(), inc = 0;
	json_t *e = NULL, *l = NULL;
	char *text = NULL;
	size_t len = 0;
	struct vig_inc_new in = {.title = "C2 beacon"};

	assert_true(vig_blocklist_normalise("10.1.2.3", norm));
	assert_string_equal(norm, "10.1.2.3");
	assert_true(vig_blocklist_normalise("10.1.2.3/8", norm));
	assert_string_equal(norm, "10.0.0.0/8");
	assert_true(vig_blocklist_normalise("2001:DB8::1/32", norm));
	assert_string_equal(norm, "2001:db8::/32");
	assert_true(vig_blocklist_normalise("192.0.2.7/32", norm));
	assert_string_equal(norm, "192.0.2.7");
	assert_false(vig_blocklist_normalise("10.0.0.1/33", norm));
	assert_false(vig_blocklist_normalise("evil.example", norm));
	assert_false(vig_blocklist_normalise("10.0.0.1/", norm));

	assert_int_equal(vig_inc_create(f->db, &f->a, &in, &inc, err), VIG_OK);
	assert_int_equal(vig_blocklist_add(f->db, &f->a, NULL, "203.0.113.9", "C2 server", inc, 0, now, &e, err), VIG_OK);
	assert_string_equal(s(e, "address"), "203.0.113.9");
	json_decref(e);
	assert_int_equal(vig_blocklist_add(f->db, &f->a, NULL, "203.0.113.9", "again", 0, 0, now, &e, err), VIG_EEXIST);
	assert_int_equal(vig_blocklist_add(f->db, &f->a, NULL, "198.51.100.0/24", "scanner", 0, 60, now, &e, err), VIG_OK);
	json_decref(e);
	assert_int_equal(vig_blocklist_add(f->db, &f->a, NULL, "not-an-ip", NULL, 0, 0, now, &e, err), VIG_EINVAL);
	assert_int_equal(vig_blocklist_add(f->db, &f->b, NULL, "192.0.2.1", NULL, inc, 0, now, &e, err), VIG_ENOTFOUND);
	assert_int_equal(vig_blocklist_add(f->db, &f->a, "tenant-b", "192.0.2.1", NULL, 0, 0, now, &e, err), VIG_EPERM);
	/* the text list: sorted, active only; after the expiry the /24 is gone */
	assert_int_equal(vig_blocklist_text(f->db, "tenant-a", now, &text, &len, err), VIG_OK);
	assert_string_equal(text, "198.51.100.0/24\n203.0.113.9\n");
	free(text);
	assert_int_equal(vig_blocklist_text(f->db, "tenant-a", now + 61 * SEC, &text, &len, err), VIG_OK);
	assert_string_equal(text, "203.0.113.9\n");
	free(text);
	assert_int_equal(vig_blocklist_text(f->db, "tenant-b", now, &text, &len, err), VIG_OK);
	assert_int_equal(len, 0);
	free(text);
	/* B sees none of A's entries and cannot remove them */
	assert_int_equal(vig_blocklist_list(f->db, &f->b, true, now, &l, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 0);
	json_decref(l);
	assert_int_equal(vig_blocklist_list(f->db, &f->a, false, now, &l, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(l, "entries")), 2);
	{
		int64_t id = json_integer_value(json_object_get(json_array_get(json_object_get(l, "entries"), 1), "id"));

		assert_int_equal(vig_blocklist_remove(f->db, &f->b, id, now, err), VIG_ENOTFOUND);
		assert_int_equal(vig_blocklist_remove(f->db, &f->a, id, now, err), VIG_OK);
		assert_int_equal(vig_blocklist_remove(f->db, &f->a, id, now, err), VIG_ENOTFOUND);
	}
	json_decref(l);
	/* the incident's timeline shows the block */
	assert_int_equal(vig_inc_get(f->db, &f->a, inc, &l, err), VIG_OK);
	{
		json_t *tl = json_object_get(l, "timeline"), *x;
		size_t i;
		bool seen = false;

		json_array_foreach(tl, i, x)
			seen |= !strcmp(s(x, "kind"), "blocklist.add");
		assert_true(seen);
	}
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_rules),
		cmocka_unit_test_setup_teardown(test_create_update_close, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tenant_isolation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sightings_merge_split, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_grouping, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_sla, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_blocklist, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
