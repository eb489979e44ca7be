/*
 * suricata.c - Suricata EVE JSON (eve.json), one event per line. The common envelope
 * (timestamp, flow_id, in_iface, src/dest ip and port, proto, app_proto) maps to @timestamp,
 * source.*, destination.*, network.*; each event_type maps its own object: alert (rule.id,
 * rule.name, event.severity, action allowed/blocked → event.action + outcome, kind alert),
 * dns, http, tls (sni, ja3/ja3s), flow, fileinfo, anomaly, ssh; stats is kind metric. Scalars
 * of the type's object (two levels deep, bounded) are also kept as suricata.eve.<type>.<key>
 * extension fields. Malformed lines (eve_broken.json) fail with the JSON error's position.
 */
#include <jansson.h>

#include "../common/vtime.h"
#include "parse_int.h"

#define ID VIG_PARSER_SURICATA
#define MAX_FLAT 96 /* extension fields taken from one event type's object */

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static enum vig_err sset(struct vig_event *ev, enum vig_field f, json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_string(v) && json_string_length(v))
		return vig_event_set_text(ev, f, json_string_value(v), json_string_length(v)) == VIG_ETOOBIG
			       ? VIG_ETOOBIG : VIG_OK;
	if (json_is_integer(v)) {
		const struct vig_field_info *fi = vig_field_info(f);
		if (fi->type == VIG_T_INT)
			return vig_event_set_int(ev, f, json_integer_value(v));
		char b[32];
		int n = snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
		return vig_event_set_text(ev, f, b, (size_t)n) == VIG_ETOOBIG ? VIG_ETOOBIG : VIG_OK;
	}
	return VIG_OK;
}

/* Flattens scalars of obj into prefix.key extensions (depth ≤ 2, at most MAX_FLAT). */
static enum vig_err flatten(struct vig_event *ev, const char *prefix, json_t *obj, int depth,
			    int *budget)
{
	const char *k;
	json_t *v;
	char key[VIG_EVENT_MAX_KEY + 1];

	json_object_foreach(obj, k, v) {
		if (*budget <= 0)
			return VIG_OK;
		int n = snprintf(key, sizeof(key), "%s.%s", prefix, k);
		if (n <= 0 || (size_t)n >= sizeof(key))
			continue;
		enum vig_err rc = VIG_OK;
		switch (json_typeof(v)) {
		case JSON_STRING:
			rc = pext(ev, key, json_string_value(v), json_string_length(v));
			break;
		case JSON_INTEGER:
			rc = vig_event_ext_int(ev, key, json_integer_value(v));
			break;
		case JSON_REAL:
			rc = vig_event_ext_float(ev, key, json_real_value(v));
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			rc = vig_event_ext_bool(ev, key, json_is_true(v));
			break;
		case JSON_OBJECT:
			if (depth < 2)
				rc = flatten(ev, key, v, depth + 1, budget);
			break;
		default:
			break;
		}
		if (rc == VIG_ETOOBIG)
			return rc;
		(*budget)--;
	}
	return VIG_OK;
}

static enum vig_err alert(struct vig_event *ev, json_t *a)
{
	const char *act = jstr(a, "action");
	bool blocked = act && (strcmp(act, "blocked") == 0 || strcmp(act, "drop") == 0);

	PTRY(pecs(ev, "alert", "intrusion_detection", blocked ? "denied" : "allowed",
		  act ? act : NULL, blocked ? "success" : NULL));
	PTRY(sset(ev, VIG_F_RULE_ID, a, "signature_id"));
	PTRY(sset(ev, VIG_F_RULE_NAME, a, "signature"));
	PTRY(sset(ev, VIG_F_EVENT_SEVERITY, a, "severity"));
	return VIG_OK;
}

static enum vig_err http(struct vig_event *ev, json_t *h)
{
	const char *url = jstr(h, "url");

	PTRY(sset(ev, VIG_F_URL_DOMAIN, h, "hostname"));
	PTRY(sset(ev, VIG_F_HTTP_REQUEST_METHOD, h, "http_method"));
	PTRY(sset(ev, VIG_F_HTTP_RESPONSE_STATUS_CODE, h, "status"));
	PTRY(sset(ev, VIG_F_USER_AGENT_ORIGINAL, h, "http_user_agent"));
	PTRY(sset(ev, VIG_F_HTTP_REQUEST_REFERRER, h, "http_refer"));
	PTRY(sset(ev, VIG_F_HTTP_RESPONSE_BODY_BYTES, h, "length"));
	if (url) {
		size_t n = strlen(url);
		const char *q = memchr(url, '?', n);
		PTRY(pset(ev, VIG_F_URL_ORIGINAL, url, n));
		PTRY(pset(ev, VIG_F_URL_PATH, url, q ? (size_t)(q - url) : n));
		if (q && q[1])
			PTRY(pset(ev, VIG_F_URL_QUERY, q + 1, strlen(q + 1)));
	}
	return VIG_OK;
}

static enum vig_err dns(struct vig_event *ev, json_t *d)
{
	json_t *q = json_object_get(d, "queries"); /* eve dns v3 */

	PTRY(pecs(ev, "event", "network", "protocol", NULL, NULL));
	if (json_is_array(q) && json_array_size(q)) {
		PTRY(sset(ev, VIG_F_DNS_QUESTION_NAME, json_array_get(q, 0), "rrname"));
		PTRY(sset(ev, VIG_F_DNS_QUESTION_TYPE, json_array_get(q, 0), "rrtype"));
	}
	PTRY(sset(ev, VIG_F_DNS_QUESTION_NAME, d, "rrname"));
	PTRY(sset(ev, VIG_F_DNS_QUESTION_TYPE, d, "rrtype"));
	return VIG_OK;
}

static enum vig_err tls(struct vig_event *ev, json_t *t)
{
	json_t *ja3 = json_object_get(t, "ja3"), *ja3s = json_object_get(t, "ja3s");
	const char *sni = jstr(t, "sni");

	PTRY(pecs(ev, "event", "network", "protocol", NULL, NULL));
	if (sni) {
		PTRY(pext(ev, "tls.client.server_name", sni, strlen(sni)));
		if (!vig_event_get(ev, VIG_F_DESTINATION_DOMAIN))
			PTRY(pset(ev, VIG_F_DESTINATION_DOMAIN, sni, strlen(sni)));
	}
	if (jstr(ja3, "hash"))
		PTRY(pext(ev, "tls.client.ja3", jstr(ja3, "hash"), strlen(jstr(ja3, "hash"))));
	if (jstr(ja3s, "hash"))
		PTRY(pext(ev, "tls.server.ja3s", jstr(ja3s, "hash"), strlen(jstr(ja3s, "hash"))));
	if (jstr(t, "version"))
		PTRY(pext(ev, "tls.version", jstr(t, "version"), strlen(jstr(t, "version"))));
	return VIG_OK;
}

static enum vig_err flow(struct vig_event *ev, json_t *f)
{
	json_t *ts = json_object_get(f, "bytes_toserver"), *tc = json_object_get(f, "bytes_toclient");
	int64_t s;

	PTRY(pecs(ev, "event", "network", "connection", NULL, NULL));
	PTRY(sset(ev, VIG_F_SOURCE_BYTES, f, "bytes_toserver"));
	PTRY(sset(ev, VIG_F_DESTINATION_BYTES, f, "bytes_toclient"));
	if (json_is_integer(ts) && json_is_integer(tc))
		PTRY(vig_event_set_int(ev, VIG_F_NETWORK_BYTES, json_integer_value(ts) + json_integer_value(tc)));
	const char *st = jstr(f, "start"), *en = jstr(f, "end");
	if (st && ptime(st, strlen(st), &s))
		PTRY(vig_event_set_ts(ev, VIG_F_EVENT_START, s));
	if (en && ptime(en, strlen(en), &s))
		PTRY(vig_event_set_ts(ev, VIG_F_EVENT_END, s));
	return VIG_OK;
}

static enum vig_err fileinfo(struct vig_event *ev, json_t *f)
{
	const char *fn = jstr(f, "filename");

	PTRY(pecs(ev, "event", "file", "info", NULL, NULL));
	if (fn) {
		const char *slash = strrchr(fn, '/');
		PTRY(pset(ev, VIG_F_FILE_PATH, fn, strlen(fn)));
		PTRY(pset(ev, VIG_F_FILE_NAME, slash ? slash + 1 : fn, strlen(slash ? slash + 1 : fn)));
	}
	PTRY(sset(ev, VIG_F_FILE_SIZE, f, "size"));
	PTRY(sset(ev, VIG_F_FILE_HASH_SHA256, f, "sha256"));
	return VIG_OK;
}

/* The envelope and the per-type mapping. */
static enum vig_err map_eve(struct vig_event *ev, json_t *root, const char *type)
{
	json_t *obj = json_object_get(root, type);
	char prefix[64];
	int budget = MAX_FLAT;

	PTRY(sset(ev, VIG_F_SOURCE_IP, root, "src_ip"));
	PTRY(sset(ev, VIG_F_SOURCE_PORT, root, "src_port"));
	PTRY(sset(ev, VIG_F_DESTINATION_IP, root, "dest_ip"));
	PTRY(sset(ev, VIG_F_DESTINATION_PORT, root, "dest_port"));
	PTRY(sset(ev, VIG_F_NETWORK_PROTOCOL, root, "app_proto"));
	PTRY(sset(ev, VIG_F_HOST_NAME, root, "host"));
	if (jstr(root, "proto"))
		PTRY(ptransport(ev, jstr(root, "proto"), strlen(jstr(root, "proto"))));
	json_t *fid = json_object_get(root, "flow_id");
	if (json_is_integer(fid))
		PTRY(vig_event_ext_int(ev, "suricata.eve.flow_id", json_integer_value(fid)));
	if (jstr(root, "in_iface"))
		PTRY(pext(ev, "suricata.eve.in_iface", jstr(root, "in_iface"), strlen(jstr(root, "in_iface"))));
	PTRY(pext(ev, "suricata.eve.event_type", type, strlen(type)));
	PTRY(pconst(ev, VIG_F_OBSERVER_TYPE, "ids"));
	PTRY(pconst(ev, VIG_F_OBSERVER_VENDOR, "OISF"));
	PTRY(pconst(ev, VIG_F_OBSERVER_PRODUCT, "Suricata"));

	if (strcmp(type, "alert") == 0 && json_is_object(obj))
		PTRY(alert(ev, obj));
	else if (strcmp(type, "http") == 0 && json_is_object(obj)) {
		PTRY(pecs(ev, "event", "network", "protocol", NULL, NULL));
		PTRY(http(ev, obj));
	}
	else if (strcmp(type, "dns") == 0 && json_is_object(obj))
		PTRY(dns(ev, obj));
	else if (strcmp(type, "tls") == 0 && json_is_object(obj))
		PTRY(tls(ev, obj));
	else if (strcmp(type, "flow") == 0 && json_is_object(obj))
		PTRY(flow(ev, obj));
	else if (strcmp(type, "fileinfo") == 0 && json_is_object(obj))
		PTRY(fileinfo(ev, obj));
	else if (strcmp(type, "stats") == 0) {
		PTRY(pecs(ev, "metric", NULL, "info", NULL, NULL));
		json_t *up = json_object_get(obj, "uptime");
		if (json_is_integer(up))
			PTRY(vig_event_ext_int(ev, "suricata.eve.stats.uptime", json_integer_value(up)));
		return VIG_OK; /* hundreds of counters: not flattened */
	} else if (strcmp(type, "anomaly") == 0)
		PTRY(pecs(ev, "event", "network", "info", NULL, "failure"));
	else
		PTRY(pecs(ev, "event", "network", "info", NULL, NULL));
	if (json_is_object(obj) && snprintf(prefix, sizeof(prefix), "suricata.eve.%s", type) < (int)sizeof(prefix))
		PTRY(flatten(ev, prefix, obj, 1, &budget));
	/* Alerts carry the protocol objects of their flow too. */
	if (strcmp(type, "alert") == 0) {
		json_t *h = json_object_get(root, "http");
		if (json_is_object(h))
			PTRY(http(ev, h));
	}
	return VIG_OK;
}

enum vig_err vig_parse_suricata(struct vig_parse_ctx *ctx, const char *line, size_t len,
				struct vig_event *ev, char *errbuf)
{
	json_error_t jerr;
	json_t *root = NULL;
	enum vig_err rc;
	const char *type, *ts;
	int64_t ns;
	char dataset[48];

	PTRY(pbegin(ctx, ID, line, len, ev, errbuf));
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		rc = pfail(ctx, ID, VIG_PR_JSON, errbuf, "eve: %s at column %d",
			   root ? "not an object" : jerr.text, jerr.column);
		goto out_free;
	}
	type = jstr(root, "event_type");
	ts = jstr(root, "timestamp");
	if (!type || !*type || strlen(type) > 24) {
		rc = pfail(ctx, ID, VIG_PR_FIELD, errbuf, "eve: no event_type");
		goto out_free;
	}
	if (!ts || !ptime(ts, strlen(ts), &ns)) {
		rc = pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "eve: bad timestamp");
		goto out_free;
	}
	rc = vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns);
	if (rc == VIG_OK)
		rc = map_eve(ev, root, type);
	snprintf(dataset, sizeof(dataset), "suricata.eve");
	if (rc == VIG_OK)
		rc = pconst(ev, VIG_F_EVENT_DATASET, dataset);
	if (rc != VIG_OK) {
		rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
		goto out_free;
	}
	rc = pdone(ctx, ID, true);
out_free:
	json_decref(root);
	return rc;
}
