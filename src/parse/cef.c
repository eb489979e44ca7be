/*
 * cef.c - ArcSight CEF ("CEF:0|vendor|product|version|signature id|name|severity|ext") and IBM
 * LEEF 1.0 ("LEEF:1.0|vendor|product|version|event id|k=v<TAB>k=v") and 2.0 (a sixth header
 * field names the attribute delimiter: a character, or hex as "x09"/"0x09"/"\t"). Either may
 * follow a syslog header. Header pipes may be escaped (\| \\). CEF extension values run to
 * the next " key=" and unescape \= \\ \n \r; every key is kept as cef.<key> / leef.<key>, and
 * the common ones (src dst spt dpt suser duser act request app proto shost dhost rt cs1..cs6
 * with their csNLabel, fname filePath requestMethod ...) map to event-model fields.
 */
#include <stdlib.h>

#include "../common/vtime.h"
#include "parse_int.h"

/* Maps a CEF/LEEF key to a core field, or -1. */
static int core_of(const char *k, size_t n)
{
	static const struct {
		const char *key;
		enum vig_field f;
	} map[] = {
		{"src", VIG_F_SOURCE_IP}, {"dst", VIG_F_DESTINATION_IP}, {"spt", VIG_F_SOURCE_PORT},
		{"dpt", VIG_F_DESTINATION_PORT}, {"srcPort", VIG_F_SOURCE_PORT},
		{"dstPort", VIG_F_DESTINATION_PORT}, {"suser", VIG_F_USER_NAME},
		{"usrName", VIG_F_USER_NAME}, {"duser", VIG_F_USER_TARGET_NAME},
		{"act", VIG_F_EVENT_ACTION}, {"action", VIG_F_EVENT_ACTION},
		{"request", VIG_F_URL_ORIGINAL}, {"url", VIG_F_URL_ORIGINAL},
		{"app", VIG_F_NETWORK_PROTOCOL}, {"shost", VIG_F_SOURCE_DOMAIN},
		{"dhost", VIG_F_DESTINATION_DOMAIN}, {"dvchost", VIG_F_OBSERVER_NAME},
		{"dvc", VIG_F_HOST_IP}, {"fname", VIG_F_FILE_NAME}, {"filePath", VIG_F_FILE_PATH},
		{"fsize", VIG_F_FILE_SIZE}, {"requestMethod", VIG_F_HTTP_REQUEST_METHOD},
		{"requestClientApplication", VIG_F_USER_AGENT_ORIGINAL},
		{"sproc", VIG_F_PROCESS_NAME}, {"spid", VIG_F_PROCESS_PID},
		{"dproc", VIG_F_PROCESS_NAME}, {"dpid", VIG_F_PROCESS_PID},
		{"outcome", VIG_F_EVENT_OUTCOME}, {"in", VIG_F_SOURCE_BYTES},
		{"out", VIG_F_DESTINATION_BYTES}, {"dntdom", VIG_F_DESTINATION_DOMAIN},
		{"fileHash", VIG_F_FILE_HASH_SHA256}, {"identSrc", VIG_F_SOURCE_IP},
	};

	for (size_t i = 0; i < VIG_ARRAY_LEN(map); i++)
		if (ps_eq(k, n, map[i].key))
			return (int)map[i].f;
	return -1;
}

/* Sets one attribute: prefix.<key> extension plus its core mapping. */
static enum vig_err attr(struct vig_event *ev, const char *prefix, const char *k, size_t kn,
			 const char *v, size_t vn)
{
	char key[VIG_EVENT_MAX_KEY + 1];
	int f = core_of(k, kn);
	int n = snprintf(key, sizeof(key), "%s.%.*s", prefix, (int)kn, k);

	if (n > 0 && (size_t)n < sizeof(key))
		PTRY(pext(ev, key, v, vn));
	if (f >= 0 && vn) {
		if ((enum vig_field)f == VIG_F_PROCESS_NAME || (enum vig_field)f == VIG_F_PROCESS_PID ||
		    (enum vig_field)f == VIG_F_EVENT_ACTION)
			if (vig_event_get(ev, (enum vig_field)f))
				return VIG_OK;
		enum vig_err rc = vig_event_set_text(ev, (enum vig_field)f, v, vn);
		if (rc == VIG_ETOOBIG)
			return rc;
	}
	if ((ps_eq(k, kn, "proto") || ps_eq(k, kn, "protocol")) && vn)
		PTRY(ptransport(ev, v, vn));
	/* The device's time (rt, devTime) wins over a syslog header's; end only fills a gap. */
	if ((ps_eq(k, kn, "rt") || ps_eq(k, kn, "devTime") ||
	     (ps_eq(k, kn, "end") && !vig_event_get(ev, VIG_F_TIMESTAMP))) && vn) {
		int64_t ms, ns;
		if (vig_parse_i64(v, vn, &ms) && ms > 100000000000LL && ms < INT64_MAX / 1000000)
			PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ms * 1000000));
		else if (ptime(v, vn, &ns))
			PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
		else if (vn >= 20 && pmonth(v) && v[3] == ' ' && v[6] == ' ' && v[11] == ' ' &&
			 v[14] == ':' && v[17] == ':') {
			/* "MMM dd yyyy HH:mm:ss" */
			int y = p2(v + 7) * 100 + p2(v + 9);
			if (p2(v + 4) > 0 && p2(v + 7) >= 0 && p2(v + 9) >= 0 && p2(v + 12) >= 0 &&
			    p2(v + 15) >= 0 && p2(v + 18) >= 0 &&
			    pcivil_ns(y, pmonth(v), p2(v + 4), p2(v + 12), p2(v + 15), p2(v + 18), &ns))
				PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
		}
	}
	return VIG_OK;
}

/* Splits the header at unescaped pipes; fields are unescaped into the arena. Returns the
 * number of fields found (at most max), *rest the text after the last one. */
static size_t header(struct vig_event *ev, const char *p, size_t n, struct pspan *out, size_t max,
		     size_t *rest)
{
	size_t k = 0, i = 0, s = 0;

	while (i < n && k < max) {
		if (p[i] == '\\' && i + 1 < n) {
			i += 2;
			continue;
		}
		if (p[i] == '|') {
			out[k].p = p + s;
			out[k].n = i - s;
			if (memchr(out[k].p, '\\', out[k].n)) {
				char *o = vig_arena_alloc(ev->arena, out[k].n + 1);
				size_t m = 0;
				if (!o)
					return 0;
				for (size_t j = 0; j < out[k].n; j++) {
					if (out[k].p[j] == '\\' && j + 1 < out[k].n)
						j++;
					o[m++] = out[k].p[j];
				}
				out[k].p = o;
				out[k].n = m;
			}
			k++;
			s = i + 1;
		}
		i++;
	}
	*rest = s;
	return k;
}

static enum vig_err cef_severity(struct vig_event *ev, struct pspan s)
{
	int64_t v;

	if (vig_parse_i64(s.p, s.n, &v))
		return vig_event_set_int(ev, VIG_F_EVENT_SEVERITY, v);
	if (ps_eq(s.p, s.n, "Low"))
		v = 3;
	else if (ps_eq(s.p, s.n, "Medium"))
		v = 6;
	else if (ps_eq(s.p, s.n, "High"))
		v = 8;
	else if (ps_eq(s.p, s.n, "Very-High"))
		v = 10;
	else
		return VIG_OK;
	return vig_event_set_int(ev, VIG_F_EVENT_SEVERITY, v);
}

/* True when p[i..] starts a CEF extension key: [A-Za-z0-9_.[\]]+ followed by '='. */
static size_t key_len_at(const char *p, size_t n, size_t i)
{
	size_t j = i;

	while (j < n && ((p[j] >= 'a' && p[j] <= 'z') || (p[j] >= 'A' && p[j] <= 'Z') ||
			 ps_digit(p[j]) || p[j] == '_' || p[j] == '.' || p[j] == '[' || p[j] == ']'))
		j++;
	return j > i && j < n && p[j] == '=' ? j - i : 0;
}

/* csNLabel=Foo csN=bar → cef.label.Foo = bar. */
static enum vig_err cef_labels(struct vig_event *ev)
{
	static const char *const kinds[] = {"cs", "cn", "cfp", "flexString", "deviceCustomDate"};
	char lk[64], vk[64], key[VIG_EVENT_MAX_KEY + 1];

	for (size_t t = 0; t < VIG_ARRAY_LEN(kinds); t++) {
		for (int i = 1; i <= 6; i++) {
			snprintf(lk, sizeof(lk), "cef.%s%dLabel", kinds[t], i);
			snprintf(vk, sizeof(vk), "cef.%s%d", kinds[t], i);
			const struct vig_val *l = vig_event_ext_get(ev, lk, strlen(lk));
			const struct vig_val *v = vig_event_ext_get(ev, vk, strlen(vk));
			if (!l || !v || l->type != VIG_T_STR || v->type != VIG_T_STR || l->n == 0)
				continue;
			int n = snprintf(key, sizeof(key), "cef.label.%s", l->u.s);
			if (n > 0 && (size_t)n < sizeof(key) && !memchr(l->u.s, ' ', l->n))
				PTRY(pext(ev, key, v->u.s, v->n));
		}
	}
	return VIG_OK;
}

static enum vig_err cef_ext(struct vig_event *ev, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		size_t kl = key_len_at(p, n, i);
		if (!kl)
			break;
		const char *k = p + i;
		size_t vs = i + kl + 1, j = vs;
		/* The value ends before the next " key=". */
		while (j < n) {
			if (p[j] == '\\' && j + 1 < n) {
				j += 2;
				continue;
			}
			if (p[j] == ' ' && key_len_at(p, n, j + 1))
				break;
			j++;
		}
		size_t ve = j;
		while (ve > vs && p[ve - 1] == ' ')
			ve--;
		char *o = vig_arena_alloc(ev->arena, ve - vs + 1);
		size_t m = 0;
		if (!o)
			return VIG_ETOOBIG;
		for (size_t x = vs; x < ve; x++) {
			char c = p[x];
			if (c == '\\' && x + 1 < ve) {
				c = p[++x];
				c = c == 'n' ? '\n' : c == 'r' ? '\r' : c;
			}
			o[m++] = c;
		}
		PTRY(attr(ev, "cef", k, kl, o, m));
		i = j;
	}
	return cef_labels(ev);
}

enum vig_err vig_parse_cef(struct vig_parse_ctx *ctx, const char *line, size_t len,
			   struct vig_event *ev, char *errbuf)
{
	struct pspan h[7];
	size_t rest;
	const char *c;

	PTRY(pbegin(ctx, VIG_PARSER_CEF, line, len, ev, errbuf));
	c = ps_find(line, len, "CEF:");
	if (!c)
		return pfail(ctx, VIG_PARSER_CEF, VIG_PR_FRAMING, errbuf, "no CEF: header");
	if (c > line) {
		struct pspan prog, msg;
		struct vig_parse_stats saved = ctx->stats[VIG_PARSER_SYSLOG];
		psyslog_frame(ctx, line, (size_t)(c - line), ev, &prog, &msg, NULL);
		ctx->stats[VIG_PARSER_SYSLOG] = saved;
	}
	size_t n = len - (size_t)(c - line) - 4;
	c += 4;
	if (header(ev, c, n, h, 7, &rest) != 7)
		return pfail(ctx, VIG_PARSER_CEF, VIG_PR_FRAMING, errbuf, "cef header needs 7 fields");
	PTRY(pext(ev, "cef.version", h[0].p, h[0].n));
	PTRY(pset(ev, VIG_F_OBSERVER_VENDOR, h[1].p, h[1].n));
	PTRY(pset(ev, VIG_F_OBSERVER_PRODUCT, h[2].p, h[2].n));
	PTRY(pext(ev, "cef.device_version", h[3].p, h[3].n));
	PTRY(pset(ev, VIG_F_EVENT_CODE, h[4].p, h[4].n));
	PTRY(pset(ev, VIG_F_RULE_ID, h[4].p, h[4].n));
	PTRY(pset(ev, VIG_F_RULE_NAME, h[5].p, h[5].n));
	PTRY(cef_severity(ev, h[6]));
	if (cef_ext(ev, c + rest, n - rest) != VIG_OK)
		return pfail(ctx, VIG_PARSER_CEF, VIG_PR_TOO_LONG, errbuf, "event arena full");
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "cef"));
	PTRY(pconst(ev, VIG_F_EVENT_KIND, "event"));
	return pdone(ctx, VIG_PARSER_CEF, true);
}

/* LEEF 2.0 delimiter spec → char; 0 if unreadable. */
static char leef_delim(struct pspan d)
{
	char buf[4];

	if (d.n == 1)
		return d.p[0];
	if (ps_eq(d.p, d.n, "\\t"))
		return '\t';
	if (d.n >= 2 && (d.p[0] == 'x' || d.p[0] == 'X') && d.n <= 3 &&
	    phex_decode(d.p + 1, d.n - 1, buf, 1) == 1)
		return buf[0];
	if (d.n == 4 && d.p[0] == '0' && (d.p[1] == 'x' || d.p[1] == 'X') &&
	    phex_decode(d.p + 2, 2, buf, 1) == 1)
		return buf[0];
	return 0;
}

enum vig_err vig_parse_leef(struct vig_parse_ctx *ctx, const char *line, size_t len,
			    struct vig_event *ev, char *errbuf)
{
	struct pspan h[6];
	size_t rest, nh;
	char delim = '\t';
	const char *c;

	PTRY(pbegin(ctx, VIG_PARSER_LEEF, line, len, ev, errbuf));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	c = ps_find(line, len, "LEEF:");
	if (!c)
		return pfail(ctx, VIG_PARSER_LEEF, VIG_PR_FRAMING, errbuf, "no LEEF: header");
	if (c > line) {
		struct pspan prog, msg;
		struct vig_parse_stats saved = ctx->stats[VIG_PARSER_SYSLOG];
		psyslog_frame(ctx, line, (size_t)(c - line), ev, &prog, &msg, NULL);
		ctx->stats[VIG_PARSER_SYSLOG] = saved;
	}
	size_t n = len - (size_t)(c - line) - 5;
	c += 5;
	bool v2 = ps_starts(c, n, "2.0|");
	nh = header(ev, c, n, h, v2 ? 6 : 5, &rest);
	if (nh != (v2 ? 6u : 5u))
		return pfail(ctx, VIG_PARSER_LEEF, VIG_PR_FRAMING, errbuf, "leef header needs %d fields",
			     v2 ? 6 : 5);
	if (v2) {
		delim = leef_delim(h[5]);
		if (!delim)
			return pfail(ctx, VIG_PARSER_LEEF, VIG_PR_FRAMING, errbuf, "leef 2.0: bad delimiter");
	}
	PTRY(pext(ev, "leef.version", h[0].p, h[0].n));
	PTRY(pset(ev, VIG_F_OBSERVER_VENDOR, h[1].p, h[1].n));
	PTRY(pset(ev, VIG_F_OBSERVER_PRODUCT, h[2].p, h[2].n));
	PTRY(pext(ev, "leef.product_version", h[3].p, h[3].n));
	PTRY(pset(ev, VIG_F_EVENT_CODE, h[4].p, h[4].n));
	const char *a = c + rest, *e = c + n;
	while (a < e) {
		const char *d = memchr(a, delim, (size_t)(e - a));
		const char *end = d ? d : e;
		const char *eq = memchr(a, '=', (size_t)(end - a));
		if (eq && eq > a) {
			enum vig_err rc = attr(ev, "leef", a, (size_t)(eq - a), eq + 1, (size_t)(end - eq - 1));
			if (rc != VIG_OK)
				return pfail(ctx, VIG_PARSER_LEEF, VIG_PR_TOO_LONG, errbuf, "event arena full");
			if (ps_eq(a, (size_t)(eq - a), "sev"))
				pset_int(ev, VIG_F_EVENT_SEVERITY, eq + 1, (size_t)(end - eq - 1));
		}
		a = d ? d + 1 : e;
	}
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "leef"));
	PTRY(pconst(ev, VIG_F_EVENT_KIND, "event"));
	return pdone(ctx, VIG_PARSER_LEEF, true);
}
