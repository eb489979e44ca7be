/*
 * test_evidence.c - incident evidence in a real (in-memory) control DB and a real temporary
 * directory: storing content by its SHA-256, one file per content (dedupe), copying a file
 * while checking its expected hash, the custody chain and its audit/timeline rows, detection
 * of a custody row changed, removed in the middle or removed at the end by raw SQL, detection
 * of a stored file changed on disk, the size bound, bad metadata, and tenant isolation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/audit.h"
#include "auth/testutil.h"
#include "incident/evidence.h"
#include "incident/incident.h"

struct fx {
	struct vig_db *db;
	struct vig_evidence *ev;
	struct vig_principal sys, a, b;
	char dir[64];
	int64_t inc_a, inc_a2, inc_b;
};

static int64_t incident(struct fx *f, const struct vig_principal *who, const char *title)
{
	struct vig_inc_new in = {.title = title};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = 0;

	assert_int_equal(vig_inc_create(f->db, who, &in, &id, err), VIG_OK);
	return id;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[VIG_ERRBUF_SIZE];

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a, VIG_ROLE_TIER2, VIG_TEST_TENANT_A, "alice");
	vig_test_principal(&f->b, VIG_ROLE_TIER2, VIG_TEST_TENANT_B, "bob");
	snprintf(f->dir, sizeof(f->dir), "/tmp/vig-evidence-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->ev = vig_evidence_open(f->db, f->dir, 4096, err);
	assert_non_null(f->ev);
	f->inc_a = incident(f, &f->a, "a1");
	f->inc_a2 = incident(f, &f->a, "a2");
	f->inc_b = incident(f, &f->b, "b1");
	*state = f;
	return 0;
}

/* Removes dir/<tenant>/<files> and dir. */
static void rm_tree(const char *dir)
{
	char sub[512], file[1024];
	struct dirent *d, *e;
	DIR *top = opendir(dir), *in;

	while (top && (d = readdir(top))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, d->d_name);
		in = opendir(sub);
		while (in && (e = readdir(in))) {
			snprintf(file, sizeof(file), "%s/%s", sub, e->d_name);
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlink(file);
		}
		if (in)
			closedir(in);
		rmdir(sub);
	}
	if (top)
		closedir(top);
	rmdir(dir);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vig_evidence_free(f->ev);
	vig_db_close(f->db);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static int64_t add(struct fx *f, const struct vig_principal *who, int64_t inc, const char *data,
		   bool *created)
{
	struct vig_evidence_meta m = {.name = "note.txt",
				      .kind = "upload",
				      .media_type = "text/plain",
				      .source = "analyst upload"};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = 0;

	assert_int_equal(
		vig_evidence_add_bytes(f->ev, who, inc, &m, data, strlen(data), &id, created, err),
		VIG_OK);
	return id;
}

static size_t files_in(struct fx *f, const char *tenant)
{
	char sub[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(sub, sizeof(sub), "%s/%s", f->dir, tenant);
	d = opendir(sub);
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static int64_t count(struct fx *f, const char *sql)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	int64_t n = -1;

	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return n;
}

static void exec(struct fx *f, const char *sql)
{
	sqlite3 *h = vig_db_lock(f->db);

	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	vig_db_unlock(f->db);
}

static void assert_chain(struct fx *f, int64_t id, enum vig_err want, int64_t want_bad)
{
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t entries, bad;

	enum vig_err got = vig_evidence_chain_check(f->ev, id, &entries, &bad, err);

	if (got != want)
		print_error("chain check: %s\n", err);
	assert_int_equal(got, want);
	assert_int_equal(bad, want_bad);
}

static void test_store_and_custody(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE], path[1200], head[VIG_AUDIT_HASH_STRLEN];
	json_t *item = NULL, *custody, *list = NULL;
	struct stat sb;
	bool created = false;
	int64_t id = add(f, &f->a, f->inc_a, "hello evidence\n", &created), rows, bad;

	assert_true(created);
	assert_int_equal(vig_evidence_get(f->ev, &f->a, id, &item, err), VIG_OK);
	/* sha256("hello evidence\n") */
	assert_int_equal(strlen(json_string_value(json_object_get(item, "sha256"))), 64);
	assert_int_equal(json_integer_value(json_object_get(item, "size")), 15);
	assert_string_equal(json_string_value(json_object_get(item, "kind")), "upload");
	assert_string_equal(json_string_value(json_object_get(item, "created_by")), "alice");
	custody = json_object_get(item, "custody");
	assert_int_equal(json_array_size(custody), 2);
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(custody, 0), "action")),
		"acquired");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(custody, 1), "action")),
		"attached");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(custody, 0), "prev_hash")),
		"0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(
		json_string_value(json_object_get(json_array_get(custody, 1), "prev_hash")),
		json_string_value(json_object_get(json_array_get(custody, 0), "hash")));
	/* the file: content-addressed, read-only */
	assert_true(vig_evidence_path(f->ev, VIG_TEST_TENANT_A,
				      json_string_value(json_object_get(item, "sha256")), path,
				      sizeof(path)));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0400);
	assert_int_equal(sb.st_size, 15);
	json_decref(item);
	/* listed with its incident; each step is an audit row and a timeline row */
	assert_int_equal(vig_evidence_list(f->ev, &f->a, f->inc_a, &list, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(list, "count")), 1);
	json_decref(list);
	assert_int_equal(count(f, "SELECT count(*) FROM audit_log WHERE object_type = 'evidence'"),
			 2);
	assert_int_equal(
		count(f, "SELECT count(*) FROM incident_timeline WHERE kind LIKE 'evidence.%'"), 2);
	assert_chain(f, id, VIG_OK, 0);
	assert_int_equal(vig_audit_verify(f->db, &rows, &bad, head, err), VIG_OK);
	/* a transfer noted by hand extends the chain */
	assert_int_equal(vig_evidence_custody_note(f->ev, &f->a, id, "transferred",
						   "copy to CERT, case 42", NULL, err),
			 VIG_OK);
	assert_int_equal(vig_evidence_custody_note(f->ev, &f->a, id, "downloaded", "x", NULL, err),
			 VIG_EINVAL);
	assert_int_equal(vig_evidence_custody_note(f->ev, &f->a, id, "transferred", "", NULL, err),
			 VIG_EINVAL);
	assert_chain(f, id, VIG_OK, 0);
}

static void test_dedupe(void **state)
{
	struct fx *f = *state;
	bool created = true;
	int64_t id1 = add(f, &f->a, f->inc_a, "same bytes", NULL);
	int64_t id2 = add(f, &f->a, f->inc_a, "same bytes", &created);
	int64_t id3;

	assert_int_equal(id1, id2); /* the incident already holds it: nothing new */
	assert_false(created);
	id3 = add(f, &f->a, f->inc_a2, "same bytes", &created);
	assert_true(created);
	assert_int_not_equal(id1, id3);
	assert_int_equal(files_in(f, VIG_TEST_TENANT_A), 1); /* one file for both items */
	assert_int_equal(count(f, "SELECT count(*) FROM evidence_custody"), 4);
	add(f, &f->a, f->inc_a, "other bytes", NULL);
	assert_int_equal(files_in(f, VIG_TEST_TENANT_A), 2);
}

static void test_add_file_checks_hash(void **state)
{
	struct fx *f = *state;
	struct vig_evidence_meta m = {
		.name = "collected.bin", .kind = "collected", .source = "action 7"};
	char err[VIG_ERRBUF_SIZE], src[128], sha[65];
	uint8_t md[32];
	int64_t id = 0;
	bool created;
	FILE *fp;

	snprintf(src, sizeof(src), "%s/source.bin", f->dir);
	fp = fopen(src, "w");
	assert_non_null(fp);
	fputs("collected content", fp);
	fclose(fp);
	vig_sha256("collected content", 17, md);
	vig_hex(md, sizeof(md), sha);
	assert_int_equal(vig_evidence_add_file(
				 f->ev, &f->a, f->inc_a, &m, src,
				 "1111111111111111111111111111111111111111111111111111111111111111",
				 &id, &created, err),
			 VIG_EIO);
	assert_non_null(strstr(err, "SHA-256"));
	assert_int_equal(files_in(f, VIG_TEST_TENANT_A), 0); /* nothing kept, no temporary left */
	assert_int_equal(count(f, "SELECT count(*) FROM incident_evidence"), 0);
	assert_int_equal(
		vig_evidence_add_file(f->ev, &f->a, f->inc_a, &m, src, sha, &id, &created, err),
		VIG_OK);
	assert_true(created);
	/* the evidence must belong to the tenant the file came from */
	m.tenant = VIG_TEST_TENANT_B;
	assert_int_equal(
		vig_evidence_add_file(f->ev, &f->sys, f->inc_a, &m, src, sha, &id, &created, err),
		VIG_ECONFLICT);
	unlink(src);
}

static void test_custody_tamper_detected(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE], sql[256];
	int64_t id = add(f, &f->a, f->inc_a, "tamper me", NULL);
	int64_t first = count(f, "SELECT min(id) FROM evidence_custody");
	json_t *out = NULL;

	/* four rows: acquired, attached, transferred, transferred */
	assert_int_equal(
		vig_evidence_custody_note(f->ev, &f->a, id, "transferred", "to A", NULL, err),
		VIG_OK);
	assert_int_equal(
		vig_evidence_custody_note(f->ev, &f->a, id, "transferred", "to B", NULL, err),
		VIG_OK);
	assert_chain(f, id, VIG_OK, 0);

	/* a changed row */
	snprintf(sql, sizeof(sql), "UPDATE evidence_custody SET actor = 'mallory' WHERE id = %lld",
		 (long long)first + 1);
	exec(f, sql);
	assert_chain(f, id, VIG_ECONFLICT, first + 1);
	snprintf(sql, sizeof(sql), "UPDATE evidence_custody SET actor = 'alice' WHERE id = %lld",
		 (long long)first + 1);
	exec(f, sql);
	assert_chain(f, id, VIG_OK, 0);

	/* the newest row removed: only the audit log can tell */
	snprintf(sql, sizeof(sql), "DELETE FROM evidence_custody WHERE id = %lld",
		 (long long)first + 3);
	exec(f, sql);
	assert_chain(f, id, VIG_ECONFLICT, first + 3);

	/* a row in the middle removed */
	snprintf(sql, sizeof(sql), "DELETE FROM evidence_custody WHERE id = %lld",
		 (long long)first + 1);
	exec(f, sql);
	assert_chain(f, id, VIG_ECONFLICT, first + 1);

	/* verify reports it (and records the verification itself) */
	assert_int_equal(vig_evidence_verify(f->ev, &f->a, id, &out, err), VIG_OK);
	assert_false(json_is_true(json_object_get(out, "ok")));
	assert_true(json_is_true(json_object_get(out, "sha256_ok")));
	assert_false(json_is_true(json_object_get(out, "chain_ok")));
	assert_int_equal(json_integer_value(json_object_get(out, "first_bad_entry")), first + 1);
	json_decref(out);
}

static void test_file_tamper_detected(void **state)
{
	struct fx *f = *state;
	char err[VIG_ERRBUF_SIZE], path[1200];
	json_t *item = NULL, *out = NULL;
	int64_t id = add(f, &f->a, f->inc_a, "original", NULL);
	int fd = -1;

	assert_int_equal(vig_evidence_verify(f->ev, &f->a, id, &out, err), VIG_OK);
	assert_true(json_is_true(json_object_get(out, "ok")));
	json_decref(out);
	assert_int_equal(vig_evidence_open_verified(f->ev, &f->a, id, &fd, &item, err), VIG_OK);
	assert_true(fd >= 0);
	close(fd);
	assert_true(vig_evidence_path(f->ev, VIG_TEST_TENANT_A,
				      json_string_value(json_object_get(item, "sha256")), path,
				      sizeof(path)));
	json_decref(item);
	assert_int_equal(
		count(f, "SELECT count(*) FROM evidence_custody WHERE action = 'downloaded'"), 1);

	/* someone with access to the disk rewrites the file */
	assert_int_equal(chmod(path, 0600), 0);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0riginal", 8), 8);
	close(fd);
	assert_int_equal(vig_evidence_verify(f->ev, &f->a, id, &out, err), VIG_OK);
	assert_false(json_is_true(json_object_get(out, "ok")));
	assert_false(json_is_true(json_object_get(out, "sha256_ok")));
	assert_true(json_is_true(json_object_get(out, "chain_ok")));
	json_decref(out);
	assert_int_equal(vig_evidence_open_verified(f->ev, &f->a, id, &fd, &item, err), VIG_EIO);
	assert_non_null(strstr(err, "SHA-256"));
	assert_int_equal(fd, -1);
	assert_null(item);
	assert_int_equal(
		count(f,
		      "SELECT count(*) FROM audit_log WHERE action = 'evidence.integrity_failure'"),
		2);
	/* and a missing file is reported the same way */
	unlink(path);
	assert_int_equal(vig_evidence_open_verified(f->ev, &f->a, id, &fd, &item, err), VIG_EIO);
	assert_non_null(strstr(err, "missing"));
}

static void test_bounds_and_input(void **state)
{
	struct fx *f = *state;
	struct vig_evidence_meta m = {.name = "x", .kind = "upload"};
	char err[VIG_ERRBUF_SIZE], big[5000];
	int64_t id;

	memset(big, 'a', sizeof(big));
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, big, sizeof(big), &id,
						NULL, err),
			 VIG_ETOOBIG);
	assert_int_equal(
		vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, big, 4096, &id, NULL, err),
		VIG_OK);
	m.kind = "photo";
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, "a", 1, &id, NULL, err),
			 VIG_EINVAL);
	m.kind = "upload";
	m.name = "";
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, "a", 1, &id, NULL, err),
			 VIG_EINVAL);
	m.name = "bad\x01name";
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, "a", 1, &id, NULL, err),
			 VIG_EINVAL);
	m.name = "bad\xff utf8";
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, "a", 1, &id, NULL, err),
			 VIG_EINVAL);
	big[300] = '\0';
	m.name = big;
	assert_int_equal(vig_evidence_add_bytes(f->ev, &f->a, f->inc_a, &m, "a", 1, &id, NULL, err),
			 VIG_EINVAL);
	/* a large file copied from disk is bounded too */
	{
		char src[128];
		FILE *fp;

		snprintf(src, sizeof(src), "%s/big.bin", f->dir);
		fp = fopen(src, "w");
		assert_non_null(fp);
		for (int i = 0; i < 2; i++)
			fwrite(big, 1, 3000, fp);
		fclose(fp);
		m.name = "big.bin";
		assert_int_equal(vig_evidence_add_file(f->ev, &f->a, f->inc_a, &m, src, NULL, &id,
						       NULL, err),
				 VIG_ETOOBIG);
		unlink(src);
	}
	assert_int_equal(count(f, "SELECT count(*) FROM incident_evidence"), 1);
}

static void test_tenant_isolation(void **state)
{
	struct fx *f = *state;
	struct vig_evidence_meta m = {.name = "x", .kind = "upload"};
	char err[VIG_ERRBUF_SIZE];
	int64_t id = add(f, &f->a, f->inc_a, "secret of a", NULL), other, entries, bad;
	json_t *out = NULL;
	int fd = -1;

	assert_int_equal(
		vig_evidence_add_bytes(f->ev, &f->b, f->inc_a, &m, "a", 1, &other, NULL, err),
		VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_list(f->ev, &f->b, f->inc_a, &out, err), VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_get(f->ev, &f->b, id, &out, err), VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_verify(f->ev, &f->b, id, &out, err), VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_open_verified(f->ev, &f->b, id, &fd, &out, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_custody_note(f->ev, &f->b, id, "transferred", "x", NULL, err),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_evidence_get(f->ev, &f->a, id + 1000, &out, err), VIG_ENOTFOUND);
	/* nothing was recorded by the refused calls */
	assert_int_equal(vig_evidence_chain_check(f->ev, id, &entries, &bad, err), VIG_OK);
	assert_int_equal(entries, 2);
	/* the provider sees both tenants */
	assert_int_equal(vig_evidence_get(f->ev, &f->sys, id, &out, err), VIG_OK);
	json_decref(out);
	add(f, &f->b, f->inc_b, "secret of a", NULL); /* same content, other tenant: its own file */
	assert_int_equal(files_in(f, VIG_TEST_TENANT_B), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_and_custody, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dedupe, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_file_checks_hash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_custody_tamper_detected, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_file_tamper_detected, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bounds_and_input, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tenant_isolation, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
