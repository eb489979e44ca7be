/*
 * test_response.c - response orchestration in a real (in-memory) control DB with a real fleet
 * action queue: tenant settings and who may change what, requests in full- and semi-managed
 * tenants, approval and rejection and who may decide, pre-approved types, escalation and
 * expiry with a controllable clock, cancellation before and after delivery, results reaching
 * the incident timeline, playbook tasks and steps with their storm guard, and the provider
 * overview.
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
#include "auth/testutil.h"
#include "common/vtime.h"
#include "incident/incident.h"
#include "incident/response.h"

#define SEC 1000000000LL
#define T0 (1800000000LL * SEC)
#define AGENT_A "0123456789abcdef0123456789abcdef"
#define AGENT_B "fedcba9876543210fedcba9876543210"

struct fx {
	struct vig_db *db;
	struct vig_fleet *fl;
	char dir[64];
	struct vig_principal sys, analyst, tier1, approver_a, approver_b, admin_a, viewer_a;
	int64_t inc_a;
};

static void exec(struct fx *f, const char *sql)
{
	sqlite3 *h = vig_db_lock(f->db);

	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	vig_db_unlock(f->db);
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return n;
}

static int64_t alert(struct fx *f, const char *tenant, const char *rule, const char *host, const char *level)
{
	struct vig_alert_tx *tx;
	struct vig_alert_match m = {.tenant = tenant, .rule_id = rule, .title = rule, .level = level,
				    .host = host, .event_id = "e1"};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = 0;

	assert_int_equal(vig_alert_tx_begin(f->db, 3600 * SEC, &tx, err), VIG_OK);
	assert_int_equal(vig_alert_tx_record(tx, &m, T0, NULL, &id, NULL, err), VIG_OK);
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	return id;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vig_fleet_config cfg;
	struct vig_inc_new in = {.title = "web-01 compromised", .type = "malware"};
	char err[VIG_ERRBUF_SIZE] = "", ca[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vig_resp_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->analyst, VIG_ROLE_TIER2, "default", "tina");
	f->analyst.provider = true;
	vig_test_principal(&f->tier1, VIG_ROLE_TIER1, "default", "tom");
	f->tier1.provider = true;
	vig_test_principal(&f->approver_a, VIG_ROLE_CUSTOMER_APPROVER, VIG_TEST_TENANT_A, "ann");
	vig_test_principal(&f->approver_b, VIG_ROLE_CUSTOMER_APPROVER, VIG_TEST_TENANT_B, "ben");
	vig_test_principal(&f->admin_a, VIG_ROLE_TENANT_ADMIN, VIG_TEST_TENANT_A, "ada");
	vig_test_principal(&f->viewer_a, VIG_ROLE_CUSTOMER_VIEWER, VIG_TEST_TENANT_A, "vic");
	vig_fleet_config_default(&cfg);
	snprintf(cfg.collected_dir, sizeof(cfg.collected_dir), "%s/collected", f->dir);
	snprintf(ca, sizeof(ca), "%s/agent-ca", f->dir);
	f->fl = vig_fleet_open(f->db, ca, &cfg, err);
	assert_non_null(f->fl);
	exec(f, "INSERT INTO agents (id, tenant_id, hostname, enrolled, last_seen) VALUES"
		" ('" AGENT_A "', 'tenant-a', 'web-01', 1, 1),"
		" ('" AGENT_B "', 'tenant-b', 'db-01', 1, 1)");
	in.tenant = VIG_TEST_TENANT_A;
	assert_int_equal(vig_inc_create(f->db, &f->sys, &in, &f->inc_a, err), VIG_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	vig_fleet_free(f->fl);
	vig_db_close(f->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const char *s(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void set(struct fx *f, const char *patch_json)
{
	json_t *patch = json_loads(patch_json, 0, NULL);
	char err[VIG_ERRBUF_SIZE] = "";

	assert_non_null(patch);
	assert_int_equal(vig_resp_settings_set(f->db, &f->sys, VIG_TEST_TENANT_A, patch, T0, NULL, err), VIG_OK);
	json_decref(patch);
}

/* Requests type on tenant A's agent at now; returns the request (new reference). */
static json_t *request(struct fx *f, const char *type, int64_t now)
{
	struct vig_resp_new in = {.incident_id = f->inc_a, .agent_id = AGENT_A, .type = type, .reason = "test"};
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	int64_t id = 0;

	assert_int_equal(vig_resp_request(f->db, f->fl, &f->analyst, &in, now, &id, &out, err), VIG_OK);
	assert_true(id > 0);
	return out;
}

static void test_settings(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL, *p;

	assert_int_equal(vig_resp_settings_get(f->db, &f->viewer_a, NULL, &out, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "approval_timeout_s")), 3600);
	assert_int_equal(json_integer_value(json_object_get(out, "escalation_s")), 1800);
	assert_string_equal(s(out, "mode"), "full");
	assert_non_null(json_object_get(json_object_get(out, "sla"), "critical"));
	json_decref(out);
	/* a tenant admin edits contacts, hours and pre-approvals of its own tenant, not the mode */
	p = json_loads("{\"contacts\":[{\"name\":\"Ops\",\"email\":\"ops@a.example\",\"role\":\"soc\"}],"
		       "\"business_hours\":{\"timezone\":\"Europe/Berlin\",\"days\":[\"mon\",\"fri\"],"
		       "\"start\":\"08:00\",\"end\":\"18:00\"},\"preapproved\":[\"kill\",\"collect\"],"
		       "\"approval_timeout_s\":600}", 0, NULL);
	assert_int_equal(vig_resp_settings_set(f->db, &f->admin_a, NULL, p, T0, &out, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "escalation_s")), 300);
	assert_int_equal(json_array_size(json_object_get(out, "preapproved")), 2);
	json_decref(out);
	json_decref(p);
	p = json_loads("{\"mode\":\"semi\"}", 0, NULL);
	assert_int_equal(vig_resp_settings_set(f->db, &f->admin_a, NULL, p, T0, NULL, err), VIG_EPERM);
	assert_int_equal(vig_resp_settings_set(f->db, &f->viewer_a, NULL, p, T0, NULL, err), VIG_EPERM);
	assert_int_equal(vig_resp_settings_set(f->db, &f->admin_a, VIG_TEST_TENANT_B, p, T0, NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_resp_settings_set(f->db, &f->sys, VIG_TEST_TENANT_A, p, T0, &out, err), VIG_OK);
	assert_string_equal(s(out, "mode"), "semi");
	json_decref(out);
	json_decref(p);
	/* bad values are refused with a reason */
	p = json_loads("{\"preapproved\":[\"format-disk\"]}", 0, NULL);
	assert_int_equal(vig_resp_settings_set(f->db, &f->sys, VIG_TEST_TENANT_A, p, T0, NULL, err), VIG_EINVAL);
	json_decref(p);
	p = json_loads("{\"business_hours\":{\"timezone\":\"UTC\",\"days\":[\"mon\"],\"start\":\"25:00\","
		       "\"end\":\"26:00\"}}", 0, NULL);
	assert_int_equal(vig_resp_settings_set(f->db, &f->sys, VIG_TEST_TENANT_A, p, T0, NULL, err), VIG_EINVAL);
	json_decref(p);
	p = json_loads("{\"escalation_s\":700}", 0, NULL);
	assert_int_equal(vig_resp_settings_set(f->db, &f->sys, VIG_TEST_TENANT_A, p, T0, NULL, err), VIG_EINVAL);
	json_decref(p);
	assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'tenant.settings'"), 2);
}

static void test_full_queues_at_once(void **state)
{
	struct fx *f = *state;
	json_t *r = request(f, "isolate", T0);

	assert_string_equal(s(r, "status"), "queued");
	assert_string_equal(s(r, "action_status"), "queued");
	assert_string_equal(s(r, "hostname"), "web-01");
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions WHERE type = 'isolate' AND status = 'queued'"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_timeline WHERE kind = 'response.queued'"), 1);
	json_decref(r);
}

static void test_semi_approve_reject(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *r, *out = NULL;
	int64_t id;

	set(f, "{\"mode\":\"semi\"}");
	r = request(f, "isolate", T0);
	id = json_integer_value(json_object_get(r, "id"));
	assert_string_equal(s(r, "status"), "pending_approval");
	assert_true(json_is_null(json_object_get(r, "action_id")));
	json_decref(r);
	/* who may not decide */
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->tier1, id, true, NULL, T0, NULL, err), VIG_EPERM);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->viewer_a, id, true, NULL, T0, NULL, err), VIG_EPERM);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->approver_b, id, true, NULL, T0, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->sys, id, true, NULL, T0, NULL, err), VIG_EPERM);
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions"), 0);
	/* the customer's approver does */
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->approver_a, id, true, "go", T0, &out, err), VIG_OK);
	assert_string_equal(s(out, "status"), "queued");
	assert_string_equal(s(out, "decided_by"), "ann");
	assert_string_equal(s(out, "requested_by"), "tina");
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions WHERE requested_by = 'tina'"), 1);
	json_decref(out);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->approver_a, id, false, NULL, T0, NULL, err),
			 VIG_ECONFLICT);
	/* a rejected request never reaches the agent */
	r = request(f, "kill", T0);
	id = json_integer_value(json_object_get(r, "id"));
	json_decref(r);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->admin_a, id, false, "not now", T0, &out, err), VIG_OK);
	assert_string_equal(s(out, "status"), "rejected");
	json_decref(out);
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions"), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'response.reject'"), 1);
}

static void test_preapproved_skips_approval(void **state)
{
	struct fx *f = *state;
	json_t *r;

	set(f, "{\"mode\":\"semi\",\"preapproved\":[\"collect\"]}");
	r = request(f, "collect", T0);
	assert_string_equal(s(r, "status"), "queued");
	json_decref(r);
	r = request(f, "isolate", T0);
	assert_string_equal(s(r, "status"), "pending_approval");
	json_decref(r);
}

static void test_escalation_and_expiry(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	size_t esc = 0, exp = 0;
	json_t *r;
	int64_t id;

	set(f, "{\"mode\":\"semi\",\"approval_timeout_s\":100}");
	r = request(f, "isolate", T0);
	id = json_integer_value(json_object_get(r, "id"));
	json_decref(r);
	assert_int_equal(vig_resp_check(f->db, T0 + 49 * SEC, &esc, &exp, NULL, NULL, err), VIG_OK);
	assert_int_equal(esc + exp, 0);
	assert_int_equal(vig_resp_check(f->db, T0 + 51 * SEC, &esc, &exp, NULL, NULL, err), VIG_OK);
	assert_int_equal(esc, 1);
	assert_int_equal(exp, 0);
	assert_int_equal(vig_resp_check(f->db, T0 + 60 * SEC, &esc, &exp, NULL, NULL, err), VIG_OK);
	assert_int_equal(esc, 0); /* once */
	assert_int_equal(vig_resp_check(f->db, T0 + 100 * SEC, &esc, &exp, NULL, NULL, err), VIG_OK);
	assert_int_equal(exp, 1);
	assert_int_equal(vig_resp_get(f->db, &f->approver_a, id, &r, err), VIG_OK);
	assert_string_equal(s(r, "status"), "expired");
	assert_false(json_is_null(json_object_get(r, "escalated")));
	json_decref(r);
	assert_int_equal(vig_resp_decide(f->db, f->fl, &f->approver_a, id, true, NULL, T0, NULL, err), VIG_ECONFLICT);
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions"), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_timeline WHERE kind IN ('response.escalate',"
				  " 'response.expire')"), 2);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *r, *out = NULL, *taken = NULL;
	int64_t id;

	/* pending */
	set(f, "{\"mode\":\"semi\"}");
	r = request(f, "isolate", T0);
	id = json_integer_value(json_object_get(r, "id"));
	json_decref(r);
	assert_int_equal(vig_resp_cancel(f->db, f->fl, &f->analyst, id, "mistake", T0, &out, err), VIG_OK);
	assert_string_equal(s(out, "status"), "cancelled");
	json_decref(out);
	assert_int_equal(vig_resp_cancel(f->db, f->fl, &f->analyst, id, NULL, T0, NULL, err), VIG_ECONFLICT);
	/* queued: the fleet action is cancelled too */
	set(f, "{\"mode\":\"full\"}");
	r = request(f, "kill", T0);
	id = json_integer_value(json_object_get(r, "id"));
	json_decref(r);
	assert_int_equal(vig_resp_cancel(f->db, f->fl, &f->analyst, id, NULL, T0, &out, err), VIG_OK);
	assert_string_equal(s(out, "action_status"), "cancelled");
	json_decref(out);
	/* delivered: too late */
	r = request(f, "kill", T0);
	id = json_integer_value(json_object_get(r, "id"));
	json_decref(r);
	assert_int_equal(vig_fleet_action_take(f->fl, AGENT_A, 8, T0, &taken, err), VIG_OK);
	assert_int_equal(json_array_size(taken), 1);
	json_decref(taken);
	assert_int_equal(vig_resp_cancel(f->db, f->fl, &f->analyst, id, NULL, T0, NULL, err), VIG_ECONFLICT);
	/* another tenant's users do not see it */
	assert_int_equal(vig_resp_get(f->db, &f->approver_b, id, &out, err), VIG_ENOTFOUND);
}

static void test_result_reaches_timeline(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *r, *taken = NULL, *res = json_pack("{s:b}", "isolated", 1), *list = NULL;
	struct vig_resp_filter flt = {.incident_id = f->inc_a};
	int64_t aid;

	r = request(f, "isolate", T0);
	aid = json_integer_value(json_object_get(r, "action_id"));
	json_decref(r);
	assert_int_equal(vig_fleet_action_take(f->fl, AGENT_A, 8, T0, &taken, err), VIG_OK);
	json_decref(taken);
	assert_int_equal(vig_fleet_action_result(f->fl, AGENT_A, aid, "succeeded", res, NULL, T0, NULL, err), VIG_OK);
	assert_int_equal(vig_resp_action_result(f->db, aid, T0, &r, err), VIG_OK);
	assert_string_equal(s(r, "status"), "succeeded");
	json_decref(r);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_timeline WHERE kind = 'response.result'"
				  " AND detail LIKE '%isolated%'"), 1);
	assert_int_equal(vig_resp_list(f->db, &f->viewer_a, &flt, &list, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(list, "count")), 1);
	assert_true(json_is_true(json_object_get(json_object_get(json_array_get(json_object_get(list, "requests"), 0),
								 "result"), "isolated")));
	json_decref(list);
	json_decref(res);
}

static void test_playbooks(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *def = json_loads("{\"name\":\"contain malware\",\"trigger\":{\"rule_id\":\"r-mal\","
				 "\"min_severity\":\"high\",\"incident_type\":\"malware\"},"
				 "\"tasks\":[\"collect memory\",\"notify owner\"],"
				 "\"steps\":[{\"type\":\"isolate\"}]}", 0, NULL);
	json_t *pb = NULL, *list = NULL;
	int64_t ids[4], aid;
	size_t n = 0, skipped = 0, added = 0;

	assert_int_equal(vig_playbook_put(f->db, &f->viewer_a, 0, def, T0, &pb, err), VIG_EPERM);
	assert_int_equal(vig_playbook_put(f->db, &f->sys, 0, def, T0, &pb, err), VIG_OK);
	json_decref(pb);
	json_decref(def);
	/* task templates: once per incident */
	assert_int_equal(vig_playbook_tasks(f->db, f->inc_a, T0, &added, err), VIG_OK);
	assert_int_equal(added, 2);
	assert_int_equal(vig_playbook_tasks(f->db, f->inc_a, T0, &added, err), VIG_OK);
	assert_int_equal(added, 0);
	/* steps: a low alert does not trigger, a high one does, once per incident and agent */
	aid = alert(f, VIG_TEST_TENANT_A, "r-mal", "web-02", "low");
	assert_int_equal(vig_playbook_on_alert(f->db, f->fl, f->inc_a, aid, T0, ids, 4, &n, &skipped, err), VIG_OK);
	assert_int_equal(n + skipped, 0); /* below min_severity: not even looked for an agent */
	aid = alert(f, VIG_TEST_TENANT_A, "r-mal", "web-03", "critical");
	assert_int_equal(vig_playbook_on_alert(f->db, f->fl, f->inc_a, aid, T0, ids, 4, &n, &skipped, err), VIG_OK);
	assert_int_equal(skipped, 1); /* no agent on web-03 */
	aid = alert(f, VIG_TEST_TENANT_A, "r-mal", "web-01", "high");
	assert_int_equal(vig_playbook_on_alert(f->db, f->fl, f->inc_a, aid, T0, ids, 4, &n, &skipped, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(vig_playbook_on_alert(f->db, f->fl, f->inc_a, aid, T0, ids, 4, &n, &skipped, err), VIG_OK);
	assert_int_equal(n, 0);
	assert_int_equal(count(f, "SELECT count(*) FROM agent_actions WHERE type = 'isolate'"), 1);
	/* without auto_playbooks the step waits for approval even in a full-managed tenant */
	set(f, "{\"auto_playbooks\":false}");
	exec(f, "DELETE FROM playbook_runs");
	assert_int_equal(vig_playbook_on_alert(f->db, f->fl, f->inc_a, aid, T0, ids, 4, &n, &skipped, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(count(f, "SELECT count(*) FROM response_requests WHERE status = 'pending_approval'"
				  " AND playbook_id IS NOT NULL"), 1);
	assert_int_equal(vig_playbook_list(f->db, &f->viewer_a, &list, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(list, "count")), 1); /* a provider playbook */
	json_decref(list);
	assert_int_equal(vig_playbook_delete(f->db, &f->admin_a, 1, err), VIG_EPERM);
	assert_int_equal(vig_playbook_delete(f->db, &f->sys, 1, err), VIG_OK);
}

static void test_overview(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL, *t, *row = NULL;
	size_t i;

	set(f, "{\"mode\":\"semi\"}");
	json_decref(request(f, "isolate", T0));
	assert_int_equal(vig_resp_overview(f->db, &f->admin_a, T0, T0, &out, err), VIG_EPERM);
	assert_int_equal(vig_resp_overview(f->db, &f->analyst, T0, T0 - 90 * SEC, &out, err), VIG_OK);
	json_array_foreach(json_object_get(out, "tenants"), i, t)
		if (!strcmp(s(t, "tenant"), VIG_TEST_TENANT_A))
			row = t;
	assert_non_null(row);
	assert_string_equal(s(row, "mode"), "semi");
	assert_int_equal(json_integer_value(json_object_get(row, "approvals_pending")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(row, "incidents_open"), "new")), 1);
	assert_int_equal(json_integer_value(json_object_get(row, "agents_offline")), 1);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_settings, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_full_queues_at_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_semi_approve_reject, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_preapproved_skips_approval, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_escalation_and_expiry, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_result_reaches_timeline, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_playbooks, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_overview, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
