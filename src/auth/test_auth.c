/*
 * test_auth.c - roles, setup, passwords, users, tenants, tokens, sessions and the tenant
 * boundary of every user/token/tenant function, against a real SQLite database.
 * Argon2 runs at the cheap test cost (vig_auth_config_for_tests) except in the one test that
 * checks the production parameters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/vtime.h"
#include "audit.h"
#include "auth.h"
#include "db.h"

#define SETUP_TOKEN "setup-secret-123"
#define PW "correct horse battery"
#define T0 (1800000000LL * VIG_NS_PER_SEC)

struct fx {
	struct vig_db *db;
	struct vig_principal admin;  /* provider admin */
	struct vig_principal badmin; /* tenant_admin of tenant b */
	int64_t a_user;              /* a customer_viewer in tenant a */
	int64_t b_user;              /* a customer_viewer in tenant b */
	int64_t a_token;             /* a token of tenant a */
};

static struct vig_db *open_db(void)
{
	struct vig_auth_config cfg;
	struct vig_db *db = NULL;
	char err[VIG_ERRBUF_SIZE] = "";

	assert_int_equal(vig_db_open(":memory:", &db, err), VIG_OK);
	vig_auth_config_for_tests(&cfg);
	vig_auth_configure(db, &cfg);
	return db;
}

static void login_as(struct vig_db *db, const char *user, const char *pw,
		     struct vig_principal *who)
{
	struct vig_session s;
	char err[VIG_ERRBUF_SIZE] = "";

	assert_int_equal(vig_auth_login(db, user, pw, "127.0.0.1", T0, &s, who, err), VIG_OK);
}

/* Provider admin, tenants a and b, a tenant_admin of b, a viewer in each, a token in a. */
static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[VIG_ERRBUF_SIZE] = "", tok[VIG_TOKEN_STRLEN];
	int64_t id;

	f->db = open_db();
	assert_int_equal(vig_auth_setup(f->db, SETUP_TOKEN, SETUP_TOKEN, "root", PW, err), VIG_OK);
	login_as(f->db, "root", PW, &f->admin);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "a", "Tenant A", VIG_TENANT_FULL, 0, err),
			 VIG_OK);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "b", "Tenant B", VIG_TENANT_SEMI, 30, err),
			 VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->admin, "b", "bob-admin", PW,
					 VIG_ROLE_TENANT_ADMIN, &id, err), VIG_OK);
	login_as(f->db, "bob-admin", PW, &f->badmin);
	assert_int_equal(vig_user_create(f->db, &f->admin, "a", "alice", PW,
					 VIG_ROLE_CUSTOMER_VIEWER, &f->a_user, err), VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->badmin, "b", "bert", PW,
					 VIG_ROLE_CUSTOMER_VIEWER, &f->b_user, err), VIG_OK);
	assert_int_equal(vig_token_create(f->db, &f->admin, "a", "a-ingest", VIG_ROLE_TENANT_ADMIN,
					  0, T0, tok, &f->a_token, err), VIG_OK);
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

/* ---- roles ------------------------------------------------------------------------------ */

static void test_permission_table(void **state)
{
	enum vig_role r;
	enum vig_perm p;

	for (int i = 0; i < VIG_PERM__COUNT; i++)
		assert_true(vig_role_can(VIG_ROLE_ADMIN, (enum vig_perm)i));
	assert_true(vig_role_can(VIG_ROLE_CUSTOMER_VIEWER, VIG_PERM_EVENTS_READ));
	assert_false(vig_role_can(VIG_ROLE_CUSTOMER_VIEWER, VIG_PERM_ALERTS_WRITE));
	assert_false(vig_role_can(VIG_ROLE_CUSTOMER_VIEWER, VIG_PERM_ACTIONS_APPROVE));
	assert_true(vig_role_can(VIG_ROLE_CUSTOMER_APPROVER, VIG_PERM_ACTIONS_APPROVE));
	assert_false(vig_role_can(VIG_ROLE_CUSTOMER_APPROVER, VIG_PERM_ACTIONS_REQUEST));
	assert_true(vig_role_can(VIG_ROLE_TIER1, VIG_PERM_ALERTS_WRITE));
	assert_false(vig_role_can(VIG_ROLE_TIER1, VIG_PERM_ACTIONS_REQUEST));
	assert_true(vig_role_can(VIG_ROLE_TIER2, VIG_PERM_ACTIONS_REQUEST));
	assert_false(vig_role_can(VIG_ROLE_TIER2, VIG_PERM_RULES_WRITE));
	assert_true(vig_role_can(VIG_ROLE_TIER3, VIG_PERM_RULES_WRITE));
	assert_true(vig_role_can(VIG_ROLE_TIER3, VIG_PERM_AUDIT_READ));
	assert_false(vig_role_can(VIG_ROLE_TIER3, VIG_PERM_USERS_WRITE));
	assert_true(vig_role_can(VIG_ROLE_DETECTION_ENGINEER, VIG_PERM_RULES_WRITE));
	assert_false(vig_role_can(VIG_ROLE_DETECTION_ENGINEER, VIG_PERM_ACTIONS_REQUEST));
	assert_true(vig_role_can(VIG_ROLE_TENANT_ADMIN, VIG_PERM_USERS_WRITE));
	assert_false(vig_role_can(VIG_ROLE_TENANT_ADMIN, VIG_PERM_TENANTS_WRITE));
	assert_false(vig_role_can((enum vig_role)99, VIG_PERM_EVENTS_READ));
	assert_false(vig_role_can(VIG_ROLE_ADMIN, (enum vig_perm)99));

	for (int i = 0; i < VIG_ROLE__COUNT; i++) {
		assert_true(vig_role_parse(vig_role_name((enum vig_role)i), &r));
		assert_int_equal(r, i);
		assert_true(vig_role_within((enum vig_role)i, VIG_ROLE_ADMIN));
	}
	for (int i = 0; i < VIG_PERM__COUNT; i++) {
		assert_true(vig_perm_parse(vig_perm_name((enum vig_perm)i), &p));
		assert_int_equal(p, i);
	}
	assert_false(vig_role_parse("root", &r));
	assert_false(vig_role_parse(NULL, &r));
	assert_false(vig_perm_parse("alerts:delete", &p));
	assert_string_equal(vig_perm_name(VIG_PERM_SETTINGS_WRITE), "settings:write");
	assert_true(vig_role_within(VIG_ROLE_CUSTOMER_VIEWER, VIG_ROLE_TENANT_ADMIN));
	assert_true(vig_role_within(VIG_ROLE_CUSTOMER_APPROVER, VIG_ROLE_TENANT_ADMIN));
	assert_false(vig_role_within(VIG_ROLE_ADMIN, VIG_ROLE_TENANT_ADMIN));
	assert_false(vig_role_within(VIG_ROLE_TIER3, VIG_ROLE_TIER2));
	assert_true(vig_role_is_provider(VIG_ROLE_DETECTION_ENGINEER));
	assert_false(vig_role_is_provider(VIG_ROLE_TENANT_ADMIN));
}

/* docs/security.md shows the permission table; it must match the code. */
static void test_permission_doc_matches(void **state)
{
	const char *src = getenv("VIG_SRC_DIR");
	char path[512], line[1024];
	int rows = 0;
	FILE *fp;

	if (!src)
		skip();
	snprintf(path, sizeof(path), "%s/docs/security.md", src);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		char name[64];
		enum vig_perm p;
		const char *cell;
		int r = 0;

		if (sscanf(line, "| `%63[^`]` |", name) != 1 || !vig_perm_parse(name, &p))
			continue;
		rows++;
		cell = strchr(line + 2, '|');
		while (cell && r < VIG_ROLE__COUNT) {
			const char *next = strchr(cell + 1, '|');

			if (!next)
				break;
			bool marked = memchr(cell + 1, 'x', (size_t)(next - cell - 1)) != NULL;

			if (marked != vig_role_can((enum vig_role)r, p))
				fail_msg("docs/security.md: %s for %s is wrong", name,
					 vig_role_name((enum vig_role)r));
			r++;
			cell = next;
		}
		assert_int_equal(r, VIG_ROLE__COUNT);
	}
	fclose(fp);
	assert_int_equal(rows, VIG_PERM__COUNT);
}

static void test_principal_scope(void **state)
{
	struct fx *f = *state;
	struct vig_principal sys;
	const char *scope = "x";
	char err[VIG_ERRBUF_SIZE] = "";

	assert_true(f->admin.provider);
	assert_false(f->badmin.provider);
	assert_string_equal(f->badmin.tenant, "b");
	assert_true(vig_principal_can_access_tenant(&f->admin, "a"));
	assert_true(vig_principal_can_access_tenant(&f->badmin, "b"));
	assert_false(vig_principal_can_access_tenant(&f->badmin, "a"));
	assert_false(vig_principal_can_access_tenant(&f->badmin, ""));
	assert_false(vig_principal_can_access_tenant(NULL, "b"));
	assert_int_equal(vig_principal_scope(&f->admin, NULL, &scope, err), VIG_OK);
	assert_null(scope);
	assert_int_equal(vig_principal_scope(&f->admin, "a", &scope, err), VIG_OK);
	assert_string_equal(scope, "a");
	assert_int_equal(vig_principal_scope(&f->badmin, "", &scope, err), VIG_OK);
	assert_string_equal(scope, "b");
	assert_int_equal(vig_principal_scope(&f->badmin, "a", &scope, err), VIG_EPERM);
	vig_principal_system(&sys);
	assert_true(sys.provider);
	assert_string_equal(sys.username, "system");
}

/* ---- database --------------------------------------------------------------------------- */

static bool column_not_null(sqlite3 *c, const char *table, const char *col)
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	bool found = false;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (strcmp((const char *)sqlite3_column_text(st, 1), col) == 0)
			found = sqlite3_column_int(st, 3) == 1;
	sqlite3_finalize(st);
	return found;
}

static void test_db_schema(void **state)
{
	static const char *const tenant_tables[] = { "users", "api_tokens", "settings", "audit_log",
						     "agents", "assets", "rules", "alerts",
						     "incidents" };
	char path[] = "/tmp/vig-auth-test-XXXXXX", file[64], aux[96], err[VIG_ERRBUF_SIZE] = "";
	struct vig_db *db = NULL;
	sqlite3 *c, *raw;
	sqlite3_stmt *st = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(file, sizeof(file), "%s", path);
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	assert_int_equal(vig_db_schema_version(db), VIG_DB_SCHEMA_VERSION);
	c = vig_db_lock(db);
	for (size_t i = 0; i < VIG_ARRAY_LEN(tenant_tables); i++)
		assert_true(column_not_null(c, tenant_tables[i], "tenant_id"));
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA foreign_keys", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	/* A user in a missing tenant is refused by the foreign key. */
	assert_int_not_equal(sqlite3_exec(c, "INSERT INTO users (tenant_id, username, password_hash,"
					  " role, created) VALUES ('nope', 'x', 'h', 'tier1', 0)",
					  NULL, NULL, NULL), SQLITE_OK);
	vig_db_unlock(db);
	vig_db_close(db);

	/* Reopening keeps the data and does not migrate twice. */
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	assert_true(vig_auth_setup_needed(db));
	vig_db_close(db);

	/* A newer schema than this build knows is refused. */
	assert_int_equal(sqlite3_open(file, &raw), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
	assert_int_equal(vig_db_open(file, &db, err), VIG_EUNSUPPORTED);
	assert_null(db);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(vig_db_open("", &db, err), VIG_EINVAL);
	assert_int_equal(vig_db_open("/nonexistent-dir/x/y.db", &db, err), VIG_EIO);
	unlink(file);
	snprintf(aux, sizeof(aux), "%s-wal", file);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", file);
	unlink(aux);
}

/* ---- setup and passwords ---------------------------------------------------------------- */

static void test_setup_once(void **state)
{
	struct vig_db *db = open_db();
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_user *users;
	struct vig_principal who;
	size_t n;

	assert_true(vig_auth_setup_needed(db));
	assert_int_equal(vig_auth_setup(db, "wrong", SETUP_TOKEN, "root", PW, err), VIG_EAUTH);
	assert_int_equal(vig_auth_setup(db, SETUP_TOKEN, "", "root", PW, err), VIG_EAUTH);
	assert_int_equal(vig_auth_setup(db, "", NULL, "root", PW, err), VIG_EAUTH);
	assert_int_equal(vig_auth_setup(db, NULL, SETUP_TOKEN, "root", PW, err), VIG_EAUTH);
	assert_int_equal(vig_auth_setup(db, SETUP_TOKEN, SETUP_TOKEN, "root", "short", err), VIG_EINVAL);
	assert_non_null(strstr(err, "shorter"));
	assert_int_equal(vig_auth_setup(db, SETUP_TOKEN, SETUP_TOKEN, "bad name", PW, err), VIG_EINVAL);
	assert_true(vig_auth_setup_needed(db));
	assert_int_equal(vig_auth_setup(db, SETUP_TOKEN, SETUP_TOKEN, "root", PW, err), VIG_OK);
	assert_false(vig_auth_setup_needed(db));
	assert_int_equal(vig_auth_setup(db, SETUP_TOKEN, SETUP_TOKEN, "root2", PW, err), VIG_ECONFLICT);
	login_as(db, "root", PW, &who);
	assert_int_equal(who.role, VIG_ROLE_ADMIN);
	assert_string_equal(who.tenant, VIG_DB_PROVIDER_TENANT);
	assert_true(who.provider);
	assert_int_equal(vig_user_list(db, &who, NULL, &users, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	free(users);
	vig_db_close(db);
}

static void test_password_hash_verify(void **state)
{
	struct vig_db *db = open_db();
	char h1[VIG_PASSWORD_HASH_MAX], h2[VIG_PASSWORD_HASH_MAX], err[VIG_ERRBUF_SIZE] = "";
	char longpw[VIG_PASSWORD_MAX_LEN + 2];
	struct vig_auth_config cfg;

	assert_int_equal(vig_auth_password_hash(db, PW, h1, err), VIG_OK);
	assert_int_equal(vig_auth_password_hash(db, PW, h2, err), VIG_OK);
	assert_string_not_equal(h1, h2); /* random salt */
	assert_true(strncmp(h1, "$argon2id$", 10) == 0);
	assert_true(vig_auth_password_verify(h1, PW));
	assert_false(vig_auth_password_verify(h1, "correct horse battery!"));
	assert_false(vig_auth_password_verify(h1, ""));
	assert_false(vig_auth_password_verify("$2y$10$notargon", PW));
	assert_false(vig_auth_password_verify(NULL, PW));
	assert_int_equal(vig_auth_password_hash(db, "123456789", h1, err), VIG_EINVAL);
	memset(longpw, 'x', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	assert_int_equal(vig_auth_password_hash(db, longpw, h1, err), VIG_EINVAL);

	/* The production parameters are the ones encoded in the hash. */
	vig_auth_config_default(&cfg);
	vig_auth_configure(db, &cfg);
	assert_int_equal(vig_auth_password_hash(db, PW, h1, err), VIG_OK);
	assert_non_null(strstr(h1, "$m=19456,t=3,p=1$"));
	assert_true(vig_auth_password_verify(h1, PW));
	vig_db_close(db);
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void test_session_and_csrf(void **state)
{
	struct fx *f = *state;
	struct vig_principal who;
	struct vig_session s, s2;
	char csrf[VIG_SESSION_STRLEN], err[VIG_ERRBUF_SIZE] = "";
	int64_t ttl = 12 * 3600 * VIG_NS_PER_SEC;

	assert_int_equal(vig_auth_login(f->db, "alice", PW, "10.0.0.1", T0, &s, &who, err), VIG_OK);
	assert_int_equal(strlen(s.id), 64);
	assert_int_equal(s.expires, T0 + ttl);
	assert_string_equal(who.tenant, "a");
	assert_int_equal(vig_auth_session(f->db, s.id, T0 + 1, &who, csrf), VIG_OK);
	assert_string_equal(csrf, s.csrf);
	assert_int_equal(who.user_id, f->a_user);
	assert_int_equal(who.role, VIG_ROLE_CUSTOMER_VIEWER);
	assert_false(who.provider);

	assert_true(vig_auth_csrf_ok(csrf, s.csrf));
	assert_false(vig_auth_csrf_ok(csrf, NULL));
	assert_false(vig_auth_csrf_ok(NULL, csrf));
	assert_false(vig_auth_csrf_ok("", ""));
	assert_false(vig_auth_csrf_ok(csrf, "abc"));
	s2 = s;
	s2.csrf[5] = s2.csrf[5] == 'a' ? 'b' : 'a';
	assert_false(vig_auth_csrf_ok(csrf, s2.csrf));

	/* Sliding expiry: used at 11 h, still valid at 22 h, gone 12 h after the last use. */
	assert_int_equal(vig_auth_session(f->db, s.id, T0 + ttl - 3600 * VIG_NS_PER_SEC, &who, NULL),
			 VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, T0 + 2 * ttl - 2 * 3600 * VIG_NS_PER_SEC,
					  &who, NULL), VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, T0 + 4 * ttl, &who, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_session(f->db, s.id, T0 + 1, &who, NULL), VIG_EAUTH); /* deleted */

	/* Purge: an idle session past its expiry goes, a live one stays. */
	{
		struct vig_session live, idle;
		uint64_t removed = 99;
		assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, T0, &idle, &who, err), VIG_OK);
		assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, T0 + ttl, &live, &who, err), VIG_OK);
		/* idle, and any session of the earlier steps that expired by then */
		assert_int_equal(vig_auth_sessions_purge(f->db, T0 + ttl + 1, &removed, err), VIG_OK);
		assert_true(removed >= 1);
		assert_int_equal(vig_auth_session(f->db, live.id, T0 + ttl + 2, &who, NULL), VIG_OK);
		assert_int_equal(vig_auth_sessions_purge(f->db, T0 + ttl + 3, &removed, err), VIG_OK);
		assert_int_equal(removed, 0);
	}

	/* Malformed and unknown ids, logout. */
	assert_int_equal(vig_auth_session(f->db, "abc", T0, &who, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_session(f->db, NULL, T0, &who, NULL), VIG_EAUTH);
	memset(s2.id, 'a', 64);
	assert_int_equal(vig_auth_session(f->db, s2.id, T0, &who, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, vig_time_now(), &s, NULL, err), VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, vig_time_now(), &who, NULL), VIG_OK);
	assert_int_equal(vig_auth_logout(f->db, s.id, err), VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, vig_time_now(), &who, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_logout(f->db, s.id, err), VIG_OK);

	/* Wrong password, unknown user, junk input: one answer. */
	assert_int_equal(vig_auth_login(f->db, "alice", "wrong password", NULL, T0, &s, &who, err),
			 VIG_EAUTH);
	assert_string_equal(err, "invalid username or password");
	assert_int_equal(vig_auth_login(f->db, "nobody", PW, NULL, T0, &s, &who, err), VIG_EAUTH);
	assert_string_equal(err, "invalid username or password");
	assert_int_equal(vig_auth_login(f->db, "bad name!", PW, NULL, T0, &s, &who, err), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, NULL, NULL, NULL, T0, &s, &who, err), VIG_EAUTH);
}

static void test_lockout(void **state)
{
	struct fx *f = *state;
	struct vig_session s;
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t t = T0;

	for (int i = 0; i < 5; i++)
		assert_int_equal(vig_auth_login(f->db, "alice", "not the password", NULL, t, &s, NULL,
						err), VIG_EAUTH);
	/* Locked for 30 s: even the right password is refused. */
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, t + 1, &s, NULL, err), VIG_EBUSY);
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, t + 29 * VIG_NS_PER_SEC, &s, NULL,
					err), VIG_EBUSY);
	/* After the lock, another failure locks for twice as long. */
	t += 31 * VIG_NS_PER_SEC;
	assert_int_equal(vig_auth_login(f->db, "alice", "not the password", NULL, t, &s, NULL, err),
			 VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, t + 45 * VIG_NS_PER_SEC, &s, NULL,
					err), VIG_EBUSY);
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, t + 61 * VIG_NS_PER_SEC, &s, NULL,
					err), VIG_OK);
	/* Success reset the counter: one failure does not lock. */
	t += 120 * VIG_NS_PER_SEC;
	assert_int_equal(vig_auth_login(f->db, "alice", "not the password", NULL, t, &s, NULL, err),
			 VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "alice", PW, NULL, t + 1, &s, NULL, err), VIG_OK);
	/* Another user is not affected. */
	assert_int_equal(vig_auth_login(f->db, "bert", PW, NULL, T0 + 1, &s, NULL, err), VIG_OK);
}

/* ---- tokens ----------------------------------------------------------------------------- */

static void test_tokens(void **state)
{
	struct fx *f = *state;
	char tok[VIG_TOKEN_STRLEN], tok2[VIG_TOKEN_STRLEN], err[VIG_ERRBUF_SIZE] = "";
	struct vig_principal who;
	struct vig_token *list;
	int64_t id, id2;
	size_t n;

	assert_int_equal(vig_token_create(f->db, &f->badmin, NULL, "ci", VIG_ROLE_CUSTOMER_VIEWER,
					  T0 + 3600 * VIG_NS_PER_SEC, T0, tok, &id, err), VIG_OK);
	assert_int_equal(strlen(tok), VIG_TOKEN_STRLEN - 1);
	assert_true(strncmp(tok, "vgt_", 4) == 0);
	assert_int_equal(vig_auth_token(f->db, tok, T0 + 1, &who), VIG_OK);
	assert_int_equal(who.token_id, id);
	assert_int_equal(who.user_id, f->badmin.user_id);
	assert_string_equal(who.tenant, "b");
	assert_int_equal(who.role, VIG_ROLE_CUSTOMER_VIEWER);
	assert_false(who.provider);

	/* last_used is written at most once a minute. */
	assert_int_equal(vig_token_list(f->db, &f->badmin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].last_used, T0 + 1);
	assert_string_equal(list[0].name, "ci");
	free(list);
	assert_int_equal(vig_auth_token(f->db, tok, T0 + 30 * VIG_NS_PER_SEC, &who), VIG_OK);
	assert_int_equal(vig_token_list(f->db, &f->badmin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(list[0].last_used, T0 + 1);
	free(list);
	assert_int_equal(vig_auth_token(f->db, tok, T0 + 90 * VIG_NS_PER_SEC, &who), VIG_OK);
	assert_int_equal(vig_token_list(f->db, &f->badmin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(list[0].last_used, T0 + 90 * VIG_NS_PER_SEC);
	free(list);

	/* Expiry. */
	assert_int_equal(vig_auth_token(f->db, tok, T0 + 3600 * VIG_NS_PER_SEC, &who), VIG_EAUTH);
	assert_int_equal(vig_token_create(f->db, &f->badmin, NULL, "old", VIG_ROLE_CUSTOMER_VIEWER,
					  T0 - 1, T0, tok2, NULL, err), VIG_EINVAL);

	/* Revocation (idempotent). */
	assert_int_equal(vig_token_create(f->db, &f->badmin, "b", "ci2", VIG_ROLE_CUSTOMER_APPROVER, 0,
					  T0, tok2, &id2, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_OK);
	assert_int_equal(vig_token_revoke(f->db, &f->badmin, id2, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_EAUTH);
	assert_int_equal(vig_token_revoke(f->db, &f->badmin, id2, err), VIG_OK);
	assert_int_equal(vig_token_revoke(f->db, &f->badmin, 9999, err), VIG_ENOTFOUND);

	/* Malformed or unknown. */
	assert_int_equal(vig_auth_token(f->db, NULL, T0, &who), VIG_EAUTH);
	assert_int_equal(vig_auth_token(f->db, "vgt_", T0, &who), VIG_EAUTH);
	assert_int_equal(vig_auth_token(f->db, "Bearer xyz", T0, &who), VIG_EAUTH);
	tok2[10] = tok2[10] == 'a' ? 'b' : 'a';
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_EAUTH);
	tok2[10] = 'G';
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_EAUTH);

	/* Tokens cannot exceed the creator's role or land in the wrong tenant kind. */
	assert_int_equal(vig_token_create(f->db, &f->badmin, "b", "x", VIG_ROLE_ADMIN, 0, T0, tok2,
					  NULL, err), VIG_EINVAL);
	assert_int_equal(vig_token_create(f->db, &f->admin, "default", "x", VIG_ROLE_TIER2, 0, T0,
					  tok2, NULL, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_OK);
	assert_true(who.provider);
	assert_int_equal(vig_token_create(f->db, &who, "default", "y", VIG_ROLE_TIER2, 0, T0, tok2,
					  NULL, err), VIG_EPERM); /* tier2 lacks tokens:write */
	assert_int_equal(vig_token_create(f->db, &f->admin, "b", "x", VIG_ROLE_TIER1, 0, T0, tok2,
					  NULL, err), VIG_EINVAL);
	assert_int_equal(vig_token_create(f->db, &f->badmin, "b", "", VIG_ROLE_CUSTOMER_VIEWER, 0,
					  T0, tok2, NULL, err), VIG_EINVAL);
	assert_string_equal(tok2, "");
	assert_int_equal(vig_token_create(f->db, &f->badmin, "b", "x", (enum vig_role)77, 0, T0,
					  tok2, NULL, err), VIG_EINVAL);

	/* A token of a disabled user stops working. */
	assert_int_equal(vig_token_create(f->db, &f->badmin, "b", "mine", VIG_ROLE_CUSTOMER_VIEWER,
					  0, T0, tok2, NULL, err), VIG_OK);
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, f->badmin.user_id, true, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_EAUTH);
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, f->badmin.user_id, false, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok2, T0, &who), VIG_OK);
}

/* ---- users and tenants ------------------------------------------------------------------ */

static void test_user_lifecycle(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", tok[VIG_TOKEN_STRLEN];
	struct vig_principal who, tw;
	struct vig_session s;
	struct vig_user u;
	int64_t id, id2;

	assert_int_equal(vig_user_create(f->db, &f->admin, NULL, "tina", PW, VIG_ROLE_TIER1, &id, err),
			 VIG_OK);
	assert_int_equal(vig_user_create(f->db, &f->admin, NULL, "tina", PW, VIG_ROLE_TIER1, NULL, err),
			 VIG_EEXIST);
	assert_int_equal(vig_user_create(f->db, &f->admin, "nope", "x1", PW, VIG_ROLE_TIER1, NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_user_create(f->db, &f->admin, NULL, "x y", PW, VIG_ROLE_TIER1, NULL, err),
			 VIG_EINVAL);
	assert_int_equal(vig_user_create(f->db, &f->admin, NULL, "x1", "short", VIG_ROLE_TIER1, NULL,
					 err), VIG_EINVAL);
	assert_int_equal(vig_user_get(f->db, &f->admin, id, &u, err), VIG_OK);
	assert_string_equal(u.username, "tina");
	assert_int_equal(u.role, VIG_ROLE_TIER1);
	assert_int_equal(u.last_login, 0);
	login_as(f->db, "tina", PW, &who);
	assert_true(who.provider);
	/* tier1 sees itself but cannot read other users. */
	assert_int_equal(vig_user_get(f->db, &who, id, &u, err), VIG_OK);
	assert_int_equal(u.last_login, T0);
	assert_int_equal(vig_user_get(f->db, &who, f->a_user, &u, err), VIG_EPERM);

	/* Role change ends sessions and revokes the user's tokens. */
	assert_int_equal(vig_auth_login(f->db, "tina", PW, NULL, T0, &s, NULL, err), VIG_OK);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, id, VIG_ROLE_TIER3, err), VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, T0, &who, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "tina", PW, NULL, T0, &s, &who, err), VIG_OK);
	assert_int_equal(who.role, VIG_ROLE_TIER3);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, id, (enum vig_role)77, err), VIG_EINVAL);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, 12345, VIG_ROLE_TIER1, err),
			 VIG_ENOTFOUND);

	/* Self password change without users:write; old password stops working. */
	assert_int_equal(vig_user_set_password(f->db, &who, id, "a brand new secret", err), VIG_OK);
	assert_int_equal(vig_auth_login(f->db, "tina", PW, NULL, T0, &s, NULL, err), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "tina", "a brand new secret", NULL, T0, &s, &who, err),
			 VIG_OK);
	assert_int_equal(vig_user_set_password(f->db, &who, f->a_user, "a brand new secret", err),
			 VIG_EPERM);

	/* Disabled users cannot log in; deleting removes their tokens. */
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, id, true, err), VIG_OK);
	assert_int_equal(vig_auth_session(f->db, s.id, T0, &tw, NULL), VIG_EAUTH);
	assert_int_equal(vig_auth_login(f->db, "tina", "a brand new secret", NULL, T0, &s, NULL, err),
			 VIG_EAUTH);
	assert_int_equal(vig_user_create(f->db, &f->admin, "a", "temp", PW, VIG_ROLE_TENANT_ADMIN,
					 &id2, err), VIG_OK);
	login_as(f->db, "temp", PW, &tw);
	assert_int_equal(vig_token_create(f->db, &tw, NULL, "t", VIG_ROLE_CUSTOMER_VIEWER, 0, T0, tok,
					  NULL, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok, T0, &who), VIG_OK);
	assert_int_equal(vig_user_delete(f->db, &f->admin, id2, err), VIG_OK);
	assert_int_equal(vig_auth_token(f->db, tok, T0, &who), VIG_EAUTH);
	assert_int_equal(vig_user_get(f->db, &f->admin, id2, &u, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_delete(f->db, &f->admin, id2, err), VIG_ENOTFOUND);
}

static void test_last_admin(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_principal a2;
	int64_t id2;

	assert_int_equal(vig_user_delete(f->db, &f->admin, f->admin.user_id, err), VIG_ECONFLICT);
	assert_int_equal(vig_user_set_disabled(f->db, &f->admin, f->admin.user_id, true, err),
			 VIG_ECONFLICT);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, f->admin.user_id, VIG_ROLE_TIER3, err),
			 VIG_ECONFLICT);
	assert_int_equal(vig_user_create(f->db, &f->admin, NULL, "root2", PW, VIG_ROLE_ADMIN, &id2,
					 err), VIG_OK);
	login_as(f->db, "root2", PW, &a2);
	assert_int_equal(vig_user_set_role(f->db, &f->admin, f->admin.user_id, VIG_ROLE_TIER3, err),
			 VIG_OK);
	assert_int_equal(vig_user_delete(f->db, &a2, f->admin.user_id, err), VIG_OK);
	assert_int_equal(vig_user_set_disabled(f->db, &a2, id2, true, err), VIG_ECONFLICT);
}

static void test_tenants(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", big[200];
	struct vig_tenant_update u = { NULL, -1, -1 };
	struct vig_tenant t, *list;
	size_t n;

	assert_true(vig_tenant_id_valid("acme-corp-1"));
	assert_false(vig_tenant_id_valid("Acme"));
	assert_false(vig_tenant_id_valid(""));
	assert_false(vig_tenant_id_valid("a_b"));
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(vig_tenant_id_valid(big));
	big[63] = '\0';
	assert_true(vig_tenant_id_valid(big));
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "Bad", NULL, VIG_TENANT_FULL, 0, err),
			 VIG_EINVAL);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "a", NULL, VIG_TENANT_FULL, 0, err),
			 VIG_EEXIST);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "c", NULL, VIG_TENANT_FULL, -5, err),
			 VIG_EINVAL);
	assert_int_equal(vig_tenant_create(f->db, &f->admin, "c", NULL, (enum vig_tenant_mode)7, 0,
					   err), VIG_EINVAL);
	assert_int_equal(vig_tenant_get(f->db, &f->admin, "b", &t, err), VIG_OK);
	assert_string_equal(t.name, "Tenant B");
	assert_int_equal(t.mode, VIG_TENANT_SEMI);
	assert_int_equal(t.retention_days, 30);
	assert_false(t.is_provider);
	assert_int_equal(vig_tenant_get(f->db, &f->admin, "default", &t, err), VIG_OK);
	assert_true(t.is_provider);
	assert_int_equal(vig_tenant_list(f->db, &f->admin, &list, &n, err), VIG_OK);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].id, "a");
	free(list);

	u.name = "Tenant B Ltd";
	u.retention_days = 365;
	assert_int_equal(vig_tenant_update(f->db, &f->admin, "b", &u, err), VIG_OK);
	assert_int_equal(vig_tenant_get(f->db, &f->admin, "b", &t, err), VIG_OK);
	assert_string_equal(t.name, "Tenant B Ltd");
	assert_int_equal(t.retention_days, 365);
	assert_int_equal(t.mode, VIG_TENANT_SEMI);
	u.retention_days = 0;
	assert_int_equal(vig_tenant_update(f->db, &f->admin, "b", &u, err), VIG_EINVAL);
	u.retention_days = -1;
	u.name = "bad\nname";
	assert_int_equal(vig_tenant_update(f->db, &f->admin, "b", &u, err), VIG_EINVAL);
	u.name = NULL;
	assert_int_equal(vig_tenant_update(f->db, &f->admin, "zz", &u, err), VIG_ENOTFOUND);
}

/* Every function, called by the tenant_admin of b against tenant a, fails. */
static void test_cross_tenant_denied(void **state)
{
	struct fx *f = *state;
	struct vig_principal *b = &f->badmin, viewer;
	struct vig_tenant_update tu = { "x", -1, -1 };
	char err[VIG_ERRBUF_SIZE] = "", tok[VIG_TOKEN_STRLEN];
	struct vig_user u, *users;
	struct vig_tenant t, *tenants;
	struct vig_token *tokens;
	size_t n;

	/* users */
	assert_int_equal(vig_user_create(f->db, b, "a", "evil", PW, VIG_ROLE_CUSTOMER_VIEWER, NULL,
					 err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_create(f->db, b, "default", "evil", PW, VIG_ROLE_TENANT_ADMIN,
					 NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_create(f->db, b, "b", "evil", PW, VIG_ROLE_ADMIN, NULL, err),
			 VIG_EINVAL);
	assert_int_equal(vig_user_get(f->db, b, f->a_user, &u, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_get(f->db, b, f->admin.user_id, &u, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_set_role(f->db, b, f->a_user, VIG_ROLE_CUSTOMER_APPROVER, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_user_set_password(f->db, b, f->a_user, "pwned by bob!", err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_user_set_disabled(f->db, b, f->a_user, true, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_delete(f->db, b, f->a_user, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_delete(f->db, b, f->admin.user_id, err), VIG_ENOTFOUND);
	assert_int_equal(vig_user_list(f->db, b, "a", &users, &n, err), VIG_EPERM);
	assert_int_equal(vig_user_list(f->db, b, NULL, &users, &n, err), VIG_OK);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(users[i].tenant, "b");
	assert_int_equal(n, 2);
	free(users);
	/* ... but b's own users are manageable. */
	assert_int_equal(vig_user_set_role(f->db, b, f->b_user, VIG_ROLE_CUSTOMER_APPROVER, err),
			 VIG_OK);
	assert_int_equal(vig_user_set_role(f->db, b, f->b_user, VIG_ROLE_TIER2, err), VIG_EINVAL);

	/* tenants */
	assert_int_equal(vig_tenant_create(f->db, b, "c", NULL, VIG_TENANT_FULL, 0, err), VIG_EPERM);
	assert_int_equal(vig_tenant_update(f->db, b, "b", &tu, err), VIG_EPERM);
	assert_int_equal(vig_tenant_update(f->db, b, "a", &tu, err), VIG_EPERM);
	assert_int_equal(vig_tenant_get(f->db, b, "a", &t, err), VIG_ENOTFOUND);
	assert_int_equal(vig_tenant_get(f->db, b, "b", &t, err), VIG_OK);
	assert_int_equal(vig_tenant_list(f->db, b, &tenants, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(tenants[0].id, "b");
	free(tenants);

	/* tokens */
	assert_int_equal(vig_token_create(f->db, b, "a", "evil", VIG_ROLE_CUSTOMER_VIEWER, 0, T0, tok,
					  NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_token_revoke(f->db, b, f->a_token, err), VIG_ENOTFOUND);
	assert_int_equal(vig_token_list(f->db, b, "a", &tokens, &n, err), VIG_EPERM);
	assert_int_equal(vig_token_list(f->db, b, NULL, &tokens, &n, err), VIG_OK);
	assert_int_equal(n, 0);
	free(tokens);
	assert_int_equal(vig_token_list(f->db, &f->admin, NULL, &tokens, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	free(tokens);

	/* A viewer lacks the permissions altogether. */
	login_as(f->db, "bert", PW, &viewer);
	assert_int_equal(vig_user_list(f->db, &viewer, NULL, &users, &n, err), VIG_EPERM);
	assert_int_equal(vig_user_create(f->db, &viewer, "b", "x2", PW, VIG_ROLE_CUSTOMER_VIEWER,
					 NULL, err), VIG_EPERM);
	assert_int_equal(vig_token_list(f->db, &viewer, NULL, &tokens, &n, err), VIG_EPERM);
	assert_int_equal(vig_token_create(f->db, &viewer, NULL, "x", VIG_ROLE_CUSTOMER_VIEWER, 0, T0,
					  tok, NULL, err), VIG_EPERM);
	assert_int_equal(vig_user_delete(f->db, &viewer, f->b_user, err), VIG_EPERM);
	assert_int_equal(vig_user_delete(f->db, NULL, f->b_user, err), VIG_EPERM);
	assert_int_equal(vig_tenant_list(f->db, NULL, &tenants, &n, err), VIG_EPERM);
}

/* A tenant_admin that lives in the provider tenant is still not a provider principal. */
static void test_provider_tenant_admin(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_principal pa;
	struct vig_user u;
	int64_t id;

	assert_int_equal(vig_user_create(f->db, &f->admin, "default", "padmin", PW,
					 VIG_ROLE_TENANT_ADMIN, NULL, err), VIG_OK);
	login_as(f->db, "padmin", PW, &pa);
	assert_false(pa.provider);
	assert_int_equal(vig_user_create(f->db, &pa, NULL, "analyst", PW, VIG_ROLE_TIER1, NULL, err),
			 VIG_EPERM);
	assert_int_equal(vig_user_create(f->db, &pa, NULL, "viewer2", PW, VIG_ROLE_CUSTOMER_VIEWER,
					 &id, err), VIG_OK);
	assert_int_equal(vig_user_get(f->db, &pa, f->admin.user_id, &u, err), VIG_OK);
	assert_int_equal(vig_user_set_password(f->db, &pa, f->admin.user_id, "takeover attempt", err),
			 VIG_EPERM);
	assert_int_equal(vig_user_delete(f->db, &pa, f->admin.user_id, err), VIG_EPERM);
	assert_int_equal(vig_user_get(f->db, &pa, f->a_user, &u, err), VIG_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_permission_table),
		cmocka_unit_test(test_permission_doc_matches),
		cmocka_unit_test_setup_teardown(test_principal_scope, fx_setup, fx_teardown),
		cmocka_unit_test(test_db_schema),
		cmocka_unit_test(test_setup_once),
		cmocka_unit_test(test_password_hash_verify),
		cmocka_unit_test_setup_teardown(test_session_and_csrf, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lockout, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tokens, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_user_lifecycle, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_last_admin, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tenants, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cross_tenant_denied, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_provider_tenant_admin, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
