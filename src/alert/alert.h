/*
 * alert.h - alerts: what a detection match becomes. The alert record, its severity and status,
 * the dedupe key, JSON encoding, and the control-DB functions (insert-or-bump inside one
 * transaction per ingest batch, list, get, update) that enforce tenant scope themselves.
 *
 * Dedupe: one alert stands for every match of one rule, in one tenant, about one entity, within
 * a dedupe window. The entity is the most specific of the event's host.name, user.name and
 * source.ip, in that order of preference: an EDR analyst triages per endpoint, so the host
 * comes first whenever the event names one (process, file, network and auth events from agents
 * always do); identity events without a host (SSO, cloud audit) group by user; network-only
 * telemetry (firewall, proxy, flow logs) groups by source address. An event with none of the
 * three groups under the rule alone. The window is fixed, not sliding: it starts at the alert's
 * first_seen, so a rule that keeps firing opens a fresh alert every window instead of one alert
 * that never ends. A closed alert is never bumped: the next match opens a new one.
 *
 * Times: first_seen / last_seen are detection times (vig_time_now() of the writer), not event
 * times, so late or replayed events cannot extend or reopen old windows.
 *
 * Storage: the control DB's `alerts` table (src/auth/db.c). Columns hold what is filtered on;
 * `event_ids` is a JSON array of at most VIG_ALERT_MAX_EVENT_IDS ids (the first ones seen);
 * `data` is a JSON object with techniques, entity, assignee and the last publish time.
 *
 * Tenancy: list/get/update take the caller's principal and never return or touch another
 * tenant's alert (a foreign id is VIG_ENOTFOUND, exactly like a missing one).
 *
 * Threads: every function locks the DB itself (vig_db_lock); a transaction object holds the
 * lock from begin to commit/abort, so the thread holding it must not call other vig_db users.
 */
#ifndef VIG_ALERT_ALERT_H
#define VIG_ALERT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"

#define VIG_ALERT_MAX_EVENT_IDS 100  /* event ids kept per alert (the first ones) */
#define VIG_ALERT_EVENT_ID_MAX 128   /* bytes of one kept event id incl. NUL; longer are skipped */
#define VIG_ALERT_RULE_ID_MAX 128    /* bytes of a rule id incl. NUL */
#define VIG_ALERT_TEXT_MAX 256       /* bytes of title, host, user, entity incl. NUL */
#define VIG_ALERT_KEY_MAX 768        /* bytes of a dedupe key incl. NUL */
#define VIG_ALERT_MAX_TECHNIQUES 16  /* ATT&CK technique ids kept per alert */
#define VIG_ALERT_TECHNIQUE_MAX 16   /* "T1059.004" incl. NUL */
#define VIG_ALERT_LIST_MAX 1000      /* rows per vig_alert_list() */
#define VIG_ALERT_TX_MAX 5000        /* alert writes per transaction before it is committed */
#define VIG_ALERT_REPUBLISH_NS (60LL * 1000000000LL) /* count bumps published at most this often */

enum vig_alert_severity {
	VIG_ALERT_SEV_INFORMATIONAL = 0,
	VIG_ALERT_SEV_LOW,
	VIG_ALERT_SEV_MEDIUM,
	VIG_ALERT_SEV_HIGH,
	VIG_ALERT_SEV_CRITICAL,
	VIG_ALERT_SEV__COUNT
};

enum vig_alert_status {
	VIG_ALERT_OPEN = 0,     /* new, nobody looked yet (stored as "open"; legacy "new" reads as open) */
	VIG_ALERT_ACKNOWLEDGED, /* someone is on it */
	VIG_ALERT_CLOSED,       /* done; further matches open a new alert */
	VIG_ALERT_STATUS__COUNT
};

/* One alert as stored. event_ids is owned (JSON array text, or NULL): vig_alert_release(). */
struct vig_alert {
	int64_t id;                              /* alerts.id */
	char tenant[VIG_NAME_MAX];               /* owning tenant */
	char rule_id[VIG_ALERT_RULE_ID_MAX];     /* the rule that fired */
	char title[VIG_ALERT_TEXT_MAX];          /* the rule's title */
	enum vig_alert_severity severity;        /* from the rule's level, raised by asset criticality */
	enum vig_alert_status status;
	int64_t count;                           /* matches folded into the alert */
	int64_t first_seen, last_seen;           /* ns, detection time */
	char host[VIG_ALERT_TEXT_MAX];           /* host.name of the first event, or "" */
	char user[VIG_ALERT_TEXT_MAX];           /* user.name of the first event, or "" */
	char entity_field[16];                   /* "host.name", "user.name", "source.ip" or "" */
	char entity[VIG_ALERT_TEXT_MAX];         /* its value */
	char assignee[VIG_NAME_MAX];             /* or "" */
	char techniques[VIG_ALERT_MAX_TECHNIQUES][VIG_ALERT_TECHNIQUE_MAX]; /* "T1059.004" */
	size_t n_techniques;
	char *event_ids;                         /* JSON array of strings, owned, or NULL */
	int64_t incident_id;                     /* the incident holding the alert, 0 = none */
	int64_t event_time;                      /* @timestamp of the first matching event, 0 = unknown */
};

/* What one match carries into vig_alert_tx_record(). Strings are borrowed; NULL = absent. */
struct vig_alert_match {
	const char *tenant;            /* the event's tenant (required) */
	const char *rule_id;           /* required */
	const char *title;             /* required */
	const char *level;             /* Sigma level or NULL */
	const char *const *tags;       /* Sigma tags (attack.tNNNN become techniques) */
	size_t n_tags;
	const char *host, *user, *source_ip;
	const char *event_id;          /* the matching event's id */
	int64_t event_ns;              /* the event's @timestamp (ns), 0 = unknown; the MTTD reads it */
	bool has_severity;             /* severity below overrides the level (asset criticality, policy.h) */
	enum vig_alert_severity severity;
};

/* "informational", "low", ... for a severity; "unknown" when out of range. */
const char *vig_alert_severity_name(enum vig_alert_severity s);
/* Severity of a Sigma level; NULL or an unknown level is medium (Sigma's own default). */
enum vig_alert_severity vig_alert_severity_of_level(const char *level);
/* Parses a severity name exactly; false when unknown. */
bool vig_alert_severity_parse(const char *s, enum vig_alert_severity *out);
/* "open", "acknowledged", "closed". */
const char *vig_alert_status_name(enum vig_alert_status s);
/* Parses a status name ("new" is read as open); false when unknown. */
bool vig_alert_status_parse(const char *s, enum vig_alert_status *out);

/* Extracts ATT&CK technique ids from Sigma tags: "attack.t1059.004" gives "T1059.004";
 * tactics ("attack.execution"), groups ("attack.g0007") and malformed ids are skipped.
 * Writes at most cap distinct ids into out and returns how many. */
size_t vig_alert_techniques(const char *const *tags, size_t n_tags,
			    char out[][VIG_ALERT_TECHNIQUE_MAX], size_t cap);

/* Computes the dedupe key of a match into key and the chosen entity (see the top of this file)
 * into *entity_field / *entity (pointing at static names / into m, or "" when none).
 * VIG_EINVAL without tenant or rule id, VIG_ETOOBIG when the key would not fit. */
enum vig_err vig_alert_dedupe_key(const struct vig_alert_match *m, char key[VIG_ALERT_KEY_MAX],
				  const char **entity_field, const char **entity, char *errbuf);

/* The alert as a JSON object (new reference): id, tenant, rule_id, title, severity, status,
 * count, first_seen, last_seen (RFC 3339), host, user, entity {field, value}, assignee,
 * techniques, event_ids, incident_id (null when in no incident). NULL on out of memory. */
json_t *vig_alert_to_json(const struct vig_alert *a);

/* Frees what a holds (event_ids); the struct itself is the caller's. NULL does nothing. */
void vig_alert_release(struct vig_alert *a);

/* ---- writing: one transaction per ingest batch ---- */

struct vig_alert_tx;

enum vig_alert_outcome {
	VIG_ALERT_CREATED = 0, /* a new alert was inserted */
	VIG_ALERT_BUMPED,      /* an existing alert's count and last_seen were raised */
};

/* Locks db and begins an IMMEDIATE transaction. window_ns is the dedupe window (> 0).
 * On success *out holds the lock until vig_alert_tx_commit() or vig_alert_tx_abort(). */
enum vig_err vig_alert_tx_begin(struct vig_db *db, int64_t window_ns, struct vig_alert_tx **out,
				char *errbuf);

/*
 * Folds one match observed at now (ns) into the alerts: bumps the open alert with the same
 * dedupe key whose window (first_seen + window) still covers now, else inserts a new one.
 * *outcome and *alert_id (either may be NULL) say what happened. *publish (may be NULL) is set
 * when the alert should go to the live stream: always when created, and for a bump when the
 * last publish is VIG_ALERT_REPUBLISH_NS or more ago (the publish time is then recorded).
 * After VIG_ALERT_TX_MAX writes the transaction is committed, the DB lock released and
 * re-taken (letting waiting API calls in) and a new transaction begun, so a batch never holds
 * an unbounded transaction nor the lock for long. Errors: VIG_EINVAL (match incomplete),
 * VIG_ETOOBIG (dedupe key), VIG_EIO (database); the transaction stays usable after EINVAL and
 * ETOOBIG.
 */
enum vig_err vig_alert_tx_record(struct vig_alert_tx *tx, const struct vig_alert_match *m,
				 int64_t now, enum vig_alert_outcome *outcome, int64_t *alert_id,
				 bool *publish, char *errbuf);

/* Commits, unlocks and frees tx. On failure the transaction is rolled back (VIG_EIO). */
enum vig_err vig_alert_tx_commit(struct vig_alert_tx *tx, char *errbuf);
/* Rolls back, unlocks and frees tx; NULL does nothing. */
void vig_alert_tx_abort(struct vig_alert_tx *tx);

/* ---- reading and triage ---- */

/* Filters of vig_alert_list(); zero/NULL fields do not filter. */
struct vig_alert_filter {
	const char *tenant;          /* requested tenant (provider callers), NULL/"" = caller's scope */
	bool has_status;
	enum vig_alert_status status;
	bool has_severity;
	enum vig_alert_severity severity; /* this severity or higher */
	const char *rule_id;         /* exact rule id */
	const char *host;            /* exact host */
	int64_t since;               /* last_seen >= since (ns) */
	int64_t limit;               /* rows, 1..VIG_ALERT_LIST_MAX (0 = 100) */
};

/* Lists alerts visible to who, newest last_seen first. *out (free with vig_alert_list_free())
 * gets *n rows. VIG_EPERM when filter->tenant names a tenant who cannot see. */
enum vig_err vig_alert_list(struct vig_db *db, const struct vig_principal *who,
			    const struct vig_alert_filter *filter, struct vig_alert **out, size_t *n,
			    char *errbuf);
/* Frees a list from vig_alert_list(); NULL does nothing. */
void vig_alert_list_free(struct vig_alert *list, size_t n);

/* Reads alert id into *out (release with vig_alert_release()). VIG_ENOTFOUND when it does not
 * exist or who may not see its tenant. */
enum vig_err vig_alert_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   struct vig_alert *out, char *errbuf);

/*
 * Changes the status (status NULL: keep) and/or assignee (NULL: keep, "": clear; at most
 * VIG_NAME_MAX - 1 bytes) of alert id in one transaction. before/after (may be NULL) receive
 * the alert as it was and as it is (release both). VIG_ENOTFOUND as for vig_alert_get(),
 * VIG_EINVAL for a bad assignee.
 */
enum vig_err vig_alert_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const enum vig_alert_status *status, const char *assignee,
			      struct vig_alert *before, struct vig_alert *after, char *errbuf);

#endif
