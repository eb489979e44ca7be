/*
 * test_fim.c - unit tests of file-integrity monitoring (fim.c) on real files in a temporary
 * directory: the first scan's silent baseline, each kind of change (content, creation, deletion,
 * permissions, owner when root), one report per change, path re-checks, accepting a path and
 * all, a restart with the saved baseline, a corrupt or truncated baseline file rebuilt and
 * counted, the bounds (files, depth), exclusions, glob roots, and the fim_accept action.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "actions.h"
#include "fim.h"

#define MAX_SEEN 64

struct seen {
	char action[40], path[512], sha[65], prev_sha[65], mode[8], prev_mode[8], kind[16];
};

static struct seen g_seen[MAX_SEEN];
static size_t g_n_seen;
static char g_dir[256], g_data[300], g_state[300];
static struct vig_agent_host g_host = { .id = "test-host", .name = "test" };

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void path_of(char *out, size_t cap, const char *rel)
{
	snprintf(out, cap, "%s/%s", g_data, rel);
}

static void write_rel(const char *rel, const char *content)
{
	char p[512];
	FILE *f;

	path_of(p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/vig-fim-XXXXXX");
	if (!mkdtemp(g_dir))
		return -1;
	snprintf(g_data, sizeof(g_data), "%s/data", g_dir);
	snprintf(g_state, sizeof(g_state), "%s/state", g_dir);
	g_n_seen = 0;
	return mkdir(g_data, 0755) || mkdir(g_state, 0700);
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void text_of(const struct vig_event *ev, const char *name, char *out, size_t cap)
{
	const struct vig_val *v = vig_event_get_by_name(ev, name, strlen(name));
	const char *direct = NULL;
	size_t n;

	out[0] = 0;
	if (!v)
		return;
	n = vig_val_text(v, out, cap, &direct);
	if (direct)
		snprintf(out, cap, "%.*s", (int)n, direct);
}

static void record_event(void *ctx, const struct vig_event *ev)
{
	struct seen *s;

	(void)ctx;
	assert_true(g_n_seen < MAX_SEEN);
	s = &g_seen[g_n_seen++];
	text_of(ev, "event.action", s->action, sizeof(s->action));
	text_of(ev, "event.kind", s->kind, sizeof(s->kind));
	text_of(ev, "file.path", s->path, sizeof(s->path));
	text_of(ev, "file.hash.sha256", s->sha, sizeof(s->sha));
	text_of(ev, "vigil.fim.previous.sha256", s->prev_sha, sizeof(s->prev_sha));
	text_of(ev, "file.mode", s->mode, sizeof(s->mode));
	text_of(ev, "vigil.fim.previous.mode", s->prev_mode, sizeof(s->prev_mode));
}

/* Change events (not the scan's state event) since the last call, into *out. */
static size_t changes(struct seen **out)
{
	static struct seen list[MAX_SEEN];
	size_t n = 0;

	for (size_t i = 0; i < g_n_seen; i++)
		if (strcmp(g_seen[i].kind, "event") == 0)
			list[n++] = g_seen[i];
	g_n_seen = 0;
	*out = list;
	return n;
}

static const struct seen *find(struct seen *list, size_t n, const char *action, const char *rel)
{
	char p[512];

	path_of(p, sizeof(p), rel);
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].action, action) == 0 && strcmp(list[i].path, p) == 0)
			return &list[i];
	return NULL;
}

static struct vig_fim *open_fim(struct vig_fim_config *cfg)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_fim *f;

	if (!cfg->n_paths) {
		cfg->paths[0] = g_data;
		cfg->n_paths = 1;
	}
	cfg->hash_bytes_per_s = 1ull << 30;
	f = vig_fim_new(cfg, g_state, &g_host, record_event, NULL, errbuf);
	assert_non_null(f);
	return f;
}

static void scan(struct vig_fim *f)
{
	char errbuf[VIG_ERRBUF_SIZE] = "";

	assert_int_equal(vig_fim_scan(f, false, errbuf), VIG_OK);
}

static void make_tree(void)
{
	char p[512], q[512];

	write_rel("a.conf", "alpha\n");
	write_rel("b.conf", "bravo\n");
	path_of(p, sizeof(p), "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	write_rel("sub/c.conf", "charlie\n");
	path_of(p, sizeof(p), "link");
	path_of(q, sizeof(q), "a.conf");
	assert_int_equal(symlink(q, p), 0);
}

static void test_baseline_and_changes(void **state)
{
	struct vig_fim_config cfg = { 0 };
	struct vig_fim_counters c;
	struct vig_fim *f;
	const struct seen *s;
	struct seen *list;
	char p[512], old_sha[65];
	size_t n;

	(void)state;
	make_tree();
	f = open_fim(&cfg);
	scan(f);
	assert_int_equal(changes(&list), 0); /* the first scan is the baseline */
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 4);
	assert_int_equal(c.scans, 1);

	write_rel("a.conf", "alpha changed\n");
	path_of(p, sizeof(p), "b.conf");
	assert_int_equal(chmod(p, 0600), 0);
	write_rel("d.conf", "delta\n");
	path_of(p, sizeof(p), "sub/c.conf");
	assert_int_equal(unlink(p), 0);
	scan(f);
	n = changes(&list);
	assert_int_equal(n, 4);
	s = find(list, n, "fim_modified", "a.conf");
	assert_non_null(s);
	assert_int_equal(strlen(s->sha), 64);
	assert_int_equal(strlen(s->prev_sha), 64);
	assert_string_not_equal(s->sha, s->prev_sha);
	snprintf(old_sha, sizeof(old_sha), "%s", s->prev_sha);
	s = find(list, n, "fim_permissions_changed", "b.conf");
	assert_non_null(s);
	assert_string_equal(s->mode, "0600");
	assert_string_equal(s->prev_mode, "0644");
	s = find(list, n, "fim_created", "d.conf");
	assert_non_null(s);
	assert_string_equal(s->prev_sha, "");
	s = find(list, n, "fim_deleted", "sub/c.conf");
	assert_non_null(s);
	assert_int_equal(strlen(s->sha), 64);

	scan(f); /* each change is reported once */
	assert_int_equal(changes(&list), 0);

	if (geteuid() == 0) {
		path_of(p, sizeof(p), "d.conf");
		assert_int_equal(chown(p, 1, 1), 0);
		scan(f);
		n = changes(&list);
		assert_int_equal(n, 1);
		assert_non_null(find(list, n, "fim_owner_changed", "d.conf"));
	}

	/* a second write to a.conf still reports the accepted state as previous */
	write_rel("a.conf", "alpha changed twice\n");
	scan(f);
	n = changes(&list);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].prev_sha, old_sha);
	vig_fim_free(f);
}

static void test_check_path_and_accept(void **state)
{
	struct vig_fim_config cfg = { 0 };
	char errbuf[VIG_ERRBUF_SIZE] = "", p[512], accepted_sha[65];
	struct vig_fim_counters c;
	struct vig_fim *f;
	struct seen *list;
	size_t n, acc = 0;

	(void)state;
	make_tree();
	f = open_fim(&cfg);
	scan(f);
	changes(&list);

	write_rel("a.conf", "rewritten\n");
	path_of(p, sizeof(p), "a.conf");
	assert_int_equal(vig_fim_check_path(f, p, errbuf), VIG_OK);
	n = changes(&list);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].action, "fim_modified");
	snprintf(accepted_sha, sizeof(accepted_sha), "%s", list[0].sha);
	assert_int_equal(vig_fim_check_path(f, p, errbuf), VIG_OK);
	assert_int_equal(changes(&list), 0);
	/* paths outside the roots are ignored */
	assert_int_equal(vig_fim_check_path(f, "/etc/hostname-not-watched", errbuf), VIG_OK);
	assert_int_equal(changes(&list), 0);

	assert_int_equal(vig_fim_accept(f, p, &acc, errbuf), VIG_OK);
	assert_int_equal(acc, 1);
	write_rel("a.conf", "after accept\n");
	assert_int_equal(vig_fim_check_path(f, p, errbuf), VIG_OK);
	n = changes(&list);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].prev_sha, accepted_sha);

	/* a deleted file: accepting forgets it */
	path_of(p, sizeof(p), "b.conf");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(vig_fim_check_path(f, p, errbuf), VIG_OK);
	n = changes(&list);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].action, "fim_deleted");
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 4);
	assert_int_equal(vig_fim_accept(f, NULL, &acc, errbuf), VIG_OK);
	assert_int_equal(acc, 4);
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 3);
	assert_int_equal(vig_fim_accept(f, "/nonexistent/x", &acc, errbuf), VIG_ENOTFOUND);
	/* a directory accepts the entries below it */
	path_of(p, sizeof(p), "sub");
	assert_int_equal(vig_fim_accept(f, p, &acc, errbuf), VIG_OK);
	assert_int_equal(acc, 1);
	vig_fim_free(f);
}

static void test_restart(void **state)
{
	struct vig_fim_config cfg = { 0 };
	struct vig_fim_counters c;
	struct vig_fim *f;
	struct seen *list;
	char p[512];
	size_t n;

	(void)state;
	make_tree();
	f = open_fim(&cfg);
	scan(f);
	changes(&list);
	vig_fim_free(f);

	/* changed while the agent was down */
	write_rel("sub/c.conf", "changed offline\n");
	path_of(p, sizeof(p), "a.conf");
	assert_int_equal(unlink(p), 0);
	cfg = (struct vig_fim_config){ 0 };
	f = open_fim(&cfg);
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 4);
	assert_int_equal(c.baseline_corrupt, 0);
	scan(f);
	n = changes(&list);
	assert_int_equal(n, 2);
	assert_non_null(find(list, n, "fim_modified", "sub/c.conf"));
	assert_non_null(find(list, n, "fim_deleted", "a.conf"));
	vig_fim_free(f);

	/* and once more: nothing new to say */
	cfg = (struct vig_fim_config){ 0 };
	f = open_fim(&cfg);
	scan(f);
	assert_int_equal(changes(&list), 0);
	vig_fim_free(f);
}

static void corrupt_with(const char *how)
{
	char p[512];
	struct stat st;
	FILE *fp;

	snprintf(p, sizeof(p), "%s/fim/baseline.ndjson", g_state);
	if (strcmp(how, "truncate") == 0) {
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(truncate(p, st.st_size / 2), 0);
		return;
	}
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(how, fp);
	fclose(fp);
}

static void test_corrupt_baseline(void **state)
{
	static const char *const hows[] = {
		"truncate",
		"not json at all\n",
		"{\"vigil_fim_baseline\":1,\"roots\":[],\"files\":0}\n{\"sha256\":\"00\"}\n",
	};
	struct vig_fim_config cfg = { 0 };
	struct vig_fim_counters c;
	struct vig_fim *f;
	struct seen *list;

	(void)state;
	make_tree();
	for (size_t i = 0; i < VIG_ARRAY_LEN(hows); i++) {
		cfg = (struct vig_fim_config){ 0 };
		f = open_fim(&cfg);
		scan(f);
		vig_fim_free(f);
		corrupt_with(hows[i]);
		cfg = (struct vig_fim_config){ 0 };
		f = open_fim(&cfg);
		vig_fim_counters(f, &c);
		assert_int_equal(c.baseline_corrupt, 1);
		assert_int_equal(c.files, 0);
		changes(&list);
		scan(f); /* rebuilt silently */
		assert_int_equal(changes(&list), 0);
		vig_fim_counters(f, &c);
		assert_int_equal(c.files, 4);
		vig_fim_free(f);
		cfg = (struct vig_fim_config){ 0 };
		f = open_fim(&cfg); /* the rebuilt file reads back */
		vig_fim_counters(f, &c);
		assert_int_equal(c.baseline_corrupt, 0);
		assert_int_equal(c.files, 4);
		vig_fim_free(f);
	}
}

static void test_bounds_and_exclusions(void **state)
{
	struct vig_fim_config cfg = { 0 };
	struct vig_fim_counters c;
	struct vig_fim *f;
	struct seen *list;
	char p[512];

	(void)state;
	make_tree();
	write_rel("noise.log", "x\n");
	path_of(p, sizeof(p), "sub/deeper");
	assert_int_equal(mkdir(p, 0755), 0);
	write_rel("sub/deeper/e.conf", "echo\n");

	cfg.exclude[cfg.n_exclude++] = "*.log";
	cfg.max_depth = 1; /* data/ and its files, not sub/ */
	f = open_fim(&cfg);
	scan(f);
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 3); /* a.conf, b.conf, link */
	assert_int_equal(c.truncated, 1);
	/* a truncated scan reports no deletions */
	path_of(p, sizeof(p), "b.conf");
	assert_int_equal(unlink(p), 0);
	changes(&list);
	scan(f);
	assert_int_equal(changes(&list), 0);
	vig_fim_free(f);

	cfg = (struct vig_fim_config){ 0 };
	cfg.max_files = 2;
	snprintf(p, sizeof(p), "%s/fim/baseline.ndjson", g_state);
	assert_int_equal(unlink(p), 0);
	f = open_fim(&cfg);
	scan(f);
	vig_fim_counters(f, &c);
	assert_true(c.files <= 2);
	assert_int_equal(c.truncated, 1);
	vig_fim_free(f);
}

static void test_glob_root(void **state)
{
	struct vig_fim_config cfg = { 0 };
	char pattern[512], p[512];
	struct vig_fim_counters c;
	struct vig_fim *f;
	struct seen *list;
	size_t n;

	(void)state;
	path_of(p, sizeof(p), "cron.d");
	assert_int_equal(mkdir(p, 0755), 0);
	write_rel("cron.d/job", "* * * * * root true\n");
	write_rel("crontab", "# table\n");
	write_rel("other", "not matched\n");
	path_of(pattern, sizeof(pattern), "cron*");
	cfg.paths[cfg.n_paths++] = pattern;
	f = open_fim(&cfg);
	scan(f);
	vig_fim_counters(f, &c);
	assert_int_equal(c.files, 2);
	write_rel("cron.daily", "new script\n");
	write_rel("other", "changed, not watched\n");
	changes(&list);
	scan(f);
	n = changes(&list);
	assert_int_equal(n, 1);
	assert_non_null(find(list, n, "fim_created", "cron.daily"));
	vig_fim_free(f);
}

static void test_accept_action(void **state)
{
	struct vig_fim_config cfg = { 0 };
	struct vig_action_env env = { .state_dir = g_state };
	char errbuf[VIG_ERRBUF_SIZE] = "", p[512];
	json_t *params, *result = NULL;
	struct vig_fim *f;
	struct seen *list;

	(void)state;
	make_tree();
	assert_int_equal(vig_action_run(&env, "a1", "fim_accept", NULL, &result, errbuf), VIG_EUNSUPPORTED);
	f = open_fim(&cfg);
	env.fim = f;
	scan(f);
	write_rel("a.conf", "changed\n");
	scan(f);
	changes(&list);

	path_of(p, sizeof(p), "a.conf");
	params = json_pack("{s:s}", "path", p);
	assert_int_equal(vig_action_run(&env, "a2", "fim_accept", params, &result, errbuf), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(result, "accepted")), 1);
	assert_string_equal(json_string_value(json_object_get(result, "path")), p);
	json_decref(result);
	json_decref(params);

	params = json_pack("{s:s}", "path", "relative/path");
	assert_int_equal(vig_action_run(&env, "a3", "fim_accept", params, &result, errbuf), VIG_EINVAL);
	json_decref(params);
	params = json_pack("{s:i}", "all", 1);
	assert_int_equal(vig_action_run(&env, "a4", "fim_accept", params, &result, errbuf), VIG_EINVAL);
	json_decref(params);
	assert_int_equal(vig_action_run(&env, "a5", "fim_accept", NULL, &result, errbuf), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(result, "accepted")), 4);
	json_decref(result);
	vig_fim_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_baseline_and_changes, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_check_path_and_accept, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_restart, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_corrupt_baseline, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_bounds_and_exclusions, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_glob_root, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_accept_action, setup_dir, teardown_dir),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
