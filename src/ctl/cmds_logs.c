/*
 * cmds_logs.c - vigilctl's log-collection commands (cmds_logs.h).
 *
 * `replay FILE --format F [--source S] [--batch-lines N]` streams a raw log file (or stdin)
 * to POST /api/v1/ingest/raw in bounded batches: the file is read in 64 KiB chunks, never
 * whole; a line longer than the server's record limit is reported and skipped; every batch
 * carries an X-Vigil-Batch-Id derived from its content, format, source and index, so a rerun
 * after a failure resends nothing twice. The server parses each line with its own timestamp.
 * For Zeek TSV the '#' header lines seen last are repeated at the top of every batch (the
 * server's parser is stateful per batch). A batch the server answers 400 because no line
 * parsed is accounted as rejected, not fatal; a 413 (for instance an append spanning more days
 * than the store takes at once, when old logs are replayed) splits the batch in halves; any
 * other error stops with a resume hint.
 * Exit 1 when any line was rejected.
 *
 * `sources list` and `reduction stats` print GET /api/v1/sources and /reduction/stats.
 */
#include "cmds_logs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"

#define LINE_MAX_BYTES (256u << 10) /* the server's VIG_PARSE_MAX_LINE */
#define CHUNK_BYTES (64u << 10)
#define ERRORS_SHOWN 20

struct lctx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

/* A bounded line reader over a FILE. */
struct reader {
	FILE *f;
	char *buf;        /* CHUNK_BYTES + LINE_MAX_BYTES */
	size_t len, pos;  /* bytes in buf, next unread byte */
	bool eof;
	size_t line_no;   /* of the last line returned */
	size_t too_long;  /* lines skipped for length */
};

/* Next line (without the LF) into *p and *n; false at the end. */
static bool next_line(struct reader *r, const char **p, size_t *n, FILE *err, const char *name)
{
	for (;;) {
		char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
		bool skipping = false;

		if (nl || (r->eof && r->pos < r->len)) {
			size_t end = nl ? (size_t)(nl - r->buf) : r->len;

			*p = r->buf + r->pos;
			*n = end - r->pos;
			r->pos = nl ? end + 1 : r->len;
			r->line_no++;
			if (*n && (*p)[*n - 1] == '\r')
				(*n)--;
			return true;
		}
		if (r->eof)
			return false;
		if (r->len - r->pos >= LINE_MAX_BYTES) { /* no end in sight: skip to the next LF */
			r->line_no++;
			r->too_long++;
			fprintf(err, "vigilctl: %s:%zu: line longer than %u bytes skipped\n", name,
				r->line_no, LINE_MAX_BYTES);
			skipping = true;
			r->pos = r->len = 0;
			while (skipping && !r->eof) {
				size_t got = fread(r->buf, 1, CHUNK_BYTES, r->f);
				char *q = memchr(r->buf, '\n', got);

				r->eof = got == 0;
				if (q) {
					r->pos = (size_t)(q - r->buf) + 1;
					r->len = got;
					skipping = false;
				}
			}
			continue;
		}
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		{
			size_t got = fread(r->buf + r->len, 1, CHUNK_BYTES, r->f);

			r->len += got;
			r->eof = got == 0;
		}
	}
}

struct totals {
	long long accepted, stored, rejected, duplicate;
	unsigned batches, shown;
};

struct batch {
	struct vig_buf body;
	size_t n;               /* records (header lines included) */
	size_t *lines;          /* input line of each record (0 = repeated header) */
	size_t *off;            /* offset of each record in body */
	size_t cap;
};

static bool batch_add(struct batch *b, const char *p, size_t n, size_t line_no)
{
	if (b->n == b->cap) {
		size_t nc = b->cap ? 2 * b->cap : 1024;
		size_t *nl = realloc(b->lines, nc * sizeof(*nl));

		if (!nl)
			return false;
		b->lines = nl;
		nl = realloc(b->off, nc * sizeof(*nl));
		if (!nl)
			return false;
		b->off = nl;
		b->cap = nc;
	}
	b->lines[b->n] = line_no;
	b->off[b->n++] = b->body.len;
	vig_buf_add(&b->body, p, n);
	vig_buf_addc(&b->body, '\n');
	return vig_buf_err(&b->body) == VIG_OK;
}

/* The batch id: content, format, source and index hashed. */
static void batch_id(const char *data, size_t len, const char *fmt, const char *src, unsigned idx,
		     char out[VIG_CTL_BATCH_ID_LEN])
{
	struct vig_buf k;
	uint8_t d[32];
	char hex[65];

	hex[40] = '\0';
	vig_buf_init(&k, (size_t)1 << 30);
	vig_buf_printf(&k, "%s\n%s\n%u\n", fmt, src, idx);
	vig_buf_add(&k, data, len);
	vig_sha256(k.data ? k.data : "", k.len, d);
	vig_hex(d, 20, hex);
	snprintf(out, VIG_CTL_BATCH_ID_LEN, "vgr-%.40s-%u", hex, idx % 100000000u);
	vig_buf_release(&k);
}

/* Sends records [lo, hi) of b. A 413 (too many lines, or an append spanning too many days for
 * the store) splits the slice in two and sends each half; false (after a message) on a fatal
 * failure. */
static bool send_slice(struct lctx *x, const char *path, struct batch *b, size_t lo, size_t hi,
		       const char *name, struct totals *t)
{
	const char *fmt = vig_ctl_args_get(x->a, "format");
	const char *src = vig_ctl_args_get(x->a, "source");
	const char *data = b->body.data + b->off[lo];
	size_t len = (hi < b->n ? b->off[hi] : b->body.len) - b->off[lo];
	char id[VIG_CTL_BATCH_ID_LEN], hdr[VIG_CTL_BATCH_ID_LEN + 32];
	const char *hdrs[] = {hdr, NULL};
	struct vig_ctl_response r;
	json_t *j = NULL, *e;
	json_error_t jerr;
	size_t i;
	bool ok = false;

	batch_id(data, len, fmt ? fmt : "auto", src ? src : "", t->batches, id);
	snprintf(hdr, sizeof(hdr), "X-Vigil-Batch-Id: %s", id);
	vig_ctl_response_init(&r);
	if (vig_ctl_request_retry(x->c, "POST", path, "text/plain", data, len, hdrs, &r,
				  x->errbuf) != VIG_OK) {
		fprintf(x->err, "vigilctl: %s\n", x->errbuf);
		goto out;
	}
	if (r.status == 413 && hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		vig_ctl_response_release(&r);
		return send_slice(x, path, b, lo, mid, name, t) &&
		       send_slice(x, path, b, mid, hi, name, t);
	}
	if (r.status == 200 || r.status == 400)
		j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, &jerr);
	if (!j || !json_object_get(j, "accepted")) {
		char line[VIG_ERRBUF_SIZE + 64];

		vig_ctl_api_error(r.status, r.body.data, r.body.len, line, sizeof(line));
		fprintf(x->err, "%s\n", line);
		goto out;
	}
	t->batches++;
	if (json_is_true(json_object_get(j, "duplicate"))) {
		t->duplicate += (long long)(hi - lo);
		ok = true;
		goto out;
	}
	t->accepted += json_integer_value(json_object_get(j, "accepted"));
	t->stored += json_integer_value(json_object_get(j, "stored"));
	t->rejected += json_integer_value(json_object_get(j, "rejected"));
	json_array_foreach(json_object_get(j, "errors"), i, e) {
		json_int_t rec = json_integer_value(json_object_get(e, "line"));
		const char *msg = json_string_value(json_object_get(e, "error"));

		if (t->shown++ >= ERRORS_SHOWN)
			break;
		if (rec >= 1 && (size_t)rec <= hi - lo && b->lines[lo + (size_t)rec - 1])
			fprintf(x->err, "vigilctl: %s:%zu: %s\n", name, b->lines[lo + (size_t)rec - 1],
				msg ? msg : "?");
		else
			fprintf(x->err, "vigilctl: %s: batch %u: %s\n", name, t->batches - 1,
				msg ? msg : "?");
	}
	ok = true;
out:
	json_decref(j);
	vig_ctl_response_release(&r);
	return ok;
}

static bool send_batch(struct lctx *x, const char *path, struct batch *b, const char *name,
		       struct totals *t)
{
	return b->n == 0 || send_slice(x, path, b, 0, b->n, name, t);
}

static int cmd_replay(struct lctx *x)
{
	const char *name = x->a->pos[0], *fmt = vig_ctl_args_get(x->a, "format");
	const char *src = vig_ctl_args_get(x->a, "source"), *bl = vig_ctl_args_get(x->a, "batch-lines");
	size_t max_lines = bl ? strtoul(bl, NULL, 10) : VIG_CTL_REPLAY_BATCH_LINES;
	struct reader rd = {0};
	struct batch b = {0};
	struct vig_buf path, header;
	struct totals t = {0};
	bool zeek = fmt && strcmp(fmt, "zeek") == 0, in_header = false, ok = true;
	size_t header_lines = 0;
	const char *p;
	size_t n;
	int rc = VIG_CTL_EXIT_OK;

	if (!fmt)
		fmt = "auto";
	if (max_lines == 0 || max_lines > 100000)
		max_lines = VIG_CTL_REPLAY_BATCH_LINES;
	vig_buf_init(&path, 4096);
	vig_buf_init(&header, VIG_CTL_REPLAY_HEADER_BYTES);
	vig_buf_init(&b.body, (size_t)VIG_CTL_REPLAY_BATCH_BYTES + LINE_MAX_BYTES + 2);
	vig_buf_adds(&path, "/api/v1/ingest/raw?format=");
	vig_ctl_url_escape(&path, fmt);
	if (src) {
		vig_buf_adds(&path, "&source=");
		vig_ctl_url_escape(&path, src);
	}
	rd.buf = malloc(CHUNK_BYTES + LINE_MAX_BYTES);
	rd.f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	if (!rd.buf || !rd.f || vig_buf_err(&path) != VIG_OK) {
		fprintf(x->err, "vigilctl: cannot open %s: %s\n", name, rd.buf ? strerror(errno) : "out of memory");
		rc = VIG_CTL_EXIT_USAGE;
		goto out;
	}
	while (ok && next_line(&rd, &p, &n, x->err, name)) {
		if (n == 0)
			continue;
		if (zeek && p[0] == '#') { /* a header (block) replaces the previous one */
			if (!in_header) {
				vig_buf_reset(&header);
				header_lines = 0;
			}
			in_header = true;
			vig_buf_add(&header, p, n);
			vig_buf_addc(&header, '\n');
			header_lines++;
		} else {
			in_header = false;
		}
		if (b.n >= max_lines || b.body.len + n + 1 > VIG_CTL_REPLAY_BATCH_BYTES) {
			ok = send_batch(x, path.data, &b, name, &t);
			vig_buf_reset(&b.body);
			b.n = 0;
			if (zeek && !in_header && header.len) { /* repeat the header on top */
				const char *h = header.data, *end = header.data + header.len;

				while (h < end) {
					const char *nl = memchr(h, '\n', (size_t)(end - h));

					batch_add(&b, h, (size_t)(nl - h), 0);
					h = nl + 1;
				}
			}
		}
		if (ok && !batch_add(&b, p, n, rd.line_no)) {
			fprintf(x->err, "vigilctl: out of memory\n");
			ok = false;
		}
	}
	if (ok && b.n > (zeek ? header_lines : 0)) /* not a batch of a repeated header only */
		ok = send_batch(x, path.data, &b, name, &t);
	if (!ok) {
		fprintf(x->err, "vigilctl: stopped at input line %zu; rerun to resume, sent batches "
				"are not stored twice\n", rd.line_no);
		rc = VIG_CTL_EXIT_API;
	}
	if (x->a->json)
		fprintf(x->out, "{\"lines\":%zu,\"accepted\":%lld,\"stored\":%lld,\"rejected\":%lld,"
				"\"duplicate\":%lld,\"too_long\":%zu,\"batches\":%u}\n",
			rd.line_no, t.accepted, t.stored, t.rejected, t.duplicate, rd.too_long, t.batches);
	else
		fprintf(x->out, "replayed %zu lines: accepted %lld (stored %lld), rejected %lld, "
				"duplicate %lld, too long %zu (%u batches)\n",
			rd.line_no, t.accepted, t.stored, t.rejected, t.duplicate, rd.too_long, t.batches);
	if (rc == VIG_CTL_EXIT_OK && (t.rejected > 0 || rd.too_long > 0))
		rc = VIG_CTL_EXIT_API;
out:
	if (rd.f && rd.f != stdin)
		fclose(rd.f);
	free(rd.buf);
	free(b.lines);
	free(b.off);
	vig_buf_release(&b.body);
	vig_buf_release(&header);
	vig_buf_release(&path);
	return rc;
}

/* GET path and print it (JSON with --json, else one line per element of key). */
static int cmd_show(struct lctx *x, const char *path, const char *key)
{
	struct vig_ctl_response r;
	json_t *j = NULL, *e;
	json_error_t jerr;
	size_t i;
	int rc = VIG_CTL_EXIT_OK;

	vig_ctl_response_init(&r);
	if (vig_ctl_request_retry(x->c, "GET", path, NULL, NULL, 0, NULL, &r, x->errbuf) != VIG_OK) {
		fprintf(x->err, "vigilctl: %s\n", x->errbuf);
		rc = VIG_CTL_EXIT_API;
		goto out;
	}
	if (r.status != 200 || !(j = json_loadb(r.body.data, r.body.len, 0, &jerr))) {
		char line[VIG_ERRBUF_SIZE + 64];

		vig_ctl_api_error(r.status, r.body.data, r.body.len, line, sizeof(line));
		fprintf(x->err, "%s\n", line);
		rc = VIG_CTL_EXIT_API;
		goto out;
	}
	if (x->a->json || !key) {
		char *s = json_dumps(j, JSON_INDENT(2));

		fprintf(x->out, "%s\n", s ? s : "{}");
		free(s);
		goto out;
	}
	fprintf(x->out, "%-6s %-8s %-20s %-20s %-10s %-8s %10s %8s %8s\n", "ID", "TYPE", "ADDRESS",
		"NAME", "TENANT", "STATUS", "PARSED", "FAILED", "DROPPED");
	json_array_foreach(json_object_get(j, key), i, e) {
		json_t *c = json_object_get(e, "counters");
		const char *nm = json_string_value(json_object_get(e, "name"));

		fprintf(x->out, "%-6lld %-8s %-20s %-20s %-10s %-8s %10lld %8lld %8lld\n",
			(long long)json_integer_value(json_object_get(e, "id")),
			json_string_value(json_object_get(e, "type")),
			json_string_value(json_object_get(e, "address")),
			nm && nm[0] ? nm : json_string_value(json_object_get(e, "hostname")),
			json_string_value(json_object_get(e, "tenant")),
			json_string_value(json_object_get(e, "status")),
			(long long)json_integer_value(json_object_get(c, "parsed")),
			(long long)json_integer_value(json_object_get(c, "failed")),
			(long long)json_integer_value(json_object_get(c, "dropped")));
	}
out:
	json_decref(j);
	vig_ctl_response_release(&r);
	return rc;
}

int vig_ctl_cmds_logs(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
		      FILE *err)
{
	struct lctx x = {.a = a, .c = client, .out = out, .err = err};

	switch (a->cmd->id) {
	case VIG_CTL_CMD_REPLAY: return cmd_replay(&x);
	case VIG_CTL_CMD_SOURCES_LIST: return cmd_show(&x, "/api/v1/sources", "sources");
	case VIG_CTL_CMD_REDUCTION_STATS: return cmd_show(&x, "/api/v1/reduction/stats", NULL);
	default:
		fprintf(err, "vigilctl: command not implemented\n");
		return VIG_CTL_EXIT_API;
	}
}
