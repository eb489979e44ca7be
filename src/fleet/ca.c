/*
 * ca.c - the agent certificate authority: created at first start (ECDSA P-256, self-signed,
 * CN "Vigil agent CA", 10 years, basicConstraints CA:TRUE pathlen 0, keyUsage keyCertSign and
 * cRLSign), loaded at every later start, and used to sign agents' CSRs into client
 * certificates (subject CN=<agent id>, O=<tenant>, clientAuth). The CSR's own subject and
 * extensions are ignored: only its public key is taken, after its signature verifies (proof of
 * possession). Files are created with O_EXCL, the key with mode 0600, so nothing is ever
 * overwritten; a directory holding one file without the other is an error.
 */
#include "fleet_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#define CA_DAYS (3650)
#define CLOCK_SKEW_S 300 /* notBefore is backdated this much */

static const char *ssl_err(void)
{
	static __thread char buf[160];
	unsigned long e = ERR_get_error();

	if (!e)
		return "unknown openssl error";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return false;
	ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* A random positive 128-bit serial. */
static bool set_serial(X509 *cert)
{
	unsigned char raw[16];
	BIGNUM *bn;
	bool ok;

	if (vig_random(raw, sizeof(raw)) != VIG_OK)
		return false;
	raw[0] &= 0x7f;
	raw[0] |= 0x01; /* never zero, never negative */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok;
}

static bool set_validity(X509 *cert, int days)
{
	return X509_gmtime_adj(X509_getm_notBefore(cert), -CLOCK_SKEW_S) &&
	       X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL);
}

static char *pem_of(X509 *cert)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (PEM_write_bio_X509(b, cert) == 1) {
		n = BIO_get_mem_data(b, &data);
		out = malloc((size_t)n + 1);
		if (out) {
			memcpy(out, data, (size_t)n);
			out[n] = '\0';
		}
	}
	BIO_free(b);
	return out;
}

static X509 *make_ca(EVP_PKEY *key, char *errbuf)
{
	X509 *cert = X509_new();
	X509_NAME *name;

	if (!cert)
		goto out_fail;
	name = X509_get_subject_name(cert);
	if (X509_set_version(cert, 2) != 1 || !set_serial(cert) || !set_validity(cert, CA_DAYS) ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Vigil", -1,
				       -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)"Vigil agent CA", -1, -1, 0) != 1 ||
	    X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1 ||
	    !add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !add_ext(cert, cert, NID_subject_key_identifier, "hash") ||
	    X509_sign(cert, key, EVP_sha256()) == 0)
		goto out_fail;
	return cert;
out_fail:
	vig_errf(errbuf, VIG_EINTERNAL, "agent ca: %s", ssl_err());
	X509_free(cert);
	return NULL;
}

static enum vig_err create_ca(struct vig_fleet *f, const char *crt, const char *key_path,
			      char *errbuf)
{
	FILE *fp;
	bool ok;

	f->ca_key = EVP_EC_gen("P-256");
	if (!f->ca_key)
		return vig_errf(errbuf, VIG_EINTERNAL, "agent ca key: %s", ssl_err());
	f->ca_cert = make_ca(f->ca_key, errbuf);
	if (!f->ca_cert)
		return VIG_EINTERNAL;
	fp = vig_file_create(key_path, 0600, errbuf);
	if (!fp)
		return VIG_EIO;
	ok = PEM_write_PrivateKey(fp, f->ca_key, NULL, NULL, 0, NULL, NULL) == 1;
	ok = (fflush(fp) == 0 && fsync(fileno(fp)) == 0) && ok;
	if (fclose(fp) != 0 || !ok)
		return vig_errf(errbuf, VIG_EIO, "cannot write %s", key_path);
	fp = vig_file_create(crt, 0644, errbuf);
	if (!fp)
		return VIG_EIO;
	ok = PEM_write_X509(fp, f->ca_cert) == 1;
	ok = (fflush(fp) == 0 && fsync(fileno(fp)) == 0) && ok;
	if (fclose(fp) != 0 || !ok)
		return vig_errf(errbuf, VIG_EIO, "cannot write %s", crt);
	return VIG_OK;
}

static enum vig_err read_ca(struct vig_fleet *f, const char *crt, const char *key_path,
			    char *errbuf)
{
	FILE *fp = fopen(crt, "re");

	if (!fp)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", crt, strerror(errno));
	f->ca_cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!f->ca_cert)
		return vig_errf(errbuf, VIG_EINVAL, "%s: %s", crt, ssl_err());
	fp = fopen(key_path, "re");
	if (!fp)
		return vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", key_path, strerror(errno));
	f->ca_key = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!f->ca_key)
		return vig_errf(errbuf, VIG_EINVAL, "%s: %s", key_path, ssl_err());
	if (X509_check_private_key(f->ca_cert, f->ca_key) != 1)
		return vig_errf(errbuf, VIG_EINVAL, "%s does not match %s", key_path, crt);
	return VIG_OK;
}

enum vig_err vig_fleet_ca_load(struct vig_fleet *f, const char *dir, char *errbuf)
{
	char crt[1100], key[1100];
	bool has_crt, has_key;
	enum vig_err err;

	if (snprintf(crt, sizeof(crt), "%s/ca.crt", dir) >= (int)sizeof(crt) ||
	    snprintf(key, sizeof(key), "%s/ca.key", dir) >= (int)sizeof(key))
		return vig_errf(errbuf, VIG_EINVAL, "agent ca directory path too long");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
	has_crt = access(crt, F_OK) == 0;
	has_key = access(key, F_OK) == 0;
	if (has_crt != has_key)
		return vig_errf(errbuf, VIG_EINVAL, "%s holds only one of ca.crt and ca.key", dir);
	err = has_crt ? read_ca(f, crt, key, errbuf) : create_ca(f, crt, key, errbuf);
	if (err != VIG_OK)
		return err;
	f->ca_pem = pem_of(f->ca_cert);
	if (!f->ca_pem)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return VIG_OK;
}

void vig_fleet_ca_release(struct vig_fleet *f)
{
	X509_free(f->ca_cert);
	EVP_PKEY_free(f->ca_key);
	free(f->ca_pem);
	f->ca_cert = NULL;
	f->ca_key = NULL;
	f->ca_pem = NULL;
}

X509 *vig_fleet_ca_cert(const struct vig_fleet *f)
{
	return f->ca_cert;
}

const char *vig_fleet_ca_pem(const struct vig_fleet *f)
{
	return f->ca_pem;
}

bool vig_fleet_agent_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 32;
}

static X509_REQ *parse_csr(const char *pem, size_t n, char *errbuf)
{
	BIO *b;
	X509_REQ *req;
	EVP_PKEY *pk;

	if (n == 0 || n > VIG_FLEET_CSR_MAX) {
		vig_errf(errbuf, VIG_EINVAL, "csr: expected a PEM request of at most %d bytes",
			 VIG_FLEET_CSR_MAX);
		return NULL;
	}
	b = BIO_new_mem_buf(pem, (int)n);
	req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!req) {
		ERR_clear_error();
		vig_errf(errbuf, VIG_EINVAL, "csr: not a PEM certificate request");
		return NULL;
	}
	pk = X509_REQ_get0_pubkey(req);
	if (!pk || X509_REQ_verify(req, pk) != 1) {
		ERR_clear_error();
		X509_REQ_free(req);
		vig_errf(errbuf, VIG_EINVAL, "csr: signature does not verify");
		return NULL;
	}
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_EC && EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 &&
	    !(EVP_PKEY_get_id(pk) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) >= 2048)) {
		X509_REQ_free(req);
		vig_errf(errbuf, VIG_EINVAL, "csr: key must be EC, Ed25519 or RSA of 2048 bits or more");
		return NULL;
	}
	return req;
}

static bool fingerprint_of(X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return false;
	vig_hex(md, n, out);
	return true;
}

enum vig_err vig_fleet_sign_csr(struct vig_fleet *f, const char *csr_pem, size_t n,
				const char *agent_id, const char *tenant, char **cert_pem,
				char fingerprint[65], char *errbuf)
{
	X509_REQ *req = parse_csr(csr_pem, n, errbuf);
	X509 *cert = NULL;
	X509_NAME *name;
	enum vig_err err = VIG_EINTERNAL;

	*cert_pem = NULL;
	if (!req)
		return VIG_EINVAL;
	cert = X509_new();
	if (!cert)
		goto out_fail;
	name = X509_get_subject_name(cert);
	if (X509_set_version(cert, 2) != 1 || !set_serial(cert) ||
	    !set_validity(cert, f->cfg.cert_days) ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)tenant, -1,
				       -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)agent_id, -1,
				       -1, 0) != 1 ||
	    X509_set_issuer_name(cert, X509_get_subject_name(f->ca_cert)) != 1 ||
	    X509_set_pubkey(cert, X509_REQ_get0_pubkey(req)) != 1 ||
	    !add_ext(cert, f->ca_cert, NID_basic_constraints, "critical,CA:FALSE") ||
	    !add_ext(cert, f->ca_cert, NID_key_usage, "critical,digitalSignature") ||
	    !add_ext(cert, f->ca_cert, NID_ext_key_usage, "clientAuth") ||
	    !add_ext(cert, f->ca_cert, NID_authority_key_identifier, "keyid:always") ||
	    X509_sign(cert, f->ca_key, EVP_sha256()) == 0 || !fingerprint_of(cert, fingerprint))
		goto out_fail;
	*cert_pem = pem_of(cert);
	if (!*cert_pem) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	err = VIG_OK;
	goto out_free;
out_fail:
	vig_errf(errbuf, VIG_EINTERNAL, "signing the agent certificate: %s", ssl_err());
out_free:
	X509_free(cert);
	X509_REQ_free(req);
	return err;
}

bool vig_fleet_cert_agent_id(X509 *cert, char id[VIG_AGENT_ID_STRLEN])
{
	X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
	char cn[128];
	int n;

	id[0] = '\0';
	if (!name)
		return false;
	n = X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn));
	if (n != 32 || !vig_fleet_agent_id_valid(cn))
		return false;
	memcpy(id, cn, VIG_AGENT_ID_STRLEN);
	return true;
}
