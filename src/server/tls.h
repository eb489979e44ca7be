/*
 * tls.h - the server's TLS: a self-signed ECDSA P-256 certificate made at first start, and the
 * OpenSSL 3 context (TLS 1.2 and newer only) that the HTTP server wraps connections in.
 */
#ifndef VIG_SERVER_TLS_H
#define VIG_SERVER_TLS_H

#include <openssl/ssl.h>

#include "common/vig.h"

/* Makes sure cert_path and key_path exist: when both are missing, generates a private ECDSA
 * P-256 key and a self-signed certificate (SAN: DNS localhost, IP 127.0.0.1, IP ::1, DNS
 * hostname; valid 825 days) and writes both PEM files with mode 0600, creating their directory
 * (0700). When only one exists it is an error (VIG_EINVAL): never overwrite a user's file.
 * *generated (may be NULL) tells whether new files were written. */
enum vig_err vig_tls_ensure_cert(const char *cert_path, const char *key_path, bool *generated,
				 char *errbuf);

/* A server SSL_CTX with TLS 1.2 as minimum version, the certificate chain and key loaded and
 * checked against each other. NULL on failure with errbuf set. Free with SSL_CTX_free(). */
SSL_CTX *vig_tls_server_ctx(const char *cert_path, const char *key_path, char *errbuf);

/* Asks every client for an optional certificate issued by ca (agent mutual TLS): ca goes into
 * the verify store and the client CA list; SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT, and a
 * verify callback that never aborts the handshake, so browsers and token clients (no or another
 * certificate) keep working. Whoever needs the certificate checks SSL_get_verify_result(). */
enum vig_err vig_tls_trust_client_ca(SSL_CTX *ctx, X509 *ca, char *errbuf);

#endif
