/*
 * audit.c - Linux audit records ("type=SYSCALL msg=audit(1700000000.123:456): arch=c000003e
 * syscall=59 success=yes ... comm="x" exe="/usr/bin/x" key="k"") and the grouper that merges
 * the records of one audit event (same serial: SYSCALL, EXECVE, CWD, PATH..., PROCTITLE, EOE)
 * into one Vigil event.
 *
 * Field names are kept as audit writes them, as extension fields (type, syscall, a0, exe,
 * comm, key, name, nametype, ...), because Sigma's auditd rules name them so; unquoted values
 * of the string-carrying keys are hex-encoded by the kernel and are decoded. The ECS mapping
 * adds process.executable/name/pid/parent.pid/args/command_line/working_directory, user.id,
 * user.effective.id, auditd.auid, file.path, source.ip (addr=), event.outcome (success=/res=).
 * User-space records (USER_LOGIN, USER_AUTH, ...) carry a msg='...' of their own: its pairs
 * are read the same way. The enriched log format (a 0x1d byte, then upper-case interpreted
 * fields such as SYSCALL=execve UID="root") is read too.
 *
 * Merging: records are parsed one after another into the same event; later EXECVE a0..aN
 * replace SYSCALL's a0..a3 (which stay available as auditd.syscall_args), "type" keeps the
 * first record's type and auditd.types lists them all ("SYSCALL EXECVE CWD PATH PROCTITLE").
 */
#include <stdlib.h>

#include "../common/vtime.h"
#include "parse_int.h"

#define ID VIG_PARSER_AUDITD

/* x86_64 syscall names for the numbers detection rules care about. */
static const char *syscall_name(int64_t nr)
{
	switch (nr) {
	case 0: return "read";
	case 1: return "write";
	case 2: return "open";
	case 42: return "connect";
	case 43: return "accept";
	case 49: return "bind";
	case 50: return "listen";
	case 56: return "clone";
	case 57: return "fork";
	case 59: return "execve";
	case 62: return "kill";
	case 82: return "rename";
	case 87: return "unlink";
	case 90: return "chmod";
	case 92: return "chown";
	case 101: return "ptrace";
	case 105: return "setuid";
	case 113: return "setreuid";
	case 117: return "setresuid";
	case 165: return "mount";
	case 175: return "init_module";
	case 257: return "openat";
	case 263: return "unlinkat";
	case 264: return "renameat";
	case 268: return "fchmodat";
	case 288: return "accept4";
	case 313: return "finit_module";
	case 319: return "memfd_create";
	case 322: return "execveat";
	default: return NULL;
	}
}

/* Keys whose unquoted values are hex-encoded strings. */
static bool hex_key(const char *k, size_t n, bool execve)
{
	static const char *const keys[] = {"comm", "exe", "name", "cwd", "proctitle", "key", "acct",
					   "data", "cmd", "path", "old-path", NULL};

	if (execve && n >= 2 && k[0] == 'a' && ps_digit(k[1]))
		return true;
	for (size_t i = 0; keys[i]; i++)
		if (ps_eq(k, n, keys[i]))
			return true;
	return false;
}

/* Value after decoding: quoted → as is; hex (for hex keys) → decoded into the arena. */
static bool decode_val(struct vig_event *ev, const char *k, size_t kn, struct pspan *v, bool quoted,
		       bool execve)
{
	if (quoted || !hex_key(k, kn, execve) || v->n < 2 || ps_eq(v->p, v->n, "(null)"))
		return true;
	char *out = vig_arena_alloc(ev->arena, v->n / 2 + 1);
	if (!out)
		return false;
	long m = phex_decode(v->p, v->n, out, v->n / 2);
	if (m < 0)
		return true; /* not hex: keep the text */
	for (long i = 0; i < m; i++)
		if (out[i] == '\0')
			out[i] = ' '; /* proctitle: NUL-separated argv */
	while (m > 0 && out[m - 1] == ' ')
		m--;
	out[m] = '\0';
	v->p = out;
	v->n = (size_t)m;
	return true;
}

struct arec {
	struct pspan type;   /* record type */
	bool execve;         /* EXECVE record */
	bool syscall;        /* SYSCALL record */
	bool is_x86_64;      /* arch=c000003e */
};

/* ECS mapping of one audit field. */
static enum vig_err map_field(struct vig_event *ev, struct arec *r, const char *k, size_t kn,
			      struct pspan v)
{
	if (v.n == 0 || ps_eq(v.p, v.n, "?") || ps_eq(v.p, v.n, "(null)") || ps_eq(v.p, v.n, "(none)"))
		return VIG_OK;
	if (ps_eq(k, kn, "pid") && !vig_event_get(ev, VIG_F_PROCESS_PID))
		pset_int(ev, VIG_F_PROCESS_PID, v.p, v.n);
	else if (ps_eq(k, kn, "ppid"))
		pset_int(ev, VIG_F_PROCESS_PARENT_PID, v.p, v.n);
	else if (ps_eq(k, kn, "exe") && !vig_event_get(ev, VIG_F_PROCESS_EXECUTABLE))
		PTRY(pset(ev, VIG_F_PROCESS_EXECUTABLE, v.p, v.n));
	else if (ps_eq(k, kn, "comm") && !vig_event_get(ev, VIG_F_PROCESS_NAME))
		PTRY(pset(ev, VIG_F_PROCESS_NAME, v.p, v.n));
	else if (ps_eq(k, kn, "uid") && !vig_event_get(ev, VIG_F_USER_ID))
		PTRY(pset(ev, VIG_F_USER_ID, v.p, v.n));
	else if (ps_eq(k, kn, "euid"))
		PTRY(pset(ev, VIG_F_USER_EFFECTIVE_ID, v.p, v.n));
	else if (ps_eq(k, kn, "auid"))
		PTRY(pext(ev, "auditd.auid", v.p, v.n));
	else if (ps_eq(k, kn, "cwd"))
		PTRY(pset(ev, VIG_F_PROCESS_WORKING_DIRECTORY, v.p, v.n));
	else if (ps_eq(k, kn, "name") && !vig_event_get(ev, VIG_F_FILE_PATH))
		PTRY(pset(ev, VIG_F_FILE_PATH, v.p, v.n));
	else if (ps_eq(k, kn, "acct"))
		PTRY(pset(ev, VIG_F_USER_NAME, v.p, v.n));
	else if (ps_eq(k, kn, "addr") || ps_eq(k, kn, "saddr_ip"))
		pset_ip(ev, VIG_F_SOURCE_IP, v.p, v.n);
	else if (ps_eq(k, kn, "hostname") && !vig_event_get(ev, VIG_F_SOURCE_DOMAIN))
		PTRY(pset(ev, VIG_F_SOURCE_DOMAIN, v.p, v.n));
	else if (ps_eq(k, kn, "success") || ps_eq(k, kn, "res"))
		PTRY(pconst(ev, VIG_F_EVENT_OUTCOME,
			    ps_eq(v.p, v.n, "yes") || ps_eq(v.p, v.n, "success") || ps_eq(v.p, v.n, "1")
				    ? "success" : "failure"));
	else if (ps_eq(k, kn, "arch"))
		r->is_x86_64 = ps_eq(v.p, v.n, "c000003e");
	else if (ps_eq(k, kn, "syscall") && r->is_x86_64) {
		int64_t nr;
		const char *nm = vig_parse_i64(v.p, v.n, &nr) ? syscall_name(nr) : NULL;
		if (nm && !vig_event_ext_get(ev, "SYSCALL", 7))
			PTRY(pext(ev, "SYSCALL", nm, strlen(nm)));
		if (nm)
			PTRY(pconst(ev, VIG_F_EVENT_ACTION, nm));
	} else if (ps_eq(k, kn, "SYSCALL"))
		PTRY(pset(ev, VIG_F_EVENT_ACTION, v.p, v.n));
	else if (r->execve && kn >= 2 && k[0] == 'a' && ps_digit(k[1])) {
		bool all = true;
		for (size_t i = 1; i < kn; i++)
			all = all && ps_digit(k[i]);
		if (all)
			PTRY(vig_event_list_add(ev, VIG_F_PROCESS_ARGS, v.p, v.n));
	}
	return VIG_OK;
}

/* Stores one pair as an extension (keeping audit's name), then maps it. */
static enum vig_err field(struct vig_event *ev, struct arec *r, const char *k, size_t kn,
			  struct pspan v, bool quoted)
{
	char key[VIG_EVENT_MAX_KEY + 1];

	if (kn == 0 || kn > 64)
		return VIG_OK;
	if (!decode_val(ev, k, kn, &v, quoted, r->execve))
		return VIG_ETOOBIG;
	if (ps_eq(k, kn, "type") || ps_eq(k, kn, "msg"))
		return VIG_OK;
	if (r->syscall && kn == 2 && k[0] == 'a' && ps_digit(k[1])) {
		/* SYSCALL's raw argument registers: kept apart from EXECVE's argv a0..aN. */
		int n = snprintf(key, sizeof(key), "auditd.syscall.%.*s", (int)kn, k);
		if (n > 0 && (size_t)n < sizeof(key))
			PTRY(pext(ev, key, v.p, v.n));
		return VIG_OK;
	}
	memcpy(key, k, kn);
	key[kn] = '\0';
	PTRY(pext_num(ev, key, v.p, v.n));
	return map_field(ev, r, k, kn, v);
}

/* Reads the pairs of [p, p+n); msg='...' nests another list (user-space records). */
static enum vig_err pairs(struct vig_event *ev, struct arec *r, const char *p, size_t n, int depth)
{
	struct pspan k, v;
	size_t pos = 0;
	bool q;

	while (pkv_next(p, n, &pos, &k, &v, &q)) {
		while (k.n && (unsigned char)k.p[0] == 0x1d) {
			k.p++;
			k.n--;
		}
		if (ps_eq(k.p, k.n, "msg") && q && depth == 0) {
			PTRY(pairs(ev, r, v.p, v.n, 1));
			continue;
		}
		/* Enriched format: 0x1d separates raw from interpreted fields. */
		const char *gs = memchr(v.p, 0x1d, v.n);
		if (gs) {
			v.n = (size_t)(gs - v.p);
			pos = (size_t)(gs - p);
		}
		PTRY(field(ev, r, k.p, k.n, v, q));
	}
	return VIG_OK;
}

/* "msg=audit(SEC.MS:SERIAL):" (or the kernel log's bare "audit(...)") → ns and serial. */
static bool audit_stamp(const char *p, size_t n, int64_t *ns, uint64_t *serial, size_t *end)
{
	const char *s = ps_find(p, n, "audit(");
	const char *dot, *colon, *close;

	if (!s)
		return false;
	s += 6;
	close = memchr(s, ')', (size_t)(p + n - s));
	if (!close)
		return false;
	colon = memchr(s, ':', (size_t)(close - s));
	dot = memchr(s, '.', (size_t)(close - s));
	if (!colon || !dot || dot > colon)
		return false;
	int64_t sec;
	uint64_t ms;
	if (!vig_parse_i64(s, (size_t)(dot - s), &sec) ||
	    !vig_parse_u64(dot + 1, (size_t)(colon - dot - 1), &ms) || colon - dot - 1 != 3 ||
	    !vig_parse_u64(colon + 1, (size_t)(close - colon - 1), serial))
		return false;
	if (sec < 0 || sec > INT64_MAX / VIG_NS_PER_SEC - 1)
		return false;
	*ns = sec * VIG_NS_PER_SEC + (int64_t)ms * 1000000;
	*end = (size_t)(close - p) + 1;
	if (*end < n && p[*end] == ':')
		(*end)++;
	return true;
}

/* ECS category of a record type. */
static enum vig_err classify(struct vig_event *ev, struct pspan t)
{
	if (ps_eq(t.p, t.n, "EXECVE") ||
	    (ps_eq(t.p, t.n, "SYSCALL") && ev->f[VIG_F_EVENT_ACTION].type &&
	     strncmp(ev->f[VIG_F_EVENT_ACTION].u.s, "exec", 4) == 0))
		return pecs(ev, NULL, "process", "start", NULL, NULL);
	if (ps_starts(t.p, t.n, "USER_LOGIN") || ps_starts(t.p, t.n, "USER_AUTH") ||
	    ps_starts(t.p, t.n, "USER_ERR") || ps_eq(t.p, t.n, "CRED_ACQ"))
		return pecs(ev, NULL, "authentication", "info", NULL, NULL);
	if (ps_starts(t.p, t.n, "ADD_") || ps_starts(t.p, t.n, "DEL_") || ps_eq(t.p, t.n, "USER_MGMT") ||
	    ps_eq(t.p, t.n, "USER_CHAUTHTOK") || ps_eq(t.p, t.n, "ACCT_LOCK"))
		return pecs(ev, NULL, "iam", "change", NULL, NULL);
	if (ps_eq(t.p, t.n, "USER_START") || ps_eq(t.p, t.n, "USER_END"))
		return pecs(ev, NULL, "session", ps_eq(t.p, t.n, "USER_START") ? "start" : "end", NULL, NULL);
	if (ps_eq(t.p, t.n, "USER_CMD"))
		return pecs(ev, NULL, "process", "start", NULL, NULL);
	return VIG_OK;
}

enum vig_err paudit_record(const char *p, size_t n, struct vig_event *ev, uint64_t *serial,
			   char *errbuf)
{
	struct arec r = {{0}, false, false, false};
	int64_t ns;
	size_t end, i = 5;

	if (!ps_starts(p, n, "type="))
		return vig_errf(errbuf, VIG_EPARSE, "audit record does not start with type=");
	while (i < n && p[i] != ' ')
		i++;
	r.type.p = p + 5;
	r.type.n = i - 5;
	if (r.type.n == 0 || !audit_stamp(p, n, &ns, serial, &end))
		return vig_errf(errbuf, VIG_EPARSE, "no msg=audit(seconds.millis:serial) stamp");
	r.execve = ps_eq(r.type.p, r.type.n, "EXECVE");
	r.syscall = ps_eq(r.type.p, r.type.n, "SYSCALL");
	PTRY(vig_event_set_ts(ev, VIG_F_TIMESTAMP, ns));
	if (!vig_event_ext_get(ev, "type", 4))
		PTRY(pext(ev, "type", r.type.p, r.type.n));
	const struct vig_val *types = vig_event_ext_get(ev, "auditd.types", 12);
	if (types && types->type == VIG_T_STR) {
		size_t tn = types->n + 1 + r.type.n;
		char *t = vig_arena_alloc(ev->arena, tn + 1);
		if (!t)
			return VIG_ETOOBIG;
		memcpy(t, types->u.s, types->n);
		t[types->n] = ' ';
		memcpy(t + types->n + 1, r.type.p, r.type.n);
		PTRY(pext(ev, "auditd.types", t, tn));
	} else {
		PTRY(pext(ev, "auditd.types", r.type.p, r.type.n));
	}
	PTRY(vig_event_ext_int(ev, "auditd.sequence", (int64_t)(*serial & INT64_MAX)));
	PTRY(pairs(ev, &r, p + end, n - end, 0));
	if (!r.syscall && !r.execve && !vig_event_get(ev, VIG_F_EVENT_ACTION)) {
		char act[48];
		size_t an = VIG_MIN(r.type.n, sizeof(act));
		for (size_t k = 0; k < an; k++)
			act[k] = (r.type.p[k] >= 'A' && r.type.p[k] <= 'Z') ? (char)(r.type.p[k] + 32) : r.type.p[k];
		PTRY(vig_event_set_str(ev, VIG_F_EVENT_ACTION, act, an));
	}
	PTRY(classify(ev, r.type));
	return pecs(ev, "event", NULL, NULL, NULL, NULL);
}

/* Joins process.args into process.command_line when no better one exists. */
static enum vig_err finish(struct vig_event *ev)
{
	const struct vig_val *a = vig_event_get(ev, VIG_F_PROCESS_ARGS);
	const struct vig_val *pt = vig_event_ext_get(ev, "proctitle", 9);

	PTRY(pconst(ev, VIG_F_EVENT_DATASET, "auditd.log"));
	if (vig_event_get(ev, VIG_F_PROCESS_COMMAND_LINE))
		return VIG_OK;
	if (a && a->n) {
		size_t total = 0;
		for (uint32_t i = 0; i < a->n; i++)
			total += a->u.l[i].len + 1;
		char *cl = vig_arena_alloc(ev->arena, total);
		if (!cl)
			return VIG_ETOOBIG;
		size_t o = 0;
		for (uint32_t i = 0; i < a->n; i++) {
			if (i)
				cl[o++] = ' ';
			memcpy(cl + o, a->u.l[i].p, a->u.l[i].len);
			o += a->u.l[i].len;
		}
		return vig_event_set_str(ev, VIG_F_PROCESS_COMMAND_LINE, cl, VIG_MIN(o, (size_t)VIG_EVENT_MAX_STR));
	}
	if (pt && pt->type == VIG_T_STR)
		return vig_event_set_str(ev, VIG_F_PROCESS_COMMAND_LINE, pt->u.s, pt->n);
	return VIG_OK;
}

enum vig_err vig_parse_auditd(struct vig_parse_ctx *ctx, const char *line, size_t len,
			      struct vig_event *ev, char *errbuf)
{
	uint64_t serial;
	enum vig_err rc;
	const char *t;

	PTRY(pbegin(ctx, ID, line, len, ev, errbuf));
	/* Also accept a syslog- or journal-wrapped record: start at "type=". */
	t = ps_find(line, VIG_MIN(len, (size_t)256), "type=");
	if (!t)
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "no type= in audit record");
	rc = paudit_record(t, len - (size_t)(t - line), ev, &serial, errbuf);
	if (rc == VIG_EPARSE) {
		ctx->stats[ID].failed[VIG_PR_FRAMING]++;
		return rc;
	}
	if (rc != VIG_OK)
		return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
	if (finish(ev) != VIG_OK)
		return pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
	return pdone(ctx, ID, true);
}

/* ---- Grouper. ---- */

enum vig_err vig_audit_grouper_init(struct vig_audit_grouper *g, int64_t timeout_ns)
{
	memset(g, 0, sizeof(*g));
	g->timeout_ns = timeout_ns > 0 ? timeout_ns : 2 * VIG_NS_PER_SEC;
	g->buf = malloc(VIG_AUDIT_MAX_BYTES);
	return g->buf ? VIG_OK : VIG_ENOMEM;
}

void vig_audit_grouper_release(struct vig_audit_grouper *g)
{
	free(g->buf);
	g->buf = NULL;
	g->n_records = 0;
	g->used_bytes = 0;
}

/* Builds the merged event of the buffered records and empties the buffer. */
static enum vig_err emit(struct vig_audit_grouper *g, struct vig_parse_ctx *ctx,
			 struct vig_event *ev, bool *ready, char *errbuf)
{
	enum vig_err rc = VIG_OK;
	uint64_t serial;
	size_t total = 0;
	char *msg;

	if (g->n_records == 0)
		return VIG_OK;
	for (uint32_t i = 0; i < g->n_records; i++)
		total += g->len[i] + 1;
	msg = vig_arena_alloc(ev->arena, total);
	if (!msg) {
		rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
		goto out_empty;
	}
	size_t o = 0;
	for (uint32_t i = 0; i < g->n_records; i++) {
		if (i)
			msg[o++] = '\n';
		memcpy(msg + o, g->buf + g->off[i], g->len[i]);
		o += g->len[i];
	}
	rc = vig_event_set_str(ev, VIG_F_MESSAGE, msg, VIG_MIN(o, (size_t)VIG_EVENT_MAX_STR));
	for (uint32_t i = 0; i < g->n_records && rc == VIG_OK; i++)
		rc = paudit_record(g->buf + g->off[i], g->len[i], ev, &serial, errbuf);
	if (rc == VIG_OK)
		rc = finish(ev);
	if (rc == VIG_OK && g->n_records > 1)
		rc = vig_event_ext_int(ev, "auditd.records", g->n_records);
	if (rc != VIG_OK) {
		rc = pfail(ctx, ID, VIG_PR_TOO_LONG, errbuf, "event arena full");
		goto out_empty;
	}
	*ready = true;
	pdone(ctx, ID, true);
out_empty:
	g->n_records = 0;
	g->used_bytes = 0;
	return rc;
}

enum vig_err vig_audit_grouper_add(struct vig_audit_grouper *g, struct vig_parse_ctx *ctx,
				   const char *line, size_t len, int64_t mono_ns,
				   struct vig_event *ev, bool *ready, char *errbuf)
{
	const char *t;
	int64_t ns;
	uint64_t serial;
	size_t end;
	enum vig_err rc = VIG_OK;

	*ready = false;
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	t = len ? ps_find(line, VIG_MIN(len, (size_t)256), "type=") : NULL;
	if (!t || !audit_stamp(t, len - (size_t)(t - line), &ns, &serial, &end))
		return pfail(ctx, ID, VIG_PR_FRAMING, errbuf, "not an audit record");
	len -= (size_t)(t - line);
	if (g->n_records && serial != g->serial)
		rc = emit(g, ctx, ev, ready, errbuf);
	if (ps_starts(t, len, "type=EOE ")) {
		if (g->n_records && serial == g->serial)
			rc = emit(g, ctx, ev, ready, errbuf);
		return rc;
	}
	if (g->n_records >= VIG_AUDIT_MAX_RECORDS || g->used_bytes + len > VIG_AUDIT_MAX_BYTES) {
		g->dropped++;
		return rc;
	}
	if (g->n_records == 0) {
		g->serial = serial;
		g->first_mono_ns = mono_ns;
	}
	memcpy(g->buf + g->used_bytes, t, len);
	g->off[g->n_records] = g->used_bytes;
	g->len[g->n_records] = (uint32_t)len;
	g->used_bytes += (uint32_t)len;
	g->n_records++;
	return rc;
}

enum vig_err vig_audit_grouper_flush(struct vig_audit_grouper *g, struct vig_parse_ctx *ctx,
				     int64_t mono_ns, bool force, struct vig_event *ev,
				     bool *ready, char *errbuf)
{
	*ready = false;
	if (g->n_records == 0)
		return VIG_OK;
	if (!force && mono_ns - g->first_mono_ns < g->timeout_ns)
		return VIG_OK;
	return emit(g, ctx, ev, ready, errbuf);
}
