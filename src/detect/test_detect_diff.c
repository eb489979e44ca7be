/*
 * test_detect_diff.c - the engine's shortcuts checked against the plain semantics.
 *
 * The engine does not run the regexes the loader generates: it reads them back as globs
 * (detect_glob.c), looks for one literal per test, expands windash tests into variants, keeps
 * exact values in hash tables, makes only some atoms "triggers" of their rule and matches
 * non-trigger tests on demand. Each of these must give exactly the verdict of the regex and
 * of the rule's condition. Two differential tests:
 *   - globs: random patterns in the loader's regex form against random texts, compared with
 *     PCRE2 running the same regex (no shared data needed);
 *   - engine: SigmaHQ rules (linux, plus Windows process_creation rerouted to linux) against
 *     events built from the rules' own values, compared with a reference that runs every
 *     test's regex with PCRE2 and evaluates the unoptimised condition. Skipped without
 *     $VIG_SHARED_DIR.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "detect/detect.h"
#include "detect/sigma.h"
#include "detect/sigma_int.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static pcre2_code *rx_compile(const char *rx, unsigned flags)
{
	int ec;
	PCRE2_SIZE eo;
	uint32_t opt = (flags & VIG_RX_CASELESS ? PCRE2_CASELESS : 0) | (flags & VIG_RX_DOTALL ? PCRE2_DOTALL : 0) |
		       (flags & VIG_RX_MULTILINE ? PCRE2_MULTILINE : 0);
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, opt, &ec, &eo, NULL);

	if (!re)
		print_message("pcre2 refuses %s\n", rx);
	assert_non_null(re);
	return re;
}

static bool rx_match(pcre2_code *re, pcre2_match_data *md, const char *p, size_t n)
{
	return pcre2_match(re, (PCRE2_SPTR)p, n, 0, 0, md, NULL) >= 0;
}

/* --- globs ------------------------------------------------------------------------------ */

#define DASH_RX "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)"

/* Text pieces random texts are made of: letters of both cases, the windash alternatives. */
static const char *const PIECES[] = {"a", "A", "b", "B", "-", "/", "\xe2\x80\x93", "\xe2\x80\x94", ".", "\\", "ab"};

/* A random pattern in the loader's generated form. */
static void random_rx(char *rx, size_t cap, unsigned *flags)
{
	size_t n = 0, toks = 1 + rnd(6);
	bool ci = rnd(2);

	*flags = VIG_RX_DOTALL | (ci ? VIG_RX_CASELESS : 0);
	if (rnd(2))
		rx[n++] = '^';
	for (size_t i = 0; i < toks; i++) {
		const char *t;
		switch (rnd(9)) {
		case 0: t = ".*"; break;
		case 1: t = "."; break;
		case 2: t = DASH_RX; break;
		case 3: t = "\\x2e"; break; /* '.' */
		case 4: t = "\\x5c"; break; /* '\' */
		case 5: t = "A"; break;
		case 6: t = "b"; break;
		default: t = "a"; break;
		}
		n += (size_t)snprintf(rx + n, cap - n, "%s", t);
	}
	if (rnd(2))
		n += (size_t)snprintf(rx + n, cap - n, "\\z");
	rx[n] = '\0';
}

static void test_glob_vs_pcre(void **state)
{
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	size_t parsed = 0, matched = 0;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		char rx[512], text[64];
		unsigned flags;
		struct vig_glob g;
		pcre2_code *re;
		random_rx(rx, sizeof(rx), &flags);
		if (!vig_glob_parse(rx, flags, &g))
			continue; /* no byte to look for: stays a regex */
		parsed++;
		re = rx_compile(rx, flags);
		for (int k = 0; k < 40; k++) {
			size_t n = 0, pieces = rnd(8);
			bool want, any = false;
			for (size_t j = 0; j < pieces; j++)
				n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", PIECES[rnd(11)]);
			want = rx_match(re, md, text, n);
			matched += want;
			if (vig_glob_match(&g, text, n) != want)
				fail_msg("glob %s on '%.*s': engine %d, pcre2 %d", rx, (int)n, text, !want, want);
			/* The windash variants together match what the glob matches. */
			if (vig_glob_dashes(&g) <= 2) {
				uint32_t nv = 1;
				for (uint32_t d = 0; d < vig_glob_dashes(&g); d++)
					nv *= 5;
				for (uint32_t v = 0; v < nv; v++) {
					struct vig_glob gv;
					assert_true(vig_glob_variant(&g, v, &gv));
					assert_int_equal(vig_glob_dashes(&gv), 0);
					any |= vig_glob_match(&gv, text, n);
					vig_glob_release(&gv);
				}
				if (any != want)
					fail_msg("variants of %s on '%.*s': %d, want %d", rx, (int)n, text, any, want);
			}
		}
		pcre2_code_free(re);
		vig_glob_release(&g);
	}
	pcre2_match_data_free(md);
	print_message("%zu random globs checked, %zu matching texts\n", parsed, matched);
	assert_true(parsed > 1000);
	assert_true(matched > 1000);
}

static void test_glob_refusals(void **state)
{
	struct vig_glob g;

	(void)state;
	/* A rule author's regex, a character class, a string without any byte. */
	assert_false(vig_glob_parse("abc", VIG_RX_DOTALL | VIG_RX_USER, &g));
	assert_false(vig_glob_parse("^[ab]c", VIG_RX_DOTALL, &g));
	assert_false(vig_glob_parse("^.\\z", VIG_RX_DOTALL, &g));
	assert_false(vig_glob_parse("a|b", VIG_RX_DOTALL, &g));
	/* The literal is the longest run of bytes. */
	assert_true(vig_glob_parse("^ab.*\\x5ccmd\\x2eexe\\z", VIG_RX_DOTALL | VIG_RX_CASELESS, &g));
	assert_true(g.as && g.ae && g.ci && !g.pure);
	assert_int_equal(g.lit_len, 8);
	assert_int_equal(g.tok[g.lit_off], '\\');
	vig_glob_release(&g);
}

/* --- engine against reference ------------------------------------------------------------ */

#define MAX_RULES 1800
#define N_EVENTS 300

static struct vig_sigma_ruleset g_rs;
static size_t g_windows;

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r;
	size_t n = strlen(path);
	bool linux_dir = strstr(path, "/linux/") != NULL;

	(void)sb;
	(void)ftw;
	if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".yml") != 0 || g_rs.n >= MAX_RULES)
		return 0;
	if (!linux_dir && !strstr(path, "/windows/process_creation/"))
		return 0;
	if (!linux_dir && g_windows >= MAX_RULES / 2)
		return 0;
	if (!(r = vig_sigma_load_file(path, NULL, err)))
		return 0;
	if (r->kind != VIG_SIGMA_DETECTION || r->next) {
		vig_sigma_free(r);
		return 0;
	}
	/* One logsource for all: the engine's routing is tested elsewhere. */
	r->logsource.product = "linux";
	r->logsource.category = "process_creation";
	r->logsource.service = NULL;
	g_windows += !linux_dir;
	assert_int_equal(vig_sigma_ruleset_add(&g_rs, r), VIG_OK);
	return 0;
}

/* Whether the rule only has tests the reference can evaluate. */
static bool simple_rule(const struct vig_sigma_rule *r)
{
	for (uint32_t i = 0; i < r->prog->n_atoms; i++) {
		uint8_t k = r->prog->atoms[i].kind;
		if (k != VIG_ATOM_STR && k != VIG_ATOM_PRESENT && k != VIG_ATOM_NONEMPTY)
			return false;
	}
	return true;
}

/* Appends a text the glob of atom a matches (wildcards filled in) to buf. */
static size_t instantiate(const struct vig_sigma_atom *a, char *buf, size_t cap)
{
	struct vig_glob g;
	size_t n = 0;

	if (a->kind != VIG_ATOM_STR || !vig_glob_parse(a->rx, a->rx_flags, &g))
		return 0;
	for (uint32_t i = 0; i < g.n && n + 4 < cap; i++) {
		uint16_t t = g.tok[i];
		if (t < 256)
			buf[n++] = (char)(rnd(2) && t >= 'a' && t <= 'z' ? t - 32 : t);
		else if (t == VIG_GLOB_STAR)
			n += (size_t)snprintf(buf + n, cap - n, "%s", rnd(2) ? "x y" : "");
		else if (t == VIG_GLOB_ONE)
			buf[n++] = 'q';
		else
			buf[n++] = rnd(2) ? '-' : '/';
	}
	vig_glob_release(&g);
	return n;
}

struct field_val {
	const char *name;
	char text[512];
	size_t n;
};

/* Builds event i: values taken from a few random rules' tests, anchored or embedded. */
static size_t make_event(struct field_val *fv, size_t cap)
{
	size_t nf = 0;

	for (int k = 0; k < 4; k++) {
		const struct vig_sigma_rule *r = g_rs.rules[rnd((uint32_t)g_rs.n)];
		for (uint32_t i = 0; i < r->prog->n_atoms && i < 6; i++) {
			const struct vig_sigma_atom *a = &r->prog->atoms[rnd(r->prog->n_atoms)];
			struct field_val *f = NULL;
			for (size_t j = 0; j < nf; j++)
				if (!strcmp(fv[j].name, a->field))
					f = &fv[j];
			if (!f) {
				if (nf == cap)
					continue;
				f = &fv[nf++];
				f->name = a->field;
				f->n = 0;
			}
			if (f->n && f->n + 2 < sizeof(f->text) && rnd(3) == 0)
				f->text[f->n++] = ' ';
			else if (rnd(2))
				f->n = 0; /* sometimes the value alone, for anchored tests */
			f->n += instantiate(a, f->text + f->n, sizeof(f->text) - f->n);
		}
	}
	return nf;
}

/* The reference's compiled regex of each atom of each rule, compiled on first use. */
static pcre2_code ***g_re;

static bool ref_atom(const struct vig_sigma_atom *a, pcre2_code **rep, const struct vig_event *ev,
		     pcre2_match_data *md)
{
	const struct vig_val *v = vig_event_get_by_name(ev, a->field, strlen(a->field));
	char tmp[128];
	bool hit = false;

	if (!v)
		return false;
	if (a->kind == VIG_ATOM_PRESENT)
		return true;
	if (a->kind == VIG_ATOM_NONEMPTY)
		return (v->type != VIG_T_STR && v->type != VIG_T_LIST) || v->n > 0;
	{
		pcre2_code *re = *rep ? *rep : (*rep = rx_compile(a->rx, a->rx_flags));
		uint32_t items = v->type == VIG_T_LIST ? v->n : 1;
		for (uint32_t i = 0; i < items && !hit; i++) {
			const char *p, *direct = NULL;
			size_t n;
			if (v->type == VIG_T_LIST) {
				p = v->u.l[i].p;
				n = v->u.l[i].len;
			} else if (v->type == VIG_T_STR) {
				p = v->u.s;
				n = v->n;
			} else {
				n = vig_val_text(v, tmp, sizeof(tmp), &direct);
				p = direct ? direct : tmp;
				n = direct ? n : (n < sizeof(tmp) ? n : sizeof(tmp) - 1);
			}
			hit = rx_match(re, md, p, n);
		}
	}
	return hit;
}

struct got {
	const struct vig_sigma_rule **v;
	size_t n;
};

static int collect(void *ctx, const struct vig_sigma_rule *rule)
{
	struct got *g = ctx;

	g->v[g->n++] = rule;
	return 0;
}

static void test_engine_vs_reference(void **state)
{
	const char *dir = getenv("VIG_SHARED_DIR");
	char path[1024], err[VIG_ERRBUF_SIZE];
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_arena arena;
	struct vig_event ev;
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	static struct field_val fv[N_EVENTS][16];
	static size_t nfv[N_EVENTS];
	uint8_t *want; /* [event][rule]: the reference verdict */
	struct vig_sigma_rule **rules;
	size_t n_rules, total = 0;
	struct got got;

	(void)state;
	if (!dir) {
		pcre2_match_data_free(md);
		print_message("VIG_SHARED_DIR is not set: SigmaHQ corpus unavailable\n");
		skip();
	}
	vig_sigma_ruleset_init(&g_rs, 0);
	snprintf(path, sizeof(path), "%s/data/sigma/rules", dir);
	nftw(path, visit, 16, FTW_PHYS);
	if (g_rs.n == 0) {
		pcre2_match_data_free(md);
		print_message("no SigmaHQ rules under %s\n", path);
		skip();
	}
	n_rules = g_rs.n;
	rules = calloc(n_rules, sizeof(*rules));
	want = calloc(N_EVENTS * n_rules, 1);
	got.v = calloc(n_rules, sizeof(*got.v));
	assert_true(rules && want && got.v);
	memcpy(rules, g_rs.rules, n_rules * sizeof(*rules));
	g_re = calloc(n_rules, sizeof(*g_re));
	assert_non_null(g_re);
	for (size_t r = 0; r < n_rules; r++)
		assert_non_null(g_re[r] = calloc(rules[r]->prog->n_atoms + 1, sizeof(**g_re)));
	vig_arena_init(&arena, 8192, 1 << 20);
	vig_event_init(&ev, &arena);
	/* Events and reference verdicts first: building the engine rewrites the programs. */
	for (size_t e = 0; e < N_EVENTS; e++) {
		nfv[e] = make_event(fv[e], 16);
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "a1");
		vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process");
		vig_event_set_cstr(&ev, VIG_F_EVENT_TYPE, "start");
		for (size_t j = 0; j < nfv[e]; j++)
			vig_event_set_by_name(&ev, fv[e][j].name, strlen(fv[e][j].name), fv[e][j].text, fv[e][j].n);
		for (size_t r = 0; r < n_rules; r++) {
			const struct vig_sigma_prog *p = rules[r]->prog;
			uint64_t bits[VIG_SIGMA_MAX_ATOMS / 64 + 1];
			if (!simple_rule(rules[r]))
				continue;
			memset(bits, 0, ((p->n_atoms + 63) / 64) * sizeof(bits[0]));
			for (uint32_t i = 0; i < p->n_atoms; i++)
				if (ref_atom(&p->atoms[i], &g_re[r][i], &ev, md))
					bits[i >> 6] |= 1ull << (i & 63);
			want[e * n_rules + r] = vig_sigma_prog_eval(p, p->root, bits, 0);
			total += want[e * n_rules + r];
		}
	}
	eng = vig_detect_build(&g_rs, err);
	assert_non_null(eng);
	s = vig_detect_scratch_new(eng, err);
	assert_non_null(s);
	for (size_t e = 0; e < N_EVENTS; e++) {
		size_t n = 0;
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "a1");
		vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process");
		vig_event_set_cstr(&ev, VIG_F_EVENT_TYPE, "start");
		for (size_t j = 0; j < nfv[e]; j++)
			vig_event_set_by_name(&ev, fv[e][j].name, strlen(fv[e][j].name), fv[e][j].text, fv[e][j].n);
		got.n = 0;
		assert_int_equal(vig_detect_match(eng, s, &ev, collect, &got, &n), VIG_OK);
		for (size_t r = 0; r < n_rules; r++) {
			bool hit = false;
			if (!simple_rule(rules[r]))
				continue;
			for (size_t k = 0; k < got.n; k++)
				hit |= got.v[k] == rules[r];
			if (hit != (bool)want[e * n_rules + r])
				fail_msg("event %zu, rule '%s': engine %d, reference %d", e, rules[r]->title, hit,
					 want[e * n_rules + r]);
		}
	}
	print_message("%zu rules, %d events, %zu reference matches, all agree\n", n_rules, N_EVENTS, total);
	assert_true(total >= N_EVENTS); /* the events are built to match: a vacuous run fails */
	for (size_t r = 0; r < n_rules; r++) {
		for (uint32_t i = 0; i < rules[r]->prog->n_atoms; i++)
			pcre2_code_free(g_re[r][i]);
		free(g_re[r]);
	}
	free(g_re);
	vig_detect_scratch_free(s);
	vig_detect_free(eng); /* frees the rules */
	vig_arena_release(&arena);
	pcre2_match_data_free(md);
	free(rules);
	free(want);
	free(got.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_vs_pcre),
		cmocka_unit_test(test_glob_refusals),
		cmocka_unit_test(test_engine_vs_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
