/*
 * rules.c - the live rule set: loading rules from the control DB and a rules directory,
 * building a detection engine with an ownership table, the reference-counted engine pointer,
 * and the rebuild thread.
 *
 * Ownership table: rules are added to the rule set in a known order (DB rows ordered by tenant
 * and id, then directory files), one info per rule document. vig_detect_rules() returns the
 * engine's rules in that same order, so after the build rule i pairs with info i; the pairs
 * are then sorted by rule pointer for a binary search per match.
 *
 * Locking: mu guards cur, generation, dirty, building and stop. Engines are immutable; their
 * reference count is atomic so that the last release may happen on any thread, also after the
 * holder is gone.
 */
#include "alert/rules.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"

#define LOG_FAILURES_MAX 20 /* load failures logged one by one per build */

struct rule_ref {
	const struct vig_sigma_rule *rule;
	size_t info; /* index into infos */
};

struct vig_alert_engine {
	struct vig_detect_engine *det;
	atomic_size_t refs;
	uint64_t generation;
	struct vig_alert_rule_info *infos; /* strings malloc'ed */
	size_t n_infos, cap_infos;
	struct rule_ref *by_ptr; /* sorted by rule pointer */
	size_t n_refs;
};

struct vig_alert_rules {
	struct vig_db *db;
	char *rules_dir;              /* NULL when none */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct vig_alert_engine *cur; /* holds one reference */
	uint64_t generation;
	bool dirty, building, stop, running;
	pthread_t thread;
	atomic_uint_fast64_t load_failures;
	atomic_uint_fast64_t build_failures;
	size_t logged; /* failures logged in the running build (builder thread only) */
};

static void info_release(struct vig_alert_rule_info *in)
{
	free((char *)in->tenant);
	free((char *)in->rule_id);
	free((char *)in->file);
}

static void engine_free(struct vig_alert_engine *e)
{
	if (!e)
		return;
	vig_detect_free(e->det);
	for (size_t i = 0; i < e->n_infos; i++)
		info_release(&e->infos[i]);
	free(e->infos);
	free(e->by_ptr);
	free(e);
}

void vig_alert_engine_release(struct vig_alert_engine *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		engine_free(e);
}

const struct vig_detect_engine *vig_alert_engine_detect(const struct vig_alert_engine *e)
{
	return e->det;
}

uint64_t vig_alert_engine_generation(const struct vig_alert_engine *e)
{
	return e->generation;
}

static int ref_cmp(const void *a, const void *b)
{
	const struct vig_sigma_rule *x = ((const struct rule_ref *)a)->rule;
	const struct vig_sigma_rule *y = ((const struct rule_ref *)b)->rule;

	return x < y ? -1 : x > y;
}

const struct vig_alert_rule_info *vig_alert_engine_rule(const struct vig_alert_engine *e,
							const struct vig_sigma_rule *rule)
{
	struct rule_ref key = {rule, 0};
	const struct rule_ref *hit = e->n_refs ? bsearch(&key, e->by_ptr, e->n_refs,
							 sizeof(*e->by_ptr), ref_cmp)
					       : NULL;

	return hit ? &e->infos[hit->info] : NULL;
}

bool vig_alert_engine_has(const struct vig_alert_engine *e, const char *tenant,
			  const char *rule_id)
{
	bool provider = strcmp(tenant, VIG_DB_PROVIDER_TENANT) == 0;

	for (size_t i = 0; i < e->n_infos; i++) {
		const struct vig_alert_rule_info *in = &e->infos[i];

		if (strcmp(in->rule_id, rule_id) == 0 &&
		    (in->tenant ? strcmp(in->tenant, tenant) == 0 : provider))
			return true;
	}
	return false;
}

/* ---- building ---- */

static enum vig_err info_push(struct vig_alert_engine *e, const char *tenant, const char *rule_id,
			      const char *file, char *errbuf)
{
	struct vig_alert_rule_info *in;

	if (e->n_infos == e->cap_infos) {
		size_t cap = e->cap_infos ? 2 * e->cap_infos : 64;
		void *p = realloc(e->infos, cap * sizeof(*e->infos));

		if (!p)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		e->infos = p;
		e->cap_infos = cap;
	}
	in = &e->infos[e->n_infos];
	in->tenant = tenant ? strdup(tenant) : NULL;
	in->rule_id = strdup(rule_id);
	in->file = file ? strdup(file) : NULL;
	if ((tenant && !in->tenant) || !in->rule_id || (file && !in->file)) {
		info_release(in);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	e->n_infos++;
	return VIG_OK;
}

static void load_failed(struct vig_alert_rules *r, const char *what, const char *why)
{
	atomic_fetch_add(&r->load_failures, 1);
	if (r->logged++ < LOG_FAILURES_MAX)
		vig_warn("rules", "rule skipped", "rule=\"%s\" err=\"%s\"", what, why);
}

/*
 * Adds the loaded chain to rs and one info per document to e. tenant NULL = every tenant.
 * rule_id NULL: each document's Sigma id, else fallback. file: the rules_dir file (NULL for a
 * DB rule). Only VIG_ENOMEM is fatal.
 */
static enum vig_err add_chain(struct vig_alert_rules *r, struct vig_alert_engine *e,
			      struct vig_sigma_ruleset *rs, struct vig_sigma_rule *chain,
			      const char *tenant, const char *rule_id, const char *fallback,
			      const char *file, char *errbuf)
{
	size_t before = e->n_infos;
	enum vig_err err = VIG_OK;

	for (struct vig_sigma_rule *x = chain; x && err == VIG_OK; x = x->next)
		err = info_push(e, tenant, rule_id ? rule_id : x->id ? x->id : fallback, file, errbuf);
	if (err == VIG_OK)
		err = vig_sigma_ruleset_add(rs, chain); /* owns chain from here on */
	else
		vig_sigma_free(chain);
	if (err == VIG_OK)
		return VIG_OK;
	while (e->n_infos > before)
		info_release(&e->infos[--e->n_infos]);
	if (err == VIG_ENOMEM)
		return err;
	load_failed(r, fallback, errbuf);
	return VIG_OK;
}

struct db_rule {
	char *tenant, *id, *yaml;
	size_t len;
};

static void db_rules_free(struct db_rule *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].tenant);
		free(v[i].id);
		free(v[i].yaml);
	}
	free(v);
}

/* Copies the enabled rules out of the DB (so that loading runs without the DB lock). */
static enum vig_err db_rules_read(struct vig_db *db, struct db_rule **out, size_t *n, char *errbuf)
{
	struct db_rule *v = NULL;
	size_t k = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	sqlite3 *h = vig_db_lock(db);
	int rc;

	rc = sqlite3_prepare_v2(h,
				"SELECT tenant_id, id, yaml FROM rules WHERE enabled = 1 "
				"ORDER BY tenant_id, id LIMIT ?1",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "rules db: %s", sqlite3_errmsg(h));
		goto out;
	}
	sqlite3_bind_int(st, 1, VIG_ALERT_RULES_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct db_rule *d;

		if (k == cap) {
			size_t nc = cap ? 2 * cap : 32;
			void *p = realloc(v, nc * sizeof(*v));

			if (!p) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				goto out;
			}
			v = p;
			cap = nc;
		}
		d = &v[k++];
		d->tenant = strdup((const char *)sqlite3_column_text(st, 0));
		d->id = strdup((const char *)sqlite3_column_text(st, 1));
		d->len = (size_t)sqlite3_column_bytes(st, 2);
		d->yaml = malloc(d->len + 1);
		if (!d->tenant || !d->id || !d->yaml) {
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(d->yaml, sqlite3_column_blob(st, 2), d->len);
		d->yaml[d->len] = '\0';
	}
	if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "rules db: %s", sqlite3_errmsg(h));
out:
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err != VIG_OK) {
		db_rules_free(v, k);
		return err;
	}
	*out = v;
	*n = k;
	return VIG_OK;
}

static bool has_rule_ext(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path (below rules_dir) relative to rules_dir. */
static const char *rel_path(const struct vig_alert_rules *r, const char *path)
{
	const char *p = path + strlen(r->rules_dir);

	while (*p == '/')
		p++;
	return p;
}

/* Loads every rule file under dir (sorted names, hidden entries skipped). */
static enum vig_err load_dir(struct vig_alert_rules *r, struct vig_alert_engine *e,
			     struct vig_sigma_ruleset *rs, const char *dir, int depth, char *errbuf)
{
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0;
	enum vig_err err = VIG_OK;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		load_failed(r, dir, "cannot open the directory");
		return VIG_OK;
	}
	while ((de = readdir(d)) != NULL && err == VIG_OK) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t nc = cap ? 2 * cap : 64;
			void *p = realloc(names, nc * sizeof(*names));

			if (!p) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				break;
			}
			names = p;
			cap = nc;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		else
			n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && err == VIG_OK; i++) {
		struct stat sb;
		int len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);

		if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			/* "tests" folders hold test events of the rules beside them (rules/tests) */
			if (depth < VIG_ALERT_RULES_DIR_DEPTH && strcmp(names[i], "tests") != 0)
				err = load_dir(r, e, rs, path, depth + 1, errbuf);
		} else if (S_ISREG(sb.st_mode) && has_rule_ext(names[i])) {
			struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
			char why[VIG_ERRBUF_SIZE] = "";
			struct vig_sigma_rule *chain = vig_sigma_load_file(path, &opts, why);

			if (!chain)
				load_failed(r, path, why);
			else
				err = add_chain(r, e, rs, chain, NULL, NULL, names[i],
						rel_path(r, path), errbuf);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

/* Builds a new engine from the DB and the directory (no lock held). */
static struct vig_alert_engine *engine_build(struct vig_alert_rules *r, bool empty, char *errbuf)
{
	struct vig_alert_engine *e = calloc(1, sizeof(*e));
	struct vig_sigma_ruleset rs;
	struct vig_sigma_rule *const *rules;
	struct db_rule *rows = NULL;
	size_t n_rows = 0, n_rules = 0;
	enum vig_err err = VIG_OK;

	vig_sigma_ruleset_init(&rs, VIG_ALERT_RULES_MAX);
	if (!e) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&e->refs, 1);
	r->logged = 0;
	if (!empty)
		err = db_rules_read(r->db, &rows, &n_rows, errbuf);
	for (size_t i = 0; i < n_rows && err == VIG_OK; i++) {
		const char *tenant = strcmp(rows[i].tenant, VIG_DB_PROVIDER_TENANT) == 0 ? NULL
											: rows[i].tenant;
		struct vig_sigma_opts opts = {.max_bytes = VIG_ALERT_RULE_YAML_MAX};
		char why[VIG_ERRBUF_SIZE] = "", what[256];
		struct vig_sigma_rule *chain = vig_sigma_load(rows[i].yaml, rows[i].len, &opts, why);

		snprintf(what, sizeof(what), "%s/%s", rows[i].tenant, rows[i].id);
		if (!chain)
			load_failed(r, what, why);
		else
			err = add_chain(r, e, &rs, chain, tenant, rows[i].id, what, NULL, errbuf);
	}
	db_rules_free(rows, n_rows);
	if (err == VIG_OK && !empty && r->rules_dir)
		err = load_dir(r, e, &rs, r->rules_dir, 0, errbuf);
	if (err != VIG_OK)
		goto out_fail;
	if (r->logged > LOG_FAILURES_MAX)
		vig_warn("rules", "more rules skipped", "not_logged=%zu", r->logged - LOG_FAILURES_MAX);
	e->det = vig_detect_build(&rs, errbuf);
	if (!e->det)
		goto out_fail;
	rules = vig_detect_rules(e->det, &n_rules);
	if (n_rules != e->n_infos) {
		vig_errf(errbuf, VIG_EINTERNAL, "engine holds %zu rules, %zu were added", n_rules,
			 e->n_infos);
		goto out_fail;
	}
	e->by_ptr = n_rules ? calloc(n_rules, sizeof(*e->by_ptr)) : NULL;
	if (n_rules && !e->by_ptr) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_fail;
	}
	for (size_t i = 0; i < n_rules; i++)
		e->by_ptr[i] = (struct rule_ref){rules[i], i};
	e->n_refs = n_rules;
	if (n_rules)
		qsort(e->by_ptr, n_rules, sizeof(*e->by_ptr), ref_cmp);
	return e;
out_fail:
	vig_sigma_ruleset_release(&rs);
	engine_free(e);
	return NULL;
}

enum vig_err vig_alert_rules_rebuild(struct vig_alert_rules *r, char *errbuf)
{
	struct vig_alert_engine *e = engine_build(r, false, errbuf), *old;
	struct vig_detect_stats st;

	if (!e) {
		atomic_fetch_add(&r->build_failures, 1);
		vig_error("rules", "engine build failed, keeping the previous rules", "err=\"%s\"",
			  errbuf);
		return VIG_EINVAL;
	}
	pthread_mutex_lock(&r->mu);
	e->generation = ++r->generation;
	old = r->cur;
	r->cur = e;
	pthread_mutex_unlock(&r->mu);
	vig_alert_engine_release(old);
	vig_detect_get_stats(e->det, &st);
	vig_info("rules", "rules loaded", "generation=%llu rules=%zu detection_rules=%zu groups=%zu",
		 (unsigned long long)e->generation, st.rules, st.detection_rules, st.groups);
	return VIG_OK;
}

static void *rebuild_main(void *arg)
{
	struct vig_alert_rules *r = arg;
	char errbuf[VIG_ERRBUF_SIZE];

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->dirty && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop)
			break;
		r->dirty = false;
		r->building = true;
		pthread_mutex_unlock(&r->mu);
		vig_alert_rules_rebuild(r, errbuf);
		pthread_mutex_lock(&r->mu);
		r->building = false;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct vig_alert_rules *vig_alert_rules_new(struct vig_db *db, const char *rules_dir, char *errbuf)
{
	struct vig_alert_rules *r = calloc(1, sizeof(*r));

	if (!r) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	r->db = db;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (rules_dir && rules_dir[0] && !(r->rules_dir = strdup(rules_dir))) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	if (vig_alert_rules_rebuild(r, errbuf) != VIG_OK) {
		/* start with no rules rather than not at all; a later change rebuilds */
		r->cur = engine_build(r, true, errbuf);
		if (!r->cur)
			goto out_free;
		r->cur->generation = ++r->generation;
	}
	if (pthread_create(&r->thread, NULL, rebuild_main, r) != 0) {
		vig_errf(errbuf, VIG_EINTERNAL, "cannot start the rules thread");
		goto out_free;
	}
	r->running = true;
	return r;
out_free:
	vig_alert_rules_free(r);
	return NULL;
}

void vig_alert_rules_free(struct vig_alert_rules *r)
{
	if (!r)
		return;
	if (r->running) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->thread, NULL);
	}
	vig_alert_engine_release(r->cur);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->rules_dir);
	free(r);
}

void vig_alert_rules_request(struct vig_alert_rules *r)
{
	pthread_mutex_lock(&r->mu);
	r->dirty = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

void vig_alert_rules_status(struct vig_alert_rules *r, struct vig_alert_rules_status *out)
{
	struct vig_detect_stats st;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&r->mu);
	out->generation = r->generation;
	out->pending = r->dirty || r->building;
	if (r->cur) {
		vig_detect_get_stats(r->cur->det, &st);
		out->rules = st.rules;
		out->detection_rules = st.detection_rules;
	}
	pthread_mutex_unlock(&r->mu);
	out->load_failures = atomic_load(&r->load_failures);
	out->build_failures = atomic_load(&r->build_failures);
}

struct vig_alert_engine *vig_alert_rules_acquire(struct vig_alert_rules *r)
{
	struct vig_alert_engine *e;

	pthread_mutex_lock(&r->mu);
	e = r->cur;
	atomic_fetch_add(&e->refs, 1);
	pthread_mutex_unlock(&r->mu);
	return e;
}
