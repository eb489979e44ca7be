/*
 * sql_int.h - the SQL helpers the files of the incident module share (defined in incident.c):
 * statements with bound arguments, one-step runs, the lock + BEGIN IMMEDIATE / COMMIT or
 * ROLLBACK + unlock pair around every change, and column values as JSON. Not a contract
 * outside src/incident.
 */
#ifndef VIG_INCIDENT_SQL_INT_H
#define VIG_INCIDENT_SQL_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "auth/db.h"
#include "common/vig.h"

/* VIG_EBUSY or VIG_EIO with SQLite's message ("incident db: ..."). */
enum vig_err vig_inc_db_fail(sqlite3 *h, char *errbuf);
/* Prepares sql and binds the arguments described by types: 't' text (NULL binds NULL), 'i'
 * int64. NULL (errbuf set) on failure. */
sqlite3_stmt *vig_inc_stmt(sqlite3 *h, char *errbuf, const char *sql, const char *types, ...);
/* Runs a statement made by vig_inc_stmt() once (NULL: VIG_EIO) and finalizes it. */
enum vig_err vig_inc_run(sqlite3 *h, sqlite3_stmt *st, char *errbuf);
/* Locks db and begins an immediate transaction. */
enum vig_err vig_inc_begin(struct vig_db *db, sqlite3 **h, char *errbuf);
/* Commits when err is VIG_OK, else rolls back; unlocks; returns the final error. */
enum vig_err vig_inc_finish(struct vig_db *db, sqlite3 *h, enum vig_err err, char *errbuf);
/* Column col as an RFC 3339 time (null for NULL) / as text (null for NULL). */
json_t *vig_inc_time_json(sqlite3_stmt *st, int col);
json_t *vig_inc_text_json(sqlite3_stmt *st, int col);

#endif
