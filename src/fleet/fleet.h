/*
 * fleet.h - the server side of the agent fleet (docs/agent-protocol.md): the agent CA that
 * signs agent client certificates, enrolment tokens, the agents registry (heartbeats,
 * inventory, online/offline, revocation) and the response-action queue.
 *
 * State lives in the control database (src/auth/db.h): tables enroll_tokens, agents (created
 * by the control DB's first migration; the fleet keeps its last heartbeat in `data`),
 * agent_inventory and agent_actions, all created with CREATE TABLE IF NOT EXISTS by
 * vig_fleet_open(). Every row carries tenant_id. The CA lives in files (DIR/ca.crt,
 * DIR/ca.key mode 0600).
 *
 * Tenancy: every function called on behalf of a user takes the calling principal and checks
 * the permission and the tenant boundary itself; objects of a tenant the caller cannot see
 * are VIG_ENOTFOUND. Functions called on behalf of an agent take the agent id, which the
 * server has taken from a verified client certificate, and act only on that agent's rows.
 *
 * Action states: queued -> delivered -> succeeded | failed; queued -> cancelled;
 * queued | delivered -> expired (older than action_timeout_s, see vig_fleet_actions_expire()).
 *
 * Threads: a struct vig_fleet may be used from any thread: the control DB serialises access
 * and the CA is read-only after vig_fleet_open(). Times are int64 ns since the epoch.
 */
#ifndef VIG_FLEET_H
#define VIG_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "auth/auth.h"
#include "auth/db.h"
#include "common/buf.h"
#include "common/vig.h"

#define VIG_AGENT_ID_STRLEN 33               /* 32 lowercase hex + NUL */
#define VIG_ENROLL_TOKEN_PREFIX "vge_"
#define VIG_ENROLL_TOKEN_STRLEN (4 + 43 + 1) /* "vge_" + base64url(32 bytes) + NUL */
#define VIG_ENROLL_TOKEN_NAME_MAX 128
#define VIG_ENROLL_MAX_EXPIRES_S (366LL * 86400) /* longest token lifetime */
#define VIG_FLEET_CSR_MAX 16384              /* bytes of a PEM CSR */
#define VIG_FLEET_TEXT_MAX 256               /* hostname, os, kernel, ... stored per agent */
#define VIG_FLEET_HEARTBEAT_MAX (64 * 1024)  /* bytes of one heartbeat document */
#define VIG_FLEET_INVENTORY_MAX (8u << 20)   /* bytes of one inventory document */
#define VIG_FLEET_RESULT_MAX (4u << 20)      /* bytes of an action's result */
#define VIG_FLEET_PARAMS_MAX (256 * 1024)    /* bytes of an action's params (YARA rules) */
#define VIG_FLEET_REASON_MAX 1024
#define VIG_FLEET_ACTIONS_LIST_MAX 1000
#define VIG_FLEET_TAKE_MAX 32                /* actions handed to an agent in one poll */
#define VIG_FLEET_CHUNK_MAX (1u << 20)       /* bytes of one upload chunk */

struct vig_fleet_config {
	int cert_days;             /* validity of agent certificates */
	int64_t heartbeat_s;       /* expected heartbeat interval; offline after 3 missed */
	int64_t action_timeout_s;  /* queued/delivered actions expire after this */
	int64_t max_upload_bytes;  /* largest collected file */
	char collected_dir[1024];  /* root of collected files: DIR/<tenant>/<action id> */
};

struct vig_fleet; /* opaque */

/* Fills c with the defaults (365 days, 30 s, 3600 s, 256 MiB, collected_dir ""). */
void vig_fleet_config_default(struct vig_fleet_config *c);

/* Opens the fleet: creates the tables if missing, loads the CA from ca_dir or creates it
 * (ECDSA P-256, self-signed, CN "Vigil agent CA", 10 years, key file 0600) when both files are
 * missing (one without the other is VIG_EINVAL). NULL on failure with errbuf set. db is
 * borrowed and must outlive the fleet. */
struct vig_fleet *vig_fleet_open(struct vig_db *db, const char *ca_dir,
				 const struct vig_fleet_config *cfg, char *errbuf);
/* Frees the fleet; NULL does nothing. */
void vig_fleet_free(struct vig_fleet *f);
/* The CA certificate (borrowed, valid until vig_fleet_free()). */
X509 *vig_fleet_ca_cert(const struct vig_fleet *f);
/* The CA certificate as PEM text (borrowed). */
const char *vig_fleet_ca_pem(const struct vig_fleet *f);
/* The configuration the fleet was opened with. */
const struct vig_fleet_config *vig_fleet_config(const struct vig_fleet *f);

/* ---- the CA (ca.c) ---- */

/* Signs a PEM PKCS#10 request (n bytes, at most VIG_FLEET_CSR_MAX) whose signature must verify
 * into a client certificate: subject CN=agent_id, O=tenant (the CSR's own subject is ignored),
 * random 128-bit serial, validity days, keyUsage digitalSignature, extendedKeyUsage
 * clientAuth, basicConstraints CA:FALSE, signed SHA-256 by the CA. *cert_pem (malloc'ed)
 * gets the PEM and fingerprint (65 bytes) the SHA-256 of its DER in hex.
 * Errors: VIG_EINVAL (unparsable CSR, bad signature, unsupported key), VIG_EINTERNAL. */
enum vig_err vig_fleet_sign_csr(struct vig_fleet *f, const char *csr_pem, size_t n,
				const char *agent_id, const char *tenant, char **cert_pem,
				char fingerprint[65], char *errbuf);
/* Agent id of a client certificate verified against the CA: CN of the subject when it is 32
 * lowercase hex digits; false otherwise. */
bool vig_fleet_cert_agent_id(X509 *cert, char id[VIG_AGENT_ID_STRLEN]);
/* Is s a well-formed agent id (32 lowercase hex)? */
bool vig_fleet_agent_id_valid(const char *s);

/* ---- enrolment tokens (enroll.c) ---- */

struct vig_enroll_token {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char name[VIG_ENROLL_TOKEN_NAME_MAX];
	int64_t uses;        /* 0 = unlimited */
	int64_t used;        /* enrolments so far */
	int64_t expires;     /* ns */
	int64_t created;     /* ns */
	bool revoked;
	char created_by[VIG_NAME_MAX];
};

/* Creates a token of tenant (agents:write, tenant visible; NULL/"" = the actor's tenant).
 * uses >= 0 (0 = unlimited); expires_in_s in 1..VIG_ENROLL_MAX_EXPIRES_S. token (shown
 * once) receives the secret; only its SHA-256 is stored. *out (may be NULL) gets the row.
 * Errors: VIG_EPERM, VIG_ENOTFOUND (tenant), VIG_EINVAL. */
enum vig_err vig_fleet_token_create(struct vig_fleet *f, const struct vig_principal *actor,
				    const char *tenant, const char *name, int64_t uses,
				    int64_t expires_in_s, int64_t now,
				    char token[VIG_ENROLL_TOKEN_STRLEN], struct vig_enroll_token *out,
				    char *errbuf);
/* Lists tokens visible to actor (agents:read); tenant NULL/"" = every visible tenant.
 * *out malloc'ed (free()), newest first, at most 1000. */
enum vig_err vig_fleet_token_list(struct vig_fleet *f, const struct vig_principal *actor,
				  const char *tenant, struct vig_enroll_token **out, size_t *n,
				  char *errbuf);
/* Revokes a token (agents:write, tenant visible); *out (may be NULL) gets the row after.
 * Revoking twice is VIG_OK. */
enum vig_err vig_fleet_token_revoke(struct vig_fleet *f, const struct vig_principal *actor,
				    int64_t id, struct vig_enroll_token *out, char *errbuf);

/* What an agent sends to enrol. Strings may be NULL except token and csr. */
struct vig_enroll_request {
	const char *token, *csr_pem;
	const char *hostname, *host_id, *os, *kernel, *arch, *version;
};

struct vig_enroll_result {
	char agent_id[VIG_AGENT_ID_STRLEN];
	char tenant[VIG_NAME_MAX];
	int64_t token_id;   /* the token used (also set on a token failure when the token exists) */
	char *cert_pem;     /* malloc'ed: the signed certificate */
};

/* Enrols an agent: checks the token (unknown, revoked, expired or used up: VIG_EAUTH with the
 * reason in errbuf), signs the CSR (VIG_EINVAL), inserts a new agent and consumes one use, in
 * one transaction. On success the caller frees out->cert_pem. */
enum vig_err vig_fleet_enroll(struct vig_fleet *f, const struct vig_enroll_request *req,
			      int64_t now, struct vig_enroll_result *out, char *errbuf);

/* ---- agents (agents.c) ---- */

/* Authenticates an agent by the id and fingerprint of its verified certificate: the agent
 * must exist, not be revoked, and hold that certificate. tenant (VIG_NAME_MAX) gets its
 * tenant. VIG_EAUTH otherwise (reason in errbuf). */
enum vig_err vig_fleet_agent_auth(struct vig_fleet *f, const char *agent_id,
				  const char *fingerprint, char tenant[VIG_NAME_MAX], char *errbuf);
/* Records a heartbeat document (a JSON object of at most VIG_FLEET_HEARTBEAT_MAX bytes
 * encoded): last_seen = now, version, mode ("ebpf"/"fallback"), hostname and isolated from the
 * document, the whole document kept as the last heartbeat. *pending (may be NULL) gets the
 * number of queued actions. VIG_EINVAL for a field of the wrong type. */
enum vig_err vig_fleet_heartbeat(struct vig_fleet *f, const char *agent_id, json_t *hb,
				 int64_t now, int64_t *pending, char *errbuf);
/* Marks the agent seen at now (any authenticated agent request); written at most every 5 s
 * per agent, so that event batches do not each cost a control-DB write. */
enum vig_err vig_fleet_touch(struct vig_fleet *f, const char *agent_id, int64_t now);
/* Stores an inventory document (JSON object text of n bytes, at most
 * VIG_FLEET_INVENTORY_MAX). Its hash is its "hash" member when that is a string, else the
 * SHA-256 of the text; `changed` moves only when the hash differs. *changed (may be NULL)
 * tells whether it did. */
enum vig_err vig_fleet_inventory_put(struct vig_fleet *f, const char *agent_id, const char *doc,
				     size_t n, int64_t now, bool *changed, char *errbuf);
/* The latest inventory of an agent visible to actor (agents:read) as
 * {"agent_id","hash","changed","received","inventory":{...}}. VIG_ENOTFOUND when there is
 * no agent or no inventory. *out is a new reference. */
enum vig_err vig_fleet_inventory_get(struct vig_fleet *f, const struct vig_principal *actor,
				     const char *agent_id, json_t **out, char *errbuf);

struct vig_agent_filter {
	const char *tenant;  /* NULL/"" = every visible tenant */
	const char *status;  /* NULL/"" or online, offline, revoked */
	const char *q;       /* NULL/"" or a substring of hostname or id */
	int limit;           /* 1..1000 */
};
/* Lists agents visible to actor (agents:read) as a JSON array of agent objects (see
 * docs/agent-protocol.md), ordered by hostname then id. *out is a new reference. */
enum vig_err vig_fleet_agent_list(struct vig_fleet *f, const struct vig_principal *actor,
				  const struct vig_agent_filter *flt, int64_t now, json_t **out,
				  char *errbuf);
/* One agent (agents:read) with its last heartbeat and an inventory summary. */
enum vig_err vig_fleet_agent_get(struct vig_fleet *f, const struct vig_principal *actor,
				 const char *agent_id, int64_t now, json_t **out, char *errbuf);
/* Counts every tenant's agents by status at now (for metrics). */
enum vig_err vig_fleet_agent_counts(struct vig_fleet *f, int64_t now, int64_t *online,
				    int64_t *offline, int64_t *revoked);
/* Sums, over every agent not revoked, counter names[i] of its last heartbeat into out[i] (for
 * metrics: each agent's counts restart with it, so the sums are gauges). */
enum vig_err vig_fleet_counter_sums(struct vig_fleet *f, const char *const *names, size_t n, int64_t *out);
/* Revokes an agent (agents:write, visible): its certificate is refused from then on. *tenant
 * (VIG_NAME_MAX, may be NULL) gets its tenant. Revoking twice is VIG_OK. */
enum vig_err vig_fleet_agent_revoke(struct vig_fleet *f, const struct vig_principal *actor,
				    const char *agent_id, int64_t now, char *tenant, char *errbuf);

/* ---- actions (actions.c) ---- */

/* Is type one of the action types of docs/agent-protocol.md? */
bool vig_fleet_action_type_valid(const char *type);
/* Queues an action for an agent visible to actor (actions:request). params is a JSON object
 * (NULL = {}), reason may be NULL. The agent must not be revoked (VIG_ECONFLICT). *out (may
 * be NULL) gets the action object (new reference). */
enum vig_err vig_fleet_action_create(struct vig_fleet *f, const struct vig_principal *actor,
				     const char *agent_id, const char *type, json_t *params,
				     const char *reason, int64_t now, json_t **out, char *errbuf);
/* vig_fleet_action_create() on a connection the caller holds locked (vig_db_lock(), e.g. inside
 * its own transaction, so that the action and the caller's rows commit together). */
enum vig_err vig_fleet_action_create_locked(struct vig_fleet *f, sqlite3 *h,
					    const struct vig_principal *actor, const char *agent_id,
					    const char *type, json_t *params, const char *reason,
					    int64_t now, json_t **out, char *errbuf);
/* Hands the agent its queued actions (at most max, oldest first), moving them to delivered:
 * *out is a JSON array of {"id","type","params","requested_by","created","reason"}. Expires
 * stale actions first. */
enum vig_err vig_fleet_action_take(struct vig_fleet *f, const char *agent_id, int max,
				   int64_t now, json_t **out, char *errbuf);
/* Number of queued actions of an agent. */
int64_t vig_fleet_action_pending(struct vig_fleet *f, const char *agent_id);
/* Records the agent's answer to its action id: status "succeeded" or "failed", result (JSON,
 * may be NULL) and error (may be NULL). VIG_ENOTFOUND if the action is not this agent's,
 * VIG_ECONFLICT unless it is delivered. *tenant (VIG_NAME_MAX, may be NULL) gets its tenant. */
enum vig_err vig_fleet_action_result(struct vig_fleet *f, const char *agent_id, int64_t id,
				     const char *status, json_t *result, const char *error,
				     int64_t now, char *tenant, char *errbuf);
/* Cancels a queued action visible to actor (actions:request); VIG_ECONFLICT in any other
 * state. *out (may be NULL) gets the action after. */
enum vig_err vig_fleet_action_cancel(struct vig_fleet *f, const struct vig_principal *actor,
				     int64_t id, int64_t now, json_t **out, char *errbuf);
/* vig_fleet_action_cancel() on a connection the caller holds locked. */
enum vig_err vig_fleet_action_cancel_locked(struct vig_fleet *f, sqlite3 *h,
					    const struct vig_principal *actor, int64_t id,
					    int64_t now, json_t **out, char *errbuf);
/* One action visible to actor (agents:read): id, tenant, agent_id, type, params, reason,
 * status, requested_by, created, delivered, finished, result, error, file {size, sha256}. */
enum vig_err vig_fleet_action_get(struct vig_fleet *f, const struct vig_principal *actor,
				  int64_t id, json_t **out, char *errbuf);

struct vig_action_filter {
	const char *tenant;   /* NULL/"" = every visible tenant */
	const char *agent_id; /* NULL/"" = any */
	const char *status;   /* NULL/"" = any */
	int limit;            /* 1..VIG_FLEET_ACTIONS_LIST_MAX */
};
/* Lists actions visible to actor (agents:read), newest first, as a JSON array. */
enum vig_err vig_fleet_action_list(struct vig_fleet *f, const struct vig_principal *actor,
				   const struct vig_action_filter *flt, json_t **out,
				   char *errbuf);
/* Moves queued and delivered actions created before now - action_timeout_s to expired;
 * *n (may be NULL) gets how many. */
enum vig_err vig_fleet_actions_expire(struct vig_fleet *f, int64_t now, int64_t *n,
				      char *errbuf);

/* One chunk of a collect action's file from its agent: the action must be this agent's, of
 * type collect and delivered; offset must be the number of bytes received so far
 * (VIG_ECONFLICT otherwise, with the expected offset in *expected). The file grows in
 * collected_dir/<tenant>/<id>.part; with final, sha256_hex must equal the SHA-256 of the
 * whole file (VIG_EINVAL otherwise, and the partial file is discarded), which then becomes
 * collected_dir/<tenant>/<id>. Total size bounded by max_upload_bytes (VIG_ETOOBIG). total is
 * the file's size as the agent announced it (-1: not said), shown with the bytes received as
 * the action's "upload" progress while it is delivered; less than what was sent is VIG_EINVAL. */
enum vig_err vig_fleet_upload_chunk(struct vig_fleet *f, const char *agent_id, int64_t id,
				    int64_t offset, const void *data, size_t n, bool final,
				    const char *sha256_hex, int64_t total, int64_t *expected, char *errbuf);
/* The path and checksum of a collect action's stored file, for an actor allowed to see the
 * action (agents:read). path gets at most cap bytes. VIG_ENOTFOUND when no file. */
enum vig_err vig_fleet_upload_file(struct vig_fleet *f, const struct vig_principal *actor,
				   int64_t id, char *path, size_t cap, char sha256_hex[65],
				   int64_t *size, char *errbuf);

/* ---- agent event batches (batch.c) ---- */

/* Decompresses one zstd frame of n bytes into *out (malloc'ed, NUL-terminated, *out_n bytes).
 * More than max bytes of output is VIG_ETOOBIG (decompression stops there); a corrupt,
 * truncated or multi-frame input is VIG_EINVAL. */
enum vig_err vig_fleet_zstd_decompress(const void *src, size_t n, size_t max, char **out,
				       size_t *out_n, char *errbuf);

#endif /* VIG_FLEET_H */
