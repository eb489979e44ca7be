/*
 * parse.h - log parsers into the event model: the contract of the parse module (vigparse).
 *
 * A parser takes one raw record (one line; for syslog one whole message, without the trailing
 * newline) and fills a cleared struct vig_event. Strings are copied into the event's arena, so
 * the caller may reuse the line buffer at once and should reset the arena between records.
 * Every parser:
 *   - always sets `message` to the raw record first, so nothing is lost even on failure;
 *   - sets event.dataset, event.kind and, where known, event.category/type/action/outcome
 *     (ECS conventions) and the typed fields analysts and Sigma rules need; the rest of the
 *     record's fields go to extension fields;
 *   - returns VIG_OK when the record was parsed (a syslog message whose program has no
 *     sub-parser is still parsed: its framing gave typed fields), VIG_EPARSE (or VIG_ETOOBIG)
 *     with a lowercase reason in errbuf when it was not, and VIG_ENOTFOUND when the record
 *     is metadata that yields no event (a Zeek "#fields" header line, a blank line);
 *   - counts the outcome in the context's per-parser stats.
 * Parsers never crash and never read past len; records over VIG_PARSE_MAX_LINE are refused.
 * The context holds the only state (the reference time for syslog years, the Zeek TSV
 * header); one context per input stream and thread.
 */
#ifndef VIG_PARSE_H
#define VIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/vig.h"
#include "../event/event.h"

#define VIG_PARSE_MAX_LINE (256u << 10) /* longest record accepted, bytes */
#define VIG_ZEEK_MAX_FIELDS 128         /* columns of a Zeek TSV log */

/* Parser ids; the registry's order. */
enum vig_parser_id {
	VIG_PARSER_SYSLOG,
	VIG_PARSER_AUDITD,
	VIG_PARSER_IPTABLES,
	VIG_PARSER_CEF,
	VIG_PARSER_LEEF,
	VIG_PARSER_SURICATA,
	VIG_PARSER_ZEEK,
	VIG_PARSER_APACHE,
	VIG_PARSER_JSON,
	VIG_PARSER_KV,
	VIG_PARSER__COUNT
};

/* Why a record failed; counted per parser. */
enum vig_parse_reason {
	VIG_PR_EMPTY,      /* empty record */
	VIG_PR_TOO_LONG,   /* over VIG_PARSE_MAX_LINE or an arena limit */
	VIG_PR_FRAMING,    /* header/framing not recognised (syslog, CEF, access log, ...) */
	VIG_PR_TIMESTAMP,  /* timestamp unreadable */
	VIG_PR_FIELD,      /* a field's value unreadable (IP, number, escape) */
	VIG_PR_JSON,       /* not a JSON object */
	VIG_PR_HEADER,     /* data before a Zeek header, or a bad header */
	VIG_PR__COUNT
};

/* Counters of one parser. */
struct vig_parse_stats {
	uint64_t parsed;                  /* records that produced an event */
	uint64_t typed;                   /* of those, recognised beyond framing (sub-parser hit) */
	uint64_t skipped;                 /* metadata records (VIG_ENOTFOUND) */
	uint64_t failed[VIG_PR__COUNT];   /* records refused, by reason */
};

/* State of a Zeek TSV stream: the last header seen. */
struct vig_zeek_state {
	char sep;                                   /* field separator, '\t' by default */
	char path[64];                              /* "#path" value ("conn"), "" until seen */
	uint16_t n_fields;                          /* columns in "#fields", 0 until seen */
	uint16_t name_off[VIG_ZEEK_MAX_FIELDS];     /* offsets of column names in names[] */
	char names[4096];                           /* NUL-separated column names */
};

/* Per-stream parse state. Plain data: init with vig_parse_ctx_init, no release needed. */
struct vig_parse_ctx {
	int64_t ref_ns;                                  /* reference "now" for yearless syslog */
	struct vig_parse_stats stats[VIG_PARSER__COUNT]; /* counters by enum vig_parser_id */
	struct vig_zeek_state zeek;                      /* Zeek TSV header state */
};

/* One record in, one event out (see the contract above). */
typedef enum vig_err vig_parse_fn(struct vig_parse_ctx *ctx, const char *line, size_t len,
				  struct vig_event *ev, char *errbuf);

struct vig_parser {
	const char *name;        /* registry name ("syslog") */
	enum vig_parser_id id;   /* index into ctx->stats */
	vig_parse_fn *parse;     /* the parser */
	const char *summary;     /* one line for docs and `--help` */
};

/* Prepares ctx; ref_ns is the time yearless timestamps are placed before (0 = now). */
void vig_parse_ctx_init(struct vig_parse_ctx *ctx, int64_t ref_ns);
/* Parser by name ("syslog", "auditd", "iptables", "cef", "leef", "suricata", "zeek",
 * "apache", "json", "kv"; "nginx" is an alias of "apache"), or NULL. */
const struct vig_parser *vig_parser_find(const char *name);
/* Parser by id (never NULL for a valid id). */
const struct vig_parser *vig_parser_get(enum vig_parser_id id);
/* Guesses the format of one line (JSON → suricata/zeek/json, CEF:, LEEF:, type=...audit(,
 * syslog framing, access log, '#' Zeek header, key=value) and parses it with that parser.
 * *used (may be NULL) receives the parser chosen. */
enum vig_err vig_parse_auto(struct vig_parse_ctx *ctx, const char *line, size_t len,
			    struct vig_event *ev, const struct vig_parser **used, char *errbuf);
/* Static name of a failure reason ("framing"). */
const char *vig_parse_reason_name(enum vig_parse_reason r);

/* ---- Individual parsers (also reachable through the registry). ---- */
vig_parse_fn vig_parse_syslog;   /* RFC 3164/5424 + program dispatch */
vig_parse_fn vig_parse_auditd;   /* one audit record (no grouping) */
vig_parse_fn vig_parse_iptables; /* kernel netfilter LOG line, with or without syslog header */
vig_parse_fn vig_parse_cef;
vig_parse_fn vig_parse_leef;
vig_parse_fn vig_parse_suricata; /* eve.json */
vig_parse_fn vig_parse_zeek;     /* TSV (stateful header) or JSON */
vig_parse_fn vig_parse_apache;   /* access (combined/common/nginx) and error logs */
vig_parse_fn vig_parse_json;     /* generic JSON: event model names or extensions */
vig_parse_fn vig_parse_kv;       /* key=value pairs */

/* ---- Audit record grouping. ----
 * Linux audit writes one event as several records (SYSCALL, EXECVE, CWD, PATH..., PROCTITLE,
 * EOE) sharing msg=audit(time:serial). The grouper buffers records of the current serial
 * (copies, bounded) and emits one merged event when EOE arrives, a record of another serial
 * arrives, the timeout passes, or the caller flushes. */
#define VIG_AUDIT_MAX_RECORDS 64    /* records merged into one event; more are dropped */
#define VIG_AUDIT_MAX_BYTES (128u << 10) /* bytes of buffered records */

struct vig_audit_grouper {
	uint64_t serial;          /* serial of the buffered records */
	int64_t first_mono_ns;    /* when the first buffered record arrived */
	int64_t timeout_ns;       /* flush age */
	uint32_t n_records;       /* buffered records */
	uint32_t used_bytes;      /* bytes used in buf */
	uint32_t off[VIG_AUDIT_MAX_RECORDS]; /* record offsets in buf */
	uint32_t len[VIG_AUDIT_MAX_RECORDS]; /* record lengths */
	uint64_t dropped;         /* records dropped by the limits */
	char *buf;                /* VIG_AUDIT_MAX_BYTES, heap */
};

/* Prepares g; timeout_ns 0 means 2 s. VIG_ENOMEM if the buffer cannot be allocated. */
enum vig_err vig_audit_grouper_init(struct vig_audit_grouper *g, int64_t timeout_ns);
/* Frees the buffer; safe to repeat. */
void vig_audit_grouper_release(struct vig_audit_grouper *g);
/* Feeds one record (mono_ns: the caller's monotonic clock). When a group is complete, fills
 * ev (cleared by the caller) with the merged event and sets *ready. A record of a new serial
 * completes the previous group first and is then buffered. VIG_EPARSE for a record that is
 * not an audit record (nothing buffered, nothing emitted). */
enum vig_err vig_audit_grouper_add(struct vig_audit_grouper *g, struct vig_parse_ctx *ctx,
				   const char *line, size_t len, int64_t mono_ns,
				   struct vig_event *ev, bool *ready, char *errbuf);
/* Emits the buffered group if there is one and (force or older than the timeout). */
enum vig_err vig_audit_grouper_flush(struct vig_audit_grouper *g, struct vig_parse_ctx *ctx,
				     int64_t mono_ns, bool force, struct vig_event *ev,
				     bool *ready, char *errbuf);

#endif
