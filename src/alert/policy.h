/*
 * policy.h - what decides, at alert recording, whether a rule match becomes an alert and how
 * severe it is: asset criticality (assets.c), suppression windows and per-rule exceptions
 * (exceptions.c), all read by the detection stage from one in-memory snapshot (policy.c).
 *
 * Severity: an alert's severity is its rule's level (vig_alert_severity_of_level()) raised by
 * one step when the event involves a `high` asset and by two for a `critical` one, capped at
 * critical; `low` and `medium` assets keep the rule's level. The assets an event involves are
 * the known assets (of the event's tenant) named by its host.name (case-insensitive), host.ip,
 * source.ip or destination.ip; the most critical of them counts.
 *
 * Condition sets (exceptions and suppressions): a JSON object {"field": value | [values]}.
 * Fields are event-model names (core or extension). A set matches an event when every field
 * matches (AND); a field matches when one of its values does (OR); a value is Sigma-like: the
 * whole text of the field, ASCII case-insensitive, with `*` (any run) and `?` (one byte)
 * wildcards and `\` escaping them. A list field (host.ip, related.*) matches when one element
 * does. An absent field never matches. The special value `null` is not accepted: use a
 * wildcard on another field.
 *
 * Exceptions belong to a (tenant, rule id): an event of that tenant matching one of the rule's
 * exceptions raises no alert. Suppressions belong to a tenant, optionally to one rule, and
 * hold until a time: while now < until, matching events raise no alert for that rule (or any
 * rule). Exceptions and suppressions created in the provider tenant (VIG_DB_PROVIDER_TENANT)
 * apply to the events of every tenant, like the provider's rules. Each keeps a hit counter
 * (since the server started; carried across reloads) exposed by the API.
 *
 * Storage: assets live in the control DB's `assets` table (migration 1; hostname is the key,
 * an asset known only by its address is stored with its address as hostname). Suppressions
 * and exceptions live in tables `suppressions` and `rule_exceptions`, created when absent by
 * vig_policy_new() (CREATE TABLE IF NOT EXISTS: they are not a numbered migration of
 * src/auth/db.c yet; adding one later is compatible).
 *
 * Snapshot: vig_policy_reload() reads all three tables (bounded by the VIG_POLICY_MAX_*
 * limits) into an immutable, reference-counted snapshot and swaps it in under a mutex; the
 * detection stage takes one reference per batch (vig_policy_acquire()), so it never touches
 * the control DB for policy and never sees a half-applied change. The API reloads after each
 * change it commits.
 *
 * Threads: every function is thread-safe; snapshots are immutable except for their atomic hit
 * counters.
 */
#ifndef VIG_ALERT_POLICY_H
#define VIG_ALERT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alert/alert.h"
#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"
#include "event/event.h"

#define VIG_POLICY_MAX_ASSETS 100000      /* assets held in a snapshot (all tenants) */
#define VIG_POLICY_MAX_SUPPRESSIONS 10000 /* suppressions held in a snapshot */
#define VIG_POLICY_MAX_EXCEPTIONS 10000   /* exceptions held in a snapshot */
#define VIG_COND_MAX_FIELDS 16            /* fields of one condition set */
#define VIG_COND_MAX_VALUES 64            /* values of one field */
#define VIG_COND_VALUE_MAX 1024           /* bytes of one value, NUL excluded */
#define VIG_ASSET_TEXT_MAX 256            /* bytes of hostname, owner, incl. NUL */
#define VIG_ASSET_MAX_TAGS 32             /* tags of one asset */
#define VIG_ASSET_LIST_MAX 1000           /* rows of one vig_asset_list() */
#define VIG_POLICY_REASON_MAX 1024        /* bytes of a reason, NUL excluded */

/* ---- criticality and severity ---- */

enum vig_crit {
	VIG_CRIT_LOW = 0,
	VIG_CRIT_MEDIUM,
	VIG_CRIT_HIGH,
	VIG_CRIT_CRITICAL,
	VIG_CRIT__COUNT
};

/* "low", "medium", "high", "critical"; "unknown" when out of range. */
const char *vig_crit_name(enum vig_crit c);
/* Parses a criticality name exactly; false when unknown. */
bool vig_crit_parse(const char *s, enum vig_crit *out);
/* The severity s raised for an asset of criticality c (see the top of this file). */
enum vig_alert_severity vig_severity_for_asset(enum vig_alert_severity s, enum vig_crit c);

/* ---- condition sets ---- */

struct vig_cond {
	char *field;     /* event-model name (owned) */
	char **values;   /* patterns (owned) */
	size_t n_values; /* 1..VIG_COND_MAX_VALUES */
};

struct vig_condset {
	struct vig_cond *conds; /* owned */
	size_t n;               /* 1..VIG_COND_MAX_FIELDS */
};

/* ASCII case-insensitive match of the whole text s[0..n) against pat (`*`, `?`, `\` escape).
 * Iterative, O(len(pat) * n) at worst. */
bool vig_wildcard_match(const char *pat, const char *s, size_t n);

/* Reads a condition set from a JSON object (see the top of this file) into *out. VIG_EINVAL
 * with a precise reason ("conditions: field 'x': ...") when it is not one; out is then empty. */
enum vig_err vig_condset_from_json(const json_t *obj, struct vig_condset *out, char *errbuf);
/* The set as a JSON object {"field": [values]} (new reference), NULL on out of memory. */
json_t *vig_condset_to_json(const struct vig_condset *cs);
/* Does ev match every condition of cs? An empty set matches nothing. */
bool vig_condset_match(const struct vig_condset *cs, const struct vig_event *ev);
/* Frees what cs holds; the struct is the caller's. */
void vig_condset_release(struct vig_condset *cs);

/* ---- assets (assets.c) ---- */

struct vig_asset {
	int64_t id;                         /* assets.id */
	char tenant[VIG_NAME_MAX];          /* owning tenant */
	char hostname[VIG_ASSET_TEXT_MAX];  /* host name (or the address when only that is known) */
	char ip[64];                        /* address text, or "" */
	enum vig_crit criticality;
	char owner[VIG_ASSET_TEXT_MAX];     /* or "" */
	char *tags;                         /* JSON array text (owned), or NULL */
	int64_t created, updated;           /* ns */
};

/* Fields of a create or update; NULL leaves a field alone (update) or default (create). */
struct vig_asset_fields {
	const char *hostname;
	const char *ip;               /* "" clears on update */
	const enum vig_crit *criticality;
	const char *owner;            /* "" clears on update */
	const json_t *tags;           /* JSON array of strings; NULL keeps */
};

/* The asset as JSON: id, tenant, hostname, ip, criticality, owner, tags, created, updated. */
json_t *vig_asset_to_json(const struct vig_asset *a);
/* Frees a's tags; the struct is the caller's. */
void vig_asset_release(struct vig_asset *a);

/* Creates an asset of tenant (who must be able to access it). Either hostname or ip is
 * required; ip must parse as an address; criticality defaults to medium. *out (may be NULL)
 * receives the stored row (release it). VIG_EEXIST when the tenant has that hostname,
 * VIG_EINVAL for bad fields, VIG_EPERM for a tenant who cannot access. */
enum vig_err vig_asset_create(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			      const struct vig_asset_fields *f, struct vig_asset *out, char *errbuf);
/* Lists assets visible to who (tenant NULL = every tenant who may see), by hostname. */
enum vig_err vig_asset_list(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			    size_t limit, struct vig_asset **out, size_t *n, char *errbuf);
void vig_asset_list_free(struct vig_asset *list, size_t n);
/* Reads asset id; VIG_ENOTFOUND when absent or not visible to who. */
enum vig_err vig_asset_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   struct vig_asset *out, char *errbuf);
/* Updates asset id; before/after (may be NULL) receive the rows (release both). */
enum vig_err vig_asset_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const struct vig_asset_fields *f, struct vig_asset *before,
			      struct vig_asset *after, char *errbuf);
/* Deletes asset id; *before (may be NULL) receives it. */
enum vig_err vig_asset_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      struct vig_asset *before, char *errbuf);

/* ---- suppressions and exceptions (exceptions.c) ---- */

enum vig_policy_kind { VIG_POLICY_SUPPRESSION = 0, VIG_POLICY_EXCEPTION };

/* One suppression or exception as stored. */
struct vig_policy_entry {
	enum vig_policy_kind kind;
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char rule_id[VIG_ALERT_RULE_ID_MAX]; /* "" = every rule (suppressions only) */
	struct vig_condset conds;            /* owned */
	int64_t until;                       /* suppressions: ns; exceptions: 0 */
	char *reason;                        /* owned, may be "" */
	char created_by[VIG_NAME_MAX];
	int64_t created;                     /* ns */
};

/* Reads and validates a create body: {"conditions": {...}, "reason": "...", "rule_id": "..."
 * (suppressions, optional), "until": RFC 3339 | epoch s (suppressions, required, after now)}
 * into *e (kind and rule_id as given by the caller for exceptions). VIG_EINVAL with a
 * reason. */
enum vig_err vig_policy_entry_from_json(enum vig_policy_kind kind, const json_t *body,
					int64_t now, struct vig_policy_entry *e, char *errbuf);
/* Stores e (tenant set by the caller, who must be able to access it); e->id and e->created
 * are filled in. */
enum vig_err vig_policy_entry_create(struct vig_db *db, const struct vig_principal *who,
				     struct vig_policy_entry *e, char *errbuf);
/* Lists the entries of kind visible to who: of tenant (NULL = every visible one) and, when
 * rule_id is not NULL, of that rule. Suppressions include expired ones only when
 * include_expired. */
enum vig_err vig_policy_entry_list(struct vig_db *db, const struct vig_principal *who,
				   enum vig_policy_kind kind, const char *tenant,
				   const char *rule_id, bool include_expired, int64_t now,
				   struct vig_policy_entry **out, size_t *n, char *errbuf);
void vig_policy_entry_list_free(struct vig_policy_entry *list, size_t n);
/* Deletes entry id of kind; *before (may be NULL) receives it. VIG_ENOTFOUND when absent or
 * not visible to who. */
enum vig_err vig_policy_entry_delete(struct vig_db *db, const struct vig_principal *who,
				     enum vig_policy_kind kind, int64_t id,
				     struct vig_policy_entry *before, char *errbuf);
/* Every entry of kind of every tenant (suppressions: only those active at now), at most max,
 * ordered by id: what a snapshot holds. */
enum vig_err vig_policy_entry_load_all(struct vig_db *db, enum vig_policy_kind kind, int64_t now,
				       size_t max, struct vig_policy_entry **out, size_t *n,
				       char *errbuf);
/* The entry as JSON (hits supplied by the caller). */
json_t *vig_policy_entry_to_json(const struct vig_policy_entry *e, uint64_t hits);
void vig_policy_entry_release(struct vig_policy_entry *e);

/* ---- the snapshot (policy.c) ---- */

struct vig_policy;      /* the holder */
struct vig_policy_snap; /* one immutable snapshot, reference counted */

enum vig_policy_verdict {
	VIG_POLICY_ALERT = 0,  /* record the alert (with the computed severity) */
	VIG_POLICY_EXCEPTED,   /* an exception of the rule matched */
	VIG_POLICY_SUPPRESSED, /* an active suppression matched */
};

/* Loads the first snapshot of the suppressions and rule_exceptions tables (control DB
 * migration 4). db must outlive the holder. NULL with errbuf on failure. */
struct vig_policy *vig_policy_new(struct vig_db *db, char *errbuf);
/* Frees the holder; snapshots still referenced are freed at their last release. */
void vig_policy_free(struct vig_policy *p);
/* Reads the tables again and swaps the snapshot (hit counters carried over by id). Must not
 * be called with the DB lock held. */
enum vig_err vig_policy_reload(struct vig_policy *p, char *errbuf);
/* Takes a reference to the current snapshot (never NULL). */
struct vig_policy_snap *vig_policy_acquire(struct vig_policy *p);
/* Drops a reference; NULL does nothing. */
void vig_policy_snap_release(struct vig_policy_snap *s);

/*
 * Decides about one match of rule_id on ev (of tenant) at now: an exception first, then a
 * suppression (each hit counted), else VIG_POLICY_ALERT with *sev raised for the most
 * critical asset involved (*sev holds the rule's severity on entry). *crit (may be NULL)
 * receives that asset's criticality, or -1 when no known asset is involved. *entry_id (may be
 * NULL) receives the id of the exception or suppression that matched.
 */
enum vig_policy_verdict vig_policy_apply(struct vig_policy_snap *s, const struct vig_event *ev,
					 const char *tenant, const char *rule_id, int64_t now,
					 enum vig_alert_severity *sev, int *crit, int64_t *entry_id);
/* Counts one verdict of vig_policy_apply() in the holder's totals (raised: the severity was
 * raised by an asset). */
void vig_policy_count(struct vig_policy *p, enum vig_policy_verdict v, bool raised);
/* The hit counter of entry (kind, id) in the current snapshot, 0 when absent. */
uint64_t vig_policy_hits(struct vig_policy *p, enum vig_policy_kind kind, int64_t id);
/* Totals since start: matches dropped by exceptions and by suppressions, and alerts whose
 * severity an asset raised. */
void vig_policy_totals(struct vig_policy *p, uint64_t *excepted, uint64_t *suppressed,
		       uint64_t *raised);

#endif
