/*
 * audit.c - the append-only, hash-chained audit log.
 *
 * Invariant: row n (ids are 1, 2, 3, ... with no gaps) stores prev_hash = hash of row n-1
 * (64 '0's for row 1) and hash = SHA-256(prev_hash || canon(row n)) in lowercase hex, where
 * canon() is the length-prefixed serialisation described in audit.h. Appends compute the next
 * id themselves inside the caller's IMMEDIATE transaction, so the chain has one writer at a
 * time even across processes. vig_audit_verify() walks the table in id order and reports the
 * first row at which the id sequence, the link or the row's own hash is wrong.
 */
#include "auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/buf.h"
#include "../common/vtime.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
/* Upper bound on one canonical serialisation: all fields at their maximum plus framing. */
#define CANON_MAX (3 * VIG_AUDIT_JSON_MAX + VIG_AUDIT_REASON_MAX + 4 * VIG_AUDIT_OBJECT_MAX + 1024)

/* The fields of one row, in hashing order, as borrowed strings. */
struct canon_row {
	int64_t id, ts, actor_user_id, actor_token_id;
	const char *actor, *tenant, *action, *object_type, *object_id, *before, *after, *reason;
};

static void canon_str(struct vig_buf *b, const char *s)
{
	if (!s) {
		vig_buf_adds(b, "-\n");
		return;
	}
	vig_buf_printf(b, "%zu:", strlen(s));
	vig_buf_adds(b, s);
	vig_buf_addc(b, '\n');
}

static void canon_i64(struct vig_buf *b, int64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	canon_str(b, tmp);
}

/* hash_out = hex(SHA-256(prev_hash || canon(r))). */
static enum vig_err row_hash(const char *prev_hash, const struct canon_row *r,
			     char hash_out[VIG_AUDIT_HASH_STRLEN])
{
	struct vig_buf b;
	uint8_t digest[32];
	enum vig_err err;

	vig_buf_init(&b, CANON_MAX);
	vig_buf_adds(&b, prev_hash);
	canon_i64(&b, r->id);
	canon_i64(&b, r->ts);
	canon_i64(&b, r->actor_user_id);
	canon_i64(&b, r->actor_token_id);
	canon_str(&b, r->actor);
	canon_str(&b, r->tenant);
	canon_str(&b, r->action);
	canon_str(&b, r->object_type);
	canon_str(&b, r->object_id);
	canon_str(&b, r->before);
	canon_str(&b, r->after);
	canon_str(&b, r->reason);
	err = vig_buf_err(&b);
	if (!err) {
		vig_sha256(b.data, b.len, digest);
		vig_hex(digest, sizeof(digest), hash_out);
	}
	vig_buf_release(&b);
	return err;
}

static enum vig_err check_len(const char *what, const char *s, size_t max, char *errbuf)
{
	if (s && strlen(s) > max)
		return vig_errf(errbuf, VIG_ETOOBIG, "audit %s longer than %zu bytes", what, max);
	return VIG_OK;
}

/* Reads the last row's id and hash (0 and zeros for an empty log). */
static enum vig_err chain_head(sqlite3 *c, int64_t *id, char hash[VIG_AUDIT_HASH_STRLEN],
			       char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	*id = 0;
	memcpy(hash, ZERO_HASH, VIG_AUDIT_HASH_STRLEN);
	err = vig_db_prepare(c, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", &st,
			     errbuf);
	if (err)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);

		*id = sqlite3_column_int64(st, 0);
		if (h && strlen(h) == VIG_AUDIT_HASH_STRLEN - 1)
			memcpy(hash, h, VIG_AUDIT_HASH_STRLEN);
		else
			err = vig_errf(errbuf, VIG_EIO, "audit row %lld has a malformed hash",
				       (long long)*id);
	} else if (rc != SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_EIO, "read audit head: %s", sqlite3_errmsg(c));
	}
	sqlite3_finalize(st);
	return err;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

enum vig_err vig_audit_append_locked(sqlite3 *c, const struct vig_principal *actor,
				     const char *tenant, const char *action,
				     const char *object_type, const char *object_id,
				     const char *before_json, const char *after_json,
				     const char *reason, int64_t ts, int64_t *id_out, char *errbuf)
{
	struct canon_row r = { 0 };
	char prev[VIG_AUDIT_HASH_STRLEN], hash[VIG_AUDIT_HASH_STRLEN];
	sqlite3_stmt *st = NULL;
	enum vig_err err;

	if (!action || !*action)
		return vig_errf(errbuf, VIG_EINVAL, "audit action is empty");
	if ((err = check_len("action", action, VIG_AUDIT_ACTION_MAX, errbuf)) ||
	    (err = check_len("object type", object_type, VIG_AUDIT_OBJECT_MAX, errbuf)) ||
	    (err = check_len("object id", object_id, VIG_AUDIT_OBJECT_MAX, errbuf)) ||
	    (err = check_len("before", before_json, VIG_AUDIT_JSON_MAX, errbuf)) ||
	    (err = check_len("after", after_json, VIG_AUDIT_JSON_MAX, errbuf)) ||
	    (err = check_len("reason", reason, VIG_AUDIT_REASON_MAX, errbuf)))
		return err;
	err = chain_head(c, &r.id, prev, errbuf);
	if (err)
		return err;
	r.id++;
	r.ts = ts;
	r.actor_user_id = actor ? actor->user_id : 0;
	r.actor_token_id = actor ? actor->token_id : 0;
	r.actor = actor ? actor->username : "system";
	r.tenant = tenant ? tenant : actor ? actor->tenant : VIG_DB_PROVIDER_TENANT;
	r.action = action;
	r.object_type = object_type;
	r.object_id = object_id;
	r.before = before_json;
	r.after = after_json;
	r.reason = reason;
	err = row_hash(prev, &r, hash);
	if (err)
		return vig_errf(errbuf, err, "audit row too large");
	err = vig_db_prepare(c,
			     "INSERT INTO audit_log (id, ts, actor_user_id, actor_token_id, actor,"
			     " tenant_id, action, object_type, object_id, before_json, after_json,"
			     " reason, prev_hash, hash)"
			     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, r.id);
	sqlite3_bind_int64(st, 2, r.ts);
	sqlite3_bind_int64(st, 3, r.actor_user_id);
	sqlite3_bind_int64(st, 4, r.actor_token_id);
	sqlite3_bind_text(st, 5, r.actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, r.tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, r.action, -1, SQLITE_STATIC);
	bind_opt(st, 8, r.object_type);
	bind_opt(st, 9, r.object_id);
	bind_opt(st, 10, r.before);
	bind_opt(st, 11, r.after);
	bind_opt(st, 12, r.reason);
	sqlite3_bind_text(st, 13, prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "append audit row: %s", sqlite3_errmsg(c));
	else if (id_out)
		*id_out = r.id;
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_audit_append(struct vig_db *db, const struct vig_principal *actor,
			      const char *tenant, const char *action, const char *object_type,
			      const char *object_id, const char *before_json,
			      const char *after_json, const char *reason, int64_t *id_out,
			      char *errbuf)
{
	sqlite3 *c = vig_db_lock(db);
	enum vig_err err = vig_db_begin(c, errbuf);

	if (!err)
		err = vig_audit_append_locked(c, actor, tenant, action, object_type, object_id,
					      before_json, after_json, reason, vig_time_now(),
					      id_out, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	return err;
}

#define VERIFY_COLS \
	"id, ts, actor_user_id, actor_token_id, actor, tenant_id, action, object_type," \
	" object_id, before_json, after_json, reason, prev_hash, hash"

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

/* Checks one row against the running chain state; returns false with a reason if broken. */
static bool verify_row(sqlite3_stmt *st, int64_t expect_id, const char *running,
		       char next[VIG_AUDIT_HASH_STRLEN], char *errbuf)
{
	struct canon_row r;
	const char *prev = col_text(st, 12), *hash = col_text(st, 13);

	r.id = sqlite3_column_int64(st, 0);
	r.ts = sqlite3_column_int64(st, 1);
	r.actor_user_id = sqlite3_column_int64(st, 2);
	r.actor_token_id = sqlite3_column_int64(st, 3);
	r.actor = col_text(st, 4);
	r.tenant = col_text(st, 5);
	r.action = col_text(st, 6);
	r.object_type = col_text(st, 7);
	r.object_id = col_text(st, 8);
	r.before = col_text(st, 9);
	r.after = col_text(st, 10);
	r.reason = col_text(st, 11);
	if (r.id != expect_id) {
		vig_errf(errbuf, VIG_ECONFLICT, "row %lld follows row %lld: rows missing or inserted",
			 (long long)r.id, (long long)expect_id - 1);
		return false;
	}
	if (!prev || strcmp(prev, running) != 0) {
		vig_errf(errbuf, VIG_ECONFLICT, "row %lld does not link to the previous row",
			 (long long)r.id);
		return false;
	}
	if (row_hash(prev, &r, next) != VIG_OK || !hash || strcmp(hash, next) != 0) {
		vig_errf(errbuf, VIG_ECONFLICT, "row %lld content does not match its hash",
			 (long long)r.id);
		return false;
	}
	return true;
}

enum vig_err vig_audit_verify(struct vig_db *db, int64_t *rows, int64_t *first_bad_id,
			      char head_hash[VIG_AUDIT_HASH_STRLEN], char *errbuf)
{
	char running[VIG_AUDIT_HASH_STRLEN] = ZERO_HASH, next[VIG_AUDIT_HASH_STRLEN];
	sqlite3_stmt *st = NULL;
	sqlite3 *c = vig_db_lock(db);
	enum vig_err err;
	int64_t n = 0;
	int rc;

	*rows = 0;
	*first_bad_id = 0;
	err = vig_db_prepare(c, "SELECT " VERIFY_COLS " FROM audit_log ORDER BY id", &st, errbuf);
	if (err)
		goto out_unlock;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (!verify_row(st, n, running, next, errbuf)) {
			*first_bad_id = sqlite3_column_int64(st, 0);
			err = VIG_ECONFLICT;
			break;
		}
		memcpy(running, next, sizeof(running));
	}
	if (!err && rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "read audit log: %s", sqlite3_errmsg(c));
	*rows = n;
	if (head_hash)
		memcpy(head_hash, running, VIG_AUDIT_HASH_STRLEN);
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	return err;
}

static char *dup_col(sqlite3_stmt *st, int i, bool *oom)
{
	const char *s = col_text(st, i);
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

static bool read_row(sqlite3_stmt *st, struct vig_audit_row *r)
{
	bool oom = false;
	const char *prev = col_text(st, 12), *hash = col_text(st, 13);

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->ts = sqlite3_column_int64(st, 1);
	r->actor_user_id = sqlite3_column_int64(st, 2);
	r->actor_token_id = sqlite3_column_int64(st, 3);
	r->actor = dup_col(st, 4, &oom);
	r->tenant = dup_col(st, 5, &oom);
	r->action = dup_col(st, 6, &oom);
	r->object_type = dup_col(st, 7, &oom);
	r->object_id = dup_col(st, 8, &oom);
	r->before_json = dup_col(st, 9, &oom);
	r->after_json = dup_col(st, 10, &oom);
	r->reason = dup_col(st, 11, &oom);
	snprintf(r->prev_hash, sizeof(r->prev_hash), "%s", prev ? prev : "");
	snprintf(r->hash, sizeof(r->hash), "%s", hash ? hash : "");
	return !oom;
}

enum vig_err vig_audit_list(struct vig_db *db, const struct vig_principal *actor,
			    const char *tenant, int64_t before_id, int limit,
			    struct vig_audit_row **out, size_t *n, char *errbuf)
{
	return vig_audit_list_objects(db, actor, tenant, before_id, limit, NULL, 0, out, n, errbuf);
}

enum vig_err vig_audit_list_objects(struct vig_db *db, const struct vig_principal *actor,
				    const char *tenant, int64_t before_id, int limit,
				    const struct vig_audit_object *objs, size_t n_objs,
				    struct vig_audit_row **out, size_t *n, char *errbuf)
{
	struct vig_audit_row *rows = NULL;
	const char *scope = NULL;
	sqlite3_stmt *st = NULL;
	struct vig_buf sql;
	sqlite3 *c;
	enum vig_err err;
	size_t count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!vig_principal_can(actor, VIG_PERM_AUDIT_READ))
		return vig_errf(errbuf, VIG_EPERM, "audit:read required");
	if (n_objs > VIG_AUDIT_OBJECTS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "at most %d objects", VIG_AUDIT_OBJECTS_MAX);
	err = vig_principal_scope(actor, tenant, &scope, errbuf);
	if (err)
		return err;
	limit = limit < 1 ? 1 : limit > VIG_AUDIT_LIST_MAX ? VIG_AUDIT_LIST_MAX : limit;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	vig_buf_init(&sql, 16 << 10);
	vig_buf_adds(&sql, "SELECT " VERIFY_COLS " FROM audit_log"
			   " WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 <= 0 OR id < ?2)");
	for (size_t i = 0; i < n_objs; i++) /* (object_type, object_id) is indexed */
		vig_buf_printf(&sql, "%s(object_type = ?%zu AND object_id = ?%zu)", i ? " OR " : " AND (",
			       4 + 2 * i, 5 + 2 * i);
	vig_buf_adds(&sql, n_objs ? ") ORDER BY id DESC LIMIT ?3" : " ORDER BY id DESC LIMIT ?3");
	if (vig_buf_err(&sql) != VIG_OK) {
		vig_buf_release(&sql);
		free(rows);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	c = vig_db_lock(db);
	err = vig_db_prepare(c, sql.data, &st, errbuf);
	vig_buf_release(&sql);
	if (err)
		goto out_unlock;
	bind_opt(st, 1, scope);
	sqlite3_bind_int64(st, 2, before_id);
	sqlite3_bind_int(st, 3, limit);
	for (size_t i = 0; i < n_objs; i++) {
		sqlite3_bind_text(st, (int)(4 + 2 * i), objs[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, (int)(5 + 2 * i), objs[i].id, -1, SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && count < (size_t)limit) {
		if (!read_row(st, &rows[count++])) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			break;
		}
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = vig_errf(errbuf, VIG_EIO, "read audit log: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	if (err) {
		vig_audit_rows_free(rows, count);
		return err;
	}
	*out = rows;
	*n = count;
	return VIG_OK;
}

void vig_audit_rows_free(struct vig_audit_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].actor);
		free(rows[i].tenant);
		free(rows[i].action);
		free(rows[i].object_type);
		free(rows[i].object_id);
		free(rows[i].before_json);
		free(rows[i].after_json);
		free(rows[i].reason);
	}
	free(rows);
}

enum vig_err vig_audit_append_json_locked(sqlite3 *c, const struct vig_principal *actor,
					  const char *tenant, const char *action,
					  const char *object_type, int64_t object_id,
					  const struct json_t *before, const struct json_t *after,
					  const char *reason, int64_t ts, char *errbuf)
{
	char idbuf[24], *b = before ? json_dumps(before, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum vig_err err;

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)object_id);
	if ((before && !b) || (after && !a))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	else
		err = vig_audit_append_locked(c, actor, tenant, action, object_type, idbuf, b, a, reason,
					      ts, NULL, errbuf);
	free(b);
	free(a);
	return err;
}
