/*
 * exceptions.c - condition sets (the Sigma-like field/value matcher shared by exceptions and
 * suppressions) and the stored suppressions and per-rule exceptions: schema, validation of an
 * API body, create / list / delete with tenant scope, JSON encoding. See policy.h.
 *
 * Both kinds share one row shape, in two tables (suppressions, rule_exceptions):
 *   id, tenant_id, rule_id ('' = every rule), conditions (JSON object text), until (ns; 0 for
 *   exceptions), reason, created_by, created (ns).
 * The table name comes from a static table indexed by the kind, never from input.
 */
#include "alert/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

#define ENTRY_LIST_MAX 1000 /* rows of one vig_policy_entry_list() */

static const char *const TABLES[] = {"suppressions", "rule_exceptions"};

/* ---- wildcard matching ---- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

bool vig_wildcard_match(const char *pat, const char *s, size_t n)
{
	size_t plen = strlen(pat), p = 0, i = 0, star_p = SIZE_MAX, star_i = 0;

	while (i < n) {
		if (p < plen && pat[p] == '*') {
			star_p = ++p;
			star_i = i;
			continue;
		}
		if (p < plen) {
			char c = pat[p];
			size_t step = 1;

			if (c == '\\' && p + 1 < plen) {
				c = pat[p + 1];
				step = 2;
			} else if (c == '?') {
				p++;
				i++;
				continue;
			}
			if (lower((unsigned char)c) == lower((unsigned char)s[i])) {
				p += step;
				i++;
				continue;
			}
		}
		if (star_p == SIZE_MAX)
			return false;
		p = star_p; /* let the last star take one more byte */
		i = ++star_i;
	}
	while (p < plen && pat[p] == '*')
		p++;
	return p == plen;
}

/* ---- condition sets ---- */

static bool field_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > VIG_EVENT_MAX_KEY || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '.' || *s == '-' || *s == '@'))
			return false;
	return true;
}

void vig_condset_release(struct vig_condset *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n; i++) {
		for (size_t k = 0; k < cs->conds[i].n_values; k++)
			free(cs->conds[i].values[k]);
		free(cs->conds[i].values);
		free(cs->conds[i].field);
	}
	free(cs->conds);
	cs->conds = NULL;
	cs->n = 0;
}

/* Checks one JSON value of a condition; false with errbuf set. */
static bool value_ok(const char *field, const json_t *v, char *errbuf)
{
	if (!json_is_string(v)) {
		vig_errf(errbuf, VIG_EINVAL, "conditions: field '%s': values must be strings", field);
		return false;
	}
	if (json_string_length(v) == 0 || json_string_length(v) > VIG_COND_VALUE_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		vig_errf(errbuf, VIG_EINVAL,
			 "conditions: field '%s': a value must be 1 to %d bytes without NUL", field,
			 VIG_COND_VALUE_MAX);
		return false;
	}
	return true;
}

enum vig_err vig_condset_from_json(const json_t *obj, struct vig_condset *out, char *errbuf)
{
	const char *key;
	json_t *v;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return vig_errf(errbuf, VIG_EINVAL, "conditions: expected an object of field: value");
	n = json_object_size(obj);
	if (n == 0 || n > VIG_COND_MAX_FIELDS)
		return vig_errf(errbuf, VIG_EINVAL, "conditions: expected 1 to %d fields",
				VIG_COND_MAX_FIELDS);
	out->conds = calloc(n, sizeof(*out->conds));
	if (!out->conds)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	json_object_foreach((json_t *)obj, key, v) {
		struct vig_cond *c = &out->conds[out->n];
		size_t nv = json_is_array(v) ? json_array_size(v) : 1;

		if (!field_name_ok(key)) {
			vig_errf(errbuf, VIG_EINVAL, "conditions: '%.64s' is not a field name", key);
			goto out_bad;
		}
		if (nv == 0 || nv > VIG_COND_MAX_VALUES) {
			vig_errf(errbuf, VIG_EINVAL, "conditions: field '%s': expected 1 to %d values",
				 key, VIG_COND_MAX_VALUES);
			goto out_bad;
		}
		c->field = strdup(key);
		c->values = calloc(nv, sizeof(char *));
		out->n++;
		if (!c->field || !c->values)
			goto out_nomem;
		for (size_t i = 0; i < nv; i++) {
			const json_t *item = json_is_array(v) ? json_array_get(v, i) : v;

			if (!value_ok(key, item, errbuf))
				goto out_bad;
			c->values[i] = strdup(json_string_value(item));
			if (!c->values[i])
				goto out_nomem;
			c->n_values++;
		}
	}
	return VIG_OK;
out_nomem:
	vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	vig_condset_release(out);
	return VIG_ENOMEM;
out_bad:
	vig_condset_release(out);
	return VIG_EINVAL;
}

json_t *vig_condset_to_json(const struct vig_condset *cs)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < cs->n; i++) {
		json_t *a = json_array();

		for (size_t k = 0; a && k < cs->conds[i].n_values; k++)
			json_array_append_new(a, json_string(cs->conds[i].values[k]));
		json_object_set_new(o, cs->conds[i].field, a);
	}
	return o;
}

static bool cond_match_text(const struct vig_cond *c, const char *s, size_t n)
{
	for (size_t k = 0; k < c->n_values; k++)
		if (vig_wildcard_match(c->values[k], s, n))
			return true;
	return false;
}

static bool cond_match(const struct vig_cond *c, const struct vig_event *ev)
{
	const struct vig_val *v = vig_event_get_by_name(ev, c->field, strlen(c->field));
	const char *direct = NULL;
	char buf[VIG_COND_VALUE_MAX + 64];
	size_t n;

	if (!v)
		return false;
	if (v->type == VIG_T_LIST) {
		for (uint32_t i = 0; i < v->n; i++)
			if (cond_match_text(c, v->u.l[i].p, v->u.l[i].len))
				return true;
		return false;
	}
	n = vig_val_text(v, buf, sizeof(buf), &direct);
	if (!direct && n >= sizeof(buf))
		return false; /* longer than any value could match exactly: only '*' could, rare */
	return cond_match_text(c, direct ? direct : buf, n);
}

bool vig_condset_match(const struct vig_condset *cs, const struct vig_event *ev)
{
	if (cs->n == 0)
		return false;
	for (size_t i = 0; i < cs->n; i++)
		if (!cond_match(&cs->conds[i], ev))
			return false;
	return true;
}

/* ---- stored entries ---- */

void vig_policy_entry_release(struct vig_policy_entry *e)
{
	if (!e)
		return;
	vig_condset_release(&e->conds);
	free(e->reason);
	e->reason = NULL;
}

static bool rule_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VIG_ALERT_RULE_ID_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

enum vig_err vig_policy_entry_from_json(enum vig_policy_kind kind, const json_t *body,
					int64_t now, struct vig_policy_entry *e, char *errbuf)
{
	const json_t *reason = json_object_get(body, "reason");
	const json_t *rule = json_object_get(body, "rule_id");
	const json_t *until = json_object_get(body, "until");
	enum vig_err err;

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (reason && !json_is_string(reason))
		return vig_errf(errbuf, VIG_EINVAL, "reason: expected a string");
	if (reason && json_string_length(reason) > VIG_POLICY_REASON_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "reason: longer than %d bytes",
				VIG_POLICY_REASON_MAX);
	if (kind == VIG_POLICY_SUPPRESSION) {
		if (rule && !json_is_null(rule) &&
		    (!json_is_string(rule) || !rule_id_ok(json_string_value(rule))))
			return vig_errf(errbuf, VIG_EINVAL, "rule_id: expected a rule id or null");
		if (json_is_string(rule))
			snprintf(e->rule_id, sizeof(e->rule_id), "%s", json_string_value(rule));
		if (json_is_integer(until))
			e->until = json_integer_value(until) * VIG_NS_PER_SEC;
		else if (!json_is_string(until) ||
			 !vig_time_parse(json_string_value(until), json_string_length(until),
					 &e->until))
			return vig_errf(errbuf, VIG_EINVAL,
					"until: expected RFC 3339 or epoch seconds");
		if (e->until <= now)
			return vig_errf(errbuf, VIG_EINVAL, "until: must be in the future");
	}
	err = vig_condset_from_json(json_object_get(body, "conditions"), &e->conds, errbuf);
	if (err != VIG_OK)
		return err;
	e->reason = strdup(reason ? json_string_value(reason) : "");
	if (!e->reason) {
		vig_policy_entry_release(e);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	return VIG_OK;
}

enum vig_err vig_policy_entry_create(struct vig_db *db, const struct vig_principal *who,
				     struct vig_policy_entry *e, char *errbuf)
{
	char sql[256];
	json_t *cj;
	char *ctext;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	sqlite3 *h;

	if (!vig_principal_can_access_tenant(who, e->tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant not accessible");
	if (e->kind == VIG_POLICY_EXCEPTION && !rule_id_ok(e->rule_id))
		return vig_errf(errbuf, VIG_EINVAL, "rule id: expected 1 to %d bytes",
				VIG_ALERT_RULE_ID_MAX - 1);
	cj = vig_condset_to_json(&e->conds);
	ctext = cj ? json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(cj);
	if (!ctext)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	e->created = vig_time_now();
	snprintf(e->created_by, sizeof(e->created_by), "%s", who->username);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO %s (tenant_id, rule_id, conditions, until, reason, created_by, created) "
		 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
		 TABLES[e->kind]);
	h = vig_db_lock(db);
	st = vig_db_stmt(h, errbuf, sql, "tttitti", e->tenant, e->rule_id, ctext, e->until,
			 e->reason ? e->reason : "", e->created_by, e->created);
	if (!st)
		err = VIG_EIO;
	else if (sqlite3_step(st) != SQLITE_DONE)
		err = (sqlite3_errcode(h) & 0xff) == SQLITE_CONSTRAINT
			      ? vig_errf(errbuf, VIG_ENOTFOUND, "no such tenant")
			      : vig_db_fail(h, errbuf);
	else
		e->id = sqlite3_last_insert_rowid(h);
	sqlite3_finalize(st);
	vig_db_unlock(db);
	free(ctext);
	return err;
}

/* Reads one row (columns id, tenant_id, rule_id, conditions, until, reason, created_by,
 * created) into e; a row whose conditions no longer parse gets an empty set (matches
 * nothing). */
static enum vig_err row_read(sqlite3_stmt *st, enum vig_policy_kind kind,
			     struct vig_policy_entry *e)
{
	const char *t;
	json_t *cj;
	char errbuf[VIG_ERRBUF_SIZE];

	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->id = sqlite3_column_int64(st, 0);
	t = (const char *)sqlite3_column_text(st, 1);
	snprintf(e->tenant, sizeof(e->tenant), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(st, 2);
	snprintf(e->rule_id, sizeof(e->rule_id), "%s", t ? t : "");
	t = (const char *)sqlite3_column_text(st, 3);
	cj = t ? json_loads(t, 0, NULL) : NULL;
	if (cj && vig_condset_from_json(cj, &e->conds, errbuf) != VIG_OK)
		memset(&e->conds, 0, sizeof(e->conds));
	json_decref(cj);
	e->until = sqlite3_column_int64(st, 4);
	t = (const char *)sqlite3_column_text(st, 5);
	e->reason = strdup(t ? t : "");
	t = (const char *)sqlite3_column_text(st, 6);
	snprintf(e->created_by, sizeof(e->created_by), "%s", t ? t : "");
	e->created = sqlite3_column_int64(st, 7);
	return e->reason ? VIG_OK : VIG_ENOMEM;
}

#define ENTRY_COLS "id, tenant_id, rule_id, conditions, until, reason, created_by, created"

/* Reads rows of an already bound statement into a new array (at most max rows). */
static enum vig_err read_rows(sqlite3 *h, sqlite3_stmt *st, enum vig_policy_kind kind, size_t max,
			      struct vig_policy_entry **out, size_t *n, char *errbuf)
{
	struct vig_policy_entry *list = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			void *p = realloc(list, nc * sizeof(*list));

			if (!p)
				goto out_nomem;
			list = p;
			cap = nc;
		}
		if (row_read(st, kind, &list[*n]) != VIG_OK) {
			vig_policy_entry_release(&list[*n]);
			goto out_nomem;
		}
		(*n)++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		vig_policy_entry_list_free(list, *n);
		*n = 0;
		return vig_errf(errbuf, VIG_EIO, "policy db: %s", sqlite3_errmsg(h));
	}
	*out = list;
	return VIG_OK;
out_nomem:
	vig_policy_entry_list_free(list, *n);
	*n = 0;
	return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_policy_entry_load_all(struct vig_db *db, enum vig_policy_kind kind, int64_t now,
				       size_t max, struct vig_policy_entry **out, size_t *n,
				       char *errbuf)
{
	char sql[256];
	sqlite3_stmt *st;
	enum vig_err err;
	sqlite3 *h;

	snprintf(sql, sizeof(sql), "SELECT " ENTRY_COLS " FROM %s WHERE ?1 = 0 OR until > ?1 ORDER BY id",
		 TABLES[kind]);
	h = vig_db_lock(db);
	st = vig_db_stmt(h, errbuf, sql, "i", kind == VIG_POLICY_SUPPRESSION ? now : (int64_t)0);
	err = st ? read_rows(h, st, kind, max, out, n, errbuf) : VIG_EIO;
	sqlite3_finalize(st);
	vig_db_unlock(db);
	return err;
}

enum vig_err vig_policy_entry_list(struct vig_db *db, const struct vig_principal *who,
				   enum vig_policy_kind kind, const char *tenant,
				   const char *rule_id, bool include_expired, int64_t now,
				   struct vig_policy_entry **out, size_t *n, char *errbuf)
{
	const char *scope = NULL;
	char sql[384];
	sqlite3_stmt *st;
	enum vig_err err;
	sqlite3 *h;

	*out = NULL;
	*n = 0;
	err = vig_principal_scope(who, tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	snprintf(sql, sizeof(sql),
		 "SELECT " ENTRY_COLS " FROM %s WHERE (?1 IS NULL OR tenant_id = ?1) AND "
		 "(?2 IS NULL OR rule_id = ?2) AND (?3 = 0 OR until > ?3) ORDER BY id DESC LIMIT %d",
		 TABLES[kind], ENTRY_LIST_MAX);
	h = vig_db_lock(db);
	st = vig_db_stmt(h, errbuf, sql, "tti", scope, rule_id,
			 kind == VIG_POLICY_SUPPRESSION && !include_expired ? now : (int64_t)0);
	err = st ? read_rows(h, st, kind, ENTRY_LIST_MAX, out, n, errbuf) : VIG_EIO;
	sqlite3_finalize(st);
	vig_db_unlock(db);
	return err;
}

void vig_policy_entry_list_free(struct vig_policy_entry *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		vig_policy_entry_release(&list[i]);
	free(list);
}

enum vig_err vig_policy_entry_delete(struct vig_db *db, const struct vig_principal *who,
				     enum vig_policy_kind kind, int64_t id,
				     struct vig_policy_entry *before, char *errbuf)
{
	struct vig_policy_entry *rows = NULL;
	char sql[160];
	sqlite3_stmt *st;
	enum vig_err err;
	size_t n = 0;
	sqlite3 *h;

	snprintf(sql, sizeof(sql), "SELECT " ENTRY_COLS " FROM %s WHERE id = ?1", TABLES[kind]);
	h = vig_db_lock(db);
	st = vig_db_stmt(h, errbuf, sql, "i", id);
	err = st ? read_rows(h, st, kind, 1, &rows, &n, errbuf) : VIG_EIO;
	sqlite3_finalize(st);
	if (err != VIG_OK)
		goto out_unlock;
	if (n == 0 || !vig_principal_can_access_tenant(who, rows[0].tenant)) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such %s",
			       kind == VIG_POLICY_SUPPRESSION ? "suppression" : "exception");
		goto out_unlock;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?1", TABLES[kind]);
	err = vig_db_do(h, errbuf, sql, "i", id);
out_unlock:
	vig_db_unlock(db);
	if (err == VIG_OK && before) {
		*before = rows[0];
		n--; /* moved out */
		memmove(rows, rows + 1, n * sizeof(*rows));
	}
	vig_policy_entry_list_free(rows, n);
	return err;
}

json_t *vig_policy_entry_to_json(const struct vig_policy_entry *e, uint64_t hits)
{
	char created[VIG_TIME_STRLEN], until[VIG_TIME_STRLEN];
	json_t *o;

	vig_time_format(e->created, created);
	o = json_pack("{s:I,s:s,s:s?,s:o,s:s,s:s,s:s,s:I}", "id", (json_int_t)e->id, "tenant",
		      e->tenant, "rule_id", e->rule_id[0] ? e->rule_id : NULL, "conditions",
		      vig_condset_to_json(&e->conds), "reason", e->reason ? e->reason : "",
		      "created_by", e->created_by, "created", created, "hits", (json_int_t)hits);
	if (o && e->kind == VIG_POLICY_SUPPRESSION) {
		vig_time_format(e->until, until);
		json_object_set_new(o, "until", json_string(until));
	}
	return o;
}
