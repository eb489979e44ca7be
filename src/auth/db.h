/*
 * db.h - the control database: one SQLite file (WAL, foreign keys on) that holds tenants,
 * users, API tokens, sessions, settings, the audit log, and the tables later features fill
 * (agents, assets, rules, alerts, incidents).
 *
 * Schema versions: PRAGMA user_version holds the number of migrations applied. Opening a
 * database runs every migration newer than that number, each in its own transaction, so a
 * later version adds a migration at the end of the list and never edits an old one. A file
 * whose user_version is newer than this build knows is refused (VIG_EUNSUPPORTED).
 *
 * Threads: a struct vig_db owns one sqlite3 connection guarded by one mutex. Every vig_*
 * function of this module that takes a struct vig_db locks it for its whole duration, so
 * they may be called from any thread. Code of other modules that needs raw SQL calls
 * vig_db_lock(), uses the returned handle, then vig_db_unlock(); it must not call other
 * vig_db / vig_auth / vig_audit functions while holding the lock (the mutex is not recursive).
 *
 * Every table whose rows belong to a tenant has a tenant_id TEXT NOT NULL column that
 * references tenants(id). Times are int64 ns since the epoch (see common/vtime.h).
 */
#ifndef VIG_AUTH_DB_H
#define VIG_AUTH_DB_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/vig.h"

/* Number of migrations this build knows; PRAGMA user_version after a successful open. */
#define VIG_DB_SCHEMA_VERSION 4
/* The provider tenant created on first open (is_provider = 1). */
#define VIG_DB_PROVIDER_TENANT "default"
/* Milliseconds a statement waits on a lock held by another process before VIG_EBUSY. */
#define VIG_DB_BUSY_TIMEOUT_MS 5000

struct vig_db; /* opaque */

/* Opens (creating if needed) the control database at path, enables WAL and foreign keys,
 * runs pending migrations and makes sure the provider tenant exists. path ":memory:" gives
 * a private in-memory database (tests). On success *out owns the handle (vig_db_close()).
 * Errors: VIG_EIO (cannot open/migrate), VIG_EUNSUPPORTED (schema newer than this build). */
enum vig_err vig_db_open(const char *path, struct vig_db **out, char *errbuf);

/* Closes the connection and frees the handle; NULL does nothing. */
void vig_db_close(struct vig_db *db);

/* Locks the connection for the calling thread and returns it. Pair with vig_db_unlock(). */
sqlite3 *vig_db_lock(struct vig_db *db);

/* Releases the lock taken by vig_db_lock(). */
void vig_db_unlock(struct vig_db *db);

/* Runs one statement to completion with ?1 = id and ?2 = v (for "UPDATE t SET x = ?2 WHERE id =
 * ?1" shapes), on a connection the caller holds locked. VIG_EIO with SQLite's message on failure. */
enum vig_err vig_db_run_id(sqlite3 *h, const char *sql, int64_t id, int64_t v, char *errbuf);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK on c (a connection the caller holds locked); errors as VIG_EIO with sqlite's message. */
enum vig_err vig_db_begin(sqlite3 *c, char *errbuf);
enum vig_err vig_db_commit(sqlite3 *c, char *errbuf);
void vig_db_rollback(sqlite3 *c);
/* Commits c's transaction when err is VIG_OK, else rolls it back; returns the final error. */
enum vig_err vig_db_end(sqlite3 *c, enum vig_err err, char *errbuf);
/* Runs sql (one or more statements without arguments) on c, held locked; VIG_EBUSY or VIG_EIO
 * with sqlite's message on failure. */
enum vig_err vig_db_exec(sqlite3 *c, const char *sql, char *errbuf);
/* Prepares sql; VIG_EIO with sqlite's message on failure. */
enum vig_err vig_db_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, char *errbuf);

/*
 * Statement helpers for code that holds the connection locked (vig_db_lock()). Arguments are
 * described by a type string, one character a placeholder (?1, ?2, ...): 't' text (const char *,
 * NULL binds NULL; copied), 'i' int64 (int64_t: cast narrower values), 'n' int64 where 0 or
 * less binds NULL (optional ids). Failures set errbuf to "db: <SQLite's message>".
 */

/* VIG_EBUSY (SQLite is busy) or VIG_EIO, with "db: <SQLite's last message on h>" in errbuf. */
enum vig_err vig_db_fail(sqlite3 *h, char *errbuf);
/* Prepares sql and binds the arguments described by types. NULL (errbuf set) on failure. */
sqlite3_stmt *vig_db_stmt(sqlite3 *h, char *errbuf, const char *sql, const char *types, ...);
/* Steps st (from vig_db_stmt(); NULL: its error) once and finalizes it: VIG_OK when the
 * statement ran (a row or done), else vig_db_fail(). */
enum vig_err vig_db_run(sqlite3 *h, sqlite3_stmt *st, char *errbuf);
/* vig_db_run() of vig_db_stmt(): prepares sql, binds, steps once and finalizes. */
enum vig_err vig_db_do(sqlite3 *h, char *errbuf, const char *sql, const char *types, ...);
/* Steps st (NULL: its error) once without finalizing it: VIG_OK with a row to read,
 * VIG_ENOTFOUND when there is none (errbuf untouched), else vig_db_fail(). */
enum vig_err vig_db_row(sqlite3 *h, sqlite3_stmt *st, char *errbuf);
/* The first column of the first row of sql as int64; dflt when there is no row or the
 * statement fails (for counts, existence checks and optional values). */
int64_t vig_db_int(sqlite3 *h, int64_t dflt, const char *sql, const char *types, ...);
/* Copies the first column of the first row of sql into out (cap bytes, truncated, always
 * NUL-terminated); false (out = "") when there is no row, the value is NULL or it fails. */
bool vig_db_text(sqlite3 *h, char *out, size_t cap, const char *sql, const char *types, ...);
/* The JSON of the current row of st (h is the locked connection, ctx the caller's); NULL
 * when out of memory. */
typedef json_t *vig_db_row_fn(sqlite3 *h, sqlite3_stmt *st, void *ctx);
/* Locks db, runs sql (arguments as for vig_db_stmt()) and collects row() of each row into a
 * new array (*out, the caller's). Bound the rows with a LIMIT in sql. */
enum vig_err vig_db_rows(struct vig_db *db, vig_db_row_fn *row, void *ctx, json_t **out,
			 char *errbuf, const char *sql, const char *types, ...);
/* Locks db and begins an immediate transaction (*h: the connection). On failure the lock
 * is released again. Pair with vig_db_tx_end(). */
enum vig_err vig_db_tx_begin(struct vig_db *db, sqlite3 **h, char *errbuf);
/* Commits when err is VIG_OK, else rolls back; unlocks; returns the final error. */
enum vig_err vig_db_tx_end(struct vig_db *db, sqlite3 *h, enum vig_err err, char *errbuf);
/* A change made on h (locked, in a transaction); arg is the caller's. */
typedef enum vig_err vig_db_tx_fn(sqlite3 *h, void *arg, char *errbuf);
/* Runs fn between vig_db_tx_begin() and vig_db_tx_end(): committed when it returns VIG_OK. */
enum vig_err vig_db_in_tx(struct vig_db *db, vig_db_tx_fn *fn, void *arg, char *errbuf);

/* The schema version of the open database (PRAGMA user_version). */
int vig_db_schema_version(struct vig_db *db);

#endif /* VIG_AUTH_DB_H */
