/*
 * syslog.c - syslog framing: RFC 3164 ("<PRI>Mmm dd hh:mm:ss host tag[pid]: msg", also without
 * PRI as written to /var/log, and with an RFC 3339 timestamp as rsyslog writes it) and RFC 5424
 * ("<PRI>1 TS HOST APP PROCID MSGID [SD-ID k="v"...] MSG"). The header becomes @timestamp,
 * host.name, process.name/pid and log.syslog.* extension fields; the body is then handed to
 * the program's sub-parser (auth.c: sshd, PAM, sudo, su, cron, accounts; netfilter.c: kernel
 * LOG lines; audit.c: audit records). RFC 3164 has no year: it is taken from the context's
 * reference time, one year back when that would put the record more than two days ahead.
 * Hand-written scanners only: this is the hot path of log ingestion.
 */
#include "../common/vtime.h"
#include "parse_int.h"

#define ID VIG_PARSER_SYSLOG

static const char *const facility_names[24] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};
static const char *const severity_names[8] = {
	"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug",
};

/* "Mmm dd hh:mm:ss" at p (15 bytes available) → ns with the inferred year; false if not. */
static bool bsd_time(const struct vig_parse_ctx *ctx, const char *p, int64_t *ns)
{
	int mo = pmonth(p), d, h, mi, s, y, ry, rm, rd;

	if (!mo || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':')
		return false;
	d = p[4] == ' ' ? (ps_digit(p[5]) ? p[5] - '0' : -1) : p2(p + 4);
	h = p2(p + 7);
	mi = p2(p + 10);
	s = p2(p + 13);
	if (d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
		return false;
	vig_time_civil(vig_time_day(ctx->ref_ns), &ry, &rm, &rd);
	y = ry;
	if (!pcivil_ns(y, mo, d, h, mi, s, ns))
		return false;
	if (*ns > ctx->ref_ns + 2 * VIG_NS_PER_DAY)
		return pcivil_ns(y - 1, mo, d, h, mi, s, ns);
	return true;
}

/* Next space-delimited token from *i; false at the end of input. */
static bool token(const char *p, size_t n, size_t *i, struct pspan *t)
{
	size_t s = *i;

	while (*i < n && p[*i] != ' ')
		(*i)++;
	t->p = p + s;
	t->n = *i - s;
	if (*i < n)
		(*i)++;
	return t->n > 0;
}

static enum vig_err set_pri(struct vig_event *ev, int pri)
{
	int fac = pri >> 3, sev = pri & 7;

	PTRY(pk_int(ev, PK_LOG_SYSLOG_FACILITY_CODE, fac));
	PTRY(pk_str(ev, PK_LOG_SYSLOG_FACILITY_NAME, facility_names[fac],
			       strlen(facility_names[fac])));
	PTRY(pk_int(ev, PK_LOG_SYSLOG_SEVERITY_CODE, sev));
	PTRY(pconst(ev, VIG_F_LOG_LEVEL, severity_names[sev]));
	return VIG_OK;
}

/* SD-PARAM value unescaping (\" \\ \]) into the arena; stores it as an extension. */
static enum vig_err sd_param(struct vig_event *ev, struct pspan id, struct pspan name,
			     const char *v, size_t vn)
{
	char key[VIG_EVENT_MAX_KEY + 1];
	char *out = vig_arena_alloc(ev->arena, vn + 1);
	size_t o = 0;
	int kn;

	if (!out)
		return VIG_ETOOBIG;
	for (size_t i = 0; i < vn; i++) {
		if (v[i] == '\\' && i + 1 < vn && (v[i + 1] == '"' || v[i + 1] == '\\' || v[i + 1] == ']'))
			i++;
		out[o++] = v[i];
	}
	kn = snprintf(key, sizeof(key), "log.syslog.structured_data.%.*s.%.*s", (int)id.n, id.p,
		      (int)name.n, name.p);
	if (kn < 0 || (size_t)kn >= sizeof(key))
		return VIG_OK; /* key too long: the raw message keeps it */
	return pext(ev, key, out, o);
}

/* Parses STRUCTURED-DATA at p[*i]: "-" or one or more [SD-ID (SP k="v")*]. */
static bool structured_data(const char *p, size_t n, size_t *i, struct vig_event *ev,
			    enum vig_err *rc)
{
	if (*i < n && p[*i] == '-') {
		(*i)++;
		return true;
	}
	while (*i < n && p[*i] == '[') {
		struct pspan id, name;
		size_t j = *i + 1;
		id.p = p + j;
		while (j < n && p[j] != ' ' && p[j] != ']' && p[j] != '=' && p[j] != '"')
			j++;
		id.n = (size_t)(p + j - id.p);
		if (id.n == 0 || id.n > 32)
			return false;
		while (j < n && p[j] == ' ') {
			j++;
			name.p = p + j;
			while (j < n && p[j] != '=' && p[j] != ' ' && p[j] != ']' && p[j] != '"')
				j++;
			name.n = (size_t)(p + j - name.p);
			if (name.n == 0 || name.n > 32 || j + 1 >= n || p[j] != '=' || p[j + 1] != '"')
				return false;
			j += 2;
			size_t vs = j;
			while (j < n && p[j] != '"') {
				if (p[j] == '\\' && j + 1 < n)
					j++;
				j++;
			}
			if (j >= n)
				return false;
			*rc = sd_param(ev, id, name, p + vs, j - vs);
			if (*rc != VIG_OK)
				return false;
			j++;
		}
		if (j >= n || p[j] != ']')
			return false;
		*i = j + 1;
	}
	return true;
}

/* RFC 5424 after "<PRI>1 ". */
static enum vig_err frame_5424(struct vig_parse_ctx *ctx, const char *p, size_t n, size_t i,
			       struct vig_event *ev, struct pspan *prog, struct pspan *msg,
			       char *errbuf)
{
	struct pspan ts, host, app, pid, msgid;
	enum vig_err rc = VIG_OK;
	int64_t ns;

	if (!token(p, n, &i, &ts) || !token(p, n, &i, &host) || !token(p, n, &i, &app) ||
	    !token(p, n, &i, &pid) || !token(p, n, &i, &msgid))
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "rfc 5424 header incomplete");
	if (!ps_eq(ts.p, ts.n, "-")) {
		if (!ptime(ts.p, ts.n, &ns))
			return pfail(ctx, ID, VIG_PR_TIMESTAMP, errbuf, "bad rfc 5424 timestamp");
		PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
	}
	if (!ps_eq(host.p, host.n, "-"))
		PTRY(pset(ev, VIG_F_HOST_NAME, host.p, host.n));
	if (!ps_eq(app.p, app.n, "-")) {
		PTRY(pset(ev, VIG_F_PROCESS_NAME, app.p, app.n));
		PTRY(pk_str(ev, PK_LOG_SYSLOG_APPNAME, app.p, app.n));
		*prog = app;
	}
	if (!ps_eq(pid.p, pid.n, "-")) {
		pset_int(ev, VIG_F_PROCESS_PID, pid.p, pid.n);
		PTRY(pk_str(ev, PK_LOG_SYSLOG_PROCID, pid.p, pid.n));
	}
	if (!ps_eq(msgid.p, msgid.n, "-"))
		PTRY(pk_str(ev, PK_LOG_SYSLOG_MSGID, msgid.p, msgid.n));
	if (!structured_data(p, n, &i, ev, &rc))
		return rc != VIG_OK ? rc : pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "bad structured data");
	if (i < n && p[i] == ' ')
		i++;
	/* A UTF-8 BOM may start MSG. */
	if (n - i >= 3 && (unsigned char)p[i] == 0xef && (unsigned char)p[i + 1] == 0xbb &&
	    (unsigned char)p[i + 2] == 0xbf)
		i += 3;
	msg->p = p + i;
	msg->n = n - i;
	return VIG_OK;
}

/* RFC 3164 TAG: "prog[pid]: ", "prog: ", or a bare word (no tag: kept as process.name). */
static enum vig_err tag_3164(const char *p, size_t n, size_t i, struct vig_event *ev,
			     struct pspan *prog, struct pspan *msg)
{
	size_t s = i;

	while (i < n && p[i] != '[' && p[i] != ':' && p[i] != ' ')
		i++;
	prog->p = p + s;
	prog->n = i - s;
	if (i < n && p[i] == '[') {
		size_t ps = ++i;
		while (i < n && p[i] != ']')
			i++;
		if (i < n) {
			pset_int(ev, VIG_F_PROCESS_PID, p + ps, i - ps);
			PTRY(pk_str(ev, PK_LOG_SYSLOG_PROCID, p + ps, i - ps));
			i++;
		}
	}
	if (i < n && p[i] == ':')
		i++;
	if (i < n && p[i] == ' ')
		i++;
	if (prog->n) {
		PTRY(pset(ev, VIG_F_PROCESS_NAME, prog->p, prog->n));
		PTRY(pk_str(ev, PK_LOG_SYSLOG_APPNAME, prog->p, prog->n));
	}
	msg->p = p + i;
	msg->n = n - i;
	return VIG_OK;
}

enum vig_err psyslog_frame(struct vig_parse_ctx *ctx, const char *line, size_t len,
			   struct vig_event *ev, struct pspan *prog, struct pspan *msg, char *errbuf)
{
	size_t i = 0;
	int64_t ns;
	struct pspan host;

	prog->p = line;
	prog->n = 0;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len > 0 && line[0] == '<') {
		int pri = 0;
		for (i = 1; i < len && i < 5 && ps_digit(line[i]); i++)
			pri = pri * 10 + (line[i] - '0');
		if (i == 1 || i >= len || line[i] != '>' || pri > 191)
			return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "bad syslog priority");
		i++;
		PTRY(set_pri(ev, pri));
		if (len - i > 2 && line[i] == '1' && line[i + 1] == ' ')
			return frame_5424(ctx, line, len, i + 2, ev, prog, msg, errbuf);
	}
	if (len - i >= 16 && bsd_time(ctx, line + i, &ns)) {
		i += 15;
		if (line[i] != ' ')
			return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "no space after syslog timestamp");
		i++;
	} else {
		struct pspan ts;
		size_t j = i;
		if (!token(line, len, &j, &ts) || ts.n < 10 || !ps_digit(ts.p[0]) ||
		    !ptime(ts.p, ts.n, &ns))
			return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "no syslog timestamp");
		i = j;
	}
	PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
	if (!token(line, len, &i, &host))
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "no host after syslog timestamp");
	PTRY(vig_event_set_str(ev, VIG_F_HOST_NAME, host.p, host.n));
	return tag_3164(line, len, i, ev, prog, msg);
}

enum vig_err vig_parse_syslog(struct vig_parse_ctx *ctx, const char *line, size_t len,
			      struct vig_event *ev, char *errbuf)
{
	struct pspan prog, msg;
	enum vig_err rc = VIG_OK;

	PTRY(pbegin(ctx, ID, line, len, ev, errbuf));
	PTRY(psyslog_frame(ctx, line, len, ev, &prog, &msg, errbuf));
	PTRY(pconst(ev, VIG_F_EVENT_KIND, "event"));
	if (pauth_dispatch(ctx, prog.p, prog.n, msg.p, msg.n, ev, &rc))
		return pdone(ctx, ID, true);
	if (rc != VIG_OK)
		return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "system.syslog"));
	return pdone(ctx, ID, false);
}
