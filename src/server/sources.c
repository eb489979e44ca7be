/*
 * sources.c - the log source registry, its health job, and the writer-side handling of
 * raw-log batches (parse, attribute to a source, reduce, count once durable).
 *
 * Registry: an array of at most sources.max entries (allocated one by one, never moved, so
 * a slot number stays valid), found through an open-addressing hash of (scope, type,
 * address), all behind one mutex. A new source is inserted into the control DB table
 * log_sources (migration 4) at once (so it has an id for the API); counters and times live in
 * memory and are written back by the health pass and at shutdown.
 *
 * Lock order: the registry mutex may be held while the control DB is locked (insert, PATCH),
 * never the other way round; the health pass copies what it needs, releases the mutex, then
 * talks to the alert module.
 *
 * Health state of one source, per pass:
 *   silent  no record for silence_after_s (> 0)  → raise health:source-silent (once)
 *           records again                        → close that alert
 *   errors  failed / (parsed + failed) over the last interval >= sources.error_rate_pct,
 *           with at least sources.error_min_records records → raise health:source-errors
 *           an interval with records under the share          → close that alert
 * The alert ids are kept with the source (and persisted), so a restart does not raise twice.
 */
#include "sources.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/vtime.h"
#include "parse/parse.h"
#include "reduce.h"
#include "server_int.h"

#define RULE_SILENT "health:source-silent"
#define RULE_ERRORS "health:source-errors"

static const char *const counter_names[VIG_SRC__COUNT] = {
	"received", "parsed", "failed", "dropped", "filtered", "merged",
};

struct source {
	int64_t id;                          /* log_sources.id */
	char scope[VIG_NAME_MAX];            /* "" for syslog senders, else the owning tenant */
	char type[VIG_SOURCE_TYPE_MAX];      /* syslog, raw, agent, api */
	char address[VIG_SOURCE_ADDR_MAX];   /* sender IP, source name, agent id */
	char tenant[VIG_NAME_MAX];           /* tenant its events are stored under */
	char name[VIG_SOURCE_TEXT_MAX];      /* configured display name or "" */
	char asset[VIG_SOURCE_TEXT_MAX];     /* configured asset or "" */
	char hostname[VIG_SOURCE_TEXT_MAX];  /* host.name of its last event */
	char app[VIG_SOURCE_TEXT_MAX];       /* process.name (else event.dataset) of its last event */
	char transport[8];                   /* udp, tcp, tls, http */
	int64_t silence_after_s;             /* 0 = never silent */
	int64_t first_seen;                  /* ns, creation */
	int64_t last_seen;                   /* ns, last event stored */
	int64_t last_received;               /* ns, last record of any outcome */
	uint64_t c[VIG_SRC__COUNT];          /* totals */
	uint64_t prev[VIG_SRC__COUNT];       /* totals at the previous health pass */
	double rate_eps;                     /* events stored per second, last interval */
	double error_rate;                   /* failed share of records, last interval (0..1) */
	int64_t silent_alert;                /* open health:source-silent alert id, 0 = none */
	int64_t error_alert;                 /* open health:source-errors alert id, 0 = none */
	bool dirty;                          /* changed since the last persist */
};

struct vig_sources {
	struct vig_server *srv;
	pthread_mutex_t mu;        /* guards everything below */
	struct source **v;         /* entries by slot */
	size_t n, cap;             /* used slots, sources.max */
	int *hash;                 /* slot + 1 by hash position, 0 = empty */
	size_t hash_cap;           /* power of two >= 2 * cap */
	uint64_t overflow;         /* records of sources the registry had no room for */
	uint64_t alerts_raised, alerts_closed;
	int64_t last_pass;         /* ns of the previous health pass */
	/* health job thread */
	pthread_t thread;
	pthread_mutex_t tmu;
	pthread_cond_t tcv;
	bool running, stop;
};

/* ---- registry ---- */

static uint64_t hash_key(const char *scope, const char *type, const char *addr)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const char *parts[3] = {scope, type, addr};

	for (int i = 0; i < 3; i++) {
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL;
	}
	return h;
}

static int find_locked(struct vig_sources *s, const char *scope, const char *type, const char *addr,
		       size_t *pos_out)
{
	size_t mask = s->hash_cap - 1, pos = hash_key(scope, type, addr) & mask;

	for (;; pos = (pos + 1) & mask) {
		int e = s->hash[pos];
		const struct source *src;

		if (e == 0) {
			if (pos_out)
				*pos_out = pos;
			return -1;
		}
		src = s->v[e - 1];
		if (strcmp(src->address, addr) == 0 && strcmp(src->type, type) == 0 &&
		    strcmp(src->scope, scope) == 0)
			return e - 1;
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

/* Inserts src into log_sources and sets its id (DB locked here; registry mutex held). */
static enum vig_err insert_row(struct vig_sources *s, struct source *src, char *errbuf)
{
	static const char sql[] =
		"INSERT INTO log_sources(scope, type, address, tenant_id, silence_after_s, first_seen)"
		" VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(scope, type, address) DO UPDATE SET"
		" first_seen = first_seen RETURNING id";
	sqlite3 *h = vig_db_lock(s->srv->db);
	sqlite3_stmt *st = vig_db_stmt(h, errbuf, sql, "ttttii", src->scope, src->type,
				       src->address, src->tenant, src->silence_after_s,
				       src->first_seen);
	enum vig_err err = vig_db_row(h, st, errbuf);

	if (err == VIG_OK)
		src->id = sqlite3_column_int64(st, 0);
	else if (err == VIG_ENOTFOUND) /* RETURNING always gives the row */
		err = vig_db_fail(h, errbuf);
	sqlite3_finalize(st);
	vig_db_unlock(s->srv->db);
	return err;
}

int vig_sources_ref(struct vig_sources *s, const char *scope, const char *type, const char *addr)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct source *src;
	size_t pos = 0;
	int slot;

	if (!s)
		return -1;
	pthread_mutex_lock(&s->mu);
	slot = find_locked(s, scope, type, addr, &pos);
	if (slot >= 0 || s->n >= s->cap)
		goto out;
	src = calloc(1, sizeof(*src));
	if (!src)
		goto out;
	snprintf(src->scope, sizeof(src->scope), "%s", scope);
	snprintf(src->type, sizeof(src->type), "%s", type);
	snprintf(src->address, sizeof(src->address), "%s", addr);
	snprintf(src->tenant, sizeof(src->tenant), "%s", scope[0] ? scope : s->srv->cfg.syslog_tenant);
	src->silence_after_s = s->srv->cfg.sources_silence_after_s;
	src->first_seen = vig_time_now();
	if (insert_row(s, src, errbuf) != VIG_OK)
		vig_warn("sources", "source not persisted", "type=%s address=\"%s\" err=\"%s\"", type,
			 addr, errbuf);
	slot = (int)s->n;
	s->v[s->n++] = src;
	s->hash[pos] = slot + 1;
	vig_info("sources", "new source", "id=%lld type=%s address=\"%s\" tenant=%s",
		 (long long)src->id, type, addr, src->tenant);
out:
	if (slot < 0)
		s->overflow++;
	pthread_mutex_unlock(&s->mu);
	return slot;
}

void vig_sources_add(struct vig_sources *s, int slot, enum vig_src_counter c, uint64_t n)
{
	struct source *src;

	if (!s || slot < 0 || n == 0)
		return;
	pthread_mutex_lock(&s->mu);
	if ((size_t)slot < s->n) {
		src = s->v[slot];
		src->c[c] += n;
		src->dirty = true;
		if (c == VIG_SRC_RECEIVED)
			src->last_received = vig_time_now();
	}
	pthread_mutex_unlock(&s->mu);
}

static void copy_str_field(const struct vig_event *ev, enum vig_field f, char *out, size_t cap)
{
	const struct vig_val *v = vig_event_get(ev, f);

	if (v && v->type == VIG_T_STR)
		snprintf(out, cap, "%s", v->u.s);
}

void vig_sources_seen(struct vig_sources *s, int slot, const struct vig_event *ev, int64_t now)
{
	struct source *src;

	if (!s || slot < 0)
		return;
	pthread_mutex_lock(&s->mu);
	if ((size_t)slot < s->n) {
		src = s->v[slot];
		src->last_seen = now;
		src->dirty = true;
		copy_str_field(ev, VIG_F_HOST_NAME, src->hostname, sizeof(src->hostname));
		if (vig_event_get(ev, VIG_F_PROCESS_NAME))
			copy_str_field(ev, VIG_F_PROCESS_NAME, src->app, sizeof(src->app));
		else
			copy_str_field(ev, VIG_F_EVENT_DATASET, src->app, sizeof(src->app));
	}
	pthread_mutex_unlock(&s->mu);
}

static void set_transport(struct vig_sources *s, int slot, const char *transport)
{
	if (!s || slot < 0 || !transport[0])
		return;
	pthread_mutex_lock(&s->mu);
	if ((size_t)slot < s->n)
		snprintf(s->v[slot]->transport, sizeof(s->v[slot]->transport), "%s", transport);
	pthread_mutex_unlock(&s->mu);
}

bool vig_sources_tenant(struct vig_sources *s, int slot, char out[VIG_NAME_MAX])
{
	bool ok = false;

	if (!s || slot < 0)
		return false;
	pthread_mutex_lock(&s->mu);
	if ((size_t)slot < s->n && s->v[slot]->tenant[0]) {
		snprintf(out, VIG_NAME_MAX, "%s", s->v[slot]->tenant);
		ok = true;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* ---- JSON ---- */

static json_t *time_json(int64_t ns)
{
	char t[40];

	if (ns <= 0)
		return json_null();
	vig_time_format(ns, t);
	return json_string(t);
}

static const char *status_of(const struct source *src)
{
	if (src->silent_alert)
		return "silent";
	if (src->error_alert)
		return "errors";
	if (src->last_received == 0 && src->last_seen == 0)
		return "new";
	return "ok";
}

static json_t *source_json(const struct source *src)
{
	json_t *o = json_object(), *c = json_object();

	for (int i = 0; i < VIG_SRC__COUNT; i++)
		json_object_set_new(c, counter_names[i], json_integer((json_int_t)src->c[i]));
	json_object_set_new(o, "id", json_integer(src->id));
	json_object_set_new(o, "tenant", json_string(src->tenant));
	json_object_set_new(o, "type", json_string(src->type));
	json_object_set_new(o, "address", json_string(src->address));
	json_object_set_new(o, "name", json_string(src->name));
	json_object_set_new(o, "asset", json_string(src->asset));
	json_object_set_new(o, "hostname", json_string(src->hostname));
	json_object_set_new(o, "app", json_string(src->app));
	json_object_set_new(o, "transport", json_string(src->transport));
	json_object_set_new(o, "first_seen", time_json(src->first_seen));
	json_object_set_new(o, "last_seen", time_json(src->last_seen));
	json_object_set_new(o, "last_received", time_json(src->last_received));
	json_object_set_new(o, "silence_after_s", json_integer(src->silence_after_s));
	json_object_set_new(o, "events_per_s", json_real(src->rate_eps));
	json_object_set_new(o, "error_rate", json_real(src->error_rate));
	json_object_set_new(o, "status", json_string(status_of(src)));
	json_object_set_new(o, "silent_alert_id",
			    src->silent_alert ? json_integer(src->silent_alert) : json_null());
	json_object_set_new(o, "error_alert_id",
			    src->error_alert ? json_integer(src->error_alert) : json_null());
	json_object_set_new(o, "counters", c);
	return o;
}

json_t *vig_sources_list(struct vig_sources *s, const struct vig_principal *who, const char *tenant)
{
	json_t *arr = json_array();

	if (!arr || !s)
		return arr;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		const struct source *src = s->v[i];

		if (!vig_principal_can_access_tenant(who, src->tenant))
			continue;
		if (tenant && tenant[0] && strcmp(tenant, src->tenant) != 0)
			continue;
		json_array_append_new(arr, source_json(src));
	}
	pthread_mutex_unlock(&s->mu);
	return arr;
}

/* ---- persistence ---- */

static void col_text(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, cap, "%s", t ? (const char *)t : "");
}

static enum vig_err load_rows(struct vig_sources *s, char *errbuf)
{
	static const char sql[] =
		"SELECT id, scope, type, address, tenant_id, name, asset, hostname, app, transport,"
		" silence_after_s, first_seen, last_seen, last_received, received, parsed, failed,"
		" dropped, filtered, merged, silent_alert, error_alert FROM log_sources ORDER BY id";
	sqlite3 *h = vig_db_lock(s->srv->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	int rc;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "log_sources: %s", sqlite3_errmsg(h));
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && s->n < s->cap) {
		struct source *src = calloc(1, sizeof(*src));
		size_t pos = 0;

		if (!src) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			goto out;
		}
		src->id = sqlite3_column_int64(st, 0);
		col_text(st, 1, src->scope, sizeof(src->scope));
		col_text(st, 2, src->type, sizeof(src->type));
		col_text(st, 3, src->address, sizeof(src->address));
		col_text(st, 4, src->tenant, sizeof(src->tenant));
		col_text(st, 5, src->name, sizeof(src->name));
		col_text(st, 6, src->asset, sizeof(src->asset));
		col_text(st, 7, src->hostname, sizeof(src->hostname));
		col_text(st, 8, src->app, sizeof(src->app));
		col_text(st, 9, src->transport, sizeof(src->transport));
		src->silence_after_s = sqlite3_column_int64(st, 10);
		src->first_seen = sqlite3_column_int64(st, 11);
		src->last_seen = sqlite3_column_int64(st, 12);
		src->last_received = sqlite3_column_int64(st, 13);
		for (int i = 0; i < VIG_SRC__COUNT; i++)
			src->c[i] = src->prev[i] = (uint64_t)sqlite3_column_int64(st, 14 + i);
		src->silent_alert = sqlite3_column_int64(st, 20);
		src->error_alert = sqlite3_column_int64(st, 21);
		if (find_locked(s, src->scope, src->type, src->address, &pos) >= 0) {
			free(src);
			continue;
		}
		s->hash[pos] = (int)s->n + 1;
		s->v[s->n++] = src;
	}
out:
	sqlite3_finalize(st);
	vig_db_unlock(s->srv->db);
	return err;
}

/* Writes the dirty entries (registry mutex held; DB locked here). */
static void persist_locked(struct vig_sources *s)
{
	static const char sql[] =
		"UPDATE log_sources SET tenant_id = ?, name = ?, asset = ?, hostname = ?, app = ?,"
		" transport = ?, silence_after_s = ?, last_seen = ?, last_received = ?, received = ?,"
		" parsed = ?, failed = ?, dropped = ?, filtered = ?, merged = ?, silent_alert = ?,"
		" error_alert = ? WHERE id = ?";
	sqlite3 *h = vig_db_lock(s->srv->db);
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		vig_warn("sources", "cannot persist", "err=\"%s\"", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
	for (size_t i = 0; i < s->n; i++) {
		struct source *src = s->v[i];

		if (!src->dirty || src->id == 0)
			continue;
		bind_text(st, 1, src->tenant);
		bind_text(st, 2, src->name);
		bind_text(st, 3, src->asset);
		bind_text(st, 4, src->hostname);
		bind_text(st, 5, src->app);
		bind_text(st, 6, src->transport);
		sqlite3_bind_int64(st, 7, src->silence_after_s);
		sqlite3_bind_int64(st, 8, src->last_seen);
		sqlite3_bind_int64(st, 9, src->last_received);
		for (int c = 0; c < VIG_SRC__COUNT; c++)
			sqlite3_bind_int64(st, 10 + c, (int64_t)src->c[c]);
		sqlite3_bind_int64(st, 16, src->silent_alert);
		sqlite3_bind_int64(st, 17, src->error_alert);
		sqlite3_bind_int64(st, 18, src->id);
		if (sqlite3_step(st) == SQLITE_DONE)
			src->dirty = false;
		sqlite3_reset(st);
	}
	sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_finalize(st);
	vig_db_unlock(s->srv->db);
}

struct vig_sources *vig_sources_new(struct vig_server *srv, char *errbuf)
{
	struct vig_sources *s = calloc(1, sizeof(*s));

	if (!s) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	s->srv = srv;
	s->cap = (size_t)srv->cfg.sources_max;
	for (s->hash_cap = 16; s->hash_cap < 2 * s->cap; s->hash_cap <<= 1)
		;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->tmu, NULL);
	pthread_cond_init(&s->tcv, NULL);
	s->v = calloc(s->cap, sizeof(*s->v));
	s->hash = calloc(s->hash_cap, sizeof(*s->hash));
	if (!s->v || !s->hash) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	if (load_rows(s, errbuf) != VIG_OK)
		goto out_free;
	s->last_pass = vig_time_now();
	return s;
out_free:
	vig_sources_free(s);
	return NULL;
}

void vig_sources_free(struct vig_sources *s)
{
	if (!s)
		return;
	if (s->v && s->hash) {
		pthread_mutex_lock(&s->mu);
		persist_locked(s);
		pthread_mutex_unlock(&s->mu);
	}
	for (size_t i = 0; s->v && i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	free(s->hash);
	pthread_cond_destroy(&s->tcv);
	pthread_mutex_destroy(&s->tmu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- PATCH ---- */

static bool text_field(json_t *body, const char *key, char *out, size_t cap, char *errbuf,
		       bool *set)
{
	json_t *v = json_object_get(body, key);

	*set = false;
	if (!v)
		return true;
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		vig_errf(errbuf, VIG_EINVAL, "%s: expected a string of at most %zu bytes", key, cap - 1);
		return false;
	}
	snprintf(out, cap, "%s", json_string_value(v));
	*set = true;
	return true;
}

/* Validates the body into the new values; VIG_OK or VIG_EINVAL with errbuf. */
struct patch {
	char name[VIG_SOURCE_TEXT_MAX], asset[VIG_SOURCE_TEXT_MAX], tenant[VIG_NAME_MAX];
	bool has_name, has_asset, has_tenant, has_silence;
	int64_t silence;
};

static enum vig_err read_patch(struct vig_sources *s, const struct vig_principal *who, json_t *body,
			       struct patch *p, char *errbuf)
{
	static const char *const allowed[] = {"name", "asset", "tenant", "silence_after_s"};
	const char *key;
	json_t *v;
	struct vig_tenant tn;

	json_object_foreach(body, key, v) {
		bool ok = false;

		for (size_t i = 0; i < VIG_ARRAY_LEN(allowed); i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok)
			return vig_errf(errbuf, VIG_EINVAL, "%s: not a field of a source", key);
	}
	if (!text_field(body, "name", p->name, sizeof(p->name), errbuf, &p->has_name) ||
	    !text_field(body, "asset", p->asset, sizeof(p->asset), errbuf, &p->has_asset) ||
	    !text_field(body, "tenant", p->tenant, sizeof(p->tenant), errbuf, &p->has_tenant))
		return VIG_EINVAL;
	v = json_object_get(body, "silence_after_s");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 30 * 86400)
			return vig_errf(errbuf, VIG_EINVAL,
					"silence_after_s: expected an integer in [0, 2592000]");
		p->silence = json_integer_value(v);
		p->has_silence = true;
	}
	if (p->has_tenant &&
	    (!vig_principal_can_access_tenant(who, p->tenant) ||
	     vig_tenant_get(s->srv->db, who, p->tenant, &tn, errbuf) != VIG_OK))
		return vig_errf(errbuf, VIG_EINVAL, "tenant: no such tenant");
	return VIG_OK;
}

enum vig_err vig_sources_patch(struct vig_sources *s, const struct vig_principal *who, int64_t id,
			       json_t *body, json_t **before, json_t **after, char *errbuf)
{
	struct patch p = {0};
	struct source *src = NULL;
	enum vig_err err;

	*before = *after = NULL;
	err = read_patch(s, who, body, &p, errbuf);
	if (err != VIG_OK)
		return err;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n && !src; i++)
		if (s->v[i]->id == id && vig_principal_can_access_tenant(who, s->v[i]->tenant))
			src = s->v[i];
	if (!src) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such source");
		goto out;
	}
	if (p.has_tenant && src->scope[0] && strcmp(p.tenant, src->tenant) != 0) {
		err = vig_errf(errbuf, VIG_EINVAL,
			       "tenant: only syslog sources can be mapped to another tenant");
		goto out;
	}
	*before = source_json(src);
	if (p.has_name)
		memcpy(src->name, p.name, sizeof(src->name));
	if (p.has_asset)
		memcpy(src->asset, p.asset, sizeof(src->asset));
	if (p.has_tenant)
		memcpy(src->tenant, p.tenant, sizeof(src->tenant));
	if (p.has_silence)
		src->silence_after_s = p.silence;
	src->dirty = true;
	*after = source_json(src);
	persist_locked(s);
out:
	pthread_mutex_unlock(&s->mu);
	return err;
}

/* ---- health ---- */

/* What one pass decided for one source (copied out of the registry). */
struct health_job {
	int slot;
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char label[VIG_SOURCE_TEXT_MAX + VIG_SOURCE_ADDR_MAX + 32];
	char host[VIG_SOURCE_TEXT_MAX];
	bool raise_silent, close_silent, raise_errors, close_errors;
	int64_t silent_alert, error_alert;
	double error_rate;
	int64_t quiet_s;
};

static void decide(struct vig_sources *s, struct source *src, int64_t now, double interval_s,
		   struct health_job *j)
{
	const struct vig_config *cfg = &s->srv->cfg;
	uint64_t dp = src->c[VIG_SRC_PARSED] - src->prev[VIG_SRC_PARSED];
	uint64_t df = src->c[VIG_SRC_FAILED] - src->prev[VIG_SRC_FAILED];
	int64_t last = src->last_received > src->last_seen ? src->last_received : src->last_seen;
	bool silent;

	if (last == 0)
		last = src->first_seen;
	memcpy(src->prev, src->c, sizeof(src->prev));
	src->rate_eps = interval_s > 0 ? (double)dp / interval_s : 0;
	src->error_rate = dp + df ? (double)df / (double)(dp + df) : 0;
	silent = src->silence_after_s > 0 && now - last > src->silence_after_s * VIG_NS_PER_SEC;
	j->quiet_s = (now - last) / VIG_NS_PER_SEC;
	j->error_rate = src->error_rate;
	j->raise_silent = silent && !src->silent_alert;
	j->close_silent = !silent && src->silent_alert;
	j->raise_errors = !src->error_alert && dp + df >= (uint64_t)cfg->sources_error_min_records &&
			  src->error_rate * 100.0 >= (double)cfg->sources_error_rate_pct;
	j->close_errors = src->error_alert && dp + df > 0 &&
			  src->error_rate * 100.0 < (double)cfg->sources_error_rate_pct;
	j->silent_alert = src->silent_alert;
	j->error_alert = src->error_alert;
	j->id = src->id;
	snprintf(j->tenant, sizeof(j->tenant), "%s", src->tenant);
	snprintf(j->host, sizeof(j->host), "%s",
		 src->name[0] ? src->name : src->hostname[0] ? src->hostname : src->address);
	snprintf(j->label, sizeof(j->label), "%s (%s %s)", j->host, src->type, src->address);
}

/* Raises one health alert; returns its id or 0. */
static int64_t raise_alert(struct vig_sources *s, const struct health_job *j, const char *rule,
			   const char *what)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", title[VIG_ALERT_TEXT_MAX];
	struct vig_alert_tx *tx = NULL;
	static const char *const tags[] = {"vigil.health"};
	struct vig_alert_match m = {.tenant = j->tenant, .rule_id = rule, .title = title,
				    .level = "medium", .tags = tags, .n_tags = 1, .host = j->host};
	enum vig_alert_outcome oc;
	bool publish = false;
	int64_t id = 0;

	snprintf(title, sizeof(title), "Log source %s: %.200s", what, j->label);
	if (vig_alert_tx_begin(s->srv->db, s->srv->cfg.dedupe_window_s * VIG_NS_PER_SEC, &tx,
			       errbuf) != VIG_OK)
		goto fail;
	if (vig_alert_tx_record(tx, &m, vig_time_now(), &oc, &id, &publish, errbuf) != VIG_OK) {
		vig_alert_tx_abort(tx);
		goto fail;
	}
	if (vig_alert_tx_commit(tx, errbuf) != VIG_OK)
		goto fail;
	s->alerts_raised++;
	vig_warn("sources", "health alert", "rule=%s source=%lld alert=%lld", rule,
		 (long long)j->id, (long long)id);
	if (publish && s->srv->sse) { /* the live stream (absent in unit tests) */
		struct vig_principal sys;
		struct vig_alert a;

		vig_principal_system(&sys);
		if (vig_alert_get(s->srv->db, &sys, id, &a, errbuf) == VIG_OK) {
			json_t *aj = vig_alert_to_json(&a);
			char *txt = aj ? json_dumps(aj, JSON_COMPACT) : NULL;

			if (txt)
				vig_server_publish_alert(s->srv, a.tenant, txt);
			free(txt);
			json_decref(aj);
			vig_alert_release(&a);
		}
	}
	return id;
fail:
	vig_error("sources", "health alert not recorded", "rule=%s err=\"%s\"", rule, errbuf);
	return 0;
}

static void close_alert(struct vig_sources *s, int64_t id)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", idstr[24];
	enum vig_alert_status st = VIG_ALERT_CLOSED;
	struct vig_principal sys;
	struct vig_alert before, after;

	vig_principal_system(&sys);
	if (vig_alert_update(s->srv->db, &sys, id, &st, NULL, &before, &after, errbuf) != VIG_OK) {
		vig_warn("sources", "health alert not closed", "alert=%lld err=\"%s\"", (long long)id,
			 errbuf);
		return;
	}
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	if (vig_audit_append(s->srv->db, &sys, after.tenant, "alert.update", "alert", idstr,
			     "{\"status\":\"open\"}", "{\"status\":\"closed\",\"reason\":\"source recovered\"}",
			     NULL, NULL, errbuf) != VIG_OK)
		vig_warn("sources", "audit failed", "err=\"%s\"", errbuf);
	vig_alert_release(&before);
	vig_alert_release(&after);
	s->alerts_closed++;
	vig_info("sources", "health alert closed", "alert=%lld", (long long)id);
}

enum vig_err vig_sources_check(struct vig_sources *s, int64_t now, char *errbuf)
{
	struct health_job *jobs;
	double interval_s;
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	jobs = n ? calloc(n, sizeof(*jobs)) : NULL;
	if (n && !jobs) {
		pthread_mutex_unlock(&s->mu);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	interval_s = (double)(now - s->last_pass) / 1e9;
	s->last_pass = now;
	for (size_t i = 0; i < n; i++) {
		jobs[i].slot = (int)i;
		decide(s, s->v[i], now, interval_s, &jobs[i]);
	}
	pthread_mutex_unlock(&s->mu);

	for (size_t i = 0; i < n; i++) { /* alert module calls, registry unlocked */
		struct health_job *j = &jobs[i];

		if (j->raise_silent)
			j->silent_alert = raise_alert(s, j, RULE_SILENT, "silent");
		if (j->close_silent) {
			close_alert(s, j->silent_alert);
			j->silent_alert = 0;
		}
		if (j->raise_errors)
			j->error_alert = raise_alert(s, j, RULE_ERRORS, "parse errors");
		if (j->close_errors) {
			close_alert(s, j->error_alert);
			j->error_alert = 0;
		}
	}

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		struct source *src = s->v[jobs[i].slot];

		if (src->silent_alert != jobs[i].silent_alert || src->error_alert != jobs[i].error_alert)
			src->dirty = true;
		src->silent_alert = jobs[i].silent_alert;
		src->error_alert = jobs[i].error_alert;
	}
	persist_locked(s);
	pthread_mutex_unlock(&s->mu);
	free(jobs);
	return VIG_OK;
}

static void *health_main(void *arg)
{
	struct vig_sources *s = arg;
	char errbuf[VIG_ERRBUF_SIZE];

	pthread_mutex_lock(&s->tmu);
	while (!s->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += s->srv->cfg.sources_check_interval_s;
		pthread_cond_timedwait(&s->tcv, &s->tmu, &ts);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->tmu);
		errbuf[0] = '\0';
		if (vig_sources_check(s, vig_time_now(), errbuf) != VIG_OK)
			vig_error("sources", "health pass failed", "err=\"%s\"", errbuf);
		pthread_mutex_lock(&s->tmu);
	}
	pthread_mutex_unlock(&s->tmu);
	return NULL;
}

enum vig_err vig_sources_start(struct vig_server *srv, char *errbuf)
{
	struct vig_sources *s = srv->sources;

	if (pthread_create(&s->thread, NULL, health_main, s) != 0)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the source health thread");
	s->running = true;
	return VIG_OK;
}

void vig_sources_stop(struct vig_server *srv)
{
	struct vig_sources *s = srv->sources;

	if (!s || !s->running)
		return;
	pthread_mutex_lock(&s->tmu);
	s->stop = true;
	pthread_cond_broadcast(&s->tcv);
	pthread_mutex_unlock(&s->tmu);
	pthread_join(s->thread, NULL);
	s->running = false;
}

void vig_sources_metrics(struct vig_sources *s, struct vig_buf *b)
{
	uint64_t tot[VIG_SRC__COUNT] = {0};
	size_t n, silent = 0, errors = 0;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	n = s->n;
	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < VIG_SRC__COUNT; c++)
			tot[c] += s->v[i]->c[c];
		silent += s->v[i]->silent_alert != 0;
		errors += s->v[i]->error_alert != 0;
	}
	vig_buf_printf(b,
		       "# HELP vigil_sources Log sources in the registry.\n"
		       "# TYPE vigil_sources gauge\nvigil_sources %zu\n"
		       "# HELP vigil_sources_unhealthy Sources with an open health alert, by reason.\n"
		       "# TYPE vigil_sources_unhealthy gauge\n"
		       "vigil_sources_unhealthy{reason=\"silent\"} %zu\n"
		       "vigil_sources_unhealthy{reason=\"errors\"} %zu\n"
		       "# HELP vigil_sources_overflow_total Records of sources the registry had no room for.\n"
		       "# TYPE vigil_sources_overflow_total counter\nvigil_sources_overflow_total %llu\n"
		       "# HELP vigil_sources_health_alerts_total Health alerts raised and closed.\n"
		       "# TYPE vigil_sources_health_alerts_total counter\n"
		       "vigil_sources_health_alerts_total{action=\"raised\"} %llu\n"
		       "vigil_sources_health_alerts_total{action=\"closed\"} %llu\n"
		       "# HELP vigil_source_records_total Records of all sources, by outcome.\n"
		       "# TYPE vigil_source_records_total counter\n",
		       n, silent, errors, (unsigned long long)s->overflow,
		       (unsigned long long)s->alerts_raised, (unsigned long long)s->alerts_closed);
	for (int c = 0; c < VIG_SRC__COUNT; c++)
		vig_buf_printf(b, "vigil_source_records_total{outcome=\"%s\"} %llu\n", counter_names[c],
			       (unsigned long long)tot[c]);
	pthread_mutex_unlock(&s->mu);
}

/* ---- raw-log batches ---- */

/* Counts of one source waiting for the batch's append. */
struct pend_count {
	int slot;
	uint64_t c[VIG_SRC__COUNT];
};

struct vig_logs_batch {
	struct vig_logs_spec spec;
	int *slot;      /* source slot per event, aligned with the ptrs of decode/prepare */
	size_t cap;     /* entries of slot */
	struct vig_sources *sources; /* where the counts go (set by decode / prepare) */
	struct pend_count *pc;       /* counts applied by vig_logs_committed, by source */
	size_t n_pc, cap_pc;
	int *pc_hash;                /* slot hash -> index + 1, 0 empty */
	size_t pc_hash_cap;          /* power of two, > 2 * n_pc */
};

/* Grows the pending-count table to hold one more source; false on out of memory. */
static bool pc_grow(struct vig_logs_batch *lb)
{
	size_t nh = lb->pc_hash_cap ? 2 * lb->pc_hash_cap : 16;
	struct pend_count *np = realloc(lb->pc, (nh / 2) * sizeof(*np));
	int *h = calloc(nh, sizeof(*h));

	if (!np || !h) {
		if (np)
			lb->pc = np;
		free(h);
		return false;
	}
	lb->pc = np;
	lb->cap_pc = nh / 2;
	for (size_t i = 0; i < lb->n_pc; i++) {
		size_t pos = (size_t)lb->pc[i].slot * 2654435761u & (nh - 1);

		while (h[pos])
			pos = (pos + 1) & (nh - 1);
		h[pos] = (int)i + 1;
	}
	free(lb->pc_hash);
	lb->pc_hash = h;
	lb->pc_hash_cap = nh;
	return true;
}

void vig_logs_note(struct vig_logs_batch *lb, int slot, enum vig_src_counter c)
{
	size_t pos;

	if (!lb || slot < 0)
		return;
	if (lb->n_pc + 1 > lb->cap_pc && !pc_grow(lb)) {
		vig_sources_add(lb->sources, slot, c, 1); /* out of memory: count at once */
		return;
	}
	pos = (size_t)slot * 2654435761u & (lb->pc_hash_cap - 1);
	for (; lb->pc_hash[pos]; pos = (pos + 1) & (lb->pc_hash_cap - 1)) {
		struct pend_count *p = &lb->pc[lb->pc_hash[pos] - 1];

		if (p->slot == slot) {
			p->c[c]++;
			return;
		}
	}
	memset(&lb->pc[lb->n_pc], 0, sizeof(lb->pc[0]));
	lb->pc[lb->n_pc].slot = slot;
	lb->pc[lb->n_pc].c[c] = 1;
	lb->pc_hash[pos] = (int)++lb->n_pc;
}

struct vig_logs_batch *vig_logs_batch_new(const struct vig_logs_spec *spec)
{
	struct vig_logs_batch *lb = calloc(1, sizeof(*lb));

	if (lb)
		lb->spec = *spec;
	return lb;
}

void vig_logs_batch_free(struct vig_logs_batch *lb)
{
	if (!lb)
		return;
	free(lb->slot);
	free(lb->pc);
	free(lb->pc_hash);
	free(lb);
}

static bool ensure_slots(struct vig_logs_batch *lb, size_t n)
{
	int *p;

	if (n <= lb->cap)
		return true;
	p = realloc(lb->slot, n * sizeof(*p));
	if (!p)
		return false;
	for (size_t i = lb->cap; i < n; i++)
		p[i] = -1;
	lb->slot = p;
	lb->cap = n;
	return true;
}

size_t vig_logs_count(const struct vig_logs_batch *lb, const char *body, size_t len)
{
	size_t n = 0;
	bool content = false;

	for (size_t i = 0; i < len; i++) {
		if (body[i] == lb->spec.sep) {
			n += content;
			content = false;
		} else if (body[i] != '\r') {
			content = true;
		}
	}
	return n + content;
}

/* The parser behind a format name of the raw API; NULL for "auto". */
static const struct vig_parser *parser_of(const char *format)
{
	if (strcmp(format, "auto") == 0)
		return NULL;
	if (strcmp(format, "sshd") == 0)
		return vig_parser_find("syslog");
	if (strcmp(format, "audit") == 0)
		return vig_parser_find("auditd");
	return vig_parser_find(format);
}

struct decode_run {
	struct vig_server *srv;
	struct vig_logs_batch *lb;
	const struct vig_principal *who;
	const struct vig_parser *parser;
	struct vig_parse_ctx *pctx;
	int fixed;                /* slot of the spec's address, or -1 */
	int last_slot;            /* cache of the previous record's peer */
	char last_peer[VIG_SOURCE_ADDR_MAX];
	vig_logs_reject_fn *reject;
	void *arg;
};

/* Slot of a record's source; *rec and *len advance past a peer prefix. */
static int record_slot(struct decode_run *d, const char **rec, size_t *len)
{
	const struct vig_logs_spec *sp = &d->lb->spec;
	const char *sp_at;
	size_t plen;

	if (!sp->peer_prefix)
		return d->fixed;
	sp_at = memchr(*rec, ' ', *len);
	if (!sp_at)
		return -1;
	plen = (size_t)(sp_at - *rec);
	if (plen >= sizeof(d->last_peer))
		plen = sizeof(d->last_peer) - 1;
	if (d->last_slot < 0 || strncmp(d->last_peer, *rec, plen) != 0 || d->last_peer[plen]) {
		memcpy(d->last_peer, *rec, plen);
		d->last_peer[plen] = '\0';
		d->last_slot = vig_sources_ref(d->srv->sources, "", sp->type, d->last_peer);
		set_transport(d->srv->sources, d->last_slot, sp->transport);
	}
	*len -= (size_t)(sp_at + 1 - *rec);
	*rec = sp_at + 1;
	return d->last_slot;
}

/* The content of a syslog message when it is CEF, LEEF or JSON, else NULL. */
static const char *routed_content(const char *rec, size_t len)
{
	static const char *const marks[] = {" CEF:", " LEEF:", " {\""};

	for (size_t i = 0; i < VIG_ARRAY_LEN(marks); i++) {
		const char *p = memmem(rec, len, marks[i], strlen(marks[i]));

		if (p)
			return p + 1;
	}
	return NULL;
}

/* Parses rec with the chosen parser (auto when none); a syslog message that no program
 * sub-parser recognised and whose content is CEF, LEEF or JSON is parsed again from its
 * content, keeping the header's host.name and the whole record as message; a record without a
 * syslog header given as syslog is auto-detected. */
static enum vig_err parse_record(struct decode_run *d, const char *rec, size_t len,
				 struct vig_event *ev, char *errbuf)
{
	const struct vig_val *ds, *host;
	const char *content;
	struct vig_event inner;
	enum vig_err err;
	char eb[VIG_ERRBUF_SIZE];

	err = d->parser ? d->parser->parse(d->pctx, rec, len, ev, errbuf)
			: vig_parse_auto(d->pctx, rec, len, ev, NULL, errbuf);
	if (err != VIG_OK && d->parser && d->parser->id == VIG_PARSER_SYSLOG) {
		vig_event_clear(ev);
		err = vig_parse_auto(d->pctx, rec, len, ev, NULL, errbuf);
	}
	if (err != VIG_OK)
		return err;
	ds = vig_event_get(ev, VIG_F_EVENT_DATASET);
	if (!ds || ds->type != VIG_T_STR || strcmp(ds->u.s, "system.syslog") != 0)
		return VIG_OK;
	content = routed_content(rec, len);
	if (!content)
		return VIG_OK;
	vig_event_init(&inner, ev->arena);
	if (vig_parse_auto(d->pctx, content, len - (size_t)(content - rec), &inner, NULL, eb) !=
	    VIG_OK)
		return VIG_OK; /* keep the plain syslog event */
	host = vig_event_get(ev, VIG_F_HOST_NAME);
	if (host && !vig_event_get(&inner, VIG_F_HOST_NAME))
		vig_event_set_str(&inner, VIG_F_HOST_NAME, host->u.s, host->n);
	if (!vig_event_get(&inner, VIG_F_TIMESTAMP) && vig_event_get(ev, VIG_F_TIMESTAMP))
		vig_event_set_ts(&inner, VIG_F_TIMESTAMP, vig_event_get(ev, VIG_F_TIMESTAMP)->u.i);
	vig_event_set_str(&inner, VIG_F_MESSAGE, rec, len);
	*ev = inner;
	return VIG_OK;
}

/* Parses one record into ev; VIG_OK (event kept), VIG_ENOTFOUND (skip), other (refused). */
static enum vig_err decode_one(struct decode_run *d, const char *rec, size_t len, int slot,
			       struct vig_event *ev, char *errbuf)
{
	const struct vig_logs_spec *sp = &d->lb->spec;
	char tenant[VIG_NAME_MAX];
	enum vig_err err;

	if (len > VIG_PARSE_MAX_LINE || len > (size_t)d->srv->cfg.max_event_bytes)
		return vig_errf(errbuf, VIG_ETOOBIG, "record larger than limits.max_event_bytes");
	err = parse_record(d, rec, len, ev, errbuf);
	if (err != VIG_OK)
		return err;
	if (sp->peer_prefix) {
		if (!vig_sources_tenant(d->srv->sources, slot, tenant))
			snprintf(tenant, sizeof(tenant), "%s", d->srv->cfg.syslog_tenant);
		vig_event_ext_str(ev, "log.source.address", d->last_peer, strlen(d->last_peer));
	} else {
		snprintf(tenant, sizeof(tenant), "%s", d->who->tenant);
	}
	if (vig_event_set_cstr(ev, VIG_F_TENANT_ID, tenant) != VIG_OK)
		return vig_errf(errbuf, VIG_ETOOBIG, "event too large");
	if (!vig_event_get(ev, VIG_F_TIMESTAMP))
		vig_event_set_ts(ev, VIG_F_TIMESTAMP, vig_time_now());
	return VIG_OK;
}

size_t vig_logs_decode(struct vig_server *srv, struct vig_logs_batch *lb,
		       const struct vig_principal *who, char *body, size_t len,
		       struct vig_arena *arena, struct vig_event *evs, struct vig_event **ptrs,
		       size_t cap, vig_logs_reject_fn *reject, void *arg)
{
	struct decode_run d = {.srv = srv, .lb = lb, .who = who, .fixed = -1, .last_slot = -1,
			       .reject = reject, .arg = arg};
	const char *p = body, *end = body + len;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t record = 0, n = 0;

	lb->sources = srv->sources;
	d.parser = parser_of(lb->spec.format);
	d.pctx = malloc(sizeof(*d.pctx));
	if (!d.pctx || !ensure_slots(lb, cap ? cap : 1)) {
		reject(arg, 1, "out of memory");
		free(d.pctx);
		return 0;
	}
	vig_parse_ctx_init(d.pctx, lb->spec.ref_ns);
	if (!lb->spec.peer_prefix) {
		d.fixed = vig_sources_ref(srv->sources, who->tenant, lb->spec.type, lb->spec.address);
		set_transport(srv->sources, d.fixed, lb->spec.transport);
	}
	while (p < end && n < cap) {
		const char *sep = memchr(p, lb->spec.sep, (size_t)(end - p));
		const char *rec = p, *re = sep ? sep : end;
		size_t rlen;
		int slot;

		p = sep ? sep + 1 : end;
		record++; /* numbered like the body's lines, blank ones included */
		while (re > rec && (re[-1] == '\r' || (lb->spec.sep == '\n' && re[-1] == '\n')))
			re--;
		if (re == rec)
			continue;
		rlen = (size_t)(re - rec);
		slot = record_slot(&d, &rec, &rlen);
		if (rlen == 0)
			continue; /* a peer with an empty message: nothing was sent */
		vig_logs_note(lb, slot, VIG_SRC_RECEIVED);
		vig_event_init(&evs[n], arena);
		errbuf[0] = '\0';
		switch (decode_one(&d, rec, rlen, slot, &evs[n], errbuf)) {
		case VIG_OK:
			lb->slot[n] = slot;
			ptrs[n] = &evs[n];
			n++;
			break;
		case VIG_ENOTFOUND:
			break; /* metadata record (Zeek header, blank) */
		default:
			vig_logs_note(lb, slot, VIG_SRC_FAILED);
			reject(arg, record, errbuf[0] ? errbuf : "record not parsed");
			break;
		}
	}
	free(d.pctx);
	return n;
}

/* Slot of an NDJSON event: agent.id, observer.name, host.name, the caller. */
static int ndjson_slot(struct vig_server *srv, const struct vig_principal *who,
		       const struct vig_event *ev)
{
	const struct vig_val *t = vig_event_get(ev, VIG_F_TENANT_ID);
	const char *scope = t && t->type == VIG_T_STR ? t->u.s : who->tenant;
	static const enum vig_field order[] = {VIG_F_AGENT_ID, VIG_F_OBSERVER_NAME, VIG_F_HOST_NAME};

	for (size_t i = 0; i < VIG_ARRAY_LEN(order); i++) {
		const struct vig_val *v = vig_event_get(ev, order[i]);

		if (v && v->type == VIG_T_STR && v->u.s[0])
			return vig_sources_ref(srv->sources, scope,
					       order[i] == VIG_F_AGENT_ID ? "agent" : "api", v->u.s);
	}
	return vig_sources_ref(srv->sources, scope, "api", who->username);
}

/* True when the events span more than VIG_LOGS_MAX_BATCH_DAYS distinct days. */
static bool too_many_days(struct vig_event **ptrs, size_t n)
{
	int64_t days[VIG_LOGS_MAX_BATCH_DAYS];
	size_t nd = 0;

	for (size_t i = 0; i < n; i++) {
		const struct vig_val *t = vig_event_get(ptrs[i], VIG_F_TIMESTAMP);
		int64_t d = t ? vig_time_day(t->u.i) : 0;
		size_t k = 0;

		while (k < nd && days[k] != d)
			k++;
		if (k < nd)
			continue;
		if (nd == VIG_LOGS_MAX_BATCH_DAYS)
			return true;
		days[nd++] = d;
	}
	return false;
}

enum vig_err vig_logs_prepare(struct vig_server *srv, struct vig_logs_batch **lbp,
			      const struct vig_principal *who, struct vig_arena *arena,
			      struct vig_event **ptrs, size_t *n, char *errbuf)
{
	struct vig_logs_batch *lb = *lbp;

	/* raw API batches only: a receiver's batch has no client to split it (the store may
	 * still refuse one spanning too many new days: its records are then counted dropped) */
	if (lb && !lb->spec.peer_prefix && *n > 0 && too_many_days(ptrs, *n))
		return vig_errf(errbuf, VIG_ETOOBIG,
				"events of the batch span more than %d days; send fewer lines per batch",
				VIG_LOGS_MAX_BATCH_DAYS);
	if (!srv->sources || *n == 0)
		return VIG_OK;
	if (!lb) {
		struct vig_logs_spec spec = {.format = "json", .type = "api", .transport = "http",
					     .sep = '\n'};

		lb = *lbp = vig_logs_batch_new(&spec);
		if (!lb || !ensure_slots(lb, *n))
			return VIG_OK; /* not attributed; still stored */
		lb->sources = srv->sources;
		for (size_t i = 0; i < *n; i++) {
			lb->slot[i] = ndjson_slot(srv, who, ptrs[i]);
			vig_logs_note(lb, lb->slot[i], VIG_SRC_RECEIVED);
		}
	}
	if (srv->reduce && lb->cap >= *n)
		*n = vig_reduce_batch(srv->reduce, lb, arena, ptrs, lb->slot, *n);
	return VIG_OK;
}

void vig_logs_lost(struct vig_logs_batch *lb)
{
	if (!lb || !lb->sources)
		return;
	for (size_t i = 0; i < lb->n_pc; i++) {
		vig_sources_add(lb->sources, lb->pc[i].slot, VIG_SRC_RECEIVED,
				lb->pc[i].c[VIG_SRC_RECEIVED]);
		vig_sources_add(lb->sources, lb->pc[i].slot, VIG_SRC_DROPPED,
				lb->pc[i].c[VIG_SRC_RECEIVED]);
	}
	lb->n_pc = 0;
}

void vig_logs_committed(struct vig_server *srv, struct vig_logs_batch *lb,
			struct vig_event *const *ptrs, size_t n)
{
	int64_t now = vig_time_now();

	if (!srv->sources || !lb)
		return;
	for (size_t i = 0; i < lb->n_pc; i++)
		for (int c = 0; c < VIG_SRC__COUNT; c++)
			vig_sources_add(srv->sources, lb->pc[i].slot, (enum vig_src_counter)c,
					lb->pc[i].c[c]);
	lb->n_pc = 0; /* applied once */
	if (lb->pc_hash)
		memset(lb->pc_hash, 0, lb->pc_hash_cap * sizeof(*lb->pc_hash));
	if (lb->cap < n)
		return;
	for (size_t i = 0; i < n; i++) {
		vig_sources_add(srv->sources, lb->slot[i], VIG_SRC_PARSED, 1);
		vig_sources_seen(srv->sources, lb->slot[i], ptrs[i], now);
	}
}
