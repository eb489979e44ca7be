/*
 * report.h - reports: what an MDR provider sends each customer on a schedule and what a SOC
 * manager runs on demand. A report definition names a tenant, a kind, a format, a period and
 * a schedule; a run renders one definition for one [from, to) into one file.
 *
 * Kinds (the data, collected from the control DB by vig_report_build()):
 *   soc_summary  alerts by severity per day, incidents opened/closed by severity and
 *                resolution, MTTD/MTTA/MTTC/MTTR and false-positive rate (vig_soc_metrics()),
 *                SLA compliance, top rules, hosts and source IPs, agent and log-source health,
 *                blocked addresses;
 *   incidents    every incident created in the period with status, owner, times, resolution;
 *   alerts       every alert first seen in the period;
 *   sla          per incident of the period: the three clocks' targets against the actual.
 * Formats (vig_report_render()): html (one self-contained print-friendly file: inline CSS and
 * inline SVG charts, no external reference, every value HTML-escaped), csv (RFC 4180; a cell
 * starting with = + - @ is prefixed with ' against formula injection) and json (the model).
 *
 * Periods are relative to a reference time t (the run's request or its schedule slot), UTC:
 * last_24h, last_7d, last_30d = [t - span, t); previous_month = the calendar month before t's.
 *
 * Schedules (UTC): "none", "daily HH:MM", "weekly DAY HH:MM" (DAY mon..sun), "monthly DD HH:MM"
 * (DD 1..31; a month with fewer days runs on its last day). A definition's next slot is the
 * first slot after max(the time its schedule was set, the slot of its last scheduled run), so
 * the schedule survives restarts and each slot runs exactly once (UNIQUE(report_id, slot));
 * slots missed while vigild was down collapse into one run for the latest of them.
 *
 * Runs move queued -> running -> done | failed; the queue is the report_runs table (bounded by
 * the caller's max_queued), so queued runs survive a restart; vig_report_recover() puts runs
 * that were running when vigild stopped back in the queue. A run keeps the definition's name,
 * kind and format, so it stays readable after the definition is deleted.
 *
 * Storage: tables reports and report_runs (control DB, migration 3); files under
 * DIR/<tenant>/<run id>.<ext>. Every change (definition created, changed, deleted, a run
 * queued, finished, expired) is one hash-chained audit row in the same transaction.
 *
 * Tenancy: every function taking a principal sees only its tenants; another tenant's
 * definition or run is VIG_ENOTFOUND exactly like a missing one. Defining (create, change,
 * delete) needs vig_report_may_define(); the HTTP layer checks the rest (docs/api.md).
 */
#ifndef VIG_REPORT_H
#define VIG_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/buf.h"
#include "common/vig.h"

#define VIG_REPORT_NAME_MAX 128          /* bytes of a definition's name */
#define VIG_REPORT_RECIPIENTS_MAX 20     /* e-mail addresses per definition */
#define VIG_REPORT_EMAIL_MAX 254         /* bytes of one address */
#define VIG_REPORT_ROWS_MAX 10000        /* incidents/alerts rows in one report (then truncated) */
#define VIG_REPORT_TOP_N 10              /* entries of each top list */
#define VIG_REPORT_SPAN_MAX_DAYS 400     /* longest [from, to) of a run */
#define VIG_REPORT_LIST_MAX 1000         /* rows per list call */
#define VIG_REPORT_BYTES_MAX (64u << 20) /* largest rendered file */

enum vig_report_kind { VIG_REPORT_SOC_SUMMARY, VIG_REPORT_INCIDENTS, VIG_REPORT_ALERTS, VIG_REPORT_SLA };
enum vig_report_format { VIG_REPORT_HTML, VIG_REPORT_CSV, VIG_REPORT_JSON };
enum vig_report_period { VIG_REPORT_LAST_24H, VIG_REPORT_LAST_7D, VIG_REPORT_LAST_30D,
			 VIG_REPORT_PREVIOUS_MONTH };

/* Names ("soc_summary", "html", "last_7d") and their parsers (exact names; false if unknown). */
const char *vig_report_kind_name(enum vig_report_kind k);
bool vig_report_kind_parse(const char *s, enum vig_report_kind *out);
const char *vig_report_format_name(enum vig_report_format f);
bool vig_report_format_parse(const char *s, enum vig_report_format *out);
const char *vig_report_period_name(enum vig_report_period p);
bool vig_report_period_parse(const char *s, enum vig_report_period *out);
/* "text/html; charset=utf-8", "text/csv; charset=utf-8", "application/json". */
const char *vig_report_content_type(enum vig_report_format f);

/* [*from, *to) of period p relative to t (ns, UTC). */
void vig_report_period_range(enum vig_report_period p, int64_t t, int64_t *from, int64_t *to);

enum vig_report_every { VIG_REPORT_NEVER, VIG_REPORT_DAILY, VIG_REPORT_WEEKLY, VIG_REPORT_MONTHLY };

struct vig_report_schedule {
	enum vig_report_every every;
	int wday;         /* weekly: 0 = Sunday .. 6 = Saturday */
	int mday;         /* monthly: 1..31 (clamped to the month's last day) */
	int hour, minute; /* UTC */
};

/* Parses a schedule (see the top of this file; "" and NULL are "none"). VIG_EINVAL with the
 * reason. */
enum vig_err vig_report_schedule_parse(const char *s, struct vig_report_schedule *out, char *errbuf);
/* Writes the canonical text of s ("none", "weekly mon 06:00") into out (32 bytes). */
void vig_report_schedule_format(const struct vig_report_schedule *s, char out[32]);
/* The first slot strictly after `after` (ns); 0 when s is "none". */
int64_t vig_report_schedule_next(const struct vig_report_schedule *s, int64_t after);

/* Appends s as one CSV cell: quoted when it holds , " CR or LF (quotes doubled); prefixed
 * with ' when it starts with = + - @ (or TAB/CR, which spreadsheets skip before a formula). */
enum vig_err vig_report_csv_cell(struct vig_buf *b, const char *s);
/* Appends s with & < > " ' escaped for HTML text and attribute values. */
enum vig_err vig_report_html_escape(struct vig_buf *b, const char *s);

/*
 * Collects the data of one report of tenant for [from, to) into *model (new reference):
 * {"report":{"kind","tenant","tenant_name","from","to","generated"}, ...kind's sections}
 * (docs/api.md, "Reports", lists them). now is the time SLA clocks are evaluated at. Locks db itself.
 */
enum vig_err vig_report_build(struct vig_db *db, const char *tenant, enum vig_report_kind kind,
			      int64_t from, int64_t to, int64_t now, json_t **model, char *errbuf);
/* Renders a model of vig_report_build() in format f, appending to out (whose toobig bounds
 * the file: VIG_ETOOBIG beyond). */
enum vig_err vig_report_render(json_t *model, enum vig_report_format f, struct vig_buf *out,
			       char *errbuf);

/* ---- definitions (store.c) ---- */

/* May who create, change and delete definitions? (admin, tier3, tenant_admin) */
bool vig_report_may_define(const struct vig_principal *who);

/* Creates a definition from {"name","kind","format","period"?,"schedule"?,"recipients"?,
 * "enabled"?,"tenant"?} (period default last_7d, schedule none, tenant the caller's; provider
 * callers may name any). VIG_EINVAL with the reason, VIG_EEXIST for a name taken in the
 * tenant, VIG_EPERM. *out (may be NULL) gets the definition. */
enum vig_err vig_report_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
			       int64_t now, json_t **out, char *errbuf);
/* {"reports":[definition...]} of tenant (NULL: every tenant visible to who), by id. */
enum vig_err vig_report_list(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			     int64_t now, json_t **out, char *errbuf);
enum vig_err vig_report_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
			    int64_t now, json_t **out, char *errbuf);
/* Changes any of name, kind, format, period, schedule, recipients, enabled (other keys are
 * VIG_EINVAL). A schedule or enabled change restarts the schedule from now. */
enum vig_err vig_report_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
			       json_t *patch, int64_t now, json_t **out, char *errbuf);
/* Deletes a definition and its queued runs; finished runs stay until they expire. */
enum vig_err vig_report_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
			       char *errbuf);

/* ---- runs (store.c) ---- */

/* Queues a run of definition id for [from, to) (both 0: the definition's period before now)
 * requested by who. VIG_EBUSY when max_queued runs already wait; VIG_EINVAL for a bad range.
 * *run (may be NULL) gets the run object. */
enum vig_err vig_report_run_queue(struct vig_db *db, const struct vig_principal *who, int64_t id,
				  int64_t from, int64_t to, int64_t now, int64_t max_queued,
				  json_t **run, char *errbuf);
/* Queues one run per enabled scheduled definition whose next slot is <= now (as the system
 * principal, the period taken relative to the slot). *queued (may be NULL) counts them. */
enum vig_err vig_report_schedule_due(struct vig_db *db, int64_t now, int64_t max_queued,
				     size_t *queued, char *errbuf);
/* {"runs":[run...]} visible to who, newest first: of tenant (NULL: all visible), of
 * report_id (0: any), at most limit (1..VIG_REPORT_LIST_MAX). */
enum vig_err vig_report_runs_list(struct vig_db *db, const struct vig_principal *who,
				  const char *tenant, int64_t report_id, int64_t limit, json_t **out,
				  char *errbuf);
enum vig_err vig_report_run_get(struct vig_db *db, const struct vig_principal *who, int64_t id,
				json_t **out, char *errbuf);
/* The file of a done run into path (cap bytes) and its format. VIG_ENOTFOUND as for get,
 * VIG_ECONFLICT while the run is not done. */
enum vig_err vig_report_run_file(struct vig_db *db, const struct vig_principal *who, int64_t id,
				 char *path, size_t cap, enum vig_report_format *format, char *errbuf);

/* Worker: marks the oldest queued run running and puts its id in *id (0 when none). */
enum vig_err vig_report_run_take(struct vig_db *db, int64_t now, int64_t *id, char *errbuf);
/* Worker: builds, renders and writes run id under dir/<tenant>/ (created 0700), then marks it
 * done (size, sha256) or failed (error); *run (may be NULL) gets the final run object with
 * "recipients" of its definition added. Returns the run's outcome. */
enum vig_err vig_report_run_execute(struct vig_db *db, int64_t id, const char *dir, int64_t now,
				    size_t max_bytes, json_t **run, char *errbuf);
/* At start: runs left running by a stopped vigild go back to queued. */
enum vig_err vig_report_recover(struct vig_db *db, char *errbuf);
/* Deletes runs finished before now - keep_days (and their files). *removed may be NULL. */
enum vig_err vig_report_expire(struct vig_db *db, int64_t now, int64_t keep_days, size_t *removed,
			       char *errbuf);

#endif
