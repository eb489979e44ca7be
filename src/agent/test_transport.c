/*
 * test_transport.c - unit tests of the agent's transport half: the disk spool (order, bound,
 * restart recovery, a torn file at the tail, a damaged sequence file), the key and CSR of
 * enrolment, URL parsing, the wtmp and journal record mapping, the file tailer (appends,
 * rotation, truncation, positions across restarts), and the sender against a small HTTP server
 * in this process (strict order, batch ids, retry after 503, resend after a restart).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmp.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/vtime.h"
#include "event/event_json.h"
#include "parse/parse.h"
#include "transport.h"

static char g_dir[256];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/vig-transport-XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void spool_dir(char *out, size_t cap)
{
	snprintf(out, cap, "%s/spool", g_dir);
}

/* n NDJSON lines tagged with tag into b. */
static void make_batch(struct vig_buf *b, const char *tag, int n)
{
	vig_buf_reset(b);
	for (int i = 0; i < n; i++)
		vig_buf_printf(b, "{\"message\":\"%s-%d\"}\n", tag, i);
}

static void expect_peek(struct vig_spool *s, uint64_t want_seq, const char *want_body)
{
	struct vig_buf z, raw;
	uint64_t seq = 0;

	vig_buf_init(&z, 4u << 20);
	vig_buf_init(&raw, 4u << 20);
	assert_int_equal(vig_spool_peek(s, &seq, &z, NULL), VIG_OK);
	assert_int_equal(seq, want_seq);
	assert_int_equal(vig_spool_decompress(z.data, z.len, 4u << 20, &raw, NULL), VIG_OK);
	assert_int_equal(raw.len, strlen(want_body));
	assert_memory_equal(raw.data, want_body, raw.len);
	vig_buf_release(&z);
	vig_buf_release(&raw);
}

/* ---- spool ---- */

static void test_spool_order(void **state)
{
	char dir[300], errbuf[VIG_ERRBUF_SIZE], *bodies[3];
	struct vig_spool_stats st;
	struct vig_buf b, z;
	struct vig_spool *s;
	uint64_t seq;

	(void)state;
	spool_dir(dir, sizeof(dir));
	s = vig_spool_open(dir, 0, errbuf);
	assert_non_null(s);
	vig_buf_init(&b, 1u << 20);
	vig_buf_init(&z, 1u << 20);
	assert_int_equal(vig_spool_peek(s, &seq, &z, NULL), VIG_ENOTFOUND);
	for (int i = 0; i < 3; i++) {
		char tag[8];

		snprintf(tag, sizeof(tag), "b%d", i);
		make_batch(&b, tag, 10 + i);
		bodies[i] = strdup(b.data);
		assert_int_equal(vig_spool_put(s, b.data, b.len, 10 + i, &seq, errbuf), VIG_OK);
		assert_int_equal(seq, (uint64_t)i + 1);
	}
	vig_spool_stats(s, &st);
	assert_int_equal(st.batches, 3);
	assert_true(st.oldest_ns > 0);
	for (int i = 0; i < 3; i++) {
		expect_peek(s, (uint64_t)i + 1, bodies[i]);
		expect_peek(s, (uint64_t)i + 1, bodies[i]); /* peek does not consume */
		assert_int_equal(vig_spool_ack(s, (uint64_t)i + 1, NULL), VIG_OK);
		free(bodies[i]);
	}
	assert_int_equal(vig_spool_ack(s, 2, NULL), VIG_ENOTFOUND);
	assert_int_equal(vig_spool_peek(s, &seq, &z, NULL), VIG_ENOTFOUND);
	vig_spool_stats(s, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.acked, 3);
	assert_int_equal(st.next_seq, 4);
	vig_spool_free(s);
	vig_buf_release(&b);
	vig_buf_release(&z);
}

/* Incompressible lines (random hex) of about bytes into b: n lines. */
static void make_random_batch(struct vig_buf *b, int lines, size_t line_bytes)
{
	vig_buf_reset(b);
	for (int i = 0; i < lines; i++) {
		uint8_t r[512];
		char hex[1025];
		size_t n = VIG_MIN(line_bytes / 2, sizeof(r));

		vig_random(r, n);
		vig_hex(r, n, hex);
		vig_buf_printf(b, "{\"message\":\"%s\"}\n", hex);
	}
}

static void test_spool_bound(void **state)
{
	char dir[300], errbuf[VIG_ERRBUF_SIZE];
	struct vig_spool_stats st;
	struct vig_buf b;
	struct vig_spool *s;
	uint64_t seq = 0;

	(void)state;
	spool_dir(dir, sizeof(dir));
	s = vig_spool_open(dir, 64u << 10, errbuf); /* ~3 batches of ~20 KiB compressed */
	assert_non_null(s);
	vig_buf_init(&b, 1u << 20);
	for (int i = 0; i < 8; i++) {
		make_random_batch(&b, 40, 1000); /* 40 lines, ~20 KB of entropy */
		assert_int_equal(vig_spool_put(s, b.data, b.len, 40, &seq, errbuf), VIG_OK);
		vig_spool_stats(s, &st);
		assert_true(st.bytes <= 64u << 10);
	}
	vig_spool_stats(s, &st);
	assert_true(st.dropped_batches >= 4);
	assert_int_equal(st.dropped_batches + st.batches, 8);
	assert_int_equal(st.dropped_events, st.dropped_batches * 40);
	/* what is left are the newest batches, oldest first */
	{
		struct vig_buf z;
		uint64_t first = 0;

		vig_buf_init(&z, 1u << 20);
		assert_int_equal(vig_spool_peek(s, &first, &z, NULL), VIG_OK);
		assert_int_equal(first, 8 - st.batches + 1);
		vig_buf_release(&z);
	}
	/* one batch larger than the whole bound is refused, nothing else dropped */
	make_random_batch(&b, 200, 1000);
	assert_int_equal(vig_spool_put(s, b.data, b.len, 200, NULL, errbuf), VIG_ETOOBIG);
	{
		struct vig_spool_stats st2;

		vig_spool_stats(s, &st2);
		assert_int_equal(st2.batches, st.batches);
	}
	vig_spool_free(s);
	vig_buf_release(&b);
}

static void test_spool_restart_and_torn_tail(void **state)
{
	char dir[300], path[400], errbuf[VIG_ERRBUF_SIZE];
	struct vig_spool_stats st;
	struct vig_buf b;
	struct vig_spool *s;
	struct stat sb;
	FILE *f;

	(void)state;
	spool_dir(dir, sizeof(dir));
	s = vig_spool_open(dir, 0, errbuf);
	assert_non_null(s);
	vig_buf_init(&b, 1u << 20);
	make_batch(&b, "one", 5);
	assert_int_equal(vig_spool_put(s, b.data, b.len, 5, NULL, errbuf), VIG_OK);
	make_batch(&b, "two", 5);
	assert_int_equal(vig_spool_put(s, b.data, b.len, 5, NULL, errbuf), VIG_OK);
	make_random_batch(&b, 30, 600);
	assert_int_equal(vig_spool_put(s, b.data, b.len, 30, NULL, errbuf), VIG_OK);
	vig_spool_free(s);

	/* the last batch is torn (a crash mid-write on a filesystem without rename ordering) and a
	 * temporary file was left behind */
	snprintf(path, sizeof(path), "%s/%020d.ndjson.zst", dir, 3);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	snprintf(path, sizeof(path), "%s/%020d.ndjson.zst.tmp", dir, 4);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("partial", f);
	fclose(f);

	s = vig_spool_open(dir, 0, errbuf);
	assert_non_null(s);
	vig_spool_stats(s, &st);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(st.batches, 2);
	assert_int_equal(st.next_seq, 4); /* never reuses the torn batch's sequence */
	assert_int_not_equal(access(path, F_OK), 0);
	make_batch(&b, "one", 5);
	expect_peek(s, 1, b.data);
	assert_int_equal(vig_spool_ack(s, 1, NULL), VIG_OK);
	make_batch(&b, "two", 5);
	expect_peek(s, 2, b.data);
	assert_int_equal(vig_spool_ack(s, 2, NULL), VIG_OK);
	vig_spool_free(s);

	/* empty spool: the sequence file alone keeps the counter */
	s = vig_spool_open(dir, 0, errbuf);
	assert_non_null(s);
	vig_spool_stats(s, &st);
	assert_int_equal(st.batches, 0);
	assert_int_equal(st.next_seq, 4);
	vig_spool_free(s);

	/* a damaged sequence file does not stop the spool */
	snprintf(path, sizeof(path), "%s/seq", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("garbage", f);
	fclose(f);
	s = vig_spool_open(dir, 0, errbuf);
	assert_non_null(s);
	vig_spool_free(s);
	vig_buf_release(&b);
}

static void test_spool_bad_input(void **state)
{
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_buf out;

	(void)state;
	assert_null(vig_spool_open("/proc/definitely/not/here", 0, errbuf));
	assert_true(strlen(errbuf) > 0);
	vig_buf_init(&out, 1024);
	assert_int_equal(vig_spool_decompress("not zstd", 8, 1024, &out, errbuf), VIG_EPARSE);
	vig_buf_release(&out);
}

/* ---- enrolment pieces ---- */

static void test_csr(void **state)
{
	char key_path[300], *csr = NULL, errbuf[VIG_ERRBUF_SIZE];
	struct stat st;
	X509_REQ *req;
	EVP_PKEY *pub;
	BIO *bio;

	(void)state;
	snprintf(key_path, sizeof(key_path), "%s/agent.key", g_dir);
	assert_int_equal(vig_enroll_make_csr(key_path, "host-a", &csr, errbuf), VIG_OK);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_non_null(strstr(csr, "BEGIN CERTIFICATE REQUEST"));
	bio = BIO_new_mem_buf(csr, -1);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	assert_non_null(req);
	pub = X509_REQ_get_pubkey(req);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(EVP_PKEY_get_bits(pub), 256);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	BIO_free(bio);
	free(csr);
	/* unwritable key path */
	assert_int_equal(vig_enroll_make_csr("/proc/nope/agent.key", "h", &csr, errbuf), VIG_EIO);
	assert_null(csr);
}

static void test_identity_and_state_dir(void **state)
{
	char dir[300], path[400], errbuf[VIG_ERRBUF_SIZE];
	struct vig_identity id;
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/state", g_dir);
	assert_int_equal(vig_state_dir_prepare("relative", errbuf), VIG_EINVAL);
	assert_int_equal(vig_state_dir_prepare(dir, errbuf), VIG_OK);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(vig_identity_load(dir, &id, errbuf), VIG_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/agent.json", dir);
	f = fopen(path, "w");
	fputs("{\"agent_id\":\"short\"}", f);
	fclose(f);
	assert_int_equal(vig_identity_load(dir, &id, errbuf), VIG_EPARSE);
	f = fopen(path, "w");
	fputs("{\"agent_id\":\"0123456789abcdef0123456789abcdef\",\"tenant\":\"t1\",\"server\":\"https://x:1\"}", f);
	fclose(f);
	assert_int_equal(vig_identity_load(dir, &id, errbuf), VIG_ENOTFOUND); /* no key/cert yet */
	snprintf(path, sizeof(path), "%s/agent.key", dir);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/agent.crt", dir);
	fclose(fopen(path, "w"));
	assert_int_equal(vig_identity_load(dir, &id, errbuf), VIG_OK);
	assert_string_equal(id.agent_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(id.tenant, "t1");
	assert_string_equal(id.server, "https://x:1");
	assert_string_equal(id.server_ca_path, "");
	/* enrolment input checks before any network */
	assert_int_equal(vig_enroll("http://x", NULL, "t", dir, &id, errbuf), VIG_EINVAL);
	assert_int_equal(vig_enroll("https://x", NULL, "bad\ntoken", dir, &id, errbuf), VIG_EINVAL);
	/* nobody listens: a clear error, not a crash */
	assert_int_equal(vig_enroll("https://127.0.0.1:1", NULL, "vge_x", dir, &id, errbuf), VIG_EIO);
	assert_non_null(strstr(errbuf, "127.0.0.1:1"));
}

static void test_url(void **state)
{
	char host[64];
	int port;

	(void)state;
	assert_true(vig_url_host_port("https://127.0.0.1:8443", host, sizeof(host), &port));
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8443);
	assert_true(vig_url_host_port("https://vigil.example/x", host, sizeof(host), &port));
	assert_string_equal(host, "vigil.example");
	assert_int_equal(port, 443);
	assert_true(vig_url_host_port("https://[::1]:9/", host, sizeof(host), &port));
	assert_string_equal(host, "::1");
	assert_int_equal(port, 9);
	assert_false(vig_url_host_port("ftp://x", host, sizeof(host), &port));
	assert_false(vig_url_host_port("https://x:99999", host, sizeof(host), &port));
	assert_false(vig_url_host_port("https://:80", host, sizeof(host), &port));
}

/* ---- records ---- */

static char *event_json(const struct vig_event *ev)
{
	struct vig_buf b;
	size_t n;

	vig_buf_init(&b, 1u << 20);
	assert_int_equal(vig_event_to_json(ev, &b), VIG_OK);
	return vig_buf_take(&b, &n);
}

static void test_wtmp_record(void **state)
{
	struct vig_arena arena;
	struct vig_event ev;
	struct utmp u;
	char *js;

	(void)state;
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	memset(&u, 0, sizeof(u));
	u.ut_type = USER_PROCESS;
	u.ut_pid = 4242;
	memcpy(u.ut_user, "alice", 5);
	memcpy(u.ut_line, "pts/3", 5);
	memcpy(u.ut_host, "192.0.2.7", 9);
	u.ut_tv.tv_sec = 1700000000;
	assert_int_equal(vig_wtmp_to_event(&u, sizeof(u), &ev), VIG_OK);
	js = event_json(&ev);
	assert_non_null(strstr(js, "\"user_login\""));
	assert_non_null(strstr(js, "\"alice\""));
	assert_non_null(strstr(js, "\"192.0.2.7\""));
	assert_non_null(strstr(js, "2023-11-14T22:13:20"));
	free(js);
	vig_event_clear(&ev);
	u.ut_type = DEAD_PROCESS;
	assert_int_equal(vig_wtmp_to_event(&u, sizeof(u), &ev), VIG_OK);
	js = event_json(&ev);
	assert_non_null(strstr(js, "\"user_logout\""));
	free(js);
	vig_event_clear(&ev);
	u.ut_type = BOOT_TIME;
	assert_int_equal(vig_wtmp_to_event(&u, sizeof(u), &ev), VIG_ENOTFOUND);
	assert_int_equal(vig_wtmp_to_event(&u, 10, &ev), VIG_EINVAL);
	vig_arena_release(&arena);
}

static void test_journal_line(void **state)
{
	char errbuf[VIG_ERRBUF_SIZE], *js;
	struct vig_parse_ctx pctx;
	struct vig_arena arena;
	struct vig_event ev;
	struct vig_buf line;

	(void)state;
	vig_buf_init(&line, 1u << 16);
	assert_int_equal(vig_journal_line(1700000000123456LL, 5, "web1", "su", "777",
					  "pam_unix(su:session): session opened for user root(uid=0) by bob(uid=1000)\nx",
					  &line), VIG_OK);
	assert_non_null(strstr(line.data, "<85>1 2023-11-14T22:13:20.123456"));
	assert_non_null(strstr(line.data, " web1 su 777 - - pam_unix"));
	assert_null(strchr(line.data, '\n'));
	vig_parse_ctx_init(&pctx, 0);
	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	assert_int_equal(vig_parse_syslog(&pctx, line.data, line.len, &ev, errbuf), VIG_OK);
	js = event_json(&ev);
	assert_non_null(strstr(js, "session_opened"));
	assert_non_null(strstr(js, "\"bob\"")); /* user.name: who switched */
	free(js);
	vig_arena_release(&arena);
	vig_buf_release(&line);
}

/* ---- tail ---- */

struct collect {
	pthread_mutex_t mu;
	char *msgs[256];
	size_t n;
};

static void collect_emit(void *ctx, const struct vig_event *ev)
{
	struct collect *c = ctx;
	const struct vig_val *m = vig_event_get(ev, VIG_F_MESSAGE);
	const struct vig_val *p = vig_event_ext_get(ev, "log.file.path", 13);

	assert_non_null(p);
	pthread_mutex_lock(&c->mu);
	if (m && c->n < VIG_ARRAY_LEN(c->msgs))
		c->msgs[c->n++] = strndup(m->u.s, m->n);
	pthread_mutex_unlock(&c->mu);
}

static bool wait_for(struct collect *c, size_t n)
{
	for (int i = 0; i < 200; i++) {
		size_t have;

		pthread_mutex_lock(&c->mu);
		have = c->n;
		pthread_mutex_unlock(&c->mu);
		if (have >= n)
			return have == n;
		usleep(20 * 1000);
	}
	return false;
}

static void append(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_tail_rotation_and_restart(void **state)
{
	char log[300], rotated[300], spec[320], errbuf[VIG_ERRBUF_SIZE];
	struct collect c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct vig_agent_host host = { .id = "hostid", .name = "hostname" };
	struct vig_forward_sink sink = { .emit = collect_emit, .ctx = &c, .host = &host };
	struct vig_tail_file tf;
	struct vig_tail *t;
	uint64_t lines, failed, rot;

	(void)state;
	snprintf(log, sizeof(log), "%s/app.log", g_dir);
	snprintf(rotated, sizeof(rotated), "%s/app.log.1", g_dir);
	append(log, "old line before the agent\n");
	snprintf(spec, sizeof(spec), "%s:kv", log);
	assert_int_equal(vig_tail_spec_parse(spec, &tf, errbuf), VIG_OK);
	assert_string_equal(tf.format, "kv");
	assert_int_equal(vig_tail_spec_parse("rel.log", &tf, errbuf), VIG_EINVAL);
	assert_int_equal(vig_tail_spec_parse("/x.log:nosuchformat", &tf, errbuf), VIG_EINVAL);
	assert_int_equal(vig_tail_spec_parse(log, &tf, errbuf), VIG_OK);
	assert_string_equal(tf.format, "auto");

	t = vig_tail_start(&tf, 1, g_dir, &sink, 20, errbuf);
	assert_non_null(t);
	usleep(100 * 1000); /* first open: positioned at the end */
	append(log, "a=1 first\n");
	append(log, "a=2 sec");
	usleep(100 * 1000);
	append(log, "ond\n");
	assert_true(wait_for(&c, 2));
	assert_string_equal(c.msgs[0], "a=1 first");
	assert_string_equal(c.msgs[1], "a=2 second");
	/* rotation: the tail of the old file, then the new file from its start */
	append(log, "a=3 last of old\n");
	assert_int_equal(rename(log, rotated), 0);
	append(rotated, "a=4 written after rename\n");
	append(log, "a=5 new file\n");
	assert_true(wait_for(&c, 5));
	assert_string_equal(c.msgs[2], "a=3 last of old");
	assert_string_equal(c.msgs[3], "a=4 written after rename");
	assert_string_equal(c.msgs[4], "a=5 new file");
	/* truncation */
	usleep(100 * 1000);
	assert_int_equal(truncate(log, 0), 0);
	usleep(100 * 1000);
	append(log, "a=6 after truncate\n");
	assert_true(wait_for(&c, 6));
	assert_string_equal(c.msgs[5], "a=6 after truncate");
	vig_tail_counters(t, &lines, &failed, &rot);
	assert_int_equal(lines, 6);
	assert_true(rot >= 2);
	vig_tail_stop(t);

	/* while stopped: more lines; a restart continues at the kept position */
	append(log, "a=7 while stopped\n");
	t = vig_tail_start(&tf, 1, g_dir, &sink, 20, errbuf);
	assert_non_null(t);
	append(log, "a=8 after restart\n");
	assert_true(wait_for(&c, 8));
	assert_string_equal(c.msgs[6], "a=7 while stopped");
	assert_string_equal(c.msgs[7], "a=8 after restart");
	vig_tail_stop(t);
	for (size_t i = 0; i < c.n; i++)
		free(c.msgs[i]);
}

static void test_tail_wtmp(void **state)
{
	char path[300], spec[320], errbuf[VIG_ERRBUF_SIZE];
	struct collect c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct vig_agent_host host = { .id = "hostid", .name = "hostname" };
	struct vig_forward_sink sink = { .emit = collect_emit, .ctx = &c, .host = &host };
	struct vig_tail_file tf;
	struct vig_tail *t;
	struct utmp u;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/wtmp", g_dir);
	fclose(fopen(path, "w"));
	snprintf(spec, sizeof(spec), "%s:wtmp", path);
	assert_int_equal(vig_tail_spec_parse(spec, &tf, errbuf), VIG_OK);
	t = vig_tail_start(&tf, 1, g_dir, &sink, 20, errbuf);
	assert_non_null(t);
	usleep(100 * 1000);
	memset(&u, 0, sizeof(u));
	u.ut_type = USER_PROCESS;
	memcpy(u.ut_user, "carol", 5);
	u.ut_tv.tv_sec = 1700000000;
	f = fopen(path, "a");
	/* written in two pieces: the tailer waits for the whole record */
	fwrite(&u, 1, 100, f);
	fflush(f);
	usleep(80 * 1000);
	fwrite((char *)&u + 100, 1, sizeof(u) - 100, f);
	u.ut_type = BOOT_TIME;
	fwrite(&u, 1, sizeof(u), f);
	fclose(f);
	assert_true(wait_for(&c, 1));
	assert_non_null(strstr(c.msgs[0], "wtmp login user=carol"));
	vig_tail_stop(t);
	free(c.msgs[0]);
}

/* ---- sender against a small HTTP server ---- */

struct mini {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	int fail_next;            /* answer 503 to this many event posts */
	uint64_t seqs[256];       /* batch sequences received, in order (503s too) */
	int status[256];
	size_t n;
	size_t lines;             /* lines received in 2xx batches */
	char agent_seen[64];
	bool stop;
};

static void *mini_main(void *arg)
{
	struct mini *m = arg;

	for (;;) {
		char req[1u << 16];
		size_t got = 0, clen = 0, hlen;
		char *end, *h, *body;
		int c = accept(m->fd, NULL, NULL);
		int status = 200;
		char reply[512];
		const char *rbody = "{}";

		if (c < 0)
			break;
		pthread_mutex_lock(&m->mu);
		if (m->stop) {
			pthread_mutex_unlock(&m->mu);
			close(c);
			break;
		}
		pthread_mutex_unlock(&m->mu);
		while (got < sizeof(req) - 1) {
			ssize_t r = read(c, req + got, sizeof(req) - 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			end = strstr(req, "\r\n\r\n");
			if (!end)
				continue;
			h = strcasestr(req, "Content-Length:");
			clen = h ? strtoul(h + 15, NULL, 10) : 0;
			hlen = (size_t)(end + 4 - req);
			if (got >= hlen + clen)
				break;
		}
		body = strstr(req, "\r\n\r\n");
		if (body && strncmp(req, "POST /api/v1/agent/events", 25) == 0) {
			char *bid = strcasestr(req, "X-Vigil-Batch-Id: ");
			char *colon = bid ? strchr(bid + 18, ':') : NULL;

			pthread_mutex_lock(&m->mu);
			if (m->fail_next > 0) {
				m->fail_next--;
				status = 503;
			}
			if (colon && m->n < 256) {
				snprintf(m->agent_seen, sizeof(m->agent_seen), "%.*s", (int)(colon - bid - 18), bid + 18);
				m->seqs[m->n] = strtoull(colon + 1, NULL, 10);
				m->status[m->n++] = status;
			}
			if (status == 200) {
				struct vig_buf raw;

				vig_buf_init(&raw, 4u << 20);
				if (vig_spool_decompress(body + 4, clen, 4u << 20, &raw, NULL) == VIG_OK)
					for (size_t i = 0; i < raw.len; i++)
						m->lines += raw.data[i] == '\n';
				vig_buf_release(&raw);
				rbody = "{\"accepted\":1,\"rejected\":0,\"duplicate\":false}";
			}
			pthread_mutex_unlock(&m->mu);
		} else if (strncmp(req, "POST /api/v1/agent/heartbeat", 28) == 0) {
			rbody = "{\"heartbeat_s\":30,\"actions_pending\":0}";
		}
		snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", status, strlen(rbody), rbody);
		if (write(c, reply, strlen(reply)) < 0)
			break;
		close(c);
	}
	return NULL;
}

static void mini_start(struct mini *m)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	pthread_mutex_init(&m->mu, NULL);
	m->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(m->fd, 16), 0);
	getsockname(m->fd, (struct sockaddr *)&a, &len);
	m->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&m->thread, NULL, mini_main, m), 0);
}

static void mini_stop(struct mini *m)
{
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_mutex_unlock(&m->mu);
	shutdown(m->fd, SHUT_RDWR);
	close(m->fd);
	pthread_join(m->thread, NULL);
	pthread_mutex_destroy(&m->mu);
}

static size_t mini_lines(struct mini *m)
{
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = m->lines;
	pthread_mutex_unlock(&m->mu);
	return n;
}

static void test_sender_order_retry_restart(void **state)
{
	struct vig_identity id = { .agent_id = "0123456789abcdef0123456789abcdef", .tenant = "t" };
	struct vig_transport_config cfg = { 0 };
	struct vig_transport_counters cn;
	struct vig_spool_stats ss;
	char url[64], errbuf[VIG_ERRBUF_SIZE], line[64];
	struct vig_transport *t;
	struct mini m = { .fail_next = 2 };
	uint64_t last = 0;

	(void)state;
	mini_start(&m);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
	cfg.server = url;
	cfg.state_dir = g_dir;
	cfg.id = &id;
	cfg.no_actions = true;
	cfg.flush_ms = 50;
	cfg.heartbeat_s = 3600;
	t = vig_transport_new(&cfg, errbuf);
	assert_non_null(t);
	for (int i = 0; i < 2500; i++) {
		int n = snprintf(line, sizeof(line), "{\"message\":\"m%d\"}", i);

		assert_int_equal(vig_transport_submit(t, line, (size_t)n), VIG_OK);
	}
	for (int i = 0; i < 400 && mini_lines(&m) < 2500; i++)
		usleep(50 * 1000);
	assert_int_equal(mini_lines(&m), 2500);
	vig_transport_counters(t, &cn, &ss);
	assert_int_equal(cn.send_failures, 2);
	assert_true(cn.sent_batches >= 3); /* 1,000 events per batch at most */
	assert_int_equal(ss.batches, 0);
	vig_transport_free(t, 1000);
	/* sequences: never decreasing, a 503'ed batch is sent again with the same id, every
	 * batch is answered 2xx exactly once */
	pthread_mutex_lock(&m.mu);
	assert_string_equal(m.agent_seen, id.agent_id);
	for (size_t i = 0; i < m.n; i++) {
		assert_true(m.seqs[i] >= last);
		if (m.status[i] == 200)
			assert_true(i + 1 == m.n || m.seqs[i + 1] == m.seqs[i] + 1);
		last = m.seqs[i];
	}
	assert_int_equal(m.status[0], 503);
	assert_int_equal(m.seqs[1], m.seqs[0]);
	pthread_mutex_unlock(&m.mu);
	mini_stop(&m);

	/* server gone: events stay spooled across a restart of the transport and are resent */
	t = vig_transport_new(&cfg, errbuf);
	assert_non_null(t);
	assert_int_equal(vig_transport_submit(t, "{\"message\":\"kept\"}", 18), VIG_OK);
	vig_transport_free(t, 300);
	{
		char dir[300];
		struct vig_spool *s;

		spool_dir(dir, sizeof(dir));
		s = vig_spool_open(dir, 0, errbuf);
		assert_non_null(s);
		vig_spool_stats(s, &ss);
		assert_int_equal(ss.batches, 1);
		vig_spool_free(s);
	}
	memset(&m, 0, sizeof(m));
	mini_start(&m);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
	t = vig_transport_new(&cfg, errbuf);
	assert_non_null(t);
	for (int i = 0; i < 200 && mini_lines(&m) < 1; i++)
		usleep(50 * 1000);
	assert_int_equal(mini_lines(&m), 1);
	vig_transport_free(t, 1000);
	mini_stop(&m);
}

static void test_transport_queue_bound(void **state)
{
	struct vig_identity id = { .agent_id = "0123456789abcdef0123456789abcdef", .tenant = "t" };
	struct vig_transport_config cfg = { .server = "http://127.0.0.1:1", .id = &id, .no_actions = true,
					    .queue_max_bytes = 1000, .flush_ms = 60000, .heartbeat_s = 3600 };
	struct vig_transport_counters cn;
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_transport *t;
	int busy = 0;

	(void)state;
	cfg.state_dir = g_dir;
	t = vig_transport_new(&cfg, errbuf);
	assert_non_null(t);
	for (int i = 0; i < 100; i++)
		busy += vig_transport_submit(t, "{\"message\":\"0123456789012345678901234567890123456789\"}", 54) ==
			VIG_EBUSY;
	vig_transport_counters(t, &cn, NULL);
	assert_true(busy > 0);
	assert_int_equal(cn.queue_dropped, (uint64_t)busy);
	assert_int_equal(cn.queued + cn.queue_dropped, 100);
	vig_transport_free(t, 0);
	/* bad configuration */
	cfg.server = "nonsense";
	assert_null(vig_transport_new(&cfg, errbuf));
	cfg.server = NULL;
	assert_null(vig_transport_new(&cfg, errbuf));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_spool_order, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_spool_bound, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_spool_restart_and_torn_tail, setup_dir, teardown_dir),
		cmocka_unit_test(test_spool_bad_input),
		cmocka_unit_test_setup_teardown(test_csr, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_identity_and_state_dir, setup_dir, teardown_dir),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_wtmp_record),
		cmocka_unit_test(test_journal_line),
		cmocka_unit_test_setup_teardown(test_tail_rotation_and_restart, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_tail_wtmp, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_sender_order_retry_restart, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_transport_queue_bound, setup_dir, teardown_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
