/*
 * offload.c - slow request handlers run on worker threads, not on the event loop.
 *
 * A handler whose work grows with its input (compiling and testing a rule set, loading a
 * 40 MB ATT&CK bundle, compiling a retro-hunt) would stall every other connection, the
 * agents' long polls and the live stream if it ran on the loop. Routes marked `offload` in
 * server.c are handed to a small pool instead: the handler runs unchanged on a worker, and
 * its one vig_reply_* call is captured (status, content type, a copy of the body) rather
 * than sent. The capture goes on a done list and wakes the loop, which sends it with the
 * usual headers, access log and counters. Only the loop ever calls into evhttp to send.
 *
 * While a job runs, the loop does not touch its request: libevent keeps an unanswered
 * request alive (detached) even when the client goes away, and answering a detached
 * request just frees it. Response headers a handler adds (Retry-After) go on the request
 * before the capture, while the loop leaves it alone.
 *
 * Bounds: VIG_OFFLOAD_THREADS workers and at most VIG_OFFLOAD_QUEUE waiting jobs; beyond
 * that the request is answered 503 with Retry-After at once (counted). At stop, the workers
 * finish the job they hold; waiting jobs are answered 503 "shutting down".
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "server_int.h"

#define VIG_OFFLOAD_THREADS 2
#define VIG_OFFLOAD_QUEUE 64

struct vig_offload_job {
	struct vig_offload_job *next;
	struct vig_req *r;
	void (*fn)(struct vig_req *r);
	int status;    /* the captured reply */
	char *ctype;
	char *body;
	size_t n;
};

struct vig_offload {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vig_offload_job *todo_head, *todo_tail; /* waiting for a worker */
	struct vig_offload_job *done_head, *done_tail; /* captured, waiting for the loop */
	size_t waiting;
	bool stop;
	struct event *done_ev;
	pthread_t th[VIG_OFFLOAD_THREADS];
	int n_th;
	int64_t ran, rejected, running; /* counters (under mu) */
};

static void push(struct vig_offload_job **head, struct vig_offload_job **tail, struct vig_offload_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

static struct vig_offload_job *pop(struct vig_offload_job **head, struct vig_offload_job **tail)
{
	struct vig_offload_job *j = *head;

	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
	}
	return j;
}

bool vig_offload_capture(struct vig_req *r, int status, const char *ctype, const char *text, size_t n)
{
	struct vig_offload *o = r->srv->offload;
	struct vig_offload_job *j = r->offload_job;

	if (!j)
		return false;
	j->status = status;
	j->ctype = strdup(ctype ? ctype : "application/json");
	j->body = malloc(n + 1);
	if (!j->ctype || !j->body) {
		free(j->ctype);
		free(j->body);
		j->ctype = NULL; /* the loop answers 500 */
		j->body = NULL;
		n = 0;
	} else {
		memcpy(j->body, text ? text : "", n);
		j->body[n] = '\0';
	}
	j->n = n;
	pthread_mutex_lock(&o->mu);
	push(&o->done_head, &o->done_tail, j);
	pthread_mutex_unlock(&o->mu);
	event_active(o->done_ev, EV_READ, 0);
	return true;
}

/* Loop thread: sends what the workers captured. */
static void on_done(evutil_socket_t fd, short what, void *arg)
{
	struct vig_offload *o = arg;
	struct vig_offload_job *j;

	(void)fd;
	(void)what;
	for (;;) {
		pthread_mutex_lock(&o->mu);
		j = pop(&o->done_head, &o->done_tail);
		pthread_mutex_unlock(&o->mu);
		if (!j)
			break;
		j->r->offload_job = NULL;
		if (!j->ctype)
			vig_reply_err(j->r, VIG_ENOMEM, "out of memory");
		else
			vig_reply_text(j->r, j->status, j->ctype, j->body, j->n);
		free(j->ctype);
		free(j->body);
		free(j);
	}
}

static void *worker_main(void *arg)
{
	struct vig_offload *o = arg;
	struct vig_offload_job *j;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->stop && !o->todo_head)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->stop)
			break;
		j = pop(&o->todo_head, &o->todo_tail);
		o->waiting--;
		o->running++;
		pthread_mutex_unlock(&o->mu);
		j->fn(j->r); /* ends in exactly one vig_reply_*, captured above */
		pthread_mutex_lock(&o->mu);
		o->running--;
		o->ran++;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

bool vig_offload_submit(struct vig_req *r, void (*fn)(struct vig_req *r))
{
	struct vig_offload *o = r->srv->offload;
	struct vig_offload_job *j;

	pthread_mutex_lock(&o->mu);
	if (o->stop || o->waiting >= VIG_OFFLOAD_QUEUE || !(j = calloc(1, sizeof(*j)))) {
		o->rejected++;
		pthread_mutex_unlock(&o->mu);
		return false;
	}
	j->r = r;
	j->fn = fn;
	r->offload_job = j;
	push(&o->todo_head, &o->todo_tail, j);
	o->waiting++;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->mu);
	return true;
}

enum vig_err vig_offload_start(struct vig_server *srv, char *errbuf)
{
	struct vig_offload *o = calloc(1, sizeof(*o));

	if (!o)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	srv->offload = o;
	o->done_ev = event_new(srv->base, -1, 0, on_done, o);
	if (!o->done_ev)
		return vig_errf(errbuf, VIG_ENOMEM, "cannot create the offload event");
	for (; o->n_th < VIG_OFFLOAD_THREADS; o->n_th++)
		if (pthread_create(&o->th[o->n_th], NULL, worker_main, o) != 0)
			return vig_errf(errbuf, VIG_EIO, "cannot start an offload worker");
	return VIG_OK;
}

void vig_offload_stop(struct vig_server *srv)
{
	struct vig_offload *o = srv->offload;
	struct vig_offload_job *j;

	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = true;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	for (int i = 0; i < o->n_th; i++)
		pthread_join(o->th[i], NULL);
	while ((j = pop(&o->todo_head, &o->todo_tail))) { /* never started */
		j->r->offload_job = NULL;
		vig_req_header(j->r, "Retry-After", "5");
		vig_reply_err_status(j->r, 503, VIG_EBUSY, "server is shutting down");
		free(j);
	}
	if (o->done_ev)
		on_done(-1, 0, o); /* finished jobs not yet sent */
	if (o->done_ev)
		event_free(o->done_ev);
	pthread_cond_destroy(&o->cv);
	pthread_mutex_destroy(&o->mu);
	free(o);
	srv->offload = NULL;
}

void vig_offload_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_offload *o = srv->offload;
	int64_t ran, rejected, running, waiting;

	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	ran = o->ran;
	rejected = o->rejected;
	running = o->running;
	waiting = (int64_t)o->waiting;
	pthread_mutex_unlock(&o->mu);
	vig_buf_printf(b,
		       "# HELP vigil_offload_requests_total Slow requests run on offload workers.\n"
		       "# TYPE vigil_offload_requests_total counter\n"
		       "vigil_offload_requests_total %lld\n"
		       "# HELP vigil_offload_rejected_total Slow requests answered 503 because the "
		       "offload queue was full.\n"
		       "# TYPE vigil_offload_rejected_total counter\n"
		       "vigil_offload_rejected_total %lld\n"
		       "# HELP vigil_offload_running Slow requests running now.\n"
		       "# TYPE vigil_offload_running gauge\n"
		       "vigil_offload_running %lld\n"
		       "# HELP vigil_offload_waiting Slow requests waiting for a worker.\n"
		       "# TYPE vigil_offload_waiting gauge\n"
		       "vigil_offload_waiting %lld\n",
		       (long long)ran, (long long)rejected, (long long)running, (long long)waiting);
}
