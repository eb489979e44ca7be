/*
 * api_alerts.c - detection in vigild and everything it produces: the live rule set (loaded at
 * start from the control DB and detect.rules_dir, rebuilt in the background after every rule
 * change), the detection stage of the ingest writer, the rules API, the alerts API and the
 * detection metrics.
 *
 * Detection stage (ingest writer thread, after vig_evstore_append() committed a new batch):
 * take one reference to the current engine for the whole batch (so a concurrent rule swap
 * never splits a batch: each event is evaluated exactly once, by one engine), renew the
 * thread's scratch if the engine changed, match every event, keep the matches whose rule
 * belongs to the event's tenant or to every tenant (kept in memory, at most PENDING_MAX), then
 * fold them into alerts in one control-DB transaction (src/alert), commit, and publish new
 * alerts and throttled count bumps to the live stream. The control DB is locked only for the
 * recording, never while matching, and batches without matches never touch it. A failure here
 * is logged and counted; the batch stays accepted.
 *
 * Rules API: POST validates with the Sigma loader (400 with its reason), stores, audits and
 * requests a rebuild; PATCH {"enabled"} and DELETE do the same. GET lists each rule with what
 * the loader reads from its YAML (title, level, tags, status) and whether the live engine holds
 * it (`loaded`), plus the engine's state, so a client can wait for a change to be live. The
 * rules of detect.rules_dir follow the DB rules in the same paged list, read from the live
 * engine ("source": "builtin", with their file); they are read-only (PATCH/DELETE: 409), but
 * exceptions and suppressions (api_detect.c) take any rule id.
 *
 * Tenancy: the caller's tenant, or for provider principals the one named by ?tenant=; the
 * alert module enforces scope again on every read and write.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/rules.h"
#include "common/vtime.h"
#include "detect/detect.h"
#include "event/event_json.h"

#define PUBLISH_MAX 1024          /* alerts published per batch; more are counted, not sent */
#define PENDING_MAX (256u * 1024) /* matches recorded per batch; more are counted as errors */
#define RULES_LIST_DEFAULT 100
#define RULES_LIST_MAX 1000
#define EVENT_QUERY_MAX 3900      /* bytes of one event.id query (the store allows 4096) */

/* ---- lifecycle ---- */

enum vig_err vig_alerts_start(struct vig_server *srv, char *errbuf)
{
	srv->rules = vig_alert_rules_new(srv->db, srv->cfg.rules_dir, errbuf);
	return srv->rules ? VIG_OK : VIG_EINTERNAL;
}

void vig_alerts_stop(struct vig_server *srv)
{
	vig_alert_rules_free(srv->rules);
	srv->rules = NULL;
}

/* ---- the detection stage ---- */

struct vig_detect_worker {
	struct vig_alert_engine *eng;       /* engine of scratch (one reference held) */
	struct vig_detect_scratch *scratch; /* per-thread matching state */
	size_t detection_rules;             /* of eng */
	int64_t pub[PUBLISH_MAX];           /* alert ids to publish after the commit */
	size_t n_pub;
};

struct vig_detect_worker *vig_detect_worker_new(void)
{
	return calloc(1, sizeof(struct vig_detect_worker));
}

void vig_detect_worker_free(struct vig_detect_worker *w)
{
	if (!w)
		return;
	vig_detect_scratch_free(w->scratch);
	vig_alert_engine_release(w->eng);
	free(w);
}

/* Makes w's scratch belong to the current engine; false when no scratch can be made. */
static bool worker_sync(struct vig_server *srv, struct vig_detect_worker *w)
{
	struct vig_alert_engine *e = vig_alert_rules_acquire(srv->rules);
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_detect_stats st;

	if (e == w->eng && w->scratch) {
		vig_alert_engine_release(e); /* w already holds one */
		return true;
	}
	vig_detect_scratch_free(w->scratch);
	vig_alert_engine_release(w->eng);
	w->eng = e;
	w->scratch = vig_detect_scratch_new(vig_alert_engine_detect(e), errbuf);
	vig_detect_get_stats(vig_alert_engine_detect(e), &st);
	w->detection_rules = st.detection_rules;
	if (!w->scratch) {
		vig_error("detect", "no scratch for the engine", "err=\"%s\"", errbuf);
		return false;
	}
	return true;
}

/* One match waiting to be recorded: the matching is done before the control DB is locked. */
struct pending_match {
	const struct vig_sigma_rule *rule;
	const struct vig_alert_rule_info *info;
	size_t ev; /* index into the batch */
};

struct match_ctx {
	struct vig_server *srv;
	struct vig_detect_worker *w;
	const char *tenant; /* of the event being matched */
	size_t ev;          /* its index */
	struct vig_event *const *evs; /* the batch (correlations read the matching event) */
	struct pending_match *pend;
	size_t n_pend, cap_pend;
	bool overflow;      /* more than PENDING_MAX matches in the batch */
};

static void publish_later(struct vig_detect_worker *w, int64_t id)
{
	for (size_t i = 0; i < w->n_pub; i++)
		if (w->pub[i] == id)
			return;
	if (w->n_pub < PUBLISH_MAX)
		w->pub[w->n_pub++] = id;
}

static int on_rule(void *arg, const struct vig_sigma_rule *rule)
{
	struct match_ctx *c = arg;
	const struct vig_alert_rule_info *info = vig_alert_engine_rule(c->w->eng, rule);

	if (!info || (info->tenant && strcmp(info->tenant, c->tenant) != 0))
		return 0; /* another tenant's rule */
	atomic_fetch_add(&c->srv->metrics.detect_matches, 1);
	if (!vig_correlation_match(c->srv, rule, c->evs[c->ev], c->tenant))
		return 0; /* only feeds correlations (Sigma generate: false; correlation.c) */
	if (c->n_pend == c->cap_pend) {
		size_t cap = c->cap_pend ? 2 * c->cap_pend : 64;
		void *p = cap <= PENDING_MAX ? realloc(c->pend, cap * sizeof(*c->pend)) : NULL;

		if (!p) {
			c->overflow = true;
			atomic_fetch_add(&c->srv->metrics.detect_errors, 1);
			return 0;
		}
		c->pend = p;
		c->cap_pend = cap;
	}
	c->pend[c->n_pend++] = (struct pending_match){rule, info, c->ev};
	return 0;
}

/* The event's @timestamp in ns, 0 when absent. */
static int64_t ts_field(const struct vig_event *ev)
{
	const struct vig_val *v = vig_event_get(ev, VIG_F_TIMESTAMP);

	return v && v->type == VIG_T_TS ? v->u.i : 0;
}

static const char *str_field(const struct vig_event *ev, enum vig_field f)
{
	const struct vig_val *v = vig_event_get(ev, f);

	return v && v->type == VIG_T_STR ? v->u.s : NULL;
}

/* Folds the pending matches into alerts in one transaction (bounded by the alert module). */
static void record_all(struct match_ctx *c, struct vig_event *const *evs, int64_t now)
{
	struct vig_metrics *mt = &c->srv->metrics;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_alert_tx *tx = NULL;
	struct vig_policy_snap *pol;
	enum vig_err err;

	err = vig_alert_tx_begin(c->srv->db, c->srv->cfg.dedupe_window_s * VIG_NS_PER_SEC, &tx,
				 errbuf);
	if (err != VIG_OK) {
		vig_error("detect", "cannot begin the alert transaction", "err=\"%s\"", errbuf);
		atomic_fetch_add(&mt->detect_errors, c->n_pend);
		return;
	}
	pol = vig_detect_mgmt_policy(c->srv); /* assets, exceptions, suppressions (api_detect.c) */
	for (size_t i = 0; i < c->n_pend; i++) {
		const struct pending_match *p = &c->pend[i];
		const struct vig_event *ev = evs[p->ev];
		const struct vig_val *ip = vig_event_get(ev, VIG_F_SOURCE_IP);
		struct vig_alert_match m = {
			.tenant = str_field(ev, VIG_F_TENANT_ID), .rule_id = p->info->rule_id,
			.title = p->rule->title, .level = p->rule->level, .tags = p->rule->tags.v,
			.n_tags = p->rule->tags.n, .host = str_field(ev, VIG_F_HOST_NAME),
			.user = str_field(ev, VIG_F_USER_NAME), .event_id = str_field(ev, VIG_F_EVENT_ID),
			.event_ns = ts_field(ev)};
		enum vig_alert_outcome oc;
		const char *direct = NULL;
		bool publish = false;
		char ipbuf[64];
		int64_t id = 0;

		if (ip) {
			vig_val_text(ip, ipbuf, sizeof(ipbuf), &direct);
			m.source_ip = direct ? direct : ipbuf;
		}
		if (!vig_detect_mgmt_admit(c->srv, pol, ev, &m, now))
			continue; /* an exception or an active suppression (api_detect.c) */
		err = vig_alert_tx_record(tx, &m, now, &oc, &id, &publish, errbuf);
		if (err != VIG_OK) {
			atomic_fetch_add(&mt->detect_errors, 1);
			vig_warn("detect", "match not recorded", "rule=\"%s\" err=\"%s\"",
				 p->info->rule_id, errbuf);
			if (err == VIG_EIO || err == VIG_ENOMEM) {
				atomic_fetch_add(&mt->detect_errors, c->n_pend - i - 1);
				break;
			}
			continue;
		}
		atomic_fetch_add(oc == VIG_ALERT_CREATED ? &mt->alerts_created : &mt->alerts_deduplicated,
				 1);
		if (publish)
			publish_later(c->w, id);
	}
	vig_detect_mgmt_policy_release(pol);
	if (vig_alert_tx_commit(tx, errbuf) != VIG_OK) {
		vig_error("detect", "alert commit failed", "err=\"%s\"", errbuf);
		atomic_fetch_add(&mt->detect_errors, 1);
		c->w->n_pub = 0;
	}
}

void vig_alerts_publish_ids(struct vig_server *srv, const int64_t *ids, size_t n)
{
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_principal sys;

	vig_principal_system(&sys);
	vig_incidents_group(srv, ids, n); /* new alerts into incidents (api_incidents.c) */
	for (size_t i = 0; i < n; i++) {
		struct vig_alert a;
		json_t *j;
		char *s;

		if (vig_alert_get(srv->db, &sys, ids[i], &a, errbuf) != VIG_OK)
			continue;
		j = vig_alert_to_json(&a);
		s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (s && vig_server_publish_alert(srv, a.tenant, s) != VIG_OK)
			vig_warn("detect", "alert not streamed", "id=%lld reason=\"queue full\"",
				 (long long)a.id);
		free(s);
		json_decref(j);
		vig_alert_release(&a);
	}
}

/* Publishes the alerts collected in w (after the commit). */
static void publish_all(struct vig_server *srv, struct vig_detect_worker *w)
{
	vig_alerts_publish_ids(srv, w->pub, w->n_pub);
	w->n_pub = 0;
}

void vig_detect_batch(struct vig_server *srv, struct vig_detect_worker *w,
		      struct vig_event *const *evs, size_t n)
{
	struct match_ctx c = {.srv = srv, .w = w, .evs = evs};
	int64_t t0 = vig_time_mono();

	if (!w || !srv->rules || !worker_sync(srv, w)) {
		atomic_fetch_add(&srv->metrics.detect_errors, 1);
		return;
	}
	vig_correlation_sync(srv, w->eng); /* correlation rules follow the engine (correlation.c) */
	if (w->detection_rules == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		c.tenant = str_field(evs[i], VIG_F_TENANT_ID);
		c.ev = i;
		if (!c.tenant)
			continue; /* cannot happen: ingest sets it */
		if (vig_detect_match(vig_alert_engine_detect(w->eng), w->scratch, evs[i], on_rule, &c,
				     NULL) != VIG_OK)
			atomic_fetch_add(&srv->metrics.detect_errors, 1);
	}
	atomic_fetch_add(&srv->metrics.detect_events, n);
	if (c.overflow)
		vig_warn("detect", "too many matches in one batch", "recorded=%zu", c.n_pend);
	if (c.n_pend)
		record_all(&c, evs, vig_time_now());
	free(c.pend);
	publish_all(srv, w);
	vig_correlation_batch_end(srv, w->eng); /* closed windows, correlation alerts, snapshot */
	atomic_fetch_add(&srv->metrics.detect_ns, (uint64_t)(vig_time_mono() - t0));
}

#define LOAD(x) ((unsigned long long)atomic_load(&(x)))

void vig_alerts_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_metrics *m = &srv->metrics;
	struct vig_alert_rules_status st;

	vig_alert_rules_status(srv->rules, &st);
	vig_buf_printf(b,
		       "# HELP vigil_rules_loaded Rules in the live detection engine.\n"
		       "# TYPE vigil_rules_loaded gauge\n"
		       "vigil_rules_loaded %zu\n"
		       "# HELP vigil_rules_generation Detection engines built since start.\n"
		       "# TYPE vigil_rules_generation counter\n"
		       "vigil_rules_generation %llu\n"
		       "# HELP vigil_rule_load_failures_total Rules skipped because they did not load.\n"
		       "# TYPE vigil_rule_load_failures_total counter\n"
		       "vigil_rule_load_failures_total %llu\n"
		       "# HELP vigil_rule_build_failures_total Engine builds that failed (previous rules kept).\n"
		       "# TYPE vigil_rule_build_failures_total counter\n"
		       "vigil_rule_build_failures_total %llu\n"
		       "# HELP vigil_detect_events_total Events evaluated against the rules.\n"
		       "# TYPE vigil_detect_events_total counter\n"
		       "vigil_detect_events_total %llu\n"
		       "# HELP vigil_detect_matches_total Rule matches on events of the rule's tenant.\n"
		       "# TYPE vigil_detect_matches_total counter\n"
		       "vigil_detect_matches_total %llu\n"
		       "# HELP vigil_detect_errors_total Matches or batches that could not be recorded.\n"
		       "# TYPE vigil_detect_errors_total counter\n"
		       "vigil_detect_errors_total %llu\n"
		       "# HELP vigil_detect_seconds_total Time spent in the detection stage.\n"
		       "# TYPE vigil_detect_seconds_total counter\n"
		       "vigil_detect_seconds_total %.6f\n"
		       "# HELP vigil_alerts_created_total Alerts created.\n"
		       "# TYPE vigil_alerts_created_total counter\n"
		       "vigil_alerts_created_total %llu\n"
		       "# HELP vigil_alerts_deduplicated_total Matches folded into an existing alert.\n"
		       "# TYPE vigil_alerts_deduplicated_total counter\n"
		       "vigil_alerts_deduplicated_total %llu\n",
		       st.rules, (unsigned long long)st.generation,
		       (unsigned long long)st.load_failures, (unsigned long long)st.build_failures,
		       LOAD(m->detect_events), LOAD(m->detect_matches), LOAD(m->detect_errors),
		       (double)LOAD(m->detect_ns) / 1e9, LOAD(m->alerts_created),
		       LOAD(m->alerts_deduplicated));
}

/* ---- alerts API ---- */

void vig_api_alerts_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", status[32] = "", sev[32] = "";
	char rule[VIG_ALERT_RULE_ID_MAX] = "", host[VIG_ALERT_TEXT_MAX] = "", since[64] = "";
	struct vig_alert_filter f = {0};
	struct vig_alert *rows = NULL;
	enum vig_err err;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    vig_req_query(r, "status", status, sizeof(status)) < 0 ||
	    vig_req_query(r, "severity", sev, sizeof(sev)) < 0 ||
	    vig_req_query(r, "rule", rule, sizeof(rule)) < 0 ||
	    vig_req_query(r, "host", host, sizeof(host)) < 0 ||
	    vig_req_query(r, "since", since, sizeof(since)) < 0 ||
	    !vig_req_int(r, "limit", 100, 1, VIG_ALERT_LIST_MAX, &f.limit))
		return;
	f.tenant = tenant;
	if (status[0] && !(f.has_status = vig_alert_status_parse(status, &f.status))) {
		vig_reply_err(r, VIG_EINVAL, "status: expected open, acknowledged or closed");
		return;
	}
	if (sev[0] && !(f.has_severity = vig_alert_severity_parse(sev, &f.severity))) {
		vig_reply_err(r, VIG_EINVAL,
			      "severity: expected informational, low, medium, high or critical");
		return;
	}
	if (since[0] && !vig_http_parse_time(since, &f.since)) {
		vig_reply_err(r, VIG_EINVAL, "since: expected RFC 3339 or epoch seconds");
		return;
	}
	f.rule_id = rule[0] ? rule : NULL;
	f.host = host[0] ? host : NULL;
	err = vig_alert_list(r->srv->db, &r->who, &f, &rows, &n, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, vig_alert_to_json(&rows[i]));
	vig_alert_list_free(rows, n);
	vig_reply_jansson(r, 200, json_pack("{s:o,s:I}", "alerts", arr, "count", (json_int_t)n));
}

static bool on_alert_event(void *arg, const struct vig_event *ev)
{
	json_t *arr = arg;
	struct vig_buf b;

	vig_buf_init(&b, 4u << 20);
	if (vig_event_to_json(ev, &b) == VIG_OK)
		json_array_append_new(arr, json_loadb(b.data, b.len, 0, NULL));
	vig_buf_release(&b);
	return true;
}

/* Ids safe to put in a query unquoted (the store's own ids are 32 hex digits). */
static bool id_plain(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Fetches the alert's events from the store into arr, in chunks the query length allows. */
static enum vig_err alert_events(struct vig_server *srv, const struct vig_alert *a, json_t *arr,
				 char *errbuf)
{
	json_t *ids = a->event_ids ? json_loads(a->event_ids, 0, NULL) : NULL;
	const char *tenant = a->tenant;
	struct vig_scope scope = {.tenants = &tenant, .n_tenants = 1};
	enum vig_err err = VIG_OK;
	size_t i = 0, n = json_array_size(ids);
	struct vig_buf q;

	vig_buf_init(&q, 4096);
	while (i < n && err == VIG_OK) {
		size_t in_query = 0;

		vig_buf_reset(&q);
		for (; i < n; i++) {
			const char *id = json_string_value(json_array_get(ids, i));

			if (!id || !id_plain(id))
				continue;
			if (q.len + strlen(id) + 14 > EVENT_QUERY_MAX)
				break;
			vig_buf_printf(&q, "%sevent.id:%s", in_query ? " or " : "", id);
			in_query++;
		}
		if (in_query == 0)
			break;
		err = vig_evstore_search(srv->store, &scope, q.data, 0, vig_time_now() + 86400 * VIG_NS_PER_SEC,
					 VIG_ALERT_MAX_EVENT_IDS, true, on_alert_event, arr, NULL,
					 errbuf);
	}
	vig_buf_release(&q);
	json_decref(ids);
	return err;
}

void vig_api_alert_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_alert a;
	enum vig_err err;
	json_t *j, *events;
	int64_t id;

	if (!vig_req_id(r, "alert", &id))
		return;
	err = vig_alert_get(r->srv->db, &r->who, id, &a, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	j = vig_alert_to_json(&a);
	events = json_array();
	err = alert_events(r->srv, &a, events, errbuf);
	vig_alert_release(&a);
	if (err != VIG_OK) {
		vig_error("api", "alert events not read", "id=%lld err=\"%s\"", (long long)id, errbuf);
		json_object_set_new(j, "events_error", json_string(errbuf));
	}
	json_object_set_new(j, "events", events);
	vig_reply_jansson(r, 200, j);
}

static json_t *triage_json(const struct vig_alert *a)
{
	return json_pack("{s:s,s:s}", "status", vig_alert_status_name(a->status), "assignee",
			 a->assignee);
}

void vig_api_alert_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", idstr[32];
	struct vig_alert before, after;
	enum vig_alert_status status;
	const char *assignee = NULL;
	json_t *body, *js, *ja, *jb, *jaf;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "alert", &id))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	js = json_object_get(body, "status");
	ja = json_object_get(body, "assignee");
	if (!js && !ja) {
		err = vig_errf(errbuf, VIG_EINVAL, "expected status and/or assignee");
	} else if (js && (!json_is_string(js) ||
			  !vig_alert_status_parse(json_string_value(js), &status))) {
		err = vig_errf(errbuf, VIG_EINVAL, "status: expected open, acknowledged or closed");
	} else if (ja && !json_is_string(ja) && !json_is_null(ja)) {
		err = vig_errf(errbuf, VIG_EINVAL, "assignee: expected a string or null");
	} else {
		assignee = ja ? (json_is_null(ja) ? "" : json_string_value(ja)) : NULL;
		err = vig_alert_update(r->srv->db, &r->who, id, js ? &status : NULL, assignee, &before,
				       &after, errbuf);
	}
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	jb = triage_json(&before);
	jaf = triage_json(&after);
	vig_req_audit(r, after.tenant, "alert.update", "alert", idstr, jb, jaf);
	json_decref(jb);
	json_decref(jaf);
	vig_reply_jansson(r, 200, vig_alert_to_json(&after));
	vig_alert_release(&before);
	vig_alert_release(&after);
}

/* ---- rules API ---- */

static json_t *strlist_json(const struct vig_sigma_strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n; i++)
		json_array_append_new(a, json_string(l->v[i]));
	return a;
}

/* What the loader reads from a rule's YAML, into the rule's JSON o. */
static void rule_fields(json_t *o, const struct vig_sigma_rule *rule)
{
	json_object_set_new(o, "level", rule->level ? json_string(rule->level) : json_null());
	json_object_set_new(o, "status", rule->status ? json_string(rule->status) : json_null());
	json_object_set_new(o, "tags", strlist_json(&rule->tags));
	json_object_set_new(o, "severity", json_string(vig_alert_severity_name(
						   vig_alert_severity_of_level(rule->level))));
}

/* One DB rule row as JSON, with what the loader reads from its YAML. */
static json_t *rule_json(sqlite3_stmt *st, const struct vig_alert_engine *eng)
{
	const char *tenant = (const char *)sqlite3_column_text(st, 0);
	const char *id = (const char *)sqlite3_column_text(st, 1);
	const char *yaml = (const char *)sqlite3_column_text(st, 3);
	struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
	char errbuf[VIG_ERRBUF_SIZE] = "", created[VIG_TIME_STRLEN], updated[VIG_TIME_STRLEN];
	struct vig_sigma_rule *rule = vig_sigma_load(yaml, (size_t)sqlite3_column_bytes(st, 3), &opts,
						     errbuf);
	bool enabled = sqlite3_column_int(st, 4) != 0;
	json_t *o;

	vig_time_format(sqlite3_column_int64(st, 5), created);
	vig_time_format(sqlite3_column_int64(st, 6), updated);
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:s,s:s}", "id", id, "source", "api", "tenant",
		      tenant, "name", (const char *)sqlite3_column_text(st, 2), "title",
		      rule ? rule->title : (const char *)sqlite3_column_text(st, 2), "enabled", enabled,
		      "loaded", eng && enabled && vig_alert_engine_has(eng, tenant, id), "created",
		      created, "updated", updated);
	if (!o)
		goto out;
	if (rule)
		rule_fields(o, rule);
	else
		json_object_set_new(o, "error", json_string(errbuf));
out:
	vig_sigma_free(rule);
	return o;
}

/* A rule of detect.rules_dir as JSON: read-only, for every tenant, live while it loads. */
static json_t *builtin_json(const struct vig_sigma_rule *rule, const struct vig_alert_rule_info *in)
{
	json_t *o = json_pack("{s:s,s:s,s:n,s:s,s:s?,s:s?,s:b,s:b,s:n,s:n}", "id", in->rule_id,
			      "source", "builtin", "tenant", "file", in->file, "name", rule->title,
			      "title", rule->title, "enabled", 1, "loaded", 1, "created", "updated");

	if (o)
		rule_fields(o, rule);
	return o;
}

/*
 * The rules_dir rules of eng (in load order: files by name) from the offset-th on, at most
 * limit of them, appended to arr (NULL = count only). id non-NULL: only the rules with that
 * id. Returns how many there are in all.
 */
static size_t builtin_page(const struct vig_alert_engine *eng, const char *id, size_t offset,
			   size_t limit, json_t *arr)
{
	size_t n_rules, total = 0;
	struct vig_sigma_rule *const *rules = vig_detect_rules(vig_alert_engine_detect(eng), &n_rules);

	for (size_t i = 0; i < n_rules; i++) {
		const struct vig_alert_rule_info *in = vig_alert_engine_rule(eng, rules[i]);

		if (!in || !in->file || (id && strcmp(in->rule_id, id) != 0))
			continue;
		if (arr && total >= offset && total - offset < limit)
			json_array_append_new(arr, builtin_json(rules[i], in));
		total++;
	}
	return total;
}

/* The DB rules of tenant (NULL = every tenant; id non-NULL: that rule only), newest change
 * first, from offset on, at most limit, appended to arr; *total gets how many there are. */
static enum vig_err db_rules_page(struct vig_server *srv, const struct vig_alert_engine *eng,
				  const char *tenant, const char *id, int64_t offset, int64_t limit,
				  json_t *arr, int64_t *total)
{
	char errbuf[VIG_ERRBUF_SIZE];
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	*total = vig_db_int(h, -1,
			    "SELECT COUNT(*) FROM rules WHERE (?1 IS NULL OR tenant_id = ?1)"
			    " AND (?2 IS NULL OR id = ?2)",
			    "tt", tenant, id);
	if (*total >= 0)
		st = vig_db_stmt(h, errbuf,
				 "SELECT tenant_id, id, name, yaml, enabled, created, updated FROM rules"
				 " WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR id = ?2)"
				 " ORDER BY updated DESC, id LIMIT ?3 OFFSET ?4",
				 "ttii", tenant, id, limit, offset);
	while (st && (err = vig_db_row(h, st, errbuf)) == VIG_OK)
		json_array_append_new(arr, rule_json(st, eng));
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	return err == VIG_ENOTFOUND ? VIG_OK : VIG_EIO;
}

/*
 * GET /rules: the DB rules (newest change first) followed by the rules_dir rules (by file), one
 * list paged by offset and limit; ?source=api|builtin keeps one kind.
 */
void vig_api_rules_get(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX], source[16] = "";
	struct vig_alert_rules_status st;
	struct vig_alert_engine *eng;
	int64_t limit, offset, n_db = 0, n_builtin = 0;
	bool all = false, db, builtin;
	enum vig_err err = VIG_OK;
	json_t *arr;

	if (!vig_req_tenant(r, tenant, &all) ||
	    !vig_req_int(r, "limit", RULES_LIST_DEFAULT, 1, RULES_LIST_MAX, &limit) ||
	    !vig_req_int(r, "offset", 0, 0, VIG_ALERT_RULES_MAX, &offset) ||
	    vig_req_query(r, "source", source, sizeof(source)) < 0)
		return;
	db = !source[0] || strcmp(source, "api") == 0;
	builtin = !source[0] || strcmp(source, "builtin") == 0;
	if (!db && !builtin) {
		vig_reply_err(r, VIG_EINVAL, "source: expected api or builtin");
		return;
	}
	eng = vig_alert_rules_acquire(r->srv->rules);
	vig_alert_rules_status(r->srv->rules, &st);
	arr = json_array();
	if (db)
		err = db_rules_page(r->srv, eng, all ? NULL : tenant, NULL, offset, limit, arr, &n_db);
	if (err == VIG_OK && builtin)
		n_builtin = (int64_t)builtin_page(eng, NULL, (size_t)VIG_MAX(offset - n_db, 0),
						  (size_t)limit - json_array_size(arr), arr);
	vig_alert_engine_release(eng);
	if (err != VIG_OK) {
		json_decref(arr);
		vig_reply_err(r, VIG_EIO, "cannot read the rules");
		return;
	}
	vig_reply_jansson(r, 200,
			  json_pack("{s:o,s:I,s:{s:I,s:I,s:b,s:I}}", "rules", arr, "total",
				    (json_int_t)(n_db + n_builtin), "engine", "generation",
				    (json_int_t)st.generation, "rules", (json_int_t)st.rules,
				    "pending", st.pending, "load_failures",
				    (json_int_t)st.load_failures));
}

/* GET /rules/{id}: the tenant's DB rule with this id, else the rules_dir rule; 404 otherwise. */
void vig_api_rule_get(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX];
	struct vig_alert_engine *eng;
	enum vig_err err;
	json_t *arr = json_array();
	int64_t n = 0;

	if (!vig_req_tenant(r, tenant, NULL)) {
		json_decref(arr);
		return;
	}
	eng = vig_alert_rules_acquire(r->srv->rules);
	err = db_rules_page(r->srv, eng, tenant, r->param, 0, 1, arr, &n);
	if (err == VIG_OK && n == 0)
		builtin_page(eng, r->param, 0, 1, arr);
	vig_alert_engine_release(eng);
	if (err != VIG_OK)
		vig_reply_err(r, err, "cannot read the rules");
	else if (json_array_size(arr) == 0)
		vig_reply_err(r, VIG_ENOTFOUND, "no such rule");
	else
		vig_reply_jansson(r, 200, json_incref(json_array_get(arr, 0)));
	json_decref(arr);
}

/* Replies 409 and returns true when id names no DB rule of the tenant but a rules_dir rule. */
static bool builtin_refused(struct vig_req *r, const char *id)
{
	struct vig_alert_engine *eng = vig_alert_rules_acquire(r->srv->rules);
	size_t n = builtin_page(eng, id, 0, 0, NULL);

	vig_alert_engine_release(eng);
	if (n)
		vig_reply_err(r, VIG_ECONFLICT,
			      "built-in rule (detect.rules_dir) is read-only: change its file, or add "
			      "an exception or a suppression");
	return n != 0;
}

/* A rule id must be usable as one path segment of /api/v1/rules/{id}. */
static bool rule_id_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' || *s == '?' || *s == '%' ||
		    *s == '#')
			return false;
	return true;
}

void vig_api_rules_post(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX], id[VIG_ALERT_RULE_ID_MAX], hex[33];
	struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
	struct vig_sigma_rule *rule = NULL;
	sqlite3_stmt *st = NULL;
	int64_t now = vig_time_now();
	enum vig_err err = VIG_OK;
	json_t *after;
	uint8_t raw[16];
	char *yaml;
	size_t n = 0;
	sqlite3 *h;
	int rc;

	if (!vig_req_tenant(r, tenant, NULL))
		return;
	yaml = vig_req_body_copy(r, &n);
	if (!yaml) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	if (n > VIG_ALERT_RULE_YAML_MAX) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "rule larger than %d KiB", VIG_ALERT_RULE_YAML_MAX / 1024);
		goto out_reply;
	}
	rule = vig_sigma_load(yaml, n, &opts, errbuf);
	if (!rule) {
		err = VIG_EINVAL;
		if (!errbuf[0])
			snprintf(errbuf, sizeof(errbuf), "rule does not load");
		goto out_reply;
	}
	if (rule->next) {
		err = vig_errf(errbuf, VIG_EINVAL, "rule: expected exactly one yaml document");
		goto out_reply;
	}
	if (rule->id && strlen(rule->id) >= sizeof(id)) {
		err = vig_errf(errbuf, VIG_EINVAL, "rule: id longer than %zu bytes", sizeof(id) - 1);
		goto out_reply;
	}
	if (rule->id && !rule_id_ok(rule->id)) {
		err = vig_errf(errbuf, VIG_EINVAL,
			       "rule: id must not contain '/', '?', '#', '%%' or control characters");
		goto out_reply;
	}
	if (rule->id) {
		snprintf(id, sizeof(id), "%s", rule->id);
	} else {
		vig_random(raw, sizeof(raw));
		vig_hex(raw, sizeof(raw), hex);
		snprintf(id, sizeof(id), "%s", hex);
	}
	h = vig_db_lock(r->srv->db);
	rc = sqlite3_prepare_v2(h,
				"INSERT INTO rules (id, tenant_id, name, yaml, enabled, created, updated) "
				"VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, rule->title, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, yaml, (int)n, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, now);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	vig_db_unlock(r->srv->db);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST,
			       "a rule with this id exists in the tenant (or no such tenant)");
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot store the rule");
out_reply:
	free(yaml);
	if (err != VIG_OK) {
		vig_sigma_free(rule);
		vig_reply_err(r, err, errbuf);
		return;
	}
	after = json_pack("{s:s,s:s,s:s,s:s?,s:b}", "id", id, "tenant", tenant, "title", rule->title,
			  "level", rule->level, "enabled", 1);
	vig_req_audit(r, tenant, "rule.create", "rule", id, NULL, after);
	vig_alert_rules_request(r->srv->rules);
	json_object_set_new(after, "name", json_string(rule->title));
	vig_sigma_free(rule);
	vig_reply_jansson(r, 201, after);
}

/* Reads enabled of rule (tenant, id): 1/0, or -1 when absent, -2 on a DB error. */
static int rule_enabled(sqlite3 *h, const char *tenant, const char *id)
{
	sqlite3_stmt *st = NULL;
	int v = -2;

	if (sqlite3_prepare_v2(h, "SELECT enabled FROM rules WHERE tenant_id = ?1 AND id = ?2", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
		switch (sqlite3_step(st)) {
		case SQLITE_ROW:
			v = sqlite3_column_int(st, 0) != 0;
			break;
		case SQLITE_DONE:
			v = -1;
			break;
		default:
			break;
		}
	}
	sqlite3_finalize(st);
	return v;
}

/* Runs sql (binding ?1 tenant, ?2 id, ?3 int, ?4 now) on rule (tenant, id) if it exists;
 * *before gets its enabled flag (-1 absent, -2 DB error). */
static int rule_change(struct vig_server *srv, const char *sql, const char *tenant, const char *id,
		       int value, int *before)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;

	*before = rule_enabled(h, tenant, id);
	if (*before >= 0 && sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
		if (sqlite3_bind_parameter_count(st) >= 3)
			sqlite3_bind_int(st, 3, value);
		if (sqlite3_bind_parameter_count(st) >= 4)
			sqlite3_bind_int64(st, 4, vig_time_now());
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	return rc;
}

void vig_api_rule_patch(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX];
	json_t *body, *en, *jb, *ja;
	int before, rc;
	bool enabled;

	if (!vig_req_tenant(r, tenant, NULL))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	en = json_object_get(body, "enabled");
	enabled = json_is_true(en);
	if (!json_is_boolean(en)) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "enabled: expected true or false");
		return;
	}
	json_decref(body);
	rc = rule_change(r->srv,
			 "UPDATE rules SET enabled = ?3, updated = ?4 WHERE tenant_id = ?1 AND id = ?2",
			 tenant, r->param, enabled, &before);
	if (before == -1) {
		if (!builtin_refused(r, r->param))
			vig_reply_err(r, VIG_ENOTFOUND, "no such rule");
		return;
	}
	if (rc != SQLITE_DONE) {
		vig_reply_err(r, VIG_EIO, "cannot update the rule");
		return;
	}
	jb = json_pack("{s:b}", "enabled", before);
	ja = json_pack("{s:b}", "enabled", enabled);
	vig_req_audit(r, tenant, "rule.update", "rule", r->param, jb, ja);
	json_decref(jb);
	json_decref(ja);
	if (before != (int)enabled)
		vig_alert_rules_request(r->srv->rules);
	vig_reply_jansson(r, 200, json_pack("{s:s,s:s,s:b}", "id", r->param, "tenant", tenant,
					    "enabled", enabled));
}

void vig_api_rule_delete(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX];
	int before, rc;
	json_t *jb;

	if (!vig_req_tenant(r, tenant, NULL))
		return;
	rc = rule_change(r->srv, "DELETE FROM rules WHERE tenant_id = ?1 AND id = ?2", tenant, r->param,
			 0, &before);
	if (before == -1) {
		if (!builtin_refused(r, r->param))
			vig_reply_err(r, VIG_ENOTFOUND, "no such rule");
		return;
	}
	if (rc != SQLITE_DONE) {
		vig_reply_err(r, VIG_EIO, "cannot delete the rule");
		return;
	}
	jb = json_pack("{s:b}", "enabled", before);
	vig_req_audit(r, tenant, "rule.delete", "rule", r->param, jb, NULL);
	json_decref(jb);
	vig_alert_rules_request(r->srv->rules);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}
