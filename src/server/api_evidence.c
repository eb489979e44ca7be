/*
 * api_evidence.c - the evidence API: attach evidence to an incident (a raw upload, the file a
 * collect action gathered, or the NDJSON of an event search), list an incident's evidence,
 * read an item with its custody log, download it (re-hashed first), verify it, and note a
 * custody step by hand.
 *
 * The work is src/incident/evidence.c's: it checks the caller's tenant, stores the file by its
 * SHA-256 and writes every custody step together with its audit row and timeline row. This
 * file maps HTTP to it and adds what needs other parts of vigild: the fleet (collected files)
 * and the event store (exports). Another tenant's incident or item is 404 like a missing one.
 *
 * Threads: adding and verifying hash whole files, so their routes run on the offload workers;
 * a download streams the file from the loop (evbuffer_add_file) after re-hashing it there.
 */
#include "server_int.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "common/vtime.h"
#include "event/event_json.h"
#include "fleet/fleet.h"
#include "incident/evidence.h"

#define EXPORT_Q_MAX 4096         /* bytes of an export's query */
#define EXPORT_DEFAULT_LIMIT 1000 /* events exported when no limit is given */

enum vig_err vig_evidence_start(struct vig_server *srv, char *errbuf)
{
	char dir[VIG_CFG_PATH_MAX + 16];

	if ((size_t)snprintf(dir, sizeof(dir), "%s/evidence", srv->cfg.data_dir) >= sizeof(dir))
		return vig_errf(errbuf, VIG_EINVAL, "data_dir too long for the evidence directory");
	srv->evidence = vig_evidence_open(srv->db, dir, srv->cfg.evidence_max_bytes, errbuf);
	return srv->evidence ? VIG_OK : VIG_EIO;
}

void vig_evidence_stop(struct vig_server *srv)
{
	vig_evidence_free(srv->evidence);
	srv->evidence = NULL;
}

void vig_evidence_metrics(struct vig_server *srv, struct vig_buf *b)
{
	vig_buf_printf(b,
		       "# HELP vigil_evidence_added_total Evidence items attached to incidents.\n"
		       "# TYPE vigil_evidence_added_total counter\n"
		       "vigil_evidence_added_total %llu\n"
		       "# HELP vigil_evidence_downloads_total Evidence files served after their "
		       "SHA-256 check.\n"
		       "# TYPE vigil_evidence_downloads_total counter\n"
		       "vigil_evidence_downloads_total %llu\n"
		       "# HELP vigil_evidence_integrity_failures_total Evidence whose stored file "
		       "failed its SHA-256 check.\n"
		       "# TYPE vigil_evidence_integrity_failures_total counter\n"
		       "vigil_evidence_integrity_failures_total %llu\n"
		       "# HELP vigil_evidence_rejected_total Evidence requests refused (bad input, "
		       "size bounds, errors).\n"
		       "# TYPE vigil_evidence_rejected_total counter\n"
		       "vigil_evidence_rejected_total %llu\n",
		       (unsigned long long)atomic_load(&srv->evidence_added),
		       (unsigned long long)atomic_load(&srv->evidence_downloads),
		       (unsigned long long)atomic_load(&srv->evidence_integrity_failures),
		       (unsigned long long)atomic_load(&srv->evidence_rejected));
}

/* Replies with an error of the add path, counted. */
static void reply_rejected(struct vig_req *r, enum vig_err err, const char *msg)
{
	atomic_fetch_add(&r->srv->evidence_rejected, 1);
	vig_reply_err(r, err, msg);
}

/* Replies with item id and its custody log: 201 when created (counted), else 200. */
static void reply_item(struct vig_req *r, int64_t id, bool created)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *item = NULL;
	enum vig_err err = vig_evidence_get(r->srv->evidence, &r->who, id, &item, errbuf);

	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	if (created)
		atomic_fetch_add(&r->srv->evidence_added, 1);
	vig_reply_jansson(r, created ? 201 : 200, item);
}

/* ---- collected files ---- */

/* The name of a collected file: the last component of the path it was collected from. */
static void collected_name(json_t *action, int64_t action_id, char *out, size_t cap)
{
	const char *path =
		json_string_value(json_object_get(json_object_get(action, "params"), "path"));
	const char *base = path ? strrchr(path, '/') : NULL;

	base = base ? base + 1 : path;
	if (base && *base)
		snprintf(out, cap, "%s", base);
	else
		snprintf(out, cap, "action-%lld.bin", (long long)action_id);
}

/* vig_evidence_from_action() with *created. */
static enum vig_err attach_action(struct vig_server *srv, const struct vig_principal *who,
				  int64_t incident_id, int64_t action_id, int64_t *evidence_id,
				  bool *created, char *errbuf)
{
	char path[VIG_CFG_PATH_MAX + 128], sha[65], name[VIG_EVIDENCE_NAME_MAX + 1];
	char source[VIG_EVIDENCE_SOURCE_MAX + 1];
	struct vig_evidence_meta m = {.name = name, .kind = "collected"};
	json_t *a = NULL;
	int64_t size = 0;
	enum vig_err err = vig_fleet_action_get(srv->fleet, who, action_id, &a, errbuf);

	if (err != VIG_OK)
		return err;
	if (strcmp(json_string_value(json_object_get(a, "type")), "collect") != 0)
		err = vig_errf(errbuf, VIG_EINVAL, "action %lld is not a collect action",
			       (long long)action_id);
	else if (strcmp(json_string_value(json_object_get(a, "status")), "succeeded") != 0)
		err = vig_errf(errbuf, VIG_ECONFLICT, "action %lld has not succeeded (status %s)",
			       (long long)action_id,
			       json_string_value(json_object_get(a, "status")));
	if (err == VIG_OK)
		err = vig_fleet_upload_file(srv->fleet, who, action_id, path, sizeof(path), sha,
					    &size, errbuf);
	if (err == VIG_OK) {
		const char *from =
			json_string_value(json_object_get(json_object_get(a, "params"), "path"));

		collected_name(a, action_id, name, sizeof(name));
		snprintf(source, sizeof(source), "action %lld, agent %s, path %.900s",
			 (long long)action_id, json_string_value(json_object_get(a, "agent_id")),
			 from ? from : "?");
		m.source = source;
		m.tenant = json_string_value(json_object_get(a, "tenant"));
		err = vig_evidence_add_file(srv->evidence, who, incident_id, &m, path, sha,
					    evidence_id, created, errbuf);
	}
	if (err == VIG_EIO && strstr(errbuf, "SHA-256")) { /* the collected file changed on disk */
		char idbuf[24];

		atomic_fetch_add(&srv->evidence_integrity_failures, 1);
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)action_id);
		vig_audit_append(srv->db, who, json_string_value(json_object_get(a, "tenant")),
				 "evidence.integrity_failure", "action", idbuf, NULL, NULL, errbuf,
				 NULL, NULL);
	}
	json_decref(a);
	return err;
}

enum vig_err vig_evidence_from_action(struct vig_server *srv, const struct vig_principal *who,
				      int64_t incident_id, int64_t action_id, int64_t *evidence_id,
				      char *errbuf)
{
	return attach_action(srv, who, incident_id, action_id, evidence_id, NULL, errbuf);
}

/* ---- exports of an event search ---- */

struct export_ctx {
	struct vig_buf *out;
	size_t n;
};

static bool export_event(void *arg, const struct vig_event *ev)
{
	struct export_ctx *c = arg;

	vig_event_to_json(ev, c->out);
	vig_buf_addc(c->out, '\n');
	c->n++;
	return vig_buf_err(c->out) == VIG_OK;
}

/* Reads body.export's optional time member name into *ns; false (after replying) if bad. */
static bool export_time(struct vig_req *r, json_t *spec, const char *name, int64_t *ns)
{
	json_t *v = json_object_get(spec, name);
	char msg[128];

	if (!v || json_is_null(v))
		return true;
	if (json_is_string(v) && vig_http_parse_time(json_string_value(v), ns))
		return true;
	snprintf(msg, sizeof(msg), "export.%s: expected RFC 3339 or epoch seconds as a string",
		 name);
	reply_rejected(r, VIG_EINVAL, msg);
	return false;
}

/* Runs the search of body.export in the incident's tenant and keeps its NDJSON as evidence. */
static void add_export(struct vig_req *r, int64_t incident_id, json_t *body)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX], name[96], *source = NULL;
	json_t *spec = json_object_get(body, "export"), *lim = json_object_get(spec, "limit");
	const char *q = json_string_value(json_object_get(spec, "q")), *tp = tenant;
	struct vig_scope scope = {.tenants = &tp, .n_tenants = 1};
	struct vig_evidence_meta m = {.kind = "export", .media_type = "application/x-ndjson"};
	int64_t now = vig_time_now(), from = now - 86400 * VIG_NS_PER_SEC,
		to = now + 60 * VIG_NS_PER_SEC;
	int64_t limit = EXPORT_DEFAULT_LIMIT, id = 0;
	struct export_ctx c = {0};
	struct vig_buf out;
	bool created = false;
	enum vig_err err;

	if (!json_is_object(spec) || (json_object_get(spec, "q") && !q) ||
	    (q && strlen(q) > EXPORT_Q_MAX) ||
	    (lim && (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		     json_integer_value(lim) > VIG_EVSTORE_MAX_LIMIT))) {
		snprintf(errbuf, sizeof(errbuf),
			 "export: expected {\"q\": string of at most %d bytes, \"from\", \"to\", "
			 "\"limit\": 1..%d}",
			 EXPORT_Q_MAX, VIG_EVSTORE_MAX_LIMIT);
		reply_rejected(r, VIG_EINVAL, errbuf);
		return;
	}
	if (!export_time(r, spec, "from", &from) || !export_time(r, spec, "to", &to))
		return;
	if (lim)
		limit = json_integer_value(lim);
	err = vig_evidence_incident_tenant(r->srv->evidence, &r->who, incident_id, tenant, errbuf);
	if (err != VIG_OK) {
		reply_rejected(r, err, errbuf);
		return;
	}
	vig_buf_init(&out,
		     (size_t)VIG_MIN(r->srv->cfg.evidence_max_bytes, (int64_t)VIG_REPLY_MAX_BYTES));
	c.out = &out;
	err = vig_evstore_search(r->srv->store, &scope, q, from, to, (size_t)limit, true,
				 export_event, &c, NULL, errbuf);
	if (err == VIG_OK && vig_buf_err(&out) != VIG_OK)
		err = vig_errf(errbuf, VIG_ETOOBIG,
			       "export larger than evidence.max_bytes; narrow the search");
	if (err == VIG_EUNSUPPORTED || err == VIG_EPARSE)
		err = VIG_EINVAL; /* the query is the client's */
	if (err == VIG_OK) {
		json_t *src = json_pack("{s:s,s:I,s:I,s:I,s:I}", "q", q ? q : "", "from",
					(json_int_t)from, "to", (json_int_t)to, "limit",
					(json_int_t)limit, "events", (json_int_t)c.n);

		source = src ? json_dumps(src, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(src);
		snprintf(name, sizeof(name), "export-%lld.ndjson",
			 (long long)(now / VIG_NS_PER_SEC));
		m.name = json_string_value(json_object_get(body, "name"));
		if (!m.name)
			m.name = name;
		m.description = json_string_value(json_object_get(body, "description"));
		m.source = source;
		err = vig_evidence_add_bytes(r->srv->evidence, &r->who, incident_id, &m,
					     out.data ? out.data : "", out.len, &id, &created,
					     errbuf);
	}
	vig_buf_release(&out);
	free(source);
	if (err != VIG_OK)
		reply_rejected(r, err, errbuf);
	else
		reply_item(r, id, created);
}

/* ---- handlers ---- */

/* A raw body: the file itself, named by ?name=. */
static void add_upload(struct vig_req *r, int64_t incident_id, const char *ctype)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", name[VIG_EVIDENCE_NAME_MAX + 2] = "";
	char desc[VIG_EVIDENCE_DESC_MAX + 2] = "", source[160], media[VIG_EVIDENCE_MEDIA_MAX + 1];
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);
	int64_t cap =
		VIG_MIN(r->srv->cfg.evidence_max_upload_bytes, r->srv->cfg.evidence_max_bytes);
	struct vig_evidence_meta m = {.name = name,
				      .kind = "upload",
				      .description = desc,
				      .source = source,
				      .media_type = media};
	bool created = false;
	enum vig_err err;
	int64_t id = 0;

	if (vig_req_query(r, "name", name, sizeof(name)) < 0 ||
	    vig_req_query(r, "description", desc, sizeof(desc)) < 0)
		return;
	if ((int64_t)n > cap) {
		snprintf(errbuf, sizeof(errbuf),
			 "upload larger than %lld bytes (evidence.max_upload_bytes)",
			 (long long)cap);
		reply_rejected(r, VIG_ETOOBIG, errbuf);
		return;
	}
	snprintf(media, sizeof(media), "%s", ctype && *ctype ? ctype : "application/octet-stream");
	snprintf(source, sizeof(source), "upload by %s from %s", r->who.username,
		 r->remote[0] ? r->remote : "-");
	err = vig_evidence_add_bytes(r->srv->evidence, &r->who, incident_id, &m,
				     n ? (const void *)evbuffer_pullup(in, -1) : "", n, &id,
				     &created, errbuf);
	if (err != VIG_OK)
		reply_rejected(r, err, errbuf);
	else
		reply_item(r, id, created);
}

void vig_api_evidence_add(struct vig_req *r)
{
	const char *ctype =
		evhttp_find_header(evhttp_request_get_input_headers(r->req), "Content-Type");
	char errbuf[VIG_ERRBUF_SIZE] = "", name[4];
	json_t *body, *aid;
	bool created = false;
	int64_t incident_id, id = 0;
	enum vig_err err;
	int has_name;

	if (!vig_req_id(r, "incident", &incident_id))
		return;
	has_name = vig_http_query_get(r->query, "name", name, sizeof(name));
	if (has_name != 0 || !ctype || strncasecmp(ctype, "application/json", 16) != 0) {
		add_upload(r, incident_id, ctype);
		return;
	}
	body = vig_req_json_body(r);
	if (!body) {
		atomic_fetch_add(&r->srv->evidence_rejected, 1);
		return;
	}
	aid = json_object_get(body, "action_id");
	if (json_object_get(body, "export")) {
		add_export(r, incident_id, body);
	} else if (json_is_integer(aid) && json_integer_value(aid) > 0) {
		err = attach_action(r->srv, &r->who, incident_id, json_integer_value(aid), &id,
				    &created, errbuf);
		if (err != VIG_OK)
			reply_rejected(r, err, errbuf);
		else
			reply_item(r, id, created);
	} else {
		reply_rejected(r, VIG_EINVAL,
			       "body: expected {\"action_id\": N} or {\"export\": {\"q\", "
			       "\"from\", \"to\", \"limit\"}},"
			       " or a raw upload with ?name=");
	}
	json_decref(body);
}

/* The reads: fn(evidence, caller, the route's id) answered 200 with its JSON; a verification
 * that found the file changed (sha256_ok false) is counted. */
typedef enum vig_err read_fn(struct vig_evidence *ev, const struct vig_principal *who, int64_t id,
			     json_t **out, char *errbuf);

static void reply_read(struct vig_req *r, const char *what, read_fn *fn)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, what, &id))
		return;
	err = fn(r->srv->evidence, &r->who, id, &out, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	if (json_is_false(json_object_get(out, "sha256_ok")))
		atomic_fetch_add(&r->srv->evidence_integrity_failures, 1);
	vig_reply_jansson(r, 200, out);
}

void vig_api_evidence_list(struct vig_req *r)
{
	reply_read(r, "incident", vig_evidence_list);
}

void vig_api_evidence_get(struct vig_req *r)
{
	reply_read(r, "evidence", vig_evidence_get);
}

void vig_api_evidence_verify(struct vig_req *r)
{
	reply_read(r, "evidence", vig_evidence_verify);
}

/* name reduced to characters safe in a quoted Content-Disposition filename. */
static void safe_filename(const char *name, char *out, size_t cap)
{
	size_t o = 0;

	for (; name && *name && o + 1 < cap; name++) {
		char c = *name;

		out[o++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					   (c >= '0' && c <= '9') || c == '.' || c == '-' ||
					   c == '_'
				   ? c
				   : '_';
	}
	out[o] = '\0';
	if (!o || out[0] == '.')
		snprintf(out, cap, "evidence.bin");
}

void vig_api_evidence_download(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", file[96], disp[128];
	struct evbuffer *out = NULL;
	json_t *item = NULL;
	int64_t id, size;
	enum vig_err err;
	int fd = -1;

	if (!vig_req_id(r, "evidence", &id))
		return;
	err = vig_evidence_open_verified(r->srv->evidence, &r->who, id, &fd, &item, errbuf);
	if (err != VIG_OK) {
		if (err == VIG_EIO)
			atomic_fetch_add(&r->srv->evidence_integrity_failures, 1);
		vig_reply_err(r, err, errbuf);
		return;
	}
	size = json_integer_value(json_object_get(item, "size"));
	out = evbuffer_new();
	if (out && size == 0) { /* nothing to send: libevent refuses an empty file segment */
		close(fd);
	} else if (!out || evbuffer_add_file(out, fd, 0, size) != 0) { /* takes fd */
		if (out)
			evbuffer_free(out);
		else
			close(fd);
		json_decref(item);
		vig_reply_err(r, VIG_EIO, "cannot read the evidence file");
		return;
	}
	safe_filename(json_string_value(json_object_get(item, "name")), file, sizeof(file));
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", file);
	vig_req_header(r, "Content-Type", "application/octet-stream");
	vig_req_header(r, "Content-Disposition", disp);
	vig_req_header(r, "X-Vigil-Sha256", json_string_value(json_object_get(item, "sha256")));
	vig_req_header(r, "X-Vigil-Media-Type",
		       json_string_value(json_object_get(item, "media_type")));
	vig_req_header(r, "X-Content-Type-Options", "nosniff");
	vig_req_header(r, "Cache-Control", "no-store");
	atomic_fetch_add(&r->srv->evidence_downloads, 1);
	evhttp_send_reply(r->req, 200, "OK", out);
	evbuffer_free(out);
	vig_req_log(r, 200, (size_t)size);
	vig_req_free(r);
	json_decref(item);
}

void vig_api_evidence_custody(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body;
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "evidence", &id) || !(body = vig_req_json_body(r)))
		return;
	err = vig_evidence_custody_note(
		r->srv->evidence, &r->who, id, json_string_value(json_object_get(body, "action")),
		json_string_value(json_object_get(body, "detail")), NULL, errbuf);
	json_decref(body);
	if (err != VIG_OK)
		reply_rejected(r, err, errbuf);
	else
		reply_item(r, id, false);
}
