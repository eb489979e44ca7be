/*
 * api_incidents.c - the incidents API: list, create, read, change (lifecycle, owner,
 * severity, priority, tags), comments, tasks, observables, attaching and detaching alerts,
 * merge and split; and the grouping of new alerts into incidents after each ingest batch.
 *
 * The work is src/incident's: every function there checks the caller's tenant and writes the
 * change, its timeline row and its audit row in one transaction. This file only maps HTTP to
 * those calls: path ids, JSON bodies (at most VIG_JSON_BODY_MAX bytes), replies. Tenancy
 * failures read as 404, exactly like missing objects.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "common/vtime.h"
#include "incident/incident.h"
#include "incident/evidence.h" /* @evidence */

/* Reads body[key] as an array of positive integers into a new array; replies 400 on error. */
static bool id_list(struct vig_req *r, json_t *body, const char *key, int64_t **ids, size_t *n)
{
	json_t *arr = json_object_get(body, key), *v;
	size_t i;
	char msg[128];

	*ids = NULL;
	*n = 0;
	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > VIG_INC_ALERTS_MAX) {
		snprintf(msg, sizeof(msg), "%s must be an array of 1 to %d alert ids", key, VIG_INC_ALERTS_MAX);
		vig_reply_err(r, VIG_EINVAL, msg);
		return false;
	}
	*ids = calloc(json_array_size(arr), sizeof(**ids));
	if (!*ids) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return false;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0) {
			free(*ids);
			*ids = NULL;
			snprintf(msg, sizeof(msg), "%s[%zu] is not an alert id", key, i);
			vig_reply_err(r, VIG_EINVAL, msg);
			return false;
		}
		(*ids)[i] = json_integer_value(v);
	}
	*n = json_array_size(arr);
	return true;
}

/* Optional string member: NULL when absent; replies 400 (and *bad) when not a string. */
static const char *opt_str(struct vig_req *r, json_t *body, const char *key, bool *bad)
{
	json_t *v = json_object_get(body, key);
	char msg[96];

	if (!v || json_is_null(v) || *bad)
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	snprintf(msg, sizeof(msg), "%s must be a string", key);
	vig_reply_err(r, VIG_EINVAL, msg);
	*bad = true;
	return NULL;
}

/* Replies with the incident after a change, or with the error. */
static void reply_incident(struct vig_req *r, enum vig_err err, const char *errbuf, int64_t id, int status)
{
	json_t *out = NULL;
	char eb[VIG_ERRBUF_SIZE] = "";

	if (err == VIG_OK)
		err = vig_inc_get(r->srv->db, &r->who, id, &out, eb);
	else
		snprintf(eb, sizeof(eb), "%s", errbuf);
	if (err == VIG_OK) { /* @evidence: the incident's evidence items (api_evidence.c) */
		json_t *ev = NULL;

		err = vig_evidence_list(r->srv->evidence, &r->who, id, &ev, eb);
		json_object_set_new(out, "evidence", json_incref(json_object_get(ev, "evidence")));
		json_decref(ev);
	}
	if (err != VIG_OK) {
		json_decref(out);
		vig_reply_err(r, err, eb);
		return;
	}
	vig_reply_jansson(r, status, out);
}

/* ---- notifications ---- */

/* Queues a notification about incident id (read as the system); what says more, or NULL. */
static void notify_incident(struct vig_server *srv, const char *kind, int64_t id, const char *what)
{
	struct vig_principal sys;
	char errbuf[VIG_ERRBUF_SIZE] = "", title[512];
	json_t *inc = NULL, *alerts, *first;

	vig_principal_system(&sys);
	if (vig_inc_get(srv->db, &sys, id, &inc, errbuf) != VIG_OK) {
		vig_warn("notify", "incident unreadable", "id=%lld err=\"%s\"", (long long)id, errbuf);
		return;
	}
	/* the rule of its first alert, for rule-specific routes; the timeline stays out of it */
	alerts = json_object_get(inc, "alerts");
	first = json_array_get(alerts, 0);
	json_object_del(inc, "timeline");
	snprintf(title, sizeof(title), "%s%s%s", json_string_value(json_object_get(inc, "title")), what ? " - " : "",
		 what ? what : "");
	vig_notify_server_emit(srv, json_string_value(json_object_get(inc, "tenant")), kind,
			       json_string_value(json_object_get(inc, "severity")),
			       json_string_value(json_object_get(first, "rule_id")), title, inc);
	json_decref(inc);
}

void vig_api_incidents_list(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX] = "", status[32] = "", sev[32] = "", owner[VIG_NAME_MAX] = "";
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_inc_filter f = {0};
	json_t *out = NULL;
	enum vig_err err;
	int64_t limit;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    vig_req_query(r, "status", status, sizeof(status)) < 0 ||
	    vig_req_query(r, "severity", sev, sizeof(sev)) < 0 ||
	    vig_req_query(r, "owner", owner, sizeof(owner)) < 0 ||
	    !vig_req_int(r, "limit", 0, 1, VIG_INC_LIST_MAX, &limit))
		return;
	f.tenant = tenant;
	f.status = status;
	f.severity = sev;
	f.owner = owner;
	f.limit = limit;
	err = vig_inc_list(r->srv->db, &r->who, &f, &out, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, out);
}

void vig_api_incident_create(struct vig_req *r)
{
	json_t *body = vig_req_json_body(r);
	struct vig_inc_new in = {0};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t *ids = NULL, id = 0;
	size_t n = 0;
	bool bad = false;
	enum vig_err err;

	if (!body)
		return;
	in.tenant = opt_str(r, body, "tenant", &bad);
	in.title = opt_str(r, body, "title", &bad);
	in.description = opt_str(r, body, "description", &bad);
	in.severity = opt_str(r, body, "severity", &bad);
	in.priority = opt_str(r, body, "priority", &bad);
	in.type = opt_str(r, body, "type", &bad);
	in.owner = opt_str(r, body, "owner", &bad);
	in.reason = opt_str(r, body, "reason", &bad);
	in.tags = json_object_get(body, "tags");
	if (bad)
		goto out;
	if (json_object_get(body, "alert_ids") && !id_list(r, body, "alert_ids", &ids, &n))
		goto out;
	in.alert_ids = ids;
	in.n_alerts = n;
	err = vig_inc_create(r->srv->db, &r->who, &in, &id, errbuf);
	if (err == VIG_OK) {
		notify_incident(r->srv, "incident.created", id, NULL);
		vig_response_on_incident(r->srv, id); /* @response: playbook tasks and steps */
		vig_response_on_alerts(r->srv, id, ids, n);
	}
	reply_incident(r, err, errbuf, id, 201);
out:
	free(ids);
	json_decref(body);
}

void vig_api_incident_get(struct vig_req *r)
{
	int64_t id;

	if (vig_req_id(r, "incident", &id))
		reply_incident(r, VIG_OK, "", id, 200);
}

void vig_api_incident_patch(struct vig_req *r)
{
	json_t *body, *reason;
	char errbuf[VIG_ERRBUF_SIZE] = "", why[1024] = "";
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	/* "reason" is not a field: it goes to the audit row */
	reason = json_object_get(body, "reason");
	if (json_is_string(reason))
		snprintf(why, sizeof(why), "%s", json_string_value(reason));
	json_object_del(body, "reason");
	err = vig_inc_update(r->srv->db, &r->who, id, body, *why ? why : NULL, NULL, errbuf);
	if (err == VIG_OK && json_object_get(body, "type"))
		vig_response_on_incident(r->srv, id); /* @response: playbook tasks of the new type */
	reply_incident(r, err, errbuf, id, 200);
	json_decref(body);
}

void vig_api_incident_comment(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id, cid = 0;
	bool bad = false;
	const char *text;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	text = opt_str(r, body, "body", &bad);
	if (!bad) {
		enum vig_err err = vig_inc_comment(r->srv->db, &r->who, id, text, &cid, errbuf);

		reply_incident(r, err, errbuf, id, 201);
	}
	json_decref(body);
}

void vig_api_incident_task_add(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id, tid = 0;
	bool bad = false;
	const char *title, *owner;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	title = opt_str(r, body, "title", &bad);
	owner = opt_str(r, body, "owner", &bad);
	if (!bad) {
		enum vig_err err = vig_inc_task_add(r->srv->db, &r->who, id, title, owner, &tid, errbuf);

		reply_incident(r, err, errbuf, id, 201);
	}
	json_decref(body);
}

void vig_api_incident_task_patch(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t tid;
	bool bad = false;
	const char *status, *owner;

	if (!vig_req_id(r, "task", &tid) || !(body = vig_req_json_body(r)))
		return;
	status = opt_str(r, body, "status", &bad);
	owner = opt_str(r, body, "owner", &bad);
	if (!bad) {
		enum vig_err err = vig_inc_task_update(r->srv->db, &r->who, tid, status, owner, errbuf);

		if (err != VIG_OK)
			vig_reply_err(r, err, errbuf);
		else
			vig_reply_jansson(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)tid, "ok", 1));
	}
	json_decref(body);
}

void vig_api_incident_observable_add(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id, oid = 0;
	bool bad = false;
	const char *type, *value, *tlp, *pap;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	type = opt_str(r, body, "type", &bad);
	value = opt_str(r, body, "value", &bad);
	tlp = opt_str(r, body, "tlp", &bad);
	pap = opt_str(r, body, "pap", &bad);
	if (!bad) {
		enum vig_err err = vig_inc_observable_add(r->srv->db, &r->who, id, type, value, tlp, pap, &oid, errbuf);

		reply_incident(r, err, errbuf, id, 201);
	}
	json_decref(body);
}

void vig_api_incident_observable_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t oid;
	enum vig_err err;

	if (!vig_req_id(r, "observable", &oid))
		return;
	err = vig_inc_observable_delete(r->srv->db, &r->who, oid, errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)oid, "ok", 1));
}

void vig_api_incident_alerts(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id, *ids = NULL;
	size_t n = 0;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	if (id_list(r, body, "alert_ids", &ids, &n)) {
		bool detach = json_is_true(json_object_get(body, "detach"));
		enum vig_err err = vig_inc_alerts(r->srv->db, &r->who, id, ids, n, detach, errbuf);

		if (err == VIG_OK && !detach)
			vig_response_on_alerts(r->srv, id, ids, n); /* @response: playbook steps */
		reply_incident(r, err, errbuf, id, 200);
	}
	free(ids);
	json_decref(body);
}

void vig_api_incident_merge(struct vig_req *r)
{
	json_t *body, *from;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	from = json_object_get(body, "from");
	if (!json_is_integer(from) || json_integer_value(from) <= 0) {
		vig_reply_err(r, VIG_EINVAL, "from must be the id of the incident merged into this one");
	} else {
		enum vig_err err = vig_inc_merge(r->srv->db, &r->who, id, json_integer_value(from), errbuf);

		reply_incident(r, err, errbuf, id, 200);
	}
	json_decref(body);
}

void vig_api_incident_split(struct vig_req *r)
{
	json_t *body;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id, new_id = 0, *ids = NULL;
	size_t n = 0;
	bool bad = false;
	const char *title;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	title = opt_str(r, body, "title", &bad);
	if (!bad && id_list(r, body, "alert_ids", &ids, &n)) {
		enum vig_err err = vig_inc_split(r->srv->db, &r->who, id, ids, n, title, &new_id, errbuf);

		reply_incident(r, err, errbuf, new_id, 201);
	}
	free(ids);
	json_decref(body);
}

/* ---- grouping new alerts (ingest writer thread, after the alerts committed) ---- */

void vig_incidents_group(struct vig_server *srv, const int64_t *alert_ids, size_t n)
{
	struct vig_inc_grouping g = {0};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now();

	if (!n || vig_inc_grouping_parse(srv->cfg.incident_group_by, &g, errbuf) != VIG_OK || !g.n_keys)
		return;
	g.window_ns = srv->cfg.incident_group_window_s * 1000000000LL;
	{
		enum vig_alert_severity sev = VIG_ALERT_SEV_HIGH;

		vig_alert_severity_parse(srv->cfg.incident_min_severity, &sev);
		g.min_severity = (int)sev;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t inc = 0;
		bool created = false;

		if (vig_inc_group_alert(srv->db, &g, alert_ids[i], now, &inc, &created, errbuf) != VIG_OK) {
			atomic_fetch_add(&srv->metrics.incident_group_errors, 1);
			vig_warn("incidents", "grouping failed", "alert=%lld err=\"%s\"", (long long)alert_ids[i], errbuf);
		} else if (created) {
			atomic_fetch_add(&srv->metrics.incidents_created, 1);
			notify_incident(srv, "incident.created", inc, NULL);
			vig_response_on_incident(srv, inc); /* @response: playbook tasks */
		}
		if (inc)
			vig_response_on_alerts(srv, inc, &alert_ids[i], 1); /* @response: playbook steps */
	}
}

void vig_incidents_metrics(struct vig_server *srv, struct vig_buf *b)
{
	vig_buf_printf(b,
		       "# HELP vigil_sla_warnings_total Incident SLA warnings recorded (75%% of a target).\n"
		       "# TYPE vigil_sla_warnings_total counter\n"
		       "vigil_sla_warnings_total %llu\n"
		       "# HELP vigil_sla_breaches_total Incident SLA breaches recorded.\n"
		       "# TYPE vigil_sla_breaches_total counter\n"
		       "vigil_sla_breaches_total %llu\n"
		       "# HELP vigil_incidents_created_total Incidents opened by automatic alert grouping.\n"
		       "# TYPE vigil_incidents_created_total counter\n"
		       "vigil_incidents_created_total %llu\n"
		       "# HELP vigil_incident_group_errors_total Alerts that could not be grouped into an incident.\n"
		       "# TYPE vigil_incident_group_errors_total counter\n"
		       "vigil_incident_group_errors_total %llu\n",
		       (unsigned long long)atomic_load(&srv->metrics.sla_warnings),
		       (unsigned long long)atomic_load(&srv->metrics.sla_breaches),
		       (unsigned long long)atomic_load(&srv->metrics.incidents_created),
		       (unsigned long long)atomic_load(&srv->metrics.incident_group_errors));
}

/* ---- SLA targets, SOC metrics and the SLA check ---- */

void vig_api_tenant_sla_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_sla_get(r->srv->db, &r->who, r->param, &out, errbuf);

	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, out);
}

void vig_api_tenant_sla_put(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *out = NULL;
	enum vig_err err;

	if (!body)
		return;
	if (!vig_principal_can_access_tenant(&r->who, r->param))
		err = vig_errf(errbuf, VIG_ENOTFOUND, "tenant '%s' not found", r->param);
	else
		err = vig_sla_set(r->srv->db, &r->who, r->param, json_object_get(body, "targets"), errbuf);
	if (err == VIG_OK)
		err = vig_sla_get(r->srv->db, &r->who, r->param, &out, errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, out);
	json_decref(body);
}

void vig_api_soc_metrics(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", from_s[64] = "", to_s[64] = "";
	int64_t now = vig_time_now(), from = now - 30 * 86400LL * 1000000000LL, to = now + 60LL * 1000000000LL;
	json_t *out = NULL;
	enum vig_err err;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 || vig_req_query(r, "from", from_s, sizeof(from_s)) < 0 ||
	    vig_req_query(r, "to", to_s, sizeof(to_s)) < 0)
		return;
	if ((*from_s && !vig_http_parse_time(from_s, &from)) || (*to_s && !vig_http_parse_time(to_s, &to))) {
		vig_reply_err(r, VIG_EINVAL, "from/to: expected RFC 3339 or epoch seconds");
		return;
	}
	err = vig_soc_metrics(r->srv->db, &r->who, tenant, from, to, &out, errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, out);
}

static void on_sla_event(void *ctx, int64_t incident_id, const char *tenant, const char *clock, bool breach)
{
	char what[64];

	(void)tenant;
	snprintf(what, sizeof(what), "%s SLA %s", clock, breach ? "breached" : "at 75%");
	notify_incident(ctx, breach ? "sla.breach" : "sla.warning", incident_id, what);
}

static void on_sla_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vig_server *srv = arg;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t warnings = 0, breaches = 0;

	(void)fd;
	(void)what;
	if (vig_sla_check(srv->db, vig_time_now(), &warnings, &breaches, on_sla_event, srv, errbuf) != VIG_OK) {
		vig_warn("incidents", "sla check failed", "err=\"%s\"", errbuf);
		return;
	}
	atomic_fetch_add(&srv->metrics.sla_warnings, warnings);
	atomic_fetch_add(&srv->metrics.sla_breaches, breaches);
	if (warnings || breaches)
		vig_info("incidents", "sla check", "warnings=%zu breaches=%zu", warnings, breaches);
	vig_oncall_tick(srv); /* escalation ladders of unacknowledged incidents */
}

enum vig_err vig_incidents_start(struct vig_server *srv, char *errbuf)
{
	return vig_timer_start(srv, &srv->sla_timer, srv->cfg.sla_check_interval_s, on_sla_tick, srv,
			       "sla check", errbuf);
}

void vig_incidents_stop(struct vig_server *srv)
{
	vig_timer_stop(&srv->sla_timer);
}

/* ---- XDR blocking ---- */

void vig_api_blocklist_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", all[8] = "";
	json_t *out = NULL;
	enum vig_err err;

	if (vig_req_query(r, "all", all, sizeof(all)) < 0)
		return;
	err = vig_blocklist_list(r->srv->db, &r->who, !strcmp(all, "1"), vig_time_now(), &out, errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, out);
}

void vig_api_blocklist_add(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *out = NULL, *inc, *exp;
	bool bad = false;
	const char *address, *reason, *tenant;
	enum vig_err err;

	if (!body)
		return;
	address = opt_str(r, body, "address", &bad);
	reason = opt_str(r, body, "reason", &bad);
	tenant = opt_str(r, body, "tenant", &bad);
	inc = json_object_get(body, "incident_id");
	exp = json_object_get(body, "expires_in_s");
	if (!bad && ((inc && !json_is_null(inc) && !json_is_integer(inc)) || (exp && !json_is_integer(exp)))) {
		vig_reply_err(r, VIG_EINVAL, "incident_id and expires_in_s must be integers");
		bad = true;
	}
	if (!bad) {
		err = vig_blocklist_add(r->srv->db, &r->who, tenant, address, reason,
					json_is_integer(inc) ? json_integer_value(inc) : 0,
					exp ? json_integer_value(exp) : 0, vig_time_now(), &out, errbuf);
		if (err != VIG_OK) {
			vig_reply_err(r, err, errbuf);
		} else {
			vig_sharing_reconcile(r->srv); /* @sharing: push to the gateway agents */
			vig_reply_jansson(r, 201, out);
		}
	}
	json_decref(body);
}

void vig_api_blocklist_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "blocklist entry", &id))
		return;
	err = vig_blocklist_remove(r->srv->db, &r->who, id, vig_time_now(), errbuf);
	if (err == VIG_OK)
		vig_sharing_reconcile(r->srv); /* @sharing: unblock on the gateway agents */
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "ok", 1));
}

void vig_api_blocklist_text(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", *text = NULL, tenant[VIG_NAME_MAX];
	size_t len = 0;
	enum vig_err err;

	if (!vig_req_tenant(r, tenant, NULL)) /* ?tenant= for provider callers, else the caller's */
		return;
	err = vig_blocklist_text(r->srv->db, tenant, vig_time_now(), &text, &len, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_text(r, 200, "text/plain; charset=utf-8", text, len);
	free(text);
}
