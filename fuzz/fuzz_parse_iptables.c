/*
 * fuzz_parse_iptables.c - libFuzzer target for vig_parse_iptables, line by line (see fuzz_parse_lines.h).
 */
#include "fuzz_parse_lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return vig_fuzz_parse_lines(vig_parse_iptables, data, size);
}
