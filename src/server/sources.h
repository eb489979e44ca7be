/*
 * sources.h - log sources inside vigild: the source registry (who sends us events, how many,
 * how well they parse, when they were last heard from, and whether they are healthy) and the
 * raw-log batch, the unit in which syslog receivers and POST /api/v1/ingest/raw hand raw
 * records to the one durable ingest path (ingest.c).
 *
 * A source is keyed by (scope, type, address):
 *   syslog   scope "", address = the sender's IP; its tenant is an attribute (syslog.tenant
 *            until an administrator maps it elsewhere with PATCH /api/v1/sources/{id}).
 *   raw      scope = the caller's tenant, address = ?source= of POST /api/v1/ingest/raw.
 *   agent    scope = tenant, address = agent.id of events posted to /api/v1/events.
 *   api      scope = tenant, address = observer.name, else host.name, else the caller.
 * Counters per source: received (records that reached vigild), parsed (events stored),
 * failed (records no parser accepted), dropped (records lost before parsing: oversize,
 * queue full on UDP, shutdown), filtered (dropped by a reduction policy), merged (folded
 * into another event). The registry is bounded (sources.max); records of sources beyond it
 * are still ingested and counted in vigil_sources_overflow_total.
 *
 * Health: a job (its own thread, every sources.check_interval_s) computes rates, raises an
 * alert through the alert module (rule ids health:source-silent and health:source-errors)
 * when a source is silent longer than its silence_after_s or its parse-error share over the
 * last interval passes sources.error_rate_pct, closes the alert when the source recovers, and
 * persists the registry into the control DB table log_sources (created by this module).
 *
 * Threads: every function may be called from any thread; one mutex guards the registry.
 */
#ifndef VIG_SERVER_SOURCES_H
#define VIG_SERVER_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "common/arena.h"
#include "common/vig.h"
#include "event/event.h"

struct vig_server;
struct vig_sources;

#define VIG_SOURCE_TYPE_MAX 16   /* bytes of a source type incl. NUL */
#define VIG_SOURCE_ADDR_MAX 128  /* bytes of a source address incl. NUL */
#define VIG_SOURCE_TEXT_MAX 128  /* bytes of name, asset, hostname, app incl. NUL */

enum vig_src_counter {
	VIG_SRC_RECEIVED, /* records that reached vigild */
	VIG_SRC_PARSED,   /* events stored */
	VIG_SRC_FAILED,   /* records no parser accepted */
	VIG_SRC_DROPPED,  /* records lost before parsing (counted, never silent) */
	VIG_SRC_FILTERED, /* events dropped by a reduction policy */
	VIG_SRC_MERGED,   /* events folded into a duplicate */
	VIG_SRC__COUNT
};

/* ---- registry ---- */

/* Loads the registry from the control DB (creating its table). NULL with errbuf on failure. */
struct vig_sources *vig_sources_new(struct vig_server *srv, char *errbuf);
/* Persists and frees; NULL does nothing. */
void vig_sources_free(struct vig_sources *s);
/* Slot of source (scope, type, addr), created on first use; -1 when the registry is full
 * (counted). Slots stay valid for the registry's life. */
int vig_sources_ref(struct vig_sources *s, const char *scope, const char *type, const char *addr);
/* Adds n to counter c of slot (slot < 0 does nothing). */
void vig_sources_add(struct vig_sources *s, int slot, enum vig_src_counter c, uint64_t n);
/* Notes that slot produced ev at now (ns): last_seen, hostname, app, transport. */
void vig_sources_seen(struct vig_sources *s, int slot, const struct vig_event *ev, int64_t now);
/* The tenant events of slot belong to, copied into out; false when the slot has none. */
bool vig_sources_tenant(struct vig_sources *s, int slot, char out[VIG_NAME_MAX]);
/* The registry as a JSON array (new reference) of the sources who may see, filtered to
 * tenant when not NULL/"". */
json_t *vig_sources_list(struct vig_sources *s, const struct vig_principal *who,
			 const char *tenant);
/* Applies a PATCH body {name, asset, tenant, silence_after_s} to source id; *before and
 * *after (new references) describe it. VIG_ENOTFOUND (unknown or not visible), VIG_EINVAL
 * (bad body, with the field in errbuf). */
enum vig_err vig_sources_patch(struct vig_sources *s, const struct vig_principal *who, int64_t id,
			       json_t *body, json_t **before, json_t **after, char *errbuf);
/* One health pass at now (ns): rates, alerts raised and closed, persistence. */
enum vig_err vig_sources_check(struct vig_sources *s, int64_t now, char *errbuf);
/* Appends the registry metrics to a /metrics reply. */
struct vig_buf;
void vig_sources_metrics(struct vig_sources *s, struct vig_buf *b);

/* Starts / stops the health job thread of srv->sources. */
enum vig_err vig_sources_start(struct vig_server *srv, char *errbuf);
void vig_sources_stop(struct vig_server *srv);

/* ---- raw-log batches (the ingest writer's side) ---- */

/* How the records of a raw batch are framed and attributed. */
struct vig_logs_spec {
	char format[16];                  /* parser name, or "auto" */
	char type[VIG_SOURCE_TYPE_MAX];   /* source type: "syslog", "raw" */
	char address[VIG_SOURCE_ADDR_MAX]; /* source address when not per record */
	char transport[8];                /* "udp", "tcp", "tls", "http" */
	char sep;                         /* record separator: '\n' or '\0' */
	bool peer_prefix;                 /* each record starts with "ADDRESS " (syslog) */
	int64_t ref_ns;                   /* reference time for yearless timestamps (0 = now) */
};

struct vig_logs_batch; /* opaque: a spec plus per-event attribution, owned by the ingest batch */

/* A new batch for spec (copied); NULL on out of memory. */
struct vig_logs_batch *vig_logs_batch_new(const struct vig_logs_spec *spec);
void vig_logs_batch_free(struct vig_logs_batch *lb);
/* Records in body (non-empty, by the spec's separator). */
size_t vig_logs_count(const struct vig_logs_batch *lb, const char *body, size_t len);

/* Called for a record that is refused: its 1-based number and the reason. */
typedef void vig_logs_reject_fn(void *arg, size_t record, const char *msg);

/* Parses the records of body into evs (events in arena, at most cap), sets their tenant
 * (the source's mapping, else who's tenant) and returns the number of events; refused
 * records go to reject. Writer thread. */
size_t vig_logs_decode(struct vig_server *srv, struct vig_logs_batch *lb,
		       const struct vig_principal *who, char *body, size_t len,
		       struct vig_arena *arena, struct vig_event *evs, struct vig_event **ptrs,
		       size_t cap, vig_logs_reject_fn *reject, void *arg);
/* Most distinct days of events in one raw batch: decided from the content alone (the store's
 * own limit counts days new to it, which depends on what it holds), so a client that splits a
 * refused batch splits it the same way on every run and its batch ids stay idempotent. */
#define VIG_LOGS_MAX_BATCH_DAYS 60

/* Before the append: attributes NDJSON events to sources (*lbp NULL: a batch is made for
 * them, owned by the caller like any other) and runs the reduction stage over ptrs; *n is the
 * events in, then the events left (ptrs compacted). VIG_ETOOBIG (413, errbuf) for a raw batch
 * spanning more than VIG_LOGS_MAX_BATCH_DAYS days. Writer thread. */
enum vig_err vig_logs_prepare(struct vig_server *srv, struct vig_logs_batch **lbp,
			      const struct vig_principal *who, struct vig_arena *arena,
			      struct vig_event **ptrs, size_t *n, char *errbuf);
/* Notes one record's outcome c for source slot in lb; applied to the registry only by
 * vig_logs_committed, so a batch that is not stored (an append failure the client will retry,
 * a resent duplicate) counts nothing. lb NULL or slot < 0 does nothing. */
void vig_logs_note(struct vig_logs_batch *lb, int slot, enum vig_src_counter c);
/* A receiver's batch that could not be stored: its records count as received and dropped. */
void vig_logs_lost(struct vig_logs_batch *lb);
/* After a durable, new append of the n events (n may be 0 when every record failed or was
 * filtered): applies the batch's noted counts and counts the events to their sources. */
void vig_logs_committed(struct vig_server *srv, struct vig_logs_batch *lb,
			struct vig_event *const *ptrs, size_t n);

#endif
