/*
 * correlate.c - the live Sigma correlation engine (see correlate.h for the contract).
 *
 * Layout. vig_corr_set_rules() compiles every correlation rule into a struct ccorr: its
 * referenced rules are resolved by id or name into "targets" (one per rule object that some
 * correlation references, sorted by pointer for bsearch), each holding its "users": the
 * (correlation, reference) pairs it feeds, with the field names to read from its events
 * (aliases and the logsource mapping already applied). Correlations referencing correlations
 * form a graph that must be acyclic; correlations on a cycle or referencing something missing
 * stay inactive.
 *
 * State. A struct cstate per correlation (kept across rule swaps when the correlation's key
 * and definition signature are unchanged) holds the groups in a chained hash table and an LRU
 * list (head = most recently updated; the tail is evicted at max_groups_per_rule). A group
 * holds its entries sorted by event time; an entry holds the reference it came from, the
 * aggregated field's number and/or text, and the ids of its events (one for a base match, up
 * to max_event_ids for a chained firing).
 *
 * Window invariants. "on add" correlations (lower-bound conditions on monotone aggregates)
 * keep every group's entries within [newest - timespan, newest] and check the condition after
 * each add; "at close" correlations keep tumbling windows anchored at their first entry and
 * check the condition once when event time passes first + timespan. A firing empties the
 * entries it covered.
 *
 * Locking: one mutex per engine around every public call. Firings of chained correlations are
 * fed recursively (depth bounded by the number of correlations: the graph is acyclic).
 */
#include "detect/correlate.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/vtime.h"
#include "event/sigma_map.h"

#define DEF_MAX_GROUPS 10000
#define DEF_MAX_EVENTS 1000
#define DEF_MAX_IDS 32
#define DEF_MAX_SNAPSHOT ((size_t)64 << 20)
#define MAX_GROUP_BY 16 /* group-by fields of one correlation */
#define MAX_REFS 64     /* rules referenced by one correlation */
#define MAX_IDS 1024    /* ceiling of max_event_ids */
#define MAX_SPAN_S (366LL * 86400 * 10) /* longest timespan: ten years */
#define SNAP_MAGIC "vigil-corr-state 1"
#define NUM_TEXT_MAX 64

struct entry {
	int64_t t;      /* event time, ns */
	uint32_t ref;   /* distinct reference index (see struct ccorr.refid) */
	bool has_num;   /* num holds the aggregated field as a number */
	double num;
	char *val;      /* the aggregated field as text, or NULL */
	char **ids;     /* event ids (heap) */
	uint32_t n_ids;
};

struct group {
	uint64_t hash;
	char *tenant;
	char **vals;        /* n_group values, NULL = missing */
	struct entry *ents; /* sorted by t, arrival order among equal times */
	size_t n, cap;
	int64_t newest;     /* newest entry time ever added */
	struct group *hnext;
	struct group *prev, *next; /* LRU list */
};

struct cstate {
	char *key, *sig;    /* correlation key and definition signature */
	size_t n_group;     /* group-by fields */
	struct group **tab; /* hash buckets, tab_cap a power of two */
	size_t tab_cap, n;
	struct group *head, *tail;
	bool taken;         /* claimed by a correlation of the new rule set (swap) */
};

/* One (correlation, reference) that a target rule feeds. */
struct user {
	size_t corr;          /* index into vig_corr.corrs */
	uint32_t ref;         /* distinct reference index */
	const char **fields;  /* per group-by: name read from the source (heap array) */
	const char *valfield; /* aggregated field, or NULL */
};

struct target {
	const struct vig_sigma_rule *rule;
	struct user *users;
	size_t n_users;
	bool alerts; /* its own matches/firings raise alerts */
};

struct ccorr {
	const struct vig_sigma_rule *rule;
	const struct vig_sigma_corr *co;
	struct cstate *st;        /* NULL while inactive */
	int64_t span;             /* ns */
	uint32_t refid[MAX_REFS]; /* position in rules list -> distinct reference index */
	uint32_t n_distinct;
	int64_t *deps;            /* correlations it references (indexes), for the cycle check */
	size_t n_deps;
	bool on_add, active;
	const char **gnames;      /* group-by names as written */
	const char **gfields;     /* event-model names through the first referenced detection rule */
};

struct vig_corr {
	pthread_mutex_t mu;
	struct vig_corr_limits lim;
	struct ccorr *corrs;
	size_t n_corrs;
	struct target *targets; /* sorted by rule pointer */
	size_t n_targets;
	struct vig_corr_stats st;
};

/* What an entry is made from: a matching event or a chained firing. */
struct src {
	const struct vig_event *ev;    /* or NULL */
	const struct vig_corr_fire *f; /* or NULL */
	const char *tenant;
	int64_t t;
	const char *const *ids;
	size_t n_ids;
};

/* ---- small helpers ---- */

static char *xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static char *xstrdup(const char *s)
{
	return s ? xstrndup(s, strlen(s)) : NULL;
}

/* Length of s cut to at most max - 1 bytes without splitting a UTF-8 sequence. */
static size_t cut_len(const char *s, size_t n, size_t max)
{
	if (n < max)
		return n;
	n = max - 1;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t group_hash(const char *tenant, char *const *vals, size_t n)
{
	uint64_t h = fnv(14695981039346656037ull, tenant, strlen(tenant) + 1);

	for (size_t i = 0; i < n; i++)
		h = vals[i] ? fnv(h, vals[i], strlen(vals[i]) + 1) : fnv(h, "\x01\x02", 2);
	return h;
}

static bool same_val(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool parse_num(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == 0 && isfinite(*out);
}

static void entry_release(struct entry *e)
{
	free(e->val);
	for (uint32_t i = 0; i < e->n_ids; i++)
		free(e->ids[i]);
	free(e->ids);
	memset(e, 0, sizeof(*e));
}

static void group_free(struct group *g, size_t n_group)
{
	for (size_t i = 0; i < g->n; i++)
		entry_release(&g->ents[i]);
	for (size_t i = 0; i < n_group; i++)
		free(g->vals[i]);
	free(g->vals);
	free(g->ents);
	free(g->tenant);
	free(g);
}

/* ---- per-correlation state ---- */

static struct cstate *cstate_new(const char *key, const char *sig, size_t n_group)
{
	struct cstate *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->key = xstrdup(key);
	s->sig = xstrdup(sig);
	s->n_group = n_group;
	s->tab_cap = 64;
	s->tab = calloc(s->tab_cap, sizeof(*s->tab));
	if (!s->key || !s->sig || !s->tab) {
		free(s->key);
		free(s->sig);
		free(s->tab);
		free(s);
		return NULL;
	}
	return s;
}

static void lru_unlink(struct cstate *s, struct group *g)
{
	if (g->prev)
		g->prev->next = g->next;
	else
		s->head = g->next;
	if (g->next)
		g->next->prev = g->prev;
	else
		s->tail = g->prev;
	g->prev = g->next = NULL;
}

static void lru_front(struct cstate *s, struct group *g)
{
	g->prev = NULL;
	g->next = s->head;
	if (s->head)
		s->head->prev = g;
	s->head = g;
	if (!s->tail)
		s->tail = g;
}

static void touch(struct cstate *s, struct group *g)
{
	if (s->head != g) {
		lru_unlink(s, g);
		lru_front(s, g);
	}
}

/* Unlinks g from s (hash and LRU), updates the counters, frees it. */
static void group_remove(struct vig_corr *c, struct cstate *s, struct group *g)
{
	struct group **pp = &s->tab[g->hash & (s->tab_cap - 1)];

	while (*pp && *pp != g)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = g->hnext;
	lru_unlink(s, g);
	s->n--;
	c->st.groups--;
	c->st.entries -= g->n;
	group_free(g, s->n_group);
}

static void cstate_free(struct vig_corr *c, struct cstate *s)
{
	if (!s)
		return;
	while (s->head)
		group_remove(c, s, s->head);
	free(s->tab);
	free(s->key);
	free(s->sig);
	free(s);
}

static void tab_grow(struct cstate *s)
{
	size_t cap = s->tab_cap * 2;
	struct group **t = calloc(cap, sizeof(*t));

	if (!t)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->tab_cap; i++) {
		struct group *g = s->tab[i], *nx;
		for (; g; g = nx) {
			nx = g->hnext;
			g->hnext = t[g->hash & (cap - 1)];
			t[g->hash & (cap - 1)] = g;
		}
	}
	free(s->tab);
	s->tab = t;
	s->tab_cap = cap;
}

static struct group *group_find(struct cstate *s, uint64_t h, const char *tenant, char *const *vals)
{
	for (struct group *g = s->tab[h & (s->tab_cap - 1)]; g; g = g->hnext) {
		bool eq = g->hash == h && strcmp(g->tenant, tenant) == 0;
		for (size_t i = 0; eq && i < s->n_group; i++)
			eq = same_val(g->vals[i], vals[i]);
		if (eq)
			return g;
	}
	return NULL;
}

/* The group of (tenant, vals), created when missing (evicting the LRU tail at the limit). */
static struct group *group_get(struct vig_corr *c, struct cstate *s, const char *tenant,
			       char *const *vals)
{
	uint64_t h = group_hash(tenant, vals, s->n_group);
	struct group *g = group_find(s, h, tenant, vals);

	if (g) {
		touch(s, g);
		return g;
	}
	if (s->n >= c->lim.max_groups_per_rule && s->tail) {
		group_remove(c, s, s->tail);
		c->st.evicted_groups++;
	}
	if (!(g = calloc(1, sizeof(*g))))
		return NULL;
	g->hash = h;
	g->tenant = xstrdup(tenant);
	g->vals = calloc(s->n_group ? s->n_group : 1, sizeof(*g->vals));
	if (!g->tenant || !g->vals)
		goto out_free;
	for (size_t i = 0; i < s->n_group; i++)
		if (vals[i] && !(g->vals[i] = xstrdup(vals[i])))
			goto out_free;
	g->newest = INT64_MIN;
	if (s->n + 1 > s->tab_cap)
		tab_grow(s);
	g->hnext = s->tab[h & (s->tab_cap - 1)];
	s->tab[h & (s->tab_cap - 1)] = g;
	lru_front(s, g);
	s->n++;
	c->st.groups++;
	return g;
out_free:
	group_free(g, s->n_group);
	return NULL;
}

/* Drops entries [0, k) of g. */
static void group_drop_front(struct vig_corr *c, struct group *g, size_t k)
{
	if (k > g->n)
		k = g->n;
	for (size_t i = 0; i < k; i++)
		entry_release(&g->ents[i]);
	memmove(g->ents, g->ents + k, (g->n - k) * sizeof(*g->ents));
	g->n -= k;
	c->st.entries -= k;
}

/* Inserts *e (moved in) keeping time order; evicts the oldest entry at the limit. */
static bool group_insert(struct vig_corr *c, struct group *g, struct entry *e)
{
	size_t i;

	if (g->n >= c->lim.max_events_per_group) {
		if (e->t < g->ents[0].t) {
			c->st.evicted_events++;
			entry_release(e);
			return true; /* it would be the one evicted */
		}
		group_drop_front(c, g, 1);
		c->st.evicted_events++;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 8;
		void *p;
		if (cap > c->lim.max_events_per_group)
			cap = c->lim.max_events_per_group;
		if (!(p = realloc(g->ents, cap * sizeof(*g->ents))))
			return false;
		g->ents = p;
		g->cap = cap;
	}
	i = g->n;
	while (i > 0 && g->ents[i - 1].t > e->t)
		i--;
	memmove(g->ents + i + 1, g->ents + i, (g->n - i) * sizeof(*g->ents));
	g->ents[i] = *e;
	memset(e, 0, sizeof(*e));
	g->n++;
	c->st.entries++;
	if (g->ents[i].t > g->newest)
		g->newest = g->ents[i].t;
	return true;
}

/* ---- aggregates and conditions ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The aggregate of cc over entries [0, m) of g into *v; false when there is none (no numbers). */
static bool aggregate(const struct ccorr *cc, const struct group *g, size_t m, double *v)
{
	const struct entry *e = g->ents;
	double sum = 0;
	size_t cnt = 0;

	switch (cc->co->type) {
	case VIG_CORR_EVENT_COUNT:
		*v = (double)m;
		return true;
	case VIG_CORR_VALUE_COUNT: {
		char **p = malloc((m ? m : 1) * sizeof(*p));
		if (!p)
			return false;
		for (size_t i = 0; i < m; i++)
			if (e[i].val)
				p[cnt++] = e[i].val;
		qsort(p, cnt, sizeof(*p), cmp_str);
		*v = 0;
		for (size_t i = 0; i < cnt; i++)
			if (i == 0 || strcmp(p[i], p[i - 1]) != 0)
				*v += 1;
		free(p);
		return true;
	}
	case VIG_CORR_VALUE_SUM:
	case VIG_CORR_VALUE_AVG:
		for (size_t i = 0; i < m; i++)
			if (e[i].has_num) {
				sum += e[i].num;
				cnt++;
			}
		if (cc->co->type == VIG_CORR_VALUE_SUM) {
			*v = sum;
			return true;
		}
		if (!cnt)
			return false;
		*v = sum / (double)cnt;
		return true;
	case VIG_CORR_VALUE_PERCENTILE: {
		const struct entry *x = NULL;
		size_t le = 0;
		for (size_t i = 0; i < m; i++) /* the newest entry that has a value */
			if (e[i].has_num || e[i].val)
				x = &e[i];
		if (!x)
			return false;
		for (size_t i = 0; i < m; i++) {
			if (x->has_num && e[i].has_num) {
				cnt++;
				le += e[i].num <= x->num;
			} else if (!x->has_num && e[i].val) {
				cnt++;
				le += strcmp(e[i].val, x->val) == 0;
			}
		}
		*v = 100.0 * (double)le / (double)cnt;
		return true;
	}
	case VIG_CORR_TEMPORAL: {
		uint64_t seen = 0;
		for (size_t i = 0; i < m; i++)
			seen |= 1ull << e[i].ref;
		*v = (double)__builtin_popcountll(seen);
		return true;
	}
	case VIG_CORR_TEMPORAL_ORDERED: {
		size_t want = 0, nr = cc->co->rules.n;
		for (size_t i = 0; i < m && want < nr; i++)
			if (e[i].ref == cc->refid[want])
				want++;
		*v = (double)want;
		return true;
	}
	}
	return false;
}

static bool cond_ok(const struct ccorr *cc, double v)
{
	const struct vig_sigma_corr_cond *k = &cc->co->cond;

	if (!k->ops) /* temporal without a condition: every referenced rule */
		return cc->co->type == VIG_CORR_TEMPORAL_ORDERED ? v >= (double)cc->co->rules.n
								 : v >= (double)cc->n_distinct;
	return (!(k->ops & VIG_CORR_GT) || v > k->gt) && (!(k->ops & VIG_CORR_GTE) || v >= k->gte) &&
	       (!(k->ops & VIG_CORR_LT) || v < k->lt) && (!(k->ops & VIG_CORR_LTE) || v <= k->lte) &&
	       (!(k->ops & VIG_CORR_EQ) || v == k->eq) && (!(k->ops & VIG_CORR_NEQ) || v != k->neq);
}

/* True when the condition can only become true as entries arrive (checked on every add). */
static bool monotone(const struct vig_sigma_corr *co)
{
	if (co->type == VIG_CORR_VALUE_AVG || co->type == VIG_CORR_VALUE_PERCENTILE)
		return false;
	return (co->cond.ops & ~(VIG_CORR_GT | VIG_CORR_GTE)) == 0;
}

/* ---- firing ---- */

static struct target *find_target(const struct vig_corr *c, const struct vig_sigma_rule *r);
static void feed_src(struct vig_corr *c, const struct vig_sigma_rule *rule, const struct src *s,
		     vig_corr_fire_cb *cb, void *ctx, size_t *n_fired);

/* Fires cc for entries [0, m) of g with value v, feeds the referencing correlations, then
 * drops those entries. */
static void fire(struct vig_corr *c, struct ccorr *cc, struct group *g, size_t m, double v,
		 vig_corr_fire_cb *cb, void *ctx, size_t *n_fired)
{
	size_t max_ids = c->lim.max_event_ids, n_ids = 0, k, from = 0;
	const char **ids = malloc((max_ids ? max_ids : 1) * sizeof(*ids));
	const struct target *self = find_target(c, cc->rule);
	struct vig_corr_fire f = {
		.rule = cc->rule, .tenant = g->tenant, .group_by = cc->gnames, .group_fields = cc->gfields,
		.group_values = (const char *const *)g->vals, .n_group = cc->co->group_by.n, .value = v,
		.last_ns = g->ents[m - 1].t, .alert = self ? self->alerts : true};
	struct src s = {.f = &f, .tenant = g->tenant, .t = f.last_ns};

	/* temporal_ordered: what precedes the first step of the sequence did not contribute */
	while (cc->co->type == VIG_CORR_TEMPORAL_ORDERED && from + 1 < m && g->ents[from].ref != cc->refid[0])
		from++;
	f.first_ns = g->ents[from].t;
	f.n_events = m - from;
	if (ids) { /* the newest ids, reported oldest first */
		for (size_t i = m; i-- > from && n_ids < max_ids;)
			for (uint32_t j = g->ents[i].n_ids; j-- > 0 && n_ids < max_ids;)
				ids[n_ids++] = g->ents[i].ids[j];
		for (k = 0; k < n_ids / 2; k++) {
			const char *t = ids[k];
			ids[k] = ids[n_ids - 1 - k];
			ids[n_ids - 1 - k] = t;
		}
	}
	f.event_ids = ids;
	f.n_event_ids = n_ids;
	c->st.fired++;
	if (n_fired)
		(*n_fired)++;
	if (cb)
		cb(ctx, &f);
	s.ids = ids;
	s.n_ids = n_ids;
	if (self)
		feed_src(c, cc->rule, &s, cb, ctx, n_fired);
	free(ids);
	group_drop_front(c, g, m);
}

/* Checks the window of a close-time correlation that starts at g's first entry, fires when
 * it holds, and drops the window's entries. */
static void close_window(struct vig_corr *c, struct ccorr *cc, struct group *g, vig_corr_fire_cb *cb,
			 void *ctx, size_t *n_fired)
{
	int64_t end = g->ents[0].t + cc->span;
	size_t m = 0;
	double v;

	while (m < g->n && g->ents[m].t < end)
		m++;
	if (aggregate(cc, g, m, &v) && cond_ok(cc, v))
		fire(c, cc, g, m, v, cb, ctx, n_fired);
	else
		group_drop_front(c, g, m);
}

/* Drops the entries of an on-add group older than `horizon`. */
static void prune(struct vig_corr *c, struct group *g, int64_t horizon)
{
	size_t k = 0;

	while (k < g->n && g->ents[k].t < horizon)
		k++;
	if (k)
		group_drop_front(c, g, k);
}

/* Adds entry *e (moved in) to the group of (tenant, vals) of cc. */
static enum vig_err add_entry(struct vig_corr *c, struct ccorr *cc, const char *tenant, char *const *vals,
			      struct entry *e, vig_corr_fire_cb *cb, void *ctx, size_t *n_fired)
{
	struct group *g = group_get(c, cc->st, tenant, vals);
	double v;

	if (!g) {
		entry_release(e);
		return VIG_ENOMEM;
	}
	if (g->n && e->t < g->newest - cc->span) {
		c->st.late_events++;
		entry_release(e);
		return VIG_OK;
	}
	if (cc->on_add)
		prune(c, g, (e->t > g->newest ? e->t : g->newest) - cc->span);
	else
		while (g->n && e->t >= g->ents[0].t + cc->span)
			close_window(c, cc, g, cb, ctx, n_fired);
	if (!group_insert(c, g, e)) {
		entry_release(e);
		return VIG_ENOMEM;
	}
	c->st.fed++;
	if (cc->on_add && g->n && aggregate(cc, g, g->n, &v) && cond_ok(cc, v))
		fire(c, cc, g, g->n, v, cb, ctx, n_fired);
	return VIG_OK; /* an emptied group keeps its place (and newest) until vig_corr_advance() */
}

/* ---- reading sources ---- */

/* Text of field `name` of s into buf (VIG_CORR_VALUE_MAX bytes); NULL when missing. */
static const char *src_text(const struct src *s, const char *name, char *buf, bool *is_num, double *num)
{
	*is_num = false;
	if (s->ev) {
		const struct vig_val *v = vig_event_get_by_name(s->ev, name, strlen(name));
		const char *direct = NULL;
		size_t n;
		if (!v)
			return NULL;
		if (v->type == VIG_T_INT) {
			*is_num = true;
			*num = (double)v->u.i;
		} else if (v->type == VIG_T_FLOAT) {
			*is_num = true;
			*num = v->u.d;
		}
		n = vig_val_text(v, buf, VIG_CORR_VALUE_MAX, &direct);
		if (direct) {
			n = cut_len(direct, n, VIG_CORR_VALUE_MAX);
			memcpy(buf, direct, n);
		} else {
			n = cut_len(buf, n < VIG_CORR_VALUE_MAX ? n : VIG_CORR_VALUE_MAX - 1, VIG_CORR_VALUE_MAX);
		}
		buf[n] = 0;
		if (!*is_num && parse_num(buf, num))
			*is_num = true;
		return buf;
	}
	for (size_t i = 0; s->f && i < s->f->n_group; i++)
		if (strcasecmp(s->f->group_by[i], name) == 0) {
			const char *x = s->f->group_values[i];
			size_t n;
			if (!x)
				return NULL;
			n = cut_len(x, strlen(x), VIG_CORR_VALUE_MAX);
			memcpy(buf, x, n);
			buf[n] = 0;
			*is_num = parse_num(buf, num);
			return buf;
		}
	return NULL;
}

/* Builds the entry of s for user u. */
static enum vig_err make_entry(const struct vig_corr *c, const struct user *u, const struct src *s,
			       struct entry *e)
{
	char buf[VIG_CORR_VALUE_MAX];
	size_t n_ids = s->n_ids < c->lim.max_event_ids ? s->n_ids : c->lim.max_event_ids;

	memset(e, 0, sizeof(*e));
	e->t = s->t;
	e->ref = u->ref;
	if (u->valfield) {
		const char *x = src_text(s, u->valfield, buf, &e->has_num, &e->num);
		if (x && !(e->val = xstrdup(x)))
			return VIG_ENOMEM;
	} else if (s->f) {
		e->has_num = true; /* a chained firing aggregates its own value */
		e->num = s->f->value;
	}
	if (n_ids) {
		size_t skip = s->n_ids - n_ids; /* keep the newest */
		if (!(e->ids = calloc(n_ids, sizeof(*e->ids))))
			goto out_oom;
		for (size_t i = 0; i < n_ids; i++) {
			const char *id = s->ids[skip + i];
			if (!id)
				continue;
			if (!(e->ids[e->n_ids] = xstrndup(id, cut_len(id, strlen(id), VIG_CORR_ID_MAX))))
				goto out_oom;
			e->n_ids++;
		}
	}
	return VIG_OK;
out_oom:
	entry_release(e);
	return VIG_ENOMEM;
}

static void feed_src(struct vig_corr *c, const struct vig_sigma_rule *rule, const struct src *s,
		     vig_corr_fire_cb *cb, void *ctx, size_t *n_fired)
{
	const struct target *t = find_target(c, rule);

	for (size_t i = 0; t && i < t->n_users; i++) {
		const struct user *u = &t->users[i];
		struct ccorr *cc = &c->corrs[u->corr];
		char vbuf[MAX_GROUP_BY][VIG_CORR_VALUE_MAX];
		char *vals[MAX_GROUP_BY];
		struct entry e;
		bool isnum;
		double num;

		if (!cc->active)
			continue;
		for (size_t k = 0; k < cc->co->group_by.n; k++)
			vals[k] = (char *)src_text(s, u->fields[k], vbuf[k], &isnum, &num);
		if (make_entry(c, u, s, &e) != VIG_OK ||
		    add_entry(c, cc, s->tenant, vals, &e, cb, ctx, n_fired) != VIG_OK)
			c->st.errors++;
	}
}

/* ---- rule installation ---- */

static int cmp_target(const void *a, const void *b)
{
	const struct vig_sigma_rule *x = ((const struct target *)a)->rule, *y = ((const struct target *)b)->rule;

	return x < y ? -1 : x > y;
}

static struct target *find_target(const struct vig_corr *c, const struct vig_sigma_rule *r)
{
	struct target key = {.rule = r};

	if (!c->n_targets)
		return NULL;
	return bsearch(&key, c->targets, c->n_targets, sizeof(key), cmp_target);
}

static const char *rule_key(const struct vig_sigma_rule *r)
{
	return r->id ? r->id : r->name ? r->name : r->title;
}

/* The definition signature of a correlation: what its state depends on. */
static char *corr_sig(const struct vig_sigma_corr *co)
{
	struct vig_buf b;

	vig_buf_init(&b, 1u << 20);
	vig_buf_printf(&b, "%d|%lld|%s|", (int)co->type, (long long)co->timespan_s,
		       co->cond.field ? co->cond.field : "");
	for (size_t i = 0; i < co->rules.n; i++)
		vig_buf_printf(&b, "r:%s\x1f", co->rules.v[i]);
	for (size_t i = 0; i < co->group_by.n; i++)
		vig_buf_printf(&b, "g:%s\x1f", co->group_by.v[i]);
	for (size_t i = 0; i < co->n_aliases; i++)
		vig_buf_printf(&b, "a:%s=%s=%s\x1f", co->aliases[i].name, co->aliases[i].rule,
			       co->aliases[i].field);
	if (vig_buf_err(&b) || !b.data) {
		vig_buf_release(&b);
		return NULL;
	}
	return vig_buf_take(&b, NULL);
}

static bool refers(const struct vig_sigma_rule *r, const char *s)
{
	return (r->id && strcmp(r->id, s) == 0) || (r->name && strcmp(r->name, s) == 0);
}

/* Name to read for group-by `g` from events of rule r in correlation co (aliases, mapping). */
static const char *field_for(const struct vig_sigma_corr *co, const struct vig_sigma_rule *r, const char *g)
{
	const char *f = g, *m;

	for (size_t i = 0; i < co->n_aliases; i++)
		if (strcmp(co->aliases[i].name, g) == 0 && refers(r, co->aliases[i].rule))
			f = co->aliases[i].field;
	if (r->kind != VIG_SIGMA_DETECTION)
		return f;
	m = vig_sigma_field(r->logsource.product, r->logsource.category, r->logsource.service, f);
	return m ? m : f;
}

static void targets_free(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < t[i].n_users; j++)
			free(t[i].users[j].fields);
		free(t[i].users);
	}
	free(t);
}

static void corrs_free(struct ccorr *cs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(cs[i].deps);
		free(cs[i].gnames);
		free(cs[i].gfields);
	}
	free(cs);
}

/* The target of r in t[0..*n), appended when missing (t has room for every rule). */
static struct target *target_of(struct target *t, size_t *n, const struct vig_sigma_rule *r)
{
	for (size_t i = 0; i < *n; i++)
		if (t[i].rule == r)
			return &t[i];
	t[*n] = (struct target){.rule = r, .alerts = false};
	return &t[(*n)++];
}

/* Resolves cc's references into users of t; false (reason in why) when one is missing. */
static enum vig_err resolve(struct ccorr *cs, size_t ci, struct vig_sigma_rule *const *rules, size_t n,
			    struct target *t, size_t *nt, const size_t *corr_of, char *why)
{
	struct ccorr *cc = &cs[ci];
	const struct vig_sigma_corr *co = cc->co;

	if (co->timespan_s <= 0 || co->timespan_s > MAX_SPAN_S)
		return vig_errf(why, VIG_EINVAL, "correlation timespan out of range");
	if (co->rules.n > MAX_REFS)
		return vig_errf(why, VIG_ETOOBIG, "correlation references more than %d rules", MAX_REFS);
	if (co->group_by.n > MAX_GROUP_BY)
		return vig_errf(why, VIG_ETOOBIG, "correlation groups by more than %d fields", MAX_GROUP_BY);
	for (size_t p = 0; p < co->rules.n; p++) {
		const char *name = co->rules.v[p];
		size_t first = p, found = 0;
		for (size_t q = 0; q < p; q++)
			if (strcmp(co->rules.v[q], name) == 0) {
				first = q;
				break;
			}
		if (first != p) {
			cc->refid[p] = cc->refid[first];
			continue;
		}
		cc->refid[p] = cc->n_distinct++;
		for (size_t r = 0; r < n; r++) {
			struct target *tg;
			struct user *u;
			void *np;
			if (rules[r] == cc->rule || !refers(rules[r], name))
				continue;
			if (rules[r]->kind == VIG_SIGMA_FILTER)
				return vig_errf(why, VIG_EINVAL, "correlation references filter '%.80s'", name);
			found++;
			tg = target_of(t, nt, rules[r]);
			if (!(np = realloc(tg->users, (tg->n_users + 1) * sizeof(*tg->users))))
				return VIG_ENOMEM;
			tg->users = np;
			u = &tg->users[tg->n_users];
			*u = (struct user){.corr = ci, .ref = cc->refid[p]};
			if (!(u->fields = calloc(co->group_by.n + 1, sizeof(*u->fields))))
				return VIG_ENOMEM;
			tg->n_users++;
			for (size_t g = 0; g < co->group_by.n; g++)
				u->fields[g] = field_for(co, rules[r], co->group_by.v[g]);
			if (p == 0 && found == 1 && rules[r]->kind == VIG_SIGMA_DETECTION)
				for (size_t g = 0; g < co->group_by.n; g++)
					cc->gfields[g] = u->fields[g];
			if (co->cond.field)
				u->valfield = field_for(co, rules[r], co->cond.field);
			if (rules[r]->kind == VIG_SIGMA_CORRELATION) {
				if (!(np = realloc(cc->deps, (cc->n_deps + 1) * sizeof(*cc->deps))))
					return VIG_ENOMEM;
				cc->deps = np;
				cc->deps[cc->n_deps++] = (int64_t)corr_of[r];
			}
		}
		if (!found)
			return vig_errf(why, VIG_ENOTFOUND, "correlation references unknown rule '%.80s'", name);
	}
	return VIG_OK;
}

/* Marks correlations on a cycle, or depending on an inactive one, inactive. */
static void deactivate_cycles(struct ccorr *cs, size_t n, vig_corr_problem_cb *cb, void *ctx)
{
	bool changed = true;
	uint8_t *color = calloc(n ? n : 1, 1);
	size_t *stack = malloc((n ? n : 1) * sizeof(*stack)), *pos = calloc(n ? n : 1, sizeof(*pos));

	if (color && stack && pos) {
		for (size_t s = 0; s < n; s++) { /* iterative DFS: 1 = on the stack, 2 = done */
			size_t sp = 0;
			if (color[s])
				continue;
			stack[sp++] = s;
			color[s] = 1;
			while (sp) {
				size_t v = stack[sp - 1];
				if (pos[v] < cs[v].n_deps) {
					size_t w = (size_t)cs[v].deps[pos[v]++];
					if (color[w] == 1) {
						for (size_t k = sp; k-- > 0;) {
							if (cs[stack[k]].active && cb)
								cb(ctx, cs[stack[k]].rule, "correlation rules form a cycle");
							cs[stack[k]].active = false;
							if (stack[k] == w)
								break;
						}
					} else if (!color[w]) {
						color[w] = 1;
						stack[sp++] = w;
					}
				} else {
					color[v] = 2;
					sp--;
				}
			}
		}
	}
	free(color);
	free(stack);
	free(pos);
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++)
			for (size_t d = 0; cs[i].active && d < cs[i].n_deps; d++)
				if (!cs[(size_t)cs[i].deps[d]].active) {
					cs[i].active = false;
					changed = true;
					if (cb)
						cb(ctx, cs[i].rule, "correlation references an inactive correlation");
				}
	}
}

struct vig_corr *vig_corr_new(const struct vig_corr_limits *lim)
{
	struct vig_corr *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_groups_per_rule)
		c->lim.max_groups_per_rule = DEF_MAX_GROUPS;
	if (!c->lim.max_events_per_group)
		c->lim.max_events_per_group = DEF_MAX_EVENTS;
	if (!c->lim.max_event_ids)
		c->lim.max_event_ids = DEF_MAX_IDS;
	if (c->lim.max_event_ids > MAX_IDS)
		c->lim.max_event_ids = MAX_IDS;
	if (!c->lim.max_snapshot_bytes)
		c->lim.max_snapshot_bytes = DEF_MAX_SNAPSHOT;
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void vig_corr_free(struct vig_corr *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_corrs; i++)
		cstate_free(c, c->corrs[i].st);
	corrs_free(c->corrs, c->n_corrs);
	targets_free(c->targets, c->n_targets);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Claims (or creates) the state of cs[i] from the old correlations. */
static enum vig_err claim_state(struct vig_corr *c, struct ccorr *cc)
{
	char *sig = corr_sig(cc->co);
	const char *key = rule_key(cc->rule);

	if (!sig)
		return VIG_ENOMEM;
	for (size_t i = 0; i < c->n_corrs; i++) {
		struct cstate *s = c->corrs[i].st;
		if (s && !s->taken && strcmp(s->key, key) == 0 && strcmp(s->sig, sig) == 0) {
			s->taken = true;
			cc->st = s;
			free(sig);
			return VIG_OK;
		}
	}
	cc->st = cstate_new(key, sig, cc->co->group_by.n);
	free(sig);
	return cc->st ? VIG_OK : VIG_ENOMEM;
}

enum vig_err vig_corr_set_rules(struct vig_corr *c, struct vig_sigma_rule *const *rules, size_t n,
				vig_corr_problem_cb *cb, void *ctx, char *errbuf)
{
	struct ccorr *cs = NULL;
	struct target *t = NULL;
	size_t *corr_of = NULL, nc = 0, nt = 0;
	char why[VIG_ERRBUF_SIZE];
	enum vig_err err = VIG_ENOMEM;

	pthread_mutex_lock(&c->mu);
	cs = calloc(n ? n : 1, sizeof(*cs));
	t = calloc(n ? n : 1, sizeof(*t));
	corr_of = calloc(n ? n : 1, sizeof(*corr_of));
	if (!cs || !t || !corr_of)
		goto out_fail;
	for (size_t i = 0; i < n; i++)
		if (rules[i]->kind == VIG_SIGMA_CORRELATION && rules[i]->corr) {
			struct ccorr *cc = &cs[nc];
			corr_of[i] = nc++;
			cc->rule = rules[i];
			cc->co = rules[i]->corr;
			cc->span = cc->co->timespan_s > 0 && cc->co->timespan_s <= MAX_SPAN_S
					   ? cc->co->timespan_s * VIG_NS_PER_SEC : 0;
			cc->on_add = monotone(cc->co);
			cc->active = true;
			if (!(cc->gnames = calloc(cc->co->group_by.n + 1, sizeof(*cc->gnames))))
				goto out_fail;
			if (!(cc->gfields = calloc(cc->co->group_by.n + 1, sizeof(*cc->gfields))))
				goto out_fail;
			for (size_t g = 0; g < cc->co->group_by.n; g++)
				cc->gnames[g] = cc->gfields[g] = cc->co->group_by.v[g];
		}
	for (size_t i = 0; i < nc; i++) {
		enum vig_err e = resolve(cs, i, rules, n, t, &nt, corr_of, why);
		if (e == VIG_ENOMEM)
			goto out_fail;
		if (e != VIG_OK) {
			cs[i].active = false;
			if (cb)
				cb(ctx, cs[i].rule, why);
		}
	}
	deactivate_cycles(cs, nc, cb, ctx);
	for (size_t i = 0; i < nc; i++)
		if (cs[i].active && claim_state(c, &cs[i]) != VIG_OK)
			goto out_fail;
	/* generate: a referenced rule alerts when one of its active referrers says so */
	for (size_t i = 0; i < nt; i++) {
		t[i].alerts = false;
		for (size_t j = 0; j < t[i].n_users; j++)
			if (cs[t[i].users[j].corr].active && cs[t[i].users[j].corr].co->generate)
				t[i].alerts = true;
		if (!t[i].alerts) { /* referenced only by inactive correlations: alerts as usual */
			bool any = false;
			for (size_t j = 0; j < t[i].n_users; j++)
				any |= cs[t[i].users[j].corr].active;
			t[i].alerts = !any;
		}
	}
	qsort(t, nt, sizeof(*t), cmp_target);
	/* swap: drop the states nobody claimed */
	for (size_t i = 0; i < c->n_corrs; i++) {
		struct cstate *s = c->corrs[i].st;
		if (s && !s->taken) {
			c->st.dropped_groups += s->n;
			cstate_free(c, s);
		} else if (s) {
			s->taken = false;
		}
	}
	corrs_free(c->corrs, c->n_corrs);
	targets_free(c->targets, c->n_targets);
	c->corrs = cs;
	c->n_corrs = nc;
	c->targets = t;
	c->n_targets = nt;
	c->st.rules = c->st.inactive = 0;
	for (size_t i = 0; i < nc; i++)
		*(cs[i].active ? &c->st.rules : &c->st.inactive) += 1;
	free(corr_of);
	pthread_mutex_unlock(&c->mu);
	return VIG_OK;
out_fail:
	for (size_t i = 0; i < nc; i++) /* give back claimed states, free new ones */
		if (cs[i].st && cs[i].st->taken)
			cs[i].st->taken = false;
		else if (cs[i].st)
			cstate_free(c, cs[i].st);
	if (cs)
		corrs_free(cs, nc);
	targets_free(t, nt);
	free(corr_of);
	pthread_mutex_unlock(&c->mu);
	return vig_errf(errbuf, err, "out of memory");
}

bool vig_corr_rule_alerts(const struct vig_corr *c, const struct vig_sigma_rule *rule)
{
	struct vig_corr *m = (struct vig_corr *)c;
	const struct target *t;
	bool r;

	pthread_mutex_lock(&m->mu);
	t = find_target(c, rule);
	r = t ? t->alerts : true;
	pthread_mutex_unlock(&m->mu);
	return r;
}

bool vig_corr_rule_used(const struct vig_corr *c, const struct vig_sigma_rule *rule)
{
	struct vig_corr *m = (struct vig_corr *)c;
	const struct target *t;
	bool r = false;

	pthread_mutex_lock(&m->mu);
	t = find_target(c, rule);
	for (size_t i = 0; t && i < t->n_users && !r; i++)
		r = c->corrs[t->users[i].corr].active;
	pthread_mutex_unlock(&m->mu);
	return r;
}

enum vig_err vig_corr_feed(struct vig_corr *c, const struct vig_sigma_rule *rule, const char *tenant,
			   const struct vig_event *ev, vig_corr_fire_cb *cb, void *ctx, size_t *n_fired)
{
	const struct vig_val *ts, *id, *tn;
	const char *idp = NULL;
	struct src s = {.ev = ev};
	size_t nf = 0;

	if (n_fired)
		*n_fired = 0;
	if (!c || !rule || !ev)
		return VIG_EINVAL;
	ts = vig_event_get(ev, VIG_F_TIMESTAMP);
	id = vig_event_get(ev, VIG_F_EVENT_ID);
	tn = vig_event_get(ev, VIG_F_TENANT_ID);
	s.t = ts && ts->type == VIG_T_TS ? ts->u.i : vig_time_now();
	s.tenant = tenant ? tenant : tn && tn->type == VIG_T_STR ? tn->u.s : "";
	if (id && id->type == VIG_T_STR)
		idp = id->u.s;
	s.ids = &idp;
	s.n_ids = idp ? 1 : 0;
	pthread_mutex_lock(&c->mu);
	feed_src(c, rule, &s, cb, ctx, &nf);
	pthread_mutex_unlock(&c->mu);
	if (n_fired)
		*n_fired = nf;
	return VIG_OK;
}

enum vig_err vig_corr_advance(struct vig_corr *c, int64_t now_ns, vig_corr_fire_cb *cb, void *ctx,
			      size_t *n_fired)
{
	size_t nf = 0;

	if (n_fired)
		*n_fired = 0;
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->n_corrs; i++) {
		struct ccorr *cc = &c->corrs[i];
		struct group *g, *nx;
		if (!cc->active)
			continue;
		for (g = cc->st->head; g; g = nx) {
			nx = g->next;
			if (cc->on_add)
				prune(c, g, now_ns - cc->span);
			else
				while (g->n && now_ns >= g->ents[0].t + cc->span)
					close_window(c, cc, g, cb, ctx, &nf);
			if (!g->n)
				group_remove(c, cc->st, g);
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (n_fired)
		*n_fired = nf;
	return VIG_OK;
}

void vig_corr_get_stats(const struct vig_corr *c, struct vig_corr_stats *out)
{
	struct vig_corr *m = (struct vig_corr *)c;

	pthread_mutex_lock(&m->mu);
	*out = c->st;
	pthread_mutex_unlock(&m->mu);
}

/* ---- persistence ---- */

/* Appends s percent-encoded (tab, newline, control bytes, '%' and space); NULL as a lone '%'. */
static void put_text(struct vig_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	vig_buf_addc(b, '\t');
	if (!s) {
		vig_buf_addc(b, '%');
		return;
	}
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch == '%' || ch == 0x7f) {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			vig_buf_add(b, e, 3);
		} else {
			vig_buf_addc(b, (char)ch);
		}
	}
}

static void save_group(struct vig_buf *b, const struct cstate *s, const struct group *g)
{
	vig_buf_adds(b, "G");
	put_text(b, g->tenant);
	vig_buf_printf(b, "\t%zu", s->n_group);
	for (size_t i = 0; i < s->n_group; i++)
		put_text(b, g->vals[i]);
	vig_buf_printf(b, "\t%lld\n", (long long)g->newest);
	for (size_t i = 0; i < g->n; i++) {
		const struct entry *e = &g->ents[i];
		vig_buf_printf(b, "E\t%lld\t%u\t%d\t%.17g", (long long)e->t, e->ref, e->has_num ? 1 : 0,
			       e->has_num ? e->num : 0.0);
		put_text(b, e->val);
		vig_buf_printf(b, "\t%u", e->n_ids);
		for (uint32_t k = 0; k < e->n_ids; k++)
			put_text(b, e->ids[k]);
		vig_buf_addc(b, '\n');
	}
}

static enum vig_err write_file(const char *path, const char *data, size_t len, char *errbuf)
{
	char tmp[4096];
	int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	size_t off = 0;

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return vig_errf(errbuf, VIG_EINVAL, "correlation state path too long");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot create '%s': %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out_io;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out_io;
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return vig_errf(errbuf, VIG_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
	}
	return VIG_OK;
out_io:
	vig_errf(errbuf, VIG_EIO, "cannot write '%s': %s", tmp, strerror(errno));
	close(fd);
	unlink(tmp);
	return VIG_EIO;
}

enum vig_err vig_corr_save(struct vig_corr *c, const char *path, char *errbuf)
{
	struct vig_buf b;
	enum vig_err err;

	vig_buf_init(&b, c->lim.max_snapshot_bytes);
	pthread_mutex_lock(&c->mu);
	vig_buf_adds(&b, SNAP_MAGIC "\n");
	for (size_t i = 0; i < c->n_corrs; i++) {
		const struct cstate *s = c->corrs[i].st;
		if (!c->corrs[i].active || !s || !s->n)
			continue;
		vig_buf_adds(&b, "C");
		put_text(&b, s->key);
		put_text(&b, s->sig);
		vig_buf_addc(&b, '\n');
		for (const struct group *g = s->tail; g; g = g->prev) /* oldest first: LRU order restores */
			if (g->n)
				save_group(&b, s, g);
	}
	pthread_mutex_unlock(&c->mu);
	err = vig_buf_err(&b);
	if (err == VIG_ETOOBIG)
		err = vig_errf(errbuf, err, "correlation state over %zu bytes, not saved", c->lim.max_snapshot_bytes);
	else if (err)
		err = vig_errf(errbuf, err, "out of memory");
	else
		err = write_file(path, b.data, b.len, errbuf);
	vig_buf_release(&b);
	return err;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* Splits line (modified in place) at tabs into at most max fields; returns the count. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *tab = strchr(line, '\t');
		f[n++] = line;
		if (!tab)
			break;
		*tab = 0;
		line = tab + 1;
	}
	return n;
}

/* Decodes a put_text() field in place; *is_null set for the lone '%'. False when malformed. */
static bool get_text(char *s, bool *is_null)
{
	char *o = s;

	*is_null = strcmp(s, "%") == 0;
	if (*is_null)
		return true;
	for (; *s; s++) {
		if (*s == '%') {
			int h = hexval(s[1]), l = h < 0 ? -1 : hexval(s[2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return false;
			*o++ = (char)(h << 4 | l);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return true;
}

static bool get_i64(const char *s, int64_t *v)
{
	return vig_parse_i64(s, strlen(s), v);
}

/* Restore state machine: the correlation and group the following lines belong to. */
struct restore {
	struct ccorr *cc; /* NULL: skipping */
	struct group *g;
	bool in_c;        /* inside a C section (known or skipped) */
	size_t restored;
};

static bool restore_c(struct vig_corr *c, struct restore *r, char **f, size_t nf)
{
	bool n1, n2;

	if (nf != 3 || !get_text(f[1], &n1) || !get_text(f[2], &n2) || n1 || n2)
		return false;
	r->cc = NULL;
	r->g = NULL;
	r->in_c = true;
	for (size_t i = 0; i < c->n_corrs; i++)
		if (c->corrs[i].active && strcmp(c->corrs[i].st->key, f[1]) == 0 &&
		    strcmp(c->corrs[i].st->sig, f[2]) == 0)
			r->cc = &c->corrs[i];
	return true;
}

static bool restore_g(struct vig_corr *c, struct restore *r, char **f, size_t nf)
{
	char *vals[MAX_GROUP_BY];
	int64_t ng, newest;
	bool isnull;

	r->g = NULL;
	if (!r->in_c || nf < 4 || !get_i64(f[2], &ng) || ng < 0 || ng > MAX_GROUP_BY || nf != (size_t)ng + 4 ||
	    !get_text(f[1], &isnull) || isnull || !get_i64(f[nf - 1], &newest))
		return false;
	for (int64_t i = 0; i < ng; i++) {
		if (!get_text(f[3 + i], &isnull))
			return false;
		vals[i] = isnull ? NULL : f[3 + i];
	}
	if (!r->cc || (size_t)ng != r->cc->st->n_group) {
		c->st.restore_skipped++;
		return true;
	}
	if (!(r->g = group_get(c, r->cc->st, f[1], vals)))
		return true;
	if (newest > r->g->newest)
		r->g->newest = newest;
	c->st.restored_groups++;
	r->restored++;
	return true;
}

static bool restore_e(struct vig_corr *c, struct restore *r, char **f, size_t nf)
{
	struct entry e;
	int64_t t, ref, has, nid;
	double num;
	bool isnull;

	if (!r->in_c || nf < 7 || !get_i64(f[1], &t) || !get_i64(f[2], &ref) || !get_i64(f[3], &has) ||
	    !parse_num(f[4], &num) || !get_text(f[5], &isnull) || !get_i64(f[6], &nid) || nid < 0 ||
	    nf != (size_t)nid + 7)
		return false;
	if (!r->g)
		return true; /* skipped group */
	if (ref < 0 || ref >= (int64_t)r->cc->n_distinct)
		return false;
	memset(&e, 0, sizeof(e));
	e.t = t;
	e.ref = (uint32_t)ref;
	e.has_num = has != 0;
	e.num = num;
	if (!isnull && !(e.val = xstrndup(f[5], cut_len(f[5], strlen(f[5]), VIG_CORR_VALUE_MAX))))
		return true;
	if (nid > (int64_t)c->lim.max_event_ids)
		nid = (int64_t)c->lim.max_event_ids; /* keeps the first ones: the limit shrank */
	if (nid && !(e.ids = calloc((size_t)nid, sizeof(*e.ids)))) {
		entry_release(&e);
		return true;
	}
	for (int64_t i = 0; i < nid; i++) {
		if (!get_text(f[7 + i], &isnull) || isnull) {
			entry_release(&e);
			return false;
		}
		if ((e.ids[e.n_ids] = xstrndup(f[7 + i], cut_len(f[7 + i], strlen(f[7 + i]), VIG_CORR_ID_MAX))))
			e.n_ids++;
	}
	if (!group_insert(c, r->g, &e))
		entry_release(&e);
	return true;
}

static enum vig_err read_file(const char *path, size_t max, char **out, size_t *len, char *errbuf)
{
	FILE *fp = fopen(path, "rbe");
	struct vig_buf b;
	char chunk[65536];
	size_t n;

	*out = NULL;
	if (!fp)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "cannot open '%s': %s", path,
				strerror(errno));
	vig_buf_init(&b, max);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		if (vig_buf_add(&b, chunk, n) != VIG_OK)
			break;
	if (ferror(fp) && !vig_buf_err(&b)) {
		fclose(fp);
		vig_buf_release(&b);
		return vig_errf(errbuf, VIG_EIO, "cannot read '%s'", path);
	}
	fclose(fp);
	if (vig_buf_err(&b) == VIG_ETOOBIG)
		return vig_errf(errbuf, VIG_ETOOBIG, "correlation state '%s' is over %zu bytes", path, max);
	if (vig_buf_err(&b))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	*out = vig_buf_take(&b, len);
	if (!*out) {
		*out = xstrdup("");
		*len = 0;
	}
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_corr_restore(struct vig_corr *c, const char *path, size_t *restored, char *errbuf)
{
	enum { MAXF = 7 + MAX_IDS + 1 };
	struct restore r = {0};
	char *data, *line, **f = NULL;
	size_t len, lineno = 0;
	enum vig_err err;

	if (restored)
		*restored = 0;
	err = read_file(path, c->lim.max_snapshot_bytes, &data, &len, errbuf);
	if (err)
		return err;
	if (!(f = malloc(MAXF * sizeof(*f)))) {
		free(data);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	pthread_mutex_lock(&c->mu);
	line = data;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		size_t nf;
		bool ok;
		lineno++;
		if (!nl) {
			err = vig_errf(errbuf, VIG_EPARSE, "correlation state line %zu is truncated", lineno);
			break;
		}
		*nl = 0;
		if (lineno == 1) {
			ok = strcmp(line, SNAP_MAGIC) == 0;
		} else {
			nf = split(line, f, MAXF);
			ok = strlen(f[0]) == 1;
			if (ok && f[0][0] == 'C')
				ok = restore_c(c, &r, f, nf);
			else if (ok && f[0][0] == 'G')
				ok = restore_g(c, &r, f, nf);
			else if (ok && f[0][0] == 'E')
				ok = restore_e(c, &r, f, nf);
			else
				ok = false;
		}
		if (!ok) {
			err = vig_errf(errbuf, VIG_EPARSE, "correlation state line %zu is malformed", lineno);
			break;
		}
		line = nl + 1;
	}
	/* drop groups that got no entry (skipped or failed entries) */
	for (size_t i = 0; i < c->n_corrs; i++) {
		struct group *g, *nx;
		if (!c->corrs[i].active)
			continue;
		for (g = c->corrs[i].st->head; g; g = nx) {
			nx = g->next;
			if (!g->n)
				group_remove(c, c->corrs[i].st, g);
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (restored)
		*restored = r.restored;
	free(f);
	free(data);
	return err;
}
