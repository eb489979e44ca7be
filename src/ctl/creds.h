/*
 * creds.h - the credentials file of vigilctl: the server URL and API token stored by
 * `vigilctl login`, in $XDG_CONFIG_HOME/vigil/credentials (default ~/.config/vigil/credentials),
 * mode 0600 in a 0700 directory.
 *
 * Format: "key=value" lines (url, token, token_id, cacert, insecure); '#' starts a comment;
 * unknown keys are ignored so that older clients read newer files.
 */
#ifndef VIG_CTL_CREDS_H
#define VIG_CTL_CREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/vig.h"

#define VIG_CTL_CREDS_MAX_BYTES 16384 /* most bytes of a credentials file */

struct vig_ctl_creds {
	char url[1024];     /* server URL, or "" */
	char token[512];    /* API token, or "" */
	char token_id[128]; /* the token's id on the server (for logout), or "" */
	char cacert[1024];  /* CA file used at login, or "" */
	bool insecure;      /* login skipped certificate verification */
};

/* Writes the credentials path into out (n bytes). VIG_ENOTFOUND without HOME. */
enum vig_err vig_ctl_creds_path(char *out, size_t n, char *errbuf);
/* Reads path into c (cleared first). VIG_ENOTFOUND if the file does not exist, VIG_EPARSE on a
 * malformed or oversized file. A file readable by others gets a warning on stderr. */
enum vig_err vig_ctl_creds_load(const char *path, struct vig_ctl_creds *c, char *errbuf);
/* Writes c to path atomically (temporary file + rename), mode 0600, creating the parent
 * directory with mode 0700 when missing. */
enum vig_err vig_ctl_creds_save(const char *path, const struct vig_ctl_creds *c, char *errbuf);
/* Removes the file at path; VIG_OK if it did not exist. */
enum vig_err vig_ctl_creds_remove(const char *path, char *errbuf);

#endif
