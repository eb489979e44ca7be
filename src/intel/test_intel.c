/*
 * test_intel.c - unit tests of the intel module: value normalisation, each feed format read
 * from the fixtures in src/intel/testdata (real export headers, malformed lines counted with
 * their reasons), the compiled set (CIDR and IPv6 matching, parent domains, tenancy,
 * de-duplication), event enrichment, the TAXII URL refusal, and ATT&CK from a small fixture
 * bundle and, when $VIG_SHARED_DIR holds it, the real enterprise-attack bundle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/arena.h"
#include "common/vtime.h"
#include "intel/intel.h"

static char *fixture(const char *name, size_t *n)
{
	const char *dir = getenv("VIG_INTEL_FIXTURES");
	char path[1024];
	struct vig_buf b;
	char errbuf[VIG_ERRBUF_SIZE];

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : VIG_SRC_DIR "/src/intel/testdata", name);
	vig_buf_init(&b, 16u << 20);
	assert_int_equal(vig_intel_read_file(path, 16u << 20, &b, errbuf), VIG_OK);
	*n = b.len;
	return vig_buf_take(&b, n);
}

static bool has_reason(const struct vig_intel_list_stats *st, const char *needle)
{
	for (size_t i = 0; i < st->n_reasons; i++)
		if (strstr(st->reasons[i].text, needle))
			return true;
	return false;
}

static void test_normalize(void **state)
{
	char out[VIG_INTEL_VALUE_MAX], why[96];
	uint8_t ip[16];
	unsigned prefix;
	enum vig_intel_type t;

	assert_true(vig_intel_normalize(VIG_INTEL_IP, "10.1.2.3/8", 10, out, ip, &prefix, why));
	assert_string_equal(out, "10.0.0.0/8");
	assert_int_equal(prefix, 104);
	assert_true(vig_intel_normalize(VIG_INTEL_IP, "2001:DB8::1", 11, out, ip, &prefix, why));
	assert_string_equal(out, "2001:db8::1");
	assert_int_equal(prefix, 128);
	assert_false(vig_intel_normalize(VIG_INTEL_IP, "10.0.0.0/33", 11, out, NULL, NULL, why));
	assert_string_equal(why, "bad CIDR prefix length");
	assert_false(vig_intel_normalize(VIG_INTEL_IP, "10.0.0", 6, out, NULL, NULL, why));
	assert_true(vig_intel_normalize(VIG_INTEL_DOMAIN, "Evil.EXAMPLE.com.", 17, out, NULL, NULL, why));
	assert_string_equal(out, "evil.example.com");
	assert_false(vig_intel_normalize(VIG_INTEL_DOMAIN, "a..b", 4, out, NULL, NULL, why));
	assert_false(vig_intel_normalize(VIG_INTEL_DOMAIN, "a b.com", 7, out, NULL, NULL, why));
	assert_true(vig_intel_normalize(VIG_INTEL_URL, "HTTPS://Ex.COM/A?b=C#frag", 25, out, NULL, NULL, why));
	assert_string_equal(out, "https://ex.com/A?b=C");
	assert_false(vig_intel_normalize(VIG_INTEL_URL, "ex.com/a", 8, out, NULL, NULL, why));
	assert_true(vig_intel_normalize(VIG_INTEL_MD5, "D41D8CD98F00B204E9800998ECF8427E", 32, out, NULL, NULL, why));
	assert_string_equal(out, "d41d8cd98f00b204e9800998ecf8427e");
	assert_false(vig_intel_normalize(VIG_INTEL_SHA256, "d41d8cd98f00b204e9800998ecf8427e", 32, out, NULL, NULL, why));
	assert_false(vig_intel_normalize(VIG_INTEL_IP, "   ", 3, out, NULL, NULL, why));
	assert_string_equal(why, "empty value");

	assert_true(vig_intel_guess_type("192.0.2.1", 9, &t));
	assert_int_equal(t, VIG_INTEL_IP);
	assert_true(vig_intel_guess_type("::1", 3, &t));
	assert_int_equal(t, VIG_INTEL_IP);
	assert_true(vig_intel_guess_type("example.org", 11, &t));
	assert_int_equal(t, VIG_INTEL_DOMAIN);
	assert_true(vig_intel_guess_type("http://x", 8, &t));
	assert_int_equal(t, VIG_INTEL_URL);
	assert_true(vig_intel_guess_type("da39a3ee5e6b4b0d3255bfef95601890afd80709", 40, &t));
	assert_int_equal(t, VIG_INTEL_SHA1);
	assert_false(vig_intel_guess_type("1.2.3", 5, &t));
	assert_false(vig_intel_guess_type("word", 4, &t));
	assert_true(vig_intel_type_parse("ipv4-addr", &t));
	assert_int_equal(t, VIG_INTEL_IP);
	assert_false(vig_intel_type_parse("email", &t));
}

static void test_feodo(void **state)
{
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	enum vig_intel_csv_format d;
	struct vig_intel_ind ind;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t n;
	char *text = fixture("feodo_ipblocklist.csv", &n);

	assert_int_equal(vig_intel_parse_csv(text, n, VIG_INTEL_CSV_AUTO, l, &d, errbuf), VIG_OK);
	assert_int_equal(d, VIG_INTEL_CSV_FEODO);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 4);
	assert_int_equal(st.by_type[VIG_INTEL_IP], 4);
	assert_int_equal(st.lines, 6);
	assert_int_equal(st.malformed, 2);
	assert_true(has_reason(&st, "line 13: ip not an IP address: \"999.1.1.1\""));
	assert_true(has_reason(&st, "line 15: unterminated quote"));
	vig_intel_list_get(l, 0, &ind);
	assert_string_equal(ind.value, "51.68.247.62");
	assert_string_equal(ind.threat, "Dridex");
	assert_int_equal(ind.confidence, -1);
	vig_intel_list_free(l);
	free(text);
}

static void test_urlhaus(void **state)
{
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	enum vig_intel_csv_format d;
	struct vig_intel_ind ind;
	size_t n;
	char *text = fixture("urlhaus.csv", &n);

	assert_int_equal(vig_intel_parse_csv(text, n, VIG_INTEL_CSV_AUTO, l, &d, NULL), VIG_OK);
	assert_int_equal(d, VIG_INTEL_CSV_URLHAUS);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 2);
	assert_int_equal(st.malformed, 1);
	assert_true(has_reason(&st, "url without scheme://"));
	vig_intel_list_get(l, 1, &ind);
	assert_string_equal(ind.value, "http://evil.example.com/Payload.exe");
	assert_string_equal(ind.id, "2843000");
	assert_string_equal(ind.threat, "malware_download");
	vig_intel_list_free(l);
	free(text);
}

static void test_threatfox(void **state)
{
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	enum vig_intel_csv_format d;
	struct vig_intel_ind ind;
	size_t n;
	char *text = fixture("threatfox.csv", &n);

	assert_int_equal(vig_intel_parse_csv(text, n, VIG_INTEL_CSV_AUTO, l, &d, NULL), VIG_OK);
	assert_int_equal(d, VIG_INTEL_CSV_THREATFOX);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 6);
	assert_int_equal(st.skipped, 1); /* sha3_384_hash */
	assert_int_equal(st.malformed, 1);
	assert_true(has_reason(&st, "md5 not 32 hex digits"));
	vig_intel_list_get(l, 0, &ind);
	assert_int_equal(ind.type, VIG_INTEL_IP);
	assert_string_equal(ind.value, "192.0.2.200"); /* the port is not part of the indicator */
	assert_string_equal(ind.id, "1270001");
	assert_int_equal(ind.confidence, 100);
	assert_string_equal(ind.threat, "Cobalt Strike");
	vig_intel_list_get(l, 4, &ind);
	assert_int_equal(ind.type, VIG_INTEL_SHA256);
	assert_string_equal(ind.value, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f");
	vig_intel_list_free(l);
	free(text);
}

static void test_txt_and_generic(void **state)
{
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	enum vig_intel_csv_format d;
	size_t n;
	char *text = fixture("blocklist.txt", &n);
	const char *csv = "value,type,confidence,threat\n"
			  "192.0.2.5,ip,70,Test\n"
			  "x.example,domain,,\n"
			  "192.0.2.6,email,1,\n"
			  "\"unterminated,ip\n";

	assert_int_equal(vig_intel_parse_csv(text, n, VIG_INTEL_CSV_AUTO, l, &d, NULL), VIG_OK);
	assert_int_equal(d, VIG_INTEL_CSV_TXT);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 6);
	assert_int_equal(st.by_type[VIG_INTEL_IP], 2);
	assert_int_equal(st.by_type[VIG_INTEL_DOMAIN], 2);
	assert_int_equal(st.malformed, 2);
	/* both lines share one reason; the first is its example */
	assert_true(has_reason(&st, "line 9: not an IP, CIDR, domain, URL or hash: \"not_an_indicator\""));
	assert_int_equal(st.n_reasons, 1);
	assert_int_equal(st.reasons[0].count, 2);
	vig_intel_list_free(l);
	free(text);

	l = vig_intel_list_new(0);
	assert_int_equal(vig_intel_parse_csv(csv, strlen(csv), VIG_INTEL_CSV_AUTO, l, &d, NULL), VIG_OK);
	assert_int_equal(d, VIG_INTEL_CSV_GENERIC);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 2);
	assert_int_equal(st.malformed, 2);
	assert_true(has_reason(&st, "unknown type \"email\""));
	assert_true(has_reason(&st, "unterminated quote"));
	vig_intel_list_free(l);

	/* the limit stops the parse and says so */
	l = vig_intel_list_new(1);
	text = fixture("blocklist.txt", &n);
	assert_int_equal(vig_intel_parse_csv(text, n, VIG_INTEL_CSV_TXT, l, NULL, NULL), VIG_ETOOBIG);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 1);
	assert_int_equal(st.dropped, 1);
	vig_intel_list_free(l);
	free(text);
}

static enum vig_err dir_reader(void *arg, const char *name, struct vig_buf *out, char *errbuf)
{
	char path[1200];

	snprintf(path, sizeof(path), "%s/%s", (const char *)arg, name);
	return vig_intel_read_file(path, out->toobig, out, errbuf);
}

static void test_misp(void **state)
{
	const char *fx = getenv("VIG_INTEL_FIXTURES");
	char dir[1024], errbuf[VIG_ERRBUF_SIZE] = "";
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	struct vig_intel_ind ind;
	bool seen_pair = false;

	snprintf(dir, sizeof(dir), "%s/misp", fx ? fx : VIG_SRC_DIR "/src/intel/testdata");
	assert_int_equal(vig_intel_parse_misp(dir_reader, dir, 0, l, errbuf), VIG_OK);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.indicators, 9);
	assert_int_equal(st.skipped, 2);   /* to_ids false, email-src */
	assert_int_equal(st.malformed, 2); /* bad md5, missing event file */
	assert_true(has_reason(&st, "md5 not 32 hex digits"));
	assert_true(has_reason(&st, "7b3d6c74-2eae-4e4c-9f63-5d3a4b6c7d8e.json"));
	for (size_t i = 0; i < vig_intel_list_len(l); i++) {
		vig_intel_list_get(l, i, &ind);
		if (strcmp(ind.value, "198.51.100.99") == 0) {
			seen_pair = true;
			assert_string_equal(ind.threat, "Phishing campaign");
			assert_string_equal(ind.id, "a1000000-0000-4000-8000-000000000006");
		}
		assert_string_not_equal(ind.value, "198.18.0.1");
	}
	assert_true(seen_pair);
	vig_intel_list_free(l);

	/* a missing manifest is an error for the whole feed */
	l = vig_intel_list_new(0);
	assert_int_equal(vig_intel_parse_misp(dir_reader, "/nonexistent-dir", 0, l, errbuf),
			 VIG_ENOTFOUND);
	assert_int_equal(vig_intel_parse_misp_event("{\"x\":1}", 7, l, errbuf), VIG_EPARSE);
	assert_string_equal(errbuf, "not a MISP event: no \"Event\" object");
	vig_intel_list_free(l);
}

static void test_stix(void **state)
{
	struct vig_intel_list *l = vig_intel_list_new(0);
	struct vig_intel_list_stats st;
	struct vig_intel_ind ind;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t n;
	char *text = fixture("stix_bundle.json", &n);
	bool quote = false;

	assert_int_equal(vig_intel_parse_stix(text, n, vig_time_now(), l, errbuf), VIG_OK);
	vig_intel_list_stats(l, &st);
	assert_int_equal(st.lines, 11);
	assert_int_equal(st.indicators, 8);
	assert_int_equal(st.skipped, 3);   /* expired, revoked, yara */
	assert_int_equal(st.malformed, 2); /* AND, unterminated */
	assert_true(has_reason(&st, "unsupported pattern [ipv4-addr:value = '192.0.2.1' AND"));
	vig_intel_list_get(l, 0, &ind);
	assert_string_equal(ind.value, "198.51.100.1");
	assert_int_equal(ind.confidence, 85);
	assert_string_equal(ind.id, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
	assert_string_equal(ind.threat, "C2 server");
	for (size_t i = 0; i < vig_intel_list_len(l); i++) {
		vig_intel_list_get(l, i, &ind);
		if (strcmp(ind.value, "http://stix.example/it's") == 0)
			quote = true;
	}
	assert_true(quote);
	vig_intel_list_free(l);
	free(text);

	l = vig_intel_list_new(0);
	assert_int_equal(vig_intel_parse_stix("[1]", 3, 0, l, errbuf), VIG_EPARSE);
	assert_int_equal(vig_intel_parse_stix("{\"objects\": 3}", 14, 0, l, errbuf), VIG_EPARSE);
	assert_int_equal(vig_intel_parse_stix("{\"more\": false}", 15, 0, l, errbuf), VIG_OK);
	vig_intel_list_free(l);
}

/* A set of the fixture lists: feodo (global), stix (global), txt (tenant "acme"). */
static struct vig_intel_set *fixture_set(struct vig_intel_list **ls)
{
	struct vig_intel_source src[3];
	char errbuf[VIG_ERRBUF_SIZE];
	size_t n;
	char *t;

	for (int i = 0; i < 3; i++)
		ls[i] = vig_intel_list_new(0);
	t = fixture("feodo_ipblocklist.csv", &n);
	vig_intel_parse_csv(t, n, VIG_INTEL_CSV_AUTO, ls[0], NULL, NULL);
	free(t);
	t = fixture("stix_bundle.json", &n);
	vig_intel_parse_stix(t, n, vig_time_now(), ls[1], NULL);
	free(t);
	t = fixture("blocklist.txt", &n);
	vig_intel_parse_csv(t, n, VIG_INTEL_CSV_AUTO, ls[2], NULL, NULL);
	free(t);
	src[0] = (struct vig_intel_source){"feodo", NULL, ls[0]};
	src[1] = (struct vig_intel_source){"stix", NULL, ls[1]};
	src[2] = (struct vig_intel_source){"acme-list", "acme", ls[2]};
	return vig_intel_set_build(src, 3, errbuf);
}

static void test_set_matching(void **state)
{
	struct vig_intel_list *ls[3];
	struct vig_intel_set *s = fixture_set(ls);
	struct vig_intel_hit h;
	uint8_t ip[16];

	assert_non_null(s);
	/* feodo's duplicate 198.51.100.23 is kept once: 3 + 8 + 6 */
	assert_int_equal(vig_intel_set_size(s), 17);
	assert_true(vig_ip_parse("51.68.247.62", 12, ip));
	assert_true(vig_intel_match_ip(s, ip, "t1", &h));
	assert_string_equal(h.feed, "feodo");
	assert_string_equal(h.indicator, "51.68.247.62");
	/* IPv4 CIDR from STIX */
	assert_true(vig_ip_parse("10.99.200.1", 11, ip));
	assert_true(vig_intel_match_ip(s, ip, "t1", &h));
	assert_string_equal(h.indicator, "10.99.0.0/16");
	assert_string_equal(h.feed, "stix");
	assert_true(vig_ip_parse("10.98.200.1", 11, ip));
	assert_false(vig_intel_match_ip(s, ip, "t1", &h));
	/* IPv6 CIDR */
	assert_true(vig_ip_parse("2001:db8:c2::42", 15, ip));
	assert_true(vig_intel_match_ip(s, ip, NULL, &h));
	assert_string_equal(h.indicator, "2001:db8:c2::/64");
	assert_true(vig_ip_parse("2001:db8:c2:1::42", 17, ip));
	assert_false(vig_intel_match_ip(s, ip, NULL, &h));
	/* tenant feed: only its tenant (and provider lookups, tenant NULL) see it */
	assert_true(vig_ip_parse("10.66.3.4", 9, ip));
	assert_false(vig_intel_match_ip(s, ip, "t1", &h));
	assert_true(vig_intel_match_ip(s, ip, "acme", &h));
	assert_string_equal(h.tenant, "acme");
	assert_true(vig_intel_match_ip(s, ip, NULL, &h));
	assert_true(vig_ip_parse("2001:db8:bad:ffff::1", 20, ip));
	assert_true(vig_intel_match_ip(s, ip, "acme", &h));
	/* domains: the name and its subdomains */
	assert_true(vig_intel_match_domain(s, "C2.Stix.Example.", 16, "t1", &h));
	assert_int_equal(h.confidence, 60);
	assert_true(vig_intel_match_domain(s, "a.b.c2.stix.example", 19, "t1", &h));
	assert_false(vig_intel_match_domain(s, "stix.example", 12, "t1", &h));
	assert_false(vig_intel_match_domain(s, "xc2.stix.example", 16, "t1", &h));
	assert_true(vig_intel_match_domain(s, "www.bad.example.net", 19, "acme", &h));
	/* urls and hashes */
	assert_true(vig_intel_match_url(s, "HTTP://STIX.example/it's", 24, "t1", &h));
	assert_false(vig_intel_match_url(s, "http://stix.example/It's", 24, "t1", &h));
	assert_true(vig_intel_match_hash(s, "D41D8CD98F00B204E9800998ECF8427E", 32, "t1", &h));
	assert_int_equal(h.type, VIG_INTEL_MD5);
	assert_true(vig_intel_match_hash(s, "adc83b19e793491b1c6ea0fd8b46cd9f32e592fc", 40, "t1", &h));
	assert_false(vig_intel_match_hash(s, "adc83b19e793491b1c6ea0fd8b46cd9f32e592fd", 40, "t1", &h));
	assert_false(vig_intel_match_hash(s, "xyz", 3, "t1", &h));
	/* lookup guesses the type; a URL falls back to its host */
	assert_true(vig_intel_lookup(s, "10.99.1.1", 9, NULL, &h));
	assert_true(vig_intel_lookup(s, "10.99.0.0/16", 12, NULL, &h));
	assert_false(vig_intel_lookup(s, "10.99.0.0/17", 12, NULL, &h));
	assert_true(vig_intel_lookup(s, "https://user@c2.stix.example:8443/p", 35, NULL, &h));
	assert_string_equal(h.indicator, "c2.stix.example");
	assert_true(vig_intel_lookup(s, "http://203.0.113.77/x", 21, NULL, &h));
	assert_false(vig_intel_lookup(s, "nothing here", 12, NULL, &h));

	/* references: the set outlives a dropped list and a second holder */
	for (int i = 0; i < 3; i++)
		vig_intel_list_free(ls[i]);
	vig_intel_set_ref(s);
	vig_intel_set_unref(s);
	assert_true(vig_intel_match_domain(s, "c2.stix.example", 15, "t1", &h));
	vig_intel_set_unref(s);

	/* an empty set matches nothing */
	s = vig_intel_set_build(NULL, 0, NULL);
	assert_non_null(s);
	assert_false(vig_intel_match_ip(s, ip, NULL, &h));
	assert_false(vig_intel_lookup(s, "c2.stix.example", 15, NULL, &h));
	vig_intel_set_unref(s);
	vig_intel_set_unref(NULL);
}

static void test_enrich(void **state)
{
	struct vig_intel_list *ls[3];
	struct vig_intel_set *s = fixture_set(ls);
	const struct vig_val *v;
	struct vig_arena arena;
	struct vig_event ev;
	enum vig_err err;

	vig_arena_init(&arena, 4096, 1 << 20);
	vig_event_init(&ev, &arena);
	vig_event_set_cstr(&ev, VIG_F_TENANT_ID, "t1");
	vig_event_set_ip(&ev, VIG_F_SOURCE_IP, "192.168.1.10", 12);
	vig_event_set_ip(&ev, VIG_F_DESTINATION_IP, "10.99.3.3", 9);
	vig_event_set_cstr(&ev, VIG_F_DNS_QUESTION_NAME, "x.c2.stix.example");
	assert_int_equal(vig_intel_enrich(s, &ev, &err), 2);
	assert_int_equal(err, VIG_OK);
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_ATOMIC, strlen(VIG_INTEL_F_ATOMIC));
	assert_non_null(v);
	assert_string_equal(v->u.s, "10.99.3.3");
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_FIELD, strlen(VIG_INTEL_F_FIELD));
	assert_string_equal(v->u.s, "destination.ip");
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_TYPE, strlen(VIG_INTEL_F_TYPE));
	assert_string_equal(v->u.s, "ip");
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_FEED, strlen(VIG_INTEL_F_FEED));
	assert_string_equal(v->u.s, "stix");
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_ID, strlen(VIG_INTEL_F_ID));
	assert_string_equal(v->u.s, "indicator--a1b2c3d4-0000-4000-8000-000000000002");
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_COUNT, strlen(VIG_INTEL_F_COUNT));
	assert_int_equal(v->u.i, 2);
	assert_null(vig_event_get_by_name(&ev, VIG_INTEL_F_CONFIDENCE, strlen(VIG_INTEL_F_CONFIDENCE)));

	/* hashes in extension fields, confidence carried */
	vig_event_clear(&ev);
	vig_event_set_cstr(&ev, VIG_F_TENANT_ID, "t1");
	vig_event_ext_str(&ev, "file.hash.md5", "d41d8cd98f00b204e9800998ecf8427e", 32);
	assert_int_equal(vig_intel_enrich(s, &ev, &err), 1);
	v = vig_event_get_by_name(&ev, VIG_INTEL_F_FIELD, strlen(VIG_INTEL_F_FIELD));
	assert_string_equal(v->u.s, "file.hash.md5");

	/* another tenant's feed does not enrich; no tenant sees only global feeds */
	vig_event_clear(&ev);
	vig_event_set_cstr(&ev, VIG_F_TENANT_ID, "t1");
	vig_event_set_ip(&ev, VIG_F_DESTINATION_IP, "10.66.1.1", 9);
	assert_int_equal(vig_intel_enrich(s, &ev, &err), 0);
	assert_null(vig_event_get_by_name(&ev, VIG_INTEL_F_ATOMIC, strlen(VIG_INTEL_F_ATOMIC)));
	vig_event_set_cstr(&ev, VIG_F_TENANT_ID, "acme");
	assert_int_equal(vig_intel_enrich(s, &ev, &err), 1);
	vig_event_unset(&ev, VIG_F_TENANT_ID);
	vig_event_clear(&ev);
	vig_event_set_ip(&ev, VIG_F_DESTINATION_IP, "10.66.1.1", 9);
	assert_int_equal(vig_intel_enrich(s, &ev, &err), 0);
	assert_int_equal(vig_intel_enrich(NULL, &ev, &err), 0);

	vig_arena_release(&arena);
	for (int i = 0; i < 3; i++)
		vig_intel_list_free(ls[i]);
	vig_intel_set_unref(s);
}

static void test_http_refusals(void **state)
{
	char errbuf[VIG_ERRBUF_SIZE];
	struct vig_buf b;
	struct vig_intel_taxii_opts o = {.collection_url = "file:///etc/"};
	struct vig_intel_list *l = vig_intel_list_new(0);
	char added[64] = "";

	vig_buf_init(&b, 1024);
	assert_int_equal(vig_intel_http_get("file:///etc/passwd", NULL, &b, NULL, NULL, NULL, 0, errbuf),
			 VIG_EINVAL);
	assert_string_equal(errbuf, "url: only http:// and https:// are fetched");
	assert_int_equal(vig_intel_http_get("gopher://x/", NULL, &b, NULL, NULL, NULL, 0, errbuf),
			 VIG_EINVAL);
	assert_int_equal(vig_intel_taxii_poll(&o, 0, l, added, NULL, errbuf), VIG_EINVAL);
	o.collection_url = "";
	assert_int_equal(vig_intel_taxii_poll(&o, 0, l, added, NULL, errbuf), VIG_EINVAL);
	assert_int_equal(vig_intel_read_file("/nonexistent/x", 10, &b, errbuf), VIG_ENOTFOUND);
	assert_int_equal(vig_intel_read_file("/", 10, &b, errbuf), VIG_EINVAL);
	vig_buf_release(&b);
	vig_intel_list_free(l);
}

static void test_attack_fixture(void **state)
{
	char errbuf[VIG_ERRBUF_SIZE];
	size_t n, nt;
	char *text = fixture("attack_mini.json", &n);
	struct vig_attack *a = vig_attack_load(text, n, errbuf);
	const struct vig_attack_technique *t;
	const struct vig_attack_tactic *tac;
	struct vig_attack_stats st;
	char id[16];

	assert_non_null(a);
	vig_attack_get_stats(a, &st);
	assert_int_equal(st.techniques, 3);
	assert_int_equal(st.subtechniques, 2);
	assert_int_equal(st.tactics, 2);
	assert_int_equal(st.mitigations, 2);
	assert_int_equal(st.relationships, 2);
	assert_int_equal(st.skipped, 2);
	t = vig_attack_techniques(a, &nt);
	assert_int_equal(nt, 3);
	assert_string_equal(t[0].id, "T1053.003");
	assert_string_equal(t[1].id, "T1059");
	t = vig_attack_technique(a, "t1059");
	assert_non_null(t);
	assert_string_equal(t->name, "Command and Scripting Interpreter");
	assert_int_equal(t->n_mitigations, 2);
	assert_int_equal(t->n_platforms, 3);
	assert_false(t->subtechnique);
	t = vig_attack_technique(a, "T1059.004");
	assert_non_null(t);
	assert_true(t->subtechnique);
	assert_string_equal(t->parent, "T1059");
	t = vig_attack_technique(a, "T1053.003");
	assert_int_equal(t->n_tactics, 2);
	assert_string_equal(t->tactics[1], "persistence");
	assert_null(vig_attack_technique(a, "T9999"));
	assert_null(vig_attack_technique(a, ""));
	tac = vig_attack_tactics(a, &nt);
	assert_int_equal(nt, 2);
	assert_string_equal(tac[0].id, "TA0002"); /* matrix order, not id order */
	assert_string_equal(tac[1].shortname, "persistence");
	vig_attack_free(a);
	free(text);

	assert_true(vig_attack_tag_technique("attack.t1059.004", id));
	assert_string_equal(id, "T1059.004");
	assert_true(vig_attack_tag_technique("attack.T1003", id));
	assert_string_equal(id, "T1003");
	assert_false(vig_attack_tag_technique("attack.execution", id));
	assert_false(vig_attack_tag_technique("attack.t1059.04", id));
	assert_false(vig_attack_tag_technique("attack.g0001", id));
	assert_null(vig_attack_load("{}", 2, errbuf));
	assert_null(vig_attack_load("{\"objects\": []}", 15, errbuf));
	assert_string_equal(errbuf, "ATT&CK: the bundle holds no technique");
}

static void test_attack_enterprise(void **state)
{
	const char *d = getenv("VIG_SHARED_DIR");
	char path[1024], errbuf[VIG_ERRBUF_SIZE];
	struct vig_attack_stats st;
	const struct vig_attack_technique *t;
	struct vig_attack *a;
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/attack/enterprise-attack.json", d ? d : "");
	f = d && *d ? fopen(path, "r") : NULL;
	if (!f) {
		print_message("skipped: %s absent (VIG_SHARED_DIR unset or no ATT&CK bundle)\n", path);
		skip();
	}
	fclose(f);
	a = vig_attack_load_file(path, 512u << 20, errbuf);
	assert_non_null(a);
	vig_attack_get_stats(a, &st);
	print_message("enterprise-attack: %zu techniques (%zu sub), %zu tactics, %zu mitigations, "
		      "%zu mitigates relationships, %zu revoked/deprecated skipped\n",
		      st.techniques, st.subtechniques, st.tactics, st.mitigations, st.relationships,
		      st.skipped);
	assert_true(st.techniques > 500);
	assert_true(st.subtechniques > 300);
	assert_int_equal(st.tactics, 14);
	assert_true(st.mitigations > 40);
	t = vig_attack_technique(a, "T1059.004");
	assert_non_null(t);
	assert_string_equal(t->name, "Unix Shell");
	assert_string_equal(t->parent, "T1059");
	t = vig_attack_technique(a, "T1059");
	assert_true(t->n_mitigations > 0);
	vig_attack_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_feodo),
		cmocka_unit_test(test_urlhaus),
		cmocka_unit_test(test_threatfox),
		cmocka_unit_test(test_txt_and_generic),
		cmocka_unit_test(test_misp),
		cmocka_unit_test(test_stix),
		cmocka_unit_test(test_set_matching),
		cmocka_unit_test(test_enrich),
		cmocka_unit_test(test_http_refusals),
		cmocka_unit_test(test_attack_fixture),
		cmocka_unit_test(test_attack_enterprise),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
