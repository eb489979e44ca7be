/*
 * batch.c - what the server does to an agent's event batch before the common ingest path:
 * undo the zstd frame (bounded: a small frame must not expand without limit). The ingest
 * writer then sets every event's agent.id to the sending agent's, whatever the event said
 * (an agent speaks only for itself; src/server/ingest.c).
 */
#include "fleet_int.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

enum vig_err vig_fleet_zstd_decompress(const void *src, size_t n, size_t max, char **out,
				       size_t *out_n, char *errbuf)
{
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	ZSTD_inBuffer in = {src, n, 0};
	size_t cap = n * 4 + 4096, ret = 1;
	enum vig_err err = VIG_OK;
	char *buf = NULL, *nb;
	ZSTD_outBuffer ob;

	*out = NULL;
	*out_n = 0;
	if (!dc)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	ob = (ZSTD_outBuffer){buf, cap, 0};
	while (ret != 0) {
		if (in.pos == in.size && ob.pos < ob.size) {
			err = vig_errf(errbuf, VIG_EINVAL, "zstd: truncated frame");
			goto out_free;
		}
		ret = ZSTD_decompressStream(dc, &ob, &in);
		if (ZSTD_isError(ret)) {
			err = vig_errf(errbuf, VIG_EINVAL, "zstd: %s", ZSTD_getErrorName(ret));
			goto out_free;
		}
		if (ob.pos > max) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "decompressed batch larger than %zu bytes", max);
			goto out_free;
		}
		if (ret != 0 && ob.pos == ob.size) {
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
				goto out_free;
			}
			buf = nb;
			ob.dst = buf;
			ob.size = cap;
		}
	}
	if (in.pos != in.size) {
		err = vig_errf(errbuf, VIG_EINVAL, "zstd: expected exactly one frame");
		goto out_free;
	}
	buf[ob.pos] = '\0';
	*out = buf;
	*out_n = ob.pos;
	buf = NULL;
out_free:
	free(buf);
	ZSTD_freeDCtx(dc);
	return err;
}
