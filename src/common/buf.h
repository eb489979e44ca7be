/*
 * buf.h - a growable byte buffer with a size limit (like curl's dynbuf).
 *
 * Appends fail with VIG_ETOOBIG once the content would exceed toobig bytes, and with
 * VIG_ENOMEM when memory runs out; after either failure the buffer is freed and empty,
 * so a writer may append freely and check the result once at the end via vig_buf_err().
 * The content is always NUL-terminated.
 */
#ifndef VIG_BUF_H
#define VIG_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "vig.h"

struct vig_buf {
	char *data;       /* content, NUL-terminated, or NULL when empty */
	size_t len;       /* bytes of content */
	size_t cap;       /* bytes allocated */
	size_t toobig;    /* the content never reaches this many bytes */
	enum vig_err err; /* first failure since init/reset, VIG_OK if none */
};

void vig_buf_init(struct vig_buf *b, size_t toobig);
void vig_buf_release(struct vig_buf *b);
/* Empties the buffer (keeps its memory) and clears the error. */
void vig_buf_reset(struct vig_buf *b);
enum vig_err vig_buf_add(struct vig_buf *b, const void *p, size_t n);
enum vig_err vig_buf_adds(struct vig_buf *b, const char *s);
enum vig_err vig_buf_addc(struct vig_buf *b, char c);
enum vig_err vig_buf_printf(struct vig_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum vig_err vig_buf_vprintf(struct vig_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal, quotes included, escaping what JSON requires.
 * Invalid UTF-8 bytes are replaced with U+FFFD so that output is always valid JSON. */
enum vig_err vig_buf_add_json_str(struct vig_buf *b, const char *s, size_t n);
/* Hands the content to the caller (free() it) and leaves the buffer empty. */
char *vig_buf_take(struct vig_buf *b, size_t *len);
static inline enum vig_err vig_buf_err(const struct vig_buf *b) { return b->err; }

#endif
