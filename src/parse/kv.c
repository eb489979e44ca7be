/*
 * kv.c - the generic formats: a JSON object in event-model names (through the event module's
 * JSON codec, so ECS documents round-trip), and key=value lines ('a=1 b="two words"
 * c='x\'y''), where keys that name a core field set it (converted to its type) and the others
 * become extension strings. Backslash escapes in quoted values are resolved.
 */
#include "../event/event_json.h"
#include "parse_int.h"

enum vig_err vig_parse_json(struct vig_parse_ctx *ctx, const char *line, size_t len,
			    struct vig_event *ev, char *errbuf)
{
	char eb[VIG_ERRBUF_SIZE];
	enum vig_err rc;

	PTRY(pbegin(ctx, VIG_PARSER_JSON, line, len, ev, errbuf));
	/* The codec fills the event from scratch; keep the raw text unless it carried one. */
	rc = vig_event_from_json(ev, line, len, NULL, eb);
	if (rc != VIG_OK)
		return pfail(ctx, VIG_PARSER_JSON, rc == VIG_ETOOBIG ? VIG_PR_TOO_LONG : VIG_PR_JSON,
			     errbuf, "json: %s", eb);
	if (!vig_event_get(ev, VIG_F_MESSAGE))
		PTRY(vig_event_set_str(ev, VIG_F_MESSAGE, line, VIG_MIN(len, (size_t)VIG_EVENT_MAX_STR)));
	if (!vig_event_get(ev, VIG_F_EVENT_DATASET))
		PTRY(pconst(ev, VIG_F_EVENT_DATASET, "json"));
	if (!vig_event_get(ev, VIG_F_EVENT_KIND))
		PTRY(pconst(ev, VIG_F_EVENT_KIND, "event"));
	return pdone(ctx, VIG_PARSER_JSON, true);
}

/* Resolves \x escapes of a quoted value into the arena. */
static const char *unescape(struct vig_event *ev, struct pspan v, size_t *out_n)
{
	char *o = vig_arena_alloc(ev->arena, v.n + 1);
	size_t k = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < v.n; i++) {
		char c = v.p[i];
		if (c == '\\' && i + 1 < v.n) {
			c = v.p[++i];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
		}
		o[k++] = c;
	}
	o[k] = '\0';
	*out_n = k;
	return o;
}

/* Keys are names: letters, digits and _ . - @ [ ] only (no NUL or control bytes). */
static bool key_ok(struct pspan k)
{
	if (k.n == 0 || k.n > VIG_EVENT_MAX_KEY)
		return false;
	for (size_t i = 0; i < k.n; i++) {
		char c = k.p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || ps_digit(c) || c == '_' ||
		      c == '.' || c == '-' || c == '@' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

enum vig_err vig_parse_kv(struct vig_parse_ctx *ctx, const char *line, size_t len,
			  struct vig_event *ev, char *errbuf)
{
	struct pspan k, v;
	size_t pos = 0, count = 0, bad = 0;
	bool q;

	PTRY(pbegin(ctx, VIG_PARSER_KV, line, len, ev, errbuf));
	while (pkv_next(line, len, &pos, &k, &v, &q)) {
		const char *val = v.p;
		size_t vn = v.n;
		if (!key_ok(k)) {
			bad++;
			continue;
		}
		if (q && memchr(v.p, '\\', v.n)) {
			val = unescape(ev, v, &vn);
			if (!val)
				return pfail(ctx, VIG_PARSER_KV, VIG_PR_TOO_LONG, errbuf, "event arena full");
		}
		enum vig_err rc = vig_event_set_by_name(ev, k.p, k.n, val, vn);
		if (rc == VIG_ETOOBIG)
			return pfail(ctx, VIG_PARSER_KV, VIG_PR_TOO_LONG, errbuf, "event arena full");
		if (rc != VIG_OK)
			bad++;
		else
			count++;
	}
	if (count == 0)
		return pfail(ctx, VIG_PARSER_KV, VIG_PR_FRAMING, errbuf, "no key=value pairs");
	if (bad)
		PTRY(vig_event_ext_int(ev, "kv.rejected", (int64_t)bad));
	if (!vig_event_get(ev, VIG_F_EVENT_DATASET))
		PTRY(pconst(ev, VIG_F_EVENT_DATASET, "kv"));
	if (!vig_event_get(ev, VIG_F_EVENT_KIND))
		PTRY(pconst(ev, VIG_F_EVENT_KIND, "event"));
	return pdone(ctx, VIG_PARSER_KV, true);
}
