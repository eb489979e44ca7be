/*
 * evstore_sqlite.c - the SQLite implementation of the event store (evstore.h).
 *
 * One database file (events.db, WAL, auto_vacuum=INCREMENTAL) holds one table per UTC day,
 * "ev_YYYYMMDD", created on first use inside the append that needs it, and a table of
 * committed batch keys, and the dictionary of repeated strings (table dict; evstore.h "Layout").
 * The physical columns come from query_sql.c (vig_store_field_storage)
 * so that the query compiler and the writer agree. Retention drops whole day tables and then
 * returns free pages to the file system with incremental_vacuum.
 *
 * Invariants:
 *  - s->days (sorted day numbers of existing tables) changes only under s->wlock, and is read
 *    under s->dlock; a day enters it only after the COMMIT that created its table.
 *  - Cached insert statements belong to the writer connection (under s->wlock); they are all
 *    finalised when an append fails (its CREATE TABLEs rolled back) and per day on drop.
 *  - Reads take a connection from the pool (s->pool, under s->plock) for the whole call, so
 *    they see one WAL snapshot per statement, never a half-committed append.
 *  - The dictionary cache (s->dc) only holds ids of committed or in-transaction dict rows; a
 *    ROLLBACK clears it (its new rows are gone), and a full cache starts over.
 *
 * Where ingest time goes (perf, 200k events, 1000 per append, 4 KiB pages): ~25% in the
 * kernel writing WAL frames (pwrite) and fsync, ~9% in B-tree index seeks
 * (sqlite3BtreeIndexMoveto), the rest spread over VDBE, record building and malloc. The WAL
 * volume is the cost: each 1000-event commit dirties the tail pages of the table and of every
 * index, plus about one page per event of each index on random values (process.entity_id,
 * source.ip, destination.ip), and every dirty page is written whole to the WAL and again at
 * the checkpoint. Larger pages measured better (PAGE_SIZE_BYTES). Next structural steps, in
 * the order they should pay: (1) keep the random-valued indexes out of the hot path (build
 * them when a day closes, or write them as sorted runs into a separate lookup table per
 * append); (2) larger appends (the server coalescing requests into one transaction); (3) for
 * <= 100 bytes/event, column-oriented compressed blocks (zstd over columns of a few thousand
 * events, indexes pointing at blocks): a SQLite row store pays ~35 header bytes per row for
 * its columns, 4-16 bytes per IP and 16 per process entity id, and ~10-15 bytes per index
 * entry, which keeps it around 150-170 bytes/event on this mix.
 */
#include "evstore.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/buf.h"
#include "../common/vtime.h"
#include "query.h"

#define INS_CACHE 8            /* insert statements kept, one per recent day */
#define DECODE_ARENA (8u << 20) /* bytes one decoded row may use */
/* Database page size, fixed when the file is created. Measured on vig-store-bench (300k
 * events): 2/4/8/16 KiB gave ~46k/54k/60k/73k events per CPU second (fewer, fuller pages per
 * index split and fewer WAL frames per commit); reads did not measurably suffer. */
#ifndef PAGE_SIZE_BYTES
#define PAGE_SIZE_BYTES 16384
#endif
#define STR_(x) #x
#define STR(x) STR_(x)
#define WAL_CHECKPOINT_PAGES ((64 << 20) / PAGE_SIZE_BYTES) /* WAL pages between checkpoints */
#define WAL_LIMIT_BYTES (64 << 20) /* the WAL file is truncated to this after a checkpoint */

#define DICT_CACHE_MAX (1u << 20)   /* dictionary strings cached by the writer */
#define SCHEMA_VERSION 2            /* PRAGMA user_version of the current layout */

/* One cached dictionary entry of the writer (open addressing, linear probing). */
struct dict_ent {
	uint64_t h;  /* FNV-1a of the string */
	int64_t id;  /* dict.id */
	char *str;   /* owned copy; NULL = empty slot */
	uint32_t n;  /* bytes of str */
};

struct dict_cache {
	struct dict_ent *tab; /* cap slots */
	size_t cap, n;        /* cap is a power of two, n <= cap / 2 */
};

struct ins_slot {
	int64_t day;         /* day of the table, or INT64_MIN when empty */
	sqlite3_stmt *stmt;  /* INSERT into that table */
};

struct vig_evstore {
	char *db_path;               /* DIR/events.db */
	struct vig_evstore_opts opts; /* with defaults filled in */
	pthread_mutex_t wlock;       /* the writer connection and the insert cache */
	sqlite3 *w;                  /* writer */
	struct ins_slot ins[INS_CACHE];
	unsigned ins_next;           /* next slot to evict */
	struct dict_cache dc;        /* string -> dict id (writer, under wlock) */
	sqlite3_stmt *dict_sel;      /* SELECT id FROM dict WHERE v = ? */
	sqlite3_stmt *dict_ins;      /* INSERT INTO dict (v) VALUES (?) */
	int64_t app_id;              /* appends.id of the append being written (under wlock) */
	char app_base_hex[24];       /* its idbase as hex: generated event ids start with it */
	pthread_mutex_t dlock;       /* days */
	int64_t *days;               /* existing day tables, ascending */
	size_t n_days, cap_days;
	pthread_mutex_t plock;       /* pool */
	pthread_cond_t pcond;        /* a reader was returned */
	sqlite3 **pool;              /* read connections */
	bool *pool_busy;             /* in use */
	unsigned n_pool;
	struct vig_evstore_stats st; /* counters, updated atomically */
	uint8_t sto[VIG_F__COUNT];   /* enum vig_storage of every core field */
	int hot[VIG_F__COUNT];       /* fields with a column, in column order */
	int n_hot;
};

#define STAT_ADD(s, f, v) __atomic_add_fetch(&(s)->st.f, (v), __ATOMIC_RELAXED)

/* ---- dictionary of repeated strings ---- */

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void dict_cache_clear(struct dict_cache *dc)
{
	for (size_t i = 0; i < dc->cap; i++)
		free(dc->tab[i].str);
	free(dc->tab);
	memset(dc, 0, sizeof(*dc));
}

static struct dict_ent *dict_slot(struct dict_cache *dc, uint64_t h, const char *p, size_t n)
{
	size_t mask = dc->cap - 1, i = (size_t)h & mask;

	while (dc->tab[i].str) {
		if (dc->tab[i].h == h && dc->tab[i].n == n && memcmp(dc->tab[i].str, p, n) == 0)
			break;
		i = (i + 1) & mask;
	}
	return &dc->tab[i];
}

/* Remembers p -> id; a full cache (DICT_CACHE_MAX strings) starts over, an allocation failure
 * just skips caching (the database stays the truth). */
static void dict_cache_put(struct dict_cache *dc, uint64_t h, const char *p, size_t n, int64_t id)
{
	struct dict_ent *e;
	char *copy;

	if (dc->n + 1 > DICT_CACHE_MAX)
		dict_cache_clear(dc);
	if (dc->n + 1 > dc->cap / 2) {
		size_t cap = dc->cap ? dc->cap * 2 : 4096;
		struct dict_ent *nt = calloc(cap, sizeof(*nt)), *old = dc->tab;
		size_t ocap = dc->cap;
		if (!nt)
			return;
		dc->tab = nt;
		dc->cap = cap;
		for (size_t i = 0; i < ocap; i++)
			if (old[i].str)
				*dict_slot(dc, old[i].h, old[i].str, old[i].n) = old[i];
		free(old);
	}
	copy = malloc(n + 1);
	if (!copy)
		return;
	memcpy(copy, p, n);
	copy[n] = '\0';
	e = dict_slot(dc, h, p, n);
	e->h = h;
	e->id = id;
	e->str = copy;
	e->n = (uint32_t)n;
	dc->n++;
}

/* The dict id of n bytes at p, adding the string to the dictionary (inside the append's
 * transaction; a rollback must clear the cache). Caller holds wlock. */
static int dict_id(struct vig_evstore *s, const char *p, size_t n, int64_t *id)
{
	uint64_t h = fnv1a(p, n);
	int rc;

	if (s->dc.cap) {
		struct dict_ent *e = dict_slot(&s->dc, h, p, n);
		if (e->str) {
			*id = e->id;
			return SQLITE_OK;
		}
	}
	sqlite3_bind_text(s->dict_sel, 1, p, (int)n, SQLITE_STATIC);
	rc = sqlite3_step(s->dict_sel);
	if (rc == SQLITE_ROW)
		*id = sqlite3_column_int64(s->dict_sel, 0);
	sqlite3_reset(s->dict_sel);
	if (rc == SQLITE_DONE) {
		sqlite3_bind_text(s->dict_ins, 1, p, (int)n, SQLITE_STATIC);
		rc = sqlite3_step(s->dict_ins);
		sqlite3_reset(s->dict_ins);
		if (rc != SQLITE_DONE)
			return rc;
		*id = sqlite3_last_insert_rowid(s->w);
	} else if (rc != SQLITE_ROW) {
		return rc;
	}
	dict_cache_put(&s->dc, h, p, n, *id);
	return SQLITE_OK;
}

/* ---- helpers ---- */

static void table_name(int64_t day, char out[16])
{
	int y, m, d;

	vig_time_civil(day, &y, &m, &d);
	snprintf(out, 16, "ev_%04d%02d%02d", y, m, d);
}

static bool table_day(const char *name, int64_t *day)
{
	int y, m, d;

	if (strlen(name) != 11 || sscanf(name, "ev_%4d%2d%2d", &y, &m, &d) != 3)
		return false;
	*day = vig_time_days_from_civil(y, m, d);
	return true;
}

static enum vig_err exec(sqlite3 *db, const char *sql, char *errbuf)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return VIG_OK;
	vig_errf(errbuf, VIG_EIO, "evstore: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return VIG_EIO;
}

static enum vig_err db_err(sqlite3 *db, char *errbuf, const char *what)
{
	return vig_errf(errbuf, VIG_EIO, "evstore: %s: %s", what, sqlite3_errmsg(db));
}

static bool has_day(struct vig_evstore *s, int64_t day)
{
	size_t lo = 0, hi = s->n_days;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->days[mid] == day)
			return true;
		if (s->days[mid] < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Adds day to the sorted list (caller holds dlock). */
static enum vig_err add_day(struct vig_evstore *s, int64_t day)
{
	size_t i;

	if (has_day(s, day))
		return VIG_OK;
	if (s->n_days == s->cap_days) {
		size_t cap = s->cap_days ? s->cap_days * 2 : 64;
		int64_t *nd = realloc(s->days, cap * sizeof(*nd));
		if (!nd)
			return VIG_ENOMEM;
		s->days = nd;
		s->cap_days = cap;
	}
	for (i = s->n_days; i > 0 && s->days[i - 1] > day; i--)
		s->days[i] = s->days[i - 1];
	s->days[i] = day;
	s->n_days++;
	return VIG_OK;
}

static void remove_day(struct vig_evstore *s, int64_t day)
{
	for (size_t i = 0; i < s->n_days; i++) {
		if (s->days[i] == day) {
			memmove(&s->days[i], &s->days[i + 1], (s->n_days - i - 1) * sizeof(*s->days));
			s->n_days--;
			return;
		}
	}
}

/* SQL column type of a stored core field. */
static const char *column_decl(enum vig_field f)
{
	const struct vig_field_info *fi = vig_field_info(f);

	if (vig_store_field_storage(f) == VIG_STO_HEX16 || vig_store_field_storage(f) == VIG_STO_EVENT_ID)
		return "";
	if (vig_store_field_storage(f) == VIG_STO_DICT)
		return f == VIG_F_TENANT_ID ? " INTEGER NOT NULL" : " INTEGER";
	switch (fi->type) {
	case VIG_T_INT:
	case VIG_T_TS:
		return f == VIG_F_TIMESTAMP ? " INTEGER NOT NULL" : " INTEGER";
	case VIG_T_IP:
		return " BLOB";
	case VIG_T_STR:
		if (f == VIG_F_TENANT_ID)
			return " TEXT NOT NULL";
		return (fi->flags & VIG_FF_KW) ? " TEXT" : " TEXT COLLATE NOCASE";
	default:
		return " TEXT";
	}
}

/* VIG_FF_IDX fields that get no index (see evstore.h, "Indexes"): a handful of values each,
 * so an index selects a large share of the day and a scan of the compact rows is as fast. */
static bool no_index(int f)
{
	return f == VIG_F_EVENT_CATEGORY || f == VIG_F_EVENT_ACTION || f == VIG_F_PROCESS_EXECUTABLE;
}

static enum vig_err create_day_table(struct vig_evstore *s, int64_t day, char *errbuf)
{
	char t[16];
	struct vig_buf b;
	enum vig_err e;

	table_name(day, t);
	vig_buf_init(&b, 64 << 10);
	vig_buf_printf(&b, "CREATE TABLE IF NOT EXISTS %s (", t);
	for (int i = 0; i < s->n_hot; i++)
		vig_buf_printf(&b, "%s%s, ", vig_field_info(s->hot[i])->column, column_decl(s->hot[i]));
	vig_buf_adds(&b, "x TEXT);");
	vig_buf_printf(&b, "CREATE INDEX IF NOT EXISTS %s_tenant_ts ON %s(tenant_id, ts);", t, t);
	for (int i = 0; i < s->n_hot; i++) {
		const struct vig_field_info *fi = vig_field_info(s->hot[i]);
		if (!(fi->flags & VIG_FF_IDX) || s->hot[i] == VIG_F_TIMESTAMP || no_index(s->hot[i]))
			continue;
		vig_buf_printf(&b, "CREATE INDEX IF NOT EXISTS %s_%s ON %s(%s) WHERE %s IS NOT NULL;",
			       t, fi->column, t, fi->column, fi->column);
	}
	if (vig_buf_err(&b) != VIG_OK) {
		vig_buf_release(&b);
		return vig_errf(errbuf, VIG_EINTERNAL, "evstore: schema text too long");
	}
	e = exec(s->w, b.data, errbuf);
	vig_buf_release(&b);
	return e;
}

static void ins_cache_clear(struct vig_evstore *s)
{
	for (int i = 0; i < INS_CACHE; i++) {
		sqlite3_finalize(s->ins[i].stmt);
		s->ins[i].stmt = NULL;
		s->ins[i].day = INT64_MIN;
	}
}

/* Insert statement of day's table (creating the table when new). */
static sqlite3_stmt *ins_stmt(struct vig_evstore *s, int64_t day, char *errbuf)
{
	char t[16];
	struct vig_buf b;
	struct ins_slot *slot;
	bool known;

	for (int i = 0; i < INS_CACHE; i++)
		if (s->ins[i].day == day && s->ins[i].stmt)
			return s->ins[i].stmt;
	pthread_mutex_lock(&s->dlock);
	known = has_day(s, day);
	pthread_mutex_unlock(&s->dlock);
	if (!known && create_day_table(s, day, errbuf) != VIG_OK)
		return NULL;
	slot = &s->ins[s->ins_next];
	s->ins_next = (s->ins_next + 1) % INS_CACHE;
	sqlite3_finalize(slot->stmt);
	slot->stmt = NULL;
	slot->day = INT64_MIN;
	table_name(day, t);
	vig_buf_init(&b, 64 << 10);
	vig_buf_printf(&b, "INSERT INTO %s (", t);
	for (int i = 0; i < s->n_hot; i++)
		vig_buf_printf(&b, "%s, ", vig_field_info(s->hot[i])->column);
	vig_buf_adds(&b, "x) VALUES (");
	for (int i = 0; i < s->n_hot; i++)
		vig_buf_adds(&b, "?, ");
	vig_buf_adds(&b, "?)");
	if (vig_buf_err(&b) != VIG_OK ||
	    sqlite3_prepare_v3(s->w, b.data, -1, SQLITE_PREPARE_PERSISTENT, &slot->stmt, NULL) != SQLITE_OK) {
		db_err(s->w, errbuf, "prepare insert");
		vig_buf_release(&b);
		return NULL;
	}
	vig_buf_release(&b);
	slot->day = day;
	return slot->stmt;
}

static bool is_hex32_lower(const char *p, size_t n)
{
	if (n != 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static void hex_to_bytes_n(const char *p, uint8_t *out, int n)
{
	for (int i = 0; i < n; i++) {
		int hi = p[2 * i] <= '9' ? p[2 * i] - '0' : p[2 * i] - 'a' + 10;
		int lo = p[2 * i + 1] <= '9' ? p[2 * i + 1] - '0' : p[2 * i + 1] - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
}

/* Appends a JSON value of v to b (strings escaped, lists as arrays). */
static void json_val(struct vig_buf *b, const struct vig_val *v)
{
	char num[40];

	switch (v->type) {
	case VIG_T_STR:
		vig_buf_add_json_str(b, v->u.s, v->n);
		break;
	case VIG_T_INT:
	case VIG_T_TS:
		vig_buf_printf(b, "%lld", (long long)v->u.i);
		break;
	case VIG_T_BOOL:
		vig_buf_adds(b, v->u.i ? "true" : "false");
		break;
	case VIG_T_FLOAT:
		snprintf(num, sizeof(num), "%.17g", v->u.d);
		if (!strpbrk(num, ".eEni")) {
			size_t nl = strlen(num); /* keep it a float on the way back; %.17g < 30 bytes */
			memcpy(num + nl, ".0", 3);
		}
		vig_buf_adds(b, strpbrk(num, "ni") ? "null" : num);
		break;
	case VIG_T_IP: {
		char ip[48];
		vig_ip_format(v->u.ip, ip);
		vig_buf_add_json_str(b, ip, strlen(ip));
		break;
	}
	case VIG_T_LIST:
		vig_buf_addc(b, '[');
		for (uint32_t i = 0; i < v->n; i++) {
			if (i)
				vig_buf_addc(b, ',');
			vig_buf_add_json_str(b, v->u.l[i].p, v->u.l[i].len);
		}
		vig_buf_addc(b, ']');
		break;
	default:
		vig_buf_adds(b, "null");
		break;
	}
}

/* The JSON column: cold core fields by ECS name, then extension fields. Empty -> len 0. */
static void build_x(struct vig_evstore *s, const struct vig_event *ev, struct vig_buf *b)
{
	bool first = true;

	vig_buf_reset(b);
	for (int f = 0; f < VIG_F__COUNT; f++) {
		if (!ev->f[f].type || s->sto[f] != VIG_STO_JSON)
			continue;
		vig_buf_addc(b, first ? '{' : ',');
		first = false;
		vig_buf_add_json_str(b, vig_field_info((enum vig_field)f)->name,
				     strlen(vig_field_info((enum vig_field)f)->name));
		vig_buf_addc(b, ':');
		json_val(b, &ev->f[f]);
	}
	for (uint32_t i = 0; i < ev->n_ext; i++) {
		vig_buf_addc(b, first ? '{' : ',');
		first = false;
		vig_buf_add_json_str(b, ev->ext[i].key, strlen(ev->ext[i].key));
		vig_buf_addc(b, ':');
		json_val(b, &ev->ext[i].v);
	}
	if (!first)
		vig_buf_addc(b, '}');
}

static enum vig_err bind_event(struct vig_evstore *s, sqlite3_stmt *st, const struct vig_event *ev,
			       struct vig_buf *x)
{
	int rc = SQLITE_OK;
	uint8_t h[16];

	for (int i = 0; i < s->n_hot && rc == SQLITE_OK; i++) {
		enum vig_field f = (enum vig_field)s->hot[i];
		const struct vig_val *v = &ev->f[f];
		int col = i + 1;
		if (s->sto[f] == VIG_STO_APPEND && v->type == VIG_T_TS) {
			rc = sqlite3_bind_int64(st, col, s->app_id); /* set to the append's time */
			continue;
		}
		switch (v->type) {
		case VIG_T_NONE:
			rc = sqlite3_bind_null(st, col);
			break;
		case VIG_T_STR:
			if (s->sto[f] == VIG_STO_DICT) {
				int64_t id = 0;
				rc = dict_id(s, v->u.s, v->n, &id);
				if (rc == SQLITE_OK)
					rc = sqlite3_bind_int64(st, col, id);
			} else if (s->sto[f] == VIG_STO_EVENT_ID && is_hex32_lower(v->u.s, v->n) &&
				   memcmp(v->u.s, s->app_base_hex, 24) == 0) {
				uint8_t off[4];
				hex_to_bytes_n(v->u.s + 24, off, 4);
				rc = sqlite3_bind_int64(st, col, (int64_t)((uint32_t)off[0] << 24 | (uint32_t)off[1] << 16 |
									   (uint32_t)off[2] << 8 | off[3]));
			} else if ((s->sto[f] == VIG_STO_HEX16 || s->sto[f] == VIG_STO_EVENT_ID) &&
				   is_hex32_lower(v->u.s, v->n)) {
				hex_to_bytes_n(v->u.s, h, 16);
				rc = sqlite3_bind_blob(st, col, h, 16, SQLITE_TRANSIENT);
			} else {
				rc = sqlite3_bind_text(st, col, v->u.s, (int)v->n, SQLITE_STATIC);
			}
			break;
		case VIG_T_INT:
		case VIG_T_TS:
			rc = sqlite3_bind_int64(st, col, v->u.i);
			break;
		case VIG_T_IP:
			rc = vig_store_ip_is_v4(v->u.ip) ? sqlite3_bind_blob(st, col, v->u.ip + 12, 4, SQLITE_STATIC)
							 : sqlite3_bind_blob(st, col, v->u.ip, 16, SQLITE_STATIC);
			break;
		default: {
			struct vig_buf lb;
			vig_buf_init(&lb, 1u << 24);
			json_val(&lb, v);
			rc = vig_buf_err(&lb) ? SQLITE_NOMEM :
				sqlite3_bind_text(st, col, lb.data, (int)lb.len, SQLITE_TRANSIENT);
			vig_buf_release(&lb);
			break;
		}
		}
	}
	if (rc != SQLITE_OK)
		return VIG_EIO;
	build_x(s, ev, x);
	if (vig_buf_err(x) != VIG_OK)
		return vig_buf_err(x);
	rc = x->len ? sqlite3_bind_text(st, s->n_hot + 1, x->data, (int)x->len, SQLITE_STATIC)
		    : sqlite3_bind_null(st, s->n_hot + 1);
	return rc == SQLITE_OK ? VIG_OK : VIG_EIO;
}

/* ---- open / close ---- */

static sqlite3 *open_conn(const char *path, const struct vig_evstore_opts *o, bool writer, char *errbuf)
{
	sqlite3 *db = NULL;
	char sql[512];
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);

	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		vig_errf(errbuf, VIG_EIO, "evstore: open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, o->busy_timeout_ms);
	snprintf(sql, sizeof(sql),
		 "%s PRAGMA journal_mode=WAL; PRAGMA synchronous=%s; PRAGMA cache_size=-%d; "
		 "PRAGMA foreign_keys=OFF; PRAGMA wal_autocheckpoint=%d; PRAGMA journal_size_limit=%d; "
		 "PRAGMA temp_store=MEMORY;",
		 writer ? "PRAGMA page_size=" STR(PAGE_SIZE_BYTES) "; PRAGMA auto_vacuum=INCREMENTAL;" : "",
		 o->sync_full ? "FULL" : "NORMAL", writer ? o->writer_cache_kib : o->cache_kib,
		 WAL_CHECKPOINT_PAGES, WAL_LIMIT_BYTES);
	if (exec(db, sql, errbuf) != VIG_OK) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

static enum vig_err load_days(struct vig_evstore *s, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	int64_t day;
	enum vig_err e = VIG_OK;

	if (sqlite3_prepare_v2(s->w, "SELECT name FROM sqlite_master WHERE type='table' AND name GLOB 'ev_[0-9]*'",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, errbuf, "list partitions");
	while (sqlite3_step(st) == SQLITE_ROW && e == VIG_OK)
		if (table_day((const char *)sqlite3_column_text(st, 0), &day))
			e = add_day(s, day);
	sqlite3_finalize(st);
	return e;
}

/* A new database gets the current layout version; one with another version is refused (it
 * would need a migration, which does not exist yet). */
static enum vig_err check_schema(struct vig_evstore *s, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	int64_t ver = -1, tables = -1;
	char sql[64];

	if (sqlite3_prepare_v2(s->w, "SELECT (SELECT user_version FROM pragma_user_version), "
			       "(SELECT count(*) FROM sqlite_master WHERE type = 'table')", -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, errbuf, "schema version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		ver = sqlite3_column_int64(st, 0);
		tables = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (ver == SCHEMA_VERSION)
		return VIG_OK;
	if (tables != 0)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: %s has layout version %lld, this build needs %d",
				s->db_path, (long long)ver, SCHEMA_VERSION);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d;", SCHEMA_VERSION);
	return exec(s->w, sql, errbuf);
}

struct vig_evstore *vig_evstore_open(const char *dir, const struct vig_evstore_opts *opts, char *errbuf)
{
	struct vig_evstore *s;
	size_t dl = strlen(dir);

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		vig_errf(errbuf, VIG_EIO, "evstore: mkdir %s: %s", dir, strerror(errno));
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->dlock, NULL);
	pthread_mutex_init(&s->plock, NULL);
	pthread_cond_init(&s->pcond, NULL);
	for (int i = 0; i < INS_CACHE; i++)
		s->ins[i].day = INT64_MIN;
	if (opts)
		s->opts = *opts;
	if (!s->opts.read_conns)
		s->opts.read_conns = 4;
	if (s->opts.read_conns > 64)
		s->opts.read_conns = 64;
	if (!s->opts.busy_timeout_ms)
		s->opts.busy_timeout_ms = 5000;
	if (!s->opts.cache_kib)
		s->opts.cache_kib = 16384;
	if (!s->opts.writer_cache_kib)
		s->opts.writer_cache_kib = 262144;
	for (int f = 0; f < VIG_F__COUNT; f++)
		s->sto[f] = (uint8_t)vig_store_field_storage((enum vig_field)f);
	/* Column order: ts, tenant first, then the registry order. */
	s->hot[s->n_hot++] = VIG_F_TIMESTAMP;
	s->hot[s->n_hot++] = VIG_F_TENANT_ID;
	for (int f = 0; f < VIG_F__COUNT; f++)
		if (f != VIG_F_TIMESTAMP && f != VIG_F_TENANT_ID &&
		    vig_store_field_storage((enum vig_field)f) != VIG_STO_JSON)
			s->hot[s->n_hot++] = f;
	s->db_path = malloc(dl + 12);
	if (!s->db_path) {
		vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
		goto out_free;
	}
	memcpy(s->db_path, dir, dl);
	memcpy(s->db_path + dl, "/events.db", 11);
	s->w = open_conn(s->db_path, &s->opts, true, errbuf);
	if (!s->w)
		goto out_free;
	if (check_schema(s, errbuf) != VIG_OK ||
	    exec(s->w, "CREATE TABLE IF NOT EXISTS batches (key TEXT PRIMARY KEY, committed_ns INTEGER NOT NULL) WITHOUT ROWID;"
		 "CREATE TABLE IF NOT EXISTS dict (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE);"
		 "CREATE INDEX IF NOT EXISTS dict_v_nocase ON dict(v COLLATE NOCASE);"
		 "CREATE TABLE IF NOT EXISTS appends (id INTEGER PRIMARY KEY, ingested_ns INTEGER NOT NULL, "
		 "idbase BLOB NOT NULL UNIQUE);",
		 errbuf) != VIG_OK || load_days(s, errbuf) != VIG_OK)
		goto out_free;
	if (sqlite3_prepare_v3(s->w, "SELECT id FROM dict WHERE v = ?", -1, SQLITE_PREPARE_PERSISTENT,
			       &s->dict_sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->w, "INSERT INTO dict (v) VALUES (?)", -1, SQLITE_PREPARE_PERSISTENT,
			       &s->dict_ins, NULL) != SQLITE_OK) {
		db_err(s->w, errbuf, "prepare dictionary");
		goto out_free;
	}
	s->pool = calloc(s->opts.read_conns, sizeof(*s->pool));
	s->pool_busy = calloc(s->opts.read_conns, sizeof(*s->pool_busy));
	if (!s->pool || !s->pool_busy) {
		vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
		goto out_free;
	}
	for (unsigned i = 0; i < s->opts.read_conns; i++) {
		s->pool[i] = open_conn(s->db_path, &s->opts, false, errbuf);
		if (!s->pool[i])
			goto out_free;
		s->n_pool++;
	}
	return s;

out_free:
	vig_evstore_close(s);
	return NULL;
}

void vig_evstore_close(struct vig_evstore *s)
{
	if (!s)
		return;
	ins_cache_clear(s);
	sqlite3_finalize(s->dict_sel);
	sqlite3_finalize(s->dict_ins);
	dict_cache_clear(&s->dc);
	for (unsigned i = 0; i < s->n_pool; i++)
		sqlite3_close(s->pool[i]);
	if (s->w) {
		sqlite3_exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
		sqlite3_close(s->w);
	}
	free(s->pool);
	free(s->pool_busy);
	free(s->days);
	free(s->db_path);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->dlock);
	pthread_mutex_destroy(&s->plock);
	pthread_cond_destroy(&s->pcond);
	free(s);
}

/* ---- append ---- */

/* Checks the events and fills in event.id (base, then the big-endian index in the append),
 * @timestamp and event.ingested. */
static enum vig_err prepare_events(struct vig_event *const *evs, size_t n, int64_t now,
				   const uint8_t base[12], char *errbuf)
{
	uint8_t id[16];
	char hex[33];
	enum vig_err e;

	for (size_t i = 0; i < n; i++) {
		const struct vig_val *t = vig_event_get(evs[i], VIG_F_TENANT_ID);
		if (!t || t->n == 0)
			return vig_errf(errbuf, VIG_EINVAL, "evstore: event %zu has no tenant.id", i);
	}
	for (size_t i = 0; i < n; i++) {
		struct vig_event *ev = evs[i];
		e = VIG_OK;
		if (!vig_event_get(ev, VIG_F_EVENT_ID)) {
			memcpy(id, base, 12);
			id[12] = (uint8_t)(i >> 24);
			id[13] = (uint8_t)(i >> 16);
			id[14] = (uint8_t)(i >> 8);
			id[15] = (uint8_t)i;
			vig_hex(id, 16, hex);
			e = vig_event_set_str(ev, VIG_F_EVENT_ID, hex, 32);
		}
		if (e == VIG_OK && !vig_event_get(ev, VIG_F_TIMESTAMP))
			e = vig_event_set_ts(ev, VIG_F_TIMESTAMP, now);
		if (e == VIG_OK)
			e = vig_event_set_ts(ev, VIG_F_EVENT_INGESTED, now);
		if (e != VIG_OK)
			return vig_errf(errbuf, e, "evstore: event %zu: cannot set ids: %s", i, vig_strerror(e));
	}
	return VIG_OK;
}

/* Inside BEGIN: true when key committed within the TTL. */
static enum vig_err batch_seen(struct vig_evstore *s, const char *key, int64_t now, bool *seen, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*seen = false;
	if (sqlite3_prepare_v2(s->w, "SELECT committed_ns FROM batches WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, errbuf, "batch lookup");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seen = sqlite3_column_int64(st, 0) >= now - VIG_EVSTORE_BATCH_KEY_TTL_NS;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_err(s->w, errbuf, "batch lookup");
	return VIG_OK;
}

static enum vig_err batch_record(struct vig_evstore *s, const char *key, int64_t now, char *errbuf)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(s->w, "INSERT OR REPLACE INTO batches (key, committed_ns) VALUES (?, ?)", -1,
			       &st, NULL) != SQLITE_OK)
		return db_err(s->w, errbuf, "batch record");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? VIG_OK : db_err(s->w, errbuf, "batch record");
}

/* Inside BEGIN: the appends row of this append (ingested time, base of generated ids). A
 * clash of two random 96-bit bases fails the append (UNIQUE), it does not mix their ids. */
static enum vig_err append_record(struct vig_evstore *s, int64_t now, const uint8_t base[12], char *errbuf)
{
	sqlite3_stmt *st = NULL;
	char hex[25];
	int rc;

	if (sqlite3_prepare_v2(s->w, "INSERT INTO appends (ingested_ns, idbase) VALUES (?, ?)", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(s->w, errbuf, "append record");
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, base, 12, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s->w, errbuf, "append record");
	s->app_id = sqlite3_last_insert_rowid(s->w);
	vig_hex(base, 12, hex);
	memcpy(s->app_base_hex, hex, 24);
	return VIG_OK;
}

/* Writes the events; new day numbers go to new_days (n_new). Caller holds wlock inside BEGIN. */
static enum vig_err write_events(struct vig_evstore *s, struct vig_event *const *evs, size_t n,
				 int64_t *new_days, size_t *n_new, char *errbuf)
{
	struct vig_buf x;
	enum vig_err e = VIG_OK;

	vig_buf_init(&x, 1u << 24);
	for (size_t i = 0; i < n && e == VIG_OK; i++) {
		int64_t day = vig_time_day(evs[i]->f[VIG_F_TIMESTAMP].u.i);
		bool known;
		pthread_mutex_lock(&s->dlock);
		known = has_day(s, day);
		pthread_mutex_unlock(&s->dlock);
		if (!known) {
			bool listed = false;
			for (size_t k = 0; k < *n_new; k++)
				listed |= new_days[k] == day;
			if (!listed && *n_new < 64)
				new_days[(*n_new)++] = day;
			else if (!listed) {
				e = vig_errf(errbuf, VIG_ETOOBIG, "evstore: one append spans more than 64 new days");
				break;
			}
		}
		sqlite3_stmt *st = ins_stmt(s, day, errbuf);
		if (!st) {
			e = VIG_EIO;
			break;
		}
		e = bind_event(s, st, evs[i], &x);
		if (e != VIG_OK) {
			vig_errf(errbuf, e, "evstore: event %zu: cannot encode", i);
			sqlite3_reset(st);
			break;
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			e = db_err(s->w, errbuf, "insert");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	vig_buf_release(&x);
	return e;
}

enum vig_err vig_evstore_append(struct vig_evstore *s, struct vig_event *const *evs, size_t n,
				const char *batch_key, bool *duplicate, char *errbuf)
{
	int64_t now = vig_time_now();
	int64_t new_days[64];
	uint8_t base[12];
	size_t n_new = 0;
	bool seen = false;
	enum vig_err e;

	if (duplicate)
		*duplicate = false;
	if (n > VIG_EVSTORE_MAX_APPEND) {
		STAT_ADD(s, rejected, 1);
		return vig_errf(errbuf, VIG_ETOOBIG, "evstore: %zu events in one append, most is %d", n,
				VIG_EVSTORE_MAX_APPEND);
	}
	if (batch_key && (!duplicate || strlen(batch_key) == 0 || strlen(batch_key) > VIG_EVSTORE_BATCH_KEY_MAX)) {
		STAT_ADD(s, rejected, 1);
		return vig_errf(errbuf, VIG_EINVAL, "evstore: batch key must be 1 to %d bytes",
				VIG_EVSTORE_BATCH_KEY_MAX);
	}
	e = vig_random(base, sizeof(base));
	if (e != VIG_OK) {
		STAT_ADD(s, rejected, 1);
		return vig_errf(errbuf, e, "evstore: no random bytes for event ids");
	}
	e = prepare_events(evs, n, now, base, errbuf);
	if (e != VIG_OK) {
		STAT_ADD(s, rejected, 1);
		return e;
	}
	pthread_mutex_lock(&s->wlock);
	e = exec(s->w, "BEGIN IMMEDIATE", errbuf);
	if (e != VIG_OK)
		goto out_unlock;
	if (batch_key) {
		e = batch_seen(s, batch_key, now, &seen, errbuf);
		if (e != VIG_OK || seen)
			goto out_rollback;
	}
	e = append_record(s, now, base, errbuf);
	if (e == VIG_OK)
		e = write_events(s, evs, n, new_days, &n_new, errbuf);
	if (e == VIG_OK && batch_key)
		e = batch_record(s, batch_key, now, errbuf);
	if (e != VIG_OK)
		goto out_rollback;
	e = exec(s->w, "COMMIT", errbuf);
	if (e != VIG_OK)
		goto out_rollback;
	pthread_mutex_lock(&s->dlock);
	for (size_t k = 0; k < n_new; k++)
		if (add_day(s, new_days[k]) != VIG_OK)
			e = vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
	pthread_mutex_unlock(&s->dlock);
	pthread_mutex_unlock(&s->wlock);
	STAT_ADD(s, events_stored, n);
	STAT_ADD(s, batches, 1);
	return e;

out_rollback:
	sqlite3_exec(s->w, "ROLLBACK", NULL, NULL, NULL);
	dict_cache_clear(&s->dc); /* ids of rolled-back dictionary rows */
	if (n_new)
		ins_cache_clear(s); /* statements of rolled-back tables */
out_unlock:
	pthread_mutex_unlock(&s->wlock);
	if (seen) {
		*duplicate = true;
		STAT_ADD(s, duplicates, 1);
		return VIG_OK;
	}
	STAT_ADD(s, rejected, 1);
	return e;
}

/* ---- reads ---- */

/* True when day's table was dropped by retention after the read took its list of days. */
static bool day_gone(struct vig_evstore *s, int64_t day)
{
	bool gone;

	pthread_mutex_lock(&s->dlock);
	gone = !has_day(s, day);
	pthread_mutex_unlock(&s->dlock);
	return gone;
}

static sqlite3 *pool_get(struct vig_evstore *s, unsigned *slot)
{
	pthread_mutex_lock(&s->plock);
	for (;;) {
		for (unsigned i = 0; i < s->n_pool; i++) {
			if (!s->pool_busy[i]) {
				s->pool_busy[i] = true;
				pthread_mutex_unlock(&s->plock);
				*slot = i;
				return s->pool[i];
			}
		}
		pthread_cond_wait(&s->pcond, &s->plock);
	}
}

static void pool_put(struct vig_evstore *s, unsigned slot)
{
	pthread_mutex_lock(&s->plock);
	s->pool_busy[slot] = false;
	pthread_cond_signal(&s->pcond);
	pthread_mutex_unlock(&s->plock);
}

/* What every read shares: the compiled query, the scope, the time range, the days to scan. */
struct readq {
	struct vig_sql sql;     /* compiled query */
	const struct vig_scope *scope;
	int64_t from_ns, to_ns;
	int64_t *days;          /* days to scan, ascending */
	size_t n_days;
	bool nothing;           /* scope sees no tenant */
};

static void readq_release(struct readq *r)
{
	vig_sql_release(&r->sql);
	free(r->days);
}

static enum vig_err readq_init(struct vig_evstore *s, struct readq *r, const struct vig_scope *scope,
			       const char *query, int64_t from_ns, int64_t to_ns, char *errbuf)
{
	struct vig_query *q;
	enum vig_err e = VIG_OK;
	int64_t d0, d1;

	memset(r, 0, sizeof(*r));
	vig_sql_init(&r->sql);
	if (!scope)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: no tenant scope");
	if (to_ns <= from_ns)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: empty time range");
	for (size_t i = 0; !scope->all && i < scope->n_tenants; i++)
		if (!scope->tenants[i])
			return vig_errf(errbuf, VIG_EINVAL, "evstore: NULL tenant in scope");
	if (!scope->all && scope->n_tenants > 1000)
		return vig_errf(errbuf, VIG_ETOOBIG, "evstore: more than 1000 tenants in scope");
	r->scope = scope;
	r->from_ns = from_ns;
	r->to_ns = to_ns;
	r->nothing = !scope->all && scope->n_tenants == 0;
	q = vig_query_parse(query ? query : "", query ? strlen(query) : 0, &e, errbuf);
	if (!q) {
		STAT_ADD(s, query_errors, 1);
		return e;
	}
	e = vig_query_to_sql(q, &r->sql, errbuf);
	vig_query_free(q);
	if (e != VIG_OK) {
		STAT_ADD(s, query_errors, 1);
		return e;
	}
	d0 = vig_time_day(from_ns);
	d1 = vig_time_day(to_ns - 1);
	pthread_mutex_lock(&s->dlock);
	for (size_t i = 0; i < s->n_days; i++)
		if (s->days[i] >= d0 && s->days[i] <= d1)
			r->n_days++;
	if (r->n_days > VIG_EVSTORE_MAX_DAYS) {
		e = vig_errf(errbuf, VIG_ETOOBIG, "evstore: range spans more than %d stored days",
			     VIG_EVSTORE_MAX_DAYS);
	} else if (r->n_days) {
		r->days = malloc(r->n_days * sizeof(*r->days));
		if (!r->days) {
			e = vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
		} else {
			size_t k = 0;
			for (size_t i = 0; i < s->n_days; i++)
				if (s->days[i] >= d0 && s->days[i] <= d1)
					r->days[k++] = s->days[i];
		}
	}
	pthread_mutex_unlock(&s->dlock);
	STAT_ADD(s, searches, 1);
	return e;
}

/* Appends " WHERE ts >= ? AND ts < ? [AND tenant_id IN (...)] AND (query)" to b; the time
 * condition is left out (whole_day) when the range covers the partition's whole day, which
 * lets SQLite pick a table scan or a field index instead of walking the time index. */
static void where_text(const struct readq *r, bool whole_day, struct vig_buf *b)
{
	vig_buf_adds(b, whole_day ? " WHERE 1" : " WHERE ts >= ? AND ts < ?");
	if (!r->scope->all) {
		vig_buf_adds(b, " AND tenant_id IN (SELECT id FROM dict WHERE v IN (");
		for (size_t i = 0; i < r->scope->n_tenants; i++)
			vig_buf_adds(b, i ? ", ?" : "?");
		vig_buf_adds(b, "))");
	}
	vig_buf_adds(b, " AND (");
	vig_buf_adds(b, r->sql.text.data ? r->sql.text.data : "1");
	vig_buf_adds(b, ")");
}

/* Binds the where_text parameters starting at *idx. */
static int bind_where(const struct readq *r, bool whole_day, sqlite3_stmt *st, int *idx)
{
	int rc = SQLITE_OK;

	if (!whole_day) {
		rc |= sqlite3_bind_int64(st, (*idx)++, r->from_ns);
		rc |= sqlite3_bind_int64(st, (*idx)++, r->to_ns);
	}
	for (size_t i = 0; !r->scope->all && i < r->scope->n_tenants; i++)
		rc |= sqlite3_bind_text(st, (*idx)++, r->scope->tenants[i], -1, SQLITE_STATIC);
	for (size_t i = 0; i < r->sql.n_params; i++) {
		const struct vig_sql_param *p = &r->sql.params[i];
		int col = (*idx)++;
		if (p->type == VIG_SQLP_INT)
			rc |= sqlite3_bind_int64(st, col, p->i);
		else if (p->type == VIG_SQLP_BLOB)
			rc |= sqlite3_bind_blob(st, col, p->p, (int)p->n, SQLITE_STATIC);
		else
			rc |= sqlite3_bind_text(st, col, p->p, (int)p->n, SQLITE_STATIC);
	}
	return rc;
}

/* Prepares "<head> FROM <table><from_extra> WHERE ... <tail>" and binds the where parameters
 * from index first_idx on (head's own '?' come first); *next_idx gets the next free index. */
static sqlite3_stmt *prepare_read(sqlite3 *db, const struct readq *r, int64_t day, const char *head,
				  const char *from_extra, const char *tail, int first_idx, int *next_idx,
				  char *errbuf)
{
	char t[16];
	struct vig_buf b;
	sqlite3_stmt *st = NULL;
	int idx = first_idx;
	bool whole_day = r->from_ns <= day * VIG_NS_PER_DAY && r->to_ns >= (day + 1) * VIG_NS_PER_DAY;

	table_name(day, t);
	vig_buf_init(&b, 4u << 20);
	vig_buf_printf(&b, "%s FROM %s%s", head, t, from_extra ? from_extra : "");
	where_text(r, whole_day, &b);
	vig_buf_adds(&b, tail ? tail : "");
	if (vig_buf_err(&b) != VIG_OK) {
		vig_errf(errbuf, VIG_ETOOBIG, "evstore: query too long");
		goto out;
	}
	if (sqlite3_prepare_v2(db, b.data, (int)b.len, &st, NULL) != SQLITE_OK) {
		db_err(db, errbuf, "prepare read");
		st = NULL;
		goto out;
	}
	if (bind_where(r, whole_day, st, &idx) != SQLITE_OK) {
		db_err(db, errbuf, "bind");
		sqlite3_finalize(st);
		st = NULL;
		goto out;
	}
	if (next_idx)
		*next_idx = idx;
out:
	vig_buf_release(&b);
	return st;
}

/* Sets one field of ev from a JSON value of the x column. */
static enum vig_err decode_x_item(struct vig_event *ev, const char *key, json_t *v)
{
	int f = vig_field_lookup(key, strlen(key));

	if (f >= 0) {
		enum vig_type t = vig_field_info((enum vig_field)f)->type;
		if (json_is_string(v))
			return vig_event_set_text(ev, (enum vig_field)f, json_string_value(v), json_string_length(v));
		if (json_is_integer(v))
			return t == VIG_T_TS ? vig_event_set_ts(ev, (enum vig_field)f, json_integer_value(v))
					     : vig_event_set_int(ev, (enum vig_field)f, json_integer_value(v));
		if (json_is_array(v)) {
			size_t i;
			json_t *it;
			json_array_foreach(v, i, it) {
				if (!json_is_string(it))
					continue;
				enum vig_err e = vig_event_list_add(ev, (enum vig_field)f, json_string_value(it),
								    json_string_length(it));
				if (e != VIG_OK)
					return e;
			}
		}
		return VIG_OK;
	}
	if (json_is_string(v))
		return vig_event_ext_str(ev, key, json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return vig_event_ext_int(ev, key, json_integer_value(v));
	if (json_is_real(v))
		return vig_event_ext_float(ev, key, json_real_value(v));
	if (json_is_boolean(v))
		return vig_event_ext_bool(ev, key, json_is_true(v));
	return VIG_OK;
}

static enum vig_err decode_row(struct vig_evstore *s, sqlite3_stmt *st, struct vig_event *ev)
{
	enum vig_err e = VIG_OK;
	char hex[33];

	for (int i = 0; i < s->n_hot && e == VIG_OK; i++) {
		enum vig_field f = (enum vig_field)s->hot[i];
		int ct = sqlite3_column_type(st, i);
		if (ct == SQLITE_NULL)
			continue;
		const struct vig_field_info *fi = vig_field_info(f);
		if (ct == SQLITE_BLOB && fi->type == VIG_T_IP && sqlite3_column_bytes(st, i) == 4) {
			uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			memcpy(ip + 12, sqlite3_column_blob(st, i), 4);
			e = vig_event_set_ip16(ev, f, ip);
		} else if (ct == SQLITE_BLOB && fi->type == VIG_T_IP && sqlite3_column_bytes(st, i) == 16) {
			e = vig_event_set_ip16(ev, f, sqlite3_column_blob(st, i));
		} else if (ct == SQLITE_BLOB && sqlite3_column_bytes(st, i) == 16) {
			vig_hex(sqlite3_column_blob(st, i), 16, hex);
			e = vig_event_set_str(ev, f, hex, 32);
		} else if (ct == SQLITE_INTEGER) {
			e = fi->type == VIG_T_TS ? vig_event_set_ts(ev, f, sqlite3_column_int64(st, i))
						 : vig_event_set_int(ev, f, sqlite3_column_int64(st, i));
		} else if (fi->type == VIG_T_LIST) {
			json_t *j = json_loadb((const char *)sqlite3_column_text(st, i),
					       (size_t)sqlite3_column_bytes(st, i), 0, NULL);
			if (j)
				e = decode_x_item(ev, fi->name, j);
			json_decref(j);
		} else {
			e = vig_event_set_str(ev, f, (const char *)sqlite3_column_text(st, i),
					      (size_t)sqlite3_column_bytes(st, i));
		}
	}
	if (e == VIG_OK && sqlite3_column_type(st, s->n_hot) == SQLITE_TEXT) {
		json_t *o = json_loadb((const char *)sqlite3_column_text(st, s->n_hot),
				       (size_t)sqlite3_column_bytes(st, s->n_hot), 0, NULL);
		const char *k;
		json_t *v;
		json_object_foreach(o, k, v) {
			e = decode_x_item(ev, k, v);
			if (e != VIG_OK)
				break;
		}
		json_decref(o);
	}
	return e;
}

enum vig_err vig_evstore_search(struct vig_evstore *s, const struct vig_scope *scope,
				const char *query, int64_t from_ns, int64_t to_ns, size_t limit,
				bool ascending, vig_evstore_event_fn fn, void *ctx,
				size_t *n_found, char *errbuf)
{
	struct readq r;
	struct vig_arena arena;
	struct vig_event ev;
	struct vig_buf head;
	size_t found = 0;
	unsigned slot;
	sqlite3 *db;
	bool stop = false;
	enum vig_err e;

	if (n_found)
		*n_found = 0;
	if (limit == 0 || limit > VIG_EVSTORE_MAX_LIMIT)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: limit must be 1 to %d", VIG_EVSTORE_MAX_LIMIT);
	if (!fn)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: no callback");
	e = readq_init(s, &r, scope, query, from_ns, to_ns, errbuf);
	if (e != VIG_OK || r.nothing || r.n_days == 0) {
		readq_release(&r);
		return e;
	}
	vig_buf_init(&head, 64 << 10);
	vig_buf_adds(&head, "SELECT ");
	for (int i = 0; i < s->n_hot; i++) {
		vig_store_field_expr((enum vig_field)s->hot[i], &head);
		vig_buf_adds(&head, ", ");
	}
	vig_buf_adds(&head, "x");
	vig_arena_init(&arena, 16384, DECODE_ARENA);
	db = pool_get(s, &slot);
	for (size_t k = 0; k < r.n_days && !stop && e == VIG_OK; k++) {
		int64_t day = ascending ? r.days[k] : r.days[r.n_days - 1 - k];
		int idx;
		sqlite3_stmt *st = prepare_read(db, &r, day, head.data, NULL,
						ascending ? " ORDER BY ts ASC, rowid ASC LIMIT ?"
							  : " ORDER BY ts DESC, rowid DESC LIMIT ?",
						1, &idx, errbuf);
		if (!st) {
			if (day_gone(s, day))
				continue;
			e = VIG_EIO;
			break;
		}
		sqlite3_bind_int64(st, idx, (int64_t)(limit - found));
		int rc;
		while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			vig_arena_reset(&arena);
			vig_event_init(&ev, &arena);
			if (decode_row(s, st, &ev) != VIG_OK) {
				e = vig_errf(errbuf, VIG_EIO, "evstore: cannot decode a stored event");
				break;
			}
			found++;
			if (!fn(ctx, &ev) || found >= limit)
				stop = true;
		}
		if (!stop && e == VIG_OK && rc != SQLITE_DONE)
			e = db_err(db, errbuf, "search");
		sqlite3_finalize(st);
	}
	pool_put(s, slot);
	vig_arena_release(&arena);
	vig_buf_release(&head);
	readq_release(&r);
	if (n_found)
		*n_found = found;
	return e;
}

enum vig_err vig_evstore_count(struct vig_evstore *s, const struct vig_scope *scope,
			       const char *query, int64_t from_ns, int64_t to_ns,
			       uint64_t *count, char *errbuf)
{
	struct readq r;
	unsigned slot;
	sqlite3 *db;
	enum vig_err e;

	*count = 0;
	e = readq_init(s, &r, scope, query, from_ns, to_ns, errbuf);
	if (e != VIG_OK || r.nothing || r.n_days == 0) {
		readq_release(&r);
		return e;
	}
	db = pool_get(s, &slot);
	for (size_t k = 0; k < r.n_days && e == VIG_OK; k++) {
		sqlite3_stmt *st = prepare_read(db, &r, r.days[k], "SELECT count(*)", NULL, NULL, 1, NULL, errbuf);
		if (!st) {
			if (day_gone(s, r.days[k]))
				continue;
			e = VIG_EIO;
			break;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			*count += (uint64_t)sqlite3_column_int64(st, 0);
		else
			e = db_err(db, errbuf, "count");
		sqlite3_finalize(st);
	}
	pool_put(s, slot);
	readq_release(&r);
	return e;
}

/* Text of an aggregated key of field f (-1: extension) for the API. */
static char *key_text(sqlite3_stmt *st, int col, int f)
{
	char buf[64];
	int ct = sqlite3_column_type(st, col);
	enum vig_type t = f >= 0 ? vig_field_info((enum vig_field)f)->type : VIG_T_STR;

	if (ct == SQLITE_BLOB && t == VIG_T_IP && sqlite3_column_bytes(st, col) == 4) {
		uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memcpy(ip + 12, sqlite3_column_blob(st, col), 4);
		vig_ip_format(ip, buf);
		return strdup(buf);
	}
	if (ct == SQLITE_BLOB && sqlite3_column_bytes(st, col) == 16) {
		if (t == VIG_T_IP)
			vig_ip_format(sqlite3_column_blob(st, col), buf);
		else
			vig_hex(sqlite3_column_blob(st, col), 16, buf);
		return strdup(buf);
	}
	if (ct == SQLITE_INTEGER && t == VIG_T_TS) {
		vig_time_format(sqlite3_column_int64(st, col), buf);
		return strdup(buf);
	}
	return strdup((const char *)sqlite3_column_text(st, col) ? (const char *)sqlite3_column_text(st, col) : "");
}

enum vig_err vig_evstore_top(struct vig_evstore *s, const struct vig_scope *scope,
			     const char *query, int64_t from_ns, int64_t to_ns, const char *field,
			     size_t size, struct vig_evstore_top *out, char *errbuf)
{
	struct readq r;
	struct vig_buf head, from_extra;
	uint64_t total = 0, shown = 0, matched = 0;
	struct vig_buf kexpr, tail;
	unsigned slot;
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	int f;
	bool is_list = false, is_ext = false, is_dict = false;
	enum vig_err e;

	memset(out, 0, sizeof(*out));
	if (!field || size == 0 || size > VIG_EVSTORE_MAX_TOP)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: top needs a field and a size of 1 to %d",
				VIG_EVSTORE_MAX_TOP);
	f = vig_field_lookup(field, strlen(field));
	if (f < 0) {
		size_t fl = strlen(field);
		if (fl == 0 || fl > VIG_EVENT_MAX_KEY || strpbrk(field, "\"\\'"))
			return vig_errf(errbuf, VIG_EINVAL, "evstore: invalid field name");
		is_ext = true;
	} else {
		is_list = vig_field_info((enum vig_field)f)->type == VIG_T_LIST;
	}
	e = readq_init(s, &r, scope, query, from_ns, to_ns, errbuf);
	if (e != VIG_OK || r.nothing || r.n_days == 0) {
		readq_release(&r);
		return e;
	}
	vig_buf_init(&head, 4096);
	vig_buf_init(&from_extra, 4096);
	vig_buf_init(&kexpr, 4096);
	vig_buf_init(&tail, 8192);
	/* The key expression: a column, a JSON path (registry names only), or a bound ext path. */
	if (is_list) {
		vig_buf_adds(&head, "SELECT j.value AS k");
		if (vig_store_field_storage((enum vig_field)f) == VIG_STO_JSON)
			vig_buf_printf(&from_extra, ", json_each(x,'$.\"%s\"') AS j", vig_field_info((enum vig_field)f)->name);
		else
			vig_buf_printf(&from_extra, ", json_each(%s) AS j", vig_field_info((enum vig_field)f)->column);
	} else if (is_ext) {
		vig_buf_adds(&head, "SELECT json_extract(x, ?) AS k");
	} else if (vig_store_field_storage((enum vig_field)f) == VIG_STO_DICT) {
		is_dict = true; /* group by the id, look up the text of the buckets at the end */
		vig_buf_adds(&kexpr, vig_field_info((enum vig_field)f)->column);
	} else {
		vig_store_field_expr((enum vig_field)f, &kexpr);
	}
	if (kexpr.len) {
		/* One value per row: group only the rows that have it (the field's partial index then
		 * covers the grouping) and count the others as the total less the grouped rows. */
		vig_buf_printf(&head, "SELECT %s AS k", kexpr.data);
		vig_buf_printf(&tail, " AND %s IS NOT NULL", kexpr.data);
	}
	vig_buf_adds(&tail, ") WHERE true GROUP BY k ON CONFLICT(k) DO UPDATE SET c = c + excluded.c");
	db = pool_get(s, &slot);
	e = exec(db, "CREATE TEMP TABLE IF NOT EXISTS agg (k UNIQUE, c INTEGER); DELETE FROM temp.agg;",
		 errbuf);
	for (size_t k = 0; k < r.n_days && e == VIG_OK; k++) {
		struct vig_buf sql;
		char path[VIG_EVENT_MAX_KEY + 8];
		vig_buf_init(&sql, 4096);
		vig_buf_printf(&sql, "INSERT INTO temp.agg (k, c) SELECT k, count(*) FROM (%s", head.data);
		st = prepare_read(db, &r, r.days[k], sql.data, from_extra.data, tail.data, is_ext ? 2 : 1, NULL,
				  errbuf);
		vig_buf_release(&sql);
		if (!st) {
			if (day_gone(s, r.days[k]))
				continue;
			e = VIG_EIO;
			break;
		}
		if (is_ext) {
			snprintf(path, sizeof(path), "$.\"%s\"", field);
			sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
		}
		if (sqlite3_step(st) != SQLITE_DONE)
			e = db_err(db, errbuf, "top");
		sqlite3_finalize(st);
		st = NULL;
		if (e != VIG_OK || !kexpr.len)
			continue;
		st = prepare_read(db, &r, r.days[k], "SELECT count(*)", NULL, NULL, 1, NULL, errbuf);
		if (!st) {
			e = VIG_EIO;
			break;
		}
		if (sqlite3_step(st) == SQLITE_ROW)
			matched += (uint64_t)sqlite3_column_int64(st, 0);
		else
			e = db_err(db, errbuf, "top");
		sqlite3_finalize(st);
		st = NULL;
	}
	if (e == VIG_OK &&
	    sqlite3_prepare_v2(db, is_dict ? "SELECT (SELECT v FROM main.dict WHERE id = k) AS kv, c FROM temp.agg "
					     "ORDER BY k IS NULL, c DESC, kv"
					   : "SELECT k, c FROM temp.agg ORDER BY k IS NULL, c DESC, k",
			       -1, &st, NULL) != SQLITE_OK)
		e = db_err(db, errbuf, "top");
	if (e == VIG_OK && !(out->buckets = calloc(size, sizeof(*out->buckets))))
		e = vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
	while (e == VIG_OK && sqlite3_step(st) == SQLITE_ROW) {
		uint64_t c = (uint64_t)sqlite3_column_int64(st, 1);
		if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
			out->missing += c;
			continue;
		}
		total += c;
		if (out->n < size) {
			out->buckets[out->n].key = key_text(st, 0, f);
			out->buckets[out->n++].count = c;
			shown += c;
		}
	}
	sqlite3_finalize(st);
	sqlite3_exec(db, "DELETE FROM temp.agg", NULL, NULL, NULL);
	pool_put(s, slot);
	out->other = total - shown;
	if (kexpr.len)
		out->missing = matched >= total ? matched - total : 0; /* statements may see later snapshots */
	vig_buf_release(&kexpr);
	vig_buf_release(&tail);
	vig_buf_release(&head);
	vig_buf_release(&from_extra);
	readq_release(&r);
	if (e != VIG_OK)
		vig_evstore_top_release(out);
	return e;
}

void vig_evstore_top_release(struct vig_evstore_top *t)
{
	for (size_t i = 0; t->buckets && i < t->n; i++)
		free(t->buckets[i].key);
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

enum vig_err vig_evstore_histogram(struct vig_evstore *s, const struct vig_scope *scope,
				   const char *query, int64_t from_ns, int64_t to_ns,
				   int64_t interval_ns, struct vig_evstore_hist *out, char *errbuf)
{
	struct readq r;
	int64_t first, nb;
	unsigned slot;
	sqlite3 *db;
	enum vig_err e;

	memset(out, 0, sizeof(*out));
	if (interval_ns <= 0 || to_ns <= from_ns)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: histogram needs a positive interval and range");
	first = floor_div(from_ns, interval_ns) * interval_ns;
	nb = floor_div(to_ns - 1 - first, interval_ns) + 1;
	if (nb > VIG_EVSTORE_MAX_HIST)
		return vig_errf(errbuf, VIG_ETOOBIG, "evstore: more than %d histogram buckets", VIG_EVSTORE_MAX_HIST);
	out->interval_ns = interval_ns;
	out->n = (size_t)nb;
	out->ts_ns = calloc(out->n, sizeof(*out->ts_ns));
	out->counts = calloc(out->n, sizeof(*out->counts));
	if (!out->ts_ns || !out->counts) {
		vig_evstore_hist_release(out);
		return vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
	}
	for (size_t i = 0; i < out->n; i++)
		out->ts_ns[i] = first + (int64_t)i * interval_ns;
	e = readq_init(s, &r, scope, query, from_ns, to_ns, errbuf);
	if (e != VIG_OK || r.nothing || r.n_days == 0) {
		readq_release(&r);
		if (e != VIG_OK)
			vig_evstore_hist_release(out);
		return e;
	}
	db = pool_get(s, &slot);
	for (size_t k = 0; k < r.n_days && e == VIG_OK; k++) {
		int idx;
		sqlite3_stmt *st = prepare_read(db, &r, r.days[k], "SELECT (ts - ?) / ? AS b, count(*)",
						NULL, " GROUP BY b", 3, &idx, errbuf);
		if (!st) {
			if (day_gone(s, r.days[k]))
				continue;
			e = VIG_EIO;
			break;
		}
		sqlite3_bind_int64(st, 1, first);
		sqlite3_bind_int64(st, 2, interval_ns);
		while (sqlite3_step(st) == SQLITE_ROW) {
			int64_t b = sqlite3_column_int64(st, 0);
			if (b >= 0 && b < nb)
				out->counts[b] += (uint64_t)sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	pool_put(s, slot);
	readq_release(&r);
	if (e != VIG_OK)
		vig_evstore_hist_release(out);
	return e;
}

void vig_evstore_hist_release(struct vig_evstore_hist *h)
{
	free(h->ts_ns);
	free(h->counts);
	memset(h, 0, sizeof(*h));
}

/* ---- retention ---- */

static enum vig_err drop_day(struct vig_evstore *s, int64_t day, char *errbuf)
{
	char sql[64], t[16];

	for (int i = 0; i < INS_CACHE; i++) {
		if (s->ins[i].day == day) {
			sqlite3_finalize(s->ins[i].stmt);
			s->ins[i].stmt = NULL;
			s->ins[i].day = INT64_MIN;
		}
	}
	table_name(day, t);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", t);
	return exec(s->w, sql, errbuf);
}

/* Deletes the appends rows no remaining event refers to: rowids of a day table grow with the
 * appends, so its first row holds its smallest append id. Caller holds wlock. */
static enum vig_err prune_appends(struct vig_evstore *s, char *errbuf)
{
	int64_t keep = INT64_MAX;
	enum vig_err e = VIG_OK;
	sqlite3_stmt *st = NULL;

	pthread_mutex_lock(&s->dlock);
	for (size_t i = 0; i < s->n_days && e == VIG_OK; i++) {
		char sql[96], t[16];
		table_name(s->days[i], t);
		snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY rowid LIMIT 1",
			 vig_field_info(VIG_F_EVENT_INGESTED)->column, t);
		if (sqlite3_prepare_v2(s->w, sql, -1, &st, NULL) != SQLITE_OK) {
			e = db_err(s->w, errbuf, "prune appends");
			break;
		}
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER &&
		    sqlite3_column_int64(st, 0) < keep)
			keep = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&s->dlock);
	if (e != VIG_OK)
		return e;
	if (sqlite3_prepare_v2(s->w, "DELETE FROM appends WHERE id < ?", -1, &st, NULL) != SQLITE_OK)
		return db_err(s->w, errbuf, "prune appends");
	sqlite3_bind_int64(st, 1, keep);
	if (sqlite3_step(st) != SQLITE_DONE)
		e = db_err(s->w, errbuf, "prune appends");
	sqlite3_finalize(st);
	return e;
}

enum vig_err vig_evstore_expire(struct vig_evstore *s, const char *tenant, int keep_days,
				int64_t now_ns, uint64_t *removed, char *errbuf)
{
	int64_t cutoff = now_ns - (int64_t)keep_days * VIG_NS_PER_DAY;
	int64_t *days = NULL;
	size_t n = 0;
	uint64_t done = 0;
	enum vig_err e = VIG_OK;
	sqlite3_stmt *st = NULL;

	if (removed)
		*removed = 0;
	if (keep_days <= 0 || keep_days > 100000)
		return vig_errf(errbuf, VIG_EINVAL, "evstore: keep_days must be 1 to 100000");
	pthread_mutex_lock(&s->wlock);
	pthread_mutex_lock(&s->dlock);
	days = malloc((s->n_days + 1) * sizeof(*days));
	for (size_t i = 0; days && i < s->n_days; i++)
		if (tenant ? s->days[i] * VIG_NS_PER_DAY < cutoff : (s->days[i] + 1) * VIG_NS_PER_DAY <= cutoff)
			days[n++] = s->days[i];
	pthread_mutex_unlock(&s->dlock);
	if (!days) {
		e = vig_errf(errbuf, VIG_ENOMEM, "evstore: out of memory");
		goto out_unlock;
	}
	for (size_t i = 0; i < n && e == VIG_OK; i++) {
		if (!tenant) {
			e = drop_day(s, days[i], errbuf);
			if (e == VIG_OK) {
				pthread_mutex_lock(&s->dlock);
				remove_day(s, days[i]);
				pthread_mutex_unlock(&s->dlock);
				done++;
			}
			continue;
		}
		char sql[128], t[16];
		table_name(days[i], t);
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant_id = (SELECT id FROM dict WHERE v = ?) AND ts < ?", t);
		if (sqlite3_prepare_v2(s->w, sql, -1, &st, NULL) != SQLITE_OK) {
			e = db_err(s->w, errbuf, "expire");
			break;
		}
		sqlite3_bind_text(st, 1, tenant, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, cutoff);
		if (sqlite3_step(st) == SQLITE_DONE)
			done += (uint64_t)sqlite3_changes(s->w);
		else
			e = db_err(s->w, errbuf, "expire");
		sqlite3_finalize(st);
		st = NULL;
	}
	if (e == VIG_OK && sqlite3_prepare_v2(s->w, "DELETE FROM batches WHERE committed_ns < ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, now_ns - VIG_EVSTORE_BATCH_KEY_TTL_NS);
		sqlite3_step(st);
		sqlite3_finalize(st);
	}
	if (e == VIG_OK && !tenant && done)
		e = prune_appends(s, errbuf);
	if (e == VIG_OK && !tenant && done)
		e = exec(s->w, "PRAGMA incremental_vacuum;", errbuf);
out_unlock:
	pthread_mutex_unlock(&s->wlock);
	free(days);
	if (removed)
		*removed = done;
	return e;
}

void vig_evstore_stats(struct vig_evstore *s, struct vig_evstore_stats *out)
{
	struct stat sb;
	size_t pl = strlen(s->db_path);
	char *wal = malloc(pl + 5);

	out->events_stored = __atomic_load_n(&s->st.events_stored, __ATOMIC_RELAXED);
	out->batches = __atomic_load_n(&s->st.batches, __ATOMIC_RELAXED);
	out->duplicates = __atomic_load_n(&s->st.duplicates, __ATOMIC_RELAXED);
	out->rejected = __atomic_load_n(&s->st.rejected, __ATOMIC_RELAXED);
	out->searches = __atomic_load_n(&s->st.searches, __ATOMIC_RELAXED);
	out->query_errors = __atomic_load_n(&s->st.query_errors, __ATOMIC_RELAXED);
	out->bytes = 0;
	if (stat(s->db_path, &sb) == 0)
		out->bytes += (uint64_t)sb.st_size;
	if (wal) {
		memcpy(wal, s->db_path, pl);
		memcpy(wal + pl, "-wal", 5);
		if (stat(wal, &sb) == 0)
			out->bytes += (uint64_t)sb.st_size;
		free(wal);
	}
	pthread_mutex_lock(&s->dlock);
	out->partitions = s->n_days;
	pthread_mutex_unlock(&s->dlock);
}
