/*
 * response.h - response orchestration: tenant settings, response requests with their approval
 * flow, playbooks (playbook.c) and the provider's overview across tenants.
 *
 * Tenant settings: contacts, business hours, the approval timeout (default 3600 s) and the
 * escalation time (default half of it), the action types the customer pre-approved, and
 * whether automatic playbooks may act. A tenant without its row has the defaults.
 *
 * Response requests: an analyst (or a playbook) asks for an agent action from an incident.
 * Whether it runs at once depends on the tenant's mode (auth.h): a full-managed tenant, or a
 * type the tenant pre-approved, queues the fleet action at once; a semi-managed tenant's
 * request waits for the decision of one of its own users holding actions:approve
 * (customer_approver, tenant_admin). Playbook requests queue at once only when the tenant
 * lets automatic playbooks act, and in a semi-managed tenant only for pre-approved types.
 *
 *   pending_approval --approve [vig_resp_decide]---------> queued
 *   pending_approval --reject  [vig_resp_decide]---------> rejected
 *   pending_approval --timeout_at [vig_resp_check]-------> expired (never executed)
 *   pending_approval --cancel [vig_resp_cancel]----------> cancelled
 *   queued (fleet action still queued) --cancel----------> cancelled (fleet action cancelled)
 *   queued --agent's answer [vig_resp_action_result]-----> succeeded | failed
 * A pending request past its escalation time is marked escalated once (vig_resp_check).
 *
 * Every step runs in one transaction with its incident timeline row and its audit row; the
 * fleet action is queued in the same transaction (vig_fleet_action_create_locked()).
 *
 * Tenancy: another tenant's request, incident or playbook is VIG_ENOTFOUND like a missing one.
 * JSON shapes: docs/api.md, "Response orchestration".
 */
#ifndef VIG_RESPONSE_H
#define VIG_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"
#include "fleet/fleet.h"

#define VIG_RESP_TIMEOUT_DEFAULT_S 3600    /* approval timeout of a tenant without settings */
#define VIG_RESP_TIMEOUT_MAX_S (30 * 86400) /* longest approval timeout */
#define VIG_RESP_CONTACTS_MAX 32           /* contacts per tenant */
#define VIG_RESP_FIELD_MAX 256             /* bytes of a contact's field */
#define VIG_RESP_LIST_MAX 1000             /* requests per list */
#define VIG_RESP_CHECK_MAX 1000            /* requests escalated or expired per check */

/* ---- tenant settings ---- */

/* {"tenant","mode","retention_days","contacts":[{"name","email","phone","role"}],
 * "business_hours":{"timezone","days":["mon",...],"start":"HH:MM","end":"HH:MM"},
 * "approval_timeout_s","escalation_s","preapproved":["kill",...],"auto_playbooks",
 * "sla":{"critical":{...},...}} of a tenant visible to who (tenant NULL/"" = who's). */
enum vig_err vig_resp_settings_get(struct vig_db *db, const struct vig_principal *who,
				   const char *tenant, json_t **out, char *errbuf);
/* Changes the settings named in patch (any of contacts, business_hours, approval_timeout_s,
 * escalation_s (null = half the timeout), preapproved, auto_playbooks, and for provider
 * principals only mode and retention_days). Needs settings:write; unknown keys and bad values
 * are VIG_EINVAL; mode or retention_days from a non-provider is VIG_EPERM. Audited as
 * tenant.settings with before and after. *out (may be NULL) receives the settings after. */
enum vig_err vig_resp_settings_set(struct vig_db *db, const struct vig_principal *who,
				   const char *tenant, json_t *patch, int64_t now, json_t **out,
				   char *errbuf);

/* ---- requests ---- */

struct vig_resp_new {
	int64_t incident_id;   /* the incident the action belongs to */
	const char *agent_id;  /* an agent of the incident's tenant */
	const char *type;      /* a fleet action type (vig_fleet_action_type_valid) */
	json_t *params;        /* object or NULL */
	const char *reason;    /* why (may be NULL) */
	int64_t playbook_id;   /* 0 = by hand */
};

/* Requests an action (who needs actions:request, or is the system for playbooks). *id gets
 * the request id; *out (may be NULL) the request. VIG_ENOTFOUND (incident or agent not in the
 * incident's tenant), VIG_EINVAL (type, params), VIG_ECONFLICT (agent revoked). */
enum vig_err vig_resp_request(struct vig_db *db, struct vig_fleet *fleet,
			      const struct vig_principal *who, const struct vig_resp_new *in,
			      int64_t now, int64_t *id, json_t **out, char *errbuf);
/* The same on a connection the caller holds locked inside its own transaction. */
enum vig_err vig_resp_request_locked(sqlite3 *h, struct vig_fleet *fleet,
				     const struct vig_principal *who, const struct vig_resp_new *in,
				     int64_t now, int64_t *id, char *errbuf);
/* Approves (queues the action) or rejects a pending request. who needs actions:approve and, for
 * a semi-managed tenant, must belong to that tenant (VIG_EPERM otherwise); VIG_ECONFLICT when
 * the request is no longer pending. */
enum vig_err vig_resp_decide(struct vig_db *db, struct vig_fleet *fleet,
			     const struct vig_principal *who, int64_t id, bool approve,
			     const char *reason, int64_t now, json_t **out, char *errbuf);
/* Cancels a pending request, or a queued one whose fleet action has not been delivered
 * (VIG_ECONFLICT otherwise). */
enum vig_err vig_resp_cancel(struct vig_db *db, struct vig_fleet *fleet,
			     const struct vig_principal *who, int64_t id, const char *reason,
			     int64_t now, json_t **out, char *errbuf);
/* One request visible to who (with "result" and "error" of its action). */
enum vig_err vig_resp_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			  json_t **out, char *errbuf);

struct vig_resp_filter {
	const char *tenant;   /* NULL/"" = the caller's scope (a provider: every tenant) */
	const char *status;   /* NULL/"" = any, "pending" = pending_approval, or a status */
	int64_t incident_id;  /* 0 = any (else the incident must be visible) */
	int64_t limit;        /* 1..VIG_RESP_LIST_MAX, 0 = 100 */
};
/* {"requests":[...],"count":N}, newest first. */
enum vig_err vig_resp_list(struct vig_db *db, const struct vig_principal *who,
			   const struct vig_resp_filter *f, json_t **out, char *errbuf);

/* Called after the commit of each escalation or expiry; request is borrowed. */
typedef void vig_resp_event_cb(void *ctx, const char *kind, json_t *request);
/* Escalates pending requests past escalate_at and expires those past timeout_at, at now;
 * cb (may be NULL) hears "approval.escalated" / "approval.expired". */
enum vig_err vig_resp_check(struct vig_db *db, int64_t now, size_t *escalated, size_t *expired,
			    vig_resp_event_cb *cb, void *ctx, char *errbuf);
/* After the fleet recorded the agent's answer to action_id: moves the request holding it (if
 * any) to succeeded/failed and puts the result on the incident's timeline. *out (may be NULL)
 * receives the request, or NULL when no request holds that action. */
enum vig_err vig_resp_action_result(struct vig_db *db, int64_t action_id, int64_t now,
				    json_t **out, char *errbuf);

/* ---- provider overview ---- */

/* Provider principals only (VIG_EPERM otherwise): {"tenants":[{"tenant","name","mode",
 * "incidents_open":{"new":N,...},"sla_breaches_open","approvals_pending","agents_online",
 * "agents_offline","alerts_24h"}],"generated"}. Agents seen at or after online_since are online. */
enum vig_err vig_resp_overview(struct vig_db *db, const struct vig_principal *who, int64_t now,
			       int64_t online_since, json_t **out, char *errbuf);

/* ---- playbooks (playbook.c) ---- */

#define VIG_PLAYBOOK_TASKS_MAX 32  /* task templates per playbook */
#define VIG_PLAYBOOK_STEPS_MAX 8   /* response steps per playbook */
#define VIG_PLAYBOOKS_MAX 1000     /* playbooks listed / considered */

/*
 * A playbook: {"id","tenant","name","enabled","trigger":{"incident_type","rule_id",
 * "min_severity","tag"},"tasks":["title",...],"steps":[{"type","params"}],...}. Playbooks of
 * the provider tenant apply to every tenant. Every trigger member given must match; an empty
 * trigger matches nothing.
 */
enum vig_err vig_playbook_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
			       char *errbuf);
/* Creates (id 0) or replaces playbook id from def; needs rules:write. */
enum vig_err vig_playbook_put(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      json_t *def, int64_t now, json_t **out, char *errbuf);
enum vig_err vig_playbook_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				 char *errbuf);
/* Adds the task templates of the enabled playbooks whose incident_type equals the incident's
 * type (once per playbook and incident). *added (may be NULL) gets the number of tasks. */
enum vig_err vig_playbook_tasks(struct vig_db *db, int64_t incident_id, int64_t now,
				size_t *added, char *errbuf);
/* Runs the response steps of the playbooks matching alert alert_id (rule, severity) in its
 * incident (type, tag), against the agent of the alert's host, at most once per playbook,
 * incident and agent. ids (may be NULL, cap entries) receives the new request ids; *n their
 * number. A step that cannot be requested is skipped and counted in *skipped. */
enum vig_err vig_playbook_on_alert(struct vig_db *db, struct vig_fleet *fleet, int64_t incident_id,
				   int64_t alert_id, int64_t now, int64_t *ids, size_t cap,
				   size_t *n, size_t *skipped, char *errbuf);

#endif
