/*
 * http_util.c - libevent-free HTTP helpers (see http_util.h): routes, query strings, cookies,
 * percent-decoding and the error → status mapping used by every API reply.
 */
#include "http_util.h"

#include <string.h>

#include "common/vtime.h"

bool vig_http_route_match(const char *pattern, const char *path, char param[VIG_HTTP_PARAM_MAX])
{
	const char *p = pattern, *s = path;

	while (*p) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			size_t n = strcspn(s, "/");

			if (!pe || n == 0 || n >= VIG_HTTP_PARAM_MAX || !param)
				return false;
			memcpy(param, s, n);
			param[n] = '\0';
			p = pe + 1;
			s += n;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

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

bool vig_http_pct_decode(const char *s, size_t n, bool plus_space, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return false;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			if (c == '\0')
				return false;
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	if (cap == 0)
		return false;
	out[o] = '\0';
	return true;
}

int vig_http_query_get(const char *query, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	const char *p = query;

	if (!query)
		return 0;
	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;

		if (klen == name_len && memcmp(p, name, klen) == 0) {
			const char *v = eq ? eq + 1 : p + len;
			size_t vlen = (size_t)(p + len - v);

			return vig_http_pct_decode(v, vlen, true, out, cap) ? 1 : -1;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

bool vig_http_cookie_get(const char *header, const char *name, char *out, size_t cap)
{
	size_t name_len = strlen(name);
	const char *p = header;

	if (!header)
		return false;
	while (*p) {
		size_t len;
		const char *eq;

		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		len = strcspn(p, ";");
		eq = memchr(p, '=', len);
		if (eq && (size_t)(eq - p) == name_len && memcmp(p, name, name_len) == 0) {
			size_t vlen = (size_t)(p + len - eq - 1);

			while (vlen > 0 && (eq[vlen] == ' ' || eq[vlen] == '\t'))
				vlen--;
			if (vlen >= cap)
				return false;
			memcpy(out, eq + 1, vlen);
			out[vlen] = '\0';
			return true;
		}
		p += len;
	}
	return false;
}

int vig_http_status_of(enum vig_err err)
{
	switch (err) {
	case VIG_OK:
		return 200;
	case VIG_EINVAL:
	case VIG_EPARSE:
		return 400;
	case VIG_EAUTH:
		return 401;
	case VIG_EPERM:
		return 403;
	case VIG_ENOTFOUND:
		return 404;
	case VIG_EEXIST:
	case VIG_ECONFLICT:
		return 409;
	case VIG_ETOOBIG:
		return 413;
	case VIG_EBUSY:
		return 429;
	case VIG_EUNSUPPORTED:
		return 501;
	case VIG_ETIMEOUT:
		return 503;
	default:
		return 500;
	}
}

const char *vig_http_code_of(enum vig_err err)
{
	static const char *const codes[VIG_ERR__COUNT] = {
		[VIG_OK] = "ok",
		[VIG_ENOMEM] = "enomem",
		[VIG_EINVAL] = "einval",
		[VIG_ETOOBIG] = "etoobig",
		[VIG_EPARSE] = "eparse",
		[VIG_ENOTFOUND] = "enotfound",
		[VIG_EEXIST] = "eexist",
		[VIG_EIO] = "eio",
		[VIG_EPERM] = "eperm",
		[VIG_EAUTH] = "eauth",
		[VIG_EBUSY] = "ebusy",
		[VIG_ECONFLICT] = "econflict",
		[VIG_EUNSUPPORTED] = "eunsupported",
		[VIG_ETIMEOUT] = "etimeout",
		[VIG_EINTERNAL] = "einternal",
	};

	if ((unsigned)err >= VIG_ERR__COUNT)
		return "einternal";
	return codes[err];
}

bool vig_http_parse_time(const char *s, int64_t *ns)
{
	return s && *s && vig_time_parse(s, strlen(s), ns);
}

bool vig_http_parse_interval(const char *s, int64_t *ns)
{
	size_t n = strlen(s);
	int64_t mult = VIG_NS_PER_SEC, v;

	if (n == 0)
		return false;
	switch (s[n - 1]) {
	case 's':
		n--;
		break;
	case 'm':
		mult = 60 * VIG_NS_PER_SEC;
		n--;
		break;
	case 'h':
		mult = 3600 * VIG_NS_PER_SEC;
		n--;
		break;
	case 'd':
		mult = 86400 * VIG_NS_PER_SEC;
		n--;
		break;
	default:
		break;
	}
	if (!vig_parse_i64(s, n, &v) || v <= 0 || v > 366 * 86400LL * VIG_NS_PER_SEC / mult)
		return false;
	*ns = v * mult;
	return true;
}
