/*
 * query_eval.c - the in-memory evaluator of the search query language (query_eval.h): walks
 * the AST of vig_query_parse() over one event's typed values. No allocation; recursion is
 * bounded by VIG_QUERY_MAX_DEPTH (the parser's limit); patterns match in O(n * m) worst case
 * with the classic single-backtrack-point wildcard algorithm.
 */
#include "query_eval.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../common/vtime.h"

static inline unsigned char fold(unsigned char c, bool ci)
{
	return ci && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Pattern over s; prefix: the pattern may end before s does; contains: may start anywhere. */
static bool glob(const char *p, size_t pn, const char *s, size_t sn, bool ci, bool contains)
{
	size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;

	if (contains) {
		star_p = 0;
		star_s = 0;
	}
	for (;;) {
		if (pi == pn) {
			if (si == sn || contains)
				return true;
		} else if (p[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		} else if (si < sn) {
			size_t adv = 1;
			unsigned char pc = (unsigned char)p[pi];
			bool any = pc == '?';

			if (pc == '\\' && pi + 1 < pn) {
				pc = (unsigned char)p[pi + 1];
				adv = 2;
			}
			if (any || fold(pc, ci) == fold((unsigned char)s[si], ci)) {
				pi += adv;
				si++;
				continue;
			}
		}
		if (star_p == SIZE_MAX || star_s >= sn)
			return false;
		pi = star_p;
		si = ++star_s;
	}
}

bool vig_query_pattern_match(const char *pat, const char *s, size_t n, bool ci)
{
	return glob(pat, strlen(pat), s, n, ci, false);
}

static int cmp_text(const char *a, size_t an, const char *b, size_t bn, bool ci)
{
	size_t n = an < bn ? an : bn;

	for (size_t i = 0; i < n; i++) {
		unsigned char x = fold((unsigned char)a[i], ci), y = fold((unsigned char)b[i], ci);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return an == bn ? 0 : an < bn ? -1 : 1;
}

/* A term on one string value. */
static bool str_term(const struct vig_qterm *t, const char *s, size_t n, bool kw)
{
	bool ci = !kw;

	switch (t->op) {
	case VIG_QOP_EQ:
		return cmp_text(s, n, t->value, strlen(t->value), ci) == 0;
	case VIG_QOP_WILDCARD:
		return glob(t->value, strlen(t->value), s, n, ci, false);
	case VIG_QOP_RANGE:
		if (t->lo) {
			int c = cmp_text(s, n, t->lo, strlen(t->lo), ci);
			if (c < 0 || (c == 0 && !t->lo_incl))
				return false;
		}
		if (t->hi) {
			int c = cmp_text(s, n, t->hi, strlen(t->hi), ci);
			if (c > 0 || (c == 0 && !t->hi_incl))
				return false;
		}
		return true;
	default:
		return false;
	}
}

/* A scalar bound of an INT or TS field. */
static bool num_of(enum vig_type type, const char *v, int64_t *out)
{
	if (type == VIG_T_TS)
		return vig_time_parse(v, strlen(v), out);
	return vig_parse_i64(v, strlen(v), out);
}

static bool num_term(const struct vig_qterm *t, enum vig_type type, int64_t x)
{
	int64_t b;

	if (t->op == VIG_QOP_EQ || t->op == VIG_QOP_WILDCARD)
		return t->op == VIG_QOP_EQ && num_of(type, t->value, &b) && x == b;
	if (t->op != VIG_QOP_RANGE)
		return false;
	if (t->lo && (!num_of(type, t->lo, &b) || x < b || (x == b && !t->lo_incl)))
		return false;
	if (t->hi && (!num_of(type, t->hi, &b) || x > b || (x == b && !t->hi_incl)))
		return false;
	return true;
}

static bool ip_term(const struct vig_qterm *t, const uint8_t ip[16])
{
	uint8_t lo[16], hi[16];

	if (t->op == VIG_QOP_RANGE) {
		memset(lo, 0, 16);
		memset(hi, 0xff, 16);
		if ((t->lo && !vig_ip_parse(t->lo, strlen(t->lo), lo)) ||
		    (t->hi && !vig_ip_parse(t->hi, strlen(t->hi), hi)))
			return false;
		if (t->lo && !t->lo_incl && memcmp(ip, lo, 16) == 0)
			return false;
		if (t->hi && !t->hi_incl && memcmp(ip, hi, 16) == 0)
			return false;
		return memcmp(ip, lo, 16) >= 0 && memcmp(ip, hi, 16) <= 0;
	}
	if (t->op != VIG_QOP_EQ && t->op != VIG_QOP_CIDR)
		return false;
	return memcmp(ip, t->ip_lo, 16) >= 0 && memcmp(ip, t->ip_hi, 16) <= 0;
}

static bool core_term(const struct vig_qterm *t, const struct vig_event *ev)
{
	const struct vig_field_info *fi = vig_field_info((enum vig_field)t->field);
	const struct vig_val *v = vig_event_get(ev, (enum vig_field)t->field);
	bool kw = (fi->flags & VIG_FF_KW) != 0;

	if (!v || v->type == VIG_T_NONE)
		return false;
	if (t->op == VIG_QOP_WILDCARD && strcmp(t->value, "*") == 0)
		return true;
	switch (v->type) {
	case VIG_T_STR:
		return str_term(t, v->u.s, v->n, kw);
	case VIG_T_INT:
	case VIG_T_TS:
		return num_term(t, (enum vig_type)v->type, v->u.i);
	case VIG_T_IP:
		return ip_term(t, v->u.ip);
	case VIG_T_LIST:
		for (uint32_t i = 0; i < v->n; i++)
			if (str_term(t, v->u.l[i].p, v->u.l[i].len, kw))
				return true;
		return false;
	default:
		return false;
	}
}

static bool ext_term(const struct vig_qterm *t, const struct vig_event *ev)
{
	const struct vig_val *v = vig_event_ext_get(ev, t->ext, strlen(t->ext));
	char buf[128];
	const char *direct = NULL, *s;
	size_t n;
	int64_t x;

	if (!v || v->type == VIG_T_NONE)
		return false;
	if (t->op == VIG_QOP_WILDCARD && strcmp(t->value, "*") == 0)
		return true;
	if (v->type == VIG_T_INT) {
		bool lo_num = !t->lo || vig_parse_i64(t->lo, strlen(t->lo), &x);
		bool hi_num = !t->hi || vig_parse_i64(t->hi, strlen(t->hi), &x);

		if (t->op == VIG_QOP_RANGE && lo_num && hi_num)
			return num_term(t, VIG_T_INT, v->u.i);
		if (t->op == VIG_QOP_EQ && vig_parse_i64(t->value, strlen(t->value), &x))
			return x == v->u.i;
	}
	if (v->type == VIG_T_LIST) {
		for (uint32_t i = 0; i < v->n; i++)
			if (str_term(t, v->u.l[i].p, v->u.l[i].len, false))
				return true;
		return false;
	}
	n = vig_val_text(v, buf, sizeof(buf), &direct);
	s = direct ? direct : buf;
	if (direct)
		n = v->type == VIG_T_STR ? v->n : strlen(direct);
	else if (n >= sizeof(buf))
		n = strlen(buf);
	return str_term(t, s, n, false);
}

static bool eval(const struct vig_qnode *nd, const struct vig_event *ev)
{
	const struct vig_val *m;

	switch (nd->kind) {
	case VIG_QN_ALL:
		return true;
	case VIG_QN_AND:
		return eval(nd->a, ev) && eval(nd->b, ev);
	case VIG_QN_OR:
		return eval(nd->a, ev) || eval(nd->b, ev);
	case VIG_QN_NOT:
		return !eval(nd->a, ev);
	case VIG_QN_TERM:
		break;
	}
	if (nd->term.op == VIG_QOP_TEXT) {
		m = vig_event_get(ev, VIG_F_MESSAGE);
		return m && m->type == VIG_T_STR &&
		       glob(nd->term.value, strlen(nd->term.value), m->u.s, m->n, true, true);
	}
	if (nd->term.field >= 0)
		return core_term(&nd->term, ev);
	return ext_term(&nd->term, ev);
}

bool vig_query_match(const struct vig_query *q, const struct vig_event *ev)
{
	if (!q || !q->root)
		return false;
	return eval(q->root, ev);
}
