/*
 * parse_int.h - helpers private to the parse module: bounded scanners over (pointer, length)
 * spans, setters that copy spans into an event, failure accounting, and the entry points the
 * parsers call across files (syslog framing hands the message to the auth, netfilter and
 * audit sub-parsers). Nothing here allocates outside the event's arena.
 */
#ifndef VIG_PARSE_INT_H
#define VIG_PARSE_INT_H

#include <stdio.h>
#include <string.h>

#include "parse.h"

/* A span of the input: never NUL-terminated, never owned. */
struct pspan {
	const char *p; /* first byte */
	size_t n;      /* length */
};

/* Propagates a setter's failure (arena limits) out of a parser function. */
#define PTRY(expr)                                  \
	do {                                        \
		enum vig_err rc_ = (expr);          \
		if (rc_ != VIG_OK)                  \
			return rc_;                 \
	} while (0)

static inline bool ps_eq(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n == l && memcmp(p, lit, l) == 0;
}

static inline bool ps_starts(const char *p, size_t n, const char *lit)
{
	size_t l = strlen(lit);
	return n >= l && memcmp(p, lit, l) == 0;
}

/* Position of needle in [p, p+n), or NULL. */
static inline const char *ps_find(const char *p, size_t n, const char *needle)
{
	return memmem(p, n, needle, strlen(needle));
}

static inline bool ps_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Sets a string field from a span; empty spans leave the field unset. */
static inline enum vig_err pset(struct vig_event *ev, enum vig_field f, const char *p, size_t n)
{
	return n ? vig_event_set_str(ev, f, p, n) : VIG_OK;
}

/* Sets a string constant. */
static inline enum vig_err pconst(struct vig_event *ev, enum vig_field f, const char *s)
{
	return vig_event_set_str(ev, f, s, strlen(s));
}

/* Sets an IP field; false (field unset) when the text is not an IP. */
static inline bool pset_ip(struct vig_event *ev, enum vig_field f, const char *p, size_t n)
{
	return vig_event_set_ip(ev, f, p, n) == VIG_OK;
}

/* Sets an INT field from decimal text; false when it is not a number. */
static inline bool pset_int(struct vig_event *ev, enum vig_field f, const char *p, size_t n)
{
	int64_t v;

	if (!vig_parse_i64(p, n, &v))
		return false;
	return vig_event_set_int(ev, f, v) == VIG_OK;
}

/* Extension string from a span (keys over the limit or in conflict are dropped silently:
 * the raw message keeps the data). Arena exhaustion is returned. */
static inline enum vig_err pext(struct vig_event *ev, const char *key, const char *p, size_t n)
{
	enum vig_err rc = vig_event_ext_str(ev, key, p, n);
	return rc == VIG_EINVAL ? VIG_OK : rc;
}

/* ---- Fast extension setters for the hot parsers. ----
 * vig_event_ext_str() validates each key against the core registry and every other
 * extension key (dozens of string comparisons); at a dozen keys per firewall line that is
 * most of the parse time. Keys known in advance are listed in extkeys.def, validated once by
 * the unit tests, and set here by identity: a slot is found by comparing key pointers. */
enum pkey {
#define PKEY(id, name) PK_##id,
#include "extkeys.def"
#undef PKEY
	PK__COUNT
};
extern const char *const pkey_names[PK__COUNT];
enum vig_err pk_str(struct vig_event *ev, enum pkey k, const char *s, size_t n);
enum vig_err pk_int(struct vig_event *ev, enum pkey k, int64_t v);
enum vig_err pk_bool(struct vig_event *ev, enum pkey k, bool v);
/* Integer from decimal text, else a string. */
enum vig_err pk_num(struct vig_event *ev, enum pkey k, const char *s, size_t n);
/* Value of a fast key, or NULL. */
const struct vig_val *pk_get(const struct vig_event *ev, enum pkey k);

/* Extension integer from decimal text, else a string. */
enum vig_err pext_num(struct vig_event *ev, const char *key, const char *p, size_t n);

/* ECS classification in one call; NULL leaves a field alone. */
enum vig_err pecs(struct vig_event *ev, const char *kind, const char *category, const char *type,
		  const char *action, const char *outcome);

/* Counts a failure and writes errbuf; returns VIG_EPARSE (VIG_ETOOBIG for TOO_LONG). */
enum vig_err pfail(struct vig_parse_ctx *ctx, enum vig_parser_id id, enum vig_parse_reason r,
		   char *errbuf, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Common start of every parser: checks the length, stores the raw record in message.
 * Returns VIG_OK or a counted failure. */
enum vig_err pbegin(struct vig_parse_ctx *ctx, enum vig_parser_id id, const char *line,
		    size_t len, struct vig_event *ev, char *errbuf);

/* Counts success; typed says a sub-parser recognised the content. */
static inline enum vig_err pdone(struct vig_parse_ctx *ctx, enum vig_parser_id id, bool typed)
{
	ctx->stats[id].parsed++;
	if (typed)
		ctx->stats[id].typed++;
	return VIG_OK;
}

/* Month number (1-12) of "Jan".."Dec", 0 otherwise. */
int pmonth(const char *p);
/* Two-digit number at p (no checks on length: caller ensures 2 bytes), -1 if not digits. */
static inline int p2(const char *p)
{
	return ps_digit(p[0]) && ps_digit(p[1]) ? (p[0] - '0') * 10 + (p[1] - '0') : -1;
}
/* Timestamp of a civil time, UTC; false outside the years int64 nanoseconds can hold
 * (1678-2261). */
bool pcivil_ns(int y, int mo, int d, int h, int mi, int s, int64_t *ns);
/* vig_time_parse() restricted to what int64 nanoseconds can hold (epoch seconds below
 * 9.2e9, years 1678-2261): the common parser overflows beyond that. */
bool ptime(const char *s, size_t n, int64_t *ns);
/* Parses "[+-]hhmm" into seconds; false if malformed. */
bool ptz(const char *p, size_t n, int *off_s);

/* Decodes hex text into out (cap bytes); returns bytes written or -1 if not even-length hex
 * or too long. */
long phex_decode(const char *p, size_t n, char *out, size_t cap);

/* Sets network.transport from a protocol name or number (lowercased, "6" → "tcp"). */
enum vig_err ptransport(struct vig_event *ev, const char *p, size_t n);

/* key=value scanner. Fills *key and *val with the next pair from *pos in [p, p+n): keys run to
 * '='; values are bare (to the next space) or double/single quoted (quotes removed, escapes
 * kept raw; *quoted set). Returns false at the end. Bare words without '=' are skipped. */
bool pkv_next(const char *p, size_t n, size_t *pos, struct pspan *key, struct pspan *val,
	      bool *quoted);

/* ---- Cross-file entry points. ---- */

/* Dispatches a syslog message body on its program name. Returns true when a sub-parser
 * recognised the message (ECS fields set), false to keep it as plain syslog. */
bool pauth_dispatch(struct vig_parse_ctx *ctx, const char *prog, size_t prog_n, const char *msg,
		    size_t msg_n, struct vig_event *ev, enum vig_err *rc);

/* Parses the body of a kernel netfilter LOG message ("[ 341.39] PREFIX IN=... OUT=..."):
 * returns true when it is one (fields set), false otherwise (nothing set). */
bool pnetfilter_body(const char *p, size_t n, struct vig_event *ev, enum vig_err *rc);

/* Parses one audit record body ("type=SYSCALL msg=audit(...): ...") into ev, adding to what
 * is there (used for grouping). *serial receives the serial. Returns VIG_EPARSE if it is not
 * an audit record. */
enum vig_err paudit_record(const char *p, size_t n, struct vig_event *ev, uint64_t *serial,
			   char *errbuf);

/* Syslog framing only: parses the header of [line, line+len) into ev (timestamp, host,
 * program, pid, log.syslog.*) and returns the program and message body spans. */
enum vig_err psyslog_frame(struct vig_parse_ctx *ctx, const char *line, size_t len,
			   struct vig_event *ev, struct pspan *prog, struct pspan *msg, char *errbuf);

#endif
