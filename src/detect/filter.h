/*
 * filter.h - Sigma filters (specification v2.1, `filter:` documents) inside the detection
 * engine: a filter's detection, true on an event, removes that event's matches of the rules
 * the filter names (by id or name), or of every detection rule whose logsource lies within the
 * filter's logsource (each attribute the filter names equal, case-insensitively) when it names
 * none. A filter is compiled like a detection rule, into the group of its own logsource, so it
 * is evaluated only on events of that logsource, with the same matcher.
 *
 * Use by detect.c: the engine owns one index (built from the whole rule set), each scratch one
 * run. While an event is matched, every rule that fires goes through vig_filter_run_match():
 * filters are recorded, rules some filter applies to are held, others are reported at once;
 * vig_filter_run_finish() then reports the held rules no fired filter removes, and resets the
 * run for the next event.
 */
#ifndef VIG_FILTER_H
#define VIG_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/detect.h"
#include "detect/sigma.h"

struct vig_filter_index;
struct vig_filter_run;

/* Which filters apply to which detection rules of [rules, rules+n). Filters naming no rule of
 * the set apply to nothing. NULL only when out of memory (errbuf says so). */
struct vig_filter_index *vig_filter_index_build(struct vig_sigma_rule *const *rules, size_t n, char *errbuf);
/* Frees the index; NULL does nothing. */
void vig_filter_index_free(struct vig_filter_index *fx);
/* Number of filter rules in the index. */
size_t vig_filter_index_filters(const struct vig_filter_index *fx);
/* Number of filters that apply to rule (0 for filters, correlations and unfiltered rules). */
size_t vig_filter_index_rule_filters(const struct vig_filter_index *fx, const struct vig_sigma_rule *rule);

/* Per-scratch state of fx; NULL when out of memory. */
struct vig_filter_run *vig_filter_run_new(const struct vig_filter_index *fx);
void vig_filter_run_free(struct vig_filter_run *r);

enum vig_filter_verdict {
	VIG_FILTER_PASS = 0, /* no filter applies to the rule: report the match now */
	VIG_FILTER_HELD,     /* held until vig_filter_run_finish() */
	VIG_FILTER_SELF,     /* the rule is a filter: recorded, never reported */
};

/* Records that rule matched the current event and says what to do with the match. */
enum vig_filter_verdict vig_filter_run_match(struct vig_filter_run *r, const struct vig_sigma_rule *rule);

/* Ends the event: calls cb (may be NULL) for each held rule no fired filter removes, in match
 * order, until cb returns non-zero (then *stop is set). Returns how many were reported; adds
 * the number removed to *removed. Resets r. */
size_t vig_filter_run_finish(struct vig_filter_run *r, vig_detect_cb *cb, void *ctx, bool *stop,
			     uint64_t *removed);

#endif
