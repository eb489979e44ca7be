/*
 * main.c - vigil-agent: runs the endpoint sensors and writes events to stdout (--stdout) or
 * posts them to a Vigil server (--server URL --token TOKEN).
 *
 *   vigil-agent --stdout [--watch PATH]... [--ignore-comm NAME]... [--no-ebpf]
 *               [--health-interval SECONDS] [--log-level LEVEL]
 *   vigil-agent --server URL --token TOKEN [same options]
 *
 * Without --watch the file sensor watches /etc, /root/.ssh, /usr/bin, /usr/sbin, /usr/lib/systemd
 * and /var/spool/cron. Exit status: 0 after SIGINT/SIGTERM, 1 on a runtime failure, 2 on usage.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "common/log.h"

static volatile int vig_stop;

static void vig_on_signal(int sig)
{
	(void)sig;
	vig_stop = 1;
}

static void vig_usage(FILE *out)
{
	fprintf(out,
		"usage: vigil-agent (--stdout | --server URL --token TOKEN) [options]\n"
		"  --stdout               print one JSON event per line\n"
		"  --server URL           post NDJSON batches to URL/api/v1/events\n"
		"  --token TOKEN          bearer token for --server\n"
		"  --cacert FILE          trust the certificates in FILE for --server (vigild's DATA/tls/server.crt)\n"
		"  --watch PATH           file sensor path prefix (repeatable, at most %d)\n"
		"  --ignore-comm NAME     drop events of processes with this comm (repeatable)\n"
		"  --no-ebpf              use the fallback sensors (proc connector, inotify, /proc/net)\n"
		"  --health-interval SEC  seconds between health events (default 60)\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  --config FILE          not supported yet\n",
		VIG_AGENT_MAX_WATCH);
}

static const char *const vig_default_watch[] = { "/etc", "/root/.ssh", "/usr/bin", "/usr/sbin",
						 "/usr/lib/systemd", "/var/spool/cron" };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdout", no_argument, NULL, 's' },      { "server", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 't' }, { "watch", required_argument, NULL, 'w' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "ignore-comm", required_argument, NULL, 'i' }, { "no-ebpf", no_argument, NULL, 'n' },
		{ "health-interval", required_argument, NULL, 'H' }, { "log-level", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vig_agent_config cfg = { 0 };
	struct vig_agent_poster *poster = NULL;
	struct vig_agent *agent = NULL;
	const char *server = NULL, *token = NULL, *cacert = NULL;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	bool to_stdout = false;
	struct sigaction sa;
	int64_t v;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': to_stdout = true; break;
		case 'S': server = optarg; break;
		case 't': token = optarg; break;
		case 'C': cacert = optarg; break;
		case 'n': cfg.no_ebpf = true; break;
		case 'w':
			if (cfg.n_watch == VIG_AGENT_MAX_WATCH || optarg[0] != '/') {
				fprintf(stderr, "vigil-agent: --watch takes an absolute path, at most %d\n",
					VIG_AGENT_MAX_WATCH);
				return 2;
			}
			cfg.watch[cfg.n_watch++] = optarg;
			break;
		case 'i':
			if (cfg.n_ignore == VIG_AGENT_MAX_IGNORE) {
				fprintf(stderr, "vigil-agent: too many --ignore-comm\n");
				return 2;
			}
			cfg.ignore_comm[cfg.n_ignore++] = optarg;
			break;
		case 'H':
			if (!vig_parse_i64(optarg, strlen(optarg), &v) || v < 1 || v > 86400) {
				fprintf(stderr, "vigil-agent: --health-interval takes 1..86400 seconds\n");
				return 2;
			}
			cfg.health_interval_s = (int)v;
			break;
		case 'l':
			if (vig_log_level_parse(optarg) < 0) {
				fprintf(stderr, "vigil-agent: unknown log level %s\n", optarg);
				return 2;
			}
			vig_log_set_level((enum vig_log_level)vig_log_level_parse(optarg));
			break;
		case 'c':
			fprintf(stderr, "vigil-agent: --config is not supported yet\n");
			return 2;
		case 'h': vig_usage(stdout); return 0;
		default: vig_usage(stderr); return 2;
		}
	}
	if (optind != argc || to_stdout == (server != NULL) || (server && !token)) {
		vig_usage(stderr);
		return 2;
	}
	if (!cfg.n_watch) {
		for (size_t i = 0; i < VIG_ARRAY_LEN(vig_default_watch); i++)
			cfg.watch[cfg.n_watch++] = vig_default_watch[i];
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vig_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (server) {
		poster = vig_agent_poster_new(server, token, cacert, 0, errbuf);
		if (!poster)
			goto out_report;
	}
	agent = vig_agent_new(&cfg, poster ? vig_agent_emit_poster : vig_agent_emit_stdout, poster, errbuf);
	if (!agent)
		goto out_free;
	if (vig_agent_run(agent, &vig_stop, errbuf) == VIG_OK)
		rc = 0;
out_free:
	vig_agent_free(agent);
	vig_agent_poster_free(poster, 5000);
out_report:
	if (rc)
		vig_error("agent", "vigil-agent failed", "err=\"%s\"", errbuf);
	return rc;
}
