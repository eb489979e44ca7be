/*
 * cmds.h - vigilctl's commands: each turns a parsed command line into API requests and
 * prints the answer as a table, a line or raw JSON.
 */
#ifndef VIG_CTL_CMDS_H
#define VIG_CTL_CMDS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "common/buf.h"
#include "creds.h"
#include "ctl.h"
#include "http.h"

/* Where a command connects to, after flags, environment and stored credentials. */
struct vig_ctl_target {
	char url[1024];    /* server URL */
	char token[512];   /* API token, or "" */
	char cacert[1024]; /* CA file, or "" */
	bool insecure;     /* skip certificate verification */
	long timeout_s;    /* per-request timeout */
};

/* Resolves the target: --url > VIGIL_URL > stored url > default; --token > VIGIL_TOKEN >
 * stored token; --cacert > VIGIL_CACERT > stored cacert; --insecure or VIGIL_INSECURE=1 or the
 * stored flag. Stored values are used only when the stored url is the resolved url, so a token
 * is never sent to another server. creds may be NULL. VIG_ETOOBIG if a value is too long. */
enum vig_err vig_ctl_resolve_target(const struct vig_ctl_args *a, const struct vig_ctl_creds *creds,
				    struct vig_ctl_target *t, char *errbuf);

/* The value at a dotted path in a JSON object, whether the document nests ("host":{"name"})
 * or uses dotted keys ("host.name"), or mixes both. NULL when absent. */
json_t *vig_ctl_json_path(json_t *obj, const char *path);

/* Formats a JSON value for a table cell into out (outsz bytes, cut on a UTF-8 boundary):
 * strings as they are, numbers, booleans, arrays joined with ",", objects as compact JSON,
 * null and NULL as "". Returns out. */
const char *vig_ctl_json_cell(json_t *v, char *out, size_t outsz);

/* ---- helpers shared by the command files (cmds*.c) ---- */

/* Prints "vigilctl: msg" to err; returns VIG_CTL_EXIT_API. */
int vig_ctl_fail(FILE *err, const char *msg);

/* Writes a reply's body to out as it came, ending with a newline (for --json). */
void vig_ctl_print_raw(FILE *out, const struct vig_ctl_response *r);

/* Prints the objects of list as a table under the given columns (NULL-terminated, at most 10;
 * a cell is cut at 255 bytes). Returns VIG_CTL_EXIT_OK, or VIG_CTL_EXIT_API after printing
 * the error to err (out of memory, too many rows, cannot render). */
int vig_ctl_print_rows(FILE *out, FILE *err, json_t *list, const char *const *cols);

/* Appends "?key=value" (or "&key=value" when path already has a query) with key and value
 * URL-escaped; nothing when value is NULL. */
void vig_ctl_add_query(struct vig_buf *path, const char *key, const char *value);

/* One API request through c with an optional JSON object body (serialised here); GET is
 * retried (vig_ctl_request_retry()). r (initialised by the caller) keeps the raw reply; when
 * reply is not NULL, *reply gets the reply's JSON and an empty or non-JSON body is an error.
 * On a transport error, an HTTP status outside 200-399 (printed as the server's message,
 * vig_ctl_api_error()) or a bad reply, prints to err and returns VIG_CTL_EXIT_API; errbuf
 * (VIG_ERRBUF_SIZE) is scratch. Returns VIG_CTL_EXIT_OK otherwise. */
int vig_ctl_request_json(struct vig_ctl_client *c, FILE *err, const char *method,
			 const char *path, json_t *body, struct vig_ctl_response *r,
			 json_t **reply, char *errbuf);

/* Runs the parsed command, printing results to out and messages to err. Returns the exit
 * status (enum vig_ctl_exit). */
int vig_ctl_run(const struct vig_ctl_args *a, FILE *out, FILE *err);

#endif
