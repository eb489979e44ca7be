/*
 * http.c - vigilctl's libcurl transport (see http.h).
 *
 * The handle is configured once (TLS verification, timeouts, cookie engine) and reused, so a
 * command that makes several requests keeps one TLS connection. Each request resets only what
 * differs: method, URL, headers and body. The write callback stops the transfer once the body
 * would exceed its bound, which curl reports as a write error that is mapped to VIG_ETOOBIG.
 */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "common/vtime.h"
#include "ctl.h"

struct vig_ctl_client {
	CURL *curl;          /* the one handle */
	char *base;          /* base URL without trailing '/' */
	char *token;         /* bearer token or NULL */
	char *csrf;          /* CSRF token or NULL */
	char curl_err[CURL_ERROR_SIZE]; /* curl's last message */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct vig_ctl_client *vig_ctl_client_new(const struct vig_ctl_conn *conn, char *errbuf)
{
	struct vig_ctl_client *c = calloc(1, sizeof(*c));
	size_t n;

	if (!c) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	if (!conn->url || (strncmp(conn->url, "https://", 8) != 0 &&
			   strncmp(conn->url, "http://", 7) != 0)) {
		vig_errf(errbuf, VIG_EINVAL, "server url '%s' must start with https:// or http://",
			 conn->url ? conn->url : "");
		goto err_free_client;
	}
	c->base = strdup(conn->url);
	c->curl = curl_easy_init();
	if (!c->base || !c->curl) {
		vig_errf(errbuf, VIG_ENOMEM, "cannot create an http client");
		goto err_free_client;
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (conn->token && vig_ctl_client_set_token(c, conn->token) != VIG_OK) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto err_free_client;
	}
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, conn->timeout_s > 0 ? conn->timeout_s
									: (long)VIG_CTL_DEFAULT_TIMEOUT_S);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine */
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "vigilctl/" VIG_VERSION);
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (conn->cacert)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, conn->cacert);
	if (conn->insecure) {
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return c;

err_free_client:
	vig_ctl_client_free(c);
	return NULL;
}

void vig_ctl_client_free(struct vig_ctl_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->token);
	free(c->csrf);
	free(c);
}

enum vig_err vig_ctl_client_set_csrf(struct vig_ctl_client *c, const char *csrf)
{
	free(c->csrf);
	c->csrf = dup_or_null(csrf);
	return (csrf && !c->csrf) ? VIG_ENOMEM : VIG_OK;
}

enum vig_err vig_ctl_client_set_token(struct vig_ctl_client *c, const char *token)
{
	free(c->token);
	c->token = dup_or_null(token);
	return (token && !c->token) ? VIG_ENOMEM : VIG_OK;
}

void vig_ctl_response_init(struct vig_ctl_response *r)
{
	r->status = 0;
	r->retry_after[0] = '\0';
	vig_buf_init(&r->body, VIG_CTL_MAX_RESPONSE_BYTES);
}

void vig_ctl_response_release(struct vig_ctl_response *r)
{
	vig_buf_release(&r->body);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct vig_ctl_response *r = userp;
	size_t n = size * nmemb;

	if (vig_buf_add(&r->body, data, n) != VIG_OK)
		return 0; /* aborts the transfer */
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
	struct vig_ctl_response *r = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *v = data + sizeof(name) - 1;
		size_t len = n - (sizeof(name) - 1);
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
			len--;
		len = VIG_MIN(len, sizeof(r->retry_after) - 1);
		memcpy(r->retry_after, v, len);
		r->retry_after[len] = '\0';
	}
	return n;
}

/* Builds the header list; NULL on no memory. */
static struct curl_slist *build_headers(struct vig_ctl_client *c, const char *method,
					const char *content_type, const char *const *extra)
{
	struct curl_slist *h = NULL, *t;
	struct vig_buf line;

	vig_buf_init(&line, 4096);
	t = curl_slist_append(h, "Accept: application/json");
	if (!t)
		goto err_free_list;
	h = t;
	if (c->token) {
		vig_buf_printf(&line, "Authorization: Bearer %s", c->token);
		if (vig_buf_err(&line) != VIG_OK || !(t = curl_slist_append(h, line.data)))
			goto err_free_list;
		h = t;
	}
	if (c->csrf && strcmp(method, "GET") != 0) {
		vig_buf_reset(&line);
		vig_buf_printf(&line, "X-CSRF-Token: %s", c->csrf);
		if (vig_buf_err(&line) != VIG_OK || !(t = curl_slist_append(h, line.data)))
			goto err_free_list;
		h = t;
	}
	if (content_type) {
		vig_buf_reset(&line);
		vig_buf_printf(&line, "Content-Type: %s", content_type);
		if (vig_buf_err(&line) != VIG_OK || !(t = curl_slist_append(h, line.data)))
			goto err_free_list;
		h = t;
	}
	t = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	if (!t)
		goto err_free_list;
	h = t;
	for (; extra && *extra; extra++) {
		if (!(t = curl_slist_append(h, *extra)))
			goto err_free_list;
		h = t;
	}
	vig_buf_release(&line);
	return h;

err_free_list:
	vig_buf_release(&line);
	curl_slist_free_all(h);
	return NULL;
}

enum vig_err vig_ctl_request(struct vig_ctl_client *c, const char *method, const char *path,
			     const char *content_type, const char *body, size_t body_len,
			     const char *const *headers, struct vig_ctl_response *resp,
			     char *errbuf)
{
	struct curl_slist *h;
	struct vig_buf url;
	CURLcode rc;
	enum vig_err err = VIG_OK;

	vig_buf_reset(&resp->body);
	resp->status = 0;
	resp->retry_after[0] = '\0';
	vig_buf_init(&url, 8192);
	vig_buf_printf(&url, "%s%s", c->base, path);
	if (vig_buf_err(&url) != VIG_OK) {
		vig_buf_release(&url);
		return vig_errf(errbuf, VIG_ETOOBIG, "request url too long");
	}
	h = build_headers(c, method, content_type, headers);
	if (!h) {
		vig_buf_release(&url);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	c->curl_err[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url.data);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->curl, CURLOPT_NOBODY, strcmp(method, "HEAD") == 0 ? 1L : 0L);
	if (body) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
	rc = curl_easy_perform(c->curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	} else if (rc == CURLE_WRITE_ERROR) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "response from %s larger than %zu bytes",
			       c->base, VIG_CTL_MAX_RESPONSE_BYTES);
	} else {
		err = vig_errf(errbuf, rc == CURLE_OPERATION_TIMEDOUT ? VIG_ETIMEOUT : VIG_EIO,
			       "cannot reach %s: %s", c->base,
			       c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	vig_buf_release(&url);
	if (err == VIG_OK && vig_buf_err(&resp->body) == VIG_OK && !resp->body.data)
		vig_buf_add(&resp->body, "", 0); /* an empty body is "" not NULL */
	return err;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0)
		;
}

enum vig_err vig_ctl_request_retry(struct vig_ctl_client *c, const char *method,
				   const char *path, const char *content_type, const char *body,
				   size_t body_len, const char *const *headers,
				   struct vig_ctl_response *resp, char *errbuf)
{
	enum vig_err err = VIG_OK;

	for (unsigned attempt = 1; attempt <= VIG_CTL_MAX_TRIES; attempt++) {
		bool transient;

		err = vig_ctl_request(c, method, path, content_type, body, body_len, headers, resp,
				      errbuf);
		/* An unreachable server is tried a few times only; a busy one for longer. */
		transient = ((err == VIG_EIO || err == VIG_ETIMEOUT) &&
			     attempt < VIG_CTL_MAX_CONNECT_TRIES) ||
			    (err == VIG_OK && (resp->status == 429 || resp->status == 503));
		if (!transient || attempt == VIG_CTL_MAX_TRIES)
			break;
		sleep_ms(vig_ctl_retry_delay_ms(err == VIG_OK ? resp->retry_after : NULL, attempt,
						vig_time_now()));
	}
	return err;
}

enum vig_err vig_ctl_url_escape(struct vig_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			vig_buf_addc(out, (char)ch);
		} else {
			vig_buf_addc(out, '%');
			vig_buf_addc(out, hex[ch >> 4]);
			vig_buf_addc(out, hex[ch & 15]);
		}
	}
	return vig_buf_err(out);
}
