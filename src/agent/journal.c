/*
 * journal.c - systemd journal forwarding (--journal): the entries of the login and account
 * programs become events through the project's auth parsers.
 *
 * The thread opens the journal (the local one, or a directory for tests), matches
 * SYSLOG_IDENTIFIER against VIG_JOURNAL_IDENTS (OR'ed), positions itself after the cursor kept
 * in STATE/journal.cursor (at the tail on the first run), and for every new entry renders
 * "<pri>1 TIME HOST IDENT PID - - MESSAGE" (RFC 5424, so the year and microseconds survive) and
 * hands it to the syslog parser, which dispatches on the program name to the sshd/su/sudo/PAM
 * parsers; `message` is then the entry's MESSAGE and log.source "journal". The cursor is saved at most once a second and at stop. sd_journal objects stay on
 * the thread that opened them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "common/log.h"
#include "common/vtime.h"
#include "parse/parse.h"
#include "transport.h"

#define VIG_JOURNAL_MAX_MESSAGE (64u << 10)

static const char *const VIG_JOURNAL_IDENTS[] = {
	"sshd", "su", "sudo", "login", "useradd", "userdel", "usermod", "groupadd", "groupdel",
	"groupmod", "passwd", "chpasswd", "chage", "gpasswd", "systemd-logind", "polkitd", "pkexec",
	"newgrp", "runuser", "doas", "unix_chkpwd", "cron", "CRON",
};

struct vig_journal {
	char *dir;
	char cursor_path[VIG_AGENT_PATH_MAX];
	struct vig_forward_sink sink;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, ready;
	enum vig_err open_err;
	char open_why[VIG_ERRBUF_SIZE];
	pthread_t thread;
	_Atomic uint64_t entries, failed;
};

enum vig_err vig_journal_line(int64_t ts_us, int priority, const char *host, const char *ident,
			      const char *pid, const char *message, struct vig_buf *out)
{
	char ts[VIG_TIME_STRLEN];

	vig_buf_reset(out);
	if (priority < 0 || priority > 7)
		priority = 6;
	vig_time_format(ts_us * 1000, ts);
	vig_buf_printf(out, "<%d>1 %s %s %s %s - - ", 10 * 8 + priority, ts, host && host[0] ? host : "-",
		       ident && ident[0] ? ident : "-", pid && pid[0] ? pid : "-");
	vig_buf_adds(out, message ? message : "");
	for (size_t i = 0; i < out->len; i++)
		if (out->data[i] == '\n' || out->data[i] == '\r')
			out->data[i] = ' ';
	return vig_buf_err(out);
}

/* Copies the value of field (without "FIELD=") of the current entry into out (cap bytes). */
static bool vig_field(sd_journal *j, const char *field, char *out, size_t cap)
{
	const void *data;
	size_t len, flen = strlen(field);

	out[0] = '\0';
	if (sd_journal_get_data(j, field, &data, &len) < 0 || len <= flen)
		return false;
	len -= flen + 1;
	snprintf(out, cap, "%.*s", (int)VIG_MIN(len, cap - 1), (const char *)data + flen + 1);
	return true;
}

static void vig_journal_entry(struct vig_journal *jr, sd_journal *j, struct vig_parse_ctx *pctx,
			      struct vig_event *ev, struct vig_arena *arena, struct vig_buf *line)
{
	char ident[64], pid[32], prio[8], host[256], errbuf[VIG_ERRBUF_SIZE];
	char *msg = malloc(VIG_JOURNAL_MAX_MESSAGE);
	uint64_t us = 0;
	int64_t p;

	if (!msg)
		return;
	vig_field(j, "SYSLOG_IDENTIFIER", ident, sizeof(ident));
	if (!vig_field(j, "SYSLOG_PID", pid, sizeof(pid)))
		vig_field(j, "_PID", pid, sizeof(pid));
	if (!vig_field(j, "PRIORITY", prio, sizeof(prio)) || !vig_parse_i64(prio, strlen(prio), &p))
		p = 6;
	if (!vig_field(j, "_HOSTNAME", host, sizeof(host)))
		snprintf(host, sizeof(host), "%s", jr->sink.host->name);
	vig_field(j, "MESSAGE", msg, VIG_JOURNAL_MAX_MESSAGE);
	sd_journal_get_realtime_usec(j, &us);
	vig_event_clear(ev);
	vig_arena_reset(arena);
	jr->entries++;
	if (vig_journal_line((int64_t)us, (int)p, host, ident, pid, msg, line) != VIG_OK ||
	    vig_parse_syslog(pctx, line->data, line->len, ev, errbuf) != VIG_OK) {
		jr->failed++;
		if (!vig_event_get(ev, VIG_F_MESSAGE))
			vig_event_set_text(ev, VIG_F_MESSAGE, msg, strlen(msg));
	}
	vig_event_set_text(ev, VIG_F_MESSAGE, msg, strlen(msg)); /* the entry's own text */
	if (!vig_event_get(ev, VIG_F_TIMESTAMP))
		vig_event_set_ts(ev, VIG_F_TIMESTAMP, (int64_t)us * 1000);
	if (!vig_event_get(ev, VIG_F_HOST_ID))
		vig_event_set_cstr(ev, VIG_F_HOST_ID, jr->sink.host->id);
	vig_event_ext_str(ev, "log.source", "journal", 7);
	jr->sink.emit(jr->sink.ctx, ev);
	free(msg);
}

static void vig_cursor_save(struct vig_journal *jr, sd_journal *j)
{
	char tmp[VIG_AGENT_PATH_MAX + 8], *cursor = NULL;
	FILE *f;

	if (sd_journal_get_cursor(j, &cursor) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", jr->cursor_path);
	f = fopen(tmp, "we");
	if (f && fputs(cursor, f) >= 0 && fclose(f) == 0)
		rename(tmp, jr->cursor_path);
	else if (f)
		fclose(f);
	free(cursor);
}

/* Opens and positions the journal; VIG_OK or the reason in errbuf. */
static enum vig_err vig_journal_open(struct vig_journal *jr, sd_journal **out, char *errbuf)
{
	char cursor[1024] = "";
	sd_journal *j = NULL;
	FILE *f;
	int r;

	r = jr->dir ? sd_journal_open_directory(&j, jr->dir, 0) : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot open the journal: %s", strerror(-r));
	for (size_t i = 0; i < VIG_ARRAY_LEN(VIG_JOURNAL_IDENTS); i++) {
		char m[96];

		snprintf(m, sizeof(m), "SYSLOG_IDENTIFIER=%s", VIG_JOURNAL_IDENTS[i]);
		sd_journal_add_match(j, m, 0);
	}
	f = fopen(jr->cursor_path, "re");
	if (f) {
		if (!fgets(cursor, sizeof(cursor), f))
			cursor[0] = '\0';
		fclose(f);
		cursor[strcspn(cursor, "\n")] = '\0';
	}
	if (cursor[0] && sd_journal_seek_cursor(j, cursor) >= 0) {
		/* the cursor's own entry was forwarded already */
		if (sd_journal_next(j) > 0 && sd_journal_test_cursor(j, cursor) <= 0)
			sd_journal_previous(j);
	} else {
		sd_journal_seek_tail(j);
		sd_journal_previous(j);
	}
	*out = j;
	return VIG_OK;
}

static void *vig_journal_main(void *arg)
{
	struct vig_journal *jr = arg;
	struct vig_parse_ctx pctx;
	struct vig_arena arena;
	struct vig_event ev;
	struct vig_buf line;
	sd_journal *j = NULL;
	int64_t next_save = 0;
	bool dirty = false;
	enum vig_err err;

	err = vig_journal_open(jr, &j, jr->open_why);
	pthread_mutex_lock(&jr->mu);
	jr->open_err = err;
	jr->ready = true;
	pthread_cond_broadcast(&jr->cv);
	pthread_mutex_unlock(&jr->mu);
	if (err != VIG_OK)
		return NULL;
	vig_parse_ctx_init(&pctx, 0);
	vig_arena_init(&arena, 16 << 10, 4 << 20);
	vig_event_init(&ev, &arena);
	vig_buf_init(&line, VIG_JOURNAL_MAX_MESSAGE + 1024);
	for (;;) {
		bool stop;
		int r;

		pthread_mutex_lock(&jr->mu);
		stop = jr->stop;
		pthread_mutex_unlock(&jr->mu);
		if (stop)
			break;
		while (!stop && (r = sd_journal_next(j)) > 0) {
			vig_journal_entry(jr, j, &pctx, &ev, &arena, &line);
			dirty = true;
		}
		if (dirty && vig_time_mono() >= next_save) {
			vig_cursor_save(jr, j);
			dirty = false;
			next_save = vig_time_mono() + VIG_NS_PER_SEC;
		}
		sd_journal_wait(j, 250000);
	}
	if (dirty)
		vig_cursor_save(jr, j);
	sd_journal_close(j);
	vig_buf_release(&line);
	vig_arena_release(&arena);
	return NULL;
}

struct vig_journal *vig_journal_start(const char *dir, const char *state_dir,
				      const struct vig_forward_sink *sink, char *errbuf)
{
	struct vig_journal *jr = calloc(1, sizeof(*jr));

	if (!jr || (dir && !(jr->dir = strdup(dir)))) {
		free(jr);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	jr->sink = *sink;
	snprintf(jr->cursor_path, sizeof(jr->cursor_path), "%s/journal.cursor", state_dir);
	pthread_mutex_init(&jr->mu, NULL);
	pthread_cond_init(&jr->cv, NULL);
	if (pthread_create(&jr->thread, NULL, vig_journal_main, jr) != 0) {
		vig_errf(errbuf, VIG_EIO, "cannot start the journal thread");
		goto out_free;
	}
	pthread_mutex_lock(&jr->mu);
	while (!jr->ready)
		pthread_cond_wait(&jr->cv, &jr->mu);
	pthread_mutex_unlock(&jr->mu);
	if (jr->open_err != VIG_OK) {
		pthread_join(jr->thread, NULL);
		vig_errf(errbuf, jr->open_err, "%s", jr->open_why);
		goto out_free;
	}
	vig_info("agent", "reading the journal", "dir=\"%s\"", dir ? dir : "(local)");
	return jr;
out_free:
	pthread_mutex_destroy(&jr->mu);
	pthread_cond_destroy(&jr->cv);
	free(jr->dir);
	free(jr);
	return NULL;
}

void vig_journal_counters(struct vig_journal *j, uint64_t *entries, uint64_t *failed)
{
	*entries = j->entries;
	*failed = j->failed;
}

void vig_journal_stop(struct vig_journal *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j->dir);
	free(j);
}
