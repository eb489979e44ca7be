/*
 * test_logs.c - unit tests of log collection inside vigild, on a real in-memory control DB:
 * the source registry (attribution, counters, PATCH validation, persistence across a reopen,
 * the registry limit), the health pass (a silent source raises health:source-silent through
 * the alert module and closes it when the source speaks again; an error burst raises
 * health:source-errors), raw-record decoding (peer prefix, tenant mapping, routing of CEF
 * inside syslog, refused records), and the reduction stage (policy validation, drop/keep,
 * duplicate merging with compressed evidence read back, the merge window).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert/alert.h"
#include "common/vtime.h"
#include "reduce.h"
#include "server_int.h"
#include "sources.h"

struct fixture {
	struct vig_server srv;
	struct vig_principal sys;
	struct vig_arena arena;
	char rejects[8][VIG_ERRBUF_SIZE];
	size_t n_rejects;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char errbuf[VIG_ERRBUF_SIZE];

	assert_non_null(f);
	vig_config_defaults(&f->srv.cfg);
	f->srv.cfg.reduction_merge = true;
	assert_int_equal(vig_db_open(":memory:", &f->srv.db, errbuf), VIG_OK);
	vig_principal_system(&f->sys);
	assert_int_equal(vig_tenant_create(f->srv.db, &f->sys, "acme", NULL, 0, 0, errbuf), VIG_OK);
	f->srv.sources = vig_sources_new(&f->srv, errbuf);
	assert_non_null(f->srv.sources);
	f->srv.reduce = vig_reduce_new(&f->srv, errbuf);
	assert_non_null(f->srv.reduce);
	vig_arena_init(&f->arena, 1 << 16, 64u << 20);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vig_reduce_free(f->srv.reduce);
	vig_sources_free(f->srv.sources);
	vig_db_close(f->srv.db);
	vig_arena_release(&f->arena);
	free(f);
	return 0;
}

static void on_reject(void *arg, size_t record, const char *msg)
{
	struct fixture *f = arg;

	if (f->n_rejects < 8)
		snprintf(f->rejects[f->n_rejects++], VIG_ERRBUF_SIZE, "%zu:%s", record, msg);
}

/* Decodes body as a syslog receiver batch; returns the events. */
static size_t decode(struct fixture *f, struct vig_logs_batch *lb, const char *body, size_t len,
		     struct vig_event *evs, struct vig_event **ptrs, size_t cap)
{
	char *copy = malloc(len + 1);
	size_t n;

	memcpy(copy, body, len);
	copy[len] = '\0';
	n = vig_logs_decode(&f->srv, lb, &f->sys, copy, len, &f->arena, evs, ptrs, cap, on_reject, f);
	free(copy);
	return n;
}

static json_t *find_source(struct fixture *f, const char *type, const char *addr)
{
	json_t *arr = vig_sources_list(f->srv.sources, &f->sys, NULL), *e, *hit = NULL;
	size_t i;

	json_array_foreach(arr, i, e)
		if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "address")), addr) == 0)
			hit = json_incref(e);
	json_decref(arr);
	return hit;
}

static int64_t counter(json_t *src, const char *name)
{
	return json_integer_value(json_object_get(json_object_get(src, "counters"), name));
}

static void test_syslog_decode(void **state)
{
	struct fixture *f = *state;
	static const char body[] =
		"10.0.0.1 <38>Dec 10 06:55:48 gw sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2\0"
		"10.0.0.1 <134>Sep 19 08:26:10 gw CEF:0|Sec|tm|1.0|100|worm stopped|10|src=10.0.0.9 dst=2.1.2.2\0"
		"10.0.0.2 garbage that is not syslog\0"
		"10.0.0.2 \0";
	struct vig_logs_spec spec = {.format = "syslog", .type = "syslog", .transport = "udp",
				     .sep = '\0', .peer_prefix = true};
	struct vig_logs_batch *lb = vig_logs_batch_new(&spec);
	struct vig_event evs[4], *ptrs[4];
	size_t n = decode(f, lb, body, sizeof(body) - 1, evs, ptrs, 4);
	const struct vig_val *v;
	json_t *src;

	/* no syslog header: auto-detected, and nothing recognises it; the blank one is skipped */
	assert_int_equal(n, 2);
	assert_int_equal(f->n_rejects, 1);
	assert_memory_equal(f->rejects[0], "3:", 2);
	assert_string_equal(vig_event_get(ptrs[0], VIG_F_EVENT_DATASET)->u.s, "system.auth");
	assert_string_equal(vig_event_get(ptrs[0], VIG_F_TENANT_ID)->u.s, "default");
	v = vig_event_ext_get(ptrs[0], "log.source.address", strlen("log.source.address"));
	assert_non_null(v);
	assert_string_equal(v->u.s, "10.0.0.1");
	/* CEF content after a syslog header goes to the CEF parser, host from the header */
	assert_non_null(vig_event_get(ptrs[1], VIG_F_DESTINATION_IP));
	assert_string_equal(vig_event_get(ptrs[1], VIG_F_HOST_NAME)->u.s, "gw");
	assert_non_null(strstr(vig_event_get(ptrs[1], VIG_F_MESSAGE)->u.s, "<134>Sep 19"));
	vig_logs_committed(&f->srv, lb, ptrs, n);
	src = find_source(f, "syslog", "10.0.0.1");
	assert_non_null(src);
	assert_int_equal(counter(src, "received"), 2);
	assert_int_equal(counter(src, "parsed"), 2);
	assert_string_equal(json_string_value(json_object_get(src, "transport")), "udp");
	assert_string_equal(json_string_value(json_object_get(src, "hostname")), "gw");
	json_decref(src);
	src = find_source(f, "syslog", "10.0.0.2");
	assert_int_equal(counter(src, "failed"), 1);
	json_decref(src);
	vig_logs_batch_free(lb);
}

static void test_raw_decode_failures(void **state)
{
	struct fixture *f = *state;
	static const char body[] = "CEF:0|a|b|1|2|n|3|src=1.1.1.1\nnot cef at all\n\n";
	struct vig_logs_spec spec = {.format = "cef", .type = "raw", .address = "fw-a",
				     .transport = "http", .sep = '\n'};
	struct vig_logs_batch *lb = vig_logs_batch_new(&spec);
	struct vig_event evs[3], *ptrs[3];
	size_t n;
	json_t *src;

	assert_int_equal(vig_logs_count(lb, body, sizeof(body) - 1), 2);
	n = decode(f, lb, body, sizeof(body) - 1, evs, ptrs, 3);
	assert_int_equal(n, 1);
	assert_int_equal(f->n_rejects, 1);
	assert_memory_equal(f->rejects[0], "2:", 2);
	src = find_source(f, "raw", "fw-a");
	assert_int_equal(counter(src, "received"), 0); /* nothing counted before the append */
	json_decref(src);
	vig_logs_committed(&f->srv, lb, ptrs, n);
	vig_logs_committed(&f->srv, lb, ptrs, 0); /* applied once */
	src = find_source(f, "raw", "fw-a");
	assert_non_null(src);
	assert_int_equal(counter(src, "failed"), 1);
	assert_int_equal(counter(src, "received"), 2);
	assert_string_equal(json_string_value(json_object_get(src, "tenant")), "default");
	json_decref(src);
	vig_logs_batch_free(lb);
}

/* A raw batch may span at most VIG_LOGS_MAX_BATCH_DAYS days (decided from its content). */
static void test_batch_days(void **state)
{
	struct fixture *f = *state;
	struct vig_logs_spec spec = {.format = "json", .type = "raw", .address = "old", .sep = '\n'};
	struct vig_event evs[VIG_LOGS_MAX_BATCH_DAYS + 1], *ptrs[VIG_LOGS_MAX_BATCH_DAYS + 1];
	char errbuf[VIG_ERRBUF_SIZE] = "", ts[40];
	struct vig_logs_batch *lb = vig_logs_batch_new(&spec);
	struct vig_buf body;
	size_t n, k;

	vig_buf_init(&body, 1 << 20);
	for (int d = 0; d <= VIG_LOGS_MAX_BATCH_DAYS; d++) {
		vig_time_format((1704067200LL + d * 86400LL) * VIG_NS_PER_SEC, ts);
		vig_buf_printf(&body, "{\"@timestamp\":\"%s\",\"message\":\"day %d\"}\n", ts, d);
	}
	n = decode(f, lb, body.data, body.len, evs, ptrs, VIG_LOGS_MAX_BATCH_DAYS + 1);
	assert_int_equal(n, VIG_LOGS_MAX_BATCH_DAYS + 1);
	k = n;
	assert_int_equal(vig_logs_prepare(&f->srv, &lb, &f->sys, &f->arena, ptrs, &k, errbuf),
			 VIG_ETOOBIG);
	assert_non_null(strstr(errbuf, "days"));
	k = n - 1; /* one day less fits */
	assert_int_equal(vig_logs_prepare(&f->srv, &lb, &f->sys, &f->arena, ptrs, &k, errbuf), VIG_OK);
	assert_int_equal(k, n - 1);
	vig_buf_release(&body);
	vig_logs_batch_free(lb);
}

static void test_patch_and_mapping(void **state)
{
	struct fixture *f = *state;
	char errbuf[VIG_ERRBUF_SIZE];
	int slot = vig_sources_ref(f->srv.sources, "", "syslog", "192.0.2.7");
	json_t *src = find_source(f, "syslog", "192.0.2.7"), *before, *after, *body;
	int64_t id = json_integer_value(json_object_get(src, "id"));
	char tenant[VIG_NAME_MAX];

	assert_true(slot >= 0);
	json_decref(src);
	body = json_pack("{s:s,s:s,s:i}", "name", "edge", "tenant", "acme", "silence_after_s", 5);
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys, id, body, &before, &after, errbuf),
			 VIG_OK);
	assert_string_equal(json_string_value(json_object_get(after, "tenant")), "acme");
	assert_string_equal(json_string_value(json_object_get(before, "tenant")), "default");
	json_decref(before);
	json_decref(after);
	json_decref(body);
	assert_true(vig_sources_tenant(f->srv.sources, slot, tenant));
	assert_string_equal(tenant, "acme");
	/* failures: unknown field, bad type, unknown tenant, unknown id, tenant of a raw source */
	body = json_pack("{s:i}", "bogus", 1);
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys, id, body, &before, &after, errbuf),
			 VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:i}", "silence_after_s", -1);
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys, id, body, &before, &after, errbuf),
			 VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:s}", "tenant", "nope");
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys, id, body, &before, &after, errbuf),
			 VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:s}", "name", "x");
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys, 987654, body, &before, &after,
					   errbuf),
			 VIG_ENOTFOUND);
	vig_sources_ref(f->srv.sources, "default", "raw", "named");
	src = find_source(f, "raw", "named");
	json_decref(body);
	body = json_pack("{s:s}", "tenant", "acme");
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys,
					   json_integer_value(json_object_get(src, "id")), body,
					   &before, &after, errbuf),
			 VIG_EINVAL);
	json_decref(body);
	json_decref(src);
	/* persisted: a new registry on the same DB sees the mapping */
	vig_sources_free(f->srv.sources);
	f->srv.sources = vig_sources_new(&f->srv, errbuf);
	assert_non_null(f->srv.sources);
	src = find_source(f, "syslog", "192.0.2.7");
	assert_string_equal(json_string_value(json_object_get(src, "name")), "edge");
	assert_int_equal(json_integer_value(json_object_get(src, "silence_after_s")), 5);
	json_decref(src);
}

static int count_alerts(struct fixture *f, const char *rule, enum vig_alert_status st)
{
	struct vig_alert_filter flt = {.rule_id = rule, .has_status = true, .status = st};
	struct vig_alert *rows = NULL;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t n = 0;

	assert_int_equal(vig_alert_list(f->srv.db, &f->sys, &flt, &rows, &n, errbuf), VIG_OK);
	vig_alert_list_free(rows, n);
	return (int)n;
}

static void test_health_alerts(void **state)
{
	struct fixture *f = *state;
	char errbuf[VIG_ERRBUF_SIZE];
	int slot = vig_sources_ref(f->srv.sources, "", "syslog", "198.51.100.1");
	int64_t t0 = vig_time_now();
	json_t *src = find_source(f, "syslog", "198.51.100.1"), *body, *b, *a;

	f->srv.cfg.sources_error_min_records = 5;
	body = json_pack("{s:i}", "silence_after_s", 10);
	assert_int_equal(vig_sources_patch(f->srv.sources, &f->sys,
					   json_integer_value(json_object_get(src, "id")), body, &b,
					   &a, errbuf),
			 VIG_OK);
	json_decref(b);
	json_decref(a);
	json_decref(body);
	json_decref(src);
	vig_sources_add(f->srv.sources, slot, VIG_SRC_RECEIVED, 1);
	assert_int_equal(vig_sources_check(f->srv.sources, t0 + VIG_NS_PER_SEC, errbuf), VIG_OK);
	assert_int_equal(count_alerts(f, "health:source-silent", VIG_ALERT_OPEN), 0);
	/* 20 s later: silent */
	assert_int_equal(vig_sources_check(f->srv.sources, t0 + 20 * VIG_NS_PER_SEC, errbuf), VIG_OK);
	assert_int_equal(count_alerts(f, "health:source-silent", VIG_ALERT_OPEN), 1);
	/* a second pass does not raise again */
	assert_int_equal(vig_sources_check(f->srv.sources, t0 + 21 * VIG_NS_PER_SEC, errbuf), VIG_OK);
	assert_int_equal(count_alerts(f, "health:source-silent", VIG_ALERT_OPEN), 1);
	src = find_source(f, "syslog", "198.51.100.1");
	assert_string_equal(json_string_value(json_object_get(src, "status")), "silent");
	json_decref(src);
	/* it speaks again (now): closed; and a burst of failures raises the error alert */
	vig_sources_add(f->srv.sources, slot, VIG_SRC_RECEIVED, 10);
	vig_sources_add(f->srv.sources, slot, VIG_SRC_FAILED, 9);
	vig_sources_add(f->srv.sources, slot, VIG_SRC_PARSED, 1);
	assert_int_equal(vig_sources_check(f->srv.sources, vig_time_now(), errbuf), VIG_OK);
	assert_int_equal(count_alerts(f, "health:source-silent", VIG_ALERT_OPEN), 0);
	assert_int_equal(count_alerts(f, "health:source-silent", VIG_ALERT_CLOSED), 1);
	assert_int_equal(count_alerts(f, "health:source-errors", VIG_ALERT_OPEN), 1);
	/* a clean interval closes it */
	vig_sources_add(f->srv.sources, slot, VIG_SRC_RECEIVED, 10);
	vig_sources_add(f->srv.sources, slot, VIG_SRC_PARSED, 10);
	assert_int_equal(vig_sources_check(f->srv.sources, vig_time_now(), errbuf), VIG_OK);
	assert_int_equal(count_alerts(f, "health:source-errors", VIG_ALERT_OPEN), 0);
}

static void test_registry_limit(void **state)
{
	struct fixture *f = *state;
	char errbuf[VIG_ERRBUF_SIZE], addr[32];
	struct vig_buf m;

	vig_sources_free(f->srv.sources);
	f->srv.cfg.sources_max = 3;
	f->srv.sources = vig_sources_new(&f->srv, errbuf); /* loads nothing: a fresh DB */
	for (int i = 0; i < 5; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		if (i < 3)
			assert_true(vig_sources_ref(f->srv.sources, "", "syslog", addr) >= 0);
		else
			assert_int_equal(vig_sources_ref(f->srv.sources, "", "syslog", addr), -1);
	}
	vig_sources_add(f->srv.sources, -1, VIG_SRC_PARSED, 1); /* ignored */
	vig_buf_init(&m, 1 << 20);
	vig_sources_metrics(f->srv.sources, &m);
	assert_non_null(strstr(m.data, "vigil_sources_overflow_total 2"));
	vig_buf_release(&m);
}

/* n copies of one syslog line (seconds 0..n-1) decoded into evs. */
static size_t dup_batch(struct fixture *f, const char *host, int n, int64_t step_s,
			struct vig_event *evs, struct vig_event **ptrs, int *slots)
{
	struct vig_buf body;
	struct vig_logs_spec spec = {.format = "syslog", .type = "raw", .address = "dups",
				     .sep = '\n'};
	struct vig_logs_batch *lb = vig_logs_batch_new(&spec);
	size_t got;

	vig_buf_init(&body, 1 << 20);
	for (int i = 0; i < n; i++) {
		int64_t s = i * step_s;
		vig_buf_printf(&body, "Jan  1 %02lld:%02lld:%02lld %s kernel: [ 1.0] IN=eth0 OUT= "
				      "SRC=10.0.0.9 DST=10.0.0.1 PROTO=TCP SPT=5 DPT=23\n",
			       (long long)(s / 3600), (long long)(s / 60 % 60), (long long)(s % 60), host);
	}
	got = decode(f, lb, body.data, body.len, evs, ptrs, (size_t)n);
	for (size_t i = 0; i < got; i++)
		slots[i] = -1;
	vig_buf_release(&body);
	vig_logs_batch_free(lb);
	return got;
}

static void test_reduce_policies(void **state)
{
	struct fixture *f = *state;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *out = NULL, *arr;
	struct vig_event evs[4], *ptrs[4];
	int slots[4];
	size_t n;

	f->srv.cfg.reduction_merge = false;
	body = json_pack("{s:s,s:s}", "action", "drop", "query", "destination.port:23 and host.name:(a");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_EINVAL);
	assert_non_null(strstr(errbuf, "column"));
	json_decref(body);
	body = json_pack("{s:s,s:s}", "action", "erase", "query", "x");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:s,s:s}", "action", "drop", "query", "  ");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:s,s:s,s:s}", "action", "drop", "query", "destination.port:23", "tenant",
			 "nope");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_EINVAL);
	json_decref(body);
	body = json_pack("{s:s,s:s}", "action", "drop", "query", "destination.port:23");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_OK);
	json_decref(body);
	json_decref(out);
	n = dup_batch(f, "pa", 3, 1, evs, ptrs, slots);
	assert_int_equal(n, 3);
	assert_int_equal(vig_reduce_batch(f->srv.reduce, NULL, &f->arena, ptrs, slots, n), 0);
	/* a keep policy overrides the drop for host pk */
	body = json_pack("{s:s,s:s}", "action", "keep", "query", "host.name:pk");
	assert_int_equal(vig_reduce_policy_add(f->srv.reduce, &f->sys, body, &out, errbuf), VIG_OK);
	json_decref(body);
	json_decref(out);
	n = dup_batch(f, "pk", 2, 1, evs, ptrs, slots);
	assert_int_equal(vig_reduce_batch(f->srv.reduce, NULL, &f->arena, ptrs, slots, n), 2);
	arr = vig_reduce_policies_json(f->srv.reduce, &f->sys, NULL);
	assert_int_equal(json_array_size(arr), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(arr, 0), "hits")), 3);
	assert_int_equal(vig_reduce_policy_delete(f->srv.reduce, &f->sys,
						  json_integer_value(json_object_get(json_array_get(arr, 0), "id")),
						  &out, errbuf),
			 VIG_OK);
	json_decref(out);
	json_decref(arr);
	assert_int_equal(vig_reduce_policy_delete(f->srv.reduce, &f->sys, 424242, &out, errbuf),
			 VIG_ENOTFOUND);
	out = vig_reduce_stats_json(f->srv.reduce);
	assert_int_equal(json_integer_value(json_object_get(out, "dropped")), 3);
	assert_int_equal(json_integer_value(json_object_get(out, "kept_by_policy")), 2);
	json_decref(out);
}

static void test_reduce_merge(void **state)
{
	struct fixture *f = *state;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_event evs[8], *ptrs[8];
	int slots[8];
	const struct vig_val *v;
	json_t *ev = NULL;
	size_t n;

	f->srv.cfg.reduction_window_s = 60;
	n = dup_batch(f, "mg", 5, 2, evs, ptrs, slots);
	assert_int_equal(n, 5);
	n = vig_reduce_batch(f->srv.reduce, NULL, &f->arena, ptrs, slots, n);
	assert_int_equal(n, 1);
	assert_int_equal(vig_event_get(ptrs[0], VIG_F_EVENT_COUNT)->u.i, 5);
	assert_int_equal(vig_event_get(ptrs[0], VIG_F_EVENT_END)->u.i -
				 vig_event_get(ptrs[0], VIG_F_EVENT_START)->u.i,
			 8 * VIG_NS_PER_SEC);
	v = vig_event_ext_get(ptrs[0], "vigil.evidence_id", strlen("vigil.evidence_id"));
	assert_non_null(v);
	assert_int_equal(vig_reduce_evidence(f->srv.reduce, &f->sys, v->u.i, &ev, errbuf), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(ev, "lines")), 5);
	assert_non_null(strstr(json_string_value(json_array_get(json_object_get(ev, "lines"), 4)),
			       "00:00:08 mg kernel"));
	json_decref(ev);
	assert_int_equal(vig_reduce_evidence(f->srv.reduce, &f->sys, 99999, &ev, errbuf), VIG_ENOTFOUND);
	/* outside the window: 3 events 50 s apart with a 60 s window -> 2 groups */
	n = dup_batch(f, "mw", 3, 50, evs, ptrs, slots);
	assert_int_equal(vig_reduce_batch(f->srv.reduce, NULL, &f->arena, ptrs, slots, n), 2);
	/* merging off: nothing merges */
	f->srv.cfg.reduction_merge = false;
	n = dup_batch(f, "mo", 3, 1, evs, ptrs, slots);
	assert_int_equal(vig_reduce_batch(f->srv.reduce, NULL, &f->arena, ptrs, slots, n), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_syslog_decode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_decode_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_days, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patch_and_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reduce_policies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reduce_merge, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
