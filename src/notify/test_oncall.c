/*
 * test_oncall.c - on-call rotas and escalation ladders against a real in-memory control DB:
 * who is on call across shifts (before the start too) and under overrides; input checks;
 * tenant visibility (a provider rota serves every tenant, another tenant's is not found); the
 * ladder pages each level once when it is due, to the member on call (e-mail and webhook),
 * writes the timeline and audit rows with it, and stops once the incident is acknowledged;
 * min_severity and tenant scoping of policies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/testutil.h"
#include "common/vtime.h"
#include "notify/notify.h"
#include "notify/oncall.h"

#define SEC 1000000000LL
#define HOUR (3600 * SEC)
#define T0 (1800000000LL * SEC) /* 2027-01-15T08:00:00Z */

struct fx {
	struct vig_db *db;
	struct vig_principal sys, a, b, prov;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a, VIG_ROLE_TENANT_ADMIN, VIG_TEST_TENANT_A, "alice");
	vig_test_principal(&f->b, VIG_ROLE_TENANT_ADMIN, VIG_TEST_TENANT_B, "bob");
	vig_test_principal(&f->prov, VIG_ROLE_ADMIN, VIG_DB_PROVIDER_TENANT, "root");
	f->prov.provider = true;
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

static json_t *J(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);

	assert_non_null(v);
	return v;
}

/* Creates a rota of the three members ann, ben, cat (ben with a webhook), 8-hour shifts from T0. */
static int64_t make_rota(struct fx *f, const struct vig_principal *who, const char *extra)
{
	char text[1024], errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *in, *out = NULL;
	int64_t id;

	snprintf(text, sizeof(text),
		 "{\"name\":\"day and night\",\"shift_hours\":8,\"start\":%lld,\"members\":["
		 "{\"name\":\"Ann\",\"email\":\"ann@example.org\"},"
		 "{\"name\":\"Ben\",\"email\":\"ben@example.org\",\"webhook\":\"https://pager.example.org/ben\"},"
		 "{\"name\":\"Cat\",\"email\":\"cat@example.org\"}]%s}",
		 (long long)(T0 / SEC), extra);
	in = J(text);
	assert_int_equal(vig_oncall_rota_create(f->db, who, in, T0, &out, errbuf), VIG_OK);
	id = json_integer_value(json_object_get(out, "id"));
	assert_true(id > 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(out, "on_call"), "name")), "Ann");
	json_decref(in);
	json_decref(out);
	return id;
}

static const char *on_call(struct fx *f, const struct vig_principal *who, int64_t id, int64_t t)
{
	static char name[64];
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;

	assert_int_equal(vig_oncall_rota_get(f->db, who, id, t, &out, errbuf), VIG_OK);
	snprintf(name, sizeof(name), "%s", json_string_value(json_object_get(json_object_get(out, "on_call"), "name")));
	json_decref(out);
	return name;
}

static void test_rotation_and_overrides(void **state)
{
	struct fx *f = *state;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *in, *out = NULL;
	int64_t id = make_rota(f, &f->a, "");

	assert_string_equal(on_call(f, &f->a, id, T0 + 7 * HOUR), "Ann");
	assert_string_equal(on_call(f, &f->a, id, T0 + 8 * HOUR), "Ben");
	assert_string_equal(on_call(f, &f->a, id, T0 + 23 * HOUR), "Cat");
	assert_string_equal(on_call(f, &f->a, id, T0 + 24 * HOUR), "Ann");   /* round again */
	assert_string_equal(on_call(f, &f->a, id, T0 - 1 * HOUR), "Cat");    /* before the start */
	assert_string_equal(on_call(f, &f->a, id, T0 + 1000 * HOUR), "Cat"); /* shift 125: 125 mod 3 = 2 */
	/* Cat covers Ann's shift tomorrow from 02:00 to 04:00 */
	in = J("{\"member\":\"cat@example.org\",\"start\":\"2027-01-16T10:00:00Z\",\"end\":\"2027-01-16T12:00:00Z\"}");
	assert_int_equal(vig_oncall_override_add(f->db, &f->a, id, in, T0, &out, errbuf), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(out, "overrides")), 1);
	json_decref(out);
	json_decref(in);
	assert_string_equal(on_call(f, &f->a, id, T0 + 25 * HOUR), "Ann");
	assert_string_equal(on_call(f, &f->a, id, T0 + 26 * HOUR), "Cat");
	assert_string_equal(on_call(f, &f->a, id, T0 + 28 * HOUR), "Ann");
	/* the newest override wins where two overlap */
	in = J("{\"member\":1,\"start\":\"2027-01-16T11:00:00Z\",\"end\":\"2027-01-16T11:30:00Z\"}");
	assert_int_equal(vig_oncall_override_add(f->db, &f->a, id, in, T0, &out, errbuf), VIG_OK);
	json_decref(out);
	json_decref(in);
	assert_string_equal(on_call(f, &f->a, id, T0 + 27 * HOUR + 10 * 60 * SEC), "Ben");
	/* bad overrides */
	in = J("{\"member\":\"nobody@example.org\",\"start\":0,\"end\":10}");
	assert_int_equal(vig_oncall_override_add(f->db, &f->a, id, in, T0, &out, errbuf), VIG_EINVAL);
	json_decref(in);
	in = J("{\"member\":0,\"start\":\"2027-01-16T11:00:00Z\",\"end\":\"2027-01-16T10:00:00Z\"}");
	assert_int_equal(vig_oncall_override_add(f->db, &f->a, id, in, T0, &out, errbuf), VIG_EINVAL);
	json_decref(in);
}

static void test_checks_and_tenancy(void **state)
{
	struct fx *f = *state;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	static const char *const bad[] = {
		"{\"name\":\"x\",\"shift_hours\":8,\"members\":[]}",
		"{\"name\":\"x\",\"shift_hours\":0,\"members\":[{\"name\":\"a\",\"email\":\"a@b\"}]}",
		"{\"name\":\"x\",\"shift_hours\":8,\"members\":[{\"name\":\"a\",\"email\":\"not an address\"}]}",
		"{\"name\":\"x\",\"shift_hours\":8,\"members\":[{\"name\":\"a\",\"email\":\"a@b\",\"webhook\":\"ftp://x\"}]}",
		"{\"name\":\"x\",\"shift_hours\":8,\"members\":[{\"name\":\"a\",\"email\":\"a@b\"}],\"colour\":1}",
		"{\"name\":\"x\",\"shift_hours\":8,\"members\":[{\"name\":\"a\",\"email\":\"a@b\"}],\"tenant\":\"tenant-b\"}",
	};
	json_t *in, *out = NULL;
	int64_t mine, prov;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in = J(bad[i]);
		assert_int_not_equal(vig_oncall_rota_create(f->db, &f->a, in, T0, &out, errbuf), VIG_OK);
		assert_null(out);
		json_decref(in);
	}
	mine = make_rota(f, &f->a, "");
	prov = make_rota(f, &f->prov, "");
	/* b sees the provider's rota, not a's; cannot delete either */
	assert_int_equal(vig_oncall_rota_get(f->db, &f->b, mine, T0, &out, errbuf), VIG_ENOTFOUND);
	assert_int_equal(vig_oncall_rota_get(f->db, &f->b, prov, T0, &out, errbuf), VIG_OK);
	json_decref(out);
	assert_int_equal(vig_oncall_rota_list(f->db, &f->b, T0, &out, errbuf), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 1);
	json_decref(out);
	assert_int_equal(vig_oncall_rota_delete(f->db, &f->b, mine, errbuf), VIG_ENOTFOUND);
	assert_int_equal(vig_oncall_rota_delete(f->db, &f->b, prov, errbuf), VIG_EPERM);
	/* a policy of b cannot page a's rota */
	char text[256];
	snprintf(text, sizeof(text), "{\"name\":\"p\",\"levels\":[{\"after_s\":60,\"rota\":%lld}]}", (long long)mine);
	in = J(text);
	assert_int_equal(vig_escalation_policy_create(f->db, &f->b, in, T0, &out, errbuf), VIG_EINVAL);
	json_decref(in);
	in = J("{\"name\":\"p\",\"levels\":[{\"after_s\":60,\"email\":\"x@y\"},{\"after_s\":30,\"email\":\"z@y\"}]}");
	assert_int_equal(vig_escalation_policy_create(f->db, &f->b, in, T0, &out, errbuf), VIG_EINVAL);
	assert_non_null(strstr(errbuf, "ascending"));
	json_decref(in);
	in = J("{\"name\":\"p\",\"levels\":[{\"after_s\":60,\"email\":\"x@y\",\"webhook\":\"https://h/\"}]}");
	assert_int_equal(vig_escalation_policy_create(f->db, &f->b, in, T0, &out, errbuf), VIG_EINVAL);
	json_decref(in);
	assert_int_equal(vig_oncall_rota_delete(f->db, &f->a, mine, errbuf), VIG_OK);
	assert_int_equal(vig_oncall_rota_get(f->db, &f->a, mine, T0, &out, errbuf), VIG_ENOTFOUND);
}

/* An incident row as the incident module writes it (status new, not acknowledged). */
static int64_t make_incident(struct fx *f, const char *tenant, const char *severity, int64_t created)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	int64_t id;

	assert_int_equal(sqlite3_prepare_v2(h,
					    "INSERT INTO incidents (tenant_id, title, status, severity, created, updated)"
					    " VALUES (?1, 'Brute force on web-1', 'new', ?2, ?3, ?3)",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, severity, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, created);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(h);
	vig_db_unlock(f->db);
	return id;
}

static int64_t count(struct fx *f, const char *sql, int64_t id)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return n;
}

static size_t check(struct fx *f, int64_t now)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t paged = 0;

	assert_int_equal(vig_escalation_check(f->db, now, &paged, errbuf), VIG_OK);
	return paged;
}

static void test_ladder(void **state)
{
	struct fx *f = *state;
	char errbuf[VIG_ERRBUF_SIZE] = "", text[512];
	json_t *in, *out = NULL;
	int64_t rota = make_rota(f, &f->a, ""), inc, quiet, low, other;

	snprintf(text, sizeof(text),
		 "{\"name\":\"high first\",\"min_severity\":\"high\",\"levels\":["
		 "{\"after_s\":300,\"rota\":%lld},{\"after_s\":900,\"email\":\"soc-lead@example.org\"}]}",
		 (long long)rota);
	in = J(text);
	assert_int_equal(vig_escalation_policy_create(f->db, &f->a, in, T0, &out, errbuf), VIG_OK);
	json_decref(out);
	json_decref(in);
	/* created during Ben's shift (he has a webhook too) */
	inc = make_incident(f, VIG_TEST_TENANT_A, "critical", T0 + 9 * HOUR);
	quiet = make_incident(f, VIG_TEST_TENANT_A, "high", T0 + 9 * HOUR);
	low = make_incident(f, VIG_TEST_TENANT_A, "medium", T0 + 9 * HOUR);
	other = make_incident(f, VIG_TEST_TENANT_B, "critical", T0 + 9 * HOUR);

	assert_int_equal(check(f, T0 + 9 * HOUR + 299 * SEC), 0);
	/* quiet is acknowledged before its first level is due */
	sqlite3 *h = vig_db_lock(f->db);
	assert_int_equal(vig_db_run_id(h, "UPDATE incidents SET status = 'acknowledged', acknowledged = ?2 WHERE id = ?1",
				       quiet, T0 + 9 * HOUR + 60 * SEC, errbuf), VIG_OK);
	vig_db_unlock(f->db);
	assert_int_equal(check(f, T0 + 9 * HOUR + 300 * SEC), 1); /* level 1 of inc only */
	assert_int_equal(check(f, T0 + 9 * HOUR + 301 * SEC), 0); /* once */
	assert_int_equal(count(f, "SELECT count(*) FROM notify_queue WHERE target = 'ben@example.org'"
				  " AND channel = 'email' AND ?1 = ?1", 0), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM notify_queue WHERE target = 'https://pager.example.org/ben'"
				  " AND ?1 = ?1", 0), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_timeline WHERE incident_id = ?1 AND kind = 'escalation'"
				  " AND summary LIKE '%Ben <ben@example.org>%'", inc), 1);
	assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE action = 'incident.escalation'"
				  " AND object_id = CAST(?1 AS TEXT)", inc), 1);
	assert_int_equal(check(f, T0 + 9 * HOUR + 900 * SEC), 1); /* level 2 */
	assert_int_equal(count(f, "SELECT count(*) FROM notify_queue WHERE target = 'soc-lead@example.org' AND ?1 = ?1",
			       0), 1);
	assert_int_equal(check(f, T0 + 10 * HOUR), 0); /* the ladder has no more levels */
	assert_int_equal(count(f, "SELECT count(*) FROM incident_escalations WHERE incident_id = ?1", quiet), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_escalations WHERE incident_id = ?1", low), 0);
	assert_int_equal(count(f, "SELECT count(*) FROM incident_escalations WHERE incident_id = ?1", other), 0);
	/* what the incident shows; b cannot read a's */
	assert_int_equal(vig_escalation_incident(f->db, &f->a, inc, &out, errbuf), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(out, "escalations")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(out, "escalations"), 1),
							    "level")), 2);
	json_decref(out);
	assert_int_equal(vig_escalation_incident(f->db, &f->b, inc, &out, errbuf), VIG_ENOTFOUND);
	/* a provider policy covers b's incident too; the delivery lists show who was paged */
	in = J("{\"name\":\"provider night desk\",\"levels\":[{\"after_s\":60,\"webhook\":\"https://desk.example.org/\"}]}");
	assert_int_equal(vig_escalation_policy_create(f->db, &f->prov, in, T0, &out, errbuf), VIG_OK);
	json_decref(out);
	json_decref(in);
	assert_int_equal(check(f, T0 + 10 * HOUR + SEC), 3); /* inc, low and other (quiet is acknowledged) */
	assert_int_equal(count(f, "SELECT count(*) FROM incident_escalations WHERE incident_id = ?1", other), 1);
	assert_int_equal(vig_notify_deliveries(f->db, &f->b, "pending", 100, &out, errbuf), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(out, "deliveries")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "deliveries"), 0),
							      "target")),
			    "https://desk.example.org/");
	json_decref(out);
	/* disabled, the policy pages nobody */
	in = J("{\"enabled\":false}");
	assert_int_equal(vig_escalation_policy_list(f->db, &f->a, &out, errbuf), VIG_OK);
	int64_t pid = json_integer_value(json_object_get(json_array_get(json_object_get(out, "policies"), 1), "id"));
	json_decref(out);
	assert_int_equal(vig_escalation_policy_update(f->db, &f->a, pid, in, &out, errbuf), VIG_OK);
	json_decref(out);
	json_decref(in);
	int64_t late = make_incident(f, VIG_TEST_TENANT_A, "critical", T0 + 11 * HOUR);
	assert_int_equal(check(f, T0 + 12 * HOUR), 1); /* only the provider's level */
	assert_int_equal(count(f, "SELECT count(*) FROM incident_escalations WHERE incident_id = ?1", late), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rotation_and_overrides, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_checks_and_tenancy, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ladder, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
