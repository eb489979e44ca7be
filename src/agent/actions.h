/*
 * actions.h - the response actions and the inventory of vigil-agent (library vigagent).
 *
 * The transport (long poll of GET /api/v1/agent/actions) hands each action to vig_action_run(),
 * which validates the parameters, runs the action and returns the result object that goes to
 * POST /api/v1/agent/actions/{id}/result. Types and parameters are the ones of
 * docs/agent-protocol.md ("Response actions"):
 *
 *   kill        act_kill.c        signal a pid or a process tree (children first)
 *   quarantine  act_quarantine.c  move a file into STATE/quarantine/<id>/ with its metadata
 *   restore                       put a quarantined file back
 *   isolate     act_netfilter.c   nftables table "inet vigil": only server, DNS, loopback, allow
 *   release                       delete that table
 *   block       act_netfilter.c   sets of table "inet vigil_block" (independent of isolation)
 *   unblock
 *   collect     act_collect.c     send a file through the upload callback, ≤ 1 MiB chunks
 *   query       act_query.c       processes, connections, listening, logins, users, groups,
 *                                 file, modules (bounded rows with a truncated flag)
 *   yara        act_yara.c        scan a file, a directory or a process image with libyara
 *   inventory   inventory.c       the inventory document
 *   fim_accept  fim.c             accept the current state of a path (or all) as FIM baseline
 *
 * Every action run is logged (logfmt) with its id, type and outcome.
 */
#ifndef VIG_AGENT_ACTIONS_H
#define VIG_AGENT_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/vig.h"

/* Sends one chunk of a collect action's file: n bytes at offset (chunks in order, n ≤ 1 MiB)
 * of a file of total bytes (its size when the collection began, for the server's progress);
 * the last call has final set and sha256_hex (64 hex digits) of the whole file, and may carry
 * n = 0. Returns VIG_OK when the server took the chunk; anything else aborts the action with
 * errbuf as the reason. */
typedef enum vig_err vig_action_upload_fn(void *arg, const char *action_id, uint64_t offset,
					  uint64_t total, const void *data, size_t n, bool final,
					  const char *sha256_hex, char *errbuf);

struct vig_fim;

/* What the actions need from the agent. */
struct vig_action_env {
	const char *state_dir;        /* the agent's state directory (quarantine/, isolation.json) */
	const char *server_host;      /* vigild's host name or address (kept reachable by isolate) */
	int server_port;              /* vigild's port */
	vig_action_upload_fn *upload; /* collect's sender; NULL: collect fails */
	void *upload_arg;             /* passed to upload */
	struct vig_fim *fim;          /* file-integrity monitor (fim.h) for fim_accept; NULL: none */
};

/* Runs the action id of type with params (a JSON object, or NULL for {}). On VIG_OK *result is
 * a new reference to the result object; on failure *result is NULL and errbuf holds the reason
 * that goes into the result's "error" (VIG_EUNSUPPORTED: "unsupported action type",
 * VIG_EINVAL: bad parameters). */
enum vig_err vig_action_run(const struct vig_action_env *env, const char *action_id, const char *type,
			    json_t *params, json_t **result, char *errbuf);

/* At agent start: re-applies the isolation kept in STATE/isolation.json (nothing when absent).
 * VIG_OK when there was nothing to do or it was applied. */
enum vig_err vig_action_restore(const struct vig_action_env *env, char *errbuf);

/* The inventory document of docs/agent-protocol.md with its "hash"; NULL with errbuf set. */
json_t *vig_inventory_collect(char *errbuf);

#endif /* VIG_AGENT_ACTIONS_H */
