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
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
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
void vig_api_rule_patch(struct vig_req *r);
void vig_api_rule_delete(struct vig_req *r);

void vig_api_events_ingest(struct vig_req *r); /* ingest.c */
void vig_api_stream(struct vig_req *r);        /* sse.c */
void vig_api_metrics(struct vig_req *r);       /* metrics.c */

/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
/* @intel: threat intelligence and ATT&CK (api_intel.c) */
/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */

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
