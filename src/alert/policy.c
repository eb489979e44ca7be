/*
 * policy.c - the in-memory policy snapshot the detection stage consults for every match:
 * asset criticality keys, active suppressions and per-rule exceptions (policy.h).
 *
 * A snapshot is built from the control DB by vig_policy_reload() with no lock of ours held
 * (the DB module locks itself), then swapped in under the holder's mutex; readers take a
 * reference (atomic count) and the last release frees it. Reloads are serialised by a second
 * mutex so that two API changes never race to install an older view.
 *
 * Lookups: asset keys (tenant, lowercase hostname or canonical address text) are sorted and
 * binary-searched; exceptions are sorted by rule id so a match scans only its rule's range;
 * suppressions (few, and short-lived) are scanned. Hit counters are atomics inside the
 * snapshot, copied into the next snapshot by id when it replaces this one (hits counted on the
 * old snapshot between the copy and the swap are lost: a reload is rare and the count is
 * informational).
 */
#include "alert/policy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/vtime.h"

struct asset_key {
	char tenant[VIG_NAME_MAX];
	char key[VIG_ASSET_TEXT_MAX]; /* lowercase hostname, or canonical address text */
	enum vig_crit crit;
};

struct pentry {
	struct vig_policy_entry e;
	atomic_uint_fast64_t hits;
};

struct vig_policy_snap {
	atomic_int refs;
	struct asset_key *keys;
	size_t n_keys;
	struct pentry *exc; /* sorted by rule_id, then id */
	size_t n_exc;
	struct pentry *sup; /* by id */
	size_t n_sup;
};

struct vig_policy {
	struct vig_db *db;
	pthread_mutex_t mu;        /* guards cur */
	pthread_mutex_t reload_mu; /* serialises reloads */
	struct vig_policy_snap *cur;
	atomic_uint_fast64_t excepted, suppressed, raised;
};

static void snap_free(struct vig_policy_snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_exc; i++)
		vig_policy_entry_release(&s->exc[i].e);
	for (size_t i = 0; i < s->n_sup; i++)
		vig_policy_entry_release(&s->sup[i].e);
	free(s->exc);
	free(s->sup);
	free(s->keys);
	free(s);
}

void vig_policy_snap_release(struct vig_policy_snap *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

struct vig_policy_snap *vig_policy_acquire(struct vig_policy *p)
{
	struct vig_policy_snap *s;

	pthread_mutex_lock(&p->mu);
	s = p->cur;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&p->mu);
	return s;
}

static int key_cmp(const void *a, const void *b)
{
	const struct asset_key *x = a, *y = b;
	int c = strcmp(x->tenant, y->tenant);

	return c ? c : strcmp(x->key, y->key);
}

static int exc_cmp(const void *a, const void *b)
{
	const struct pentry *x = a, *y = b;
	int c = strcmp(x->e.rule_id, y->e.rule_id);

	return c ? c : (x->e.id > y->e.id) - (x->e.id < y->e.id);
}

static void lower_copy(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
	dst[i] = '\0';
}

/* Canonical text of an address (so "::ffff:10.0.0.1" and "10.0.0.1" meet), false if none. */
static bool ip_canon(const char *s, char out[64])
{
	uint8_t ip[16];

	if (!vig_ip_parse(s, strlen(s), ip))
		return false;
	vig_ip_format(ip, out);
	return true;
}

static enum vig_err load_assets(struct vig_db *db, struct vig_policy_snap *s, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	size_t cap = 0;
	int rc = SQLITE_ERROR;

	if (sqlite3_prepare_v2(h, "SELECT tenant_id, hostname, ip, criticality FROM assets LIMIT ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, VIG_POLICY_MAX_ASSETS);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *tenant = (const char *)sqlite3_column_text(st, 0);
			const char *host = (const char *)sqlite3_column_text(st, 1);
			const char *ip = (const char *)sqlite3_column_text(st, 2);
			const char *crit = (const char *)sqlite3_column_text(st, 3);
			enum vig_crit c = VIG_CRIT_MEDIUM;
			char canon[64];

			if (crit)
				vig_crit_parse(crit, &c);
			if (s->n_keys + 2 > cap) {
				size_t nc = cap ? cap * 2 : 64;
				void *np = realloc(s->keys, nc * sizeof(*s->keys));

				if (!np) {
					err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
					break;
				}
				s->keys = np;
				cap = nc;
			}
			if (host && host[0]) {
				struct asset_key *k = &s->keys[s->n_keys++];

				snprintf(k->tenant, sizeof(k->tenant), "%s", tenant ? tenant : "");
				if (ip_canon(host, canon))
					snprintf(k->key, sizeof(k->key), "%s", canon);
				else
					lower_copy(k->key, sizeof(k->key), host);
				k->crit = c;
			}
			if (ip && ip_canon(ip, canon)) {
				struct asset_key *k = &s->keys[s->n_keys++];

				snprintf(k->tenant, sizeof(k->tenant), "%s", tenant ? tenant : "");
				snprintf(k->key, sizeof(k->key), "%s", canon);
				k->crit = c;
			}
		}
	}
	if (err == VIG_OK && rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "asset db: %s", sqlite3_errmsg(h));
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err == VIG_OK && s->n_keys)
		qsort(s->keys, s->n_keys, sizeof(*s->keys), key_cmp);
	return err;
}

/* Loads one kind into a pentry array. */
static enum vig_err load_entries(struct vig_db *db, enum vig_policy_kind kind, int64_t now,
				 struct pentry **out, size_t *n, char *errbuf)
{
	struct vig_policy_entry *rows = NULL;
	size_t max = kind == VIG_POLICY_SUPPRESSION ? VIG_POLICY_MAX_SUPPRESSIONS
						     : VIG_POLICY_MAX_EXCEPTIONS;
	enum vig_err err = vig_policy_entry_load_all(db, kind, now, max, &rows, n, errbuf);

	*out = NULL;
	if (err != VIG_OK)
		return err;
	if (*n == 0) {
		free(rows);
		return VIG_OK;
	}
	*out = calloc(*n, sizeof(**out));
	if (!*out) {
		vig_policy_entry_list_free(rows, *n);
		*n = 0;
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < *n; i++) {
		(*out)[i].e = rows[i]; /* moved */
		atomic_init(&(*out)[i].hits, 0);
	}
	free(rows);
	return VIG_OK;
}

/* Copies the hit counts of old entries into the new ones with the same id. */
static void carry_hits(struct pentry *neu, size_t n_new, struct pentry *old, size_t n_old)
{
	for (size_t i = 0; i < n_new; i++)
		for (size_t k = 0; k < n_old; k++)
			if (old[k].e.id == neu[i].e.id) {
				atomic_store(&neu[i].hits, atomic_load(&old[k].hits));
				break;
			}
}

/* Reads a fresh snapshot (no lock of ours held); old supplies hit counts (may be NULL). */
static struct vig_policy_snap *snap_load(struct vig_db *db, struct vig_policy_snap *old,
					 char *errbuf)
{
	struct vig_policy_snap *s = calloc(1, sizeof(*s));
	int64_t now = vig_time_now();

	if (!s) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&s->refs, 1);
	if (load_assets(db, s, errbuf) != VIG_OK ||
	    load_entries(db, VIG_POLICY_EXCEPTION, now, &s->exc, &s->n_exc, errbuf) != VIG_OK ||
	    load_entries(db, VIG_POLICY_SUPPRESSION, now, &s->sup, &s->n_sup, errbuf) != VIG_OK) {
		snap_free(s);
		return NULL;
	}
	if (s->n_exc)
		qsort(s->exc, s->n_exc, sizeof(*s->exc), exc_cmp);
	if (old) {
		carry_hits(s->exc, s->n_exc, old->exc, old->n_exc);
		carry_hits(s->sup, s->n_sup, old->sup, old->n_sup);
	}
	return s;
}

struct vig_policy *vig_policy_new(struct vig_db *db, char *errbuf)
{
	struct vig_policy *p;

	p = calloc(1, sizeof(*p));
	if (!p) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	p->db = db;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->reload_mu, NULL);
	p->cur = snap_load(db, NULL, errbuf);
	if (!p->cur) {
		vig_policy_free(p);
		return NULL;
	}
	return p;
}

void vig_policy_free(struct vig_policy *p)
{
	if (!p)
		return;
	vig_policy_snap_release(p->cur);
	pthread_mutex_destroy(&p->mu);
	pthread_mutex_destroy(&p->reload_mu);
	free(p);
}

enum vig_err vig_policy_reload(struct vig_policy *p, char *errbuf)
{
	struct vig_policy_snap *old, *neu;

	pthread_mutex_lock(&p->reload_mu);
	old = vig_policy_acquire(p);
	neu = snap_load(p->db, old, errbuf);
	if (neu) {
		pthread_mutex_lock(&p->mu);
		vig_policy_snap_release(p->cur); /* the holder's reference */
		p->cur = neu;
		pthread_mutex_unlock(&p->mu);
	}
	vig_policy_snap_release(old);
	pthread_mutex_unlock(&p->reload_mu);
	return neu ? VIG_OK : VIG_EIO;
}

static bool tenant_applies(const char *owner, const char *tenant)
{
	return strcmp(owner, tenant) == 0 || strcmp(owner, VIG_DB_PROVIDER_TENANT) == 0;
}

/* Criticality of the asset named key in tenant, or -1. */
static int asset_crit(const struct vig_policy_snap *s, const char *tenant, const char *key)
{
	struct asset_key k;
	const struct asset_key *f;

	if (!s->n_keys || strlen(tenant) >= sizeof(k.tenant))
		return -1;
	snprintf(k.tenant, sizeof(k.tenant), "%s", tenant);
	snprintf(k.key, sizeof(k.key), "%s", key);
	f = bsearch(&k, s->keys, s->n_keys, sizeof(k), key_cmp);
	return f ? (int)f->crit : -1;
}

static int ip_crit(const struct vig_policy_snap *s, const char *tenant, const struct vig_val *v)
{
	char text[64];

	if (!v || v->type != VIG_T_IP)
		return -1;
	vig_ip_format(v->u.ip, text);
	return asset_crit(s, tenant, text);
}

/* The most critical known asset the event involves, or -1. */
static int event_crit(const struct vig_policy_snap *s, const struct vig_event *ev,
		      const char *tenant)
{
	const struct vig_val *host = vig_event_get(ev, VIG_F_HOST_NAME);
	static const enum vig_field ips[] = {VIG_F_HOST_IP, VIG_F_SOURCE_IP, VIG_F_DESTINATION_IP};
	int best = -1;

	if (!s->n_keys)
		return -1;
	if (host && host->type == VIG_T_STR) {
		char key[VIG_ASSET_TEXT_MAX];

		lower_copy(key, sizeof(key), host->u.s);
		best = asset_crit(s, tenant, key);
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(ips); i++) {
		int c = ip_crit(s, tenant, vig_event_get(ev, ips[i]));

		if (c > best)
			best = c;
	}
	return best;
}

enum vig_policy_verdict vig_policy_apply(struct vig_policy_snap *s, const struct vig_event *ev,
					 const char *tenant, const char *rule_id, int64_t now,
					 enum vig_alert_severity *sev, int *crit, int64_t *entry_id)
{
	size_t lo = 0, hi = s->n_exc;
	int c;

	if (crit)
		*crit = -1;
	/* exceptions: the first index whose rule_id is not below rule_id */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->exc[mid].e.rule_id, rule_id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < s->n_exc && strcmp(s->exc[i].e.rule_id, rule_id) == 0; i++) {
		struct pentry *x = &s->exc[i];

		if (tenant_applies(x->e.tenant, tenant) && vig_condset_match(&x->e.conds, ev)) {
			atomic_fetch_add(&x->hits, 1);
			if (entry_id)
				*entry_id = x->e.id;
			return VIG_POLICY_EXCEPTED;
		}
	}
	for (size_t i = 0; i < s->n_sup; i++) {
		struct pentry *x = &s->sup[i];

		if (x->e.until > now && (!x->e.rule_id[0] || strcmp(x->e.rule_id, rule_id) == 0) &&
		    tenant_applies(x->e.tenant, tenant) && vig_condset_match(&x->e.conds, ev)) {
			atomic_fetch_add(&x->hits, 1);
			if (entry_id)
				*entry_id = x->e.id;
			return VIG_POLICY_SUPPRESSED;
		}
	}
	c = event_crit(s, ev, tenant);
	if (crit)
		*crit = c;
	if (c >= 0 && sev)
		*sev = vig_severity_for_asset(*sev, (enum vig_crit)c);
	return VIG_POLICY_ALERT;
}

uint64_t vig_policy_hits(struct vig_policy *p, enum vig_policy_kind kind, int64_t id)
{
	struct vig_policy_snap *s = vig_policy_acquire(p);
	struct pentry *arr = kind == VIG_POLICY_SUPPRESSION ? s->sup : s->exc;
	size_t n = kind == VIG_POLICY_SUPPRESSION ? s->n_sup : s->n_exc;
	uint64_t hits = 0;

	for (size_t i = 0; i < n; i++)
		if (arr[i].e.id == id) {
			hits = atomic_load(&arr[i].hits);
			break;
		}
	vig_policy_snap_release(s);
	return hits;
}

void vig_policy_count(struct vig_policy *p, enum vig_policy_verdict v, bool raised)
{
	if (v == VIG_POLICY_EXCEPTED)
		atomic_fetch_add(&p->excepted, 1);
	else if (v == VIG_POLICY_SUPPRESSED)
		atomic_fetch_add(&p->suppressed, 1);
	else if (raised)
		atomic_fetch_add(&p->raised, 1);
}

void vig_policy_totals(struct vig_policy *p, uint64_t *excepted, uint64_t *suppressed,
		       uint64_t *raised)
{
	*excepted = atomic_load(&p->excepted);
	*suppressed = atomic_load(&p->suppressed);
	*raised = atomic_load(&p->raised);
}
