/*
 * sigma.h - the Sigma rule loader: Sigma v2.1 YAML (detection rules, correlation rules and
 * filters) into rule objects that the detection engine (detect.h) compiles.
 *
 * Loading checks everything that can be checked without events: YAML shape, modifiers and
 * their combinations, values (numbers, CIDRs, regular expressions, placeholders) and the
 * condition, which must only name selections that exist. A rule that cannot load is refused
 * with one precise, lowercase reason in errbuf, e.g.
 *   unsupported modifier 'foo' in selection 'selection' field 'Image'
 *
 * Sigma field names are resolved to event-model names at load time through the logsource
 * mapping table (event/sigma_map.h); a field the table does not know keeps its Sigma name and
 * is looked up among the event's extension fields.
 *
 * Memory: each rule owns one bounded arena holding every string and array it points to.
 * vig_sigma_free() releases a rule and every rule chained after it.
 */
#ifndef VIG_SIGMA_H
#define VIG_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/vig.h"

/* Limits applied while loading. */
#define VIG_SIGMA_MAX_YAML (1u << 20)  /* bytes of YAML per file (default) */
#define VIG_SIGMA_MAX_ATOMS 20000      /* value tests per rule, after expansion */
#define VIG_SIGMA_MAX_DEPTH 48         /* nesting of YAML and of the condition */
#define VIG_SIGMA_MAX_RULE_BYTES (16u << 20) /* arena of one rule */

/* A placeholder for the `expand` modifier: %name% expands to the listed values (OR). */
struct vig_sigma_placeholder {
	const char *name;                /* without the % signs */
	const char *const *values;       /* values, Sigma strings (wildcards allowed) */
	size_t n_values;                 /* entries of values */
};

struct vig_sigma_opts {
	const struct vig_sigma_placeholder *placeholders; /* expand's configuration */
	size_t n_placeholders;                            /* entries of placeholders */
	bool placeholder_wildcard; /* unknown placeholder becomes `*` instead of an error */
	size_t max_bytes;          /* largest YAML accepted; 0 = VIG_SIGMA_MAX_YAML */
};

enum vig_sigma_kind {
	VIG_SIGMA_DETECTION = 0, /* a rule with logsource + detection (evaluated by detect.h) */
	VIG_SIGMA_CORRELATION,   /* a correlation rule (parsed; evaluated by a later stage) */
	VIG_SIGMA_FILTER,        /* a filter (parsed; applied by a later stage) */
};

struct vig_sigma_strlist {
	const char **v; /* items, in the rule's arena */
	size_t n;       /* number of items */
};

struct vig_sigma_related {
	const char *id;   /* related rule id */
	const char *type; /* derived, obsolete, merged, renamed, similar */
};

enum vig_sigma_corr_type {
	VIG_CORR_EVENT_COUNT = 0,
	VIG_CORR_VALUE_COUNT,
	VIG_CORR_TEMPORAL,
	VIG_CORR_TEMPORAL_ORDERED,
	VIG_CORR_VALUE_SUM,
	VIG_CORR_VALUE_AVG,
	VIG_CORR_VALUE_PERCENTILE,
};

/* Bits of vig_sigma_corr_cond.ops: which comparisons the condition holds (ANDed). */
#define VIG_CORR_GT 0x01u
#define VIG_CORR_GTE 0x02u
#define VIG_CORR_LT 0x04u
#define VIG_CORR_LTE 0x08u
#define VIG_CORR_EQ 0x10u
#define VIG_CORR_NEQ 0x20u

struct vig_sigma_corr_cond {
	unsigned ops;      /* VIG_CORR_* bits present */
	double gt, gte, lt, lte, eq, neq; /* the operand of each present comparison */
	const char *field; /* value_* correlations: the field aggregated, else NULL */
};

/* One alias of a correlation: in events of rule `rule`, alias `name` is field `field`. */
struct vig_sigma_alias {
	const char *name;  /* alias name used in group-by */
	const char *rule;  /* rule name or id */
	const char *field; /* field in that rule's events */
};

struct vig_sigma_corr {
	enum vig_sigma_corr_type type;
	struct vig_sigma_strlist rules;    /* referenced rule ids or names */
	struct vig_sigma_strlist group_by; /* fields (or aliases) grouping the events */
	int64_t timespan_s;                /* window in seconds */
	struct vig_sigma_corr_cond cond;   /* when the correlation matches */
	struct vig_sigma_alias *aliases;   /* field name aliases */
	size_t n_aliases;
	bool generate; /* also emit alerts of the referenced rules */
};

struct vig_sigma_filter {
	struct vig_sigma_strlist rules; /* ids or names of the rules filtered; empty = all */
};

struct vig_sigma_prog; /* compiled detection (private to the detect module) */

struct vig_sigma_rule {
	enum vig_sigma_kind kind;
	const char *title;       /* mandatory */
	const char *id;          /* may be NULL */
	const char *name;        /* optional unique name (correlations refer to it), or NULL */
	const char *status;      /* or NULL */
	const char *level;       /* informational, low, medium, high, critical, or NULL */
	const char *description; /* or NULL */
	const char *author;      /* or NULL */
	const char *date;        /* or NULL */
	const char *modified;    /* or NULL */
	struct vig_sigma_strlist tags, references, falsepositives, fields;
	struct vig_sigma_related *related; /* related rules */
	size_t n_related;
	struct {
		const char *product, *category, *service, *definition; /* lowercase, or NULL */
	} logsource;
	struct vig_sigma_prog *prog;     /* DETECTION and FILTER: the detection, else NULL */
	struct vig_sigma_corr *corr;     /* CORRELATION, else NULL */
	struct vig_sigma_filter *filter; /* FILTER, else NULL */
	struct vig_sigma_rule *next;     /* next rule of the same file (multi-document YAML) */
	struct vig_arena arena;          /* owns everything above */
};

/*
 * Loads every YAML document of [yaml, yaml+n) as one Sigma rule. Returns the first rule, the
 * others chained through ->next, or NULL with the reason in errbuf (VIG_ERRBUF_SIZE bytes)
 * when any document is not a valid rule. opts may be NULL. Legacy Sigma v1 collections
 * (`action: global/reset/repeat`) are refused with a clear reason.
 */
struct vig_sigma_rule *vig_sigma_load(const char *yaml, size_t n, const struct vig_sigma_opts *opts,
				      char *errbuf);
/* Reads the file at path and loads it with vig_sigma_load(). */
struct vig_sigma_rule *vig_sigma_load_file(const char *path, const struct vig_sigma_opts *opts,
					   char *errbuf);
/* Frees rule and every rule chained after it; NULL does nothing. */
void vig_sigma_free(struct vig_sigma_rule *rule);

/* Number of value tests (atoms) of a rule's detection; 0 when it has none. */
size_t vig_sigma_atom_count(const struct vig_sigma_rule *rule);

/* A growable, bounded set of rules that the engine is built from. */
struct vig_sigma_ruleset {
	struct vig_sigma_rule **rules; /* owned */
	size_t n, cap;
	size_t max_rules; /* most rules accepted */
};

/* Prepares an empty set; max_rules 0 means 100,000. */
void vig_sigma_ruleset_init(struct vig_sigma_ruleset *rs, size_t max_rules);
/* Adds rule and every rule chained after it; the set owns them from then on, also when the
 * call fails (VIG_ETOOBIG past max_rules, VIG_ENOMEM), in which case they are freed. */
enum vig_err vig_sigma_ruleset_add(struct vig_sigma_ruleset *rs, struct vig_sigma_rule *rule);
/* Frees every rule of the set; the set is empty and reusable afterwards. */
void vig_sigma_ruleset_release(struct vig_sigma_ruleset *rs);

#endif
