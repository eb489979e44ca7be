/*
 * sse.c - GET /api/v1/stream: server-sent events of new alerts (`event: alert`) and of response
 * requests that changed (`event: approval`, for the approvals inbox).
 *
 * A subscriber is a chunked reply kept open; every sse.heartbeat_s a comment line keeps
 * proxies from closing it and finds dead clients. vig_server_publish() may be called from any
 * thread: it queues (bounded) the event and activates pub_ev; the loop thread then writes it
 * to each subscriber whose principal may see the event's tenant. A
 * subscriber whose unsent output exceeds sse.buffer_bytes is disconnected and counted: one slow
 * client never holds memory for everyone.
 *
 * Ending a stream: client gone → libevent detaches the request and frees the connection,
 * calling our close callback, where evhttp_send_reply_end() frees the request. Dropped or shut
 * down by us → evhttp_send_reply_end() with "Connection: close" set at the start.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"

#define PUBLISH_QUEUE_MAX 4096

struct sse_sub {
	struct vig_sse *hub;
	struct vig_req *r;
	struct evhttp_connection *evcon;
	size_t bytes;                /* sent so far, for the access log */
	struct sse_sub *prev, *next; /* hub list */
};

struct pending_alert {
	char event[16];
	char tenant[VIG_NAME_MAX];
	char *json;
	struct pending_alert *next;
};

struct vig_sse {
	struct vig_server *srv;
	struct sse_sub *subs;       /* loop thread only */
	size_t n;                   /* subscribers */
	struct event *heartbeat;    /* persistent timer */
	struct event *pub_ev;       /* activated by publishers */
	pthread_mutex_t mu;         /* guards the publish queue */
	struct pending_alert *qh, *qt;
	size_t qn;
};

static void unlink_sub(struct sse_sub *s)
{
	struct vig_sse *hub = s->hub;

	if (s->prev)
		s->prev->next = s->next;
	else
		hub->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	hub->n--;
}

/* Ends a stream we decided to end (drop, shutdown). */
static void end_sub(struct sse_sub *s)
{
	unlink_sub(s);
	evhttp_connection_set_closecb(s->evcon, NULL, NULL);
	evhttp_send_reply_end(s->r->req);
	vig_req_log(s->r, 200, s->bytes);
	vig_req_free(s->r);
	free(s);
}

/* The client went away: libevent frees the connection after this returns. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct sse_sub *s = arg;

	unlink_sub(s);
	evhttp_send_reply_end(s->r->req); /* detached request: this frees it */
	vig_req_log(s->r, 200, s->bytes);
	vig_req_free(s->r);
	free(s);
}

/* Sends text to s; drops s (returns false) when its backlog is over the bound. */
static bool send_sub(struct sse_sub *s, const char *text, size_t n)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(s->evcon);
	size_t backlog = bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
	struct evbuffer *b;

	if (backlog + n > (size_t)s->hub->srv->cfg.sse_buffer_bytes) {
		atomic_fetch_add(&s->hub->srv->metrics.sse_dropped, 1);
		vig_warn("sse", "slow subscriber dropped", "principal=%s backlog=%zu",
			 s->r->who.username, backlog);
		end_sub(s);
		return false;
	}
	b = evbuffer_new();
	if (!b)
		return true;
	evbuffer_add(b, text, n);
	evhttp_send_reply_chunk(s->r->req, b);
	evbuffer_free(b);
	s->bytes += n;
	return true;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct vig_sse *hub = arg;
	struct sse_sub *s, *next;

	for (s = hub->subs; s; s = next) {
		next = s->next;
		send_sub(s, ": heartbeat\n\n", 13);
	}
}

static void on_publish(evutil_socket_t fd, short what, void *arg)
{
	struct vig_sse *hub = arg;
	struct pending_alert *a, *next;
	struct sse_sub *s, *snext;
	struct vig_buf msg;

	pthread_mutex_lock(&hub->mu);
	a = hub->qh;
	hub->qh = hub->qt = NULL;
	hub->qn = 0;
	pthread_mutex_unlock(&hub->mu);
	vig_buf_init(&msg, 1 << 20);
	for (; a; a = next) {
		next = a->next;
		vig_buf_reset(&msg);
		vig_buf_printf(&msg, "event: %s\ndata: %s\n\n", a->event, a->json);
		for (s = hub->subs; s && vig_buf_err(&msg) == VIG_OK; s = snext) {
			snext = s->next;
			if (vig_principal_can_access_tenant(&s->r->who, a->tenant))
				send_sub(s, msg.data, msg.len);
		}
		free(a->json);
		free(a);
	}
	vig_buf_release(&msg);
}

void vig_api_stream(struct vig_req *r)
{
	struct vig_sse *hub = r->srv->sse;
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	struct sse_sub *s;

	if (hub->n >= (size_t)r->srv->cfg.sse_max_subscribers) {
		vig_req_header(r, "Retry-After", "10");
		vig_reply_err_status(r, 503, VIG_EBUSY, "too many stream subscribers");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	s->hub = hub;
	s->r = r;
	s->evcon = evhttp_request_get_connection(r->req);
	evhttp_add_header(h, "Content-Type", "text/event-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply_start(r->req, 200, "OK");
	s->next = hub->subs;
	if (hub->subs)
		hub->subs->prev = s;
	hub->subs = s;
	hub->n++;
	evhttp_connection_set_closecb(s->evcon, on_close, s);
	send_sub(s, "retry: 5000\n: connected\n\n", 25); /* no NUL on the wire */
}

enum vig_err vig_server_publish_alert(struct vig_server *srv, const char *tenant,
				      const char *alert_json)
{
	return vig_server_publish(srv, "alert", tenant, alert_json);
}

enum vig_err vig_server_publish(struct vig_server *srv, const char *event, const char *tenant,
				const char *json)
{
	struct vig_sse *hub = srv->sse;
	struct pending_alert *a;

	if (!hub || !tenant || !json || strlen(tenant) >= VIG_NAME_MAX || strlen(event) >= sizeof(a->event))
		return VIG_EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a || !(a->json = strdup(json))) {
		free(a);
		return VIG_ENOMEM;
	}
	memcpy(a->tenant, tenant, strlen(tenant) + 1);
	memcpy(a->event, event, strlen(event) + 1);
	pthread_mutex_lock(&hub->mu);
	if (hub->qn >= PUBLISH_QUEUE_MAX) {
		pthread_mutex_unlock(&hub->mu);
		free(a->json);
		free(a);
		return VIG_EBUSY;
	}
	if (hub->qt)
		hub->qt->next = a;
	else
		hub->qh = a;
	hub->qt = a;
	hub->qn++;
	pthread_mutex_unlock(&hub->mu);
	atomic_fetch_add(&srv->metrics.sse_published, 1);
	event_active(hub->pub_ev, EV_READ, 0);
	return VIG_OK;
}

struct vig_sse *vig_sse_new(struct vig_server *srv)
{
	struct vig_sse *hub = calloc(1, sizeof(*hub));
	struct timeval tv = {srv->cfg.sse_heartbeat_s, 0};

	if (!hub)
		return NULL;
	hub->srv = srv;
	pthread_mutex_init(&hub->mu, NULL);
	hub->heartbeat = event_new(srv->base, -1, EV_PERSIST, on_heartbeat, hub);
	hub->pub_ev = event_new(srv->base, -1, 0, on_publish, hub);
	if (!hub->heartbeat || !hub->pub_ev || event_add(hub->heartbeat, &tv) != 0) {
		vig_sse_free(hub);
		return NULL;
	}
	return hub;
}

void vig_sse_close_all(struct vig_sse *hub)
{
	if (!hub)
		return;
	while (hub->subs)
		end_sub(hub->subs);
}

size_t vig_sse_subscribers(struct vig_sse *hub)
{
	return hub ? hub->n : 0;
}

void vig_sse_free(struct vig_sse *hub)
{
	struct pending_alert *a, *next;

	if (!hub)
		return;
	vig_sse_close_all(hub);
	if (hub->heartbeat)
		event_free(hub->heartbeat);
	if (hub->pub_ev)
		event_free(hub->pub_ev);
	for (a = hub->qh; a; a = next) {
		next = a->next;
		free(a->json);
		free(a);
	}
	pthread_mutex_destroy(&hub->mu);
	free(hub);
}
