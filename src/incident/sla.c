/*
 * sla.c - service levels of incidents: targets per tenant and severity, the three clocks of an
 * incident (acknowledge, contain, resolve), the periodic check that records warnings and
 * breaches and escalates breached incidents, and the SOC metrics (MTTD, MTTA, MTTC, MTTR,
 * false-positive rate) per tenant and period. See incident.h, "SLA".
 */
#include "incident/incident.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "common/vtime.h"

#define MIN_S 60LL
#define HOUR_S 3600LL
#define DAY_S 86400LL
#define SLA_CHECK_MAX 10000 /* open incidents looked at per check */
#define WARN_PCT 75         /* a warning at this share of the target */

static const char *const SEVERITIES[] = {"informational", "low", "medium", "high", "critical"};
static const char *const CLOCKS[] = {"acknowledge", "contain", "resolve"};

struct vig_sla_target vig_sla_default(const char *severity)
{
	struct vig_sla_target t = {0, 0, 0};

	if (!severity)
		return t;
	if (!strcmp(severity, "critical"))
		t = (struct vig_sla_target){15 * MIN_S, 4 * HOUR_S, 24 * HOUR_S};
	else if (!strcmp(severity, "high"))
		t = (struct vig_sla_target){1 * HOUR_S, 8 * HOUR_S, 3 * DAY_S};
	else if (!strcmp(severity, "medium"))
		t = (struct vig_sla_target){4 * HOUR_S, 24 * HOUR_S, 7 * DAY_S};
	else if (!strcmp(severity, "low"))
		t = (struct vig_sla_target){24 * HOUR_S, 3 * DAY_S, 30 * DAY_S};
	return t;
}

static int64_t target_of(const struct vig_sla_target *t, int clock)
{
	return clock == 0 ? t->acknowledge_s : clock == 1 ? t->contain_s : t->resolve_s;
}

/* The target of (tenant, severity): the tenant's row, else the default. *own says which. */
static enum vig_err load_target(sqlite3 *h, const char *tenant, const char *severity,
				struct vig_sla_target *t, bool *own, char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(h, errbuf,
				       "SELECT acknowledge_s, contain_s, resolve_s FROM sla_targets"
				       " WHERE tenant_id = ?1 AND severity = ?2",
				       "tt", tenant, severity ? severity : "");
	enum vig_err err = vig_db_row(h, st, errbuf);

	*t = vig_sla_default(severity);
	if (own)
		*own = false;
	if (err == VIG_OK) {
		t->acknowledge_s = sqlite3_column_int64(st, 0);
		t->contain_s = sqlite3_column_int64(st, 1);
		t->resolve_s = sqlite3_column_int64(st, 2);
		if (own)
			*own = true;
	}
	sqlite3_finalize(st);
	return err == VIG_ENOTFOUND ? VIG_OK : err;
}

enum vig_err vig_sla_get(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			 json_t **out, char *errbuf)
{
	json_t *targets = json_object();
	sqlite3 *h;
	enum vig_err err = VIG_OK;

	if (!tenant || !*tenant)
		tenant = who->tenant;
	if (!vig_principal_can_access_tenant(who, tenant)) {
		json_decref(targets);
		return vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", tenant);
	}
	h = vig_db_lock(db);
	for (size_t i = 0; err == VIG_OK && i < VIG_ARRAY_LEN(SEVERITIES); i++) {
		struct vig_sla_target t;
		bool own;

		err = load_target(h, tenant, SEVERITIES[i], &t, &own, errbuf);
		if (err == VIG_OK)
			json_object_set_new(targets, SEVERITIES[i],
					    json_pack("{s:I,s:I,s:I,s:b}", "acknowledge_s", (json_int_t)t.acknowledge_s,
						      "contain_s", (json_int_t)t.contain_s, "resolve_s",
						      (json_int_t)t.resolve_s, "default", !own));
	}
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(targets);
		return err;
	}
	*out = json_pack("{s:s,s:o}", "tenant", tenant, "targets", targets);
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

/* Reads a target member: a non-negative integer of at most a year. */
static bool sec_member(json_t *o, const char *k, int64_t *v)
{
	json_t *x = json_object_get(o, k);

	if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 366 * DAY_S)
		return false;
	*v = json_integer_value(x);
	return true;
}

enum vig_err vig_sla_set(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			 json_t *targets, char *errbuf)
{
	json_t *before = NULL, *after = NULL, *v;
	const char *sev;
	sqlite3 *h;
	enum vig_err err;

	if (!tenant || !*tenant)
		tenant = who->tenant;
	if (!json_is_object(targets) || !json_object_size(targets))
		return vig_errf(errbuf, VIG_EINVAL, "targets must be an object keyed by severity");
	json_object_foreach(targets, sev, v) {
		int64_t x;
		bool known = false;

		for (size_t i = 0; i < VIG_ARRAY_LEN(SEVERITIES); i++)
			known |= !strcmp(sev, SEVERITIES[i]);
		if (!known)
			return vig_errf(errbuf, VIG_EINVAL, "unknown severity '%s'", sev);
		if (json_is_null(v) || json_is_true(json_object_get(v, "default")))
			continue;
		if (!json_is_object(v) || !sec_member(v, "acknowledge_s", &x) || !sec_member(v, "contain_s", &x) ||
		    !sec_member(v, "resolve_s", &x))
			return vig_errf(errbuf, VIG_EINVAL,
					"%s: acknowledge_s, contain_s and resolve_s must be seconds (0 = none, at most a year)", sev);
	}
	err = vig_sla_get(db, who, tenant, &before, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK) {
		json_decref(before);
		return err;
	}
	json_object_foreach(targets, sev, v) {
		bool reset = json_is_null(v) || json_is_true(json_object_get(v, "default"));
		int64_t a = 0, c = 0, r = 0;

		if (!reset) {
			sec_member(v, "acknowledge_s", &a);
			sec_member(v, "contain_s", &c);
			sec_member(v, "resolve_s", &r);
		}
		if (reset)
			err = vig_db_do(h, errbuf,
					"DELETE FROM sla_targets WHERE tenant_id = ?1"
					" AND severity = ?2",
					"tt", tenant, sev);
		else
			err = vig_db_do(h, errbuf,
					"INSERT OR REPLACE INTO sla_targets (tenant_id,"
					" severity, acknowledge_s, contain_s, resolve_s)"
					" VALUES (?1, ?2, ?3, ?4, ?5)",
					"ttiii", tenant, sev, a, c, r);
		if (err != VIG_OK)
			break;
	}
	if (err == VIG_OK) {
		char *b = json_dumps(json_object_get(before, "targets"), JSON_COMPACT | JSON_SORT_KEYS);
		char *t = json_dumps(targets, JSON_COMPACT | JSON_SORT_KEYS);

		err = vig_audit_append_locked(h, who, tenant, "sla.update", "tenant", tenant, b, t, NULL,
					      vig_time_now(), NULL, errbuf);
		free(b);
		free(t);
	}
	err = vig_db_tx_end(db, h, err, errbuf);
	json_decref(before);
	json_decref(after);
	return err;
}

/* ---- clocks ---- */

static bool time_member(json_t *o, const char *k, int64_t *ns)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s && vig_time_parse(s, strlen(s), ns);
}

/* The stop time of clock c of incident o (0 when still running). */
static int64_t stop_of(json_t *o, int c)
{
	int64_t t = 0;

	if (c == 0)
		time_member(o, "acknowledged", &t);
	else if (c == 1)
		time_member(o, "contained", &t);
	else if (!time_member(o, "resolved", &t))
		time_member(o, "closed", &t);
	return t;
}

enum vig_err vig_sla_annotate(struct vig_db *db, json_t *incident, int64_t now, char *errbuf)
{
	struct vig_sla_target t;
	int64_t created = 0;
	json_t *sla = json_object();
	const char *tenant = json_string_value(json_object_get(incident, "tenant"));
	const char *sev = json_string_value(json_object_get(incident, "severity"));
	bool finished;
	sqlite3 *h;
	enum vig_err err;

	if (!sla || !tenant || !time_member(incident, "created", &created)) {
		json_decref(sla);
		return vig_errf(errbuf, VIG_EINVAL, "not an incident");
	}
	h = vig_db_lock(db);
	err = load_target(h, tenant, sev, &t, NULL, errbuf);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(sla);
		return err;
	}
	finished = stop_of(incident, 2) != 0;
	for (int c = 0; c < 3; c++) {
		int64_t target = target_of(&t, c), stop = stop_of(incident, c);
		int64_t end = stop ? stop : now, due = created + target * VIG_NS_PER_SEC;
		const char *state;
		char dues[VIG_TIME_STRLEN];

		if (!target)
			state = "none";
		else if (c == 1 && !stop && finished)
			state = "skipped"; /* resolved without containment */
		else if (end > due)
			state = "breached";
		else
			state = stop ? "met" : "running";
		vig_time_format(due, dues);
		json_object_set_new(sla, CLOCKS[c],
				    json_pack("{s:I,s:s?,s:s,s:I}", "target_s", (json_int_t)target, "due",
					      target ? dues : NULL, "state", state, "elapsed_s",
					      (json_int_t)((end > created ? end - created : 0) / VIG_NS_PER_SEC)));
	}
	json_object_set_new(incident, "sla", sla);
	return VIG_OK;
}

/* ---- the periodic check ---- */

struct pending {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char priority[8];
	char events[128];
	char add[128]; /* what to record, "clock:kind," ... */
};

static bool has_event(const char *events, const char *ev)
{
	size_t n = strlen(ev);

	for (const char *p = events; (p = strstr(p, ev)) != NULL; p += n)
		if ((p == events || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static void append_event(char *buf, size_t cap, const char *ev)
{
	size_t len = strlen(buf);

	snprintf(buf + len, cap - len, "%s%s", len ? "," : "", ev);
}

/* Records what p->add lists for one incident: timeline rows, audit rows, escalation. */
static enum vig_err record_sla(sqlite3 *h, const struct pending *p, int64_t now, size_t *warnings,
			       size_t *breaches, char *errbuf)
{
	struct vig_principal sys;
	char events[256], idbuf[24], prio[8];
	bool breach = false;
	const char *s = p->add;
	enum vig_err err = VIG_OK;

	vig_principal_system(&sys);
	snprintf(events, sizeof(events), "%s", p->events);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)p->id);
	snprintf(prio, sizeof(prio), "%s", p->priority);
	while (*s && err == VIG_OK) {
		char ev[32], summary[96];
		size_t n = strcspn(s, ",");
		bool is_breach;

		snprintf(ev, sizeof(ev), "%.*s", (int)n, s);
		s += n + (s[n] == ',');
		is_breach = strstr(ev, ":breach") != NULL;
		breach |= is_breach;
		if (is_breach)
			(*breaches)++;
		else
			(*warnings)++;
		append_event(events, sizeof(events), ev);
		snprintf(summary, sizeof(summary), "SLA %s %s", is_breach ? "breached:" : "warning:", ev);
		err = vig_db_do(h, errbuf,
				"INSERT INTO incident_timeline (incident_id, tenant_id, ts,"
				" actor, kind, summary) VALUES (?1, ?2, ?3, 'system', ?4, ?5)",
				"ititt", p->id, p->tenant, now,
				is_breach ? "sla.breach" : "sla.warning", summary);
		if (err == VIG_OK)
			err = vig_audit_append_locked(h, &sys, p->tenant, is_breach ? "sla.breach" : "sla.warning",
						      "incident", idbuf, NULL, NULL, ev, now, NULL, errbuf);
	}
	/* escalation: one priority step up per breach check */
	if (err == VIG_OK && breach && prio[0] == 'p' && prio[1] > '1' && prio[1] <= '4') {
		char before[8];

		snprintf(before, sizeof(before), "%s", prio);
		prio[1]--;
		err = vig_audit_append_locked(h, &sys, p->tenant, "sla.escalation", "incident", idbuf, before, prio,
					      "sla breached", now, NULL, errbuf);
	}
	if (err != VIG_OK)
		return err;
	return vig_db_do(h, errbuf,
			 "UPDATE incidents SET sla_events = ?2, priority = ?3, updated = ?4"
			 " WHERE id = ?1",
			 "itti", p->id, events, prio, now);
}

enum vig_err vig_sla_check(struct vig_db *db, int64_t now, size_t *warnings, size_t *breaches,
			   vig_sla_event_cb *cb, void *ctx, char *errbuf)
{
	struct pending *todo = NULL;
	size_t n = 0, cap = 0, w = 0, b = 0;
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "SELECT id, tenant_id, severity, created, acknowledged, contained,"
			    " resolved, closed, sla_events, priority FROM incidents"
			    " WHERE status NOT IN ('resolved', 'closed') ORDER BY id LIMIT ?1",
			    "i", (int64_t)SLA_CHECK_MAX);
	enum vig_err err = VIG_OK;
	int rc;

	if (!st) {
		err = VIG_EIO;
		goto out;
	}
	while (err == VIG_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct vig_sla_target t;
		struct pending p = {.id = sqlite3_column_int64(st, 0)};
		int64_t created = sqlite3_column_int64(st, 3);

		snprintf(p.tenant, sizeof(p.tenant), "%s", (const char *)sqlite3_column_text(st, 1));
		snprintf(p.events, sizeof(p.events), "%s", sqlite3_column_text(st, 8) ? (const char *)sqlite3_column_text(st, 8) : "");
		snprintf(p.priority, sizeof(p.priority), "%s", sqlite3_column_text(st, 9) ? (const char *)sqlite3_column_text(st, 9) : "p3");
		err = load_target(h, p.tenant, (const char *)sqlite3_column_text(st, 2), &t, NULL, errbuf);
		for (int c = 0; err == VIG_OK && c < 3; c++) {
			int64_t target = target_of(&t, c) * VIG_NS_PER_SEC;
			int stop_col = c == 0 ? 4 : c == 1 ? 5 : 6;
			char ev[32];

			if (!target || sqlite3_column_type(st, stop_col) != SQLITE_NULL)
				continue; /* no target, or the clock stopped (met or breached earlier) */
			if (now - created >= target) {
				snprintf(ev, sizeof(ev), "%s:breach", CLOCKS[c]);
				if (!has_event(p.events, ev))
					append_event(p.add, sizeof(p.add), ev);
			} else if ((now - created) * 100 >= target * WARN_PCT) {
				snprintf(ev, sizeof(ev), "%s:warning", CLOCKS[c]);
				if (!has_event(p.events, ev))
					append_event(p.add, sizeof(p.add), ev);
			}
		}
		if (err == VIG_OK && p.add[0]) {
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *q = realloc(todo, nc * sizeof(*todo));

				if (!q) {
					err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
					break;
				}
				todo = q;
				cap = nc;
			}
			todo[n++] = p;
		}
	}
	sqlite3_finalize(st);
	if (err != VIG_OK || !n)
		goto out;
	err = vig_db_begin(h, errbuf);
	for (size_t i = 0; err == VIG_OK && i < n; i++)
		err = record_sla(h, &todo[i], now, &w, &b, errbuf);
	err = vig_db_end(h, err, errbuf);
	if (err != VIG_OK)
		w = b = 0;
out:
	vig_db_unlock(db);
	for (size_t i = 0; cb && err == VIG_OK && i < n; i++) {
		const char *s = todo[i].add;

		while (*s) {
			size_t k = strcspn(s, ",");
			char clock[16];
			const char *colon = memchr(s, ':', k);

			snprintf(clock, sizeof(clock), "%.*s", (int)(colon ? (size_t)(colon - s) : k), s);
			cb(ctx, todo[i].id, todo[i].tenant, clock, colon && !strncmp(colon, ":breach", 7));
			s += k + (s[k] == ',');
		}
	}
	free(todo);
	if (warnings)
		*warnings = w;
	if (breaches)
		*breaches = b;
	return err;
}

/* ---- SOC metrics ---- */

/* Runs the aggregate for one tenant (or all visible when tenant is NULL and who is a provider). */
static json_t *metrics_of(sqlite3 *h, const char *tenant, int64_t from, int64_t to, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	json_t *o = NULL, *by = json_object();
	static const char *const sql =
		"SELECT count(*),"
		" avg(CASE WHEN acknowledged IS NOT NULL THEN acknowledged - created END),"
		" avg(CASE WHEN contained IS NOT NULL THEN contained - created END),"
		" avg(CASE WHEN coalesce(resolved, closed) IS NOT NULL THEN coalesce(resolved, closed) - created END),"
		" sum(resolution = 'false_positive'), sum(resolution IS NOT NULL),"
		" sum(instr(sla_events, 'acknowledge:breach') > 0), sum(instr(sla_events, 'contain:breach') > 0),"
		" sum(instr(sla_events, 'resolve:breach') > 0),"
		" (SELECT avg(a.first_seen - json_extract(a.data, '$.event_time')) FROM alerts a"
		"   JOIN incidents i2 ON i2.id = a.incident_id WHERE (?1 IS NULL OR i2.tenant_id = ?1)"
		"   AND i2.created >= ?2 AND i2.created < ?3 AND json_extract(a.data, '$.event_time') > 0)"
		" FROM incidents WHERE (?1 IS NULL OR tenant_id = ?1) AND created >= ?2 AND created < ?3";
	int64_t total, resolved;

	st = by ? vig_db_stmt(h, errbuf, sql, "tii", tenant, from, to) : NULL;
	if (vig_db_row(h, st, errbuf) != VIG_OK) {
		sqlite3_finalize(st);
		json_decref(by);
		return NULL;
	}
	total = sqlite3_column_int64(st, 0);
	resolved = sqlite3_column_int64(st, 5);
#define MEAN_S(col) (sqlite3_column_type(st, col) == SQLITE_NULL ? json_null() \
		     : json_real(sqlite3_column_double(st, col) / 1e9))
	o = json_pack("{s:s?,s:I,s:o,s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I}}", "tenant", tenant, "incidents",
		      (json_int_t)total, "mttd_s", MEAN_S(9), "mtta_s", MEAN_S(1), "mttc_s", MEAN_S(2),
		      "mttr_s", MEAN_S(3), "false_positive_rate",
		      resolved ? json_real((double)sqlite3_column_int64(st, 4) / (double)resolved) : json_null(),
		      "sla_breaches", "acknowledge", (json_int_t)sqlite3_column_int64(st, 6), "contain",
		      (json_int_t)sqlite3_column_int64(st, 7), "resolve", (json_int_t)sqlite3_column_int64(st, 8));
#undef MEAN_S
	sqlite3_finalize(st);
	if (!o) {
		json_decref(by);
		return NULL;
	}
	st = vig_db_stmt(
		h, errbuf,
		"SELECT status, count(*) FROM incidents WHERE (?1 IS NULL OR tenant_id = ?1)"
		" AND created >= ?2 AND created < ?3 GROUP BY status",
		"tii", tenant, from, to);
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(st, 0);

		json_object_set_new(by, s && !strcmp(s, "open") ? "new" : s,
				    json_integer(sqlite3_column_int64(st, 1)));
	}
	sqlite3_finalize(st);
	json_object_set_new(o, "by_status", by);
	return o;
}

enum vig_err vig_soc_metrics(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			     int64_t from, int64_t to, json_t **out, char *errbuf)
{
	json_t *tenants, *total = NULL;
	char from_s[VIG_TIME_STRLEN], to_s[VIG_TIME_STRLEN];
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;

	if (to <= from)
		return vig_errf(errbuf, VIG_EINVAL, "to must be after from");
	if (tenant && *tenant && !vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	tenants = json_array();
	if (!tenants)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(db);
	if (tenant && *tenant) {
		json_t *m = metrics_of(h, tenant, from, to, errbuf);

		if (!m)
			err = VIG_EIO;
		else
			json_array_append_new(tenants, m);
		total = m ? json_deep_copy(m) : NULL;
	} else if (!who->provider) {
		json_t *m = metrics_of(h, who->tenant, from, to, errbuf);

		if (!m)
			err = VIG_EIO;
		else
			json_array_append_new(tenants, m);
		total = m ? json_deep_copy(m) : NULL;
	} else {
		st = vig_db_stmt(h, errbuf, "SELECT id FROM tenants ORDER BY id", "");
		if (!st)
			err = VIG_EIO;
		while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
			json_t *m = metrics_of(h, (const char *)sqlite3_column_text(st, 0), from, to, errbuf);

			if (!m)
				err = VIG_EIO;
			else
				json_array_append_new(tenants, m);
		}
		sqlite3_finalize(st);
		if (err == VIG_OK && !(total = metrics_of(h, NULL, from, to, errbuf)))
			err = VIG_EIO;
	}
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(tenants);
		json_decref(total);
		return err;
	}
	vig_time_format(from, from_s);
	vig_time_format(to, to_s);
	*out = json_pack("{s:s,s:s,s:o,s:o}", "from", from_s, "to", to_s, "tenants", tenants, "total",
			 total ? total : json_null());
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
