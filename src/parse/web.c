/*
 * web.c - web server logs. Access logs in the NCSA common format and the combined format
 * (Apache's "combined", nginx's default "main"): 'host ident user [dd/Mon/yyyy:hh:mm:ss +zzzz]
 * "METHOD target HTTP/v" status bytes ["referrer" "user-agent"]' → dataset apache.access;
 * and the Apache error log ('[Www Mmm dd hh:mm:ss[.usec] yyyy] [module:level] [pid N:tid M]
 * [client ip:port] text') → dataset apache.error. A malformed request line (scanners send
 * binary) is kept in http.request.raw, the rest of the record still parses.
 */
#include "../common/vtime.h"
#include "parse_int.h"

#define ID VIG_PARSER_APACHE

/* "dd/Mon/yyyy:hh:mm:ss +zzzz" (26 bytes). */
static bool clf_time(const char *p, size_t n, int64_t *ns)
{
	int d, mo, y, h, mi, s, off;

	if (n != 26 || p[2] != '/' || p[6] != '/' || p[11] != ':' || p[20] != ' ')
		return false;
	d = p2(p);
	mo = pmonth(p + 3);
	y = p2(p + 7) * 100 + p2(p + 9);
	h = p2(p + 12);
	mi = p2(p + 15);
	s = p2(p + 18);
	if (d < 1 || d > 31 || !mo || y < 1970 || p2(p + 7) < 0 || p2(p + 9) < 0 || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 60 || !ptz(p + 21, 5, &off))
		return false;
	if (!pcivil_ns(y, mo, d, h, mi, s, ns))
		return false;
	*ns -= (int64_t)off * VIG_NS_PER_SEC;
	return true;
}

/* A quoted field at p[*i] ('"..."' with \" escapes) → span without quotes. */
static bool quoted(const char *p, size_t n, size_t *i, struct pspan *out)
{
	size_t j = *i;

	if (j >= n || p[j] != '"')
		return false;
	j++;
	out->p = p + j;
	while (j < n && p[j] != '"') {
		if (p[j] == '\\' && j + 1 < n)
			j++;
		j++;
	}
	if (j >= n)
		return false;
	out->n = (size_t)(p + j - out->p);
	*i = j + 1;
	return true;
}

static bool word(const char *p, size_t n, size_t *i, struct pspan *out)
{
	size_t s = *i;

	while (*i < n && p[*i] != ' ')
		(*i)++;
	out->p = p + s;
	out->n = *i - s;
	while (*i < n && p[*i] == ' ')
		(*i)++;
	return out->n > 0;
}

/* "METHOD target HTTP/v" → http.*, url.*. */
static enum vig_err request(struct vig_event *ev, struct pspan r)
{
	const char *sp1 = memchr(r.p, ' ', r.n), *sp2, *q;

	if (!sp1 || ps_eq(r.p, r.n, "-"))
		return r.n && !ps_eq(r.p, r.n, "-") ? pext(ev, "http.request.raw", r.p, r.n) : VIG_OK;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(r.p + r.n - sp1 - 1));
	size_t mn = (size_t)(sp1 - r.p);
	for (size_t i = 0; i < mn; i++)
		if (r.p[i] < 'A' || r.p[i] > 'Z')
			return pext(ev, "http.request.raw", r.p, r.n);
	PTRY(pset(ev, VIG_F_HTTP_REQUEST_METHOD, r.p, mn));
	const char *u = sp1 + 1, *ue = sp2 ? sp2 : r.p + r.n;
	PTRY(pset(ev, VIG_F_URL_ORIGINAL, u, (size_t)(ue - u)));
	q = memchr(u, '?', (size_t)(ue - u));
	PTRY(pset(ev, VIG_F_URL_PATH, u, (size_t)((q ? q : ue) - u)));
	if (q && ue > q + 1)
		PTRY(pset(ev, VIG_F_URL_QUERY, q + 1, (size_t)(ue - q - 1)));
	if (sp2 && ps_starts(sp2 + 1, (size_t)(r.p + r.n - sp2 - 1), "HTTP/"))
		PTRY(pext(ev, "http.version", sp2 + 6, (size_t)(r.p + r.n - sp2 - 6)));
	return VIG_OK;
}

static enum vig_err access_log(struct vig_parse_ctx *ctx, const char *p, size_t n,
			       struct vig_event *ev, char *errbuf)
{
	struct pspan host, ident, user, ts, req, status, bytes, ref, ua;
	size_t i = 0;
	int64_t ns, code;

	if (!word(p, n, &i, &host) || !word(p, n, &i, &ident) || i >= n)
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "access log: no host and ident");
	/* The user may hold spaces in odd logs: it runs to " [". */
	const char *lb = ps_find(p + i, n - i, " [");
	if (p[i] == '[') {
		user.p = p + i;
		user.n = 0;
	} else {
		if (!lb)
			return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "access log: no [time]");
		user.p = p + i;
		user.n = (size_t)(lb - user.p);
		i = (size_t)(lb - p) + 1;
	}
	const char *rb = memchr(p + i, ']', n - i);
	if (!rb || p[i] != '[')
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "access log: no [time]");
	ts.p = p + i + 1;
	ts.n = (size_t)(rb - ts.p);
	if (!clf_time(ts.p, ts.n, &ns))
		return pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "access log: bad time");
	i = (size_t)(rb - p) + 1;
	while (i < n && p[i] == ' ')
		i++;
	if (!quoted(p, n, &i, &req))
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "access log: no quoted request");
	while (i < n && p[i] == ' ')
		i++;
	if (!word(p, n, &i, &status) || !vig_parse_i64(status.p, status.n, &code))
		return pfail(ctx, ID, VIG_PR_FIELD, errbuf, "access log: bad status");
	word(p, n, &i, &bytes);
	PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
	if (!pset_ip(ev, VIG_F_SOURCE_IP, host.p, host.n))
		PTRY(pset(ev, VIG_F_SOURCE_DOMAIN, host.p, host.n));
	if (user.n && !ps_eq(user.p, user.n, "-"))
		PTRY(pset(ev, VIG_F_USER_NAME, user.p, user.n));
	PTRY(request(ev, req));
	PTRY(vig_event_set_int(ev, VIG_F_HTTP_RESPONSE_STATUS_CODE, code));
	if (bytes.n && !pset_int(ev, VIG_F_HTTP_RESPONSE_BODY_BYTES, bytes.p, bytes.n) &&
	    !ps_eq(bytes.p, bytes.n, "-"))
		return pfail(ctx, ID, VIG_PR_FIELD, errbuf, "access log: bad byte count");
	if (quoted(p, n, &i, &ref) && ref.n && !ps_eq(ref.p, ref.n, "-"))
		PTRY(pset(ev, VIG_F_HTTP_REQUEST_REFERRER, ref.p, ref.n));
	while (i < n && p[i] == ' ')
		i++;
	if (quoted(p, n, &i, &ua) && ua.n && !ps_eq(ua.p, ua.n, "-"))
		PTRY(pset(ev, VIG_F_USER_AGENT_ORIGINAL, ua.p, ua.n));
	PTRY(pecs(ev, "event", "web", code >= 400 ? "error" : "access", NULL,
		  code >= 400 ? "failure" : "success"));
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "apache.access"));
	return pdone(ctx, ID, true);
}

/* "[Www Mmm dd hh:mm:ss[.usec] yyyy]" → ns. */
static bool err_time(const char *p, size_t n, int64_t *ns)
{
	int mo, d, h, mi, s, y;
	int64_t frac = 0;
	size_t i = 20;

	if (n < 24 || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[13] != ':' || p[16] != ':')
		return false;
	mo = pmonth(p + 4);
	d = p[8] == ' ' ? p[9] - '0' : p2(p + 8);
	h = p2(p + 11);
	mi = p2(p + 14);
	s = p2(p + 17);
	if (i < n && p[19] == '.') {
		int64_t scale = 100000000;
		for (i = 20; i < n && ps_digit(p[i]); i++, scale /= 10)
			frac += (p[i] - '0') * scale;
	} else {
		i = 19;
	}
	if (i + 5 != n || p[i] != ' ' || !mo || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || s < 0 || s > 60 || p2(p + i + 1) < 0 || p2(p + i + 3) < 0)
		return false;
	y = p2(p + i + 1) * 100 + p2(p + i + 3);
	if (!pcivil_ns(y, mo, d, h, mi, s, ns))
		return false;
	*ns += frac;
	return true;
}

static enum vig_err error_log(struct vig_parse_ctx *ctx, const char *p, size_t n,
			      struct vig_event *ev, char *errbuf)
{
	const char *rb = memchr(p, ']', n);
	int64_t ns;
	size_t i;

	if (!rb || !err_time(p + 1, (size_t)(rb - p - 1), &ns))
		return pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "error log: bad [time]");
	PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
	i = (size_t)(rb - p) + 1;
	/* Bracketed fields: [module:level] or [level], [pid N(:tid M)], [client ip(:port)]. */
	for (int k = 0; k < 4; k++) {
		while (i < n && p[i] == ' ')
			i++;
		if (i >= n || p[i] != '[')
			break;
		const char *e = memchr(p + i, ']', n - i);
		if (!e)
			break;
		const char *f = p + i + 1;
		size_t fn = (size_t)(e - f);
		if (ps_starts(f, fn, "pid ")) {
			const char *c = memchr(f, ':', fn);
			pset_int(ev, VIG_F_PROCESS_PID, f + 4, (size_t)((c ? c : e) - f - 4));
		} else if (ps_starts(f, fn, "client ")) {
			const char *ip = f + 7;
			size_t in = fn - 7;
			const char *c = memrchr(ip, ':', in);
			if (!pset_ip(ev, VIG_F_SOURCE_IP, ip, in) && c) {
				pset_ip(ev, VIG_F_SOURCE_IP, ip, (size_t)(c - ip));
				pset_int(ev, VIG_F_SOURCE_PORT, c + 1, (size_t)(ip + in - c - 1));
			}
		} else if (k == 0) {
			const char *c = memchr(f, ':', fn);
			if (c) {
				PTRY(pext(ev, "apache.error.module", f, (size_t)(c - f)));
				PTRY(pset(ev, VIG_F_LOG_LEVEL, c + 1, (size_t)(e - c - 1)));
			} else {
				PTRY(pset(ev, VIG_F_LOG_LEVEL, f, fn));
			}
		} else {
			break;
		}
		i = (size_t)(e - p) + 1;
	}
	while (i < n && p[i] == ' ')
		i++;
	if (i < n)
		PTRY(pext(ev, "apache.error.message", p + i, n - i));
	PTRY(pecs(ev, "event", "web", "error", NULL, NULL));
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "apache.error"));
	return pdone(ctx, ID, true);
}

enum vig_err vig_parse_apache(struct vig_parse_ctx *ctx, const char *line, size_t len,
			      struct vig_event *ev, char *errbuf)
{
	PTRY(pbegin(ctx, ID, line, len, ev, errbuf));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (line[0] == '[')
		return error_log(ctx, line, len, ev, errbuf);
	return access_log(ctx, line, len, ev, errbuf);
}
