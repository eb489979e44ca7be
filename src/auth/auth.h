/*
 * auth.h - who the caller is and what they may do: roles and permissions, principals and
 * tenancy, Argon2id passwords, first-run setup, users, tenants, API tokens and sessions.
 *
 * Enforcement lives HERE, not only in the HTTP layer: every function that reads or changes
 * users, tenants or tokens takes the calling principal and checks both the permission and
 * the tenant boundary itself. Objects of a tenant the caller cannot see are reported as
 * VIG_ENOTFOUND (indistinguishable from missing); a visible object the caller may not change
 * gives VIG_EPERM. Every state change appends a row to the audit log (audit.h) in the same
 * transaction as the change.
 *
 * Tenancy model (see docs/security.md):
 *   - the provider tenant ("default", is_provider = 1) runs the SOC; its users with a
 *     provider role (admin, tier1, tier2, tier3, detection_engineer) are "provider
 *     principals" and see every tenant;
 *   - provider roles exist only in the provider tenant; customer tenants hold tenant_admin,
 *     customer_viewer and customer_approver users;
 *   - everyone else sees only their own tenant.
 *
 * Times are int64 ns since the epoch. Functions that depend on the clock take `now` so that
 * tests can move time; the server passes vig_time_now().
 */
#ifndef VIG_AUTH_AUTH_H
#define VIG_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/vig.h"
#include "db.h"

/* ---- roles and permissions ------------------------------------------------------------ */

enum vig_role {
	VIG_ROLE_ADMIN,              /* provider: everything */
	VIG_ROLE_TENANT_ADMIN,       /* a tenant's administrator: users, tokens, agents, settings */
	VIG_ROLE_TIER1,              /* provider: triage alerts and incidents */
	VIG_ROLE_TIER2,              /* provider: investigate and request response actions */
	VIG_ROLE_TIER3,              /* provider: SOC manager, rules, approvals, audit */
	VIG_ROLE_DETECTION_ENGINEER, /* provider: rules and hunting */
	VIG_ROLE_CUSTOMER_VIEWER,    /* customer: read-only view of their tenant */
	VIG_ROLE_CUSTOMER_APPROVER,  /* customer: viewer + approves containment (semi-managed) */
	VIG_ROLE_INGEST,             /* a sender (agent, integration): writes its tenant's events only */
	VIG_ROLE__COUNT
};

enum vig_perm {
	VIG_PERM_EVENTS_READ,
	VIG_PERM_EVENTS_WRITE,
	VIG_PERM_ALERTS_READ,
	VIG_PERM_ALERTS_WRITE,
	VIG_PERM_INCIDENTS_READ,
	VIG_PERM_INCIDENTS_WRITE,
	VIG_PERM_RULES_READ,
	VIG_PERM_RULES_WRITE,
	VIG_PERM_AGENTS_READ,
	VIG_PERM_AGENTS_WRITE,
	VIG_PERM_ACTIONS_REQUEST,
	VIG_PERM_ACTIONS_APPROVE,
	VIG_PERM_TENANTS_READ,
	VIG_PERM_TENANTS_WRITE,
	VIG_PERM_USERS_READ,
	VIG_PERM_USERS_WRITE,
	VIG_PERM_TOKENS_READ,
	VIG_PERM_TOKENS_WRITE,
	VIG_PERM_AUDIT_READ,
	VIG_PERM_SETTINGS_WRITE,
	VIG_PERM__COUNT
};

/* Parses a role name ("tier2"); false if unknown. */
bool vig_role_parse(const char *s, enum vig_role *out);
/* Static name of a role ("tier2"); "unknown" for an out-of-range value. */
const char *vig_role_name(enum vig_role role);
/* True for the roles that may exist only in the provider tenant (admin, tier1-3,
 * detection_engineer). */
bool vig_role_is_provider(enum vig_role role);
/* Parses a permission name ("alerts:write"); false if unknown. */
bool vig_perm_parse(const char *s, enum vig_perm *out);
/* Static name of a permission ("alerts:write"); "unknown" for an out-of-range value. */
const char *vig_perm_name(enum vig_perm perm);
/* The static permission table: may a holder of role do perm? */
bool vig_role_can(enum vig_role role, enum vig_perm perm);
/* True when every permission of `inner` is also a permission of `outer`. */
bool vig_role_within(enum vig_role inner, enum vig_role outer);

/* ---- principals and tenancy ----------------------------------------------------------- */

#define VIG_NAME_MAX 64   /* bytes incl. NUL for usernames and tenant ids */

/* The authenticated caller. Built only by vig_auth_token(), vig_auth_session(),
 * vig_auth_login() (or vig_principal_system()); never from client input. */
struct vig_principal {
	int64_t user_id;              /* users.id, 0 if none (token without user, system) */
	int64_t token_id;             /* api_tokens.id when authenticated by token, else 0 */
	char username[VIG_NAME_MAX];  /* user name; for a token without user, the token name */
	char tenant[VIG_NAME_MAX];    /* the caller's tenant id */
	enum vig_role role;           /* role of the user or token */
	bool provider;                /* tenant is the provider AND role is a provider role:
	                                 may see and act on every tenant */
};

/* Fills *out with the built-in "system" principal (provider admin, user_id 0) used by
 * vigild's own jobs. Never hand it to a request. */
void vig_principal_system(struct vig_principal *out);
/* Does p hold perm? (vig_role_can on p->role.) */
bool vig_principal_can(const struct vig_principal *p, enum vig_perm perm);
/* May p see rows of tenant? Provider principals: any tenant; others: their own only. */
bool vig_principal_can_access_tenant(const struct vig_principal *p, const char *tenant);
/* The tenant scope of a query, for the store layer. requested is the client's ?tenant= (or
 * NULL/""). Sets *scope to the single tenant to filter on, or to NULL meaning "every tenant"
 * (only ever for a provider principal that requested none). *scope points into p or
 * requested. VIG_EPERM if requested names a tenant p cannot access. */
enum vig_err vig_principal_scope(const struct vig_principal *p, const char *requested,
				 const char **scope, char *errbuf);

/* ---- configuration ---------------------------------------------------------------------- */

/* Production Argon2id cost: t=3 passes over 19 MiB, 1 lane. Measured on the 2-core reference
 * machine (best of 4, with other builds running): t=3/m=19 MiB 55-100 ms per hash, in the
 * wanted 50-100 ms; t=3/m=64 MiB (RFC 9106's second option) took 550-1050 ms there, too slow
 * for interactive login on such a box. t=3/m=19 MiB is stronger than OWASP's minimum
 * (t=2/m=19 MiB). Raise with the hardware; stored hashes carry their own parameters, so old
 * hashes still verify after a change. */
#define VIG_ARGON2_T_COST 3
#define VIG_ARGON2_M_COST_KIB (19 * 1024)
#define VIG_ARGON2_PARALLELISM 1
#define VIG_PASSWORD_MIN_LEN 10
#define VIG_PASSWORD_MAX_LEN 1024
/* Room for an encoded Argon2id hash ("$argon2id$v=19$m=...,t=...,p=...$salt$hash"). */
#define VIG_PASSWORD_HASH_MAX 160

struct vig_auth_config {
	uint32_t argon2_t_cost;      /* Argon2id passes */
	uint32_t argon2_m_cost_kib;  /* Argon2id memory, KiB */
	uint32_t argon2_parallelism; /* Argon2id lanes */
	int64_t session_ttl_ns;      /* idle time after which a session expires (sliding) */
	int64_t session_max_ns;      /* absolute session lifetime regardless of activity */
	int max_failed_logins;       /* failures in a row before lockout starts */
	int64_t lockout_base_ns;     /* first lockout; doubles with each further failure */
	int64_t lockout_max_ns;      /* longest lockout */
};

/* Production defaults: the VIG_ARGON2_* cost, 12 h sliding sessions (7 days absolute),
 * lockout after 5 failures for 30 s doubling up to 15 min. */
void vig_auth_config_default(struct vig_auth_config *c);
/* The defaults with a cheap Argon2 cost (t=1, 64 KiB) FOR TESTS ONLY: never use it in vigild. */
void vig_auth_config_for_tests(struct vig_auth_config *c);
/* Installs c on db (copied); databases start with vig_auth_config_default(). */
void vig_auth_configure(struct vig_db *db, const struct vig_auth_config *c);

/* ---- passwords and setup ---------------------------------------------------------------- */

/* Hashes password (VIG_PASSWORD_MIN_LEN..VIG_PASSWORD_MAX_LEN bytes) with Argon2id at db's
 * configured cost and a random 16-byte salt into out (VIG_PASSWORD_HASH_MAX bytes, encoded
 * form). VIG_EINVAL for a password out of bounds. */
enum vig_err vig_auth_password_hash(struct vig_db *db, const char *password,
				    char out[VIG_PASSWORD_HASH_MAX], char *errbuf);
/* Verifies password against an encoded Argon2id hash (constant time in the password). */
bool vig_auth_password_verify(const char *encoded, const char *password);

/* True while the database has no users at all: the first admin must be created. */
bool vig_auth_setup_needed(struct vig_db *db);
/* Creates the first admin in the provider tenant when setup is needed and given equals
 * expected (constant-time compare; an empty or NULL expected always refuses).
 * Errors: VIG_EAUTH (wrong setup token), VIG_ECONFLICT (already set up), VIG_EINVAL (bad
 * username/password). Appends audit action "setup". */
enum vig_err vig_auth_setup(struct vig_db *db, const char *given, const char *expected,
			    const char *username, const char *password, char *errbuf);

/* ---- tenants ---------------------------------------------------------------------------- */

enum vig_tenant_mode { VIG_TENANT_FULL, VIG_TENANT_SEMI };

#define VIG_TENANT_NAME_MAX 128
#define VIG_RETENTION_DAYS_DEFAULT 90
#define VIG_RETENTION_DAYS_MAX 36500

struct vig_tenant {
	char id[VIG_NAME_MAX];             /* slug [a-z0-9-]{1,63} */
	char name[VIG_TENANT_NAME_MAX];    /* display name */
	bool is_provider;                  /* the MDR provider's own tenant */
	enum vig_tenant_mode mode;         /* full: provider responds; semi: customer approves */
	int retention_days;                /* event retention */
	int64_t created;                   /* ns */
};

/* Parses "full"/"semi"; false otherwise. */
bool vig_tenant_mode_parse(const char *s, enum vig_tenant_mode *out);
const char *vig_tenant_mode_name(enum vig_tenant_mode m);
/* Is s a valid tenant id ([a-z0-9-]{1,63})? */
bool vig_tenant_id_valid(const char *s);

/* Creates a customer tenant (is_provider = 0). Needs tenants:write and a provider principal.
 * name NULL means the id; retention_days 0 means VIG_RETENTION_DAYS_DEFAULT.
 * Errors: VIG_EPERM, VIG_EINVAL, VIG_EEXIST. */
enum vig_err vig_tenant_create(struct vig_db *db, const struct vig_principal *actor,
			       const char *id, const char *name, enum vig_tenant_mode mode,
			       int retention_days, char *errbuf);
/* Lists tenants visible to actor (tenants:read): all for a provider, else its own.
 * *out is malloc'ed (free()), *n rows, ordered by id. */
enum vig_err vig_tenant_list(struct vig_db *db, const struct vig_principal *actor,
			     struct vig_tenant **out, size_t *n, char *errbuf);
/* Reads one tenant (tenants:read); VIG_ENOTFOUND if missing or not visible. */
enum vig_err vig_tenant_get(struct vig_db *db, const struct vig_principal *actor,
			    const char *id, struct vig_tenant *out, char *errbuf);

/* What vig_tenant_update() changes; NULL / negative members are left alone. */
struct vig_tenant_update {
	const char *name;   /* new display name or NULL */
	int mode;           /* enum vig_tenant_mode or -1 */
	int retention_days; /* 1..VIG_RETENTION_DAYS_MAX or -1 */
};
/* Updates a tenant (tenants:write, provider principal). */
enum vig_err vig_tenant_update(struct vig_db *db, const struct vig_principal *actor,
			       const char *id, const struct vig_tenant_update *u, char *errbuf);

/* ---- users ------------------------------------------------------------------------------ */

struct vig_user {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	char username[VIG_NAME_MAX]; /* unique across all tenants, [A-Za-z0-9._@-]{1,63} */
	enum vig_role role;
	bool disabled;
	int64_t created;             /* ns */
	int64_t last_login;          /* ns, 0 = never */
};

/* Is s a valid username? */
bool vig_username_valid(const char *s);

/* Rules for every user function (checked here):
 *   - users:read / users:write as appropriate, and the target's tenant must be visible;
 *   - a role may be assigned only if it is within the actor's role (vig_role_within), only by
 *     a provider principal if it is a provider role, and provider roles only in the provider
 *     tenant;
 *   - a non-provider actor cannot change a user holding a provider role;
 *   - the last enabled admin cannot be deleted, disabled or demoted (VIG_ECONFLICT). */

/* Creates a user; *id_out (may be NULL) gets the new id. Errors: VIG_EPERM, VIG_ENOTFOUND
 * (tenant missing or invisible), VIG_EINVAL, VIG_EEXIST (username taken). */
enum vig_err vig_user_create(struct vig_db *db, const struct vig_principal *actor,
			     const char *tenant, const char *username, const char *password,
			     enum vig_role role, int64_t *id_out, char *errbuf);
/* Lists users visible to actor (users:read). tenant NULL/"" = every visible tenant, else only
 * that one (VIG_EPERM if not visible). *out is malloc'ed (free()), ordered by id. */
enum vig_err vig_user_list(struct vig_db *db, const struct vig_principal *actor,
			   const char *tenant, struct vig_user **out, size_t *n, char *errbuf);
/* Reads one user (users:read, or the actor itself). */
enum vig_err vig_user_get(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			  struct vig_user *out, char *errbuf);
/* Changes a user's role (users:write). */
enum vig_err vig_user_set_role(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			       enum vig_role role, char *errbuf);
/* Sets a user's password (users:write, or the actor itself) and ends that user's sessions
 * and clears its lockout. */
enum vig_err vig_user_set_password(struct vig_db *db, const struct vig_principal *actor,
				   int64_t id, const char *password, char *errbuf);
/* Disables (true) or re-enables a user (users:write); disabling ends its sessions and makes
 * its tokens fail. */
enum vig_err vig_user_set_disabled(struct vig_db *db, const struct vig_principal *actor,
				   int64_t id, bool disabled, char *errbuf);
/* Deletes a user with its sessions and tokens (users:write); an actor cannot delete itself. */
enum vig_err vig_user_delete(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			     char *errbuf);

/* ---- API tokens ------------------------------------------------------------------------- */

#define VIG_TOKEN_PREFIX "vgt_"
/* "vgt_" + 64 lowercase hex chars (32 random bytes) + NUL. */
#define VIG_TOKEN_STRLEN (4 + 64 + 1)
#define VIG_TOKEN_NAME_MAX 128
/* last_used is written at most this often per token. */
#define VIG_TOKEN_LAST_USED_NS (60LL * 1000000000LL)

struct vig_token {
	int64_t id;
	char tenant[VIG_NAME_MAX];
	int64_t user_id;               /* creating user, 0 if none */
	char name[VIG_TOKEN_NAME_MAX];
	enum vig_role role;
	int64_t created;               /* ns */
	int64_t expires;               /* ns, 0 = never */
	int64_t last_used;             /* ns, 0 = never */
	bool revoked;
};

/* Creates a token in tenant with role (tokens:write; tenant visible; role within the
 * actor's role and valid for the tenant as for users). expires is absolute ns (0 = never,
 * else must be > now). plaintext (VIG_TOKEN_STRLEN bytes) receives the token: it is shown
 * ONCE and only its SHA-256 is stored. *id_out may be NULL. */
enum vig_err vig_token_create(struct vig_db *db, const struct vig_principal *actor,
			      const char *tenant, const char *name, enum vig_role role,
			      int64_t expires, int64_t now, char plaintext[VIG_TOKEN_STRLEN],
			      int64_t *id_out, char *errbuf);
/* Lists tokens visible to actor (tokens:read), never their secrets. tenant as for
 * vig_user_list(). *out is malloc'ed (free()). */
enum vig_err vig_token_list(struct vig_db *db, const struct vig_principal *actor,
			    const char *tenant, struct vig_token **out, size_t *n, char *errbuf);
/* Revokes a token (tokens:write; tenant visible). Revoking twice is VIG_OK. */
enum vig_err vig_token_revoke(struct vig_db *db, const struct vig_principal *actor, int64_t id,
			      char *errbuf);
/* Authenticates a bearer token. VIG_EAUTH if malformed, unknown, revoked, expired or its
 * user is disabled. Updates last_used at most once per VIG_TOKEN_LAST_USED_NS. */
enum vig_err vig_auth_token(struct vig_db *db, const char *plaintext, int64_t now,
			    struct vig_principal *out);

/* ---- sessions --------------------------------------------------------------------------- */

/* 64 lowercase hex chars (32 random bytes) + NUL, for session ids and CSRF tokens. */
#define VIG_SESSION_STRLEN 65

struct vig_session {
	char id[VIG_SESSION_STRLEN];   /* the cookie value; stored only as SHA-256 */
	char csrf[VIG_SESSION_STRLEN]; /* the X-CSRF-Token value */
	int64_t expires;               /* ns; slides forward on use */
};

/* Logs in: checks the password (Argon2id) and the lockout, records the attempt and writes an
 * audit row (login / login_failed). remote (may be NULL) is the client address for the audit
 * row. On success fills *out and *who (either may be NULL).
 * Errors: VIG_EAUTH (unknown user, wrong password, disabled: one message for all),
 * VIG_EBUSY (locked out after repeated failures; try later). */
enum vig_err vig_auth_login(struct vig_db *db, const char *username, const char *password,
			    const char *remote, int64_t now, struct vig_session *out,
			    struct vig_principal *who, char *errbuf);
/* Verifies a session id: fills *who and csrf_out (VIG_SESSION_STRLEN bytes, may be NULL) and
 * slides the expiry. VIG_EAUTH if unknown, expired or the user is disabled. */
enum vig_err vig_auth_session(struct vig_db *db, const char *session_id, int64_t now,
			      struct vig_principal *who, char csrf_out[VIG_SESSION_STRLEN]);
/* Ends a session (unknown ids are VIG_OK: logout is idempotent). */
enum vig_err vig_auth_logout(struct vig_db *db, const char *session_id, char *errbuf);
/* Deletes the sessions that have expired by now (idle past their sliding expiry, or older than
 * the absolute lifetime); *removed (may be NULL) receives how many. Sessions are also refused
 * when presented expired; this keeps the table from growing with abandoned ones. */
enum vig_err vig_auth_sessions_purge(struct vig_db *db, int64_t now, uint64_t *removed,
				     char *errbuf);
/* Constant-time CSRF check: true only if both are non-NULL, of equal length and equal. */
bool vig_auth_csrf_ok(const char *expected, const char *given);

#endif /* VIG_AUTH_AUTH_H */
