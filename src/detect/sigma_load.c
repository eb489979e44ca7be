/*
 * sigma_load.c - Sigma v2.1 YAML to rule objects (see sigma.h), using libyaml's document API.
 *
 * Detection sections become a program of atoms and boolean nodes (sigma_int.h):
 *   - a selection map is the AND of its entries, a list of maps the OR of the maps, a list of
 *     plain values a keyword search (each value `contains`-matched against `message`, OR);
 *   - an entry "Field|mod|mod: values" is the OR of one atom per value (AND with `all`, negated
 *     as a whole with `neq`); `null` tests for an absent or empty field;
 *   - string values are Sigma strings (`*`, `?`, `\` escapes) turned into regexes here, after
 *     the value-transforming modifiers (expand, windash, wide/utf16*, base64, base64offset) have
 *     run in the order the rule gives them; `re` values are validated with PCRE2 here so that
 *     an invalid regex refuses the rule at load time.
 * Field names are resolved per logsource with vig_sigma_field() when the rule loads.
 *
 * Input is bounded (file bytes, YAML depth, atoms per rule, expansion results), and YAML
 * aliases are followed only to that depth, so self-referencing anchors cannot loop.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "common/buf.h"
#include "event/event.h"
#include "event/sigma_map.h"
#include "sigma_int.h"

#define MAX_DOCS 64        /* documents per file */
#define MAX_SELECTIONS 512 /* selections per detection */
#define MAX_EXPANSION 4096 /* strings one value may expand to */
#define MAX_VALUE 65536    /* bytes of one value */

/* Sigma string symbols: 0..255 are bytes, then the wildcards. */
#define SYM_STAR 256
#define SYM_ONE 257
#define SYM_DASH 258

enum { M_EXACT = 0, M_CONTAINS, M_STARTS, M_ENDS };
enum { ENC_B64 = 1, ENC_B64OFF, ENC_U16LE, ENC_U16BE, ENC_U16 };

struct mods {
	int match;        /* M_* */
	bool all, cased, re, re_i, re_m, re_s, cidr, exists, fieldref, neq, expand, windash;
	int cmp;          /* enum vig_cmp for gt/gte/lt/lte, -1 when absent */
	int tpart;        /* enum vig_tpart, -1 when absent */
	uint8_t enc[8];   /* ENC_* in rule order */
	int n_enc;
};

struct symv {
	uint16_t *v;
	size_t n, cap;
};

struct loader {
	yaml_document_t *doc;
	struct vig_sigma_rule *rule;
	struct vig_sigma_prog *prog;
	const struct vig_sigma_opts *opts;
	char *errbuf;
	const char *sel;   /* selection being loaded (errors) */
	const char *field; /* Sigma field being loaded (errors) */
};

/* --- small helpers -------------------------------------------------------------------- */

static yaml_node_t *ynode(struct loader *L, int idx)
{
	return yaml_document_get_node(L->doc, idx);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v = scalar(n);

	if (!n)
		return true;
	if (!v || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

static yaml_node_t *map_get(struct loader *L, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(ynode(L, p->key));
		if (k && strcmp(k, key) == 0)
			return ynode(L, p->value);
	}
	return NULL;
}

static const char *adup(struct loader *L, const char *s, size_t n)
{
	return vig_arena_strndup(&L->rule->arena, s, n);
}

static enum vig_err oom(struct loader *L)
{
	return vig_errf(L->errbuf, VIG_ENOMEM, "out of memory loading rule");
}

static const char *lowdup(struct loader *L, const char *s)
{
	size_t n = strlen(s);
	char *d = vig_arena_alloc(&L->rule->arena, n + 1);

	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++)
		d[i] = (char)tolower((unsigned char)s[i]);
	d[n] = '\0';
	return d;
}

/* Optional scalar attribute key of map into *out (arena copy); error if not a scalar. */
static enum vig_err get_str(struct loader *L, const yaml_node_t *map, const char *key, const char **out)
{
	yaml_node_t *n = map_get(L, map, key);
	const char *v;

	*out = NULL;
	if (!n || is_null(n))
		return VIG_OK;
	v = scalar(n);
	if (!v)
		return vig_errf(L->errbuf, VIG_EPARSE, "attribute '%s' must be a string", key);
	*out = adup(L, v, n->data.scalar.length);
	return *out ? VIG_OK : oom(L);
}

/* Optional string list (a scalar counts as a list of one). */
static enum vig_err get_strlist(struct loader *L, const yaml_node_t *map, const char *key,
				struct vig_sigma_strlist *out)
{
	yaml_node_t *n = map_get(L, map, key);
	size_t cnt;

	out->v = NULL;
	out->n = 0;
	if (!n || is_null(n))
		return VIG_OK;
	if (n->type == YAML_SCALAR_NODE) {
		out->v = vig_arena_alloc(&L->rule->arena, sizeof(*out->v));
		if (!out->v || !(out->v[0] = adup(L, scalar(n), n->data.scalar.length)))
			return oom(L);
		out->n = 1;
		return VIG_OK;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "attribute '%s' must be a list of strings", key);
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	out->v = vig_arena_alloc(&L->rule->arena, sizeof(*out->v) * (cnt ? cnt : 1));
	if (!out->v)
		return oom(L);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = ynode(L, n->data.sequence.items.start[i]);
		const char *v = scalar(it);
		if (!v)
			return vig_errf(L->errbuf, VIG_EPARSE, "attribute '%s' must be a list of strings", key);
		if (!(out->v[out->n++] = adup(L, v, it->data.scalar.length)))
			return oom(L);
	}
	return VIG_OK;
}

static bool parse_number(const char *s, double *out)
{
	int64_t i;
	char *end;

	if (vig_parse_i64(s, strlen(s), &i)) {
		*out = (double)i;
		return true;
	}
	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

/* --- symbol vectors (Sigma strings) --------------------------------------------------- */

static enum vig_err sym_push(struct symv *s, uint16_t c)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		uint16_t *nv;
		if (ncap > MAX_VALUE * 2)
			return VIG_ETOOBIG;
		nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return VIG_ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = c;
	return VIG_OK;
}

static void sym_free(struct symv *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

/* Parses Sigma string text: `*`, `?` wildcards; `\*`, `\?`, `\\` escapes; other `\` literal. */
static enum vig_err sym_parse(const char *t, size_t n, struct symv *out)
{
	enum vig_err err = VIG_OK;

	for (size_t i = 0; i < n && !err; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '\\' && i + 1 < n && (t[i + 1] == '*' || t[i + 1] == '?' || t[i + 1] == '\\')) {
			err = sym_push(out, (unsigned char)t[++i]);
		} else if (c == '*') {
			err = sym_push(out, SYM_STAR);
		} else if (c == '?') {
			err = sym_push(out, SYM_ONE);
		} else {
			err = sym_push(out, c);
		}
	}
	return err;
}

static bool sym_has_wild(const struct symv *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] >= 256)
			return true;
	return false;
}

/* windash: '-', '/', en dash, em dash and horizontal bar each become the dash class. */
static enum vig_err sym_windash(struct symv *s)
{
	struct symv o = {0};
	enum vig_err err = VIG_OK;

	for (size_t i = 0; i < s->n && !err; i++) {
		uint16_t c = s->v[i];
		if (c == '-' || c == '/') {
			err = sym_push(&o, SYM_DASH);
		} else if (c == 0xe2 && i + 2 < s->n && s->v[i + 1] == 0x80 &&
			   (s->v[i + 2] == 0x93 || s->v[i + 2] == 0x94 || s->v[i + 2] == 0x95)) {
			err = sym_push(&o, SYM_DASH);
			i += 2;
		} else {
			err = sym_push(&o, c);
		}
	}
	sym_free(s);
	*s = o;
	return err;
}

/* Decodes one UTF-8 code point from s[*i] (invalid bytes decode as themselves). */
static uint32_t utf8_next(const struct symv *s, size_t *i)
{
	uint32_t c = s->v[*i], cp;
	int extra;

	if (c < 0x80) {
		(*i)++;
		return c;
	}
	extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
	if (!extra || *i + (size_t)extra >= s->n)
		goto invalid;
	cp = c & (0x3fu >> extra);
	for (int k = 1; k <= extra; k++) {
		uint32_t b = s->v[*i + (size_t)k];
		if ((b & 0xc0) != 0x80)
			goto invalid;
		cp = (cp << 6) | (b & 0x3f);
	}
	*i += (size_t)extra + 1;
	return cp;
invalid:
	(*i)++;
	return c;
}

static enum vig_err u16_push(struct symv *o, uint32_t u, bool be)
{
	enum vig_err err;

	if (be) {
		if ((err = sym_push(o, (uint16_t)(u >> 8))))
			return err;
		return sym_push(o, (uint16_t)(u & 0xff));
	}
	if ((err = sym_push(o, (uint16_t)(u & 0xff))))
		return err;
	return sym_push(o, (uint16_t)(u >> 8));
}

/* UTF-8 bytes to UTF-16 (LE or BE), with a byte order mark when bom. */
static enum vig_err sym_utf16(struct symv *s, bool be, bool bom)
{
	struct symv o = {0};
	enum vig_err err = VIG_OK;
	size_t i = 0;

	if (bom)
		err = u16_push(&o, 0xfeff, be);
	while (i < s->n && !err) {
		uint32_t cp = utf8_next(s, &i);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			err = u16_push(&o, 0xd800 | (cp >> 10), be);
			if (!err)
				err = u16_push(&o, 0xdc00 | (cp & 0x3ff), be);
		} else {
			err = u16_push(&o, cp, be);
		}
	}
	sym_free(s);
	*s = o;
	return err;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of the bytes s[from..] with `pad` leading spaces into o (with '=' padding). */
static enum vig_err b64_encode(const struct symv *s, size_t pad, struct symv *o)
{
	size_t n = s->n + pad;
	enum vig_err err = VIG_OK;

	for (size_t i = 0; i < n && !err; i += 3) {
		uint32_t v = 0;
		size_t k;
		for (k = 0; k < 3; k++) {
			size_t j = i + k;
			uint32_t b = j < n ? (j < pad ? ' ' : s->v[j - pad]) : 0;
			v = (v << 8) | b;
		}
		for (k = 0; k < 4 && !err; k++) {
			if (i + k > n)
				err = sym_push(o, '=');
			else
				err = sym_push(o, (uint16_t)B64[(v >> (18 - 6 * k)) & 0x3f]);
		}
	}
	return err;
}

/* --- regex generation ----------------------------------------------------------------- */

static void rx_sym(struct vig_buf *b, uint16_t c)
{
	if (c == SYM_STAR)
		vig_buf_adds(b, ".*");
	else if (c == SYM_ONE)
		vig_buf_addc(b, '.');
	else if (c == SYM_DASH)
		vig_buf_adds(b, "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)");
	else if (isalnum(c) || c == '_' || c == ' ')
		vig_buf_addc(b, (char)c);
	else
		vig_buf_printf(b, "\\x%02x", c);
}

/* Appends the atoms of one transformed Sigma string with match mode `match`; *out receives
 * the node (an atom, or an AND of atoms for the empty-value case). */
static enum vig_err str_atom(struct loader *L, const struct mods *m, const char *field, const struct symv *s,
			     int match, uint32_t *out);

static enum vig_err new_atom(struct loader *L, const struct vig_sigma_atom *a, uint32_t *out)
{
	struct vig_sigma_prog *p = L->prog;
	uint32_t idx;

	if (p->n_atoms >= VIG_SIGMA_MAX_ATOMS)
		return vig_errf(L->errbuf, VIG_ETOOBIG, "rule has more than %d value tests", VIG_SIGMA_MAX_ATOMS);
	if (p->n_atoms == p->cap_atoms) {
		uint32_t ncap = p->cap_atoms ? p->cap_atoms * 2 : 16;
		struct vig_sigma_atom *na = realloc(p->atoms, ncap * sizeof(*na));
		if (!na)
			return oom(L);
		p->atoms = na;
		p->cap_atoms = ncap;
	}
	idx = p->n_atoms++;
	p->atoms[idx] = *a;
	if (vig_sigma_prog_node(p, VIG_NODE_ATOM, &idx, 1, 0, out))
		return vig_errf(L->errbuf, VIG_ETOOBIG, "rule too large");
	return VIG_OK;
}

static enum vig_err node_of(struct loader *L, uint8_t op, const uint32_t *kids, uint32_t n, uint32_t *out)
{
	if (n == 1 && op != VIG_NODE_NOT) {
		*out = kids[0];
		return VIG_OK;
	}
	if (vig_sigma_prog_node(L->prog, op, kids, n, 0, out))
		return vig_errf(L->errbuf, VIG_ETOOBIG, "rule too large");
	return VIG_OK;
}

static enum vig_err str_atom(struct loader *L, const struct mods *m, const char *field, const struct symv *s,
			     int match, uint32_t *out)
{
	struct vig_sigma_atom a = {.kind = VIG_ATOM_STR, .field = field};
	bool anc_start = match == M_EXACT || match == M_STARTS;
	bool anc_end = match == M_EXACT || match == M_ENDS;
	size_t lo = 0, hi = s->n;
	struct vig_buf b;
	enum vig_err err;

	while (lo < hi && s->v[lo] == SYM_STAR) {
		lo++;
		anc_start = false;
	}
	while (hi > lo && s->v[hi - 1] == SYM_STAR) {
		hi--;
		anc_end = false;
	}
	if (lo == hi) {
		/* No literal left: either "any value" or "empty value". */
		uint32_t kids[2];
		a.kind = VIG_ATOM_PRESENT;
		if ((err = new_atom(L, &a, &kids[0])))
			return err;
		if (!(anc_start && anc_end && s->n == 0)) {
			*out = kids[0];
			return VIG_OK;
		}
		a.kind = VIG_ATOM_NONEMPTY;
		if ((err = new_atom(L, &a, &kids[1])) || (err = node_of(L, VIG_NODE_NOT, &kids[1], 1, &kids[1])))
			return err;
		return node_of(L, VIG_NODE_AND, kids, 2, out);
	}
	vig_buf_init(&b, MAX_VALUE * 8);
	if (anc_start)
		vig_buf_addc(&b, '^');
	for (size_t i = lo; i < hi; i++)
		rx_sym(&b, s->v[i]);
	if (anc_end)
		vig_buf_adds(&b, "\\z");
	if (vig_buf_err(&b)) {
		vig_buf_release(&b);
		return vig_errf(L->errbuf, VIG_ETOOBIG, "value too long in selection '%s' field '%s'", L->sel,
				L->field);
	}
	a.rx = adup(L, b.data, b.len);
	vig_buf_release(&b);
	if (!a.rx)
		return oom(L);
	a.rx_flags = VIG_RX_DOTALL | (m->cased ? 0 : VIG_RX_CASELESS);
	return new_atom(L, &a, out);
}

/* --- one value ------------------------------------------------------------------------ */

struct u32v {
	uint32_t *v;
	size_t n, cap;
};

static enum vig_err u32_push(struct loader *L, struct u32v *a, uint32_t x)
{
	if (a->n == a->cap) {
		size_t ncap = a->cap ? a->cap * 2 : 16;
		uint32_t *nv = realloc(a->v, ncap * sizeof(*nv));
		if (!nv)
			return oom(L);
		a->v = nv;
		a->cap = ncap;
	}
	a->v[a->n++] = x;
	return VIG_OK;
}

static const char *ctx_err_suffix(struct loader *L, char *buf, size_t cap)
{
	snprintf(buf, cap, "in selection '%s' field '%s'", L->sel, L->field);
	return buf;
}

/* Expands %placeholders% of text into out (strings to free). */
static enum vig_err expand(struct loader *L, const char *text, char ***out, size_t *n_out, size_t *cap_out,
			   int depth)
{
	const char *p = strchr(text, '%'), *q;
	const struct vig_sigma_placeholder *ph = NULL;
	char ctx[160];

	if (p)
		q = strchr(p + 1, '%');
	if (!p || !q || depth > 16) {
		if (*n_out >= MAX_EXPANSION)
			return vig_errf(L->errbuf, VIG_ETOOBIG, "placeholder expansion too large %s",
					ctx_err_suffix(L, ctx, sizeof(ctx)));
		if (*n_out == *cap_out) {
			size_t ncap = *cap_out ? *cap_out * 2 : 8;
			char **nv = realloc(*out, ncap * sizeof(*nv));
			if (!nv)
				return oom(L);
			*out = nv;
			*cap_out = ncap;
		}
		if (!((*out)[*n_out] = strdup(text)))
			return oom(L);
		(*n_out)++;
		return VIG_OK;
	}
	for (size_t i = 0; L->opts && i < L->opts->n_placeholders; i++) {
		const char *nm = L->opts->placeholders[i].name;
		if (strlen(nm) == (size_t)(q - p - 1) && memcmp(nm, p + 1, (size_t)(q - p - 1)) == 0)
			ph = &L->opts->placeholders[i];
	}
	if (!ph && !(L->opts && L->opts->placeholder_wildcard))
		return vig_errf(L->errbuf, VIG_ENOTFOUND, "unknown placeholder '%.*s' %s", (int)(q - p + 1), p,
				ctx_err_suffix(L, ctx, sizeof(ctx)));
	for (size_t i = 0; i < (ph ? ph->n_values : 1); i++) {
		const char *val = ph ? ph->values[i] : "*";
		size_t len = (size_t)(p - text) + strlen(val) + strlen(q + 1) + 1;
		char *t = malloc(len);
		enum vig_err err;
		if (!t)
			return oom(L);
		snprintf(t, len, "%.*s%s%s", (int)(p - text), text, val, q + 1);
		err = expand(L, t, out, n_out, cap_out, depth + 1);
		free(t);
		if (err)
			return err;
	}
	return VIG_OK;
}

/* Applies encoders from index ei on to s, appending the resulting atoms to atoms. */
static enum vig_err encode_atoms(struct loader *L, const struct mods *m, const char *field, struct symv *s,
				 int ei, struct u32v *atoms)
{
	enum vig_err err = VIG_OK;
	uint32_t node;

	for (; ei < m->n_enc && !err; ei++) {
		switch (m->enc[ei]) {
		case ENC_U16LE:
			err = sym_utf16(s, false, false);
			break;
		case ENC_U16BE:
			err = sym_utf16(s, true, false);
			break;
		case ENC_U16:
			err = sym_utf16(s, false, true);
			break;
		case ENC_B64: {
			struct symv o = {0};
			err = b64_encode(s, 0, &o);
			sym_free(s);
			*s = o;
			/* The encoded value is searched for its stable part: drop the padding. */
			while (s->n && s->v[s->n - 1] == '=')
				s->n--;
			break;
		}
		case ENC_B64OFF: {
			static const size_t start_off[3] = {0, 2, 3};
			static const size_t end_off[3] = {0, 3, 2};
			for (size_t i = 0; i < 3 && !err; i++) {
				struct symv o = {0};
				size_t end;
				err = b64_encode(s, i, &o);
				end = end_off[(s->n + i) % 3];
				if (!err && o.n >= start_off[i] + end) {
					struct symv cut = {0};
					for (size_t k = start_off[i]; k < o.n - end && !err; k++)
						err = sym_push(&cut, o.v[k]);
					if (!err)
						err = encode_atoms(L, m, field, &cut, ei + 1, atoms);
					sym_free(&cut);
				}
				sym_free(&o);
			}
			return err;
		}
		default:
			break;
		}
	}
	if (err)
		return err == VIG_ENOMEM ? oom(L) : vig_errf(L->errbuf, err, "value too long");
	if ((err = str_atom(L, m, field, s, m->match, &node)))
		return err;
	return u32_push(L, atoms, node);
}

/* Atoms of one string value (after expansion): parsing, windash, encoders. */
static enum vig_err string_value(struct loader *L, const struct mods *m, const char *field, const char *text,
				 size_t len, struct u32v *atoms)
{
	struct symv s = {0};
	enum vig_err err;
	char ctx[160];

	if ((err = sym_parse(text, len, &s)))
		goto out;
	if (m->windash && (err = sym_windash(&s)))
		goto out;
	if (m->n_enc && sym_has_wild(&s)) {
		err = vig_errf(L->errbuf, VIG_EINVAL, "wildcards cannot be combined with an encoding modifier %s",
			       ctx_err_suffix(L, ctx, sizeof(ctx)));
		goto out;
	}
	err = encode_atoms(L, m, field, &s, 0, atoms);
out:
	sym_free(&s);
	if (err == VIG_ENOMEM || err == VIG_ETOOBIG)
		vig_errf(L->errbuf, err, "value too long %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
	return err;
}

static const char *map_field(struct loader *L, const char *sigma)
{
	const struct vig_sigma_rule *r = L->rule;
	const char *m = vig_sigma_field(r->logsource.product, r->logsource.category, r->logsource.service, sigma);

	return adup(L, m ? m : sigma, strlen(m ? m : sigma));
}

/* Atoms of one YAML scalar value of a field entry; appends one node per resulting test. */
static enum vig_err value_atoms(struct loader *L, const struct mods *m, const char *field, const yaml_node_t *vn,
				struct u32v *out)
{
	struct vig_sigma_atom a = {.field = field};
	const char *v = scalar(vn);
	char ctx[160];
	enum vig_err err;
	uint32_t node;

	if (!v)
		return vig_errf(L->errbuf, VIG_EPARSE, "value must be a scalar %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
	if (m->exists) {
		bool t = strcasecmp(v, "true") == 0, f = strcasecmp(v, "false") == 0;
		if (!t && !f)
			return vig_errf(L->errbuf, VIG_EINVAL, "modifier 'exists' needs true or false %s",
					ctx_err_suffix(L, ctx, sizeof(ctx)));
		a.kind = VIG_ATOM_PRESENT;
		if ((err = new_atom(L, &a, &node)) || (f && (err = node_of(L, VIG_NODE_NOT, &node, 1, &node))))
			return err;
		return u32_push(L, out, node);
	}
	if (m->cmp >= 0 || m->tpart >= 0) {
		a.kind = m->tpart >= 0 ? VIG_ATOM_TIME : VIG_ATOM_NUM;
		a.cmp = (uint8_t)(m->cmp >= 0 ? m->cmp : VIG_CMP_EQ);
		a.tpart = (uint8_t)(m->tpart >= 0 ? m->tpart : 0);
		if (!parse_number(v, &a.num))
			return vig_errf(L->errbuf, VIG_EINVAL, "value '%.40s' is not a number %s", v,
					ctx_err_suffix(L, ctx, sizeof(ctx)));
		if ((err = new_atom(L, &a, &node)))
			return err;
		return u32_push(L, out, node);
	}
	if (m->cidr) {
		a.kind = VIG_ATOM_CIDR;
		if (!vig_cidr_parse(v, vn->data.scalar.length, a.lo, a.hi))
			return vig_errf(L->errbuf, VIG_EINVAL, "invalid cidr '%.60s' %s", v,
					ctx_err_suffix(L, ctx, sizeof(ctx)));
		if ((err = new_atom(L, &a, &node)))
			return err;
		return u32_push(L, out, node);
	}
	if (m->fieldref) {
		a.kind = VIG_ATOM_FIELDREF;
		a.cased = m->cased;
		a.cmp = (uint8_t)(m->match == M_CONTAINS ? VIG_REF_CONTAINS
				  : m->match == M_STARTS ? VIG_REF_STARTS
				  : m->match == M_ENDS   ? VIG_REF_ENDS
							 : VIG_REF_EQ);
		if (!(a.field2 = map_field(L, v)))
			return oom(L);
		if ((err = new_atom(L, &a, &node)))
			return err;
		return u32_push(L, out, node);
	}
	if (m->re) {
		int ecode;
		PCRE2_SIZE eoff;
		pcre2_code *re;
		uint32_t opt = (m->re_i ? PCRE2_CASELESS : 0) | (m->re_m ? PCRE2_MULTILINE : 0) |
			       (m->re_s ? PCRE2_DOTALL : 0);
		if (memchr(v, '\0', vn->data.scalar.length))
			return vig_errf(L->errbuf, VIG_EINVAL, "regular expression contains a nul byte %s",
					ctx_err_suffix(L, ctx, sizeof(ctx)));
		re = pcre2_compile((PCRE2_SPTR)v, vn->data.scalar.length, opt, &ecode, &eoff, NULL);
		if (!re) {
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(ecode, msg, sizeof(msg));
			return vig_errf(L->errbuf, VIG_EINVAL, "invalid regular expression %s: %s at offset %zu",
					ctx_err_suffix(L, ctx, sizeof(ctx)), (const char *)msg, (size_t)eoff);
		}
		pcre2_code_free(re);
		a.kind = VIG_ATOM_STR;
		a.rx_flags = VIG_RX_USER | (m->re_i ? VIG_RX_CASELESS : 0) | (m->re_m ? VIG_RX_MULTILINE : 0) |
			     (m->re_s ? VIG_RX_DOTALL : 0);
		if (!(a.rx = adup(L, v, vn->data.scalar.length)))
			return oom(L);
		if ((err = new_atom(L, &a, &node)))
			return err;
		return u32_push(L, out, node);
	}
	if (m->expand) {
		char **list = NULL;
		size_t n = 0, cap = 0;
		err = expand(L, v, &list, &n, &cap, 0);
		for (size_t i = 0; i < n; i++) {
			if (!err)
				err = string_value(L, m, field, list[i], strlen(list[i]), out);
			free(list[i]);
		}
		free(list);
		return err;
	}
	return string_value(L, m, field, v, vn->data.scalar.length, out);
}

/* --- modifiers and field entries ------------------------------------------------------ */

static enum vig_err parse_mods(struct loader *L, const char *key, struct mods *m)
{
	static const char *const tparts[] = {"minute", "hour", "day", "week", "month", "year"};
	static const char *const cmps[] = {"gt", "gte", "lt", "lte"};
	const char *p = strchr(key, '|');
	char mod[40], ctx[160];
	int n_match = 0;

	memset(m, 0, sizeof(*m));
	m->cmp = m->tpart = -1;
	while (p) {
		const char *e = strchr(p + 1, '|');
		size_t n = e ? (size_t)(e - p - 1) : strlen(p + 1);
		bool known = true;
		snprintf(mod, sizeof(mod), "%.*s", (int)VIG_MIN(n, sizeof(mod) - 1), p + 1);
		if (n >= sizeof(mod))
			known = false;
		else if (!strcmp(mod, "contains"))
			m->match = M_CONTAINS, n_match++;
		else if (!strcmp(mod, "startswith"))
			m->match = M_STARTS, n_match++;
		else if (!strcmp(mod, "endswith"))
			m->match = M_ENDS, n_match++;
		else if (!strcmp(mod, "all"))
			m->all = true;
		else if (!strcmp(mod, "cased"))
			m->cased = true;
		else if (!strcmp(mod, "re"))
			m->re = true;
		else if (!strcmp(mod, "i"))
			m->re_i = true;
		else if (!strcmp(mod, "m"))
			m->re_m = true;
		else if (!strcmp(mod, "s"))
			m->re_s = true;
		else if (!strcmp(mod, "cidr"))
			m->cidr = true;
		else if (!strcmp(mod, "exists"))
			m->exists = true;
		else if (!strcmp(mod, "fieldref"))
			m->fieldref = true;
		else if (!strcmp(mod, "neq"))
			m->neq = true;
		else if (!strcmp(mod, "expand"))
			m->expand = true;
		else if (!strcmp(mod, "windash"))
			m->windash = true;
		else if (!strcmp(mod, "base64") || !strcmp(mod, "base64offset") || !strcmp(mod, "wide") ||
			 !strcmp(mod, "utf16le") || !strcmp(mod, "utf16be") || !strcmp(mod, "utf16")) {
			if (m->n_enc >= (int)sizeof(m->enc))
				return vig_errf(L->errbuf, VIG_EINVAL, "too many encoding modifiers %s",
						ctx_err_suffix(L, ctx, sizeof(ctx)));
			m->enc[m->n_enc++] = !strcmp(mod, "base64")	  ? ENC_B64
					     : !strcmp(mod, "base64offset") ? ENC_B64OFF
					     : !strcmp(mod, "utf16be")	  ? ENC_U16BE
					     : !strcmp(mod, "utf16")	  ? ENC_U16
									  : ENC_U16LE;
		} else {
			known = false;
			for (int i = 0; i < 4; i++)
				if (!strcmp(mod, cmps[i]))
					m->cmp = VIG_CMP_GT + i, known = true;
			for (int i = 0; i < 6; i++)
				if (!strcmp(mod, tparts[i]))
					m->tpart = i, known = true;
		}
		if (!known)
			return vig_errf(L->errbuf, VIG_EUNSUPPORTED, "unsupported modifier '%.*s' %s", (int)VIG_MIN(n, 40),
					p + 1, ctx_err_suffix(L, ctx, sizeof(ctx)));
		p = e;
	}
	/* Combinations that have no meaning. */
	if (n_match > 1)
		return vig_errf(L->errbuf, VIG_EINVAL, "conflicting modifiers contains/startswith/endswith %s",
				ctx_err_suffix(L, ctx, sizeof(ctx)));
	if ((m->re_i || m->re_m || m->re_s) && !m->re)
		return vig_errf(L->errbuf, VIG_EINVAL, "modifiers i/m/s need 're' %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
	{
		int kinds = m->re + m->cidr + m->exists + m->fieldref + (m->cmp >= 0 && m->tpart < 0) + (m->tpart >= 0);
		if (kinds > 1)
			return vig_errf(L->errbuf, VIG_EINVAL, "conflicting modifiers %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
		if (kinds && (m->n_enc || m->windash || m->expand || (n_match && !m->fieldref)))
			return vig_errf(L->errbuf, VIG_EINVAL, "modifier cannot be combined with string modifiers %s",
					ctx_err_suffix(L, ctx, sizeof(ctx)));
	}
	return VIG_OK;
}

/* One "Field|mods: value(s)" entry into *out. */
static enum vig_err field_entry(struct loader *L, const char *key, const yaml_node_t *vn, bool keyword,
				uint32_t *out)
{
	struct mods m;
	struct u32v nodes = {0};
	const char *field;
	size_t flen = strcspn(key, "|");
	char fname[256], ctx[160];
	enum vig_err err;

	if (flen >= sizeof(fname))
		return vig_errf(L->errbuf, VIG_EINVAL, "field name too long in selection '%s'", L->sel);
	snprintf(fname, sizeof(fname), "%.*s", (int)flen, key);
	L->field = flen ? fname : "keywords";
	if ((err = parse_mods(L, key, &m)))
		return err;
	if (flen == 0 || keyword) {
		field = "message";
		keyword = true;
		if (m.match == M_EXACT && !m.re && !m.cidr && m.cmp < 0 && m.tpart < 0 && !m.exists && !m.fieldref)
			m.match = M_CONTAINS;
	} else if (!(field = map_field(L, fname))) {
		return oom(L);
	}
	if (vn && vn->type == YAML_MAPPING_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "value is a map %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
	if (vn && vn->type == YAML_SEQUENCE_NODE) {
		size_t cnt = (size_t)(vn->data.sequence.items.top - vn->data.sequence.items.start);
		if (cnt == 0)
			return vig_errf(L->errbuf, VIG_EINVAL, "empty value list %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
		for (size_t i = 0; i < cnt && !err; i++) {
			yaml_node_t *it = ynode(L, vn->data.sequence.items.start[i]);
			size_t before = nodes.n;
			if (is_null(it) && !m.exists) {
				struct vig_sigma_atom a = {.kind = VIG_ATOM_NONEMPTY, .field = field};
				uint32_t nd;
				if (!(err = new_atom(L, &a, &nd)) && !(err = node_of(L, VIG_NODE_NOT, &nd, 1, &nd)))
					err = u32_push(L, &nodes, nd);
				continue;
			}
			if ((err = value_atoms(L, &m, field, it, &nodes)))
				break;
			/* One value may yield several tests (base64offset, expand): they are alternatives. */
			if (nodes.n - before > 1) {
				uint32_t nd;
				if (!(err = node_of(L, VIG_NODE_OR, nodes.v + before, (uint32_t)(nodes.n - before), &nd))) {
					nodes.n = before;
					err = u32_push(L, &nodes, nd);
				}
			}
		}
	} else if (is_null(vn) && !m.exists) {
		struct vig_sigma_atom a = {.kind = VIG_ATOM_NONEMPTY, .field = field};
		uint32_t nd;
		if (!(err = new_atom(L, &a, &nd)) && !(err = node_of(L, VIG_NODE_NOT, &nd, 1, &nd)))
			err = u32_push(L, &nodes, nd);
	} else {
		size_t before = nodes.n;
		err = value_atoms(L, &m, field, vn, &nodes);
		if (!err && nodes.n - before > 1) {
			uint32_t nd;
			if (!(err = node_of(L, VIG_NODE_OR, nodes.v, (uint32_t)nodes.n, &nd))) {
				nodes.n = 0;
				err = u32_push(L, &nodes, nd);
			}
		}
	}
	if (!err && nodes.n == 0)
		err = vig_errf(L->errbuf, VIG_EINVAL, "no value %s", ctx_err_suffix(L, ctx, sizeof(ctx)));
	if (!err)
		err = node_of(L, m.all ? VIG_NODE_AND : VIG_NODE_OR, nodes.v, (uint32_t)nodes.n, out);
	if (!err && m.neq)
		err = node_of(L, VIG_NODE_NOT, out, 1, out);
	free(nodes.v);
	return err;
}

/* A selection map: AND of its entries. */
static enum vig_err sel_map(struct loader *L, const yaml_node_t *map, uint32_t *out)
{
	struct u32v kids = {0};
	enum vig_err err = VIG_OK;

	if (map->data.mapping.pairs.top == map->data.mapping.pairs.start)
		return vig_errf(L->errbuf, VIG_EINVAL, "selection '%s' is empty", L->sel);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top && !err; p++) {
		const char *k = scalar(ynode(L, p->key));
		uint32_t nd;
		if (!k)
			err = vig_errf(L->errbuf, VIG_EPARSE, "field name in selection '%s' is not a string", L->sel);
		else if (!(err = field_entry(L, k, ynode(L, p->value), false, &nd)))
			err = u32_push(L, &kids, nd);
	}
	if (!err)
		err = node_of(L, VIG_NODE_AND, kids.v, (uint32_t)kids.n, out);
	free(kids.v);
	return err;
}

static enum vig_err selection(struct loader *L, const yaml_node_t *n, uint32_t *out)
{
	struct u32v kids = {0};
	enum vig_err err = VIG_OK;
	size_t cnt, n_scalars = 0, n_maps = 0;

	if (n->type == YAML_MAPPING_NODE)
		return sel_map(L, n, out);
	if (n->type == YAML_SCALAR_NODE) {
		if (is_null(n))
			return vig_errf(L->errbuf, VIG_EINVAL, "selection '%s' is empty", L->sel);
		return field_entry(L, "", n, true, out);
	}
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = ynode(L, n->data.sequence.items.start[i]);
		n_scalars += it && it->type == YAML_SCALAR_NODE;
		n_maps += it && it->type == YAML_MAPPING_NODE;
	}
	if (cnt == 0)
		return vig_errf(L->errbuf, VIG_EINVAL, "selection '%s' is empty", L->sel);
	if (n_scalars == cnt)
		return field_entry(L, "", n, true, out);
	if (n_maps != cnt)
		return vig_errf(L->errbuf, VIG_EPARSE, "selection '%s' mixes plain values and maps", L->sel);
	for (size_t i = 0; i < cnt && !err; i++) {
		uint32_t nd;
		if (!(err = sel_map(L, ynode(L, n->data.sequence.items.start[i]), &nd)))
			err = u32_push(L, &kids, nd);
	}
	if (!err)
		err = node_of(L, VIG_NODE_OR, kids.v, (uint32_t)kids.n, out);
	free(kids.v);
	return err;
}

/* A detection (or filter) map: selections plus condition. Keys in `skip` are not selections. */
static enum vig_err detection(struct loader *L, const yaml_node_t *det, const char *const *skip)
{
	const char *names[MAX_SELECTIONS];
	uint32_t roots[MAX_SELECTIONS], conds[64];
	size_t n = 0, n_conds = 0;
	const yaml_node_t *cond = NULL;
	enum vig_err err;

	if (!det || det->type != YAML_MAPPING_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "detection must be a map");
	L->prog = calloc(1, sizeof(*L->prog));
	if (!L->prog)
		return oom(L);
	L->rule->prog = L->prog;
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
		const char *k = scalar(ynode(L, p->key));
		bool skipped = false;
		if (!k)
			return vig_errf(L->errbuf, VIG_EPARSE, "selection name is not a string");
		for (size_t i = 0; skip[i]; i++)
			skipped |= strcmp(k, skip[i]) == 0;
		if (strcmp(k, "condition") == 0) {
			cond = ynode(L, p->value);
			continue;
		}
		if (skipped)
			continue;
		if (n == MAX_SELECTIONS)
			return vig_errf(L->errbuf, VIG_ETOOBIG, "more than %d selections", MAX_SELECTIONS);
		L->sel = k;
		if ((err = selection(L, ynode(L, p->value), &roots[n])))
			return err;
		names[n++] = k;
	}
	if (!cond || is_null(cond))
		return vig_errf(L->errbuf, VIG_EPARSE, "missing condition in detection");
	if (cond->type == YAML_SCALAR_NODE)
		return vig_sigma_cond_parse(L->prog, scalar(cond), names, roots, n, &L->prog->root, L->errbuf);
	if (cond->type != YAML_SEQUENCE_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "condition must be a string or a list of strings");
	for (yaml_node_item_t *it = cond->data.sequence.items.start; it < cond->data.sequence.items.top; it++) {
		const char *c = scalar(ynode(L, *it));
		if (!c)
			return vig_errf(L->errbuf, VIG_EPARSE, "condition must be a string or a list of strings");
		if (n_conds == VIG_ARRAY_LEN(conds))
			return vig_errf(L->errbuf, VIG_ETOOBIG, "too many conditions");
		if ((err = vig_sigma_cond_parse(L->prog, c, names, roots, n, &conds[n_conds++], L->errbuf)))
			return err;
	}
	if (n_conds == 0)
		return vig_errf(L->errbuf, VIG_EPARSE, "empty condition");
	return node_of(L, VIG_NODE_OR, conds, (uint32_t)n_conds, &L->prog->root);
}

/* --- rule attributes ------------------------------------------------------------------ */

static enum vig_err logsource(struct loader *L, const yaml_node_t *root)
{
	yaml_node_t *ls = map_get(L, root, "logsource");
	const char **slots[4] = {&L->rule->logsource.product, &L->rule->logsource.category,
				 &L->rule->logsource.service, &L->rule->logsource.definition};
	static const char *const keys[4] = {"product", "category", "service", "definition"};

	if (!ls || ls->type != YAML_MAPPING_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "missing logsource");
	for (int i = 0; i < 4; i++) {
		const char *v;
		enum vig_err err = get_str(L, ls, keys[i], &v);
		if (err)
			return err;
		if (v && i < 3 && !(v = lowdup(L, v)))
			return oom(L);
		*slots[i] = v;
	}
	return VIG_OK;
}

static enum vig_err timespan(struct loader *L, const char *v, int64_t *out)
{
	size_t n = v ? strlen(v) : 0;
	int64_t num, mul;

	if (n < 2 || !vig_parse_i64(v, n - 1, &num) || num <= 0)
		goto bad;
	switch (v[n - 1]) {
	case 's': mul = 1; break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	default: goto bad;
	}
	if (num > INT64_MAX / mul)
		goto bad;
	*out = num * mul;
	return VIG_OK;
bad:
	return vig_errf(L->errbuf, VIG_EINVAL, "invalid timespan '%.40s'", v ? v : "");
}

static enum vig_err correlation(struct loader *L, const yaml_node_t *c)
{
	static const char *const types[] = {"event_count", "value_count", "temporal", "temporal_ordered",
					    "value_sum", "value_avg", "value_percentile"};
	static const char *const ops[] = {"gt", "gte", "lt", "lte", "eq", "neq"};
	struct vig_sigma_corr *co;
	const char *t, *ts;
	yaml_node_t *cond, *al, *gen;
	enum vig_err err;
	int ti = -1;

	if (c->type != YAML_MAPPING_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "correlation must be a map");
	if (!(co = vig_arena_alloc(&L->rule->arena, sizeof(*co))))
		return oom(L);
	memset(co, 0, sizeof(*co));
	L->rule->corr = co;
	if ((err = get_str(L, c, "type", &t)))
		return err;
	for (int i = 0; t && i < (int)VIG_ARRAY_LEN(types); i++)
		if (!strcmp(t, types[i]))
			ti = i;
	if (ti < 0)
		return vig_errf(L->errbuf, VIG_EINVAL, "unknown correlation type '%.40s'", t ? t : "");
	co->type = (enum vig_sigma_corr_type)ti;
	if ((err = get_strlist(L, c, "rules", &co->rules)) || (err = get_strlist(L, c, "group-by", &co->group_by)))
		return err;
	if (co->rules.n == 0)
		return vig_errf(L->errbuf, VIG_EINVAL, "correlation has no rules");
	if ((err = get_str(L, c, "timespan", &ts)) || (err = timespan(L, ts, &co->timespan_s)))
		return err;
	gen = map_get(L, c, "generate");
	co->generate = gen && scalar(gen) && strcasecmp(scalar(gen), "true") == 0;
	cond = map_get(L, c, "condition");
	if (cond && cond->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = cond->data.mapping.pairs.start; p < cond->data.mapping.pairs.top; p++) {
			const char *k = scalar(ynode(L, p->key)), *v = scalar(ynode(L, p->value));
			double *slot[6] = {&co->cond.gt, &co->cond.gte, &co->cond.lt, &co->cond.lte, &co->cond.eq,
					   &co->cond.neq};
			int oi = -1;
			if (k && !strcmp(k, "field")) {
				if (!v || !(co->cond.field = adup(L, v, strlen(v))))
					return vig_errf(L->errbuf, VIG_EINVAL, "correlation condition field must be a string");
				continue;
			}
			for (int i = 0; k && i < 6; i++)
				if (!strcmp(k, ops[i]))
					oi = i;
			if (oi < 0)
				return vig_errf(L->errbuf, VIG_EINVAL, "unknown correlation condition '%.40s'", k ? k : "");
			if (!v || !parse_number(v, slot[oi]))
				return vig_errf(L->errbuf, VIG_EINVAL, "correlation condition '%s' needs a number", ops[oi]);
			co->cond.ops |= 1u << oi;
		}
	} else if (cond) {
		return vig_errf(L->errbuf, VIG_EPARSE, "correlation condition must be a map");
	}
	if (!co->cond.ops && ti != VIG_CORR_TEMPORAL && ti != VIG_CORR_TEMPORAL_ORDERED)
		return vig_errf(L->errbuf, VIG_EINVAL, "correlation needs a condition");
	if (ti >= VIG_CORR_VALUE_COUNT && ti != VIG_CORR_TEMPORAL && ti != VIG_CORR_TEMPORAL_ORDERED &&
	    !co->cond.field)
		return vig_errf(L->errbuf, VIG_EINVAL, "correlation '%s' needs a condition field", types[ti]);
	al = map_get(L, c, "aliases");
	if (al && al->type == YAML_MAPPING_NODE) {
		size_t total = 0, k = 0;
		for (yaml_node_pair_t *p = al->data.mapping.pairs.start; p < al->data.mapping.pairs.top; p++) {
			yaml_node_t *m = ynode(L, p->value);
			if (!m || m->type != YAML_MAPPING_NODE)
				return vig_errf(L->errbuf, VIG_EPARSE, "correlation alias must map rules to fields");
			total += (size_t)(m->data.mapping.pairs.top - m->data.mapping.pairs.start);
		}
		co->aliases = vig_arena_alloc(&L->rule->arena, sizeof(*co->aliases) * (total ? total : 1));
		if (!co->aliases)
			return oom(L);
		for (yaml_node_pair_t *p = al->data.mapping.pairs.start; p < al->data.mapping.pairs.top; p++) {
			yaml_node_t *m = ynode(L, p->value);
			const char *an = scalar(ynode(L, p->key));
			for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < m->data.mapping.pairs.top; q++) {
				const char *r = scalar(ynode(L, q->key)), *f = scalar(ynode(L, q->value));
				if (!an || !r || !f)
					return vig_errf(L->errbuf, VIG_EPARSE, "correlation alias must map rules to fields");
				co->aliases[k].name = adup(L, an, strlen(an));
				co->aliases[k].rule = adup(L, r, strlen(r));
				co->aliases[k].field = adup(L, f, strlen(f));
				k++;
			}
		}
		co->n_aliases = k;
	}
	return VIG_OK;
}

static enum vig_err related(struct loader *L, const yaml_node_t *root)
{
	yaml_node_t *r = map_get(L, root, "related");
	size_t cnt;

	if (!r || is_null(r))
		return VIG_OK;
	if (r->type != YAML_SEQUENCE_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "related must be a list");
	cnt = (size_t)(r->data.sequence.items.top - r->data.sequence.items.start);
	L->rule->related = vig_arena_alloc(&L->rule->arena, sizeof(*L->rule->related) * (cnt ? cnt : 1));
	if (!L->rule->related)
		return oom(L);
	for (size_t i = 0; i < cnt; i++) {
		yaml_node_t *it = ynode(L, r->data.sequence.items.start[i]);
		struct vig_sigma_related *rel = &L->rule->related[L->rule->n_related];
		enum vig_err err;
		if (!it || it->type != YAML_MAPPING_NODE)
			return vig_errf(L->errbuf, VIG_EPARSE, "related entries must be maps");
		if ((err = get_str(L, it, "id", &rel->id)) || (err = get_str(L, it, "type", &rel->type)))
			return err;
		L->rule->n_related++;
	}
	return VIG_OK;
}

static enum vig_err rule_doc(struct loader *L, const yaml_node_t *root)
{
	struct vig_sigma_rule *r = L->rule;
	yaml_node_t *n;
	enum vig_err err;

	if (!root || root->type != YAML_MAPPING_NODE)
		return vig_errf(L->errbuf, VIG_EPARSE, "rule must be a yaml map");
	if ((n = map_get(L, root, "action")))
		return vig_errf(L->errbuf, VIG_EUNSUPPORTED,
				"legacy multi-document action '%.20s' is not supported (sigma v1 rule collection)",
				scalar(n) ? scalar(n) : "?");
	if ((err = get_str(L, root, "title", &r->title)) || (err = get_str(L, root, "id", &r->id)) ||
	    (err = get_str(L, root, "name", &r->name)) || (err = get_str(L, root, "status", &r->status)) ||
	    (err = get_str(L, root, "level", &r->level)) || (err = get_str(L, root, "description", &r->description)) ||
	    (err = get_str(L, root, "author", &r->author)) || (err = get_str(L, root, "date", &r->date)) ||
	    (err = get_str(L, root, "modified", &r->modified)) || (err = get_strlist(L, root, "tags", &r->tags)) ||
	    (err = get_strlist(L, root, "references", &r->references)) ||
	    (err = get_strlist(L, root, "falsepositives", &r->falsepositives)) ||
	    (err = get_strlist(L, root, "fields", &r->fields)) || (err = related(L, root)))
		return err;
	if (!r->title)
		return vig_errf(L->errbuf, VIG_EPARSE, "missing title");
	if ((n = map_get(L, root, "correlation"))) {
		r->kind = VIG_SIGMA_CORRELATION;
		return correlation(L, n);
	}
	if ((n = map_get(L, root, "filter"))) {
		static const char *const skip[] = {"rules", NULL};
		r->kind = VIG_SIGMA_FILTER;
		if (!(r->filter = vig_arena_alloc(&r->arena, sizeof(*r->filter))))
			return oom(L);
		memset(r->filter, 0, sizeof(*r->filter));
		if ((err = logsource(L, root)) || (err = get_strlist(L, n, "rules", &r->filter->rules)))
			return err;
		return detection(L, n, skip);
	}
	{
		static const char *const skip[] = {"timeframe", NULL};
		r->kind = VIG_SIGMA_DETECTION;
		if ((err = logsource(L, root)))
			return err;
		if (!(n = map_get(L, root, "detection")))
			return vig_errf(L->errbuf, VIG_EPARSE, "missing detection");
		return detection(L, n, skip);
	}
}

/* --- public API ----------------------------------------------------------------------- */

void vig_sigma_free(struct vig_sigma_rule *rule)
{
	while (rule) {
		struct vig_sigma_rule *next = rule->next;
		if (rule->prog) {
			vig_sigma_prog_release(rule->prog);
			free(rule->prog);
		}
		vig_arena_release(&rule->arena);
		free(rule);
		rule = next;
	}
}

size_t vig_sigma_atom_count(const struct vig_sigma_rule *rule)
{
	return rule && rule->prog ? rule->prog->n_atoms : 0;
}

struct vig_sigma_rule *vig_sigma_load(const char *yaml, size_t n, const struct vig_sigma_opts *opts,
				      char *errbuf)
{
	size_t max = opts && opts->max_bytes ? opts->max_bytes : VIG_SIGMA_MAX_YAML;
	struct vig_sigma_rule *first = NULL, **tail = &first;
	yaml_parser_t parser;
	int docs = 0;

	if (n > max) {
		vig_errf(errbuf, VIG_ETOOBIG, "rule file of %zu bytes is over the limit of %zu", n, max);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, n);
	for (;;) {
		yaml_document_t doc;
		struct vig_sigma_rule *r;
		struct loader L = {.doc = &doc, .opts = opts, .errbuf = errbuf};
		yaml_node_t *root;
		enum vig_err err;

		if (!yaml_parser_load(&parser, &doc)) {
			vig_errf(errbuf, VIG_EPARSE, "yaml error at line %zu column %zu: %s",
				 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				 parser.problem ? parser.problem : "unknown");
			goto out_fail;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		if (++docs > MAX_DOCS) {
			yaml_document_delete(&doc);
			vig_errf(errbuf, VIG_ETOOBIG, "more than %d documents in one file", MAX_DOCS);
			goto out_fail;
		}
		r = calloc(1, sizeof(*r));
		if (!r) {
			yaml_document_delete(&doc);
			vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			goto out_fail;
		}
		vig_arena_init(&r->arena, 8192, VIG_SIGMA_MAX_RULE_BYTES);
		*tail = r;
		tail = &r->next;
		L.rule = r;
		err = rule_doc(&L, root);
		yaml_document_delete(&doc);
		if (err) {
			if (docs > 1 && errbuf) {
				char tmp[VIG_ERRBUF_SIZE];
				snprintf(tmp, sizeof(tmp), "%s", errbuf);
				vig_errf(errbuf, err, "document %d: %s", docs, tmp);
			}
			goto out_fail;
		}
	}
	yaml_parser_delete(&parser);
	if (!first)
		vig_errf(errbuf, VIG_EPARSE, "no rule in input");
	return first;
out_fail:
	yaml_parser_delete(&parser);
	vig_sigma_free(first);
	return NULL;
}

struct vig_sigma_rule *vig_sigma_load_file(const char *path, const struct vig_sigma_opts *opts, char *errbuf)
{
	size_t max = opts && opts->max_bytes ? opts->max_bytes : VIG_SIGMA_MAX_YAML;
	struct vig_sigma_rule *r = NULL;
	char *data = NULL;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	data = malloc(max + 1);
	if (!data) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_close;
	}
	n = fread(data, 1, max + 1, f);
	if (ferror(f))
		vig_errf(errbuf, VIG_EIO, "cannot read %s", path);
	else
		r = vig_sigma_load(data, n, opts, errbuf);
	free(data);
out_close:
	fclose(f);
	return r;
}

void vig_sigma_ruleset_init(struct vig_sigma_ruleset *rs, size_t max_rules)
{
	memset(rs, 0, sizeof(*rs));
	rs->max_rules = max_rules ? max_rules : 100000;
}

enum vig_err vig_sigma_ruleset_add(struct vig_sigma_ruleset *rs, struct vig_sigma_rule *rule)
{
	while (rule) {
		struct vig_sigma_rule *next = rule->next;
		rule->next = NULL;
		if (rs->n >= rs->max_rules) {
			vig_sigma_free(rule);
			vig_sigma_free(next);
			return VIG_ETOOBIG;
		}
		if (rs->n == rs->cap) {
			size_t ncap = rs->cap ? rs->cap * 2 : 64;
			struct vig_sigma_rule **nv = realloc(rs->rules, ncap * sizeof(*nv));
			if (!nv) {
				vig_sigma_free(rule);
				vig_sigma_free(next);
				return VIG_ENOMEM;
			}
			rs->rules = nv;
			rs->cap = ncap;
		}
		rs->rules[rs->n++] = rule;
		rule = next;
	}
	return VIG_OK;
}

void vig_sigma_ruleset_release(struct vig_sigma_ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		vig_sigma_free(rs->rules[i]);
	free(rs->rules);
	rs->rules = NULL;
	rs->n = rs->cap = 0;
}
