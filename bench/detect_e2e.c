/*
 * detect_e2e.c - vig-detect-e2e: end-to-end detection throughput on a syslog corpus, the
 * pipeline vigild runs per event: parse and normalise (src/parse, auto-detected format), match
 * every loaded Sigma rule (src/detect), feed the matches into the correlation engine
 * (src/detect/correlate.h) and append the events to the SQLite event store in batches.
 *
 * Prints events per CPU-second of the whole pipeline, and of each stage alone measured in the
 * same run on the same lines (parse only; parse + detect + correlate; parse + store) so the
 * share of each stage is visible. CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID): the
 * pipeline is single-threaded here, as it is on vigild's ingest writer thread.
 *
 * Usage: vig-detect-e2e [-r RULES_DIR]... [-s STORE_DIR] FILE
 *   RULES_DIR (repeatable) is read recursively for *.yml; rules that do not load are counted.
 *   STORE_DIR (default: a new directory under /tmp, removed at the end) receives the events.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/arena.h"
#include "detect/correlate.h"
#include "detect/detect.h"
#include "parse/parse.h"
#include "store/evstore.h"

#define BATCH 5000
#define MAX_DIRS 8

static struct vig_sigma_ruleset *G_rs;
static size_t G_load_failed;

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_rule *r;
	size_t n = strlen(path);

	(void)sb;
	(void)ftw;
	if (type != FTW_F || n < 4 || (strcmp(path + n - 4, ".yml") != 0 && strcmp(path + n - 5, ".yaml") != 0))
		return 0;
	if (strstr(path, "/tests/")) /* test-event files of rules/ */
		return 0;
	r = vig_sigma_load_file(path, NULL, err);
	if (!r) {
		G_load_failed++;
		return 0;
	}
	if (vig_sigma_ruleset_add(G_rs, r) != VIG_OK)
		G_load_failed++;
	return 0;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct lines {
	char *data;
	size_t *off, *len;
	size_t n;
};

static int read_lines(const char *path, struct lines *L)
{
	FILE *f = fopen(path, "rb");
	long sz;
	size_t cap = 0;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto fail;
	L->data = malloc((size_t)sz + 1);
	if (!L->data || fread(L->data, 1, (size_t)sz, f) != (size_t)sz)
		goto fail;
	fclose(f);
	L->data[sz] = '\n';
	for (size_t i = 0, start = 0; i <= (size_t)sz; i++) {
		if (L->data[i] != '\n')
			continue;
		if (i > start) {
			if (L->n == cap) {
				cap = cap ? cap * 2 : 65536;
				L->off = realloc(L->off, cap * sizeof(*L->off));
				L->len = realloc(L->len, cap * sizeof(*L->len));
				if (!L->off || !L->len)
					return -1;
			}
			L->off[L->n] = start;
			L->len[L->n] = i - start;
			L->n++;
		}
		start = i + 1;
	}
	return 0;
fail:
	if (f)
		fclose(f);
	return -1;
}

struct stage {
	bool detect, store;
};

struct run {
	uint64_t parsed, failed, matches, fired, stored;
	double cpu;
};

static int on_fire(void *ctx, const struct vig_corr_fire *f)
{
	struct run *r = ctx;

	(void)f;
	r->fired++;
	return 0;
}

struct match_ctx {
	struct vig_corr *corr;
	const struct vig_event *ev;
	struct run *run;
};

static int on_match(void *arg, const struct vig_sigma_rule *rule)
{
	struct match_ctx *m = arg;

	m->run->matches++;
	if (m->corr && vig_corr_rule_used(m->corr, rule))
		vig_corr_feed(m->corr, rule, "default", m->ev, on_fire, m->run, NULL);
	return 0;
}

static int run_pipeline(const struct lines *L, const struct stage *st, const struct vig_detect_engine *eng,
			struct vig_corr *corr, struct vig_evstore *store, struct run *out)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_parse_ctx pctx;
	struct vig_detect_scratch *scratch = NULL;
	struct vig_arena arena;
	struct vig_event *evs = calloc(BATCH, sizeof(*evs));
	struct vig_event **ptrs = calloc(BATCH, sizeof(*ptrs));
	size_t nb = 0;
	double t0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	vig_parse_ctx_init(&pctx, 0);
	vig_arena_init(&arena, 1u << 20, 1u << 30);
	if (!evs || !ptrs)
		goto out;
	if (st->detect && !(scratch = vig_detect_scratch_new(eng, err))) {
		fprintf(stderr, "scratch: %s\n", err);
		goto out;
	}
	t0 = cpu_now();
	for (size_t i = 0; i < L->n; i++) {
		struct vig_event *ev = &evs[nb];

		vig_event_init(ev, &arena);
		if (vig_parse_auto(&pctx, L->data + L->off[i], L->len[i], ev, NULL, err) != VIG_OK) {
			out->failed++;
			continue;
		}
		out->parsed++;
		if (vig_event_set_cstr(ev, VIG_F_TENANT_ID, "default") != VIG_OK)
			goto out;
		if (st->detect) {
			struct match_ctx m = {corr, ev, out};

			if (vig_detect_match(eng, scratch, ev, on_match, &m, NULL) != VIG_OK)
				goto out;
		}
		ptrs[nb++] = ev;
		if (nb == BATCH || i + 1 == L->n) {
			if (st->store) {
				bool dup;

				if (vig_evstore_append(store, ptrs, nb, NULL, &dup, err) != VIG_OK) {
					fprintf(stderr, "store: %s\n", err);
					goto out;
				}
				out->stored += nb;
			}
			nb = 0;
			vig_arena_reset(&arena);
		}
	}
	if (nb && st->store) {
		bool dup;

		if (vig_evstore_append(store, ptrs, nb, NULL, &dup, err) != VIG_OK)
			goto out;
		out->stored += nb;
	}
	out->cpu = cpu_now() - t0;
	rc = 0;
out:
	vig_detect_scratch_free(scratch);
	vig_arena_release(&arena);
	free(evs);
	free(ptrs);
	return rc;
}

/* A correlation engine over the engine's rules, with no state. */
static struct vig_corr *new_corr(const struct vig_detect_engine *eng, char *err)
{
	struct vig_corr *c = vig_corr_new(NULL);
	struct vig_sigma_rule *const *rules;
	size_t n;

	if (!c) {
		snprintf(err, VIG_ERRBUF_SIZE, "out of memory");
		return NULL;
	}
	rules = vig_detect_rules(eng, &n);
	if (vig_corr_set_rules(c, rules, n, NULL, NULL, err) != VIG_OK) {
		vig_corr_free(c);
		return NULL;
	}
	return c;
}

static void report(const char *name, const struct run *r, double base)
{
	double rate = r->cpu > 0 ? (double)r->parsed / r->cpu : 0;

	printf("%-34s %10.0f events/CPU-s  ratio to parse-only %.3f  (parsed %llu, failed %llu, "
	       "matches %llu, correlations fired %llu, stored %llu, %.2f CPU-s)\n",
	       name, rate, base > 0 ? rate / base : 0, (unsigned long long)r->parsed,
	       (unsigned long long)r->failed, (unsigned long long)r->matches,
	       (unsigned long long)r->fired, (unsigned long long)r->stored, r->cpu);
}

int main(int argc, char **argv)
{
	const char *dirs[MAX_DIRS];
	size_t n_dirs = 0;
	const char *store_dir = NULL;
	char tmpdir[] = "/tmp/vig-e2e-XXXXXX";
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_detect_engine *eng = NULL;
	struct vig_corr *corr = NULL;
	struct vig_evstore *store = NULL;
	struct vig_detect_stats ds;
	struct lines L = {0};
	struct run parse_only, detect_only, store_only, full;
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "r:s:")) != -1) {
		if (opt == 'r' && n_dirs < MAX_DIRS)
			dirs[n_dirs++] = optarg;
		else if (opt == 's')
			store_dir = optarg;
		else {
			fprintf(stderr, "usage: vig-detect-e2e [-r RULES_DIR]... [-s STORE_DIR] FILE\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: vig-detect-e2e [-r RULES_DIR]... [-s STORE_DIR] FILE\n");
		return 2;
	}
	if (read_lines(argv[optind], &L) != 0) {
		fprintf(stderr, "vig-detect-e2e: cannot read %s\n", argv[optind]);
		return 1;
	}
	vig_sigma_ruleset_init(&rs, 0);
	G_rs = &rs;
	for (size_t i = 0; i < n_dirs; i++)
		nftw(dirs[i], visit, 16, FTW_PHYS);
	printf("rules loaded %zu, refused %zu; lines %zu\n", rs.n, G_load_failed, L.n);
	eng = vig_detect_build(&rs, err);
	if (!eng) {
		fprintf(stderr, "engine: %s\n", err);
		goto out;
	}
	vig_detect_get_stats(eng, &ds);
	corr = new_corr(eng, err);
	if (!corr) {
		fprintf(stderr, "correlation: %s\n", err);
		goto out;
	}
	if (!store_dir) {
		if (!mkdtemp(tmpdir))
			goto out;
		store_dir = tmpdir;
	}
	store = vig_evstore_open(store_dir, NULL, err);
	if (!store) {
		fprintf(stderr, "store: %s\n", err);
		goto out;
	}
	{
		struct vig_corr_stats cs;

		vig_corr_get_stats(corr, &cs);
		printf("detection rules %zu, correlation rules %zu (inactive %zu), atoms %zu\n",
		       ds.detection_rules, cs.rules, cs.inactive, ds.atoms);
	}
	if (run_pipeline(&L, &(struct stage){false, false}, eng, corr, store, &parse_only) != 0 ||
	    run_pipeline(&L, &(struct stage){true, false}, eng, corr, store, &detect_only) != 0 ||
	    run_pipeline(&L, &(struct stage){false, true}, eng, corr, store, &store_only) != 0)
		goto out;
	vig_corr_free(corr); /* the full run starts with empty correlation state */
	corr = new_corr(eng, err);
	if (!corr || run_pipeline(&L, &(struct stage){true, true}, eng, corr, store, &full) != 0)
		goto out;
	{
		double base = parse_only.cpu > 0 ? (double)parse_only.parsed / parse_only.cpu : 0;

		report("parse only (baseline)", &parse_only, base);
		report("parse + detect + correlate", &detect_only, base);
		report("parse + store", &store_only, base);
		report("parse + detect + correlate + store", &full, base);
	}
	rc = 0;
out:
	vig_evstore_close(store);
	vig_corr_free(corr);
	vig_detect_free(eng);
	vig_sigma_ruleset_release(&rs);
	if (store_dir == tmpdir) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "vig-detect-e2e: could not remove %s\n", tmpdir);
	}
	free(L.data);
	free(L.off);
	free(L.len);
	return rc;
}
