/*
 * notify.h - notifications: routes that pick events (new incident, SLA breach, escalation,
 * ...) by tenant, severity, rule and time of day, and deliver them to a webhook (JSON,
 * HMAC-SHA256 signed), an e-mail address (SMTP through libcurl, STARTTLS) or another SIEM
 * (syslog over TCP with a CEF message), with retries and a dead-letter list that admins can
 * see and replay.
 *
 * Flow: vig_notify_emit() matches an event against the enabled routes of its tenant (and the
 * provider tenant's routes, which see every tenant) and queues one delivery per matching route
 * in the control DB - durable before anything is sent. vig_notify_deliver_due() (vigild's
 * notifier thread) takes due deliveries, sends them without holding the DB lock, and records
 * the outcome: sent; or retried after 30 s, 1, 2, 4, 8 min; or, after VIG_NOTIFY_MAX_ATTEMPTS,
 * dead. vig_notify_replay() puts a dead delivery back in the queue.
 *
 * Routes: events is "*" or a comma list of event kinds ("incident.created,sla.breach");
 * min_severity filters on the event's severity; rule (may be empty) must equal the event's
 * rule id or be a prefix ending in '*'; days ("mon-fri", "sat,sun", empty = every day) and
 * hours ("08-18" = from 08:00 up to 18:00 UTC, "22-06" wraps midnight, empty = all day) say
 * when the route is on duty. People on call and escalation ladders are oncall.h; their pages
 * are direct deliveries (vig_notify_direct_locked) that go through the same queue.
 */
#ifndef VIG_NOTIFY_H
#define VIG_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"

#define VIG_NOTIFY_MAX_ATTEMPTS 6       /* deliveries tried at most this often, then dead */
#define VIG_NOTIFY_BATCH 50             /* deliveries taken per vig_notify_deliver_due() */
#define VIG_NOTIFY_TARGET_MAX 512       /* bytes of a URL, address or host:port */
#define VIG_NOTIFY_PAYLOAD_MAX (256 * 1024) /* bytes of one event's JSON */
#define VIG_NOTIFY_TIMEOUT_S 10         /* per delivery attempt */

/* How deliveries leave vigild. */
struct vig_notify_opts {
	const char *smtp_url;      /* "smtp://host:port" (empty: e-mail routes fail and retry) */
	const char *smtp_from;     /* envelope and From: address */
	const char *smtp_user;     /* "" = no authentication */
	const char *smtp_password;
	int smtp_tls;              /* 0 none, 1 STARTTLS when offered, 2 STARTTLS required */
	const char *cacert;        /* CA file for https webhooks and SMTP TLS; NULL = the system's */
	bool insecure;             /* skip certificate checks (tests with self-signed receivers) */
};

/* One event to notify about. Strings borrowed. */
struct vig_notify_event {
	const char *tenant;    /* required */
	const char *kind;      /* "incident.created", "sla.breach", ... (required) */
	const char *severity;  /* informational..critical, NULL = informational */
	const char *rule_id;   /* or NULL */
	const char *title;     /* one line for e-mail subjects and CEF names */
	json_t *data;          /* the object sent (incident, alert, ...), borrowed; may be NULL */
};

/* Queues a delivery per matching route at now; *queued (may be NULL) receives how many. */
enum vig_err vig_notify_emit(struct vig_db *db, const struct vig_notify_event *ev, int64_t now,
			     size_t *queued, char *errbuf);

/* Queues one delivery of ev to a given webhook URL or e-mail address (no route: an on-call
 * escalation pages a person), on a connection the caller holds locked, inside its transaction;
 * delivered, retried and kept as a dead letter like any other. */
enum vig_err vig_notify_direct_locked(sqlite3 *h, const struct vig_notify_event *ev, const char *channel,
				      const char *target, int64_t now, char *errbuf);
/* Delivers up to VIG_NOTIFY_BATCH due deliveries; *sent / *failed (may be NULL) count the
 * outcomes of this call (failed = retried or dead). */
enum vig_err vig_notify_deliver_due(struct vig_db *db, const struct vig_notify_opts *opts, int64_t now,
				    size_t *sent, size_t *failed, char *errbuf);

/* Does the route (a row as JSON: events, min_severity, rule, days, hours) take ev at now? */
bool vig_notify_route_matches(json_t *route, const struct vig_notify_event *ev, int64_t now);

/* Routes API: list (secrets never returned), create, change, delete; tenant-scoped (a
 * provider's routes live in the provider tenant and see every tenant). Audited as
 * notify_route.create / .update / .delete. */
enum vig_err vig_notify_routes_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
				    char *errbuf);
enum vig_err vig_notify_route_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
				     json_t **out, char *errbuf);
enum vig_err vig_notify_route_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
				     json_t *in, json_t **out, char *errbuf);
enum vig_err vig_notify_route_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				     char *errbuf);

/* Deliveries: status "pending", "sent", "dead" or NULL for all, newest first (at most limit). */
enum vig_err vig_notify_deliveries(struct vig_db *db, const struct vig_principal *who, const char *status,
				   int64_t limit, json_t **out, char *errbuf);
/* Puts a dead delivery back in the queue (attempts reset); audited as notify.replay. */
enum vig_err vig_notify_replay(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t now,
			       char *errbuf);

/* The webhook signature: "sha256=" + hex HMAC-SHA256(secret, body) into out (72 bytes). */
void vig_notify_sign(const char *secret, const char *body, size_t n, char out[72]);

#endif
