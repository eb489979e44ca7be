/*
 * http.h - vigilctl's HTTPS transport to the Vigil API (libcurl).
 *
 * One client holds one curl handle (connections are reused between requests), the base URL,
 * the bearer token and, after a session login, the session cookie (curl's in-memory cookie
 * engine) and the CSRF token sent with every state-changing request. Response bodies are
 * bounded; a larger one fails with VIG_ETOOBIG.
 */
#ifndef VIG_CTL_HTTP_H
#define VIG_CTL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/vig.h"

#define VIG_CTL_MAX_RESPONSE_BYTES ((size_t)256 << 20) /* most bytes of one response body */
#define VIG_CTL_MAX_TRIES 8 /* tries of one request answered 429/503 */
#define VIG_CTL_MAX_CONNECT_TRIES 3 /* tries of one request that reached no server */

struct vig_ctl_conn {
	const char *url;    /* base URL, "https://host:port" (a trailing '/' is ignored) */
	const char *token;  /* bearer token, or NULL */
	const char *cacert; /* CA/certificate file to trust, or NULL for the system store */
	bool insecure;      /* skip certificate verification */
	long timeout_s;     /* per-request timeout, > 0 */
};

struct vig_ctl_response {
	long status;                /* HTTP status, 0 when no response arrived */
	struct vig_buf body;        /* the body, NUL-terminated */
	char retry_after[64];       /* the Retry-After header's value, or "" */
};

struct vig_ctl_client;

/* A client for conn (strings copied). NULL with errbuf set on failure. */
struct vig_ctl_client *vig_ctl_client_new(const struct vig_ctl_conn *conn, char *errbuf);
/* Frees c; NULL does nothing. */
void vig_ctl_client_free(struct vig_ctl_client *c);
/* Sets (or with NULL clears) the CSRF token sent as X-CSRF-Token on non-GET requests. */
enum vig_err vig_ctl_client_set_csrf(struct vig_ctl_client *c, const char *csrf);
/* Sets (or with NULL clears) the bearer token. */
enum vig_err vig_ctl_client_set_token(struct vig_ctl_client *c, const char *token);

void vig_ctl_response_init(struct vig_ctl_response *r);
void vig_ctl_response_release(struct vig_ctl_response *r);

/* Sends one request: method ("GET", "POST", ...), path below the base URL ("/api/v1/me?x=1"),
 * optional body with its content type, optional extra header lines ("X-Vigil-Batch-Id: x"),
 * NULL-terminated. Any HTTP status is VIG_OK (look at resp->status); VIG_EIO/VIG_ETIMEOUT when
 * no response arrived, with the reason in errbuf. resp is reset first. */
enum vig_err vig_ctl_request(struct vig_ctl_client *c, const char *method, const char *path,
			     const char *content_type, const char *body, size_t body_len,
			     const char *const *headers, struct vig_ctl_response *resp,
			     char *errbuf);

/* Like vig_ctl_request, but retries (up to VIG_CTL_MAX_TRIES tries) while the server answers
 * 429 or 503 — waiting as Retry-After says — or (up to VIG_CTL_MAX_CONNECT_TRIES tries) cannot
 * be reached. Only for requests that are
 * safe to repeat (GET, or a POST with an idempotency key). */
enum vig_err vig_ctl_request_retry(struct vig_ctl_client *c, const char *method,
				   const char *path, const char *content_type, const char *body,
				   size_t body_len, const char *const *headers,
				   struct vig_ctl_response *resp, char *errbuf);

/* Appends s to out percent-encoded for a query string. */
enum vig_err vig_ctl_url_escape(struct vig_buf *out, const char *s);

#endif
