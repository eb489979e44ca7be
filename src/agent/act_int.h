/*
 * act_int.h - what the response-action files share inside vigagent (not part of the contract
 * of actions.h): one entry point per action, parameter readers, hashing, and the row
 * collectors that the query action and the inventory both use.
 *
 * Every action function has the signature of vig_act_fn: params is a JSON object (never
 * NULL), *result is set to a new object on VIG_OK, errbuf holds the reason otherwise.
 */
#ifndef VIG_AGENT_ACT_INT_H
#define VIG_AGENT_ACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "actions.h"

#define VIG_ACT_CHUNK_BYTES (1u << 20)             /* collect upload chunk */
#define VIG_ACT_COLLECT_MAX_BYTES (1ull << 30)     /* collect max_bytes ceiling */
#define VIG_ACT_COLLECT_DEFAULT_BYTES (100ull << 20) /* collect max_bytes default */
#define VIG_ACT_HASH_MAX_BYTES (1ull << 30)        /* files larger are not hashed by query */
#define VIG_ACT_ROWS_DEFAULT 5000                  /* query rows when max_rows is absent */
#define VIG_ACT_ROWS_MAX 100000                    /* query max_rows ceiling */
#define VIG_ACT_KILL_MAX 4096                      /* processes one kill may signal */
#define VIG_ACT_MAX_ALLOW 256                      /* isolate allow entries */
#define VIG_ACT_MAX_PATH 4096                      /* path parameters */

typedef enum vig_err vig_act_fn(const struct vig_action_env *env, const char *action_id, json_t *params,
				json_t **result, char *errbuf);

vig_act_fn vig_act_kill;
vig_act_fn vig_act_quarantine;
vig_act_fn vig_act_unquarantine;
vig_act_fn vig_act_isolate;
vig_act_fn vig_act_release;
vig_act_fn vig_act_block;
vig_act_fn vig_act_unblock;
vig_act_fn vig_act_collect;
vig_act_fn vig_act_query;
vig_act_fn vig_act_yara;
vig_act_fn vig_act_fim_accept; /* fim.c */

/* Re-applies STATE/isolation.json (act_netfilter.c); VIG_OK when absent. */
enum vig_err vig_act_isolation_restore(const struct vig_action_env *env, char *errbuf);

/* ---- parameters (actions.c) ---- */

/* String parameter key: *out is NULL when absent and not required. VIG_EINVAL with a reason
 * when required and absent, not a string, empty, longer than max_len or holding a NUL. */
enum vig_err vig_act_param_str(json_t *params, const char *key, bool required, size_t max_len,
			       const char **out, char *errbuf);
/* Integer parameter in [min, max]; *out = def when absent. */
enum vig_err vig_act_param_int(json_t *params, const char *key, int64_t min, int64_t max, int64_t def,
			       int64_t *out, char *errbuf);
/* Boolean parameter; *out = def when absent. */
enum vig_err vig_act_param_bool(json_t *params, const char *key, bool def, bool *out, char *errbuf);
/* Refuses keys of params not in the NULL-terminated list known. */
enum vig_err vig_act_param_only(json_t *params, const char *const *known, char *errbuf);
/* An absolute path parameter (no "..", no empty components), required. */
enum vig_err vig_act_param_path(json_t *params, const char *key, const char **out, char *errbuf);

/* ---- helpers (actions.c) ---- */

/* SHA-256 (hex) of what remains to be read from fd, at most max_bytes (VIG_ETOOBIG past). */
enum vig_err vig_act_sha256_fd(int fd, uint64_t max_bytes, char out[65], char *errbuf);
/* RFC 3339 string of epoch seconds+ns as a new JSON string. */
json_t *vig_act_time_json(int64_t sec, int64_t nsec);
/* json_array_append_new / json_object_set_new that turn a failure into VIG_ENOMEM. */
enum vig_err vig_act_set(json_t *obj, const char *key, json_t *val);
enum vig_err vig_act_append(json_t *arr, json_t *val);

/* ---- row collectors (act_query.c), also used by the inventory ---- */

/* Where the row collectors read; a NULL struct or NULL member means the system's file. */
struct vig_act_roots {
	const char *proc; /* "/proc" */
	const char *etc;  /* "/etc" (passwd, group) */
	const char *utmp; /* "/var/run/utmp" */
};

/* Rows of one query kind ("processes", "connections", "listening", "logins", "users",
 * "groups", "modules") into a new array *rows, at most max_rows; *truncated set when rows were
 * left out. VIG_EINVAL for an unknown kind. */
enum vig_err vig_act_rows(const char *what, const struct vig_act_roots *roots, size_t max_rows, json_t **rows,
			  bool *truncated, char *errbuf);

#endif /* VIG_AGENT_ACT_INT_H */
