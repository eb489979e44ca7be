/*
 * alert.c - alert records in the control DB: severity and status names, ATT&CK technique
 * extraction, the dedupe key, JSON encoding, the per-batch insert-or-bump transaction and the
 * tenant-scoped list / get / update used by the API.
 *
 * Insert-or-bump (vig_alert_tx_record): look up the newest non-closed alert of (tenant,
 * dedupe_key) whose first_seen lies within the window (index alerts_dedupe); found → UPDATE
 * count, last_seen, event_ids (only while fewer than VIG_ALERT_MAX_EVENT_IDS are kept, so a hot
 * alert costs no JSON work), data (only when the publish time moves); not found → INSERT.
 * The transaction object keeps its prepared statements for the whole batch.
 */
#include "alert/alert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/vtime.h"

static const char *const SEV_NAMES[VIG_ALERT_SEV__COUNT] = {"informational", "low", "medium",
							    "high", "critical"};
static const char *const STATUS_NAMES[VIG_ALERT_STATUS__COUNT] = {"open", "acknowledged", "closed"};

#define ALERT_COLUMNS                                                                              \
	"id, tenant_id, rule_id, severity, status, count, first_seen, last_seen, title, host, user, " \
	"event_ids, data, incident_id"

const char *vig_alert_severity_name(enum vig_alert_severity s)
{
	return (unsigned)s < VIG_ALERT_SEV__COUNT ? SEV_NAMES[s] : "unknown";
}

enum vig_alert_severity vig_alert_severity_of_level(const char *level)
{
	enum vig_alert_severity s;

	return level && vig_alert_severity_parse(level, &s) ? s : VIG_ALERT_SEV_MEDIUM;
}

bool vig_alert_severity_parse(const char *s, enum vig_alert_severity *out)
{
	for (int i = 0; i < VIG_ALERT_SEV__COUNT; i++)
		if (strcmp(s, SEV_NAMES[i]) == 0) {
			*out = (enum vig_alert_severity)i;
			return true;
		}
	return false;
}

const char *vig_alert_status_name(enum vig_alert_status s)
{
	return (unsigned)s < VIG_ALERT_STATUS__COUNT ? STATUS_NAMES[s] : "unknown";
}

bool vig_alert_status_parse(const char *s, enum vig_alert_status *out)
{
	if (strcmp(s, "new") == 0) {
		*out = VIG_ALERT_OPEN;
		return true;
	}
	for (int i = 0; i < VIG_ALERT_STATUS__COUNT; i++)
		if (strcmp(s, STATUS_NAMES[i]) == 0) {
			*out = (enum vig_alert_status)i;
			return true;
		}
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

size_t vig_alert_techniques(const char *const *tags, size_t n_tags,
			    char out[][VIG_ALERT_TECHNIQUE_MAX], size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < n_tags && n < cap; i++) {
		const char *t = tags[i];
		char id[VIG_ALERT_TECHNIQUE_MAX];
		bool dup = false;
		size_t len;

		if (!t || strncmp(t, "attack.", 7) != 0)
			continue;
		t += 7;
		if ((t[0] != 't' && t[0] != 'T') || !is_digit(t[1]) || !is_digit(t[2]) ||
		    !is_digit(t[3]) || !is_digit(t[4]))
			continue;
		len = 5;
		if (t[5] == '.') {
			if (!is_digit(t[6]) || !is_digit(t[7]) || !is_digit(t[8]) || t[9] != '\0')
				continue;
			len = 9;
		} else if (t[5] != '\0') {
			continue;
		}
		memcpy(id, t, len);
		id[len] = '\0';
		id[0] = 'T';
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(out[k], id) == 0;
		if (!dup)
			memcpy(out[n++], id, len + 1);
	}
	return n;
}

enum vig_err vig_alert_dedupe_key(const struct vig_alert_match *m, char key[VIG_ALERT_KEY_MAX],
				  const char **entity_field, const char **entity, char *errbuf)
{
	const char *f = "", *v = "";
	int len;

	if (!m->tenant || !m->tenant[0] || !m->rule_id || !m->rule_id[0])
		return vig_errf(errbuf, VIG_EINVAL, "alert: tenant and rule id are required");
	if (m->host && m->host[0]) {
		f = "host.name";
		v = m->host;
	} else if (m->user && m->user[0]) {
		f = "user.name";
		v = m->user;
	} else if (m->source_ip && m->source_ip[0]) {
		f = "source.ip";
		v = m->source_ip;
	}
	/* length-prefixed parts: no separator inside a value can make two keys collide */
	len = snprintf(key, VIG_ALERT_KEY_MAX, "%zu:%s|%zu:%s|%s=%zu:%s", strlen(m->rule_id), m->rule_id,
		       strlen(m->tenant), m->tenant, f, strlen(v), v);
	if (len < 0 || len >= VIG_ALERT_KEY_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "alert: dedupe key longer than %d bytes",
				VIG_ALERT_KEY_MAX - 1);
	if (entity_field)
		*entity_field = f;
	if (entity)
		*entity = v;
	return VIG_OK;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

json_t *vig_alert_to_json(const struct vig_alert *a)
{
	char first[VIG_TIME_STRLEN], last[VIG_TIME_STRLEN];
	json_t *o, *tech, *ids = NULL;

	vig_time_format(a->first_seen, first);
	vig_time_format(a->last_seen, last);
	tech = json_array();
	for (size_t i = 0; tech && i < a->n_techniques; i++)
		json_array_append_new(tech, json_string(a->techniques[i]));
	if (a->event_ids)
		ids = json_loads(a->event_ids, 0, NULL);
	if (!ids || !json_is_array(ids)) {
		json_decref(ids);
		ids = json_array();
	}
	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:s?,s:s?,s:{s:s?,s:s?},s:s?,s:o,s:o}",
		      "id", (json_int_t)a->id, "tenant", a->tenant, "rule_id", a->rule_id, "title",
		      a->title, "severity", vig_alert_severity_name(a->severity), "status",
		      vig_alert_status_name(a->status), "count", (json_int_t)a->count, "first_seen",
		      first, "last_seen", last, "host", a->host[0] ? a->host : NULL, "user",
		      a->user[0] ? a->user : NULL, "entity", "field",
		      a->entity_field[0] ? a->entity_field : NULL, "value",
		      a->entity_field[0] ? a->entity : NULL, "assignee",
		      a->assignee[0] ? a->assignee : NULL, "techniques", tech, "event_ids", ids);
	if (o)
		json_object_set_new(o, "incident_id", a->incident_id ? json_integer(a->incident_id) : json_null());
	return o;
}

void vig_alert_release(struct vig_alert *a)
{
	if (!a)
		return;
	free(a->event_ids);
	a->event_ids = NULL;
}

/* The data column: {"techniques":[...],"entity":{"field","value"},"assignee","published",
 * "event_time"} (event_time only when known). */
static char *data_json(const struct vig_alert *a, int64_t published)
{
	json_t *tech = json_array(), *o;
	char *s;

	for (size_t i = 0; tech && i < a->n_techniques; i++)
		json_array_append_new(tech, json_string(a->techniques[i]));
	o = json_pack("{s:o*,s:{s:s,s:s},s:s,s:I}", "techniques", tech, "entity", "field",
		      a->entity_field, "value", a->entity, "assignee", a->assignee, "published",
		      (json_int_t)published);
	if (!o)
		return NULL;
	if (a->event_time > 0)
		json_object_set_new(o, "event_time", json_integer(a->event_time));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* Fills the data-derived fields of a; *published gets the last publish time. */
static void data_parse(struct vig_alert *a, const char *text, int64_t *published)
{
	json_t *o = text ? json_loads(text, 0, NULL) : NULL, *v;
	size_t i;

	*published = 0;
	if (!json_is_object(o))
		goto out;
	json_array_foreach(json_object_get(o, "techniques"), i, v)
	{
		if (a->n_techniques < VIG_ALERT_MAX_TECHNIQUES && json_is_string(v))
			copy_str(a->techniques[a->n_techniques++], VIG_ALERT_TECHNIQUE_MAX,
				 json_string_value(v));
	}
	v = json_object_get(o, "entity");
	copy_str(a->entity_field, sizeof(a->entity_field),
		 json_string_value(json_object_get(v, "field")));
	copy_str(a->entity, sizeof(a->entity), json_string_value(json_object_get(v, "value")));
	copy_str(a->assignee, sizeof(a->assignee), json_string_value(json_object_get(o, "assignee")));
	*published = json_integer_value(json_object_get(o, "published"));
	a->event_time = json_integer_value(json_object_get(o, "event_time"));
out:
	json_decref(o);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

/* Reads one row selected with ALERT_COLUMNS. */
static enum vig_err row_read(sqlite3_stmt *st, struct vig_alert *a, int64_t *published,
			     char *errbuf)
{
	int64_t pub;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	copy_str(a->tenant, sizeof(a->tenant), col_text(st, 1));
	copy_str(a->rule_id, sizeof(a->rule_id), col_text(st, 2));
	a->severity = vig_alert_severity_of_level(col_text(st, 3));
	if (!vig_alert_status_parse(col_text(st, 4), &a->status))
		a->status = VIG_ALERT_OPEN;
	a->count = sqlite3_column_int64(st, 5);
	a->first_seen = sqlite3_column_int64(st, 6);
	a->last_seen = sqlite3_column_int64(st, 7);
	copy_str(a->title, sizeof(a->title), col_text(st, 8));
	copy_str(a->host, sizeof(a->host), col_text(st, 9));
	copy_str(a->user, sizeof(a->user), col_text(st, 10));
	if (sqlite3_column_type(st, 11) == SQLITE_TEXT) {
		a->event_ids = strdup(col_text(st, 11));
		if (!a->event_ids)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	data_parse(a, (const char *)sqlite3_column_text(st, 12), &pub);
	a->incident_id = sqlite3_column_type(st, 13) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 13);
	if (published)
		*published = pub;
	return VIG_OK;
}

/* ---- the batch transaction ---- */

struct vig_alert_tx {
	struct vig_db *db;
	sqlite3 *h;
	int64_t window_ns;
	size_t writes;           /* writes since BEGIN */
	sqlite3_stmt *find;      /* newest open alert of a key within the window */
	sqlite3_stmt *insert;
	sqlite3_stmt *bump;
};

static enum vig_err exec(sqlite3 *h, const char *sql, char *errbuf)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
	return VIG_OK;
}

static enum vig_err prepare(sqlite3 *h, const char *sql, sqlite3_stmt **st, char *errbuf)
{
	if (sqlite3_prepare_v2(h, sql, -1, st, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
	return VIG_OK;
}

static void tx_free(struct vig_alert_tx *tx)
{
	sqlite3_finalize(tx->find);
	sqlite3_finalize(tx->insert);
	sqlite3_finalize(tx->bump);
	vig_db_unlock(tx->db);
	free(tx);
}

enum vig_err vig_alert_tx_begin(struct vig_db *db, int64_t window_ns, struct vig_alert_tx **out,
				char *errbuf)
{
	struct vig_alert_tx *tx;
	enum vig_err err;

	*out = NULL;
	if (window_ns <= 0)
		return vig_errf(errbuf, VIG_EINVAL, "alert: the dedupe window must be positive");
	tx = calloc(1, sizeof(*tx));
	if (!tx)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	tx->db = db;
	tx->window_ns = window_ns;
	tx->h = vig_db_lock(db);
	err = prepare(tx->h,
		      "SELECT id, count, event_ids, data FROM alerts WHERE tenant_id = ?1 AND "
		      "dedupe_key = ?2 AND status <> 'closed' AND first_seen > ?3 "
		      "ORDER BY id DESC LIMIT 1",
		      &tx->find, errbuf);
	if (err == VIG_OK)
		err = prepare(tx->h,
			      "INSERT INTO alerts (tenant_id, rule_id, severity, status, dedupe_key, "
			      "count, first_seen, last_seen, title, host, user, event_ids, data) "
			      "VALUES (?1, ?2, ?3, 'open', ?4, 1, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
			      &tx->insert, errbuf);
	if (err == VIG_OK)
		err = prepare(tx->h,
			      "UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?2), "
			      "event_ids = coalesce(?3, event_ids), data = coalesce(?4, data) "
			      "WHERE id = ?1",
			      &tx->bump, errbuf);
	if (err == VIG_OK)
		err = exec(tx->h, "BEGIN IMMEDIATE", errbuf);
	if (err != VIG_OK) {
		tx_free(tx);
		return err;
	}
	*out = tx;
	return VIG_OK;
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
	if (s && s[0])
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* event_ids with id appended when there is room (malloc'ed), or NULL for "unchanged". */
static char *ids_append(const char *ids_text, const char *id)
{
	json_t *arr = ids_text ? json_loads(ids_text, 0, NULL) : NULL;
	char *s = NULL;

	if (!arr)
		arr = json_array();
	if (!json_is_array(arr) || json_array_size(arr) >= VIG_ALERT_MAX_EVENT_IDS)
		goto out;
	json_array_append_new(arr, json_string(id));
	s = json_dumps(arr, JSON_COMPACT);
out:
	json_decref(arr);
	return s;
}

static enum vig_err tx_bump(struct vig_alert_tx *tx, const struct vig_alert_match *m, int64_t now,
			    bool *publish, char *errbuf)
{
	sqlite3_stmt *st = tx->find;
	int64_t id = sqlite3_column_int64(st, 0), count = sqlite3_column_int64(st, 1), pub = 0;
	char *ids = NULL, *data = NULL;
	struct vig_alert a;
	enum vig_err err = VIG_OK;
	int rc;

	if (m->event_id && strlen(m->event_id) < VIG_ALERT_EVENT_ID_MAX &&
	    count < VIG_ALERT_MAX_EVENT_IDS)
		ids = ids_append((const char *)sqlite3_column_text(st, 2), m->event_id);
	memset(&a, 0, sizeof(a));
	data_parse(&a, (const char *)sqlite3_column_text(st, 3), &pub);
	*publish = now - pub >= VIG_ALERT_REPUBLISH_NS;
	if (*publish)
		data = data_json(&a, now);
	sqlite3_reset(st);
	st = tx->bump;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	bind_opt(st, 3, ids);
	bind_opt(st, 4, data);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(tx->h));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	free(ids);
	free(data);
	return err;
}

static enum vig_err tx_insert(struct vig_alert_tx *tx, const struct vig_alert_match *m,
			      const char *key, const char *ef, const char *ev, int64_t now,
			      int64_t *id, char *errbuf)
{
	sqlite3_stmt *st = tx->insert;
	struct vig_alert a;
	char *ids = NULL, *data;
	enum vig_err err = VIG_OK;

	memset(&a, 0, sizeof(a));
	a.n_techniques = vig_alert_techniques(m->tags, m->n_tags, a.techniques,
					      VIG_ALERT_MAX_TECHNIQUES);
	copy_str(a.entity_field, sizeof(a.entity_field), ef);
	copy_str(a.entity, sizeof(a.entity), ev);
	a.event_time = m->event_ns;
	data = data_json(&a, now);
	if (m->event_id && strlen(m->event_id) < VIG_ALERT_EVENT_ID_MAX)
		ids = ids_append(NULL, m->event_id);
	if (!data) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out;
	}
	sqlite3_bind_text(st, 1, m->tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, m->rule_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3,
			  vig_alert_severity_name(m->has_severity ? m->severity
								  : vig_alert_severity_of_level(m->level)),
			  -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_text(st, 6, m->title, (int)strnlen(m->title, VIG_ALERT_TEXT_MAX - 1),
			  SQLITE_TRANSIENT);
	bind_opt(st, 7, m->host);
	bind_opt(st, 8, m->user);
	sqlite3_bind_text(st, 9, ids ? ids : "[]", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 10, data, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(tx->h));
	else
		*id = sqlite3_last_insert_rowid(tx->h);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
out:
	free(ids);
	free(data);
	return err;
}

enum vig_err vig_alert_tx_record(struct vig_alert_tx *tx, const struct vig_alert_match *m,
				 int64_t now, enum vig_alert_outcome *outcome, int64_t *alert_id,
				 bool *publish, char *errbuf)
{
	char key[VIG_ALERT_KEY_MAX];
	const char *ef, *ev;
	sqlite3_stmt *st = tx->find;
	bool pub = false;
	int64_t id = 0;
	enum vig_err err;
	int rc;

	if (!m->title || !m->title[0])
		return vig_errf(errbuf, VIG_EINVAL, "alert: a title is required");
	err = vig_alert_dedupe_key(m, key, &ef, &ev, errbuf);
	if (err != VIG_OK)
		return err;
	if (tx->writes >= VIG_ALERT_TX_MAX) {
		err = exec(tx->h, "COMMIT", errbuf);
		/* let the API (waiting on the DB mutex) in between two chunks */
		vig_db_unlock(tx->db);
		tx->h = vig_db_lock(tx->db);
		if (err == VIG_OK)
			err = exec(tx->h, "BEGIN IMMEDIATE", errbuf);
		if (err != VIG_OK)
			return err;
		tx->writes = 0;
	}
	sqlite3_bind_text(st, 1, m->tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now - tx->window_ns);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(st, 0);
		err = tx_bump(tx, m, now, &pub, errbuf); /* resets find */
		if (outcome)
			*outcome = VIG_ALERT_BUMPED;
	} else if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		err = tx_insert(tx, m, key, ef, ev, now, &id, errbuf);
		pub = true;
		if (outcome)
			*outcome = VIG_ALERT_CREATED;
	} else {
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(tx->h));
		sqlite3_reset(st);
	}
	sqlite3_clear_bindings(tx->find);
	if (err != VIG_OK)
		return err;
	tx->writes++;
	if (alert_id)
		*alert_id = id;
	if (publish)
		*publish = pub;
	return VIG_OK;
}

enum vig_err vig_alert_tx_commit(struct vig_alert_tx *tx, char *errbuf)
{
	enum vig_err err = exec(tx->h, "COMMIT", errbuf);

	if (err != VIG_OK)
		sqlite3_exec(tx->h, "ROLLBACK", NULL, NULL, NULL);
	tx_free(tx);
	return err;
}

void vig_alert_tx_abort(struct vig_alert_tx *tx)
{
	if (!tx)
		return;
	sqlite3_exec(tx->h, "ROLLBACK", NULL, NULL, NULL);
	tx_free(tx);
}

/* ---- reading ---- */

enum vig_err vig_alert_list(struct vig_db *db, const struct vig_principal *who,
			    const struct vig_alert_filter *f, struct vig_alert **out, size_t *n,
			    char *errbuf)
{
	const char *scope = NULL;
	struct vig_alert *rows = NULL;
	sqlite3_stmt *st = NULL;
	int64_t limit = f->limit ? f->limit : 100;
	enum vig_err err;
	size_t k = 0;
	sqlite3 *h;
	int rc;

	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > VIG_ALERT_LIST_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "limit: expected 1..%d", VIG_ALERT_LIST_MAX);
	err = vig_principal_scope(who, f->tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	rows = calloc((size_t)limit, sizeof(*rows));
	if (!rows)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(db);
	/* severity is stored by name: compare by rank through a CASE */
	rc = sqlite3_prepare_v2(
		h,
		"SELECT " ALERT_COLUMNS " FROM alerts WHERE (?1 IS NULL OR tenant_id = ?1) AND "
		"(?2 IS NULL OR status = ?2 OR (?2 = 'open' AND status = 'new')) AND "
		"(?3 IS NULL OR (CASE severity WHEN 'informational' THEN 0 WHEN 'low' THEN 1 "
		"WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE 2 END) >= ?3) AND "
		"(?4 IS NULL OR rule_id = ?4) AND (?5 IS NULL OR host = ?5) AND last_seen >= ?6 "
		"ORDER BY last_seen DESC, id DESC LIMIT ?7",
		-1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	bind_opt(st, 1, scope);
	bind_opt(st, 2, f->has_status ? vig_alert_status_name(f->status) : NULL);
	if (f->has_severity)
		sqlite3_bind_int(st, 3, (int)f->severity);
	bind_opt(st, 4, f->rule_id);
	bind_opt(st, 5, f->host);
	sqlite3_bind_int64(st, 6, f->since);
	sqlite3_bind_int64(st, 7, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < (size_t)limit) {
		err = row_read(st, &rows[k], NULL, errbuf);
		k++;
		if (err != VIG_OK)
			goto out_unlock;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		vig_alert_list_free(rows, k);
		return err;
	}
	*out = rows;
	*n = k;
	return VIG_OK;
}

void vig_alert_list_free(struct vig_alert *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		vig_alert_release(&list[i]);
	free(list);
}

/* Reads alert id with the lock held; ENOTFOUND when absent or not visible to who. */
static enum vig_err get_locked(sqlite3 *h, const struct vig_principal *who, int64_t id,
			       struct vig_alert *out, int64_t *published, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(h, "SELECT " ALERT_COLUMNS " FROM alerts WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (vig_principal_can_access_tenant(who, col_text(st, 1)))
			err = row_read(st, out, published, errbuf);
		else
			err = vig_errf(errbuf, VIG_ENOTFOUND, "no such alert");
	} else if (rc == SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such alert");
	} else {
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
	}
	sqlite3_finalize(st);
	if (err != VIG_OK)
		vig_alert_release(out);
	return err;
}

enum vig_err vig_alert_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			   struct vig_alert *out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	enum vig_err err = get_locked(h, who, id, out, NULL, errbuf);

	vig_db_unlock(db);
	return err;
}

enum vig_err vig_alert_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			      const enum vig_alert_status *status, const char *assignee,
			      struct vig_alert *before, struct vig_alert *after, char *errbuf)
{
	struct vig_alert cur, now_a;
	sqlite3_stmt *st = NULL;
	int64_t published = 0;
	enum vig_err err;
	char *data = NULL;
	sqlite3 *h;

	if (assignee && strlen(assignee) >= VIG_NAME_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "assignee: at most %d bytes", VIG_NAME_MAX - 1);
	if (status && (unsigned)*status >= VIG_ALERT_STATUS__COUNT)
		return vig_errf(errbuf, VIG_EINVAL, "status: unknown");
	memset(&cur, 0, sizeof(cur));
	memset(&now_a, 0, sizeof(now_a));
	h = vig_db_lock(db);
	err = exec(h, "BEGIN IMMEDIATE", errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	err = get_locked(h, who, id, &cur, &published, errbuf);
	if (err != VIG_OK)
		goto out_rollback;
	now_a = cur;
	now_a.event_ids = NULL;
	if (status)
		now_a.status = *status;
	if (assignee)
		copy_str(now_a.assignee, sizeof(now_a.assignee), assignee);
	data = data_json(&now_a, published);
	if (!data) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_rollback;
	}
	if (sqlite3_prepare_v2(h, "UPDATE alerts SET status = ?2, data = ?3 WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
		goto out_rollback;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, vig_alert_status_name(now_a.status), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, data, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_EIO, "alert db: %s", sqlite3_errmsg(h));
		goto out_rollback;
	}
	err = exec(h, "COMMIT", errbuf);
	if (err != VIG_OK)
		goto out_rollback;
	goto out_unlock;
out_rollback:
	sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(db);
	free(data);
	if (err != VIG_OK) {
		vig_alert_release(&cur);
		return err;
	}
	if (after) {
		*after = now_a;
		after->event_ids = cur.event_ids ? strdup(cur.event_ids) : NULL;
	}
	if (before)
		*before = cur;
	else
		vig_alert_release(&cur);
	return VIG_OK;
}
