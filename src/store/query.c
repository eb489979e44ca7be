/*
 * query.c - parser of the search-bar query language (query.h) into a bounded AST.
 *
 * A recursive-descent parser straight over the bytes, no separate token list:
 *   or    := and { OR and }
 *   and   := unary { [AND] unary }        juxtaposition is AND
 *   unary := NOT unary | '(' or ')' | term
 *   term  := '"' phrase '"' | word | field ':' value
 *   value := '"' literal '"' | ('>'|'>='|'<'|'<=') scalar | ('['|'{') scalar TO scalar (']'|'}')
 *          | unquoted (with wildcards)
 * Keywords are and/or/not in any case, recognised only as whole words. Depth counts both
 * parentheses and NOT. Values are checked against the field's type here (integers, RFC 3339
 * times, IP addresses and CIDR blocks), so every dialect's compiler gets well-typed terms and
 * every error carries the column of the offending term.
 *
 * Pattern form (WILDCARD and TEXT terms): '*' and '?' are wildcards, '\' makes the next byte
 * literal; compilers translate it to LIKE or GLOB with their own escaping.
 */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <string.h>

#include "../common/vtime.h"

struct parser {
	const char *s;        /* query text */
	size_t n;             /* its length */
	size_t pos;           /* next byte */
	int depth;            /* current nesting */
	struct vig_query *q;  /* output */
	enum vig_err err;     /* first error */
	char *errbuf;         /* caller's buffer */
};

static struct vig_qnode *parse_or(struct parser *p);

static bool fail(struct parser *p, enum vig_err err, size_t at, const char *what)
{
	if (p->err == VIG_OK) {
		p->err = err;
		vig_errf(p->errbuf, err, "query: %s at column %zu", what, at + 1);
	}
	return false;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Ends an unquoted word. */
static bool is_stop(char c)
{
	return is_space(c) || c == '(' || c == ')' || c == '"';
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->n && is_space(p->s[p->pos]))
		p->pos++;
}

/* Length of the keyword kw at pos when it stands as a whole word, else 0. */
static size_t keyword_at(const struct parser *p, const char *kw)
{
	size_t k = strlen(kw);

	if (p->n - p->pos < k || strncasecmp(p->s + p->pos, kw, k) != 0)
		return 0;
	if (p->pos + k < p->n && !is_stop(p->s[p->pos + k]))
		return 0;
	return k;
}

static struct vig_qnode *new_node(struct parser *p, enum vig_qnode_kind kind)
{
	struct vig_qnode *nd = vig_arena_alloc(&p->q->arena, sizeof(*nd));

	if (!nd) {
		fail(p, VIG_ETOOBIG, p->pos, "query needs too much memory");
		return NULL;
	}
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	return nd;
}

/* Scratch text being built: unescaped value and pattern form side by side. */
struct text {
	char *val;     /* unescaped */
	size_t vlen;
	char *pat;     /* pattern form */
	size_t plen;
	bool wild;     /* an unescaped '*' or '?' was seen */
};

static bool text_alloc(struct parser *p, struct text *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->val = vig_arena_alloc(&p->q->arena, max + 1);
	t->pat = vig_arena_alloc(&p->q->arena, 2 * max + 1);
	if (!t->val || !t->pat)
		return fail(p, VIG_ETOOBIG, p->pos, "query needs too much memory");
	return true;
}

static void text_lit(struct text *t, char c)
{
	t->val[t->vlen++] = c;
	if (c == '*' || c == '?' || c == '\\')
		t->pat[t->plen++] = '\\';
	t->pat[t->plen++] = c;
}

static void text_end(struct text *t)
{
	t->val[t->vlen] = '\0';
	t->pat[t->plen] = '\0';
}

/* Reads a quoted string at pos (on the opening quote) into t; literal, \" and \\ escape. */
static bool read_quoted(struct parser *p, struct text *t)
{
	size_t start = p->pos;

	size_t end = p->pos + 1;

	while (end < p->n && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (!text_alloc(p, t, VIG_MIN(end, p->n) - p->pos))
		return false;
	p->pos++;
	while (p->pos < p->n && p->s[p->pos] != '"') {
		char c = p->s[p->pos++];
		if (c == '\\') {
			if (p->pos >= p->n)
				break;
			c = p->s[p->pos++];
		}
		text_lit(t, c);
	}
	if (p->pos >= p->n)
		return fail(p, VIG_EPARSE, start, "unterminated quoted string");
	p->pos++;
	text_end(t);
	return true;
}

/* Reads an unquoted word into t until a stop byte (or extra stop, e.g. ']' in a range).
 * Wildcards are recorded only when allow_wild. */
static bool read_word(struct parser *p, struct text *t, const char *extra_stops, bool allow_wild)
{
	size_t end = p->pos;

	while (end < p->n && !is_stop(p->s[end]) && !(extra_stops && strchr(extra_stops, p->s[end])))
		end += p->s[end] == '\\' ? 2 : 1;
	if (!text_alloc(p, t, VIG_MIN(end, p->n) - p->pos))
		return false;
	while (p->pos < p->n) {
		char c = p->s[p->pos];
		if (is_stop(c) || (extra_stops && strchr(extra_stops, c)))
			break;
		p->pos++;
		if (c == '\\') {
			if (p->pos >= p->n)
				return fail(p, VIG_EPARSE, p->pos - 1, "dangling escape");
			text_lit(t, p->s[p->pos++]);
		} else if ((c == '*' || c == '?') && allow_wild) {
			t->val[t->vlen++] = c;
			t->pat[t->plen++] = c;
			t->wild = true;
		} else {
			text_lit(t, c);
		}
	}
	text_end(t);
	return true;
}

static bool valid_field_name(const char *s, size_t n)
{
	if (n == 0 || n > VIG_EVENT_MAX_KEY || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '.' || c == '-' || c == '@';
		if (!ok)
			return false;
	}
	return true;
}

/* Checks a scalar against the field's type; "*" passes (open range bound). */
static bool check_scalar(struct parser *p, const struct vig_qterm *t, const char *v, size_t at)
{
	char msg[200];
	int64_t x;
	uint8_t ip[16];

	if (t->field < 0)
		return true;
	const struct vig_field_info *fi = vig_field_info((enum vig_field)t->field);
	switch (fi->type) {
	case VIG_T_INT:
		if (vig_parse_i64(v, strlen(v), &x))
			return true;
		snprintf(msg, sizeof(msg), "%s needs an integer", fi->name);
		return fail(p, VIG_EINVAL, at, msg);
	case VIG_T_TS:
		if (vig_time_parse(v, strlen(v), &x))
			return true;
		snprintf(msg, sizeof(msg), "%s needs an RFC 3339 time or epoch seconds", fi->name);
		return fail(p, VIG_EINVAL, at, msg);
	case VIG_T_IP:
		if (vig_ip_parse(v, strlen(v), ip))
			return true;
		snprintf(msg, sizeof(msg), "%s needs an IP address", fi->name);
		return fail(p, VIG_EINVAL, at, msg);
	default:
		return true;
	}
}

/* One bound of a range: quoted, '*' (open) or a word; returns the unescaped text or NULL for
 * an open bound; *ok false on error. */
static const char *read_bound(struct parser *p, bool *ok)
{
	struct text t;
	size_t at;

	skip_ws(p);
	at = p->pos;
	if (p->pos >= p->n) {
		*ok = fail(p, VIG_EPARSE, at, "unterminated range");
		return NULL;
	}
	if (p->s[p->pos] == '"') {
		*ok = read_quoted(p, &t);
		return *ok ? t.val : NULL;
	}
	*ok = read_word(p, &t, "]}", true);
	if (!*ok)
		return NULL;
	if (t.vlen == 0) {
		*ok = fail(p, VIG_EPARSE, at, "missing range bound");
		return NULL;
	}
	if (t.wild && strcmp(t.val, "*") == 0)
		return NULL;
	if (t.wild) {
		*ok = fail(p, VIG_EPARSE, at, "wildcards are not allowed in a range");
		return NULL;
	}
	return t.val;
}

static bool parse_range(struct parser *p, struct vig_qterm *t)
{
	bool ok = true;
	size_t start = p->pos;

	t->op = VIG_QOP_RANGE;
	t->lo_incl = p->s[p->pos++] == '[';
	t->lo = read_bound(p, &ok);
	if (!ok)
		return false;
	skip_ws(p);
	if (p->n - p->pos < 2 || strncmp(p->s + p->pos, "TO", 2) != 0 ||
	    (p->pos + 2 < p->n && !is_space(p->s[p->pos + 2])))
		return fail(p, VIG_EPARSE, p->pos, "expected 'TO' in range");
	p->pos += 2;
	t->hi = read_bound(p, &ok);
	if (!ok)
		return false;
	skip_ws(p);
	if (p->pos >= p->n || (p->s[p->pos] != ']' && p->s[p->pos] != '}'))
		return fail(p, VIG_EPARSE, start, "unterminated range");
	t->hi_incl = p->s[p->pos++] == ']';
	if ((t->lo && !check_scalar(p, t, t->lo, start)) || (t->hi && !check_scalar(p, t, t->hi, start)))
		return false;
	return true;
}

/* field:>=v and friends: a range open on one side. */
static bool parse_compare(struct parser *p, struct vig_qterm *t)
{
	struct text v;
	size_t at = p->pos;
	bool lt = p->s[p->pos] == '<';
	bool eq = p->pos + 1 < p->n && p->s[p->pos + 1] == '=';

	p->pos += eq ? 2 : 1;
	if (p->pos < p->n && p->s[p->pos] == '"') {
		if (!read_quoted(p, &v))
			return false;
	} else {
		if (!read_word(p, &v, NULL, false))
			return false;
	}
	if (v.vlen == 0)
		return fail(p, VIG_EPARSE, at, "missing value after comparison");
	t->op = VIG_QOP_RANGE;
	if (lt) {
		t->hi = v.val;
		t->hi_incl = eq;
	} else {
		t->lo = v.val;
		t->lo_incl = eq;
	}
	return check_scalar(p, t, v.val, at);
}

/* An unquoted or quoted value for EQ/WILDCARD/CIDR, typed by the field. */
static bool parse_plain_value(struct parser *p, struct vig_qterm *t, size_t at)
{
	struct text v;
	bool quoted = p->s[p->pos] == '"';
	enum vig_type type = t->field >= 0 ? vig_field_info((enum vig_field)t->field)->type : VIG_T_STR;
	char msg[200];

	if (quoted ? !read_quoted(p, &v) : !read_word(p, &v, NULL, true))
		return false;
	if (!quoted && v.vlen == 0)
		return fail(p, VIG_EPARSE, at, "missing value after ':'");
	if (v.wild) {
		t->op = VIG_QOP_WILDCARD;
		t->value = v.pat;
		if (strcmp(v.pat, "*") != 0 && (type == VIG_T_INT || type == VIG_T_TS || type == VIG_T_IP)) {
			snprintf(msg, sizeof(msg), "wildcards need a text field, %s is %s",
				 vig_field_info((enum vig_field)t->field)->name, vig_type_name(type));
			return fail(p, VIG_EINVAL, at, msg);
		}
		return true;
	}
	t->op = VIG_QOP_EQ;
	t->value = v.val;
	if (type != VIG_T_IP)
		return check_scalar(p, t, v.val, at);
	if (strchr(v.val, '/')) {
		t->op = VIG_QOP_CIDR;
		if (vig_cidr_parse(v.val, v.vlen, t->ip_lo, t->ip_hi))
			return true;
		snprintf(msg, sizeof(msg), "%s needs an IP address or CIDR block",
			 vig_field_info((enum vig_field)t->field)->name);
		return fail(p, VIG_EINVAL, at, msg);
	}
	if (vig_ip_parse(v.val, v.vlen, t->ip_lo)) {
		memcpy(t->ip_hi, t->ip_lo, 16);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s needs an IP address or CIDR block",
		 vig_field_info((enum vig_field)t->field)->name);
	return fail(p, VIG_EINVAL, at, msg);
}

static struct vig_qnode *parse_term(struct parser *p)
{
	size_t at = p->pos;
	size_t i = p->pos;
	struct vig_qnode *nd;
	struct text w;

	if (++p->q->n_terms > VIG_QUERY_MAX_TERMS) {
		fail(p, VIG_ETOOBIG, at, "more than 256 terms");
		return NULL;
	}
	nd = new_node(p, VIG_QN_TERM);
	if (!nd)
		return NULL;
	nd->term.column = (int)at + 1;
	nd->term.field = -1;
	if (p->s[p->pos] == '"') { /* bare phrase */
		if (!read_quoted(p, &w))
			return NULL;
		nd->term.op = VIG_QOP_TEXT;
		nd->term.value = w.pat;
		return nd;
	}
	/* A field name runs to an unescaped ':' before any stop byte. */
	while (i < p->n && !is_stop(p->s[i]) && p->s[i] != ':' && p->s[i] != '\\')
		i++;
	if (i < p->n && p->s[i] == ':' && i > p->pos) {
		size_t flen = i - p->pos;
		if (!valid_field_name(p->s + p->pos, flen)) {
			fail(p, VIG_EPARSE, at, "invalid field name");
			return NULL;
		}
		nd->term.field = vig_field_lookup(p->s + p->pos, flen);
		if (nd->term.field < 0) {
			nd->term.ext = vig_arena_strndup(&p->q->arena, p->s + p->pos, flen);
			if (!nd->term.ext) {
				fail(p, VIG_ETOOBIG, at, "query needs too much memory");
				return NULL;
			}
		}
		p->pos = i + 1;
		if (p->pos >= p->n || is_space(p->s[p->pos]) || p->s[p->pos] == ')') {
			fail(p, VIG_EPARSE, at, "missing value after ':'");
			return NULL;
		}
		char c = p->s[p->pos];
		bool ok;
		if (c == '(') {
			fail(p, VIG_EUNSUPPORTED, p->pos, "grouping after a field is not supported");
			return NULL;
		}
		if (c == '[' || c == '{')
			ok = parse_range(p, &nd->term);
		else if (c == '>' || c == '<')
			ok = parse_compare(p, &nd->term);
		else
			ok = parse_plain_value(p, &nd->term, at);
		if (!ok)
			return NULL;
		if (p->pos < p->n && p->s[p->pos] == '"') {
			fail(p, VIG_EPARSE, p->pos, "unexpected '\"'");
			return NULL;
		}
		return nd;
	}
	if (!read_word(p, &w, NULL, true))
		return NULL;
	if (w.vlen == 0) {
		fail(p, VIG_EPARSE, at, "unexpected character");
		return NULL;
	}
	nd->term.op = VIG_QOP_TEXT;
	nd->term.value = w.pat;
	return nd;
}

static struct vig_qnode *parse_unary(struct parser *p)
{
	struct vig_qnode *nd, *inner;
	size_t k, at;

	skip_ws(p);
	at = p->pos;
	if (p->pos >= p->n) {
		fail(p, VIG_EPARSE, at, "unexpected end of query");
		return NULL;
	}
	if ((k = keyword_at(p, "not")) != 0) {
		if (++p->depth > VIG_QUERY_MAX_DEPTH) {
			fail(p, VIG_ETOOBIG, at, "nesting deeper than 32");
			return NULL;
		}
		p->pos += k;
		inner = parse_unary(p);
		p->depth--;
		if (!inner)
			return NULL;
		nd = new_node(p, VIG_QN_NOT);
		if (nd)
			nd->a = inner;
		return nd;
	}
	if (keyword_at(p, "and") || keyword_at(p, "or")) {
		fail(p, VIG_EPARSE, at, p->s[at] == 'o' || p->s[at] == 'O' ? "unexpected 'or'" : "unexpected 'and'");
		return NULL;
	}
	if (p->s[p->pos] == ')') {
		fail(p, VIG_EPARSE, at, "unexpected ')'");
		return NULL;
	}
	if (p->s[p->pos] != '(')
		return parse_term(p);
	if (++p->depth > VIG_QUERY_MAX_DEPTH) {
		fail(p, VIG_ETOOBIG, at, "nesting deeper than 32");
		return NULL;
	}
	p->pos++;
	skip_ws(p);
	if (p->pos < p->n && p->s[p->pos] == ')') {
		fail(p, VIG_EPARSE, at, "empty parentheses");
		return NULL;
	}
	nd = parse_or(p);
	if (!nd)
		return NULL;
	skip_ws(p);
	if (p->pos >= p->n || p->s[p->pos] != ')') {
		fail(p, VIG_EPARSE, at, "missing ')' for '('");
		return NULL;
	}
	p->pos++;
	p->depth--;
	return nd;
}

static struct vig_qnode *join(struct parser *p, enum vig_qnode_kind kind, struct vig_qnode *a,
			      struct vig_qnode *b)
{
	struct vig_qnode *nd = new_node(p, kind);

	if (!nd)
		return NULL;
	nd->a = a;
	nd->b = b;
	return nd;
}

static struct vig_qnode *parse_and(struct parser *p)
{
	struct vig_qnode *left = parse_unary(p), *right;
	size_t k;

	while (left) {
		skip_ws(p);
		if (p->pos >= p->n || p->s[p->pos] == ')' || keyword_at(p, "or"))
			break;
		if ((k = keyword_at(p, "and")) != 0) {
			p->pos += k;
			skip_ws(p);
		}
		right = parse_unary(p);
		if (!right)
			return NULL;
		left = join(p, VIG_QN_AND, left, right);
	}
	return left;
}

static struct vig_qnode *parse_or(struct parser *p)
{
	struct vig_qnode *left = parse_and(p), *right;
	size_t k;

	while (left) {
		skip_ws(p);
		if ((k = keyword_at(p, "or")) == 0)
			break;
		p->pos += k;
		right = parse_and(p);
		if (!right)
			return NULL;
		left = join(p, VIG_QN_OR, left, right);
	}
	return left;
}

struct vig_query *vig_query_parse(const char *q, size_t n, enum vig_err *err, char *errbuf)
{
	struct parser p = {.s = q, .n = n, .errbuf = errbuf};
	enum vig_err e = VIG_OK;

	if (n > VIG_QUERY_MAX_LEN) {
		e = vig_errf(errbuf, VIG_ETOOBIG, "query: longer than %d bytes", VIG_QUERY_MAX_LEN);
		goto out_err;
	}
	if (n && memchr(q, '\0', n)) {
		e = vig_errf(errbuf, VIG_EPARSE, "query: NUL byte at column %zu",
			     (size_t)((const char *)memchr(q, '\0', n) - q) + 1);
		goto out_err;
	}
	p.q = calloc(1, sizeof(*p.q));
	if (!p.q) {
		e = vig_errf(errbuf, VIG_ENOMEM, "query: out of memory");
		goto out_err;
	}
	/* Nodes + two scratch copies per term of at most the text: 64 KiB chunks, bounded. */
	vig_arena_init(&p.q->arena, 16384, 8u << 20);
	skip_ws(&p);
	if (p.pos >= p.n) {
		p.q->root = new_node(&p, VIG_QN_ALL);
	} else {
		p.q->root = parse_or(&p);
		if (p.q->root && p.pos < p.n) {
			skip_ws(&p);
			if (p.pos < p.n)
				fail(&p, VIG_EPARSE, p.pos, p.s[p.pos] == ')' ? "unexpected ')'" : "unexpected input");
		}
	}
	if (p.err != VIG_OK || !p.q->root) {
		e = p.err != VIG_OK ? p.err : VIG_EINTERNAL;
		vig_query_free(p.q);
		goto out_err;
	}
	if (err)
		*err = VIG_OK;
	return p.q;

out_err:
	if (err)
		*err = e;
	return NULL;
}

void vig_query_free(struct vig_query *q)
{
	if (!q)
		return;
	vig_arena_release(&q->arena);
	free(q);
}
