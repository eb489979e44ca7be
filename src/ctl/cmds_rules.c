/*
 * cmds_rules.c - vigilctl's rule-engineering and hunting commands: `rules validate FILE`,
 * `rules test FILE EVENTS.ndjson`, `rules import DIR`, `rules enable|disable ID` and
 * `hunt run FILE [--from] [--to] [--wait]`, `hunt show ID`, `hunt cancel ID`, `hunt list`
 * (docs/api.md: /rules/validate, /rules/test, /rules, /hunts).
 *
 * Same shape as cmds.c: one request per step, "vigilctl: <server's message> (HTTP n)" and
 * exit 1 on an API error, JSON with --json. `rules import` keeps going after a refused file
 * and exits 1 when any file was refused, printing one line per file ("loaded" or "refused:
 * <reason>"). `hunt run --wait` polls the hunt once a second until it finished, printing its
 * progress on stderr, and exits 1 unless it ended "done".
 */
#include "cmds_rules.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "common/vtime.h"

#define RULE_FILE_MAX (256u * 1024)        /* bytes of one rule file */
#define EVENTS_FILE_MAX ((size_t)1 << 20)  /* bytes of a test's NDJSON events */
#define IMPORT_MAX_FILES 10000             /* files of one import */
#define HUNT_WAIT_POLL_US 1000000          /* between two polls of --wait */
#define HUNT_WAIT_MAX_S (24 * 3600)        /* longest --wait */

struct rctx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

/* Reads a whole file of at most max bytes into out (NUL-terminated). */
static enum vig_err read_file(const char *path, size_t max, struct vig_buf *out, char *errbuf)
{
	char chunk[65536];
	FILE *f;
	size_t n;
	bool bad;

	vig_buf_init(out, max + 1);
	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (vig_buf_add(out, chunk, n) != VIG_OK)
			break;
	bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (vig_buf_err(out) == VIG_ETOOBIG)
		return vig_errf(errbuf, VIG_ETOOBIG, "%s is larger than %zu bytes", path, max);
	if (vig_buf_err(out) != VIG_OK)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory reading %s", path);
	if (bad)
		return vig_errf(errbuf, VIG_EIO, "cannot read %s", path);
	if (vig_buf_addc(out, '\0') != VIG_OK)
		return vig_errf(errbuf, VIG_ETOOBIG, "%s is larger than %zu bytes", path, max);
	out->len--; /* keep the NUL outside the length */
	return VIG_OK;
}

/* Sends a request; *reply gets the parsed JSON. On an HTTP error prints the server's message
 * (unless quiet_msg is not NULL: it receives the message instead) and returns 1. */
static int request(struct rctx *x, const char *method, const char *path, const char *ctype,
		   const char *body, size_t len, json_t **reply, char *quiet_msg, size_t qn)
{
	struct vig_ctl_response r;
	char line[VIG_ERRBUF_SIZE + 64];
	int rc = VIG_CTL_EXIT_OK;

	*reply = NULL;
	vig_ctl_response_init(&r);
	if (strcmp(method, "GET") == 0 ? vig_ctl_request_retry(x->c, method, path, ctype, body, len,
							       NULL, &r, x->errbuf) != VIG_OK
				       : vig_ctl_request(x->c, method, path, ctype, body, len, NULL,
							 &r, x->errbuf) != VIG_OK) {
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out;
	}
	if (r.status < 200 || r.status >= 400) {
		vig_ctl_api_error(r.status, r.body.data, r.body.len, line, sizeof(line));
		if (quiet_msg)
			snprintf(quiet_msg, qn, "%s", line + (strncmp(line, "vigilctl: ", 10) ? 0 : 10));
		else
			fprintf(x->err, "%s\n", line);
		rc = VIG_CTL_EXIT_API;
		goto out;
	}
	if (r.body.len)
		*reply = json_loadb(r.body.data, r.body.len, 0, NULL);
	if (!*reply) {
		rc = vig_ctl_fail(x->err, "reply is not JSON");
		goto out;
	}
out:
	vig_ctl_response_release(&r);
	return rc;
}

/* vig_ctl_request_json() that keeps only the reply's JSON. */
static int request_json(struct rctx *x, const char *method, const char *path, json_t *body,
			json_t **reply)
{
	struct vig_ctl_response r;
	int rc;

	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, method, path, body, &r, reply, x->errbuf);
	vig_ctl_response_release(&r);
	return rc;
}

static void print_json(struct rctx *x, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s)
		fprintf(x->out, "%s\n", s);
	free(s);
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- rules ---- */

static int cmd_validate(struct rctx *x)
{
	struct vig_buf data;
	json_t *body, *reply = NULL;
	int rc;

	if (read_file(x->a->pos[0], RULE_FILE_MAX, &data, x->errbuf) != VIG_OK) {
		vig_buf_release(&data);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	body = json_pack("{s:s%}", "yaml", data.data ? data.data : "", data.len);
	rc = body ? request_json(x, "POST", "/api/v1/rules/validate", body, &reply)
		  : vig_ctl_fail(x->err, "rule file is not UTF-8 text");
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_json(x, reply);
		else if (json_is_true(json_object_get(reply, "ok")))
			fprintf(x->out, "ok: %s rule '%s', %lld value tests%s%s\n",
				str(reply, "kind"), str(reply, "title"),
				(long long)json_integer_value(json_object_get(reply, "atoms")),
				str(reply, "prefilter")[0] ? ", hunt prefilter: " : "",
				str(reply, "prefilter"));
		else
			fprintf(x->out, "invalid: %s\n", str(reply, "error"));
		if (!json_is_true(json_object_get(reply, "ok")))
			rc = VIG_CTL_EXIT_API;
	}
	json_decref(reply);
	json_decref(body);
	vig_buf_release(&data);
	return rc;
}

/* Parses NDJSON text into a JSON array of objects; false with errbuf on a bad line. */
static bool ndjson_array(const char *text, json_t *arr, char *errbuf)
{
	size_t line = 0;

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		json_error_t je;
		json_t *ev;

		line++;
		while (n > 0 && (text[n - 1] == '\r' || text[n - 1] == ' '))
			n--;
		if (n > 0) {
			ev = json_loadb(text, n, 0, &je);
			if (!json_is_object(ev)) {
				json_decref(ev);
				vig_errf(errbuf, VIG_EINVAL, "events line %zu: not a JSON object", line);
				return false;
			}
			json_array_append_new(arr, ev);
		}
		text += nl ? (size_t)(nl - text) + 1 : strlen(text);
	}
	return true;
}

static int cmd_test(struct rctx *x)
{
	struct vig_buf rule, events;
	json_t *body = NULL, *arr = json_array(), *reply = NULL, *res, *m;
	size_t i, k;
	int rc;

	vig_buf_init(&rule, 1);
	vig_buf_init(&events, 1);
	if (read_file(x->a->pos[0], RULE_FILE_MAX, &rule, x->errbuf) != VIG_OK ||
	    read_file(x->a->pos[1], EVENTS_FILE_MAX, &events, x->errbuf) != VIG_OK) {
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out;
	}
	if (!ndjson_array(events.data ? events.data : "", arr, x->errbuf)) {
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out;
	}
	body = json_pack("{s:s%,s:O}", "yaml", rule.data ? rule.data : "", rule.len, "events", arr);
	rc = body ? request_json(x, "POST", "/api/v1/rules/test", body, &reply)
		  : vig_ctl_fail(x->err, "rule file is not UTF-8 text");
	if (rc != VIG_CTL_EXIT_OK)
		goto out;
	if (x->a->json) {
		print_json(x, reply);
		goto out;
	}
	json_array_foreach(json_object_get(reply, "results"), i, res) {
		json_t *matched = json_object_get(res, "matched");

		if (json_object_get(res, "error")) {
			fprintf(x->out, "event %zu: error: %s\n", i + 1, str(res, "error"));
			continue;
		}
		fprintf(x->out, "event %zu: %s", i + 1, json_array_size(matched) ? "matched" : "no match");
		json_array_foreach(matched, k, m)
			fprintf(x->out, "%s '%s'", k ? "," : "", str(m, "title"));
		fputc('\n', x->out);
		json_array_foreach(json_object_get(res, "correlations"), k, m)
			fprintf(x->out, "  correlation fired: '%s' (%lld events)\n", str(m, "title"),
				(long long)json_integer_value(json_object_get(m, "events")));
	}
	json_array_foreach(json_object_get(reply, "correlations_at_end"), i, m)
		fprintf(x->out, "after the last event: correlation fired: '%s' (%lld events)\n",
			str(m, "title"), (long long)json_integer_value(json_object_get(m, "events")));
	json_array_foreach(json_object_get(reply, "not_evaluated"), i, m)
		fprintf(x->out, "not evaluated: %s rule '%s' (%s)\n", str(m, "kind"), str(m, "title"),
			str(m, "reason"));
out:
	json_decref(reply);
	json_decref(body);
	json_decref(arr);
	vig_buf_release(&rule);
	vig_buf_release(&events);
	return rc;
}

static bool is_rule_file(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
				  (n > 5 && strcmp(name + n - 5, ".yaml") == 0));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* POSTs one rule file; prints "PATH: loaded (id X)" or "PATH: refused: reason". */
static bool import_one(struct rctx *x, const char *path, const char *api_path)
{
	struct vig_buf data;
	char msg[VIG_ERRBUF_SIZE + 64] = "";
	json_t *reply = NULL;
	bool ok = false;

	if (read_file(path, RULE_FILE_MAX, &data, msg) == VIG_OK &&
	    request(x, "POST", api_path, "application/yaml", data.data ? data.data : "", data.len,
		    &reply, msg, sizeof(msg)) == VIG_CTL_EXIT_OK) {
		fprintf(x->out, "%s: loaded (id %s)\n", path, str(reply, "id"));
		ok = true;
	} else {
		fprintf(x->out, "%s: refused: %s\n", path, msg[0] ? msg : "unknown error");
	}
	json_decref(reply);
	vig_buf_release(&data);
	return ok;
}

static int cmd_import(struct rctx *x)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, loaded = 0, refused = 0;
	struct vig_buf api;
	struct dirent *de;
	DIR *d = opendir(x->a->pos[0]);
	int rc = VIG_CTL_EXIT_OK;

	if (!d) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot open directory %s: %s", x->a->pos[0],
			 strerror(errno));
		return vig_ctl_fail(x->err, x->errbuf);
	}
	while ((de = readdir(d)) != NULL && n < IMPORT_MAX_FILES) {
		if (!is_rule_file(de->d_name))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **p = realloc(names, nc * sizeof(char *));

			if (!p)
				break;
			names = p;
			cap = nc;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(char *), name_cmp);
	vig_buf_init(&api, 4096);
	vig_buf_adds(&api, "/api/v1/rules");
	vig_ctl_add_query(&api, "tenant", vig_ctl_args_get(x->a, "tenant"));
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", x->a->pos[0], names[i]);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (import_one(x, path, api.data))
			loaded++;
		else
			refused++;
	}
	fprintf(x->out, "%zu loaded, %zu refused\n", loaded, refused);
	if (refused)
		rc = VIG_CTL_EXIT_API;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	vig_buf_release(&api);
	return rc;
}

static int cmd_enable(struct rctx *x, bool enabled)
{
	struct vig_buf path;
	json_t *body = json_pack("{s:b}", "enabled", enabled), *reply = NULL;
	int rc;

	vig_buf_init(&path, 4096);
	vig_buf_adds(&path, "/api/v1/rules/");
	vig_ctl_url_escape(&path, x->a->pos[0]);
	vig_ctl_add_query(&path, "tenant", vig_ctl_args_get(x->a, "tenant"));
	rc = request_json(x, "PATCH", path.data, body, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_json(x, reply);
		else
			fprintf(x->out, "rule %s %s\n", x->a->pos[0], enabled ? "enabled" : "disabled");
	}
	json_decref(reply);
	json_decref(body);
	vig_buf_release(&path);
	return rc;
}

/* ---- hunts ---- */

static void print_hunt(struct rctx *x, json_t *h)
{
	json_t *ids = json_object_get(h, "hit_ids"), *v;
	size_t i;

	fprintf(x->out,
		"hunt %lld: %s\n  rule: %s (%s)\n  range: %s .. %s\n  prefilter: %s\n"
		"  days: %lld/%lld  events scanned: %lld  hits: %lld  alerts created: %lld\n",
		(long long)json_integer_value(json_object_get(h, "id")), str(h, "state"),
		str(h, "title"), str(h, "rule_id"), str(h, "from"), str(h, "to"),
		str(h, "prefilter")[0] ? str(h, "prefilter") : "(none: every event is read)",
		(long long)json_integer_value(json_object_get(h, "days_done")),
		(long long)json_integer_value(json_object_get(h, "days_total")),
		(long long)json_integer_value(json_object_get(h, "events_scanned")),
		(long long)json_integer_value(json_object_get(h, "hits")),
		(long long)json_integer_value(json_object_get(h, "alerts_created")));
	if (str(h, "error")[0])
		fprintf(x->out, "  error: %s\n", str(h, "error"));
	json_array_foreach(ids, i, v)
		fprintf(x->out, "  hit: %s\n", json_string_value(v));
	if (json_is_true(json_object_get(h, "hit_ids_truncated")))
		fprintf(x->out, "  (more hits than ids kept)\n");
}

static int hunt_get(struct rctx *x, const char *id, json_t **reply)
{
	struct vig_buf path;
	int rc;

	vig_buf_init(&path, 4096);
	vig_buf_adds(&path, "/api/v1/hunts/");
	vig_ctl_url_escape(&path, id);
	rc = request_json(x, "GET", path.data, NULL, reply);
	vig_buf_release(&path);
	return rc;
}

static bool hunt_finished(json_t *h)
{
	const char *s = str(h, "state");

	return strcmp(s, "queued") != 0 && strcmp(s, "running") != 0;
}

static int cmd_hunt_run(struct rctx *x)
{
	const char *from = vig_ctl_args_get(x->a, "from"), *to = vig_ctl_args_get(x->a, "to");
	const char *tenant = vig_ctl_args_get(x->a, "tenant");
	struct vig_buf data;
	json_t *body = NULL, *reply = NULL;
	int64_t now = vig_time_now(), ns;
	char ts[VIG_TIME_STRLEN], id[32];
	int rc;

	if (read_file(x->a->pos[0], RULE_FILE_MAX, &data, x->errbuf) != VIG_OK) {
		vig_buf_release(&data);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	body = json_pack("{s:s%,s:b}", "yaml", data.data ? data.data : "", data.len,
			 "create_alerts", vig_ctl_args_get(x->a, "alerts") != NULL);
	if (!body) {
		rc = vig_ctl_fail(x->err, "rule file is not UTF-8 text");
		goto out;
	}
	if (from && vig_ctl_parse_time(from, now, &ns, NULL) == VIG_OK) {
		vig_time_format(ns, ts);
		json_object_set_new(body, "from", json_string(ts));
	}
	if (to && vig_ctl_parse_time(to, now, &ns, NULL) == VIG_OK) {
		vig_time_format(ns, ts);
		json_object_set_new(body, "to", json_string(ts));
	}
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	rc = request_json(x, "POST", "/api/v1/hunts", body, &reply);
	if (rc != VIG_CTL_EXIT_OK)
		goto out;
	snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(reply, "id")));
	if (!vig_ctl_args_get(x->a, "wait")) {
		if (x->a->json)
			print_json(x, reply);
		else
			fprintf(x->out, "hunt %s queued (prefilter: %s)\n", id,
				str(reply, "prefilter")[0] ? str(reply, "prefilter") : "none");
		goto out;
	}
	for (int waited = 0; rc == VIG_CTL_EXIT_OK && !hunt_finished(reply); waited++) {
		if (waited >= HUNT_WAIT_MAX_S) {
			rc = vig_ctl_fail(x->err, "gave up waiting for the hunt");
			goto out;
		}
		usleep(HUNT_WAIT_POLL_US);
		json_decref(reply);
		rc = hunt_get(x, id, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->err, "hunt %s: %s, day %lld/%lld, %lld events, %lld hits\n", id,
				str(reply, "state"),
				(long long)json_integer_value(json_object_get(reply, "days_done")),
				(long long)json_integer_value(json_object_get(reply, "days_total")),
				(long long)json_integer_value(json_object_get(reply, "events_scanned")),
				(long long)json_integer_value(json_object_get(reply, "hits")));
	}
	if (rc != VIG_CTL_EXIT_OK)
		goto out;
	if (x->a->json)
		print_json(x, reply);
	else
		print_hunt(x, reply);
	if (strcmp(str(reply, "state"), "done") != 0)
		rc = VIG_CTL_EXIT_API;
out:
	json_decref(reply);
	json_decref(body);
	vig_buf_release(&data);
	return rc;
}

static int cmd_hunt_show(struct rctx *x)
{
	json_t *reply = NULL;
	int rc = hunt_get(x, x->a->pos[0], &reply);

	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_json(x, reply);
		else
			print_hunt(x, reply);
	}
	json_decref(reply);
	return rc;
}

static int cmd_hunt_cancel(struct rctx *x)
{
	struct vig_buf path;
	json_t *reply = NULL;
	int rc;

	vig_buf_init(&path, 4096);
	vig_buf_adds(&path, "/api/v1/hunts/");
	vig_ctl_url_escape(&path, x->a->pos[0]);
	vig_buf_adds(&path, "/cancel");
	rc = request_json(x, "POST", path.data, NULL, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_json(x, reply);
		else
			fprintf(x->out, "hunt %s: %s\n", x->a->pos[0], str(reply, "state"));
	}
	json_decref(reply);
	vig_buf_release(&path);
	return rc;
}

static int cmd_hunt_list(struct rctx *x)
{
	json_t *reply = NULL, *h;
	int rc = request_json(x, "GET", "/api/v1/hunts", NULL, &reply);
	size_t i;

	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			print_json(x, reply);
		else
			json_array_foreach(json_object_get(reply, "hunts"), i, h)
				fprintf(x->out, "%lld\t%s\t%s\t%lld hits\t%s\n",
					(long long)json_integer_value(json_object_get(h, "id")),
					str(h, "state"), str(h, "tenant"),
					(long long)json_integer_value(json_object_get(h, "hits")),
					str(h, "title"));
	}
	json_decref(reply);
	return rc;
}

/* ---- assets, exceptions, suppressions ---- */

/* {"field": [patterns]} from FIELD=PATTERN words (a field given twice gets both patterns). */
static json_t *conditions_of(struct rctx *x, unsigned first)
{
	json_t *c = json_object();

	for (unsigned i = first; c && i < x->a->npos; i++) {
		const char *w = x->a->pos[i], *eq = strchr(w, '=');
		char field[256];
		json_t *arr;

		if (!eq || eq == w || !eq[1] || (size_t)(eq - w) >= sizeof(field)) {
			fprintf(x->err, "vigilctl: expected FIELD=PATTERN, not '%s'\n", w);
			json_decref(c);
			return NULL;
		}
		memcpy(field, w, (size_t)(eq - w));
		field[eq - w] = '\0';
		arr = json_object_get(c, field);
		if (!arr) {
			arr = json_array();
			json_object_set_new(c, field, arr);
		}
		json_array_append_new(arr, json_string(eq + 1));
	}
	return c;
}

/* "/api/v1/<a>/<id><b>" with id escaped, plus ?tenant= from --tenant. */
static void object_path(struct rctx *x, struct vig_buf *path, const char *a, const char *id,
			const char *b)
{
	vig_buf_init(path, 4096);
	vig_buf_printf(path, "/api/v1/%s", a);
	if (id) {
		vig_buf_addc(path, '/');
		vig_ctl_url_escape(path, id);
	}
	if (b)
		vig_buf_adds(path, b);
	vig_ctl_add_query(path, "tenant", vig_ctl_args_get(x->a, "tenant"));
}

/* Sends method on path (released here) with body (consumed; may be NULL) and prints the raw
 * reply with --json; on success *keep (may be NULL) receives the reply. */
static int simple(struct rctx *x, const char *method, struct vig_buf *path, json_t *body,
		  json_t **keep)
{
	json_t *reply = NULL;
	int rc = request_json(x, method, path->data, body, &reply);

	vig_buf_release(path);
	json_decref(body);
	if (rc == VIG_CTL_EXIT_OK && x->a->json)
		print_json(x, reply);
	if (keep && rc == VIG_CTL_EXIT_OK)
		*keep = reply;
	else
		json_decref(reply);
	return rc;
}

static void print_entries(struct rctx *x, json_t *list)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e) {
		char *cond = json_dumps(json_object_get(e, "conditions"), JSON_COMPACT | JSON_SORT_KEYS);

		fprintf(x->out, "%lld\t%s\t%s\t%s\thits=%lld\t%s%s%s\n",
			(long long)json_integer_value(json_object_get(e, "id")), str(e, "tenant"),
			str(e, "rule_id")[0] ? str(e, "rule_id") : "*", cond ? cond : "",
			(long long)json_integer_value(json_object_get(e, "hits")), str(e, "reason"),
			str(e, "until")[0] ? "\tuntil " : "", str(e, "until"));
		free(cond);
	}
}

static int cmd_assets(struct rctx *x)
{
	const char *crit = vig_ctl_args_get(x->a, "criticality");
	const char *owner = vig_ctl_args_get(x->a, "owner");
	struct vig_buf path;
	json_t *reply = NULL, *body, *e;
	unsigned char ip[16];
	size_t i;
	int rc;

	switch (x->a->cmd->id) {
	case VIG_CTL_CMD_ASSETS_LIST:
		object_path(x, &path, "assets", NULL, NULL);
		rc = simple(x, "GET", &path, NULL, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			json_array_foreach(json_object_get(reply, "assets"), i, e)
				fprintf(x->out, "%lld\t%s\t%s\t%s\t%s\t%s\n",
					(long long)json_integer_value(json_object_get(e, "id")),
					str(e, "tenant"), str(e, "hostname"), str(e, "ip"),
					str(e, "criticality"), str(e, "owner"));
		json_decref(reply);
		return rc;
	case VIG_CTL_CMD_ASSETS_ADD:
		body = json_object();
		json_object_set_new(body,
				    inet_pton(AF_INET, x->a->pos[0], ip) == 1 ||
						    inet_pton(AF_INET6, x->a->pos[0], ip) == 1
					    ? "ip"
					    : "hostname",
				    json_string(x->a->pos[0]));
		if (crit)
			json_object_set_new(body, "criticality", json_string(crit));
		if (owner)
			json_object_set_new(body, "owner", json_string(owner));
		object_path(x, &path, "assets", NULL, NULL);
		rc = simple(x, "POST", &path, body, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "asset %lld added (%s)\n",
				(long long)json_integer_value(json_object_get(reply, "id")),
				str(reply, "criticality"));
		json_decref(reply);
		return rc;
	default: /* VIG_CTL_CMD_ASSETS_DELETE */
		object_path(x, &path, "assets", x->a->pos[0], NULL);
		rc = simple(x, "DELETE", &path, NULL, NULL);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "asset %s deleted\n", x->a->pos[0]);
		return rc;
	}
}

static int cmd_exceptions(struct rctx *x)
{
	const char *reason = vig_ctl_args_get(x->a, "reason");
	struct vig_buf path;
	json_t *reply = NULL, *body, *cond;
	int rc;

	switch (x->a->cmd->id) {
	case VIG_CTL_CMD_EXCEPTIONS_LIST:
		object_path(x, &path, "rules", x->a->pos[0], "/exceptions");
		rc = simple(x, "GET", &path, NULL, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			print_entries(x, json_object_get(reply, "exceptions"));
		json_decref(reply);
		return rc;
	case VIG_CTL_CMD_EXCEPTIONS_ADD:
		cond = conditions_of(x, 1);
		if (!cond)
			return VIG_CTL_EXIT_USAGE;
		body = json_pack("{s:o,s:s}", "conditions", cond, "reason", reason ? reason : "");
		object_path(x, &path, "rules", x->a->pos[0], "/exceptions");
		rc = simple(x, "POST", &path, body, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "exception %lld added to rule %s\n",
				(long long)json_integer_value(json_object_get(reply, "id")), x->a->pos[0]);
		json_decref(reply);
		return rc;
	default: /* VIG_CTL_CMD_EXCEPTIONS_DELETE */
		object_path(x, &path, "exceptions", x->a->pos[0], NULL);
		rc = simple(x, "DELETE", &path, NULL, NULL);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "exception %s deleted\n", x->a->pos[0]);
		return rc;
	}
}

static int cmd_suppressions(struct rctx *x)
{
	const char *reason = vig_ctl_args_get(x->a, "reason"), *rule = vig_ctl_args_get(x->a, "rule");
	const char *until = vig_ctl_args_get(x->a, "until"), *dur = vig_ctl_args_get(x->a, "for");
	struct vig_buf path;
	json_t *reply = NULL, *body, *cond;
	int64_t now = vig_time_now(), ns = 0;
	char ts[VIG_TIME_STRLEN];
	int rc;

	switch (x->a->cmd->id) {
	case VIG_CTL_CMD_SUPPRESSIONS_LIST:
		object_path(x, &path, "suppressions", NULL, vig_ctl_args_get(x->a, "all") ? "?all=1" : NULL);
		rc = simple(x, "GET", &path, NULL, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			print_entries(x, json_object_get(reply, "suppressions"));
		json_decref(reply);
		return rc;
	case VIG_CTL_CMD_SUPPRESSIONS_ADD:
		if (!until == !dur) {
			fprintf(x->err, "vigilctl: give either --until TIME or --for DURATION\n");
			return VIG_CTL_EXIT_USAGE;
		}
		if (dur && vig_ctl_parse_duration(dur, &ns, NULL) == VIG_OK)
			ns += now;
		else if (until && vig_ctl_parse_time(until, now, &ns, NULL) != VIG_OK)
			ns = 0;
		cond = conditions_of(x, 0);
		if (!cond)
			return VIG_CTL_EXIT_USAGE;
		vig_time_format(ns, ts);
		body = json_pack("{s:o,s:s,s:s,s:s?}", "conditions", cond, "until", ts, "reason",
				 reason ? reason : "", "rule_id", rule);
		object_path(x, &path, "suppressions", NULL, NULL);
		rc = simple(x, "POST", &path, body, &reply);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "suppression %lld added until %s\n",
				(long long)json_integer_value(json_object_get(reply, "id")),
				str(reply, "until"));
		json_decref(reply);
		return rc;
	default: /* VIG_CTL_CMD_SUPPRESSIONS_DELETE */
		object_path(x, &path, "suppressions", x->a->pos[0], NULL);
		rc = simple(x, "DELETE", &path, NULL, NULL);
		if (rc == VIG_CTL_EXIT_OK && !x->a->json)
			fprintf(x->out, "suppression %s deleted\n", x->a->pos[0]);
		return rc;
	}
}

int vig_ctl_cmds_detectx(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
			 FILE *err)
{
	struct rctx x = {.a = a, .c = client, .out = out, .err = err};

	switch (a->cmd->id) {
	case VIG_CTL_CMD_RULES_VALIDATE: return cmd_validate(&x);
	case VIG_CTL_CMD_RULES_TEST: return cmd_test(&x);
	case VIG_CTL_CMD_RULES_IMPORT: return cmd_import(&x);
	case VIG_CTL_CMD_RULES_ENABLE: return cmd_enable(&x, true);
	case VIG_CTL_CMD_RULES_DISABLE: return cmd_enable(&x, false);
	case VIG_CTL_CMD_HUNT_RUN: return cmd_hunt_run(&x);
	case VIG_CTL_CMD_HUNT_SHOW: return cmd_hunt_show(&x);
	case VIG_CTL_CMD_HUNT_CANCEL: return cmd_hunt_cancel(&x);
	case VIG_CTL_CMD_HUNT_LIST: return cmd_hunt_list(&x);
	case VIG_CTL_CMD_ASSETS_LIST: case VIG_CTL_CMD_ASSETS_ADD: case VIG_CTL_CMD_ASSETS_DELETE:
		return cmd_assets(&x);
	case VIG_CTL_CMD_EXCEPTIONS_LIST: case VIG_CTL_CMD_EXCEPTIONS_ADD:
	case VIG_CTL_CMD_EXCEPTIONS_DELETE:
		return cmd_exceptions(&x);
	case VIG_CTL_CMD_SUPPRESSIONS_LIST: case VIG_CTL_CMD_SUPPRESSIONS_ADD:
	case VIG_CTL_CMD_SUPPRESSIONS_DELETE:
		return cmd_suppressions(&x);
	default: return vig_ctl_fail(x.err, "command not implemented");
	}
}
