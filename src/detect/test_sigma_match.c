/*
 * test_sigma_match.c - every Sigma modifier and condition form, end to end: a small
 * hand-written rule is loaded, compiled into an engine and matched against events built with
 * the event.h setters. Each case states the expected verdict for an event that should match
 * and for one that should not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"
#include "detect/sigma.h"

static const struct vig_sigma_opts *g_opts;

/* Loads one rule (logsource category cat, product linux, detection body), matches one event
 * (process start unless cat says otherwise; kv = name/value pairs, NULL-terminated) and
 * returns 1 when the rule fired, 0 when not. */
static int fires_cat(const char *cat, const char *body, const char *const *kv)
{
	char yaml[4096], err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_sigma_rule *r;
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *s;
	struct vig_arena arena;
	struct vig_event ev;
	size_t n = 0;

	snprintf(yaml, sizeof(yaml), "title: t\nid: test-1\nlogsource:\n  product: linux\n  category: %s\ndetection:\n%s",
		 cat, body);
	r = vig_sigma_load(yaml, strlen(yaml), g_opts, err);
	if (!r)
		print_message("load failed: %s\n%s\n", err, yaml);
	assert_non_null(r);
	vig_sigma_ruleset_init(&rs, 0);
	assert_int_equal(vig_sigma_ruleset_add(&rs, r), VIG_OK);
	eng = vig_detect_build(&rs, err);
	assert_non_null(eng);
	s = vig_detect_scratch_new(eng, err);
	assert_non_null(s);
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	assert_int_equal(vig_event_set_cstr(&ev, VIG_F_AGENT_ID, "a1"), VIG_OK);
	if (!strcmp(cat, "process_creation")) {
		assert_int_equal(vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "process"), VIG_OK);
		assert_int_equal(vig_event_set_cstr(&ev, VIG_F_EVENT_TYPE, "start"), VIG_OK);
	} else if (!strcmp(cat, "network_connection")) {
		assert_int_equal(vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "network"), VIG_OK);
	}
	for (size_t i = 0; kv && kv[i]; i += 2)
		assert_int_equal(vig_event_set_by_name(&ev, kv[i], strlen(kv[i]), kv[i + 1], strlen(kv[i + 1])), VIG_OK);
	assert_int_equal(vig_detect_match(eng, s, &ev, NULL, NULL, &n), VIG_OK);
	vig_arena_release(&arena);
	vig_detect_scratch_free(s);
	vig_detect_free(eng);
	return (int)n;
}

static int fires(const char *body, const char *const *kv)
{
	return fires_cat("process_creation", body, kv);
}

#define EV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SEL(x) "  sel:\n    " x "\n  condition: sel\n"

static void test_string_matching(void **state)
{
	/* Plain value: whole-value, case-insensitive. */
	assert_int_equal(fires(SEL("Image: /usr/bin/bash"), EV("process.executable", "/USR/bin/Bash")), 1);
	assert_int_equal(fires(SEL("Image: /usr/bin/bash"), EV("process.executable", "/usr/bin/bash2")), 0);
	/* contains / startswith / endswith. */
	assert_int_equal(fires(SEL("CommandLine|contains: 'base64 -d'"), EV("process.command_line", "echo x | BASE64 -d | sh")), 1);
	assert_int_equal(fires(SEL("CommandLine|contains: 'base64 -d'"), EV("process.command_line", "base64 -e")), 0);
	assert_int_equal(fires(SEL("CommandLine|startswith: 'sudo '"), EV("process.command_line", "sudo ls")), 1);
	assert_int_equal(fires(SEL("CommandLine|startswith: 'sudo '"), EV("process.command_line", "x sudo ls")), 0);
	assert_int_equal(fires(SEL("Image|endswith: '/nc'"), EV("process.executable", "/usr/bin/nc")), 1);
	assert_int_equal(fires(SEL("Image|endswith: '/nc'"), EV("process.executable", "/usr/bin/nc.x")), 0);
	/* Wildcards and escapes. */
	assert_int_equal(fires(SEL("Image: '/usr/*/python?'"), EV("process.executable", "/usr/local/bin/python3")), 1);
	assert_int_equal(fires(SEL("Image: '/usr/*/python?'"), EV("process.executable", "/usr/bin/python")), 0);
	assert_int_equal(fires(SEL("CommandLine: 'a\\*b'"), EV("process.command_line", "a*b")), 1);
	assert_int_equal(fires(SEL("CommandLine: 'a\\*b'"), EV("process.command_line", "axxb")), 0);
	assert_int_equal(fires(SEL("CommandLine: 'c:\\\\*'"), EV("process.command_line", "c:\\windows")), 1);
	assert_int_equal(fires(SEL("CommandLine: 'x?y'"), EV("process.command_line", "x\ny")), 1);
	/* cased. */
	assert_int_equal(fires(SEL("CommandLine|contains|cased: 'ABC'"), EV("process.command_line", "xABCx")), 1);
	assert_int_equal(fires(SEL("CommandLine|contains|cased: 'ABC'"), EV("process.command_line", "xabcx")), 0);
	/* Lists: OR; all: AND. */
	assert_int_equal(fires(SEL("Image|endswith: ['/nc', '/ncat']"), EV("process.executable", "/bin/ncat")), 1);
	assert_int_equal(fires(SEL("CommandLine|contains|all: [' -e ', '/bin/sh']"), EV("process.command_line", "nc -e /bin/sh")), 1);
	assert_int_equal(fires(SEL("CommandLine|contains|all: [' -e ', '/bin/sh']"), EV("process.command_line", "nc -e /bin/bash")), 0);
	/* Numbers and booleans are compared as text. */
	assert_int_equal(fires(SEL("ProcessId: 4242"), EV("process.pid", "4242")), 1);
	assert_int_equal(fires(SEL("ProcessId: 4242"), EV("process.pid", "42")), 0);
	/* Empty value and any value. */
	assert_int_equal(fires(SEL("CurrentDirectory: ''"), EV("process.working_directory", "")), 1);
	assert_int_equal(fires(SEL("CurrentDirectory: ''"), EV("process.working_directory", "/")), 0);
	assert_int_equal(fires(SEL("CurrentDirectory: '*'"), EV("process.working_directory", "/")), 1);
	assert_int_equal(fires(SEL("CurrentDirectory: '*'"), EV("process.executable", "/")), 0);
	/* Unmapped Sigma names are extension fields. */
	assert_int_equal(fires(SEL("exe|endswith: /curl"), EV("exe", "/usr/bin/curl")), 1);
	/* A list field matches when any item does. */
	assert_int_equal(fires(SEL("process.args: '-rf'"), EV("process.args", "rm", "process.args", "-rf")), 1);
}

static void test_value_modifiers(void **state)
{
	/* null, exists. */
	assert_int_equal(fires(SEL("ParentCommandLine: null"), EV("process.executable", "/x")), 1);
	assert_int_equal(fires(SEL("ParentCommandLine: null"), EV("process.parent.command_line", "bash")), 0);
	assert_int_equal(fires(SEL("ParentCommandLine|exists: true"), EV("process.parent.command_line", "bash")), 1);
	assert_int_equal(fires(SEL("ParentCommandLine|exists: true"), EV("process.executable", "/x")), 0);
	assert_int_equal(fires(SEL("ParentCommandLine|exists: false"), EV("process.executable", "/x")), 1);
	/* re and its flags. */
	assert_int_equal(fires(SEL("CommandLine|re: 'nc\\s+-e\\s'"), EV("process.command_line", "nc  -e /bin/sh")), 1);
	assert_int_equal(fires(SEL("CommandLine|re: 'NC'"), EV("process.command_line", "nc")), 0);
	assert_int_equal(fires(SEL("CommandLine|re|i: 'NC'"), EV("process.command_line", "nc")), 1);
	assert_int_equal(fires(SEL("CommandLine|re: '^b$'"), EV("process.command_line", "a\nb")), 0);
	assert_int_equal(fires(SEL("CommandLine|re|m: '^b$'"), EV("process.command_line", "a\nb")), 1);
	assert_int_equal(fires(SEL("CommandLine|re: 'a.b'"), EV("process.command_line", "a\nb")), 0);
	assert_int_equal(fires(SEL("CommandLine|re|s: 'a.b'"), EV("process.command_line", "a\nb")), 1);
	/* A regex Hyperscan refuses (back-reference) goes to PCRE2. */
	assert_int_equal(fires(SEL("CommandLine|re: '(ab)\\1'"), EV("process.command_line", "xababx")), 1);
	assert_int_equal(fires(SEL("CommandLine|re: '(ab)\\1'"), EV("process.command_line", "xabx")), 0);
	/* Numeric comparisons. */
	assert_int_equal(fires(SEL("ProcessId|gt: 100"), EV("process.pid", "101")), 1);
	assert_int_equal(fires(SEL("ProcessId|gt: 100"), EV("process.pid", "100")), 0);
	assert_int_equal(fires(SEL("ProcessId|gte: 100"), EV("process.pid", "100")), 1);
	assert_int_equal(fires(SEL("ProcessId|lt: 100"), EV("process.pid", "99")), 1);
	assert_int_equal(fires(SEL("ProcessId|lte: 100"), EV("process.pid", "101")), 0);
	assert_int_equal(fires(SEL("size|gt: 1.5"), EV("size", "2.25")), 1);
	/* neq. */
	assert_int_equal(fires(SEL("Image|neq: /bin/sh"), EV("process.executable", "/bin/bash")), 1);
	assert_int_equal(fires(SEL("Image|neq: /bin/sh"), EV("process.executable", "/bin/sh")), 0);
	/* fieldref. */
	assert_int_equal(fires(SEL("Image|fieldref: ParentImage"),
			       EV("process.executable", "/bin/sh", "process.parent.executable", "/BIN/SH")), 1);
	assert_int_equal(fires(SEL("Image|fieldref: ParentImage"),
			       EV("process.executable", "/bin/sh", "process.parent.executable", "/bin/bash")), 0);
	assert_int_equal(fires(SEL("CommandLine|fieldref|contains: Image"),
			       EV("process.executable", "/bin/sh", "process.command_line", "exec /bin/sh -c x")), 1);
	/* Time parts. */
	assert_int_equal(fires(SEL("'@timestamp|hour': 13"), EV("@timestamp", "2024-05-01T13:05:00Z")), 1);
	assert_int_equal(fires(SEL("'@timestamp|hour|gte': 14"), EV("@timestamp", "2024-05-01T13:05:00Z")), 0);
	assert_int_equal(fires(SEL("'@timestamp|month': 5"), EV("@timestamp", "2024-05-01T13:05:00Z")), 1);
	assert_int_equal(fires(SEL("'@timestamp|year': 2024"), EV("@timestamp", "2024-05-01T13:05:00Z")), 1);
}

static void test_ip_and_encodings(void **state)
{
	/* cidr, v4 and v6, on an IP field. */
	assert_int_equal(fires_cat("network_connection", SEL("DestinationIp|cidr: 10.0.0.0/8"), EV("destination.ip", "10.1.2.3")), 1);
	assert_int_equal(fires_cat("network_connection", SEL("DestinationIp|cidr: 10.0.0.0/8"), EV("destination.ip", "11.1.2.3")), 0);
	assert_int_equal(fires_cat("network_connection", SEL("DestinationIp|cidr: ['192.168.0.0/16', 'fe80::/10']"),
				   EV("destination.ip", "fe80::1")), 1);
	assert_int_equal(fires_cat("network_connection", SEL("DestinationIp|cidr: 'fe80::/10'"), EV("destination.ip", "2001:db8::1")), 0);
	/* base64: "cmd" is "Y21k". */
	assert_int_equal(fires(SEL("CommandLine|base64|contains: cmd"), EV("process.command_line", "echo Y21k")), 1);
	assert_int_equal(fires(SEL("CommandLine|base64|contains: cmd"), EV("process.command_line", "echo cmd")), 0);
	/* base64offset: "http://" anywhere in an encoded string, at each of the 3 offsets. */
	assert_int_equal(fires(SEL("CommandLine|base64offset|contains: 'http://'"),
			       EV("process.command_line", "-enc aHR0cDovL2V2aWw=")), 1); /* "http://evil" */
	assert_int_equal(fires(SEL("CommandLine|base64offset|contains: 'http://'"),
			       EV("process.command_line", "-enc eGh0dHA6Ly9ldmls")), 1); /* "xhttp://evil" */
	assert_int_equal(fires(SEL("CommandLine|base64offset|contains: 'http://'"),
			       EV("process.command_line", "-enc eHhodHRwOi8vZXZpbA==")), 1); /* "xxhttp://evil" */
	assert_int_equal(fires(SEL("CommandLine|base64offset|contains: 'http://'"),
			       EV("process.command_line", "-enc ZnRwOi8vZXZpbA==")), 0); /* "ftp://evil" */
	/* wide + base64offset: UTF-16LE "whoami" = "dwBoAG8AYQBtAGkA". */
	assert_int_equal(fires(SEL("CommandLine|wide|base64offset|contains: 'whoami'"),
			       EV("process.command_line", "powershell -enc dwBoAG8AYQBtAGkA")), 1);
	/* utf16le on a binary-safe value: "ab" -> "a\0b\0" can't be set as text; check via base64. */
	assert_int_equal(fires(SEL("CommandLine|utf16le|base64|contains: 'ab'"), EV("process.command_line", "x YQBiAA")), 1);
	assert_int_equal(fires(SEL("CommandLine|utf16be|base64|contains: 'ab'"), EV("process.command_line", "x AGEAYg")), 1);
	assert_int_equal(fires(SEL("CommandLine|utf16|base64|contains: 'ab'"), EV("process.command_line", "x //5hAGIA")), 1);
	/* windash: '-' also matches '/', en dash, em dash, horizontal bar. */
	assert_int_equal(fires(SEL("CommandLine|windash|contains: ' -enc '"), EV("process.command_line", "p /enc x")), 1);
	assert_int_equal(fires(SEL("CommandLine|windash|contains: ' -enc '"), EV("process.command_line", "p \xe2\x80\x93" "enc x")), 1);
	assert_int_equal(fires(SEL("CommandLine|windash|contains: ' -enc '"), EV("process.command_line", "p +enc x")), 0);
}

static void test_expand(void **state)
{
	static const char *const admins[] = {"root", "adm_*"};
	static const struct vig_sigma_placeholder ph[] = {{"Admins", admins, 2}};
	struct vig_sigma_opts o = {.placeholders = ph, .n_placeholders = 1};
	char err[VIG_ERRBUF_SIZE];
	const char *y = "title: t\nlogsource: {product: linux}\ndetection:\n  sel:\n    User|expand: '%Unknown%'\n"
			"  condition: sel\n";

	g_opts = &o;
	assert_int_equal(fires(SEL("User|expand: '%Admins%'"), EV("user.name", "adm_bob")), 1);
	assert_int_equal(fires(SEL("User|expand: '%Admins%'"), EV("user.name", "root")), 1);
	assert_int_equal(fires(SEL("User|expand: '%Admins%'"), EV("user.name", "bob")), 0);
	g_opts = NULL;
	assert_null(vig_sigma_load(y, strlen(y), &o, err));
	assert_string_equal(err, "unknown placeholder '%Unknown%' in selection 'sel' field 'User'");
	o.placeholder_wildcard = true;
	g_opts = &o;
	assert_int_equal(fires(SEL("User|expand: 'x%Unknown%'"), EV("user.name", "xanything")), 1);
	g_opts = NULL;
}

static void test_conditions(void **state)
{
#define TWO "  sel_a:\n    Image|endswith: /nc\n  sel_b:\n    CommandLine|contains: ' -e '\n" \
	    "  filter:\n    User: root\n  _aux:\n    CommandLine|contains: zzz\n  condition: %s\n"
	char body[1024];
	const char *const *nc_e = EV("process.executable", "/bin/nc", "process.command_line", "nc -e sh", "user.name", "bob");
	const char *const *nc_root = EV("process.executable", "/bin/nc", "process.command_line", "nc -e sh", "user.name", "root");
	const char *const *nc_only = EV("process.executable", "/bin/nc", "process.command_line", "nc -l", "user.name", "bob");
	const char *const *bash = EV("process.executable", "/bin/bash", "process.command_line", "bash", "user.name", "bob");
	static const struct {
		const char *cond;
		int nc_e, nc_root, nc_only, bash;
	} cases[] = {
		{"sel_a and sel_b", 1, 1, 0, 0},
		{"sel_a or sel_b", 1, 1, 1, 0},
		{"sel_a and not sel_b", 0, 0, 1, 0},
		{"all of sel_* and not filter", 1, 0, 0, 0},
		{"1 of sel_*", 1, 1, 1, 0},
		{"any of sel_*", 1, 1, 1, 0},
		{"(sel_a or sel_b) and not filter", 1, 0, 1, 0},
		{"NOT sel_a AND NOT filter", 0, 0, 0, 1},
		{"not filter", 1, 0, 1, 1},
		{"1 of them", 1, 1, 1, 0},
		{"all of them", 0, 1, 0, 0}, /* _aux (never true) is not part of them */
		{"2 of sel_* or filter", 1, 1, 0, 0},
		{"sel_a and (sel_b or (filter and not sel_b))", 1, 1, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), TWO, cases[i].cond);
		print_message("condition: %s\n", cases[i].cond);
		assert_int_equal(fires(body, nc_e), cases[i].nc_e);
		assert_int_equal(fires(body, nc_root), cases[i].nc_root);
		assert_int_equal(fires(body, nc_only), cases[i].nc_only);
		assert_int_equal(fires(body, bash), cases[i].bash);
	}
	/* A list of conditions is their OR. */
	snprintf(body, sizeof(body), "  sel_a:\n    Image|endswith: /nc\n  sel_b:\n    Image|endswith: /sh\n"
				     "  condition:\n    - sel_a\n    - sel_b\n");
	assert_int_equal(fires(body, EV("process.executable", "/bin/sh")), 1);
	/* List of maps is an OR of ANDs; keywords search message. */
	assert_int_equal(fires("  sel:\n    - Image|endswith: /nc\n      User: root\n    - Image|endswith: /sh\n  condition: sel\n",
			       EV("process.executable", "/bin/nc", "user.name", "bob")), 0);
	assert_int_equal(fires("  sel:\n    - Image|endswith: /nc\n      User: root\n    - Image|endswith: /sh\n  condition: sel\n",
			       EV("process.executable", "/bin/sh", "user.name", "bob")), 1);
	assert_int_equal(fires("  keywords:\n    - 'event::clear'\n    - 'EVIL'\n  condition: keywords\n",
			       EV("message", "mimikatz event::clear done")), 1);
	assert_int_equal(fires("  keywords:\n    '|all':\n      - 'Oab'\n      - ' -Ext '\n  condition: keywords\n",
			       EV("message", "Oab -Ext x")), 1);
	assert_int_equal(fires("  keywords:\n    '|all':\n      - 'Oab'\n      - ' -Ext '\n  condition: keywords\n",
			       EV("message", "Oab")), 0);
}

static void test_routing(void **state)
{
	struct vig_arena arena;
	struct vig_event ev;
	struct vig_detect_logsource ls[VIG_DETECT_MAX_LS];
	size_t n;

	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	vig_event_set_cstr(&ev, VIG_F_EVENT_DATASET, "apache.access");
	n = vig_detect_logsources(&ev, ls);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].category, "webserver");
	assert_string_equal(ls[1].service, "apache");
	vig_event_clear(&ev);
	vig_event_set_cstr(&ev, VIG_F_EVENT_DATASET, "system.auth");
	vig_event_set_cstr(&ev, VIG_F_PROCESS_NAME, "sshd");
	n = vig_detect_logsources(&ev, ls);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].product, "linux");
	assert_string_equal(ls[0].service, "auth");
	assert_string_equal(ls[1].service, "sshd");
	vig_event_clear(&ev);
	vig_event_set_cstr(&ev, VIG_F_EVENT_DATASET, "iptables");
	vig_event_set_cstr(&ev, VIG_F_EVENT_CATEGORY, "network");
	n = vig_detect_logsources(&ev, ls);
	assert_int_equal(n, 1);
	assert_string_equal(ls[0].category, "firewall");
	vig_event_clear(&ev);
	assert_int_equal(vig_detect_logsources(&ev, ls), 0);
	vig_arena_release(&arena);
	/* A process rule does not fire on a network event, whatever its fields. */
	assert_int_equal(fires_cat("network_connection", SEL("Image|endswith: /nc"), EV("process.executable", "/bin/nc")), 1);
	assert_int_equal(fires_cat("process_creation", SEL("Image|endswith: /nc"),
				   EV("event.category", "network", "process.executable", "/bin/nc")), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_matching), cmocka_unit_test(test_value_modifiers),
		cmocka_unit_test(test_ip_and_encodings), cmocka_unit_test(test_expand),
		cmocka_unit_test(test_conditions), cmocka_unit_test(test_routing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
