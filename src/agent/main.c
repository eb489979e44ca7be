/*
 * main.c - vigil-agent: runs the endpoint sensors and sends their events, and the forwarded
 * logs, to stdout or to a Vigil server.
 *
 *   vigil-agent --stdout [options]
 *   vigil-agent --server URL --cacert FILE --enroll TOKEN [--state-dir DIR] [options]
 *   vigil-agent [--server URL] [--state-dir DIR] [options]      (already enrolled: mutual TLS)
 *   vigil-agent --server URL --token TOKEN [options]             (POST /api/v1/events, no spool)
 *
 * Enrolled mode: events go through the disk spool to /api/v1/agent/events, with heartbeats,
 * inventory and response actions (transport.h). --enroll on an agent that is already enrolled
 * keeps the stored identity (so a service can always run with the same arguments) unless
 * --reenroll is given. Without --watch the file sensor watches /etc, /root/.ssh, /usr/bin,
 * /usr/sbin, /usr/lib/systemd and /var/spool/cron. Exit status: 0 after SIGINT/SIGTERM, 1 on a
 * runtime failure, 2 on usage.
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "common/log.h"
#include "fim.h"
#include "transport.h"

#define VIG_AGENT_MMAP_THRESHOLD (128 << 10) /* malloc: larger blocks are mmap'ed */
#define VIG_AGENT_ARENA_MAX 2                 /* malloc arenas */

static volatile int vig_stop;

static void vig_on_signal(int sig)
{
	(void)sig;
	vig_stop = 1;
}

static void vig_usage(FILE *out)
{
	fprintf(out,
		"usage: vigil-agent (--stdout | --server URL [--enroll TOKEN | --token TOKEN]) [options]\n"
		"  --stdout               print one JSON event per line\n"
		"  --server URL           vigild's URL (https://host:port)\n"
		"  --enroll TOKEN         enrol with this one-time token (key, CSR, certificate in --state-dir)\n"
		"  --reenroll             enrol again even when --state-dir holds an identity\n"
		"  --enroll-only          exit after enrolling\n"
		"  --state-dir DIR        identity, spool and positions (default " VIG_AGENT_STATE_DIR ")\n"
		"  --spool-max-bytes N    bound of the disk spool (default 256 MiB; oldest batches dropped)\n"
		"  --heartbeat SEC        seconds between heartbeats until the server says (default 30)\n"
		"  --flush-ms MS          longest wait of an event before its batch is cut (default 100)\n"
		"  --no-actions           do not poll for response actions\n"
		"  --token TOKEN          legacy: post to URL/api/v1/events with this bearer token, no spool\n"
		"  --cacert FILE          trust the certificates in FILE for --server (vigild's DATA/tls/server.crt)\n"
		"  --tail PATH[:FORMAT]   forward a log file (repeatable; FORMAT a parser name, auto or wtmp)\n"
		"  --journal              forward the systemd journal's login and account entries\n"
		"  --journal-dir DIR      read the journal files in DIR instead of the local journal\n"
		"  --no-sensors           forward logs only (no process, file or network sensors)\n"
		"  --watch PATH           file sensor path prefix (repeatable, at most %d)\n"
		"  --ignore-comm NAME     drop events of processes with this comm (repeatable, in the kernel)\n"
		"  --ignore-uid UID       drop events of processes with this real uid (repeatable, in the kernel)\n"
		"  --ignore-path PATH     no file events under PATH, inside the watched ones (repeatable)\n"
		"  --no-ebpf              use the fallback sensors (proc connector, inotify, /proc/net)\n"
		"  --health-interval SEC  seconds between health events (default 60)\n"
		"  --file-rate N          file events per second per process, 0 = no limit (default 2000)\n"
		"  --file-burst N         file events a process may send back to back (default 10000)\n"
		"  --udp-window SEC       one UDP event per process, op and peer per window (default 60)\n"
		"  --batch-ms MS          longest wait of a kernel record for the reader, 0 = none (default 50)\n"
		"  --ring-cpus N          CPUs that share one ring buffer of each sensor (default 8)\n"
		"  --no-fim               no file-integrity monitoring\n"
		"  --fim-path PATH        FIM file, directory or glob (repeatable; default: critical files)\n"
		"  --fim-exclude PATTERN  leave out this path or glob, or names matching PATTERN (repeatable)\n"
		"  --fim-interval SEC     seconds between full FIM rescans (default 3600)\n"
		"  --fim-hash-rate BYTES  FIM hashing budget in bytes per second (default 16 MiB)\n"
		"  --fim-max-files N      FIM entries at most (default 50000)\n"
		"  --log-level LEVEL      debug, info, warn or error (default info)\n"
		"  --config FILE          not supported yet\n",
		VIG_AGENT_MAX_WATCH);
}

static const char *const vig_default_watch[] = { "/etc", "/root/.ssh", "/usr/bin", "/usr/sbin",
						 "/usr/lib/systemd", "/var/spool/cron" };

struct vig_opts {
	struct vig_agent_config cfg;
	struct vig_fim_config fim;
	const char *server, *token, *cacert, *enroll, *state_dir, *journal_dir;
	struct vig_tail_file tails[VIG_TAIL_MAX_FILES];
	size_t n_tails;
	uint64_t spool_max;
	int heartbeat_s, flush_ms;
	bool to_stdout, reenroll, enroll_only, no_actions, journal, no_sensors, no_fim;
};

/* Parses the --fim-* options (codes 'f'..'k'); returns -1 to go on, else the exit status. */
static int vig_parse_fim_opt(int c, const char *arg, struct vig_fim_config *fim)
{
	int64_t v = 0;

	if (c == 'f' || c == 'g') {
		size_t *n = c == 'f' ? &fim->n_paths : &fim->n_exclude;

		bool ok = arg[0] == '/' || (c == 'g' && arg[0] && !strchr(arg, '/'));

		if (!ok || *n == (c == 'f' ? VIG_FIM_MAX_PATHS : VIG_FIM_MAX_EXCLUDES)) {
			fprintf(stderr, "vigil-agent: --fim-%s takes an absolute path%s, at most %d\n",
				c == 'f' ? "path" : "exclude", c == 'f' ? "" : " or a name pattern",
				c == 'f' ? VIG_FIM_MAX_PATHS : VIG_FIM_MAX_EXCLUDES);
			return 2;
		}
		(c == 'f' ? fim->paths : fim->exclude)[(*n)++] = arg;
		return -1;
	}
	if (!vig_parse_i64(arg, strlen(arg), &v) || v < 1 ||
	    (c == 'k' && v > 86400 * 7) || (c == 'r' && v < 65536) || (c == 'm' && v > 10000000)) {
		fprintf(stderr, "vigil-agent: --fim-%s: %s is out of range (see --help)\n",
			c == 'k' ? "interval" : c == 'r' ? "hash-rate" : "max-files", arg);
		return 2;
	}
	if (c == 'k')
		fim->interval_s = (int)v;
	else if (c == 'r')
		fim->hash_bytes_per_s = (uint64_t)v;
	else
		fim->max_files = (size_t)v;
	return -1;
}

/* Sensor cost options (codes above the letters). */
enum { VIG_OPT_FILE_RATE = 1000, VIG_OPT_FILE_BURST, VIG_OPT_UDP_WINDOW, VIG_OPT_BATCH_MS, VIG_OPT_RING_CPUS,
       VIG_OPT_IGNORE_UID, VIG_OPT_IGNORE_PATH };

/* Parses a sensor cost option into cfg; returns -1 to go on, else the exit status. A 0 given
 * for --file-rate or --batch-ms turns the feature off (stored as -1: 0 means the default). */
static int vig_parse_sensor_opt(int c, const char *arg, struct vig_agent_config *cfg)
{
	static const struct { int code; const char *name; int64_t min, max; } lim[] = {
		{ VIG_OPT_FILE_RATE, "file-rate", 0, 1000000 }, { VIG_OPT_FILE_BURST, "file-burst", 1, 10000000 },
		{ VIG_OPT_UDP_WINDOW, "udp-window", 1, 86400 }, { VIG_OPT_BATCH_MS, "batch-ms", 0, 1000 },
		{ VIG_OPT_RING_CPUS, "ring-cpus", 1, 4096 },
	};
	int64_t v = 0;

	for (size_t i = 0; i < VIG_ARRAY_LEN(lim); i++) {
		if (lim[i].code != c)
			continue;
		if (!vig_parse_i64(arg, strlen(arg), &v) || v < lim[i].min || v > lim[i].max) {
			fprintf(stderr, "vigil-agent: --%s takes %lld..%lld\n", lim[i].name, (long long)lim[i].min,
				(long long)lim[i].max);
			return 2;
		}
	}
	if (c == VIG_OPT_FILE_RATE)
		cfg->file_rate = v ? (int)v : -1;
	else if (c == VIG_OPT_FILE_BURST)
		cfg->file_burst = (int)v;
	else if (c == VIG_OPT_UDP_WINDOW)
		cfg->udp_window_s = (int)v;
	else if (c == VIG_OPT_RING_CPUS)
		cfg->ring_cpus = (int)v;
	else
		cfg->batch_ms = v ? (int)v : -1;
	return -1;
}

/* Parses the command line into o; returns -1 to go on, else the exit status. */
static int vig_parse_opts(int argc, char **argv, struct vig_opts *o)
{
	static const struct option opts[] = {
		{ "stdout", no_argument, NULL, 's' },      { "server", required_argument, NULL, 'S' },
		{ "token", required_argument, NULL, 't' }, { "watch", required_argument, NULL, 'w' },
		{ "cacert", required_argument, NULL, 'C' }, { "enroll", required_argument, NULL, 'E' },
		{ "reenroll", no_argument, NULL, 'R' },    { "enroll-only", no_argument, NULL, 'O' },
		{ "state-dir", required_argument, NULL, 'D' }, { "spool-max-bytes", required_argument, NULL, 'M' },
		{ "heartbeat", required_argument, NULL, 'B' }, { "no-actions", no_argument, NULL, 'A' },
		{ "tail", required_argument, NULL, 'T' },  { "journal", no_argument, NULL, 'J' },
		{ "journal-dir", required_argument, NULL, 'j' }, { "no-sensors", no_argument, NULL, 'N' },
		{ "ignore-comm", required_argument, NULL, 'i' }, { "no-ebpf", no_argument, NULL, 'n' },
		{ "health-interval", required_argument, NULL, 'H' }, { "log-level", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
		{ "flush-ms", required_argument, NULL, 'L' }, { "no-fim", no_argument, NULL, 'F' },
		{ "fim-path", required_argument, NULL, 'f' },
		{ "fim-exclude", required_argument, NULL, 'g' }, { "fim-interval", required_argument, NULL, 'k' },
		{ "fim-hash-rate", required_argument, NULL, 'r' }, { "fim-max-files", required_argument, NULL, 'm' },
		{ "file-rate", required_argument, NULL, VIG_OPT_FILE_RATE },
		{ "file-burst", required_argument, NULL, VIG_OPT_FILE_BURST },
		{ "udp-window", required_argument, NULL, VIG_OPT_UDP_WINDOW },
		{ "batch-ms", required_argument, NULL, VIG_OPT_BATCH_MS },
		{ "ring-cpus", required_argument, NULL, VIG_OPT_RING_CPUS },
		{ "ignore-uid", required_argument, NULL, VIG_OPT_IGNORE_UID },
		{ "ignore-path", required_argument, NULL, VIG_OPT_IGNORE_PATH },
		{ NULL, 0, NULL, 0 },
	};
	char errbuf[VIG_ERRBUF_SIZE];
	int64_t v;
	int c;

	o->state_dir = VIG_AGENT_STATE_DIR;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': o->to_stdout = true; break;
		case 'S': o->server = optarg; break;
		case 't': o->token = optarg; break;
		case 'C': o->cacert = optarg; break;
		case 'E': o->enroll = optarg; break;
		case 'R': o->reenroll = true; break;
		case 'O': o->enroll_only = true; break;
		case 'D': o->state_dir = optarg; break;
		case 'A': o->no_actions = true; break;
		case 'J': o->journal = true; break;
		case 'j': o->journal_dir = optarg; o->journal = true; break;
		case 'N': o->no_sensors = true; break;
		case 'n': o->cfg.no_ebpf = true; break;
		case 'M':
			if (!vig_parse_i64(optarg, strlen(optarg), &v) || v < (int64_t)VIG_SPOOL_MIN_MAX) {
				fprintf(stderr, "vigil-agent: --spool-max-bytes takes at least %u bytes\n",
					VIG_SPOOL_MIN_MAX);
				return 2;
			}
			o->spool_max = (uint64_t)v;
			break;
		case 'B':
			if (!vig_parse_i64(optarg, strlen(optarg), &v) || v < 1 || v > 3600) {
				fprintf(stderr, "vigil-agent: --heartbeat takes 1..3600 seconds\n");
				return 2;
			}
			o->heartbeat_s = (int)v;
			break;
		case 'T':
			if (o->n_tails == VIG_TAIL_MAX_FILES ||
			    vig_tail_spec_parse(optarg, &o->tails[o->n_tails], errbuf) != VIG_OK) {
				fprintf(stderr, "vigil-agent: %s\n",
					o->n_tails == VIG_TAIL_MAX_FILES ? "too many --tail" : errbuf);
				return 2;
			}
			o->n_tails++;
			break;
		case 'w':
			if (o->cfg.n_watch == VIG_AGENT_MAX_WATCH || optarg[0] != '/') {
				fprintf(stderr, "vigil-agent: --watch takes an absolute path, at most %d\n",
					VIG_AGENT_MAX_WATCH);
				return 2;
			}
			o->cfg.watch[o->cfg.n_watch++] = optarg;
			break;
		case 'i':
			if (o->cfg.n_ignore == VIG_AGENT_MAX_IGNORE) {
				fprintf(stderr, "vigil-agent: too many --ignore-comm\n");
				return 2;
			}
			if (strlen(optarg) >= VIG_ABI_COMM_LEN) {
				fprintf(stderr, "vigil-agent: --ignore-comm takes a comm of at most %d bytes\n",
					VIG_ABI_COMM_LEN - 1);
				return 2;
			}
			o->cfg.ignore_comm[o->cfg.n_ignore++] = optarg;
			break;
		case VIG_OPT_IGNORE_UID:
			if (o->cfg.n_ignore_uid == VIG_AGENT_MAX_IGNORE || !vig_parse_i64(optarg, strlen(optarg), &v) ||
			    v < 0 || v >= (int64_t)UINT32_MAX) {
				fprintf(stderr, "vigil-agent: --ignore-uid takes a uid, at most %d times\n",
					VIG_AGENT_MAX_IGNORE);
				return 2;
			}
			o->cfg.ignore_uid[o->cfg.n_ignore_uid++] = (uint32_t)v;
			break;
		case VIG_OPT_IGNORE_PATH:
			if (o->cfg.n_ignore_path == VIG_AGENT_MAX_WATCH || optarg[0] != '/' ||
			    strlen(optarg) + 2 > VIG_ABI_PREFIX_LEN) {
				fprintf(stderr, "vigil-agent: --ignore-path takes an absolute path of at most %d bytes, "
					"at most %d times\n", VIG_ABI_PREFIX_LEN - 2, VIG_AGENT_MAX_WATCH);
				return 2;
			}
			o->cfg.ignore_path[o->cfg.n_ignore_path++] = optarg;
			break;
		case 'H':
			if (!vig_parse_i64(optarg, strlen(optarg), &v) || v < 1 || v > 86400) {
				fprintf(stderr, "vigil-agent: --health-interval takes 1..86400 seconds\n");
				return 2;
			}
			o->cfg.health_interval_s = (int)v;
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
		case 'F': o->no_fim = true; break;
		case 'L':
			if (!vig_parse_i64(optarg, strlen(optarg), &v) || v < 1 || v > 60000) {
				fprintf(stderr, "vigil-agent: --flush-ms takes 1..60000 milliseconds\n");
				return 2;
			}
			o->flush_ms = (int)v;
			break;
		case 'f': case 'g': case 'k': case 'r': case 'm': {
			int rc = vig_parse_fim_opt(c, optarg, &o->fim);

			if (rc >= 0)
				return rc;
			break;
		}
		case VIG_OPT_FILE_RATE: case VIG_OPT_FILE_BURST: case VIG_OPT_UDP_WINDOW: case VIG_OPT_BATCH_MS:
		case VIG_OPT_RING_CPUS:
			if (vig_parse_sensor_opt(c, optarg, &o->cfg) >= 0)
				return 2;
			break;
		case 'h': vig_usage(stdout); return 0;
		default: vig_usage(stderr); return 2;
		}
	}
	if (optind != argc || (o->to_stdout && (o->server || o->enroll || o->token)) ||
	    (o->token && o->enroll) || (o->enroll && !o->server) || (o->token && !o->server) ||
	    (o->enroll_only && !o->enroll)) {
		vig_usage(stderr);
		return 2;
	}
	if (!o->cfg.n_watch) {
		for (size_t i = 0; i < VIG_ARRAY_LEN(vig_default_watch); i++)
			o->cfg.watch[o->cfg.n_watch++] = vig_default_watch[i];
	}
	return -1;
}

/* Enrols or loads the identity; fills id and *server (the URL to use). */
static enum vig_err vig_identity(struct vig_opts *o, struct vig_identity *id, char *errbuf)
{
	enum vig_err err = vig_state_dir_prepare(o->state_dir, errbuf);

	if (err != VIG_OK)
		return err;
	err = vig_identity_load(o->state_dir, id, errbuf);
	if (o->enroll && (err == VIG_ENOTFOUND || o->reenroll))
		return vig_enroll(o->server, o->cacert, o->enroll, o->state_dir, id, errbuf);
	if (err == VIG_OK && o->enroll)
		vig_info("agent", "already enrolled, --enroll ignored (use --reenroll to enrol again)",
			 "agent_id=%s", id->agent_id);
	return err;
}

/* Emit callback of the --stdout mode that several threads share. */
static void vig_emit_stdout_locked(void *ctx, const struct vig_event *ev)
{
	(void)ctx;
	flockfile(stdout);
	vig_agent_emit_stdout(NULL, ev);
	funlockfile(stdout);
}

/* Emit callback of the FIM thread: forwards to the sink (ctx), filled before the thread runs. */
static void vig_emit_sink(void *ctx, const struct vig_event *ev)
{
	const struct vig_forward_sink *sink = ctx;

	sink->emit(sink->ctx, ev);
}

static enum vig_err vig_wait_stop(void)
{
	while (!vig_stop)
		usleep(200 * 1000);
	return VIG_OK;
}

int main(int argc, char **argv)
{
	struct vig_opts o = { 0 };
	struct vig_transport_config tc = { 0 };
	struct vig_forward_sink sink = { 0 };
	struct vig_agent_poster *poster = NULL;
	struct vig_transport *transport = NULL;
	struct vig_journal *journal = NULL;
	struct vig_tail *tail = NULL;
	struct vig_agent *agent = NULL;
	struct vig_fim *fim = NULL;
	struct vig_agent_host host;
	struct vig_identity id;
	vig_agent_emit_fn *emit = vig_emit_stdout_locked;
	void *emit_ctx = NULL;
	char errbuf[VIG_ERRBUF_SIZE] = "";
	struct sigaction sa;
	int rc = vig_parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 1;
	/* Resident memory (docs/performance.md): a fixed mmap threshold keeps the multi-MiB
	 * temporary buffers of the probe loads (kernel BTF) out of the heap, so they go back to
	 * the kernel when freed, and two arenas serve the few threads. */
	mallopt(M_MMAP_THRESHOLD, VIG_AGENT_MMAP_THRESHOLD);
	mallopt(M_ARENA_MAX, VIG_AGENT_ARENA_MAX);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vig_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (vig_agent_host_init(&host, NULL, errbuf) != VIG_OK)
		goto out_report;
	if (!o.no_fim && !o.no_sensors && !o.enroll_only) {
		/* before the transport, whose actions thread hands it to fim_accept; without a usable
		 * state directory the sensors still run (logged) */
		char why[VIG_ERRBUF_SIZE] = "";

		if (vig_state_dir_prepare(o.state_dir, why) != VIG_OK ||
		    !(fim = vig_fim_new(&o.fim, o.state_dir, &host, vig_emit_sink, &sink, why)))
			vig_error("agent", "file integrity monitoring off", "err=\"%s\"", why);
	}
	if (o.token) {
		poster = vig_agent_poster_new(o.server, o.token, o.cacert, 0, errbuf);
		if (!poster)
			goto out_report;
		emit = vig_agent_emit_poster;
		emit_ctx = poster;
	} else if (!o.to_stdout) {
		if (vig_identity(&o, &id, errbuf) != VIG_OK)
			goto out_report;
		if (o.enroll_only) {
			printf("%s\n", id.agent_id);
			return 0;
		}
		tc.server = o.server ? o.server : id.server;
		tc.cacert = o.cacert ? o.cacert : (id.server_ca_path[0] ? id.server_ca_path : NULL);
		tc.state_dir = o.state_dir;
		tc.id = &id;
		tc.spool_max_bytes = o.spool_max;
		tc.heartbeat_s = o.heartbeat_s;
		tc.flush_ms = o.flush_ms;
		tc.no_actions = o.no_actions;
		tc.mode = o.no_sensors ? NULL : (o.cfg.no_ebpf ? "fallback" : "ebpf");
		tc.fim = fim;
		transport = vig_transport_new(&tc, errbuf);
		if (!transport)
			goto out_report;
		emit = vig_agent_emit_transport;
		emit_ctx = transport;
	}
	sink.emit = transport ? vig_transport_emit : emit;
	sink.ctx = emit_ctx;
	sink.host = &host;
	if ((o.n_tails || o.journal) && vig_state_dir_prepare(o.state_dir, errbuf) != VIG_OK)
		goto out_free;
	if (o.n_tails && !(tail = vig_tail_start(o.tails, o.n_tails, o.state_dir, &sink, 0, errbuf)))
		goto out_free;
	if (o.journal && !(journal = vig_journal_start(o.journal_dir, o.state_dir, &sink, errbuf)))
		goto out_free;
	if (o.no_sensors) {
		rc = vig_wait_stop() == VIG_OK ? 0 : 1;
		goto out_free;
	}
	if (fim && vig_fim_start(fim, errbuf) != VIG_OK)
		goto out_free;
	agent = vig_agent_new(&o.cfg, emit, emit_ctx, errbuf);
	if (!agent)
		goto out_free;
	if (transport)
		vig_transport_set_agent(transport, agent);
	if (vig_agent_run(agent, &vig_stop, errbuf) == VIG_OK)
		rc = 0;
out_free:
	vig_fim_stop(fim); /* its thread emits into the transport */
	vig_tail_stop(tail);
	vig_journal_stop(journal);
	if (transport)
		vig_transport_set_agent(transport, NULL);
	vig_agent_free(agent);
	vig_agent_poster_free(poster, 5000);
	vig_transport_free(transport, 5000);
	vig_fim_free(fim);
out_report:
	if (rc)
		vig_error("agent", "vigil-agent failed", "err=\"%s\"", errbuf);
	return rc;
}
