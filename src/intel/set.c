/*
 * set.c - the compiled indicator set: every feed's indicators in one open-addressing hash
 * table, built once, then read concurrently without locks until its last reference goes.
 *
 * Keys: an address or CIDR block is 'I' + its 16 masked bytes + its prefix length (IPv4 as
 * 96+n); any other value is the type's letter + the normalised text. Indicators with an equal
 * key from other feeds (or other tenants' feeds) hang off the first one in a chain, so a
 * lookup finds the first indicator visible to the event's tenant; an equal key from the same
 * feed is a duplicate and dropped.
 *
 * Address lookups probe each prefix length present in the set, longest first (a bitmap of
 * the 129 lengths), so an address costs one probe per distinct prefix length, not one per
 * block. Domains probe the name and each parent domain ("a.b.evil.com", "b.evil.com",
 * "evil.com", "com"). The hash function is seeded per set from the kernel's randomness so
 * that event values chosen by an attacker cannot be aimed at one bucket.
 */
#include "intel.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"

#define KEY_MAX (VIG_INTEL_VALUE_MAX + 2)

struct ent {
	const uint8_t *key; /* in the arena */
	uint32_t klen;      /* bytes of key */
	uint8_t type;       /* enum vig_intel_type */
	int16_t confidence; /* -1 unknown */
	uint32_t feed;      /* index into feeds */
	int32_t next;       /* next indicator with the same key, or -1 */
	uint64_t hash;      /* of key */
	const char *value;  /* normalised text */
	const char *id;     /* or NULL */
	const char *threat; /* or NULL */
};

struct feedinfo {
	const char *name;   /* in the arena */
	const char *tenant; /* in the arena, or NULL = every tenant */
};

struct vig_intel_set {
	atomic_int refs;           /* references */
	struct vig_arena arena;    /* keys and strings */
	struct ent *ents;          /* indicators */
	size_t n;                  /* used entries of ents */
	int32_t *slots;            /* head entry index per bucket, -1 empty */
	size_t mask;               /* buckets - 1 (a power of two minus one) */
	struct feedinfo *feeds;    /* one per source */
	size_t n_feeds;
	uint64_t seed;             /* hash seed */
	uint64_t prefixes[3];      /* bit p set: some address indicator has prefix length p */
};

static uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t fmix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	k ^= k >> 33;
	return k;
}

static uint64_t hash_bytes(uint64_t seed, const uint8_t *p, size_t n)
{
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), k;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&k, p + i, 8);
		k *= 0x87c37b91114253d5ULL;
		k = rotl(k, 31);
		k *= 0x4cf5ad432745937fULL;
		h ^= k;
		h = rotl(h, 27) * 5 + 0x52dce729;
	}
	k = 0;
	for (size_t j = 0; i + j < n; j++)
		k |= (uint64_t)p[i + j] << (8 * j);
	h ^= fmix(k ^ seed);
	return fmix(h);
}

static size_t str_key(enum vig_intel_type t, const char *v, size_t n, uint8_t *key)
{
	key[0] = (uint8_t)('a' + t);
	memcpy(key + 1, v, n);
	return n + 1;
}

static size_t ip_key(const uint8_t ip[16], unsigned prefix, uint8_t *key)
{
	key[0] = 'I';
	memcpy(key + 1, ip, 16);
	key[17] = (uint8_t)prefix;
	return 18;
}

/* Index of the first entry with key, or -1. */
static int32_t find(const struct vig_intel_set *s, const uint8_t *key, size_t klen)
{
	uint64_t h = hash_bytes(s->seed, key, klen);

	for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
		int32_t e = s->slots[i];

		if (e < 0)
			return -1;
		if (s->ents[e].hash == h && s->ents[e].klen == klen &&
		    memcmp(s->ents[e].key, key, klen) == 0)
			return e;
	}
}

static void ip_mask(uint8_t ip[16], unsigned prefix)
{
	for (unsigned b = 0; b < 16; b++) {
		unsigned keep = prefix > b * 8 ? prefix - b * 8 : 0;

		if (keep < 8)
			ip[b] &= (uint8_t)(0xff00u >> keep);
	}
}

/* Inserts entry e (key and hash set); false when it duplicates one of the same feed. */
static bool insert(struct vig_intel_set *s, int32_t e)
{
	struct ent *x = &s->ents[e];

	for (size_t i = x->hash & s->mask;; i = (i + 1) & s->mask) {
		int32_t h = s->slots[i];

		if (h < 0) {
			s->slots[i] = e;
			return true;
		}
		if (s->ents[h].hash != x->hash || s->ents[h].klen != x->klen ||
		    memcmp(s->ents[h].key, x->key, x->klen) != 0)
			continue;
		for (int32_t c = h;; c = s->ents[c].next) {
			if (s->ents[c].feed == x->feed)
				return false;
			if (s->ents[c].next < 0) {
				s->ents[c].next = e;
				return true;
			}
		}
	}
}

static const char *dup_or_null(struct vig_arena *a, const char *s, bool *oom)
{
	const char *d;

	if (!s)
		return NULL;
	d = vig_arena_strndup(a, s, strlen(s));
	if (!d)
		*oom = true;
	return d;
}

/* Adds one list indicator as entry s->n. */
static bool add_one(struct vig_intel_set *s, uint32_t feed, const struct vig_intel_ind *ind)
{
	struct ent *x = &s->ents[s->n];
	uint8_t key[KEY_MAX], ip[16];
	char norm[VIG_INTEL_VALUE_MAX];
	unsigned prefix = 0;
	bool oom = false;
	size_t klen;
	uint8_t *k;

	if (ind->type == VIG_INTEL_IP) {
		if (!vig_intel_normalize(VIG_INTEL_IP, ind->value, ind->len, norm, ip, &prefix, NULL))
			return true; /* cannot happen: lists hold normalised values */
		klen = ip_key(ip, prefix, key);
	} else {
		klen = str_key(ind->type, ind->value, ind->len, key);
	}
	k = vig_arena_alloc(&s->arena, klen);
	if (!k)
		return false;
	memcpy(k, key, klen);
	*x = (struct ent){.key = k, .klen = (uint32_t)klen, .type = (uint8_t)ind->type,
			  .confidence = (int16_t)ind->confidence, .feed = feed, .next = -1,
			  .hash = hash_bytes(s->seed, k, klen)};
	x->value = dup_or_null(&s->arena, ind->value, &oom);
	x->id = dup_or_null(&s->arena, ind->id, &oom);
	x->threat = dup_or_null(&s->arena, ind->threat, &oom);
	if (oom)
		return false;
	if (insert(s, (int32_t)s->n)) {
		if (ind->type == VIG_INTEL_IP)
			s->prefixes[prefix / 64] |= 1ull << (prefix % 64);
		s->n++;
	}
	return true;
}

struct vig_intel_set *vig_intel_set_build(const struct vig_intel_source *src, size_t n,
					  char *errbuf)
{
	struct vig_intel_set *s = calloc(1, sizeof(*s));
	size_t total = 0, buckets = 16;
	struct vig_intel_ind ind;
	bool oom = false;

	if (!s)
		goto out_oom;
	atomic_init(&s->refs, 1);
	vig_arena_init(&s->arena, 1 << 20, 0);
	for (size_t i = 0; i < n; i++)
		total += src[i].list ? vig_intel_list_len(src[i].list) : 0;
	if (total > INT32_MAX / 4) {
		vig_errf(errbuf, VIG_ETOOBIG, "%zu indicators: more than one set holds", total);
		vig_intel_set_unref(s);
		return NULL;
	}
	while (buckets < total * 2)
		buckets *= 2;
	s->mask = buckets - 1;
	s->slots = malloc(buckets * sizeof(*s->slots));
	s->ents = total ? malloc(total * sizeof(*s->ents)) : NULL;
	s->feeds = n ? calloc(n, sizeof(*s->feeds)) : NULL;
	if (!s->slots || (total && !s->ents) || (n && !s->feeds) ||
	    vig_random(&s->seed, sizeof(s->seed)) != VIG_OK)
		goto out_oom;
	memset(s->slots, 0xff, buckets * sizeof(*s->slots));
	s->n_feeds = n;
	for (size_t i = 0; i < n; i++) {
		s->feeds[i].name = dup_or_null(&s->arena, src[i].feed ? src[i].feed : "", &oom);
		s->feeds[i].tenant = dup_or_null(&s->arena, src[i].tenant, &oom);
		if (oom)
			goto out_oom;
		for (size_t j = 0; src[i].list && j < vig_intel_list_len(src[i].list); j++) {
			vig_intel_list_get(src[i].list, j, &ind);
			if (!add_one(s, (uint32_t)i, &ind))
				goto out_oom;
		}
	}
	return s;
out_oom:
	vig_errf(errbuf, VIG_ENOMEM, "out of memory building the indicator set");
	vig_intel_set_unref(s);
	return NULL;
}

struct vig_intel_set *vig_intel_set_ref(struct vig_intel_set *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void vig_intel_set_unref(struct vig_intel_set *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	vig_arena_release(&s->arena);
	free(s->ents);
	free(s->slots);
	free(s->feeds);
	free(s);
}

size_t vig_intel_set_size(const struct vig_intel_set *s)
{
	return s ? s->n : 0;
}

/* The first entry of the chain at e visible to tenant, filled into out. */
static bool pick(const struct vig_intel_set *s, int32_t e, const char *tenant,
		 struct vig_intel_hit *out)
{
	for (; e >= 0; e = s->ents[e].next) {
		const struct ent *x = &s->ents[e];
		const struct feedinfo *f = &s->feeds[x->feed];

		if (tenant && f->tenant && strcmp(f->tenant, tenant) != 0)
			continue;
		if (out)
			*out = (struct vig_intel_hit){.type = (enum vig_intel_type)x->type,
						      .indicator = x->value, .feed = f->name,
						      .tenant = f->tenant, .id = x->id,
						      .threat = x->threat, .confidence = x->confidence};
		return true;
	}
	return false;
}

bool vig_intel_match_ip(const struct vig_intel_set *s, const uint8_t ip[16], const char *tenant,
			struct vig_intel_hit *out)
{
	uint8_t key[18], m[16];

	if (!s || s->n == 0)
		return false;
	for (int p = 128; p >= 0; p--) {
		if (!(s->prefixes[p / 64] & (1ull << (p % 64))))
			continue;
		memcpy(m, ip, 16);
		ip_mask(m, (unsigned)p);
		if (pick(s, find(s, key, ip_key(m, (unsigned)p, key)), tenant, out))
			return true;
	}
	return false;
}

static bool match_str(const struct vig_intel_set *s, enum vig_intel_type t, const char *norm,
		      size_t n, const char *tenant, struct vig_intel_hit *out)
{
	uint8_t key[KEY_MAX];

	return pick(s, find(s, key, str_key(t, norm, n, key)), tenant, out);
}

bool vig_intel_match_domain(const struct vig_intel_set *s, const char *name, size_t len,
			    const char *tenant, struct vig_intel_hit *out)
{
	char norm[VIG_INTEL_VALUE_MAX];
	size_t n;

	if (!s || s->n == 0 || len == 0 || len >= VIG_INTEL_VALUE_MAX ||
	    !vig_intel_normalize(VIG_INTEL_DOMAIN, name, len, norm, NULL, NULL, NULL))
		return false;
	n = strlen(norm);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && norm[i - 1] != '.')
			continue;
		if (match_str(s, VIG_INTEL_DOMAIN, norm + i, n - i, tenant, out))
			return true;
	}
	return false;
}

bool vig_intel_match_url(const struct vig_intel_set *s, const char *url, size_t len,
			 const char *tenant, struct vig_intel_hit *out)
{
	char norm[VIG_INTEL_VALUE_MAX];

	if (!s || s->n == 0 || len >= VIG_INTEL_VALUE_MAX ||
	    !vig_intel_normalize(VIG_INTEL_URL, url, len, norm, NULL, NULL, NULL))
		return false;
	return match_str(s, VIG_INTEL_URL, norm, strlen(norm), tenant, out);
}

bool vig_intel_match_hash(const struct vig_intel_set *s, const char *hex, size_t len,
			  const char *tenant, struct vig_intel_hit *out)
{
	char norm[VIG_INTEL_VALUE_MAX];
	enum vig_intel_type t;

	if (!s || s->n == 0)
		return false;
	if (len == 32)
		t = VIG_INTEL_MD5;
	else if (len == 40)
		t = VIG_INTEL_SHA1;
	else if (len == 64)
		t = VIG_INTEL_SHA256;
	else
		return false;
	if (!vig_intel_normalize(t, hex, len, norm, NULL, NULL, NULL))
		return false;
	return match_str(s, t, norm, len, tenant, out);
}

/* The host of a URL into host (cap bytes), without userinfo and port. */
static bool url_host(const char *url, size_t len, char *host, size_t cap)
{
	const char *p = memmem(url, len, "://", 3), *end = url + len, *h, *e;

	if (!p)
		return false;
	h = p + 3;
	e = h;
	while (e < end && *e != '/' && *e != '?' && *e != '#')
		e++;
	for (const char *at = h; at < e; at++)
		if (*at == '@')
			h = at + 1;
	if (h < e && *h == '[') {
		const char *rb = memchr(h, ']', (size_t)(e - h));

		if (!rb)
			return false;
		h++;
		e = rb;
	} else {
		const char *colon = memchr(h, ':', (size_t)(e - h));

		if (colon)
			e = colon;
	}
	if (e <= h || (size_t)(e - h) >= cap)
		return false;
	memcpy(host, h, (size_t)(e - h));
	host[e - h] = '\0';
	return true;
}

bool vig_intel_lookup(const struct vig_intel_set *s, const char *value, size_t len,
		      const char *tenant, struct vig_intel_hit *out)
{
	char norm[VIG_INTEL_VALUE_MAX], host[256];
	enum vig_intel_type t;
	uint8_t ip[16], key[KEY_MAX];
	unsigned prefix;

	if (!s || !vig_intel_guess_type(value, len, &t))
		return false;
	switch (t) {
	case VIG_INTEL_IP:
		if (!vig_intel_normalize(t, value, len, norm, ip, &prefix, NULL))
			return false;
		if (prefix == 128)
			return vig_intel_match_ip(s, ip, tenant, out);
		return pick(s, find(s, key, ip_key(ip, prefix, key)), tenant, out);
	case VIG_INTEL_DOMAIN:
		return vig_intel_match_domain(s, value, len, tenant, out);
	case VIG_INTEL_URL:
		if (vig_intel_match_url(s, value, len, tenant, out))
			return true;
		if (!url_host(value, len, host, sizeof(host)))
			return false;
		if (vig_ip_parse(host, strlen(host), ip))
			return vig_intel_match_ip(s, ip, tenant, out);
		return vig_intel_match_domain(s, host, strlen(host), tenant, out);
	default:
		return vig_intel_match_hash(s, value, len, tenant, out);
	}
}
