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

struct dec {
	struct vig_event *ev;                 /* target */
	const struct vig_json_limits *limits; /* bounds */
	char *errbuf;                         /* OUT: detail */
	char name[512];                       /* dotted name being decoded */
};

static enum vig_err dec_object(struct dec *d, json_t *obj, size_t name_len, int depth);

static enum vig_err dec_fail(struct dec *d, enum vig_err rc, const char *what)
{
	return vig_errf(d->errbuf, rc, "field %s: %s", d->name[0] ? d->name : "(top)", what);
}

/* Text of a scalar into tmp, or NULL if not a scalar. */
static const char *scalar_text(json_t *v, char *tmp, size_t cap, size_t *len)
{
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		*len = json_string_length(v);
		return json_string_value(v);
	case JSON_INTEGER:
		n = snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(tmp, cap, "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		n = snprintf(tmp, cap, "true");
		break;
	case JSON_FALSE:
		n = snprintf(tmp, cap, "false");
		break;
	default:
		return NULL;
	}
	*len = (size_t)n;
	return tmp;
}

static enum vig_err dec_core(struct dec *d, enum vig_field f, json_t *v)
{
	const struct vig_field_info *fi = vig_field_info(f);
	char tmp[64];
	const char *s;
	size_t len;
	enum vig_err rc;

	if (json_is_null(v))
		return VIG_OK;
	if (fi->type == VIG_T_LIST) {
		if (json_is_array(v)) {
			size_t i;
			json_t *item;
			json_array_foreach(v, i, item) {
				if (json_is_null(item))
					continue;
				s = scalar_text(item, tmp, sizeof(tmp), &len);
				if (!s)
					return dec_fail(d, VIG_EINVAL, "list items must be scalars");
				rc = vig_event_list_add(d->ev, f, s, len);
				if (rc != VIG_OK)
					return dec_fail(d, rc, vig_strerror(rc));
			}
			return VIG_OK;
		}
	}
	if (fi->type == VIG_T_TS && json_is_integer(v)) {
		int64_t ms = json_integer_value(v);
		if (ms > INT64_MAX / 1000000 || ms < INT64_MIN / 1000000)
			return dec_fail(d, VIG_EINVAL, "timestamp out of range");
		return vig_event_set_ts(d->ev, f, ms * 1000000);
	}
	if (fi->type == VIG_T_INT && json_is_real(v)) {
		double x = json_real_value(v);
		if (!(x >= -9.2e18 && x <= 9.2e18) || x != floor(x))
			return dec_fail(d, VIG_EINVAL, "expected an integer");
		return vig_event_set_int(d->ev, f, (int64_t)x);
	}
	s = scalar_text(v, tmp, sizeof(tmp), &len);
	if (!s)
		return dec_fail(d, VIG_EINVAL, fi->type == VIG_T_LIST ? "expected an array or a scalar"
								      : "expected a scalar");
	if ((fi->type == VIG_T_TS || fi->type == VIG_T_IP) && !json_is_string(v))
		return dec_fail(d, VIG_EINVAL, "expected a string");
	rc = vig_event_set_text(d->ev, f, s, len);
	if (rc == VIG_EINVAL) {
		char msg[64];
		snprintf(msg, sizeof(msg), "not a valid %s", vig_type_name(fi->type));
		return dec_fail(d, rc, msg);
	}
	if (rc != VIG_OK)
		return dec_fail(d, rc, vig_strerror(rc));
	return VIG_OK;
}

static enum vig_err dec_ext(struct dec *d, json_t *v)
{
	enum vig_err rc;

	switch (json_typeof(v)) {
	case JSON_NULL:
		return VIG_OK;
	case JSON_STRING:
		rc = vig_event_ext_str(d->ev, d->name, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		rc = vig_event_ext_int(d->ev, d->name, json_integer_value(v));
		break;
	case JSON_REAL:
		rc = vig_event_ext_float(d->ev, d->name, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		rc = vig_event_ext_bool(d->ev, d->name, json_is_true(v));
		break;
	default: {
		char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!text)
			return dec_fail(d, VIG_ENOMEM, "out of memory");
		rc = vig_event_ext_str(d->ev, d->name, text, strlen(text));
		free(text);
		break;
	}
	}
	if (rc == VIG_EINVAL)
		return dec_fail(d, rc, "name clashes with another field");
	if (rc != VIG_OK)
		return dec_fail(d, rc, vig_strerror(rc));
	return VIG_OK;
}

static int json_depth(json_t *v, int limit)
{
	int max = 0;

	if (limit < 0)
		return 1;
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c) {
			int dd = json_depth(c, limit - 1);
			if (dd > max)
				max = dd;
			if (max > limit)
				break;
		}
		return max + 1;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c) {
			int dd = json_depth(c, limit - 1);
			if (dd > max)
				max = dd;
			if (max > limit)
				break;
		}
		return max + 1;
	}
	return 0;
}

static enum vig_err dec_member(struct dec *d, const char *key, json_t *v, size_t name_len, int depth)
{
	size_t klen = strlen(key), len = name_len;
	int f;

	if (klen == 0)
		return dec_fail(d, VIG_EINVAL, "empty key");
	if (len + klen + 2 > sizeof(d->name) || len + klen + 1 > VIG_EVENT_MAX_KEY)
		return dec_fail(d, VIG_ETOOBIG, "name too long");
	if (len)
		d->name[len++] = '.';
	memcpy(d->name + len, key, klen);
	len += klen;
	d->name[len] = '\0';
	if (json_is_object(v))
		return dec_object(d, v, len, depth + 1);
	f = vig_field_lookup(d->name, len);
	if (f >= 0)
		return dec_core(d, (enum vig_field)f, v);
	if (vig_field_is_object(d->name, len) && !json_is_null(v))
		return dec_fail(d, VIG_EINVAL, "expected an object");
	return dec_ext(d, v);
}

static enum vig_err dec_object(struct dec *d, json_t *obj, size_t name_len, int depth)
{
	const char *key;
	json_t *v;
	enum vig_err rc;

	json_object_foreach(obj, key, v) {
		rc = dec_member(d, key, v, name_len, depth);
		if (rc != VIG_OK)
			return rc;
		d->name[name_len] = '\0';
	}
	return VIG_OK;
}

static const struct vig_json_limits default_limits = {VIG_JSON_DEFAULT_MAX_BYTES,
						      VIG_JSON_DEFAULT_MAX_DEPTH};

enum vig_err vig_event_from_jansson(struct vig_event *ev, json_t *obj,
				    const struct vig_json_limits *limits, char *errbuf)
{
	struct dec d = {ev, limits ? limits : &default_limits, errbuf, {0}};

	if (!json_is_object(obj))
		return vig_errf(errbuf, VIG_EPARSE, "an event must be a JSON object");
	if (json_depth(obj, d.limits->max_depth) > d.limits->max_depth)
		return vig_errf(errbuf, VIG_ETOOBIG, "nesting deeper than %d", d.limits->max_depth);
	return dec_object(&d, obj, 0, 1);
}

enum vig_err vig_event_from_json(struct vig_event *ev, const char *s, size_t n,
				 const struct vig_json_limits *limits, char *errbuf)
{
	const struct vig_json_limits *lim = limits ? limits : &default_limits;
	json_error_t jerr;
	json_t *obj;
	enum vig_err rc;

	if (n > lim->max_bytes)
		return vig_errf(errbuf, VIG_ETOOBIG, "event of %zu bytes over the limit of %zu", n,
				lim->max_bytes);
	obj = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!obj)
		return vig_errf(errbuf, VIG_EPARSE, "invalid JSON at column %d: %s", jerr.column,
				jerr.text);
	rc = vig_event_from_jansson(ev, obj, lim, errbuf);
	json_decref(obj);
	return rc;
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
