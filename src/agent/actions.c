/*
 * actions.c - dispatch of vigil-agent's response actions (docs/agent-protocol.md, "Response
 * actions"): a table from type name to the function that runs it, the parameter readers every
 * action validates its input with, and one log line per action run (id, type, outcome, time).
 *
 * Parameters are checked before anything is touched: unknown keys, wrong types, values out of
 * range and relative paths are refused with the reason, which the transport sends back as the
 * result's "error". The actions themselves live in act_*.c and inventory.c.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "act_int.h"
#include "common/log.h"
#include "common/vtime.h"

struct vig_act_type {
	const char *name;
	vig_act_fn *run;
};

static vig_act_fn vig_act_inventory;

static const struct vig_act_type vig_act_types[] = {
	{"kill", vig_act_kill},
	{"quarantine", vig_act_quarantine},
	{"restore", vig_act_unquarantine},
	{"isolate", vig_act_isolate},
	{"release", vig_act_release},
	{"block", vig_act_block},
	{"unblock", vig_act_unblock},
	{"collect", vig_act_collect},
	{"query", vig_act_query},
	{"yara", vig_act_yara},
	{"inventory", vig_act_inventory},
	{"fim_accept", vig_act_fim_accept},
};

static enum vig_err vig_act_inventory(const struct vig_action_env *env, const char *action_id,
				      json_t *params, json_t **result, char *errbuf)
{
	static const char *const known[] = {NULL};
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err != VIG_OK)
		return err;
	*result = vig_inventory_collect(errbuf);
	return *result ? VIG_OK : VIG_EIO;
}

/* Action ids reach log lines: keep them to a safe alphabet. */
static bool vig_act_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
		      c == '_'))
			return false;
	}
	return true;
}

enum vig_err vig_action_run(const struct vig_action_env *env, const char *action_id, const char *type,
			    json_t *params, json_t **result, char *errbuf)
{
	const struct vig_act_type *t = NULL;
	char local_err[VIG_ERRBUF_SIZE];
	json_t *empty = NULL;
	int64_t t0 = vig_time_mono();
	enum vig_err err;

	*result = NULL;
	if (!errbuf)
		errbuf = local_err; /* the actions write their reason unconditionally */
	errbuf[0] = 0;
	if (!env || !action_id || !type)
		return vig_errf(errbuf, VIG_EINVAL, "missing action id or type");
	if (!vig_act_id_ok(action_id))
		return vig_errf(errbuf, VIG_EINVAL, "invalid action id");
	for (size_t i = 0; i < VIG_ARRAY_LEN(vig_act_types); i++)
		if (strcmp(vig_act_types[i].name, type) == 0)
			t = &vig_act_types[i];
	if (!t) {
		vig_warn("actions", "action refused", "action_id=%s reason=\"unsupported action type\"", action_id);
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "unsupported action type");
	}
	if (!params) {
		empty = json_object();
		if (!empty)
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		params = empty;
	}
	if (!json_is_object(params)) {
		err = vig_errf(errbuf, VIG_EINVAL, "params must be an object");
		goto out_log;
	}
	vig_info("actions", "action started", "action_id=%s type=%s", action_id, t->name);
	err = t->run(env, action_id, params, result, errbuf);
	if (err == VIG_OK && !*result)
		err = vig_errf(errbuf, VIG_EINTERNAL, "action returned no result");
out_log:
	if (err == VIG_OK) {
		vig_info("actions", "action succeeded", "action_id=%s type=%s duration_ms=%lld", action_id, t->name,
			 (long long)((vig_time_mono() - t0) / 1000000));
	} else {
		json_decref(*result);
		*result = NULL;
		vig_warn("actions", "action failed", "action_id=%s type=%s code=\"%s\" error=\"%s\"", action_id,
			 t->name, vig_strerror(err), errbuf ? errbuf : "");
	}
	json_decref(empty);
	return err;
}

enum vig_err vig_action_restore(const struct vig_action_env *env, char *errbuf)
{
	if (!env || !env->state_dir)
		return vig_errf(errbuf, VIG_EINVAL, "missing state directory");
	return vig_act_isolation_restore(env, errbuf);
}

/* ---- parameters ---- */

enum vig_err vig_act_param_only(json_t *params, const char *const *known, char *errbuf)
{
	const char *key;
	json_t *v;

	json_object_foreach(params, key, v) {
		bool ok = false;

		(void)v;
		for (size_t i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				ok = true;
		if (!ok)
			return vig_errf(errbuf, VIG_EINVAL, "unknown parameter %.64s", key);
	}
	return VIG_OK;
}

enum vig_err vig_act_param_str(json_t *params, const char *key, bool required, size_t max_len,
			       const char **out, char *errbuf)
{
	json_t *v = json_object_get(params, key);

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return vig_errf(errbuf, VIG_EINVAL, "missing parameter %s", key);
		return VIG_OK;
	}
	if (!json_is_string(v))
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be a string", key);
	if (json_string_length(v) == 0)
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s is empty", key);
	if (json_string_length(v) > max_len)
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s is longer than %zu bytes", key, max_len);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s holds a nul byte", key);
	*out = json_string_value(v);
	return VIG_OK;
}

enum vig_err vig_act_param_int(json_t *params, const char *key, int64_t min, int64_t max, int64_t def,
			       int64_t *out, char *errbuf)
{
	json_t *v = json_object_get(params, key);
	int64_t x;

	*out = def;
	if (!v || json_is_null(v))
		return VIG_OK;
	if (!json_is_integer(v))
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be an integer", key);
	x = (int64_t)json_integer_value(v);
	if (x < min || x > max)
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be between %lld and %lld", key,
				(long long)min, (long long)max);
	*out = x;
	return VIG_OK;
}

enum vig_err vig_act_param_bool(json_t *params, const char *key, bool def, bool *out, char *errbuf)
{
	json_t *v = json_object_get(params, key);

	*out = def;
	if (!v || json_is_null(v))
		return VIG_OK;
	if (!json_is_boolean(v))
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be a boolean", key);
	*out = json_is_true(v);
	return VIG_OK;
}

enum vig_err vig_act_param_path(json_t *params, const char *key, const char **out, char *errbuf)
{
	enum vig_err err = vig_act_param_str(params, key, true, VIG_ACT_MAX_PATH, out, errbuf);
	const char *p;

	if (err != VIG_OK)
		return err;
	p = *out;
	if (p[0] != '/')
		return vig_errf(errbuf, VIG_EINVAL, "parameter %s must be an absolute path", key);
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if ((n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
			return vig_errf(errbuf, VIG_EINVAL, "parameter %s must not hold . or .. components", key);
		p += n;
	}
	return VIG_OK;
}

/* ---- helpers ---- */

enum vig_err vig_act_sha256_fd(int fd, uint64_t max_bytes, char out[65], char *errbuf)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[65536], h[32];
	unsigned int hl = 0;
	uint64_t total = 0;
	enum vig_err err = VIG_OK;
	ssize_t n;

	out[0] = 0;
	if (!md)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		err = vig_errf(errbuf, VIG_EINTERNAL, "sha256 unavailable");
		goto out_free_md;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = vig_errf(errbuf, VIG_EIO, "read: %s", strerror(errno));
			goto out_free_md;
		}
		total += (uint64_t)n;
		if (total > max_bytes) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "file is larger than %llu bytes",
				       (unsigned long long)max_bytes);
			goto out_free_md;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
	}
	EVP_DigestFinal_ex(md, h, &hl);
	vig_hex(h, 32, out);
out_free_md:
	EVP_MD_CTX_free(md);
	return err;
}

json_t *vig_act_time_json(int64_t sec, int64_t nsec)
{
	char s[VIG_TIME_STRLEN];

	vig_time_format(sec * VIG_NS_PER_SEC + nsec, s);
	return json_string(s);
}

enum vig_err vig_act_set(json_t *obj, const char *key, json_t *val)
{
	if (!val)
		return VIG_ENOMEM;
	return json_object_set_new(obj, key, val) == 0 ? VIG_OK : VIG_ENOMEM;
}

enum vig_err vig_act_append(json_t *arr, json_t *val)
{
	if (!val)
		return VIG_ENOMEM;
	return json_array_append_new(arr, val) == 0 ? VIG_OK : VIG_ENOMEM;
}
