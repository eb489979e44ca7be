/*
 * enroll.c - the agent's identity: the state directory, enrolment with a one-time token and
 * loading the stored identity (docs/agent-protocol.md, "Enrolment").
 *
 * Enrolment: a new ECDSA P-256 key is written to STATE/agent.key (0600, never sent), a PKCS#10
 * request signed by it goes with the token and the host's description to
 * POST /api/v1/agents/enroll; the reply's certificate and agent CA are stored as agent.crt and
 * agent-ca.crt, the --cacert file as server-ca.crt (so later runs need no --cacert), and
 * {"agent_id","tenant","server"} as agent.json. Every file is written as .tmp, fsync'ed and
 * renamed, so an interrupted enrolment leaves either the old identity or the new one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "transport.h"

#define VIG_ENROLL_MAX_REPLY (256u << 10)

enum vig_err vig_state_dir_prepare(const char *dir, char *errbuf)
{
	struct stat st;

	if (!dir || dir[0] != '/' || strlen(dir) > VIG_AGENT_PATH_MAX - 64)
		return vig_errf(errbuf, VIG_EINVAL, "state directory must be an absolute path");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return vig_errf(errbuf, VIG_EIO, "%s is not a directory", dir);
	if ((st.st_mode & 077) && chmod(dir, 0700) != 0)
		return vig_errf(errbuf, VIG_EIO, "cannot make %s private: %s", dir, strerror(errno));
	return VIG_OK;
}

/* Reads a small text file (at most max bytes) into a new string. */
static char *vig_slurp(const char *path, size_t max, char *errbuf)
{
	FILE *f = fopen(path, "re");
	char *s;
	size_t n;

	if (!f) {
		vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "cannot open %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	s = malloc(max + 1);
	if (!s) {
		fclose(f);
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	n = fread(s, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(s);
		vig_errf(errbuf, VIG_ETOOBIG, "%s is larger than %zu bytes", path, max);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

enum vig_err vig_enroll_make_csr(const char *key_path, const char *hostname, char **csr_pem,
				 char *errbuf)
{
	enum vig_err err = VIG_EINTERNAL;
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509_NAME *name;
	BIO *mem = NULL;
	FILE *f = NULL;
	char *pem;
	long n;
	int fd;

	*csr_pem = NULL;
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key)
		return vig_errf(errbuf, VIG_EINTERNAL, "cannot generate an ecdsa p-256 key");
	unlink(key_path);
	fd = open(key_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		err = vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", key_path, strerror(errno));
		goto out_free;
	}
	if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot write %s", key_path);
		goto out_free;
	}
	req = X509_REQ_new();
	name = req ? X509_REQ_get_subject_name(req) : NULL;
	if (!name || !X509_REQ_set_version(req, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)(hostname && hostname[0] ? hostname : "vigil-agent"),
					-1, -1, 0) ||
	    !X509_REQ_set_pubkey(req, key) || !X509_REQ_sign(req, key, EVP_sha256())) {
		err = vig_errf(errbuf, VIG_EINTERNAL, "cannot build the certificate request");
		goto out_free;
	}
	mem = BIO_new(BIO_s_mem());
	if (!mem || !PEM_write_bio_X509_REQ(mem, req)) {
		err = vig_errf(errbuf, VIG_ENOMEM, "cannot encode the certificate request");
		goto out_free;
	}
	n = BIO_get_mem_data(mem, &pem);
	*csr_pem = strndup(pem, (size_t)n);
	err = *csr_pem ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	if (f)
		fclose(f);
	if (err != VIG_OK)
		unlink(key_path);
	BIO_free(mem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return err;
}

/* Value of KEY="..." in /etc/os-release into out. */
static void vig_os_release(const char *key, char *out, size_t cap)
{
	char line[512];
	size_t klen = strlen(key);
	FILE *f = fopen("/etc/os-release", "re");

	snprintf(out, cap, "linux");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *v;
		size_t n;

		if (strncmp(line, key, klen) != 0 || line[klen] != '=')
			continue;
		v = line + klen + 1;
		n = strcspn(v, "\n");
		if (n && v[0] == '"') {
			v++;
			n = n >= 2 ? n - 2 : 0;
		}
		snprintf(out, cap, "%.*s", (int)n, v);
		break;
	}
	fclose(f);
}

static void vig_paths(const char *state_dir, struct vig_identity *id)
{
	snprintf(id->key_path, sizeof(id->key_path), "%s/agent.key", state_dir);
	snprintf(id->cert_path, sizeof(id->cert_path), "%s/agent.crt", state_dir);
	snprintf(id->ca_path, sizeof(id->ca_path), "%s/agent-ca.crt", state_dir);
	snprintf(id->server_ca_path, sizeof(id->server_ca_path), "%s/server-ca.crt", state_dir);
}

/* Request body of the enrolment. */
static char *vig_enroll_body(const char *token, const char *csr, const char *hostname)
{
	char os[128], host_id[64] = "", *body;
	struct vig_agent_host host;
	struct utsname u;
	json_t *o;

	if (vig_agent_host_init(&host, NULL, NULL) == VIG_OK)
		snprintf(host_id, sizeof(host_id), "%s", host.id);
	if (uname(&u) != 0)
		memset(&u, 0, sizeof(u));
	vig_os_release("PRETTY_NAME", os, sizeof(os));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "token", token, "csr", csr,
		      "hostname", hostname, "host_id", host_id, "os", os, "kernel", u.release, "arch",
		      u.machine, "version", VIG_VERSION);
	if (!o)
		return NULL;
	body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return body;
}

/* Stores the enrolment reply's files and agent.json. */
static enum vig_err vig_enroll_store(const char *state_dir, const char *server, const char *cacert,
				     json_t *reply, struct vig_identity *id, char *errbuf)
{
	const char *agent_id = json_string_value(json_object_get(reply, "agent_id"));
	const char *tenant = json_string_value(json_object_get(reply, "tenant"));
	const char *cert = json_string_value(json_object_get(reply, "certificate"));
	const char *ca = json_string_value(json_object_get(reply, "ca"));
	char path[VIG_AGENT_PATH_MAX], *doc, *trust = NULL;
	enum vig_err err;
	json_t *o;

	if (!agent_id || strlen(agent_id) != 32 || strspn(agent_id, "0123456789abcdef") != 32 || !tenant ||
	    strlen(tenant) >= sizeof(id->tenant) || !cert || !strstr(cert, "BEGIN CERTIFICATE"))
		return vig_errf(errbuf, VIG_EPARSE, "enrolment reply lacks agent_id, tenant or certificate");
	err = vig_agent_write_file(id->cert_path, cert, strlen(cert), 0644, errbuf);
	if (err == VIG_OK && ca)
		err = vig_agent_write_file(id->ca_path, ca, strlen(ca), 0644, errbuf);
	if (err == VIG_OK && cacert) {
		trust = vig_slurp(cacert, 1u << 20, errbuf);
		err = trust ? vig_agent_write_file(id->server_ca_path, trust, strlen(trust), 0644, errbuf) : VIG_EIO;
		free(trust);
	}
	if (err != VIG_OK)
		return err;
	o = json_pack("{s:s, s:s, s:s}", "agent_id", agent_id, "tenant", tenant, "server", server);
	doc = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (!doc)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/agent.json", state_dir);
	err = vig_agent_write_file(path, doc, strlen(doc), 0600, errbuf);
	free(doc);
	if (err != VIG_OK)
		return err;
	snprintf(id->agent_id, sizeof(id->agent_id), "%s", agent_id);
	snprintf(id->tenant, sizeof(id->tenant), "%s", tenant);
	snprintf(id->server, sizeof(id->server), "%s", server);
	if (!cacert)
		id->server_ca_path[0] = '\0';
	return VIG_OK;
}

enum vig_err vig_enroll(const char *server, const char *cacert, const char *token,
			const char *state_dir, struct vig_identity *id, char *errbuf)
{
	static const char *const hdrs[] = { "Content-Type: application/json" };
	char hostname[256] = "", url[600], *csr = NULL, *body = NULL;
	struct vig_http_req req = { 0 };
	enum vig_err err;
	struct vig_buf reply;
	json_t *doc = NULL;
	long status = 0;
	CURL *c = NULL;

	memset(id, 0, sizeof(*id));
	if (!server || strncmp(server, "https://", 8) != 0 || strlen(server) >= sizeof(id->server))
		return vig_errf(errbuf, VIG_EINVAL, "--server must be an https:// url for enrolment");
	if (!token || !token[0] || strlen(token) > 512 || strpbrk(token, "\r\n\""))
		return vig_errf(errbuf, VIG_EINVAL, "enrolment token is empty or malformed");
	err = vig_state_dir_prepare(state_dir, errbuf);
	if (err != VIG_OK)
		return err;
	vig_paths(state_dir, id);
	gethostname(hostname, sizeof(hostname) - 1);
	vig_buf_init(&reply, VIG_ENROLL_MAX_REPLY);
	err = vig_enroll_make_csr(id->key_path, hostname, &csr, errbuf);
	if (err != VIG_OK)
		goto out_free;
	body = vig_enroll_body(token, csr, hostname);
	c = curl_easy_init();
	if (!body || !c) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	snprintf(url, sizeof(url), "%s%sapi/v1/agents/enroll", server,
		 server[strlen(server) - 1] == '/' ? "" : "/");
	req.method = "POST";
	req.url = url;
	req.cacert = cacert;
	req.headers = hdrs;
	req.n_headers = VIG_ARRAY_LEN(hdrs);
	req.body = body;
	req.body_len = strlen(body);
	req.max_reply = VIG_ENROLL_MAX_REPLY;
	err = vig_http_do(c, &req, &status, &reply, errbuf);
	if (err != VIG_OK)
		goto out_free;
	if (status == 401 || status == 403) {
		err = vig_errf(errbuf, VIG_EAUTH, "enrolment refused (%ld): the token is unknown, used up, "
				"expired or revoked", status);
		goto out_free;
	}
	if (status != 201 && status != 200) {
		err = vig_errf(errbuf, VIG_EIO, "enrolment failed with status %ld: %.120s", status,
			       reply.data ? reply.data : "");
		goto out_free;
	}
	doc = json_loadb(reply.data ? reply.data : "", reply.len, 0, NULL);
	if (!json_is_object(doc)) {
		err = vig_errf(errbuf, VIG_EPARSE, "enrolment reply is not a json object");
		goto out_free;
	}
	err = vig_enroll_store(state_dir, server, cacert, doc, id, errbuf);
	if (err == VIG_OK)
		vig_info("agent", "enrolled", "agent_id=%s tenant=%s server=\"%s\" state=\"%s\"", id->agent_id,
			 id->tenant, server, state_dir);
out_free:
	json_decref(doc);
	if (c)
		curl_easy_cleanup(c);
	vig_buf_release(&reply);
	free(body);
	free(csr);
	return err;
}

enum vig_err vig_identity_load(const char *state_dir, struct vig_identity *id, char *errbuf)
{
	char path[VIG_AGENT_PATH_MAX], *text;
	const char *agent_id, *tenant, *server;
	enum vig_err err = VIG_OK;
	json_t *doc;

	memset(id, 0, sizeof(*id));
	vig_paths(state_dir, id);
	snprintf(path, sizeof(path), "%s/agent.json", state_dir);
	if (access(path, F_OK) != 0)
		return vig_errf(errbuf, VIG_ENOTFOUND, "not enrolled: no %s (enrol with --enroll TOKEN)", path);
	text = vig_slurp(path, 64u << 10, errbuf);
	if (!text)
		return VIG_EIO;
	doc = json_loads(text, 0, NULL);
	free(text);
	agent_id = json_string_value(json_object_get(doc, "agent_id"));
	tenant = json_string_value(json_object_get(doc, "tenant"));
	server = json_string_value(json_object_get(doc, "server"));
	if (!agent_id || strlen(agent_id) != 32 || !tenant || strlen(tenant) >= sizeof(id->tenant) ||
	    !server || strlen(server) >= sizeof(id->server)) {
		err = vig_errf(errbuf, VIG_EPARSE, "%s lacks agent_id, tenant or server", path);
		goto out_free;
	}
	snprintf(id->agent_id, sizeof(id->agent_id), "%s", agent_id);
	snprintf(id->tenant, sizeof(id->tenant), "%s", tenant);
	snprintf(id->server, sizeof(id->server), "%s", server);
	if (access(id->key_path, R_OK) != 0 || access(id->cert_path, R_OK) != 0) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "agent.key or agent.crt missing in %s", state_dir);
		goto out_free;
	}
	if (access(id->server_ca_path, R_OK) != 0)
		id->server_ca_path[0] = '\0';
out_free:
	json_decref(doc);
	return err;
}
