/*
 * log.c - logfmt records to stderr or a file (see log.h).
 */
#include "log.h"
#include "vtime.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static struct {
	pthread_mutex_t lock;     /* serialises writes */
	enum vig_log_level level; /* lowest level written */
	FILE *out;                /* NULL means stderr */
} log0 = {PTHREAD_MUTEX_INITIALIZER, VIG_LOG_INFO, NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void vig_log_set_level(enum vig_log_level level)
{
	log0.level = level;
}

int vig_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int vig_log_open(const char *path)
{
	FILE *f = fopen(path, "a");

	if (!f)
		return -1;
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&log0.lock);
	if (log0.out)
		fclose(log0.out);
	log0.out = f;
	pthread_mutex_unlock(&log0.lock);
	return 0;
}

void vig_log(enum vig_log_level level, const char *component, const char *msg, const char *fmt, ...)
{
	char ts[VIG_TIME_STRLEN], extra[1024] = "";
	va_list ap;

	if (level < log0.level)
		return;
	vig_time_format(vig_time_now(), ts);
	if (fmt && *fmt) {
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&log0.lock);
	fprintf(log0.out ? log0.out : stderr, "ts=%s level=%s component=%s msg=\"%s\"%s%s\n", ts,
		level_names[level], component, msg, extra[0] ? " " : "", extra);
	pthread_mutex_unlock(&log0.lock);
}
