/*
 * event.c - the event model: field registry, typed setters, extension fields, value text.
 */
#include "event.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/vtime.h"

#define STR VIG_T_STR
#define INT VIG_T_INT
#define TS VIG_T_TS
#define IP VIG_T_IP
#define LIST VIG_T_LIST
#define IDX VIG_FF_IDX
#define KW VIG_FF_KW

static const struct vig_field_info field_info[VIG_F__COUNT] = {
#define VIG_FIELD(id, name, type, flags) [VIG_F_##id] = {name, NULL, type, flags},
#include "fields.def"
#undef VIG_FIELD
};

#undef STR
#undef INT
#undef TS
#undef IP
#undef LIST
#undef IDX
#undef KW

static struct {
	pthread_once_t once;
	uint16_t by_name[VIG_F__COUNT];        /* field ids sorted by name */
	char columns[VIG_F__COUNT][48];        /* column names, dots as '_' */
	struct vig_field_info info[VIG_F__COUNT]; /* field_info with columns filled in */
	char prefixes[4 * VIG_F__COUNT][48];   /* object names ("process.parent"), sorted */
	size_t n_prefixes;                     /* used entries of prefixes */
} reg0 = {PTHREAD_ONCE_INIT, {0}, {{0}}, {{0}}, {{0}}, 0};

static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* Records every dotted prefix of every core name: these are objects in JSON, and no
 * extension key may be one of them. */
static void registry_add_prefixes(void)
{
	for (int i = 0; i < VIG_F__COUNT; i++) {
		const char *n = field_info[i].name;
		for (const char *d = strchr(n, '.'); d; d = strchr(d + 1, '.')) {
			size_t len = (size_t)(d - n);
			if (len >= sizeof(reg0.prefixes[0]))
				continue;
			bool seen = false;
			for (size_t k = 0; k < reg0.n_prefixes && !seen; k++)
				seen = strncmp(reg0.prefixes[k], n, len) == 0 && reg0.prefixes[k][len] == 0;
			if (!seen) {
				memcpy(reg0.prefixes[reg0.n_prefixes], n, len);
				reg0.prefixes[reg0.n_prefixes++][len] = '\0';
			}
		}
	}
	qsort(reg0.prefixes, reg0.n_prefixes, sizeof(reg0.prefixes[0]), cmp_str);
}

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(field_info[*(const uint16_t *)a].name, field_info[*(const uint16_t *)b].name);
}

static void registry_init(void)
{
	for (int i = 0; i < VIG_F__COUNT; i++) {
		const char *n = field_info[i].name;
		char *c = reg0.columns[i];
		size_t j = 0;
		if (*n == '@')
			n++;
		for (; *n && j < sizeof(reg0.columns[i]) - 1; n++)
			c[j++] = *n == '.' ? '_' : *n;
		c[j] = '\0';
		if (strcmp(c, "timestamp") == 0)
			strcpy(c, "ts");
		reg0.info[i] = field_info[i];
		reg0.info[i].column = c;
		reg0.by_name[i] = (uint16_t)i;
	}
	qsort(reg0.by_name, VIG_F__COUNT, sizeof(uint16_t), cmp_by_name);
	registry_add_prefixes();
}

bool vig_field_is_object(const char *name, size_t len)
{
	char key[48];

	pthread_once(&reg0.once, registry_init);
	if (len >= sizeof(key))
		return false;
	memcpy(key, name, len);
	key[len] = '\0';
	return bsearch(key, reg0.prefixes, reg0.n_prefixes, sizeof(reg0.prefixes[0]), cmp_str) != NULL;
}

/* True when key cannot live beside the core fields and ev's other extension keys in one
 * JSON object: it names a core object, extends a core leaf, or is a prefix or extension of
 * another extension key ("a" and "a.b"). */
static bool ext_key_conflicts(const struct vig_event *ev, const char *key, size_t len)
{
	if (vig_field_is_object(key, len))
		return true;
	for (const char *d = memchr(key, '.', len); d; d = memchr(d + 1, '.', len - (size_t)(d + 1 - key)))
		if (vig_field_lookup(key, (size_t)(d - key)) >= 0)
			return true;
	for (uint32_t i = 0; i < ev->n_ext; i++) {
		const char *o = ev->ext[i].key;
		size_t olen = strlen(o);
		if (olen < len && strncmp(o, key, olen) == 0 && key[olen] == '.')
			return true;
		if (len < olen && strncmp(o, key, len) == 0 && o[len] == '.')
			return true;
	}
	return false;
}

const struct vig_field_info *vig_field_info(enum vig_field f)
{
	pthread_once(&reg0.once, registry_init);
	if ((unsigned)f >= VIG_F__COUNT)
		return NULL;
	return &reg0.info[f];
}

int vig_field_lookup(const char *name, size_t len)
{
	size_t lo = 0, hi = VIG_F__COUNT;

	pthread_once(&reg0.once, registry_init);
	if (len == 9 && memcmp(name, "timestamp", 9) == 0)
		return VIG_F_TIMESTAMP;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *n = field_info[reg0.by_name[mid]].name;
		size_t nl = strlen(n);
		/* memcmp, not strncmp: name may hold a NUL and is not NUL-terminated. */
		int c = memcmp(n, name, VIG_MIN(nl, len));
		if (c == 0)
			c = nl < len ? -1 : nl > len ? 1 : 0;
		if (c == 0)
			return reg0.by_name[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const char *vig_type_name(enum vig_type t)
{
	switch (t) {
	case VIG_T_STR: return "keyword";
	case VIG_T_INT: return "long";
	case VIG_T_TS: return "date";
	case VIG_T_IP: return "ip";
	case VIG_T_LIST: return "keyword[]";
	case VIG_T_FLOAT: return "double";
	case VIG_T_BOOL: return "boolean";
	default: return "none";
	}
}

void vig_event_init(struct vig_event *ev, struct vig_arena *arena)
{
	memset(ev->f, 0, sizeof(ev->f));
	ev->ext = NULL;
	ev->n_ext = 0;
	ev->cap_ext = 0;
	ev->arena = arena;
}

void vig_event_clear(struct vig_event *ev)
{
	vig_event_init(ev, ev->arena);
}

static enum vig_err set_str_val(struct vig_event *ev, struct vig_val *v, const char *s, size_t n)
{
	char *p;

	if (n > VIG_EVENT_MAX_STR)
		return VIG_ETOOBIG;
	p = vig_arena_strndup(ev->arena, s, n);
	if (!p)
		return VIG_ETOOBIG;
	v->type = VIG_T_STR;
	v->n = (uint32_t)n;
	v->u.s = p;
	return VIG_OK;
}

enum vig_err vig_event_set_str(struct vig_event *ev, enum vig_field f, const char *s, size_t n)
{
	if ((unsigned)f >= VIG_F__COUNT || field_info[f].type != VIG_T_STR)
		return VIG_EINVAL;
	return set_str_val(ev, &ev->f[f], s, n);
}

enum vig_err vig_event_set_cstr(struct vig_event *ev, enum vig_field f, const char *s)
{
	return vig_event_set_str(ev, f, s, strlen(s));
}

enum vig_err vig_event_set_int(struct vig_event *ev, enum vig_field f, int64_t v)
{
	if ((unsigned)f >= VIG_F__COUNT || field_info[f].type != VIG_T_INT)
		return VIG_EINVAL;
	ev->f[f].type = VIG_T_INT;
	ev->f[f].u.i = v;
	return VIG_OK;
}

enum vig_err vig_event_set_ts(struct vig_event *ev, enum vig_field f, int64_t ns)
{
	if ((unsigned)f >= VIG_F__COUNT || field_info[f].type != VIG_T_TS)
		return VIG_EINVAL;
	ev->f[f].type = VIG_T_TS;
	ev->f[f].u.i = ns;
	return VIG_OK;
}

bool vig_ip_parse(const char *s, size_t n, uint8_t out[16])
{
	char tmp[64];
	struct in_addr a4;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (tmp[0] == '[' && tmp[n - 1] == ']') {
		memmove(tmp, tmp + 1, n - 2);
		tmp[n - 2] = '\0';
	}
	char *zone = strchr(tmp, '%');
	if (zone)
		*zone = '\0';
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		return true;
	}
	return inet_pton(AF_INET6, tmp, out) == 1;
}

void vig_ip_format(const uint8_t ip[16], char *out)
{
	static const uint8_t v4prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (memcmp(ip, v4prefix, 12) == 0)
		inet_ntop(AF_INET, ip + 12, out, 46);
	else
		inet_ntop(AF_INET6, ip, out, 46);
}

bool vig_cidr_parse(const char *s, size_t n, uint8_t lo[16], uint8_t hi[16])
{
	const char *slash = memchr(s, '/', n);
	uint64_t prefix;
	unsigned bits;

	if (!slash) {
		if (!vig_ip_parse(s, n, lo))
			return false;
		memcpy(hi, lo, 16);
		return true;
	}
	if (!vig_ip_parse(s, (size_t)(slash - s), lo))
		return false;
	if (!vig_parse_u64(slash + 1, n - (size_t)(slash - s) - 1, &prefix))
		return false;
	bool v4 = lo[10] == 0xff && lo[11] == 0xff && !memcmp(lo, "\0\0\0\0\0\0\0\0\0\0", 10) &&
		  memchr(s, ':', (size_t)(slash - s)) == NULL;
	if (prefix > (v4 ? 32u : 128u))
		return false;
	bits = (unsigned)prefix + (v4 ? 96 : 0);
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits >= (i + 1) * 8 ? 8 : bits > i * 8 ? bits - i * 8 : 0;
		uint8_t mask = keep ? (uint8_t)(0xff << (8 - keep)) : 0;
		lo[i] &= mask;
		hi[i] = lo[i] | (uint8_t)~mask;
	}
	return true;
}

enum vig_err vig_event_set_ip16(struct vig_event *ev, enum vig_field f, const uint8_t ip[16])
{
	if ((unsigned)f >= VIG_F__COUNT || field_info[f].type != VIG_T_IP)
		return VIG_EINVAL;
	ev->f[f].type = VIG_T_IP;
	memcpy(ev->f[f].u.ip, ip, 16);
	return VIG_OK;
}

enum vig_err vig_event_set_ip(struct vig_event *ev, enum vig_field f, const char *s, size_t n)
{
	uint8_t ip[16];

	if (!vig_ip_parse(s, n, ip))
		return VIG_EINVAL;
	return vig_event_set_ip16(ev, f, ip);
}

enum vig_err vig_event_list_add(struct vig_event *ev, enum vig_field f, const char *s, size_t n)
{
	struct vig_val *v;
	struct vig_str *items;
	char *p;

	if ((unsigned)f >= VIG_F__COUNT || field_info[f].type != VIG_T_LIST)
		return VIG_EINVAL;
	if (n > VIG_EVENT_MAX_STR)
		return VIG_ETOOBIG;
	v = &ev->f[f];
	if (v->type != VIG_T_LIST) {
		v->type = VIG_T_LIST;
		v->n = 0;
		v->u.l = NULL;
	}
	if (v->n >= VIG_EVENT_MAX_LIST)
		return VIG_ETOOBIG;
	/* Lists grow by doubling: capacity is the next power of two >= n. */
	if ((v->n & (v->n - 1)) == 0) {
		uint32_t cap = v->n ? v->n * 2 : 4;
		if (v->n == 0 || v->n >= 4) {
			items = vig_arena_alloc(ev->arena, cap * sizeof(*items));
			if (!items)
				return VIG_ETOOBIG;
			if (v->n)
				memcpy(items, v->u.l, v->n * sizeof(*items));
			v->u.l = items;
		}
	}
	p = vig_arena_strndup(ev->arena, s, n);
	if (!p)
		return VIG_ETOOBIG;
	items = (struct vig_str *)v->u.l;
	items[v->n].p = p;
	items[v->n].len = (uint32_t)n;
	v->n++;
	return VIG_OK;
}

enum vig_err vig_event_set_text(struct vig_event *ev, enum vig_field f, const char *s, size_t n)
{
	int64_t i;

	if ((unsigned)f >= VIG_F__COUNT)
		return VIG_EINVAL;
	switch (field_info[f].type) {
	case VIG_T_STR:
		return vig_event_set_str(ev, f, s, n);
	case VIG_T_INT:
		if (!vig_parse_i64(s, n, &i))
			return VIG_EINVAL;
		return vig_event_set_int(ev, f, i);
	case VIG_T_TS:
		if (!vig_time_parse(s, n, &i))
			return VIG_EINVAL;
		return vig_event_set_ts(ev, f, i);
	case VIG_T_IP:
		return vig_event_set_ip(ev, f, s, n);
	case VIG_T_LIST:
		return vig_event_list_add(ev, f, s, n);
	default:
		return VIG_EINVAL;
	}
}

void vig_event_unset(struct vig_event *ev, enum vig_field f)
{
	if ((unsigned)f < VIG_F__COUNT)
		memset(&ev->f[f], 0, sizeof(ev->f[f]));
}

const struct vig_val *vig_event_ext_get(const struct vig_event *ev, const char *key, size_t len)
{
	for (uint32_t i = 0; i < ev->n_ext; i++)
		if (strncmp(ev->ext[i].key, key, len) == 0 && ev->ext[i].key[len] == '\0')
			return &ev->ext[i].v;
	return NULL;
}

/* Slot for key: the existing entry or a new one; NULL on limits. */
static struct vig_val *ext_append(struct vig_event *ev, const char *key, bool copy,
				  enum vig_err *rc);

static struct vig_val *ext_slot(struct vig_event *ev, const char *key, enum vig_err *rc)
{
	size_t len = strlen(key);

	if (len == 0 || len > VIG_EVENT_MAX_KEY) {
		*rc = VIG_EINVAL;
		return NULL;
	}
	/* An empty dotted segment ("a..b", ".a", "a.") would be an empty key in nested JSON. */
	if (vig_field_lookup(key, len) >= 0 || key[0] == '.' || key[len - 1] == '.' ||
	    memmem(key, len, "..", 2)) {
		*rc = VIG_EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < ev->n_ext; i++)
		if (strcmp(ev->ext[i].key, key) == 0)
			return &ev->ext[i].v;
	if (ext_key_conflicts(ev, key, len)) {
		*rc = VIG_EINVAL;
		return NULL;
	}
	return ext_append(ev, key, true, rc);
}

/* Appends an entry for key (copied into the arena when copy) with no value; NULL with *rc at
 * the limits. */
static struct vig_val *ext_append(struct vig_event *ev, const char *key, bool copy, enum vig_err *rc)
{
	if (ev->n_ext >= VIG_EVENT_MAX_EXT) {
		*rc = VIG_ETOOBIG;
		return NULL;
	}
	if (ev->n_ext == ev->cap_ext) {
		uint32_t cap = ev->cap_ext ? ev->cap_ext * 2 : 8;
		struct vig_ext *e = vig_arena_alloc(ev->arena, cap * sizeof(*e));
		if (!e) {
			*rc = VIG_ETOOBIG;
			return NULL;
		}
		if (ev->n_ext)
			memcpy(e, ev->ext, ev->n_ext * sizeof(*e));
		ev->ext = e;
		ev->cap_ext = cap;
	}
	struct vig_ext *e = &ev->ext[ev->n_ext];
	e->key = copy ? vig_arena_strndup(ev->arena, key, strlen(key)) : key;
	e->static_key = false;
	if (!e->key) {
		*rc = VIG_ETOOBIG;
		return NULL;
	}
	memset(&e->v, 0, sizeof(e->v));
	ev->n_ext++;
	return &e->v;
}

struct vig_val *vig_event_ext_slot_static(struct vig_event *ev, const char *key)
{
	enum vig_err rc = VIG_OK;

	struct vig_val *v;

	/* Static keys are unique pointers: only keys set through the general setters need a
	 * string comparison. */
	for (uint32_t i = 0; i < ev->n_ext; i++)
		if (ev->ext[i].static_key ? ev->ext[i].key == key : strcmp(ev->ext[i].key, key) == 0)
			return &ev->ext[i].v;
	v = ext_append(ev, key, false, &rc);
	if (v)
		ev->ext[ev->n_ext - 1].static_key = true;
	return v;
}

enum vig_err vig_event_ext_str(struct vig_event *ev, const char *key, const char *s, size_t n)
{
	enum vig_err rc = VIG_OK;
	struct vig_val *v = ext_slot(ev, key, &rc);

	return v ? set_str_val(ev, v, s, n) : rc;
}

enum vig_err vig_event_ext_int(struct vig_event *ev, const char *key, int64_t i)
{
	enum vig_err rc = VIG_OK;
	struct vig_val *v = ext_slot(ev, key, &rc);

	if (!v)
		return rc;
	v->type = VIG_T_INT;
	v->u.i = i;
	return VIG_OK;
}

enum vig_err vig_event_ext_float(struct vig_event *ev, const char *key, double d)
{
	enum vig_err rc = VIG_OK;
	struct vig_val *v = ext_slot(ev, key, &rc);

	if (!v)
		return rc;
	v->type = VIG_T_FLOAT;
	v->u.d = d;
	return VIG_OK;
}

enum vig_err vig_event_ext_bool(struct vig_event *ev, const char *key, bool b)
{
	enum vig_err rc = VIG_OK;
	struct vig_val *v = ext_slot(ev, key, &rc);

	if (!v)
		return rc;
	v->type = VIG_T_BOOL;
	v->u.i = b;
	return VIG_OK;
}

enum vig_err vig_event_set_by_name(struct vig_event *ev, const char *name, size_t name_len,
				   const char *s, size_t n)
{
	int f = vig_field_lookup(name, name_len);
	char key[VIG_EVENT_MAX_KEY + 1];

	if (f >= 0)
		return vig_event_set_text(ev, (enum vig_field)f, s, n);
	if (name_len == 0 || name_len > VIG_EVENT_MAX_KEY)
		return VIG_EINVAL;
	memcpy(key, name, name_len);
	key[name_len] = '\0';
	return vig_event_ext_str(ev, key, s, n);
}

const struct vig_val *vig_event_get_by_name(const struct vig_event *ev, const char *name, size_t len)
{
	int f = vig_field_lookup(name, len);

	if (f >= 0)
		return vig_event_get(ev, (enum vig_field)f);
	return vig_event_ext_get(ev, name, len);
}

size_t vig_val_text(const struct vig_val *v, char *out, size_t cap, const char **direct)
{
	char tmp[64];
	int n = 0;

	if (direct)
		*direct = NULL;
	switch (v->type) {
	case VIG_T_STR:
		if (direct) {
			*direct = v->u.s;
			return v->n;
		}
		n = snprintf(out, cap, "%s", v->u.s);
		return (size_t)n;
	case VIG_T_INT:
		n = snprintf(out, cap, "%lld", (long long)v->u.i);
		return (size_t)n;
	case VIG_T_BOOL:
		n = snprintf(out, cap, "%s", v->u.i ? "true" : "false");
		return (size_t)n;
	case VIG_T_FLOAT:
		n = snprintf(out, cap, "%.17g", v->u.d);
		return (size_t)n;
	case VIG_T_TS:
		vig_time_format(v->u.i, tmp);
		n = snprintf(out, cap, "%s", tmp);
		return (size_t)n;
	case VIG_T_IP:
		vig_ip_format(v->u.ip, tmp);
		n = snprintf(out, cap, "%s", tmp);
		return (size_t)n;
	case VIG_T_LIST: {
		size_t total = 0;
		for (uint32_t i = 0; i < v->n; i++) {
			size_t room = total < cap ? cap - total : 0;
			int k = snprintf(room ? out + total : NULL, room, "%s%s", i ? " " : "",
					 v->u.l[i].p);
			total += (size_t)k;
		}
		if (v->n == 0 && cap)
			out[0] = '\0';
		return total;
	}
	default:
		if (cap)
			out[0] = '\0';
		return 0;
	}
}

void vig_entity_id(const char *host_id, int64_t pid, int64_t start_ns, char out[33])
{
	char buf[256];
	uint8_t h[32];
	int n = snprintf(buf, sizeof(buf), "%s|%lld|%lld", host_id ? host_id : "",
			 (long long)pid, (long long)start_ns);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	vig_sha256(buf, (size_t)n, h);
	vig_hex(h, 16, out);
}
