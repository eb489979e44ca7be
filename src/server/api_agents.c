/*
 * api_agents.c - the agent protocol in vigild (docs/agent-protocol.md) over src/fleet: agent
 * mutual-TLS authentication, enrolment, the agent endpoints (event batches, heartbeats,
 * inventory, the action long-poll, results, uploads) and the administrators' endpoints
 * (enrolment tokens, agents, actions, collected files).
 *
 * Agent authentication (routes of PERM_AGENT): the TLS layer asked for an optional client
 * certificate verified against the agent CA (tls.c); here the verification result must be OK,
 * the subject CN an agent id, and that agent must exist, not be revoked and hold exactly this
 * certificate (fingerprint). The request then runs as principal "agent:<id>" in the agent's
 * tenant with the ingest role (events:write only).
 *
 * Event batches are zstd-decompressed (bounded by limits.max_body_bytes) and go the way of
 * POST /api/v1/events (ingest.c): the writer thread forces tenant.id to the principal's tenant
 * and agent.id to the agent's id while it decodes, and the reply waits until the batch is
 * durable.
 *
 * Long-poll (loop thread only): GET /agent/actions takes the agent's queued actions; with none
 * the request is held (at most agents.max_polls) until an action is queued for that agent
 * (vig_api_agent_actions_create wakes it), `wait` seconds pass, or the client goes away (the
 * connection's close callback forgets it). Each held poll is answered exactly once.
 */
#include "server_int.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/x509.h>

#include "common/vtime.h"
#include "fleet/fleet.h"
#include "tls.h"

#define POLL_WAIT_DEFAULT_S 30
#define POLL_WAIT_MAX_S 60
#define EXPIRE_INTERVAL_S 30
#define AGENT_PREFIX "agent:"
#define AUDIT_PARAMS_MAX (32 * 1024) /* params larger than this are audited by size only */

struct held_poll {
	struct vig_agents_hub *hub;
	struct vig_req *r;
	struct event *timer;
	char agent_id[VIG_AGENT_ID_STRLEN];
	struct held_poll *prev, *next;
};

struct vig_agents_hub {
	struct vig_server *srv;
	struct held_poll *polls;     /* held long-polls (loop thread) */
	size_t n_polls;
	struct event *expire_ev;     /* persistent action-expiry timer */
	atomic_uint_fast64_t enrolled, enroll_refused, auth_failures, heartbeats, batches;
	atomic_uint_fast64_t actions_requested, action_results, polls_refused, uploads;
};

/* ---- helpers ---- */

static const char *agent_of(const struct vig_req *r)
{
	return r->who.username + strlen(AGENT_PREFIX);
}

static const char *header(struct vig_req *r, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(r->req), name);
}

static json_t *time_json(int64_t ns)
{
	char buf[VIG_TIME_STRLEN];

	if (ns <= 0)
		return json_null();
	vig_time_format(ns, buf);
	return json_string(buf);
}

/* ---- lifecycle ---- */

static void on_expire(evutil_socket_t fd, short what, void *arg)
{
	struct vig_agents_hub *hub = arg;
	char errbuf[VIG_ERRBUF_SIZE];
	int64_t n = 0;

	if (vig_fleet_actions_expire(hub->srv->fleet, vig_time_now(), &n, errbuf) != VIG_OK)
		vig_warn("agents", "action expiry failed", "err=\"%s\"", errbuf);
	else if (n > 0)
		vig_info("agents", "actions expired", "count=%lld", (long long)n);
}

enum vig_err vig_agents_start(struct vig_server *srv, char *errbuf)
{
	struct vig_fleet_config fc;
	struct timeval tv = {EXPIRE_INTERVAL_S, 0};
	char dir[VIG_CFG_PATH_MAX + 32];
	enum vig_err err;

	vig_fleet_config_default(&fc);
	fc.cert_days = (int)srv->cfg.agents_cert_days;
	fc.heartbeat_s = srv->cfg.agents_heartbeat_s;
	fc.action_timeout_s = srv->cfg.agents_action_timeout_s;
	fc.max_upload_bytes = srv->cfg.agents_max_upload_bytes;
	if ((size_t)snprintf(fc.collected_dir, sizeof(fc.collected_dir), "%s/collected",
			     srv->cfg.data_dir) >= sizeof(fc.collected_dir))
		return vig_errf(errbuf, VIG_EINVAL, "data_dir too long");
	snprintf(dir, sizeof(dir), "%s/agent-ca", srv->cfg.data_dir);
	srv->fleet = vig_fleet_open(srv->db, dir, &fc, errbuf);
	if (!srv->fleet)
		return VIG_EIO;
	err = vig_tls_trust_client_ca(srv->ssl_ctx, vig_fleet_ca_cert(srv->fleet), errbuf);
	if (err != VIG_OK)
		return err;
	srv->agents = calloc(1, sizeof(*srv->agents));
	if (!srv->agents)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	srv->agents->srv = srv;
	srv->agents->expire_ev = event_new(srv->base, -1, EV_PERSIST, on_expire, srv->agents);
	if (!srv->agents->expire_ev || event_add(srv->agents->expire_ev, &tv) != 0)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the action expiry timer");
	return VIG_OK;
}

static void unlink_poll(struct held_poll *p)
{
	struct vig_agents_hub *hub = p->hub;

	if (p->prev)
		p->prev->next = p->next;
	else
		hub->polls = p->next;
	if (p->next)
		p->next->prev = p->prev;
	hub->n_polls--;
	event_free(p->timer);
}

/* Answers a held poll with the agent's queued actions (possibly none) and forgets it. */
static void answer_poll(struct held_poll *p)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->r->req);
	char errbuf[VIG_ERRBUF_SIZE];
	json_t *acts = NULL;

	unlink_poll(p);
	if (evcon)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (!p->hub->srv->stopping &&
	    vig_fleet_action_take(p->hub->srv->fleet, p->agent_id, VIG_FLEET_TAKE_MAX, vig_time_now(),
				  &acts, errbuf) != VIG_OK) {
		vig_reply_err(p->r, VIG_EIO, errbuf);
	} else {
		vig_reply_jansson(p->r, 200, json_pack("{s:o}", "actions", acts ? acts : json_array()));
	}
	free(p);
}

void vig_agents_stop(struct vig_server *srv)
{
	struct vig_agents_hub *hub = srv->agents;

	if (hub) {
		while (hub->polls)
			answer_poll(hub->polls);
		if (hub->expire_ev)
			event_free(hub->expire_ev);
		free(hub);
		srv->agents = NULL;
	}
	vig_fleet_free(srv->fleet);
	srv->fleet = NULL;
}

void vig_agents_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_agents_hub *h = srv->agents;
	int64_t on = 0, off = 0, rev = 0;

	if (!h)
		return;
	static const char *const drops[] = { "drops_process", "drops_network", "drops_file", "drops_misc",
					     "drops_file_rate_limited" };
	int64_t sums[VIG_ARRAY_LEN(drops)];

	if (vig_fleet_counter_sums(srv->fleet, drops, VIG_ARRAY_LEN(drops), sums) == VIG_OK) {
		vig_buf_printf(b, "# HELP vigil_agents_sensor_drops Kernel records the agents' sensors lost (ring"
				  " full) or refused (file rate limit), by category: the sum of each active agent's"
				  " last heartbeat (an agent's count restarts with it).\n"
				  "# TYPE vigil_agents_sensor_drops gauge\n");
		for (size_t i = 0; i < VIG_ARRAY_LEN(drops); i++)
			vig_buf_printf(b, "vigil_agents_sensor_drops{category=\"%s\"} %lld\n", drops[i] + 6,
				       (long long)sums[i]);
	}
	if (vig_fleet_agent_counts(srv->fleet, vig_time_now(), &on, &off, &rev) == VIG_OK)
		vig_buf_printf(b,
			       "# HELP vigil_agents Enrolled agents by status.\n"
			       "# TYPE vigil_agents gauge\n"
			       "vigil_agents{status=\"online\"} %lld\n"
			       "vigil_agents{status=\"offline\"} %lld\n"
			       "vigil_agents{status=\"revoked\"} %lld\n",
			       (long long)on, (long long)off, (long long)rev);
	vig_buf_printf(b,
		       "# HELP vigil_agents_enrolled_total Agents enrolled since start.\n"
		       "# TYPE vigil_agents_enrolled_total counter\n"
		       "vigil_agents_enrolled_total %llu\n"
		       "# HELP vigil_agents_enroll_refused_total Enrolments refused (token or request).\n"
		       "# TYPE vigil_agents_enroll_refused_total counter\n"
		       "vigil_agents_enroll_refused_total %llu\n"
		       "# HELP vigil_agents_auth_failures_total Agent requests refused at mutual TLS.\n"
		       "# TYPE vigil_agents_auth_failures_total counter\n"
		       "vigil_agents_auth_failures_total %llu\n"
		       "# HELP vigil_agents_heartbeats_total Agent heartbeats recorded.\n"
		       "# TYPE vigil_agents_heartbeats_total counter\n"
		       "vigil_agents_heartbeats_total %llu\n"
		       "# HELP vigil_agents_batches_total Agent event batches passed to ingest.\n"
		       "# TYPE vigil_agents_batches_total counter\n"
		       "vigil_agents_batches_total %llu\n"
		       "# HELP vigil_actions_requested_total Response actions queued.\n"
		       "# TYPE vigil_actions_requested_total counter\n"
		       "vigil_actions_requested_total %llu\n"
		       "# HELP vigil_actions_results_total Response action results received.\n"
		       "# TYPE vigil_actions_results_total counter\n"
		       "vigil_actions_results_total %llu\n"
		       "# HELP vigil_agents_uploads_total Collected files received completely.\n"
		       "# TYPE vigil_agents_uploads_total counter\n"
		       "vigil_agents_uploads_total %llu\n"
		       "# HELP vigil_agents_polls Action long-polls held open.\n"
		       "# TYPE vigil_agents_polls gauge\n"
		       "vigil_agents_polls %zu\n"
		       "# HELP vigil_agents_polls_refused_total Long-polls refused at agents.max_polls.\n"
		       "# TYPE vigil_agents_polls_refused_total counter\n"
		       "vigil_agents_polls_refused_total %llu\n",
		       (unsigned long long)atomic_load(&h->enrolled),
		       (unsigned long long)atomic_load(&h->enroll_refused),
		       (unsigned long long)atomic_load(&h->auth_failures),
		       (unsigned long long)atomic_load(&h->heartbeats),
		       (unsigned long long)atomic_load(&h->batches),
		       (unsigned long long)atomic_load(&h->actions_requested),
		       (unsigned long long)atomic_load(&h->action_results),
		       (unsigned long long)atomic_load(&h->uploads), h->n_polls,
		       (unsigned long long)atomic_load(&h->polls_refused));
}

/* ---- agent authentication ---- */

bool vig_agents_authenticate(struct vig_req *r)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	X509 *peer = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	char id[VIG_AGENT_ID_STRLEN], fp[65], errbuf[VIG_ERRBUF_SIZE] = "";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!peer || SSL_get_verify_result(ssl) != X509_V_OK || !vig_fleet_cert_agent_id(peer, id) ||
	    X509_digest(peer, EVP_sha256(), md, &n) != 1 || n != 32) {
		atomic_fetch_add(&r->srv->agents->auth_failures, 1);
		vig_reply_err(r, VIG_EAUTH, "a verified agent client certificate is required");
		return false;
	}
	vig_hex(md, n, fp);
	memset(&r->who, 0, sizeof(r->who));
	if (vig_fleet_agent_auth(r->srv->fleet, id, fp, r->who.tenant, errbuf) != VIG_OK) {
		atomic_fetch_add(&r->srv->agents->auth_failures, 1);
		vig_info("agents", "agent refused", "agent=%s reason=\"%s\"", id, errbuf);
		vig_reply_err(r, VIG_EAUTH, "agent unknown or revoked");
		return false;
	}
	snprintf(r->who.username, sizeof(r->who.username), AGENT_PREFIX "%s", id);
	r->who.role = VIG_ROLE_INGEST;
	r->who.provider = false;
	r->authed = true;
	vig_fleet_touch(r->srv->fleet, id, vig_time_now());
	return true;
}

/* ---- enrolment ---- */

static const char *str_member(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

void vig_api_enroll(struct vig_req *r)
{
	struct vig_principal anon = {0};
	struct vig_enroll_result res;
	struct vig_enroll_request rq;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *body = vig_req_json_body(r), *after;

	if (!body)
		return;
	rq = (struct vig_enroll_request){str_member(body, "token"), str_member(body, "csr"),
					 str_member(body, "hostname"), str_member(body, "host_id"),
					 str_member(body, "os"), str_member(body, "kernel"),
					 str_member(body, "arch"), str_member(body, "version")};
	err = vig_fleet_enroll(r->srv->fleet, &rq, vig_time_now(), &res, errbuf);
	if (err != VIG_OK) {
		atomic_fetch_add(&r->srv->agents->enroll_refused, 1);
		snprintf(anon.username, sizeof(anon.username), "anonymous");
		snprintf(anon.tenant, sizeof(anon.tenant), "%s",
			 res.tenant[0] ? res.tenant : VIG_DB_PROVIDER_TENANT);
		anon.role = VIG_ROLE_INGEST;
		after = json_pack("{s:s,s:s?,s:I,s:s}", "reason", errbuf, "hostname", rq.hostname,
				  "token_id", (json_int_t)res.token_id, "remote", r->remote);
		vig_req_audit_as(r, &anon, anon.tenant, "agent.enroll_failed", "agent", NULL, NULL, after);
		json_decref(after);
		json_decref(body);
		vig_reply_err(r, err, err == VIG_EAUTH ? "enrolment refused" : errbuf);
		return;
	}
	atomic_fetch_add(&r->srv->agents->enrolled, 1);
	snprintf(anon.username, sizeof(anon.username), AGENT_PREFIX "%s", res.agent_id);
	snprintf(anon.tenant, sizeof(anon.tenant), "%s", res.tenant);
	anon.role = VIG_ROLE_INGEST;
	after = json_pack("{s:s,s:s?,s:s?,s:I,s:s}", "agent_id", res.agent_id, "hostname",
			  rq.hostname, "os", rq.os, "token_id", (json_int_t)res.token_id, "remote",
			  r->remote);
	vig_req_audit_as(r, &anon, res.tenant, "agent.enroll", "agent", res.agent_id, NULL, after);
	json_decref(after);
	json_decref(body);
	vig_info("agents", "agent enrolled", "agent=%s tenant=%s", res.agent_id, res.tenant);
	vig_reply_jansson(r, 201, json_pack("{s:s,s:s,s:s,s:s}", "agent_id", res.agent_id, "tenant",
					    res.tenant, "certificate", res.cert_pem, "ca",
					    vig_fleet_ca_pem(r->srv->fleet)));
	free(res.cert_pem);
}

/* ---- agent endpoints ---- */

void vig_api_agent_events(struct vig_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	const char *bid = header(r, "X-Vigil-Batch-Id"), *enc = header(r, "Content-Encoding");
	size_t len = evbuffer_get_length(in), plain_n = 0, idlen = strlen(agent_of(r));
	char errbuf[VIG_ERRBUF_SIZE] = "", *plain = NULL;
	const char *text;
	enum vig_err err;

	if (!bid || strncmp(bid, agent_of(r), idlen) != 0 || bid[idlen] != ':' || !bid[idlen + 1]) {
		vig_reply_err(r, VIG_EINVAL, "X-Vigil-Batch-Id: expected <agent id>:<sequence>");
		return;
	}
	text = (const char *)evbuffer_pullup(in, -1);
	if (enc && strcasecmp(enc, "zstd") == 0) {
		err = vig_fleet_zstd_decompress(text, len, (size_t)r->srv->cfg.max_body_bytes, &plain,
						&plain_n, errbuf);
		if (err != VIG_OK) {
			vig_reply_err(r, err, errbuf);
			return;
		}
	} else if (enc && strcasecmp(enc, "identity") != 0) {
		vig_reply_err_status(r, 415, VIG_EUNSUPPORTED, "Content-Encoding: expected zstd");
		return;
	}
	atomic_fetch_add(&r->srv->agents->batches, 1);
	/* the path of POST /api/v1/events; the writer sets agent.id and replies */
	vig_ingest_agent_batch(r, agent_of(r), plain, plain_n);
}

void vig_api_agent_heartbeat(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", now_s[VIG_TIME_STRLEN];
	json_t *body = vig_req_json_body(r);
	int64_t pending = 0, now = vig_time_now();
	enum vig_err err;

	if (!body)
		return;
	err = vig_fleet_heartbeat(r->srv->fleet, agent_of(r), body, now, &pending, errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	atomic_fetch_add(&r->srv->agents->heartbeats, 1);
	vig_time_format(now, now_s);
	vig_reply_jansson(r, 200, json_pack("{s:s,s:I,s:I}", "server_time", now_s, "actions_pending",
					    (json_int_t)pending, "heartbeat_s",
					    (json_int_t)r->srv->cfg.agents_heartbeat_s));
}

void vig_api_agent_inventory_post(struct vig_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	char errbuf[VIG_ERRBUF_SIZE] = "";
	bool changed = false;
	enum vig_err err;

	err = vig_fleet_inventory_put(r->srv->fleet, agent_of(r),
				      len ? (const char *)evbuffer_pullup(in, -1) : "", len,
				      vig_time_now(), &changed, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:b,s:b}", "ok", 1, "changed", changed));
}

/* The client went away while its poll was held. */
static void on_poll_close(struct evhttp_connection *evcon, void *arg)
{
	struct held_poll *p = arg;

	unlink_poll(p);
	vig_reply_jansson(p->r, 200, json_pack("{s:[]}", "actions")); /* detached: frees it */
	free(p);
}

static void on_poll_timeout(evutil_socket_t fd, short what, void *arg)
{
	answer_poll(arg);
}

void vig_api_agent_actions_poll(struct vig_req *r)
{
	struct vig_agents_hub *hub = r->srv->agents;
	struct evhttp_connection *evcon = evhttp_request_get_connection(r->req);
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct held_poll *p;
	struct timeval tv;
	json_t *acts = NULL;
	int64_t wait;

	if (!vig_req_int(r, "wait", POLL_WAIT_DEFAULT_S, 0, POLL_WAIT_MAX_S, &wait))
		return;
	if (vig_fleet_action_take(r->srv->fleet, agent_of(r), VIG_FLEET_TAKE_MAX, vig_time_now(),
				  &acts, errbuf) != VIG_OK) {
		vig_reply_err(r, VIG_EIO, errbuf);
		return;
	}
	if (json_array_size(acts) > 0 || wait == 0 || !evcon) {
		vig_reply_jansson(r, 200, json_pack("{s:o}", "actions", acts));
		return;
	}
	json_decref(acts);
	if (hub->n_polls >= (size_t)r->srv->cfg.agents_max_polls) {
		atomic_fetch_add(&hub->polls_refused, 1);
		vig_req_header(r, "Retry-After", "5");
		vig_reply_err_status(r, 503, VIG_EBUSY, "too many held polls, retry later");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->timer = evtimer_new(r->srv->base, on_poll_timeout, p))) {
		free(p);
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	p->hub = hub;
	p->r = r;
	snprintf(p->agent_id, sizeof(p->agent_id), "%s", agent_of(r));
	p->next = hub->polls;
	if (hub->polls)
		hub->polls->prev = p;
	hub->polls = p;
	hub->n_polls++;
	tv = (struct timeval){(time_t)wait, 0};
	evtimer_add(p->timer, &tv);
	evhttp_connection_set_closecb(evcon, on_poll_close, p);
}

/* Answers the held polls of agent_id (an action was queued for it). */
static void wake_polls(struct vig_agents_hub *hub, const char *agent_id)
{
	struct held_poll *p = hub->polls, *next;

	for (; p; p = next) {
		next = p->next;
		if (strcmp(p->agent_id, agent_id) == 0) {
			answer_poll(p);
			return; /* one poll takes them all; the others time out empty */
		}
	}
}

/* @sharing: the blocklist fan-out (api_sharing.c) queues actions outside a request */
void vig_agents_wake(struct vig_server *srv, const char *agent_id)
{
	if (srv->agents)
		wake_polls(srv->agents, agent_id);
}

void vig_api_agent_action_result(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	json_t *body, *after;
	enum vig_err err;
	int64_t id;
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	json_error_t jerr;

	if (!vig_req_id(r, "action", &id))
		return;
	if (evbuffer_get_length(in) > VIG_FLEET_RESULT_MAX + 65536) {
		vig_reply_err(r, VIG_ETOOBIG, "result larger than 4 MiB");
		return;
	}
	body = json_loadb((const char *)evbuffer_pullup(in, -1), evbuffer_get_length(in),
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL, "body: expected a JSON object");
		return;
	}
	err = vig_fleet_action_result(r->srv->fleet, agent_of(r), id, str_member(body, "status"),
				      json_object_get(body, "result"), str_member(body, "error"),
				      vig_time_now(), tenant, errbuf);
	if (err != VIG_OK) {
		json_decref(body);
		vig_reply_err(r, err, errbuf);
		return;
	}
	atomic_fetch_add(&r->srv->agents->action_results, 1);
	after = json_pack("{s:s,s:s?}", "status", str_member(body, "status"), "error",
			  str_member(body, "error"));
	vig_req_audit(r, tenant, "action.result", "action", r->param, NULL, after);
	vig_response_action_result(r->srv, id); /* @response: the request and its incident */
	json_decref(after);
	json_decref(body);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

void vig_api_agent_action_upload(struct vig_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *fin = header(r, "X-Vigil-Final"), *sha = header(r, "X-Vigil-Sha256");
	const char *tot = header(r, "X-Vigil-Upload-Total");
	char errbuf[VIG_ERRBUF_SIZE] = "", exp_s[32];
	bool final = fin && strcmp(fin, "1") == 0;
	int64_t id, offset, expected = 0, total = -1;
	enum vig_err err;
	json_t *after;

	if (!vig_req_id(r, "action", &id) || !vig_req_int(r, "offset", -1, 0, INT64_MAX / 2, &offset))
		return;
	if (offset < 0) {
		vig_reply_err(r, VIG_EINVAL, "offset: required");
		return;
	}
	if (tot && (!vig_parse_i64(tot, strlen(tot), &total) || total < 0)) {
		vig_reply_err(r, VIG_EINVAL, "X-Vigil-Upload-Total: expected the file's size in bytes");
		return;
	}
	err = vig_fleet_upload_chunk(r->srv->fleet, agent_of(r), id, offset,
				     len ? evbuffer_pullup(in, -1) : NULL, len, final, sha, total,
				     &expected, errbuf);
	snprintf(exp_s, sizeof(exp_s), "%lld", (long long)expected);
	vig_req_header(r, "X-Vigil-Offset", exp_s);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	if (final) {
		atomic_fetch_add(&r->srv->agents->uploads, 1);
		after = json_pack("{s:I,s:s}", "size", (json_int_t)expected, "sha256", sha);
		vig_req_audit(r, r->who.tenant, "action.upload", "action", r->param, NULL, after);
		json_decref(after);
	}
	vig_reply_jansson(r, 200, json_pack("{s:I,s:b}", "offset", (json_int_t)expected, "complete",
					    final));
}

/* ---- administrators: enrolment tokens ---- */

static json_t *token_json(const struct vig_enroll_token *t)
{
	return json_pack("{s:I,s:s,s:s,s:I,s:I,s:o,s:o,s:b,s:s}", "id", (json_int_t)t->id, "name",
			 t->name, "tenant", t->tenant, "uses", (json_int_t)t->uses, "used",
			 (json_int_t)t->used, "expires", time_json(t->expires), "created",
			 time_json(t->created), "revoked", t->revoked, "created_by", t->created_by);
}

void vig_api_enroll_tokens_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", token[VIG_ENROLL_TOKEN_STRLEN], idstr[32];
	struct vig_enroll_token t;
	json_t *body = vig_req_json_body(r), *uses, *exp, *o;
	enum vig_err err;

	if (!body)
		return;
	uses = json_object_get(body, "uses");
	exp = json_object_get(body, "expires_in_s");
	if ((uses && !json_is_integer(uses)) || (exp && !json_is_integer(exp)) ||
	    (json_object_get(body, "tenant") && !json_is_string(json_object_get(body, "tenant"))) ||
	    !json_is_string(json_object_get(body, "name"))) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL,
			      "expected {\"name\": string, \"tenant\": string, \"uses\": integer, "
			      "\"expires_in_s\": integer}");
		return;
	}
	err = vig_fleet_token_create(r->srv->fleet, &r->who, str_member(body, "tenant"),
				     str_member(body, "name"), uses ? json_integer_value(uses) : 1,
				     exp ? json_integer_value(exp) : 86400, vig_time_now(), token, &t,
				     errbuf);
	json_decref(body);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	o = token_json(&t);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)t.id);
	vig_req_audit(r, t.tenant, "enroll_token.create", "enroll_token", idstr, NULL, o);
	json_object_set_new(o, "token", json_string(token));
	memset(token, 0, sizeof(token));
	vig_reply_jansson(r, 201, o);
}

void vig_api_enroll_tokens_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	struct vig_enroll_token *rows = NULL;
	size_t n = 0;
	json_t *arr;
	enum vig_err err;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0)
		return;
	err = vig_fleet_token_list(r->srv->fleet, &r->who, tenant, &rows, &n, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, token_json(&rows[i]));
	free(rows);
	vig_reply_jansson(r, 200, json_pack("{s:o}", "enroll_tokens", arr));
}

void vig_api_enroll_token_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_enroll_token t;
	enum vig_err err;
	json_t *o;
	int64_t id;

	if (!vig_req_id(r, "enrolment token", &id))
		return;
	err = vig_fleet_token_revoke(r->srv->fleet, &r->who, id, &t, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	o = token_json(&t);
	vig_req_audit(r, t.tenant, "enroll_token.revoke", "enroll_token", r->param, NULL, o);
	vig_reply_jansson(r, 200, o);
}

/* ---- administrators: agents ---- */

void vig_api_agents_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", status[16] = "", q[128] = "";
	struct vig_agent_filter flt;
	enum vig_err err;
	int64_t limit;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    vig_req_query(r, "status", status, sizeof(status)) < 0 ||
	    vig_req_query(r, "q", q, sizeof(q)) < 0 || !vig_req_int(r, "limit", 1000, 1, 1000, &limit))
		return;
	flt = (struct vig_agent_filter){tenant, status, q, (int)limit};
	err = vig_fleet_agent_list(r->srv->fleet, &r->who, &flt, vig_time_now(), &arr, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:o}", "agents", arr));
}

void vig_api_agent_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *o;

	err = vig_fleet_agent_get(r->srv->fleet, &r->who, r->param, vig_time_now(), &o, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, o);
}

void vig_api_agent_inventory_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *o;

	err = vig_fleet_inventory_get(r->srv->fleet, &r->who, r->param, &o, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, o);
}

void vig_api_agent_revoke(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "";
	enum vig_err err;
	json_t *after;

	err = vig_fleet_agent_revoke(r->srv->fleet, &r->who, r->param, vig_time_now(), tenant,
				     errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	after = json_pack("{s:s}", "status", "revoked");
	vig_req_audit(r, tenant, "agent.revoke", "agent", r->param, NULL, after);
	json_decref(after);
	vig_reply_jansson(r, 200, json_pack("{s:s,s:s}", "id", r->param, "status", "revoked"));
}

/* ---- administrators: actions ---- */

void vig_api_agent_actions_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", idstr[32];
	json_t *body = vig_req_json_body(r), *params, *a, *after;
	enum vig_err err;
	char *penc;

	if (!body)
		return;
	params = json_object_get(body, "params");
	if (!json_is_string(json_object_get(body, "type")) ||
	    (json_object_get(body, "reason") && !json_is_string(json_object_get(body, "reason")))) {
		json_decref(body);
		vig_reply_err(r, VIG_EINVAL,
			      "expected {\"type\": string, \"params\": object, \"reason\": string}");
		return;
	}
	err = vig_fleet_action_create(r->srv->fleet, &r->who, r->param, str_member(body, "type"),
				      json_is_null(params) ? NULL : params, str_member(body, "reason"),
				      vig_time_now(), &a, errbuf);
	if (err != VIG_OK) {
		json_decref(body);
		vig_reply_err(r, err, errbuf);
		return;
	}
	atomic_fetch_add(&r->srv->agents->actions_requested, 1);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)json_integer_value(json_object_get(a, "id")));
	penc = json_dumps(json_object_get(a, "params"), JSON_COMPACT | JSON_ENCODE_ANY);
	after = json_pack("{s:s,s:s,s:O?}", "agent_id", r->param, "type", str_member(body, "type"),
			  "reason", json_object_get(a, "reason"));
	if (penc && strlen(penc) <= AUDIT_PARAMS_MAX)
		json_object_set(after, "params", json_object_get(a, "params"));
	else
		json_object_set_new(after, "params_bytes", json_integer(penc ? (json_int_t)strlen(penc) : 0));
	free(penc);
	vig_req_audit(r, str_member(a, "tenant"), "action.request", "action", idstr, NULL, after);
	json_decref(after);
	json_decref(body);
	wake_polls(r->srv->agents, r->param);
	vig_reply_jansson(r, 201, a);
}

void vig_api_actions_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", status[16] = "";
	char agent[VIG_AGENT_ID_STRLEN + 8] = "";
	struct vig_action_filter flt;
	enum vig_err err;
	int64_t limit;
	json_t *arr;

	if (vig_req_query(r, "tenant", tenant, sizeof(tenant)) < 0 ||
	    vig_req_query(r, "status", status, sizeof(status)) < 0 ||
	    vig_req_query(r, "agent", agent, sizeof(agent)) < 0 ||
	    !vig_req_int(r, "limit", 100, 1, VIG_FLEET_ACTIONS_LIST_MAX, &limit))
		return;
	flt = (struct vig_action_filter){tenant, agent, status, (int)limit};
	err = vig_fleet_action_list(r->srv->fleet, &r->who, &flt, &arr, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:o}", "actions", arr));
}

void vig_api_action_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *a;
	int64_t id;

	if (!vig_req_id(r, "action", &id))
		return;
	err = vig_fleet_action_get(r->srv->fleet, &r->who, id, &a, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	vig_reply_jansson(r, 200, a);
}

void vig_api_action_cancel(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	json_t *a, *after;
	int64_t id;

	if (!vig_req_id(r, "action", &id))
		return;
	err = vig_fleet_action_cancel(r->srv->fleet, &r->who, id, vig_time_now(), &a, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	after = json_pack("{s:s}", "status", "cancelled");
	vig_req_audit(r, str_member(a, "tenant"), "action.cancel", "action", r->param, NULL, after);
	json_decref(after);
	vig_reply_jansson(r, 200, a);
}

void vig_api_action_file(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", path[VIG_CFG_PATH_MAX + 128], sha[65], disp[96];
	struct evbuffer *out;
	enum vig_err err;
	int64_t id, size = 0;
	int fd;

	if (!vig_req_id(r, "action", &id))
		return;
	err = vig_fleet_upload_file(r->srv->fleet, &r->who, id, path, sizeof(path), sha, &size,
				    errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	out = evbuffer_new();
	if (fd < 0 || !out || evbuffer_add_file(out, fd, 0, size) != 0) {
		if (fd >= 0 && !out)
			close(fd);
		if (out)
			evbuffer_free(out);
		vig_reply_err(r, VIG_EIO, "cannot read the collected file");
		return;
	}
	snprintf(disp, sizeof(disp), "attachment; filename=\"action-%lld.bin\"", (long long)id);
	vig_req_header(r, "Content-Type", "application/octet-stream");
	vig_req_header(r, "Content-Disposition", disp);
	vig_req_header(r, "X-Vigil-Sha256", sha);
	vig_req_header(r, "X-Content-Type-Options", "nosniff");
	vig_req_header(r, "Cache-Control", "no-store");
	evhttp_send_reply(r->req, 200, "OK", out);
	evbuffer_free(out);
	vig_req_log(r, 200, (size_t)size);
	vig_req_free(r);
}
