/*
 * config.c - the option table of vigild and everything generated from it: defaults, the YAML
 * reader (libyaml event API), `--print-config` and the markdown reference.
 *
 * The table is the single source of truth: adding an option is one line here plus a field in
 * struct vig_config; the parser, the printed YAML and docs/configuration.md (checked by
 * test_config against the table) follow. The YAML reader walks nested mappings keeping the
 * dotted path of the current mapping; any scalar value is looked up by its full dotted name.
 */
#include "config.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define GIB (1024LL * 1024 * 1024)
#define CFG_MAX_DEPTH 8
#define CFG_NAME_MAX 128

#define OPT(n, t, d, field, lo, hi, text)                                                          \
	{ n, t, d, text, offsetof(struct vig_config, field),                                       \
	  sizeof(((struct vig_config *)0)->field), lo, hi }

/* Ordered by section: options of one section must be contiguous for the YAML printer. */
static const struct vig_cfg_opt options[] = {
	OPT("listen", VIG_CFG_STR, "127.0.0.1:8443", listen, 0, 0,
	    "Address and port of the HTTPS API, HOST:PORT or [IPv6]:PORT (--listen overrides)."),
	OPT("data_dir", VIG_CFG_STR, "./data", data_dir, 0, 0,
	    "Directory holding the event store, the control database, TLS files and the setup token (--data overrides)."),
	OPT("tls.cert", VIG_CFG_STR, "", tls_cert, 0, 0,
	    "PEM certificate of the API; empty means DATA/tls/server.crt, generated (self-signed ECDSA P-256) at first start."),
	OPT("tls.key", VIG_CFG_STR, "", tls_key, 0, 0,
	    "PEM private key of the certificate; empty means DATA/tls/server.key (mode 0600)."),
	OPT("log.level", VIG_CFG_STR, "info", log_level, 0, 0,
	    "Lowest level of log records written: debug, info, warn or error."),
	OPT("log.file", VIG_CFG_STR, "", log_file, 0, 0,
	    "File that log records (logfmt) are appended to; empty means standard error."),
	OPT("limits.max_body_bytes", VIG_CFG_SIZE, "16MiB", max_body_bytes, 1 * KIB, 1 * GIB,
	    "Largest request body accepted; larger requests get 413."),
	OPT("limits.max_event_bytes", VIG_CFG_SIZE, "1MiB", max_event_bytes, 256, 64 * MIB,
	    "Largest single event (one NDJSON line) accepted; larger lines are rejected with their line number."),
	OPT("limits.max_connections", VIG_CFG_INT, "1024", max_connections, 1, 1000000,
	    "Most concurrent client connections; further connections wait in the kernel's accept queue."),
	OPT("limits.request_timeout_s", VIG_CFG_INT, "60", request_timeout_s, 1, 86400,
	    "Seconds a connection may stay idle while reading a request or writing a reply."),
	OPT("ingest.queue_batches", VIG_CFG_INT, "64", queue_batches, 1, 100000,
	    "Capacity of the bounded ingest queue, in request batches; when full, POST /api/v1/events gets 429 with Retry-After."),
	OPT("ingest.batch_max_events", VIG_CFG_INT, "20000", batch_max_events, 1, 100000,
	    "Most events (non-empty lines) in one ingest request; a larger request is refused with 413 and should be split."),
	OPT("retention.default_days", VIG_CFG_INT, "90", retention_default_days, 1, 36500,
	    "Days of events kept for a tenant created without its own retention_days (each tenant's own setting then governs)."),
	OPT("retention.interval_s", VIG_CFG_INT, "3600", retention_interval_s, 1, 7 * 86400,
	    "Seconds between runs of the retention job, which drops whole days older than the longest tenant retention and deletes older rows of tenants with shorter retention."),
	OPT("auth.setup_token", VIG_CFG_STR, "", setup_token, 0, 0,
	    "Token required by POST /api/v1/setup; empty means a random one, printed once at first start and written to DATA/setup-token (mode 0600)."),
	OPT("auth.session_ttl_s", VIG_CFG_INT, "43200", session_ttl_s, 60, 31 * 86400,
	    "Lifetime of a console session in seconds, renewed on use."),
	OPT("console.dir", VIG_CFG_STR, "", console_dir, 0, 0,
	    "Directory of the built web console (console/dist), served at every path outside /api/ and /metrics; empty means no console."),
	OPT("metrics.enabled", VIG_CFG_BOOL, "true", metrics_enabled, 0, 1,
	    "Serve Prometheus metrics at GET /metrics (no authentication: bind to loopback or firewall it)."),
	OPT("sse.heartbeat_s", VIG_CFG_INT, "15", sse_heartbeat_s, 1, 3600,
	    "Seconds between heartbeat comments on GET /api/v1/stream."),
	OPT("sse.max_subscribers", VIG_CFG_INT, "256", sse_max_subscribers, 1, 100000,
	    "Most concurrent GET /api/v1/stream clients; further ones get 503."),
	OPT("sse.buffer_bytes", VIG_CFG_SIZE, "1MiB", sse_buffer_bytes, 4 * KIB, 256 * MIB,
	    "Unsent bytes allowed per stream subscriber; a slower subscriber is disconnected and counted."),
	/* detection and alerts (src/alert, api_alerts.c) */
	OPT("detect.rules_dir", VIG_CFG_STR, "", rules_dir, 0, 0,
	    "Directory of Sigma rules (`*.yml` and `*.yaml` files, read recursively at start and on every rule change, skipping folders named `tests`) applied to every tenant in addition to the rules managed through the API; empty means none."),
	OPT("alerts.dedupe_window_s", VIG_CFG_INT, "3600", dedupe_window_s, 1, 30 * 86400,
	    "Seconds from an alert's first match during which further matches of the same rule, tenant and entity (host.name, else user.name, else source.ip) raise its count instead of opening a new alert."),
	OPT("incidents.group_by", VIG_CFG_STR, "host", incident_group_by, 0, 0,
	    "Comma-separated keys (host, user, rule, source.ip) by which new alerts are grouped into incidents automatically: an alert joins the active incident of its tenant with the same key values updated within incidents.group_window_s, else opens a new one; empty turns automatic grouping off."),
	OPT("incidents.group_window_s", VIG_CFG_INT, "86400", incident_group_window_s, 60, 90 * 86400,
	    "Seconds since an incident's last update during which it still takes new alerts with its group key."),
	OPT("incidents.min_severity", VIG_CFG_STR, "high", incident_min_severity, 0, 0,
	    "Lowest alert severity (informational, low, medium, high, critical) grouped into incidents automatically; lower alerts stay in the alert queue until an analyst attaches them."),
	OPT("notify.smtp_url", VIG_CFG_STR, "", notify_smtp_url, 0, 0,
	    "SMTP server for e-mail notifications, smtp://host:port (smtps:// for implicit TLS); empty means e-mail routes fail and are retried until they are dead letters."),
	OPT("notify.smtp_from", VIG_CFG_STR, "vigil@localhost", notify_smtp_from, 0, 0,
	    "Sender address (envelope and From:) of notification e-mails."),
	OPT("notify.smtp_user", VIG_CFG_STR, "", notify_smtp_user, 0, 0,
	    "SMTP user name; empty means no authentication."),
	OPT("notify.smtp_password", VIG_CFG_STR, "", notify_smtp_password, 0, 0,
	    "SMTP password (keep the config file private)."),
	OPT("notify.smtp_tls", VIG_CFG_STR, "try", notify_smtp_tls, 0, 0,
	    "STARTTLS on SMTP: none, try (when the server offers it) or require."),
	OPT("notify.cacert", VIG_CFG_STR, "", notify_cacert, 0, 0,
	    "PEM file of the CAs trusted for https webhooks and SMTP TLS; empty means the system's."),
	OPT("notify.insecure", VIG_CFG_BOOL, "false", notify_insecure, 0, 1,
	    "Skip certificate verification of webhook and SMTP servers (test set-ups only)."),
	OPT("sla.check_interval_s", VIG_CFG_INT, "30", sla_check_interval_s, 1, 3600,
	    "Seconds between checks of the incidents' SLA clocks; a check records a warning at 75% of a target and a breach at 100% (once per incident and clock), and a breach raises the incident's priority one step."),
	/* @evidence */
	OPT("evidence.max_bytes", VIG_CFG_SIZE, "1GiB", evidence_max_bytes, 1 * KIB, 1024 * GIB,
	    "Largest evidence item (an upload, a collected file attached to an incident, or a search export); items are stored once per content under DATA/evidence/<tenant>/<sha256>."),
	OPT("evidence.max_upload_bytes", VIG_CFG_SIZE, "16MiB", evidence_max_upload_bytes, 1 * KIB, 1 * GIB,
	    "Largest evidence upload in one request body (POST /api/v1/incidents/{id}/evidence); limits.max_body_bytes and evidence.max_bytes also bound it."),
	/* @response */
	OPT("response.check_interval_s", VIG_CFG_INT, "30", response_check_interval_s, 1, 3600,
	    "Seconds between checks of the response requests waiting for approval: a request pending past its tenant's escalation time is escalated (notify event approval.escalated), one pending past the approval timeout expires unexecuted (approval.expired)."),
	/* @sharing */
	OPT("sharing.reconcile_interval_s", VIG_CFG_INT, "60", sharing_reconcile_interval_s, 1, 86400,
	    "Seconds between reconciliations of the blocklist with the gateway agents: entries that expired are unblocked, and block or unblock actions that expired before an offline gateway took them are queued again (changes made through the API are pushed at once)."),
	/* @reports */
	OPT("reports.keep_days", VIG_CFG_INT, "90", reports_keep_days, 1, 36500,
	    "Days a finished report run and its file (DATA/reports/<tenant>/<run id>.<format>) are kept; older runs are deleted with their files."),
	OPT("reports.check_interval_s", VIG_CFG_INT, "30", reports_check_interval_s, 1, 3600,
	    "Seconds between checks for scheduled reports due to run (each schedule slot runs once; a run requested through the API starts at once)."),
	OPT("reports.max_queued", VIG_CFG_INT, "32", reports_max_queued, 1, 10000,
	    "Report runs that may wait in the queue; a further run on demand gets 429 and a due schedule waits for the next check."),
	OPT("reports.max_bytes", VIG_CFG_SIZE, "64MiB", reports_max_bytes, 64 * KIB, 1 * GIB,
	    "Largest report file; a run whose rendering would be larger fails with that error."),
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	OPT("agents.cert_days", VIG_CFG_INT, "365", agents_cert_days, 1, 3650,
	    "Validity in days of the client certificates that the agent CA (DATA/agent-ca) signs at enrolment."),
	OPT("agents.heartbeat_s", VIG_CFG_INT, "30", agents_heartbeat_s, 5, 3600,
	    "Seconds between agent heartbeats, told to agents in every heartbeat reply; an agent not heard from for three intervals is offline."),
	OPT("agents.action_timeout_s", VIG_CFG_INT, "3600", agents_action_timeout_s, 60, 30 * 86400,
	    "Seconds after which a response action still queued or delivered without a result becomes expired."),
	OPT("agents.max_polls", VIG_CFG_INT, "4096", agents_max_polls, 1, 1000000,
	    "Most agent action long-polls (GET /api/v1/agent/actions) held open at once; further polls get 503 with Retry-After."),
	OPT("agents.max_upload_bytes", VIG_CFG_SIZE, "256MiB", agents_max_upload_bytes, 1 * KIB, 64 * GIB,
	    "Largest file a collect action may upload; stored under DATA/collected/<tenant>/<action id>."),
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	OPT("syslog.udp", VIG_CFG_STR, "", syslog_udp, 0, 0,
	    "HOST:PORT of the syslog UDP receiver (RFC 3164 / RFC 5424, one message per datagram); empty means off."),
	OPT("syslog.tcp", VIG_CFG_STR, "", syslog_tcp, 0, 0,
	    "HOST:PORT of the syslog TCP receiver (LF framing or RFC 6587 octet counting, detected per connection); empty means off."),
	OPT("syslog.tls", VIG_CFG_STR, "", syslog_tls, 0, 0,
	    "HOST:PORT of the syslog TLS receiver (RFC 5425, the API's certificate); empty means off."),
	OPT("syslog.tenant", VIG_CFG_STR, "default", syslog_tenant, 0, 0,
	    "Tenant of events from syslog senders that no PATCH /api/v1/sources/{id} mapped to another tenant."),
	OPT("syslog.max_message_bytes", VIG_CFG_SIZE, "64KiB", syslog_max_message_bytes, 480, 256 * KIB,
	    "Longest syslog message accepted; longer ones are dropped and counted (source counter dropped, vigil_syslog_dropped_total{reason=\"oversize\"})."),
	OPT("syslog.max_connections", VIG_CFG_INT, "512", syslog_max_connections, 1, 100000,
	    "Most concurrent TCP and TLS syslog connections; further connections are closed and counted."),
	OPT("syslog.batch_records", VIG_CFG_INT, "5000", syslog_batch_records, 1, 100000,
	    "Records per ingest batch of a receiver (at most ingest.batch_max_events)."),
	OPT("syslog.flush_ms", VIG_CFG_INT, "200", syslog_flush_ms, 1, 60000,
	    "Milliseconds a received record waits at most before its batch is queued for the store."),
	OPT("sources.max", VIG_CFG_INT, "10000", sources_max, 1, 1000000,
	    "Sources kept in the registry; records of further sources are stored but not tracked (vigil_sources_overflow_total)."),
	OPT("sources.check_interval_s", VIG_CFG_INT, "60", sources_check_interval_s, 1, 86400,
	    "Seconds between health passes over the sources (rates, silence and error alerts, persistence)."),
	OPT("sources.silence_after_s", VIG_CFG_INT, "3600", sources_silence_after_s, 0, 30 * 86400,
	    "Silence threshold of a new source: seconds without an event before a health:source-silent alert; 0 means never (each source can override it)."),
	OPT("sources.error_rate_pct", VIG_CFG_INT, "50", sources_error_rate_pct, 1, 100,
	    "Share of a source's records in one interval that failed to parse (percent) that raises a health:source-errors alert."),
	OPT("sources.error_min_records", VIG_CFG_INT, "20", sources_error_min_records, 1, 1000000,
	    "Records a source must send in one interval before its parse-error share can raise an alert."),
	OPT("reduction.merge", VIG_CFG_BOOL, "false", reduction_merge, 0, 1,
	    "Merge identical normalised events of one ingest batch into one event with event.count, event.start and event.end; the raw originals are kept compressed as evidence (opt-in: stored event counts then differ from events sent)."),
	OPT("reduction.window_s", VIG_CFG_INT, "60", reduction_window_s, 1, 86400,
	    "Events are merged only when their timestamps are at most this many seconds apart."),
	OPT("reduction.max_policies", VIG_CFG_INT, "256", reduction_max_policies, 1, 10000,
	    "Most reduction policies (drop/keep filters) held; further ones are refused."),
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	OPT("intel.tick_s", VIG_CFG_INT, "30", intel_tick_s, 1, 3600,
	    "Seconds between checks for threat-intelligence feeds due to refresh (each feed has its own refresh_s); a refresh asked through the API starts at once."),
	OPT("intel.max_download_bytes", VIG_CFG_SIZE, "64MiB", intel_max_download_bytes, 1 * KIB, 1 * GIB,
	    "Largest threat-intelligence feed download, file or TAXII page; a larger one fails the refresh and the feed keeps its previous indicators."),
	OPT("intel.max_indicators", VIG_CFG_INT, "1000000", intel_max_indicators, 1, 5000000,
	    "Most indicators kept per feed; the rest are dropped and the refresh is reported as an error."),
	OPT("attack.bundle", VIG_CFG_STR, "", attack_bundle, 0, 0,
	    "MITRE ATT&CK enterprise STIX bundle (enterprise-attack.json) loaded at start for technique names, tactics and mitigations; empty means none (POST /api/v1/attack/import loads one at run time)."),
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	OPT("correlation.max_groups_per_rule", VIG_CFG_INT, "10000", corr_max_groups_per_rule, 1, 10000000,
	    "Groups (tenant and group-by values) a Sigma correlation rule keeps; at the limit the least recently updated group is evicted and counted (vigil_correlation_evicted_groups_total)."),
	OPT("correlation.max_events_per_group", VIG_CFG_INT, "1000", corr_max_events_per_group, 1, 1000000,
	    "Matches a correlation group remembers within its timespan; at the limit the oldest is evicted and counted (vigil_correlation_evicted_events_total)."),
	OPT("correlation.max_event_ids", VIG_CFG_INT, "32", corr_max_event_ids, 1, 1024,
	    "Ids of contributing events linked to a correlation alert (the most recent ones)."),
	OPT("correlation.snapshot_interval_s", VIG_CFG_INT, "60", corr_snapshot_interval_s, 1, 86400,
	    "Seconds between snapshots of the correlation state to DATA/correlation.state (also written at shutdown and read back at start)."),
};

const struct vig_cfg_opt *vig_config_options(size_t *n)
{
	*n = VIG_ARRAY_LEN(options);
	return options;
}

static const struct vig_cfg_opt *find_opt(const char *name)
{
	for (size_t i = 0; i < VIG_ARRAY_LEN(options); i++)
		if (strcmp(options[i].name, name) == 0)
			return &options[i];
	return NULL;
}

/* True when some option's name begins with prefix followed by '.'. */
static bool is_section(const char *prefix)
{
	size_t n = strlen(prefix);

	for (size_t i = 0; i < VIG_ARRAY_LEN(options); i++)
		if (strncmp(options[i].name, prefix, n) == 0 && options[i].name[n] == '.')
			return true;
	return false;
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < VIG_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool parse_size(const char *s, int64_t *out)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = {{"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}, {"K", KIB}, {"M", MIB}, {"G", GIB},
		     {"k", KIB}, {"B", 1}, {"", 1}};
	size_t digits = 0, n = strlen(s);
	int64_t v;

	while (digits < n && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (!vig_parse_i64(s, digits, &v))
		return false;
	for (size_t i = 0; i < VIG_ARRAY_LEN(units); i++) {
		if (strcmp(s + digits, units[i].suffix) != 0)
			continue;
		if (v > INT64_MAX / units[i].mult)
			return false;
		*out = v * units[i].mult;
		return true;
	}
	return false;
}

static enum vig_err set_opt(struct vig_config *cfg, const struct vig_cfg_opt *o, const char *value,
			    char *errbuf)
{
	char *field = (char *)cfg + o->offset;
	int64_t v = 0;
	bool b;

	switch (o->type) {
	case VIG_CFG_STR:
		if (strlen(value) >= o->size)
			return vig_errf(errbuf, VIG_EINVAL, "option %s: value longer than %zu bytes",
					o->name, o->size - 1);
		memcpy(field, value, strlen(value) + 1);
		return VIG_OK;
	case VIG_CFG_BOOL:
		if (!parse_bool(value, &b))
			return vig_errf(errbuf, VIG_EINVAL, "option %s: expected true or false, got \"%s\"",
					o->name, value);
		*(bool *)field = b;
		return VIG_OK;
	case VIG_CFG_INT:
		if (!vig_parse_i64(value, strlen(value), &v))
			return vig_errf(errbuf, VIG_EINVAL, "option %s: expected an integer, got \"%s\"",
					o->name, value);
		break;
	case VIG_CFG_SIZE:
		if (!parse_size(value, &v))
			return vig_errf(errbuf, VIG_EINVAL,
					"option %s: expected a size such as 512KiB or 16MiB, got \"%s\"",
					o->name, value);
		break;
	}
	if (v < o->min || v > o->max)
		return vig_errf(errbuf, VIG_EINVAL, "option %s: %lld is outside [%lld, %lld]", o->name,
				(long long)v, (long long)o->min, (long long)o->max);
	*(int64_t *)field = v;
	return VIG_OK;
}

void vig_config_defaults(struct vig_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < VIG_ARRAY_LEN(options); i++) {
		enum vig_err err = set_opt(cfg, &options[i], options[i].def, NULL);
		(void)err; /* the defaults are tested to parse */
	}
}

enum vig_err vig_config_set(struct vig_config *cfg, const char *name, const char *value, char *errbuf)
{
	const struct vig_cfg_opt *o = find_opt(name);

	if (!o)
		return vig_errf(errbuf, VIG_ENOTFOUND, "unknown option \"%s\"", name);
	return set_opt(cfg, o, value, errbuf);
}

/* One open mapping of the YAML walk. */
struct cfg_frame {
	char prefix[CFG_NAME_MAX]; /* dotted path of this mapping, "" or "limits." */
	char key[CFG_NAME_MAX];    /* key waiting for its value */
	size_t key_line;           /* 1-based line of that key */
	bool have_key;             /* a key was read, its value is next */
};

/* Joins frame prefix and key into name; false when too long. */
static bool join_name(const struct cfg_frame *f, char *name, size_t cap)
{
	int n = snprintf(name, cap, "%s%s", f->prefix, f->key);

	return n > 0 && (size_t)n < cap;
}

static enum vig_err on_scalar(struct vig_config *cfg, struct cfg_frame *f, const yaml_event_t *e,
			      char *errbuf)
{
	const char *val = (const char *)e->data.scalar.value;
	size_t line = e->start_mark.line + 1;
	char name[CFG_NAME_MAX], sub[VIG_ERRBUF_SIZE];
	const struct vig_cfg_opt *o;
	bool is_null;

	if (!f->have_key) {
		if (e->data.scalar.length >= CFG_NAME_MAX)
			return vig_errf(errbuf, VIG_EINVAL, "config line %zu: key too long", line);
		memcpy(f->key, val, e->data.scalar.length + 1);
		f->key_line = line;
		f->have_key = true;
		return VIG_OK;
	}
	f->have_key = false;
	if (!join_name(f, name, sizeof(name)))
		return vig_errf(errbuf, VIG_EINVAL, "config line %zu: key too long", f->key_line);
	o = find_opt(name);
	if (!o)
		return vig_errf(errbuf, VIG_ENOTFOUND, "config line %zu: unknown option \"%s\"",
				f->key_line, name);
	is_null = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		  (e->data.scalar.length == 0 || strcmp(val, "~") == 0 || strcmp(val, "null") == 0);
	if (is_null)
		val = o->def;
	if (set_opt(cfg, o, val, sub) != VIG_OK)
		return vig_errf(errbuf, VIG_EINVAL, "config line %zu: %s", line, sub);
	return VIG_OK;
}

static enum vig_err on_mapping_start(struct cfg_frame *stack, size_t *depth, const yaml_event_t *e,
				     char *errbuf)
{
	size_t line = e->start_mark.line + 1;
	struct cfg_frame *parent, *f;
	char name[CFG_NAME_MAX];

	if (*depth >= CFG_MAX_DEPTH)
		return vig_errf(errbuf, VIG_EINVAL, "config line %zu: nesting too deep", line);
	f = &stack[*depth];
	memset(f, 0, sizeof(*f));
	if (*depth == 0) {
		(*depth)++;
		return VIG_OK;
	}
	parent = &stack[*depth - 1];
	if (!parent->have_key)
		return vig_errf(errbuf, VIG_EINVAL, "config line %zu: a mapping cannot be a key", line);
	parent->have_key = false;
	if (!join_name(parent, name, sizeof(name)) || !is_section(name))
		return vig_errf(errbuf, VIG_ENOTFOUND, "config line %zu: unknown option \"%s\"",
				parent->key_line, name);
	if (snprintf(f->prefix, sizeof(f->prefix), "%s.", name) >= (int)sizeof(f->prefix))
		return vig_errf(errbuf, VIG_EINVAL, "config line %zu: key too long", line);
	(*depth)++;
	return VIG_OK;
}

enum vig_err vig_config_parse(struct vig_config *cfg, const char *text, size_t n, char *errbuf)
{
	struct cfg_frame stack[CFG_MAX_DEPTH];
	enum vig_err err = VIG_OK;
	yaml_parser_t parser;
	yaml_event_t e;
	size_t depth = 0;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return vig_errf(errbuf, VIG_ENOMEM, "config: cannot initialise the yaml parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	while (!done && err == VIG_OK) {
		if (!yaml_parser_parse(&parser, &e)) {
			err = vig_errf(errbuf, VIG_EPARSE, "config line %zu: %s",
				       parser.problem_mark.line + 1,
				       parser.problem ? parser.problem : "malformed yaml");
			break;
		}
		switch (e.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			err = on_mapping_start(stack, &depth, &e, errbuf);
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SCALAR_EVENT:
			if (depth == 0) {
				if (e.data.scalar.length > 0)
					err = vig_errf(errbuf, VIG_EPARSE,
						       "config line %zu: the top level must be a mapping",
						       e.start_mark.line + 1);
				break;
			}
			err = on_scalar(cfg, &stack[depth - 1], &e, errbuf);
			break;
		case YAML_SEQUENCE_START_EVENT:
			err = vig_errf(errbuf, VIG_EINVAL, "config line %zu: lists are not used by any option",
				       e.start_mark.line + 1);
			break;
		case YAML_ALIAS_EVENT:
			err = vig_errf(errbuf, VIG_EINVAL, "config line %zu: aliases are not supported",
				       e.start_mark.line + 1);
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&parser);
	return err;
}

enum vig_err vig_config_load(struct vig_config *cfg, const char *path, char *errbuf)
{
	enum vig_err err = VIG_OK;
	struct stat st;
	char *text = NULL;
	ssize_t got = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "config %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = vig_errf(errbuf, VIG_EIO, "config %s: not a regular file", path);
		goto out_close;
	}
	if (st.st_size > (off_t)VIG_CFG_FILE_MAX_BYTES) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "config %s: larger than %u bytes", path,
			       VIG_CFG_FILE_MAX_BYTES);
		goto out_close;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		err = vig_errf(errbuf, VIG_ENOMEM, "config %s: out of memory", path);
		goto out_close;
	}
	while (got < st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)(st.st_size - got));
		if (r <= 0) {
			err = vig_errf(errbuf, VIG_EIO, "config %s: read failed", path);
			goto out_free;
		}
		got += r;
	}
	text[got] = '\0';
	err = vig_config_parse(cfg, text, (size_t)got, errbuf);
out_free:
	free(text);
out_close:
	close(fd);
	return err;
}

bool vig_config_split_listen(const char *listen, char *host, size_t host_cap, int *port)
{
	const char *colon, *hs = listen, *he;
	int64_t p;

	if (listen[0] == '[') {
		he = strchr(listen, ']');
		if (!he || he[1] != ':')
			return false;
		hs = listen + 1;
		colon = he + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return false;
		he = colon;
	}
	if ((size_t)(he - hs) >= host_cap || he == hs)
		return false;
	if (!vig_parse_i64(colon + 1, strlen(colon + 1), &p) || p < 0 || p > 65535)
		return false;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)p;
	return true;
}

enum vig_err vig_config_validate(const struct vig_config *cfg, char *errbuf)
{
	char host[256];
	int port;

	if (!vig_config_split_listen(cfg->listen, host, sizeof(host), &port))
		return vig_errf(errbuf, VIG_EINVAL, "option listen: expected HOST:PORT, got \"%s\"",
				cfg->listen);
	if (vig_log_level_parse(cfg->log_level) < 0)
		return vig_errf(errbuf, VIG_EINVAL,
				"option log.level: expected debug, info, warn or error, got \"%s\"",
				cfg->log_level);
	if (cfg->data_dir[0] == '\0')
		return vig_errf(errbuf, VIG_EINVAL, "option data_dir: must not be empty");
	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
		return vig_errf(errbuf, VIG_EINVAL, "options tls.cert and tls.key: set both or neither");
	if (cfg->max_event_bytes > cfg->max_body_bytes)
		return vig_errf(errbuf, VIG_EINVAL,
				"option limits.max_event_bytes: larger than limits.max_body_bytes");
	return VIG_OK;
}

/* Appends the value of o in cfg as YAML text. */
static void print_value(const struct vig_config *cfg, const struct vig_cfg_opt *o, struct vig_buf *out)
{
	const char *field = (const char *)cfg + o->offset;

	switch (o->type) {
	case VIG_CFG_STR:
		vig_buf_add_json_str(out, field, strlen(field)); /* JSON strings are YAML */
		break;
	case VIG_CFG_BOOL:
		vig_buf_adds(out, *(const bool *)field ? "true" : "false");
		break;
	case VIG_CFG_INT:
	case VIG_CFG_SIZE:
		vig_buf_printf(out, "%lld", (long long)*(const int64_t *)field);
		break;
	}
}

enum vig_err vig_config_print_yaml(const struct vig_config *cfg, struct vig_buf *out)
{
	char section[CFG_NAME_MAX] = "";

	vig_buf_adds(out, "# vigild configuration: every option, with its description and default.\n"
			  "# Reference: docs/configuration.md. Sizes accept KiB, MiB, GiB suffixes.\n");
	for (size_t i = 0; i < VIG_ARRAY_LEN(options); i++) {
		const struct vig_cfg_opt *o = &options[i];
		const char *dot = strchr(o->name, '.');
		size_t slen = dot ? (size_t)(dot - o->name) : 0;
		const char *indent = dot ? "  " : "";

		if (slen != strlen(section) || strncmp(section, o->name, slen) != 0) {
			memcpy(section, o->name, slen);
			section[slen] = '\0';
			if (slen)
				vig_buf_printf(out, "\n%s:\n", section);
		}
		vig_buf_printf(out, "%s# %s\n%s# default: %s\n%s%s: ", indent, o->desc, indent,
			       o->def[0] ? o->def : "\"\"", indent, dot ? dot + 1 : o->name);
		print_value(cfg, o, out);
		vig_buf_addc(out, '\n');
	}
	return vig_buf_err(out);
}

enum vig_err vig_config_print_markdown(struct vig_buf *out)
{
	static const char *const type_names[] = {"string", "integer", "size", "boolean"};

	vig_buf_adds(out,
		     "# vigild configuration\n\n"
		     "<!-- Generated by `vigild --print-config-markdown` from the option table in\n"
		     "     src/server/config.c; test_config checks that this file matches. -->\n\n"
		     "`vigild` runs without a configuration file: every option has a default. A YAML file\n"
		     "given with `--config FILE` overrides defaults; nested mappings name the sections\n"
		     "(`limits:` then `max_body_bytes: 8MiB` sets `limits.max_body_bytes`). An unknown key is\n"
		     "an error naming the key and its line. Sizes accept the suffixes `KiB`, `MiB`, `GiB`\n"
		     "(or `K`, `M`, `G`; powers of 1024). `vigild --print-config` prints the effective\n"
		     "configuration as YAML with every option's description and default.\n\n"
		     "Command line: `vigild [--config FILE] [--data DIR] [--listen HOST:PORT] "
		     "[--print-config] [--version]`; `--data` and `--listen` override the file.\n\n"
		     "The agent's options are in docs/agent-configuration.md.\n\n"
		     "| option | type | default | description |\n"
		     "|---|---|---|---|\n");
	for (size_t i = 0; i < VIG_ARRAY_LEN(options); i++) {
		const struct vig_cfg_opt *o = &options[i];

		vig_buf_printf(out, "| `%s` | %s | `%s` | %s |\n", o->name, type_names[o->type],
			       o->def[0] ? o->def : "\"\"", o->desc);
	}
	vig_buf_adds(out, "\nExample:\n\n```yaml\nlisten: \"0.0.0.0:8443\"\ndata_dir: /var/lib/vigil\n"
			  "limits:\n  max_body_bytes: 32MiB\nretention:\n  default_days: 90\n```\n");
	return vig_buf_err(out);
}
