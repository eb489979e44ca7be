/*
 * filter.c - Sigma filters in the detection engine (see filter.h for the contract).
 *
 * The index is immutable after vig_filter_index_build(): filters[] holds the filter rules
 * sorted by pointer (a filter's number is its position), targets[] the detection rules some
 * filter applies to, sorted by pointer, each with the numbers of its filters. A run holds, for
 * the event being matched, which filters fired (flag per filter plus the list of set flags, so
 * the reset costs what was set) and the held rules (at most one entry per target, since the
 * engine reports a rule at most once per event).
 */
#include "detect/filter.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct ftarget {
	const struct vig_sigma_rule *rule;
	uint32_t *filters; /* filter numbers */
	size_t n;
};

struct vig_filter_index {
	const struct vig_sigma_rule **filters; /* sorted by pointer */
	size_t n_filters;
	struct ftarget *targets; /* sorted by rule pointer */
	size_t n_targets;
};

struct vig_filter_run {
	const struct vig_filter_index *fx;
	uint8_t *fired;     /* per filter */
	uint32_t *fired_list;
	size_t n_fired;
	const struct ftarget **held;
	size_t n_held;
};

static int cmp_ptr(const void *a, const void *b)
{
	const void *x = *(const void *const *)a, *y = *(const void *const *)b;

	return x < y ? -1 : x > y;
}

static int cmp_target(const void *a, const void *b)
{
	return cmp_ptr(&((const struct ftarget *)a)->rule, &((const struct ftarget *)b)->rule);
}

static bool names(const struct vig_sigma_rule *r, const char *s)
{
	return (r->id && strcmp(r->id, s) == 0) || (r->name && strcmp(r->name, s) == 0);
}

/* The filter's logsource attribute a is unset, or equals the rule's b. */
static bool within(const char *a, const char *b)
{
	return !a || (b && strcasecmp(a, b) == 0);
}

/* True when filter f applies to detection rule r. */
static bool applies(const struct vig_sigma_rule *f, const struct vig_sigma_rule *r)
{
	const struct vig_sigma_strlist *l = &f->filter->rules;

	if (l->n == 0)
		return within(f->logsource.product, r->logsource.product) &&
		       within(f->logsource.category, r->logsource.category) &&
		       within(f->logsource.service, r->logsource.service);
	for (size_t i = 0; i < l->n; i++)
		if (names(r, l->v[i]))
			return true;
	return false;
}

void vig_filter_index_free(struct vig_filter_index *fx)
{
	if (!fx)
		return;
	for (size_t i = 0; i < fx->n_targets; i++)
		free(fx->targets[i].filters);
	free(fx->targets);
	free(fx->filters);
	free(fx);
}

struct vig_filter_index *vig_filter_index_build(struct vig_sigma_rule *const *rules, size_t n, char *errbuf)
{
	struct vig_filter_index *fx = calloc(1, sizeof(*fx));

	if (!fx)
		goto out_nomem;
	for (size_t i = 0; i < n; i++)
		fx->n_filters += rules[i]->kind == VIG_SIGMA_FILTER && rules[i]->filter && rules[i]->prog;
	if (!fx->n_filters)
		return fx;
	fx->filters = calloc(fx->n_filters, sizeof(*fx->filters));
	fx->targets = calloc(n, sizeof(*fx->targets));
	if (!fx->filters || !fx->targets)
		goto out_nomem;
	fx->n_filters = 0;
	for (size_t i = 0; i < n; i++)
		if (rules[i]->kind == VIG_SIGMA_FILTER && rules[i]->filter && rules[i]->prog)
			fx->filters[fx->n_filters++] = rules[i];
	qsort(fx->filters, fx->n_filters, sizeof(*fx->filters), cmp_ptr);
	for (size_t i = 0; i < n; i++) {
		struct ftarget *t = &fx->targets[fx->n_targets];
		if (rules[i]->kind != VIG_SIGMA_DETECTION)
			continue;
		t->rule = rules[i];
		for (size_t k = 0; k < fx->n_filters; k++) {
			uint32_t *p;
			if (!applies(fx->filters[k], rules[i]))
				continue;
			if (!(p = realloc(t->filters, (t->n + 1) * sizeof(*p))))
				goto out_nomem;
			t->filters = p;
			t->filters[t->n++] = (uint32_t)k;
		}
		if (t->n)
			fx->n_targets++;
		else
			t->rule = NULL;
	}
	qsort(fx->targets, fx->n_targets, sizeof(*fx->targets), cmp_target);
	return fx;
out_nomem:
	vig_filter_index_free(fx);
	vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return NULL;
}

size_t vig_filter_index_filters(const struct vig_filter_index *fx)
{
	return fx ? fx->n_filters : 0;
}

static const struct ftarget *find_target(const struct vig_filter_index *fx, const struct vig_sigma_rule *r)
{
	struct ftarget key = {.rule = r};

	if (!fx || !fx->n_targets)
		return NULL;
	return bsearch(&key, fx->targets, fx->n_targets, sizeof(key), cmp_target);
}

size_t vig_filter_index_rule_filters(const struct vig_filter_index *fx, const struct vig_sigma_rule *rule)
{
	const struct ftarget *t = find_target(fx, rule);

	return t ? t->n : 0;
}

struct vig_filter_run *vig_filter_run_new(const struct vig_filter_index *fx)
{
	struct vig_filter_run *r = calloc(1, sizeof(*r));
	size_t nf = fx ? fx->n_filters : 0, nt = fx ? fx->n_targets : 0;

	if (!r)
		return NULL;
	r->fx = fx;
	r->fired = calloc(nf + 1, 1);
	r->fired_list = calloc(nf + 1, sizeof(*r->fired_list));
	r->held = calloc(nt + 1, sizeof(*r->held));
	if (!r->fired || !r->fired_list || !r->held) {
		vig_filter_run_free(r);
		return NULL;
	}
	return r;
}

void vig_filter_run_free(struct vig_filter_run *r)
{
	if (!r)
		return;
	free(r->fired);
	free(r->fired_list);
	free(r->held);
	free(r);
}

enum vig_filter_verdict vig_filter_run_match(struct vig_filter_run *r, const struct vig_sigma_rule *rule)
{
	const struct ftarget *t;

	if (!r || !r->fx || !r->fx->n_filters)
		return VIG_FILTER_PASS;
	if (rule->kind == VIG_SIGMA_FILTER) {
		const struct vig_sigma_rule **p =
			bsearch(&rule, r->fx->filters, r->fx->n_filters, sizeof(*r->fx->filters), cmp_ptr);
		if (p) {
			size_t k = (size_t)(p - r->fx->filters);
			if (!r->fired[k]) {
				r->fired[k] = 1;
				r->fired_list[r->n_fired++] = (uint32_t)k;
			}
		}
		return VIG_FILTER_SELF;
	}
	t = find_target(r->fx, rule);
	if (!t)
		return VIG_FILTER_PASS;
	if (r->n_held < r->fx->n_targets) /* a rule fires at most once per event: always true */
		r->held[r->n_held++] = t;
	return VIG_FILTER_HELD;
}

size_t vig_filter_run_finish(struct vig_filter_run *r, vig_detect_cb *cb, void *ctx, bool *stop,
			     uint64_t *removed)
{
	size_t reported = 0;

	if (!r)
		return 0;
	for (size_t i = 0; i < r->n_held && !*stop; i++) {
		const struct ftarget *t = r->held[i];
		bool out = false;
		for (size_t k = 0; k < t->n && !out; k++)
			out = r->fired[t->filters[k]];
		if (out) {
			(*removed)++;
			continue;
		}
		reported++;
		if (cb && cb(ctx, t->rule))
			*stop = true;
	}
	for (size_t i = 0; i < r->n_fired; i++)
		r->fired[r->fired_list[i]] = 0;
	r->n_fired = 0;
	r->n_held = 0;
	return reported;
}
