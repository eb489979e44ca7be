/*
 * ingest_load.c - load generator for bench/ingest: posts N synthetic events as NDJSON batches
 * to POST /api/v1/events over HTTPS from T threads, and prints what the server acknowledged.
 *
 *   vig-ingest-load URL TOKEN N [BATCH] [THREADS]
 *
 * Every batch carries an X-Vigil-Batch-Id ("bench-<run>-<index>"); after the timed run the first
 * batch is sent again and must be answered as a duplicate with nothing new stored.
 *
 * Events are a realistic mix (process starts, network connections, sshd authentications,
 * firewall drops) with varied values, so that the store's compression and indexes see real
 * cardinalities. Bodies are generated before the clock starts; only posting is timed.
 * Output: one line of key=value pairs (events, seconds, events_per_s, accepted, rejected,
 * resend_duplicate).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/vtime.h"
#include "gen_events.h"

struct job {
	const char *url;         /* events endpoint */
	const char *auth;        /* "Authorization: Bearer ..." */
	char **bodies;           /* NDJSON batches of this thread */
	size_t *lens;            /* their lengths */
	size_t n_bodies;         /* how many */
	size_t first;            /* batch index of bodies[0], for its batch id */
	const char *run;         /* run id, shared by the batch ids of one invocation */
	long long accepted;      /* OUT: events acknowledged */
	long long rejected;      /* OUT: events refused */
	long long retries;       /* OUT: 429/503 answers retried */
	int failed;              /* OUT: a transport or HTTP error ended the thread */
};

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	struct vig_buf *b = ctx;

	vig_buf_add(b, p, size * n);
	return size * n;
}

static long long json_num(const char *body, const char *key)
{
	const char *p = strstr(body, key);

	return p ? atoll(p + strlen(key)) : 0;
}

/* Posts one batch with its batch id; *status receives the HTTP status (0 on transport error). */
static void post_batch(CURL *c, const struct job *j, size_t i, struct vig_buf *resp, long *status)
{
	struct curl_slist *h = NULL;
	char id[128];

	snprintf(id, sizeof(id), "X-Vigil-Batch-Id: bench-%s-%zu", j->run, j->first + i);
	h = curl_slist_append(h, j->auth);
	h = curl_slist_append(h, "Content-Type: application/x-ndjson");
	h = curl_slist_append(h, id);
	vig_buf_reset(resp);
	curl_easy_setopt(c, CURLOPT_URL, j->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->bodies[i]);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->lens[i]);
	*status = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	CURL *c = curl_easy_init();
	struct vig_buf resp;

	vig_buf_init(&resp, 1 << 20);
	for (size_t i = 0; i < j->n_bodies; i++) {
		long status = 0;
		post_batch(c, j, i, &resp, &status);
		if (status == 0) {
			j->failed = 1;
			break;
		}
		if (status == 429 || status == 503) {
			j->retries++;
			i--;
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (status != 200 || !resp.data) {
			fprintf(stderr, "ingest-load: HTTP %ld: %s\n", status, resp.data ? resp.data : "");
			j->failed = 1;
			break;
		}
		j->accepted += json_num(resp.data, "\"accepted\":");
		j->rejected += json_num(resp.data, "\"rejected\":");
	}
	vig_buf_release(&resp);
	curl_easy_cleanup(c);
	return NULL;
}

/* Sends the first batch again: true when the server answers it as a duplicate that stored
 * nothing. */
static bool resend_is_duplicate(const struct job *j)
{
	CURL *c = curl_easy_init();
	struct vig_buf resp;
	long status = 0;
	bool dup;

	vig_buf_init(&resp, 1 << 20);
	post_batch(c, j, 0, &resp, &status);
	dup = status == 200 && resp.data && strstr(resp.data, "\"duplicate\":true");
	vig_buf_release(&resp);
	curl_easy_cleanup(c);
	return dup;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: vig-ingest-load URL TOKEN N [BATCH] [THREADS]\n");
		return 2;
	}
	char url[512], auth[600];
	unsigned long n = strtoul(argv[3], NULL, 10);
	unsigned long batch = argc > 4 ? strtoul(argv[4], NULL, 10) : 5000;
	int threads = argc > 5 ? atoi(argv[5]) : 2;
	unsigned long n_bodies = (n + batch - 1) / batch;
	char **bodies = calloc(n_bodies, sizeof(*bodies));
	size_t *lens = calloc(n_bodies, sizeof(*lens));
	int64_t base = vig_time_now() - 3600 * VIG_NS_PER_SEC;
	char run[32];
	size_t total_bytes = 0;

	if (threads < 1 || threads > 64 || batch == 0 || !bodies || !lens)
		return 2;
	snprintf(url, sizeof(url), "%s/api/v1/events", argv[1]);
	snprintf(run, sizeof(run), "%lld", (long long)vig_time_now());
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", argv[2]);
	for (unsigned long bi = 0; bi < n_bodies; bi++) {
		struct vig_buf b;
		vig_buf_init(&b, 1 << 30);
		for (unsigned long i = bi * batch; i < n && i < (bi + 1) * batch; i++)
			vig_bench_gen_event(&b, i, base + (int64_t)i * 1000000);
		bodies[bi] = vig_buf_take(&b, &lens[bi]);
		total_bytes += lens[bi];
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct job *jobs = calloc((size_t)threads, sizeof(*jobs));
	pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
	for (int t = 0; t < threads; t++) {
		size_t from = n_bodies * (size_t)t / (size_t)threads;
		size_t to = n_bodies * (size_t)(t + 1) / (size_t)threads;
		jobs[t] = (struct job){url, auth, bodies + from, lens + from, to - from, from, run,
				       0, 0, 0, 0};
	}
	int64_t t0 = vig_time_mono();
	for (int t = 0; t < threads; t++)
		pthread_create(&tids[t], NULL, run_job, &jobs[t]);
	long long acc = 0, rej = 0, retries = 0;
	int failed = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tids[t], NULL);
		acc += jobs[t].accepted;
		rej += jobs[t].rejected;
		retries += jobs[t].retries;
		failed |= jobs[t].failed;
	}
	double secs = (double)(vig_time_mono() - t0) / 1e9;
	struct job first = {url, auth, bodies, lens, 1, 0, run, 0, 0, 0, 0};
	bool dup = n_bodies > 0 && resend_is_duplicate(&first);
	printf("events=%lu seconds=%.3f events_per_s=%.0f accepted=%lld rejected=%lld retries=%lld "
	       "ndjson_bytes_per_event=%.1f resend_duplicate=%d failed=%d\n",
	       n, secs, (double)n / secs, acc, rej, retries, (double)total_bytes / (double)n, dup,
	       failed);
	for (unsigned long bi = 0; bi < n_bodies; bi++)
		free(bodies[bi]);
	free(bodies);
	free(lens);
	free(jobs);
	free(tids);
	curl_global_cleanup();
	return failed || !dup || acc != (long long)n ? 1 : 0;
}
