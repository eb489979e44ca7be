/*
 * event_json_bench.c - decoding NDJSON events: the streaming decoder (vig_event_from_json)
 * against the baseline of parsing a jansson tree and mapping it (vig_event_from_jansson), on
 * the same generated events in the same run. Prints events per CPU-second of each and the ratio.
 *
 *   vig-event-json-bench [N]      (default 1000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "gen_events.h"

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Decodes every line of buf with the chosen decoder; returns events decoded. */
static unsigned long run(const struct vig_buf *buf, bool streaming)
{
	struct vig_arena arena;
	struct vig_event ev;
	char err[VIG_ERRBUF_SIZE];
	unsigned long ok = 0;

	vig_arena_init(&arena, 64 << 10, 0);
	for (const char *p = buf->data, *end = buf->data + buf->len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		vig_arena_reset(&arena);
		vig_event_init(&ev, &arena);
		if (streaming) {
			ok += vig_event_from_json(&ev, p, len, NULL, err) == VIG_OK;
		} else {
			json_error_t jerr;
			json_t *j = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
			ok += j && vig_event_from_jansson(&ev, j, NULL, err) == VIG_OK;
			json_decref(j);
		}
		p += len + 1;
	}
	vig_arena_release(&arena);
	return ok;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	struct vig_buf buf;
	int64_t base = vig_time_now();

	vig_buf_init(&buf, (size_t)1 << 34);
	for (unsigned long i = 0; i < n; i++)
		vig_bench_gen_event(&buf, i, base + (int64_t)i * 1000);
	if (vig_buf_err(&buf) != VIG_OK)
		return 1;
	double t0 = cpu_seconds();
	unsigned long a = run(&buf, false);
	double t1 = cpu_seconds();
	unsigned long b = run(&buf, true);
	double t2 = cpu_seconds();
	double base_rate = (double)a / (t1 - t0), rate = (double)b / (t2 - t1);
	printf("event-json: events=%lu bytes_per_event=%.1f jansson_events_per_cpu_s=%.0f "
	       "streaming_events_per_cpu_s=%.0f ratio=%.2f\n",
	       n, (double)buf.len / (double)n, base_rate, rate, rate / base_rate);
	vig_buf_release(&buf);
	return a == n && b == n ? 0 : 1;
}
