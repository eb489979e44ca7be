/*
 * attack.c - the MITRE ATT&CK catalogue read from an enterprise-attack STIX bundle (2.0 as in
 * mitre/cti, or 2.1 as in mitre-attack/attack-stix-data).
 *
 * Objects used: attack-pattern (a technique; x_mitre_is_subtechnique marks sub-techniques;
 * the ATT&CK id is the external reference of source "mitre-attack"; kill_chain_phases of
 * "mitre-attack" name its tactics), x-mitre-tactic (id, name, shortname), x-mitre-matrix
 * (tactic order), course-of-action (mitigations) and relationship objects of type
 * "mitigates" (course-of-action -> attack-pattern, with how it applies in the description).
 * Revoked and deprecated objects are left out. Every string is copied into one arena, so the
 * parsed JSON (the 37 MB bundle is several times that in memory) is released before return.
 */
#include "intel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/arena.h"

struct vig_attack {
	struct vig_arena arena;
	struct vig_attack_technique *tech; /* sorted by id */
	size_t n_tech;
	struct vig_attack_tactic *tactics; /* matrix order (may point into the arena) */
	struct vig_attack_tactic *tactics_alloc; /* the heap array to free */
	size_t n_tactics;
	struct vig_attack_stats st;
};

struct rel {
	size_t tech;   /* index into tech (before sorting: load order) */
	size_t coa;    /* index into the coa array */
	const char *description;
};

struct coa {
	const char *id, *name;
};

static const char *adup(struct vig_attack *a, const char *s)
{
	return vig_arena_strndup(&a->arena, s ? s : "", s ? strlen(s) : 0);
}

static bool inactive(json_t *o)
{
	return json_is_true(json_object_get(o, "revoked")) ||
	       json_is_true(json_object_get(o, "x_mitre_deprecated"));
}

/* The mitre-attack external reference of o: its id and url. */
static const char *attack_id(json_t *o, const char **url)
{
	json_t *refs = json_object_get(o, "external_references"), *r;
	size_t i;

	json_array_foreach(refs, i, r) {
		const char *src = json_string_value(json_object_get(r, "source_name"));

		if (src && strcmp(src, "mitre-attack") == 0) {
			if (url)
				*url = json_string_value(json_object_get(r, "url"));
			return json_string_value(json_object_get(r, "external_id"));
		}
	}
	return NULL;
}

static const char **str_array(struct vig_attack *a, json_t *arr, const char *field,
			      const char *filter_key, const char *filter_val, size_t *n)
{
	size_t i, k = 0, cnt = json_array_size(arr);
	const char **out;
	json_t *v;

	*n = 0;
	if (cnt == 0)
		return NULL;
	out = vig_arena_alloc(&a->arena, cnt * sizeof(*out));
	if (!out)
		return NULL;
	json_array_foreach(arr, i, v) {
		const char *s = field ? json_string_value(json_object_get(v, field)) : json_string_value(v);

		if (filter_key) {
			const char *f = json_string_value(json_object_get(v, filter_key));

			if (!f || strcmp(f, filter_val) != 0)
				continue;
		}
		if (s)
			out[k++] = adup(a, s);
	}
	*n = k;
	return out;
}

static int cmp_tech(const void *x, const void *y)
{
	const struct vig_attack_technique *a = x, *b = y;

	return strcmp(a->id, b->id);
}

static int cmp_rel(const void *x, const void *y)
{
	const struct rel *a = x, *b = y;

	return a->tech < b->tech ? -1 : a->tech > b->tech;
}

static int cmp_tactic(const void *x, const void *y)
{
	const struct vig_attack_tactic *a = x, *b = y;

	return strcmp(a->id, b->id);
}

/* Orders tactics as the matrix lists them (by STIX id in tactic_refs). */
static void order_tactics(struct vig_attack *a, json_t *matrix, json_t *tactic_stix)
{
	json_t *refs = json_object_get(matrix, "tactic_refs"), *r;
	struct vig_attack_tactic *sorted;
	size_t i, k = 0;

	if (!json_is_array(refs) || a->n_tactics == 0)
		return;
	sorted = vig_arena_alloc(&a->arena, a->n_tactics * sizeof(*sorted));
	if (!sorted)
		return;
	json_array_foreach(refs, i, r) {
		json_t *ix = json_object_get(tactic_stix, json_string_value(r) ? json_string_value(r) : "");

		if (json_is_integer(ix) && k < a->n_tactics)
			sorted[k++] = a->tactics[json_integer_value(ix)];
	}
	if (k == a->n_tactics)
		a->tactics = sorted;
}

struct loader {
	struct vig_attack *a;
	json_t *tech_stix, *tactic_stix, *coa_stix; /* STIX id -> index */
	struct coa *coas;
	size_t n_coa;
	struct rel *rels;
	size_t n_rel;
	json_t *matrix;
};

static bool load_objects(struct loader *L, json_t *objs)
{
	struct vig_attack *a = L->a;
	size_t i, cnt = json_array_size(objs);
	json_t *o;

	a->tech = calloc(cnt ? cnt : 1, sizeof(*a->tech));
	a->tactics = a->tactics_alloc = calloc(cnt ? cnt : 1, sizeof(*a->tactics));
	L->coas = calloc(cnt ? cnt : 1, sizeof(*L->coas));
	L->rels = calloc(cnt ? cnt : 1, sizeof(*L->rels));
	if (!a->tech || !a->tactics || !L->coas || !L->rels)
		return false;
	/* objects first, relationships after (they refer to objects by STIX id) */
	json_array_foreach(objs, i, o) {
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *sid = json_string_value(json_object_get(o, "id"));
		const char *url = NULL, *xid;

		if (!type || !sid)
			continue;
		if (strcmp(type, "x-mitre-matrix") == 0 && !inactive(o)) {
			L->matrix = o;
			if (json_string_value(json_object_get(o, "x_mitre_version")) && !a->st.version[0])
				snprintf(a->st.version, sizeof(a->st.version), "%s",
					 json_string_value(json_object_get(o, "x_mitre_version")));
			continue;
		}
		if (strcmp(type, "x-mitre-collection") == 0 &&
		    json_string_value(json_object_get(o, "x_mitre_version"))) {
			snprintf(a->st.version, sizeof(a->st.version), "%s",
				 json_string_value(json_object_get(o, "x_mitre_version")));
			continue;
		}
		if (strcmp(type, "attack-pattern") != 0 && strcmp(type, "x-mitre-tactic") != 0 &&
		    strcmp(type, "course-of-action") != 0)
			continue;
		if (inactive(o)) {
			a->st.skipped++;
			continue;
		}
		xid = attack_id(o, &url);
		if (!xid)
			continue;
		if (strcmp(type, "attack-pattern") == 0) {
			struct vig_attack_technique *t = &a->tech[a->n_tech];
			const char *dot = strchr(xid, '.');

			t->id = adup(a, xid);
			t->name = adup(a, json_string_value(json_object_get(o, "name")));
			t->description = adup(a, json_string_value(json_object_get(o, "description")));
			t->url = url ? adup(a, url) : NULL;
			t->subtechnique = json_is_true(json_object_get(o, "x_mitre_is_subtechnique")) || dot;
			t->parent = dot ? vig_arena_strndup(&a->arena, xid, (size_t)(dot - xid)) : NULL;
			t->tactics = str_array(a, json_object_get(o, "kill_chain_phases"), "phase_name",
					       "kill_chain_name", "mitre-attack", &t->n_tactics);
			t->platforms = str_array(a, json_object_get(o, "x_mitre_platforms"), NULL, NULL,
						 NULL, &t->n_platforms);
			json_object_set_new(L->tech_stix, sid, json_integer((json_int_t)a->n_tech));
			a->n_tech++;
			if (t->subtechnique)
				a->st.subtechniques++;
		} else if (strcmp(type, "x-mitre-tactic") == 0) {
			struct vig_attack_tactic *t = &a->tactics[a->n_tactics];

			t->id = adup(a, xid);
			t->name = adup(a, json_string_value(json_object_get(o, "name")));
			t->shortname = adup(a, json_string_value(json_object_get(o, "x_mitre_shortname")));
			json_object_set_new(L->tactic_stix, sid, json_integer((json_int_t)a->n_tactics));
			a->n_tactics++;
		} else {
			L->coas[L->n_coa] = (struct coa){adup(a, xid),
							 adup(a, json_string_value(json_object_get(o, "name")))};
			json_object_set_new(L->coa_stix, sid, json_integer((json_int_t)L->n_coa));
			L->n_coa++;
		}
	}
	json_array_foreach(objs, i, o) {
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *rt = json_string_value(json_object_get(o, "relationship_type"));
		const char *sref, *tref;
		json_t *src, *dst;

		if (!type || strcmp(type, "relationship") != 0 || !rt || strcmp(rt, "mitigates") != 0 ||
		    inactive(o))
			continue;
		sref = json_string_value(json_object_get(o, "source_ref"));
		tref = json_string_value(json_object_get(o, "target_ref"));
		if (!sref || !tref)
			continue;
		src = json_object_get(L->coa_stix, sref);
		dst = json_object_get(L->tech_stix, tref);
		if (!json_is_integer(src) || !json_is_integer(dst))
			continue;
		L->rels[L->n_rel++] = (struct rel){(size_t)json_integer_value(dst),
						   (size_t)json_integer_value(src),
						   adup(a, json_string_value(json_object_get(o, "description")))};
	}
	return true;
}

/* Hands each technique its mitigations (relationships grouped by technique). */
static bool attach_mitigations(struct loader *L)
{
	struct vig_attack *a = L->a;

	qsort(L->rels, L->n_rel, sizeof(*L->rels), cmp_rel);
	for (size_t i = 0; i < L->n_rel;) {
		size_t j = i;
		struct vig_attack_mitigation *m;

		while (j < L->n_rel && L->rels[j].tech == L->rels[i].tech)
			j++;
		m = vig_arena_alloc(&a->arena, (j - i) * sizeof(*m));
		if (!m)
			return false;
		for (size_t k = i; k < j; k++)
			m[k - i] = (struct vig_attack_mitigation){L->coas[L->rels[k].coa].id,
								  L->coas[L->rels[k].coa].name,
								  L->rels[k].description};
		a->tech[L->rels[i].tech].mitigations = m;
		a->tech[L->rels[i].tech].n_mitigations = j - i;
		i = j;
	}
	return true;
}

struct vig_attack *vig_attack_load(const char *text, size_t n, char *errbuf)
{
	struct vig_attack *a = calloc(1, sizeof(*a));
	struct loader L = {.a = a};
	json_error_t jerr;
	json_t *doc = NULL, *objs;

	if (!a) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	vig_arena_init(&a->arena, 1 << 20, 0);
	doc = json_loadb(text, n, 0, &jerr);
	objs = json_object_get(doc, "objects");
	if (!json_is_object(doc) || !json_is_array(objs)) {
		vig_errf(errbuf, VIG_EPARSE, "ATT&CK: expected a STIX bundle%s%s", doc ? "" : ": ",
			 doc ? "" : jerr.text);
		goto out_fail;
	}
	L.tech_stix = json_object();
	L.tactic_stix = json_object();
	L.coa_stix = json_object();
	if (!L.tech_stix || !L.tactic_stix || !L.coa_stix || !load_objects(&L, objs) ||
	    !attach_mitigations(&L)) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory reading the ATT&CK bundle");
		goto out_fail;
	}
	if (a->n_tech == 0) {
		vig_errf(errbuf, VIG_EINVAL, "ATT&CK: the bundle holds no technique");
		goto out_fail;
	}
	if (L.matrix)
		order_tactics(a, L.matrix, L.tactic_stix); /* indices of tactic_stix: load order */
	if (a->tactics == a->tactics_alloc)
		qsort(a->tactics, a->n_tactics, sizeof(*a->tactics), cmp_tactic);
	qsort(a->tech, a->n_tech, sizeof(*a->tech), cmp_tech);
	a->st.techniques = a->n_tech;
	a->st.tactics = a->n_tactics;
	a->st.mitigations = L.n_coa;
	a->st.relationships = L.n_rel;
	goto out;
out_fail:
	vig_attack_free(a);
	a = NULL;
out:
	json_decref(L.tech_stix);
	json_decref(L.tactic_stix);
	json_decref(L.coa_stix);
	free(L.coas);
	free(L.rels);
	json_decref(doc);
	return a;
}

struct vig_attack *vig_attack_load_file(const char *path, size_t max_bytes, char *errbuf)
{
	struct vig_buf b;
	struct vig_attack *a = NULL;

	vig_buf_init(&b, max_bytes ? max_bytes + 1 : (512u << 20));
	if (vig_intel_read_file(path, max_bytes, &b, errbuf) == VIG_OK)
		a = vig_attack_load(b.data ? b.data : "", b.len, errbuf);
	vig_buf_release(&b);
	return a;
}

void vig_attack_free(struct vig_attack *a)
{
	if (!a)
		return;
	vig_arena_release(&a->arena);
	free(a->tactics_alloc);
	free(a->tech);
	free(a);
}

void vig_attack_get_stats(const struct vig_attack *a, struct vig_attack_stats *out)
{
	*out = a->st;
}

const struct vig_attack_technique *vig_attack_techniques(const struct vig_attack *a, size_t *n)
{
	*n = a->n_tech;
	return a->tech;
}

const struct vig_attack_technique *vig_attack_technique(const struct vig_attack *a,
							const char *id)
{
	char key[32];
	size_t n = strlen(id), lo = 0, hi = a->n_tech;

	if (n == 0 || n >= sizeof(key))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		key[i] = (char)toupper((unsigned char)id[i]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(a->tech[mid].id, key);

		if (c == 0)
			return &a->tech[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct vig_attack_tactic *vig_attack_tactics(const struct vig_attack *a, size_t *n)
{
	*n = a->n_tactics;
	return a->tactics;
}

bool vig_attack_tag_technique(const char *tag, char out[16])
{
	size_t n;

	if (strncasecmp(tag, "attack.t", 8) != 0)
		return false;
	tag += 7;
	n = strlen(tag);
	if (n < 5 || n > 9)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isdigit((unsigned char)tag[i]) && !(i == 5 && tag[i] == '.'))
			return false;
	if (n != 5 && (n != 9 || tag[5] != '.'))
		return false;
	out[0] = 'T';
	memcpy(out + 1, tag + 1, n - 1);
	out[n] = '\0';
	return true;
}
