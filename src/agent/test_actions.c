/*
 * test_actions.c - unit tests of the response actions and the inventory (actions.h), on real
 * processes, files, sockets and temporary directories: dispatch and parameter validation, kill
 * of a process tree (children first, refusals of pid 1 / the agent / its ancestors), quarantine
 * and restore (same filesystem and across filesystems, refusal when the destination exists or
 * the content changed), collect through a recording upload callback (chunking, final flag,
 * sha256, limits, upload failure), the query kinds (with row bounds and fixture files for
 * passwd/group/modules/utmp), YARA scans of a file, a directory and a process image, the
 * isolation record's failure paths, isolate/block/release/unblock in a private network namespace
 * of a forked child (root; the rules are read back with nft), and the inventory with its
 * canonical hash. Real traffic through the rules is test_actions_live.sh's part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utmpx.h>

#include "act_int.h"
#include "actions.h"
#include "common/log.h"

/* ---- helpers ---- */

struct fixture {
	char dir[64];   /* temporary directory, removed at teardown */
	char state[96]; /* dir/state */
	struct vig_action_env env;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vigact.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	assert_int_equal(mkdir(f->state, 0700), 0);
	f->env.state_dir = f->state;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_text(const char *path, const char *s)
{
	write_file(path, s, strlen(s), 0600);
}

static void s_dump(json_t *j, char *out, size_t cap)
{
	char *d = json_dumps(j, JSON_COMPACT);

	snprintf(out, cap, "%s", d ? d : "");
	free(d);
}

static void sha_of(const void *data, size_t n, char out[65])
{
	uint8_t h[32];

	vig_sha256(data, n, h);
	vig_hex(h, 32, out);
}

/* Runs an action with params given as JSON text; returns the error, *res the result. */
static enum vig_err run(const struct vig_action_env *env, const char *type, const char *params_json, json_t **res,
			char *err)
{
	json_error_t jerr;
	json_t *params = params_json ? json_loads(params_json, 0, &jerr) : NULL;
	enum vig_err e;

	if (params_json)
		assert_non_null(params);
	err[0] = 0;
	e = vig_action_run(env, "act-1", type, params, res, err);
	json_decref(params);
	if (e == VIG_OK)
		assert_non_null(*res);
	else
		assert_null(*res);
	return e;
}

/* ---- dispatch ---- */

static void test_dispatch(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE];
	json_t *res, *arr;

	assert_int_equal(run(&f->env, "format-disk", "{}", &res, err), VIG_EUNSUPPORTED);
	assert_string_equal(err, "unsupported action type");
	assert_int_equal(vig_action_run(&f->env, "bad id!", "kill", NULL, &res, err), VIG_EINVAL);
	assert_null(res);
	arr = json_array();
	assert_int_equal(vig_action_run(&f->env, "a1", "kill", arr, &res, err), VIG_EINVAL);
	assert_string_equal(err, "params must be an object");
	json_decref(arr);
	assert_int_equal(run(&f->env, "kill", "{\"pid\":5,\"force\":true}", &res, err), VIG_EINVAL);
	assert_string_equal(err, "unknown parameter force");
	assert_int_equal(run(&f->env, "kill", "{\"pid\":\"5\"}", &res, err), VIG_EINVAL);
	assert_string_equal(err, "parameter pid must be an integer");
	assert_int_equal(run(&f->env, "kill", NULL, &res, err), VIG_EINVAL);
	assert_string_equal(err, "missing parameter pid");
	assert_int_equal(run(&f->env, "quarantine", "{\"path\":\"etc/passwd\"}", &res, err), VIG_EINVAL);
	assert_string_equal(err, "parameter path must be an absolute path");
	assert_int_equal(run(&f->env, "quarantine", "{\"path\":\"/tmp/../etc/passwd\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "restore", "{\"quarantine_id\":\"../../x\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "release", "{\"x\":1}", &res, err), VIG_EINVAL);
}

/* ---- kill ---- */

static bool proc_alive_not_zombie(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[2] != 'Z' && p[2] != 'X';
}

static void test_kill_tree(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE], params[96];
	int pipefd[2], status;
	pid_t child, grandchild = 0;
	json_t *res, *killed;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(pipe(pipefd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			pause();
			_exit(0);
		}
		if (write(pipefd[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(pipefd[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	close(pipefd[0]);
	close(pipefd[1]);

	snprintf(params, sizeof(params), "{\"pid\":%d,\"tree\":true}", (int)child);
	assert_int_equal(run(&f->env, "kill", params, &res, err), VIG_OK);
	killed = json_object_get(res, "killed");
	assert_int_equal(json_array_size(killed), 2);
	/* children first */
	assert_int_equal(json_integer_value(json_array_get(killed, 0)), grandchild);
	assert_int_equal(json_integer_value(json_array_get(killed, 1)), child);
	json_decref(res);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* the grandchild was reparented to us (subreaper) */
	assert_int_equal(waitpid(grandchild, &status, 0), grandchild);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* the process is gone now */
	assert_int_equal(run(&f->env, "kill", params, &res, err), VIG_ENOTFOUND);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void test_kill_single_term_and_refusals(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE], params[96];
	int status;
	pid_t child = fork();
	json_t *res;

	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	snprintf(params, sizeof(params), "{\"pid\":%d,\"signal\":\"TERM\"}", (int)child);
	assert_int_equal(run(&f->env, "kill", params, &res, err), VIG_OK);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(res, "killed"), 0)), child);
	json_decref(res);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);

	assert_int_equal(run(&f->env, "kill", "{\"pid\":1}", &res, err), VIG_EPERM);
	assert_string_equal(err, "refusing to kill pid 1");
	snprintf(params, sizeof(params), "{\"pid\":%d}", (int)getpid());
	assert_int_equal(run(&f->env, "kill", params, &res, err), VIG_EPERM);
	assert_string_equal(err, "refusing to kill the agent");
	/* a tree that holds the agent: its parent with tree=true */
	snprintf(params, sizeof(params), "{\"pid\":%d,\"tree\":true}", (int)getppid());
	assert_int_equal(run(&f->env, "kill", params, &res, err), VIG_EPERM);
	assert_string_equal(err, "the process tree contains the agent");
	assert_true(proc_alive_not_zombie(getppid()));
	assert_int_equal(run(&f->env, "kill", "{\"pid\":12,\"signal\":\"HUP\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "kill", "{\"pid\":-4}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "kill", "{\"pid\":2147483647}", &res, err), VIG_ENOTFOUND);
}

/* ---- quarantine / restore ---- */

static void quarantine_roundtrip(struct fixture *f, const char *path)
{
	static const char content[] = "#!/bin/sh\necho malware\n";
	char err[VIG_ERRBUF_SIZE], params[512], sha[65], qfile[512], id[33];
	struct timespec times[2] = {{0, UTIME_OMIT}, {1600000000, 123456789}};
	struct stat st;
	json_t *res;

	write_file(path, content, sizeof(content) - 1, 0750);
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	sha_of(content, sizeof(content) - 1, sha);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(res, "sha256")), sha);
	assert_string_equal(json_string_value(json_object_get(res, "path")), path);
	assert_string_equal(json_string_value(json_object_get(res, "mode")), "0750");
	assert_int_equal(json_integer_value(json_object_get(res, "size")), sizeof(content) - 1);
	assert_int_equal(json_integer_value(json_object_get(res, "uid")), getuid());
	assert_string_equal(json_string_value(json_object_get(res, "mtime")), "2020-09-13T12:26:40.123456789Z");
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(res, "quarantine_id")));
	assert_int_equal(strlen(id), 32);
	json_decref(res);

	assert_int_equal(lstat(path, &st), -1);
	snprintf(qfile, sizeof(qfile), "%s/quarantine/%s/file", f->state, id);
	assert_int_equal(stat(qfile, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0400);
	snprintf(qfile, sizeof(qfile), "%s/quarantine/%s/meta.json", f->state, id);
	assert_int_equal(stat(qfile, &st), 0);

	snprintf(params, sizeof(params), "{\"quarantine_id\":\"%s\"}", id);
	assert_int_equal(run(&f->env, "restore", params, &res, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(res, "sha256")), sha);
	json_decref(res);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtim.tv_sec, 1600000000);
	assert_int_equal(st.st_mtim.tv_nsec, 123456789);
	assert_int_equal(st.st_size, sizeof(content) - 1);
	/* the entry is gone */
	assert_int_equal(run(&f->env, "restore", params, &res, err), VIG_ENOTFOUND);
	unlink(path);
}

static void test_quarantine_same_fs(void **state)
{
	struct fixture *f = *state;
	char path[128];

	snprintf(path, sizeof(path), "%s/evil.sh", f->dir);
	quarantine_roundtrip(f, path);
}

static void test_quarantine_cross_fs(void **state)
{
	struct fixture *f = *state;
	struct stat a, b;
	char path[128];

	if (stat("/dev/shm", &a) != 0 || stat(f->state, &b) != 0 || a.st_dev == b.st_dev) {
		print_message("skipped: /dev/shm is not another filesystem here\n");
		skip();
	}
	snprintf(path, sizeof(path), "/dev/shm/vigact-%d", (int)getpid());
	quarantine_roundtrip(f, path);
}

static void test_quarantine_refusals(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE], params[512], path[128], link[128], id[33], qfile[512];
	json_t *res;

	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", f->dir);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(params, sizeof(params), "{\"path\":\"%s/isolation.json\"}", f->state);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_EINVAL);
	assert_string_equal(err, "refusing to quarantine the agent's own state");
	snprintf(params, sizeof(params), "{\"path\":\"%s/nothing\"}", f->dir);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_ENOTFOUND);
	snprintf(path, sizeof(path), "%s/target", f->dir);
	snprintf(link, sizeof(link), "%s/link", f->dir);
	write_file(path, "x", 1, 0644);
	assert_int_equal(symlink(path, link), 0);
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", link);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_EINVAL);

	/* restore refuses an existing destination, and content that changed */
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	assert_int_equal(run(&f->env, "quarantine", params, &res, err), VIG_OK);
	snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(res, "quarantine_id")));
	json_decref(res);
	write_file(path, "new", 3, 0644);
	snprintf(params, sizeof(params), "{\"quarantine_id\":\"%s\"}", id);
	assert_int_equal(run(&f->env, "restore", params, &res, err), VIG_EEXIST);
	assert_int_equal(unlink(path), 0);
	snprintf(qfile, sizeof(qfile), "%s/quarantine/%s/file", f->state, id);
	assert_int_equal(chmod(qfile, 0600), 0);
	write_file(qfile, "tampered", 8, 0400);
	assert_int_equal(run(&f->env, "restore", params, &res, err), VIG_ECONFLICT);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(run(&f->env, "restore", "{\"quarantine_id\":\"0123456789abcdef0123456789abcdef\"}", &res, err),
			 VIG_ENOTFOUND);
}

/* ---- collect ---- */

struct upload_rec {
	unsigned char *data;
	size_t len, calls, finals, max_chunk;
	uint64_t total;
	char sha[65];
	bool fail;
};

static enum vig_err upload_cb(void *arg, const char *action_id, uint64_t offset, uint64_t total, const void *data,
			      size_t n, bool final, const char *sha256_hex, char *errbuf)
{
	struct upload_rec *u = arg;

	assert_string_equal(action_id, "act-1");
	if (u->fail)
		return vig_errf(errbuf, VIG_EIO, "server said 503");
	assert_int_equal(offset, u->len);
	assert_true(total >= offset + n); /* the file's size, announced with every chunk */
	assert_true(u->calls == 0 || total == u->total);
	u->total = total;
	assert_true(n <= VIG_ACT_CHUNK_BYTES);
	assert_int_equal(u->finals, 0);
	u->data = realloc(u->data, u->len + n + 1);
	assert_non_null(u->data);
	memcpy(u->data + u->len, data, n);
	u->len += n;
	u->calls++;
	if (n > u->max_chunk)
		u->max_chunk = n;
	if (final) {
		u->finals++;
		assert_non_null(sha256_hex);
		snprintf(u->sha, sizeof(u->sha), "%s", sha256_hex);
	} else {
		assert_null(sha256_hex);
	}
	return VIG_OK;
}

static void test_collect(void **state)
{
	struct fixture *f = *state;
	size_t n = 2 * VIG_ACT_CHUNK_BYTES + 12345;
	unsigned char *content = malloc(n);
	struct upload_rec u = {0};
	char err[VIG_ERRBUF_SIZE], params[256], path[128], sha[65];
	json_t *res;

	assert_non_null(content);
	for (size_t i = 0; i < n; i++)
		content[i] = (unsigned char)(i * 7 + i / 1000);
	snprintf(path, sizeof(path), "%s/big.bin", f->dir);
	write_file(path, content, n, 0600);
	sha_of(content, n, sha);

	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_EUNSUPPORTED);
	f->env.upload = upload_cb;
	f->env.upload_arg = &u;
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(res, "sha256")), sha);
	assert_int_equal(json_integer_value(json_object_get(res, "size")), n);
	json_decref(res);
	assert_int_equal(u.len, n);
	assert_memory_equal(u.data, content, n);
	assert_int_equal(u.calls, 3);
	assert_int_equal(u.finals, 1);
	assert_int_equal(u.max_chunk, VIG_ACT_CHUNK_BYTES);
	assert_int_equal(u.total, n);
	assert_string_equal(u.sha, sha);

	/* over max_bytes: refused before any upload */
	free(u.data);
	memset(&u, 0, sizeof(u));
	snprintf(params, sizeof(params), "{\"path\":\"%s\",\"max_bytes\":1000}", path);
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_ETOOBIG);
	assert_int_equal(u.calls, 0);

	/* an upload failure aborts with its reason */
	u.fail = true;
	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", path);
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_EIO);
	assert_string_equal(err, "server said 503");

	/* an empty file is one empty final chunk */
	memset(&u, 0, sizeof(u));
	write_file(path, "", 0, 0600);
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_OK);
	assert_int_equal(u.calls, 1);
	assert_int_equal(u.finals, 1);
	sha_of("", 0, sha);
	assert_string_equal(u.sha, sha);
	json_decref(res);
	free(u.data);

	snprintf(params, sizeof(params), "{\"path\":\"%s\"}", f->dir);
	assert_int_equal(run(&f->env, "collect", params, &res, err), VIG_EINVAL);
	free(content);
}

/* ---- query ---- */

static json_t *find_row(json_t *rows, const char *key, json_int_t val)
{
	json_t *r;
	size_t i;

	json_array_foreach(rows, i, r)
		if (json_integer_value(json_object_get(r, key)) == val)
			return r;
	return NULL;
}

static void test_query_processes(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE];
	json_t *res, *row;

	assert_int_equal(run(&f->env, "query", "{\"what\":\"processes\"}", &res, err), VIG_OK);
	assert_false(json_is_true(json_object_get(res, "truncated")));
	row = find_row(json_object_get(res, "rows"), "pid", getpid());
	assert_non_null(row);
	assert_int_equal(json_integer_value(json_object_get(row, "ppid")), getppid());
	assert_int_equal(json_integer_value(json_object_get(row, "uid")), getuid());
	assert_non_null(strstr(json_string_value(json_object_get(row, "exe")), "test_actions"));
	assert_non_null(json_string_value(json_object_get(row, "start_time")));
	json_decref(res);

	assert_int_equal(run(&f->env, "query", "{\"what\":\"processes\",\"max_rows\":1}", &res, err), VIG_OK);
	assert_int_equal(json_array_size(json_object_get(res, "rows")), 1);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);

	assert_int_equal(run(&f->env, "query", "{\"what\":\"secrets\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "query", "{\"what\":\"processes\",\"max_rows\":0}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "query", "{\"what\":\"users\",\"path\":\"/x\"}", &res, err), VIG_EINVAL);
}

static void test_query_sockets(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char err[VIG_ERRBUF_SIZE];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), afd;
	json_t *res, *r, *rows;
	bool found = false;
	size_t i;

	assert_true(lfd >= 0 && cfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);

	assert_int_equal(run(&f->env, "query", "{\"what\":\"listening\"}", &res, err), VIG_OK);
	rows = json_object_get(res, "rows");
	json_array_foreach(rows, i, r)
		if (json_integer_value(json_object_get(r, "port")) == ntohs(sa.sin_port) &&
		    strcmp(json_string_value(json_object_get(r, "proto")), "tcp") == 0) {
			assert_string_equal(json_string_value(json_object_get(r, "address")), "127.0.0.1");
			assert_int_equal(json_integer_value(json_object_get(r, "pid")), getpid());
			found = true;
		}
	assert_true(found);
	json_decref(res);

	found = false;
	assert_int_equal(run(&f->env, "query", "{\"what\":\"connections\"}", &res, err), VIG_OK);
	rows = json_object_get(res, "rows");
	json_array_foreach(rows, i, r)
		if (json_integer_value(json_object_get(r, "remote_port")) == ntohs(sa.sin_port)) {
			assert_string_equal(json_string_value(json_object_get(r, "state")), "ESTABLISHED");
			assert_string_equal(json_string_value(json_object_get(r, "remote_address")), "127.0.0.1");
			assert_int_equal(json_integer_value(json_object_get(r, "pid")), getpid());
			assert_non_null(json_string_value(json_object_get(r, "process")));
			found = true;
		}
	assert_true(found);
	json_decref(res);
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_query_fixture_files(void **state)
{
	struct fixture *f = *state;
	static const char passwd[] = "root:x:0:0:root:/root:/bin/bash\n"
				     "# a comment\n"
				     "broken line without colons\n"
				     "alice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh\n"
				     "bob:x:notanumber:1:b:/home/bob:/bin/sh\n";
	static const char group[] = "root:x:0:\nstaff:x:50:alice,bob\n";
	static const char modules[] = "nf_tables 356352 3 nft_ct,nft_chain_nat, Live 0xffffffffc0a00000\n"
				      "veth 40960 0 - Live 0x0000000000000000\n"
				      "garbage\n";
	struct vig_act_roots roots = {.proc = f->dir, .etc = f->dir};
	char err[VIG_ERRBUF_SIZE], path[128];
	bool truncated;
	json_t *rows, *r;

	snprintf(path, sizeof(path), "%s/passwd", f->dir);
	write_file(path, passwd, sizeof(passwd) - 1, 0644);
	snprintf(path, sizeof(path), "%s/group", f->dir);
	write_file(path, group, sizeof(group) - 1, 0644);
	snprintf(path, sizeof(path), "%s/modules", f->dir);
	write_file(path, modules, sizeof(modules) - 1, 0644);

	assert_int_equal(vig_act_rows("users", &roots, 100, &rows, &truncated, err), VIG_OK);
	assert_int_equal(json_array_size(rows), 2);
	r = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "alice");
	assert_int_equal(json_integer_value(json_object_get(r, "uid")), 1000);
	assert_string_equal(json_string_value(json_object_get(r, "home")), "/home/alice");
	assert_string_equal(json_string_value(json_object_get(r, "shell")), "/bin/zsh");
	json_decref(rows);
	assert_int_equal(vig_act_rows("users", &roots, 1, &rows, &truncated, err), VIG_OK);
	assert_true(truncated);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);

	assert_int_equal(vig_act_rows("groups", &roots, 100, &rows, &truncated, err), VIG_OK);
	assert_int_equal(json_array_size(rows), 2);
	r = json_array_get(rows, 1);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "staff");
	assert_int_equal(json_array_size(json_object_get(r, "members")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "members"), 1)), "bob");
	json_decref(rows);

	assert_int_equal(vig_act_rows("modules", &roots, 100, &rows, &truncated, err), VIG_OK);
	assert_int_equal(json_array_size(rows), 2);
	r = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "nf_tables");
	assert_int_equal(json_integer_value(json_object_get(r, "refcount")), 3);
	assert_int_equal(json_array_size(json_object_get(r, "used_by")), 2);
	assert_int_equal(json_array_size(json_object_get(json_array_get(rows, 1), "used_by")), 0);
	json_decref(rows);

	roots.etc = "/nonexistent";
	assert_int_equal(vig_act_rows("users", &roots, 100, &rows, &truncated, err), VIG_EIO);
	assert_null(rows);
}

static void test_query_logins(void **state)
{
	struct fixture *f = *state;
	struct vig_act_roots roots = {.utmp = NULL};
	struct utmpx u = {.ut_type = USER_PROCESS, .ut_pid = 4242};
	char err[VIG_ERRBUF_SIZE], path[128];
	bool truncated;
	json_t *rows, *r;

	snprintf(path, sizeof(path), "%s/utmp", f->dir);
	write_file(path, "", 0, 0644);
	assert_int_equal(utmpxname(path), 0);
	snprintf(u.ut_user, sizeof(u.ut_user), "mallory");
	snprintf(u.ut_line, sizeof(u.ut_line), "pts/7");
	snprintf(u.ut_id, sizeof(u.ut_id), "p7");
	snprintf(u.ut_host, sizeof(u.ut_host), "203.0.113.9");
	u.ut_tv.tv_sec = 1700000000;
	setutxent();
	assert_non_null(pututxline(&u));
	u.ut_type = DEAD_PROCESS;
	snprintf(u.ut_id, sizeof(u.ut_id), "p8");
	assert_non_null(pututxline(&u));
	endutxent();
	utmpxname(_PATH_UTMPX);
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "torn", 4), 4); /* a torn last record is ignored */
		close(fd);
	}

	roots.utmp = path;
	assert_int_equal(vig_act_rows("logins", &roots, 100, &rows, &truncated, err), VIG_OK);
	assert_int_equal(json_array_size(rows), 1);
	r = json_array_get(rows, 0);
	assert_string_equal(json_string_value(json_object_get(r, "user")), "mallory");
	assert_string_equal(json_string_value(json_object_get(r, "tty")), "pts/7");
	assert_string_equal(json_string_value(json_object_get(r, "host")), "203.0.113.9");
	assert_int_equal(json_integer_value(json_object_get(r, "pid")), 4242);
	assert_string_equal(json_string_value(json_object_get(r, "time")), "2023-11-14T22:13:20.000Z");
	json_decref(rows);
	/* no utmp at all: no logins, not an error */
	snprintf(path, sizeof(path), "%s/none", f->dir);
	assert_int_equal(vig_act_rows("logins", &roots, 100, &rows, &truncated, err), VIG_OK);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
}

static void test_query_file(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE], params[256], path[128], sha[65];
	json_t *res, *row;

	snprintf(path, sizeof(path), "%s/f.txt", f->dir);
	write_file(path, "hello", 5, 0640);
	sha_of("hello", 5, sha);
	snprintf(params, sizeof(params), "{\"what\":\"file\",\"path\":\"%s\"}", path);
	assert_int_equal(run(&f->env, "query", params, &res, err), VIG_OK);
	row = json_array_get(json_object_get(res, "rows"), 0);
	assert_string_equal(json_string_value(json_object_get(row, "type")), "file");
	assert_string_equal(json_string_value(json_object_get(row, "sha256")), sha);
	assert_string_equal(json_string_value(json_object_get(row, "mode")), "0640");
	assert_int_equal(json_integer_value(json_object_get(row, "size")), 5);
	json_decref(res);
	assert_int_equal(run(&f->env, "query", "{\"what\":\"file\"}", &res, err), VIG_EINVAL);
	snprintf(params, sizeof(params), "{\"what\":\"file\",\"path\":\"%s/none\"}", f->dir);
	assert_int_equal(run(&f->env, "query", params, &res, err), VIG_ENOTFOUND);
}

/* ---- yara ---- */

static void test_yara(void **state)
{
	struct fixture *f = *state;
	static const char rules[] = "rule vigil_marker : test demo { strings: $a = \\\"VIGIL-YARA-MARKER-42\\\" "
				    "condition: $a }\\nrule is_elf { condition: uint32(0) == 0x464c457f }";
	char err[VIG_ERRBUF_SIZE], params[1024], sub[128], path[192];
	json_t *res, *m;

	snprintf(sub, sizeof(sub), "%s/scan/deep", f->dir);
	snprintf(path, sizeof(path), "%s/scan", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/scan/clean.txt", f->dir);
	write_file(path, "nothing to see", 14, 0644);
	snprintf(path, sizeof(path), "%s/scan/deep/bad.txt", f->dir);
	write_file(path, "xxVIGIL-YARA-MARKER-42xx", 24, 0644);

	/* one file */
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s\"}", rules, path);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(res, "scanned")), 1);
	assert_int_equal(json_array_size(json_object_get(res, "matches")), 1);
	m = json_array_get(json_object_get(res, "matches"), 0);
	assert_string_equal(json_string_value(json_object_get(m, "rule")), "vigil_marker");
	assert_string_equal(json_string_value(json_object_get(m, "file")), path);
	assert_int_equal(json_array_size(json_object_get(m, "tags")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(m, "tags"), 1)), "demo");
	json_decref(res);

	/* a directory: not recursive, then recursive, then bounded */
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s/scan\"}", rules, f->dir);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(res, "scanned")), 1);
	assert_int_equal(json_array_size(json_object_get(res, "matches")), 0);
	json_decref(res);
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s/scan\",\"recursive\":true}", rules, f->dir);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(res, "scanned")), 2);
	assert_int_equal(json_integer_value(json_object_get(res, "errors")), 0);
	assert_int_equal(json_array_size(json_object_get(res, "matches")), 1);
	assert_false(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s/scan\",\"recursive\":true,\"max_files\":1}",
		 rules, f->dir);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_OK);
	assert_int_equal(json_integer_value(json_object_get(res, "scanned")), 1);
	assert_true(json_is_true(json_object_get(res, "truncated")));
	json_decref(res);

	/* a process image: our own executable is an ELF file */
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"pid\":%d}", rules, (int)getpid());
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_OK);
	{
		/* our image also holds the marker (in the rules text above): look for is_elf */
		bool elf = false;
		size_t i;

		json_array_foreach(json_object_get(res, "matches"), i, m) {
			if (strcmp(json_string_value(json_object_get(m, "rule")), "is_elf") == 0) {
				assert_non_null(strstr(json_string_value(json_object_get(m, "file")), "test_actions"));
				elf = true;
			}
		}
		assert_true(elf);
	}
	json_decref(res);

	/* failures */
	snprintf(params, sizeof(params), "{\"rules\":\"rule x { condition: nonsense_identifier }\",\"path\":\"%s\"}",
		 path);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_EINVAL);
	assert_non_null(strstr(err, "rules line 1"));
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s\",\"pid\":1}", rules, path);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_EINVAL);
	snprintf(params, sizeof(params), "{\"rules\":\"%s\"}", rules);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_EINVAL);
	snprintf(params, sizeof(params), "{\"rules\":\"%s\",\"path\":\"%s/none\"}", rules, f->dir);
	assert_int_equal(run(&f->env, "yara", params, &res, err), VIG_ENOTFOUND);
}

/* ---- isolation record, block parameters ---- */

static void test_isolation_record(void **state)
{
	struct fixture *f = *state;
	struct vig_action_env noserver = {.state_dir = f->state};
	char err[VIG_ERRBUF_SIZE], path[192];
	json_t *res;

	/* nothing recorded: nothing to do */
	assert_int_equal(vig_action_restore(&f->env, err), VIG_OK);
	snprintf(path, sizeof(path), "%s/isolation.json", f->state);
	write_text(path, "{not json");
	assert_int_equal(vig_action_restore(&f->env, err), VIG_EPARSE);
	write_text(path, "{\"allow\":[\"300.1.1.1\"],\"server_host\":\"x\",\"server_port\":1}");
	assert_int_equal(vig_action_restore(&f->env, err), VIG_EINVAL);
	assert_non_null(strstr(err, "not an ip or cidr"));
	write_text(path, "{\"allow\":[]}");
	assert_int_equal(vig_action_restore(&noserver, err), VIG_EPARSE);
	assert_non_null(strstr(err, "has no server"));

	/* parameters are refused before nftables is touched */
	assert_int_equal(run(&noserver, "isolate", "{}", &res, err), VIG_EINVAL);
	assert_non_null(strstr(err, "no server address"));
	f->env.server_host = "127.0.0.1";
	f->env.server_port = 8443;
	assert_int_equal(run(&f->env, "isolate", "{\"allow\":[\"10.0.0.0/33\"]}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "isolate", "{\"allow\":\"10.0.0.0/8\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "isolate", "{\"allow\":[\"1.2.3.4; flush ruleset\"]}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "block", "{\"address\":\"example.com\"}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "block", "{\"address\":\"10.1.1.1\",\"expires_s\":-1}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "block", "{}", &res, err), VIG_EINVAL);
	assert_int_equal(run(&f->env, "unblock", "{\"address\":\"::1/129\"}", &res, err), VIG_EINVAL);
}

/* ---- nftables in a private network namespace ---- */

/* Output of a shell command (at most cap-1 bytes); its exit status in *status. */
static void run_cmd(const char *cmd, char *out, size_t cap, int *status)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	out[0] = 0;
	*status = -1;
	if (!p)
		return;
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	*status = pclose(p);
}

/* The checks run in a child that left the host's network namespace; returns the failing step. */
static int netns_child(struct fixture *f)
{
	char err[VIG_ERRBUF_SIZE], out[16384], path[192];
	json_t *res;
	int status;

	if (unshare(CLONE_NEWNET) != 0)
		return 77;
	run_cmd("nft list tables 2>&1", out, sizeof(out), &status);
	if (status != 0)
		return 77;
	f->env.server_host = "127.0.0.1";
	f->env.server_port = 8443;
	if (run(&f->env, "isolate", "{\"allow\":[\"192.0.2.9/24\",\"2001:db8::1/32\"]}", &res, err) != VIG_OK)
		return 1;
	s_dump(res, out, sizeof(out));
	json_decref(res);
	if (!strstr(out, "\"192.0.2.0/24\"") || !strstr(out, "\"2001:db8::/32\"") || !strstr(out, "127.0.0.1:8443") ||
	    !strstr(out, "\"isolated\":true"))
		return 2;
	snprintf(path, sizeof(path), "%s/isolation.json", f->state);
	if (access(path, F_OK) != 0)
		return 3;
	run_cmd("nft list table inet vigil", out, sizeof(out), &status);
	if (status != 0 || !strstr(out, "policy drop") || !strstr(out, "192.0.2.0/24") || !strstr(out, "tcp dport 8443"))
		return 4;
	/* isolate again: replaced, not added to */
	if (run(&f->env, "isolate", "{}", &res, err) != VIG_OK)
		return 5;
	json_decref(res);
	run_cmd("nft list table inet vigil", out, sizeof(out), &status);
	if (status != 0 || strstr(out, "192.0.2.0/24"))
		return 6;
	if (run(&f->env, "block", "{\"address\":\"198.51.100.7\",\"expires_s\":60}", &res, err) != VIG_OK)
		return 7;
	s_dump(res, out, sizeof(out));
	json_decref(res);
	if (!strstr(out, "198.51.100.7"))
		return 8;
	if (run(&f->env, "release", "{}", &res, err) != VIG_OK)
		return 9;
	json_decref(res);
	run_cmd("nft list table inet vigil 2>/dev/null", out, sizeof(out), &status);
	if (status == 0 || access(path, F_OK) == 0)
		return 10;
	run_cmd("nft list set inet vigil_block block4", out, sizeof(out), &status);
	if (status != 0 || !strstr(out, "198.51.100.7"))
		return 11; /* blocks survive a release */
	if (run(&f->env, "unblock", "{\"address\":\"198.51.100.7\"}", &res, err) != VIG_OK)
		return 12;
	json_decref(res);
	if (run(&f->env, "unblock", "{\"address\":\"198.51.100.7\"}", &res, err) != VIG_ENOTFOUND)
		return 13;
	return 0;
}

static void test_netfilter_private_netns(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	if (geteuid() != 0) {
		print_message("skipped: needs root for a network namespace\n");
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(netns_child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("skipped: no private network namespace or nft here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- inventory ---- */

static void test_inventory(void **state)
{
	struct fixture *f = *state;
	char err[VIG_ERRBUF_SIZE], hex[65], *canon;
	struct utsname u;
	json_t *inv, *copy, *res;
	uint8_t h[32];

	inv = vig_inventory_collect(err);
	assert_non_null(inv);
	assert_int_equal(uname(&u), 0);
	assert_string_equal(json_string_value(json_object_get(inv, "kernel")), u.release);
	assert_string_equal(json_string_value(json_object_get(inv, "arch")), u.machine);
	assert_true(json_is_object(json_object_get(inv, "os")));
	assert_true(json_is_string(json_object_get(inv, "boot_time")));
	assert_true(json_array_size(json_object_get(inv, "interfaces")) >= 1);
	assert_true(json_array_size(json_object_get(inv, "users")) >= 1);
	assert_true(json_is_array(json_object_get(inv, "groups")));
	assert_true(json_is_array(json_object_get(inv, "listening")));
	if (access("/var/lib/dpkg/status", R_OK) == 0)
		assert_true(json_array_size(json_object_get(inv, "packages")) > 0);
	/* the hash is the SHA-256 of the rest, sorted keys, compact */
	copy = json_deep_copy(inv);
	json_object_del(copy, "hash");
	canon = json_dumps(copy, JSON_SORT_KEYS | JSON_COMPACT);
	vig_sha256(canon, strlen(canon), h);
	vig_hex(h, 32, hex);
	assert_string_equal(json_string_value(json_object_get(inv, "hash")), hex);
	free(canon);
	json_decref(copy);

	assert_int_equal(run(&f->env, "inventory", "{}", &res, err), VIG_OK);
	assert_string_equal(json_string_value(json_object_get(res, "kernel")), u.release);
	json_decref(res);
	assert_int_equal(run(&f->env, "inventory", "{\"full\":true}", &res, err), VIG_EINVAL);
	json_decref(inv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_single_term_and_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_same_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_cross_fs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_sockets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_fixture_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_logins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yara, setup, teardown),
		cmocka_unit_test_setup_teardown(test_isolation_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netfilter_private_netns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
	};

	vig_log_set_level(VIG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
