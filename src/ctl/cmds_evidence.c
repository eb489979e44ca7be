/*
 * cmds_evidence.c - vigilctl's incident evidence commands (docs/api.md, "Evidence"):
 * `evidence list INCIDENT`, `evidence add INCIDENT FILE [--name N] [--description D]`,
 * `evidence get ID [FILE]` and `evidence verify ID`.
 *
 * Same shape as cmds_agents.c: "vigilctl: <server's message> (HTTP n)" and exit 1 on an API
 * error, tables by default and the raw reply with --json. `add` sends the file as it is (mapped,
 * not copied) with its name. `get` without FILE prints the item and its custody log; with FILE
 * it downloads the file, checks its SHA-256 against the item's before writing it (mode 0600,
 * never over an existing file). `verify` exits 1 unless the server found both the file's hash
 * and the custody chain intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cmds.h"

struct ectx {
	const struct vig_ctl_args *a;
	struct vig_ctl_client *c;
	FILE *out, *err;
	char errbuf[VIG_ERRBUF_SIZE];
};

static const char *const cols_evidence[] = {"id", "name", "kind", "size", "sha256", "created_by",
					    "created", NULL};
static const char *const cols_custody[] = {"id", "ts", "actor", "action", "detail", NULL};

/* "<a><n><b>" for the first positional argument, which must be a positive integer (an
 * incident or evidence id); NULL after printing the error when it is not. */
static const char *path_of(struct ectx *x, struct vig_buf *p, const char *a, const char *b)
{
	const char *s = x->a->pos[0];
	int64_t id;

	if (!vig_parse_i64(s, strlen(s), &id) || id <= 0) {
		fprintf(x->err, "vigilctl: %s: expected a positive integer id\n", s);
		return NULL;
	}
	vig_buf_reset(p);
	vig_buf_printf(p, "%s%lld%s", a, (long long)id, b ? b : "");
	return vig_buf_err(p) == VIG_OK ? p->data : NULL;
}

/* GET path (NULL: a bad id, already reported) into *reply (may be NULL) and r. */
static int get_json(struct ectx *x, const char *path, struct vig_ctl_response *r, json_t **reply)
{
	if (!path)
		return VIG_CTL_EXIT_USAGE;
	return vig_ctl_request_json(x->c, x->err, "GET", path, NULL, r, reply, x->errbuf);
}

static int cmd_list(struct ectx *x, struct vig_buf *p)
{
	struct vig_ctl_response r;
	json_t *reply = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = get_json(x, path_of(x, p, "/api/v1/incidents/", "/evidence"), &r, &reply);
	if (rc == VIG_CTL_EXIT_OK && x->a->json)
		vig_ctl_print_raw(x->out, &r);
	else if (rc == VIG_CTL_EXIT_OK)
		rc = vig_ctl_print_rows(x->out, x->err, json_object_get(reply, "evidence"),
					cols_evidence);
	json_decref(reply);
	vig_ctl_response_release(&r);
	return rc;
}

/* The last path component of path. */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s && s[1] ? s + 1 : path;
}

/* Sends n bytes of data as the body of the upload request to path. */
static int upload(struct ectx *x, const char *path, const char *data, size_t n)
{
	struct vig_ctl_response r;
	char line[VIG_ERRBUF_SIZE + 64];
	json_t *item = NULL;
	int rc = VIG_CTL_EXIT_OK;

	vig_ctl_response_init(&r);
	if (vig_ctl_request(x->c, "POST", path, "application/octet-stream", data, n, NULL, &r,
			    x->errbuf) != VIG_OK) {
		rc = vig_ctl_fail(x->err, x->errbuf);
	} else if (r.status < 200 || r.status >= 400) {
		vig_ctl_api_error(r.status, r.body.data, r.body.len, line, sizeof(line));
		fprintf(x->err, "%s\n", line);
		rc = VIG_CTL_EXIT_API;
	} else if (x->a->json) {
		vig_ctl_print_raw(x->out, &r);
	} else if (!(item = json_loadb(r.body.data, r.body.len, 0, NULL))) {
		rc = vig_ctl_fail(x->err, "reply is not JSON");
	} else {
		fprintf(x->out, "evidence %lld%s: %lld bytes, sha256 %s\n",
			(long long)json_integer_value(json_object_get(item, "id")),
			r.status == 200 ? " (already attached)" : "",
			(long long)json_integer_value(json_object_get(item, "size")),
			json_string_value(json_object_get(item, "sha256")));
	}
	json_decref(item);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_add(struct ectx *x, struct vig_buf *p)
{
	const char *file = x->a->pos[1], *name = vig_ctl_args_get(x->a, "name");
	struct stat sb;
	void *map = NULL;
	int rc, fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot read %s: %s", file,
			 fd < 0 || errno ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	if (sb.st_size > 0 &&
	    (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
		snprintf(x->errbuf, sizeof(x->errbuf), "cannot map %s: %s", file, strerror(errno));
		close(fd);
		return vig_ctl_fail(x->err, x->errbuf);
	}
	close(fd);
	if (!path_of(x, p, "/api/v1/incidents/", "/evidence")) {
		rc = VIG_CTL_EXIT_USAGE;
	} else {
		vig_ctl_add_query(p, "name", name ? name : base_name(file));
		vig_ctl_add_query(p, "description", vig_ctl_args_get(x->a, "description"));
		rc = vig_buf_err(p) != VIG_OK
			     ? vig_ctl_fail(x->err, "path too long")
			     : upload(x, p->data, map ? map : "", (size_t)sb.st_size);
	}
	if (map)
		munmap(map, (size_t)sb.st_size);
	return rc;
}

/* Prints the item and its custody log. */
static void print_item(struct ectx *x, json_t *item)
{
	char cell[4096];
	const char *k;
	json_t *v;

	json_object_foreach(item, k, v) if (strcmp(k, "custody") != 0)
		fprintf(x->out, "%-12s %s\n", k, vig_ctl_json_cell(v, cell, sizeof(cell)));
	fprintf(x->out, "\ncustody:\n");
	vig_ctl_print_rows(x->out, x->err, json_object_get(item, "custody"), cols_custody);
}

/* Downloads item (already read) into file after checking its SHA-256. */
static int download(struct ectx *x, struct vig_buf *p, json_t *item, const char *file)
{
	const char *want = json_string_value(json_object_get(item, "sha256"));
	struct vig_ctl_response r;
	uint8_t md[32];
	char hex[65];
	int rc, fd;

	vig_ctl_response_init(&r);
	rc = get_json(x, path_of(x, p, "/api/v1/evidence/", "/download"), &r, NULL);
	if (rc == VIG_CTL_EXIT_OK) {
		vig_sha256(r.body.data, r.body.len, md);
		vig_hex(md, sizeof(md), hex);
		if (!want || strcmp(hex, want) != 0)
			rc = vig_ctl_fail(
				x->err, "the downloaded file does not match the evidence's sha256");
	}
	if (rc == VIG_CTL_EXIT_OK) {
		fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, r.body.data, r.body.len) != (ssize_t)r.body.len ||
		    close(fd) != 0) {
			snprintf(x->errbuf, sizeof(x->errbuf), "cannot write %s: %s", file,
				 strerror(errno));
			rc = vig_ctl_fail(x->err, x->errbuf);
		} else {
			fprintf(x->out, "%s: %zu bytes, sha256 %s\n", file, r.body.len, hex);
		}
	}
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_get(struct ectx *x, struct vig_buf *p)
{
	struct vig_ctl_response r;
	json_t *item = NULL;
	int rc;

	vig_ctl_response_init(&r);
	rc = get_json(x, path_of(x, p, "/api/v1/evidence/", NULL), &r, &item);
	if (rc == VIG_CTL_EXIT_OK && x->a->npos > 1)
		rc = download(x, p, item, x->a->pos[1]);
	else if (rc == VIG_CTL_EXIT_OK && x->a->json)
		vig_ctl_print_raw(x->out, &r);
	else if (rc == VIG_CTL_EXIT_OK)
		print_item(x, item);
	json_decref(item);
	vig_ctl_response_release(&r);
	return rc;
}

static int cmd_verify(struct ectx *x, struct vig_buf *p)
{
	struct vig_ctl_response r;
	json_t *v = NULL;
	int rc;

	const char *path = path_of(x, p, "/api/v1/evidence/", "/verify");

	if (!path)
		return VIG_CTL_EXIT_USAGE;
	vig_ctl_response_init(&r);
	rc = vig_ctl_request_json(x->c, x->err, "POST", path, NULL, &r, &v, x->errbuf);
	if (rc == VIG_CTL_EXIT_OK) {
		if (x->a->json)
			vig_ctl_print_raw(x->out, &r);
		else
			fprintf(x->out,
				"evidence %s: sha256 %s, custody chain %s (%lld entries)%s%s\n",
				x->a->pos[0],
				json_is_true(json_object_get(v, "sha256_ok")) ? "ok" : "MISMATCH",
				json_is_true(json_object_get(v, "chain_ok")) ? "ok" : "BROKEN",
				(long long)json_integer_value(
					json_object_get(v, "custody_entries")),
				json_is_string(json_object_get(v, "reason")) ? ": " : "",
				json_is_string(json_object_get(v, "reason"))
					? json_string_value(json_object_get(v, "reason"))
					: "");
		if (!json_is_true(json_object_get(v, "ok")))
			rc = VIG_CTL_EXIT_API;
	}
	json_decref(v);
	vig_ctl_response_release(&r);
	return rc;
}

int vig_ctl_cmds_evidence(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
			  FILE *err)
{
	struct ectx x = {.a = a, .c = client, .out = out, .err = err};
	struct vig_buf p;
	int rc;

	vig_buf_init(&p, 8192);
	switch (a->cmd->id) {
	case VIG_CTL_CMD_EVIDENCE_LIST: rc = cmd_list(&x, &p); break;
	case VIG_CTL_CMD_EVIDENCE_ADD: rc = cmd_add(&x, &p); break;
	case VIG_CTL_CMD_EVIDENCE_GET: rc = cmd_get(&x, &p); break;
	case VIG_CTL_CMD_EVIDENCE_VERIFY: rc = cmd_verify(&x, &p); break;
	default: rc = vig_ctl_fail(err, "command not implemented"); break;
	}
	vig_buf_release(&p);
	return rc;
}
