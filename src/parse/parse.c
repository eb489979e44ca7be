/*
 * parse.c - the parser registry, format guessing (vig_parse_auto), and the small scanners and
 * setters every parser shares (parse_int.h). The registry is a static table in enum
 * vig_parser_id order; a context carries the per-parser counters.
 */
#include <stdarg.h>

#include "../common/vtime.h"
#include "parse_int.h"

static const struct vig_parser parsers[VIG_PARSER__COUNT] = {
	{"syslog", VIG_PARSER_SYSLOG, vig_parse_syslog,
	 "RFC 3164/5424 syslog with sshd, PAM, sudo, su, cron, account, netfilter and audit content"},
	{"auditd", VIG_PARSER_AUDITD, vig_parse_auditd, "one Linux audit record (type=... msg=audit(...))"},
	{"iptables", VIG_PARSER_IPTABLES, vig_parse_iptables, "kernel iptables/nftables LOG lines"},
	{"cef", VIG_PARSER_CEF, vig_parse_cef, "ArcSight Common Event Format"},
	{"leef", VIG_PARSER_LEEF, vig_parse_leef, "IBM Log Event Extended Format 1.0/2.0"},
	{"suricata", VIG_PARSER_SURICATA, vig_parse_suricata, "Suricata eve.json"},
	{"zeek", VIG_PARSER_ZEEK, vig_parse_zeek, "Zeek logs, TSV (with #fields header) or JSON"},
	{"apache", VIG_PARSER_APACHE, vig_parse_apache, "Apache/nginx access (combined, common) and Apache error logs"},
	{"json", VIG_PARSER_JSON, vig_parse_json, "generic JSON object in event-model names"},
	{"kv", VIG_PARSER_KV, vig_parse_kv, "key=value pairs with quoted values"},
};

static const char *const reason_names[VIG_PR__COUNT] = {
	"empty", "too_long", "framing", "timestamp", "field", "json", "header",
};

void vig_parse_ctx_init(struct vig_parse_ctx *ctx, int64_t ref_ns)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->ref_ns = ref_ns ? ref_ns : vig_time_now();
	ctx->zeek.sep = '\t';
}

const struct vig_parser *vig_parser_find(const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "nginx") == 0)
		return &parsers[VIG_PARSER_APACHE];
	for (size_t i = 0; i < VIG_ARRAY_LEN(parsers); i++)
		if (strcmp(parsers[i].name, name) == 0)
			return &parsers[i];
	return NULL;
}

const struct vig_parser *vig_parser_get(enum vig_parser_id id)
{
	return (unsigned)id < VIG_PARSER__COUNT ? &parsers[id] : NULL;
}

const char *vig_parse_reason_name(enum vig_parse_reason r)
{
	return (unsigned)r < VIG_PR__COUNT ? reason_names[r] : "unknown";
}

/* Picks a parser for a JSON line from its keys. */
static enum vig_parser_id guess_json(const char *p, size_t n)
{
	if (ps_find(p, n, "\"event_type\"") && ps_find(p, n, "\"timestamp\""))
		return VIG_PARSER_SURICATA;
	if (ps_find(p, n, "\"ts\"") && (ps_find(p, n, "\"uid\"") || ps_find(p, n, "\"_path\"") ||
					 ps_find(p, n, "\"id.orig_h\"")))
		return VIG_PARSER_ZEEK;
	return VIG_PARSER_JSON;
}

/* True when the line starts like a syslog header: <PRI>, "Mmm dd ", or an ISO date. */
static bool looks_syslog(const char *p, size_t n)
{
	if (n > 3 && p[0] == '<' && ps_digit(p[1]))
		return true;
	if (n > 16 && pmonth(p) && p[3] == ' ' && p[6] == ' ' && p[9] == ':')
		return true;
	return n > 20 && ps_digit(p[0]) && p[4] == '-' && p[7] == '-' && p[10] == 'T';
}

/* True when the line starts like an access log: an address then " - " or " user ". */
static bool looks_access(const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', VIG_MIN(n, 64));
	return sp && (ps_digit(p[0]) || p[0] == ':' || (p[0] >= 'a' && p[0] <= 'f')) &&
	       ps_find(p, n, " [") && ps_find(p, n, "] \"");
}

enum vig_err vig_parse_auto(struct vig_parse_ctx *ctx, const char *line, size_t len,
			    struct vig_event *ev, const struct vig_parser **used, char *errbuf)
{
	enum vig_parser_id id = VIG_PARSER_KV;
	size_t i = 0;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	const char *p = line + i;
	size_t n = len - i;
	if (n && p[0] == '{')
		id = guess_json(p, n);
	else if (ps_starts(p, n, "CEF:"))
		id = VIG_PARSER_CEF;
	else if (ps_starts(p, n, "LEEF:"))
		id = VIG_PARSER_LEEF;
	else if (ps_starts(p, n, "type=") && ps_find(p, n, "msg=audit("))
		id = VIG_PARSER_AUDITD;
	else if (ps_starts(p, n, "#separator") || ps_starts(p, n, "#fields") ||
		 (ctx->zeek.n_fields && n && p[0] != '<' && memchr(p, ctx->zeek.sep, n)))
		id = VIG_PARSER_ZEEK;
	else if (n > 8 && p[0] == '[' && pmonth(p + 5))
		id = VIG_PARSER_APACHE;
	else if (looks_syslog(p, n))
		id = VIG_PARSER_SYSLOG;
	else if (looks_access(p, n))
		id = VIG_PARSER_APACHE;
	if (used)
		*used = &parsers[id];
	return parsers[id].parse(ctx, line, len, ev, errbuf);
}

/* ---- Fast extension keys (parse_int.h). ---- */

const char *const pkey_names[PK__COUNT] = {
#define PKEY(id, name) name,
#include "extkeys.def"
#undef PKEY
};

/* The slot of key k (see vig_event_ext_slot_static); NULL on limits. */
static struct vig_val *pk_slot(struct vig_event *ev, enum pkey k)
{
	return vig_event_ext_slot_static(ev, pkey_names[k]);
}

enum vig_err pk_str(struct vig_event *ev, enum pkey k, const char *s, size_t n)
{
	struct vig_val *v;
	char *p;

	if (n > VIG_EVENT_MAX_STR)
		return VIG_ETOOBIG;
	p = vig_arena_strndup(ev->arena, s, n);
	if (!p || !(v = pk_slot(ev, k)))
		return VIG_ETOOBIG;
	v->type = VIG_T_STR;
	v->n = (uint32_t)n;
	v->u.s = p;
	return VIG_OK;
}

enum vig_err pk_int(struct vig_event *ev, enum pkey k, int64_t i)
{
	struct vig_val *v = pk_slot(ev, k);

	if (!v)
		return VIG_ETOOBIG;
	v->type = VIG_T_INT;
	v->u.i = i;
	return VIG_OK;
}

enum vig_err pk_bool(struct vig_event *ev, enum pkey k, bool b)
{
	struct vig_val *v = pk_slot(ev, k);

	if (!v)
		return VIG_ETOOBIG;
	v->type = VIG_T_BOOL;
	v->u.i = b;
	return VIG_OK;
}

enum vig_err pk_num(struct vig_event *ev, enum pkey k, const char *s, size_t n)
{
	int64_t i;

	if (n && vig_parse_i64(s, n, &i))
		return pk_int(ev, k, i);
	return pk_str(ev, k, s, n);
}

const struct vig_val *pk_get(const struct vig_event *ev, enum pkey k)
{
	return vig_event_ext_get(ev, pkey_names[k], strlen(pkey_names[k]));
}

/* ---- Shared helpers (parse_int.h). ---- */

enum vig_err pfail(struct vig_parse_ctx *ctx, enum vig_parser_id id, enum vig_parse_reason r,
		   char *errbuf, const char *fmt, ...)
{
	va_list ap;

	ctx->stats[id].failed[r]++;
	if (errbuf) {
		va_start(ap, fmt);
		vsnprintf(errbuf, VIG_ERRBUF_SIZE, fmt, ap);
		va_end(ap);
	}
	return r == VIG_PR_TOO_LONG ? VIG_ETOOBIG : VIG_EPARSE;
}

enum vig_err pbegin(struct vig_parse_ctx *ctx, enum vig_parser_id id, const char *line,
		    size_t len, struct vig_event *ev, char *errbuf)
{
	if (len > VIG_PARSE_MAX_LINE)
		return pfail(ctx, id, VIG_PR_TOO_LONG, errbuf, "record of %zu bytes over the limit of %u",
			     len, VIG_PARSE_MAX_LINE);
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return pfail(ctx, id, VIG_PR_EMPTY, errbuf, "empty record");
	/* message is capped by the event model; the raw record beyond it is cut. */
	if (vig_event_set_str(ev, VIG_F_MESSAGE, line, VIG_MIN(len, (size_t)VIG_EVENT_MAX_STR)) != VIG_OK)
		return pfail(ctx, id, VIG_PR_TOO_LONG, errbuf, "event arena full");
	return VIG_OK;
}

enum vig_err pext_num(struct vig_event *ev, const char *key, const char *p, size_t n)
{
	int64_t v;
	enum vig_err rc;

	if (n && vig_parse_i64(p, n, &v))
		rc = vig_event_ext_int(ev, key, v);
	else
		rc = vig_event_ext_str(ev, key, p, n);
	return rc == VIG_EINVAL ? VIG_OK : rc;
}

enum vig_err pecs(struct vig_event *ev, const char *kind, const char *category, const char *type,
		  const char *action, const char *outcome)
{
	if (kind)
		PTRY(pconst(ev, VIG_F_EVENT_KIND, kind));
	if (category)
		PTRY(pconst(ev, VIG_F_EVENT_CATEGORY, category));
	if (type)
		PTRY(pconst(ev, VIG_F_EVENT_TYPE, type));
	if (action)
		PTRY(pconst(ev, VIG_F_EVENT_ACTION, action));
	if (outcome)
		PTRY(pconst(ev, VIG_F_EVENT_OUTCOME, outcome));
	return VIG_OK;
}

int pmonth(const char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (p[0] == months[i * 3] && p[1] == months[i * 3 + 1] && p[2] == months[i * 3 + 2])
			return i + 1;
	return 0;
}

bool pcivil_ns(int y, int mo, int d, int h, int mi, int s, int64_t *ns)
{
	if (y < 1678 || y > 2261)
		return false;
	int64_t days = vig_time_days_from_civil(y, mo, d);
	*ns = (days * 86400 + h * 3600 + mi * 60 + s) * VIG_NS_PER_SEC;
	return true;
}

bool ptime(const char *s, size_t n, int64_t *ns)
{
	size_t i = 0;

	if (n >= 10 && s[4] == '-') {
		int y = 0;
		for (i = 0; i < 4; i++) {
			if (!ps_digit(s[i]))
				return false;
			y = y * 10 + (s[i] - '0');
		}
		if (y < 1678 || y > 2261)
			return false;
	} else {
		/* Epoch seconds: at most 10 integer digits and below 9.2e9. */
		while (i < n && ps_digit(s[i]))
			i++;
		if (i > 10 || (i == 10 && memcmp(s, "9200000000", 10) >= 0))
			return false;
	}
	return vig_time_parse(s, n, ns);
}

bool ptz(const char *p, size_t n, int *off_s)
{
	int h, m;

	if (n != 5 || (p[0] != '+' && p[0] != '-'))
		return false;
	h = p2(p + 1);
	m = p2(p + 3);
	if (h < 0 || m < 0 || h > 23 || m > 59)
		return false;
	*off_s = (h * 3600 + m * 60) * (p[0] == '-' ? -1 : 1);
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long phex_decode(const char *p, size_t n, char *out, size_t cap)
{
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(p[i]), lo = hexval(p[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

enum vig_err ptransport(struct vig_event *ev, const char *p, size_t n)
{
	char low[16];

	if (n == 0 || n >= sizeof(low))
		return VIG_OK;
	if (ps_eq(p, n, "6"))
		return pconst(ev, VIG_F_NETWORK_TRANSPORT, "tcp");
	if (ps_eq(p, n, "17"))
		return pconst(ev, VIG_F_NETWORK_TRANSPORT, "udp");
	if (ps_eq(p, n, "1"))
		return pconst(ev, VIG_F_NETWORK_TRANSPORT, "icmp");
	if (ps_eq(p, n, "58"))
		return pconst(ev, VIG_F_NETWORK_TRANSPORT, "ipv6-icmp");
	for (size_t i = 0; i < n; i++)
		low[i] = (p[i] >= 'A' && p[i] <= 'Z') ? (char)(p[i] + 32) : p[i];
	if (ps_eq(low, n, "icmpv6"))
		return pconst(ev, VIG_F_NETWORK_TRANSPORT, "ipv6-icmp");
	return vig_event_set_str(ev, VIG_F_NETWORK_TRANSPORT, low, n);
}

bool pkv_next(const char *p, size_t n, size_t *pos, struct pspan *key, struct pspan *val,
	      bool *quoted)
{
	size_t i = *pos;

	for (;;) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == ',' || p[i] == ';'))
			i++;
		if (i >= n) {
			*pos = i;
			return false;
		}
		size_t ks = i;
		while (i < n && p[i] != '=' && p[i] != ' ' && p[i] != '\t')
			i++;
		if (i < n && p[i] == '=' && i == ks) {
			i++; /* "=" without a key: skip it */
			continue;
		}
		if (i >= n || p[i] != '=')
			continue; /* a bare word: skip it */
		key->p = p + ks;
		key->n = i - ks;
		i++;
		*quoted = false;
		if (i < n && (p[i] == '"' || p[i] == '\'')) {
			char q = p[i++];
			size_t vs = i;
			while (i < n && p[i] != q) {
				if (p[i] == '\\' && i + 1 < n)
					i++;
				i++;
			}
			val->p = p + vs;
			val->n = i - vs;
			*quoted = true;
			if (i < n)
				i++;
		} else {
			size_t vs = i;
			while (i < n && p[i] != ' ' && p[i] != '\t')
				i++;
			val->p = p + vs;
			val->n = i - vs;
		}
		*pos = i;
		return true;
	}
}
