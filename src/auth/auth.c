/*
 * auth.c - roles and permissions, principals, Argon2id passwords, first-run setup, API
 * tokens and sessions. Users and tenants are in users.c.
 *
 * Secrets: API tokens and session ids are 32 random bytes (hex); only their SHA-256 is
 * stored, so a copy of the database does not let anyone log in. Lookups go by that hash,
 * so their timing reveals nothing about the secret. CSRF tokens are stored as they are
 * (they are only useful together with the session cookie) and compared in constant time.
 *
 * Slow work (Argon2id) runs without the database lock: login reads the user in one short
 * critical section, verifies the password unlocked, then records the result in a second
 * one. An unknown username costs one Argon2id hash too, so timing does not tell whether a
 * user exists.
 *
 * Lockout: after cfg.max_failed_logins failures in a row a user is locked for
 * cfg.lockout_base_ns, doubling with each further failure up to cfg.lockout_max_ns; while
 * locked, attempts are refused without checking the password. A success resets the count.
 */
#include "auth_int.h"

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

/* ---- roles and permissions ------------------------------------------------------------ */

static const char *const ROLE_NAMES[VIG_ROLE__COUNT] = {
	[VIG_ROLE_ADMIN] = "admin",
	[VIG_ROLE_TENANT_ADMIN] = "tenant_admin",
	[VIG_ROLE_TIER1] = "tier1",
	[VIG_ROLE_TIER2] = "tier2",
	[VIG_ROLE_TIER3] = "tier3",
	[VIG_ROLE_DETECTION_ENGINEER] = "detection_engineer",
	[VIG_ROLE_CUSTOMER_VIEWER] = "customer_viewer",
	[VIG_ROLE_CUSTOMER_APPROVER] = "customer_approver",
	[VIG_ROLE_INGEST] = "ingest",
};

static const char *const PERM_NAMES[VIG_PERM__COUNT] = {
	[VIG_PERM_EVENTS_READ] = "events:read",
	[VIG_PERM_EVENTS_WRITE] = "events:write",
	[VIG_PERM_ALERTS_READ] = "alerts:read",
	[VIG_PERM_ALERTS_WRITE] = "alerts:write",
	[VIG_PERM_INCIDENTS_READ] = "incidents:read",
	[VIG_PERM_INCIDENTS_WRITE] = "incidents:write",
	[VIG_PERM_RULES_READ] = "rules:read",
	[VIG_PERM_RULES_WRITE] = "rules:write",
	[VIG_PERM_AGENTS_READ] = "agents:read",
	[VIG_PERM_AGENTS_WRITE] = "agents:write",
	[VIG_PERM_ACTIONS_REQUEST] = "actions:request",
	[VIG_PERM_ACTIONS_APPROVE] = "actions:approve",
	[VIG_PERM_TENANTS_READ] = "tenants:read",
	[VIG_PERM_TENANTS_WRITE] = "tenants:write",
	[VIG_PERM_USERS_READ] = "users:read",
	[VIG_PERM_USERS_WRITE] = "users:write",
	[VIG_PERM_TOKENS_READ] = "tokens:read",
	[VIG_PERM_TOKENS_WRITE] = "tokens:write",
	[VIG_PERM_AUDIT_READ] = "audit:read",
	[VIG_PERM_SETTINGS_WRITE] = "settings:write",
};

_Static_assert(VIG_PERM__COUNT <= 32, "permission sets are 32-bit masks");

#define P(x) (1u << VIG_PERM_##x)
#define ALL_PERMS ((uint32_t)((1ull << VIG_PERM__COUNT) - 1))
#define VIEWER_PERMS (P(EVENTS_READ) | P(ALERTS_READ) | P(INCIDENTS_READ) | P(RULES_READ) | \
		      P(AGENTS_READ) | P(TENANTS_READ))
#define TIER1_PERMS (VIEWER_PERMS | P(ALERTS_WRITE) | P(INCIDENTS_WRITE))
#define TIER2_PERMS (TIER1_PERMS | P(ACTIONS_REQUEST))

/* The permission table; docs/security.md shows the same table and must change with it. */
static const uint32_t ROLE_PERMS[VIG_ROLE__COUNT] = {
	[VIG_ROLE_ADMIN] = ALL_PERMS,
	[VIG_ROLE_TENANT_ADMIN] = TIER2_PERMS | P(EVENTS_WRITE) | P(AGENTS_WRITE) |
				  P(ACTIONS_APPROVE) | P(USERS_READ) | P(USERS_WRITE) |
				  P(TOKENS_READ) | P(TOKENS_WRITE) | P(AUDIT_READ) |
				  P(SETTINGS_WRITE),
	[VIG_ROLE_TIER1] = TIER1_PERMS,
	[VIG_ROLE_TIER2] = TIER2_PERMS,
	[VIG_ROLE_TIER3] = TIER2_PERMS | P(RULES_WRITE) | P(AGENTS_WRITE) | P(ACTIONS_APPROVE) |
			   P(USERS_READ) | P(TOKENS_READ) | P(AUDIT_READ),
	[VIG_ROLE_DETECTION_ENGINEER] = VIEWER_PERMS | P(EVENTS_WRITE) | P(RULES_WRITE),
	[VIG_ROLE_CUSTOMER_VIEWER] = VIEWER_PERMS,
	[VIG_ROLE_CUSTOMER_APPROVER] = VIEWER_PERMS | P(ACTIONS_APPROVE),
	[VIG_ROLE_INGEST] = P(EVENTS_WRITE),
};

bool vig_role_parse(const char *s, enum vig_role *out)
{
	for (int i = 0; s && i < VIG_ROLE__COUNT; i++) {
		if (strcmp(s, ROLE_NAMES[i]) == 0) {
			*out = (enum vig_role)i;
			return true;
		}
	}
	return false;
}

const char *vig_role_name(enum vig_role role)
{
	return (unsigned)role < VIG_ROLE__COUNT ? ROLE_NAMES[role] : "unknown";
}

bool vig_role_is_provider(enum vig_role role)
{
	return role == VIG_ROLE_ADMIN || role == VIG_ROLE_TIER1 || role == VIG_ROLE_TIER2 ||
	       role == VIG_ROLE_TIER3 || role == VIG_ROLE_DETECTION_ENGINEER;
}

bool vig_perm_parse(const char *s, enum vig_perm *out)
{
	for (int i = 0; s && i < VIG_PERM__COUNT; i++) {
		if (strcmp(s, PERM_NAMES[i]) == 0) {
			*out = (enum vig_perm)i;
			return true;
		}
	}
	return false;
}

const char *vig_perm_name(enum vig_perm perm)
{
	return (unsigned)perm < VIG_PERM__COUNT ? PERM_NAMES[perm] : "unknown";
}

bool vig_role_can(enum vig_role role, enum vig_perm perm)
{
	if ((unsigned)role >= VIG_ROLE__COUNT || (unsigned)perm >= VIG_PERM__COUNT)
		return false;
	return (ROLE_PERMS[role] & (1u << perm)) != 0;
}

bool vig_role_within(enum vig_role inner, enum vig_role outer)
{
	if ((unsigned)inner >= VIG_ROLE__COUNT || (unsigned)outer >= VIG_ROLE__COUNT)
		return false;
	return (ROLE_PERMS[inner] & ~ROLE_PERMS[outer]) == 0;
}

/* ---- principals --------------------------------------------------------------------------- */

void vig_auth_copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

void vig_principal_fill(struct vig_principal *p, int64_t user_id, int64_t token_id,
			const char *username, const char *tenant, enum vig_role role,
			bool tenant_is_provider)
{
	memset(p, 0, sizeof(*p));
	p->user_id = user_id;
	p->token_id = token_id;
	vig_auth_copy(p->username, sizeof(p->username), username);
	vig_auth_copy(p->tenant, sizeof(p->tenant), tenant);
	p->role = role;
	p->provider = tenant_is_provider && vig_role_is_provider(role);
}

void vig_principal_system(struct vig_principal *out)
{
	vig_principal_fill(out, 0, 0, "system", VIG_DB_PROVIDER_TENANT, VIG_ROLE_ADMIN, true);
}

bool vig_principal_can(const struct vig_principal *p, enum vig_perm perm)
{
	return p && vig_role_can(p->role, perm);
}

bool vig_principal_can_access_tenant(const struct vig_principal *p, const char *tenant)
{
	if (!p || !tenant || !*tenant)
		return false;
	return p->provider || strcmp(p->tenant, tenant) == 0;
}

enum vig_err vig_principal_scope(const struct vig_principal *p, const char *requested,
				 const char **scope, char *errbuf)
{
	*scope = NULL;
	if (!p)
		return vig_errf(errbuf, VIG_EAUTH, "not authenticated");
	if (requested && *requested) {
		if (!vig_principal_can_access_tenant(p, requested))
			return vig_errf(errbuf, VIG_EPERM, "tenant not accessible");
		*scope = requested;
	} else if (!p->provider) {
		*scope = p->tenant;
	}
	return VIG_OK;
}

/* ---- configuration ---------------------------------------------------------------------- */

void vig_auth_config_default(struct vig_auth_config *c)
{
	c->argon2_t_cost = VIG_ARGON2_T_COST;
	c->argon2_m_cost_kib = VIG_ARGON2_M_COST_KIB;
	c->argon2_parallelism = VIG_ARGON2_PARALLELISM;
	c->session_ttl_ns = 12 * 3600 * VIG_NS_PER_SEC;
	c->session_max_ns = 7 * VIG_NS_PER_DAY;
	c->max_failed_logins = 5;
	c->lockout_base_ns = 30 * VIG_NS_PER_SEC;
	c->lockout_max_ns = 15 * 60 * VIG_NS_PER_SEC;
}

void vig_auth_config_for_tests(struct vig_auth_config *c)
{
	vig_auth_config_default(c);
	c->argon2_t_cost = 1;
	c->argon2_m_cost_kib = 64;
}

void vig_auth_configure(struct vig_db *db, const struct vig_auth_config *c)
{
	vig_db_lock(db);
	db->cfg = *c;
	vig_db_unlock(db);
}

static struct vig_auth_config get_config(struct vig_db *db)
{
	struct vig_auth_config c;

	vig_db_lock(db);
	c = db->cfg;
	vig_db_unlock(db);
	return c;
}

/* ---- passwords ------------------------------------------------------------------------------ */

enum vig_err vig_auth_password_hash(struct vig_db *db, const char *password,
				    char out[VIG_PASSWORD_HASH_MAX], char *errbuf)
{
	struct vig_auth_config c = get_config(db);
	uint8_t salt[16];
	size_t len = password ? strlen(password) : 0;
	int rc;

	if (len < VIG_PASSWORD_MIN_LEN)
		return vig_errf(errbuf, VIG_EINVAL, "password shorter than %d characters",
				VIG_PASSWORD_MIN_LEN);
	if (len > VIG_PASSWORD_MAX_LEN)
		return vig_errf(errbuf, VIG_EINVAL, "password longer than %d bytes",
				VIG_PASSWORD_MAX_LEN);
	if (vig_random(salt, sizeof(salt)) != VIG_OK)
		return vig_errf(errbuf, VIG_EIO, "no randomness for the salt");
	rc = argon2id_hash_encoded(c.argon2_t_cost, c.argon2_m_cost_kib, c.argon2_parallelism,
				   password, len, salt, sizeof(salt), 32, out,
				   VIG_PASSWORD_HASH_MAX);
	if (rc != ARGON2_OK)
		return vig_errf(errbuf, rc == ARGON2_MEMORY_ALLOCATION_ERROR ? VIG_ENOMEM : VIG_EINTERNAL,
				"argon2id: %s", argon2_error_message(rc));
	return VIG_OK;
}

bool vig_auth_password_verify(const char *encoded, const char *password)
{
	size_t len;

	if (!encoded || !password || strncmp(encoded, "$argon2id$", 10) != 0)
		return false;
	len = strlen(password);
	if (len > VIG_PASSWORD_MAX_LEN)
		return false;
	/* argon2id_verify recomputes the hash and compares in constant time. */
	return argon2id_verify(encoded, password, len) == ARGON2_OK;
}

/* ---- shared helpers -------------------------------------------------------------------------- */

void vig_auth_json_str(struct vig_buf *b, const char *s)
{
	if (!s)
		vig_buf_adds(b, "null");
	else
		vig_buf_add_json_str(b, s, strlen(s));
}

/* hex(SHA-256(s)) into out (65 bytes). */
static void sha256_hex(const char *s, char out[65])
{
	uint8_t d[32];

	vig_sha256(s, strlen(s), d);
	vig_hex(d, sizeof(d), out);
}

/* 32 random bytes as 64 hex chars into out (65 bytes). */
static enum vig_err random_hex(char out[65], char *errbuf)
{
	uint8_t r[32];

	if (vig_random(r, sizeof(r)) != VIG_OK)
		return vig_errf(errbuf, VIG_EIO, "no randomness available");
	vig_hex(r, sizeof(r), out);
	return VIG_OK;
}

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i] && i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64 && s[64] == '\0';
}

/* ---- setup -------------------------------------------------------------------------------------- */

bool vig_auth_setup_needed(struct vig_db *db)
{
	sqlite3 *c = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	bool needed = false;

	if (sqlite3_prepare_v2(c, "SELECT EXISTS (SELECT 1 FROM users)", -1, &st, NULL) ==
		    SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		needed = sqlite3_column_int(st, 0) == 0;
	sqlite3_finalize(st);
	vig_db_unlock(db);
	return needed;
}

/* Constant-time comparison of two secrets of any length (compares their SHA-256). */
static bool secret_equal(const char *a, const char *b)
{
	uint8_t da[32], db[32];

	vig_sha256(a, strlen(a), da);
	vig_sha256(b, strlen(b), db);
	return vig_ct_equal(da, db, sizeof(da));
}

/* Inserts the first admin if there is still no user; caller holds lock + transaction. */
static enum vig_err setup_insert_locked(sqlite3 *c, const char *username, const char *hash,
					int64_t now, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	struct vig_buf after;
	enum vig_err err;
	int64_t id;
	char idstr[24];

	err = vig_db_prepare(c,
			     "INSERT INTO users (tenant_id, username, password_hash, role, created)"
			     " SELECT ?1, ?2, ?3, 'admin', ?4 WHERE NOT EXISTS (SELECT 1 FROM users)",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, VIG_DB_PROVIDER_TENANT, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, username, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "create admin: %s", sqlite3_errmsg(c));
	else if (sqlite3_changes(c) != 1)
		err = vig_errf(errbuf, VIG_ECONFLICT, "setup already done");
	sqlite3_finalize(st);
	if (err)
		return err;
	id = sqlite3_last_insert_rowid(c);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	vig_buf_init(&after, 4096);
	vig_buf_printf(&after, "{\"id\":%lld,\"tenant\":\"" VIG_DB_PROVIDER_TENANT "\",\"username\":",
		       (long long)id);
	vig_auth_json_str(&after, username);
	vig_buf_adds(&after, ",\"role\":\"admin\",\"disabled\":false}");
	err = vig_buf_err(&after);
	if (!err)
		err = vig_audit_append_locked(c, NULL, VIG_DB_PROVIDER_TENANT, "setup", "user", idstr,
					      NULL, after.data, "first admin created with the setup token",
					      now, NULL, errbuf);
	vig_buf_release(&after);
	return err;
}

enum vig_err vig_auth_setup(struct vig_db *db, const char *given, const char *expected,
			    const char *username, const char *password, char *errbuf)
{
	char hash[VIG_PASSWORD_HASH_MAX];
	enum vig_err err;
	sqlite3 *c;

	if (!vig_auth_setup_needed(db))
		return vig_errf(errbuf, VIG_ECONFLICT, "setup already done");
	if (!expected || !*expected || !given || !secret_equal(given, expected))
		return vig_errf(errbuf, VIG_EAUTH, "wrong setup token");
	if (!vig_username_valid(username))
		return vig_errf(errbuf, VIG_EINVAL, "invalid username (1-63 of A-Z a-z 0-9 . _ @ -)");
	err = vig_auth_password_hash(db, password, hash, errbuf);
	if (err)
		return err;
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = setup_insert_locked(c, username, hash, vig_time_now(), errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	return err;
}

/* ---- API tokens --------------------------------------------------------------------------------- */

static bool token_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= VIG_TOKEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void token_json(struct vig_buf *b, int64_t id, const char *tenant, const char *name,
		       enum vig_role role, int64_t expires, bool revoked)
{
	vig_buf_printf(b, "{\"id\":%lld,\"tenant\":", (long long)id);
	vig_auth_json_str(b, tenant);
	vig_buf_adds(b, ",\"name\":");
	vig_auth_json_str(b, name);
	vig_buf_printf(b, ",\"role\":\"%s\",\"expires\":%lld,\"revoked\":%s}", vig_role_name(role),
		       (long long)expires, revoked ? "true" : "false");
}

/* Inserts a token row and its audit row; caller holds lock + transaction. */
static enum vig_err token_insert_locked(sqlite3 *c, const struct vig_principal *actor,
					const char *tenant, const char *name, enum vig_role role,
					int64_t expires, int64_t now, const char *hash,
					int64_t *id, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	struct vig_buf after;
	enum vig_err err;
	char idstr[24];

	err = vig_db_prepare(c,
			     "INSERT INTO api_tokens (tenant_id, user_id, name, role, token_hash,"
			     " created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	if (actor->user_id > 0)
		sqlite3_bind_int64(st, 2, actor->user_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, vig_role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_int64(st, 7, expires);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "create token: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	if (err)
		return err;
	*id = sqlite3_last_insert_rowid(c);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)*id);
	vig_buf_init(&after, 4096);
	token_json(&after, *id, tenant, name, role, expires, false);
	err = vig_buf_err(&after);
	if (!err)
		err = vig_audit_append_locked(c, actor, tenant, "token.create", "token", idstr, NULL,
					      after.data, NULL, now, NULL, errbuf);
	vig_buf_release(&after);
	return err;
}

enum vig_err vig_token_create(struct vig_db *db, const struct vig_principal *actor,
			      const char *tenant, const char *name, enum vig_role role,
			      int64_t expires, int64_t now, char plaintext[VIG_TOKEN_STRLEN],
			      int64_t *id_out, char *errbuf)
{
	char secret[65], hash[65];
	struct vig_tenant t;
	enum vig_err err;
	int64_t id = 0;
	sqlite3 *c;

	plaintext[0] = '\0';
	if (!vig_principal_can(actor, VIG_PERM_TOKENS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "tokens:write required");
	if (!tenant || !*tenant)
		tenant = actor->tenant;
	if (!vig_principal_can_access_tenant(actor, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
	if (!token_name_valid(name))
		return vig_errf(errbuf, VIG_EINVAL, "token name must be 1-%d printable bytes",
				VIG_TOKEN_NAME_MAX - 1);
	if (expires != 0 && expires <= now)
		return vig_errf(errbuf, VIG_EINVAL, "token expiry is in the past");
	err = random_hex(secret, errbuf);
	if (err)
		return err;
	snprintf(plaintext, VIG_TOKEN_STRLEN, VIG_TOKEN_PREFIX "%s", secret);
	sha256_hex(plaintext, hash);
	c = vig_db_lock(db);
	err = vig_tenant_load_locked(c, tenant, &t, errbuf);
	if (!err)
		err = vig_auth_check_assign(actor, &t, role, errbuf);
	if (!err)
		err = vig_db_begin(c, errbuf);
	if (!err)
		err = token_insert_locked(c, actor, tenant, name, role, expires, now, hash, &id,
					  errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	if (err) {
		memset(plaintext, 0, VIG_TOKEN_STRLEN);
		return err;
	}
	if (id_out)
		*id_out = id;
	return VIG_OK;
}

#define TOKEN_COLS "id, tenant_id, user_id, name, role, created, expires, last_used, revoked"

static void token_from_row(sqlite3_stmt *st, struct vig_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	vig_auth_copy(t->tenant, sizeof(t->tenant), (const char *)sqlite3_column_text(st, 1));
	t->user_id = sqlite3_column_int64(st, 2);
	vig_auth_copy(t->name, sizeof(t->name), (const char *)sqlite3_column_text(st, 3));
	if (!vig_role_parse((const char *)sqlite3_column_text(st, 4), &t->role))
		t->role = VIG_ROLE_CUSTOMER_VIEWER;
	t->created = sqlite3_column_int64(st, 5);
	t->expires = sqlite3_column_int64(st, 6);
	t->last_used = sqlite3_column_int64(st, 7);
	t->revoked = sqlite3_column_int(st, 8) != 0;
}

static void token_fill(sqlite3_stmt *st, void *row)
{
	token_from_row(st, row);
}

enum vig_err vig_token_list(struct vig_db *db, const struct vig_principal *actor,
			    const char *tenant, struct vig_token **out, size_t *n, char *errbuf)
{
	const char *scope;
	void *rows = NULL;
	enum vig_err err;

	*out = NULL;
	*n = 0;
	if (!vig_principal_can(actor, VIG_PERM_TOKENS_READ))
		return vig_errf(errbuf, VIG_EPERM, "tokens:read required");
	err = vig_principal_scope(actor, tenant, &scope, errbuf);
	if (err)
		return err;
	err = vig_db_list(db,
			  "SELECT " TOKEN_COLS " FROM api_tokens WHERE ?1 IS NULL OR tenant_id = ?1"
			  " ORDER BY id LIMIT ?2",
			  scope, sizeof(struct vig_token), token_fill, "tokens", &rows, n, errbuf);
	*out = rows;
	return err;
}

static enum vig_err token_load_locked(sqlite3 *c, int64_t id, struct vig_token *t, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	err = vig_db_prepare(c, "SELECT " TOKEN_COLS " FROM api_tokens WHERE id = ?1", &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		token_from_row(st, t);
	else if (rc == SQLITE_DONE)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such token");
	else
		err = vig_errf(errbuf, VIG_EIO, "read token: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

static enum vig_err token_revoke_locked(sqlite3 *c, const struct vig_principal *actor,
					const struct vig_token *t, char *errbuf)
{
	struct vig_buf before, after;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	char idstr[24];

	err = vig_db_prepare(c, "UPDATE api_tokens SET revoked = 1 WHERE id = ?1", &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, t->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "revoke token: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	if (err)
		return err;
	snprintf(idstr, sizeof(idstr), "%lld", (long long)t->id);
	vig_buf_init(&before, 4096);
	vig_buf_init(&after, 4096);
	token_json(&before, t->id, t->tenant, t->name, t->role, t->expires, false);
	token_json(&after, t->id, t->tenant, t->name, t->role, t->expires, true);
	err = vig_buf_err(&before) ? vig_buf_err(&before) : vig_buf_err(&after);
	if (!err)
		err = vig_audit_append_locked(c, actor, t->tenant, "token.revoke", "token", idstr,
					      before.data, after.data, NULL, vig_time_now(), NULL,
					      errbuf);
	vig_buf_release(&before);
	vig_buf_release(&after);
	return err;
}

enum vig_err vig_token_revoke(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			      char *errbuf)
{
	struct vig_token t;
	enum vig_err err;
	sqlite3 *c;

	if (!vig_principal_can(actor, VIG_PERM_TOKENS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "tokens:write required");
	c = vig_db_lock(db);
	err = token_load_locked(c, id, &t, errbuf);
	if (!err && !vig_principal_can_access_tenant(actor, t.tenant))
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such token");
	if (!err && !actor->provider && vig_role_is_provider(t.role))
		err = vig_errf(errbuf, VIG_EPERM, "token has a provider role");
	if (err || t.revoked)
		goto out_unlock;
	err = vig_db_begin(c, errbuf);
	if (!err)
		err = token_revoke_locked(c, actor, &t, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
out_unlock:
	vig_db_unlock(db);
	return err;
}

static bool token_format_ok(const char *s)
{
	return s && strncmp(s, VIG_TOKEN_PREFIX, 4) == 0 && is_hex64(s + 4);
}

/* Writes last_used when the stored value is older than VIG_TOKEN_LAST_USED_NS. */
static void token_touch_locked(sqlite3 *c, int64_t id, int64_t last_used, int64_t now)
{
	sqlite3_stmt *st = NULL;

	if (now - last_used < VIG_TOKEN_LAST_USED_NS)
		return;
	if (sqlite3_prepare_v2(c, "UPDATE api_tokens SET last_used = ?2 WHERE id = ?1", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

enum vig_err vig_auth_token(struct vig_db *db, const char *plaintext, int64_t now,
			    struct vig_principal *out)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EAUTH;
	enum vig_role role;
	char hash[65];
	sqlite3 *c;

	memset(out, 0, sizeof(*out));
	if (!token_format_ok(plaintext))
		return VIG_EAUTH;
	sha256_hex(plaintext, hash);
	c = vig_db_lock(db);
	if (sqlite3_prepare_v2(c,
			       "SELECT t.id, t.tenant_id, t.user_id, t.name, t.role, t.expires,"
			       " t.last_used, t.revoked, u.username, u.disabled, n.is_provider"
			       " FROM api_tokens t JOIN tenants n ON n.id = t.tenant_id"
			       " LEFT JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		err = VIG_EIO;
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out_finalize;
	int64_t id = sqlite3_column_int64(st, 0), uid = sqlite3_column_int64(st, 2);
	int64_t expires = sqlite3_column_int64(st, 5), last_used = sqlite3_column_int64(st, 6);
	const char *username = (const char *)sqlite3_column_text(st, 8);

	if (sqlite3_column_int(st, 7) != 0 || (expires != 0 && now >= expires) ||
	    sqlite3_column_int(st, 9) != 0 ||
	    !vig_role_parse((const char *)sqlite3_column_text(st, 4), &role))
		goto out_finalize;
	vig_principal_fill(out, uid, id, username ? username : (const char *)sqlite3_column_text(st, 3),
			   (const char *)sqlite3_column_text(st, 1), role,
			   sqlite3_column_int(st, 10) != 0);
	err = VIG_OK;
	sqlite3_finalize(st);
	st = NULL;
	token_touch_locked(c, id, last_used, now);
out_finalize:
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	return err;
}

/* ---- sessions ------------------------------------------------------------------------------------ */

/* What login needs to know about a user. */
struct login_user {
	bool found;
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char hash[VIG_PASSWORD_HASH_MAX];
	enum vig_role role;
	bool disabled, tenant_provider;
	int failed;
	int64_t locked_until;
};

static enum vig_err login_read_locked(sqlite3 *c, const char *username, struct login_user *u,
				      char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	int rc;

	memset(u, 0, sizeof(*u));
	err = vig_db_prepare(c,
			     "SELECT u.id, u.tenant_id, u.password_hash, u.role, u.disabled,"
			     " u.failed_logins, u.locked_until, n.is_provider FROM users u"
			     " JOIN tenants n ON n.id = u.tenant_id WHERE u.username = ?1",
			     &st, errbuf);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		u->found = vig_role_parse((const char *)sqlite3_column_text(st, 3), &u->role);
		u->id = sqlite3_column_int64(st, 0);
		vig_auth_copy(u->tenant, sizeof(u->tenant), (const char *)sqlite3_column_text(st, 1));
		vig_auth_copy(u->hash, sizeof(u->hash), (const char *)sqlite3_column_text(st, 2));
		u->disabled = sqlite3_column_int(st, 4) != 0;
		u->failed = sqlite3_column_int(st, 5);
		u->locked_until = sqlite3_column_int64(st, 6);
		u->tenant_provider = sqlite3_column_int(st, 7) != 0;
	} else if (rc != SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_EIO, "read user: %s", sqlite3_errmsg(c));
	}
	sqlite3_finalize(st);
	return err;
}

/* Lockout after `failed` failures in a row, 0 if none yet. */
static int64_t lockout_ns(const struct vig_auth_config *cfg, int failed)
{
	int64_t d;
	int over = failed - cfg->max_failed_logins;

	if (cfg->max_failed_logins <= 0 || over < 0)
		return 0;
	d = cfg->lockout_base_ns;
	for (int i = 0; i < over && d < cfg->lockout_max_ns; i++)
		d *= 2;
	return VIG_MIN(d, cfg->lockout_max_ns);
}

/* Runs sql on user id with ?2 = a and, if the statement has it, ?3 = b. */
static enum vig_err exec_user_update(sqlite3 *c, const char *sql, int64_t id, int64_t a,
				     int64_t b, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = vig_db_prepare(c, sql, &st, errbuf);

	if (err)
		return err;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, a);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_int64(st, 3, b);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "update user: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	return err;
}

/* Records a failed login (counter, lockout, audit row); caller holds lock + transaction. */
static enum vig_err login_failed_locked(sqlite3 *c, const struct vig_auth_config *cfg,
					const struct login_user *u, const char *username,
					const char *remote, const char *why, int64_t now,
					char *errbuf)
{
	struct vig_principal anon;
	char reason[256];
	enum vig_err err = VIG_OK;

	vig_principal_fill(&anon, 0, 0, "anonymous", u->found ? u->tenant : VIG_DB_PROVIDER_TENANT,
			   VIG_ROLE_CUSTOMER_VIEWER, false);
	if (u->found && u->locked_until <= now) {
		int failed = u->failed + 1;
		int64_t lock = lockout_ns(cfg, failed);

		err = exec_user_update(c,
				       "UPDATE users SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
				       u->id, failed, lock ? now + lock : 0, errbuf);
	}
	snprintf(reason, sizeof(reason), "%s; remote=%s", why, remote ? remote : "-");
	if (!err)
		err = vig_audit_append_locked(c, &anon, anon.tenant, "login_failed", "user", username,
					      NULL, NULL, reason, now, NULL, errbuf);
	return err;
}

/* Records a successful login and creates the session; caller holds lock + transaction. */
static enum vig_err login_ok_locked(sqlite3 *c, const struct vig_auth_config *cfg,
				    const struct login_user *u, const char *username,
				    const char *remote, int64_t now, struct vig_session *s,
				    struct vig_principal *who, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	char hash[65], reason[128], idstr[24];
	enum vig_err err;

	err = exec_user_update(c,
			       "UPDATE users SET failed_logins = 0, locked_until = 0, last_login = ?2"
			       " WHERE id = ?1",
			       u->id, now, 0, errbuf);
	if (!err)
		err = random_hex(s->id, errbuf);
	if (!err)
		err = random_hex(s->csrf, errbuf);
	if (!err)
		err = vig_db_prepare(c,
				     "INSERT INTO sessions (id_hash, user_id, csrf_token, created,"
				     " expires, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
				     &st, errbuf);
	if (err)
		return err;
	s->expires = now + cfg->session_ttl_ns;
	sha256_hex(s->id, hash);
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, u->id);
	sqlite3_bind_text(st, 3, s->csrf, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, s->expires);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "create session: %s", sqlite3_errmsg(c));
	sqlite3_finalize(st);
	if (err)
		return err;
	vig_principal_fill(who, u->id, 0, username, u->tenant, u->role, u->tenant_provider);
	snprintf(reason, sizeof(reason), "remote=%s", remote ? remote : "-");
	snprintf(idstr, sizeof(idstr), "%lld", (long long)u->id);
	return vig_audit_append_locked(c, who, u->tenant, "login", "user", idstr, NULL, NULL,
				       reason, now, NULL, errbuf);
}

enum vig_err vig_auth_login(struct vig_db *db, const char *username, const char *password,
			    const char *remote, int64_t now, struct vig_session *out,
			    struct vig_principal *who, char *errbuf)
{
	struct vig_auth_config cfg = get_config(db);
	struct vig_principal who_local;
	struct vig_session s_local;
	struct login_user u;
	const char *why = NULL;
	bool ok = false;
	enum vig_err err;
	sqlite3 *c;

	memset(&s_local, 0, sizeof(s_local));
	if (!username || !password || !vig_username_valid(username) ||
	    strlen(password) > VIG_PASSWORD_MAX_LEN)
		return vig_errf(errbuf, VIG_EAUTH, "invalid username or password");
	c = vig_db_lock(db);
	err = login_read_locked(c, username, &u, errbuf);
	vig_db_unlock(db);
	if (err)
		return err;
	if (u.found && u.locked_until > now) {
		why = "locked out";
	} else if (u.found) {
		ok = vig_auth_password_verify(u.hash, password);
		why = !ok ? "wrong password" : u.disabled ? "user disabled" : NULL;
		ok = ok && !u.disabled;
	} else {
		char burn[VIG_PASSWORD_HASH_MAX];

		/* Spend the same time as a real check so that timing does not reveal users. */
		vig_auth_password_hash(db, "unknown-user-placeholder", burn, NULL);
		why = "unknown user";
	}
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err && ok)
		err = login_ok_locked(c, &cfg, &u, username, remote, now, &s_local, &who_local, errbuf);
	else if (!err)
		err = login_failed_locked(c, &cfg, &u, username, remote, why, now, errbuf);
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	if (err)
		return err;
	if (!ok && u.found && u.locked_until > now)
		return vig_errf(errbuf, VIG_EBUSY, "too many failed logins, try again later");
	if (!ok)
		return vig_errf(errbuf, VIG_EAUTH, "invalid username or password");
	if (out)
		*out = s_local;
	if (who)
		*who = who_local;
	return VIG_OK;
}

static void session_delete_locked(sqlite3 *c, const char *hash)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(c, "DELETE FROM sessions WHERE id_hash = ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

/* Slides the expiry, at most once a minute to keep requests from all writing. */
static void session_slide_locked(sqlite3 *c, const char *hash, int64_t last_seen, int64_t now,
				 int64_t expires)
{
	sqlite3_stmt *st = NULL;

	if (now - last_seen < 60 * VIG_NS_PER_SEC)
		return;
	if (sqlite3_prepare_v2(c, "UPDATE sessions SET last_seen = ?2, expires = ?3 WHERE id_hash = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, expires);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

enum vig_err vig_auth_session(struct vig_db *db, const char *session_id, int64_t now,
			      struct vig_principal *who, char csrf_out[VIG_SESSION_STRLEN])
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EAUTH;
	enum vig_role role;
	bool valid;
	char hash[65];
	sqlite3 *c;

	memset(who, 0, sizeof(*who));
	if (csrf_out)
		csrf_out[0] = '\0';
	if (!session_id || !is_hex64(session_id))
		return VIG_EAUTH;
	sha256_hex(session_id, hash);
	c = vig_db_lock(db);
	if (sqlite3_prepare_v2(c,
			       "SELECT s.user_id, s.csrf_token, s.created, s.expires, s.last_seen,"
			       " u.username, u.tenant_id, u.role, u.disabled, n.is_provider"
			       " FROM sessions s JOIN users u ON u.id = s.user_id"
			       " JOIN tenants n ON n.id = u.tenant_id WHERE s.id_hash = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		err = VIG_EIO;
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		goto out_finalize;
	valid = now < sqlite3_column_int64(st, 3) &&
		now - sqlite3_column_int64(st, 2) < db->cfg.session_max_ns &&
		sqlite3_column_int(st, 8) == 0 &&
		vig_role_parse((const char *)sqlite3_column_text(st, 7), &role);
	if (!valid) {
		sqlite3_finalize(st);
		st = NULL;
		session_delete_locked(c, hash);
		goto out_unlock;
	}
	vig_principal_fill(who, sqlite3_column_int64(st, 0), 0,
			   (const char *)sqlite3_column_text(st, 5),
			   (const char *)sqlite3_column_text(st, 6), role,
			   sqlite3_column_int(st, 9) != 0);
	if (csrf_out)
		vig_auth_copy(csrf_out, VIG_SESSION_STRLEN, (const char *)sqlite3_column_text(st, 1));
	int64_t last_seen = sqlite3_column_int64(st, 4);

	sqlite3_finalize(st);
	st = NULL;
	session_slide_locked(c, hash, last_seen, now, now + db->cfg.session_ttl_ns);
	err = VIG_OK;
out_finalize:
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_auth_sessions_purge(struct vig_db *db, int64_t now, uint64_t *removed,
				     char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	sqlite3 *c = vig_db_lock(db);

	if (sqlite3_prepare_v2(c, "DELETE FROM sessions WHERE expires <= ?1 OR created <= ?2", -1, &st,
			       NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "sessions: %s", sqlite3_errmsg(c));
		goto out_unlock;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, now - db->cfg.session_max_ns);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "sessions: %s", sqlite3_errmsg(c));
	else if (removed)
		*removed = (uint64_t)sqlite3_changes(c);
	sqlite3_finalize(st);
out_unlock:
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_auth_logout(struct vig_db *db, const char *session_id, char *errbuf)
{
	struct vig_principal who;
	enum vig_err err;
	char hash[65], idstr[24];
	sqlite3 *c;

	if (vig_auth_session(db, session_id, vig_time_now(), &who, NULL) != VIG_OK)
		return VIG_OK;
	sha256_hex(session_id, hash);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)who.user_id);
	c = vig_db_lock(db);
	err = vig_db_begin(c, errbuf);
	if (!err) {
		session_delete_locked(c, hash);
		err = vig_audit_append_locked(c, &who, who.tenant, "logout", "user", idstr, NULL,
					      NULL, NULL, vig_time_now(), NULL, errbuf);
	}
	if (!err)
		err = vig_db_commit(c, errbuf);
	if (err)
		vig_db_rollback(c);
	vig_db_unlock(db);
	return err;
}

bool vig_auth_csrf_ok(const char *expected, const char *given)
{
	size_t n;

	if (!expected || !given || !*expected)
		return false;
	n = strlen(expected);
	if (strlen(given) != n)
		return false;
	return vig_ct_equal(expected, given, n);
}
