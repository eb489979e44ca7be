/*
 * test_query.c - unit tests of the search query parser and its SQLite compiler: accepted and
 * refused queries (with the error column), the AST shape, and the generated SQL with its bound
 * parameters (values, including injection attempts, never reach the SQL text).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/query.h"

static struct vig_query *parse(const char *q, char *errbuf)
{
	return vig_query_parse(q, strlen(q), NULL, errbuf);
}

static void test_accept(void **state)
{
	static const char *ok[] = {
		"", "   ", "bash", "\"two words\"", "process.name:bash", "process.name:\"a b\\\" c\"",
		"process.name:ba*h", "process.name:ba\\*h", "destination.port:4444",
		"destination.port:[1 TO 1024]", "destination.port:{1 TO 1024}", "destination.port:[1 TO *]",
		"destination.port:>=1024", "destination.port:<10", "source.ip:10.0.0.0/8",
		"source.ip:2001:db8::/32", "source.ip:::1", "source.ip:192.168.1.1",
		"@timestamp:>=2026-11-23T00:00:00Z", "a and b", "a AND b or c", "not a", "NOT (a or b)",
		"(a or b) c", "custom.field:xyz", "process.args:-la", "event.id:*", "a:b:c",
		"((((a))))", "host.name:web-01 and not user.name:root",
	};
	char eb[VIG_ERRBUF_SIZE];

	for (size_t i = 0; i < VIG_ARRAY_LEN(ok); i++) {
		eb[0] = '\0';
		struct vig_query *q = parse(ok[i], eb);
		if (!q)
			fail_msg("refused %s: %s", ok[i], eb);
		vig_query_free(q);
	}
}

static void test_reject(void **state)
{
	static const struct {
		const char *q;
		const char *msg;
	} bad[] = {
		{"process.name:bash )", "query: unexpected ')' at column 19"},
		{"(a or b", "query: missing ')' for '(' at column 1"},
		{"a and", "query: unexpected end of query at column 6"},
		{"or a", "query: unexpected 'or' at column 1"},
		{"()", "query: empty parentheses at column 1"},
		{"\"open", "query: unterminated quoted string at column 1"},
		{"destination.port:abc", "query: destination.port needs an integer at column 1"},
		{"destination.port:[1 TO x]", "query: destination.port needs an integer at column 18"},
		{"source.ip:10.0.0.0/99", "query: source.ip needs an IP address or CIDR block at column 1"},
		{"source.ip:10.0.*", "query: wildcards need a text field, source.ip is ip at column 1"},
		{"@timestamp:>yesterday", "query: @timestamp needs an RFC 3339 time or epoch seconds at column 12"},
		{"x:[1 2]", "query: expected 'TO' in range at column 6"},
		{"x:[1 TO 2", "query: unterminated range at column 3"},
		{"process.name:", "query: missing value after ':' at column 1"},
		{"foo\\", "query: dangling escape at column 4"},
		{"bad$name:x", "query: invalid field name at column 1"},
	};
	char eb[VIG_ERRBUF_SIZE];

	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		eb[0] = '\0';
		struct vig_query *q = parse(bad[i].q, eb);
		if (q)
			fail_msg("accepted %s", bad[i].q);
		if (strcmp(eb, bad[i].msg) != 0)
			fail_msg("%s: got '%s' want '%s'", bad[i].q, eb, bad[i].msg);
	}
}

static void test_bounds(void **state)
{
	char eb[VIG_ERRBUF_SIZE];
	char big[VIG_QUERY_MAX_LEN + 2];
	char deep[200];
	struct vig_buf many;
	enum vig_err e;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(vig_query_parse(big, strlen(big), &e, eb));
	assert_int_equal(e, VIG_ETOOBIG);

	memset(deep, '(', 40);
	memcpy(deep + 40, "a", 2);
	assert_null(vig_query_parse(deep, strlen(deep), &e, eb));
	assert_int_equal(e, VIG_ETOOBIG);
	assert_string_equal(eb, "query: nesting deeper than 32 at column 33");

	vig_buf_init(&many, 1 << 20);
	for (int i = 0; i < 257; i++)
		vig_buf_adds(&many, "a ");
	assert_null(vig_query_parse(many.data, many.len, &e, eb));
	assert_int_equal(e, VIG_ETOOBIG);
	vig_buf_release(&many);

	assert_null(vig_query_parse("a\0b", 3, &e, eb));
	assert_int_equal(e, VIG_EPARSE);
}

static void test_ast(void **state)
{
	char eb[VIG_ERRBUF_SIZE];
	struct vig_query *q = parse("a b or not c:[1 TO 5}", eb);

	assert_non_null(q);
	assert_int_equal(q->root->kind, VIG_QN_OR);
	assert_int_equal(q->root->a->kind, VIG_QN_AND);
	assert_int_equal(q->root->a->a->term.op, VIG_QOP_TEXT);
	assert_int_equal(q->root->b->kind, VIG_QN_NOT);
	const struct vig_qterm *t = &q->root->b->a->term;
	assert_int_equal(t->field, -1);
	assert_string_equal(t->ext, "c");
	assert_int_equal(t->op, VIG_QOP_RANGE);
	assert_string_equal(t->lo, "1");
	assert_string_equal(t->hi, "5");
	assert_true(t->lo_incl);
	assert_false(t->hi_incl);
	assert_int_equal(t->column, 12);
	vig_query_free(q);

	q = parse("process.name:a\\*b?c", eb);
	assert_non_null(q);
	assert_int_equal(q->root->term.field, VIG_F_PROCESS_NAME);
	assert_int_equal(q->root->term.op, VIG_QOP_WILDCARD);
	assert_string_equal(q->root->term.value, "a\\*b?c");
	vig_query_free(q);

	q = parse("source.ip:10.1.0.0/16", eb);
	assert_non_null(q);
	assert_int_equal(q->root->term.op, VIG_QOP_CIDR);
	assert_int_equal(q->root->term.ip_lo[12], 10);
	assert_int_equal(q->root->term.ip_hi[14], 255);
	vig_query_free(q);
}

/* Compiles q and returns the SQL text (static buffer) and fills the fixture. */
static struct vig_sql sql;

static const char *compile(const char *qs)
{
	char eb[VIG_ERRBUF_SIZE];
	struct vig_query *q = parse(qs, eb);

	if (!q)
		fail_msg("parse %s: %s", qs, eb);
	vig_sql_release(&sql);
	vig_sql_init(&sql);
	if (vig_query_to_sql(q, &sql, eb) != VIG_OK)
		fail_msg("compile %s: %s", qs, eb);
	vig_query_free(q);
	return sql.text.data;
}

static void test_sql(void **state)
{
	assert_string_equal(compile("process.name:bash"), "process_name IN (SELECT id FROM dict WHERE v = ? COLLATE NOCASE)");
	assert_int_equal(sql.n_params, 1);
	assert_int_equal(sql.params[0].type, VIG_SQLP_TEXT);
	assert_string_equal(sql.params[0].p, "bash");

	assert_string_equal(compile("event.category:process"), "event_category IN (SELECT id FROM dict WHERE v = ?)");
	assert_string_equal(compile("destination.port:4444"), "destination_port = ?");
	assert_int_equal(sql.params[0].type, VIG_SQLP_INT);
	assert_int_equal(sql.params[0].i, 4444);

	assert_string_equal(compile("process.name:ba*_%"), "process_name IN (SELECT id FROM dict WHERE v LIKE ? ESCAPE '\\')");
	assert_string_equal(sql.params[0].p, "ba%\\_\\%");
	assert_string_equal(compile("event.action:ex?c*[x"), "event_action IN (SELECT id FROM dict WHERE v GLOB ?)");
	assert_string_equal(sql.params[0].p, "ex?c*[[]x");

	assert_string_equal(compile("source.ip:10.0.0.0/8"), "(source_ip BETWEEN ? AND ? AND length(source_ip) = 4)");
	assert_int_equal(sql.params[0].type, VIG_SQLP_BLOB);
	assert_int_equal(sql.params[0].n, 4); /* IPv4 is stored as 4 bytes */
	assert_memory_equal(sql.params[0].p, "\x0a\0\0\0", 4);
	assert_memory_equal(sql.params[1].p, "\x0a\xff\xff\xff", 4);
	assert_string_equal(compile("source.ip:10.1.2.3"), "source_ip = ?");
	assert_int_equal(sql.params[0].n, 4);
	assert_string_equal(compile("source.ip:fe80::/10"), "(source_ip BETWEEN ? AND ? AND length(source_ip) = 16)");
	assert_int_equal(sql.params[0].n, 16);
	assert_string_equal(compile("source.ip:::1"), "source_ip = ?");
	assert_int_equal(sql.params[0].n, 16);
	assert_string_equal(compile("source.ip:::/0"),
			    "((source_ip BETWEEN ? AND ? AND length(source_ip) = 4) OR "
			    "(source_ip BETWEEN ? AND ? AND length(source_ip) = 16))");
	assert_int_equal(sql.n_params, 4);

	assert_string_equal(compile("destination.port:[1 TO 1024}"), "(destination_port >= ? AND destination_port < ?)");
	assert_string_equal(compile("not a"), "((message LIKE ? ESCAPE '\\') IS NOT 1)");
	assert_string_equal(sql.params[0].p, "%a%");
	assert_string_equal(compile("file.size:>5"), "json_extract(x,'$.\"file.size\"') > ?");
	assert_string_equal(compile("process.args:-la"),
			    "EXISTS (SELECT 1 FROM json_each(x,'$.\"process.args\"') WHERE value = ? COLLATE NOCASE)");
	assert_string_equal(compile("event.id:0123456789abcdef0123456789abcdef"),
			    "(event_id IN (?, ?) OR (event_id = ? AND event_ingested = "
			    "(SELECT id FROM appends WHERE idbase = ?)))");
	assert_int_equal(sql.params[0].type, VIG_SQLP_BLOB);
	assert_int_equal(sql.params[2].type, VIG_SQLP_INT); /* offset in a store-generated id */
	assert_int_equal(sql.params[2].i, 0x89abcdef);
	assert_int_equal(sql.params[3].n, 12);            /* the append's base */
	assert_string_equal(compile(""), "1");
}

static void test_injection(void **state)
{
	static const char *evil[] = {
		"process.name:\"x' OR 1=1 --\"", "\"'); DROP TABLE ev_20260101; --\"",
		"my.field\\\":x", "weird-field:\"\\\" ) OR 1=1\"", "a'b:c",
	};
	char eb[VIG_ERRBUF_SIZE];

	for (size_t i = 0; i < VIG_ARRAY_LEN(evil); i++) {
		struct vig_query *q = parse(evil[i], eb);
		if (!q)
			continue; /* refusing is also safe */
		vig_sql_release(&sql);
		vig_sql_init(&sql);
		assert_int_equal(vig_query_to_sql(q, &sql, eb), VIG_OK);
		assert_null(strstr(sql.text.data, "1=1"));
		assert_null(strstr(sql.text.data, "DROP"));
		assert_null(strchr(sql.text.data + 0, ';'));
		vig_query_free(q);
	}
	/* An extension field name is a parameter too (as a JSON path), and odd names are refused. */
	assert_null(parse("o'neil:x", eb));
	assert_string_equal(compile("my-field.x:abc"),
			    "(SELECT v = ? COLLATE NOCASE FROM (SELECT json_extract(x, ?) AS v))");
	assert_string_equal(sql.params[1].p, "$.\"my-field.x\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept), cmocka_unit_test(test_reject), cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_ast), cmocka_unit_test(test_sql), cmocka_unit_test(test_injection),
	};
	int rc;

	vig_sql_init(&sql);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	vig_sql_release(&sql);
	return rc;
}
