/*
 * audit.h - the append-only, hash-chained audit log of every change a user or the system makes.
 *
 * Each row stores prev_hash (the previous row's hash, 64 zeros for the first row) and
 * hash = SHA-256(prev_hash || canonical serialisation of the row), both as lowercase hex.
 * The canonical serialisation is, for each field in the fixed order id, ts, actor_user_id,
 * actor_token_id, actor, tenant_id, action, object_type, object_id, before, after, reason:
 * the field's decimal byte length, ':', the bytes, '\n' (a NULL field is written as "-\n").
 * Because the id is hashed and every row hashes its predecessor, a changed, deleted, inserted
 * or reordered row breaks the chain at (or right after) that row.
 *
 * SQLite triggers refuse UPDATE and DELETE on audit_log, so the log is append-only for any
 * SQL client; vig_audit_verify() still catches tampering with the file itself. Deleting rows
 * at the END of the log cannot be seen from inside the file: compare the head hash that
 * vig_audit_verify() reports with a copy kept elsewhere (docs/security.md).
 */
#ifndef VIG_AUTH_AUDIT_H
#define VIG_AUTH_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/vig.h"
#include "auth.h"
#include "db.h"

/* Bounds on what one row may hold; longer values are refused with VIG_ETOOBIG. */
#define VIG_AUDIT_ACTION_MAX 64
#define VIG_AUDIT_OBJECT_MAX 256
#define VIG_AUDIT_JSON_MAX (64 * 1024)
#define VIG_AUDIT_REASON_MAX 4096
#define VIG_AUDIT_LIST_MAX 1000 /* rows per vig_audit_list() call */
#define VIG_AUDIT_HASH_STRLEN 65

/* One audit row as read back. Strings are owned by the row (vig_audit_rows_free()). */
struct vig_audit_row {
	int64_t id;                          /* increasing, gap-free unless tampered */
	int64_t ts;                          /* ns */
	int64_t actor_user_id;               /* 0 for the system or a token without user */
	int64_t actor_token_id;              /* 0 unless the actor used a token */
	char *actor;                         /* actor's username, "system", or "anonymous" */
	char *tenant;                        /* tenant the change belongs to */
	char *action;                        /* e.g. "user.create", "login_failed" */
	char *object_type;                   /* e.g. "user"; may be NULL */
	char *object_id;                     /* may be NULL */
	char *before_json;                   /* object before the change; may be NULL */
	char *after_json;                    /* object after the change; may be NULL */
	char *reason;                        /* free text; may be NULL */
	char prev_hash[VIG_AUDIT_HASH_STRLEN];
	char hash[VIG_AUDIT_HASH_STRLEN];
};

/* Appends one row. actor NULL means the system. tenant must exist (NULL = the actor's tenant,
 * or the provider tenant for the system). action is required; the other strings may be NULL.
 * The time is vig_time_now(). *id_out (may be NULL) gets the row id.
 * Errors: VIG_EINVAL, VIG_ETOOBIG, VIG_EIO. */
enum vig_err vig_audit_append(struct vig_db *db, const struct vig_principal *actor,
			      const char *tenant, const char *action, const char *object_type,
			      const char *object_id, const char *before_json,
			      const char *after_json, const char *reason, int64_t *id_out,
			      char *errbuf);

/* vig_audit_append() for a caller that holds the lock (vig_db_lock()) and an open
 * transaction, so that a change and its audit row commit together or not at all; ts is the
 * row time in ns. */
enum vig_err vig_audit_append_locked(sqlite3 *c, const struct vig_principal *actor,
				     const char *tenant, const char *action,
				     const char *object_type, const char *object_id,
				     const char *before_json, const char *after_json,
				     const char *reason, int64_t ts, int64_t *id_out, char *errbuf);

/* vig_audit_append_locked() for an object with an integer id and before/after as JSON values
 * (NULL = none), written compact with sorted keys so that equal objects give equal text. */
struct json_t;
enum vig_err vig_audit_append_json_locked(sqlite3 *c, const struct vig_principal *actor,
					  const char *tenant, const char *action,
					  const char *object_type, int64_t object_id,
					  const struct json_t *before, const struct json_t *after,
					  const char *reason, int64_t ts, char *errbuf);

/* Recomputes the whole chain. *rows gets the number of rows checked; *first_bad_id the id of
 * the first row whose hash, prev_hash or id sequence is wrong (0 if none); head_hash
 * (VIG_AUDIT_HASH_STRLEN bytes, may be NULL) the last row's hash (or 64 zeros when empty).
 * Returns VIG_OK if intact, VIG_ECONFLICT if the chain is broken (reason in errbuf), VIG_EIO
 * if the database cannot be read. */
enum vig_err vig_audit_verify(struct vig_db *db, int64_t *rows, int64_t *first_bad_id,
			      char head_hash[VIG_AUDIT_HASH_STRLEN], char *errbuf);

/* Lists rows newest first (audit:read). Provider principals see every tenant (or only
 * `tenant` if non-NULL/""), others only their own (VIG_EPERM for another requested tenant).
 * before_id > 0 returns rows with id < before_id (paging). limit is clamped to
 * 1..VIG_AUDIT_LIST_MAX. *out is freed with vig_audit_rows_free(). */
enum vig_err vig_audit_list(struct vig_db *db, const struct vig_principal *actor,
			    const char *tenant, int64_t before_id, int limit,
			    struct vig_audit_row **out, size_t *n, char *errbuf);

/* One object whose rows vig_audit_list_objects() returns: object_type and object_id as the
 * audit rows carry them ("incident", "42"). */
struct vig_audit_object {
	const char *type;
	const char *id;
};
#define VIG_AUDIT_OBJECTS_MAX 100
/* vig_audit_list() limited to the rows of the n objects of objs (n 1..VIG_AUDIT_OBJECTS_MAX;
 * n = 0 does not filter). */
enum vig_err vig_audit_list_objects(struct vig_db *db, const struct vig_principal *actor,
				    const char *tenant, int64_t before_id, int limit,
				    const struct vig_audit_object *objs, size_t n_objs,
				    struct vig_audit_row **out, size_t *n, char *errbuf);

/* Frees n rows from vig_audit_list(); NULL does nothing. */
void vig_audit_rows_free(struct vig_audit_row *rows, size_t n);

#endif /* VIG_AUTH_AUDIT_H */
