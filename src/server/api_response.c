/*
 * api_response.c - the response orchestration API: tenant settings, response requests from
 * incidents, the approvals inbox and its decisions, cancellation, playbooks and the provider's
 * overview; the periodic approval check (a timer on the loop, response.check_interval_s); and
 * the hooks the incident and agent code call: playbook tasks when an incident gets its type,
 * playbook steps when alerts join an incident, and the agent's result of a requested action.
 *
 * The work is src/incident/response.c's and playbook.c's: they check the caller's permission
 * and tenant and write each step with its timeline and audit rows in one transaction. This file
 * maps HTTP to those calls and sends the notifications (approval.requested, .escalated,
 * .expired) after the commits.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/vtime.h"
#include "fleet/fleet.h"
#include "incident/response.h"

#define PLAYBOOK_REQUESTS_MAX 64 /* requests one alert's playbooks may create */

static void reply(struct vig_req *r, enum vig_err err, const char *errbuf, json_t *out, int status)
{
	if (err != VIG_OK) {
		json_decref(out);
		vig_reply_err(r, err, errbuf);
	} else {
		vig_reply_jansson(r, status, out);
	}
}

/* A string member of body: NULL when absent or null; replies 400 (and sets *bad) otherwise. */
static const char *body_str(struct vig_req *r, json_t *body, const char *key, bool *bad)
{
	json_t *v = json_object_get(body, key);
	char msg[96];

	if (*bad || !v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	snprintf(msg, sizeof(msg), "%s must be a string", key);
	vig_reply_err(r, VIG_EINVAL, msg);
	*bad = true;
	return NULL;
}

/* ---- notifications ---- */

static void notify_request(struct vig_server *srv, const char *kind, json_t *req)
{
	char title[256];

	snprintf(title, sizeof(title), "%s: %s on %.100s (incident %lld)", kind,
		 json_string_value(json_object_get(req, "type")), json_string_value(json_object_get(req, "hostname")),
		 (long long)json_integer_value(json_object_get(req, "incident_id")));
	vig_notify_server_emit(srv, json_string_value(json_object_get(req, "tenant")), kind, "high", NULL, title, req);
}

/* Tells the stream's subscribers of req's tenant that it changed (the approvals inbox and the
 * incident page reload on `event: approval`). */
static void publish_request(struct vig_server *srv, json_t *req)
{
	json_t *o = json_pack("{s:O?,s:O?,s:O?,s:O?}", "id", json_object_get(req, "id"), "incident_id",
			      json_object_get(req, "incident_id"), "status", json_object_get(req, "status"),
			      "type", json_object_get(req, "type"));
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	const char *tenant = json_string_value(json_object_get(req, "tenant"));

	if (text && tenant)
		vig_server_publish(srv, "approval", tenant, text);
	free(text);
	json_decref(o);
}

static void on_check_event(void *ctx, const char *kind, json_t *req)
{
	struct vig_server *srv = ctx;

	atomic_fetch_add(!strcmp(kind, "approval.expired") ? &srv->approvals_expired
							  : &srv->approvals_escalated, 1);
	publish_request(srv, req);
	notify_request(srv, kind, req);
}

static void on_check_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vig_server *srv = arg;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t esc = 0, exp = 0;

	(void)fd;
	(void)what;
	if (vig_resp_check(srv->db, vig_time_now(), &esc, &exp, on_check_event, srv, errbuf) != VIG_OK) {
		vig_warn("response", "approval check failed", "err=\"%s\"", errbuf);
		return;
	}
	if (esc || exp)
		vig_info("response", "approval check", "escalated=%zu expired=%zu", esc, exp);
}

enum vig_err vig_response_start(struct vig_server *srv, char *errbuf)
{
	return vig_timer_start(srv, &srv->response_timer, srv->cfg.response_check_interval_s, on_check_tick,
			       srv, "approval check", errbuf);
}

void vig_response_stop(struct vig_server *srv)
{
	vig_timer_stop(&srv->response_timer);
}

void vig_response_metrics(struct vig_server *srv, struct vig_buf *b)
{
	vig_buf_printf(b,
		       "# HELP vigil_response_requests_total Response requests created (by hand or by playbook).\n"
		       "# TYPE vigil_response_requests_total counter\n"
		       "vigil_response_requests_total %llu\n"
		       "# HELP vigil_approvals_escalated_total Response requests escalated while waiting for approval.\n"
		       "# TYPE vigil_approvals_escalated_total counter\n"
		       "vigil_approvals_escalated_total %llu\n"
		       "# HELP vigil_approvals_expired_total Response requests expired without a decision.\n"
		       "# TYPE vigil_approvals_expired_total counter\n"
		       "vigil_approvals_expired_total %llu\n"
		       "# HELP vigil_playbook_steps_skipped_total Playbook steps that could not be requested.\n"
		       "# TYPE vigil_playbook_steps_skipped_total counter\n"
		       "vigil_playbook_steps_skipped_total %llu\n",
		       (unsigned long long)atomic_load(&srv->response_requests),
		       (unsigned long long)atomic_load(&srv->approvals_escalated),
		       (unsigned long long)atomic_load(&srv->approvals_expired),
		       (unsigned long long)atomic_load(&srv->playbook_skipped));
}

/* ---- hooks ---- */

struct wake {
	struct vig_server *srv;
	char agent_id[VIG_AGENT_ID_STRLEN];
};

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct wake *w = arg;

	(void)fd;
	(void)what;
	vig_agents_wake(w->srv, w->agent_id);
	free(w);
}

/* Answers the held poll of the agent of request req when its action is queued; any thread
 * (the held polls belong to the loop, so the answer is handed to it). */
static void wake_agent(struct vig_server *srv, json_t *req)
{
	struct timeval now = {0, 0};
	struct wake *w;

	if (strcmp(json_string_value(json_object_get(req, "status")), "queued") != 0 || !(w = calloc(1, sizeof(*w))))
		return;
	w->srv = srv;
	snprintf(w->agent_id, sizeof(w->agent_id), "%s", json_string_value(json_object_get(req, "agent_id")));
	if (event_base_once(srv->base, -1, EV_TIMEOUT, on_wake, w, &now) != 0)
		free(w);
}

/* After request id was created: wakes its agent when queued, notifies approval.requested
 * when it waits for a decision. */
static void requested(struct vig_server *srv, int64_t id)
{
	struct vig_principal sys;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *req = NULL;

	atomic_fetch_add(&srv->response_requests, 1);
	vig_principal_system(&sys);
	if (vig_resp_get(srv->db, &sys, id, &req, errbuf) != VIG_OK)
		return;
	wake_agent(srv, req);
	publish_request(srv, req);
	if (!strcmp(json_string_value(json_object_get(req, "status")), "pending_approval"))
		notify_request(srv, "approval.requested", req);
	json_decref(req);
}

void vig_response_on_incident(struct vig_server *srv, int64_t incident_id)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t added = 0;

	if (vig_playbook_tasks(srv->db, incident_id, vig_time_now(), &added, errbuf) != VIG_OK)
		vig_warn("response", "playbook tasks failed", "incident=%lld err=\"%s\"", (long long)incident_id, errbuf);
}

void vig_response_on_alerts(struct vig_server *srv, int64_t incident_id, const int64_t *alert_ids, size_t n)
{
	int64_t ids[PLAYBOOK_REQUESTS_MAX];

	for (size_t i = 0; incident_id > 0 && srv->fleet && i < n; i++) {
		char errbuf[VIG_ERRBUF_SIZE] = "";
		size_t made = 0, skipped = 0;

		if (vig_playbook_on_alert(srv->db, srv->fleet, incident_id, alert_ids[i], vig_time_now(), ids,
					  VIG_ARRAY_LEN(ids), &made, &skipped, errbuf) != VIG_OK)
			vig_warn("response", "playbooks failed", "incident=%lld alert=%lld err=\"%s\"",
				 (long long)incident_id, (long long)alert_ids[i], errbuf);
		atomic_fetch_add(&srv->playbook_skipped, skipped);
		if (skipped)
			vig_warn("response", "playbook steps skipped", "incident=%lld alert=%lld skipped=%zu",
				 (long long)incident_id, (long long)alert_ids[i], skipped);
		for (size_t k = 0; k < made; k++)
			requested(srv, ids[k]);
	}
}

void vig_response_action_result(struct vig_server *srv, int64_t action_id)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *req = NULL;

	if (vig_resp_action_result(srv->db, action_id, vig_time_now(), &req, errbuf) != VIG_OK) {
		vig_warn("response", "result not recorded", "action=%lld err=\"%s\"", (long long)action_id, errbuf);
		return;
	}
	if (req)
		publish_request(srv, req);
	if (req && !strcmp(json_string_value(json_object_get(req, "type")), "collect") &&
	    !strcmp(json_string_value(json_object_get(req, "status")), "succeeded")) {
		struct vig_principal sys;
		int64_t eid = 0;

		vig_principal_system(&sys);
		if (vig_evidence_from_action(srv, &sys, json_integer_value(json_object_get(req, "incident_id")), action_id,
					     &eid, errbuf) != VIG_OK)
			vig_warn("response", "collected file not attached", "action=%lld err=\"%s\"",
				 (long long)action_id, errbuf);
	}
	json_decref(req);
}

/* ---- tenant settings ---- */

void vig_api_tenant_settings_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_resp_settings_get(r->srv->db, &r->who, r->param, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_tenant_settings_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *out = NULL;
	enum vig_err err;

	if (!body)
		return;
	err = vig_resp_settings_set(r->srv->db, &r->who, r->param, body, vig_time_now(), &out, errbuf);
	reply(r, err, errbuf, out, 200);
	json_decref(body);
}

/* ---- requests and approvals ---- */

void vig_api_incident_actions_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_resp_new in = {0};
	json_t *body, *out = NULL;
	bool bad = false;
	int64_t id = 0;
	enum vig_err err;

	if (!vig_req_id(r, "incident", &in.incident_id) || !(body = vig_req_json_body(r)))
		return;
	in.agent_id = body_str(r, body, "agent_id", &bad);
	in.type = body_str(r, body, "type", &bad);
	in.reason = body_str(r, body, "reason", &bad);
	in.params = json_object_get(body, "params");
	if (!bad && (!in.agent_id || !in.type)) {
		vig_reply_err(r, VIG_EINVAL, "agent_id and type are required");
		bad = true;
	}
	if (!bad) {
		err = vig_resp_request(r->srv->db, r->srv->fleet, &r->who, &in, vig_time_now(), &id, &out, errbuf);
		if (err == VIG_OK)
			requested(r->srv, id);
		reply(r, err, errbuf, out, 201);
	}
	json_decref(body);
}

/* Lists requests with filter f completed from ?status= and ?limit=. */
static void list_requests(struct vig_req *r, struct vig_resp_filter *f)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", status[32] = "", tenant[VIG_NAME_MAX] = "";
	json_t *out = NULL;
	enum vig_err err;

	if (vig_req_query(r, "status", status, sizeof(status)) < 0 ||
	    vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    !vig_req_int(r, "limit", 100, 1, VIG_RESP_LIST_MAX, &f->limit))
		return;
	f->status = status;
	f->tenant = tenant;
	err = vig_resp_list(r->srv->db, &r->who, f, &out, errbuf);
	reply(r, err, errbuf, out, 200);
}

void vig_api_incident_actions_list(struct vig_req *r)
{
	struct vig_resp_filter f = {0};

	if (vig_req_id(r, "incident", &f.incident_id))
		list_requests(r, &f);
}

void vig_api_approvals_list(struct vig_req *r)
{
	struct vig_resp_filter f = {0};

	list_requests(r, &f);
}

static void decide(struct vig_req *r, bool approve)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = NULL, *out = NULL;
	bool bad = false;
	const char *reason;
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "approval", &id))
		return;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) && !(body = vig_req_json_body(r)))
		return;
	reason = body_str(r, body, "reason", &bad);
	if (!bad) {
		err = vig_resp_decide(r->srv->db, r->srv->fleet, &r->who, id, approve, reason, vig_time_now(), &out,
				      errbuf);
		if (err == VIG_OK) {
			wake_agent(r->srv, out);
			publish_request(r->srv, out);
		}
		reply(r, err, errbuf, out, 200);
	}
	json_decref(body);
}

void vig_api_approval_approve(struct vig_req *r)
{
	decide(r, true);
}

void vig_api_approval_reject(struct vig_req *r)
{
	decide(r, false);
}

void vig_api_response_request_cancel(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = NULL, *out = NULL;
	bool bad = false;
	const char *reason;
	int64_t id;

	if (!vig_req_id(r, "response request", &id))
		return;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) && !(body = vig_req_json_body(r)))
		return;
	reason = body_str(r, body, "reason", &bad);
	if (!bad) {
		enum vig_err err = vig_resp_cancel(r->srv->db, r->srv->fleet, &r->who, id, reason, vig_time_now(),
						   &out, errbuf);

		if (err == VIG_OK)
			publish_request(r->srv, out);
		reply(r, err, errbuf, out, 200);
	}
	json_decref(body);
}

/* ---- playbooks ---- */

void vig_api_playbooks_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_playbook_list(r->srv->db, &r->who, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

/* Creates (id 0) or replaces a playbook from the request body. */
static void put_playbook(struct vig_req *r, int64_t id, int status)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *out = NULL;
	enum vig_err err;

	if (!body)
		return;
	err = vig_playbook_put(r->srv->db, &r->who, id, body, vig_time_now(), &out, errbuf);
	reply(r, err, errbuf, out, status);
	json_decref(body);
}

void vig_api_playbooks_create(struct vig_req *r)
{
	put_playbook(r, 0, 201);
}

void vig_api_playbook_put(struct vig_req *r)
{
	int64_t id;

	if (vig_req_id(r, "playbook", &id))
		put_playbook(r, id, 200);
}

void vig_api_playbook_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "playbook", &id))
		return;
	err = vig_playbook_delete(r->srv->db, &r->who, id, errbuf);
	reply(r, err, errbuf, err == VIG_OK ? json_pack("{s:I,s:b}", "id", (json_int_t)id, "ok", 1) : NULL, 200);
}

/* ---- provider overview ---- */

void vig_api_provider_overview(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t now = vig_time_now();
	json_t *out = NULL;
	enum vig_err err = vig_resp_overview(r->srv->db, &r->who, now,
					     now - 3 * r->srv->cfg.agents_heartbeat_s * VIG_NS_PER_SEC, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}
