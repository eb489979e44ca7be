/*
 * reduce.c - the reduction stage (reduce.h): per-tenant drop/keep policies evaluated in
 * memory with the search syntax, and merging of identical events of one batch with the raw
 * originals kept zstd-compressed in the control DB as evidence.
 *
 * Memory per batch is bounded by the batch: one group record and one hash slot per event, and
 * at most VIG_REDUCE_EVIDENCE_MAX raw bytes per merged group. The policy set is swapped whole
 * on reload under the mutex; the writer holds the mutex while it evaluates a batch.
 */
#include "reduce.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "common/log.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "server_int.h"
#include "sources.h"
#include "store/query.h"
#include "store/query_eval.h"

#define DESC_MAX 256

struct policy {
	int64_t id;                  /* reduction_policies.id */
	char tenant[VIG_NAME_MAX];   /* events of this tenant only */
	bool drop;                   /* drop (true) or keep (false) */
	char *query;                 /* text, owned */
	char desc[DESC_MAX];         /* free text */
	int64_t created;             /* ns */
	struct vig_query *q;         /* compiled */
	uint64_t hits;               /* events it decided (under the mutex) */
};

struct vig_reduce {
	struct vig_server *srv;
	pthread_mutex_t mu;          /* guards the policy set */
	struct policy *pol;
	size_t n_pol;
	atomic_uint_fast64_t events_in;      /* events seen by the stage */
	atomic_uint_fast64_t dropped;        /* dropped by a drop policy */
	atomic_uint_fast64_t kept;           /* kept by a keep policy that overrode a drop */
	atomic_uint_fast64_t merged;         /* events folded into another */
	atomic_uint_fast64_t groups;         /* merged events stored (count >= 2) */
	atomic_uint_fast64_t evidence_raw;   /* raw bytes of evidence */
	atomic_uint_fast64_t evidence_stored; /* compressed bytes stored */
	atomic_uint_fast64_t evidence_truncated; /* raw messages not kept (group over the limit) */
	atomic_uint_fast64_t evidence_errors;    /* evidence rows that could not be written */
};

/* ---- policies ---- */

static void policies_free(struct policy *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		vig_query_free(p[i].q);
		free(p[i].query);
	}
	free(p);
}

enum vig_err vig_reduce_reload(struct vig_reduce *rd, char *errbuf)
{
	static const char sql[] = "SELECT id, tenant_id, action, query, description, created"
				  " FROM reduction_policies ORDER BY id LIMIT ?";
	size_t cap = (size_t)rd->srv->cfg.reduction_max_policies, n = 0;
	struct policy *p = calloc(cap, sizeof(*p));
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;

	if (!p)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(rd->srv->db);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "reduction_policies: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	sqlite3_bind_int64(st, 1, (int64_t)cap);
	while (sqlite3_step(st) == SQLITE_ROW && n < cap) {
		struct policy *q = &p[n];
		const char *text = (const char *)sqlite3_column_text(st, 3);
		char qerr[VIG_ERRBUF_SIZE];

		q->id = sqlite3_column_int64(st, 0);
		snprintf(q->tenant, sizeof(q->tenant), "%s", (const char *)sqlite3_column_text(st, 1));
		q->drop = strcmp((const char *)sqlite3_column_text(st, 2), "drop") == 0;
		q->query = strdup(text ? text : "");
		snprintf(q->desc, sizeof(q->desc), "%s", (const char *)sqlite3_column_text(st, 4));
		q->created = sqlite3_column_int64(st, 5);
		q->q = q->query ? vig_query_parse(q->query, strlen(q->query), NULL, qerr) : NULL;
		if (!q->q) {
			vig_warn("reduce", "policy skipped", "id=%lld err=\"%s\"", (long long)q->id, qerr);
			free(q->query);
			memset(q, 0, sizeof(*q));
			continue;
		}
		n++;
	}
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(rd->srv->db);
	if (err != VIG_OK) {
		policies_free(p, n);
		return err;
	}
	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < n; i++) /* hit counts survive a reload */
		for (size_t j = 0; j < rd->n_pol; j++)
			if (rd->pol[j].id == p[i].id)
				p[i].hits = rd->pol[j].hits;
	policies_free(rd->pol, rd->n_pol);
	rd->pol = p;
	rd->n_pol = n;
	pthread_mutex_unlock(&rd->mu);
	return VIG_OK;
}

struct vig_reduce *vig_reduce_new(struct vig_server *srv, char *errbuf)
{
	struct vig_reduce *rd = calloc(1, sizeof(*rd));

	if (!rd) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	rd->srv = srv;
	pthread_mutex_init(&rd->mu, NULL);
	if (vig_reduce_reload(rd, errbuf) != VIG_OK) {
		vig_reduce_free(rd);
		return NULL;
	}
	return rd;
}

void vig_reduce_free(struct vig_reduce *rd)
{
	if (!rd)
		return;
	policies_free(rd->pol, rd->n_pol);
	pthread_mutex_destroy(&rd->mu);
	free(rd);
}

static json_t *policy_json(const struct policy *p)
{
	char t[40];

	vig_time_format(p->created, t);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:I}", "id", (json_int_t)p->id, "tenant",
			 p->tenant, "action", p->drop ? "drop" : "keep", "query", p->query,
			 "description", p->desc, "created", t, "hits", (json_int_t)p->hits);
}

json_t *vig_reduce_policies_json(struct vig_reduce *rd, const struct vig_principal *who,
				 const char *tenant)
{
	json_t *arr = json_array();

	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < rd->n_pol; i++) {
		if (!vig_principal_can_access_tenant(who, rd->pol[i].tenant))
			continue;
		if (tenant && tenant[0] && strcmp(tenant, rd->pol[i].tenant) != 0)
			continue;
		json_array_append_new(arr, policy_json(&rd->pol[i]));
	}
	pthread_mutex_unlock(&rd->mu);
	return arr;
}

enum vig_err vig_reduce_policy_add(struct vig_reduce *rd, const struct vig_principal *who,
				   json_t *body, json_t **out, char *errbuf)
{
	static const char sql[] = "INSERT INTO reduction_policies(tenant_id, action, query,"
				  " description, created) VALUES (?, ?, ?, ?, ?)";
	const char *action = json_string_value(json_object_get(body, "action"));
	const char *query = json_string_value(json_object_get(body, "query"));
	json_t *jt = json_object_get(body, "tenant"), *jd = json_object_get(body, "description");
	const char *tenant = jt ? json_string_value(jt) : who->tenant;
	const char *desc = jd ? json_string_value(jd) : "";
	struct policy p = {0};
	struct vig_tenant tn;
	struct vig_query *q;
	sqlite3 *h;
	enum vig_err err = VIG_OK;
	size_t n_pol;

	*out = NULL;
	if (!action || (strcmp(action, "drop") != 0 && strcmp(action, "keep") != 0))
		return vig_errf(errbuf, VIG_EINVAL, "action: expected \"drop\" or \"keep\"");
	if (!query || strlen(query) >= VIG_REDUCE_QUERY_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "query: expected a string of at most %u bytes",
				VIG_REDUCE_QUERY_MAX - 1);
	if (!tenant || (jd && !desc) || strlen(desc) >= DESC_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "tenant and description must be strings"
				" (description at most 255 bytes)");
	if (!vig_principal_can_access_tenant(who, tenant) ||
	    vig_tenant_get(rd->srv->db, who, tenant, &tn, errbuf) != VIG_OK)
		return vig_errf(errbuf, VIG_EINVAL, "tenant: no such tenant");
	q = vig_query_parse(query, strlen(query), NULL, errbuf);
	if (!q)
		return VIG_EINVAL;
	vig_query_free(q);
	if (strspn(query, " \t") == strlen(query))
		return vig_errf(errbuf, VIG_EINVAL, "query: a policy needs a non-empty query");
	pthread_mutex_lock(&rd->mu);
	n_pol = rd->n_pol;
	pthread_mutex_unlock(&rd->mu);
	if (n_pol >= (size_t)rd->srv->cfg.reduction_max_policies)
		return vig_errf(errbuf, VIG_ETOOBIG, "at most %lld reduction policies (reduction.max_policies)",
				(long long)rd->srv->cfg.reduction_max_policies);
	p.created = vig_time_now();
	h = vig_db_lock(rd->srv->db);
	err = vig_db_do(h, errbuf, sql, "tttti", tenant, action, query, desc, p.created);
	p.id = sqlite3_last_insert_rowid(h);
	vig_db_unlock(rd->srv->db);
	if (err != VIG_OK)
		return err;
	err = vig_reduce_reload(rd, errbuf);
	snprintf(p.tenant, sizeof(p.tenant), "%s", tenant);
	p.drop = strcmp(action, "drop") == 0;
	p.query = (char *)query;
	snprintf(p.desc, sizeof(p.desc), "%s", desc);
	*out = policy_json(&p);
	return err;
}

enum vig_err vig_reduce_policy_delete(struct vig_reduce *rd, const struct vig_principal *who,
				      int64_t id, json_t **before, char *errbuf)
{
	sqlite3 *h;
	enum vig_err err;
	bool found = false;

	*before = NULL;
	pthread_mutex_lock(&rd->mu);
	for (size_t i = 0; i < rd->n_pol && !found; i++) {
		if (rd->pol[i].id == id && vig_principal_can_access_tenant(who, rd->pol[i].tenant)) {
			*before = policy_json(&rd->pol[i]);
			found = true;
		}
	}
	pthread_mutex_unlock(&rd->mu);
	if (!found)
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such policy");
	h = vig_db_lock(rd->srv->db);
	err = vig_db_do(h, errbuf, "DELETE FROM reduction_policies WHERE id = ?", "i", id);
	vig_db_unlock(rd->srv->db);
	if (err != VIG_OK)
		return err;
	return vig_reduce_reload(rd, errbuf);
}

/* ---- policy evaluation ---- */

/* True when ev must be dropped (policies of its tenant; keep wins). Mutex held. */
static bool policy_drops(struct vig_reduce *rd, const struct vig_event *ev)
{
	const struct vig_val *t = vig_event_get(ev, VIG_F_TENANT_ID);
	struct policy *drop = NULL;

	if (!t || t->type != VIG_T_STR)
		return false;
	for (size_t i = 0; i < rd->n_pol; i++) {
		struct policy *p = &rd->pol[i];

		if (strcmp(p->tenant, t->u.s) != 0 || (p->drop && drop))
			continue;
		if (!vig_query_match(p->q, ev))
			continue;
		if (!p->drop) {
			if (drop)
				atomic_fetch_add(&rd->kept, 1);
			p->hits++;
			return false;
		}
		drop = p;
	}
	if (drop)
		drop->hits++;
	return drop != NULL;
}

/* ---- merging ---- */

static bool skip_field(int f)
{
	return f == VIG_F_TIMESTAMP || f == VIG_F_EVENT_ID || f == VIG_F_EVENT_INGESTED ||
	       f == VIG_F_EVENT_CREATED || f == VIG_F_MESSAGE;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}

static uint64_t val_hash(uint64_t h, const struct vig_val *v)
{
	h = mix(h, &v->type, 1);
	switch (v->type) {
	case VIG_T_STR:
		return mix(h, v->u.s, v->n);
	case VIG_T_INT:
	case VIG_T_TS:
	case VIG_T_BOOL:
		return mix(h, &v->u.i, sizeof(v->u.i));
	case VIG_T_FLOAT:
		return mix(h, &v->u.d, sizeof(v->u.d));
	case VIG_T_IP:
		return mix(h, v->u.ip, 16);
	case VIG_T_LIST:
		for (uint32_t i = 0; i < v->n; i++)
			h = mix(mix(h, v->u.l[i].p, v->u.l[i].len), "", 1);
		return h;
	default:
		return h;
	}
}

static bool val_eq(const struct vig_val *a, const struct vig_val *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case VIG_T_STR:
		return a->n == b->n && memcmp(a->u.s, b->u.s, a->n) == 0;
	case VIG_T_INT:
	case VIG_T_TS:
	case VIG_T_BOOL:
		return a->u.i == b->u.i;
	case VIG_T_FLOAT:
		return a->u.d == b->u.d;
	case VIG_T_IP:
		return memcmp(a->u.ip, b->u.ip, 16) == 0;
	case VIG_T_LIST:
		if (a->n != b->n)
			return false;
		for (uint32_t i = 0; i < a->n; i++)
			if (a->u.l[i].len != b->u.l[i].len ||
			    memcmp(a->u.l[i].p, b->u.l[i].p, a->u.l[i].len) != 0)
				return false;
		return true;
	default:
		return true;
	}
}

static uint64_t ev_hash(const struct vig_event *ev)
{
	uint64_t h = 1469598103934665603ULL;

	for (int f = 0; f < VIG_F__COUNT; f++) {
		if (skip_field(f) || ev->f[f].type == VIG_T_NONE)
			continue;
		h = val_hash(mix(h, &f, sizeof(f)), &ev->f[f]);
	}
	for (uint32_t i = 0; i < ev->n_ext; i++)
		h = val_hash(mix(h, ev->ext[i].key, strlen(ev->ext[i].key) + 1), &ev->ext[i].v);
	return h;
}

static bool ev_eq(const struct vig_event *a, const struct vig_event *b)
{
	for (int f = 0; f < VIG_F__COUNT; f++)
		if (!skip_field(f) && !val_eq(&a->f[f], &b->f[f]))
			return false;
	if (a->n_ext != b->n_ext)
		return false;
	for (uint32_t i = 0; i < a->n_ext; i++)
		if (strcmp(a->ext[i].key, b->ext[i].key) != 0 || !val_eq(&a->ext[i].v, &b->ext[i].v))
			return false;
	return true;
}

static int64_t ts_of(const struct vig_event *ev)
{
	const struct vig_val *v = vig_event_get(ev, VIG_F_TIMESTAMP);

	return v && v->type == VIG_T_TS ? v->u.i : 0;
}

struct group {
	size_t leader;       /* index of the kept event */
	uint64_t hash;
	uint32_t count;      /* events in the group */
	int64_t first;       /* @timestamp of the leader */
	int64_t tmin, tmax;  /* earliest / latest @timestamp */
	struct vig_buf raw;  /* NUL-separated raw messages (count >= 2 only) */
	uint64_t truncated;  /* messages not kept */
};

/* Appends ev's raw form (message, else its JSON) to g->raw, unless the group's evidence is
 * full (then the message is counted as truncated). */
static void add_raw(struct vig_reduce *rd, struct group *g, const struct vig_event *ev)
{
	const struct vig_val *m = vig_event_get(ev, VIG_F_MESSAGE);
	struct vig_buf one;

	vig_buf_init(&one, VIG_REDUCE_EVIDENCE_MAX);
	if (m && m->type == VIG_T_STR)
		vig_buf_add(&one, m->u.s, m->n);
	else
		vig_event_to_json(ev, &one);
	if (vig_buf_err(&one) != VIG_OK || vig_buf_err(&g->raw) != VIG_OK ||
	    g->raw.len + one.len + 2 >= VIG_REDUCE_EVIDENCE_MAX) {
		g->truncated++;
		atomic_fetch_add(&rd->evidence_truncated, 1);
	} else {
		vig_buf_add(&g->raw, one.data ? one.data : "", one.len);
		vig_buf_addc(&g->raw, '\0');
	}
	vig_buf_release(&one);
}

/* Writes the evidence of g; returns the row id or 0. DB locked by the caller. */
static int64_t store_evidence(struct vig_reduce *rd, sqlite3 *h, sqlite3_stmt *st,
			      const char *tenant, const struct group *g)
{
	size_t bound = ZSTD_compressBound(g->raw.len), clen;
	void *c = malloc(bound ? bound : 1);
	int64_t id = 0;

	if (!c)
		return 0;
	clen = ZSTD_compress(c, bound, g->raw.data ? g->raw.data : "", g->raw.len, 3);
	if (ZSTD_isError(clen))
		goto out;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, vig_time_now());
	sqlite3_bind_int64(st, 3, g->count);
	sqlite3_bind_int64(st, 4, g->tmin);
	sqlite3_bind_int64(st, 5, g->tmax);
	sqlite3_bind_int64(st, 6, (int64_t)g->raw.len);
	sqlite3_bind_int64(st, 7, (int64_t)g->truncated);
	sqlite3_bind_blob(st, 8, c, (int)clen, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE) {
		id = sqlite3_last_insert_rowid(h);
		atomic_fetch_add(&rd->evidence_raw, g->raw.len);
		atomic_fetch_add(&rd->evidence_stored, clen);
	}
out:
	free(c);
	return id;
}

/* Finishes the groups with count >= 2: evidence rows (one transaction) and the leader's
 * event.count / start / end / vigil.evidence_id. */
static void finish_groups(struct vig_reduce *rd, struct group *g, size_t ng,
			  struct vig_event **ptrs)
{
	static const char sql[] = "INSERT INTO reduction_evidence(tenant_id, created, count, first,"
				  " last, raw_bytes, truncated, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < ng; i++) {
		struct vig_event *ev;
		const struct vig_val *t;
		int64_t id = 0;

		if (g[i].count < 2)
			continue;
		ev = ptrs[g[i].leader];
		t = vig_event_get(ev, VIG_F_TENANT_ID);
		if (!h) {
			h = vig_db_lock(rd->srv->db);
			if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
				vig_warn("reduce", "evidence not stored", "err=\"%s\"", sqlite3_errmsg(h));
			sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
		}
		if (st && t)
			id = store_evidence(rd, h, st, t->u.s, &g[i]);
		if (!id)
			atomic_fetch_add(&rd->evidence_errors, 1);
		vig_event_set_int(ev, VIG_F_EVENT_COUNT, g[i].count);
		vig_event_set_ts(ev, VIG_F_EVENT_START, g[i].tmin);
		vig_event_set_ts(ev, VIG_F_EVENT_END, g[i].tmax);
		if (id)
			vig_event_ext_int(ev, "vigil.evidence_id", id);
		atomic_fetch_add(&rd->groups, 1);
	}
	if (h) {
		sqlite3_finalize(st);
		sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
		vig_db_unlock(rd->srv->db);
	}
}

/* Merges duplicates among ptrs[0..n) in place; returns the events left. */
static size_t merge(struct vig_reduce *rd, struct vig_logs_batch *lb, struct vig_event **ptrs,
		    int *slots, size_t n)
{
	int64_t window = rd->srv->cfg.reduction_window_s * VIG_NS_PER_SEC;
	size_t hcap = 16, ng = 0, out = 0;
	struct group *g = calloc(n, sizeof(*g));
	size_t *hash;
	bool *gone = calloc(n, sizeof(*gone));

	while (hcap < 2 * n)
		hcap <<= 1;
	hash = calloc(hcap, sizeof(*hash));
	if (!g || !hash || !gone)
		goto out_free; /* no merging: every event is stored */
	for (size_t i = 0; i < n; i++) {
		uint64_t hv = ev_hash(ptrs[i]);
		size_t pos = hv & (hcap - 1);
		int64_t ts = ts_of(ptrs[i]);
		struct group *hit = NULL;

		for (; hash[pos]; pos = (pos + 1) & (hcap - 1)) {
			struct group *c = &g[hash[pos] - 1];

			if (c->hash == hv && ev_eq(ptrs[c->leader], ptrs[i]) &&
			    (ts - c->first <= window && c->first - ts <= window)) {
				hit = c;
				break;
			}
		}
		if (!hit) {
			/* a new group (a full slot chain past an old window still ends at an empty) */
			g[ng] = (struct group){.leader = i, .hash = hv, .count = 1, .first = ts,
					       .tmin = ts, .tmax = ts};
			vig_buf_init(&g[ng].raw, VIG_REDUCE_EVIDENCE_MAX);
			hash[pos] = ++ng;
			continue;
		}
		if (hit->count == 1)
			add_raw(rd, hit, ptrs[hit->leader]);
		add_raw(rd, hit, ptrs[i]);
		hit->count++;
		hit->tmin = ts < hit->tmin ? ts : hit->tmin;
		hit->tmax = ts > hit->tmax ? ts : hit->tmax;
		gone[i] = true;
		atomic_fetch_add(&rd->merged, 1);
		vig_logs_note(lb, slots[i], VIG_SRC_MERGED);
	}
	finish_groups(rd, g, ng, ptrs);
	for (size_t i = 0; i < n; i++) {
		if (gone[i])
			continue;
		ptrs[out] = ptrs[i];
		slots[out] = slots[i];
		out++;
	}
	n = out;
out_free:
	for (size_t i = 0; g && i < ng; i++)
		vig_buf_release(&g[i].raw);
	free(g);
	free(hash);
	free(gone);
	return n;
}

size_t vig_reduce_batch(struct vig_reduce *rd, struct vig_logs_batch *lb,
			struct vig_arena *arena, struct vig_event **ptrs, int *slots, size_t n)
{
	size_t out = 0;

	(void)arena; /* new values go through the events' own arena */
	atomic_fetch_add(&rd->events_in, n);
	pthread_mutex_lock(&rd->mu);
	if (rd->n_pol == 0) {
		out = n;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (policy_drops(rd, ptrs[i])) {
				atomic_fetch_add(&rd->dropped, 1);
				vig_logs_note(lb, slots[i], VIG_SRC_FILTERED);
				continue;
			}
			ptrs[out] = ptrs[i];
			slots[out] = slots[i];
			out++;
		}
	}
	pthread_mutex_unlock(&rd->mu);
	if (rd->srv->cfg.reduction_merge && out > 1)
		out = merge(rd, lb, ptrs, slots, out);
	return out;
}

/* ---- reporting ---- */

#define LD(x) ((json_int_t)atomic_load(&rd->x))

json_t *vig_reduce_stats_json(struct vig_reduce *rd)
{
	size_t np;

	pthread_mutex_lock(&rd->mu);
	np = rd->n_pol;
	pthread_mutex_unlock(&rd->mu);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:I}", "events_in",
			 LD(events_in), "dropped", LD(dropped), "kept_by_policy", LD(kept),
			 "merged", LD(merged), "merged_events", LD(groups), "evidence_raw_bytes",
			 LD(evidence_raw), "evidence_stored_bytes", LD(evidence_stored),
			 "evidence_truncated", LD(evidence_truncated), "evidence_errors",
			 LD(evidence_errors), "policies", (json_int_t)np, "merge",
			 rd->srv->cfg.reduction_merge, "window_s",
			 (json_int_t)rd->srv->cfg.reduction_window_s);
}

void vig_reduce_metrics(struct vig_reduce *rd, struct vig_buf *b)
{
	vig_buf_printf(b,
		       "# HELP vigil_reduction_events_total Events by reduction outcome.\n"
		       "# TYPE vigil_reduction_events_total counter\n"
		       "vigil_reduction_events_total{outcome=\"in\"} %lld\n"
		       "vigil_reduction_events_total{outcome=\"dropped\"} %lld\n"
		       "vigil_reduction_events_total{outcome=\"merged\"} %lld\n"
		       "# HELP vigil_reduction_merged_events_total Stored events standing for a merged group.\n"
		       "# TYPE vigil_reduction_merged_events_total counter\n"
		       "vigil_reduction_merged_events_total %lld\n"
		       "# HELP vigil_reduction_evidence_bytes_total Raw and compressed bytes of evidence.\n"
		       "# TYPE vigil_reduction_evidence_bytes_total counter\n"
		       "vigil_reduction_evidence_bytes_total{form=\"raw\"} %lld\n"
		       "vigil_reduction_evidence_bytes_total{form=\"stored\"} %lld\n"
		       "# HELP vigil_reduction_evidence_errors_total Evidence rows not written or messages truncated.\n"
		       "# TYPE vigil_reduction_evidence_errors_total counter\n"
		       "vigil_reduction_evidence_errors_total{reason=\"write\"} %lld\n"
		       "vigil_reduction_evidence_errors_total{reason=\"truncated\"} %lld\n",
		       (long long)LD(events_in), (long long)LD(dropped), (long long)LD(merged),
		       (long long)LD(groups), (long long)LD(evidence_raw),
		       (long long)LD(evidence_stored), (long long)LD(evidence_errors),
		       (long long)LD(evidence_truncated));
}

enum vig_err vig_reduce_evidence(struct vig_reduce *rd, const struct vig_principal *who,
				 int64_t id, json_t **out, char *errbuf)
{
	static const char sql[] = "SELECT tenant_id, count, first, last, raw_bytes, truncated, data"
				  " FROM reduction_evidence WHERE id = ?";
	sqlite3 *h = vig_db_lock(rd->srv->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	char *raw = NULL, t1[40], t2[40];
	json_t *lines;

	*out = NULL;
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "reduction_evidence: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    !vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 0))) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such evidence");
		goto out;
	}
	{
		int64_t rawn = sqlite3_column_int64(st, 4);
		const void *blob = sqlite3_column_blob(st, 6);
		size_t bn = (size_t)sqlite3_column_bytes(st, 6), got;

		if (rawn < 0 || rawn > (int64_t)VIG_REDUCE_EVIDENCE_MAX) {
			err = vig_errf(errbuf, VIG_EIO, "evidence %lld: bad size", (long long)id);
			goto out;
		}
		raw = malloc((size_t)rawn + 1);
		got = raw ? ZSTD_decompress(raw, (size_t)rawn, blob, bn) : 0;
		if (!raw || ZSTD_isError(got) || got != (size_t)rawn) {
			err = vig_errf(errbuf, VIG_EIO, "evidence %lld: cannot decompress", (long long)id);
			goto out;
		}
		lines = json_array();
		for (size_t i = 0; i < got;) {
			size_t l = strnlen(raw + i, got - i);

			json_array_append_new(lines, json_stringn(raw + i, l));
			i += l + 1;
		}
		vig_time_format(sqlite3_column_int64(st, 2), t1);
		vig_time_format(sqlite3_column_int64(st, 3), t2);
		*out = json_pack("{s:I,s:s,s:I,s:s,s:s,s:I,s:o}", "id", (json_int_t)id, "tenant",
				 (const char *)sqlite3_column_text(st, 0), "count",
				 (json_int_t)sqlite3_column_int64(st, 1), "first", t1, "last", t2,
				 "truncated", (json_int_t)sqlite3_column_int64(st, 5), "lines", lines);
	}
out:
	free(raw);
	sqlite3_finalize(st);
	vig_db_unlock(rd->srv->db);
	return err;
}
