/*
 * server.c - vigild's HTTP(S) front: start-up (data dir, TLS, setup token, databases, socket),
 * the route table, the authentication middleware, reply helpers with security headers and the
 * access log, the connection limit, and graceful shutdown.
 *
 * Request flow (loop thread): gencb → parse URI → route lookup (404/405) → authenticate
 * (Bearer token, else session cookie + X-CSRF-Token on state-changing methods; 401) →
 * permission check (403) → handler. A handler ends the request with exactly one vig_reply_*
 * call, possibly later (ingest replies after the writer thread committed the batch).
 *
 * Connection limit: evhttp has no limit of its own, so every TLS connection's SSL object
 * carries ex_data whose free callback counts the connection closed; at max_connections the
 * listener is disabled (new clients wait in the kernel's backlog) and re-enabled below it.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting, refuse new work with 503, end streams, let the
 * ingest writer drain the queue (its replies still go out), then leave the loop.
 */
#include "server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "common/log.h"
#include "common/vtime.h"
#include "static.h"
#include "tls.h"

#define PERM_PUBLIC (-1) /* no authentication */
#define PERM_ANY (-2)    /* any authenticated caller */
#define PERM_AGENT (-3)  /* a verified agent client certificate (api_agents.c) */
#define SHUTDOWN_POLL_MS 100
#define SHUTDOWN_DEADLINE_S 60

typedef void (*vig_handler_fn)(struct vig_req *r);

struct vig_route {
	unsigned method;     /* EVHTTP_REQ_* */
	const char *pattern; /* path, one segment may be {id} */
	vig_handler_fn fn;   /* handler */
	int perm;            /* enum vig_perm, PERM_PUBLIC or PERM_ANY */
	bool offload;        /* slow: runs on an offload worker, not the loop (offload.c) */
};

static const struct vig_route routes[] = {
	{EVHTTP_REQ_GET, "/api/v1/health", vig_api_health, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/api/v1/setup", vig_api_setup_get, PERM_PUBLIC},
	{EVHTTP_REQ_POST, "/api/v1/setup", vig_api_setup_post, PERM_PUBLIC, true},
	{EVHTTP_REQ_POST, "/api/v1/login", vig_api_login, PERM_PUBLIC, true},
	{EVHTTP_REQ_POST, "/api/v1/logout", vig_api_logout, PERM_ANY},
	{EVHTTP_REQ_GET, "/api/v1/me", vig_api_me, PERM_ANY},
	{EVHTTP_REQ_POST, "/api/v1/events", vig_api_events_ingest, VIG_PERM_EVENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/events", vig_api_events_search, VIG_PERM_EVENTS_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/events/count", vig_api_events_count, VIG_PERM_EVENTS_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/events/top", vig_api_events_top, VIG_PERM_EVENTS_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/events/histogram", vig_api_events_histogram, VIG_PERM_EVENTS_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/fields", vig_api_fields, PERM_ANY},
	/* alerts and rules: api_alerts.c */
	{EVHTTP_REQ_GET, "/api/v1/alerts", vig_api_alerts_list, VIG_PERM_ALERTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/alerts/{id}", vig_api_alert_get, VIG_PERM_ALERTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/alerts/{id}", vig_api_alert_patch, VIG_PERM_ALERTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/incidents", vig_api_incidents_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/incidents", vig_api_incident_create, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/incidents/{id}", vig_api_incident_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/incidents/{id}", vig_api_incident_patch, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/comments", vig_api_incident_comment, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/tasks", vig_api_incident_task_add, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_PATCH, "/api/v1/incident-tasks/{id}", vig_api_incident_task_patch, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/observables", vig_api_incident_observable_add, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/incident-observables/{id}", vig_api_incident_observable_delete, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/alerts", vig_api_incident_alerts, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/merge", vig_api_incident_merge, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/split", vig_api_incident_split, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/tenants/{id}/sla", vig_api_tenant_sla_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_PUT, "/api/v1/tenants/{id}/sla", vig_api_tenant_sla_put, VIG_PERM_TENANTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/soc-metrics", vig_api_soc_metrics, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/blocklist", vig_api_blocklist_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/blocklist", vig_api_blocklist_add, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_DELETE, "/api/v1/blocklist/{id}", vig_api_blocklist_delete, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_GET, "/api/v1/blocklist.txt", vig_api_blocklist_text, PERM_ANY},
	{EVHTTP_REQ_GET, "/api/v1/notify/routes", vig_api_notify_routes_list, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/notify/routes", vig_api_notify_route_create, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_PATCH, "/api/v1/notify/routes/{id}", vig_api_notify_route_patch, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/notify/routes/{id}", vig_api_notify_route_delete, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/notify/deliveries", vig_api_notify_deliveries, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/notify/deliveries/{id}/replay", vig_api_notify_replay, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/oncall/rotas", vig_api_oncall_rotas_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/oncall/rotas", vig_api_oncall_rota_create, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/oncall/rotas/{id}", vig_api_oncall_rota_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_DELETE, "/api/v1/oncall/rotas/{id}", vig_api_oncall_rota_delete, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/oncall/rotas/{id}/overrides", vig_api_oncall_override_add, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/escalation-policies", vig_api_escalation_policies_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/escalation-policies", vig_api_escalation_policy_create, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_PATCH, "/api/v1/escalation-policies/{id}", vig_api_escalation_policy_patch, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/escalation-policies/{id}", vig_api_escalation_policy_delete, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/incidents/{id}/escalations", vig_api_incident_escalations, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/rules", vig_api_rules_get, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_POST, "/api/v1/rules", vig_api_rules_post, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/rules/{id}", vig_api_rule_get, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/rules/{id}", vig_api_rule_patch, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/rules/{id}", vig_api_rule_delete, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/stream", vig_api_stream, VIG_PERM_ALERTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/tenants", vig_api_tenants_list, VIG_PERM_TENANTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/tenants", vig_api_tenants_create, VIG_PERM_TENANTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/tenants/{id}", vig_api_tenant_get, VIG_PERM_TENANTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/tenants/{id}", vig_api_tenant_patch, VIG_PERM_TENANTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/users", vig_api_users_list, VIG_PERM_USERS_READ},
	{EVHTTP_REQ_POST, "/api/v1/users", vig_api_users_create, VIG_PERM_USERS_WRITE, true},
	{EVHTTP_REQ_PATCH, "/api/v1/users/{id}", vig_api_user_patch, VIG_PERM_USERS_WRITE, true},
	{EVHTTP_REQ_DELETE, "/api/v1/users/{id}", vig_api_user_delete, VIG_PERM_USERS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/tokens", vig_api_tokens_list, VIG_PERM_TOKENS_READ},
	{EVHTTP_REQ_POST, "/api/v1/tokens", vig_api_tokens_create, VIG_PERM_TOKENS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/tokens/{id}", vig_api_token_delete, VIG_PERM_TOKENS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/audit", vig_api_audit_list, VIG_PERM_AUDIT_READ},
	{EVHTTP_REQ_POST, "/api/v1/audit/verify", vig_api_audit_verify, VIG_PERM_AUDIT_READ},
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	{EVHTTP_REQ_POST, "/api/v1/agents/enroll", vig_api_enroll, PERM_PUBLIC},
	{EVHTTP_REQ_POST, "/api/v1/agent/events", vig_api_agent_events, PERM_AGENT},
	{EVHTTP_REQ_POST, "/api/v1/agent/heartbeat", vig_api_agent_heartbeat, PERM_AGENT},
	{EVHTTP_REQ_POST, "/api/v1/agent/inventory", vig_api_agent_inventory_post, PERM_AGENT},
	{EVHTTP_REQ_GET, "/api/v1/agent/actions", vig_api_agent_actions_poll, PERM_AGENT},
	{EVHTTP_REQ_POST, "/api/v1/agent/actions/{id}/result", vig_api_agent_action_result, PERM_AGENT},
	{EVHTTP_REQ_PUT, "/api/v1/agent/actions/{id}/upload", vig_api_agent_action_upload, PERM_AGENT},
	{EVHTTP_REQ_GET, "/api/v1/enroll-tokens", vig_api_enroll_tokens_list, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/enroll-tokens", vig_api_enroll_tokens_create, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/enroll-tokens/{id}", vig_api_enroll_token_delete, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/agents", vig_api_agents_list, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/agents/{id}", vig_api_agent_get, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/agents/{id}/inventory", vig_api_agent_inventory_get, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/agents/{id}/revoke", vig_api_agent_revoke, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/agents/{id}/actions", vig_api_agent_actions_create, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_GET, "/api/v1/actions", vig_api_actions_list, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/actions/{id}", vig_api_action_get, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/actions/{id}/cancel", vig_api_action_cancel, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_GET, "/api/v1/actions/{id}/file", vig_api_action_file, VIG_PERM_AGENTS_READ},
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	{EVHTTP_REQ_POST, "/api/v1/ingest/raw", vig_api_ingest_raw, VIG_PERM_EVENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/sources", vig_api_sources_list, VIG_PERM_EVENTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/sources/{id}", vig_api_source_patch, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/reduction/policies", vig_api_reduction_policies_get, VIG_PERM_EVENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/reduction/policies", vig_api_reduction_policies_post, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/reduction/policies/{id}", vig_api_reduction_policy_delete, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/reduction/stats", vig_api_reduction_stats, VIG_PERM_EVENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/reduction/evidence/{id}", vig_api_reduction_evidence, VIG_PERM_EVENTS_READ},
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	{EVHTTP_REQ_GET, "/api/v1/intel/feeds", vig_api_intel_feeds_list, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_POST, "/api/v1/intel/feeds", vig_api_intel_feeds_create, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_PATCH, "/api/v1/intel/feeds/{id}", vig_api_intel_feed_patch, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/intel/feeds/{id}", vig_api_intel_feed_delete, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/intel/feeds/{id}/refresh", vig_api_intel_feed_refresh, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/intel/lookup", vig_api_intel_lookup, VIG_PERM_ALERTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/intel/stats", vig_api_intel_stats, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_POST, "/api/v1/attack/import", vig_api_attack_import, VIG_PERM_RULES_WRITE, true},
	{EVHTTP_REQ_GET, "/api/v1/attack/techniques", vig_api_attack_techniques, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_GET, "/api/v1/attack/techniques/{id}", vig_api_attack_technique, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_GET, "/api/v1/attack/navigator", vig_api_attack_navigator, VIG_PERM_RULES_READ},
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	{EVHTTP_REQ_GET, "/api/v1/assets", vig_api_assets_list, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/assets", vig_api_assets_create, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/assets/{id}", vig_api_asset_get, VIG_PERM_AGENTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/assets/{id}", vig_api_asset_patch, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/assets/{id}", vig_api_asset_delete, VIG_PERM_AGENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/suppressions", vig_api_suppressions_list, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_POST, "/api/v1/suppressions", vig_api_suppressions_create, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/suppressions/{id}", vig_api_suppression_delete, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/rules/{id}/exceptions", vig_api_rule_exceptions_list, VIG_PERM_RULES_READ},
	{EVHTTP_REQ_POST, "/api/v1/rules/{id}/exceptions", vig_api_rule_exceptions_create, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/exceptions/{id}", vig_api_exception_delete, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/rules/validate", vig_api_rules_validate, VIG_PERM_RULES_READ, true},
	{EVHTTP_REQ_POST, "/api/v1/rules/test", vig_api_rules_test, VIG_PERM_RULES_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/hunts", vig_api_hunts_list, VIG_PERM_EVENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/hunts", vig_api_hunts_create, VIG_PERM_EVENTS_READ, true},
	{EVHTTP_REQ_GET, "/api/v1/hunts/{id}", vig_api_hunt_get, VIG_PERM_EVENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/hunts/{id}/cancel", vig_api_hunt_cancel, VIG_PERM_EVENTS_READ},
	/* @evidence: incident evidence and custody (api_evidence.c) */
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/evidence", vig_api_evidence_add, VIG_PERM_INCIDENTS_WRITE, true},
	{EVHTTP_REQ_GET, "/api/v1/incidents/{id}/evidence", vig_api_evidence_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/evidence/{id}", vig_api_evidence_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/evidence/{id}/download", vig_api_evidence_download, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/evidence/{id}/verify", vig_api_evidence_verify, VIG_PERM_INCIDENTS_READ, true},
	{EVHTTP_REQ_POST, "/api/v1/evidence/{id}/custody", vig_api_evidence_custody, VIG_PERM_INCIDENTS_WRITE},
	/* @response: tenant settings, response requests, approvals, playbooks (api_response.c) */
	{EVHTTP_REQ_GET, "/api/v1/tenants/{id}/settings", vig_api_tenant_settings_get, VIG_PERM_TENANTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/tenants/{id}/settings", vig_api_tenant_settings_patch, VIG_PERM_SETTINGS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/actions", vig_api_incident_actions_create, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_GET, "/api/v1/incidents/{id}/actions", vig_api_incident_actions_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/approvals", vig_api_approvals_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/approvals/{id}/approve", vig_api_approval_approve, VIG_PERM_ACTIONS_APPROVE},
	{EVHTTP_REQ_POST, "/api/v1/approvals/{id}/reject", vig_api_approval_reject, VIG_PERM_ACTIONS_APPROVE},
	{EVHTTP_REQ_POST, "/api/v1/response-requests/{id}/cancel", vig_api_response_request_cancel, VIG_PERM_ACTIONS_REQUEST},
	{EVHTTP_REQ_GET, "/api/v1/playbooks", vig_api_playbooks_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/playbooks", vig_api_playbooks_create, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_PUT, "/api/v1/playbooks/{id}", vig_api_playbook_put, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_DELETE, "/api/v1/playbooks/{id}", vig_api_playbook_delete, VIG_PERM_RULES_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/provider/overview", vig_api_provider_overview, VIG_PERM_INCIDENTS_READ},
	/* @sharing: STIX export, TAXII server, blocklist fan-out (api_sharing.c) */
	{EVHTTP_REQ_GET, "/api/v1/incidents/{id}/stix", vig_api_incident_stix, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/share", vig_api_incident_share, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_POST, "/api/v1/incidents/{id}/unshare", vig_api_incident_unshare, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_PATCH, "/api/v1/agents/{id}", vig_api_agent_patch, VIG_PERM_AGENTS_WRITE},
	/* TAXII 2.1: the handlers authenticate (Bearer or Basic) and check incidents:read */
	{EVHTTP_REQ_GET, "/taxii2/", vig_api_taxii_discovery, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/", vig_api_taxii_root, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/", vig_api_taxii_collections, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/{id}/", vig_api_taxii_collection, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/{id}/objects/", vig_api_taxii_objects, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/{id}/manifest/", vig_api_taxii_manifest, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/{id}/objects/{object_id}/", vig_api_taxii_object, PERM_PUBLIC},
	{EVHTTP_REQ_GET, "/taxii2/{tenant}/collections/{id}/objects/{object_id}/versions/", vig_api_taxii_versions,
	 PERM_PUBLIC},
	/* @reports: reports: definitions, schedules, runs (api_reports.c) */
	{EVHTTP_REQ_GET, "/api/v1/reports", vig_api_reports_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/reports", vig_api_reports_create, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/reports/{id}", vig_api_report_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_PATCH, "/api/v1/reports/{id}", vig_api_report_patch, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_DELETE, "/api/v1/reports/{id}", vig_api_report_delete, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_POST, "/api/v1/reports/{id}/run", vig_api_report_run, VIG_PERM_INCIDENTS_WRITE},
	{EVHTTP_REQ_GET, "/api/v1/report-runs", vig_api_report_runs_list, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/report-runs/{id}", vig_api_report_run_get, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/api/v1/report-runs/{id}/download", vig_api_report_run_download, VIG_PERM_INCIDENTS_READ},
	{EVHTTP_REQ_GET, "/metrics", vig_api_metrics, PERM_PUBLIC},
};

/* ---- connection accounting ---- */

static int conn_ex_index = -1;
static pthread_once_t conn_ex_once = PTHREAD_ONCE_INIT;

static void conn_closed(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct vig_server *srv = ptr;
	struct evconnlistener *l;

	if (!srv)
		return;
	srv->connections--;
	if (srv->accepting_paused && !srv->stopping && srv->connections < srv->cfg.max_connections) {
		l = evhttp_bound_socket_get_listener(srv->sock);
		evconnlistener_enable(l);
		srv->accepting_paused = false;
	}
}

static void conn_ex_init(void)
{
	conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_closed);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct vig_server *srv = arg;
	SSL *ssl = SSL_new(srv->ssl_ctx);

	if (!ssl)
		return NULL;
	SSL_set_ex_data(ssl, conn_ex_index, srv);
	srv->connections++;
	if (srv->connections >= srv->cfg.max_connections && !srv->accepting_paused) {
		evconnlistener_disable(evhttp_bound_socket_get_listener(srv->sock));
		srv->accepting_paused = true;
		vig_warn("http", "connection limit reached", "connections=%lld",
			 (long long)srv->connections);
	}
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					      BEV_OPT_CLOSE_ON_FREE);
}

/* ---- replies ---- */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Copies s into out replacing what would break a logfmt quoted value. */
static void log_safe(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; s && *s && o + 1 < cap; s++)
		out[o++] = (*s < 0x20 || *s == '"' || *s == '\\' || *s == 0x7f) ? '?' : *s;
	out[o] = '\0';
}

void vig_req_log(struct vig_req *r, int status, size_t bytes)
{
	static const char *const mnames[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
					     "TRACE", "CONNECT", "PATCH"};
	const char *m = "OTHER";
	double ms = (double)(vig_time_mono() - r->start_mono) / 1e6;
	char path[256];

	for (unsigned i = 0; i < VIG_ARRAY_LEN(mnames); i++)
		if (r->method == (enum evhttp_cmd_type)(1u << i))
			m = mnames[i];
	log_safe(r->path, path, sizeof(path));
	if (status >= 100 && status < 600)
		atomic_fetch_add(&r->srv->metrics.requests[status], 1);
	if (status == 401)
		atomic_fetch_add(&r->srv->metrics.auth_failures, 1);
	vig_info("http", "request",
		 "method=%s path=\"%s\" status=%d bytes=%zu duration_ms=%.3f principal=%s tenant=%s remote=%s",
		 m, path, status, bytes, ms, r->authed ? r->who.username : "-",
		 r->authed ? r->who.tenant : "-", r->remote[0] ? r->remote : "-");
}

void vig_req_free(struct vig_req *r)
{
	if (!r)
		return;
	free(r->query);
	free(r);
}

void vig_req_header(struct vig_req *r, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(r->req), name, value);
}

static void add_security_headers(struct vig_req *r, const char *ctype)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'self'");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	if (r->api)
		evhttp_add_header(h, "Cache-Control", "no-store");
}

void vig_reply_text(struct vig_req *r, int status, const char *ctype, const char *text, size_t n)
{
	struct evbuffer *out;

	if (r->offload_job && vig_offload_capture(r, status, ctype, text, n))
		return; /* on a worker: the loop sends it */
	out = evbuffer_new();
	add_security_headers(r, ctype);
	if (out && n)
		evbuffer_add(out, text, n);
	evhttp_send_reply(r->req, status, reason_of(status), out);
	vig_req_log(r, status, n);
	if (out)
		evbuffer_free(out);
	vig_req_free(r);
}

void vig_reply_json(struct vig_req *r, int status, struct vig_buf *body)
{
	if (body && vig_buf_err(body) != VIG_OK) {
		vig_reply_err(r, vig_buf_err(body), "reply too large or out of memory");
		return;
	}
	vig_reply_text(r, status, "application/json", body && body->data ? body->data : "",
		       body ? body->len : 0);
}

void vig_reply_err_status(struct vig_req *r, int status, enum vig_err err, const char *msg)
{
	struct vig_buf b;

	vig_buf_init(&b, 4096);
	vig_buf_adds(&b, "{\"error\":");
	vig_buf_add_json_str(&b, msg, strlen(msg));
	vig_buf_printf(&b, ",\"code\":\"%s\"}", vig_http_code_of(err));
	if (status == 401)
		vig_req_header(r, "WWW-Authenticate", "Bearer realm=\"vigil\"");
	vig_reply_text(r, status, "application/json", b.data ? b.data : "{}", b.len);
	vig_buf_release(&b);
}

void vig_reply_err(struct vig_req *r, enum vig_err err, const char *msg)
{
	vig_reply_err_status(r, vig_http_status_of(err), err, msg);
}

void vig_reply_jansson(struct vig_req *r, int status, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	json_decref(v);
	if (!s) {
		vig_reply_err(r, VIG_ENOMEM, "cannot encode reply");
		return;
	}
	vig_reply_text(r, status, "application/json", s, strlen(s));
	free(s);
}

int vig_req_query(struct vig_req *r, const char *name, char *out, size_t cap)
{
	int rc = vig_http_query_get(r->query, name, out, cap);
	char msg[160];

	if (rc < 0) {
		snprintf(msg, sizeof(msg), "query parameter %s: malformed or too long", name);
		vig_reply_err(r, VIG_EINVAL, msg);
	}
	return rc;
}

bool vig_req_tenant(struct vig_req *r, char tenant[VIG_NAME_MAX], bool *all)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", req[VIG_NAME_MAX] = "";
	const char *scope = NULL;
	enum vig_err err;

	if (vig_req_query(r, "tenant", req, sizeof(req)) < 0)
		return false;
	err = vig_principal_scope(&r->who, req, &scope, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf[0] ? errbuf : "tenant not accessible");
		return false;
	}
	if (all)
		*all = scope == NULL;
	snprintf(tenant, VIG_NAME_MAX, "%s", scope ? scope : r->who.tenant); /* scope may be req */
	return true;
}

bool vig_req_int(struct vig_req *r, const char *name, int64_t def, int64_t lo, int64_t hi,
		 int64_t *out)
{
	char v[32], msg[128];
	int rc = vig_req_query(r, name, v, sizeof(v));

	*out = def;
	if (rc < 0)
		return false;
	if (rc == 0 || v[0] == '\0')
		return true;
	if (!vig_parse_i64(v, strlen(v), out) || *out < lo || *out > hi) {
		snprintf(msg, sizeof(msg), "%s: expected an integer in [%lld, %lld]", name,
			 (long long)lo, (long long)hi);
		vig_reply_err(r, VIG_EINVAL, msg);
		return false;
	}
	return true;
}

bool vig_req_id(struct vig_req *r, const char *what, int64_t *id)
{
	char msg[96];

	if (vig_parse_i64(r->param, strlen(r->param), id) && *id > 0)
		return true;
	snprintf(msg, sizeof(msg), "no such %s", what);
	vig_reply_err(r, VIG_ENOTFOUND, msg);
	return false;
}

void vig_req_audit_as(struct vig_req *r, const struct vig_principal *who, const char *tenant,
		      const char *action, const char *type, const char *id, json_t *before,
		      json_t *after)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	char *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (vig_audit_append(r->srv->db, who ? who : &r->who, tenant, action, type, id, b, a, NULL,
			     NULL, errbuf) != VIG_OK)
		vig_error("audit", "append failed", "action=%s err=\"%s\"", action, errbuf);
	free(b);
	free(a);
}

void vig_req_audit(struct vig_req *r, const char *tenant, const char *action, const char *type,
		   const char *id, json_t *before, json_t *after)
{
	vig_req_audit_as(r, NULL, tenant, action, type, id, before, after);
}

void vig_req_audit_id(struct vig_req *r, const char *tenant, const char *action,
		      const char *type, int64_t id, json_t *before, json_t *after)
{
	char idbuf[32];

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	vig_req_audit_as(r, NULL, tenant, action, type, idbuf, before, after);
}

char *vig_req_body_copy(struct vig_req *r, size_t *n)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	char *s = malloc(len + 1);

	if (!s)
		return NULL;
	if (evbuffer_copyout(in, s, len) != (ev_ssize_t)len) {
		free(s);
		return NULL;
	}
	s[len] = '\0';
	*n = len;
	return s;
}

json_t *vig_req_json_body(struct vig_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t jerr;
	char msg[300];
	json_t *v;

	if (len > VIG_JSON_BODY_MAX) {
		vig_reply_err(r, VIG_ETOOBIG, "request body too large");
		return NULL;
	}
	v = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v || !json_is_object(v)) {
		snprintf(msg, sizeof(msg), "body: expected a JSON object%s%s", v ? "" : ": ",
			 v ? "" : jerr.text);
		json_decref(v);
		vig_reply_err(r, VIG_EINVAL, msg);
		return NULL;
	}
	return v;
}

/* ---- the middleware ---- */

static bool is_state_changing(enum evhttp_cmd_type m)
{
	return m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT || m == EVHTTP_REQ_PATCH ||
	       m == EVHTTP_REQ_DELETE;
}

/* Authenticates r; on failure sends 401 and returns false. */
static bool authenticate(struct vig_req *r)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(r->req);
	const char *authz = evhttp_find_header(h, "Authorization");
	const char *cookie = evhttp_find_header(h, "Cookie");
	const char *given;

	if (authz) {
		if (strncasecmp(authz, "Bearer ", 7) != 0 ||
		    vig_auth_token(r->srv->db, authz + 7, vig_time_now(), &r->who) != VIG_OK) {
			vig_reply_err(r, VIG_EAUTH, "invalid or expired token");
			return false;
		}
		r->authed = true;
		return true;
	}
	if (!vig_http_cookie_get(cookie, "vigil_session", r->session_id, sizeof(r->session_id))) {
		vig_reply_err(r, VIG_EAUTH, "authentication required");
		return false;
	}
	if (vig_auth_session(r->srv->db, r->session_id, vig_time_now(), &r->who, r->csrf) != VIG_OK) {
		vig_reply_err(r, VIG_EAUTH, "session expired or invalid");
		return false;
	}
	r->authed = true;
	r->session = true;
	if (is_state_changing(r->method)) {
		given = evhttp_find_header(h, "X-CSRF-Token");
		if (!vig_auth_csrf_ok(r->csrf, given)) {
			vig_reply_err(r, VIG_EPERM, "missing or wrong X-CSRF-Token");
			return false;
		}
	}
	return true;
}

/* Fills r from libevent's request; false (after replying) when the URI is unusable. */
static bool parse_request(struct vig_req *r)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	const char *path, *query;
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon) {
		evhttp_connection_get_peer(evcon, &addr, &port);
		if (addr)
			snprintf(r->remote, sizeof(r->remote), "%s", addr);
	}
	if (!uri || !evhttp_request_get_uri(r->req)) {
		int code = evhttp_request_get_response_code(r->req);

		snprintf(r->path, sizeof(r->path), "-");
		if (code == 413)
			vig_reply_err(r, VIG_ETOOBIG, "request body larger than limits.max_body_bytes");
		else
			vig_reply_err(r, VIG_EINVAL, "malformed request");
		return false;
	}
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	if (!path || !*path)
		path = "/";
	if (!vig_http_pct_decode(path, strlen(path), false, r->path, sizeof(r->path))) {
		snprintf(r->path, sizeof(r->path), "-");
		vig_reply_err(r, VIG_EINVAL, "malformed or too long path");
		return false;
	}
	r->api = strncmp(r->path, "/api/", 5) == 0;
	if (query) {
		r->query = strdup(query);
		if (!r->query) {
			vig_reply_err(r, VIG_ENOMEM, "out of memory");
			return false;
		}
	}
	return true;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct vig_server *srv = arg;
	const struct vig_route *route = NULL;
	bool path_known = false;
	struct vig_req *r = calloc(1, sizeof(*r));

	if (!r) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	r->srv = srv;
	r->req = req;
	r->method = evhttp_request_get_command(req);
	r->start_mono = vig_time_mono();
	if (!parse_request(r))
		return;
	for (size_t i = 0; i < VIG_ARRAY_LEN(routes); i++) {
		if (!vig_http_route_match(routes[i].pattern, r->path, r->param))
			continue;
		path_known = true;
		if (routes[i].method == (unsigned)r->method) {
			route = &routes[i];
			break;
		}
	}
	if (!route) {
		if (path_known) {
			vig_reply_err_status(r, 405, VIG_EINVAL, "method not allowed");
		} else if (!r->api && strcmp(r->path, "/metrics") != 0 && srv->cfg.console_dir[0]) {
			/* The console: static files with an index.html fallback for its routes. */
			vig_req_log(r, vig_static_serve(req, srv->cfg.console_dir), 0);
			vig_req_free(r);
		} else {
			vig_reply_err(r, VIG_ENOTFOUND, "no such endpoint");
		}
		return;
	}
	if (srv->stopping && route->fn != vig_api_health) {
		vig_req_header(r, "Retry-After", "5");
		vig_reply_err_status(r, 503, VIG_EBUSY, "server is shutting down");
		return;
	}
	if (route->perm == PERM_AGENT) {
		if (!vig_agents_authenticate(r))
			return;
	} else if (route->perm != PERM_PUBLIC) {
		if (!authenticate(r))
			return;
		if (route->perm >= 0 && !vig_principal_can(&r->who, (enum vig_perm)route->perm)) {
			vig_reply_err(r, VIG_EPERM, "permission denied");
			return;
		}
	}
	if (route->offload && srv->offload) {
		if (!vig_offload_submit(r, route->fn)) {
			vig_req_header(r, "Retry-After", "5");
			vig_reply_err_status(r, 503, VIG_EBUSY, "too many slow requests; retry later");
		}
		return;
	}
	route->fn(r);
}

/* ---- start-up ---- */

static enum vig_err mkdir_p(const char *dir, char *errbuf)
{
	char tmp[VIG_CFG_PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(tmp))
		return vig_errf(errbuf, VIG_EINVAL, "path too long: %s", dir);
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
			return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", tmp, strerror(errno));
		tmp[i] = dir[i];
	}
	return VIG_OK;
}

/* The setup token: configured, else read from DATA/setup-token, else generated, written
 * (0600) and printed once. */
static enum vig_err load_setup_token(struct vig_server *srv, char *errbuf)
{
	char path[VIG_CFG_PATH_MAX + 32], hex[65];
	uint8_t raw[24];
	ssize_t n;
	int fd;

	if (srv->cfg.setup_token[0]) {
		snprintf(srv->setup_token, sizeof(srv->setup_token), "%s", srv->cfg.setup_token);
		return VIG_OK;
	}
	snprintf(path, sizeof(path), "%s/setup-token", srv->cfg.data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, srv->setup_token, sizeof(srv->setup_token) - 1);
		close(fd);
		if (n <= 0)
			return vig_errf(errbuf, VIG_EIO, "cannot read %s", path);
		srv->setup_token[n] = '\0';
		srv->setup_token[strcspn(srv->setup_token, "\r\n")] = '\0';
		return VIG_OK;
	}
	if (vig_random(raw, sizeof(raw)) != VIG_OK)
		return vig_errf(errbuf, VIG_EIO, "no randomness for the setup token");
	vig_hex(raw, sizeof(raw), hex);
	snprintf(srv->setup_token, sizeof(srv->setup_token), "vst_%s", hex);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", path, strerror(errno));
	n = write(fd, srv->setup_token, strlen(srv->setup_token));
	if (close(fd) != 0 || n != (ssize_t)strlen(srv->setup_token))
		return vig_errf(errbuf, VIG_EIO, "cannot write %s", path);
	if (vig_auth_setup_needed(srv->db))
		fprintf(stderr, "vigild: first start: setup token %s (also in %s)\n", srv->setup_token,
			path);
	return VIG_OK;
}

static enum vig_err open_stores(struct vig_server *srv, char *errbuf)
{
	char path[VIG_CFG_PATH_MAX + 32];
	struct vig_auth_config ac;
	enum vig_err err;

	snprintf(path, sizeof(path), "%s/control.db", srv->cfg.data_dir);
	err = vig_db_open(path, &srv->db, errbuf);
	if (err != VIG_OK)
		return err;
	vig_auth_config_default(&ac);
	ac.session_ttl_ns = srv->cfg.session_ttl_s * VIG_NS_PER_SEC;
	vig_auth_configure(srv->db, &ac);
	snprintf(path, sizeof(path), "%s/events", srv->cfg.data_dir);
	srv->store = vig_evstore_open(path, NULL, errbuf);
	return srv->store ? VIG_OK : VIG_EIO;
}

static enum vig_err open_tls(struct vig_server *srv, char *errbuf)
{
	char cert[VIG_CFG_PATH_MAX + 32], key[VIG_CFG_PATH_MAX + 32];
	bool generated = false;
	enum vig_err err;

	if (srv->cfg.tls_cert[0]) {
		snprintf(cert, sizeof(cert), "%s", srv->cfg.tls_cert);
		snprintf(key, sizeof(key), "%s", srv->cfg.tls_key);
	} else {
		snprintf(cert, sizeof(cert), "%s/tls/server.crt", srv->cfg.data_dir);
		snprintf(key, sizeof(key), "%s/tls/server.key", srv->cfg.data_dir);
		err = vig_tls_ensure_cert(cert, key, &generated, errbuf);
		if (err != VIG_OK)
			return err;
		if (generated)
			vig_info("tls", "generated a self-signed certificate", "cert=%s", cert);
	}
	srv->ssl_ctx = vig_tls_server_ctx(cert, key, errbuf);
	return srv->ssl_ctx ? VIG_OK : VIG_EINVAL;
}

static void on_signal(evutil_socket_t sig, short what, void *arg);

static enum vig_err open_http(struct vig_server *srv, char *errbuf)
{
	char host[256];
	int port;

	srv->http = evhttp_new(srv->base);
	if (!srv->http)
		return vig_errf(errbuf, VIG_ENOMEM, "cannot create the http server");
	evhttp_set_bevcb(srv->http, make_bev, srv);
	evhttp_set_gencb(srv->http, on_request, srv);
	evhttp_set_max_body_size(srv->http, srv->cfg.max_body_bytes);
	/* read and discard an oversized body so that the client sees the 413 reply */
	evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(srv->http, 64 * 1024);
	evhttp_set_timeout(srv->http, (int)srv->cfg.request_timeout_s);
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						      EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_HEAD);
	if (!vig_config_split_listen(srv->cfg.listen, host, sizeof(host), &port))
		return vig_errf(errbuf, VIG_EINVAL, "listen: expected HOST:PORT");
	srv->sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
	if (!srv->sock)
		return vig_errf(errbuf, VIG_EIO, "cannot listen on %s: %s", srv->cfg.listen,
				strerror(errno));
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		evutil_socket_t fd = evhttp_bound_socket_get_fd(srv->sock);

		srv->port = port;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			srv->port = ntohs(ss.ss_family == AF_INET6
						  ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	}
	srv->sig_term = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, on_signal, srv);
	if (!srv->sig_term || !srv->sig_int || evsignal_add(srv->sig_term, NULL) != 0 ||
	    evsignal_add(srv->sig_int, NULL) != 0)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot install signal handlers");
	return VIG_OK;
}

struct vig_server *vig_server_new(const struct vig_config *cfg, char *errbuf)
{
	struct vig_server *srv;
	enum vig_err err;

	pthread_once(&conn_ex_once, conn_ex_init);
	if (evthread_use_pthreads() != 0) {
		vig_errf(errbuf, VIG_EINTERNAL, "libevent without pthreads support");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->started_mono = vig_time_mono();
	signal(SIGPIPE, SIG_IGN);
	err = mkdir_p(cfg->data_dir, errbuf);
	if (err == VIG_OK)
		err = open_tls(srv, errbuf);
	if (err == VIG_OK)
		err = open_stores(srv, errbuf);
	if (err == VIG_OK)
		err = load_setup_token(srv, errbuf);
	if (err == VIG_OK)
		err = vig_alerts_start(srv, errbuf); /* rules: before the ingest writer starts */
	if (err != VIG_OK)
		goto out_free;
	srv->base = event_base_new();
	if (!srv->base) {
		vig_errf(errbuf, VIG_ENOMEM, "cannot create the event loop");
		goto out_free;
	}
	if (open_http(srv, errbuf) != VIG_OK)
		goto out_free;
	srv->ingest = vig_ingest_new(srv, errbuf);
	if (!srv->ingest)
		goto out_free;
	srv->sse = vig_sse_new(srv);
	if (!srv->sse) {
		vig_errf(errbuf, VIG_ENOMEM, "cannot create the stream hub");
		goto out_free;
	}
	srv->retention = vig_retention_start(srv, errbuf);
	if (!srv->retention)
		goto out_free;
	if (vig_offload_start(srv, errbuf) != VIG_OK) /* workers for slow handlers */
		goto out_free;
	if (vig_incidents_start(srv, errbuf) != VIG_OK) /* the SLA check (api_incidents.c) */
		goto out_free;
	if (vig_notifier_start(srv, errbuf) != VIG_OK) /* notifications (api_notify.c) */
		goto out_free;
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	if (vig_agents_start(srv, errbuf) != VIG_OK)
		goto out_free;
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	if (vig_logs_start(srv, errbuf) != VIG_OK)
		goto out_free;
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	if (vig_intel_start(srv, errbuf) != VIG_OK)
		goto out_free;
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	if (vig_correlation_start(srv, errbuf) != VIG_OK) /* correlation state (correlation.c) */
		goto out_free;
	if (vig_detect_mgmt_start(srv, errbuf) != VIG_OK) /* policy + hunts (api_detect.c) */
		goto out_free;
	/* @evidence: incident evidence and custody (api_evidence.c) */
	if (vig_evidence_start(srv, errbuf) != VIG_OK) /* DATA/evidence */
		goto out_free;
	/* @response: tenant settings, response requests, approvals, playbooks (api_response.c) */
	if (vig_response_start(srv, errbuf) != VIG_OK) /* approval escalation/expiry check */
		goto out_free;
	/* @sharing: STIX export, TAXII server, blocklist fan-out (api_sharing.c) */
	if (vig_sharing_start(srv, errbuf) != VIG_OK) /* blocklist fan-out timer */
		goto out_free;
	/* @reports: reports: definitions, schedules, runs (api_reports.c) */
	if (vig_reports_start(srv, errbuf) != VIG_OK) /* report worker (api_reports.c) */
		goto out_free;
	return srv;
out_free:
	vig_server_free(srv);
	return NULL;
}

enum vig_err vig_timer_start(struct vig_server *srv, struct event **ev, int64_t seconds,
			     void (*cb)(evutil_socket_t, short, void *), void *arg, const char *what,
			     char *errbuf)
{
	struct timeval tv = {(time_t)seconds, 0};

	*ev = event_new(srv->base, -1, EV_PERSIST, cb, arg);
	if (!*ev || event_add(*ev, &tv) != 0)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the %s", what);
	return VIG_OK;
}

void vig_timer_stop(struct event **ev)
{
	if (*ev) {
		event_free(*ev);
		*ev = NULL;
	}
}

int vig_server_port(const struct vig_server *srv)
{
	return srv->port;
}

/* Shutdown poll: leave the loop once the ingest queue is empty (or the deadline passed). */
static void on_shutdown_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vig_server *srv = arg;
	static int ticks;
	struct timeval flush = {0, 300000};

	ticks++;
	if (vig_ingest_depth(srv->ingest) == 0 || ticks * SHUTDOWN_POLL_MS > SHUTDOWN_DEADLINE_S * 1000) {
		event_base_loopexit(srv->base, &flush);
		return;
	}
	{
		struct timeval tv = {0, SHUTDOWN_POLL_MS * 1000};

		event_base_once(srv->base, -1, EV_TIMEOUT, on_shutdown_tick, srv, &tv);
	}
}

static void begin_shutdown(struct vig_server *srv)
{
	struct timeval tv = {0, SHUTDOWN_POLL_MS * 1000};

	if (srv->stopping)
		return;
	srv->stopping = true;
	vig_info("server", "shutting down", "queued_batches=%zu", vig_ingest_depth(srv->ingest));
	if (srv->sock) {
		evhttp_del_accept_socket(srv->http, srv->sock);
		srv->sock = NULL;
	}
	vig_sse_close_all(srv->sse);
	vig_logs_quiesce(srv); /* receivers hand what they hold to the ingest queue before it drains */
	event_base_once(srv->base, -1, EV_TIMEOUT, on_shutdown_tick, srv, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	begin_shutdown(arg);
}

static void on_stop_request(evutil_socket_t fd, short what, void *arg)
{
	begin_shutdown(arg);
}

void vig_server_stop(struct vig_server *srv)
{
	event_base_once(srv->base, -1, EV_TIMEOUT, on_stop_request, srv, NULL);
}

enum vig_err vig_server_run(struct vig_server *srv)
{
	vig_info("server", "listening", "listen=%s port=%d data_dir=%s version=%s", srv->cfg.listen,
		 srv->port, srv->cfg.data_dir, VIG_VERSION);
	if (event_base_dispatch(srv->base) < 0)
		return VIG_EINTERNAL;
	vig_ingest_drain(srv->ingest);
	vig_info("server", "stopped", "events_accepted=%llu",
		 (unsigned long long)atomic_load(&srv->metrics.ingest_accepted));
	return VIG_OK;
}

void vig_server_free(struct vig_server *srv)
{
	if (!srv)
		return;
	vig_offload_stop(srv); /* answers what the workers hold while evhttp exists */
	vig_retention_stop(srv->retention);
	/* @evidence: incident evidence and custody (api_evidence.c) */
	vig_evidence_stop(srv);
	/* @response: tenant settings, response requests, approvals, playbooks (api_response.c) */
	vig_response_stop(srv);
	/* @sharing: STIX export, TAXII server, blocklist fan-out (api_sharing.c) */
	vig_sharing_stop(srv);
	/* @reports: reports: definitions, schedules, runs (api_reports.c) */
	vig_reports_stop(srv); /* before the notifier: a finished run emits report.ready */
	vig_incidents_stop(srv);
	vig_notifier_stop(srv);
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	vig_agents_stop(srv); /* answers held polls while the connections exist */
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	vig_logs_stop(srv); /* receivers, then drains the ingest queue, then sources/reduction */
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	vig_ingest_drain(srv->ingest); /* the writer matches against the indicator set */
	vig_intel_stop(srv);
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	vig_correlation_stop(srv); /* waits for the ingest writer, then snapshots */
	vig_detect_mgmt_stop(srv); /* drains the ingest writer first: it reads srv->policy */
	if (srv->ingest) {
		vig_ingest_drain(srv->ingest);
		vig_ingest_free(srv->ingest);
	}
	if (srv->sse) {
		vig_sse_close_all(srv->sse);
		vig_sse_free(srv->sse);
	}
	vig_alerts_stop(srv); /* after the ingest writer, which held engine references */
	if (srv->sig_term)
		event_free(srv->sig_term);
	if (srv->sig_int)
		event_free(srv->sig_int);
	if (srv->http)
		evhttp_free(srv->http);
	if (srv->base)
		event_base_free(srv->base);
	if (srv->ssl_ctx)
		SSL_CTX_free(srv->ssl_ctx);
	vig_evstore_close(srv->store);
	vig_db_close(srv->db);
	free(srv);
}
