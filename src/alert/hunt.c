/*
 * hunt.c - retro-hunts (hunt.h): the prefilter compiler from a loaded Sigma detection into the
 * store's query language, and the hunt queue with its one worker thread.
 *
 * The prefilter reads the compiled detection program (detect/sigma_int.h: atoms and boolean
 * nodes) rather than the YAML, so it sees exactly what the engine evaluates: modifiers are
 * already expanded into globs or regexes, and the condition is already a tree. Each node
 * yields the query text of a necessary condition, or nothing (no requirement).
 *
 * Worker (state machine of one hunt): QUEUED -> RUNNING -> DONE | CANCELLED | FAILED, or
 * QUEUED -> CANCELLED when cancelled before it starts. Only the worker moves a hunt out of
 * RUNNING; the cancel flag is polled per event and per page.
 */
#include "alert/hunt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/policy.h"
#include "common/log.h"
#include "common/vtime.h"
#include "detect/detect.h"
#include "detect/sigma_int.h"
#include "event/event.h"

/* ---- prefilter ---- */

/* One necessary condition: query text (malloc'ed) and its number of terms; q NULL = none. */
struct pf {
	char *q;
	size_t terms;
};

static void pf_free(struct pf *p)
{
	free(p->q);
	p->q = NULL;
	p->terms = 0;
}

static bool query_field_ok(const char *s)
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

/* Would text look like a number or boolean to the store's JSON (extension fields)? */
static bool ext_ambiguous(const char *s, size_t n)
{
	bool numeric = n > 0;

	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-' || s[i] == '+' ||
		      s[i] == 'e' || s[i] == 'E'))
			numeric = false;
	return numeric || (n == 4 && strncasecmp(s, "true", 4) == 0) ||
	       (n == 5 && strncasecmp(s, "false", 5) == 0);
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The requirement of one value test (an atom), or none. */
static struct pf pf_atom(const struct vig_sigma_atom *a)
{
	struct pf r = {NULL, 0};
	int fid = vig_field_lookup(a->field, strlen(a->field));
	const struct vig_field_info *fi = fid >= 0 ? vig_field_info((enum vig_field)fid) : NULL;
	struct vig_glob g;
	struct vig_buf b;
	bool exact;

	if (!query_field_ok(a->field))
		return r;
	if (fi && fi->type != VIG_T_STR && fi->type != VIG_T_LIST)
		return r; /* numbers, times, addresses: the store compares them by value */
	vig_buf_init(&b, VIG_HUNT_PREFILTER_MAX + 1);
	if (a->kind == VIG_ATOM_PRESENT || a->kind == VIG_ATOM_NONEMPTY) {
		vig_buf_printf(&b, "%s:*", a->field);
		goto out;
	}
	if (a->kind != VIG_ATOM_STR || !vig_glob_parse(a->rx, a->rx_flags, &g))
		goto out_none;
	if (g.lit_len == 0 || (fi && (fi->flags & VIG_FF_KW) && g.ci)) {
		vig_glob_release(&g);
		goto out_none;
	}
	exact = g.pure && g.as && g.ae;
	{
		char lit[VIG_HUNT_PREFILTER_MAX];
		size_t n = 0;

		for (uint32_t i = 0; i < g.lit_len && n + 1 < sizeof(lit); i++)
			lit[n++] = (char)g.tok[g.lit_off + i];
		lit[n] = '\0';
		if (n < g.lit_len || (!fi && ext_ambiguous(lit, n))) {
			vig_glob_release(&g);
			goto out_none;
		}
		vig_buf_printf(&b, "%s:", a->field);
		if (exact) {
			vig_buf_addc(&b, '"');
			for (size_t i = 0; i < n; i++) {
				if (lit[i] == '"' || lit[i] == '\\')
					vig_buf_addc(&b, '\\');
				vig_buf_addc(&b, lit[i]);
			}
			vig_buf_addc(&b, '"');
		} else {
			vig_buf_addc(&b, '*');
			for (size_t i = 0; i < n; i++) {
				if (!is_alnum((unsigned char)lit[i]))
					vig_buf_addc(&b, '\\');
				vig_buf_addc(&b, lit[i]);
			}
			vig_buf_addc(&b, '*');
		}
	}
	vig_glob_release(&g);
out:
	if (vig_buf_err(&b) == VIG_OK && b.len > 0) {
		r.q = vig_buf_take(&b, NULL);
		r.terms = r.q ? 1 : 0;
	}
out_none:
	vig_buf_release(&b);
	return r;
}

/* Joins parts with op; for OR any missing part (or an overflow) makes the whole missing,
 * for AND missing parts are skipped and parts that do not fit are dropped. Consumes parts. */
static struct pf pf_join(struct pf *parts, size_t n, bool is_and)
{
	struct pf r = {NULL, 0};
	struct vig_buf b;
	size_t used = 0, last = 0;

	vig_buf_init(&b, VIG_HUNT_PREFILTER_MAX + 1);
	for (size_t i = 0; i < n; i++) {
		struct pf *p = &parts[i];

		if (!p->q) {
			if (!is_and)
				goto out_none;
			continue;
		}
		if (b.len + strlen(p->q) + 8 > VIG_HUNT_PREFILTER_MAX ||
		    r.terms + p->terms > VIG_HUNT_PREFILTER_TERMS) {
			if (!is_and)
				goto out_none;
			continue;
		}
		vig_buf_printf(&b, "%s(%s)", used ? (is_and ? " and " : " or ") : "", p->q);
		r.terms += p->terms;
		last = i;
		used++;
	}
	if (used == 1) { /* a single part needs no parentheses */
		r.q = parts[last].q;
		parts[last].q = NULL;
	} else if (used > 1 && vig_buf_err(&b) == VIG_OK) {
		r.q = vig_buf_take(&b, NULL);
	}
	if (!r.q)
		r.terms = 0;
	goto out;
out_none:
	r.terms = 0;
out:
	vig_buf_release(&b);
	for (size_t i = 0; i < n; i++)
		pf_free(&parts[i]);
	return r;
}

static struct pf pf_node(const struct vig_sigma_prog *prog, uint32_t node, unsigned depth)
{
	const struct vig_sigma_node *nd;
	struct pf none = {NULL, 0}, r;
	struct pf *parts;
	uint32_t n;
	bool is_and;

	if (node >= prog->n_nodes || depth > VIG_SIGMA_MAX_DEPTH * 4)
		return none;
	nd = &prog->nodes[node];
	switch (nd->op) {
	case VIG_NODE_ATOM:
		return nd->a < prog->n_atoms ? pf_atom(&prog->atoms[nd->a]) : none;
	case VIG_NODE_AND:
	case VIG_NODE_OR:
	case VIG_NODE_NOF:
	case VIG_NODE_ANY_RANGE:
	case VIG_NODE_ALL_RANGE:
		break;
	default: /* NOT, TRUE, FALSE: no positive requirement */
		return none;
	}
	if (nd->op == VIG_NODE_NOF && nd->k == 0)
		return none;
	is_and = nd->op == VIG_NODE_AND || nd->op == VIG_NODE_ALL_RANGE ||
		 (nd->op == VIG_NODE_NOF && nd->k >= nd->n);
	n = nd->n;
	if (n == 0)
		return none;
	parts = calloc(n, sizeof(*parts));
	if (!parts)
		return none;
	for (uint32_t i = 0; i < n; i++) {
		if (nd->op == VIG_NODE_ANY_RANGE || nd->op == VIG_NODE_ALL_RANGE)
			parts[i] = nd->a + i < prog->n_atoms ? pf_atom(&prog->atoms[nd->a + i]) : none;
		else if (nd->a + i < prog->n_kids)
			parts[i] = pf_node(prog, prog->kids[nd->a + i], depth + 1);
		if (!is_and && !parts[i].q)
			break; /* an OR with an unconstrained branch constrains nothing */
	}
	r = pf_join(parts, n, is_and);
	free(parts);
	return r;
}

/* The logsource requirement of the rule, or none. */
static struct pf pf_logsource(const struct vig_sigma_rule *rule)
{
	const char *cat = rule->logsource.category, *svc = rule->logsource.service;
	const char *q = NULL;
	struct pf r = {NULL, 0};

	if (cat && strcmp(cat, "process_creation") == 0)
		q = "event.category:process";
	else if (cat && strcmp(cat, "network_connection") == 0)
		q = "event.category:network";
	else if (cat && strncmp(cat, "file_", 5) == 0)
		q = "event.category:file";
	else if (cat && strcmp(cat, "dns") == 0)
		q = "dns.question.name:*";
	else if (svc && strcmp(svc, "auditd") == 0)
		q = "event.dataset:auditd*";
	else if (svc && strcmp(svc, "auth") == 0)
		q = "event.dataset:system.auth";
	if (q) {
		r.q = strdup(q);
		r.terms = r.q ? 1 : 0;
	}
	return r;
}

enum vig_err vig_hunt_prefilter(const struct vig_sigma_rule *rule, struct vig_buf *out,
				char *errbuf)
{
	struct pf parts[2], all;

	if (!rule || rule->kind != VIG_SIGMA_DETECTION || !rule->prog)
		return vig_errf(errbuf, VIG_EINVAL, "hunt: a detection rule is required");
	parts[0] = pf_logsource(rule);
	parts[1] = pf_node(rule->prog, rule->prog->root, 0);
	all = pf_join(parts, 2, true);
	if (all.q)
		vig_buf_adds(out, all.q);
	pf_free(&all);
	return vig_buf_err(out) == VIG_OK ? VIG_OK
					  : vig_errf(errbuf, VIG_ENOMEM, "hunt: out of memory");
}

/* ---- hunts ---- */

static const char *const STATE_NAMES[] = {"queued", "running", "done", "cancelled", "failed"};

const char *vig_hunt_state_name(enum vig_hunt_state s)
{
	return (unsigned)s < VIG_ARRAY_LEN(STATE_NAMES) ? STATE_NAMES[s] : "unknown";
}

/* One hit waiting to become an alert (copied out of the event, which lives only in the
 * store's callback). */
struct hit_match {
	char *host, *user, *source_ip, *event_id;
	enum vig_alert_severity severity; /* the rule's level raised by asset criticality */
};

struct hunt {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char rule_id[VIG_ALERT_RULE_ID_MAX];
	char title[VIG_ALERT_TEXT_MAX];
	char created_by[VIG_NAME_MAX];
	char *prefilter;             /* query text (owned) */
	char error[VIG_ERRBUF_SIZE]; /* FAILED: why */
	struct vig_detect_engine *eng; /* the rule alone (owned; freed when the hunt ends) */
	const struct vig_sigma_rule *rule; /* in eng */
	int64_t from, to, created, started, finished;
	bool create_alerts;
	int64_t window_ns;
	enum vig_hunt_state state;   /* under the hunts' mutex */
	atomic_bool cancel;          /* asked to stop */
	/* progress, under the hunts' mutex */
	int64_t days_total, days_done;
	uint64_t scanned, hits, skipped, alerts_created;
	uint64_t alerts_dropped;     /* hits an exception or suppression kept from alerting */
	char **hit_ids;              /* up to VIG_HUNT_MAX_HITS (owned) */
	size_t n_hit_ids;
};

struct vig_hunts {
	struct vig_evstore *store;
	struct vig_db *db;
	struct vig_policy *policy;   /* exceptions, suppressions, assets for hunt alerts, or NULL */
	pthread_mutex_t mu;
	pthread_cond_t cv;           /* work queued, a hunt finished, or stopping */
	pthread_t thread;
	bool stop;
	int64_t next_id;
	struct hunt *list[VIG_HUNT_KEEP + VIG_HUNT_QUEUE_MAX + 1]; /* oldest first */
	size_t n;
	struct hunt *running;
};

static void hunt_free(struct hunt *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_hit_ids; i++)
		free(h->hit_ids[i]);
	free(h->hit_ids);
	free(h->prefilter);
	vig_detect_free(h->eng);
	free(h);
}

static bool finished(const struct hunt *x)
{
	return x->state >= VIG_HUNT_DONE;
}

/* Drops the oldest finished hunts beyond VIG_HUNT_KEEP (mutex held). */
static void evict(struct vig_hunts *h)
{
	size_t kept = h->n;

	for (size_t i = 0; i < h->n && kept > VIG_HUNT_KEEP;) {
		if (finished(h->list[i])) {
			hunt_free(h->list[i]);
			memmove(&h->list[i], &h->list[i + 1], (h->n - i - 1) * sizeof(h->list[0]));
			h->n--;
			kept--;
		} else {
			i++;
		}
	}
}

static struct hunt *find(struct vig_hunts *h, int64_t id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->list[i]->id == id)
			return h->list[i];
	return NULL;
}

/* ---- the scan ---- */

struct scan {
	struct vig_hunts *hs;
	struct hunt *x;
	struct vig_detect_scratch *scratch;
	int64_t cursor;              /* from of the current page */
	char **seen;                 /* ids at cursor read by the previous page */
	size_t n_seen;
	char **edge;                 /* ids at last_ts of the current page */
	size_t n_edge, cap_edge;
	int64_t last_ts;             /* of the current page */
	size_t in_page;              /* events delivered in the current page */
	size_t fresh;                /* of which not skipped as already seen */
	struct hit_match *pending;   /* hits of this page for alerts */
	size_t n_pending;
	struct vig_policy_snap *pol; /* policy of this page (create_alerts), or NULL */
	uint64_t dropped;            /* hits of this page the policy kept from alerting */
	uint64_t scanned, hits;      /* of this page, folded into x under the mutex */
	char **new_ids;              /* hit ids of this page */
	size_t n_new_ids;
	bool failed;
	char errbuf[VIG_ERRBUF_SIZE];
};

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static char *dup_field(const struct vig_event *ev, enum vig_field f)
{
	const struct vig_val *v = vig_event_get(ev, f);
	const char *direct = NULL;
	char buf[VIG_ALERT_TEXT_MAX];

	if (!v)
		return NULL;
	vig_val_text(v, buf, sizeof(buf), &direct);
	return strdup(direct ? direct : buf);
}

static bool was_seen(const struct scan *s, const char *id)
{
	for (size_t i = 0; i < s->n_seen; i++)
		if (strcmp(s->seen[i], id) == 0)
			return true;
	return false;
}

static bool on_event(void *ctx, const struct vig_event *ev)
{
	struct scan *s = ctx;
	const struct vig_val *ts = vig_event_get(ev, VIG_F_TIMESTAMP);
	const struct vig_val *idv = vig_event_get(ev, VIG_F_EVENT_ID);
	const char *id = idv && idv->type == VIG_T_STR ? idv->u.s : "";
	int64_t t = ts ? ts->u.i : 0;
	size_t matched = 0;

	if (atomic_load(&s->x->cancel))
		return false;
	s->in_page++;
	if (t == s->cursor && was_seen(s, id))
		return true;
	s->fresh++;
	if (t != s->last_ts) {
		strv_free(s->edge, s->n_edge);
		s->edge = NULL;
		s->n_edge = s->cap_edge = 0;
		s->last_ts = t;
	}
	if (s->n_edge == s->cap_edge) {
		size_t nc = s->cap_edge ? s->cap_edge * 2 : 16;
		void *p = realloc(s->edge, nc * sizeof(char *));

		if (!p)
			goto out_nomem;
		s->edge = p;
		s->cap_edge = nc;
	}
	s->edge[s->n_edge] = strdup(id);
	if (!s->edge[s->n_edge])
		goto out_nomem;
	s->n_edge++;
	s->scanned++;
	if (vig_detect_match(s->x->eng, s->scratch, ev, NULL, NULL, &matched) != VIG_OK) {
		vig_errf(s->errbuf, VIG_EINTERNAL, "hunt: the detection engine failed");
		s->failed = true;
		return false;
	}
	if (!matched)
		return true;
	s->hits++;
	if (id[0]) {
		char **p = realloc(s->new_ids, (s->n_new_ids + 1) * sizeof(char *));

		if (!p)
			goto out_nomem;
		s->new_ids = p;
		s->new_ids[s->n_new_ids] = strdup(id);
		if (s->new_ids[s->n_new_ids])
			s->n_new_ids++;
	}
	if (s->x->create_alerts) {
		enum vig_alert_severity sev = vig_alert_severity_of_level(s->x->rule->level);
		struct hit_match *p;

		if (s->pol && vig_policy_apply(s->pol, ev, s->x->tenant, s->x->rule_id, vig_time_now(),
					       &sev, NULL, NULL) != VIG_POLICY_ALERT) {
			s->dropped++;
			return true;
		}
		p = realloc(s->pending, (s->n_pending + 1) * sizeof(*p));
		if (!p)
			goto out_nomem;
		s->pending = p;
		p[s->n_pending++] = (struct hit_match){dup_field(ev, VIG_F_HOST_NAME),
						       dup_field(ev, VIG_F_USER_NAME),
						       dup_field(ev, VIG_F_SOURCE_IP),
						       id[0] ? strdup(id) : NULL, sev};
	}
	return true;
out_nomem:
	vig_errf(s->errbuf, VIG_ENOMEM, "hunt: out of memory");
	s->failed = true;
	return false;
}

/* Folds this page's hits into alerts, one transaction. */
static void record_alerts(struct scan *s)
{
	struct hunt *x = s->x;
	const struct vig_sigma_rule *r = x->rule;
	struct vig_alert_tx *tx = NULL;
	char errbuf[VIG_ERRBUF_SIZE];
	uint64_t created = 0;

	if (vig_alert_tx_begin(s->hs->db, x->window_ns, &tx, errbuf) != VIG_OK) {
		vig_error("hunt", "cannot begin the alert transaction", "hunt=%lld err=\"%s\"",
			  (long long)x->id, errbuf);
		return;
	}
	for (size_t i = 0; i < s->n_pending; i++) {
		struct hit_match *p = &s->pending[i];
		struct vig_alert_match m = {.tenant = x->tenant, .rule_id = x->rule_id,
					    .title = x->title, .level = r->level, .tags = r->tags.v,
					    .n_tags = r->tags.n, .host = p->host, .user = p->user,
					    .source_ip = p->source_ip, .event_id = p->event_id,
					    .has_severity = true, .severity = p->severity};
		enum vig_alert_outcome oc;

		if (vig_alert_tx_record(tx, &m, vig_time_now(), &oc, NULL, NULL, errbuf) != VIG_OK)
			vig_warn("hunt", "hit not recorded as alert", "hunt=%lld err=\"%s\"",
				 (long long)x->id, errbuf);
		else if (oc == VIG_ALERT_CREATED)
			created++;
	}
	if (vig_alert_tx_commit(tx, errbuf) != VIG_OK) {
		vig_error("hunt", "alert commit failed", "hunt=%lld err=\"%s\"", (long long)x->id,
			  errbuf);
		created = 0;
	}
	pthread_mutex_lock(&s->hs->mu);
	x->alerts_created += created;
	pthread_mutex_unlock(&s->hs->mu);
}

static void page_reset(struct scan *s)
{
	for (size_t i = 0; i < s->n_pending; i++) {
		free(s->pending[i].host);
		free(s->pending[i].user);
		free(s->pending[i].source_ip);
		free(s->pending[i].event_id);
	}
	free(s->pending);
	s->pending = NULL;
	s->n_pending = 0;
	strv_free(s->new_ids, s->n_new_ids);
	s->new_ids = NULL;
	s->n_new_ids = 0;
	s->scanned = s->hits = s->dropped = 0;
	vig_policy_snap_release(s->pol);
	s->pol = NULL;
	s->in_page = s->fresh = 0;
}

/* Publishes the page's progress into the hunt (ids moved). */
static void page_publish(struct scan *s)
{
	struct hunt *x = s->x;

	pthread_mutex_lock(&s->hs->mu);
	x->scanned += s->scanned;
	x->hits += s->hits;
	x->alerts_dropped += s->dropped;
	for (size_t i = 0; i < s->n_new_ids && x->n_hit_ids < VIG_HUNT_MAX_HITS; i++) {
		x->hit_ids[x->n_hit_ids++] = s->new_ids[i];
		s->new_ids[i] = NULL;
	}
	pthread_mutex_unlock(&s->hs->mu);
}

/* Scans [lo, hi) page by page; false when the hunt must stop (cancel or failure). */
static bool scan_range(struct scan *s, int64_t lo, int64_t hi)
{
	struct hunt *x = s->x;
	const char *tenant = x->tenant;
	struct vig_scope scope = {.tenants = &tenant, .n_tenants = 1};

	s->cursor = lo;
	strv_free(s->seen, s->n_seen);
	s->seen = NULL;
	s->n_seen = 0;
	while (s->cursor < hi) {
		size_t found = 0;
		enum vig_err err;

		page_reset(s);
		if (x->create_alerts && s->hs->policy)
			s->pol = vig_policy_acquire(s->hs->policy);
		s->last_ts = INT64_MIN;
		err = vig_evstore_search(s->hs->store, &scope, x->prefilter, s->cursor, hi,
					 VIG_HUNT_PAGE, true, on_event, s, &found, s->errbuf);
		if (err != VIG_OK) {
			s->failed = true;
			return false;
		}
		if (s->failed || atomic_load(&x->cancel)) {
			page_publish(s);
			return false;
		}
		if (x->create_alerts && s->n_pending)
			record_alerts(s);
		page_publish(s);
		if (s->in_page < VIG_HUNT_PAGE)
			break; /* the range is exhausted */
		if (s->fresh == 0 || s->last_ts <= s->cursor) {
			/* a whole page of one instant: cannot page within it, skip the rest */
			pthread_mutex_lock(&s->hs->mu);
			x->skipped++;
			pthread_mutex_unlock(&s->hs->mu);
			s->cursor = (s->last_ts > s->cursor ? s->last_ts : s->cursor) + 1;
			strv_free(s->seen, s->n_seen);
			s->seen = NULL;
			s->n_seen = 0;
			continue;
		}
		/* resume at the last instant, skipping the ids of it already read */
		s->cursor = s->last_ts;
		strv_free(s->seen, s->n_seen);
		s->seen = s->edge;
		s->n_seen = s->n_edge;
		s->edge = NULL;
		s->n_edge = s->cap_edge = 0;
	}
	return true;
}

static void run_hunt(struct vig_hunts *hs, struct hunt *x)
{
	struct scan s = {.hs = hs, .x = x};
	enum vig_hunt_state end = VIG_HUNT_DONE;
	int64_t day0 = vig_time_day(x->from), day1 = vig_time_day(x->to - 1);

	s.scratch = vig_detect_scratch_new(x->eng, s.errbuf);
	if (!s.scratch) {
		end = VIG_HUNT_FAILED;
		goto out;
	}
	for (int64_t d = day0; d <= day1; d++) {
		int64_t lo = VIG_MAX(x->from, d * VIG_NS_PER_DAY);
		int64_t hi = VIG_MIN(x->to, (d + 1) * VIG_NS_PER_DAY);

		if (atomic_load(&x->cancel)) {
			end = VIG_HUNT_CANCELLED;
			break;
		}
		if (!scan_range(&s, lo, hi)) {
			end = s.failed ? VIG_HUNT_FAILED : VIG_HUNT_CANCELLED;
			break;
		}
		pthread_mutex_lock(&hs->mu);
		x->days_done++;
		pthread_mutex_unlock(&hs->mu);
	}
	if (end == VIG_HUNT_DONE && atomic_load(&x->cancel))
		end = VIG_HUNT_CANCELLED;
out:
	page_reset(&s);
	strv_free(s.seen, s.n_seen);
	strv_free(s.edge, s.n_edge);
	vig_detect_scratch_free(s.scratch);
	vig_info("hunt", "finished",
		 "hunt=%lld tenant=%s state=%s scanned=%llu hits=%llu err=\"%s\"", (long long)x->id,
		 x->tenant, vig_hunt_state_name(end), (unsigned long long)x->scanned,
		 (unsigned long long)x->hits, end == VIG_HUNT_FAILED ? s.errbuf : "");
	pthread_mutex_lock(&hs->mu);
	if (end == VIG_HUNT_FAILED)
		snprintf(x->error, sizeof(x->error), "%s", s.errbuf[0] ? s.errbuf : "hunt failed");
	x->state = end;
	x->finished = vig_time_now();
	vig_detect_free(x->eng); /* the rule's memory is not needed any more */
	x->eng = NULL;
	x->rule = NULL;
	hs->running = NULL;
	pthread_cond_broadcast(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
}

static void *worker(void *arg)
{
	struct vig_hunts *hs = arg;

	pthread_mutex_lock(&hs->mu);
	while (!hs->stop) {
		struct hunt *next = NULL;

		for (size_t i = 0; i < hs->n && !next; i++)
			if (hs->list[i]->state == VIG_HUNT_QUEUED)
				next = hs->list[i];
		if (!next) {
			pthread_cond_wait(&hs->cv, &hs->mu);
			continue;
		}
		next->state = VIG_HUNT_RUNNING;
		next->started = vig_time_now();
		hs->running = next;
		pthread_mutex_unlock(&hs->mu);
		run_hunt(hs, next);
		pthread_mutex_lock(&hs->mu);
		evict(hs);
	}
	pthread_mutex_unlock(&hs->mu);
	return NULL;
}

struct vig_hunts *vig_hunts_new(struct vig_evstore *store, struct vig_db *db,
				struct vig_policy *policy, char *errbuf)
{
	struct vig_hunts *hs = calloc(1, sizeof(*hs));

	if (!hs) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	hs->store = store;
	hs->db = db;
	hs->policy = policy;
	hs->next_id = 1;
	pthread_mutex_init(&hs->mu, NULL);
	pthread_cond_init(&hs->cv, NULL);
	if (pthread_create(&hs->thread, NULL, worker, hs) != 0) {
		pthread_cond_destroy(&hs->cv);
		pthread_mutex_destroy(&hs->mu);
		free(hs);
		vig_errf(errbuf, VIG_EINTERNAL, "cannot start the hunt thread");
		return NULL;
	}
	return hs;
}

void vig_hunts_free(struct vig_hunts *hs)
{
	if (!hs)
		return;
	pthread_mutex_lock(&hs->mu);
	hs->stop = true;
	for (size_t i = 0; i < hs->n; i++)
		atomic_store(&hs->list[i]->cancel, true);
	pthread_cond_broadcast(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
	pthread_join(hs->thread, NULL);
	for (size_t i = 0; i < hs->n; i++)
		hunt_free(hs->list[i]);
	pthread_cond_destroy(&hs->cv);
	pthread_mutex_destroy(&hs->mu);
	free(hs);
}

/* Loads spec's rule into a one-rule engine for x; VIG_EINVAL with the reason. */
static enum vig_err hunt_prepare(struct hunt *x, const struct vig_hunt_spec *spec, char *errbuf)
{
	struct vig_sigma_opts opts = {.max_bytes = VIG_SIGMA_MAX_YAML};
	struct vig_sigma_ruleset rs;
	struct vig_sigma_rule *rule = vig_sigma_load(spec->yaml, spec->yaml_len, &opts, errbuf);
	struct vig_buf q;
	enum vig_err err;

	if (!rule)
		return errbuf[0] ? VIG_EINVAL : vig_errf(errbuf, VIG_EINVAL, "rule does not load");
	if (rule->next || rule->kind != VIG_SIGMA_DETECTION) {
		vig_sigma_free(rule);
		return vig_errf(errbuf, VIG_EINVAL,
				"hunt: expected exactly one detection rule (correlation rules and "
				"filters cannot be hunted)");
	}
	vig_buf_init(&q, VIG_HUNT_PREFILTER_MAX + 1);
	err = vig_hunt_prefilter(rule, &q, errbuf);
	x->prefilter = err == VIG_OK ? vig_buf_take(&q, NULL) : NULL;
	vig_buf_release(&q);
	if (!x->prefilter) {
		vig_sigma_free(rule);
		return err != VIG_OK ? err : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	snprintf(x->title, sizeof(x->title), "%s", rule->title);
	if (spec->rule_id && spec->rule_id[0])
		snprintf(x->rule_id, sizeof(x->rule_id), "%s", spec->rule_id);
	else if (rule->id)
		snprintf(x->rule_id, sizeof(x->rule_id), "%s", rule->id);
	vig_sigma_ruleset_init(&rs, 1);
	err = vig_sigma_ruleset_add(&rs, rule);
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "out of memory");
	x->eng = vig_detect_build(&rs, errbuf);
	vig_sigma_ruleset_release(&rs);
	if (!x->eng)
		return VIG_EINVAL;
	{
		size_t n = 0;
		struct vig_sigma_rule *const *rules = vig_detect_rules(x->eng, &n);

		x->rule = n ? rules[0] : NULL;
	}
	return x->rule ? VIG_OK : vig_errf(errbuf, VIG_EINTERNAL, "hunt: engine without its rule");
}

enum vig_err vig_hunts_submit(struct vig_hunts *hs, const struct vig_hunt_spec *spec, int64_t *id,
			      char *errbuf)
{
	struct hunt *x;
	size_t queued = 0;
	enum vig_err err;

	if (!spec->tenant || !spec->tenant[0] || strlen(spec->tenant) >= VIG_NAME_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "hunt: a tenant is required");
	if (spec->from >= spec->to)
		return vig_errf(errbuf, VIG_EINVAL, "hunt: from must be before to");
	if (spec->to - spec->from > VIG_HUNT_MAX_DAYS * VIG_NS_PER_DAY)
		return vig_errf(errbuf, VIG_EINVAL, "hunt: the range may span at most %d days",
				VIG_HUNT_MAX_DAYS);
	if (spec->create_alerts && spec->dedupe_window_ns <= 0)
		return vig_errf(errbuf, VIG_EINVAL, "hunt: a dedupe window is required for alerts");
	x = calloc(1, sizeof(*x));
	if (x)
		x->hit_ids = calloc(VIG_HUNT_MAX_HITS, sizeof(char *));
	if (!x || !x->hit_ids) {
		hunt_free(x);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	err = hunt_prepare(x, spec, errbuf);
	if (err != VIG_OK) {
		hunt_free(x);
		return err;
	}
	snprintf(x->tenant, sizeof(x->tenant), "%s", spec->tenant);
	snprintf(x->created_by, sizeof(x->created_by), "%s",
		 spec->created_by ? spec->created_by : "");
	x->from = spec->from;
	x->to = spec->to;
	x->create_alerts = spec->create_alerts;
	x->window_ns = spec->dedupe_window_ns;
	x->created = vig_time_now();
	x->days_total = vig_time_day(spec->to - 1) - vig_time_day(spec->from) + 1;
	atomic_init(&x->cancel, false);
	pthread_mutex_lock(&hs->mu);
	for (size_t i = 0; i < hs->n; i++)
		queued += hs->list[i]->state == VIG_HUNT_QUEUED;
	evict(hs);
	if (queued >= VIG_HUNT_QUEUE_MAX || hs->n >= VIG_ARRAY_LEN(hs->list) || hs->stop) {
		pthread_mutex_unlock(&hs->mu);
		hunt_free(x);
		return vig_errf(errbuf, VIG_EBUSY, "hunt: %d hunts are already waiting",
				VIG_HUNT_QUEUE_MAX);
	}
	x->id = hs->next_id++;
	if (!x->rule_id[0])
		snprintf(x->rule_id, sizeof(x->rule_id), "hunt-%lld", (long long)x->id);
	hs->list[hs->n++] = x;
	*id = x->id;
	pthread_cond_broadcast(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
	vig_info("hunt", "queued", "hunt=%lld tenant=%s rule=\"%s\" prefilter=\"%s\"",
		 (long long)x->id, x->tenant, x->rule_id, x->prefilter);
	return VIG_OK;
}

/* The hunt id if who may see it (mutex held), else NULL. */
static struct hunt *find_visible(struct vig_hunts *hs, const struct vig_principal *who, int64_t id)
{
	struct hunt *x = find(hs, id);

	return x && (!who || vig_principal_can_access_tenant(who, x->tenant)) ? x : NULL;
}

enum vig_err vig_hunts_cancel(struct vig_hunts *hs, const struct vig_principal *who, int64_t id,
			      char *errbuf)
{
	enum vig_err err = VIG_OK;
	struct hunt *x;

	pthread_mutex_lock(&hs->mu);
	x = find_visible(hs, who, id);
	if (!x) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such hunt");
	} else if (finished(x)) {
		err = vig_errf(errbuf, VIG_ECONFLICT, "hunt already %s", vig_hunt_state_name(x->state));
	} else {
		atomic_store(&x->cancel, true);
		if (x->state == VIG_HUNT_QUEUED) {
			x->state = VIG_HUNT_CANCELLED;
			x->finished = vig_time_now();
			vig_detect_free(x->eng);
			x->eng = NULL;
			x->rule = NULL;
			pthread_cond_broadcast(&hs->cv);
		}
	}
	pthread_mutex_unlock(&hs->mu);
	return err;
}

static json_t *time_or_null(int64_t ns)
{
	char t[VIG_TIME_STRLEN];

	if (!ns)
		return json_null();
	vig_time_format(ns, t);
	return json_string(t);
}

/* The hunt as JSON (mutex held). */
static json_t *hunt_json(const struct hunt *x, bool with_hits)
{
	json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:I,s:I,s:I,"
			      "s:I,s:b,s:I,s:I,s:b,s:s?}",
			      "id", (json_int_t)x->id, "tenant", x->tenant, "rule_id", x->rule_id,
			      "title", x->title, "state", vig_hunt_state_name(x->state), "prefilter",
			      x->prefilter ? x->prefilter : "", "from", time_or_null(x->from), "to",
			      time_or_null(x->to), "created", time_or_null(x->created), "started",
			      time_or_null(x->started), "finished", time_or_null(x->finished),
			      "created_by", x->created_by, "days_total", (json_int_t)x->days_total,
			      "days_done", (json_int_t)x->days_done, "events_scanned",
			      (json_int_t)x->scanned, "hits", (json_int_t)x->hits, "skipped",
			      (json_int_t)x->skipped, "create_alerts", x->create_alerts,
			      "alerts_created", (json_int_t)x->alerts_created, "alerts_dropped",
			      (json_int_t)x->alerts_dropped, "hit_ids_truncated",
			      x->hits > x->n_hit_ids, "error", x->error[0] ? x->error : NULL);

	if (o && with_hits) {
		json_t *ids = json_array();

		for (size_t i = 0; ids && i < x->n_hit_ids; i++)
			json_array_append_new(ids, json_string(x->hit_ids[i]));
		json_object_set_new(o, "hit_ids", ids);
	}
	return o;
}

enum vig_err vig_hunts_get(struct vig_hunts *hs, const struct vig_principal *who, int64_t id,
			   bool with_hits, json_t **out, char *errbuf)
{
	struct hunt *x;

	*out = NULL;
	pthread_mutex_lock(&hs->mu);
	x = find_visible(hs, who, id);
	if (x)
		*out = hunt_json(x, with_hits);
	pthread_mutex_unlock(&hs->mu);
	if (!x)
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such hunt");
	return *out ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_hunts_list(struct vig_hunts *hs, const struct vig_principal *who,
			    const char *tenant, json_t **out, char *errbuf)
{
	const char *scope = NULL;
	enum vig_err err = vig_principal_scope(who, tenant, &scope, errbuf);
	json_t *arr;

	*out = NULL;
	if (err != VIG_OK)
		return err;
	arr = json_array();
	pthread_mutex_lock(&hs->mu);
	for (size_t i = hs->n; arr && i-- > 0;) {
		const struct hunt *x = hs->list[i];

		if (vig_principal_can_access_tenant(who, x->tenant) &&
		    (!scope || strcmp(scope, x->tenant) == 0))
			json_array_append_new(arr, hunt_json(x, false));
	}
	pthread_mutex_unlock(&hs->mu);
	*out = arr;
	return arr ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}

enum vig_err vig_hunts_wait(struct vig_hunts *hs, int64_t id, int64_t timeout_ns,
			    enum vig_hunt_state *state)
{
	int64_t deadline = vig_time_now() + timeout_ns;
	enum vig_err err = VIG_OK;
	struct hunt *x;

	pthread_mutex_lock(&hs->mu);
	for (;;) {
		x = find(hs, id);
		if (!x) {
			err = VIG_ENOTFOUND;
			break;
		}
		*state = x->state;
		if (finished(x))
			break;
		if (vig_time_now() >= deadline) {
			err = VIG_ETIMEOUT;
			break;
		}
		{
			struct timespec ts;
			int64_t wake = VIG_MIN(deadline, vig_time_now() + 100 * 1000000LL);

			ts.tv_sec = wake / VIG_NS_PER_SEC;
			ts.tv_nsec = wake % VIG_NS_PER_SEC;
			pthread_cond_timedwait(&hs->cv, &hs->mu, &ts);
		}
	}
	pthread_mutex_unlock(&hs->mu);
	return err;
}
