/*
 * evstore_bench.c - vig-store-bench: appends N synthetic events (a mix of process starts,
 * network connections and sshd authentications over a few hundred hosts and two tenants) in
 * batches of 1000, then reports ingest rate, bytes per event on disk, and the time of a field
 * query and of a top-10 aggregation over the whole range.
 *
 * Usage: vig-store-bench [--events N] [--days D] [--dir DIR] [N [DIR]]
 *   defaults: 1000000 events spread over 3 days, a fresh directory under /tmp (removed at the
 *   end unless --dir is given). The last line is the summary, key=value pairs:
 *   events= days= load1= events_s= cpu_events_s= bytes_event= query_ms= top10_ms= count_ms=
 *   (cpu_events_s divides by the process CPU time, which the other helpers' load does not skew).
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/vtime.h"
#include "store/evstore.h"

#define BATCH 1000

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const char *const procs[] = {"bash", "sshd", "python3", "curl", "nginx", "systemd", "cron", "xyz", "sudo", "git"};
static const char *const users[] = {"root", "alice", "bob", "www-data", "postgres"};

static void fill(struct vig_event *ev, int64_t ts, uint64_t i)
{
	char buf[256];
	uint64_t r = next();
	unsigned host = (unsigned)(r % 300), kind = (unsigned)(r >> 20) % 10;
	const char *proc = procs[(r >> 28) % VIG_ARRAY_LEN(procs)];
	const char *user = users[(r >> 36) % VIG_ARRAY_LEN(users)];
	char eid[33];

	vig_event_set_cstr(ev, VIG_F_TENANT_ID, host % 2 ? "acme" : "globex");
	vig_event_set_ts(ev, VIG_F_TIMESTAMP, ts);
	snprintf(buf, sizeof(buf), "host-%03u", host);
	vig_event_set_cstr(ev, VIG_F_HOST_NAME, buf);
	vig_event_set_cstr(ev, VIG_F_EVENT_DATASET, kind < 8 ? "vigil.endpoint" : "linux.auth");
	if (kind < 5) { /* process start */
		vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, "process");
		vig_event_set_cstr(ev, VIG_F_EVENT_ACTION, "exec");
		vig_event_set_cstr(ev, VIG_F_PROCESS_NAME, proc);
		snprintf(buf, sizeof(buf), "/usr/bin/%s", proc);
		vig_event_set_cstr(ev, VIG_F_PROCESS_EXECUTABLE, buf);
		snprintf(buf, sizeof(buf), "%s -c job-%llu", proc, (unsigned long long)(r % 1000));
		vig_event_set_cstr(ev, VIG_F_PROCESS_COMMAND_LINE, buf);
		vig_event_set_int(ev, VIG_F_PROCESS_PID, (int64_t)(1000 + i % 30000));
		vig_entity_id(buf, (int64_t)(1000 + i % 30000), ts, eid);
		vig_event_set_str(ev, VIG_F_PROCESS_ENTITY_ID, eid, 32);
		vig_event_set_cstr(ev, VIG_F_USER_NAME, user);
	} else if (kind < 8) { /* network connect */
		vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, "network");
		vig_event_set_cstr(ev, VIG_F_EVENT_ACTION, "connect");
		vig_event_set_cstr(ev, VIG_F_PROCESS_NAME, proc);
		snprintf(buf, sizeof(buf), "10.0.%u.%u", host / 250, host % 250 + 1);
		vig_event_set_ip(ev, VIG_F_SOURCE_IP, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "93.184.%u.%u", (unsigned)(r >> 44) % 256, (unsigned)(r >> 52) % 256);
		vig_event_set_ip(ev, VIG_F_DESTINATION_IP, buf, strlen(buf));
		vig_event_set_int(ev, VIG_F_SOURCE_PORT, (int64_t)(32768 + r % 28000));
		vig_event_set_int(ev, VIG_F_DESTINATION_PORT, (r >> 40) % 50 == 0 ? 4444 : 443);
		vig_event_set_cstr(ev, VIG_F_NETWORK_TRANSPORT, "tcp");
	} else { /* sshd auth syslog line */
		vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, "authentication");
		vig_event_set_cstr(ev, VIG_F_EVENT_OUTCOME, r % 3 ? "failure" : "success");
		vig_event_set_cstr(ev, VIG_F_USER_NAME, user);
		snprintf(buf, sizeof(buf), "203.0.113.%u", (unsigned)(r >> 48) % 256);
		vig_event_set_ip(ev, VIG_F_SOURCE_IP, buf, strlen(buf));
		snprintf(buf, sizeof(buf), "Failed password for %s from 203.0.113.%u port %u ssh2", user,
			 (unsigned)(r >> 48) % 256, (unsigned)(r % 60000));
		vig_event_set_cstr(ev, VIG_F_MESSAGE, buf);
	}
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static bool count_cb(void *ctx, const struct vig_event *ev)
{
	(*(size_t *)ctx)++;
	return true;
}

int main(int argc, char **argv)
{
	size_t n = 1000000;
	int days = 3, pos = 0;
	bool keep = false;
	char dir[256] = "/tmp/vig-store-bench-XXXXXX";
	double cpu0, cpu_ingest, load1 = 0, q_ms, top_ms, count_ms, bpe;
	char eb[VIG_ERRBUF_SIZE];
	struct vig_arena arena;
	struct vig_event *evs = calloc(BATCH, sizeof(*evs));
	struct vig_event **ptrs = calloc(BATCH, sizeof(*ptrs));
	const struct vig_scope all = {NULL, 0, true};
	int64_t t0 = vig_time_days_from_civil(2026, 11, 20) * VIG_NS_PER_DAY;
	int64_t span, start, el;
	struct vig_evstore_stats st;
	struct vig_evstore_top top;
	size_t found = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
			n = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
			days = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
			snprintf(dir, sizeof(dir), "%s", argv[++i]);
			keep = true;
		} else if (argv[i][0] != '-' && pos == 0) {
			n = strtoull(argv[i], NULL, 10);
			pos++;
		} else if (argv[i][0] != '-' && pos == 1) {
			snprintf(dir, sizeof(dir), "%s", argv[i]);
			keep = true;
			pos++;
		} else {
			fprintf(stderr, "usage: vig-store-bench [--events N] [--days D] [--dir DIR]\n");
			return 2;
		}
	}
	if (n == 0 || days < 1 || days > 3000) {
		fprintf(stderr, "vig-store-bench: need events >= 1 and days 1 to 3000\n");
		return 2;
	}
	span = days * VIG_NS_PER_DAY;
	t0 = vig_time_days_from_civil(2026, 10, 20) * VIG_NS_PER_DAY;
	if (!keep && !mkdtemp(dir))
		return 1;
	struct vig_evstore *s = vig_evstore_open(dir, NULL, eb);
	if (!s || !evs || !ptrs) {
		fprintf(stderr, "vig-store-bench: %s\n", eb);
		return 1;
	}
	vig_arena_init(&arena, 1 << 20, 256u << 20);
	start = vig_time_mono();
	cpu0 = cpu_s();
	for (size_t done = 0; done < n;) {
		size_t b = n - done < BATCH ? n - done : BATCH;
		vig_arena_reset(&arena);
		for (size_t i = 0; i < b; i++) {
			vig_event_init(&evs[i], &arena);
			fill(&evs[i], t0 + (int64_t)((done + i) * (uint64_t)(span / (int64_t)n)), done + i);
			ptrs[i] = &evs[i];
		}
		if (vig_evstore_append(s, ptrs, b, NULL, NULL, eb) != VIG_OK) {
			fprintf(stderr, "vig-store-bench: append: %s\n", eb);
			return 1;
		}
		done += b;
	}
	el = vig_time_mono() - start;
	cpu_ingest = cpu_s() - cpu0;
	vig_evstore_stats(s, &st);
	printf("ingest: %zu events in %.2f s = %.0f events/s (%.2f CPU s = %.0f events per CPU s)\n", n,
	       (double)el / 1e9, (double)n / ((double)el / 1e9), cpu_ingest, (double)n / cpu_ingest);
	double ev_s = (double)n / ((double)el / 1e9);
	printf("disk with WAL: %llu bytes = %.1f bytes/event (%llu day partitions)\n", (unsigned long long)st.bytes,
	       (double)st.bytes / (double)n, (unsigned long long)st.partitions);

	start = vig_time_mono();
	if (vig_evstore_search(s, &all, "process.name:xyz and destination.port:4444", t0, t0 + span, 10000, false,
			       count_cb, &found, NULL, eb) != VIG_OK) {
		fprintf(stderr, "vig-store-bench: search: %s\n", eb);
		return 1;
	}
	el = vig_time_mono() - start;
	q_ms = (double)el / 1e6;
	printf("search 'process.name:xyz and destination.port:4444': %zu events in %.1f ms\n", found, (double)el / 1e6);

	start = vig_time_mono();
	if (vig_evstore_top(s, &all, "", t0, t0 + span, "user.name", 10, &top, eb) != VIG_OK) {
		fprintf(stderr, "vig-store-bench: top: %s\n", eb);
		return 1;
	}
	el = vig_time_mono() - start;
	top_ms = (double)el / 1e6;
	printf("top-10 user.name over all %zu events: %zu buckets (first %s=%llu), %.1f ms\n", n, top.n,
	       top.n ? top.buckets[0].key : "-", top.n ? (unsigned long long)top.buckets[0].count : 0ull,
	       (double)el / 1e6);
	vig_evstore_top_release(&top);

	start = vig_time_mono();
	uint64_t c = 0;
	vig_evstore_count(s, &(struct vig_scope){(const char *const[]){"acme"}, 1, false}, "user.name:root", t0, t0 + span, &c, eb);
	el = vig_time_mono() - start;
	count_ms = (double)el / 1e6;
	printf("count tenant=acme user.name:root: %llu in %.1f ms\n", (unsigned long long)c, (double)el / 1e6);

	vig_evstore_close(s); /* checkpoints the WAL into the database */
	struct stat sb;
	char path[300];
	snprintf(path, sizeof(path), "%s/events.db", dir);
	bpe = (double)st.bytes / (double)n;
	if (stat(path, &sb) == 0) {
		bpe = (double)sb.st_size / (double)n;
		printf("disk after checkpoint: %lld bytes = %.1f bytes/event\n", (long long)sb.st_size, bpe);
	}
	if (getloadavg(&load1, 1) != 1)
		load1 = -1;
	printf("events=%zu days=%d load1=%.2f events_s=%.0f cpu_events_s=%.0f bytes_event=%.1f query_ms=%.1f "
	       "top10_ms=%.1f count_ms=%.1f\n",
	       n, days, load1, ev_s, (double)n / cpu_ingest, bpe, q_ms, top_ms, count_ms);
	if (!keep)
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	vig_arena_release(&arena);
	free(evs);
	free(ptrs);
	return 0;
}
