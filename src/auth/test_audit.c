/*
 * test_audit.c - the hash-chained audit log: appends, verification, the append-only
 * triggers, detection of changed/deleted/inserted/reordered rows through a raw SQLite
 * connection to the same file, tenant scoping of the list, and that state changes of the
 * auth module write audit rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/vtime.h"
#include "audit.h"
#include "auth.h"
#include "db.h"

#define PW "correct horse battery"

struct fx {
	char path[64];
	struct vig_db *db;
	sqlite3 *raw; /* a second connection to the same file, as an attacker would use */
	struct vig_principal admin;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vig_auth_config cfg;
	struct vig_session s;
	char err[VIG_ERRBUF_SIZE] = "";
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/vig-audit-test-XXXXXX");
	fd = mkstemp(f->path);
	assert_true(fd >= 0);
	close(fd);
	unlink(f->path);
	assert_int_equal(vig_db_open(f->path, &f->db, err), VIG_OK);
	vig_auth_config_for_tests(&cfg);
	vig_auth_configure(f->db, &cfg);
	assert_int_equal(vig_auth_setup(f->db, "tok-1234", "tok-1234", "root", PW, err), VIG_OK);
	assert_int_equal(vig_auth_login(f->db, "root", PW, NULL, vig_time_now(), &s, &f->admin, err),
			 VIG_OK);
	assert_int_equal(sqlite3_open(f->path, &f->raw), SQLITE_OK);
	sqlite3_busy_timeout(f->raw, 2000);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char aux[96];

	sqlite3_close(f->raw);
	vig_db_close(f->db);
	unlink(f->path);
	snprintf(aux, sizeof(aux), "%s-wal", f->path);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", f->path);
	unlink(aux);
	free(f);
	return 0;
}

static int64_t row_count(sqlite3 *c)
{
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(c, "SELECT count(*) FROM audit_log", -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Appends 5 rows of our own after setup's and login's rows; returns the id of the first. */
static int64_t append_five(struct fx *f)
{
	char err[VIG_ERRBUF_SIZE] = "", obj[16];
	int64_t first = 0, id;

	for (int i = 0; i < 5; i++) {
		snprintf(obj, sizeof(obj), "r%d", i);
		assert_int_equal(vig_audit_append(f->db, i % 2 ? &f->admin : NULL, NULL, "rule.update",
						  "rule", obj, "{\"enabled\":true}",
						  "{\"enabled\":false}", i == 3 ? "noisy" : NULL, &id,
						  err), VIG_OK);
		if (i == 0)
			first = id;
	}
	return first;
}

static void expect_broken(struct fx *f, int64_t bad, const char *why)
{
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t rows, first_bad;

	assert_int_equal(vig_audit_verify(f->db, &rows, &first_bad, NULL, err), VIG_ECONFLICT);
	assert_int_equal(first_bad, bad);
	assert_non_null(strstr(err, why));
}

static void test_chain_verifies(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", head[VIG_AUDIT_HASH_STRLEN], head2[VIG_AUDIT_HASH_STRLEN];
	int64_t rows, bad, first;
	struct vig_audit_row *list;
	size_t n;

	first = append_five(f);
	assert_int_equal(first, 3); /* 1 = setup, 2 = login */
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, head, err), VIG_OK);
	assert_int_equal(rows, 7);
	assert_int_equal(bad, 0);
	assert_int_equal(strlen(head), 64);
	assert_int_equal(vig_audit_list(f->db, &f->admin, NULL, 0, 100, &list, &n, err), VIG_OK);
	assert_int_equal(n, 7);
	assert_int_equal(list[0].id, 7);
	assert_string_equal(list[0].hash, head);
	assert_string_equal(list[0].prev_hash, list[1].hash);
	assert_string_equal(list[6].prev_hash,
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(list[6].action, "setup");
	assert_string_equal(list[6].actor, "system");
	assert_string_equal(list[5].action, "login");
	assert_string_equal(list[5].actor, "root");
	assert_string_equal(list[3].actor, "root");
	assert_string_equal(list[4].actor, "system");
	assert_string_equal(list[1].reason, "noisy");
	assert_string_equal(list[1].actor, "root");
	assert_string_equal(list[0].actor, "system");
	assert_null(list[0].reason);
	assert_string_equal(list[0].after_json, "{\"enabled\":false}");
	vig_audit_rows_free(list, n);

	/* Appending moves the head. */
	assert_int_equal(vig_audit_append(f->db, NULL, "default", "x", NULL, NULL, NULL, NULL, NULL,
					  NULL, err), VIG_OK);
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, head2, err), VIG_OK);
	assert_int_equal(rows, 8);
	assert_string_not_equal(head, head2);
}

static void test_bad_appends(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	char *big = malloc(VIG_AUDIT_JSON_MAX + 2);
	int64_t before = row_count(f->raw);

	memset(big, 'x', VIG_AUDIT_JSON_MAX + 1);
	big[VIG_AUDIT_JSON_MAX + 1] = '\0';
	assert_int_equal(vig_audit_append(f->db, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
					  err), VIG_EINVAL);
	assert_int_equal(vig_audit_append(f->db, NULL, NULL, "", NULL, NULL, NULL, NULL, NULL, NULL,
					  err), VIG_EINVAL);
	assert_int_equal(vig_audit_append(f->db, NULL, NULL, "x", NULL, NULL, big, NULL, NULL, NULL,
					  err), VIG_ETOOBIG);
	big[VIG_AUDIT_REASON_MAX + 1] = '\0';
	assert_int_equal(vig_audit_append(f->db, NULL, NULL, "x", NULL, NULL, NULL, NULL, big, NULL,
					  err), VIG_ETOOBIG);
	big[VIG_AUDIT_ACTION_MAX + 1] = '\0';
	assert_int_equal(vig_audit_append(f->db, NULL, NULL, big, NULL, NULL, NULL, NULL, NULL, NULL,
					  err), VIG_ETOOBIG);
	assert_int_equal(row_count(f->raw), before);
	free(big);
}

static void test_triggers_refuse_changes(void **state)
{
	struct fx *f = *state;

	append_five(f);
	assert_int_not_equal(sqlite3_exec(f->raw, "UPDATE audit_log SET reason = 'x' WHERE id = 3",
					  NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(f->raw), "append-only"));
	assert_int_not_equal(sqlite3_exec(f->raw, "DELETE FROM audit_log WHERE id = 3", NULL, NULL,
					  NULL), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(f->raw, "DELETE FROM audit_log", NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_equal(row_count(f->raw), 7);
}

static void drop_triggers(struct fx *f)
{
	assert_int_equal(sqlite3_exec(f->raw,
				      "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
				      NULL, NULL, NULL), SQLITE_OK);
}

static void test_tamper_changed_row(void **state)
{
	struct fx *f = *state;

	append_five(f);
	drop_triggers(f);
	assert_int_equal(sqlite3_exec(f->raw, "UPDATE audit_log SET after_json = '{\"enabled\":true}'"
				      " WHERE id = 5", NULL, NULL, NULL), SQLITE_OK);
	expect_broken(f, 5, "does not match its hash");
}

static void test_tamper_changed_ts_and_rehash_is_caught_next(void **state)
{
	struct fx *f = *state;

	/* An attacker who also rewrites the row's own hash breaks the link of the next row. */
	append_five(f);
	drop_triggers(f);
	assert_int_equal(sqlite3_exec(f->raw, "UPDATE audit_log SET hash = 'ff' || substr(hash, 3)"
				      " WHERE id = 4", NULL, NULL, NULL), SQLITE_OK);
	expect_broken(f, 4, "does not match its hash");
}

static void test_tamper_deleted_row(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t rows, bad;

	append_five(f);
	drop_triggers(f);
	assert_int_equal(sqlite3_exec(f->raw, "DELETE FROM audit_log WHERE id = 4", NULL, NULL, NULL),
			 SQLITE_OK);
	expect_broken(f, 5, "missing or inserted");
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, NULL, err), VIG_ECONFLICT);
	assert_int_equal(rows, 4); /* 1, 2, 3 good, then 5 */
}

static void test_tamper_deleted_first_row(void **state)
{
	struct fx *f = *state;

	append_five(f);
	drop_triggers(f);
	assert_int_equal(sqlite3_exec(f->raw, "DELETE FROM audit_log WHERE id = 1", NULL, NULL, NULL),
			 SQLITE_OK);
	expect_broken(f, 2, "missing or inserted");
}

static void test_tamper_reordered_hash(void **state)
{
	struct fx *f = *state;

	append_five(f);
	drop_triggers(f);
	/* Swap the stored hashes of rows 3 and 4. */
	assert_int_equal(sqlite3_exec(f->raw,
				      "CREATE TEMP TABLE h AS SELECT id, hash FROM audit_log WHERE id IN (3, 4);"
				      "UPDATE audit_log SET hash = (SELECT hash FROM h WHERE id = 4) WHERE id = 3;"
				      "UPDATE audit_log SET hash = (SELECT hash FROM h WHERE id = 3) WHERE id = 4;",
				      NULL, NULL, NULL), SQLITE_OK);
	expect_broken(f, 3, "does not match its hash");
}

static void test_tamper_inserted_row(void **state)
{
	struct fx *f = *state;

	append_five(f);
	/* No trigger stops INSERT: a forged row with a plausible link is still caught. */
	assert_int_equal(sqlite3_exec(f->raw,
				      "INSERT INTO audit_log (id, ts, actor, tenant_id, action, prev_hash, hash)"
				      " SELECT 8, 0, 'root', 'default', 'user.delete', hash,"
				      " '0000000000000000000000000000000000000000000000000000000000000001'"
				      " FROM audit_log WHERE id = 7",
				      NULL, NULL, NULL), SQLITE_OK);
	expect_broken(f, 8, "does not match its hash");
}

static void test_tamper_swapped_rows(void **state)
{
	struct fx *f = *state;

	append_five(f);
	drop_triggers(f);
	/* Renumber rows 5 and 6 (move them in the order); both keep their own hashes. */
	assert_int_equal(sqlite3_exec(f->raw,
				      "UPDATE audit_log SET id = 100 WHERE id = 5;"
				      "UPDATE audit_log SET id = 5 WHERE id = 6;"
				      "UPDATE audit_log SET id = 6 WHERE id = 100;",
				      NULL, NULL, NULL), SQLITE_OK);
	expect_broken(f, 5, "does not link");
}

static void test_list_scoping(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_principal ta, viewer;
	struct vig_audit_row *list;
	struct vig_session s;
	size_t n;

	assert_int_equal(vig_tenant_create(f->db, &f->admin, "a", NULL, VIG_TENANT_FULL, 0, err),
			 VIG_OK);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "b", NULL, VIG_TENANT_FULL, 0, err),
			 VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->admin, "a", "anna", PW, VIG_ROLE_TENANT_ADMIN,
					 NULL, err), VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->admin, "b", "ben", PW, VIG_ROLE_CUSTOMER_VIEWER,
					 NULL, err), VIG_OK);
	assert_int_equal(vig_auth_login(f->db, "anna", PW, NULL, vig_time_now(), &s, &ta, err), VIG_OK);
	assert_int_equal(vig_auth_login(f->db, "ben", PW, NULL, vig_time_now(), &s, &viewer, err),
			 VIG_OK);
	assert_int_equal(vig_audit_append(f->db, &ta, NULL, "agent.isolate", "agent", "h1", NULL, NULL,
					  "ransomware", NULL, err), VIG_OK);

	/* The tenant admin of a sees only a's rows: user creation, its login, its action. */
	assert_int_equal(vig_audit_list(f->db, &ta, NULL, 0, 100, &list, &n, err), VIG_OK);
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i].tenant, "a");
	assert_string_equal(list[0].action, "agent.isolate");
	assert_string_equal(list[0].actor, "anna");
	vig_audit_rows_free(list, n);
	assert_int_equal(vig_audit_list(f->db, &ta, "b", 0, 100, &list, &n, err), VIG_EPERM);
	assert_int_equal(vig_audit_list(f->db, &ta, "default", 0, 100, &list, &n, err), VIG_EPERM);
	assert_int_equal(vig_audit_list(f->db, &viewer, NULL, 0, 100, &list, &n, err), VIG_EPERM);
	assert_int_equal(vig_audit_list(f->db, NULL, NULL, 0, 100, &list, &n, err), VIG_EPERM);

	/* The provider sees all, may narrow, and pages with before_id. */
	assert_int_equal(vig_audit_list(f->db, &f->admin, "b", 0, 100, &list, &n, err), VIG_OK);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(list[i].tenant, "b");
	vig_audit_rows_free(list, n);
	assert_int_equal(vig_audit_list(f->db, &f->admin, NULL, 0, 3, &list, &n, err), VIG_OK);
	assert_int_equal(n, 3);
	int64_t last = list[2].id;
	assert_true(list[0].id > list[1].id && list[1].id > list[2].id);
	vig_audit_rows_free(list, n);
	assert_int_equal(vig_audit_list(f->db, &f->admin, NULL, last, 0, &list, &n, err), VIG_OK);
	assert_int_equal(n, 1); /* limit clamped up to 1 */
	assert_int_equal(list[0].id, last - 1);
	vig_audit_rows_free(list, n);
}

/* Every kind of state change in the auth module leaves its row, and the chain holds. */
static void test_state_changes_audited(void **state)
{
	static const char *const want[] = { "setup", "login", "tenant.create", "tenant.update",
					    "user.create", "user.set_role", "user.set_password",
					    "user.disable", "user.enable", "token.create",
					    "token.revoke", "login_failed", "logout", "user.delete" };
	struct fx *f = *state;
	struct vig_tenant_update tu = { "Acme", VIG_TENANT_SEMI, -1 };
	char err[VIG_ERRBUF_SIZE] = "", tok[VIG_TOKEN_STRLEN];
	struct vig_audit_row *list;
	struct vig_session s;
	int64_t uid, tid, rows, bad;
	size_t n;

	assert_int_equal(vig_tenant_create(f->db, &f->admin, "acme", NULL, VIG_TENANT_FULL, 0, err),
			 VIG_OK);
	assert_int_equal(vig_tenant_update(f->db, &f->admin, "acme", &tu, err), VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->admin, "acme", "carl", PW,
					 VIG_ROLE_CUSTOMER_VIEWER, &uid, err), VIG_OK);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, uid, VIG_ROLE_CUSTOMER_APPROVER, err),
			 VIG_OK);
	assert_int_equal(vig_user_set_password(f->db, &f->admin, uid, "another long one", err), VIG_OK);
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, uid, true, err), VIG_OK);
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, uid, false, err), VIG_OK);
	assert_int_equal(vig_token_create(f->db, &f->admin, "acme", "t", VIG_ROLE_CUSTOMER_VIEWER, 0,
					  vig_time_now(), tok, &tid, err), VIG_OK);
	assert_int_equal(vig_token_revoke(f->db, &f->admin, tid, err), VIG_OK);
	assert_int_equal(vig_auth_login(f->db, "carl", "wrong password", "192.0.2.7", vig_time_now(),
					&s, NULL, err), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "carl", "another long one", NULL, vig_time_now(), &s,
					NULL, err), VIG_OK);
	assert_int_equal(vig_auth_logout(f->db, s.id, err), VIG_OK);
	assert_int_equal(vig_user_delete(f->db, &f->admin, uid, err), VIG_OK);

	assert_int_equal(vig_audit_list(f->db, &f->admin, NULL, 0, 1000, &list, &n, err), VIG_OK);
	for (size_t w = 0; w < VIG_ARRAY_LEN(want); w++) {
		bool found = false;

		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(list[i].action, want[w]) == 0;
		if (!found)
			fail_msg("no audit row for %s", want[w]);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].action, "login_failed") == 0) {
			assert_string_equal(list[i].tenant, "acme");
			assert_non_null(strstr(list[i].reason, "192.0.2.7"));
		}
		if (strcmp(list[i].action, "user.set_role") == 0) {
			assert_non_null(strstr(list[i].before_json, "customer_viewer"));
			assert_non_null(strstr(list[i].after_json, "customer_approver"));
		}
		if (list[i].after_json)
			assert_null(strstr(list[i].after_json, "argon2")); /* never secrets */
	}
	vig_audit_rows_free(list, n);
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, NULL, err), VIG_OK);
	assert_int_equal(rows, (int64_t)n);
}

struct appender {
	struct vig_db *db;
	int n;
	int failures;
};

static void *append_many(void *arg)
{
	struct appender *a = arg;
	char err[VIG_ERRBUF_SIZE];

	for (int i = 0; i < a->n; i++)
		if (vig_audit_append(a->db, NULL, NULL, "load.test", NULL, NULL, NULL, NULL, NULL,
				     NULL, err) != VIG_OK)
			a->failures++;
	return NULL;
}

/* Appends from several threads share the one connection and keep the chain intact. */
static void test_concurrent_appends(void **state)
{
	struct fx *f = *state;
	struct appender a[3];
	pthread_t th[3];
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t rows, bad;

	for (int i = 0; i < 3; i++) {
		a[i] = (struct appender){ f->db, 50, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, append_many, &a[i]), 0);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].failures, 0);
	}
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, NULL, err), VIG_OK);
	assert_int_equal(rows, 2 + 150);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_chain_verifies),
		T(test_bad_appends),
		T(test_triggers_refuse_changes),
		T(test_tamper_changed_row),
		T(test_tamper_changed_ts_and_rehash_is_caught_next),
		T(test_tamper_deleted_row),
		T(test_tamper_deleted_first_row),
		T(test_tamper_reordered_hash),
		T(test_tamper_inserted_row),
		T(test_tamper_swapped_rows),
		T(test_list_scoping),
		T(test_state_changes_audited),
		T(test_concurrent_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
