/*
 * auth.c - sub-parsers for the content of syslog messages, chosen by program name: sshd, PAM
 * modules (pam_unix and friends, also loghub's "sshd(pam_unix)" tag form), sudo, su, cron,
 * and the shadow-utils account tools (useradd, usermod, userdel, groupadd, groupdel,
 * groupmod, passwd, chpasswd, gpasswd). Kernel lines go to netfilter.c, audit records to
 * audit.c. Each handler returns VIG_OK when it recognised the message, VIG_ENOTFOUND when it
 * did not (the message stays plain syslog), or an arena error.
 *
 * ECS mapping follows the conventions of Elastic's system.auth module: dataset system.auth;
 * authentication attempts are category authentication with outcome success/failure and
 * action ssh_login (or the message's verb); sessions are category session with type
 * start/end; sudo, su and cron are category process with process.command_line; account
 * changes are category iam with type user/group plus creation/change/deletion.
 */
#include "parse_int.h"

#define NF VIG_ENOTFOUND

/* Sets source.ip from text, else source.domain (hosts in PAM's rhost= may be names). */
static enum vig_err set_source(struct vig_event *ev, const char *p, size_t n)
{
	if (n == 0)
		return VIG_OK;
	if (pset_ip(ev, VIG_F_SOURCE_IP, p, n))
		return vig_event_list_add(ev, VIG_F_RELATED_IP, p, n);
	return pset(ev, VIG_F_SOURCE_DOMAIN, p, n);
}

static enum vig_err set_user(struct vig_event *ev, enum vig_field f, const char *p, size_t n)
{
	if (n == 0)
		return VIG_OK;
	PTRY(vig_event_set_str(ev, f, p, n));
	return vig_event_list_add(ev, VIG_F_RELATED_USER, p, n);
}

/* "[invalid user ]USER from IP[ port PORT]..." → user.name, source.ip, source.port. */
static enum vig_err user_from_port(struct vig_event *ev, const char *p, size_t n)
{
	const char *from;
	size_t i;

	if (ps_starts(p, n, "invalid user ")) {
		p += 13;
		n -= 13;
		PTRY(pk_bool(ev, PK_SYSTEM_AUTH_SSH_INVALID_USER, true));
	}
	from = ps_find(p, n, " from ");
	if (!from)
		return NF;
	PTRY(set_user(ev, VIG_F_USER_NAME, p, (size_t)(from - p)));
	i = (size_t)(from - p) + 6;
	size_t s = i;
	while (i < n && p[i] != ' ')
		i++;
	PTRY(set_source(ev, p + s, i - s));
	if (ps_starts(p + i, n - i, " port ")) {
		i += 6;
		s = i;
		while (i < n && ps_digit(p[i]))
			i++;
		pset_int(ev, VIG_F_SOURCE_PORT, p + s, i - s);
	}
	return VIG_OK;
}

/* "[authenticating user U |invalid user U |user U ]IP[ port P]" (disconnect forms). */
static enum vig_err who_ip_port(struct vig_event *ev, const char *p, size_t n)
{
	static const char *const pre[] = {"authenticating user ", "invalid user ", "user "};
	size_t i = 0, s;

	for (size_t k = 0; k < VIG_ARRAY_LEN(pre); k++) {
		if (ps_starts(p, n, pre[k])) {
			i = strlen(pre[k]);
			s = i;
			while (i < n && p[i] != ' ')
				i++;
			PTRY(set_user(ev, VIG_F_USER_NAME, p + s, i - s));
			if (i < n)
				i++;
			break;
		}
	}
	s = i;
	while (i < n && p[i] != ' ' && p[i] != ':')
		i++;
	PTRY(set_source(ev, p + s, i - s));
	if (ps_starts(p + i, n - i, " port ")) {
		i += 6;
		s = i;
		while (i < n && ps_digit(p[i]))
			i++;
		pset_int(ev, VIG_F_SOURCE_PORT, p + s, i - s);
	}
	return VIG_OK;
}

static enum vig_err auth_attempt(struct vig_event *ev, const char *verb_end, const char *p,
				 size_t n, bool ok)
{
	/* p: "METHOD for REST" */
	const char *f = ps_find(p, n, " for ");
	if (!f)
		return NF;
	PTRY(pk_str(ev, PK_SYSTEM_AUTH_SSH_METHOD, p, (size_t)(f - p)));
	PTRY(pecs(ev, NULL, "authentication", "info", "ssh_login", ok ? "success" : "failure"));
	(void)verb_end;
	size_t off = (size_t)(f - p) + 5;
	return user_from_port(ev, p + off, n - off);
}

/* The PAM "key=value ..." tail of "authentication failure; logname= uid=0 ... rhost=X user=U". */
static enum vig_err pam_kv(struct vig_event *ev, const char *p, size_t n)
{
	struct pspan k, v;
	size_t pos = 0;
	bool q;

	while (pkv_next(p, n, &pos, &k, &v, &q)) {
		if (ps_eq(k.p, k.n, "rhost"))
			PTRY(set_source(ev, v.p, v.n));
		else if (ps_eq(k.p, k.n, "user"))
			PTRY(set_user(ev, VIG_F_USER_NAME, v.p, v.n));
		else if (ps_eq(k.p, k.n, "ruser") && v.n)
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_PAM_RUSER, v.p, v.n));
		else if (ps_eq(k.p, k.n, "tty") && v.n)
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_PAM_TTY, v.p, v.n));
		else if (ps_eq(k.p, k.n, "uid") && v.n)
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_PAM_UID, v.p, v.n));
	}
	return VIG_OK;
}

/* PAM message body for service svc ("sshd", "su", ...). */
static enum vig_err pam_body(struct vig_event *ev, const char *svc, size_t svc_n, const char *p,
			     size_t n)
{
	const char *s;

	if (svc_n)
		PTRY(pk_str(ev, PK_SYSTEM_AUTH_PAM_SERVICE, svc, svc_n));
	if (ps_starts(p, n, "authentication failure;")) {
		PTRY(pecs(ev, NULL, "authentication", "info", "authentication_failure", "failure"));
		return pam_kv(ev, p + 23, n - 23);
	}
	if (ps_starts(p, n, "check pass; user unknown"))
		return pecs(ev, NULL, "authentication", "info", "user_unknown", "failure");
	if (ps_starts(p, n, "session opened for user ")) {
		p += 24;
		n -= 24;
		s = ps_find(p, n, " by ");
		size_t un = s ? (size_t)(s - p) : n;
		const char *upar = memchr(p, '(', un); /* newer PAM: "user root(uid=0) by (uid=0)" */
		if (upar)
			un = (size_t)(upar - p);
		while (un && p[un - 1] == ' ')
			un--;
		bool switch_user = ps_eq(svc, svc_n, "su") || ps_eq(svc, svc_n, "sudo") ||
				   ps_eq(svc, svc_n, "su-l") || ps_eq(svc, svc_n, "runuser");
		PTRY(pecs(ev, NULL, "session", "start", "session_opened", "success"));
		if (s && switch_user) {
			const char *by = s + 4, *end = p + n;
			const char *par = memchr(by, '(', (size_t)(end - by));
			size_t bn = par ? (size_t)(par - by) : (size_t)(end - by);
			if (bn)
				PTRY(set_user(ev, VIG_F_USER_NAME, by, bn));
			return set_user(ev, VIG_F_USER_TARGET_NAME, p, un);
		}
		return set_user(ev, VIG_F_USER_NAME, p, un);
	}
	if (ps_starts(p, n, "session closed for user ")) {
		PTRY(pecs(ev, NULL, "session", "end", "session_closed", "success"));
		size_t un = n - 24;
		while (un && p[24 + un - 1] == ' ')
			un--;
		return set_user(ev, VIG_F_USER_NAME, p + 24, un);
	}
	if (ps_starts(p, n, "password changed for ")) {
		PTRY(pecs(ev, NULL, "iam", "change", "password_changed", "success"));
		return set_user(ev, VIG_F_USER_TARGET_NAME, p + 21, n - 21);
	}
	return NF;
}

/* "pam_unix(sshd:auth): ..." anywhere in a program's messages. */
static enum vig_err pam_prefixed(struct vig_event *ev, const char *p, size_t n)
{
	const char *par = memchr(p, '(', VIG_MIN(n, (size_t)32));
	const char *colon, *close;

	if (!par || !ps_starts(p, n, "pam_"))
		return NF;
	close = memchr(par, ')', n - (size_t)(par - p));
	if (!close || close + 2 >= p + n || close[1] != ':')
		return NF;
	colon = memchr(par, ':', (size_t)(close - par));
	size_t svc_n = colon ? (size_t)(colon - par - 1) : (size_t)(close - par - 1);
	PTRY(pk_str(ev, PK_SYSTEM_AUTH_PAM_MODULE, p, (size_t)(par - p)));
	size_t off = (size_t)(close - p) + 2;
	if (off < n && p[off] == ' ')
		off++;
	return pam_body(ev, par + 1, svc_n, p + off, n - off);
}

/* sshd messages; depth bounds the nesting of "error: " and "message repeated" wrappers. */
static enum vig_err sshd(struct vig_event *ev, const char *p, size_t n, int depth)
{
	const char *q;

	if (ps_starts(p, n, "Accepted "))
		return auth_attempt(ev, NULL, p + 9, n - 9, true);
	if (ps_starts(p, n, "Failed "))
		return auth_attempt(ev, NULL, p + 7, n - 7, false);
	if (ps_starts(p, n, "Invalid user ")) {
		PTRY(pecs(ev, NULL, "authentication", "info", "invalid_user", "failure"));
		PTRY(pk_bool(ev, PK_SYSTEM_AUTH_SSH_INVALID_USER, true));
		return user_from_port(ev, p + 13, n - 13);
	}
	if (ps_starts(p, n, "input_userauth_request: invalid user ")) {
		PTRY(pecs(ev, NULL, "authentication", "info", "invalid_user", "failure"));
		q = p + 37;
		size_t k = 0;
		while (q + k < p + n && q[k] != ' ')
			k++;
		return set_user(ev, VIG_F_USER_NAME, q, k);
	}
	if (ps_starts(p, n, "error: ") && depth < 2) {
		enum vig_err r = sshd(ev, p + 7, n - 7, depth + 1);
		return r == VIG_OK || r == VIG_ETOOBIG ? r : NF;
	}
	if (ps_starts(p, n, "maximum authentication attempts exceeded for ")) {
		PTRY(pecs(ev, NULL, "authentication", "info", "max_auth_attempts_exceeded", "failure"));
		return user_from_port(ev, p + 45, n - 45);
	}
	if (ps_starts(p, n, "Disconnecting: Too many authentication failures")) {
		PTRY(pecs(ev, NULL, "authentication", "info", "max_auth_attempts_exceeded", "failure"));
		q = ps_find(p, n, " for ");
		if (q) {
			size_t k = 0;
			while (q + 5 + k < p + n && q[5 + k] != ' ')
				k++;
			PTRY(set_user(ev, VIG_F_USER_NAME, q + 5, k));
		}
		return VIG_OK;
	}
	if (ps_starts(p, n, "Received disconnect from ")) {
		PTRY(pecs(ev, NULL, "session", "end", "disconnect", NULL));
		return who_ip_port(ev, p + 25, n - 25);
	}
	if (ps_starts(p, n, "Disconnected from ")) {
		PTRY(pecs(ev, NULL, "session", "end", "disconnect", NULL));
		return who_ip_port(ev, p + 18, n - 18);
	}
	if (ps_starts(p, n, "Connection closed by ")) {
		PTRY(pecs(ev, NULL, "session", "end", "connection_closed", NULL));
		return who_ip_port(ev, p + 21, n - 21);
	}
	if (ps_starts(p, n, "Connection reset by ")) {
		PTRY(pecs(ev, NULL, "session", "end", "connection_reset", NULL));
		return who_ip_port(ev, p + 20, n - 20);
	}
	if (ps_starts(p, n, "Did not receive identification string from ")) {
		PTRY(pecs(ev, NULL, "network", "info", "no_identification", "failure"));
		return who_ip_port(ev, p + 43, n - 43);
	}
	if (ps_starts(p, n, "reverse mapping checking getaddrinfo for ")) {
		/* "... for HOST [IP] failed - POSSIBLE BREAK-IN ATTEMPT!" */
		const char *h = p + 41, *lb = memchr(h, '[', n - 41);
		const char *rb = lb ? memchr(lb, ']', (size_t)(p + n - lb)) : NULL;
		PTRY(pecs(ev, NULL, "network", "info", "reverse_mapping_failed", "failure"));
		if (lb && lb > h + 1)
			PTRY(pset(ev, VIG_F_SOURCE_DOMAIN, h, (size_t)(lb - h - 1)));
		if (rb)
			PTRY(set_source(ev, lb + 1, (size_t)(rb - lb - 1)));
		return VIG_OK;
	}
	if (ps_starts(p, n, "Address ") && ps_find(p, n, "POSSIBLE BREAK-IN")) {
		size_t k = 8;
		while (k < n && p[k] != ' ')
			k++;
		PTRY(pecs(ev, NULL, "network", "info", "reverse_mapping_failed", "failure"));
		return set_source(ev, p + 8, k - 8);
	}
	if (ps_starts(p, n, "PAM ") && (q = ps_find(p, n, "more authentication failure"))) {
		PTRY(pecs(ev, NULL, "authentication", "info", "authentication_failure", "failure"));
		const char *semi = memchr(q, ';', (size_t)(p + n - q));
		return semi ? pam_kv(ev, semi + 1, (size_t)(p + n - semi - 1)) : VIG_OK;
	}
	if (ps_starts(p, n, "PAM service(")) {
		return pecs(ev, NULL, "authentication", "info", "pam_max_retries", "failure");
	}
	if (ps_starts(p, n, "message repeated ")) {
		const char *lb = memchr(p, '[', n);
		if (depth < 2 && lb && lb + 2 < p + n && sshd(ev, lb + 2, (size_t)(p + n - lb - 2), depth + 1) == VIG_OK) {
			int64_t times;
			const char *t = p + 17, *sp = memchr(t, ' ', (size_t)(p + n - t));
			if (sp && vig_parse_i64(t, (size_t)(sp - t), &times))
				PTRY(vig_event_set_int(ev, VIG_F_EVENT_COUNT, times));
			return VIG_OK;
		}
		return NF;
	}
	if (ps_starts(p, n, "fatal: "))
		return pecs(ev, NULL, "network", "error", "fatal", "failure");
	if (ps_starts(p, n, "Server listening on "))
		return pecs(ev, NULL, "process", "info", "listening", NULL);
	return pam_prefixed(ev, p, n);
}

/* sudo: "USER : [REASON ; ]TTY=... ; PWD=... ; USER=root ; COMMAND=..." */
static enum vig_err sudo(struct vig_event *ev, const char *p, size_t n)
{
	const char *sep = ps_find(p, n, " : ");
	size_t i = 0, e;

	if (!sep)
		return pam_prefixed(ev, p, n);
	while (i < n && p[i] == ' ')
		i++;
	PTRY(set_user(ev, VIG_F_USER_NAME, p + i, (size_t)(sep - p) - i));
	i = (size_t)(sep - p) + 3;
	bool failed = false;
	while (i < n) {
		const char *semi = ps_find(p + i, n - i, " ; ");
		if (ps_starts(p + i, n - i, "COMMAND="))
			semi = NULL; /* the command runs to the end of the line */
		e = semi ? (size_t)(semi - p) : n;
		const char *part = p + i;
		size_t pn = e - i;
		if (ps_starts(part, pn, "TTY="))
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_SUDO_TTY, part + 4, pn - 4));
		else if (ps_starts(part, pn, "PWD="))
			PTRY(pset(ev, VIG_F_PROCESS_WORKING_DIRECTORY, part + 4, pn - 4));
		else if (ps_starts(part, pn, "USER="))
			PTRY(set_user(ev, VIG_F_USER_EFFECTIVE_NAME, part + 5, pn - 5));
		else if (ps_starts(part, pn, "GROUP="))
			PTRY(pk_str(ev, PK_GROUP_NAME, part + 6, pn - 6));
		else if (ps_starts(part, pn, "COMMAND=")) {
			PTRY(pset(ev, VIG_F_PROCESS_COMMAND_LINE, part + 8, pn - 8));
			size_t k = 8;
			while (k < pn && part[k] != ' ')
				k++;
			PTRY(pset(ev, VIG_F_PROCESS_EXECUTABLE, part + 8, k - 8));
		} else if (ps_starts(part, pn, "ENV="))
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_SUDO_ENV, part + 4, pn - 4));
		else if (pn) {
			failed = true;
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_SUDO_ERROR, part, pn));
		}
		i = semi ? e + 3 : n;
	}
	if (vig_event_get(ev, VIG_F_USER_EFFECTIVE_NAME))
		PTRY(vig_event_set_str(ev, VIG_F_USER_TARGET_NAME, ev->f[VIG_F_USER_EFFECTIVE_NAME].u.s,
				       ev->f[VIG_F_USER_EFFECTIVE_NAME].n));
	return pecs(ev, NULL, "process", "start", "sudo", failed ? "failure" : "success");
}

/* su: "Successful su for root by alice", "FAILED su for root by alice", "(to root) alice on
 * pts/0", "+ pts/0 alice:root", "- pts/0 alice:root". */
static enum vig_err su(struct vig_event *ev, const char *p, size_t n)
{
	const char *by;
	bool ok;

	if ((ok = ps_starts(p, n, "Successful su for ")) || ps_starts(p, n, "FAILED su for ")) {
		size_t off = ok ? 18 : 14;
		by = ps_find(p, n, " by ");
		if (!by)
			return NF;
		PTRY(set_user(ev, VIG_F_USER_TARGET_NAME, p + off, (size_t)(by - p) - off));
		PTRY(set_user(ev, VIG_F_USER_NAME, by + 4, (size_t)(p + n - by - 4)));
		return pecs(ev, NULL, "authentication", "start", "su", ok ? "success" : "failure");
	}
	if (ps_starts(p, n, "(to ")) {
		const char *rp = memchr(p, ')', n), *on;
		if (!rp || rp + 2 > p + n)
			return NF;
		PTRY(set_user(ev, VIG_F_USER_TARGET_NAME, p + 4, (size_t)(rp - p - 4)));
		on = ps_find(rp, (size_t)(p + n - rp), " on ");
		size_t un = on ? (size_t)(on - rp - 2) : (size_t)(p + n - rp - 2);
		PTRY(set_user(ev, VIG_F_USER_NAME, rp + 2, un));
		return pecs(ev, NULL, "authentication", "start", "su", "success");
	}
	if (n > 4 && (p[0] == '+' || p[0] == '-') && p[1] == ' ') {
		const char *sp = memchr(p + 2, ' ', n - 2);
		const char *colon = sp ? memchr(sp, ':', (size_t)(p + n - sp)) : NULL;
		if (!colon)
			return NF;
		PTRY(set_user(ev, VIG_F_USER_NAME, sp + 1, (size_t)(colon - sp - 1)));
		PTRY(set_user(ev, VIG_F_USER_TARGET_NAME, colon + 1, (size_t)(p + n - colon - 1)));
		return pecs(ev, NULL, "authentication", "start", "su", p[0] == '+' ? "success" : "failure");
	}
	return pam_prefixed(ev, p, n);
}

/* cron: "(root) CMD (command)". */
static enum vig_err cron(struct vig_event *ev, const char *p, size_t n)
{
	const char *rp, *cmd;

	if (n > 2 && p[0] == '(' && (rp = memchr(p, ')', n)) && (cmd = ps_find(rp, (size_t)(p + n - rp), ") CMD ("))) {
		PTRY(set_user(ev, VIG_F_USER_NAME, p + 1, (size_t)(rp - p - 1)));
		const char *cs = cmd + 7, *end = p + n;
		if (end > cs && end[-1] == ')')
			end--;
		PTRY(pset(ev, VIG_F_PROCESS_COMMAND_LINE, cs, (size_t)(end - cs)));
		return pecs(ev, NULL, "process", "start", "cron_execute", "success");
	}
	return pam_prefixed(ev, p, n);
}

/* Value of key "k=" inside "name=bob, UID=1001, ..." (to ',' or end). */
static bool acct_val(const char *p, size_t n, const char *key, struct pspan *v)
{
	const char *k = ps_find(p, n, key);
	size_t kl = strlen(key);

	if (!k)
		return false;
	v->p = k + kl;
	const char *c = memchr(v->p, ',', (size_t)(p + n - v->p));
	v->n = c ? (size_t)(c - v->p) : (size_t)(p + n - v->p);
	return true;
}

/* 'quoted' name after prefix. */
static bool quoted_after(const char *p, size_t n, const char *prefix, struct pspan *v)
{
	const char *s = ps_find(p, n, prefix), *e;

	if (!s)
		return false;
	s += strlen(prefix);
	e = memchr(s, '\'', (size_t)(p + n - s));
	if (!e)
		return false;
	v->p = s;
	v->n = (size_t)(e - s);
	return true;
}

/* useradd/usermod/userdel/groupadd/groupdel/groupmod/passwd/chpasswd/gpasswd. */
static enum vig_err account(struct vig_event *ev, const char *p, size_t n)
{
	struct pspan v;

	if (ps_starts(p, n, "new user: ")) {
		PTRY(pecs(ev, NULL, "iam", "creation", "user_created", "success"));
		if (acct_val(p, n, "name=", &v))
			PTRY(set_user(ev, VIG_F_USER_TARGET_NAME, v.p, v.n));
		if (acct_val(p, n, "UID=", &v))
			PTRY(pk_str(ev, PK_USER_TARGET_ID, v.p, v.n));
		if (acct_val(p, n, "GID=", &v))
			PTRY(pk_str(ev, PK_GROUP_ID, v.p, v.n));
		if (acct_val(p, n, "home=", &v))
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_USERADD_HOME, v.p, v.n));
		if (acct_val(p, n, "shell=", &v))
			PTRY(pk_str(ev, PK_SYSTEM_AUTH_USERADD_SHELL, v.p, v.n));
		return VIG_OK;
	}
	if (ps_starts(p, n, "new group: ") || ps_starts(p, n, "group added to ")) {
		PTRY(pecs(ev, NULL, "iam", "creation", "group_created", "success"));
		if (acct_val(p, n, "name=", &v))
			PTRY(pk_str(ev, PK_GROUP_NAME, v.p, v.n));
		if (acct_val(p, n, "GID=", &v))
			PTRY(pk_str(ev, PK_GROUP_ID, v.p, v.n));
		return VIG_OK;
	}
	if (quoted_after(p, n, "delete user '", &v)) {
		PTRY(pecs(ev, NULL, "iam", "deletion", "user_deleted", "success"));
		return set_user(ev, VIG_F_USER_TARGET_NAME, v.p, v.n);
	}
	if (quoted_after(p, n, "removed group '", &v) || ps_starts(p, n, "group '")) {
		if (!quoted_after(p, n, "group '", &v))
			return NF;
		PTRY(pecs(ev, NULL, "iam", ps_find(p, n, "removed") ? "deletion" : "change",
			  ps_find(p, n, "removed") ? "group_deleted" : "group_changed", "success"));
		return pk_str(ev, PK_GROUP_NAME, v.p, v.n);
	}
	if (ps_starts(p, n, "add '") && quoted_after(p, n, "add '", &v)) {
		struct pspan g;
		PTRY(pecs(ev, NULL, "iam", "change", "user_added_to_group", "success"));
		PTRY(set_user(ev, VIG_F_USER_TARGET_NAME, v.p, v.n));
		if (quoted_after(p, n, "to group '", &g) || quoted_after(p, n, "to shadow group '", &g))
			PTRY(pk_str(ev, PK_GROUP_NAME, g.p, g.n));
		return VIG_OK;
	}
	if (quoted_after(p, n, "change user '", &v) || quoted_after(p, n, "lock user '", &v) ||
	    quoted_after(p, n, "unlock user '", &v)) {
		PTRY(pecs(ev, NULL, "iam", "change", "user_changed", "success"));
		return set_user(ev, VIG_F_USER_TARGET_NAME, v.p, v.n);
	}
	if (ps_starts(p, n, "password for '") && quoted_after(p, n, "password for '", &v)) {
		PTRY(pecs(ev, NULL, "iam", "change", "password_changed", "success"));
		return set_user(ev, VIG_F_USER_TARGET_NAME, v.p, v.n);
	}
	return pam_prefixed(ev, p, n);
}

/* Program name equals one of a NULL-terminated list. */
static bool prog_in(const char *p, size_t n, const char *const *names)
{
	for (; *names; names++)
		if (ps_eq(p, n, *names))
			return true;
	return false;
}

bool pauth_dispatch(struct vig_parse_ctx *ctx, const char *prog, size_t prog_n, const char *msg,
		    size_t msg_n, struct vig_event *ev, enum vig_err *rc)
{
	static const char *const acct[] = {"useradd", "usermod", "userdel", "groupadd", "groupdel",
					   "groupmod", "passwd", "chpasswd", "gpasswd", "chage", NULL};
	static const char *const crons[] = {"CRON", "cron", "crond", "anacron", NULL};
	enum vig_err r = NF;
	const char *dataset = "system.auth";

	*rc = VIG_OK;
	(void)ctx;
	if (ps_eq(prog, prog_n, "sshd") || ps_starts(prog, prog_n, "sshd-session"))
		r = sshd(ev, msg, msg_n, 0);
	else if (ps_eq(prog, prog_n, "sudo"))
		r = sudo(ev, msg, msg_n);
	else if (ps_eq(prog, prog_n, "su"))
		r = su(ev, msg, msg_n);
	else if (prog_in(prog, prog_n, crons)) {
		r = cron(ev, msg, msg_n);
		dataset = "system.cron";
	} else if (prog_in(prog, prog_n, acct))
		r = account(ev, msg, msg_n);
	else if (prog_n > 10 && ps_find(prog, prog_n, "(pam_unix)")) {
		/* loghub/RHEL 4 style tag: "sshd(pam_unix)[pid]". */
		r = pam_body(ev, prog, prog_n - 10, msg, msg_n);
	} else if (ps_eq(prog, prog_n, "kernel")) {
		if (pnetfilter_body(msg, msg_n, ev, rc))
			return true;
		if (*rc != VIG_OK)
			return false;
		if (ps_starts(msg, msg_n, "audit:") || ps_find(msg, VIG_MIN(msg_n, (size_t)40), "type=")) {
			const char *t = ps_find(msg, msg_n, "type=");
			if (t && paudit_record(t, (size_t)(msg + msg_n - t), ev, &(uint64_t){0}, NULL) == VIG_OK) {
				*rc = pconst(ev, VIG_F_EVENT_DATASET, "auditd.log");
				return *rc == VIG_OK;
			}
		}
		return false;
	} else if (ps_starts(msg, msg_n, "type=") && ps_find(msg, msg_n, "msg=audit(")) {
		if (paudit_record(msg, msg_n, ev, &(uint64_t){0}, NULL) == VIG_OK) {
			*rc = pconst(ev, VIG_F_EVENT_DATASET, "auditd.log");
			return *rc == VIG_OK;
		}
		return false;
	} else
		r = pam_prefixed(ev, msg, msg_n);
	if (r == NF)
		return false;
	if (r != VIG_OK) {
		*rc = r;
		return false;
	}
	*rc = pconst(ev, VIG_F_EVENT_DATASET, dataset);
	return *rc == VIG_OK;
}
