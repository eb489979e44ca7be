/*
 * vig.c - error strings and the small helpers declared in vig.h.
 */
#include "vig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char *const vig_errstr[VIG_ERR__COUNT] = {
	[VIG_OK] = "ok",
	[VIG_ENOMEM] = "out of memory",
	[VIG_EINVAL] = "invalid argument",
	[VIG_ETOOBIG] = "over a configured limit",
	[VIG_EPARSE] = "malformed input",
	[VIG_ENOTFOUND] = "not found",
	[VIG_EEXIST] = "already exists",
	[VIG_EIO] = "i/o error",
	[VIG_EPERM] = "permission denied",
	[VIG_EAUTH] = "authentication required",
	[VIG_EBUSY] = "busy, try again later",
	[VIG_ECONFLICT] = "conflict with current state",
	[VIG_EUNSUPPORTED] = "not supported",
	[VIG_ETIMEOUT] = "timed out",
	[VIG_EINTERNAL] = "internal error",
};

const char *vig_strerror(enum vig_err err)
{
	if ((unsigned)err >= VIG_ERR__COUNT)
		return "unknown error";
	return vig_errstr[err];
}

enum vig_err vig_errf(char *errbuf, enum vig_err err, const char *fmt, ...)
{
	va_list ap;

	if (!errbuf)
		return err;
	va_start(ap, fmt);
	vsnprintf(errbuf, VIG_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
	return err;
}

bool vig_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool vig_parse_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t v;
	bool neg = false;

	if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		s++;
		n--;
	}
	if (!vig_parse_u64(s, n, &v))
		return false;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

void vig_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

enum vig_err vig_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return VIG_EIO;
		}
		p += got;
		n -= (size_t)got;
	}
	return VIG_OK;
}

void vig_sha256(const void *data, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	EVP_Digest(data, n, out, &len, EVP_sha256(), NULL);
}

bool vig_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

FILE *vig_file_create(const char *path, unsigned mode, char *errbuf)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
	FILE *fp;

	if (fd < 0) {
		vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", path, strerror(errno));
		return NULL;
	}
	fp = fdopen(fd, "w");
	if (!fp) {
		close(fd);
		vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", path, strerror(errno));
	}
	return fp;
}
