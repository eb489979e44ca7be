/*
 * cmds_reports.c - vigilctl's report commands (docs/api.md, "Reports"): `reports list`,
 * `reports add NAME --kind K --format F [--period P] [--schedule S] [--recipient E]...`,
 * `reports runs [--report ID]`, `reports run ID [--from T --to T] [--wait]` and
 * `reports get RUN -o FILE`.
 *
 * `reports run --wait` polls the run once a second until it is done or failed (at most
 * WAIT_MAX_S) and exits 1 unless it is done. `reports get` checks the file's SHA-256 against
 * the run's before writing it (mode 0600).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"
#include "common/vtime.h"

#define WAIT_POLL_US 1000000
#define WAIT_MAX_S 3600

struct rctx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	struct vig_buf path;
	char errbuf[VIG_ERRBUF_SIZE];
};

static const char *const cols_reports[] = {"id", "tenant", "name", "kind", "format", "period", "schedule",
					   "next_run", NULL};
static const char *const cols_runs[] = {"id", "report_id", "tenant", "name", "format", "status", "progress",
					"finished", "size", NULL};

/* base + escaped id + rest, or "/" when it does not fit. */
static const char *path_of(struct rctx *x, const char *base, const char *id, const char *rest)
{
	vig_buf_reset(&x->path);
	vig_buf_adds(&x->path, base);
	if (id)
		vig_ctl_url_escape(&x->path, id);
	if (rest)
		vig_buf_adds(&x->path, rest);
	return vig_buf_err(&x->path) == VIG_OK ? x->path.data : "/";
}

/* One request; the reply as a table of reply[key] (key NULL: one run's summary line) or raw. */
static int show(struct rctx *x, const char *method, const char *path, json_t *body, const char *key,
		const char *const *cols)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, method, path, body, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK && x->a->json)
		vig_ctl_print_raw(x->out, &r);
	else if (rc == VIG_CTL_EXIT_OK && key)
		rc = vig_ctl_print_rows(x->out, x->err, json_object_get(reply, key), cols);
	else if (rc == VIG_CTL_EXIT_OK)
		fprintf(x->out, "report %lld (%s) created\n", (long long)json_integer_value(json_object_get(reply, "id")),
			json_string_value(json_object_get(reply, "name")));
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_add(struct rctx *x)
{
	static const char *const keys[] = {"kind", "format", "period", "schedule", "tenant"};
	json_t *body = json_pack("{s:s,s:[]}", "name", x->a->pos[0], "recipients");
	int rc;

	for (size_t i = 0; body && i < VIG_ARRAY_LEN(keys); i++)
		if (vig_ctl_args_get(x->a, keys[i]))
			json_object_set_new(body, keys[i], json_string(vig_ctl_args_get(x->a, keys[i])));
	for (unsigned i = 0; body && i < x->a->nopts; i++)
		if (!strcmp(x->a->opts[i].spec->name, "recipient"))
			json_array_append_new(json_object_get(body, "recipients"), json_string(x->a->opts[i].value));
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	rc = show(x, "POST", "/api/v1/reports", body, NULL, NULL);
	json_decref(body);
	return rc;
}

/* A --from/--to time as RFC 3339 into out, or false after printing the error. */
static bool time_opt(struct rctx *x, const char *name, char out[VIG_TIME_STRLEN])
{
	const char *v = vig_ctl_args_get(x->a, name);
	int64_t ns;

	out[0] = '\0';
	if (!v)
		return true;
	if (vig_ctl_parse_time(v, vig_time_now(), &ns, x->errbuf) != VIG_OK) {
		vig_ctl_fail(x->err, x->errbuf);
		return false;
	}
	vig_time_format(ns, out);
	return true;
}

static bool finished(json_t *run)
{
	const char *s = json_string_value(json_object_get(run, "status"));

	return s && (!strcmp(s, "done") || !strcmp(s, "failed"));
}

static int cmd_run(struct rctx *x)
{
	char from[VIG_TIME_STRLEN], to[VIG_TIME_STRLEN], idstr[32];
	struct vig_ctl_response r;
	json_t *body, *run = NULL;
	bool wait = vig_ctl_args_get(x->a, "wait") != NULL;
	int rc, waited = 0;

	if (!time_opt(x, "from", from) || !time_opt(x, "to", to))
		return VIG_CTL_EXIT_USAGE;
	if (!from[0] != !to[0])
		return vig_ctl_fail(x->err, "give both --from and --to, or neither (the report's period)");
	body = from[0] ? json_pack("{s:s,s:s}", "from", from, "to", to) : json_object();
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "POST", path_of(x, "/api/v1/reports/", x->a->pos[0], "/run"), body,
				  &r, &run, x->errbuf);
	json_decref(body);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)json_integer_value(json_object_get(run, "id")));
	while (rc == VIG_CTL_EXIT_OK && wait && !finished(run) && waited++ < WAIT_MAX_S) {
		usleep(WAIT_POLL_US);
		json_decref(run);
		run = NULL;
		rc = vig_ctl_request_json(x->c, x->err, "GET", path_of(x, "/api/v1/report-runs/", idstr, NULL), NULL,
					  &r, &run, x->errbuf);
	}
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out, "run %s %s%s%s\n", idstr, json_string_value(json_object_get(run, "status")),
				json_is_string(json_object_get(run, "error")) ? ": " : "",
				json_is_string(json_object_get(run, "error"))
					? json_string_value(json_object_get(run, "error")) : "");
		if (wait && (!finished(run) || strcmp(json_string_value(json_object_get(run, "status")), "done")))
			rc = VIG_CTL_EXIT_API;
	}
	json_decref(run);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_get(struct rctx *x)
{
	const char *file = vig_ctl_args_get(x->a, "o");
	struct vig_ctl_response r;
	json_t *run = NULL;
	const char *want;
	uint8_t md[32];
	char hex[65];
	int rc, fd;

	if (!file)
		return vig_ctl_fail(x->err, "usage: vigilctl reports get RUN -o FILE");
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET", path_of(x, "/api/v1/report-runs/", x->a->pos[0], NULL), NULL,
				  &r, &run, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK)
		rc = vig_ctl_request_json(x->c, x->err, "GET",
					  path_of(x, "/api/v1/report-runs/", x->a->pos[0], "/download"), NULL, &r, NULL,
					  x->errbuf);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_free;
	want = json_string_value(json_object_get(run, "sha256"));
	vig_sha256(r.body.data ? r.body.data : "", r.body.len, md);
	vig_hex(md, sizeof(md), hex);
	if (!want || strcmp(hex, want) != 0) {
		rc = vig_ctl_fail(x->err, "the downloaded report does not match its sha256");
		goto out_free;
	}
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, r.body.data, r.body.len) != (ssize_t)r.body.len || close(fd) != 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot write %s: %s", file, strerror(errno));
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out_free;
	}
	fprintf(x->out, "%s: %zu bytes, sha256 %s\n", file, r.body.len, hex);
out_free:
	json_decref(run);
	vig_ctl_response_release(&r);
	return rc;
}

int vig_ctl_cmds_reports(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out, FILE *err);

int vig_ctl_cmds_reports(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out, FILE *err)
{
	struct rctx x = {.a = a, .c = client, .out = out, .err = err};
	int rc;

	vig_buf_init(&x.path, 8192);
	switch (a->cmd->id) {
	case VIG_CTL_CMD_REPORTS_LIST:
		vig_buf_adds(&x.path, "/api/v1/reports");
		vig_ctl_add_query(&x.path, "tenant", vig_ctl_args_get(a, "tenant"));
		rc = show(&x, "GET", vig_buf_err(&x.path) == VIG_OK ? x.path.data : "/", NULL, "reports",
			  cols_reports);
		break;
	case VIG_CTL_CMD_REPORTS_RUNS:
		vig_buf_adds(&x.path, "/api/v1/report-runs");
		vig_ctl_add_query(&x.path, "report_id", vig_ctl_args_get(a, "report"));
		vig_ctl_add_query(&x.path, "limit", vig_ctl_args_get(a, "limit"));
		rc = show(&x, "GET", vig_buf_err(&x.path) == VIG_OK ? x.path.data : "/", NULL, "runs", cols_runs);
		break;
	case VIG_CTL_CMD_REPORTS_ADD: rc = cmd_add(&x); break;
	case VIG_CTL_CMD_REPORTS_RUN: rc = cmd_run(&x); break;
	case VIG_CTL_CMD_REPORTS_GET: rc = cmd_get(&x); break;
	default: rc = vig_ctl_fail(err, "command not implemented"); break;
	}
	vig_buf_release(&x.path);
	return rc;
}
