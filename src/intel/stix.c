/*
 * stix.c - STIX 2.1 indicators: the `indicator` objects of a bundle (or of a TAXII envelope)
 * whose pattern Vigil can match in constant time.
 *
 * Accepted patterns are observation expressions made of equality comparisons on one atomic
 * value, joined by OR inside or between brackets:
 *     [ipv4-addr:value = '198.51.100.7']
 *     [domain-name:value = 'evil.example' OR domain-name:value = 'evil2.example']
 *     [url:value = 'http://x/y'] OR [file:hashes.'SHA-256' = 'ab...']
 * Object paths: ipv4-addr:value and ipv6-addr:value (addresses or CIDR blocks),
 * domain-name:value, url:value, file:hashes.MD5 / 'SHA-1' / 'SHA-256' (quoted or not, any
 * case). Anything else (AND, FOLLOWEDBY, other operators, qualifiers, other paths) is refused
 * whole as "unsupported pattern": matching half of a conjunction would raise false alerts.
 *
 * Skipped (counted): revoked indicators, indicators whose valid_until is in the past, and
 * pattern types other than stix.
 */
#include "intel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/vtime.h"

#define MAX_TERMS 64

struct term {
	enum vig_intel_type type;
	char value[VIG_INTEL_VALUE_MAX];
	size_t len;
};

struct lexer {
	const char *p, *end;
};

static void skip_ws(struct lexer *x)
{
	while (x->p < x->end && isspace((unsigned char)*x->p))
		x->p++;
}

static bool eat(struct lexer *x, const char *tok)
{
	size_t n = strlen(tok);

	skip_ws(x);
	if ((size_t)(x->end - x->p) < n || strncmp(x->p, tok, n) != 0)
		return false;
	x->p += n;
	return true;
}

/* A keyword (OR) followed by a non-identifier character. */
static bool eat_word(struct lexer *x, const char *w)
{
	size_t n = strlen(w);

	skip_ws(x);
	if ((size_t)(x->end - x->p) < n || strncasecmp(x->p, w, n) != 0)
		return false;
	if (x->p + n < x->end && (isalnum((unsigned char)x->p[n]) || x->p[n] == '_'))
		return false;
	x->p += n;
	return true;
}

/* A quoted string literal ('...' with \' and \\ escapes) into out. */
static bool literal(struct lexer *x, char *out, size_t cap, size_t *n)
{
	size_t o = 0;

	skip_ws(x);
	if (x->p >= x->end || *x->p != '\'')
		return false;
	x->p++;
	while (x->p < x->end && *x->p != '\'') {
		char c = *x->p++;

		if (c == '\\') {
			if (x->p >= x->end)
				return false;
			c = *x->p++;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	if (x->p >= x->end)
		return false;
	x->p++;
	out[o] = '\0';
	*n = o;
	return true;
}

/* The object path of one comparison, mapped to a type. */
static bool object_path(struct lexer *x, enum vig_intel_type *t)
{
	static const struct {
		const char *path;
		enum vig_intel_type t;
	} simple[] = {{"ipv4-addr:value", VIG_INTEL_IP}, {"ipv6-addr:value", VIG_INTEL_IP},
		      {"domain-name:value", VIG_INTEL_DOMAIN}, {"url:value", VIG_INTEL_URL}};
	static const struct {
		const char *alg;
		enum vig_intel_type t;
	} hashes[] = {{"MD5", VIG_INTEL_MD5}, {"SHA-1", VIG_INTEL_SHA1}, {"SHA1", VIG_INTEL_SHA1},
		      {"SHA-256", VIG_INTEL_SHA256}, {"SHA256", VIG_INTEL_SHA256}};
	char alg[16];
	size_t n = 0;

	skip_ws(x);
	for (size_t i = 0; i < VIG_ARRAY_LEN(simple); i++)
		if (eat(x, simple[i].path)) {
			*t = simple[i].t;
			return true;
		}
	if (!eat(x, "file:hashes."))
		return false;
	if (x->p < x->end && *x->p == '\'') {
		if (!literal(x, alg, sizeof(alg), &n))
			return false;
	} else {
		while (x->p < x->end && n + 1 < sizeof(alg) &&
		       (isalnum((unsigned char)*x->p) || *x->p == '-' || *x->p == '_'))
			alg[n++] = *x->p++;
		alg[n] = '\0';
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(hashes); i++)
		if (strcasecmp(alg, hashes[i].alg) == 0) {
			*t = hashes[i].t;
			return true;
		}
	return false;
}

/* Parses the whole pattern into terms; false when any part is outside the accepted subset. */
static bool parse_pattern(const char *s, size_t n, struct term *terms, size_t *nt)
{
	struct lexer x = {s, s + n};

	*nt = 0;
	do {
		if (!eat(&x, "["))
			return false;
		do {
			if (*nt == MAX_TERMS || !object_path(&x, &terms[*nt].type) || !eat(&x, "=") ||
			    !literal(&x, terms[*nt].value, sizeof(terms[*nt].value), &terms[*nt].len))
				return false;
			(*nt)++;
		} while (eat_word(&x, "OR"));
		if (!eat(&x, "]"))
			return false;
	} while (eat_word(&x, "OR"));
	skip_ws(&x);
	return x.p == x.end && *nt > 0;
}

/* One indicator object. */
static enum vig_err indicator(struct vig_intel_list *l, json_t *o, int64_t now_ns)
{
	const char *pattern = json_string_value(json_object_get(o, "pattern"));
	const char *ptype = json_string_value(json_object_get(o, "pattern_type"));
	const char *until = json_string_value(json_object_get(o, "valid_until"));
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *name = json_string_value(json_object_get(o, "name"));
	json_t *conf = json_object_get(o, "confidence");
	struct term *terms;
	enum vig_err err = VIG_OK;
	int64_t until_ns;
	size_t nt = 0;

	vig_intel_list_count_line(l);
	if (json_is_true(json_object_get(o, "revoked")) || (ptype && strcmp(ptype, "stix") != 0)) {
		vig_intel_list_skip(l);
		return VIG_OK;
	}
	if (until && vig_time_parse(until, strlen(until), &until_ns) && until_ns < now_ns) {
		vig_intel_list_skip(l);
		return VIG_OK;
	}
	if (!pattern) {
		vig_intel_list_malformed(l, 0, "indicator without pattern", "%s: no pattern",
					 id ? id : "indicator");
		return VIG_OK;
	}
	terms = malloc(MAX_TERMS * sizeof(*terms));
	if (!terms)
		return VIG_ENOMEM;
	if (!parse_pattern(pattern, strlen(pattern), terms, &nt)) {
		vig_intel_list_malformed(l, 0, "unsupported pattern", "%s: unsupported pattern %.80s",
					 id ? id : "indicator", pattern);
		goto out;
	}
	for (size_t i = 0; i < nt && err == VIG_OK; i++) {
		struct vig_intel_ind ind = {.type = terms[i].type, .value = terms[i].value,
					    .len = terms[i].len, .id = id, .threat = name,
					    .confidence = -1};

		if (json_is_integer(conf) && json_integer_value(conf) >= 0 &&
		    json_integer_value(conf) <= 100)
			ind.confidence = (int)json_integer_value(conf);
		err = vig_intel_list_add(l, &ind, 0);
		if (err == VIG_EINVAL)
			err = VIG_OK;
	}
out:
	free(terms);
	return err;
}

enum vig_err vig_intel_parse_stix(const char *text, size_t n, int64_t now_ns,
				  struct vig_intel_list *l, char *errbuf)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, n, 0, &jerr), *objs, *o;
	enum vig_err err = VIG_OK;
	size_t i;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return vig_errf(errbuf, VIG_EPARSE, "STIX: expected a bundle object%s%s",
				doc ? "" : ": ", doc ? "" : jerr.text);
	}
	objs = json_object_get(doc, "objects");
	if (!objs) {
		/* a TAXII envelope with no more objects has no "objects" key */
		json_decref(doc);
		return VIG_OK;
	}
	if (!json_is_array(objs)) {
		json_decref(doc);
		return vig_errf(errbuf, VIG_EPARSE, "STIX: \"objects\" is not an array");
	}
	json_array_foreach(objs, i, o) {
		const char *type = json_string_value(json_object_get(o, "type"));

		if (!type || strcmp(type, "indicator") != 0)
			continue;
		err = indicator(l, o, now_ns);
		if (err != VIG_OK)
			break;
	}
	json_decref(doc);
	if (err == VIG_ETOOBIG)
		return vig_errf(errbuf, err, "more indicators than the feed's limit");
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "out of memory");
	return VIG_OK;
}
