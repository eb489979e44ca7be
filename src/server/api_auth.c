/*
 * api_auth.c - thin HTTP handlers over the auth module: health, first-run setup, login and
 * logout, the caller (/me), tenants, users, API tokens and the audit log.
 *
 * Each handler parses its input (JSON body or query), calls one vig_auth/vig_user/vig_tenant/
 * vig_token/vig_audit function with the authenticated principal, and maps enum vig_err to the
 * HTTP status. Permission and tenant checks happen twice: the route's permission in the
 * middleware, and the authoritative checks inside the auth module.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *ts_json(int64_t ns)
{
	char t[VIG_TIME_STRLEN];

	if (ns == 0)
		return json_null();
	vig_time_format(ns, t);
	return json_string(t);
}

static json_t *tenant_json(const struct vig_tenant *t)
{
	return json_pack("{s:s,s:s,s:b,s:s,s:i,s:o}", "id", t->id, "name", t->name, "is_provider",
			 t->is_provider, "mode", vig_tenant_mode_name(t->mode), "retention_days",
			 t->retention_days, "created", ts_json(t->created));
}

static json_t *user_json(const struct vig_user *u)
{
	return json_pack("{s:I,s:s,s:s,s:s,s:b,s:o,s:o}", "id", (json_int_t)u->id, "tenant",
			 u->tenant, "username", u->username, "role", vig_role_name(u->role),
			 "disabled", u->disabled, "created", ts_json(u->created), "last_login",
			 ts_json(u->last_login));
}

static json_t *token_json(const struct vig_token *t)
{
	return json_pack("{s:I,s:s,s:I,s:s,s:s,s:o,s:o,s:o,s:b}", "id", (json_int_t)t->id, "tenant",
			 t->tenant, "user_id", (json_int_t)t->user_id, "name", t->name, "role",
			 vig_role_name(t->role), "created", ts_json(t->created), "expires",
			 ts_json(t->expires), "last_used", ts_json(t->last_used), "revoked",
			 t->revoked);
}

/* Replies with err and errbuf (or the generic message when errbuf is empty). */
static void reply_auth_err(struct vig_req *r, enum vig_err err, const char *errbuf)
{
	vig_reply_err(r, err, errbuf && errbuf[0] ? errbuf : vig_strerror(err));
}

static bool parse_id(struct vig_req *r, int64_t *id)
{
	if (!vig_parse_i64(r->param, strlen(r->param), id) || *id <= 0) {
		vig_reply_err(r, VIG_ENOTFOUND, "no such object");
		return false;
	}
	return true;
}

void vig_api_health(struct vig_req *r)
{
	int64_t up = (vig_time_mono() - r->srv->started_mono) / VIG_NS_PER_SEC;

	vig_reply_jansson(r, 200,
			  json_pack("{s:s,s:s,s:I}", "status", r->srv->stopping ? "stopping" : "ok",
				    "version", VIG_VERSION, "uptime_s", (json_int_t)up));
}

void vig_api_setup_get(struct vig_req *r)
{
	vig_reply_jansson(r, 200, json_pack("{s:b}", "needed", vig_auth_setup_needed(r->srv->db)));
}

void vig_api_setup_post(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r);
	const char *tok, *user, *pass;
	enum vig_err err;

	if (!body)
		return;
	tok = jstr(body, "setup_token");
	user = jstr(body, "username");
	pass = jstr(body, "password");
	if (!tok || !user || !pass) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "setup_token, username and password are required");
		return;
	}
	err = vig_auth_setup(r->srv->db, tok, r->srv->setup_token, user, pass, errbuf);
	if (err != VIG_OK) {
		json_decref(body);
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_info("auth", "setup complete", "username=%s", user);
	vig_reply_jansson(r, 201, json_pack("{s:b,s:s,s:s}", "ok", 1, "username", user, "tenant",
					    VIG_DB_PROVIDER_TENANT));
	json_decref(body);
}

static json_t *principal_json(const struct vig_principal *p)
{
	json_t *perms = json_array();

	for (int i = 0; i < VIG_PERM__COUNT; i++)
		if (vig_role_can(p->role, (enum vig_perm)i))
			json_array_append_new(perms, json_string(vig_perm_name((enum vig_perm)i)));
	return json_pack("{s:I,s:s,s:s,s:s,s:b,s:o}", "id", (json_int_t)p->user_id, "username",
			 p->username, "tenant", p->tenant, "role", vig_role_name(p->role), "provider",
			 p->provider, "permissions", perms);
}

void vig_api_login(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", cookie[256];
	json_t *body = vig_req_json_body(r);
	struct vig_principal who;
	struct vig_session s;
	const char *user, *pass;
	enum vig_err err;

	if (!body)
		return;
	user = jstr(body, "username");
	pass = jstr(body, "password");
	if (!user || !pass) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "username and password are required");
		return;
	}
	err = vig_auth_login(r->srv->db, user, pass, r->remote, vig_time_now(), &s, &who, errbuf);
	json_decref(body);
	if (err == VIG_EBUSY) {
		vig_req_header(r, "Retry-After", "30");
		vig_reply_err(r, VIG_EBUSY, "too many failed logins, try again later");
		return;
	}
	if (err != VIG_OK) {
		vig_reply_err(r, VIG_EAUTH, "wrong username or password");
		return;
	}
	r->who = who;
	r->authed = true;
	snprintf(cookie, sizeof(cookie),
		 "vigil_session=%s; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=%lld", s.id,
		 (long long)r->srv->cfg.session_ttl_s);
	vig_req_header(r, "Set-Cookie", cookie);
	vig_reply_jansson(r, 200, json_pack("{s:s,s:o}", "csrf_token", s.csrf, "user",
					    principal_json(&who)));
}

void vig_api_logout(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";

	if (r->session)
		vig_auth_logout(r->srv->db, r->session_id, errbuf);
	vig_req_header(r, "Set-Cookie",
		       "vigil_session=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

void vig_api_me(struct vig_req *r)
{
	json_t *me = principal_json(&r->who);

	json_object_set_new(me, "auth", json_string(r->session ? "session" : "token"));
	/* A console tab opened on a live session learns its CSRF token here; only same-origin
	 * script can read this reply. */
	if (r->session)
		json_object_set_new(me, "csrf_token", json_string(r->csrf));
	vig_reply_jansson(r, 200, me);
}

/* ---- tenants ---- */

void vig_api_tenants_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_tenant *t = NULL;
	size_t n = 0;
	enum vig_err err = vig_tenant_list(r->srv->db, &r->who, &t, &n, errbuf);
	json_t *arr;

	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, tenant_json(&t[i]));
	free(t);
	vig_reply_jansson(r, 200, json_pack("{s:o}", "tenants", arr));
}

void vig_api_tenants_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r);
	enum vig_tenant_mode mode = VIG_TENANT_FULL;
	const char *id, *mode_s;
	struct vig_tenant t;
	enum vig_err err;
	int days;

	if (!body)
		return;
	id = jstr(body, "id");
	mode_s = jstr(body, "mode");
	days = (int)json_integer_value(json_object_get(body, "retention_days"));
	if (days == 0)
		days = (int)r->srv->cfg.retention_default_days;
	if (!id || (mode_s && !vig_tenant_mode_parse(mode_s, &mode))) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "id is required; mode is full or semi");
		return;
	}
	err = vig_tenant_create(r->srv->db, &r->who, id, jstr(body, "name"), mode, days, errbuf);
	if (err == VIG_OK)
		err = vig_tenant_get(r->srv->db, &r->who, id, &t, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 201, tenant_json(&t));
}

void vig_api_tenant_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_tenant t;
	enum vig_err err = vig_tenant_get(r->srv->db, &r->who, r->param, &t, errbuf);

	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, tenant_json(&t));
}

void vig_api_tenant_patch(struct vig_req *r)
{
	struct vig_tenant_update u = {NULL, -1, -1};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *days;
	enum vig_tenant_mode mode;
	const char *mode_s;
	struct vig_tenant t;
	enum vig_err err;

	if (!body)
		return;
	u.name = jstr(body, "name");
	mode_s = jstr(body, "mode");
	days = json_object_get(body, "retention_days");
	if (mode_s) {
		if (!vig_tenant_mode_parse(mode_s, &mode)) {
			json_decref(body);
			vig_reply_err(r, VIG_EINVAL, "mode is full or semi");
			return;
		}
		u.mode = (int)mode;
	}
	if (days)
		u.retention_days = json_is_integer(days) ? (int)json_integer_value(days) : 0;
	err = vig_tenant_update(r->srv->db, &r->who, r->param, &u, errbuf);
	if (err == VIG_OK)
		err = vig_tenant_get(r->srv->db, &r->who, r->param, &t, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, tenant_json(&t));
}

/* ---- users ---- */

void vig_api_users_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_user *u = NULL;
	enum vig_err err;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	err = vig_user_list(r->srv->db, &r->who, tenant, &u, &n, errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, user_json(&u[i]));
	free(u);
	vig_reply_jansson(r, 200, json_pack("{s:o}", "users", arr));
}

void vig_api_users_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r);
	const char *user, *pass, *role_s, *tenant;
	enum vig_role role;
	struct vig_user u;
	enum vig_err err;
	int64_t id = 0;

	if (!body)
		return;
	user = jstr(body, "username");
	pass = jstr(body, "password");
	role_s = jstr(body, "role");
	tenant = jstr(body, "tenant");
	if (!tenant)
		tenant = r->who.tenant;
	if (!user || !pass || !role_s || !vig_role_parse(role_s, &role)) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "username, password and a valid role are required");
		return;
	}
	err = vig_user_create(r->srv->db, &r->who, tenant, user, pass, role, &id, errbuf);
	json_decref(body);
	if (err == VIG_OK)
		err = vig_user_get(r->srv->db, &r->who, id, &u, errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 201, user_json(&u));
}

void vig_api_user_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *disabled;
	const char *role_s, *pass;
	enum vig_err err = VIG_OK;
	enum vig_role role;
	struct vig_user u;
	int64_t id;

	if (!parse_id(r, &id))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	role_s = jstr(body, "role");
	pass = jstr(body, "password");
	disabled = json_object_get(body, "disabled");
	if (role_s && !vig_role_parse(role_s, &role))
		err = vig_errf(errbuf, VIG_EINVAL, "unknown role \"%s\"", role_s);
	if (err == VIG_OK && role_s)
		err = vig_user_set_role(r->srv->db, &r->who, id, role, errbuf);
	if (err == VIG_OK && pass)
		err = vig_user_set_password(r->srv->db, &r->who, id, pass, errbuf);
	if (err == VIG_OK && json_is_boolean(disabled))
		err = vig_user_set_disabled(r->srv->db, &r->who, id, json_is_true(disabled), errbuf);
	if (err == VIG_OK)
		err = vig_user_get(r->srv->db, &r->who, id, &u, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, user_json(&u));
}

void vig_api_user_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	int64_t id;

	if (!parse_id(r, &id))
		return;
	err = vig_user_delete(r->srv->db, &r->who, id, errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- tokens ---- */

void vig_api_tokens_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_token *t = NULL;
	enum vig_err err;
	size_t n = 0;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	err = vig_token_list(r->srv->db, &r->who, tenant, &t, &n, errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, token_json(&t[i]));
	free(t);
	vig_reply_jansson(r, 200, json_pack("{s:o}", "tokens", arr));
}

void vig_api_tokens_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", plain[VIG_TOKEN_STRLEN];
	json_t *body = vig_req_json_body(r), *exp;
	const char *name, *role_s, *tenant;
	int64_t id = 0, now = vig_time_now(), expires = 0;
	enum vig_role role;
	enum vig_err err;

	if (!body)
		return;
	name = jstr(body, "name");
	role_s = jstr(body, "role");
	tenant = jstr(body, "tenant");
	exp = json_object_get(body, "expires_in_s");
	if (!tenant)
		tenant = r->who.tenant;
	if (!role_s)
		role_s = vig_role_name(r->who.role);
	if (!name || !vig_role_parse(role_s, &role) ||
	    (exp && (!json_is_integer(exp) || json_integer_value(exp) <= 0 ||
		     json_integer_value(exp) > 10 * 366 * 86400LL))) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "name is required; role must be valid; expires_in_s > 0");
		return;
	}
	if (exp)
		expires = now + json_integer_value(exp) * VIG_NS_PER_SEC;
	err = vig_token_create(r->srv->db, &r->who, tenant, name, role, expires, now, plain, &id,
			       errbuf);
	if (err != VIG_OK) {
		json_decref(body);
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 201, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "id", (json_int_t)id,
					    "token", plain, "name", name, "role",
					    vig_role_name(role), "tenant", tenant, "expires",
					    ts_json(expires)));
	json_decref(body);
}

void vig_api_token_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	int64_t id;

	if (!parse_id(r, &id))
		return;
	err = vig_token_revoke(r->srv->db, &r->who, id, errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- audit ---- */

static json_t *nullable(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* ?objects=type:id,type:id... into objs (pointing into buf); false after replying 400. */
static bool audit_objects(struct vig_req *r, char *buf, size_t cap, struct vig_audit_object *objs, size_t *n)
{
	char *p, *save = NULL;
	int rc = vig_req_query(r, "objects", buf, cap);

	*n = 0;
	if (rc <= 0)
		return rc == 0;
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(p, ':');

		if (!colon || colon == p || !colon[1] || strspn(p, "abcdefghijklmnopqrstuvwxyz_") != (size_t)(colon - p) ||
		    *n == VIG_AUDIT_OBJECTS_MAX) {
			vig_reply_err(r, VIG_EINVAL, "objects: up to 100 type:id pairs, comma-separated "
						     "(e.g. incident:12,evidence:3)");
			return false;
		}
		*colon = '\0';
		objs[*n].type = p;
		objs[(*n)++].id = colon + 1;
	}
	return true;
}

void vig_api_audit_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", num[32] = "", objbuf[4096];
	struct vig_audit_object objs[VIG_AUDIT_OBJECTS_MAX];
	struct vig_audit_row *rows = NULL;
	int64_t before = 0, limit = 100;
	enum vig_err err;
	size_t n = 0, n_objs = 0;
	json_t *arr;
	int rc;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    !audit_objects(r, objbuf, sizeof(objbuf), objs, &n_objs))
		return;
	rc = vig_req_query(r, "limit", num, sizeof(num));
	if (rc < 0 || (rc > 0 && !vig_parse_i64(num, strlen(num), &limit))) {
		if (rc > 0)
			vig_reply_err(r, VIG_EINVAL, "limit: expected an integer");
		return;
	}
	rc = vig_req_query(r, "before", num, sizeof(num));
	if (rc < 0 || (rc > 0 && !vig_parse_i64(num, strlen(num), &before))) {
		if (rc > 0)
			vig_reply_err(r, VIG_EINVAL, "before: expected a row id");
		return;
	}
	if (limit < 1 || limit > VIG_AUDIT_LIST_MAX)
		limit = VIG_MIN(VIG_MAX(limit, 1), VIG_AUDIT_LIST_MAX);
	err = vig_audit_list_objects(r->srv->db, &r->who, tenant, before, (int)limit, objs, n_objs, &rows, &n,
				     errbuf);
	if (err != VIG_OK) {
		reply_auth_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		struct vig_audit_row *a = &rows[i];

		json_array_append_new(
			arr, json_pack("{s:I,s:o,s:s,s:I,s:I,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:s}", "id",
				       (json_int_t)a->id, "ts", ts_json(a->ts), "actor",
				       a->actor ? a->actor : "", "actor_user_id",
				       (json_int_t)a->actor_user_id, "actor_token_id",
				       (json_int_t)a->actor_token_id, "tenant", a->tenant ? a->tenant : "",
				       "action", a->action ? a->action : "", "object_type",
				       nullable(a->object_type), "object_id", nullable(a->object_id),
				       "before", nullable(a->before_json), "after",
				       nullable(a->after_json), "reason", nullable(a->reason),
				       "prev_hash", a->prev_hash, "hash", a->hash));
	}
	vig_audit_rows_free(rows, n);
	vig_reply_jansson(r, 200, json_pack("{s:o}", "audit", arr));
}

void vig_api_audit_verify(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", head[VIG_AUDIT_HASH_STRLEN] = "";
	int64_t rows = 0, bad = 0;
	enum vig_err err;

	if (!r->who.provider) {
		/* the chain spans every tenant: only provider principals may check it */
		vig_reply_err(r, VIG_EPERM, "audit verification needs a provider role");
		return;
	}
	err = vig_audit_verify(r->srv->db, &rows, &bad, head, errbuf);
	if (err == VIG_OK) {
		vig_reply_jansson(r, 200, json_pack("{s:b,s:I,s:s}", "ok", 1, "rows", (json_int_t)rows,
						    "head_hash", head));
		return;
	}
	if (err == VIG_ECONFLICT) {
		vig_reply_jansson(r, 200, json_pack("{s:b,s:I,s:I,s:s}", "ok", 0, "rows",
						    (json_int_t)rows, "first_bad_id", (json_int_t)bad,
						    "reason", errbuf));
		return;
	}
	reply_auth_err(r, err, errbuf);
}
