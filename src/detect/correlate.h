/*
 * correlate.h - the live Sigma correlation engine: event_count, value_count, temporal,
 * temporal_ordered, value_sum, value_avg and value_percentile correlations evaluated over the
 * stream of base-rule matches, with group-by, aliases and sliding windows in event time.
 *
 * Model. A correlation engine (struct vig_corr) is given the rule set of a detection engine
 * (vig_corr_set_rules(), the rules of vig_detect_rules()); it resolves every correlation's
 * `rules` entries by id or name (detection rules and other correlations: chains are allowed,
 * cycles are refused) and keeps per correlation rule a table of groups. A group is keyed by
 * (tenant.id, the group-by values); a group-by field missing from an event is a value of its
 * own ("missing"), distinct from every string including the empty one, so such events still
 * correlate with each other but never with events that have the field.
 *
 * Each match of a base rule (vig_corr_feed()) is added to the groups of every correlation
 * that references the rule, at the event's time (@timestamp, else the time of the call). A
 * group remembers the entries of the last `timespan` of event time (sliding window: entries
 * older than the group's newest time minus timespan drop out; an event older than that on
 * arrival is late and counted, not added). When the window satisfies the condition the
 * correlation fires (the callback receives a struct vig_corr_fire) and the group is emptied,
 * so one burst fires once.
 *   - event_count: entries in the window.            value_count: distinct values of field.
 *   - value_sum / value_avg: sum / mean of the numeric field (entries without a number are
 *     not counted).
 *   - value_percentile: the percentile rank (0-100) of the newest entry's value among the
 *     window's values of the field: the share of values less than or equal to it for
 *     numbers, the share of equal values for text (a rare value has a low rank).
 *   - temporal: the number of distinct referenced rules in the window; with no condition,
 *     all of them. temporal_ordered: the length of the longest prefix of the `rules` list
 *     that occurs in that order in the window; with no condition, the whole list.
 * Conditions with only lower bounds (gt, gte) on event_count, value_count, value_sum,
 * temporal and temporal_ordered can only become true as entries arrive, so they are checked
 * after every entry. Every other condition (lt, lte, eq, neq, and value_avg /
 * value_percentile) is checked once, when the group's window closes: when an entry at or
 * after first + timespan arrives for the group, or when vig_corr_advance() moves event time
 * past it.
 *
 * Aliases: for an entry of referenced rule R, a group-by name that is an alias with a field
 * for R (R by name or id) reads that field; otherwise the name itself. Field names are Sigma
 * names resolved through the logsource mapping (event/sigma_map.h) of the rule R, then looked
 * up as event-model names. A correlation fed by another correlation's firing reads its group
 * fields from that firing's group values (by name) and adds one entry carrying the firing's
 * event ids.
 *
 * generate: a rule referenced by correlations raises its own alerts only if at least one of
 * them says `generate: true` (vig_corr_rule_alerts()); the same holds for a correlation that
 * is referenced by another one (its firings then have alert = false but still feed the
 * referencing correlation). Rules referenced by no correlation always raise alerts.
 *
 * Bounds: at most max_groups_per_rule groups per correlation rule over all tenants (the
 * least recently updated group is evicted and counted), at most max_events_per_group entries
 * per group (the oldest entry is evicted and counted), at most max_event_ids event ids kept
 * per group and reported per firing (the most recent ones), values and ids truncated to
 * VIG_CORR_VALUE_MAX / VIG_CORR_ID_MAX bytes.
 *
 * Rule-set swaps: vig_corr_set_rules() keeps the state of every correlation whose key (id,
 * else name, else title) and definition (type, rules, group-by, field, timespan, aliases)
 * are unchanged, and drops (and counts) the rest.
 *
 * Persistence: vig_corr_save() writes the state to a file (atomically, bounded);
 * vig_corr_restore() reads it back into the current rules, dropping groups of correlations
 * that no longer exist or changed.
 *
 * Threads: every function takes the engine's internal mutex; callbacks run with it held and
 * must not call back into the same engine.
 */
#ifndef VIG_CORRELATE_H
#define VIG_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vig.h"
#include "detect/sigma.h"
#include "event/event.h"

#define VIG_CORR_VALUE_MAX 256 /* bytes kept of one group-by or value_count value */
#define VIG_CORR_ID_MAX 64     /* bytes kept of one event id */

struct vig_corr;

/* Bounds of an engine; a 0 field takes the default named in brackets. */
struct vig_corr_limits {
	size_t max_groups_per_rule;  /* groups per correlation rule, all tenants [10000] */
	size_t max_events_per_group; /* entries remembered per group [1000] */
	size_t max_event_ids;        /* event ids kept per group and reported per firing [32] */
	size_t max_snapshot_bytes;   /* largest state file written or read [64 MiB] */
};

/* One firing of a correlation rule; valid only during the callback. */
struct vig_corr_fire {
	const struct vig_sigma_rule *rule;      /* the correlation rule */
	const char *tenant;                     /* tenant.id of the group */
	const char *const *group_by;            /* names of the group-by fields (aliases as named) */
	const char *const *group_fields;        /* their event-model names (aliases and the
						 * mapping of the first referenced rule applied) */
	const char *const *group_values;        /* their values; NULL = field missing */
	size_t n_group;                         /* entries of group_by and group_values */
	double value;                           /* the number the condition was checked on */
	uint64_t n_events;                      /* entries in the window when it fired */
	int64_t first_ns, last_ns;              /* event time of the first and last entry */
	const char *const *event_ids;           /* ids of contributing events, oldest first */
	size_t n_event_ids;                     /* at most max_event_ids */
	bool alert; /* false when a referencing correlation's `generate: false` suppresses it */
};

/* Called once per firing; the return value is ignored (reserved, return 0). */
typedef int vig_corr_fire_cb(void *ctx, const struct vig_corr_fire *f);

/* Called by vig_corr_set_rules() for each correlation that cannot be evaluated (unknown
 * referenced rule, cycle, ...), with a lowercase reason; the correlation stays inactive. */
typedef void vig_corr_problem_cb(void *ctx, const struct vig_sigma_rule *rule, const char *reason);

struct vig_corr_stats {
	size_t rules;              /* active correlation rules */
	size_t inactive;           /* correlations that could not be resolved */
	size_t groups;             /* live groups, all rules */
	size_t entries;            /* remembered entries, all groups */
	uint64_t fed;              /* entries added (base matches and chained firings) */
	uint64_t fired;            /* firings */
	uint64_t evicted_groups;   /* groups evicted at max_groups_per_rule */
	uint64_t evicted_events;   /* entries evicted at max_events_per_group */
	uint64_t late_events;      /* events older than their group's window, not added */
	uint64_t dropped_groups;   /* groups dropped at a rule swap (rule gone or changed) */
	uint64_t restored_groups;  /* groups read back by vig_corr_restore() */
	uint64_t restore_skipped;  /* groups in a state file that no current rule takes */
	uint64_t errors;           /* entries lost to out of memory */
};

/* A new, empty engine with no rules; lim may be NULL (defaults). NULL when out of memory. */
struct vig_corr *vig_corr_new(const struct vig_corr_limits *lim);
/* Frees the engine and all its state; NULL does nothing. */
void vig_corr_free(struct vig_corr *c);

/*
 * Installs the rules [rules, rules+n) (all kinds; only correlations are compiled, the others
 * are the targets of references). The rule objects must stay valid until the next call or
 * vig_corr_free() (they are the detection engine's). State of unchanged correlations is
 * kept (see "Rule-set swaps"). cb (may be NULL) hears about correlations that stay inactive.
 * Errors: VIG_ENOMEM (the previous rules and state are kept).
 */
enum vig_err vig_corr_set_rules(struct vig_corr *c, struct vig_sigma_rule *const *rules, size_t n,
				vig_corr_problem_cb *cb, void *ctx, char *errbuf);

/* True when matches of rule should be recorded as alerts of their own (see "generate"). */
bool vig_corr_rule_alerts(const struct vig_corr *c, const struct vig_sigma_rule *rule);
/* True when rule is referenced by at least one active correlation (feeding it is useful). */
bool vig_corr_rule_used(const struct vig_corr *c, const struct vig_sigma_rule *rule);

/*
 * Feeds one match of rule (a rule of the installed set) on ev into every correlation that
 * references it; tenant NULL takes the event's tenant.id (missing = ""). Calls cb (may be
 * NULL) for every firing, including firings of chained correlations. *n_fired (may be NULL)
 * receives how many. Rules no correlation references are ignored (VIG_OK).
 * Errors: VIG_EINVAL (NULL rule or event), VIG_ENOMEM (state not updated, counted).
 */
enum vig_err vig_corr_feed(struct vig_corr *c, const struct vig_sigma_rule *rule, const char *tenant,
			   const struct vig_event *ev, vig_corr_fire_cb *cb, void *ctx, size_t *n_fired);

/*
 * Moves event time to now_ns: every group whose window closed before now_ns has its
 * close-time condition checked (firing through cb) and is then dropped; groups whose entries
 * all fell out of the window are dropped. Call it periodically with the newest event time
 * seen (or the wall clock). *n_fired may be NULL.
 */
enum vig_err vig_corr_advance(struct vig_corr *c, int64_t now_ns, vig_corr_fire_cb *cb, void *ctx,
			      size_t *n_fired);

/* Current counters. */
void vig_corr_get_stats(const struct vig_corr *c, struct vig_corr_stats *out);

/*
 * Writes the whole state to path (through path.tmp and a rename, mode 0600).
 * Errors: VIG_EIO, VIG_ETOOBIG (over max_snapshot_bytes; nothing written), VIG_ENOMEM.
 */
enum vig_err vig_corr_save(struct vig_corr *c, const char *path, char *errbuf);
/*
 * Reads a state file written by vig_corr_save() into the installed rules (call after
 * vig_corr_set_rules()), merging with the groups present. *restored (may be NULL) receives
 * the number of groups restored. A missing file is VIG_ENOTFOUND; a malformed one VIG_EPARSE
 * (whatever was read before the fault is kept); over max_snapshot_bytes VIG_ETOOBIG.
 */
enum vig_err vig_corr_restore(struct vig_corr *c, const char *path, size_t *restored, char *errbuf);

#endif
