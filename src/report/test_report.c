/*
 * test_report.c - reports: period ranges and schedule slots (month ends, leap years, weekdays,
 * restarts that must not repeat a slot, missed slots collapsing into one), CSV and HTML escaping
 * of hostile strings, rendering of every kind and format from a control DB seeded through the
 * real alert and incident code, and definitions and runs with their tenancy, queue, files and
 * retention.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert/alert.h"
#include "auth/testutil.h"
#include "common/vtime.h"
#include "incident/incident.h"
#include "notify/notify.h"
#include "report/report.h"

#define SEC 1000000000LL
#define DAY (86400 * SEC)

struct fx {
	struct vig_db *db;
	struct vig_principal sys, admin_a, viewer_a, admin_b;
	char dir[64];
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->admin_a, VIG_ROLE_TENANT_ADMIN, VIG_TEST_TENANT_A, "alice");
	vig_test_principal(&f->viewer_a, VIG_ROLE_CUSTOMER_VIEWER, VIG_TEST_TENANT_A, "victor");
	vig_test_principal(&f->admin_b, VIG_ROLE_TENANT_ADMIN, VIG_TEST_TENANT_B, "bob");
	snprintf(f->dir, sizeof(f->dir), "/tmp/vig-report-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	vig_db_close(f->db);
	free(f);
	return 0;
}

static int64_t t(const char *s)
{
	int64_t ns = 0;

	assert_true(vig_time_parse(s, strlen(s), &ns));
	return ns;
}

static void assert_time(int64_t ns, const char *want)
{
	char got[VIG_TIME_STRLEN];

	vig_time_format(ns, got);
	assert_string_equal(got, want);
}

static void test_periods(void **state)
{
	int64_t from, to;

	(void)state;
	vig_report_period_range(VIG_REPORT_PREVIOUS_MONTH, t("2026-03-15T10:00:00Z"), &from, &to);
	assert_time(from, "2026-02-01T00:00:00.000Z");
	assert_time(to, "2026-03-01T00:00:00.000Z");
	vig_report_period_range(VIG_REPORT_PREVIOUS_MONTH, t("2026-01-01T00:00:00Z"), &from, &to);
	assert_time(from, "2025-12-01T00:00:00.000Z");
	assert_time(to, "2026-01-01T00:00:00.000Z");
	vig_report_period_range(VIG_REPORT_LAST_7D, t("2026-03-15T10:00:00Z"), &from, &to);
	assert_time(from, "2026-03-08T10:00:00.000Z");
	vig_report_period_range(VIG_REPORT_LAST_24H, t("2026-03-01T00:30:00Z"), &from, &to);
	assert_time(from, "2026-02-28T00:30:00.000Z");
}

static int64_t next_of(const char *spec, const char *after)
{
	struct vig_report_schedule s;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(vig_report_schedule_parse(spec, &s, err), VIG_OK);
	return vig_report_schedule_next(&s, t(after));
}

static void test_schedules(void **state)
{
	static const char *const bad[] = {"daily 24:00", "daily 6:00", "weekly xyz 01:00", "monthly 0 01:00",
					  "monthly 32 00:00", "hourly", "daily 06:00 extra", "weekly mon",
					  "monthly 1x 00:00"};
	struct vig_report_schedule s;
	char err[VIG_ERRBUF_SIZE], text[32];

	(void)state;
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++)
		assert_int_equal(vig_report_schedule_parse(bad[i], &s, err), VIG_EINVAL);
	assert_int_equal(vig_report_schedule_parse("none", &s, err), VIG_OK);
	assert_int_equal(vig_report_schedule_next(&s, t("2026-01-01T00:00:00Z")), 0);
	assert_int_equal(vig_report_schedule_parse("monthly 5 07:30", &s, err), VIG_OK);
	vig_report_schedule_format(&s, text);
	assert_string_equal(text, "monthly 05 07:30");
	/* strictly after: a slot at exactly `after` is not the next one */
	assert_time(next_of("daily 06:00", "2026-01-31T06:00:00Z"), "2026-02-01T06:00:00.000Z");
	assert_time(next_of("daily 06:00", "2026-01-31T05:59:59Z"), "2026-01-31T06:00:00.000Z");
	/* 2026-11-24 is a Tuesday */
	assert_time(next_of("weekly mon 09:30", "2026-11-24T12:00:00Z"), "2026-11-30T09:30:00.000Z");
	assert_time(next_of("weekly tue 13:00", "2026-11-24T12:00:00Z"), "2026-11-24T13:00:00.000Z");
	assert_time(next_of("weekly sun 00:00", "2026-11-24T12:00:00Z"), "2026-11-29T00:00:00.000Z");
	/* month ends: the 31st runs on the last day of shorter months; leap years */
	assert_time(next_of("monthly 31 23:00", "2026-01-31T23:00:00Z"), "2026-02-28T23:00:00.000Z");
	assert_time(next_of("monthly 31 23:00", "2028-02-01T00:00:00Z"), "2028-02-29T23:00:00.000Z");
	assert_time(next_of("monthly 31 23:00", "2026-04-01T00:00:00Z"), "2026-04-30T23:00:00.000Z");
	assert_time(next_of("monthly 30 00:00", "2026-12-31T00:00:00Z"), "2027-01-30T00:00:00.000Z");
	assert_time(next_of("monthly 01 00:00", "2026-12-31T00:00:00Z"), "2027-01-01T00:00:00.000Z");
}

static void test_csv_escaping(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain", "plain"},
		{"a,b", "\"a,b\""},
		{"say \"hi\"", "\"say \"\"hi\"\"\""},
		{"two\nlines", "\"two\nlines\""},
		{"=cmd|' /C calc'!A0", "\"'=cmd|' /C calc'!A0\""},
		{"+1", "\"'+1\""},
		{"-2+3", "\"'-2+3\""},
		{"@SUM(A1)", "\"'@SUM(A1)\""},
		{"\t=x", "\"'\t=x\""},
		{"", ""},
		{"a=b", "a=b"},
	};
	struct vig_buf b;

	(void)state;
	for (size_t i = 0; i < VIG_ARRAY_LEN(cases); i++) {
		vig_buf_init(&b, 1024);
		assert_int_equal(vig_report_csv_cell(&b, cases[i].in), VIG_OK);
		assert_string_equal(b.data ? b.data : "", cases[i].out);
		vig_buf_release(&b);
	}
}

static void test_html_escaping(void **state)
{
	struct vig_buf b;

	(void)state;
	vig_buf_init(&b, 1024);
	assert_int_equal(vig_report_html_escape(&b, "<script>alert('x')</script>&\"q\""), VIG_OK);
	assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;q&quot;");
	vig_buf_release(&b);
}

/* Records one alert through the real alert code. */
static int64_t alert(struct fx *f, const char *tenant, const char *rule, const char *title, const char *level,
		     const char *host, const char *ip, int64_t now)
{
	struct vig_alert_tx *tx;
	struct vig_alert_match m = {.tenant = tenant, .rule_id = rule, .title = title, .level = level, .host = host,
				    .source_ip = ip, .event_id = "e1", .event_ns = now - 30 * SEC};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = 0;

	assert_int_equal(vig_alert_tx_begin(f->db, 3600 * SEC, &tx, err), VIG_OK);
	assert_int_equal(vig_alert_tx_record(tx, &m, now, NULL, &id, NULL, err), VIG_OK);
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	return id;
}

#define HOSTILE_TITLE "<script>alert(1)</script>"
#define HOSTILE_HOST "=HYPERLINK(\"http://evil/\",\"x\")"

/* Tenant A: three alerts (one hostile), two incidents (one closed as a false positive);
 * tenant B: one alert that A's reports must not show. */
static void seed(struct fx *f, int64_t now)
{
	struct vig_inc_new in = {.title = "Ransomware on fs-01", .severity = "critical", .reason = "test"};
	struct vig_principal t2;
	char err[VIG_ERRBUF_SIZE];
	int64_t ids[2], inc1, inc2;
	json_t *patch;

	ids[0] = alert(f, VIG_TEST_TENANT_A, "r-hostile", HOSTILE_TITLE, "high", HOSTILE_HOST, NULL, now - 3600 * SEC);
	ids[1] = alert(f, VIG_TEST_TENANT_A, "r-ssh", "SSH brute force", "medium", NULL, "203.0.113.7", now - 60 * SEC);
	alert(f, VIG_TEST_TENANT_A, "r-ssh", "SSH brute force", "medium", "web-01", NULL, now - 2 * DAY);
	alert(f, VIG_TEST_TENANT_B, "r-b", "tenant B only", "critical", "b-host", NULL, now - 60 * SEC);
	vig_test_principal(&t2, VIG_ROLE_TIER2, VIG_TEST_TENANT_A, "alice");
	in.alert_ids = ids;
	in.n_alerts = 1;
	assert_int_equal(vig_inc_create(f->db, &t2, &in, &inc1, err), VIG_OK);
	in.title = "Brute force " HOSTILE_TITLE;
	in.severity = "medium";
	in.alert_ids = ids + 1;
	assert_int_equal(vig_inc_create(f->db, &t2, &in, &inc2, err), VIG_OK);
	patch = json_pack("{s:s,s:s}", "status", "closed", "resolution", "false_positive");
	assert_int_equal(vig_inc_update(f->db, &t2, inc2, patch, "noise", NULL, err), VIG_OK);
	json_decref(patch);
}

static char *render(json_t *m, enum vig_report_format fmt)
{
	struct vig_buf b;
	char err[VIG_ERRBUF_SIZE];

	vig_buf_init(&b, VIG_REPORT_BYTES_MAX);
	assert_int_equal(vig_report_render(m, fmt, &b, err), VIG_OK);
	return vig_buf_take(&b, NULL);
}

static void test_render_seeded(void **state)
{
	struct fx *f = *state;
	int64_t now = vig_time_now(), from = now - DAY, to = now + 3600 * SEC;
	char err[VIG_ERRBUF_SIZE], *html, *csv, *js;
	json_t *m = NULL, *back;

	seed(f, now);
	assert_int_equal(vig_report_build(f->db, VIG_TEST_TENANT_A, VIG_REPORT_SOC_SUMMARY, from, to, now, &m, err),
			 VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "alerts"), "total")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(m, "alerts"),
									    "by_severity"), "high")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "incidents"), "opened")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "incidents"), "closed")), 1);
	assert_true(json_is_number(json_object_get(json_object_get(m, "metrics"), "false_positive_rate")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(m, "top_source_ips"), 0),
							      "ip")), "203.0.113.7");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(m, "top_hosts"), 0),
							      "host")), HOSTILE_HOST);
	/* every day of the range is a bar, zeros included */
	assert_true(json_array_size(json_object_get(json_object_get(m, "alerts"), "by_day")) >= 2);
	html = render(m, VIG_REPORT_HTML);
	assert_null(strstr(html, "<script"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "<svg"));
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "href="));
	assert_null(strstr(html, "tenant B only"));
	free(html);
	csv = render(m, VIG_REPORT_CSV);
	assert_non_null(strstr(csv, "section,key,value\r\n"));
	assert_non_null(strstr(csv, "\"'=HYPERLINK(\"\"http://evil/\"\",\"\"x\"\")\""));
	free(csv);
	js = render(m, VIG_REPORT_JSON);
	back = json_loads(js, 0, NULL);
	assert_non_null(back);
	assert_true(json_equal(back, m));
	json_decref(back);
	free(js);
	json_decref(m);

	/* the tabular kinds */
	assert_int_equal(vig_report_build(f->db, VIG_TEST_TENANT_A, VIG_REPORT_ALERTS, from, to, now, &m, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(m, "alerts")), 2);
	csv = render(m, VIG_REPORT_CSV);
	assert_int_equal(strncmp(csv, "id,first_seen,last_seen,severity,status,rule_id,title,host,", 58), 0);
	assert_non_null(strstr(csv, "'=HYPERLINK"));
	free(csv);
	json_decref(m);
	assert_int_equal(vig_report_build(f->db, VIG_TEST_TENANT_A, VIG_REPORT_INCIDENTS, from, to, now, &m, err),
			 VIG_OK);
	assert_int_equal(json_array_size(json_object_get(m, "incidents")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(m, "incidents"), 1),
							      "resolution")), "false_positive");
	html = render(m, VIG_REPORT_HTML);
	assert_null(strstr(html, "<script"));
	free(html);
	json_decref(m);
	assert_int_equal(vig_report_build(f->db, VIG_TEST_TENANT_A, VIG_REPORT_SLA, from, to, now, &m, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
				    json_object_get(m, "incidents"), 0), "acknowledge"), "state")), "running");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(
				    json_object_get(m, "incidents"), 1), "contain"), "state")), "skipped");
	csv = render(m, VIG_REPORT_CSV);
	assert_non_null(strstr(csv, "acknowledge.target_s"));
	free(csv);
	json_decref(m);
	/* a bad range */
	assert_int_equal(vig_report_build(f->db, VIG_TEST_TENANT_A, VIG_REPORT_ALERTS, to, from, now, &m, err),
			 VIG_EINVAL);
}

static json_t *def_in(const char *name, const char *schedule)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s]}", "name", name, "kind", "alerts", "format", "csv", "period",
			 "last_24h", "schedule", schedule, "recipients", "ciso@customer.test");
}

static void test_definitions_and_runs(void **state)
{
	struct fx *f = *state;
	int64_t now = vig_time_now(), id, run_id, taken;
	char err[VIG_ERRBUF_SIZE], path[4096];
	enum vig_report_format fmt;
	json_t *in = def_in("weekly alerts", "weekly mon 06:00"), *d = NULL, *run = NULL, *list = NULL, *bad;
	struct stat sb;
	size_t removed = 0;

	seed(f, now);
	assert_int_equal(vig_report_create(f->db, &f->viewer_a, in, now, &d, err), VIG_EPERM);
	assert_int_equal(vig_report_create(f->db, &f->admin_a, in, now, &d, err), VIG_OK);
	assert_int_equal(vig_report_create(f->db, &f->admin_a, in, now, NULL, err), VIG_EEXIST);
	json_decref(in);
	id = json_integer_value(json_object_get(d, "id"));
	assert_string_equal(json_string_value(json_object_get(d, "schedule")), "weekly mon 06:00");
	assert_true(json_is_null(json_object_get(d, "last_run")));
	assert_true(json_is_string(json_object_get(d, "next_run")));
	json_decref(d);
	/* bad input is refused with the reason */
	bad = json_pack("{s:s,s:s,s:s,s:[s]}", "name", "x", "kind", "alerts", "format", "csv", "recipients", "no-at");
	assert_int_equal(vig_report_create(f->db, &f->admin_a, bad, now, NULL, err), VIG_EINVAL);
	assert_non_null(strstr(err, "no-at"));
	json_decref(bad);
	bad = json_pack("{s:s,s:s,s:s,s:s}", "name", "x", "kind", "pdf", "format", "csv", "x", "y");
	assert_int_equal(vig_report_create(f->db, &f->admin_a, bad, now, NULL, err), VIG_EINVAL);
	json_decref(bad);
	/* tenancy: B sees nothing of A's, a viewer reads but does not define */
	assert_int_equal(vig_report_get(f->db, &f->admin_b, id, now, &d, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_get(f->db, &f->viewer_a, id, now, &d, err), VIG_OK);
	json_decref(d);
	bad = json_pack("{s:b}", "enabled", 0);
	assert_int_equal(vig_report_update(f->db, &f->viewer_a, id, bad, now, NULL, err), VIG_EPERM);
	assert_int_equal(vig_report_update(f->db, &f->admin_b, id, bad, now, NULL, err), VIG_ENOTFOUND);
	json_decref(bad);
	assert_int_equal(vig_report_delete(f->db, &f->admin_b, id, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_list(f->db, &f->admin_b, NULL, now, &list, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(list, "reports")), 0);
	json_decref(list);

	/* a run on demand: queued, taken, executed into its file */
	assert_int_equal(vig_report_run_queue(f->db, &f->admin_b, id, 0, 0, now, 8, &run, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_run_queue(f->db, &f->admin_a, id, 0, 0, now, 0, &run, err), VIG_EBUSY);
	assert_int_equal(vig_report_run_queue(f->db, &f->admin_a, id, now - DAY, now + 3600 * SEC, now, 8, &run, err),
			 VIG_OK);
	run_id = json_integer_value(json_object_get(run, "id"));
	assert_string_equal(json_string_value(json_object_get(run, "status")), "queued");
	assert_string_equal(json_string_value(json_object_get(run, "requested_by")), "alice");
	json_decref(run);
	assert_int_equal(vig_report_run_file(f->db, &f->admin_a, run_id, path, sizeof(path), &fmt, err), VIG_ECONFLICT);
	assert_int_equal(vig_report_run_take(f->db, now, &taken, err), VIG_OK);
	assert_int_equal(taken, run_id);
	assert_int_equal(vig_report_run_execute(f->db, taken, f->dir, now, 0, &run, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(run, "status")), "done");
	assert_int_equal(json_integer_value(json_object_get(run, "progress")), 100);
	assert_string_equal(json_string_value(json_array_get(json_object_get(run, "recipients"), 0)),
			    "ciso@customer.test");
	{ /* the recipient's e-mail was queued with the run's completion */
		json_t *dl = NULL;

		assert_int_equal(vig_notify_deliveries(f->db, &f->admin_a, "pending", 10, &dl, err), VIG_OK);
		assert_int_equal(json_array_size(json_object_get(dl, "deliveries")), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(dl, "deliveries"), 0),
								      "target")), "ciso@customer.test");
		json_decref(dl);
	}
	assert_int_equal(vig_report_run_file(f->db, &f->viewer_a, run_id, path, sizeof(path), &fmt, err), VIG_OK);
	assert_int_equal(fmt, VIG_REPORT_CSV);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((int64_t)sb.st_size, json_integer_value(json_object_get(run, "size")));
	assert_non_null(strstr(path, "/tenant-a/"));
	json_decref(run);
	assert_int_equal(vig_report_run_file(f->db, &f->admin_b, run_id, path, sizeof(path), &fmt, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_run_get(f->db, &f->admin_b, run_id, &run, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_runs_list(f->db, &f->viewer_a, NULL, id, 10, &list, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(list, "runs")), 1);
	json_decref(list);
	assert_int_equal(vig_report_run_take(f->db, now, &taken, err), VIG_OK);
	assert_int_equal(taken, 0);
	/* retention: kept within keep_days, then deleted with the file */
	assert_int_equal(vig_report_expire(f->db, now + DAY, 90, &removed, err), VIG_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(vig_report_run_file(f->db, &f->admin_a, run_id, path, sizeof(path), &fmt, err), VIG_OK);
	assert_int_equal(vig_report_expire(f->db, now + 91 * DAY, 90, &removed, err), VIG_OK);
	assert_int_equal(removed, 1);
	assert_int_not_equal(stat(path, &sb), 0);
	assert_int_equal(vig_report_run_get(f->db, &f->admin_a, run_id, &run, err), VIG_ENOTFOUND);
	assert_int_equal(vig_report_delete(f->db, &f->admin_a, id, err), VIG_OK);
	assert_int_equal(vig_report_get(f->db, &f->admin_a, id, now, &d, err), VIG_ENOTFOUND);
}

static size_t due(struct fx *f, int64_t now)
{
	char err[VIG_ERRBUF_SIZE];
	size_t n = 99;

	assert_int_equal(vig_report_schedule_due(f->db, now, 32, &n, err), VIG_OK);
	return n;
}

static void test_schedule_once(void **state)
{
	struct fx *f = *state;
	int64_t created = t("2026-11-24T05:00:00Z"), slot = t("2026-11-24T06:00:00Z"), taken;
	json_t *in = def_in("daily", "daily 06:00"), *list = NULL, *run;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(vig_report_create(f->db, &f->admin_a, in, created, NULL, err), VIG_OK);
	json_decref(in);
	assert_int_equal(due(f, slot - SEC), 0);
	assert_int_equal(due(f, slot + SEC), 1);
	/* the same slot again (another check, or vigild restarted): nothing */
	assert_int_equal(due(f, slot + 2 * SEC), 0);
	assert_int_equal(due(f, slot + 3600 * SEC), 0);
	/* the run covers the day before its slot */
	assert_int_equal(vig_report_runs_list(f->db, &f->admin_a, NULL, 0, 10, &list, err), VIG_OK);
	run = json_array_get(json_object_get(list, "runs"), 0);
	assert_string_equal(json_string_value(json_object_get(run, "from")), "2026-11-23T06:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(run, "to")), "2026-11-24T06:00:00.000Z");
	assert_string_equal(json_string_value(json_object_get(run, "requested_by")), "system");
	json_decref(list);
	/* a running run left behind by a stop goes back to the queue */
	assert_int_equal(vig_report_run_take(f->db, slot, &taken, err), VIG_OK);
	assert_int_not_equal(taken, 0);
	assert_int_equal(vig_report_recover(f->db, err), VIG_OK);
	assert_int_equal(vig_report_run_take(f->db, slot, &taken, err), VIG_OK);
	assert_int_not_equal(taken, 0);
	/* the next day's slot; then five missed days collapse into one run */
	assert_int_equal(due(f, slot + DAY + SEC), 1);
	assert_int_equal(due(f, slot + 6 * DAY + SEC), 1);
	assert_int_equal(due(f, slot + 6 * DAY + 2 * SEC), 0);
	assert_int_equal(vig_report_runs_list(f->db, &f->admin_a, NULL, 0, 10, &list, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(list, "runs")), 3);
	json_decref(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_periods),
		cmocka_unit_test(test_schedules),
		cmocka_unit_test(test_csv_escaping),
		cmocka_unit_test(test_html_escaping),
		cmocka_unit_test_setup_teardown(test_render_seeded, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_definitions_and_runs, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_schedule_once, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
