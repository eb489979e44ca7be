/*
 * server_int.h - what the parts of vigild share inside the server library: the server state,
 * the per-request context, reply helpers, and the entry points of the handler files
 * (api_auth.c, api_events.c, api_alerts.c, ingest.c, sse.c, metrics.c). Not a public
 * contract: the public one is server.h.
 *
 * Threads: everything here runs on the event-loop thread, except the ingest writer thread
 * (ingest.c), which touches only its queue, the store, the control DB, the rule set, the
 * stream's publish queue and the atomic metrics, and hands finished batches back to the loop
 * through an event made active (never calling evhttp itself); and the rules thread
 * (src/alert/rules.c), which reads the control DB and swaps the detection engine.
 */
#ifndef VIG_SERVER_INT_H
#define VIG_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "auth/audit.h"
#include "auth/auth.h"
#include "auth/db.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/vig.h"
#include "config.h"
#include "http_util.h"
#include "server.h"
#include "store/evstore.h"

#define VIG_REPLY_MAX_BYTES (256u << 20) /* largest JSON reply built */
#define VIG_JSON_BODY_MAX (1u << 20)     /* largest JSON request body of non-ingest endpoints */

/* ---- metrics (metrics.c); all counters are atomics, written from any thread ---- */

enum vig_reject_reason {
	VIG_REJECT_MALFORMED, /* not JSON / not an object */
	VIG_REJECT_INVALID,   /* a field of the wrong type or value */
	VIG_REJECT_TOO_BIG,   /* line over limits.max_event_bytes */
	VIG_REJECT_TENANT,    /* tenant.id the caller may not write or that does not exist */
	VIG_REJECT_OTHER,     /* anything else */
	VIG_REJECT__COUNT
};

#define VIG_LAT_BUCKETS 10

struct vig_metrics {
	atomic_uint_fast64_t requests[600];                      /* by HTTP status */
	atomic_uint_fast64_t ingest_accepted;                    /* events committed */
	atomic_uint_fast64_t ingest_rejected[VIG_REJECT__COUNT]; /* lines refused, by reason */
	atomic_uint_fast64_t ingest_duplicates;                  /* batches skipped as resends */
	atomic_uint_fast64_t ingest_queue_full;                  /* 429 replies */
	atomic_uint_fast64_t store_lat[VIG_LAT_BUCKETS + 1];     /* append latency histogram */
	atomic_uint_fast64_t store_lat_sum_us;                   /* total append time */
	atomic_uint_fast64_t store_lat_count;                    /* appends timed */
	atomic_uint_fast64_t sse_dropped;                        /* slow subscribers dropped */
	atomic_uint_fast64_t sse_published;                      /* alerts published */
	atomic_uint_fast64_t auth_failures;                      /* 401 replies */
	/* detection (api_alerts.c) */
	atomic_uint_fast64_t detect_events;                      /* events run through the rules */
	atomic_uint_fast64_t detect_matches;                     /* rule matches applying to the event's tenant */
	atomic_uint_fast64_t detect_ns;                          /* time spent matching and recording */
	atomic_uint_fast64_t detect_errors;                      /* matches that could not be recorded */
	atomic_uint_fast64_t alerts_created;                     /* new alerts */
	atomic_uint_fast64_t alerts_deduplicated;                /* matches folded into an open alert */
	atomic_uint_fast64_t incidents_created;                  /* incidents opened by grouping */
	atomic_uint_fast64_t incident_group_errors;              /* alerts that could not be grouped */
	atomic_uint_fast64_t sla_warnings;                       /* SLA warnings recorded */
	atomic_uint_fast64_t sla_breaches;                       /* SLA breaches recorded */
	atomic_uint_fast64_t notify_sent;                        /* notifications delivered */
	atomic_uint_fast64_t notify_failed;                      /* notification attempts failed */
};

/* Records one append duration. */
void vig_metrics_store_latency(struct vig_metrics *m, int64_t ns);
const char *vig_reject_reason_name(enum vig_reject_reason r);

/* ---- the server ---- */

struct vig_ingest;
struct vig_sse;
struct vig_alert_rules;

struct vig_server {
	struct vig_config cfg;            /* effective configuration (read-only after start) */
	struct event_base *base;          /* the loop */
	struct evhttp *http;              /* the HTTP server */
	struct evhttp_bound_socket *sock; /* the listening socket */
	SSL_CTX *ssl_ctx;                 /* TLS context */
	struct vig_db *db;                /* control database */
	struct vig_evstore *store;        /* event store */
	struct vig_ingest *ingest;        /* bounded queue + writer thread */
	struct vig_sse *sse;              /* stream subscribers */
	struct vig_retention *retention;  /* retention job thread */
	struct vig_alert_rules *rules;    /* live Sigma rule set (api_alerts.c) */
	struct vig_metrics metrics;       /* counters */
	struct event *sig_term, *sig_int; /* shutdown signals */
	char setup_token[128];            /* the token POST /setup expects */
	int64_t started_mono;             /* for uptime */
	int64_t connections;              /* open client connections (loop thread) */
	bool accepting_paused;            /* listener disabled at max_connections */
	bool stopping;                    /* shutdown began */
	int port;                         /* bound port */
	struct event *sla_timer;          /* periodic SLA check (api_incidents.c) */
	struct vig_offload *offload;      /* workers for slow handlers (offload.c) */
	struct vig_notifier *notifier;    /* notification delivery thread (api_notify.c) */
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	struct vig_fleet *fleet;          /* agent CA, tokens, agents, actions (src/fleet) */
	struct vig_agents_hub *agents;    /* held action polls, expiry timer (api_agents.c) */
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	struct vig_syslog_rx *syslog_rx;  /* syslog listeners and their thread (syslog_rx.c) */
	struct vig_sources *sources;      /* log source registry + health job (sources.c) */
	struct vig_reduce *reduce;        /* reduction policies, merging, evidence (reduce.c) */
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	struct vig_intel_srv *intel;       /* feeds, indicator set, refresh thread, ATT&CK (api_intel.c) */
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	struct vig_correlation *correlation; /* live Sigma correlation state (correlation.c) */
	struct vig_policy *policy;        /* assets, suppressions, exceptions (src/alert/policy.h) */
	struct vig_hunts *hunts;          /* retro-hunt queue and worker (src/alert/hunt.h) */
	/* @evidence: incident evidence and custody (api_evidence.c) */
	struct vig_evidence *evidence;    /* evidence files and custody (src/incident/evidence.h) */
	atomic_uint_fast64_t evidence_added;      /* evidence items created */
	atomic_uint_fast64_t evidence_downloads;  /* evidence files served */
	atomic_uint_fast64_t evidence_integrity_failures; /* downloads/verifications that failed the hash */
	atomic_uint_fast64_t evidence_rejected;   /* evidence requests refused (bad input, bounds) */
	/* @response: tenant settings, response requests, approvals, playbooks (api_response.c) */
	struct event *response_timer;     /* periodic approval escalation/expiry check */
	atomic_uint_fast64_t response_requests;   /* response requests created */
	atomic_uint_fast64_t approvals_escalated; /* requests escalated while pending */
	atomic_uint_fast64_t approvals_expired;   /* requests expired without a decision */
	atomic_uint_fast64_t playbook_skipped;    /* playbook steps that could not be requested */
	/* @sharing: STIX export, TAXII server, blocklist fan-out (api_sharing.c) */
	struct vig_sharing *sharing;      /* fan-out timer and sharing counters (api_sharing.c) */
	/* @reports: reports: definitions, schedules, runs (api_reports.c) */
	struct vig_reports *reports;       /* report worker: schedules, runs, retention (api_reports.c) */
};

/* Per request; heap-allocated because replies may be asynchronous (ingest, stream). Exactly
 * one vig_reply_* call finishes and frees it. */
struct vig_req {
	struct vig_server *srv;
	struct evhttp_request *req;   /* libevent's request (owned by libevent) */
	enum evhttp_cmd_type method;  /* GET, POST, ... */
	char path[512];               /* decoded path without query */
	char *query;                  /* raw query string or NULL (malloc'ed) */
	char param[VIG_HTTP_PARAM_MAX]; /* the {id} of the route, if any */
	struct vig_principal who;     /* authenticated caller */
	bool authed;                  /* who is valid */
	bool session;                 /* authenticated by cookie (not bearer) */
	char session_id[VIG_SESSION_STRLEN]; /* cookie value when session */
	char csrf[VIG_SESSION_STRLEN];  /* the session's CSRF token when session */
	char remote[64];              /* client address */
	int64_t start_mono;           /* for the access log */
	bool api;                     /* path under /api: Cache-Control no-store */
	struct vig_offload_job *offload_job; /* set while the handler runs on a worker (offload.c) */
};

/* Sends body (may be NULL: empty) as JSON with status, logs, counts, frees r. */
void vig_reply_json(struct vig_req *r, int status, struct vig_buf *body);
/* Sends text with a content type. */
void vig_reply_text(struct vig_req *r, int status, const char *ctype, const char *text, size_t n);
/* Sends {"error": msg, "code": code_of(err)} with status_of(err). */
void vig_reply_err(struct vig_req *r, enum vig_err err, const char *msg);
/* Same with an explicit status (e.g. 405, 503). */
void vig_reply_err_status(struct vig_req *r, int status, enum vig_err err, const char *msg);
/* Sends a jansson value (steals the reference). */
void vig_reply_jansson(struct vig_req *r, int status, json_t *v);
/* Adds a response header (before a reply). */
void vig_req_header(struct vig_req *r, const char *name, const char *value);
/* Writes the access log line and counts status; used by vig_reply_* and the stream. */
void vig_req_log(struct vig_req *r, int status, size_t bytes);
/* Frees r without replying (after a stream ends). */
void vig_req_free(struct vig_req *r);

/* Query parameter into out; 1 found, 0 absent, -1 malformed (a 400 was already sent). */
int vig_req_query(struct vig_req *r, const char *name, char *out, size_t cap);
/* The tenant a request acts on: ?tenant= (checked with vig_principal_scope() against the caller)
 * or the caller's own, copied into tenant. *all (may be NULL) is set when a provider named no
 * tenant, so a list may span every tenant. On error replies (400/403/404) and returns false. */
bool vig_req_tenant(struct vig_req *r, char tenant[VIG_NAME_MAX], bool *all);
/* Integer query parameter name into *out: def when absent or empty, else it must lie in
 * [lo, hi]; otherwise replies 400 "<name>: expected an integer in [lo, hi]" and returns false. */
bool vig_req_int(struct vig_req *r, const char *name, int64_t def, int64_t lo, int64_t hi,
		 int64_t *out);
/* The route's {id} (r->param) as a positive integer into *id; otherwise replies 404
 * "no such <what>" and returns false. */
bool vig_req_id(struct vig_req *r, const char *what, int64_t *id);
/* Appends an audit row for a change made by this request: actor who (NULL: the caller, r->who),
 * tenant, action (e.g. "rule.update"), object type and id, and the object before and after as
 * compact sorted JSON (either may be NULL). A failure to append is logged, never replied. */
void vig_req_audit_as(struct vig_req *r, const struct vig_principal *who, const char *tenant,
		      const char *action, const char *type, const char *id, json_t *before,
		      json_t *after);
/* vig_req_audit_as() with the caller as actor. */
void vig_req_audit(struct vig_req *r, const char *tenant, const char *action, const char *type,
		   const char *id, json_t *before, json_t *after);
/* vig_req_audit() for an object with an integer id. */
void vig_req_audit_id(struct vig_req *r, const char *tenant, const char *action,
		      const char *type, int64_t id, json_t *before, json_t *after);
/* Parses the body as a JSON object (at most VIG_JSON_BODY_MAX bytes); on failure replies 400
 * and returns NULL. */
json_t *vig_req_json_body(struct vig_req *r);
/* Copies the request body into a NUL-terminated malloc'ed string (len in *n). */
char *vig_req_body_copy(struct vig_req *r, size_t *n);

/* ---- handlers ---- */
void vig_api_health(struct vig_req *r);
void vig_api_setup_get(struct vig_req *r);
void vig_api_setup_post(struct vig_req *r);
void vig_api_login(struct vig_req *r);
void vig_api_logout(struct vig_req *r);
void vig_api_me(struct vig_req *r);
void vig_api_tenants_list(struct vig_req *r);
void vig_api_tenants_create(struct vig_req *r);
void vig_api_tenant_get(struct vig_req *r);
void vig_api_tenant_patch(struct vig_req *r);
void vig_api_users_list(struct vig_req *r);
void vig_api_users_create(struct vig_req *r);
void vig_api_user_patch(struct vig_req *r);
void vig_api_user_delete(struct vig_req *r);
void vig_api_tokens_list(struct vig_req *r);
void vig_api_tokens_create(struct vig_req *r);
void vig_api_token_delete(struct vig_req *r);
void vig_api_audit_list(struct vig_req *r);
void vig_api_audit_verify(struct vig_req *r);

void vig_api_events_search(struct vig_req *r);
void vig_api_events_count(struct vig_req *r);
void vig_api_events_top(struct vig_req *r);
void vig_api_events_histogram(struct vig_req *r);
void vig_api_fields(struct vig_req *r);
void vig_api_incidents(struct vig_req *r);

/* alerts and rules (api_alerts.c) */
void vig_api_alerts_list(struct vig_req *r);
void vig_api_alert_get(struct vig_req *r);
void vig_api_alert_patch(struct vig_req *r);
void vig_api_rules_get(struct vig_req *r);
void vig_api_rules_post(struct vig_req *r);
void vig_api_rule_get(struct vig_req *r);
void vig_api_rule_patch(struct vig_req *r);
void vig_api_rule_delete(struct vig_req *r);

void vig_api_events_ingest(struct vig_req *r); /* ingest.c */
void vig_api_stream(struct vig_req *r);        /* sse.c */
void vig_api_metrics(struct vig_req *r);       /* metrics.c */

/* incidents (api_incidents.c) */
void vig_api_incidents_list(struct vig_req *r);
void vig_api_incident_create(struct vig_req *r);
void vig_api_incident_get(struct vig_req *r);
void vig_api_incident_patch(struct vig_req *r);
void vig_api_incident_comment(struct vig_req *r);
void vig_api_incident_task_add(struct vig_req *r);
void vig_api_incident_task_patch(struct vig_req *r);
void vig_api_incident_observable_add(struct vig_req *r);
void vig_api_incident_observable_delete(struct vig_req *r);
void vig_api_incident_alerts(struct vig_req *r);
void vig_api_incident_merge(struct vig_req *r);
void vig_api_incident_split(struct vig_req *r);
/* Groups newly created alerts into incidents (incidents.* options); errors are counted. */
void vig_incidents_group(struct vig_server *srv, const int64_t *alert_ids, size_t n);
/* Appends the incident metrics to a /metrics reply. */
void vig_incidents_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_tenant_sla_get(struct vig_req *r);
void vig_api_tenant_sla_put(struct vig_req *r);
void vig_api_soc_metrics(struct vig_req *r);
void vig_api_blocklist_list(struct vig_req *r);
void vig_api_blocklist_add(struct vig_req *r);
void vig_api_blocklist_delete(struct vig_req *r);
void vig_api_blocklist_text(struct vig_req *r);
/* Starts / stops the periodic SLA check (a timer on the loop, sla.check_interval_s). */
enum vig_err vig_incidents_start(struct vig_server *srv, char *errbuf);
void vig_incidents_stop(struct vig_server *srv);

/* notifications (api_notify.c) */
struct vig_notifier;
enum vig_err vig_notifier_start(struct vig_server *srv, char *errbuf);
void vig_notifier_stop(struct vig_server *srv);
/* Queues an event for the matching notification routes (errors are logged) and wakes the
 * notifier. data is borrowed. */
void vig_notify_server_emit(struct vig_server *srv, const char *tenant, const char *kind, const char *severity,
			    const char *rule_id, const char *title, json_t *data);
/* Wakes the notifier to send what was queued (any thread). */
void vig_notifier_kick(struct vig_server *srv);
/* on-call rotas and escalation ladders (api_notify.c over src/notify/oncall.h) */
void vig_api_oncall_rotas_list(struct vig_req *r);
void vig_api_oncall_rota_create(struct vig_req *r);
void vig_api_oncall_rota_get(struct vig_req *r);
void vig_api_oncall_rota_delete(struct vig_req *r);
void vig_api_oncall_override_add(struct vig_req *r);
void vig_api_escalation_policies_list(struct vig_req *r);
void vig_api_escalation_policy_create(struct vig_req *r);
void vig_api_escalation_policy_patch(struct vig_req *r);
void vig_api_escalation_policy_delete(struct vig_req *r);
void vig_api_incident_escalations(struct vig_req *r);
/* The SLA timer's second half: pages the escalation levels that are due (api_notify.c). */
void vig_oncall_tick(struct vig_server *srv);
void vig_notify_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_notify_routes_list(struct vig_req *r);
void vig_api_notify_route_create(struct vig_req *r);
void vig_api_notify_route_patch(struct vig_req *r);
void vig_api_notify_route_delete(struct vig_req *r);
void vig_api_notify_deliveries(struct vig_req *r);
void vig_api_notify_replay(struct vig_req *r);

/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
struct vig_agents_hub;
/* Opens the fleet (DATA/agent-ca), trusts its CA for client certificates on srv->ssl_ctx and
 * starts the action-expiry timer (api_agents.c). */
enum vig_err vig_agents_start(struct vig_server *srv, char *errbuf);
/* Answers held polls, stops the timer, frees the fleet. */
void vig_agents_stop(struct vig_server *srv);
/* Authenticates r by its verified agent client certificate (routes of PERM_AGENT): sets r->who
 * to the agent's tenant with the ingest role only. On failure replies 401 and returns false. */
bool vig_agents_authenticate(struct vig_req *r);
/* Appends the fleet metrics to a /metrics reply. */
void vig_agents_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_enroll(struct vig_req *r);
void vig_api_agent_events(struct vig_req *r);
void vig_api_agent_heartbeat(struct vig_req *r);
void vig_api_agent_inventory_post(struct vig_req *r);
void vig_api_agent_actions_poll(struct vig_req *r);
void vig_api_agent_action_result(struct vig_req *r);
void vig_api_agent_action_upload(struct vig_req *r);
void vig_api_enroll_tokens_list(struct vig_req *r);
void vig_api_enroll_tokens_create(struct vig_req *r);
void vig_api_enroll_token_delete(struct vig_req *r);
void vig_api_agents_list(struct vig_req *r);
void vig_api_agent_get(struct vig_req *r);
void vig_api_agent_inventory_get(struct vig_req *r);
void vig_api_agent_revoke(struct vig_req *r);
void vig_api_agent_actions_create(struct vig_req *r);
void vig_api_actions_list(struct vig_req *r);
void vig_api_action_get(struct vig_req *r);
void vig_api_action_cancel(struct vig_req *r);
void vig_api_action_file(struct vig_req *r);
/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
struct vig_logs_batch;
void vig_api_ingest_raw(struct vig_req *r);          /* api_sources.c */
void vig_api_sources_list(struct vig_req *r);
void vig_api_source_patch(struct vig_req *r);
void vig_api_reduction_policies_get(struct vig_req *r);
void vig_api_reduction_policies_post(struct vig_req *r);
void vig_api_reduction_policy_delete(struct vig_req *r);
void vig_api_reduction_stats(struct vig_req *r);
void vig_api_reduction_evidence(struct vig_req *r);
/* Queues a request's body as an ingest batch, raw records when logs is not NULL (owned). */
void vig_ingest_request(struct vig_req *r, struct vig_logs_batch *logs);
/* Queues an agent's NDJSON batch: body (malloc'ed, owned; NULL = the request's body) whose
 * events all get agent.id = agent_id on the writer thread, whatever they said. */
void vig_ingest_agent_batch(struct vig_req *r, const char *agent_id, char *body, size_t len);
/* Queues a receiver's batch (body malloc'ed; body and logs owned on VIG_OK); VIG_EBUSY when
 * the queue is full (nothing taken), VIG_ENOMEM. Any thread. */
enum vig_err vig_ingest_submit(struct vig_ingest *in, char *body, size_t len,
			       struct vig_logs_batch *logs, const struct vig_principal *who);
/* Starts the log subsystems (sources, reduction, syslog receivers) / stops them; stop drains
 * the ingest queue itself because the writer uses the registry. */
enum vig_err vig_logs_start(struct vig_server *srv, char *errbuf);
void vig_logs_stop(struct vig_server *srv);
/* Stops the syslog receivers and queues what they hold (loop thread, idempotent): to be called
 * when shutdown begins, while the ingest writer still runs, so that nothing is counted lost. */
void vig_logs_quiesce(struct vig_server *srv);
/* Appends the log metrics (receivers, sources, reduction) to a /metrics reply. */
void vig_logs_metrics(struct vig_server *srv, struct vig_buf *b);
/* @intel: threat intelligence and ATT&CK (api_intel.c) */
struct vig_intel_srv;
/* Creates the intel_feeds table if absent and starts the refresh thread (which also loads
 * attack.bundle). vig_intel_stop joins it and frees everything; safe when start failed. */
enum vig_err vig_intel_start(struct vig_server *srv, char *errbuf);
void vig_intel_stop(struct vig_server *srv);
/* Ingest writer: matches the n events against the current indicator set and writes the
 * threat.enrichments.* fields of the first hit on each (before the store append). */
void vig_intel_enrich_batch(struct vig_server *srv, struct vig_event *const *evs, size_t n);
void vig_intel_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_intel_feeds_list(struct vig_req *r);
void vig_api_intel_feeds_create(struct vig_req *r);
void vig_api_intel_feed_patch(struct vig_req *r);
void vig_api_intel_feed_delete(struct vig_req *r);
void vig_api_intel_feed_refresh(struct vig_req *r);
void vig_api_intel_lookup(struct vig_req *r);
void vig_api_intel_stats(struct vig_req *r);
void vig_api_attack_import(struct vig_req *r);
void vig_api_attack_techniques(struct vig_req *r);
void vig_api_attack_technique(struct vig_req *r);
void vig_api_attack_navigator(struct vig_req *r);
/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
/* Sigma correlations (correlation.c), driven by the detection stage on the ingest writer. */
struct vig_correlation;
struct vig_alert_engine;
struct vig_sigma_rule;
struct vig_event;
/* Creates srv->correlation (limits from the correlation.* options). */
enum vig_err vig_correlation_start(struct vig_server *srv, char *errbuf);
/* Waits for the ingest writer, writes DATA/correlation.state, frees; NULL state does nothing. */
void vig_correlation_stop(struct vig_server *srv);
/* Installs the rules of engine e unless they are installed; the first call reads the
 * snapshot back. */
void vig_correlation_sync(struct vig_server *srv, const struct vig_alert_engine *e);
/* Feeds one match of rule on ev (of tenant); false when `generate` says the match raises no
 * alert of its own (it only feeds correlations). */
bool vig_correlation_match(struct vig_server *srv, const struct vig_sigma_rule *rule,
			   const struct vig_event *ev, const char *tenant);
/* After a batch: checks closed windows, records firings as alerts of eng's correlation rules,
 * publishes them, snapshots the state when due. */
void vig_correlation_batch_end(struct vig_server *srv, const struct vig_alert_engine *eng);
/* Appends the vigil_correlation_* metrics. */
void vig_correlation_metrics(struct vig_server *srv, struct vig_buf *b);
/* alert management (api_detect.c): assets, suppressions, exceptions, rule validate/test, hunts */
void vig_api_assets_list(struct vig_req *r);
void vig_api_assets_create(struct vig_req *r);
void vig_api_asset_get(struct vig_req *r);
void vig_api_asset_patch(struct vig_req *r);
void vig_api_asset_delete(struct vig_req *r);
void vig_api_suppressions_list(struct vig_req *r);
void vig_api_suppressions_create(struct vig_req *r);
void vig_api_suppression_delete(struct vig_req *r);
void vig_api_rule_exceptions_list(struct vig_req *r);
void vig_api_rule_exceptions_create(struct vig_req *r);
void vig_api_exception_delete(struct vig_req *r);
void vig_api_rules_validate(struct vig_req *r);
void vig_api_rules_test(struct vig_req *r);
void vig_api_hunts_list(struct vig_req *r);
void vig_api_hunts_create(struct vig_req *r);
void vig_api_hunt_get(struct vig_req *r);
void vig_api_hunt_cancel(struct vig_req *r);
/* Loads the alert policy and starts the hunt worker / stops it and frees both (after the
 * ingest writer is joined: the detection stage reads srv->policy). */
enum vig_err vig_detect_mgmt_start(struct vig_server *srv, char *errbuf);
void vig_detect_mgmt_stop(struct vig_server *srv);
/* Record path of the detection stage: decides one match with the batch's policy snapshot
 * (pol, may be NULL = no policy) and sets m's severity; false when an exception or an active
 * suppression drops it (counted). */
struct vig_policy_snap;
struct vig_alert_match;
bool vig_detect_mgmt_admit(struct vig_server *srv, struct vig_policy_snap *pol,
			   const struct vig_event *ev, struct vig_alert_match *m, int64_t now);
/* The same for a match known only by its fields (tenant, host, user, source_ip of m), e.g. a
 * correlation firing: conditions on other fields do not match it. */
bool vig_detect_mgmt_admit_match(struct vig_server *srv, struct vig_policy_snap *pol,
				 struct vig_alert_match *m, int64_t now);
/* One reference to the current policy snapshot for a batch (NULL when there is no policy) /
 * its release (NULL does nothing). */
struct vig_policy_snap *vig_detect_mgmt_policy(struct vig_server *srv);
void vig_detect_mgmt_policy_release(struct vig_policy_snap *pol);
/* Appends the policy and hunt metrics to a /metrics reply. */
void vig_detect_mgmt_metrics(struct vig_server *srv, struct vig_buf *b);
/* @evidence: incident evidence and custody (api_evidence.c) */
struct vig_evidence;
struct vig_principal;
/* Opens srv->evidence on DATA/evidence (evidence.* options) / frees it (NULL-safe). */
enum vig_err vig_evidence_start(struct vig_server *srv, char *errbuf);
void vig_evidence_stop(struct vig_server *srv);
/* Attaches the collected file of a finished (succeeded) collect action visible to who to
 * incident incident_id, re-checking its SHA-256 while copying it into the evidence store;
 * *evidence_id gets the item (the existing one when the incident already holds that content).
 * The same path as POST /api/v1/incidents/{id}/evidence with {"action_id":N}; audited. */
enum vig_err vig_evidence_from_action(struct vig_server *srv, const struct vig_principal *who,
				      int64_t incident_id, int64_t action_id, int64_t *evidence_id,
				      char *errbuf);
/* Appends the vigil_evidence_* metrics to a /metrics reply. */
void vig_evidence_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_evidence_add(struct vig_req *r);
void vig_api_evidence_list(struct vig_req *r);
void vig_api_evidence_get(struct vig_req *r);
void vig_api_evidence_download(struct vig_req *r);
void vig_api_evidence_verify(struct vig_req *r);
void vig_api_evidence_custody(struct vig_req *r);
/* @response: tenant settings, response requests, approvals, playbooks (api_response.c) */
/* Starts / stops the approval check (a timer on the loop, response.check_interval_s). */
enum vig_err vig_response_start(struct vig_server *srv, char *errbuf);
void vig_response_stop(struct vig_server *srv);
/* Appends the vigil_response_* / approvals metrics to a /metrics reply. */
void vig_response_metrics(struct vig_server *srv, struct vig_buf *b);
/* Hooks (errors are logged and counted): playbook task templates for an incident that was
 * created or changed its type; playbook steps for alerts that joined an incident; the agent's
 * result of action_id reaching the response request that queued it (and, for a successful
 * collect, the collected file attached as evidence). */
void vig_response_on_incident(struct vig_server *srv, int64_t incident_id);
void vig_response_on_alerts(struct vig_server *srv, int64_t incident_id, const int64_t *alert_ids, size_t n);
void vig_response_action_result(struct vig_server *srv, int64_t action_id);
void vig_api_tenant_settings_get(struct vig_req *r);
void vig_api_tenant_settings_patch(struct vig_req *r);
void vig_api_incident_actions_create(struct vig_req *r);
void vig_api_incident_actions_list(struct vig_req *r);
void vig_api_approvals_list(struct vig_req *r);
void vig_api_approval_approve(struct vig_req *r);
void vig_api_approval_reject(struct vig_req *r);
void vig_api_response_request_cancel(struct vig_req *r);
void vig_api_playbooks_list(struct vig_req *r);
void vig_api_playbooks_create(struct vig_req *r);
void vig_api_playbook_put(struct vig_req *r);
void vig_api_playbook_delete(struct vig_req *r);
void vig_api_provider_overview(struct vig_req *r);
/* @sharing: STIX export, TAXII server, blocklist fan-out (api_sharing.c) */
struct vig_sharing;
/* Starts / stops the blocklist reconciliation timer (sharing.reconcile_interval_s). */
enum vig_err vig_sharing_start(struct vig_server *srv, char *errbuf);
void vig_sharing_stop(struct vig_server *srv);
/* Queues the block/unblock actions that bring every gateway agent to its tenant's active
 * blocklist (loop thread; failures are logged and counted). Called after blocklist and
 * gateway changes and by the timer. */
void vig_sharing_reconcile(struct vig_server *srv);
void vig_sharing_metrics(struct vig_server *srv, struct vig_buf *b);
/* Answers the held action poll of an agent (defined in api_agents.c). */
void vig_agents_wake(struct vig_server *srv, const char *agent_id);
void vig_api_incident_stix(struct vig_req *r);
void vig_api_incident_share(struct vig_req *r);
void vig_api_incident_unshare(struct vig_req *r);
void vig_api_agent_patch(struct vig_req *r);
void vig_api_taxii_discovery(struct vig_req *r);
void vig_api_taxii_root(struct vig_req *r);
void vig_api_taxii_collections(struct vig_req *r);
void vig_api_taxii_collection(struct vig_req *r);
void vig_api_taxii_objects(struct vig_req *r);
void vig_api_taxii_manifest(struct vig_req *r);
void vig_api_taxii_object(struct vig_req *r);
void vig_api_taxii_versions(struct vig_req *r);
/* @reports: reports: definitions, schedules, runs (api_reports.c) */
struct vig_reports;
/* Creates DATA/reports, puts runs left running back in the queue and starts the report worker
 * (schedules, runs, retention) / stops and joins it. */
enum vig_err vig_reports_start(struct vig_server *srv, char *errbuf);
void vig_reports_stop(struct vig_server *srv);
/* Appends the vigil_report_* metrics. */
void vig_reports_metrics(struct vig_server *srv, struct vig_buf *b);
void vig_api_reports_list(struct vig_req *r);
void vig_api_reports_create(struct vig_req *r);
void vig_api_report_get(struct vig_req *r);
void vig_api_report_patch(struct vig_req *r);
void vig_api_report_delete(struct vig_req *r);
void vig_api_report_run(struct vig_req *r);
void vig_api_report_runs_list(struct vig_req *r);
void vig_api_report_run_get(struct vig_req *r);
void vig_api_report_run_download(struct vig_req *r);

/* Starts a persistent timer on the loop calling cb(-1, EV_TIMEOUT, arg) every seconds into *ev;
 * VIG_EINTERNAL (naming what) when it cannot. vig_timer_stop frees *ev and clears it. */
enum vig_err vig_timer_start(struct vig_server *srv, struct event **ev, int64_t seconds,
			     void (*cb)(evutil_socket_t, short, void *), void *arg, const char *what,
			     char *errbuf);
void vig_timer_stop(struct event **ev);

/* ---- slow handlers off the loop (offload.c) ---- */
struct vig_offload;
struct vig_offload_job;
enum vig_err vig_offload_start(struct vig_server *srv, char *errbuf);
/* Finishes running jobs, answers waiting ones 503; loop thread, before the HTTP server goes. */
void vig_offload_stop(struct vig_server *srv);
/* Runs fn(r) on a worker; false (nothing taken) when the queue is full or stopping. */
bool vig_offload_submit(struct vig_req *r, void (*fn)(struct vig_req *r));
/* vig_reply_text's hook: on a worker, keeps the reply for the loop and returns true. */
bool vig_offload_capture(struct vig_req *r, int status, const char *ctype, const char *text, size_t n);
void vig_offload_metrics(struct vig_server *srv, struct vig_buf *b);

/* ---- ingest (ingest.c) ---- */
struct vig_ingest *vig_ingest_new(struct vig_server *srv, char *errbuf);
/* Stops taking batches, writes every queued batch to the store, replies, joins the thread. */
void vig_ingest_drain(struct vig_ingest *in);
void vig_ingest_free(struct vig_ingest *in);
size_t vig_ingest_depth(struct vig_ingest *in);

/* ---- detection stage (api_alerts.c) ---- */
struct vig_detect_worker;
/* Loads the rules (control DB + detect.rules_dir) into srv->rules. */
enum vig_err vig_alerts_start(struct vig_server *srv, char *errbuf);
/* Stops the rules thread and frees the rule set (after the ingest writer is gone). */
void vig_alerts_stop(struct vig_server *srv);
/* Per-thread detection state of the ingest writer; free on the same thread. */
struct vig_detect_worker *vig_detect_worker_new(void);
void vig_detect_worker_free(struct vig_detect_worker *w);
/* Runs the n durable events through the rules, records alerts (one transaction) and publishes
 * new ones. Failures are logged and counted: the events are already stored. */
void vig_detect_batch(struct vig_server *srv, struct vig_detect_worker *w,
		      struct vig_event *const *evs, size_t n);
/* Groups the alerts ids into incidents and publishes them on the stream (after their commit). */
void vig_alerts_publish_ids(struct vig_server *srv, const int64_t *ids, size_t n);
/* Appends the detection and rule metrics to a /metrics reply. */
void vig_alerts_metrics(struct vig_server *srv, struct vig_buf *b);

/* ---- stream (sse.c) ---- */
struct vig_sse *vig_sse_new(struct vig_server *srv);
/* Ends every stream. */
void vig_sse_close_all(struct vig_sse *s);
void vig_sse_free(struct vig_sse *s);

/* Retention job (retention.c): a thread running vig_retention_run_once() every
 * retention.interval_s; stop joins it. */
struct vig_retention *vig_retention_start(struct vig_server *srv, char *errbuf);
void vig_retention_stop(struct vig_retention *rt);
/* Drops partitions older than the longest tenant retention, then deletes older rows of tenants
 * with a shorter one. */
enum vig_err vig_retention_run_once(struct vig_server *srv, int64_t now_ns, char *errbuf);
size_t vig_sse_subscribers(struct vig_sse *s);

#endif
