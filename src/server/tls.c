/*
 * tls.c - first-start certificate generation and the server TLS context (OpenSSL 3).
 *
 * The generated certificate is self-signed ECDSA P-256 with SHA-256, a random 128-bit serial,
 * v3 extensions for a TLS server (basicConstraints CA:FALSE, keyUsage digitalSignature,
 * extendedKeyUsage serverAuth) and subjectAltName localhost, 127.0.0.1, ::1 and the host name.
 * Both files are created with O_EXCL and mode 0600, so an existing file is never replaced.
 * The context refuses anything older than TLS 1.2 and prefers the server's cipher order.
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CERT_DAYS 825

/* Last OpenSSL error as text, for error messages. */
static const char *ssl_errstr(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown openssl error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* Host name for the SAN if it is a plausible DNS name, else "". */
static void san_hostname(char *out, size_t cap)
{
	out[0] = '\0';
	if (gethostname(out, cap) != 0) {
		out[0] = '\0';
		return;
	}
	out[cap - 1] = '\0';
	for (char *p = out; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '.')) {
			out[0] = '\0';
			return;
		}
	}
}

static bool add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return false;
	ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static X509 *make_cert(EVP_PKEY *key, char *errbuf)
{
	char host[256], san[400];
	unsigned char serial[16];
	X509_NAME *name;
	BIGNUM *bn = NULL;
	X509 *cert = X509_new();

	if (!cert)
		goto out_fail;
	if (vig_random(serial, sizeof(serial)) != VIG_OK)
		goto out_fail;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto out_fail;
	if (!X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)CERT_DAYS * 86400) ||
	    !X509_set_pubkey(cert, key))
		goto out_fail;
	name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Vigil", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"vigild", -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name))
		goto out_fail;
	san_hostname(host, sizeof(host));
	snprintf(san, sizeof(san), "DNS:localhost,IP:127.0.0.1,IP:::1%s%s",
		 host[0] && strcmp(host, "localhost") != 0 ? ",DNS:" : "",
		 host[0] && strcmp(host, "localhost") != 0 ? host : "");
	if (!add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, NID_ext_key_usage, "serverAuth") ||
	    !add_ext(cert, NID_subject_key_identifier, "hash") ||
	    !add_ext(cert, NID_subject_alt_name, san))
		goto out_fail;
	if (!X509_sign(cert, key, EVP_sha256()))
		goto out_fail;
	BN_free(bn);
	return cert;
out_fail:
	vig_errf(errbuf, VIG_EINTERNAL, "tls: cannot build certificate: %s", ssl_errstr());
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* mkdir of the directory holding path (one level), mode 0700; an existing one is fine. */
static enum vig_err make_parent(const char *path, char *errbuf)
{
	char copy[4096];
	const char *dir;

	if (strlen(path) >= sizeof(copy))
		return vig_errf(errbuf, VIG_EINVAL, "tls: path too long");
	memcpy(copy, path, strlen(path) + 1);
	dir = dirname(copy);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "tls: cannot create %s: %s", dir, strerror(errno));
	return VIG_OK;
}

static enum vig_err write_pem(const char *path, EVP_PKEY *key, X509 *cert, char *errbuf)
{
	FILE *f = vig_file_create(path, 0600, errbuf);
	int ok;

	if (!f)
		return VIG_EIO;
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	if (fclose(f) != 0 || !ok) {
		unlink(path);
		return vig_errf(errbuf, VIG_EIO, "tls: cannot write %s", path);
	}
	return VIG_OK;
}

enum vig_err vig_tls_ensure_cert(const char *cert_path, const char *key_path, bool *generated,
				 char *errbuf)
{
	bool have_cert = access(cert_path, F_OK) == 0, have_key = access(key_path, F_OK) == 0;
	enum vig_err err;
	EVP_PKEY *key;
	X509 *cert;

	if (generated)
		*generated = false;
	if (have_cert && have_key)
		return VIG_OK;
	if (have_cert || have_key)
		return vig_errf(errbuf, VIG_EINVAL, "tls: %s exists but %s does not",
				have_cert ? cert_path : key_path, have_cert ? key_path : cert_path);
	err = make_parent(cert_path, errbuf);
	if (err == VIG_OK)
		err = make_parent(key_path, errbuf);
	if (err != VIG_OK)
		return err;
	key = EVP_EC_gen("P-256");
	if (!key)
		return vig_errf(errbuf, VIG_EINTERNAL, "tls: cannot generate key: %s", ssl_errstr());
	cert = make_cert(key, errbuf);
	if (!cert) {
		err = VIG_EINTERNAL;
		goto out_free_key;
	}
	err = write_pem(key_path, key, NULL, errbuf);
	if (err != VIG_OK)
		goto out_free_cert;
	err = write_pem(cert_path, NULL, cert, errbuf);
	if (err != VIG_OK) {
		unlink(key_path);
		goto out_free_cert;
	}
	if (generated)
		*generated = true;
out_free_cert:
	X509_free(cert);
out_free_key:
	EVP_PKEY_free(key);
	return err;
}

SSL_CTX *vig_tls_server_ctx(const char *cert_path, const char *key_path, char *errbuf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		vig_errf(errbuf, VIG_ENOMEM, "tls: %s", ssl_errstr());
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		vig_errf(errbuf, VIG_EINTERNAL, "tls: %s", ssl_errstr());
		goto out_free;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		vig_errf(errbuf, VIG_EINVAL, "tls: cannot load certificate %s: %s", cert_path, ssl_errstr());
		goto out_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
		vig_errf(errbuf, VIG_EINVAL, "tls: cannot load key %s: %s", key_path, ssl_errstr());
		goto out_free;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		vig_errf(errbuf, VIG_EINVAL, "tls: key %s does not match certificate %s", key_path,
			 cert_path);
		goto out_free;
	}
	return ctx;
out_free:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Keeps the handshake going whatever the client certificate: the verdict stays available in
 * SSL_get_verify_result() for the endpoints that require one. */
static int verify_keep_going(int preverify_ok, X509_STORE_CTX *ctx)
{
	return 1;
}

enum vig_err vig_tls_trust_client_ca(SSL_CTX *ctx, X509 *ca, char *errbuf)
{
	static const unsigned char sid_ctx[] = "vigild";

	if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) != 1 ||
	    SSL_CTX_add_client_CA(ctx, ca) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		return vig_errf(errbuf, VIG_EINTERNAL, "tls: client ca: %s", ssl_errstr());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_keep_going);
	SSL_CTX_set_verify_depth(ctx, 2);
	return VIG_OK;
}
