/*
 * testutil.c - the shared fixtures of testutil.h: the in-memory control database with the two
 * test tenants, and plain principals. Errors fail the running cmocka test.
 */
#include "auth/testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

void vig_test_db_open(struct vig_db **db, struct vig_principal *sys)
{
	char err[VIG_ERRBUF_SIZE] = "";

	assert_int_equal(vig_db_open(":memory:", db, err), VIG_OK);
	vig_principal_system(sys);
	assert_int_equal(vig_tenant_create(*db, sys, VIG_TEST_TENANT_A, "A", VIG_TENANT_FULL, 30, err),
			 VIG_OK);
	assert_int_equal(vig_tenant_create(*db, sys, VIG_TEST_TENANT_B, "B", VIG_TENANT_FULL, 30, err),
			 VIG_OK);
}

void vig_test_principal(struct vig_principal *p, enum vig_role role, const char *tenant,
			const char *username)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	snprintf(p->tenant, sizeof(p->tenant), "%s", tenant);
	snprintf(p->username, sizeof(p->username), "%s", username ? username : "");
}
