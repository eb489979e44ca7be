/*
 * fuzz_intel.c - libFuzzer target for the threat-intelligence feed parsers. The first byte picks
 * the parser (TXT/CSV with format detection, one MISP event document, a STIX 2.1 bundle or TAXII
 * envelope); the rest is the feed. No parse may crash, leak or read out of bounds, and the list
 * must hold exactly as many indicators as it says, each with a non-empty normalised value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intel/intel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char eb[VIG_ERRBUF_SIZE];
	struct vig_intel_list *l;
	struct vig_intel_list_stats st;
	const char *text;
	size_t n;

	if (size < 1)
		return 0;
	l = vig_intel_list_new(10000);
	if (!l)
		return 0;
	text = (const char *)data + 1;
	n = size - 1;
	switch (data[0] % 3) {
	case 0: vig_intel_parse_csv(text, n, VIG_INTEL_CSV_AUTO, l, NULL, eb); break;
	case 1: vig_intel_parse_misp_event(text, n, l, eb); break;
	default: vig_intel_parse_stix(text, n, 1795429800LL * 1000000000LL, l, eb); break;
	}
	vig_intel_list_stats(l, &st);
	if (st.indicators != vig_intel_list_len(l))
		abort();
	for (size_t i = 0; i < vig_intel_list_len(l); i++) {
		struct vig_intel_ind ind;

		vig_intel_list_get(l, i, &ind);
		if (!ind.value || !ind.len)
			abort();
	}
	vig_intel_list_free(l);
	return 0;
}
