/*
 * fleet.c - opening the fleet: the configuration, the CA, and the SQL helpers the other files
 * of the module share. The fleet's tables (agents, enroll_tokens, agent_inventory,
 * agent_actions) come from the control DB's migrations (src/auth/db.c).
 */
#include "fleet_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

void vig_fleet_config_default(struct vig_fleet_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cert_days = 365;
	c->heartbeat_s = 30;
	c->action_timeout_s = 3600;
	c->max_upload_bytes = 256LL << 20;
}

struct vig_fleet *vig_fleet_open(struct vig_db *db, const char *ca_dir,
				 const struct vig_fleet_config *cfg, char *errbuf)
{
	struct vig_fleet *f = calloc(1, sizeof(*f));

	if (!f) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	f->db = db;
	f->cfg = *cfg;
	if (vig_fleet_ca_load(f, ca_dir, errbuf) != VIG_OK)
		goto out_free;
	return f;
out_free:
	vig_fleet_free(f);
	return NULL;
}

void vig_fleet_free(struct vig_fleet *f)
{
	if (!f)
		return;
	vig_fleet_ca_release(f);
	free(f);
}

const struct vig_fleet_config *vig_fleet_config(const struct vig_fleet *f)
{
	return &f->cfg;
}

void vig_fleet_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

const char *vig_fleet_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

void vig_fleet_col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
	snprintf(out, cap, "%s", vig_fleet_col_text(st, i));
}

enum vig_err vig_fleet_step_row(sqlite3_stmt *st)
{
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		return VIG_OK;
	case SQLITE_DONE:
		return VIG_ENOTFOUND;
	default:
		return VIG_EIO;
	}
}

json_t *vig_fleet_json_time(int64_t ns)
{
	char buf[64];

	if (ns <= 0)
		return json_null();
	vig_time_format(ns, buf);
	return json_string(buf);
}

enum vig_err vig_fleet_agent_tenant(sqlite3 *h, const char *agent_id, char tenant[VIG_NAME_MAX],
				    bool *revoked)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	tenant[0] = '\0';
	if (sqlite3_prepare_v2(h, "SELECT tenant_id, status FROM agents WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return VIG_EIO;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	err = vig_fleet_step_row(st);
	if (err == VIG_OK) {
		vig_fleet_col_copy(st, 0, tenant, VIG_NAME_MAX);
		if (revoked)
			*revoked = strcmp(vig_fleet_col_text(st, 1), "revoked") == 0;
	}
	sqlite3_finalize(st);
	return err;
}
