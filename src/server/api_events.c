/*
 * api_events.c - the read side of the API: event search and aggregations over the event
 * store and the field registry. Alerts and rules are served by api_alerts.c, incidents by
 * api_incidents.c.
 *
 * Tenancy: every handler builds its struct vig_scope (or SQL tenant filter) from
 * vig_principal_scope() (through vig_req_tenant()): a provider principal sees every tenant or
 * the one named by ?tenant=; anyone else sees only their own tenant, and naming another one
 * is 403.
 * Time range: from/to are RFC 3339 or epoch seconds; the default is the last 24 hours
 * (to = now + 1 min, tolerating small clock skew of senders).
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/vtime.h"
#include "event/event_json.h"

#define Q_MAX 4096
#define RULE_YAML_MAX (256 * 1024)

/* What every search-like endpoint reads from the query string. */
struct search_args {
	char q[Q_MAX + 1];
	int64_t from, to;
	const char *tenant;  /* scope tenant, NULL = all (provider) */
	char tenant_buf[VIG_NAME_MAX]; /* what tenant points to */
	struct vig_scope scope;
};

/* Replies to a failed store read: query errors (including syntax the store does not support)
 * are the client's, 400. */
static void reply_store_err(struct vig_req *r, enum vig_err err, const char *errbuf)
{
	if (err == VIG_EUNSUPPORTED || err == VIG_EPARSE)
		err = VIG_EINVAL;
	vig_reply_err(r, err, errbuf[0] ? errbuf : vig_strerror(err));
}

/* Parses tenant into a scope; replies and returns false on error. */
static bool scope_of(struct vig_req *r, struct search_args *a)
{
	bool all;

	if (!vig_req_tenant(r, a->tenant_buf, &all))
		return false;
	a->tenant = all ? NULL : a->tenant_buf;
	a->scope.all = a->tenant == NULL;
	a->scope.tenants = a->tenant ? &a->tenant : NULL;
	a->scope.n_tenants = a->tenant ? 1 : 0;
	return true;
}

static bool time_param(struct vig_req *r, const char *name, int64_t *ns)
{
	char v[64], msg[128];
	int rc = vig_req_query(r, name, v, sizeof(v));

	if (rc < 0)
		return false;
	if (rc == 0 || v[0] == '\0')
		return true;
	if (!vig_http_parse_time(v, ns)) {
		snprintf(msg, sizeof(msg), "%s: expected RFC 3339 or epoch seconds", name);
		vig_reply_err(r, VIG_EINVAL, msg);
		return false;
	}
	return true;
}

static bool search_args(struct vig_req *r, struct search_args *a)
{
	int64_t now = vig_time_now();

	memset(a, 0, sizeof(*a));
	a->from = now - 86400 * VIG_NS_PER_SEC;
	a->to = now + 60 * VIG_NS_PER_SEC;
	if (vig_req_query(r, "q", a->q, sizeof(a->q)) < 0)
		return false;
	if (!time_param(r, "from", &a->from) || !time_param(r, "to", &a->to))
		return false;
	if (a->to <= a->from) {
		vig_reply_err(r, VIG_EINVAL, "to must be after from");
		return false;
	}
	return scope_of(r, a);
}

struct search_ctx {
	struct vig_buf *out;
	size_t n;
};

static bool on_event(void *arg, const struct vig_event *ev)
{
	struct search_ctx *c = arg;

	if (c->n++)
		vig_buf_addc(c->out, ',');
	vig_event_to_json(ev, c->out);
	return vig_buf_err(c->out) == VIG_OK;
}

void vig_api_events_search(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", order[8] = "desc";
	struct search_ctx c = {0};
	struct search_args a;
	struct vig_buf out;
	enum vig_err err;
	int64_t limit;
	size_t found = 0;

	if (!search_args(r, &a) || !vig_req_int(r, "limit", 100, 1, VIG_EVSTORE_MAX_LIMIT, &limit) ||
	    vig_req_query(r, "order", order, sizeof(order)) < 0)
		return;
	if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
		vig_reply_err(r, VIG_EINVAL, "order: expected asc or desc");
		return;
	}
	vig_buf_init(&out, VIG_REPLY_MAX_BYTES);
	vig_buf_adds(&out, "{\"events\":[");
	c.out = &out;
	err = vig_evstore_search(r->srv->store, &a.scope, a.q, a.from, a.to, (size_t)limit,
				 strcmp(order, "asc") == 0, on_event, &c, &found, errbuf);
	if (err != VIG_OK) {
		vig_buf_release(&out);
		reply_store_err(r, err, errbuf);
		return;
	}
	vig_buf_printf(&out, "],\"count\":%zu}", c.n);
	vig_reply_json(r, 200, &out);
	vig_buf_release(&out);
}

void vig_api_events_count(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct search_args a;
	uint64_t count = 0;
	enum vig_err err;

	if (!search_args(r, &a))
		return;
	err = vig_evstore_count(r->srv->store, &a.scope, a.q, a.from, a.to, &count, errbuf);
	if (err != VIG_OK) {
		reply_store_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:I}", "count", (json_int_t)count));
}

void vig_api_events_top(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", field[VIG_EVENT_MAX_KEY + 1];
	struct vig_evstore_top top = {0};
	struct search_args a;
	enum vig_err err;
	int64_t size;
	json_t *buckets;
	int rc;

	if (!search_args(r, &a) || !vig_req_int(r, "size", 10, 1, VIG_EVSTORE_MAX_TOP, &size))
		return;
	rc = vig_req_query(r, "field", field, sizeof(field));
	if (rc < 0)
		return;
	if (rc == 0 || field[0] == '\0') {
		vig_reply_err(r, VIG_EINVAL, "field is required");
		return;
	}
	err = vig_evstore_top(r->srv->store, &a.scope, a.q, a.from, a.to, field, (size_t)size, &top,
			      errbuf);
	if (err != VIG_OK) {
		reply_store_err(r, err, errbuf);
		return;
	}
	buckets = json_array();
	for (size_t i = 0; i < top.n; i++)
		json_array_append_new(buckets, json_pack("{s:s,s:I}", "key", top.buckets[i].key ? top.buckets[i].key : "",
							 "count", (json_int_t)top.buckets[i].count));
	vig_reply_jansson(r, 200, json_pack("{s:s,s:o,s:I,s:I}", "field", field, "buckets", buckets,
					    "other", (json_int_t)top.other, "missing",
					    (json_int_t)top.missing));
	vig_evstore_top_release(&top);
}

void vig_api_events_histogram(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", iv[32] = "";
	struct vig_evstore_hist h = {0};
	struct search_args a;
	int64_t interval = 0;
	enum vig_err err;
	json_t *buckets;
	char t[VIG_TIME_STRLEN];
	int rc;

	if (!search_args(r, &a))
		return;
	rc = vig_req_query(r, "interval", iv, sizeof(iv));
	if (rc < 0)
		return;
	if (rc == 0 || iv[0] == '\0') {
		/* about 100 buckets over the range, at least one minute */
		interval = VIG_MAX((a.to - a.from) / 100, 60 * VIG_NS_PER_SEC);
		interval -= interval % (60 * VIG_NS_PER_SEC);
	} else if (!vig_http_parse_interval(iv, &interval)) {
		vig_reply_err(r, VIG_EINVAL, "interval: expected e.g. 30s, 5m, 1h, 1d");
		return;
	}
	err = vig_evstore_histogram(r->srv->store, &a.scope, a.q, a.from, a.to, interval, &h, errbuf);
	if (err != VIG_OK) {
		reply_store_err(r, err, errbuf);
		return;
	}
	buckets = json_array();
	for (size_t i = 0; i < h.n; i++) {
		vig_time_format(h.ts_ns[i], t);
		json_array_append_new(buckets, json_pack("{s:s,s:I}", "ts", t, "count",
							 (json_int_t)h.counts[i]));
	}
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "interval_s",
					    (json_int_t)(h.interval_ns / VIG_NS_PER_SEC), "buckets",
					    buckets));
	vig_evstore_hist_release(&h);
}

void vig_api_fields(struct vig_req *r)
{
	json_t *arr = json_array();

	for (int i = 0; i < VIG_F__COUNT; i++) {
		const struct vig_field_info *fi = vig_field_info((enum vig_field)i);

		json_array_append_new(arr, json_pack("{s:s,s:s,s:b,s:b}", "name", fi->name, "type",
						     vig_type_name(fi->type), "indexed",
						     (fi->flags & VIG_FF_IDX) != 0, "keyword",
						     (fi->flags & VIG_FF_KW) != 0));
	}
	vig_reply_jansson(r, 200, arr);
}
