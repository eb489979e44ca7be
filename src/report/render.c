/*
 * render.c - a report model (data.c) as a file: JSON (the model itself), CSV (RFC 4180, one
 * table; the summary as section/key/value rows) and HTML (one self-contained, print-friendly
 * page: inline CSS, inline SVG charts drawn here, a Content-Security-Policy that forbids every
 * external load, and every value from the data HTML-escaped).
 *
 * Hostile strings (rule titles, host names, owners come from events and users) can therefore
 * neither run script in a browser nor a formula in a spreadsheet.
 */
#include "report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_W 760
#define CHART_H 220
#define CHART_LEFT 44
#define CHART_BOTTOM 28

static const char *const SEVERITIES[] = {"informational", "low", "medium", "high", "critical"};
static const char *const SEV_COLORS[] = {"#9aa5b1", "#4c9be8", "#e0a800", "#f07c29", "#d64545"};
static const char *const CLOCKS[] = {"acknowledge", "contain", "resolve"};

/* Columns of the tabular kinds: dotted paths into a row, and their headings. */
struct col {
	const char *path, *label;
};

static const struct col INCIDENT_COLS[] = {
	{"id", "ID"}, {"title", "Title"}, {"severity", "Severity"}, {"priority", "Priority"},
	{"status", "Status"}, {"owner", "Owner"}, {"created", "Created"}, {"acknowledged", "Acknowledged"},
	{"contained", "Contained"}, {"resolved", "Resolved"}, {"closed", "Closed"}, {"resolution", "Resolution"},
	{NULL, NULL}};
static const struct col ALERT_COLS[] = {
	{"id", "ID"}, {"first_seen", "First seen"}, {"last_seen", "Last seen"}, {"severity", "Severity"},
	{"status", "Status"}, {"rule_id", "Rule"}, {"title", "Title"}, {"host", "Host"}, {"user", "User"},
	{"count", "Count"}, {"incident_id", "Incident"}, {NULL, NULL}};
static const struct col SLA_COLS[] = {
	{"id", "ID"}, {"title", "Title"}, {"severity", "Severity"}, {"status", "Status"}, {"created", "Created"},
	{"acknowledge.target_s", "Ack target (s)"}, {"acknowledge.elapsed_s", "Ack actual (s)"},
	{"acknowledge.state", "Ack"}, {"contain.target_s", "Contain target (s)"},
	{"contain.elapsed_s", "Contain actual (s)"}, {"contain.state", "Contain"},
	{"resolve.target_s", "Resolve target (s)"}, {"resolve.elapsed_s", "Resolve actual (s)"},
	{"resolve.state", "Resolve"}, {NULL, NULL}};

/* ---- escaping ---- */

enum vig_err vig_report_csv_cell(struct vig_buf *b, const char *s)
{
	bool quote, formula;

	s = s ? s : "";
	formula = strchr("=+-@\t\r", *s) && *s;
	quote = formula || strpbrk(s, ",\"\r\n") != NULL;
	if (quote)
		vig_buf_addc(b, '"');
	if (formula)
		vig_buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '"')
			vig_buf_addc(b, '"');
		vig_buf_addc(b, *s);
	}
	if (quote)
		vig_buf_addc(b, '"');
	return vig_buf_err(b);
}

enum vig_err vig_report_html_escape(struct vig_buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': vig_buf_adds(b, "&amp;"); break;
		case '<': vig_buf_adds(b, "&lt;"); break;
		case '>': vig_buf_adds(b, "&gt;"); break;
		case '"': vig_buf_adds(b, "&quot;"); break;
		case '\'': vig_buf_adds(b, "&#39;"); break;
		default: vig_buf_addc(b, *s); break;
		}
	}
	return vig_buf_err(b);
}

/* ---- values ---- */

/* The text of a scalar (strings as they are, numbers, booleans; null and objects ""). */
static const char *text_of(json_t *v, char *tmp, size_t cap)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(tmp, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(tmp, cap, "%.2f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(tmp, cap, "%s", json_is_true(v) ? "true" : "false");
	else
		tmp[0] = '\0';
	return tmp;
}

/* The value at a dotted path ("acknowledge.state") of o. */
static json_t *at(json_t *o, const char *path)
{
	char key[64];

	while (o && path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		path = dot ? dot + 1 : NULL;
	}
	return o;
}

static int64_t int_at(json_t *o, const char *path)
{
	return json_integer_value(at(o, path));
}

/* ---- CSV ---- */

static void csv_table(struct vig_buf *b, json_t *list, const struct col *cols)
{
	char tmp[64];
	json_t *row;
	size_t i;

	for (const struct col *c = cols; c->path; c++) {
		if (c != cols)
			vig_buf_addc(b, ',');
		vig_report_csv_cell(b, c->path);
	}
	vig_buf_adds(b, "\r\n");
	json_array_foreach(list, i, row) {
		for (const struct col *c = cols; c->path; c++) {
			if (c != cols)
				vig_buf_addc(b, ',');
			vig_report_csv_cell(b, text_of(at(row, c->path), tmp, sizeof(tmp)));
		}
		vig_buf_adds(b, "\r\n");
	}
}

/* Every scalar under v as one "section,key,value" row (arrays indexed: top_rules.0.title). */
static void csv_flatten(struct vig_buf *b, const char *section, const char *key, json_t *v)
{
	char sub[256], tmp[64];
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			snprintf(sub, sizeof(sub), "%s%s%s", key, *key ? "." : "", k);
			csv_flatten(b, section, sub, x);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			snprintf(sub, sizeof(sub), "%s%s%zu", key, *key ? "." : "", i);
			csv_flatten(b, section, sub, x);
		}
	} else {
		vig_report_csv_cell(b, section);
		vig_buf_addc(b, ',');
		vig_report_csv_cell(b, key);
		vig_buf_addc(b, ',');
		vig_report_csv_cell(b, text_of(v, tmp, sizeof(tmp)));
		vig_buf_adds(b, "\r\n");
	}
}

static void render_csv(json_t *m, const char *kind, struct vig_buf *b)
{
	const char *k;
	json_t *v;

	if (!strcmp(kind, "alerts")) {
		csv_table(b, json_object_get(m, "alerts"), ALERT_COLS);
	} else if (!strcmp(kind, "incidents")) {
		csv_table(b, json_object_get(m, "incidents"), INCIDENT_COLS);
	} else if (!strcmp(kind, "sla")) {
		csv_table(b, json_object_get(m, "incidents"), SLA_COLS);
	} else {
		vig_buf_adds(b, "section,key,value\r\n");
		json_object_foreach(m, k, v)
			csv_flatten(b, k, "", v);
	}
}

/* ---- HTML ---- */

static const char CSS[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2933;margin:24px auto;"
	"max-width:1000px;padding:0 16px}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;"
	"border-bottom:1px solid #d9e2ec;padding-bottom:4px}.meta{color:#52606d;margin:0}"
	"table{border-collapse:collapse;width:100%;font-size:12.5px}th,td{text-align:left;padding:4px 6px;"
	"border-bottom:1px solid #e4e7eb;vertical-align:top}th{background:#f5f7fa}"
	".kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #d9e2ec;border-radius:6px;"
	"padding:8px 12px;min-width:120px}.kpi b{display:block;font-size:20px}.kpi span{color:#52606d;font-size:12px}"
	"svg text{font-size:10px;fill:#52606d}.note{color:#8a4b00}"
	"@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg,.kpis{break-inside:avoid}}";

static void h(struct vig_buf *b, const char *s)
{
	vig_report_html_escape(b, s);
}

static void html_table(struct vig_buf *b, json_t *list, const struct col *cols)
{
	char tmp[64];
	json_t *row;
	size_t i;

	if (!json_array_size(list)) {
		vig_buf_adds(b, "<p class=\"meta\">None in this period.</p>\n");
		return;
	}
	vig_buf_adds(b, "<table><thead><tr>");
	for (const struct col *c = cols; c->path; c++) {
		vig_buf_adds(b, "<th>");
		h(b, c->label);
		vig_buf_adds(b, "</th>");
	}
	vig_buf_adds(b, "</tr></thead><tbody>\n");
	json_array_foreach(list, i, row) {
		vig_buf_adds(b, "<tr>");
		for (const struct col *c = cols; c->path; c++) {
			vig_buf_adds(b, "<td>");
			h(b, text_of(at(row, c->path), tmp, sizeof(tmp)));
			vig_buf_adds(b, "</td>");
		}
		vig_buf_adds(b, "</tr>\n");
	}
	vig_buf_adds(b, "</tbody></table>\n");
}

/* "2d 4h", "1h 05m", "3m 20s", "-" for null. */
static const char *duration(json_t *v, char *out, size_t cap)
{
	double s = json_number_value(v);
	long long t = (long long)llround(s);

	if (!json_is_number(v))
		snprintf(out, cap, "-");
	else if (t >= 86400)
		snprintf(out, cap, "%lldd %lldh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(out, cap, "%lldh %02lldm", t / 3600, t % 3600 / 60);
	else
		snprintf(out, cap, "%lldm %02llds", t / 60, t % 60);
	return out;
}

static const char *percent(json_t *v, double scale, char *out, size_t cap)
{
	if (json_is_number(v))
		snprintf(out, cap, "%.1f%%", json_number_value(v) * scale);
	else
		snprintf(out, cap, "-");
	return out;
}

static void kpi(struct vig_buf *b, const char *value, const char *label)
{
	vig_buf_adds(b, "<div class=\"kpi\"><b>");
	h(b, value);
	vig_buf_adds(b, "</b><span>");
	h(b, label);
	vig_buf_adds(b, "</span></div>");
}

static void kpi_int(struct vig_buf *b, json_t *v, const char *label)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v));
	kpi(b, tmp, label);
}

static void legend(struct vig_buf *b, int y)
{
	for (size_t s = 0; s < VIG_ARRAY_LEN(SEVERITIES); s++) {
		int x = CHART_LEFT + (int)s * 110;

		vig_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			       "<text x=\"%d\" y=\"%d\">%s</text>", x, y, SEV_COLORS[s], x + 14, y + 9, SEVERITIES[s]);
	}
}

/* Alerts per day, stacked by severity: one SVG bar per day. */
static void svg_alerts_by_day(struct vig_buf *b, json_t *days)
{
	size_t n = json_array_size(days), i, step;
	int64_t max = 1;
	int plot_h = CHART_H - CHART_BOTTOM - 20, base = CHART_H - CHART_BOTTOM;
	double bw;
	json_t *d;

	if (!n)
		return;
	json_array_foreach(days, i, d) {
		int64_t t = 0;

		for (size_t s = 0; s < VIG_ARRAY_LEN(SEVERITIES); s++)
			t += int_at(d, SEVERITIES[s]);
		max = t > max ? t : max;
	}
	bw = (double)(CHART_W - CHART_LEFT - 8) / (double)n;
	step = n > 12 ? (n + 11) / 12 : 1;
	vig_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		       " role=\"img\" aria-label=\"alerts per day by severity\">", CHART_W, CHART_H + 16, CHART_W,
		       CHART_H + 16);
	vig_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#9aa5b1\"/>"
		       "<text x=\"2\" y=\"%d\">%lld</text><text x=\"2\" y=\"%d\">0</text>", CHART_LEFT, base,
		       CHART_W - 4, base, base - plot_h + 4, (long long)max, base);
	json_array_foreach(days, i, d) {
		double x = CHART_LEFT + (double)i * bw + 1, y = base;
		const char *day = json_string_value(json_object_get(d, "day"));

		for (size_t s = 0; s < VIG_ARRAY_LEN(SEVERITIES); s++) {
			int64_t v = int_at(d, SEVERITIES[s]);
			double hgt = (double)v * plot_h / (double)max;

			if (!v)
				continue;
			y -= hgt;
			vig_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
				       "<title>", x, y, bw > 3 ? bw - 2 : bw, hgt, SEV_COLORS[s]);
			h(b, day);
			vig_buf_printf(b, " %s: %lld</title></rect>", SEVERITIES[s], (long long)v);
		}
		if (i % step == 0 && day && strlen(day) == 10) {
			vig_buf_printf(b, "<text x=\"%.1f\" y=\"%d\">", x, base + 14);
			h(b, day + 5);
			vig_buf_adds(b, "</text>");
		}
	}
	legend(b, CHART_H);
	vig_buf_adds(b, "</svg>\n");
}

/* Horizontal bars of a {"severity": n} object. */
static void svg_severity_bars(struct vig_buf *b, json_t *by, const char *label)
{
	int64_t max = 1;
	int rows = (int)VIG_ARRAY_LEN(SEVERITIES), w = CHART_W - 200;

	for (int s = 0; s < rows; s++)
		max = json_integer_value(json_object_get(by, SEVERITIES[s])) > max
			      ? json_integer_value(json_object_get(by, SEVERITIES[s])) : max;
	vig_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
		       " role=\"img\" aria-label=\"", CHART_W, rows * 22 + 4, CHART_W, rows * 22 + 4);
	h(b, label);
	vig_buf_adds(b, "\">");
	for (int s = rows - 1, r = 0; s >= 0; s--, r++) {
		int64_t v = json_integer_value(json_object_get(by, SEVERITIES[s]));

		vig_buf_printf(b, "<text x=\"0\" y=\"%d\">%s</text><rect x=\"100\" y=\"%d\" width=\"%.1f\" height=\"16\""
			       " fill=\"%s\"/><text x=\"%.1f\" y=\"%d\">%lld</text>", r * 22 + 14, SEVERITIES[s], r * 22 + 2,
			       (double)v * w / (double)max, SEV_COLORS[s], 104 + (double)v * w / (double)max, r * 22 + 14,
			       (long long)v);
	}
	vig_buf_adds(b, "</svg>\n");
}

/* A small two-column table of an object's members ({"true_positive": 3, ...}). */
static void html_pairs(struct vig_buf *b, json_t *o, const char *k1, const char *k2)
{
	char tmp[64];
	const char *k;
	json_t *v;

	if (!json_object_size(o)) {
		vig_buf_adds(b, "<p class=\"meta\">None in this period.</p>\n");
		return;
	}
	vig_buf_adds(b, "<table><thead><tr><th>");
	h(b, k1);
	vig_buf_adds(b, "</th><th>");
	h(b, k2);
	vig_buf_adds(b, "</th></tr></thead><tbody>");
	json_object_foreach(o, k, v) {
		vig_buf_adds(b, "<tr><td>");
		h(b, k);
		vig_buf_adds(b, "</td><td>");
		h(b, text_of(v, tmp, sizeof(tmp)));
		vig_buf_adds(b, "</td></tr>");
	}
	vig_buf_adds(b, "</tbody></table>\n");
}

static void html_sla(struct vig_buf *b, json_t *sla)
{
	static const char *const STATES[] = {"met", "breached", "running", "skipped", "none"};
	char tmp[32];

	vig_buf_adds(b, "<h2>SLA compliance</h2><div class=\"kpis\">");
	kpi(b, percent(json_object_get(sla, "compliance_pct"), 1.0, tmp, sizeof(tmp)), "clocks met of those decided");
	kpi_int(b, json_object_get(sla, "incidents"), "incidents");
	vig_buf_adds(b, "</div><table><thead><tr><th>Clock</th>");
	for (size_t s = 0; s < VIG_ARRAY_LEN(STATES); s++)
		vig_buf_printf(b, "<th>%s</th>", STATES[s]);
	vig_buf_adds(b, "</tr></thead><tbody>");
	for (int c = 0; c < 3; c++) {
		vig_buf_printf(b, "<tr><td>%s</td>", CLOCKS[c]);
		for (size_t s = 0; s < VIG_ARRAY_LEN(STATES); s++)
			vig_buf_printf(b, "<td>%lld</td>",
				       (long long)json_integer_value(json_object_get(json_object_get(sla, CLOCKS[c]),
										     STATES[s])));
		vig_buf_adds(b, "</tr>");
	}
	vig_buf_adds(b, "</tbody></table>\n");
}

static void html_summary(struct vig_buf *b, json_t *m)
{
	static const struct col RULES[] = {{"rule_id", "Rule"}, {"title", "Title"}, {"alerts", "Alerts"},
					   {"matches", "Matches"}, {NULL, NULL}};
	static const struct col HOSTS[] = {{"host", "Host"}, {"alerts", "Alerts"}, {"matches", "Matches"}, {NULL, NULL}};
	static const struct col IPS[] = {{"ip", "Source IP"}, {"alerts", "Alerts"}, {"matches", "Matches"}, {NULL, NULL}};
	static const struct col STALE[] = {{"id", "Agent"}, {"hostname", "Host"}, {"status", "Status"},
					   {"last_seen", "Last seen"}, {NULL, NULL}};
	static const struct col SOURCES[] = {{"name", "Source"}, {"type", "Type"}, {"last_received", "Last event"},
					     {"received", "Received"}, {"failed", "Parse failures"},
					     {"silent", "Silent"}, {"errors", "Error alert"}, {NULL, NULL}};
	static const struct col BLOCKED[] = {{"address", "Address"}, {"reason", "Reason"}, {"created_by", "By"},
					     {"created", "Added"}, {"expires", "Expires"}, {NULL, NULL}};
	json_t *al = json_object_get(m, "alerts"), *inc = json_object_get(m, "incidents");
	json_t *mt = json_object_get(m, "metrics"), *ag = json_object_get(m, "agents");
	json_t *blk = json_object_get(m, "blocked");
	char tmp[32];

	vig_buf_adds(b, "<h2>At a glance</h2><div class=\"kpis\">");
	kpi_int(b, json_object_get(al, "total"), "alerts");
	kpi_int(b, json_object_get(inc, "opened"), "incidents opened");
	kpi_int(b, json_object_get(inc, "closed"), "incidents closed");
	kpi(b, duration(json_object_get(mt, "mttd_s"), tmp, sizeof(tmp)), "mean time to detect");
	kpi(b, duration(json_object_get(mt, "mtta_s"), tmp, sizeof(tmp)), "mean time to acknowledge");
	kpi(b, duration(json_object_get(mt, "mttc_s"), tmp, sizeof(tmp)), "mean time to contain");
	kpi(b, duration(json_object_get(mt, "mttr_s"), tmp, sizeof(tmp)), "mean time to resolve");
	kpi(b, percent(json_object_get(mt, "false_positive_rate"), 100.0, tmp, sizeof(tmp)), "false positives");
	kpi(b, percent(json_object_get(json_object_get(m, "sla"), "compliance_pct"), 1.0, tmp, sizeof(tmp)),
	    "SLA compliance");
	vig_buf_adds(b, "</div>\n<h2>Alerts per day by severity</h2>\n");
	svg_alerts_by_day(b, json_object_get(al, "by_day"));
	vig_buf_adds(b, "<h2>Incidents opened by severity</h2>\n");
	svg_severity_bars(b, json_object_get(inc, "opened_by_severity"), "incidents opened by severity");
	vig_buf_adds(b, "<h2>Incidents closed by resolution</h2>\n");
	html_pairs(b, json_object_get(inc, "closed_by_resolution"), "Resolution", "Incidents");
	html_sla(b, json_object_get(m, "sla"));
	vig_buf_adds(b, "<h2>Top rules</h2>\n");
	html_table(b, json_object_get(m, "top_rules"), RULES);
	vig_buf_adds(b, "<h2>Top hosts</h2>\n");
	html_table(b, json_object_get(m, "top_hosts"), HOSTS);
	vig_buf_adds(b, "<h2>Top source IPs</h2>\n");
	html_table(b, json_object_get(m, "top_source_ips"), IPS);
	vig_buf_adds(b, "<h2>Agents</h2><div class=\"kpis\">");
	kpi_int(b, json_object_get(ag, "total"), "agents");
	kpi_int(b, json_object_get(ag, "stale_count"), "not heard from for a day");
	kpi_int(b, json_object_get(ag, "isolated"), "isolated");
	kpi_int(b, json_object_get(ag, "revoked"), "revoked");
	vig_buf_adds(b, "</div>\n");
	html_table(b, json_object_get(ag, "stale"), STALE);
	vig_buf_adds(b, "<h2>Log sources</h2>\n");
	html_table(b, json_object_get(m, "log_sources"), SOURCES);
	vig_buf_adds(b, "<h2>Blocked addresses</h2><div class=\"kpis\">");
	kpi_int(b, json_object_get(blk, "active"), "active blocks");
	vig_buf_printf(b, "</div>\n<p class=\"meta\">Added in this period:</p>\n");
	html_table(b, json_object_get(blk, "added"), BLOCKED);
}

static const char *title_of(const char *kind)
{
	return !strcmp(kind, "soc_summary") ? "SOC summary"
	       : !strcmp(kind, "incidents") ? "Incidents"
	       : !strcmp(kind, "alerts")    ? "Alerts"
					    : "SLA: targets against actual";
}

static void render_html(json_t *m, const char *kind, struct vig_buf *b)
{
	json_t *r = json_object_get(m, "report");
	const char *tname = json_string_value(json_object_get(r, "tenant_name"));
	const char *tenant = json_string_value(json_object_get(r, "tenant"));

	vig_buf_adds(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		     "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
		     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	h(b, title_of(kind));
	vig_buf_adds(b, " - ");
	h(b, tname ? tname : tenant);
	vig_buf_printf(b, "</title><style>%s</style></head><body>\n<header><h1>", CSS);
	h(b, title_of(kind));
	vig_buf_adds(b, "</h1><p class=\"meta\">Tenant <b>");
	h(b, tname ? tname : tenant);
	vig_buf_adds(b, "</b> (");
	h(b, tenant);
	vig_buf_adds(b, ") &middot; from ");
	h(b, json_string_value(json_object_get(r, "from")));
	vig_buf_adds(b, " to ");
	h(b, json_string_value(json_object_get(r, "to")));
	vig_buf_adds(b, " (UTC) &middot; generated ");
	h(b, json_string_value(json_object_get(r, "generated")));
	vig_buf_adds(b, "</p></header>\n");
	if (!strcmp(kind, "soc_summary")) {
		html_summary(b, m);
	} else {
		json_t *list = json_object_get(m, !strcmp(kind, "alerts") ? "alerts" : "incidents");

		if (!strcmp(kind, "sla"))
			html_sla(b, json_object_get(m, "sla"));
		vig_buf_printf(b, "<h2>%s (%zu)</h2>\n", title_of(kind), json_array_size(list));
		if (json_is_true(json_object_get(m, "truncated")))
			vig_buf_printf(b, "<p class=\"note\">Only the first %d rows are shown.</p>\n", VIG_REPORT_ROWS_MAX);
		html_table(b, list, !strcmp(kind, "alerts") ? ALERT_COLS : !strcmp(kind, "sla") ? SLA_COLS
												 : INCIDENT_COLS);
	}
	vig_buf_adds(b, "<footer><p class=\"meta\">Vigil report</p></footer></body></html>\n");
}

enum vig_err vig_report_render(json_t *model, enum vig_report_format f, struct vig_buf *out, char *errbuf)
{
	const char *kind = json_string_value(json_object_get(json_object_get(model, "report"), "kind"));
	char *text;

	if (!kind)
		return vig_errf(errbuf, VIG_EINVAL, "not a report model");
	switch (f) {
	case VIG_REPORT_JSON:
		text = json_dumps(model, JSON_INDENT(2));
		if (!text)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		vig_buf_adds(out, text);
		vig_buf_addc(out, '\n');
		free(text);
		break;
	case VIG_REPORT_CSV: render_csv(model, kind, out); break;
	case VIG_REPORT_HTML:
	default: render_html(model, kind, out); break;
	}
	if (vig_buf_err(out) == VIG_ETOOBIG)
		return vig_errf(errbuf, VIG_ETOOBIG, "report larger than %zu bytes", out->toobig);
	if (vig_buf_err(out) != VIG_OK)
		return vig_errf(errbuf, vig_buf_err(out), "cannot render the report");
	return VIG_OK;
}
