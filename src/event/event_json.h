/*
 * event_json.h - the event model in JSON: decode (ECS documents, nested objects or dotted
 * keys, with limits) and encode (nested ECS objects).
 *
 * Decoding rules: core fields take their type (a STR field also takes a number, an INT field
 * a numeric string, a TS field an RFC 3339 string or an integer of epoch milliseconds, a LIST
 * field an array of scalars or one scalar); null is absent; other keys become extension
 * fields (strings, integers, doubles, booleans; arrays and objects below the depth limit are
 * flattened, arrays into their JSON text). A value of the wrong type is an error that names
 * the field, never a crash.
 */
#ifndef VIG_EVENT_JSON_H
#define VIG_EVENT_JSON_H

#include <jansson.h>

#include "../common/buf.h"
#include "event.h"

struct vig_json_limits {
	size_t max_bytes;  /* most bytes of one JSON document; default 1 MiB */
	int max_depth;     /* most nesting of objects and arrays; default 16 */
};

#define VIG_JSON_DEFAULT_MAX_BYTES (1u << 20)
#define VIG_JSON_DEFAULT_MAX_DEPTH 16

/* Decodes one JSON object into ev (which should be cleared). limits may be NULL for defaults.
 * On failure, errbuf (VIG_ERRBUF_SIZE) says what was wrong and where. */
enum vig_err vig_event_from_json(struct vig_event *ev, const char *s, size_t n,
				 const struct vig_json_limits *limits, char *errbuf);
/* Same from a parsed jansson object (depth is checked here too). */
enum vig_err vig_event_from_jansson(struct vig_event *ev, json_t *obj,
				    const struct vig_json_limits *limits, char *errbuf);
/* Appends ev as one compact JSON object (nested ECS form) to out. */
enum vig_err vig_event_to_json(const struct vig_event *ev, struct vig_buf *out);
/* Appends a single value as JSON. */
enum vig_err vig_val_to_json(const struct vig_val *v, struct vig_buf *out);

#endif
