/*
 * fuzz_parse_auditd.c - libFuzzer target for Linux audit records: each input line goes both to
 * the single-record parser (vig_parse_auditd) and through one audit grouper (records merged
 * by serial, flushed on EOE, a new serial, the timeout — driven by a fake clock taken from
 * the input — and a final forced flush). Nothing may crash, leak or read out of bounds, and
 * every event must encode as JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "event/event_json.h"
#include "parse/parse.h"

static void check(const struct vig_event *ev)
{
	struct vig_buf out;

	vig_buf_init(&out, 4 << 20);
	if (vig_event_to_json(ev, &out) != VIG_OK && out.len < (4u << 20) - 4096)
		abort();
	vig_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vig_parse_ctx ctx;
	struct vig_audit_grouper g;
	struct vig_arena arena;
	struct vig_event ev;
	char errbuf[VIG_ERRBUF_SIZE];
	const char *s = (const char *)data, *end = s + size;
	int64_t clock_ns = 0;
	bool ready;

	if (vig_audit_grouper_init(&g, 1000) != VIG_OK)
		return 0;
	vig_parse_ctx_init(&ctx, 1795435200LL * 1000000000LL);
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
		char *line = malloc(n ? n : 1);
		if (!line)
			break;
		memcpy(line, s, n);
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		if (vig_parse_auditd(&ctx, line, n, &ev, errbuf) == VIG_OK)
			check(&ev);
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		clock_ns += n ? (unsigned char)line[0] * 10 : 1;
		if (vig_audit_grouper_add(&g, &ctx, line, n, clock_ns, &ev, &ready, errbuf) == VIG_OK && ready)
			check(&ev);
		vig_arena_reset(&arena);
		vig_event_clear(&ev);
		if (vig_audit_grouper_flush(&g, &ctx, clock_ns, false, &ev, &ready, errbuf) == VIG_OK && ready)
			check(&ev);
		free(line);
		s = nl ? nl + 1 : end;
	}
	vig_arena_reset(&arena);
	vig_event_clear(&ev);
	if (vig_audit_grouper_flush(&g, &ctx, clock_ns, true, &ev, &ready, errbuf) == VIG_OK && ready)
		check(&ev);
	vig_audit_grouper_release(&g);
	vig_arena_release(&arena);
	return 0;
}
