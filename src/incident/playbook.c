/*
 * playbook.c - playbooks: per-tenant recipes (the provider tenant's apply to every tenant) that
 * add task templates to incidents of a type, and request response actions when an alert that
 * matches their trigger joins an incident. See response.h, "playbooks".
 *
 * A trigger has up to four members (incident_type, rule_id, min_severity, tag); each one given
 * must match, and a playbook without any never fires. Task templates need incident_type: they
 * are added when an incident is created with, or changed to, that type. Response steps go
 * through vig_resp_request_locked(), so the tenant's mode, pre-approvals and auto_playbooks
 * decide whether they run at once or wait for approval. Storms are bounded by playbook_runs:
 * a playbook acts at most once per incident and agent (and adds its tasks once per incident).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "common/vtime.h"
#include "incident/incident.h"
#include "resp_int.h"

#define PB_NAME_MAX 128
#define PB_PROVIDER_SQL "(SELECT id FROM tenants WHERE is_provider = 1)"
#define PB_COLS                                                                                   \
	"id, tenant_id, name, enabled, incident_type, rule_id, min_severity, tag, tasks, steps,"   \
	" created_by, created, updated"

static const char *const TRIGGER_KEYS[] = {"incident_type", "rule_id", "min_severity", "tag"};

static json_t *pb_json(sqlite3_stmt *st)
{
	json_t *trigger = json_object();

	for (int i = 0; trigger && i < 4; i++) {
		const char *v = (const char *)sqlite3_column_text(st, 4 + i);

		if (v && *v)
			json_object_set_new(trigger, TRIGGER_KEYS[i], json_string(v));
	}
	return json_pack("{s:I,s:o,s:o,s:b,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "tenant", vig_inc_text_json(st, 1), "name", vig_inc_text_json(st, 2), "enabled",
			 sqlite3_column_int(st, 3) != 0, "trigger", trigger ? trigger : json_object(), "tasks",
			 vig_resp_col_json(st, 8, json_array()), "steps", vig_resp_col_json(st, 9, json_array()),
			 "created_by", vig_inc_text_json(st, 10), "created", vig_inc_time_json(st, 11),
			 "updated", vig_inc_time_json(st, 12));
}

/* Reads playbook id visible to who (provider playbooks are visible to all) into *out. */
static enum vig_err pb_load(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out, char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT " PB_COLS ", tenant_id = " PB_PROVIDER_SQL " FROM playbooks WHERE id = ?1",
					 "i", id);
	enum vig_err err = VIG_OK;

	*out = NULL;
	if (!st)
		return VIG_EIO;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (sqlite3_column_int(st, 13) || vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 1))))
		*out = pb_json(st);
	else
		err = vig_errf(errbuf, VIG_ENOTFOUND, "playbook %lld not found", (long long)id);
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_playbook_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
			       char *errbuf)
{
	json_t *list = json_array();
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT " PB_COLS " FROM playbooks WHERE ?1 OR tenant_id = ?2 OR tenant_id = "
					 PB_PROVIDER_SQL " ORDER BY id LIMIT ?3",
					 "iti", (int64_t)who->provider, who->tenant, (int64_t)VIG_PLAYBOOKS_MAX);
	enum vig_err err = st && list ? VIG_OK : VIG_EIO;

	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(list, pb_json(st));
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(list);
		return vig_errf(errbuf, err, "cannot list playbooks");
	}
	*out = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(list), "playbooks", list);
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

/* A string member of o: "" when absent or null; NULL when present but not a string under max. */
static const char *opt_member(json_t *o, const char *k, size_t max)
{
	json_t *v = json_object_get(o, k);

	if (!v || json_is_null(v))
		return "";
	return json_is_string(v) && json_string_length(v) < max ? json_string_value(v) : NULL;
}

static enum vig_err check_trigger(json_t *t, char *errbuf)
{
	const char *k, *sev;
	json_t *v;
	enum vig_alert_severity s;
	bool any = false;

	if (!json_is_object(t))
		return vig_errf(errbuf, VIG_EINVAL, "trigger must be an object");
	json_object_foreach(t, k, v) {
		bool known = false;

		for (size_t i = 0; i < VIG_ARRAY_LEN(TRIGGER_KEYS); i++)
			known |= !strcmp(k, TRIGGER_KEYS[i]);
		if (!known || !opt_member(t, k, 256))
			return vig_errf(errbuf, VIG_EINVAL, "trigger.%s: expected incident_type, rule_id, min_severity"
					" or tag as a string", k);
		any |= *opt_member(t, k, 256) != '\0';
	}
	sev = opt_member(t, "min_severity", 32);
	if (*sev && !vig_alert_severity_parse(sev, &s))
		return vig_errf(errbuf, VIG_EINVAL, "trigger.min_severity: not a severity");
	return any ? VIG_OK : vig_errf(errbuf, VIG_EINVAL, "trigger needs at least one member");
}

static enum vig_err check_lists(json_t *tasks, json_t *steps, char *errbuf)
{
	size_t i;
	json_t *v;

	if (!json_is_array(tasks) || json_array_size(tasks) > VIG_PLAYBOOK_TASKS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "tasks must be an array of at most %d titles", VIG_PLAYBOOK_TASKS_MAX);
	json_array_foreach(tasks, i, v) {
		if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= VIG_INC_TITLE_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "tasks[%zu]: expected a title of 1 to %d bytes", i,
					VIG_INC_TITLE_MAX - 1);
	}
	if (!json_is_array(steps) || json_array_size(steps) > VIG_PLAYBOOK_STEPS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "steps must be an array of at most %d steps", VIG_PLAYBOOK_STEPS_MAX);
	json_array_foreach(steps, i, v) {
		json_t *p = json_object_get(v, "params");

		if (!json_is_object(v) || !vig_fleet_action_type_valid(json_string_value(json_object_get(v, "type"))))
			return vig_errf(errbuf, VIG_EINVAL, "steps[%zu].type: not an action type", i);
		if (p && !json_is_object(p))
			return vig_errf(errbuf, VIG_EINVAL, "steps[%zu].params: expected an object", i);
	}
	return VIG_OK;
}

static enum vig_err check_def(json_t *def, char *errbuf)
{
	const char *name = opt_member(def, "name", PB_NAME_MAX);
	json_t *en = json_object_get(def, "enabled");
	enum vig_err err;

	if (!json_is_object(def))
		return vig_errf(errbuf, VIG_EINVAL, "body must be a playbook object");
	if (!name || !*name)
		return vig_errf(errbuf, VIG_EINVAL, "name: expected 1 to %d bytes", PB_NAME_MAX - 1);
	if (en && !json_is_boolean(en))
		return vig_errf(errbuf, VIG_EINVAL, "enabled must be true or false");
	err = check_trigger(json_object_get(def, "trigger"), errbuf);
	if (err == VIG_OK) {
		json_t *tasks = json_object_get(def, "tasks"), *steps = json_object_get(def, "steps");
		json_t *empty = json_array();

		err = check_lists(tasks ? tasks : empty, steps ? steps : empty, errbuf);
		json_decref(empty);
	}
	return err;
}

/* Writes def into playbook id (0: a new one in tenant) and reads it back into *out. */
static enum vig_err pb_write(sqlite3 *h, const struct vig_principal *who, const char *tenant, int64_t *id,
			     json_t *def, int64_t now, char *errbuf)
{
	json_t *t = json_object_get(def, "trigger"), *tasks = json_object_get(def, "tasks");
	json_t *steps = json_object_get(def, "steps");
	char *tj = tasks ? json_dumps(tasks, JSON_COMPACT) : strdup("[]");
	char *sj = steps ? json_dumps(steps, JSON_COMPACT) : strdup("[]");
	enum vig_err err = tj && sj ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	int64_t enabled = !json_is_false(json_object_get(def, "enabled"));

	if (err == VIG_OK && !*id)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "INSERT INTO playbooks (tenant_id, name, enabled, incident_type, rule_id,"
						  " min_severity, tag, tasks, steps, created_by, created, updated)"
						  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
						  "ttittttttti", tenant, opt_member(def, "name", PB_NAME_MAX), enabled,
						  opt_member(t, "incident_type", 256), opt_member(t, "rule_id", 256),
						  opt_member(t, "min_severity", 32), opt_member(t, "tag", 256), tj, sj,
						  who->username, now),
				  errbuf);
	else if (err == VIG_OK)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "UPDATE playbooks SET name = ?2, enabled = ?3, incident_type = ?4,"
						  " rule_id = ?5, min_severity = ?6, tag = ?7, tasks = ?8, steps = ?9,"
						  " updated = ?10 WHERE id = ?1",
						  "ititttttti", *id, opt_member(def, "name", PB_NAME_MAX), enabled,
						  opt_member(t, "incident_type", 256), opt_member(t, "rule_id", 256),
						  opt_member(t, "min_severity", 32), opt_member(t, "tag", 256), tj, sj, now),
				  errbuf);
	if (err == VIG_OK && !*id)
		*id = sqlite3_last_insert_rowid(h);
	free(tj);
	free(sj);
	return err;
}

enum vig_err vig_playbook_put(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      json_t *def, int64_t now, json_t **out, char *errbuf)
{
	json_t *before = NULL;
	const char *tenant = opt_member(def, "tenant", VIG_NAME_MAX);
	sqlite3 *h;
	enum vig_err err;

	if (out)
		*out = NULL;
	if (!vig_principal_can(who, VIG_PERM_RULES_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = check_def(def, errbuf);
	if (err != VIG_OK)
		return err;
	if (!tenant)
		return vig_errf(errbuf, VIG_EINVAL, "tenant must be a tenant id");
	if (!*tenant)
		tenant = who->tenant;
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", tenant);
	err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	if (id) {
		err = pb_load(h, who, id, &before, errbuf);
		if (err == VIG_OK && !vig_principal_can_access_tenant(who, json_string_value(json_object_get(before, "tenant"))))
			err = vig_errf(errbuf, VIG_EPERM, "a provider playbook is changed by the provider");
		if (err == VIG_OK)
			tenant = json_string_value(json_object_get(before, "tenant"));
	}
	if (err == VIG_OK)
		err = pb_write(h, who, tenant, &id, def, now, errbuf);
	if (err == VIG_OK)
		err = pb_load(h, who, id, out, errbuf);
	if (err == VIG_OK)
		err = vig_resp_record(h, who, tenant, 0, before ? "playbook.update" : "playbook.create", "playbook", id,
				      NULL, before, *out, NULL, now, errbuf);
	json_decref(before);
	err = vig_inc_finish(db, h, err, errbuf);
	if (err != VIG_OK && out) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_playbook_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				 char *errbuf)
{
	json_t *before = NULL;
	const char *tenant;
	sqlite3 *h;
	enum vig_err err;

	if (!vig_principal_can(who, VIG_PERM_RULES_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = pb_load(h, who, id, &before, errbuf);
	tenant = json_string_value(json_object_get(before, "tenant"));
	if (err == VIG_OK && !vig_principal_can_access_tenant(who, tenant))
		err = vig_errf(errbuf, VIG_EPERM, "a provider playbook is changed by the provider");
	if (err == VIG_OK)
		err = vig_db_run_id(h, "DELETE FROM playbooks WHERE id = ?1 AND ?2 >= 0", id, 0, errbuf);
	if (err == VIG_OK)
		err = vig_resp_record(h, who, tenant, 0, "playbook.delete", "playbook", id, NULL, before, NULL, NULL,
				      vig_time_now(), errbuf);
	json_decref(before);
	return vig_inc_finish(db, h, err, errbuf);
}

/* Records that playbook pb ran for (incident, agent); false when it already had. */
static bool first_run(sqlite3 *h, int64_t pb, int64_t incident_id, const char *agent_id, int64_t now,
		      enum vig_err *err, char *errbuf)
{
	*err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
					   "INSERT OR IGNORE INTO playbook_runs (playbook_id, incident_id, agent_id, ran)"
					   " VALUES (?1, ?2, ?3, ?4)",
					   "iiti", pb, incident_id, agent_id, now),
			   errbuf);
	return *err == VIG_OK && sqlite3_changes(h) > 0;
}

/* The incident's tenant, type and tags (new reference) into the outputs. */
static enum vig_err incident_info(sqlite3 *h, int64_t id, char tenant[VIG_NAME_MAX], char type[256],
				  json_t **tags, char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf, "SELECT tenant_id, type, tags FROM incidents WHERE id = ?1", "i", id);
	bool found;

	*tags = NULL;
	if (!st)
		return VIG_EIO;
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		snprintf(tenant, VIG_NAME_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(type, 256, "%s", sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
		*tags = vig_resp_col_json(st, 2, json_array());
	}
	sqlite3_finalize(st);
	return found ? VIG_OK : vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found", (long long)id);
}

enum vig_err vig_playbook_tasks(struct vig_db *db, int64_t incident_id, int64_t now,
				size_t *added, char *errbuf)
{
	char tenant[VIG_NAME_MAX], type[256];
	json_t *tags = NULL;
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	enum vig_err err = vig_inc_begin(db, &h, errbuf);

	if (err != VIG_OK)
		return err;
	err = incident_info(h, incident_id, tenant, type, &tags, errbuf);
	if (err == VIG_OK && *type)
		st = vig_inc_stmt(h, errbuf,
				   "SELECT " PB_COLS " FROM playbooks WHERE enabled = 1 AND incident_type = ?2"
				   " AND tasks != '[]' AND tenant_id IN (?1, " PB_PROVIDER_SQL ") ORDER BY id LIMIT ?3",
				   "tti", tenant, type, (int64_t)VIG_PLAYBOOKS_MAX);
	while (err == VIG_OK && st && sqlite3_step(st) == SQLITE_ROW) {
		int64_t pb = sqlite3_column_int64(st, 0);
		json_t *tasks = vig_resp_col_json(st, 8, json_array()), *t, *what;
		char summary[256];
		size_t i;

		if (!first_run(h, pb, incident_id, "", now, &err, errbuf)) {
			json_decref(tasks);
			continue;
		}
		json_array_foreach(tasks, i, t) {
			if (err == VIG_OK && json_is_string(t))
				err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
								  "INSERT INTO incident_tasks (incident_id, tenant_id, title,"
								  " status, created) VALUES (?1, ?2, ?3, 'open', ?4)",
								  "itti", incident_id, tenant, json_string_value(t), now),
						  errbuf);
		}
		n += json_array_size(tasks);
		snprintf(summary, sizeof(summary), "playbook %.128s added %zu task%s", (const char *)sqlite3_column_text(st, 2),
			 json_array_size(tasks), json_array_size(tasks) == 1 ? "" : "s");
		what = json_pack("{s:I,s:O}", "playbook_id", (json_int_t)pb, "tasks", tasks);
		if (err == VIG_OK)
			err = vig_resp_record(h, NULL, tenant, incident_id, "incident.task", "incident", incident_id,
					      summary, NULL, what, NULL, now, errbuf);
		json_decref(what);
		json_decref(tasks);
	}
	sqlite3_finalize(st);
	json_decref(tags);
	if (added)
		*added = err == VIG_OK ? n : 0;
	return vig_inc_finish(db, h, err, errbuf);
}

/* The alert of tenant: its rule, severity and host. */
struct alert_info {
	char rule[VIG_ALERT_TEXT_MAX];
	char host[VIG_ALERT_TEXT_MAX];
	int severity;
};

static enum vig_err alert_info(sqlite3 *h, int64_t id, const char *tenant, struct alert_info *a, char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT coalesce(rule_id, ''), severity, coalesce(host, '') FROM alerts"
					 " WHERE id = ?1 AND tenant_id = ?2",
					 "it", id, tenant);
	enum vig_alert_severity s = VIG_ALERT_SEV_MEDIUM;
	bool found;

	if (!st)
		return VIG_EIO;
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		snprintf(a->rule, sizeof(a->rule), "%s", (const char *)sqlite3_column_text(st, 0));
		vig_alert_severity_parse((const char *)sqlite3_column_text(st, 1), &s);
		snprintf(a->host, sizeof(a->host), "%s", (const char *)sqlite3_column_text(st, 2));
		a->severity = (int)s;
	}
	sqlite3_finalize(st);
	return found ? VIG_OK : vig_errf(errbuf, VIG_ENOTFOUND, "alert %lld not found", (long long)id);
}

/* Does the trigger of playbook row st match the alert and the incident? */
static bool trigger_matches(sqlite3_stmt *st, const struct alert_info *a, const char *type, json_t *tags)
{
	const char *itype = (const char *)sqlite3_column_text(st, 4), *rule = (const char *)sqlite3_column_text(st, 5);
	const char *sev = (const char *)sqlite3_column_text(st, 6), *tag = (const char *)sqlite3_column_text(st, 7);
	enum vig_alert_severity min;
	bool tagged = false;
	size_t i;
	json_t *t;

	if (!*itype && !*rule && !*sev && !*tag)
		return false;
	if ((*itype && strcmp(itype, type)) || (*rule && strcmp(rule, a->rule)))
		return false;
	if (*sev && (!vig_alert_severity_parse(sev, &min) || a->severity < (int)min))
		return false;
	json_array_foreach(tags, i, t)
		tagged |= json_is_string(t) && !strcmp(json_string_value(t), tag);
	return !*tag || tagged;
}

/* The newest non-revoked agent of tenant named host into id; false when there is none. */
static bool agent_of_host(sqlite3 *h, const char *tenant, const char *host, char id[VIG_AGENT_ID_STRLEN])
{
	char errbuf[VIG_ERRBUF_SIZE];
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT id FROM agents WHERE tenant_id = ?1 AND hostname = ?2 AND status != 'revoked'"
					 " ORDER BY last_seen DESC LIMIT 1",
					 "tt", tenant, host);
	bool found = st && *host && sqlite3_step(st) == SQLITE_ROW;

	if (found)
		snprintf(id, VIG_AGENT_ID_STRLEN, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return found;
}

/* Requests one step inside a savepoint, so that a step that fails leaves the others intact. */
static bool run_step(sqlite3 *h, struct vig_fleet *fleet, const struct vig_resp_new *in, int64_t now,
		     int64_t *id, char *errbuf)
{
	struct vig_principal sys;
	enum vig_err err;

	vig_principal_system(&sys);
	if (sqlite3_exec(h, "SAVEPOINT pb_step", NULL, NULL, NULL) != SQLITE_OK)
		return false;
	err = vig_resp_request_locked(h, fleet, &sys, in, now, id, errbuf);
	if (err != VIG_OK)
		sqlite3_exec(h, "ROLLBACK TO pb_step", NULL, NULL, NULL);
	sqlite3_exec(h, "RELEASE pb_step", NULL, NULL, NULL);
	return err == VIG_OK;
}

enum vig_err vig_playbook_on_alert(struct vig_db *db, struct vig_fleet *fleet, int64_t incident_id,
				   int64_t alert_id, int64_t now, int64_t *ids, size_t cap,
				   size_t *n, size_t *skipped, char *errbuf)
{
	char tenant[VIG_NAME_MAX], type[256], agent[VIG_AGENT_ID_STRLEN] = "";
	struct alert_info a;
	json_t *tags = NULL;
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err = vig_inc_begin(db, &h, errbuf);

	*n = *skipped = 0;
	if (err != VIG_OK)
		return err;
	err = incident_info(h, incident_id, tenant, type, &tags, errbuf);
	if (err == VIG_OK)
		err = alert_info(h, alert_id, tenant, &a, errbuf);
	if (err == VIG_OK)
		st = vig_inc_stmt(h, errbuf,
				   "SELECT " PB_COLS " FROM playbooks WHERE enabled = 1 AND steps != '[]'"
				   " AND tenant_id IN (?1, " PB_PROVIDER_SQL ") ORDER BY id LIMIT ?2",
				   "ti", tenant, (int64_t)VIG_PLAYBOOKS_MAX);
	while (err == VIG_OK && st && sqlite3_step(st) == SQLITE_ROW) {
		json_t *steps, *step;
		char reason[256];
		size_t i;

		if (!trigger_matches(st, &a, type, tags))
			continue;
		steps = vig_resp_col_json(st, 9, json_array());
		if (!*agent && !agent_of_host(h, tenant, a.host, agent)) {
			*skipped += json_array_size(steps); /* no agent on the alert's host */
			json_decref(steps);
			continue;
		}
		if (!first_run(h, sqlite3_column_int64(st, 0), incident_id, agent, now, &err, errbuf)) {
			json_decref(steps);
			continue;
		}
		snprintf(reason, sizeof(reason), "playbook %.128s: alert %lld", (const char *)sqlite3_column_text(st, 2),
			 (long long)alert_id);
		json_array_foreach(steps, i, step) {
			struct vig_resp_new in = {.incident_id = incident_id, .agent_id = agent,
						  .type = json_string_value(json_object_get(step, "type")),
						  .params = json_object_get(step, "params"), .reason = reason,
						  .playbook_id = sqlite3_column_int64(st, 0)};
			char eb[VIG_ERRBUF_SIZE];
			int64_t id = 0;

			if (!run_step(h, fleet, &in, now, &id, eb))
				(*skipped)++;
			else if (ids && *n < cap)
				ids[(*n)++] = id;
		}
		json_decref(steps);
	}
	sqlite3_finalize(st);
	json_decref(tags);
	return vig_inc_finish(db, h, err, errbuf);
}
