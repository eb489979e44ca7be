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
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
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
