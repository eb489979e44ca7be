/*
 * detect_glob.c - Sigma string tests as globs: the engine's fast path for the regexes the
 * loader generates from Sigma strings (see sigma_int.h, struct vig_glob).
 *
 * The loader turns every Sigma string into a small regex: an optional `^`, then bytes (letters,
 * digits, `_` and space as such, everything else as `\xHH`), `.*` for `*`, `.` for `?`, the
 * windash alternation for `windash`, and an optional `\z`. vig_glob_parse() reads that form
 * back into tokens, so that the engine can put one literal of each test (its longest run of
 * bytes) into a Hyperscan literal database and confirm a hit with vig_glob_match(), instead of
 * compiling tens of thousands of caseless regexes into one automaton. Anything else (a rule
 * author's `re`, or a string with no byte at all) is refused and stays a regex.
 *
 * Matching: the glob is split at its stars into segments of fixed tokens; a segment is matched
 * at the position that ends it earliest, which is optimal because what follows a star only
 * depends on where the previous segment ended. The windash token has 1- or 3-byte
 * alternatives, so a segment's end is the smallest over its alternatives (bounded by
 * VIG_GLOB_MAX_DASH per glob). Case folding is ASCII only, like Hyperscan's HS_FLAG_CASELESS
 * without UTF-8 mode.
 */
#include <stdlib.h>
#include <string.h>

#include "sigma_int.h"

static const char DASH_RX[] = "(?:-|/|\\xe2\\x80\\x93|\\xe2\\x80\\x94|\\xe2\\x80\\x95)";
static const struct {
	const char *s;
	uint8_t n;
} DASH_ALT[] = {{"-", 1}, {"/", 1}, {"\xe2\x80\x93", 3}, {"\xe2\x80\x94", 3}, {"\xe2\x80\x95", 3}};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline uint8_t fold(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Sets g's pure, lit_off and lit_len from its tokens; false when it has no byte at all. */
static bool find_literal(struct vig_glob *g)
{
	uint32_t run = 0;

	g->pure = true;
	g->lit_len = g->lit_off = 0;
	for (uint32_t k = 0; k <= g->n; k++) {
		if (k < g->n && g->tok[k] < 256) {
			run++;
			continue;
		}
		if (k < g->n)
			g->pure = false;
		if (run > g->lit_len) {
			g->lit_len = run;
			g->lit_off = k - run;
		}
		run = 0;
	}
	return g->lit_len > 0;
}

bool vig_glob_parse(const char *rx, unsigned rx_flags, struct vig_glob *g)
{
	size_t len = strlen(rx), i = 0, dashes = 0;
	uint16_t *t;
	uint32_t n = 0;

	memset(g, 0, sizeof(*g));
	if (rx_flags & (VIG_RX_USER | VIG_RX_MULTILINE) || !(rx_flags & VIG_RX_DOTALL))
		return false;
	t = malloc((len + 1) * sizeof(*t));
	if (!t)
		return false;
	g->ci = rx_flags & VIG_RX_CASELESS;
	if (rx[0] == '^') {
		g->as = true;
		i = 1;
	}
	if (len >= i + 2 && rx[len - 2] == '\\' && rx[len - 1] == 'z') {
		g->ae = true;
		len -= 2;
	}
	while (i < len) {
		char c = rx[i];
		if (c == '.' && i + 1 < len && rx[i + 1] == '*') {
			t[n++] = VIG_GLOB_STAR;
			i += 2;
		} else if (c == '.') {
			t[n++] = VIG_GLOB_ONE;
			i++;
		} else if (c == '(' && strncmp(rx + i, DASH_RX, sizeof(DASH_RX) - 1) == 0) {
			t[n++] = VIG_GLOB_DASH;
			i += sizeof(DASH_RX) - 1;
			dashes++;
		} else if (c == '\\' && i + 3 < len && rx[i + 1] == 'x' && hexval(rx[i + 2]) >= 0 &&
			   hexval(rx[i + 3]) >= 0) {
			t[n++] = (uint16_t)(hexval(rx[i + 2]) * 16 + hexval(rx[i + 3]));
			i += 4;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == ' ') {
			t[n++] = (uint8_t)c;
			i++;
		} else {
			free(t);
			return false;
		}
	}
	if (i != len || dashes > VIG_GLOB_MAX_DASH) {
		free(t);
		return false;
	}
	g->tok = t;
	g->n = n;
	if (!find_literal(g)) {
		vig_glob_release(g);
		return false;
	}
	return true;
}

void vig_glob_release(struct vig_glob *g)
{
	free(g->tok);
	memset(g, 0, sizeof(*g));
}

uint32_t vig_glob_dashes(const struct vig_glob *g)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < g->n; i++)
		k += g->tok[i] == VIG_GLOB_DASH;
	return k;
}

bool vig_glob_variant(const struct vig_glob *g, uint32_t v, struct vig_glob *out)
{
	uint32_t n = 0;
	uint16_t *t = malloc(((size_t)g->n * 3 + 1) * sizeof(*t));

	*out = *g;
	out->tok = NULL;
	if (!t)
		return false;
	for (uint32_t i = 0; i < g->n; i++) {
		if (g->tok[i] != VIG_GLOB_DASH) {
			t[n++] = g->tok[i];
			continue;
		}
		for (uint8_t k = 0; k < DASH_ALT[v % 5].n; k++)
			t[n++] = (uint8_t)DASH_ALT[v % 5].s[k];
		v /= 5;
	}
	out->tok = t;
	out->n = n;
	find_literal(out); /* a variant has at least the bytes of the original */
	return true;
}

/* Smallest end of tokens t[0..nt) matched at v[p..], or -1. */
static long seg_min_end(const uint16_t *t, uint32_t nt, const uint8_t *v, size_t n, size_t p, bool ci)
{
	for (uint32_t i = 0; i < nt; i++) {
		uint16_t c = t[i];
		if (c < 256) {
			if (p >= n || (ci ? fold(v[p]) != fold((uint8_t)c) : v[p] != c))
				return -1;
			p++;
		} else if (c == VIG_GLOB_ONE) {
			if (p >= n)
				return -1;
			p++;
		} else { /* VIG_GLOB_DASH */
			long best = -1;
			for (size_t a = 0; a < sizeof(DASH_ALT) / sizeof(DASH_ALT[0]); a++) {
				long e;
				if (p + DASH_ALT[a].n > n || memcmp(v + p, DASH_ALT[a].s, DASH_ALT[a].n) != 0)
					continue;
				e = seg_min_end(t + i + 1, nt - i - 1, v, n, p + DASH_ALT[a].n, ci);
				if (e >= 0 && (best < 0 || e < best))
					best = e;
			}
			return best;
		}
	}
	return (long)p;
}

/* Whether tokens t[0..nt) match v[p..want) exactly. */
static bool seg_end_at(const uint16_t *t, uint32_t nt, const uint8_t *v, size_t want, size_t p, bool ci)
{
	for (uint32_t i = 0; i < nt; i++) {
		uint16_t c = t[i];
		if (c < 256) {
			if (p >= want || (ci ? fold(v[p]) != fold((uint8_t)c) : v[p] != c))
				return false;
			p++;
		} else if (c == VIG_GLOB_ONE) {
			if (p >= want)
				return false;
			p++;
		} else {
			for (size_t a = 0; a < sizeof(DASH_ALT) / sizeof(DASH_ALT[0]); a++)
				if (p + DASH_ALT[a].n <= want && memcmp(v + p, DASH_ALT[a].s, DASH_ALT[a].n) == 0 &&
				    seg_end_at(t + i + 1, nt - i - 1, v, want, p + DASH_ALT[a].n, ci))
					return true;
			return false;
		}
	}
	return p == want;
}

bool vig_glob_match(const struct vig_glob *g, const char *text, size_t n)
{
	const uint8_t *v = (const uint8_t *)text;
	size_t pos = 0;
	uint32_t a = 0;

	while (a <= g->n) {
		uint32_t b = a, minlen = 0;
		bool dash = false, first = a == 0, last;
		while (b < g->n && g->tok[b] != VIG_GLOB_STAR) {
			dash |= g->tok[b] == VIG_GLOB_DASH;
			b++;
			minlen++;
		}
		last = b == g->n;
		if (first && g->as) {
			long e;
			if (last && g->ae)
				return seg_end_at(g->tok, b, v, n, 0, g->ci);
			if ((e = seg_min_end(g->tok, b, v, n, 0, g->ci)) < 0)
				return false;
			pos = (size_t)e;
		} else if (last && g->ae) {
			if (n < pos + minlen)
				return false;
			if (!dash)
				return seg_end_at(g->tok + a, b - a, v, n, n - minlen, g->ci);
			for (size_t s = pos; s + minlen <= n; s++)
				if (seg_end_at(g->tok + a, b - a, v, n, s, g->ci))
					return true;
			return false;
		} else {
			long best = -1;
			uint16_t t0 = b > a ? g->tok[a] : VIG_GLOB_ONE;
			uint8_t c0 = t0 < 256 ? (g->ci ? fold((uint8_t)t0) : (uint8_t)t0) : 0;
			for (size_t s = pos; s + minlen <= n && (best < 0 || (long)(s + minlen) < best); s++) {
				long e;
				/* Most positions fail on the first byte: test it before the call. */
				if (t0 < 256 && (g->ci ? fold(v[s]) : v[s]) != c0)
					continue;
				e = seg_min_end(g->tok + a, b - a, v, n, s, g->ci);
				if (e >= 0 && (best < 0 || e < best)) {
					best = e;
					if (!dash)
						break;
				}
			}
			if (best < 0)
				return false;
			pos = (size_t)best;
		}
		a = b + 1;
	}
	return true;
}
