/*
 * blocklist.c - XDR blocking: addresses a SOC blocks across an estate, kept per tenant with
 * their reason, incident and expiry, listed through the API and served to firewalls as a
 * plain-text external dynamic list. See incident.h, "XDR blocking".
 */
#include "incident/incident.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "common/buf.h"
#include "common/vtime.h"

bool vig_blocklist_normalise(const char *in, char out[64])
{
	char addr[64], text[INET6_ADDRSTRLEN];
	const char *slash;
	unsigned char bin[16];
	int family, bits, prefix;
	size_t n;

	if (!in || (n = strlen(in)) == 0 || n >= sizeof(addr))
		return false;
	slash = strchr(in, '/');
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash ? (size_t)(slash - in) : n), in);
	family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	bits = family == AF_INET ? 32 : 128;
	if (inet_pton(family, addr, bin) != 1)
		return false;
	prefix = bits;
	if (slash) {
		char *end;
		long p = strtol(slash + 1, &end, 10);

		if (!slash[1] || *end || p < 0 || p > bits)
			return false;
		prefix = (int)p;
	}
	for (int b = prefix; b < bits; b++) /* clear the host bits */
		bin[b / 8] &= (unsigned char)~(0x80u >> (b % 8));
	if (!inet_ntop(family, bin, text, sizeof(text)))
		return false;
	if (prefix == bits)
		snprintf(out, 64, "%s", text);
	else
		snprintf(out, 64, "%s/%d", text, prefix);
	return true;
}

#define BL_COLS "id, tenant_id, address, reason, incident_id, created_by, created, expires"

static json_t *entry_json(sqlite3_stmt *st, int64_t now)
{
	char created[VIG_TIME_STRLEN], expires[VIG_TIME_STRLEN];
	int64_t exp = sqlite3_column_int64(st, 7);

	vig_time_format(sqlite3_column_int64(st, 6), created);
	if (exp)
		vig_time_format(exp, expires);
	return json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:s?,s:b}", "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "tenant", sqlite3_column_text(st, 1), "address", sqlite3_column_text(st, 2), "reason",
			 sqlite3_column_text(st, 3), "incident_id",
			 sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null() : json_integer(sqlite3_column_int64(st, 4)),
			 "created_by", sqlite3_column_text(st, 5), "created", created, "expires", exp ? expires : NULL,
			 "active", !exp || exp > now);
}

enum vig_err vig_blocklist_add(struct vig_db *db, const struct vig_principal *who, const char *tenant,
			       const char *address, const char *reason, int64_t incident_id,
			       int64_t expires_in_s, int64_t now, json_t **out, char *errbuf)
{
	char norm[64], idbuf[24], *after = NULL;
	sqlite3 *h;
	sqlite3_stmt *st = NULL;
	enum vig_err err = VIG_OK;
	int64_t id = 0;

	*out = NULL;
	if (!tenant || !*tenant)
		tenant = who->tenant;
	if (!vig_principal_can_access_tenant(who, tenant))
		return vig_errf(errbuf, VIG_EPERM, "tenant '%s' is not yours", tenant);
	if (!vig_blocklist_normalise(address, norm))
		return vig_errf(errbuf, VIG_EINVAL, "address must be an IPv4 or IPv6 address or CIDR");
	if (reason && strlen(reason) > 1024)
		return vig_errf(errbuf, VIG_ETOOBIG, "reason is longer than 1024 bytes");
	if (expires_in_s < 0 || expires_in_s > 10 * 366 * 86400LL)
		return vig_errf(errbuf, VIG_EINVAL, "expires_in_s must be 0 (never) to 10 years");
	err = vig_db_tx_begin(db, &h, errbuf);
	if (err != VIG_OK)
		return err;
	if (incident_id > 0 &&
	    !vig_db_int(h, 0, "SELECT 1 FROM incidents WHERE id = ?1 AND tenant_id = ?2", "it",
			incident_id, tenant))
		err = vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found",
			       (long long)incident_id);
	if (err == VIG_OK)
		id = vig_db_int(
			h, 0,
			"SELECT id FROM blocklist WHERE tenant_id = ?1 AND address = ?2 AND removed IS NULL"
			" AND (expires = 0 OR expires > ?3)",
			"tti", tenant, norm, now);
	if (id)
		err = vig_errf(errbuf, VIG_EEXIST, "%s is already blocked (entry %lld)", norm,
			       (long long)id);
	if (err == VIG_OK)
		err = vig_db_do(
			h, errbuf,
			"INSERT INTO blocklist (tenant_id, address, reason, incident_id,"
			" created_by, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			"tttntii", tenant, norm, reason ? reason : "", incident_id, who->username,
			now, expires_in_s ? now + expires_in_s * VIG_NS_PER_SEC : 0);
	id = sqlite3_last_insert_rowid(h);
	st = err == VIG_OK ? vig_db_stmt(h, errbuf,
					 "SELECT " BL_COLS " FROM blocklist WHERE id = ?1", "i", id)
			   : NULL;
	if (st && sqlite3_step(st) == SQLITE_ROW)
		*out = entry_json(st, now);
	sqlite3_finalize(st);
	if (err == VIG_OK && !*out)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (err == VIG_OK) {
		after = json_dumps(*out, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
		err = vig_audit_append_locked(h, who, tenant, "blocklist.add", "blocklist", idbuf, NULL, after, reason,
					      now, NULL, errbuf);
		free(after);
	}
	if (err == VIG_OK && incident_id > 0) {
		/* the incident's timeline shows the block */
		char summary[160];

		snprintf(summary, sizeof(summary), "blocked %s across the estate", norm);
		err = vig_db_do(
			h, errbuf,
			"INSERT INTO incident_timeline (incident_id, tenant_id, ts, actor, kind,"
			" summary) VALUES (?1, ?2, ?3, ?4, 'blocklist.add', ?5)",
			"ititt", incident_id, tenant, now, who->username, summary);
	}
	err = vig_db_tx_end(db, h, err, errbuf);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

enum vig_err vig_blocklist_remove(struct vig_db *db, const struct vig_principal *who, int64_t id, int64_t now,
				  char *errbuf)
{
	char tenant[VIG_NAME_MAX], idbuf[24];
	sqlite3 *h;
	enum vig_err err = vig_db_tx_begin(db, &h, errbuf);

	if (err != VIG_OK)
		return err;
	if (!vig_db_text(h, tenant, sizeof(tenant),
			 "SELECT tenant_id FROM blocklist WHERE id = ?1 AND removed IS NULL", "i",
			 id) ||
	    !vig_principal_can_access_tenant(who, tenant))
		err = vig_errf(errbuf, VIG_ENOTFOUND, "blocklist entry %lld not found", (long long)id);
	if (err == VIG_OK)
		err = vig_db_run_id(h, "UPDATE blocklist SET removed = ?2 WHERE id = ?1", id, now, errbuf);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	if (err == VIG_OK)
		err = vig_audit_append_locked(h, who, tenant, "blocklist.remove", "blocklist", idbuf, NULL, NULL, NULL, now,
					      NULL, errbuf);
	return vig_db_tx_end(db, h, err, errbuf);
}

/* vig_db_row_fn of a list: the entry as of *ctx (now). */
static json_t *list_row(sqlite3 *h, sqlite3_stmt *st, void *ctx)
{
	(void)h;
	return entry_json(st, *(const int64_t *)ctx);
}

enum vig_err vig_blocklist_list(struct vig_db *db, const struct vig_principal *who, bool all,
				int64_t now, json_t **out, char *errbuf)
{
	json_t *arr;
	enum vig_err err =
		vig_db_rows(db, list_row, &now, &arr, errbuf,
			    "SELECT " BL_COLS " FROM blocklist WHERE (?1 OR tenant_id = ?2)"
			    " AND removed IS NULL AND (?3 OR expires = 0 OR expires > ?4)"
			    " ORDER BY id DESC LIMIT ?5",
			    "itiii", (int64_t)who->provider, who->tenant, (int64_t)all, now,
			    (int64_t)VIG_BLOCKLIST_MAX);

	if (err != VIG_OK)
		return err;
	*out = json_pack("{s:o}", "entries", arr);
	return VIG_OK;
}

enum vig_err vig_blocklist_text(struct vig_db *db, const char *tenant, int64_t now, char **text,
				size_t *len, char *errbuf)
{
	sqlite3 *h = vig_db_lock(db);
	sqlite3_stmt *st;
	struct vig_buf b;
	enum vig_err err = VIG_OK;

	vig_buf_init(&b, (size_t)VIG_BLOCKLIST_MAX * 48);
	st = vig_db_stmt(
		h, errbuf,
		"SELECT DISTINCT address FROM blocklist WHERE tenant_id = ?1 AND removed IS NULL"
		" AND (expires = 0 OR expires > ?2) ORDER BY address LIMIT ?3",
		"tii", tenant, now, (int64_t)VIG_BLOCKLIST_MAX);
	if (!st)
		err = VIG_EIO;
	while (st && sqlite3_step(st) == SQLITE_ROW)
		vig_buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	vig_db_unlock(db);
	if (err == VIG_OK && vig_buf_err(&b) != VIG_OK)
		err = vig_errf(errbuf, VIG_ENOMEM, "blocklist too large");
	if (err != VIG_OK) {
		vig_buf_release(&b);
		return err;
	}
	*len = b.len;
	*text = b.data ? b.data : strdup("");
	return *text ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
