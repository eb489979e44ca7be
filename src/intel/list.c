/*
 * list.c - indicator values and indicator lists: type names, value normalisation and type
 * guessing (shared by every parser and by the lookups), and struct vig_intel_list, the bounded
 * append-only list a parser fills for one feed, with its malformed-record accounting.
 *
 * A list keeps its strings in one arena (freed with the list) and its records in one array
 * grown by doubling; both stop at the list's indicator limit. Malformed records are grouped by
 * a short reason key; the first occurrence of each key keeps its full text (with line number
 * and value) as the example an operator sees in the feed's status.
 */
#include "intel.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/arena.h"

struct rec {
	uint8_t type;       /* enum vig_intel_type */
	int16_t confidence; /* -1 unknown */
	const char *value;  /* normalised, in the arena */
	uint32_t len;       /* bytes of value */
	const char *id;     /* or NULL */
	const char *threat; /* or NULL */
};

struct vig_intel_list {
	struct vig_arena arena;  /* strings */
	struct rec *recs;        /* indicators */
	size_t n, cap;           /* used / allocated entries of recs */
	size_t max;              /* limit of n */
	struct vig_intel_list_stats st; /* counters (indicators and by_type kept in step with n) */
};

static const char *const TYPE_NAMES[VIG_INTEL__COUNT] = {"ip", "domain", "url", "md5", "sha1",
							 "sha256"};

const char *vig_intel_type_name(enum vig_intel_type t)
{
	return (unsigned)t < VIG_INTEL__COUNT ? TYPE_NAMES[t] : "unknown";
}

bool vig_intel_type_parse(const char *s, enum vig_intel_type *out)
{
	static const struct {
		const char *name;
		enum vig_intel_type t;
	} alias[] = {{"ipv4-addr", VIG_INTEL_IP}, {"ipv6-addr", VIG_INTEL_IP},
		     {"domain-name", VIG_INTEL_DOMAIN}, {"hostname", VIG_INTEL_DOMAIN},
		     {"cidr", VIG_INTEL_IP}, {"sha-1", VIG_INTEL_SHA1}, {"sha-256", VIG_INTEL_SHA256}};

	for (unsigned i = 0; i < VIG_INTEL__COUNT; i++)
		if (strcasecmp(s, TYPE_NAMES[i]) == 0) {
			*out = (enum vig_intel_type)i;
			return true;
		}
	for (size_t i = 0; i < VIG_ARRAY_LEN(alias); i++)
		if (strcasecmp(s, alias[i].name) == 0) {
			*out = alias[i].t;
			return true;
		}
	return false;
}

/* ---- normalisation ---- */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool ip_is_v4(const uint8_t ip[16])
{
	static const uint8_t pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return memcmp(ip, pre, 12) == 0;
}

/* Clears the bits of ip after the first prefix bits. */
static void ip_mask(uint8_t ip[16], unsigned prefix)
{
	for (unsigned b = 0; b < 16; b++) {
		unsigned keep = prefix > b * 8 ? prefix - b * 8 : 0;

		if (keep >= 8)
			continue;
		ip[b] &= (uint8_t)(0xff00u >> keep);
	}
}

static bool norm_ip(const char *v, size_t n, char *out, uint8_t ip[16], unsigned *prefix,
		    char *why)
{
	const char *slash = memchr(v, '/', n);
	size_t alen = slash ? (size_t)(slash - v) : n;
	uint8_t b[16];
	uint64_t p = 0;
	unsigned max, pl;
	char txt[64];

	if (!vig_ip_parse(v, alen, b)) {
		snprintf(why, 96, "not an IP address");
		return false;
	}
	max = ip_is_v4(b) ? 32 : 128;
	if (slash && (!vig_parse_u64(slash + 1, n - alen - 1, &p) || p > max)) {
		snprintf(why, 96, "bad CIDR prefix length");
		return false;
	}
	pl = slash ? (unsigned)p : max;
	if (max == 32)
		pl += 96;
	ip_mask(b, pl);
	vig_ip_format(b, txt);
	if (pl == 128)
		snprintf(out, VIG_INTEL_VALUE_MAX, "%s", txt);
	else
		snprintf(out, VIG_INTEL_VALUE_MAX, "%s/%u", txt, max == 32 ? pl - 96 : pl);
	if (ip)
		memcpy(ip, b, 16);
	if (prefix)
		*prefix = pl;
	return true;
}

static bool norm_domain(const char *v, size_t n, char *out, char *why)
{
	size_t label = 0;

	while (n > 0 && v[n - 1] == '.')
		n--;
	if (n == 0 || n > 253) {
		snprintf(why, 96, "domain empty or longer than 253 bytes");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '.') {
			if (label == 0) {
				snprintf(why, 96, "empty domain label");
				return false;
			}
			label = 0;
		} else if (isalnum(c) || c == '-' || c == '_' || c >= 0x80) {
			if (++label > 63) {
				snprintf(why, 96, "domain label longer than 63 bytes");
				return false;
			}
		} else {
			snprintf(why, 96, "character not allowed in a domain");
			return false;
		}
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return true;
}

static bool norm_url(const char *v, size_t n, char *out, char *why)
{
	const char *sep = n >= 3 ? memmem(v, n, "://", 3) : NULL;
	size_t i, host_end, o = 0;

	if (!sep || sep == v) {
		snprintf(why, 96, "url without scheme://");
		return false;
	}
	for (const char *p = v; p < sep; p++)
		if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') {
			snprintf(why, 96, "bad url scheme");
			return false;
		}
	i = (size_t)(sep - v) + 3;
	host_end = i;
	while (host_end < n && v[host_end] != '/' && v[host_end] != '?' && v[host_end] != '#')
		host_end++;
	if (host_end == i) {
		snprintf(why, 96, "url without host");
		return false;
	}
	if (n >= VIG_INTEL_VALUE_MAX) {
		snprintf(why, 96, "url longer than %d bytes", VIG_INTEL_VALUE_MAX - 1);
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)v[k];

		if (c <= 0x20 || c == 0x7f) {
			snprintf(why, 96, "control character or space in url");
			return false;
		}
		if (c == '#' && k >= host_end)
			break; /* the fragment never reaches a server */
		out[o++] = (char)(k < host_end ? tolower(c) : c);
	}
	out[o] = '\0';
	return true;
}

bool vig_intel_normalize(enum vig_intel_type t, const char *value, size_t len, char *out,
			 uint8_t ip[16], unsigned *prefix, char *why)
{
	static const size_t hash_len[VIG_INTEL__COUNT] = {0, 0, 0, 32, 40, 64};
	char scratch[96];

	if (!why)
		why = scratch;
	while (len > 0 && isspace((unsigned char)*value)) {
		value++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)value[len - 1]))
		len--;
	if (len == 0) {
		snprintf(why, 96, "empty value");
		return false;
	}
	if (len >= VIG_INTEL_VALUE_MAX) {
		snprintf(why, 96, "value longer than %d bytes", VIG_INTEL_VALUE_MAX - 1);
		return false;
	}
	switch (t) {
	case VIG_INTEL_IP:
		return norm_ip(value, len, out, ip, prefix, why);
	case VIG_INTEL_DOMAIN:
		return norm_domain(value, len, out, why);
	case VIG_INTEL_URL:
		return norm_url(value, len, out, why);
	case VIG_INTEL_MD5:
	case VIG_INTEL_SHA1:
	case VIG_INTEL_SHA256:
		if (len != hash_len[t] || !is_hex(value, len)) {
			snprintf(why, 96, "not %zu hex digits", hash_len[t]);
			return false;
		}
		for (size_t i = 0; i < len; i++)
			out[i] = (char)tolower((unsigned char)value[i]);
		out[len] = '\0';
		return true;
	default:
		snprintf(why, 96, "unknown indicator type");
		return false;
	}
}

bool vig_intel_guess_type(const char *v, size_t n, enum vig_intel_type *out)
{
	char tmp[VIG_INTEL_VALUE_MAX];
	bool digits_dots = true, dot = false;

	while (n > 0 && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n == 0 || n >= VIG_INTEL_VALUE_MAX)
		return false;
	if (vig_intel_normalize(VIG_INTEL_IP, v, n, tmp, NULL, NULL, NULL)) {
		*out = VIG_INTEL_IP;
		return true;
	}
	if (is_hex(v, n) && (n == 32 || n == 40 || n == 64)) {
		*out = n == 32 ? VIG_INTEL_MD5 : n == 40 ? VIG_INTEL_SHA1 : VIG_INTEL_SHA256;
		return true;
	}
	if (memmem(v, n, "://", 3)) {
		*out = VIG_INTEL_URL;
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '.')
			dot = true;
		else if (!isdigit((unsigned char)v[i]))
			digits_dots = false;
	}
	if (dot && !digits_dots && vig_intel_normalize(VIG_INTEL_DOMAIN, v, n, tmp, NULL, NULL, NULL)) {
		*out = VIG_INTEL_DOMAIN;
		return true;
	}
	return false;
}

/* ---- lists ---- */

struct vig_intel_list *vig_intel_list_new(size_t max_indicators)
{
	struct vig_intel_list *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	vig_arena_init(&l->arena, 256 * 1024, 0);
	l->max = max_indicators ? VIG_MIN(max_indicators, (size_t)VIG_INTEL_MAX_INDICATORS)
				: VIG_INTEL_MAX_INDICATORS;
	return l;
}

void vig_intel_list_free(struct vig_intel_list *l)
{
	if (!l)
		return;
	vig_arena_release(&l->arena);
	free(l->recs);
	free(l);
}

static struct vig_intel_reason *reason_slot(struct vig_intel_list *l, const char *key)
{
	for (size_t i = 0; i < l->st.n_reasons; i++)
		if (strcmp(l->st.reasons[i].key, key) == 0)
			return &l->st.reasons[i];
	if (l->st.n_reasons == VIG_INTEL_MAX_REASONS)
		return NULL;
	return &l->st.reasons[l->st.n_reasons++];
}

void vig_intel_list_malformed(struct vig_intel_list *l, uint64_t line, const char *key,
			      const char *fmt, ...)
{
	struct vig_intel_reason *r = reason_slot(l, key);
	char msg[VIG_INTEL_REASON_MAX];
	va_list ap;

	l->st.malformed++;
	if (!r)
		return;
	if (r->count++ > 0)
		return;
	snprintf(r->key, sizeof(r->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(r->text, sizeof(r->text), "line %llu: %.130s", (unsigned long long)line, msg);
	else
		snprintf(r->text, sizeof(r->text), "%s", msg);
}

void vig_intel_list_count_line(struct vig_intel_list *l)
{
	l->st.lines++;
}

void vig_intel_list_skip(struct vig_intel_list *l)
{
	l->st.skipped++;
}

/* Copies at most 40 bytes of a value, replacing what would confuse a log line. */
static void value_excerpt(const char *v, size_t n, char out[48])
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < 40; i++)
		out[o++] = ((unsigned char)v[i] < 0x20 || v[i] == '"' || v[i] == 0x7f) ? '?' : v[i];
	if (n > 40)
		out[o++] = '.', out[o++] = '.';
	out[o] = '\0';
}

static const char *arena_dup(struct vig_arena *a, const char *s)
{
	return s ? vig_arena_strndup(a, s, strnlen(s, VIG_INTEL_VALUE_MAX - 1)) : NULL;
}

enum vig_err vig_intel_list_add(struct vig_intel_list *l, const struct vig_intel_ind *ind,
				uint64_t line)
{
	char norm[VIG_INTEL_VALUE_MAX], why[96], ex[48];
	struct rec *r;
	size_t n;

	if (!vig_intel_normalize(ind->type, ind->value, ind->len, norm, NULL, NULL, why)) {
		value_excerpt(ind->value, ind->len, ex);
		vig_intel_list_malformed(l, line, why, "%s %s: \"%s\"", vig_intel_type_name(ind->type),
					 why, ex);
		return VIG_EINVAL;
	}
	if (l->n >= l->max) {
		l->st.dropped++;
		return VIG_ETOOBIG;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		void *p = realloc(l->recs, cap * sizeof(*l->recs));

		if (!p)
			return VIG_ENOMEM;
		l->recs = p;
		l->cap = cap;
	}
	n = strlen(norm);
	r = &l->recs[l->n];
	r->type = (uint8_t)ind->type;
	r->confidence = (int16_t)(ind->confidence < 0 ? -1 : VIG_MIN(ind->confidence, 100));
	r->len = (uint32_t)n;
	r->value = vig_arena_strndup(&l->arena, norm, n);
	r->id = ind->id && *ind->id ? arena_dup(&l->arena, ind->id) : NULL;
	r->threat = ind->threat && *ind->threat ? arena_dup(&l->arena, ind->threat) : NULL;
	if (!r->value || (ind->id && *ind->id && !r->id) ||
	    (ind->threat && *ind->threat && !r->threat)) {
		l->st.dropped++;
		return VIG_ETOOBIG; /* the arena's 1 GiB limit */
	}
	l->n++;
	l->st.indicators++;
	l->st.by_type[ind->type]++;
	return VIG_OK;
}

void vig_intel_list_stats(const struct vig_intel_list *l, struct vig_intel_list_stats *out)
{
	*out = l->st;
}

size_t vig_intel_list_len(const struct vig_intel_list *l)
{
	return l->n;
}

void vig_intel_list_get(const struct vig_intel_list *l, size_t i, struct vig_intel_ind *out)
{
	const struct rec *r = &l->recs[i];

	out->type = (enum vig_intel_type)r->type;
	out->value = r->value;
	out->len = r->len;
	out->id = r->id;
	out->threat = r->threat;
	out->confidence = r->confidence;
}

enum vig_err vig_intel_list_merge(struct vig_intel_list *dst, const struct vig_intel_list *src)
{
	struct vig_intel_ind ind;
	enum vig_err err;

	for (size_t i = 0; i < src->n; i++) {
		vig_intel_list_get(src, i, &ind);
		err = vig_intel_list_add(dst, &ind, 0);
		if (err == VIG_ETOOBIG || err == VIG_ENOMEM)
			return err;
	}
	dst->st.lines += src->st.lines;
	dst->st.skipped += src->st.skipped;
	dst->st.malformed += src->st.malformed;
	for (size_t i = 0; i < src->st.n_reasons; i++) {
		const struct vig_intel_reason *r = &src->st.reasons[i];
		struct vig_intel_reason *d = reason_slot(dst, r->key);

		if (!d)
			continue;
		if (d->count == 0) {
			*d = *r;
		} else {
			d->count += r->count;
		}
	}
	return VIG_OK;
}
