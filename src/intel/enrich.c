/*
 * enrich.c - the threat-intelligence step of ingest: every field of an event that can carry
 * an indicator is looked up in the current set, and the first hit is written onto the event
 * as threat.enrichments.* extension fields before the event is stored and run through the
 * rules (so that Sigma rules can alert on them and analysts can search them).
 *
 * The fields are checked in a fixed order (addresses, names, URLs, hashes); the order decides
 * which hit is described when several fields match, and matched.count says how many did.
 */
#include "intel.h"

#include <string.h>

enum how { BY_IP, BY_DOMAIN, BY_URL, BY_HASH };

struct field {
	const char *name; /* ECS name */
	int core;         /* enum vig_field, or -1 for an extension key */
	enum how how;     /* lookup to use */
};

static const struct field FIELDS[] = {
	{"source.ip", VIG_F_SOURCE_IP, BY_IP},
	{"destination.ip", VIG_F_DESTINATION_IP, BY_IP},
	{"client.ip", -1, BY_IP},
	{"server.ip", -1, BY_IP},
	{"dns.question.name", VIG_F_DNS_QUESTION_NAME, BY_DOMAIN},
	{"destination.domain", VIG_F_DESTINATION_DOMAIN, BY_DOMAIN},
	{"source.domain", VIG_F_SOURCE_DOMAIN, BY_DOMAIN},
	{"url.domain", VIG_F_URL_DOMAIN, BY_DOMAIN},
	{"tls.client.server_name", -1, BY_DOMAIN},
	{"url.full", -1, BY_URL},
	{"url.original", VIG_F_URL_ORIGINAL, BY_URL},
	{"file.hash.sha256", VIG_F_FILE_HASH_SHA256, BY_HASH},
	{"file.hash.sha1", -1, BY_HASH},
	{"file.hash.md5", -1, BY_HASH},
	{"process.hash.sha256", VIG_F_PROCESS_HASH_SHA256, BY_HASH},
	{"process.hash.sha1", -1, BY_HASH},
	{"process.hash.md5", -1, BY_HASH},
	{"process.parent.hash.sha256", VIG_F_PROCESS_PARENT_HASH_SHA256, BY_HASH},
};

static bool match_one(const struct vig_intel_set *s, const struct field *f,
		      const struct vig_val *v, const char *tenant, struct vig_intel_hit *hit,
		      char *atomic, size_t cap)
{
	uint8_t ip[16];
	const char *text;
	size_t len;

	if (v->type == VIG_T_IP) {
		if (f->how != BY_IP)
			return false;
		vig_ip_format(v->u.ip, atomic);
		return vig_intel_match_ip(s, v->u.ip, tenant, hit);
	}
	if (v->type != VIG_T_STR || v->n == 0)
		return false;
	text = v->u.s;
	len = v->n;
	if (len >= cap)
		return false;
	memcpy(atomic, text, len);
	atomic[len] = '\0';
	switch (f->how) {
	case BY_IP:
		return vig_ip_parse(text, len, ip) && vig_intel_match_ip(s, ip, tenant, hit);
	case BY_DOMAIN:
		return vig_intel_match_domain(s, text, len, tenant, hit);
	case BY_URL:
		return vig_intel_match_url(s, text, len, tenant, hit);
	case BY_HASH:
		return vig_intel_match_hash(s, text, len, tenant, hit);
	}
	return false;
}

static enum vig_err set_fields(struct vig_event *ev, const struct field *f,
			       const struct vig_intel_hit *h, const char *atomic, size_t count)
{
	enum vig_err err;

	err = vig_event_ext_str(ev, VIG_INTEL_F_ATOMIC, atomic, strlen(atomic));
	if (err == VIG_OK)
		err = vig_event_ext_str(ev, VIG_INTEL_F_FIELD, f->name, strlen(f->name));
	if (err == VIG_OK)
		err = vig_event_ext_str(ev, VIG_INTEL_F_TYPE, vig_intel_type_name(h->type),
					strlen(vig_intel_type_name(h->type)));
	if (err == VIG_OK)
		err = vig_event_ext_str(ev, VIG_INTEL_F_FEED, h->feed, strlen(h->feed));
	if (err == VIG_OK)
		err = vig_event_ext_str(ev, VIG_INTEL_F_INDICATOR, h->indicator, strlen(h->indicator));
	if (err == VIG_OK && h->confidence >= 0)
		err = vig_event_ext_int(ev, VIG_INTEL_F_CONFIDENCE, h->confidence);
	if (err == VIG_OK && h->id)
		err = vig_event_ext_str(ev, VIG_INTEL_F_ID, h->id, strlen(h->id));
	if (err == VIG_OK && h->threat)
		err = vig_event_ext_str(ev, VIG_INTEL_F_THREAT, h->threat, strlen(h->threat));
	if (err == VIG_OK)
		err = vig_event_ext_int(ev, VIG_INTEL_F_COUNT, (int64_t)count);
	return err;
}

size_t vig_intel_enrich(const struct vig_intel_set *s, struct vig_event *ev, enum vig_err *err)
{
	const struct vig_val *tv = vig_event_get(ev, VIG_F_TENANT_ID);
	const char *tenant = tv && tv->type == VIG_T_STR ? tv->u.s : NULL;
	char atomic[VIG_INTEL_VALUE_MAX], first_atomic[VIG_INTEL_VALUE_MAX];
	struct vig_intel_hit hit, first = {0};
	const struct field *first_f = NULL;
	size_t count = 0;
	enum vig_err e;

	if (err)
		*err = VIG_OK;
	if (!s || vig_intel_set_size(s) == 0)
		return 0;
	if (!tenant)
		tenant = ""; /* an event without tenant sees only global feeds */
	for (size_t i = 0; i < VIG_ARRAY_LEN(FIELDS); i++) {
		const struct field *f = &FIELDS[i];
		const struct vig_val *v = f->core >= 0 ? vig_event_get(ev, (enum vig_field)f->core)
						       : vig_event_ext_get(ev, f->name, strlen(f->name));

		if (!v || !match_one(s, f, v, tenant, &hit, atomic, sizeof(atomic)))
			continue;
		if (count++ == 0) {
			first = hit;
			first_f = f;
			memcpy(first_atomic, atomic, strlen(atomic) + 1);
		}
	}
	if (count == 0)
		return 0;
	e = set_fields(ev, first_f, &first, first_atomic, count);
	if (e != VIG_OK) {
		if (err)
			*err = e;
		return 0;
	}
	return count;
}
