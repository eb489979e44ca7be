/*
 * sigma_map.h - Sigma's taxonomy to the event model, per logsource (table in sigma_map.def).
 */
#ifndef VIG_SIGMA_MAP_H
#define VIG_SIGMA_MAP_H

struct vig_sigma_map_entry {
	const char *product;  /* logsource product, or "*" */
	const char *category; /* logsource category, or "*" */
	const char *service;  /* logsource service, or "*" */
	const char *sigma;    /* Sigma field name */
	const char *ecs;      /* event model name (core or extension) */
};

/* Event-model name of Sigma field `sigma` under the logsource (any attribute may be NULL), or
 * NULL when the table has no line for it: the caller then uses the Sigma name itself. Field
 * names compare case-insensitively, as Sigma backends do. */
const char *vig_sigma_field(const char *product, const char *category, const char *service,
			    const char *sigma);
/* The whole table, for docs and the API; *n receives its length. */
const struct vig_sigma_map_entry *vig_sigma_map_table(unsigned *n);

#endif
