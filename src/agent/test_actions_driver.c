/*
 * test_actions_driver.c - runs one response action from the command line, for
 * test_actions_live.sh (which runs it inside network namespaces): prints the result object on
 * stdout and exits 0, or prints the error on stderr and exits 1 (2 on a usage error).
 *
 * usage: test_actions_driver STATE_DIR SERVER_HOST SERVER_PORT TYPE [PARAMS_JSON]
 *        TYPE "restore-state" calls vig_action_restore() instead of an action.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "actions.h"

int main(int argc, char **argv)
{
	struct vig_action_env env = {0};
	char err[VIG_ERRBUF_SIZE] = "";
	json_t *params = NULL, *result = NULL;
	json_error_t jerr;
	int64_t port;
	enum vig_err e;

	if (argc < 5 || argc > 6 || !vig_parse_i64(argv[3], strlen(argv[3]), &port)) {
		fprintf(stderr, "usage: test_actions_driver STATE_DIR SERVER_HOST SERVER_PORT TYPE [PARAMS_JSON]\n");
		return 2;
	}
	env.state_dir = argv[1];
	env.server_host = argv[2];
	env.server_port = (int)port;
	if (strcmp(argv[4], "restore-state") == 0) {
		e = vig_action_restore(&env, err);
		if (e != VIG_OK) {
			fprintf(stderr, "error: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (argc == 6) {
		params = json_loads(argv[5], 0, &jerr);
		if (!params) {
			fprintf(stderr, "params: %s\n", jerr.text);
			return 2;
		}
	}
	e = vig_action_run(&env, "live-test", argv[4], params, &result, err);
	json_decref(params);
	if (e != VIG_OK) {
		fprintf(stderr, "error: %s\n", err);
		return 1;
	}
	json_dumpf(result, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(result);
	return 0;
}
