/*
 * schedule.c - the names of report kinds, formats and periods, the period ranges, and the
 * schedules: parsing "daily HH:MM" / "weekly DAY HH:MM" / "monthly DD HH:MM" (UTC) and the next
 * slot after a time. Pure functions: no database, no clock. See report.h.
 */
#include "report/report.h"

#include <stdio.h>
#include <string.h>

#include "common/vtime.h"

#define MIN_NS (60LL * VIG_NS_PER_SEC)
#define SLOT_SEARCH_DAYS 400 /* a slot exists within a year of any time */

static const char *const KINDS[] = {"soc_summary", "incidents", "alerts", "sla"};
static const char *const FORMATS[] = {"html", "csv", "json"};
static const char *const PERIODS[] = {"last_24h", "last_7d", "last_30d", "previous_month"};
static const char *const WDAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int name_index(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(names[i], s))
			return (int)i;
	return -1;
}

const char *vig_report_kind_name(enum vig_report_kind k)
{
	return (unsigned)k < VIG_ARRAY_LEN(KINDS) ? KINDS[k] : "unknown";
}

bool vig_report_kind_parse(const char *s, enum vig_report_kind *out)
{
	int i = name_index(KINDS, VIG_ARRAY_LEN(KINDS), s);

	if (i >= 0)
		*out = (enum vig_report_kind)i;
	return i >= 0;
}

const char *vig_report_format_name(enum vig_report_format f)
{
	return (unsigned)f < VIG_ARRAY_LEN(FORMATS) ? FORMATS[f] : "unknown";
}

bool vig_report_format_parse(const char *s, enum vig_report_format *out)
{
	int i = name_index(FORMATS, VIG_ARRAY_LEN(FORMATS), s);

	if (i >= 0)
		*out = (enum vig_report_format)i;
	return i >= 0;
}

const char *vig_report_period_name(enum vig_report_period p)
{
	return (unsigned)p < VIG_ARRAY_LEN(PERIODS) ? PERIODS[p] : "unknown";
}

bool vig_report_period_parse(const char *s, enum vig_report_period *out)
{
	int i = name_index(PERIODS, VIG_ARRAY_LEN(PERIODS), s);

	if (i >= 0)
		*out = (enum vig_report_period)i;
	return i >= 0;
}

const char *vig_report_content_type(enum vig_report_format f)
{
	return f == VIG_REPORT_HTML ? "text/html; charset=utf-8"
	       : f == VIG_REPORT_CSV ? "text/csv; charset=utf-8"
				     : "application/json";
}

void vig_report_period_range(enum vig_report_period p, int64_t t, int64_t *from, int64_t *to)
{
	int y, m, d;

	*to = t;
	switch (p) {
	case VIG_REPORT_LAST_24H: *from = t - VIG_NS_PER_DAY; break;
	case VIG_REPORT_LAST_7D: *from = t - 7 * VIG_NS_PER_DAY; break;
	case VIG_REPORT_LAST_30D: *from = t - 30 * VIG_NS_PER_DAY; break;
	case VIG_REPORT_PREVIOUS_MONTH:
	default:
		vig_time_civil(vig_time_day(t), &y, &m, &d);
		*to = vig_time_days_from_civil(y, m, 1) * VIG_NS_PER_DAY;
		if (--m == 0) {
			m = 12;
			y--;
		}
		*from = vig_time_days_from_civil(y, m, 1) * VIG_NS_PER_DAY;
		break;
	}
}

/* Parses "HH:MM" (00:00..23:59) exactly. */
static bool parse_hhmm(const char *s, int *h, int *m)
{
	if (strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	*h = (s[0] - '0') * 10 + (s[1] - '0');
	*m = (s[3] - '0') * 10 + (s[4] - '0');
	return *h < 24 && *m < 60;
}

enum vig_err vig_report_schedule_parse(const char *s, struct vig_report_schedule *out, char *errbuf)
{
	char w[3][16];
	int n, extra = 0;

	memset(out, 0, sizeof(*out));
	if (!s || !*s || !strcmp(s, "none"))
		return VIG_OK;
	if (strlen(s) > 40)
		goto bad;
	n = sscanf(s, "%15s %15s %15s %d", w[0], w[1], w[2], &extra);
	if (n == 2 && !strcmp(w[0], "daily") && parse_hhmm(w[1], &out->hour, &out->minute)) {
		out->every = VIG_REPORT_DAILY;
		return VIG_OK;
	}
	if (n == 3 && !strcmp(w[0], "weekly") && (out->wday = name_index(WDAYS, 7, w[1])) >= 0 &&
	    parse_hhmm(w[2], &out->hour, &out->minute)) {
		out->every = VIG_REPORT_WEEKLY;
		return VIG_OK;
	}
	if (n == 3 && !strcmp(w[0], "monthly") && strlen(w[1]) <= 2 && w[1][0] >= '0' && w[1][0] <= '9' &&
	    (!w[1][1] || (w[1][1] >= '0' && w[1][1] <= '9')) && parse_hhmm(w[2], &out->hour, &out->minute)) {
		out->mday = w[1][1] ? (w[1][0] - '0') * 10 + (w[1][1] - '0') : w[1][0] - '0';
		if (out->mday >= 1 && out->mday <= 31) {
			out->every = VIG_REPORT_MONTHLY;
			return VIG_OK;
		}
	}
bad:
	memset(out, 0, sizeof(*out));
	return vig_errf(errbuf, VIG_EINVAL,
			"schedule: expected none, 'daily HH:MM', 'weekly DAY HH:MM' (DAY mon..sun) or"
			" 'monthly DD HH:MM' (DD 1..31), UTC");
}

void vig_report_schedule_format(const struct vig_report_schedule *s, char out[32])
{
	switch (s->every) {
	case VIG_REPORT_DAILY: snprintf(out, 32, "daily %02d:%02d", s->hour, s->minute); break;
	case VIG_REPORT_WEEKLY:
		snprintf(out, 32, "weekly %s %02d:%02d", WDAYS[s->wday % 7], s->hour, s->minute);
		break;
	case VIG_REPORT_MONTHLY:
		snprintf(out, 32, "monthly %02d %02d:%02d", s->mday, s->hour, s->minute);
		break;
	default: snprintf(out, 32, "none"); break;
	}
}

static int days_in_month(int y, int m)
{
	int64_t first = vig_time_days_from_civil(y, m, 1);

	return (int)(m == 12 ? vig_time_days_from_civil(y + 1, 1, 1) - first
			     : vig_time_days_from_civil(y, m + 1, 1) - first);
}

/* Does day (days since the epoch) carry a slot of s? */
static bool day_has_slot(const struct vig_report_schedule *s, int64_t day)
{
	int y, m, d, last;

	switch (s->every) {
	case VIG_REPORT_DAILY: return true;
	case VIG_REPORT_WEEKLY: return ((day % 7 + 7 + 4) % 7) == s->wday; /* 1970-01-01 was a Thursday */
	case VIG_REPORT_MONTHLY:
		vig_time_civil(day, &y, &m, &d);
		last = days_in_month(y, m);
		return d == (s->mday < last ? s->mday : last);
	default: return false;
	}
}

int64_t vig_report_schedule_next(const struct vig_report_schedule *s, int64_t after)
{
	int64_t day = vig_time_day(after);

	if (s->every == VIG_REPORT_NEVER)
		return 0;
	for (int i = 0; i <= SLOT_SEARCH_DAYS; i++, day++) {
		int64_t slot = day * VIG_NS_PER_DAY + (s->hour * 60LL + s->minute) * MIN_NS;

		if (slot > after && day_has_slot(s, day))
			return slot;
	}
	return 0;
}
