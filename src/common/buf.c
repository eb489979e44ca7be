/*
 * buf.c - growable, bounded byte buffer (see buf.h).
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vig_buf_init(struct vig_buf *b, size_t toobig)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->toobig = toobig ? toobig : ((size_t)1 << 30);
	b->err = VIG_OK;
}

void vig_buf_release(struct vig_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void vig_buf_reset(struct vig_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	b->err = VIG_OK;
}

static enum vig_err buf_fail(struct vig_buf *b, enum vig_err err)
{
	vig_buf_release(b);
	if (b->err == VIG_OK)
		b->err = err;
	return err;
}

static enum vig_err buf_reserve(struct vig_buf *b, size_t n)
{
	size_t need;

	if (b->err != VIG_OK)
		return b->err;
	need = b->len + n + 1;
	if (need < n || need > b->toobig)
		return buf_fail(b, VIG_ETOOBIG);
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < need)
			cap *= 2;
		if (cap > b->toobig)
			cap = b->toobig;
		char *p = realloc(b->data, cap);
		if (!p)
			return buf_fail(b, VIG_ENOMEM);
		b->data = p;
		b->cap = cap;
	}
	return VIG_OK;
}

enum vig_err vig_buf_add(struct vig_buf *b, const void *p, size_t n)
{
	enum vig_err rc = buf_reserve(b, n);

	if (rc != VIG_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return VIG_OK;
}

enum vig_err vig_buf_adds(struct vig_buf *b, const char *s)
{
	return vig_buf_add(b, s, strlen(s));
}

enum vig_err vig_buf_addc(struct vig_buf *b, char c)
{
	return vig_buf_add(b, &c, 1);
}

enum vig_err vig_buf_vprintf(struct vig_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	enum vig_err rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return buf_fail(b, VIG_EINVAL);
	rc = buf_reserve(b, (size_t)n);
	if (rc != VIG_OK)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return VIG_OK;
}

enum vig_err vig_buf_printf(struct vig_buf *b, const char *fmt, ...)
{
	va_list ap;
	enum vig_err rc;

	va_start(ap, fmt);
	rc = vig_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

enum vig_err vig_buf_add_json_str(struct vig_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	vig_buf_addc(b, '"');
	while (i < n) {
		unsigned char c = p[i];
		size_t len = utf8_seq_len(p + i, n - i);
		if (len && c >= 0x20 && c != '"' && c != '\\') {
			i += len;
			run += len;
			continue;
		}
		vig_buf_add(b, p + i - run, run);
		run = 0;
		if (!len) {
			vig_buf_add(b, "\xef\xbf\xbd", 3);
		} else if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			vig_buf_add(b, esc, 2);
		} else if (c == '\n') {
			vig_buf_add(b, "\\n", 2);
		} else if (c == '\r') {
			vig_buf_add(b, "\\r", 2);
		} else if (c == '\t') {
			vig_buf_add(b, "\\t", 2);
		} else {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			vig_buf_add(b, esc, 6);
		}
		i++;
	}
	vig_buf_add(b, p + i - run, run);
	return vig_buf_addc(b, '"');
}

char *vig_buf_take(struct vig_buf *b, size_t *len)
{
	char *p = b->data;

	if (len)
		*len = b->len;
	if (!p && b->err == VIG_OK)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
