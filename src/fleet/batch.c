/*
 * batch.c - what the server does to an agent's event batch before the common ingest path:
 * undo the zstd frame (bounded: a small frame must not expand without limit) and stamp every
 * event with the sending agent's id, whatever the event said (an agent speaks only for itself).
 * Lines that are not JSON objects are passed through unchanged so that the ingest reports them
 * with their own line numbers; empty lines are kept for the same reason.
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

/* Appends one line with agent.id set (or unchanged when it is not a JSON object). */
static void stamp_line(const char *p, size_t len, const char *agent_id, struct vig_buf *out)
{
	json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, NULL), *agent;
	char *enc;

	if (!json_is_object(o)) {
		json_decref(o);
		vig_buf_add(out, p, len);
		return;
	}
	json_object_del(o, "agent.id");
	agent = json_object_get(o, "agent");
	if (json_is_object(agent))
		json_object_set_new(agent, "id", json_string(agent_id));
	else if (!agent || json_is_null(agent))
		json_object_set_new(o, "agent", json_pack("{s:s}", "id", agent_id));
	enc = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (enc) {
		vig_buf_adds(out, enc);
		free(enc);
	} else {
		vig_buf_add(out, p, len);
	}
}

enum vig_err vig_fleet_batch_stamp(const char *ndjson, size_t n, const char *agent_id,
				   struct vig_buf *out)
{
	const char *p = ndjson, *end = ndjson + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *s = p;

		while (s < le && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s < le)
			stamp_line(p, (size_t)(le - p), agent_id, out);
		if (nl)
			vig_buf_addc(out, '\n');
		p = nl ? nl + 1 : end;
	}
	return vig_buf_err(out);
}
