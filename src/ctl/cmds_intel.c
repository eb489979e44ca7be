/*
 * cmds_intel.c - vigilctl's threat-intelligence and ATT&CK commands (docs/intel.md):
 *   intel feeds                         table of feeds with their last refresh outcome
 *   intel add NAME URL|PATH --kind K    create a feed ([--format F] [--tenant T]
 *                                       [--refresh DUR] [--insecure])
 *   intel refresh ID                    refresh a feed now
 *   intel lookup VALUE [--tenant T]     is VALUE an indicator? (exit 0 either way)
 *   attack coverage [--tenant T]        the ATT&CK Navigator layer (JSON) of the rules
 *
 * Same shape as cmds.c: "vigilctl: <server's message> (HTTP n)" and exit 1 on an API error,
 * tables by default and the raw reply with --json; `attack coverage` always prints the layer,
 * so that `vigilctl attack coverage > layer.json` opens in the Navigator.
 */
#include "cmds_intel.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cmds.h"
#include "common/vtime.h"
#include "table.h"

#define CELL_BYTES 256
#define MAX_COLS 10

struct ictx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

static const char *const cols_feeds[] = {"id", "name", "tenant", "kind", "status",
					 "indicator_count", "malformed", "last_refresh",
					 "last_error", NULL};

static int fail(struct ictx *x, const char *msg)
{
	fprintf(x->err, "vigilctl: %s\n", msg);
	return VIG_CTL_EXIT_API;
}

/* One request; r keeps the raw reply and *reply its JSON. */
static int request(struct ictx *x, const char *method, const char *path, json_t *body,
		   struct vig_ctl_response *r, json_t **reply)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char line[VIG_ERRBUF_SIZE + 64];
	enum vig_err err;

	*reply = NULL;
	if (body && !text)
		return fail(x, "out of memory");
	err = strcmp(method, "GET") == 0
		      ? vig_ctl_request_retry(x->c, method, path, NULL, NULL, 0, NULL, r, x->errbuf)
		      : vig_ctl_request(x->c, method, path, text ? "application/json" : NULL, text,
					text ? strlen(text) : 0, NULL, r, x->errbuf);
	free(text);
	if (err != VIG_OK)
		return fail(x, x->errbuf);
	if (r->status < 200 || r->status >= 400) {
		vig_ctl_api_error(r->status, r->body.data, r->body.len, line, sizeof(line));
		fprintf(x->err, "%s\n", line);
		return VIG_CTL_EXIT_API;
	}
	*reply = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
	if (!*reply)
		return fail(x, "reply is not JSON");
	return VIG_CTL_EXIT_OK;
}

static void print_raw(struct ictx *x, const struct vig_ctl_response *r)
{
	fwrite(r->body.data, 1, r->body.len, x->out);
	if (r->body.len == 0 || r->body.data[r->body.len - 1] != '\n')
		fputc('\n', x->out);
}

static int print_rows(struct ictx *x, json_t *list, const char *const *cols)
{
	char buf[MAX_COLS][CELL_BYTES];
	const char *cells[MAX_COLS];
	struct vig_ctl_table *t;
	struct vig_buf b;
	unsigned n = 0;
	size_t i;
	json_t *row;
	int rc = VIG_CTL_EXIT_OK;

	while (cols[n] && n < MAX_COLS)
		n++;
	t = vig_ctl_table_new(n, cols, 0);
	if (!t)
		return fail(x, "out of memory");
	json_array_foreach(list, i, row) {
		for (unsigned c = 0; c < n; c++)
			cells[c] = vig_ctl_json_cell(vig_ctl_json_path(row, cols[c]), buf[c], CELL_BYTES);
		if (vig_ctl_table_add_row(t, cells) != VIG_OK) {
			vig_ctl_table_free(t);
			return fail(x, "too many rows");
		}
	}
	vig_buf_init(&b, 0);
	if (vig_ctl_table_render(t, &b) == VIG_OK)
		fwrite(b.data, 1, b.len, x->out);
	else
		rc = fail(x, "cannot render the table");
	vig_buf_release(&b);
	vig_ctl_table_free(t);
	return rc;
}

static void add_query(struct vig_buf *p, const char *key, const char *value)
{
	if (!value)
		return;
	vig_buf_addc(p, strchr(p->data ? p->data : "", '?') ? '&' : '?');
	vig_buf_adds(p, key);
	vig_buf_addc(p, '=');
	vig_ctl_url_escape(p, value);
}

static int cmd_feeds(struct ictx *x)
{
	struct vig_ctl_response r;
	json_t *reply;
	int rc;

	vig_ctl_response_init(&r);
	rc = request(x, "GET", "/api/v1/intel/feeds", NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK)
		rc = x->a->json ? (print_raw(x, &r), VIG_CTL_EXIT_OK)
				: print_rows(x, json_object_get(reply, "feeds"), cols_feeds);
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_add(struct ictx *x)
{
	const char *kind = vig_ctl_args_get(x->a, "kind"), *v;
	json_t *body, *reply = NULL;
	struct vig_ctl_response r;
	int64_t ns;
	int rc;

	if (!kind)
		return fail(x, "intel add: --kind csv|txt|misp|stix|taxii is required");
	body = json_pack("{s:s,s:s,s:s}", "name", x->a->pos[0], "url", x->a->pos[1], "kind", kind);
	if (!body)
		return fail(x, "out of memory");
	if ((v = vig_ctl_args_get(x->a, "format")))
		json_object_set_new(body, "format", json_string(v));
	if ((v = vig_ctl_args_get(x->a, "tenant")))
		json_object_set_new(body, "tenant", json_string(v));
	if (vig_ctl_args_get(x->a, "insecure"))
		json_object_set_new(body, "insecure", json_true());
	if ((v = vig_ctl_args_get(x->a, "refresh"))) {
		if (vig_ctl_parse_duration(v, &ns, x->errbuf) != VIG_OK) {
			json_decref(body);
			return fail(x, x->errbuf);
		}
		json_object_set_new(body, "refresh_s", json_integer(ns / VIG_NS_PER_SEC));
	}
	vig_ctl_response_init(&r);
	rc = request(x, "POST", "/api/v1/intel/feeds", body, &r, &reply);
	json_decref(body);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_raw(x, &r);
		else
			fprintf(x->out, "feed '%s' added (id %lld); first refresh queued\n", x->a->pos[0],
				(long long)json_integer_value(json_object_get(reply, "id")));
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_refresh(struct ictx *x)
{
	struct vig_ctl_response r;
	json_t *reply;
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 4096);
	vig_buf_adds(&p, "/api/v1/intel/feeds/");
	vig_ctl_url_escape(&p, x->a->pos[0]);
	vig_buf_adds(&p, "/refresh");
	vig_ctl_response_init(&r);
	rc = request(x, "POST", vig_buf_err(&p) == VIG_OK ? p.data : "/", NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_raw(x, &r);
		else
			fprintf(x->out, "refresh of feed %s queued\n", x->a->pos[0]);
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_lookup(struct ictx *x)
{
	char cell[CELL_BYTES];
	struct vig_ctl_response r;
	json_t *reply, *hit;
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 8192);
	vig_buf_adds(&p, "/api/v1/intel/lookup");
	add_query(&p, "value", x->a->pos[0]);
	add_query(&p, "tenant", vig_ctl_args_get(x->a, "tenant"));
	vig_ctl_response_init(&r);
	rc = request(x, "GET", vig_buf_err(&p) == VIG_OK ? p.data : "/", NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		hit = json_object_get(reply, "hit");
		if (x->a->json) {
			print_raw(x, &r);
		} else if (!json_is_true(json_object_get(reply, "match"))) {
			fprintf(x->out, "%s: no match\n", x->a->pos[0]);
		} else {
			fprintf(x->out, "%s: matches %s %s of feed %s", x->a->pos[0],
				json_string_value(json_object_get(hit, "type")),
				json_string_value(json_object_get(hit, "indicator")),
				json_string_value(json_object_get(hit, "feed")));
			if (json_is_integer(json_object_get(hit, "confidence")))
				fprintf(x->out, ", confidence %lld",
					(long long)json_integer_value(json_object_get(hit, "confidence")));
			if (json_is_string(json_object_get(hit, "threat")))
				fprintf(x->out, ", threat %s",
					vig_ctl_json_cell(json_object_get(hit, "threat"), cell, sizeof(cell)));
			if (json_is_string(json_object_get(hit, "id")))
				fprintf(x->out, " (id %s)", json_string_value(json_object_get(hit, "id")));
			fputc('\n', x->out);
		}
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_coverage(struct ictx *x)
{
	struct vig_ctl_response r;
	json_t *reply;
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 4096);
	vig_buf_adds(&p, "/api/v1/attack/navigator");
	add_query(&p, "tenant", vig_ctl_args_get(x->a, "tenant"));
	vig_ctl_response_init(&r);
	rc = request(x, "GET", vig_buf_err(&p) == VIG_OK ? p.data : "/", NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		char *pretty = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (pretty)
			fprintf(x->out, "%s\n", pretty);
		else
			print_raw(x, &r);
		free(pretty);
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

int vig_ctl_cmds_intel(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
		       FILE *err)
{
	struct ictx x = {.a = a, .c = client, .out = out, .err = err};

	switch (a->cmd->id) {
	case VIG_CTL_CMD_INTEL_FEEDS: return cmd_feeds(&x);
	case VIG_CTL_CMD_INTEL_ADD: return cmd_add(&x);
	case VIG_CTL_CMD_INTEL_REFRESH: return cmd_refresh(&x);
	case VIG_CTL_CMD_INTEL_LOOKUP: return cmd_lookup(&x);
	case VIG_CTL_CMD_ATTACK_COVERAGE: return cmd_coverage(&x);
	default: return fail(&x, "not an intel command");
	}
}
