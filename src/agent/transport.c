/*
 * transport.c - the enrolled agent's connection to vigild (docs/agent-protocol.md): events
 * through the disk spool, heartbeats, inventory, and the response actions long poll, all over
 * HTTPS with the agent's client certificate.
 *
 * Threads and what they own:
 *   callers   (sensors, forwarders) encode events and append them to the memory queue (bounded
 *             by queue_max_bytes; a full queue drops the event and counts it; never blocks)
 *   spooler   cuts batches of <= VIG_SPOOL_BATCH_EVENTS lines / VIG_SPOOL_BATCH_BYTES bytes off
 *             the queue when one is full or its oldest line waited flush_ms, writes each to the
 *             spool (fsync) and only then releases the lines
 *   sender    sends the spool's oldest batch (zstd, X-Vigil-Batch-Id: <agent id>:<seq>) and
 *             deletes it after a 2xx; 429/5xx/no answer/401 keep it and back off 1 s doubling to
 *             30 s; another 4xx refuses the batch for good (logged, counted, deleted) so that one
 *             bad batch cannot wedge the queue
 *   heartbeat every heartbeat_s: POST heartbeat (the reply may change the interval); inventory
 *             at start and whenever its hash changes (checked every 10 heartbeats)
 *   actions   GET actions?wait=30, runs each action with vig_action_run() (one at a time) and
 *             posts its result; collect's chunks go through vig_transport_upload()
 * Locks: mu guards the queue, counters, the health snapshot and stop; spool_mu guards the spool
 * (its calls do disk I/O, so the queue is never held across them). Stop: the spooler writes
 * what is queued, the sender tries until the caller's deadline, the others end at their next
 * wake-up (long polls are cut by curl's progress callback).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "actions.h"
#include "common/log.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "transport.h"

#define VIG_TRANSPORT_DEFAULT_QUEUE (8u << 20)
#define VIG_ACTIONS_WAIT_S 30
#define VIG_INVENTORY_EVERY 10            /* heartbeats between inventory checks */
#define VIG_ACTION_MAX_REPLY (8u << 20)   /* an actions long-poll reply */

struct vig_line {
	struct vig_line *next;
	int64_t mono_ns; /* when queued */
	size_t len;      /* bytes of data, newline included */
	char data[];
};

struct vig_transport {
	struct vig_transport_config cfg;
	struct vig_identity id;
	char *base;            /* server URL without a trailing slash */
	char *cacert;          /* trust file or NULL */
	char *state_dir;
	char server_host[256];
	int server_port;
	int64_t start_mono;

	pthread_mutex_t mu;
	pthread_cond_t queue_cv;  /* spooler: lines queued or stop */
	pthread_cond_t spool_cv;  /* sender: a batch was spooled or stop */
	pthread_cond_t wake_cv;   /* heartbeat/actions: stop */
	struct vig_line *head, *tail;
	size_t queued_bytes, queued_lines;
	struct vig_transport_counters c;
	struct vig_agent *agent;
	struct vig_agent_health snap;   /* copy of the agent's health, taken on the sensor thread */
	bool have_snap;
	int64_t snap_mono;
	uint64_t spool_dropped_events;  /* mirror of the spool's dropped_events (no spool lock needed) */
	uint64_t spool_gen;             /* batches spooled: the sender sleeps only when it is unchanged */
	int heartbeat_s;
	bool stop;
	bool spooler_done;
	int64_t deadline_mono;          /* sender gives up after this once stopping */
	atomic_int quit;                /* aborts long polls */

	pthread_mutex_t spool_mu;
	struct vig_spool *spool;

	pthread_t spooler, sender, heartbeat, actions;
	bool have_spooler, have_sender, have_heartbeat, have_actions;
};

/* ---- HTTP ---- */

struct vig_reply_sink {
	struct vig_buf *buf;
	size_t max;
	bool too_big;
};

static size_t vig_on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct vig_reply_sink *s = ctx;

	if (!s->buf)
		return size * n;
	if (s->buf->len + size * n > s->max || vig_buf_add(s->buf, p, size * n) != VIG_OK) {
		s->too_big = true;
		return 0;
	}
	return size * n;
}

static int vig_on_progress(void *ctx, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	atomic_int *quit = ctx;

	(void)a, (void)b, (void)c, (void)d;
	return quit && atomic_load(quit) ? 1 : 0;
}

static enum vig_err vig_http_do_q(void *curl, const struct vig_http_req *req, long *status,
				  struct vig_buf *reply, atomic_int *quit, char *errbuf)
{
	struct vig_reply_sink sink = { .buf = reply, .max = req->max_reply ? req->max_reply : 4u << 20 };
	struct curl_slist *hdrs = NULL;
	CURL *c = curl;
	CURLcode rc;

	*status = 0;
	if (reply)
		vig_buf_reset(reply);
	hdrs = curl_slist_append(hdrs, "Expect:");
	for (size_t i = 0; i < req->n_headers; i++)
		hdrs = curl_slist_append(hdrs, req->headers[i]);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	if (req->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->cacert);
	if (req->cert && req->key) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, req->cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY, req->key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(req->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		if (strcmp(req->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, req->timeout_s ? req->timeout_s : 30L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vig_on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (quit) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, vig_on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, quit);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	rc = curl_easy_perform(c);
	curl_slist_free_all(hdrs);
	if (sink.too_big)
		return vig_errf(errbuf, VIG_ETOOBIG, "reply of %s is larger than %zu bytes", req->url, sink.max);
	if (rc != CURLE_OK)
		return vig_errf(errbuf, VIG_EIO, "%s %s: %s", req->method, req->url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return VIG_OK;
}

enum vig_err vig_http_do(void *curl, const struct vig_http_req *req, long *status, struct vig_buf *reply,
			 char *errbuf)
{
	return vig_http_do_q(curl, req, status, reply, NULL, errbuf);
}

bool vig_url_host_port(const char *url, char *host, size_t cap, int *port)
{
	const char *p, *end, *colon;
	bool tls = strncmp(url, "https://", 8) == 0;
	int64_t v;

	if (!tls && strncmp(url, "http://", 7) != 0)
		return false;
	p = url + (tls ? 8 : 7);
	end = p + strcspn(p, "/?#");
	*port = tls ? 443 : 80;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (!rb)
			return false;
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		p++;
		end = colon ? colon : rb;
		if (!colon && rb + 1 != end)
			end = rb;
		if ((size_t)(rb - p) >= cap || rb == p)
			return false;
		snprintf(host, cap, "%.*s", (int)(rb - p), p);
		if (colon) {
			const char *pe = colon + 1 + strcspn(colon + 1, "/?#");

			if (!vig_parse_i64(colon + 1, (size_t)(pe - colon - 1), &v) || v < 1 || v > 65535)
				return false;
			*port = (int)v;
		}
		return true;
	}
	colon = memchr(p, ':', (size_t)(end - p));
	if (colon) {
		if (!vig_parse_i64(colon + 1, (size_t)(end - colon - 1), &v) || v < 1 || v > 65535)
			return false;
		*port = (int)v;
		end = colon;
	}
	if (end == p || (size_t)(end - p) >= cap)
		return false;
	snprintf(host, cap, "%.*s", (int)(end - p), p);
	return true;
}

/* An agent request: base URL + path, mTLS. */
static enum vig_err vig_agent_req(struct vig_transport *t, CURL *c, const char *method, const char *path,
				  const char *const *hdrs, size_t n_hdrs, const void *body, size_t len,
				  long timeout_s, long *status, struct vig_buf *reply, char *errbuf)
{
	char url[1200];
	struct vig_http_req req = {
		.method = method, .url = url, .cacert = t->cacert, .cert = t->id.cert_path,
		.key = t->id.key_path, .headers = hdrs, .n_headers = n_hdrs, .body = body,
		.body_len = len, .timeout_s = timeout_s, .max_reply = VIG_ACTION_MAX_REPLY,
	};

	snprintf(url, sizeof(url), "%s%s", t->base, path);
	return vig_http_do_q(c, &req, status, reply, &t->quit, errbuf);
}

/* Waits on cv for up to ms milliseconds (mu held); true when stopping. */
static bool vig_wait(struct vig_transport *t, pthread_cond_t *cv, int64_t ms)
{
	struct timespec until;

	if (t->stop)
		return true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cv, &t->mu, &until);
	return t->stop;
}

/* ---- queue and spooler ---- */

enum vig_err vig_transport_submit(struct vig_transport *t, const char *json, size_t len)
{
	struct vig_line *l;

	pthread_mutex_lock(&t->mu);
	if (t->queued_bytes + len + 1 > t->cfg.queue_max_bytes || len + 1 > VIG_SPOOL_BATCH_BYTES) {
		t->c.queue_dropped++;
		pthread_mutex_unlock(&t->mu);
		return VIG_EBUSY;
	}
	pthread_mutex_unlock(&t->mu);
	l = malloc(sizeof(*l) + len + 1);
	if (!l) {
		pthread_mutex_lock(&t->mu);
		t->c.queue_dropped++;
		pthread_mutex_unlock(&t->mu);
		return VIG_ENOMEM;
	}
	l->next = NULL;
	l->len = len + 1;
	l->mono_ns = vig_time_mono();
	memcpy(l->data, json, len);
	l->data[len] = '\n';
	pthread_mutex_lock(&t->mu);
	if (t->tail)
		t->tail->next = l;
	else
		t->head = l;
	t->tail = l;
	t->queued_bytes += l->len;
	t->queued_lines++;
	t->c.queued++;
	/* the first line starts the flush clock: the spooler then sleeps until it is due */
	if (t->queued_lines == 1 || t->queued_lines >= VIG_SPOOL_BATCH_EVENTS ||
	    t->queued_bytes >= VIG_SPOOL_BATCH_BYTES)
		pthread_cond_signal(&t->queue_cv);
	pthread_mutex_unlock(&t->mu);
	return VIG_OK;
}

enum vig_err vig_transport_submit_event(struct vig_transport *t, const struct vig_event *ev)
{
	struct vig_buf b;
	enum vig_err err;

	vig_buf_init(&b, VIG_SPOOL_BATCH_BYTES);
	err = vig_event_to_json(ev, &b);
	if (err == VIG_OK)
		err = vig_transport_submit(t, b.data, b.len);
	else {
		pthread_mutex_lock(&t->mu);
		t->c.queue_dropped++;
		pthread_mutex_unlock(&t->mu);
	}
	vig_buf_release(&b);
	return err;
}

void vig_transport_emit(void *ctx, const struct vig_event *ev)
{
	vig_transport_submit_event(ctx, ev);
}

void vig_agent_emit_transport(void *ctx, const struct vig_event *ev)
{
	struct vig_transport *t = ctx;
	int64_t now = vig_time_mono();

	vig_transport_submit_event(t, ev);
	/* on the sensor thread: publish our drops into the agent's health, snapshot it for the
	 * heartbeat (at most once a second) */
	pthread_mutex_lock(&t->mu);
	if (t->agent) {
		struct vig_agent_health *h = vig_agent_health(t->agent);

		h->output_drops = t->c.queue_dropped + t->c.spool_failed + t->spool_dropped_events;
		if (!t->have_snap || now - t->snap_mono >= VIG_NS_PER_SEC) {
			t->snap = *h;
			t->have_snap = true;
			t->snap_mono = now;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

/* Builds the next batch off the queue head into body; returns its line count. */
static size_t vig_cut_batch(struct vig_transport *t, struct vig_buf *body)
{
	size_t n = 0;

	vig_buf_reset(body);
	for (struct vig_line *l = t->head; l && n < VIG_SPOOL_BATCH_EVENTS; l = l->next) {
		if (body->len + l->len > VIG_SPOOL_BATCH_BYTES)
			break;
		if (vig_buf_add(body, l->data, l->len) != VIG_OK)
			break;
		n++;
	}
	return n;
}

static void vig_pop_lines(struct vig_transport *t, size_t n)
{
	while (n-- && t->head) {
		struct vig_line *l = t->head;

		t->head = l->next;
		if (!t->head)
			t->tail = NULL;
		t->queued_bytes -= l->len;
		t->queued_lines--;
		free(l);
	}
}

static bool vig_batch_due(struct vig_transport *t)
{
	return t->head && (t->stop || t->queued_lines >= VIG_SPOOL_BATCH_EVENTS ||
			   t->queued_bytes >= VIG_SPOOL_BATCH_BYTES ||
			   vig_time_mono() - t->head->mono_ns >= (int64_t)t->cfg.flush_ms * 1000000);
}

static void *vig_spooler_main(void *arg)
{
	struct vig_transport *t = arg;
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_buf body;
	int failures = 0;

	vig_buf_init(&body, VIG_SPOOL_BATCH_BYTES + 1);
	pthread_mutex_lock(&t->mu);
	for (;;) {
		struct vig_spool_stats ss;
		enum vig_err err;
		size_t n;

		if (!vig_batch_due(t)) {
			int64_t ms = 100;

			if (t->stop)
				break;
			if (t->head) /* until the oldest line is due */
				ms = t->cfg.flush_ms - (vig_time_mono() - t->head->mono_ns) / 1000000;
			vig_wait(t, &t->queue_cv, VIG_MAX(1, VIG_MIN(ms, 100)));
			continue;
		}
		n = vig_cut_batch(t, &body);
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_lock(&t->spool_mu);
		err = vig_spool_put(t->spool, body.data, body.len, (uint32_t)n, NULL, errbuf);
		vig_spool_stats(t->spool, &ss);
		pthread_mutex_unlock(&t->spool_mu);
		pthread_mutex_lock(&t->mu);
		t->spool_dropped_events = ss.dropped_events;
		if (err == VIG_OK) {
			vig_pop_lines(t, n);
			failures = 0;
			t->spool_gen++;
			pthread_cond_broadcast(&t->spool_cv);
			continue;
		}
		vig_warn("agent", "spool write failed", "err=\"%s\" events=%zu", errbuf, n);
		if (err == VIG_ETOOBIG || ++failures >= 5 || t->stop) {
			/* the batch can never be written (or the disk keeps failing): count it lost */
			t->c.spool_failed += n;
			vig_pop_lines(t, n);
			failures = 0;
			continue;
		}
		vig_wait(t, &t->queue_cv, 1000);
	}
	t->spooler_done = true;
	pthread_cond_broadcast(&t->spool_cv);
	pthread_mutex_unlock(&t->mu);
	vig_buf_release(&body);
	return NULL;
}

/* ---- sender ---- */

/* Sends one spooled batch; returns the HTTP status (0: no answer). */
static long vig_send_batch(struct vig_transport *t, CURL *c, uint64_t seq, const struct vig_buf *zst,
			   struct vig_buf *reply, char *errbuf)
{
	char batch_hdr[128];
	const char *hdrs[] = { "Content-Type: application/x-ndjson", "Content-Encoding: zstd", batch_hdr };
	long status = 0;

	snprintf(batch_hdr, sizeof(batch_hdr), "X-Vigil-Batch-Id: %s:%llu", t->id.agent_id,
		 (unsigned long long)seq);
	if (vig_agent_req(t, c, "POST", "/api/v1/agent/events", hdrs, VIG_ARRAY_LEN(hdrs), zst->data,
			  zst->len, 60, &status, reply, errbuf) != VIG_OK)
		return 0;
	return status;
}

/* Accounts a 2xx reply ({"accepted","rejected","duplicate"}). */
static void vig_count_sent(struct vig_transport *t, const struct vig_buf *reply)
{
	json_t *doc = json_loadb(reply->data ? reply->data : "", reply->len, 0, NULL);
	json_t *dup = json_object_get(doc, "duplicate");

	pthread_mutex_lock(&t->mu);
	t->c.sent_batches++;
	t->c.sent_events += (uint64_t)json_integer_value(json_object_get(doc, "accepted"));
	if (json_is_true(dup))
		t->c.duplicates++;
	pthread_mutex_unlock(&t->mu);
	json_decref(doc);
}

static void *vig_sender_main(void *arg)
{
	struct vig_transport *t = arg;
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_buf zst, reply;
	CURL *c = curl_easy_init();
	int backoff_ms = 1000;
	long last_status = -1;

	vig_buf_init(&zst, 2 * VIG_SPOOL_BATCH_BYTES + 1);
	vig_buf_init(&reply, 1u << 20);
	while (c) {
		enum vig_err err;
		uint64_t seq = 0, gen;
		long status;

		pthread_mutex_lock(&t->mu);
		if (t->stop && t->spooler_done && vig_time_mono() >= t->deadline_mono) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		gen = t->spool_gen;
		pthread_mutex_unlock(&t->mu);
		pthread_mutex_lock(&t->spool_mu);
		err = vig_spool_peek(t->spool, &seq, &zst, errbuf);
		pthread_mutex_unlock(&t->spool_mu);
		if (err != VIG_OK) {
			pthread_mutex_lock(&t->mu);
			if (t->stop && t->spooler_done) {
				pthread_mutex_unlock(&t->mu);
				break;
			}
			if (t->spool_gen == gen) /* else a batch came after the peek */
				pthread_cond_timedwait(&t->spool_cv, &t->mu,
						       &(struct timespec){ .tv_sec = time(NULL) + 1 });
			pthread_mutex_unlock(&t->mu);
			continue;
		}
		status = vig_send_batch(t, c, seq, &zst, &reply, errbuf);
		if (status >= 200 && status < 300) {
			vig_count_sent(t, &reply);
			pthread_mutex_lock(&t->spool_mu);
			vig_spool_ack(t->spool, seq, NULL);
			pthread_mutex_unlock(&t->spool_mu);
			if (last_status != status)
				vig_info("agent", "sending events", "status=%ld seq=%llu", status,
					 (unsigned long long)seq);
			last_status = status;
			backoff_ms = 1000;
			continue;
		}
		if (status >= 400 && status < 500 && status != 429 && status != 401 && status != 403 &&
		    status != 408) {
			vig_error("agent", "batch refused by the server, dropped", "seq=%llu status=%ld reply=\"%.200s\"",
				  (unsigned long long)seq, status, reply.data ? reply.data : "");
			pthread_mutex_lock(&t->mu);
			t->c.rejected_batches++;
			pthread_mutex_unlock(&t->mu);
			pthread_mutex_lock(&t->spool_mu);
			vig_spool_ack(t->spool, seq, NULL);
			pthread_mutex_unlock(&t->spool_mu);
			continue;
		}
		pthread_mutex_lock(&t->mu);
		t->c.send_failures++;
		if (status == 401 || status == 403)
			t->c.auth_failures++;
		if (last_status != status)
			vig_warn("agent", "event batch not delivered, kept in the spool",
				 "seq=%llu status=%ld err=\"%s\" retry_ms=%d", (unsigned long long)seq, status,
				 status ? "" : errbuf, backoff_ms);
		last_status = status;
		if (t->stop && vig_time_mono() >= t->deadline_mono) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		if (!t->stop)
			vig_wait(t, &t->wake_cv, backoff_ms);
		else
			pthread_cond_timedwait(&t->wake_cv, &t->mu, &(struct timespec){ .tv_sec = time(NULL) + 1 });
		pthread_mutex_unlock(&t->mu);
		backoff_ms = backoff_ms >= 16000 ? 30000 : backoff_ms * 2;
	}
	vig_buf_release(&zst);
	vig_buf_release(&reply);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

/* ---- heartbeat and inventory ---- */

static bool vig_isolated(const struct vig_transport *t)
{
	char path[VIG_AGENT_PATH_MAX];
	json_t *doc, *v;
	bool on;

	snprintf(path, sizeof(path), "%s/isolation.json", t->state_dir);
	doc = json_load_file(path, 0, NULL);
	if (!doc)
		return false;
	v = json_object_get(doc, "isolated");
	on = v ? json_is_true(v) : true;
	json_decref(doc);
	return on;
}

static json_t *vig_heartbeat_doc(struct vig_transport *t)
{
	struct vig_transport_counters c;
	struct vig_agent_health h;
	struct vig_spool_stats ss;
	char hostname[256] = "", oldest[40] = "";
	json_t *doc, *probes, *counters;
	bool have;

	vig_transport_counters(t, &c, &ss);
	pthread_mutex_lock(&t->mu);
	h = t->snap;
	have = t->have_snap;
	pthread_mutex_unlock(&t->mu);
	gethostname(hostname, sizeof(hostname) - 1);
	if (ss.oldest_ns)
		vig_time_format(ss.oldest_ns, oldest);
	probes = json_object();
	for (size_t i = 0; have && i < h.n_progs && i < VIG_AGENT_MAX_PROGS; i++)
		json_object_set_new(probes, h.progs[i].name,
				    json_string(h.progs[i].attached ? "attached" : h.progs[i].loaded ? "loaded" : "off"));
	counters = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			     "events", (json_int_t)(have ? h.events : 0),
			     "bad_records", (json_int_t)(have ? h.bad_records : 0),
			     "queue_dropped", (json_int_t)c.queue_dropped,
			     "spool_dropped", (json_int_t)ss.dropped_events,
			     "spool_dropped_batches", (json_int_t)ss.dropped_batches,
			     "spool_failed", (json_int_t)c.spool_failed,
			     "spool_corrupt", (json_int_t)ss.corrupt,
			     "sent_batches", (json_int_t)c.sent_batches,
			     "sent_events", (json_int_t)c.sent_events,
			     "send_failures", (json_int_t)c.send_failures,
			     "rejected_batches", (json_int_t)c.rejected_batches,
			     "actions", (json_int_t)c.actions);
	if (have) {
		static const char *const drop_names[VIG_ABI_DROP__COUNT] = { "drops_process", "drops_network",
									     "drops_file", "drops_misc",
									     "drops_file_rate_limited" };

		for (size_t i = 0; i < VIG_ABI_DROP__COUNT && i < VIG_ARRAY_LEN(drop_names); i++)
			json_object_set_new(counters, drop_names[i], json_integer((json_int_t)h.drops[i]));
	}
	doc = json_pack("{s:s, s:s, s:s, s:I, s:o, s:o, s:{s:I, s:I, s:o}, s:b}", "version", VIG_VERSION,
			"mode", have && h.mode ? h.mode : (t->cfg.mode ? t->cfg.mode : "ebpf"), "hostname", hostname,
			"uptime_s", (json_int_t)((vig_time_mono() - t->start_mono) / VIG_NS_PER_SEC),
			"probes", probes, "counters", counters, "spool", "bytes", (json_int_t)ss.bytes,
			"batches", (json_int_t)ss.batches, "oldest", oldest[0] ? json_string(oldest) : json_null(),
			"isolated", vig_isolated(t));
	if (doc && !have && !t->cfg.mode)
		json_object_del(doc, "mode"); /* no sensors: the protocol knows ebpf and fallback only */
	return doc;
}

static void vig_send_heartbeat(struct vig_transport *t, CURL *c)
{
	static const char *const hdrs[] = { "Content-Type: application/json" };
	char errbuf[VIG_ERRBUF_SIZE], *body;
	json_t *doc = vig_heartbeat_doc(t), *reply_doc;
	struct vig_buf reply;
	long status = 0;

	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body)
		return;
	vig_buf_init(&reply, 64u << 10);
	if (vig_agent_req(t, c, "POST", "/api/v1/agent/heartbeat", hdrs, 1, body, strlen(body), 30, &status,
			  &reply, errbuf) != VIG_OK || status < 200 || status >= 300) {
		vig_warn("agent", "heartbeat failed", "status=%ld err=\"%s\"", status, status ? "" : errbuf);
		pthread_mutex_lock(&t->mu);
		if (status == 401 || status == 403)
			t->c.auth_failures++;
		pthread_mutex_unlock(&t->mu);
		goto out_free;
	}
	reply_doc = json_loadb(reply.data ? reply.data : "", reply.len, 0, NULL);
	if (json_is_integer(json_object_get(reply_doc, "heartbeat_s"))) {
		json_int_t s = json_integer_value(json_object_get(reply_doc, "heartbeat_s"));

		pthread_mutex_lock(&t->mu);
		if (s >= 1 && s <= 3600)
			t->heartbeat_s = (int)s;
		pthread_mutex_unlock(&t->mu);
	}
	json_decref(reply_doc);
	pthread_mutex_lock(&t->mu);
	t->c.heartbeats++;
	pthread_mutex_unlock(&t->mu);
out_free:
	vig_buf_release(&reply);
	free(body);
}

/* Posts the inventory when its hash differs from last_hash (65 bytes, updated on success). */
static void vig_send_inventory(struct vig_transport *t, CURL *c, char *last_hash)
{
	static const char *const hdrs[] = { "Content-Type: application/json" };
	char errbuf[VIG_ERRBUF_SIZE], *body = NULL;
	const char *hash;
	json_t *inv;
	long status = 0;

	inv = vig_inventory_collect(errbuf);
	if (!inv) {
		vig_warn("agent", "inventory failed", "err=\"%s\"", errbuf);
		return;
	}
	hash = json_string_value(json_object_get(inv, "hash"));
	if (hash && strcmp(hash, last_hash) == 0)
		goto out_free;
	body = json_dumps(inv, JSON_COMPACT);
	if (body && vig_agent_req(t, c, "POST", "/api/v1/agent/inventory", hdrs, 1, body, strlen(body), 60,
				  &status, NULL, errbuf) == VIG_OK && status >= 200 && status < 300) {
		snprintf(last_hash, 65, "%s", hash ? hash : "");
		vig_info("agent", "inventory sent", "hash=%s", hash ? hash : "");
	} else {
		vig_warn("agent", "inventory not delivered", "status=%ld err=\"%s\"", status, status ? "" : errbuf);
	}
out_free:
	free(body);
	json_decref(inv);
}

static void *vig_heartbeat_main(void *arg)
{
	struct vig_transport *t = arg;
	char last_hash[65] = "";
	CURL *c = curl_easy_init();
	unsigned beats = 0;

	while (c) {
		int interval;

		if (beats % VIG_INVENTORY_EVERY == 0)
			vig_send_inventory(t, c, last_hash);
		vig_send_heartbeat(t, c);
		beats++;
		pthread_mutex_lock(&t->mu);
		interval = t->heartbeat_s;
		if (vig_wait(t, &t->wake_cv, (int64_t)interval * 1000)) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		pthread_mutex_unlock(&t->mu);
	}
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

/* ---- actions ---- */

struct vig_upload_ctx {
	struct vig_transport *t;
	CURL *c;
};

/* vig_action_upload_fn: PUT one chunk of a collect action's file. */
static enum vig_err vig_transport_upload(void *arg, const char *action_id, uint64_t offset, uint64_t total,
					 const void *data, size_t n, bool final, const char *sha256_hex,
					 char *errbuf)
{
	struct vig_upload_ctx *u = arg;
	char path[256], sha_hdr[128], total_hdr[64];
	const char *hdrs[4] = { "Content-Type: application/octet-stream", total_hdr };
	size_t nh = 2;
	long status = 0;
	enum vig_err err;

	if (n > VIG_SPOOL_BATCH_BYTES)
		return vig_errf(errbuf, VIG_ETOOBIG, "upload chunk of %zu bytes exceeds 1 MiB", n);
	if (strlen(action_id) > 64 || strspn(action_id, "0123456789abcdefABCDEF-") != strlen(action_id))
		return vig_errf(errbuf, VIG_EINVAL, "bad action id");
	snprintf(path, sizeof(path), "/api/v1/agent/actions/%s/upload?offset=%llu", action_id,
		 (unsigned long long)offset);
	snprintf(total_hdr, sizeof(total_hdr), "X-Vigil-Upload-Total: %llu", (unsigned long long)total);
	if (final) {
		hdrs[nh++] = "X-Vigil-Final: 1";
		snprintf(sha_hdr, sizeof(sha_hdr), "X-Vigil-Sha256: %s", sha256_hex ? sha256_hex : "");
		hdrs[nh++] = sha_hdr;
	}
	err = vig_agent_req(u->t, u->c, "PUT", path, hdrs, nh, data, n, 120, &status, NULL, errbuf);
	if (err != VIG_OK)
		return err;
	if (status < 200 || status >= 300)
		return vig_errf(errbuf, VIG_EIO, "upload refused with status %ld", status);
	return VIG_OK;
}

static void vig_post_result(struct vig_transport *t, CURL *c, const char *id, json_t *result, const char *error)
{
	static const char *const hdrs[] = { "Content-Type: application/json" };
	char path[256], errbuf[VIG_ERRBUF_SIZE], *body;
	json_t *doc;
	long status = 0;

	if (result)
		doc = json_pack("{s:s, s:O}", "status", "succeeded", "result", result);
	else
		doc = json_pack("{s:s, s:{}, s:s}", "status", "failed", "result", "error", error ? error : "failed");
	body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!body)
		return;
	snprintf(path, sizeof(path), "/api/v1/agent/actions/%s/result", id);
	for (int attempt = 0; attempt < 5; attempt++) {
		if (vig_agent_req(t, c, "POST", path, hdrs, 1, body, strlen(body), 60, &status, NULL, errbuf) ==
			    VIG_OK && status >= 200 && status < 500)
			break;
		if (atomic_load(&t->quit))
			break;
		sleep(1u << attempt);
	}
	if (status < 200 || status >= 300)
		vig_warn("agent", "action result not delivered", "action=%s status=%ld", id, status);
	free(body);
}

static void vig_run_action(struct vig_transport *t, CURL *c, const struct vig_action_env *env, json_t *a)
{
	json_t *jid = json_object_get(a, "id");
	const char *id = json_string_value(jid);
	char idbuf[32];
	const char *type = json_string_value(json_object_get(a, "type"));
	const char *by = json_string_value(json_object_get(a, "requested_by"));
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *result = NULL;
	enum vig_err err;

	if (json_is_integer(jid) && json_integer_value(jid) > 0) {
		/* the server numbers actions; the protocol's paths take the number as text */
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(jid));
		id = idbuf;
	}
	if (!id || !type || strlen(id) > 64 || strspn(id, "0123456789abcdefABCDEF-") != strlen(id)) {
		vig_warn("agent", "malformed action ignored", "id=\"%s\"", id ? id : "");
		return;
	}
	vig_info("agent", "action received", "action=%s type=%s requested_by=\"%s\"", id, type, by ? by : "");
	err = vig_action_run(env, id, type, json_object_get(a, "params"), &result, errbuf);
	vig_info("agent", "action done", "action=%s type=%s requested_by=\"%s\" outcome=%s err=\"%s\"", id, type,
		 by ? by : "", err == VIG_OK ? "succeeded" : "failed", err == VIG_OK ? "" : errbuf);
	pthread_mutex_lock(&t->mu);
	t->c.actions++;
	pthread_mutex_unlock(&t->mu);
	vig_post_result(t, c, id, err == VIG_OK ? result : NULL, errbuf);
	json_decref(result);
}

static void *vig_actions_main(void *arg)
{
	struct vig_transport *t = arg;
	char errbuf[VIG_ERRBUF_SIZE], path[64];
	struct vig_upload_ctx up = { .t = t, .c = curl_easy_init() };
	struct vig_action_env env = { .state_dir = t->state_dir, .server_host = t->server_host,
				      .server_port = t->server_port, .upload = vig_transport_upload,
				      .upload_arg = &up, .fim = t->cfg.fim };
	CURL *c = curl_easy_init();
	struct vig_buf reply;
	int backoff_ms = 1000;

	vig_buf_init(&reply, VIG_ACTION_MAX_REPLY + 1);
	snprintf(path, sizeof(path), "/api/v1/agent/actions?wait=%d", VIG_ACTIONS_WAIT_S);
	while (c && up.c) {
		json_t *doc, *list;
		long status = 0;
		size_t i;

		pthread_mutex_lock(&t->mu);
		if (t->stop) {
			pthread_mutex_unlock(&t->mu);
			break;
		}
		pthread_mutex_unlock(&t->mu);
		if (vig_agent_req(t, c, "GET", path, NULL, 0, NULL, 0, VIG_ACTIONS_WAIT_S + 15, &status, &reply,
				  errbuf) != VIG_OK || status != 200) {
			if (atomic_load(&t->quit))
				break;
			vig_debug("agent", "actions poll failed", "status=%ld err=\"%s\"", status, status ? "" : errbuf);
			pthread_mutex_lock(&t->mu);
			if (status == 401 || status == 403)
				t->c.auth_failures++;
			vig_wait(t, &t->wake_cv, backoff_ms);
			pthread_mutex_unlock(&t->mu);
			backoff_ms = backoff_ms >= 16000 ? 30000 : backoff_ms * 2;
			continue;
		}
		backoff_ms = 1000;
		doc = json_loadb(reply.data ? reply.data : "", reply.len, 0, NULL);
		list = json_object_get(doc, "actions");
		for (i = 0; json_is_array(list) && i < json_array_size(list) && !atomic_load(&t->quit); i++)
			vig_run_action(t, c, &env, json_array_get(list, i));
		json_decref(doc);
	}
	vig_buf_release(&reply);
	if (c)
		curl_easy_cleanup(c);
	if (up.c)
		curl_easy_cleanup(up.c);
	return NULL;
}

/* ---- lifecycle ---- */

void vig_transport_counters(struct vig_transport *t, struct vig_transport_counters *c, struct vig_spool_stats *s)
{
	if (c) {
		pthread_mutex_lock(&t->mu);
		*c = t->c;
		pthread_mutex_unlock(&t->mu);
	}
	if (s) {
		pthread_mutex_lock(&t->spool_mu);
		vig_spool_stats(t->spool, s);
		pthread_mutex_unlock(&t->spool_mu);
	}
}

void vig_transport_set_agent(struct vig_transport *t, struct vig_agent *a)
{
	pthread_mutex_lock(&t->mu);
	t->agent = a;
	pthread_mutex_unlock(&t->mu);
}

static void vig_transport_stop_threads(struct vig_transport *t, int timeout_ms)
{
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	t->deadline_mono = vig_time_mono() + (int64_t)timeout_ms * 1000000;
	pthread_cond_broadcast(&t->queue_cv);
	pthread_cond_broadcast(&t->spool_cv);
	pthread_cond_broadcast(&t->wake_cv);
	pthread_mutex_unlock(&t->mu);
	atomic_store(&t->quit, 1); /* long polls and heartbeats end now; the sender runs to the deadline */
	if (t->have_actions)
		pthread_join(t->actions, NULL);
	if (t->have_heartbeat)
		pthread_join(t->heartbeat, NULL);
	if (t->have_spooler)
		pthread_join(t->spooler, NULL);
	if (t->have_sender)
		pthread_join(t->sender, NULL);
}

void vig_transport_free(struct vig_transport *t, int timeout_ms)
{
	struct vig_spool_stats ss = { 0 };

	if (!t)
		return;
	vig_transport_stop_threads(t, timeout_ms);
	if (t->spool)
		vig_spool_stats(t->spool, &ss);
	vig_info("agent", "transport stopped", "sent_batches=%llu queue_dropped=%llu spooled_batches=%llu "
		 "spool_dropped=%llu", (unsigned long long)t->c.sent_batches,
		 (unsigned long long)t->c.queue_dropped, (unsigned long long)ss.batches,
		 (unsigned long long)ss.dropped_events);
	vig_pop_lines(t, SIZE_MAX);
	vig_spool_free(t->spool);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->spool_mu);
	pthread_cond_destroy(&t->queue_cv);
	pthread_cond_destroy(&t->spool_cv);
	pthread_cond_destroy(&t->wake_cv);
	free(t->base);
	free(t->cacert);
	free(t->state_dir);
	free(t);
	curl_global_cleanup();
}

struct vig_transport *vig_transport_new(const struct vig_transport_config *cfg, char *errbuf)
{
	char spool_dir[VIG_AGENT_PATH_MAX];
	struct vig_transport *t;
	size_t blen;
	int rc;

	if (!cfg->server || !cfg->id || !cfg->state_dir) {
		vig_errf(errbuf, VIG_EINVAL, "transport needs a server, an identity and a state directory");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	t->cfg = *cfg;
	t->id = *cfg->id;
	t->cfg.id = &t->id;
	if (!t->cfg.spool_max_bytes)
		t->cfg.spool_max_bytes = VIG_SPOOL_DEFAULT_MAX;
	if (!t->cfg.queue_max_bytes)
		t->cfg.queue_max_bytes = VIG_TRANSPORT_DEFAULT_QUEUE;
	if (t->cfg.flush_ms <= 0)
		t->cfg.flush_ms = VIG_TRANSPORT_FLUSH_MS;
	t->heartbeat_s = cfg->heartbeat_s > 0 ? cfg->heartbeat_s : 30;
	t->start_mono = vig_time_mono();
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->spool_mu, NULL);
	pthread_cond_init(&t->queue_cv, NULL);
	pthread_cond_init(&t->spool_cv, NULL);
	pthread_cond_init(&t->wake_cv, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t->base = strdup(cfg->server);
	t->state_dir = strdup(cfg->state_dir);
	t->cacert = cfg->cacert ? strdup(cfg->cacert) : NULL;
	if (!t->base || !t->state_dir || (cfg->cacert && !t->cacert)) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	blen = strlen(t->base);
	while (blen && t->base[blen - 1] == '/')
		t->base[--blen] = '\0';
	if (!vig_url_host_port(t->base, t->server_host, sizeof(t->server_host), &t->server_port)) {
		vig_errf(errbuf, VIG_EINVAL, "cannot read host and port of %s", t->base);
		goto out_free;
	}
	snprintf(spool_dir, sizeof(spool_dir), "%s/spool", cfg->state_dir);
	t->spool = vig_spool_open(spool_dir, t->cfg.spool_max_bytes, errbuf);
	if (!t->spool)
		goto out_free;
	if (!cfg->no_actions) {
		struct vig_action_env env = { .state_dir = t->state_dir, .server_host = t->server_host,
					      .server_port = t->server_port };
		char why[VIG_ERRBUF_SIZE];

		if (vig_action_restore(&env, why) != VIG_OK)
			vig_error("agent", "cannot restore the action state", "err=\"%s\"", why);
	}
	rc = pthread_create(&t->spooler, NULL, vig_spooler_main, t);
	t->have_spooler = rc == 0;
	if (!rc) {
		rc = pthread_create(&t->sender, NULL, vig_sender_main, t);
		t->have_sender = rc == 0;
	}
	if (!rc) {
		rc = pthread_create(&t->heartbeat, NULL, vig_heartbeat_main, t);
		t->have_heartbeat = rc == 0;
	}
	if (!rc && !cfg->no_actions) {
		rc = pthread_create(&t->actions, NULL, vig_actions_main, t);
		t->have_actions = rc == 0;
	}
	if (rc) {
		vig_errf(errbuf, VIG_EIO, "cannot start the transport threads");
		vig_transport_free(t, 0);
		return NULL;
	}
	return t;
out_free:
	vig_transport_free(t, 0);
	return NULL;
}
