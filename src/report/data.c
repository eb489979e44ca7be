/*
 * data.c - the data of a report: SQL over the control DB (alerts, incidents, agents,
 * log_sources, blocklist) for one tenant and period, the SOC metrics of src/incident and the
 * SLA clocks of each incident, assembled into one JSON model that every format renders.
 *
 * Locking: the queries run under one vig_db_lock(); vig_soc_metrics() and vig_sla_annotate()
 * take the lock themselves, so they run after it is released.
 */
#include "report/report.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/vtime.h"
#include "incident/incident.h"

#define LIST_ROWS 50 /* agents, sources, blocked addresses listed in a summary */

static const char *const SEVERITIES[] = {"informational", "low", "medium", "high", "critical"};
static const char *const CLOCKS[] = {"acknowledge", "contain", "resolve"};
/* Integer columns that hold times (ns) and are written as RFC 3339. */
static const char *const TIME_COLS[] = {"created", "updated", "acknowledged", "contained", "resolved",
					"closed", "first_seen", "last_seen", "last_received", "expires"};

static bool is_time_col(const char *name)
{
	for (size_t i = 0; i < VIG_ARRAY_LEN(TIME_COLS); i++)
		if (!strcmp(TIME_COLS[i], name))
			return true;
	return false;
}

static json_t *time_json(int64_t ns)
{
	char s[VIG_TIME_STRLEN];

	if (ns <= 0)
		return json_null();
	vig_time_format(ns, s);
	return json_string(s);
}

/* The current row as an object named by the result's column names. */
static json_t *row_json(sqlite3_stmt *st)
{
	json_t *o = json_object();

	for (int i = 0; o && i < sqlite3_column_count(st); i++) {
		const char *name = sqlite3_column_name(st, i);
		json_t *v;

		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v = is_time_col(name) ? time_json(sqlite3_column_int64(st, i))
					      : json_integer(sqlite3_column_int64(st, i));
			break;
		case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
		case SQLITE_TEXT: v = json_string((const char *)sqlite3_column_text(st, i)); break;
		default: v = json_null(); break;
		}
		json_object_set_new(o, name, v ? v : json_null());
	}
	return o;
}

/*
 * Runs sql with ?1 tenant, ?2 from, ?3 to, ?4 limit and returns its rows as an array (NULL on
 * a database error, with errbuf). *truncated (may be NULL) says whether limit rows came back.
 */
static json_t *rows(sqlite3 *h, const char *sql, const char *tenant, int64_t from, int64_t to,
		    int64_t limit, bool *truncated, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc;

	if (!arr || sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		json_decref(arr);
		vig_errf(errbuf, VIG_EIO, "report db: %s", sqlite3_errmsg(h));
		return NULL;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	sqlite3_bind_int64(st, 4, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, row_json(st));
	if (rc != SQLITE_DONE) {
		vig_errf(errbuf, VIG_EIO, "report db: %s", sqlite3_errmsg(h));
		json_decref(arr);
		arr = NULL;
	}
	sqlite3_finalize(st);
	if (truncated)
		*truncated = arr && (int64_t)json_array_size(arr) >= limit;
	return arr;
}

/* {"<first column>": <second column>, ...} of a two-column query with the rows() bindings. */
static json_t *counts(sqlite3 *h, const char *sql, const char *tenant, int64_t from, int64_t to,
		      char *errbuf)
{
	json_t *arr = rows(h, sql, tenant, from, to, 1000, NULL, errbuf), *o, *row;
	size_t i;

	if (!arr)
		return NULL;
	o = json_object();
	json_array_foreach(arr, i, row) {
		const char *k = NULL;
		json_t *v = NULL;
		void *it = json_object_iter(row);

		if (it) {
			k = json_string_value(json_object_iter_value(it));
			it = json_object_iter_next(row, it);
			v = it ? json_object_iter_value(it) : NULL;
		}
		if (o && k && v)
			json_object_set(o, k, v);
	}
	json_decref(arr);
	return o;
}

/* One integer from a query with the rows() bindings; -1 on error. */
static int64_t scalar(sqlite3 *h, const char *sql, const char *tenant, int64_t from, int64_t to)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Sets key of o to v (stolen); false (and o untouched) when v is NULL. */
static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

/* ---- soc_summary ---- */

/* Alerts by severity per UTC day of [from, to), every day present, zeros included. */
static json_t *alerts_by_day(sqlite3 *h, const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	json_t *arr = json_array(), *raw;
	int64_t d0 = vig_time_day(from), d1 = vig_time_day(to - 1), day;
	size_t i;

	raw = rows(h,
		   "SELECT first_seen / 86400000000000 AS day, severity, count(*) AS n FROM alerts"
		   " WHERE tenant_id = ?1 AND first_seen >= ?2 AND first_seen < ?3 GROUP BY 1, 2 LIMIT ?4",
		   tenant, from, to, 100000, NULL, errbuf);
	if (!arr || !raw) {
		json_decref(arr);
		json_decref(raw);
		return NULL;
	}
	for (day = d0; day <= d1 && day - d0 <= VIG_REPORT_SPAN_MAX_DAYS; day++) {
		char ds[16];
		int y, m, d;
		json_t *o = json_object(), *row;

		vig_time_civil(day, &y, &m, &d);
		snprintf(ds, sizeof(ds), "%04d-%02d-%02d", y, m, d);
		json_object_set_new(o, "day", json_string(ds));
		for (size_t s = 0; s < VIG_ARRAY_LEN(SEVERITIES); s++)
			json_object_set_new(o, SEVERITIES[s], json_integer(0));
		json_array_foreach(raw, i, row) {
			const char *sev = json_string_value(json_object_get(row, "severity"));

			if (json_integer_value(json_object_get(row, "day")) == day && sev &&
			    json_object_get(o, sev))
				json_object_set(o, sev, json_object_get(row, "n"));
		}
		json_array_append_new(arr, o);
	}
	json_decref(raw);
	return arr;
}

/* o[key] = the integer "<what><where>" selects (rows() bindings). */
static void put_scalar(sqlite3 *h, json_t *o, const char *key, const char *what, const char *where,
		       const char *tenant, int64_t from, int64_t to)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "%s%s", what, where);
	json_object_set_new(o, key, json_integer(scalar(h, sql, tenant, from, to)));
}

/* o[key] = {value of col: count} of "SELECT <col>, count(*)<where> GROUP BY 1"; false on error. */
static bool put_counts(sqlite3 *h, json_t *o, const char *key, const char *col, const char *where,
		       const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT %s, count(*)%s GROUP BY 1", col, where);
	return put(o, key, counts(h, sql, tenant, from, to, errbuf));
}

static json_t *alerts_section(sqlite3 *h, const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	static const char *const W = " FROM alerts WHERE tenant_id = ?1 AND first_seen >= ?2 AND first_seen < ?3";
	json_t *o = json_object();

	put_scalar(h, o, "total", "SELECT count(*)", W, tenant, from, to);
	put_scalar(h, o, "matches", "SELECT coalesce(sum(count), 0)", W, tenant, from, to);
	if (!put_counts(h, o, "by_severity", "severity", W, tenant, from, to, errbuf) ||
	    !put(o, "by_day", alerts_by_day(h, tenant, from, to, errbuf))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *incidents_section(sqlite3 *h, const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	static const char *const OPENED = " FROM incidents WHERE tenant_id = ?1 AND created >= ?2 AND created < ?3";
	static const char *const CLOSED = " FROM incidents WHERE tenant_id = ?1"
					  " AND coalesce(resolved, closed) >= ?2 AND coalesce(resolved, closed) < ?3";
	json_t *o = json_object();

	put_scalar(h, o, "opened", "SELECT count(*)", OPENED, tenant, from, to);
	put_scalar(h, o, "closed", "SELECT count(*)", CLOSED, tenant, from, to);
	if (!put_counts(h, o, "opened_by_severity", "severity", OPENED, tenant, from, to, errbuf) ||
	    !put_counts(h, o, "closed_by_severity", "severity", CLOSED, tenant, from, to, errbuf) ||
	    !put_counts(h, o, "closed_by_resolution", "coalesce(resolution, 'unresolved')", CLOSED, tenant, from, to,
			errbuf)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Top lists, agents, log sources and blocked addresses of the summary into o. */
static bool summary_lists(sqlite3 *h, json_t *o, const char *tenant, int64_t from, int64_t to, int64_t now,
			  char *errbuf)
{
	json_t *agents, *src, *blk;

	if (!put(o, "top_rules", rows(h, "SELECT rule_id, max(title) AS title, count(*) AS alerts,"
				      " sum(count) AS matches FROM alerts WHERE tenant_id = ?1 AND first_seen >= ?2"
				      " AND first_seen < ?3 GROUP BY rule_id ORDER BY 3 DESC, 1 LIMIT ?4",
				      tenant, from, to, VIG_REPORT_TOP_N, NULL, errbuf)) ||
	    !put(o, "top_hosts", rows(h, "SELECT host, count(*) AS alerts, sum(count) AS matches FROM alerts"
				      " WHERE tenant_id = ?1 AND first_seen >= ?2 AND first_seen < ?3"
				      " AND coalesce(host, '') != '' GROUP BY host ORDER BY 2 DESC, 1 LIMIT ?4",
				      tenant, from, to, VIG_REPORT_TOP_N, NULL, errbuf)) ||
	    !put(o, "top_source_ips", rows(h, "SELECT json_extract(data, '$.entity.value') AS ip, count(*) AS alerts,"
					   " sum(count) AS matches FROM alerts WHERE tenant_id = ?1 AND first_seen >= ?2"
					   " AND first_seen < ?3 AND json_valid(data)"
					   " AND json_extract(data, '$.entity.field') = 'source.ip'"
					   " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?4",
					   tenant, from, to, VIG_REPORT_TOP_N, NULL, errbuf)))
		return false;
	/* agents: stale = not heard from for a day before now */
	agents = json_object();
	if (!put(o, "agents", agents))
		return false;
	put_scalar(h, agents, "total", "SELECT count(*)", " FROM agents WHERE tenant_id = ?1", tenant, 0, 0);
	put_scalar(h, agents, "revoked", "SELECT count(*)", " FROM agents WHERE tenant_id = ?1 AND status = 'revoked'",
		   tenant, 0, 0);
	put_scalar(h, agents, "isolated", "SELECT count(*)", " FROM agents WHERE tenant_id = ?1 AND isolated = 1", tenant,
		   0, 0);
	put_scalar(h, agents, "stale_count", "SELECT count(*)", " FROM agents WHERE tenant_id = ?1 AND status != 'revoked'"
		   " AND last_seen < ?2", tenant, now - VIG_NS_PER_DAY, now);
	if (!put(agents, "stale", rows(h, "SELECT id, hostname, status, last_seen FROM agents WHERE tenant_id = ?1"
				       " AND status != 'revoked' AND last_seen < ?2 ORDER BY last_seen LIMIT ?4",
				       tenant, now - VIG_NS_PER_DAY, now, LIST_ROWS, NULL, errbuf)))
		return false;
	/* log sources (vigild's source registry) */
	src = rows(
		h,
		"SELECT coalesce(nullif(name, ''), address) AS name, type, address, last_received,"
		" received, parsed, failed, silent_alert AS silent, error_alert AS errors FROM log_sources"
		" WHERE tenant_id = ?1 ORDER BY silent_alert + error_alert DESC, id LIMIT ?4",
		tenant, from, to, LIST_ROWS, NULL, errbuf);
	if (!put(o, "log_sources", src))
		return false;
	blk = json_object();
	if (!put(o, "blocked", blk))
		return false;
	put_scalar(h, blk, "active", "SELECT count(*)", " FROM blocklist WHERE tenant_id = ?1 AND removed IS NULL"
		   " AND (expires = 0 OR expires > ?3)", tenant, from, now);
	return put(blk, "added", rows(h, "SELECT address, reason, created_by, created, expires FROM blocklist"
				      " WHERE tenant_id = ?1 AND created >= ?2 AND created < ?3 ORDER BY created LIMIT ?4",
				      tenant, from, to, LIST_ROWS, NULL, errbuf));
}

/* ---- incidents, SLA ---- */

#define INCIDENT_COLS "id, title, severity, priority, CASE status WHEN 'open' THEN 'new' ELSE status END AS status,"\
	" owner, created, acknowledged, contained, resolved, closed, resolution, tenant_id AS tenant"

/* The SLA of each incident of arr (vig_sla_annotate) and the compliance over all clocks. */
static json_t *sla_summary(struct vig_db *db, json_t *arr, int64_t now, char *errbuf)
{
	json_t *sum = json_object(), *inc;
	int64_t met = 0, breached = 0;
	size_t i;

	for (int c = 0; c < 3; c++)
		json_object_set_new(sum, CLOCKS[c], json_pack("{s:i,s:i,s:i,s:i,s:i}", "met", 0, "breached", 0,
							      "running", 0, "skipped", 0, "none", 0));
	json_array_foreach(arr, i, inc) {
		if (vig_sla_annotate(db, inc, now, errbuf) != VIG_OK) {
			json_decref(sum);
			return NULL;
		}
		for (int c = 0; c < 3; c++) {
			const char *state = json_string_value(json_object_get(
				json_object_get(json_object_get(inc, "sla"), CLOCKS[c]), "state"));
			json_t *bucket = json_object_get(sum, CLOCKS[c]), *n;

			if (!state || !(n = json_object_get(bucket, state)))
				continue;
			json_object_set_new(bucket, state, json_integer(json_integer_value(n) + 1));
			met += !strcmp(state, "met");
			breached += !strcmp(state, "breached");
		}
	}
	json_object_set_new(sum, "incidents", json_integer((json_int_t)json_array_size(arr)));
	json_object_set_new(sum, "compliance_pct",
			    met + breached ? json_real(100.0 * (double)met / (double)(met + breached)) : json_null());
	return sum;
}

/* SOC metrics of the tenant for the period (the totals object of vig_soc_metrics()). */
static json_t *metrics_section(struct vig_db *db, const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	struct vig_principal sys;
	json_t *m = NULL, *t;

	vig_principal_system(&sys);
	if (vig_soc_metrics(db, &sys, tenant, from, to, &m, errbuf) != VIG_OK)
		return NULL;
	t = json_incref(json_object_get(m, "total"));
	json_decref(m);
	if (t)
		json_object_del(t, "tenant");
	return t;
}

/* ---- the model ---- */

static json_t *header(sqlite3 *h, const char *tenant, enum vig_report_kind kind, int64_t from, int64_t to,
		      int64_t now)
{
	char name[VIG_TENANT_NAME_MAX];
	json_t *o;

	o = json_pack("{s:s,s:s,s:o,s:o,s:o}", "kind", vig_report_kind_name(kind), "tenant", tenant, "from",
		      time_json(from), "to", time_json(to), "generated", time_json(now));
	if (o && vig_db_text(h, name, sizeof(name), "SELECT name FROM tenants WHERE id = ?1", "t",
			     tenant))
		json_object_set_new(o, "tenant_name", json_string(name));
	return o;
}

/* The parts that need the lock. */
static enum vig_err build_locked(sqlite3 *h, json_t *m, const char *tenant, enum vig_report_kind kind,
				 int64_t from, int64_t to, int64_t now, char *errbuf)
{
	bool trunc = false;
	json_t *list;

	if (!put(m, "report", header(h, tenant, kind, from, to, now)))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	switch (kind) {
	case VIG_REPORT_SOC_SUMMARY:
		if (!put(m, "alerts", alerts_section(h, tenant, from, to, errbuf)) ||
		    !put(m, "incidents", incidents_section(h, tenant, from, to, errbuf)) ||
		    !put(m, "sla_incidents", rows(h, "SELECT " INCIDENT_COLS " FROM incidents WHERE tenant_id = ?1"
						  " AND created >= ?2 AND created < ?3 ORDER BY id LIMIT ?4",
						  tenant, from, to, VIG_REPORT_ROWS_MAX, NULL, errbuf)) ||
		    !summary_lists(h, m, tenant, from, to, now, errbuf))
			return VIG_EIO;
		return VIG_OK;
	case VIG_REPORT_ALERTS:
		list = rows(h, "SELECT id, first_seen, last_seen, severity, CASE status WHEN 'open' THEN 'new'"
			    " ELSE status END AS status, rule_id, title, host, user, count, incident_id FROM alerts"
			    " WHERE tenant_id = ?1 AND first_seen >= ?2 AND first_seen < ?3 ORDER BY first_seen, id"
			    " LIMIT ?4", tenant, from, to, VIG_REPORT_ROWS_MAX, &trunc, errbuf);
		if (!put(m, "alerts", list))
			return VIG_EIO;
		break;
	case VIG_REPORT_INCIDENTS:
	case VIG_REPORT_SLA:
	default:
		list = rows(h, "SELECT " INCIDENT_COLS " FROM incidents WHERE tenant_id = ?1 AND created >= ?2"
			    " AND created < ?3 ORDER BY created, id LIMIT ?4", tenant, from, to, VIG_REPORT_ROWS_MAX,
			    &trunc, errbuf);
		if (!put(m, "incidents", list))
			return VIG_EIO;
		break;
	}
	json_object_set_new(m, "truncated", json_boolean(trunc));
	return VIG_OK;
}

/* Reshapes an annotated incident for the sla report: the clocks flat beside its identity. */
static void sla_rows(json_t *arr)
{
	json_t *inc;
	size_t i;

	json_array_foreach(arr, i, inc) {
		json_t *sla = json_incref(json_object_get(inc, "sla"));

		static const char *const DROP[] = {"priority", "owner", "acknowledged", "contained", "resolved",
						   "closed", "sla"};
		for (size_t k = 0; k < VIG_ARRAY_LEN(DROP); k++)
			json_object_del(inc, DROP[k]);
		for (int c = 0; sla && c < 3; c++) {
			json_t *clock = json_object_get(sla, CLOCKS[c]);

			json_object_del(clock, "due");
			json_object_set(inc, CLOCKS[c], clock);
		}
		json_decref(sla);
	}
}

enum vig_err vig_report_build(struct vig_db *db, const char *tenant, enum vig_report_kind kind,
			      int64_t from, int64_t to, int64_t now, json_t **model, char *errbuf)
{
	json_t *m = json_object(), *sla = NULL, *incs;
	enum vig_err err;
	sqlite3 *h;

	if (!m)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (to <= from || to - from > VIG_REPORT_SPAN_MAX_DAYS * VIG_NS_PER_DAY) {
		json_decref(m);
		return vig_errf(errbuf, VIG_EINVAL, "report range: to must be after from, at most %d days",
				VIG_REPORT_SPAN_MAX_DAYS);
	}
	h = vig_db_lock(db);
	err = build_locked(h, m, tenant, kind, from, to, now, errbuf);
	vig_db_unlock(db);
	if (err != VIG_OK)
		goto out_fail;
	if (kind == VIG_REPORT_SOC_SUMMARY) {
		json_t *metrics = metrics_section(db, tenant, from, to, errbuf);

		incs = json_object_get(m, "sla_incidents");
		if (!metrics || !(sla = sla_summary(db, incs, now, errbuf))) {
			json_decref(metrics);
			err = VIG_EIO;
			goto out_fail;
		}
		json_object_set_new(m, "metrics", metrics);
		json_object_set_new(m, "sla", sla);
		json_object_del(m, "sla_incidents");
	} else if (kind == VIG_REPORT_SLA) {
		incs = json_object_get(m, "incidents");
		if (!(sla = sla_summary(db, incs, now, errbuf))) {
			err = VIG_EIO;
			goto out_fail;
		}
		sla_rows(incs);
		json_object_set_new(m, "sla", sla);
	}
	*model = m;
	return VIG_OK;
out_fail:
	json_decref(m);
	return err;
}
