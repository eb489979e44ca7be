/*
 * intel.h - threat intelligence: indicator lists read from feeds, the compiled indicator set
 * matched on ingest, the feed parsers (CSV/TXT, MISP, STIX 2.1, TAXII 2.1) and the MITRE
 * ATT&CK catalogue.
 *
 * Three objects:
 *   struct vig_intel_list  what one feed yielded: indicators (type, normalised value, source
 *                          id, confidence, threat name) and the malformed lines with reasons.
 *                          Built by a parser, owned by its feed, replaced whole on refresh.
 *   struct vig_intel_set   every enabled feed's list compiled into one immutable lookup
 *                          structure: one hash table over normalised values (domains, URLs,
 *                          hashes) and one over (masked address, prefix length) pairs for
 *                          IPv4/IPv6 addresses and CIDR blocks. A lookup costs O(1) for a
 *                          hash or URL, O(labels) for a domain (the name and each parent
 *                          domain are probed) and O(distinct prefix lengths) for an address.
 *                          Reference counted so that a refresh can swap in a new set while
 *                          the ingest writer still matches a batch against the old one.
 *   struct vig_attack      the ATT&CK catalogue (techniques with sub-techniques, tactics,
 *                          mitigations) read from an enterprise-attack STIX bundle.
 *
 * Indicator values are normalised before they are stored and before they are looked up:
 * domains lowercased without a trailing dot; URLs with scheme and host lowercased and the
 * fragment dropped; hashes lowercased (md5 32, sha1 40, sha256 64 hex digits); addresses as
 * 16 bytes (IPv4 mapped to ::ffff:0:0/96) with a prefix length (IPv4 /n is stored as /96+n).
 *
 * Bounds: a list holds at most VIG_INTEL_MAX_INDICATORS indicators (more are counted as
 * dropped), a value at most VIG_INTEL_VALUE_MAX bytes; a parser records at most
 * VIG_INTEL_MAX_REASONS distinct malformed-line reasons (every malformed line is counted).
 *
 * Threads: lists are single-threaded objects; a built set is read-only and may be shared by
 * any number of threads (vig_intel_set_ref / vig_intel_set_unref are atomic).
 */
#ifndef VIG_INTEL_H
#define VIG_INTEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/vig.h"
#include "event/event.h"

#define VIG_INTEL_MAX_INDICATORS 5000000 /* indicators of one list */
#define VIG_INTEL_VALUE_MAX 2048         /* bytes of one normalised value */
#define VIG_INTEL_MAX_REASONS 8          /* distinct malformed-line reasons kept per list */
#define VIG_INTEL_REASON_MAX 160         /* bytes of one reason text */
#define VIG_INTEL_MAX_FETCH_BYTES ((size_t)1 << 30) /* hard cap of one download */

/* ---- indicators ---------------------------------------------------------------------------- */

enum vig_intel_type {
	VIG_INTEL_IP,     /* IPv4/IPv6 address or CIDR block */
	VIG_INTEL_DOMAIN, /* DNS name (matches the name and its subdomains) */
	VIG_INTEL_URL,    /* full URL */
	VIG_INTEL_MD5,    /* 32 hex digits */
	VIG_INTEL_SHA1,   /* 40 hex digits */
	VIG_INTEL_SHA256, /* 64 hex digits */
	VIG_INTEL__COUNT
};

/* Static name of a type: "ip", "domain", "url", "md5", "sha1", "sha256". */
const char *vig_intel_type_name(enum vig_intel_type t);
/* Parses a type name (the names above, plus "ipv4-addr", "ipv6-addr", "domain-name",
 * "hostname"); false when unknown. */
bool vig_intel_type_parse(const char *s, enum vig_intel_type *out);

/* One indicator as a parser hands it to a list (strings are copied by the list). */
struct vig_intel_ind {
	enum vig_intel_type type;
	const char *value;      /* text of the value (normalised by vig_intel_list_add) */
	size_t len;             /* bytes of value */
	const char *id;         /* the source's id (STIX id, MISP uuid, ThreatFox id) or NULL */
	const char *threat;     /* malware family or threat name, or NULL */
	int confidence;         /* 0-100, or -1 when the source gives none */
};

/* Normalises value of type t into out (VIG_INTEL_VALUE_MAX bytes): see the file comment.
 * For VIG_INTEL_IP, out receives the canonical text ("1.2.3.0/24", "2001:db8::1") and, when
 * ip/prefix are not NULL, the 16 masked bytes and the prefix length (0-128, IPv4 as 96+n).
 * False (with a reason in why, 96 bytes) when the value is not of the type. */
bool vig_intel_normalize(enum vig_intel_type t, const char *value, size_t len, char *out,
			 uint8_t ip[16], unsigned *prefix, char *why);

/* Guesses the type of a bare value: an IP or CIDR, a hash by its length of hex digits, a URL by
 * "scheme://", else a domain when it looks like a DNS name. False when it is none of them. */
bool vig_intel_guess_type(const char *value, size_t len, enum vig_intel_type *out);

/* ---- lists ----------------------------------------------------------------------------------- */

struct vig_intel_list;

/* One malformed-line reason and how often it occurred. */
struct vig_intel_reason {
	char text[VIG_INTEL_REASON_MAX]; /* "line 12: not an IP address: \"1.2.3\"" (first seen) */
	char key[48];                    /* the reason without line and value, for grouping */
	uint64_t count;                  /* lines with this reason */
};

struct vig_intel_list_stats {
	uint64_t indicators;   /* indicators held */
	uint64_t by_type[VIG_INTEL__COUNT]; /* of which, per type */
	uint64_t lines;        /* lines / records read */
	uint64_t malformed;    /* records refused, all reasons */
	uint64_t skipped;      /* records deliberately ignored (expired, revoked, not to_ids, ...) */
	uint64_t dropped;      /* indicators over the list's limit */
	size_t n_reasons;      /* entries of reasons */
	struct vig_intel_reason reasons[VIG_INTEL_MAX_REASONS];
};

/* A new, empty list holding at most max_indicators (0 = VIG_INTEL_MAX_INDICATORS). */
struct vig_intel_list *vig_intel_list_new(size_t max_indicators);
void vig_intel_list_free(struct vig_intel_list *l);
/* Normalises and appends an indicator. A value that does not normalise is counted as
 * malformed (reason recorded with line) and VIG_EINVAL returned; over the limit VIG_ETOOBIG
 * (counted as dropped); VIG_ENOMEM when memory runs out. line 0 = no line number. */
enum vig_err vig_intel_list_add(struct vig_intel_list *l, const struct vig_intel_ind *ind,
				uint64_t line);
/* Counts a malformed record with a reason (printf-style; the first line of each distinct
 * `key` is kept as its example). */
void vig_intel_list_malformed(struct vig_intel_list *l, uint64_t line, const char *key,
			      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Counts a record read (lines) or deliberately skipped. */
void vig_intel_list_count_line(struct vig_intel_list *l);
void vig_intel_list_skip(struct vig_intel_list *l);
/* Current counters. */
void vig_intel_list_stats(const struct vig_intel_list *l, struct vig_intel_list_stats *out);
/* Number of indicators. */
size_t vig_intel_list_len(const struct vig_intel_list *l);
/* Indicator i (0 <= i < len): type, normalised value, id, threat (may be NULL), confidence. */
void vig_intel_list_get(const struct vig_intel_list *l, size_t i, struct vig_intel_ind *out);
/* Appends every indicator of src to dst (a TAXII poll merging new pages into a feed). */
enum vig_err vig_intel_list_merge(struct vig_intel_list *dst, const struct vig_intel_list *src);

/* ---- parsers (csv.c, misp.c, stix.c) -------------------------------------------------------- */

/* The flat formats read by vig_intel_parse_csv. AUTO picks by the header comment
 * (abuse.ch exports name their columns on a "# ..." line) and else reads TXT. */
enum vig_intel_csv_format {
	VIG_INTEL_CSV_AUTO,
	VIG_INTEL_CSV_TXT,       /* one value per line, type guessed; '#' and ';' comment lines */
	VIG_INTEL_CSV_FEODO,     /* Feodo Tracker ipblocklist.csv: first_seen_utc,dst_ip,dst_port,... */
	VIG_INTEL_CSV_URLHAUS,   /* URLhaus csv: id,dateadded,url,url_status,...,threat,tags,... */
	VIG_INTEL_CSV_THREATFOX, /* ThreatFox csv: first_seen_utc,ioc_id,ioc_value,ioc_type,... */
	VIG_INTEL_CSV_GENERIC,   /* value[,type[,confidence[,threat]]] with an optional header */
};

/* Parses a CSV or TXT feed (n bytes of text) into l. Malformed lines are counted with their
 * reasons and skipped; only a list limit or memory stops the parse (VIG_ETOOBIG / VIG_ENOMEM).
 * *detected (may be NULL) receives the format actually read. */
enum vig_err vig_intel_parse_csv(const char *text, size_t n, enum vig_intel_csv_format fmt,
				 struct vig_intel_list *l, enum vig_intel_csv_format *detected,
				 char *errbuf);
/* Static name of a flat format ("feodo", "urlhaus", ...). */
const char *vig_intel_csv_format_name(enum vig_intel_csv_format f);

/* Reads the named file of a feed (MISP: "manifest.json", "<uuid>.json") into out (bounded by
 * out's limit). Path feeds read DIR/name, URL feeds fetch URL/name. */
typedef enum vig_err vig_intel_reader_fn(void *arg, const char *name, struct vig_buf *out,
					  char *errbuf);

/* Parses a MISP feed: manifest.json, then each listed <uuid>.json event (at most max_events,
 * 0 = all). Attributes of types ip-dst, ip-src, ip-dst|port, ip-src|port, domain, hostname,
 * domain|ip, url, md5, sha1, sha256 and filename|<hash> become indicators when to_ids is true
 * (others are counted as skipped); attributes inside MISP objects count too. A missing or
 * unparsable manifest is an error (VIG_EPARSE / the reader's error); a bad event file is
 * counted as malformed and skipped. */
enum vig_err vig_intel_parse_misp(vig_intel_reader_fn *read, void *arg, size_t max_events,
				  struct vig_intel_list *l, char *errbuf);
/* Parses one MISP event document ({"Event": {...}}) into l. */
enum vig_err vig_intel_parse_misp_event(const char *text, size_t n, struct vig_intel_list *l,
					char *errbuf);

/* Parses a STIX 2.1 bundle ({"type": "bundle", "objects": [...]}) or a TAXII envelope
 * ({"objects": [...]}) into l: every indicator object with pattern_type stix (or none) whose
 * pattern is one comparison, or comparisons joined by OR, of ipv4-addr:value, ipv6-addr:value,
 * domain-name:value, url:value or file:hashes.'MD5' / 'SHA-1' / 'SHA-256' with '='. Revoked
 * indicators and those whose valid_until is before now_ns are skipped and counted; other
 * patterns are counted as malformed ("unsupported pattern"). confidence (0-100) and the
 * indicator's id are kept. VIG_EPARSE when text is not such a JSON object. */
enum vig_err vig_intel_parse_stix(const char *text, size_t n, int64_t now_ns,
				  struct vig_intel_list *l, char *errbuf);

/* ---- fetching (fetch.c, taxii.c) ------------------------------------------------------------ */

struct vig_intel_http {
	const char *username;   /* basic auth user, or NULL */
	const char *password;   /* basic auth password, or NULL */
	const char *token;      /* bearer token, or NULL (wins over basic auth) */
	const char *accept;     /* Accept header, or NULL */
	const char *cacert;     /* CA bundle file, or NULL for the system store */
	bool insecure;          /* skip certificate verification (tests, lab feeds) */
	long timeout_s;         /* whole-transfer timeout; 0 = 60 */
	size_t max_bytes;       /* body limit (also the limit of out); 0 = out's limit */
};

/* Downloads url (http or https only) into out. A body larger than the limit stops the transfer
 * with VIG_ETOOBIG; HTTP status >= 400 is VIG_EIO with the status in errbuf. *status (may be
 * NULL) gets the HTTP status. hdr_name/hdr_value (may be NULL) receive the value of one
 * response header (case-insensitive name), hdr_cap bytes. */
enum vig_err vig_intel_http_get(const char *url, const struct vig_intel_http *opt,
				struct vig_buf *out, long *status, const char *hdr_name,
				char *hdr_value, size_t hdr_cap, char *errbuf);

/* Reads a whole file of at most max_bytes into out. */
enum vig_err vig_intel_read_file(const char *path, size_t max_bytes, struct vig_buf *out,
				 char *errbuf);

/* A TAXII 2.1 poll of one collection: GET {collection_url}/objects/ with
 * Accept: application/taxii+json;version=2.1, ?added_after= when given, limit=page_size,
 * then the `next` pages while `more` is true (at most max_pages). Each page's STIX objects go
 * through vig_intel_parse_stix into l. *added_last receives the X-TAXII-Date-Added-Last of the
 * last page (or the newest date_added seen), for the next poll. */
struct vig_intel_taxii_opts {
	const char *collection_url; /* https://host/api-root/collections/ID/ (trailing / optional) */
	const char *added_after;    /* RFC 3339 timestamp or NULL for a full poll */
	unsigned page_size;         /* limit= per page; 0 = 1000 */
	unsigned max_pages;         /* 0 = 100 */
	struct vig_intel_http http; /* auth, TLS, limits per page */
};
enum vig_err vig_intel_taxii_poll(const struct vig_intel_taxii_opts *o, int64_t now_ns,
				  struct vig_intel_list *l, char added_last[64],
				  unsigned *pages, char *errbuf);

/* ---- the compiled set (set.c) ---------------------------------------------------------------- */

struct vig_intel_set;

/* One feed's contribution to a set. */
struct vig_intel_source {
	const char *feed;                  /* feed name, carried by hits */
	const char *tenant;                /* tenant it applies to, NULL = every tenant */
	const struct vig_intel_list *list; /* its indicators (copied into the set) */
};

/* Compiles the lists into a new set (reference count 1). An empty set is valid. NULL with
 * errbuf when memory runs out. */
struct vig_intel_set *vig_intel_set_build(const struct vig_intel_source *src, size_t n,
					  char *errbuf);
/* Takes / drops a reference; the last unref frees. NULL does nothing. */
struct vig_intel_set *vig_intel_set_ref(struct vig_intel_set *s);
void vig_intel_set_unref(struct vig_intel_set *s);
/* Indicators in the set (after de-duplication of equal value, feed and tenant). */
size_t vig_intel_set_size(const struct vig_intel_set *s);

/* What a lookup found. Pointers live as long as the set. */
struct vig_intel_hit {
	enum vig_intel_type type;
	const char *indicator; /* the indicator's normalised value ("10.0.0.0/8", "evil.com") */
	const char *feed;      /* feed name */
	const char *tenant;    /* feed tenant or NULL (global) */
	const char *id;        /* source id or NULL */
	const char *threat;    /* threat name or NULL */
	int confidence;        /* 0-100 or -1 */
};

/* Lookups. tenant: the event's tenant (indicators of other tenants' feeds never match);
 * NULL matches indicators of every tenant (the lookup API of a provider). */
bool vig_intel_match_ip(const struct vig_intel_set *s, const uint8_t ip[16], const char *tenant,
			struct vig_intel_hit *out);
bool vig_intel_match_domain(const struct vig_intel_set *s, const char *name, size_t len,
			    const char *tenant, struct vig_intel_hit *out);
bool vig_intel_match_url(const struct vig_intel_set *s, const char *url, size_t len,
			 const char *tenant, struct vig_intel_hit *out);
/* A hash of 32, 40 or 64 hex digits (any case). */
bool vig_intel_match_hash(const struct vig_intel_set *s, const char *hex, size_t len,
			  const char *tenant, struct vig_intel_hit *out);
/* Guesses the value's type and looks it up (the lookup API); a URL also tries its host. */
bool vig_intel_lookup(const struct vig_intel_set *s, const char *value, size_t len,
		      const char *tenant, struct vig_intel_hit *out);

/* ---- enrichment (enrich.c) -------------------------------------------------------------------- */

/* The extension fields a match sets on an event. */
#define VIG_INTEL_F_ATOMIC "threat.enrichments.matched.atomic"
#define VIG_INTEL_F_FIELD "threat.enrichments.matched.field"
#define VIG_INTEL_F_TYPE "threat.enrichments.matched.type"
#define VIG_INTEL_F_FEED "threat.enrichments.feed.name"
#define VIG_INTEL_F_CONFIDENCE "threat.enrichments.indicator.confidence"
#define VIG_INTEL_F_ID "threat.enrichments.indicator.id"
#define VIG_INTEL_F_INDICATOR "threat.enrichments.indicator.value"
#define VIG_INTEL_F_THREAT "threat.enrichments.indicator.description"
#define VIG_INTEL_F_COUNT "threat.enrichments.matched.count"

/* Checks the event's fields against the set: source.ip, destination.ip, client.ip,
 * server.ip, dns.question.name, destination.domain, source.domain, url.domain,
 * tls.client.server_name, url.full, url.original, file.hash.{md5,sha1,sha256},
 * process.hash.{md5,sha1,sha256}, process.parent.hash.sha256. The first hit (in that order)
 * sets the VIG_INTEL_F_* fields; VIG_INTEL_F_COUNT holds the number of fields that matched.
 * Uses the event's tenant.id. Returns the number of matching fields (0 = no hit); setting a
 * field can fail only at the event's limits, which is reported as 0 hits with *err set
 * (err may be NULL). */
size_t vig_intel_enrich(const struct vig_intel_set *s, struct vig_event *ev, enum vig_err *err);

/* ---- ATT&CK (attack.c) ------------------------------------------------------------------------ */

struct vig_attack;

struct vig_attack_tactic {
	const char *id;         /* "TA0002" */
	const char *shortname;  /* "execution" (kill-chain phase name) */
	const char *name;       /* "Execution" */
};

struct vig_attack_mitigation {
	const char *id;          /* "M1038" */
	const char *name;        /* "Execution Prevention" */
	const char *description; /* how it applies to the technique (the relationship's text) */
};

struct vig_attack_technique {
	const char *id;          /* "T1059" or "T1059.004" */
	const char *name;        /* "Command and Scripting Interpreter" / "Unix Shell" */
	const char *description; /* may be "" */
	const char *parent;      /* "T1059" for a sub-technique, else NULL */
	bool subtechnique;
	const char **tactics;    /* tactic shortnames ("execution") */
	size_t n_tactics;
	const char **platforms;  /* "Linux", ... */
	size_t n_platforms;
	const struct vig_attack_mitigation *mitigations;
	size_t n_mitigations;
	const char *url;         /* attack.mitre.org page, or NULL */
};

struct vig_attack_stats {
	size_t techniques, subtechniques, tactics, mitigations, relationships;
	size_t skipped; /* revoked or deprecated objects */
	char version[32]; /* x_mitre_version of the collection/matrix when present, else "" */
};

/* Reads an ATT&CK enterprise STIX bundle (2.0 or 2.1). Revoked and deprecated objects are
 * skipped. NULL with errbuf when text is not a bundle or holds no technique. */
struct vig_attack *vig_attack_load(const char *text, size_t n, char *errbuf);
/* Reads the bundle from a file (at most max_bytes). */
struct vig_attack *vig_attack_load_file(const char *path, size_t max_bytes, char *errbuf);
void vig_attack_free(struct vig_attack *a);
void vig_attack_get_stats(const struct vig_attack *a, struct vig_attack_stats *out);
/* Techniques sorted by id; *n receives the count. */
const struct vig_attack_technique *vig_attack_techniques(const struct vig_attack *a, size_t *n);
/* Technique by id (case-insensitive, "t1059.004" works), or NULL. */
const struct vig_attack_technique *vig_attack_technique(const struct vig_attack *a,
							const char *id);
/* Tactics in matrix order (as given by the bundle's x-mitre-matrix, else by id). */
const struct vig_attack_tactic *vig_attack_tactics(const struct vig_attack *a, size_t *n);
/* The technique id named by a Sigma tag ("attack.t1059.004" -> "T1059.004") into out (16
 * bytes); false when the tag is not a technique tag. */
bool vig_attack_tag_technique(const char *tag, char out[16]);

#endif /* VIG_INTEL_H */
