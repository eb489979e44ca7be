/*
 * evstore.h - the event store: durable batched appends, tenant-scoped search and aggregations,
 * retention. This is the SQLite implementation's contract; a ClickHouse implementation will
 * keep the same functions.
 *
 * Layout (layout version 2, PRAGMA user_version; a database of another version is refused at
 * open): one SQLite database "events.db" in the store directory, WAL mode, 16 KiB pages, with
 * one table per UTC day ("ev_20261123") so that retention is a DROP TABLE of whole days, and
 * every append (events of any day plus its batch key) commits in one atomic transaction.
 * Columns: the core fields analysts filter on each have a column (timestamps and integers as
 * INTEGER ns, lists as JSON arrays, ids of 32 hex digits as 16-byte BLOBs, IPs as BLOBs of 4
 * bytes for IPv4 and 16 for IPv6). Repeated low-cardinality strings (tenant.id, host.*,
 * agent.id, user.name, process.name/executable, process.parent.name, event.kind/category/type/
 * action/outcome/dataset, network.transport) are dictionary-encoded: the row holds the integer
 * id of the string in the table dict(id, v UNIQUE, index on v COLLATE NOCASE), the writer keeps
 * a bounded cache (1M strings) of it, queries match dict first and then the ids. Rarely-set core
 * fields and extension fields share one compact JSON column "x" (every column costs one record
 * header byte per row even when NULL: SQLite does not drop trailing NULLs, measured). Each
 * append has a row in appends(id, ingested_ns, idbase): the event.ingested column holds that
 * small id instead of 8 bytes of time, and event ids the store generated (idbase, then the
 * event's index) are stored as the index alone (1-3 bytes instead of 16).
 *
 * Indexes per day: (tenant.id, @timestamp), and partial single-column indexes (WHERE field IS
 * NOT NULL) on the VIG_FF_IDX fields host.name, process.name, user.name, process.entity_id,
 * process.parent.entity_id, source.ip, destination.ip, destination.port. Dropped (index diet,
 * measured on vig-store-bench): the separate @timestamp index (19 bytes/event; ranges within a
 * tenant use (tenant.id, @timestamp), provider-wide partial-day reads scan the day), and
 * event.category, event.action, process.executable (9-11 bytes/event each; a handful of values
 * each, so the index selects a large share of the day and a scan of the integer column is as
 * fast). Top-N on a column field groups the non-NULL rows through the field's partial index
 * (a covering index scan) and derives "missing" from a count.
 *
 * Measured (vig-store-bench, 1M events over 3 days, 2 cores shared with other work at load
 * ~3.5): 172 bytes/event after checkpoint (was 350), ~60k events per CPU second in the store
 * (was 30k), field query ~110 ms, top-10 ~40 ms (was 712 ms); 10M events over 30 days:
 * 172.5 bytes/event, 53k events per CPU s, field query 658 ms, top-10 474 ms. Short of the
 * targets (<= 100 bytes/event, well over 100k events/s, field query <= 0.5 s): where the time
 * goes and the next steps are in evstore_sqlite.c's header.
 *
 * Durability: WAL with synchronous=NORMAL. A committed append survives a crash of the process
 * (the WAL is written before COMMIT returns) but may be lost on power failure or kernel crash;
 * opts.sync_full selects synchronous=FULL, which survives those too at a cost in ingest rate.
 *
 * Threads: every function may be called from any thread. Appends and retention are serialised
 * on the one writer connection; searches and aggregations run on a pool of read connections
 * (opts.read_conns) concurrently with each other and with the writer (WAL snapshots).
 *
 * Tenancy: every read takes a struct vig_scope and adds a tenant filter; a scope with no
 * tenants and all=false sees nothing. Every appended event must carry tenant.id.
 */
#ifndef VIG_STORE_EVSTORE_H
#define VIG_STORE_EVSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/vig.h"
#include "../event/event.h"

#define VIG_EVSTORE_MAX_APPEND 100000   /* events per append */
#define VIG_EVSTORE_MAX_LIMIT 10000     /* events per search */
#define VIG_EVSTORE_MAX_TOP 1000        /* buckets per top-N */
#define VIG_EVSTORE_MAX_HIST 10000      /* buckets per histogram */
#define VIG_EVSTORE_MAX_DAYS 3660       /* day partitions one read may scan */
#define VIG_EVSTORE_BATCH_KEY_MAX 128   /* bytes of a batch key */
#define VIG_EVSTORE_BATCH_KEY_TTL_NS (7 * 86400LL * 1000000000LL)

struct vig_evstore;

struct vig_evstore_opts {
	unsigned read_conns;  /* read connections in the pool; 0 = 4 */
	int busy_timeout_ms;  /* SQLite busy timeout; 0 = 5000 */
	bool sync_full;       /* synchronous=FULL (power-loss durable) instead of NORMAL */
	int cache_kib;        /* page cache per read connection in KiB; 0 = 16384 */
	int writer_cache_kib; /* page cache of the writer in KiB; 0 = 262144 (holds a day's indexes) */
};

/* Which tenants a read may see. all=true only for provider-wide callers. */
struct vig_scope {
	const char *const *tenants; /* tenant ids */
	size_t n_tenants;           /* entries of tenants */
	bool all;                   /* every tenant (tenants ignored) */
};

struct vig_evstore_stats {
	uint64_t events_stored;    /* events committed since open */
	uint64_t batches;          /* appends committed since open */
	uint64_t duplicates;       /* appends skipped as duplicate batch keys */
	uint64_t rejected;         /* appends refused (bad events, limits, storage errors) */
	uint64_t searches;         /* reads served (search, count, top, histogram) */
	uint64_t query_errors;     /* reads refused for a bad query */
	uint64_t bytes;            /* size of the database and its WAL on disk now */
	uint64_t partitions;       /* day tables present */
};

/* Opens (creating dir and the database when absent) the store in dir. NULL on failure with
 * errbuf set. opts may be NULL for defaults. */
struct vig_evstore *vig_evstore_open(const char *dir, const struct vig_evstore_opts *opts,
				     char *errbuf);
/* Closes the store; no call may be running. NULL does nothing. */
void vig_evstore_close(struct vig_evstore *s);

/* Appends n events in one transaction and returns after COMMIT (acknowledge after this).
 * Every event needs tenant.id (else VIG_EINVAL naming the index, and nothing is written).
 * Events without event.id get a unique 128-bit hex id (96 random bits per append, then the
 * event's 32-bit index in the append), and every event gets event.ingested =
 * now; events without @timestamp get now. These are written into the events themselves (their
 * arenas). If batch_key is not NULL and a batch with that key committed within the last 7 days,
 * nothing is written and *duplicate is set (duplicate may be NULL only when batch_key is).
 * n > VIG_EVSTORE_MAX_APPEND is VIG_ETOOBIG. */
enum vig_err vig_evstore_append(struct vig_evstore *s, struct vig_event *const *evs, size_t n,
				const char *batch_key, bool *duplicate, char *errbuf);

/* Called once per found event; the event and its strings live only during the call.
 * Return false to stop the search early. */
typedef bool (*vig_evstore_event_fn)(void *ctx, const struct vig_event *ev);

/* Searches [from_ns, to_ns) (to_ns <= from_ns is VIG_EINVAL) for events of the scope matching
 * query (NULL or "" = all), newest first unless ascending, at most limit events (0 or more than
 * VIG_EVSTORE_MAX_LIMIT is VIG_EINVAL). *n_found (may be NULL) receives the events delivered.
 * A bad query is VIG_EPARSE/VIG_EINVAL with the parser's message in errbuf. */
enum vig_err vig_evstore_search(struct vig_evstore *s, const struct vig_scope *scope,
				const char *query, int64_t from_ns, int64_t to_ns, size_t limit,
				bool ascending, vig_evstore_event_fn fn, void *ctx,
				size_t *n_found, char *errbuf);

/* Counts matching events. */
enum vig_err vig_evstore_count(struct vig_evstore *s, const struct vig_scope *scope,
			       const char *query, int64_t from_ns, int64_t to_ns,
			       uint64_t *count, char *errbuf);

struct vig_evstore_bucket {
	char *key;      /* value as text (IPs formatted, ints decimal, timestamps RFC 3339) */
	uint64_t count; /* events with that value (LIST fields: events with that element) */
};

struct vig_evstore_top {
	struct vig_evstore_bucket *buckets; /* by count descending, then key */
	size_t n;                           /* entries of buckets */
	uint64_t other;                     /* matching values not in the buckets */
	uint64_t missing;                   /* matching events without the field */
};

/* Top size (1..VIG_EVSTORE_MAX_TOP) values of field (core or extension name) among matching
 * events. Release the result with vig_evstore_top_release(). */
enum vig_err vig_evstore_top(struct vig_evstore *s, const struct vig_scope *scope,
			     const char *query, int64_t from_ns, int64_t to_ns, const char *field,
			     size_t size, struct vig_evstore_top *out, char *errbuf);
void vig_evstore_top_release(struct vig_evstore_top *t);

struct vig_evstore_hist {
	int64_t interval_ns; /* bucket width */
	int64_t *ts_ns;      /* bucket start times, ascending, aligned to interval since epoch */
	uint64_t *counts;    /* events per bucket (zero buckets included) */
	size_t n;            /* buckets */
};

/* Histogram of matching events over [from_ns, to_ns) with buckets of interval_ns (> 0, at
 * most VIG_EVSTORE_MAX_HIST buckets or VIG_ETOOBIG). Release with vig_evstore_hist_release(). */
enum vig_err vig_evstore_histogram(struct vig_evstore *s, const struct vig_scope *scope,
				   const char *query, int64_t from_ns, int64_t to_ns,
				   int64_t interval_ns, struct vig_evstore_hist *out, char *errbuf);
void vig_evstore_hist_release(struct vig_evstore_hist *h);

/* Retention. tenant NULL: drops every day partition wholly older than keep_days days before
 * now_ns (cheap: DROP TABLE). tenant set: deletes that tenant's rows older than keep_days in
 * the partitions that remain (per-tenant retention shorter than the global horizon).
 * Also expires batch keys older than 7 days. *removed (may be NULL) receives the dropped
 * partitions (tenant NULL) or deleted rows (tenant set). */
enum vig_err vig_evstore_expire(struct vig_evstore *s, const char *tenant, int keep_days,
				int64_t now_ns, uint64_t *removed, char *errbuf);

void vig_evstore_stats(struct vig_evstore *s, struct vig_evstore_stats *out);

#endif /* VIG_STORE_EVSTORE_H */
