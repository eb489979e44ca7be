/*
 * correlation.c - Sigma correlation rules live in vigild: the bridge between the detection
 * stage (api_alerts.c) and the correlation engine (src/detect/correlate.h).
 *
 * Flow, all on the ingest writer thread (the only caller of vig_detect_batch):
 *   - engine change: vig_correlation_sync() installs the new engine's rules (state of
 *     unchanged correlations survives the swap); the first time, it reads the snapshot
 *     DATA/correlation.state back (counted in vigil_correlation_restored_groups_total);
 *   - each base-rule match of the event's tenant: vig_correlation_match() feeds it, collects
 *     firings (copied: they live only during the callback) and says whether the match should
 *     still become an alert of its own (Sigma `generate`);
 *   - end of batch: vig_correlation_batch_end() moves event time (the newest @timestamp of the
 *     batch, or the clock when that is older) so close-time windows are checked, records every
 *     firing whose correlation belongs to the group's tenant (or to all) as an alert with the
 *     correlation's rule id and the ids of the contributing events, publishes new alerts, and
 *     writes the snapshot every correlation.snapshot_interval_s.
 * At shutdown vig_correlation_stop() waits for the writer, writes the snapshot and frees.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert/alert.h"
#include "alert/rules.h"
#include "common/vtime.h"
#include "detect/correlate.h"
#include "detect/detect.h"

#define FIRED_MAX 4096 /* firings recorded per batch; more are counted as errors */
#define STATE_FILE "correlation.state"

/* A firing waiting to be recorded. */
struct fired {
	const struct vig_sigma_rule *rule;
	char tenant[VIG_NAME_MAX];
	char host[256], user[256], source_ip[64];
	char *ids_json; /* JSON array of event ids (malloc) */
	char last_id[VIG_CORR_ID_MAX];
	int64_t first_ns;  /* event time of the first contributing event */
};

struct vig_correlation {
	struct vig_corr *corr;
	bool loaded;        /* the snapshot was read (or found absent) */
	int64_t saved_mono; /* last snapshot */
	struct fired *fired;
	size_t n_fired;
	uint64_t lost;      /* firings not recorded (over FIRED_MAX or failures) */
	uint64_t recorded;  /* correlation alerts recorded (created or bumped) */
	int64_t max_ev_ns;  /* newest event time of the batch */
	uint64_t gen;       /* generation of the engine whose rules are installed, 0 = none */
	char path[VIG_CFG_PATH_MAX + 32];
};

enum vig_err vig_correlation_start(struct vig_server *srv, char *errbuf)
{
	struct vig_corr_limits lim = {
		.max_groups_per_rule = (size_t)srv->cfg.corr_max_groups_per_rule,
		.max_events_per_group = (size_t)srv->cfg.corr_max_events_per_group,
		.max_event_ids = (size_t)srv->cfg.corr_max_event_ids};
	struct vig_correlation *k = calloc(1, sizeof(*k));

	if (!k || !(k->corr = vig_corr_new(&lim))) {
		free(k);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	snprintf(k->path, sizeof(k->path), "%s/" STATE_FILE, srv->cfg.data_dir);
	k->saved_mono = vig_time_mono();
	srv->correlation = k;
	return VIG_OK;
}

static void save(struct vig_correlation *k)
{
	char errbuf[VIG_ERRBUF_SIZE];

	if (!k->loaded)
		return; /* never overwrite a snapshot that was not read back yet */
	if (vig_corr_save(k->corr, k->path, errbuf) != VIG_OK)
		vig_warn("correlation", "state not saved", "err=\"%s\"", errbuf);
	k->saved_mono = vig_time_mono();
}

void vig_correlation_stop(struct vig_server *srv)
{
	struct vig_correlation *k = srv->correlation;

	if (!k)
		return;
	vig_ingest_drain(srv->ingest); /* the writer must be gone (no-op when it is) */
	save(k);
	for (size_t i = 0; i < k->n_fired; i++)
		free(k->fired[i].ids_json);
	free(k->fired);
	vig_corr_free(k->corr);
	free(k);
	srv->correlation = NULL;
}

static void on_problem(void *ctx, const struct vig_sigma_rule *rule, const char *reason)
{
	(void)ctx;
	vig_warn("correlation", "correlation rule inactive", "rule=\"%s\" reason=\"%s\"",
		 rule->id ? rule->id : rule->title, reason);
}

void vig_correlation_sync(struct vig_server *srv, const struct vig_alert_engine *e)
{
	struct vig_correlation *k = srv->correlation;
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *const *rules;
	size_t n, restored = 0;
	enum vig_err err;

	if (!k || !e || (k->gen && k->gen == vig_alert_engine_generation(e)))
		return;
	k->gen = vig_alert_engine_generation(e);
	rules = vig_detect_rules(vig_alert_engine_detect(e), &n);
	if (vig_corr_set_rules(k->corr, rules, n, on_problem, NULL, errbuf) != VIG_OK) {
		vig_error("correlation", "rules not installed", "err=\"%s\"", errbuf);
		return;
	}
	if (k->loaded)
		return;
	k->loaded = true;
	err = vig_corr_restore(k->corr, k->path, &restored, errbuf);
	if (err == VIG_OK || err == VIG_EPARSE)
		vig_info("correlation", "state restored", "groups=%zu path=\"%s\"%s", restored, k->path,
			 err ? " partial=true" : "");
	else if (err != VIG_ENOTFOUND)
		vig_warn("correlation", "state not restored", "err=\"%s\"", errbuf);
}

/* Copies the group value of the first group-by field named `field` (event-model name). */
static void group_value(const struct vig_corr_fire *f, const char *field, char *out, size_t cap)
{
	out[0] = 0;
	for (size_t i = 0; i < f->n_group; i++)
		if (f->group_fields && f->group_fields[i] && strcmp(f->group_fields[i], field) == 0 &&
		    f->group_values[i]) {
			snprintf(out, cap, "%s", f->group_values[i]);
			return;
		}
}

static int on_fire(void *ctx, const struct vig_corr_fire *f)
{
	struct vig_correlation *k = ctx;
	struct fired *x;
	json_t *arr;

	if (!f->alert)
		return 0; /* feeds a correlation that references it (generate: false) */
	if (k->n_fired >= FIRED_MAX) {
		k->lost++;
		return 0;
	}
	if (!k->fired && !(k->fired = calloc(FIRED_MAX, sizeof(*k->fired)))) {
		k->lost++;
		return 0;
	}
	x = &k->fired[k->n_fired];
	memset(x, 0, sizeof(*x));
	x->rule = f->rule;
	snprintf(x->tenant, sizeof(x->tenant), "%s", f->tenant);
	x->first_ns = f->first_ns;
	group_value(f, "host.name", x->host, sizeof(x->host));
	group_value(f, "user.name", x->user, sizeof(x->user));
	group_value(f, "source.ip", x->source_ip, sizeof(x->source_ip));
	arr = json_array();
	for (size_t i = 0; arr && i < f->n_event_ids; i++)
		json_array_append_new(arr, json_string(f->event_ids[i]));
	x->ids_json = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	if (f->n_event_ids)
		snprintf(x->last_id, sizeof(x->last_id), "%s", f->event_ids[f->n_event_ids - 1]);
	k->n_fired++;
	return 0;
}

bool vig_correlation_match(struct vig_server *srv, const struct vig_sigma_rule *rule,
			   const struct vig_event *ev, const char *tenant)
{
	struct vig_correlation *k = srv->correlation;
	const struct vig_val *ts;

	if (!k || !vig_corr_rule_used(k->corr, rule))
		return true;
	ts = vig_event_get(ev, VIG_F_TIMESTAMP);
	if (ts && ts->type == VIG_T_TS && ts->u.i > k->max_ev_ns)
		k->max_ev_ns = ts->u.i;
	if (vig_corr_feed(k->corr, rule, tenant, ev, on_fire, k, NULL) != VIG_OK)
		k->lost++;
	return vig_corr_rule_alerts(k->corr, rule);
}

/* Replaces the event ids of alert id by the firing's list (a new alert links them all). */
static void link_events(struct vig_server *srv, int64_t id, const char *ids_json)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(h, "UPDATE alerts SET event_ids = ?1 WHERE id = ?2", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ids_json, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, id);
		if (sqlite3_step(st) != SQLITE_DONE)
			vig_warn("correlation", "events not linked", "alert=%lld err=\"%s\"", (long long)id,
				 sqlite3_errmsg(h));
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
}

/* Records the collected firings as alerts in one transaction; then links and publishes. */
static void record(struct vig_server *srv, const struct vig_alert_engine *eng, int64_t now)
{
	struct vig_correlation *k = srv->correlation;
	int64_t *created = calloc(k->n_fired, sizeof(*created));
	bool *pub = calloc(k->n_fired, sizeof(*pub));
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_alert_tx *tx = NULL;
	struct vig_policy_snap *pol = vig_detect_mgmt_policy(srv); /* before the DB is locked */
	size_t n_pub = 0;

	if (!created || !pub ||
	    vig_alert_tx_begin(srv->db, srv->cfg.dedupe_window_s * VIG_NS_PER_SEC, &tx, errbuf) != VIG_OK) {
		vig_error("correlation", "firings not recorded", "n=%zu err=\"%s\"", k->n_fired, errbuf);
		k->lost += k->n_fired;
		goto out_free;
	}
	for (size_t i = 0; i < k->n_fired; i++) {
		const struct fired *x = &k->fired[i];
		const struct vig_alert_rule_info *info = vig_alert_engine_rule(eng, x->rule);
		struct vig_alert_match m = {
			.tenant = x->tenant, .title = x->rule->title, .level = x->rule->level,
			.tags = x->rule->tags.v, .n_tags = x->rule->tags.n, .host = x->host, .user = x->user,
			.source_ip = x->source_ip, .event_id = x->last_id[0] ? x->last_id : NULL,
			.event_ns = x->first_ns};
		enum vig_alert_outcome oc;
		int64_t id = 0;

		if (!info || (info->tenant && strcmp(info->tenant, x->tenant) != 0))
			continue; /* another tenant's correlation */
		m.rule_id = info->rule_id;
		if (!vig_detect_mgmt_admit_match(srv, pol, &m, now))
			continue; /* excepted or suppressed (counted by the policy) */
		if (vig_alert_tx_record(tx, &m, now, &oc, &id, &pub[i], errbuf) != VIG_OK) {
			k->lost++;
			vig_warn("correlation", "firing not recorded", "rule=\"%s\" err=\"%s\"", info->rule_id, errbuf);
			continue;
		}
		k->recorded++;
		atomic_fetch_add(oc == VIG_ALERT_CREATED ? &srv->metrics.alerts_created
							 : &srv->metrics.alerts_deduplicated, 1);
		if (oc == VIG_ALERT_CREATED)
			created[i] = id;
		else if (pub[i])
			created[i] = -id; /* publish only */
	}
	if (vig_alert_tx_commit(tx, errbuf) != VIG_OK) {
		vig_error("correlation", "alert commit failed", "err=\"%s\"", errbuf);
		k->lost += k->n_fired;
		goto out_free;
	}
	for (size_t i = 0; i < k->n_fired; i++) {
		if (created[i] > 0 && k->fired[i].ids_json)
			link_events(srv, created[i], k->fired[i].ids_json);
		if (created[i])
			created[n_pub++] = created[i] > 0 ? created[i] : -created[i];
	}
	vig_alerts_publish_ids(srv, created, n_pub);
out_free:
	vig_detect_mgmt_policy_release(pol);
	free(created);
	free(pub);
}

void vig_correlation_batch_end(struct vig_server *srv, const struct vig_alert_engine *eng)
{
	struct vig_correlation *k = srv->correlation;
	int64_t now = vig_time_now();

	if (!k)
		return;
	/* event time: the batch's newest, but never behind the clock by more than the windows */
	vig_corr_advance(k->corr, k->max_ev_ns > now ? k->max_ev_ns : now, on_fire, k, NULL);
	k->max_ev_ns = 0;
	if (k->n_fired)
		record(srv, eng, now);
	for (size_t i = 0; i < k->n_fired; i++)
		free(k->fired[i].ids_json);
	k->n_fired = 0;
	if (vig_time_mono() - k->saved_mono >= srv->cfg.corr_snapshot_interval_s * VIG_NS_PER_SEC)
		save(k);
}

#define LOAD64(x) ((unsigned long long)(x))

void vig_correlation_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_correlation *k = srv->correlation;
	struct vig_corr_stats st;

	if (!k)
		return;
	vig_corr_get_stats(k->corr, &st);
	vig_buf_printf(b,
		       "# HELP vigil_correlation_rules Active Sigma correlation rules.\n"
		       "# TYPE vigil_correlation_rules gauge\nvigil_correlation_rules %zu\n"
		       "# HELP vigil_correlation_inactive_rules Correlation rules that could not be resolved.\n"
		       "# TYPE vigil_correlation_inactive_rules gauge\nvigil_correlation_inactive_rules %zu\n"
		       "# HELP vigil_correlation_groups Live correlation groups.\n"
		       "# TYPE vigil_correlation_groups gauge\nvigil_correlation_groups %zu\n"
		       "# HELP vigil_correlation_entries Matches remembered by correlation groups.\n"
		       "# TYPE vigil_correlation_entries gauge\nvigil_correlation_entries %zu\n"
		       "# HELP vigil_correlation_fired_total Correlation firings.\n"
		       "# TYPE vigil_correlation_fired_total counter\nvigil_correlation_fired_total %llu\n"
		       "# HELP vigil_correlation_alerts_total Correlation firings recorded as alerts.\n"
		       "# TYPE vigil_correlation_alerts_total counter\nvigil_correlation_alerts_total %llu\n"
		       "# HELP vigil_correlation_evicted_groups_total Groups evicted at correlation.max_groups_per_rule.\n"
		       "# TYPE vigil_correlation_evicted_groups_total counter\nvigil_correlation_evicted_groups_total %llu\n"
		       "# HELP vigil_correlation_evicted_events_total Matches evicted at correlation.max_events_per_group.\n"
		       "# TYPE vigil_correlation_evicted_events_total counter\nvigil_correlation_evicted_events_total %llu\n"
		       "# HELP vigil_correlation_late_events_total Matches older than their group's window.\n"
		       "# TYPE vigil_correlation_late_events_total counter\nvigil_correlation_late_events_total %llu\n"
		       "# HELP vigil_correlation_dropped_groups_total Groups dropped when their rule changed or went away.\n"
		       "# TYPE vigil_correlation_dropped_groups_total counter\nvigil_correlation_dropped_groups_total %llu\n"
		       "# HELP vigil_correlation_restored_groups_total Groups read back from the snapshot at start.\n"
		       "# TYPE vigil_correlation_restored_groups_total counter\nvigil_correlation_restored_groups_total %llu\n"
		       "# HELP vigil_correlation_errors_total Matches or firings lost (memory, limits, storage).\n"
		       "# TYPE vigil_correlation_errors_total counter\nvigil_correlation_errors_total %llu\n",
		       st.rules, st.inactive, st.groups, st.entries, LOAD64(st.fired), LOAD64(k->recorded),
		       LOAD64(st.evicted_groups), LOAD64(st.evicted_events), LOAD64(st.late_events),
		       LOAD64(st.dropped_groups), LOAD64(st.restored_groups), LOAD64(st.errors + k->lost));
}
