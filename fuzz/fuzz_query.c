/*
 * fuzz_query.c - libFuzzer target for the search query language: parse arbitrary bytes and,
 * when they parse, compile them to SQL. Neither step may crash, leak or read out of bounds;
 * a compiled query's placeholders must match its parameters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char eb[VIG_ERRBUF_SIZE];
	struct vig_query *q = vig_query_parse((const char *)data, size, NULL, eb);
	struct vig_sql sql;
	size_t marks = 0;

	if (!q)
		return 0;
	vig_sql_init(&sql);
	if (vig_query_to_sql(q, &sql, eb) == VIG_OK) {
		for (const char *p = sql.text.data; p && *p; p++)
			marks += *p == '?';
		if (marks != sql.n_params)
			abort();
	}
	vig_sql_release(&sql);
	vig_query_free(q);
	return 0;
}
