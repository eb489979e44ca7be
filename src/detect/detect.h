/*
 * detect.h - the compiled Sigma detection engine: every loaded rule's value tests in one
 * multi-pattern matcher per (logsource, field), evaluated once per event.
 *
 * Build: vig_detect_build() takes a rule set (sigma.h), groups the detection rules by their
 * logsource (product, category, service), and per group and per event field de-duplicates
 * the string tests of all rules and compiles them into Hyperscan databases: the literals of
 * Sigma strings into a literal database (confirmed by a glob match), exact values into a hash
 * table, `re` values into a regex database when Hyperscan accepts them, else PCRE2 (JIT).
 * Numeric, CIDR, exists, null, time and fieldref tests are evaluated directly. Correlation
 * rules are kept but not evaluated here (correlate.h); filter rules are compiled like detection
 * rules and remove the matches of the rules they apply to (filter.h). Details in docs/rules.md.
 *
 * Match: vig_detect_match() derives the event's logsources (vig_detect_logsources(), the
 * routing documented in docs/rules.md), and for each rule group they select scans each field
 * the group uses once, marks the fired tests in a bitset, and evaluates the condition of the
 * rules that had one of their trigger tests fire plus those whose condition holds with no
 * test fired (purely negative ones). Cost grows with the event, not with the number of rules.
 *
 * Threads: the engine is immutable once built and may be shared by any number of threads;
 * each thread matches with its own scratch (vig_detect_scratch_new()). Swapping rule sets is
 * the caller's atomic pointer replacement of one engine by another; a scratch belongs to one
 * engine.
 */
#ifndef VIG_DETECT_H
#define VIG_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vig.h"
#include "detect/sigma.h"
#include "event/event.h"

struct vig_detect_engine;
struct vig_detect_scratch;

/* A logsource an event belongs to; NULL attributes are unknown. Static strings or strings
 * pointing into the event. */
struct vig_detect_logsource {
	const char *product, *category, *service;
};

#define VIG_DETECT_MAX_LS 8 /* logsources one event can belong to */

/* Figures out which Sigma logsources the event belongs to (see docs/rules.md for the table);
 * fills out[] and returns how many (at most VIG_DETECT_MAX_LS, possibly 0). A rule applies to
 * the event when every attribute its logsource names equals that of one of these. */
size_t vig_detect_logsources(const struct vig_event *ev, struct vig_detect_logsource out[VIG_DETECT_MAX_LS]);

struct vig_detect_stats {
	size_t rules;           /* rules in the set */
	size_t detection_rules; /* rules evaluated per event (kind DETECTION) */
	size_t groups;          /* distinct logsources */
	size_t atoms;           /* value tests */
	size_t hs_patterns;     /* string tests not left to PCRE2 (Hyperscan, exact values, globs) */
	size_t hs_databases;    /* Hyperscan databases (up to two per group and field) */
	size_t pcre_patterns;   /* regexes matched with PCRE2 (refused by Hyperscan, or on demand) */
	size_t direct_atoms;    /* numeric, cidr, exists, null, time, fieldref tests */
	size_t always_rules;    /* rules that can match with no test fired (negative-only) */
};

/*
 * Compiles the rules of *rs into an engine. The engine takes ownership of the rules (the set
 * is left empty, also on failure) and keeps them alive: rule pointers handed to callbacks stay
 * valid until vig_detect_free(). Returns NULL with the reason in errbuf on failure.
 */
struct vig_detect_engine *vig_detect_build(struct vig_sigma_ruleset *rs, char *errbuf);
/* Frees the engine and its rules; NULL does nothing. Scratches must be freed first. */
void vig_detect_free(struct vig_detect_engine *eng);
/* Counts of what the engine holds. */
void vig_detect_get_stats(const struct vig_detect_engine *eng, struct vig_detect_stats *out);
/* The engine's rules, all kinds, in the order they were added; *n receives the count. */
struct vig_sigma_rule *const *vig_detect_rules(const struct vig_detect_engine *eng, size_t *n);

/* Per-thread matching state for eng; NULL (errbuf says why) on failure. */
struct vig_detect_scratch *vig_detect_scratch_new(const struct vig_detect_engine *eng, char *errbuf);
void vig_detect_scratch_free(struct vig_detect_scratch *s);

/* Called once per rule that matched the event; return non-zero to stop matching. */
typedef int vig_detect_cb(void *ctx, const struct vig_sigma_rule *rule);

/*
 * Evaluates every applicable detection rule against ev and calls cb (may be NULL) for each
 * one that matches. *n_matched (may be NULL) receives the number of matches. Errors:
 * VIG_EINVAL when scratch belongs to another engine, VIG_EINTERNAL when Hyperscan fails.
 * A regex that hits PCRE2's match limit counts as not matching and is counted in the
 * scratch's pcre_errors.
 */
enum vig_err vig_detect_match(const struct vig_detect_engine *eng, struct vig_detect_scratch *s,
			      const struct vig_event *ev, vig_detect_cb *cb, void *ctx, size_t *n_matched);

/* Counters a scratch keeps across calls. */
struct vig_detect_counters {
	uint64_t events;      /* events matched */
	uint64_t groups;      /* rule groups evaluated */
	uint64_t evaluated;   /* rule conditions evaluated */
	uint64_t matched;     /* rules matched */
	uint64_t pcre_errors; /* PCRE2 matches abandoned (match limit) */
	uint64_t filtered;    /* matches removed by Sigma filters (filter.h) */
};
void vig_detect_scratch_counters(const struct vig_detect_scratch *s, struct vig_detect_counters *out);

#endif
