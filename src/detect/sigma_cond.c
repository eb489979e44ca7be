/*
 * sigma_cond.c - the Sigma condition language and the boolean program it compiles to.
 *
 * Grammar (least to most binding, as the Sigma specification orders it):
 *   expr    := and_e ('or' and_e)*
 *   and_e   := not_e ('and' not_e)*
 *   not_e   := 'not' not_e | primary
 *   primary := '(' expr ')' | QUANT 'of' (PATTERN | 'them') | SELECTION
 *   QUANT   := '1' | 'any' | 'all' | N (at least N)
 * Keywords are case-insensitive; selection names are case-sensitive. `them` covers every
 * selection whose name does not start with '_'; a PATTERN may use '*' and '?' wildcards and
 * must match at least one selection. The legacy aggregation syntax (`| count() by x > 5`) is
 * refused: Sigma v2 expresses it with correlation rules.
 *
 * Programs are evaluated by vig_sigma_prog_eval() over a bitset of fired atoms; recursion depth
 * is bounded by VIG_SIGMA_MAX_DEPTH when parsing, so evaluation depth is bounded too.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sigma_int.h"

#define MAX_PROG_NODES (VIG_SIGMA_MAX_ATOMS * 8u)

static enum vig_err grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t ncap;
	void *np;

	if (need <= *cap)
		return VIG_OK;
	if (need > MAX_PROG_NODES * 4u)
		return VIG_ETOOBIG;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, (size_t)ncap * elem);
	if (!np)
		return VIG_ENOMEM;
	*p = np;
	*cap = ncap;
	return VIG_OK;
}

enum vig_err vig_sigma_prog_node(struct vig_sigma_prog *prog, uint8_t op, const uint32_t *kids, uint32_t n,
				 uint32_t k, uint32_t *out)
{
	enum vig_err err;
	struct vig_sigma_node *nd;

	if (prog->n_nodes >= MAX_PROG_NODES)
		return VIG_ETOOBIG;
	err = grow((void **)&prog->nodes, &prog->cap_nodes, prog->n_nodes + 1, sizeof(*prog->nodes));
	if (err)
		return err;
	err = grow((void **)&prog->kids, &prog->cap_kids, prog->n_kids + n, sizeof(*prog->kids));
	if (err)
		return err;
	nd = &prog->nodes[prog->n_nodes];
	nd->op = op;
	nd->n = n;
	nd->k = k;
	if (op == VIG_NODE_ATOM) {
		nd->a = kids[0];
		nd->n = 0;
	} else {
		nd->a = prog->n_kids;
		if (n)
			memcpy(prog->kids + prog->n_kids, kids, n * sizeof(*kids));
		prog->n_kids += n;
	}
	*out = prog->n_nodes++;
	return VIG_OK;
}

void vig_sigma_prog_release(struct vig_sigma_prog *prog)
{
	free(prog->atoms);
	free(prog->nodes);
	free(prog->kids);
	memset(prog, 0, sizeof(*prog));
}

void vig_sigma_prog_optimize(struct vig_sigma_prog *prog)
{
	for (uint32_t i = 0; i < prog->n_nodes; i++) {
		struct vig_sigma_node *nd = &prog->nodes[i];
		const uint32_t *kids = prog->kids + nd->a;
		uint32_t first;
		bool run = nd->n >= 2;
		if (nd->op != VIG_NODE_AND && nd->op != VIG_NODE_OR)
			continue;
		first = run && prog->nodes[kids[0]].op == VIG_NODE_ATOM ? prog->nodes[kids[0]].a : 0;
		for (uint32_t k = 0; run && k < nd->n; k++)
			run = prog->nodes[kids[k]].op == VIG_NODE_ATOM && prog->nodes[kids[k]].a == first + k;
		if (!run)
			continue;
		nd->op = nd->op == VIG_NODE_OR ? VIG_NODE_ANY_RANGE : VIG_NODE_ALL_RANGE;
		nd->a = first;
	}
}

/* Whether any (all when `all`) of bits [from, from + n) are set; n > 0. */
static bool range_test(const uint64_t *bits, uint32_t from, uint32_t n, bool all)
{
	uint32_t end = from + n; /* exclusive */
	uint32_t w0 = from >> 6, w1 = (end - 1) >> 6;

	for (uint32_t w = w0; w <= w1; w++) {
		uint64_t mask = ~0ull;
		if (w == w0)
			mask &= ~0ull << (from & 63);
		if (w == w1 && (end & 63))
			mask &= ~0ull >> (64 - (end & 63));
		if (all ? (bits[w] & mask) != mask : (bits[w] & mask) != 0)
			return !all;
	}
	return all;
}

bool vig_sigma_prog_eval(const struct vig_sigma_prog *prog, uint32_t node, const uint64_t *bits, uint32_t base)
{
	const struct vig_sigma_node *nd = &prog->nodes[node];
	const uint32_t *kids = prog->kids + nd->a;
	uint32_t hits = 0;

	switch (nd->op) {
	case VIG_NODE_ATOM: {
		uint32_t b = base + nd->a;
		return (bits[b >> 6] >> (b & 63)) & 1u;
	}
	case VIG_NODE_AND:
		for (uint32_t i = 0; i < nd->n; i++)
			if (!vig_sigma_prog_eval(prog, kids[i], bits, base))
				return false;
		return true;
	case VIG_NODE_OR:
		for (uint32_t i = 0; i < nd->n; i++)
			if (vig_sigma_prog_eval(prog, kids[i], bits, base))
				return true;
		return false;
	case VIG_NODE_NOT:
		return !vig_sigma_prog_eval(prog, kids[0], bits, base);
	case VIG_NODE_NOF:
		for (uint32_t i = 0; i < nd->n; i++) {
			if (vig_sigma_prog_eval(prog, kids[i], bits, base) && ++hits >= nd->k)
				return true;
		}
		return false;
	case VIG_NODE_TRUE:
		return true;
	case VIG_NODE_ANY_RANGE:
		return range_test(bits, base + nd->a, nd->n, false);
	case VIG_NODE_ALL_RANGE:
		return range_test(bits, base + nd->a, nd->n, true);
	default:
		return false;
	}
}

/* --- the parser ------------------------------------------------------------------------ */

enum tok { T_END, T_LP, T_RP, T_WORD, T_PIPE };

struct cparser {
	struct vig_sigma_prog *prog;
	const char *s;      /* whole condition text */
	size_t pos;         /* next unread byte */
	enum tok tok;       /* current token */
	const char *w;      /* T_WORD: start */
	size_t wn;          /* T_WORD: length */
	const char *const *names;
	const uint32_t *roots;
	size_t n_names;
	int depth;
	char *errbuf;
};

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
	       c == '*' || c == '?' || c == '-' || c == '.';
}

static enum vig_err next(struct cparser *p)
{
	const char *s = p->s;

	while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r')
		p->pos++;
	p->w = s + p->pos;
	p->wn = 0;
	switch (s[p->pos]) {
	case '\0':
		p->tok = T_END;
		return VIG_OK;
	case '(':
		p->tok = T_LP;
		p->pos++;
		return VIG_OK;
	case ')':
		p->tok = T_RP;
		p->pos++;
		return VIG_OK;
	case '|':
		p->tok = T_PIPE;
		return vig_errf(p->errbuf, VIG_EUNSUPPORTED,
				"aggregation expression ('|') in condition is not supported, use a correlation rule");
	default:
		break;
	}
	if (!word_char(s[p->pos]))
		return vig_errf(p->errbuf, VIG_EPARSE, "unexpected character '%c' at offset %zu of condition",
				s[p->pos], p->pos);
	while (word_char(s[p->pos]))
		p->pos++;
	p->tok = T_WORD;
	p->wn = (size_t)(s + p->pos - p->w);
	return VIG_OK;
}

static bool is_kw(const struct cparser *p, const char *kw)
{
	return p->tok == T_WORD && p->wn == strlen(kw) && strncasecmp(p->w, kw, p->wn) == 0;
}

/* Glob match of pattern [p, p+pn) (with * and ?) against NUL-terminated name. */
static bool glob_match(const char *p, size_t pn, const char *name)
{
	const char *star_p = NULL, *star_n = NULL;
	const char *pe = p + pn;

	while (*name) {
		if (p < pe && (*p == '?' || *p == *name)) {
			p++;
			name++;
		} else if (p < pe && *p == '*') {
			star_p = ++p;
			star_n = name;
		} else if (star_p) {
			p = star_p;
			name = ++star_n;
		} else {
			return false;
		}
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

static enum vig_err parse_or(struct cparser *p, uint32_t *out);

static enum vig_err parse_quant(struct cparser *p, uint32_t *out)
{
	uint32_t k = 0, n = 0, *kids = NULL;
	bool all = is_kw(p, "all");
	bool them;
	int64_t num = 0;
	enum vig_err err;
	const char *pat;
	size_t patn;

	if (!all && !is_kw(p, "any") && !(vig_parse_i64(p->w, p->wn, &num) && num >= 1))
		return vig_errf(p->errbuf, VIG_EPARSE, "bad quantifier '%.*s' in condition", (int)p->wn, p->w);
	if ((err = next(p)) || (err = next(p)))
		return err;
	if (p->tok != T_WORD)
		return vig_errf(p->errbuf, VIG_EPARSE, "'of' must be followed by a pattern or 'them' in condition");
	them = is_kw(p, "them");
	pat = p->w;
	patn = p->wn;
	kids = calloc(p->n_names ? p->n_names : 1, sizeof(*kids));
	if (!kids)
		return VIG_ENOMEM;
	for (size_t i = 0; i < p->n_names; i++) {
		if (them ? p->names[i][0] != '_' : glob_match(pat, patn, p->names[i]))
			kids[n++] = p->roots[i];
	}
	if (n == 0) {
		err = vig_errf(p->errbuf, VIG_EPARSE, "'%.*s' in condition matches no selection", (int)patn, pat);
		goto out_free_kids;
	}
	if (all)
		err = vig_sigma_prog_node(p->prog, VIG_NODE_AND, kids, n, 0, out);
	else if (num <= 1)
		err = vig_sigma_prog_node(p->prog, VIG_NODE_OR, kids, n, 0, out);
	else {
		k = (uint32_t)VIG_MIN((int64_t)n + 1, num);
		err = vig_sigma_prog_node(p->prog, VIG_NODE_NOF, kids, n, k, out);
	}
	if (!err)
		err = next(p);
out_free_kids:
	free(kids);
	return err;
}

static enum vig_err parse_primary(struct cparser *p, uint32_t *out)
{
	enum vig_err err;
	size_t save;

	if (p->tok == T_LP) {
		if ((err = next(p)) || (err = parse_or(p, out)))
			return err;
		if (p->tok != T_RP)
			return vig_errf(p->errbuf, VIG_EPARSE, "missing ')' in condition");
		return next(p);
	}
	if (p->tok != T_WORD)
		return vig_errf(p->errbuf, VIG_EPARSE, "expected a selection at offset %zu of condition", p->pos);
	/* Lookahead for "X of". */
	save = p->pos;
	{
		struct cparser la = *p;
		la.errbuf = NULL;
		if (next(&la) == VIG_OK && is_kw(&la, "of")) {
			p->pos = save;
			return parse_quant(p, out);
		}
	}
	for (size_t i = 0; i < p->n_names; i++) {
		if (strlen(p->names[i]) == p->wn && memcmp(p->names[i], p->w, p->wn) == 0) {
			*out = p->roots[i];
			return next(p);
		}
	}
	if (is_kw(p, "and") || is_kw(p, "or") || is_kw(p, "not") || is_kw(p, "of"))
		return vig_errf(p->errbuf, VIG_EPARSE, "unexpected '%.*s' in condition", (int)p->wn, p->w);
	return vig_errf(p->errbuf, VIG_ENOTFOUND, "unknown selection '%.*s' in condition", (int)p->wn, p->w);
}

static enum vig_err parse_not(struct cparser *p, uint32_t *out)
{
	enum vig_err err;
	uint32_t kid;

	if (++p->depth > VIG_SIGMA_MAX_DEPTH)
		return vig_errf(p->errbuf, VIG_ETOOBIG, "condition nested too deeply");
	if (is_kw(p, "not")) {
		if ((err = next(p)) || (err = parse_not(p, &kid)))
			return err;
		err = vig_sigma_prog_node(p->prog, VIG_NODE_NOT, &kid, 1, 0, out);
	} else {
		err = parse_primary(p, out);
	}
	p->depth--;
	return err;
}

/* Parses a chain of `sub` joined by keyword kw into one n-ary node. */
static enum vig_err parse_chain(struct cparser *p, const char *kw, uint8_t op,
				enum vig_err (*sub)(struct cparser *, uint32_t *), uint32_t *out)
{
	uint32_t stack[64], *kids = stack, n = 0, cap = 64;
	enum vig_err err;

	if (++p->depth > VIG_SIGMA_MAX_DEPTH)
		return vig_errf(p->errbuf, VIG_ETOOBIG, "condition nested too deeply");
	for (;;) {
		uint32_t kid;
		if ((err = sub(p, &kid)))
			goto out;
		if (n == cap) {
			uint32_t *nk = malloc(sizeof(*nk) * cap * 2);
			if (!nk) {
				err = VIG_ENOMEM;
				goto out;
			}
			memcpy(nk, kids, sizeof(*nk) * n);
			if (kids != stack)
				free(kids);
			kids = nk;
			cap *= 2;
		}
		kids[n++] = kid;
		if (!is_kw(p, kw))
			break;
		if ((err = next(p)))
			goto out;
	}
	if (n == 1)
		*out = kids[0];
	else
		err = vig_sigma_prog_node(p->prog, op, kids, n, 0, out);
out:
	if (kids != stack)
		free(kids);
	p->depth--;
	return err;
}

static enum vig_err parse_and(struct cparser *p, uint32_t *out)
{
	return parse_chain(p, "and", VIG_NODE_AND, parse_not, out);
}

static enum vig_err parse_or(struct cparser *p, uint32_t *out)
{
	return parse_chain(p, "or", VIG_NODE_OR, parse_and, out);
}

enum vig_err vig_sigma_cond_parse(struct vig_sigma_prog *prog, const char *text, const char *const *names,
				  const uint32_t *roots, size_t n_names, uint32_t *root, char *errbuf)
{
	struct cparser p = {.prog = prog, .s = text, .names = names, .roots = roots, .n_names = n_names,
			    .errbuf = errbuf};
	enum vig_err err;

	if ((err = next(&p)))
		return err;
	if (p.tok == T_END)
		return vig_errf(errbuf, VIG_EPARSE, "empty condition");
	if ((err = parse_or(&p, root)))
		return err == VIG_ENOMEM ? vig_errf(errbuf, err, "out of memory") : err;
	if (p.tok == T_RP)
		return vig_errf(errbuf, VIG_EPARSE, "unbalanced ')' in condition");
	if (p.tok != T_END)
		return vig_errf(errbuf, VIG_EPARSE, "unexpected '%.*s' in condition", (int)p.wn, p.w);
	return VIG_OK;
}
