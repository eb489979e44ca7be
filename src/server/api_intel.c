/*
 * api_intel.c - threat intelligence and MITRE ATT&CK in vigild: the feeds table of the control
 * DB, the refresh thread that fetches and parses feeds and swaps the compiled indicator set,
 * the enrichment step of ingest, the intel and attack APIs, and their metrics.
 *
 * Feeds (table intel_feeds, control DB migration 4): a name (unique), a tenant (NULL = every
 * tenant), a kind (csv, txt, misp, stix, taxii), a format for csv (auto, feodo, urlhaus,
 * threatfox, csv), a URL (http/https) or a local path (a file; a directory for misp), a
 * refresh interval, optional credentials (basic or bearer; stored in the control DB, never
 * returned by the API), and the last outcome: status (pending, ok, error), last_error,
 * last_refresh, last_success, indicator_count, malformed, skipped and the malformed reasons.
 *
 * Refresh thread: wakes every intel.tick_s or when asked (POST .../refresh, a new or changed
 * feed), reads the feeds table, refreshes every enabled feed that is due or asked for, keeps
 * each feed's last good indicator list in memory (a failed refresh keeps the previous
 * indicators and reports the error), and when any list changed compiles all enabled feeds'
 * lists into a new set and swaps it in under `mu`. Readers (the ingest writer, lookups) take a
 * reference under `mu` and match without any lock. TAXII feeds poll with added_after after the
 * first full poll and merge new objects into the feed's list. The thread also loads the
 * ATT&CK bundle named by attack.bundle once at start.
 *
 * Tenancy: provider principals see and manage every feed, and only they may create global
 * feeds or feeds reading local paths; other callers see global feeds and their own tenant's,
 * and manage only their own tenant's (URL feeds only). Events are matched against global feeds
 * and their own tenant's feeds.
 */
#include "server_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert/rules.h"
#include "common/vtime.h"
#include "detect/detect.h"
#include "intel/intel.h"

#define FEEDS_MAX 1000            /* feeds in the table */
#define FEED_NAME_MAX 64          /* bytes of a feed name */
#define FEED_URL_MAX 2048         /* bytes of a URL or path */
#define REQ_MAX 64                /* queued refresh requests */
#define TECH_LIST_DEFAULT 100
#define TECH_LIST_MAX 2000
#define NAV_COMMENT_TITLES 20     /* rule titles listed per technique in a layer */
#define ATTACK_BUNDLE_MAX (512u << 20)

static const char *const KINDS[] = {"csv", "txt", "misp", "stix", "taxii"};

/* One feed row as the refresh thread reads it. */
struct feed_row {
	int64_t id;
	char name[FEED_NAME_MAX + 1];
	char tenant[VIG_NAME_MAX]; /* "" = global */
	char kind[16], format[16];
	char url[FEED_URL_MAX + 1];
	int64_t refresh_s;
	bool enabled, insecure;
	char user[256], password[256], token[1024];
	int64_t last_refresh; /* 0 = never */
	char added_last[64];
};

/* What the thread keeps of a feed between refreshes. */
struct feed_cache {
	int64_t id;
	char name[FEED_NAME_MAX + 1];
	char tenant[VIG_NAME_MAX];
	bool enabled;
	struct vig_intel_list *list; /* last good indicators, or NULL */
	bool seen;                   /* still in the table (per pass) */
};

struct vig_intel_srv {
	struct vig_server *srv;
	pthread_mutex_t mu;             /* guards set, requests, stop, attack */
	pthread_cond_t cv;              /* signalled on requests and stop */
	pthread_t thread;
	bool running, stop;
	struct vig_intel_set *set;      /* current set (one reference held here) */
	int64_t req[REQ_MAX];           /* feed ids asked to refresh now */
	size_t n_req;
	bool rebuild;                   /* a feed was disabled/deleted: rebuild the set */
	struct vig_attack *attack;      /* ATT&CK catalogue or NULL */
	char attack_source[VIG_CFG_PATH_MAX]; /* where it came from */
	char attack_error[VIG_ERRBUF_SIZE];   /* why attack.bundle did not load */
	/* refresh thread only */
	struct feed_cache *cache;
	size_t n_cache;
	/* counters */
	atomic_uint_fast64_t events;        /* events checked */
	atomic_uint_fast64_t hit_events;    /* events with at least one match */
	atomic_uint_fast64_t hit_fields;    /* matching fields */
	atomic_uint_fast64_t enrich_errors; /* matches that could not be written on the event */
	atomic_uint_fast64_t refreshes;     /* feed refreshes that succeeded */
	atomic_uint_fast64_t refresh_failures; /* feed refreshes that failed */
	atomic_uint_fast64_t builds;        /* sets built */
	atomic_int_fast64_t last_build;     /* time of the last build, ns */
};

/* ---- the set ---- */

static struct vig_intel_set *acquire_set(struct vig_intel_srv *is)
{
	struct vig_intel_set *s;

	pthread_mutex_lock(&is->mu);
	s = vig_intel_set_ref(is->set);
	pthread_mutex_unlock(&is->mu);
	return s;
}

void vig_intel_enrich_batch(struct vig_server *srv, struct vig_event *const *evs, size_t n)
{
	/* the syslog receivers may ingest before vig_intel_start published the state */
	struct vig_intel_srv *is = __atomic_load_n(&srv->intel, __ATOMIC_ACQUIRE);
	struct vig_intel_set *s;
	uint64_t hit_events = 0, hit_fields = 0, errors = 0;

	if (!is || n == 0)
		return;
	s = acquire_set(is);
	if (!s)
		return;
	if (vig_intel_set_size(s) > 0) {
		for (size_t i = 0; i < n; i++) {
			enum vig_err err;
			size_t hits = vig_intel_enrich(s, evs[i], &err);

			hit_events += hits > 0;
			hit_fields += hits;
			errors += err != VIG_OK;
		}
	}
	vig_intel_set_unref(s);
	atomic_fetch_add(&is->events, n);
	atomic_fetch_add(&is->hit_events, hit_events);
	atomic_fetch_add(&is->hit_fields, hit_fields);
	atomic_fetch_add(&is->enrich_errors, errors);
}

/* ---- feed rows ---- */

static void col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	snprintf(out, cap, "%s", s ? s : "");
}

#define ROW_COLS                                                                                   \
	"id, name, tenant_id, kind, format, url, refresh_s, enabled, insecure, auth_user, "           \
	"auth_password, auth_token, last_refresh, added_last"

static void read_row(sqlite3_stmt *st, struct feed_row *f)
{
	memset(f, 0, sizeof(*f));
	f->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, f->name, sizeof(f->name));
	col_text(st, 2, f->tenant, sizeof(f->tenant));
	col_text(st, 3, f->kind, sizeof(f->kind));
	col_text(st, 4, f->format, sizeof(f->format));
	col_text(st, 5, f->url, sizeof(f->url));
	f->refresh_s = sqlite3_column_int64(st, 6);
	f->enabled = sqlite3_column_int(st, 7) != 0;
	f->insecure = sqlite3_column_int(st, 8) != 0;
	col_text(st, 9, f->user, sizeof(f->user));
	col_text(st, 10, f->password, sizeof(f->password));
	col_text(st, 11, f->token, sizeof(f->token));
	f->last_refresh = sqlite3_column_int64(st, 12);
	col_text(st, 13, f->added_last, sizeof(f->added_last));
}

/* Reads every feed (at most FEEDS_MAX); *rows is malloc'ed. */
static enum vig_err load_rows(struct vig_server *srv, struct feed_row **rows, size_t *n)
{
	sqlite3 *h = vig_db_lock(srv->db);
	sqlite3_stmt *st = NULL;
	struct feed_row *r = calloc(FEEDS_MAX, sizeof(*r));
	int rc = SQLITE_NOMEM;

	*n = 0;
	if (r && sqlite3_prepare_v2(h, "SELECT " ROW_COLS " FROM intel_feeds ORDER BY id LIMIT ?1",
				    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, FEEDS_MAX);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			read_row(st, &r[(*n)++]);
	}
	sqlite3_finalize(st);
	vig_db_unlock(srv->db);
	if (rc != SQLITE_DONE) {
		free(r);
		*rows = NULL;
		*n = 0;
		return VIG_EIO;
	}
	*rows = r;
	return VIG_OK;
}

/* Records a refresh outcome on the row. */
static void store_outcome(struct vig_server *srv, int64_t id, const char *error,
			  const struct vig_intel_list_stats *st, size_t count, const char *added_last,
			  int64_t now)
{
	json_t *reasons = json_array();
	sqlite3 *h;
	sqlite3_stmt *q = NULL;
	char *rj;

	for (size_t i = 0; st && i < st->n_reasons; i++)
		json_array_append_new(reasons, json_pack("{s:s,s:I}", "example", st->reasons[i].text,
							  "count", (json_int_t)st->reasons[i].count));
	rj = json_dumps(reasons, JSON_COMPACT);
	json_decref(reasons);
	h = vig_db_lock(srv->db);
	if (sqlite3_prepare_v2(h,
			       error ? "UPDATE intel_feeds SET status = 'error', last_error = ?2, "
				       "last_refresh = ?3 WHERE id = ?1"
				     : "UPDATE intel_feeds SET status = 'ok', last_error = NULL, "
				       "last_refresh = ?3, last_success = ?3, indicator_count = ?4, "
				       "malformed = ?5, skipped = ?6, reasons = ?7, added_last = ?8 "
				       "WHERE id = ?1",
			       -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 3, now);
		if (error) {
			sqlite3_bind_text(q, 2, error, -1, SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_int64(q, 4, (sqlite3_int64)count);
			sqlite3_bind_int64(q, 5, (sqlite3_int64)st->malformed);
			sqlite3_bind_int64(q, 6, (sqlite3_int64)st->skipped);
			sqlite3_bind_text(q, 7, rj ? rj : "[]", -1, SQLITE_TRANSIENT);
			if (added_last && *added_last)
				sqlite3_bind_text(q, 8, added_last, -1, SQLITE_TRANSIENT);
		}
		if (sqlite3_step(q) != SQLITE_DONE)
			vig_warn("intel", "feed outcome not stored", "feed=%lld", (long long)id);
	}
	sqlite3_finalize(q);
	vig_db_unlock(srv->db);
	free(rj);
}

/* ---- fetching ---- */

static bool is_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

struct fetch_ctx {
	struct vig_server *srv;
	const struct feed_row *f;
	struct vig_intel_http http;
};

static void http_opts(const struct feed_row *f, const struct vig_config *cfg,
		      struct vig_intel_http *h)
{
	*h = (struct vig_intel_http){.username = f->user[0] ? f->user : NULL,
				     .password = f->password, .token = f->token[0] ? f->token : NULL,
				     .insecure = f->insecure, .timeout_s = 120,
				     .max_bytes = (size_t)cfg->intel_max_download_bytes};
}

/* Reads name relative to the feed (MISP: DIR/name or URL/name; others: the feed itself). */
static enum vig_err fetch(void *arg, const char *name, struct vig_buf *out, char *errbuf)
{
	struct fetch_ctx *c = arg;
	size_t max = (size_t)c->srv->cfg.intel_max_download_bytes;
	char loc[FEED_URL_MAX + 128];
	size_t n = strlen(c->f->url);

	if (name)
		snprintf(loc, sizeof(loc), "%s%s%s", c->f->url,
			 n && c->f->url[n - 1] == '/' ? "" : "/", name);
	else
		snprintf(loc, sizeof(loc), "%s", c->f->url);
	if (out->toobig > max + 1 || out->toobig == 0)
		out->toobig = max + 1;
	if (is_url(loc))
		return vig_intel_http_get(loc, &c->http, out, NULL, NULL, NULL, 0, errbuf);
	return vig_intel_read_file(loc, max, out, errbuf);
}

static bool csv_format(const char *kind, const char *s, enum vig_intel_csv_format *out)
{
	static const enum vig_intel_csv_format all[] = {
		VIG_INTEL_CSV_AUTO, VIG_INTEL_CSV_TXT, VIG_INTEL_CSV_FEODO, VIG_INTEL_CSV_URLHAUS,
		VIG_INTEL_CSV_THREATFOX, VIG_INTEL_CSV_GENERIC};

	if (strcmp(kind, "txt") == 0) {
		*out = VIG_INTEL_CSV_TXT;
		return true;
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(all); i++)
		if (strcmp(s, vig_intel_csv_format_name(all[i])) == 0) {
			*out = all[i];
			return true;
		}
	return false;
}

/* Fetches and parses feed f into a new list (*out); taxii merges into prev when given. */
static enum vig_err refresh_one(struct vig_server *srv, const struct feed_row *f,
				struct vig_intel_list *prev, struct vig_intel_list **out,
				char added_last[64], char *errbuf)
{
	struct fetch_ctx c = {.srv = srv, .f = f};
	struct vig_intel_list *l = vig_intel_list_new((size_t)srv->cfg.intel_max_indicators);
	enum vig_intel_csv_format fmt;
	enum vig_err err;
	struct vig_buf b;

	*out = NULL;
	if (!l)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	http_opts(f, &srv->cfg, &c.http);
	if (strcmp(f->kind, "misp") == 0) {
		err = vig_intel_parse_misp(fetch, &c, 0, l, errbuf);
	} else if (strcmp(f->kind, "taxii") == 0) {
		struct vig_intel_taxii_opts o = {.collection_url = f->url, .http = c.http};

		o.added_after = prev && f->added_last[0] ? f->added_last : NULL;
		snprintf(added_last, 64, "%s", f->added_last);
		err = vig_intel_taxii_poll(&o, vig_time_now(), l, added_last, NULL, errbuf);
		if (err == VIG_OK && o.added_after) {
			/* an incremental poll: the new objects join what the feed had */
			err = vig_intel_list_merge(prev, l);
			vig_intel_list_free(l);
			l = NULL;
			if (err != VIG_OK) {
				vig_errf(errbuf, err, "more indicators than intel.max_indicators");
				return err;
			}
			*out = prev;
			return VIG_OK;
		}
	} else {
		vig_buf_init(&b, (size_t)srv->cfg.intel_max_download_bytes + 1);
		err = fetch(&c, NULL, &b, errbuf);
		if (err == VIG_OK && strcmp(f->kind, "stix") == 0)
			err = vig_intel_parse_stix(b.data ? b.data : "", b.len, vig_time_now(), l, errbuf);
		else if (err == VIG_OK && !csv_format(f->kind, f->format, &fmt))
			err = vig_errf(errbuf, VIG_EINVAL, "unknown format %s", f->format);
		else if (err == VIG_OK)
			err = vig_intel_parse_csv(b.data ? b.data : "", b.len, fmt, l, NULL, errbuf);
		vig_buf_release(&b);
	}
	if (err != VIG_OK) {
		vig_intel_list_free(l);
		return err;
	}
	*out = l;
	return VIG_OK;
}

/* ---- the refresh thread ---- */

static struct feed_cache *cache_get(struct vig_intel_srv *is, int64_t id, bool create)
{
	struct feed_cache *c;

	for (size_t i = 0; i < is->n_cache; i++)
		if (is->cache[i].id == id)
			return &is->cache[i];
	if (!create || is->n_cache == FEEDS_MAX)
		return NULL;
	c = &is->cache[is->n_cache++];
	memset(c, 0, sizeof(*c));
	c->id = id;
	return c;
}

static bool requested(int64_t *req, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (req[i] == id)
			return true;
	return false;
}

/* Compiles the cached lists of enabled feeds into a new set and swaps it in. */
static void rebuild(struct vig_intel_srv *is)
{
	struct vig_intel_source *src = calloc(is->n_cache ? is->n_cache : 1, sizeof(*src));
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_intel_set *s, *old;
	size_t n = 0;

	if (!src)
		return;
	for (size_t i = 0; i < is->n_cache; i++)
		if (is->cache[i].enabled && is->cache[i].list)
			src[n++] = (struct vig_intel_source){is->cache[i].name,
							     is->cache[i].tenant[0] ? is->cache[i].tenant : NULL,
							     is->cache[i].list};
	s = vig_intel_set_build(src, n, errbuf);
	free(src);
	if (!s) {
		vig_error("intel", "indicator set not built", "err=\"%s\"", errbuf);
		return;
	}
	pthread_mutex_lock(&is->mu);
	old = is->set;
	is->set = s;
	pthread_mutex_unlock(&is->mu);
	vig_intel_set_unref(old);
	atomic_fetch_add(&is->builds, 1);
	atomic_store(&is->last_build, vig_time_now());
	vig_info("intel", "indicator set swapped", "feeds=%zu indicators=%zu", n,
		 vig_intel_set_size(s));
}

/* One pass: refresh what is due or asked for; rebuild when something changed. */
static void pass(struct vig_intel_srv *is, int64_t *req, size_t n_req, bool force_rebuild)
{
	struct vig_server *srv = is->srv;
	struct feed_row *rows = NULL;
	bool changed = force_rebuild;
	size_t n = 0;

	if (load_rows(srv, &rows, &n) != VIG_OK) {
		vig_warn("intel", "feeds not read", "reason=\"control db\"");
		return;
	}
	for (size_t i = 0; i < is->n_cache; i++)
		is->cache[i].seen = false;
	for (size_t i = 0; i < n && !is->stop; i++) {
		struct feed_row *f = &rows[i];
		struct feed_cache *c = cache_get(is, f->id, true);
		int64_t now = vig_time_now();
		char errbuf[VIG_ERRBUF_SIZE] = "", added[64] = "";
		struct vig_intel_list *l = NULL;
		struct vig_intel_list_stats st;
		enum vig_err err;

		if (!c)
			continue;
		c->seen = true;
		snprintf(c->name, sizeof(c->name), "%s", f->name);
		snprintf(c->tenant, sizeof(c->tenant), "%s", f->tenant);
		if (c->enabled != f->enabled)
			changed = true;
		c->enabled = f->enabled;
		if (!f->enabled)
			continue;
		if (c->list && !requested(req, n_req, f->id) &&
		    now < f->last_refresh + f->refresh_s * VIG_NS_PER_SEC)
			continue;
		err = refresh_one(srv, f, c->list, &l, added, errbuf);
		if (err != VIG_OK) {
			atomic_fetch_add(&is->refresh_failures, 1);
			vig_warn("intel", "feed refresh failed", "feed=\"%s\" err=\"%s\"", f->name, errbuf);
			store_outcome(srv, f->id, errbuf[0] ? errbuf : vig_strerror(err), NULL, 0, NULL,
				      now);
			continue;
		}
		if (l != c->list) {
			vig_intel_list_free(c->list);
			c->list = l;
		}
		vig_intel_list_stats(l, &st);
		store_outcome(srv, f->id, NULL, &st, vig_intel_list_len(l), added, now);
		atomic_fetch_add(&is->refreshes, 1);
		vig_info("intel", "feed refreshed", "feed=\"%s\" indicators=%zu malformed=%llu",
			 f->name, vig_intel_list_len(l), (unsigned long long)st.malformed);
		changed = true;
	}
	/* feeds deleted from the table leave the cache */
	for (size_t i = 0; i < is->n_cache;) {
		if (is->cache[i].seen) {
			i++;
			continue;
		}
		vig_intel_list_free(is->cache[i].list);
		is->cache[i] = is->cache[--is->n_cache];
		changed = true;
	}
	free(rows);
	if (changed || !is->set)
		rebuild(is);
}

static void load_attack_config(struct vig_intel_srv *is)
{
	const char *path = is->srv->cfg.attack_bundle;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_attack *a, *old;
	struct vig_attack_stats st;

	if (!path[0])
		return;
	a = vig_attack_load_file(path, ATTACK_BUNDLE_MAX, errbuf);
	if (!a) {
		vig_error("attack", "bundle not loaded", "path=\"%s\" err=\"%s\"", path, errbuf);
		pthread_mutex_lock(&is->mu);
		snprintf(is->attack_error, sizeof(is->attack_error), "%s", errbuf);
		pthread_mutex_unlock(&is->mu);
		return;
	}
	vig_attack_get_stats(a, &st);
	pthread_mutex_lock(&is->mu);
	old = is->attack;
	if (!old) { /* an import through the API while loading wins */
		is->attack = a;
		a = NULL;
		snprintf(is->attack_source, sizeof(is->attack_source), "%s", path);
	}
	pthread_mutex_unlock(&is->mu);
	vig_attack_free(a);
	vig_info("attack", "bundle loaded", "path=\"%s\" techniques=%zu tactics=%zu mitigations=%zu",
		 path, st.techniques, st.tactics, st.mitigations);
}

static void *refresh_main(void *arg)
{
	struct vig_intel_srv *is = arg;
	int64_t req[REQ_MAX];
	size_t n_req;
	bool force;

	load_attack_config(is);
	pass(is, NULL, 0, true);
	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&is->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)is->srv->cfg.intel_tick_s;
		while (!is->stop && is->n_req == 0 && !is->rebuild)
			if (pthread_cond_timedwait(&is->cv, &is->mu, &ts) != 0)
				break;
		if (is->stop) {
			pthread_mutex_unlock(&is->mu);
			break;
		}
		n_req = is->n_req;
		memcpy(req, is->req, n_req * sizeof(req[0]));
		is->n_req = 0;
		force = is->rebuild;
		is->rebuild = false;
		pthread_mutex_unlock(&is->mu);
		pass(is, req, n_req, force);
	}
	return NULL;
}

/* Asks the thread to refresh feed id (0: only re-read the table and rebuild). */
static void request(struct vig_intel_srv *is, int64_t id)
{
	pthread_mutex_lock(&is->mu);
	if (id == 0)
		is->rebuild = true;
	else if (!requested(is->req, is->n_req, id) && is->n_req < REQ_MAX)
		is->req[is->n_req++] = id;
	else if (is->n_req == REQ_MAX)
		is->rebuild = true; /* the feed will be refreshed when due */
	pthread_cond_signal(&is->cv);
	pthread_mutex_unlock(&is->mu);
}

enum vig_err vig_intel_start(struct vig_server *srv, char *errbuf)
{
	struct vig_intel_srv *is = calloc(1, sizeof(*is));

	if (!is)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	is->srv = srv;
	pthread_mutex_init(&is->mu, NULL);
	pthread_cond_init(&is->cv, NULL);
	is->cache = calloc(FEEDS_MAX, sizeof(*is->cache));
	__atomic_store_n(&srv->intel, is, __ATOMIC_RELEASE); /* vig_intel_stop frees it */
	if (!is->cache)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (pthread_create(&is->thread, NULL, refresh_main, is) != 0)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot start the intel refresh thread");
	is->running = true;
	return VIG_OK;
}

void vig_intel_stop(struct vig_server *srv)
{
	struct vig_intel_srv *is = srv->intel;

	if (!is)
		return;
	if (is->running) {
		pthread_mutex_lock(&is->mu);
		is->stop = true;
		pthread_cond_broadcast(&is->cv);
		pthread_mutex_unlock(&is->mu);
		pthread_join(is->thread, NULL);
	}
	for (size_t i = 0; is->cache && i < is->n_cache; i++)
		vig_intel_list_free(is->cache[i].list);
	free(is->cache);
	vig_intel_set_unref(is->set);
	vig_attack_free(is->attack);
	pthread_cond_destroy(&is->cv);
	pthread_mutex_destroy(&is->mu);
	free(is);
	__atomic_store_n(&srv->intel, NULL, __ATOMIC_RELEASE);
}

#define LOAD(x) ((unsigned long long)atomic_load(&(x)))

void vig_intel_metrics(struct vig_server *srv, struct vig_buf *b)
{
	struct vig_intel_srv *is = srv->intel;
	struct vig_intel_set *s;
	size_t n;

	if (!is)
		return;
	s = acquire_set(is);
	n = vig_intel_set_size(s);
	vig_intel_set_unref(s);
	vig_buf_printf(b,
		       "# HELP vigil_intel_indicators Indicators in the live threat-intelligence set.\n"
		       "# TYPE vigil_intel_indicators gauge\n"
		       "vigil_intel_indicators %zu\n"
		       "# HELP vigil_intel_events_total Events checked against the indicators.\n"
		       "# TYPE vigil_intel_events_total counter\n"
		       "vigil_intel_events_total %llu\n"
		       "# HELP vigil_intel_hit_events_total Events that matched at least one indicator.\n"
		       "# TYPE vigil_intel_hit_events_total counter\n"
		       "vigil_intel_hit_events_total %llu\n"
		       "# HELP vigil_intel_hit_fields_total Event fields that matched an indicator.\n"
		       "# TYPE vigil_intel_hit_fields_total counter\n"
		       "vigil_intel_hit_fields_total %llu\n"
		       "# HELP vigil_intel_enrich_errors_total Matches not written on the event (event limits).\n"
		       "# TYPE vigil_intel_enrich_errors_total counter\n"
		       "vigil_intel_enrich_errors_total %llu\n"
		       "# HELP vigil_intel_refreshes_total Feed refreshes that succeeded.\n"
		       "# TYPE vigil_intel_refreshes_total counter\n"
		       "vigil_intel_refreshes_total %llu\n"
		       "# HELP vigil_intel_refresh_failures_total Feed refreshes that failed.\n"
		       "# TYPE vigil_intel_refresh_failures_total counter\n"
		       "vigil_intel_refresh_failures_total %llu\n",
		       n, LOAD(is->events), LOAD(is->hit_events), LOAD(is->hit_fields),
		       LOAD(is->enrich_errors), LOAD(is->refreshes), LOAD(is->refresh_failures));
}

/* ---- request helpers ---- */

static json_t *time_json(sqlite3_stmt *st, int col)
{
	char t[VIG_TIME_STRLEN];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	vig_time_format(sqlite3_column_int64(st, col), t);
	return json_string(t);
}

static json_t *text_json(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? json_string(s) : json_null();
}

#define FEED_COLS                                                                                  \
	"id, name, tenant_id, kind, format, url, refresh_s, enabled, insecure, auth_user, "           \
	"auth_password IS NOT NULL AND auth_password != '', "                                         \
	"auth_token IS NOT NULL AND auth_token != '', status, last_error, last_refresh, "             \
	"last_success, indicator_count, malformed, skipped, reasons, created, updated"

static json_t *feed_json(sqlite3_stmt *st)
{
	const char *reasons = (const char *)sqlite3_column_text(st, 19);
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "name", text_json(st, 1));
	json_object_set_new(o, "tenant", text_json(st, 2));
	json_object_set_new(o, "kind", text_json(st, 3));
	json_object_set_new(o, "format", text_json(st, 4));
	json_object_set_new(o, "url", text_json(st, 5));
	json_object_set_new(o, "refresh_s", json_integer(sqlite3_column_int64(st, 6)));
	json_object_set_new(o, "enabled", json_boolean(sqlite3_column_int(st, 7)));
	json_object_set_new(o, "insecure", json_boolean(sqlite3_column_int(st, 8)));
	json_object_set_new(o, "auth",
			    json_pack("{s:o,s:b,s:b}", "username", text_json(st, 9), "password_set",
				      sqlite3_column_int(st, 10), "token_set", sqlite3_column_int(st, 11)));
	json_object_set_new(o, "status", text_json(st, 12));
	json_object_set_new(o, "last_error", text_json(st, 13));
	json_object_set_new(o, "last_refresh", time_json(st, 14));
	json_object_set_new(o, "last_success", time_json(st, 15));
	json_object_set_new(o, "indicator_count", json_integer(sqlite3_column_int64(st, 16)));
	json_object_set_new(o, "malformed", json_integer(sqlite3_column_int64(st, 17)));
	json_object_set_new(o, "skipped", json_integer(sqlite3_column_int64(st, 18)));
	json_object_set_new(o, "reasons", reasons ? json_loads(reasons, 0, NULL) : json_array());
	if (!json_object_get(o, "reasons"))
		json_object_set_new(o, "reasons", json_array());
	json_object_set_new(o, "created", time_json(st, 20));
	json_object_set_new(o, "updated", time_json(st, 21));
	return o;
}

/* The feed id, its JSON and tenant ("" global) when visible to the caller; 404 otherwise. */
static json_t *feed_get(struct vig_req *r, int64_t id, char tenant[VIG_NAME_MAX], bool reply)
{
	sqlite3 *h = vig_db_lock(r->srv->db);
	sqlite3_stmt *st = NULL;
	json_t *o = NULL;

	if (sqlite3_prepare_v2(h, "SELECT " FEED_COLS " FROM intel_feeds WHERE id = ?1", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 2);

			snprintf(tenant, VIG_NAME_MAX, "%s", t ? t : "");
			if (!t || vig_principal_can_access_tenant(&r->who, t))
				o = feed_json(st);
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(r->srv->db);
	if (!o && reply)
		vig_reply_err(r, VIG_ENOTFOUND, "no such feed");
	return o;
}

/* May the caller change a feed of tenant ("" global)? Replies 403 when not. */
static bool may_manage(struct vig_req *r, const char *tenant)
{
	if (tenant[0] ? vig_principal_can_access_tenant(&r->who, tenant) : r->who.provider)
		return true;
	vig_reply_err(r, VIG_EPERM, "only provider principals manage global feeds");
	return false;
}

/* ---- feeds API ---- */

void vig_api_intel_feeds_list(struct vig_req *r)
{
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	int rc = SQLITE_ERROR;

	h = vig_db_lock(r->srv->db);
	if (sqlite3_prepare_v2(h, "SELECT " FEED_COLS " FROM intel_feeds ORDER BY id LIMIT ?1", -1,
			       &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int(st, 1, FEEDS_MAX);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(st, 2);

			if (!t || vig_principal_can_access_tenant(&r->who, t))
				json_array_append_new(arr, feed_json(st));
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(r->srv->db);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		vig_reply_err(r, VIG_EIO, "cannot read the feeds");
		return;
	}
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(arr),
					    "feeds", arr));
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FEED_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static bool kind_ok(const char *s)
{
	for (size_t i = 0; i < VIG_ARRAY_LEN(KINDS); i++)
		if (strcmp(KINDS[i], s) == 0)
			return true;
	return false;
}

/* Validates the settable fields of a feed body; NULL when fine, else the message. */
static const char *check_body(json_t *b, bool create)
{
	json_t *v;
	enum vig_intel_csv_format fmt;
	const char *kind = json_string_value(json_object_get(b, "kind"));

	if (create && (!json_is_string(json_object_get(b, "name")) ||
		       !name_ok(json_string_value(json_object_get(b, "name")))))
		return "name: 1-64 characters of [A-Za-z0-9._-]";
	if (create && (!kind || !kind_ok(kind)))
		return "kind: expected csv, txt, misp, stix or taxii";
	if ((v = json_object_get(b, "url")) || create) {
		const char *u = json_string_value(v);

		if (!u || !*u || strlen(u) > FEED_URL_MAX)
			return "url: expected an http(s) URL or a local path (at most 2048 bytes)";
	}
	if ((v = json_object_get(b, "format")) &&
	    (!json_is_string(v) || !csv_format("csv", json_string_value(v), &fmt)))
		return "format: expected auto, txt, feodo, urlhaus, threatfox or csv";
	if ((v = json_object_get(b, "refresh_s")) &&
	    (!json_is_integer(v) || json_integer_value(v) < 10 || json_integer_value(v) > 30 * 86400))
		return "refresh_s: expected an integer in [10, 2592000]";
	if ((v = json_object_get(b, "enabled")) && !json_is_boolean(v))
		return "enabled: expected true or false";
	if ((v = json_object_get(b, "insecure")) && !json_is_boolean(v))
		return "insecure: expected true or false";
	if ((v = json_object_get(b, "auth")) && !json_is_object(v) && !json_is_null(v))
		return "auth: expected {username, password} or {token}";
	if (v && json_is_object(v)) {
		const char *keys[] = {"username", "password", "token"};

		for (size_t i = 0; i < VIG_ARRAY_LEN(keys); i++) {
			json_t *x = json_object_get(v, keys[i]);

			if (x && (!json_is_string(x) || strlen(json_string_value(x)) > 1000))
				return "auth: username, password and token are strings of at most 1000 bytes";
		}
	}
	return NULL;
}

/* Non-provider callers fetch from URLs only: a path would read the server's files. */
static bool url_allowed(struct vig_req *r, json_t *b)
{
	const char *u = json_string_value(json_object_get(b, "url"));

	if (!u || is_url(u) || r->who.provider)
		return true;
	vig_reply_err(r, VIG_EPERM, "url: only provider principals may read local paths");
	return false;
}

static const char *auth_str(json_t *b, const char *key)
{
	json_t *a = json_object_get(b, "auth");
	const char *s = json_is_object(a) ? json_string_value(json_object_get(a, key)) : NULL;

	return s && *s ? s : NULL;
}

void vig_api_intel_feeds_create(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "", tenant[VIG_NAME_MAX] = "", idstr[32];
	json_t *b = vig_req_json_body(r), *jt, *after;
	const char *msg, *kind;
	sqlite3_stmt *st = NULL;
	int64_t now = vig_time_now(), id = 0;
	enum vig_err err = VIG_OK;
	sqlite3 *h;
	int rc;

	if (!b)
		return;
	msg = check_body(b, true);
	if (msg) {
		json_decref(b);
		vig_reply_err(r, VIG_EINVAL, msg);
		return;
	}
	jt = json_object_get(b, "tenant");
	if (jt && !json_is_null(jt) && !json_is_string(jt)) {
		json_decref(b);
		vig_reply_err(r, VIG_EINVAL, "tenant: expected a tenant id or null (global)");
		return;
	}
	if (json_is_string(jt))
		snprintf(tenant, sizeof(tenant), "%s", json_string_value(jt));
	else if (!jt && !r->who.provider)
		snprintf(tenant, sizeof(tenant), "%s", r->who.tenant); /* their own by default */
	if (!may_manage(r, tenant) || !url_allowed(r, b)) {
		json_decref(b);
		return;
	}
	kind = json_string_value(json_object_get(b, "kind"));
	h = vig_db_lock(r->srv->db);
	rc = sqlite3_prepare_v2(h,
				"INSERT INTO intel_feeds (name, tenant_id, kind, format, url, refresh_s, "
				"enabled, insecure, auth_user, auth_password, auth_token, created, updated) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		json_t *fmt = json_object_get(b, "format"), *rs = json_object_get(b, "refresh_s");

		sqlite3_bind_text(st, 1, json_string_value(json_object_get(b, "name")), -1,
				  SQLITE_TRANSIENT);
		if (tenant[0])
			sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, kind, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, fmt ? json_string_value(fmt) : "auto", -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, json_string_value(json_object_get(b, "url")), -1,
				  SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 6, rs ? json_integer_value(rs) : 3600);
		sqlite3_bind_int(st, 7, !json_is_false(json_object_get(b, "enabled")));
		sqlite3_bind_int(st, 8, json_is_true(json_object_get(b, "insecure")));
		sqlite3_bind_text(st, 9, auth_str(b, "username"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 10, auth_str(b, "password"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 11, auth_str(b, "token"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 12, now);
		rc = sqlite3_step(st);
		id = sqlite3_last_insert_rowid(h);
	}
	sqlite3_finalize(st);
	vig_db_unlock(r->srv->db);
	json_decref(b);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		err = vig_errf(errbuf, VIG_EEXIST, "a feed with this name exists (or no such tenant)");
	else if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot store the feed");
	if (err != VIG_OK) {
		vig_reply_err(r, err, errbuf);
		return;
	}
	after = feed_get(r, id, tenant, false);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	vig_req_audit(r, tenant[0] ? tenant : r->who.tenant, "intel_feed.create", "intel_feed",
		      idstr, NULL, after);
	request(r->srv->intel, id);
	vig_reply_jansson(r, 201, after);
}

void vig_api_intel_feed_patch(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX], idstr[32];
	json_t *b, *before, *after, *v;
	const char *msg;
	sqlite3 *h;
	int rc = SQLITE_DONE;
	int64_t id;

	if (!vig_req_id(r, "feed", &id) || !(before = feed_get(r, id, tenant, true)))
		return;
	if (!may_manage(r, tenant)) {
		json_decref(before);
		return;
	}
	b = vig_req_json_body(r);
	if (!b) {
		json_decref(before);
		return;
	}
	msg = check_body(b, false);
	if (!msg && (json_object_get(b, "name") || json_object_get(b, "kind") ||
		     json_object_get(b, "tenant")))
		msg = "name, kind and tenant cannot change: delete and create the feed";
	if (msg || !url_allowed(r, b)) {
		if (msg)
			vig_reply_err(r, VIG_EINVAL, msg);
		json_decref(b);
		json_decref(before);
		return;
	}
	h = vig_db_lock(r->srv->db);
	{
		static const struct {
			const char *key, *sql;
		} upd[] = {
			{"url", "UPDATE intel_feeds SET url = ?2, added_last = NULL WHERE id = ?1"},
			{"format", "UPDATE intel_feeds SET format = ?2 WHERE id = ?1"},
			{"refresh_s", "UPDATE intel_feeds SET refresh_s = ?2 WHERE id = ?1"},
			{"enabled", "UPDATE intel_feeds SET enabled = ?2 WHERE id = ?1"},
			{"insecure", "UPDATE intel_feeds SET insecure = ?2 WHERE id = ?1"},
		};

		for (size_t i = 0; i < VIG_ARRAY_LEN(upd) && rc == SQLITE_DONE; i++) {
			sqlite3_stmt *st = NULL;

			if (!(v = json_object_get(b, upd[i].key)))
				continue;
			rc = sqlite3_prepare_v2(h, upd[i].sql, -1, &st, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int64(st, 1, id);
				if (json_is_string(v))
					sqlite3_bind_text(st, 2, json_string_value(v), -1, SQLITE_TRANSIENT);
				else if (json_is_boolean(v))
					sqlite3_bind_int(st, 2, json_is_true(v));
				else
					sqlite3_bind_int64(st, 2, json_integer_value(v));
				rc = sqlite3_step(st);
			}
			sqlite3_finalize(st);
		}
		if (rc == SQLITE_DONE && json_object_get(b, "auth")) {
			sqlite3_stmt *st = NULL;

			rc = sqlite3_prepare_v2(h,
						"UPDATE intel_feeds SET auth_user = ?2, auth_password = ?3, "
						"auth_token = ?4 WHERE id = ?1",
						-1, &st, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int64(st, 1, id);
				sqlite3_bind_text(st, 2, auth_str(b, "username"), -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(st, 3, auth_str(b, "password"), -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(st, 4, auth_str(b, "token"), -1, SQLITE_TRANSIENT);
				rc = sqlite3_step(st);
			}
			sqlite3_finalize(st);
		}
		if (rc == SQLITE_DONE) {
			sqlite3_stmt *st = NULL;

			rc = sqlite3_prepare_v2(h, "UPDATE intel_feeds SET updated = ?2 WHERE id = ?1", -1,
						&st, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_int64(st, 1, id);
				sqlite3_bind_int64(st, 2, vig_time_now());
				rc = sqlite3_step(st);
			}
			sqlite3_finalize(st);
		}
	}
	vig_db_unlock(r->srv->db);
	json_decref(b);
	if (rc != SQLITE_DONE) {
		json_decref(before);
		vig_reply_err(r, VIG_EIO, "cannot update the feed");
		return;
	}
	after = feed_get(r, id, tenant, false);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	vig_req_audit(r, tenant[0] ? tenant : r->who.tenant, "intel_feed.update", "intel_feed",
		      idstr, before, after);
	json_decref(before);
	request(r->srv->intel, id);
	vig_reply_jansson(r, 200, after);
}

void vig_api_intel_feed_delete(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX], idstr[32];
	sqlite3_stmt *st = NULL;
	json_t *before;
	sqlite3 *h;
	int rc = SQLITE_ERROR;
	int64_t id;

	if (!vig_req_id(r, "feed", &id) || !(before = feed_get(r, id, tenant, true)))
		return;
	if (!may_manage(r, tenant)) {
		json_decref(before);
		return;
	}
	h = vig_db_lock(r->srv->db);
	if (sqlite3_prepare_v2(h, "DELETE FROM intel_feeds WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	vig_db_unlock(r->srv->db);
	if (rc != SQLITE_DONE) {
		json_decref(before);
		vig_reply_err(r, VIG_EIO, "cannot delete the feed");
		return;
	}
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	vig_req_audit(r, tenant[0] ? tenant : r->who.tenant, "intel_feed.delete", "intel_feed",
		      idstr, before, NULL);
	json_decref(before);
	request(r->srv->intel, 0);
	vig_reply_jansson(r, 200, json_pack("{s:b}", "ok", 1));
}

void vig_api_intel_feed_refresh(struct vig_req *r)
{
	char tenant[VIG_NAME_MAX], idstr[32];
	json_t *f;
	int64_t id;

	if (!vig_req_id(r, "feed", &id) || !(f = feed_get(r, id, tenant, true)))
		return;
	if (!may_manage(r, tenant)) {
		json_decref(f);
		return;
	}
	json_decref(f);
	snprintf(idstr, sizeof(idstr), "%lld", (long long)id);
	vig_req_audit(r, tenant[0] ? tenant : r->who.tenant, "intel_feed.refresh", "intel_feed",
		      idstr, NULL, NULL);
	request(r->srv->intel, id);
	vig_reply_jansson(r, 202, json_pack("{s:I,s:b}", "id", (json_int_t)id, "queued", 1));
}

/* ---- lookup and stats ---- */

void vig_api_intel_lookup(struct vig_req *r)
{
	char value[VIG_INTEL_VALUE_MAX], req_t[VIG_NAME_MAX] = "", errbuf[VIG_ERRBUF_SIZE] = "";
	const char *scope = NULL;
	struct vig_intel_set *s;
	struct vig_intel_hit h;
	enum vig_intel_type t;
	bool found;
	json_t *o;
	int rc = vig_req_query(r, "value", value, sizeof(value));

	if (rc < 0 || vig_req_query(r, "tenant", req_t, sizeof(req_t)) < 0)
		return;
	if (rc == 0 || !value[0]) {
		vig_reply_err(r, VIG_EINVAL, "value: required (an IP, CIDR, domain, URL or hash)");
		return;
	}
	if (vig_principal_scope(&r->who, req_t, &scope, errbuf) != VIG_OK) {
		vig_reply_err(r, VIG_EPERM, errbuf[0] ? errbuf : "tenant not accessible");
		return;
	}
	if (!vig_intel_guess_type(value, strlen(value), &t)) {
		vig_reply_err(r, VIG_EINVAL, "value: not an IP, CIDR, domain, URL or hash");
		return;
	}
	s = acquire_set(r->srv->intel);
	found = vig_intel_lookup(s, value, strlen(value), scope, &h);
	o = json_pack("{s:s,s:s,s:b}", "value", value, "type", vig_intel_type_name(t), "match", found);
	if (found) {
		json_t *m = json_pack("{s:s,s:s,s:s}", "indicator", h.indicator, "type",
				      vig_intel_type_name(h.type), "feed", h.feed);

		json_object_set_new(m, "tenant", h.tenant ? json_string(h.tenant) : json_null());
		json_object_set_new(m, "id", h.id ? json_string(h.id) : json_null());
		json_object_set_new(m, "threat", h.threat ? json_string(h.threat) : json_null());
		json_object_set_new(m, "confidence",
				    h.confidence >= 0 ? json_integer(h.confidence) : json_null());
		json_object_set_new(o, "hit", m);
	}
	vig_intel_set_unref(s);
	vig_reply_jansson(r, 200, o);
}

void vig_api_intel_stats(struct vig_req *r)
{
	struct vig_intel_srv *is = r->srv->intel;
	struct vig_intel_set *s = acquire_set(is);
	char built[VIG_TIME_STRLEN] = "";
	int64_t lb = atomic_load(&is->last_build);
	json_t *o;

	if (lb)
		vig_time_format(lb, built);
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "indicators",
		      (json_int_t)vig_intel_set_size(s), "events", (json_int_t)LOAD(is->events),
		      "hit_events", (json_int_t)LOAD(is->hit_events), "hit_fields",
		      (json_int_t)LOAD(is->hit_fields), "enrich_errors",
		      (json_int_t)LOAD(is->enrich_errors), "refreshes", (json_int_t)LOAD(is->refreshes),
		      "refresh_failures", (json_int_t)LOAD(is->refresh_failures), "builds",
		      (json_int_t)LOAD(is->builds));
	vig_intel_set_unref(s);
	json_object_set_new(o, "last_build", lb ? json_string(built) : json_null());
	pthread_mutex_lock(&is->mu);
	if (is->attack) {
		struct vig_attack_stats st;

		vig_attack_get_stats(is->attack, &st);
		json_object_set_new(o, "attack",
				    json_pack("{s:b,s:s,s:s,s:I,s:I,s:I}", "loaded", 1, "source",
					      is->attack_source, "version", st.version, "techniques",
					      (json_int_t)st.techniques, "tactics", (json_int_t)st.tactics,
					      "mitigations", (json_int_t)st.mitigations));
	} else {
		json_object_set_new(o, "attack", json_pack("{s:b,s:s}", "loaded", 0, "error",
							   is->attack_error));
	}
	pthread_mutex_unlock(&is->mu);
	vig_reply_jansson(r, 200, o);
}

/* ---- ATT&CK API ---- */

static json_t *strs_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *tech_json(const struct vig_attack_technique *t, bool full)
{
	json_t *o = json_pack("{s:s,s:s,s:b,s:o,s:o}", "id", t->id, "name", t->name, "subtechnique",
			      t->subtechnique, "parent", t->parent ? json_string(t->parent) : json_null(),
			      "tactics", strs_json(t->tactics, t->n_tactics));

	if (!full)
		return o;
	json_object_set_new(o, "description", json_string(t->description));
	json_object_set_new(o, "platforms", strs_json(t->platforms, t->n_platforms));
	json_object_set_new(o, "url", t->url ? json_string(t->url) : json_null());
	{
		json_t *m = json_array();

		for (size_t i = 0; i < t->n_mitigations; i++)
			json_array_append_new(m, json_pack("{s:s,s:s,s:s}", "id", t->mitigations[i].id,
							   "name", t->mitigations[i].name, "description",
							   t->mitigations[i].description));
		json_object_set_new(o, "mitigations", m);
	}
	return o;
}

/* Locks the catalogue; replies 404 (and unlocks) when none is loaded. */
static struct vig_attack *attack_lock(struct vig_req *r)
{
	struct vig_intel_srv *is = r->srv->intel;

	pthread_mutex_lock(&is->mu);
	if (is->attack)
		return is->attack;
	pthread_mutex_unlock(&is->mu);
	vig_reply_err(r, VIG_ENOTFOUND,
		      "no ATT&CK catalogue loaded: set attack.bundle or POST /api/v1/attack/import");
	return NULL;
}

static bool contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	return n == 0;
}

void vig_api_attack_techniques(struct vig_req *r)
{
	char q[256] = "";
	const struct vig_attack_technique *t;
	struct vig_attack *a;
	int64_t limit;
	size_t n, total = 0;
	json_t *arr;

	if (vig_req_query(r, "q", q, sizeof(q)) < 0 ||
	    !vig_req_int(r, "limit", TECH_LIST_DEFAULT, 1, TECH_LIST_MAX, &limit))
		return;
	if (!(a = attack_lock(r)))
		return;
	t = vig_attack_techniques(a, &n);
	arr = json_array();
	for (size_t i = 0; i < n; i++) {
		bool hit = !q[0] || contains_ci(t[i].id, q) || contains_ci(t[i].name, q);

		for (size_t k = 0; !hit && k < t[i].n_tactics; k++)
			hit = strcasecmp(t[i].tactics[k], q) == 0;
		if (!hit)
			continue;
		total++;
		if ((int64_t)json_array_size(arr) < limit)
			json_array_append_new(arr, tech_json(&t[i], false));
	}
	pthread_mutex_unlock(&r->srv->intel->mu);
	vig_reply_jansson(r, 200, json_pack("{s:I,s:o}", "count", (json_int_t)total, "techniques", arr));
}

void vig_api_attack_technique(struct vig_req *r)
{
	const struct vig_attack_technique *t;
	struct vig_attack *a;
	json_t *o = NULL;

	if (!(a = attack_lock(r)))
		return;
	t = vig_attack_technique(a, r->param);
	if (t)
		o = tech_json(t, true);
	pthread_mutex_unlock(&r->srv->intel->mu);
	if (!o) {
		vig_reply_err(r, VIG_ENOTFOUND, "no such technique");
		return;
	}
	vig_reply_jansson(r, 200, o);
}

void vig_api_attack_import(struct vig_req *r)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_intel_srv *is = r->srv->intel;
	struct vig_attack *a = NULL, *old;
	struct vig_attack_stats st;
	size_t n = 0;
	char *body = vig_req_body_copy(r, &n);
	json_t *after;

	if (!body) {
		vig_reply_err(r, VIG_ENOMEM, "out of memory");
		return;
	}
	/* {"path": "..."} names a bundle on the server (provider principals only) */
	if (n < 4096 && strstr(body, "\"path\"")) {
		json_t *j = json_loads(body, 0, NULL);
		const char *p = json_string_value(json_object_get(j, "path"));

		if (p && !r->who.provider) {
			json_decref(j);
			free(body);
			vig_reply_err(r, VIG_EPERM, "path: only provider principals may read local paths");
			return;
		}
		if (p)
			a = vig_attack_load_file(p, ATTACK_BUNDLE_MAX, errbuf);
		json_decref(j);
		if (!p)
			a = vig_attack_load(body, n, errbuf);
	} else {
		a = vig_attack_load(body, n, errbuf);
	}
	free(body);
	if (!a) {
		vig_reply_err(r, VIG_EINVAL, errbuf[0] ? errbuf : "not an ATT&CK bundle");
		return;
	}
	vig_attack_get_stats(a, &st);
	pthread_mutex_lock(&is->mu);
	old = is->attack;
	is->attack = a;
	snprintf(is->attack_source, sizeof(is->attack_source), "api");
	is->attack_error[0] = '\0';
	pthread_mutex_unlock(&is->mu);
	vig_attack_free(old);
	after = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "version", st.version, "techniques",
			  (json_int_t)st.techniques, "subtechniques", (json_int_t)st.subtechniques,
			  "tactics", (json_int_t)st.tactics, "mitigations", (json_int_t)st.mitigations,
			  "skipped", (json_int_t)st.skipped);
	vig_req_audit(r, r->who.tenant, "attack.import", "attack", "enterprise-attack", NULL, after);
	vig_reply_jansson(r, 200, after);
}

/* Technique -> rule titles covering it. */
struct cover {
	char id[16];
	const char **titles;
	size_t n, cap;
};

static struct cover *cover_get(struct cover **v, size_t *n, size_t *cap, const char *id)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].id, id) == 0)
			return &(*v)[i];
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void *p = realloc(*v, c * sizeof(**v));

		if (!p)
			return NULL;
		*v = p;
		*cap = c;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	snprintf((*v)[*n].id, sizeof((*v)[*n].id), "%s", id);
	return &(*v)[(*n)++];
}

static bool cover_add(struct cover *c, const char *title)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->titles[i] == title)
			return true;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		void *p = realloc(c->titles, cap * sizeof(*c->titles));

		if (!p)
			return false;
		c->titles = p;
		c->cap = cap;
	}
	c->titles[c->n++] = title;
	return true;
}

void vig_api_attack_navigator(struct vig_req *r)
{
	char req_t[VIG_NAME_MAX] = "", errbuf[VIG_ERRBUF_SIZE] = "", name[160], tid[16];
	struct vig_intel_srv *is = r->srv->intel;
	struct vig_alert_engine *eng;
	struct vig_sigma_rule *const *rules;
	struct cover *cov = NULL;
	size_t n_rules, n_cov = 0, cap_cov = 0, max = 0, covered_rules = 0;
	const char *scope = NULL;
	json_t *techs, *layer;
	char version[32] = "";

	if (vig_req_query(r, "tenant", req_t, sizeof(req_t)) < 0)
		return;
	if (vig_principal_scope(&r->who, req_t, &scope, errbuf) != VIG_OK) {
		vig_reply_err(r, VIG_EPERM, errbuf[0] ? errbuf : "tenant not accessible");
		return;
	}
	eng = vig_alert_rules_acquire(r->srv->rules);
	rules = vig_detect_rules(vig_alert_engine_detect(eng), &n_rules);
	for (size_t i = 0; i < n_rules; i++) {
		const struct vig_alert_rule_info *info = vig_alert_engine_rule(eng, rules[i]);
		bool any = false;

		if (!info || (scope && info->tenant && strcmp(info->tenant, scope) != 0))
			continue;
		for (size_t k = 0; k < rules[i]->tags.n; k++) {
			struct cover *c;

			if (!vig_attack_tag_technique(rules[i]->tags.v[k], tid))
				continue;
			c = cover_get(&cov, &n_cov, &cap_cov, tid);
			if (!c || !cover_add(c, rules[i]->title))
				continue;
			any = true;
		}
		covered_rules += any;
	}
	pthread_mutex_lock(&is->mu);
	if (is->attack) {
		struct vig_attack_stats st;

		vig_attack_get_stats(is->attack, &st);
		snprintf(version, sizeof(version), "%s", st.version);
	}
	techs = json_array();
	for (size_t i = 0; i < n_cov; i++) {
		struct vig_buf cm;
		json_t *t;
		const struct vig_attack_technique *at =
			is->attack ? vig_attack_technique(is->attack, cov[i].id) : NULL;

		vig_buf_init(&cm, 8192);
		for (size_t k = 0; k < cov[i].n && k < NAV_COMMENT_TITLES; k++)
			vig_buf_printf(&cm, "%s%s", k ? "; " : "", cov[i].titles[k]);
		if (cov[i].n > NAV_COMMENT_TITLES)
			vig_buf_printf(&cm, "; and %zu more", cov[i].n - NAV_COMMENT_TITLES);
		t = json_pack("{s:s,s:I,s:s,s:b}", "techniqueID", cov[i].id, "score",
			      (json_int_t)cov[i].n, "comment", cm.data ? cm.data : "", "enabled", 1);
		if (is->attack && !at)
			json_object_set_new(t, "metadata",
					    json_pack("[{s:s,s:s}]", "name", "note", "value",
						      "not in the loaded ATT&CK catalogue"));
		vig_buf_release(&cm);
		json_array_append_new(techs, t);
		max = VIG_MAX(max, cov[i].n);
		free(cov[i].titles);
	}
	pthread_mutex_unlock(&is->mu);
	free(cov);
	vig_alert_engine_release(eng);
	snprintf(name, sizeof(name), "Vigil detection coverage (%s)", scope ? scope : "all tenants");
	layer = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:I,s:o,s:{s:[s,s],s:I,s:I},s:[],s:b,s:b,s:b}",
			  "name", name, "versions", "attack", version[0] ? version : "18", "navigator",
			  "4.9.1", "layer", "4.5", "domain", "enterprise-attack", "description",
			  "Score: number of enabled Vigil rules tagged with the technique.", "sorting",
			  (json_int_t)3, "techniques", techs, "gradient", "colors", "#ffffff", "#66b1ff",
			  "minValue", (json_int_t)0, "maxValue", (json_int_t)(max ? max : 1),
			  "legendItems", "hideDisabled", 0, "selectTechniquesAcrossTactics", 1,
			  "selectSubtechniquesWithParent", 0);
	json_object_set_new(layer, "metadata",
			    json_pack("[{s:s,s:o},{s:s,s:o}]", "name", "rules", "value",
				      json_sprintf("%zu", n_rules), "name", "rules_with_techniques",
				      "value", json_sprintf("%zu", covered_rules)));
	vig_reply_jansson(r, 200, layer);
}
