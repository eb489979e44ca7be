/*
 * test_config.c - unit tests of vigild's option table, YAML reader, printers, the generated
 * docs/configuration.md, and the TLS certificate generation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/config.h"
#include "server/tls.h"

static void test_defaults(void **state)
{
	struct vig_config c;
	char errbuf[VIG_ERRBUF_SIZE];
	const struct vig_cfg_opt *o;
	size_t n;

	vig_config_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:8443");
	assert_string_equal(c.data_dir, "./data");
	assert_int_equal(c.max_body_bytes, 16 << 20);
	assert_int_equal(c.max_event_bytes, 1 << 20);
	assert_int_equal(c.retention_default_days, 90);
	assert_int_equal(c.retention_interval_s, 3600);
	assert_true(c.metrics_enabled);
	assert_int_equal(vig_config_validate(&c, errbuf), VIG_OK);
	o = vig_config_options(&n);
	assert_true(n >= 16);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(vig_config_set(&c, o[i].name, o[i].def, errbuf), VIG_OK);
		assert_true(strlen(o[i].desc) > 10);
	}
}

static void test_parse_nested(void **state)
{
	const char *y = "listen: \"0.0.0.0:9443\"\n"
			"limits:\n  max_body_bytes: 2MiB\n  max_connections: 10\n"
			"metrics:\n  enabled: no\n"
			"auth:\n  setup_token: abc\n";
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_config c;

	vig_config_defaults(&c);
	assert_int_equal(vig_config_parse(&c, y, strlen(y), errbuf), VIG_OK);
	assert_string_equal(c.listen, "0.0.0.0:9443");
	assert_int_equal(c.max_body_bytes, 2 << 20);
	assert_int_equal(c.max_connections, 10);
	assert_false(c.metrics_enabled);
	assert_string_equal(c.setup_token, "abc");
	assert_int_equal(c.max_event_bytes, 1 << 20); /* untouched */
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *yaml;
		enum vig_err err;
		const char *needle;
	} cases[] = {
		{"listen: x\nbogus: 1\n", VIG_ENOTFOUND, "line 2: unknown option \"bogus\""},
		{"limits:\n  max_body_bytes: 1MiB\n  nope: 3\n", VIG_ENOTFOUND, "line 3: unknown option \"limits.nope\""},
		{"nosection:\n  a: 1\n", VIG_ENOTFOUND, "line 1: unknown option \"nosection\""},
		{"limits:\n  max_body_bytes: lots\n", VIG_EINVAL, "line 2"},
		{"limits:\n  max_connections: 0\n", VIG_EINVAL, "outside"},
		{"metrics:\n  enabled: maybe\n", VIG_EINVAL, "true or false"},
		{"listen: [a, b]\n", VIG_EINVAL, "lists"},
		{"listen: \"unterminated\n", VIG_EPARSE, "config line"},
		{"- a\n- b\n", VIG_EINVAL, "lists"},
		{"just a scalar\n", VIG_EPARSE, "mapping"},
	};
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_config c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		errbuf[0] = '\0';
		vig_config_defaults(&c);
		assert_int_equal(vig_config_parse(&c, cases[i].yaml, strlen(cases[i].yaml), errbuf),
				 cases[i].err);
		if (!strstr(errbuf, cases[i].needle))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errbuf, cases[i].needle);
	}
}

static void test_validate(void **state)
{
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_config c;
	char host[64];
	int port;

	vig_config_defaults(&c);
	snprintf(c.listen, sizeof(c.listen), "nohostport");
	assert_int_equal(vig_config_validate(&c, errbuf), VIG_EINVAL);
	vig_config_defaults(&c);
	snprintf(c.log_level, sizeof(c.log_level), "loud");
	assert_int_equal(vig_config_validate(&c, errbuf), VIG_EINVAL);
	vig_config_defaults(&c);
	snprintf(c.tls_cert, sizeof(c.tls_cert), "/x.crt");
	assert_int_equal(vig_config_validate(&c, errbuf), VIG_EINVAL);
	assert_true(vig_config_split_listen("[::1]:8443", host, sizeof(host), &port));
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8443);
	assert_false(vig_config_split_listen("host:99999", host, sizeof(host), &port));
	assert_false(vig_config_split_listen(":80", host, sizeof(host), &port));
}

/* The printed YAML lists every option and reads back into the same configuration. */
static void test_print_roundtrip(void **state)
{
	struct vig_config a, b;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	const struct vig_cfg_opt *o;
	struct vig_buf out;
	size_t n;

	vig_config_defaults(&a);
	a.max_connections = 77;
	a.metrics_enabled = false;
	snprintf(a.data_dir, sizeof(a.data_dir), "/var/lib/\"odd\" dir");
	vig_buf_init(&out, 1 << 20);
	assert_int_equal(vig_config_print_yaml(&a, &out), VIG_OK);
	o = vig_config_options(&n);
	for (size_t i = 0; i < n; i++) {
		const char *leaf = strrchr(o[i].name, '.');

		assert_non_null(strstr(out.data, leaf ? leaf + 1 : o[i].name));
		assert_non_null(strstr(out.data, o[i].desc));
	}
	vig_config_defaults(&b);
	assert_int_equal(vig_config_parse(&b, out.data, out.len, errbuf), VIG_OK);
	assert_memory_equal(&a, &b, sizeof(a));
	vig_buf_release(&out);
}

/* docs/configuration.md is exactly what the table generates. */
static void test_docs_in_sync(void **state)
{
	const char *src = getenv("VIG_SRC_DIR");
	char path[4096];
	struct vig_buf md;
	char *file;
	FILE *f;
	long len;

	if (!src)
		skip();
	snprintf(path, sizeof(path), "%s/docs/configuration.md", src);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	file = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(file, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	vig_buf_init(&md, 1 << 20);
	assert_int_equal(vig_config_print_markdown(&md), VIG_OK);
	if (strcmp(md.data, file) != 0)
		fail_msg("docs/configuration.md is stale: regenerate with vigild --print-config-markdown");
	vig_buf_release(&md);
	free(file);
}

static void test_tls_generate(void **state)
{
	char dir[] = "/tmp/vig-tls-XXXXXX", cert[256], key[256], errbuf[VIG_ERRBUF_SIZE] = "";
	struct stat st;
	bool gen = false;
	SSL_CTX *ctx;

	assert_non_null(mkdtemp(dir));
	snprintf(cert, sizeof(cert), "%s/tls/server.crt", dir);
	snprintf(key, sizeof(key), "%s/tls/server.key", dir);
	assert_int_equal(vig_tls_ensure_cert(cert, key, &gen, errbuf), VIG_OK);
	assert_true(gen);
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(cert, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vig_tls_ensure_cert(cert, key, &gen, errbuf), VIG_OK);
	assert_false(gen);
	ctx = vig_tls_server_ctx(cert, key, errbuf);
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	SSL_CTX_free(ctx);
	/* a lone key is an error, never overwritten */
	unlink(cert);
	assert_int_equal(vig_tls_ensure_cert(cert, key, &gen, errbuf), VIG_EINVAL);
	assert_non_null(strstr(errbuf, "exists"));
	unlink(key);
	snprintf(cert, sizeof(cert), "%s/tls", dir);
	rmdir(cert);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse_nested),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_docs_in_sync),
		cmocka_unit_test(test_tls_generate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
