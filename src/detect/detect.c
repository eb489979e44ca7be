/*
 * detect.c - the compiled Sigma engine (see detect.h for the contract).
 *
 * Layout. Rules are grouped by logsource; a group owns
 *   - atoms[]: every value test of its rules, group-numbered; rule r's atoms are
 *     [rules[r].base, rules[r].base + n_atoms), and atom_rule[] maps a test back to its rule;
 *   - fields[]: one slot per event field used, holding the Hyperscan database of its string
 *     tests (pattern id = group atom number), the PCRE2 regexes Hyperscan refused, and the
 *     directly evaluated tests;
 *   - always[]: rules whose condition is true when no test fires (e.g. `not filter`).
 * Matching a group clears its bitset, scans each slot's field once (each item of a list
 * field), marks fired atoms and their rules as candidates, then evaluates candidates and
 * always-rules. The engine is never written after vig_detect_build(): everything that changes
 * per event lives in the scratch.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "detect.h"
#include "sigma_int.h"

#define PCRE_MATCH_LIMIT 200000u /* PCRE2 backtracking budget per regex and value */

struct slot {
	const char *name;       /* event-model field name */
	size_t name_len;
	int core;               /* enum vig_field, or -1 for an extension field */
	hs_database_t *db;      /* string tests, or NULL */
	uint32_t *hs_atoms;     /* atoms in db (build only) */
	size_t n_hs, cap_hs;
	uint32_t *pcre_atoms;   /* atoms matched with PCRE2 */
	pcre2_code **pcre;      /* their compiled regexes */
	size_t n_pcre, cap_pcre;
	uint32_t *direct;       /* atoms evaluated directly */
	size_t n_direct, cap_direct;
};

struct grule {
	const struct vig_sigma_rule *rule;
	uint32_t base; /* first group atom of the rule */
};

struct group {
	struct vig_detect_logsource ls;
	const struct vig_sigma_atom **atoms;
	uint32_t *atom_rule;
	size_t n_atoms, cap_atoms;
	struct grule *rules;
	size_t n_rules, cap_rules;
	uint32_t *always;
	size_t n_always;
	struct slot *slots;
	size_t n_slots, cap_slots;
};

struct vig_detect_engine {
	struct vig_sigma_ruleset rs;
	struct group *groups;
	size_t n_groups, cap_groups;
	size_t max_atoms, max_rules;
	struct vig_detect_stats stats;
};

struct vig_detect_scratch {
	const struct vig_detect_engine *eng;
	hs_scratch_t *hs;
	uint64_t *bits;       /* fired atoms of the group being matched */
	uint64_t *rmarks;     /* candidate rules of the group */
	uint32_t *cand;       /* candidate rule list */
	size_t n_cand;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	const struct group *g; /* group being matched (callback state) */
	struct vig_detect_counters c;
};

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return true;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return false;
	*p = np;
	*cap = ncap;
	return true;
}

/* --- routing -------------------------------------------------------------------------- */

static bool eq(const struct vig_val *v, const char *s)
{
	return v && v->type == VIG_T_STR && strcasecmp(v->u.s, s) == 0;
}

static bool prefix(const struct vig_val *v, const char *s)
{
	return v && v->type == VIG_T_STR && strncasecmp(v->u.s, s, strlen(s)) == 0;
}

size_t vig_detect_logsources(const struct vig_event *ev, struct vig_detect_logsource out[VIG_DETECT_MAX_LS])
{
	const struct vig_val *cat = vig_event_get(ev, VIG_F_EVENT_CATEGORY);
	const struct vig_val *type = vig_event_get(ev, VIG_F_EVENT_TYPE);
	const struct vig_val *ds = vig_event_get(ev, VIG_F_EVENT_DATASET);
	const struct vig_val *pname = vig_event_get(ev, VIG_F_PROCESS_NAME);
	const struct vig_val *obs = vig_event_get(ev, VIG_F_OBSERVER_TYPE);
	const char *product = NULL, *cats[4], *svcs[4];
	size_t nc = 0, ns = 0, n = 0;

	if (vig_event_get(ev, VIG_F_AGENT_ID) || prefix(ds, "auditd") || prefix(ds, "system.") || prefix(ds, "linux."))
		product = "linux";
	else if (prefix(ds, "zeek."))
		product = "zeek";
	/* Categories. */
	if (eq(cat, "process") && (!type || eq(type, "start")))
		cats[nc++] = "process_creation";
	if (eq(cat, "network") && !prefix(ds, "zeek.") && !eq(ds, "iptables"))
		cats[nc++] = "network_connection";
	if (eq(cat, "file")) {
		cats[nc++] = eq(type, "deletion") ? "file_delete"
			     : eq(type, "change") ? "file_change"
			     : eq(type, "access") ? "file_access"
			     : eq(type, "rename") ? "file_rename"
						  : "file_event";
	}
	if (prefix(ds, "apache.access") || prefix(ds, "nginx.access") || eq(ds, "web.access"))
		cats[nc++] = "webserver";
	else if (prefix(ds, "squid") || prefix(ds, "proxy"))
		cats[nc++] = "proxy";
	else if (eq(ds, "iptables") || eq(ds, "nftables") || prefix(ds, "cef") || prefix(ds, "leef") ||
		 prefix(ds, "firewall") || eq(obs, "firewall"))
		cats[nc++] = "firewall";
	if (nc < 4 && vig_event_get(ev, VIG_F_DNS_QUESTION_NAME))
		cats[nc++] = "dns";
	/* Services. */
	if (prefix(ds, "auditd")) {
		svcs[ns++] = "auditd";
	} else if (eq(ds, "system.auth")) {
		svcs[ns++] = "auth";
		if (pname && pname->type == VIG_T_STR)
			svcs[ns++] = pname->u.s; /* sshd, sudo, su, cron, vsftpd ... */
	} else if (eq(ds, "system.syslog")) {
		svcs[ns++] = "syslog";
		if (pname && pname->type == VIG_T_STR)
			svcs[ns++] = pname->u.s;
	} else if (prefix(ds, "zeek.")) {
		svcs[ns++] = ds->u.s + 5;
	} else if (prefix(ds, "apache.")) {
		svcs[ns++] = "apache";
	} else if (prefix(ds, "nginx.")) {
		svcs[ns++] = "nginx";
	}
	for (size_t i = 0; i < nc && n < VIG_DETECT_MAX_LS; i++)
		out[n++] = (struct vig_detect_logsource){product, cats[i], NULL};
	for (size_t i = 0; i < ns && n < VIG_DETECT_MAX_LS; i++)
		out[n++] = (struct vig_detect_logsource){product, NULL, svcs[i]};
	if (n == 0 && product)
		out[n++] = (struct vig_detect_logsource){product, NULL, NULL};
	return n;
}

static bool attr_ok(const char *rule, const char *ev)
{
	return !rule || (ev && strcasecmp(rule, ev) == 0);
}

static bool group_applies(const struct group *g, const struct vig_detect_logsource *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (attr_ok(g->ls.product, ls[i].product) && attr_ok(g->ls.category, ls[i].category) &&
		    attr_ok(g->ls.service, ls[i].service))
			return true;
	return false;
}

/* --- build ---------------------------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static struct group *group_for(struct vig_detect_engine *e, const struct vig_sigma_rule *r)
{
	for (size_t i = 0; i < e->n_groups; i++) {
		struct group *g = &e->groups[i];
		if (same(g->ls.product, r->logsource.product) && same(g->ls.category, r->logsource.category) &&
		    same(g->ls.service, r->logsource.service))
			return g;
	}
	if (!grow((void **)&e->groups, &e->cap_groups, e->n_groups + 1, sizeof(*e->groups)))
		return NULL;
	memset(&e->groups[e->n_groups], 0, sizeof(e->groups[0]));
	e->groups[e->n_groups].ls =
		(struct vig_detect_logsource){r->logsource.product, r->logsource.category, r->logsource.service};
	return &e->groups[e->n_groups++];
}

static struct slot *slot_for(struct group *g, const char *name)
{
	struct slot *s;

	for (size_t i = 0; i < g->n_slots; i++)
		if (strcmp(g->slots[i].name, name) == 0)
			return &g->slots[i];
	if (!grow((void **)&g->slots, &g->cap_slots, g->n_slots + 1, sizeof(*g->slots)))
		return NULL;
	s = &g->slots[g->n_slots++];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->name_len = strlen(name);
	s->core = vig_field_lookup(name, s->name_len);
	return s;
}

static bool push_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
	if (!grow((void **)v, cap, *n + 1, sizeof(**v)))
		return false;
	(*v)[(*n)++] = x;
	return true;
}

static unsigned hs_flags(unsigned rx)
{
	return HS_FLAG_SINGLEMATCH | (rx & VIG_RX_CASELESS ? HS_FLAG_CASELESS : 0) |
	       (rx & VIG_RX_DOTALL ? HS_FLAG_DOTALL : 0) | (rx & VIG_RX_MULTILINE ? HS_FLAG_MULTILINE : 0);
}

/* Whether Hyperscan accepts one regex on its own. */
static bool hs_accepts(const struct vig_sigma_atom *a)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	if (hs_compile(a->rx, hs_flags(a->rx_flags), HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
		hs_free_compile_error(ce);
		return false;
	}
	hs_free_database(db);
	return true;
}

static enum vig_err add_pcre(struct slot *s, uint32_t atom, const struct vig_sigma_atom *a, char *errbuf)
{
	uint32_t opt = (a->rx_flags & VIG_RX_CASELESS ? PCRE2_CASELESS : 0) |
		       (a->rx_flags & VIG_RX_DOTALL ? PCRE2_DOTALL : 0) |
		       (a->rx_flags & VIG_RX_MULTILINE ? PCRE2_MULTILINE : 0);
	int ecode;
	PCRE2_SIZE eoff;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)a->rx, PCRE2_ZERO_TERMINATED, opt, &ecode, &eoff, NULL);
	size_t cap = s->cap_pcre;

	if (!re)
		return vig_errf(errbuf, VIG_EINVAL, "regex of field '%s' compiles in neither hyperscan nor pcre2",
				s->name);
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter works too */
	if (!grow((void **)&s->pcre, &cap, s->n_pcre + 1, sizeof(*s->pcre)) ||
	    !push_u32(&s->pcre_atoms, &s->n_pcre, &s->cap_pcre, atom)) {
		pcre2_code_free(re);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	s->pcre[s->n_pcre - 1] = re;
	return VIG_OK;
}

/* Compiles the slot's Hyperscan candidates; patterns the database refuses move to PCRE2. */
static enum vig_err compile_slot(struct group *g, struct slot *s, struct vig_detect_stats *st, char *errbuf)
{
	const char **exprs;
	unsigned *flags, *ids;
	hs_compile_error_t *ce = NULL;
	enum vig_err err = VIG_OK;
	size_t n = s->n_hs;

	if (n == 0)
		return VIG_OK;
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	if (!exprs || !flags || !ids) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		exprs[i] = g->atoms[s->hs_atoms[i]]->rx;
		flags[i] = hs_flags(g->atoms[s->hs_atoms[i]]->rx_flags);
		ids[i] = s->hs_atoms[i];
	}
	if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &s->db, &ce) != HS_SUCCESS) {
		/* One expression spoilt the set: test each, keep the good ones. */
		size_t k = 0;
		hs_free_compile_error(ce);
		ce = NULL;
		for (size_t i = 0; i < n && !err; i++) {
			const struct vig_sigma_atom *a = g->atoms[s->hs_atoms[i]];
			if (hs_accepts(a)) {
				exprs[k] = exprs[i], flags[k] = flags[i], ids[k] = ids[i];
				k++;
			} else {
				err = add_pcre(s, s->hs_atoms[i], a, errbuf);
			}
		}
		if (!err && k &&
		    hs_compile_multi(exprs, flags, ids, (unsigned)k, HS_MODE_BLOCK, NULL, &s->db, &ce) != HS_SUCCESS) {
			err = vig_errf(errbuf, VIG_EINTERNAL, "hyperscan: %s (field '%s')", ce ? ce->message : "?",
				       s->name);
			hs_free_compile_error(ce);
		}
		n = k;
	}
	if (!err && s->db)
		st->hs_databases++;
	st->hs_patterns += err ? 0 : n;
out_free:
	free(exprs);
	free(flags);
	free(ids);
	return err;
}

static enum vig_err add_rule(struct vig_detect_engine *e, const struct vig_sigma_rule *r, char *errbuf)
{
	const struct vig_sigma_prog *p = r->prog;
	struct group *g = group_for(e, r);
	uint64_t *zero;
	uint32_t ri;

	if (!g || !grow((void **)&g->rules, &g->cap_rules, g->n_rules + 1, sizeof(*g->rules)) ||
	    !grow((void **)&g->atoms, &g->cap_atoms, g->n_atoms + p->n_atoms, sizeof(*g->atoms)))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	{
		size_t cap = g->cap_atoms;
		if (!(g->atom_rule = realloc(g->atom_rule, cap * sizeof(*g->atom_rule))))
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	ri = (uint32_t)g->n_rules++;
	g->rules[ri] = (struct grule){r, (uint32_t)g->n_atoms};
	for (uint32_t i = 0; i < p->n_atoms; i++) {
		const struct vig_sigma_atom *a = &p->atoms[i];
		uint32_t ga = (uint32_t)g->n_atoms++;
		struct slot *s = slot_for(g, a->field);
		bool ok;
		g->atoms[ga] = a;
		g->atom_rule[ga] = ri;
		if (!s)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		if (a->kind != VIG_ATOM_STR) {
			ok = push_u32(&s->direct, &s->n_direct, &s->cap_direct, ga);
			e->stats.direct_atoms++;
		} else if (!(a->rx_flags & VIG_RX_USER) || hs_accepts(a)) {
			ok = push_u32(&s->hs_atoms, &s->n_hs, &s->cap_hs, ga);
		} else {
			enum vig_err err = add_pcre(s, ga, a, errbuf);
			if (err)
				return err;
			ok = true;
		}
		if (!ok)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	e->stats.atoms += p->n_atoms;
	/* A rule true with no test fired is evaluated for every event of its group. */
	zero = calloc((p->n_atoms + 64) / 64, sizeof(*zero));
	if (!zero)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (vig_sigma_prog_eval(p, p->root, zero, 0)) {
		size_t cap = g->n_always;
		uint32_t *na = realloc(g->always, (cap + 1) * sizeof(*na));
		if (!na) {
			free(zero);
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		}
		g->always = na;
		g->always[g->n_always++] = ri;
		e->stats.always_rules++;
	}
	free(zero);
	return VIG_OK;
}

void vig_detect_free(struct vig_detect_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n_groups; i++) {
		struct group *g = &e->groups[i];
		for (size_t j = 0; j < g->n_slots; j++) {
			struct slot *s = &g->slots[j];
			hs_free_database(s->db);
			for (size_t k = 0; k < s->n_pcre; k++)
				pcre2_code_free(s->pcre[k]);
			free(s->pcre);
			free(s->pcre_atoms);
			free(s->hs_atoms);
			free(s->direct);
		}
		free(g->slots);
		free(g->atoms);
		free(g->atom_rule);
		free(g->rules);
		free(g->always);
	}
	free(e->groups);
	vig_sigma_ruleset_release(&e->rs);
	free(e);
}

struct vig_detect_engine *vig_detect_build(struct vig_sigma_ruleset *rs, char *errbuf)
{
	struct vig_detect_engine *e = calloc(1, sizeof(*e));
	enum vig_err err = VIG_OK;

	if (!e) {
		vig_sigma_ruleset_release(rs);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	e->rs = *rs;
	memset(rs, 0, sizeof(*rs));
	e->stats.rules = e->rs.n;
	for (size_t i = 0; i < e->rs.n && !err; i++) {
		const struct vig_sigma_rule *r = e->rs.rules[i];
		if (r->kind != VIG_SIGMA_DETECTION || !r->prog)
			continue;
		e->stats.detection_rules++;
		err = add_rule(e, r, errbuf);
	}
	for (size_t i = 0; i < e->n_groups && !err; i++) {
		struct group *g = &e->groups[i];
		for (size_t j = 0; j < g->n_slots && !err; j++) {
			err = compile_slot(g, &g->slots[j], &e->stats, errbuf);
			e->stats.pcre_patterns += g->slots[j].n_pcre;
			free(g->slots[j].hs_atoms);
			g->slots[j].hs_atoms = NULL;
		}
		e->max_atoms = VIG_MAX(e->max_atoms, g->n_atoms);
		e->max_rules = VIG_MAX(e->max_rules, g->n_rules);
	}
	e->stats.groups = e->n_groups;
	if (err) {
		vig_detect_free(e);
		return NULL;
	}
	return e;
}

void vig_detect_get_stats(const struct vig_detect_engine *e, struct vig_detect_stats *out)
{
	*out = e->stats;
}

struct vig_sigma_rule *const *vig_detect_rules(const struct vig_detect_engine *e, size_t *n)
{
	*n = e->rs.n;
	return e->rs.rules;
}

/* --- scratch -------------------------------------------------------------------------- */

void vig_detect_scratch_free(struct vig_detect_scratch *s)
{
	if (!s)
		return;
	hs_free_scratch(s->hs);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	free(s->bits);
	free(s->rmarks);
	free(s->cand);
	free(s);
}

struct vig_detect_scratch *vig_detect_scratch_new(const struct vig_detect_engine *e, char *errbuf)
{
	struct vig_detect_scratch *s = calloc(1, sizeof(*s));

	if (!s)
		goto out_nomem;
	s->eng = e;
	s->bits = calloc(e->max_atoms / 64 + 1, sizeof(*s->bits));
	s->rmarks = calloc(e->max_rules / 64 + 1, sizeof(*s->rmarks));
	s->cand = calloc(e->max_rules + 1, sizeof(*s->cand));
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->bits || !s->rmarks || !s->cand || !s->md || !s->mctx)
		goto out_nomem;
	pcre2_set_match_limit(s->mctx, PCRE_MATCH_LIMIT);
	for (size_t i = 0; i < e->n_groups; i++) {
		for (size_t j = 0; j < e->groups[i].n_slots; j++) {
			hs_database_t *db = e->groups[i].slots[j].db;
			if (db && hs_alloc_scratch(db, &s->hs) != HS_SUCCESS) {
				vig_detect_scratch_free(s);
				vig_errf(errbuf, VIG_ENOMEM, "cannot allocate hyperscan scratch");
				return NULL;
			}
		}
	}
	return s;
out_nomem:
	vig_detect_scratch_free(s);
	vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return NULL;
}

void vig_detect_scratch_counters(const struct vig_detect_scratch *s, struct vig_detect_counters *out)
{
	*out = s->c;
}

/* --- matching ------------------------------------------------------------------------- */

static inline void fire(struct vig_detect_scratch *s, uint32_t atom)
{
	uint32_t r = s->g->atom_rule[atom];

	s->bits[atom >> 6] |= 1ull << (atom & 63);
	if (!(s->rmarks[r >> 6] >> (r & 63) & 1)) {
		s->rmarks[r >> 6] |= 1ull << (r & 63);
		s->cand[s->n_cand++] = r;
	}
}

static int on_hs_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		       void *ctx)
{
	fire(ctx, id);
	return 0;
}

static const struct vig_val *field_value(const struct vig_event *ev, const struct slot *sl)
{
	if (sl->core >= 0)
		return vig_event_get(ev, (enum vig_field)sl->core);
	return vig_event_ext_get(ev, sl->name, sl->name_len);
}

/* Text of item i of v (i = 0 for scalars) into *p and *n; tmp holds converted values. */
static void item_text(const struct vig_val *v, uint32_t i, char *tmp, size_t cap, const char **p, size_t *n)
{
	if (v->type == VIG_T_LIST) {
		*p = v->u.l[i].p;
		*n = v->u.l[i].len;
	} else if (v->type == VIG_T_STR) {
		*p = v->u.s;
		*n = v->n;
	} else {
		const char *direct = NULL;
		size_t len = vig_val_text(v, tmp, cap, &direct);
		*p = direct ? direct : tmp;
		*n = direct ? len : VIG_MIN(len, cap - 1);
	}
}

static bool val_number(const struct vig_val *v, double *out)
{
	char *end;

	switch (v->type) {
	case VIG_T_INT:
	case VIG_T_TS:
	case VIG_T_BOOL:
		*out = (double)v->u.i;
		return true;
	case VIG_T_FLOAT:
		*out = v->u.d;
		return true;
	case VIG_T_STR:
		if (!v->n)
			return false;
		*out = strtod(v->u.s, &end);
		return *end == '\0';
	default:
		return false;
	}
}

static bool cmp_num(uint8_t cmp, double x, double y)
{
	switch (cmp) {
	case VIG_CMP_GT: return x > y;
	case VIG_CMP_GTE: return x >= y;
	case VIG_CMP_LT: return x < y;
	case VIG_CMP_LTE: return x <= y;
	default: return x == y;
	}
}

static bool in_range(const uint8_t ip[16], const struct vig_sigma_atom *a)
{
	return memcmp(ip, a->lo, 16) >= 0 && memcmp(ip, a->hi, 16) <= 0;
}

static bool time_part(const struct vig_val *v, uint8_t part, double *out)
{
	struct tm tm;
	time_t t;

	if (v->type != VIG_T_TS)
		return false;
	t = (time_t)(v->u.i / 1000000000);
	if (!gmtime_r(&t, &tm))
		return false;
	switch (part) {
	case VIG_TP_MINUTE: *out = tm.tm_min; break;
	case VIG_TP_HOUR: *out = tm.tm_hour; break;
	case VIG_TP_DAY: *out = tm.tm_mday; break;
	case VIG_TP_WEEK: {
		char w[8];
		strftime(w, sizeof(w), "%V", &tm);
		*out = (w[0] - '0') * 10 + (w[1] - '0');
		break;
	}
	case VIG_TP_MONTH: *out = tm.tm_mon + 1; break;
	default: *out = tm.tm_year + 1900; break;
	}
	return true;
}

static bool fieldref(const struct vig_event *ev, const struct vig_val *v, const struct vig_sigma_atom *a)
{
	const struct vig_val *o;
	char t1[128], t2[128];
	const char *p1, *p2;
	size_t n1, n2;
	int f2 = vig_field_lookup(a->field2, strlen(a->field2));

	o = f2 >= 0 ? vig_event_get(ev, (enum vig_field)f2) : vig_event_ext_get(ev, a->field2, strlen(a->field2));
	if (!o || v->type == VIG_T_LIST || o->type == VIG_T_LIST)
		return false;
	item_text(v, 0, t1, sizeof(t1), &p1, &n1);
	item_text(o, 0, t2, sizeof(t2), &p2, &n2);
	if (a->cmp == VIG_REF_EQ)
		return n1 == n2 && (a->cased ? memcmp(p1, p2, n1) : strncasecmp(p1, p2, n1)) == 0;
	if (n2 > n1)
		return false;
	if (a->cmp == VIG_REF_STARTS)
		return (a->cased ? memcmp(p1, p2, n2) : strncasecmp(p1, p2, n2)) == 0;
	if (a->cmp == VIG_REF_ENDS)
		return (a->cased ? memcmp(p1 + n1 - n2, p2, n2) : strncasecmp(p1 + n1 - n2, p2, n2)) == 0;
	for (size_t i = 0; i + n2 <= n1; i++)
		if ((a->cased ? memcmp(p1 + i, p2, n2) : strncasecmp(p1 + i, p2, n2)) == 0)
			return true;
	return false;
}

static bool direct_match(const struct vig_event *ev, const struct vig_val *v, const struct vig_sigma_atom *a)
{
	double x;
	uint8_t ip[16];
	uint32_t items = v->type == VIG_T_LIST ? v->n : 1;

	switch (a->kind) {
	case VIG_ATOM_PRESENT:
		return true;
	case VIG_ATOM_NONEMPTY:
		return (v->type != VIG_T_STR && v->type != VIG_T_LIST) || v->n > 0;
	case VIG_ATOM_NUM:
		return val_number(v, &x) && cmp_num(a->cmp, x, a->num);
	case VIG_ATOM_TIME:
		return time_part(v, a->tpart, &x) && cmp_num(a->cmp, x, a->num);
	case VIG_ATOM_CIDR:
		if (v->type == VIG_T_IP)
			return in_range(v->u.ip, a);
		for (uint32_t i = 0; i < items && (v->type == VIG_T_STR || v->type == VIG_T_LIST); i++) {
			const char *p = v->type == VIG_T_LIST ? v->u.l[i].p : v->u.s;
			size_t n = v->type == VIG_T_LIST ? v->u.l[i].len : v->n;
			if (vig_ip_parse(p, n, ip) && in_range(ip, a))
				return true;
		}
		return false;
	case VIG_ATOM_FIELDREF:
		return fieldref(ev, v, a);
	default:
		return false;
	}
}

static enum vig_err scan_slot(struct vig_detect_scratch *s, const struct vig_event *ev, const struct slot *sl)
{
	const struct vig_val *v = field_value(ev, sl);
	const struct group *g = s->g;
	uint32_t items;
	char tmp[128];

	if (!v)
		return VIG_OK;
	for (size_t i = 0; i < sl->n_direct; i++)
		if (direct_match(ev, v, g->atoms[sl->direct[i]]))
			fire(s, sl->direct[i]);
	if (!sl->db && !sl->n_pcre)
		return VIG_OK;
	items = v->type == VIG_T_LIST ? v->n : 1;
	for (uint32_t i = 0; i < items; i++) {
		const char *p;
		size_t n;
		item_text(v, i, tmp, sizeof(tmp), &p, &n);
		if (sl->db && hs_scan(sl->db, p, (unsigned)n, 0, s->hs, on_hs_match, s) != HS_SUCCESS)
			return VIG_EINTERNAL;
		for (size_t k = 0; k < sl->n_pcre; k++) {
			uint32_t atom = sl->pcre_atoms[k];
			int rc;
			if (s->bits[atom >> 6] >> (atom & 63) & 1)
				continue;
			rc = pcre2_match(sl->pcre[k], (PCRE2_SPTR)p, n, 0, 0, s->md, s->mctx);
			if (rc >= 0)
				fire(s, atom);
			else if (rc != PCRE2_ERROR_NOMATCH)
				s->c.pcre_errors++;
		}
	}
	return VIG_OK;
}

static enum vig_err match_group(struct vig_detect_scratch *s, const struct group *g, const struct vig_event *ev,
				vig_detect_cb *cb, void *ctx, size_t *n_matched, bool *stop)
{
	enum vig_err err;

	s->g = g;
	s->n_cand = 0;
	memset(s->bits, 0, (g->n_atoms / 64 + 1) * sizeof(*s->bits));
	memset(s->rmarks, 0, (g->n_rules / 64 + 1) * sizeof(*s->rmarks));
	for (size_t i = 0; i < g->n_slots; i++)
		if ((err = scan_slot(s, ev, &g->slots[i])))
			return err;
	for (size_t i = 0; i < g->n_always; i++) {
		uint32_t r = g->always[i];
		if (!(s->rmarks[r >> 6] >> (r & 63) & 1)) {
			s->rmarks[r >> 6] |= 1ull << (r & 63);
			s->cand[s->n_cand++] = r;
		}
	}
	s->c.groups++;
	for (size_t i = 0; i < s->n_cand && !*stop; i++) {
		const struct grule *gr = &g->rules[s->cand[i]];
		s->c.evaluated++;
		if (vig_sigma_prog_eval(gr->rule->prog, gr->rule->prog->root, s->bits, gr->base)) {
			(*n_matched)++;
			s->c.matched++;
			if (cb && cb(ctx, gr->rule))
				*stop = true;
		}
	}
	return VIG_OK;
}

enum vig_err vig_detect_match(const struct vig_detect_engine *e, struct vig_detect_scratch *s,
			      const struct vig_event *ev, vig_detect_cb *cb, void *ctx, size_t *n_matched)
{
	struct vig_detect_logsource ls[VIG_DETECT_MAX_LS];
	size_t nls = vig_detect_logsources(ev, ls), matched = 0;
	enum vig_err err = VIG_OK;
	bool stop = false;

	if (n_matched)
		*n_matched = 0;
	if (!s || s->eng != e)
		return VIG_EINVAL;
	s->c.events++;
	for (size_t i = 0; i < e->n_groups && !stop && !err; i++)
		if (group_applies(&e->groups[i], ls, nls))
			err = match_group(s, &e->groups[i], ev, cb, ctx, &matched, &stop);
	if (n_matched)
		*n_matched = matched;
	return err;
}
