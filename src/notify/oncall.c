/*
 * oncall.c - on-call rotas and escalation ladders (see oncall.h).
 */
#include "oncall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "common/vtime.h"
#include "notify.h"

#define NS_PER_S 1000000000LL
#define SHIFT_HOURS_MAX (24 * 28)          /* a shift is 1 hour to 4 weeks */
#define OVERRIDE_MAX_NS (90LL * 86400 * NS_PER_S)
#define AFTER_MAX_S (7 * 86400)            /* the last level at most a week in */
#define FIELD_MAX 256                      /* bytes of a name, address or URL */
#define ESC_CHECK_MAX 1000                 /* unacknowledged incidents looked at per check */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* ---- who is on call ---- */

int vig_oncall_member_at(json_t *rota, int64_t t)
{
	json_t *members = json_object_get(rota, "members"), *ov;
	int64_t shift = json_integer_value(json_object_get(rota, "shift_s")) * NS_PER_S;
	int64_t start = json_integer_value(json_object_get(rota, "start_ns"));
	int64_t n = (int64_t)json_array_size(members), best_created = -1;
	int who = -1;
	size_t i;

	if (n == 0 || shift <= 0)
		return -1;
	json_array_foreach(json_object_get(rota, "overrides"), i, ov) {
		int64_t s = json_integer_value(json_object_get(ov, "start_ns"));
		int64_t e = json_integer_value(json_object_get(ov, "end_ns"));
		int64_t c = json_integer_value(json_object_get(ov, "id"));
		int m = (int)json_integer_value(json_object_get(ov, "member"));

		if (t >= s && t < e && m >= 0 && m < n && c > best_created) {
			best_created = c;
			who = m;
		}
	}
	if (who >= 0)
		return who;
	int64_t k = floor_div(t - start, shift) % n;
	return (int)(k < 0 ? k + n : k);
}

/* ---- input checks ---- */

static bool text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return false;
	return true;
}

static bool email_ok(const char *s)
{
	const char *at = strchr(s, '@');

	return text_ok(s, FIELD_MAX) && at && at != s && at[1] && !strpbrk(s, " <>,;\"");
}

static bool url_ok(const char *s)
{
	return text_ok(s, FIELD_MAX) && (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7));
}

/* A time given as RFC 3339 text or epoch seconds; def when absent. */
static bool time_of(json_t *v, int64_t def, int64_t *out)
{
	if (!v) {
		*out = def;
		return true;
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < 8000000000LL) {
		*out = json_integer_value(v) * NS_PER_S;
		return true;
	}
	return json_is_string(v) && vig_time_parse(json_string_value(v), json_string_length(v), out);
}

static bool known_keys(json_t *in, const char *const *keys, size_t n, char *errbuf)
{
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v) {
		bool ok = false;

		for (size_t i = 0; i < n; i++)
			ok |= !strcmp(k, keys[i]);
		if (!ok) {
			vig_errf(errbuf, VIG_EINVAL, "unknown field '%s'", k);
			return false;
		}
	}
	return true;
}

/* The tenant a new object belongs to: in.tenant (must be visible) or the caller's. */
static enum vig_err owner_tenant(const struct vig_principal *who, json_t *in, const char **tenant,
				 char *errbuf)
{
	*tenant = *jstr(in, "tenant") ? jstr(in, "tenant") : who->tenant;
	if (!vig_principal_can_access_tenant(who, *tenant))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant '%s'", *tenant);
	return VIG_OK;
}

static enum vig_err check_members(json_t *members, char *errbuf)
{
	json_t *m;
	size_t i;

	if (!json_is_array(members) || json_array_size(members) == 0 ||
	    json_array_size(members) > VIG_ONCALL_MEMBERS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "members: 1 to %d members", VIG_ONCALL_MEMBERS_MAX);
	json_array_foreach(members, i, m) {
		static const char *const keys[] = {"name", "email", "webhook"};

		if (!json_is_object(m) || !known_keys(m, keys, VIG_ARRAY_LEN(keys), errbuf))
			return json_is_object(m) ? VIG_EINVAL
						  : vig_errf(errbuf, VIG_EINVAL, "members[%zu]: an object", i);
		if (!text_ok(jstr(m, "name"), FIELD_MAX) || !email_ok(jstr(m, "email")))
			return vig_errf(errbuf, VIG_EINVAL, "members[%zu]: a name and one e-mail address", i);
		if (json_object_get(m, "webhook") && !url_ok(jstr(m, "webhook")))
			return vig_errf(errbuf, VIG_EINVAL, "members[%zu].webhook: an http(s) URL", i);
	}
	return VIG_OK;
}

/* ---- rotas ---- */

/* Adds the derived fields (times as text, on_call, next_handoff) to a rota object. */
static void rota_present(json_t *o, int64_t now)
{
	json_t *ov;
	size_t i;
	char ts[VIG_TIME_STRLEN];
	int64_t shift = json_integer_value(json_object_get(o, "shift_s")) * NS_PER_S;
	int64_t start = json_integer_value(json_object_get(o, "start_ns"));
	int m = vig_oncall_member_at(o, now);

	vig_time_format(start, ts);
	json_object_set_new(o, "start", json_string(ts));
	json_object_set_new(o, "shift_hours", json_integer(json_integer_value(json_object_get(o, "shift_s")) / 3600));
	json_array_foreach(json_object_get(o, "overrides"), i, ov) {
		vig_time_format(json_integer_value(json_object_get(ov, "start_ns")), ts);
		json_object_set_new(ov, "start", json_string(ts));
		vig_time_format(json_integer_value(json_object_get(ov, "end_ns")), ts);
		json_object_set_new(ov, "end", json_string(ts));
	}
	json_object_set(o, "on_call", m >= 0 ? json_array_get(json_object_get(o, "members"), (size_t)m) : json_null());
	if (shift > 0) {
		vig_time_format(start + (floor_div(now - start, shift) + 1) * shift, ts);
		json_object_set_new(o, "next_handoff", json_string(ts));
	}
}

/* Reads rota id (with its current and future overrides) if who may see it: its own tenant's,
 * or the provider's. */
static enum vig_err rota_read(sqlite3 *h, const struct vig_principal *who, int64_t id, int64_t now,
			      json_t **out, char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "SELECT r.id, r.tenant_id, r.name, r.members, r.shift_s, r.start,"
			    " r.created_by, t.is_provider FROM oncall_rotas r"
			    " JOIN tenants t ON t.id = r.tenant_id WHERE r.id = ?1",
			    "i", id);
	json_t *o = NULL, *ovs;

	*out = NULL;
	if (!st)
		return VIG_EIO;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (sqlite3_column_int(st, 7) || vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 1))))
		o = json_pack("{s:I,s:s,s:s,s:o,s:I,s:I,s:s}", "id", (json_int_t)id, "tenant",
			      sqlite3_column_text(st, 1), "name", sqlite3_column_text(st, 2), "members",
			      json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL), "shift_s",
			      (json_int_t)sqlite3_column_int64(st, 4), "start_ns",
			      (json_int_t)sqlite3_column_int64(st, 5), "created_by", sqlite3_column_text(st, 6));
	sqlite3_finalize(st);
	if (!o)
		return vig_errf(errbuf, VIG_ENOTFOUND, "rota %lld not found", (long long)id);
	ovs = json_array();
	json_object_set_new(o, "overrides", ovs);
	st = vig_db_stmt(h, errbuf,
			 "SELECT id, member, start, end, created_by FROM oncall_overrides"
			 " WHERE rota_id = ?1 AND end > ?2 ORDER BY start LIMIT 500",
			 "ii", id, now);
	if (!st) {
		json_decref(o);
		return VIG_EIO;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(ovs, json_pack("{s:I,s:i,s:I,s:I,s:s}", "id",
						     (json_int_t)sqlite3_column_int64(st, 0), "member",
						     sqlite3_column_int(st, 1), "start_ns",
						     (json_int_t)sqlite3_column_int64(st, 2), "end_ns",
						     (json_int_t)sqlite3_column_int64(st, 3), "created_by",
						     sqlite3_column_text(st, 4)));
	sqlite3_finalize(st);
	*out = o;
	return VIG_OK;
}

static enum vig_err audit(sqlite3 *h, const struct vig_principal *who, const char *tenant, const char *action,
			  const char *type, int64_t id, json_t *before, json_t *after, int64_t now, char *errbuf)
{
	return vig_audit_append_json_locked(h, who, tenant, action, type, id, before, after, NULL, now, errbuf);
}

struct op {
	const struct vig_principal *who;
	json_t *in;
	int64_t id, now;
	json_t **out;
};

static enum vig_err rota_create_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct op *op = arg;
	static const char *const keys[] = {"name", "members", "shift_hours", "start", "tenant"};
	json_t *sh = json_object_get(op->in, "shift_hours");
	const char *tenant;
	char *members;
	int64_t start;
	enum vig_err err;

	if (!known_keys(op->in, keys, VIG_ARRAY_LEN(keys), errbuf))
		return VIG_EINVAL;
	if (!text_ok(jstr(op->in, "name"), FIELD_MAX))
		return vig_errf(errbuf, VIG_EINVAL, "name: required, one line");
	if (!json_is_integer(sh) || json_integer_value(sh) < 1 || json_integer_value(sh) > SHIFT_HOURS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "shift_hours: an integer in [1, %d]", SHIFT_HOURS_MAX);
	if (!time_of(json_object_get(op->in, "start"), op->now, &start))
		return vig_errf(errbuf, VIG_EINVAL, "start: RFC 3339 or epoch seconds");
	if ((err = check_members(json_object_get(op->in, "members"), errbuf)) != VIG_OK ||
	    (err = owner_tenant(op->who, op->in, &tenant, errbuf)) != VIG_OK)
		return err;
	members = json_dumps(json_object_get(op->in, "members"), JSON_COMPACT);
	if (!members)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	err = vig_db_do(h, errbuf,
			"INSERT INTO oncall_rotas (tenant_id, name, members, shift_s, start,"
			" created, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			"tttiiit", tenant, jstr(op->in, "name"), members,
			(int64_t)json_integer_value(sh) * 3600, start, op->now, op->who->username);
	free(members);
	if (err == VIG_OK)
		err = rota_read(h, op->who, sqlite3_last_insert_rowid(h), op->now, op->out, errbuf);
	if (err == VIG_OK)
		err = audit(h, op->who, tenant, "oncall_rota.create", "oncall_rota",
			    json_integer_value(json_object_get(*op->out, "id")), NULL, *op->out, op->now, errbuf);
	if (err == VIG_OK)
		rota_present(*op->out, op->now);
	return err;
}

enum vig_err vig_oncall_rota_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
				    int64_t now, json_t **out, char *errbuf)
{
	struct op op = {who, in, 0, now, out};
	enum vig_err err;

	*out = NULL;
	err = vig_db_in_tx(db, rota_create_tx, &op, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_oncall_rota_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
				 int64_t now, json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err = rota_read(h, who, id, now, out, errbuf);

	vig_db_unlock(db);
	if (err == VIG_OK)
		rota_present(*out, now);
	return err;
}

/* Ids of the rows of table (rotas or policies) who may see, newest first. */
static enum vig_err visible_ids(sqlite3 *h, const struct vig_principal *who, const char *table,
				int64_t *ids, size_t cap, size_t *n, char *errbuf)
{
	sqlite3_stmt *st;
	char sql[256];

	*n = 0;
	snprintf(sql, sizeof(sql),
		 "SELECT x.id FROM %s x JOIN tenants t ON t.id = x.tenant_id"
		 " WHERE ?1 OR x.tenant_id = ?2 OR t.is_provider = 1 ORDER BY x.id DESC LIMIT ?3",
		 table);
	st = vig_db_stmt(h, errbuf, sql, "iti", (int64_t)who->provider, who->tenant, (int64_t)cap);
	if (!st)
		return VIG_EIO;
	while (*n < cap && sqlite3_step(st) == SQLITE_ROW)
		ids[(*n)++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return VIG_OK;
}

typedef enum vig_err (*read_fn)(sqlite3 *h, const struct vig_principal *who, int64_t id, int64_t now,
				json_t **out, char *errbuf);

/* {"<key>": [the visible rows of table, newest first, as read reads them], "count": N}. */
static enum vig_err list_visible(struct vig_db *db, const struct vig_principal *who, const char *table,
				 const char *key, read_fn read, int64_t now, json_t **out, char *errbuf)
{
	int64_t *ids = calloc(VIG_ONCALL_LIST_MAX, sizeof(*ids));
	json_t *arr = json_array(), *o;
	size_t n = 0;
	sqlite3 *h;
	enum vig_err err;

	if (!ids || !arr) {
		free(ids);
		json_decref(arr);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	h = vig_db_lock(db);
	err = visible_ids(h, who, table, ids, VIG_ONCALL_LIST_MAX, &n, errbuf);
	for (size_t i = 0; err == VIG_OK && i < n; i++)
		if ((err = read(h, who, ids[i], now, &o, errbuf)) == VIG_OK)
			json_array_append_new(arr, o);
	vig_db_unlock(db);
	free(ids);
	if (err != VIG_OK) {
		json_decref(arr);
		return err;
	}
	*out = json_pack("{s:o,s:I}", key, arr, "count", (json_int_t)n);
	return VIG_OK;
}

static enum vig_err rota_read_presented(sqlite3 *h, const struct vig_principal *who, int64_t id, int64_t now,
					json_t **out, char *errbuf)
{
	enum vig_err err = rota_read(h, who, id, now, out, errbuf);

	if (err == VIG_OK)
		rota_present(*out, now);
	return err;
}

enum vig_err vig_oncall_rota_list(struct vig_db *db, const struct vig_principal *who, int64_t now,
				  json_t **out, char *errbuf)
{
	return list_visible(db, who, "oncall_rotas", "rotas", rota_read_presented, now, out, errbuf);
}

/* May who change an object of tenant (a provider's object: provider principals only)? */
static enum vig_err may_change(const struct vig_principal *who, const char *tenant, char *errbuf)
{
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "this belongs to the provider");
	return VIG_OK;
}

static enum vig_err rota_delete_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct op *op = arg;
	json_t *cur = NULL;
	enum vig_err err = rota_read(h, op->who, op->id, op->now, &cur, errbuf);

	if (err == VIG_OK)
		err = may_change(op->who, jstr(cur, "tenant"), errbuf);
	if (err == VIG_OK)
		err = vig_db_run_id(h, "DELETE FROM oncall_rotas WHERE id = ?1", op->id, 0, errbuf);
	if (err == VIG_OK)
		err = audit(h, op->who, jstr(cur, "tenant"), "oncall_rota.delete", "oncall_rota", op->id, cur,
			    NULL, op->now, errbuf);
	json_decref(cur);
	return err;
}

enum vig_err vig_oncall_rota_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				    char *errbuf)
{
	struct op op = {who, NULL, id, vig_time_now(), NULL};

	return vig_db_in_tx(db, rota_delete_tx, &op, errbuf);
}

static enum vig_err override_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct op *op = arg;
	static const char *const keys[] = {"member", "start", "end"};
	json_t *cur = NULL, *m = json_object_get(op->in, "member"), *x;
	int64_t start, end, member = -1;
	enum vig_err err;
	size_t i;

	if (!known_keys(op->in, keys, VIG_ARRAY_LEN(keys), errbuf))
		return VIG_EINVAL;
	if ((err = rota_read(h, op->who, op->id, op->now, &cur, errbuf)) != VIG_OK)
		return err;
	if ((err = may_change(op->who, jstr(cur, "tenant"), errbuf)) != VIG_OK)
		goto out;
	json_array_foreach(json_object_get(cur, "members"), i, x)
		if ((json_is_integer(m) && json_integer_value(m) == (json_int_t)i) ||
		    (json_is_string(m) && !strcmp(json_string_value(m), jstr(x, "email"))))
			member = (int64_t)i;
	if (member < 0) {
		err = vig_errf(errbuf, VIG_EINVAL, "member: an index or the e-mail address of a member");
		goto out;
	}
	if (!time_of(json_object_get(op->in, "start"), op->now, &start) ||
	    !time_of(json_object_get(op->in, "end"), 0, &end) || end <= start || end - start > OVERRIDE_MAX_NS) {
		err = vig_errf(errbuf, VIG_EINVAL, "start and end: times with end after start, at most 90 days");
		goto out;
	}
	err = vig_db_do(h, errbuf,
			"INSERT INTO oncall_overrides (rota_id, member, start, end, created,"
			" created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			"iiiiit", op->id, member, start, end, op->now, op->who->username);
	if (err == VIG_OK)
		err = audit(h, op->who, jstr(cur, "tenant"), "oncall_rota.override", "oncall_rota", op->id, NULL,
			    op->in, op->now, errbuf);
	if (err == VIG_OK)
		err = rota_read(h, op->who, op->id, op->now, op->out, errbuf);
	if (err == VIG_OK)
		rota_present(*op->out, op->now);
out:
	json_decref(cur);
	return err;
}

enum vig_err vig_oncall_override_add(struct vig_db *db, const struct vig_principal *who, int64_t rota_id,
				     json_t *in, int64_t now, json_t **out, char *errbuf)
{
	struct op op = {who, in, rota_id, now, out};

	*out = NULL;
	return vig_db_in_tx(db, override_tx, &op, errbuf);
}

/* ---- escalation policies ---- */

static int sev_rank(const char *s)
{
	enum vig_alert_severity v;

	return s && vig_alert_severity_parse(s, &v) ? (int)v : -1;
}

/* Checks levels; a rota named must be visible to who and of tenant or the provider. */
static enum vig_err check_levels(sqlite3 *h, const struct vig_principal *who, json_t *levels, char *errbuf)
{
	json_t *l;
	size_t i;
	int64_t prev = -1;

	if (!json_is_array(levels) || json_array_size(levels) == 0 || json_array_size(levels) > VIG_ESC_LEVELS_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "levels: 1 to %d levels", VIG_ESC_LEVELS_MAX);
	json_array_foreach(levels, i, l) {
		static const char *const keys[] = {"after_s", "rota", "email", "webhook"};
		json_t *a = json_object_get(l, "after_s"), *r = json_object_get(l, "rota");
		int targets = !!r + !!json_object_get(l, "email") + !!json_object_get(l, "webhook");

		if (!json_is_object(l) || !known_keys(l, keys, VIG_ARRAY_LEN(keys), errbuf))
			return json_is_object(l) ? VIG_EINVAL : vig_errf(errbuf, VIG_EINVAL, "levels[%zu]: an object", i);
		if (!json_is_integer(a) || json_integer_value(a) <= prev || json_integer_value(a) > AFTER_MAX_S)
			return vig_errf(errbuf, VIG_EINVAL,
					"levels[%zu].after_s: seconds, ascending, at most %d", i, AFTER_MAX_S);
		prev = json_integer_value(a);
		if (targets != 1)
			return vig_errf(errbuf, VIG_EINVAL, "levels[%zu]: exactly one of rota, email, webhook", i);
		if (json_object_get(l, "email") && !email_ok(jstr(l, "email")))
			return vig_errf(errbuf, VIG_EINVAL, "levels[%zu].email: one address", i);
		if (json_object_get(l, "webhook") && !url_ok(jstr(l, "webhook")))
			return vig_errf(errbuf, VIG_EINVAL, "levels[%zu].webhook: an http(s) URL", i);
		if (r) {
			json_t *rota = NULL;

			if (!json_is_integer(r) ||
			    rota_read(h, who, json_integer_value(r), 0, &rota, errbuf) != VIG_OK)
				return vig_errf(errbuf, VIG_EINVAL, "levels[%zu].rota: no such rota", i);
			json_decref(rota);
		}
	}
	return VIG_OK;
}

static enum vig_err policy_read(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out,
				char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "SELECT p.tenant_id, p.name, p.min_severity, p.levels, p.enabled,"
			    " t.is_provider FROM escalation_policies p"
			    " JOIN tenants t ON t.id = p.tenant_id WHERE p.id = ?1",
			    "i", id);
	json_t *o = NULL;

	*out = NULL;
	if (!st)
		return VIG_EIO;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    (sqlite3_column_int(st, 5) || vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 0))))
		o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:b}", "id", (json_int_t)id, "tenant", sqlite3_column_text(st, 0),
			      "name", sqlite3_column_text(st, 1), "min_severity", sqlite3_column_text(st, 2), "levels",
			      json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL), "enabled",
			      sqlite3_column_int(st, 4));
	sqlite3_finalize(st);
	if (!o)
		return vig_errf(errbuf, VIG_ENOTFOUND, "escalation policy %lld not found", (long long)id);
	*out = o;
	return VIG_OK;
}

/* Writes the policy fields of in over row id (create: id = 0 inserts). */
static enum vig_err policy_write(sqlite3 *h, const struct vig_principal *who, json_t *in, json_t *cur,
				 const char *tenant, int64_t now, int64_t *id, char *errbuf)
{
	static const char *const keys[] = {"name", "min_severity", "levels", "enabled", "tenant"};
	json_t *name = json_object_get(in, "name"), *sev = json_object_get(in, "min_severity");
	json_t *levels = json_object_get(in, "levels"), *en = json_object_get(in, "enabled");
	const char *nm, *sv;
	char *lv;
	int64_t on;
	enum vig_err err;

	if (!known_keys(in, keys, VIG_ARRAY_LEN(keys), errbuf))
		return VIG_EINVAL;
	if (cur && json_object_get(in, "tenant"))
		return vig_errf(errbuf, VIG_EINVAL, "a policy cannot move to another tenant");
	if ((name || !cur) && !text_ok(json_string_value(name) ? json_string_value(name) : "", FIELD_MAX))
		return vig_errf(errbuf, VIG_EINVAL, "name: required, one line");
	if (sev && sev_rank(json_string_value(sev)) < 0)
		return vig_errf(errbuf, VIG_EINVAL, "min_severity: informational, low, medium, high or critical");
	if (en && !json_is_boolean(en))
		return vig_errf(errbuf, VIG_EINVAL, "enabled: true or false");
	if ((levels || !cur) && (err = check_levels(h, who, levels, errbuf)) != VIG_OK)
		return err;
	lv = json_dumps(levels ? levels : json_object_get(cur, "levels"), JSON_COMPACT);
	if (!lv)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	nm = name ? json_string_value(name) : jstr(cur, "name");
	sv = sev ? json_string_value(sev) : cur ? jstr(cur, "min_severity") : "informational";
	on = en ? json_is_true(en) : cur ? json_is_true(json_object_get(cur, "enabled")) : 1;
	if (*id)
		err = vig_db_do(h, errbuf,
				"UPDATE escalation_policies SET name = ?2, min_severity = ?3,"
				" levels = ?4, enabled = ?5 WHERE id = ?1",
				"ittti", *id, nm, sv, lv, on);
	else
		err = vig_db_do(h, errbuf,
				"INSERT INTO escalation_policies (tenant_id, name, min_severity,"
				" levels, enabled, created) VALUES (?6, ?2, ?3, ?4, ?5, ?7)",
				"itttiti", *id, nm, sv, lv, on, tenant, now);
	free(lv);
	if (err == VIG_OK && !*id)
		*id = sqlite3_last_insert_rowid(h);
	return err;
}

static enum vig_err policy_create_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct op *op = arg;
	const char *tenant;
	int64_t id = 0;
	enum vig_err err = owner_tenant(op->who, op->in, &tenant, errbuf);

	if (err == VIG_OK)
		err = policy_write(h, op->who, op->in, NULL, tenant, op->now, &id, errbuf);
	if (err == VIG_OK)
		err = policy_read(h, op->who, id, op->out, errbuf);
	if (err == VIG_OK)
		err = audit(h, op->who, tenant, "escalation_policy.create", "escalation_policy", id, NULL, *op->out,
			    op->now, errbuf);
	return err;
}

static enum vig_err policy_update_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct op *op = arg;
	json_t *cur = NULL;
	int64_t id = op->id;
	enum vig_err err = policy_read(h, op->who, id, &cur, errbuf);

	if (err == VIG_OK)
		err = may_change(op->who, jstr(cur, "tenant"), errbuf);
	if (err == VIG_OK && op->in)
		err = policy_write(h, op->who, op->in, cur, jstr(cur, "tenant"), op->now, &id, errbuf);
	if (err == VIG_OK && op->in)
		err = policy_read(h, op->who, id, op->out, errbuf);
	if (err == VIG_OK && !op->in)
		err = vig_db_run_id(h, "DELETE FROM escalation_policies WHERE id = ?1", id, 0, errbuf);
	if (err == VIG_OK)
		err = audit(h, op->who, jstr(cur, "tenant"),
			    op->in ? "escalation_policy.update" : "escalation_policy.delete", "escalation_policy", id,
			    cur, op->in ? *op->out : NULL, op->now, errbuf);
	json_decref(cur);
	return err;
}

enum vig_err vig_escalation_policy_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
					  int64_t now, json_t **out, char *errbuf)
{
	struct op op = {who, in, 0, now, out};
	enum vig_err err;

	*out = NULL;
	err = vig_db_in_tx(db, policy_create_tx, &op, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_escalation_policy_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
					  json_t *in, json_t **out, char *errbuf)
{
	struct op op = {who, in, id, vig_time_now(), out};
	enum vig_err err;

	*out = NULL;
	err = vig_db_in_tx(db, policy_update_tx, &op, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_escalation_policy_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
					  char *errbuf)
{
	struct op op = {who, NULL, id, vig_time_now(), NULL};

	return vig_db_in_tx(db, policy_update_tx, &op, errbuf);
}

static enum vig_err policy_read_at(sqlite3 *h, const struct vig_principal *who, int64_t id, int64_t now,
				   json_t **out, char *errbuf)
{
	(void)now;
	return policy_read(h, who, id, out, errbuf);
}

enum vig_err vig_escalation_policy_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
					char *errbuf)
{
	return list_visible(db, who, "escalation_policies", "policies", policy_read_at, 0, out, errbuf);
}

enum vig_err vig_escalation_incident(struct vig_db *db, const struct vig_principal *who, int64_t incident_id,
				     json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	enum vig_err err = VIG_OK;
	char tenant[VIG_NAME_MAX];

	if (!vig_db_text(h, tenant, sizeof(tenant), "SELECT tenant_id FROM incidents WHERE id = ?1",
			 "i", incident_id) ||
	    !vig_principal_can_access_tenant(who, tenant))
		err = vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found", (long long)incident_id);
	if (err == VIG_OK &&
	    !(st = vig_db_stmt(h, errbuf,
			       "SELECT policy_id, level, ts, target FROM incident_escalations"
			       " WHERE incident_id = ?1 ORDER BY ts, policy_id, level",
			       "i", incident_id)))
		err = VIG_EIO;
	if (err == VIG_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			char ts[VIG_TIME_STRLEN];

			vig_time_format(sqlite3_column_int64(st, 2), ts);
			json_array_append_new(arr, json_pack("{s:I,s:i,s:s,s:s}", "policy",
							     (json_int_t)sqlite3_column_int64(st, 0), "level",
							     sqlite3_column_int(st, 1) + 1, "ts", ts, "target",
							     sqlite3_column_text(st, 3)));
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		json_decref(arr);
		return err;
	}
	*out = json_pack("{s:o}", "escalations", arr);
	return VIG_OK;
}

/* ---- the check ---- */

/* One page: level (0-based) of policy p for incident inc, to the targets of lvl. */
static enum vig_err page(sqlite3 *h, json_t *inc, json_t *p, size_t level, json_t *lvl, int64_t now,
			 size_t *paged, char *errbuf)
{
	struct vig_principal sys;
	struct vig_notify_event ev = {0};
	const char *targets[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* {channel, target} */
	char summary[FIELD_MAX * 4], who[FIELD_MAX * 2], idbuf[24], title[FIELD_MAX + 64];
	json_t *rota = NULL, *data;
	enum vig_err err = VIG_OK;
	int64_t id = json_integer_value(json_object_get(inc, "id"));
	const char *tenant = jstr(inc, "tenant");

	vig_principal_system(&sys);
	if (json_object_get(lvl, "rota")) {
		json_t *m;
		int k;

		err = rota_read(h, &sys, json_integer_value(json_object_get(lvl, "rota")), now, &rota, errbuf);
		if (err == VIG_ENOTFOUND) { /* deleted since: record the level as skipped */
			err = VIG_OK;
			snprintf(who, sizeof(who), "nobody (rota %lld deleted)",
				 (long long)json_integer_value(json_object_get(lvl, "rota")));
		} else if (err == VIG_OK && (k = vig_oncall_member_at(rota, now)) >= 0) {
			m = json_array_get(json_object_get(rota, "members"), (size_t)k);
			targets[0][0] = "email";
			targets[0][1] = jstr(m, "email");
			if (json_object_get(m, "webhook")) {
				targets[1][0] = "webhook";
				targets[1][1] = jstr(m, "webhook");
			}
			snprintf(who, sizeof(who), "%s <%s> (%s)", jstr(m, "name"), jstr(m, "email"), jstr(rota, "name"));
		}
	} else {
		targets[0][0] = json_object_get(lvl, "email") ? "email" : "webhook";
		targets[0][1] = jstr(lvl, targets[0][0]);
		snprintf(who, sizeof(who), "%s", targets[0][1]);
	}
	if (err != VIG_OK)
		goto out;
	snprintf(title, sizeof(title), "Escalation level %zu: %s", level + 1, jstr(inc, "title"));
	data = json_pack("{s:I,s:s,s:s,s:i,s:I,s:s,s:s}", "incident_id", (json_int_t)id, "title", jstr(inc, "title"),
			 "severity", jstr(inc, "severity"), "level", (int)level + 1, "policy",
			 json_integer_value(json_object_get(p, "id")), "policy_name", jstr(p, "name"), "paged", who);
	ev = (struct vig_notify_event){.tenant = tenant, .kind = "incident.escalation",
				       .severity = jstr(inc, "severity"), .title = title, .data = data};
	for (int i = 0; i < 2 && err == VIG_OK; i++)
		if (targets[i][0])
			err = vig_notify_direct_locked(h, &ev, targets[i][0], targets[i][1], now, errbuf);
	json_decref(data);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"INSERT INTO incident_escalations (incident_id, policy_id, level,"
				" ts, target) VALUES (?1, ?2, ?3, ?4, ?5)",
				"iiiit", id, (int64_t)json_integer_value(json_object_get(p, "id")),
				(int64_t)level, now, who);
	snprintf(summary, sizeof(summary), "not acknowledged: escalation level %zu (%s) paged %s", level + 1,
		 jstr(p, "name"), who);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"INSERT INTO incident_timeline (incident_id, tenant_id, ts, actor,"
				" kind, summary) VALUES (?1, ?2, ?3, 'system', 'escalation', ?4)",
				"itit", id, tenant, now, summary);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	if (err == VIG_OK)
		err = vig_audit_append_locked(h, &sys, tenant, "incident.escalation", "incident", idbuf, NULL, NULL,
					      summary, now, NULL, errbuf);
	if (err == VIG_OK)
		(*paged)++;
out:
	json_decref(rota);
	return err;
}

enum vig_err vig_escalation_check(struct vig_db *db, int64_t now, size_t *paged, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	json_t *work = json_array(); /* [{inc, policy}] read first, paged after */
	enum vig_err err = VIG_OK;
	size_t n = 0, i;
	json_t *w;

	if (paged)
		*paged = 0;
	/* unacknowledged incidents with an enabled policy of their tenant or the provider */
	st = vig_db_stmt(
		h, errbuf,
		"SELECT i.id, i.tenant_id, i.title, i.severity, i.created, p.id, p.name,"
		" p.min_severity, p.levels FROM incidents i JOIN escalation_policies p"
		" ON p.enabled = 1 AND (p.tenant_id = i.tenant_id OR p.tenant_id IN"
		" (SELECT id FROM tenants WHERE is_provider = 1))"
		" WHERE i.status IN ('new', 'open') AND i.acknowledged IS NULL AND i.created >= ?1"
		" ORDER BY i.created LIMIT ?2",
		"ii", (int64_t)(now - (AFTER_MAX_S + 86400LL) * NS_PER_S), (int64_t)ESC_CHECK_MAX);
	if (!st) {
		err = VIG_EIO;
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *inc = json_pack("{s:I,s:s,s:s,s:s,s:I}", "id", (json_int_t)sqlite3_column_int64(st, 0), "tenant",
					sqlite3_column_text(st, 1), "title", sqlite3_column_text(st, 2), "severity",
					sqlite3_column_text(st, 3), "created", (json_int_t)sqlite3_column_int64(st, 4));
		json_t *p = json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)sqlite3_column_int64(st, 5), "name",
				      sqlite3_column_text(st, 6), "min_severity", sqlite3_column_text(st, 7), "levels",
				      json_loads((const char *)sqlite3_column_text(st, 8), 0, NULL));

		if (sev_rank(jstr(inc, "severity")) >= sev_rank(jstr(p, "min_severity")))
			json_array_append_new(work, json_pack("{s:o,s:o}", "inc", inc, "p", p));
		else {
			json_decref(inc);
			json_decref(p);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	json_array_foreach(work, i, w) {
		json_t *inc = json_object_get(w, "inc"), *p = json_object_get(w, "p"), *lvl;
		int64_t created = json_integer_value(json_object_get(inc, "created"));
		size_t k;

		json_array_foreach(json_object_get(p, "levels"), k, lvl) {
			if (created + json_integer_value(json_object_get(lvl, "after_s")) * NS_PER_S > now)
				break; /* ascending: the rest are later */
			if (vig_db_int(h, 0,
				       "SELECT 1 FROM incident_escalations WHERE incident_id = ?1"
				       " AND policy_id = ?2 AND level = ?3",
				       "iii",
				       (int64_t)json_integer_value(json_object_get(inc, "id")),
				       (int64_t)json_integer_value(json_object_get(p, "id")),
				       (int64_t)k))
				continue; /* paged already */
			err = vig_db_begin(h, errbuf);
			if (err == VIG_OK)
				err = page(h, inc, p, k, lvl, now, &n, errbuf);
			err = vig_db_end(h, err, errbuf);
			if (err != VIG_OK)
				goto out;
		}
	}
out:
	sqlite3_finalize(st);
	vig_db_unlock(db);
	json_decref(work);
	if (paged)
		*paged = n;
	return err;
}
