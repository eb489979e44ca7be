/*
 * test_evstore.c - end-to-end tests of the SQLite event store: append and search with every
 * query feature, round trip of stored events, aggregations, day partitions across midnight,
 * idempotent batch keys, tenant isolation (also through aggregations), retention, limits,
 * persistence across reopen, and concurrent readers with a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/wait.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "common/buf.h"
#include "common/vtime.h"
#include "event/event_json.h"
#include "store/evstore.h"

/* 2026-11-23T12:00:00Z */
#define T0 (vig_time_days_from_civil(2026, 11, 23) * VIG_NS_PER_DAY + 12 * 3600 * VIG_NS_PER_SEC)
#define SEC VIG_NS_PER_SEC
#define HOUR (3600 * SEC)

struct fx {
	char dir[64];
	struct vig_evstore *s;
	struct vig_arena arena;
};

static const char *const TA[] = {"acme"};
static const char *const TB[] = {"beta"};
static const struct vig_scope SA = {TA, 1, false};
static const struct vig_scope SB = {TB, 1, false};
static const struct vig_scope SALL = {NULL, 0, true};
static const struct vig_scope SNONE = {NULL, 0, false};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char eb[VIG_ERRBUF_SIZE];

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vig-evstore-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->s = vig_evstore_open(fx->dir, NULL, eb);
	if (!fx->s)
		fail_msg("open: %s", eb);
	vig_arena_init(&fx->arena, 1 << 16, 64 << 20);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	vig_evstore_close(fx->s);
	vig_arena_release(&fx->arena);
	nftw(fx->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* An event from "k=v" pairs separated by '|' (core names convert, others become ext strings). */
static struct vig_event *mk(struct fx *fx, const char *tenant, int64_t ts, const char *kv)
{
	struct vig_event *ev = vig_arena_alloc(&fx->arena, sizeof(*ev));
	vig_event_init(ev, &fx->arena);
	if (tenant)
		assert_int_equal(vig_event_set_cstr(ev, VIG_F_TENANT_ID, tenant), VIG_OK);
	assert_int_equal(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ts), VIG_OK);
	for (const char *p = kv; *p;) {
		const char *end = strchr(p, '|');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		assert_non_null(eq);
		assert_int_equal(vig_event_set_by_name(ev, p, (size_t)(eq - p), eq + 1, len - (size_t)(eq - p) - 1),
				 VIG_OK);
		p += len + (end ? 1 : 0);
	}
	return ev;
}

static void append(struct fx *fx, struct vig_event **evs, size_t n)
{
	char eb[VIG_ERRBUF_SIZE];

	if (vig_evstore_append(fx->s, evs, n, NULL, NULL, eb) != VIG_OK)
		fail_msg("append: %s", eb);
}

/* A fixed corpus for tenant acme (and one for beta). */
static void corpus(struct fx *fx)
{
	struct vig_event *e[8];

	e[0] = mk(fx, "acme", T0 + 1 * SEC, "event.category=process|process.name=bash|process.args=bash|process.args=-la"
		  "|host.name=Web-01|user.name=root|message=Accepted password for root|custom.score=17");
	e[1] = mk(fx, "acme", T0 + 2 * SEC, "event.category=network|process.name=nc|destination.port=4444"
		  "|destination.ip=10.1.2.3|source.ip=192.168.0.5|message=connect to 10.1.2.3");
	e[2] = mk(fx, "acme", T0 + 3 * SEC, "event.category=network|process.name=curl|destination.port=443"
		  "|destination.ip=2001:db8::7|source.ip=fe80::1|custom.tag=Blue");
	e[3] = mk(fx, "acme", T0 + 4 * SEC, "event.category=process|process.name=BashX|user.name=alice"
		  "|file.path=/tmp/a*b|message=weird 100% file_name");
	e[4] = mk(fx, "acme", T0 + 5 * SEC, "event.category=authentication|event.outcome=failure|user.name=root"
		  "|source.ip=203.0.113.9|message=Failed password for root");
	append(fx, e, 5);
	e[0] = mk(fx, "beta", T0 + 1 * SEC, "event.category=process|process.name=bash|user.name=root|host.name=beta-01");
	e[1] = mk(fx, "beta", T0 + 6 * SEC, "event.category=network|process.name=nc|destination.port=4444|source.ip=10.9.9.9");
	append(fx, e, 2);
}

struct hits {
	int n;
	char names[32][64]; /* process.name or "-" */
	int64_t ts[32];
};

static bool collect(void *ctx, const struct vig_event *ev)
{
	struct hits *h = ctx;
	const struct vig_val *v = vig_event_get(ev, VIG_F_PROCESS_NAME);

	if (h->n < 32) {
		snprintf(h->names[h->n], sizeof(h->names[0]), "%s", v ? v->u.s : "-");
		h->ts[h->n] = ev->f[VIG_F_TIMESTAMP].u.i;
	}
	h->n++;
	return true;
}

static int q(struct fx *fx, const struct vig_scope *sc, const char *query, struct hits *h)
{
	char eb[VIG_ERRBUF_SIZE];

	memset(h, 0, sizeof(*h));
	if (vig_evstore_search(fx->s, sc, query, T0 - HOUR, T0 + HOUR, 100, false, collect, h, NULL, eb) != VIG_OK)
		fail_msg("search %s: %s", query, eb);
	return h->n;
}

static void test_search_features(void **state)
{
	struct fx *fx = *state;
	struct hits h;

	corpus(fx);
	assert_int_equal(q(fx, &SA, "", &h), 5);
	assert_string_equal(h.names[0], "-"); /* newest first: the auth event */
	assert_int_equal(q(fx, &SA, "process.name:bash", &h), 1);
	assert_int_equal(q(fx, &SA, "process.name:BASH", &h), 1);       /* case-insensitive */
	assert_int_equal(q(fx, &SA, "event.category:PROCESS", &h), 0); /* keyword: exact */
	assert_int_equal(q(fx, &SA, "process.name:bash*", &h), 2);      /* wildcard, any case */
	assert_int_equal(q(fx, &SA, "process.name:?url", &h), 1);
	assert_int_equal(q(fx, &SA, "event.category:net*", &h), 2);     /* GLOB on keywords */
	assert_int_equal(q(fx, &SA, "event.category:Net*", &h), 0);
	assert_int_equal(q(fx, &SA, "file.path:/tmp/a\\*b", &h), 1);    /* escaped star is literal */
	assert_int_equal(q(fx, &SA, "file.path:/tmp/ax*", &h), 0);
	assert_int_equal(q(fx, &SA, "\"100%\"", &h), 1);                 /* % literal in text */
	assert_int_equal(q(fx, &SA, "file_name", &h), 1);
	assert_int_equal(q(fx, &SA, "100_", &h), 0);
	assert_int_equal(q(fx, &SA, "destination.port:[400 TO 4444]", &h), 2);
	assert_int_equal(q(fx, &SA, "destination.port:[400 TO 4444}", &h), 1);
	assert_int_equal(q(fx, &SA, "destination.port:>443", &h), 1);
	assert_int_equal(q(fx, &SA, "destination.port:>=443", &h), 2);
	assert_int_equal(q(fx, &SA, "destination.ip:10.0.0.0/8", &h), 1);
	assert_int_equal(q(fx, &SA, "destination.ip:10.1.2.3", &h), 1);
	assert_int_equal(q(fx, &SA, "destination.ip:2001:db8::/32", &h), 1);
	assert_int_equal(q(fx, &SA, "source.ip:fe80::/10", &h), 1);
	assert_int_equal(q(fx, &SA, "source.ip:0.0.0.0/0", &h), 2);      /* v4 only, not the v6 one */
	assert_int_equal(q(fx, &SA, "source.ip:\\:\\:/0", &h), 3);       /* v4 (4-byte) and v6 rows */
	assert_int_equal(q(fx, &SA, "source.ip:[192.168.0.0 TO 203.0.113.9}", &h), 1);
	assert_int_equal(q(fx, &SA, "source.ip:{192.168.0.5 TO *]", &h), 2); /* 203.0.113.9, fe80::1 */
	assert_int_equal(q(fx, &SA, "source.ip:[* TO 0.0.0.1]", &h), 0);
	assert_int_equal(q(fx, &SA, "not source.ip:192.168.0.5", &h), 4);
	assert_int_equal(q(fx, &SA, "not user.name:root", &h), 3);       /* includes events without user */
	assert_int_equal(q(fx, &SA, "user.name:root and not event.category:process", &h), 1);
	assert_int_equal(q(fx, &SA, "(process.name:nc or process.name:curl) and destination.port:4444", &h), 1);
	assert_int_equal(q(fx, &SA, "process.name:nc OR process.name:curl destination.port:443", &h), 2);
	assert_int_equal(q(fx, &SA, "process.args:-LA", &h), 1);          /* list: any element */
	assert_int_equal(q(fx, &SA, "process.args:-l*", &h), 1);
	assert_int_equal(q(fx, &SA, "custom.score:17", &h), 1);            /* extension, numeric */
	assert_int_equal(q(fx, &SA, "custom.score:>10", &h), 1);
	assert_int_equal(q(fx, &SA, "custom.tag:blue", &h), 1);            /* extension, any case */
	assert_int_equal(q(fx, &SA, "custom.tag:*", &h), 1);
	assert_int_equal(q(fx, &SA, "user.name:*", &h), 3);
	assert_int_equal(q(fx, &SA, "password root", &h), 2);             /* bare words: message */
	assert_int_equal(q(fx, &SA, "\"failed password\"", &h), 1);
	assert_int_equal(q(fx, &SA, "@timestamp:>=2026-11-23T12:00:04Z", &h), 2);
	assert_int_equal(q(fx, &SA, "host.name:web-01", &h), 1);
}

static void test_roundtrip(void **state)
{
	struct fx *fx = *state;
	struct vig_event *e[1];
	struct vig_buf a, b;
	char eb[VIG_ERRBUF_SIZE];
	size_t n = 0;

	e[0] = mk(fx, "acme", T0, "event.category=process|process.name=bash|process.pid=42"
		  "|process.entity_id=00112233445566778899aabbccddeeff|process.parent.entity_id=NOT-HEX"
		  "|process.args=a|process.args=b c|process.working_directory=/root|related.ip=1.2.3.4"
		  "|host.ip=10.0.0.1|destination.ip=::1|file.size=9|event.start=2026-11-23T11:00:00.5Z"
		  "|custom.s=x\"y");
	assert_int_equal(vig_event_ext_int(e[0], "custom.i", -7), VIG_OK);
	assert_int_equal(vig_event_ext_float(e[0], "custom.f", 2.0), VIG_OK);
	assert_int_equal(vig_event_ext_bool(e[0], "custom.b", true), VIG_OK);
	append(fx, e, 1);
	assert_non_null(vig_event_get(e[0], VIG_F_EVENT_ID)); /* assigned */
	assert_int_equal(vig_event_get(e[0], VIG_F_EVENT_ID)->n, 32);
	assert_non_null(vig_event_get(e[0], VIG_F_EVENT_INGESTED));
	vig_buf_init(&a, 1 << 20);
	vig_buf_init(&b, 1 << 20);
	assert_int_equal(vig_event_to_json(e[0], &a), VIG_OK);

	struct vig_buf *bp = &b;
	bool to_json(void *ctx, const struct vig_event *ev);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "process.entity_id:00112233445566778899aabbccddeeff",
					    T0 - HOUR, T0 + HOUR, 10, false, to_json, bp, &n, eb), VIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(a.data, b.data);
	/* And by its assigned id. */
	char id[40];
	char qs[256];
	snprintf(id, sizeof(id), "%s", vig_event_get(e[0], VIG_F_EVENT_ID)->u.s);
	snprintf(qs, sizeof(qs), "event.id:%s", id);
	vig_buf_reset(&b);
	assert_int_equal(vig_evstore_search(fx->s, &SA, qs, T0 - HOUR, T0 + HOUR, 10, false, to_json, bp, &n, eb), VIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "process.parent.entity_id:NOT-HEX", T0 - HOUR, T0 + HOUR, 10,
					    false, to_json, bp, &n, eb), VIG_OK);
	assert_int_equal(n, 1);

	/* Generated ids of one append are distinct and each found; given ids (hex or not) are kept;
	 * event.ingested is the append's time and searchable. */
	struct vig_event *m[3];
	char ids[3][40];
	m[0] = mk(fx, "acme", T0 + SEC, "process.name=m0");
	m[1] = mk(fx, "acme", T0 + SEC, "process.name=m1|event.id=ffeeddccbbaa99887766554433221100");
	m[2] = mk(fx, "acme", T0 + SEC, "process.name=m2|event.id=my-own-id");
	int64_t before = vig_time_now();
	append(fx, m, 3);
	append(fx, e, 1); /* a second append: another base */
	for (int i = 0; i < 3; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", vig_event_get(m[i], VIG_F_EVENT_ID)->u.s);
	assert_string_equal(ids[1], "ffeeddccbbaa99887766554433221100");
	assert_string_equal(ids[2], "my-own-id");
	assert_string_not_equal(ids[0], id);
	for (int i = 0; i < 3; i++) {
		snprintf(qs, sizeof(qs), "event.id:%s", ids[i]);
		vig_buf_reset(&b);
		assert_int_equal(vig_evstore_search(fx->s, &SA, qs, T0 - HOUR, T0 + HOUR, 10, false, to_json, bp, &n, eb),
				 VIG_OK);
		assert_int_equal(n, 1);
		vig_buf_reset(&a);
		assert_int_equal(vig_event_to_json(m[i], &a), VIG_OK);
		assert_string_equal(a.data, b.data);
	}
	snprintf(qs, sizeof(qs), "event.id:%.24s*", ids[0]);
	assert_int_equal(vig_evstore_search(fx->s, &SA, qs, T0 - HOUR, T0 + HOUR, 10, false, to_json, bp, &n, eb), VIG_OK);
	assert_int_equal(n, 1); /* only m[0] was generated in that append */
	char ts[40];
	vig_time_format(before, ts);
	snprintf(qs, sizeof(qs), "event.ingested:>=%s", ts);
	assert_int_equal(vig_evstore_search(fx->s, &SA, qs, T0 - HOUR, T0 + HOUR, 10, false, to_json, bp, &n, eb), VIG_OK);
	assert_int_equal(n, 4); /* both appends after 'before' */
	vig_buf_release(&a);
	vig_buf_release(&b);
}

bool to_json(void *ctx, const struct vig_event *ev)
{
	return vig_event_to_json(ev, ctx) == VIG_OK;
}

static void test_aggregations(void **state)
{
	struct fx *fx = *state;
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c;
	struct vig_evstore_top t;
	struct vig_evstore_hist hi;

	corpus(fx);
	assert_int_equal(vig_evstore_count(fx->s, &SA, "event.category:network", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 2);
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 7);

	if (vig_evstore_top(fx->s, &SA, "", T0 - HOUR, T0 + HOUR, "user.name", 1, &t, eb) != VIG_OK)
		fail_msg("top: %s", eb);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.buckets[0].key, "root");
	assert_int_equal(t.buckets[0].count, 2);
	assert_int_equal(t.other, 1);
	assert_int_equal(t.missing, 2);
	vig_evstore_top_release(&t);

	assert_int_equal(vig_evstore_top(fx->s, &SALL, "", T0 - HOUR, T0 + HOUR, "source.ip", 10, &t, eb), VIG_OK);
	assert_int_equal(t.n, 4);
	bool seen_v6 = false;
	for (size_t i = 0; i < t.n; i++)
		seen_v6 |= strcmp(t.buckets[i].key, "fe80::1") == 0;
	assert_true(seen_v6);
	vig_evstore_top_release(&t);

	assert_int_equal(vig_evstore_top(fx->s, &SA, "", T0 - HOUR, T0 + HOUR, "process.args", 10, &t, eb), VIG_OK);
	assert_int_equal(t.n, 2);
	vig_evstore_top_release(&t);
	assert_int_equal(vig_evstore_top(fx->s, &SA, "", T0 - HOUR, T0 + HOUR, "custom.tag", 10, &t, eb), VIG_OK);
	assert_int_equal(t.n, 1);
	assert_string_equal(t.buckets[0].key, "Blue");
	vig_evstore_top_release(&t);

	assert_int_equal(vig_evstore_histogram(fx->s, &SA, "", T0, T0 + 10 * SEC, 2 * SEC, &hi, eb), VIG_OK);
	assert_int_equal(hi.n, 5);
	assert_int_equal(hi.ts_ns[0], T0);
	/* events at +1..+5 s: buckets [0,2):1 [2,4):2 [4,6):2 */
	assert_int_equal(hi.counts[0], 1);
	assert_int_equal(hi.counts[1], 2);
	assert_int_equal(hi.counts[2], 2);
	assert_int_equal(hi.counts[3], 0);
	vig_evstore_hist_release(&hi);
	assert_int_equal(vig_evstore_histogram(fx->s, &SA, "", T0, T0 + 100000 * SEC, 1 * SEC, &hi, eb), VIG_ETOOBIG);
}

static void test_tenancy(void **state)
{
	struct fx *fx = *state;
	struct hits h;
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c;
	struct vig_evstore_top t;
	struct vig_evstore_hist hi;

	corpus(fx);
	assert_int_equal(q(fx, &SB, "", &h), 2);
	assert_int_equal(q(fx, &SB, "process.name:curl or user.name:alice or custom.tag:*", &h), 0);
	assert_int_equal(q(fx, &SNONE, "", &h), 0);
	assert_int_equal(q(fx, &SALL, "process.name:bash", &h), 2);
	assert_int_equal(q(fx, &SB, "tenant.id:acme", &h), 0);
	assert_int_equal(vig_evstore_count(fx->s, &SB, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 2);
	assert_int_equal(vig_evstore_top(fx->s, &SB, "", T0 - HOUR, T0 + HOUR, "process.name", 10, &t, eb), VIG_OK);
	assert_int_equal(t.n, 2);
	for (size_t i = 0; i < t.n; i++)
		assert_true(strcmp(t.buckets[i].key, "bash") == 0 || strcmp(t.buckets[i].key, "nc") == 0);
	vig_evstore_top_release(&t);
	assert_int_equal(vig_evstore_histogram(fx->s, &SB, "", T0 - HOUR, T0 + HOUR, HOUR, &hi, eb), VIG_OK);
	assert_int_equal(hi.counts[0] + hi.counts[1], 2);
	vig_evstore_hist_release(&hi);
	assert_int_equal(vig_evstore_count(fx->s, &SNONE, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 0);
	assert_int_equal(vig_evstore_count(fx->s, NULL, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_EINVAL);
}

static void test_partitions(void **state)
{
	struct fx *fx = *state;
	int64_t midnight = vig_time_days_from_civil(2026, 11, 24) * VIG_NS_PER_DAY;
	struct vig_event *e[3];
	struct hits h;
	char eb[VIG_ERRBUF_SIZE];
	struct vig_evstore_stats st;

	e[0] = mk(fx, "acme", midnight - SEC, "process.name=before");
	e[1] = mk(fx, "acme", midnight + SEC, "process.name=after");
	e[2] = mk(fx, "acme", midnight, "process.name=at");
	append(fx, e, 3);
	vig_evstore_stats(fx->s, &st);
	assert_int_equal(st.partitions, 2);
	assert_int_equal(st.events_stored, 3);
	memset(&h, 0, sizeof(h));
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", midnight - HOUR, midnight + HOUR, 10, false, collect, &h, NULL, eb), VIG_OK);
	assert_int_equal(h.n, 3);
	assert_string_equal(h.names[0], "after");
	assert_string_equal(h.names[1], "at");
	assert_string_equal(h.names[2], "before");
	memset(&h, 0, sizeof(h));
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", midnight - HOUR, midnight + HOUR, 2, true, collect, &h, NULL, eb), VIG_OK);
	assert_int_equal(h.n, 2);
	assert_string_equal(h.names[0], "before");
	assert_string_equal(h.names[1], "at");
	/* Range [midnight, ...) does not see the day before. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", midnight, midnight + HOUR, 10, false, collect, &h, NULL, eb), VIG_OK);
	assert_int_equal(h.n, 2);
}

static void test_batch_keys(void **state)
{
	struct fx *fx = *state;
	struct vig_event *e[2];
	char eb[VIG_ERRBUF_SIZE];
	bool dup = true;
	uint64_t c;
	struct vig_evstore_stats st;

	e[0] = mk(fx, "acme", T0, "process.name=a");
	e[1] = mk(fx, "acme", T0, "process.name=b");
	assert_int_equal(vig_evstore_append(fx->s, e, 2, "agent1-42", &dup, eb), VIG_OK);
	assert_false(dup);
	assert_int_equal(vig_evstore_append(fx->s, e, 2, "agent1-42", &dup, eb), VIG_OK);
	assert_true(dup);
	assert_int_equal(vig_evstore_append(fx->s, e, 1, "agent1-43", &dup, eb), VIG_OK);
	assert_false(dup);
	assert_int_equal(vig_evstore_count(fx->s, &SA, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 3);
	vig_evstore_stats(fx->s, &st);
	assert_int_equal(st.duplicates, 1);
	assert_int_equal(st.batches, 2);
	assert_int_equal(vig_evstore_append(fx->s, e, 1, "", &dup, eb), VIG_EINVAL);
}

static void test_rejects(void **state)
{
	struct fx *fx = *state;
	struct vig_event *e[2];
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c = 9;
	struct hits h;

	e[0] = mk(fx, "acme", T0, "process.name=a");
	e[1] = mk(fx, NULL, T0, "process.name=b");
	assert_int_equal(vig_evstore_append(fx->s, e, 2, NULL, NULL, eb), VIG_EINVAL);
	assert_string_equal(eb, "evstore: event 1 has no tenant.id");
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 0);
	assert_int_equal(vig_evstore_append(fx->s, e, VIG_EVSTORE_MAX_APPEND + 1, NULL, NULL, eb), VIG_ETOOBIG);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", T0, T0 + 1, 0, false, collect, &h, NULL, eb), VIG_EINVAL);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", T0, T0 + 1, VIG_EVSTORE_MAX_LIMIT + 1, false, collect, &h, NULL, eb), VIG_EINVAL);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "", T0, T0, 10, false, collect, &h, NULL, eb), VIG_EINVAL);
	assert_int_equal(vig_evstore_search(fx->s, &SA, "a )", T0, T0 + 1, 10, false, collect, &h, NULL, eb), VIG_EPARSE);
	assert_string_equal(eb, "query: unexpected ')' at column 3");
}

static void test_retention(void **state)
{
	struct fx *fx = *state;
	int64_t d0 = vig_time_days_from_civil(2026, 11, 1) * VIG_NS_PER_DAY;
	struct vig_event *e[8];
	char eb[VIG_ERRBUF_SIZE];
	uint64_t removed, c;
	struct vig_evstore_stats st;

	for (int i = 0; i < 4; i++) {
		e[2 * i] = mk(fx, "acme", d0 + i * VIG_NS_PER_DAY + HOUR, "process.name=a");
		e[2 * i + 1] = mk(fx, "beta", d0 + i * VIG_NS_PER_DAY + HOUR, "process.name=b");
	}
	append(fx, e, 4);     /* days 0 and 1 */
	append(fx, e + 4, 4); /* days 2 and 3: a second append (appends row) */
	vig_evstore_stats(fx->s, &st);
	assert_int_equal(st.partitions, 4);
	/* now = day 4 00:00; keep 2 days -> days 0 and 1 are wholly older. */
	assert_int_equal(vig_evstore_expire(fx->s, NULL, 2, d0 + 4 * VIG_NS_PER_DAY, &removed, eb), VIG_OK);
	assert_int_equal(removed, 2);
	vig_evstore_stats(fx->s, &st);
	assert_int_equal(st.partitions, 2);
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "", d0, d0 + 10 * VIG_NS_PER_DAY, &c, eb), VIG_OK);
	assert_int_equal(c, 4);
	/* The first append's row (only dropped days used it) is pruned; the rest keep event.ingested. */
	char path[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *q1 = NULL;
	snprintf(path, sizeof(path), "%s/events.db", fx->dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM appends", -1, &q1, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q1), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q1, 0), 1);
	sqlite3_finalize(q1);
	sqlite3_close(db);
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "event.ingested:*", d0, d0 + 10 * VIG_NS_PER_DAY, &c, eb),
			 VIG_OK);
	assert_int_equal(c, 4);
	/* beta keeps 1 day: its row on day 2 (01:00) goes; day 3 stays. acme untouched. */
	assert_int_equal(vig_evstore_expire(fx->s, "beta", 1, d0 + 4 * VIG_NS_PER_DAY - 12 * HOUR, &removed, eb), VIG_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(vig_evstore_count(fx->s, &SB, "", d0, d0 + 10 * VIG_NS_PER_DAY, &c, eb), VIG_OK);
	assert_int_equal(c, 1);
	assert_int_equal(vig_evstore_count(fx->s, &SA, "", d0, d0 + 10 * VIG_NS_PER_DAY, &c, eb), VIG_OK);
	assert_int_equal(c, 2);
	/* Appending to a dropped day recreates it. */
	e[0] = mk(fx, "acme", d0 + HOUR, "process.name=late");
	append(fx, e, 1);
	assert_int_equal(vig_evstore_expire(fx->s, NULL, 0, d0, &removed, eb), VIG_EINVAL);
}

static void test_reopen(void **state)
{
	struct fx *fx = *state;
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c;
	struct hits h;

	corpus(fx);
	vig_evstore_close(fx->s);
	fx->s = vig_evstore_open(fx->dir, NULL, eb);
	assert_non_null(fx->s);
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 7);
	assert_int_equal(q(fx, &SA, "destination.ip:10.0.0.0/8", &h), 1);
	/* Dictionary strings written before the reopen are found again (new and old rows alike). */
	struct vig_event *e[1] = {mk(fx, "acme", T0 + 7 * SEC, "process.name=bash|host.name=Web-01")};
	append(fx, e, 1);
	assert_int_equal(q(fx, &SA, "process.name:bash", &h), 2);
	assert_int_equal(q(fx, &SA, "host.name:web-01", &h), 2);

	/* A database of another layout version is refused with a clear message, not misread. */
	vig_evstore_close(fx->s);
	fx->s = NULL;
	char path[128];
	sqlite3 *db = NULL;
	snprintf(path, sizeof(path), "%s/events.db", fx->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_null(vig_evstore_open(fx->dir, NULL, eb));
	assert_non_null(strstr(eb, "layout version 1, this build needs"));
}

/* A child appends, then dies without closing: what append acknowledged is there. */
static void test_crash_durability(void **state)
{
	struct fx *fx = *state;
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c = 0;
	int status;
	pid_t pid;

	vig_evstore_close(fx->s);
	fx->s = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vig_evstore *s = vig_evstore_open(fx->dir, NULL, eb);
		struct vig_event *e[3];
		bool dup;
		if (!s)
			_exit(2);
		for (int i = 0; i < 3; i++)
			e[i] = mk(fx, "acme", T0 + i, "process.name=survivor");
		if (vig_evstore_append(s, e, 3, "crash-1", &dup, eb) != VIG_OK)
			_exit(3);
		_exit(0); /* no close, no checkpoint */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fx->s = vig_evstore_open(fx->dir, NULL, eb);
	assert_non_null(fx->s);
	assert_int_equal(vig_evstore_count(fx->s, &SA, "process.name:survivor", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 3);
}

struct rd {
	struct vig_evstore *s;
	int errors;
};

static void *reader(void *arg)
{
	struct rd *r = arg;
	char eb[VIG_ERRBUF_SIZE];
	uint64_t c;

	for (int i = 0; i < 30; i++)
		if (vig_evstore_count(r->s, &SALL, "process.name:w*", T0 - HOUR, T0 + HOUR, &c, eb) != VIG_OK ||
		    c % 10 != 0) /* batches of 10 are atomic */
			r->errors++;
	return NULL;
}

static void test_concurrency(void **state)
{
	struct fx *fx = *state;
	pthread_t th[3];
	struct rd r = {fx->s, 0};
	struct vig_event *e[10];
	uint64_t c;
	char eb[VIG_ERRBUF_SIZE];

	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, &r);
	for (int b = 0; b < 20; b++) {
		for (int i = 0; i < 10; i++)
			e[i] = mk(fx, "acme", T0 + i, "process.name=w");
		append(fx, e, 10);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(r.errors, 0);
	assert_int_equal(vig_evstore_count(fx->s, &SALL, "", T0 - HOUR, T0 + HOUR, &c, eb), VIG_OK);
	assert_int_equal(c, 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_search_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tenancy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_durability, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
