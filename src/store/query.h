/*
 * query.h - the search-bar query language: parse text into a bounded AST, and compile the AST
 * into a SQL WHERE clause for the SQLite event store with bound parameters only.
 *
 * Syntax (docs/api.md, "Search syntax"):
 *   field:value            exact match; keyword fields (VIG_FF_KW) case-sensitive, other string
 *                          fields case-insensitive (ASCII), INT/TS numeric, IP fields by address
 *   field:"two words"      quoted value: literal, with \" and \\ escapes (no wildcards)
 *   field:ba*h  field:a?c  wildcards in unquoted values; \* \? \\ \: \( \) escape
 *   field:[a TO b]         inclusive range, {a TO b} exclusive, mixed brackets allowed, * = open
 *   field:>=N  >N  <N  <=N comparisons
 *   source.ip:10.0.0.0/8   CIDR on IP fields (IPv6 too: fe80::/10)
 *   a and b, a or b, not a (any case), juxtaposition = and, parentheses; NOT > AND > OR
 *   word, "a phrase"       bare terms: case-insensitive substring of message
 * Field names resolve through the event registry (vig_field_lookup); other names are extension
 * fields. Timestamps accept RFC 3339 or epoch seconds. LIST fields match when any element does.
 *
 * Bounds: query text <= VIG_QUERY_MAX_LEN bytes, nesting <= VIG_QUERY_MAX_DEPTH, terms <=
 * VIG_QUERY_MAX_TERMS. Errors name the 1-based column: "query: unexpected ')' at column 14".
 *
 * The AST is public and read-only so that other dialects (ClickHouse) can compile it too; the
 * SQLite compiler (vig_query_to_sql) also needs the store's physical schema, which it owns:
 * vig_store_field_storage() says how each core field is stored.
 */
#ifndef VIG_STORE_QUERY_H
#define VIG_STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/buf.h"
#include "../common/vig.h"
#include "../event/event.h"

#define VIG_QUERY_MAX_LEN 4096
#define VIG_QUERY_MAX_DEPTH 32
#define VIG_QUERY_MAX_TERMS 256

enum vig_qnode_kind {
	VIG_QN_AND,  /* a, b */
	VIG_QN_OR,   /* a, b */
	VIG_QN_NOT,  /* a */
	VIG_QN_TERM, /* term */
	VIG_QN_ALL,  /* the empty query: matches everything */
};

enum vig_qop {
	VIG_QOP_EQ,       /* field equals value */
	VIG_QOP_WILDCARD, /* value is a pattern: '*' any run, '?' one char, '\' escapes */
	VIG_QOP_RANGE,    /* lo/hi (either may be NULL = open), lo_incl/hi_incl */
	VIG_QOP_CIDR,     /* ip_lo..ip_hi inclusive (IP fields) */
	VIG_QOP_TEXT,     /* bare term: case-insensitive substring of message (pattern form) */
};

struct vig_qterm {
	int field;           /* enum vig_field, or -1 for an extension field */
	const char *ext;     /* extension field name when field < 0, else NULL */
	enum vig_qop op;     /* what to compare */
	const char *value;   /* EQ: unescaped value; WILDCARD/TEXT: pattern (see enum vig_qop) */
	const char *lo, *hi; /* RANGE bounds, unescaped, NULL = unbounded */
	bool lo_incl, hi_incl;
	uint8_t ip_lo[16], ip_hi[16]; /* CIDR range, and EQ on IP fields (lo == hi) */
	int column;          /* 1-based column of the term in the query text, for messages */
};

struct vig_qnode {
	enum vig_qnode_kind kind;
	struct vig_qnode *a, *b; /* children (AND/OR: both, NOT: a) */
	struct vig_qterm term;   /* VIG_QN_TERM */
};

struct vig_query {
	struct vig_arena arena; /* owns every node and string */
	struct vig_qnode *root; /* never NULL after a successful parse */
	size_t n_terms;         /* terms in the query */
};

/* Parses n bytes of q. Returns NULL with errbuf set ("query: ... at column N") on bad input or
 * VIG_ENOMEM; *err (may be NULL) receives the error code (VIG_EPARSE, VIG_ETOOBIG, VIG_ENOMEM).
 * An empty or all-blank query parses to VIG_QN_ALL. */
struct vig_query *vig_query_parse(const char *q, size_t n, enum vig_err *err, char *errbuf);
/* Frees the query; NULL does nothing. */
void vig_query_free(struct vig_query *q);

/* ---- SQL (SQLite dialect) ---- */

enum vig_sql_ptype { VIG_SQLP_TEXT, VIG_SQLP_INT, VIG_SQLP_BLOB };

struct vig_sql_param {
	enum vig_sql_ptype type; /* how to bind */
	const void *p;           /* TEXT/BLOB bytes (owned by vig_sql's arena) */
	size_t n;                /* TEXT/BLOB length in bytes */
	int64_t i;               /* INT value */
};

#define VIG_SQL_MAX_PARAMS 2048

/* A compiled WHERE clause: text uses '?' placeholders, bound in order from params. */
struct vig_sql {
	struct vig_buf text;          /* SQL expression, NUL-terminated */
	struct vig_sql_param *params; /* parameters, in placeholder order */
	size_t n_params;              /* used entries */
	size_t cap_params;            /* allocated entries */
	struct vig_arena arena;       /* parameter bytes */
};

void vig_sql_init(struct vig_sql *s);
void vig_sql_release(struct vig_sql *s);
/* Appends a parameter (copied); VIG_ETOOBIG past VIG_SQL_MAX_PARAMS. */
enum vig_err vig_sql_param_text(struct vig_sql *s, const char *p, size_t n);
enum vig_err vig_sql_param_int(struct vig_sql *s, int64_t i);
enum vig_err vig_sql_param_blob(struct vig_sql *s, const void *p, size_t n);

/* Compiles q into a WHERE expression over one event partition table (appended to out->text,
 * parameters appended to out->params; out must be initialised). Errors (a value that does not
 * fit the field's type, "query: destination.port needs an integer at column 18") go to errbuf
 * with VIG_EINVAL. */
enum vig_err vig_query_to_sql(const struct vig_query *q, struct vig_sql *out, char *errbuf);

/* How the SQLite event store keeps a core field (the store's physical schema, shared by the
 * compiler and evstore_sqlite.c). */
enum vig_storage {
	VIG_STO_COLUMN, /* own column named vig_field_info(f)->column */
	VIG_STO_HEX16,  /* own column; 32-hex-digit values stored as a 16-byte BLOB, others as text */
	VIG_STO_JSON,   /* key "<ecs name>" of the per-row JSON column "x" (with extension fields) */
	VIG_STO_DICT,   /* own INTEGER column holding the id of the string in table
			 * dict(id INTEGER PRIMARY KEY, v TEXT UNIQUE, index on v COLLATE NOCASE) */
	VIG_STO_APPEND, /* event.ingested: own column holding the id of the append in table
			 * appends(id INTEGER PRIMARY KEY, ingested_ns, idbase BLOB UNIQUE) */
	VIG_STO_EVENT_ID, /* event.id: like HEX16, but an id the store generated (the 12 bytes
			   * appends.idbase of the row's append, then a big-endian 32-bit offset) is
			   * stored as the INTEGER offset */
};
enum vig_storage vig_store_field_storage(enum vig_field f);

/* True when ip (16 bytes) is IPv4-mapped (::ffff:a.b.c.d): the store keeps such addresses as
 * 4-byte BLOBs (the last 4 bytes), all others as 16-byte BLOBs. */
bool vig_store_ip_is_v4(const uint8_t ip[16]);

/* The SQL text expression of event.id as 32 lowercase hex digits (or the stored text). */
#define VIG_STORE_EVENT_ID_EXPR                                                                  \
	"(CASE typeof(event_id) WHEN 'integer' THEN lower(hex((SELECT idbase FROM appends WHERE id = " \
	"event_ingested))) || printf('%08x', event_id) WHEN 'blob' THEN lower(hex(event_id)) "          \
	"ELSE event_id END)"

/* Appends the SQL expression that yields field f's value ("message",
 * "json_extract(x,'$.\"file.size\"')", "(SELECT v FROM dict WHERE id = process_name)") to b. */
void vig_store_field_expr(enum vig_field f, struct vig_buf *b);

#endif /* VIG_STORE_QUERY_H */
