/*
 * test_fleet.c - the fleet module against a real in-memory control DB and a CA in a temporary
 * directory: CA creation and reload, CSR signing (subject, clientAuth, chain verification, bad
 * requests), enrolment tokens (uses, expiry, revocation, tenant scope), enrolment in one
 * transaction, certificate authentication and revocation, heartbeats and online/offline,
 * inventory change tracking, the action state machine (take, result, cancel, expire), tenant
 * isolation of agents and actions, and chunked uploads with their SHA-256 check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <zstd.h>

#include "auth/testutil.h"
#include "fleet/fleet.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

struct fx {
	char dir[64];
	struct vig_db *db;
	struct vig_fleet *fl;
	struct vig_principal sys, a_admin, b_admin, a_viewer;
};

static void rm_rf(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vig_fleet_config cfg;
	char err[VIG_ERRBUF_SIZE] = "", ca[128];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vig_fleet_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a_admin, VIG_ROLE_TENANT_ADMIN, "tenant-a", "alice");
	vig_test_principal(&f->b_admin, VIG_ROLE_TENANT_ADMIN, "tenant-b", "bob");
	f->a_viewer = f->a_admin;
	f->a_viewer.role = VIG_ROLE_CUSTOMER_VIEWER;
	vig_fleet_config_default(&cfg);
	snprintf(cfg.collected_dir, sizeof(cfg.collected_dir), "%s/collected", f->dir);
	cfg.max_upload_bytes = 100000;
	snprintf(ca, sizeof(ca), "%s/agent-ca", f->dir);
	f->fl = vig_fleet_open(f->db, ca, &cfg, err);
	assert_non_null(f->fl);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vig_fleet_free(f->fl);
	vig_db_close(f->db);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* A fresh EC key and a PEM CSR for it (caller frees both). */
static char *make_csr(EVP_PKEY **key_out)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_REQ *req = X509_REQ_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(key);
	X509_REQ_set_pubkey(req, key);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
				   (const unsigned char *)"ignored", -1, -1, 0);
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	PEM_write_bio_X509_REQ(b, req);
	n = BIO_get_mem_data(b, &data);
	out = strndup(data, (size_t)n);
	BIO_free(b);
	X509_REQ_free(req);
	if (key_out)
		*key_out = key;
	else
		EVP_PKEY_free(key);
	return out;
}

static X509 *parse_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);

	BIO_free(b);
	assert_non_null(c);
	return c;
}

static void fingerprint(X509 *c, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	X509_digest(c, EVP_sha256(), md, &n);
	vig_hex(md, 32, out);
}

/* Enrols an agent of tenant via a fresh token; id gets the agent id, fp its fingerprint. */
static void enrol(struct fx *f, const struct vig_principal *p, char *id, char fp[65])
{
	char token[VIG_ENROLL_TOKEN_STRLEN], err[VIG_ERRBUF_SIZE] = "";
	struct vig_enroll_result res;
	char *csr = make_csr(NULL);
	struct vig_enroll_request rq = {.token = token, .csr_pem = csr, .hostname = "web-1",
					.os = "debian", .kernel = "6.1", .arch = "x86_64",
					.version = "0.1.0", .host_id = "h1"};
	X509 *c;

	assert_int_equal(vig_fleet_token_create(f->fl, p, NULL, "t", 1, 3600, T0, token, NULL, err),
			 VIG_OK);
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_OK);
	c = parse_cert(res.cert_pem);
	fingerprint(c, fp);
	X509_free(c);
	snprintf(id, VIG_AGENT_ID_STRLEN, "%s", res.agent_id);
	free(res.cert_pem);
	free(csr);
}

static void test_ca_sign(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", fp[65], fp2[65], id[VIG_AGENT_ID_STRLEN], cn[64];
	char *csr = make_csr(NULL), *pem = NULL;
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *c;
	EXTENDED_KEY_USAGE *eku;

	assert_int_equal(vig_fleet_sign_csr(f->fl, csr, strlen(csr), "0123456789abcdef0123456789abcdef",
					    "tenant-a", &pem, fp, err),
			 VIG_OK);
	c = parse_cert(pem);
	assert_true(vig_fleet_cert_agent_id(c, id));
	assert_string_equal(id, "0123456789abcdef0123456789abcdef");
	X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_organizationName, cn, sizeof(cn));
	assert_string_equal(cn, "tenant-a");
	eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
	assert_non_null(eku);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_client_auth);
	EXTENDED_KEY_USAGE_free(eku);
	fingerprint(c, fp2);
	assert_string_equal(fp, fp2);
	/* the chain verifies against the CA for a TLS client */
	X509_STORE_add_cert(store, vig_fleet_ca_cert(f->fl));
	X509_STORE_CTX_init(ctx, store, c, NULL);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
	assert_int_equal(X509_verify_cert(ctx), 1);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(c);
	free(pem);
	/* a tampered CSR does not verify, garbage does not parse */
	csr[strlen(csr) / 2] = csr[strlen(csr) / 2] == 'A' ? 'B' : 'A';
	assert_int_equal(vig_fleet_sign_csr(f->fl, csr, strlen(csr), "0123456789abcdef0123456789abcdef",
					    "tenant-a", &pem, fp, err),
			 VIG_EINVAL);
	assert_null(pem);
	assert_int_equal(vig_fleet_sign_csr(f->fl, "junk", 4, "0123456789abcdef0123456789abcdef",
					    "tenant-a", &pem, fp, err),
			 VIG_EINVAL);
	assert_non_null(strstr(err, "csr"));
	free(csr);
	assert_false(vig_fleet_agent_id_valid("0123456789ABCDEF0123456789abcdef"));
	assert_false(vig_fleet_agent_id_valid("0123"));
}

static void test_ca_reload(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", ca[128], path[160];
	struct vig_fleet_config cfg;
	struct vig_fleet *again;
	struct stat sb;

	vig_fleet_config_default(&cfg);
	snprintf(ca, sizeof(ca), "%s/agent-ca", f->dir);
	again = vig_fleet_open(f->db, ca, &cfg, err);
	assert_non_null(again);
	assert_string_equal(vig_fleet_ca_pem(again), vig_fleet_ca_pem(f->fl));
	vig_fleet_free(again);
	snprintf(path, sizeof(path), "%s/ca.key", ca);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	/* one file without the other is refused */
	snprintf(path, sizeof(path), "%s/ca.crt", ca);
	assert_int_equal(unlink(path), 0);
	assert_null(vig_fleet_open(f->db, ca, &cfg, err));
	assert_non_null(strstr(err, "only one"));
}

static void test_tokens(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", token[VIG_ENROLL_TOKEN_STRLEN];
	struct vig_enroll_token t, *list = NULL;
	size_t n = 0;

	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_admin, NULL, "laptops", 2, 600, T0, token,
						&t, err),
			 VIG_OK);
	assert_int_equal(strlen(token), VIG_ENROLL_TOKEN_STRLEN - 1);
	assert_memory_equal(token, "vge_", 4);
	assert_string_equal(t.tenant, "tenant-a");
	assert_int_equal(t.uses, 2);
	assert_int_equal(t.expires, T0 + 600 * SEC);
	assert_string_equal(t.created_by, "alice");
	/* another tenant: not for a tenant admin; viewers cannot create */
	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_admin, "tenant-b", "x", 1, 600, T0, token,
						NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_viewer, NULL, "x", 1, 600, T0, token, NULL,
						err),
			 VIG_EPERM);
	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_admin, NULL, "x", -1, 600, T0, token, NULL,
						err),
			 VIG_EINVAL);
	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_admin, NULL, "x", 1, 0, T0, token, NULL,
						err),
			 VIG_EINVAL);
	assert_int_equal(vig_fleet_token_create(f->fl, &f->sys, "nope", "x", 1, 60, T0, token, NULL,
						err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_token_list(f->fl, &f->a_admin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	free(list);
	assert_int_equal(vig_fleet_token_list(f->fl, &f->b_admin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(n, 0);
	free(list);
	assert_int_equal(vig_fleet_token_revoke(f->fl, &f->b_admin, t.id, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_token_revoke(f->fl, &f->a_admin, t.id, &t, err), VIG_OK);
	assert_true(t.revoked);
	assert_int_equal(vig_fleet_token_revoke(f->fl, &f->a_admin, t.id, NULL, err), VIG_OK);
}

static void test_enroll(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", token[VIG_ENROLL_TOKEN_STRLEN], tenant[VIG_NAME_MAX];
	char fp[65], bad[VIG_ENROLL_TOKEN_STRLEN];
	struct vig_enroll_result res;
	struct vig_enroll_token t, *list = NULL;
	char *csr = make_csr(NULL);
	struct vig_enroll_request rq = {.token = token, .csr_pem = csr, .hostname = "db-1"};
	size_t n = 0;
	X509 *c;

	assert_int_equal(vig_fleet_token_create(f->fl, &f->b_admin, NULL, "two", 2, 60, T0, token, &t,
						err),
			 VIG_OK);
	/* a bad CSR consumes no use */
	rq.csr_pem = "junk";
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_EINVAL);
	rq.csr_pem = csr;
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_OK);
	assert_string_equal(res.tenant, "tenant-b");
	assert_true(vig_fleet_agent_id_valid(res.agent_id));
	c = parse_cert(res.cert_pem);
	fingerprint(c, fp);
	X509_free(c);
	free(res.cert_pem);
	assert_int_equal(vig_fleet_agent_auth(f->fl, res.agent_id, fp, tenant, err), VIG_OK);
	assert_string_equal(tenant, "tenant-b");
	assert_int_equal(vig_fleet_agent_auth(f->fl, res.agent_id, "00", tenant, err), VIG_EAUTH);
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0 + SEC, &res, err), VIG_OK);
	free(res.cert_pem);
	/* used up */
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0 + SEC, &res, err), VIG_EAUTH);
	assert_string_equal(err, "enrolment token used up");
	assert_int_equal(res.token_id, t.id);
	assert_int_equal(vig_fleet_token_list(f->fl, &f->b_admin, NULL, &list, &n, err), VIG_OK);
	assert_int_equal(list[0].used, 2);
	free(list);
	/* expired, revoked, unknown, malformed */
	assert_int_equal(vig_fleet_token_create(f->fl, &f->b_admin, NULL, "exp", 0, 60, T0, token, &t,
						err),
			 VIG_OK);
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0 + 61 * SEC, &res, err), VIG_EAUTH);
	assert_string_equal(err, "enrolment token expired");
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0 + 59 * SEC, &res, err), VIG_OK);
	free(res.cert_pem);
	assert_int_equal(vig_fleet_token_revoke(f->fl, &f->b_admin, t.id, NULL, err), VIG_OK);
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_EAUTH);
	assert_string_equal(err, "enrolment token revoked");
	snprintf(bad, sizeof(bad), "%s", token);
	bad[10] = bad[10] == 'x' ? 'y' : 'x';
	rq.token = bad;
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_EAUTH);
	assert_string_equal(err, "unknown enrolment token");
	rq.token = "vge_short";
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_EAUTH);
	/* a control character in a stored text is refused */
	rq.token = token;
	rq.hostname = "a\nb";
	assert_int_equal(vig_fleet_enroll(f->fl, &rq, T0, &res, err), VIG_EINVAL);
	free(csr);
}

static void test_agents(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", id[VIG_AGENT_ID_STRLEN], id2[VIG_AGENT_ID_STRLEN];
	char fp[65], fp2[65], tenant[VIG_NAME_MAX];
	struct vig_agent_filter flt = {.limit = 100};
	json_t *hb, *list, *one;
	int64_t pending = -1;
	bool changed = false;
	const char *inv1 = "{\"hostname\":\"web-1\",\"packages\":[{\"name\":\"bash\"}],\"hash\":\"h1\"}";
	const char *inv2 = "{\"hostname\":\"web-1\",\"packages\":[],\"hash\":\"h2\"}";

	enrol(f, &f->a_admin, id, fp);
	enrol(f, &f->b_admin, id2, fp2);
	/* never seen: offline */
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->a_admin, &flt, T0, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "status")),
			    "offline");
	json_decref(list);
	hb = json_pack("{s:s,s:s,s:b,s:{s:i},s:{s:i,s:i}}", "version", "0.2.0", "mode", "ebpf-tracepoint",
		       "isolated", 1, "counters", "exec", 5, "spool", "bytes", 10, "batches", 1);
	assert_int_equal(vig_fleet_heartbeat(f->fl, id, hb, T0 + SEC, &pending, err), VIG_OK);
	assert_int_equal(pending, 0);
	json_decref(hb);
	flt.status = "online";
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->a_admin, &flt, T0 + 10 * SEC, &list, err),
			 VIG_OK);
	assert_int_equal(json_array_size(list), 1);
	one = json_array_get(list, 0);
	assert_string_equal(json_string_value(json_object_get(one, "version")), "0.2.0");
	assert_string_equal(json_string_value(json_object_get(one, "mode")), "ebpf-tracepoint");
	assert_true(json_is_true(json_object_get(one, "isolated")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(one, "counters"), "exec")),
			 5);
	json_decref(list);
	/* three missed intervals: offline */
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->a_admin, &flt, T0 + 92 * SEC, &list, err),
			 VIG_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	flt.status = "bogus";
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->a_admin, &flt, T0, &list, err), VIG_EINVAL);
	flt.status = NULL;
	flt.q = "WEB";
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->sys, &flt, T0, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	/* bad heartbeats */
	hb = json_pack("{s:s}", "mode", "magic");
	assert_int_equal(vig_fleet_heartbeat(f->fl, id, hb, T0, NULL, err), VIG_EINVAL);
	json_decref(hb);
	hb = json_pack("{s:i}", "counters", 3);
	assert_int_equal(vig_fleet_heartbeat(f->fl, id, hb, T0, NULL, err), VIG_EINVAL);
	json_decref(hb);
	/* inventory: changed only when the hash changes */
	assert_int_equal(vig_fleet_inventory_put(f->fl, id, inv1, strlen(inv1), T0, &changed, err),
			 VIG_OK);
	assert_true(changed);
	assert_int_equal(vig_fleet_inventory_put(f->fl, id, inv1, strlen(inv1), T0 + SEC, &changed, err),
			 VIG_OK);
	assert_false(changed);
	assert_int_equal(vig_fleet_inventory_put(f->fl, id, inv2, strlen(inv2), T0 + 2 * SEC, &changed,
						 err),
			 VIG_OK);
	assert_true(changed);
	assert_int_equal(vig_fleet_inventory_put(f->fl, id, "[1]", 3, T0, &changed, err), VIG_EINVAL);
	assert_int_equal(vig_fleet_inventory_get(f->fl, &f->a_admin, id, &one, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(one, "hash")), "h2");
	assert_int_equal(json_array_size(json_object_get(json_object_get(one, "inventory"), "packages")), 0);
	json_decref(one);
	assert_int_equal(vig_fleet_inventory_get(f->fl, &f->b_admin, id, &one, err), VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_inventory_get(f->fl, &f->b_admin, id2, &one, err), VIG_ENOTFOUND);
	/* get: own tenant only */
	assert_int_equal(vig_fleet_agent_get(f->fl, &f->b_admin, id, T0, &one, err), VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_agent_get(f->fl, &f->a_viewer, id, T0 + 2 * SEC, &one, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(one, "status")), "online");
	assert_string_equal(json_string_value(json_object_get(json_object_get(one, "inventory"), "hash")),
			    "h2");
	json_decref(one);
	/* revoke: refused from then on, visible as revoked */
	assert_int_equal(vig_fleet_agent_revoke(f->fl, &f->a_viewer, id, T0, NULL, err), VIG_EPERM);
	assert_int_equal(vig_fleet_agent_revoke(f->fl, &f->b_admin, id, T0, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_agent_revoke(f->fl, &f->a_admin, id, T0, tenant, err), VIG_OK);
	assert_string_equal(tenant, "tenant-a");
	assert_int_equal(vig_fleet_agent_auth(f->fl, id, fp, tenant, err), VIG_EAUTH);
	assert_string_equal(err, "agent revoked");
	assert_int_equal(vig_fleet_agent_auth(f->fl, "ffffffffffffffffffffffffffffffff", fp, tenant,
					      err),
			 VIG_EAUTH);
	{
		int64_t on, off, rev;

		assert_int_equal(vig_fleet_agent_counts(f->fl, T0 + 2 * SEC, &on, &off, &rev), VIG_OK);
		assert_int_equal(on, 0);
		assert_int_equal(off, 1);
		assert_int_equal(rev, 1);
	}
	flt.q = NULL;
	flt.status = "revoked";
	assert_int_equal(vig_fleet_agent_list(f->fl, &f->sys, &flt, T0, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
}

static void test_actions(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", id[VIG_AGENT_ID_STRLEN], id2[VIG_AGENT_ID_STRLEN], fp[65];
	char tenant[VIG_NAME_MAX];
	struct vig_action_filter flt = {.limit = 10};
	json_t *params = json_pack("{s:i}", "pid", 42), *a, *taken, *res, *list;
	int64_t a1, a2, a3;

	enrol(f, &f->a_admin, id, fp);
	enrol(f, &f->b_admin, id2, fp);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "kill", params, "malware",
						 T0, &a, err),
			 VIG_OK);
	assert_string_equal(json_string_value(json_object_get(a, "status")), "queued");
	assert_string_equal(json_string_value(json_object_get(a, "requested_by")), "alice");
	a1 = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "inventory", NULL, NULL, T0 + 1,
						 &a, err),
			 VIG_OK);
	a2 = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "query", NULL, NULL, T0 + 2,
						 &a, err),
			 VIG_OK);
	a3 = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	/* refusals: type, params, tenant, permission */
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "format-disk", NULL, NULL, T0,
						 NULL, err),
			 VIG_EINVAL);
	assert_string_equal(err, "unsupported action type");
	a = json_array();
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "kill", a, NULL, T0, NULL,
						 err),
			 VIG_EINVAL);
	json_decref(a);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->b_admin, id, "kill", params, NULL, T0,
						 NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_viewer, id, "kill", params, NULL, T0,
						 NULL, err),
			 VIG_EPERM);
	json_decref(params);
	assert_int_equal(vig_fleet_action_pending(f->fl, id), 3);
	/* cancel a queued one */
	assert_int_equal(vig_fleet_action_cancel(f->fl, &f->b_admin, a3, T0, NULL, err), VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_action_cancel(f->fl, &f->a_admin, a3, T0, &a, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(a, "status")), "cancelled");
	json_decref(a);
	/* take: oldest first, only this agent's, then delivered */
	assert_int_equal(vig_fleet_action_take(f->fl, id2, 10, T0, &taken, err), VIG_OK);
	assert_int_equal(json_array_size(taken), 0);
	json_decref(taken);
	assert_int_equal(vig_fleet_action_take(f->fl, id, 10, T0 + SEC, &taken, err), VIG_OK);
	assert_int_equal(json_array_size(taken), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(taken, 0), "id")), a1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(taken, 0),
									    "params"),
							    "pid")),
			 42);
	assert_string_equal(json_string_value(json_object_get(json_array_get(taken, 0), "reason")),
			    "malware");
	json_decref(taken);
	assert_int_equal(vig_fleet_action_take(f->fl, id, 10, T0 + SEC, &taken, err), VIG_OK);
	assert_int_equal(json_array_size(taken), 0);
	json_decref(taken);
	assert_int_equal(vig_fleet_action_cancel(f->fl, &f->a_admin, a1, T0, NULL, err),
			 VIG_ECONFLICT);
	/* results: only the owning agent, only once */
	res = json_pack("{s:[i]}", "killed", 42);
	assert_int_equal(vig_fleet_action_result(f->fl, id2, a1, "succeeded", res, NULL, T0, NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_action_result(f->fl, id, a1, "done", res, NULL, T0, NULL, err),
			 VIG_EINVAL);
	assert_int_equal(vig_fleet_action_result(f->fl, id, a1, "succeeded", res, NULL, T0 + 2 * SEC,
						 tenant, err),
			 VIG_OK);
	assert_string_equal(tenant, "tenant-a");
	assert_int_equal(vig_fleet_action_result(f->fl, id, a1, "failed", NULL, "x", T0, NULL, err),
			 VIG_ECONFLICT);
	json_decref(res);
	assert_int_equal(vig_fleet_action_get(f->fl, &f->a_viewer, a1, &a, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(a, "status")), "succeeded");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(a, "result"),
									   "killed"),
							   0)),
			 42);
	json_decref(a);
	assert_int_equal(vig_fleet_action_get(f->fl, &f->b_admin, a1, &a, err), VIG_ENOTFOUND);
	/* expiry of the delivered one */
	assert_int_equal(vig_fleet_actions_expire(f->fl, T0 + 3601 * SEC, NULL, err), VIG_OK);
	assert_int_equal(vig_fleet_action_get(f->fl, &f->a_admin, a2, &a, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(a, "status")), "expired");
	json_decref(a);
	/* lists */
	assert_int_equal(vig_fleet_action_list(f->fl, &f->a_admin, &flt, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 3);
	json_decref(list);
	flt.status = "succeeded";
	assert_int_equal(vig_fleet_action_list(f->fl, &f->a_admin, &flt, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	flt.status = NULL;
	assert_int_equal(vig_fleet_action_list(f->fl, &f->b_admin, &flt, &list, err), VIG_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	flt.tenant = "tenant-a";
	assert_int_equal(vig_fleet_action_list(f->fl, &f->b_admin, &flt, &list, err), VIG_EPERM);
	/* a revoked agent gets no new actions */
	assert_int_equal(vig_fleet_agent_revoke(f->fl, &f->a_admin, id, T0, NULL, err), VIG_OK);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "kill", NULL, NULL, T0, NULL,
						 err),
			 VIG_ECONFLICT);
}

static void test_upload(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE] = "", id[VIG_AGENT_ID_STRLEN], fp[65], path[1200], sha[65];
	char want[65];
	uint8_t md[32];
	int64_t exp = 0, size = 0, aid, kid;
	json_t *a, *taken;
	const char *data = "hello collected world";
	FILE *fpf;
	char buf[64] = "";

	vig_sha256(data, strlen(data), md);
	vig_hex(md, 32, want);
	enrol(f, &f->a_admin, id, fp);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "collect", NULL, NULL, T0, &a,
						 err),
			 VIG_OK);
	aid = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "kill", NULL, NULL, T0, &a,
						 err),
			 VIG_OK);
	kid = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	/* not delivered yet */
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, data, 5, false, NULL, -1, &exp, err),
			 VIG_ECONFLICT);
	assert_int_equal(vig_fleet_action_take(f->fl, id, 10, T0, &taken, err), VIG_OK);
	json_decref(taken);
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, kid, 0, data, 5, false, NULL, -1, &exp, err),
			 VIG_ECONFLICT);
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, data, 5, false, NULL, -1, &exp, err),
			 VIG_OK);
	assert_int_equal(exp, 5);
	/* out of order */
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 9, data, 5, false, NULL, -1, &exp, err),
			 VIG_ECONFLICT);
	assert_int_equal(exp, 5);
	/* wrong hash: discarded, start again */
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 5, data + 5, strlen(data) - 5, true,
						"00", -1, &exp, err),
			 VIG_EINVAL);
	assert_int_equal(exp, 0);
	assert_int_equal(vig_fleet_upload_file(f->fl, &f->a_admin, aid, path, sizeof(path), sha, &size,
					       err),
			 VIG_ENOTFOUND);
	/* with the size announced: progress while it is delivered; a total below what came is refused */
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, data, 5, false, NULL, 3, &exp, err),
			 VIG_EINVAL);
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, data, 5, false, NULL,
						(int64_t)strlen(data), &exp, err),
			 VIG_OK);
	assert_int_equal(vig_fleet_action_get(f->fl, &f->a_viewer, aid, &a, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "upload"), "received")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "upload"), "total")),
			 (json_int_t)strlen(data));
	json_decref(a);
	assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 5, data + 5, strlen(data) - 5, true,
						want, (int64_t)strlen(data), &exp, err),
			 VIG_OK);
	assert_int_equal(vig_fleet_upload_file(f->fl, &f->b_admin, aid, path, sizeof(path), sha, &size,
					       err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_fleet_upload_file(f->fl, &f->a_viewer, aid, path, sizeof(path), sha, &size,
					       err),
			 VIG_OK);
	assert_string_equal(sha, want);
	assert_int_equal(size, (int64_t)strlen(data));
	assert_non_null(strstr(path, "/collected/tenant-a/"));
	fpf = fopen(path, "r");
	assert_non_null(fpf);
	assert_non_null(fgets(buf, sizeof(buf), fpf));
	fclose(fpf);
	assert_string_equal(buf, data);
	assert_int_equal(vig_fleet_action_create(f->fl, &f->a_admin, id, "collect", NULL, NULL, T0, &a,
						 err),
			 VIG_OK);
	aid = json_integer_value(json_object_get(a, "id"));
	json_decref(a);
	assert_int_equal(vig_fleet_action_take(f->fl, id, 10, T0, &taken, err), VIG_OK);
	json_decref(taken);
	{ /* too big: the file, the chunk */
		static char big[VIG_FLEET_CHUNK_MAX];

		assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, big, 100001, false, NULL, -1, &exp,
							err),
				 VIG_ETOOBIG);
		assert_int_equal(vig_fleet_upload_chunk(f->fl, id, aid, 0, big, VIG_FLEET_CHUNK_MAX + 1,
							false, NULL, -1, &exp, err),
				 VIG_ETOOBIG);
	}
}

static void test_zstd(void **state)
{
	char err[VIG_ERRBUF_SIZE] = "", src[5000], *out = NULL;
	static char z[2 * 5000 + 1024];
	size_t zn, n = 0, one;

	(void)state;
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 7);
	zn = ZSTD_compress(z, sizeof(z) / 2, src, sizeof(src), 3);
	assert_false(ZSTD_isError(zn));
	assert_int_equal(vig_fleet_zstd_decompress(z, zn, 1 << 20, &out, &n, err), VIG_OK);
	assert_int_equal(n, sizeof(src));
	assert_memory_equal(out, src, n);
	assert_int_equal(out[n], '\0');
	free(out);
	/* the bound: one byte short of the content */
	assert_int_equal(vig_fleet_zstd_decompress(z, zn, sizeof(src) - 1, &out, &n, err),
			 VIG_ETOOBIG);
	assert_null(out);
	assert_int_equal(vig_fleet_zstd_decompress(z, zn, sizeof(src), &out, &n, err), VIG_OK);
	free(out);
	/* truncated, corrupt, two frames */
	assert_int_equal(vig_fleet_zstd_decompress(z, zn - 3, 1 << 20, &out, &n, err), VIG_EINVAL);
	assert_int_equal(vig_fleet_zstd_decompress("not zstd at all", 15, 1 << 20, &out, &n, err),
			 VIG_EINVAL);
	one = zn;
	memcpy(z + one, z, one);
	assert_int_equal(vig_fleet_zstd_decompress(z, 2 * one, 1 << 20, &out, &n, err), VIG_EINVAL);
	assert_non_null(strstr(err, "one frame"));
}

struct race {
	struct fx *f;
	const char *token;
	const char *csr;
	int ok;
};

static void *race_enrol(void *arg)
{
	struct race *rc = arg;
	char err[VIG_ERRBUF_SIZE];
	struct vig_enroll_request rq = {.token = rc->token, .csr_pem = rc->csr};
	struct vig_enroll_result res;

	for (int i = 0; i < 3; i++) {
		if (vig_fleet_enroll(rc->f->fl, &rq, T0, &res, err) == VIG_OK) {
			rc->ok++;
			free(res.cert_pem);
		}
	}
	return NULL;
}

/* Threads racing for the uses of one token: exactly `uses` enrolments win. */
static void test_enroll_race(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE], token[VIG_ENROLL_TOKEN_STRLEN];
	char *csr = make_csr(NULL);
	struct race rc[6];
	pthread_t th[6];
	int total = 0;

	assert_int_equal(vig_fleet_token_create(f->fl, &f->a_admin, NULL, "race", 5, 60, T0, token,
						NULL, err),
			 VIG_OK);
	for (int i = 0; i < 6; i++) {
		rc[i] = (struct race){f, token, csr, 0};
		assert_int_equal(pthread_create(&th[i], NULL, race_enrol, &rc[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		total += rc[i].ok;
	}
	assert_int_equal(total, 5);
	free(csr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ca_sign, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ca_reload, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tokens, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_enroll, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_agents, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_actions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_upload, fx_setup, fx_teardown),
		cmocka_unit_test(test_zstd),
		cmocka_unit_test_setup_teardown(test_enroll_race, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
