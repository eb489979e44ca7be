/*
 * output.c - where events go: stdout (one JSON object per line) or an HTTP poster that sends
 * NDJSON batches to the server's POST /api/v1/events with a Bearer token.
 *
 * Poster: the sensor thread appends encoded lines to a bounded in-memory queue (at most
 * max_queue_bytes; past it, new events are dropped and counted, never blocking the sensors);
 * a sender thread takes batches of at most VIG_POST_BATCH_LINES lines / VIG_POST_BATCH_BYTES
 * bytes, posts them, and on failure keeps the batch and retries with exponential backoff
 * (1 s doubling to 30 s). Delivery is at-least-once while the agent runs; nothing survives a
 * restart (the disk spool and mTLS are the transport task's).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "agent.h"
#include "common/log.h"
#include "event/event_json.h"

#define VIG_POST_BATCH_LINES 1000
#define VIG_POST_BATCH_BYTES (1u << 20)
#define VIG_POST_DEFAULT_QUEUE (8u << 20)

void vig_agent_emit_stdout(void *ctx, const struct vig_event *ev)
{
	struct vig_buf b;

	(void)ctx;
	vig_buf_init(&b, 1u << 20);
	if (vig_event_to_json(ev, &b) == VIG_OK && vig_buf_addc(&b, '\n') == VIG_OK) {
		fwrite(b.data, 1, b.len, stdout);
		fflush(stdout);
	}
	vig_buf_release(&b);
}

struct vig_line {
	struct vig_line *next;
	size_t len;
	char data[];
};

struct vig_agent_poster {
	char *url;
	char *auth;                 /* "Authorization: Bearer ..." */
	char *cacert;               /* PEM file of trusted certificates, or NULL: the system's */
	size_t max_bytes;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vig_line *head, *tail; /* queue, oldest first */
	size_t queued_bytes;
	uint64_t dropped;
	uint64_t sent;
	bool stop;
	pthread_t thread;
};

static size_t vig_discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* Posts body; true on a 2xx answer. */
static bool vig_post(struct vig_agent_poster *p, CURL *c, const char *body, size_t len)
{
	struct curl_slist *hdrs = NULL;
	long code = 0;
	CURLcode rc;

	hdrs = curl_slist_append(hdrs, "Content-Type: application/x-ndjson");
	hdrs = curl_slist_append(hdrs, p->auth);
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	if (p->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, p->cacert);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, vig_discard);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK || code < 200 || code >= 300) {
		vig_warn("agent", "event post failed", "url=\"%s\" curl=\"%s\" status=%ld", p->url,
			 curl_easy_strerror(rc), code);
		return false;
	}
	return true;
}

/* Builds the next batch from the queue head (lines stay queued until sent). */
static size_t vig_batch(struct vig_agent_poster *p, struct vig_buf *body)
{
	size_t n = 0;

	vig_buf_reset(body);
	for (struct vig_line *l = p->head; l && n < VIG_POST_BATCH_LINES; l = l->next) {
		if (n && body->len + l->len > VIG_POST_BATCH_BYTES)
			break;
		if (vig_buf_add(body, l->data, l->len) != VIG_OK)
			break;
		n++;
	}
	return n;
}

static void vig_pop(struct vig_agent_poster *p, size_t n)
{
	while (n-- && p->head) {
		struct vig_line *l = p->head;

		p->head = l->next;
		if (!p->head)
			p->tail = NULL;
		p->queued_bytes -= l->len;
		free(l);
	}
}

static void *vig_sender(void *arg)
{
	struct vig_agent_poster *p = arg;
	CURL *c = curl_easy_init();
	struct vig_buf body;
	int backoff_s = 1;
	bool final = false;

	vig_buf_init(&body, VIG_POST_BATCH_BYTES * 2);
	pthread_mutex_lock(&p->mu);
	while (c && !final) {
		struct timespec until;
		size_t n;
		bool ok;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!p->stop && !p->head)
			pthread_cond_timedwait(&p->cv, &p->mu, &until);
		final = p->stop;
		n = vig_batch(p, &body);
		if (!n)
			continue;
		pthread_mutex_unlock(&p->mu);
		ok = vig_post(p, c, body.data, body.len);
		pthread_mutex_lock(&p->mu);
		if (ok) {
			vig_pop(p, n);
			p->sent++;
			backoff_s = 1;
			if (final && p->head)
				final = false; /* more to flush: keep going while the server answers */
			continue;
		}
		if (final)
			break;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += backoff_s;
		pthread_cond_timedwait(&p->cv, &p->mu, &until);
		backoff_s = backoff_s >= 16 ? 30 : backoff_s * 2;
	}
	pthread_mutex_unlock(&p->mu);
	vig_buf_release(&body);
	if (c)
		curl_easy_cleanup(c);
	return NULL;
}

struct vig_agent_poster *vig_agent_poster_new(const char *url, const char *token, const char *cacert,
					      size_t max_queue_bytes, char *errbuf)
{
	struct vig_agent_poster *p;
	size_t alen;

	if (!url || strncmp(url, "http", 4) != 0) {
		vig_errf(errbuf, VIG_EINVAL, "server url must start with http:// or https://");
		return NULL;
	}
	if (!token || !token[0] || strpbrk(token, "\r\n")) {
		vig_errf(errbuf, VIG_EINVAL, "a token without line breaks is required");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out_nomem;
	alen = strlen(token) + 32;
	p->auth = malloc(alen);
	p->url = malloc(strlen(url) + 32);
	p->cacert = cacert ? strdup(cacert) : NULL;
	if (!p->auth || !p->url || (cacert && !p->cacert))
		goto out_free;
	snprintf(p->auth, alen, "Authorization: Bearer %s", token);
	snprintf(p->url, strlen(url) + 32, "%s%s", url,
		 strstr(url, "/api/v1/events") ? "" : (url[strlen(url) - 1] == '/' ? "api/v1/events" : "/api/v1/events"));
	p->max_bytes = max_queue_bytes ? max_queue_bytes : VIG_POST_DEFAULT_QUEUE;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pthread_create(&p->thread, NULL, vig_sender, p) != 0) {
		vig_errf(errbuf, VIG_EIO, "cannot start the sender thread");
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->cv);
		goto out_free;
	}
	return p;
out_free:
	free(p->auth);
	free(p->cacert);
	free(p->url);
	free(p);
out_nomem:
	vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return NULL;
}

void vig_agent_emit_poster(void *ctx, const struct vig_event *ev)
{
	struct vig_agent_poster *p = ctx;
	struct vig_line *l;
	struct vig_buf b;

	vig_buf_init(&b, VIG_POST_BATCH_BYTES);
	if (vig_event_to_json(ev, &b) != VIG_OK || vig_buf_addc(&b, '\n') != VIG_OK)
		goto out_release;
	pthread_mutex_lock(&p->mu);
	if (p->queued_bytes + b.len > p->max_bytes) {
		p->dropped++;
		pthread_mutex_unlock(&p->mu);
		goto out_release;
	}
	pthread_mutex_unlock(&p->mu);
	l = malloc(sizeof(*l) + b.len);
	if (!l)
		goto out_release;
	l->next = NULL;
	l->len = b.len;
	memcpy(l->data, b.data, b.len);
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = l;
	else
		p->head = l;
	p->tail = l;
	p->queued_bytes += l->len;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
out_release:
	vig_buf_release(&b);
}

uint64_t vig_agent_poster_dropped(const struct vig_agent_poster *p)
{
	return p->dropped;
}

uint64_t vig_agent_poster_sent(const struct vig_agent_poster *p)
{
	return p->sent;
}

void vig_agent_poster_free(struct vig_agent_poster *p, int timeout_ms)
{
	if (!p)
		return;
	(void)timeout_ms; /* bounded by the curl timeouts of the final flush */
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	vig_pop(p, SIZE_MAX);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->auth);
	free(p->cacert);
	free(p->url);
	free(p);
	curl_global_cleanup();
}
