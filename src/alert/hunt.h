/*
 * hunt.h - retro-hunts: one Sigma detection rule run over the stored history of one tenant,
 * in the background, one hunt at a time per server.
 *
 * Prefilter: the store cannot run Sigma, the detection engine cannot read the store; a hunt
 * compiles what it safely can of the rule into the store's query language (store/query.h) so
 * that only candidate events are read, then evaluates every candidate with a detection engine
 * built for that one rule. The prefilter is a NECESSARY condition of the rule, never more
 * (candidates are a superset of the matches):
 *   - the logsource's routing fields: category process_creation -> event.category:process,
 *     network_connection -> event.category:network, file_* -> event.category:file,
 *     dns -> dns.question.name:*; service auditd -> event.dataset:auditd*, service auth ->
 *     event.dataset:system.auth (these compare exactly, so they assume the lowercase ECS
 *     values Vigil's parsers and agent write);
 *   - the condition tree: AND keeps what its children require, OR requires one of its
 *     children's requirements (only when every child has one), `k of` like OR, NOT and
 *     anything else require nothing; a value test requires its longest literal run
 *     (`field:*run*`, case-insensitive ASCII like Sigma's default), or the exact value for a
 *     wildcard-free test; `exists` tests require `field:*`. Only string fields qualify
 *     (keyword fields only for `cased` tests, since they compare case-sensitively); numeric,
 *     address, regex, CIDR and fieldref tests require nothing.
 *   Anything that would exceed VIG_HUNT_PREFILTER_MAX bytes or VIG_HUNT_PREFILTER_TERMS terms
 *   is dropped (an OR wholly, an AND child by child), which only widens the candidates.
 *
 * Scan: the range [from, to) is read day by day (the store's partitions), each day in pages
 * of VIG_HUNT_PAGE events in ascending time, resuming after the last timestamp of a page
 * (events of that timestamp already seen are skipped by id; more than a page of events with
 * one identical timestamp cannot be paged and the rest of that instant is skipped, counted in
 * `skipped`). Progress (days done/total, events scanned, hits) is visible while it runs; a
 * cancel takes effect within one page. Hit event ids are kept up to VIG_HUNT_MAX_HITS; hits are
 * counted beyond. With create_alerts every hit is also folded into alerts (the normal dedupe,
 * one transaction per page) after the alert policy (policy.h) like a live match: exceptions
 * and active suppressions drop it (counted in alerts_dropped), asset criticality raises the
 * severity.
 *
 * Queue: at most VIG_HUNT_QUEUE_MAX hunts wait (VIG_EBUSY beyond); finished hunts are kept in
 * memory (the VIG_HUNT_KEEP newest) and lost at restart.
 *
 * Tenancy: a hunt belongs to one tenant and reads only that tenant's events; get, list and
 * cancel treat another tenant's hunt as missing (VIG_ENOTFOUND).
 *
 * Threads: all functions are thread-safe; the worker thread uses the store and the control DB
 * (for alerts), both thread-safe.
 */
#ifndef VIG_ALERT_HUNT_H
#define VIG_ALERT_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/buf.h"
#include "common/vig.h"
#include "detect/sigma.h"
#include "store/evstore.h"

struct vig_policy; /* policy.h */

#define VIG_HUNT_QUEUE_MAX 16          /* hunts waiting to run */
#define VIG_HUNT_KEEP 64               /* hunts remembered (finished ones evicted oldest first) */
#define VIG_HUNT_MAX_HITS 1000         /* hit event ids kept per hunt */
#define VIG_HUNT_MAX_DAYS 400          /* days one hunt may span */
#define VIG_HUNT_PAGE 5000             /* events read per store query */
#define VIG_HUNT_PREFILTER_MAX 3800    /* bytes of the prefilter query */
#define VIG_HUNT_PREFILTER_TERMS 200   /* terms of the prefilter query */

/*
 * Compiles the prefilter of a detection rule (see the top of this file) into out as query
 * text; "" when nothing can be required (every event of the range is a candidate).
 * VIG_EINVAL when rule is not a detection rule, VIG_ENOMEM.
 */
enum vig_err vig_hunt_prefilter(const struct vig_sigma_rule *rule, struct vig_buf *out,
				char *errbuf);

enum vig_hunt_state {
	VIG_HUNT_QUEUED = 0,
	VIG_HUNT_RUNNING,
	VIG_HUNT_DONE,
	VIG_HUNT_CANCELLED,
	VIG_HUNT_FAILED,
};

/* "queued", "running", "done", "cancelled", "failed". */
const char *vig_hunt_state_name(enum vig_hunt_state s);

/* What to hunt. Strings are copied by vig_hunts_submit(). */
struct vig_hunt_spec {
	const char *tenant;     /* the tenant whose events are read (required) */
	const char *yaml;       /* one Sigma detection rule */
	size_t yaml_len;
	const char *rule_id;    /* id alerts carry; NULL = the rule's id, else "hunt-<id>" */
	int64_t from, to;       /* ns, from < to, at most VIG_HUNT_MAX_DAYS days */
	bool create_alerts;     /* fold hits into alerts */
	int64_t dedupe_window_ns; /* alerts' dedupe window (> 0 when create_alerts) */
	const char *created_by; /* user name, for the record */
};

struct vig_hunts;

/* Starts the hunt worker over store (events) and db (alerts); policy (may be NULL) decides
 * about hunt alerts like about live ones (exceptions, suppressions, asset severity). All three
 * must outlive the hunts. NULL with errbuf on failure. */
struct vig_hunts *vig_hunts_new(struct vig_evstore *store, struct vig_db *db,
				struct vig_policy *policy, char *errbuf);
/* Cancels the running hunt, stops and joins the worker, frees everything. NULL does nothing. */
void vig_hunts_free(struct vig_hunts *h);

/* Validates spec (the rule must load as exactly one detection rule), queues the hunt and
 * returns its id in *id. VIG_EINVAL with the reason, VIG_EBUSY when the queue is full. */
enum vig_err vig_hunts_submit(struct vig_hunts *h, const struct vig_hunt_spec *spec, int64_t *id,
			      char *errbuf);
/* Asks hunt id to stop (a queued hunt is cancelled at once). VIG_ENOTFOUND when absent or
 * not visible to who, VIG_ECONFLICT when it already finished. */
enum vig_err vig_hunts_cancel(struct vig_hunts *h, const struct vig_principal *who, int64_t id,
			      char *errbuf);
/* The hunt as JSON (new reference in *out): id, tenant, rule_id, title, state, prefilter,
 * from, to, created, started, finished, created_by, days_total, days_done, events_scanned,
 * hits, skipped, hit_ids (with_hits), hit_ids_truncated, create_alerts, alerts_created,
 * alerts_dropped, error. VIG_ENOTFOUND as for cancel. */
enum vig_err vig_hunts_get(struct vig_hunts *h, const struct vig_principal *who, int64_t id,
			   bool with_hits, json_t **out, char *errbuf);
/* The hunts visible to who (of tenant, NULL = all visible), newest first, without hit ids.
 * VIG_EPERM for a tenant who cannot access. */
enum vig_err vig_hunts_list(struct vig_hunts *h, const struct vig_principal *who,
			    const char *tenant, json_t **out, char *errbuf);
/* Waits until hunt id finished or timeout_ns passed; its state in *state. VIG_ETIMEOUT,
 * VIG_ENOTFOUND. (Tests and synchronous callers.) */
enum vig_err vig_hunts_wait(struct vig_hunts *h, int64_t id, int64_t timeout_ns,
			    enum vig_hunt_state *state);

#endif
