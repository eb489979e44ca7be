/*
 * stix_export.h - STIX 2.1 export of an incident's indicators: the builder behind
 * GET /api/v1/incidents/{id}/stix and the objects of the TAXII 2.1 collections
 * (src/server/api_sharing.c).
 *
 * A bundle holds: the tenant's `identity` (created_by_ref of everything else); one
 * `indicator` per observable whose type STIX patterning can express (pattern_type stix,
 * valid_from = the observable's creation, indicator_types ["malicious-activity"], labels
 * ["vigil-observable", "<type>"]); the TLP marking-definitions the indicators use (TLP 2.0
 * from the OASIS TLP 2.0 extension, and TLP 1.0 from the STIX 2.1 specification, section
 * 7.2.1.4, for clear/white, green, amber and red); and a `report` naming them all. Observables
 * of type "other" (and hashes that are not MD5, SHA-1, SHA-256 or SHA-512 hex) have no
 * pattern and are left out; observables with TLP red are left out unless include_red.
 *
 * Ids are UUIDv5 (RFC 9562) in one Vigil namespace over a name that says what the object is
 * ("indicator/<tenant>/<observable id>"), so exporting again yields the same ids and a TAXII
 * client sees the same object it saw in an export. Timestamps are RFC 3339 UTC with
 * milliseconds ("2026-11-24T10:00:00.000Z"), as STIX requires for created/modified.
 *
 * Values are borrowed; every returned json_t is a new reference.
 */
#ifndef VIG_STIX_EXPORT_H
#define VIG_STIX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/vig.h"

#define VIG_STIX_ID_MAX 80       /* "marking-definition--" + 36 + NUL, with room */
#define VIG_STIX_TIME_STRLEN 40  /* "2026-11-24T10:00:00.000Z" + NUL, as VIG_TIME_STRLEN */
#define VIG_STIX_PATTERN_MAX 4200 /* a pattern of one VIG_INC_OBS_VALUE_MAX value, escaped */

/* RFC 3339 UTC with exactly three fractional digits and "Z" (ns truncated to ms). */
void vig_stix_time(int64_t ns, char out[VIG_STIX_TIME_STRLEN]);

/* "<type>--<UUIDv5 of name in the Vigil namespace>" into out. */
void vig_stix_id(const char *type, const char *name, char out[VIG_STIX_ID_MAX]);

/* The STIX pattern of an observable of Vigil type (ip, domain, hostname, url, user, email,
 * hash, file) into out (cap bytes), with ' and \ escaped in the literal. False when the type
 * or the value cannot be expressed (an "other", a hash of an unknown length, an address that
 * does not parse) or out is too small. */
bool vig_stix_pattern(const char *type, const char *value, char *out, size_t cap);

/* The TLP 2.0 marking-definition id of a TLP name (clear/white, green, amber, amber+strict,
 * red), or NULL; and the TLP 1.0 one (NULL for amber+strict, which 1.0 lacks). */
const char *vig_stix_tlp2_id(const char *tlp);
const char *vig_stix_tlp1_id(const char *tlp);
/* The marking-definition object of a marking id returned above, or NULL. */
json_t *vig_stix_marking(const char *id);

/* The tenant's identity object (created/modified = tenant_created_ns). */
json_t *vig_stix_identity(const char *tenant, const char *tenant_name, int64_t tenant_created_ns);

/* One observable as an indicator (NULL when it has no pattern). */
struct vig_stix_obs {
	int64_t id;          /* incident_observables.id */
	const char *type;    /* Vigil observable type */
	const char *value;
	const char *tlp;     /* NULL = amber */
	int64_t created_ns;  /* created, modified and valid_from */
};
json_t *vig_stix_indicator(const char *tenant, const struct vig_stix_obs *o);

/* What an export needs besides the incident. */
struct vig_stix_export_opts {
	const char *tenant;        /* the incident's tenant id */
	const char *tenant_name;   /* its display name */
	int64_t tenant_created_ns; /* the identity's created time */
	bool include_red;          /* also export TLP red observables */
};

/* The bundle of an incident object as vig_inc_get() returns it (id, title, description,
 * created, updated, observables[{id, type, value, tlp, created}]). *skipped (may be NULL)
 * receives the observables left out. VIG_EINVAL when the incident lacks those fields. */
enum vig_err vig_stix_export_incident(const json_t *incident, const struct vig_stix_export_opts *o,
				      json_t **bundle, size_t *skipped, char *errbuf);

#endif
