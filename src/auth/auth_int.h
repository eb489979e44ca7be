/*
 * auth_int.h - internals shared by db.c, auth.c and audit.c (not part of the contract).
 *
 * Locking: every public function takes db->mu for its whole duration (or, around slow
 * Argon2 work, drops it between two short critical sections). Functions named *_locked
 * expect the caller to hold db->mu and, when they write, to have opened a transaction.
 */
#ifndef VIG_AUTH_INT_H
#define VIG_AUTH_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "audit.h"
#include "auth.h"
#include "db.h"
#include "../common/buf.h"

struct vig_db {
	sqlite3 *conn;                               /* the one connection */
	pthread_mutex_t mu;                          /* guards conn and everything below */
	struct vig_auth_config cfg;                  /* vig_auth_configure() */
};

/* Upper bound on rows returned by one user/token/tenant list call. */
#define VIG_AUTH_LIST_MAX 10000

/* Copies the current row of st into row (a struct of the list's type). */
typedef void vig_row_fill_fn(sqlite3_stmt *st, void *row);
/* Runs a list query whose ?1 is the tenant filter (scope; NULL binds NULL = every tenant) and
 * ?2 the row limit (VIG_AUTH_LIST_MAX), and collects each row with fill into a malloc'ed array
 * of row_size-byte elements (*out, *n). The caller has checked permissions and scope; what
 * names the list in errors ("tenants"). */
enum vig_err vig_db_list(struct vig_db *db, const char *sql, const char *scope, size_t row_size,
			 vig_row_fill_fn *fill, const char *what, void **out, size_t *n,
			 char *errbuf);


/* Copies src into dst (size bytes), truncating; always NUL-terminates. */
void vig_auth_copy(char *dst, size_t size, const char *src);
/* Fills a principal from stored columns (provider = tenant_is_provider && provider role). */
void vig_principal_fill(struct vig_principal *p, int64_t user_id, int64_t token_id,
			const char *username, const char *tenant, enum vig_role role,
			bool tenant_is_provider);
/* Reads tenant id into *out; VIG_ENOTFOUND if missing. Caller holds the lock. */
enum vig_err vig_tenant_load_locked(sqlite3 *c, const char *id, struct vig_tenant *out,
				    char *errbuf);
/* May actor give `role` to a user or token of tenant t? VIG_EPERM / VIG_EINVAL otherwise. */
enum vig_err vig_auth_check_assign(const struct vig_principal *actor, const struct vig_tenant *t,
				   enum vig_role role, char *errbuf);
/* Appends the JSON string literal of s (may be NULL -> null) to b. */
void vig_auth_json_str(struct vig_buf *b, const char *s);

#endif
