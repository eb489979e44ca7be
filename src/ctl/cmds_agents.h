/*
 * cmds_agents.h - vigilctl's fleet commands: agents, enrolment tokens and response actions
 * (cmds_agents.c, docs/agent-protocol.md).
 */
#ifndef VIG_CTL_CMDS_AGENTS_H
#define VIG_CTL_CMDS_AGENTS_H

#include <stdio.h>

#include <jansson.h>

#include "ctl.h"
#include "http.h"

/* Runs one of the fleet commands (a->cmd->id: VIG_CTL_CMD_AGENTS_*, VIG_CTL_CMD_ENROLL_TOKEN_*,
 * VIG_CTL_CMD_ACTION_*) over an open client with its token, printing results to out and
 * messages to err. Returns the exit status (enum vig_ctl_exit). */
int vig_ctl_cmds_agents(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
			FILE *err);

/* The object of a command's JSON option json_opt (NULL: none) completed by every --opt K=V
 * (values that parse as JSON numbers, true, false or null keep their type, anything else is a
 * string). NULL (after printing the error, *rc the exit status) when malformed. */
json_t *vig_ctl_kv_object(const struct vig_ctl_args *a, const char *opt, const char *json_opt, FILE *err,
			  int *rc);

#endif
