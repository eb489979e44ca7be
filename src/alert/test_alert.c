/*
 * test_alert.c - the alert module against a real in-memory control DB: severity / status
 * names, ATT&CK technique extraction, the dedupe key's entity choice, insert-or-bump with the
 * window, closed alerts and the bounded event id list, publish throttling, tenant scoping of
 * list / get / update and the list filters; and the live rule set: DB + directory rules, tenant
 * ownership of rules, skipped broken rules, engine swaps that keep held engines valid, and the
 * asynchronous rebuild.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alert/alert.h"
#include "alert/rules.h"
#include "auth/testutil.h"
#include "common/arena.h"
#include "common/vtime.h"
#include "event/event_json.h"

#define SEC 1000000000LL
#define WINDOW (3600 * SEC)

struct fx {
	struct vig_db *db;
	struct vig_principal sys, a_admin, b_admin;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	vig_test_db_open(&f->db, &f->sys);
	vig_test_principal(&f->a_admin, VIG_ROLE_TENANT_ADMIN, "tenant-a", "alice");
	vig_test_principal(&f->b_admin, VIG_ROLE_TENANT_ADMIN, "tenant-b", "alice");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	vig_db_close(f->db);
	free(f);
	return 0;
}

static struct vig_alert_match match_of(const char *tenant, const char *rule, const char *host,
				       const char *event_id)
{
	static const char *const tags[] = {"attack.execution", "attack.t1059.004", "attack.t1059.004",
					   "attack.g0007", "attack.t1105", "cve.2021-44228"};
	struct vig_alert_match m = {.tenant = tenant, .rule_id = rule, .title = "Suspicious shell",
				    .level = "high", .tags = tags, .n_tags = 6, .host = host,
				    .user = "root", .event_id = event_id};
	return m;
}

/* Records one match in its own transaction. */
static enum vig_err record(struct fx *f, const struct vig_alert_match *m, int64_t now,
			   enum vig_alert_outcome *oc, int64_t *id, bool *pub)
{
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_alert_tx *tx;
	enum vig_err e;

	assert_int_equal(vig_alert_tx_begin(f->db, WINDOW, &tx, err), VIG_OK);
	e = vig_alert_tx_record(tx, m, now, oc, id, pub, err);
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	return e;
}

static void test_names(void **state)
{
	enum vig_alert_severity s;
	enum vig_alert_status st;

	(void)state;
	assert_int_equal(vig_alert_severity_of_level("critical"), VIG_ALERT_SEV_CRITICAL);
	assert_int_equal(vig_alert_severity_of_level("informational"), VIG_ALERT_SEV_INFORMATIONAL);
	assert_int_equal(vig_alert_severity_of_level(NULL), VIG_ALERT_SEV_MEDIUM);
	assert_int_equal(vig_alert_severity_of_level("urgent"), VIG_ALERT_SEV_MEDIUM);
	assert_string_equal(vig_alert_severity_name(VIG_ALERT_SEV_LOW), "low");
	assert_string_equal(vig_alert_severity_name((enum vig_alert_severity)42), "unknown");
	assert_true(vig_alert_severity_parse("high", &s));
	assert_int_equal(s, VIG_ALERT_SEV_HIGH);
	assert_false(vig_alert_severity_parse("High ", &s));
	assert_true(vig_alert_status_parse("new", &st));
	assert_int_equal(st, VIG_ALERT_OPEN);
	assert_true(vig_alert_status_parse("acknowledged", &st));
	assert_int_equal(st, VIG_ALERT_ACKNOWLEDGED);
	assert_false(vig_alert_status_parse("resolved", &st));
	assert_string_equal(vig_alert_status_name(VIG_ALERT_CLOSED), "closed");
}

static void test_techniques(void **state)
{
	const char *tags[] = {"attack.t1059.004", "attack.T1105", "attack.t1059.004", "attack.execution",
			      "attack.t10", "attack.t1234x", "attack.t1234.56", "attack.s0001",
			      "car.2013-05-004", NULL};
	char out[4][VIG_ALERT_TECHNIQUE_MAX];

	(void)state;
	assert_int_equal(vig_alert_techniques(tags, 10, out, 4), 2);
	assert_string_equal(out[0], "T1059.004");
	assert_string_equal(out[1], "T1105");
	assert_int_equal(vig_alert_techniques(tags, 10, out, 1), 1);
	assert_int_equal(vig_alert_techniques(NULL, 0, out, 4), 0);
}

static void test_dedupe_key(void **state)
{
	struct vig_alert_match m = match_of("tenant-a", "r1", "web-1", "e1");
	char key[VIG_ALERT_KEY_MAX], key2[VIG_ALERT_KEY_MAX], err[VIG_ERRBUF_SIZE], big[800];
	const char *ef, *ev;

	(void)state;
	assert_int_equal(vig_alert_dedupe_key(&m, key, &ef, &ev, err), VIG_OK);
	assert_string_equal(ef, "host.name");
	assert_string_equal(ev, "web-1");
	m.host = "";
	assert_int_equal(vig_alert_dedupe_key(&m, key2, &ef, &ev, err), VIG_OK);
	assert_string_equal(ef, "user.name");
	assert_string_not_equal(key, key2);
	m.user = NULL;
	m.source_ip = "10.1.2.3";
	assert_int_equal(vig_alert_dedupe_key(&m, key, &ef, &ev, err), VIG_OK);
	assert_string_equal(ef, "source.ip");
	assert_string_equal(ev, "10.1.2.3");
	m.source_ip = NULL;
	assert_int_equal(vig_alert_dedupe_key(&m, key, &ef, &ev, err), VIG_OK);
	assert_string_equal(ef, "");
	/* separators inside values cannot make two different matches collide */
	m = match_of("tenant-a", "r|1", "x", NULL);
	assert_int_equal(vig_alert_dedupe_key(&m, key, NULL, NULL, err), VIG_OK);
	m = match_of("tenant-a", "r", "1|x", NULL);
	assert_int_equal(vig_alert_dedupe_key(&m, key2, NULL, NULL, err), VIG_OK);
	assert_string_not_equal(key, key2);
	m.tenant = NULL;
	assert_int_equal(vig_alert_dedupe_key(&m, key, NULL, NULL, err), VIG_EINVAL);
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m = match_of("tenant-a", "r", big, NULL);
	assert_int_equal(vig_alert_dedupe_key(&m, key, NULL, NULL, err), VIG_ETOOBIG);
	assert_non_null(strstr(err, "dedupe key"));
}

static void test_insert_bump_window(void **state)
{
	struct fx *f = *state;
	struct vig_alert_match m = match_of("tenant-a", "rule-1", "web-1", "ev-1");
	int64_t t0 = 1800000000LL * SEC, id1, id2, id3;
	enum vig_alert_outcome oc;
	char err[VIG_ERRBUF_SIZE] = "";
	struct vig_alert a;
	json_t *j;
	bool pub;

	assert_int_equal(record(f, &m, t0, &oc, &id1, &pub), VIG_OK);
	assert_int_equal(oc, VIG_ALERT_CREATED);
	assert_true(pub);
	m.event_id = "ev-2";
	assert_int_equal(record(f, &m, t0 + 10 * SEC, &oc, &id2, &pub), VIG_OK);
	assert_int_equal(oc, VIG_ALERT_BUMPED);
	assert_int_equal(id2, id1);
	assert_false(pub); /* within a minute of the creation publish */
	assert_int_equal(record(f, &m, t0 + 70 * SEC, &oc, &id2, &pub), VIG_OK);
	assert_true(pub); /* a minute later the bump is published once */
	assert_int_equal(record(f, &m, t0 + 80 * SEC, &oc, &id2, &pub), VIG_OK);
	assert_false(pub);

	assert_int_equal(vig_alert_get(f->db, &f->a_admin, id1, &a, err), VIG_OK);
	assert_int_equal(a.count, 4);
	assert_int_equal(a.first_seen, t0);
	assert_int_equal(a.last_seen, t0 + 80 * SEC);
	assert_int_equal(a.severity, VIG_ALERT_SEV_HIGH);
	assert_int_equal(a.status, VIG_ALERT_OPEN);
	assert_string_equal(a.title, "Suspicious shell");
	assert_string_equal(a.host, "web-1");
	assert_string_equal(a.user, "root");
	assert_string_equal(a.entity_field, "host.name");
	assert_int_equal(a.n_techniques, 2);
	assert_string_equal(a.techniques[0], "T1059.004");
	assert_string_equal(a.event_ids, "[\"ev-1\",\"ev-2\",\"ev-2\",\"ev-2\"]");
	j = vig_alert_to_json(&a);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "count")), 4);
	assert_string_equal(json_string_value(json_object_get(j, "severity")), "high");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "open");
	assert_int_equal(json_array_size(json_object_get(j, "event_ids")), 4);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "techniques"), 1)),
			    "T1105");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "entity"), "value")), "web-1");
	json_decref(j);
	vig_alert_release(&a);

	/* another host: another alert */
	m.host = "web-2";
	assert_int_equal(record(f, &m, t0 + 90 * SEC, &oc, &id3, &pub), VIG_OK);
	assert_int_equal(oc, VIG_ALERT_CREATED);
	assert_true(id3 != id1);
	/* past the window (from first_seen): a fresh alert */
	m.host = "web-1";
	assert_int_equal(record(f, &m, t0 + WINDOW + SEC, &oc, &id2, &pub), VIG_OK);
	assert_int_equal(oc, VIG_ALERT_CREATED);
	assert_true(id2 != id1);
	/* a closed alert is never bumped */
	{
		enum vig_alert_status closed = VIG_ALERT_CLOSED;

		assert_int_equal(vig_alert_update(f->db, &f->a_admin, id2, &closed, NULL, NULL, NULL, err),
				 VIG_OK);
	}
	assert_int_equal(record(f, &m, t0 + WINDOW + 2 * SEC, &oc, &id3, &pub), VIG_OK);
	assert_int_equal(oc, VIG_ALERT_CREATED);
	assert_true(id3 != id2);
}

static void test_bad_matches_and_bounds(void **state)
{
	struct fx *f = *state;
	struct vig_alert_match m = match_of("tenant-a", "rule-b", "db-1", NULL);
	char err[VIG_ERRBUF_SIZE] = "", id[32];
	int64_t t0 = 1800000000LL * SEC, aid = 0;
	struct vig_alert_tx *tx;
	struct vig_alert a;
	json_t *ids;

	assert_int_equal(vig_alert_tx_begin(f->db, 0, &tx, err), VIG_EINVAL);
	assert_int_equal(vig_alert_tx_begin(f->db, WINDOW, &tx, err), VIG_OK);
	m.title = "";
	assert_int_equal(vig_alert_tx_record(tx, &m, t0, NULL, NULL, NULL, err), VIG_EINVAL);
	m.title = "t";
	m.rule_id = NULL;
	assert_int_equal(vig_alert_tx_record(tx, &m, t0, NULL, NULL, NULL, err), VIG_EINVAL);
	m.rule_id = "rule-b";
	/* the transaction stays usable: 150 matches keep only the first 100 ids */
	for (int i = 0; i < 150; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		m.event_id = id;
		assert_int_equal(vig_alert_tx_record(tx, &m, t0 + i, NULL, &aid, NULL, err), VIG_OK);
	}
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	assert_int_equal(vig_alert_get(f->db, &f->a_admin, aid, &a, err), VIG_OK);
	assert_int_equal(a.count, 150);
	ids = json_loads(a.event_ids, 0, NULL);
	assert_int_equal(json_array_size(ids), VIG_ALERT_MAX_EVENT_IDS);
	assert_string_equal(json_string_value(json_array_get(ids, 99)), "id-99");
	json_decref(ids);
	vig_alert_release(&a);
	/* aborted transaction leaves nothing */
	assert_int_equal(vig_alert_tx_begin(f->db, WINDOW, &tx, err), VIG_OK);
	m.rule_id = "rule-aborted";
	assert_int_equal(vig_alert_tx_record(tx, &m, t0, NULL, &aid, NULL, err), VIG_OK);
	vig_alert_tx_abort(tx);
	assert_int_equal(vig_alert_get(f->db, &f->sys, aid, &a, err), VIG_ENOTFOUND);
}

/* More writes than one transaction may hold: committed in steps, nothing lost. */
static void test_tx_bound(void **state)
{
	struct fx *f = *state;
	struct vig_alert_match m = match_of("tenant-b", "rule-many", "h", NULL);
	char err[VIG_ERRBUF_SIZE] = "";
	int64_t t0 = 1800000000LL * SEC, aid = 0, bid = 0;
	struct vig_alert_tx *tx;
	struct vig_alert a;
	const int n = VIG_ALERT_TX_MAX + 7;

	assert_int_equal(vig_alert_tx_begin(f->db, WINDOW, &tx, err), VIG_OK);
	for (int i = 0; i < n; i++)
		assert_int_equal(vig_alert_tx_record(tx, &m, t0 + i, NULL, &aid, NULL, err), VIG_OK);
	m.host = "other";
	assert_int_equal(vig_alert_tx_record(tx, &m, t0 + n, NULL, &bid, NULL, err), VIG_OK);
	assert_int_equal(vig_alert_tx_commit(tx, err), VIG_OK);
	assert_int_equal(vig_alert_get(f->db, &f->b_admin, aid, &a, err), VIG_OK);
	assert_int_equal(a.count, n);
	assert_int_equal(a.last_seen, t0 + n - 1);
	vig_alert_release(&a);
	assert_int_equal(vig_alert_get(f->db, &f->b_admin, bid, &a, err), VIG_OK);
	assert_int_equal(a.count, 1);
	vig_alert_release(&a);
}

static void test_scope_list_update(void **state)
{
	struct fx *f = *state;
	int64_t t0 = 1800000000LL * SEC, ida, idb;
	struct vig_alert_match m = match_of("tenant-a", "rule-x", "a-host", "e");
	struct vig_alert_filter flt = {0};
	enum vig_alert_status ack = VIG_ALERT_ACKNOWLEDGED;
	struct vig_alert *rows, a, before, after;
	char err[VIG_ERRBUF_SIZE] = "", longname[VIG_NAME_MAX + 8];
	size_t n;

	assert_int_equal(record(f, &m, t0, NULL, &ida, NULL), VIG_OK);
	m = match_of("tenant-b", "rule-x", "b-host", "e");
	m.level = "low";
	assert_int_equal(record(f, &m, t0 + SEC, NULL, &idb, NULL), VIG_OK);

	/* B sees only its own; asking for A is refused */
	assert_int_equal(vig_alert_list(f->db, &f->b_admin, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].tenant, "tenant-b");
	vig_alert_list_free(rows, n);
	flt.tenant = "tenant-a";
	assert_int_equal(vig_alert_list(f->db, &f->b_admin, &flt, &rows, &n, err), VIG_EPERM);
	assert_int_equal(vig_alert_get(f->db, &f->b_admin, ida, &a, err), VIG_ENOTFOUND);
	assert_int_equal(vig_alert_update(f->db, &f->b_admin, ida, &ack, "mallory", NULL, NULL, err),
			 VIG_ENOTFOUND);
	/* the provider sees both, or narrows */
	flt.tenant = NULL;
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].id, idb); /* newest last_seen first */
	vig_alert_list_free(rows, n);
	flt.tenant = "tenant-a";
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, ida);
	vig_alert_list_free(rows, n);
	/* filters */
	flt.tenant = NULL;
	flt.has_severity = true;
	flt.severity = VIG_ALERT_SEV_MEDIUM;
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1); /* high yes, low no */
	assert_int_equal(rows[0].id, ida);
	vig_alert_list_free(rows, n);
	flt.has_severity = false;
	flt.host = "b-host";
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	vig_alert_list_free(rows, n);
	flt.host = NULL;
	flt.since = t0 + SEC / 2;
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	vig_alert_list_free(rows, n);
	flt.since = 0;
	flt.limit = VIG_ALERT_LIST_MAX + 1;
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_EINVAL);
	flt.limit = 0;

	/* update: status and assignee, with before / after */
	assert_int_equal(vig_alert_update(f->db, &f->a_admin, ida, &ack, "alice", &before, &after, err),
			 VIG_OK);
	assert_int_equal(before.status, VIG_ALERT_OPEN);
	assert_string_equal(before.assignee, "");
	assert_int_equal(after.status, VIG_ALERT_ACKNOWLEDGED);
	assert_string_equal(after.assignee, "alice");
	assert_int_equal(after.n_techniques, 2); /* data kept */
	vig_alert_release(&before);
	vig_alert_release(&after);
	assert_int_equal(vig_alert_get(f->db, &f->a_admin, ida, &a, err), VIG_OK);
	assert_int_equal(a.status, VIG_ALERT_ACKNOWLEDGED);
	assert_string_equal(a.assignee, "alice");
	assert_string_equal(a.entity, "a-host");
	vig_alert_release(&a);
	flt.has_status = true;
	flt.status = VIG_ALERT_ACKNOWLEDGED;
	assert_int_equal(vig_alert_list(f->db, &f->sys, &flt, &rows, &n, err), VIG_OK);
	assert_int_equal(n, 1);
	vig_alert_list_free(rows, n);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(vig_alert_update(f->db, &f->a_admin, ida, NULL, longname, NULL, NULL, err),
			 VIG_EINVAL);
	assert_int_equal(vig_alert_update(f->db, &f->a_admin, ida, NULL, "", NULL, &after, err), VIG_OK);
	assert_string_equal(after.assignee, "");
	assert_int_equal(after.status, VIG_ALERT_ACKNOWLEDGED);
	vig_alert_release(&after);
	assert_int_equal(vig_alert_get(f->db, &f->a_admin, 999999, &a, err), VIG_ENOTFOUND);
}

/* ---- rule set ---- */

#define RULE_FMT                                                                                   \
	"title: %s\nid: %s\nlevel: %s\ntags:\n  - attack.t1059\nlogsource:\n  category: "           \
	"process_creation\n  product: linux\ndetection:\n  sel:\n    CommandLine|contains: %s\n"    \
	"  condition: sel\n"

static void put_rule(struct fx *f, const char *tenant, const char *id, const char *marker,
		     int enabled)
{
	char yaml[1024];
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;

	snprintf(yaml, sizeof(yaml), RULE_FMT, id, id, "high", marker);
	assert_int_equal(sqlite3_prepare_v2(h,
					    "INSERT OR REPLACE INTO rules (id, tenant_id, name, yaml, "
					    "enabled, created, updated) VALUES (?1, ?2, ?1, ?3, ?4, 1, 1)",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, marker ? yaml : "title: broken\nlogsource: {}\n", -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, enabled);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
}

struct hits {
	const struct vig_alert_engine *e;
	char ids[8][64];
	const char *tenants[8];
	size_t n;
};

static int on_match(void *ctx, const struct vig_sigma_rule *rule)
{
	struct hits *h = ctx;
	const struct vig_alert_rule_info *in = vig_alert_engine_rule(h->e, rule);

	assert_non_null(in);
	if (h->n < 8) {
		snprintf(h->ids[h->n], sizeof(h->ids[0]), "%s", in->rule_id);
		h->tenants[h->n] = in->tenant;
		h->n++;
	}
	return 0;
}

/* Matches one process event with command line cmd; returns the hits. */
static struct hits run(struct vig_alert_engine *e, const char *cmd)
{
	char json[512], err[VIG_ERRBUF_SIZE] = "";
	struct vig_detect_scratch *s = vig_detect_scratch_new(vig_alert_engine_detect(e), err);
	struct hits h = {.e = e};
	struct vig_arena arena;
	struct vig_event ev;

	assert_non_null(s);
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	snprintf(json, sizeof(json),
		 "{\"event\":{\"category\":\"process\",\"type\":\"start\"},\"agent\":{\"id\":\"a1\"},"
		 "\"process\":{\"command_line\":\"%s\"},\"host\":{\"name\":\"h1\"}}",
		 cmd);
	assert_int_equal(vig_event_from_json(&ev, json, strlen(json), NULL, err), VIG_OK);
	assert_int_equal(vig_detect_match(vig_alert_engine_detect(e), s, &ev, on_match, &h, NULL),
			 VIG_OK);
	vig_detect_scratch_free(s);
	vig_arena_release(&arena);
	return h;
}

static void test_rules(void **state)
{
	struct fx *f = *state;
	char dir[] = "/tmp/vig-alert-rules-XXXXXX", path[256], err[VIG_ERRBUF_SIZE] = "";
	struct vig_alert_rules_status st;
	struct vig_alert_engine *e1, *e2;
	struct vig_alert_rules *r;
	struct vig_sigma_rule *const *rules;
	size_t n_rules;
	struct hits h;
	FILE *fp;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/sub/dir-rule.yml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, RULE_FMT, "dir rule", "dir-rule-id", "low", "marker-dir");
	fclose(fp);
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("title: bad\ndetection:\n  sel:\n    a|nosuchmodifier: 1\n  condition: sel\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a rule", fp);
	fclose(fp);

	put_rule(f, VIG_DB_PROVIDER_TENANT, "prov-rule", "marker-prov", 1);
	put_rule(f, "tenant-a", "a-rule", "marker-a", 1);
	put_rule(f, "tenant-a", "a-off", "marker-off", 0);
	put_rule(f, "tenant-b", "b-broken", NULL, 1);

	r = vig_alert_rules_new(f->db, dir, err);
	assert_non_null(r);
	vig_alert_rules_status(r, &st);
	assert_int_equal(st.generation, 1);
	assert_int_equal(st.rules, 3); /* prov, a-rule, dir rule */
	assert_int_equal(st.load_failures, 2); /* b-broken, bad.yaml */
	e1 = vig_alert_rules_acquire(r);
	assert_true(vig_alert_engine_has(e1, "tenant-a", "a-rule"));
	assert_false(vig_alert_engine_has(e1, "tenant-a", "a-off"));
	assert_false(vig_alert_engine_has(e1, "tenant-b", "a-rule"));
	assert_true(vig_alert_engine_has(e1, VIG_DB_PROVIDER_TENANT, "prov-rule"));
	/* a rules_dir rule names its file relative to the directory; DB rules name none */
	rules = vig_detect_rules(vig_alert_engine_detect(e1), &n_rules);
	assert_int_equal(n_rules, 3);
	for (size_t i = 0; i < n_rules; i++) {
		const struct vig_alert_rule_info *in = vig_alert_engine_rule(e1, rules[i]);

		assert_non_null(in);
		if (strcmp(in->rule_id, "dir-rule-id") == 0)
			assert_string_equal(in->file, "sub/dir-rule.yml");
		else
			assert_null(in->file);
	}

	h = run(e1, "sh -c marker-prov marker-a marker-dir");
	assert_int_equal(h.n, 3);
	for (size_t i = 0; i < h.n; i++) {
		if (strcmp(h.ids[i], "a-rule") == 0)
			assert_string_equal(h.tenants[i], "tenant-a");
		else if (strcmp(h.ids[i], "prov-rule") == 0 || strcmp(h.ids[i], "dir-rule-id") == 0)
			assert_null(h.tenants[i]);
		else
			fail_msg("unexpected rule %s", h.ids[i]);
	}
	assert_int_equal(run(e1, "ls -la").n, 0);
	assert_int_equal(run(e1, "marker-off").n, 0);

	/* enable a-off and rebuild synchronously: e1 stays valid while held */
	put_rule(f, "tenant-a", "a-off", "marker-off", 1);
	assert_int_equal(vig_alert_rules_rebuild(r, err), VIG_OK);
	e2 = vig_alert_rules_acquire(r);
	assert_true(e1 != e2);
	assert_int_equal(vig_alert_engine_generation(e2), 2);
	assert_int_equal(run(e2, "marker-off").n, 1);
	assert_int_equal(run(e1, "marker-off").n, 0);
	h = run(e1, "marker-a");
	assert_int_equal(h.n, 1);
	vig_alert_engine_release(e1);
	vig_alert_engine_release(e2);

	/* asynchronous rebuild after a change */
	put_rule(f, "tenant-a", "a-rule", "marker-a", 0);
	vig_alert_rules_request(r);
	for (int i = 0; i < 500; i++) {
		vig_alert_rules_status(r, &st);
		if (st.generation >= 3 && !st.pending)
			break;
		usleep(10000);
	}
	assert_int_equal(st.generation, 3);
	assert_false(st.pending);
	e1 = vig_alert_rules_acquire(r);
	assert_int_equal(run(e1, "marker-a").n, 0);
	/* the holder may go first: the engine lives until its last reference */
	vig_alert_rules_free(r);
	assert_int_equal(run(e1, "marker-prov").n, 1);
	vig_alert_engine_release(e1);

	unlink(path);
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub/dir-rule.yml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_techniques),
		cmocka_unit_test(test_dedupe_key),
		cmocka_unit_test_setup_teardown(test_insert_bump_window, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_matches_and_bounds, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tx_bound, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scope_list_update, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rules, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
