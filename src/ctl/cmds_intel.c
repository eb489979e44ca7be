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

struct ictx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

static const char *const cols_feeds[] = {"id", "name", "tenant", "kind", "status",
					 "indicator_count", "malformed", "last_refresh",
					 "last_error", NULL};

static int cmd_feeds(struct ictx *x)
{
	struct vig_ctl_response r;
	json_t *reply;
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET", "/api/v1/intel/feeds", NULL, &r, &reply,
				  x->errbuf);
	if (rc == VIG_CTL_EXIT_OK)
		rc = x->a->json ? (vig_ctl_print_raw(x->out, &r), VIG_CTL_EXIT_OK)
				: vig_ctl_print_rows(x->out, x->err,
						     json_object_get(reply, "feeds"), cols_feeds);
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
		return vig_ctl_fail(x->err,
				    "intel add: --kind csv|txt|misp|stix|taxii is required");
	body = json_pack("{s:s,s:s,s:s}", "name", x->a->pos[0], "url", x->a->pos[1], "kind", kind);
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	if ((v = vig_ctl_args_get(x->a, "format")))
		json_object_set_new(body, "format", json_string(v));
	if ((v = vig_ctl_args_get(x->a, "tenant")))
		json_object_set_new(body, "tenant", json_string(v));
	if (vig_ctl_args_get(x->a, "insecure"))
		json_object_set_new(body, "insecure", json_true());
	if ((v = vig_ctl_args_get(x->a, "refresh"))) {
		if (vig_ctl_parse_duration(v, &ns, x->errbuf) != VIG_OK) {
			json_decref(body);
			return vig_ctl_fail(x->err, x->errbuf);
		}
		json_object_set_new(body, "refresh_s", json_integer(ns / VIG_NS_PER_SEC));
	}
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "POST", "/api/v1/intel/feeds", body, &r, &reply,
				  x->errbuf);
	json_decref(body);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
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
	rc = vig_ctl_request_json(x->c, x->err, "POST", vig_buf_err(&p) == VIG_OK ? p.data : "/",
				  NULL, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
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
	vig_ctl_add_query(&p, "value", x->a->pos[0]);
	vig_ctl_add_query(&p, "tenant", vig_ctl_args_get(x->a, "tenant"));
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET", vig_buf_err(&p) == VIG_OK ? p.data : "/",
				  NULL, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		hit = json_object_get(reply, "hit");
		if (x->a->json) {
			vig_ctl_print_raw(x->out, &r);
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
					vig_ctl_json_cell(json_object_get(hit, "threat"), cell,
							  sizeof(cell)));
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
	vig_ctl_add_query(&p, "tenant", vig_ctl_args_get(x->a, "tenant"));
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET", vig_buf_err(&p) == VIG_OK ? p.data : "/",
				  NULL, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		char *pretty = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (pretty)
			fprintf(x->out, "%s\n", pretty);
		else
			vig_ctl_print_raw(x->out, &r);
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
	default: return vig_ctl_fail(x.err, "not an intel command");
	}
}
