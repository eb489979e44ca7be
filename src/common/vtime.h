/*
 * vtime.h - time in Vigil: int64 nanoseconds since the Unix epoch, UTC, everywhere.
 */
#ifndef VIG_VTIME_H
#define VIG_VTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define VIG_NS_PER_SEC 1000000000LL
#define VIG_NS_PER_DAY (86400LL * VIG_NS_PER_SEC)
/* Room for "2026-11-23T19:05:00.123456789Z" and a NUL. */
#define VIG_TIME_STRLEN 40

/* Wall clock now, in ns since the epoch. */
int64_t vig_time_now(void);
/* Monotonic clock in ns, for intervals. */
int64_t vig_time_mono(void);
/* Parses RFC 3339 / ISO 8601 ("2026-11-23T19:05:00Z", fractional seconds up to ns, "+01:00"
 * offsets, a space instead of T, a missing zone meaning UTC) or a number of epoch seconds
 * (with optional fraction). Returns false on anything else, and on dates outside the years
 * 1678-2261 that int64 nanoseconds can hold. */
bool vig_time_parse(const char *s, size_t n, int64_t *ns);
/* Formats ns as RFC 3339 UTC with millisecond precision when the value has no finer part,
 * else nanoseconds; out must hold VIG_TIME_STRLEN bytes. Returns the length written. */
size_t vig_time_format(int64_t ns, char *out);
/* Days since the epoch of ns (floor), for partitioning. */
int64_t vig_time_day(int64_t ns);
/* Civil date of a day number: y, m (1-12), d (1-31). */
void vig_time_civil(int64_t day, int *y, int *m, int *d);
/* Day number of a civil date. */
int64_t vig_time_days_from_civil(int y, int m, int d);

#endif
