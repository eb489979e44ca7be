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

#include <sqlite3.h>
#include <stdint.h>

#include "../common/vig.h"

/* Number of migrations this build knows; PRAGMA user_version after a successful open. */
#define VIG_DB_SCHEMA_VERSION 3
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
/* Prepares sql; VIG_EIO with sqlite's message on failure. */
enum vig_err vig_db_prepare(sqlite3 *c, const char *sql, sqlite3_stmt **st, char *errbuf);

/* The schema version of the open database (PRAGMA user_version). */
int vig_db_schema_version(struct vig_db *db);

#endif /* VIG_AUTH_DB_H */
