/*
 * args.c - vigilctl's command table and command-line parser (see ctl.h).
 *
 * A command is one or two words ("status", "token create") found in a static table together
 * with its positional-argument bounds and its options, each with a value type that is checked
 * here, so that a command implementation only ever sees well-formed values. Global options are
 * accepted anywhere; command options only once the command is known (so that whether an
 * option takes a value is never a guess).
 */
#include "ctl.h"

#include <stdio.h>
#include <string.h>

#include "common/vtime.h"

static const struct vig_ctl_opt_spec opts_token_create[] = {
	{"role", VIG_CTL_OPT_STR, "role of the token (default: the caller's)"},
	{"tenant", VIG_CTL_OPT_STR, "tenant of the token (default: the caller's)"},
	{"expires-in", VIG_CTL_OPT_DUR, "lifetime, e.g. 30d (default: no expiry)"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_login[] = {
	{"username", VIG_CTL_OPT_STR, "user name (prompted for when absent)"},
	{"password-stdin", VIG_CTL_OPT_FLAG, "read the password from the first line of stdin"},
	{"expires-in", VIG_CTL_OPT_DUR, "lifetime of the stored token (default 30d)"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_setup[] = {
	{"token", VIG_CTL_OPT_STR, "the setup token from DATA/setup-token"},
	{"username", VIG_CTL_OPT_STR, "name of the first administrator"},
	{"password-stdin", VIG_CTL_OPT_FLAG, "read the password from the first line of stdin"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_search[] = {
	{"from", VIG_CTL_OPT_TIME, "start: RFC 3339, epoch seconds, now, -1h (default -24h)"},
	{"to", VIG_CTL_OPT_TIME, "end (default now)"},
	{"limit", VIG_CTL_OPT_UINT, "most events (default 100, max 10000)"},
	{"fields", VIG_CTL_OPT_STR, "columns to show, comma-separated"},
	{"asc", VIG_CTL_OPT_FLAG, "oldest first"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_count[] = {
	{"from", VIG_CTL_OPT_TIME, "start (default -24h)"},
	{"to", VIG_CTL_OPT_TIME, "end (default now)"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_top[] = {
	{"size", VIG_CTL_OPT_UINT, "number of values (default 10)"},
	{"from", VIG_CTL_OPT_TIME, "start (default -24h)"},
	{"to", VIG_CTL_OPT_TIME, "end (default now)"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_users_add[] = {
	{"role", VIG_CTL_OPT_STR, "role (required)"},
	{"tenant", VIG_CTL_OPT_STR, "tenant (default: the caller's)"},
	{"password-stdin", VIG_CTL_OPT_FLAG, "read the password from the first line of stdin"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_tenants_add[] = {
	{"name", VIG_CTL_OPT_STR, "display name"},
	{NULL, 0, NULL},
};
static const struct vig_ctl_opt_spec opts_limit[] = {
	{"limit", VIG_CTL_OPT_UINT, "most rows"},
	{NULL, 0, NULL},
};

static const struct vig_ctl_cmd_spec commands[] = {
	{VIG_CTL_CMD_HELP, "help", NULL, 0, 2, "[COMMAND [SUBCOMMAND]]", "show help", NULL},
	{VIG_CTL_CMD_VERSION, "version", NULL, 0, 0, "", "print the client version", NULL},
	{VIG_CTL_CMD_STATUS, "status", NULL, 0, 0, "", "server health and who you are", NULL},
	{VIG_CTL_CMD_LOGIN, "login", NULL, 0, 0, "[--username U] [--password-stdin]",
	 "log in, create an API token and store it in ~/.config/vigil/credentials", opts_login},
	{VIG_CTL_CMD_LOGOUT, "logout", NULL, 0, 0, "", "revoke and forget the stored token", NULL},
	{VIG_CTL_CMD_SETUP, "setup", NULL, 0, 0, "--token T --username U [--password-stdin]",
	 "create the first administrator of a new server", opts_setup},
	{VIG_CTL_CMD_TOKEN_CREATE, "token", "create", 1, 1,
	 "NAME [--role R] [--tenant T] [--expires-in DUR]", "create an API token (shown once)",
	 opts_token_create},
	{VIG_CTL_CMD_TOKEN_LIST, "token", "list", 0, 0, "", "list API tokens", NULL},
	{VIG_CTL_CMD_TOKEN_REVOKE, "token", "revoke", 1, 1, "ID", "revoke an API token", NULL},
	{VIG_CTL_CMD_INGEST, "ingest", NULL, 1, 1, "FILE|-",
	 "send NDJSON events (idempotent batches of at most 5000 lines)", NULL},
	{VIG_CTL_CMD_SEARCH, "search", NULL, 1, 1,
	 "QUERY [--from T] [--to T] [--limit N] [--fields a,b,c]", "search events", opts_search},
	{VIG_CTL_CMD_COUNT, "count", NULL, 1, 1, "QUERY [--from T] [--to T]", "count events",
	 opts_count},
	{VIG_CTL_CMD_TOP, "top", NULL, 1, 2, "FIELD [QUERY] [--size N] [--from T] [--to T]",
	 "most frequent values of a field", opts_top},
	{VIG_CTL_CMD_USERS_LIST, "users", "list", 0, 0, "", "list users", NULL},
	{VIG_CTL_CMD_USERS_ADD, "users", "add", 1, 1,
	 "USERNAME --role R [--tenant T] [--password-stdin]", "add a user", opts_users_add},
	{VIG_CTL_CMD_USERS_SET_ROLE, "users", "set-role", 2, 2, "ID ROLE", "change a user's role",
	 NULL},
	{VIG_CTL_CMD_USERS_DISABLE, "users", "disable", 1, 1, "ID", "disable a user", NULL},
	{VIG_CTL_CMD_USERS_ENABLE, "users", "enable", 1, 1, "ID", "enable a disabled user", NULL},
	{VIG_CTL_CMD_USERS_DELETE, "users", "delete", 1, 1, "ID", "delete a user", NULL},
	{VIG_CTL_CMD_TENANTS_LIST, "tenants", "list", 0, 0, "", "list tenants", NULL},
	{VIG_CTL_CMD_TENANTS_ADD, "tenants", "add", 1, 1, "ID [--name NAME]", "add a tenant",
	 opts_tenants_add},
	{VIG_CTL_CMD_TENANTS_SET, "tenants", "set", 2, VIG_CTL_MAX_POS, "ID KEY=VALUE...",
	 "change a tenant's settings", NULL},
	{VIG_CTL_CMD_AUDIT_LIST, "audit", "list", 0, 0, "[--limit N]", "audit log, newest first",
	 opts_limit},
	{VIG_CTL_CMD_AUDIT_VERIFY, "audit", "verify", 0, 0, "",
	 "verify the audit hash chain (exit 1 when broken)", NULL},
	{VIG_CTL_CMD_ALERTS_LIST, "alerts", "list", 0, VIG_CTL_MAX_POS, "[KEY=VALUE...] [--limit N]",
	 "list alerts (KEY=VALUE filters)", opts_limit},
	{VIG_CTL_CMD_INCIDENTS_LIST, "incidents", "list", 0, VIG_CTL_MAX_POS,
	 "[KEY=VALUE...] [--limit N]", "list incidents (KEY=VALUE filters)", opts_limit},
	{VIG_CTL_CMD_RULES_LIST, "rules", "list", 0, 0, "", "list detection rules", NULL},
	{VIG_CTL_CMD_RULES_ADD, "rules", "add", 1, 1, "FILE", "add a Sigma rule (YAML file)", NULL},
	/* @agents */
	{VIG_CTL_CMD_AGENTS_LIST, "agents", "list", 0, 0, "[--status S] [--q TEXT] [--tenant T]",
	 "list agents (status online, offline or revoked)",
	 (const struct vig_ctl_opt_spec[]){{"status", VIG_CTL_OPT_STR, "online, offline or revoked"},
					   {"q", VIG_CTL_OPT_STR, "hostname substring or id prefix"},
					   {"tenant", VIG_CTL_OPT_STR, "only this tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_AGENTS_SHOW, "agents", "show", 1, 1, "ID", "one agent with its last heartbeat",
	 NULL},
	{VIG_CTL_CMD_AGENTS_REVOKE, "agents", "revoke", 1, 1, "ID",
	 "revoke an agent (its certificate is refused from then on)", NULL},
	{VIG_CTL_CMD_AGENTS_INVENTORY, "agents", "inventory", 1, 1, "ID",
	 "an agent's latest inventory document", NULL},
	{VIG_CTL_CMD_ENROLL_TOKEN_CREATE, "enroll-token", "create", 1, 1,
	 "NAME [--tenant T] [--uses N] [--expires-in DUR]",
	 "create an agent enrolment token (shown once)",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant of the agents"},
					   {"uses", VIG_CTL_OPT_STR, "enrolments allowed, 0 = unlimited (default 1)"},
					   {"expires-in", VIG_CTL_OPT_DUR, "lifetime (default 1d, at most 366d)"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ENROLL_TOKEN_LIST, "enroll-token", "list", 0, 0, "", "list enrolment tokens",
	 NULL},
	{VIG_CTL_CMD_ENROLL_TOKEN_REVOKE, "enroll-token", "revoke", 1, 1, "ID",
	 "revoke an enrolment token", NULL},
	{VIG_CTL_CMD_ACTION_RUN, "action", "run", 2, 2,
	 "AGENT TYPE [--param K=V]... [--params JSON] [--reason R] [--wait SECONDS]",
	 "queue a response action (kill, quarantine, isolate, collect, query, ...)",
	 (const struct vig_ctl_opt_spec[]){{"param", VIG_CTL_OPT_STR, "one parameter, repeatable"},
					   {"params", VIG_CTL_OPT_STR, "all parameters as a JSON object"},
					   {"reason", VIG_CTL_OPT_STR, "why (audited)"},
					   {"wait", VIG_CTL_OPT_UINT, "wait up to SECONDS for the result"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ACTION_LIST, "action", "list", 0, 0, "[--agent ID] [--status S] [--limit N]",
	 "list response actions, newest first",
	 (const struct vig_ctl_opt_spec[]){{"agent", VIG_CTL_OPT_STR, "only this agent's"},
					   {"status", VIG_CTL_OPT_STR, "queued, delivered, succeeded, ..."},
					   {"limit", VIG_CTL_OPT_UINT, "most rows"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ACTION_SHOW, "action", "show", 1, 1, "ID", "one action with its result", NULL},
	{VIG_CTL_CMD_ACTION_CANCEL, "action", "cancel", 1, 1, "ID", "cancel a queued action", NULL},
	{VIG_CTL_CMD_ACTION_FETCH, "action", "fetch", 2, 2, "ID FILE",
	 "download a collect action's file (sha256 checked)", NULL},
	/* @syslog */
	{VIG_CTL_CMD_REPLAY, "replay", NULL, 1, 1,
	 "FILE|- --format F [--source S] [--batch-lines N]",
	 "send a raw log file, parsed by the server with each line's own timestamp (idempotent batches)",
	 (const struct vig_ctl_opt_spec[]){
		 {"format", VIG_CTL_OPT_STR,
		  "auto, syslog, sshd, audit, iptables, cef, leef, suricata, zeek, apache, json or kv"},
		 {"source", VIG_CTL_OPT_STR, "source name the lines are counted under"},
		 {"batch-lines", VIG_CTL_OPT_UINT, "lines per request (default 5000)"},
		 {NULL, 0, NULL}}},
	{VIG_CTL_CMD_SOURCES_LIST, "sources", "list", 0, 0, "",
	 "log sources with their counters and health", NULL},
	{VIG_CTL_CMD_REDUCTION_STATS, "reduction", "stats", 0, 0, "",
	 "what the reduction stage dropped and merged", NULL},
	/* @intel */
	{VIG_CTL_CMD_INTEL_FEEDS, "intel", "feeds", 0, 0, "", "threat-intelligence feeds and their last refresh", NULL},
	{VIG_CTL_CMD_INTEL_ADD, "intel", "add", 2, 2,
	 "NAME URL|PATH --kind K [--format F] [--tenant T] [--refresh DUR] [--insecure]",
	 "add a feed (kind csv, txt, misp, stix or taxii)",
	 (const struct vig_ctl_opt_spec[]){{"kind", VIG_CTL_OPT_STR, "csv, txt, misp, stix or taxii"},
					   {"format", VIG_CTL_OPT_STR, "csv: auto, feodo, urlhaus, threatfox or csv"},
					   {"tenant", VIG_CTL_OPT_STR, "tenant it applies to (default: every tenant)"},
					   {"refresh", VIG_CTL_OPT_DUR, "refresh interval (default 1h)"},
					   {"insecure", VIG_CTL_OPT_FLAG, "do not verify the feed server's certificate"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_INTEL_REFRESH, "intel", "refresh", 1, 1, "ID", "refresh a feed now", NULL},
	{VIG_CTL_CMD_INTEL_LOOKUP, "intel", "lookup", 1, 1, "VALUE [--tenant T]",
	 "is an IP, domain, URL or hash a known indicator?",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "as seen by this tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ATTACK_COVERAGE, "attack", "coverage", 0, 0, "[--tenant T] > layer.json",
	 "ATT&CK Navigator layer of the enabled rules' technique tags",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "rules applying to this tenant"},
					   {NULL, 0, NULL}}},
	/* @detectx */
	{VIG_CTL_CMD_RULES_VALIDATE, "rules", "validate", 1, 1, "FILE",
	 "check a Sigma rule file without storing it (exit 1 when invalid)", NULL},
	{VIG_CTL_CMD_RULES_TEST, "rules", "test", 2, 2, "FILE EVENTS.ndjson",
	 "run the rules of FILE over sample events: which rules match each", NULL},
	{VIG_CTL_CMD_RULES_IMPORT, "rules", "import", 1, 1, "DIR [--tenant T]",
	 "add every *.yml / *.yaml rule of DIR, one line per file (exit 1 if any refused)",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant of the rules"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_RULES_ENABLE, "rules", "enable", 1, 1, "ID [--tenant T]", "enable a rule",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant of the rule"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_RULES_DISABLE, "rules", "disable", 1, 1, "ID [--tenant T]", "disable a rule",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant of the rule"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_HUNT_RUN, "hunt", "run", 1, 1,
	 "FILE [--from T] [--to T] [--tenant T] [--alerts] [--wait]",
	 "retro-hunt a Sigma rule over stored events (default: the last 7 days)",
	 (const struct vig_ctl_opt_spec[]){
		 {"from", VIG_CTL_OPT_TIME, "start: RFC 3339, epoch seconds, -7d (default to - 7d)"},
		 {"to", VIG_CTL_OPT_TIME, "end (default now)"},
		 {"tenant", VIG_CTL_OPT_STR, "tenant whose events are hunted (default: the caller's)"},
		 {"alerts", VIG_CTL_OPT_FLAG, "also create alerts for the hits"},
		 {"wait", VIG_CTL_OPT_FLAG, "wait for the end and print the result"},
		 {NULL, 0, NULL}}},
	{VIG_CTL_CMD_HUNT_SHOW, "hunt", "show", 1, 1, "ID", "a hunt's progress and hits", NULL},
	{VIG_CTL_CMD_HUNT_CANCEL, "hunt", "cancel", 1, 1, "ID", "stop a hunt", NULL},
	{VIG_CTL_CMD_HUNT_LIST, "hunt", "list", 0, 0, "", "recent hunts", NULL},
	{VIG_CTL_CMD_ASSETS_LIST, "assets", "list", 0, 0, "[--tenant T]",
	 "the asset inventory (criticality raises alert severity)",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant"}, {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ASSETS_ADD, "assets", "add", 1, 1,
	 "HOSTNAME|IP [--criticality C] [--owner O] [--tenant T]", "add an asset",
	 (const struct vig_ctl_opt_spec[]){
		 {"criticality", VIG_CTL_OPT_STR, "low, medium (default), high or critical"},
		 {"owner", VIG_CTL_OPT_STR, "who owns it"},
		 {"tenant", VIG_CTL_OPT_STR, "tenant"},
		 {NULL, 0, NULL}}},
	{VIG_CTL_CMD_ASSETS_DELETE, "assets", "delete", 1, 1, "ID", "delete an asset", NULL},
	{VIG_CTL_CMD_EXCEPTIONS_LIST, "exceptions", "list", 1, 1, "RULE_ID [--tenant T]",
	 "a rule's exceptions with their hit counts",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "tenant"}, {NULL, 0, NULL}}},
	{VIG_CTL_CMD_EXCEPTIONS_ADD, "exceptions", "add", 2, VIG_CTL_MAX_POS,
	 "RULE_ID FIELD=PATTERN... [--reason R] [--tenant T]",
	 "matches of the rule on such events raise no alert",
	 (const struct vig_ctl_opt_spec[]){{"reason", VIG_CTL_OPT_STR, "why"},
					   {"tenant", VIG_CTL_OPT_STR, "tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_EXCEPTIONS_DELETE, "exceptions", "delete", 1, 1, "ID", "remove an exception",
	 NULL},
	{VIG_CTL_CMD_SUPPRESSIONS_LIST, "suppressions", "list", 0, 0, "[--all] [--tenant T]",
	 "active suppression windows (--all: also expired)",
	 (const struct vig_ctl_opt_spec[]){{"all", VIG_CTL_OPT_FLAG, "also expired ones"},
					   {"tenant", VIG_CTL_OPT_STR, "tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_SUPPRESSIONS_ADD, "suppressions", "add", 1, VIG_CTL_MAX_POS,
	 "FIELD=PATTERN... --for DUR|--until T [--rule ID] [--reason R] [--tenant T]",
	 "no alerts for matching events until a time",
	 (const struct vig_ctl_opt_spec[]){{"for", VIG_CTL_OPT_DUR, "how long, e.g. 2h"},
					   {"until", VIG_CTL_OPT_TIME, "until when (RFC 3339)"},
					   {"rule", VIG_CTL_OPT_STR, "only this rule (default: every rule)"},
					   {"reason", VIG_CTL_OPT_STR, "why"},
					   {"tenant", VIG_CTL_OPT_STR, "tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_SUPPRESSIONS_DELETE, "suppressions", "delete", 1, 1, "ID", "end a suppression",
	 NULL},
	/* @evidence */
	{VIG_CTL_CMD_EVIDENCE_LIST, "evidence", "list", 1, 1, "INCIDENT",
	 "an incident's evidence: name, kind, size, sha256", NULL},
	{VIG_CTL_CMD_EVIDENCE_ADD, "evidence", "add", 2, 2, "INCIDENT FILE [--name N] [--description D]",
	 "attach a file to an incident as evidence (stored with its sha256)",
	 (const struct vig_ctl_opt_spec[]){{"name", VIG_CTL_OPT_STR, "name (default: the file's)"},
					   {"description", VIG_CTL_OPT_STR, "what it is"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_EVIDENCE_GET, "evidence", "get", 1, 2, "ID [FILE]",
	 "show an item and its custody log, or download it to FILE (sha256 checked)", NULL},
	{VIG_CTL_CMD_EVIDENCE_VERIFY, "evidence", "verify", 1, 1, "ID",
	 "re-hash an item and check its custody chain (exit 1 unless intact)", NULL},
	/* @response */
	{VIG_CTL_CMD_APPROVALS_LIST, "approvals", "list", 0, 0, "[--status S] [--tenant T]",
	 "response requests waiting for approval (--status: pending (default), queued, rejected, ...)",
	 (const struct vig_ctl_opt_spec[]){{"status", VIG_CTL_OPT_STR, "pending, queued, rejected, expired, ..."},
					   {"tenant", VIG_CTL_OPT_STR, "only this tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_APPROVALS_APPROVE, "approvals", "approve", 1, 1, "ID [--reason R]",
	 "approve a response request (its action is queued)",
	 (const struct vig_ctl_opt_spec[]){{"reason", VIG_CTL_OPT_STR, "why (audited)"}, {NULL, 0, NULL}}},
	{VIG_CTL_CMD_APPROVALS_REJECT, "approvals", "reject", 1, 1, "ID [--reason R]",
	 "reject a response request (never executed)",
	 (const struct vig_ctl_opt_spec[]){{"reason", VIG_CTL_OPT_STR, "why (audited)"}, {NULL, 0, NULL}}},
	{VIG_CTL_CMD_RESPOND, "respond", NULL, 3, 3,
	 "INCIDENT AGENT TYPE [--param K=V]... [--params JSON] [--reason R]",
	 "request a response action from an incident (queued at once or after approval)",
	 (const struct vig_ctl_opt_spec[]){{"param", VIG_CTL_OPT_STR, "one parameter, repeatable"},
					   {"params", VIG_CTL_OPT_STR, "all parameters as a JSON object"},
					   {"reason", VIG_CTL_OPT_STR, "why (audited)"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_PLAYBOOKS_LIST, "playbooks", "list", 0, 0, "", "playbooks (the provider's apply to every tenant)",
	 NULL},
	{VIG_CTL_CMD_PLAYBOOKS_ADD, "playbooks", "add", 1, 1, "FILE.json", "add a playbook from a JSON file",
	 NULL},
	{VIG_CTL_CMD_PLAYBOOKS_DELETE, "playbooks", "delete", 1, 1, "ID", "delete a playbook", NULL},
	{VIG_CTL_CMD_TENANT_SETTINGS, "tenants", "settings", 1, 1, "ID [--set K=V]...",
	 "a tenant's settings, SLA targets and mode; --set changes one (repeatable)",
	 (const struct vig_ctl_opt_spec[]){{"set", VIG_CTL_OPT_STR, "KEY=VALUE, e.g. approval_timeout_s=1800"},
					   {NULL, 0, NULL}}},
	/* @sharing */
	/* @reports */
	{VIG_CTL_CMD_REPORTS_LIST, "reports", "list", 0, 0, "[--tenant T]", "report definitions",
	 (const struct vig_ctl_opt_spec[]){{"tenant", VIG_CTL_OPT_STR, "only this tenant"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_REPORTS_ADD, "reports", "add", 1, 1,
	 "NAME --kind K --format F [--period P] [--schedule S] [--recipient E]... [--tenant T]",
	 "define a report (kind soc_summary|incidents|alerts|sla, format html|csv|json)",
	 (const struct vig_ctl_opt_spec[]){{"kind", VIG_CTL_OPT_STR, "soc_summary, incidents, alerts or sla"},
					   {"format", VIG_CTL_OPT_STR, "html, csv or json"},
					   {"period", VIG_CTL_OPT_STR, "last_24h, last_7d (default), last_30d, previous_month"},
					   {"schedule", VIG_CTL_OPT_STR, "'daily HH:MM', 'weekly DAY HH:MM', 'monthly DD HH:MM' (UTC)"},
					   {"recipient", VIG_CTL_OPT_STR, "e-mail address (repeatable)"},
					   {"tenant", VIG_CTL_OPT_STR, "tenant of the report"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_REPORTS_RUNS, "reports", "runs", 0, 0, "[--report ID] [--limit N]", "report runs, newest first",
	 (const struct vig_ctl_opt_spec[]){{"report", VIG_CTL_OPT_UINT, "only runs of this report"},
					   {"limit", VIG_CTL_OPT_UINT, "at most N runs (default 100)"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_REPORTS_RUN, "reports", "run", 1, 1, "ID [--from T --to T] [--wait]",
	 "run a report now (default: its period before now)",
	 (const struct vig_ctl_opt_spec[]){{"from", VIG_CTL_OPT_TIME, "start of the range"},
					   {"to", VIG_CTL_OPT_TIME, "end of the range"},
					   {"wait", VIG_CTL_OPT_FLAG, "wait until the run is done (exit 1 if it failed)"},
					   {NULL, 0, NULL}}},
	{VIG_CTL_CMD_REPORTS_GET, "reports", "get", 1, 1, "RUN -o FILE",
	 "download a finished run's file (its sha256 checked)",
	 (const struct vig_ctl_opt_spec[]){{"o", VIG_CTL_OPT_STR, "file to write"}, {NULL, 0, NULL}}},
};

static const struct vig_ctl_opt_spec global_opts[] = {
	{"url", VIG_CTL_OPT_STR, "server URL (env VIGIL_URL, default " VIG_CTL_DEFAULT_URL ")"},
	{"token", VIG_CTL_OPT_STR, "API token (env VIGIL_TOKEN, else the stored login)"},
	{"cacert", VIG_CTL_OPT_STR, "trust this CA/certificate file (env VIGIL_CACERT)"},
	{"insecure", VIG_CTL_OPT_FLAG, "do not verify the server certificate (env VIGIL_INSECURE=1)"},
	{"json", VIG_CTL_OPT_FLAG, "print raw JSON (NDJSON for search)"},
	{"timeout", VIG_CTL_OPT_DUR, "per-request timeout (default 30s)"},
	{"help", VIG_CTL_OPT_FLAG, "show help"},
	{NULL, 0, NULL},
};

const struct vig_ctl_cmd_spec *vig_ctl_commands(size_t *n)
{
	*n = VIG_ARRAY_LEN(commands);
	return commands;
}

static bool is_group(const char *name)
{
	for (size_t i = 0; i < VIG_ARRAY_LEN(commands); i++)
		if (commands[i].sub && strcmp(commands[i].name, name) == 0)
			return true;
	return false;
}

static const struct vig_ctl_cmd_spec *find_cmd(const char *name, const char *sub)
{
	for (size_t i = 0; i < VIG_ARRAY_LEN(commands); i++) {
		const struct vig_ctl_cmd_spec *c = &commands[i];
		if (strcmp(c->name, name) != 0)
			continue;
		if (!c->sub || (sub && strcmp(c->sub, sub) == 0))
			return c;
	}
	return NULL;
}

static const struct vig_ctl_opt_spec *find_opt(const struct vig_ctl_opt_spec *list,
					       const char *name, size_t n)
{
	for (; list && list->name; list++)
		if (strlen(list->name) == n && memcmp(list->name, name, n) == 0)
			return list;
	return NULL;
}

/* Checks that value fits the option's type. */
static enum vig_err check_value(const struct vig_ctl_opt_spec *o, const char *value,
				char *errbuf)
{
	uint64_t u;
	int64_t ns;
	char sub[VIG_ERRBUF_SIZE];

	switch (o->type) {
	case VIG_CTL_OPT_FLAG:
		return VIG_OK;
	case VIG_CTL_OPT_STR:
		if (!*value)
			return vig_errf(errbuf, VIG_EINVAL, "option --%s needs a non-empty value",
					o->name);
		return VIG_OK;
	case VIG_CTL_OPT_UINT:
		if (!vig_parse_u64(value, strlen(value), &u) || u == 0 || u > 1000000000)
			return vig_errf(errbuf, VIG_EINVAL,
					"option --%s needs a positive integer, not '%s'", o->name,
					value);
		return VIG_OK;
	case VIG_CTL_OPT_DUR:
		if (vig_ctl_parse_duration(value, &ns, sub) != VIG_OK)
			return vig_errf(errbuf, VIG_EINVAL, "option --%s: %s", o->name, sub);
		return VIG_OK;
	case VIG_CTL_OPT_TIME:
		if (vig_ctl_parse_time(value, vig_time_now(), &ns, sub) != VIG_OK)
			return vig_errf(errbuf, VIG_EINVAL, "option --%s: %s", o->name, sub);
		return VIG_OK;
	}
	return vig_errf(errbuf, VIG_EINTERNAL, "bad option type");
}

static enum vig_err set_global(struct vig_ctl_args *a, const struct vig_ctl_opt_spec *o,
			       const char *value, char *errbuf)
{
	int64_t ns;

	if (strcmp(o->name, "url") == 0)
		a->url = value;
	else if (strcmp(o->name, "token") == 0)
		a->token = value;
	else if (strcmp(o->name, "cacert") == 0)
		a->cacert = value;
	else if (strcmp(o->name, "insecure") == 0)
		a->insecure = true;
	else if (strcmp(o->name, "json") == 0)
		a->json = true;
	else if (strcmp(o->name, "help") == 0)
		a->help = true;
	else if (strcmp(o->name, "timeout") == 0) {
		if (vig_ctl_parse_duration(value, &ns, errbuf) != VIG_OK)
			return VIG_EINVAL;
		a->timeout_s = (ns + VIG_NS_PER_SEC - 1) / VIG_NS_PER_SEC;
	}
	return VIG_OK;
}

/* Handles argv[*i], an option; consumes its value when it takes one. */
static enum vig_err parse_option(struct vig_ctl_args *a, int argc, char **argv, int *i,
				 const struct vig_ctl_cmd_spec *cmd, char *errbuf)
{
	const char *arg = argv[*i];
	const char *name = arg + 2;
	const char *eq;
	const char *value = NULL;
	const struct vig_ctl_opt_spec *o = NULL;
	bool global = false;
	size_t n;

	if (strcmp(arg, "-h") == 0) {
		a->help = true;
		return VIG_OK;
	}
	if (arg[1] != '-' && !(arg[2] == '\0' && cmd && find_opt(cmd->opts, arg + 1, 1)))
		return vig_errf(errbuf, VIG_EINVAL, "unknown option '%s'", arg);
	if (arg[1] != '-')
		name = arg + 1; /* a one-letter command option: -o FILE */
	eq = strchr(name, '=');
	n = eq ? (size_t)(eq - name) : strlen(name);
	if (cmd)
		o = find_opt(cmd->opts, name, n);
	if (!o) {
		o = find_opt(global_opts, name, n);
		global = o != NULL;
	}
	if (!o) {
		if (!cmd && !a->help)
			return vig_errf(errbuf, VIG_EINVAL,
					"unknown option '%s' (command options go after the command)",
					arg);
		return vig_errf(errbuf, VIG_EINVAL, "unknown option '%s'", arg);
	}
	if (o->type == VIG_CTL_OPT_FLAG) {
		if (eq)
			return vig_errf(errbuf, VIG_EINVAL, "option --%s takes no value", o->name);
		value = "1";
	} else if (eq) {
		value = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return vig_errf(errbuf, VIG_EINVAL, "option --%s needs a value", o->name);
		value = argv[++*i];
	}
	if (check_value(o, value, errbuf) != VIG_OK)
		return VIG_EINVAL;
	if (global)
		return set_global(a, o, value, errbuf);
	if (a->nopts >= VIG_CTL_MAX_OPTS)
		return vig_errf(errbuf, VIG_EINVAL, "too many options");
	a->opts[a->nopts].spec = o;
	a->opts[a->nopts].value = value;
	a->nopts++;
	return VIG_OK;
}

/* Takes one positional word: a command word while the command is not yet known. */
static enum vig_err take_word(struct vig_ctl_args *a, const char *word, char *errbuf)
{
	if (a->cmd) {
		if (a->npos >= VIG_CTL_MAX_POS)
			return vig_errf(errbuf, VIG_EINVAL, "too many arguments");
		a->pos[a->npos++] = word;
		return VIG_OK;
	}
	if (a->group) {
		a->cmd = find_cmd(a->group, word);
		if (!a->cmd)
			return vig_errf(errbuf, VIG_EINVAL, "unknown command '%s %s'", a->group,
					word);
		a->group = NULL;
		return VIG_OK;
	}
	if (is_group(word)) {
		a->group = word;
		return VIG_OK;
	}
	a->cmd = find_cmd(word, NULL);
	if (!a->cmd)
		return vig_errf(errbuf, VIG_EINVAL, "unknown command '%s' (see 'vigilctl help')",
				word);
	return VIG_OK;
}

enum vig_err vig_ctl_args_parse(int argc, char **argv, struct vig_ctl_args *out, char *errbuf)
{
	bool opts_done = false;

	memset(out, 0, sizeof(*out));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		enum vig_err err;

		if (!opts_done && strcmp(arg, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (!opts_done && arg[0] == '-' && arg[1] != '\0')
			err = parse_option(out, argc, argv, &i, out->cmd, errbuf);
		else
			err = take_word(out, arg, errbuf);
		if (err != VIG_OK)
			return err;
	}
	if (out->help)
		return VIG_OK;
	if (out->group)
		return vig_errf(errbuf, VIG_EINVAL, "'%s' needs a subcommand (see 'vigilctl help %s')",
				out->group, out->group);
	if (!out->cmd)
		return vig_errf(errbuf, VIG_EINVAL, "no command given (see 'vigilctl help')");
	if (out->npos < out->cmd->min_pos || out->npos > out->cmd->max_pos)
		return vig_errf(errbuf, VIG_EINVAL, "usage: vigilctl %s%s%s %s", out->cmd->name,
				out->cmd->sub ? " " : "", out->cmd->sub ? out->cmd->sub : "",
				out->cmd->args_usage);
	return VIG_OK;
}

const char *vig_ctl_args_get(const struct vig_ctl_args *a, const char *name)
{
	const char *v = NULL;

	for (unsigned i = 0; i < a->nopts; i++)
		if (strcmp(a->opts[i].spec->name, name) == 0)
			v = a->opts[i].value;
	return v;
}

static void usage_opts(struct vig_buf *out, const struct vig_ctl_opt_spec *o)
{
	for (; o && o->name; o++)
		vig_buf_printf(out, "  --%-16s %s\n", o->name, o->help);
}

static void usage_line(struct vig_buf *out, const struct vig_ctl_cmd_spec *c)
{
	char words[48];

	snprintf(words, sizeof(words), "%s%s%s", c->name, c->sub ? " " : "", c->sub ? c->sub : "");
	vig_buf_printf(out, "  %-18s %s\n", words, c->summary);
}

enum vig_err vig_ctl_usage(struct vig_buf *out, const char *cmd, const char *sub)
{
	const struct vig_ctl_cmd_spec *c;

	if (!cmd) {
		vig_buf_adds(out, "usage: vigilctl [GLOBAL OPTIONS] COMMAND [ARGS]\n\ncommands:\n");
		for (size_t i = 0; i < VIG_ARRAY_LEN(commands); i++)
			usage_line(out, &commands[i]);
		vig_buf_adds(out, "\nglobal options:\n");
		usage_opts(out, global_opts);
		vig_buf_adds(out, "\nexit status: 0 ok, 1 API or connection error, 2 usage error\n"
				  "'vigilctl help COMMAND' or 'vigilctl COMMAND --help' for details\n");
		return vig_buf_err(out);
	}
	if (is_group(cmd) && !sub) {
		vig_buf_printf(out, "usage: vigilctl %s SUBCOMMAND\n\nsubcommands:\n", cmd);
		for (size_t i = 0; i < VIG_ARRAY_LEN(commands); i++)
			if (strcmp(commands[i].name, cmd) == 0)
				usage_line(out, &commands[i]);
		return vig_buf_err(out);
	}
	c = find_cmd(cmd, sub);
	if (!c)
		return VIG_ENOTFOUND;
	vig_buf_printf(out, "usage: vigilctl %s%s%s %s\n\n%s\n", c->name, c->sub ? " " : "",
		       c->sub ? c->sub : "", c->args_usage, c->summary);
	if (c->opts) {
		vig_buf_adds(out, "\noptions:\n");
		usage_opts(out, c->opts);
	}
	return vig_buf_err(out);
}
