/*
 * act_collect.c - the "collect" response action: sends a regular file to the server through
 * the environment's upload callback (PUT /api/v1/agent/actions/{id}/upload), in chunks of at
 * most 1 MiB, in order, the last one flagged final with the SHA-256 of everything sent.
 *
 * The file is read once: the hash covers exactly the bytes uploaded, even if the file changes
 * meanwhile. One chunk is read ahead so that the final flag rides on the last data chunk (an
 * empty file is one empty final chunk). A file larger than max_bytes (default 100 MiB, at most
 * 1 GiB) is refused before anything is sent, and one that grows past it while being read aborts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "act_int.h"

/* Reads up to cap bytes (fewer only at end of file). */
static enum vig_err vig_collect_read(int fd, unsigned char *buf, size_t cap, size_t *got, char *errbuf)
{
	*got = 0;
	while (*got < cap) {
		ssize_t n = read(fd, buf + *got, cap - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vig_errf(errbuf, VIG_EIO, "read: %s", strerror(errno));
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return VIG_OK;
}

enum vig_err vig_act_collect(const struct vig_action_env *env, const char *action_id, json_t *params,
			     json_t **result, char *errbuf)
{
	static const char *const known[] = {"path", "max_bytes", NULL};
	unsigned char *cur = NULL, *next = NULL, h[32];
	EVP_MD_CTX *md = NULL;
	const char *path;
	char hex[65];
	uint64_t offset = 0;
	unsigned int hl = 0;
	size_t n_cur, n_next;
	int64_t max_bytes;
	struct stat st;
	enum vig_err err;
	int fd = -1;

	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_path(params, "path", &path, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "max_bytes", 1, (int64_t)VIG_ACT_COLLECT_MAX_BYTES,
					(int64_t)VIG_ACT_COLLECT_DEFAULT_BYTES, &max_bytes, errbuf);
	if (err != VIG_OK)
		return err;
	if (!env->upload)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "this agent cannot upload files");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = vig_errf(errbuf, VIG_EINVAL, "%s is not a regular file", path);
		goto out_free;
	}
	if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
		err = vig_errf(errbuf, VIG_ETOOBIG, "%s has %lld bytes, more than max_bytes %lld", path,
			       (long long)st.st_size, (long long)max_bytes);
		goto out_free;
	}
	cur = malloc(VIG_ACT_CHUNK_BYTES);
	next = malloc(VIG_ACT_CHUNK_BYTES);
	md = EVP_MD_CTX_new();
	if (!cur || !next || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	err = vig_collect_read(fd, cur, VIG_ACT_CHUNK_BYTES, &n_cur, errbuf);
	for (;;) {
		bool final;

		if (err != VIG_OK)
			goto out_free;
		if (offset + n_cur > (uint64_t)max_bytes) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "%s grew past max_bytes while being read", path);
			goto out_free;
		}
		n_next = 0;
		if (n_cur == VIG_ACT_CHUNK_BYTES) {
			err = vig_collect_read(fd, next, VIG_ACT_CHUNK_BYTES, &n_next, errbuf);
			if (err != VIG_OK)
				goto out_free;
		}
		final = n_next == 0;
		EVP_DigestUpdate(md, cur, n_cur);
		if (final) {
			EVP_DigestFinal_ex(md, h, &hl);
			vig_hex(h, 32, hex);
		}
		errbuf[0] = 0;
		err = env->upload(env->upload_arg, action_id, offset,
				  VIG_MAX((uint64_t)st.st_size, offset + n_cur), /* it may have grown */
				  cur, n_cur, final, final ? hex : NULL, errbuf);
		if (err != VIG_OK) {
			if (!errbuf[0])
				vig_errf(errbuf, err, "upload failed at offset %llu", (unsigned long long)offset);
			goto out_free;
		}
		offset += n_cur;
		if (final)
			break;
		{
			unsigned char *t = cur;

			cur = next;
			next = t;
			n_cur = n_next;
		}
	}
	*result = json_pack("{s:s, s:I}", "sha256", hex, "size", (json_int_t)offset);
	if (!*result)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	EVP_MD_CTX_free(md);
	free(cur);
	free(next);
	close(fd);
	return err;
}
