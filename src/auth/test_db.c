/*
 * test_db.c - the control database's migrations and statement helpers, against real SQLite
 * files: migration 4 on a fresh file and on a version-3 file whose module tables were made the
 * old way (by the modules at open, with and without agent_actions.upload_total), and the
 * vig_db_stmt / run / row / int / text / rows / transaction helpers with their failures.
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

#include "db.h"

#define SIG_MAX (64 * 1024)

/* The tables migration 4 takes over from the modules, as a version-3 file holds them: created
 * by the fleet, the alert policy, data reduction, intel and the source registry when they
 * opened. OLD_ACTIONS is agent_actions before upload_total existed. */
static const char OLD_MODULE_TABLES[] =
	"CREATE TABLE enroll_tokens (id INTEGER PRIMARY KEY,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL,"
	" token_hash TEXT NOT NULL UNIQUE, uses INTEGER NOT NULL DEFAULT 1,"
	" used INTEGER NOT NULL DEFAULT 0, expires INTEGER NOT NULL, created INTEGER NOT NULL,"
	" created_by TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX enroll_tokens_tenant ON enroll_tokens(tenant_id, id);"
	"CREATE INDEX agents_last_seen ON agents(tenant_id, last_seen);"
	"CREATE TABLE agent_inventory (agent_id TEXT PRIMARY KEY REFERENCES agents(id),"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id), doc TEXT NOT NULL, hash TEXT NOT NULL,"
	" changed INTEGER NOT NULL, received INTEGER NOT NULL);"
	"CREATE INDEX agent_inventory_tenant ON agent_inventory(tenant_id);"
	"CREATE TABLE suppressions (id INTEGER PRIMARY KEY,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id), rule_id TEXT NOT NULL DEFAULT '',"
	" conditions TEXT NOT NULL, until INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" created_by TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX suppressions_tenant ON suppressions(tenant_id, until);"
	"CREATE TABLE rule_exceptions (id INTEGER PRIMARY KEY,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id), rule_id TEXT NOT NULL,"
	" conditions TEXT NOT NULL, until INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE INDEX rule_exceptions_rule ON rule_exceptions(tenant_id, rule_id);"
	"CREATE TABLE reduction_policies ("
	" id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" action TEXT NOT NULL CHECK (action IN ('drop', 'keep')), query TEXT NOT NULL,"
	" description TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
	"CREATE TABLE reduction_evidence ("
	" id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" created INTEGER NOT NULL, count INTEGER NOT NULL, first INTEGER NOT NULL,"
	" last INTEGER NOT NULL, raw_bytes INTEGER NOT NULL, truncated INTEGER NOT NULL,"
	" data BLOB NOT NULL);"
	"CREATE INDEX reduction_evidence_created ON reduction_evidence(created);"
	"CREATE TABLE intel_feeds (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE, kind TEXT NOT NULL,"
	" format TEXT NOT NULL DEFAULT 'auto', url TEXT NOT NULL, refresh_s INTEGER NOT NULL,"
	" enabled INTEGER NOT NULL DEFAULT 1, insecure INTEGER NOT NULL DEFAULT 0,"
	" auth_user TEXT, auth_password TEXT, auth_token TEXT,"
	" status TEXT NOT NULL DEFAULT 'pending', last_error TEXT, last_refresh INTEGER,"
	" last_success INTEGER, indicator_count INTEGER NOT NULL DEFAULT 0,"
	" malformed INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, reasons TEXT,"
	" added_last TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	"CREATE TABLE log_sources (id INTEGER PRIMARY KEY,"
	" scope TEXT NOT NULL, type TEXT NOT NULL, address TEXT NOT NULL,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" name TEXT NOT NULL DEFAULT '', asset TEXT NOT NULL DEFAULT '',"
	" hostname TEXT NOT NULL DEFAULT '', app TEXT NOT NULL DEFAULT '',"
	" transport TEXT NOT NULL DEFAULT '', silence_after_s INTEGER NOT NULL DEFAULT 0,"
	" first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL DEFAULT 0,"
	" last_received INTEGER NOT NULL DEFAULT 0,"
	" received INTEGER NOT NULL DEFAULT 0, parsed INTEGER NOT NULL DEFAULT 0,"
	" failed INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT NULL DEFAULT 0,"
	" filtered INTEGER NOT NULL DEFAULT 0, merged INTEGER NOT NULL DEFAULT 0,"
	" silent_alert INTEGER NOT NULL DEFAULT 0, error_alert INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(scope, type, address));";

static const char OLD_ACTIONS[] =
	"CREATE TABLE agent_actions (id INTEGER PRIMARY KEY,"
	" tenant_id TEXT NOT NULL REFERENCES tenants(id), agent_id TEXT NOT NULL REFERENCES agents(id),"
	" type TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', reason TEXT,"
	" status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'delivered',"
	"   'succeeded', 'failed', 'cancelled', 'expired')),"
	" requested_by TEXT NOT NULL, created INTEGER NOT NULL,"
	" delivered INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0, result TEXT,"
	" error TEXT, upload_bytes INTEGER NOT NULL DEFAULT 0, file_size INTEGER NOT NULL DEFAULT -1,"
	" file_sha256 TEXT%s);"
	"CREATE INDEX agent_actions_agent ON agent_actions(agent_id, status, id);"
	"CREATE INDEX agent_actions_tenant ON agent_actions(tenant_id, id);"
	"CREATE INDEX agent_actions_status ON agent_actions(status, created);";

/* One row in each of those tables, as the modules would have written them. */
static const char OLD_ROWS[] =
	"INSERT INTO agents (id, tenant_id, hostname, enrolled) VALUES ('ag-1', 'default', 'h1', 1);"
	"INSERT INTO enroll_tokens (tenant_id, name, token_hash, expires, created, created_by)"
	" VALUES ('default', 'tok', 'hash-1', 9, 1, 'root');"
	"INSERT INTO agent_inventory VALUES ('ag-1', 'default', '{}', 'h', 1, 1);"
	"INSERT INTO agent_actions (tenant_id, agent_id, type, requested_by, created)"
	" VALUES ('default', 'ag-1', 'collect_file', 'root', 1);"
	"INSERT INTO suppressions (tenant_id, conditions, until, created_by, created)"
	" VALUES ('default', '{}', 9, 'root', 1);"
	"INSERT INTO rule_exceptions (tenant_id, rule_id, conditions, created_by, created)"
	" VALUES ('default', 'r1', '{}', 'root', 1);"
	"INSERT INTO reduction_policies (tenant_id, action, query, created)"
	" VALUES ('default', 'drop', 'x', 1);"
	"INSERT INTO reduction_evidence VALUES (1, 'default', 1, 1, 1, 1, 1, 0, x'00');"
	"INSERT INTO intel_feeds (name, kind, url, refresh_s, created, updated)"
	" VALUES ('f1', 'csv', 'file:///x', 60, 1, 1);"
	"INSERT INTO log_sources (scope, type, address, tenant_id, first_seen)"
	" VALUES ('s', 'syslog', '10.0.0.1', 'default', 1);";

static const char *const MOVED_TABLES[] = {
	"enroll_tokens", "agent_inventory", "agent_actions", "suppressions", "rule_exceptions",
	"reduction_policies", "reduction_evidence", "intel_feeds", "log_sources",
};

static void tmp_file(char *out, size_t cap)
{
	char path[] = "/tmp/vig-db-test-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	snprintf(out, cap, "%s", path);
}

static void rm_db(const char *file)
{
	char aux[96];

	unlink(file);
	snprintf(aux, sizeof(aux), "%s-wal", file);
	unlink(aux);
	snprintf(aux, sizeof(aux), "%s-shm", file);
	unlink(aux);
}

/* Every table's columns (name, type, not null, default, key) and every index name, one per
 * line, into out: two files with the same text have the same schema. */
static void schema_sig(sqlite3 *c, char *out, size_t cap)
{
	sqlite3_stmt *st = NULL;
	size_t len = 0;

	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(c,
					    "SELECT m.name || '.' || p.name || ' ' || p.type || ' '"
					    " || p.\"notnull\" || ' ' || coalesce(p.dflt_value, '-') || ' '"
					    " || p.pk FROM sqlite_master m, pragma_table_info(m.name) p"
					    " WHERE m.type = 'table' UNION ALL SELECT 'index ' || name"
					    " FROM sqlite_master WHERE type = 'index'"
					    " AND name NOT LIKE 'sqlite_autoindex%' ORDER BY 1",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		len += (size_t)snprintf(out + len, cap - len, "%s\n", sqlite3_column_text(st, 0));
		assert_true(len < cap);
	}
	sqlite3_finalize(st);
}

/* Makes file a version-3 database whose module tables were created the old way. */
static void make_v3(const char *file, bool with_upload_total)
{
	char err[VIG_ERRBUF_SIZE] = "", actions[sizeof(OLD_ACTIONS) + 64];
	struct vig_db *db = NULL;
	sqlite3 *raw;

	/* migrations 1-3 are what a current file holds minus what migration 4 adds */
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	vig_db_close(db);
	assert_int_equal(sqlite3_open(file, &raw), SQLITE_OK);
	for (size_t i = 0; i < sizeof(MOVED_TABLES) / sizeof(MOVED_TABLES[0]); i++) {
		char sql[96];

		snprintf(sql, sizeof(sql), "DROP TABLE %s", MOVED_TABLES[i]);
		assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	assert_int_equal(sqlite3_exec(raw, "DROP INDEX agents_last_seen; PRAGMA user_version = 3",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	/* ... and the modules made their tables when vigild started */
	snprintf(actions, sizeof(actions), OLD_ACTIONS,
		 with_upload_total ? ", upload_total INTEGER NOT NULL DEFAULT -1" : "");
	assert_int_equal(sqlite3_exec(raw, OLD_MODULE_TABLES, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, actions, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(raw, OLD_ROWS, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
}

static void check_upgrade(bool with_upload_total, const char *fresh_sig)
{
	char file[64], err[VIG_ERRBUF_SIZE] = "", *sig = malloc(SIG_MAX);
	struct vig_db *db = NULL;
	sqlite3 *c;

	assert_non_null(sig);
	tmp_file(file, sizeof(file));
	make_v3(file, with_upload_total);
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	assert_int_equal(vig_db_schema_version(db), 4);
	c = vig_db_lock(db);
	schema_sig(c, sig, SIG_MAX);
	assert_string_equal(sig, fresh_sig);
	/* the rows survive, and the old action has the column's default */
	for (size_t i = 0; i < sizeof(MOVED_TABLES) / sizeof(MOVED_TABLES[0]); i++) {
		char sql[96];

		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", MOVED_TABLES[i]);
		assert_int_equal(vig_db_int(c, -1, sql, ""), 1);
	}
	assert_int_equal(vig_db_int(c, 0, "SELECT upload_total FROM agent_actions", ""), -1);
	assert_int_equal(vig_db_do(c, err, "UPDATE agent_actions SET upload_total = ?1", "i",
				   (int64_t)4096),
			 VIG_OK);
	vig_db_unlock(db);
	vig_db_close(db);
	/* opening again migrates nothing and keeps the value */
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	c = vig_db_lock(db);
	assert_int_equal(vig_db_int(c, 0, "SELECT upload_total FROM agent_actions", ""), 4096);
	vig_db_unlock(db);
	vig_db_close(db);
	rm_db(file);
	free(sig);
}

static void test_migration_4(void **state)
{
	char file[64], err[VIG_ERRBUF_SIZE] = "", *fresh = malloc(SIG_MAX);
	struct vig_db *db = NULL;
	sqlite3 *c;

	(void)state;
	assert_non_null(fresh);
	tmp_file(file, sizeof(file));
	assert_int_equal(vig_db_open(file, &db, err), VIG_OK);
	assert_int_equal(vig_db_schema_version(db), VIG_DB_SCHEMA_VERSION);
	assert_int_equal(VIG_DB_SCHEMA_VERSION, 4);
	c = vig_db_lock(db);
	schema_sig(c, fresh, SIG_MAX);
	vig_db_unlock(db);
	vig_db_close(db);
	rm_db(file);
	/* a fresh file has every moved table, the column and the indexes */
	for (size_t i = 0; i < sizeof(MOVED_TABLES) / sizeof(MOVED_TABLES[0]); i++) {
		char line[96];

		snprintf(line, sizeof(line), "%s.tenant_id TEXT ", MOVED_TABLES[i]);
		assert_non_null(strstr(fresh, line));
	}
	assert_non_null(strstr(fresh, "agent_actions.upload_total INTEGER 1 -1 0\n"));
	assert_non_null(strstr(fresh, "index agents_last_seen\n"));
	assert_non_null(strstr(fresh, "index reduction_evidence_created\n"));
	/* an old file, with and without the later column, ends with the same schema */
	check_upgrade(false, fresh);
	check_upgrade(true, fresh);
	free(fresh);
}

/* ---- statement helpers ---- */

static json_t *name_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	(void)h;
	++*(int *)ctx;
	return json_string((const char *)sqlite3_column_text(st, 0));
}

static enum vig_err insert_tx(sqlite3 *h, void *arg, char *errbuf)
{
	enum vig_err err = vig_db_do(h, errbuf, "INSERT INTO tenants (id, name, created)"
				     " VALUES (?1, ?2, 1)", "tt", (const char *)arg, "T");

	return err == VIG_OK && !strcmp(arg, "t-fail") ? vig_errf(errbuf, VIG_EINVAL, "no") : err;
}

static void test_helpers(void **state)
{
	char err[VIG_ERRBUF_SIZE] = "", text[8];
	struct vig_db *db = NULL;
	sqlite3_stmt *st;
	json_t *arr = NULL;
	sqlite3 *c;
	int rows = 0;

	(void)state;
	assert_int_equal(vig_db_open(":memory:", &db, err), VIG_OK);
	c = vig_db_lock(db);
	/* bind by type string: text, NULL text, int, optional int */
	st = vig_db_stmt(c, err, "SELECT ?1, ?2 IS NULL, ?3 + 1, ?4 IS NULL, ?5", "ttinn", "a",
			 (const char *)NULL, (int64_t)41, (int64_t)0, (int64_t)7);
	assert_int_equal(vig_db_row(c, st, err), VIG_OK);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "a");
	assert_int_equal(sqlite3_column_int(st, 1), 1);
	assert_int_equal(sqlite3_column_int64(st, 2), 42);
	assert_int_equal(sqlite3_column_int(st, 3), 1);
	assert_int_equal(sqlite3_column_int64(st, 4), 7);
	sqlite3_finalize(st);
	/* a type string that does not match the placeholders is refused, not bound */
	assert_null(vig_db_stmt(c, err, "SELECT ?1", "ii", (int64_t)1, (int64_t)2));
	assert_non_null(strstr(err, "arguments \"ii\" for 1 placeholders"));
	assert_null(vig_db_stmt(c, err, "SELECT ?1", "x", (int64_t)1));
	assert_int_equal(vig_db_run(c, NULL, err), VIG_EIO);
	assert_int_equal(vig_db_do(c, err, "SELECT ?1", "", (int64_t)1), VIG_EIO);
	/* bad SQL: NULL, the error says why */
	assert_null(vig_db_stmt(c, err, "SELEC 1", ""));
	assert_non_null(strstr(err, "db: "));
	assert_int_equal(vig_db_run(c, vig_db_stmt(c, err, "INSERT INTO nope VALUES (1)", ""), err),
			 VIG_EIO);
	assert_non_null(strstr(err, "no such table"));
	/* rows, no rows, defaults */
	st = vig_db_stmt(c, err, "SELECT id FROM tenants WHERE id = ?1", "t", "missing");
	assert_int_equal(vig_db_row(c, st, err), VIG_ENOTFOUND);
	sqlite3_finalize(st);
	assert_int_equal(vig_db_int(c, -5, "SELECT 1 FROM tenants WHERE id = ?1", "t", "x"), -5);
	assert_int_equal(vig_db_int(c, -5, "SELECT NULL", ""), -5);
	assert_int_equal(vig_db_int(c, -5, "SELECT count(*) FROM tenants", ""), 1);
	assert_int_equal(vig_db_int(c, -5, "not sql", ""), -5);
	assert_true(vig_db_text(c, text, sizeof(text), "SELECT id FROM tenants", ""));
	assert_string_equal(text, "default");
	assert_true(vig_db_text(c, text, 4, "SELECT id FROM tenants", ""));
	assert_string_equal(text, "def"); /* bounded */
	assert_false(vig_db_text(c, text, sizeof(text), "SELECT NULL", ""));
	assert_string_equal(text, "");
	vig_db_unlock(db);
	/* transactions: committed on success, else rolled back; the lock released both times */
	assert_int_equal(vig_db_in_tx(db, insert_tx, "t-ok", err), VIG_OK);
	assert_int_equal(vig_db_in_tx(db, insert_tx, "t-fail", err), VIG_EINVAL);
	assert_int_equal(vig_db_rows(db, name_row, &rows, &arr, err,
				     "SELECT id FROM tenants ORDER BY id LIMIT ?1", "i", (int64_t)10),
			 VIG_OK);
	assert_int_equal(rows, 2);
	assert_int_equal(json_array_size(arr), 2);
	assert_string_equal(json_string_value(json_array_get(arr, 0)), "default");
	assert_string_equal(json_string_value(json_array_get(arr, 1)), "t-ok");
	json_decref(arr);
	assert_int_equal(vig_db_rows(db, name_row, &rows, &arr, err, "SELECT x FROM nope", ""),
			 VIG_EIO);
	assert_null(arr);
	vig_db_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migration_4),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
