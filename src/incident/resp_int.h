/*
 * resp_int.h - what response.c and playbook.c share besides the module's SQL helpers
 * (sql_int.h): the timeline + audit rows of one step, and a column as parsed JSON. Not a
 * contract outside src/incident.
 */
#ifndef VIG_RESP_INT_H
#define VIG_RESP_INT_H

#include "incident/response.h"
#include "sql_int.h"

/* Appends the timeline row of incident_id (when > 0, bumping its `updated`) and the audit row
 * (action on objtype objid, before/after as compact sorted JSON, may be NULL) of one step by
 * who (NULL = the system). A "response_request" step names the request (after.request_id)
 * and, when it belongs to an incident, the incident (after.incident_id), and its audit row is
 * then a row of object incident:incident_id, like the incident's own changes. */
enum vig_err vig_resp_record(sqlite3 *h, const struct vig_principal *who, const char *tenant,
			     int64_t incident_id, const char *action, const char *objtype,
			     int64_t objid, const char *summary, json_t *before, json_t *after,
			     const char *reason, int64_t now, char *errbuf);
/* Column col parsed as JSON, or dflt (a new reference, consumed otherwise) when NULL or not
 * JSON. */
json_t *vig_resp_col_json(sqlite3_stmt *st, int col, json_t *dflt);

#endif
