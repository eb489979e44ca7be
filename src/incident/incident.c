/*
 * incident.c - incidents as tickets in the control DB: create, list, read with everything
 * attached, lifecycle changes, comments, tasks, observables with sightings, attaching and
 * detaching alerts, merge, split and automatic grouping. See incident.h for the model.
 *
 * Every writing function follows one shape: lock the DB, BEGIN IMMEDIATE, read the incident
 * (checking the caller may see its tenant; a foreign one is "not found"), change rows, append
 * a timeline row and an audit row, bump `updated`, COMMIT, unlock. Any failure rolls the whole
 * change back, so an incident, its timeline and the audit chain never disagree.
 */
#include "incident/incident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "common/vtime.h"
#include "sql_int.h"

static const char *const STATUS[VIG_INC_STATUS__COUNT] = {
	"new", "acknowledged", "investigating", "contained", "resolved", "closed",
};
static const char *const RESOLUTIONS[] = {"true_positive", "false_positive", "benign", "duplicate"};
static const char *const PRIORITIES[] = {"p1", "p2", "p3", "p4"};
static const char *const OBS_TYPES[] = {"ip", "domain", "hostname", "url", "user", "email",
					"hash", "file", "other"};
static const char *const TLPS[] = {"clear", "white", "green", "amber", "amber+strict", "red"};

const char *vig_inc_status_name(enum vig_inc_status s)
{
	return (unsigned)s < VIG_INC_STATUS__COUNT ? STATUS[s] : "unknown";
}

bool vig_inc_status_parse(const char *s, enum vig_inc_status *out)
{
	if (!s)
		return false;
	if (!strcmp(s, "open")) { /* the foundation's default for the column */
		*out = VIG_INC_NEW;
		return true;
	}
	for (int i = 0; i < VIG_INC_STATUS__COUNT; i++)
		if (!strcmp(s, STATUS[i])) {
			*out = (enum vig_inc_status)i;
			return true;
		}
	return false;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

bool vig_inc_resolution_valid(const char *s)
{
	return in_list(s, RESOLUTIONS, VIG_ARRAY_LEN(RESOLUTIONS));
}

bool vig_inc_transition_ok(enum vig_inc_status from, enum vig_inc_status to)
{
	if (to == from || to > from)
		return true;
	/* back: only a reopen of a finished incident */
	return (from == VIG_INC_RESOLVED || from == VIG_INC_CLOSED) && to == VIG_INC_INVESTIGATING;
}

/* ---- SQL helpers ---- */

json_t *vig_inc_time_json(sqlite3_stmt *st, int col)
{
	char buf[VIG_TIME_STRLEN];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	vig_time_format(sqlite3_column_int64(st, col), buf);
	return json_string(buf);
}

json_t *vig_inc_text_json(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	return s ? json_string((const char *)s) : json_null();
}

#define INC_COLS                                                                                   \
	"id, tenant_id, title, description, status, resolution, severity, priority, type, owner,"   \
	" tags, created, updated, acknowledged, contained, resolved, closed, group_key,"            \
	" (SELECT count(*) FROM alerts a WHERE a.incident_id = incidents.id)"

/* The incident row of st (selected with INC_COLS) as JSON. */
static json_t *row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_t *tags;
	enum vig_inc_status s = VIG_INC_NEW;
	const char *status = (const char *)sqlite3_column_text(st, 4);
	const char *tags_text = (const char *)sqlite3_column_text(st, 10);

	if (!o)
		return NULL;
	vig_inc_status_parse(status, &s);
	tags = tags_text ? json_loads(tags_text, 0, NULL) : NULL;
	if (!json_is_array(tags)) {
		json_decref(tags);
		tags = json_array();
	}
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "tenant", vig_inc_text_json(st, 1));
	json_object_set_new(o, "title", vig_inc_text_json(st, 2));
	json_object_set_new(o, "description", vig_inc_text_json(st, 3));
	json_object_set_new(o, "status", json_string(vig_inc_status_name(s)));
	json_object_set_new(o, "resolution", vig_inc_text_json(st, 5));
	json_object_set_new(o, "severity", vig_inc_text_json(st, 6));
	json_object_set_new(o, "priority", vig_inc_text_json(st, 7));
	json_object_set_new(o, "type", vig_inc_text_json(st, 8));
	json_object_set_new(o, "owner", vig_inc_text_json(st, 9));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "created", vig_inc_time_json(st, 11));
	json_object_set_new(o, "updated", vig_inc_time_json(st, 12));
	json_object_set_new(o, "acknowledged", vig_inc_time_json(st, 13));
	json_object_set_new(o, "contained", vig_inc_time_json(st, 14));
	json_object_set_new(o, "resolved", vig_inc_time_json(st, 15));
	json_object_set_new(o, "closed", vig_inc_time_json(st, 16));
	json_object_set_new(o, "group_key", vig_inc_text_json(st, 17));
	json_object_set_new(o, "alert_count", json_integer(sqlite3_column_int64(st, 18)));
	return o;
}

/* Reads incident id as JSON into *out if who may see it; VIG_ENOTFOUND otherwise. */
static enum vig_err load(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out,
			 char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf, "SELECT " INC_COLS " FROM incidents WHERE id = ?1", "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	*out = NULL;
	if (err == VIG_OK && who &&
	    !vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 1)))
		err = VIG_ENOTFOUND;
	if (err == VIG_ENOTFOUND)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found", (long long)id);
	else if (err == VIG_OK && !(*out = row_json(st)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	sqlite3_finalize(st);
	return err;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Appends a timeline row and the audit row of one change, and bumps `updated`. */
static enum vig_err record(sqlite3 *h, const struct vig_principal *who, const char *tenant, int64_t id,
			   const char *action, const char *summary, json_t *before, json_t *after,
			   const char *reason, int64_t now, char *errbuf)
{
	char idbuf[24];
	char *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *actor = who ? who->username : "system";
	enum vig_err err;

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	err = vig_db_do(
		h, errbuf,
		"INSERT INTO incident_timeline (incident_id, tenant_id, ts, actor, kind, summary, detail)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		"ititttt", id, tenant, now, actor, action, summary, a);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf, "UPDATE incidents SET updated = ?2 WHERE id = ?1", "ii",
				id, now);
	if (err == VIG_OK) {
		struct vig_principal sys;

		if (!who) {
			vig_principal_system(&sys);
			who = &sys;
		}
		err = vig_audit_append_locked(h, who, tenant, action, "incident", idbuf, b, a, reason,
					      now, NULL, errbuf);
	}
	free(b);
	free(a);
	return err;
}

/* ---- alerts and observables ---- */

/* Adds an observable unless present; source "alert" or "manual". */
static enum vig_err obs_put(sqlite3 *h, int64_t id, const char *tenant, const char *type,
			    const char *value, const char *tlp, const char *pap, const char *source,
			    int64_t now, int64_t *obs_id, char *errbuf)
{
	enum vig_err err;

	if (!value || !*value)
		return VIG_OK;
	err = vig_db_do(
		h, errbuf,
		"INSERT OR IGNORE INTO incident_observables (incident_id, tenant_id, type, value,"
		" tlp, pap, source, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		"itttttti", id, tenant, type, value, tlp ? tlp : "amber", pap ? pap : "amber",
		source, now);
	if (err == VIG_OK && obs_id)
		*obs_id = vig_db_int(h, 0,
				     "SELECT id FROM incident_observables WHERE incident_id = ?1"
				     " AND type = ?2 AND value = ?3",
				     "itt", id, type, value);
	return err;
}

/* Is s an IPv4 or IPv6 address (a cheap shape check: digits/hex, dots or colons)? */
static bool looks_ip(const char *s)
{
	bool colon = strchr(s, ':') != NULL;

	for (const char *p = s; *p; p++)
		if (!(*p == '.' || *p == ':' || (*p >= '0' && *p <= '9') ||
		      (colon && ((*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F')))))
			return false;
	return *s != '\0';
}

/*
 * Attaches alert aid to incident id in tenant: the alert must be visible (same tenant) and in
 * no incident (or in `from` when from > 0). Extracts its host, user and entity as observables.
 * *severity (may be NULL) receives the alert's severity name into a 16-byte buffer.
 */
static enum vig_err attach_one(sqlite3 *h, int64_t id, const char *tenant, int64_t aid, int64_t from,
			       int64_t now, char severity[16], char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(
		h, errbuf,
		"SELECT tenant_id, incident_id, host, user, data, severity FROM alerts WHERE id = ?1",
		"i", aid);
	enum vig_err err = VIG_OK;
	char host[VIG_ALERT_TEXT_MAX] = "", user[VIG_ALERT_TEXT_MAX] = "";
	char efield[32] = "", evalue[VIG_ALERT_TEXT_MAX] = "";

	if (!st)
		return VIG_EIO;
	if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), tenant) != 0) {
		sqlite3_finalize(st);
		return vig_errf(errbuf, VIG_ENOTFOUND, "alert %lld not found in tenant %s", (long long)aid, tenant);
	}
	if (sqlite3_column_type(st, 1) != SQLITE_NULL && sqlite3_column_int64(st, 1) != from &&
	    sqlite3_column_int64(st, 1) != id) {
		long long other = sqlite3_column_int64(st, 1);

		sqlite3_finalize(st);
		return vig_errf(errbuf, VIG_ECONFLICT, "alert %lld is already in incident %lld", (long long)aid, other);
	}
	if (sqlite3_column_text(st, 2))
		snprintf(host, sizeof(host), "%s", (const char *)sqlite3_column_text(st, 2));
	if (sqlite3_column_text(st, 3))
		snprintf(user, sizeof(user), "%s", (const char *)sqlite3_column_text(st, 3));
	if (sqlite3_column_text(st, 4)) {
		json_t *d = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
		json_t *e = json_object_get(d, "entity");

		if (jstr(e, "field") && jstr(e, "value")) {
			snprintf(efield, sizeof(efield), "%s", jstr(e, "field"));
			snprintf(evalue, sizeof(evalue), "%s", jstr(e, "value"));
		}
		json_decref(d);
	}
	if (severity)
		snprintf(severity, 16, "%s", sqlite3_column_text(st, 5) ? (const char *)sqlite3_column_text(st, 5) : "medium");
	sqlite3_finalize(st);
	err = vig_db_do(h, errbuf, "UPDATE alerts SET incident_id = ?2 WHERE id = ?1", "ii", aid,
			id);
	if (err == VIG_OK)
		err = obs_put(h, id, tenant, looks_ip(host) ? "ip" : "hostname", host, NULL, NULL, "alert", now, NULL, errbuf);
	if (err == VIG_OK)
		err = obs_put(h, id, tenant, "user", user, NULL, NULL, "alert", now, NULL, errbuf);
	if (err == VIG_OK && !strcmp(efield, "source.ip"))
		err = obs_put(h, id, tenant, "ip", evalue, NULL, NULL, "alert", now, NULL, errbuf);
	return err;
}

static int sev_rank(const char *s)
{
	enum vig_alert_severity v;

	return s && vig_alert_severity_parse(s, &v) ? (int)v : -1;
}

/* ---- create ---- */

static enum vig_err check_text(const char *what, const char *s, size_t max, bool required, char *errbuf)
{
	if (!s) {
		if (required)
			return vig_errf(errbuf, VIG_EINVAL, "%s is required", what);
		return VIG_OK;
	}
	if (required && !*s)
		return vig_errf(errbuf, VIG_EINVAL, "%s is required", what);
	if (strlen(s) >= max)
		return vig_errf(errbuf, VIG_ETOOBIG, "%s is longer than %zu bytes", what, max - 1);
	return VIG_OK;
}

/* Checks a tags array: strings, at most VIG_INC_TAGS_MAX of at most VIG_INC_TAG_MAX-1 bytes. */
static enum vig_err check_tags(json_t *tags, char *errbuf)
{
	size_t i;
	json_t *t;

	if (!json_is_array(tags))
		return vig_errf(errbuf, VIG_EINVAL, "tags must be an array of strings");
	if (json_array_size(tags) > VIG_INC_TAGS_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "more than %d tags", VIG_INC_TAGS_MAX);
	json_array_foreach(tags, i, t) {
		if (!json_is_string(t) || !json_string_length(t) || json_string_length(t) >= VIG_INC_TAG_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "tag %zu must be a string of 1 to %d bytes", i,
					VIG_INC_TAG_MAX - 1);
	}
	return VIG_OK;
}

static enum vig_err insert_incident(sqlite3 *h, const char *tenant, const struct vig_inc_new *in,
				    const char *severity, const char *group_key, int64_t now,
				    int64_t *id, char *errbuf)
{
	char *tags = in->tags ? json_dumps(in->tags, JSON_COMPACT) : NULL;
	enum vig_err err = vig_db_do(
		h, errbuf,
		"INSERT INTO incidents (tenant_id, title, status, severity, owner, created,"
		" updated, description, priority, type, tags, group_key)"
		" VALUES (?1, ?2, 'new', ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
		"ttttittttt", tenant, in->title, severity, in->owner, now,
		in->description ? in->description : "", in->priority ? in->priority : "p3",
		in->type ? in->type : "", tags ? tags : "[]", group_key);

	free(tags);
	if (err == VIG_OK)
		*id = sqlite3_last_insert_rowid(h);
	return err;
}

/* Creates the incident inside an open transaction (shared by create, split and grouping). */
static enum vig_err create_locked(sqlite3 *h, const struct vig_principal *who, const char *tenant,
				  const struct vig_inc_new *in, const char *group_key, int64_t from,
				  int64_t now, int64_t *id, char *errbuf)
{
	enum vig_err err;
	char sev[16], best[16] = "";
	json_t *after = NULL;

	err = insert_incident(h, tenant, in, in->severity ? in->severity : "medium", group_key, now, id, errbuf);
	for (size_t i = 0; err == VIG_OK && i < in->n_alerts; i++) {
		err = attach_one(h, *id, tenant, in->alert_ids[i], from, now, sev, errbuf);
		if (err == VIG_OK && sev_rank(sev) > sev_rank(best))
			snprintf(best, sizeof(best), "%s", sev);
	}
	if (err == VIG_OK && !in->severity && *best)
		err = vig_db_do(h, errbuf, "UPDATE incidents SET severity = ?2 WHERE id = ?1", "it",
				*id, best);
	if (err == VIG_OK)
		err = load(h, NULL, *id, &after, errbuf);
	if (err == VIG_OK)
		err = record(h, who, tenant, *id, "incident.create", in->title, NULL, after, in->reason, now, errbuf);
	json_decref(after);
	return err;
}

static enum vig_err check_new(const struct vig_inc_new *in, char *errbuf)
{
	enum vig_err err = check_text("title", in->title, VIG_INC_TITLE_MAX, true, errbuf);

	if (err == VIG_OK)
		err = check_text("description", in->description, VIG_INC_TEXT_MAX, false, errbuf);
	if (err == VIG_OK)
		err = check_text("type", in->type, VIG_INC_TAG_MAX, false, errbuf);
	if (err == VIG_OK)
		err = check_text("owner", in->owner, VIG_NAME_MAX, false, errbuf);
	if (err == VIG_OK && in->severity && sev_rank(in->severity) < 0)
		err = vig_errf(errbuf, VIG_EINVAL, "unknown severity '%s'", in->severity);
	if (err == VIG_OK && in->priority && !in_list(in->priority, PRIORITIES, VIG_ARRAY_LEN(PRIORITIES)))
		err = vig_errf(errbuf, VIG_EINVAL, "priority must be p1, p2, p3 or p4");
	if (err == VIG_OK && in->tags)
		err = check_tags(in->tags, errbuf);
	if (err == VIG_OK && in->n_alerts > VIG_INC_ALERTS_MAX)
		err = vig_errf(errbuf, VIG_ETOOBIG, "more than %d alerts", VIG_INC_ALERTS_MAX);
	return err;
}

enum vig_err vig_inc_create(struct vig_db *db, const struct vig_principal *who,
			    const struct vig_inc_new *in, int64_t *id, char *errbuf)
{
	char tenant[VIG_NAME_MAX];
	sqlite3 *h;
	enum vig_err err = check_new(in, errbuf);

	if (err != VIG_OK)
		return err;
	snprintf(tenant, sizeof(tenant), "%s", in->tenant && *in->tenant ? in->tenant : who->tenant);
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = create_locked(h, who, tenant, in, NULL, 0, vig_time_now(), id, errbuf);
	return vig_db_tx_end(db, h, err, errbuf);
}

/* ---- read ---- */

enum vig_err vig_inc_list(struct vig_db *db, const struct vig_principal *who,
			  const struct vig_inc_filter *f, json_t **out, char *errbuf)
{
	static const struct vig_inc_filter none;
	char tenant[VIG_NAME_MAX] = "";
	int64_t limit;
	json_t *arr;
	sqlite3 *h;
	sqlite3_stmt *st;
	int rc;
	enum vig_err err = VIG_OK;
	bool all = who->provider;

	if (!f)
		f = &none;
	limit = f->limit > 0 && f->limit <= VIG_INC_LIST_MAX ? f->limit : 100;
	if (f->tenant && *f->tenant) {
		if (!vig_principal_can_access_tenant(who, f->tenant))
			return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", f->tenant);
		snprintf(tenant, sizeof(tenant), "%s", f->tenant);
		all = false;
	} else if (!all) {
		snprintf(tenant, sizeof(tenant), "%s", who->tenant);
	}
	if (f->status && *f->status && strcmp(f->status, "active") != 0) {
		enum vig_inc_status s;

		if (!vig_inc_status_parse(f->status, &s))
			return vig_errf(errbuf, VIG_EINVAL, "unknown status '%s'", f->status);
	}
	if (f->severity && *f->severity && sev_rank(f->severity) < 0)
		return vig_errf(errbuf, VIG_EINVAL, "unknown severity '%s'", f->severity);
	arr = json_array();
	if (!arr)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(db);
	st = vig_db_stmt(
		h, errbuf,
		"SELECT " INC_COLS " FROM incidents WHERE (?1 OR tenant_id = ?2)"
		" AND (?3 IS NULL OR (?3 = 'active' AND status NOT IN ('resolved', 'closed'))"
		"      OR status = ?3 OR (?3 = 'new' AND status = 'open'))"
		" AND (?4 IS NULL OR owner = ?4)"
		" AND (?5 < 0 OR CASE severity WHEN 'informational' THEN 0 WHEN 'low' THEN 1"
		"      WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE 2 END >= ?5)"
		" ORDER BY updated DESC, id DESC LIMIT ?6",
		"itttii", (int64_t)all, tenant, f->status && *f->status ? f->status : NULL,
		f->owner && *f->owner ? f->owner : NULL,
		(int64_t)(f->severity && *f->severity ? sev_rank(f->severity) : -1), limit);
	if (!st)
		err = VIG_EIO;
	while (err == VIG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = row_json(st);

		if (!o || json_array_append_new(arr, o) != 0)
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	if (err == VIG_OK && rc != SQLITE_DONE)
		err = vig_db_fail(h, errbuf);
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(arr);
		return err;
	}
	*out = json_pack("{s:o,s:I}", "incidents", arr, "count", (json_int_t)json_array_size(arr));
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

/* Appends the rows of sql (bound to id) to a new array in o[key], each row an object of the
 * named columns (names[i] for column i; a name ending in '@' is a time, '#' an integer). */
static enum vig_err rows_into(sqlite3 *h, json_t *o, const char *key, const char *sql, int64_t id,
			      const char *const *names, size_t n, char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(h, errbuf, sql, "ii", id, (int64_t)VIG_INC_DETAIL_MAX);
	json_t *arr = json_array();
	enum vig_err err = VIG_OK;
	int rc = SQLITE_DONE;

	if (!st || !arr) {
		json_decref(arr);
		sqlite3_finalize(st);
		return st ? vig_errf(errbuf, VIG_ENOMEM, "out of memory") : VIG_EIO;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();

		for (size_t i = 0; row && i < n; i++) {
			char name[32];
			size_t len = strlen(names[i]);
			char kind = names[i][len - 1];

			snprintf(name, sizeof(name), "%.*s", (int)(kind == '@' || kind == '#' ? len - 1 : len), names[i]);
			if (kind == '@')
				json_object_set_new(row, name, vig_inc_time_json(st, (int)i));
			else if (kind == '#')
				json_object_set_new(row, name, sqlite3_column_type(st, (int)i) == SQLITE_NULL
									? json_null()
									: json_integer(sqlite3_column_int64(st, (int)i)));
			else
				json_object_set_new(row, name, vig_inc_text_json(st, (int)i));
		}
		if (!row || json_array_append_new(arr, row) != 0) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			break;
		}
	}
	if (err == VIG_OK && rc != SQLITE_DONE)
		err = vig_db_fail(h, errbuf);
	sqlite3_finalize(st);
	if (err == VIG_OK)
		json_object_set_new(o, key, arr);
	else
		json_decref(arr);
	return err;
}

/* Adds "sightings" to each observable of o: other incidents of the tenant with the same one. */
static enum vig_err sightings(sqlite3 *h, json_t *o, int64_t id, char *errbuf)
{
	json_t *obs = json_object_get(o, "observables");
	size_t i;
	json_t *x;

	json_array_foreach(obs, i, x) {
		sqlite3_stmt *st = vig_db_stmt(
			h, errbuf,
			"SELECT i.id, i.title, i.status FROM incident_observables ob"
			" JOIN incidents i ON i.id = ob.incident_id"
			" WHERE ob.tenant_id = ?1 AND ob.type = ?2 AND ob.value = ?3 AND ob.incident_id != ?4"
			" ORDER BY i.updated DESC LIMIT 20",
			"ttti", jstr(o, "tenant"), jstr(x, "type"), jstr(x, "value"), id);
		json_t *arr = json_array();
		int rc;

		if (!st) {
			json_decref(arr);
			return VIG_EIO;
		}
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(arr, json_pack("{s:I,s:s,s:s}", "incident",
							     (json_int_t)sqlite3_column_int64(st, 0), "title",
							     (const char *)sqlite3_column_text(st, 1), "status",
							     (const char *)sqlite3_column_text(st, 2)));
		sqlite3_finalize(st);
		json_object_set_new(x, "sightings", arr);
		if (rc != SQLITE_DONE)
			return vig_db_fail(h, errbuf);
	}
	return VIG_OK;
}

static enum vig_err detail(sqlite3 *h, json_t *o, int64_t id, char *errbuf)
{
	static const char *const alert_cols[] = {"id#", "rule_id", "title", "severity", "status", "count#",
						 "first_seen@", "last_seen@", "host", "user"};
	static const char *const comment_cols[] = {"id#", "author", "body", "created@"};
	static const char *const task_cols[] = {"id#", "title", "owner", "status", "created@", "done_at@"};
	static const char *const obs_cols[] = {"id#", "type", "value", "tlp", "pap", "source", "created@"};
	static const char *const tl_cols[] = {"id#", "ts@", "actor", "kind", "summary"};
	enum vig_err err;

	err = rows_into(h, o, "alerts",
			"SELECT id, rule_id, title, severity, CASE status WHEN 'new' THEN 'open' ELSE status END,"
			" count, first_seen, last_seen, host, user FROM alerts WHERE incident_id = ?1"
			" ORDER BY last_seen DESC LIMIT ?2",
			id, alert_cols, VIG_ARRAY_LEN(alert_cols), errbuf);
	if (err == VIG_OK)
		err = rows_into(h, o, "comments",
				"SELECT id, author, body, created FROM incident_comments WHERE incident_id = ?1"
				" ORDER BY id LIMIT ?2",
				id, comment_cols, VIG_ARRAY_LEN(comment_cols), errbuf);
	if (err == VIG_OK)
		err = rows_into(h, o, "tasks",
				"SELECT id, title, owner, status, created, done_at FROM incident_tasks"
				" WHERE incident_id = ?1 ORDER BY id LIMIT ?2",
				id, task_cols, VIG_ARRAY_LEN(task_cols), errbuf);
	if (err == VIG_OK)
		err = rows_into(h, o, "observables",
				"SELECT id, type, value, tlp, pap, source, created FROM incident_observables"
				" WHERE incident_id = ?1 ORDER BY id LIMIT ?2",
				id, obs_cols, VIG_ARRAY_LEN(obs_cols), errbuf);
	if (err == VIG_OK)
		err = sightings(h, o, id, errbuf);
	if (err == VIG_OK)
		err = rows_into(h, o, "timeline",
				"SELECT id, ts, actor, kind, summary FROM incident_timeline WHERE incident_id = ?1"
				" ORDER BY ts, id LIMIT ?2",
				id, tl_cols, VIG_ARRAY_LEN(tl_cols), errbuf);
	return err;
}

enum vig_err vig_inc_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			 json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err = load(h, who, id, out, errbuf);

	if (err == VIG_OK)
		err = detail(h, *out, id, errbuf);
	vig_db_unlock(db);
	if (err == VIG_OK)
		err = vig_sla_annotate(db, *out, vig_time_now(), errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* ---- update ---- */

static enum vig_err apply_status(sqlite3 *h, json_t *cur, int64_t id, const char *to_name,
				 const char *resolution, int64_t now, char *errbuf)
{
	static const char *const stamp[VIG_INC_STATUS__COUNT] = {
		NULL, "acknowledged", NULL, "contained", "resolved", "closed",
	};
	enum vig_inc_status from, to;
	enum vig_err err = VIG_OK;

	if (!vig_inc_status_parse(to_name, &to) || !strcmp(to_name, "open"))
		return vig_errf(errbuf, VIG_EINVAL, "unknown status '%s'", to_name);
	vig_inc_status_parse(jstr(cur, "status"), &from);
	if (!vig_inc_transition_ok(from, to))
		return vig_errf(errbuf, VIG_ECONFLICT, "an incident cannot go from %s to %s",
				vig_inc_status_name(from), vig_inc_status_name(to));
	if (to >= VIG_INC_RESOLVED && !resolution && !jstr(cur, "resolution"))
		return vig_errf(errbuf, VIG_EINVAL, "a resolution is needed to %s an incident",
				to == VIG_INC_CLOSED ? "close" : "resolve");
	err = vig_db_do(h, errbuf, "UPDATE incidents SET status = ?2 WHERE id = ?1", "it", id,
			to_name);
	/* the first time each milestone up to `to` is reached; an incident resolved as anything
	 * but a true positive was never contained (its contain clock is "skipped") */
	const char *res = resolution ? resolution : jstr(cur, "resolution");
	bool contained = !(to >= VIG_INC_RESOLVED && res && strcmp(res, "true_positive") != 0);

	for (int s = VIG_INC_ACKNOWLEDGED; err == VIG_OK && s <= (int)to; s++) {
		char sql[128];

		if (!stamp[s] || (s == VIG_INC_CONTAINED && !contained))
			continue;
		snprintf(sql, sizeof(sql), "UPDATE incidents SET %s = ?2 WHERE id = ?1 AND %s IS NULL", stamp[s], stamp[s]);
		err = vig_db_do(h, errbuf, sql, "ii", id, now);
	}
	if (err == VIG_OK && to < from) /* reopen */
		err = vig_db_do(
			h, errbuf,
			"UPDATE incidents SET resolution = NULL, resolved = NULL, closed = NULL WHERE id = ?1",
			"i", id);
	return err;
}

enum vig_err vig_inc_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			    json_t *patch, const char *reason, json_t **after, char *errbuf)
{
	static const char *const keys[] = {"title", "description", "status", "resolution", "severity",
					   "priority", "owner", "type", "tags"};
	json_t *before = NULL, *now_json = NULL, *v;
	const char *k;
	const char *resolution = NULL;
	sqlite3 *h;
	enum vig_err err;
	int64_t now = vig_time_now();
	char summary[256] = "";

	if (!json_is_object(patch) || !json_object_size(patch))
		return vig_errf(errbuf, VIG_EINVAL, "the change must be a non-empty object");
	json_object_foreach(patch, k, v) {
		if (!in_list(k, keys, VIG_ARRAY_LEN(keys)))
			return vig_errf(errbuf, VIG_EINVAL, "unknown field '%s'", k);
		if (!strcmp(k, "tags")) {
			err = check_tags(v, errbuf);
		} else if (!strcmp(k, "owner") && json_is_null(v)) {
			err = VIG_OK;
		} else if (!json_is_string(v)) {
			err = vig_errf(errbuf, VIG_EINVAL, "%s must be a string", k);
		} else {
			const char *s = json_string_value(v);

			err = check_text(k, s, !strcmp(k, "description") ? VIG_INC_TEXT_MAX
					       : !strcmp(k, "title")   ? VIG_INC_TITLE_MAX
								       : VIG_NAME_MAX,
					 !strcmp(k, "title"), errbuf);
			if (err == VIG_OK && !strcmp(k, "severity") && sev_rank(s) < 0)
				err = vig_errf(errbuf, VIG_EINVAL, "unknown severity '%s'", s);
			if (err == VIG_OK && !strcmp(k, "priority") && !in_list(s, PRIORITIES, VIG_ARRAY_LEN(PRIORITIES)))
				err = vig_errf(errbuf, VIG_EINVAL, "priority must be p1, p2, p3 or p4");
			if (err == VIG_OK && !strcmp(k, "resolution") && !vig_inc_resolution_valid(s))
				err = vig_errf(errbuf, VIG_EINVAL,
					       "resolution must be true_positive, false_positive, benign or duplicate");
		}
		if (err != VIG_OK)
			return err;
	}
	resolution = jstr(patch, "resolution");
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = load(h, who, id, &before, errbuf);
	json_object_foreach(patch, k, v) {
		if (err != VIG_OK)
			break;
		if (!strcmp(k, "status")) {
			err = apply_status(h, before, id, json_string_value(v), resolution, now, errbuf);
		} else if (!strcmp(k, "tags")) {
			char *t = json_dumps(v, JSON_COMPACT);

			err = vig_db_do(h, errbuf, "UPDATE incidents SET tags = ?2 WHERE id = ?1",
					"it", id, t);
			free(t);
		} else {
			char sql[96];

			/* k is one of the fixed column names checked above */
			snprintf(sql, sizeof(sql), "UPDATE incidents SET %s = ?2 WHERE id = ?1", k);
			err = vig_db_do(h, errbuf, sql, "it", id,
					json_string_value(v)); /* null clears */
		}
		if (err == VIG_OK) {
			size_t len = strlen(summary);

			snprintf(summary + len, sizeof(summary) - len, "%s%s", len ? ", " : "changed ", k);
		}
	}
	if (err == VIG_OK)
		err = load(h, NULL, id, &now_json, errbuf);
	if (err == VIG_OK) {
		const char *action = json_object_get(patch, "status") ? "incident.status" : "incident.update";
		char st_summary[300];

		if (json_object_get(patch, "status"))
			snprintf(st_summary, sizeof(st_summary), "%s -> %s%s%s", jstr(before, "status"),
				 jstr(now_json, "status"), resolution ? " as " : "", resolution ? resolution : "");
		else
			snprintf(st_summary, sizeof(st_summary), "%s", summary);
		err = record(h, who, jstr(before, "tenant"), id, action, st_summary, before, now_json, reason,
			     now, errbuf);
	}
	err = vig_db_tx_end(db, h, err, errbuf);
	json_decref(before);
	json_decref(now_json);
	if (err == VIG_OK && after)
		err = vig_inc_get(db, who, id, after, errbuf);
	return err;
}

/* ---- comments, tasks, observables ---- */

/* Runs fn inside the standard change shape on incident id (see the top of the file). */
typedef enum vig_err change_fn(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
			       size_t cap, char *errbuf);

static enum vig_err change(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   const char *action, change_fn *fn, void *arg, char *errbuf)
{
	json_t *inc = NULL;
	sqlite3 *h;
	char summary[512] = "";
	int64_t now = vig_time_now();
	enum vig_err err = vig_db_tx_begin(db, &h, errbuf);

	if (err != VIG_OK)
		return err;
	err = load(h, who, id, &inc, errbuf);
	if (err == VIG_OK)
		err = fn(h, inc, arg, now, summary, sizeof(summary), errbuf);
	if (err == VIG_OK) {
		json_t *what = json_pack("{s:s}", "change", summary);

		err = record(h, who, jstr(inc, "tenant"), id, action, summary, NULL, what, NULL, now, errbuf);
		json_decref(what);
	}
	json_decref(inc);
	return vig_db_tx_end(db, h, err, errbuf);
}

/* Arguments of the small changes run through change(). */
struct op_arg {
	const struct vig_principal *who;
	const char *s1, *s2, *s3, *s4; /* texts, meaning per operation */
	const int64_t *ids;            /* alert ids */
	size_t n;
	bool flag;
	int64_t *out_id;               /* new row id, may be NULL */
};

static int64_t inc_id(json_t *inc)
{
	return json_integer_value(json_object_get(inc, "id"));
}

static enum vig_err do_comment(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
			       size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	enum vig_err err = vig_db_do(
		h, errbuf,
		"INSERT INTO incident_comments (incident_id, tenant_id, author, body, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
		"ittti", inc_id(inc), jstr(inc, "tenant"), a->who->username, a->s1, now);

	if (err == VIG_OK && a->out_id)
		*a->out_id = sqlite3_last_insert_rowid(h);
	snprintf(summary, cap, "comment: %.200s%s", a->s1, strlen(a->s1) > 200 ? "..." : "");
	return err;
}

enum vig_err vig_inc_comment(struct vig_db *db, const struct vig_principal *who, int64_t id,
			     const char *body, int64_t *comment_id, char *errbuf)
{
	struct op_arg a = {.who = who, .s1 = body, .out_id = comment_id};
	enum vig_err err = check_text("comment", body, VIG_INC_TEXT_MAX, true, errbuf);

	return err != VIG_OK ? err : change(db, who, id, "incident.comment", do_comment, &a, errbuf);
}

static enum vig_err do_task_add(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
				size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	enum vig_err err = vig_db_do(
		h, errbuf,
		"INSERT INTO incident_tasks (incident_id, tenant_id, title, owner, created)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
		"ittti", inc_id(inc), jstr(inc, "tenant"), a->s1, a->s2 && *a->s2 ? a->s2 : NULL,
		now);

	if (err == VIG_OK && a->out_id)
		*a->out_id = sqlite3_last_insert_rowid(h);
	snprintf(summary, cap, "task added: %.200s", a->s1);
	return err;
}

enum vig_err vig_inc_task_add(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const char *title, const char *owner, int64_t *task_id, char *errbuf)
{
	struct op_arg a = {.who = who, .s1 = title, .s2 = owner, .out_id = task_id};
	enum vig_err err = check_text("task title", title, VIG_INC_TITLE_MAX, true, errbuf);

	if (err == VIG_OK)
		err = check_text("owner", owner, VIG_NAME_MAX, false, errbuf);
	return err != VIG_OK ? err : change(db, who, id, "incident.task", do_task_add, &a, errbuf);
}

/* The incident a row of table (incident_tasks, incident_observables) belongs to, or 0. */
static int64_t parent_of(struct vig_db *db, const char *table, int64_t row_id)
{
	char sql[128];
	sqlite3 *h = vig_db_lock(db);
	int64_t id;

	snprintf(sql, sizeof(sql), "SELECT incident_id FROM %s WHERE id = ?1", table);
	id = vig_db_int(h, 0, sql, "i", row_id);
	vig_db_unlock(db);
	return id;
}

static enum vig_err do_task_update(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
				   size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	int64_t task = *a->out_id;
	enum vig_err err = VIG_OK;

	if (a->s1)
		err = vig_db_do(
			h, errbuf,
			"UPDATE incident_tasks SET status = ?3, done_at = CASE WHEN ?3 = 'done' THEN ?4 END"
			" WHERE id = ?1 AND incident_id = ?2",
			"iiti", task, inc_id(inc), a->s1, now);
	if (err == VIG_OK && a->s2)
		err = vig_db_do(
			h, errbuf,
			"UPDATE incident_tasks SET owner = ?3 WHERE id = ?1 AND incident_id = ?2",
			"iit", task, inc_id(inc), *a->s2 ? a->s2 : NULL);
	snprintf(summary, cap, "task %lld%s%s%s%s", (long long)task, a->s1 ? " marked " : "", a->s1 ? a->s1 : "",
		 a->s2 ? " owner " : "", a->s2 ? (*a->s2 ? a->s2 : "cleared") : "");
	return err;
}

enum vig_err vig_inc_task_update(struct vig_db *db, const struct vig_principal *who,
				 int64_t task_id, const char *status, const char *owner, char *errbuf)
{
	int64_t id = parent_of(db, "incident_tasks", task_id);
	struct op_arg a = {.who = who, .s1 = status, .s2 = owner, .out_id = &task_id};

	if (status && strcmp(status, "open") != 0 && strcmp(status, "done") != 0)
		return vig_errf(errbuf, VIG_EINVAL, "task status must be open or done");
	if (owner && strlen(owner) >= VIG_NAME_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "owner is too long");
	if (!status && !owner)
		return vig_errf(errbuf, VIG_EINVAL, "nothing to change");
	if (!id)
		return vig_errf(errbuf, VIG_ENOTFOUND, "task %lld not found", (long long)task_id);
	return change(db, who, id, "incident.task", do_task_update, &a, errbuf);
}

static enum vig_err do_obs_add(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
			       size_t cap, char *errbuf)
{
	struct op_arg *a = arg;

	snprintf(summary, cap, "observable %s %.200s (TLP:%s)", a->s1, a->s2, a->s3 ? a->s3 : "amber");
	return obs_put(h, inc_id(inc), jstr(inc, "tenant"), a->s1, a->s2, a->s3, a->s4, "manual", now,
		       a->out_id, errbuf);
}

enum vig_err vig_inc_observable_add(struct vig_db *db, const struct vig_principal *who, int64_t id,
				    const char *type, const char *value, const char *tlp,
				    const char *pap, int64_t *obs_id, char *errbuf)
{
	struct op_arg a = {.who = who, .s1 = type, .s2 = value, .s3 = tlp, .s4 = pap, .out_id = obs_id};

	if (!in_list(type, OBS_TYPES, VIG_ARRAY_LEN(OBS_TYPES)))
		return vig_errf(errbuf, VIG_EINVAL,
				"observable type must be ip, domain, hostname, url, user, email, hash, file or other");
	if (!value || !*value || strlen(value) >= VIG_INC_OBS_VALUE_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "observable value must be 1 to %d bytes", VIG_INC_OBS_VALUE_MAX - 1);
	if ((tlp && !in_list(tlp, TLPS, VIG_ARRAY_LEN(TLPS))) || (pap && !in_list(pap, TLPS, VIG_ARRAY_LEN(TLPS))))
		return vig_errf(errbuf, VIG_EINVAL, "tlp and pap must be clear, white, green, amber, amber+strict or red");
	return change(db, who, id, "incident.observable", do_obs_add, &a, errbuf);
}

static enum vig_err do_obs_delete(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
				  size_t cap, char *errbuf)
{
	struct op_arg *a = arg;

	(void)now;
	snprintf(summary, cap, "observable %lld removed", (long long)*a->out_id);
	return vig_db_do(h, errbuf,
			 "DELETE FROM incident_observables WHERE id = ?1 AND incident_id = ?2",
			 "ii", *a->out_id, inc_id(inc));
}

enum vig_err vig_inc_observable_delete(struct vig_db *db, const struct vig_principal *who,
				       int64_t obs_id, char *errbuf)
{
	int64_t id = parent_of(db, "incident_observables", obs_id);
	struct op_arg a = {.who = who, .out_id = &obs_id};

	if (!id)
		return vig_errf(errbuf, VIG_ENOTFOUND, "observable %lld not found", (long long)obs_id);
	return change(db, who, id, "incident.observable", do_obs_delete, &a, errbuf);
}

/* ---- alerts: attach, detach, merge, split ---- */

static enum vig_err do_alerts(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
			      size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	enum vig_err err = VIG_OK;
	size_t len = 0;

	len += (size_t)snprintf(summary, cap, "%s alert", a->flag ? "detached" : "attached");
	for (size_t i = 0; err == VIG_OK && i < a->n; i++) {
		if (a->flag)
			err = vig_db_do(
				h, errbuf,
				"UPDATE alerts SET incident_id = NULL WHERE id = ?1 AND incident_id = ?2",
				"ii", a->ids[i], inc_id(inc));
		else
			err = attach_one(h, inc_id(inc), jstr(inc, "tenant"), a->ids[i], 0, now, NULL, errbuf);
		if (len < cap)
			len += (size_t)snprintf(summary + len, cap - len, "%s %lld", i ? "," : "", (long long)a->ids[i]);
	}
	return err;
}

enum vig_err vig_inc_alerts(struct vig_db *db, const struct vig_principal *who, int64_t id,
			    const int64_t *alert_ids, size_t n, bool detach, char *errbuf)
{
	struct op_arg a = {.who = who, .ids = alert_ids, .n = n, .flag = detach};

	if (!n)
		return vig_errf(errbuf, VIG_EINVAL, "no alert ids given");
	if (n > VIG_INC_ALERTS_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "more than %d alerts", VIG_INC_ALERTS_MAX);
	return change(db, who, id, detach ? "incident.detach" : "incident.attach", do_alerts, &a, errbuf);
}

static enum vig_err do_merge(sqlite3 *h, json_t *into, void *arg, int64_t now, char *summary,
			     size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	int64_t from_id = *a->out_id, to = inc_id(into);
	json_t *from = NULL;
	enum vig_err err = load(h, a->who, from_id, &from, errbuf);

	if (err == VIG_OK && strcmp(jstr(from, "tenant"), jstr(into, "tenant")) != 0)
		err = vig_errf(errbuf, VIG_EINVAL, "incidents of different tenants cannot be merged");
	if (err == VIG_OK && from_id == to)
		err = vig_errf(errbuf, VIG_EINVAL, "an incident cannot be merged into itself");
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"UPDATE alerts SET incident_id = ?2 WHERE incident_id = ?1", "ii",
				from_id, to);
	if (err == VIG_OK)
		err = vig_db_do(
			h, errbuf,
			"UPDATE incident_comments SET incident_id = ?2 WHERE incident_id = ?1",
			"ii", from_id, to);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"UPDATE incident_tasks SET incident_id = ?2 WHERE incident_id = ?1",
				"ii", from_id, to);
	if (err == VIG_OK)
		err = vig_db_do(
			h, errbuf,
			"INSERT OR IGNORE INTO incident_observables (incident_id, tenant_id, type, value, tlp,"
			" pap, source, created) SELECT ?2, tenant_id, type, value, tlp, pap, source, created"
			" FROM incident_observables WHERE incident_id = ?1",
			"ii", from_id, to);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"UPDATE incidents SET status = 'closed', resolution = 'duplicate',"
				" closed = coalesce(closed, ?2), resolved = coalesce(resolved, ?2),"
				" acknowledged = coalesce(acknowledged, ?2) WHERE id = ?1",
				"ii", from_id, now);
	if (err == VIG_OK) {
		char s2[128];
		json_t *what = json_pack("{s:I}", "merged_into", (json_int_t)to);

		snprintf(s2, sizeof(s2), "merged into incident %lld", (long long)to);
		err = record(h, a->who, jstr(from, "tenant"), from_id, "incident.merge", s2, from, what, NULL, now, errbuf);
		json_decref(what);
	}
	snprintf(summary, cap, "merged incident %lld into this one", (long long)from_id);
	json_decref(from);
	return err;
}

enum vig_err vig_inc_merge(struct vig_db *db, const struct vig_principal *who, int64_t into,
			   int64_t from, char *errbuf)
{
	struct op_arg a = {.who = who, .out_id = &from};

	return change(db, who, into, "incident.merge", do_merge, &a, errbuf);
}

static enum vig_err do_split(sqlite3 *h, json_t *inc, void *arg, int64_t now, char *summary,
			     size_t cap, char *errbuf)
{
	struct op_arg *a = arg;
	char title[VIG_INC_TITLE_MAX];
	struct vig_inc_new in = {0};
	enum vig_err err = VIG_OK;

	for (size_t i = 0; i < a->n; i++) {
		if (!vig_db_int(h, 0, "SELECT 1 FROM alerts WHERE id = ?1 AND incident_id = ?2",
				"ii", a->ids[i], inc_id(inc)))
			return vig_errf(errbuf, VIG_ENOTFOUND, "alert %lld is not in incident %lld", (long long)a->ids[i],
					(long long)inc_id(inc));
	}
	if (a->s1)
		snprintf(title, sizeof(title), "%s", a->s1);
	else
		snprintf(title, sizeof(title), "%.*s (split)", VIG_INC_TITLE_MAX - 10, jstr(inc, "title"));
	in.title = title;
	in.severity = NULL;
	in.priority = jstr(inc, "priority");
	in.type = jstr(inc, "type");
	in.alert_ids = a->ids;
	in.n_alerts = a->n;
	err = create_locked(h, a->who, jstr(inc, "tenant"), &in, NULL, inc_id(inc), now, a->out_id, errbuf);
	snprintf(summary, cap, "split %zu alert%s into incident %lld", a->n, a->n == 1 ? "" : "s",
		 (long long)*a->out_id);
	return err;
}

enum vig_err vig_inc_split(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   const int64_t *alert_ids, size_t n, const char *title, int64_t *new_id,
			   char *errbuf)
{
	struct op_arg a = {.who = who, .ids = alert_ids, .n = n, .s1 = title, .out_id = new_id};

	if (!n)
		return vig_errf(errbuf, VIG_EINVAL, "no alert ids given");
	if (n > VIG_INC_ALERTS_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "more than %d alerts", VIG_INC_ALERTS_MAX);
	if (title && (!*title || strlen(title) >= VIG_INC_TITLE_MAX))
		return vig_errf(errbuf, VIG_EINVAL, "title must be 1 to %d bytes", VIG_INC_TITLE_MAX - 1);
	return change(db, who, id, "incident.split", do_split, &a, errbuf);
}

/* ---- automatic grouping ---- */

static const char *const GROUP_KEYS[] = {"host", "user", "rule", "source.ip"};

enum vig_err vig_inc_grouping_parse(const char *list, struct vig_inc_grouping *g, char *errbuf)
{
	const char *p = list;

	g->n_keys = 0;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		bool found = false;

		while (n && *p == ' ') {
			p++;
			n--;
		}
		for (size_t i = 0; n && i < VIG_ARRAY_LEN(GROUP_KEYS); i++) {
			if (strlen(GROUP_KEYS[i]) == n && !strncmp(p, GROUP_KEYS[i], n)) {
				if (g->n_keys == VIG_INC_GROUP_KEYS_MAX)
					return vig_errf(errbuf, VIG_ETOOBIG, "too many grouping keys");
				g->keys[g->n_keys++] = GROUP_KEYS[i];
				found = true;
			}
		}
		if (n && !found)
			return vig_errf(errbuf, VIG_EINVAL,
					"unknown grouping key '%.*s' (host, user, rule, source.ip)", (int)n, p);
		p += n;
		if (*p == ',')
			p++;
	}
	return VIG_OK;
}

enum vig_err vig_inc_group_alert(struct vig_db *db, const struct vig_inc_grouping *g, int64_t alert_id,
				 int64_t now, int64_t *incident_id, bool *created, char *errbuf)
{
	char tenant[VIG_NAME_MAX], title[VIG_ALERT_TEXT_MAX], sev[16];
	char key[1024] = "";
	size_t len = 0;
	bool any = false;
	sqlite3 *h;
	sqlite3_stmt *st;
	enum vig_err err;

	*incident_id = 0;
	*created = false;
	if (!g->n_keys)
		return VIG_OK;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	st = vig_db_stmt(h, errbuf,
			 "SELECT tenant_id, title, severity, host, user, rule_id, data, incident_id"
			 " FROM alerts WHERE id = ?1",
			 "i", alert_id);
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return vig_db_tx_end(db, h,
				     st ? vig_errf(errbuf, VIG_ENOTFOUND, "alert %lld not found",
						   (long long)alert_id)
					: VIG_EIO,
				     errbuf);
	}
	snprintf(tenant, sizeof(tenant), "%s", (const char *)sqlite3_column_text(st, 0));
	snprintf(title, sizeof(title), "%s", (const char *)sqlite3_column_text(st, 1));
	snprintf(sev, sizeof(sev), "%s", sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "medium");
	if (sqlite3_column_type(st, 7) != SQLITE_NULL || sev_rank(sev) < g->min_severity) {
		sqlite3_finalize(st);
		return vig_db_tx_end(db, h, VIG_OK,
				     errbuf); /* already grouped, or below the threshold */
	}
	for (size_t i = 0; i < g->n_keys; i++) {
		const char *v = NULL;
		json_t *data = NULL;

		if (!strcmp(g->keys[i], "host"))
			v = (const char *)sqlite3_column_text(st, 3);
		else if (!strcmp(g->keys[i], "user"))
			v = (const char *)sqlite3_column_text(st, 4);
		else if (!strcmp(g->keys[i], "rule"))
			v = (const char *)sqlite3_column_text(st, 5);
		else if (sqlite3_column_text(st, 6)) {
			json_t *e;

			data = json_loads((const char *)sqlite3_column_text(st, 6), 0, NULL);
			e = json_object_get(data, "entity");
			if (jstr(e, "field") && !strcmp(jstr(e, "field"), "source.ip"))
				v = jstr(e, "value");
		}
		if (v && *v)
			any = true;
		if (len < sizeof(key))
			len += (size_t)snprintf(key + len, sizeof(key) - len, "%s%s=%s", i ? "|" : "", g->keys[i],
						v ? v : "");
		json_decref(data);
	}
	sqlite3_finalize(st);
	if (!any || len >= sizeof(key))
		return vig_db_tx_end(db, h, VIG_OK, errbuf);
	*incident_id = vig_db_int(h, 0,
				  "SELECT id FROM incidents WHERE tenant_id = ?1 AND group_key = ?2"
				  " AND status NOT IN ('resolved', 'closed') AND updated >= ?3"
				  " ORDER BY updated DESC LIMIT 1",
				  "tti", tenant, key, now - g->window_ns);
	if (*incident_id) {
		char summary[96];
		json_t *what = json_pack("{s:I}", "alert", (json_int_t)alert_id);

		err = attach_one(h, *incident_id, tenant, alert_id, 0, now, sev, errbuf);
		/* the incident's severity follows its worst alert */
		if (err == VIG_OK)
			err = vig_db_do(
				h, errbuf,
				"UPDATE incidents SET severity = ?2 WHERE id = ?1 AND CASE severity"
				" WHEN 'informational' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2"
				" WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE 2 END < ?3",
				"iti", *incident_id, sev, (int64_t)sev_rank(sev));
		snprintf(summary, sizeof(summary), "alert %lld grouped in", (long long)alert_id);
		if (err == VIG_OK)
			err = record(h, NULL, tenant, *incident_id, "incident.attach", summary, NULL, what, NULL, now, errbuf);
		json_decref(what);
	} else {
		struct vig_inc_new in = {.title = title, .alert_ids = &alert_id, .n_alerts = 1,
					 .reason = "grouped automatically"};

		err = create_locked(h, NULL, tenant, &in, key, 0, now, incident_id, errbuf);
		*created = err == VIG_OK;
	}
	return vig_db_tx_end(db, h, err, errbuf);
}
