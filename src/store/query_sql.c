/*
 * query_sql.c - compiles a parsed query (query.h) into a SQLite WHERE expression over one
 * event partition table, with every value a bound parameter, and owns the SQLite store's
 * physical schema (which core fields have a column, which live in the JSON column "x").
 *
 * Only three kinds of text ever reach the SQL: fixed keywords, column names from the field
 * registry, and JSON paths built from registry names. Every value from the query - including
 * extension field names, which become JSON paths - is a parameter.
 *
 * Dictionary-encoded fields (VIG_STO_DICT) hold ids of table dict: a term on one becomes
 * "column IN (SELECT id FROM dict WHERE v <cmp>)", with the comparison below on dict.v (which
 * has a BINARY unique index and a NOCASE index). IP columns hold 4 bytes for IPv4 and 16 for
 * IPv6; ranges are split at the IPv4-mapped block and each part checks length(column).
 *
 * Semantics: keyword fields compare exactly (BINARY, GLOB for wildcards); other string fields
 * with COLLATE NOCASE (their columns are declared NOCASE, so the indexes serve) and LIKE for
 * wildcards; INT/TS numerically; IPs as 16-byte BLOBs (CIDR = BETWEEN lo AND hi); LIST fields
 * through json_each (any element); extension fields through json_extract, matching text
 * case-insensitively or, for numeric query values, the number. NOT treats an unknown (NULL)
 * comparison as false, so "not user.name:root" also finds events without a user.
 */
#include "query.h"

#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

#define SQL_TEXT_MAX (1u << 20)

/* ---- physical schema ---- */

enum vig_storage vig_store_field_storage(enum vig_field f)
{
	const struct vig_field_info *fi = vig_field_info(f);

	switch (f) {
	case VIG_F_EVENT_ID:
		return VIG_STO_EVENT_ID;
	case VIG_F_EVENT_INGESTED:
		return VIG_STO_APPEND;
	case VIG_F_PROCESS_ENTITY_ID:
	case VIG_F_PROCESS_PARENT_ENTITY_ID:
		return VIG_STO_HEX16;
	case VIG_F_EVENT_KIND:
	case VIG_F_EVENT_CATEGORY:
	case VIG_F_EVENT_TYPE:
	case VIG_F_EVENT_ACTION:
	case VIG_F_EVENT_OUTCOME:
	case VIG_F_EVENT_DATASET:
	case VIG_F_TENANT_ID:
	case VIG_F_AGENT_ID:
	case VIG_F_HOST_ID:
	case VIG_F_HOST_NAME:
	case VIG_F_PROCESS_EXECUTABLE:
	case VIG_F_PROCESS_NAME:
	case VIG_F_PROCESS_PARENT_NAME:
	case VIG_F_USER_NAME:
	case VIG_F_NETWORK_TRANSPORT:
		return VIG_STO_DICT;
	case VIG_F_TIMESTAMP:
	case VIG_F_EVENT_SEVERITY:
	case VIG_F_PROCESS_PID:
	case VIG_F_PROCESS_COMMAND_LINE:
	case VIG_F_FILE_PATH:
	case VIG_F_SOURCE_PORT:
	case VIG_F_DESTINATION_PORT:
	case VIG_F_DNS_QUESTION_NAME:
	case VIG_F_URL_ORIGINAL:
	case VIG_F_RULE_ID:
	case VIG_F_MESSAGE:
		return VIG_STO_COLUMN;
	default:
		break;
	}
	if (fi->type == VIG_T_IP || (fi->flags & VIG_FF_IDX))
		return VIG_STO_COLUMN;
	return VIG_STO_JSON;
}

void vig_store_field_expr(enum vig_field f, struct vig_buf *b)
{
	enum vig_storage st = vig_store_field_storage(f);

	if (st == VIG_STO_DICT) {
		vig_buf_printf(b, "(SELECT v FROM dict WHERE id = %s)", vig_field_info(f)->column);
		return;
	}
	if (st == VIG_STO_APPEND) {
		vig_buf_printf(b, "(SELECT ingested_ns FROM appends WHERE id = %s)", vig_field_info(f)->column);
		return;
	}
	if (st == VIG_STO_EVENT_ID) {
		vig_buf_adds(b, VIG_STORE_EVENT_ID_EXPR);
		return;
	}
	if (st != VIG_STO_JSON) {
		vig_buf_adds(b, vig_field_info(f)->column);
		return;
	}
	vig_buf_printf(b, "json_extract(x,'$.\"%s\"')", vig_field_info(f)->name);
}

/* ---- vig_sql ---- */

void vig_sql_init(struct vig_sql *s)
{
	memset(s, 0, sizeof(*s));
	vig_buf_init(&s->text, SQL_TEXT_MAX);
	vig_arena_init(&s->arena, 8192, 4u << 20);
}

void vig_sql_release(struct vig_sql *s)
{
	vig_buf_release(&s->text);
	vig_arena_release(&s->arena);
	free(s->params);
	memset(s, 0, sizeof(*s));
}

static struct vig_sql_param *param_slot(struct vig_sql *s)
{
	if (s->n_params == s->cap_params) {
		size_t cap = s->cap_params ? s->cap_params * 2 : 16;
		if (s->n_params >= VIG_SQL_MAX_PARAMS)
			return NULL;
		struct vig_sql_param *np = realloc(s->params, cap * sizeof(*np));
		if (!np)
			return NULL;
		s->params = np;
		s->cap_params = cap;
	}
	return &s->params[s->n_params++];
}

static enum vig_err param_bytes(struct vig_sql *s, enum vig_sql_ptype type, const void *p, size_t n)
{
	struct vig_sql_param *sp;
	void *copy = vig_arena_alloc(&s->arena, n + 1);

	if (!copy)
		return VIG_ETOOBIG;
	if (n)
		memcpy(copy, p, n);
	((char *)copy)[n] = '\0';
	sp = param_slot(s);
	if (!sp)
		return VIG_ETOOBIG;
	sp->type = type;
	sp->p = copy;
	sp->n = n;
	sp->i = 0;
	return VIG_OK;
}

enum vig_err vig_sql_param_text(struct vig_sql *s, const char *p, size_t n)
{
	return param_bytes(s, VIG_SQLP_TEXT, p, n);
}

enum vig_err vig_sql_param_blob(struct vig_sql *s, const void *p, size_t n)
{
	return param_bytes(s, VIG_SQLP_BLOB, p, n);
}

enum vig_err vig_sql_param_int(struct vig_sql *s, int64_t i)
{
	struct vig_sql_param *sp = param_slot(s);

	if (!sp)
		return VIG_ETOOBIG;
	sp->type = VIG_SQLP_INT;
	sp->p = NULL;
	sp->n = 0;
	sp->i = i;
	return VIG_OK;
}

/* ---- compiler ---- */

struct cc {
	struct vig_sql *out;
	enum vig_err err; /* first parameter failure */
	char *errbuf;
};

static void emit(struct cc *c, const char *s)
{
	vig_buf_adds(&c->out->text, s);
}

static void p_text(struct cc *c, const char *s, size_t n)
{
	enum vig_err e = vig_sql_param_text(c->out, s, n);
	if (e != VIG_OK && c->err == VIG_OK)
		c->err = e;
	emit(c, "?");
}

static void p_int(struct cc *c, int64_t i)
{
	enum vig_err e = vig_sql_param_int(c->out, i);
	if (e != VIG_OK && c->err == VIG_OK)
		c->err = e;
	emit(c, "?");
}

static void p_blob(struct cc *c, const void *p, size_t n)
{
	enum vig_err e = vig_sql_param_blob(c->out, p, n);
	if (e != VIG_OK && c->err == VIG_OK)
		c->err = e;
	emit(c, "?");
}

/* Pattern form -> LIKE pattern with ESCAPE '\'; optionally wrapped in '%'. */
static char *pattern_like(const char *pat, bool contains)
{
	size_t n = strlen(pat);
	char *o = malloc(2 * n + 3), *w = o;

	if (!o)
		return NULL;
	if (contains)
		*w++ = '%';
	for (const char *s = pat; *s; s++) {
		char ch = *s;
		if (ch == '\\' && s[1]) {
			ch = *++s;
			if (ch == '%' || ch == '_' || ch == '\\')
				*w++ = '\\';
			*w++ = ch;
		} else if (ch == '*') {
			*w++ = '%';
		} else if (ch == '?') {
			*w++ = '_';
		} else {
			if (ch == '%' || ch == '_' || ch == '\\')
				*w++ = '\\';
			*w++ = ch;
		}
	}
	if (contains)
		*w++ = '%';
	*w = '\0';
	return o;
}

/* Pattern form -> GLOB pattern (case-sensitive; no escape character, brackets quote). */
static char *pattern_glob(const char *pat)
{
	size_t n = strlen(pat);
	char *o = malloc(3 * n + 1), *w = o;

	if (!o)
		return NULL;
	for (const char *s = pat; *s; s++) {
		char ch = *s;
		if (ch == '\\' && s[1]) {
			ch = *++s;
			if (ch == '*' || ch == '?' || ch == '[') {
				*w++ = '[';
				*w++ = ch;
				*w++ = ']';
			} else {
				*w++ = ch;
			}
		} else if (ch == '[') {
			memcpy(w, "[[]", 3);
			w += 3;
		} else {
			*w++ = ch;
		}
	}
	*w = '\0';
	return o;
}

static bool hex32(const char *s, uint8_t out[16])
{
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return s[32] == '\0';
}

/* Binds a scalar typed by the field's type: ints and times as INT, IPs as BLOB, else TEXT. */
static void p_scalar(struct cc *c, enum vig_type type, const char *v)
{
	int64_t x = 0;
	uint8_t ip[16];

	switch (type) {
	case VIG_T_INT:
		vig_parse_i64(v, strlen(v), &x);
		p_int(c, x);
		return;
	case VIG_T_TS:
		vig_time_parse(v, strlen(v), &x);
		p_int(c, x);
		return;
	case VIG_T_IP:
		if (!vig_ip_parse(v, strlen(v), ip))
			memset(ip, 0, sizeof(ip));
		p_blob(c, ip, 16);
		return;
	default:
		p_text(c, v, strlen(v));
		return;
	}
}

/* ---- IP columns: IPv4 (::ffff:a.b.c.d) stored as a 4-byte BLOB, others as 16 bytes ---- */

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool vig_store_ip_is_v4(const uint8_t ip[16])
{
	return memcmp(ip, v4_prefix, 12) == 0;
}

/* ip += 1 (carry == false when it wrapped). */
static bool ip_inc(uint8_t ip[16])
{
	for (int i = 15; i >= 0; i--)
		if (++ip[i] != 0)
			return true;
	return false;
}

static bool ip_dec(uint8_t ip[16])
{
	for (int i = 15; i >= 0; i--)
		if (ip[i]-- != 0)
			return true;
	return false;
}

/* Inclusive 16-byte bounds of a RANGE term on an IP field; false when the range is empty. */
static bool ip_range_bounds(const struct vig_qterm *t, uint8_t lo[16], uint8_t hi[16])
{
	memset(lo, 0, 16);
	memset(hi, 0xff, 16);
	if (t->lo && !vig_ip_parse(t->lo, strlen(t->lo), lo))
		return false;
	if (t->hi && !vig_ip_parse(t->hi, strlen(t->hi), hi))
		return false;
	if (t->lo && !t->lo_incl && !ip_inc(lo))
		return false;
	if (t->hi && !t->hi_incl && !ip_dec(hi))
		return false;
	return memcmp(lo, hi, 16) <= 0;
}

/* lhs within [lo, hi] (16-byte inclusive bounds): the part of the range inside the IPv4-mapped
 * block compares 4-byte BLOBs, the rest 16-byte ones; each side checks the length because BLOBs
 * of different lengths interleave in SQLite's order. */
static void emit_ip_range(struct cc *c, const char *lhs, const uint8_t lo[16], const uint8_t hi[16])
{
	uint8_t v4lo[16], v4hi[16];
	bool has_v4, has_v6;

	memcpy(v4lo, v4_prefix, 12);
	memset(v4lo + 12, 0, 4);
	memcpy(v4hi, v4_prefix, 12);
	memset(v4hi + 12, 0xff, 4);
	has_v4 = memcmp(lo, v4hi, 16) <= 0 && memcmp(hi, v4lo, 16) >= 0;
	/* Outside the v4 block: [lo, v4lo-1] or [v4hi+1, hi] non-empty. */
	has_v6 = memcmp(lo, v4lo, 16) < 0 || memcmp(hi, v4hi, 16) > 0;
	if (has_v4 && !has_v6 && memcmp(lo, hi, 16) == 0) {
		emit(c, lhs);
		emit(c, " = ");
		p_blob(c, lo + 12, 4);
		return;
	}
	if (has_v6 && !has_v4 && memcmp(lo, hi, 16) == 0) {
		emit(c, lhs);
		emit(c, " = ");
		p_blob(c, lo, 16);
		return;
	}
	if (has_v4 && has_v6)
		emit(c, "(");
	if (has_v4) {
		const uint8_t *a = memcmp(lo, v4lo, 16) > 0 ? lo : v4lo;
		const uint8_t *b = memcmp(hi, v4hi, 16) < 0 ? hi : v4hi;
		emit(c, "(");
		emit(c, lhs);
		emit(c, " BETWEEN ");
		p_blob(c, a + 12, 4);
		emit(c, " AND ");
		p_blob(c, b + 12, 4);
		emit(c, " AND length(");
		emit(c, lhs);
		emit(c, ") = 4)");
	}
	if (has_v4 && has_v6)
		emit(c, " OR ");
	if (has_v6) {
		emit(c, "(");
		emit(c, lhs);
		emit(c, " BETWEEN ");
		p_blob(c, lo, 16);
		emit(c, " AND ");
		p_blob(c, hi, 16);
		emit(c, " AND length(");
		emit(c, lhs);
		emit(c, ") = 16)");
	}
	if (has_v4 && has_v6)
		emit(c, ")");
}

/* "<lhs> <cmp> <value>" comparisons of a range term on an expression. */
static void emit_range(struct cc *c, const char *lhs, const struct vig_qterm *t, enum vig_type type,
		       const char *coll)
{
	bool both = t->lo && t->hi;

	if (!t->lo && !t->hi) {
		emit(c, lhs);
		emit(c, " IS NOT NULL");
		return;
	}
	if (both)
		emit(c, "(");
	if (t->lo) {
		emit(c, lhs);
		emit(c, t->lo_incl ? " >= " : " > ");
		p_scalar(c, type, t->lo);
		emit(c, coll);
	}
	if (both)
		emit(c, " AND ");
	if (t->hi) {
		emit(c, lhs);
		emit(c, t->hi_incl ? " <= " : " < ");
		p_scalar(c, type, t->hi);
		emit(c, coll);
	}
	if (both)
		emit(c, ")");
}

/* A comparison on a string-valued expression (column, json value or list element). */
static enum vig_err emit_str_cmp(struct cc *c, const char *lhs, const struct vig_qterm *t, bool kw)
{
	const char *coll = kw ? "" : " COLLATE NOCASE";
	char *pat;

	switch (t->op) {
	case VIG_QOP_EQ:
		emit(c, lhs);
		emit(c, " = ");
		p_text(c, t->value, strlen(t->value));
		emit(c, coll);
		return VIG_OK;
	case VIG_QOP_WILDCARD:
		if (strcmp(t->value, "*") == 0) {
			emit(c, lhs);
			emit(c, " IS NOT NULL");
			return VIG_OK;
		}
		pat = kw ? pattern_glob(t->value) : pattern_like(t->value, false);
		if (!pat)
			return VIG_ENOMEM;
		emit(c, lhs);
		emit(c, kw ? " GLOB " : " LIKE ");
		p_text(c, pat, strlen(pat));
		if (!kw)
			emit(c, " ESCAPE '\\'");
		free(pat);
		return VIG_OK;
	case VIG_QOP_RANGE:
		emit_range(c, lhs, t, VIG_T_STR, coll);
		return VIG_OK;
	default:
		return vig_errf(c->errbuf, VIG_EINVAL, "query: operator not valid for a text field at column %d",
				t->column);
	}
}

static enum vig_err term_core(struct cc *c, const struct vig_qterm *t)
{
	enum vig_field f = (enum vig_field)t->field;
	const struct vig_field_info *fi = vig_field_info(f);
	enum vig_storage st = vig_store_field_storage(f);
	bool kw = (fi->flags & VIG_FF_KW) != 0;
	struct vig_buf lhs;
	enum vig_err e = VIG_OK;
	uint8_t h[16];

	vig_buf_init(&lhs, 512);
	if (fi->type == VIG_T_LIST) {
		/* Any element: EXISTS over json_each of the stored array. */
		emit(c, "EXISTS (SELECT 1 FROM json_each(");
		if (st == VIG_STO_JSON)
			vig_buf_printf(&c->out->text, "x,'$.\"%s\"'", fi->name);
		else
			emit(c, fi->column);
		emit(c, ") WHERE ");
		e = emit_str_cmp(c, "value", t, kw);
		emit(c, ")");
		goto out;
	}
	if (st == VIG_STO_DICT) {
		/* The column holds dict ids: match the dictionary, then the ids (index on the column). */
		emit(c, fi->column);
		if (t->op == VIG_QOP_WILDCARD && strcmp(t->value, "*") == 0) {
			emit(c, " IS NOT NULL");
			goto out;
		}
		emit(c, " IN (SELECT id FROM dict WHERE ");
		e = emit_str_cmp(c, "v", t, kw);
		emit(c, ")");
		goto out;
	}
	vig_store_field_expr(f, &lhs);
	if (vig_buf_err(&lhs) != VIG_OK) {
		e = VIG_EINTERNAL;
		goto out;
	}
	if (t->op == VIG_QOP_WILDCARD && strcmp(t->value, "*") == 0) {
		emit(c, lhs.data);
		emit(c, " IS NOT NULL");
		goto out;
	}
	switch (fi->type) {
	case VIG_T_IP: {
		uint8_t lo[16], hi[16];
		if (t->op == VIG_QOP_RANGE) {
			if (!ip_range_bounds(t, lo, hi)) {
				emit(c, "0");
				break;
			}
		} else {
			memcpy(lo, t->ip_lo, 16);
			memcpy(hi, t->ip_hi, 16);
		}
		emit_ip_range(c, lhs.data, lo, hi);
		break;
	}
	case VIG_T_INT:
	case VIG_T_TS:
		if (t->op == VIG_QOP_RANGE) {
			emit_range(c, lhs.data, t, fi->type, "");
		} else {
			emit(c, lhs.data);
			emit(c, " = ");
			p_scalar(c, fi->type, t->value);
		}
		break;
	default:
		if ((st == VIG_STO_HEX16 || st == VIG_STO_EVENT_ID) && t->op == VIG_QOP_EQ &&
		    strlen(t->value) == 32 && hex32(t->value, h)) {
			emit(c, st == VIG_STO_EVENT_ID ? "(" : "");
			emit(c, fi->column);
			emit(c, " IN (");
			p_blob(c, h, 16);
			emit(c, ", ");
			p_text(c, t->value, 32);
			emit(c, ")");
			if (st == VIG_STO_EVENT_ID) {
				/* or generated by the store: offset and the append holding its base */
				emit(c, " OR (");
				emit(c, fi->column);
				emit(c, " = ");
				p_int(c, (int64_t)((uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 |
						   (uint32_t)h[14] << 8 | h[15]));
				emit(c, " AND ");
				emit(c, vig_field_info(VIG_F_EVENT_INGESTED)->column);
				emit(c, " = (SELECT id FROM appends WHERE idbase = ");
				p_blob(c, h, 12);
				emit(c, ")))");
			}
			break;
		}
		e = emit_str_cmp(c, lhs.data, t, kw);
		break;
	}
out:
	vig_buf_release(&lhs);
	return e;
}

/* Extension field: json_extract(x, ?path); numeric values also match numbers. */
static enum vig_err term_ext(struct cc *c, const struct vig_qterm *t)
{
	size_t klen = strlen(t->ext);
	char *path = malloc(klen + 6);
	int64_t x;
	enum vig_err e = VIG_OK;

	if (!path)
		return VIG_ENOMEM;
	memcpy(path, "$.\"", 3);
	memcpy(path + 3, t->ext, klen);
	memcpy(path + 3 + klen, "\"", 2);
	if (t->op == VIG_QOP_WILDCARD && strcmp(t->value, "*") == 0) {
		emit(c, "json_type(x, ");
		p_text(c, path, klen + 4);
		emit(c, ") IS NOT NULL");
		goto out;
	}
	if (t->op == VIG_QOP_RANGE) {
		bool lo_num = !t->lo || vig_parse_i64(t->lo, strlen(t->lo), &x);
		bool hi_num = !t->hi || vig_parse_i64(t->hi, strlen(t->hi), &x);
		struct vig_qterm tt = *t;
		emit(c, "(SELECT ");
		if (lo_num && hi_num) {
			emit_range(c, "v", &tt, VIG_T_INT, "");
		} else {
			emit_range(c, "v", &tt, VIG_T_STR, " COLLATE NOCASE");
		}
		emit(c, " FROM (SELECT json_extract(x, ");
		p_text(c, path, klen + 4);
		emit(c, ") AS v))");
		goto out;
	}
	emit(c, "(SELECT ");
	if (t->op == VIG_QOP_EQ && vig_parse_i64(t->value, strlen(t->value), &x)) {
		emit(c, "(v = ");
		p_int(c, x);
		emit(c, " OR ");
		e = emit_str_cmp(c, "v", t, false);
		emit(c, ")");
	} else {
		e = emit_str_cmp(c, "v", t, false);
	}
	emit(c, " FROM (SELECT json_extract(x, ");
	p_text(c, path, klen + 4);
	emit(c, ") AS v))");
out:
	free(path);
	return e;
}

static enum vig_err node(struct cc *c, const struct vig_qnode *n)
{
	enum vig_err e;
	char *pat;

	switch (n->kind) {
	case VIG_QN_ALL:
		emit(c, "1");
		return VIG_OK;
	case VIG_QN_AND:
	case VIG_QN_OR:
		emit(c, "(");
		e = node(c, n->a);
		if (e != VIG_OK)
			return e;
		emit(c, n->kind == VIG_QN_AND ? " AND " : " OR ");
		e = node(c, n->b);
		emit(c, ")");
		return e;
	case VIG_QN_NOT:
		emit(c, "((");
		e = node(c, n->a);
		emit(c, ") IS NOT 1)");
		return e;
	case VIG_QN_TERM:
		break;
	}
	if (n->term.op == VIG_QOP_TEXT) {
		pat = pattern_like(n->term.value, true);
		if (!pat)
			return VIG_ENOMEM;
		emit(c, vig_field_info(VIG_F_MESSAGE)->column);
		emit(c, " LIKE ");
		p_text(c, pat, strlen(pat));
		emit(c, " ESCAPE '\\'");
		free(pat);
		return VIG_OK;
	}
	if (n->term.field >= 0)
		return term_core(c, &n->term);
	return term_ext(c, &n->term);
}

enum vig_err vig_query_to_sql(const struct vig_query *q, struct vig_sql *out, char *errbuf)
{
	struct cc c = {.out = out, .errbuf = errbuf};
	enum vig_err e;

	if (!q || !q->root)
		return vig_errf(errbuf, VIG_EINVAL, "query: nothing to compile");
	e = node(&c, q->root);
	if (e != VIG_OK) {
		if (e == VIG_ENOMEM)
			vig_errf(errbuf, e, "query: out of memory");
		return e;
	}
	if (c.err != VIG_OK)
		return vig_errf(errbuf, c.err, "query: too many values");
	if (vig_buf_err(&out->text) != VIG_OK)
		return vig_errf(errbuf, vig_buf_err(&out->text), "query: compiled sql too long");
	return VIG_OK;
}
