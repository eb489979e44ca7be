/*
 * cmds.h - vigilctl's commands: each turns a parsed command line into API requests and
 * prints the answer as a table, a line or raw JSON.
 */
#ifndef VIG_CTL_CMDS_H
#define VIG_CTL_CMDS_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "creds.h"
#include "ctl.h"

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

/* Runs the parsed command, printing results to out and messages to err. Returns the exit
 * status (enum vig_ctl_exit). */
int vig_ctl_run(const struct vig_ctl_args *a, FILE *out, FILE *err);

#endif
