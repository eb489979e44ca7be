/*
 * notify.c - notification routes, the durable delivery queue, and the three channels:
 * webhook (HTTP POST of JSON, HMAC-SHA256 signature header), e-mail (SMTP via libcurl with
 * STARTTLS) and syslog/CEF over TCP to another SIEM. See notify.h for the model.
 */
#include "notify/notify.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/hmac.h>

#include "alert/alert.h"
#include "auth/audit.h"
#include "common/vtime.h"

static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* ---- matching ---- */

static int sev_rank(const char *s)
{
	enum vig_alert_severity v;

	return s && vig_alert_severity_parse(s, &v) ? (int)v : 0;
}

static int day_index(const char *s, size_t n)
{
	for (int i = 0; i < 7; i++)
		if (n == 3 && !strncmp(s, DAYS[i], 3))
			return i;
	return -1;
}

/* Is weekday wd (0 = Sunday) in a days spec ("mon-fri", "sat,sun", "" = all)? -1 = malformed. */
static int days_match(const char *spec, int wd)
{
	const char *p = spec;
	bool any = false;

	if (!*spec)
		return 1;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *dash = memchr(p, '-', n);
		int a, b;

		if (dash) {
			a = day_index(p, (size_t)(dash - p));
			b = day_index(dash + 1, n - (size_t)(dash - p) - 1);
		} else {
			a = b = day_index(p, n);
		}
		if (a < 0 || b < 0)
			return -1;
		if (a <= b ? (wd >= a && wd <= b) : (wd >= a || wd <= b))
			any = true;
		p += n + (p[n] == ',');
	}
	return any;
}

/* Is hour h in an hours spec ("08-18" = [8, 18), "22-06" wraps, "" = all)? -1 = malformed. */
static int hours_match(const char *spec, int h)
{
	int a, b;
	char extra;

	if (!*spec)
		return 1;
	if (sscanf(spec, "%2d-%2d%c", &a, &b, &extra) != 2 || a < 0 || a > 23 || b < 0 || b > 24 || a == b)
		return -1;
	return a < b ? (h >= a && h < b) : (h >= a || h < b);
}

/* Is kind listed in a comma list (or is the list "*")? */
static bool in_csv(const char *list, const char *kind)
{
	size_t k = strlen(kind);

	if (!strcmp(list, "*"))
		return true;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		if (n == k && !strncmp(p, kind, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

bool vig_notify_route_matches(json_t *route, const struct vig_notify_event *ev, int64_t now)
{
	const char *rule = jstr(route, "rule");
	time_t t = (time_t)(now / VIG_NS_PER_SEC);
	struct tm tm;
	size_t rn = strlen(rule);

	if (!in_csv(jstr(route, "events"), ev->kind))
		return false;
	if (sev_rank(ev->severity) < sev_rank(jstr(route, "min_severity")))
		return false;
	if (rn) {
		if (!ev->rule_id)
			return false;
		if (rule[rn - 1] == '*' ? strncmp(ev->rule_id, rule, rn - 1) != 0 : strcmp(ev->rule_id, rule) != 0)
			return false;
	}
	gmtime_r(&t, &tm);
	return days_match(jstr(route, "days"), tm.tm_wday) == 1 && hours_match(jstr(route, "hours"), tm.tm_hour) == 1;
}

/* ---- routes API ---- */

static json_t *route_json(sqlite3_stmt *st)
{
	char created[VIG_TIME_STRLEN];

	vig_time_format(sqlite3_column_int64(st, 12), created);
	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:s}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "tenant", sqlite3_column_text(st, 1), "name",
			 sqlite3_column_text(st, 2), "events", sqlite3_column_text(st, 3), "min_severity",
			 sqlite3_column_text(st, 4), "rule", sqlite3_column_text(st, 5), "days", sqlite3_column_text(st, 6),
			 "hours", sqlite3_column_text(st, 7), "channel", sqlite3_column_text(st, 8), "target",
			 sqlite3_column_text(st, 9), "has_secret", sqlite3_column_bytes(st, 10) > 0, "enabled",
			 sqlite3_column_int(st, 11) != 0, "created", created);
}

#define ROUTE_COLS "id, tenant_id, name, events, min_severity, rule, days, hours, channel, target, secret, enabled, created"

static json_t *route_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	(void)h;
	(void)ctx;
	return route_json(st);
}

enum vig_err vig_notify_routes_list(struct vig_db *db, const struct vig_principal *who, json_t **out,
				    char *errbuf)
{
	json_t *arr;
	enum vig_err err = vig_db_rows(db, route_row, NULL, &arr, errbuf,
				       "SELECT " ROUTE_COLS
				       " FROM notify_routes WHERE ?1 OR tenant_id = ?2"
				       " ORDER BY id",
				       "it", (int64_t)who->provider, who->tenant);

	if (err != VIG_OK)
		return err;
	*out = json_pack("{s:o}", "routes", arr);
	return VIG_OK;
}

/* Checks and normalises a route's fields from in (all present for create, some for update). */
static enum vig_err check_route(json_t *in, bool create, char *errbuf)
{
	static const char *const keys[] = {"name", "events", "min_severity", "rule", "days", "hours",
					   "channel", "target", "secret", "enabled", "tenant"};
	const char *k;
	json_t *v;

	json_object_foreach(in, k, v) {
		bool known = false;

		for (size_t i = 0; i < VIG_ARRAY_LEN(keys); i++)
			known |= !strcmp(k, keys[i]);
		if (!known)
			return vig_errf(errbuf, VIG_EINVAL, "unknown field '%s'", k);
		if (strcmp(k, "enabled") != 0 && (!json_is_string(v) || json_string_length(v) >= VIG_NOTIFY_TARGET_MAX))
			return vig_errf(errbuf, VIG_EINVAL, "%s must be a string shorter than %d bytes", k, VIG_NOTIFY_TARGET_MAX);
		if (!strcmp(k, "enabled") && !json_is_boolean(v))
			return vig_errf(errbuf, VIG_EINVAL, "enabled must be true or false");
		for (const char *s = json_string_value(v); s && *s; s++)
			if ((unsigned char)*s < 0x20)
				return vig_errf(errbuf, VIG_EINVAL, "%s contains a control character", k);
	}
	if (create && (!*jstr(in, "name") || !*jstr(in, "channel") || !*jstr(in, "target")))
		return vig_errf(errbuf, VIG_EINVAL, "name, channel and target are required");
	if (json_object_get(in, "channel")) {
		const char *c = jstr(in, "channel"), *t = jstr(in, "target");

		if (strcmp(c, "webhook") && strcmp(c, "email") && strcmp(c, "syslog"))
			return vig_errf(errbuf, VIG_EINVAL, "channel must be webhook, email or syslog");
		if (!strcmp(c, "webhook") && strncmp(t, "http://", 7) && strncmp(t, "https://", 8))
			return vig_errf(errbuf, VIG_EINVAL, "a webhook target is an http:// or https:// URL");
		if (!strcmp(c, "email") && (!strchr(t, '@') || strpbrk(t, " <>,;")))
			return vig_errf(errbuf, VIG_EINVAL, "an email target is one address");
		if (!strcmp(c, "syslog") && !strrchr(t, ':'))
			return vig_errf(errbuf, VIG_EINVAL, "a syslog target is host:port");
	} else if (json_object_get(in, "target")) {
		return vig_errf(errbuf, VIG_EINVAL, "change target together with channel");
	}
	if (json_object_get(in, "min_severity") && *jstr(in, "min_severity")) {
		enum vig_alert_severity sv;

		if (!vig_alert_severity_parse(jstr(in, "min_severity"), &sv))
			return vig_errf(errbuf, VIG_EINVAL, "unknown severity '%s'", jstr(in, "min_severity"));
	}
	if (days_match(jstr(in, "days"), 0) < 0)
		return vig_errf(errbuf, VIG_EINVAL, "days: like \"mon-fri\" or \"sat,sun\"");
	if (hours_match(jstr(in, "hours"), 0) < 0)
		return vig_errf(errbuf, VIG_EINVAL, "hours: like \"08-18\" (UTC, end excluded)");
	return VIG_OK;
}

static enum vig_err audit_route(sqlite3 *h, const struct vig_principal *who, const char *tenant,
				const char *action, int64_t id, json_t *after, char *errbuf)
{
	char idbuf[24], *a = NULL;
	enum vig_err err;

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	if (after) {
		json_t *copy = json_deep_copy(after);

		json_object_del(copy, "secret");
		a = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
		json_decref(copy);
	}
	err = vig_audit_append_locked(h, who, tenant, action, "notify_route", idbuf, NULL, a, NULL,
				      vig_time_now(), NULL, errbuf);
	free(a);
	return err;
}

/* Reads route id into *out (JSON) if who may see it. */
static enum vig_err route_get(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out, char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(
		h, errbuf, "SELECT " ROUTE_COLS " FROM notify_routes WHERE id = ?1", "i", id);
	enum vig_err err = VIG_OK;

	*out = NULL;
	if (!st)
		return VIG_EIO;
	if (sqlite3_step(st) == SQLITE_ROW && vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 1)))
		*out = route_json(st);
	else
		err = vig_errf(errbuf, VIG_ENOTFOUND, "route %lld not found", (long long)id);
	sqlite3_finalize(st);
	return err;
}

enum vig_err vig_notify_route_create(struct vig_db *db, const struct vig_principal *who, json_t *in,
				     json_t **out, char *errbuf)
{
	const char *tenant;
	sqlite3 *h;
	json_t *en;
	enum vig_err err = check_route(in, true, errbuf);
	int64_t id = 0;

	if (err != VIG_OK)
		return err;
	tenant = *jstr(in, "tenant") ? jstr(in, "tenant") : who->tenant;
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	en = json_object_get(in, "enabled");
	*out = NULL;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_db_do(h, errbuf,
			"INSERT INTO notify_routes (tenant_id, name, events, min_severity,"
			" rule, days, hours, channel, target, secret, enabled, created)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
			"ttttttttttii", tenant, jstr(in, "name"),
			*jstr(in, "events") ? jstr(in, "events") : "*",
			*jstr(in, "min_severity") ? jstr(in, "min_severity") : "informational",
			jstr(in, "rule"), jstr(in, "days"), jstr(in, "hours"), jstr(in, "channel"),
			jstr(in, "target"), jstr(in, "secret"),
			(int64_t)(en ? json_is_true(en) : 1), vig_time_now());
	id = sqlite3_last_insert_rowid(h);
	if (err == VIG_OK)
		err = route_get(h, who, id, out, errbuf);
	if (err == VIG_OK)
		err = audit_route(h, who, tenant, "notify_route.create", id, *out, errbuf);
	err = vig_db_tx_end(db, h, err, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_notify_route_update(struct vig_db *db, const struct vig_principal *who, int64_t id,
				     json_t *in, json_t **out, char *errbuf)
{
	static const char *const cols[] = {"name", "events", "min_severity", "rule", "days", "hours",
					   "channel", "target", "secret", "enabled"};
	json_t *cur = NULL;
	sqlite3 *h;
	enum vig_err err;

	if (json_object_get(in, "tenant"))
		return vig_errf(errbuf, VIG_EINVAL, "a route cannot move to another tenant");
	err = check_route(in, false, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	err = route_get(h, who, id, &cur, errbuf);
	for (size_t i = 0; err == VIG_OK && i < VIG_ARRAY_LEN(cols); i++) {
		json_t *v = json_object_get(in, cols[i]);
		char sql[96];

		if (!v)
			continue;
		snprintf(sql, sizeof(sql), "UPDATE notify_routes SET %s = ?2 WHERE id = ?1", cols[i]);
		if (json_is_boolean(v))
			err = vig_db_run_id(h, sql, id, json_is_true(v), errbuf);
		else
			err = vig_db_do(h, errbuf, sql, "it", id, json_string_value(v));
	}
	json_decref(cur);
	if (err == VIG_OK)
		err = route_get(h, who, id, out, errbuf);
	if (err == VIG_OK)
		err = audit_route(h, who, jstr(*out, "tenant"), "notify_route.update", id, *out, errbuf);
	return vig_db_tx_end(db, h, err, errbuf);
}

enum vig_err vig_notify_route_delete(struct vig_db *db, const struct vig_principal *who, int64_t id,
				     char *errbuf)
{
	json_t *cur = NULL;
	sqlite3 *h;
	enum vig_err err = vig_db_tx_begin(db, &h, errbuf);

	if (err != VIG_OK)
		return err;
	err = route_get(h, who, id, &cur, errbuf);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf, "DELETE FROM notify_routes WHERE id = ?1", "i", id);
	if (err == VIG_OK)
		err = audit_route(h, who, jstr(cur, "tenant"), "notify_route.delete", id, NULL, errbuf);
	json_decref(cur);
	return vig_db_tx_end(db, h, err, errbuf);
}

/* ---- emit ---- */

/* The JSON every channel sends for ev (malloc'ed into *text). */
static enum vig_err event_payload(const struct vig_notify_event *ev, int64_t now, char **text, char *errbuf)
{
	char ts[VIG_TIME_STRLEN];
	json_t *payload;

	*text = NULL;
	if (!ev->tenant || !ev->kind)
		return vig_errf(errbuf, VIG_EINVAL, "an event needs a tenant and a kind");
	vig_time_format(now, ts);
	payload = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s,s:O?}", "event", ev->kind, "tenant", ev->tenant, "severity",
			    ev->severity ? ev->severity : "informational", "rule_id", ev->rule_id, "title", ev->title,
			    "time", ts, "data", ev->data);
	*text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	if (!*text)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (strlen(*text) > VIG_NOTIFY_PAYLOAD_MAX) {
		free(*text);
		*text = NULL;
		return vig_errf(errbuf, VIG_ETOOBIG, "notification payload over %d bytes", VIG_NOTIFY_PAYLOAD_MAX);
	}
	return VIG_OK;
}

enum vig_err vig_notify_direct_locked(sqlite3 *h, const struct vig_notify_event *ev, const char *channel,
				      const char *target, int64_t now, char *errbuf)
{
	char *text = NULL;
	enum vig_err err;

	if (strcmp(channel, "webhook") && strcmp(channel, "email"))
		return vig_errf(errbuf, VIG_EINVAL, "a direct notification goes to a webhook or an e-mail address");
	if (!*target || strlen(target) >= VIG_NOTIFY_TARGET_MAX)
		return vig_errf(errbuf, VIG_EINVAL, "a direct notification needs a target");
	err = event_payload(ev, now, &text, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_db_do(h, errbuf,
			"INSERT INTO notify_queue (route_id, tenant_id, event, payload,"
			" next_try, created, channel, target)"
			" VALUES (0, ?1, ?2, ?3, ?4, ?4, ?5, ?6)",
			"tttitt", ev->tenant, ev->kind, text, now, channel, target);
	free(text);
	return err;
}

enum vig_err vig_notify_emit(struct vig_db *db, const struct vig_notify_event *ev, int64_t now,
			     size_t *queued, char *errbuf)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char *text = NULL;
	size_t n = 0;
	enum vig_err err;

	if (queued)
		*queued = 0;
	err = event_payload(ev, now, &text, errbuf);
	if (err != VIG_OK)
		return err;
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK) {
		free(text);
		return err;
	}
	st = vig_db_stmt(
		h, errbuf,
		"SELECT " ROUTE_COLS " FROM notify_routes WHERE enabled = 1 AND (tenant_id = ?1"
		" OR tenant_id IN (SELECT id FROM tenants WHERE is_provider = 1)) ORDER BY id",
		"t", ev->tenant);
	if (!st)
		err = VIG_EIO;
	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		json_t *route = route_json(st);
		bool take = route && vig_notify_route_matches(route, ev, now);

		json_decref(route);
		if (!take)
			continue;
		err = vig_db_do(h, errbuf,
				"INSERT INTO notify_queue (route_id, tenant_id, event, payload,"
				" next_try, created) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
				"ittti", (int64_t)sqlite3_column_int64(st, 0), ev->tenant, ev->kind,
				text, now);
		if (err == VIG_OK)
			n++;
	}
	sqlite3_finalize(st);
	err = vig_db_tx_end(db, h, err, errbuf);
	if (err != VIG_OK)
		n = 0;
	free(text);
	if (queued)
		*queued = n;
	return err;
}

/* ---- channels ---- */

void vig_notify_sign(const char *secret, const char *body, size_t n, char out[72])
{
	unsigned char mac[32];
	unsigned int len = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body, n, mac, &len);
	memcpy(out, "sha256=", 7);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static void curl_common(CURL *c, const struct vig_notify_opts *o)
{
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)VIG_NOTIFY_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	if (o->cacert && *o->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

static enum vig_err send_webhook(const struct vig_notify_opts *o, int64_t id, const char *url, const char *secret,
				 const char *event, const char *body, char *errbuf)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char line[128], sig[72];
	long status = 0;
	CURLcode rc;

	if (!c)
		return vig_errf(errbuf, VIG_ENOMEM, "curl init failed");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	snprintf(line, sizeof(line), "X-Vigil-Event: %s", event);
	hdr = curl_slist_append(hdr, line);
	snprintf(line, sizeof(line), "X-Vigil-Delivery: %lld", (long long)id);
	hdr = curl_slist_append(hdr, line);
	if (*secret) {
		vig_notify_sign(secret, body, strlen(body), sig);
		snprintf(line, sizeof(line), "X-Vigil-Signature: %s", sig);
		hdr = curl_slist_append(hdr, line);
	}
	curl_common(c, o);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return vig_errf(errbuf, VIG_EIO, "webhook: %s", curl_easy_strerror(rc));
	if (status < 200 || status > 299)
		return vig_errf(errbuf, VIG_EIO, "webhook: HTTP %ld", status);
	return VIG_OK;
}

struct mail_src {
	const char *data;
	size_t len, off;
};

static size_t mail_read(char *buf, size_t sz, size_t n, void *u)
{
	struct mail_src *m = u;
	size_t k = m->len - m->off;

	if (k > sz * n)
		k = sz * n;
	memcpy(buf, m->data + m->off, k);
	m->off += k;
	return k;
}

static enum vig_err send_email(const struct vig_notify_opts *o, int64_t id, const char *to, json_t *payload,
			       const char *body_json, char *errbuf)
{
	CURL *c;
	struct curl_slist *rcpt = NULL;
	struct mail_src src = {0};
	char *msg = NULL, date[64], subject[256];
	size_t cap;
	time_t now = time(NULL);
	struct tm tm;
	CURLcode rc;
	enum vig_err err = VIG_OK;

	if (!o->smtp_url || !*o->smtp_url)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "email: notify.smtp_url is not set");
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(subject, sizeof(subject), "[Vigil] %s: %s", jstr(payload, "event"), jstr(payload, "title"));
	for (char *p = subject; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	cap = strlen(body_json) * 2 + 1024;
	msg = malloc(cap);
	if (!msg)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	{
		json_t *j = json_loads(body_json, 0, NULL);
		char *pretty = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

		src.len = (size_t)snprintf(msg, cap,
					   "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\n"
					   "Message-ID: <vigil-notify-%lld@vigild>\r\nMIME-Version: 1.0\r\n"
					   "Content-Type: text/plain; charset=utf-8\r\n\r\n"
					   "%s (tenant %s, severity %s)\r\n\r\n%s\r\n",
					   date, o->smtp_from, to, subject, (long long)id, jstr(payload, "title"),
					   jstr(payload, "tenant"), jstr(payload, "severity"), pretty ? pretty : body_json);
		free(pretty);
		json_decref(j);
	}
	if (src.len >= cap) {
		free(msg);
		return vig_errf(errbuf, VIG_ETOOBIG, "email too large");
	}
	src.data = msg;
	c = curl_easy_init();
	if (!c) {
		free(msg);
		return vig_errf(errbuf, VIG_ENOMEM, "curl init failed");
	}
	rcpt = curl_slist_append(rcpt, to);
	curl_common(c, o);
	curl_easy_setopt(c, CURLOPT_URL, o->smtp_url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_USE_SSL, o->smtp_tls == 2 ? (long)CURLUSESSL_ALL
					     : o->smtp_tls == 1 ? (long)CURLUSESSL_TRY
								: (long)CURLUSESSL_NONE);
	if (o->smtp_user && *o->smtp_user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, o->smtp_user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, o->smtp_password ? o->smtp_password : "");
	}
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, o->smtp_from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(c, CURLOPT_READDATA, &src);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK)
		err = vig_errf(errbuf, VIG_EIO, "email: %s", curl_easy_strerror(rc));
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(c);
	free(msg);
	return err;
}

/* Appends s to b escaped for a CEF header (pipe and backslash) or extension (= and \, newlines). */
static size_t cef_escape(char *b, size_t cap, size_t len, const char *s, bool ext)
{
	for (; s && *s && len + 3 < cap; s++) {
		if (*s == '\\' || (!ext && *s == '|') || (ext && *s == '=')) {
			b[len++] = '\\';
			b[len++] = *s;
		} else if (*s == '\n' || *s == '\r') {
			b[len++] = ext ? '\\' : ' ';
			if (ext)
				b[len++] = *s == '\n' ? 'n' : 'r';
		} else {
			b[len++] = *s;
		}
	}
	b[len] = '\0';
	return len;
}

static enum vig_err send_syslog(const char *target, json_t *payload, char *errbuf)
{
	char host[256], line[4096], ts[VIG_TIME_STRLEN];
	const char *colon = strrchr(target, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	int fd = -1, sev = sev_rank(jstr(payload, "severity"));
	size_t len;
	enum vig_err err = VIG_OK;
	struct timeval tv = {VIG_NOTIFY_TIMEOUT_S, 0};
	json_t *data = json_object_get(payload, "data");

	if (!colon || (size_t)(colon - target) >= sizeof(host))
		return vig_errf(errbuf, VIG_EINVAL, "syslog: target is not host:port");
	snprintf(host, sizeof(host), "%.*s", (int)(colon - target), target);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	vig_time_format(vig_time_now(), ts);
	/* RFC 5424 header (facility local4 = 20), then CEF:0 with severity 0-10 */
	len = (size_t)snprintf(line, sizeof(line), "<%d>1 %s vigild vigild - - - CEF:0|Vigil|vigild|%s|", 20 * 8 + 5,
			       ts, VIG_VERSION);
	len = cef_escape(line, sizeof(line), len, jstr(payload, "event"), false);
	len += (size_t)snprintf(line + len, sizeof(line) - len, "|");
	len = cef_escape(line, sizeof(line), len, jstr(payload, "title"), false);
	len += (size_t)snprintf(line + len, sizeof(line) - len, "|%d|cs1Label=tenant cs1=", sev * 2 + 1);
	len = cef_escape(line, sizeof(line), len, jstr(payload, "tenant"), true);
	len += (size_t)snprintf(line + len, sizeof(line) - len, " cs2Label=rule cs2=");
	len = cef_escape(line, sizeof(line), len, jstr(payload, "rule_id"), true);
	if (json_is_integer(json_object_get(data, "id")))
		len += (size_t)snprintf(line + len, sizeof(line) - len, " externalId=%lld",
					(long long)json_integer_value(json_object_get(data, "id")));
	len += (size_t)snprintf(line + len, sizeof(line) - len, " msg=");
	len = cef_escape(line, sizeof(line), len, jstr(payload, "title"), true);
	if (len + 2 >= sizeof(line))
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return vig_errf(errbuf, VIG_EIO, "syslog: cannot resolve %s", host);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		err = vig_errf(errbuf, VIG_EIO, "syslog: cannot connect to %s", target);
	else if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		err = vig_errf(errbuf, VIG_EIO, "syslog: send to %s failed", target);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/* ---- delivery ---- */

struct due {
	int64_t id;
	int attempts;
	char channel[16];
	char target[VIG_NOTIFY_TARGET_MAX];
	char secret[VIG_NOTIFY_TARGET_MAX];
	char event[64];
	char *payload;
	bool route_gone;
};

enum vig_err vig_notify_deliver_due(struct vig_db *db, const struct vig_notify_opts *opts, int64_t now,
				    size_t *sent, size_t *failed, char *errbuf)
{
	struct due d[VIG_NOTIFY_BATCH];
	size_t n = 0, ok = 0, bad = 0;
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;

	memset(d, 0, sizeof(d));
	st = vig_db_stmt(
		h, errbuf,
		"SELECT q.id, q.attempts, COALESCE(q.channel, r.channel),"
		" COALESCE(q.target, r.target), CASE WHEN q.channel IS NULL THEN r.secret END,"
		" q.event, q.payload, r.id IS NULL AND q.channel IS NULL"
		" FROM notify_queue q LEFT JOIN notify_routes r ON r.id = q.route_id"
		" WHERE q.status = 'pending' AND q.next_try <= ?1 ORDER BY q.next_try, q.id LIMIT ?2",
		"ii", now, (int64_t)VIG_NOTIFY_BATCH);
	if (!st) {
		vig_db_unlock(db);
		return VIG_EIO;
	}
	while (n < VIG_NOTIFY_BATCH && sqlite3_step(st) == SQLITE_ROW) {
		struct due *x = &d[n];

		x->id = sqlite3_column_int64(st, 0);
		x->attempts = sqlite3_column_int(st, 1);
		snprintf(x->channel, sizeof(x->channel), "%s", sqlite3_column_text(st, 2) ? (const char *)sqlite3_column_text(st, 2) : "");
		snprintf(x->target, sizeof(x->target), "%s", sqlite3_column_text(st, 3) ? (const char *)sqlite3_column_text(st, 3) : "");
		snprintf(x->secret, sizeof(x->secret), "%s", sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "");
		snprintf(x->event, sizeof(x->event), "%s", (const char *)sqlite3_column_text(st, 5));
		x->payload = strdup((const char *)sqlite3_column_text(st, 6));
		x->route_gone = sqlite3_column_int(st, 7) != 0;
		if (x->payload)
			n++;
	}
	sqlite3_finalize(st);
	vig_db_unlock(db);

	for (size_t i = 0; i < n; i++) {
		char why[VIG_ERRBUF_SIZE] = "";
		json_t *payload = json_loads(d[i].payload, 0, NULL);
		enum vig_err e, e2;
		int64_t backoff;
		bool dead;

		if (d[i].route_gone)
			e = vig_errf(why, VIG_ENOTFOUND, "the route was deleted");
		else if (!strcmp(d[i].channel, "webhook"))
			e = send_webhook(opts, d[i].id, d[i].target, d[i].secret, d[i].event, d[i].payload, why);
		else if (!strcmp(d[i].channel, "email"))
			e = send_email(opts, d[i].id, d[i].target, payload, d[i].payload, why);
		else
			e = send_syslog(d[i].target, payload, why);
		json_decref(payload);
		dead = e != VIG_OK && (d[i].route_gone || d[i].attempts + 1 >= VIG_NOTIFY_MAX_ATTEMPTS);
		backoff = 30LL << (d[i].attempts < 5 ? d[i].attempts : 5);
		h = vig_db_lock(db);
		e2 = vig_db_do(h, errbuf,
			       "UPDATE notify_queue SET status = ?2, attempts = attempts + 1,"
			       " last_error = ?3, next_try = ?4,"
			       " sent = CASE WHEN ?2 = 'sent' THEN ?5 END WHERE id = ?1",
			       "ittii", d[i].id,
			       e == VIG_OK ? "sent"
			       : dead	   ? "dead"
					   : "pending",
			       e == VIG_OK ? NULL : why, now + backoff * VIG_NS_PER_SEC, now);
		vig_db_unlock(db);
		if (e2 != VIG_OK)
			err = e2;
		if (e == VIG_OK)
			ok++;
		else
			bad++;
		free(d[i].payload);
	}
	if (sent)
		*sent = ok;
	if (failed)
		*failed = bad;
	return err;
}

/* vig_db_row_fn of the deliveries list. */
static json_t *delivery_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	char c[VIG_TIME_STRLEN], s[VIG_TIME_STRLEN];
	json_t *p = json_loads((const char *)sqlite3_column_text(st, 9), 0, NULL), *o;

	(void)h;
	(void)ctx;
	vig_time_format(sqlite3_column_int64(st, 7), c);
	if (sqlite3_column_type(st, 8) != SQLITE_NULL)
		vig_time_format(sqlite3_column_int64(st, 8), s);
	o = json_pack("{s:I,s:I,s:s,s:s,s:s,s:i,s:s?,s:s,s:s?,s:s?}", "id",
		      (json_int_t)sqlite3_column_int64(st, 0), "route",
		      (json_int_t)sqlite3_column_int64(st, 1), "tenant", sqlite3_column_text(st, 2),
		      "event", sqlite3_column_text(st, 3), "status", sqlite3_column_text(st, 4),
		      "attempts", sqlite3_column_int(st, 5), "last_error",
		      sqlite3_column_text(st, 6), "created", c, "sent",
		      sqlite3_column_type(st, 8) != SQLITE_NULL ? s : NULL, "title",
		      json_string_value(json_object_get(p, "title")));
	if (o && sqlite3_column_type(st, 10) != SQLITE_NULL) /* direct: who was paged */
		json_object_set_new(o, "target",
				    json_string((const char *)sqlite3_column_text(st, 10)));
	json_decref(p);
	return o;
}

enum vig_err vig_notify_deliveries(struct vig_db *db, const struct vig_principal *who, const char *status,
				   int64_t limit, json_t **out, char *errbuf)
{
	json_t *arr;
	enum vig_err err;

	if (limit <= 0 || limit > 1000)
		limit = 100;
	err = vig_db_rows(
		db, delivery_row, NULL, &arr, errbuf,
		"SELECT id, route_id, tenant_id, event, status, attempts, last_error, created, sent,"
		" payload, target FROM notify_queue WHERE (?1 OR tenant_id = ?2)"
		" AND (?3 IS NULL OR status = ?3) ORDER BY id DESC LIMIT ?4",
		"itti", (int64_t)who->provider, who->tenant, status && *status ? status : NULL,
		limit);
	if (err != VIG_OK)
		return err;
	*out = json_pack("{s:o}", "deliveries", arr);
	return VIG_OK;
}

enum vig_err vig_notify_replay(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t now,
			       char *errbuf)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	enum vig_err err = vig_db_tx_begin(db, &h, errbuf);
	char tenant[VIG_NAME_MAX] = "", idbuf[24];

	if (err != VIG_OK)
		return err;
	st = vig_db_stmt(h, errbuf, "SELECT tenant_id, status FROM notify_queue WHERE id = ?1", "i",
			 id);
	if (!st)
		err = VIG_EIO;
	if (err == VIG_OK) {
		if (sqlite3_step(st) != SQLITE_ROW ||
		    !vig_principal_can_access_tenant(who, (const char *)sqlite3_column_text(st, 0)))
			err = vig_errf(errbuf, VIG_ENOTFOUND, "delivery %lld not found", (long long)id);
		else if (strcmp((const char *)sqlite3_column_text(st, 1), "dead") != 0)
			err = vig_errf(errbuf, VIG_ECONFLICT, "only dead deliveries are replayed");
		else
			snprintf(tenant, sizeof(tenant), "%s", (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	if (err == VIG_OK)
		err = vig_db_run_id(h, "UPDATE notify_queue SET status = 'pending', attempts = 0, next_try = ?2 WHERE id = ?1",
				    id, now, errbuf);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	if (err == VIG_OK)
		err = vig_audit_append_locked(h, who, tenant, "notify.replay", "notify_delivery", idbuf, NULL, NULL, NULL,
					      now, NULL, errbuf);
	return vig_db_tx_end(db, h, err, errbuf);
}
