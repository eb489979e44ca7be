/*
 * evidence.h - incident evidence: files attached to an incident (uploaded by an analyst,
 * collected from an endpoint by a collect action, or exported from an event search), each
 * kept with its SHA-256 and a chain-of-custody log.
 *
 * Files: DIR/<tenant>/<sha256> (DIR is DATA/evidence in vigild), content-addressed: written
 * to a temporary file in the same directory, fsync'ed, made read-only and renamed into place;
 * never modified afterwards. The same content in one tenant is stored once, however many
 * evidence items (of different incidents) refer to it. Adding content an incident already
 * holds returns the existing item and records nothing.
 *
 * Custody: every step that touches an item (acquired, attached, downloaded, verified,
 * exported, transferred) is a row of evidence_custody: ts, actor, action, detail, the SHA-256
 * the step saw, prev_hash and hash = hex SHA-256(prev_hash || compact sorted JSON of
 * {"action","actor","detail","evidence_id","id","sha256_seen","ts"}), prev_hash being the
 * previous row's hash of the same item (64 zeros for the first). Each step is written in one
 * transaction together with an audit row (action "evidence.<step>", object evidence/<id>,
 * whose "after" carries the custody row's id and hash) and an incident timeline row. So a
 * changed or removed custody row breaks the item's chain, and removing the newest rows is
 * caught by comparing the chain's head with the newest custody hash in the (append-only,
 * hash-chained) audit log.
 *
 * Storage: the control DB (src/auth/db.c, migration 3): incident_evidence, evidence_custody.
 *
 * Tenancy: every function takes the caller's principal; another tenant's incident or evidence
 * is VIG_ENOTFOUND exactly like a missing one. An item and its file belong to the incident's
 * tenant. Permissions are the caller's business (vigild: incidents:read / incidents:write).
 *
 * Threads: an opened store may be used from any thread (the DB is locked per call).
 */
#ifndef VIG_EVIDENCE_H
#define VIG_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/vig.h"

#define VIG_EVIDENCE_NAME_MAX 255        /* bytes of a name */
#define VIG_EVIDENCE_DESC_MAX 4096       /* bytes of a description */
#define VIG_EVIDENCE_SOURCE_MAX 1024     /* bytes of a source */
#define VIG_EVIDENCE_DETAIL_MAX 1024     /* bytes of a custody detail */
#define VIG_EVIDENCE_MEDIA_MAX 127       /* bytes of a media type */
#define VIG_EVIDENCE_LIST_MAX 1000       /* items listed per incident */
#define VIG_EVIDENCE_CUSTODY_MAX 100000  /* custody rows one item may have */

struct vig_evidence; /* opaque: the store */

/* What a new item is. Strings borrowed; NULL = default. */
struct vig_evidence_meta {
	const char *name;        /* required: 1..VIG_EVIDENCE_NAME_MAX bytes, no control characters */
	const char *kind;        /* "upload", "collected" or "export" */
	const char *media_type;  /* NULL = application/octet-stream */
	const char *source;      /* where it came from (action id, agent, query); NULL = "" */
	const char *description; /* NULL = "" */
	const char *tenant;      /* when set, the incident must belong to it (VIG_ECONFLICT) */
};

/* Opens the store on db (borrowed, must outlive it) with files under dir (created 0700 when
 * missing) and items of at most max_bytes. NULL on failure with errbuf set. */
struct vig_evidence *vig_evidence_open(struct vig_db *db, const char *dir, int64_t max_bytes,
				       char *errbuf);
/* Frees the store; NULL does nothing. */
void vig_evidence_free(struct vig_evidence *ev);

/*
 * Adds n bytes of data as evidence of incident incident_id, recording custody "acquired" and
 * "attached". *id gets the item's id; *created (may be NULL) whether a new item was made
 * (false: the incident already held this content as item *id). Errors: VIG_EINVAL (bad
 * meta), VIG_ETOOBIG (over max_bytes), VIG_ENOTFOUND (incident not visible), VIG_ECONFLICT
 * (incident of another tenant than meta->tenant), VIG_EIO.
 */
enum vig_err vig_evidence_add_bytes(struct vig_evidence *ev, const struct vig_principal *who,
				    int64_t incident_id, const struct vig_evidence_meta *meta,
				    const void *data, size_t n, int64_t *id, bool *created,
				    char *errbuf);

/*
 * The same for the file at path (e.g. a collected file), copied into the store while hashing
 * it: when expected_sha256 (64 lowercase hex, may be NULL) is given and the copy's SHA-256
 * differs, nothing is stored and the result is VIG_EIO "... fails its SHA-256 check ...".
 */
enum vig_err vig_evidence_add_file(struct vig_evidence *ev, const struct vig_principal *who,
				   int64_t incident_id, const struct vig_evidence_meta *meta,
				   const char *path, const char *expected_sha256, int64_t *id,
				   bool *created, char *errbuf);

/* {"evidence":[item...], "count":N} of incident_id, oldest first. An item is {"id","tenant",
 * "incident_id","name","kind","sha256","size","media_type","source","description",
 * "created_by","created"}. */
enum vig_err vig_evidence_list(struct vig_evidence *ev, const struct vig_principal *who,
			       int64_t incident_id, json_t **out, char *errbuf);

/* The item with "custody": [{"id","ts","actor","action","detail","sha256_seen","prev_hash",
 * "hash"}...] in order. */
enum vig_err vig_evidence_get(struct vig_evidence *ev, const struct vig_principal *who, int64_t id,
			      json_t **out, char *errbuf);

/*
 * Opens item id's file for reading after re-hashing it: *fd (positioned at 0, the caller
 * closes it) and *item (the item, new reference). Records custody "downloaded". When the file
 * is missing or its SHA-256 differs from the item's, nothing is opened, an audit row
 * "evidence.integrity_failure" is written and the result is VIG_EIO with the reason.
 */
enum vig_err vig_evidence_open_verified(struct vig_evidence *ev, const struct vig_principal *who,
					int64_t id, int *fd, json_t **item, char *errbuf);

/*
 * Re-hashes item id's file and checks its custody chain (every row's link and hash, and the
 * head against the audit log), then records custody "verified" with the outcome. *out:
 * {"id","ok","sha256_ok","chain_ok","sha256","sha256_seen","size_seen","custody_entries",
 * "first_bad_entry" (custody id or null),"reason" (null when ok)}. A failed check is VIG_OK
 * with ok false; the result is an error only when nothing could be checked.
 */
enum vig_err vig_evidence_verify(struct vig_evidence *ev, const struct vig_principal *who,
				 int64_t id, json_t **out, char *errbuf);

/* Records a custody step by hand: action "transferred" or "exported" with a detail
 * (1..VIG_EVIDENCE_DETAIL_MAX bytes), e.g. who received a copy. *custody_id may be NULL. */
enum vig_err vig_evidence_custody_note(struct vig_evidence *ev, const struct vig_principal *who,
				       int64_t id, const char *action, const char *detail,
				       int64_t *custody_id, char *errbuf);

/* Checks only the custody chain of item id (no principal: maintenance and tests). *entries
 * gets the rows checked, *first_bad the first bad row's id (0 if none). VIG_OK when intact,
 * VIG_ECONFLICT when broken (reason in errbuf), VIG_ENOTFOUND, VIG_EIO. */
enum vig_err vig_evidence_chain_check(struct vig_evidence *ev, int64_t id, int64_t *entries,
				      int64_t *first_bad, char *errbuf);

/* The tenant of incident incident_id into tenant when who may see it (VIG_ENOTFOUND otherwise):
 * where evidence of that incident goes, e.g. the scope of a search to export. */
enum vig_err vig_evidence_incident_tenant(struct vig_evidence *ev, const struct vig_principal *who,
					  int64_t incident_id, char tenant[VIG_NAME_MAX], char *errbuf);

/* The path of the stored file of tenant and sha256 into out (cap bytes); false if too long. */
bool vig_evidence_path(const struct vig_evidence *ev, const char *tenant, const char *sha256,
		       char *out, size_t cap);

#endif
