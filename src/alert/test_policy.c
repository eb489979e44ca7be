/*
 * test_policy.c - the alert policy (policy.h): wildcard matching, condition sets (parsing,
 * refusals, matching of strings, addresses and lists), severity from asset criticality,
 * assets CRUD with tenant scope, suppressions and exceptions stored, listed, deleted, and the
 * snapshot's verdicts (exception, suppression until a time, provider-wide entries, hit counts).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/policy.h"
#include "auth/testutil.h"
#include "common/arena.h"
#include "common/vtime.h"

struct fx {
	struct vig_db *db;
	struct vig_principal sys, a_admin, b_admin;
	struct vig_arena arena;
	struct vig_event ev;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a_admin, VIG_ROLE_TENANT_ADMIN, "tenant-a", "alice");
	vig_test_principal(&f->b_admin, VIG_ROLE_TENANT_ADMIN, "tenant-b", "bob");
	vig_arena_init(&f->arena, 4096, 1u << 20);
	vig_event_init(&f->ev, &f->arena);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vig_arena_release(&f->arena);
	vig_db_close(f->db);
	free(f);
	return 0;
}

/* Resets the fixture's event to host/tenant/user (NULL = absent). */
static struct vig_event *event(struct fx *f, const char *tenant, const char *host, const char *user,
			       const char *src_ip)
{
	vig_arena_reset(&f->arena);
	vig_event_init(&f->ev, &f->arena);
	if (tenant)
		assert_int_equal(vig_event_set_cstr(&f->ev, VIG_F_TENANT_ID, tenant), VIG_OK);
	if (host)
		assert_int_equal(vig_event_set_cstr(&f->ev, VIG_F_HOST_NAME, host), VIG_OK);
	if (user)
		assert_int_equal(vig_event_set_cstr(&f->ev, VIG_F_USER_NAME, user), VIG_OK);
	if (src_ip)
		assert_int_equal(vig_event_set_ip(&f->ev, VIG_F_SOURCE_IP, src_ip, strlen(src_ip)),
				 VIG_OK);
	return &f->ev;
}

static void test_wildcard(void **state)
{
	(void)state;
	assert_true(vig_wildcard_match("web-*", "WEB-01", 6));
	assert_true(vig_wildcard_match("*", "", 0));
	assert_true(vig_wildcard_match("a?c", "abc", 3));
	assert_false(vig_wildcard_match("a?c", "ac", 2));
	assert_true(vig_wildcard_match("*b*b*", "abxbz", 5));
	assert_false(vig_wildcard_match("*b*b*", "abz", 3));
	assert_true(vig_wildcard_match("a\\*b", "a*b", 3));
	assert_false(vig_wildcard_match("a\\*b", "axb", 3));
	assert_true(vig_wildcard_match("svc", "SVC", 3));
	assert_false(vig_wildcard_match("svc", "svc2", 4));
	assert_false(vig_wildcard_match("", "x", 1));
	/* a pathological pattern stays bounded */
	assert_false(vig_wildcard_match("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 39));
}

static void test_severity(void **state)
{
	enum vig_crit c;

	(void)state;
	assert_true(vig_crit_parse("critical", &c));
	assert_int_equal(c, VIG_CRIT_CRITICAL);
	assert_false(vig_crit_parse("urgent", &c));
	assert_string_equal(vig_crit_name(VIG_CRIT_HIGH), "high");
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_MEDIUM, VIG_CRIT_HIGH), VIG_ALERT_SEV_HIGH);
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_MEDIUM, VIG_CRIT_CRITICAL),
			 VIG_ALERT_SEV_CRITICAL);
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_HIGH, VIG_CRIT_CRITICAL),
			 VIG_ALERT_SEV_CRITICAL); /* capped */
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_LOW, VIG_CRIT_LOW), VIG_ALERT_SEV_LOW);
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_LOW, VIG_CRIT_MEDIUM), VIG_ALERT_SEV_LOW);
	assert_int_equal(vig_severity_for_asset(VIG_ALERT_SEV_INFORMATIONAL, VIG_CRIT_CRITICAL),
			 VIG_ALERT_SEV_MEDIUM);
}

static void condset(const char *json, struct vig_condset *cs, enum vig_err want, const char *msg)
{
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *j = json_loads(json, 0, NULL);

	assert_non_null(j);
	assert_int_equal(vig_condset_from_json(j, cs, err), want);
	if (msg)
		assert_non_null(strstr(err, msg));
	json_decref(j);
}

static void test_condset(void **state)
{
	struct fx *f = *state;
	struct vig_condset cs;
	json_t *back;

	condset("[]", &cs, VIG_EINVAL, "expected an object");
	condset("{}", &cs, VIG_EINVAL, "1 to 16 fields");
	condset("{\"bad field\": \"x\"}", &cs, VIG_EINVAL, "not a field name");
	condset("{\"host.name\": 3}", &cs, VIG_EINVAL, "values must be strings");
	condset("{\"host.name\": []}", &cs, VIG_EINVAL, "1 to 64 values");
	condset("{\"host.name\": \"\"}", &cs, VIG_EINVAL, "1 to 1024 bytes");

	condset("{\"host.name\": \"web-*\", \"user.name\": [\"svc_backup\", \"root\"]}", &cs, VIG_OK,
		NULL);
	assert_int_equal(cs.n, 2);
	assert_true(vig_condset_match(&cs, event(f, "tenant-a", "WEB-01", "Root", NULL)));
	assert_false(vig_condset_match(&cs, event(f, "tenant-a", "web-01", "alice", NULL)));
	assert_false(vig_condset_match(&cs, event(f, "tenant-a", "db-01", "root", NULL)));
	assert_false(vig_condset_match(&cs, event(f, "tenant-a", "web-01", NULL, NULL))); /* absent */
	back = vig_condset_to_json(&cs);
	assert_int_equal(json_array_size(json_object_get(back, "user.name")), 2);
	json_decref(back);
	vig_condset_release(&cs);

	/* addresses compare by their text; extension fields by name */
	condset("{\"source.ip\": \"10.1.*\", \"custom.tag\": \"blue\"}", &cs, VIG_OK, NULL);
	event(f, "tenant-a", NULL, NULL, "10.1.2.3");
	assert_false(vig_condset_match(&cs, &f->ev));
	assert_int_equal(vig_event_ext_str(&f->ev, "custom.tag", "BLUE", 4), VIG_OK);
	assert_true(vig_condset_match(&cs, &f->ev));
	vig_condset_release(&cs);
}

static void test_assets(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	enum vig_crit crit = VIG_CRIT_CRITICAL, low = VIG_CRIT_LOW;
	struct vig_asset_fields fl = {.hostname = "db-01", .criticality = &crit, .owner = "dba"};
	struct vig_asset a, b, *list;
	json_t *tags = json_pack("[s,s]", "pci", "prod"), *j;
	size_t n;

	fl.tags = tags;
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, &a, err), VIG_OK);
	assert_string_equal(a.tenant, "tenant-a");
	assert_int_equal(a.criticality, VIG_CRIT_CRITICAL);
	j = vig_asset_to_json(&a);
	assert_string_equal(json_string_value(json_object_get(j, "criticality")), "critical");
	assert_int_equal(json_array_size(json_object_get(j, "tags")), 2);
	json_decref(j);
	/* duplicates, bad input, foreign tenants */
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, NULL, err), VIG_EEXIST);
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-b", &fl, NULL, err), VIG_EPERM);
	fl = (struct vig_asset_fields){.ip = "not-an-ip"};
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, NULL, err), VIG_EINVAL);
	assert_non_null(strstr(err, "ip"));
	fl = (struct vig_asset_fields){0};
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, NULL, err), VIG_EINVAL);
	/* an address-only asset is keyed by its address */
	fl = (struct vig_asset_fields){.ip = "10.9.9.9"};
	assert_int_equal(vig_asset_create(f->db, &f->b_admin, "tenant-b", &fl, &b, err), VIG_OK);
	assert_string_equal(b.hostname, "10.9.9.9");
	assert_int_equal(b.criticality, VIG_CRIT_MEDIUM);
	{
		struct vig_asset x;

		assert_int_equal(vig_asset_get(f->db, &f->a_admin, b.id, &x, err), VIG_ENOTFOUND);
		assert_int_equal(vig_asset_get(f->db, &f->b_admin, b.id, &x, err), VIG_OK);
		vig_asset_release(&x);
	}
	vig_asset_release(&b);
	assert_int_equal(vig_asset_list(f->db, &f->a_admin, NULL, 0, &list, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	vig_asset_list_free(list, n);
	assert_int_equal(vig_asset_list(f->db, &f->sys, NULL, 0, &list, &n, err), VIG_OK);
	assert_int_equal(n, 2);
	vig_asset_list_free(list, n);
	assert_int_equal(vig_asset_list(f->db, &f->a_admin, "tenant-b", 0, &list, &n, err), VIG_EPERM);
	/* update and delete */
	fl = (struct vig_asset_fields){.criticality = &low, .owner = ""};
	assert_int_equal(vig_asset_update(f->db, &f->b_admin, a.id, &fl, NULL, NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_asset_update(f->db, &f->a_admin, a.id, &fl, NULL, &b, err), VIG_OK);
	assert_int_equal(b.criticality, VIG_CRIT_LOW);
	assert_string_equal(b.owner, "");
	vig_asset_release(&b);
	assert_int_equal(vig_asset_delete(f->db, &f->b_admin, a.id, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_asset_delete(f->db, &f->a_admin, a.id, &b, err), VIG_OK);
	assert_string_equal(b.hostname, "db-01");
	vig_asset_release(&b);
	assert_int_equal(vig_asset_get(f->db, &f->a_admin, a.id, &b, err), VIG_ENOTFOUND);
	vig_asset_release(&a);
	json_decref(tags);
}

/* Creates an entry of kind from body JSON for tenant as who; returns its id. */
static int64_t entry(struct fx *f, const struct vig_principal *who, enum vig_policy_kind kind,
		     const char *tenant, const char *rule, const char *body)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_policy_entry e;
	json_t *j = json_loads(body, 0, NULL);
	int64_t id;

	assert_non_null(j);
	assert_int_equal(vig_policy_entry_from_json(kind, j, vig_time_now(), &e, err), VIG_OK);
	json_decref(j);
	snprintf(e.tenant, sizeof(e.tenant), "%s", tenant);
	if (rule)
		snprintf(e.rule_id, sizeof(e.rule_id), "%s", rule);
	assert_int_equal(vig_policy_entry_create(f->db, who, &e, err), VIG_OK);
	id = e.id;
	vig_policy_entry_release(&e);
	return id;
}

static void test_entry_validation(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_policy_entry e;
	int64_t now = vig_time_now();
	json_t *j;

	(void)f;
	j = json_pack("{s:{s:s}}", "conditions", "host.name", "x");
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_SUPPRESSION, j, now, &e, err), VIG_EINVAL);
	assert_non_null(strstr(err, "until"));
	json_object_set_new(j, "until", json_integer(1)); /* 1970: the past */
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_SUPPRESSION, j, now, &e, err), VIG_EINVAL);
	assert_non_null(strstr(err, "future"));
	json_object_set_new(j, "until", json_string("2200-01-01T00:00:00Z"));
	json_object_set_new(j, "rule_id", json_integer(4));
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_SUPPRESSION, j, now, &e, err), VIG_EINVAL);
	json_object_del(j, "rule_id");
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_SUPPRESSION, j, now, &e, err), VIG_OK);
	vig_policy_entry_release(&e);
	json_object_set_new(j, "conditions", json_string("host.name=x"));
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_EXCEPTION, j, now, &e, err), VIG_EINVAL);
	assert_non_null(strstr(err, "conditions"));
	json_decref(j);
	/* creating for a tenant one cannot access */
	j = json_pack("{s:{s:s}}", "conditions", "host.name", "x");
	assert_int_equal(vig_policy_entry_from_json(VIG_POLICY_EXCEPTION, j, now, &e, err), VIG_OK);
	snprintf(e.tenant, sizeof(e.tenant), "tenant-b");
	snprintf(e.rule_id, sizeof(e.rule_id), "r1");
	assert_int_equal(vig_policy_entry_create(f->db, &f->a_admin, &e, err), VIG_EPERM);
	vig_policy_entry_release(&e);
	json_decref(j);
}

static void test_policy_verdicts(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	enum vig_crit crit = VIG_CRIT_CRITICAL, high = VIG_CRIT_HIGH;
	struct vig_asset_fields fl = {.hostname = "DC-01", .criticality = &crit};
	struct vig_policy *p = vig_policy_new(f->db, err);
	struct vig_policy_snap *s;
	struct vig_policy_entry *rows;
	enum vig_alert_severity sev;
	int64_t exc, sup, glob, now = vig_time_now(), eid = 0;
	uint64_t e1, e2, e3;
	size_t n;
	int c;

	assert_non_null(p);
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, NULL, err), VIG_OK);
	fl = (struct vig_asset_fields){.ip = "192.0.2.7", .criticality = &high};
	assert_int_equal(vig_asset_create(f->db, &f->a_admin, "tenant-a", &fl, NULL, err), VIG_OK);
	exc = entry(f, &f->a_admin, VIG_POLICY_EXCEPTION, "tenant-a", "r1",
		    "{\"conditions\": {\"host.name\": \"scanner-*\"}, \"reason\": \"vuln scanner\"}");
	sup = entry(f, &f->a_admin, VIG_POLICY_SUPPRESSION, "tenant-a", NULL,
		    "{\"conditions\": {\"user.name\": \"patch\"}, \"until\": \"2200-01-01T00:00:00Z\"}");
	glob = entry(f, &f->sys, VIG_POLICY_EXCEPTION, VIG_DB_PROVIDER_TENANT, "r2",
		     "{\"conditions\": {\"host.name\": \"lab-*\"}}");
	/* nothing changes until the reload */
	s = vig_policy_acquire(p);
	sev = VIG_ALERT_SEV_MEDIUM;
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "scanner-1", NULL, NULL), "tenant-a",
					  "r1", now, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	vig_policy_snap_release(s);
	assert_int_equal(vig_policy_reload(p, err), VIG_OK);
	s = vig_policy_acquire(p);
	/* the exception: its rule and tenant only */
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "Scanner-1", NULL, NULL), "tenant-a",
					  "r1", now, &sev, &c, &eid),
			 VIG_POLICY_EXCEPTED);
	assert_int_equal(eid, exc);
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "scanner-1", NULL, NULL), "tenant-a",
					  "r9", now, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-b", "scanner-1", NULL, NULL), "tenant-b",
					  "r1", now, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	/* the provider's exception applies to every tenant */
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-b", "lab-3", NULL, NULL), "tenant-b",
					  "r2", now, &sev, &c, NULL),
			 VIG_POLICY_EXCEPTED);
	/* the suppression: every rule of tenant-a, until its time */
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "web-1", "patch", NULL), "tenant-a",
					  "r7", now, &sev, &c, NULL),
			 VIG_POLICY_SUPPRESSED);
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "web-1", "patch", NULL), "tenant-a",
					  "r7", 7258118400LL * VIG_NS_PER_SEC + 1, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	/* severity: critical host by name (case-insensitive), high asset by address */
	sev = VIG_ALERT_SEV_MEDIUM;
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "dc-01", NULL, NULL), "tenant-a",
					  "r1", now, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	assert_int_equal(c, VIG_CRIT_CRITICAL);
	assert_int_equal(sev, VIG_ALERT_SEV_CRITICAL);
	sev = VIG_ALERT_SEV_LOW;
	vig_policy_apply(s, event(f, "tenant-a", "ws-9", NULL, "192.0.2.7"), "tenant-a", "r1", now,
			 &sev, &c, NULL);
	assert_int_equal(c, VIG_CRIT_HIGH);
	assert_int_equal(sev, VIG_ALERT_SEV_MEDIUM);
	/* another tenant's asset of the same name counts for nothing */
	sev = VIG_ALERT_SEV_LOW;
	vig_policy_apply(s, event(f, "tenant-b", "dc-01", NULL, NULL), "tenant-b", "r1", now, &sev, &c,
			 NULL);
	assert_int_equal(c, -1);
	assert_int_equal(sev, VIG_ALERT_SEV_LOW);
	vig_policy_snap_release(s);
	/* hit counters survive a reload */
	e1 = vig_policy_hits(p, VIG_POLICY_EXCEPTION, exc);
	e2 = vig_policy_hits(p, VIG_POLICY_SUPPRESSION, sup);
	e3 = vig_policy_hits(p, VIG_POLICY_EXCEPTION, glob);
	assert_int_equal(e1, 1);
	assert_int_equal(e2, 1);
	assert_int_equal(e3, 1);
	assert_int_equal(vig_policy_reload(p, err), VIG_OK);
	assert_int_equal(vig_policy_hits(p, VIG_POLICY_EXCEPTION, exc), 1);
	/* listing and deleting respect the tenant */
	assert_int_equal(vig_policy_entry_list(f->db, &f->b_admin, VIG_POLICY_EXCEPTION, NULL, "r1",
					       true, now, &rows, &n, err),
			 VIG_OK);
	assert_int_equal(n, 0);
	vig_policy_entry_list_free(rows, n);
	assert_int_equal(vig_policy_entry_list(f->db, &f->a_admin, VIG_POLICY_EXCEPTION, NULL, "r1",
					       true, now, &rows, &n, err),
			 VIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].reason, "vuln scanner");
	vig_policy_entry_list_free(rows, n);
	assert_int_equal(vig_policy_entry_delete(f->db, &f->b_admin, VIG_POLICY_EXCEPTION, exc, NULL,
						 err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_policy_entry_delete(f->db, &f->a_admin, VIG_POLICY_EXCEPTION, exc, NULL,
						 err),
			 VIG_OK);
	assert_int_equal(vig_policy_reload(p, err), VIG_OK);
	s = vig_policy_acquire(p);
	assert_int_equal(vig_policy_apply(s, event(f, "tenant-a", "scanner-1", NULL, NULL), "tenant-a",
					  "r1", now, &sev, &c, NULL),
			 VIG_POLICY_ALERT);
	vig_policy_snap_release(s);
	vig_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_severity),
		cmocka_unit_test_setup_teardown(test_condset, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_assets, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_entry_validation, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_policy_verdicts, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
