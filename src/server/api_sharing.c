/*
 * api_sharing.c - intel sharing and XDR blocking fan-out:
 *
 *   STIX export    GET /api/v1/incidents/{id}/stix: the incident's observables as a STIX 2.1
 *                  bundle (src/incident/stix_export.c); TLP red left out unless ?include_red=1.
 *   Sharing        POST /api/v1/incidents/{id}/share and /unshare {"observable_ids": [...]}:
 *                  which observables the tenant publishes (table shared_indicators, audited).
 *                  TLP red and observables without a STIX pattern cannot be shared.
 *   TAXII 2.1      a read-only server under /taxii2/ (OASIS TAXII 2.1, sections 4 and 5):
 *                  discovery, one API root per tenant (/taxii2/{tenant}/) holding one
 *                  collection, "shared-indicators", whose id is a UUIDv5 of the tenant; objects
 *                  (added_after, limit, next, match[id|type|version|spec_version]), manifest,
 *                  one object, its versions. Every reply is application/taxii+json;version=2.1;
 *                  a request whose Accept names neither that nor a wildcard gets 406; writes get
 *                  405 (can_write is false). Authentication is an API token of the tenant, as a
 *                  Bearer token or as the password of HTTP Basic (the user name is ignored), so
 *                  stock TAXII clients work; a tenant the token cannot see is 404 like a missing
 *                  one. The token needs incidents:read.
 *   Fan-out        PATCH /api/v1/agents/{id} {"gateway": bool} marks an agent as a gateway. A
 *                  reconciliation compares the tenant's active blocklist with what each
 *                  non-revoked gateway was told (table blocklist_pushes: entry, agent, state
 *                  blocked/unblocked, the action that said so) and queues `block` (expires_s =
 *                  the entry's remaining time) or `unblock` actions for the differences; an
 *                  action that expired or was cancelled before the agent took it is queued
 *                  again, so a gateway that was offline longer than agents.action_timeout_s
 *                  still converges. It runs after every blocklist or gateway change made
 *                  through the API and every sharing.reconcile_interval_s (entry expiry).
 *                  Every push is an audit row (blocklist.push) by the system.
 *
 * Threads: everything runs on the loop thread; the counters are atomics for /metrics.
 */
#include "server_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>

#include "common/vtime.h"
#include "fleet/fleet.h"
#include "incident/incident.h"
#include "incident/stix_export.h"

#define TAXII_MT "application/taxii+json;version=2.1"
#define STIX_MT "application/stix+json;version=2.1"
#define TAXII_PAGE_DEFAULT 100
#define TAXII_PAGE_MAX 1000
#define SHARE_IDS_MAX 1000      /* observable ids in one share/unshare call */
#define RECONCILE_MAX 1000      /* actions queued by one reconciliation */
#define TAXII_MATCH_MAX 2048    /* bytes of one match[...] parameter */
#define COLLECTION_ALIAS "shared-indicators"

struct vig_sharing {
	struct event *timer;                  /* periodic reconciliation */
	atomic_uint_fast64_t exports;         /* STIX bundles exported */
	atomic_uint_fast64_t taxii_requests;  /* TAXII requests answered (any status) */
	atomic_uint_fast64_t pushes;          /* block/unblock actions queued to gateways */
	atomic_uint_fast64_t push_errors;     /* pushes that could not be queued or recorded */
};

/* ---- small helpers ---- */

static enum vig_err db_exec(sqlite3 *h, const char *sql, char *errbuf)
{
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "sharing db: %s", sqlite3_errmsg(h));
	return VIG_OK;
}

static enum vig_err db_prep(sqlite3 *h, const char *sql, sqlite3_stmt **st, char *errbuf)
{
	if (sqlite3_prepare_v2(h, sql, -1, st, NULL) != SQLITE_OK)
		return vig_errf(errbuf, VIG_EIO, "sharing db: %s", sqlite3_errmsg(h));
	return VIG_OK;
}

/* Display name and creation time of a tenant; false when it does not exist. */
static bool tenant_info(struct vig_server *srv, const char *tenant, char *name, size_t cap,
			int64_t *created)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	bool found = false;

	if (sqlite3_prepare_v2(h, "SELECT name, created FROM tenants WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(name, cap, "%s", (const char *)sqlite3_column_text(st, 0));
			*created = sqlite3_column_int64(st, 1);
			found = true;
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	return found;
}

/* The id of a tenant's collection (a UUID, without the "type--" of STIX ids). */
static void collection_id(const char *tenant, char out[VIG_STIX_ID_MAX])
{
	char name[VIG_NAME_MAX + 32], full[VIG_STIX_ID_MAX];

	snprintf(name, sizeof(name), "collection/%s", tenant);
	vig_stix_id("x", name, full);
	snprintf(out, VIG_STIX_ID_MAX, "%s", full + 3);
}

static void reply_dump(struct vig_req *r, int status, const char *ctype, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (!s) {
		vig_reply_err(r, VIG_ENOMEM, "cannot encode reply");
		return;
	}
	vig_reply_text(r, status, ctype, s, strlen(s));
	free(s);
}

/* ---- STIX export ---- */

void vig_api_incident_stix(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", red[8] = "", tname[256] = "";
	struct vig_stix_export_opts o = {0};
	json_t *inc = NULL, *bundle = NULL;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "incident", &id) || vig_req_query(r, "include_red", red, sizeof(red)) < 0)
		return;
	if (red[0] && strcmp(red, "0") != 0 && strcmp(red, "1") != 0) {
		vig_reply_err(r, VIG_EINVAL, "include_red: expected 0 or 1");
		return;
	}
	err = vig_inc_get(r->srv->db, &r->who, id, &inc, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	o.tenant = json_string_value(json_object_get(inc, "tenant"));
	o.include_red = strcmp(red, "1") == 0;
	if (!o.tenant || !tenant_info(r->srv, o.tenant, tname, sizeof(tname), &o.tenant_created_ns)) {
		json_decref(inc);
		vig_reply_err(r, VIG_EINTERNAL, "incident without a tenant");
		return;
	}
	o.tenant_name = tname;
	err = vig_stix_export_incident(inc, &o, &bundle, NULL, errbuf);
	json_decref(inc);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	atomic_fetch_add(&r->srv->sharing->exports, 1);
	reply_dump(r, 200, STIX_MT, bundle);
}

/* ---- sharing ---- */

/* The observable of incident inc with id oid, or NULL. */
static json_t *find_observable(json_t *inc, int64_t oid)
{
	size_t i;
	json_t *o;

	json_array_foreach(json_object_get(inc, "observables"), i, o)
		if (json_integer_value(json_object_get(o, "id")) == oid)
			return o;
	return NULL;
}

/* Checks body.observable_ids against incident inc; replies and returns NULL on error. */
static json_t *share_ids(struct vig_req *r, json_t *body, json_t *inc, bool on)
{
	json_t *ids = json_object_get(body, "observable_ids"), *v;
	char msg[200], pattern[VIG_STIX_PATTERN_MAX];
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > SHARE_IDS_MAX ||
	    json_object_size(body) != 1) {
		vig_reply_err(r, VIG_EINVAL, "expected {\"observable_ids\": [1 to 1000 integers]}");
		return NULL;
	}
	json_array_foreach(ids, i, v) {
		json_t *ob = json_is_integer(v) ? find_observable(inc, json_integer_value(v)) : NULL;
		const char *tlp = json_string_value(json_object_get(ob, "tlp"));

		if (!ob) {
			snprintf(msg, sizeof(msg), "observable_ids[%zu]: not an observable of this incident", i);
			vig_reply_err(r, json_is_integer(v) ? VIG_ENOTFOUND : VIG_EINVAL, msg);
			return NULL;
		}
		if (!on)
			continue;
		if (tlp && strcasecmp(tlp, "red") == 0) {
			snprintf(msg, sizeof(msg), "observable %lld is TLP:RED and cannot be shared",
				 (long long)json_integer_value(v));
			vig_reply_err(r, VIG_EINVAL, msg);
			return NULL;
		}
		if (!vig_stix_pattern(json_string_value(json_object_get(ob, "type")),
				      json_string_value(json_object_get(ob, "value")), pattern, sizeof(pattern))) {
			snprintf(msg, sizeof(msg), "observable %lld has no STIX pattern (type %s)",
				 (long long)json_integer_value(v), json_string_value(json_object_get(ob, "type")));
			vig_reply_err(r, VIG_EINVAL, msg);
			return NULL;
		}
	}
	return ids;
}

/* The ids of the shared observables of incident id (a new array). */
static json_t *shared_of(sqlite3 *h, int64_t id)
{
	sqlite3_stmt *st = NULL;
	json_t *a = json_array();

	if (sqlite3_prepare_v2(h,
			       "SELECT s.observable_id FROM shared_indicators s JOIN incident_observables o"
			       " ON o.id = s.observable_id WHERE o.incident_id = ?1 ORDER BY s.observable_id",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(a, json_integer(sqlite3_column_int64(st, 0)));
	}
	sqlite3_finalize(st);
	return a;
}

/* Adds (on) or removes the rows of ids in one transaction with its audit row. */
static enum vig_err share_apply(struct vig_server *srv, const struct vig_principal *who, const char *tenant,
				int64_t inc_id, json_t *ids, bool on, json_t **shared, char *errbuf)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	json_t *changed = json_array(), *after = NULL, *v;
	int64_t now = vig_time_now();
	enum vig_err err = db_exec(h, "BEGIN IMMEDIATE", errbuf);
	char idbuf[24], *a = NULL;
	size_t i;

	if (err == VIG_OK)
		err = db_prep(h,
				     on ? "INSERT OR IGNORE INTO shared_indicators (observable_id, tenant_id, shared_by,"
					  " date_added) VALUES (?1, ?2, ?3, ?4)"
					: "DELETE FROM shared_indicators WHERE observable_id = ?1 AND tenant_id = ?2",
				     &st, errbuf);
	json_array_foreach(ids, i, v) {
		if (err != VIG_OK)
			break;
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, json_integer_value(v));
		sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
		if (on) {
			sqlite3_bind_text(st, 3, who->username, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 4, now + (int64_t)i); /* distinct, in request order */
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			err = vig_errf(errbuf, VIG_EIO, "sharing db: %s", sqlite3_errmsg(h));
		else if (sqlite3_changes(h) > 0)
			json_array_append(changed, v);
	}
	sqlite3_finalize(st);
	if (err == VIG_OK && json_array_size(changed) > 0) {
		after = json_pack("{s:O,s:b}", "observable_ids", changed, "shared", on);
		a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)inc_id);
		err = vig_audit_append_locked(h, who, tenant, on ? "incident.share" : "incident.unshare", "incident",
					      idbuf, NULL, a, NULL, now, NULL, errbuf);
	}
	if (err == VIG_OK)
		err = db_exec(h, "COMMIT", errbuf);
	if (err != VIG_OK)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	else
		*shared = shared_of(h, inc_id);
	vig_db_unlock(srv->db);
	free(a);
	json_decref(after);
	json_decref(changed);
	return err;
}

static void share(struct vig_req *r, bool on)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = NULL, *inc = NULL, *ids, *shared = NULL;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "incident", &id) || !(body = vig_req_json_body(r)))
		return;
	err = vig_inc_get(r->srv->db, &r->who, id, &inc, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		goto out;
	}
	ids = share_ids(r, body, inc, on);
	if (!ids)
		goto out;
	err = share_apply(r->srv, &r->who, json_string_value(json_object_get(inc, "tenant")), id, ids, on, &shared,
			  errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "incident_id", (json_int_t)id, "shared", shared));
out:
	json_decref(inc);
	json_decref(body);
}

void vig_api_incident_share(struct vig_req *r)
{
	share(r, true);
}

void vig_api_incident_unshare(struct vig_req *r)
{
	share(r, false);
}

/* ---- TAXII 2.1 ---- */

static void taxii_error(struct vig_req *r, int status, const char *title)
{
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	if (status == 401)
		vig_req_header(r, "WWW-Authenticate", "Basic realm=\"vigil-taxii\", Bearer realm=\"vigil-taxii\"");
	reply_dump(r, status, TAXII_MT, json_pack("{s:s,s:s}", "title", title, "http_status", code));
}

/* Does an Accept header allow a TAXII 2.1 reply? A missing header does. */
static bool accept_ok(const char *accept)
{
	const char *p = accept;

	if (!accept || !*accept)
		return true;
	while (*p) {
		size_t len = strcspn(p, ",");
		char range[256], *semi, *q;
		bool v21 = true;

		snprintf(range, sizeof(range), "%.*s", (int)(len < sizeof(range) ? len : sizeof(range) - 1), p);
		semi = strchr(range, ';');
		if (semi) {
			*semi++ = '\0';
			for (q = semi; *q; q++)
				if (*q == ' ')
					memmove(q, q + 1, strlen(q));
			if (strstr(semi, "version=") && !strstr(semi, "version=2.1"))
				v21 = false;
		}
		for (q = range; *q == ' '; q++)
			;
		q[strcspn(q, " ")] = '\0';
		if (strcmp(q, "*/*") == 0 || strcasecmp(q, "application/*") == 0 ||
		    (strcasecmp(q, "application/taxii+json") == 0 && v21))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The API token of an Authorization header (Bearer, or Basic with the token as password)
 * into out; false when there is none. */
static bool auth_token(const char *authz, char *out, size_t cap)
{
	unsigned char dec[1024];
	const char *b64, *colon;
	size_t n;
	int len;

	if (!authz)
		return false;
	if (strncasecmp(authz, "Bearer ", 7) == 0) {
		snprintf(out, cap, "%s", authz + 7);
		return out[0] != '\0';
	}
	if (strncasecmp(authz, "Basic ", 6) != 0)
		return false;
	b64 = authz + 6;
	n = strlen(b64);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 >= sizeof(dec))
		return false;
	len = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)n);
	if (len < 0)
		return false;
	while (n > 0 && b64[n - 1] == '=') { /* EVP_DecodeBlock counts the padding as bytes */
		n--;
		len--;
	}
	dec[len] = '\0';
	if (memchr(dec, '\0', (size_t)len) || !(colon = strchr((char *)dec, ':')))
		return false;
	snprintf(out, cap, "%s", colon + 1);
	return out[0] != '\0';
}

/* The parts of a /taxii2/ path. */
struct taxii_path {
	char tenant[VIG_NAME_MAX];     /* "" at discovery */
	char collection[VIG_HTTP_PARAM_MAX];
	char object[VIG_HTTP_PARAM_MAX];
	char tenant_name[256];
	bool bad;                      /* a segment too long to be a tenant id */
};

/* Splits r->path ("/taxii2/T/collections/C/objects/O/versions/") into p. */
static void split_path(const char *path, struct taxii_path *p)
{
	char segs[6][VIG_HTTP_PARAM_MAX];
	const char *s = path + strlen("/taxii2/");
	size_t n = 0;

	memset(segs, 0, sizeof(segs));
	while (*s && n < 6) {
		size_t len = strcspn(s, "/");

		snprintf(segs[n++], VIG_HTTP_PARAM_MAX, "%.*s", (int)(len < VIG_HTTP_PARAM_MAX ? len : 0), s);
		s += len;
		if (*s == '/')
			s++;
	}
	p->bad = strlen(segs[0]) >= sizeof(p->tenant);
	snprintf(p->tenant, sizeof(p->tenant), "%.*s", (int)sizeof(p->tenant) - 1, segs[0]);
	snprintf(p->collection, sizeof(p->collection), "%s", segs[2]);
	snprintf(p->object, sizeof(p->object), "%s", segs[4]);
}

/* Authenticates, checks Accept and resolves tenant and collection of the path; on failure
 * replies and returns false. */
static bool taxii_begin(struct vig_req *r, struct taxii_path *p)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(r->req);
	char token[512], coll[VIG_STIX_ID_MAX];
	int64_t created;

	atomic_fetch_add(&r->srv->sharing->taxii_requests, 1);
	memset(p, 0, sizeof(*p));
	if (!auth_token(evhttp_find_header(h, "Authorization"), token, sizeof(token)) ||
	    vig_auth_token(r->srv->db, token, vig_time_now(), &r->who) != VIG_OK) {
		taxii_error(r, 401, "authentication required: an API token as Bearer or as the Basic password");
		return false;
	}
	r->authed = true;
	if (!vig_principal_can(&r->who, VIG_PERM_INCIDENTS_READ)) {
		taxii_error(r, 403, "permission denied");
		return false;
	}
	if (!accept_ok(evhttp_find_header(h, "Accept"))) {
		taxii_error(r, 406, "not acceptable: this server answers " TAXII_MT);
		return false;
	}
	split_path(r->path, p);
	if (!p->tenant[0])
		return true;
	if (p->bad || !vig_principal_can_access_tenant(&r->who, p->tenant) ||
	    !tenant_info(r->srv, p->tenant, p->tenant_name, sizeof(p->tenant_name), &created)) {
		taxii_error(r, 404, "no such API root");
		return false;
	}
	collection_id(p->tenant, coll);
	if (p->collection[0] && strcmp(p->collection, coll) != 0 && strcmp(p->collection, COLLECTION_ALIAS) != 0) {
		taxii_error(r, 404, "no such collection");
		return false;
	}
	return true;
}

/* "https://HOST/taxii2/TENANT/" for the Host of the request. */
static json_t *root_url(struct vig_req *r, const char *tenant)
{
	const char *host = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Host");
	char url[512];

	snprintf(url, sizeof(url), "https://%s/taxii2/%s/", host ? host : "localhost", tenant);
	return json_string(url);
}

void vig_api_taxii_discovery(struct vig_req *r)
{
	struct taxii_path p;
	json_t *roots;

	if (!taxii_begin(r, &p))
		return;
	roots = json_array();
	json_array_append_new(roots, root_url(r, r->who.tenant));
	reply_dump(r, 200, TAXII_MT,
		   json_pack("{s:s,s:s,s:O,s:o}", "title", "Vigil TAXII 2.1", "description",
			     "Indicators the tenants of this Vigil server chose to share (read-only).", "default",
			     json_array_get(roots, 0), "api_roots", roots));
}

void vig_api_taxii_root(struct vig_req *r)
{
	struct taxii_path p;
	char title[300];

	if (!taxii_begin(r, &p))
		return;
	snprintf(title, sizeof(title), "%s", p.tenant_name);
	reply_dump(r, 200, TAXII_MT,
		   json_pack("{s:s,s:s,s:[s],s:i}", "title", title, "description",
			     "Shared indicators of one Vigil tenant.", "versions", TAXII_MT, "max_content_length",
			     (int)VIG_JSON_BODY_MAX));
}

static json_t *collection_json(const struct taxii_path *p)
{
	char id[VIG_STIX_ID_MAX], title[320];

	collection_id(p->tenant, id);
	snprintf(title, sizeof(title), "%s: shared indicators", p->tenant_name);
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:[s]}", "id", id, "title", title, "alias", COLLECTION_ALIAS,
			 "description", "Indicators of incidents that the tenant chose to share.", "can_read", 1,
			 "can_write", 0, "media_types", STIX_MT);
}

void vig_api_taxii_collections(struct vig_req *r)
{
	struct taxii_path p;

	if (!taxii_begin(r, &p))
		return;
	reply_dump(r, 200, TAXII_MT, json_pack("{s:[o]}", "collections", collection_json(&p)));
}

void vig_api_taxii_collection(struct vig_req *r)
{
	struct taxii_path p;

	if (!taxii_begin(r, &p))
		return;
	reply_dump(r, 200, TAXII_MT, collection_json(&p));
}

/* The filters of an objects/manifest/versions request. */
struct taxii_query {
	bool has_after;          /* added_after given */
	int64_t after;           /* ns */
	bool has_cursor;         /* next given */
	int64_t cur_added, cur_obs; /* resume after (date_added, observable_id) */
	char ids[TAXII_MATCH_MAX];      /* match[id]: comma-separated, "" = any */
	char types[TAXII_MATCH_MAX];    /* match[type] */
	char versions[TAXII_MATCH_MAX]; /* match[version]; "" = last */
	char spec[64];                  /* match[spec_version] */
	int64_t limit;
};

/* A query parameter named name, also when the client percent-encoded its brackets. */
static int taxii_param(struct vig_req *r, const char *name, char *out, size_t cap)
{
	char enc[64];
	const char *b = strchr(name, '[');
	int rc = vig_req_query(r, name, out, cap);

	if (rc != 0 || !b)
		return rc;
	snprintf(enc, sizeof(enc), "%.*s%%5B%.*s%%5D", (int)(b - name), name, (int)(strlen(b) - 2), b + 1);
	rc = vig_req_query(r, enc, out, cap);
	if (rc != 0)
		return rc;
	snprintf(enc, sizeof(enc), "%.*s%%5b%.*s%%5d", (int)(b - name), name, (int)(strlen(b) - 2), b + 1);
	return vig_req_query(r, enc, out, cap);
}

/* Is word one of the comma-separated items of list ("" = every word is)? */
static bool in_list(const char *list, const char *word)
{
	size_t wl = strlen(word);

	if (!*list)
		return true;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == wl && strncmp(p, word, wl) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Does match[version] select the single version (modified) of an object? */
static bool version_ok(const char *list, const char *modified)
{
	int64_t want, have;

	if (!*list)
		return true;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if ((len == 3 && !strncmp(p, "all", 3)) || (len == 4 && !strncmp(p, "last", 4)) ||
		    (len == 5 && !strncmp(p, "first", 5)))
			return true; /* every object has one version, which is its first and its last */
		if (vig_time_parse(p, len, &want) && vig_time_parse(modified, strlen(modified), &have) &&
		    want / 1000000 == have / 1000000)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* Reads the filters; replies 400 and returns false when one is malformed. */
static bool taxii_query_parse(struct vig_req *r, struct taxii_query *q, bool paged)
{
	char v[96], *dash;
	int rc;

	memset(q, 0, sizeof(q[0]));
	if (taxii_param(r, "match[id]", q->ids, sizeof(q->ids)) < 0 ||
	    taxii_param(r, "match[type]", q->types, sizeof(q->types)) < 0 ||
	    taxii_param(r, "match[version]", q->versions, sizeof(q->versions)) < 0 ||
	    taxii_param(r, "match[spec_version]", q->spec, sizeof(q->spec)) < 0)
		return false;
	q->limit = paged ? TAXII_PAGE_DEFAULT : TAXII_PAGE_MAX;
	rc = vig_req_query(r, "limit", v, sizeof(v));
	if (rc < 0)
		return false;
	if (rc > 0 && (!vig_parse_i64(v, strlen(v), &q->limit) || q->limit < 1 || q->limit > TAXII_PAGE_MAX)) {
		taxii_error(r, 400, "limit: expected an integer in [1, 1000]");
		return false;
	}
	rc = vig_req_query(r, "added_after", v, sizeof(v));
	if (rc < 0)
		return false;
	if (rc > 0 && !(q->has_after = vig_time_parse(v, strlen(v), &q->after))) {
		taxii_error(r, 400, "added_after: expected an RFC 3339 timestamp");
		return false;
	}
	rc = vig_req_query(r, "next", v, sizeof(v));
	if (rc < 0)
		return false;
	if (rc > 0) {
		dash = strchr(v, '-');
		if (!dash || !vig_parse_i64(v, (size_t)(dash - v), &q->cur_added) ||
		    !vig_parse_i64(dash + 1, strlen(dash + 1), &q->cur_obs)) {
			taxii_error(r, 400, "next: not a value this server returned");
			return false;
		}
		q->has_cursor = true;
	}
	return true;
}

/* One shared indicator found by a scan. */
struct taxii_hit {
	json_t *obj;        /* the indicator */
	int64_t added;      /* date_added, ns */
	int64_t obs_id;
};

/* Collects up to q->limit objects of the tenant's collection that pass the filters, in
 * (date_added, observable id) order, into hits (caller frees each obj); *more tells whether
 * another passed. */
static enum vig_err taxii_scan(struct vig_server *srv, const char *tenant, const struct taxii_query *q,
			       struct taxii_hit *hits, size_t *n, bool *more, char *errbuf)
{
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err;

	*n = 0;
	*more = false;
	if (!in_list(q->types, "indicator") || !in_list(q->spec, "2.1"))
		return VIG_OK;
	h = vig_db_lock(srv->db);
	err = db_prep(h,
			     "SELECT s.observable_id, s.date_added, o.type, o.value, o.tlp, o.created"
			     " FROM shared_indicators s JOIN incident_observables o ON o.id = s.observable_id"
			     " WHERE s.tenant_id = ?1 AND (?2 = 0 OR s.date_added > ?3)"
			     " AND (?4 = 0 OR s.date_added > ?5 OR (s.date_added = ?5 AND s.observable_id > ?6))"
			     " ORDER BY s.date_added, s.observable_id",
			     &st, errbuf);
	if (err == VIG_OK) {
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 2, q->has_after);
		sqlite3_bind_int64(st, 3, q->after);
		sqlite3_bind_int(st, 4, q->has_cursor);
		sqlite3_bind_int64(st, 5, q->cur_added);
		sqlite3_bind_int64(st, 6, q->cur_obs);
	}
	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct vig_stix_obs o = {.id = sqlite3_column_int64(st, 0),
					 .type = (const char *)sqlite3_column_text(st, 2),
					 .value = (const char *)sqlite3_column_text(st, 3),
					 .tlp = (const char *)sqlite3_column_text(st, 4),
					 .created_ns = sqlite3_column_int64(st, 5)};
		json_t *ind = vig_stix_indicator(tenant, &o);

		if (!ind || !in_list(q->ids, json_string_value(json_object_get(ind, "id"))) ||
		    !version_ok(q->versions, json_string_value(json_object_get(ind, "modified")))) {
			json_decref(ind);
			continue;
		}
		if (*n == (size_t)q->limit) {
			json_decref(ind);
			*more = true;
			break;
		}
		hits[*n] = (struct taxii_hit){ind, sqlite3_column_int64(st, 1), o.id};
		(*n)++;
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	return err;
}

/* Sets the X-TAXII-Date-Added-First/Last headers of a non-empty page. */
static void date_headers(struct vig_req *r, const struct taxii_hit *hits, size_t n)
{
	char t[VIG_TIME_STRLEN];

	if (n == 0)
		return;
	vig_time_format(hits[0].added, t);
	vig_req_header(r, "X-TAXII-Date-Added-First", t);
	vig_time_format(hits[n - 1].added, t);
	vig_req_header(r, "X-TAXII-Date-Added-Last", t);
}

enum taxii_kind { TAXII_OBJECTS, TAXII_MANIFEST, TAXII_OBJECT, TAXII_VERSIONS };

/* The objects, manifest, object and versions endpoints share one scan. */
static void taxii_list(struct vig_req *r, enum taxii_kind kind)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", t[VIG_TIME_STRLEN], next[64];
	struct taxii_path p;
	struct taxii_query q;
	struct taxii_hit *hits;
	json_t *items, *env;
	size_t n = 0;
	bool more = false;
	enum vig_err err;

	if (!taxii_begin(r, &p) || !taxii_query_parse(r, &q, kind == TAXII_OBJECTS || kind == TAXII_MANIFEST))
		return;
	if (kind == TAXII_OBJECT || kind == TAXII_VERSIONS) {
		if (!p.object[0]) {
			taxii_error(r, 404, "no such object");
			return;
		}
		snprintf(q.ids, sizeof(q.ids), "%s", p.object);
		if (kind == TAXII_VERSIONS)
			q.versions[0] = '\0';
	}
	hits = calloc((size_t)q.limit, sizeof(*hits));
	if (!hits) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	err = taxii_scan(r->srv, p.tenant, &q, hits, &n, &more, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		goto out;
	}
	if ((kind == TAXII_OBJECT || kind == TAXII_VERSIONS) && n == 0) {
		taxii_error(r, 404, "no such object");
		goto out;
	}
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		const char *mod = json_string_value(json_object_get(hits[i].obj, "modified"));

		vig_time_format(hits[i].added, t);
		if (kind == TAXII_MANIFEST)
			json_array_append_new(items, json_pack("{s:O,s:s,s:s,s:s}", "id",
							       json_object_get(hits[i].obj, "id"), "date_added", t,
							       "version", mod, "media_type", STIX_MT));
		else if (kind == TAXII_VERSIONS)
			json_array_append_new(items, json_string(mod));
		else
			json_array_append(items, hits[i].obj);
	}
	env = json_pack("{s:b}", "more", more);
	if (more) {
		snprintf(next, sizeof(next), "%lld-%lld", (long long)hits[n - 1].added, (long long)hits[n - 1].obs_id);
		json_object_set_new(env, "next", json_string(next));
	}
	if (n > 0)
		json_object_set_new(env, kind == TAXII_VERSIONS ? "versions" : "objects", items);
	else
		json_decref(items);
	date_headers(r, hits, n);
	reply_dump(r, 200, TAXII_MT, env);
out:
	for (size_t i = 0; i < n; i++)
		json_decref(hits[i].obj);
	free(hits);
}

void vig_api_taxii_objects(struct vig_req *r)
{
	taxii_list(r, TAXII_OBJECTS);
}

void vig_api_taxii_manifest(struct vig_req *r)
{
	taxii_list(r, TAXII_MANIFEST);
}

void vig_api_taxii_object(struct vig_req *r)
{
	taxii_list(r, TAXII_OBJECT);
}

void vig_api_taxii_versions(struct vig_req *r)
{
	taxii_list(r, TAXII_VERSIONS);
}

/* ---- gateways and the blocklist fan-out ---- */

/* One action the reconciliation queues. */
struct push {
	int64_t entry;                    /* blocklist.id */
	char agent[VIG_AGENT_ID_STRLEN];
	char tenant[VIG_NAME_MAX];
	char address[64];
	int64_t expires;                  /* ns, 0 = never */
	bool block;                       /* block, else unblock */
	bool revoked;                     /* unblock of a revoked agent: record only */
};

/* Entries to unblock (pushed as blocked but no longer wanted, or whose unblock expired
 * unseen), then entries to block (wanted but never pushed, unblocked since, or whose block
 * expired unseen). */
static const char SQL_UNBLOCK[] =
	"SELECT p.blocklist_id, p.agent_id, p.tenant_id, p.address, a.status = 'revoked'"
	" FROM blocklist_pushes p JOIN blocklist b ON b.id = p.blocklist_id JOIN agents a ON a.id = p.agent_id"
	" WHERE (p.state = 'blocked' AND (b.removed IS NOT NULL OR (b.expires != 0 AND b.expires <= ?1)"
	"        OR a.gateway = 0 OR a.status = 'revoked'))"
	"  OR (p.state = 'unblocked' AND p.action_id != 0 AND a.status != 'revoked'"
	"      AND NOT (b.removed IS NULL AND (b.expires = 0 OR b.expires > ?1) AND a.gateway = 1)"
	"      AND EXISTS (SELECT 1 FROM agent_actions x WHERE x.id = p.action_id"
	"                  AND x.status IN ('expired', 'cancelled')))"
	" ORDER BY p.blocklist_id LIMIT ?2";
static const char SQL_BLOCK[] =
	"SELECT b.id, a.id, b.tenant_id, b.address, b.expires FROM blocklist b"
	" JOIN agents a ON a.tenant_id = b.tenant_id AND a.gateway = 1 AND a.status != 'revoked'"
	" LEFT JOIN blocklist_pushes p ON p.blocklist_id = b.id AND p.agent_id = a.id"
	" WHERE b.removed IS NULL AND (b.expires = 0 OR b.expires > ?1)"
	"  AND (p.blocklist_id IS NULL OR p.state = 'unblocked'"
	"       OR EXISTS (SELECT 1 FROM agent_actions x WHERE x.id = p.action_id"
	"                  AND x.status IN ('expired', 'cancelled')))"
	" ORDER BY b.id LIMIT ?2";

/* Reads the differences into pushes (at most cap); *n gets how many. */
static enum vig_err plan(struct vig_server *srv, int64_t now, struct push *pushes, size_t cap, size_t *n,
			 char *errbuf)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;

	*n = 0;
	for (int pass = 0; pass < 2 && err == VIG_OK; pass++) {
		err = db_prep(h, pass == 0 ? SQL_UNBLOCK : SQL_BLOCK, &st, errbuf);
		if (err != VIG_OK)
			break;
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int64(st, 2, (int64_t)(cap - *n));
		while (*n < cap && sqlite3_step(st) == SQLITE_ROW) {
			struct push *p = &pushes[(*n)++];

			memset(p, 0, sizeof(*p));
			p->entry = sqlite3_column_int64(st, 0);
			snprintf(p->agent, sizeof(p->agent), "%s", (const char *)sqlite3_column_text(st, 1));
			snprintf(p->tenant, sizeof(p->tenant), "%s", (const char *)sqlite3_column_text(st, 2));
			snprintf(p->address, sizeof(p->address), "%s", (const char *)sqlite3_column_text(st, 3));
			p->block = pass == 1;
			if (p->block)
				p->expires = sqlite3_column_int64(st, 4);
			else
				p->revoked = sqlite3_column_int(st, 4) != 0;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	vig_db_unlock(srv->db);
	return err;
}

/* Records what was pushed (and its audit row) in one transaction. */
static enum vig_err record_push(struct vig_server *srv, const struct push *p, int64_t action_id, int64_t now,
				char *errbuf)
{
	struct vig_principal sys;
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	char idbuf[24], *after;
	enum vig_err err = db_exec(h, "BEGIN IMMEDIATE", errbuf);

	vig_principal_system(&sys);
	if (err == VIG_OK)
		err = db_prep(h,
				     "INSERT OR REPLACE INTO blocklist_pushes (blocklist_id, agent_id, tenant_id, address,"
				     " state, action_id, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				     &st, errbuf);
	if (err == VIG_OK) {
		sqlite3_bind_int64(st, 1, p->entry);
		sqlite3_bind_text(st, 2, p->agent, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, p->tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, p->address, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, p->block ? "blocked" : "unblocked", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, action_id);
		sqlite3_bind_int64(st, 7, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = vig_errf(errbuf, VIG_EIO, "blocklist_pushes: %s", sqlite3_errmsg(h));
	}
	sqlite3_finalize(st);
	if (err == VIG_OK) {
		json_t *a = json_pack("{s:s,s:s,s:s,s:I}", "agent_id", p->agent, "address", p->address, "action",
				      p->block ? "block" : "unblock", "action_id", (json_int_t)action_id);

		after = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(a);
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)p->entry);
		err = vig_audit_append_locked(h, &sys, p->tenant, "blocklist.push", "blocklist", idbuf, NULL, after,
					      p->revoked ? "gateway revoked" : NULL, now, NULL, errbuf);
		free(after);
	}
	if (err == VIG_OK)
		err = db_exec(h, "COMMIT", errbuf);
	if (err != VIG_OK)
		sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	vig_db_unlock(srv->db);
	return err;
}

/* Queues one push; the action's id goes to *action_id (0 for a revoked agent). */
static enum vig_err queue_push(struct vig_server *srv, const struct push *p, int64_t now, int64_t *action_id,
			       char *errbuf)
{
	struct vig_principal sys;
	char reason[96];
	json_t *params, *a = NULL;
	enum vig_err err;

	*action_id = 0;
	if (p->revoked)
		return VIG_OK;
	vig_principal_system(&sys);
	params = json_pack("{s:s}", "address", p->address);
	if (p->block && p->expires)
		json_object_set_new(params, "expires_s",
				    json_integer((p->expires - now + VIG_NS_PER_SEC - 1) / VIG_NS_PER_SEC));
	snprintf(reason, sizeof(reason), "blocklist entry %lld (gateway fan-out)", (long long)p->entry);
	err = vig_fleet_action_create(srv->fleet, &sys, p->agent, p->block ? "block" : "unblock", params, reason, now,
				      &a, errbuf);
	if (err == VIG_OK)
		*action_id = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	json_decref(params);
	return err;
}

void vig_sharing_reconcile(struct vig_server *srv)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct push *pushes;
	int64_t now = vig_time_now(), action_id;
	size_t n = 0;
	enum vig_err err;

	if (!srv->fleet || !srv->sharing)
		return;
	pushes = calloc(RECONCILE_MAX, sizeof(*pushes));
	if (!pushes) {
		atomic_fetch_add(&srv->sharing->push_errors, 1);
		return;
	}
	err = plan(srv, now, pushes, RECONCILE_MAX, &n, errbuf);
	if (err != VIG_OK) {
		atomic_fetch_add(&srv->sharing->push_errors, 1);
		vig_error("sharing", "blocklist reconciliation failed", "err=\"%s\"", errbuf);
	}
	for (size_t i = 0; i < n; i++) {
		err = queue_push(srv, &pushes[i], now, &action_id, errbuf);
		if (err == VIG_OK)
			err = record_push(srv, &pushes[i], action_id, now, errbuf);
		if (err != VIG_OK) {
			atomic_fetch_add(&srv->sharing->push_errors, 1);
			vig_warn("sharing", "blocklist push failed", "entry=%lld agent=%s action=%s err=\"%s\"",
				 (long long)pushes[i].entry, pushes[i].agent, pushes[i].block ? "block" : "unblock",
				 errbuf);
			continue;
		}
		if (action_id) {
			atomic_fetch_add(&srv->sharing->pushes, 1);
			vig_agents_wake(srv, pushes[i].agent);
		}
	}
	free(pushes);
}

static void on_reconcile_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	vig_sharing_reconcile(arg);
}

void vig_api_agent_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	json_t *body = vig_req_json_body(r), *g;
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	bool found = false, revoked = false, before = false;

	if (!body)
		return;
	g = json_object_get(body, "gateway");
	if (!json_is_boolean(g) || json_object_size(body) != 1) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "expected {\"gateway\": true|false}");
		return;
	}
	h = vig_db_lock(r->srv->db);
	if (sqlite3_prepare_v2(h, "SELECT tenant_id, status = 'revoked', gateway FROM agents WHERE id = ?1", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, r->param, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    vig_principal_can_access_tenant(&r->who, (const char *)sqlite3_column_text(st, 0))) {
			found = true;
			snprintf(tenant, sizeof(tenant), "%s", (const char *)sqlite3_column_text(st, 0));
			revoked = sqlite3_column_int(st, 1) != 0;
			before = sqlite3_column_int(st, 2) != 0;
		}
	}
	sqlite3_finalize(st);
	if (found && !revoked)
		err = db_exec(h, "BEGIN IMMEDIATE", errbuf);
	if (found && !revoked && err == VIG_OK) {
		if (sqlite3_prepare_v2(h, "UPDATE agents SET gateway = ?2 WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
			err = vig_errf(errbuf, VIG_EIO, "agents: %s", sqlite3_errmsg(h));
		else {
			sqlite3_bind_text(st, 1, r->param, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(st, 2, json_is_true(g));
			if (sqlite3_step(st) != SQLITE_DONE)
				err = vig_errf(errbuf, VIG_EIO, "agents: %s", sqlite3_errmsg(h));
		}
		sqlite3_finalize(st);
		if (err == VIG_OK)
			err = vig_audit_append_locked(h, &r->who, tenant, "agent.update", "agent", r->param,
						      before ? "{\"gateway\":true}" : "{\"gateway\":false}",
						      json_is_true(g) ? "{\"gateway\":true}" : "{\"gateway\":false}", NULL,
						      vig_time_now(), NULL, errbuf);
		if (err == VIG_OK)
			err = db_exec(h, "COMMIT", errbuf);
		if (err != VIG_OK)
			sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
	}
	vig_db_unlock(r->srv->db);
	json_decref(body);
	if (!found)
		vig_reply_err(r, VIG_ENOTFOUND, "no such agent");
	else if (revoked)
		vig_reply_err(r, VIG_ECONFLICT, "agent revoked");
	else if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else {
		json_t *a = NULL;

		vig_sharing_reconcile(r->srv); /* a new gateway gets the current list now */
		err = vig_fleet_agent_get(r->srv->fleet, &r->who, r->param, vig_time_now(), &a, errbuf);
		if (err != VIG_OK)
			vig_reply_err(r, err, errbuf);
		else
			vig_reply_jansson(r, 200, a);
	}
}

/* ---- life cycle and metrics ---- */

enum vig_err vig_sharing_start(struct vig_server *srv, char *errbuf)
{
	srv->sharing = calloc(1, sizeof(*srv->sharing));
	if (!srv->sharing)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return vig_timer_start(srv, &srv->sharing->timer, srv->cfg.sharing_reconcile_interval_s,
			       on_reconcile_timer, srv, "blocklist reconciliation timer", errbuf);
}

void vig_sharing_stop(struct vig_server *srv)
{
	if (!srv->sharing)
		return;
	vig_timer_stop(&srv->sharing->timer);
	free(srv->sharing);
	srv->sharing = NULL;
}

void vig_sharing_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_sharing *s = srv->sharing;

	if (!s)
		return;
	vig_buf_printf(b,
		       "# HELP vigil_stix_exports_total STIX bundles exported (GET /api/v1/incidents/{id}/stix).\n"
		       "# TYPE vigil_stix_exports_total counter\n"
		       "vigil_stix_exports_total %llu\n"
		       "# HELP vigil_taxii_requests_total Requests to the TAXII 2.1 server, any status.\n"
		       "# TYPE vigil_taxii_requests_total counter\n"
		       "vigil_taxii_requests_total %llu\n"
		       "# HELP vigil_blocklist_pushes_total Block and unblock actions queued to gateway agents.\n"
		       "# TYPE vigil_blocklist_pushes_total counter\n"
		       "vigil_blocklist_pushes_total %llu\n"
		       "# HELP vigil_blocklist_push_errors_total Blocklist pushes that could not be queued or recorded.\n"
		       "# TYPE vigil_blocklist_push_errors_total counter\n"
		       "vigil_blocklist_push_errors_total %llu\n",
		       (unsigned long long)atomic_load(&s->exports), (unsigned long long)atomic_load(&s->taxii_requests),
		       (unsigned long long)atomic_load(&s->pushes), (unsigned long long)atomic_load(&s->push_errors));
}
