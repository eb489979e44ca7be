/*
 * fuzz_event_json.c - libFuzzer target: the event JSON decoder and encoder.
 *
 * Whatever the bytes, decoding must return an error or an event, and an event must encode to
 * JSON that decodes again (the encoder never emits invalid JSON or duplicate keys) and that an
 * independent parser (jansson, rejecting duplicate keys) accepts too.
 */
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "event/event.h"
#include "event/event_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vig_arena arena;
	struct vig_event ev, ev2;
	struct vig_buf out;
	char err[VIG_ERRBUF_SIZE];

	vig_arena_init(&arena, 4096, 4 << 20);
	vig_event_init(&ev, &arena);
	if (vig_event_from_json(&ev, (const char *)data, size, NULL, err) == VIG_OK) {
		vig_buf_init(&out, 8 << 20);
		if (vig_event_to_json(&ev, &out) == VIG_OK) {
			vig_event_init(&ev2, &arena);
			if (vig_event_from_json(&ev2, out.data, out.len, NULL, err) != VIG_OK)
				abort();
			json_error_t jerr;
			json_t *j = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
			if (!j)
				abort();
			json_decref(j);
		}
		vig_buf_release(&out);
	}
	vig_arena_release(&arena);
	return 0;
}
