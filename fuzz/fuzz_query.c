/*
 * fuzz_query.c - libFuzzer target for the search query language: parse arbitrary bytes and,
 * when they parse, compile them to SQL and evaluate them in memory against an event (the
 * reduction policies' evaluator). No step may crash, leak or read out of bounds; a compiled
 * query's placeholders must match its parameters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "event/event.h"
#include "store/query.h"
#include "store/query_eval.h"

/* One event with a string, an address, a number and a list, evaluated by every query. */
static void eval(const struct vig_query *q)
{
	struct vig_arena a;
	struct vig_event ev;

	vig_arena_init(&a, 4096, 1u << 20);
	vig_event_init(&ev, &a);
	vig_event_set_cstr(&ev, VIG_F_HOST_NAME, "web-01.example");
	vig_event_set_cstr(&ev, VIG_F_EVENT_ACTION, "ssh_login");
	vig_event_set_ip(&ev, VIG_F_SOURCE_IP, "10.1.2.3", 8);
	vig_event_set_int(&ev, VIG_F_DESTINATION_PORT, 22);
	vig_event_set_cstr(&ev, VIG_F_MESSAGE, "Failed password for root from 10.1.2.3");
	(void)vig_query_match(q, &ev);
	vig_arena_release(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char eb[VIG_ERRBUF_SIZE];
	struct vig_query *q = vig_query_parse((const char *)data, size, NULL, eb);
	struct vig_sql sql;
	size_t marks = 0;

	if (!q)
		return 0;
	eval(q);
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
