/*
 * rules.h - the live detection rule set of vigild: every enabled rule of the control DB's
 * `rules` table plus the files of an optional rules directory, compiled into one detection
 * engine (detect/detect.h) that is swapped atomically when rules change.
 *
 * Ownership: a rule of tenant T applies to T's events only; rules of the provider tenant
 * (VIG_DB_PROVIDER_TENANT) and of the rules directory apply to every tenant. The engine holds
 * all of them; vig_alert_engine_rule() tells the detection stage whose rule fired.
 *
 * Swapping: the current engine sits behind a pointer guarded by a mutex and carries a
 * reference count. A reader (the ingest writer) takes a reference once per batch with
 * vig_alert_rules_acquire(), matches the whole batch with that engine, and releases it; a
 * rebuild compiles a new engine without any lock held and replaces the pointer in one step.
 * Every batch is therefore evaluated by exactly one engine, whole: no event is skipped or
 * evaluated twice across a swap. The old engine is freed when its last reference goes.
 *
 * Rebuilds run on the holder's own thread: vig_alert_rules_request() marks the set dirty and
 * returns at once; requests arriving during a build cause one more build afterwards.
 * A rule that no longer loads is skipped and counted (load_failures); an engine that fails to
 * build leaves the previous one in place.
 */
#ifndef VIG_ALERT_RULES_H
#define VIG_ALERT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/db.h"
#include "common/vig.h"
#include "detect/detect.h"

#define VIG_ALERT_RULES_MAX 100000     /* rules in one engine */
#define VIG_ALERT_RULES_DIR_DEPTH 8    /* subdirectory levels read below rules_dir */
#define VIG_ALERT_RULE_YAML_MAX (256 * 1024) /* bytes of one rule's YAML */

struct vig_alert_rules;  /* the holder */
struct vig_alert_engine; /* one built engine with its ownership table, reference counted */

/* Whose rule an engine rule is. */
struct vig_alert_rule_info {
	const char *tenant;  /* owning tenant; NULL = applies to every tenant */
	const char *rule_id; /* the id alerts carry: the DB id, else the Sigma id, else the file */
	const char *file;    /* a rules_dir rule's file, relative to rules_dir; NULL = a DB rule */
};

struct vig_alert_rules_status {
	uint64_t generation;     /* engines built so far (the first is 1) */
	size_t rules;            /* rules in the current engine */
	size_t detection_rules;  /* of which are evaluated per event */
	uint64_t load_failures;  /* rules skipped because they did not load, since start */
	uint64_t build_failures; /* engine builds that failed, since start */
	bool pending;            /* a rebuild is requested or running */
};

/*
 * Loads the enabled DB rules and the rules under rules_dir (NULL or "" = none; *.yml and
 * *.yaml files, VIG_ALERT_RULES_DIR_DEPTH levels deep), builds the first engine synchronously
 * and starts the rebuild thread. db must outlive the holder. NULL with errbuf on failure
 * (an engine that cannot be built even empty, or no thread).
 */
struct vig_alert_rules *vig_alert_rules_new(struct vig_db *db, const char *rules_dir, char *errbuf);
/* Stops the thread and frees the holder; engines still referenced are freed at their last
 * release. NULL does nothing. */
void vig_alert_rules_free(struct vig_alert_rules *r);

/* Asks for a rebuild (after a rule changed); returns at once. Thread-safe. */
void vig_alert_rules_request(struct vig_alert_rules *r);
/* Rebuilds and swaps synchronously on the calling thread (tests, start-up). Thread-safe. */
enum vig_err vig_alert_rules_rebuild(struct vig_alert_rules *r, char *errbuf);
/* Current counters. Thread-safe. */
void vig_alert_rules_status(struct vig_alert_rules *r, struct vig_alert_rules_status *out);

/* Takes a reference to the current engine (never NULL). Thread-safe. */
struct vig_alert_engine *vig_alert_rules_acquire(struct vig_alert_rules *r);
/* Drops a reference; the last one frees an engine that was swapped out. NULL does nothing. */
void vig_alert_engine_release(struct vig_alert_engine *e);

/* The compiled detection engine (share across threads; one scratch per thread). */
const struct vig_detect_engine *vig_alert_engine_detect(const struct vig_alert_engine *e);
/* The generation of this engine. */
uint64_t vig_alert_engine_generation(const struct vig_alert_engine *e);
/* Ownership of rule (a rule of this engine), or NULL if it does not belong to the engine. */
const struct vig_alert_rule_info *vig_alert_engine_rule(const struct vig_alert_engine *e,
							const struct vig_sigma_rule *rule);
/* Does the engine hold the DB rule (tenant, id)? */
bool vig_alert_engine_has(const struct vig_alert_engine *e, const char *tenant,
			  const char *rule_id);

#endif
