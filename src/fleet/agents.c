/*
 * agents.c - the agents registry: authentication of agent certificates, heartbeats, the
 * latest inventory, listing with online/offline status, and revocation.
 *
 * Status is computed, not stored: `revoked` once revoked; else `online` when the last request
 * of the agent is at most 3 x heartbeat_s old, else `offline`. The agents row keeps the
 * columns of the first migration (hostname, os, kernel, version, sensor_mode, isolated,
 * last_seen, status 'active' | 'revoked', cert_fingerprint) and a JSON `data` holding host_id,
 * arch, the enrolment token id, revoked_at and the last heartbeat document.
 */
#include "fleet_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/vtime.h"

#define AGENT_COLS                                                                                \
	"a.id, a.tenant_id, a.hostname, a.os, a.kernel, a.version, a.sensor_mode, a.status, "    \
	"a.isolated, a.enrolled, a.last_seen, a.data, a.gateway"
#define AGENT_LIST_MAX 1000

enum vig_err vig_fleet_agent_auth(struct vig_fleet *f, const char *agent_id,
				  const char *fingerprint, char tenant[VIG_NAME_MAX], char *errbuf)
{
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EAUTH;
	sqlite3 *h;
	int rc;

	tenant[0] = '\0';
	if (!vig_fleet_agent_id_valid(agent_id))
		return vig_errf(errbuf, VIG_EAUTH, "malformed agent id");
	h = vig_db_lock(f->db);
	if (sqlite3_prepare_v2(h, "SELECT tenant_id, status, cert_fingerprint FROM agents WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot read agents");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		vig_errf(errbuf, VIG_EAUTH, "unknown agent");
	} else if (rc != SQLITE_ROW) {
		err = vig_errf(errbuf, VIG_EIO, "cannot read agents");
	} else if (strcmp(vig_fleet_col_text(st, 1), "revoked") == 0) {
		vig_errf(errbuf, VIG_EAUTH, "agent revoked");
	} else if (!fingerprint || strcmp(vig_fleet_col_text(st, 2), fingerprint) != 0) {
		vig_errf(errbuf, VIG_EAUTH, "certificate is not the agent's current one");
	} else {
		vig_fleet_col_copy(st, 0, tenant, VIG_NAME_MAX);
		err = VIG_OK;
	}
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}

enum vig_err vig_fleet_touch(struct vig_fleet *f, const char *agent_id, int64_t now)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	if (sqlite3_prepare_v2(h, "UPDATE agents SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2 - 5000000000",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) == SQLITE_DONE)
			err = VIG_OK;
	}
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}

/* A string member of o that is absent or a string of at most cap-1 bytes; false with errbuf. */
static bool opt_str(json_t *o, const char *key, size_t cap, const char **out, char *errbuf)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || json_string_length(v) >= cap) {
		vig_errf(errbuf, VIG_EINVAL, "%s: expected a string of at most %zu bytes", key, cap - 1);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

static bool check_heartbeat(json_t *hb, const char **version, const char **mode,
			    const char **hostname, int *isolated, char *errbuf)
{
	json_t *iso = json_object_get(hb, "isolated");
	static const char *const objs[] = {"probes", "counters", "spool"};

	if (!opt_str(hb, "version", 64, version, errbuf) || !opt_str(hb, "mode", 16, mode, errbuf) ||
	    !opt_str(hb, "hostname", VIG_FLEET_TEXT_MAX, hostname, errbuf))
		return false;
	/* "ebpf" is what agents before the sensor-mode probe send */
	if (*mode && strcmp(*mode, "ebpf") != 0 && strcmp(*mode, "ebpf-tracepoint") != 0 &&
	    strcmp(*mode, "ebpf-fentry") != 0 && strcmp(*mode, "ebpf-lsm") != 0 && strcmp(*mode, "fallback") != 0) {
		vig_errf(errbuf, VIG_EINVAL, "mode: expected ebpf-tracepoint, ebpf-fentry, ebpf-lsm, fallback or ebpf");
		return false;
	}
	if (iso && !json_is_boolean(iso)) {
		vig_errf(errbuf, VIG_EINVAL, "isolated: expected true or false");
		return false;
	}
	*isolated = iso ? json_is_true(iso) : -1;
	for (size_t i = 0; i < VIG_ARRAY_LEN(objs); i++) {
		json_t *v = json_object_get(hb, objs[i]);

		if (v && !json_is_object(v)) {
			vig_errf(errbuf, VIG_EINVAL, "%s: expected an object", objs[i]);
			return false;
		}
	}
	return true;
}

/* Replaces data.heartbeat of the agent's row (h locked). */
static char *merged_data(sqlite3 *h, const char *agent_id, json_t *hb)
{
	sqlite3_stmt *st = NULL;
	json_t *data = NULL;
	char *out = NULL;

	if (sqlite3_prepare_v2(h, "SELECT data FROM agents WHERE id = ?1", -1, &st, NULL) ==
		    SQLITE_OK) {
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			data = json_loads(vig_fleet_col_text(st, 0), 0, NULL);
	}
	sqlite3_finalize(st);
	if (!json_is_object(data)) {
		json_decref(data);
		data = json_object();
	}
	json_object_set(data, "heartbeat", hb);
	out = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	return out;
}

enum vig_err vig_fleet_heartbeat(struct vig_fleet *f, const char *agent_id, json_t *hb,
				 int64_t now, int64_t *pending, char *errbuf)
{
	const char *version, *mode, *hostname;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	char *enc, *data = NULL;
	int isolated;
	sqlite3 *h;

	if (!json_is_object(hb))
		return vig_errf(errbuf, VIG_EINVAL, "heartbeat: expected a JSON object");
	if (!check_heartbeat(hb, &version, &mode, &hostname, &isolated, errbuf))
		return VIG_EINVAL;
	enc = json_dumps(hb, JSON_COMPACT);
	if (!enc)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (strlen(enc) > VIG_FLEET_HEARTBEAT_MAX) {
		free(enc);
		return vig_errf(errbuf, VIG_ETOOBIG, "heartbeat larger than %d bytes",
				VIG_FLEET_HEARTBEAT_MAX);
	}
	free(enc);
	h = vig_db_lock(f->db);
	data = merged_data(h, agent_id, hb);
	if (!data ||
	    sqlite3_prepare_v2(h,
			       "UPDATE agents SET last_seen = ?2, version = coalesce(?3, version), "
			       "sensor_mode = coalesce(?4, sensor_mode), hostname = coalesce(?5, hostname), "
			       "isolated = CASE WHEN ?6 < 0 THEN isolated ELSE ?6 END, data = ?7 "
			       "WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot record the heartbeat");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, now);
	vig_fleet_bind_text(st, 3, version);
	vig_fleet_bind_text(st, 4, mode);
	vig_fleet_bind_text(st, 5, hostname);
	sqlite3_bind_int(st, 6, isolated);
	sqlite3_bind_text(st, 7, data, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot record the heartbeat");
	else if (sqlite3_changes(h) == 0)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no such agent");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	free(data);
	if (err == VIG_OK && pending)
		*pending = vig_fleet_action_pending(f, agent_id);
	return err;
}

enum vig_err vig_fleet_inventory_put(struct vig_fleet *f, const char *agent_id, const char *doc,
				     size_t n, int64_t now, bool *changed, char *errbuf)
{
	char hash[65], tenant[VIG_NAME_MAX];
	json_error_t jerr;
	json_t *v, *hv;
	uint8_t md[32];
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;

	if (changed)
		*changed = false;
	if (n > VIG_FLEET_INVENTORY_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "inventory larger than %u bytes",
				VIG_FLEET_INVENTORY_MAX);
	v = json_loadb(doc, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(v)) {
		json_decref(v);
		return vig_errf(errbuf, VIG_EINVAL, "inventory: expected a JSON object");
	}
	hv = json_object_get(v, "hash");
	if (json_is_string(hv) && json_string_length(hv) > 0 && json_string_length(hv) < 65) {
		snprintf(hash, sizeof(hash), "%s", json_string_value(hv));
	} else {
		vig_sha256(doc, n, md);
		vig_hex(md, sizeof(md), hash);
	}
	json_decref(v);
	h = vig_db_lock(f->db);
	err = vig_fleet_agent_tenant(h, agent_id, tenant, NULL);
	if (err != VIG_OK) {
		vig_errf(errbuf, err, "no such agent");
		goto out_unlock;
	}
	if (sqlite3_prepare_v2(h,
			       "INSERT INTO agent_inventory (agent_id, tenant_id, doc, hash, changed, "
			       "received) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (agent_id) DO "
			       "UPDATE SET doc = excluded.doc, received = excluded.received, changed = "
			       "CASE WHEN hash = excluded.hash THEN changed ELSE excluded.changed END, "
			       "hash = excluded.hash RETURNING changed",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot store the inventory: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, doc, (int)n, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_ROW) {
		err = vig_errf(errbuf, VIG_EIO, "cannot store the inventory");
		goto out_unlock;
	}
	if (changed)
		*changed = sqlite3_column_int64(st, 0) == now;
	sqlite3_step(st);
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}

/* Checks that agent_id exists and is visible to actor; tenant gets its tenant. */
static enum vig_err visible_agent(sqlite3 *h, const struct vig_principal *actor,
				  const char *agent_id, char tenant[VIG_NAME_MAX], bool *revoked,
				  char *errbuf)
{
	enum vig_err err;

	if (!vig_fleet_agent_id_valid(agent_id))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no such agent");
	err = vig_fleet_agent_tenant(h, agent_id, tenant, revoked);
	if (err == VIG_OK && !vig_principal_can_access_tenant(actor, tenant))
		err = VIG_ENOTFOUND;
	if (err == VIG_ENOTFOUND)
		return vig_errf(errbuf, err, "no such agent");
	if (err != VIG_OK)
		return vig_errf(errbuf, err, "cannot read agents");
	return VIG_OK;
}

enum vig_err vig_fleet_inventory_get(struct vig_fleet *f, const struct vig_principal *actor,
				     const char *agent_id, json_t **out, char *errbuf)
{
	char tenant[VIG_NAME_MAX];
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc;

	*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = visible_agent(h, actor, agent_id, tenant, NULL, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	if (sqlite3_prepare_v2(h,
			       "SELECT doc, hash, changed, received FROM agent_inventory "
			       "WHERE agent_id = ?1 AND tenant_id = ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot read the inventory");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, tenant, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no inventory received from this agent yet");
	} else if (rc != SQLITE_ROW) {
		err = vig_errf(errbuf, VIG_EIO, "cannot read the inventory");
	} else {
		*out = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o}", "agent_id", agent_id, "tenant", tenant,
				 "hash", vig_fleet_col_text(st, 1), "changed",
				 vig_fleet_json_time(sqlite3_column_int64(st, 2)), "received",
				 vig_fleet_json_time(sqlite3_column_int64(st, 3)), "inventory",
				 json_loads(vig_fleet_col_text(st, 0), 0, NULL));
		if (!*out)
			err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}

static const char *status_of(const char *stored, int64_t last_seen, int64_t now, int64_t hb_s)
{
	if (strcmp(stored, "revoked") == 0)
		return "revoked";
	if (last_seen > 0 && now - last_seen <= 3 * hb_s * 1000000000LL)
		return "online";
	return "offline";
}

/* One agent object from a row of AGENT_COLS. */
static json_t *agent_json(struct vig_fleet *f, sqlite3_stmt *st, int64_t now, bool full)
{
	json_t *data = json_loads(vig_fleet_col_text(st, 11), 0, NULL);
	json_t *hb = json_object_get(data, "heartbeat");
	json_t *o;
	int64_t last_seen = sqlite3_column_int64(st, 10);

	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:o,s:o}", "id",
		      vig_fleet_col_text(st, 0), "tenant", vig_fleet_col_text(st, 1), "hostname",
		      vig_fleet_col_text(st, 2), "os", vig_fleet_col_text(st, 3), "kernel",
		      vig_fleet_col_text(st, 4), "version", vig_fleet_col_text(st, 5), "mode",
		      vig_fleet_col_text(st, 6), "status",
		      status_of(vig_fleet_col_text(st, 7), last_seen, now, f->cfg.heartbeat_s),
		      "isolated", sqlite3_column_int(st, 8) != 0, "enrolled",
		      vig_fleet_json_time(sqlite3_column_int64(st, 9)), "last_seen",
		      vig_fleet_json_time(last_seen));
	if (o && json_is_object(data)) {
		static const char *const keys[] = {"host_id", "arch", "revoked_at"};

		for (size_t i = 0; i < VIG_ARRAY_LEN(keys); i++)
			if (json_object_get(data, keys[i]))
				json_object_set(o, keys[i], json_object_get(data, keys[i]));
		json_t *c = json_object_get(hb, "counters");

		json_object_set_new(o, "counters", c ? json_incref(c) : json_object());
		if (json_object_get(hb, "spool"))
			json_object_set(o, "spool", json_object_get(hb, "spool"));
		if (full && hb)
			json_object_set(o, "heartbeat", hb);
	}
	if (o) /* applies the tenant's blocklist (api_sharing.c) */
		json_object_set_new(o, "gateway", json_boolean(sqlite3_column_int(st, 12) != 0));
	json_decref(data);
	return o;
}

enum vig_err vig_fleet_agent_list(struct vig_fleet *f, const struct vig_principal *actor,
				  const struct vig_agent_filter *flt, int64_t now, json_t **out,
				  char *errbuf)
{
	int64_t cut = now - 3 * f->cfg.heartbeat_s * 1000000000LL;
	const char *scope = NULL, *status = flt->status && *flt->status ? flt->status : NULL;
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;
	int rc, limit = flt->limit > 0 && flt->limit <= AGENT_LIST_MAX ? flt->limit : AGENT_LIST_MAX;

	*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	err = vig_principal_scope(actor, flt->tenant, &scope, errbuf);
	if (err != VIG_OK)
		return err;
	if (status && strcmp(status, "online") != 0 && strcmp(status, "offline") != 0 &&
	    strcmp(status, "revoked") != 0)
		return vig_errf(errbuf, VIG_EINVAL, "status: expected online, offline or revoked");
	*out = json_array();
	if (!*out)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	h = vig_db_lock(f->db);
	if (sqlite3_prepare_v2(
		    h,
		    "SELECT " AGENT_COLS " FROM agents a WHERE (?1 IS NULL OR a.tenant_id = ?1) AND "
		    "(?2 IS NULL OR (?2 = 'revoked' AND a.status = 'revoked') OR "
		    " (?2 = 'online' AND a.status != 'revoked' AND a.last_seen > 0 AND a.last_seen >= ?3) OR "
		    " (?2 = 'offline' AND a.status != 'revoked' AND (a.last_seen = 0 OR a.last_seen < ?3))) AND "
		    "(?4 IS NULL OR instr(lower(a.hostname), lower(?4)) > 0 OR instr(a.id, lower(?4)) = 1) "
		    "ORDER BY a.hostname, a.id LIMIT ?5",
		    -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot list agents: %s", sqlite3_errmsg(h));
		goto out_unlock;
	}
	vig_fleet_bind_text(st, 1, scope);
	vig_fleet_bind_text(st, 2, status);
	sqlite3_bind_int64(st, 3, cut);
	vig_fleet_bind_text(st, 4, flt->q && *flt->q ? flt->q : NULL);
	sqlite3_bind_int(st, 5, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(*out, agent_json(f, st, now, false));
	if (rc != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot list agents");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

static json_t *inventory_summary(sqlite3 *h, const char *agent_id)
{
	sqlite3_stmt *st = NULL;
	json_t *o = json_null(), *doc;

	if (sqlite3_prepare_v2(h, "SELECT doc, hash, changed, received FROM agent_inventory "
				  "WHERE agent_id = ?1", -1, &st, NULL) != SQLITE_OK)
		return o;
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		doc = json_loads(vig_fleet_col_text(st, 0), 0, NULL);
		o = json_pack("{s:s,s:o,s:o,s:O?,s:O?,s:O?,s:I,s:I,s:I,s:I}", "hash",
			      vig_fleet_col_text(st, 1), "changed",
			      vig_fleet_json_time(sqlite3_column_int64(st, 2)), "received",
			      vig_fleet_json_time(sqlite3_column_int64(st, 3)), "os",
			      json_object_get(doc, "os"), "kernel", json_object_get(doc, "kernel"),
			      "arch", json_object_get(doc, "arch"), "packages",
			      (json_int_t)json_array_size(json_object_get(doc, "packages")), "users",
			      (json_int_t)json_array_size(json_object_get(doc, "users")), "listening",
			      (json_int_t)json_array_size(json_object_get(doc, "listening")),
			      "interfaces",
			      (json_int_t)json_array_size(json_object_get(doc, "interfaces")));
		json_decref(doc);
		if (!o)
			o = json_null();
	}
	sqlite3_finalize(st);
	return o;
}

enum vig_err vig_fleet_agent_get(struct vig_fleet *f, const struct vig_principal *actor,
				 const char *agent_id, int64_t now, json_t **out, char *errbuf)
{
	char tenant[VIG_NAME_MAX];
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	sqlite3 *h;

	*out = NULL;
	if (!vig_principal_can(actor, VIG_PERM_AGENTS_READ))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = visible_agent(h, actor, agent_id, tenant, NULL, errbuf);
	if (err != VIG_OK)
		goto out_unlock;
	if (sqlite3_prepare_v2(h, "SELECT " AGENT_COLS " FROM agents a WHERE a.id = ?1", -1, &st,
			       NULL) != SQLITE_OK || (sqlite3_bind_text(st, 1, agent_id, -1,
									SQLITE_TRANSIENT),
						      sqlite3_step(st) != SQLITE_ROW)) {
		err = vig_errf(errbuf, VIG_EIO, "cannot read the agent");
		goto out_unlock;
	}
	*out = agent_json(f, st, now, true);
	if (*out)
		json_object_set_new(*out, "inventory", inventory_summary(h, agent_id));
	else
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (err == VIG_OK)
		json_object_set_new(*out, "actions_pending",
				    json_integer(vig_fleet_action_pending(f, agent_id)));
	return err;
}

enum vig_err vig_fleet_agent_revoke(struct vig_fleet *f, const struct vig_principal *actor,
				    const char *agent_id, int64_t now, char *tenant_out,
				    char *errbuf)
{
	char tenant[VIG_NAME_MAX];
	sqlite3_stmt *st = NULL;
	enum vig_err err;
	bool revoked = false;
	sqlite3 *h;

	if (!vig_principal_can(actor, VIG_PERM_AGENTS_WRITE))
		return vig_errf(errbuf, VIG_EPERM, "permission denied");
	h = vig_db_lock(f->db);
	err = visible_agent(h, actor, agent_id, tenant, &revoked, errbuf);
	if (err != VIG_OK || revoked)
		goto out_unlock;
	if (sqlite3_prepare_v2(h,
			       "UPDATE agents SET status = 'revoked', data = json_set(coalesce(data, "
			       "'{}'), '$.revoked_at', ?2) WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		err = vig_errf(errbuf, VIG_EIO, "cannot revoke the agent");
		goto out_unlock;
	}
	sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
	{
		char ts[VIG_TIME_STRLEN];

		vig_time_format(now, ts);
		sqlite3_bind_text(st, 2, ts, -1, SQLITE_TRANSIENT);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		err = vig_errf(errbuf, VIG_EIO, "cannot revoke the agent");
	sqlite3_finalize(st);
	st = NULL;
	/* what was waiting for it will never run */
	if (err == VIG_OK &&
	    sqlite3_prepare_v2(h, "UPDATE agent_actions SET status = 'cancelled', finished = ?2, "
				  "error = 'agent revoked' WHERE agent_id = ?1 AND status = 'queued'",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, agent_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_step(st);
	}
out_unlock:
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	if (tenant_out && err == VIG_OK)
		snprintf(tenant_out, VIG_NAME_MAX, "%s", tenant);
	return err;
}

enum vig_err vig_fleet_counter_sums(struct vig_fleet *f, const char *const *names, size_t n, int64_t *out)
{
	sqlite3 *h = vig_db_lock(f->db);

	for (size_t i = 0; i < n; i++) /* a few names, a scrape at a time: one statement each */
		out[i] = vig_db_int(h, 0,
				    "SELECT coalesce(sum(json_extract(data, '$.heartbeat.counters.' || ?1)), 0)"
				    " FROM agents WHERE status != 'revoked'",
				    "t", names[i]);
	vig_db_unlock(f->db);
	return VIG_OK;
}

enum vig_err vig_fleet_agent_counts(struct vig_fleet *f, int64_t now, int64_t *online,
				    int64_t *offline, int64_t *revoked)
{
	sqlite3 *h = vig_db_lock(f->db);
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_EIO;

	*online = *offline = *revoked = 0;
	if (sqlite3_prepare_v2(h,
			       "SELECT coalesce(sum(status = 'revoked'), 0), coalesce(sum(status != "
			       "'revoked' AND last_seen > 0 AND last_seen >= ?1), 0), count(*) FROM agents",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now - 3 * f->cfg.heartbeat_s * 1000000000LL);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*revoked = sqlite3_column_int64(st, 0);
			*online = sqlite3_column_int64(st, 1);
			*offline = sqlite3_column_int64(st, 2) - *revoked - *online;
			err = VIG_OK;
		}
	}
	sqlite3_finalize(st);
	vig_db_unlock(f->db);
	return err;
}
