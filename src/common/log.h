/*
 * log.h - structured logging: one line per record, logfmt ("ts=... level=info msg=... k=v").
 * Thread-safe; writes to stderr unless vig_log_open() names a file.
 */
#ifndef VIG_LOG_H
#define VIG_LOG_H

enum vig_log_level { VIG_LOG_DEBUG, VIG_LOG_INFO, VIG_LOG_WARN, VIG_LOG_ERROR };

/* Sets the lowest level written; default info. */
void vig_log_set_level(enum vig_log_level level);
/* Parses "debug", "info", "warn", "error"; returns -1 for anything else. */
int vig_log_level_parse(const char *s);
/* Sends records to path (appending) instead of stderr; returns 0 or -1. */
int vig_log_open(const char *path);
/* Logs msg with extra logfmt pairs: fmt is printf-style and should produce "k=v k2=v2". */
void vig_log(enum vig_log_level level, const char *component, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define vig_info(c, m, ...) vig_log(VIG_LOG_INFO, c, m, __VA_ARGS__)
#define vig_warn(c, m, ...) vig_log(VIG_LOG_WARN, c, m, __VA_ARGS__)
#define vig_error(c, m, ...) vig_log(VIG_LOG_ERROR, c, m, __VA_ARGS__)
#define vig_debug(c, m, ...) vig_log(VIG_LOG_DEBUG, c, m, __VA_ARGS__)

#endif
