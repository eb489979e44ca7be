/*
 * sigma_map.c - lookup in the Sigma field mapping table (see sigma_map.def).
 */
#include "sigma_map.h"

#include <stddef.h>
#include <strings.h>

static const struct vig_sigma_map_entry table[] = {
#define SIGMA_MAP(p, c, s, sigma, ecs) {p, c, s, sigma, ecs},
#include "sigma_map.def"
#undef SIGMA_MAP
};

/* Score of an attribute: 0 = wildcard, 1 = matches, -1 = mismatch. */
static int attr_score(const char *pattern, const char *value)
{
	if (pattern[0] == '*' && pattern[1] == '\0')
		return 0;
	return value && strcasecmp(pattern, value) == 0 ? 1 : -1;
}

const char *vig_sigma_field(const char *product, const char *category, const char *service,
			    const char *sigma)
{
	const char *best = NULL;
	int best_score = -1;

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct vig_sigma_map_entry *e = &table[i];
		if (strcasecmp(e->sigma, sigma) != 0)
			continue;
		int p = attr_score(e->product, product), c = attr_score(e->category, category),
		    s = attr_score(e->service, service);
		if (p < 0 || c < 0 || s < 0)
			continue;
		int score = p * 4 + c * 2 + s;
		if (score > best_score) {
			best_score = score;
			best = e->ecs;
		}
	}
	return best;
}

const struct vig_sigma_map_entry *vig_sigma_map_table(unsigned *n)
{
	*n = sizeof(table) / sizeof(table[0]);
	return table;
}
