/*
 * enroll.c - enrolment tokens and enrolment.
 *
 * A token is "vge_" + 32 random bytes in base64url; only its SHA-256 (hex) is stored. A token
 * belongs to one tenant and allows `uses` enrolments (0 = unlimited) until `expires`, unless
 * revoked. Enrolment runs in one IMMEDIATE transaction: look the token up by hash, check it,
 * sign the CSR, insert the agent, count the use; so two agents racing for the last use of a
 * token cannot both get it. A token failure is VIG_EAUTH whatever the reason (the reason goes
 * to errbuf for the audit log, never to the client).
 */
#include "fleet_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define TOKEN_LIST_MAX 1000

static const char TOKEN_COLS[] =
	"id, tenant_id, name, uses, used, expires, created, revoked, created_by";

static void token_hash(const char *token, char out[65])
{
	uint8_t md[32];

	vig_sha256(token, strlen(token), md);
	vig_hex(md, sizeof(md), out);
}

static void row_token(sqlite3_stmt *st, struct vig_enroll_token *t)
{
	memset(t, 0, sizeof(*t));
	t->id = sqlite3_column_int64(st, 0);
	vig_fleet_col_copy(st, 1, t->tenant, sizeof(t->tenant));
	vig_fleet_col_copy(st, 2, t->name, sizeof(t->name));
	t->uses = sqlite3_column_int64(st, 3);
	t->used = sqlite3_column_int64(st, 4);
	t->expires = sqlite3_column_int64(st, 5);
	t->created = sqlite3_column_int64(st, 6);
	t->revoked = sqlite3_column_int(st, 7) != 0;
	vig_fleet_col_copy(st, 8, t->created_by, sizeof(t->created_by));
}

static bool tenant_exists(sqlite3 *h, const char *tenant)
{
	sqlite3_stmt *st = NULL;
	bool ok = false;

	if (sqlite3_prepare_v2(h, "SELECT 1 FROM tenants WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		ok = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return ok;
}

static enum vig_err token_get(sqlite3 *h, int64_t id, struct vig_enroll_token *t)
{
	char sql[256];
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	snprintf(sql, sizeof(sql), "SELECT %s FROM enroll_tokens WHERE id = ?1", TOKEN_COLS);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return VIG_EIO;
	sqlite3_bind_int64(st, 1, id);
	err = vig_fleet_step_row(st);
	if (err == VIG_OK)
		row_token(st, t);
	sqlite3_finalize(st);
	return err;
}

static enum vig_err make_secret(char token[VIG_ENROLL_TOKEN_STRLEN])
{
	unsigned char raw[32], b64[48];
	size_t n;

	if (vig_random(raw, sizeof(raw)) != VIG_OK)
		return VIG_EIO;
	EVP_EncodeBlock(b64, raw, sizeof(raw)); /* 44 chars, one '=' */
	memcpy(token, VIG_ENROLL_TOKEN_PREFIX, 4);
	for (n = 0; n < 43; n++)
		token[4 + n] = b64[n] == '+' ? '-' : b64[n] == '/' ? '_' : (char)b64[n];
	token[4 + n] = '\0';
	return VIG_OK;
}

enum vig_err vig_fleet_token_create(struct vig_fleet *f, const struct vig_principal *actor,
				    const char *tenant, const char *name, int64_t uses,
				    int64_t expires_in_s, int64_t now,
				    char token[VIG_ENROLL_TOKEN_STRLEN], struct vig_enroll_token *out,
				    char *errbuf)
{
	char hash[65];
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	sqlite3 *h;
	int64_t id;

	if (!tenant || !*tenant)
		tenant = actor->tenant;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	if (!vig_principal_can_access_tenant(actor, tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
	if (!name || !*name || strlen(name) >= VIG_ENROLL_TOKEN_NAME_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "name: 1-%d characters",
				VIG_ENROLL_TOKEN_NAME_MAX - 1);
	if (uses < 0 || uses > 1000000)
		return vig_errf(errbuf, VIG_EINVAL, "uses: expected 0 (unlimited) to 1000000");
	if (expires_in_s < 1 || expires_in_s > VIG_ENROLL_MAX_EXPIRES_S)
		return vig_errf(errbuf, VIG_EINVAL, "expires_in_s: expected 1 to %lld",
				(long long)VIG_ENROLL_MAX_EXPIRES_S);
	if (make_secret(token) != VIG_OK)
		return vig_errf(errbuf, VIG_EIO, "no randomness for the token");
	token_hash(token, hash);
	h = vig_db_lock(f->db);
	if (!tenant_exists(h, tenant)) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant");
		goto out_unlock;
	}
	if (sqlite3_prepare_v2(h,
			       "INSERT INTO enroll_tokens (tenant_id, name, token_hash, uses, expires, "
			       "created, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot store the token");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, uses);
	sqlite3_bind_int64(st, 5, now + expires_in_s * 1000000000LL);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_text(st, 7, actor->username, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_EIO, "cannot store the token: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	id = sqlite3_last_insert_rowid(h);
	if (out && token_get(h, id, out) != VIG_OK)
		err = vig_errf(errbuf, VIG_EIO, "cannot read the token back");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (err != VIG_OK)
		memset(token, 0, VIG_ENROLL_TOKEN_STRLEN);
	return err;
}

enum vig_err vig_fleet_token_list(struct vig_fleet *f, const struct vig_principal *actor,
				  const char *tenant, struct vig_enroll_token **out, size_t *n,
				  char *errbuf)
{
	const char *scope = NULL;
	char sql[320];
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc;

	*out = NULL;
	*n = 0;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = vig_principal_scope(actor, tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	*out = calloc(TOKEN_LIST_MAX, sizeof(**out));
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	snprintf(sql, sizeof(sql),
		 "SELECT %s FROM enroll_tokens WHERE (?1 IS NULL OR tenant_id = ?1) "
		 "ORDER BY id DESC LIMIT %d",
		 TOKEN_COLS, TOKEN_LIST_MAX);
	h = vig_db_lock(f->db);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot list tokens");
		goto out_unlock;
	}
	vig_fleet_bind_text(st, 1, scope);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < TOKEN_LIST_MAX)
		row_token(st, &(*out)[(*n)++]);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot list tokens");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (err != VIG_OK) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return err;
}

enum vig_err vig_fleet_token_revoke(struct vig_fleet *f, const struct vig_principal *actor,
				    int64_t id, struct vig_enroll_token *out, char *errbuf)
{
	struct vig_enroll_token t;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;

	if (!vig_principal_can(actor, VIG_PERM_AGENTS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = token_get(h, id, &t);
	if (err == VIG_OK && !vig_principal_can_access_tenant(actor, t.tenant))
		err = VIG_ENOTFOUND;
	if (err != VIG_OK) {
		vig_errf(errbuf, err, err == VIG_ENOTFOUND ? "no such enrolment token"
							   : "cannot read the token");
		goto out_unlock;
	}
	if (sqlite3_prepare_v2(h, "UPDATE enroll_tokens SET revoked = 1 WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot revoke the token");
		goto out_unlock;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot revoke the token");
	t.revoked = true;
	if (out)
		*out = t;
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}

/* Reads the token by its secret and checks it; VIG_EAUTH with the reason otherwise. */
static enum vig_err check_token(sqlite3 *h, const char *token, int64_t now,
				struct vig_enroll_token *t, char *errbuf)
{
	char hash[65], sql[256];
	sqlite3_stmt *st = NULL;
	int rc;

	if (strncmp(token, VIG_ENROLL_TOKEN_PREFIX, 4) != 0 ||
	    strlen(token) != VIG_ENROLL_TOKEN_STRLEN - 1)
		return vig_errf(errbuf, VIG_EAUTH, "malformed enrolment token");
	token_hash(token, hash);
	snprintf(sql, sizeof(sql), "SELECT %s FROM enroll_tokens WHERE token_hash = ?1", TOKEN_COLS);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "cannot read tokens");
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		row_token(st, t);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return vig_errf(errbuf, VIG_EAUTH, "unknown enrolment token");
	if (rc != SQLITE_ROW)
		return vig_errf(errbuf, VIG_EIO, "cannot read tokens");
	if (t->revoked)
		return vig_errf(errbuf, VIG_EAUTH, "enrolment token revoked");
	if (t->expires <= now)
		return vig_errf(errbuf, VIG_EAUTH, "enrolment token expired");
	if (t->uses > 0 && t->used >= t->uses)
		return vig_errf(errbuf, VIG_EAUTH, "enrolment token used up");
	return VIG_OK;
}

/* Copies s into a bounded string for storage ("" for NULL); false when too long or when it
 * holds control characters. */
static bool clean_text(const char *s, const char *what, char *out, size_t cap, char *errbuf)
{
	size_t n = s ? strlen(s) : 0;

	if (n >= cap) {
		vig_errf(errbuf, VIG_EINVAL, "%s: longer than %zu bytes", what, cap - 1);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			vig_errf(errbuf, VIG_EINVAL, "%s: control characters", what);
			return false;
		}
	}
	memcpy(out, n ? s : "", n + 1);
	return true;
}

struct enroll_text {
	char hostname[VIG_FLEET_TEXT_MAX], host_id[VIG_FLEET_TEXT_MAX], os[VIG_FLEET_TEXT_MAX];
	char kernel[VIG_FLEET_TEXT_MAX], arch[64], version[64];
};

static enum vig_err insert_agent(sqlite3 *h, const struct enroll_text *tx, const char *id,
				 const char *tenant, const char *fp, int64_t token_id, int64_t now,
				 char *errbuf)
{
	sqlite3_stmt *st = NULL;
	json_t *data = json_pack("{s:s,s:s,s:I}", "host_id", tx->host_id, "arch", tx->arch,
				 "enroll_token", (json_int_t)token_id);
	char *ds = data ? json_dumps(data, JSON_COMPACT) : NULL;
	enum vig_err err = VIG_OK;

	json_decref(data);
	if (!ds)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(h,
			       "INSERT INTO agents (id, tenant_id, hostname, os, kernel, version, "
			       "cert_fingerprint, status, enrolled, data) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?9)",
			       -1, &st, NULL) != SQLITE_OK) {
		free(ds);
		return vig_errf(errbuf, VIG_EIO, "cannot store the agent: %s", sqlite3_errmsg(h));
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, tx->hostname, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, tx->os, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, tx->kernel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, tx->version, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, fp, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, now);
	sqlite3_bind_text(st, 9, ds, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot store the agent: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	free(ds);
	return err;
}

static enum vig_err count_use(sqlite3 *h, int64_t token_id, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;

	if (sqlite3_prepare_v2(h, "UPDATE enroll_tokens SET used = used + 1 WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "cannot update the token");
	sqlite3_bind_int64(st, 1, token_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot update the token");
	sqlite3_finalize(st);
	return err;
}

static bool fill_text(const struct vig_enroll_request *req, struct enroll_text *tx, char *errbuf)
{
	return clean_text(req->hostname, "hostname", tx->hostname, sizeof(tx->hostname), errbuf) &&
	       clean_text(req->host_id, "host_id", tx->host_id, sizeof(tx->host_id), errbuf) &&
	       clean_text(req->os, "os", tx->os, sizeof(tx->os), errbuf) &&
	       clean_text(req->kernel, "kernel", tx->kernel, sizeof(tx->kernel), errbuf) &&
	       clean_text(req->arch, "arch", tx->arch, sizeof(tx->arch), errbuf) &&
	       clean_text(req->version, "version", tx->version, sizeof(tx->version), errbuf);
}

enum vig_err vig_fleet_enroll(struct vig_fleet *f, const struct vig_enroll_request *req,
			      int64_t now, struct vig_enroll_result *out, char *errbuf)
{
	struct vig_enroll_token t = {0};
	struct enroll_text tx;
	char fp[65];
	uint8_t raw[16];
	enum vig_err err;
	sqlite3 *h;

	memset(out, 0, sizeof(*out));
	if (!req->token || !req->csr_pem)
		return vig_errf(errbuf, VIG_EINVAL, "token and csr are required");
	if (!fill_text(req, &tx, errbuf))
		return VIG_EINVAL;
	if (vig_random(raw, sizeof(raw)) != VIG_OK)
		return vig_errf(errbuf, VIG_EIO, "no randomness for the agent id");
	vig_hex(raw, sizeof(raw), out->agent_id);
	h = vig_db_lock(f->db);
	if (sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EBUSY, "control database busy");
		goto out_unlock;
	}
	err = check_token(h, req->token, now, &t, errbuf);
	if (t.id)
		out->token_id = t.id;
	if (err == VIG_OK) {
		snprintf(out->tenant, sizeof(out->tenant), "%s", t.tenant);
		err = vig_fleet_sign_csr(f, req->csr_pem, strlen(req->csr_pem), out->agent_id,
					 t.tenant, &out->cert_pem, fp, errbuf);
	}
	if (err == VIG_OK)
		err = insert_agent(h, &tx, out->agent_id, t.tenant, fp, t.id, now, errbuf);
	if (err == VIG_OK)
		err = count_use(h, t.id, errbuf);
	if (err == VIG_OK && sqlite3_exec(h, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		err = vig_errf(errbuf, VIG_EIO, "cannot commit the enrolment");
	if (err != VIG_OK)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
out_unlock:
	vig_db_unlock(f->db);
	if (err != VIG_OK) {
		free(out->cert_pem);
		out->cert_pem = NULL;
	}
	return err;
}
