/*
 * cmds_rules.h - vigilctl's rule-engineering and hunting commands (cmds_rules.c): rules
 * validate / test / import / enable / disable and hunt run / show / cancel / list.
 */
#ifndef VIG_CTL_CMDS_RULES_H
#define VIG_CTL_CMDS_RULES_H

#include <stdio.h>

#include <jansson.h>

#include "ctl.h"
#include "http.h"

/* Runs one of the commands above (a->cmd->id) over an open client (with its token), printing
 * results to out and messages to err. Returns the exit status (enum vig_ctl_exit). */
int vig_ctl_cmds_detectx(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
			 FILE *err);

#endif
