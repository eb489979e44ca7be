/*
 * evidence.c - incident evidence: content-addressed files with their SHA-256, items in the
 * control DB, and a hash-chained custody log per item. See evidence.h for the model.
 *
 * Adding an item has two phases. First the bytes go to DIR/<tenant>/.tmp-XXXXXX while they
 * are hashed; the file is fsync'ed, made read-only and renamed to DIR/<tenant>/<sha256> (when
 * that name exists its content is re-hashed: a match is the same content, stored once; a
 * mismatch is a damaged store and refused). No DB lock is held meanwhile. Then one
 * transaction checks the incident, inserts the item and writes its first custody rows, each
 * with its audit row and timeline row. A failed transaction leaves at most an unreferenced
 * file, never an item without its file.
 *
 * Every custody step has the same shape (custody_step()): lock, BEGIN IMMEDIATE, read the
 * item (tenant check), append the custody row linked to the item's previous one, the audit
 * row and the timeline row, COMMIT, unlock.
 */
#include "incident/evidence.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "auth/audit.h"
#include "common/vtime.h"

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"
#define SHA_HEX 65 /* 64 hex digits and the NUL */
#define COPY_CHUNK (64 * 1024)

struct vig_evidence {
	struct vig_db *db; /* control DB (borrowed) */
	char dir[1024];    /* root of the files: dir/<tenant>/<sha256> */
	int64_t max_bytes; /* largest item */
};

static const char *const KINDS[] = {"upload", "collected", "export"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

struct vig_evidence *vig_evidence_open(struct vig_db *db, const char *dir, int64_t max_bytes,
				       char *errbuf)
{
	struct vig_evidence *ev;

	if (!db || !dir || !*dir || max_bytes <= 0) {
		vig_errf(errbuf, VIG_EINVAL,
			 "evidence: a database, a directory and a size bound are required");
		return NULL;
	}
	if (strlen(dir) + 1 + VIG_NAME_MAX + SHA_HEX + 16 > sizeof(ev->dir)) {
		vig_errf(errbuf, VIG_EINVAL, "evidence directory path too long: %s", dir);
		return NULL;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev) {
		vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		return NULL;
	}
	ev->db = db;
	snprintf(ev->dir, sizeof(ev->dir), "%s", dir);
	ev->max_bytes = max_bytes;
	return ev;
}

void vig_evidence_free(struct vig_evidence *ev)
{
	free(ev);
}

bool vig_evidence_path(const struct vig_evidence *ev, const char *tenant, const char *sha256,
		       char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "%s/%s/%s", ev->dir, tenant, sha256) < cap;
}

/* ---- files ---- */

/*
 * Reads in to its end, hashing it (and writing every byte to out when out >= 0): hex gets the
 * SHA-256, *size the length. More than max bytes is VIG_ETOOBIG.
 */
static enum vig_err hash_copy(int in, int out, int64_t max, char hex[SHA_HEX], int64_t *size,
			      char *errbuf)
{
	unsigned char buf[COPY_CHUNK], md[32];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	enum vig_err err = VIG_OK;
	ssize_t n = 0;

	*size = 0;
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return vig_errf(errbuf, VIG_ENOMEM, "cannot start SHA-256");
	}
	while (err == VIG_OK && (n = read(in, buf, sizeof(buf))) > 0) {
		*size += n;
		if (*size > max)
			err = vig_errf(errbuf, VIG_ETOOBIG, "evidence larger than %lld bytes",
				       (long long)max);
		else if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			err = vig_errf(errbuf, VIG_EINTERNAL, "SHA-256 update failed");
		else if (out >= 0 && write(out, buf, (size_t)n) != n)
			err = vig_errf(errbuf, VIG_EIO, "evidence write: %s", strerror(errno));
	}
	if (err == VIG_OK && n < 0)
		err = vig_errf(errbuf, VIG_EIO, "evidence read: %s", strerror(errno));
	if (err == VIG_OK && EVP_DigestFinal_ex(ctx, md, NULL) != 1)
		err = vig_errf(errbuf, VIG_EINTERNAL, "SHA-256 final failed");
	if (err == VIG_OK)
		vig_hex(md, sizeof(md), hex);
	EVP_MD_CTX_free(ctx);
	return err;
}

/* SHA-256 of the stored file at path: VIG_ENOTFOUND when it is missing. */
static enum vig_err hash_path(const char *path, int64_t max, char hex[SHA_HEX], int64_t *size,
			      char *errbuf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	enum vig_err err;

	if (fd < 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO,
				"cannot open %s: %s", path, strerror(errno));
	err = hash_copy(fd, -1, max, hex, size, errbuf);
	close(fd);
	return err;
}

/* A file being written: dir/<tenant>/.tmp-XXXXXX. */
struct tmpfile {
	char path[1200];
	int fd;
};

static enum vig_err tmp_open(struct vig_evidence *ev, const char *tenant, struct tmpfile *t,
			     char *errbuf)
{
	char dir[1100];

	t->fd = -1;
	if (!vig_tenant_id_valid(tenant))
		return vig_errf(errbuf, VIG_EINVAL, "tenant id not usable as a directory: %s",
				tenant);
	snprintf(dir, sizeof(dir), "%s/%s", ev->dir, tenant);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return vig_errf(errbuf, VIG_EIO, "cannot create %s: %s", dir, strerror(errno));
	snprintf(t->path, sizeof(t->path), "%s/.tmp-XXXXXX", dir);
	t->fd = mkostemp(t->path, O_CLOEXEC);
	if (t->fd < 0)
		return vig_errf(errbuf, VIG_EIO, "cannot create a file in %s: %s", dir,
				strerror(errno));
	return VIG_OK;
}

static void tmp_discard(struct tmpfile *t)
{
	if (t->fd >= 0) {
		close(t->fd);
		unlink(t->path);
		t->fd = -1;
	}
}

/* Makes the written temporary file durable under its content name; discards it when the same
 * content is already stored. */
static enum vig_err tmp_commit(struct vig_evidence *ev, const char *tenant, struct tmpfile *t,
			       const char *sha, char *errbuf)
{
	char final[1200], seen[SHA_HEX], dir[1100];
	int64_t size;
	enum vig_err err;
	int dfd;

	if (!vig_evidence_path(ev, tenant, sha, final, sizeof(final))) {
		tmp_discard(t);
		return vig_errf(errbuf, VIG_EINVAL, "evidence path too long");
	}
	if (fchmod(t->fd, 0400) != 0 || fsync(t->fd) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot sync %s: %s", t->path, strerror(errno));
		tmp_discard(t);
		return err;
	}
	err = hash_path(final, ev->max_bytes, seen, &size, errbuf);
	if (err == VIG_OK) { /* stored before: keep the first copy, never rewrite it */
		tmp_discard(t);
		if (strcmp(seen, sha) != 0)
			return vig_errf(errbuf, VIG_EIO,
					"stored evidence file %s fails its SHA-256 check", final);
		return VIG_OK;
	}
	if (err != VIG_ENOTFOUND) {
		tmp_discard(t);
		return err;
	}
	close(t->fd);
	t->fd = -1;
	if (rename(t->path, final) != 0) {
		err = vig_errf(errbuf, VIG_EIO, "cannot rename to %s: %s", final, strerror(errno));
		unlink(t->path);
		return err;
	}
	snprintf(dir, sizeof(dir), "%s/%s", ev->dir, tenant);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) { /* the rename itself must survive a crash */
		fsync(dfd);
		close(dfd);
	}
	return VIG_OK;
}

/* ---- SQL ---- */

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static json_t *time_json(int64_t ns)
{
	char buf[VIG_TIME_STRLEN];

	vig_time_format(ns, buf);
	return json_string(buf);
}

#define ITEM_COLS                                                                                  \
	"id, tenant_id, incident_id, name, kind, sha256, size, media_type, source, description,"   \
	" created_by, created"

static json_t *item_json(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:s,s:I,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:o}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "tenant", col(st, 1),
			 "incident_id", (json_int_t)sqlite3_column_int64(st, 2), "name", col(st, 3),
			 "kind", col(st, 4), "sha256", col(st, 5), "size",
			 (json_int_t)sqlite3_column_int64(st, 6), "media_type", col(st, 7),
			 "source", col(st, 8), "description", col(st, 9), "created_by", col(st, 10),
			 "created", time_json(sqlite3_column_int64(st, 11)));
}

/* Reads item id as JSON into *out when who (NULL: anyone) may see it. */
static enum vig_err item_load(sqlite3 *h, const struct vig_principal *who, int64_t id, json_t **out,
			      char *errbuf)
{
	sqlite3_stmt *st = vig_db_stmt(
		h, errbuf, "SELECT " ITEM_COLS " FROM incident_evidence WHERE id = ?1", "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	*out = NULL;
	if (err == VIG_OK && who && !vig_principal_can_access_tenant(who, col(st, 1)))
		err = VIG_ENOTFOUND;
	if (err == VIG_ENOTFOUND)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "evidence %lld not found", (long long)id);
	else if (err == VIG_OK && !(*out = item_json(st)))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	sqlite3_finalize(st);
	return err;
}

/* The tenant of incident id into tenant when who may see it. */
static enum vig_err incident_tenant(sqlite3 *h, const struct vig_principal *who, int64_t id,
				    char tenant[VIG_NAME_MAX], char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf, "SELECT tenant_id FROM incidents WHERE id = ?1", "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	if (err == VIG_OK && !vig_principal_can_access_tenant(who, col(st, 0)))
		err = VIG_ENOTFOUND;
	if (err == VIG_OK)
		snprintf(tenant, VIG_NAME_MAX, "%s", col(st, 0));
	else if (err == VIG_ENOTFOUND)
		err = vig_errf(errbuf, VIG_ENOTFOUND, "incident %lld not found", (long long)id);
	sqlite3_finalize(st);
	return err;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t jint(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* ---- custody ---- */

/* hash = hex SHA-256(prev || canonical JSON of the row). */
static enum vig_err custody_hash(const char *prev, int64_t id, int64_t evidence_id, int64_t ts,
				 const char *actor, const char *action, const char *detail,
				 const char *sha_seen, char hash[SHA_HEX], char *errbuf)
{
	json_t *row = json_pack(
		"{s:s,s:s,s:s,s:I,s:I,s:o,s:I}", "action", action, "actor", actor, "detail", detail,
		"evidence_id", (json_int_t)evidence_id, "id", (json_int_t)id, "sha256_seen",
		sha_seen ? json_string(sha_seen) : json_null(), "ts", (json_int_t)ts);
	char *canon = row ? json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	size_t plen = strlen(prev), clen;
	uint8_t md[32];
	char *buf;

	json_decref(row);
	if (!canon)
		return vig_errf(errbuf, VIG_EINVAL, "custody row not encodable (invalid UTF-8?)");
	clen = strlen(canon);
	buf = malloc(plen + clen);
	if (!buf) {
		free(canon);
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	}
	memcpy(buf, prev, plen);
	memcpy(buf + plen, canon, clen);
	vig_sha256(buf, plen + clen, md);
	vig_hex(md, sizeof(md), hash);
	free(buf);
	free(canon);
	return VIG_OK;
}

/* What one custody step records. */
struct step {
	const char *action;   /* custody action */
	const char *detail;   /* free text ("" allowed) */
	const char *sha_seen; /* hash the step saw, or NULL */
};

/* The previous hash of item id's chain (zeros when empty) and the next custody row id. */
static enum vig_err chain_tail(sqlite3 *h, int64_t id, char prev[SHA_HEX], int64_t *next_id,
			       char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "SELECT (SELECT hash FROM evidence_custody WHERE evidence_id = ?1"
			    " ORDER BY id DESC LIMIT 1), (SELECT coalesce(max(id), 0) + 1 FROM "
			    "evidence_custody)",
			    "i", id);
	enum vig_err err = vig_db_row(h, st, errbuf);

	snprintf(prev, SHA_HEX, "%s", ZERO_HASH);
	if (err == VIG_OK) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			snprintf(prev, SHA_HEX, "%s", col(st, 0));
		*next_id = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return err == VIG_ENOTFOUND ? vig_db_fail(h, errbuf) : err;
}

/* Appends the timeline row of a custody step to the item's incident. */
static enum vig_err timeline(sqlite3 *h, json_t *item, const char *actor, const char *kind,
			     const struct step *s, const char *detail_json, int64_t now,
			     char *errbuf)
{
	char summary[512];

	snprintf(summary, sizeof(summary), "evidence %lld \"%.200s\": %s%s%.200s",
		 (long long)jint(item, "id"), jstr(item, "name"), s->action, *s->detail ? ": " : "",
		 s->detail);
	return vig_db_do(h, errbuf,
			 "INSERT INTO incident_timeline (incident_id, tenant_id, ts, actor,"
			 " kind, summary, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			 "ititttt", jint(item, "incident_id"), jstr(item, "tenant"), now, actor,
			 kind, summary, detail_json);
}

/*
 * Appends custody step s to item (h locked, transaction open): the custody row, its audit row
 * (evidence.<action>, with the row's id and hash) and its incident timeline row.
 */
static enum vig_err custody_append(sqlite3 *h, const struct vig_principal *who, json_t *item,
				   const struct step *s, int64_t now, int64_t *custody_id,
				   char *errbuf)
{
	char prev[SHA_HEX], hash[SHA_HEX], kind[64], idbuf[24];
	const char *actor = who->username[0] ? who->username : "system";
	int64_t eid = jint(item, "id"), cid = 0;
	json_t *after = NULL;
	char *after_s = NULL;
	enum vig_err err;

	err = chain_tail(h, eid, prev, &cid, errbuf);
	if (err == VIG_OK)
		err = custody_hash(prev, cid, eid, now, actor, s->action, s->detail, s->sha_seen,
				   hash, errbuf);
	if (err == VIG_OK)
		err = vig_db_do(h, errbuf,
				"INSERT INTO evidence_custody (id, evidence_id, ts, actor,"
				" action, detail, sha256_seen, prev_hash, hash)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
				"iiitttttt", cid, eid, now, actor, s->action, s->detail,
				s->sha_seen, prev, hash);
	if (err != VIG_OK)
		return err;
	after = json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:s,s:s}", "custody_id", (json_int_t)cid,
			  "custody_hash", hash, "action", s->action, "detail", s->detail,
			  "sha256_seen", s->sha_seen ? json_string(s->sha_seen) : json_null(),
			  "incident_id", (json_int_t)jint(item, "incident_id"), "name",
			  jstr(item, "name"), "sha256", jstr(item, "sha256"));
	after_s = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(after);
	if (!after_s)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	snprintf(kind, sizeof(kind), "evidence.%s", s->action);
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)eid);
	err = vig_audit_append_locked(h, who, jstr(item, "tenant"), kind, "evidence", idbuf, NULL,
				      after_s, NULL, now, NULL, errbuf);
	if (err == VIG_OK)
		err = timeline(h, item, actor, kind, s, after_s, now, errbuf);
	free(after_s);
	if (err == VIG_OK && custody_id)
		*custody_id = cid;
	return err;
}

/* What custody_step() and record_item() hand to their transaction. */
struct tx_arg {
	const struct vig_principal *who;
	int64_t id;                        /* the item (custody), the incident (record) */
	const struct step *s;              /* custody: the step */
	int64_t *out_id;                   /* custody: the row id (may be NULL); record: the item */
	const struct vig_evidence_meta *m; /* record: what the item is */
	const char *sha;                   /* record: its content */
	int64_t size;                      /* record: its length */
	bool created;                      /* record: whether a new item was made */
};

static enum vig_err custody_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct tx_arg *a = arg;
	json_t *item = NULL;
	enum vig_err err = item_load(h, a->who, a->id, &item, errbuf);

	if (err == VIG_OK)
		err = custody_append(h, a->who, item, a->s, vig_time_now(), a->out_id, errbuf);
	json_decref(item);
	return err;
}

/* One custody step on item id in its own transaction (see the top of the file). */
static enum vig_err custody_step(struct vig_evidence *ev, const struct vig_principal *who,
				 int64_t id, const struct step *s, int64_t *custody_id,
				 char *errbuf)
{
	struct tx_arg a = {.who = who, .id = id, .s = s, .out_id = custody_id};

	return vig_db_in_tx(ev->db, custody_tx, &a, errbuf);
}

/* ---- the chain check ---- */

/* Steps the audit statement to its next custody record of the item: *cid 0 when none left. */
static void audit_next(sqlite3_stmt *au, int64_t *cid, const char **hash)
{
	*cid = 0;
	*hash = "";
	if (sqlite3_step(au) == SQLITE_ROW) {
		*cid = sqlite3_column_int64(au, 0);
		*hash = col(au, 1);
	}
}

/*
 * Walks item id's custody rows in order, recomputing each link and hash, and pairs them with
 * the custody records of the audit log (each step's audit row names its custody id and hash):
 * a row without its audit record was inserted, an audit record without its row was removed.
 */
static enum vig_err chain_walk(sqlite3 *h, int64_t id, int64_t *entries, int64_t *first_bad,
			       char *errbuf)
{
	sqlite3_stmt *st = NULL, *au = NULL;
	char prev[SHA_HEX] = ZERO_HASH, hash[SHA_HEX], idbuf[24];
	enum vig_err err = VIG_OK;
	const char *ahash;
	int64_t acid;

	*entries = 0;
	*first_bad = 0;
	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)id);
	st = vig_db_stmt(h, errbuf,
			 "SELECT id, ts, actor, action, detail, sha256_seen, prev_hash, hash"
			 " FROM evidence_custody WHERE evidence_id = ?1 ORDER BY id",
			 "i", id);
	au = st ? vig_db_stmt(
			  h, errbuf,
			  "SELECT json_extract(after_json, '$.custody_id') AS cid,"
			  " json_extract(after_json, '$.custody_hash') FROM audit_log"
			  " WHERE object_type = 'evidence' AND object_id = ?1"
			  " AND json_extract(after_json, '$.custody_hash') IS NOT NULL ORDER BY cid",
			  "t", idbuf)
		: NULL;
	if (!au) {
		err = VIG_EIO;
		goto out;
	}
	audit_next(au, &acid, &ahash);
	while (err == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		int64_t cid = sqlite3_column_int64(st, 0);
		const char *sha_seen = (const char *)sqlite3_column_text(st, 5);

		if (++*entries > VIG_EVIDENCE_CUSTODY_MAX) {
			err = vig_errf(errbuf, VIG_ETOOBIG, "more than %d custody rows",
				       VIG_EVIDENCE_CUSTODY_MAX);
			break;
		}
		err = custody_hash(prev, cid, id, sqlite3_column_int64(st, 1), col(st, 2),
				   col(st, 3), col(st, 4), sha_seen, hash, errbuf);
		if (err != VIG_OK)
			break;
		if (acid && acid < cid) {
			*first_bad = acid;
			err = vig_errf(errbuf, VIG_ECONFLICT, "custody row %lld is missing",
				       (long long)acid);
		} else if (strcmp(col(st, 6), prev) != 0) {
			*first_bad = cid;
			err = vig_errf(errbuf, VIG_ECONFLICT,
				       "custody row %lld does not link to its predecessor",
				       (long long)cid);
		} else if (strcmp(col(st, 7), hash) != 0) {
			*first_bad = cid;
			err = vig_errf(errbuf, VIG_ECONFLICT, "custody row %lld was modified",
				       (long long)cid);
		} else if (acid != cid || strcmp(ahash, hash) != 0) {
			*first_bad = cid;
			err = vig_errf(errbuf, VIG_ECONFLICT,
				       "custody row %lld differs from its audit record",
				       (long long)cid);
		}
		snprintf(prev, sizeof(prev), "%s", hash);
		audit_next(au, &acid, &ahash);
	}
	if (err == VIG_OK && acid) {
		*first_bad = acid;
		err = vig_errf(errbuf, VIG_ECONFLICT, "custody row %lld is missing",
			       (long long)acid);
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(au);
	return err;
}

enum vig_err vig_evidence_chain_check(struct vig_evidence *ev, int64_t id, int64_t *entries,
				      int64_t *first_bad, char *errbuf)
{
	sqlite3 *h = vig_db_lock(ev->db);
	json_t *item = NULL;
	enum vig_err err = item_load(h, NULL, id, &item, errbuf);

	*entries = 0;
	*first_bad = 0;
	if (err == VIG_OK)
		err = chain_walk(h, id, entries, first_bad, errbuf);
	vig_db_unlock(ev->db);
	json_decref(item);
	return err;
}

/* ---- adding ---- */

/* Checks a text field: required or not, at most max bytes, valid UTF-8, no control bytes. */
static enum vig_err check_text(const char *what, const char *s, size_t max, bool required,
			       char *errbuf)
{
	json_t *probe;

	if (!s || !*s)
		return required ? vig_errf(errbuf, VIG_EINVAL, "%s is required", what) : VIG_OK;
	if (strlen(s) > max)
		return vig_errf(errbuf, VIG_EINVAL, "%s longer than %zu bytes", what, max);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 && *p != '\t' &&
		    !(max > VIG_EVIDENCE_NAME_MAX && (*p == '\n' || *p == '\r')))
			return vig_errf(errbuf, VIG_EINVAL, "%s contains a control character",
					what);
	probe = json_string(s); /* jansson validates UTF-8 */
	if (!probe)
		return vig_errf(errbuf, VIG_EINVAL, "%s is not valid UTF-8", what);
	json_decref(probe);
	return VIG_OK;
}

static enum vig_err check_meta(const struct vig_evidence_meta *m, char *errbuf)
{
	enum vig_err err;

	if (!in_list(m->kind, KINDS, VIG_ARRAY_LEN(KINDS)))
		return vig_errf(errbuf, VIG_EINVAL, "kind must be upload, collected or export");
	if ((err = check_text("name", m->name, VIG_EVIDENCE_NAME_MAX, true, errbuf)) ||
	    (err = check_text("media type", m->media_type, VIG_EVIDENCE_MEDIA_MAX, false,
			      errbuf)) ||
	    (err = check_text("source", m->source, VIG_EVIDENCE_SOURCE_MAX, false, errbuf)) ||
	    (err = check_text("description", m->description, VIG_EVIDENCE_DESC_MAX, false, errbuf)))
		return err;
	return VIG_OK;
}

/* The id of the item of incident holding sha, 0 if none. */
static int64_t existing_item(sqlite3 *h, int64_t incident_id, const char *sha)
{
	return vig_db_int(h, 0,
			  "SELECT id FROM incident_evidence WHERE incident_id = ?1 AND sha256 = ?2",
			  "it", incident_id, sha);
}

/* Inserts the item row and its first custody steps (h locked, transaction open). */
static enum vig_err insert_item(sqlite3 *h, const struct vig_principal *who, int64_t incident_id,
				const char *tenant, const struct vig_evidence_meta *m,
				const char *sha, int64_t size, int64_t now, int64_t *id,
				char *errbuf)
{
	json_t *item = NULL;
	char attached[64];
	enum vig_err err;

	err = vig_db_do(h, errbuf,
			"INSERT INTO incident_evidence (tenant_id, incident_id, name, kind,"
			" sha256, size, media_type, source, description, created_by,"
			" created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			"titttitttti", tenant, incident_id, m->name, m->kind, sha, size,
			m->media_type ? m->media_type : "application/octet-stream",
			m->source ? m->source : "", m->description ? m->description : "",
			who->username[0] ? who->username : "system", now);
	if (err != VIG_OK)
		return err;
	*id = sqlite3_last_insert_rowid(h);
	err = item_load(h, NULL, *id, &item, errbuf);
	if (err == VIG_OK) {
		struct step s = {"acquired", m->source ? m->source : "", sha};

		err = custody_append(h, who, item, &s, now, NULL, errbuf);
	}
	if (err == VIG_OK) {
		struct step s = {"attached", attached, sha};

		snprintf(attached, sizeof(attached), "incident %lld", (long long)incident_id);
		err = custody_append(h, who, item, &s, now, NULL, errbuf);
	}
	if (err == VIG_OK)
		err = vig_db_run_id(h, "UPDATE incidents SET updated = ?2 WHERE id = ?1",
				    incident_id, now, errbuf);
	json_decref(item);
	return err;
}

/* The tenant an item of incident_id goes to, checked against meta->tenant. */
static enum vig_err target_tenant(struct vig_evidence *ev, const struct vig_principal *who,
				  int64_t incident_id, const struct vig_evidence_meta *m,
				  char tenant[VIG_NAME_MAX], char *errbuf)
{
	enum vig_err err = vig_evidence_incident_tenant(ev, who, incident_id, tenant, errbuf);

	if (err == VIG_OK && m->tenant && strcmp(m->tenant, tenant) != 0)
		err = vig_errf(errbuf, VIG_ECONFLICT,
			       "incident %lld belongs to another tenant than the evidence",
			       (long long)incident_id);
	return err;
}

enum vig_err vig_evidence_incident_tenant(struct vig_evidence *ev, const struct vig_principal *who,
					  int64_t incident_id, char tenant[VIG_NAME_MAX],
					  char *errbuf)
{
	sqlite3 *h = vig_db_lock(ev->db);
	enum vig_err err = incident_tenant(h, who, incident_id, tenant, errbuf);

	vig_db_unlock(ev->db);
	return err;
}

static enum vig_err record_tx(sqlite3 *h, void *arg, char *errbuf)
{
	struct tx_arg *a = arg;
	char tenant[VIG_NAME_MAX];
	enum vig_err err = incident_tenant(h, a->who, a->id, tenant, errbuf); /* again, inside */

	if (err == VIG_OK && (*a->out_id = existing_item(h, a->id, a->sha)) == 0) {
		err = insert_item(h, a->who, a->id, tenant, a->m, a->sha, a->size, vig_time_now(),
				  a->out_id, errbuf);
		a->created = err == VIG_OK;
	}
	return err;
}

/* Records the stored content sha (size bytes) as an item of incident_id (phase two). */
static enum vig_err record_item(struct vig_evidence *ev, const struct vig_principal *who,
				int64_t incident_id, const struct vig_evidence_meta *m,
				const char *sha, int64_t size, int64_t *id, bool *created,
				char *errbuf)
{
	struct tx_arg a = {
		.who = who, .id = incident_id, .out_id = id, .m = m, .sha = sha, .size = size};
	enum vig_err err = vig_db_in_tx(ev->db, record_tx, &a, errbuf);

	if (created)
		*created = err == VIG_OK && a.created;
	return err;
}

enum vig_err vig_evidence_add_bytes(struct vig_evidence *ev, const struct vig_principal *who,
				    int64_t incident_id, const struct vig_evidence_meta *meta,
				    const void *data, size_t n, int64_t *id, bool *created,
				    char *errbuf)
{
	char tenant[VIG_NAME_MAX], sha[SHA_HEX];
	struct tmpfile t;
	uint8_t md[32];
	enum vig_err err = check_meta(meta, errbuf);

	if (err != VIG_OK)
		return err;
	if ((int64_t)n > ev->max_bytes)
		return vig_errf(errbuf, VIG_ETOOBIG, "evidence larger than %lld bytes",
				(long long)ev->max_bytes);
	err = target_tenant(ev, who, incident_id, meta, tenant, errbuf);
	if (err == VIG_OK)
		err = tmp_open(ev, tenant, &t, errbuf);
	if (err != VIG_OK)
		return err;
	for (size_t off = 0; off < n;) {
		ssize_t w = write(t.fd, (const char *)data + off, n - off);

		if (w <= 0) {
			err = vig_errf(errbuf, VIG_EIO, "evidence write: %s", strerror(errno));
			tmp_discard(&t);
			return err;
		}
		off += (size_t)w;
	}
	vig_sha256(data, n, md);
	vig_hex(md, sizeof(md), sha);
	err = tmp_commit(ev, tenant, &t, sha, errbuf);
	if (err == VIG_OK)
		err = record_item(ev, who, incident_id, meta, sha, (int64_t)n, id, created, errbuf);
	return err;
}

enum vig_err vig_evidence_add_file(struct vig_evidence *ev, const struct vig_principal *who,
				   int64_t incident_id, const struct vig_evidence_meta *meta,
				   const char *path, const char *expected_sha256, int64_t *id,
				   bool *created, char *errbuf)
{
	char tenant[VIG_NAME_MAX], sha[SHA_HEX];
	struct tmpfile t;
	int64_t size = 0;
	int in;
	enum vig_err err = check_meta(meta, errbuf);

	if (err == VIG_OK)
		err = target_tenant(ev, who, incident_id, meta, tenant, errbuf);
	if (err != VIG_OK)
		return err;
	in = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO,
				"cannot open %s: %s", path, strerror(errno));
	err = tmp_open(ev, tenant, &t, errbuf);
	if (err == VIG_OK)
		err = hash_copy(in, t.fd, ev->max_bytes, sha, &size, errbuf);
	close(in);
	if (err == VIG_OK && expected_sha256 && strcmp(sha, expected_sha256) != 0)
		err = vig_errf(errbuf, VIG_EIO, "%s fails its SHA-256 check: %s, expected %s", path,
			       sha, expected_sha256);
	if (err != VIG_OK) {
		tmp_discard(&t);
		return err;
	}
	err = tmp_commit(ev, tenant, &t, sha, errbuf);
	if (err == VIG_OK)
		err = record_item(ev, who, incident_id, meta, sha, size, id, created, errbuf);
	return err;
}

/* ---- reading ---- */

enum vig_err vig_evidence_list(struct vig_evidence *ev, const struct vig_principal *who,
			       int64_t incident_id, json_t **out, char *errbuf)
{
	char tenant[VIG_NAME_MAX];
	sqlite3_stmt *st = NULL;
	json_t *arr = json_array();
	sqlite3 *h = vig_db_lock(ev->db);
	enum vig_err err = incident_tenant(h, who, incident_id, tenant, errbuf);
	int rc = SQLITE_DONE;

	*out = NULL;
	if (err == VIG_OK &&
	    !(st = vig_db_stmt(h, errbuf,
			       "SELECT " ITEM_COLS " FROM incident_evidence WHERE incident_id = ?1"
			       " ORDER BY id LIMIT ?2",
			       "ii", incident_id, (int64_t)VIG_EVIDENCE_LIST_MAX)))
		err = VIG_EIO;
	if (err == VIG_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			json_array_append_new(arr, item_json(st));
		if (rc != SQLITE_DONE)
			err = vig_db_fail(h, errbuf);
	}
	sqlite3_finalize(st);
	vig_db_unlock(ev->db);
	if (err == VIG_OK && !(*out = json_pack("{s:O,s:I}", "evidence", arr, "count",
						(json_int_t)json_array_size(arr))))
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	json_decref(arr);
	return err;
}

static enum vig_err custody_rows(sqlite3 *h, int64_t id, json_t *arr, char *errbuf)
{
	sqlite3_stmt *st =
		vig_db_stmt(h, errbuf,
			    "SELECT id, ts, actor, action, detail, sha256_seen, prev_hash, hash"
			    " FROM evidence_custody WHERE evidence_id = ?1 ORDER BY id LIMIT ?2",
			    "ii", id, (int64_t)VIG_EVIDENCE_CUSTODY_MAX);
	int rc;

	if (!st)
		return VIG_EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:I,s:o,s:s,s:s,s:s,s:s?,s:s,s:s}", "id",
						     (json_int_t)sqlite3_column_int64(st, 0), "ts",
						     time_json(sqlite3_column_int64(st, 1)),
						     "actor", col(st, 2), "action", col(st, 3),
						     "detail", col(st, 4), "sha256_seen",
						     (const char *)sqlite3_column_text(st, 5),
						     "prev_hash", col(st, 6), "hash", col(st, 7)));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VIG_OK : vig_db_fail(h, errbuf);
}

enum vig_err vig_evidence_get(struct vig_evidence *ev, const struct vig_principal *who, int64_t id,
			      json_t **out, char *errbuf)
{
	sqlite3 *h = vig_db_lock(ev->db);
	json_t *custody = json_array();
	enum vig_err err = item_load(h, who, id, out, errbuf);

	if (err == VIG_OK)
		err = custody_rows(h, id, custody, errbuf);
	vig_db_unlock(ev->db);
	if (err == VIG_OK)
		json_object_set(*out, "custody", custody);
	json_decref(custody);
	if (err != VIG_OK) {
		json_decref(*out);
		*out = NULL;
	}
	return err;
}

/* Reads item id (visible to who) into *item and re-hashes its file into seen / *size. */
static enum vig_err load_and_hash(struct vig_evidence *ev, const struct vig_principal *who,
				  int64_t id, json_t **item, char seen[SHA_HEX], int64_t *size,
				  char *errbuf)
{
	char path[1200];
	sqlite3 *h = vig_db_lock(ev->db);
	enum vig_err err = item_load(h, who, id, item, errbuf);

	vig_db_unlock(ev->db);
	seen[0] = '\0';
	*size = 0;
	if (err != VIG_OK)
		return err;
	if (!vig_evidence_path(ev, jstr(*item, "tenant"), jstr(*item, "sha256"), path,
			       sizeof(path)))
		return vig_errf(errbuf, VIG_EINVAL, "evidence path too long");
	return hash_path(path, INT64_MAX, seen, size, errbuf);
}

/* Audits a failed integrity check of item (outside any transaction). */
static void audit_integrity(struct vig_evidence *ev, const struct vig_principal *who, json_t *item,
			    const char *step, const char *seen, const char *reason)
{
	json_t *after =
		json_pack("{s:s,s:s,s:s?,s:s}", "step", step, "sha256", jstr(item, "sha256"),
			  "sha256_seen", seen && *seen ? seen : NULL, "reason", reason);
	char *a = after ? json_dumps(after, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char idbuf[24], errbuf[VIG_ERRBUF_SIZE];

	snprintf(idbuf, sizeof(idbuf), "%lld", (long long)jint(item, "id"));
	vig_audit_append(ev->db, who, jstr(item, "tenant"), "evidence.integrity_failure",
			 "evidence", idbuf, NULL, a, reason, NULL, errbuf);
	free(a);
	json_decref(after);
}

enum vig_err vig_evidence_open_verified(struct vig_evidence *ev, const struct vig_principal *who,
					int64_t id, int *fd, json_t **item, char *errbuf)
{
	char seen[SHA_HEX], path[1200];
	int64_t size;
	enum vig_err err = load_and_hash(ev, who, id, item, seen, &size, errbuf);

	*fd = -1;
	if (err == VIG_OK && strcmp(seen, jstr(*item, "sha256")) != 0)
		err = vig_errf(errbuf, VIG_EIO,
			       "evidence %lld fails its SHA-256 check: stored file hashes to %s, "
			       "recorded %s",
			       (long long)id, seen, jstr(*item, "sha256"));
	if (err != VIG_OK && err != VIG_ENOTFOUND && *item) {
		audit_integrity(ev, who, *item, "download", seen, errbuf);
	} else if (err == VIG_ENOTFOUND && *item) { /* the item exists, its file does not */
		err = vig_errf(errbuf, VIG_EIO, "evidence %lld: stored file is missing",
			       (long long)id);
		audit_integrity(ev, who, *item, "download", NULL, errbuf);
	}
	if (err == VIG_OK) {
		vig_evidence_path(ev, jstr(*item, "tenant"), seen, path, sizeof(path));
		*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (*fd < 0)
			err = vig_errf(errbuf, VIG_EIO, "cannot open %s: %s", path,
				       strerror(errno));
	}
	if (err == VIG_OK) {
		struct step s = {"downloaded", "", seen};

		err = custody_step(ev, who, id, &s, NULL, errbuf);
	}
	if (err != VIG_OK) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		json_decref(*item);
		*item = NULL;
	}
	return err;
}

enum vig_err vig_evidence_verify(struct vig_evidence *ev, const struct vig_principal *who,
				 int64_t id, json_t **out, char *errbuf)
{
	char seen[SHA_HEX] = "", why[VIG_ERRBUF_SIZE] = "", chain_why[VIG_ERRBUF_SIZE] = "";
	char detail[VIG_ERRBUF_SIZE * 2 + 64];
	int64_t size = 0, entries = 0, first_bad = 0;
	json_t *item = NULL;
	bool sha_ok, chain_ok;
	enum vig_err err = load_and_hash(ev, who, id, &item, seen, &size, why);

	*out = NULL;
	if (!item)
		return vig_errf(errbuf, err, "%s", why);
	sha_ok = err == VIG_OK && strcmp(seen, jstr(item, "sha256")) == 0;
	if (err == VIG_OK && !sha_ok)
		snprintf(why, sizeof(why), "stored file hashes to %s, recorded %s", seen,
			 jstr(item, "sha256"));
	err = vig_evidence_chain_check(ev, id, &entries, &first_bad, chain_why);
	if (err != VIG_OK && err != VIG_ECONFLICT) {
		json_decref(item);
		return vig_errf(errbuf, err, "%s", chain_why);
	}
	chain_ok = err == VIG_OK;
	snprintf(detail, sizeof(detail), "sha256 %s%s%s; chain %s%s%s", sha_ok ? "ok" : "FAILED",
		 sha_ok ? "" : ": ", sha_ok ? "" : why, chain_ok ? "ok" : "BROKEN",
		 chain_ok ? "" : ": ", chain_ok ? "" : chain_why);
	{
		struct step s = {"verified", detail, seen[0] ? seen : NULL};

		err = custody_step(ev, who, id, &s, NULL, errbuf);
	}
	if (err == VIG_OK && !sha_ok)
		audit_integrity(ev, who, item, "verify", seen, why);
	if (err == VIG_OK)
		*out = json_pack(
			"{s:I,s:b,s:b,s:b,s:s,s:s?,s:I,s:I,s:o,s:s?}", "id", (json_int_t)id, "ok",
			sha_ok && chain_ok, "sha256_ok", sha_ok, "chain_ok", chain_ok, "sha256",
			jstr(item, "sha256"), "sha256_seen", seen[0] ? seen : NULL, "size_seen",
			(json_int_t)size, "custody_entries", (json_int_t)entries, "first_bad_entry",
			first_bad ? json_integer(first_bad) : json_null(), "reason",
			sha_ok && chain_ok ? NULL : detail);
	json_decref(item);
	if (err == VIG_OK && !*out)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	return err;
}

enum vig_err vig_evidence_custody_note(struct vig_evidence *ev, const struct vig_principal *who,
				       int64_t id, const char *action, const char *detail,
				       int64_t *custody_id, char *errbuf)
{
	struct step s = {action, detail, NULL};
	enum vig_err err;

	if (!action || (strcmp(action, "transferred") != 0 && strcmp(action, "exported") != 0))
		return vig_errf(errbuf, VIG_EINVAL, "action must be transferred or exported");
	err = check_text("detail", detail, VIG_EVIDENCE_DETAIL_MAX, true, errbuf);
	return err != VIG_OK ? err : custody_step(ev, who, id, &s, custody_id, errbuf);
}
