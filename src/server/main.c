/*
 * main.c - the vigild command line: vigild [--config FILE] [--data DIR] [--listen HOST:PORT]
 * [--print-config] [--print-config-markdown] [--version]. Builds the configuration (defaults,
 * then the file, then the flags), sets up logging and runs the server until a shutdown signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config.h"
#include "server.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: vigild [--config FILE] [--data DIR] [--listen HOST:PORT] [--print-config]\n"
		   "              [--print-config-markdown] [--version]\n");
}

/* Prints a buffer filled by fn to stdout; returns the exit code. */
static int print_buf(struct vig_buf *b)
{
	if (vig_buf_err(b) != VIG_OK) {
		fprintf(stderr, "vigild: %s\n", vig_strerror(vig_buf_err(b)));
		return 1;
	}
	fwrite(b->data, 1, b->len, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL, *data = NULL, *listen = NULL;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	bool print = false, print_md = false;
	struct vig_config cfg;
	struct vig_server *srv;
	struct vig_buf b;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;

		if (strcmp(a, "--config") == 0 && has_val) {
			config = argv[++i];
		} else if (strcmp(a, "--data") == 0 && has_val) {
			data = argv[++i];
		} else if (strcmp(a, "--listen") == 0 && has_val) {
			listen = argv[++i];
		} else if (strcmp(a, "--print-config") == 0) {
			print = true;
		} else if (strcmp(a, "--print-config-markdown") == 0) {
			print_md = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("vigild %s\n", VIG_VERSION);
			return 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "vigild: unknown or incomplete option \"%s\"\n", a);
			usage(stderr);
			return 2;
		}
	}
	vig_config_defaults(&cfg);
	if (config && vig_config_load(&cfg, config, errbuf) != VIG_OK) {
		fprintf(stderr, "vigild: %s\n", errbuf);
		return 2;
	}
	if ((data && vig_config_set(&cfg, "data_dir", data, errbuf) != VIG_OK) ||
	    (listen && vig_config_set(&cfg, "listen", listen, errbuf) != VIG_OK) ||
	    vig_config_validate(&cfg, errbuf) != VIG_OK) {
		fprintf(stderr, "vigild: %s\n", errbuf);
		return 2;
	}
	if (print || print_md) {
		vig_buf_init(&b, 1 << 20);
		if (print)
			vig_config_print_yaml(&cfg, &b);
		else
			vig_config_print_markdown(&b);
		rc = print_buf(&b);
		vig_buf_release(&b);
		return rc;
	}
	vig_log_set_level((enum vig_log_level)vig_log_level_parse(cfg.log_level));
	if (cfg.log_file[0] && vig_log_open(cfg.log_file) != 0) {
		fprintf(stderr, "vigild: cannot open log file %s\n", cfg.log_file);
		return 1;
	}
	srv = vig_server_new(&cfg, errbuf);
	if (!srv) {
		fprintf(stderr, "vigild: %s\n", errbuf);
		return 1;
	}
	rc = vig_server_run(srv) == VIG_OK ? 0 : 1;
	vig_server_free(srv);
	return rc;
}
