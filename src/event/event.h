/*
 * event.h - Vigil's normalised event: the ECS-named core fields as typed slots, plus a typed
 * key/value extension for everything else, plus the field registry that parsers, the matcher,
 * the store and the API share.
 *
 * Memory: an event does not own its strings. Every setter copies into the arena given to
 * vig_event_init(), so an event lives exactly as long as its arena (one event, or one batch of
 * events sharing an arena). Setters fail with VIG_ETOOBIG when the arena's limit is reached,
 * and with VIG_EINVAL when a value does not fit the field's type.
 */
#ifndef VIG_EVENT_H
#define VIG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/vig.h"

/* Field ids, in fields.def order. */
enum vig_field {
#define VIG_FIELD(id, name, type, flags) VIG_F_##id,
#include "fields.def"
#undef VIG_FIELD
	VIG_F__COUNT
};

/* Value types. Core fields use STR, INT, TS, IP and LIST; extension values may also be
 * FLOAT and BOOL. */
enum vig_type {
	VIG_T_NONE = 0, /* absent */
	VIG_T_STR,      /* UTF-8 text (may hold any bytes; output replaces invalid UTF-8) */
	VIG_T_INT,      /* int64 */
	VIG_T_TS,       /* int64 ns since the epoch, UTC */
	VIG_T_IP,       /* IPv4 or IPv6, 16 bytes, IPv4 as ::ffff:a.b.c.d */
	VIG_T_LIST,     /* list of strings */
	VIG_T_FLOAT,    /* double (extension only) */
	VIG_T_BOOL,     /* boolean (extension only) */
};

/* Field flags (fields.def). */
#define VIG_FF_IDX 0x1u /* indexed by the store */
#define VIG_FF_KW 0x2u  /* keyword: exact, case-sensitive comparisons */

struct vig_str {
	const char *p; /* NUL-terminated, in the event's arena */
	uint32_t len;  /* bytes, without the NUL */
};

struct vig_val {
	uint8_t type; /* enum vig_type; VIG_T_NONE when absent */
	uint8_t pad[3];
	uint32_t n; /* VIG_T_LIST: number of items; VIG_T_STR: length in bytes */
	union {
		const char *s;           /* VIG_T_STR */
		int64_t i;               /* VIG_T_INT, VIG_T_TS, VIG_T_BOOL (0/1) */
		double d;                /* VIG_T_FLOAT */
		uint8_t ip[16];          /* VIG_T_IP */
		const struct vig_str *l; /* VIG_T_LIST */
	} u;
};

struct vig_ext {
	const char *key;   /* dotted name, in the arena or static (static_key) */
	bool static_key;   /* set by vig_event_ext_slot_static: compared by pointer there */
	struct vig_val v;  /* value (any type) */
};

/* Limits applied by the setters and the JSON decoder. */
#define VIG_EVENT_MAX_EXT 256        /* extension fields per event */
#define VIG_EVENT_MAX_LIST 1024      /* items per list */
#define VIG_EVENT_MAX_STR (64 << 10) /* bytes per string value */
#define VIG_EVENT_MAX_KEY 128        /* bytes per extension key */

struct vig_event {
	struct vig_val f[VIG_F__COUNT]; /* core fields, by enum vig_field */
	struct vig_ext *ext;            /* extension fields, in insertion order */
	uint32_t n_ext;                 /* used entries of ext */
	uint32_t cap_ext;               /* allocated entries of ext */
	struct vig_arena *arena;        /* owner of every byte the event points to */
};

struct vig_field_info {
	const char *name;   /* ECS name, "process.name" */
	const char *column; /* store column name, "process_name" */
	enum vig_type type; /* value type */
	unsigned flags;     /* VIG_FF_* */
};

/* Registry: info of a core field. */
const struct vig_field_info *vig_field_info(enum vig_field f);
/* Registry: core field id of an ECS name, or -1. Accepts "timestamp" for "@timestamp". */
int vig_field_lookup(const char *name, size_t len);
/* Registry: true when name is an object of core fields ("process", "process.parent"). */
bool vig_field_is_object(const char *name, size_t len);
/* Name of a type ("keyword", "long", "date", "ip", ...), for APIs and docs. */
const char *vig_type_name(enum vig_type t);

void vig_event_init(struct vig_event *ev, struct vig_arena *arena);
/* Clears every field; the arena is not reset (its owner does that). */
void vig_event_clear(struct vig_event *ev);

enum vig_err vig_event_set_str(struct vig_event *ev, enum vig_field f, const char *s, size_t n);
enum vig_err vig_event_set_cstr(struct vig_event *ev, enum vig_field f, const char *s);
enum vig_err vig_event_set_int(struct vig_event *ev, enum vig_field f, int64_t v);
enum vig_err vig_event_set_ts(struct vig_event *ev, enum vig_field f, int64_t ns);
/* IP from text ("10.0.0.1", "::1", "fe80::1%eth0" keeps no zone); VIG_EINVAL if not an IP. */
enum vig_err vig_event_set_ip(struct vig_event *ev, enum vig_field f, const char *s, size_t n);
enum vig_err vig_event_set_ip16(struct vig_event *ev, enum vig_field f, const uint8_t ip[16]);
/* Appends to a LIST field. */
enum vig_err vig_event_list_add(struct vig_event *ev, enum vig_field f, const char *s, size_t n);
/* Sets a field from text, converting to its type (ints, timestamps, IPs); LIST fields append. */
enum vig_err vig_event_set_text(struct vig_event *ev, enum vig_field f, const char *s, size_t n);
void vig_event_unset(struct vig_event *ev, enum vig_field f);

/* Extension fields: set or replace key. Keys that name a core field are refused (VIG_EINVAL). */
enum vig_err vig_event_ext_str(struct vig_event *ev, const char *key, const char *s, size_t n);
enum vig_err vig_event_ext_int(struct vig_event *ev, const char *key, int64_t v);
enum vig_err vig_event_ext_float(struct vig_event *ev, const char *key, double v);
enum vig_err vig_event_ext_bool(struct vig_event *ev, const char *key, bool v);
/* The extension slot of key, for a parser's fixed keys: key must have static storage and have
 * been accepted by vig_event_ext_str() once (the parser's tests check every such key), so the
 * per-call key checks, which dominate a fast parser's cost, are skipped. Returns the existing
 * entry or a new, empty one (the caller sets type and value), NULL at VIG_EVENT_MAX_EXT or when
 * the arena is full. */
struct vig_val *vig_event_ext_slot_static(struct vig_event *ev, const char *key);
/* Sets a core field (by name, converting text) or else an extension string. */
enum vig_err vig_event_set_by_name(struct vig_event *ev, const char *name, size_t name_len,
				   const char *s, size_t n);

static inline const struct vig_val *vig_event_get(const struct vig_event *ev, enum vig_field f)
{
	return ev->f[f].type ? &ev->f[f] : NULL;
}
/* Extension value by key, or NULL. */
const struct vig_val *vig_event_ext_get(const struct vig_event *ev, const char *key, size_t len);
/* Core or extension value by name, or NULL. */
const struct vig_val *vig_event_get_by_name(const struct vig_event *ev, const char *name, size_t len);

/* Text of a value (ints in decimal, timestamps RFC 3339, IPs in standard form, lists joined by
 * a space) into out (at most cap bytes, NUL-terminated); returns the full length. Strings are
 * returned directly through *direct when no conversion is needed, in which case out is unused. */
size_t vig_val_text(const struct vig_val *v, char *out, size_t cap, const char **direct);

/* Formats a 16-byte IP into out (INET6_ADDRSTRLEN = 46 bytes); IPv4-mapped as dotted quad. */
void vig_ip_format(const uint8_t ip[16], char *out);
/* Parses text into 16 bytes; false if not an IP. */
bool vig_ip_parse(const char *s, size_t n, uint8_t out[16]);
/* Parses "ip/prefix" (or a bare IP = /32 or /128) into the inclusive range [lo, hi]. */
bool vig_cidr_parse(const char *s, size_t n, uint8_t lo[16], uint8_t hi[16]);

/* process.entity_id: a stable identity of (host, pid, start time); out holds 33 bytes. */
void vig_entity_id(const char *host_id, int64_t pid, int64_t start_ns, char out[33]);

#endif
