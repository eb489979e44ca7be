/*
 * fuzz_parse_lines.h - the driver shared by the per-parser libFuzzer targets.
 *
 * The input is split into lines that share one parse context (so stateful parsers keep their
 * state across lines), each parsed into an event whose arena is reset per line; the parser
 * must return without crashing, leaking or reading out of bounds, whatever the bytes, and every
 * event it yields must encode as JSON. Each line is copied into a buffer of exactly its length,
 * so that reading one byte past it is caught by ASan.
 */
#ifndef VIG_FUZZ_PARSE_LINES_H
#define VIG_FUZZ_PARSE_LINES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "event/event_json.h"
#include "parse/parse.h"

static int vig_fuzz_parse_lines(vig_parse_fn *fn, const uint8_t *data, size_t size)
{
	struct vig_parse_ctx ctx;
	struct vig_arena arena;
	struct vig_event ev;
	char errbuf[VIG_ERRBUF_SIZE];
	const char *s = (const char *)data, *end = s + size;

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
		enum vig_err rc = fn(&ctx, line, n, &ev, errbuf);
		free(line);
		if (rc == VIG_OK) {
			struct vig_buf out;
			vig_buf_init(&out, 4 << 20);
			if (vig_event_to_json(&ev, &out) != VIG_OK && out.len < (4u << 20) - 4096)
				abort();
			vig_buf_release(&out);
		}
		s = nl ? nl + 1 : end;
	}
	vig_arena_release(&arena);
	return 0;
}

#endif
