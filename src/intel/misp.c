/*
 * misp.c - MISP feeds: a directory (or URL prefix) holding manifest.json, an object whose keys
 * are event UUIDs, and one <uuid>.json per event ({"Event": {..., "Attribute": [...],
 * "Object": [{"Attribute": [...]}]}}).
 *
 * Only attributes flagged to_ids become indicators (MISP's own "use for detection" switch);
 * the event's `info` becomes the indicator's threat text and the attribute's uuid its id.
 * Composite types carry two values separated by '|' ("domain|ip", "ip-dst|port",
 * "filename|sha256"): the parts Vigil can match are taken, the others ignored. Attributes of
 * other types (email-src, regkey, ...) are counted as skipped, not as malformed.
 */
#include "intel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MISP_EVENT_MAX_BYTES (256u << 20) /* one event file */
#define MISP_MANIFEST_MAX_BYTES (64u << 20)

/* How each MISP type maps: up to two typed parts, VIG_INTEL__COUNT for "ignore this part". */
struct misp_type {
	const char *name;
	enum vig_intel_type first, second;
};

static const struct misp_type TYPES[] = {
	{"ip-dst", VIG_INTEL_IP, VIG_INTEL__COUNT},
	{"ip-src", VIG_INTEL_IP, VIG_INTEL__COUNT},
	{"ip-dst|port", VIG_INTEL_IP, VIG_INTEL__COUNT},
	{"ip-src|port", VIG_INTEL_IP, VIG_INTEL__COUNT},
	{"domain", VIG_INTEL_DOMAIN, VIG_INTEL__COUNT},
	{"hostname", VIG_INTEL_DOMAIN, VIG_INTEL__COUNT},
	{"domain|ip", VIG_INTEL_DOMAIN, VIG_INTEL_IP},
	{"hostname|port", VIG_INTEL_DOMAIN, VIG_INTEL__COUNT},
	{"url", VIG_INTEL_URL, VIG_INTEL__COUNT},
	{"uri", VIG_INTEL_URL, VIG_INTEL__COUNT},
	{"md5", VIG_INTEL_MD5, VIG_INTEL__COUNT},
	{"sha1", VIG_INTEL_SHA1, VIG_INTEL__COUNT},
	{"sha256", VIG_INTEL_SHA256, VIG_INTEL__COUNT},
	{"filename|md5", VIG_INTEL__COUNT, VIG_INTEL_MD5},
	{"filename|sha1", VIG_INTEL__COUNT, VIG_INTEL_SHA1},
	{"filename|sha256", VIG_INTEL__COUNT, VIG_INTEL_SHA256},
};

static bool to_ids(json_t *a)
{
	json_t *t = json_object_get(a, "to_ids");

	if (json_is_boolean(t))
		return json_is_true(t);
	if (json_is_string(t))
		return strcmp(json_string_value(t), "1") == 0 || strcmp(json_string_value(t), "true") == 0;
	if (json_is_integer(t))
		return json_integer_value(t) != 0;
	return false;
}

static enum vig_err add_part(struct vig_intel_list *l, enum vig_intel_type t, const char *v,
			     size_t n, const char *id, const char *info)
{
	struct vig_intel_ind ind = {.type = t, .value = v, .len = n, .id = id, .threat = info,
				    .confidence = -1};
	enum vig_err err = vig_intel_list_add(l, &ind, 0);

	return err == VIG_EINVAL ? VIG_OK : err;
}

static enum vig_err attribute(struct vig_intel_list *l, json_t *a, const char *info)
{
	const char *type = json_string_value(json_object_get(a, "type"));
	const char *value = json_string_value(json_object_get(a, "value"));
	const char *id = json_string_value(json_object_get(a, "uuid"));
	const struct misp_type *mt = NULL;
	const char *bar;
	enum vig_err err = VIG_OK;

	vig_intel_list_count_line(l);
	if (!type || !value) {
		vig_intel_list_malformed(l, 0, "attribute without type or value",
					 "attribute without type or value");
		return VIG_OK;
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(TYPES); i++)
		if (strcmp(TYPES[i].name, type) == 0)
			mt = &TYPES[i];
	if (!mt || !to_ids(a)) {
		vig_intel_list_skip(l);
		return VIG_OK;
	}
	bar = strchr(value, '|');
	if (strchr(type, '|')) {
		if (!bar) {
			vig_intel_list_malformed(l, 0, "composite without |",
						 "%s value without '|'", type);
			return VIG_OK;
		}
		if (mt->first != VIG_INTEL__COUNT)
			err = add_part(l, mt->first, value, (size_t)(bar - value), id, info);
		if (err == VIG_OK && mt->second != VIG_INTEL__COUNT)
			err = add_part(l, mt->second, bar + 1, strlen(bar + 1), id, info);
		return err;
	}
	return add_part(l, mt->first, value, strlen(value), id, info);
}

static enum vig_err attributes(struct vig_intel_list *l, json_t *arr, const char *info)
{
	size_t i;
	json_t *a;
	enum vig_err err;

	if (!json_is_array(arr))
		return VIG_OK;
	json_array_foreach(arr, i, a) {
		err = attribute(l, a, info);
		if (err != VIG_OK)
			return err;
	}
	return VIG_OK;
}

static enum vig_err event_doc(json_t *doc, struct vig_intel_list *l, char *errbuf)
{
	json_t *ev = json_object_get(doc, "Event"), *o;
	const char *info;
	enum vig_err err;
	size_t i;

	if (!json_is_object(ev))
		return vig_errf(errbuf, VIG_EPARSE, "not a MISP event: no \"Event\" object");
	info = json_string_value(json_object_get(ev, "info"));
	err = attributes(l, json_object_get(ev, "Attribute"), info);
	if (err != VIG_OK)
		goto out;
	if (json_is_array(json_object_get(ev, "Object")))
		json_array_foreach(json_object_get(ev, "Object"), i, o) {
			err = attributes(l, json_object_get(o, "Attribute"), info);
			if (err != VIG_OK)
				goto out;
		}
out:
	if (err == VIG_ETOOBIG)
		return vig_errf(errbuf, err, "more indicators than the feed's limit");
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "out of memory");
	return VIG_OK;
}

enum vig_err vig_intel_parse_misp_event(const char *text, size_t n, struct vig_intel_list *l,
					char *errbuf)
{
	json_error_t jerr;
	json_t *doc = json_loadb(text, n, 0, &jerr);
	enum vig_err err;

	if (!doc)
		return vig_errf(errbuf, VIG_EPARSE, "MISP event: %s (line %d)", jerr.text, jerr.line);
	err = event_doc(doc, l, errbuf);
	json_decref(doc);
	return err;
}

/* A manifest key must be a plain UUID-like name: it becomes a file name or URL segment. */
static bool uuid_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F') ||
		      *s == '-'))
			return false;
	return true;
}

enum vig_err vig_intel_parse_misp(vig_intel_reader_fn *read, void *arg, size_t max_events,
				  struct vig_intel_list *l, char *errbuf)
{
	char name[96], why[VIG_ERRBUF_SIZE];
	struct vig_buf b;
	json_error_t jerr;
	json_t *manifest, *v;
	const char *uuid;
	enum vig_err err;
	size_t done = 0;

	vig_buf_init(&b, MISP_MANIFEST_MAX_BYTES);
	err = read(arg, "manifest.json", &b, errbuf);
	if (err != VIG_OK) {
		vig_buf_release(&b);
		return err;
	}
	manifest = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	vig_buf_release(&b);
	if (!json_is_object(manifest)) {
		json_decref(manifest);
		return vig_errf(errbuf, VIG_EPARSE, "manifest.json: expected an object of events%s%s",
				manifest ? "" : ": ", manifest ? "" : jerr.text);
	}
	err = VIG_OK;
	json_object_foreach(manifest, uuid, v) {
		if (max_events && done >= max_events)
			break;
		if (!uuid_ok(uuid)) {
			vig_intel_list_malformed(l, 0, "bad manifest key", "manifest key is not a uuid");
			continue;
		}
		done++;
		snprintf(name, sizeof(name), "%s.json", uuid);
		vig_buf_init(&b, MISP_EVENT_MAX_BYTES);
		why[0] = '\0';
		err = read(arg, name, &b, why);
		if (err == VIG_OK)
			err = vig_intel_parse_misp_event(b.data ? b.data : "", b.len, l, why);
		vig_buf_release(&b);
		if (err == VIG_ETOOBIG || err == VIG_ENOMEM) {
			if (errbuf)
				snprintf(errbuf, VIG_ERRBUF_SIZE, "%.60s: %.180s", name, why);
			break;
		}
		if (err != VIG_OK) {
			vig_intel_list_malformed(l, 0, "bad event file", "%s: %s", name, why);
			err = VIG_OK;
		}
	}
	json_decref(manifest);
	return err;
}
