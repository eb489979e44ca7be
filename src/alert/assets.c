/*
 * assets.c - the asset inventory that alert severity reads: criticality names, the severity
 * rule (policy.h), and tenant-scoped create / list / get / update / delete of the control DB's
 * `assets` table.
 *
 * An asset is keyed by (tenant, hostname) (the table's UNIQUE constraint); an asset created
 * with an address only is stored under its address as hostname, so that it still has a key
 * and shows up by it. Tags are a JSON array of strings kept as text. Every function checks
 * the caller's tenant access itself: another tenant's asset is VIG_ENOTFOUND, like a missing
 * one.
 */
#include "alert/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

static const char *const CRIT_NAMES[VIG_CRIT__COUNT] = {"low", "medium", "high", "critical"};

#define ASSET_COLS "id, tenant_id, hostname, ip, criticality, owner, tags, created, updated"

const char *vig_crit_name(enum vig_crit c)
{
	return (unsigned)c < VIG_CRIT__COUNT ? CRIT_NAMES[c] : "unknown";
}

bool vig_crit_parse(const char *s, enum vig_crit *out)
{
	for (int i = 0; i < VIG_CRIT__COUNT; i++)
		if (strcmp(s, CRIT_NAMES[i]) == 0) {
			*out = (enum vig_crit)i;
			return true;
		}
	return false;
}

enum vig_alert_severity vig_severity_for_asset(enum vig_alert_severity s, enum vig_crit c)
{
	int raised = (int)s + (c == VIG_CRIT_CRITICAL ? 2 : c == VIG_CRIT_HIGH ? 1 : 0);

	if ((unsigned)s >= VIG_ALERT_SEV__COUNT)
		return VIG_ALERT_SEV_MEDIUM;
	return raised > VIG_ALERT_SEV_CRITICAL ? VIG_ALERT_SEV_CRITICAL
					       : (enum vig_alert_severity)raised;
}

void vig_asset_release(struct vig_asset *a)
{
	if (!a)
		return;
	free(a->tags);
	a->tags = NULL;
}

json_t *vig_asset_to_json(const struct vig_asset *a)
{
	char created[VIG_TIME_STRLEN], updated[VIG_TIME_STRLEN];
	json_t *tags = a->tags ? json_loads(a->tags, 0, NULL) : NULL;

	if (!json_is_array(tags)) {
		json_decref(tags);
		tags = json_array();
	}
	vig_time_format(a->created, created);
	vig_time_format(a->updated, updated);
	return json_pack("{s:I,s:s,s:s,s:s?,s:s,s:s?,s:o,s:s,s:s}", "id", (json_int_t)a->id,
			 "tenant", a->tenant, "hostname", a->hostname, "ip",
			 a->ip[0] ? a->ip : NULL, "criticality", vig_crit_name(a->criticality),
			 "owner", a->owner[0] ? a->owner : NULL, "tags", tags, "created", created,
			 "updated", updated);
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", t ? t : "");
}

static enum vig_err row_read(sqlite3_stmt *st, struct vig_asset *a)
{
	const char *t;
	char crit[16];

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, a->tenant, sizeof(a->tenant));
	col_copy(st, 2, a->hostname, sizeof(a->hostname));
	col_copy(st, 3, a->ip, sizeof(a->ip));
	col_copy(st, 4, crit, sizeof(crit));
	if (!vig_crit_parse(crit, &a->criticality))
		a->criticality = VIG_CRIT_MEDIUM;
	col_copy(st, 5, a->owner, sizeof(a->owner));
	t = (const char *)sqlite3_column_text(st, 6);
	if (t) {
		a->tags = strdup(t);
		if (!a->tags)
			return VIG_ENOMEM;
	}
	a->created = sqlite3_column_int64(st, 7);
	a->updated = sqlite3_column_int64(st, 8);
	return VIG_OK;
}

/* Checks the text fields of f; *tags_text gets the tags as JSON text (malloc'ed) or NULL. */
static enum vig_err fields_check(const struct vig_asset_fields *f, char **tags_text, char *errbuf)
{
	uint8_t ip[16];

	*tags_text = NULL;
	if (f->hostname && (!f->hostname[0] || strlen(f->hostname) >= VIG_ASSET_TEXT_MAX))
		return vig_errf(errbuf, VIG_EINVAL, "hostname: expected 1 to %d bytes",
				VIG_ASSET_TEXT_MAX - 1);
	if (f->ip && f->ip[0] && !vig_ip_parse(f->ip, strlen(f->ip), ip))
		return vig_errf(errbuf, VIG_EINVAL, "ip: not an address");
	if (f->owner && strlen(f->owner) >= VIG_ASSET_TEXT_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "owner: longer than %d bytes",
				VIG_ASSET_TEXT_MAX - 1);
	if (f->tags) {
		size_t i;
		json_t *v;

		if (!json_is_array(f->tags) || json_array_size(f->tags) > VIG_ASSET_MAX_TAGS)
			return vig_errf(errbuf, VIG_EINVAL, "tags: expected at most %d strings",
					VIG_ASSET_MAX_TAGS);
		json_array_foreach((json_t *)f->tags, i, v)
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 64)
				return vig_errf(errbuf, VIG_EINVAL,
						"tags: each tag is a string of 1 to 64 bytes");
		*tags_text = json_dumps(f->tags, JSON_COMPACT);
		if (!*tags_text)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	return VIG_OK;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s && s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Reads asset id with the lock held; VIG_ENOTFOUND when absent or invisible to who. */
static enum vig_err get_locked(sqlite3 *h, const struct vig_principal *who, int64_t id,
			       struct vig_asset *out, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(h, "SELECT " ASSET_COLS " FROM assets WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		err = row_read(st, out);
		if (err == VIG_OK && !vig_principal_can_access_tenant(who, out->tenant)) {
			vig_asset_release(out);
			err = VIG_ENOTFOUND;
		}
	} else {
		err = rc == SQLITE_DONE ? VIG_ENOTFOUND : VIG_EIO;
	}
	if (err == VIG_ENOTFOUND)
		vig_errf(errbuf, err, "no such asset");
	else if (err != VIG_OK)
		vig_errf(errbuf, err, "asset db: %s", sqlite3_errmsg(h));
out:
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_asset_create(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			      const struct vig_asset_fields *f, struct vig_asset *out, char *errbuf)
{
	const char *host = f->hostname ? f->hostname : f->ip;
	enum vig_crit crit = f->criticality ? *f->criticality : VIG_CRIT_MEDIUM;
	int64_t now = vig_time_now(), id = 0;
	sqlite3_stmt *st = NULL;
	char *tags = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc;

	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant not accessible");
	if (!host || !host[0])
		return vig_errf(errbuf, VIG_EINVAL, "expected hostname and/or ip");
	if ((unsigned)crit >= VIG_CRIT__COUNT)
		return vig_errf(errbuf, VIG_EINVAL, "criticality: expected low, medium, high or critical");
	err = fields_check(f, &tags, errbuf);
	if (err != VIG_OK)
		return err;
	h = vig_db_lock(db);
	rc = sqlite3_prepare_v2(h,
				"INSERT INTO assets (tenant_id, hostname, ip, criticality, owner, tags, "
				"created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
		bind_opt(st, 3, f->ip);
		sqlite3_bind_text(st, 4, vig_crit_name(crit), -1, SQLITE_STATIC);
		bind_opt(st, 5, f->owner);
		sqlite3_bind_text(st, 6, tags ? tags : "[]", -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, now);
		rc = sqlite3_step(st);
		id = sqlite3_last_insert_rowid(h);
	}
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST,
			       "an asset with this hostname exists in the tenant (or no such tenant)");
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
	else if (out)
		err = get_locked(h, who, id, out, errbuf);
	vig_db_unlock(db);
	free(tags);
	return err;
}

enum vig_err vig_asset_list(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			    size_t limit, struct vig_asset **out, size_t *n, char *errbuf)
{
	struct vig_asset *list = NULL;
	const char *scope = NULL;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	size_t cap = 0;
	sqlite3 *h;
	int rc = SQLITE_ERROR;

	*out = NULL;
	*n = 0;
	err = vig_principal_scope(who, tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	if (limit == 0 || limit > VIG_ASSET_LIST_MAX)
		limit = VIG_ASSET_LIST_MAX;
	h = vig_db_lock(db);
	if (sqlite3_prepare_v2(h,
			       "SELECT " ASSET_COLS " FROM assets WHERE (?1 IS NULL OR tenant_id = ?1) "
			       "ORDER BY tenant_id, hostname LIMIT ?2",
			       -1, &st, NULL) == SQLITE_OK) {
		if (scope)
			sqlite3_bind_text(st, 1, scope, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, (int64_t)limit);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (*n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				void *p = realloc(list, nc * sizeof(*list));

				if (!p) {
					err = VIG_ENOMEM;
					break;
				}
				list = p;
				cap = nc;
			}
			if (row_read(st, &list[*n]) != VIG_OK) {
				vig_asset_release(&list[*n]);
				err = VIG_ENOMEM;
				break;
			}
			(*n)++;
		}
	}
	if (err == VIG_OK && rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
	else if (err == VIG_ENOMEM)
		vig_errf(errbuf, err, "out of memory");
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		vig_asset_list_free(list, *n);
		*n = 0;
		return err;
	}
	*out = list;
	return VIG_OK;
}

void vig_asset_list_free(struct vig_asset *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		vig_asset_release(&list[i]);
	free(list);
}

enum vig_err vig_asset_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   struct vig_asset *out, char *errbuf)
{
	enum vig_err err = get_locked(vig_db_lock(db), who, id, out, errbuf);

	vig_db_unlock(db);
	return err;
}

enum vig_err vig_asset_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const struct vig_asset_fields *f, struct vig_asset *before,
			      struct vig_asset *after, char *errbuf)
{
	struct vig_asset old;
	sqlite3_stmt *st = NULL;
	char *tags = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc;

	err = fields_check(f, &tags, errbuf);
	if (err != VIG_OK)
		return err;
	if (f->criticality && (unsigned)*f->criticality >= VIG_CRIT__COUNT) {
		free(tags);
		return vig_errf(errbuf, VIG_EINVAL, "criticality: expected low, medium, high or critical");
	}
	h = vig_db_lock(db);
	err = get_locked(h, who, id, &old, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	rc = sqlite3_prepare_v2(h,
				"UPDATE assets SET hostname = coalesce(?2, hostname), "
				"ip = CASE WHEN ?3 IS NULL THEN ip WHEN ?3 = '' THEN NULL ELSE ?3 END, "
				"criticality = coalesce(?4, criticality), "
				"owner = CASE WHEN ?5 IS NULL THEN owner WHEN ?5 = '' THEN NULL ELSE ?5 END, "
				"tags = coalesce(?6, tags), updated = ?7 WHERE id = ?1",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (f->hostname)
			sqlite3_bind_text(st, 2, f->hostname, -1, SQLITE_TRANSIENT);
		if (f->ip)
			sqlite3_bind_text(st, 3, f->ip, -1, SQLITE_TRANSIENT);
		if (f->criticality)
			sqlite3_bind_text(st, 4, vig_crit_name(*f->criticality), -1, SQLITE_STATIC);
		if (f->owner)
			sqlite3_bind_text(st, 5, f->owner, -1, SQLITE_TRANSIENT);
		if (tags)
			sqlite3_bind_text(st, 6, tags, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 7, vig_time_now());
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST, "an asset with this hostname exists in the tenant");
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
	else if (after)
		err = get_locked(h, who, id, after, errbuf);
	if (err == VIG_OK && before)
		before[0] = old;
	else
		vig_asset_release(&old);
out_unlock:
	vig_db_unlock(db);
	free(tags);
	return err;
}

enum vig_err vig_asset_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      struct vig_asset *before, char *errbuf)
{
	struct vig_asset old;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h = vig_db_lock(db);

	err = get_locked(h, who, id, &old, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	if (sqlite3_prepare_v2(h, "DELETE FROM assets WHERE id = ?1", -1, &st, NULL) != SQLITE_OK ||
	    (sqlite3_bind_int64(st, 1, id), sqlite3_step(st)) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	if (err == VIG_OK && before)
		*before = old;
	else
		vig_asset_release(&old);
out_unlock:
	vig_db_unlock(db);
	return err;
}
