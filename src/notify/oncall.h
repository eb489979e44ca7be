/*
 * oncall.h - who is on call, and who is paged when an incident is not acknowledged in time.
 *
 * A rota is an ordered list of members (name, e-mail address, optional webhook such as a
 * chat or pager hook) taking shifts of shift_s seconds back to back from start, round and
 * round: at time t the member on call is (floor((t - start) / shift_s) mod n). An override
 * puts a member on call for [start, end) instead (holidays, swaps); the newest override
 * covering t wins. Rotas of the provider tenant serve every tenant, so one provider rota can
 * cover the whole 24/7 service while a customer keeps its own.
 *
 * An escalation policy is a ladder of up to VIG_ESC_LEVELS_MAX levels, each `after_s`
 * seconds after an incident was created, paging a rota's member on call (by e-mail, and by
 * webhook when the member has one) or a fixed address. vig_escalation_check() (vigild's SLA
 * timer) pages each level once for every incident still `new` (not acknowledged) whose
 * severity is at least the policy's min_severity; acknowledging stops the ladder. Policies of
 * the provider tenant apply to every tenant. Each page is a row in incident_escalations, a
 * timeline row ("escalation") and an audit row ("incident.escalation") on the incident, and a
 * durable direct delivery in the notification queue (notify.h) - all in one transaction, so a
 * page is never recorded without being queued nor queued twice.
 *
 * Storage: control DB migration 3 (oncall_rotas, oncall_overrides, escalation_policies,
 * incident_escalations). Reads need incidents:read, changes settings:write; every change is
 * audited (oncall_rota.*, escalation_policy.*).
 */
#ifndef VIG_ONCALL_H
#define VIG_ONCALL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"

#define VIG_ONCALL_MEMBERS_MAX 64   /* members of one rota */
#define VIG_ESC_LEVELS_MAX 8        /* levels of one escalation policy */
#define VIG_ONCALL_LIST_MAX 500     /* rows per list */

/* The member of rota (a row as vig_oncall_rota_get returns it) on call at t, or -1. Pure:
 * overrides are the rota's "overrides" array ({"member","start","end"} in ns). */
int vig_oncall_member_at(json_t *rota, int64_t t);

/* Rotas: {"name", "members":[{"name","email","webhook"?}], "shift_hours", "start" (RFC 3339
 * or epoch seconds; default now), "tenant" (provider callers)}. Objects come back with "id",
 * "tenant", "shift_hours", "start", "members", "overrides" (current and future), "on_call"
 * (the member now) and "next_handoff". */
enum vig_err vig_oncall_rota_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
				    int64_t now, json_t **out, char *errbuf);
enum vig_err vig_oncall_rota_list(struct vig_db *db, const struct vig_principal *who, int64_t now,
				  json_t **out, char *errbuf);
enum vig_err vig_oncall_rota_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
				 int64_t now, json_t **out, char *errbuf);
enum vig_err vig_oncall_rota_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				    char *errbuf);
/* Adds an override {"member": index or e-mail address, "start", "end"} (end > start, at most
 * 90 days). */
enum vig_err vig_oncall_override_add(struct vig_db *db, const struct vig_principal *who, int64_t rota_id,
				     json_t *in, int64_t now, json_t **out, char *errbuf);

/* Escalation policies: {"name", "min_severity", "levels":[{"after_s", "rota" | "email" |
 * "webhook"}], "enabled", "tenant" (provider callers)}; levels strictly ascending in after_s. */
enum vig_err vig_escalation_policy_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
					  int64_t now, json_t **out, char *errbuf);
enum vig_err vig_escalation_policy_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
					char *errbuf);
enum vig_err vig_escalation_policy_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
					  json_t *in, json_t **out, char *errbuf);
enum vig_err vig_escalation_policy_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
					  char *errbuf);
/* The pages of one incident (visible to who): [{"policy","level","ts","target"}]. */
enum vig_err vig_escalation_incident(struct vig_db *db, const struct vig_principal *who, int64_t incident_id,
				     json_t **out, char *errbuf);

/* Pages every level that is due at now (see above); *paged (may be NULL) counts the pages. */
enum vig_err vig_escalation_check(struct vig_db *db, int64_t now, size_t *paged, char *errbuf);

#endif /* VIG_ONCALL_H */
