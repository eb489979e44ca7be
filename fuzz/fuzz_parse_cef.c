/*
 * fuzz_parse_cef.c - libFuzzer target for vig_parse_cef, line by line (see fuzz_parse_lines.h).
 */
#include "fuzz_parse_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return vig_fuzz_parse_lines(vig_parse_cef, data, size);
}
