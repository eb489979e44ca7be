/*
 * actions.c - the response-action queue and collected files.
 *
 * States (docs/agent-protocol.md):
 *   queued    --take [vig_fleet_action_take]-->      delivered
 *   delivered --result [vig_fleet_action_result]-->  succeeded | failed
 *   queued    --cancel [vig_fleet_action_cancel]-->  cancelled
 *   queued | delivered --timeout [vig_fleet_actions_expire]--> expired
 * Each transition is one UPDATE guarded by the expected old state, so a race (a cancel while
 * the agent takes the action) has exactly one winner and the loser sees VIG_ECONFLICT.
 *
 * Collected files arrive in order (offset must equal the bytes received so far, kept in
 * upload_bytes) into collected_dir/<tenant>/<id>.part, which becomes <id> once the final
 * chunk's SHA-256 matches the whole file.
 */
#include "fleet_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define ACTION_COLS                                                                               \
	"id, tenant_id, agent_id, type, params, reason, status, requested_by, created, delivered, " \
	"finished, result, error, file_size, file_sha256, upload_bytes, upload_total"

static const char *const TYPES[] = {"kill",    "quarantine", "restore", "isolate",
				    "release", "block",      "unblock", "collect",
				    "query",   "yara",       "inventory", "fim_accept"};

bool vig_fleet_action_type_valid(const char *type)
{
	for (size_t i = 0; type && i < VIG_ARRAY_LEN(TYPES); i++)
		if (strcmp(type, TYPES[i]) == 0)
			return true;
	return false;
}

static json_t *json_or_null(const char *s)
{
	json_t *v = s && *s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;

	return v ? v : json_null();
}

static json_t *action_json(sqlite3_stmt *st)
{
	json_t *o = json_pack(
		"{s:I,s:s,s:s,s:s,s:o,s:s?,s:s,s:s,s:o,s:o,s:o,s:o,s:s?}", "id",
		(json_int_t)sqlite3_column_int64(st, 0), "tenant", vig_fleet_col_text(st, 1),
		"agent_id", vig_fleet_col_text(st, 2), "type", vig_fleet_col_text(st, 3), "params",
		json_or_null(vig_fleet_col_text(st, 4)), "reason",
		(const char *)sqlite3_column_text(st, 5), "status", vig_fleet_col_text(st, 6),
		"requested_by", vig_fleet_col_text(st, 7), "created",
		vig_fleet_json_time(sqlite3_column_int64(st, 8)), "delivered",
		vig_fleet_json_time(sqlite3_column_int64(st, 9)), "finished",
		vig_fleet_json_time(sqlite3_column_int64(st, 10)), "result",
		json_or_null((const char *)sqlite3_column_text(st, 11)), "error",
		(const char *)sqlite3_column_text(st, 12));

	if (o && sqlite3_column_int64(st, 13) >= 0)
		json_object_set_new(o, "file", json_pack("{s:I,s:s}", "size",
							 (json_int_t)sqlite3_column_int64(st, 13),
							 "sha256", vig_fleet_col_text(st, 14)));
	else if (o && !strcmp(vig_fleet_col_text(st, 6), "delivered") && !strcmp(vig_fleet_col_text(st, 3), "collect"))
		json_object_set_new(o, "upload", json_pack("{s:I,s:o}", "received",
							   (json_int_t)sqlite3_column_int64(st, 15), "total",
							   sqlite3_column_int64(st, 16) >= 0
								   ? json_integer(sqlite3_column_int64(st, 16))
								   : json_null()));
	return o;
}

/* Reads action id (h locked) into *out (may be NULL) and its tenant/agent/type/status. */
struct action_key {
	char tenant[VIG_NAME_MAX];
	char agent_id[VIG_AGENT_ID_STRLEN];
	char type[32];
	char status[16];
	int64_t upload_bytes;
};

static enum vig_err action_read(sqlite3 *h, int64_t id, struct action_key *k, json_t **out)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	if (out)
		*out = NULL;
	if (sqlite3_prepare_v2(h, "SELECT " ACTION_COLS " FROM agent_actions WHERE id = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return VIG_EIO;
	sqlite3_bind_int64(st, 1, id);
	err = vig_fleet_step_row(st);
	if (err == VIG_OK) {
		vig_fleet_col_copy(st, 1, k->tenant, sizeof(k->tenant));
		vig_fleet_col_copy(st, 2, k->agent_id, sizeof(k->agent_id));
		vig_fleet_col_copy(st, 3, k->type, sizeof(k->type));
		vig_fleet_col_copy(st, 6, k->status, sizeof(k->status));
		k->upload_bytes = sqlite3_column_int64(st, 15);
		if (out && !(*out = action_json(st)))
			err = VIG_ENOMEM;
	}
	sqlite3_finalize(st);
	return err;
}

/* action_read() of an action of agent_id (another agent's is VIG_ENOTFOUND), with the error
 * in errbuf. */
static enum vig_err agent_action_read(sqlite3 *h, int64_t id, const char *agent_id,
				      struct action_key *k, char *errbuf)
{
	enum vig_err err = action_read(h, id, k, NULL);

	if (err == VIG_OK && strcmp(k->agent_id, agent_id) != 0)
		err = VIG_ENOTFOUND;
	if (err != VIG_OK)
		vig_errf(errbuf, err, err == VIG_ENOTFOUND ? "no such action" : "cannot read the action");
	return err;
}

/* Runs an UPDATE with ?1 = id, ?2 = now; returns the number of rows changed or -1. */
static int exec_update(sqlite3 *h, const char *sql, int64_t id, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int n = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) == SQLITE_DONE)
			n = sqlite3_changes(h);
	}
	sqlite3_finalize(st);
	return n;
}

static enum vig_err expire_locked(struct vig_fleet *f, sqlite3 *h, int64_t now, int64_t *n)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	if (sqlite3_prepare_v2(h,
			       "UPDATE agent_actions SET status = 'expired', finished = ?1, error = "
			       "'no result within agents.action_timeout_s' WHERE status IN ('queued', "
			       "'delivered') AND created < ?2",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, now - f->cfg.action_timeout_s * 1000000000LL);
		if (sqlite3_step(st) == SQLITE_DONE) {
			err = VIG_OK;
			if (n)
				*n = sqlite3_changes(h);
		}
	}
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_fleet_actions_expire(struct vig_fleet *f, int64_t now, int64_t *n, char *errbuf)
{
	sqlite3 *h = vig_db_lock(f->db);
	enum vig_err err = expire_locked(f, h, now, n);

	vig_db_unlock(f->db);
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "cannot expire actions");
	return VIG_OK;
}

static enum vig_err check_params(const char *type, json_t *params, char **enc, char *errbuf)
{
	if (!vig_fleet_action_type_valid(type))
		return vig_errf(errbuf, VIG_EINVAL, "unsupported action type");
	if (params && !json_is_object(params))
		return vig_errf(errbuf, VIG_EINVAL, "params: expected a JSON object");
	*enc = params ? json_dumps(params, JSON_COMPACT) : strdup("{}");
	if (!*enc)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (strlen(*enc) > VIG_FLEET_PARAMS_MAX) {
		free(*enc);
		*enc = NULL;
		return vig_errf(errbuf, VIG_ETOOBIG, "params larger than %d bytes", VIG_FLEET_PARAMS_MAX);
	}
	return VIG_OK;
}

enum vig_err vig_fleet_action_create(struct vig_fleet *f, const struct vig_principal *actor,
				     const char *agent_id, const char *type, json_t *params,
				     const char *reason, int64_t now, json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(f->db);
	enum vig_err err = vig_fleet_action_create_locked(f, h, actor, agent_id, type, params, reason,
							  now, out, errbuf);

	vig_db_unlock(f->db);
	return err;
}

enum vig_err vig_fleet_action_create_locked(struct vig_fleet *f, sqlite3 *h,
					    const struct vig_principal *actor, const char *agent_id,
					    const char *type, json_t *params, const char *reason,
					    int64_t now, json_t **out, char *errbuf)
{
	char tenant[VIG_NAME_MAX], *enc = NULL;
	struct action_key k;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	bool revoked = false;

	(void)f;
	if (out)
		*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_ACTIONS_REQUEST))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	if (reason && strlen(reason) > VIG_FLEET_REASON_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "reason: longer than %d bytes", VIG_FLEET_REASON_MAX);
	err = check_params(type, params, &enc, errbuf);
	if (err != VIG_OK)
		return err;
	if (!vig_fleet_agent_id_valid(agent_id) ||
	    vig_fleet_agent_tenant(h, agent_id, tenant, &revoked) != VIG_OK ||
	    !vig_principal_can_access_tenant(actor, tenant)) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such agent");
		goto out_unlock;
	}
	if (revoked) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "agent revoked");
		goto out_unlock;
	}
	if (sqlite3_prepare_v2(h,
			       "INSERT INTO agent_actions (tenant_id, agent_id, type, params, reason, "
			       "requested_by, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot queue the action");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, agent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, enc, -1, SQLITE_TRANSIENT);
	vig_fleet_bind_text(st, 5, reason && *reason ? reason : NULL);
	sqlite3_bind_text(st, 6, actor->username, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, now);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_EIO, "cannot queue the action: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	if (out && action_read(h, sqlite3_last_insert_rowid(h), &k, out) != VIG_OK)
		err = vig_errf(errbuf, VIG_EIO, "cannot read the action back");
out_unlock:
	sqlite3_finalize(st);
	free(enc);
	return err;
}

int64_t vig_fleet_action_pending(struct vig_fleet *f, const char *agent_id)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	int64_t n = 0;

	if (sqlite3_prepare_v2(h, "SELECT count(*) FROM agent_actions WHERE agent_id = ?1 AND "
				  "status = 'queued'", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return n;
}

enum vig_err vig_fleet_action_take(struct vig_fleet *f, const char *agent_id, int max,
				   int64_t now, json_t **out, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	sqlite3 *h;
	int rc;

	*out = json_array();
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (max < 1 || max > VIG_FLEET_TAKE_MAX)
		max = VIG_FLEET_TAKE_MAX;
	h = vig_db_lock(f->db);
	expire_locked(f, h, now, NULL);
	if (sqlite3_prepare_v2(h,
			       "UPDATE agent_actions SET status = 'delivered', delivered = ?2 WHERE id IN "
			       "(SELECT id FROM agent_actions WHERE agent_id = ?1 AND status = 'queued' "
			       "ORDER BY id LIMIT ?3) RETURNING id, type, params, requested_by, created, "
			       "reason",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot take actions: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int(st, 3, max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(
			*out, json_pack("{s:I,s:s,s:o,s:s,s:o,s:s?}", "id",
					(json_int_t)sqlite3_column_int64(st, 0), "type",
					vig_fleet_col_text(st, 1), "params",
					json_or_null(vig_fleet_col_text(st, 2)), "requested_by",
					vig_fleet_col_text(st, 3), "created",
					vig_fleet_json_time(sqlite3_column_int64(st, 4)), "reason",
					(const char *)sqlite3_column_text(st, 5)));
	if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot take actions");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	/* RETURNING gives no order guarantee: oldest first for the agent */
	if (err == VIG_OK && json_array_size(*out) > 1) {
		size_t n = json_array_size(*out);

		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0; j--) {
				json_t *a = json_array_get(*out, j - 1), *b = json_array_get(*out, j);

				if (json_integer_value(json_object_get(a, "id")) <=
				    json_integer_value(json_object_get(b, "id")))
					break;
				json_incref(a);
				json_array_set(*out, j - 1, b);
				json_array_set_new(*out, j, a);
			}
	}
	return err;
}

enum vig_err vig_fleet_action_result(struct vig_fleet *f, const char *agent_id, int64_t id,
				     const char *status, json_t *result, const char *error,
				     int64_t now, char *tenant, char *errbuf)
{
	struct action_key k;
	sqlite3_stmt *st = NULL;
	char *enc = NULL;
	enum vig_err err;
	sqlite3 *h;

	if (!status || (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0))
		return vig_errf(errbuf, VIG_EINVAL, "status: expected succeeded or failed");
	if (error && strlen(error) > 4096)
		return vig_errf(errbuf, VIG_EINVAL, "error: longer than 4096 bytes");
	if (result && !json_is_null(result)) {
		enc = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!enc)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		if (strlen(enc) > VIG_FLEET_RESULT_MAX) {
			free(enc);
			return vig_errf(errbuf, VIG_ETOOBIG, "result larger than 4 MiB");
		}
	}
	h = vig_db_lock(f->db);
	err = agent_action_read(h, id, agent_id, &k, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	if (tenant)
		snprintf(tenant, VIG_NAME_MAX, "%s", k.tenant);
	if (sqlite3_prepare_v2(h,
			       "UPDATE agent_actions SET status = ?2, result = ?3, error = ?4, "
			       "finished = ?5 WHERE id = ?1 AND status = 'delivered'",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot record the result");
		goto out_unlock;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
	vig_fleet_bind_text(st, 3, enc);
	vig_fleet_bind_text(st, 4, error && *error ? error : NULL);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot record the result");
	else if (sqlite3_changes(h) == 0)
		err = vig_errf(errbuf, VIG_ECONFLICT, "action is %s, not delivered", k.status);
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	free(enc);
	return err;
}

/* Reads an action visible to actor (h locked). */
static enum vig_err visible_action(sqlite3 *h, const struct vig_principal *actor, int64_t id,
				   struct action_key *k, json_t **out, char *errbuf)
{
	enum vig_err err = action_read(h, id, k, out);

	if (err == VIG_OK && !vig_principal_can_access_tenant(actor, k->tenant)) {
		err = VIG_ENOTFOUND;
		if (out) {
			json_decref(*out);
			*out = NULL;
		}
	}
	if (err != VIG_OK)
		return vig_errf(errbuf, err, err == VIG_ENOTFOUND ? "no such action"
								  : "cannot read the action");
	return VIG_OK;
}

enum vig_err vig_fleet_action_cancel(struct vig_fleet *f, const struct vig_principal *actor,
				     int64_t id, int64_t now, json_t **out, char *errbuf)
{
	enum vig_err err;
	sqlite3 *h;

	h = vig_db_lock(f->db);
	err = vig_fleet_action_cancel_locked(f, h, actor, id, now, out, errbuf);
	vig_db_unlock(f->db);
	return err;
}

enum vig_err vig_fleet_action_cancel_locked(struct vig_fleet *f, sqlite3 *h,
					    const struct vig_principal *actor, int64_t id,
					    int64_t now, json_t **out, char *errbuf)
{
	struct action_key k;
	enum vig_err err;
	int n;

	(void)f;
	if (out)
		*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_ACTIONS_REQUEST))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = visible_action(h, actor, id, &k, NULL, errbuf);
	if (err != VIG_OK)
		return err;
	n = exec_update(h,
			"UPDATE agent_actions SET status = 'cancelled', finished = ?2 "
			"WHERE id = ?1 AND status = 'queued'",
			id, now);
	if (n < 0)
		err = vig_errf(errbuf, VIG_EIO, "cannot cancel the action");
	else if (n == 0)
		err = vig_errf(errbuf, VIG_ECONFLICT, "action is %s: only a queued action can be cancelled",
			       k.status);
	else if (out)
		action_read(h, id, &k, out);
	return err;
}

enum vig_err vig_fleet_action_get(struct vig_fleet *f, const struct vig_principal *actor,
				  int64_t id, json_t **out, char *errbuf)
{
	struct action_key k;
	enum vig_err err;
	sqlite3 *h;

	*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = visible_action(h, actor, id, &k, out, errbuf);
	vig_db_unlock(f->db);
	return err;
}

enum vig_err vig_fleet_action_list(struct vig_fleet *f, const struct vig_principal *actor,
				   const struct vig_action_filter *flt, json_t **out, char *errbuf)
{
	const char *scope = NULL;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc, limit = flt->limit > 0 && flt->limit <= VIG_FLEET_ACTIONS_LIST_MAX
				? flt->limit
				: 100;

	*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = vig_principal_scope(actor, flt->tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	*out = json_array();
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(f->db);
	if (sqlite3_prepare_v2(h,
			       "SELECT " ACTION_COLS " FROM agent_actions WHERE (?1 IS NULL OR "
			       "tenant_id = ?1) AND (?2 IS NULL OR agent_id = ?2) AND (?3 IS NULL OR "
			       "status = ?3) ORDER BY id DESC LIMIT ?4",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot list actions");
		goto out_unlock;
	}
	vig_fleet_bind_text(st, 1, scope);
	vig_fleet_bind_text(st, 2, flt->agent_id && *flt->agent_id ? flt->agent_id : NULL);
	vig_fleet_bind_text(st, 3, flt->status && *flt->status ? flt->status : NULL);
	sqlite3_bind_int(st, 4, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(*out, action_json(st));
	if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot list actions");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* ---- collected files ---- */

static enum vig_err file_paths(struct vig_fleet *f, const char *tenant, int64_t id, char *dir,
			       char *part, char *final, size_t cap, char *errbuf)
{
	if (!f->cfg.collected_dir[0])
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "no directory for collected files");
	if ((size_t)snprintf(dir, cap, "%s/%s", f->cfg.collected_dir, tenant) >= cap ||
	    (size_t)snprintf(part, cap, "%s/%lld.part", dir, (long long)id) >= cap ||
	    (size_t)snprintf(final, cap, "%s/%lld", dir, (long long)id) >= cap)
		return vig_errf(errbuf, VIG_EINVAL, "collected file path too long");
	return VIG_OK;
}

static bool sha256_file(const char *path, char hex[65], int64_t *size)
{
	unsigned char buf[65536], md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = ctx && fd >= 0 && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	ssize_t n;

	*size = 0;
	while (ok && (n = read(fd, buf, sizeof(buf))) > 0) {
		ok = EVP_DigestUpdate(ctx, buf, (size_t)n) == 1;
		*size += n;
	}
	ok = ok && n == 0 && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	if (ok)
		vig_hex(md, sizeof(md), hex);
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return ok;
}

static enum vig_err append_chunk(const char *root, const char *dir, const char *part,
				 int64_t offset, const void *data, size_t n, char *errbuf)
{
	int fd;
	ssize_t w;

	if ((mkdir(root, 0700) != 0 && errno != EEXIST) || (mkdir(dir, 0700) != 0 && errno != EEXIST))
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
	fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC | (offset == 0 ? O_TRUNC : 0), 0600);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", part, strerror(errno));
	w = n ? pwrite(fd, data, n, offset) : 0;
	if (w != (ssize_t)n || ftruncate(fd, offset + (off_t)n) != 0 || fsync(fd) != 0) {
		close(fd);
		return vig_errf(errbuf, VIG_EIO, "cannot write %s", part);
	}
	close(fd);
	return VIG_OK;
}

/* Records the bytes received so far, and at the end the file's size and SHA-256; total (the
 * size the agent announced, -1 unknown) is kept when negative. */
static enum vig_err set_upload(sqlite3 *h, int64_t id, int64_t bytes, int64_t size,
			       const char *sha, int64_t total)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	if (sqlite3_prepare_v2(h, "UPDATE agent_actions SET upload_bytes = ?2, file_size = ?3, "
				  "file_sha256 = ?4, upload_total = CASE WHEN ?5 >= 0 THEN ?5 ELSE upload_total END"
				  " WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, bytes);
		sqlite3_bind_int64(st, 3, size);
		vig_fleet_bind_text(st, 4, sha);
		sqlite3_bind_int64(st, 5, total);
		if (sqlite3_step(st) == SQLITE_DONE)
			err = VIG_OK;
	}
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_fleet_upload_chunk(struct vig_fleet *f, const char *agent_id, int64_t id,
				    int64_t offset, const void *data, size_t n, bool final,
				    const char *sha256_hex, int64_t total, int64_t *expected, char *errbuf)
{
	char dir[1200], part[1200], fin[1200], got[65];
	struct action_key k;
	enum vig_err err;
	int64_t size;
	sqlite3 *h;

	*expected = 0;
	if (n > VIG_FLEET_CHUNK_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "chunk larger than 1 MiB");
	h = vig_db_lock(f->db);
	err = agent_action_read(h, id, agent_id, &k, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	*expected = k.upload_bytes;
	if (strcmp(k.type, "collect") != 0 || strcmp(k.status, "delivered") != 0) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "uploads are for delivered collect actions");
		goto out_unlock;
	}
	if (offset != k.upload_bytes) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "offset %lld: expected %lld", (long long)offset,
			       (long long)k.upload_bytes);
		goto out_unlock;
	}
	if (offset + (int64_t)n > f->cfg.max_upload_bytes || total > f->cfg.max_upload_bytes) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "file larger than agents.max_upload_bytes");
		goto out_unlock;
	}
	if (total >= 0 && total < offset + (int64_t)n) {
		err = vig_errf(errbuf, VIG_EINVAL, "X-Vigil-Upload-Total: %lld is less than the bytes sent",
			       (long long)total);
		goto out_unlock;
	}
	err = file_paths(f, k.tenant, id, dir, part, fin, sizeof(dir), errbuf);
	if (err == VIG_OK)
		err = append_chunk(f->cfg.collected_dir, dir, part, offset, data, n, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	*expected = offset + (int64_t)n;
	if (!final) {
		if (set_upload(h, id, *expected, -1, NULL, total) != VIG_OK)
			err = vig_errf(errbuf, VIG_EIO, "cannot record the upload");
		goto out_unlock;
	}
	if (!sha256_hex || !sha256_file(part, got, &size) || strcasecmp(got, sha256_hex) != 0) {
		unlink(part);
		set_upload(h, id, 0, -1, NULL, -1);
		*expected = 0;
		err = vig_errf(errbuf, VIG_EINVAL, "X-Vigil-Sha256 does not match the received file");
		goto out_unlock;
	}
	if (rename(part, fin) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot store %s: %s", fin, strerror(errno));
		goto out_unlock;
	}
	if (set_upload(h, id, size, size, got, size) != VIG_OK)
		err = vig_errf(errbuf, VIG_EIO, "cannot record the upload");
out_unlock:
	vig_db_unlock(f->db);
	return err;
}

enum vig_err vig_fleet_upload_file(struct vig_fleet *f, const struct vig_principal *actor,
				   int64_t id, char *path, size_t cap, char sha256_hex[65],
				   int64_t *size, char *errbuf)
{
	char dir[1200], part[1200];
	struct action_key k;
	json_t *a = NULL, *file;
	enum vig_err err;
	sqlite3 *h;

	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = visible_action(h, actor, id, &k, &a, errbuf);
	vig_db_unlock(f->db);
	if (err != VIG_OK)
		return err;
	file = json_object_get(a, "file");
	if (!file) {
		json_decref(a);
		return vig_errf(errbuf, VIG_ENOTFOUND, "no file collected for this action");
	}
	snprintf(sha256_hex, 65, "%s", json_string_value(json_object_get(file, "sha256")));
	*size = json_integer_value(json_object_get(file, "size"));
	json_decref(a);
	return file_paths(f, k.tenant, id, dir, part, path, cap < sizeof(dir) ? cap : sizeof(dir),
			  errbuf);
}
