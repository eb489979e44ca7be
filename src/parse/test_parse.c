/*
 * test_parse.c - unit tests of the parsers over fixtures written for them: each format's
 * typical records and field mapping, the ECS classification, malformed input (clear error,
 * counted reason, raw line kept, no crash), the Zeek header state, audit grouping, the
 * registry and format guessing, and the fast extension keys' validity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../common/vtime.h"
#include "parse.h"
#include "parse_int.h"

/* 2026-11-23T12:00:00Z: the reference "now" for yearless syslog. */
#define REF_NS (1795435200LL * VIG_NS_PER_SEC)

struct fx {
	struct vig_parse_ctx ctx;
	struct vig_arena arena;
	struct vig_event ev;
	char err[VIG_ERRBUF_SIZE];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	vig_parse_ctx_init(&f->ctx, REF_NS);
	vig_arena_init(&f->arena, 16 << 10, 4 << 20);
	vig_event_init(&f->ev, &f->arena);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vig_arena_release(&f->arena);
	free(f);
	return 0;
}

static enum vig_err run(struct fx *f, const char *parser, const char *line)
{
	const struct vig_parser *p = vig_parser_find(parser);

	assert_non_null(p);
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	f->err[0] = '\0';
	return p->parse(&f->ctx, line, strlen(line), &f->ev, f->err);
}

/* Text of a core or extension field ("" when absent). */
static const char *get(struct fx *f, const char *name)
{
	static char buf[1024];
	const char *direct;
	const struct vig_val *v = vig_event_get_by_name(&f->ev, name, strlen(name));

	if (!v)
		return "";
	size_t n = vig_val_text(v, buf, sizeof(buf), &direct);
	(void)n;
	return direct ? direct : buf;
}

static int64_t geti(struct fx *f, const char *name)
{
	const struct vig_val *v = vig_event_get_by_name(&f->ev, name, strlen(name));

	assert_non_null(v);
	assert_true(v->type == VIG_T_INT || v->type == VIG_T_TS || v->type == VIG_T_BOOL);
	return v->u.i;
}

static bool has(struct fx *f, const char *name)
{
	return vig_event_get_by_name(&f->ev, name, strlen(name)) != NULL;
}

static int64_t ts(const char *rfc3339)
{
	int64_t ns;

	assert_true(vig_time_parse(rfc3339, strlen(rfc3339), &ns));
	return ns;
}

/* ---- syslog framing ---- */

static void test_rfc3164(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "syslog", "<38>Nov 23 10:00:01 web1 myapp[4242]: hello world"), VIG_OK);
	assert_int_equal(geti(f, "@timestamp"), ts("2026-11-23T10:00:01Z"));
	assert_string_equal(get(f, "host.name"), "web1");
	assert_string_equal(get(f, "process.name"), "myapp");
	assert_int_equal(geti(f, "process.pid"), 4242);
	assert_int_equal(geti(f, "log.syslog.facility.code"), 4);
	assert_string_equal(get(f, "log.syslog.facility.name"), "auth");
	assert_int_equal(geti(f, "log.syslog.severity.code"), 6);
	assert_string_equal(get(f, "log.level"), "informational");
	assert_string_equal(get(f, "event.dataset"), "system.syslog");
	assert_string_equal(get(f, "message"), "<38>Nov 23 10:00:01 web1 myapp[4242]: hello world");

	/* No PRI, single-digit day, December seen in November → last year. */
	assert_int_equal(run(f, "syslog", "Dec  5 23:59:59 db2 kernel: eth0 up"), VIG_OK);
	assert_int_equal(geti(f, "@timestamp"), ts("2025-12-05T23:59:59Z"));
	assert_string_equal(get(f, "process.name"), "kernel");
	assert_false(has(f, "process.pid"));

	/* rsyslog high-precision timestamps. */
	assert_int_equal(run(f, "syslog", "2026-11-23T10:00:01.250+01:00 h1 cron[1]: x"), VIG_OK);
	assert_int_equal(geti(f, "@timestamp"), ts("2026-11-23T09:00:01.250Z"));

	/* A tag without colon ("syslogd 1.4.1: restart.") still frames. */
	assert_int_equal(run(f, "syslog", "Jun  9 06:06:20 combo syslogd 1.4.1: restart."), VIG_OK);
	assert_string_equal(get(f, "process.name"), "syslogd");
}

static void test_rfc5424(void **state)
{
	struct fx *f = *state;
	const char *line = "<165>1 2026-11-23T22:14:15.003Z mymachine.example.com evntslog 77 ID47 "
			   "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\\"ic\\]ation\" eventID=\"1011\"]"
			   "[examplePriority@32473 class=\"high\"] \xef\xbb\xbf" "An application event";

	assert_int_equal(run(f, "syslog", line), VIG_OK);
	assert_int_equal(geti(f, "@timestamp"), ts("2026-11-23T22:14:15.003Z"));
	assert_string_equal(get(f, "host.name"), "mymachine.example.com");
	assert_string_equal(get(f, "process.name"), "evntslog");
	assert_int_equal(geti(f, "process.pid"), 77);
	assert_string_equal(get(f, "log.syslog.msgid"), "ID47");
	assert_int_equal(geti(f, "log.syslog.facility.code"), 20);
	assert_int_equal(geti(f, "log.syslog.severity.code"), 5);
	assert_string_equal(get(f, "log.syslog.structured_data.exampleSDID@32473.eventSource"),
			    "Appl\"ic]ation");
	assert_string_equal(get(f, "log.syslog.structured_data.examplePriority@32473.class"), "high");

	/* Nil values everywhere. */
	assert_int_equal(run(f, "syslog", "<13>1 - - - - - - just text"), VIG_OK);
	assert_false(has(f, "@timestamp"));
	assert_false(has(f, "host.name"));

	/* Broken structured data and timestamps are refused with a reason. */
	assert_int_equal(run(f, "syslog", "<13>1 2026-11-23T22:14:15Z h a 1 m [id k=\"unterminated]"),
			 VIG_EPARSE);
	assert_string_equal(f->err, "bad structured data");
	assert_int_equal(run(f, "syslog", "<13>1 yesterday h a 1 m - x"), VIG_EPARSE);
	assert_int_equal(f->ctx.stats[VIG_PARSER_SYSLOG].failed[VIG_PR_TIMESTAMP], 1);
}

static void test_syslog_failures(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = {"", "\n", "<999>Nov 23 10:00:01 h p: x", "<12", "hello world",
					  "Nov 99 10:00:01 h p: x", "Nov 23 10:00:01", "<1>"};

	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		enum vig_err rc = run(f, "syslog", bad[i]);
		assert_int_equal(rc, VIG_EPARSE);
		assert_true(f->err[0] != '\0');
	}
	/* The raw line is kept even on failure. */
	assert_int_equal(run(f, "syslog", "hello world"), VIG_EPARSE);
	assert_string_equal(get(f, "message"), "hello world");
	assert_int_equal(f->ctx.stats[VIG_PARSER_SYSLOG].failed[VIG_PR_EMPTY], 2);
	assert_true(f->ctx.stats[VIG_PARSER_SYSLOG].failed[VIG_PR_FRAMING] >= 4);
	assert_int_equal(f->ctx.stats[VIG_PARSER_SYSLOG].parsed, 0);
}

/* ---- sshd, PAM, sudo, su, cron, accounts ---- */

static void test_sshd(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h1 sshd[99]: Failed password for invalid user "
					   "oracle from 203.0.113.7 port 50022 ssh2"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "system.auth");
	assert_string_equal(get(f, "event.category"), "authentication");
	assert_string_equal(get(f, "event.outcome"), "failure");
	assert_string_equal(get(f, "event.action"), "ssh_login");
	assert_string_equal(get(f, "user.name"), "oracle");
	assert_string_equal(get(f, "source.ip"), "203.0.113.7");
	assert_int_equal(geti(f, "source.port"), 50022);
	assert_string_equal(get(f, "system.auth.ssh.method"), "password");
	assert_int_equal(geti(f, "system.auth.ssh.invalid_user"), 1);
	assert_string_equal(get(f, "related.ip"), "203.0.113.7");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h1 sshd[99]: Accepted publickey for alice from "
					   "2001:db8::5 port 41000 ssh2: ED25519 SHA256:abc"), VIG_OK);
	assert_string_equal(get(f, "event.outcome"), "success");
	assert_string_equal(get(f, "user.name"), "alice");
	assert_string_equal(get(f, "source.ip"), "2001:db8::5");
	assert_string_equal(get(f, "system.auth.ssh.method"), "publickey");

	assert_int_equal(run(f, "syslog", "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from "
					   "173.234.31.186"), VIG_OK);
	assert_string_equal(get(f, "event.action"), "invalid_user");
	assert_string_equal(get(f, "user.name"), "webmaster");
	assert_false(has(f, "source.port"));

	assert_int_equal(run(f, "syslog", "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking "
					   "getaddrinfo for ns.example.com [173.234.31.186] failed - "
					   "POSSIBLE BREAK-IN ATTEMPT!"), VIG_OK);
	assert_string_equal(get(f, "event.action"), "reverse_mapping_failed");
	assert_string_equal(get(f, "source.domain"), "ns.example.com");
	assert_string_equal(get(f, "source.ip"), "173.234.31.186");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: Received disconnect from 10.0.0.9 "
					   "port 2222:11: Bye Bye [preauth]"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "session");
	assert_string_equal(get(f, "source.ip"), "10.0.0.9");
	assert_int_equal(geti(f, "source.port"), 2222);

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: Connection closed by authenticating "
					   "user root 10.1.1.1 port 4000 [preauth]"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "root");
	assert_string_equal(get(f, "source.ip"), "10.1.1.1");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: error: maximum authentication attempts "
					   "exceeded for invalid user admin from 10.2.2.2 port 22 ssh2 [preauth]"),
			 VIG_OK);
	assert_string_equal(get(f, "event.action"), "max_auth_attempts_exceeded");
	assert_string_equal(get(f, "user.name"), "admin");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: message repeated 3 times: [ Failed "
					   "password for root from 10.3.3.3 port 1 ssh2]"), VIG_OK);
	assert_int_equal(geti(f, "event.count"), 3);
	assert_string_equal(get(f, "user.name"), "root");

	assert_int_equal(run(f, "syslog", "Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid "
					   "user webmaster [preauth]"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "webmaster");
	assert_int_equal(run(f, "syslog", "Dec 10 06:55:46 LabSZ sshd[24200]: Did not receive identification "
					   "string from 10.9.9.9"), VIG_OK);
	assert_string_equal(get(f, "source.ip"), "10.9.9.9");

	/* Unknown sshd text stays plain syslog, parsed but not typed. */
	uint64_t typed = f->ctx.stats[VIG_PARSER_SYSLOG].typed;
	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: Server has a new idea"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "system.syslog");
	assert_int_equal(f->ctx.stats[VIG_PARSER_SYSLOG].typed, typed);
	/* A garbage address is not an IP: no source.ip, no crash. */
	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[1]: Failed password for x from 999.1.1.1 "
					   "port 99999999999999999999 ssh2"), VIG_OK);
	assert_false(has(f, "source.ip"));
	assert_false(has(f, "source.port"));
}

static void test_pam(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[7]: pam_unix(sshd:auth): authentication "
					   "failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.2  user=bob"),
			 VIG_OK);
	assert_string_equal(get(f, "event.action"), "authentication_failure");
	assert_string_equal(get(f, "event.outcome"), "failure");
	assert_string_equal(get(f, "user.name"), "bob");
	assert_string_equal(get(f, "source.ip"), "198.51.100.2");
	assert_string_equal(get(f, "system.auth.pam.service"), "sshd");
	assert_string_equal(get(f, "system.auth.pam.module"), "pam_unix");

	assert_int_equal(run(f, "syslog", "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication "
					   "failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=host.example.org "),
			 VIG_OK);
	assert_string_equal(get(f, "source.domain"), "host.example.org");
	assert_string_equal(get(f, "system.auth.pam.service"), "sshd");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h su[3]: pam_unix(su:session): session opened for "
					   "user root by alice(uid=1000)"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "session");
	assert_string_equal(get(f, "event.type"), "start");
	assert_string_equal(get(f, "user.name"), "alice");
	assert_string_equal(get(f, "user.target.name"), "root");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[3]: pam_unix(sshd:session): session opened "
					   "for user root(uid=0) by (uid=0)"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "root");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sudo[3]: pam_unix(sudo:session): session opened "
					   "for user root(uid=0) by alice(uid=1000)"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "alice");
	assert_string_equal(get(f, "user.target.name"), "root");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sshd[3]: pam_unix(sshd:session): session closed "
					   "for user carol"), VIG_OK);
	assert_string_equal(get(f, "event.type"), "end");
	assert_string_equal(get(f, "user.name"), "carol");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h passwd[3]: pam_unix(passwd:chauthtok): password "
					   "changed for dave"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "iam");
	assert_string_equal(get(f, "user.target.name"), "dave");
}

static void test_sudo_su_cron(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; "
					   "USER=root ; COMMAND=/usr/bin/apt install -y nmap ; echo"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "process");
	assert_string_equal(get(f, "event.action"), "sudo");
	assert_string_equal(get(f, "event.outcome"), "success");
	assert_string_equal(get(f, "user.name"), "alice");
	assert_string_equal(get(f, "user.effective.name"), "root");
	assert_string_equal(get(f, "user.target.name"), "root");
	assert_string_equal(get(f, "process.working_directory"), "/home/alice");
	assert_string_equal(get(f, "process.command_line"), "/usr/bin/apt install -y nmap ; echo");
	assert_string_equal(get(f, "process.executable"), "/usr/bin/apt");
	assert_string_equal(get(f, "system.auth.sudo.tty"), "pts/0");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h sudo: mallory : user NOT in sudoers ; TTY=pts/1 ; "
					   "PWD=/tmp ; USER=root ; COMMAND=/bin/sh"), VIG_OK);
	assert_string_equal(get(f, "event.outcome"), "failure");
	assert_string_equal(get(f, "system.auth.sudo.error"), "user NOT in sudoers");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h su[9]: FAILED su for root by eve"), VIG_OK);
	assert_string_equal(get(f, "event.outcome"), "failure");
	assert_string_equal(get(f, "user.name"), "eve");
	assert_string_equal(get(f, "user.target.name"), "root");
	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h su[9]: (to root) bob on pts/2"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "bob");
	assert_string_equal(get(f, "user.target.name"), "root");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h CRON[5]: (root) CMD (cd / && run-parts --report "
					   "/etc/cron.hourly)"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "system.cron");
	assert_string_equal(get(f, "user.name"), "root");
	assert_string_equal(get(f, "process.command_line"), "cd / && run-parts --report /etc/cron.hourly");
}

static void test_accounts(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h useradd[1]: new user: name=backdoor, UID=0, GID=0, "
					   "home=/root, shell=/bin/bash, from=/dev/pts/0"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "iam");
	assert_string_equal(get(f, "event.type"), "creation");
	assert_string_equal(get(f, "event.action"), "user_created");
	assert_string_equal(get(f, "user.target.name"), "backdoor");
	assert_string_equal(get(f, "user.target.id"), "0");
	assert_string_equal(get(f, "system.auth.useradd.shell"), "/bin/bash");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h groupadd[1]: new group: name=ops, GID=1005"), VIG_OK);
	assert_string_equal(get(f, "event.action"), "group_created");
	assert_string_equal(get(f, "group.name"), "ops");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h userdel[1]: delete user 'olduser'"), VIG_OK);
	assert_string_equal(get(f, "event.type"), "deletion");
	assert_string_equal(get(f, "user.target.name"), "olduser");

	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h usermod[1]: add 'bob' to group 'sudo'"), VIG_OK);
	assert_string_equal(get(f, "event.action"), "user_added_to_group");
	assert_string_equal(get(f, "group.name"), "sudo");
}

/* ---- netfilter ---- */

static void test_iptables(void **state)
{
	struct fx *f = *state;
	const char *ufw = "Nov 23 10:00:01 fw kernel: [ 5.123456] [UFW BLOCK] IN=eth0 OUT= "
			  "MAC=00:0d:3a:2f:f2:27:12:34:56:78:9a:bc:08:00 SRC=198.51.100.9 DST=10.0.0.4 LEN=60 "
			  "TOS=0x00 PREC=0x00 TTL=49 ID=7 DF PROTO=TCP SPT=4444 DPT=22 WINDOW=64240 RES=0x00 "
			  "SYN URGP=0";

	assert_int_equal(run(f, "iptables", ufw), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "iptables");
	assert_string_equal(get(f, "rule.name"), "[UFW BLOCK]");
	assert_string_equal(get(f, "event.action"), "deny");
	assert_string_equal(get(f, "event.type"), "denied");
	assert_string_equal(get(f, "source.ip"), "198.51.100.9");
	assert_string_equal(get(f, "destination.ip"), "10.0.0.4");
	assert_int_equal(geti(f, "source.port"), 4444);
	assert_int_equal(geti(f, "destination.port"), 22);
	assert_string_equal(get(f, "network.transport"), "tcp");
	assert_string_equal(get(f, "network.direction"), "ingress");
	assert_int_equal(geti(f, "network.bytes"), 60);
	assert_int_equal(geti(f, "iptables.ttl"), 49);
	assert_string_equal(get(f, "iptables.tcp.flags"), "SYN");
	assert_string_equal(get(f, "iptables.fragment_flags"), "DF");
	assert_string_equal(get(f, "iptables.input_device"), "eth0");
	assert_false(has(f, "iptables.output_device"));
	assert_string_equal(get(f, "source.mac"), "12:34:56:78:9a:bc");
	assert_string_equal(get(f, "destination.mac"), "00:0d:3a:2f:f2:27");
	assert_string_equal(get(f, "host.name"), "fw");

	/* Through the syslog dispatcher: same fields. */
	assert_int_equal(run(f, "syslog", ufw), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "iptables");
	assert_string_equal(get(f, "event.action"), "deny");

	/* Bare kernel text, IPv6, ICMPv6, accept prefix, outbound. */
	assert_int_equal(run(f, "iptables", "IPT-ACCEPT: IN= OUT=lo SRC=2001:db8::1 DST=2001:db8::2 LEN=104 "
					     "TC=0 HOPLIMIT=64 FLOWLBL=1 PROTO=ICMPv6 TYPE=128 CODE=0 ID=3 SEQ=1"),
			 VIG_OK);
	assert_string_equal(get(f, "event.action"), "allow");
	assert_string_equal(get(f, "network.transport"), "ipv6-icmp");
	assert_string_equal(get(f, "network.direction"), "egress");
	assert_string_equal(get(f, "source.ip"), "2001:db8::1");
	assert_int_equal(geti(f, "iptables.icmp.type"), 128);

	/* Ubiquiti "-D]" suffix is a drop; the prefix is glued to IN=. */
	assert_int_equal(run(f, "iptables", "Jan  5 20:17:01 MainFirewall kernel: [WAN_IN-3000-D]IN=eth0 OUT=eth2 "
					     "SRC=192.0.2.1 DST=192.0.2.25 LEN=52 PROTO=UDP SPT=1 DPT=2 LEN=32"), VIG_OK);
	assert_string_equal(get(f, "event.action"), "drop");
	assert_string_equal(get(f, "rule.name"), "[WAN_IN-3000-D]");
	assert_string_equal(get(f, "network.direction"), "forwarded");
	assert_int_equal(geti(f, "iptables.transport_length"), 32);

	/* Not a netfilter line: refused with a reason. */
	assert_int_equal(run(f, "iptables", "Nov 23 10:00:01 fw kernel: eth0: link up"), VIG_EPARSE);
	assert_true(strstr(f->err, "netfilter") != NULL);
	assert_int_equal(f->ctx.stats[VIG_PARSER_IPTABLES].failed[VIG_PR_FRAMING], 1);
	/* Bad SRC: still parsed, flagged. */
	assert_int_equal(run(f, "iptables", "IN=eth0 OUT= SRC=1.2.3 DST=10.0.0.1 PROTO=TCP SPT=x DPT=80"), VIG_OK);
	assert_false(has(f, "source.ip"));
	assert_true(has(f, "iptables.parse_warning"));
}

/* ---- web ---- */

static void test_apache(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "apache", "83.149.9.216 - frank [17/May/2015:10:05:03 +0200] \"GET "
					   "/presentations/x.png?a=1&b=2 HTTP/1.1\" 404 203023 \"http://ref.example/\" "
					   "\"Mozilla/5.0 (X11)\""), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "apache.access");
	assert_int_equal(geti(f, "@timestamp"), ts("2015-05-17T08:05:03Z"));
	assert_string_equal(get(f, "source.ip"), "83.149.9.216");
	assert_string_equal(get(f, "user.name"), "frank");
	assert_string_equal(get(f, "http.request.method"), "GET");
	assert_string_equal(get(f, "url.original"), "/presentations/x.png?a=1&b=2");
	assert_string_equal(get(f, "url.path"), "/presentations/x.png");
	assert_string_equal(get(f, "url.query"), "a=1&b=2");
	assert_string_equal(get(f, "http.version"), "1.1");
	assert_int_equal(geti(f, "http.response.status_code"), 404);
	assert_int_equal(geti(f, "http.response.body.bytes"), 203023);
	assert_string_equal(get(f, "http.request.referrer"), "http://ref.example/");
	assert_string_equal(get(f, "user_agent.original"), "Mozilla/5.0 (X11)");
	assert_string_equal(get(f, "event.outcome"), "failure");

	/* Common format, '-' bytes, binary junk request. */
	assert_int_equal(run(f, "apache", "10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] \"\\x16\\x03\\x01\" 400 -"),
			 VIG_OK);
	assert_false(has(f, "http.request.method"));
	assert_true(has(f, "http.request.raw"));
	assert_false(has(f, "http.response.body.bytes"));

	/* Apache error log, both generations. */
	assert_int_equal(run(f, "apache", "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error "
					   "state 6"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "apache.error");
	assert_string_equal(get(f, "log.level"), "error");
	assert_int_equal(geti(f, "@timestamp"), ts("2005-12-04T04:47:44Z"));
	assert_int_equal(run(f, "apache", "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 1234:tid 5] "
					   "[client 192.0.2.7:5678] AH00126: Invalid URI"), VIG_OK);
	assert_string_equal(get(f, "apache.error.module"), "core");
	assert_int_equal(geti(f, "process.pid"), 1234);
	assert_string_equal(get(f, "source.ip"), "192.0.2.7");
	assert_int_equal(geti(f, "source.port"), 5678);

	static const char *const bad[] = {"garbage", "1.2.3.4 - - [32/Foo/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1",
					  "1.2.3.4 - - [17/May/9999:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1",
					  "[Sun Dec 04 04:47:44 9999] [error] x",
					  "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1 200 1",
					  "1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET /\" abc 1", "[not a date] x"};
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		assert_int_equal(run(f, "apache", bad[i]), VIG_EPARSE);
		assert_true(f->err[0] != '\0');
	}
}

/* ---- Suricata ---- */

static void test_suricata(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:26.985026+0100\",\"flow_id\":1,"
					     "\"event_type\":\"alert\",\"src_ip\":\"172.17.0.2\",\"src_port\":5555,"
					     "\"dest_ip\":\"10.1.1.1\",\"dest_port\":80,\"proto\":\"TCP\",\"alert\":"
					     "{\"action\":\"blocked\",\"gid\":1,\"signature_id\":2013028,\"rev\":4,"
					     "\"signature\":\"ET POLICY curl User-Agent\",\"category\":\"Attempted "
					     "Information Leak\",\"severity\":2},\"http\":{\"hostname\":\"x.example\","
					     "\"url\":\"/a?b=c\",\"http_method\":\"GET\",\"status\":200}}"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "suricata.eve");
	assert_string_equal(get(f, "event.kind"), "alert");
	assert_string_equal(get(f, "event.action"), "blocked");
	assert_string_equal(get(f, "event.type"), "denied");
	assert_string_equal(get(f, "rule.id"), "2013028");
	assert_string_equal(get(f, "rule.name"), "ET POLICY curl User-Agent");
	assert_int_equal(geti(f, "event.severity"), 2);
	assert_string_equal(get(f, "suricata.eve.alert.category"), "Attempted Information Leak");
	assert_string_equal(get(f, "source.ip"), "172.17.0.2");
	assert_int_equal(geti(f, "destination.port"), 80);
	assert_string_equal(get(f, "network.transport"), "tcp");
	assert_string_equal(get(f, "url.domain"), "x.example");
	assert_string_equal(get(f, "url.query"), "b=c");
	assert_int_equal(geti(f, "@timestamp"), ts("2017-01-30T15:12:26.985026Z"));

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"dns\","
					     "\"dns\":{\"type\":\"query\",\"rrname\":\"evil.example\",\"rrtype\":\"A\"}}"),
			 VIG_OK);
	assert_string_equal(get(f, "dns.question.name"), "evil.example");
	assert_string_equal(get(f, "dns.question.type"), "A");

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"tls\","
					     "\"tls\":{\"sni\":\"c2.example\",\"version\":\"TLS 1.2\",\"ja3\":{\"hash\":"
					     "\"e7d705a3286e19ea42f587b344ee6865\"},\"ja3s\":{\"hash\":\"abc\"}}}"), VIG_OK);
	assert_string_equal(get(f, "tls.client.server_name"), "c2.example");
	assert_string_equal(get(f, "tls.client.ja3"), "e7d705a3286e19ea42f587b344ee6865");
	assert_string_equal(get(f, "destination.domain"), "c2.example");

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"stats\","
					     "\"stats\":{\"uptime\":30,\"decoder\":{\"pkts\":5}}}"), VIG_OK);
	assert_string_equal(get(f, "event.kind"), "metric");
	assert_int_equal(geti(f, "suricata.eve.stats.uptime"), 30);

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"flow\","
					     "\"flow\":{\"bytes_toserver\":10,\"bytes_toclient\":20}}"), VIG_OK);
	assert_int_equal(geti(f, "network.bytes"), 30);

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"fileinfo\","
					     "\"fileinfo\":{\"filename\":\"/d/x.exe\",\"size\":42}}"), VIG_OK);
	assert_string_equal(get(f, "file.name"), "x.exe");
	assert_int_equal(geti(f, "file.size"), 42);

	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"bad\",\"event_type\":\"dns\"}"), VIG_EPARSE);
	assert_int_equal(run(f, "suricata", "{\"timestamp\":\"2017-01-30T16:12:27Z\"}"), VIG_EPARSE);
	assert_int_equal(run(f, "suricata", "[1,2]"), VIG_EPARSE);
	assert_int_equal(run(f, "suricata", "{\"timestamp\":"), VIG_EPARSE);
	assert_true(strstr(f->err, "eve:") != NULL);
	assert_int_equal(f->ctx.stats[VIG_PARSER_SURICATA].failed[VIG_PR_JSON], 2);
}

/* ---- Zeek ---- */

static void test_zeek_tsv(void **state)
{
	struct fx *f = *state;
	static const char *const header[] = {
		"#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
		"#path\tconn", "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"
			       "duration\torig_bytes\tresp_bytes\tconn_state\thistory\ttunnel_parents",
		"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\t"
		"string\tset[string]"};

	/* Data before a header is refused. */
	assert_int_equal(run(f, "zeek", "1521911721.255387\tC1\t10.0.0.1"), VIG_EPARSE);
	assert_int_equal(f->ctx.stats[VIG_PARSER_ZEEK].failed[VIG_PR_HEADER], 1);
	for (size_t i = 0; i < VIG_ARRAY_LEN(header); i++)
		assert_int_equal(run(f, "zeek", header[i]), VIG_ENOTFOUND);
	assert_int_equal(f->ctx.zeek.n_fields, 14);
	assert_int_equal(run(f, "zeek", "1521911721.255387\tC8Tful\t10.164.94.120\t39681\t10.47.3.155\t3389\t"
					 "tcp\tssl\t0.004266\t97\t19\tRSTR\tSh\\x41D\t(empty)"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "zeek.conn");
	assert_string_equal(get(f, "event.category"), "network");
	assert_int_equal(geti(f, "@timestamp"), 1521911721255387000LL);
	assert_string_equal(get(f, "source.ip"), "10.164.94.120");
	assert_int_equal(geti(f, "source.port"), 39681);
	assert_string_equal(get(f, "destination.ip"), "10.47.3.155");
	assert_int_equal(geti(f, "destination.port"), 3389);
	assert_string_equal(get(f, "network.transport"), "tcp");
	assert_string_equal(get(f, "network.protocol"), "ssl");
	assert_int_equal(geti(f, "event.duration"), 4266000);
	assert_int_equal(geti(f, "source.bytes"), 97);
	assert_string_equal(get(f, "zeek.conn.conn_state"), "RSTR");
	assert_string_equal(get(f, "zeek.conn.history"), "ShAD");
	assert_true(has(f, "zeek.conn.tunnel_parents"));
	assert_string_equal(get(f, "zeek.conn.tunnel_parents"), "");

	/* Unset columns are absent. */
	assert_int_equal(run(f, "zeek", "1521911721.4\tC2\t10.0.0.1\t1\t10.0.0.2\t2\tudp\t-\t-\t-\t-\tS0\t-\t-"),
			 VIG_OK);
	assert_false(has(f, "network.protocol"));
	assert_false(has(f, "zeek.conn.history"));
	/* Column count mismatch and bad ts are refused. */
	assert_int_equal(run(f, "zeek", "1521911721.4\tC2\t10.0.0.1"), VIG_EPARSE);
	assert_int_equal(f->ctx.stats[VIG_PARSER_ZEEK].failed[VIG_PR_FIELD], 1);
	assert_int_equal(run(f, "zeek", "XXXXXXXXXX.XXXXXX\tC2\t10.0.0.1\t1\t10.0.0.2\t2\tudp\t-\t-\t-\t-\tS0\t-\t-"),
			 VIG_EPARSE);
	/* A new header (dns) replaces the state. */
	assert_int_equal(run(f, "zeek", "#path\tdns"), VIG_ENOTFOUND);
	assert_int_equal(run(f, "zeek", "#fields\tts\tquery\tqtype_name"), VIG_ENOTFOUND);
	assert_int_equal(run(f, "zeek", "1521911720.865716\twww.example.com\tA"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "zeek.dns");
	assert_string_equal(get(f, "dns.question.name"), "www.example.com");
	/* Bad headers. */
	assert_int_equal(run(f, "zeek", "#path\tbad path!"), VIG_EPARSE);
	assert_int_equal(run(f, "zeek", "#separator nonsense"), VIG_EPARSE);
}

static void test_zeek_json(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "zeek", "{\"_path\":\"http\",\"ts\":\"2018-03-24T17:15:20.865716Z\",\"uid\":\"C1\","
					 "\"id.orig_h\":\"10.47.1.100\",\"id.orig_p\":41772,\"id.resp_h\":\"10.0.0.100\","
					 "\"id.resp_p\":80,\"method\":\"POST\",\"host\":\"h.example\",\"uri\":\"/up?x=1\","
					 "\"user_agent\":\"curl/8\",\"status_code\":200,\"tags\":[\"a\",\"b\"]}"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "zeek.http");
	assert_string_equal(get(f, "http.request.method"), "POST");
	assert_string_equal(get(f, "url.domain"), "h.example");
	assert_string_equal(get(f, "url.path"), "/up");
	assert_int_equal(geti(f, "http.response.status_code"), 200);
	assert_string_equal(get(f, "zeek.http.tags"), "a,b");
	assert_int_equal(geti(f, "destination.port"), 80);
	assert_int_equal(run(f, "zeek", "{\"ts\":1521911720.5,\"_path\":\"notice\",\"note\":\"Scan::Port_Scan\"}"),
			 VIG_OK);
	assert_string_equal(get(f, "event.kind"), "alert");
	assert_string_equal(get(f, "rule.name"), "Scan::Port_Scan");
	assert_int_equal(run(f, "zeek", "{\"ts\":\"not a time\"}"), VIG_EPARSE);
	assert_int_equal(run(f, "zeek", "{\"ts\":222222222210.5}"), VIG_EPARSE);
	assert_int_equal(run(f, "zeek", "{\"ts\":\"9999-01-01T00:00:00Z\"}"), VIG_EPARSE);
	assert_int_equal(run(f, "zeek", "{broken"), VIG_EPARSE);
}

/* ---- audit ---- */

static const char *const exec_records[] = {
	"type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e syscall=59 success=yes exit=0 "
	"a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=1000 pid=1234 auid=1000 uid=0 gid=0 euid=0 suid=0 "
	"fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"exec\"",
	"type=EXECVE msg=audit(1700000000.123:456): argc=3 a0=\"curl\" a1=\"-o\" a2=2F746D702F782062696E",
	"type=CWD msg=audit(1700000000.123:456): cwd=\"/root\"",
	"type=PATH msg=audit(1700000000.123:456): item=0 name=\"/usr/bin/curl\" inode=1 nametype=NORMAL",
	"type=PROCTITLE msg=audit(1700000000.123:456): proctitle=6375726C002D6F002F746D702F782062696E",
	"type=EOE msg=audit(1700000000.123:456): ",
};

static void test_audit_record(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "auditd", exec_records[0]), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "auditd.log");
	assert_string_equal(get(f, "type"), "SYSCALL");
	assert_int_equal(geti(f, "syscall"), 59);
	assert_string_equal(get(f, "SYSCALL"), "execve");
	assert_string_equal(get(f, "event.action"), "execve");
	assert_string_equal(get(f, "event.category"), "process");
	assert_string_equal(get(f, "event.outcome"), "success");
	assert_string_equal(get(f, "exe"), "/usr/bin/curl");
	assert_string_equal(get(f, "process.executable"), "/usr/bin/curl");
	assert_string_equal(get(f, "process.name"), "curl");
	assert_int_equal(geti(f, "process.pid"), 1234);
	assert_int_equal(geti(f, "process.parent.pid"), 1000);
	assert_string_equal(get(f, "user.id"), "0");
	assert_string_equal(get(f, "auditd.auid"), "1000");
	assert_string_equal(get(f, "key"), "exec");
	assert_string_equal(get(f, "auditd.syscall.a0"), "55d0");
	assert_int_equal(geti(f, "@timestamp"), 1700000000123000000LL);

	assert_int_equal(run(f, "auditd", exec_records[1]), VIG_OK);
	assert_string_equal(get(f, "a2"), "/tmp/x bin");
	assert_string_equal(get(f, "process.args"), "curl -o /tmp/x bin");
	assert_string_equal(get(f, "process.command_line"), "curl -o /tmp/x bin");

	assert_int_equal(run(f, "auditd", "type=USER_LOGIN msg=audit(1700000001.000:99): pid=5 uid=0 auid=4294967295 "
					   "ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" "
					   "hostname=? addr=203.0.113.5 terminal=sshd res=failed'"), VIG_OK);
	assert_string_equal(get(f, "event.category"), "authentication");
	assert_string_equal(get(f, "event.outcome"), "failure");
	assert_string_equal(get(f, "event.action"), "user_login");
	assert_string_equal(get(f, "user.name"), "root");
	assert_string_equal(get(f, "source.ip"), "203.0.113.5");

	/* Syslog-wrapped (audispd) record. */
	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h audispd: type=ADD_USER msg=audit(1700000002.000:7): "
					   "pid=1 uid=0 msg='op=adding user acct=\"x\" res=success'"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "auditd.log");
	assert_string_equal(get(f, "event.category"), "iam");

	/* Kernel ring buffer form, through syslog. */
	assert_int_equal(run(f, "syslog", "Nov 23 10:00:01 h kernel: [ 12.5] audit: type=1400 audit(1700000003.500:8): "
					   "apparmor=\"DENIED\" operation=\"open\" name=\"/etc/shadow\" pid=77 comm=\"cat\""),
			 VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "auditd.log");
	assert_string_equal(get(f, "apparmor"), "DENIED");
	assert_string_equal(get(f, "file.path"), "/etc/shadow");
	assert_int_equal(geti(f, "@timestamp"), 1700000003500000000LL);

	static const char *const bad[] = {"type=SYSCALL", "type=SYSCALL msg=audit(abc:1): x=1",
					  "type= msg=audit(1.000:1):", "no audit here", "type=X msg=audit(1.1:1): a=1"};
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		assert_int_equal(run(f, "auditd", bad[i]), VIG_EPARSE);
		assert_true(f->err[0] != '\0');
	}
}

static void test_audit_grouper(void **state)
{
	struct fx *f = *state;
	struct vig_audit_grouper g;
	bool ready = false;

	assert_int_equal(vig_audit_grouper_init(&g, 0), VIG_OK);
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	for (size_t i = 0; i + 1 < VIG_ARRAY_LEN(exec_records); i++) {
		assert_int_equal(vig_audit_grouper_add(&g, &f->ctx, exec_records[i], strlen(exec_records[i]), 0,
						       &f->ev, &ready, f->err), VIG_OK);
		assert_false(ready);
	}
	const char *eoe = exec_records[VIG_ARRAY_LEN(exec_records) - 1];
	assert_int_equal(vig_audit_grouper_add(&g, &f->ctx, eoe, strlen(eoe), 0, &f->ev, &ready, f->err), VIG_OK);
	assert_true(ready);
	assert_string_equal(get(f, "type"), "SYSCALL");
	assert_string_equal(get(f, "auditd.types"), "SYSCALL EXECVE CWD PATH PROCTITLE");
	assert_int_equal(geti(f, "auditd.records"), 5);
	assert_string_equal(get(f, "a0"), "curl");
	assert_string_equal(get(f, "auditd.syscall.a0"), "55d0");
	assert_string_equal(get(f, "process.command_line"), "curl -o /tmp/x bin");
	assert_string_equal(get(f, "process.working_directory"), "/root");
	assert_string_equal(get(f, "file.path"), "/usr/bin/curl");
	assert_string_equal(get(f, "proctitle"), "curl -o /tmp/x bin");
	assert_string_equal(get(f, "process.executable"), "/usr/bin/curl");
	assert_true(strchr(get(f, "message"), '\n') != NULL);

	/* A new serial completes the previous group; a timeout flushes the last one. */
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	const char *a = "type=SYSCALL msg=audit(1700000005.000:10): arch=c000003e syscall=42 success=no pid=1";
	const char *b = "type=SYSCALL msg=audit(1700000005.000:11): arch=c000003e syscall=2 success=yes pid=2";
	assert_int_equal(vig_audit_grouper_add(&g, &f->ctx, a, strlen(a), 100, &f->ev, &ready, f->err), VIG_OK);
	assert_false(ready);
	assert_int_equal(vig_audit_grouper_add(&g, &f->ctx, b, strlen(b), 200, &f->ev, &ready, f->err), VIG_OK);
	assert_true(ready);
	assert_string_equal(get(f, "SYSCALL"), "connect");
	assert_string_equal(get(f, "event.outcome"), "failure");
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	assert_int_equal(vig_audit_grouper_flush(&g, &f->ctx, 300, false, &f->ev, &ready, f->err), VIG_OK);
	assert_false(ready); /* younger than the timeout */
	assert_int_equal(vig_audit_grouper_flush(&g, &f->ctx, 200 + 3 * VIG_NS_PER_SEC, false, &f->ev, &ready,
						 f->err), VIG_OK);
	assert_true(ready);
	assert_string_equal(get(f, "SYSCALL"), "open");
	/* Not an audit record. */
	assert_int_equal(vig_audit_grouper_add(&g, &f->ctx, "hello", 5, 0, &f->ev, &ready, f->err), VIG_EPARSE);
	assert_false(ready);
	vig_audit_grouper_release(&g);
	vig_audit_grouper_release(&g); /* repeatable */
}

/* ---- CEF, LEEF ---- */

static void test_cef(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "cef", "Sep 19 08:26:10 host CEF:0|Security|threatmanager|1.0|100|worm "
					"successfully stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 dpt=443 "
					"suser=alice act=blocked msg=Detected a\\=b thing\\\\ here cs1Label=Policy "
					"cs1=Default Policy rt=1700000000000 proto=TCP"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "cef");
	assert_string_equal(get(f, "observer.vendor"), "Security");
	assert_string_equal(get(f, "observer.product"), "threatmanager");
	assert_string_equal(get(f, "rule.id"), "100");
	assert_string_equal(get(f, "rule.name"), "worm successfully stopped");
	assert_int_equal(geti(f, "event.severity"), 10);
	assert_string_equal(get(f, "source.ip"), "10.0.0.1");
	assert_string_equal(get(f, "destination.ip"), "2.1.2.2");
	assert_int_equal(geti(f, "destination.port"), 443);
	assert_string_equal(get(f, "user.name"), "alice");
	assert_string_equal(get(f, "event.action"), "blocked");
	assert_string_equal(get(f, "cef.msg"), "Detected a=b thing\\ here");
	assert_string_equal(get(f, "cef.cs1"), "Default Policy");
	assert_string_equal(get(f, "cef.label.Policy"), "Default Policy");
	assert_string_equal(get(f, "network.transport"), "tcp");
	assert_int_equal(geti(f, "@timestamp"), 1700000000000000000LL);
	assert_string_equal(get(f, "host.name"), "host");

	/* Escaped pipe in the header; severity words. */
	assert_int_equal(run(f, "cef", "CEF:0|Ven\\|dor|Prod|1|sig|name|High|"), VIG_OK);
	assert_string_equal(get(f, "observer.vendor"), "Ven|dor");
	assert_int_equal(geti(f, "event.severity"), 8);
	/* Found by fuzzing: out-of-range times are ignored, not overflowed. */
	assert_int_equal(run(f, "cef", "CEF:0|a|b|1|2|n|3|rt=169999999999999999"), VIG_OK);
	assert_false(has(f, "@timestamp"));
	assert_int_equal(run(f, "cef", "CEF:0|a|b|1|2|n|3|rt=Jan 01 9999 00:00:00"), VIG_OK);
	assert_false(has(f, "@timestamp"));
	assert_int_equal(run(f, "cef", "CEF:0|only|four|fields"), VIG_EPARSE);
	assert_int_equal(run(f, "cef", "no header"), VIG_EPARSE);
}

static void test_leef(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "leef", "LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=192.0.2.0\tdst=172.50.123.1"
					 "\tsev=5\tcat=anomaly\tsrcPort=81\tdstPort=21\tusrName=joe.black"), VIG_OK);
	assert_string_equal(get(f, "event.dataset"), "leef");
	assert_string_equal(get(f, "observer.vendor"), "Microsoft");
	assert_string_equal(get(f, "event.code"), "15345");
	assert_string_equal(get(f, "source.ip"), "192.0.2.0");
	assert_int_equal(geti(f, "source.port"), 81);
	assert_string_equal(get(f, "user.name"), "joe.black");
	assert_int_equal(geti(f, "event.severity"), 5);
	assert_string_equal(get(f, "leef.cat"), "anomaly");

	assert_int_equal(run(f, "leef", "LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^"
					 "sev=5^srcPort=81"), VIG_OK);
	assert_string_equal(get(f, "destination.ip"), "10.0.0.5");
	assert_int_equal(geti(f, "source.port"), 81);
	assert_int_equal(run(f, "leef", "LEEF:2.0|V|P|1|41|x7C|src=10.0.1.9|dst=10.0.0.6"), VIG_OK);
	assert_string_equal(get(f, "source.ip"), "10.0.1.9");
	assert_int_equal(run(f, "leef", "LEEF:2.0|V|P|1|41|zzzz|src=1"), VIG_EPARSE);
	assert_int_equal(run(f, "leef", "LEEF:1.0|V|P"), VIG_EPARSE);
}

/* ---- JSON, kv ---- */

static void test_json_kv(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "json", "{\"@timestamp\":\"2026-11-23T10:00:00Z\",\"source\":{\"ip\":\"10.0.0.1\"},"
					"\"custom\":{\"field\":7}}"), VIG_OK);
	assert_string_equal(get(f, "source.ip"), "10.0.0.1");
	assert_int_equal(geti(f, "custom.field"), 7);
	assert_string_equal(get(f, "event.dataset"), "json");
	assert_true(has(f, "message"));
	assert_int_equal(run(f, "json", "{\"source\":{\"ip\":\"not-an-ip\"}}"), VIG_EPARSE);
	assert_true(strstr(f->err, "json:") != NULL);
	assert_int_equal(run(f, "json", "nope"), VIG_EPARSE);

	assert_int_equal(run(f, "kv", "user.name=bob source.ip=10.1.2.3 action=\"log in\" note='it\\'s \\\"ok\\\"' "
				      "destination.port=22 bare word"), VIG_OK);
	assert_string_equal(get(f, "user.name"), "bob");
	assert_string_equal(get(f, "source.ip"), "10.1.2.3");
	assert_int_equal(geti(f, "destination.port"), 22);
	assert_string_equal(get(f, "action"), "log in");
	assert_string_equal(get(f, "note"), "it's \"ok\"");
	assert_int_equal(run(f, "kv", "source.ip=nonsense x=1"), VIG_OK);
	assert_int_equal(geti(f, "kv.rejected"), 1);
	assert_int_equal(run(f, "kv", "no pairs at all"), VIG_EPARSE);
	/* Found by fuzzing: a lone '=' once looped forever. */
	assert_int_equal(run(f, "kv", "= =x a=1 =="), VIG_OK);
	assert_string_equal(get(f, "a"), "1");
	/* Found by fuzzing: a NUL byte inside a key is refused, not looked up. */
	const char nul[] = "message\0x=1 ok=2";
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	assert_int_equal(vig_parse_kv(&f->ctx, nul, sizeof(nul) - 1, &f->ev, f->err), VIG_OK);
	assert_string_equal(get(f, "ok"), "2");
	assert_int_equal(geti(f, "kv.rejected"), 1);
}

/* ---- registry, auto, limits, keys ---- */

static void test_registry_auto(void **state)
{
	struct fx *f = *state;
	const struct vig_parser *used = NULL;
	static const struct {
		const char *line;
		const char *parser;
	} cases[] = {
		{"Nov 23 10:00:01 h sshd[1]: Invalid user x from 1.2.3.4", "syslog"},
		{"<13>1 2026-11-23T10:00:00Z h a - - - x", "syslog"},
		{"{\"timestamp\":\"2017-01-30T16:12:27Z\",\"event_type\":\"dns\"}", "suricata"},
		{"{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"1.1.1.1\"}", "zeek"},
		{"{\"a\":1}", "json"},
		{"CEF:0|a|b|1|2|n|3|src=1.1.1.1", "cef"},
		{"LEEF:1.0|a|b|1|2|src=1.1.1.1", "leef"},
		{"type=SYSCALL msg=audit(1.000:1): pid=1", "auditd"},
		{"1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1", "apache"},
		{"[Sun Dec 04 04:47:44 2005] [error] x", "apache"},
		{"#separator \\x09", "zeek"},
		{"a=1 b=2", "kv"},
	};

	for (size_t i = 0; i < VIG_ARRAY_LEN(cases); i++) {
		vig_arena_reset(&f->arena);
		vig_event_clear(&f->ev);
		enum vig_err rc = vig_parse_auto(&f->ctx, cases[i].line, strlen(cases[i].line), &f->ev, &used, f->err);
		assert_true(rc == VIG_OK || rc == VIG_ENOTFOUND);
		assert_string_equal(used->name, cases[i].parser);
	}
	/* Short lines in exactly sized buffers: no detector may read past the end (a fuzz find:
	 * "[" + 5 bytes once reached the month scanner at offset 5). */
	static const char *const shorts[] = {"[", "[=l", "[=l\r\rJ", "[=l\r\rJx", "[17/May", "<1>", "{"};
	for (size_t i = 0; i < VIG_ARRAY_LEN(shorts); i++) {
		size_t len = strlen(shorts[i]);
		char *exact = malloc(len);
		memcpy(exact, shorts[i], len);
		vig_arena_reset(&f->arena);
		vig_event_clear(&f->ev);
		(void)vig_parse_auto(&f->ctx, exact, len, &f->ev, &used, f->err);
		free(exact);
	}
	assert_ptr_equal(vig_parser_find("nginx"), vig_parser_find("apache"));
	assert_null(vig_parser_find("nope"));
	assert_null(vig_parser_find(NULL));
	for (int i = 0; i < VIG_PARSER__COUNT; i++)
		assert_int_equal(vig_parser_get((enum vig_parser_id)i)->id, i);
	assert_string_equal(vig_parse_reason_name(VIG_PR_FRAMING), "framing");
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	size_t n = VIG_PARSE_MAX_LINE + 10;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	for (int i = 0; i < VIG_PARSER__COUNT; i++) {
		const struct vig_parser *p = vig_parser_get((enum vig_parser_id)i);
		vig_arena_reset(&f->arena);
		vig_event_clear(&f->ev);
		assert_int_equal(p->parse(&f->ctx, big, n, &f->ev, f->err), VIG_ETOOBIG);
		assert_int_equal(f->ctx.stats[i].failed[VIG_PR_TOO_LONG], 1);
	}
	/* Deeply nested wrappers do not recurse without bound. */
	size_t k = (size_t)snprintf(big, n, "Nov 23 10:00:01 h sshd[1]: ");
	while (k + 40 < VIG_PARSE_MAX_LINE) {
		memcpy(big + k, k % 2 ? "error: " : "message repeated 2 times: [ ", k % 2 ? 7 : 28);
		k += k % 2 ? 7 : 28;
	}
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	assert_int_equal(vig_parse_syslog(&f->ctx, big, k, &f->ev, f->err), VIG_OK);

	/* A tiny arena: failures, never crashes. */
	struct vig_arena small;
	struct vig_event ev;
	vig_arena_init(&small, 256, 300);
	vig_event_init(&ev, &small);
	const char *line = "Nov 23 10:00:01 h sshd[99]: Failed password for invalid user oracle from "
			   "203.0.113.7 port 50022 ssh2";
	enum vig_err rc = vig_parse_syslog(&f->ctx, line, strlen(line), &ev, f->err);
	assert_int_not_equal(rc, VIG_OK);
	vig_arena_release(&small);
	free(big);
}

static void test_fast_keys(void **state)
{
	struct fx *f = *state;

	/* Every fast key is a valid extension key on its own, and none is a dotted prefix of
	 * another (so they never conflict in one event). */
	for (int i = 0; i < PK__COUNT; i++) {
		vig_arena_reset(&f->arena);
		vig_event_clear(&f->ev);
		assert_int_equal(vig_event_ext_str(&f->ev, pkey_names[i], "x", 1), VIG_OK);
		size_t li = strlen(pkey_names[i]);
		for (int j = 0; j < PK__COUNT; j++)
			if (i != j)
				assert_false(strncmp(pkey_names[j], pkey_names[i], li) == 0 && pkey_names[j][li] == '.');
	}
	/* Setting twice replaces. */
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	assert_int_equal(pk_str(&f->ev, PK_IPTABLES_TOS, "a", 1), VIG_OK);
	assert_int_equal(pk_str(&f->ev, PK_IPTABLES_TOS, "b", 1), VIG_OK);
	assert_int_equal(f->ev.n_ext, 1);
	assert_string_equal(get(f, "iptables.tos"), "b");
	/* The same key through the general setter is the same field, in either order. */
	assert_int_equal(vig_event_ext_str(&f->ev, "iptables.tos", "c", 1), VIG_OK);
	assert_int_equal(pk_str(&f->ev, PK_IPTABLES_TOS, "d", 1), VIG_OK);
	assert_int_equal(f->ev.n_ext, 1);
	assert_string_equal(get(f, "iptables.tos"), "d");
	vig_arena_reset(&f->arena);
	vig_event_clear(&f->ev);
	assert_int_equal(vig_event_ext_str(&f->ev, "iptables.tos", "e", 1), VIG_OK);
	assert_int_equal(pk_str(&f->ev, PK_IPTABLES_TOS, "f", 1), VIG_OK);
	assert_int_equal(f->ev.n_ext, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc3164, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc5424, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syslog_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sshd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sudo_su_cron, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iptables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suricata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zeek_tsv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zeek_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_grouper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cef, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leef, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_kv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fast_keys, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
