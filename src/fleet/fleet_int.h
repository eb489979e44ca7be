/*
 * fleet_int.h - what the files of the fleet module share: the fleet handle, the schema, and
 * small SQL helpers. Not a contract outside src/fleet.
 */
#ifndef VIG_FLEET_INT_H
#define VIG_FLEET_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>

#include "fleet.h"

struct vig_fleet {
	struct vig_db *db;           /* control database (borrowed) */
	struct vig_fleet_config cfg; /* copied at open */
	X509 *ca_cert;               /* the agent CA */
	EVP_PKEY *ca_key;            /* its private key */
	char *ca_pem;                /* ca_cert as PEM */
};

/* Loads DIR/ca.crt + DIR/ca.key, or creates both when both are missing (ca.c). */
enum vig_err vig_fleet_ca_load(struct vig_fleet *f, const char *dir, char *errbuf);
/* Frees the CA members of f. */
void vig_fleet_ca_release(struct vig_fleet *f);

/* Binds a text or NULL. */
void vig_fleet_bind_text(sqlite3_stmt *st, int i, const char *s);
/* Column i as text, "" when NULL. */
const char *vig_fleet_col_text(sqlite3_stmt *st, int i);
/* Copies column i into out (cap bytes). */
void vig_fleet_col_copy(sqlite3_stmt *st, int i, char *out, size_t cap);
/* Steps st once: VIG_OK when it produced a row, VIG_ENOTFOUND when it is done, VIG_EIO on an
 * error. */
enum vig_err vig_fleet_step_row(sqlite3_stmt *st);
/* Time as RFC 3339 JSON string, or JSON null for 0. */
json_t *vig_fleet_json_time(int64_t ns);
/* The agent's tenant ("" if none) and revoked flag; VIG_ENOTFOUND, VIG_EIO. Caller holds the
 * DB lock (h). */
enum vig_err vig_fleet_agent_tenant(sqlite3 *h, const char *agent_id, char tenant[VIG_NAME_MAX],
				    bool *revoked);

#endif
