/*
 * store.c - report definitions and runs in the control DB: validation, tenancy, the audit row of
 * every change, the schedule (next slot from the last scheduled run), the run queue the worker
 * takes from, the execution of one run into its file, and retention. See report.h.
 *
 * A run's life: vig_report_run_queue() / vig_report_schedule_due() insert it queued;
 * vig_report_run_take() marks it running; vig_report_run_execute() renders it and marks it done
 * or failed; vig_report_expire() deletes it with its file. Each step is one guarded UPDATE.
 */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "auth/audit.h"
#include "common/vtime.h"
#include "notify/notify.h"

#define DEF_COLS "id, tenant_id, name, kind, format, period, schedule, recipients, enabled, created, created_by, sched_from"
#define RUN_COLS "id, report_id, tenant_id, name, kind, format, status, progress, range_from, range_to," \
	" requested_by, created, started, finished, size, sha256, error"
#define SLOT_COLLAPSE_MAX 1000 /* missed slots skipped at once when vigild was down */
#define EXPIRE_BATCH 1000      /* runs deleted per vig_report_expire() */

/* A definition row. */
struct def {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char name[VIG_REPORT_NAME_MAX + 1];
	char kind[16], format[8], period[16], schedule[32];
	char *recipients; /* JSON array text (malloc'ed) */
	bool enabled;
	int64_t created, sched_from;
	char created_by[VIG_NAME_MAX];
};

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static json_t *time_or_null(sqlite3_stmt *st, int i)
{
	char s[VIG_TIME_STRLEN];

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	vig_time_format(sqlite3_column_int64(st, i), s);
	return json_string(s);
}

static json_t *text_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? json_null() : json_string(col_text(st, i));
}

/* The run object of a row selected with RUN_COLS. */
static json_t *run_json(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:o,s:s,s:o,s:o,s:o,s:I,s:o,s:o}",
			 "id", (json_int_t)sqlite3_column_int64(st, 0), "report_id",
			 (json_int_t)sqlite3_column_int64(st, 1), "tenant", col_text(st, 2), "name", col_text(st, 3),
			 "kind", col_text(st, 4), "format", col_text(st, 5), "status", col_text(st, 6), "progress",
			 sqlite3_column_int(st, 7), "from", time_or_null(st, 8), "to", time_or_null(st, 9),
			 "requested_by", col_text(st, 10), "created", time_or_null(st, 11), "started",
			 time_or_null(st, 12), "finished", time_or_null(st, 13), "size",
			 (json_int_t)sqlite3_column_int64(st, 14), "sha256", text_or_null(st, 15), "error",
			 text_or_null(st, 16));
}

/* The run with id (any tenant) into *out; VIG_ENOTFOUND. */
static enum vig_err run_load(sqlite3 *h, int64_t id, json_t **out, char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(
		h, errbuf, "SELECT " RUN_COLS " FROM report_runs WHERE id = ?1", "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	if (err == VIG_OK)
		*out = run_json(st);
	else if (err == VIG_ENOTFOUND)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such report run");
	sqlite3_finalize(st);
	if (err == VIG_OK && !*out)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return err;
}

static void def_release(struct def *d)
{
	free(d->recipients);
	d->recipients = NULL;
}

static void def_from_row(sqlite3_stmt *st, struct def *d)
{
	d->id = sqlite3_column_int64(st, 0);
	snprintf(d->tenant, sizeof(d->tenant), "%s", col_text(st, 1));
	snprintf(d->name, sizeof(d->name), "%s", col_text(st, 2));
	snprintf(d->kind, sizeof(d->kind), "%s", col_text(st, 3));
	snprintf(d->format, sizeof(d->format), "%s", col_text(st, 4));
	snprintf(d->period, sizeof(d->period), "%s", col_text(st, 5));
	snprintf(d->schedule, sizeof(d->schedule), "%s", col_text(st, 6));
	d->recipients = strdup(col_text(st, 7));
	d->enabled = sqlite3_column_int(st, 8) != 0;
	d->created = sqlite3_column_int64(st, 9);
	snprintf(d->created_by, sizeof(d->created_by), "%s", col_text(st, 10));
	d->sched_from = sqlite3_column_int64(st, 11);
}

/* Definition id visible to who (NULL: any) into *d. VIG_ENOTFOUND otherwise. */
static enum vig_err def_load(sqlite3 *h, const struct vig_principal *who, int64_t id, struct def *d,
			     char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf, "SELECT " DEF_COLS " FROM reports WHERE id = ?1", "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	memset(d, 0, sizeof(*d));
	if (err == VIG_OK)
		def_from_row(st, d);
	sqlite3_finalize(st);
	if (err == VIG_OK && who && !vig_principal_can_access_tenant(who, d->tenant))
		err = VIG_ENOTFOUND;
	if (err == VIG_ENOTFOUND)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such report");
	else if (err == VIG_OK && !d->recipients)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (err != VIG_OK)
		def_release(d);
	return err;
}

/* The slot after which d's next scheduled run comes: the later of when its schedule was set and
 * its last scheduled run. */
static int64_t sched_base(sqlite3 *h, const struct def *d)
{
	int64_t last = vig_db_int(h, 0, "SELECT max(slot) FROM report_runs WHERE report_id = ?1",
				  "i", d->id);

	return last > d->sched_from ? last : d->sched_from;
}

static json_t *def_json(sqlite3 *h, const struct def *d)
{
	struct vig_report_schedule s;
	sqlite3_stmt *st = NULL;
	json_t *o, *last = NULL, *rcpt = json_loads(d->recipients, 0, NULL);
	int64_t next = 0;
	char created[VIG_TIME_STRLEN], nexts[VIG_TIME_STRLEN];

	if (d->enabled && vig_report_schedule_parse(d->schedule, &s, NULL) == VIG_OK)
		next = vig_report_schedule_next(&s, sched_base(h, d));
	st = vig_db_stmt(h, NULL,
			 "SELECT " RUN_COLS
			 " FROM report_runs WHERE report_id = ?1 ORDER BY id DESC LIMIT 1",
			 "i", d->id);
	if (vig_db_row(h, st, NULL) == VIG_OK)
		last = run_json(st);
	sqlite3_finalize(st);
	vig_time_format(d->created, created);
	vig_time_format(next, nexts);
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:b,s:s,s:s,s:o,s:s?}", "id", (json_int_t)d->id, "tenant",
		      d->tenant, "name", d->name, "kind", d->kind, "format", d->format, "period", d->period,
		      "schedule", d->schedule, "recipients", rcpt ? rcpt : json_array(), "enabled", d->enabled,
		      "created", created, "created_by", d->created_by, "last_run", last ? last : json_null(),
		      "next_run", next ? nexts : NULL);
	return o;
}

/* ---- validation ---- */

bool vig_report_may_define(const struct vig_principal *who)
{
	return who->role == VIG_ROLE_ADMIN || who->role == VIG_ROLE_TIER3 || who->role == VIG_ROLE_TENANT_ADMIN;
}

static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = strlen(s);

	if (!at || at == s || !at[1] || strchr(at + 1, '@') || n > VIG_REPORT_EMAIL_MAX || !strchr(at, '.'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || strchr("<>()[]\\,;:\"", *s) || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

/* Applies the members of in to d (create: the required ones must be there). */
static enum vig_err def_apply(struct def *d, json_t *in, bool create, char *errbuf)
{
	static const char *const KEYS[] = {"name", "kind", "format", "period", "schedule", "recipients", "enabled",
					   "tenant"};
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v) {
		bool known = false;

		for (size_t i = 0; i < VIG_ARRAY_LEN(KEYS) - !create; i++)
			known |= !strcmp(k, KEYS[i]);
		if (!known)
			return vig_errf(errbuf, VIG_EINVAL, "unknown field '%s'", k);
	}
	if ((v = json_object_get(in, "name")) || create) {
		const char *s = json_string_value(v);

		if (!s || !*s || strlen(s) > VIG_REPORT_NAME_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "name: 1 to %d bytes", VIG_REPORT_NAME_MAX);
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20)
				return vig_errf(errbuf, VIG_EINVAL, "name: no control characters");
		snprintf(d->name, sizeof(d->name), "%s", s);
	}
	if ((v = json_object_get(in, "kind")) || create) {
		enum vig_report_kind x;

		if (!vig_report_kind_parse(json_string_value(v), &x))
			return vig_errf(errbuf, VIG_EINVAL, "kind: soc_summary, incidents, alerts or sla");
		snprintf(d->kind, sizeof(d->kind), "%s", vig_report_kind_name(x));
	}
	if ((v = json_object_get(in, "format")) || create) {
		enum vig_report_format x;

		if (!vig_report_format_parse(json_string_value(v), &x))
			return vig_errf(errbuf, VIG_EINVAL, "format: html, csv or json");
		snprintf(d->format, sizeof(d->format), "%s", vig_report_format_name(x));
	}
	if ((v = json_object_get(in, "period"))) {
		enum vig_report_period x;

		if (!vig_report_period_parse(json_string_value(v), &x))
			return vig_errf(errbuf, VIG_EINVAL, "period: last_24h, last_7d, last_30d or previous_month");
		snprintf(d->period, sizeof(d->period), "%s", vig_report_period_name(x));
	}
	if ((v = json_object_get(in, "schedule")) && !json_is_null(v)) {
		struct vig_report_schedule s;

		if (!json_is_string(v))
			return vig_errf(errbuf, VIG_EINVAL, "schedule: expected a string");
		if (vig_report_schedule_parse(json_string_value(v), &s, errbuf) != VIG_OK)
			return VIG_EINVAL;
		vig_report_schedule_format(&s, d->schedule);
	} else if (v) {
		snprintf(d->schedule, sizeof(d->schedule), "none");
	}
	if ((v = json_object_get(in, "recipients"))) {
		json_t *x;
		size_t i;

		if (!json_is_array(v) || json_array_size(v) > VIG_REPORT_RECIPIENTS_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "recipients: an array of at most %d e-mail addresses",
					VIG_REPORT_RECIPIENTS_MAX);
		json_array_foreach(v, i, x)
			if (!json_is_string(x) || !email_ok(json_string_value(x)))
				return vig_errf(errbuf, VIG_EINVAL, "recipients: '%s' is not an e-mail address",
						json_is_string(x) ? json_string_value(x) : "?");
		free(d->recipients);
		d->recipients = json_dumps(v, JSON_COMPACT);
		if (!d->recipients)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	if ((v = json_object_get(in, "enabled"))) {
		if (!json_is_boolean(v))
			return vig_errf(errbuf, VIG_EINVAL, "enabled: expected true or false");
		d->enabled = json_is_true(v);
	}
	return VIG_OK;
}

/* Appends the audit row of a change to a definition or run. */
static enum vig_err audit(sqlite3 *h, const struct vig_principal *who, const char *tenant, const char *action,
			  const char *type, int64_t id, json_t *before, json_t *after, int64_t now, char *errbuf)
{
	return vig_audit_append_json_locked(h, who, tenant, action, type, id, before, after, NULL, now, errbuf);
}

/* ---- definitions ---- */

/* Queues report.ready to each recipient of the finished run's definition as a direct e-mail
 * delivery (notify.h), inside the caller's transaction: the run is never done without them. */
static enum vig_err mail_recipients(sqlite3 *h, json_t *run, int64_t now, char *errbuf)
{
	char link[96], title[VIG_REPORT_NAME_MAX + 64];
	struct def d;
	json_t *rcpt, *addr, *data;
	enum vig_err err = VIG_OK;
	size_t i;

	if (def_load(h, NULL, json_integer_value(json_object_get(run, "report_id")), &d, NULL) != VIG_OK)
		return VIG_OK; /* the definition was deleted meanwhile: nobody to tell */
	rcpt = json_loads(d.recipients, 0, NULL);
	def_release(&d);
	snprintf(link, sizeof(link), "/api/v1/report-runs/%lld/download",
		 (long long)json_integer_value(json_object_get(run, "id")));
	snprintf(title, sizeof(title), "Report ready: %s", json_string_value(json_object_get(run, "name")));
	data = json_deep_copy(run);
	json_object_set_new(data, "download", json_string(link));
	struct vig_notify_event ev = {.tenant = json_string_value(json_object_get(run, "tenant")),
				      .kind = "report.ready", .severity = "informational", .title = title,
				      .data = data};
	json_array_foreach(rcpt, i, addr)
		if (err == VIG_OK && json_is_string(addr))
			err = vig_notify_direct_locked(h, &ev, "email", json_string_value(addr), now, errbuf);
	json_decref(data);
	json_decref(rcpt);
	return err;
}

/* Loads definition id for a change by who: visible (else VIG_ENOTFOUND), who may define (else
 * VIG_EPERM); *before gets its JSON. On failure d holds nothing. */
static enum vig_err def_for_change(sqlite3 *h, const struct vig_principal *who, int64_t id, struct def *d,
				   json_t **before, char *errbuf)
{
	enum vig_err err = def_load(h, who, id, d, errbuf);

	if (err != VIG_OK)
		return err;
	if (!vig_report_may_define(who))
		err = vig_errf(errbuf, VIG_EPERM, "defining reports needs admin, tier3 or tenant_admin");
	else if (!(*before = def_json(h, d)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (err != VIG_OK)
		def_release(d);
	return err;
}

enum vig_err vig_report_create(struct vig_db *db, const struct vig_principal *who, json_t *in, int64_t now,
			       json_t **out, char *errbuf)
{
	struct def d = {.enabled = true};
	const char *tenant = json_string_value(json_object_get(in, "tenant"));
	sqlite3_stmt *st = NULL;
	json_t *after = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc;

	if (!vig_report_may_define(who))
		return vig_errf(errbuf, VIG_EPERM, "defining reports needs admin, tier3 or tenant_admin");
	if (json_object_get(in, "tenant") && !tenant)
		return vig_errf(errbuf, VIG_EINVAL, "tenant: expected a string");
	if (tenant && !vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	snprintf(d.tenant, sizeof(d.tenant), "%s", tenant ? tenant : who->tenant);
	snprintf(d.period, sizeof(d.period), "last_7d");
	snprintf(d.schedule, sizeof(d.schedule), "none");
	snprintf(d.created_by, sizeof(d.created_by), "%s", who->username);
	d.created = d.sched_from = now;
	d.recipients = strdup("[]");
	if (!d.recipients)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = def_apply(&d, in, true, errbuf);
	if (err != VIG_OK)
		goto out_release;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		goto out_release;
	st = vig_db_stmt(h, errbuf,
			 "INSERT INTO reports (tenant_id, name, kind, format, period, schedule,"
			 " recipients, enabled, created, created_by, sched_from)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9)",
			 "tttttttiit", d.tenant, d.name, d.kind, d.format, d.period, d.schedule,
			 d.recipients, (int64_t)d.enabled, now, d.created_by);
	rc = st ? sqlite3_step(st) : SQLITE_ERROR;
	if (!st)
		err = VIG_EIO;
	else if (rc == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf,
			       sqlite3_extended_errcode(h) == SQLITE_CONSTRAINT_UNIQUE ? VIG_EEXIST
										       : VIG_EINVAL,
			       "report '%s' exists in tenant %s or the tenant does not", d.name,
			       d.tenant);
	else if (rc != SQLITE_DONE)
		err = vig_db_fail(h, errbuf);
	d.id = sqlite3_last_insert_rowid(h);
	sqlite3_finalize(st);
	if (err == VIG_OK && !(after = def_json(h, &d)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (err == VIG_OK)
		err = audit(h, who, d.tenant, "report.create", "report", d.id, NULL, after, now, errbuf);
	err = vig_db_tx_end(db, h, err, errbuf);
	if (err == VIG_OK && out)
		*out = json_incref(after);
	json_decref(after);
out_release:
	def_release(&d);
	return err;
}

/* The row of a definition list (h is locked). */
static json_t *def_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	struct def d;
	json_t *o;

	(void)ctx;
	def_from_row(st, &d);
	o = d.recipients ? def_json(h, &d) : NULL;
	def_release(&d);
	return o;
}

static json_t *run_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	(void)ctx;
	(void)h;
	return run_json(st);
}

/*
 * {"<key>": [rows...]} of sql, whose ?1 is the tenant scope (tenant, else the caller's own for a
 * customer, NULL = every tenant for a provider) and ?2, ?3 are a2, a3; row() makes each object.
 */
static enum vig_err list_json(struct vig_db *db, const struct vig_principal *who,
			      const char *tenant, const char *sql, int64_t a2, int64_t a3,
			      vig_db_row_fn *row, const char *key, json_t **out, char *errbuf)
{
	json_t *arr;
	enum vig_err err;

	if (tenant && !vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	if (!tenant && !who->provider)
		tenant = who->tenant;
	err = vig_db_rows(db, row, NULL, &arr, errbuf, sql, "tii", tenant, a2, a3);
	if (err != VIG_OK)
		return err;
	*out = json_pack("{s:o}", key, arr);
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_report_list(struct vig_db *db, const struct vig_principal *who, const char *tenant, int64_t now,
			     json_t **out, char *errbuf)
{
	(void)now;
	return list_json(db, who, tenant, "SELECT " DEF_COLS " FROM reports WHERE (?1 IS NULL OR tenant_id = ?1)"
			 " ORDER BY id LIMIT ?3", 0, VIG_REPORT_LIST_MAX, def_row, "reports", out, errbuf);
}

enum vig_err vig_report_get(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t now,
			    json_t **out, char *errbuf)
{
	struct def d;
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err = def_load(h, who, id, &d, errbuf);

	(void)now;
	if (err == VIG_OK) {
		*out = def_json(h, &d);
		if (!*out)
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		def_release(&d);
	}
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_report_update(struct vig_db *db, const struct vig_principal *who, int64_t id, json_t *patch,
			       int64_t now, json_t **out, char *errbuf)
{
	struct def d;
	sqlite3_stmt *st = NULL;
	json_t *before = NULL, *after = NULL;
	enum vig_err err;
	sqlite3 *h;

	if (!json_is_object(patch))
		return vig_errf(errbuf, VIG_EINVAL, "expected a JSON object");
	h = vig_db_lock(db);
	err = def_for_change(h, who, id, &d, &before, errbuf);
	if (err != VIG_OK) {
		vig_db_unlock(db);
		return err;
	}
	err = def_apply(&d, patch, false, errbuf);
	if (err == VIG_OK && (json_object_get(patch, "schedule") || json_object_get(patch, "enabled")))
		d.sched_from = now; /* a new or re-enabled schedule starts from now, not from the past */
	if (err == VIG_OK)
		err = vig_db_begin(h, errbuf);
	if (err == VIG_OK) {
		st = vig_db_stmt(
			h, errbuf,
			"UPDATE reports SET name = ?2, kind = ?3, format = ?4, period = ?5,"
			" schedule = ?6, recipients = ?7, enabled = ?8, sched_from = ?9 WHERE id = ?1",
			"ittttttii", id, d.name, d.kind, d.format, d.period, d.schedule,
			d.recipients, (int64_t)d.enabled, d.sched_from);
		if (!st)
			err = VIG_EIO;
		else if (sqlite3_step(st) != SQLITE_DONE)
			err = sqlite3_errcode(h) == SQLITE_CONSTRAINT
				      ? vig_errf(errbuf, VIG_EEXIST,
						 "report '%s' exists in tenant %s", d.name,
						 d.tenant)
				      : vig_db_fail(h, errbuf);
		sqlite3_finalize(st);
		if (err == VIG_OK && !(after = def_json(h, &d)))
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		if (err == VIG_OK)
			err = audit(h, who, d.tenant, "report.update", "report", id, before, after, now, errbuf);
		err = vig_db_end(h, err, errbuf);
	}
	vig_db_unlock(db);
	def_release(&d);
	json_decref(before);
	if (err == VIG_OK && out)
		*out = json_incref(after);
	json_decref(after);
	return err;
}

enum vig_err vig_report_delete(struct vig_db *db, const struct vig_principal *who, int64_t id, char *errbuf)
{
	struct def d;
	json_t *before = NULL;
	enum vig_err err;
	sqlite3 *h = vig_db_lock(db);
	int64_t now = vig_time_now();

	err = def_for_change(h, who, id, &d, &before, errbuf);
	if (err != VIG_OK) {
		vig_db_unlock(db);
		return err;
	}
	err = vig_db_begin(h, errbuf);
	if (err == VIG_OK) {
		char sql[160];

		snprintf(sql, sizeof(sql), "DELETE FROM report_runs WHERE report_id = %lld AND status = 'queued';"
			 "DELETE FROM reports WHERE id = %lld", (long long)id, (long long)id);
		err = vig_db_exec(h, sql, errbuf);
		if (err == VIG_OK)
			err = audit(h, who, d.tenant, "report.delete", "report", id, before, NULL, now, errbuf);
		err = vig_db_end(h, err, errbuf);
	}
	vig_db_unlock(db);
	def_release(&d);
	json_decref(before);
	return err;
}

/* ---- runs ---- */

/* Inserts a queued run of d for [from, to) (slot 0: on demand) inside the caller's transaction.
 * *id gets its id, 0 when the slot was already queued once (nothing inserted). */
static enum vig_err run_insert(sqlite3 *h, const struct vig_principal *who, const struct def *d, int64_t from,
			       int64_t to, int64_t slot, int64_t now, int64_t *id, char *errbuf)
{
	json_t *run = NULL;
	enum vig_err err;

	*id = 0;
	err = vig_db_do(h, errbuf,
			"INSERT OR IGNORE INTO report_runs (report_id, tenant_id, name, kind,"
			" format, range_from, range_to, slot, requested_by, created)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
			"ittttiinti", d->id, d->tenant, d->name, d->kind, d->format, from, to, slot,
			who->username[0] ? who->username : "system", now);
	if (err == VIG_OK && sqlite3_changes(h) == 1)
		*id = sqlite3_last_insert_rowid(h);
	if (err == VIG_OK && *id)
		err = run_load(h, *id, &run, errbuf);
	if (err == VIG_OK && *id)
		err = audit(h, who, d->tenant, "report.run", "report_run", *id, NULL, run, now, errbuf);
	json_decref(run);
	return err;
}

static int64_t queued_runs(sqlite3 *h)
{
	return vig_db_int(h, 0, "SELECT count(*) FROM report_runs WHERE status = 'queued'", "");
}

enum vig_err vig_report_run_queue(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t from,
				  int64_t to, int64_t now, int64_t max_queued, json_t **run, char *errbuf)
{
	struct def d;
	int64_t run_id = 0;
	enum vig_err err;
	sqlite3 *h;

	if (!from && !to) {
		enum vig_report_period p = VIG_REPORT_LAST_7D;

		h = vig_db_lock(db);
		err = def_load(h, who, id, &d, errbuf);
		vig_db_unlock(db);
		if (err != VIG_OK)
			return err;
		vig_report_period_parse(d.period, &p);
		vig_report_period_range(p, now, &from, &to);
		def_release(&d);
	}
	if (to <= from || to - from > VIG_REPORT_SPAN_MAX_DAYS * VIG_NS_PER_DAY)
		return vig_errf(errbuf, VIG_EINVAL, "to must be after from, at most %d days later",
				VIG_REPORT_SPAN_MAX_DAYS);
	h = vig_db_lock(db);
	err = def_load(h, who, id, &d, errbuf);
	if (err == VIG_OK && queued_runs(h) >= max_queued)
		err = vig_errf(errbuf, VIG_EBUSY, "%lld report runs are waiting; try again later", (long long)max_queued);
	if (err == VIG_OK && (err = vig_db_begin(h, errbuf)) == VIG_OK) {
		err = run_insert(h, who, &d, from, to, 0, now, &run_id, errbuf);
		err = vig_db_end(h, err, errbuf);
	}
	if (err == VIG_OK && run)
		err = run_load(h, run_id, run, errbuf);
	vig_db_unlock(db);
	def_release(&d);
	return err;
}

enum vig_err vig_report_schedule_due(struct vig_db *db, int64_t now, int64_t max_queued, size_t *queued,
				     char *errbuf)
{
	struct vig_principal sys;
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	size_t n = 0;

	vig_principal_system(&sys);
	err = vig_db_begin(h, errbuf);
	if (err == VIG_OK && !(st = vig_db_stmt(h, errbuf,
						"SELECT " DEF_COLS " FROM reports WHERE enabled = 1"
						" AND schedule != 'none' ORDER BY id",
						"")))
		err = VIG_EIO;
	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct vig_report_schedule s;
		enum vig_report_period p = VIG_REPORT_LAST_7D;
		struct def d;
		int64_t slot, next, from, to, id;

		def_from_row(st, &d);
		if (d.recipients && vig_report_schedule_parse(d.schedule, &s, NULL) == VIG_OK &&
		    (slot = vig_report_schedule_next(&s, sched_base(h, &d))) && slot <= now) {
			for (int i = 0; i < SLOT_COLLAPSE_MAX && (next = vig_report_schedule_next(&s, slot)) &&
					next <= now; i++)
				slot = next; /* missed slots collapse into the latest */
			if (queued_runs(h) >= max_queued) {
				def_release(&d);
				break; /* the next call queues it */
			}
			vig_report_period_parse(d.period, &p);
			vig_report_period_range(p, slot, &from, &to);
			err = run_insert(h, &sys, &d, from, to, slot, now, &id, errbuf);
			n += id != 0;
		}
		def_release(&d);
	}
	sqlite3_finalize(st);
	err = vig_db_end(h, err, errbuf);
	if (err != VIG_OK)
		n = 0;
	vig_db_unlock(db);
	if (queued)
		*queued = n;
	return err;
}

enum vig_err vig_report_runs_list(struct vig_db *db, const struct vig_principal *who, const char *tenant,
				  int64_t report_id, int64_t limit, json_t **out, char *errbuf)
{
	if (limit < 1 || limit > VIG_REPORT_LIST_MAX)
		limit = 100;
	return list_json(db, who, tenant, "SELECT " RUN_COLS " FROM report_runs WHERE (?1 IS NULL OR tenant_id = ?1)"
			 " AND (?2 = 0 OR report_id = ?2) ORDER BY id DESC LIMIT ?3", report_id, limit, run_row, "runs",
			 out, errbuf);
}

enum vig_err vig_report_run_get(struct vig_db *db, const struct vig_principal *who, int64_t id, json_t **out,
				char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	json_t *run = NULL;
	enum vig_err err = run_load(h, id, &run, errbuf);

	vig_db_unlock(db);
	if (err == VIG_OK && !vig_principal_can_access_tenant(who, json_string_value(json_object_get(run, "tenant")))) {
		json_decref(run);
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such report run");
	}
	if (err == VIG_OK)
		*out = run;
	return err;
}

enum vig_err vig_report_run_file(struct vig_db *db, const struct vig_principal *who, int64_t id, char *path,
				 size_t cap, enum vig_report_format *format, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = vig_db_stmt(
		h, errbuf, "SELECT tenant_id, status, path, format FROM report_runs WHERE id = ?1",
		"i", id);
	enum vig_err err = VIG_OK;

	if (!st) {
		err = VIG_EIO;
	} else {
		if (sqlite3_step(st) != SQLITE_ROW || !vig_principal_can_access_tenant(who, col_text(st, 0)))
			err = vig_errf(errbuf, VIG_ENOTFOUND, "no such report run");
		else if (strcmp(col_text(st, 1), "done") != 0 || !*col_text(st, 2))
			err = vig_errf(errbuf, VIG_ECONFLICT, "report run %lld is %s, not done", (long long)id,
				       col_text(st, 1));
		else if ((size_t)snprintf(path, cap, "%s", col_text(st, 2)) >= cap ||
			 !vig_report_format_parse(col_text(st, 3), format))
			err = vig_errf(errbuf, VIG_EINTERNAL, "report run %lld: bad path or format", (long long)id);
	}
	sqlite3_finalize(st);
	vig_db_unlock(db);
	return err;
}

/* ---- the worker's side ---- */

enum vig_err vig_report_run_take(struct vig_db *db, int64_t now, int64_t *id, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "UPDATE report_runs SET status = 'running', started = ?1, progress = 5"
			    " WHERE id = (SELECT min(id) FROM report_runs WHERE status = 'queued')"
			    " RETURNING id",
			    "i", now);
	enum vig_err err = st ? VIG_OK : VIG_EIO;

	*id = 0;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	vig_db_unlock(db);
	return err;
}

static void set_progress(struct vig_db *db, int64_t id, int pct)
{
	sqlite3 *h = vig_db_lock(db);
	char sql[128];

	snprintf(sql, sizeof(sql), "UPDATE report_runs SET progress = %d WHERE id = %lld AND status = 'running'", pct,
		 (long long)id);
	sqlite3_exec(h, sql, NULL, NULL, NULL);
	vig_db_unlock(db);
}

/* Writes data to dir/<tenant>/<id>.<ext> through a temporary file; the path into path. */
static enum vig_err write_file(const char *dir, const char *tenant, int64_t id, const char *ext,
			       const struct vig_buf *data, char *path, size_t cap, char *errbuf)
{
	char tmp[4200];
	int fd;
	ssize_t w;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, tenant);
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", tmp, strerror(errno));
	if ((size_t)snprintf(path, cap, "%s/%s/%lld.%s", dir, tenant, (long long)id, ext) >= cap)
		return vig_errf(errbuf, VIG_EINVAL, "report path too long");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", tmp, strerror(errno));
	w = data->len ? write(fd, data->data, data->len) : 0;
	if (w != (ssize_t)data->len || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		if (w != (ssize_t)data->len)
			close(fd);
		unlink(tmp);
		return vig_errf(errbuf, VIG_EIO, "cannot write %s: %s", path, strerror(errno));
	}
	return VIG_OK;
}

/* Renders run r (a run object) into buf; the file's path into path. */
static enum vig_err produce(struct vig_db *db, json_t *r, const char *dir, int64_t now, struct vig_buf *buf,
			    char *path, size_t cap, char *errbuf)
{
	enum vig_report_kind kind;
	enum vig_report_format format;
	int64_t from = 0, to = 0, id = json_integer_value(json_object_get(r, "id"));
	const char *fs = json_string_value(json_object_get(r, "from")), *ts = json_string_value(json_object_get(r, "to"));
	const char *tenant = json_string_value(json_object_get(r, "tenant"));
	json_t *model = NULL;
	enum vig_err err;

	if (!vig_report_kind_parse(json_string_value(json_object_get(r, "kind")), &kind) ||
	    !vig_report_format_parse(json_string_value(json_object_get(r, "format")), &format) || !fs || !ts ||
	    !vig_time_parse(fs, strlen(fs), &from) || !vig_time_parse(ts, strlen(ts), &to) || !tenant)
		return vig_errf(errbuf, VIG_EINTERNAL, "report run %lld: bad row", (long long)id);
	err = vig_report_build(db, tenant, kind, from, to, now, &model, errbuf);
	if (err != VIG_OK)
		return err;
	set_progress(db, id, 50);
	err = vig_report_render(model, format, buf, errbuf);
	json_decref(model);
	if (err != VIG_OK)
		return err;
	set_progress(db, id, 80);
	return write_file(dir, tenant, id, vig_report_format_name(format), buf, path, cap, errbuf);
}

enum vig_err vig_report_run_execute(struct vig_db *db, int64_t id, const char *dir, int64_t now, size_t max_bytes,
				    json_t **run, char *errbuf)
{
	struct vig_principal sys;
	struct vig_buf buf;
	char path[4096] = "", why[VIG_ERRBUF_SIZE] = "", hex[65] = "";
	uint8_t md[32];
	json_t *r = NULL, *after = NULL;
	enum vig_err err, outcome;
	sqlite3 *h = vig_db_lock(db);

	err = run_load(h, id, &r, errbuf);
	vig_db_unlock(db);
	if (err != VIG_OK)
		return err;
	vig_principal_system(&sys);
	vig_buf_init(&buf, max_bytes ? max_bytes : VIG_REPORT_BYTES_MAX);
	outcome = produce(db, r, dir, now, &buf, path, sizeof(path), why);
	if (outcome == VIG_OK) {
		vig_sha256(buf.data ? buf.data : "", buf.len, md);
		vig_hex(md, sizeof(md), hex);
	}
	h = vig_db_lock(db);
	err = vig_db_begin(h, errbuf);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"UPDATE report_runs SET status = ?2, progress = ?3, finished = ?4,"
				" size = ?5, sha256 = ?6, error = ?7, path = ?8 WHERE id = ?1"
				" AND status = 'running'",
				"itiiittt", id, outcome == VIG_OK ? "done" : "failed",
				(int64_t)(outcome == VIG_OK ? 100 : 0), now,
				(int64_t)(outcome == VIG_OK ? buf.len : 0),
				outcome == VIG_OK ? hex : NULL, outcome == VIG_OK ? NULL : why,
				outcome == VIG_OK ? path : NULL);
	if (err == VIG_OK && sqlite3_changes(h) != 1)
		err = vig_errf(errbuf, VIG_ECONFLICT, "report run %lld is not running",
			       (long long)id);
	if (err == VIG_OK)
		err = run_load(h, id, &after, errbuf);
	if (err == VIG_OK)
		err = audit(h, &sys, json_string_value(json_object_get(r, "tenant")),
			    outcome == VIG_OK ? "report_run.done" : "report_run.failed", "report_run", id, r, after, now,
			    errbuf);
	if (err == VIG_OK && outcome == VIG_OK)
		err = mail_recipients(h, after, now, errbuf);
	err = vig_db_end(h, err, errbuf);
	if (err != VIG_OK && outcome == VIG_OK)
		unlink(path);
	if (err == VIG_OK && run) {
		struct def d;

		if (def_load(h, NULL, json_integer_value(json_object_get(after, "report_id")), &d, NULL) == VIG_OK) {
			json_object_set_new(after, "recipients", json_loads(d.recipients, 0, NULL));
			def_release(&d);
		}
		*run = json_incref(after);
	}
	vig_db_unlock(db);
	vig_buf_release(&buf);
	json_decref(r);
	json_decref(after);
	if (err != VIG_OK)
		return err;
	return outcome == VIG_OK ? VIG_OK : vig_errf(errbuf, outcome, "%s", why);
}

enum vig_err vig_report_recover(struct vig_db *db, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err =
		vig_db_exec(h,
			    "UPDATE report_runs SET status = 'queued', progress = 0, started = NULL"
			    " WHERE status = 'running'",
			    errbuf);

	vig_db_unlock(db);
	return err;
}

enum vig_err vig_report_expire(struct vig_db *db, int64_t now, int64_t keep_days, size_t *removed, char *errbuf)
{
	struct vig_principal sys;
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	int64_t cutoff = now - keep_days * VIG_NS_PER_DAY;
	enum vig_err err;
	size_t n = 0;

	vig_principal_system(&sys);
	err = vig_db_begin(h, errbuf);
	if (err == VIG_OK &&
	    !(st = vig_db_stmt(
		      h, errbuf,
		      "SELECT id, tenant_id, path FROM report_runs WHERE status IN ('done', 'failed')"
		      " AND finished < ?1 ORDER BY id LIMIT ?2",
		      "ii", cutoff, (int64_t)EXPIRE_BATCH)))
		err = VIG_EIO;
	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		if (*col_text(st, 2) && unlink(col_text(st, 2)) != 0 && errno != ENOENT) {
			err = vig_errf(errbuf, VIG_EIO, "cannot delete %s: %s", col_text(st, 2), strerror(errno));
			break;
		}
		err = vig_db_do(h, errbuf, "DELETE FROM report_runs WHERE id = ?1", "i", id);
		if (err == VIG_OK)
			err = audit(h, &sys, col_text(st, 1), "report_run.expire", "report_run", id, NULL, NULL, now,
				    errbuf);
		n += err == VIG_OK;
	}
	sqlite3_finalize(st);
	err = vig_db_end(h, err, errbuf);
	vig_db_unlock(db);
	if (removed)
		*removed = err == VIG_OK ? n : 0;
	return err;
}
