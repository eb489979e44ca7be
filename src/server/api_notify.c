/*
 * api_notify.c - notifications in vigild: the routes and deliveries API (dead letters and
 * replay), the notifier thread that sends due deliveries, and vig_notify_server_emit(), which
 * the incident code calls when an incident opens or an SLA is breached.
 *
 * The notifier thread wakes every second (or at once when an event was queued), delivers what
 * is due through src/notify and sleeps again; a slow webhook holds up only this thread, never
 * the event loop or the ingest writer.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"
#include "notify/notify.h"
#include "notify/oncall.h"

struct vig_notifier {
	struct vig_server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kick;
};

static void opts_of(const struct vig_config *c, struct vig_notify_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->smtp_url = c->notify_smtp_url;
	o->smtp_from = c->notify_smtp_from;
	o->smtp_user = c->notify_smtp_user;
	o->smtp_password = c->notify_smtp_password;
	o->smtp_tls = !strcmp(c->notify_smtp_tls, "require") ? 2 : !strcmp(c->notify_smtp_tls, "none") ? 0 : 1;
	o->cacert = c->notify_cacert;
	o->insecure = c->notify_insecure;
}

static void *notifier_main(void *arg)
{
	struct vig_notifier *n = arg;
	struct vig_notify_opts opts;

	opts_of(&n->srv->cfg, &opts);
	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		struct timespec ts;
		char errbuf[VIG_ERRBUF_SIZE] = "";
		size_t sent = 0, failed = 0;

		n->kick = false;
		pthread_mutex_unlock(&n->mu);
		if (vig_notify_deliver_due(n->srv->db, &opts, vig_time_now(), &sent, &failed, errbuf) != VIG_OK)
			vig_warn("notify", "delivery round failed", "err=\"%s\"", errbuf);
		atomic_fetch_add(&n->srv->metrics.notify_sent, sent);
		atomic_fetch_add(&n->srv->metrics.notify_failed, failed);
		pthread_mutex_lock(&n->mu);
		if (n->stop || n->kick)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

enum vig_err vig_notifier_start(struct vig_server *srv, char *errbuf)
{
	struct vig_notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	n->srv = srv;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);
	if (pthread_create(&n->thread, NULL, notifier_main, n) != 0) {
		pthread_mutex_destroy(&n->mu);
		pthread_cond_destroy(&n->cv);
		free(n);
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the notifier thread");
	}
	srv->notifier = n;
	return VIG_OK;
}

void vig_notifier_stop(struct vig_server *srv)
{
	struct vig_notifier *n = srv->notifier;

	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	free(n);
	srv->notifier = NULL;
}

void vig_notify_server_emit(struct vig_server *srv, const char *tenant, const char *kind, const char *severity,
			    const char *rule_id, const char *title, json_t *data)
{
	struct vig_notify_event ev = {.tenant = tenant, .kind = kind, .severity = severity, .rule_id = rule_id,
				      .title = title, .data = data};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t queued = 0;

	if (vig_notify_emit(srv->db, &ev, vig_time_now(), &queued, errbuf) != VIG_OK) {
		vig_warn("notify", "event not queued", "kind=%s tenant=%s err=\"%s\"", kind, tenant, errbuf);
		return;
	}
	if (queued)
		vig_notifier_kick(srv);
}

void vig_notifier_kick(struct vig_server *srv)
{
	if (!srv->notifier)
		return;
	pthread_mutex_lock(&srv->notifier->mu);
	srv->notifier->kick = true;
	pthread_cond_signal(&srv->notifier->cv);
	pthread_mutex_unlock(&srv->notifier->mu);
}

void vig_notify_metrics(struct vig_server *srv, struct vig_buf *b)
{
	vig_buf_printf(b,
		       "# HELP vigil_notify_sent_total Notifications delivered.\n"
		       "# TYPE vigil_notify_sent_total counter\n"
		       "vigil_notify_sent_total %llu\n"
		       "# HELP vigil_notify_failed_total Notification attempts that failed (retried or dead).\n"
		       "# TYPE vigil_notify_failed_total counter\n"
		       "vigil_notify_failed_total %llu\n",
		       (unsigned long long)atomic_load(&srv->metrics.notify_sent),
		       (unsigned long long)atomic_load(&srv->metrics.notify_failed));
}

/* ---- API ---- */

static void reply(struct vig_req *r, enum vig_err err, const char *errbuf, json_t *out, int status)
{
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_jansson(r, status, out);
}

void vig_api_notify_routes_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_notify_routes_list(r->srv->db, &r->who, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_notify_route_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *out = NULL;

	if (!body)
		return;
	enum vig_err err = vig_notify_route_create(r->srv->db, &r->who, body, &out, errbuf);

	reply(r, err, errbuf, out, 201);
	json_decref(body);
}

void vig_api_notify_route_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL;
	int64_t id;

	if (!vig_req_id(r, "route", &id) || !(body = vig_req_json_body(r)))
		return;
	enum vig_err err = vig_notify_route_update(r->srv->db, &r->who, id, body, &out, errbuf);

	reply(r, err, errbuf, out, 200);
	json_decref(body);
}

void vig_api_notify_route_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "route", &id))
		return;
	err = vig_notify_route_delete(r->srv->db, &r->who, id, errbuf);
	reply(r, err, errbuf, err == VIG_OK ? json_pack("{s:b}", "ok", 1) : NULL, 200);
}

void vig_api_notify_deliveries(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", status[16] = "";
	int64_t limit;
	json_t *out = NULL;

	if (vig_req_query(r, "status", status, sizeof(status)) < 0)
		return;
	if (*status && strcmp(status, "pending") && strcmp(status, "sent") && strcmp(status, "dead")) {
		vig_reply_err(r, VIG_EINVAL, "status must be pending, sent or dead");
		return;
	}
	if (!vig_req_int(r, "limit", 100, 1, 1000, &limit))
		return;
	enum vig_err err = vig_notify_deliveries(r->srv->db, &r->who, status, limit, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_notify_replay(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "delivery", &id))
		return;
	err = vig_notify_replay(r->srv->db, &r->who, id, vig_time_now(), errbuf);
	if (err == VIG_OK)
		vig_notifier_kick(r->srv);
	reply(r, err, errbuf, err == VIG_OK ? json_pack("{s:b}", "ok", 1) : NULL, 200);
}

/* ---- on-call rotas and escalation ladders (src/notify/oncall.h) ---- */

void vig_oncall_tick(struct vig_server *srv)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t paged = 0;

	if (vig_escalation_check(srv->db, vig_time_now(), &paged, errbuf) != VIG_OK) {
		vig_warn("oncall", "escalation check failed", "err=\"%s\"", errbuf);
		return;
	}
	if (paged) {
		vig_info("oncall", "escalation", "paged=%zu", paged);
		vig_notifier_kick(srv);
	}
}

/* The JSON body and, with an {id} route, the id; false once a reply was sent. */
static bool body_and_id(struct vig_req *r, const char *what, json_t **body, int64_t *id)
{
	*body = NULL;
	if (id && !vig_req_id(r, what, id))
		return false;
	return (*body = vig_req_json_body(r)) != NULL;
}

void vig_api_oncall_rotas_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_oncall_rota_list(r->srv->db, &r->who, vig_time_now(), &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_oncall_rota_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL;

	if (!body_and_id(r, NULL, &body, NULL))
		return;
	enum vig_err err = vig_oncall_rota_create(r->srv->db, &r->who, body, vig_time_now(), &out, errbuf);

	reply(r, err, errbuf, out, 201);
	json_decref(body);
}

void vig_api_oncall_rota_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	int64_t id;

	if (!vig_req_id(r, "rota", &id))
		return;
	enum vig_err err = vig_oncall_rota_get(r->srv->db, &r->who, id, vig_time_now(), &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_oncall_rota_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;

	if (!vig_req_id(r, "rota", &id))
		return;
	enum vig_err err = vig_oncall_rota_delete(r->srv->db, &r->who, id, errbuf);

	reply(r, err, errbuf, err == VIG_OK ? json_pack("{s:b}", "ok", 1) : NULL, 200);
}

void vig_api_oncall_override_add(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL;
	int64_t id;

	if (!body_and_id(r, "rota", &body, &id))
		return;
	enum vig_err err = vig_oncall_override_add(r->srv->db, &r->who, id, body, vig_time_now(), &out, errbuf);

	reply(r, err, errbuf, out, 201);
	json_decref(body);
}

void vig_api_escalation_policies_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	enum vig_err err = vig_escalation_policy_list(r->srv->db, &r->who, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}

void vig_api_escalation_policy_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL;

	if (!body_and_id(r, NULL, &body, NULL))
		return;
	enum vig_err err = vig_escalation_policy_create(r->srv->db, &r->who, body, vig_time_now(), &out, errbuf);

	reply(r, err, errbuf, out, 201);
	json_decref(body);
}

void vig_api_escalation_policy_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL;
	int64_t id;

	if (!body_and_id(r, "policy", &body, &id))
		return;
	enum vig_err err = vig_escalation_policy_update(r->srv->db, &r->who, id, body, &out, errbuf);

	reply(r, err, errbuf, out, 200);
	json_decref(body);
}

void vig_api_escalation_policy_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id;

	if (!vig_req_id(r, "policy", &id))
		return;
	enum vig_err err = vig_escalation_policy_delete(r->srv->db, &r->who, id, errbuf);

	reply(r, err, errbuf, err == VIG_OK ? json_pack("{s:b}", "ok", 1) : NULL, 200);
}

void vig_api_incident_escalations(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *out = NULL;
	int64_t id;

	if (!vig_req_id(r, "incident", &id))
		return;
	enum vig_err err = vig_escalation_incident(r->srv->db, &r->who, id, &out, errbuf);

	reply(r, err, errbuf, out, 200);
}
