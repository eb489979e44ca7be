/*
 * metrics.c - GET /metrics in the Prometheus text exposition format (version 0.0.4):
 * requests by status, ingest accepted / rejected by reason / duplicates / queue-full, queue
 * depth, store append latency histogram, stream subscribers and drops, event store counters,
 * uptime. Counters are atomics updated from the loop and writer threads.
 */
#include "server_int.h"

#include <string.h>

#include "common/vtime.h"

/* Upper bounds of the append latency buckets, in seconds. */
static const double lat_bounds[VIG_LAT_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
						   0.05,  0.1,    0.25,  0.5,  1.0};

static const char *const reject_names[VIG_REJECT__COUNT] = {
	[VIG_REJECT_MALFORMED] = "malformed",
	[VIG_REJECT_INVALID] = "invalid",
	[VIG_REJECT_TOO_BIG] = "too_big",
	[VIG_REJECT_TENANT] = "tenant",
	[VIG_REJECT_OTHER] = "other",
};

const char *vig_reject_reason_name(enum vig_reject_reason r)
{
	return (unsigned)r < VIG_REJECT__COUNT ? reject_names[r] : "other";
}

void vig_metrics_store_latency(struct vig_metrics *m, int64_t ns)
{
	double s = (double)ns / 1e9;
	size_t i = 0;

	while (i < VIG_LAT_BUCKETS && s > lat_bounds[i])
		i++;
	atomic_fetch_add(&m->store_lat[i], 1);
	atomic_fetch_add(&m->store_lat_sum_us, (uint64_t)(ns / 1000));
	atomic_fetch_add(&m->store_lat_count, 1);
}

#define LOAD(x) ((unsigned long long)atomic_load(&(x)))

void vig_api_metrics(struct vig_req *r)
{
	struct vig_server *srv = r->srv;
	struct vig_metrics *m = &srv->metrics;
	struct vig_evstore_stats st;
	unsigned long long cum = 0;
	struct vig_buf b;

	if (!srv->cfg.metrics_enabled) {
		vig_reply_err(r, VIG_ENOTFOUND, "metrics are disabled (metrics.enabled)");
		return;
	}
	vig_buf_init(&b, 1 << 20);
	vig_buf_adds(&b, "# HELP vigil_http_requests_total HTTP requests answered, by status.\n"
			 "# TYPE vigil_http_requests_total counter\n");
	for (int s = 100; s < 600; s++)
		if (LOAD(m->requests[s]))
			vig_buf_printf(&b, "vigil_http_requests_total{status=\"%d\"} %llu\n", s,
				       LOAD(m->requests[s]));
	vig_buf_printf(&b, "# HELP vigil_ingest_events_accepted_total Events committed to the store.\n"
			   "# TYPE vigil_ingest_events_accepted_total counter\n"
			   "vigil_ingest_events_accepted_total %llu\n",
		       LOAD(m->ingest_accepted));
	vig_buf_adds(&b, "# HELP vigil_ingest_events_rejected_total Event lines refused, by reason.\n"
			 "# TYPE vigil_ingest_events_rejected_total counter\n");
	for (int i = 0; i < VIG_REJECT__COUNT; i++)
		vig_buf_printf(&b, "vigil_ingest_events_rejected_total{reason=\"%s\"} %llu\n",
			       reject_names[i], LOAD(m->ingest_rejected[i]));
	vig_buf_printf(&b,
		       "# HELP vigil_ingest_duplicate_batches_total Batches skipped as resends of a committed batch id.\n"
		       "# TYPE vigil_ingest_duplicate_batches_total counter\n"
		       "vigil_ingest_duplicate_batches_total %llu\n"
		       "# HELP vigil_ingest_queue_full_total Ingest requests refused with 429.\n"
		       "# TYPE vigil_ingest_queue_full_total counter\n"
		       "vigil_ingest_queue_full_total %llu\n"
		       "# HELP vigil_ingest_queue_depth Ingest batches queued or being written.\n"
		       "# TYPE vigil_ingest_queue_depth gauge\n"
		       "vigil_ingest_queue_depth %zu\n"
		       "# HELP vigil_ingest_queue_capacity Capacity of the ingest queue in batches.\n"
		       "# TYPE vigil_ingest_queue_capacity gauge\n"
		       "vigil_ingest_queue_capacity %lld\n",
		       LOAD(m->ingest_duplicates), LOAD(m->ingest_queue_full),
		       vig_ingest_depth(srv->ingest), (long long)srv->cfg.queue_batches);
	vig_buf_adds(&b, "# HELP vigil_store_append_seconds Time of one event store append.\n"
			 "# TYPE vigil_store_append_seconds histogram\n");
	for (int i = 0; i < VIG_LAT_BUCKETS; i++) {
		cum += LOAD(m->store_lat[i]);
		vig_buf_printf(&b, "vigil_store_append_seconds_bucket{le=\"%g\"} %llu\n", lat_bounds[i],
			       cum);
	}
	cum += LOAD(m->store_lat[VIG_LAT_BUCKETS]);
	vig_buf_printf(&b,
		       "vigil_store_append_seconds_bucket{le=\"+Inf\"} %llu\n"
		       "vigil_store_append_seconds_sum %.6f\n"
		       "vigil_store_append_seconds_count %llu\n",
		       cum, (double)LOAD(m->store_lat_sum_us) / 1e6, LOAD(m->store_lat_count));
	vig_evstore_stats(srv->store, &st);
	vig_buf_printf(&b,
		       "# HELP vigil_store_events_total Events stored since start.\n"
		       "# TYPE vigil_store_events_total counter\n"
		       "vigil_store_events_total %llu\n"
		       "# HELP vigil_store_bytes Size of the event store on disk.\n"
		       "# TYPE vigil_store_bytes gauge\n"
		       "vigil_store_bytes %llu\n"
		       "# HELP vigil_store_partitions Day partitions in the event store.\n"
		       "# TYPE vigil_store_partitions gauge\n"
		       "vigil_store_partitions %llu\n",
		       (unsigned long long)st.events_stored, (unsigned long long)st.bytes,
		       (unsigned long long)st.partitions);
	vig_buf_printf(&b,
		       "# HELP vigil_sse_subscribers Open /api/v1/stream connections.\n"
		       "# TYPE vigil_sse_subscribers gauge\n"
		       "vigil_sse_subscribers %zu\n"
		       "# HELP vigil_sse_dropped_total Stream subscribers dropped for being too slow.\n"
		       "# TYPE vigil_sse_dropped_total counter\n"
		       "vigil_sse_dropped_total %llu\n"
		       "# HELP vigil_sse_alerts_published_total Alerts published to the stream.\n"
		       "# TYPE vigil_sse_alerts_published_total counter\n"
		       "vigil_sse_alerts_published_total %llu\n"
		       "# HELP vigil_http_connections Open client connections.\n"
		       "# TYPE vigil_http_connections gauge\n"
		       "vigil_http_connections %lld\n"
		       "# HELP vigil_uptime_seconds Seconds since vigild started.\n"
		       "# TYPE vigil_uptime_seconds gauge\n"
		       "vigil_uptime_seconds %lld\n",
		       vig_sse_subscribers(srv->sse), LOAD(m->sse_dropped), LOAD(m->sse_published),
		       (long long)srv->connections,
		       (long long)((vig_time_mono() - srv->started_mono) / VIG_NS_PER_SEC));
	vig_alerts_metrics(srv, &b); /* detection and alerts (api_alerts.c) */
	vig_incidents_metrics(srv, &b); /* incidents (api_incidents.c) */
	vig_notify_metrics(srv, &b);    /* notifications (api_notify.c) */
	/* @agents: agent CA, enrolment, agents registry, action queue (agents.c, api_agents.c) */
	vig_agents_metrics(srv, &b);
	/* @syslog: syslog receivers, source registry, event reduction (syslog_rx.c, sources.c) */
	vig_logs_metrics(srv, &b);
	/* @intel: threat intelligence and ATT&CK (api_intel.c) */
	vig_intel_metrics(srv, &b);
	/* @detectx: correlation, filters, suppression, retro-hunt, rule test (api_detect.c) */
	vig_correlation_metrics(srv, &b);
	vig_detect_mgmt_metrics(srv, &b);
	vig_offload_metrics(srv, &b);
	/* @evidence */
	vig_evidence_metrics(srv, &b); /* evidence and custody (api_evidence.c) */
	/* @response */
	vig_response_metrics(srv, &b); /* requests, approvals, playbooks (api_response.c) */
	/* @sharing */
	vig_sharing_metrics(srv, &b); /* STIX export, TAXII, blocklist fan-out (api_sharing.c) */
	/* @reports */
	vig_reports_metrics(srv, &b); /* report runs (api_reports.c) */
	if (vig_buf_err(&b) != VIG_OK) {
		vig_buf_release(&b);
		vig_reply_err(r, VIG_EINTERNAL, "metrics too large");
		return;
	}
	vig_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	vig_buf_release(&b);
}
