/*
 * cmds.c - vigilctl's commands (see cmds.h).
 *
 * Every command follows one shape: resolve the target (flags, environment, stored login),
 * build the request path with escaped query parameters, send it, and on an HTTP error print
 * "vigilctl: <server's message> (HTTP n)" and exit 1. Successful answers are printed as
 * tables, chosen from the fields the server returned (a preferred list per resource, falling
 * back to the first object's keys), or as raw JSON with --json, so that the client keeps
 * working when the server adds fields.
 */
#include "cmds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/vtime.h"
#include "http.h"
#include "table.h"

#define MAX_RULE_BYTES (1u << 20)  /* most bytes of a rule file */
#define MAX_SECRET 1024            /* room for a password or user name */
#define CELL_BYTES 2048            /* room for one formatted table cell */
#define LOGIN_TOKEN_TTL "30d"      /* lifetime of the token login stores, by default */

struct ctx {
	const struct vig_ctl_args *a;  /* the command line */
	FILE *out;                     /* results */
	FILE *err;                     /* messages */
	struct vig_ctl_target target;  /* where to connect */
	struct vig_ctl_client *client; /* the connection, once opened */
	char errbuf[VIG_ERRBUF_SIZE];  /* detail of the last failure */
};

/* ---- target and JSON helpers ---- */

static bool copy_str(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

static bool same_url(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	while (na > 0 && a[na - 1] == '/')
		na--;
	while (nb > 0 && b[nb - 1] == '/')
		nb--;
	return na == nb && memcmp(a, b, na) == 0;
}

enum vig_err vig_ctl_resolve_target(const struct vig_ctl_args *a, const struct vig_ctl_creds *creds,
				    struct vig_ctl_target *t, char *errbuf)
{
	const char *url = a->url ? a->url : getenv("VIGIL_URL");
	const char *token = a->token ? a->token : getenv("VIGIL_TOKEN");
	const char *cacert = a->cacert ? a->cacert : getenv("VIGIL_CACERT");
	const char *insecure = getenv("VIGIL_INSECURE");
	bool stored;

	memset(t, 0, sizeof(*t));
	if (!url || !*url)
		url = (creds && creds->url[0]) ? creds->url : VIG_CTL_DEFAULT_URL;
	stored = creds && creds->url[0] && same_url(creds->url, url);
	if ((!token || !*token) && stored)
		token = creds->token;
	if ((!cacert || !*cacert) && stored && creds->cacert[0])
		cacert = creds->cacert;
	t->insecure = a->insecure || (insecure && strcmp(insecure, "1") == 0) ||
		      (stored && creds->insecure);
	t->timeout_s = a->timeout_s > 0 ? (long)a->timeout_s : VIG_CTL_DEFAULT_TIMEOUT_S;
	if (!copy_str(t->url, sizeof(t->url), url) ||
	    !copy_str(t->token, sizeof(t->token), token ? token : "") ||
	    !copy_str(t->cacert, sizeof(t->cacert), cacert ? cacert : ""))
		return vig_errf(errbuf, VIG_ETOOBIG, "url, token or cacert too long");
	return VIG_OK;
}

json_t *vig_ctl_json_path(json_t *obj, const char *path)
{
	json_t *v;
	const char *dot;

	if (!json_is_object(obj) || !path || !*path)
		return NULL;
	v = json_object_get(obj, path);
	if (v)
		return v;
	/* Try every split point: "a.b.c" as a -> "b.c", then "a.b" -> "c". */
	for (dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
		json_t *child = json_object_getn(obj, path, (size_t)(dot - path));
		if (json_is_object(child)) {
			v = vig_ctl_json_path(child, dot + 1);
			if (v)
				return v;
		}
	}
	return NULL;
}

/* Cuts s to fit n bytes (NUL included) on a UTF-8 boundary. */
static void cut_utf8(char *s, size_t n)
{
	size_t len = strlen(s);

	if (len < n)
		return;
	len = n - 1;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	s[len] = '\0';
}

const char *vig_ctl_json_cell(json_t *v, char *out, size_t outsz)
{
	char *dump;

	out[0] = '\0';
	if (!v || json_is_null(v))
		return out;
	if (json_is_string(v)) {
		const char *str = json_string_value(v);
		size_t len = json_string_length(v);
		size_t n = VIG_MIN(len, outsz - 1);
		while (n < len && n > 0 && ((unsigned char)str[n] & 0xc0) == 0x80)
			n--; /* never end inside a UTF-8 sequence */
		memcpy(out, str, n);
		out[n] = '\0';
		/* A string with an embedded NUL stops there, which is what a terminal shows. */
		return out;
	}
	if (json_is_integer(v)) {
		snprintf(out, outsz, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return out;
	}
	if (json_is_real(v)) {
		snprintf(out, outsz, "%g", json_real_value(v));
		return out;
	}
	if (json_is_boolean(v)) {
		snprintf(out, outsz, "%s", json_is_true(v) ? "true" : "false");
		return out;
	}
	if (json_is_array(v)) {
		size_t used = 0, i;
		json_t *item;
		char part[256];
		json_array_foreach(v, i, item) {
			vig_ctl_json_cell(item, part, sizeof(part));
			int w = snprintf(out + used, outsz - used, "%s%s", i ? "," : "", part);
			if (w < 0 || (size_t)w >= outsz - used)
				break;
			used += (size_t)w;
		}
		out[VIG_MIN(used, outsz - 1)] = '\0';
		return out;
	}
	dump = json_dumps(v, JSON_COMPACT);
	if (dump) {
		snprintf(out, outsz, "%s", dump);
		cut_utf8(out, outsz);
		free(dump);
	}
	return out;
}

/* The list inside a reply: the reply itself, reply[key], or its first array member. */
static json_t *reply_list(json_t *root, const char *key)
{
	const char *k;
	json_t *v;

	if (json_is_array(root))
		return root;
	v = json_object_get(root, key);
	if (json_is_array(v))
		return v;
	json_object_foreach(root, k, v)
		if (json_is_array(v))
			return v;
	return NULL;
}

/* ---- output ---- */

int vig_ctl_fail(FILE *err, const char *msg)
{
	fprintf(err, "vigilctl: %s\n", msg);
	return VIG_CTL_EXIT_API;
}

void vig_ctl_print_raw(FILE *out, const struct vig_ctl_response *r)
{
	fwrite(r->body.data, 1, r->body.len, out);
	if (r->body.len == 0 || r->body.data[r->body.len - 1] != '\n')
		fputc('\n', out);
}

int vig_ctl_print_rows(FILE *out, FILE *err, json_t *list, const char *const *cols)
{
	enum { ROW_COLS = 10, ROW_CELL = 256 };
	char buf[ROW_COLS][ROW_CELL];
	const char *cells[ROW_COLS];
	struct vig_ctl_table *t;
	struct vig_buf b;
	unsigned n = 0;
	size_t i;
	json_t *row;
	int rc = VIG_CTL_EXIT_OK;

	while (cols[n] && n < ROW_COLS)
		n++;
	t = vig_ctl_table_new(n, cols, 0);
	if (!t)
		return vig_ctl_fail(err, "out of memory");
	json_array_foreach(list, i, row) {
		for (unsigned c = 0; c < n; c++)
			cells[c] = vig_ctl_json_cell(vig_ctl_json_path(row, cols[c]), buf[c], ROW_CELL);
		if (vig_ctl_table_add_row(t, cells) != VIG_OK) {
			vig_ctl_table_free(t);
			return vig_ctl_fail(err, "too many rows");
		}
	}
	vig_buf_init(&b, 0);
	if (vig_ctl_table_render(t, &b) == VIG_OK)
		fwrite(b.data, 1, b.len, out);
	else
		rc = vig_ctl_fail(err, "cannot render the table");
	vig_buf_release(&b);
	vig_ctl_table_free(t);
	return rc;
}

void vig_ctl_add_query(struct vig_buf *path, const char *key, const char *value)
{
	if (!value)
		return;
	vig_buf_addc(path, strchr(path->data ? path->data : "", '?') ? '&' : '?');
	vig_ctl_url_escape(path, key);
	vig_buf_addc(path, '=');
	vig_ctl_url_escape(path, value);
}

int vig_ctl_request_json(struct vig_ctl_client *c, FILE *err, const char *method,
			 const char *path, json_t *body, struct vig_ctl_response *r,
			 json_t **reply, char *errbuf)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char line[VIG_ERRBUF_SIZE + 64];
	enum vig_err e;

	if (reply)
		*reply = NULL;
	if (body && !text)
		return vig_ctl_fail(err, "out of memory");
	e = strcmp(method, "GET") == 0
		    ? vig_ctl_request_retry(c, method, path, NULL, NULL, 0, NULL, r, errbuf)
		    : vig_ctl_request(c, method, path, text ? "application/json" : NULL, text,
				      text ? strlen(text) : 0, NULL, r, errbuf);
	free(text);
	if (e != VIG_OK)
		return vig_ctl_fail(err, errbuf);
	if (r->status < 200 || r->status >= 400) {
		vig_ctl_api_error(r->status, r->body.data, r->body.len, line, sizeof(line));
		fprintf(err, "%s\n", line);
		return VIG_CTL_EXIT_API;
	}
	if (reply && r->body.len)
		*reply = json_loadb(r->body.data, r->body.len, 0, NULL);
	if (reply && !*reply)
		return vig_ctl_fail(err, "reply is not JSON");
	return VIG_CTL_EXIT_OK;
}

static int fail_usage(struct ctx *x, const char *msg)
{
	fprintf(x->err, "vigilctl: %s\n", msg);
	return VIG_CTL_EXIT_USAGE;
}

static int print_table(struct ctx *x, struct vig_ctl_table *t)
{
	struct vig_buf b;
	enum vig_err err;

	vig_buf_init(&b, 0);
	err = vig_ctl_table_render(t, &b);
	if (err == VIG_OK)
		fwrite(b.data, 1, b.len, x->out);
	vig_buf_release(&b);
	return err == VIG_OK ? VIG_CTL_EXIT_OK : vig_ctl_fail(x->err, "cannot render the table");
}

/* Prints the objects of list as a table with the preferred columns that occur, else the
 * first object's keys. */
static int print_list(struct ctx *x, json_t *list, const char *const *preferred, const char *what)
{
	const char *cols[VIG_CTL_TABLE_MAX_COLS];
	const char *cells[VIG_CTL_TABLE_MAX_COLS];
	char (*buf)[CELL_BYTES] = NULL;
	unsigned n = 0;
	size_t i;
	json_t *row;
	struct vig_ctl_table *t = NULL;
	int rc = VIG_CTL_EXIT_OK;

	if (!json_is_array(list))
		return vig_ctl_fail(x->err, "unexpected reply from the server (no list)");
	if (json_array_size(list) == 0) {
		fprintf(x->out, "no %s\n", what);
		return VIG_CTL_EXIT_OK;
	}
	for (; preferred && *preferred && n < VIG_CTL_TABLE_MAX_COLS; preferred++) {
		json_array_foreach(list, i, row) {
			if (vig_ctl_json_path(row, *preferred)) {
				cols[n++] = *preferred;
				break;
			}
		}
	}
	if (n == 0) {
		const char *k;
		json_t *v;
		json_object_foreach(json_array_get(list, 0), k, v) {
			if (n >= 8)
				break;
			cols[n++] = k;
		}
	}
	if (n == 0)
		return vig_ctl_fail(x->err, "unexpected reply from the server (no fields)");
	buf = malloc(sizeof(*buf) * n);
	t = vig_ctl_table_new(n, cols, 0);
	if (!buf || !t) {
		rc = vig_ctl_fail(x->err, "out of memory");
		goto out_free;
	}
	json_array_foreach(list, i, row) {
		for (unsigned c = 0; c < n; c++)
			cells[c] = vig_ctl_json_cell(vig_ctl_json_path(row, cols[c]), buf[c], CELL_BYTES);
		if (vig_ctl_table_add_row(t, cells) != VIG_OK) {
			rc = vig_ctl_fail(x->err, "too many rows");
			goto out_free;
		}
	}
	rc = print_table(x, t);
out_free:
	vig_ctl_table_free(t);
	free(buf);
	return rc;
}

/* ---- requests ---- */

static int open_client(struct ctx *x, bool with_token)
{
	struct vig_ctl_conn conn = {
		.url = x->target.url,
		.token = with_token && x->target.token[0] ? x->target.token : NULL,
		.cacert = x->target.cacert[0] ? x->target.cacert : NULL,
		.insecure = x->target.insecure,
		.timeout_s = x->target.timeout_s,
	};

	if (x->client)
		return VIG_CTL_EXIT_OK;
	if (conn.insecure && strncmp(conn.url, "https://", 8) == 0)
		fprintf(x->err, "vigilctl: warning: not verifying the server's certificate "
				"(--insecure)\n");
	x->client = vig_ctl_client_new(&conn, x->errbuf);
	if (!x->client)
		return fail_usage(x, x->errbuf);
	return VIG_CTL_EXIT_OK;
}

static int need_token(struct ctx *x)
{
	if (x->target.token[0])
		return VIG_CTL_EXIT_OK;
	fprintf(x->err, "vigilctl: not logged in to %s (use 'vigilctl login', VIGIL_TOKEN or "
			"--token)\n", x->target.url);
	return VIG_CTL_EXIT_API;
}

/* Sends a request; on success *json holds the parsed reply (may be NULL for an empty body).
 * Prints the error and returns 1 on transport failure or an HTTP error status. */
static int call(struct ctx *x, const char *method, const char *path, const char *ctype,
		const char *body, size_t len, const char *const *hdrs, bool retry,
		struct vig_ctl_response *resp, json_t **json)
{
	enum vig_err err;
	json_error_t jerr;

	if (json)
		*json = NULL;
	if (retry)
		err = vig_ctl_request_retry(x->client, method, path, ctype, body, len, hdrs, resp,
					    x->errbuf);
	else
		err = vig_ctl_request(x->client, method, path, ctype, body, len, hdrs, resp,
				      x->errbuf);
	if (err != VIG_OK)
		return vig_ctl_fail(x->err, x->errbuf);
	if (resp->status >= 400 || resp->status < 200) {
		char line[VIG_ERRBUF_SIZE + 64];
		vig_ctl_api_error(resp->status, resp->body.data, resp->body.len, line, sizeof(line));
		fprintf(x->err, "%s\n", line);
		return VIG_CTL_EXIT_API;
	}
	if (json && resp->body.len > 0) {
		*json = json_loadb(resp->body.data, resp->body.len, JSON_DECODE_ANY, &jerr);
		if (!*json) {
			fprintf(x->err, "vigilctl: reply is not JSON: %s (HTTP %ld)\n", jerr.text,
				resp->status);
			return VIG_CTL_EXIT_API;
		}
	}
	return VIG_CTL_EXIT_OK;
}

/* call() with an optional JSON object body (serialised here). */
static int call_json(struct ctx *x, const char *method, const char *path, json_t *body,
		     struct vig_ctl_response *resp, json_t **json)
{
	char *text = NULL;
	int rc;

	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return vig_ctl_fail(x->err, "out of memory");
	}
	rc = call(x, method, path, text ? "application/json" : NULL, text, text ? strlen(text) : 0,
		  NULL, strcmp(method, "GET") == 0, resp, json);
	free(text);
	return rc;
}

/* Adds from/to parameters from --from/--to (already validated by the parser). */
static void add_time_params(struct vig_buf *path, const struct vig_ctl_args *a)
{
	static const char *const names[] = {"from", "to"};
	int64_t now = vig_time_now();

	for (size_t i = 0; i < VIG_ARRAY_LEN(names); i++) {
		const char *v = vig_ctl_args_get(a, names[i]);
		int64_t ns;
		char ts[VIG_TIME_STRLEN];
		if (v && vig_ctl_parse_time(v, now, &ns, NULL) == VIG_OK) {
			vig_time_format(ns, ts);
			vig_ctl_add_query(path, names[i], ts);
		}
	}
}

/* Builds an escaped path segment "/api/v1/<base>/<id>". */
static void path_with_id(struct vig_buf *path, const char *base, const char *id)
{
	vig_buf_printf(path, "/api/v1/%s/", base);
	vig_ctl_url_escape(path, id);
}

/* ---- secrets from the terminal or stdin ---- */

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

/* Reads one line from the terminal, without echo when secret. */
static enum vig_err read_tty(const char *prompt, bool secret, char *out, size_t n, char *errbuf)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	FILE *f;
	bool restored = !secret;
	enum vig_err err = VIG_OK;

	if (fd < 0)
		return vig_errf(errbuf, VIG_EINVAL, "no terminal to read from (use --password-stdin)");
	f = fdopen(fd, "r+");
	if (!f) {
		close(fd);
		return vig_errf(errbuf, VIG_EIO, "cannot open the terminal");
	}
	if (secret) {
		if (tcgetattr(fd, &old) != 0) {
			fclose(f);
			return vig_errf(errbuf, VIG_EIO, "cannot configure the terminal");
		}
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	fputs(prompt, f);
	fflush(f);
	if (!fgets(out, (int)n, f))
		err = vig_errf(errbuf, VIG_EIO, "no input");
	if (!restored) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', f);
	}
	fclose(f);
	if (err == VIG_OK) {
		chomp(out);
		if (!*out)
			err = vig_errf(errbuf, VIG_EINVAL, "empty input");
	}
	return err;
}

/* Reads a password: first line of stdin with --password-stdin, else the terminal (twice when
 * confirm). */
static enum vig_err read_password(const struct vig_ctl_args *a, bool confirm, char *out,
				  size_t n, char *errbuf)
{
	char again[MAX_SECRET];
	enum vig_err err;

	if (vig_ctl_args_get(a, "password-stdin")) {
		if (!fgets(out, (int)n, stdin))
			return vig_errf(errbuf, VIG_EINVAL, "no password on stdin");
		chomp(out);
		if (!*out)
			return vig_errf(errbuf, VIG_EINVAL, "empty password on stdin");
		return VIG_OK;
	}
	err = read_tty("password: ", true, out, n, errbuf);
	if (err != VIG_OK || !confirm)
		return err;
	err = read_tty("password (again): ", true, again, sizeof(again), errbuf);
	if (err == VIG_OK && strcmp(again, out) != 0)
		err = vig_errf(errbuf, VIG_EINVAL, "passwords do not match");
	explicit_bzero(again, sizeof(again));
	return err;
}

/* ---- commands ---- */

static int cmd_status(struct ctx *x)
{
	struct vig_ctl_response r;
	json_t *health = NULL, *me = NULL;
	char cell[CELL_BYTES];
	int rc;

	vig_ctl_response_init(&r);
	rc = call_json(x, "GET", "/api/v1/health", NULL, &r, &health);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_release;
	if (x->target.token[0]) {
		rc = call_json(x, "GET", "/api/v1/me", NULL, &r, &me);
		if (rc != VIG_CTL_EXIT_OK)
			goto out_release;
	}
	if (x->a->json) {
		json_t *o = json_pack("{s:O?,s:O?}", "health", health, "me", me);
		char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (s)
			fprintf(x->out, "%s\n", s);
		free(s);
		json_decref(o);
		goto out_release;
	}
	fprintf(x->out, "server:  %s\n", x->target.url);
	fprintf(x->out, "status:  %s\n", vig_ctl_json_cell(json_object_get(health, "status"), cell,
							   sizeof(cell)));
	fprintf(x->out, "version: %s\n", vig_ctl_json_cell(json_object_get(health, "version"), cell,
							   sizeof(cell)));
	fprintf(x->out, "uptime:  %ss\n", vig_ctl_json_cell(json_object_get(health, "uptime_s"),
							    cell, sizeof(cell)));
	if (!me) {
		fprintf(x->out, "user:    (not logged in)\n");
		goto out_release;
	}
	static const char *const user_keys[] = {"user.username", "username", "user.name", "user"};
	static const char *const tenant_keys[] = {"tenant.id", "tenant", "user.tenant.id",
						  "user.tenant", "tenant_id"};
	static const char *const role_keys[] = {"role", "user.role"};
	static const struct {
		const char *label;
		const char *const *keys;
		size_t n;
	} show[] = {
		{"user:    ", user_keys, VIG_ARRAY_LEN(user_keys)},
		{"tenant:  ", tenant_keys, VIG_ARRAY_LEN(tenant_keys)},
		{"role:    ", role_keys, VIG_ARRAY_LEN(role_keys)},
	};
	for (size_t i = 0; i < VIG_ARRAY_LEN(show); i++) {
		for (size_t k = 0; k < show[i].n; k++) {
			json_t *v = vig_ctl_json_path(me, show[i].keys[k]);
			if (v && !json_is_object(v)) {
				fprintf(x->out, "%s%s\n", show[i].label,
					vig_ctl_json_cell(v, cell, sizeof(cell)));
				break;
			}
		}
	}
out_release:
	json_decref(health);
	json_decref(me);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_setup(struct ctx *x)
{
	const char *token = vig_ctl_args_get(x->a, "token");
	const char *user = vig_ctl_args_get(x->a, "username");
	char password[MAX_SECRET];
	struct vig_ctl_response r;
	json_t *body;
	int rc;

	if (!token || !user)
		return fail_usage(x, "usage: vigilctl setup --token T --username U [--password-stdin]");
	if (read_password(x->a, true, password, sizeof(password), x->errbuf) != VIG_OK)
		return fail_usage(x, x->errbuf);
	body = json_pack("{s:s,s:s,s:s}", "setup_token", token, "username", user, "password",
			 password);
	explicit_bzero(password, sizeof(password));
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	vig_ctl_response_init(&r);
	rc = call_json(x, "POST", "/api/v1/setup", body, &r, NULL);
	json_decref(body);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out, "administrator '%s' created; now run 'vigilctl login'\n", user);
	}
	vig_ctl_response_release(&r);
	return rc;
}

/* Takes the token and its id out of a POST /tokens reply. */
static bool token_from_reply(json_t *reply, char *token, size_t tn, char *id, size_t idn)
{
	static const char *const tkeys[] = {"token", "secret", "value", "token.token"};
	static const char *const ikeys[] = {"id", "token_id", "token.id"};
	char cell[CELL_BYTES];

	token[0] = id[0] = '\0';
	for (size_t i = 0; i < VIG_ARRAY_LEN(tkeys) && !token[0]; i++) {
		json_t *v = vig_ctl_json_path(reply, tkeys[i]);
		if (json_is_string(v))
			snprintf(token, tn, "%s", json_string_value(v));
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(ikeys) && !id[0]; i++) {
		json_t *v = vig_ctl_json_path(reply, ikeys[i]);
		if (json_is_string(v) || json_is_integer(v))
			snprintf(id, idn, "%s", vig_ctl_json_cell(v, cell, sizeof(cell)));
	}
	return token[0] != '\0';
}

static int cmd_login(struct ctx *x)
{
	const char *user_opt = vig_ctl_args_get(x->a, "username");
	const char *ttl = vig_ctl_args_get(x->a, "expires-in");
	char user[MAX_SECRET], password[MAX_SECRET], host[256], name[MAX_SECRET + 300], path[4096];
	struct vig_ctl_creds creds;
	struct vig_ctl_response r;
	json_t *body = NULL, *reply = NULL;
	int64_t ttl_ns = 0;
	int rc;

	if (vig_ctl_creds_path(path, sizeof(path), x->errbuf) != VIG_OK)
		return vig_ctl_fail(x->err, x->errbuf);
	if (user_opt)
		snprintf(user, sizeof(user), "%s", user_opt);
	else if (read_tty("username: ", false, user, sizeof(user), x->errbuf) != VIG_OK)
		return fail_usage(x, x->errbuf);
	if (read_password(x->a, false, password, sizeof(password), x->errbuf) != VIG_OK)
		return fail_usage(x, x->errbuf);
	vig_ctl_parse_duration(ttl ? ttl : LOGIN_TOKEN_TTL, &ttl_ns, NULL);
	vig_ctl_response_init(&r);
	body = json_pack("{s:s,s:s}", "username", user, "password", password);
	explicit_bzero(password, sizeof(password));
	if (!body) {
		rc = vig_ctl_fail(x->err, "out of memory");
		goto out_release;
	}
	rc = call_json(x, "POST", "/api/v1/login", body, &r, &reply);
	json_decref(body);
	body = NULL;
	if (rc != VIG_CTL_EXIT_OK)
		goto out_release;
	json_t *csrf = json_object_get(reply, "csrf_token");
	if (json_is_string(csrf))
		vig_ctl_client_set_csrf(x->client, json_string_value(csrf));
	json_decref(reply);
	reply = NULL;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "vigilctl %s@%s", user, host);
	body = json_pack("{s:s,s:I}", "name", name, "expires_in_s",
			 (json_int_t)(ttl_ns / VIG_NS_PER_SEC));
	rc = body ? call_json(x, "POST", "/api/v1/tokens", body, &r, &reply)
		  : vig_ctl_fail(x->err, "out of memory");
	if (rc != VIG_CTL_EXIT_OK)
		goto out_logout;
	memset(&creds, 0, sizeof(creds));
	if (!token_from_reply(reply, creds.token, sizeof(creds.token), creds.token_id,
			      sizeof(creds.token_id))) {
		rc = vig_ctl_fail(x->err, "the server's token reply holds no token");
		goto out_logout;
	}
	snprintf(creds.url, sizeof(creds.url), "%s", x->target.url);
	snprintf(creds.cacert, sizeof(creds.cacert), "%s", x->target.cacert);
	creds.insecure = x->target.insecure;
	if (vig_ctl_creds_save(path, &creds, x->errbuf) != VIG_OK) {
		rc = vig_ctl_fail(x->err, x->errbuf);
		goto out_logout;
	}
	explicit_bzero(&creds, sizeof(creds));
	fprintf(x->out, "logged in to %s as %s; token stored in %s\n", x->target.url, user, path);
out_logout:
	/* The session was only needed to create the token. */
	{
		struct vig_ctl_response lr;
		vig_ctl_response_init(&lr);
		vig_ctl_request(x->client, "POST", "/api/v1/logout", NULL, NULL, 0, NULL, &lr,
				x->errbuf);
		vig_ctl_response_release(&lr);
	}
out_release:
	json_decref(body);
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_logout(struct ctx *x, const struct vig_ctl_creds *creds, bool have)
{
	char path[4096];
	struct vig_ctl_response r;
	struct vig_buf p;

	if (vig_ctl_creds_path(path, sizeof(path), x->errbuf) != VIG_OK)
		return vig_ctl_fail(x->err, x->errbuf);
	if (!have) {
		fprintf(x->out, "not logged in\n");
		return VIG_CTL_EXIT_OK;
	}
	if (creds->token_id[0] && creds->token[0]) {
		vig_ctl_response_init(&r);
		vig_buf_init(&p, 4096);
		path_with_id(&p, "tokens", creds->token_id);
		if (vig_buf_err(&p) == VIG_OK &&
		    (vig_ctl_request(x->client, "DELETE", p.data, NULL, NULL, 0, NULL, &r,
				     x->errbuf) != VIG_OK ||
		     r.status >= 400))
			fprintf(x->err, "vigilctl: warning: could not revoke the token on the server "
					"(HTTP %ld); removing it locally\n", r.status);
		vig_buf_release(&p);
		vig_ctl_response_release(&r);
	}
	if (vig_ctl_creds_remove(path, x->errbuf) != VIG_OK)
		return vig_ctl_fail(x->err, x->errbuf);
	fprintf(x->out, "logged out of %s\n", creds->url);
	return VIG_CTL_EXIT_OK;
}

static int cmd_token_create(struct ctx *x)
{
	const char *role = vig_ctl_args_get(x->a, "role");
	const char *tenant = vig_ctl_args_get(x->a, "tenant");
	const char *ttl = vig_ctl_args_get(x->a, "expires-in");
	char token[512], id[128];
	struct vig_ctl_response r;
	json_t *body, *reply = NULL;
	int64_t ns;
	int rc;

	body = json_pack("{s:s}", "name", x->a->pos[0]);
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	if (role)
		json_object_set_new(body, "role", json_string(role));
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	if (ttl && vig_ctl_parse_duration(ttl, &ns, NULL) == VIG_OK)
		json_object_set_new(body, "expires_in_s", json_integer(ns / VIG_NS_PER_SEC));
	vig_ctl_response_init(&r);
	rc = call_json(x, "POST", "/api/v1/tokens", body, &r, &reply);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_release;
	if (x->a->json) {
		vig_ctl_print_raw(x->out, &r);
	} else if (token_from_reply(reply, token, sizeof(token), id, sizeof(id))) {
		fprintf(x->out, "id:    %s\ntoken: %s\n", id[0] ? id : "?", token);
		fprintf(x->err, "vigilctl: the token is shown only once; store it now\n");
	} else {
		rc = vig_ctl_fail(x->err, "the server's token reply holds no token");
	}
out_release:
	json_decref(body);
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* GET path and print the list under key with the preferred columns. */
static int list_cmd(struct ctx *x, const char *path, const char *key,
		    const char *const *preferred)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = call_json(x, "GET", path, NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			rc = print_list(x, reply_list(reply, key), preferred, key);
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* Sends method to /api/v1/<base>/<id> with an optional body and prints done on success. */
static int object_cmd(struct ctx *x, const char *method, const char *base, const char *id,
		      json_t *body, const char *done)
{
	struct vig_ctl_response r;
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 4096);
	path_with_id(&p, base, id);
	if (vig_buf_err(&p) != VIG_OK) {
		vig_buf_release(&p);
		json_decref(body);
		return fail_usage(x, "id too long");
	}
	vig_ctl_response_init(&r);
	rc = call_json(x, method, p.data, body, &r, NULL);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out, "%s\n", done);
	}
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	json_decref(body);
	return rc;
}

/* Reads a whole file (or stdin for "-") of at most max bytes. */
static enum vig_err read_input(const char *name, size_t max, struct vig_buf *out, char *errbuf)
{
	char chunk[65536];
	FILE *f;
	size_t n;

	vig_buf_init(out, max + 1); /* first, so that the caller may always release it */
	f = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	if (!f)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", name, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (vig_buf_add(out, chunk, n) != VIG_OK)
			break;
	bool bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (vig_buf_err(out) == VIG_ETOOBIG)
		return vig_errf(errbuf, VIG_ETOOBIG, "%s is larger than %zu bytes", name, max);
	if (vig_buf_err(out) != VIG_OK)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory reading %s", name);
	if (bad)
		return vig_errf(errbuf, VIG_EIO, "cannot read %s", name);
	return VIG_OK;
}

struct ingest_totals {
	int64_t accepted, rejected, duplicate; /* lines */
	unsigned batches, dup_batches;
};

/* Accounts one batch reply and prints its line errors with input line numbers. */
static void ingest_account(struct ctx *x, const struct vig_ctl_batch *b, json_t *reply,
			   struct ingest_totals *t)
{
	json_t *errs = json_object_get(reply, "errors");
	json_t *e;
	size_t i;
	char cell[CELL_BYTES];

	t->batches++;
	if (json_is_true(json_object_get(reply, "duplicate"))) {
		t->dup_batches++;
		t->duplicate += (int64_t)b->nlines;
		return;
	}
	t->accepted += json_integer_value(json_object_get(reply, "accepted"));
	t->rejected += json_integer_value(json_object_get(reply, "rejected"));
	json_array_foreach(errs, i, e) {
		json_int_t line = json_integer_value(json_object_get(e, "line"));
		size_t in_line = (line >= 1 && (size_t)line <= b->nlines) ? b->line_map[line - 1] : 0;
		vig_ctl_json_cell(json_object_get(e, "error"), cell, sizeof(cell));
		const char *name = strcmp(x->a->pos[0], "-") == 0 ? "stdin" : x->a->pos[0];
		if (in_line)
			fprintf(x->err, "vigilctl: %s:%zu: %s\n", name, in_line, cell);
		else
			fprintf(x->err, "vigilctl: %s: batch %u: %s\n", name, b->index, cell);
	}
}

static int cmd_ingest(struct ctx *x)
{
	struct vig_buf data;
	struct vig_ctl_batcher bt;
	struct vig_ctl_batch b;
	struct vig_ctl_response r;
	struct ingest_totals t = {0};
	char hdr[VIG_CTL_BATCH_ID_LEN + 32];
	const char *hdrs[] = {hdr, NULL};
	bool progress = isatty(fileno(x->err)) == 1; /* a terminal watches: show progress */
	int rc = VIG_CTL_EXIT_OK;

	if (read_input(x->a->pos[0], VIG_CTL_INGEST_MAX_BYTES, &data, x->errbuf) != VIG_OK) {
		vig_buf_release(&data);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	vig_ctl_batcher_init(&bt, data.data ? data.data : "", data.len, 0, 0);
	vig_ctl_batch_init(&b);
	vig_ctl_response_init(&r);
	for (;;) {
		json_t *reply = NULL;
		if (vig_ctl_batcher_next(&bt, &b, x->errbuf) != VIG_OK) {
			rc = vig_ctl_fail(x->err, x->errbuf);
			break;
		}
		if (b.nlines == 0)
			break;
		snprintf(hdr, sizeof(hdr), "X-Vigil-Batch-Id: %s", b.id);
		rc = call(x, "POST", "/api/v1/events", "application/x-ndjson", b.body.data, b.body.len,
			  hdrs, true, &r, &reply);
		if (rc != VIG_CTL_EXIT_OK) {
			fprintf(x->err, "vigilctl: stopped at batch %u (input line %zu); rerun to "
					"resume, sent batches are not stored twice\n",
				b.index, b.line_map[0]);
			json_decref(reply);
			break;
		}
		ingest_account(x, &b, reply, &t);
		json_decref(reply);
		if (progress)
			fprintf(x->err, "\rvigilctl: %u batches sent (input line %zu)", t.batches,
				b.line_map[b.nlines - 1]);
	}
	if (progress && t.batches > 0)
		fputc('\n', x->err);
	if (x->a->json) {
		fprintf(x->out, "{\"accepted\":%lld,\"rejected\":%lld,\"duplicate\":%lld,"
				"\"batches\":%u,\"duplicate_batches\":%u}\n",
			(long long)t.accepted, (long long)t.rejected, (long long)t.duplicate,
			t.batches, t.dup_batches);
	} else {
		fprintf(x->out, "accepted %lld, rejected %lld, duplicate %lld (%u batches, %u "
				"already sent)\n",
			(long long)t.accepted, (long long)t.rejected, (long long)t.duplicate,
			t.batches, t.dup_batches);
	}
	if (rc == VIG_CTL_EXIT_OK && t.rejected > 0)
		rc = VIG_CTL_EXIT_API;
	vig_ctl_response_release(&r);
	vig_ctl_batch_release(&b);
	vig_buf_release(&data);
	return rc;
}

/* Prints search results as a table of the chosen columns. */
static int print_events(struct ctx *x, json_t *events)
{
	char cols[VIG_CTL_MAX_COLS][VIG_CTL_COL_NAME];
	const char *heads[VIG_CTL_MAX_COLS], *cells[VIG_CTL_MAX_COLS];
	static char buf[VIG_CTL_MAX_COLS][CELL_BYTES];
	unsigned n = vig_ctl_search_columns(x->a->pos[0], vig_ctl_args_get(x->a, "fields"), cols);
	struct vig_ctl_table *t;
	json_t *ev;
	size_t i;
	int rc;

	if (json_array_size(events) == 0) {
		fprintf(x->out, "no events\n");
		return VIG_CTL_EXIT_OK;
	}
	/* Default columns that no event has are left out; asked-for ones stay. */
	if (!vig_ctl_args_get(x->a, "fields")) {
		unsigned kept = 0;
		for (unsigned c = 0; c < n; c++) {
			bool present = false;
			json_array_foreach(events, i, ev)
				if ((present = vig_ctl_json_path(ev, cols[c]) != NULL))
					break;
			if (present || c == 0)
				memmove(cols[kept++], cols[c], VIG_CTL_COL_NAME);
		}
		n = kept;
	}
	for (unsigned c = 0; c < n; c++)
		heads[c] = cols[c];
	t = vig_ctl_table_new(n, heads, 0);
	if (!t)
		return vig_ctl_fail(x->err, "out of memory");
	json_array_foreach(events, i, ev) {
		for (unsigned c = 0; c < n; c++)
			cells[c] = vig_ctl_json_cell(vig_ctl_json_path(ev, cols[c]), buf[c], CELL_BYTES);
		if (vig_ctl_table_add_row(t, cells) != VIG_OK) {
			vig_ctl_table_free(t);
			return vig_ctl_fail(x->err, "too many rows");
		}
	}
	rc = print_table(x, t);
	vig_ctl_table_free(t);
	return rc;
}

static int cmd_search(struct ctx *x)
{
	const char *limit = vig_ctl_args_get(x->a, "limit");
	struct vig_ctl_response r;
	struct vig_buf p;
	json_t *reply = NULL, *events, *ev;
	size_t i;
	int rc;

	vig_buf_init(&p, 65536);
	vig_buf_adds(&p, "/api/v1/events");
	vig_ctl_add_query(&p, "q", x->a->pos[0]);
	add_time_params(&p, x->a);
	if (limit)
		vig_ctl_add_query(&p, "limit", limit);
	if (vig_ctl_args_get(x->a, "asc"))
		vig_ctl_add_query(&p, "order", "asc");
	if (vig_buf_err(&p) != VIG_OK) {
		vig_buf_release(&p);
		return fail_usage(x, "query too long");
	}
	vig_ctl_response_init(&r);
	rc = call_json(x, "GET", p.data, NULL, &r, &reply);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_release;
	events = reply_list(reply, "events");
	if (!events) {
		rc = vig_ctl_fail(x->err, "unexpected reply from the server (no events)");
		goto out_release;
	}
	if (x->a->json) {
		json_array_foreach(events, i, ev) {
			char *s = json_dumps(ev, JSON_COMPACT);
			if (s)
				fprintf(x->out, "%s\n", s);
			free(s);
		}
		goto out_release;
	}
	rc = print_events(x, events);
	json_t *count = json_object_get(reply, "count");
	if (json_is_integer(count) && (size_t)json_integer_value(count) > json_array_size(events))
		fprintf(x->err, "vigilctl: showing %zu of %lld events (raise --limit)\n",
			json_array_size(events), (long long)json_integer_value(count));
out_release:
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_count(struct ctx *x)
{
	struct vig_ctl_response r;
	struct vig_buf p;
	json_t *reply = NULL;
	char cell[CELL_BYTES];
	int rc;

	vig_buf_init(&p, 65536);
	vig_buf_adds(&p, "/api/v1/events/count");
	vig_ctl_add_query(&p, "q", x->a->pos[0]);
	add_time_params(&p, x->a);
	if (vig_buf_err(&p) != VIG_OK) {
		vig_buf_release(&p);
		return fail_usage(x, "query too long");
	}
	vig_ctl_response_init(&r);
	rc = call_json(x, "GET", p.data, NULL, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out, "%s\n",
				vig_ctl_json_cell(json_object_get(reply, "count"), cell, sizeof(cell)));
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_top(struct ctx *x)
{
	const char *size = vig_ctl_args_get(x->a, "size");
	struct vig_ctl_response r;
	struct vig_buf p;
	json_t *reply = NULL, *buckets, *other;
	int rc;

	vig_buf_init(&p, 65536);
	vig_buf_adds(&p, "/api/v1/events/top");
	vig_ctl_add_query(&p, "field", x->a->pos[0]);
	vig_ctl_add_query(&p, "q", x->a->npos > 1 ? x->a->pos[1] : "");
	if (size)
		vig_ctl_add_query(&p, "size", size);
	add_time_params(&p, x->a);
	if (vig_buf_err(&p) != VIG_OK) {
		vig_buf_release(&p);
		return fail_usage(x, "query too long");
	}
	vig_ctl_response_init(&r);
	rc = call_json(x, "GET", p.data, NULL, &r, &reply);
	if (rc != VIG_CTL_EXIT_OK || x->a->json) {
		if (rc == VIG_CTL_EXIT_OK)
			vig_ctl_print_raw(x->out, &r);
		goto out_release;
	}
	buckets = json_object_get(reply, "buckets");
	other = json_object_get(reply, "other");
	if (json_is_integer(other) && json_integer_value(other) > 0)
		json_array_append_new(buckets, json_pack("{s:s,s:O}", "key", "(other)", "count",
							 other));
	rc = print_list(x, buckets, (const char *const[]){"key", "count", NULL}, "values");
out_release:
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&p);
	return rc;
}

static int cmd_users_add(struct ctx *x)
{
	const char *role = vig_ctl_args_get(x->a, "role");
	const char *tenant = vig_ctl_args_get(x->a, "tenant");
	char password[MAX_SECRET];
	struct vig_ctl_response r;
	json_t *body;
	int rc;

	if (!role)
		return fail_usage(x, "usage: vigilctl users add USERNAME --role R [--tenant T] "
				     "[--password-stdin]");
	if (read_password(x->a, true, password, sizeof(password), x->errbuf) != VIG_OK)
		return fail_usage(x, x->errbuf);
	body = json_pack("{s:s,s:s,s:s}", "username", x->a->pos[0], "password", password, "role",
			 role);
	explicit_bzero(password, sizeof(password));
	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	if (tenant)
		json_object_set_new(body, "tenant", json_string(tenant));
	vig_ctl_response_init(&r);
	rc = call_json(x, "POST", "/api/v1/users", body, &r, NULL);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out, "user '%s' added\n", x->a->pos[0]);
	}
	json_decref(body);
	vig_ctl_response_release(&r);
	return rc;
}

/* "123" -> integer, true/false/null -> JSON literals, else a string. */
static json_t *typed_value(const char *v)
{
	int64_t i;

	if (vig_parse_i64(v, strlen(v), &i))
		return json_integer(i);
	if (strcmp(v, "true") == 0)
		return json_true();
	if (strcmp(v, "false") == 0)
		return json_false();
	if (strcmp(v, "null") == 0)
		return json_null();
	return json_string(v);
}

static int cmd_tenants_set(struct ctx *x)
{
	json_t *body = json_object();

	if (!body)
		return vig_ctl_fail(x->err, "out of memory");
	for (unsigned i = 1; i < x->a->npos; i++) {
		const char *kv = x->a->pos[i];
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			json_decref(body);
			return fail_usage(x, "usage: vigilctl tenants set ID KEY=VALUE...");
		}
		json_object_setn_new(body, kv, (size_t)(eq - kv), typed_value(eq + 1));
	}
	return object_cmd(x, "PATCH", "tenants", x->a->pos[0], body, "tenant updated");
}

/* alerts list / incidents list: KEY=VALUE positionals become query parameters. */
static int filtered_list(struct ctx *x, const char *what, const char *const *preferred)
{
	const char *limit = vig_ctl_args_get(x->a, "limit");
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 65536);
	vig_buf_printf(&p, "/api/v1/%s", what);
	for (unsigned i = 0; i < x->a->npos; i++) {
		const char *kv = x->a->pos[i];
		const char *eq = strchr(kv, '=');
		char key[128];
		if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
			vig_buf_release(&p);
			return fail_usage(x, "filters are KEY=VALUE");
		}
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		vig_ctl_add_query(&p, key, eq + 1);
	}
	if (limit)
		vig_ctl_add_query(&p, "limit", limit);
	rc = vig_buf_err(&p) == VIG_OK ? list_cmd(x, p.data, what, preferred)
				       : fail_usage(x, "filters too long");
	vig_buf_release(&p);
	return rc;
}

static int cmd_audit_verify(struct ctx *x)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	char rows[64], bad[128], reason[CELL_BYTES];
	int rc;

	vig_ctl_response_init(&r);
	rc = call_json(x, "POST", "/api/v1/audit/verify", NULL, &r, &reply);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_release;
	vig_ctl_json_cell(json_object_get(reply, "rows"), rows, sizeof(rows));
	if (x->a->json)
		vig_ctl_print_raw(x->out, &r);
	if (json_is_true(json_object_get(reply, "ok"))) {
		if (!x->a->json)
			fprintf(x->out, "audit chain ok: %s rows verified\n", rows);
	} else {
		vig_ctl_json_cell(json_object_get(reply, "first_bad_id"), bad, sizeof(bad));
		vig_ctl_json_cell(json_object_get(reply, "reason"), reason, sizeof(reason));
		if (!x->a->json)
			fprintf(x->out, "audit chain BROKEN at row %s: %s (%s rows checked)\n",
				bad[0] ? bad : "?", reason[0] ? reason : "no reason given", rows);
		rc = VIG_CTL_EXIT_API;
	}
out_release:
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_rules_add(struct ctx *x)
{
	struct vig_buf data;
	struct vig_ctl_response r;
	json_t *reply = NULL;
	char id[256];
	int rc;

	if (read_input(x->a->pos[0], MAX_RULE_BYTES, &data, x->errbuf) != VIG_OK) {
		vig_buf_release(&data);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	vig_ctl_response_init(&r);
	rc = call(x, "POST", "/api/v1/rules", "application/yaml", data.data ? data.data : "",
		  data.len, NULL, false, &r, &reply);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json) {
			vig_ctl_print_raw(x->out, &r);
		} else {
			vig_ctl_json_cell(vig_ctl_json_path(reply, "id"), id, sizeof(id));
			fprintf(x->out, "rule added%s%s%s\n", id[0] ? " (id " : "", id,
				id[0] ? ")" : "");
		}
	}
	json_decref(reply);
	vig_ctl_response_release(&r);
	vig_buf_release(&data);
	return rc;
}

static int cmd_help(struct ctx *x)
{
	struct vig_buf b;
	const struct vig_ctl_args *a = x->a;
	enum vig_err err;

	vig_buf_init(&b, 0);
	if (a->cmd && a->cmd->id != VIG_CTL_CMD_HELP)
		err = vig_ctl_usage(&b, a->cmd->name, a->cmd->sub);
	else if (a->group)
		err = vig_ctl_usage(&b, a->group, NULL);
	else
		err = vig_ctl_usage(&b, a->npos > 0 ? a->pos[0] : NULL, a->npos > 1 ? a->pos[1] : NULL);
	if (err == VIG_OK)
		fwrite(b.data, 1, b.len, x->out);
	vig_buf_release(&b);
	if (err == VIG_ENOTFOUND)
		return fail_usage(x, "no such command (see 'vigilctl help')");
	return err == VIG_OK ? VIG_CTL_EXIT_OK : VIG_CTL_EXIT_API;
}

/* Preferred columns per resource, in order; those the server does not return are skipped. */
static const char *const cols_tokens[] = {"id", "name", "role", "tenant", "created",
					  "expires", "last_used", "revoked", NULL};
static const char *const cols_users[] = {"id", "username", "role", "tenant", "disabled",
					 "created", "last_login", NULL};
static const char *const cols_tenants[] = {"id", "name", "is_provider", "mode",
					   "retention_days", "created", NULL};
static const char *const cols_audit[] = {"id", "ts", "actor", "tenant", "action",
					 "object_type", "object_id", "reason", NULL};
static const char *const cols_alerts[] = {"id", "last_seen", "severity", "status", "title",
					  "rule.name", "rule_id", "host", "host.name", "user",
					  "count", "incident_id", NULL};
static const char *const cols_incidents[] = {"id", "title", "severity", "status", "owner",
					     "created", "updated", NULL};
static const char *const cols_rules[] = {"id", "name", "title", "level", "enabled", "tenant",
					 "updated", NULL};

/* Runs commands that talk to the server with a token. */
static int run_api(struct ctx *x)
{
	const struct vig_ctl_args *a = x->a;
	char lim[64];

	switch (a->cmd->id) {
	case VIG_CTL_CMD_TOKEN_CREATE: return cmd_token_create(x);
	case VIG_CTL_CMD_TOKEN_LIST: return list_cmd(x, "/api/v1/tokens", "tokens", cols_tokens);
	case VIG_CTL_CMD_TOKEN_REVOKE:
		return object_cmd(x, "DELETE", "tokens", a->pos[0], NULL, "token revoked");
	case VIG_CTL_CMD_INGEST: return cmd_ingest(x);
	case VIG_CTL_CMD_SEARCH: return cmd_search(x);
	case VIG_CTL_CMD_COUNT: return cmd_count(x);
	case VIG_CTL_CMD_TOP: return cmd_top(x);
	case VIG_CTL_CMD_USERS_LIST: return list_cmd(x, "/api/v1/users", "users", cols_users);
	case VIG_CTL_CMD_USERS_ADD: return cmd_users_add(x);
	case VIG_CTL_CMD_USERS_SET_ROLE:
		return object_cmd(x, "PATCH", "users", a->pos[0], json_pack("{s:s}", "role", a->pos[1]),
				  "role changed");
	case VIG_CTL_CMD_USERS_DISABLE:
		return object_cmd(x, "PATCH", "users", a->pos[0],
				  json_pack("{s:b}", "disabled", 1), "user disabled");
	case VIG_CTL_CMD_USERS_ENABLE:
		return object_cmd(x, "PATCH", "users", a->pos[0],
				  json_pack("{s:b}", "disabled", 0), "user enabled");
	case VIG_CTL_CMD_USERS_DELETE:
		return object_cmd(x, "DELETE", "users", a->pos[0], NULL, "user deleted");
	case VIG_CTL_CMD_TENANTS_LIST:
		return list_cmd(x, "/api/v1/tenants", "tenants", cols_tenants);
	case VIG_CTL_CMD_TENANTS_ADD: {
		const char *name = vig_ctl_args_get(a, "name");
		struct vig_ctl_response r;
		json_t *body = json_pack("{s:s,s:s}", "id", a->pos[0], "name", name ? name : a->pos[0]);
		int rc;
		vig_ctl_response_init(&r);
		rc = body ? call_json(x, "POST", "/api/v1/tenants", body, &r, NULL)
			  : vig_ctl_fail(x->err, "out of memory");
		if (rc == VIG_CTL_EXIT_OK && x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else if (rc == VIG_CTL_EXIT_OK)
			fprintf(x->out, "tenant '%s' added\n", a->pos[0]);
		json_decref(body);
		vig_ctl_response_release(&r);
		return rc;
	}
	case VIG_CTL_CMD_TENANTS_SET: return cmd_tenants_set(x);
	case VIG_CTL_CMD_AUDIT_LIST:
		snprintf(lim, sizeof(lim), "/api/v1/audit?limit=%s",
			 vig_ctl_args_get(a, "limit") ? vig_ctl_args_get(a, "limit") : "50");
		return list_cmd(x, lim, "audit", cols_audit);
	case VIG_CTL_CMD_AUDIT_VERIFY: return cmd_audit_verify(x);
	case VIG_CTL_CMD_ALERTS_LIST: return filtered_list(x, "alerts", cols_alerts);
	case VIG_CTL_CMD_INCIDENTS_LIST: return filtered_list(x, "incidents", cols_incidents);
	case VIG_CTL_CMD_RULES_LIST: return list_cmd(x, "/api/v1/rules", "rules", cols_rules);
	case VIG_CTL_CMD_RULES_ADD: return cmd_rules_add(x);
	/* @agents */
	case VIG_CTL_CMD_AGENTS_LIST: case VIG_CTL_CMD_AGENTS_SHOW: case VIG_CTL_CMD_AGENTS_REVOKE:
	case VIG_CTL_CMD_AGENTS_INVENTORY: case VIG_CTL_CMD_ENROLL_TOKEN_CREATE:
	case VIG_CTL_CMD_ENROLL_TOKEN_LIST: case VIG_CTL_CMD_ENROLL_TOKEN_REVOKE:
	case VIG_CTL_CMD_ACTION_RUN: case VIG_CTL_CMD_ACTION_LIST: case VIG_CTL_CMD_ACTION_SHOW:
	case VIG_CTL_CMD_ACTION_CANCEL: case VIG_CTL_CMD_ACTION_FETCH: {
		int vig_ctl_cmds_agents(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
					FILE *); /* cmds_agents.c */
		return vig_ctl_cmds_agents(a, x->client, x->out, x->err);
	}
	/* @syslog */
	case VIG_CTL_CMD_REPLAY: case VIG_CTL_CMD_SOURCES_LIST: case VIG_CTL_CMD_REDUCTION_STATS: {
		int vig_ctl_cmds_logs(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
				      FILE *); /* cmds_logs.c */
		return vig_ctl_cmds_logs(a, x->client, x->out, x->err);
	}
	/* @intel */
	case VIG_CTL_CMD_INTEL_FEEDS: case VIG_CTL_CMD_INTEL_ADD: case VIG_CTL_CMD_INTEL_REFRESH:
	case VIG_CTL_CMD_INTEL_LOOKUP: case VIG_CTL_CMD_ATTACK_COVERAGE: {
		int vig_ctl_cmds_intel(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
				       FILE *); /* cmds_intel.c */
		return vig_ctl_cmds_intel(a, x->client, x->out, x->err);
	}
	/* @detectx */
	case VIG_CTL_CMD_RULES_VALIDATE: case VIG_CTL_CMD_RULES_TEST: case VIG_CTL_CMD_RULES_IMPORT:
	case VIG_CTL_CMD_RULES_ENABLE: case VIG_CTL_CMD_RULES_DISABLE: case VIG_CTL_CMD_HUNT_RUN:
	case VIG_CTL_CMD_HUNT_SHOW: case VIG_CTL_CMD_HUNT_CANCEL: case VIG_CTL_CMD_HUNT_LIST:
	case VIG_CTL_CMD_ASSETS_LIST: case VIG_CTL_CMD_ASSETS_ADD: case VIG_CTL_CMD_ASSETS_DELETE:
	case VIG_CTL_CMD_EXCEPTIONS_LIST: case VIG_CTL_CMD_EXCEPTIONS_ADD:
	case VIG_CTL_CMD_EXCEPTIONS_DELETE: case VIG_CTL_CMD_SUPPRESSIONS_LIST:
	case VIG_CTL_CMD_SUPPRESSIONS_ADD: case VIG_CTL_CMD_SUPPRESSIONS_DELETE: {
		int vig_ctl_cmds_detectx(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
					 FILE *); /* cmds_rules.c */
		return vig_ctl_cmds_detectx(a, x->client, x->out, x->err);
	}
	/* @evidence */
	case VIG_CTL_CMD_EVIDENCE_LIST: case VIG_CTL_CMD_EVIDENCE_ADD: case VIG_CTL_CMD_EVIDENCE_GET:
	case VIG_CTL_CMD_EVIDENCE_VERIFY: {
		int vig_ctl_cmds_evidence(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
					  FILE *); /* cmds_evidence.c */
		return vig_ctl_cmds_evidence(a, x->client, x->out, x->err);
	}
	/* @response */
	case VIG_CTL_CMD_APPROVALS_LIST: case VIG_CTL_CMD_APPROVALS_APPROVE: case VIG_CTL_CMD_APPROVALS_REJECT:
	case VIG_CTL_CMD_RESPOND: case VIG_CTL_CMD_PLAYBOOKS_LIST: case VIG_CTL_CMD_PLAYBOOKS_ADD:
	case VIG_CTL_CMD_PLAYBOOKS_DELETE: case VIG_CTL_CMD_TENANT_SETTINGS: {
		int vig_ctl_cmds_response(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
					  FILE *); /* cmds_response.c */
		return vig_ctl_cmds_response(a, x->client, x->out, x->err);
	}
	/* @sharing */
	/* @reports */
	case VIG_CTL_CMD_REPORTS_LIST: case VIG_CTL_CMD_REPORTS_ADD: case VIG_CTL_CMD_REPORTS_RUNS:
	case VIG_CTL_CMD_REPORTS_RUN: case VIG_CTL_CMD_REPORTS_GET: {
		int vig_ctl_cmds_reports(const struct vig_ctl_args *, struct vig_ctl_client *, FILE *,
					 FILE *); /* cmds_reports.c */
		return vig_ctl_cmds_reports(a, x->client, x->out, x->err);
	}
	default: return vig_ctl_fail(x->err, "command not implemented");
	}
}

int vig_ctl_run(const struct vig_ctl_args *a, FILE *out, FILE *err)
{
	struct ctx x = {.a = a, .out = out, .err = err};
	struct vig_ctl_creds creds;
	char path[4096];
	bool have_creds = false;
	enum vig_ctl_cmd_id id;
	int rc;

	if (a->help || !a->cmd || a->cmd->id == VIG_CTL_CMD_HELP)
		return cmd_help(&x);
	id = a->cmd->id;
	if (id == VIG_CTL_CMD_VERSION) {
		fprintf(out, "vigilctl %s\n", VIG_VERSION);
		return VIG_CTL_EXIT_OK;
	}
	if (vig_ctl_creds_path(path, sizeof(path), x.errbuf) == VIG_OK) {
		enum vig_err e = vig_ctl_creds_load(path, &creds, x.errbuf);
		if (e == VIG_OK)
			have_creds = true;
		else if (e != VIG_ENOTFOUND)
			fprintf(err, "vigilctl: warning: %s\n", x.errbuf);
	}
	if (vig_ctl_resolve_target(a, have_creds ? &creds : NULL, &x.target, x.errbuf) != VIG_OK)
		return fail_usage(&x, x.errbuf);
	/* login and setup must not send a stored token; logout sends the stored one. */
	if (id == VIG_CTL_CMD_LOGOUT && have_creds) {
		snprintf(x.target.url, sizeof(x.target.url), "%s", creds.url);
		snprintf(x.target.token, sizeof(x.target.token), "%s", creds.token);
	}
	rc = open_client(&x, id != VIG_CTL_CMD_LOGIN && id != VIG_CTL_CMD_SETUP);
	if (rc != VIG_CTL_EXIT_OK)
		goto out_free;
	switch (id) {
	case VIG_CTL_CMD_STATUS: rc = cmd_status(&x); break;
	case VIG_CTL_CMD_LOGIN: rc = cmd_login(&x); break;
	case VIG_CTL_CMD_LOGOUT: rc = cmd_logout(&x, &creds, have_creds); break;
	case VIG_CTL_CMD_SETUP: rc = cmd_setup(&x); break;
	default:
		rc = need_token(&x);
		if (rc == VIG_CTL_EXIT_OK)
			rc = run_api(&x);
	}
out_free:
	vig_ctl_client_free(x.client);
	explicit_bzero(&creds, sizeof(creds));
	explicit_bzero(&x.target, sizeof(x.target));
	return rc;
}
