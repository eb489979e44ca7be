/*
 * cmds_logs.h - vigilctl's log-collection commands (cmds_logs.c): `replay FILE --format F
 * [--source S] [--batch-lines N]`, `sources list`, `reduction stats`.
 */
#ifndef VIG_CTL_CMDS_LOGS_H
#define VIG_CTL_CMDS_LOGS_H

#include <stdio.h>

#include "ctl.h"
#include "http.h"

#define VIG_CTL_REPLAY_BATCH_LINES 5000     /* default lines per POST /ingest/raw */
#define VIG_CTL_REPLAY_BATCH_BYTES (4u << 20) /* most body bytes per POST /ingest/raw */
#define VIG_CTL_REPLAY_HEADER_BYTES (64u << 10) /* Zeek '#' header lines repeated per batch */

/* Runs one of the commands above (a->cmd->id) over an open client (with its token), printing
 * results to out and messages to err. Returns the exit status (enum vig_ctl_exit). */
int vig_ctl_cmds_logs(const struct vig_ctl_args *a, struct vig_ctl_client *client, FILE *out,
		      FILE *err);

#endif
