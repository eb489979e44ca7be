/*
 * response.c - response orchestration: tenant settings, response requests and their approval
 * flow (request, approve, reject, cancel, escalate, expire, result), and the provider's
 * overview across tenants. See response.h for the states.
 *
 * Every change follows the shape of incident.c: lock the control DB, BEGIN IMMEDIATE, read the
 * request or incident (a foreign tenant's is "not found"), change rows, queue or cancel the
 * fleet action on the same connection, append an incident timeline row and an audit row,
 * COMMIT. A failure anywhere rolls the whole step back, so a request is never "queued" without
 * its fleet action, nor an action queued without its audit row.
 */
#include "incident/response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "common/vtime.h"
#include "incident/incident.h"
#include "resp_int.h"

static const char *const DAYS[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const CONTACT_KEYS[] = {"name", "email", "phone", "role"};

/* ---- the record of a step (shared with playbook.c through resp_int.h) ---- */

/* after (a new reference; NULL stays NULL) with, for a response request, the request's id and
 * its incident's, so that its rows name both wherever they are read. */
static json_t *named_after(json_t *after, int64_t incident_id, const char *objtype, int64_t objid)
{
	json_t *o;

	if (strcmp(objtype, "response_request") != 0)
		return json_incref(after);
	o = json_is_object(after) ? json_copy(after) : json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "request_id", json_integer(objid));
	if (incident_id > 0)
		json_object_set_new(o, "incident_id", json_integer(incident_id));
	return o;
}

enum vig_err vig_resp_record(sqlite3 *h, const struct vig_principal *who, const char *tenant,
			     int64_t incident_id, const char *action, const char *objtype,
			     int64_t objid, const char *summary, json_t *before, json_t *after,
			     const char *reason, int64_t now, char *errbuf)
{
	struct vig_principal sys;
	char idbuf[24];
	json_t *named = named_after(after, incident_id, objtype, objid);
	char *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *a = named ? json_dumps(named, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum vig_err err = VIG_OK;

	json_decref(named);
	if ((after && !named) || (named && !a)) {
		free(b);
		free(a);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	if (!who) {
		vig_principal_system(&sys);
		who = &sys;
	}
	/* a step of an incident's request is a row of the incident, as incident.c writes them */
	if (incident_id > 0 && strcmp(objtype, "response_request") == 0) {
		objtype = "incident";
		objid = incident_id;
	}
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)objid);
	if (incident_id > 0) {
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "INSERT INTO incident_timeline (incident_id, tenant_id, ts,"
						  " actor, kind, summary, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
						  "ititttt", incident_id, tenant, now, who->username, action,
						  summary, a),
				  errbuf);
		if (err == VIG_OK)
			err = vig_db_run_id(h, "UPDATE incidents SET updated = ?2 WHERE id = ?1", incident_id,
					    now, errbuf);
	}
	if (err == VIG_OK)
		err = vig_audit_append_locked(h, who, tenant, action, objtype, idbuf, b, a, reason, now,
					      NULL, errbuf);
	free(b);
	free(a);
	return err;
}

/* Column col parsed as JSON, or dflt (a new reference) when NULL or not JSON. */
json_t *vig_resp_col_json(sqlite3_stmt *st, int col, json_t *dflt)
{
	const char *s = (const char *)sqlite3_column_text(st, col);
	json_t *v = s && *s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;

	if (!v)
		return dflt;
	json_decref(dflt);
	return v;
}

/* ---- tenant settings ---- */

struct settings {
	json_t *contacts;       /* array */
	json_t *hours;          /* object */
	int64_t timeout_s;      /* approval timeout */
	int64_t escalation_s;   /* 0 = half of timeout_s */
	json_t *preapproved;    /* array of action types */
	bool auto_playbooks;
	char mode[8];           /* "full" / "semi" */
	int64_t retention_days;
	char name[VIG_TENANT_NAME_MAX];
};

static void settings_release(struct settings *s)
{
	json_decref(s->contacts);
	json_decref(s->hours);
	json_decref(s->preapproved);
	memset(s, 0, sizeof(*s));
}

/* Reads the tenant row and its settings (defaults without a settings row). VIG_ENOTFOUND
 * for no such tenant. */
static enum vig_err settings_load(sqlite3 *h, const char *tenant, struct settings *s, char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT t.mode, t.retention_days, t.name, s.contacts, s.business_hours,"
					 " s.approval_timeout_s, s.escalation_s, s.preapproved, s.auto_playbooks"
					 " FROM tenants t LEFT JOIN tenant_settings s ON s.tenant_id = t.id"
					 " WHERE t.id = ?1",
					 "t", tenant);
	int rc;

	memset(s, 0, sizeof(*s));
	if (!st)
		return VIG_EIO;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return rc == SQLITE_DONE ? vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", tenant)
					 : vig_inc_db_fail(h, errbuf);
	}
	snprintf(s->mode, sizeof(s->mode), "%s", (const char *)sqlite3_column_text(st, 0));
	s->retention_days = sqlite3_column_int64(st, 1);
	snprintf(s->name, sizeof(s->name), "%s", (const char *)sqlite3_column_text(st, 2));
	s->contacts = vig_resp_col_json(st, 3, json_array());
	s->hours = vig_resp_col_json(st, 4, json_object());
	s->timeout_s = sqlite3_column_type(st, 5) == SQLITE_NULL ? VIG_RESP_TIMEOUT_DEFAULT_S
								 : sqlite3_column_int64(st, 5);
	s->escalation_s = sqlite3_column_int64(st, 6);
	s->preapproved = vig_resp_col_json(st, 7, json_array());
	s->auto_playbooks = sqlite3_column_type(st, 8) == SQLITE_NULL || sqlite3_column_int64(st, 8) != 0;
	sqlite3_finalize(st);
	if (!s->contacts || !s->hours || !s->preapproved) {
		settings_release(s);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	return VIG_OK;
}

static int64_t escalation_of(const struct settings *s)
{
	return s->escalation_s > 0 ? s->escalation_s : s->timeout_s / 2;
}

static bool preapproved(const struct settings *s, const char *type)
{
	size_t i;
	json_t *v;

	json_array_foreach(s->preapproved, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), type))
			return true;
	return false;
}

static json_t *settings_json(const char *tenant, const struct settings *s)
{
	return json_pack("{s:s,s:s,s:s,s:I,s:O,s:O,s:I,s:I,s:b,s:O,s:O}", "tenant", tenant, "name", s->name,
			 "mode", s->mode, "retention_days", (json_int_t)s->retention_days, "contacts",
			 s->contacts, "business_hours", s->hours, "approval_timeout_s",
			 (json_int_t)s->timeout_s, "escalation_s", (json_int_t)escalation_of(s),
			 "auto_playbooks", s->auto_playbooks, "escalation_default",
			 s->escalation_s > 0 ? json_false() : json_true(), "preapproved", s->preapproved);
}

enum vig_err vig_resp_settings_get(struct vig_db *db, const struct vig_principal *who,
				   const char *tenant, json_t **out, char *errbuf)
{
	struct settings s;
	json_t *sla = NULL;
	sqlite3 *h;
	enum vig_err err;

	*out = NULL;
	if (!tenant || !*tenant)
		tenant = who->tenant;
	if (!vig_principal_can(who, VIG_PERM_TENANTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", tenant);
	h = vig_db_lock(db);
	err = settings_load(h, tenant, &s, errbuf);
	vig_db_unlock(db);
	if (err != VIG_OK)
		return err;
	*out = settings_json(tenant, &s);
	settings_release(&s);
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = vig_sla_get(db, who, tenant, &sla, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
		return err;
	}
	json_object_set(*out, "sla", json_object_get(sla, "targets"));
	json_decref(sla);
	return VIG_OK;
}

static bool short_string(json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) < max;
}

static enum vig_err check_contacts(json_t *v, char *errbuf)
{
	size_t i;
	json_t *c;

	if (!json_is_array(v) || json_array_size(v) > VIG_RESP_CONTACTS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "contacts must be an array of at most %d objects",
				VIG_RESP_CONTACTS_MAX);
	json_array_foreach(v, i, c) {
		const char *k;
		json_t *x;

		if (!json_is_object(c) || !short_string(json_object_get(c, "name"), VIG_RESP_FIELD_MAX) ||
		    !json_string_length(json_object_get(c, "name")))
			return vig_errf(errbuf, VIG_EINVAL, "contacts[%zu] needs a name", i);
		json_object_foreach(c, k, x) {
			bool known = false;

			for (size_t j = 0; j < VIG_ARRAY_LEN(CONTACT_KEYS); j++)
				known |= !strcmp(k, CONTACT_KEYS[j]);
			if (!known || !short_string(x, VIG_RESP_FIELD_MAX))
				return vig_errf(errbuf, VIG_EINVAL,
						"contacts[%zu].%s: expected name, email, phone or role as a string"
						" shorter than %d bytes", i, k, VIG_RESP_FIELD_MAX);
		}
	}
	return VIG_OK;
}

/* "HH:MM" with 00 <= HH <= 24 and 00 <= MM <= 59 (24:00 only). */
static bool hhmm_valid(json_t *v)
{
	const char *s = json_string_value(v);
	int hh, mm;

	if (!s || strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	hh = (s[0] - '0') * 10 + (s[1] - '0');
	mm = (s[3] - '0') * 10 + (s[4] - '0');
	return mm <= 59 && (hh < 24 || (hh == 24 && mm == 0));
}

static enum vig_err check_hours(json_t *v, char *errbuf)
{
	json_t *days = json_object_get(v, "days"), *d;
	const char *k;
	json_t *x;
	size_t i;

	if (!json_is_object(v))
		return vig_errf(errbuf, VIG_EINVAL, "business_hours must be an object");
	json_object_foreach(v, k, x) {
		if (strcmp(k, "timezone") && strcmp(k, "days") && strcmp(k, "start") && strcmp(k, "end"))
			return vig_errf(errbuf, VIG_EINVAL, "business_hours: unknown member '%s'", k);
	}
	if (json_object_size(v) == 0)
		return VIG_OK; /* cleared: around the clock */
	if (!short_string(json_object_get(v, "timezone"), 64) || !json_is_array(days) ||
	    !hhmm_valid(json_object_get(v, "start")) || !hhmm_valid(json_object_get(v, "end")))
		return vig_errf(errbuf, VIG_EINVAL,
				"business_hours needs timezone, days (mon..sun), start and end (HH:MM)");
	if (strcmp(json_string_value(json_object_get(v, "start")), json_string_value(json_object_get(v, "end"))) >= 0)
		return vig_errf(errbuf, VIG_EINVAL, "business_hours: start must be before end");
	if (json_array_size(days) > 7)
		return vig_errf(errbuf, VIG_EINVAL, "business_hours.days: at most 7 days");
	json_array_foreach(days, i, d) {
		bool known = false;

		for (size_t j = 0; json_is_string(d) && j < VIG_ARRAY_LEN(DAYS); j++)
			known |= !strcmp(json_string_value(d), DAYS[j]);
		if (!known)
			return vig_errf(errbuf, VIG_EINVAL, "business_hours.days[%zu]: expected mon, tue, wed, thu,"
					" fri, sat or sun", i);
	}
	return VIG_OK;
}

static enum vig_err check_types(json_t *v, char *errbuf)
{
	size_t i;
	json_t *t;

	if (!json_is_array(v) || json_array_size(v) > 32)
		return vig_errf(errbuf, VIG_EINVAL, "preapproved must be an array of action types");
	json_array_foreach(v, i, t) {
		if (!vig_fleet_action_type_valid(json_string_value(t)))
			return vig_errf(errbuf, VIG_EINVAL, "preapproved[%zu]: not an action type", i);
	}
	return VIG_OK;
}

static bool int_in(json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return false;
	*out = json_integer_value(v);
	return true;
}

/* *slot takes a reference to v in place of its old value. */
static void replace(json_t **slot, json_t *v)
{
	json_decref(*slot);
	*slot = json_incref(v);
}

/* Checks patch and applies it to s (who decides whether mode and retention may change). */
static enum vig_err settings_apply(const struct vig_principal *who, json_t *patch, struct settings *s,
				   char *errbuf)
{
	const char *k;
	json_t *v;
	enum vig_err err = VIG_OK;

	if (!json_is_object(patch) || !json_object_size(patch))
		return vig_errf(errbuf, VIG_EINVAL, "body must be an object of settings to change");
	json_object_foreach(patch, k, v) {
		if (!strcmp(k, "contacts")) {
			err = check_contacts(v, errbuf);
			if (err == VIG_OK)
				replace(&s->contacts, v);
		} else if (!strcmp(k, "business_hours")) {
			err = check_hours(v, errbuf);
			if (err == VIG_OK)
				replace(&s->hours, v);
		} else if (!strcmp(k, "preapproved")) {
			err = check_types(v, errbuf);
			if (err == VIG_OK)
				replace(&s->preapproved, v);
		} else if (!strcmp(k, "approval_timeout_s")) {
			if (!int_in(v, 1, VIG_RESP_TIMEOUT_MAX_S, &s->timeout_s))
				err = vig_errf(errbuf, VIG_EINVAL, "approval_timeout_s: expected seconds in [1, %d]",
					       VIG_RESP_TIMEOUT_MAX_S);
		} else if (!strcmp(k, "escalation_s")) {
			if (json_is_null(v))
				s->escalation_s = 0;
			else if (!int_in(v, 1, VIG_RESP_TIMEOUT_MAX_S, &s->escalation_s))
				err = vig_errf(errbuf, VIG_EINVAL, "escalation_s: expected seconds or null");
		} else if (!strcmp(k, "auto_playbooks")) {
			if (!json_is_boolean(v))
				err = vig_errf(errbuf, VIG_EINVAL, "auto_playbooks must be true or false");
			else
				s->auto_playbooks = json_is_true(v);
		} else if (!strcmp(k, "mode") || !strcmp(k, "retention_days")) {
			enum vig_tenant_mode m;

			if (!who->provider)
				err = vig_errf(errbuf, VIG_EPERM, "only the provider may change %s", k);
			else if (!strcmp(k, "mode") && !vig_tenant_mode_parse(json_string_value(v), &m))
				err = vig_errf(errbuf, VIG_EINVAL, "mode must be full or semi");
			else if (!strcmp(k, "mode"))
				snprintf(s->mode, sizeof(s->mode), "%s", vig_tenant_mode_name(m));
			else if (!int_in(v, 1, VIG_RETENTION_DAYS_MAX, &s->retention_days))
				err = vig_errf(errbuf, VIG_EINVAL, "retention_days: expected days in [1, %d]",
					       VIG_RETENTION_DAYS_MAX);
		} else {
			err = vig_errf(errbuf, VIG_EINVAL, "unknown setting '%s'", k);
		}
		if (err != VIG_OK)
			return err;
	}
	if (s->escalation_s > s->timeout_s)
		return vig_errf(errbuf, VIG_EINVAL, "escalation_s must not exceed approval_timeout_s");
	return VIG_OK;
}

static enum vig_err settings_store(sqlite3 *h, const char *tenant, const struct settings *s, int64_t now,
				   char *errbuf)
{
	char *c = json_dumps(s->contacts, JSON_COMPACT), *bh = json_dumps(s->hours, JSON_COMPACT);
	char *p = json_dumps(s->preapproved, JSON_COMPACT);
	enum vig_err err = VIG_ENOMEM;

	if (c && bh && p)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "INSERT OR REPLACE INTO tenant_settings (tenant_id, contacts,"
						  " business_hours, approval_timeout_s, escalation_s, preapproved,"
						  " auto_playbooks, updated) VALUES (?1, ?2, ?3, ?4, nullif(?5, 0), ?6, ?7, ?8)",
						  "tttiitii", tenant, c, bh, s->timeout_s, s->escalation_s, p,
						  (int64_t)s->auto_playbooks, now),
				  errbuf);
	else
		vig_errf(errbuf, err, "out of memory");
	if (err == VIG_OK)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "UPDATE tenants SET mode = ?2, retention_days = ?3 WHERE id = ?1",
						  "tti", tenant, s->mode, s->retention_days),
				  errbuf);
	free(c);
	free(bh);
	free(p);
	return err;
}

enum vig_err vig_resp_settings_set(struct vig_db *db, const struct vig_principal *who,
				   const char *tenant, json_t *patch, int64_t now, json_t **out,
				   char *errbuf)
{
	struct settings s;
	json_t *before = NULL, *after = NULL;
	sqlite3 *h;
	enum vig_err err;

	if (out)
		*out = NULL;
	if (!tenant || !*tenant)
		tenant = who->tenant;
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", tenant);
	if (!vig_principal_can(who, VIG_PERM_SETTINGS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = settings_load(h, tenant, &s, errbuf);
	if (err == VIG_OK) {
		before = settings_json(tenant, &s);
		err = settings_apply(who, patch, &s, errbuf);
		if (err == VIG_OK)
			err = settings_store(h, tenant, &s, now, errbuf);
		if (err == VIG_OK) {
			char *b, *a;

			after = settings_json(tenant, &s);
			b = json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS);
			a = json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS);
			err = vig_audit_append_locked(h, who, tenant, "tenant.settings", "tenant", tenant, b, a,
						      NULL, now, NULL, errbuf);
			free(b);
			free(a);
		}
		settings_release(&s);
	}
	err = vig_inc_finish(db, h, err, errbuf);
	json_decref(before);
	json_decref(after);
	if (err == VIG_OK && out)
		err = vig_resp_settings_get(db, who, tenant, out, errbuf);
	return err;
}

/* ---- requests ---- */

/* Columns of a request as the API shows it; a queued request whose fleet action expired or
 * was cancelled shows that state. */
#define REQ_SELECT                                                                                 \
	"SELECT r.id, r.tenant_id, r.incident_id, r.agent_id, coalesce(ag.hostname, ''), r.type,"   \
	" r.params, r.reason, CASE WHEN r.status = 'queued' AND a.status IN ('expired', 'cancelled')" \
	" THEN a.status ELSE r.status END, r.requested_by, r.created, r.escalated, r.timeout_at,"     \
	" r.decided_by, r.decided_at, r.decision_reason, r.action_id, a.status, r.playbook_id,"      \
	" a.result, a.error, r.finished"                                                             \
	" FROM response_requests r LEFT JOIN agents ag ON ag.id = r.agent_id"                        \
	" LEFT JOIN agent_actions a ON a.id = r.action_id"

/* The request row of st (selected with REQ_SELECT); with_result adds the action's result. */
static json_t *req_json(sqlite3_stmt *st, bool with_result)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "tenant", vig_inc_text_json(st, 1));
	json_object_set_new(o, "incident_id", json_integer(sqlite3_column_int64(st, 2)));
	json_object_set_new(o, "agent_id", vig_inc_text_json(st, 3));
	json_object_set_new(o, "hostname", vig_inc_text_json(st, 4));
	json_object_set_new(o, "type", vig_inc_text_json(st, 5));
	json_object_set_new(o, "params", vig_resp_col_json(st, 6, json_object()));
	json_object_set_new(o, "reason", vig_inc_text_json(st, 7));
	json_object_set_new(o, "status", vig_inc_text_json(st, 8));
	json_object_set_new(o, "requested_by", vig_inc_text_json(st, 9));
	json_object_set_new(o, "created", vig_inc_time_json(st, 10));
	json_object_set_new(o, "escalated", vig_inc_time_json(st, 11));
	json_object_set_new(o, "timeout_at", vig_inc_time_json(st, 12));
	json_object_set_new(o, "decided_by", vig_inc_text_json(st, 13));
	json_object_set_new(o, "decided_at", vig_inc_time_json(st, 14));
	json_object_set_new(o, "decision_reason", vig_inc_text_json(st, 15));
	json_object_set_new(o, "action_id", sqlite3_column_type(st, 16) == SQLITE_NULL
						    ? json_null() : json_integer(sqlite3_column_int64(st, 16)));
	json_object_set_new(o, "action_status", vig_inc_text_json(st, 17));
	json_object_set_new(o, "playbook_id", sqlite3_column_type(st, 18) == SQLITE_NULL
						      ? json_null() : json_integer(sqlite3_column_int64(st, 18)));
	json_object_set_new(o, "finished", vig_inc_time_json(st, 21));
	if (with_result) {
		json_object_set_new(o, "result", vig_resp_col_json(st, 19, json_null()));
		json_object_set_new(o, "error", vig_inc_text_json(st, 20));
	}
	return o;
}

/* Reads request id visible to who (NULL = the system) into *out. */
static enum vig_err req_load(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out,
			     char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf, REQ_SELECT " WHERE r.id = ?1", "i", id);
	enum vig_err err = VIG_OK;
	int rc;

	*out = NULL;
	if (!st)
		return VIG_EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && (!who || vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 1)))) {
		if (!(*out = req_json(st, true)))
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "response request %lld not found", (long long)id);
	} else {
		err = vig_inc_db_fail(h, errbuf);
	}
	sqlite3_finalize(st);
	return err;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* The principal the fleet records as the requester when the action is queued after an
 * approval or by a playbook: the system's rights under the requester's name. */
static void requester_of(const char *username, struct vig_principal *p)
{
	vig_principal_system(p);
	snprintf(p->username, sizeof(p->username), "%s", username);
}

/* Queues the fleet action of request id (h locked, in a transaction) as actor and records
 * the step. */
static enum vig_err queue_action(sqlite3 *h, struct vig_fleet *fleet, const struct vig_principal *actor,
				 const char *tenant, int64_t id, int64_t incident_id, const char *agent_id,
				 const char *type, json_t *params, const char *reason, const char *hostname,
				 int64_t now, char *errbuf)
{
	json_t *action = NULL, *after;
	char summary[256];
	enum vig_err err = vig_fleet_action_create_locked(fleet, h, actor, agent_id, type, params, reason,
							  now, &action, errbuf);
	int64_t aid;

	if (err != VIG_OK)
		return err;
	aid = jint(action, "id");
	json_decref(action);
	err = vig_db_run_id(h, "UPDATE response_requests SET status = 'queued', action_id = ?2 WHERE id = ?1",
			    id, aid, errbuf);
	snprintf(summary, sizeof(summary), "response %lld: %s on %.100s queued as action %lld", (long long)id,
		 type, *hostname ? hostname : agent_id, (long long)aid);
	after = json_pack("{s:I,s:I,s:s}", "request", (json_int_t)id, "action_id", (json_int_t)aid, "status",
			  "queued");
	if (err == VIG_OK)
		err = vig_resp_record(h, actor, tenant, incident_id, "response.queued", "response_request", id,
				      summary, NULL, after, NULL, now, errbuf);
	json_decref(after);
	return err;
}

/* The incident's tenant, if who may see it. */
static enum vig_err incident_tenant(sqlite3 *h, const struct vig_principal *who, int64_t id,
				    char tenant[VIG_NAME_MAX], char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf, "SELECT tenant_id FROM incidents WHERE id = ?1", "i", id);
	bool found;

	if (!st)
		return VIG_EIO;
	found = sqlite3_step(st) == SQLITE_ROW &&
		vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 0));
	if (found)
		snprintf(tenant, VIG_NAME_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return found ? VIG_OK : vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found", (long long)id);
}

/* The hostname of an agent of tenant into host (VIG_FLEET_TEXT_MAX); VIG_ENOTFOUND otherwise. */
static enum vig_err agent_host(sqlite3 *h, const char *agent_id, const char *tenant,
			       char host[VIG_FLEET_TEXT_MAX], char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf, "SELECT hostname FROM agents WHERE id = ?1 AND tenant_id = ?2",
					 "tt", agent_id ? agent_id : "", tenant);
	bool found;

	if (!st)
		return VIG_EIO;
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found)
		snprintf(host, VIG_FLEET_TEXT_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return found ? VIG_OK : vig_errf(errbuf, VIG_ENOTFOUND, "no such agent in the incident's tenant");
}

enum vig_err vig_resp_request_locked(sqlite3 *h, struct vig_fleet *fleet,
				     const struct vig_principal *who, const struct vig_resp_new *in,
				     int64_t now, int64_t *id, char *errbuf)
{
	char tenant[VIG_NAME_MAX], host[VIG_FLEET_TEXT_MAX], summary[320], *params = NULL;
	struct settings s;
	bool at_once;
	json_t *after;
	enum vig_err err;

	*id = 0;
	if (!vig_principal_can(who, VIG_PERM_ACTIONS_REQUEST))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	if (!vig_fleet_action_type_valid(in->type))
		return vig_errf(errbuf, VIG_EINVAL, "type: not an action type");
	if (in->params && !json_is_object(in->params))
		return vig_errf(errbuf, VIG_EINVAL, "params: expected a JSON object");
	if (in->reason && strlen(in->reason) > VIG_FLEET_REASON_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "reason: longer than %d bytes", VIG_FLEET_REASON_MAX);
	err = incident_tenant(h, who, in->incident_id, tenant, errbuf);
	if (err == VIG_OK)
		err = agent_host(h, in->agent_id, tenant, host, errbuf);
	if (err == VIG_OK)
		err = settings_load(h, tenant, &s, errbuf);
	if (err != VIG_OK)
		return err;
	if (in->playbook_id)
		at_once = s.auto_playbooks && (!strcmp(s.mode, "full") || preapproved(&s, in->type));
	else
		at_once = !strcmp(s.mode, "full") || preapproved(&s, in->type);
	params = in->params ? json_dumps(in->params, JSON_COMPACT) : strdup("{}");
	if (!params)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	else if (strlen(params) > VIG_FLEET_PARAMS_MAX)
		err = vig_errf(errbuf, VIG_ETOOBIG, "params larger than %d bytes", VIG_FLEET_PARAMS_MAX);
	if (err == VIG_OK)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "INSERT INTO response_requests (tenant_id, incident_id, agent_id, type,"
						  " params, reason, status, requested_by, created, escalate_at, timeout_at,"
						  " playbook_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending_approval', ?7, ?8,"
						  " ?9, ?10, nullif(?11, 0))",
						  "titttttiiii", tenant, in->incident_id, in->agent_id, in->type, params,
						  in->reason ? in->reason : "", who->username, now,
						  now + escalation_of(&s) * VIG_NS_PER_SEC, now + s.timeout_s * VIG_NS_PER_SEC,
						  in->playbook_id),
				  errbuf);
	if (err == VIG_OK) {
		*id = sqlite3_last_insert_rowid(h);
		snprintf(summary, sizeof(summary), "response %lld requested: %s on %.100s%s%s", (long long)*id,
			 in->type, host, in->playbook_id ? " by playbook" : "",
			 at_once ? "" : " (waiting for approval)");
		after = json_pack("{s:s,s:s,s:O?,s:s?,s:s,s:I}", "type", in->type, "agent_id", in->agent_id,
				  "params", in->params, "reason", in->reason, "mode", s.mode, "playbook_id",
				  (json_int_t)in->playbook_id);
		err = vig_resp_record(h, who, tenant, in->incident_id, "response.request", "response_request", *id,
				      summary, NULL, after, in->reason, now, errbuf);
		json_decref(after);
	}
	if (err == VIG_OK && at_once) {
		struct vig_principal actor = *who;

		if (in->playbook_id)
			requester_of(who->username, &actor);
		err = queue_action(h, fleet, &actor, tenant, *id, in->incident_id, in->agent_id, in->type,
				   in->params, in->reason, host, now, errbuf);
	}
	settings_release(&s);
	free(params);
	return err;
}

enum vig_err vig_resp_request(struct vig_db *db, struct vig_fleet *fleet,
			      const struct vig_principal *who, const struct vig_resp_new *in,
			      int64_t now, int64_t *id, json_t **out, char *errbuf)
{
	sqlite3 *h;
	enum vig_err err;

	if (out)
		*out = NULL;
	err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_resp_request_locked(h, fleet, who, in, now, id, errbuf);
	if (err == VIG_OK && out)
		err = req_load(h, who, *id, out, errbuf);
	err = vig_inc_finish(db, h, err, errbuf);
	if (err != VIG_OK && out) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* The start of a decision or a cancellation by who (holding perm): checks the reason, locks,
 * begins and reads request id into *req. On failure nothing is held. */
static enum vig_err change_begin(struct vig_db *db, const struct vig_principal *who, enum vig_perm perm, int64_t id,
				 const char *reason, sqlite3 **h, json_t **req, json_t **out, char *errbuf)
{
	enum vig_err err;

	if (out)
		*out = NULL;
	if (!vig_principal_can(who, perm))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	if (reason && strlen(reason) > VIG_FLEET_REASON_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "reason: longer than %d bytes", VIG_FLEET_REASON_MAX);
	err = vig_inc_begin(db, h, errbuf);
	if (err != VIG_OK)
		return err;
	err = req_load(*h, who, id, req, errbuf);
	return err == VIG_OK ? VIG_OK : vig_inc_finish(db, *h, err, errbuf);
}

enum vig_err vig_resp_decide(struct vig_db *db, struct vig_fleet *fleet,
			     const struct vig_principal *who, int64_t id, bool approve,
			     const char *reason, int64_t now, json_t **out, char *errbuf)
{
	json_t *req = NULL, *after;
	struct settings s = {0};
	char summary[320];
	sqlite3 *h;
	enum vig_err err = change_begin(db, who, VIG_PERM_ACTIONS_APPROVE, id, reason, &h, &req, out, errbuf);

	if (err != VIG_OK)
		return err;
	err = settings_load(h, jstr(req, "tenant"), &s, errbuf);
	if (err == VIG_OK && strcmp(jstr(req, "status"), "pending_approval") != 0)
		err = vig_errf(errbuf, VIG_ECONFLICT, "request is %s, not pending approval", jstr(req, "status"));
	if (err == VIG_OK && !strcmp(s.mode, "semi") && strcmp(who->tenant, jstr(req, "tenant")) != 0)
		err = vig_errf(errbuf, VIG_EPERM, "the customer decides the requests of a semi-managed tenant");
	if (err == VIG_OK)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "UPDATE response_requests SET status = ?2, decided_by = ?3, decided_at = ?4,"
						  " decision_reason = ?5, finished = CASE WHEN ?2 = 'rejected' THEN ?4 END"
						  " WHERE id = ?1 AND status = 'pending_approval'",
						  "ittit", id, approve ? "approved" : "rejected", who->username, now,
						  reason),
				  errbuf);
	if (err == VIG_OK) {
		snprintf(summary, sizeof(summary), "response %lld %s by %s: %s on %.100s", (long long)id,
			 approve ? "approved" : "rejected", who->username, jstr(req, "type"), jstr(req, "hostname"));
		after = json_pack("{s:s,s:s?}", "status", approve ? "approved" : "rejected", "reason", reason);
		err = vig_resp_record(h, who, jstr(req, "tenant"), jint(req, "incident_id"),
				      approve ? "response.approve" : "response.reject", "response_request", id, summary,
				      NULL, after, reason, now, errbuf);
		json_decref(after);
	}
	if (err == VIG_OK && approve) {
		struct vig_principal actor;

		requester_of(jstr(req, "requested_by"), &actor);
		err = queue_action(h, fleet, &actor, jstr(req, "tenant"), id, jint(req, "incident_id"),
				   jstr(req, "agent_id"), jstr(req, "type"), json_object_get(req, "params"),
				   json_string_value(json_object_get(req, "reason")), jstr(req, "hostname"), now, errbuf);
	}
	json_decref(req);
	settings_release(&s);
	if (err == VIG_OK && out)
		err = req_load(h, who, id, out, errbuf);
	return vig_inc_finish(db, h, err, errbuf);
}

enum vig_err vig_resp_cancel(struct vig_db *db, struct vig_fleet *fleet,
			     const struct vig_principal *who, int64_t id, const char *reason,
			     int64_t now, json_t **out, char *errbuf)
{
	json_t *req = NULL, *after;
	char summary[320];
	sqlite3 *h;
	enum vig_err err = change_begin(db, who, VIG_PERM_ACTIONS_REQUEST, id, reason, &h, &req, out, errbuf);

	if (err != VIG_OK)
		return err;
	if (!strcmp(jstr(req, "status"), "queued")) {
		struct vig_principal sys;

		vig_principal_system(&sys);
		err = vig_fleet_action_cancel_locked(fleet, h, &sys, jint(req, "action_id"), now, NULL, errbuf);
		if (err == VIG_ECONFLICT)
			vig_errf(errbuf, err, "the action was already delivered to the agent");
	} else if (strcmp(jstr(req, "status"), "pending_approval") != 0) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "request is %s: only a pending or queued one can be cancelled",
			       jstr(req, "status"));
	}
	if (err == VIG_OK)
		err = vig_db_run_id(h, "UPDATE response_requests SET status = 'cancelled', finished = ?2 WHERE id = ?1",
				    id, now, errbuf);
	if (err == VIG_OK) {
		snprintf(summary, sizeof(summary), "response %lld cancelled by %s: %s on %.100s", (long long)id,
			 who->username, jstr(req, "type"), jstr(req, "hostname"));
		after = json_pack("{s:s,s:s}", "status", "cancelled", "was", jstr(req, "status"));
		err = vig_resp_record(h, who, jstr(req, "tenant"), jint(req, "incident_id"), "response.cancel",
				      "response_request", id, summary, NULL, after, reason, now, errbuf);
		json_decref(after);
	}
	json_decref(req);
	if (err == VIG_OK && out)
		err = req_load(h, who, id, out, errbuf);
	return vig_inc_finish(db, h, err, errbuf);
}

enum vig_err vig_resp_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			  json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err = req_load(h, who, id, out, errbuf);

	vig_db_unlock(db);
	return err;
}

enum vig_err vig_resp_list(struct vig_db *db, const struct vig_principal *who,
			   const struct vig_resp_filter *f, json_t **out, char *errbuf)
{
	const char *scope = NULL, *status = f->status && *f->status ? f->status : NULL;
	json_t *list;
	sqlite3 *h;
	sqlite3_stmt *st;
	enum vig_err err;
	int rc;

	*out = NULL;
	if (f->limit < 0 || f->limit > VIG_RESP_LIST_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "limit must be 1 to %d", VIG_RESP_LIST_MAX);
	if (status && !strcmp(status, "pending"))
		status = "pending_approval";
	err = vig_principal_scope(who, f->tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	if (!(list = json_array()))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(db);
	if (f->incident_id) {
		char tenant[VIG_NAME_MAX];

		err = incident_tenant(h, who, f->incident_id, tenant, errbuf);
		if (err != VIG_OK)
			goto out_unlock;
	}
	st = vig_inc_stmt(h, errbuf,
			   REQ_SELECT " WHERE (?1 IS NULL OR r.tenant_id = ?1) AND (?2 IS NULL OR r.status = ?2)"
			   " AND (?3 = 0 OR r.incident_id = ?3) ORDER BY r.id DESC LIMIT ?4",
			   "ttii", scope, status, f->incident_id, f->limit ? f->limit : (int64_t)100);
	if (!st) {
		err = VIG_EIO;
		goto out_unlock;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(list, req_json(st, f->incident_id != 0));
	if (rc != SQLITE_DONE)
		err = vig_inc_db_fail(h, errbuf);
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(list);
		return err;
	}
	*out = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(list), "requests", list);
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

/* ---- the periodic check ---- */

/* Collects up to VIG_RESP_CHECK_MAX ids of the query (?1 = now) into ids. */
static enum vig_err due_ids(sqlite3 *h, const char *sql, int64_t now, int64_t *ids, size_t *n, char *errbuf)
{
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf, sql, "ii", now, (int64_t)VIG_RESP_CHECK_MAX);
	int rc;

	*n = 0;
	if (!st)
		return VIG_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < VIG_RESP_CHECK_MAX)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? VIG_OK : vig_inc_db_fail(h, errbuf);
}

/* Escalates (expire false) or expires one pending request, with its timeline and audit rows. */
static enum vig_err check_one(sqlite3 *h, int64_t id, bool expire, int64_t now, char *errbuf)
{
	json_t *req = NULL, *after;
	char summary[320];
	enum vig_err err = req_load(h, NULL, id, &req, errbuf);

	if (err != VIG_OK)
		return err;
	err = vig_db_run_id(h, expire ? "UPDATE response_requests SET status = 'expired', finished = ?2 WHERE id = ?1"
				      : "UPDATE response_requests SET escalated = ?2 WHERE id = ?1",
			    id, now, errbuf);
	snprintf(summary, sizeof(summary), "response %lld %s: %s on %.100s requested by %s", (long long)id,
		 expire ? "expired without a decision (never executed)" : "escalated: no decision yet",
		 jstr(req, "type"), jstr(req, "hostname"), jstr(req, "requested_by"));
	after = json_pack("{s:s}", "status", expire ? "expired" : "escalated");
	if (err == VIG_OK)
		err = vig_resp_record(h, NULL, jstr(req, "tenant"), jint(req, "incident_id"),
				      expire ? "response.expire" : "response.escalate", "response_request", id,
				      summary, NULL, after, NULL, now, errbuf);
	json_decref(after);
	json_decref(req);
	return err;
}

/* Tells cb about the requests ids after the commit. */
static void check_notify(struct vig_db *db, const int64_t *ids, size_t n, const char *kind,
			 vig_resp_event_cb *cb, void *ctx)
{
	char errbuf[VIG_ERRBUF_SIZE];

	for (size_t i = 0; cb && i < n; i++) {
		json_t *req = NULL;
		sqlite3 *h = vig_db_lock(db);
		enum vig_err err = req_load(h, NULL, ids[i], &req, errbuf);

		vig_db_unlock(db);
		if (err == VIG_OK)
			cb(ctx, kind, req);
		json_decref(req);
	}
}

enum vig_err vig_resp_check(struct vig_db *db, int64_t now, size_t *escalated, size_t *expired,
			    vig_resp_event_cb *cb, void *ctx, char *errbuf)
{
	int64_t *esc = calloc(VIG_RESP_CHECK_MAX, sizeof(*esc)), *exp = calloc(VIG_RESP_CHECK_MAX, sizeof(*exp));
	size_t ne = 0, nx = 0;
	sqlite3 *h;
	enum vig_err err = esc && exp ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");

	if (err == VIG_OK)
		err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		goto out_free;
	err = due_ids(h, "SELECT id FROM response_requests WHERE status = 'pending_approval' AND timeout_at <= ?1"
			 " ORDER BY id LIMIT ?2", now, exp, &nx, errbuf);
	if (err == VIG_OK)
		err = due_ids(h, "SELECT id FROM response_requests WHERE status = 'pending_approval'"
				 " AND escalated IS NULL AND escalate_at <= ?1 AND timeout_at > ?1 ORDER BY id LIMIT ?2",
			      now, esc, &ne, errbuf);
	for (size_t i = 0; err == VIG_OK && i < nx; i++)
		err = check_one(h, exp[i], true, now, errbuf);
	for (size_t i = 0; err == VIG_OK && i < ne; i++)
		err = check_one(h, esc[i], false, now, errbuf);
	err = vig_inc_finish(db, h, err, errbuf);
	if (err != VIG_OK)
		ne = nx = 0;
	check_notify(db, esc, ne, "approval.escalated", cb, ctx);
	check_notify(db, exp, nx, "approval.expired", cb, ctx);
out_free:
	if (escalated)
		*escalated = ne;
	if (expired)
		*expired = nx;
	free(esc);
	free(exp);
	return err;
}

/* ---- results ---- */

#define RESULT_TIMELINE_MAX (64 * 1024) /* bytes of a result kept in the timeline row */

enum vig_err vig_resp_action_result(struct vig_db *db, int64_t action_id, int64_t now,
				    json_t **out, char *errbuf)
{
	json_t *req = NULL, *after = NULL, *result, *shown;
	char summary[320], *enc;
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t id = 0;
	enum vig_err err;

	if (out)
		*out = NULL;
	err = vig_inc_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	st = vig_inc_stmt(h, errbuf, "SELECT id FROM response_requests WHERE action_id = ?1", "i", action_id);
	if (!st)
		return vig_inc_finish(db, h, VIG_EIO, errbuf);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (!id)
		return vig_inc_finish(db, h, VIG_OK, errbuf); /* an action requested directly */
	err = req_load(h, NULL, id, &req, errbuf);
	if (err == VIG_OK && strcmp(jstr(req, "action_status"), "succeeded") && strcmp(jstr(req, "action_status"), "failed"))
		err = vig_errf(errbuf, VIG_ECONFLICT, "action %lld has no result", (long long)action_id);
	if (err == VIG_OK)
		err = vig_inc_run(h, vig_inc_stmt(h, errbuf,
						  "UPDATE response_requests SET status = ?2, finished = ?3"
						  " WHERE id = ?1 AND status = 'queued'",
						  "iti", id, jstr(req, "action_status"), now),
				  errbuf);
	if (err == VIG_OK) {
		result = json_object_get(req, "result");
		enc = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(summary, sizeof(summary), "response %lld %s: %s on %.100s%s%.160s", (long long)id,
			 jstr(req, "action_status"), jstr(req, "type"), jstr(req, "hostname"),
			 json_is_string(json_object_get(req, "error")) ? ": " : "", jstr(req, "error"));
		shown = enc && strlen(enc) <= RESULT_TIMELINE_MAX ? json_incref(result)
								   : json_string("(too large: see the action)");
		after = json_pack("{s:I,s:s,s:o,s:O?}", "action_id", (json_int_t)action_id, "status",
				  jstr(req, "action_status"), "result", shown, "error", json_object_get(req, "error"));
		free(enc);
		err = vig_resp_record(h, NULL, jstr(req, "tenant"), jint(req, "incident_id"), "response.result",
				      "response_request", id, summary, NULL, after, NULL, now, errbuf);
	}
	json_decref(after);
	json_decref(req);
	if (err == VIG_OK && out)
		err = req_load(h, NULL, id, out, errbuf);
	return vig_inc_finish(db, h, err, errbuf);
}

/* ---- provider overview ---- */

/* One integer of a query on tenant (?1) and a time (?2). */
static json_t *overview_of(sqlite3 *h, const char *tenant, const char *name, const char *mode, int64_t now,
			   int64_t online_since)
{
	json_t *by = json_object();
	char errbuf[VIG_ERRBUF_SIZE];
	sqlite3_stmt *st = vig_inc_stmt(h, errbuf,
					 "SELECT status, count(*) FROM incidents WHERE tenant_id = ?1"
					 " AND status NOT IN ('resolved', 'closed') GROUP BY status",
					 "t", tenant);

	while (st && by && sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		json_object_set_new(by, s && !strcmp(s, "open") ? "new" : s, json_integer(sqlite3_column_int64(st, 1)));
	}
	sqlite3_finalize(st);
	return json_pack(
		"{s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I}", "tenant", tenant, "name", name, "mode", mode,
		"incidents_open", by ? by : json_object(), "sla_breaches_open",
		(json_int_t)vig_db_int(h, 0, "SELECT count(*) FROM incidents WHERE tenant_id = ?1"
				       " AND status NOT IN ('resolved', 'closed') AND instr(sla_events, ':breach') > 0",
				       "t", tenant),
		"approvals_pending",
		(json_int_t)vig_db_int(h, 0, "SELECT count(*) FROM response_requests WHERE tenant_id = ?1"
				       " AND status = 'pending_approval'", "t", tenant),
		"agents_online",
		(json_int_t)vig_db_int(h, 0, "SELECT count(*) FROM agents WHERE tenant_id = ?1 AND status != 'revoked'"
				       " AND last_seen > 0 AND last_seen >= ?2", "ti", tenant, online_since),
		"agents_offline",
		(json_int_t)vig_db_int(h, 0, "SELECT count(*) FROM agents WHERE tenant_id = ?1 AND status != 'revoked'"
				       " AND (last_seen = 0 OR last_seen < ?2)", "ti", tenant, online_since),
		"alerts_24h",
		(json_int_t)vig_db_int(h, 0, "SELECT count(*) FROM alerts WHERE tenant_id = ?1 AND last_seen >= ?2",
				       "ti", tenant, now - 86400LL * VIG_NS_PER_SEC));
}

struct overview_ctx {
	int64_t now, online_since;
};

static json_t *overview_row(sqlite3 *h, sqlite3_stmt *st, void *arg)
{
	const struct overview_ctx *c = arg;

	return overview_of(h, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
			   (const char *)sqlite3_column_text(st, 2), c->now, c->online_since);
}

enum vig_err vig_resp_overview(struct vig_db *db, const struct vig_principal *who, int64_t now,
			       int64_t online_since, json_t **out, char *errbuf)
{
	struct overview_ctx c = { now, online_since };
	json_t *tenants;
	char gen[VIG_TIME_STRLEN];
	enum vig_err err;

	*out = NULL;
	if (!who->provider)
		return vig_errf(errbuf, VIG_EPERM, "the overview is for provider principals");
	err = vig_db_rows(db, overview_row, &c, &tenants, errbuf, "SELECT id, name, mode FROM tenants ORDER BY id", "");
	if (err != VIG_OK)
		return err;
	vig_time_format(now, gen);
	*out = json_pack("{s:s,s:o}", "generated", gen, "tenants", tenants);
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
