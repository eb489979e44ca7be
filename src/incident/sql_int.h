/*
 * sql_int.h - the SQL helpers the files of the incident module share: the control DB's
 * statement helpers under their older incident names, and column values as JSON (defined in
 * incident.c). Not a contract outside src/incident.
 */
#ifndef VIG_INCIDENT_SQL_INT_H
#define VIG_INCIDENT_SQL_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "auth/db.h"
#include "common/vig.h"

/* The statement and transaction helpers are the control DB's (auth/db.h); these older names
 * stay for the files of this module that use them. */
#define vig_inc_db_fail vig_db_fail
#define vig_inc_stmt vig_db_stmt
#define vig_inc_run vig_db_run
#define vig_inc_begin vig_db_tx_begin
#define vig_inc_finish vig_db_tx_end
/* Column col as an RFC 3339 time (null for NULL) / as text (null for NULL). */
json_t *vig_inc_time_json(sqlite3_stmt *st, int col);
json_t *vig_inc_text_json(sqlite3_stmt *st, int col);

#endif
