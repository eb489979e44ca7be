/*
 * detect.c - the compiled Sigma engine (see detect.h for the contract).
 *
 * Layout. Rules are grouped by logsource; a group owns
 *   - atoms[]: every value test of its rules, group-numbered; rule r's atoms are
 *     [rules[r].base, rules[r].base + n_atoms), and atom_rule[] maps a test back to its rule
 *     (with the TRIGGER, EAGER and LAZY bits below);
 *   - slots[]: one per event field used. Identical string tests of several rules are one test
 *     (struct spat) there. A test generated from a Sigma string is a glob (detect_glob.c): its
 *     longest literal goes into the slot's Hyperscan *literal* database (hs_compile_lit_multi,
 *     caseless unless `cased`, single match) and a fired literal is confirmed with the glob,
 *     unless it is a plain substring; windash tests are expanded into their dash variants;
 *     exact values (no wildcard, anchored at both ends) are looked up in a hash table instead.
 *     Only the rule author's regexes (and strings without any byte) go into a regex database,
 *     or PCRE2 when Hyperscan refuses them. Numeric, CIDR, exists, null, time and fieldref
 *     tests are evaluated directly;
 *   - always[]: rules whose condition is true when no test fires (e.g. `not filter`).
 * Triggers. Per rule, a set of atoms one of which must be true for the condition to hold is
 * computed from the condition's positive structure (OR needs a trigger of each child, AND of
 * its cheapest child); only those atoms make the rule a candidate. A string test that triggers
 * no rule is *lazy* (kept out of the databases) when its rules have few such tests and rare
 * triggers; it is matched on demand while the candidate's condition is evaluated, so that
 * AND/OR short-circuits skip it.
 * Matching a group scans each slot's field once (each item of a list field), sets the bits
 * of fired atoms and collects candidate rules, evaluates candidates and always-rules, then
 * clears only the bits it set. The engine is never written after vig_detect_build():
 * everything that changes per event lives in the scratch.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "detect.h"
#include "filter.h"
#include "sigma_int.h"

#define TRIGGER 0x80000000u /* atom_rule[] bit: the atom makes its rule a candidate */
#define EAGER 0x40000000u   /* atom_rule[] bit: the atom is scanned for even if no trigger */
#define LAZY 0x20000000u    /* atom_rule[] bit: the atom is matched on demand */
#define RULE_MASK 0x1fffffffu /* atom_rule[]: the rule */
#define LAZY_MAX 4           /* non-trigger string tests a rule may match on demand */
#define LAZY_COST_MAX 100.0   /* ... if its trigger set is rarer than a presence test */
#define COST_NONE 1e30      /* no trigger set */
#define MAX_DASH_EXPAND 2 /* windash tokens a test may have to be expanded into variants */
#define ROUTE_KEY_MAX 512  /* bytes of logsource text a scratch caches its routing for */
#define PCRE_MATCH_LIMIT 200000u /* PCRE2 backtracking budget per regex and value */

/* One distinct string test of a slot (identical tests of several rules share it). */
enum { PK_GLOB = 0, PK_EXACT, PK_RX, PK_PCRE };

struct spat {
	uint8_t kind;          /* PK_* */
	bool contains;         /* PK_GLOB: a plain substring, the literal firing is the match */
	bool lazy;             /* PK_GLOB, PK_PCRE: triggers no rule, matched on demand only */
	struct vig_glob glob;  /* PK_GLOB: the test, confirmed after its literal fired;
				* PK_EXACT: the whole value (a pure glob anchored at both ends) */
	pcre2_code *re;        /* PK_PCRE: the compiled regex */
	const uint32_t *atoms; /* the group atoms this test decides (into slot.pat_atoms) */
	uint32_t n_atoms;
};

/* A string test while building: the regex, its flags, the group atom. */
struct sent {
	const char *rx;
	unsigned flags;
	uint32_t atom;
};

/* Exact-value tests of a slot: an open-addressing hash of the (folded) values; entry i's tests
 * are pats[off[i] .. off[i + 1]). */
struct xtab {
	uint32_t *slots;   /* entry + 1, or 0 when free; cap (a power of two) of them */
	uint64_t *hash;    /* per entry */
	const struct vig_glob **key; /* per entry: the value (the first test's glob) */
	uint32_t *off;     /* n + 1 offsets into pats */
	uint32_t *pats;
	size_t n, cap;
};

struct slot {
	const char *name;       /* event-model field name */
	size_t name_len;
	int core;               /* enum vig_field, or -1 for an extension field */
	struct spat *pats;      /* distinct string tests */
	size_t n_pats;
	uint32_t *pat_atoms;    /* atoms of every test, grouped by test */
	hs_database_t *lit_db;  /* literals of the PK_GLOB tests; id = literal number, or NULL */
	uint32_t *lit_off;      /* literal i's tests are lit_pats[lit_off[i] .. lit_off[i + 1]) */
	uint32_t *lit_pats;
	struct xtab xt[2];      /* PK_EXACT tests: [0] case-sensitive, [1] caseless */
	hs_database_t *rx_db;   /* PK_RX tests; id = test number, or NULL */
	uint32_t *pcre_pats;    /* PK_PCRE tests */
	size_t n_pcre;
	struct sent *ents;      /* build only: string tests before de-duplication */
	size_t n_ents, cap_ents;
	uint32_t *direct;       /* atoms evaluated directly */
	size_t n_direct, cap_direct;
};

struct grule {
	const struct vig_sigma_rule *rule;
	uint32_t base;  /* first group atom of the rule */
	bool has_lazy;  /* some of its tests are matched on demand */
};

/* A lazy test of a rule: atom `atom` is test `pat` of slot `slot`. */
struct lazy {
	uint32_t atom, slot, pat;
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
	uint32_t *lazy_off;     /* rule r's lazy tests are lazy[lazy_off[r] .. lazy_off[r + 1]) */
	struct lazy *lazy;
};

struct vig_detect_engine {
	struct vig_sigma_ruleset rs;
	struct group *groups;
	size_t n_groups, cap_groups;
	size_t max_atoms, max_rules;
	struct vig_detect_stats stats;
	struct vig_filter_index *filters; /* Sigma filters (filter.c); compiled into groups as rules */
};

struct vig_detect_scratch {
	const struct vig_detect_engine *eng;
	hs_scratch_t *hs;
	uint64_t *bits;       /* fired atoms of the group being matched */
	uint64_t *rmarks;     /* candidate rules of the group */
	uint32_t *cand;       /* candidate rule list */
	size_t n_cand;
	uint32_t *fired;      /* atoms whose bit is set (cleared after the group) */
	size_t n_fired;
	uint64_t *lbits;      /* lazy atoms matched on demand this event */
	uint32_t *lknown;     /* their list (cleared after the group) */
	size_t n_lknown;
	const struct slot *sl; /* slot being scanned and the text scanned (callback state) */
	const char *text;
	size_t text_len;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	const struct group *g; /* group being matched (callback state) */
	char route_key[ROUTE_KEY_MAX]; /* the logsources of the last event routed ... */
	size_t route_len;              /* ... (0: none cached) */
	uint32_t *route;               /* ... and the groups that applied to them */
	size_t n_route;
	struct vig_filter_run *frun; /* filters fired and matches held for the event (filter.c) */
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
	if (nc < 4 && (eq(cat, "intrusion_detection") || eq(obs, "ids")))
		cats[nc++] = "ids"; /* IDS/IPS alerts (Suricata, CEF from an IPS) */
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
	return !rule || (ev && (rule[0] | 0x20) == (ev[0] | 0x20) && strcasecmp(rule, ev) == 0);
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
static bool hs_accepts(const char *rx, unsigned rx_flags)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *ce = NULL;

	if (hs_compile(rx, hs_flags(rx_flags), HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
		hs_free_compile_error(ce);
		return false;
	}
	hs_free_database(db);
	return true;
}

/* Compiles pt's regex with PCRE2; unless the test is lazy, it is matched on every event. */
static enum vig_err make_pcre(struct slot *s, struct spat *pt, const char *rx, unsigned rx_flags, char *errbuf)
{
	uint32_t opt = (rx_flags & VIG_RX_CASELESS ? PCRE2_CASELESS : 0) | (rx_flags & VIG_RX_DOTALL ? PCRE2_DOTALL : 0) |
		       (rx_flags & VIG_RX_MULTILINE ? PCRE2_MULTILINE : 0);
	int ecode;
	PCRE2_SIZE eoff;

	pt->kind = PK_PCRE;
	pt->re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, opt, &ecode, &eoff, NULL);
	if (!pt->re)
		return vig_errf(errbuf, VIG_EINVAL, "regex of field '%s' compiles in neither hyperscan nor pcre2",
				s->name);
	pcre2_jit_compile(pt->re, PCRE2_JIT_COMPLETE); /* best effort: the interpreter works too */
	if (!pt->lazy)
		s->pcre_pats[s->n_pcre++] = (uint32_t)(pt - s->pats);
	return VIG_OK;
}

static int cmp_sent(const void *a, const void *b)
{
	const struct sent *x = a, *y = b;

	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	return strcmp(x->rx, y->rx);
}

/* A literal while building: where its bytes are, its case mode, the test it belongs to. */
struct lent {
	const uint16_t *tok;
	uint32_t len, pat;
	bool ci;
};

static int cmp_lent(const void *a, const void *b)
{
	const struct lent *x = a, *y = b;

	if (x->ci != y->ci)
		return x->ci ? 1 : -1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	for (uint32_t i = 0; i < x->len; i++) {
		uint16_t cx = x->tok[i], cy = y->tok[i];
		if (x->ci) {
			cx = cx >= 'A' && cx <= 'Z' ? (uint16_t)(cx + 32) : cx;
			cy = cy >= 'A' && cy <= 'Z' ? (uint16_t)(cy + 32) : cy;
		}
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return 0;
}

static inline uint8_t fold8(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* FNV-1a of p[0..n), ASCII-folded when ci. */
static uint64_t xhash(const char *p, size_t n, bool ci)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (ci ? fold8((uint8_t)p[i]) : (uint8_t)p[i])) * 1099511628211ull;
	return h;
}

static uint64_t xhash_glob(const struct vig_glob *g)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t i = 0; i < g->n; i++)
		h = (h ^ (g->ci ? fold8((uint8_t)g->tok[i]) : (uint8_t)g->tok[i])) * 1099511628211ull;
	return h;
}

static bool xeq(const struct vig_glob *g, const char *p, size_t n)
{
	if (g->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (g->ci ? fold8((uint8_t)g->tok[i]) != fold8((uint8_t)p[i]) : g->tok[i] != (uint8_t)p[i])
			return false;
	return true;
}

static int cmp_glob_val(const struct vig_glob *x, const struct vig_glob *y)
{
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	for (uint32_t i = 0; i < x->n; i++) {
		uint16_t cx = x->ci ? fold8((uint8_t)x->tok[i]) : x->tok[i];
		uint16_t cy = y->ci ? fold8((uint8_t)y->tok[i]) : y->tok[i];
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	return 0;
}

static const struct slot *g_sort_slot; /* qsort context of cmp_exact (build is single-threaded) */

static int cmp_exact(const void *a, const void *b)
{
	return cmp_glob_val(&g_sort_slot->pats[*(const uint32_t *)a].glob, &g_sort_slot->pats[*(const uint32_t *)b].glob);
}

static void xtab_release(struct xtab *t)
{
	free(t->slots);
	free(t->hash);
	free(t->key);
	free(t->off);
	free(t->pats);
	memset(t, 0, sizeof(*t));
}

/* Builds the slot's exact-value table for case mode ci from its PK_EXACT tests. */
static bool build_exact(struct slot *s, bool ci)
{
	struct xtab *t = &s->xt[ci];
	size_t n = 0;

	for (size_t i = 0; i < s->n_pats; i++)
		n += s->pats[i].kind == PK_EXACT && s->pats[i].glob.ci == ci;
	if (n == 0)
		return true;
	t->pats = calloc(n, sizeof(*t->pats));
	t->off = calloc(n + 1, sizeof(*t->off));
	t->hash = calloc(n, sizeof(*t->hash));
	t->key = calloc(n, sizeof(*t->key));
	for (t->cap = 16; t->cap < 2 * n; t->cap *= 2)
		;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (!t->pats || !t->off || !t->hash || !t->key || !t->slots)
		return false;
	n = 0;
	for (size_t i = 0; i < s->n_pats; i++)
		if (s->pats[i].kind == PK_EXACT && s->pats[i].glob.ci == ci)
			t->pats[n++] = (uint32_t)i;
	g_sort_slot = s;
	qsort(t->pats, n, sizeof(*t->pats), cmp_exact);
	for (size_t i = 0; i < n; i++) {
		const struct vig_glob *g = &s->pats[t->pats[i]].glob;
		size_t h;
		if (i > 0 && cmp_glob_val(t->key[t->n - 1], g) == 0)
			continue;
		t->off[t->n] = (uint32_t)i;
		t->key[t->n] = g;
		t->hash[t->n] = xhash_glob(g);
		for (h = t->hash[t->n] & (t->cap - 1); t->slots[h]; h = (h + 1) & (t->cap - 1))
			;
		t->slots[h] = (uint32_t)t->n + 1;
		t->n++;
	}
	t->off[t->n] = (uint32_t)n;
	return true;
}

/* The entry of table t whose value is p[0..n), or -1. */
static long exact_find(const struct xtab *t, const char *p, size_t n, bool ci)
{
	uint64_t h = xhash(p, n, ci);

	for (size_t i = h & (t->cap - 1); t->slots[i]; i = (i + 1) & (t->cap - 1)) {
		uint32_t e = t->slots[i] - 1;
		if (t->hash[e] == h && xeq(t->key[e], p, n))
			return e;
	}
	return -1;
}

/* Compiles the distinct literals of the slot's globs into one Hyperscan literal database. */
static enum vig_err compile_literals(struct slot *s, struct vig_detect_stats *st, char *errbuf)
{
	struct lent *le = NULL;
	const char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL;
	size_t *lens = NULL, n = 0, n_lits = 0, bytes = 0;
	char *pool = NULL;
	hs_compile_error_t *ce = NULL;
	enum vig_err err = VIG_OK;

	for (size_t i = 0; i < s->n_pats; i++)
		if (s->pats[i].kind == PK_GLOB && !s->pats[i].lazy)
			n++;
	if (n == 0)
		return VIG_OK;
	le = calloc(n, sizeof(*le));
	s->lit_pats = calloc(n, sizeof(*s->lit_pats));
	s->lit_off = calloc(n + 1, sizeof(*s->lit_off));
	if (!le || !s->lit_pats || !s->lit_off)
		goto out_nomem;
	n = 0;
	for (size_t i = 0; i < s->n_pats; i++) {
		const struct vig_glob *g = &s->pats[i].glob;
		if (s->pats[i].kind == PK_GLOB && !s->pats[i].lazy) {
			le[n++] = (struct lent){g->tok + g->lit_off, g->lit_len, (uint32_t)i, g->ci};
			bytes += g->lit_len;
		}
	}
	qsort(le, n, sizeof(*le), cmp_lent);
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	lens = calloc(n, sizeof(*lens));
	pool = malloc(bytes + 1);
	if (!exprs || !flags || !ids || !lens || !pool)
		goto out_nomem;
	bytes = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || cmp_lent(&le[i - 1], &le[i]) != 0) {
			s->lit_off[n_lits] = (uint32_t)i;
			exprs[n_lits] = pool + bytes;
			lens[n_lits] = le[i].len;
			flags[n_lits] = HS_FLAG_SINGLEMATCH | (le[i].ci ? HS_FLAG_CASELESS : 0);
			ids[n_lits] = (unsigned)n_lits;
			for (uint32_t k = 0; k < le[i].len; k++)
				pool[bytes++] = (char)le[i].tok[k];
			n_lits++;
		}
		s->lit_pats[i] = le[i].pat;
	}
	s->lit_off[n_lits] = (uint32_t)n;
	if (hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)n_lits, HS_MODE_BLOCK, NULL, &s->lit_db, &ce) !=
	    HS_SUCCESS) {
		err = vig_errf(errbuf, VIG_EINTERNAL, "hyperscan: %s (literals of field '%s')", ce ? ce->message : "?",
			       s->name);
		hs_free_compile_error(ce);
		goto out_free;
	}
	st->hs_databases++;
	goto out_free;
out_nomem:
	err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	free(le);
	free(exprs);
	free(flags);
	free(ids);
	free(lens);
	free(pool);
	return err;
}

/* Compiles the slot's PK_RX tests into one database; a test the set refuses moves to PCRE2. */
static enum vig_err compile_regexes(struct slot *s, struct vig_detect_stats *st, char *errbuf)
{
	const char **exprs = NULL;
	unsigned *flags = NULL, *ids = NULL;
	hs_compile_error_t *ce = NULL;
	enum vig_err err = VIG_OK;
	size_t n = 0;

	for (size_t i = 0; i < s->n_pats; i++)
		n += s->pats[i].kind == PK_RX;
	if (n == 0)
		return VIG_OK;
	exprs = calloc(n, sizeof(*exprs));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	if (!exprs || !flags || !ids) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	n = 0;
	for (size_t i = 0; i < s->n_pats; i++) {
		/* ents[] and pat_atoms[] run in parallel: a test's first entry carries its regex. */
		const struct sent *e = &s->ents[s->pats[i].atoms - s->pat_atoms];
		if (s->pats[i].kind != PK_RX)
			continue;
		exprs[n] = e->rx;
		flags[n] = hs_flags(e->flags);
		ids[n++] = (unsigned)i;
	}
	if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, &s->rx_db, &ce) != HS_SUCCESS) {
		/* One expression spoilt the set: test each, keep the good ones. */
		size_t k = 0;
		hs_free_compile_error(ce);
		ce = NULL;
		for (size_t i = 0; i < n && !err; i++) {
			const struct sent *e = &s->ents[s->pats[ids[i]].atoms - s->pat_atoms];
			if (hs_accepts(e->rx, e->flags)) {
				exprs[k] = exprs[i], flags[k] = flags[i], ids[k] = ids[i];
				k++;
			} else {
				err = make_pcre(s, &s->pats[ids[i]], e->rx, e->flags, errbuf);
			}
		}
		if (!err && k &&
		    hs_compile_multi(exprs, flags, ids, (unsigned)k, HS_MODE_BLOCK, NULL, &s->rx_db, &ce) != HS_SUCCESS) {
			err = vig_errf(errbuf, VIG_EINTERNAL, "hyperscan: %s (field '%s')", ce ? ce->message : "?",
				       s->name);
			hs_free_compile_error(ce);
		}
		n = k;
	}
	if (!err && s->rx_db)
		st->hs_databases++;
out_free:
	free(exprs);
	free(flags);
	free(ids);
	return err;
}

/* De-duplicates the slot's string tests, sorts each into glob, Hyperscan regex or PCRE2, and
 * compiles the slot's databases. */
static enum vig_err compile_slot(const struct group *gr, struct slot *s, struct vig_detect_stats *st,
				 char *errbuf)
{
	enum vig_err err = VIG_OK;
	size_t n = s->n_ents, np = 0, cap = 0, first = 0;

	if (n == 0)
		return VIG_OK;
	qsort(s->ents, n, sizeof(*s->ents), cmp_sent);
	for (size_t i = 0; i < n; i++)
		np += i == 0 || cmp_sent(&s->ents[i - 1], &s->ents[i]) != 0;
	s->pat_atoms = calloc(n, sizeof(*s->pat_atoms));
	s->pcre_pats = calloc(np, sizeof(*s->pcre_pats));
	if (!s->pat_atoms || !s->pcre_pats || !grow((void **)&s->pats, &cap, np, sizeof(*s->pats)))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && !err; i++) {
		const struct sent *e = &s->ents[i];
		struct vig_glob g0;
		uint32_t nv = 1, k;
		bool lazy;
		s->pat_atoms[i] = e->atom;
		if (i > 0 && cmp_sent(&s->ents[i - 1], e) == 0) {
			for (size_t j = first; j < s->n_pats; j++)
				s->pats[j].n_atoms++;
			continue;
		}
		first = s->n_pats;
		/* A test none of whose atoms triggers a rule is only matched when a rule that has
		 * it is evaluated: it stays out of the databases. */
		lazy = true;
		for (size_t j = i; j < n && lazy && cmp_sent(e, &s->ents[j]) == 0; j++)
			lazy = !(gr->atom_rule[s->ents[j].atom] & (TRIGGER | EAGER));
		if (!grow((void **)&s->pats, &cap, s->n_pats + 1, sizeof(*s->pats)))
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		if (!vig_glob_parse(e->rx, e->flags, &g0)) {
			struct spat *pt = &s->pats[s->n_pats++];
			*pt = (struct spat){.atoms = &s->pat_atoms[i], .n_atoms = 1, .kind = PK_RX, .lazy = lazy};
			if (lazy || ((e->flags & VIG_RX_USER) && !hs_accepts(e->rx, e->flags)))
				err = make_pcre(s, pt, e->rx, e->flags, errbuf);
			continue;
		}
		if (lazy) {
			s->pats[s->n_pats++] =
				(struct spat){.atoms = &s->pat_atoms[i], .n_atoms = 1, .kind = PK_GLOB, .lazy = true, .glob = g0};
			continue;
		}
		/* A windash test becomes one glob per dash variant: each has a longer literal and
		 * usually no wildcard left, so a fired literal needs no confirmation. */
		k = vig_glob_dashes(&g0);
		for (uint32_t d = 0; k <= MAX_DASH_EXPAND && d < k; d++)
			nv *= 5;
		for (uint32_t v = 0; v < nv && !err; v++) {
			struct spat *pt;
			if (!grow((void **)&s->pats, &cap, s->n_pats + 1, sizeof(*s->pats))) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				break;
			}
			pt = &s->pats[s->n_pats];
			*pt = (struct spat){.atoms = &s->pat_atoms[i], .n_atoms = 1, .kind = PK_GLOB};
			if (nv == 1) {
				pt->glob = g0;
				memset(&g0, 0, sizeof(g0));
			} else if (!vig_glob_variant(&g0, v, &pt->glob)) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				break;
			}
			s->n_pats++;
			pt->contains = pt->glob.pure && !pt->glob.as && !pt->glob.ae;
			if (pt->glob.pure && pt->glob.as && pt->glob.ae)
				pt->kind = PK_EXACT;
		}
		vig_glob_release(&g0);
	}
	if (!err && (!build_exact(s, false) || !build_exact(s, true)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (!err)
		err = compile_literals(s, st, errbuf);
	if (!err)
		err = compile_regexes(s, st, errbuf);
	/* The stats count tests (atoms), the way detect.h documents them. */
	for (size_t i = 0; i < s->n_pats && !err; i++) {
		if (i > 0 && s->pats[i].atoms == s->pats[i - 1].atoms)
			continue; /* another variant of the same test */
		if (s->pats[i].kind == PK_PCRE)
			st->pcre_patterns += s->pats[i].n_atoms;
		else
			st->hs_patterns += s->pats[i].n_atoms;
	}
	return err;
}

/* --- trigger atoms ---------------------------------------------------------------------
 * A rule only needs evaluating when one of its trigger atoms fired: a set of atoms at least
 * one of which is true whenever the condition is. OR (and n-of) needs a trigger of every
 * child, AND a trigger of one child (the cheapest: the one least likely to fire), NOT and TRUE
 * cannot provide one. The cost of a set estimates how often it fires: short literals and
 * presence tests fire often. A rule with no finite set keeps every atom as trigger. */


static double atom_cost(const struct vig_sigma_atom *a)
{
	struct vig_glob g;
	double c;

	switch (a->kind) {
	case VIG_ATOM_STR:
		if (!vig_glob_parse(a->rx, a->rx_flags, &g))
			return 40.0; /* a regex: prefer a literal, it scans cheaper */
		c = 1.0 + 64.0 / g.lit_len;
		vig_glob_release(&g);
		return c;
	case VIG_ATOM_PRESENT:
	case VIG_ATOM_NONEMPTY:
		return 1000.0;
	default:
		return 50.0;
	}
}

static double node_cost(const struct vig_sigma_prog *p, uint32_t node, double *memo, const double *acost)
{
	const struct vig_sigma_node *nd = &p->nodes[node];
	const uint32_t *kids = p->kids + nd->a;
	double c = 0;

	if (memo[node] >= 0)
		return memo[node];
	switch (nd->op) {
	case VIG_NODE_ATOM:
		c = acost[nd->a];
		break;
	case VIG_NODE_ANY_RANGE:
		for (uint32_t i = 0; i < nd->n; i++)
			c += acost[nd->a + i];
		break;
	case VIG_NODE_ALL_RANGE:
		c = COST_NONE;
		for (uint32_t i = 0; i < nd->n; i++)
			c = VIG_MIN(c, acost[nd->a + i]);
		break;
	case VIG_NODE_OR:
	case VIG_NODE_NOF:
		if (nd->op == VIG_NODE_NOF && nd->k == 0)
			c = COST_NONE;
		for (uint32_t i = 0; i < nd->n && c < COST_NONE; i++)
			c += node_cost(p, kids[i], memo, acost);
		break;
	case VIG_NODE_AND:
		c = COST_NONE;
		for (uint32_t i = 0; i < nd->n; i++)
			c = VIG_MIN(c, node_cost(p, kids[i], memo, acost));
		break;
	case VIG_NODE_FALSE:
		c = 0;
		break;
	default: /* NOT, TRUE */
		c = COST_NONE;
		break;
	}
	memo[node] = VIG_MIN(c, COST_NONE);
	return memo[node];
}

/* Marks the trigger atoms of node (whose cost is finite) in g->atom_rule[base + i]. */
static void mark_triggers(const struct vig_sigma_prog *p, uint32_t node, const double *memo, const double *acost,
			  uint32_t *atom_rule)
{
	const struct vig_sigma_node *nd = &p->nodes[node];
	const uint32_t *kids = p->kids + nd->a;
	uint32_t best = 0;

	switch (nd->op) {
	case VIG_NODE_ATOM:
		atom_rule[nd->a] |= TRIGGER;
		break;
	case VIG_NODE_ANY_RANGE:
		for (uint32_t i = 0; i < nd->n; i++)
			atom_rule[nd->a + i] |= TRIGGER;
		break;
	case VIG_NODE_ALL_RANGE:
		for (uint32_t i = 1; i < nd->n; i++)
			if (acost[nd->a + i] < acost[nd->a + best])
				best = i;
		atom_rule[nd->a + best] |= TRIGGER;
		break;
	case VIG_NODE_OR:
	case VIG_NODE_NOF:
		for (uint32_t i = 0; i < nd->n; i++)
			mark_triggers(p, kids[i], memo, acost, atom_rule);
		break;
	case VIG_NODE_AND:
		for (uint32_t i = 1; i < nd->n; i++)
			if (memo[kids[i]] < memo[kids[best]])
				best = i;
		mark_triggers(p, kids[best], memo, acost, atom_rule);
		break;
	default:
		break;
	}
}

/* Sets the TRIGGER bit of the rule's trigger atoms in atom_rule[0 .. n_atoms). */
static bool set_triggers(const struct vig_sigma_prog *p, uint32_t *atom_rule)
{
	double *memo = malloc(((size_t)p->n_nodes + p->n_atoms + 1) * sizeof(*memo));
	double *acost = memo ? memo + p->n_nodes : NULL;
	uint32_t lazy = 0;
	double cost;

	if (!memo)
		return false;
	for (uint32_t i = 0; i < p->n_nodes; i++)
		memo[i] = -1;
	for (uint32_t i = 0; i < p->n_atoms; i++)
		acost[i] = atom_cost(&p->atoms[i]);
	cost = node_cost(p, p->root, memo, acost);
	if (cost < COST_NONE) {
		mark_triggers(p, p->root, memo, acost, atom_rule);
	} else {
		for (uint32_t i = 0; i < p->n_atoms; i++)
			atom_rule[i] |= TRIGGER;
	}
	/* A rule with many non-trigger string tests, or one that is a candidate for most events
	 * (its triggers are presence tests), keeps its tests in the databases: matching them one
	 * by one whenever the rule is a candidate would cost more than scanning. */
	for (uint32_t i = 0; i < p->n_atoms; i++)
		lazy += p->atoms[i].kind == VIG_ATOM_STR && !(atom_rule[i] & TRIGGER);
	for (uint32_t i = 0; (lazy > LAZY_MAX || cost >= LAZY_COST_MAX) && i < p->n_atoms; i++)
		atom_rule[i] |= EAGER;
	free(memo);
	return true;
}

static enum vig_err add_rule(struct vig_detect_engine *e, struct vig_sigma_rule *r, char *errbuf)
{
	struct vig_sigma_prog *p = r->prog;
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
	vig_sigma_prog_optimize(p);
	ri = (uint32_t)g->n_rules++;
	g->rules[ri] = (struct grule){r, (uint32_t)g->n_atoms, false};
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
		} else {
			ok = grow((void **)&s->ents, &s->cap_ents, s->n_ents + 1, sizeof(*s->ents));
			if (ok)
				s->ents[s->n_ents++] = (struct sent){a->rx, a->rx_flags, ga};
		}
		if (!ok)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	e->stats.atoms += p->n_atoms;
	if (!set_triggers(p, g->atom_rule + g->rules[ri].base))
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
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

/* Lists the lazy tests of each rule of g. */
static enum vig_err index_lazy(struct group *g, char *errbuf)
{
	size_t n = 0;

	g->lazy_off = calloc(g->n_rules + 2, sizeof(*g->lazy_off));
	if (!g->lazy_off)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t j = 0; j < g->n_slots; j++)
		for (size_t k = 0; k < g->slots[j].n_pats; k++)
			if (g->slots[j].pats[k].lazy)
				for (uint32_t a = 0; a < g->slots[j].pats[k].n_atoms; a++) {
					g->lazy_off[(g->atom_rule[g->slots[j].pats[k].atoms[a]] & RULE_MASK) + 2]++;
					n++;
				}
	if (n == 0)
		return VIG_OK;
	g->lazy = calloc(n, sizeof(*g->lazy));
	if (!g->lazy)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	for (size_t r = 2; r < g->n_rules + 2; r++)
		g->lazy_off[r] += g->lazy_off[r - 1];
	for (size_t j = 0; j < g->n_slots; j++)
		for (size_t k = 0; k < g->slots[j].n_pats; k++)
			if (g->slots[j].pats[k].lazy)
				for (uint32_t a = 0; a < g->slots[j].pats[k].n_atoms; a++) {
					uint32_t atom = g->slots[j].pats[k].atoms[a];
					uint32_t r = g->atom_rule[atom] & RULE_MASK;
					g->atom_rule[atom] |= LAZY;
					g->rules[r].has_lazy = true;
					g->lazy[g->lazy_off[r + 1]++] = (struct lazy){atom, (uint32_t)j, (uint32_t)k};
				}
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
			hs_free_database(s->lit_db);
			hs_free_database(s->rx_db);
			for (size_t k = 0; k < s->n_pats; k++) {
				vig_glob_release(&s->pats[k].glob);
				pcre2_code_free(s->pats[k].re);
			}
			free(s->pats);
			free(s->pat_atoms);
			free(s->lit_off);
			free(s->lit_pats);
			free(s->pcre_pats);
			xtab_release(&s->xt[0]);
			xtab_release(&s->xt[1]);
			free(s->ents);
			free(s->direct);
		}
		free(g->slots);
		free(g->atoms);
		free(g->atom_rule);
		free(g->rules);
		free(g->always);
		free(g->lazy_off);
		free(g->lazy);
	}
	free(e->groups);
	vig_filter_index_free(e->filters);
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
		struct vig_sigma_rule *r = e->rs.rules[i];
		if ((r->kind != VIG_SIGMA_DETECTION && r->kind != VIG_SIGMA_FILTER) || !r->prog)
			continue;
		e->stats.detection_rules += r->kind == VIG_SIGMA_DETECTION;
		err = add_rule(e, r, errbuf);
	}
	if (!err && !(e->filters = vig_filter_index_build(e->rs.rules, e->rs.n, errbuf)))
		err = VIG_ENOMEM;
	for (size_t i = 0; i < e->n_groups && !err; i++) {
		struct group *g = &e->groups[i];
		for (size_t j = 0; j < g->n_slots && !err; j++) {
			err = compile_slot(g, &g->slots[j], &e->stats, errbuf);
			free(g->slots[j].ents);
			g->slots[j].ents = NULL;
		}
		if (!err)
			err = index_lazy(g, errbuf);
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
	free(s->fired);
	free(s->lbits);
	free(s->lknown);
	free(s->route);
	vig_filter_run_free(s->frun);
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
	s->fired = calloc(e->max_atoms + 1, sizeof(*s->fired));
	s->route = calloc(e->n_groups + 1, sizeof(*s->route));
	s->lbits = calloc(e->max_atoms / 64 + 1, sizeof(*s->lbits));
	s->lknown = calloc(e->max_atoms + 1, sizeof(*s->lknown));
	s->md = pcre2_match_data_create(1, NULL);
	s->mctx = pcre2_match_context_create(NULL);
	s->frun = vig_filter_run_new(e->filters);
	if (!s->frun || !s->bits || !s->rmarks || !s->cand || !s->fired || !s->route || !s->lbits || !s->lknown || !s->md || !s->mctx)
		goto out_nomem;
	pcre2_set_match_limit(s->mctx, PCRE_MATCH_LIMIT);
	for (size_t i = 0; i < e->n_groups; i++) {
		for (size_t j = 0; j < e->groups[i].n_slots; j++) {
			const struct slot *sl = &e->groups[i].slots[j];
			if ((sl->lit_db && hs_alloc_scratch(sl->lit_db, &s->hs) != HS_SUCCESS) ||
			    (sl->rx_db && hs_alloc_scratch(sl->rx_db, &s->hs) != HS_SUCCESS)) {
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
	uint32_t r;

	if (s->bits[atom >> 6] >> (atom & 63) & 1)
		return;
	s->bits[atom >> 6] |= 1ull << (atom & 63);
	s->fired[s->n_fired++] = atom;
	r = s->g->atom_rule[atom];
	if (!(r & TRIGGER))
		return;
	r &= RULE_MASK;
	if (!(s->rmarks[r >> 6] >> (r & 63) & 1)) {
		s->rmarks[r >> 6] |= 1ull << (r & 63);
		s->cand[s->n_cand++] = r;
	}
}

static inline bool pat_fired(const struct vig_detect_scratch *s, const struct spat *pt)
{
	uint32_t a = pt->atoms[0];

	return s->bits[a >> 6] >> (a & 63) & 1;
}

static inline void fire_pat(struct vig_detect_scratch *s, const struct spat *pt)
{
	for (uint32_t i = 0; i < pt->n_atoms; i++)
		fire(s, pt->atoms[i]);
}

/* A literal occurs in the text: confirm each test it stands for. */
static int on_literal(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
		      void *ctx)
{
	struct vig_detect_scratch *s = ctx;
	const struct slot *sl = s->sl;

	for (uint32_t k = sl->lit_off[id]; k < sl->lit_off[id + 1]; k++) {
		const struct spat *pt = &sl->pats[sl->lit_pats[k]];
		if (!pat_fired(s, pt) && (pt->contains || vig_glob_match(&pt->glob, s->text, s->text_len)))
			fire_pat(s, pt);
	}
	return 0;
}

static int on_regex(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
	struct vig_detect_scratch *s = ctx;

	fire_pat(s, &s->sl->pats[id]);
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

/* The two Hyperscan scans of a value (separate functions so that profiles tell them apart). */
static __attribute__((noinline)) hs_error_t scan_lit(struct vig_detect_scratch *s, const struct slot *sl,
						     const char *p, size_t n)
{
	return hs_scan(sl->lit_db, p, (unsigned)n, 0, s->hs, on_literal, s);
}

static __attribute__((noinline)) hs_error_t scan_rx(struct vig_detect_scratch *s, const struct slot *sl,
						    const char *p, size_t n)
{
	return hs_scan(sl->rx_db, p, (unsigned)n, 0, s->hs, on_regex, s);
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
	if (!sl->n_pats)
		return VIG_OK;
	s->sl = sl;
	items = v->type == VIG_T_LIST ? v->n : 1;
	for (uint32_t i = 0; i < items; i++) {
		const char *p;
		size_t n;
		item_text(v, i, tmp, sizeof(tmp), &p, &n);
		s->text = p;
		s->text_len = n;
		if (sl->lit_db && scan_lit(s, sl, p, n) != HS_SUCCESS)
			return VIG_EINTERNAL;
		if (sl->rx_db && scan_rx(s, sl, p, n) != HS_SUCCESS)
			return VIG_EINTERNAL;
		for (int ci = 0; ci < 2; ci++) {
			const struct xtab *t = &sl->xt[ci];
			long e = t->n ? exact_find(t, p, n, ci) : -1;
			for (uint32_t k = e >= 0 ? t->off[e] : 0; e >= 0 && k < t->off[e + 1]; k++)
				fire_pat(s, &sl->pats[t->pats[k]]);
		}
		for (size_t k = 0; k < sl->n_pcre; k++) {
			const struct spat *pt = &sl->pats[sl->pcre_pats[k]];
			int rc;
			if (pat_fired(s, pt))
				continue;
			rc = pcre2_match(pt->re, (PCRE2_SPTR)p, n, 0, 0, s->md, s->mctx);
			if (rc >= 0)
				fire_pat(s, pt);
			else if (rc != PCRE2_ERROR_NOMATCH)
				s->c.pcre_errors++;
		}
	}
	return VIG_OK;
}

/* Whether lazy atom `atom` (group-numbered) of candidate rule r is true: matched now, once
 * per event (a false result is remembered in s->lknown). */
static bool lazy_atom(struct vig_detect_scratch *s, const struct vig_event *ev, uint32_t r, uint32_t atom)
{
	const struct group *g = s->g;
	const struct lazy *lz = NULL;
	const struct slot *sl;
	const struct spat *pt;
	const struct vig_val *v;
	uint32_t items;
	char tmp[128];

	if (s->lbits[atom >> 6] >> (atom & 63) & 1)
		return false;
	s->lbits[atom >> 6] |= 1ull << (atom & 63);
	s->lknown[s->n_lknown++] = atom;
	for (uint32_t i = g->lazy_off[r]; i < g->lazy_off[r + 1] && !lz; i++)
		if (g->lazy[i].atom == atom)
			lz = &g->lazy[i];
	if (!lz)
		return false; /* not reached: every LAZY atom is listed */
	sl = &g->slots[lz->slot];
	pt = &sl->pats[lz->pat];
	if (!(v = field_value(ev, sl)))
		return false;
	items = v->type == VIG_T_LIST ? v->n : 1;
	for (uint32_t k = 0; k < items; k++) {
		const char *p;
		size_t n;
		int rc;
		item_text(v, k, tmp, sizeof(tmp), &p, &n);
		if (pt->kind == PK_GLOB) {
			rc = vig_glob_match(&pt->glob, p, n) ? 1 : PCRE2_ERROR_NOMATCH;
		} else {
			rc = pcre2_match(pt->re, (PCRE2_SPTR)p, n, 0, 0, s->md, s->mctx);
			if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
				s->c.pcre_errors++;
		}
		if (rc >= 0) {
			fire_pat(s, pt);
			return true;
		}
	}
	return false;
}

/* Atom i of rule r: its bit, or matched on demand when it is lazy. */
static inline bool atom_true(struct vig_detect_scratch *s, const struct vig_event *ev, uint32_t r, uint32_t a)
{
	if (s->bits[a >> 6] >> (a & 63) & 1)
		return true;
	return (s->g->atom_rule[a] & LAZY) && lazy_atom(s, ev, r, a);
}

/* vig_sigma_prog_eval() for candidate rule r of the group being matched, matching its lazy
 * tests only when the condition gets to them (AND and OR stop early). */
static bool eval_node(struct vig_detect_scratch *s, const struct vig_event *ev, uint32_t r, uint32_t node)
{
	const struct grule *gr = &s->g->rules[r];
	const struct vig_sigma_prog *p = gr->rule->prog;
	const struct vig_sigma_node *nd = &p->nodes[node];
	const uint32_t *kids = p->kids + nd->a;
	uint32_t hits = 0;

	switch (nd->op) {
	case VIG_NODE_ATOM:
		return atom_true(s, ev, r, gr->base + nd->a);
	case VIG_NODE_AND:
		for (uint32_t i = 0; i < nd->n; i++)
			if (!eval_node(s, ev, r, kids[i]))
				return false;
		return true;
	case VIG_NODE_OR:
		for (uint32_t i = 0; i < nd->n; i++)
			if (eval_node(s, ev, r, kids[i]))
				return true;
		return false;
	case VIG_NODE_NOT:
		return !eval_node(s, ev, r, kids[0]);
	case VIG_NODE_NOF:
		for (uint32_t i = 0; i < nd->n; i++)
			if (eval_node(s, ev, r, kids[i]) && ++hits >= nd->k)
				return true;
		return false;
	case VIG_NODE_ANY_RANGE:
	case VIG_NODE_ALL_RANGE: {
		bool all = nd->op == VIG_NODE_ALL_RANGE;
		if (!gr->has_lazy)
			return vig_sigma_prog_eval(p, node, s->bits, gr->base);
		for (uint32_t i = 0; i < nd->n; i++)
			if (atom_true(s, ev, r, gr->base + nd->a + i) != all)
				return !all;
		return all;
	}
	case VIG_NODE_TRUE:
		return true;
	default:
		return false;
	}
}

static enum vig_err match_group(struct vig_detect_scratch *s, const struct group *g, const struct vig_event *ev,
				vig_detect_cb *cb, void *ctx, size_t *n_matched, bool *stop)
{
	enum vig_err err = VIG_OK;

	s->g = g;
	s->n_cand = 0;
	s->n_fired = 0;
	for (size_t i = 0; i < g->n_slots && !err; i++)
		err = scan_slot(s, ev, &g->slots[i]);
	if (err)
		goto out_clear;
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
		if (gr->has_lazy ? eval_node(s, ev, s->cand[i], gr->rule->prog->root)
				 : vig_sigma_prog_eval(gr->rule->prog, gr->rule->prog->root, s->bits, gr->base)) {
			if (vig_filter_run_match(s->frun, gr->rule) != VIG_FILTER_PASS)
				continue; /* a filter, or a rule a filter may still remove */
			(*n_matched)++;
			s->c.matched++;
			if (cb && cb(ctx, gr->rule))
				*stop = true;
		}
	}
out_clear:
	/* Only what was set: the bitsets are as large as the largest group. */
	for (size_t i = 0; i < s->n_fired; i++)
		s->bits[s->fired[i] >> 6] = 0;
	for (size_t i = 0; i < s->n_cand; i++)
		s->rmarks[s->cand[i] >> 6] = 0;
	for (size_t i = 0; i < s->n_lknown; i++)
		s->lbits[s->lknown[i] >> 6] = 0;
	s->n_lknown = 0;
	return err;
}

/* Appends attribute a (or a mark for NULL) to the routing key; false when it does not fit. */
static bool key_add(char *key, size_t *len, const char *a)
{
	size_t n = a ? strlen(a) : 0;

	if (*len + n + 2 > ROUTE_KEY_MAX)
		return false;
	key[(*len)++] = a ? '=' : '-';
	if (n)
		memcpy(key + *len, a, n);
	*len += n;
	key[(*len)++] = '\x1f';
	return true;
}

/* Sets s->route to the groups that apply to logsources ls[0..n). Most events of a stream
 * share their logsources with the previous one, so the answer is cached per scratch. */
static void route(struct vig_detect_scratch *s, const struct vig_detect_logsource *ls, size_t n)
{
	const struct vig_detect_engine *e = s->eng;
	char key[ROUTE_KEY_MAX];
	size_t len = 0;
	bool ok = true;

	for (size_t i = 0; i < n && ok; i++)
		ok = key_add(key, &len, ls[i].product) && key_add(key, &len, ls[i].category) &&
		     key_add(key, &len, ls[i].service);
	if (ok && s->route_len && len == s->route_len && memcmp(key, s->route_key, len) == 0)
		return;
	s->n_route = 0;
	for (size_t i = 0; i < e->n_groups; i++)
		if (group_applies(&e->groups[i], ls, n))
			s->route[s->n_route++] = (uint32_t)i;
	s->route_len = ok ? len : 0;
	if (ok)
		memcpy(s->route_key, key, len);
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
	route(s, ls, nls);
	for (size_t i = 0; i < s->n_route && !stop && !err; i++)
		err = match_group(s, &e->groups[s->route[i]], ev, cb, ctx, &matched, &stop);
	{
		size_t held = vig_filter_run_finish(s->frun, err ? NULL : cb, ctx, &stop, &s->c.filtered);
		matched += held;
		s->c.matched += held;
	}
	if (n_matched)
		*n_matched = matched;
	return err;
}
