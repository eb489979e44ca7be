/*
 * csv.c - flat indicator feeds: plain TXT lists and the CSV exports of abuse.ch (Feodo Tracker
 * ipblocklist.csv, URLhaus csv, ThreatFox csv) and a generic value[,type,confidence,threat] CSV.
 *
 * abuse.ch exports open with '#' comment lines, the last of which names the columns
 * (`# "first_seen_utc","dst_ip","dst_port",...`); the reader parses that line as CSV and
 * picks the value, type, confidence, id and threat columns by name, so a reordered or extended
 * export still reads. The format is chosen by those names when AUTO is asked for: dst_ip →
 * Feodo, url_status/urlhaus_link → URLhaus, ioc_value+ioc_type → ThreatFox; no header → TXT.
 *
 * Fields follow RFC 4180 (double quotes, "" inside quotes) with blanks around separators
 * ignored (ThreatFox writes `", "`). Every data line is counted; a line that yields no valid
 * indicator is counted as malformed with its reason (the list keeps the first example of each
 * reason), and reading goes on with the next line.
 */
#include "intel.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_FIELDS 32
#define LINE_MAX_BYTES (64 * 1024)

struct field {
	const char *p; /* unescaped text in the line buffer */
	size_t n;
};

/* Splits line (modified in place: quotes removed) into at most MAX_FIELDS fields; returns the
 * count, or -1 for an unterminated quote. */
static int split_csv(char *line, size_t len, struct field *f)
{
	size_t i = 0;
	int nf = 0;

	for (;;) {
		char *out;
		size_t start;

		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (nf == MAX_FIELDS)
			return nf;
		start = i;
		out = line + i;
		if (i < len && line[i] == '"') {
			size_t o = 0;

			i++;
			for (;;) {
				if (i >= len)
					return -1;
				if (line[i] == '"') {
					if (i + 1 < len && line[i + 1] == '"') {
						out[o++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				out[o++] = line[i++];
			}
			f[nf].p = out;
			f[nf].n = o;
			while (i < len && line[i] != ',')
				i++;
		} else {
			while (i < len && line[i] != ',')
				i++;
			f[nf].p = line + start;
			f[nf].n = i - start;
			while (f[nf].n > 0 && isspace((unsigned char)f[nf].p[f[nf].n - 1]))
				f[nf].n--;
		}
		nf++;
		if (i >= len)
			return nf;
		i++; /* the comma */
	}
}

/* Column roles picked from a header. */
struct cols {
	int value, type, confidence, id, threat; /* -1 absent */
};

static int col_of(struct field *f, int nf, const char *const *names)
{
	for (const char *const *n = names; *n; n++) /* names in order of preference */
		for (int i = 0; i < nf; i++)
			if (f[i].n == strlen(*n) && strncasecmp(f[i].p, *n, f[i].n) == 0)
				return i;
	return -1;
}

/* Detects the format from a header line's column names, filling c. */
static enum vig_intel_csv_format detect(struct field *f, int nf, struct cols *c)
{
	static const char *const dst_ip[] = {"dst_ip", "dstip", NULL};
	static const char *const malware[] = {"malware", NULL};
	static const char *const url[] = {"url", NULL};
	static const char *const url_status[] = {"url_status", "urlhaus_link", NULL};
	static const char *const id[] = {"id", NULL};
	static const char *const threat[] = {"threat", NULL};
	static const char *const ioc_value[] = {"ioc_value", NULL};
	static const char *const ioc_type[] = {"ioc_type", NULL};
	static const char *const ioc_id[] = {"ioc_id", NULL};
	static const char *const conf[] = {"confidence_level", "confidence", NULL};
	static const char *const tf_threat[] = {"malware_printable", "fk_malware", NULL};
	static const char *const value[] = {"value", "indicator", "ioc", NULL};
	static const char *const type[] = {"type", NULL};
	static const char *const gthreat[] = {"threat", "description", "malware", NULL};

	*c = (struct cols){-1, -1, -1, -1, -1};
	if ((c->value = col_of(f, nf, dst_ip)) >= 0) {
		c->threat = col_of(f, nf, malware);
		return VIG_INTEL_CSV_FEODO;
	}
	if ((c->value = col_of(f, nf, ioc_value)) >= 0 && (c->type = col_of(f, nf, ioc_type)) >= 0) {
		c->id = col_of(f, nf, ioc_id);
		c->confidence = col_of(f, nf, conf);
		c->threat = col_of(f, nf, tf_threat);
		return VIG_INTEL_CSV_THREATFOX;
	}
	if ((c->value = col_of(f, nf, url)) >= 0 && col_of(f, nf, url_status) >= 0) {
		c->id = col_of(f, nf, id);
		c->threat = col_of(f, nf, threat);
		return VIG_INTEL_CSV_URLHAUS;
	}
	if ((c->value = col_of(f, nf, value)) >= 0) {
		c->type = col_of(f, nf, type);
		c->confidence = col_of(f, nf, conf);
		c->threat = col_of(f, nf, gthreat);
		c->id = col_of(f, nf, id);
		return VIG_INTEL_CSV_GENERIC;
	}
	c->value = -1;
	return VIG_INTEL_CSV_AUTO;
}

static void default_cols(enum vig_intel_csv_format fmt, struct cols *c)
{
	switch (fmt) {
	case VIG_INTEL_CSV_FEODO: /* first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware */
		*c = (struct cols){1, -1, -1, -1, 5};
		break;
	case VIG_INTEL_CSV_URLHAUS: /* id,dateadded,url,url_status,last_online,threat,tags,... */
		*c = (struct cols){2, -1, -1, 0, 5};
		break;
	case VIG_INTEL_CSV_THREATFOX: /* first_seen_utc,ioc_id,ioc_value,ioc_type,threat_type,
				       * fk_malware,malware_alias,malware_printable,last_seen_utc,
				       * confidence_level,... */
		*c = (struct cols){2, 3, 9, 1, 7};
		break;
	default: /* value,type,confidence,threat */
		*c = (struct cols){0, 1, 2, -1, 3};
		break;
	}
}

const char *vig_intel_csv_format_name(enum vig_intel_csv_format f)
{
	static const char *const names[] = {"auto", "txt", "feodo", "urlhaus", "threatfox",
					    "csv"};

	return (unsigned)f < VIG_ARRAY_LEN(names) ? names[f] : "unknown";
}

/* ThreatFox ioc_type to a type; false for types Vigil does not match (sha3_384_hash). */
static bool threatfox_type(const struct field *t, enum vig_intel_type *out)
{
	static const struct {
		const char *name;
		enum vig_intel_type type;
	} map[] = {{"ip:port", VIG_INTEL_IP},         {"ip", VIG_INTEL_IP},
		   {"domain", VIG_INTEL_DOMAIN},      {"url", VIG_INTEL_URL},
		   {"md5_hash", VIG_INTEL_MD5},       {"sha1_hash", VIG_INTEL_SHA1},
		   {"sha256_hash", VIG_INTEL_SHA256}};

	for (size_t i = 0; i < VIG_ARRAY_LEN(map); i++)
		if (t->n == strlen(map[i].name) && strncasecmp(t->p, map[i].name, t->n) == 0) {
			*out = map[i].type;
			return true;
		}
	return false;
}

/* "1.2.3.4:443" -> "1.2.3.4"; "[2001:db8::1]:443" -> "2001:db8::1"; other values unchanged. */
static void strip_port(struct field *v)
{
	const char *colon;
	uint8_t ip[16];

	if (v->n > 2 && v->p[0] == '[') {
		const char *rb = memchr(v->p, ']', v->n);

		if (rb) {
			v->n = (size_t)(rb - v->p - 1);
			v->p++;
		}
		return;
	}
	colon = memrchr(v->p, ':', v->n);
	if (colon && vig_ip_parse(v->p, (size_t)(colon - v->p), ip))
		v->n = (size_t)(colon - v->p);
}

struct parse_ctx {
	struct vig_intel_list *l;
	enum vig_intel_csv_format fmt;
	struct cols c;
	uint64_t line;
};

static char *fdup(const struct field *f, char *buf, size_t cap)
{
	size_t n = VIG_MIN(f->n, cap - 1);

	memcpy(buf, f->p, n);
	buf[n] = '\0';
	return buf;
}

/* One data line; VIG_OK unless the list is full or memory ran out. */
static enum vig_err data_line(struct parse_ctx *x, char *line, size_t len)
{
	struct field f[MAX_FIELDS];
	struct vig_intel_ind ind = {.confidence = -1};
	char idb[128], thb[128];
	enum vig_err err;
	int nf;
	struct field v;

	vig_intel_list_count_line(x->l);
	if (x->fmt == VIG_INTEL_CSV_TXT) {
		/* "1.2.3.0/24 ; SBL123" and "evil.com # note": the value ends at a blank or ';' */
		size_t vl = 0;

		while (vl < len && line[vl] != ' ' && line[vl] != '\t' && line[vl] != ';')
			vl++;
		f[0] = (struct field){line, vl};
		nf = 1;
	} else {
		nf = split_csv(line, len, f);
	}
	if (nf < 0) {
		vig_intel_list_malformed(x->l, x->line, "unterminated quote", "unterminated quote");
		return VIG_OK;
	}
	if (x->c.value < 0 || x->c.value >= nf || f[x->c.value].n == 0) {
		vig_intel_list_malformed(x->l, x->line, "missing value column",
					 "missing value column (%d fields)", nf);
		return VIG_OK;
	}
	v = f[x->c.value];
	if (x->fmt == VIG_INTEL_CSV_THREATFOX) {
		if (x->c.type < 0 || x->c.type >= nf || !threatfox_type(&f[x->c.type], &ind.type)) {
			vig_intel_list_skip(x->l); /* a type Vigil does not match */
			return VIG_OK;
		}
		if (ind.type == VIG_INTEL_IP)
			strip_port(&v);
	} else if (x->fmt == VIG_INTEL_CSV_FEODO) {
		ind.type = VIG_INTEL_IP;
	} else if (x->fmt == VIG_INTEL_CSV_URLHAUS) {
		ind.type = VIG_INTEL_URL;
	} else if (x->fmt == VIG_INTEL_CSV_GENERIC && x->c.type >= 0 && x->c.type < nf &&
		   f[x->c.type].n > 0) {
		char tb[32];

		if (!vig_intel_type_parse(fdup(&f[x->c.type], tb, sizeof(tb)), &ind.type)) {
			vig_intel_list_malformed(x->l, x->line, "unknown type", "unknown type \"%s\"", tb);
			return VIG_OK;
		}
	} else if (!vig_intel_guess_type(v.p, v.n, &ind.type)) {
		char ex[48];
		size_t n = VIG_MIN(v.n, 40);

		for (size_t i = 0; i < n; i++)
			ex[i] = (unsigned char)v.p[i] < 0x20 || v.p[i] == '"' ? '?' : v.p[i];
		ex[n] = '\0';
		vig_intel_list_malformed(x->l, x->line, "not an indicator",
					 "not an IP, CIDR, domain, URL or hash: \"%s\"", ex);
		return VIG_OK;
	}
	if (x->c.confidence >= 0 && x->c.confidence < nf && f[x->c.confidence].n > 0) {
		int64_t c;

		if (vig_parse_i64(f[x->c.confidence].p, f[x->c.confidence].n, &c) && c >= 0 && c <= 100)
			ind.confidence = (int)c;
	}
	if (x->c.id >= 0 && x->c.id < nf && f[x->c.id].n > 0)
		ind.id = fdup(&f[x->c.id], idb, sizeof(idb));
	if (x->c.threat >= 0 && x->c.threat < nf && f[x->c.threat].n > 0)
		ind.threat = fdup(&f[x->c.threat], thb, sizeof(thb));
	if (ind.threat && (strcasecmp(ind.threat, "None") == 0 || strcmp(ind.threat, "") == 0))
		ind.threat = NULL;
	ind.value = v.p;
	ind.len = v.n;
	err = vig_intel_list_add(x->l, &ind, x->line);
	return err == VIG_EINVAL ? VIG_OK : err;
}

/* A comment line's text without the comment marks, if it looks like a header (has a comma). */
static bool header_of(const char *line, size_t len, char *out, size_t cap, size_t *n)
{
	size_t i = 0;

	while (i < len && (line[i] == '#' || line[i] == ';' || line[i] == ' ' || line[i] == '\t'))
		i++;
	if (!memchr(line + i, ',', len - i) || len - i >= cap)
		return false;
	memcpy(out, line + i, len - i);
	*n = len - i;
	out[*n] = '\0';
	return true;
}

enum vig_err vig_intel_parse_csv(const char *text, size_t n, enum vig_intel_csv_format fmt,
				 struct vig_intel_list *l, enum vig_intel_csv_format *detected,
				 char *errbuf)
{
	struct parse_ctx x = {.l = l, .fmt = fmt};
	char *line = malloc(LINE_MAX_BYTES + 1);
	const char *p = text, *end = text + n;
	bool data_seen = false, have_cols = false;
	enum vig_err err = VIG_OK;

	if (!line)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (fmt != VIG_INTEL_CSV_AUTO)
		default_cols(fmt, &x.c);
	/* a UTF-8 byte order mark is not part of the first line */
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && err == VIG_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t len;

		x.line++;
		while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
			le--;
		while (p < le && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(le - p);
		if (len == 0)
			goto next;
		if (len > LINE_MAX_BYTES) {
			vig_intel_list_count_line(l);
			vig_intel_list_malformed(l, x.line, "line too long", "line longer than %d bytes",
						 LINE_MAX_BYTES);
			goto next;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		if (*p == '#' || *p == ';' || (len >= 2 && p[0] == '/' && p[1] == '/')) {
			/* comments; before any data, a comment naming columns is the header */
			char hdr[2048];
			size_t hn;
			struct field f[MAX_FIELDS];
			struct cols c;
			int nf;
			enum vig_intel_csv_format d;

			if (data_seen || fmt == VIG_INTEL_CSV_TXT || !header_of(line, len, hdr, sizeof(hdr), &hn))
				goto next;
			nf = split_csv(hdr, hn, f);
			d = nf > 0 ? detect(f, nf, &c) : VIG_INTEL_CSV_AUTO;
			if (d != VIG_INTEL_CSV_AUTO && (fmt == VIG_INTEL_CSV_AUTO || fmt == d)) {
				x.fmt = d;
				x.c = c;
				have_cols = true;
			}
			goto next;
		}
		if (!data_seen && !have_cols && fmt != VIG_INTEL_CSV_TXT && memchr(line, ',', len)) {
			/* a header row without comment mark ("value,type,...") */
			struct field f[MAX_FIELDS];
			char hdr[2048];
			struct cols c;
			int nf;
			enum vig_intel_csv_format d;

			if (len < sizeof(hdr)) {
				memcpy(hdr, line, len + 1);
				nf = split_csv(hdr, len, f);
				d = nf > 0 ? detect(f, nf, &c) : VIG_INTEL_CSV_AUTO;
				if (d != VIG_INTEL_CSV_AUTO) {
					x.fmt = fmt == VIG_INTEL_CSV_AUTO ? d : fmt;
					x.c = c;
					have_cols = true;
					data_seen = true;
					goto next;
				}
			}
		}
		if (!data_seen && x.fmt == VIG_INTEL_CSV_AUTO) {
			x.fmt = memchr(line, ',', len) ? VIG_INTEL_CSV_GENERIC : VIG_INTEL_CSV_TXT;
			default_cols(x.fmt, &x.c);
		}
		data_seen = true;
		err = data_line(&x, line, len);
next:
		p = nl ? nl + 1 : end;
	}
	free(line);
	if (detected)
		*detected = x.fmt == VIG_INTEL_CSV_AUTO ? VIG_INTEL_CSV_TXT : x.fmt;
	if (err == VIG_ETOOBIG)
		return vig_errf(errbuf, err, "more indicators than the feed's limit");
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "out of memory");
	return VIG_OK;
}
