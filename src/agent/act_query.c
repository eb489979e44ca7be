/*
 * act_query.c - the "query" response action: a live look at the host, as rows.
 *
 *   processes    /proc/<pid>: pid, ppid (the tree), name, state, uid, user, exe, command line,
 *                start time
 *   connections  /proc/net/{tcp,tcp6,udp,udp6} entries that have a peer (TCP not listening, UDP
 *                connected), with the owning pid found through the socket inodes of /proc/PID/fd
 *   listening    TCP sockets in LISTEN and unconnected bound UDP sockets, with their pid
 *   logins       USER_PROCESS records of utmp
 *   users        /etc/passwd; groups: /etc/group
 *   file         one row: lstat of "path" and the SHA-256 of a regular file (≤ 1 GiB)
 *   modules      /proc/modules
 *
 * Every kind stops at max_rows (default 5,000, at most 100,000) and says so with "truncated".
 * Lines that do not parse are skipped. The collectors are also what the inventory uses.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utmpx.h>

#include "act_int.h"
#include "agent.h"
#include "common/vtime.h"

#define VIG_Q_LINE 4096          /* longest line read from /etc and /proc text files */
#define VIG_Q_SOCK_SLOTS 65536u  /* socket inode -> pid table (power of two) */
#define VIG_Q_CMDLINE 4096       /* command line bytes kept per process */

struct vig_q_ctx {
	const char *proc, *etc, *utmp;
	size_t max_rows;
	json_t *rows;
	bool truncated;
};

/* Appends row (stolen) unless max_rows is reached, then sets truncated. */
static enum vig_err vig_q_row(struct vig_q_ctx *c, json_t *row)
{
	if (!row)
		return VIG_ENOMEM;
	if (json_array_size(c->rows) >= c->max_rows) {
		c->truncated = true;
		json_decref(row);
		return VIG_OK;
	}
	return vig_act_append(c->rows, row);
}

/* Reads up to cap-1 bytes of a small file into buf (NUL-terminated); returns the length or -1. */
static ssize_t vig_q_slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -1;
	while (got < cap - 1) {
		ssize_t n = read(fd, buf + got, cap - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	return (ssize_t)got;
}

/* Boot time in epoch seconds from PROC/stat ("btime"), 0 when unknown. */
static int64_t vig_q_btime(const char *proc)
{
	char path[256], line[VIG_Q_LINE];
	int64_t bt = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/stat", proc);
	fp = fopen(path, "re");
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp))
		if (strncmp(line, "btime ", 6) == 0 && !vig_parse_i64(line + 6, strcspn(line + 6, "\n"), &bt))
			bt = 0;
	fclose(fp);
	return bt;
}

/* ---- processes ---- */

static json_t *vig_q_process(const char *proc, int32_t pid, int64_t btime, long hz)
{
	char path[256], buf[VIG_Q_CMDLINE], name[64] = "", user[64] = "", state[2] = "?";
	unsigned long long start = 0;
	int ppid = 0;
	int64_t uid = -1;
	json_t *row;
	ssize_t n;
	char *p, *q;

	snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
	if (vig_q_slurp(path, buf, sizeof(buf)) <= 0)
		return NULL;
	p = strchr(buf, '(');
	q = strrchr(buf, ')');
	if (!p || !q || q < p)
		return NULL;
	snprintf(name, sizeof(name), "%.*s", (int)(q - p - 1), p + 1);
	if (sscanf(q + 1, " %1[A-Za-z] %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   state, &ppid, &start) != 3)
		return NULL;
	snprintf(path, sizeof(path), "%s/%d/status", proc, (int)pid);
	if (vig_q_slurp(path, buf, sizeof(buf)) > 0 && (p = strstr(buf, "\nUid:")))
		if (!vig_parse_i64(p + 5 + strspn(p + 5, " \t"), strcspn(p + 5 + strspn(p + 5, " \t"), " \t\n"), &uid))
			uid = -1;
	if (uid >= 0)
		vig_agent_user_name((uint32_t)uid, user, sizeof(user));
	row = json_pack("{s:i, s:i, s:s, s:s}", "pid", (int)pid, "ppid", ppid, "name", name, "state", state);
	if (!row)
		return NULL;
	if (uid >= 0) {
		json_object_set_new(row, "uid", json_integer(uid));
		json_object_set_new(row, "user", json_string(user));
	}
	if (btime > 0 && hz > 0)
		json_object_set_new(row, "start_time",
				    vig_act_time_json(btime + (int64_t)(start / (unsigned long long)hz),
						      (int64_t)(start % (unsigned long long)hz) * (VIG_NS_PER_SEC / hz)));
	snprintf(path, sizeof(path), "%s/%d/exe", proc, (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		json_object_set_new(row, "exe", json_string(buf));
	}
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc, (int)pid);
	n = vig_q_slurp(path, buf, sizeof(buf));
	if (n > 0) {
		char line[VIG_Q_CMDLINE];

		vig_agent_args_join(buf, (size_t)n, line, sizeof(line));
		json_object_set_new(row, "command_line", json_string(line));
	}
	return row;
}

static enum vig_err vig_q_processes(struct vig_q_ctx *c, char *errbuf)
{
	int64_t btime = vig_q_btime(c->proc);
	long hz = sysconf(_SC_CLK_TCK);
	DIR *d = opendir(c->proc);
	struct dirent *de;
	enum vig_err err = VIG_OK;

	if (!d)
		return vig_errf(errbuf, VIG_EIO, "opendir %s: %s", c->proc, strerror(errno));
	while ((de = readdir(d)) && err == VIG_OK) {
		int64_t pid;
		json_t *row;

		if (!vig_parse_i64(de->d_name, strlen(de->d_name), &pid) || pid <= 0 || pid > INT32_MAX)
			continue;
		if (json_array_size(c->rows) >= c->max_rows) {
			c->truncated = true;
			break;
		}
		row = vig_q_process(c->proc, (int32_t)pid, btime, hz);
		if (row)
			err = vig_q_row(c, row);
	}
	closedir(d);
	return err == VIG_OK ? VIG_OK : vig_errf(errbuf, err, "out of memory");
}

/* ---- sockets ---- */

struct vig_q_sock {
	uint64_t inode; /* 0: free slot */
	int32_t pid;
};

struct vig_q_socks {
	struct vig_q_sock *slots; /* VIG_Q_SOCK_SLOTS entries */
	size_t used;
};

static void vig_q_sock_put(struct vig_q_socks *s, uint64_t inode, int32_t pid)
{
	size_t i = (size_t)(inode * 0x9E3779B97F4A7C15ull) & (VIG_Q_SOCK_SLOTS - 1);

	if (s->used >= VIG_Q_SOCK_SLOTS / 2) /* full enough: the rest stay unattributed */
		return;
	while (s->slots[i].inode && s->slots[i].inode != inode)
		i = (i + 1) & (VIG_Q_SOCK_SLOTS - 1);
	if (!s->slots[i].inode)
		s->used++;
	s->slots[i].inode = inode;
	s->slots[i].pid = pid;
}

static int32_t vig_q_sock_get(const struct vig_q_socks *s, uint64_t inode)
{
	size_t i = (size_t)(inode * 0x9E3779B97F4A7C15ull) & (VIG_Q_SOCK_SLOTS - 1);

	while (s->slots[i].inode) {
		if (s->slots[i].inode == inode)
			return s->slots[i].pid;
		i = (i + 1) & (VIG_Q_SOCK_SLOTS - 1);
	}
	return 0;
}

/* Socket inode -> pid from the "socket:[N]" links of PROC/<pid>/fd/ (first owner wins). */
static void vig_q_sock_scan(const char *proc, struct vig_q_socks *s)
{
	DIR *d = opendir(proc);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], link[64];
		int64_t pid;
		DIR *fdd;
		struct dirent *fe;

		if (!vig_parse_i64(de->d_name, strlen(de->d_name), &pid) || pid <= 0 || pid > INT32_MAX)
			continue;
		snprintf(path, sizeof(path), "%s/%s/fd", proc, de->d_name);
		fdd = opendir(path);
		if (!fdd)
			continue;
		while ((fe = readdir(fdd))) {
			char fpath[600];
			uint64_t inode;
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(fpath, sizeof(fpath), "%s/%s", path, fe->d_name);
			n = readlink(fpath, link, sizeof(link) - 1);
			if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
				continue;
			if (vig_parse_u64(link + 8, (size_t)n - 9, &inode) && inode && !vig_q_sock_get(s, inode))
				vig_q_sock_put(s, inode, (int32_t)pid);
		}
		closedir(fdd);
	}
	closedir(d);
}

static const char *vig_q_tcp_state(unsigned st)
{
	static const char *const names[] = {"UNKNOWN",   "ESTABLISHED", "SYN_SENT", "SYN_RECV",
					    "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
					    "CLOSE_WAIT", "LAST_ACK",   "LISTEN",   "CLOSING"};

	return st < VIG_ARRAY_LEN(names) ? names[st] : "UNKNOWN";
}

static void vig_q_addr(const struct vig_abi_net *rec, const uint8_t *a, char *out, size_t cap)
{
	if (!inet_ntop(rec->family == 10 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

/* Adds the process name of pid to row ("process"). */
static void vig_q_add_proc(const char *proc, json_t *row, int32_t pid)
{
	char path[256], comm[64];
	ssize_t n;

	if (pid <= 0)
		return;
	json_object_set_new(row, "pid", json_integer(pid));
	snprintf(path, sizeof(path), "%s/%d/comm", proc, (int)pid);
	n = vig_q_slurp(path, comm, sizeof(comm));
	if (n > 0) {
		comm[strcspn(comm, "\n")] = 0;
		json_object_set_new(row, "process", json_string(comm));
	}
}

static enum vig_err vig_q_net(struct vig_q_ctx *c, bool listening, char *errbuf)
{
	static const struct {
		const char *file, *proto;
		bool v6, udp;
	} files[] = {{"tcp", "tcp", false, false},
		     {"tcp6", "tcp", true, false},
		     {"udp", "udp", false, true},
		     {"udp6", "udp", true, true}};
	struct vig_q_socks socks = {0};
	enum vig_err err = VIG_OK;

	socks.slots = calloc(VIG_Q_SOCK_SLOTS, sizeof(*socks.slots));
	if (!socks.slots)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	vig_q_sock_scan(c->proc, &socks);
	for (size_t f = 0; f < VIG_ARRAY_LEN(files) && err == VIG_OK; f++) {
		char path[256], line[512];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/net/%s", c->proc, files[f].file);
		fp = fopen(path, "re");
		if (!fp)
			continue;
		while (err == VIG_OK && fgets(line, sizeof(line), fp)) {
			struct vig_abi_net rec;
			char la[INET6_ADDRSTRLEN], ra[INET6_ADDRSTRLEN];
			unsigned st;
			uint64_t inode;
			bool is_listen;
			json_t *row;

			if (!vig_agent_parse_proc_net_line(line, files[f].v6, &rec, &st, &inode))
				continue;
			/* UDP: 07 (unconnected) with no peer is a bound socket waiting for datagrams. */
			is_listen = files[f].udp ? st == 0x07 && rec.dport == 0 : st == 0x0A;
			if (listening != is_listen || (files[f].udp && !listening && st != 0x01))
				continue;
			vig_q_addr(&rec, rec.saddr, la, sizeof(la));
			if (listening) {
				row = json_pack("{s:s, s:s, s:i, s:I}", "proto", files[f].proto, "address", la, "port",
						(int)rec.sport, "uid", (json_int_t)rec.uid);
			} else {
				vig_q_addr(&rec, rec.daddr, ra, sizeof(ra));
				row = json_pack("{s:s, s:s, s:i, s:s, s:i, s:s, s:I}", "proto", files[f].proto,
						"local_address", la, "local_port", (int)rec.sport, "remote_address", ra,
						"remote_port", (int)rec.dport, "state",
						files[f].udp ? "ESTABLISHED" : vig_q_tcp_state(st), "uid", (json_int_t)rec.uid);
			}
			if (row)
				vig_q_add_proc(c->proc, row, vig_q_sock_get(&socks, inode));
			err = vig_q_row(c, row);
		}
		fclose(fp);
	}
	free(socks.slots);
	return err == VIG_OK ? VIG_OK : vig_errf(errbuf, err, "out of memory");
}

/* ---- logins, users, groups, modules ---- */

/* The utmp file is read as an array of struct utmpx records (glibc's on-disk format), not
 * through getutxent(), whose state is global to the process. */
static enum vig_err vig_q_logins(struct vig_q_ctx *c, char *errbuf)
{
	enum vig_err err = VIG_OK;
	struct utmpx u;
	int fd = open(c->utmp, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? VIG_OK : vig_errf(errbuf, VIG_EIO, "%s: %s", c->utmp, strerror(errno));
	while (err == VIG_OK) {
		char user[sizeof(u.ut_user) + 1], tty[sizeof(u.ut_line) + 1], host[sizeof(u.ut_host) + 1];
		ssize_t n = read(fd, &u, sizeof(u));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(u))
			break; /* end, or a torn last record */
		if (u.ut_type != USER_PROCESS)
			continue;
		snprintf(user, sizeof(user), "%.*s", (int)strnlen(u.ut_user, sizeof(u.ut_user)), u.ut_user);
		snprintf(tty, sizeof(tty), "%.*s", (int)strnlen(u.ut_line, sizeof(u.ut_line)), u.ut_line);
		snprintf(host, sizeof(host), "%.*s", (int)strnlen(u.ut_host, sizeof(u.ut_host)), u.ut_host);
		err = vig_q_row(c, json_pack("{s:s, s:s, s:s, s:i, s:o}", "user", user, "tty", tty, "host", host, "pid",
					     (int)u.ut_pid, "time",
					     vig_act_time_json(u.ut_tv.tv_sec, (int64_t)u.ut_tv.tv_usec * 1000)));
	}
	close(fd);
	return err == VIG_OK ? VIG_OK : vig_errf(errbuf, err, "out of memory");
}

/* Splits line (newline removed) at ':' into at most max fields; returns how many. */
static size_t vig_q_fields(char *line, char **f, size_t max)
{
	size_t n = 0;

	line[strcspn(line, "\n")] = 0;
	while (n < max) {
		f[n++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = 0;
	}
	return n;
}

static enum vig_err vig_q_colon_file(struct vig_q_ctx *c, const char *name, bool groups, char *errbuf)
{
	char path[512], line[VIG_Q_LINE], *f[8];
	enum vig_err err = VIG_OK;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", c->etc, name);
	fp = fopen(path, "re");
	if (!fp)
		return vig_errf(errbuf, VIG_EIO, "%s: %s", path, strerror(errno));
	while (err == VIG_OK && fgets(line, sizeof(line), fp)) {
		int64_t id, gid;
		json_t *row;

		if (line[0] == '#' || line[0] == '\n' || !strchr(line, '\n'))
			continue; /* comment, empty or over-long line */
		if (!groups) {
			/* name:password:uid:gid:gecos:home:shell */
			if (vig_q_fields(line, f, 7) != 7 || !vig_parse_i64(f[2], strlen(f[2]), &id) ||
			    !vig_parse_i64(f[3], strlen(f[3]), &gid))
				continue;
			row = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s}", "name", f[0], "uid", (json_int_t)id, "gid",
					(json_int_t)gid, "gecos", f[4], "home", f[5], "shell", f[6]);
		} else {
			/* name:password:gid:member,member */
			json_t *members = json_array();
			char *m;

			if (vig_q_fields(line, f, 4) != 4 || !vig_parse_i64(f[2], strlen(f[2]), &id) || !members) {
				json_decref(members);
				continue;
			}
			for (m = f[3]; *m;) {
				size_t l = strcspn(m, ",");

				if (l > 0)
					json_array_append_new(members, json_stringn(m, l));
				m += l;
				if (*m == ',')
					m++;
			}
			row = json_pack("{s:s, s:I, s:o}", "name", f[0], "gid", (json_int_t)id, "members", members);
		}
		err = vig_q_row(c, row);
	}
	fclose(fp);
	return err == VIG_OK ? VIG_OK : vig_errf(errbuf, err, "out of memory");
}

static enum vig_err vig_q_modules(struct vig_q_ctx *c, char *errbuf)
{
	char path[256], line[VIG_Q_LINE];
	enum vig_err err = VIG_OK;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/modules", c->proc);
	fp = fopen(path, "re");
	if (!fp)
		return vig_errf(errbuf, VIG_EIO, "%s: %s", path, strerror(errno));
	while (err == VIG_OK && fgets(line, sizeof(line), fp)) {
		/* name size refcount used_by state address */
		char name[128], used[2048], state[32];
		unsigned long long size;
		int refs;
		json_t *by;

		if (sscanf(line, "%127s %llu %d %2047s %31s", name, &size, &refs, used, state) != 5)
			continue;
		by = json_array();
		if (!by) {
			err = VIG_ENOMEM;
			break;
		}
		for (char *m = used; *m && strcmp(used, "-") != 0;) {
			size_t l = strcspn(m, ",");

			if (l > 0)
				json_array_append_new(by, json_stringn(m, l));
			m += l;
			if (*m == ',')
				m++;
		}
		err = vig_q_row(c, json_pack("{s:s, s:I, s:i, s:o, s:s}", "name", name, "size", (json_int_t)size,
					     "refcount", refs, "used_by", by, "state", state));
	}
	fclose(fp);
	return err == VIG_OK ? VIG_OK : vig_errf(errbuf, err, "out of memory");
}

enum vig_err vig_act_rows(const char *what, const struct vig_act_roots *roots, size_t max_rows, json_t **rows,
			  bool *truncated, char *errbuf)
{
	struct vig_q_ctx c = {
		.proc = roots && roots->proc ? roots->proc : "/proc",
		.etc = roots && roots->etc ? roots->etc : "/etc",
		.utmp = roots && roots->utmp ? roots->utmp : _PATH_UTMPX,
		.max_rows = max_rows,
	};
	enum vig_err err;

	*rows = NULL;
	*truncated = false;
	c.rows = json_array();
	if (!c.rows)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (strcmp(what, "processes") == 0)
		err = vig_q_processes(&c, errbuf);
	else if (strcmp(what, "connections") == 0)
		err = vig_q_net(&c, false, errbuf);
	else if (strcmp(what, "listening") == 0)
		err = vig_q_net(&c, true, errbuf);
	else if (strcmp(what, "logins") == 0)
		err = vig_q_logins(&c, errbuf);
	else if (strcmp(what, "users") == 0)
		err = vig_q_colon_file(&c, "passwd", false, errbuf);
	else if (strcmp(what, "groups") == 0)
		err = vig_q_colon_file(&c, "group", true, errbuf);
	else if (strcmp(what, "modules") == 0)
		err = vig_q_modules(&c, errbuf);
	else
		err = vig_errf(errbuf, VIG_EINVAL, "parameter what must be one of processes, connections, listening, "
				   "logins, users, groups, file, modules");
	if (err != VIG_OK) {
		json_decref(c.rows);
		return err;
	}
	*rows = c.rows;
	*truncated = c.truncated;
	return VIG_OK;
}

/* ---- file ---- */

static const char *vig_q_file_type(mode_t m)
{
	return S_ISREG(m) ? "file" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "symlink" : S_ISCHR(m) ? "char" :
	       S_ISBLK(m) ? "block" : S_ISFIFO(m) ? "fifo" : S_ISSOCK(m) ? "socket" : "unknown";
}

static enum vig_err vig_q_file(const char *path, json_t **row, char *errbuf)
{
	char mode[8], user[64] = "", buf[VIG_ACT_MAX_PATH + 1];
	struct stat st;
	enum vig_err err;

	if (lstat(path, &st) != 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "%s: %s", path, strerror(errno));
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(st.st_mode & 07777));
	vig_agent_user_name(st.st_uid, user, sizeof(user));
	*row = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "path", path, "type",
			 vig_q_file_type(st.st_mode), "size", (json_int_t)st.st_size, "mode", mode, "uid",
			 (json_int_t)st.st_uid, "user", user, "gid", (json_int_t)st.st_gid, "inode",
			 (json_int_t)st.st_ino, "nlink", (json_int_t)st.st_nlink, "device", (json_int_t)st.st_dev,
			 "mtime", vig_act_time_json(st.st_mtim.tv_sec, st.st_mtim.tv_nsec), "ctime",
			 vig_act_time_json(st.st_ctim.tv_sec, st.st_ctim.tv_nsec), "atime",
			 vig_act_time_json(st.st_atim.tv_sec, st.st_atim.tv_nsec));
	if (!*row)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);

		if (n >= 0) {
			buf[n] = 0;
			json_object_set_new(*row, "target", json_string(buf));
		}
	} else if (S_ISREG(st.st_mode)) {
		char sha[65], e2[VIG_ERRBUF_SIZE];
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);

		if (fd < 0) {
			json_object_set_new(*row, "hash_error", json_string(strerror(errno)));
			return VIG_OK;
		}
		err = vig_act_sha256_fd(fd, VIG_ACT_HASH_MAX_BYTES, sha, e2);
		close(fd);
		json_object_set_new(*row, err == VIG_OK ? "sha256" : "hash_error", json_string(err == VIG_OK ? sha : e2));
	}
	return VIG_OK;
}

enum vig_err vig_act_query(const struct vig_action_env *env, const char *action_id, json_t *params,
			   json_t **result, char *errbuf)
{
	static const char *const known[] = {"what", "path", "max_rows", NULL};
	const char *what, *path = NULL;
	json_t *rows = NULL, *row = NULL;
	bool truncated = false;
	int64_t max_rows;
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_str(params, "what", true, 32, &what, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "max_rows", 1, VIG_ACT_ROWS_MAX, VIG_ACT_ROWS_DEFAULT, &max_rows, errbuf);
	if (err != VIG_OK)
		return err;
	if (strcmp(what, "file") == 0) {
		err = vig_act_param_path(params, "path", &path, errbuf);
		if (err == VIG_OK)
			err = vig_q_file(path, &row, errbuf);
		if (err != VIG_OK)
			return err;
		rows = json_array();
		if (!rows || json_array_append_new(rows, row) != 0) {
			json_decref(rows);
			return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		}
	} else {
		if (json_object_get(params, "path"))
			return vig_errf(errbuf, VIG_EINVAL, "parameter path is only for what=file");
		err = vig_act_rows(what, NULL, (size_t)max_rows, &rows, &truncated, errbuf);
		if (err != VIG_OK)
			return err;
	}
	*result = json_pack("{s:o, s:b}", "rows", rows, "truncated", truncated);
	return *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
}
