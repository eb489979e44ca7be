/*
 * act_kill.c - the "kill" response action: signals one process, or a process and all of its
 * descendants ("tree"), children before their parents.
 *
 * The tree is read from /proc/<pid>/stat (parent pid and start time of every process). To keep
 * a process from escaping by forking while the tree is walked, the tree is first stopped with
 * SIGSTOP parent-first and read again (up to a few rounds, until no new member appears); then
 * every member gets the signal, deepest first, and a TERM is followed by SIGCONT so that stopped
 * processes handle it. Each member is addressed through a pidfd opened while its start time
 * still matched the one read from /proc, so a pid recycled in between is never signalled.
 * Pid 1, the agent itself and any tree that contains the agent are refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "act_int.h"

struct vig_kproc {
	int32_t pid;
	int32_t ppid;
	uint64_t start; /* clock ticks since boot (stat field 22) */
};

struct vig_ktree {
	struct vig_kproc *all; /* every process of /proc */
	size_t n_all, cap_all;
	int32_t members[VIG_ACT_KILL_MAX]; /* the tree, parents before children */
	uint64_t starts[VIG_ACT_KILL_MAX];
	int pidfds[VIG_ACT_KILL_MAX];
	size_t n;
};

/* ppid and start time of pid from /proc; false when gone or unreadable. */
static bool vig_kill_stat(int32_t pid, int32_t *ppid, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	int pp = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p)
		return false;
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
	 * cstime priority nice threads itrealvalue starttime" */
	if (sscanf(p + 1, " %*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &pp, &st) != 2)
		return false;
	*ppid = pp;
	*start = st;
	return true;
}

static enum vig_err vig_kill_scan(struct vig_ktree *t, char *errbuf)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return vig_errf(errbuf, VIG_EIO, "opendir /proc: %s", strerror(errno));
	t->n_all = 0;
	while ((de = readdir(d))) {
		int64_t pid;

		if (!vig_parse_i64(de->d_name, strlen(de->d_name), &pid) || pid <= 0 || pid > INT32_MAX)
			continue;
		if (t->n_all == t->cap_all) {
			size_t cap = t->cap_all ? t->cap_all * 2 : 1024;
			struct vig_kproc *a = cap <= (1u << 22) ? realloc(t->all, cap * sizeof(*a)) : NULL;

			if (!a) {
				closedir(d);
				return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
			}
			t->all = a;
			t->cap_all = cap;
		}
		t->all[t->n_all].pid = (int32_t)pid;
		if (vig_kill_stat((int32_t)pid, &t->all[t->n_all].ppid, &t->all[t->n_all].start))
			t->n_all++;
	}
	closedir(d);
	return VIG_OK;
}

static bool vig_kill_member(const struct vig_ktree *t, int32_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->members[i] == pid)
			return true;
	return false;
}

static int vig_pidfd_open(int32_t pid)
{
	return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

static int vig_pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* Adds pid (started at start) to the tree: opens its pidfd and checks the start time again, so
 * that the pidfd is known to name the process read from /proc. Silently skips a process gone. */
static enum vig_err vig_kill_add(struct vig_ktree *t, int32_t pid, uint64_t start, char *errbuf)
{
	int32_t ppid;
	uint64_t st;
	int fd;

	if (t->n >= VIG_ACT_KILL_MAX)
		return vig_errf(errbuf, VIG_ETOOBIG, "process tree has more than %d processes", VIG_ACT_KILL_MAX);
	fd = vig_pidfd_open(pid);
	if (fd < 0)
		return VIG_OK;
	if (!vig_kill_stat(pid, &ppid, &st) || st != start) {
		close(fd);
		return VIG_OK;
	}
	t->members[t->n] = pid;
	t->starts[t->n] = start;
	t->pidfds[t->n++] = fd;
	return VIG_OK;
}

/* Adds the descendants of the members not yet in the tree (breadth first: parents first).
 * *added counts the new members. */
static enum vig_err vig_kill_grow(struct vig_ktree *t, size_t *added, char *errbuf)
{
	enum vig_err err = vig_kill_scan(t, errbuf);
	size_t before = t->n;

	if (err != VIG_OK)
		return err;
	for (size_t m = 0; m < t->n; m++) {
		for (size_t i = 0; i < t->n_all; i++) {
			const struct vig_kproc *p = &t->all[i];

			if (p->ppid != t->members[m] || vig_kill_member(t, p->pid))
				continue;
			if (p->pid == getpid())
				return vig_errf(errbuf, VIG_EPERM, "the process tree contains the agent");
			if (p->pid == 1)
				return vig_errf(errbuf, VIG_EPERM, "the process tree contains pid 1");
			err = vig_kill_add(t, p->pid, p->start, errbuf);
			if (err != VIG_OK)
				return err;
		}
	}
	*added = t->n - before;
	return VIG_OK;
}

static int vig_kill_signal_of(const char *name)
{
	if (!name || strcmp(name, "KILL") == 0)
		return SIGKILL;
	if (strcmp(name, "TERM") == 0)
		return SIGTERM;
	return -1;
}

static bool vig_kill_is_ancestor_of_self(int32_t pid)
{
	int32_t cur = getpid(), ppid;
	uint64_t st;

	for (int depth = 0; depth < 1024 && cur > 1; depth++) {
		if (!vig_kill_stat(cur, &ppid, &st))
			return false;
		if (ppid == pid)
			return true;
		cur = ppid;
	}
	return false;
}

enum vig_err vig_act_kill(const struct vig_action_env *env, const char *action_id, json_t *params,
			  json_t **result, char *errbuf)
{
	static const char *const known[] = {"pid", "tree", "signal", NULL};
	struct vig_ktree *t = NULL;
	const char *signame;
	json_t *killed = NULL;
	int64_t pid;
	int32_t ppid;
	uint64_t start;
	bool tree;
	int sig;
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "pid", 0, INT32_MAX, 0, &pid, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_bool(params, "tree", false, &tree, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_str(params, "signal", false, 8, &signame, errbuf);
	if (err != VIG_OK)
		return err;
	if (pid <= 0)
		return vig_errf(errbuf, VIG_EINVAL, "missing parameter pid");
	sig = vig_kill_signal_of(signame);
	if (sig < 0)
		return vig_errf(errbuf, VIG_EINVAL, "parameter signal must be KILL or TERM");
	if (pid == 1)
		return vig_errf(errbuf, VIG_EPERM, "refusing to kill pid 1");
	if (pid == getpid())
		return vig_errf(errbuf, VIG_EPERM, "refusing to kill the agent");
	if (tree && vig_kill_is_ancestor_of_self((int32_t)pid))
		return vig_errf(errbuf, VIG_EPERM, "the process tree contains the agent");
	if (!vig_kill_stat((int32_t)pid, &ppid, &start))
		return vig_errf(errbuf, VIG_ENOTFOUND, "no process %lld", (long long)pid);

	t = calloc(1, sizeof(*t));
	killed = json_array();
	if (!t || !killed) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	err = vig_kill_add(t, (int32_t)pid, start, errbuf);
	if (err != VIG_OK)
		goto out_free;
	if (t->n == 0) {
		err = vig_errf(errbuf, VIG_ENOTFOUND, "no process %lld", (long long)pid);
		goto out_free;
	}
	if (tree) {
		size_t added = 1;

		/* Stop what is known, then look for children forked meanwhile, until none is new. */
		for (int round = 0; round < 8 && added > 0; round++) {
			for (size_t i = 0; i < t->n; i++)
				vig_pidfd_signal(t->pidfds[i], SIGSTOP);
			err = vig_kill_grow(t, &added, errbuf);
			if (err != VIG_OK)
				goto out_resume;
		}
	}
	/* Deepest first: members were added parents before children. */
	for (size_t i = t->n; i-- > 0;) {
		if (vig_pidfd_signal(t->pidfds[i], sig) == 0) {
			err = vig_act_append(killed, json_integer(t->members[i]));
			if (err != VIG_OK)
				goto out_resume;
		}
	}
	if (sig != SIGKILL)
		for (size_t i = 0; i < t->n; i++)
			vig_pidfd_signal(t->pidfds[i], SIGCONT);
	if (json_array_size(killed) == 0) {
		err = vig_errf(errbuf, VIG_EPERM, "could not signal process %lld", (long long)pid);
		goto out_free;
	}
	*result = json_pack("{s:O}", "killed", killed);
	err = *result ? VIG_OK : vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	goto out_free;
out_resume:
	for (size_t i = 0; i < t->n; i++)
		vig_pidfd_signal(t->pidfds[i], SIGCONT);
out_free:
	if (t) {
		for (size_t i = 0; i < t->n; i++)
			close(t->pidfds[i]);
		free(t->all);
		free(t);
	}
	json_decref(killed);
	return err;
}
