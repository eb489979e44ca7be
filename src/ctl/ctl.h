/*
 * ctl.h - the testable core of vigilctl, the command-line client of the HTTP API
 * (docs/api.md): command-line parsing against a table of commands, duration and time
 * parsing, NDJSON batch splitting with deterministic batch ids, retry delays, the error line
 * printed for an API failure, and the choice of search columns.
 *
 * Nothing here does I/O; the transport is in http.h, the table printer in table.h, stored
 * credentials in creds.h and the commands themselves in cmds.h.
 */
#ifndef VIG_CTL_H
#define VIG_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/vig.h"

#define VIG_CTL_DEFAULT_URL "https://127.0.0.1:8443"
#define VIG_CTL_DEFAULT_TIMEOUT_S 30
#define VIG_CTL_MAX_POS 16         /* most positional arguments after the command words */
#define VIG_CTL_MAX_OPTS 16        /* most command options on one command line */
#define VIG_CTL_BATCH_LINES 5000   /* most NDJSON lines in one POST /events */
#define VIG_CTL_BATCH_BYTES (8u << 20) /* most body bytes in one POST /events (one longer line goes alone) */
#define VIG_CTL_INGEST_MAX_BYTES ((size_t)512 << 20) /* most bytes of one ingest input */
#define VIG_CTL_BATCH_ID_LEN 64    /* room for a batch id and its NUL */
#define VIG_CTL_MAX_COLS 8         /* most columns of a search table */
#define VIG_CTL_COL_NAME 64        /* room for one column (field) name and its NUL */
#define VIG_CTL_RETRY_MAX_MS 120000 /* longest wait between two tries, whatever Retry-After says */

/* Exit codes of vigilctl. */
enum vig_ctl_exit { VIG_CTL_EXIT_OK = 0, VIG_CTL_EXIT_API = 1, VIG_CTL_EXIT_USAGE = 2 };

/* What an option's value must look like; checked while parsing. */
enum vig_ctl_opt_type {
	VIG_CTL_OPT_FLAG, /* no value */
	VIG_CTL_OPT_STR,  /* any non-empty string */
	VIG_CTL_OPT_UINT, /* a positive integer */
	VIG_CTL_OPT_DUR,  /* a duration (vig_ctl_parse_duration) */
	VIG_CTL_OPT_TIME, /* a time (vig_ctl_parse_time) */
};

struct vig_ctl_opt_spec {
	const char *name;           /* long name without "--"; NULL ends a list */
	enum vig_ctl_opt_type type; /* what its value must be */
	const char *help;           /* one line for the usage text */
};

enum vig_ctl_cmd_id {
	VIG_CTL_CMD_HELP, VIG_CTL_CMD_VERSION, VIG_CTL_CMD_STATUS, VIG_CTL_CMD_LOGIN,
	VIG_CTL_CMD_LOGOUT, VIG_CTL_CMD_SETUP, VIG_CTL_CMD_TOKEN_CREATE, VIG_CTL_CMD_TOKEN_LIST,
	VIG_CTL_CMD_TOKEN_REVOKE, VIG_CTL_CMD_INGEST, VIG_CTL_CMD_SEARCH, VIG_CTL_CMD_COUNT,
	VIG_CTL_CMD_TOP, VIG_CTL_CMD_USERS_LIST, VIG_CTL_CMD_USERS_ADD, VIG_CTL_CMD_USERS_SET_ROLE,
	VIG_CTL_CMD_USERS_DISABLE, VIG_CTL_CMD_USERS_ENABLE, VIG_CTL_CMD_USERS_DELETE,
	VIG_CTL_CMD_TENANTS_LIST, VIG_CTL_CMD_TENANTS_ADD, VIG_CTL_CMD_TENANTS_SET,
	VIG_CTL_CMD_AUDIT_LIST, VIG_CTL_CMD_AUDIT_VERIFY, VIG_CTL_CMD_ALERTS_LIST,
	VIG_CTL_CMD_INCIDENTS_LIST, VIG_CTL_CMD_RULES_LIST, VIG_CTL_CMD_RULES_ADD,
	/* @agents */
	VIG_CTL_CMD_AGENTS_LIST, VIG_CTL_CMD_AGENTS_SHOW, VIG_CTL_CMD_AGENTS_REVOKE,
	VIG_CTL_CMD_AGENTS_INVENTORY, VIG_CTL_CMD_ENROLL_TOKEN_CREATE, VIG_CTL_CMD_ENROLL_TOKEN_LIST,
	VIG_CTL_CMD_ENROLL_TOKEN_REVOKE, VIG_CTL_CMD_ACTION_RUN, VIG_CTL_CMD_ACTION_LIST,
	VIG_CTL_CMD_ACTION_SHOW, VIG_CTL_CMD_ACTION_CANCEL, VIG_CTL_CMD_ACTION_FETCH,
	/* @syslog */
	VIG_CTL_CMD_REPLAY, VIG_CTL_CMD_SOURCES_LIST, VIG_CTL_CMD_REDUCTION_STATS,
	/* @intel */
	VIG_CTL_CMD_INTEL_FEEDS, VIG_CTL_CMD_INTEL_ADD, VIG_CTL_CMD_INTEL_REFRESH,
	VIG_CTL_CMD_INTEL_LOOKUP, VIG_CTL_CMD_ATTACK_COVERAGE,
	/* @detectx */
	VIG_CTL_CMD_RULES_VALIDATE, VIG_CTL_CMD_RULES_TEST, VIG_CTL_CMD_RULES_IMPORT,
	VIG_CTL_CMD_RULES_ENABLE, VIG_CTL_CMD_RULES_DISABLE, VIG_CTL_CMD_HUNT_RUN,
	VIG_CTL_CMD_HUNT_SHOW, VIG_CTL_CMD_HUNT_CANCEL, VIG_CTL_CMD_HUNT_LIST,
	VIG_CTL_CMD_ASSETS_LIST, VIG_CTL_CMD_ASSETS_ADD, VIG_CTL_CMD_ASSETS_DELETE,
	VIG_CTL_CMD_EXCEPTIONS_LIST, VIG_CTL_CMD_EXCEPTIONS_ADD, VIG_CTL_CMD_EXCEPTIONS_DELETE,
	VIG_CTL_CMD_SUPPRESSIONS_LIST, VIG_CTL_CMD_SUPPRESSIONS_ADD,
	VIG_CTL_CMD_SUPPRESSIONS_DELETE,
	/* @evidence */
	VIG_CTL_CMD_EVIDENCE_LIST, VIG_CTL_CMD_EVIDENCE_ADD, VIG_CTL_CMD_EVIDENCE_GET,
	VIG_CTL_CMD_EVIDENCE_VERIFY,
	/* @response */
	VIG_CTL_CMD_APPROVALS_LIST, VIG_CTL_CMD_APPROVALS_APPROVE, VIG_CTL_CMD_APPROVALS_REJECT,
	VIG_CTL_CMD_RESPOND, VIG_CTL_CMD_PLAYBOOKS_LIST, VIG_CTL_CMD_PLAYBOOKS_ADD,
	VIG_CTL_CMD_PLAYBOOKS_DELETE, VIG_CTL_CMD_TENANT_SETTINGS,
	/* @sharing */
	/* @reports */
	VIG_CTL_CMD_REPORTS_LIST, VIG_CTL_CMD_REPORTS_ADD, VIG_CTL_CMD_REPORTS_RUNS,
	VIG_CTL_CMD_REPORTS_RUN, VIG_CTL_CMD_REPORTS_GET,
};

struct vig_ctl_cmd_spec {
	enum vig_ctl_cmd_id id;
	const char *name;                    /* first command word ("token") */
	const char *sub;                     /* second word ("create") or NULL */
	unsigned min_pos, max_pos;           /* positional arguments allowed after the words */
	const char *args_usage;              /* "NAME [--role R]" for the usage line */
	const char *summary;                 /* one line */
	const struct vig_ctl_opt_spec *opts; /* command options, NULL-terminated, or NULL */
};

/* A parsed command line. Strings point into argv. */
struct vig_ctl_args {
	const char *url;      /* --url, or NULL */
	const char *token;    /* --token, or NULL */
	const char *cacert;   /* --cacert, or NULL */
	bool insecure;        /* --insecure */
	bool json;            /* --json */
	bool help;            /* -h / --help anywhere */
	int64_t timeout_s;    /* --timeout in seconds, 0 when not given */
	const struct vig_ctl_cmd_spec *cmd; /* NULL only when help is set and no command was named */
	const char *group;    /* first command word when only a group was named with --help */
	const char *pos[VIG_CTL_MAX_POS]; /* positional arguments after the command words */
	unsigned npos;
	struct {
		const struct vig_ctl_opt_spec *spec;
		const char *value; /* "1" for a flag */
	} opts[VIG_CTL_MAX_OPTS];
	unsigned nopts;
};

/* The command table, in help order; *n receives its length. */
const struct vig_ctl_cmd_spec *vig_ctl_commands(size_t *n);

/* Parses argv (argv[0] is the program). Global options (--url, --token, --cacert, --insecure,
 * --json, --timeout, --help) may stand anywhere; command options only after the command
 * words; "--opt=value" and "--opt value" both work; "--" ends options; "-" is a positional.
 * Returns VIG_EINVAL with a message fit for "vigilctl: <message>" on any usage error. */
enum vig_err vig_ctl_args_parse(int argc, char **argv, struct vig_ctl_args *out, char *errbuf);

/* The value of command option name (last occurrence), "1" for a given flag, NULL if absent. */
const char *vig_ctl_args_get(const struct vig_ctl_args *a, const char *name);

/* Appends usage text: the command list when cmd is NULL, a group's commands when only cmd is
 * given and it is a group, else the one command. VIG_ENOTFOUND for an unknown command. */
enum vig_err vig_ctl_usage(struct vig_buf *out, const char *cmd, const char *sub);

/* Parses a duration: one or more <number><unit> parts, unit s, m, h, d or w ("90s", "1h30m",
 * "7d"), or a bare number of seconds. Result in ns, > 0, at most 100 years. */
enum vig_err vig_ctl_parse_duration(const char *s, int64_t *ns, char *errbuf);

/* Parses a time for --from/--to: "now", "-DUR" / "now-DUR" (relative to now_ns), RFC 3339 or
 * epoch seconds (vig_time_parse). */
enum vig_err vig_ctl_parse_time(const char *s, int64_t now_ns, int64_t *ns, char *errbuf);

/* Splits an NDJSON input into batches. Blank lines are skipped; every other line goes whole
 * into one batch of at most max_lines lines and max_bytes bytes (a single longer line goes
 * alone). Batch ids are "vgb-" + 40 hex digits of the input's SHA-256 + "-" + index, so the
 * same input always yields the same batches and ids. */
struct vig_ctl_batcher {
	const char *data;  /* the whole input, not owned */
	size_t len;        /* its bytes */
	size_t pos;        /* next byte to read */
	size_t line_no;    /* 1-based number of the line at pos */
	unsigned index;    /* index of the next batch */
	size_t max_lines;  /* lines per batch */
	size_t max_bytes;  /* body bytes per batch */
	char hash_hex[65]; /* SHA-256 of the input, hex */
};

struct vig_ctl_batch {
	struct vig_buf body;   /* the lines, each ending in '\n' */
	size_t nlines;         /* lines in body; 0 after the last batch */
	size_t *line_map;      /* line_map[i] = 1-based input line of body line i+1 */
	size_t map_cap;        /* entries allocated in line_map */
	unsigned index;        /* 0-based index of this batch */
	char id[VIG_CTL_BATCH_ID_LEN]; /* its X-Vigil-Batch-Id */
};

/* Prepares b over data (not copied; must outlive b). max_lines/max_bytes 0 mean the defaults. */
void vig_ctl_batcher_init(struct vig_ctl_batcher *b, const char *data, size_t len,
			  size_t max_lines, size_t max_bytes);
void vig_ctl_batch_init(struct vig_ctl_batch *batch);
void vig_ctl_batch_release(struct vig_ctl_batch *batch);
/* Fills batch with the next batch; batch->nlines is 0 once the input is exhausted. */
enum vig_err vig_ctl_batcher_next(struct vig_ctl_batcher *b, struct vig_ctl_batch *batch,
				  char *errbuf);
/* Writes the batch id of batch index of an input whose SHA-256 hex is hash_hex. */
void vig_ctl_batch_id(const char *hash_hex, unsigned index, char out[VIG_CTL_BATCH_ID_LEN]);

/* Milliseconds to wait before try number attempt (1-based) after a 429/503: Retry-After in
 * seconds or as an HTTP date (relative to now_ns) when given and sane, else 500 ms doubling;
 * never more than VIG_CTL_RETRY_MAX_MS. */
int64_t vig_ctl_retry_delay_ms(const char *retry_after, unsigned attempt, int64_t now_ns);

/* Formats the line printed when the API answered with an error status:
 * "vigilctl: <error from the JSON body> (HTTP <status>)", falling back to the body's first
 * line or the status's reason phrase. out holds outsz bytes; no trailing newline. */
void vig_ctl_api_error(long status, const char *body, size_t len, char *out, size_t outsz);

/* The columns of a search table: fields_opt ("a,b,c") when not NULL, else @timestamp,
 * host.name, event.action, the fields the query names (in order, without repeats) and
 * message, at most VIG_CTL_MAX_COLS. Returns the number of columns. */
unsigned vig_ctl_search_columns(const char *query, const char *fields_opt,
				char cols[VIG_CTL_MAX_COLS][VIG_CTL_COL_NAME]);

#endif /* VIG_CTL_H */
