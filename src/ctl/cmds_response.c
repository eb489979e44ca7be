/*
 * cmds_response.c - vigilctl's response orchestration commands (docs/api.md, "Response
 * orchestration"): `approvals list [--status S] [--tenant T]`, `approvals approve|reject ID
 * [--reason R]`, `respond INCIDENT AGENT TYPE [--param K=V]... [--params JSON] [--reason R]`,
 * `playbooks list`, `playbooks add FILE.json`, `playbooks delete ID` and `tenants settings ID
 * [--set K=V]...`.
 *
 * Same shape as the other command files: one request per command, "vigilctl: <server's
 * message> (HTTP n)" and exit 1 on an API error, a table or "key value" lines by default and
 * the raw reply with --json. --set values are typed like --param, and JSON arrays and objects
 * (`--set 'preapproved=["kill"]'`) are sent as such.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cmds.h"
#include "cmds_agents.h"

#define PLAYBOOK_FILE_MAX (1u << 20) /* bytes of a playbook file */

static const char *const cols_requests[] = {"id", "tenant", "incident_id", "hostname", "type", "status",
					    "requested_by", "timeout_at", NULL};
static const char *const cols_playbooks[] = {"id", "tenant", "name", "enabled", "trigger", "steps", NULL};

struct rctx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

/*
 * method path [body]; then with --json the raw reply, else the rows of reply[key] as a table
 * (cols) when key is given, else the reply object as "key value" lines.
 */
static int call(struct rctx *x, const char *method, const char *path, json_t *body, const char *key,
		const char *const *cols)
{
	struct vig_ctl_response r;
	json_t *reply = NULL, *v;
	const char *k;
	char cell[4096];
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, method, path, body, &r, &reply, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK && x->a->json) {
		vig_ctl_print_raw(x->out, &r);
	} else if (rc == VIG_CTL_EXIT_OK && key) {
		rc = vig_ctl_print_rows(x->out, x->err, json_object_get(reply, key), cols);
	} else if (rc == VIG_CTL_EXIT_OK) {
		json_object_foreach(reply, k, v)
			fprintf(x->out, "%-18s %s\n", k, vig_ctl_json_cell(v, cell, sizeof(cell)));
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* base + escaped id + rest into p. */
static const char *path_of(struct vig_buf *p, const char *base, const char *id, const char *rest)
{
	vig_buf_reset(p);
	vig_buf_adds(p, base);
	vig_ctl_url_escape(p, id);
	vig_buf_adds(p, rest);
	return vig_buf_err(p) == VIG_OK ? p->data : "/";
}

/* {"reason": --reason} or {}. */
static json_t *reason_body(struct rctx *x)
{
	const char *reason = vig_ctl_args_get(x->a, "reason");

	return reason ? json_pack("{s:s}", "reason", reason) : json_object();
}

static int cmd_approvals_list(struct rctx *x, struct vig_buf *p)
{
	const char *status = vig_ctl_args_get(x->a, "status");

	vig_buf_adds(p, "/api/v1/approvals");
	vig_ctl_add_query(p, "status", status ? status : "pending");
	vig_ctl_add_query(p, "tenant", vig_ctl_args_get(x->a, "tenant"));
	return call(x, "GET", vig_buf_err(p) == VIG_OK ? p->data : "/", NULL, "requests", cols_requests);
}

static int cmd_decide(struct rctx *x, struct vig_buf *p, bool approve)
{
	json_t *body = reason_body(x);
	int rc = call(x, "POST", path_of(p, "/api/v1/approvals/", x->a->pos[0], approve ? "/approve" : "/reject"),
		      body, NULL, NULL);

	json_decref(body);
	return rc;
}

static int cmd_respond(struct rctx *x, struct vig_buf *p)
{
	const char *reason = vig_ctl_args_get(x->a, "reason");
	json_t *params, *body;
	int rc;

	params = vig_ctl_kv_object(x->a, "param", "params", x->err, &rc);
	if (!params)
		return rc;
	body = json_pack("{s:s,s:s,s:o,s:s?}", "agent_id", x->a->pos[1], "type", x->a->pos[2], "params", params,
			 "reason", reason);
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	rc = call(x, "POST", path_of(p, "/api/v1/incidents/", x->a->pos[0], "/actions"), body, NULL, NULL);
	json_decref(body);
	return rc;
}

static int cmd_playbook_add(struct rctx *x)
{
	struct stat sb;
	json_error_t jerr;
	json_t *def;
	char msg[300];
	int rc;

	if (stat(x->a->pos[0], &sb) != 0 || !S_ISREG(sb.st_mode))
		return vig_ctl_fail(x->err, "playbook file: not a readable file");
	if (sb.st_size > PLAYBOOK_FILE_MAX)
		return vig_ctl_fail(x->err, "playbook file: larger than 1 MiB");
	def = json_load_file(x->a->pos[0], JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(def)) {
		snprintf(msg, sizeof(msg), "playbook file: expected a JSON object (%s, line %d)", jerr.text, jerr.line);
		json_decref(def);
		return vig_ctl_fail(x->err, msg);
	}
	rc = call(x, "POST", "/api/v1/playbooks", def, NULL, NULL);
	json_decref(def);
	return rc;
}

static int cmd_settings(struct rctx *x, struct vig_buf *p)
{
	json_t *patch, *v;
	const char *k, *path = path_of(p, "/api/v1/tenants/", x->a->pos[0], "/settings");
	int rc;

	patch = vig_ctl_kv_object(x->a, "set", NULL, x->err, &rc);
	if (!patch)
		return rc;
	json_object_foreach(patch, k, v) {
		json_t *j = json_is_string(v) ? json_loads(json_string_value(v), JSON_DECODE_ANY, NULL) : NULL;

		if (json_is_array(j) || json_is_object(j))
			json_object_set(patch, k, j);
		json_decref(j);
	}
	rc = json_object_size(patch) ? call(x, "PATCH", path, patch, NULL, NULL) : call(x, "GET", path, NULL, NULL, NULL);
	json_decref(patch);
	return rc;
}

int vig_ctl_cmds_response(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out, FILE *err);

int vig_ctl_cmds_response(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out, FILE *err)
{
	struct rctx x = {.a = a, .c = client, .out = out, .err = err};
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 4096);
	switch (a->cmd->id) {
	case VIG_CTL_CMD_APPROVALS_LIST: rc = cmd_approvals_list(&x, &p); break;
	case VIG_CTL_CMD_APPROVALS_APPROVE: rc = cmd_decide(&x, &p, true); break;
	case VIG_CTL_CMD_APPROVALS_REJECT: rc = cmd_decide(&x, &p, false); break;
	case VIG_CTL_CMD_RESPOND: rc = cmd_respond(&x, &p); break;
	case VIG_CTL_CMD_PLAYBOOKS_LIST: rc = call(&x, "GET", "/api/v1/playbooks", NULL, "playbooks", cols_playbooks); break;
	case VIG_CTL_CMD_PLAYBOOKS_ADD: rc = cmd_playbook_add(&x); break;
	case VIG_CTL_CMD_PLAYBOOKS_DELETE:
		rc = call(&x, "DELETE", path_of(&p, "/api/v1/playbooks/", a->pos[0], ""), NULL, NULL, NULL);
		break;
	case VIG_CTL_CMD_TENANT_SETTINGS: rc = cmd_settings(&x, &p); break;
	default: rc = vig_ctl_fail(err, "command not implemented"); break;
	}
	vig_buf_release(&p);
	return rc;
}
