/*
 * reduce.h - the reduction stage of vigild's ingest (DESIGN "Reduce"): policy filters and
 * duplicate merging, with the raw originals of merged events kept as evidence.
 *
 * Policies live in the control DB table reduction_policies (created by this module) and are
 * managed through /api/v1/reduction/policies. Each has a tenant, an action (drop or keep) and
 * a query in the search syntax (query.h), evaluated in memory (store/query_eval.h) on every
 * event of its tenant before the append: an event matching a keep policy is kept; otherwise
 * an event matching a drop policy is dropped (counted per policy and per source, never
 * silent). At most reduction.max_policies are held.
 *
 * Merging (reduction.merge): within one ingest batch, events identical after normalisation
 * (every field except @timestamp, event.id, event.ingested, event.created and message) whose
 * timestamps lie within reduction.window_s of the group's first are stored as one event: the
 * first, with event.count = N, event.start / event.end = earliest / latest @timestamp and the
 * extension vigil.evidence_id naming a row of reduction_evidence, which holds the N raw
 * messages, zstd-compressed (at most VIG_REDUCE_EVIDENCE_MAX raw bytes per group; more are
 * counted as truncated). GET /api/v1/reduction/evidence/{id} returns them.
 *
 * Threads: vig_reduce_batch runs on the ingest writer; the API reloads policies from the
 * loop thread; a mutex guards the policy set. Counters are atomics.
 */
#ifndef VIG_SERVER_REDUCE_H
#define VIG_SERVER_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/vig.h"
#include "event/event.h"

struct vig_server;
struct vig_sources;
struct vig_reduce;

#define VIG_REDUCE_EVIDENCE_MAX (1u << 20) /* raw bytes of evidence kept per merged group */
#define VIG_REDUCE_QUERY_MAX 4096          /* bytes of a policy query */

/* Creates the tables and loads the policies. NULL with errbuf on failure. */
struct vig_reduce *vig_reduce_new(struct vig_server *srv, char *errbuf);
void vig_reduce_free(struct vig_reduce *rd);

/* Applies policies and merging to the n events of ptrs (slots: their sources, aligned with
 * ptrs, may hold -1; drops and merges are noted in lb, which may be NULL); compacts ptrs and
 * slots in place and returns the events kept. New values (event.count, ...) go into arena. */
struct vig_logs_batch;
size_t vig_reduce_batch(struct vig_reduce *rd, struct vig_logs_batch *lb,
			struct vig_arena *arena, struct vig_event **ptrs, int *slots, size_t n);

/* Re-reads the policies from the control DB. */
enum vig_err vig_reduce_reload(struct vig_reduce *rd, char *errbuf);

/* Policies visible to who (tenant filter when not NULL/""), as a JSON array with hit counts. */
json_t *vig_reduce_policies_json(struct vig_reduce *rd, const struct vig_principal *who,
				 const char *tenant);
/* Validates and stores a policy {tenant?, action, query, description?}; *out gets it (new
 * reference). VIG_EINVAL with the reason (bad query: its column), VIG_ETOOBIG at the limit. */
enum vig_err vig_reduce_policy_add(struct vig_reduce *rd, const struct vig_principal *who,
				   json_t *body, json_t **out, char *errbuf);
/* Deletes policy id if who may see it; *before gets it. VIG_ENOTFOUND otherwise. */
enum vig_err vig_reduce_policy_delete(struct vig_reduce *rd, const struct vig_principal *who,
				      int64_t id, json_t **before, char *errbuf);
/* Counters as a JSON object. */
json_t *vig_reduce_stats_json(struct vig_reduce *rd);
/* Evidence row id visible to who: {id, tenant, count, first, last, truncated, lines[]}.
 * VIG_ENOTFOUND otherwise. */
enum vig_err vig_reduce_evidence(struct vig_reduce *rd, const struct vig_principal *who,
				 int64_t id, json_t **out, char *errbuf);
/* Appends the reduction metrics to a /metrics reply. */
void vig_reduce_metrics(struct vig_reduce *rd, struct vig_buf *b);

#endif
