/*
 * api_sources.c - the HTTP side of log collection and the lifecycle of its parts:
 *   POST   /api/v1/ingest/raw?format=F&source=S   raw log lines, parsed server-side (ingest.c
 *                                                  path, reply after durable)
 *   GET    /api/v1/sources                         the source registry (sources.c)
 *   PATCH  /api/v1/sources/{id}                    name, asset, tenant, silence_after_s
 *   GET    /api/v1/reduction/policies              drop/keep policies (reduce.c)
 *   POST   /api/v1/reduction/policies
 *   DELETE /api/v1/reduction/policies/{id}
 *   GET    /api/v1/reduction/stats                 what reduction dropped and merged
 *   GET    /api/v1/reduction/evidence/{id}         raw originals of a merged event
 * Every change made through the API is audited. vig_logs_start/stop bring up and tear down
 * the registry, the reduction stage and the syslog receivers in the right order.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"
#include "reduce.h"
#include "sources.h"
#include "syslog_rx.h"

static const char *const raw_formats[] = {"auto", "syslog", "sshd", "audit", "auditd",
					  "iptables", "cef", "leef", "suricata", "zeek",
					  "apache", "nginx", "json", "kv"};

/* ---- lifecycle ---- */

enum vig_err vig_logs_start(struct vig_server *srv, char *errbuf)
{
	struct vig_principal sys;
	struct vig_tenant tn;

	vig_principal_system(&sys);
	if (vig_tenant_get(srv->db, &sys, srv->cfg.syslog_tenant, &tn, errbuf) != VIG_OK)
		return vig_errf(errbuf, VIG_EINVAL, "syslog.tenant: no tenant \"%s\"",
				srv->cfg.syslog_tenant);
	srv->sources = vig_sources_new(srv, errbuf);
	if (!srv->sources)
		return VIG_EIO;
	srv->reduce = vig_reduce_new(srv, errbuf);
	if (!srv->reduce)
		return VIG_EIO;
	if (vig_sources_start(srv, errbuf) != VIG_OK)
		return VIG_EINTERNAL;
	srv->syslog_rx = vig_syslog_rx_start(srv, errbuf);
	return srv->syslog_rx ? VIG_OK : VIG_EIO;
}

void vig_logs_quiesce(struct vig_server *srv)
{
	vig_syslog_rx_stop(srv->syslog_rx); /* queues what it holds */
	srv->syslog_rx = NULL;
}

void vig_logs_stop(struct vig_server *srv)
{
	vig_logs_quiesce(srv);
	vig_sources_stop(srv);
	/* the writer attributes and reduces every batch: drain it before freeing those parts */
	if (srv->ingest)
		vig_ingest_drain(srv->ingest);
	vig_reduce_free(srv->reduce);
	srv->reduce = NULL;
	vig_sources_free(srv->sources);
	srv->sources = NULL;
}

void vig_logs_metrics(struct vig_server *srv, struct vig_buf *b)
{
	vig_syslog_rx_metrics(srv->syslog_rx, b);
	vig_sources_metrics(srv->sources, b);
	if (srv->reduce)
		vig_reduce_metrics(srv->reduce, b);
}

/* ---- helpers ---- */

/* ?tenant= checked against the caller; "" when absent (every visible tenant). */
static bool tenant_filter(struct vig_req *r, char tenant[VIG_NAME_MAX])
{
	tenant[0] = '\0';
	if (vig_req_query(r, "tenant", tenant, VIG_NAME_MAX) < 0)
		return false;
	if (tenant[0] && !vig_principal_can_access_tenant(&r->who, tenant)) {
		vig_reply_err(r, VIG_EPERM, "tenant not accessible");
		return false;
	}
	return true;
}

static bool param_id(struct vig_req *r, int64_t *id, const char *what)
{
	if (!vig_parse_i64(r->param, strlen(r->param), id) || *id <= 0) {
		vig_reply_err(r, VIG_ENOTFOUND, what);
		return false;
	}
	return true;
}

static bool source_name_ok(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.' || *s == ':' || *s == '/' || *s == '@'))
			return false;
	return true;
}

/* ---- raw ingest ---- */

void vig_api_ingest_raw(struct vig_req *r)
{
	struct vig_logs_spec spec = {.type = "raw", .transport = "http", .sep = '\n'};
	char format[16] = "", source[VIG_SOURCE_ADDR_MAX] = "";
	struct vig_logs_batch *lb;
	bool known = false;

	if (vig_req_query(r, "format", format, sizeof(format)) < 0 ||
	    vig_req_query(r, "source", source, sizeof(source)) < 0)
		return;
	if (!format[0])
		snprintf(format, sizeof(format), "auto");
	for (size_t i = 0; i < VIG_ARRAY_LEN(raw_formats); i++)
		known = known || strcmp(format, raw_formats[i]) == 0;
	if (!known) {
		vig_reply_err(r, VIG_EINVAL,
			      "format: expected auto, syslog, sshd, audit, iptables, cef, leef, "
			      "suricata, zeek, apache, json or kv");
		return;
	}
	if (!source[0])
		snprintf(source, sizeof(source), "%s", r->who.username);
	if (!source_name_ok(source)) {
		vig_reply_err(r, VIG_EINVAL, "source: 1-127 characters of [A-Za-z0-9._:/@-]");
		return;
	}
	snprintf(spec.format, sizeof(spec.format), "%s", format);
	snprintf(spec.address, sizeof(spec.address), "%s", source);
	spec.ref_ns = vig_time_now();
	lb = vig_logs_batch_new(&spec);
	if (!lb) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	vig_ingest_request(r, lb);
}

/* ---- sources ---- */

void vig_api_sources_list(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX];
	json_t *arr;

	if (!tenant_filter(r, tenant))
		return;
	arr = vig_sources_list(r->srv->sources, &r->who, tenant);
	if (!arr) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr),
					    "sources", arr));
}

void vig_api_source_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *before = NULL, *after = NULL;
	enum vig_err err;
	int64_t id;

	if (!param_id(r, &id, "no such source"))
		return;
	body = vig_req_json_body(r);
	if (!body)
		return;
	err = vig_sources_patch(r->srv->sources, &r->who, id, body, &before, &after, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_req_audit(r, json_string_value(json_object_get(after, "tenant")), "source.update", "source",
	      r->param, before, after);
	json_decref(before);
	vig_reply_jansson(r, 200, after);
}

/* ---- reduction ---- */

void vig_api_reduction_policies_get(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX];
	json_t *arr;

	if (!tenant_filter(r, tenant))
		return;
	arr = vig_reduce_policies_json(r->srv->reduce, &r->who, tenant);
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr),
					    "policies", arr));
}

void vig_api_reduction_policies_post(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", idstr[24];
	json_t *body = vig_req_json_body(r), *out = NULL;
	enum vig_err err;

	if (!body)
		return;
	err = vig_reduce_policy_add(r->srv->reduce, &r->who, body, &out, errbuf);
	json_decref(body);
	if (err != VIG_OK || !out) {
		json_decref(out);
		vig_reply_err(r, err != VIG_OK ? err : VIG_ENOMEM, errbuf[0] ? errbuf : "out of memory");
		return;
	}
	snprintf(idstr, sizeof(idstr), "%lld", (long long)json_integer_value(json_object_get(out, "id")));
	vig_req_audit(r, json_string_value(json_object_get(out, "tenant")), "reduction_policy.create",
	      "reduction_policy", idstr, NULL, out);
	vig_reply_jansson(r, 201, out);
}

void vig_api_reduction_policy_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *before = NULL;
	enum vig_err err;
	int64_t id;

	if (!param_id(r, &id, "no such policy"))
		return;
	err = vig_reduce_policy_delete(r->srv->reduce, &r->who, id, &before, errbuf);
	if (err != VIG_OK && !before) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_req_audit(r, json_string_value(json_object_get(before, "tenant")), "reduction_policy.delete",
	      "reduction_policy", r->param, before, NULL);
	json_decref(before);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

void vig_api_reduction_stats(struct vig_req *r)
{
	json_t *st = vig_reduce_stats_json(r->srv->reduce);

	vig_reply_jansson(r, 200, st);
}

void vig_api_reduction_evidence(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err;
	int64_t id;

	if (!param_id(r, &id, "no such evidence"))
		return;
	err = vig_reduce_evidence(r->srv->reduce, &r->who, id, &out, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, out);
}
