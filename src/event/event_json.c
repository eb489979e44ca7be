/*
 * event_json.c - JSON decoding and encoding of events (see event_json.h).
 *
 * Decoding walks a jansson tree, building each field's dotted name in a fixed buffer; the
 * tree's depth is bounded before the walk (jansson itself caps parsing depth at 2048, so a
 * hostile document cannot overflow the stack). Encoding sorts names so that every object's
 * members are contiguous ('.' sorts before any other byte) and opens and closes objects as
 * the dotted prefix changes.
 */
#include "event_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

/* One JSON scalar, from either decoder: the mapping onto fields is shared. */
enum jkind { J_NULL, J_STR, J_INT, J_REAL, J_TRUE, J_FALSE };

struct jscalar {
	enum jkind kind;
	const char *s; /* text: the string, or the number's / literal's text */
	size_t n;      /* bytes of s */
	int64_t i;     /* J_INT */
	double d;      /* J_REAL */
};

struct dec {
	struct vig_event *ev;                 /* target */
	const struct vig_json_limits *limits; /* bounds */
	char *errbuf;                         /* OUT: detail */
	char name[512];                       /* dotted name being decoded */
	size_t name_len;                      /* bytes of name */
	uint64_t seen[(VIG_F__COUNT + 63) / 64]; /* core fields this document set */
	uint32_t ext_base;                    /* extension entries before this document */
	/* Streaming decoder only. */
	const char *start, *p, *end;          /* the document and the read position */
};

static enum vig_err dec_fail(struct dec *d, enum vig_err rc, const char *what)
{
	return vig_errf(d->errbuf, rc, "field %s: %s", d->name[0] ? d->name : "(top)", what);
}

/* Marks core field f as set by this document: a second time is a duplicate key (whether
 * written nested or dotted); a value the caller set before decoding is replaced. */
static enum vig_err claim_core(struct dec *d, enum vig_field f)
{
	uint64_t bit = 1ull << (f % 64);

	if (d->seen[f / 64] & bit)
		return dec_fail(d, VIG_EPARSE, "duplicate key");
	d->seen[f / 64] |= bit;
	vig_event_unset(d->ev, f);
	return VIG_OK;
}

/* Appends a scalar to a LIST field. */
static enum vig_err list_add_scalar(struct dec *d, enum vig_field f, const struct jscalar *j)
{
	enum vig_err rc;

	if (j->kind == J_NULL)
		return VIG_OK;
	rc = vig_event_list_add(d->ev, f, j->s, j->n);
	return rc == VIG_OK ? VIG_OK : dec_fail(d, rc, vig_strerror(rc));
}

/* Sets core field f from a scalar, converting to the field's type. */
static enum vig_err set_core(struct dec *d, enum vig_field f, const struct jscalar *j)
{
	const struct vig_field_info *fi = vig_field_info(f);
	enum vig_err rc;

	if (j->kind == J_NULL)
		return VIG_OK;
	if ((rc = claim_core(d, f)) != VIG_OK)
		return rc;
	switch (fi->type) {
	case VIG_T_LIST:
		return list_add_scalar(d, f, j);
	case VIG_T_TS:
		if (j->kind == J_INT) {
			if (j->i > INT64_MAX / 1000000 || j->i < INT64_MIN / 1000000)
				return dec_fail(d, VIG_EINVAL, "timestamp out of range");
			return vig_event_set_ts(d->ev, f, j->i * 1000000);
		}
		if (j->kind != J_STR)
			return dec_fail(d, VIG_EINVAL, "expected a string");
		break;
	case VIG_T_IP:
		if (j->kind != J_STR)
			return dec_fail(d, VIG_EINVAL, "expected a string");
		break;
	case VIG_T_INT:
		if (j->kind == J_INT)
			return vig_event_set_int(d->ev, f, j->i);
		if (j->kind == J_REAL) {
			if (!(j->d >= -9.2e18 && j->d <= 9.2e18) || j->d != floor(j->d))
				return dec_fail(d, VIG_EINVAL, "expected an integer");
			return vig_event_set_int(d->ev, f, (int64_t)j->d);
		}
		break;
	default:
		break;
	}
	rc = vig_event_set_text(d->ev, f, j->s, j->n);
	if (rc == VIG_EINVAL) {
		char msg[64];
		snprintf(msg, sizeof(msg), "not a valid %s", vig_type_name(fi->type));
		return dec_fail(d, rc, msg);
	}
	return rc == VIG_OK ? VIG_OK : dec_fail(d, rc, vig_strerror(rc));
}

/* Sets the extension field named d->name from a scalar (or an array's JSON text as J_STR). */
static enum vig_err set_ext(struct dec *d, const struct jscalar *j)
{
	enum vig_err rc;

	if (j->kind == J_NULL)
		return VIG_OK;
	for (uint32_t i = d->ext_base; i < d->ev->n_ext; i++)
		if (strcmp(d->ev->ext[i].key, d->name) == 0)
			return dec_fail(d, VIG_EPARSE, "duplicate key");
	switch (j->kind) {
	case J_STR:
		rc = vig_event_ext_str(d->ev, d->name, j->s, j->n);
		break;
	case J_INT:
		rc = vig_event_ext_int(d->ev, d->name, j->i);
		break;
	case J_REAL:
		rc = vig_event_ext_float(d->ev, d->name, j->d);
		break;
	default:
		rc = vig_event_ext_bool(d->ev, d->name, j->kind == J_TRUE);
		break;
	}
	if (rc == VIG_EINVAL)
		return dec_fail(d, rc, "name clashes with another field");
	return rc == VIG_OK ? VIG_OK : dec_fail(d, rc, vig_strerror(rc));
}

/* Routes a scalar to the field named d->name. */
static enum vig_err set_scalar(struct dec *d, const struct jscalar *j)
{
	int f = vig_field_lookup(d->name, d->name_len);

	if (f >= 0)
		return set_core(d, (enum vig_field)f, j);
	if (vig_field_is_object(d->name, d->name_len) && j->kind != J_NULL)
		return dec_fail(d, VIG_EINVAL, "expected an object");
	return set_ext(d, j);
}

/* Extends d->name with ".key"; returns the previous length to restore, or an error. */
static enum vig_err name_push(struct dec *d, const char *key, size_t klen, size_t *saved)
{
	size_t len = d->name_len;

	*saved = len;
	if (klen == 0)
		return dec_fail(d, VIG_EINVAL, "empty key");
	if (memchr(key, '\0', klen))
		return dec_fail(d, VIG_EINVAL, "key contains NUL");
	if (len + klen + 2 > sizeof(d->name) || len + klen + 1 > VIG_EVENT_MAX_KEY)
		return dec_fail(d, VIG_ETOOBIG, "name too long");
	if (len)
		d->name[len++] = '.';
	memcpy(d->name + len, key, klen);
	len += klen;
	d->name[len] = '\0';
	d->name_len = len;
	return VIG_OK;
}

static void name_pop(struct dec *d, size_t saved)
{
	d->name_len = saved;
	d->name[saved] = '\0';
}

/* ---- decoding a jansson tree ---- */

static enum vig_err jt_object(struct dec *d, json_t *obj);

static bool jt_scalar(json_t *v, char *tmp, size_t cap, struct jscalar *j)
{
	int n = 0;

	memset(j, 0, sizeof(*j));
	switch (json_typeof(v)) {
	case JSON_NULL:
		j->kind = J_NULL;
		return true;
	case JSON_STRING:
		j->kind = J_STR;
		j->s = json_string_value(v);
		j->n = json_string_length(v);
		return true;
	case JSON_INTEGER:
		j->kind = J_INT;
		j->i = json_integer_value(v);
		n = snprintf(tmp, cap, "%lld", (long long)j->i);
		break;
	case JSON_REAL:
		j->kind = J_REAL;
		j->d = json_real_value(v);
		n = snprintf(tmp, cap, "%.17g", j->d);
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		j->kind = json_is_true(v) ? J_TRUE : J_FALSE;
		n = snprintf(tmp, cap, "%s", json_is_true(v) ? "true" : "false");
		break;
	default:
		return false;
	}
	j->s = tmp;
	j->n = (size_t)n;
	return true;
}

static enum vig_err jt_array(struct dec *d, json_t *arr)
{
	int f = vig_field_lookup(d->name, d->name_len);
	char tmp[64];
	struct jscalar j;
	size_t i;
	json_t *item;

	if (f >= 0 && vig_field_info((enum vig_field)f)->type == VIG_T_LIST) {
		enum vig_err rc = claim_core(d, (enum vig_field)f);
		if (rc != VIG_OK)
			return rc;
		json_array_foreach(arr, i, item) {
			if (!jt_scalar(item, tmp, sizeof(tmp), &j))
				return dec_fail(d, VIG_EINVAL, "list items must be scalars");
			enum vig_err rc = list_add_scalar(d, (enum vig_field)f, &j);
			if (rc != VIG_OK)
				return rc;
		}
		return VIG_OK;
	}
	if (f >= 0)
		return dec_fail(d, VIG_EINVAL, "expected a scalar");
	char *text = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!text)
		return dec_fail(d, VIG_ENOMEM, "out of memory");
	j = (struct jscalar){J_STR, text, strlen(text), 0, 0};
	enum vig_err rc = set_scalar(d, &j);
	free(text);
	return rc;
}

static enum vig_err jt_member(struct dec *d, const char *key, json_t *v)
{
	char tmp[64];
	struct jscalar j;
	size_t saved;
	enum vig_err rc = name_push(d, key, strlen(key), &saved);

	if (rc != VIG_OK)
		return rc;
	if (json_is_object(v))
		rc = jt_object(d, v);
	else if (json_is_array(v))
		rc = jt_array(d, v);
	else if (jt_scalar(v, tmp, sizeof(tmp), &j))
		rc = set_scalar(d, &j);
	else
		rc = dec_fail(d, VIG_EINVAL, "unexpected value");
	name_pop(d, saved);
	return rc;
}

static enum vig_err jt_object(struct dec *d, json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		enum vig_err rc = jt_member(d, key, v);
		if (rc != VIG_OK)
			return rc;
	}
	return VIG_OK;
}

static int json_depth(json_t *v, int limit)
{
	int max = 0;
	size_t i;
	const char *k;
	json_t *c;

	if (limit < 0)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			max = VIG_MAX(max, json_depth(c, limit - 1));
			if (max > limit)
				break;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			max = VIG_MAX(max, json_depth(c, limit - 1));
			if (max > limit)
				break;
		}
		return max + 1;
	}
	return 0;
}

static const struct vig_json_limits default_limits = {VIG_JSON_DEFAULT_MAX_BYTES,
						      VIG_JSON_DEFAULT_MAX_DEPTH};

enum vig_err vig_event_from_jansson(struct vig_event *ev, json_t *obj,
				    const struct vig_json_limits *limits, char *errbuf)
{
	struct dec d = {.ev = ev, .limits = limits ? limits : &default_limits, .errbuf = errbuf,
			.ext_base = ev->n_ext};

	if (!json_is_object(obj))
		return vig_errf(errbuf, VIG_EPARSE, "an event must be a JSON object");
	if (json_depth(obj, d.limits->max_depth) > d.limits->max_depth)
		return vig_errf(errbuf, VIG_ETOOBIG, "nesting deeper than %d", d.limits->max_depth);
	return jt_object(&d, obj);
}

/* ---- the streaming decoder: JSON text straight into the event ----
 *
 * A recursive-descent parser over the bytes (RFC 8259, strict: UTF-8 validated, no trailing
 * commas, no comments), bounded in depth by the limits, that sets each field as it is read.
 * Strings without escapes are passed to the setters in place; strings with escapes are
 * unescaped into the event's arena. */

static enum vig_err s_value(struct dec *d, int depth);

static enum vig_err s_syntax(struct dec *d, const char *what)
{
	return vig_errf(d->errbuf, VIG_EPARSE, "invalid JSON at column %zu: %s",
			(size_t)(d->p - d->start) + 1, what);
}

static void s_ws(struct dec *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool read_u16(const char *p, const char *end, unsigned *out)
{
	unsigned v = 0;

	if (end - p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return true;
}

/* Length of the valid UTF-8 sequence at p (before end), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0], cp, len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < len)
		return 0;
	for (unsigned i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Unescapes the string body [p, end) (validated by s_string) into the arena. */
static enum vig_err s_unescape(struct dec *d, const char *p, const char *end, const char **out,
			       size_t *n)
{
	char *o = vig_arena_alloc(d->ev->arena, (size_t)(end - p) + 1), *w = o;

	if (!o)
		return dec_fail(d, VIG_ETOOBIG, "over the event's memory limit");
	while (p < end) {
		if (*p != '\\') {
			*w++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			read_u16(p + 1, end, &cp);
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				read_u16(p + 3, end, &lo);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			w += put_utf8(w, cp);
			break;
		}
		default: *w++ = *p; break;
		}
		p++;
	}
	*w = '\0';
	*out = o;
	*n = (size_t)(w - o);
	return VIG_OK;
}

/* Reads a string at d->p (the opening quote); *out and *n receive its text (in place when it
 * has no escapes, else unescaped into the arena). */
static enum vig_err s_string(struct dec *d, const char **out, size_t *n)
{
	const char *body = ++d->p;
	bool escaped = false;

	while (d->p < d->end) {
		unsigned char c = (unsigned char)*d->p;
		if (c == '"') {
			const char *stop = d->p++;
			if (!escaped) {
				*out = body;
				*n = (size_t)(stop - body);
				return VIG_OK;
			}
			return s_unescape(d, body, stop, out, n);
		}
		if (c < 0x20)
			return s_syntax(d, "control character in string");
		if (c == '\\') {
			escaped = true;
			d->p++;
			if (d->p >= d->end)
				break;
			if (*d->p == 'u') {
				unsigned cp, lo;
				if (!read_u16(d->p + 1, d->end, &cp))
					return s_syntax(d, "bad \\u escape");
				d->p += 5;
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return s_syntax(d, "lone low surrogate");
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u' ||
					    !read_u16(d->p + 2, d->end, &lo) || lo < 0xdc00 || lo > 0xdfff)
						return s_syntax(d, "unpaired surrogate");
					d->p += 6;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", *d->p) || *d->p == '\0')
				return s_syntax(d, "bad escape");
			d->p++;
			continue;
		}
		size_t len = utf8_len((const unsigned char *)d->p, (const unsigned char *)d->end);
		if (!len)
			return s_syntax(d, "invalid UTF-8");
		d->p += len;
	}
	return s_syntax(d, "unterminated string");
}

/* Reads a number at d->p into j. */
static enum vig_err s_number(struct dec *d, struct jscalar *j)
{
	const char *b = d->p;
	bool is_int = true;
	char tmp[64];

	if (d->p < d->end && *d->p == '-')
		d->p++;
	if (d->p < d->end && *d->p == '0')
		d->p++;
	else if (d->p < d->end && *d->p >= '1' && *d->p <= '9')
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	else
		return s_syntax(d, "bad number");
	if (d->p < d->end && *d->p == '.') {
		is_int = false;
		d->p++;
		if (d->p >= d->end || *d->p < '0' || *d->p > '9')
			return s_syntax(d, "bad number");
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	}
	if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
		is_int = false;
		d->p++;
		if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
			d->p++;
		if (d->p >= d->end || *d->p < '0' || *d->p > '9')
			return s_syntax(d, "bad number");
		while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
			d->p++;
	}
	j->s = b;
	j->n = (size_t)(d->p - b);
	if (is_int && vig_parse_i64(b, j->n, &j->i)) {
		j->kind = J_INT;
		return VIG_OK;
	}
	if (j->n >= sizeof(tmp))
		return s_syntax(d, "number too long");
	memcpy(tmp, b, j->n);
	tmp[j->n] = '\0';
	j->kind = J_REAL;
	j->d = strtod(tmp, NULL);
	return VIG_OK;
}

/* Reads a scalar at d->p into j; false (without error) if the value is not a scalar. */
static enum vig_err s_scalar(struct dec *d, struct jscalar *j)
{
	static const struct {
		const char *word;
		enum jkind kind;
	} lits[] = {{"true", J_TRUE}, {"false", J_FALSE}, {"null", J_NULL}};

	memset(j, 0, sizeof(*j));
	if (*d->p == '"') {
		j->kind = J_STR;
		return s_string(d, &j->s, &j->n);
	}
	if (*d->p == '-' || (*d->p >= '0' && *d->p <= '9'))
		return s_number(d, j);
	for (size_t i = 0; i < VIG_ARRAY_LEN(lits); i++) {
		size_t len = strlen(lits[i].word);
		if ((size_t)(d->end - d->p) >= len && memcmp(d->p, lits[i].word, len) == 0) {
			j->kind = lits[i].kind;
			j->s = d->p;
			j->n = len;
			d->p += len;
			return VIG_OK;
		}
	}
	return s_syntax(d, "unexpected character");
}

static enum vig_err s_depth(struct dec *d, int depth)
{
	if (depth > d->limits->max_depth)
		return vig_errf(d->errbuf, VIG_ETOOBIG, "nesting deeper than %d", d->limits->max_depth);
	return VIG_OK;
}

/* Validates (and skips) any value; used for arrays kept as JSON text. */
static enum vig_err s_skip(struct dec *d, int depth)
{
	enum vig_err rc;
	struct jscalar j;
	const char *k;
	size_t kn;

	s_ws(d);
	if (d->p >= d->end)
		return s_syntax(d, "unexpected end");
	if (*d->p != '{' && *d->p != '[')
		return s_scalar(d, &j);
	char close = *d->p == '{' ? '}' : ']';
	bool obj = close == '}';
	if ((rc = s_depth(d, depth + 1)) != VIG_OK)
		return rc;
	d->p++;
	s_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		return VIG_OK;
	}
	for (;;) {
		s_ws(d);
		if (obj) {
			if (d->p >= d->end || *d->p != '"')
				return s_syntax(d, "expected a key");
			if ((rc = s_string(d, &k, &kn)) != VIG_OK)
				return rc;
			s_ws(d);
			if (d->p >= d->end || *d->p != ':')
				return s_syntax(d, "expected ':'");
			d->p++;
		}
		if ((rc = s_skip(d, depth + 1)) != VIG_OK)
			return rc;
		s_ws(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == close) {
			d->p++;
			return VIG_OK;
		}
		return s_syntax(d, obj ? "expected ',' or '}'" : "expected ',' or ']'");
	}
}

/* An array at d->p for the field d->name: a LIST field takes its scalars, another core field
 * refuses it, an extension field keeps its compact JSON text. */
static enum vig_err s_array(struct dec *d, int depth)
{
	int f = vig_field_lookup(d->name, d->name_len);
	const char *b = d->p;
	enum vig_err rc;
	struct jscalar j;

	if (f < 0 || vig_field_info((enum vig_field)f)->type != VIG_T_LIST) {
		if ((rc = s_skip(d, depth)) != VIG_OK)
			return rc;
		if (f >= 0)
			return dec_fail(d, VIG_EINVAL, "expected a scalar");
		/* Compact copy: whitespace outside strings dropped. */
		char *o = vig_arena_alloc(d->ev->arena, (size_t)(d->p - b) + 1), *w = o;
		if (!o)
			return dec_fail(d, VIG_ETOOBIG, "over the event's memory limit");
		bool in_str = false;
		for (const char *q = b; q < d->p; q++) {
			if (in_str) {
				*w++ = *q;
				if (*q == '\\')
					*w++ = *++q;
				else if (*q == '"')
					in_str = false;
			} else if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
				in_str = *q == '"';
				*w++ = *q;
			}
		}
		*w = '\0';
		j = (struct jscalar){J_STR, o, (size_t)(w - o), 0, 0};
		return set_scalar(d, &j);
	}
	if ((rc = claim_core(d, (enum vig_field)f)) != VIG_OK)
		return rc;
	if ((rc = s_depth(d, depth + 1)) != VIG_OK)
		return rc;
	d->p++;
	s_ws(d);
	if (d->p < d->end && *d->p == ']') {
		d->p++;
		return VIG_OK;
	}
	for (;;) {
		s_ws(d);
		if (d->p >= d->end)
			return s_syntax(d, "unexpected end");
		if (*d->p == '{' || *d->p == '[')
			return dec_fail(d, VIG_EINVAL, "list items must be scalars");
		if ((rc = s_scalar(d, &j)) != VIG_OK)
			return rc;
		if ((rc = list_add_scalar(d, (enum vig_field)f, &j)) != VIG_OK)
			return rc;
		s_ws(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == ']') {
			d->p++;
			return VIG_OK;
		}
		return s_syntax(d, "expected ',' or ']'");
	}
}

/* An object at d->p whose members extend d->name. */
static enum vig_err s_object(struct dec *d, int depth)
{
	enum vig_err rc;
	const char *k;
	size_t kn, saved;

	if ((rc = s_depth(d, depth + 1)) != VIG_OK)
		return rc;
	d->p++;
	s_ws(d);
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		return VIG_OK;
	}
	for (;;) {
		s_ws(d);
		if (d->p >= d->end || *d->p != '"')
			return s_syntax(d, "expected a key");
		if ((rc = s_string(d, &k, &kn)) != VIG_OK)
			return rc;
		s_ws(d);
		if (d->p >= d->end || *d->p != ':')
			return s_syntax(d, "expected ':'");
		d->p++;
		if ((rc = name_push(d, k, kn, &saved)) != VIG_OK)
			return rc;
		rc = s_value(d, depth + 1);
		name_pop(d, saved);
		if (rc != VIG_OK)
			return rc;
		s_ws(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (d->p < d->end && *d->p == '}') {
			d->p++;
			return VIG_OK;
		}
		return s_syntax(d, "expected ',' or '}'");
	}
}

static enum vig_err s_value(struct dec *d, int depth)
{
	struct jscalar j;
	enum vig_err rc;

	s_ws(d);
	if (d->p >= d->end)
		return s_syntax(d, "unexpected end");
	if (*d->p == '{')
		return s_object(d, depth);
	if (*d->p == '[')
		return s_array(d, depth);
	if ((rc = s_scalar(d, &j)) != VIG_OK)
		return rc;
	return set_scalar(d, &j);
}

enum vig_err vig_event_from_json(struct vig_event *ev, const char *s, size_t n,
				 const struct vig_json_limits *limits, char *errbuf)
{
	struct dec d = {.ev = ev, .limits = limits ? limits : &default_limits, .errbuf = errbuf,
			.start = s, .p = s, .end = s + n, .ext_base = ev->n_ext};
	enum vig_err rc;

	if (n > d.limits->max_bytes)
		return vig_errf(errbuf, VIG_ETOOBIG, "event of %zu bytes over the limit of %zu", n,
				d.limits->max_bytes);
	s_ws(&d);
	if (d.p < d.end && *d.p != '{') {
		/* Tell a valid non-object document from garbage. */
		rc = s_skip(&d, 0);
		if (rc != VIG_OK)
			return rc;
		s_ws(&d);
		if (d.p != d.end)
			return s_syntax(&d, "end of input expected");
		return vig_errf(errbuf, VIG_EPARSE, "an event must be a JSON object");
	}
	if (d.p >= d.end)
		return s_syntax(&d, "empty input");
	rc = s_object(&d, 0);
	if (rc != VIG_OK)
		return rc;
	s_ws(&d);
	if (d.p != d.end)
		return s_syntax(&d, "end of input expected");
	return VIG_OK;
}

enum vig_err vig_val_to_json(const struct vig_val *v, struct vig_buf *out)
{
	char tmp[64];

	switch (v->type) {
	case VIG_T_STR:
		return vig_buf_add_json_str(out, v->u.s, v->n);
	case VIG_T_INT:
		return vig_buf_printf(out, "%lld", (long long)v->u.i);
	case VIG_T_BOOL:
		return vig_buf_adds(out, v->u.i ? "true" : "false");
	case VIG_T_FLOAT:
		if (!isfinite(v->u.d))
			return vig_buf_adds(out, "null");
		return vig_buf_printf(out, "%.17g", v->u.d);
	case VIG_T_TS:
		vig_time_format(v->u.i, tmp);
		return vig_buf_add_json_str(out, tmp, strlen(tmp));
	case VIG_T_IP:
		vig_ip_format(v->u.ip, tmp);
		return vig_buf_add_json_str(out, tmp, strlen(tmp));
	case VIG_T_LIST:
		vig_buf_addc(out, '[');
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				vig_buf_addc(out, ',');
			vig_buf_add_json_str(out, v->u.l[i].p, v->u.l[i].len);
		}
		return vig_buf_addc(out, ']');
	default:
		return vig_buf_adds(out, "null");
	}
}

struct enc_item {
	const char *name;          /* dotted name */
	const struct vig_val *val; /* value */
};

/* Orders names so that the members of one object are contiguous: '.' below every byte. */
static int cmp_dotted(const void *pa, const void *pb)
{
	const unsigned char *a = (const unsigned char *)((const struct enc_item *)pa)->name;
	const unsigned char *b = (const unsigned char *)((const struct enc_item *)pb)->name;

	for (;; a++, b++) {
		unsigned ca = *a == '.' ? 1 : *a, cb = *b == '.' ? 1 : *b;
		if (ca != cb || !ca)
			return (int)ca - (int)cb;
	}
}

enum vig_err vig_event_to_json(const struct vig_event *ev, struct vig_buf *out)
{
	struct enc_item stack_items[VIG_F__COUNT + 32];
	struct enc_item *items = stack_items;
	size_t n = 0, cap = VIG_ARRAY_LEN(stack_items);
	/* Open objects: offsets and lengths of their names within the current item's name. */
	size_t open_len[16];
	int depth = 0;
	bool first[17];

	if (VIG_F__COUNT + ev->n_ext > cap) {
		cap = VIG_F__COUNT + ev->n_ext;
		items = malloc(cap * sizeof(*items));
		if (!items)
			return VIG_ENOMEM;
	}
	for (int f = 0; f < VIG_F__COUNT; f++)
		if (ev->f[f].type)
			items[n++] = (struct enc_item){vig_field_info((enum vig_field)f)->name, &ev->f[f]};
	for (uint32_t i = 0; i < ev->n_ext; i++)
		if (ev->ext[i].v.type)
			items[n++] = (struct enc_item){ev->ext[i].key, &ev->ext[i].v};
	qsort(items, n, sizeof(*items), cmp_dotted);

	const char *prev = "";
	vig_buf_addc(out, '{');
	first[0] = true;
	for (size_t i = 0; i < n; i++) {
		const char *name = items[i].name;
		/* Close objects that this name is not inside. */
		while (depth > 0 && !(strncmp(name, prev, open_len[depth - 1]) == 0 &&
				      name[open_len[depth - 1]] == '.')) {
			vig_buf_addc(out, '}');
			depth--;
		}
		/* Open the objects between the innermost open one and the leaf. */
		size_t start = depth ? open_len[depth - 1] + 1 : 0;
		const char *dot;
		while ((dot = strchr(name + start, '.')) != NULL && depth < 15) {
			if (!first[depth])
				vig_buf_addc(out, ',');
			first[depth] = false;
			vig_buf_add_json_str(out, name + start, (size_t)(dot - name - start));
			vig_buf_add(out, ":{", 2);
			open_len[depth++] = (size_t)(dot - name);
			first[depth] = true;
			start = (size_t)(dot - name) + 1;
		}
		if (!first[depth])
			vig_buf_addc(out, ',');
		first[depth] = false;
		vig_buf_add_json_str(out, name + start, strlen(name + start));
		vig_buf_addc(out, ':');
		vig_val_to_json(items[i].val, out);
		prev = name;
	}
	while (depth-- > 0)
		vig_buf_addc(out, '}');
	vig_buf_addc(out, '}');
	if (items != stack_items)
		free(items);
	return vig_buf_err(out);
}
