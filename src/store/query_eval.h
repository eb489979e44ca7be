/*
 * query_eval.h - evaluates a parsed search query (query.h) against one event in memory, with
 * the same meaning the SQL compiler gives it on the store: the reduction stage filters events
 * before they are stored with the very syntax analysts search them with.
 *
 * Semantics (as vig_query_to_sql): keyword fields (VIG_FF_KW) compare case-sensitively, other
 * text case-insensitively (ASCII); INT and TS fields numerically (times as RFC 3339 or epoch
 * seconds); IP fields by address, CIDR and ranges; LIST fields match when any element does;
 * extension fields compare numbers numerically when the value is an integer, else as text
 * without case; `field:*` means present; a bare word or phrase is a case-insensitive substring
 * of message; an absent field never matches a term (so `not f:x` matches it).
 */
#ifndef VIG_STORE_QUERY_EVAL_H
#define VIG_STORE_QUERY_EVAL_H

#include <stdbool.h>

#include "../event/event.h"
#include "query.h"

/* True when ev matches q (a NULL query or root matches nothing). */
bool vig_query_match(const struct vig_query *q, const struct vig_event *ev);

/* The pattern form of query.h ('*' any run, '?' one byte, '\' escapes the next byte) matched
 * against the whole of s (n bytes); ci: ASCII case-insensitive. */
bool vig_query_pattern_match(const char *pat, const char *s, size_t n, bool ci);

#endif
