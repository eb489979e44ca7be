/*
 * config.h - vigild's configuration: one table of options (name, type, default, description)
 * that drives the YAML parser, `vigild --print-config` and docs/configuration.md.
 *
 * Every option has a default, so vigild runs with no config file at all. The YAML file uses
 * nested mappings whose dotted path is the option's name ("limits:\n  max_body_bytes: 1MiB"
 * sets limits.max_body_bytes). An unknown key is an error that names the key and its line.
 * Sizes accept a suffix (KiB, MiB, GiB or K, M, G, powers of 1024). Booleans accept
 * true/false/yes/no/on/off.
 */
#ifndef VIG_SERVER_CONFIG_H
#define VIG_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/vig.h"

#define VIG_CFG_PATH_MAX 1024
#define VIG_CFG_FILE_MAX_BYTES (1u << 20) /* a config file larger than this is refused */

struct vig_config {
	char listen[256];                  /* HOST:PORT of the HTTPS API */
	char data_dir[VIG_CFG_PATH_MAX];   /* root of all state */
	char tls_cert[VIG_CFG_PATH_MAX];   /* PEM certificate; "" = DATA/tls/server.crt */
	char tls_key[VIG_CFG_PATH_MAX];    /* PEM private key; "" = DATA/tls/server.key */
	char log_level[16];                /* debug, info, warn, error */
	char log_file[VIG_CFG_PATH_MAX];   /* "" = stderr */
	int64_t max_body_bytes;            /* largest request body */
	int64_t max_event_bytes;           /* largest single NDJSON event line */
	int64_t max_connections;           /* concurrent client connections */
	int64_t request_timeout_s;         /* idle/read/write timeout of a connection */
	int64_t queue_batches;             /* ingest queue capacity, in request batches */
	int64_t batch_max_events;          /* most events in one ingest request */
	int64_t retention_default_days;    /* retention of tenants created without their own */
	int64_t retention_interval_s;      /* seconds between retention runs */
	char setup_token[128];             /* "" = random, written to DATA/setup-token */
	int64_t session_ttl_s;             /* console session lifetime (sliding) */
	char console_dir[VIG_CFG_PATH_MAX]; /* built console (console/dist); "" = none */
	bool metrics_enabled;              /* serve GET /metrics */
	int64_t sse_heartbeat_s;           /* comment line interval on /api/v1/stream */
	int64_t sse_max_subscribers;       /* concurrent /api/v1/stream clients */
	int64_t sse_buffer_bytes;          /* unsent bytes per subscriber before it is dropped */
	char rules_dir[VIG_CFG_PATH_MAX];  /* Sigma rules applied to every tenant; "" = none */
	int64_t dedupe_window_s;           /* alert dedupe window from first_seen */
	char incident_group_by[64];        /* alert grouping keys, "" = off */
	int64_t incident_group_window_s;   /* an incident takes alerts while updated within this */
	char incident_min_severity[16];    /* alerts below this are not grouped */
	int64_t sla_check_interval_s;      /* seconds between SLA checks */
	int64_t sharing_reconcile_interval_s; /* seconds between blocklist fan-out reconciliations */
	/* @response */
	int64_t response_check_interval_s; /* seconds between approval escalation/expiry checks */
	/* @evidence */
	int64_t evidence_max_bytes;        /* largest evidence item */
	int64_t evidence_max_upload_bytes; /* largest evidence upload in one request */
	/* @reports */
	int64_t reports_keep_days;         /* finished report runs are deleted after this */
	int64_t reports_check_interval_s;  /* seconds between checks for due scheduled reports */
	int64_t reports_max_queued;        /* report runs waiting at most */
	int64_t reports_max_bytes;         /* largest report file */
	char notify_smtp_url[256];         /* smtp://host:port for e-mail notifications, "" = none */
	char notify_smtp_from[256];        /* From: of notification e-mails */
	char notify_smtp_user[128];        /* SMTP login, "" = none */
	char notify_smtp_password[256];    /* SMTP password */
	char notify_smtp_tls[16];          /* none, try, require (STARTTLS) */
	char notify_cacert[VIG_CFG_PATH_MAX]; /* CA file for webhooks and SMTP TLS, "" = system */
	bool notify_insecure;              /* skip certificate checks of notification targets */
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	int64_t agents_cert_days;          /* validity of agent client certificates */
	int64_t agents_heartbeat_s;        /* heartbeat interval told to agents; offline after 3 */
	int64_t agents_action_timeout_s;   /* queued/delivered actions expire after this */
	int64_t agents_max_polls;          /* concurrent held GET /api/v1/agent/actions polls */
	int64_t agents_max_upload_bytes;   /* largest file a collect action may upload */
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	char syslog_udp[256];              /* HOST:PORT of the UDP receiver, "" = off */
	char syslog_tcp[256];              /* HOST:PORT of the TCP receiver, "" = off */
	char syslog_tls[256];              /* HOST:PORT of the TLS receiver, "" = off */
	char syslog_tenant[64];            /* tenant of syslog sources not mapped elsewhere */
	int64_t syslog_max_message_bytes;  /* longest syslog message accepted */
	int64_t syslog_max_connections;    /* concurrent TCP + TLS syslog connections */
	int64_t syslog_batch_records;      /* records per ingest batch of a receiver */
	int64_t syslog_flush_ms;           /* longest a record waits before its batch is queued */
	int64_t sources_max;               /* sources kept in the registry */
	int64_t sources_check_interval_s;  /* seconds between health passes */
	int64_t sources_silence_after_s;   /* default silence threshold of a new source, 0 = none */
	int64_t sources_error_rate_pct;    /* parse-error share that raises an alert */
	int64_t sources_error_min_records; /* records in an interval before the share counts */
	bool reduction_merge;              /* merge identical events of a batch */
	int64_t reduction_window_s;        /* merge only events this close in time */
	int64_t reduction_max_policies;    /* reduction policies loaded */
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	int64_t intel_tick_s;              /* seconds between checks for feeds due to refresh */
	int64_t intel_max_download_bytes;  /* largest feed download or file */
	int64_t intel_max_indicators;      /* most indicators kept per feed */
	char attack_bundle[VIG_CFG_PATH_MAX]; /* ATT&CK enterprise STIX bundle; "" = none */
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	int64_t corr_max_groups_per_rule;  /* correlation groups kept per correlation rule */
	int64_t corr_max_events_per_group; /* entries remembered per correlation group */
	int64_t corr_max_event_ids;        /* event ids linked to a correlation alert */
	int64_t corr_snapshot_interval_s;  /* seconds between correlation state snapshots */
};

enum vig_cfg_type {
	VIG_CFG_STR,  /* text */
	VIG_CFG_INT,  /* integer in [min, max] */
	VIG_CFG_SIZE, /* byte count in [min, max], suffixes allowed */
	VIG_CFG_BOOL, /* true / false */
};

/* One option of the table. */
struct vig_cfg_opt {
	const char *name;       /* dotted name, "limits.max_body_bytes" */
	enum vig_cfg_type type; /* how the value is parsed */
	const char *def;        /* default, as YAML text */
	const char *desc;       /* one-sentence description for --print-config and docs */
	size_t offset;          /* offset of the field in struct vig_config */
	size_t size;            /* size of the field (string capacity) */
	int64_t min, max;       /* bounds of INT and SIZE values */
};

/* The option table, and its length. */
const struct vig_cfg_opt *vig_config_options(size_t *n);

/* Fills cfg with every default. */
void vig_config_defaults(struct vig_config *cfg);

/* Sets one option from text (as found in YAML); VIG_ENOTFOUND for an unknown name,
 * VIG_EINVAL for a value that does not parse or is out of bounds. */
enum vig_err vig_config_set(struct vig_config *cfg, const char *name, const char *value, char *errbuf);

/* Applies a YAML document (text of n bytes) over cfg. Errors name the line:
 * "config line 3: unknown option \"limits.foo\"". */
enum vig_err vig_config_parse(struct vig_config *cfg, const char *text, size_t n, char *errbuf);

/* Reads and applies a YAML file (at most VIG_CFG_FILE_MAX_BYTES). */
enum vig_err vig_config_load(struct vig_config *cfg, const char *path, char *errbuf);

/* Checks cross-option constraints (listen parses, log level known, ...). */
enum vig_err vig_config_validate(const struct vig_config *cfg, char *errbuf);

/* Appends the whole configuration as YAML, every option with its description and default as
 * comments, current values as values. */
enum vig_err vig_config_print_yaml(const struct vig_config *cfg, struct vig_buf *out);

/* Appends the markdown reference (docs/configuration.md) generated from the table. */
enum vig_err vig_config_print_markdown(struct vig_buf *out);

/* Splits "host:port" or "[v6]:port"; host gets at most host_cap bytes. */
bool vig_config_split_listen(const char *listen, char *host, size_t host_cap, int *port);

#endif
