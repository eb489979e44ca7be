/*
 * vtime.c - UTC nanosecond timestamps: clock, parsing and formatting without libc's
 * locale- and TZ-dependent routines (civil-date arithmetic after H. Hinnant's algorithms).
 */
#include "vtime.h"
#include "vig.h"

#include <stdio.h>
#include <time.h>

int64_t vig_time_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * VIG_NS_PER_SEC + ts.tv_nsec;
}

int64_t vig_time_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * VIG_NS_PER_SEC + ts.tv_nsec;
}

int64_t vig_time_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void vig_time_civil(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int64_t vig_time_day(int64_t ns)
{
	int64_t d = ns / VIG_NS_PER_DAY;

	if (ns < 0 && d * VIG_NS_PER_DAY != ns)
		d--;
	return d;
}

static bool digits(const char *s, size_t n, size_t at, size_t len, int *out)
{
	int v = 0;

	if (at + len > n)
		return false;
	for (size_t i = at; i < at + len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Parses "[.fraction]" at s[*i]; advances *i. */
static int64_t parse_fraction(const char *s, size_t n, size_t *i)
{
	int64_t frac = 0, scale = 100000000;

	if (*i >= n || s[*i] != '.')
		return 0;
	(*i)++;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		frac += (s[*i] - '0') * scale;
		scale /= 10;
		(*i)++;
	}
	return frac;
}

static bool parse_epoch(const char *s, size_t n, int64_t *ns)
{
	size_t i = 0;
	int64_t sec = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9') {
		if (sec > INT64_MAX / VIG_NS_PER_SEC - 1)
			return false;
		sec = sec * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0)
		return false;
	int64_t frac = parse_fraction(s, n, &i);
	if (i != n)
		return false;
	*ns = sec * VIG_NS_PER_SEC + frac;
	return true;
}

bool vig_time_parse(const char *s, size_t n, int64_t *ns)
{
	int y, mo, d, h = 0, mi = 0, se = 0, oh, om;
	size_t i;
	int64_t frac = 0, off = 0;

	if (n < 10 || s[4] != '-')
		return parse_epoch(s, n, ns);
	if (!digits(s, n, 0, 4, &y) || !digits(s, n, 5, 2, &mo) || s[7] != '-' ||
	    !digits(s, n, 8, 2, &d))
		return false;
	/* int64 nanoseconds span the years 1678 to 2262. */
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1678 || y > 2261)
		return false;
	i = 10;
	if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
		if (!digits(s, n, 11, 2, &h) || i + 3 >= n || s[13] != ':' || !digits(s, n, 14, 2, &mi))
			return false;
		i = 16;
		if (i < n && s[i] == ':') {
			if (!digits(s, n, 17, 2, &se))
				return false;
			i = 19;
			frac = parse_fraction(s, n, &i);
		}
		if (h > 23 || mi > 59 || se > 60)
			return false;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i] == '-' ? -1 : 1;
		if (!digits(s, n, i + 1, 2, &oh))
			return false;
		if (i + 3 < n && s[i + 3] == ':') {
			if (!digits(s, n, i + 4, 2, &om))
				return false;
			i += 6;
		} else if (digits(s, n, i + 3, 2, &om)) {
			i += 5;
		} else {
			om = 0;
			i += 3;
		}
		off = sign * ((int64_t)oh * 3600 + om * 60);
	}
	if (i != n)
		return false;
	int64_t days = vig_time_days_from_civil(y, mo, d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off;
	*ns = secs * VIG_NS_PER_SEC + frac;
	return true;
}

size_t vig_time_format(int64_t ns, char *out)
{
	int64_t day = vig_time_day(ns);
	int64_t rem = ns - day * VIG_NS_PER_DAY;
	int64_t secs = rem / VIG_NS_PER_SEC, sub = rem % VIG_NS_PER_SEC;
	int y, m, d, n;

	vig_time_civil(day, &y, &m, &d);
	if (sub % 1000000 == 0)
		n = snprintf(out, VIG_TIME_STRLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
			     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
			     (int)(sub / 1000000));
	else
		n = snprintf(out, VIG_TIME_STRLEN, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", y, m, d,
			     (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), (int)sub);
	return n > 0 ? (size_t)n : 0;
}
