/*
 * fleet.c - opening the fleet: the configuration, the schema (created if missing; the agents
 * table itself comes from the control DB's first migration), the CA, and the SQL helpers the
 * other files of the module share.
 */
#include "fleet_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS enroll_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  uses INTEGER NOT NULL DEFAULT 1,"
	"  used INTEGER NOT NULL DEFAULT 0,"
	"  expires INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS enroll_tokens_tenant ON enroll_tokens(tenant_id, id);"
	"CREATE INDEX IF NOT EXISTS agents_last_seen ON agents(tenant_id, last_seen);"
	"CREATE TABLE IF NOT EXISTS agent_inventory ("
	"  agent_id TEXT PRIMARY KEY REFERENCES agents(id),"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  doc TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  changed INTEGER NOT NULL,"
	"  received INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS agent_inventory_tenant ON agent_inventory(tenant_id);"
	"CREATE TABLE IF NOT EXISTS agent_actions ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  agent_id TEXT NOT NULL REFERENCES agents(id),"
	"  type TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  reason TEXT,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'delivered',"
	"    'succeeded', 'failed', 'cancelled', 'expired')),"
	"  requested_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  delivered INTEGER NOT NULL DEFAULT 0,"
	"  finished INTEGER NOT NULL DEFAULT 0,"
	"  result TEXT,"
	"  error TEXT,"
	"  upload_bytes INTEGER NOT NULL DEFAULT 0,"
	"  file_size INTEGER NOT NULL DEFAULT -1,"
	"  file_sha256 TEXT,"
	"  upload_total INTEGER NOT NULL DEFAULT -1);"
	"CREATE INDEX IF NOT EXISTS agent_actions_agent ON agent_actions(agent_id, status, id);"
	"CREATE INDEX IF NOT EXISTS agent_actions_tenant ON agent_actions(tenant_id, id);"
	"CREATE INDEX IF NOT EXISTS agent_actions_status ON agent_actions(status, created);";

void vig_fleet_config_default(struct vig_fleet_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cert_days = 365;
	c->heartbeat_s = 30;
	c->action_timeout_s = 3600;
	c->max_upload_bytes = 256LL << 20;
}

struct vig_fleet *vig_fleet_open(struct vig_db *db, const char *ca_dir,
				 const struct vig_fleet_config *cfg, char *errbuf)
{
	struct vig_fleet *f = calloc(1, sizeof(*f));
	char *msg = NULL;
	sqlite3 *h;
	int rc;

	if (!f) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	f->db = db;
	f->cfg = *cfg;
	h = vig_db_lock(db);
	rc = sqlite3_exec(h, SCHEMA, NULL, NULL, &msg);
	if (rc == SQLITE_OK && sqlite3_exec(h, "SELECT upload_total FROM agent_actions LIMIT 0", NULL, NULL,
					    NULL) != SQLITE_OK) /* a table made before the column existed */
		rc = sqlite3_exec(h, "ALTER TABLE agent_actions ADD COLUMN upload_total INTEGER NOT NULL DEFAULT -1",
				  NULL, NULL, &msg);
	vig_db_unlock(db);
	if (rc != SQLITE_OK) {
		vig_errf(errbuf, VIG_EIO, "fleet schema: %s", msg ? msg : "sqlite error");
		sqlite3_free(msg);
		goto out_free;
	}
	if (vig_fleet_ca_load(f, ca_dir, errbuf) != VIG_OK)
		goto out_free;
	return f;
out_free:
	vig_fleet_free(f);
	return NULL;
}

void vig_fleet_free(struct vig_fleet *f)
{
	if (!f)
		return;
	vig_fleet_ca_release(f);
	free(f);
}

const struct vig_fleet_config *vig_fleet_config(const struct vig_fleet *f)
{
	return &f->cfg;
}

void vig_fleet_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

const char *vig_fleet_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

void vig_fleet_col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	snprintf(out, cap, "%s", vig_fleet_col_text(st, i));
}

enum vig_err vig_fleet_step_row(sqlite3_stmt *st)
{
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		return VIG_OK;
	case SQLITE_DONE:
		return VIG_ENOTFOUND;
	default:
		return VIG_EIO;
	}
}

json_t *vig_fleet_json_time(int64_t ns)
{
	char buf[64];

	if (ns <= 0)
		return json_null();
	vig_time_format(ns, buf);
	return json_string(buf);
}

enum vig_err vig_fleet_agent_tenant(sqlite3 *h, const char *agent_id, char tenant[VIG_NAME_MAX],
				    bool *revoked)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	tenant[0] = '\0';
	if (sqlite3_prepare_v2(h, "SELECT tenant_id, status FROM agents WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return VIG_EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	err = vig_fleet_step_row(st);
	if (err == VIG_OK) {
		vig_fleet_col_copy(st, 0, tenant, VIG_NAME_MAX);
		if (revoked)
			*revoked = strcmp(vig_fleet_col_text(st, 1), "revoked") == 0;
	}
	sqlite3_finalize(st);
	return err;
}
