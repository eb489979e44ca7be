/*
 * fuzz_parse_web.c - libFuzzer target for vig_parse_apache, line by line (see fuzz_parse_lines.h).
 */
#include "fuzz_parse_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return vig_fuzz_parse_lines(vig_parse_apache, data, size);
}
