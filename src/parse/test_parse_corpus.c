/*
 * test_parse_corpus.c - conformance of the parsers over the public corpora in
 * $VIG_SHARED_DIR/data (see SOURCES.md there): for each corpus, the share of records parsed
 * into typed fields must reach 99%, and the reasons of the unparsed ones are printed. Corpora
 * that exist only to find crashes (eve_broken.json, Zeek btest baselines with masked
 * timestamps) must parse without a crash and fail only with a stated reason. Skipped with a
 * message when VIG_SHARED_DIR or a corpus is absent.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../common/vtime.h"
#include "parse.h"

#define MAX_LINE (1u << 20)

struct run {
	uint64_t records;  /* records that should yield events (metadata excluded) */
	uint64_t ok;       /* parsed */
	uint64_t typed;    /* recognised beyond framing (ctx stats) */
	uint64_t failed;   /* refused */
	uint64_t bad_err;  /* failures with an empty error message */
	int printed;       /* failure samples printed */
};

static const char *shared(void)
{
	const char *d = getenv("VIG_SHARED_DIR");
	return d && *d ? d : NULL;
}

/* Parses every line of path (gzip -dc when gz) with parser name into r; false if missing. */
static bool run_file(const char *name, const char *path, bool gz, struct vig_parse_ctx *ctx,
		     struct run *r)
{
	const struct vig_parser *p = vig_parser_find(name);
	char *line = malloc(MAX_LINE), cmd[1200], errbuf[VIG_ERRBUF_SIZE];
	struct vig_arena arena;
	struct vig_event ev;
	FILE *f;

	assert_non_null(p);
	assert_non_null(line);
	if (gz) {
		snprintf(cmd, sizeof(cmd), "gzip -dc '%s' 2>/dev/null", path);
		f = fopen(path, "rb") ? popen(cmd, "r") : NULL;
	} else {
		f = fopen(path, "rb");
	}
	if (!f) {
		free(line);
		return false;
	}
	uint64_t typed0 = ctx->stats[p->id].typed;
	vig_arena_init(&arena, 64 << 10, 8 << 20);
	vig_event_init(&ev, &arena);
	while (fgets(line, MAX_LINE, f)) {
		size_t n = strlen(line);
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		errbuf[0] = '\0';
		enum vig_err rc = p->parse(ctx, line, n, &ev, errbuf);
		if (rc == VIG_ENOTFOUND)
			continue;
		r->records++;
		if (rc == VIG_OK) {
			r->ok++;
			/* Every parsed event has its dataset and the raw record. */
			assert_non_null(vig_event_get(&ev, VIG_F_EVENT_DATASET));
			assert_non_null(vig_event_get(&ev, VIG_F_MESSAGE));
			continue;
		}
		r->failed++;
		if (!errbuf[0])
			r->bad_err++;
		if (r->printed++ < 5)
			printf("  unparsed %s: %s: %.100s\n", strrchr(path, '/') + 1, errbuf, line);
	}
	r->typed += ctx->stats[p->id].typed - typed0;
	if (gz)
		pclose(f);
	else
		fclose(f);
	vig_arena_release(&arena);
	free(line);
	return true;
}

static void report(const char *what, const struct run *r)
{
	printf("corpus %-40s records=%llu parsed=%llu (%.2f%%) typed=%llu (%.2f%%) failed=%llu\n", what,
	       (unsigned long long)r->records, (unsigned long long)r->ok,
	       r->records ? 100.0 * (double)r->ok / (double)r->records : 0.0,
	       (unsigned long long)r->typed,
	       r->records ? 100.0 * (double)r->typed / (double)r->records : 0.0,
	       (unsigned long long)r->failed);
}

static void print_reasons(const struct vig_parse_ctx *ctx, enum vig_parser_id id)
{
	for (int i = 0; i < VIG_PR__COUNT; i++)
		if (ctx->stats[id].failed[i])
			printf("  reason %s: %llu\n", vig_parse_reason_name((enum vig_parse_reason)i),
			       (unsigned long long)ctx->stats[id].failed[i]);
}

/* One corpus file at ≥ min_ok share parsed and ≥ min_typed share typed. */
static void check_file(const char *name, const char *rel, bool gz, double min_ok, double min_typed)
{
	char path[1024];
	struct vig_parse_ctx ctx;
	struct run r = {0};

	if (!shared())
		skip();
	snprintf(path, sizeof(path), "%s/data/%s", shared(), rel);
	vig_parse_ctx_init(&ctx, vig_time_now());
	if (!run_file(name, path, gz, &ctx, &r)) {
		printf("corpus %s absent, skipped\n", rel);
		skip();
	}
	report(rel, &r);
	print_reasons(&ctx, vig_parser_find(name)->id);
	assert_true(r.records > 0);
	assert_int_equal(r.bad_err, 0);
	assert_true((double)r.ok >= min_ok * (double)r.records);
	assert_true((double)r.typed >= min_typed * (double)r.records);
}

static void test_syslog_linux(void **state)
{
	(void)state;
	check_file("syslog", "loghub/Linux/Linux_full.log", false, 0.99, 0.0);
	check_file("syslog", "loghub/Linux/Linux_2k.log", false, 0.99, 0.0);
}

static void test_syslog_openssh(void **state)
{
	(void)state;
	/* sshd content: nearly every line must reach the sshd/PAM sub-parsers. */
	check_file("syslog", "loghub/OpenSSH/OpenSSH_2k.log", false, 0.99, 0.99);
}

static void test_iptables(void **state)
{
	(void)state;
	check_file("iptables", "firewall/iptables/py-fw-log_iptables.log", false, 0.99, 0.99);
	check_file("iptables", "firewall/iptables/iptablogs_iptables.log", false, 0.99, 0.99);
	check_file("iptables", "firewall/iptables/elastic-beats-x-pack/ipv6.log", false, 0.99, 0.99);
	check_file("iptables", "firewall/iptables/elastic-beats-x-pack/ubiquiti.log", false, 0.99, 0.99);
	/* Through the syslog dispatcher the same lines are typed too. */
	check_file("syslog", "firewall/iptables/iptablogs_iptables.log", false, 0.99, 0.99);
}

static void test_apache(void **state)
{
	(void)state;
	check_file("apache", "weblogs/elastic-examples/apache_logs", false, 0.99, 0.99);
	check_file("apache", "loghub/Apache/Apache_2k.log", false, 0.99, 0.99);
}

static void test_suricata(void **state)
{
	(void)state;
	check_file("suricata", "suricata/surevego/eve.json", false, 0.99, 0.99);
	check_file("suricata", "suricata/elastic-integrations/test-eve-small.log", false, 0.99, 0.99);
}

static void test_suricata_broken(void **state)
{
	char path[1024];
	struct vig_parse_ctx ctx;
	struct run r = {0};

	(void)state;
	if (!shared())
		skip();
	snprintf(path, sizeof(path), "%s/data/suricata/surevego/eve_broken.json", shared());
	vig_parse_ctx_init(&ctx, 0);
	if (!run_file("suricata", path, false, &ctx, &r))
		skip();
	report("suricata/surevego/eve_broken.json", &r);
	print_reasons(&ctx, VIG_PARSER_SURICATA);
	assert_true(r.failed > 0);    /* the garbage is refused */
	assert_true(r.ok > 0);        /* the intact lines still parse */
	assert_int_equal(r.bad_err, 0); /* every refusal says why */
}

/* Every file of a directory whose name ends with suffix; each with a fresh context (Zeek
 * header state is per stream). */
static void check_dir(const char *name, const char *rel, const char *suffix, bool gz,
		      double min_ok, bool enforce)
{
	char dir[1024], path[2048];
	struct run total = {0};
	struct dirent *de;
	DIR *d;
	int files = 0;

	if (!shared())
		skip();
	snprintf(dir, sizeof(dir), "%s/data/%s", shared(), rel);
	d = opendir(dir);
	if (!d) {
		printf("corpus %s absent, skipped\n", rel);
		skip();
	}
	while ((de = readdir(d))) {
		size_t ln = strlen(de->d_name), sl = strlen(suffix);
		if (ln < sl || strcmp(de->d_name + ln - sl, suffix) != 0)
			continue;
		struct vig_parse_ctx ctx;
		struct run r = {0};
		r.printed = total.printed; /* samples for the whole directory, not per file */
		vig_parse_ctx_init(&ctx, 0);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_true(run_file(name, path, gz, &ctx, &r));
		total.records += r.records;
		total.ok += r.ok;
		total.typed += r.typed;
		total.failed += r.failed;
		total.bad_err += r.bad_err;
		total.printed = r.printed;
		files++;
	}
	closedir(d);
	printf("  %d files\n", files);
	report(rel, &total);
	assert_true(files > 0);
	assert_int_equal(total.bad_err, 0);
	if (enforce)
		assert_true((double)total.ok >= min_ok * (double)total.records);
}

static void test_zeek(void **state)
{
	(void)state;
	check_file("zeek", "zeek/brimdata-zed/conn.log", false, 0.99, 0.99);
	check_dir("zeek", "zeek/zed-sample-data/zeek-default", ".log.gz", true, 0.99, true);
	check_dir("zeek", "zeek/zed-sample-data/zeek-json", ".json.gz", true, 0.99, true);
}

static void test_zeek_btest(void **state)
{
	(void)state;
	/* Masked timestamps: no rate target, only no crash and stated reasons. */
	check_dir("zeek", "zeek/zeek-btest-baselines", ".log", false, 0.0, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syslog_linux),
		cmocka_unit_test(test_syslog_openssh),
		cmocka_unit_test(test_iptables),
		cmocka_unit_test(test_apache),
		cmocka_unit_test(test_suricata),
		cmocka_unit_test(test_suricata_broken),
		cmocka_unit_test(test_zeek),
		cmocka_unit_test(test_zeek_btest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
