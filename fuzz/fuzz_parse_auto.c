/*
 * fuzz_parse_auto.c - libFuzzer target for format guessing (vig_parse_auto) and whichever parser
 * it picks, line by line (see fuzz_parse_lines.h).
 */
#include "fuzz_parse_lines.h"

static enum vig_err parse_auto(struct vig_parse_ctx *ctx, const char *line, size_t len,
			       struct vig_event *ev, char *errbuf)
{
	return vig_parse_auto(ctx, line, len, ev, NULL, errbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return vig_fuzz_parse_lines(parse_auto, data, size);
}
