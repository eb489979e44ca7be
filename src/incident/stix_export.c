/*
 * stix_export.c - STIX 2.1 objects of an incident's observables: patterns with escaped
 * literals, deterministic UUIDv5 ids, TLP marking-definitions, the identity, indicators and
 * the report of a bundle. See stix_export.h.
 */
#include "incident/stix_export.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "common/vtime.h"
#include "incident/incident.h"

/* The namespace of every Vigil STIX id (a fixed random UUID: 1f4c7a52-0b8e-4c59-9d0e-6a2b3c8d9e71). */
static const uint8_t VIGIL_NS[16] = {0x1f, 0x4c, 0x7a, 0x52, 0x0b, 0x8e, 0x4c, 0x59,
				     0x9d, 0x0e, 0x6a, 0x2b, 0x3c, 0x8d, 0x9e, 0x71};

/* The TLP marking-definitions: TLP 2.0 (OASIS extension-definition--60a3c5c5-...) and
 * TLP 1.0 (STIX 2.1 section 7.2.1.4). */
#define TLP2_EXT "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
static const struct tlp_def {
	const char *tlp;     /* the Vigil name */
	const char *v2;      /* TLP 2.0 id */
	const char *v2_name; /* "TLP:CLEAR" */
	const char *v1;      /* TLP 1.0 id or NULL */
	const char *v1_tlp;  /* "white" */
	int rank;            /* restrictiveness */
} TLPS[] = {
	{"clear", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR",
	 "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "white", 0},
	{"white", "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "TLP:CLEAR",
	 "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", "white", 0},
	{"green", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", "TLP:GREEN",
	 "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", "green", 1},
	{"amber", "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "TLP:AMBER",
	 "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", "amber", 2},
	{"amber+strict", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", "TLP:AMBER+STRICT",
	 NULL, NULL, 3},
	{"red", "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", "TLP:RED",
	 "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "red", 4},
};

static const struct tlp_def *tlp_find(const char *tlp)
{
	for (size_t i = 0; tlp && i < VIG_ARRAY_LEN(TLPS); i++)
		if (strcasecmp(tlp, TLPS[i].tlp) == 0)
			return &TLPS[i];
	return NULL;
}

void vig_stix_time(int64_t ns, char out[VIG_STIX_TIME_STRLEN])
{
	char full[VIG_TIME_STRLEN];
	int64_t ms = ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000);

	/* vig_time_format prints milliseconds when there is no finer part */
	vig_time_format(ms * 1000000, full);
	if (!strchr(full, '.')) { /* whole seconds: add ".000" before the Z */
		size_t n = strlen(full);

		snprintf(out, VIG_STIX_TIME_STRLEN, "%.*s.000Z", (int)(n - 1), full);
		return;
	}
	snprintf(out, VIG_STIX_TIME_STRLEN, "%s", full);
}

void vig_stix_id(const char *type, const char *name, char out[VIG_STIX_ID_MAX])
{
	uint8_t md[EVP_MAX_MD_SIZE], u[16];
	unsigned mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1 && EVP_DigestUpdate(c, VIGIL_NS, 16) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name)) == 1)
		EVP_DigestFinal_ex(c, md, &mdlen);
	EVP_MD_CTX_free(c);
	memcpy(u, md, 16);
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x50); /* version 5 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	snprintf(out, VIG_STIX_ID_MAX,
		 "%s--%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", type, u[0], u[1],
		 u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* Appends value to out as the body of a STIX string literal ('...' with ' and \ escaped). */
static bool put_literal(const char *value, char *out, size_t cap, size_t *o)
{
	for (const char *p = value; *p; p++) {
		if ((*p == '\'' || *p == '\\') && *o + 1 < cap)
			out[(*o)++] = '\\';
		if (*o + 1 >= cap)
			return false;
		out[(*o)++] = *p;
	}
	out[*o] = '\0';
	return true;
}

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

bool vig_stix_pattern(const char *type, const char *value, char *out, size_t cap)
{
	static const struct {
		const char *type, *path;
	} simple[] = {{"domain", "domain-name:value"}, {"hostname", "domain-name:value"}, {"url", "url:value"},
		      {"email", "email-addr:value"},   {"user", "user-account:account_login"},
		      {"file", "file:name"}};
	char norm[64], lower[129];
	const char *path = NULL, *lit = value;
	size_t o;
	int n;

	if (!type || !value || !*value || cap < 8)
		return false;
	for (size_t i = 0; i < VIG_ARRAY_LEN(simple); i++)
		if (strcmp(type, simple[i].type) == 0)
			path = simple[i].path;
	if (strcmp(type, "ip") == 0) {
		if (!vig_blocklist_normalise(value, norm))
			return false;
		path = strchr(norm, ':') ? "ipv6-addr:value" : "ipv4-addr:value";
		lit = norm;
	} else if (strcmp(type, "hash") == 0) {
		size_t len = strlen(value);

		if (!all_hex(value))
			return false;
		path = len == 32 ? "file:hashes.MD5"
		       : len == 40 ? "file:hashes.'SHA-1'"
		       : len == 64 ? "file:hashes.'SHA-256'"
		       : len == 128 ? "file:hashes.'SHA-512'" : NULL;
		if (!path)
			return false;
		for (size_t i = 0; i <= len; i++)
			lower[i] = (char)tolower((unsigned char)value[i]);
		lit = lower;
	}
	if (!path)
		return false;
	n = snprintf(out, cap, "[%s = '", path);
	if (n < 0 || (size_t)n >= cap)
		return false;
	o = (size_t)n;
	if (!put_literal(lit, out, cap, &o) || o + 3 > cap)
		return false;
	memcpy(out + o, "']", 3);
	return true;
}

const char *vig_stix_tlp2_id(const char *tlp)
{
	const struct tlp_def *t = tlp_find(tlp);

	return t ? t->v2 : NULL;
}

const char *vig_stix_tlp1_id(const char *tlp)
{
	const struct tlp_def *t = tlp_find(tlp);

	return t ? t->v1 : NULL;
}

json_t *vig_stix_marking(const char *id)
{
	for (size_t i = 0; id && i < VIG_ARRAY_LEN(TLPS); i++) {
		const struct tlp_def *t = &TLPS[i];

		if (strcmp(id, t->v2) == 0)
			return json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:s,s:s}}}", "type", "marking-definition",
					 "spec_version", "2.1", "id", t->v2, "created", "2022-10-01T00:00:00.000Z",
					 "name", t->v2_name, "extensions", TLP2_EXT, "extension_type",
					 "property-extension", "tlp_2_0", t->tlp[0] == 'w' ? "clear" : t->tlp);
		if (t->v1 && strcmp(id, t->v1) == 0) {
			char name[16];

			snprintf(name, sizeof(name), "TLP:%s", t->v1_tlp);
			for (char *p = name; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s}}", "type", "marking-definition",
					 "spec_version", "2.1", "id", t->v1, "created", "2017-01-20T00:00:00.000Z",
					 "name", name, "definition_type", "tlp", "definition", "tlp", t->v1_tlp);
		}
	}
	return NULL;
}

/* The marking refs of a TLP: the 2.0 id, then the 1.0 id when there is one. */
static json_t *marking_refs(const char *tlp)
{
	const struct tlp_def *t = tlp_find(tlp ? tlp : "amber");
	json_t *a = json_array();

	if (t) {
		json_array_append_new(a, json_string(t->v2));
		if (t->v1)
			json_array_append_new(a, json_string(t->v1));
	}
	return a;
}

json_t *vig_stix_identity(const char *tenant, const char *tenant_name, int64_t tenant_created_ns)
{
	char id[VIG_STIX_ID_MAX], name[VIG_NAME_MAX + 16], ts[VIG_STIX_TIME_STRLEN];

	snprintf(name, sizeof(name), "identity/%s", tenant);
	vig_stix_id("identity", name, id);
	vig_stix_time(tenant_created_ns, ts);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "identity", "spec_version", "2.1", "id", id,
			 "created", ts, "modified", ts, "name", tenant_name && *tenant_name ? tenant_name : tenant,
			 "identity_class", "organization");
}

json_t *vig_stix_indicator(const char *tenant, const struct vig_stix_obs *o)
{
	char pattern[VIG_STIX_PATTERN_MAX], id[VIG_STIX_ID_MAX], ident[VIG_STIX_ID_MAX];
	char name[VIG_NAME_MAX + 48], ts[VIG_STIX_TIME_STRLEN], title[200];

	if (!vig_stix_pattern(o->type, o->value, pattern, sizeof(pattern)))
		return NULL;
	snprintf(name, sizeof(name), "indicator/%s/%lld", tenant, (long long)o->id);
	vig_stix_id("indicator", name, id);
	snprintf(name, sizeof(name), "identity/%s", tenant);
	vig_stix_id("identity", name, ident);
	vig_stix_time(o->created_ns, ts);
	snprintf(title, sizeof(title), "%s %.160s", o->type, o->value);
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:[s],s:s,s:s,s:s,s:s,s:[s,s],s:o}", "type", "indicator",
			 "spec_version", "2.1", "id", id, "created", ts, "modified", ts, "created_by_ref", ident,
			 "name", title, "indicator_types", "malicious-activity", "pattern", pattern, "pattern_type",
			 "stix", "pattern_version", "2.1", "valid_from", ts, "labels", "vigil-observable", o->type,
			 "object_marking_refs", marking_refs(o->tlp));
}

/* Time field key of o as ns; false when absent or not a timestamp. */
static bool time_of(const json_t *o, const char *key, int64_t *ns)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && vig_time_parse(s, strlen(s), ns);
}

/* Adds the marking-definition objects of every ref in refs not yet in seen to objs. */
static void add_markings(json_t *objs, json_t *seen, const json_t *refs)
{
	size_t i;
	json_t *r;

	json_array_foreach(refs, i, r) {
		const char *id = json_string_value(r);

		if (!id || json_object_get(seen, id))
			continue;
		json_object_set_new(seen, id, json_true());
		json_array_append_new(objs, vig_stix_marking(id));
	}
}

enum vig_err vig_stix_export_incident(const json_t *incident, const struct vig_stix_export_opts *o,
				      json_t **bundle, size_t *skipped, char *errbuf)
{
	const json_t *obs = json_object_get(incident, "observables");
	json_t *objs, *refs, *seen, *ind, *ob, *report;
	const struct tlp_def *top = NULL;
	char id[VIG_STIX_ID_MAX], name[VIG_NAME_MAX + 48], created[VIG_STIX_TIME_STRLEN];
	char modified[VIG_STIX_TIME_STRLEN];
	int64_t inc_id, c_ns, m_ns;
	size_t i, nskip = 0;
	const char *title = json_string_value(json_object_get(incident, "title"));
	const char *desc = json_string_value(json_object_get(incident, "description"));

	*bundle = NULL;
	inc_id = json_integer_value(json_object_get(incident, "id"));
	if (!json_is_integer(json_object_get(incident, "id")) || !title || !json_is_array(obs) ||
	    !time_of(incident, "created", &c_ns) || !time_of(incident, "updated", &m_ns))
		return vig_errf(errbuf, VIG_EINVAL, "incident lacks id, title, created, updated or observables");
	objs = json_array();
	refs = json_array();
	seen = json_object();
	json_array_append_new(objs, vig_stix_identity(o->tenant, o->tenant_name, o->tenant_created_ns));
	json_array_foreach(obs, i, ob) {
		struct vig_stix_obs so = {
			.id = json_integer_value(json_object_get(ob, "id")),
			.type = json_string_value(json_object_get(ob, "type")),
			.value = json_string_value(json_object_get(ob, "value")),
			.tlp = json_string_value(json_object_get(ob, "tlp")),
		};
		const struct tlp_def *t = tlp_find(so.tlp ? so.tlp : "amber");

		if (!t || (t->rank == 4 && !o->include_red) || !time_of(ob, "created", &so.created_ns) ||
		    !(ind = vig_stix_indicator(o->tenant, &so))) {
			nskip++;
			continue;
		}
		if (!top || t->rank > top->rank)
			top = t;
		add_markings(objs, seen, json_object_get(ind, "object_marking_refs"));
		json_array_append(refs, json_object_get(ind, "id"));
		json_array_append_new(objs, ind);
	}
	snprintf(name, sizeof(name), "report/%s/%lld", o->tenant, (long long)inc_id);
	vig_stix_id("report", name, id);
	vig_stix_time(c_ns, created);
	vig_stix_time(m_ns < c_ns ? c_ns : m_ns, modified);
	if (json_array_size(refs) == 0) /* object_refs must not be empty */
		json_array_append(refs, json_object_get(json_array_get(objs, 0), "id"));
	report = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:s,s:[s],s:s,s:o}", "type", "report", "spec_version", "2.1",
			   "id", id, "created", created, "modified", modified, "created_by_ref",
			   json_object_get(json_array_get(objs, 0), "id"), "name", title, "report_types",
			   "threat-report", "published", created, "object_refs", refs);
	if (report && desc && *desc)
		json_object_set_new(report, "description", json_string(desc));
	if (report && top)
		json_object_set_new(report, "object_marking_refs", marking_refs(top->tlp));
	json_array_append_new(objs, report);
	json_decref(seen);
	snprintf(name, sizeof(name), "bundle/%s/%lld/%d", o->tenant, (long long)inc_id, o->include_red);
	vig_stix_id("bundle", name, id);
	*bundle = json_pack("{s:s,s:s,s:o}", "type", "bundle", "id", id, "objects", objs);
	if (!*bundle || !report)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (skipped)
		*skipped = nskip;
	return VIG_OK;
}
