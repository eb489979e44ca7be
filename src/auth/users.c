/*
 * users.c - tenants and users, with the permission and tenant-boundary checks done here.
 *
 * Rules (also in auth.h and docs/security.md):
 *   - reading needs users:read / tenants:read, changing needs users:write / tenants:write;
 *   - an object in a tenant the actor cannot see is VIG_ENOTFOUND, never VIG_EPERM, so that
 *     probing ids tells nothing about other tenants;
 *   - roles are assigned only within the actor's own permission set, provider roles only by
 *     provider principals and only in the provider tenant;
 *   - non-provider actors cannot touch users that hold a provider role;
 *   - there is always at least one enabled admin (VIG_ECONFLICT otherwise);
 *   - only provider principals with tenants:write create or change tenants.
 * Every change writes its audit row in the same transaction, with before/after JSON.
 */
#include "auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

/* ---- validation ---------------------------------------------------------------------------- */

bool vig_tenant_id_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= VIG_NAME_MAX - 1)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return n > 0;
}

bool vig_username_valid(const char *s)
{
	size_t n = 0;

	if (!s)
		return false;
	for (; s[n]; n++) {
		char ch = s[n];

		if (n >= VIG_NAME_MAX - 1)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '@' || ch == '-'))
			return false;
	}
	return n > 0;
}

bool vig_tenant_mode_parse(const char *s, enum vig_tenant_mode *out)
{
	if (s && strcmp(s, "full") == 0)
		*out = VIG_TENANT_FULL;
	else if (s && strcmp(s, "semi") == 0)
		*out = VIG_TENANT_SEMI;
	else
		return false;
	return true;
}

const char *vig_tenant_mode_name(enum vig_tenant_mode m)
{
	return m == VIG_TENANT_SEMI ? "semi" : "full";
}

static bool display_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= VIG_TENANT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

enum vig_err vig_auth_check_assign(const struct vig_principal *actor, const struct vig_tenant *t,
				   enum vig_role role, char *errbuf)
{
	if ((unsigned)role >= VIG_ROLE__COUNT)
		return vig_errf(errbuf, VIG_EINVAL, "unknown role");
	if (vig_role_is_provider(role) && !t->is_provider)
		return vig_errf(errbuf, VIG_EINVAL, "role %s exists only in the provider tenant",
				vig_role_name(role));
	if (vig_role_is_provider(role) && !actor->provider)
		return vig_errf(errbuf, VIG_EPERM, "only provider staff may grant role %s",
				vig_role_name(role));
	if (!vig_role_within(role, actor->role))
		return vig_errf(errbuf, VIG_EPERM, "role %s exceeds your own role",
				vig_role_name(role));
	return VIG_OK;
}

/* ---- tenants -------------------------------------------------------------------------------- */

#define TENANT_COLS "id, name, is_provider, mode, retention_days, created"

static void tenant_from_row(sqlite3_stmt *st, struct vig_tenant *t)
{
	memset(t, 0, sizeof(*t));
	vig_auth_copy(t->id, sizeof(t->id), (const char *)sqlite3_column_text(st, 0));
	vig_auth_copy(t->name, sizeof(t->name), (const char *)sqlite3_column_text(st, 1));
	t->is_provider = sqlite3_column_int(st, 2) != 0;
	if (!vig_tenant_mode_parse((const char *)sqlite3_column_text(st, 3), &t->mode))
		t->mode = VIG_TENANT_FULL;
	t->retention_days = sqlite3_column_int(st, 4);
	t->created = sqlite3_column_int64(st, 5);
}

enum vig_err vig_tenant_load_locked(sqlite3 *c, const char *id, struct vig_tenant *out,
				    char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	err = vig_db_prepare(c, "SELECT " TENANT_COLS " FROM tenants WHERE id = ?1", &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		tenant_from_row(st, out);
	else if (rc == SQLITE_DONE)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
	else
		err = vig_errf(errbuf, VIG_EIO, "read tenant: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

static void tenant_json(struct vig_buf *b, const struct vig_tenant *t)
{
	vig_buf_adds(b, "{\"id\":");
	vig_auth_json_str(b, t->id);
	vig_buf_adds(b, ",\"name\":");
	vig_auth_json_str(b, t->name);
	vig_buf_printf(b, ",\"is_provider\":%s,\"mode\":\"%s\",\"retention_days\":%d}",
		       t->is_provider ? "true" : "false", vig_tenant_mode_name(t->mode),
		       t->retention_days);
}

/* Runs the prepared write st (owned, finalized here), then appends an audit row with the
 * JSON of before/after (either may be NULL). Caller holds lock + transaction. */
static enum vig_err write_tenant_locked(sqlite3 *c, sqlite3_stmt *st,
					const struct vig_principal *actor, const char *action,
					const struct vig_tenant *before,
					const struct vig_tenant *after, char *errbuf)
{
	struct vig_buf jb, ja;
	enum vig_err err = VIG_OK;
	int rc = sqlite3_step(st);

	if (rc == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST, "tenant %s already exists", after->id);
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "write tenant: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	if (err)
		return err;
	vig_buf_init(&jb, 4096);
	vig_buf_init(&ja, 4096);
	if (before)
		tenant_json(&jb, before);
	tenant_json(&ja, after);
	err = vig_buf_err(&jb) ? vig_buf_err(&jb) : vig_buf_err(&ja);
	if (!err)
		err = vig_audit_append_locked(c, actor, after->id, action, "tenant", after->id,
					      before ? jb.data : NULL, ja.data, NULL, vig_time_now(),
					      NULL, errbuf);
	vig_buf_release(&jb);
	vig_buf_release(&ja);
	return err;
}

static enum vig_err tenant_writer_check(const struct vig_principal *actor, char *errbuf)
{
	if (!vig_principal_can(actor, VIG_PERM_TENANTS_WRITE) || !actor->provider)
		return vig_errf(errbuf, VIG_EPERM, "only provider administrators manage tenants");
	return VIG_OK;
}

enum vig_err vig_tenant_create(struct vig_db *db, const struct vig_principal *actor,
			       const char *id, const char *name, enum vig_tenant_mode mode,
			       int retention_days, char *errbuf)
{
	struct vig_tenant t = { 0 };
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *c;

	err = tenant_writer_check(actor, errbuf);
	if (err)
		return err;
	if (!vig_tenant_id_valid(id))
		return vig_errf(errbuf, VIG_EINVAL, "tenant id must match [a-z0-9-]{1,63}");
	if (!name)
		name = id;
	if (!display_name_valid(name))
		return vig_errf(errbuf, VIG_EINVAL, "tenant name must be 1-%d printable bytes",
				VIG_TENANT_NAME_MAX - 1);
	if (mode != VIG_TENANT_FULL && mode != VIG_TENANT_SEMI)
		return vig_errf(errbuf, VIG_EINVAL, "tenant mode must be full or semi");
	if (retention_days == 0)
		retention_days = VIG_RETENTION_DAYS_DEFAULT;
	if (retention_days < 1 || retention_days > VIG_RETENTION_DAYS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "retention_days must be 1-%d",
				VIG_RETENTION_DAYS_MAX);
	vig_auth_copy(t.id, sizeof(t.id), id);
	vig_auth_copy(t.name, sizeof(t.name), name);
	t.mode = mode;
	t.retention_days = retention_days;
	t.created = vig_time_now();
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = vig_db_prepare(c,
				     "INSERT INTO tenants (id, name, is_provider, mode, retention_days,"
				     " created) VALUES (?1, ?2, 0, ?3, ?4, ?5)",
				     &st, errbuf);
	if (!err) {
		sqlite3_bind_text(st, 1, t.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, vig_tenant_mode_name(mode), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, retention_days);
		sqlite3_bind_int64(st, 5, t.created);
		err = write_tenant_locked(c, st, actor, "tenant.create", NULL, &t, errbuf);
	}
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	return err;
}

static void tenant_fill(sqlite3_stmt *st, void *row)
{
	tenant_from_row(st, row);
}

enum vig_err vig_tenant_list(struct vig_db *db, const struct vig_principal *actor,
			     struct vig_tenant **out, size_t *n, char *errbuf)
{
	void *rows = NULL;
	enum vig_err err;

	*out = NULL;
	*n = 0;
	if (!vig_principal_can(actor, VIG_PERM_TENANTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "tenants:read required");
	err = vig_db_list(db,
			  "SELECT " TENANT_COLS " FROM tenants WHERE ?1 IS NULL OR id = ?1"
			  " ORDER BY id LIMIT ?2",
			  actor->provider ? NULL : actor->tenant, sizeof(struct vig_tenant),
			  tenant_fill, "tenants", &rows, n, errbuf);
	*out = rows;
	return err;
}

enum vig_err vig_tenant_get(struct vig_db *db, const struct vig_principal *actor,
			    const char *id, struct vig_tenant *out, char *errbuf)
{
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_TENANTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "tenants:read required");
	if (!vig_principal_can_access_tenant(actor, id))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
	c = vig_db_lock(db);
	err = vig_tenant_load_locked(c, id, out, errbuf);
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_tenant_update(struct vig_db *db, const struct vig_principal *actor,
			       const char *id, const struct vig_tenant_update *u, char *errbuf)
{
	struct vig_tenant before, after;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *c;

	err = tenant_writer_check(actor, errbuf);
	if (err)
		return err;
	if (u->name && !display_name_valid(u->name))
		return vig_errf(errbuf, VIG_EINVAL, "tenant name must be 1-%d printable bytes",
				VIG_TENANT_NAME_MAX - 1);
	if (u->mode >= 0 && u->mode != VIG_TENANT_FULL && u->mode != VIG_TENANT_SEMI)
		return vig_errf(errbuf, VIG_EINVAL, "tenant mode must be full or semi");
	if (u->retention_days >= 0 &&
	    (u->retention_days < 1 || u->retention_days > VIG_RETENTION_DAYS_MAX))
		return vig_errf(errbuf, VIG_EINVAL, "retention_days must be 1-%d",
				VIG_RETENTION_DAYS_MAX);
	c = vig_db_lock(db);
	err = vig_tenant_load_locked(c, id ? id : "", &before, errbuf);
	if (err)
		goto out_unlock;
	after = before;
	if (u->name)
		vig_auth_copy(after.name, sizeof(after.name), u->name);
	if (u->mode >= 0)
		after.mode = (enum vig_tenant_mode)u->mode;
	if (u->retention_days >= 0)
		after.retention_days = u->retention_days;
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = vig_db_prepare(c,
				     "UPDATE tenants SET name = ?2, mode = ?3, retention_days = ?4"
				     " WHERE id = ?1",
				     &st, errbuf);
	if (!err) {
		sqlite3_bind_text(st, 1, after.id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, after.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, vig_tenant_mode_name(after.mode), -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 4, after.retention_days);
		err = write_tenant_locked(c, st, actor, "tenant.update", &before, &after, errbuf);
	}
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
out_unlock:
	vig_db_unlock(db);
	return err;
}

/* ---- users ---------------------------------------------------------------------------------- */

#define USER_COLS "id, tenant_id, username, role, disabled, created, last_login"

static void user_from_row(sqlite3_stmt *st, struct vig_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(st, 0);
	vig_auth_copy(u->tenant, sizeof(u->tenant), (const char *)sqlite3_column_text(st, 1));
	vig_auth_copy(u->username, sizeof(u->username), (const char *)sqlite3_column_text(st, 2));
	if (!vig_role_parse((const char *)sqlite3_column_text(st, 3), &u->role))
		u->role = VIG_ROLE_CUSTOMER_VIEWER;
	u->disabled = sqlite3_column_int(st, 4) != 0;
	u->created = sqlite3_column_int64(st, 5);
	u->last_login = sqlite3_column_int64(st, 6);
}

static void user_json(struct vig_buf *b, const struct vig_user *u)
{
	vig_buf_printf(b, "{\"id\":%lld,\"tenant\":", (long long)u->id);
	vig_auth_json_str(b, u->tenant);
	vig_buf_adds(b, ",\"username\":");
	vig_auth_json_str(b, u->username);
	vig_buf_printf(b, ",\"role\":\"%s\",\"disabled\":%s}", vig_role_name(u->role),
		       u->disabled ? "true" : "false");
}

static enum vig_err user_load_locked(sqlite3 *c, int64_t id, struct vig_user *u, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	err = vig_db_prepare(c, "SELECT " USER_COLS " FROM users WHERE id = ?1", &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		user_from_row(st, u);
	else if (rc == SQLITE_DONE)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such user");
	else
		err = vig_errf(errbuf, VIG_EIO, "read user: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

/* Appends the audit row of a user change; caller holds lock + transaction. */
static enum vig_err user_audit_locked(sqlite3 *c, const struct vig_principal *actor,
				      const char *action, const struct vig_user *before,
				      const struct vig_user *after, char *errbuf)
{
	const struct vig_user *any = after ? after : before;
	struct vig_buf jb, ja;
	enum vig_err err;
	char idstr[24];

	snprintf(idstr, sizeof(idstr), "%lld", (long long)any->id);
	vig_buf_init(&jb, 4096);
	vig_buf_init(&ja, 4096);
	if (before)
		user_json(&jb, before);
	if (after)
		user_json(&ja, after);
	err = vig_buf_err(&jb) ? vig_buf_err(&jb) : vig_buf_err(&ja);
	if (!err)
		err = vig_audit_append_locked(c, actor, any->tenant, action, "user", idstr,
					      before ? jb.data : NULL, after ? ja.data : NULL, NULL,
					      vig_time_now(), NULL, errbuf);
	vig_buf_release(&jb);
	vig_buf_release(&ja);
	return err;
}

/* Loads user id for a change by actor: visible, and not above the actor. */
static enum vig_err user_load_for_change(sqlite3 *c, const struct vig_principal *actor,
					 int64_t id, struct vig_user *u, char *errbuf)
{
	enum vig_err err = user_load_locked(c, id, u, errbuf);

	if (err)
		return err;
	if (!vig_principal_can_access_tenant(actor, u->tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such user");
	if (!actor->provider && vig_role_is_provider(u->role))
		return vig_errf(errbuf, VIG_EPERM, "user has a provider role");
	if (!vig_role_within(u->role, actor->role))
		return vig_errf(errbuf, VIG_EPERM, "user's role exceeds your own role");
	return VIG_OK;
}

/* VIG_ECONFLICT if u is the last enabled admin (so it must stay an enabled admin). */
static enum vig_err last_admin_check(sqlite3 *c, const struct vig_user *u, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int others = 0;

	if (u->role != VIG_ROLE_ADMIN || u->disabled)
		return VIG_OK;
	err = vig_db_prepare(c,
			     "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0"
			     " AND id != ?1",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, u->id);
	if (sqlite3_step(st) == SQLITE_ROW)
		others = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (others == 0)
		return vig_errf(errbuf, VIG_ECONFLICT, "cannot remove the last enabled admin");
	return VIG_OK;
}

static enum vig_err user_insert_locked(sqlite3 *c, const struct vig_principal *actor,
				       struct vig_user *u, const char *hash, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	err = vig_db_prepare(c,
			     "INSERT INTO users (tenant_id, username, password_hash, role, created)"
			     " VALUES (?1, ?2, ?3, ?4, ?5)",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, u->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, u->username, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, vig_role_name(u->role), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, u->created);
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST, "username %s is taken", u->username);
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "create user: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	if (err)
		return err;
	u->id = sqlite3_last_insert_rowid(c);
	return user_audit_locked(c, actor, "user.create", NULL, u, errbuf);
}

enum vig_err vig_user_create(struct vig_db *db, const struct vig_principal *actor,
			     const char *tenant, const char *username, const char *password,
			     enum vig_role role, int64_t *id_out, char *errbuf)
{
	char hash[VIG_PASSWORD_HASH_MAX];
	struct vig_user u = { 0 };
	struct vig_tenant t;
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_USERS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "users:write required");
	if (!tenant || !*tenant)
		tenant = actor->tenant;
	if (!vig_principal_can_access_tenant(actor, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
	if (!vig_username_valid(username))
		return vig_errf(errbuf, VIG_EINVAL, "invalid username (1-63 of A-Z a-z 0-9 . _ @ -)");
	c = vig_db_lock(db);
	err = vig_tenant_load_locked(c, tenant, &t, errbuf);
	if (!err)
		err = vig_auth_check_assign(actor, &t, role, errbuf);
	vig_db_unlock(db);
	if (err)
		return err;
	err = vig_auth_password_hash(db, password, hash, errbuf);
	if (err)
		return err;
	vig_auth_copy(u.tenant, sizeof(u.tenant), tenant);
	vig_auth_copy(u.username, sizeof(u.username), username);
	u.role = role;
	u.created = vig_time_now();
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = user_insert_locked(c, actor, &u, hash, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	if (!err && id_out)
		*id_out = u.id;
	return err;
}

static void user_fill(sqlite3_stmt *st, void *row)
{
	user_from_row(st, row);
}

enum vig_err vig_user_list(struct vig_db *db, const struct vig_principal *actor,
			   const char *tenant, struct vig_user **out, size_t *n, char *errbuf)
{
	const char *scope;
	void *rows = NULL;
	enum vig_err err;

	*out = NULL;
	*n = 0;
	if (!vig_principal_can(actor, VIG_PERM_USERS_READ))
		return vig_errf(errbuf, VIG_EPERM, "users:read required");
	err = vig_principal_scope(actor, tenant, &scope, errbuf);
	if (err)
		return err;
	err = vig_db_list(db,
			  "SELECT " USER_COLS " FROM users WHERE ?1 IS NULL OR tenant_id = ?1"
			  " ORDER BY id LIMIT ?2",
			  scope, sizeof(struct vig_user), user_fill, "users", &rows, n, errbuf);
	*out = rows;
	return err;
}

enum vig_err vig_user_get(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			  struct vig_user *out, char *errbuf)
{
	bool self = actor && actor->user_id > 0 && actor->user_id == id;
	enum vig_err err;
	sqlite3 *c;

	if (!self && !vig_principal_can(actor, VIG_PERM_USERS_READ))
		return vig_errf(errbuf, VIG_EPERM, "users:read required");
	c = vig_db_lock(db);
	err = user_load_locked(c, id, out, errbuf);
	vig_db_unlock(db);
	if (!err && !self && !vig_principal_can_access_tenant(actor, out->tenant)) {
		memset(out, 0, sizeof(*out));
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such user");
	}
	return err;
}

/* Runs one UPDATE/DELETE on user id with up to two bound values after the id. */
static enum vig_err user_exec_locked(sqlite3 *c, const char *sql, int64_t id, const char *text,
				     int64_t num, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = vig_db_prepare(c, sql, &st, errbuf);

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_bind_parameter_count(st) >= 2) {
		if (text)
			sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, 2, num);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "update user: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_user_set_role(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			       enum vig_role role, char *errbuf)
{
	struct vig_user before, after;
	struct vig_tenant t;
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_USERS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "users:write required");
	c = vig_db_lock(db);
	err = user_load_for_change(c, actor, id, &before, errbuf);
	if (!err)
		err = vig_tenant_load_locked(c, before.tenant, &t, errbuf);
	if (!err)
		err = vig_auth_check_assign(actor, &t, role, errbuf);
	if (!err && role != VIG_ROLE_ADMIN)
		err = last_admin_check(c, &before, errbuf);
	if (err || before.role == role)
		goto out_unlock;
	after = before;
	after.role = role;
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = user_exec_locked(c, "UPDATE users SET role = ?2 WHERE id = ?1", id,
				       vig_role_name(role), 0, errbuf);
	/* Tokens the user made may exceed the new role: revoke them all. */
	if (!err)
		err = user_exec_locked(c, "UPDATE api_tokens SET revoked = 1 WHERE user_id = ?1", id,
				       NULL, 0, errbuf);
	if (!err)
		err = user_exec_locked(c, "DELETE FROM sessions WHERE user_id = ?1", id, NULL, 0,
				       errbuf);
	if (!err)
		err = user_audit_locked(c, actor, "user.set_role", &before, &after, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
out_unlock:
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_user_set_password(struct vig_db *db, const struct vig_principal *actor,
				   int64_t id, const char *password, char *errbuf)
{
	bool self = actor && actor->user_id > 0 && actor->user_id == id && actor->token_id == 0;
	char hash[VIG_PASSWORD_HASH_MAX];
	struct vig_user u;
	enum vig_err err;
	sqlite3 *c;

	if (!self && !vig_principal_can(actor, VIG_PERM_USERS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "users:write required");
	c = vig_db_lock(db);
	err = self ? user_load_locked(c, id, &u, errbuf) : user_load_for_change(c, actor, id, &u, errbuf);
	vig_db_unlock(db);
	if (err)
		return err;
	err = vig_auth_password_hash(db, password, hash, errbuf);
	if (err)
		return err;
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = user_exec_locked(c,
				       "UPDATE users SET password_hash = ?2, failed_logins = 0,"
				       " locked_until = 0 WHERE id = ?1",
				       id, hash, 0, errbuf);
	if (!err)
		err = user_exec_locked(c, "DELETE FROM sessions WHERE user_id = ?1", id, NULL, 0,
				       errbuf);
	if (!err)
		err = user_audit_locked(c, actor, "user.set_password", NULL, &u, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_user_set_disabled(struct vig_db *db, const struct vig_principal *actor,
				   int64_t id, bool disabled, char *errbuf)
{
	struct vig_user before, after;
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_USERS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "users:write required");
	c = vig_db_lock(db);
	err = user_load_for_change(c, actor, id, &before, errbuf);
	if (!err && disabled)
		err = last_admin_check(c, &before, errbuf);
	if (err || before.disabled == disabled)
		goto out_unlock;
	after = before;
	after.disabled = disabled;
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = user_exec_locked(c, "UPDATE users SET disabled = ?2 WHERE id = ?1", id, NULL,
				       disabled, errbuf);
	if (!err && disabled)
		err = user_exec_locked(c, "DELETE FROM sessions WHERE user_id = ?1", id, NULL, 0,
				       errbuf);
	if (!err)
		err = user_audit_locked(c, actor, disabled ? "user.disable" : "user.enable", &before,
					&after, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
out_unlock:
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_user_delete(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			     char *errbuf)
{
	struct vig_user before;
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_USERS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "users:write required");
	if (actor->user_id == id)
		return vig_errf(errbuf, VIG_ECONFLICT, "you cannot delete yourself");
	c = vig_db_lock(db);
	err = user_load_for_change(c, actor, id, &before, errbuf);
	if (!err)
		err = last_admin_check(c, &before, errbuf);
	if (err)
		goto out_unlock;
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = user_exec_locked(c, "DELETE FROM users WHERE id = ?1", id, NULL, 0, errbuf);
	if (!err)
		err = user_audit_locked(c, actor, "user.delete", &before, NULL, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
out_unlock:
	vig_db_unlock(db);
	return err;
}
