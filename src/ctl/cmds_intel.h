/*
 * cmds_intel.h - vigilctl's threat-intelligence and ATT&CK commands (cmds_intel.c,
 * docs/intel.md): `intel feeds|add|refresh|lookup` and `attack coverage`.
 */
#ifndef VIG_CTL_CMDS_INTEL_H
#define VIG_CTL_CMDS_INTEL_H

#include <stdio.h>

#include "ctl.h"
#include "http.h"

/* Runs one of VIG_CTL_CMD_INTEL_* / VIG_CTL_CMD_ATTACK_COVERAGE over an open client with its
 * token, printing results to out and messages to err. Returns the exit status
 * (enum vig_ctl_exit). */
int vig_ctl_cmds_intel(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
		       FILE *err);

#endif
