/*
 * ingest.c - POST /api/v1/events: NDJSON in, a bounded queue, one writer thread, and the
 * reply sent only after the store committed (acknowledge-after-durable).
 *
 * Flow:
 *   loop thread   handler copies the body into a batch and pushes it on the queue; a full
 *                 queue (ingest.queue_batches) is 429 + Retry-After, never a silent drop.
 *   writer thread pops a batch, decodes each line with vig_event_from_json (bad lines get
 *                 their line number and error, counted by reason; good ones are kept), forces
 *                 tenant.id (provider principals may name another existing tenant), calls
 *                 vig_evstore_append once for the batch (atomic with its batch key), builds
 *                 the reply, runs the detection stage on a new durable batch (api_alerts.c;
 *                 the reply waits for it), puts the batch on the done list and activates done_ev.
 *   loop thread   on_done sends the replies. evhttp is never called from the writer thread.
 *
 * Raw-log batches (POST /api/v1/ingest/raw, the syslog receivers of syslog_rx.c) take the same
 * path: their records are parsed by src/parse instead of decoded as JSON (vig_logs_decode), and
 * a receiver's batch (vig_ingest_submit, no request) is simply freed once durable. Every batch
 * passes the source registry and the reduction stage (vig_logs_prepare) before the append.
 *
 * States of a batch: queued → writing → done → replied. `pending` counts batches in any state
 * but replied, so shutdown knows when every accepted request has been answered.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/arena.h"
#include "common/log.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "sources.h"

#define MAX_LISTED_ERRORS 100
#define BATCH_ID_MAX 64

struct ingest_batch {
	struct vig_req *r;          /* the request to answer (loop thread only) */
	char *body;                 /* NDJSON, NUL-terminated */
	size_t len;                 /* bytes of body */
	struct vig_principal who;   /* caller (copied: the writer must not touch r) */
	char key[VIG_EVSTORE_BATCH_KEY_MAX]; /* "tenant/batch-id" or "" */
	int status;                 /* reply status */
	bool retry_after;           /* add Retry-After to the reply */
	struct vig_buf reply;       /* reply body */
	struct vig_logs_batch *logs; /* raw-log batch (sources.h) or NULL for NDJSON */
	char agent_id[VIG_NAME_MAX]; /* an agent's batch: every event's agent.id is set to it */
	struct ingest_batch *next;  /* queue / done list link */
};

struct vig_ingest {
	struct vig_server *srv;
	pthread_mutex_t mu;          /* guards everything below */
	pthread_cond_t cv;           /* signalled on push and stop */
	struct ingest_batch *head, *tail;         /* queued */
	struct ingest_batch *done_head, *done_tail; /* written, awaiting reply */
	size_t queued;               /* batches in the queue */
	size_t pending;              /* batches not yet replied */
	bool stop;                   /* writer exits once the queue is empty */
	bool running;                /* thread started and not joined */
	pthread_t thread;
	struct event *done_ev;       /* activated by the writer, runs on_done in the loop */
	struct vig_detect_worker *detect; /* writer thread only: detection scratch (api_alerts.c) */
};

/* ---- writer side ---- */

static enum vig_reject_reason reason_of(enum vig_err err)
{
	switch (err) {
	case VIG_EPARSE:
		return VIG_REJECT_MALFORMED;
	case VIG_EINVAL:
		return VIG_REJECT_INVALID;
	case VIG_ETOOBIG:
		return VIG_REJECT_TOO_BIG;
	default:
		return VIG_REJECT_OTHER;
	}
}

struct decode_state {
	struct vig_ingest *in;
	struct ingest_batch *b;
	size_t rejected;
	size_t listed;
	char ok_tenant[VIG_NAME_MAX];  /* last tenant checked to exist */
	char bad_tenant[VIG_NAME_MAX]; /* last tenant found not to exist */
};

static void reject(struct decode_state *d, size_t line, enum vig_reject_reason why, const char *msg)
{
	struct vig_buf *out = &d->b->reply;

	atomic_fetch_add(&d->in->srv->metrics.ingest_rejected[why], 1);
	if (d->listed < MAX_LISTED_ERRORS) {
		vig_buf_printf(out, "%s{\"line\":%zu,\"error\":", d->listed ? "," : "", line);
		vig_buf_add_json_str(out, msg, strlen(msg));
		vig_buf_addc(out, '}');
		d->listed++;
	}
	d->rejected++;
}

/* Applies the tenant rules to ev; false (with msg) when the line must be rejected. */
static bool fix_tenant(struct decode_state *d, struct vig_event *ev, char *msg)
{
	const struct vig_principal *who = &d->b->who;
	const struct vig_val *t = vig_event_get(ev, VIG_F_TENANT_ID);
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_tenant tn;

	if (!t || !who->provider || strcmp(t->u.s, who->tenant) == 0)
		return vig_event_set_cstr(ev, VIG_F_TENANT_ID, who->tenant) == VIG_OK;
	if (strcmp(t->u.s, d->ok_tenant) == 0)
		return true;
	if (strcmp(t->u.s, d->bad_tenant) != 0 &&
	    vig_tenant_get(d->in->srv->db, who, t->u.s, &tn, errbuf) == VIG_OK) {
		snprintf(d->ok_tenant, sizeof(d->ok_tenant), "%s", t->u.s);
		return true;
	}
	snprintf(d->bad_tenant, sizeof(d->bad_tenant), "%s", t->u.s);
	snprintf(msg, VIG_ERRBUF_SIZE, "tenant.id: no such tenant");
	return false;
}

static void reject_record(void *arg, size_t record, const char *msg)
{
	reject(arg, record, VIG_REJECT_MALFORMED, msg);
}

/* Decodes the body into evs/ptrs; returns the number of good events. */
static size_t decode_lines(struct decode_state *d, struct vig_arena *arena, struct vig_event *evs,
			   struct vig_event **ptrs, size_t cap)
{
	const struct vig_config *cfg = &d->in->srv->cfg;
	struct vig_json_limits lim = {(size_t)cfg->max_event_bytes, VIG_JSON_DEFAULT_MAX_DEPTH};
	char *p = d->b->body, *end = d->b->body + d->b->len;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t line = 0, n = 0;
	enum vig_err err;

	if (d->b->logs) /* raw records: parsed by src/parse (sources.c) */
		return vig_logs_decode(d->in->srv, d->b->logs, &d->b->who, d->b->body, d->b->len,
				       arena, evs, ptrs, cap, reject_record, d);
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		size_t len;

		line++;
		while (le > p && (le[-1] == '\r' || le[-1] == ' ' || le[-1] == '\t'))
			le--;
		len = (size_t)(le - p);
		if (len == 0)
			goto next_line;
		if (len > (size_t)cfg->max_event_bytes) {
			reject(d, line, VIG_REJECT_TOO_BIG, "event larger than limits.max_event_bytes");
			goto next_line;
		}
		if (n >= cap)
			break; /* cannot happen: cap counts the non-empty lines */
		vig_event_init(&evs[n], arena);
		errbuf[0] = '\0';
		err = vig_event_from_json(&evs[n], p, len, &lim, errbuf);
		if (err != VIG_OK) {
			reject(d, line, reason_of(err), errbuf[0] ? errbuf : vig_strerror(err));
			goto next_line;
		}
		if (!fix_tenant(d, &evs[n], errbuf)) {
			reject(d, line, VIG_REJECT_TENANT, errbuf);
			goto next_line;
		}
		if (d->b->agent_id[0] &&
		    vig_event_set_cstr(&evs[n], VIG_F_AGENT_ID, d->b->agent_id) != VIG_OK) {
			reject(d, line, VIG_REJECT_TOO_BIG, "out of memory");
			goto next_line;
		}
		ptrs[n] = &evs[n];
		n++;
next_line:
		p = nl ? nl + 1 : end;
	}
	return n;
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	bool content = false;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			n += content;
			content = false;
		} else if (s[i] != ' ' && s[i] != '\r' && s[i] != '\t') {
			content = true;
		}
	}
	return n + content;
}

static void write_batch(struct vig_ingest *in, struct ingest_batch *b)
{
	struct decode_state d = {.in = in, .b = b};
	char errbuf[VIG_ERRBUF_SIZE] = "";
	size_t lines = b->logs ? vig_logs_count(b->logs, b->body, b->len)
			       : count_lines(b->body, b->len), good = 0, decoded = 0;
	struct vig_event *evs = NULL;
	struct vig_event **ptrs = NULL;
	struct vig_arena arena;
	bool dup = false;
	enum vig_err err = VIG_OK;
	int64_t t0;

	vig_buf_init(&b->reply, 1 << 20);
	if (lines > (size_t)in->srv->cfg.batch_max_events) {
		b->status = 413;
		vig_buf_printf(&b->reply,
			       "{\"error\":\"batch of %zu events is over ingest.batch_max_events (%lld)\","
			       "\"code\":\"etoobig\"}",
			       lines, (long long)in->srv->cfg.batch_max_events);
		return;
	}
	vig_arena_init(&arena, 1 << 20, 8 * b->len + (16u << 20));
	evs = lines ? calloc(lines, sizeof(*evs)) : NULL;
	ptrs = lines ? calloc(lines, sizeof(*ptrs)) : NULL;
	if (lines && (!evs || !ptrs)) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_reply;
	}
	vig_buf_adds(&b->reply, "{\"errors\":[");
	good = decoded = decode_lines(&d, &arena, evs, ptrs, lines);
	/* sources and the reduction stage (sources.c, reduce.c); "stored" may be < "accepted" */
	err = vig_logs_prepare(in->srv, &b->logs, &b->who, &arena, ptrs, &good, errbuf);
	if (err != VIG_OK)
		goto out_reply;
	/* threat intelligence: threat.enrichments.* set before the store and the rules see them */
	vig_intel_enrich_batch(in->srv, ptrs, good);
	if (good > 0) {
		t0 = vig_time_mono();
		err = vig_evstore_append(in->srv->store, ptrs, good, b->key[0] ? b->key : NULL, &dup,
					 errbuf);
		vig_metrics_store_latency(&in->srv->metrics, vig_time_mono() - t0);
		/* detection stage: only events that are durable and new (not a resent batch) */
		if (err == VIG_OK && !dup)
			vig_detect_batch(in->srv, in->detect, ptrs, good);
	}
	if (err == VIG_OK && !dup) /* source counters: only for a batch that is done for good */
		vig_logs_committed(in->srv, b->logs, ptrs, good);
out_reply:
	if (err != VIG_OK) {
		vig_error("ingest", "append failed", "err=\"%s\" events=%zu", errbuf, good);
		vig_buf_reset(&b->reply);
		b->status = err == VIG_EIO || err == VIG_EBUSY || err == VIG_ENOMEM ? 503
										   : vig_http_status_of(err);
		b->retry_after = b->status == 503;
		vig_buf_adds(&b->reply, "{\"error\":");
		vig_buf_add_json_str(&b->reply, errbuf, strlen(errbuf));
		vig_buf_printf(&b->reply, ",\"code\":\"%s\"}", vig_http_code_of(err));
	} else {
		if (dup)
			atomic_fetch_add(&in->srv->metrics.ingest_duplicates, 1);
		else
			atomic_fetch_add(&in->srv->metrics.ingest_accepted, good);
		b->status = decoded == 0 && d.rejected > 0 ? 400 : 200;
		vig_buf_printf(&b->reply,
			       "],\"accepted\":%zu,\"stored\":%zu,\"rejected\":%zu,\"duplicate\":%s%s}",
			       decoded, good, d.rejected, dup ? "true" : "false",
			       b->status == 400 ? ",\"error\":\"no valid event in the batch\",\"code\":\"einval\""
						: "");
	}
	free(ptrs);
	free(evs);
	vig_arena_release(&arena);
}

static void *writer_main(void *arg)
{
	struct vig_ingest *in = arg;
	struct ingest_batch *b;

	in->detect = vig_detect_worker_new(); /* NULL: detection off, counted per batch */
	for (;;) {
		pthread_mutex_lock(&in->mu);
		while (!in->head && !in->stop)
			pthread_cond_wait(&in->cv, &in->mu);
		b = in->head;
		if (!b) {
			pthread_mutex_unlock(&in->mu);
			break; /* stop and empty */
		}
		in->head = b->next;
		if (!in->head)
			in->tail = NULL;
		in->queued--;
		pthread_mutex_unlock(&in->mu);

		write_batch(in, b);
		free(b->body);
		b->body = NULL;

		pthread_mutex_lock(&in->mu);
		b->next = NULL;
		if (in->done_tail)
			in->done_tail->next = b;
		else
			in->done_head = b;
		in->done_tail = b;
		pthread_mutex_unlock(&in->mu);
		event_active(in->done_ev, EV_READ, 0);
	}
	vig_detect_worker_free(in->detect);
	in->detect = NULL;
	return NULL;
}

/* ---- loop side ---- */

static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct vig_ingest *in = arg;
	struct ingest_batch *b, *next;

	pthread_mutex_lock(&in->mu);
	b = in->done_head;
	in->done_head = in->done_tail = NULL;
	pthread_mutex_unlock(&in->mu);
	for (; b; b = next) {
		next = b->next;
		if (b->r) {
			if (b->retry_after)
				vig_req_header(b->r, "Retry-After", "1");
			vig_reply_json(b->r, b->status, &b->reply);
		} else if (b->status != 200 && b->status != 400) {
			/* a receiver's batch not stored (400: every record failed, already counted) */
			vig_warn("ingest", "raw batch not stored", "status=%d reply=\"%.200s\"",
				 b->status, b->reply.data ? b->reply.data : "");
			vig_logs_lost(b->logs); /* counted as dropped on its sources */
		}
		vig_buf_release(&b->reply);
		vig_logs_batch_free(b->logs);
		free(b);
		pthread_mutex_lock(&in->mu);
		in->pending--;
		pthread_mutex_unlock(&in->mu);
	}
}

static bool batch_id_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BATCH_ID_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.' || *s == ':'))
			return false;
	return true;
}

/* Queues b; false when the queue is full or stopping (b untouched). */
static bool enqueue(struct vig_ingest *in, struct ingest_batch *b)
{
	bool full;

	pthread_mutex_lock(&in->mu);
	full = in->queued >= (size_t)in->srv->cfg.queue_batches || in->stop;
	if (!full) {
		if (in->tail)
			in->tail->next = b;
		else
			in->head = b;
		in->tail = b;
		in->queued++;
		in->pending++;
		pthread_cond_signal(&in->cv);
	}
	pthread_mutex_unlock(&in->mu);
	return !full;
}

enum vig_err vig_ingest_submit(struct vig_ingest *in, char *body, size_t len,
			       struct vig_logs_batch *logs, const struct vig_principal *who)
{
	struct ingest_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return VIG_ENOMEM;
	b->body = body;
	b->len = len;
	b->logs = logs;
	b->who = *who;
	if (!enqueue(in, b)) {
		free(b);
		atomic_fetch_add(&in->srv->metrics.ingest_queue_full, 1);
		return VIG_EBUSY;
	}
	return VIG_OK;
}

void vig_api_events_ingest(struct vig_req *r)
{
	vig_ingest_request(r, NULL);
}

/* Queues r's batch: body (malloc'ed, owned) or, when NULL, a copy of the request body. */
static void ingest_request(struct vig_req *r, struct vig_logs_batch *logs, const char *agent_id,
			   char *body, size_t len)
{
	struct vig_ingest *in = r->srv->ingest;
	const char *bid = evhttp_find_header(evhttp_request_get_input_headers(r->req),
					     "X-Vigil-Batch-Id");
	struct ingest_batch *b;
	bool full;

	if (bid && !batch_id_valid(bid)) {
		vig_logs_batch_free(logs);
		free(body);
		vig_reply_err(r, VIG_EINVAL, "X-Vigil-Batch-Id: 1-64 characters of [A-Za-z0-9._:-]");
		return;
	}
	b = calloc(1, sizeof(*b));
	if (b && body) {
		b->body = body;
		b->len = len;
	} else if (b) {
		b->body = vig_req_body_copy(r, &b->len);
	}
	if (!b || !b->body) {
		free(b);
		free(body);
		vig_logs_batch_free(logs);
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	b->r = r;
	b->who = r->who;
	b->logs = logs;
	if (agent_id)
		snprintf(b->agent_id, sizeof(b->agent_id), "%s", agent_id);
	if (bid)
		snprintf(b->key, sizeof(b->key), "%s/%s", r->who.tenant, bid);
	full = !enqueue(in, b);
	if (full) {
		vig_logs_batch_free(b->logs);
		free(b->body);
		free(b);
		atomic_fetch_add(&r->srv->metrics.ingest_queue_full, 1);
		vig_req_header(r, "Retry-After", "1");
		vig_reply_err(r, VIG_EBUSY, "ingest queue full, retry later");
	}
	/* else the reply comes from on_done once the batch is durable */
}

void vig_ingest_request(struct vig_req *r, struct vig_logs_batch *logs)
{
	ingest_request(r, logs, NULL, NULL, 0);
}

void vig_ingest_agent_batch(struct vig_req *r, const char *agent_id, char *body, size_t len)
{
	ingest_request(r, NULL, agent_id, body, len);
}

struct vig_ingest *vig_ingest_new(struct vig_server *srv, char *errbuf)
{
	struct vig_ingest *in = calloc(1, sizeof(*in));

	if (!in) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	in->srv = srv;
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	in->done_ev = event_new(srv->base, -1, 0, on_done, in);
	if (!in->done_ev) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	if (pthread_create(&in->thread, NULL, writer_main, in) != 0) {
		vig_errf(errbuf, VIG_EINTERNAL, "cannot start the ingest writer thread");
		goto out_free;
	}
	in->running = true;
	return in;
out_free:
	vig_ingest_free(in);
	return NULL;
}

size_t vig_ingest_depth(struct vig_ingest *in)
{
	size_t n;

	pthread_mutex_lock(&in->mu);
	n = in->pending;
	pthread_mutex_unlock(&in->mu);
	return n;
}

void vig_ingest_drain(struct vig_ingest *in)
{
	if (!in || !in->running)
		return;
	pthread_mutex_lock(&in->mu);
	in->stop = true;
	pthread_cond_broadcast(&in->cv);
	pthread_mutex_unlock(&in->mu);
	pthread_join(in->thread, NULL);
	in->running = false;
	/* answer what the writer finished after the loop stopped (replies may not flush) */
	on_done(-1, 0, in);
}

void vig_ingest_free(struct vig_ingest *in)
{
	if (!in)
		return;
	vig_ingest_drain(in);
	if (in->done_ev)
		event_free(in->done_ev);
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->mu);
	free(in);
}
