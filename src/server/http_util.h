/*
 * http_util.h - small HTTP helpers with no libevent dependency, unit-tested on their own:
 * route pattern matching, query-string and cookie parsing, percent-decoding, mapping of
 * enum vig_err to HTTP status and error codes.
 */
#ifndef VIG_SERVER_HTTP_UTIL_H
#define VIG_SERVER_HTTP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/vig.h"

#define VIG_HTTP_PARAM_MAX 128 /* bytes of one path parameter, with NUL */

/* Matches path (no query string) against pattern, where one segment may be "{name}" matching
 * one non-empty segment of at most VIG_HTTP_PARAM_MAX-1 bytes (no '/'), copied into param.
 * A trailing '/' on path is not accepted. param may be NULL when the pattern has none. */
bool vig_http_route_match(const char *pattern, const char *path, char param[VIG_HTTP_PARAM_MAX]);

/* Decodes %XX escapes (and '+' as space when plus_space) of [s, s+n) into out (cap bytes,
 * NUL-terminated). False on a malformed escape, a decoded NUL byte, or when out is too small. */
bool vig_http_pct_decode(const char *s, size_t n, bool plus_space, char *out, size_t cap);

/* Finds name in a query string "a=1&b=x%20y" and decodes its value into out (cap bytes).
 * Returns 1 when found and decoded, 0 when absent, -1 when present but malformed or too long.
 * A key without '=' has the value "". */
int vig_http_query_get(const char *query, const char *name, char *out, size_t cap);

/* Finds cookie name in a Cookie header ("a=1; vigil_session=abc") and copies its value into
 * out (cap bytes). False when absent or too long. */
bool vig_http_cookie_get(const char *header, const char *name, char *out, size_t cap);

/* The HTTP status that fits err (400, 401, 403, 404, 409, 413, 429, 500, 501, 503). */
int vig_http_status_of(enum vig_err err);

/* The short machine code of err for {"code": ...}: "einval", "eauth", ... */
const char *vig_http_code_of(enum vig_err err);

/* Parses a time parameter: RFC 3339 or epoch seconds (vig_time_parse). */
bool vig_http_parse_time(const char *s, int64_t *ns);

/* Parses an interval "30s", "5m", "1h", "1d" or a plain number of seconds, into ns. */
bool vig_http_parse_interval(const char *s, int64_t *ns);

#endif
