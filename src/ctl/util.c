/*
 * util.c - vigilctl's pure helpers (see ctl.h): durations and times, NDJSON batching with
 * deterministic batch ids, retry delays, the API error line and the search table's columns.
 *
 * Batch ids must not change between two runs over the same input, or a rerun after a partial
 * failure would store events twice; they therefore depend only on the input's bytes and the
 * batch's index, and the splitting itself only on the input and the fixed limits.
 */
#include "ctl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/vtime.h"

#define MAX_DURATION_NS (100LL * 366 * VIG_NS_PER_DAY)

enum vig_err vig_ctl_parse_duration(const char *s, int64_t *ns, char *errbuf)
{
	int64_t total = 0;
	const char *p = s;
	uint64_t v;

	if (!s || !*s)
		return vig_errf(errbuf, VIG_EINVAL, "empty duration");
	if (vig_parse_u64(s, strlen(s), &v)) {
		if (v == 0 || v > (uint64_t)(MAX_DURATION_NS / VIG_NS_PER_SEC))
			return vig_errf(errbuf, VIG_EINVAL, "duration '%s' out of range", s);
		*ns = (int64_t)v * VIG_NS_PER_SEC;
		return VIG_OK;
	}
	while (*p) {
		const char *digits = p;
		int64_t unit;

		while (*p >= '0' && *p <= '9')
			p++;
		if (p == digits || !vig_parse_u64(digits, (size_t)(p - digits), &v))
			return vig_errf(errbuf, VIG_EINVAL,
					"bad duration '%s' (want e.g. 30s, 15m, 12h, 7d, 1h30m)", s);
		switch (*p) {
		case 's': unit = VIG_NS_PER_SEC; break;
		case 'm': unit = 60 * VIG_NS_PER_SEC; break;
		case 'h': unit = 3600 * VIG_NS_PER_SEC; break;
		case 'd': unit = VIG_NS_PER_DAY; break;
		case 'w': unit = 7 * VIG_NS_PER_DAY; break;
		default:
			return vig_errf(errbuf, VIG_EINVAL,
					"bad duration '%s' (units are s, m, h, d, w)", s);
		}
		p++;
		if (v > (uint64_t)(MAX_DURATION_NS / unit) ||
		    total > MAX_DURATION_NS - (int64_t)v * unit)
			return vig_errf(errbuf, VIG_EINVAL, "duration '%s' out of range", s);
		total += (int64_t)v * unit;
	}
	if (total <= 0)
		return vig_errf(errbuf, VIG_EINVAL, "duration '%s' must be positive", s);
	*ns = total;
	return VIG_OK;
}

enum vig_err vig_ctl_parse_time(const char *s, int64_t now_ns, int64_t *ns, char *errbuf)
{
	int64_t d;
	char sub[VIG_ERRBUF_SIZE];
	const char *rel = NULL;

	if (!s || !*s)
		return vig_errf(errbuf, VIG_EINVAL, "empty time");
	if (strcmp(s, "now") == 0) {
		*ns = now_ns;
		return VIG_OK;
	}
	if (strncmp(s, "now-", 4) == 0)
		rel = s + 4;
	else if (s[0] == '-') /* RFC 3339 never starts with '-'; negative epochs are not wanted */
		rel = s + 1;
	if (rel) {
		if (vig_ctl_parse_duration(rel, &d, sub) != VIG_OK)
			return vig_errf(errbuf, VIG_EINVAL, "bad relative time '%s': %s", s, sub);
		*ns = now_ns - d;
		return VIG_OK;
	}
	if (!vig_time_parse(s, strlen(s), ns))
		return vig_errf(errbuf, VIG_EINVAL,
				"bad time '%s' (want RFC 3339, epoch seconds, now or -1h)", s);
	return VIG_OK;
}

void vig_ctl_batch_id(const char *hash_hex, unsigned index, char out[VIG_CTL_BATCH_ID_LEN])
{
	snprintf(out, VIG_CTL_BATCH_ID_LEN, "vgb-%.40s-%u", hash_hex, index);
}

void vig_ctl_batcher_init(struct vig_ctl_batcher *b, const char *data, size_t len,
			  size_t max_lines, size_t max_bytes)
{
	uint8_t digest[32];

	b->data = data;
	b->len = len;
	b->pos = 0;
	b->line_no = 1;
	b->index = 0;
	b->max_lines = max_lines ? max_lines : VIG_CTL_BATCH_LINES;
	b->max_bytes = max_bytes ? max_bytes : VIG_CTL_BATCH_BYTES;
	vig_sha256(data, len, digest);
	vig_hex(digest, sizeof(digest), b->hash_hex);
}

void vig_ctl_batch_init(struct vig_ctl_batch *batch)
{
	memset(batch, 0, sizeof(*batch));
	vig_buf_init(&batch->body, 0);
}

void vig_ctl_batch_release(struct vig_ctl_batch *batch)
{
	vig_buf_release(&batch->body);
	free(batch->line_map);
	batch->line_map = NULL;
	batch->map_cap = 0;
	batch->nlines = 0;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

enum vig_err vig_ctl_batcher_next(struct vig_ctl_batcher *b, struct vig_ctl_batch *batch,
				  char *errbuf)
{
	vig_buf_reset(&batch->body);
	batch->nlines = 0;
	if (!batch->line_map || batch->map_cap < b->max_lines) {
		size_t *m = realloc(batch->line_map, b->max_lines * sizeof(*m));
		if (!m)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		batch->line_map = m;
		batch->map_cap = b->max_lines;
	}
	while (b->pos < b->len && batch->nlines < b->max_lines) {
		const char *line = b->data + b->pos;
		const char *nl = memchr(line, '\n', b->len - b->pos);
		size_t n = nl ? (size_t)(nl - line) : b->len - b->pos;

		if (is_blank(line, n)) {
			b->pos += n + (nl ? 1 : 0);
			b->line_no++;
			continue;
		}
		if (batch->nlines > 0 && batch->body.len + n + 1 > b->max_bytes)
			break;
		vig_buf_add(&batch->body, line, n);
		vig_buf_addc(&batch->body, '\n');
		if (vig_buf_err(&batch->body) != VIG_OK)
			return vig_errf(errbuf, vig_buf_err(&batch->body),
					"line %zu: cannot buffer: %s", b->line_no,
					vig_strerror(vig_buf_err(&batch->body)));
		batch->line_map[batch->nlines++] = b->line_no;
		b->pos += n + (nl ? 1 : 0);
		b->line_no++;
	}
	if (batch->nlines == 0)
		return VIG_OK;
	batch->index = b->index++;
	vig_ctl_batch_id(b->hash_hex, batch->index, batch->id);
	return VIG_OK;
}

/* Parses an HTTP date (RFC 9110 IMF-fixdate) into epoch seconds. */
static bool parse_http_date(const char *s, int64_t *secs)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return false;
	*secs = (int64_t)timegm(&tm);
	return true;
}

int64_t vig_ctl_retry_delay_ms(const char *retry_after, unsigned attempt, int64_t now_ns)
{
	uint64_t secs;
	int64_t when;
	int64_t ms = 500;

	if (retry_after && *retry_after) {
		size_t n = strlen(retry_after);
		while (n > 0 && isspace((unsigned char)retry_after[n - 1]))
			n--;
		if (vig_parse_u64(retry_after, n, &secs))
			return secs >= VIG_CTL_RETRY_MAX_MS / 1000 ? VIG_CTL_RETRY_MAX_MS
								   : (int64_t)secs * 1000;
		if (parse_http_date(retry_after, &when)) {
			int64_t delta = when * 1000 - now_ns / 1000000;
			return delta < 0 ? 0 : VIG_MIN(delta, VIG_CTL_RETRY_MAX_MS);
		}
	}
	for (unsigned i = 1; i < attempt && ms < VIG_CTL_RETRY_MAX_MS; i++)
		ms *= 2;
	return VIG_MIN(ms, VIG_CTL_RETRY_MAX_MS);
}

static const char *reason_phrase(long status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "not authenticated";
	case 403: return "not allowed";
	case 404: return "not found";
	case 405: return "method not allowed";
	case 409: return "conflict";
	case 413: return "request too large";
	case 429: return "too many requests";
	case 500: return "internal server error";
	case 502: return "bad gateway";
	case 503: return "service unavailable";
	case 504: return "gateway timeout";
	default: return "unexpected response";
	}
}

/* Finds the string value of "error" in a flat JSON object without a JSON library, so that
 * this stays a pure function; handles the escapes a server would use in a message. */
static bool json_error_field(const char *body, size_t len, char *out, size_t outsz)
{
	static const char key[] = "\"error\"";
	const char *end = body + len;
	const char *p = body;
	size_t o = 0;

	for (;;) {
		p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1);
		if (!p)
			return false;
		p += sizeof(key) - 1;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if (p < end && *p == ':')
			break;
	}
	p++;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p != '"')
		return false;
	for (p++; p < end && *p != '"' && o + 1 < outsz; p++) {
		char c = *p;
		if (c == '\\' && p + 1 < end) {
			p++;
			c = *p == 'n' || *p == 't' || *p == 'r' ? ' ' : *p;
			if (*p == 'u') { /* keep it printable; messages are ASCII in practice */
				c = '?';
				p += (end - p > 4) ? 4 : 0;
			}
		}
		out[o++] = (unsigned char)c < 0x20 ? ' ' : c;
	}
	out[o] = '\0';
	return o > 0;
}

void vig_ctl_api_error(long status, const char *body, size_t len, char *out, size_t outsz)
{
	char msg[VIG_ERRBUF_SIZE];

	if (!body || !json_error_field(body, len, msg, sizeof(msg))) {
		size_t n = 0;
		while (body && n < len && n + 1 < sizeof(msg) && body[n] != '\n' && body[n] != '\r') {
			msg[n] = (unsigned char)body[n] < 0x20 ? ' ' : body[n];
			n++;
		}
		msg[n] = '\0';
		if (n == 0 || body[0] == '{' || body[0] == '<')
			snprintf(msg, sizeof(msg), "%s", reason_phrase(status));
	}
	snprintf(out, outsz, "vigilctl: %s (HTTP %ld)", msg, status);
}

static bool field_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '@' || c == '-';
}

static unsigned add_col(char cols[VIG_CTL_MAX_COLS][VIG_CTL_COL_NAME], unsigned n,
			const char *name, size_t len)
{
	if (n >= VIG_CTL_MAX_COLS || len == 0 || len >= VIG_CTL_COL_NAME)
		return n;
	for (unsigned i = 0; i < n; i++)
		if (strlen(cols[i]) == len && memcmp(cols[i], name, len) == 0)
			return n;
	memcpy(cols[n], name, len);
	cols[n][len] = '\0';
	return n + 1;
}

unsigned vig_ctl_search_columns(const char *query, const char *fields_opt,
				char cols[VIG_CTL_MAX_COLS][VIG_CTL_COL_NAME])
{
	static const char *const base[] = {"@timestamp", "host.name", "event.action"};
	unsigned n = 0;
	const char *p;

	if (fields_opt && *fields_opt) {
		for (p = fields_opt; *p;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			n = add_col(cols, n, p, len);
			p += len + (comma ? 1 : 0);
		}
		if (n > 0)
			return n;
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(base); i++)
		n = add_col(cols, n, base[i], strlen(base[i]));
	/* Fields are words followed by ':' or a comparison, outside quotes. */
	for (p = query ? query : ""; *p && n < VIG_CTL_MAX_COLS - 1;) {
		const char *w = p;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			while (*p && *p != q)
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
			continue;
		}
		if (!field_char(*p)) {
			p++;
			continue;
		}
		while (field_char(*p))
			p++;
		if (*p == ':' || *p == '<' || *p == '>' || *p == '=' || (*p == '!' && p[1] == '='))
			n = add_col(cols, n, w, (size_t)(p - w));
	}
	return add_col(cols, n, "message", 7);
}
