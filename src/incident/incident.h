/*
 * incident.h - incidents as tickets: the SOC's unit of work. An incident groups alerts (by
 * hand, or automatically by configurable keys within a window), and carries a lifecycle, an
 * owner, severity and priority, tags, comments, tasks, observables with their sightings in
 * other incidents, and a timeline of everything that happened to it.
 *
 * Lifecycle: new -> acknowledged -> investigating -> contained -> resolved -> closed. A change
 * may skip states forward; going back is allowed only from resolved or closed to
 * investigating (a reopen, which clears the resolution). Closing or resolving needs a
 * resolution (true_positive, false_positive, benign, duplicate). The first time an incident
 * reaches acknowledged, contained, resolved and closed is kept (skipped states take the same
 * time), which the SLA clocks and the MTTA/MTTC/MTTR metrics read.
 *
 * Storage: the control DB (src/auth/db.c, migration 2): incidents, incident_comments,
 * incident_tasks, incident_observables, incident_timeline; alerts join through
 * alerts.incident_id. Every change runs in one transaction together with its timeline row
 * and its hash-chained audit row (who, before, after, why), so the three never disagree.
 *
 * Tenancy: every function takes the caller's principal; another tenant's incident, alert,
 * task or observable is VIG_ENOTFOUND exactly like a missing one. An incident and its alerts
 * always belong to one tenant.
 *
 * JSON: reads return jansson objects (new references) in the shape documented in
 * docs/api.md, "Incidents".
 */
#ifndef VIG_INCIDENT_H
#define VIG_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"

#define VIG_INC_TITLE_MAX 256       /* bytes of a title */
#define VIG_INC_TEXT_MAX (64 * 1024) /* bytes of a description or a comment */
#define VIG_INC_TAGS_MAX 32         /* tags per incident */
#define VIG_INC_TAG_MAX 64          /* bytes of one tag */
#define VIG_INC_ALERTS_MAX 1000     /* alert ids in one attach/detach/split call */
#define VIG_INC_LIST_MAX 1000       /* rows per list */
#define VIG_INC_DETAIL_MAX 500      /* alerts, comments, ... returned per incident */
#define VIG_INC_OBS_VALUE_MAX 1024  /* bytes of an observable value */
#define VIG_INC_GROUP_KEYS_MAX 4    /* grouping keys */

enum vig_inc_status {
	VIG_INC_NEW = 0,
	VIG_INC_ACKNOWLEDGED,
	VIG_INC_INVESTIGATING,
	VIG_INC_CONTAINED,
	VIG_INC_RESOLVED,
	VIG_INC_CLOSED,
	VIG_INC_STATUS__COUNT
};

/* "new", "acknowledged", ...; parse accepts the same names (and legacy "open" as new). */
const char *vig_inc_status_name(enum vig_inc_status s);
bool vig_inc_status_parse(const char *s, enum vig_inc_status *out);
/* Is a resolution name valid ("true_positive", "false_positive", "benign", "duplicate")? */
bool vig_inc_resolution_valid(const char *s);
/* May an incident go from `from` to `to` (see the lifecycle above)? */
bool vig_inc_transition_ok(enum vig_inc_status from, enum vig_inc_status to);

/* What a new incident starts with. Strings borrowed; NULL = default. */
struct vig_inc_new {
	const char *tenant;      /* NULL = the caller's tenant (provider callers may name one) */
	const char *title;       /* required */
	const char *description; /* "" */
	const char *severity;    /* informational..critical; NULL = the highest of its alerts, else medium */
	const char *priority;    /* p1..p4; NULL = p3 */
	const char *type;        /* incident type (playbook templates key on it); "" */
	const char *owner;       /* NULL = nobody */
	json_t *tags;            /* array of strings or NULL */
	const int64_t *alert_ids; /* alerts to attach (same tenant, not in another incident) */
	size_t n_alerts;
	const char *reason;      /* audit reason or NULL */
};

/* Creates an incident (and attaches the alerts, extracting their observables). *id gets its
 * id. Errors: VIG_EINVAL (bad field, with the reason), VIG_ENOTFOUND (an alert not visible),
 * VIG_ECONFLICT (an alert already in another incident), VIG_EPERM (tenant not allowed). */
enum vig_err vig_inc_create(struct vig_db *db, const struct vig_principal *who,
			    const struct vig_inc_new *in, int64_t *id, char *errbuf);

/* Filters of vig_inc_list(); zero/NULL fields do not filter. */
struct vig_inc_filter {
	const char *tenant;   /* provider callers: one tenant; NULL = the caller's scope */
	const char *status;   /* one status name, or "active" (not resolved or closed) */
	const char *severity; /* this severity or higher */
	const char *owner;    /* exact owner */
	int64_t limit;        /* 1..VIG_INC_LIST_MAX, 0 = 100 */
};

/* {"incidents":[...], "count":N} newest updated first. */
enum vig_err vig_inc_list(struct vig_db *db, const struct vig_principal *who,
			  const struct vig_inc_filter *f, json_t **out, char *errbuf);

/* The incident with its alerts, comments, tasks, observables (each with "sightings": other
 * incidents of the tenant holding the same observable) and timeline. */
enum vig_err vig_inc_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			 json_t **out, char *errbuf);

/* Applies a change: any of "title", "description", "status", "resolution", "severity",
 * "priority", "owner" (null clears), "type", "tags". Unknown keys are VIG_EINVAL. A status
 * change is checked against the lifecycle. reason (may be NULL) goes to the audit row.
 * *after (may be NULL) receives the incident as vig_inc_get() would return it. */
enum vig_err vig_inc_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			    json_t *patch, const char *reason, json_t **after, char *errbuf);

/* Adds a comment (1..VIG_INC_TEXT_MAX bytes) by who; *comment_id may be NULL. */
enum vig_err vig_inc_comment(struct vig_db *db, const struct vig_principal *who, int64_t id,
			     const char *body, int64_t *comment_id, char *errbuf);

/* Adds a task; *task_id may be NULL. */
enum vig_err vig_inc_task_add(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const char *title, const char *owner, int64_t *task_id, char *errbuf);
/* Changes a task: status "open"/"done" (NULL keeps) and owner (NULL keeps, "" clears). */
enum vig_err vig_inc_task_update(struct vig_db *db, const struct vig_principal *who,
				 int64_t task_id, const char *status, const char *owner, char *errbuf);

/* Observable types: ip, domain, hostname, url, user, email, hash, file, other. TLP and PAP:
 * clear (also "white"), green, amber, amber+strict, red. */
enum vig_err vig_inc_observable_add(struct vig_db *db, const struct vig_principal *who, int64_t id,
				    const char *type, const char *value, const char *tlp,
				    const char *pap, int64_t *obs_id, char *errbuf);
enum vig_err vig_inc_observable_delete(struct vig_db *db, const struct vig_principal *who,
				       int64_t obs_id, char *errbuf);

/* Attaches alerts to incident id (they must be in no incident, or detach=true to move
 * them out of it). detach=true removes them from id instead. */
enum vig_err vig_inc_alerts(struct vig_db *db, const struct vig_principal *who, int64_t id,
			    const int64_t *alert_ids, size_t n, bool detach, char *errbuf);

/* Moves every alert, comment, task and observable of incident `from` into `into` and closes
 * `from` with resolution duplicate. Both must be in the same tenant. */
enum vig_err vig_inc_merge(struct vig_db *db, const struct vig_principal *who, int64_t into,
			   int64_t from, char *errbuf);

/* Moves the given alerts of incident id into a new incident titled title (NULL: the
 * original's title + " (split)"); *new_id gets its id. */
enum vig_err vig_inc_split(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   const int64_t *alert_ids, size_t n, const char *title, int64_t *new_id,
			   char *errbuf);

/* ---- automatic grouping (called by vigild after alerts are recorded) ---- */

struct vig_inc_grouping {
	const char *keys[VIG_INC_GROUP_KEYS_MAX]; /* of "host", "user", "rule", "source.ip" */
	size_t n_keys;                            /* 0 = grouping off */
	int64_t window_ns;                        /* an incident takes alerts while updated within this */
	int min_severity;                         /* enum vig_alert_severity: lower alerts are left alone */
};

/* Parses a comma-separated key list ("host,rule") into g->keys (static strings). */
enum vig_err vig_inc_grouping_parse(const char *list, struct vig_inc_grouping *g, char *errbuf);

/*
 * Puts alert alert_id (in no incident yet) into the active incident (not resolved or closed)
 * of its tenant whose group key equals the alert's and that was updated within the window,
 * else into a new incident. The group key is the chosen keys' values of the alert
 * ("host=web-01|rule=..."); an alert missing every key's value is left alone (*incident_id 0).
 * Runs as the system principal (audited as such). *created says whether an incident was made.
 */
enum vig_err vig_inc_group_alert(struct vig_db *db, const struct vig_inc_grouping *g, int64_t alert_id,
				 int64_t now, int64_t *incident_id, bool *created, char *errbuf);

/* ---- SLA (sla.c) ---- */

/*
 * Every incident runs three clocks from its creation: acknowledge (until it is first
 * acknowledged or later), contain (until contained or later) and resolve (until resolved or
 * closed). Targets are per tenant and severity (seconds; 0 = no target); a tenant without its
 * own row takes the built-in defaults (vig_sla_default()). A clock is "met" or "breached"
 * once stopped, "running" or "breached" while running, "none" without a target, and "skipped"
 * for contain when the incident was resolved without being contained (a false positive).
 *
 * vig_sla_check() (vigild runs it every sla.check_interval_s) records, once per incident and
 * clock, a warning at 75% of the target and a breach at 100% in the timeline and the audit log;
 * a breach also escalates the incident: its priority rises one step (p4 -> p3 -> p2 -> p1).
 */
struct vig_sla_target {
	int64_t acknowledge_s, contain_s, resolve_s; /* 0 = no target */
};

/* The built-in target of a severity name (informational has none). */
struct vig_sla_target vig_sla_default(const char *severity);

/* {"tenant", "targets": {"critical": {"acknowledge_s","contain_s","resolve_s","default"}, ...}} */
enum vig_err vig_sla_get(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			 json_t **out, char *errbuf);
/* Sets the targets of the severities present in targets (same shape as above, "default": true
 * or null removes a severity's own row); audited as sla.update. */
enum vig_err vig_sla_set(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			 json_t *targets, char *errbuf);

/* Adds "sla": {"acknowledge": {...}, "contain": {...}, "resolve": {...}} to an incident object
 * (as returned by vig_inc_get()/vig_inc_list()), each clock {"target_s","due","state",
 * "elapsed_s"}, evaluated at now. */
enum vig_err vig_sla_annotate(struct vig_db *db, json_t *incident, int64_t now, char *errbuf);

/* Called by vig_sla_check() after the commit for each warning or breach recorded. */
typedef void vig_sla_event_cb(void *ctx, int64_t incident_id, const char *tenant, const char *clock,
			      bool breach);

/* Records new warnings and breaches of every incident at now; *warnings and *breaches (may be
 * NULL) receive how many were recorded; cb (may be NULL) hears about each. */
enum vig_err vig_sla_check(struct vig_db *db, int64_t now, size_t *warnings, size_t *breaches,
			   vig_sla_event_cb *cb, void *ctx, char *errbuf);

/*
 * SOC metrics of the incidents created in [from, to) visible to who (tenant NULL/"" = every
 * tenant the caller may see, else that one): {"from","to","tenants":[{"tenant","incidents",
 * "by_status":{...},"mttd_s","mtta_s","mttc_s","mttr_s","false_positive_rate",
 * "sla_breaches":{"acknowledge","contain","resolve"}}], "total": {...same}}. Means are over the
 * incidents that reached the milestone; null when none did. MTTD is the mean, over the
 * incidents' alerts, of detection time (first_seen) minus the time of the first event
 * (event_time, kept by the alert).
 */
enum vig_err vig_soc_metrics(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			     int64_t from, int64_t to, json_t **out, char *errbuf);

/* ---- XDR blocking (blocklist.c) ---- */

/*
 * Addresses blocked across a tenant's estate: each entry is an IPv4/IPv6 address or CIDR with a
 * reason, the incident it belongs to (optional), who added it and an expiry (0 = never).
 * Firewalls poll the active entries as a plain-text external dynamic list; agents acting as
 * gateways apply them with their block action. Adding and removing are audited.
 */
#define VIG_BLOCKLIST_MAX 100000 /* active entries listed per tenant */

/* Normalises an address or CIDR ("10.0.0.1", "10.0.0.0/8", "2001:db8::/32") into out (64 bytes):
 * the network address with host bits cleared, prefix omitted when it covers one address.
 * False for anything else. */
bool vig_blocklist_normalise(const char *in, char out[64]);

/* Adds an entry in who's tenant (provider callers may name one); incident_id 0 = none;
 * expires_in_s 0 = never. *out receives the entry. VIG_EINVAL for a bad address, VIG_ENOTFOUND
 * for an incident not visible in that tenant, VIG_EEXIST when the address is already active. */
enum vig_err vig_blocklist_add(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			       const char *address, const char *reason, int64_t incident_id,
			       int64_t expires_in_s, int64_t now, json_t **out, char *errbuf);
/* Removes an entry (kept in the table as removed). */
enum vig_err vig_blocklist_remove(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t now,
				  char *errbuf);
/* {"entries":[{"id","tenant","address","reason","incident_id","created_by","created","expires",
 * "active"}]}: the caller's scope, newest first; all=false lists the active ones only. */
enum vig_err vig_blocklist_list(struct vig_db *db, const struct vig_principal *who, bool all,
				int64_t now, json_t **out, char *errbuf);
/* Appends the active addresses of tenant, one per line, sorted, to *text (malloc'ed). */
enum vig_err vig_blocklist_text(struct vig_db *db, const char *tenant, int64_t now, char **text,
				size_t *len, char *errbuf);

#endif
