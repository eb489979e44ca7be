/*
 * api_reports.c - reports in vigild: the definitions and runs API, and the report worker
 * thread that queues due scheduled runs, renders queued runs one at a time into
 * DATA/reports/<tenant>/, announces each finished run (notify event report.ready, with the
 * download path and the definition's recipients) and deletes runs older than
 * reports.keep_days. The data, the files and the audit rows are src/report's.
 *
 * The worker wakes every reports.check_interval_s, or at once when a run is requested; a slow
 * report holds up only this thread. The queue is the report_runs table, bounded by
 * reports.max_queued (429 beyond), so queued runs survive a restart.
 *
 * Permissions (docs/api.md, "Reports"): reading definitions and runs and downloading files
 * needs incidents:read (customer viewers see their tenant's reports); running one on demand
 * needs incidents:write (tier1 and up, tenant_admin); creating, changing and deleting a
 * definition additionally needs the role admin, tier3 or tenant_admin (vig_report_may_define).
 * Another tenant's definition or run is 404 like a missing one.
 */
#include "server_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/vtime.h"
#include "report/report.h"

#define EXPIRE_EVERY_NS (3600LL * VIG_NS_PER_SEC) /* retention pass interval */

struct vig_reports {
	struct vig_server *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kick;
	char dir[VIG_CFG_PATH_MAX + 16];  /* DATA/reports */
	atomic_uint_fast64_t done;        /* runs rendered */
	atomic_uint_fast64_t failed;      /* runs that failed */
	atomic_uint_fast64_t scheduled;   /* runs queued by schedules */
	atomic_uint_fast64_t expired;     /* runs deleted by retention */
	atomic_uint_fast64_t errors;      /* worker passes that hit a database error */
};

/* Announces a finished run to the notification routes (event report.ready). */
static void announce(struct vig_reports *w, json_t *run)
{
	char link[96], title[VIG_REPORT_NAME_MAX + 64];
	const char *tenant = json_string_value(json_object_get(run, "tenant"));

	snprintf(link, sizeof(link), "/api/v1/report-runs/%lld/download",
		 (long long)json_integer_value(json_object_get(run, "id")));
	snprintf(title, sizeof(title), "Report ready: %s", json_string_value(json_object_get(run, "name")));
	json_object_set_new(run, "download", json_string(link));
	vig_notify_server_emit(w->srv, tenant, "report.ready", "informational", NULL, title, run);
}

/* Renders every queued run; returns after the queue is empty or stop was asked. */
static void work_queue(struct vig_reports *w)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	int64_t id = 0;

	for (;;) {
		json_t *run = NULL;
		enum vig_err err;

		pthread_mutex_lock(&w->mu);
		if (w->stop) {
			pthread_mutex_unlock(&w->mu);
			return;
		}
		pthread_mutex_unlock(&w->mu);
		if (vig_report_run_take(w->srv->db, vig_time_now(), &id, errbuf) != VIG_OK) {
			atomic_fetch_add(&w->errors, 1);
			vig_warn("reports", "cannot take a run", "err=\"%s\"", errbuf);
			return;
		}
		if (!id)
			return;
		err = vig_report_run_execute(w->srv->db, id, w->dir, vig_time_now(), (size_t)w->srv->cfg.reports_max_bytes,
					     &run, errbuf);
		if (err == VIG_OK) {
			atomic_fetch_add(&w->done, 1);
			vig_info("reports", "run done", "id=%lld size=%lld", (long long)id,
				 (long long)json_integer_value(json_object_get(run, "size")));
			announce(w, run);
		} else {
			atomic_fetch_add(&w->failed, 1);
			vig_warn("reports", "run failed", "id=%lld err=\"%s\"", (long long)id, errbuf);
		}
		json_decref(run);
	}
}

static void *reports_main(void *arg)
{
	struct vig_reports *w = arg;
	int64_t last_expire = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->stop) {
		char errbuf[VIG_ERRBUF_SIZE] = "";
		struct timespec ts;
		int64_t now = vig_time_now();
		size_t n = 0;

		w->kick = false;
		pthread_mutex_unlock(&w->mu);
		if (vig_report_schedule_due(w->srv->db, now, w->srv->cfg.reports_max_queued, &n, errbuf) != VIG_OK) {
			atomic_fetch_add(&w->errors, 1);
			vig_warn("reports", "schedule check failed", "err=\"%s\"", errbuf);
		}
		atomic_fetch_add(&w->scheduled, n);
		work_queue(w);
		if (now - last_expire >= EXPIRE_EVERY_NS) {
			last_expire = now;
			n = 0;
			if (vig_report_expire(w->srv->db, now, w->srv->cfg.reports_keep_days, &n, errbuf) != VIG_OK) {
				atomic_fetch_add(&w->errors, 1);
				vig_warn("reports", "retention failed", "err=\"%s\"", errbuf);
			}
			atomic_fetch_add(&w->expired, n);
		}
		pthread_mutex_lock(&w->mu);
		if (w->stop || w->kick)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)w->srv->cfg.reports_check_interval_s;
		pthread_cond_timedwait(&w->cv, &w->mu, &ts);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

enum vig_err vig_reports_start(struct vig_server *srv, char *errbuf)
{
	struct vig_reports *w = calloc(1, sizeof(*w));
	enum vig_err err;

	if (!w)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	w->srv = srv;
	snprintf(w->dir, sizeof(w->dir), "%s/reports", srv->cfg.data_dir);
	if (mkdir(w->dir, 0700) != 0 && errno != EEXIST) {
		err = vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", w->dir, strerror(errno));
		free(w);
		return err;
	}
	err = vig_report_recover(srv->db, errbuf);
	if (err != VIG_OK) {
		free(w);
		return err;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, reports_main, w) != 0) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		free(w);
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the report worker");
	}
	srv->reports = w;
	return VIG_OK;
}

void vig_reports_stop(struct vig_server *srv)
{
	struct vig_reports *w = srv->reports;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
	srv->reports = NULL;
}

static void kick(struct vig_server *srv)
{
	struct vig_reports *w = srv->reports;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->kick = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void vig_reports_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_reports *w = srv->reports;

	if (!w)
		return;
	vig_buf_printf(b,
		       "# HELP vigil_report_runs_total Report runs finished, by outcome.\n"
		       "# TYPE vigil_report_runs_total counter\n"
		       "vigil_report_runs_total{status=\"done\"} %llu\n"
		       "vigil_report_runs_total{status=\"failed\"} %llu\n"
		       "# HELP vigil_report_scheduled_total Report runs queued by schedules.\n"
		       "# TYPE vigil_report_scheduled_total counter\n"
		       "vigil_report_scheduled_total %llu\n"
		       "# HELP vigil_report_expired_total Report runs deleted by retention (reports.keep_days).\n"
		       "# TYPE vigil_report_expired_total counter\n"
		       "vigil_report_expired_total %llu\n"
		       "# HELP vigil_report_worker_errors_total Report worker passes that failed on the database.\n"
		       "# TYPE vigil_report_worker_errors_total counter\n"
		       "vigil_report_worker_errors_total %llu\n",
		       (unsigned long long)atomic_load(&w->done), (unsigned long long)atomic_load(&w->failed),
		       (unsigned long long)atomic_load(&w->scheduled), (unsigned long long)atomic_load(&w->expired),
		       (unsigned long long)atomic_load(&w->errors));
}

/* ---- definitions ---- */

static void reply(struct vig_req *r, enum vig_err err, const char *errbuf, int status, json_t *j)
{
	if (err != VIG_OK) {
		json_decref(j);
		if (err == VIG_EBUSY)
			vig_req_header(r, "Retry-After", "30");
		vig_reply_err(r, err, errbuf[0] ? errbuf : vig_strerror(err));
		return;
	}
	vig_reply_jansson(r, status, j);
}

void vig_api_reports_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX];
	json_t *j = NULL;
	bool all = false;
	enum vig_err err;

	if (!vig_req_tenant(r, tenant, &all))
		return;
	err = vig_report_list(r->srv->db, &r->who, all ? NULL : tenant, vig_time_now(), &j, errbuf);
	reply(r, err, errbuf, 200, j);
}

void vig_api_reports_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = vig_req_json_body(r), *j = NULL;
	enum vig_err err;

	if (!body)
		return;
	err = vig_report_create(r->srv->db, &r->who, body, vig_time_now(), &j, errbuf);
	json_decref(body);
	reply(r, err, errbuf, 201, j);
}

void vig_api_report_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *j = NULL;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "report", &id))
		return;
	err = vig_report_get(r->srv->db, &r->who, id, vig_time_now(), &j, errbuf);
	reply(r, err, errbuf, 200, j);
}

void vig_api_report_patch(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body, *j = NULL;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "report", &id) || !(body = vig_req_json_body(r)))
		return;
	err = vig_report_update(r->srv->db, &r->who, id, body, vig_time_now(), &j, errbuf);
	json_decref(body);
	if (err == VIG_OK)
		kick(r->srv); /* a new schedule may be due at once */
	reply(r, err, errbuf, 200, j);
}

void vig_api_report_delete(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "report", &id))
		return;
	err = vig_report_delete(r->srv->db, &r->who, id, errbuf);
	if (err != VIG_OK)
		vig_reply_err(r, err, errbuf);
	else
		vig_reply_text(r, 204, "application/json", "", 0);
}

/* An optional RFC 3339 member of body into *ns (0 when absent); false after a 400. */
static bool body_time(struct vig_req *r, json_t *body, const char *key, int64_t *ns)
{
	json_t *v = json_object_get(body, key);
	const char *s = json_string_value(v);
	char msg[96];

	*ns = 0;
	if (!v || json_is_null(v))
		return true;
	if (s && vig_time_parse(s, strlen(s), ns))
		return true;
	snprintf(msg, sizeof(msg), "%s: expected an RFC 3339 time", key);
	vig_reply_err(r, VIG_EINVAL, msg);
	return false;
}

void vig_api_report_run(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *body = NULL, *j = NULL;
	int64_t id, from = 0, to = 0;
	enum vig_err err;

	if (!vig_req_id(r, "report", &id))
		return;
	if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) > 0) {
		body = vig_req_json_body(r);
		if (!body)
			return;
		if (!body_time(r, body, "from", &from) || !body_time(r, body, "to", &to)) {
			json_decref(body);
			return;
		}
		json_decref(body);
		if (!from != !to) {
			vig_reply_err(r, VIG_EINVAL, "give both from and to, or neither (the report's period)");
			return;
		}
	}
	err = vig_report_run_queue(r->srv->db, &r->who, id, from, to, vig_time_now(), r->srv->cfg.reports_max_queued,
				   &j, errbuf);
	if (err == VIG_OK)
		kick(r->srv);
	reply(r, err, errbuf, 202, j);
}

/* ---- runs ---- */

void vig_api_report_runs_list(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX];
	int64_t report_id, limit;
	json_t *j = NULL;
	bool all = false;
	enum vig_err err;

	if (!vig_req_tenant(r, tenant, &all) || !vig_req_int(r, "report_id", 0, 0, INT64_MAX, &report_id) ||
	    !vig_req_int(r, "limit", 100, 1, VIG_REPORT_LIST_MAX, &limit))
		return;
	err = vig_report_runs_list(r->srv->db, &r->who, all ? NULL : tenant, report_id, limit, &j, errbuf);
	reply(r, err, errbuf, 200, j);
}

void vig_api_report_run_get(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	json_t *j = NULL;
	enum vig_err err;
	int64_t id;

	if (!vig_req_id(r, "report run", &id))
		return;
	err = vig_report_run_get(r->srv->db, &r->who, id, &j, errbuf);
	reply(r, err, errbuf, 200, j);
}

/* Reads the whole file at path (at most max bytes) into a malloc'ed buffer. */
static char *read_file(const char *path, int64_t max, size_t *n, char *errbuf)
{
	struct stat st;
	char *data;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size > max) {
		vig_errf(errbuf, VIG_EIO, "cannot read the report file: %s", fd < 0 ? strerror(errno) : "too large");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	data = malloc((size_t)st.st_size + 1);
	if (data && read(fd, data, (size_t)st.st_size) != (ssize_t)st.st_size) {
		free(data);
		data = NULL;
		vig_errf(errbuf, VIG_EIO, "cannot read the report file");
	}
	close(fd);
	*n = (size_t)st.st_size;
	return data;
}

void vig_api_report_run_download(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", path[4096], disp[256], etag[80], name[64];
	enum vig_report_format fmt;
	json_t *run = NULL;
	const char *sha, *title;
	char *data;
	size_t n = 0, k = 0;
	int64_t id;
	enum vig_err err;

	if (!vig_req_id(r, "report run", &id))
		return;
	err = vig_report_run_file(r->srv->db, &r->who, id, path, sizeof(path), &fmt, errbuf);
	if (err == VIG_OK)
		err = vig_report_run_get(r->srv->db, &r->who, id, &run, errbuf);
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	data = read_file(path, r->srv->cfg.reports_max_bytes, &n, errbuf);
	if (!data) {
		json_decref(run);
		vig_reply_err(r, VIG_EIO, errbuf[0] ? errbuf : "out of memory");
		return;
	}
	/* a file name of the report's name reduced to [A-Za-z0-9_-] */
	title = json_string_value(json_object_get(run, "name"));
	for (; title && *title && k + 1 < sizeof(name) - 24; title++)
		name[k++] = (strchr("-_", *title) || (*title >= '0' && *title <= '9') ||
			     ((*title | 0x20) >= 'a' && (*title | 0x20) <= 'z')) ? *title : '_';
	snprintf(name + k, sizeof(name) - k, "%s%lld", k ? "-" : "report-", (long long)id);
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"", name, vig_report_format_name(fmt));
	sha = json_string_value(json_object_get(run, "sha256"));
	snprintf(etag, sizeof(etag), "\"%s\"", sha ? sha : "");
	vig_req_header(r, "Content-Disposition", disp);
	vig_req_header(r, "ETag", etag);
	vig_reply_text(r, 200, vig_report_content_type(fmt), data, n);
	free(data);
	json_decref(run);
}
