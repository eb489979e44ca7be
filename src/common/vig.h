/*
 * vig.h - definitions every Vigil module shares: the error enum, small helpers.
 *
 * Errors are one append-only enum. Actions return enum vig_err (VIG_OK on success),
 * predicates return bool, constructors return NULL on failure. Detail for a human goes
 * to a caller-supplied error buffer of VIG_ERRBUF_SIZE bytes.
 */
#ifndef VIG_H
#define VIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VIG_VERSION "0.1.0"
#define VIG_ERRBUF_SIZE 256

/* Always add new codes last. Never remove or renumber one: they reach logs and API clients. */
enum vig_err {
	VIG_OK = 0,
	VIG_ENOMEM,       /* out of memory */
	VIG_EINVAL,       /* invalid argument or input */
	VIG_ETOOBIG,      /* input over a configured limit */
	VIG_EPARSE,       /* malformed input */
	VIG_ENOTFOUND,    /* no such object (also what another tenant's object looks like) */
	VIG_EEXIST,       /* object already exists */
	VIG_EIO,          /* I/O or storage failure */
	VIG_EPERM,        /* authenticated but not allowed */
	VIG_EAUTH,        /* not authenticated */
	VIG_EBUSY,        /* queue full, try again later */
	VIG_ECONFLICT,    /* state does not allow the operation */
	VIG_EUNSUPPORTED, /* feature not supported here */
	VIG_ETIMEOUT,     /* gave up waiting */
	VIG_EINTERNAL,    /* an invariant failed: a bug */
	VIG_ERR__COUNT
};

/* Static string naming the error ("out of memory"); never NULL. */
const char *vig_strerror(enum vig_err err);

/* Writes a formatted message into errbuf (VIG_ERRBUF_SIZE bytes) when errbuf is not NULL,
 * and returns err so that callers can write `return vig_errf(errbuf, VIG_EINVAL, "...")`. */
enum vig_err vig_errf(char *errbuf, enum vig_err err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define VIG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define VIG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define VIG_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VIG_UNUSED __attribute__((unused))

/* Parses a base-10 signed integer that spans the whole of [s, s+n). */
bool vig_parse_i64(const char *s, size_t n, int64_t *out);
/* Parses a base-10 unsigned integer that spans the whole of [s, s+n). */
bool vig_parse_u64(const char *s, size_t n, uint64_t *out);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void vig_hex(const uint8_t *in, size_t n, char *out);
/* Fills buf with n cryptographically random bytes; VIG_EIO if the kernel refuses. */
enum vig_err vig_random(void *buf, size_t n);
/* SHA-256 of n bytes into out[32]. */
void vig_sha256(const void *data, size_t n, uint8_t out[32]);
/* Constant-time comparison of n bytes. */
bool vig_ct_equal(const void *a, const void *b, size_t n);

/* Creates path for writing, failing if it exists (O_EXCL), with the given mode (e.g. 0600 for
 * keys); close-on-exec. NULL with errbuf ("cannot create PATH: reason") on failure. */
FILE *vig_file_create(const char *path, unsigned mode, char *errbuf);

#endif /* VIG_H */
