/*
 * api_detect.c - alert management and rule engineering in vigild: the asset inventory that
 * raises alert severity, suppression windows, per-rule exceptions, rule validation and testing
 * against sample events, and retro-hunts over the stored history. The data and the decisions
 * live in src/alert (policy.h, hunt.h); this file is their HTTP face and the glue to the
 * detection stage.
 *
 * Record path (ingest writer thread): api_alerts.c's recording takes one policy snapshot per
 * batch and calls vig_detect_mgmt_admit() for every match: an exception or an active
 * suppression drops the match (counted per entry and in /metrics), otherwise the match's
 * severity becomes the rule's level raised by the asset criticality.
 *
 * Changes: every create / update / delete is audited (asset.*, suppression.*, exception.*,
 * hunt.*) and followed by a synchronous policy reload, so the next batch sees it.
 *
 * Tenancy: the caller's tenant, or for provider principals the one named by ?tenant= (hunts
 * also accept "tenant" in the body); src/alert enforces scope again on every read and write,
 * and another tenant's object is 404.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/hunt.h"
#include "alert/policy.h"
#include "alert/rules.h"
#include "common/vtime.h"
#include "detect/correlate.h"
#include "detect/detect.h"
#include "event/event_json.h"

#define TEST_MAX_EVENTS 1000     /* events of one POST /rules/test */
#define TEST_MAX_RULES 100       /* rule documents of one POST /rules/test */
#define HUNT_DEFAULT_RANGE_NS (7 * VIG_NS_PER_DAY)

/* ---- lifecycle and the record path ---- */

enum vig_err vig_detect_mgmt_start(struct vig_server *srv, char *errbuf)
{
	srv->policy = vig_policy_new(srv->db, errbuf);
	if (!srv->policy)
		return VIG_EIO;
	srv->hunts = vig_hunts_new(srv->store, srv->db, srv->policy, errbuf);
	return srv->hunts ? VIG_OK : VIG_EINTERNAL;
}

void vig_detect_mgmt_stop(struct vig_server *srv)
{
	vig_ingest_drain(srv->ingest); /* the writer must be gone before the policy is (no-op after run) */
	vig_hunts_free(srv->hunts);
	srv->hunts = NULL;
	vig_policy_free(srv->policy);
	srv->policy = NULL;
}

struct vig_policy_snap *vig_detect_mgmt_policy(struct vig_server *srv)
{
	return srv->policy ? vig_policy_acquire(srv->policy) : NULL;
}

void vig_detect_mgmt_policy_release(struct vig_policy_snap *pol)
{
	vig_policy_snap_release(pol);
}

bool vig_detect_mgmt_admit(struct vig_server *srv, struct vig_policy_snap *pol,
			   const struct vig_event *ev, struct vig_alert_match *m, int64_t now)
{
	enum vig_alert_severity sev = vig_alert_severity_of_level(m->level), base = sev;
	enum vig_policy_verdict v;

	m->has_severity = true;
	m->severity = sev;
	if (!pol)
		return true;
	v = vig_policy_apply(pol, ev, m->tenant, m->rule_id, now, &sev, NULL, NULL);
	vig_policy_count(srv->policy, v, sev != base);
	m->severity = sev;
	return v == VIG_POLICY_ALERT;
}

bool vig_detect_mgmt_admit_match(struct vig_server *srv, struct vig_policy_snap *pol,
				 struct vig_alert_match *m, int64_t now)
{
	struct vig_arena arena;
	struct vig_event ev;
	bool ok;

	vig_arena_init(&arena, 4096, 64 * 1024);
	vig_event_init(&ev, &arena);
	if (m->tenant)
		vig_event_set_cstr(&ev, VIG_F_TENANT_ID, m->tenant);
	if (m->host)
		vig_event_set_cstr(&ev, VIG_F_HOST_NAME, m->host);
	if (m->user)
		vig_event_set_cstr(&ev, VIG_F_USER_NAME, m->user);
	if (m->source_ip)
		vig_event_set_ip(&ev, VIG_F_SOURCE_IP, m->source_ip, strlen(m->source_ip));
	ok = vig_detect_mgmt_admit(srv, pol, &ev, m, now);
	vig_arena_release(&arena);
	return ok;
}

void vig_detect_mgmt_metrics(struct vig_server *srv, struct vig_buf *b)
{
	uint64_t exc = 0, sup = 0, raised = 0;

	if (srv->policy)
		vig_policy_totals(srv->policy, &exc, &sup, &raised);
	vig_buf_printf(b,
		       "# HELP vigil_alerts_excepted_total Rule matches dropped by a rule exception.\n"
		       "# TYPE vigil_alerts_excepted_total counter\n"
		       "vigil_alerts_excepted_total %llu\n"
		       "# HELP vigil_alerts_suppressed_total Rule matches dropped by an active suppression.\n"
		       "# TYPE vigil_alerts_suppressed_total counter\n"
		       "vigil_alerts_suppressed_total %llu\n"
		       "# HELP vigil_alerts_severity_raised_total Matches whose severity an asset's criticality raised.\n"
		       "# TYPE vigil_alerts_severity_raised_total counter\n"
		       "vigil_alerts_severity_raised_total %llu\n",
		       (unsigned long long)exc, (unsigned long long)sup, (unsigned long long)raised);
}

/* ---- request helpers ---- */

static void reload_policy(struct vig_server *srv)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";

	if (vig_policy_reload(srv->policy, errbuf) != VIG_OK)
		vig_error("policy", "reload failed (previous policy kept)", "err=\"%s\"", errbuf);
}

/* Reads an optional string member; false (400 sent) when present and not a string. */
static bool opt_str(struct vig_req *r, json_t *body, const char *key, const char **out)
{
	json_t *v = json_object_get(body, key);
	char msg[96];

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(msg, sizeof(msg), "%s: expected a string", key);
		vig_reply_err(r, VIG_EINVAL, msg);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* A time member: RFC 3339 string or epoch seconds (number or string); def when absent. */
static bool opt_time(struct vig_req *r, json_t *body, const char *key, int64_t def, int64_t *out)
{
	json_t *v = json_object_get(body, key);
	char msg[96];

	*out = def;
	if (!v || json_is_null(v))
		return true;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) < INT64_MAX / VIG_NS_PER_SEC) {
		*out = json_integer_value(v) * VIG_NS_PER_SEC;
		return true;
	}
	if (json_is_string(v) && vig_http_parse_time(json_string_value(v), out))
		return true;
	snprintf(msg, sizeof(msg), "%s: expected RFC 3339 or epoch seconds", key);
	vig_reply_err(r, VIG_EINVAL, msg);
	return false;
}

/* ---- assets ---- */

/* Reads the asset fields of a body; false (400 sent) when malformed. */
static bool asset_fields(struct vig_req *r, json_t *body, struct vig_asset_fields *f,
			 enum vig_crit *crit)
{
	const char *c = NULL;
	json_t *tags = json_object_get(body, "tags");

	memset(f, 0, sizeof(*f));
	if (!opt_str(r, body, "hostname", &f->hostname) || !opt_str(r, body, "ip", &f->ip) ||
	    !opt_str(r, body, "owner", &f->owner) || !opt_str(r, body, "criticality", &c))
		return false;
	if (json_is_null(json_object_get(body, "owner")))
		f->owner = "";
	if (json_is_null(json_object_get(body, "ip")))
		f->ip = "";
	if (c) {
		if (!vig_crit_parse(c, crit)) {
			vig_reply_err(r, VIG_EINVAL,
				      "criticality: expected low, medium, high or critical");
			return false;
		}
		f->criticality = crit;
	}
	if (tags && !json_is_null(tags))
		f->tags = tags;
	return true;
}

void vig_api_assets_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_asset *rows = NULL;
	int64_t limit; /* 0: the store's default */
	enum vig_err err;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    !vig_req_int(r, "limit", 0, 1, VIG_ASSET_LIST_MAX, &limit))
		return;
	err = vig_asset_list(r->srv->db, &r->who, tenant, (size_t)limit, &rows, &n, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, vig_asset_to_json(&rows[i]));
	vig_asset_list_free(rows, n);
	vig_reply_jansson(r, 200, json_pack("{s:o,s:I}", "assets", arr, "count", (json_int_t)n));
}

void vig_api_assets_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX];
	struct vig_asset_fields f;
	struct vig_asset a;
	enum vig_crit crit;
	enum vig_err err;
	json_t *body, *j;

	if (!vig_req_tenant(r, tenant, NULL))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	if (!asset_fields(r, body, &f, &crit)) {
		json_decref(body);
		return;
	}
	err = vig_asset_create(r->srv->db, &r->who, tenant, &f, &a, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	j = vig_asset_to_json(&a);
	vig_req_audit_id(r, a.tenant, "asset.create", "asset", a.id, NULL, j);
	vig_asset_release(&a);
	reload_policy(r->srv);
	vig_reply_jansson(r, 201, j);
}

void vig_api_asset_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_asset a;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "asset", &id))
		return;
	err = vig_asset_get(r->srv->db, &r->who, id, &a, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, vig_asset_to_json(&a));
	vig_asset_release(&a);
}

void vig_api_asset_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_asset_fields f;
	struct vig_asset before, after;
	enum vig_crit crit;
	enum vig_err err;
	json_t *body, *jb, *ja;
	int64_t id;

	if (!vig_req_id(r, "asset", &id))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	if (!asset_fields(r, body, &f, &crit)) {
		json_decref(body);
		return;
	}
	err = vig_asset_update(r->srv->db, &r->who, id, &f, &before, &after, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	jb = vig_asset_to_json(&before);
	ja = vig_asset_to_json(&after);
	vig_req_audit_id(r, after.tenant, "asset.update", "asset", id, jb, ja);
	json_decref(jb);
	vig_asset_release(&before);
	vig_asset_release(&after);
	reload_policy(r->srv);
	vig_reply_jansson(r, 200, ja);
}

void vig_api_asset_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_asset before;
	enum vig_err err;
	json_t *jb;
	int64_t id;

	if (!vig_req_id(r, "asset", &id))
		return;
	err = vig_asset_delete(r->srv->db, &r->who, id, &before, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	jb = vig_asset_to_json(&before);
	vig_req_audit_id(r, before.tenant, "asset.delete", "asset", id, jb, NULL);
	json_decref(jb);
	vig_asset_release(&before);
	reload_policy(r->srv);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- suppressions and exceptions ---- */

static json_t *entries_json(struct vig_server *srv, const struct vig_policy_entry *rows, size_t n,
			    uint64_t *total)
{
	json_t *arr = json_array();

	*total = 0;
	for (size_t i = 0; arr && i < n; i++) {
		uint64_t hits = vig_policy_hits(srv->policy, rows[i].kind, rows[i].id);

		*total += hits;
		json_array_append_new(arr, vig_policy_entry_to_json(&rows[i], hits));
	}
	return arr;
}

/* Creates an entry of kind for the request's tenant from its body; rule_id for exceptions. */
static void entry_create(struct vig_req *r, enum vig_policy_kind kind, const char *rule_id)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX];
	const char *what = kind == VIG_POLICY_SUPPRESSION ? "suppression" : "exception";
	char action[32];
	struct vig_policy_entry e;
	enum vig_err err;
	json_t *body, *j;

	if (!vig_req_tenant(r, tenant, NULL))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	err = vig_policy_entry_from_json(kind, body, vig_time_now(), &e, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	snprintf(e.tenant, sizeof(e.tenant), "%s", tenant);
	if (rule_id)
		snprintf(e.rule_id, sizeof(e.rule_id), "%s", rule_id);
	err = vig_policy_entry_create(r->srv->db, &r->who, &e, errbuf);
	if (err != VIG_OK) {
		vig_policy_entry_release(&e);
		vig_reply_err(r, err, errbuf);
		return;
	}
	j = vig_policy_entry_to_json(&e, 0);
	snprintf(action, sizeof(action), "%s.create", what);
	vig_req_audit_id(r, e.tenant, action, what, e.id, NULL, j);
	vig_policy_entry_release(&e);
	reload_policy(r->srv);
	vig_reply_jansson(r, 201, j);
}

static void entry_delete(struct vig_req *r, enum vig_policy_kind kind)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", action[32];
	const char *what = kind == VIG_POLICY_SUPPRESSION ? "suppression" : "exception";
	struct vig_policy_entry before;
	enum vig_err err;
	json_t *jb;
	int64_t id;

	if (!vig_req_id(r, what, &id))
		return;
	err = vig_policy_entry_delete(r->srv->db, &r->who, kind, id, &before, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	jb = vig_policy_entry_to_json(&before, vig_policy_hits(r->srv->policy, kind, id));
	snprintf(action, sizeof(action), "%s.delete", what);
	vig_req_audit_id(r, before.tenant, action, what, id, jb, NULL);
	json_decref(jb);
	vig_policy_entry_release(&before);
	reload_policy(r->srv);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

void vig_api_suppressions_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", all[8] = "";
	char rule[VIG_ALERT_RULE_ID_MAX] = "";
	struct vig_policy_entry *rows = NULL;
	enum vig_err err;
	uint64_t total;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    vig_req_query(r, "all", all, sizeof(all)) < 0 ||
	    vig_req_query(r, "rule", rule, sizeof(rule)) < 0)
		return;
	err = vig_policy_entry_list(r->srv->db, &r->who, VIG_POLICY_SUPPRESSION, tenant,
				    rule[0] ? rule : NULL, strcmp(all, "1") == 0 || strcmp(all, "true") == 0,
				    vig_time_now(), &rows, &n, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	arr = entries_json(r->srv, rows, n, &total);
	vig_policy_entry_list_free(rows, n);
	vig_reply_jansson(r, 200, json_pack("{s:o,s:I,s:I}", "suppressions", arr, "count",
					    (json_int_t)n, "hits", (json_int_t)total));
}

void vig_api_suppressions_create(struct vig_req *r)
{
	entry_create(r, VIG_POLICY_SUPPRESSION, NULL);
}

void vig_api_suppression_delete(struct vig_req *r)
{
	entry_delete(r, VIG_POLICY_SUPPRESSION);
}

void vig_api_rule_exceptions_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_policy_entry *rows = NULL;
	enum vig_err err;
	uint64_t total;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	err = vig_policy_entry_list(r->srv->db, &r->who, VIG_POLICY_EXCEPTION, tenant, r->param,
				    true, vig_time_now(), &rows, &n, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	arr = entries_json(r->srv, rows, n, &total);
	vig_policy_entry_list_free(rows, n);
	vig_reply_jansson(r, 200, json_pack("{s:s,s:o,s:I,s:I}", "rule_id", r->param, "exceptions",
					    arr, "count", (json_int_t)n, "hits",
					    (json_int_t)total));
}

void vig_api_rule_exceptions_create(struct vig_req *r)
{
	entry_create(r, VIG_POLICY_EXCEPTION, r->param);
}

void vig_api_exception_delete(struct vig_req *r)
{
	entry_delete(r, VIG_POLICY_EXCEPTION);
}

/* ---- rule validation and test ---- */

static const char *kind_name(enum vig_sigma_kind k)
{
	switch (k) {
	case VIG_SIGMA_DETECTION: return "detection";
	case VIG_SIGMA_CORRELATION: return "correlation";
	case VIG_SIGMA_FILTER: return "filter";
	}
	return "unknown";
}

/* The "yaml" member of a body; false (400 sent) when missing or too large. */
static bool body_yaml(struct vig_req *r, json_t *body, const char **yaml, size_t *n)
{
	json_t *y = json_object_get(body, "yaml");

	if (!json_is_string(y) || json_string_length(y) == 0) {
		vig_reply_err(r, VIG_EINVAL, "yaml: expected the rule as a string");
		return false;
	}
	if (json_string_length(y) > VIG_ALERT_RULE_YAML_MAX) {
		vig_reply_err(r, VIG_ETOOBIG, "yaml: larger than 256 KiB");
		return false;
	}
	*yaml = json_string_value(y);
	*n = json_string_length(y);
	return true;
}

static json_t *rule_summary(const struct vig_sigma_rule *rule)
{
	struct vig_buf q;
	char errbuf[VIG_ERRBUF_SIZE];
	json_t *o = json_pack("{s:s,s:s,s:s?,s:s?,s:I}", "kind", kind_name(rule->kind), "title",
			      rule->title, "id", rule->id, "level", rule->level, "atoms",
			      (json_int_t)vig_sigma_atom_count(rule));

	if (o && rule->kind == VIG_SIGMA_DETECTION) {
		vig_buf_init(&q, VIG_HUNT_PREFILTER_MAX + 1);
		if (vig_hunt_prefilter(rule, &q, errbuf) == VIG_OK)
			json_object_set_new(o, "prefilter", json_string(q.data ? q.data : ""));
		vig_buf_release(&q);
	}
	return o;
}

void vig_api_rules_validate(struct vig_req *r)
{
	struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_sigma_rule *rule;
	const char *yaml;
	json_t *body, *o, *docs;
	size_t n;

	body = vig_req_json_body(r);
	if (!body)
		return;
	if (!body_yaml(r, body, &yaml, &n)) {
		json_decref(body);
		return;
	}
	rule = vig_sigma_load(yaml, n, &opts, errbuf);
	json_decref(body);
	if (!rule) {
		vig_reply_jansson(r, 200, json_pack("{s:b,s:s}", "ok", 0, "error",
						    errbuf[0] ? errbuf : "rule does not load"));
		return;
	}
	o = rule_summary(rule);
	json_object_set_new(o, "ok", json_true());
	json_object_set_new(o, "error", json_null());
	docs = json_array();
	for (const struct vig_sigma_rule *x = rule; x; x = x->next)
		json_array_append_new(docs, rule_summary(x));
	json_object_set_new(o, "documents", docs);
	vig_sigma_free(rule);
	vig_reply_jansson(r, 200, o);
}

/* What one event of a test produced: the detection rules that matched it and the correlation
 * rules that fired on it. */
struct test_ctx {
	struct vig_corr *corr;       /* correlation engine of the test's rules */
	const struct vig_event *ev;  /* the event being matched */
	json_t *matched, *fired;
};

static int on_test_fire(void *arg, const struct vig_corr_fire *f)
{
	json_t *fired = arg, *group = json_object();

	for (size_t i = 0; group && i < f->n_group; i++)
		json_object_set_new(group, f->group_by[i],
				    f->group_values[i] ? json_string(f->group_values[i]) : json_null());
	json_array_append_new(fired, json_pack("{s:s,s:s?,s:s?,s:o,s:I,s:f,s:b}", "title",
					       f->rule->title, "id", f->rule->id, "level",
					       f->rule->level, "group", group, "events",
					       (json_int_t)f->n_events, "value", f->value, "alert",
					       f->alert));
	return 0;
}

static int on_test_match(void *arg, const struct vig_sigma_rule *rule)
{
	struct test_ctx *c = arg;

	json_array_append_new(c->matched, json_pack("{s:s,s:s?,s:s?}", "title", rule->title, "id",
						    rule->id, "level", rule->level));
	if (c->corr && vig_corr_rule_used(c->corr, rule))
		vig_corr_feed(c->corr, rule, NULL, c->ev, on_test_fire, c->fired, NULL);
	return 0;
}

static void on_corr_problem(void *arg, const struct vig_sigma_rule *rule, const char *reason)
{
	json_array_append_new(arg, json_pack("{s:s,s:s,s:s}", "title", rule->title, "kind",
					     "correlation", "reason", reason));
}

/* Runs each event of events, in order, through eng and corr; results appended to out, and
 * the firings of windows still open at the end (closed by advancing time) to at_end. */
static enum vig_err test_events(struct vig_detect_engine *eng, struct vig_corr *corr,
				json_t *events, json_t *out, json_t *at_end, char *errbuf)
{
	struct vig_detect_scratch *s = vig_detect_scratch_new(eng, errbuf);
	struct vig_arena arena;
	struct vig_event ev;
	size_t i;
	json_t *e;

	if (!s)
		return VIG_EINTERNAL;
	vig_arena_init(&arena, 64 * 1024, 8u << 20);
	json_array_foreach(events, i, e) {
		char eb[VIG_ERRBUF_SIZE] = "";
		struct test_ctx c = {.corr = corr, .ev = &ev, .matched = json_array(),
				     .fired = json_array()};
		json_t *res = json_pack("{s:I}", "index", (json_int_t)i);

		vig_arena_reset(&arena);
		vig_event_init(&ev, &arena);
		if (!json_is_object(e) || vig_event_from_jansson(&ev, e, NULL, eb) != VIG_OK) {
			json_object_set_new(res, "error", json_string(eb[0] ? eb : "not an event object"));
			json_decref(c.matched);
			json_decref(c.fired);
		} else {
			vig_detect_match(eng, s, &ev, on_test_match, &c, NULL);
			json_object_set_new(res, "matched", c.matched);
			json_object_set_new(res, "correlations", c.fired);
		}
		json_array_append_new(out, res);
	}
	if (corr)
		vig_corr_advance(corr, INT64_MAX / 2, on_test_fire, at_end, NULL);
	vig_arena_release(&arena);
	vig_detect_scratch_free(s);
	return VIG_OK;
}

/* Loads the test's rules into an engine (all kinds; filters listed in skipped). */
static struct vig_detect_engine *test_engine(struct vig_sigma_rule *rule, json_t *rules,
					     json_t *skipped, size_t *n_detection, char *errbuf)
{
	struct vig_sigma_ruleset rs;
	struct vig_detect_engine *eng;
	enum vig_err err = VIG_OK;
	struct vig_sigma_rule *next;

	vig_sigma_ruleset_init(&rs, TEST_MAX_RULES);
	for (; rule && err == VIG_OK; rule = next) {
		next = rule->next;
		rule->next = NULL;
		json_array_append_new(rules, rule_summary(rule));
		if (rule->kind == VIG_SIGMA_FILTER) {
			json_array_append_new(skipped, json_pack("{s:s,s:s,s:s}", "title", rule->title,
								 "kind", "filter", "reason",
								 "filters are applied by the live pipeline only"));
			vig_sigma_free(rule);
			continue;
		}
		*n_detection += rule->kind == VIG_SIGMA_DETECTION;
		err = vig_sigma_ruleset_add(&rs, rule);
	}
	vig_sigma_free(rule); /* what is left after a failure */
	if (err != VIG_OK) {
		vig_sigma_ruleset_release(&rs);
		vig_errf(errbuf, err, "more than %d rules", TEST_MAX_RULES);
		return NULL;
	}
	eng = vig_detect_build(&rs, errbuf);
	vig_sigma_ruleset_release(&rs);
	return eng;
}

void vig_api_rules_test(struct vig_req *r)
{
	struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_sigma_rule *rule = NULL;
	struct vig_detect_engine *eng = NULL;
	struct vig_corr *corr = NULL;
	json_t *body, *events, *results = NULL, *rules = NULL, *skipped = NULL, *at_end = NULL;
	enum vig_err err = VIG_OK;
	const char *yaml;
	size_t n, count = 0, n_rules = 0;

	body = vig_req_json_body(r);
	if (!body)
		return;
	if (!body_yaml(r, body, &yaml, &n))
		goto out;
	events = json_object_get(body, "events");
	if (!json_is_array(events) || json_array_size(events) > TEST_MAX_EVENTS) {
		vig_reply_err(r, VIG_EINVAL, "events: expected an array of at most 1000 events");
		goto out;
	}
	rule = vig_sigma_load(yaml, n, &opts, errbuf);
	if (!rule) {
		vig_reply_err(r, VIG_EINVAL, errbuf[0] ? errbuf : "rule does not load");
		goto out;
	}
	rules = json_array();
	skipped = json_array();
	at_end = json_array();
	eng = test_engine(rule, rules, skipped, &count, errbuf);
	if (!eng) {
		vig_reply_err(r, VIG_EINVAL, errbuf[0] ? errbuf : "rules do not build");
		goto out;
	}
	corr = vig_corr_new(NULL);
	{
		struct vig_sigma_rule *const *all = vig_detect_rules(eng, &n_rules);

		if (!corr || vig_corr_set_rules(corr, all, n_rules, on_corr_problem, skipped, errbuf) !=
				     VIG_OK) {
			vig_reply_err(r, VIG_ENOMEM, "out of memory");
			goto out;
		}
	}
	results = json_array();
	err = test_events(eng, corr, events, results, at_end, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		goto out;
	}
	vig_reply_jansson(r, 200, json_pack("{s:O,s:O,s:O,s:O,s:I}", "rules", rules, "not_evaluated",
					    skipped, "results", results, "correlations_at_end",
					    at_end, "detection_rules", (json_int_t)count));
out:
	vig_corr_free(corr);
	vig_detect_free(eng);
	json_decref(rules);
	json_decref(skipped);
	json_decref(results);
	json_decref(at_end);
	json_decref(body);
}

/* ---- hunts ---- */

/* The YAML of stored rule id visible to tenant (its own or the provider's); malloc'ed. */
static char *stored_rule_yaml(struct vig_server *srv, const char *tenant, const char *id,
			      size_t *n)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	char *yaml = NULL;

	if (sqlite3_prepare_v2(h,
			       "SELECT yaml FROM rules WHERE id = ?1 AND tenant_id IN (?2, ?3) "
			       "ORDER BY tenant_id = ?2 DESC LIMIT 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, VIG_DB_PROVIDER_TENANT, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*n = (size_t)sqlite3_column_bytes(st, 0);
			yaml = malloc(*n + 1);
			if (yaml) {
				memcpy(yaml, sqlite3_column_blob(st, 0), *n);
				yaml[*n] = '\0';
			}
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	return yaml;
}

void vig_api_hunts_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_hunt_spec spec = {0};
	const char *yaml = NULL, *rule_id = NULL, *btenant = NULL, *scope = NULL;
	char *stored = NULL;
	json_t *body, *ca, *j = NULL;
	enum vig_err err;
	int64_t id = 0, now = vig_time_now();

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	if (!opt_str(r, body, "yaml", &yaml) || !opt_str(r, body, "rule_id", &rule_id) ||
	    !opt_str(r, body, "tenant", &btenant) || !opt_time(r, body, "to", now, &spec.to) ||
	    !opt_time(r, body, "from", spec.to - HUNT_DEFAULT_RANGE_NS, &spec.from))
		goto out;
	err = vig_principal_scope(&r->who, btenant ? btenant : tenant, &scope, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf[0] ? errbuf : "tenant not accessible");
		goto out;
	}
	spec.tenant = scope ? scope : r->who.tenant;
	ca = json_object_get(body, "create_alerts");
	if (ca && !json_is_boolean(ca)) {
		vig_reply_err(r, VIG_EINVAL, "create_alerts: expected true or false");
		goto out;
	}
	spec.create_alerts = json_is_true(ca);
	if (spec.create_alerts && !vig_principal_can(&r->who, VIG_PERM_ALERTS_WRITE)) {
		vig_reply_err(r, VIG_EPERM, "create_alerts needs the alerts:write permission");
		goto out;
	}
	if (!yaml == !rule_id) {
		vig_reply_err(r, VIG_EINVAL, "expected either yaml or rule_id");
		goto out;
	}
	if (rule_id) {
		stored = stored_rule_yaml(r->srv, spec.tenant, rule_id, &spec.yaml_len);
		if (!stored) {
			vig_reply_err(r, VIG_ENOTFOUND, "no such rule");
			goto out;
		}
		spec.yaml = stored;
		spec.rule_id = rule_id;
	} else {
		spec.yaml = yaml;
		spec.yaml_len = strlen(yaml);
	}
	spec.dedupe_window_ns = r->srv->cfg.dedupe_window_s * VIG_NS_PER_SEC;
	spec.created_by = r->who.username;
	err = vig_hunts_submit(r->srv->hunts, &spec, &id, errbuf);
	if (err != VIG_OK) {
		if (err == VIG_EBUSY)
			vig_req_header(r, "Retry-After", "60");
		vig_reply_err(r, err, errbuf);
		goto out;
	}
	if (vig_hunts_get(r->srv->hunts, &r->who, id, false, &j, errbuf) != VIG_OK)
		j = json_pack("{s:I}", "id", (json_int_t)id);
	vig_req_audit_id(r, spec.tenant, "hunt.create", "hunt", id, NULL, j);
	vig_reply_jansson(r, 202, j);
out:
	free(stored);
	json_decref(body);
}

void vig_api_hunts_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	enum vig_err err;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	err = vig_hunts_list(r->srv->hunts, &r->who, tenant, &arr, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr),
					    "hunts", arr));
}

void vig_api_hunt_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", hits[8] = "";
	enum vig_err err;
	json_t *j;
	int64_t id;

	if (!vig_req_id(r, "hunt", &id) || vig_req_query(r, "hits", hits, sizeof(hits)) < 0)
		return;
	err = vig_hunts_get(r->srv->hunts, &r->who, id, strcmp(hits, "0") != 0, &j, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, j);
}

void vig_api_hunt_cancel(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *j = NULL;
	int64_t id;

	if (!vig_req_id(r, "hunt", &id))
		return;
	err = vig_hunts_cancel(r->srv->hunts, &r->who, id, errbuf);
	if (err == VIG_OK)
		err = vig_hunts_get(r->srv->hunts, &r->who, id, false, &j, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_req_audit_id(r, json_string_value(json_object_get(j, "tenant")), "hunt.cancel", "hunt",
			 id, NULL, NULL);
	vig_reply_jansson(r, 200, j);
}
