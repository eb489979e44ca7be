/*
 * cmds_agents.c - vigilctl's fleet commands (docs/agent-protocol.md): `agents list|show|revoke|
 * inventory`, `enroll-token create|list|revoke`, `action run AGENT TYPE [--param k=v]...
 * [--params JSON] [--reason R] [--wait SECONDS]`, `action list|show|cancel` and
 * `action fetch ID FILE`.
 *
 * Same shape as cmds.c: one request per step, "vigilctl: <server's message> (HTTP n)" and exit
 * 1 on an API error, tables by default and the raw reply with --json. `action run --wait`
 * polls the action once a second until it is succeeded, failed, cancelled or expired (or the
 * wait is over) and exits 1 unless it succeeded. `action fetch` checks the file's SHA-256
 * against the X-Vigil-Sha256 the server stored before writing it (mode 0600).
 */
#include "cmds_agents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"
#include "table.h"

#define WAIT_POLL_US 1000000
#define WAIT_MAX_S (24 * 3600)

struct actx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

/* Prints an object as "key: value" lines (nested objects as compact JSON). */
static void print_object(struct actx *x, json_t *o)
{
	char cell[4096];
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
		fprintf(x->out, "%-14s %s\n", k, vig_ctl_json_cell(v, cell, sizeof(cell)));
}

/* GET path, then a table of reply[key] or the raw reply with --json. */
static int list(struct actx *x, const char *path, const char *key, const char *const *cols)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET", path, NULL, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			rc = vig_ctl_print_rows(x->out, x->err, json_object_get(reply, key), cols);
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* method path [body], then the object (or the raw reply with --json) or a message. */
static int one(struct actx *x, const char *method, const char *path, json_t *body,
	       const char *done)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, method, path, body, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else if (done)
			fprintf(x->out, "%s\n", done);
		else
			print_object(x, reply);
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* base + escaped id + rest into out. */
static const char *path_of(struct vig_buf *out, const char *base, const char *id, const char *rest)
{
	vig_buf_reset(out);
	vig_buf_adds(out, base);
	if (id)
		vig_ctl_url_escape(out, id);
	if (rest)
		vig_buf_adds(out, rest);
	return vig_buf_err(out) == VIG_OK ? out->data : "/";
}

static const char *const cols_agents[] = {"id", "hostname", "tenant", "status", "mode",
					  "version", "last_seen", "isolated", NULL};
static const char *const cols_tokens[] = {"id", "name", "tenant", "uses", "used", "expires",
					  "revoked", NULL};
static const char *const cols_actions[] = {"id", "agent_id", "type", "status", "requested_by",
					   "created", "finished", "error", NULL};

static int cmd_token_create(struct actx *x)
{
	const char *uses = vig_ctl_args_get(x->a, "uses"), *exp = vig_ctl_args_get(x->a,
					    "expires-in");
	const char *tenant = vig_ctl_args_get(x->a, "tenant");
	struct vig_ctl_response r;
	json_t *body, *reply = NULL;
	int64_t ns = 0, nuses = 1;
	int rc;

	if (exp && vig_ctl_parse_duration(exp, &ns, x->errbuf) != VIG_OK)
		return vig_ctl_fail(x->err, x->errbuf);
	if (uses && (!vig_parse_i64(uses, strlen(uses), &nuses) || nuses < 0))
		return vig_ctl_fail(x->err, "--uses: expected 0 (unlimited) or a positive integer");
	body = json_pack("{s:s}", "name", x->a->pos[0]);
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	if (uses)
		json_object_set_new(body, "uses", json_integer(nuses));
	if (exp)
		json_object_set_new(body, "expires_in_s", json_integer(ns / 1000000000LL));
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "POST", "/api/v1/enroll-tokens", body, &r, &reply,
				  x->errbuf);
	if (rc == VIG_CTL_EXIT_OK && x->a->json)
		vig_ctl_print_raw(x->out, &r);
	else if (rc == VIG_CTL_EXIT_OK)
		fprintf(x->out, "%s\n(id %lld, tenant %s; shown once: vigil-agent --enroll TOKEN)\n",
			json_string_value(json_object_get(reply, "token")),
			(long long)json_integer_value(json_object_get(reply, "id")),
			json_string_value(json_object_get(reply, "tenant")));
	json_decref(body);
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

json_t *vig_ctl_kv_object(const struct vig_ctl_args *a, const char *opt, const char *json_opt, FILE *err,
			  int *rc)
{
	const char *pj = json_opt ? vig_ctl_args_get(a, json_opt) : NULL;
	json_t *params = pj ? json_loads(pj, 0, NULL) : json_object();
	char msg[96];

	*rc = VIG_CTL_EXIT_OK;
	if (!json_is_object(params)) {
		json_decref(params);
		snprintf(msg, sizeof(msg), "--%s: expected a JSON object", json_opt);
		*rc = vig_ctl_fail(err, msg);
		return NULL;
	}
	for (unsigned i = 0; i < a->nopts; i++) {
		const char *kv = a->opts[i].value, *eq;
		json_t *v;

		if (strcmp(a->opts[i].spec->name, opt) != 0)
			continue;
		eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			json_decref(params);
			snprintf(msg, sizeof(msg), "--%s: expected KEY=VALUE", opt);
			*rc = vig_ctl_fail(err, msg);
			return NULL;
		}
		v = json_loads(eq + 1, JSON_DECODE_ANY, NULL);
		if (!v || json_is_object(v) || json_is_array(v)) {
			json_decref(v);
			v = json_string(eq + 1);
		}
		{
			char key[128];

			snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
			json_object_set_new(params, key, v);
		}
	}
	return params;
}

/* --params JSON, then every --param k=v. */
static json_t *action_params(struct actx *x, int *rc)
{
	return vig_ctl_kv_object(x->a, "param", "params", x->err, rc);
}

static bool finished(const char *status)
{
	return status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
			  strcmp(status, "cancelled") == 0 || strcmp(status, "expired") == 0);
}

static int cmd_action_run(struct actx *x)
{
	const char *reason = vig_ctl_args_get(x->a, "reason"), *wait = vig_ctl_args_get(x->a,
					      "wait");
	struct vig_ctl_response r;
	json_t *params, *body, *reply = NULL;
	const char *status;
	struct vig_buf p;
	int64_t id, waited = 0, wait_s = 0;
	char idstr[32];
	int rc;

	if (wait && (!vig_parse_i64(wait, strlen(wait), &wait_s) || wait_s < 0))
		return vig_ctl_fail(x->err, "--wait: expected seconds");
	params = action_params(x, &rc);
	if (!params)
		return rc;
	body = json_pack("{s:s,s:o}", "type", x->a->pos[1], "params", params);
	if (reason)
		json_object_set_new(body, "reason", json_string(reason));
	vig_buf_init(&p, 4096);
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "POST",
				  path_of(&p, "/api/v1/agents/", x->a->pos[0], "/actions"), body,
				  &r,
		     &reply, x->errbuf);
	json_decref(body);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_free;
	id = json_integer_value(json_object_get(reply, "id"));
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	if (wait_s > WAIT_MAX_S)
		wait_s = WAIT_MAX_S;
	while (wait_s > 0 && !finished(json_string_value(json_object_get(reply, "status"))) &&
	       waited < wait_s) {
		usleep(WAIT_POLL_US);
		waited++;
		json_decref(reply);
		rc = vig_ctl_request_json(x->c, x->err, "GET",
					  path_of(&p, "/api/v1/actions/", idstr, NULL), NULL, &r,
					  &reply, x->errbuf);
		if (rc != VIG_CTL_EXIT_OK)
			goto out_free;
	}
	if (x->a->json) {
		vig_ctl_print_raw(x->out, &r);
	} else if (wait_s > 0) {
		print_object(x, reply);
	} else {
		fprintf(x->out, "action %s queued\n", idstr);
	}
	status = json_string_value(json_object_get(reply, "status"));
	if (wait_s > 0 && (!status || strcmp(status, "succeeded") != 0)) {
		if (!finished(status))
			fprintf(x->err, "vigilctl: action %s not finished after %lld s\n", idstr,
				(long long)wait_s);
		rc = VIG_CTL_EXIT_API;
	}
out_free:
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_action_fetch(struct actx *x)
{
	struct vig_ctl_response r;
	struct vig_buf p;
	uint8_t md[32];
	char hex[65];
	json_t *a = NULL;
	const char *want;
	int rc, fd;

	vig_buf_init(&p, 4096);
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "GET",
				  path_of(&p, "/api/v1/actions/", x->a->pos[0], NULL), NULL, &r, &a,
				  x->errbuf);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_free;
	want = json_string_value(json_object_get(json_object_get(a, "file"), "sha256"));
	if (!want) {
		rc = vig_ctl_fail(x->err, "no file collected for this action");
		goto out_free;
	}
	rc = vig_ctl_request_json(x->c, x->err, "GET",
				  path_of(&p, "/api/v1/actions/", x->a->pos[0], "/file"), NULL, &r,
		     NULL, x->errbuf);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_free;
	vig_sha256(r.body.data, r.body.len, md);
	vig_hex(md, sizeof(md), hex);
	if (strcmp(hex, want) != 0) {
		rc = vig_ctl_fail(x->err, "the downloaded file does not match its sha256");
		goto out_free;
	}
	fd = open(x->a->pos[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, r.body.data, r.body.len) != (ssize_t)r.body.len || close(fd) != 0) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot write %s: %s", x->a->pos[1],
			 strerror(errno));
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out_free;
	}
	fprintf(x->out, "%s: %zu bytes, sha256 %s\n", x->a->pos[1], r.body.len, hex);
out_free:
	json_decref(a);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

int vig_ctl_cmds_agents(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
			FILE *err)
{
	struct actx x = {.a = a, .c = client, .out = out, .err = err};
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 8192);
	switch (a->cmd->id) {
	case VIG_CTL_CMD_AGENTS_LIST:
		vig_buf_adds(&p, "/api/v1/agents");
		vig_ctl_add_query(&p, "status", vig_ctl_args_get(a, "status"));
		vig_ctl_add_query(&p, "q", vig_ctl_args_get(a, "q"));
		vig_ctl_add_query(&p, "tenant", vig_ctl_args_get(a, "tenant"));
		rc = list(&x, vig_buf_err(&p) == VIG_OK ? p.data : "/", "agents", cols_agents);
		break;
	case VIG_CTL_CMD_AGENTS_SHOW:
		rc = one(&x, "GET", path_of(&p, "/api/v1/agents/", a->pos[0], NULL), NULL, NULL);
		break;
	case VIG_CTL_CMD_AGENTS_INVENTORY:
		rc = one(&x, "GET", path_of(&p, "/api/v1/agents/", a->pos[0], "/inventory"), NULL, NULL);
		break;
	case VIG_CTL_CMD_AGENTS_REVOKE:
		rc = one(&x, "POST", path_of(&p, "/api/v1/agents/", a->pos[0], "/revoke"), NULL,
			 "agent revoked");
		break;
	case VIG_CTL_CMD_ENROLL_TOKEN_CREATE: rc = cmd_token_create(&x); break;
	case VIG_CTL_CMD_ENROLL_TOKEN_LIST:
		rc = list(&x, "/api/v1/enroll-tokens", "enroll_tokens", cols_tokens);
		break;
	case VIG_CTL_CMD_ENROLL_TOKEN_REVOKE:
		rc = one(&x, "DELETE", path_of(&p, "/api/v1/enroll-tokens/", a->pos[0], NULL), NULL,
			 "enrolment token revoked");
		break;
	case VIG_CTL_CMD_ACTION_RUN: rc = cmd_action_run(&x); break;
	case VIG_CTL_CMD_ACTION_LIST:
		vig_buf_adds(&p, "/api/v1/actions");
		vig_ctl_add_query(&p, "agent", vig_ctl_args_get(a, "agent"));
		vig_ctl_add_query(&p, "status", vig_ctl_args_get(a, "status"));
		vig_ctl_add_query(&p, "limit", vig_ctl_args_get(a, "limit"));
		rc = list(&x, vig_buf_err(&p) == VIG_OK ? p.data : "/", "actions", cols_actions);
		break;
	case VIG_CTL_CMD_ACTION_SHOW:
		rc = one(&x, "GET", path_of(&p, "/api/v1/actions/", a->pos[0], NULL), NULL, NULL);
		break;
	case VIG_CTL_CMD_ACTION_CANCEL:
		rc = one(&x, "POST", path_of(&p, "/api/v1/actions/", a->pos[0], "/cancel"), NULL,
			 "action cancelled");
		break;
	case VIG_CTL_CMD_ACTION_FETCH: rc = cmd_action_fetch(&x); break;
	default: rc = vig_ctl_fail(x.err, "command not implemented"); break;
	}
	vig_buf_release(&p);
	return rc;
}
