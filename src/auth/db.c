/*
 * db.c - the control database: opening, pragmas, the migration list and the lock.
 *
 * Migrations are an append-only array of SQL scripts, each with an optional function run after
 * its SQL (for a change that depends on what an older file holds, such as a column added only
 * when missing); migration i (1-based) brings the schema from user_version i-1 to i and runs
 * in one transaction together with the `PRAGMA user_version = i` that records it, so a crash
 * leaves either the old or the new version, never half of one. The provider tenant is inserted
 * (if missing) after migrating.
 */
#include "auth_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

/* Migration 1: the initial schema. Never edit once released; add migration 2 instead. */
static const char MIGRATION_1[] =
	"CREATE TABLE tenants ("
	"  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 63),"
	"  name TEXT NOT NULL,"
	"  is_provider INTEGER NOT NULL DEFAULT 0 CHECK (is_provider IN (0, 1)),"
	"  mode TEXT NOT NULL DEFAULT 'full' CHECK (mode IN ('full', 'semi')),"
	"  retention_days INTEGER NOT NULL DEFAULT 90 CHECK (retention_days > 0),"
	"  created INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX tenants_one_provider ON tenants(is_provider) WHERE is_provider = 1;"
	"CREATE TABLE users ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  username TEXT NOT NULL UNIQUE,"
	"  password_hash TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  last_login INTEGER NOT NULL DEFAULT 0,"
	"  failed_logins INTEGER NOT NULL DEFAULT 0,"
	"  locked_until INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX users_tenant ON users(tenant_id);"
	"CREATE TABLE api_tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX api_tokens_tenant ON api_tokens(tenant_id);"
	"CREATE INDEX api_tokens_user ON api_tokens(user_id);"
	"CREATE TABLE sessions ("
	"  id_hash TEXT PRIMARY KEY,"
	"  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
	"  csrf_token TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL);"
	"CREATE INDEX sessions_user ON sessions(user_id);"
	"CREATE INDEX sessions_expires ON sessions(expires);"
	"CREATE TABLE settings ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  key TEXT NOT NULL,"
	"  value TEXT,"
	"  updated INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (tenant_id, key));"
	/* The audit log: no foreign keys, so that nothing can ever cascade into it. */
	"CREATE TABLE audit_log ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor_user_id INTEGER NOT NULL DEFAULT 0,"
	"  actor_token_id INTEGER NOT NULL DEFAULT 0,"
	"  actor TEXT NOT NULL,"
	"  tenant_id TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  object_type TEXT,"
	"  object_id TEXT,"
	"  before_json TEXT,"
	"  after_json TEXT,"
	"  reason TEXT,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL);"
	"CREATE INDEX audit_log_tenant ON audit_log(tenant_id, id);"
	"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
	"  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
	"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
	"  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;"
	/* Tables that later features fill. */
	"CREATE TABLE agents ("
	"  id TEXT PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  hostname TEXT NOT NULL DEFAULT '',"
	"  os TEXT, kernel TEXT, version TEXT,"
	"  cert_fingerprint TEXT UNIQUE,"
	"  sensor_mode TEXT,"
	"  status TEXT NOT NULL DEFAULT 'enrolled',"
	"  isolated INTEGER NOT NULL DEFAULT 0,"
	"  enrolled INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL DEFAULT 0,"
	"  data TEXT);"
	"CREATE INDEX agents_tenant ON agents(tenant_id, hostname);"
	"CREATE TABLE assets ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  agent_id TEXT,"
	"  hostname TEXT NOT NULL,"
	"  ip TEXT,"
	"  criticality TEXT NOT NULL DEFAULT 'medium',"
	"  owner TEXT,"
	"  tags TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  UNIQUE (tenant_id, hostname));"
	"CREATE TABLE rules ("
	"  id TEXT NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  yaml TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant_id, id));"
	"CREATE TABLE alerts ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  rule_id TEXT,"
	"  severity TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'new',"
	"  dedupe_key TEXT NOT NULL,"
	"  count INTEGER NOT NULL DEFAULT 1,"
	"  first_seen INTEGER NOT NULL,"
	"  last_seen INTEGER NOT NULL,"
	"  title TEXT NOT NULL,"
	"  host TEXT,"
	"  user TEXT,"
	"  incident_id INTEGER,"
	"  event_ids TEXT,"
	"  data TEXT);"
	"CREATE INDEX alerts_tenant_seen ON alerts(tenant_id, last_seen);"
	"CREATE INDEX alerts_dedupe ON alerts(tenant_id, dedupe_key, status);"
	"CREATE INDEX alerts_status ON alerts(tenant_id, status, severity);"
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  title TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'open',"
	"  severity TEXT NOT NULL,"
	"  owner TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  data TEXT);"
	"CREATE INDEX incidents_tenant ON incidents(tenant_id, status, updated);";

/* Migration 2: incidents as tickets (issue "Incidents and SOC workflow"): lifecycle columns,
 * and comments, tasks, observables and the timeline. Alerts join incidents through
 * alerts.incident_id (one incident per alert). */
static const char MIGRATION_2[] =
	"ALTER TABLE incidents ADD COLUMN description TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE incidents ADD COLUMN priority TEXT NOT NULL DEFAULT 'p3';"
	"ALTER TABLE incidents ADD COLUMN resolution TEXT;"
	"ALTER TABLE incidents ADD COLUMN type TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE incidents ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';"
	"ALTER TABLE incidents ADD COLUMN group_key TEXT;"
	"ALTER TABLE incidents ADD COLUMN acknowledged INTEGER;"
	"ALTER TABLE incidents ADD COLUMN contained INTEGER;"
	"ALTER TABLE incidents ADD COLUMN resolved INTEGER;"
	"ALTER TABLE incidents ADD COLUMN closed INTEGER;"
	"CREATE INDEX incidents_group ON incidents(tenant_id, group_key, status);"
	"CREATE INDEX alerts_incident ON alerts(incident_id);"
	"CREATE TABLE incident_comments ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  author TEXT NOT NULL,"
	"  body TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX incident_comments_inc ON incident_comments(incident_id);"
	"CREATE TABLE incident_tasks ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  title TEXT NOT NULL,"
	"  owner TEXT,"
	"  status TEXT NOT NULL DEFAULT 'open',"
	"  created INTEGER NOT NULL,"
	"  done_at INTEGER);"
	"CREATE INDEX incident_tasks_inc ON incident_tasks(incident_id);"
	"CREATE TABLE incident_observables ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  type TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  tlp TEXT NOT NULL DEFAULT 'amber',"
	"  pap TEXT NOT NULL DEFAULT 'amber',"
	"  source TEXT NOT NULL DEFAULT 'manual',"
	"  created INTEGER NOT NULL,"
	"  UNIQUE (incident_id, type, value));"
	"CREATE INDEX incident_observables_value ON incident_observables(tenant_id, type, value);"
	"CREATE TABLE incident_timeline ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  summary TEXT NOT NULL,"
	"  detail TEXT);"
	"CREATE INDEX incident_timeline_inc ON incident_timeline(incident_id, ts);"
	/* SLA: targets per tenant and severity (no row = the built-in defaults), and which
	 * warnings and breaches an incident has had (comma-separated, e.g. "acknowledge:breach"). */
	"ALTER TABLE incidents ADD COLUMN sla_events TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE sla_targets ("
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  severity TEXT NOT NULL,"
	"  acknowledge_s INTEGER NOT NULL,"
	"  contain_s INTEGER NOT NULL,"
	"  resolve_s INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant_id, severity));"
	/* Notification routes and the delivery queue (with its dead letters). */
	"CREATE TABLE notify_routes ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  events TEXT NOT NULL DEFAULT '*',"
	"  min_severity TEXT NOT NULL DEFAULT 'informational',"
	"  rule TEXT NOT NULL DEFAULT '',"
	"  days TEXT NOT NULL DEFAULT '',"
	"  hours TEXT NOT NULL DEFAULT '',"
	"  channel TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  secret TEXT NOT NULL DEFAULT '',"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX notify_routes_tenant ON notify_routes(tenant_id);"
	"CREATE TABLE notify_queue ("
	"  id INTEGER PRIMARY KEY,"
	"  route_id INTEGER NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  event TEXT NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_try INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created INTEGER NOT NULL,"
	"  sent INTEGER);"
	"CREATE INDEX notify_queue_due ON notify_queue(status, next_try);"
	/* XDR blocking: addresses blocked across the estate, served to firewalls as a list. */
	"CREATE TABLE blocklist ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  address TEXT NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  incident_id INTEGER,"
	"  created_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  removed INTEGER);"
	"CREATE INDEX blocklist_tenant ON blocklist(tenant_id, removed, expires);";

/* Migration 3: evidence and its custody log, response orchestration (tenant settings,
 * requests and approvals, playbooks), intel sharing, reports. Each part is marked for the
 * module that owns it. */
static const char MIGRATION_3[] =
	""
	/* @evidence: incident evidence with SHA-256 and custody log (src/incident/evidence.c) */
	"CREATE TABLE incident_evidence ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK (kind IN ('upload', 'collected', 'export')),"
	"  sha256 TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  media_type TEXT NOT NULL,"
	"  source TEXT NOT NULL DEFAULT '',"
	"  description TEXT NOT NULL DEFAULT '',"
	"  created_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX incident_evidence_incident ON incident_evidence(incident_id, sha256);"
	"CREATE TABLE evidence_custody ("
	"  id INTEGER PRIMARY KEY,"
	"  evidence_id INTEGER NOT NULL REFERENCES incident_evidence(id),"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL CHECK (action IN ('acquired', 'attached', 'downloaded', 'verified',"
	"    'exported', 'transferred')),"
	"  detail TEXT NOT NULL DEFAULT '',"
	"  sha256_seen TEXT,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL);"
	"CREATE INDEX evidence_custody_item ON evidence_custody(evidence_id, id);"
	/* the custody check reads an item's audit rows */
	"CREATE INDEX audit_log_object ON audit_log(object_type, object_id, id);"
	/* @response: tenant settings, response requests and approvals, playbooks (src/incident/response.c) */
	"CREATE TABLE tenant_settings ("
	"  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),"
	"  contacts TEXT NOT NULL DEFAULT '[]',"
	"  business_hours TEXT NOT NULL DEFAULT '{}',"
	"  approval_timeout_s INTEGER NOT NULL DEFAULT 3600,"
	"  escalation_s INTEGER,"
	"  preapproved TEXT NOT NULL DEFAULT '[]',"
	"  auto_playbooks INTEGER NOT NULL DEFAULT 1,"
	"  updated INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE response_requests ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  agent_id TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  params TEXT NOT NULL DEFAULT '{}',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL,"
	"  requested_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  escalate_at INTEGER NOT NULL,"
	"  timeout_at INTEGER NOT NULL,"
	"  escalated INTEGER,"
	"  decided_by TEXT,"
	"  decided_at INTEGER,"
	"  decision_reason TEXT,"
	"  action_id INTEGER,"
	"  playbook_id INTEGER,"
	"  finished INTEGER);"
	"CREATE INDEX response_requests_status ON response_requests(status, timeout_at);"
	"CREATE INDEX response_requests_incident ON response_requests(incident_id);"
	"CREATE INDEX response_requests_action ON response_requests(action_id);"
	"CREATE TABLE playbooks ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  incident_type TEXT NOT NULL DEFAULT '',"
	"  rule_id TEXT NOT NULL DEFAULT '',"
	"  min_severity TEXT NOT NULL DEFAULT '',"
	"  tag TEXT NOT NULL DEFAULT '',"
	"  tasks TEXT NOT NULL DEFAULT '[]',"
	"  steps TEXT NOT NULL DEFAULT '[]',"
	"  created_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX playbooks_tenant ON playbooks(tenant_id);"
	"CREATE TABLE playbook_runs ("
	"  playbook_id INTEGER NOT NULL,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,"
	"  agent_id TEXT NOT NULL,"
	"  ran INTEGER NOT NULL,"
	"  PRIMARY KEY (playbook_id, incident_id, agent_id));"
	/* @sharing: STIX export, TAXII collections, blocklist fan-out (src/incident/stix.c) */
	/* the observables a tenant shares in its TAXII collection (api_sharing.c) */
	"CREATE TABLE shared_indicators ("
	"  observable_id INTEGER PRIMARY KEY REFERENCES incident_observables(id) ON DELETE CASCADE,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  shared_by TEXT NOT NULL,"
	"  date_added INTEGER NOT NULL);"
	"CREATE INDEX shared_indicators_added ON shared_indicators(tenant_id, date_added);"
	/* gateway agents apply the blocklist; which entry was pushed to which agent, by which
	 * action, and whether it is now blocked or was unblocked */
	"ALTER TABLE agents ADD COLUMN gateway INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE blocklist_pushes ("
	"  blocklist_id INTEGER NOT NULL REFERENCES blocklist(id),"
	"  agent_id TEXT NOT NULL REFERENCES agents(id),"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  address TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('blocked', 'unblocked')),"
	"  action_id INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (blocklist_id, agent_id));"
	"CREATE INDEX blocklist_pushes_state ON blocklist_pushes(state, agent_id);"
	/* @reports: report definitions, schedules and runs (src/report) */
	/* @oncall: on-call rotas, escalation policies, direct deliveries (src/notify/oncall.c) */
	"ALTER TABLE notify_queue ADD COLUMN channel TEXT;" /* direct deliveries: no route */
	"ALTER TABLE notify_queue ADD COLUMN target TEXT;"
	"CREATE TABLE oncall_rotas ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  members TEXT NOT NULL," /* [{"name","email","webhook"}] in rotation order */
	"  shift_s INTEGER NOT NULL CHECK (shift_s >= 3600),"
	"  start INTEGER NOT NULL," /* the first shift's start (ns); shifts follow back to back */
	"  created INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL);"
	"CREATE INDEX oncall_rotas_tenant ON oncall_rotas(tenant_id);"
	"CREATE TABLE oncall_overrides ("
	"  id INTEGER PRIMARY KEY,"
	"  rota_id INTEGER NOT NULL REFERENCES oncall_rotas(id) ON DELETE CASCADE,"
	"  member INTEGER NOT NULL," /* index into the rota's members */
	"  start INTEGER NOT NULL,"
	"  end INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL);"
	"CREATE INDEX oncall_overrides_rota ON oncall_overrides(rota_id, start);"
	"CREATE TABLE escalation_policies ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  min_severity TEXT NOT NULL DEFAULT 'informational',"
	"  levels TEXT NOT NULL," /* [{"after_s", "rota" | "email" | "webhook"}] ascending */
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE incident_escalations ("
	"  incident_id INTEGER NOT NULL,"
	"  policy_id INTEGER NOT NULL,"
	"  level INTEGER NOT NULL,"
	"  ts INTEGER NOT NULL,"
	"  target TEXT NOT NULL,"
	"  PRIMARY KEY (incident_id, policy_id, level));"
	"CREATE TABLE reports ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  period TEXT NOT NULL,"
	"  schedule TEXT NOT NULL DEFAULT 'none',"
	"  recipients TEXT NOT NULL DEFAULT '[]',"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  sched_from INTEGER NOT NULL,"
	"  UNIQUE (tenant_id, name));"
	"CREATE TABLE report_runs ("
	"  id INTEGER PRIMARY KEY,"
	"  report_id INTEGER NOT NULL,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),"
	"  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),"
	"  range_from INTEGER NOT NULL,"
	"  range_to INTEGER NOT NULL,"
	"  slot INTEGER,"
	"  requested_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  started INTEGER,"
	"  finished INTEGER,"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  sha256 TEXT,"
	"  error TEXT,"
	"  path TEXT,"
	"  UNIQUE (report_id, slot));"
	"CREATE INDEX report_runs_tenant ON report_runs(tenant_id, report_id, id);"
	"CREATE INDEX report_runs_status ON report_runs(status, finished);"
	;

/* Migration 4: the tables that modules used to create when they opened (CREATE TABLE IF NOT
 * EXISTS at start-up) become part of the schema. A database of an earlier version may already
 * hold them, made by those modules, so every statement here tolerates an existing table or
 * index, and the column agent_actions gained later is added by add_upload_total() when missing.
 * The definitions are exactly the ones the modules used. */
static const char MIGRATION_4[] =
	/* fleet (src/fleet): enrolment tokens, inventory, the action queue */
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
	"CREATE INDEX IF NOT EXISTS agent_actions_status ON agent_actions(status, created);"
	/* alert policy (src/alert/exceptions.c): suppressions and rule exceptions */
	"CREATE TABLE IF NOT EXISTS suppressions ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  rule_id TEXT NOT NULL DEFAULT '',"
	"  conditions TEXT NOT NULL,"
	"  until INTEGER NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  created_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS suppressions_tenant ON suppressions(tenant_id, until);"
	"CREATE TABLE IF NOT EXISTS rule_exceptions ("
	"  id INTEGER PRIMARY KEY,"
	"  tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	"  rule_id TEXT NOT NULL,"
	"  conditions TEXT NOT NULL,"
	"  until INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  created_by TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS rule_exceptions_rule ON rule_exceptions(tenant_id, rule_id);"
	/* data reduction (src/server/reduce.c): policies and the evidence of what was dropped */
	"CREATE TABLE IF NOT EXISTS reduction_policies ("
	" id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" action TEXT NOT NULL CHECK (action IN ('drop', 'keep')), query TEXT NOT NULL,"
	" description TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS reduction_evidence ("
	" id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" created INTEGER NOT NULL, count INTEGER NOT NULL, first INTEGER NOT NULL,"
	" last INTEGER NOT NULL, raw_bytes INTEGER NOT NULL, truncated INTEGER NOT NULL,"
	" data BLOB NOT NULL);"
	"CREATE INDEX IF NOT EXISTS reduction_evidence_created ON reduction_evidence(created);"
	/* threat intel feeds (src/server/api_intel.c) */
	"CREATE TABLE IF NOT EXISTS intel_feeds ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  tenant_id TEXT REFERENCES tenants(id) ON DELETE CASCADE,"
	"  kind TEXT NOT NULL,"
	"  format TEXT NOT NULL DEFAULT 'auto',"
	"  url TEXT NOT NULL,"
	"  refresh_s INTEGER NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  insecure INTEGER NOT NULL DEFAULT 0,"
	"  auth_user TEXT, auth_password TEXT, auth_token TEXT,"
	"  status TEXT NOT NULL DEFAULT 'pending',"
	"  last_error TEXT,"
	"  last_refresh INTEGER,"
	"  last_success INTEGER,"
	"  indicator_count INTEGER NOT NULL DEFAULT 0,"
	"  malformed INTEGER NOT NULL DEFAULT 0,"
	"  skipped INTEGER NOT NULL DEFAULT 0,"
	"  reasons TEXT,"
	"  added_last TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL);"
	/* the log source registry (src/server/sources.c) */
	"CREATE TABLE IF NOT EXISTS log_sources ("
	" id INTEGER PRIMARY KEY,"
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

/* Migration 4, after its SQL: agent_actions tables made by the fleet before file collection
 * reported its size lack upload_total. */
static enum vig_err add_upload_total(sqlite3 *c, char *errbuf)
{
	if (vig_db_int(c, 0, "SELECT 1 FROM pragma_table_info('agent_actions') WHERE name = ?1",
		       "t", "upload_total"))
		return VIG_OK;
	return vig_db_exec(c,
			   "ALTER TABLE agent_actions ADD COLUMN upload_total INTEGER NOT NULL"
			   " DEFAULT -1",
			   errbuf);
}

/* One migration: its SQL, then (optional) code for what SQL alone cannot say conditionally. */
struct migration {
	const char *sql;
	enum vig_err (*after)(sqlite3 *c, char *errbuf);
};

static const struct migration MIGRATIONS[] = {
	{MIGRATION_1, NULL},
	{MIGRATION_2, NULL},
	{MIGRATION_3, NULL},
	{MIGRATION_4, add_upload_total},
};

_Static_assert(VIG_ARRAY_LEN(MIGRATIONS) == VIG_DB_SCHEMA_VERSION,
	       "VIG_DB_SCHEMA_VERSION must equal the number of migrations");

enum vig_err vig_db_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, char *errbuf)
{
	if (sqlite3_prepare_v2(c, sql, -1, st, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "prepare: %s", sqlite3_errmsg(c));
	return VIG_OK;
}

enum vig_err vig_db_exec(sqlite3 *c, const char *sql, char *errbuf)
{
	char *msg = NULL;
	enum vig_err err = VIG_OK;

	if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int code = sqlite3_errcode(c);
		err = vig_errf(errbuf, code == SQLITE_BUSY ? VIG_EBUSY : VIG_EIO, "sqlite: %s",
			       msg ? msg : sqlite3_errmsg(c));
	}
	sqlite3_free(msg);
	return err;
}

enum vig_err vig_db_begin(sqlite3 *c, char *errbuf)
{
	return vig_db_exec(c, "BEGIN IMMEDIATE", errbuf);
}
enum vig_err vig_db_commit(sqlite3 *c, char *errbuf)
{
	return vig_db_exec(c, "COMMIT", errbuf);
}

void vig_db_rollback(sqlite3 *c)
{
	if (!sqlite3_get_autocommit(c))
		sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
}

enum vig_err vig_db_end(sqlite3 *c, enum vig_err err, char *errbuf)
{
	if (err == VIG_OK)
		err = vig_db_commit(c, errbuf);
	if (err != VIG_OK)
		vig_db_rollback(c);
	return err;
}

static int read_user_version(sqlite3 *c)
{
	sqlite3_stmt *st = NULL;
	int v = -1;

	if (sqlite3_prepare_v2(c, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Runs every migration newer than the file's user_version, one transaction each. */
static enum vig_err migrate(sqlite3 *c, char *errbuf)
{
	int have = read_user_version(c);
	char pragma[64];
	enum vig_err err;

	if (have < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot read schema version: %s", sqlite3_errmsg(c));
	if (have > VIG_DB_SCHEMA_VERSION)
		return vig_errf(errbuf, VIG_EUNSUPPORTED,
				"database schema version %d is newer than this build (%d)", have,
				VIG_DB_SCHEMA_VERSION);
	for (int v = have + 1; v <= VIG_DB_SCHEMA_VERSION; v++) {
		err = vig_db_begin(c, errbuf);
		if (err)
			return err;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v);
		err = vig_db_exec(c, MIGRATIONS[v - 1].sql, errbuf);
		if (!err && MIGRATIONS[v - 1].after)
			err = MIGRATIONS[v - 1].after(c, errbuf);
		if (!err)
			err = vig_db_exec(c, pragma, errbuf);
		if (!err)
			err = vig_db_commit(c, errbuf);
		if (err) {
			vig_db_rollback(c);
			return err;
		}
	}
	return VIG_OK;
}

static enum vig_err ensure_provider(sqlite3 *c, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;

	err = vig_db_prepare(c,
			     "INSERT OR IGNORE INTO tenants (id, name, is_provider, mode, retention_days,"
			     " created) VALUES (?1, 'Provider', 1, 'full', ?2, ?3)",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, VIG_DB_PROVIDER_TENANT, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, VIG_RETENTION_DAYS_DEFAULT);
	sqlite3_bind_int64(st, 3, vig_time_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "create provider tenant: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_db_open(const char *path, struct vig_db **out, char *errbuf)
{
	struct vig_db *db;
	enum vig_err err;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;

	*out = NULL;
	if (!path || !*path)
		return vig_errf(errbuf, VIG_EINVAL, "database path is empty");
	db = calloc(1, sizeof(*db));
	if (!db)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (pthread_mutex_init(&db->mu, NULL) != 0) {
		free(db);
		return vig_errf(errbuf, VIG_ENOMEM, "cannot create mutex");
	}
	vig_auth_config_default(&db->cfg);
	if (sqlite3_open_v2(path, &db->conn, flags, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "open %s: %s", path,
			       db->conn ? sqlite3_errmsg(db->conn) : "out of memory");
		goto out_close;
	}
	sqlite3_busy_timeout(db->conn, VIG_DB_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db->conn, 0);
	err = vig_db_exec(db->conn,
			  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
			  " PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
			  errbuf);
	if (err)
		goto out_close;
	err = migrate(db->conn, errbuf);
	if (err)
		goto out_close;
	err = ensure_provider(db->conn, errbuf);
	if (err)
		goto out_close;
	*out = db;
	return VIG_OK;

out_close:
	vig_db_close(db);
	return err;
}

void vig_db_close(struct vig_db *db)
{
	if (!db)
		return;
	sqlite3_close_v2(db->conn);
	db->conn = NULL;
	pthread_mutex_destroy(&db->mu);
	free(db);
}

sqlite3 *vig_db_lock(struct vig_db *db)
{
	pthread_mutex_lock(&db->mu);
	return db->conn;
}

void vig_db_unlock(struct vig_db *db) { pthread_mutex_unlock(&db->mu); }

int vig_db_schema_version(struct vig_db *db)
{
	int v;

	pthread_mutex_lock(&db->mu);
	v = read_user_version(db->conn);
	pthread_mutex_unlock(&db->mu);
	return v;
}

enum vig_err vig_db_list(struct vig_db *db, const char *sql, const char *scope, size_t row_size,
			 vig_row_fill_fn *fill, const char *what, void **out, size_t *n,
			 char *errbuf)
{
	char *rows = NULL, *grown;
	size_t count = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *c;
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	c = vig_db_lock(db);
	err = vig_db_prepare(c, sql, &st, errbuf);
	if (err)
		goto out_unlock;
	if (scope)
		sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, VIG_AUTH_LIST_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(rows, cap * row_size);
			if (!grown) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				break;
			}
			rows = grown;
		}
		fill(st, rows + count++ * row_size);
	}
	if (!err && rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "list %s: %s", what, sqlite3_errmsg(c));
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	if (err) {
		free(rows);
		return err;
	}
	*out = rows;
	*n = count;
	return VIG_OK;
}

enum vig_err vig_db_fail(sqlite3 *h, char *errbuf)
{
	return vig_errf(errbuf, sqlite3_errcode(h) == SQLITE_BUSY ? VIG_EBUSY : VIG_EIO, "db: %s",
			sqlite3_errmsg(h));
}

/* vig_db_stmt() with its arguments as a va_list. */
static sqlite3_stmt *stmt_va(sqlite3 *h, char *errbuf, const char *sql, const char *types,
			     va_list ap)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		vig_db_fail(h, errbuf);
		sqlite3_finalize(st);
		return NULL;
	}
	if (sqlite3_bind_parameter_count(st) != (int)strlen(types) ||
	    strspn(types, "tin") != strlen(types)) { /* a caller's bug: never read the arguments */
		vig_errf(errbuf, VIG_EINVAL,
			 "db: arguments \"%s\" for %d placeholders in \"%.60s\"", types,
			 sqlite3_bind_parameter_count(st), sql);
		sqlite3_finalize(st);
		return NULL;
	}
	for (int i = 0; types[i]; i++) {
		if (types[i] == 't') {
			const char *s = va_arg(ap, const char *);

			if (s)
				sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, i + 1);
		} else {
			int64_t v = va_arg(ap, int64_t);

			if (types[i] == 'n' && v <= 0)
				sqlite3_bind_null(st, i + 1);
			else
				sqlite3_bind_int64(st, i + 1, v);
		}
	}
	return st;
}

sqlite3_stmt *vig_db_stmt(sqlite3 *h, char *errbuf, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = stmt_va(h, errbuf, sql, types, ap);
	va_end(ap);
	return st;
}

enum vig_err vig_db_row(sqlite3 *h, sqlite3_stmt *st, char *errbuf)
{
	int rc;

	if (!st) /* the failed prepare is still h's last error */
		return sqlite3_errcode(h) == SQLITE_BUSY ? VIG_EBUSY : VIG_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return VIG_OK;
	return rc == SQLITE_DONE ? VIG_ENOTFOUND : vig_db_fail(h, errbuf);
}

enum vig_err vig_db_run(sqlite3 *h, sqlite3_stmt *st, char *errbuf)
{
	enum vig_err err = vig_db_row(h, st, errbuf);

	sqlite3_finalize(st);
	return err == VIG_ENOTFOUND ? VIG_OK : err;
}

enum vig_err vig_db_do(sqlite3 *h, char *errbuf, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = stmt_va(h, errbuf, sql, types, ap);
	va_end(ap);
	return vig_db_run(h, st, errbuf);
}

int64_t vig_db_int(sqlite3 *h, int64_t dflt, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st;
	int64_t v = dflt;
	va_list ap;

	va_start(ap, types);
	st = stmt_va(h, NULL, sql, types, ap);
	va_end(ap);
	if (vig_db_row(h, st, NULL) == VIG_OK && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

bool vig_db_text(sqlite3 *h, char *out, size_t cap, const char *sql, const char *types, ...)
{
	const unsigned char *s = NULL;
	sqlite3_stmt *st;
	va_list ap;

	va_start(ap, types);
	st = stmt_va(h, NULL, sql, types, ap);
	va_end(ap);
	if (vig_db_row(h, st, NULL) == VIG_OK)
		s = sqlite3_column_text(st, 0);
	if (cap)
		snprintf(out, cap, "%s", s ? (const char *)s : "");
	sqlite3_finalize(st);
	return s != NULL;
}

enum vig_err vig_db_rows(struct vig_db *db, vig_db_row_fn *row, void *ctx, json_t **out,
			 char *errbuf, const char *sql, const char *types, ...)
{
	json_t *arr = json_array();
	enum vig_err err = VIG_OK;
	sqlite3_stmt *st;
	sqlite3 *h;
	va_list ap;
	int rc = SQLITE_DONE;

	*out = NULL;
	if (!arr)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(db);
	va_start(ap, types);
	st = stmt_va(h, errbuf, sql, types, ap);
	va_end(ap);
	while (st && (rc = sqlite3_step(st)) == SQLITE_ROW)
		if (json_array_append_new(arr, row(h, st, ctx)) != 0) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			break;
		}
	if (err == VIG_OK && (!st || rc != SQLITE_DONE))
		err = st ? vig_db_fail(h, errbuf) : VIG_EIO;
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(arr);
		return err;
	}
	*out = arr;
	return VIG_OK;
}

enum vig_err vig_db_tx_begin(struct vig_db *db, sqlite3 **h, char *errbuf)
{
	enum vig_err err;

	*h = vig_db_lock(db);
	err = vig_db_begin(*h, errbuf);
	if (err != VIG_OK)
		vig_db_unlock(db);
	return err;
}

enum vig_err vig_db_tx_end(struct vig_db *db, sqlite3 *h, enum vig_err err, char *errbuf)
{
	err = vig_db_end(h, err, errbuf);
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_db_in_tx(struct vig_db *db, vig_db_tx_fn *fn, void *arg, char *errbuf)
{
	sqlite3 *h;
	enum vig_err err = vig_db_tx_begin(db, &h, errbuf);

	if (err != VIG_OK)
		return err;
	return vig_db_tx_end(db, h, fn(h, arg, errbuf), errbuf);
}

enum vig_err vig_db_run_id(sqlite3 *h, const char *sql, int64_t id, int64_t v, char *errbuf)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return vig_db_fail(h, errbuf);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, v); /* SQLITE_RANGE, ignored, when sql has ?1 only */
	return vig_db_run(h, st, errbuf);
}
