/*
 * zeek.c - Zeek logs in both writers' formats. TSV: a header ("#separator \x09",
 * "#set_separator", "#empty_field", "#unset_field", "#path", "#fields", "#types") sets the
 * stream state kept in the context; data lines are split on the separator, "\xHH" escapes
 * are decoded, the unset marker ("-") drops a column and the empty marker ("(empty)") is an
 * empty value. JSON: one object per line, "_path" naming the log when present. Both feed
 * the same column mapping: ts → @timestamp, id.orig_h/p → source.ip/port, id.resp_h/p →
 * destination.ip/port, proto → network.transport, service → network.protocol, duration →
 * event.duration (ns), orig_bytes/resp_bytes → source/destination.bytes, dns query/qtype_name,
 * http method/host/uri/user_agent/status_code/referrer, ssl server_name, notice note/msg; every
 * column is also kept as zeek.<log>.<column>. Dataset zeek.<log>.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "../common/vtime.h"
#include "parse_int.h"

#define ID VIG_PARSER_ZEEK

static enum vig_err col_ip(struct vig_event *ev, enum vig_field f, const char *v, size_t n)
{
	if (pset_ip(ev, f, v, n))
		return vig_event_list_add(ev, VIG_F_RELATED_IP, v, n);
	return VIG_OK;
}

/* Maps one column (name, text value) of log `path`. */
static enum vig_err column(struct vig_event *ev, const char *path, const char *k, const char *v,
			   size_t n)
{
	char key[VIG_EVENT_MAX_KEY + 1];
	int kn = snprintf(key, sizeof(key), "zeek.%s.%s", path[0] ? path : "log", k);

	if (strcmp(k, "ts") == 0)
		return VIG_OK; /* handled by the caller */
	if (kn > 0 && (size_t)kn < sizeof(key))
		PTRY(pext_num(ev, key, v, n));
	if (n == 0)
		return VIG_OK;
	if (strcmp(k, "id.orig_h") == 0)
		return col_ip(ev, VIG_F_SOURCE_IP, v, n);
	if (strcmp(k, "id.resp_h") == 0)
		return col_ip(ev, VIG_F_DESTINATION_IP, v, n);
	if (strcmp(k, "id.orig_p") == 0)
		return pset_int(ev, VIG_F_SOURCE_PORT, v, n), VIG_OK;
	if (strcmp(k, "id.resp_p") == 0)
		return pset_int(ev, VIG_F_DESTINATION_PORT, v, n), VIG_OK;
	if (strcmp(k, "proto") == 0)
		return ptransport(ev, v, n);
	if (strcmp(k, "service") == 0)
		return pset(ev, VIG_F_NETWORK_PROTOCOL, v, n);
	if (strcmp(k, "uid") == 0)
		return pset(ev, VIG_F_EVENT_ID, v, n);
	if (strcmp(k, "duration") == 0) {
		char b[40];
		if (n < sizeof(b)) {
			memcpy(b, v, n);
			b[n] = '\0';
			char *end;
			double d = strtod(b, &end);
			if (end == b + n && isfinite(d) && d >= 0 && d < 1e9)
				return vig_event_set_int(ev, VIG_F_EVENT_DURATION, (int64_t)(d * 1e9));
		}
		return VIG_OK;
	}
	if (strcmp(k, "orig_bytes") == 0)
		return pset_int(ev, VIG_F_SOURCE_BYTES, v, n), VIG_OK;
	if (strcmp(k, "resp_bytes") == 0)
		return pset_int(ev, VIG_F_DESTINATION_BYTES, v, n), VIG_OK;
	if (strcmp(k, "query") == 0)
		return pset(ev, VIG_F_DNS_QUESTION_NAME, v, n);
	if (strcmp(k, "qtype_name") == 0)
		return pset(ev, VIG_F_DNS_QUESTION_TYPE, v, n);
	if (strcmp(k, "method") == 0)
		return pset(ev, VIG_F_HTTP_REQUEST_METHOD, v, n);
	if (strcmp(k, "host") == 0 && strcmp(path, "http") == 0)
		return pset(ev, VIG_F_URL_DOMAIN, v, n);
	if (strcmp(k, "uri") == 0) {
		const char *q = memchr(v, '?', n);
		PTRY(pset(ev, VIG_F_URL_ORIGINAL, v, n));
		PTRY(pset(ev, VIG_F_URL_PATH, v, q ? (size_t)(q - v) : n));
		return q && n > (size_t)(q - v) + 1 ? pset(ev, VIG_F_URL_QUERY, q + 1, n - (size_t)(q - v) - 1) : VIG_OK;
	}
	if (strcmp(k, "user_agent") == 0)
		return pset(ev, VIG_F_USER_AGENT_ORIGINAL, v, n);
	if (strcmp(k, "status_code") == 0)
		return pset_int(ev, VIG_F_HTTP_RESPONSE_STATUS_CODE, v, n), VIG_OK;
	if (strcmp(k, "referrer") == 0)
		return pset(ev, VIG_F_HTTP_REQUEST_REFERRER, v, n);
	if (strcmp(k, "response_body_len") == 0)
		return pset_int(ev, VIG_F_HTTP_RESPONSE_BODY_BYTES, v, n), VIG_OK;
	if (strcmp(k, "server_name") == 0)
		return pset(ev, VIG_F_DESTINATION_DOMAIN, v, n);
	if (strcmp(k, "note") == 0)
		return pset(ev, VIG_F_RULE_NAME, v, n);
	if (strcmp(k, "username") == 0 || strcmp(k, "user") == 0)
		return pset(ev, VIG_F_USER_NAME, v, n);
	if (strcmp(k, "src") == 0 && !vig_event_get(ev, VIG_F_SOURCE_IP))
		return col_ip(ev, VIG_F_SOURCE_IP, v, n);
	if (strcmp(k, "dst") == 0 && !vig_event_get(ev, VIG_F_DESTINATION_IP))
		return col_ip(ev, VIG_F_DESTINATION_IP, v, n);
	if (strcmp(k, "name") == 0 && strcmp(path, "weird") == 0)
		return pset(ev, VIG_F_EVENT_ACTION, v, n);
	return VIG_OK;
}

/* Dataset and ECS classification of a log. */
static enum vig_err classify(struct vig_event *ev, const char *path)
{
	char ds[80];

	snprintf(ds, sizeof(ds), "zeek.%s", path[0] ? path : "log");
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, ds));
	PTRY(pconst(ev, VIG_F_OBSERVER_TYPE, "ids"));
	PTRY(pconst(ev, VIG_F_OBSERVER_PRODUCT, "Zeek"));
	if (strcmp(path, "notice") == 0)
		return pecs(ev, "alert", "intrusion_detection", "info", NULL, NULL);
	if (strcmp(path, "conn") == 0)
		return pecs(ev, "event", "network", "connection", NULL, NULL);
	if (strcmp(path, "weird") == 0)
		return pecs(ev, "event", "network", "info", NULL, NULL);
	if (strcmp(path, "files") == 0 || strcmp(path, "pe") == 0 || strcmp(path, "x509") == 0)
		return pecs(ev, "event", "file", "info", NULL, NULL);
	if (strcmp(path, "stats") == 0 || strcmp(path, "capture_loss") == 0)
		return pecs(ev, "metric", NULL, "info", NULL, NULL);
	return pecs(ev, "event", "network", "protocol", NULL, NULL);
}

static enum vig_err set_ts(struct vig_event *ev, const char *v, size_t n)
{
	int64_t ns;

	if (!ptime(v, n, &ns))
		return VIG_EPARSE;
	return vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns);
}

/* ---- TSV. ---- */

/* Decodes "\xHH" escapes into the arena. */
static const char *unescape(struct vig_event *ev, const char *v, size_t n, size_t *out_n)
{
	char *o;
	size_t k = 0;

	if (!memchr(v, '\\', n)) {
		*out_n = n;
		return v;
	}
	o = vig_arena_alloc(ev->arena, n + 1);
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] == '\\' && i + 3 < n && v[i + 1] == 'x' && phex_decode(v + i + 2, 2, o + k, 1) == 1) {
			k++;
			i += 3;
		} else {
			o[k++] = v[i];
		}
	}
	*out_n = k;
	return o;
}

/* Header line: updates the stream state. */
static enum vig_err header(struct vig_parse_ctx *ctx, const char *p, size_t n, char *errbuf)
{
	struct vig_zeek_state *z = &ctx->zeek;

	if (ps_starts(p, n, "#separator ")) {
		char c;
		if (n == 15 && p[11] == '\\' && p[12] == 'x' && phex_decode(p + 13, 2, &c, 1) == 1)
			z->sep = c;
		else if (n == 12)
			z->sep = p[11];
		else
			return pfail(ctx, ID, VIG_PR_HEADER, errbuf, "zeek: bad #separator");
		z->n_fields = 0;
		return VIG_ENOTFOUND;
	}
	const char *s = memchr(p, z->sep, n);
	if (!s)
		return VIG_ENOTFOUND; /* "#close" without a value and the like */
	size_t kn = (size_t)(s - p);
	const char *v = s + 1;
	size_t vn = n - kn - 1;
	if (ps_eq(p, kn, "#path")) {
		if (vn == 0 || vn >= sizeof(z->path))
			return pfail(ctx, ID, VIG_PR_HEADER, errbuf, "zeek: bad #path");
		for (size_t i = 0; i < vn; i++)
			if (!((v[i] >= 'a' && v[i] <= 'z') || ps_digit(v[i]) || v[i] == '_' || v[i] == '-'))
				return pfail(ctx, ID, VIG_PR_HEADER, errbuf, "zeek: bad #path");
		memcpy(z->path, v, vn);
		z->path[vn] = '\0';
	} else if (ps_eq(p, kn, "#fields")) {
		size_t used = 0, i = 0;
		uint16_t nf = 0;
		while (i <= vn) {
			const char *e = memchr(v + i, z->sep, vn - i);
			size_t fl = e ? (size_t)(e - v - i) : vn - i;
			if (nf >= VIG_ZEEK_MAX_FIELDS || used + fl + 1 > sizeof(z->names) || fl == 0 || fl > 64)
				return pfail(ctx, ID, VIG_PR_HEADER, errbuf, "zeek: #fields over the limits");
			memcpy(z->names + used, v + i, fl);
			z->names[used + fl] = '\0';
			z->name_off[nf++] = (uint16_t)used;
			used += fl + 1;
			if (!e)
				break;
			i += fl + 1;
		}
		z->n_fields = nf;
	}
	return VIG_ENOTFOUND;
}

static enum vig_err tsv(struct vig_parse_ctx *ctx, const char *p, size_t n, struct vig_event *ev,
			char *errbuf)
{
	struct vig_zeek_state *z = &ctx->zeek;
	size_t i = 0;
	uint16_t col = 0;

	if (z->n_fields == 0)
		return pfail(ctx, ID, VIG_PR_HEADER, errbuf, "zeek: data before a #fields header");
	while (i <= n && col < z->n_fields) {
		const char *e = memchr(p + i, z->sep, n - i);
		size_t fl = e ? (size_t)(e - p - i) : n - i;
		const char *name = z->names + z->name_off[col];
		const char *v = p + i;
		if (!ps_eq(v, fl, "-")) {
			size_t vn = 0;
			if (ps_eq(v, fl, "(empty)"))
				v = "";
			else if (!(v = unescape(ev, v, fl, &vn)))
				return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
			if (strcmp(name, "ts") == 0) {
				enum vig_err rc = set_ts(ev, v, vn);
				if (rc == VIG_EPARSE)
					return pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "zeek: bad ts");
				} else if (column(ev, z->path, name, v, vn) != VIG_OK) {
				return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
			}
		}
		col++;
		if (!e)
			break;
		i += fl + 1;
	}
	if (col != z->n_fields)
		return pfail(ctx, ID, VIG_PR_FIELD, errbuf, "zeek: %u of %u columns", col, z->n_fields);
	if (classify(ev, z->path) != VIG_OK)
		return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
	return pdone(ctx, ID, true);
}

/* ---- JSON. ---- */

/* Text of a scalar or an array of scalars (items joined by ','); nested arrays are left out. */
static size_t jtext(json_t *v, char *out, size_t cap, int depth)
{
	int n = 0;

	switch (json_typeof(v)) {
	case JSON_STRING:
		n = snprintf(out, cap, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		n = snprintf(out, cap, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		n = snprintf(out, cap, "%.6f", json_real_value(v));
		break;
	case JSON_TRUE:
		n = snprintf(out, cap, "T");
		break;
	case JSON_FALSE:
		n = snprintf(out, cap, "F");
		break;
	case JSON_ARRAY: {
		size_t o = 0, idx;
		json_t *it;
		json_array_foreach(v, idx, it) {
			if (o + 2 >= cap || depth > 0)
				break;
			if (idx)
				out[o++] = ',';
			o += jtext(it, out + o, cap - o, depth + 1);
		}
		if (cap)
			out[VIG_MIN(o, cap - 1)] = '\0';
		return VIG_MIN(o, cap ? cap - 1 : 0);
	}
	default:
		if (cap)
			out[0] = '\0';
		return 0;
	}
	if (n < 0)
		n = 0;
	return VIG_MIN((size_t)n, cap ? cap - 1 : 0);
}

static enum vig_err json_line(struct vig_parse_ctx *ctx, const char *p, size_t n,
			      struct vig_event *ev, char *errbuf)
{
	json_error_t jerr;
	json_t *root = json_loadb(p, n, 0, &jerr), *v;
	const char *k, *path = "";
	char path_buf[64];
	enum vig_err rc = VIG_OK;
	char *text = NULL;

	if (!json_is_object(root)) {
		rc = pfail(ctx, ID, VIG_PR_JSON, errbuf, "zeek json: %s", root ? "not an object" : jerr.text);
		goto out_free;
	}
	const char *jp = json_string_value(json_object_get(root, "_path"));
	if (jp && strlen(jp) < sizeof(path_buf)) {
		snprintf(path_buf, sizeof(path_buf), "%s", jp);
		path = path_buf;
	}
	text = vig_arena_alloc(ev->arena, 8192);
	if (!text) {
		rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
		goto out_free;
	}
	json_object_foreach(root, k, v) {
		if (k[0] == '_' || json_is_null(v) || json_is_object(v))
			continue;
		size_t tn = jtext(v, text, 8192, 0);
		if (strcmp(k, "ts") == 0) {
			if (set_ts(ev, text, tn) != VIG_OK) {
				rc = pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "zeek json: bad ts");
				goto out_free;
			}
		} else if (column(ev, path, k, text, tn) != VIG_OK) {
			rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
			goto out_free;
		}
	}
	if (classify(ev, path) != VIG_OK) {
		rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
		goto out_free;
	}
	rc = pdone(ctx, ID, true);
out_free:
	json_decref(root);
	return rc;
}

enum vig_err vig_parse_zeek(struct vig_parse_ctx *ctx, const char *line, size_t len,
			    struct vig_event *ev, char *errbuf)
{
	enum vig_err rc;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len && line[0] == '#') {
		if (len > VIG_PARSE_MAX_LINE)
			return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "header over the limit");
		rc = header(ctx, line, len, errbuf);
		if (rc == VIG_ENOTFOUND)
			ctx->stats[ID].skipped++;
		return rc;
	}
	PTRY(pbegin(ctx, ID, line, len, ev, errbuf));
	if (line[0] == '{')
		return json_line(ctx, line, len, ev, errbuf);
	return tsv(ctx, line, len, ev, errbuf);
}
