/*
 * gen_events.c - synthetic events for the benchmarks: a realistic mix of process starts,
 * network connections, sshd authentications and firewall drops with varied values, as NDJSON.
 */
#include "gen_events.h"

#include "common/vtime.h"

static const char *const procs[] = {"bash", "sshd", "curl", "python3", "nginx", "cron", "sudo",
				    "systemd", "postgres", "java"};
static const char *const users[] = {"root", "alice", "bob", "www-data", "postgres", "deploy"};
static const char *const hosts[] = {"web-01", "web-02", "db-01", "bastion", "build-7", "mail"};

void vig_bench_gen_event(struct vig_buf *b, unsigned long i, int64_t ts)
{
	char t[VIG_TIME_STRLEN];
	unsigned r = (unsigned)(i * 2654435761u);
	const char *host = hosts[r % 6], *user = users[(r >> 3) % 6], *proc = procs[(r >> 6) % 10];

	vig_time_format(ts, t);
	switch (i % 4) {
	case 0:
		vig_buf_printf(b,
			"{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":\"process\","
			"\"type\":\"start\",\"action\":\"exec\"},\"host\":{\"name\":\"%s\"},"
			"\"process\":{\"pid\":%lu,\"name\":\"%s\",\"executable\":\"/usr/bin/%s\","
			"\"command_line\":\"%s -c job-%u\",\"parent\":{\"pid\":%u,\"name\":\"bash\"}},"
			"\"user\":{\"name\":\"%s\"}}\n",
			t, host, 1000 + i % 60000, proc, proc, proc, r % 500, 1 + r % 4000, user);
		break;
	case 1:
		vig_buf_printf(b,
			"{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":\"network\","
			"\"action\":\"connection_attempted\"},\"host\":{\"name\":\"%s\"},"
			"\"source\":{\"ip\":\"10.0.%u.%u\",\"port\":%u},\"destination\":{\"ip\":"
			"\"198.51.%u.%u\",\"port\":%u},\"network\":{\"transport\":\"tcp\"},"
			"\"process\":{\"name\":\"%s\",\"pid\":%lu}}\n",
			t, host, r % 8, (r >> 8) % 250, 32768 + r % 28000, (r >> 4) % 4, (r >> 12) % 250,
			(unsigned[]){443, 80, 22, 53, 4444, 8080}[(r >> 5) % 6], proc, 1000 + i % 60000);
		break;
	case 2:
		vig_buf_printf(b,
			"{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":\"authentication\","
			"\"action\":\"ssh_login\",\"outcome\":\"%s\"},\"host\":{\"name\":\"%s\"},"
			"\"user\":{\"name\":\"%s\"},\"source\":{\"ip\":\"203.0.113.%u\",\"port\":%u},"
			"\"message\":\"%s password for %s from 203.0.113.%u port %u ssh2\"}\n",
			t, r % 5 ? "failure" : "success", host, user, r % 250, 40000 + r % 20000,
			r % 5 ? "Failed" : "Accepted", user, r % 250, 40000 + r % 20000);
		break;
	default:
		vig_buf_printf(b,
			"{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"category\":\"network\","
			"\"action\":\"deny\",\"dataset\":\"iptables\"},\"observer\":{\"name\":\"fw-1\"},"
			"\"source\":{\"ip\":\"192.0.2.%u\",\"port\":%u},\"destination\":{\"ip\":\"10.0.0.%u\","
			"\"port\":%u},\"network\":{\"transport\":\"%s\"}}\n",
			t, r % 250, 1024 + r % 60000, (r >> 8) % 250, (r >> 3) % 1024,
			r % 3 ? "tcp" : "udp");
		break;
	}
}

