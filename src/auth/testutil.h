/*
 * testutil.h - fixtures shared by the cmocka unit tests of the modules that keep their state in
 * the control database (alert, incident, notify, fleet): an in-memory database with two
 * tenants, and principals to act as. Test code only: built as the static library vigauthtest,
 * which links cmocka, and a failure fails the running test.
 */
#ifndef VIG_AUTH_TESTUTIL_H
#define VIG_AUTH_TESTUTIL_H

#include "auth/auth.h"
#include "auth/db.h"

/* The tenants vig_test_db_open() creates: full tenants with 30 days of retention. */
#define VIG_TEST_TENANT_A "tenant-a" /* display name "A" */
#define VIG_TEST_TENANT_B "tenant-b" /* display name "B" */

/* Opens an in-memory control database into *db, fills *sys with the system principal
 * (vig_principal_system()) and creates VIG_TEST_TENANT_A and VIG_TEST_TENANT_B as it. Fails the
 * test on any error. Close with vig_db_close(). */
void vig_test_db_open(struct vig_db **db, struct vig_principal *sys);

/* Sets *p to a principal with only role, tenant and username (NULL: "") filled, every other
 * member zero (no user or token id, not a provider). */
void vig_test_principal(struct vig_principal *p, enum vig_role role, const char *tenant,
			const char *username);

#endif
