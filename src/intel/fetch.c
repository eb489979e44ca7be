/*
 * fetch.c - getting a feed's bytes: a bounded file read and a bounded HTTP(S) GET with libcurl
 * (http and https only, also across redirects; at most 5 redirects; a whole-transfer timeout;
 * the body limit enforced while receiving, so an endless or huge answer costs at most the
 * limit), and the TAXII 2.1 poll built on it.
 *
 * TAXII 2.1 (OASIS, section 5.4 "Get Objects"): GET <collection>/objects/ with
 * `Accept: application/taxii+json;version=2.1`; the reply is an envelope {"more": bool,
 * "next": "...", "objects": [...]}; further pages repeat the request with ?next=<next> while
 * more is true. `added_after` asks only for objects added after a time; the server reports the
 * newest added time of the page in the X-TAXII-Date-Added-Last header, which the next poll
 * passes back as added_after.
 */
#include "intel.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/vtime.h"

#define MAX_REDIRS 5L
#define DEFAULT_TIMEOUT_S 60L
#define TAXII_ACCEPT "application/taxii+json;version=2.1"
#define URL_MAX 4096

enum vig_err vig_intel_read_file(const char *path, size_t max_bytes, struct vig_buf *out,
				 char *errbuf)
{
	char chunk[65536];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "cannot open %s: %s",
				path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return vig_errf(errbuf, VIG_EINVAL, "%s: not a regular file", path);
	}
	if (max_bytes && (uint64_t)st.st_size > max_bytes) {
		close(fd);
		return vig_errf(errbuf, VIG_ETOOBIG, "%s: %lld bytes, more than the limit of %zu", path,
				(long long)st.st_size, max_bytes);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (vig_buf_add(out, chunk, (size_t)n) != VIG_OK)
			break;
	close(fd);
	if (n < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot read %s: %s", path, strerror(errno));
	if (vig_buf_err(out) != VIG_OK)
		return vig_errf(errbuf, vig_buf_err(out), "%s: larger than the limit", path);
	return VIG_OK;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
	struct vig_buf *out;
	size_t max;          /* body limit */
	bool too_big;        /* the limit stopped the transfer */
	const char *hdr;     /* header wanted, or NULL */
	char *hdr_value;     /* where it goes */
	size_t hdr_cap;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->out->len + n > s->max || vig_buf_add(s->out, p, n) != VIG_OK) {
		s->too_big = true;
		return 0;
	}
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb, hl;

	if (!s->hdr || n == 0)
		return n;
	hl = strlen(s->hdr);
	if (n > hl + 1 && strncasecmp(p, s->hdr, hl) == 0 && p[hl] == ':') {
		const char *v = p + hl + 1, *e = p + n;

		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		if ((size_t)(e - v) < s->hdr_cap) {
			memcpy(s->hdr_value, v, (size_t)(e - v));
			s->hdr_value[e - v] = '\0';
		}
	}
	return n;
}

enum vig_err vig_intel_http_get(const char *url, const struct vig_intel_http *opt,
				struct vig_buf *out, long *status, const char *hdr_name,
				char *hdr_value, size_t hdr_cap, char *errbuf)
{
	struct sink s = {.out = out, .hdr = hdr_name, .hdr_value = hdr_value, .hdr_cap = hdr_cap};
	struct curl_slist *hdrs = NULL;
	char line[1024], cerr[CURL_ERROR_SIZE] = "";
	enum vig_err err = VIG_OK;
	long code = 0;
	CURLcode rc;
	CURL *c;

	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
		return vig_errf(errbuf, VIG_EINVAL, "url: only http:// and https:// are fetched");
	pthread_once(&curl_once, curl_init_once);
	s.max = opt && opt->max_bytes ? opt->max_bytes : out->toobig;
	if (s.max == 0 || s.max > VIG_INTEL_MAX_FETCH_BYTES)
		s.max = VIG_INTEL_MAX_FETCH_BYTES;
	if (hdr_value && hdr_cap)
		hdr_value[0] = '\0';
	c = curl_easy_init();
	if (!c)
		return vig_errf(errbuf, VIG_ENOMEM, "cannot create a curl handle");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, opt && opt->timeout_s ? opt->timeout_s : DEFAULT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vigild/" VIG_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (opt && opt->accept) {
		snprintf(line, sizeof(line), "Accept: %s", opt->accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (opt && opt->token && *opt->token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", opt->token);
		hdrs = curl_slist_append(hdrs, line);
	} else if (opt && opt->username && *opt->username) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, opt->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, opt->password ? opt->password : "");
	}
	if (hdrs)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (opt && opt->cacert && *opt->cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, opt->cacert);
	if (opt && opt->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (status)
		*status = code;
	if (s.too_big || rc == CURLE_FILESIZE_EXCEEDED)
		err = vig_errf(errbuf, VIG_ETOOBIG, "download larger than %zu bytes", s.max);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		err = vig_errf(errbuf, VIG_ETIMEOUT, "download timed out: %s", cerr[0] ? cerr : "timeout");
	else if (rc != CURLE_OK)
		err = vig_errf(errbuf, VIG_EIO, "download failed: %s",
			       cerr[0] ? cerr : curl_easy_strerror(rc));
	else if (code >= 400)
		err = vig_errf(errbuf, code == 401 || code == 403 ? VIG_EAUTH : VIG_EIO,
			       "server answered HTTP %ld", code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return err;
}

/* ---- TAXII 2.1 ---- */

/* Appends a query parameter, percent-encoding the value. */
static void add_param(char *url, size_t cap, const char *name, const char *value)
{
	size_t o = strlen(url);
	static const char hex[] = "0123456789ABCDEF";

	o += (size_t)snprintf(url + o, o < cap ? cap - o : 0, "%s%s=", strchr(url, '?') ? "&" : "?",
			      name);
	for (const unsigned char *p = (const unsigned char *)value; *p && o + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			url[o++] = (char)*p;
		} else {
			url[o++] = '%';
			url[o++] = hex[*p >> 4];
			url[o++] = hex[*p & 15];
		}
	}
	if (o < cap)
		url[o] = '\0';
}

/* The newest date_added of the envelope's objects is not in the objects themselves; when the
 * header is missing, the newest `modified`/`created` stands in (monotonic enough for a
 * re-poll that tolerates duplicates). */
static void newest_time(json_t *objs, char out[64])
{
	int64_t best = 0, t;
	size_t i;
	json_t *o;

	json_array_foreach(objs, i, o) {
		const char *m = json_string_value(json_object_get(o, "modified"));

		if (!m)
			m = json_string_value(json_object_get(o, "created"));
		if (m && vig_time_parse(m, strlen(m), &t) && t > best) {
			best = t;
			snprintf(out, 64, "%s", m);
		}
	}
}

enum vig_err vig_intel_taxii_poll(const struct vig_intel_taxii_opts *o, int64_t now_ns,
				  struct vig_intel_list *l, char added_last[64],
				  unsigned *pages, char *errbuf)
{
	struct vig_intel_http http = o->http;
	unsigned max_pages = o->max_pages ? o->max_pages : 100;
	unsigned page_size = o->page_size ? o->page_size : 1000;
	char base[URL_MAX], url[URL_MAX], next[1024] = "", hdr[64], num[16];
	size_t blen = strlen(o->collection_url);
	enum vig_err err = VIG_OK;
	struct vig_buf body;
	unsigned page = 0;

	if (blen == 0 || blen + 16 >= sizeof(base))
		return vig_errf(errbuf, VIG_EINVAL, "taxii: collection url empty or too long");
	snprintf(base, sizeof(base), "%s%sobjects/", o->collection_url,
		 o->collection_url[blen - 1] == '/' ? "" : "/");
	http.accept = TAXII_ACCEPT;
	vig_buf_init(&body, http.max_bytes ? http.max_bytes : (64u << 20));
	if (pages)
		*pages = 0;
	for (;;) {
		json_error_t jerr;
		json_t *env, *objs;
		bool more;
		const char *nx;

		snprintf(url, sizeof(url), "%s", base);
		snprintf(num, sizeof(num), "%u", page_size);
		add_param(url, sizeof(url), "limit", num);
		if (o->added_after && *o->added_after)
			add_param(url, sizeof(url), "added_after", o->added_after);
		if (next[0])
			add_param(url, sizeof(url), "next", next);
		vig_buf_reset(&body);
		err = vig_intel_http_get(url, &http, &body, NULL, "X-TAXII-Date-Added-Last", hdr,
					 sizeof(hdr), errbuf);
		if (err != VIG_OK)
			break;
		page++;
		env = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
		if (!json_is_object(env)) {
			json_decref(env);
			err = vig_errf(errbuf, VIG_EPARSE, "taxii page %u: not a JSON envelope", page);
			break;
		}
		err = vig_intel_parse_stix(body.data, body.len, now_ns, l, errbuf);
		objs = json_object_get(env, "objects");
		if (hdr[0])
			snprintf(added_last, 64, "%s", hdr);
		else if (json_is_array(objs))
			newest_time(objs, added_last);
		more = json_is_true(json_object_get(env, "more"));
		nx = json_string_value(json_object_get(env, "next"));
		if (more && nx && strlen(nx) < sizeof(next))
			snprintf(next, sizeof(next), "%s", nx);
		else
			more = false;
		json_decref(env);
		if (err != VIG_OK || !more)
			break;
		if (page >= max_pages) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "taxii: more than %u pages", max_pages);
			break;
		}
	}
	if (pages)
		*pages = page;
	vig_buf_release(&body);
	return err;
}
