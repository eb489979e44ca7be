/*
 * main.c - vigilctl, the command-line client of the Vigil HTTP API (docs/api.md).
 *
 * Parses the command line (usage errors exit 2), then runs the command (API and connection
 * errors exit 1). Everything else lives in the vigctl library so that it can be tested.
 */
#include <stdio.h>

#include <curl/curl.h>

#include "cmds.h"
#include "ctl.h"

int main(int argc, char **argv)
{
	struct vig_ctl_args args;
	char errbuf[VIG_ERRBUF_SIZE];
	int rc;

	if (vig_ctl_args_parse(argc, argv, &args, errbuf) != VIG_OK) {
		fprintf(stderr, "vigilctl: %s\n", errbuf);
		return VIG_CTL_EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "vigilctl: cannot initialise libcurl\n");
		return VIG_CTL_EXIT_API;
	}
	rc = vig_ctl_run(&args, stdout, stderr);
	curl_global_cleanup();
	if (fflush(stdout) != 0 && rc == VIG_CTL_EXIT_OK)
		rc = VIG_CTL_EXIT_API;
	return rc;
}
