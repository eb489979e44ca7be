/*
 * test_ctl.c - unit tests of vigilctl: argument parsing per command, durations and times,
 * the table printer (widths, alignment, ellipsis, UTF-8), NDJSON batching and batch ids,
 * retry delays, API error lines, search columns, JSON paths, credentials, and the real
 * libcurl transport and commands against a tiny scripted HTTP server on 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/vtime.h"
#include "ctl/cmds.h"
#include "ctl/creds.h"
#include "ctl/ctl.h"
#include "ctl/http.h"
#include "ctl/table.h"

/* ---- argument parsing ---- */

#define PARSE(a, errbuf, ...)                                                                \
	({                                                                                   \
		char *argv_[] = {"vigilctl", __VA_ARGS__};                                   \
		vig_ctl_args_parse((int)VIG_ARRAY_LEN(argv_), argv_, (a), (errbuf));        \
	})

static void test_args_commands(void **state)
{
	struct vig_ctl_args a;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(PARSE(&a, err, "status"), VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_STATUS);
	assert_int_equal(a.npos, 0);

	/* Globals before and after the command, --opt=value and --opt value. */
	assert_int_equal(PARSE(&a, err, "--url", "https://h:1", "token", "create", "ci",
			       "--role=tier1", "--expires-in", "7d", "--json", "--timeout=1m"),
			 VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_TOKEN_CREATE);
	assert_string_equal(a.url, "https://h:1");
	assert_true(a.json);
	assert_int_equal(a.timeout_s, 60);
	assert_int_equal(a.npos, 1);
	assert_string_equal(a.pos[0], "ci");
	assert_string_equal(vig_ctl_args_get(&a, "role"), "tier1");
	assert_string_equal(vig_ctl_args_get(&a, "expires-in"), "7d");
	assert_null(vig_ctl_args_get(&a, "tenant"));

	/* setup's --token is the setup token, not the global API token. */
	assert_int_equal(PARSE(&a, err, "setup", "--token", "S", "--username", "admin"), VIG_OK);
	assert_string_equal(vig_ctl_args_get(&a, "token"), "S");
	assert_null(a.token);
	assert_int_equal(PARSE(&a, err, "--token", "vgt_x", "status"), VIG_OK);
	assert_string_equal(a.token, "vgt_x");

	/* Search: query, times, limit; the last occurrence of an option wins. */
	assert_int_equal(PARSE(&a, err, "search", "process.name:bash", "--from", "-1h", "--to",
			       "now", "--limit", "5", "--limit", "7", "--fields", "a,b"),
			 VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_SEARCH);
	assert_string_equal(a.pos[0], "process.name:bash");
	assert_string_equal(vig_ctl_args_get(&a, "limit"), "7");
	assert_string_equal(vig_ctl_args_get(&a, "from"), "-1h");

	/* "--" lets a query start with '-'; "-" is a positional (stdin). */
	assert_int_equal(PARSE(&a, err, "count", "--", "-x"), VIG_OK);
	assert_string_equal(a.pos[0], "-x");
	assert_int_equal(PARSE(&a, err, "ingest", "-"), VIG_OK);
	assert_string_equal(a.pos[0], "-");

	assert_int_equal(PARSE(&a, err, "top", "host.name", "event.action:login", "--size", "3"),
			 VIG_OK);
	assert_int_equal(a.npos, 2);
	assert_int_equal(PARSE(&a, err, "users", "set-role", "7", "tier2"), VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_USERS_SET_ROLE);
	assert_int_equal(PARSE(&a, err, "tenants", "set", "acme", "retention_days=30", "name=A"),
			 VIG_OK);
	assert_int_equal(a.npos, 3);
	assert_int_equal(PARSE(&a, err, "audit", "verify"), VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_AUDIT_VERIFY);
	assert_int_equal(PARSE(&a, err, "login", "--username", "u", "--password-stdin"), VIG_OK);
	assert_string_equal(vig_ctl_args_get(&a, "password-stdin"), "1");
	assert_int_equal(PARSE(&a, err, "alerts", "list", "status=open", "--limit", "3"), VIG_OK);
	assert_int_equal(PARSE(&a, err, "rules", "add", "r.yml"), VIG_OK);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_RULES_ADD);
}

static void test_args_errors(void **state)
{
	struct vig_ctl_args a;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(PARSE(&a, err, "frobnicate"), VIG_EINVAL);
	assert_non_null(strstr(err, "unknown command 'frobnicate'"));
	assert_int_equal(PARSE(&a, err, "token"), VIG_EINVAL);
	assert_non_null(strstr(err, "needs a subcommand"));
	assert_int_equal(PARSE(&a, err, "token", "eat"), VIG_EINVAL);
	assert_non_null(strstr(err, "unknown command 'token eat'"));
	assert_int_equal(PARSE(&a, err, "search"), VIG_EINVAL);
	assert_non_null(strstr(err, "usage: vigilctl search QUERY"));
	assert_int_equal(PARSE(&a, err, "status", "extra"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "token", "revoke"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "search", "q", "--limit", "0"), VIG_EINVAL);
	assert_non_null(strstr(err, "positive integer"));
	assert_int_equal(PARSE(&a, err, "search", "q", "--limit", "12x"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "search", "q", "--from", "yesterday"), VIG_EINVAL);
	assert_non_null(strstr(err, "--from"));
	assert_int_equal(PARSE(&a, err, "search", "q", "--limit"), VIG_EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(PARSE(&a, err, "token", "create", "n", "--expires-in", "soon"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "--json=1", "status"), VIG_EINVAL);
	assert_non_null(strstr(err, "takes no value"));
	assert_int_equal(PARSE(&a, err, "--limit", "5", "search", "q"), VIG_EINVAL);
	assert_non_null(strstr(err, "after the command"));
	assert_int_equal(PARSE(&a, err, "status", "--size", "5"), VIG_EINVAL);
	assert_non_null(strstr(err, "unknown option '--size'"));
	assert_int_equal(PARSE(&a, err, "status", "-x"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "token", "create", "n", "--role", ""), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err, "--timeout", "0", "status"), VIG_EINVAL);
	assert_int_equal(PARSE(&a, err), VIG_EINVAL);
	assert_non_null(strstr(err, "no command"));

	/* --help anywhere wins over missing arguments. */
	assert_int_equal(PARSE(&a, err, "search", "--help"), VIG_OK);
	assert_true(a.help);
	assert_int_equal(a.cmd->id, VIG_CTL_CMD_SEARCH);
	assert_int_equal(PARSE(&a, err, "users", "-h"), VIG_OK);
	assert_true(a.help);
	assert_string_equal(a.group, "users");
}

static void test_usage(void **state)
{
	struct vig_buf b;

	vig_buf_init(&b, 0);
	assert_int_equal(vig_ctl_usage(&b, NULL, NULL), VIG_OK);
	assert_non_null(strstr(b.data, "token create"));
	assert_non_null(strstr(b.data, "audit verify"));
	assert_non_null(strstr(b.data, "--insecure"));
	vig_buf_reset(&b);
	assert_int_equal(vig_ctl_usage(&b, "users", NULL), VIG_OK);
	assert_non_null(strstr(b.data, "users set-role"));
	assert_null(strstr(b.data, "token create"));
	vig_buf_reset(&b);
	assert_int_equal(vig_ctl_usage(&b, "search", NULL), VIG_OK);
	assert_non_null(strstr(b.data, "--fields"));
	vig_buf_reset(&b);
	assert_int_equal(vig_ctl_usage(&b, "nope", NULL), VIG_ENOTFOUND);
	vig_buf_release(&b);
}

/* ---- durations and times ---- */

static void test_duration(void **state)
{
	int64_t ns;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(vig_ctl_parse_duration("30s", &ns, err), VIG_OK);
	assert_int_equal(ns, 30 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_duration("15m", &ns, err), VIG_OK);
	assert_int_equal(ns, 900 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_duration("12h", &ns, err), VIG_OK);
	assert_int_equal(ns, 43200 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_duration("7d", &ns, err), VIG_OK);
	assert_int_equal(ns, 7 * VIG_NS_PER_DAY);
	assert_int_equal(vig_ctl_parse_duration("1h30m", &ns, err), VIG_OK);
	assert_int_equal(ns, 5400 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_duration("2w", &ns, err), VIG_OK);
	assert_int_equal(ns, 14 * VIG_NS_PER_DAY);
	assert_int_equal(vig_ctl_parse_duration("3600", &ns, err), VIG_OK);
	assert_int_equal(ns, 3600 * VIG_NS_PER_SEC);

	static const char *const bad[] = {"", "0", "0s", "5x", "h", "-5m", "5 m", "1.5h", "m5",
					  "99999999999999d", "40000d", "18446744073709551615"};
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		err[0] = '\0';
		assert_int_equal(vig_ctl_parse_duration(bad[i], &ns, err), VIG_EINVAL);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(vig_ctl_parse_duration(NULL, &ns, err), VIG_EINVAL);
}

static void test_time(void **state)
{
	const int64_t now = 1795460700LL * VIG_NS_PER_SEC; /* 2026-11-23T19:05:00Z */
	int64_t ns;
	char err[VIG_ERRBUF_SIZE];

	assert_int_equal(vig_ctl_parse_time("now", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now);
	assert_int_equal(vig_ctl_parse_time("-1h", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now - 3600 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_time("now-15m", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now - 900 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_time("2026-11-23T18:05:00Z", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now - 3600 * VIG_NS_PER_SEC);
	assert_int_equal(vig_ctl_parse_time("2026-11-23T20:05:00+01:00", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now);
	assert_int_equal(vig_ctl_parse_time("1795460700", now, &ns, err), VIG_OK);
	assert_int_equal(ns, now);
	assert_int_equal(vig_ctl_parse_time("yesterday", now, &ns, err), VIG_EINVAL);
	assert_non_null(strstr(err, "bad time 'yesterday'"));
	assert_int_equal(vig_ctl_parse_time("-1x", now, &ns, err), VIG_EINVAL);
	assert_non_null(strstr(err, "bad relative time"));
	assert_int_equal(vig_ctl_parse_time("", now, &ns, err), VIG_EINVAL);
	assert_int_equal(vig_ctl_parse_time("2026-13-01T00:00:00Z", now, &ns, err), VIG_EINVAL);
}

/* ---- table ---- */

static char *render(struct vig_ctl_table *t)
{
	struct vig_buf b;

	vig_buf_init(&b, 0);
	assert_int_equal(vig_ctl_table_render(t, &b), VIG_OK);
	return vig_buf_take(&b, NULL);
}

static void test_table_widths_and_alignment(void **state)
{
	const char *h[] = {"name", "count", "note"};
	struct vig_ctl_table *t = vig_ctl_table_new(3, h, 10);
	char *s;

	assert_non_null(t);
	assert_int_equal(vig_ctl_table_add_row(t, (const char *[]){"sshd", "12", "ok"}), VIG_OK);
	assert_int_equal(vig_ctl_table_add_row(t, (const char *[]){"bash", "7", NULL}), VIG_OK);
	assert_int_equal(vig_ctl_table_add_row(t, (const char *[]){"x", "-3.5", "a\tb\nc"}), VIG_OK);
	assert_int_equal(vig_ctl_table_rows(t), 3);
	s = render(t);
	assert_string_equal(s, "name  count  note\n"
			       "sshd     12  ok\n"
			       "bash      7\n"
			       "x      -3.5  a b c\n");
	free(s);
	vig_ctl_table_free(t);

	/* A column with text is left-aligned even if some cells are numbers. */
	const char *h2[] = {"id", "v"};
	t = vig_ctl_table_new(2, h2, 0);
	vig_ctl_table_add_row(t, (const char *[]){"12", "1"});
	vig_ctl_table_add_row(t, (const char *[]){"abc", "22"});
	s = render(t);
	assert_string_equal(s, "id    v\n12    1\nabc  22\n");
	free(s);
	vig_ctl_table_free(t);

	assert_null(vig_ctl_table_new(0, h, 0));
	assert_null(vig_ctl_table_new(VIG_CTL_TABLE_MAX_COLS + 1, h, 0));
	vig_ctl_table_free(NULL);
}

static void test_table_ellipsis_utf8(void **state)
{
	const char *h[] = {"message", "n"};
	struct vig_ctl_table *t = vig_ctl_table_new(2, h, 8);
	char *s;

	/* 11 columns of text cut to 7 + ellipsis; the é/ö (2 bytes) are never split. */
	vig_ctl_table_add_row(t, (const char *[]){"h\xc3\xa9llo w\xc3\xb6rld", "1"});
	/* Wide characters (2 columns each): 日本語テキスト is 14 columns -> 3 chars + … = 7. */
	vig_ctl_table_add_row(t, (const char *[]){"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x83\x86"
						  "\xe3\x82\xad\xe3\x82\xb9\xe3\x83\x88",
						  "2"});
	vig_ctl_table_add_row(t, (const char *[]){"short", "3"});
	s = render(t);
	assert_string_equal(s, "message   n\n"
			       "h\xc3\xa9llo w\xe2\x80\xa6  1\n"
			       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe2\x80\xa6   2\n"
			       "short     3\n");
	free(s);
	vig_ctl_table_free(t);

	assert_int_equal(vig_ctl_utf8_width("h\xc3\xa9llo", 6), 5);
	assert_int_equal(vig_ctl_utf8_width("e\xcc\x81", 3), 1);       /* e + combining acute */
	assert_int_equal(vig_ctl_utf8_width("\xe6\x97\xa5", 3), 2);     /* wide */
	assert_int_equal(vig_ctl_utf8_width("\xff\xfe", 2), 2);         /* invalid bytes */
	assert_int_equal(vig_ctl_utf8_width("\xe6\x97", 2), 2);         /* truncated sequence */
	assert_int_equal(vig_ctl_utf8_width("\xf0\x9f\x98\x80", 4), 2); /* emoji */
	size_t used;
	assert_int_equal(vig_ctl_utf8_prefix("a\xc3\xa9z", 4, 2, &used), 3);
	assert_int_equal(used, 2);
	assert_int_equal(vig_ctl_utf8_prefix("\xe6\x97\xa5\xe6\x9c\xac", 6, 3, &used), 3);
	assert_int_equal(used, 2);
	assert_int_equal(vig_ctl_utf8_prefix("abc", 3, 0, &used), 0);

	assert_true(vig_ctl_is_number("42"));
	assert_true(vig_ctl_is_number("-0.25"));
	assert_false(vig_ctl_is_number(""));
	assert_false(vig_ctl_is_number("-"));
	assert_false(vig_ctl_is_number("1."));
	assert_false(vig_ctl_is_number("1e5"));
	assert_false(vig_ctl_is_number("10.0.0.1"));
}

/* ---- batching ---- */

static void collect(const char *data, size_t max_lines, size_t max_bytes, char ids[][VIG_CTL_BATCH_ID_LEN],
		    size_t *nlines, unsigned *nbatches)
{
	struct vig_ctl_batcher bt;
	struct vig_ctl_batch b;
	char err[VIG_ERRBUF_SIZE];

	vig_ctl_batcher_init(&bt, data, strlen(data), max_lines, max_bytes);
	vig_ctl_batch_init(&b);
	*nbatches = 0;
	for (;;) {
		assert_int_equal(vig_ctl_batcher_next(&bt, &b, err), VIG_OK);
		if (b.nlines == 0)
			break;
		assert_int_equal(b.index, *nbatches);
		memcpy(ids[*nbatches], b.id, VIG_CTL_BATCH_ID_LEN);
		nlines[(*nbatches)++] = b.nlines;
	}
	vig_ctl_batch_release(&b);
}

static void test_batch_split_and_ids(void **state)
{
	struct vig_buf in;
	char ids[8][VIG_CTL_BATCH_ID_LEN], ids2[8][VIG_CTL_BATCH_ID_LEN];
	size_t nl[8], nl2[8];
	unsigned n, n2;

	vig_buf_init(&in, 0);
	for (int i = 1; i <= 12; i++)
		vig_buf_printf(&in, "{\"message\":\"line %d\"}\n", i);
	collect(in.data, 5, 0, ids, nl, &n);
	assert_int_equal(n, 3);
	assert_int_equal(nl[0], 5);
	assert_int_equal(nl[1], 5);
	assert_int_equal(nl[2], 2);
	/* Deterministic: the same input gives the same ids; ids differ per batch. */
	collect(in.data, 5, 0, ids2, nl2, &n2);
	assert_int_equal(n2, 3);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(ids[i], ids2[i]);
	assert_string_not_equal(ids[0], ids[1]);
	assert_int_equal(strncmp(ids[0], "vgb-", 4), 0);
	assert_int_equal(strlen(ids[0]), 4 + 40 + 2);
	assert_string_equal(ids[2] + 45, "2");
	/* The id is derived from the content hash: one changed byte changes every id. */
	in.data[3] = 'M';
	collect(in.data, 5, 0, ids2, nl2, &n2);
	for (unsigned i = 0; i < n; i++)
		assert_string_not_equal(ids[i], ids2[i]);

	/* The 5000-line default. */
	vig_buf_reset(&in);
	for (int i = 0; i < 12001; i++)
		vig_buf_adds(&in, "{}\n");
	collect(in.data, 0, 0, ids, nl, &n);
	assert_int_equal(n, 3);
	assert_int_equal(nl[0], 5000);
	assert_int_equal(nl[1], 5000);
	assert_int_equal(nl[2], 2001);
	vig_buf_release(&in);

	/* Byte bound: lines of 10 bytes + '\n', 25 bytes per batch -> 2 lines each; a longer
	 * line goes alone. */
	collect("aaaaaaaaaa\nbbbbbbbbbb\ncccccccccc\n0123456789012345678901234567890\nd\n", 100,
		25, ids, nl, &n);
	assert_int_equal(n, 4);
	assert_int_equal(nl[0], 2); /* a, b */
	assert_int_equal(nl[1], 1); /* c: the long line does not fit after it */
	assert_int_equal(nl[2], 1); /* the long line alone */
	assert_int_equal(nl[3], 1); /* d */
}

static void test_batch_blank_lines_and_line_map(void **state)
{
	const char *data = "\n{\"a\":1}\r\n   \n{\"a\":2}\n\n{\"a\":3}"; /* no final newline */
	struct vig_ctl_batcher bt;
	struct vig_ctl_batch b;
	char err[VIG_ERRBUF_SIZE];

	vig_ctl_batcher_init(&bt, data, strlen(data), 2, 0);
	vig_ctl_batch_init(&b);
	assert_int_equal(vig_ctl_batcher_next(&bt, &b, err), VIG_OK);
	assert_int_equal(b.nlines, 2);
	assert_string_equal(b.body.data, "{\"a\":1}\r\n{\"a\":2}\n");
	assert_int_equal(b.line_map[0], 2);
	assert_int_equal(b.line_map[1], 4);
	assert_int_equal(vig_ctl_batcher_next(&bt, &b, err), VIG_OK);
	assert_int_equal(b.nlines, 1);
	assert_string_equal(b.body.data, "{\"a\":3}\n");
	assert_int_equal(b.line_map[0], 6);
	assert_int_equal(vig_ctl_batcher_next(&bt, &b, err), VIG_OK);
	assert_int_equal(b.nlines, 0);
	vig_ctl_batch_release(&b);

	/* Empty and blank-only input: no batch. */
	vig_ctl_batcher_init(&bt, " \n\n", 3, 0, 0);
	vig_ctl_batch_init(&b);
	assert_int_equal(vig_ctl_batcher_next(&bt, &b, err), VIG_OK);
	assert_int_equal(b.nlines, 0);
	vig_ctl_batch_release(&b);
	vig_ctl_batch_release(&b); /* repeatable */
}

/* ---- retry, errors, columns, JSON ---- */

static void test_retry_delay(void **state)
{
	const int64_t now = 1795460700LL * VIG_NS_PER_SEC;

	assert_int_equal(vig_ctl_retry_delay_ms("3", 1, now), 3000);
	assert_int_equal(vig_ctl_retry_delay_ms("0", 4, now), 0);
	assert_int_equal(vig_ctl_retry_delay_ms("99999", 1, now), VIG_CTL_RETRY_MAX_MS);
	assert_int_equal(vig_ctl_retry_delay_ms(NULL, 1, now), 500);
	assert_int_equal(vig_ctl_retry_delay_ms("", 3, now), 2000);
	assert_int_equal(vig_ctl_retry_delay_ms("soon", 2, now), 1000);
	assert_int_equal(vig_ctl_retry_delay_ms(NULL, 30, now), VIG_CTL_RETRY_MAX_MS);
	/* HTTP date 10 s after now; one in the past means now. */
	assert_int_equal(vig_ctl_retry_delay_ms("Mon, 23 Nov 2026 19:05:10 GMT", 1, now), 10000);
	assert_int_equal(vig_ctl_retry_delay_ms("Mon, 23 Nov 2026 19:00:00 GMT", 1, now), 0);
}

static void test_api_error(void **state)
{
	char out[512];
	const char *body = "{\"error\": \"role tier1 may not create tokens\", \"code\":\"eperm\"}";

	vig_ctl_api_error(403, body, strlen(body), out, sizeof(out));
	assert_string_equal(out, "vigilctl: role tier1 may not create tokens (HTTP 403)");
	body = "{\"code\":\"einval\",\"error\":\"bad \\\"q\\\": unexpected ')'\"}";
	vig_ctl_api_error(400, body, strlen(body), out, sizeof(out));
	assert_string_equal(out, "vigilctl: bad \"q\": unexpected ')' (HTTP 400)");
	vig_ctl_api_error(502, "upstream down\nmore", 18, out, sizeof(out));
	assert_string_equal(out, "vigilctl: upstream down (HTTP 502)");
	vig_ctl_api_error(404, "", 0, out, sizeof(out));
	assert_string_equal(out, "vigilctl: not found (HTTP 404)");
	vig_ctl_api_error(500, NULL, 0, out, sizeof(out));
	assert_string_equal(out, "vigilctl: internal server error (HTTP 500)");
	vig_ctl_api_error(401, "<html>", 6, out, sizeof(out));
	assert_string_equal(out, "vigilctl: not authenticated (HTTP 401)");
	body = "{\"error\": 5}";
	vig_ctl_api_error(400, body, strlen(body), out, sizeof(out));
	assert_string_equal(out, "vigilctl: bad request (HTTP 400)");
	/* Truncated body and a tiny output buffer stay in bounds. */
	vig_ctl_api_error(409, "{\"error\":\"unterminated", 22, out, sizeof(out));
	assert_string_equal(out, "vigilctl: unterminated (HTTP 409)");
	vig_ctl_api_error(409, body, strlen(body), out, 8);
	assert_string_equal(out, "vigilct");
}

static void test_search_columns(void **state)
{
	char c[VIG_CTL_MAX_COLS][VIG_CTL_COL_NAME];
	unsigned n;

	n = vig_ctl_search_columns("process.name:bash and destination.port:4444", NULL, c);
	assert_int_equal(n, 6);
	assert_string_equal(c[0], "@timestamp");
	assert_string_equal(c[1], "host.name");
	assert_string_equal(c[2], "event.action");
	assert_string_equal(c[3], "process.name");
	assert_string_equal(c[4], "destination.port");
	assert_string_equal(c[5], "message");
	/* Quoted text is not a field; repeats and base fields are not added twice. */
	n = vig_ctl_search_columns("host.name:a and message:\"x y:z\" or user.name:'q:r' "
				   "network.bytes>=100 host.name:b",
				   NULL, c);
	assert_int_equal(n, 6);
	assert_string_equal(c[3], "message");
	assert_string_equal(c[4], "user.name");
	assert_string_equal(c[5], "network.bytes");
	/* Many fields: capped, the last slot stays message. */
	n = vig_ctl_search_columns("a:1 b:1 c:1 d:1 e:1 f:1 g:1", NULL, c);
	assert_int_equal(n, VIG_CTL_MAX_COLS);
	assert_string_equal(c[VIG_CTL_MAX_COLS - 1], "message");
	n = vig_ctl_search_columns("*", NULL, c);
	assert_int_equal(n, 4);
	n = vig_ctl_search_columns("x:1", "source.ip,,destination.ip", c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "source.ip");
	assert_string_equal(c[1], "destination.ip");
}

static void test_json_path_and_cells(void **state)
{
	json_t *doc = json_loads("{\"host\":{\"name\":\"web1\",\"ip\":[\"10.0.0.1\",\"::1\"]},"
				 "\"event.action\":\"login\",\"process\":{\"parent.name\":\"sshd\"},"
				 "\"n\":42,\"r\":0.5,\"ok\":true,\"nil\":null,\"o\":{\"k\":\"v\"}}",
				 0, NULL);
	char cell[64];

	assert_non_null(doc);
	assert_string_equal(vig_ctl_json_cell(vig_ctl_json_path(doc, "host.name"), cell, sizeof(cell)),
			    "web1");
	assert_string_equal(vig_ctl_json_cell(vig_ctl_json_path(doc, "event.action"), cell,
					      sizeof(cell)),
			    "login");
	assert_string_equal(vig_ctl_json_cell(vig_ctl_json_path(doc, "process.parent.name"), cell,
					      sizeof(cell)),
			    "sshd");
	assert_string_equal(vig_ctl_json_cell(vig_ctl_json_path(doc, "host.ip"), cell, sizeof(cell)),
			    "10.0.0.1,::1");
	assert_string_equal(vig_ctl_json_cell(json_object_get(doc, "n"), cell, sizeof(cell)), "42");
	assert_string_equal(vig_ctl_json_cell(json_object_get(doc, "r"), cell, sizeof(cell)), "0.5");
	assert_string_equal(vig_ctl_json_cell(json_object_get(doc, "ok"), cell, sizeof(cell)), "true");
	assert_string_equal(vig_ctl_json_cell(json_object_get(doc, "nil"), cell, sizeof(cell)), "");
	assert_string_equal(vig_ctl_json_cell(json_object_get(doc, "o"), cell, sizeof(cell)),
			    "{\"k\":\"v\"}");
	assert_null(vig_ctl_json_path(doc, "host.missing"));
	assert_null(vig_ctl_json_path(doc, "n.x"));
	assert_null(vig_ctl_json_path(doc, ""));
	json_decref(doc);

	/* A long string is cut on a UTF-8 boundary. */
	json_t *s = json_string("\xc3\xa9\xc3\xa9\xc3\xa9");
	assert_string_equal(vig_ctl_json_cell(s, cell, 4), "\xc3\xa9");
	json_decref(s);
}

/* ---- credentials and target ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ctl.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static void remove_tree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_creds_roundtrip(void **state)
{
	struct vig_ctl_creds c = {0}, d;
	char path[256], err[VIG_ERRBUF_SIZE];
	struct stat st;
	FILE *f;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/cfg/vigil/credentials", tmpdir);
	assert_int_equal(vig_ctl_creds_load(path, &d, err), VIG_ENOTFOUND);
	snprintf(c.url, sizeof(c.url), "https://vigil.example:8443");
	snprintf(c.token, sizeof(c.token), "vgt_secret");
	snprintf(c.token_id, sizeof(c.token_id), "17");
	c.insecure = true;
	assert_int_equal(vig_ctl_creds_save(path, &c, err), VIG_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/cfg/vigil", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/cfg/vigil/credentials", tmpdir);
	assert_int_equal(vig_ctl_creds_load(path, &d, err), VIG_OK);
	assert_string_equal(d.url, c.url);
	assert_string_equal(d.token, "vgt_secret");
	assert_string_equal(d.token_id, "17");
	assert_string_equal(d.cacert, "");
	assert_true(d.insecure);

	/* A newline in a value is refused rather than written. */
	snprintf(c.token, sizeof(c.token), "a\nurl=https://evil");
	assert_int_equal(vig_ctl_creds_save(path, &c, err), VIG_EINVAL);

	/* Malformed and oversized files. */
	f = fopen(path, "w");
	fputs("# comment\nurl=https://x\nnot a pair\n", f);
	fclose(f);
	assert_int_equal(vig_ctl_creds_load(path, &d, err), VIG_EPARSE);
	assert_non_null(strstr(err, ":3: malformed line"));
	f = fopen(path, "w");
	for (int i = 0; i < 2000; i++)
		fputs("unknown_key=value\n", f);
	fclose(f);
	assert_int_equal(vig_ctl_creds_load(path, &d, err), VIG_EPARSE);
	assert_int_equal(vig_ctl_creds_remove(path, err), VIG_OK);
	assert_int_equal(vig_ctl_creds_remove(path, err), VIG_OK);

	/* The default path follows XDG_CONFIG_HOME, then HOME. */
	setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
	assert_int_equal(vig_ctl_creds_path(path, sizeof(path), err), VIG_OK);
	assert_string_equal(path, "/x/cfg/vigil/credentials");
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", "/home/u", 1);
	assert_int_equal(vig_ctl_creds_path(path, sizeof(path), err), VIG_OK);
	assert_string_equal(path, "/home/u/.config/vigil/credentials");
	remove_tree(tmpdir);
}

static void test_resolve_target(void **state)
{
	struct vig_ctl_args a;
	struct vig_ctl_creds c = {0};
	struct vig_ctl_target t;
	char err[VIG_ERRBUF_SIZE];

	unsetenv("VIGIL_URL");
	unsetenv("VIGIL_TOKEN");
	unsetenv("VIGIL_CACERT");
	unsetenv("VIGIL_INSECURE");
	assert_int_equal(PARSE(&a, err, "status"), VIG_OK);
	assert_int_equal(vig_ctl_resolve_target(&a, NULL, &t, err), VIG_OK);
	assert_string_equal(t.url, VIG_CTL_DEFAULT_URL);
	assert_string_equal(t.token, "");
	assert_false(t.insecure);
	assert_int_equal(t.timeout_s, VIG_CTL_DEFAULT_TIMEOUT_S);

	snprintf(c.url, sizeof(c.url), "https://stored:1/");
	snprintf(c.token, sizeof(c.token), "vgt_stored");
	c.insecure = true;
	assert_int_equal(vig_ctl_resolve_target(&a, &c, &t, err), VIG_OK);
	assert_string_equal(t.url, "https://stored:1/");
	assert_string_equal(t.token, "vgt_stored");
	assert_true(t.insecure);

	/* Another server: the stored token is not sent there. */
	setenv("VIGIL_URL", "https://other:2", 1);
	assert_int_equal(vig_ctl_resolve_target(&a, &c, &t, err), VIG_OK);
	assert_string_equal(t.url, "https://other:2");
	assert_string_equal(t.token, "");
	assert_false(t.insecure);
	setenv("VIGIL_URL", "https://stored:1", 1); /* same server, trailing '/' aside */
	setenv("VIGIL_TOKEN", "vgt_env", 1);
	setenv("VIGIL_INSECURE", "1", 1);
	assert_int_equal(vig_ctl_resolve_target(&a, &c, &t, err), VIG_OK);
	assert_string_equal(t.token, "vgt_env");
	assert_int_equal(PARSE(&a, err, "--token", "vgt_flag", "--url", "http://flag:3",
			       "--timeout", "5s", "status"),
			 VIG_OK);
	assert_int_equal(vig_ctl_resolve_target(&a, &c, &t, err), VIG_OK);
	assert_string_equal(t.url, "http://flag:3");
	assert_string_equal(t.token, "vgt_flag");
	assert_true(t.insecure); /* VIGIL_INSECURE=1 */
	assert_int_equal(t.timeout_s, 5);
	unsetenv("VIGIL_URL");
	unsetenv("VIGIL_TOKEN");
	unsetenv("VIGIL_INSECURE");
}

/* ---- a scripted HTTP server on 127.0.0.1 for the transport and the commands ---- */

#define SRV_MAX 16

struct srv {
	int fd;                         /* listening socket */
	int port;
	unsigned nreplies;              /* scripted replies, one per connection */
	const char *replies[SRV_MAX];   /* full HTTP responses */
	unsigned served;                /* requests answered */
	char requests[SRV_MAX][16384];  /* what each request looked like (head + body) */
	pthread_t thread;
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;

	while (s->served < s->nreplies) {
		int c = accept(s->fd, NULL, NULL);
		char *req = s->requests[s->served];
		size_t len = 0;
		ssize_t got;
		if (c < 0)
			break;
		/* Read the head, then Content-Length bytes of body. */
		for (;;) {
			char *end, *cl;
			got = read(c, req + len, sizeof(s->requests[0]) - 1 - len);
			if (got <= 0)
				break;
			len += (size_t)got;
			req[len] = '\0';
			end = strstr(req, "\r\n\r\n");
			if (!end)
				continue;
			cl = strcasestr(req, "content-length:");
			size_t want = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
			if (len >= (size_t)(end + 4 - req) + want ||
			    len >= sizeof(s->requests[0]) - 1)
				break;
		}
		const char *r = s->replies[s->served];
		if (write(c, r, strlen(r)) < 0)
			break;
		s->served++;
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s->fd, 8), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

static char *reply(const char *status, const char *extra, const char *body)
{
	char *r = NULL;

	assert_true(asprintf(&r, "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
				 "Connection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
			     status, extra, strlen(body), body) > 0);
	return r;
}

static void test_http_retry_and_headers(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	char url[64], err[VIG_ERRBUF_SIZE];
	char *r0 = reply("429 Too Many Requests", "Retry-After: 0\r\n", "{\"error\":\"busy\"}");
	char *r1 = reply("503 Service Unavailable", "Retry-After: 0\r\n", "{\"error\":\"busy\"}");
	char *r2 = reply("200 OK", "", "{\"accepted\":1}");
	struct vig_ctl_response resp;
	const char *hdrs[] = {"X-Vigil-Batch-Id: vgb-abc-0", NULL};

	s->replies[0] = r0;
	s->replies[1] = r1;
	s->replies[2] = r2;
	s->nreplies = 3;
	srv_start(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);
	struct vig_ctl_conn conn = {.url = url, .token = "vgt_t", .timeout_s = 10};
	struct vig_ctl_client *c = vig_ctl_client_new(&conn, err);
	assert_non_null(c);
	vig_ctl_response_init(&resp);
	assert_int_equal(vig_ctl_request_retry(c, "POST", "/api/v1/events", "application/x-ndjson",
					       "{}\n", 3, hdrs, &resp, err),
			 VIG_OK);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.body.data, "{\"accepted\":1}");
	srv_stop(s);
	assert_int_equal(s->served, 3);
	for (int i = 0; i < 3; i++) {
		assert_non_null(strstr(s->requests[i], "POST /api/v1/events HTTP/1.1\r\n"));
		assert_non_null(strstr(s->requests[i], "Authorization: Bearer vgt_t\r\n"));
		assert_non_null(strstr(s->requests[i], "X-Vigil-Batch-Id: vgb-abc-0\r\n"));
		assert_non_null(strstr(s->requests[i], "\r\n\r\n{}\n"));
	}
	vig_ctl_client_free(c);

	/* Nobody listening: a transport error, not a crash. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);
	conn.url = url;
	c = vig_ctl_client_new(&conn, err);
	assert_int_equal(vig_ctl_request(c, "GET", "/api/v1/health", NULL, NULL, 0, NULL, &resp,
					 err),
			 VIG_EIO);
	assert_non_null(strstr(err, "cannot reach"));
	vig_ctl_client_free(c);
	conn.url = "ftp://x";
	assert_null(vig_ctl_client_new(&conn, err));
	assert_non_null(strstr(err, "must start with https://"));
	vig_ctl_response_release(&resp);
	free(r0);
	free(r1);
	free(r2);
	free(s);
}

/* Runs vilgilctl's command line against the scripted server, capturing out and err. */
static int run_cmd(char **out, char **errout, int argc, char **argv)
{
	struct vig_ctl_args a;
	char err[VIG_ERRBUF_SIZE];
	size_t on, en;
	FILE *fo = open_memstream(out, &on), *fe = open_memstream(errout, &en);
	int rc;

	assert_int_equal(vig_ctl_args_parse(argc, argv, &a, err), VIG_OK);
	rc = vig_ctl_run(&a, fo, fe);
	fclose(fo);
	fclose(fe);
	return rc;
}

#define RUN(out, eout, ...)                                                                  \
	({                                                                                   \
		char *argv_[] = {"vigilctl", __VA_ARGS__};                                   \
		run_cmd((out), (eout), (int)VIG_ARRAY_LEN(argv_), argv_);                    \
	})

static void test_commands_against_server(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	char url[64], path[256];
	char *out = NULL, *eout = NULL;
	char *r[6];
	FILE *f;
	int rc;

	make_tmpdir();
	setenv("HOME", tmpdir, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("VIGIL_URL");
	unsetenv("VIGIL_TOKEN");
	snprintf(path, sizeof(path), "%s/in.ndjson", tmpdir);
	f = fopen(path, "w");
	fputs("{\"message\":\"a\"}\n\n{\"message\":\"b\"}\nnot json\n", f);
	fclose(f);
	r[0] = reply("200 OK", "", "{\"accepted\":2,\"rejected\":1,\"duplicate\":false,"
				   "\"errors\":[{\"line\":3,\"error\":\"not a json object\"}]}");
	r[1] = reply("200 OK", "", "{\"events\":[{\"@timestamp\":\"2026-11-23T19:00:00.000Z\","
				   "\"host\":{\"name\":\"web1\"},\"event\":{\"action\":\"exec\"},"
				   "\"process\":{\"name\":\"bash\"},\"message\":\"hello\"}],"
				   "\"count\":1}");
	r[2] = reply("403 Forbidden", "", "{\"error\":\"not allowed to read audit\",\"code\":\"eperm\"}");
	r[3] = reply("200 OK", "", "{\"ok\":false,\"rows\":9,\"first_bad_id\":4,\"reason\":\"hash mismatch\"}");
	r[4] = reply("200 OK", "", "{\"field\":\"host.name\",\"buckets\":[{\"key\":\"web1\",\"count\":12},"
				   "{\"key\":\"db\",\"count\":3}],\"other\":2}");
	for (int i = 0; i < 5; i++)
		s->replies[i] = r[i];
	s->nreplies = 5;
	srv_start(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);

	/* ingest: a rejected line is reported with its input line number; exit 1. */
	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_t", "ingest", path);
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_non_null(strstr(out, "accepted 2, rejected 1, duplicate 0 (1 batches"));
	assert_non_null(strstr(eout, "in.ndjson:4: not a json object"));
	free(out);
	free(eout);

	/* search: a table with the query's fields as columns. */
	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_t", "search",
			 "process.name:bash");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "@timestamp                host.name  event.action  process.name"
				 "  message\n"
				 "2026-11-23T19:00:00.000Z  web1       exec          bash"
				 "          hello\n");
	free(out);
	free(eout);

	/* An API error prints the server's message and the status; exit 1. */
	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_t", "audit", "list");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_string_equal(eout, "vigilctl: not allowed to read audit (HTTP 403)\n");
	free(out);
	free(eout);

	/* audit verify: a broken chain exits 1. */
	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_t", "audit", "verify");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_string_equal(out, "audit chain BROKEN at row 4: hash mismatch (9 rows checked)\n");
	free(out);
	free(eout);

	/* top: buckets plus the rest, counts right-aligned. */
	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_t", "top", "host.name",
			 "--size", "2");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "key      count\nweb1        12\ndb           3\n(other)      2\n");
	free(out);
	free(eout);

	srv_stop(s);
	assert_int_equal(s->served, 5);
	assert_non_null(strstr(s->requests[0], "POST /api/v1/events HTTP/1.1"));
	assert_non_null(strstr(s->requests[0], "X-Vigil-Batch-Id: vgb-"));
	assert_non_null(strstr(s->requests[0], "Content-Type: application/x-ndjson"));
	assert_non_null(strstr(s->requests[0], "{\"message\":\"a\"}\n{\"message\":\"b\"}\nnot json\n"));
	assert_non_null(strstr(s->requests[1], "GET /api/v1/events?q=process.name%3Abash HTTP/1.1"));
	assert_non_null(strstr(s->requests[2], "GET /api/v1/audit?limit=50 "));
	assert_non_null(strstr(s->requests[3], "POST /api/v1/audit/verify "));
	assert_non_null(strstr(s->requests[4], "GET /api/v1/events/top?field=host.name&q=&size=2 "));
	for (int i = 0; i < 5; i++)
		free(r[i]);
	free(s);
	remove_tree(tmpdir);
}

static void test_login_logout_against_server(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	char url[64], path[256], pwfile[256], cmp[512];
	char *out = NULL, *eout = NULL;
	struct vig_ctl_creds c;
	char *r[4];
	FILE *f;
	int rc;

	make_tmpdir();
	setenv("HOME", tmpdir, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("VIGIL_URL");
	unsetenv("VIGIL_TOKEN");
	unsetenv("VIGIL_INSECURE");
	snprintf(pwfile, sizeof(pwfile), "%s/pw", tmpdir);
	f = fopen(pwfile, "w");
	fputs("s3cret pass\n", f);
	fclose(f);
	assert_non_null(freopen(pwfile, "r", stdin));
	r[0] = reply("200 OK", "Set-Cookie: vigil_session=sess1; Path=/; HttpOnly\r\n",
		     "{\"csrf_token\":\"csrf1\",\"user\":{\"username\":\"admin\"}}");
	r[1] = reply("201 Created", "", "{\"id\":5,\"token\":\"vgt_new\",\"name\":\"x\"}");
	r[2] = reply("200 OK", "", "{\"ok\":true}");
	r[3] = reply("200 OK", "", "{\"ok\":true}");
	for (int i = 0; i < 4; i++)
		s->replies[i] = r[i];
	s->nreplies = 4;
	srv_start(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);

	rc = RUN(&out, &eout, "--url", url, "--token", "vgt_ignored", "login", "--username",
		 "admin", "--password-stdin", "--expires-in", "1h");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_non_null(strstr(out, "logged in to"));
	free(out);
	free(eout);
	snprintf(path, sizeof(path), "%s/.config/vigil/credentials", tmpdir);
	assert_int_equal(vig_ctl_creds_load(path, &c, cmp), VIG_OK);
	assert_string_equal(c.url, url);
	assert_string_equal(c.token, "vgt_new");
	assert_string_equal(c.token_id, "5");

	/* logout revokes the stored token with itself and forgets it. */
	rc = RUN(&out, &eout, "logout");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_non_null(strstr(out, "logged out of"));
	free(out);
	free(eout);
	assert_int_equal(vig_ctl_creds_load(path, &c, cmp), VIG_ENOTFOUND);
	srv_stop(s);
	assert_int_equal(s->served, 4);

	/* login: no bearer token, the password in the body; then the token is created with
	 * the session cookie and the CSRF token; then the session ends. */
	assert_non_null(strstr(s->requests[0], "POST /api/v1/login "));
	assert_null(strstr(s->requests[0], "Authorization:"));
	assert_non_null(strstr(s->requests[0], "\"password\":\"s3cret pass\""));
	assert_non_null(strstr(s->requests[1], "POST /api/v1/tokens "));
	assert_non_null(strstr(s->requests[1], "X-CSRF-Token: csrf1\r\n"));
	assert_non_null(strstr(s->requests[1], "Cookie: vigil_session=sess1"));
	assert_non_null(strstr(s->requests[1], "\"expires_in_s\":3600"));
	assert_non_null(strstr(s->requests[2], "POST /api/v1/logout "));
	assert_non_null(strstr(s->requests[3], "DELETE /api/v1/tokens/5 "));
	assert_non_null(strstr(s->requests[3], "Authorization: Bearer vgt_new\r\n"));
	for (int i = 0; i < 4; i++)
		free(r[i]);
	free(s);
	remove_tree(tmpdir);
}

static void test_object_commands_against_server(void **state)
{
	struct srv *s = calloc(1, sizeof(*s));
	char url[64];
	char *out = NULL, *eout = NULL;
	char *r[5];
	int rc;

	unsetenv("VIGIL_URL");
	unsetenv("VIGIL_TOKEN");
	unsetenv("VIGIL_INSECURE");
	setenv("HOME", "/nonexistent-vigil-test-home", 1);
	r[0] = reply("200 OK", "", "{\"id\":\"acme\"}");
	r[1] = reply("200 OK", "", "{\"alerts\":[{\"id\":7,\"severity\":\"high\",\"title\":\"x\","
				   "\"count\":3}]}");
	r[2] = reply("201 Created", "", "{\"id\":9,\"token\":\"vgt_abc\",\"name\":\"ci\"}");
	r[3] = reply("200 OK", "", "{\"count\":1234}");
	r[4] = reply("404 Not Found", "", "{\"error\":\"no such user\",\"code\":\"enotfound\"}");
	for (int i = 0; i < 5; i++)
		s->replies[i] = r[i];
	s->nreplies = 5;
	srv_start(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->port);

	rc = RUN(&out, &eout, "--url", url, "--token", "t", "tenants", "set", "acme",
		 "retention_days=30", "active=true", "name=Acme Corp");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "tenant updated\n");
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "alerts", "list", "status=new",
		 "severity=high&x", "--limit", "3");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "id  severity  title  count\n 7  high      x          3\n");
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "token", "create", "ci", "--role",
		 "tier1", "--expires-in", "2h");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "id:    9\ntoken: vgt_abc\n");
	assert_non_null(strstr(eout, "shown only once"));
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "count", "*", "--from",
		 "2026-11-23T00:00:00Z", "--to", "1795460700");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "1234\n");
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "users", "delete", "a/b");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_string_equal(eout, "vigilctl: no such user (HTTP 404)\n");
	free(out);
	free(eout);
	/* Local failures send nothing: a missing file, an empty input. */
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "ingest", "/nonexistent/x.ndjson");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_non_null(strstr(eout, "cannot open /nonexistent/x.ndjson"));
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "ingest", "/dev/null");
	assert_int_equal(rc, VIG_CTL_EXIT_OK);
	assert_string_equal(out, "accepted 0, rejected 0, duplicate 0 (0 batches, 0 already sent)\n");
	free(out);
	free(eout);
	rc = RUN(&out, &eout, "--url", url, "--token", "t", "rules", "add", "/nonexistent.yml");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	free(out);
	free(eout);
	/* Without any token, nothing is sent. */
	rc = RUN(&out, &eout, "--url", url, "users", "list");
	assert_int_equal(rc, VIG_CTL_EXIT_API);
	assert_non_null(strstr(eout, "not logged in"));
	free(out);
	free(eout);

	srv_stop(s);
	assert_int_equal(s->served, 5);
	assert_non_null(strstr(s->requests[0], "PATCH /api/v1/tenants/acme "));
	assert_non_null(strstr(s->requests[0],
			       "{\"retention_days\":30,\"active\":true,\"name\":\"Acme Corp\"}"));
	assert_non_null(strstr(s->requests[1],
			       "GET /api/v1/alerts?status=new&severity=high%26x&limit=3 "));
	assert_non_null(strstr(s->requests[2], "POST /api/v1/tokens "));
	assert_non_null(strstr(s->requests[2], "\"expires_in_s\":7200"));
	assert_non_null(strstr(s->requests[2], "\"role\":\"tier1\""));
	assert_non_null(strstr(s->requests[3], "GET /api/v1/events/count?q=%2A&from=2026-11-23T00"
					       "%3A00%3A00.000Z&to=2026-11-23T19%3A05%3A00.000Z "));
	assert_non_null(strstr(s->requests[4], "DELETE /api/v1/users/a%2Fb "));
	for (int i = 0; i < 5; i++)
		free(r[i]);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_commands),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_table_widths_and_alignment),
		cmocka_unit_test(test_table_ellipsis_utf8),
		cmocka_unit_test(test_batch_split_and_ids),
		cmocka_unit_test(test_batch_blank_lines_and_line_map),
		cmocka_unit_test(test_retry_delay),
		cmocka_unit_test(test_api_error),
		cmocka_unit_test(test_search_columns),
		cmocka_unit_test(test_json_path_and_cells),
		cmocka_unit_test(test_creds_roundtrip),
		cmocka_unit_test(test_resolve_target),
		cmocka_unit_test(test_http_retry_and_headers),
		cmocka_unit_test(test_commands_against_server),
		cmocka_unit_test(test_login_logout_against_server),
		cmocka_unit_test(test_object_commands_against_server),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
