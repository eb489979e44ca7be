/*
 * test_agent_unit.c - unit tests of the agent's user-space half: the BPF record ABI layout,
 * argv splitting and joining, exec flags, the process table (pid reuse, bounds, ancestry, /proc
 * parsing on a fixture tree), the executable hash cache, /proc/net parsing, event mapping, and
 * the record path end to end (vig_agent_on_record with hand-built records, malformed ones too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agent.h"
#include "common/vtime.h"
#include "event/event_json.h"

/* ---- helpers ---- */

struct capture {
	json_t *events[64];
	size_t n;
};

#define VIG_TEST_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void capture_emit(void *ctx, const struct vig_event *ev)
{
	struct capture *c = ctx;
	struct vig_buf b;
	json_error_t jerr;

	vig_buf_init(&b, 1 << 20);
	assert_int_equal(vig_event_to_json(ev, &b), VIG_OK);
	if (c->n < VIG_ARRAY_LEN(c->events))
		c->events[c->n++] = json_loadb(b.data, b.len, 0, &jerr);
	vig_buf_release(&b);
}

static void capture_free(struct capture *c)
{
	for (size_t i = 0; i < c->n; i++)
		json_decref(c->events[i]);
	c->n = 0;
}

/* Value at a dotted path of a nested JSON object ("process.parent.pid"). */
static json_t *jpath(json_t *o, const char *path)
{
	char key[128];
	const char *p = path;

	while (o && *p) {
		size_t l = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int)l, p);
		o = json_object_get(o, key);
		p += l;
		if (*p == '.')
			p++;
	}
	return o;
}

static const char *jstr(json_t *o, const char *path)
{
	json_t *v = jpath(o, path);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void write_file(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static char g_dir[64]; /* fixture directory of the current test */

static int setup_dir(void **state)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/vigagent_test.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	(void)state;
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	assert_int_equal(system(cmd), 0);
	(void)state;
	return 0;
}

/* ---- ABI ---- */

static void test_abi_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct vig_abi_hdr), 32);
	assert_int_equal(offsetof(struct vig_abi_hdr, ktime_ns), 8);
	assert_int_equal(offsetof(struct vig_abi_hdr, pid), 16);
	assert_int_equal(offsetof(struct vig_abi_task, start_boot_ns), 32);
	assert_int_equal(offsetof(struct vig_abi_task, comm), 48);
	assert_int_equal(offsetof(struct vig_abi_exec, task), 32);
	assert_int_equal(offsetof(struct vig_abi_exec, exe_ino), 112);
	assert_int_equal(offsetof(struct vig_abi_exec, exe_mtime_ns), 128);
	assert_int_equal(offsetof(struct vig_abi_exec, filename), 144);
	assert_int_equal(offsetof(struct vig_abi_exec, cwd), 144 + VIG_ABI_PATH_LEN + VIG_ABI_NAME_LEN);
	assert_int_equal(offsetof(struct vig_abi_exec, cgroup), 144 + VIG_ABI_PATH_LEN + VIG_ABI_NAME_LEN + VIG_ABI_CWD_LEN);
	assert_int_equal(offsetof(struct vig_abi_exec, args),
			 144 + VIG_ABI_PATH_LEN + VIG_ABI_NAME_LEN + VIG_ABI_CWD_LEN + VIG_ABI_CGROUP_LEN);
	assert_int_equal(offsetof(struct vig_abi_rate, suppressed), 32);
	assert_int_equal(offsetof(struct vig_abi_bucket, comm), 32);
	assert_int_equal(offsetof(struct vig_abi_net, saddr), 48);
	assert_int_equal(offsetof(struct vig_abi_file, ino), 64);
	assert_int_equal(offsetof(struct vig_abi_file, path), 88);
	assert_int_equal(offsetof(struct vig_abi_misc, arg), 48);
	assert_int_equal(offsetof(struct vig_abi_misc, name), 136);
	/* every record is a multiple of 8 bytes: no tail padding differs between compilers */
	assert_int_equal(sizeof(struct vig_abi_exec) % 8, 0);
	assert_int_equal(sizeof(struct vig_abi_file) % 8, 0);
	assert_int_equal(sizeof(struct vig_abi_misc) % 8, 0);
	assert_int_equal(sizeof(struct vig_abi_net) % 8, 0);
}

/* ---- argv, flags, exit codes ---- */

static void test_args_split_join(void **state)
{
	static const char argv1[] = "ls\0-l\0/tmp dir\0";
	struct vig_str items[4];
	char out[64];
	bool more;
	size_t n;

	(void)state;
	n = vig_agent_args_split(argv1, sizeof(argv1) - 1, items, 4, &more);
	assert_int_equal(n, 3);
	assert_false(more);
	assert_int_equal(items[2].len, 8);
	assert_memory_equal(items[2].p, "/tmp dir", 8);
	assert_int_equal(vig_agent_args_join(argv1, sizeof(argv1) - 1, out, sizeof(out)), 14);
	assert_string_equal(out, "ls -l /tmp dir");

	/* truncated argv: the last item has no NUL and is kept as is */
	n = vig_agent_args_split("sh\0-c\0echo hel", 14, items, 4, &more);
	assert_int_equal(n, 3);
	assert_int_equal(items[2].len, 8);
	assert_memory_equal(items[2].p, "echo hel", 8);

	/* more items than room */
	n = vig_agent_args_split("a\0b\0c\0d\0e\0", 10, items, 4, &more);
	assert_int_equal(n, 4);
	assert_true(more);

	/* empty arguments in the middle survive */
	n = vig_agent_args_split("x\0\0y\0", 5, items, 4, &more);
	assert_int_equal(n, 3);
	assert_int_equal(items[1].len, 0);

	/* join respects its bound */
	assert_int_equal(vig_agent_args_join(argv1, sizeof(argv1) - 1, out, 5), 4);
	assert_string_equal(out, "ls -");
	assert_int_equal(vig_agent_args_split("", 0, items, 4, &more), 0);
}

static void test_cwd_components(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(vig_agent_cwd_from_components("c\0bb\0a\0", 7, out, sizeof(out)), 7);
	assert_string_equal(out, "/a/bb/c");
	assert_int_equal(vig_agent_cwd_from_components("", 0, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
	/* a final component without its NUL still counts */
	assert_int_equal(vig_agent_cwd_from_components("x\0home", 6, out, sizeof(out)), 7);
	assert_string_equal(out, "/home/x");
	/* does not fit: refused, not cut */
	assert_int_equal(vig_agent_cwd_from_components("abcdefgh\0", 9, out, 8), 0);
}

static void test_container_id(void **state)
{
	static const char id[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	const char *good[] = { id, "docker-" VIG_TEST_ID ".scope", "cri-containerd-" VIG_TEST_ID ".scope",
			       "crio-" VIG_TEST_ID ".scope", "libpod-" VIG_TEST_ID ".scope", "containerd:" VIG_TEST_ID };
	const char *bad[] = { "", "user.slice", "session-3.scope", "docker-" VIG_TEST_ID "0.scope",
			      "x" VIG_TEST_ID, "docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope" };
	char out[65], leaf[VIG_ABI_CGROUP_LEN];

	(void)state;
	for (size_t i = 0; i < VIG_ARRAY_LEN(good); i++) {
		assert_true(vig_container_id(good[i], strlen(good[i]), out));
		assert_string_equal(out, id);
	}
	for (size_t i = 0; i < VIG_ARRAY_LEN(bad); i++) {
		assert_false(vig_container_id(bad[i], strlen(bad[i]), out));
		assert_string_equal(out, "");
	}
	/* /proc/PID/cgroup: the v2 line when it is not the root, else pids, else cpuset */
	vig_proc_cgroup_leaf("12:pids:/docker/" VIG_TEST_ID "\n11:cpuset:/docker/" VIG_TEST_ID "\n0::/\n", leaf,
			     sizeof(leaf));
	assert_string_equal(leaf, id);
	vig_proc_cgroup_leaf("0::/system.slice/docker-" VIG_TEST_ID ".scope\n", leaf, sizeof(leaf));
	assert_string_equal(leaf, "docker-" VIG_TEST_ID ".scope");
	vig_proc_cgroup_leaf("9:name=systemd:/\n8:pids:/\n3:cpuset:/vig/x\n", leaf, sizeof(leaf));
	assert_string_equal(leaf, "x");
	vig_proc_cgroup_leaf("9:name=systemd:/\n8:pids:/\n0::/\n", leaf, sizeof(leaf));
	assert_string_equal(leaf, "");
	vig_proc_cgroup_leaf("garbage without newline", leaf, sizeof(leaf));
	assert_string_equal(leaf, "");
}

static void test_exec_flags(void **state)
{
	(void)state;
	assert_int_equal(vig_agent_exec_flags("/usr/bin/ls", "ls", 1), 0);
	assert_int_equal(vig_agent_exec_flags("/memfd:payload (deleted)", "memfd:payload", 0), VIG_PROC_F_MEMFD);
	assert_int_equal(vig_agent_exec_flags("/dev/fd/3", "memfd:x", 0), VIG_PROC_F_MEMFD);
	assert_int_equal(vig_agent_exec_flags("/opt/app/bin", "bin", 0), VIG_PROC_F_DELETED);
	assert_int_equal(vig_agent_exec_flags("/tmp/x", "x", 1), VIG_PROC_F_WRITABLE_DIR);
	assert_int_equal(vig_agent_exec_flags("/dev/shm/x", "x", 0), VIG_PROC_F_WRITABLE_DIR | VIG_PROC_F_DELETED);
	assert_int_equal(vig_agent_exec_flags("/var/tmp/y", "y", 1), VIG_PROC_F_WRITABLE_DIR);
	assert_int_equal(vig_agent_exec_flags("/tmpfoo/y", "y", 1), 0);
}

static void test_exit_code(void **state)
{
	(void)state;
	assert_int_equal(vig_agent_exit_code(0), 0);
	assert_int_equal(vig_agent_exit_code(3 << 8), 3);
	assert_int_equal(vig_agent_exit_code(9), 137);   /* SIGKILL */
	assert_int_equal(vig_agent_exit_code(0x8b), 139); /* SIGSEGV with core */
}

/* ---- process table ---- */

static struct vig_proc *put(struct vig_proctable *t, int32_t pid, int32_t ppid, int64_t start)
{
	enum vig_err err;
	struct vig_proc *p = vig_proctable_put(t, pid, start, &err);

	assert_non_null(p);
	assert_int_equal(err, VIG_OK);
	p->ppid = ppid;
	return p;
}

static void test_table_ancestry(void **state)
{
	struct vig_proctable *t = vig_proctable_new("host-a", "/nonexistent", 16);
	const char *anc[VIG_AGENT_MAX_ANCESTRY];
	struct vig_proc *init, *sh, *py, *child;
	char id[33];

	(void)state;
	assert_non_null(t);
	init = put(t, 1, 0, 1000);
	sh = put(t, 10, 1, 2000);
	py = put(t, 20, 10, 3000);
	child = put(t, 30, 20, 4000);
	vig_entity_id("host-a", 30, 4000, id);
	assert_string_equal(child->entity_id, id);
	assert_int_equal(vig_proctable_ancestry(t, child, anc, VIG_ARRAY_LEN(anc)), 3);
	assert_ptr_equal(anc[0], py->entity_id);
	assert_ptr_equal(anc[1], sh->entity_id);
	assert_ptr_equal(anc[2], init->entity_id);
	/* bounded by the caller's room */
	assert_int_equal(vig_proctable_ancestry(t, child, anc, 2), 2);
	/* a stale cycle (pid reuse) terminates */
	init->ppid = 30;
	assert_int_equal(vig_proctable_ancestry(t, child, anc, VIG_ARRAY_LEN(anc)), 3);
	/* an unknown parent ends the chain */
	sh->ppid = 999;
	assert_int_equal(vig_proctable_ancestry(t, child, anc, VIG_ARRAY_LEN(anc)), 2);
	vig_proctable_free(t);
}

static void test_table_reuse_and_bounds(void **state)
{
	struct vig_proctable *t = vig_proctable_new("h", "/nonexistent", 2);
	struct vig_proc *a, *b;
	char first[33];
	enum vig_err err;

	(void)state;
	a = put(t, 5, 1, 100);
	assert_int_equal(vig_proc_set_exe(a, "/bin/a", 6), VIG_OK);
	memcpy(first, a->entity_id, sizeof(first));
	/* same pid, same start: same entry */
	assert_ptr_equal(vig_proctable_put(t, 5, 100, &err), a);
	/* same pid, new start: pid reused, a new identity without the old image */
	b = put(t, 5, 1, 200);
	assert_string_not_equal(b->entity_id, first);
	assert_null(b->exe);
	assert_int_equal(vig_proctable_count(t), 1);
	put(t, 6, 1, 300);
	assert_null(vig_proctable_put(t, 7, 400, &err));
	assert_int_equal(err, VIG_ETOOBIG);
	assert_int_equal(vig_proctable_refused(t), 1);
	vig_proctable_remove(t, 6);
	assert_null(vig_proctable_get(t, 6));
	put(t, 7, 1, 400);
	vig_proctable_free(t);
	vig_proctable_free(NULL);
}

static void test_table_load_fixture(void **state)
{
	char path[256];
	struct vig_proctable *t;
	struct vig_proc *p;
	static const char cmdline[] = "/usr/bin/python3\0-c\0print(1)\0";
	long hz = sysconf(_SC_CLK_TCK);

	(void)state;
	snprintf(path, sizeof(path), "%s/4242", g_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/4242/stat", g_dir);
	/* a comm with spaces and parentheses must not shift the fields */
	write_file(path, "4242 (my (odd) comm) S 4000 4242 4242 34817 4242 4194304 1 0 0 0 0 0 0 0 20 0 1 0 "
			 "12345 1000 100 18446744073709551615\n", 118);
	snprintf(path, sizeof(path), "%s/4242/status", g_dir);
	write_file(path, "Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t100\t101\t101\t101\n", 45);
	snprintf(path, sizeof(path), "%s/4242/cmdline", g_dir);
	write_file(path, cmdline, sizeof(cmdline) - 1);
	snprintf(path, sizeof(path), "%s/4242/loginuid", g_dir);
	write_file(path, "1000", 4);
	snprintf(path, sizeof(path), "%s/4242/exe", g_dir);
	assert_int_equal(symlink("/tmp/dropper (deleted)", path), 0);
	snprintf(path, sizeof(path), "%s/4242/cwd", g_dir);
	assert_int_equal(symlink("/home/u", path), 0);

	t = vig_proctable_new("h", g_dir, 0);
	assert_int_equal(vig_proctable_seed(t), 1);
	p = vig_proctable_get(t, 4242);
	assert_non_null(p);
	assert_string_equal(p->comm, "my (odd) comm");
	assert_int_equal(p->ppid, 4000);
	assert_int_equal(p->tty_nr, 34817);
	assert_int_equal(p->start_ns, 12345LL * (VIG_NS_PER_SEC / hz));
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->euid, 0);
	assert_int_equal(p->gid, 100);
	assert_int_equal(p->egid, 101);
	assert_int_equal(p->auid, 1000);
	assert_int_equal(p->sessionid, UINT32_MAX);
	assert_string_equal(p->exe, "/tmp/dropper");
	assert_true(p->flags & VIG_PROC_F_DELETED);
	assert_true(p->flags & VIG_PROC_F_WRITABLE_DIR);
	assert_string_equal(p->cwd, "/home/u");
	assert_int_equal(p->args_len, sizeof(cmdline) - 1);
	/* a malformed stat is refused */
	snprintf(path, sizeof(path), "%s/77", g_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/77/stat", g_dir);
	write_file(path, "77 (x) S notanumber", 19);
	assert_null(vig_proctable_load(t, 77));
	assert_null(vig_proctable_load(t, 78));
	/* the sweep forgets what /proc no longer has */
	put(t, 99, 1, 5);
	assert_int_equal(vig_proctable_count(t), 2);
	assert_int_equal(vig_proctable_sweep(t), 1);
	assert_null(vig_proctable_get(t, 99));
	assert_non_null(vig_proctable_get(t, 4242));
	vig_proctable_free(t);
}

static void test_hash_cache(void **state)
{
	struct vig_proctable *t = vig_proctable_new("h", "/proc", 0);
	char path[256], hex[65], want[65];
	uint8_t h[32];
	uint64_t hits, misses;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/bin", g_dir);
	write_file(path, "#!/bin/sh\necho one\n", 19);
	vig_sha256("#!/bin/sh\necho one\n", 19, h);
	vig_hex(h, 32, want);
	assert_int_equal(vig_proctable_hash_file(t, path, 0, hex), VIG_OK);
	assert_string_equal(hex, want);
	assert_int_equal(vig_proctable_hash_file(t, path, 0, hex), VIG_OK);
	assert_string_equal(hex, want);
	vig_proctable_hash_stats(t, &hits, &misses);
	assert_int_equal(hits, 1);
	assert_int_equal(misses, 1);
	/* rewritten in place (same inode, new size): hashed again */
	write_file(path, "#!/bin/sh\necho two two\n", 23);
	vig_sha256("#!/bin/sh\necho two two\n", 23, h);
	vig_hex(h, 32, want);
	assert_int_equal(vig_proctable_hash_file(t, path, 0, hex), VIG_OK);
	assert_string_equal(hex, want);
	vig_proctable_hash_stats(t, &hits, &misses);
	assert_int_equal(misses, 2);
	/* inode guard */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(vig_proctable_hash_file(t, path, (uint64_t)st.st_ino, hex), VIG_OK);
	assert_int_equal(vig_proctable_hash_file(t, path, (uint64_t)st.st_ino + 1, hex), VIG_ECONFLICT);
	/* the exec record's (dev, inode, mtime, size) finds the cached hash with no file access */
	hex[0] = 0;
	assert_true(vig_proctable_hash_cached(t, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev),
					      (uint64_t)st.st_ino,
					      st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec,
					      (uint64_t)st.st_size, hex));
	assert_string_equal(hex, want);
	assert_false(vig_proctable_hash_cached(t, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev),
					       (uint64_t)st.st_ino, 1, (uint64_t)st.st_size, hex));
	assert_false(vig_proctable_hash_cached(t, ((uint64_t)major(st.st_dev) << 20) | minor(st.st_dev),
					       (uint64_t)st.st_ino + 1,
					       st.st_mtim.tv_sec * VIG_NS_PER_SEC + st.st_mtim.tv_nsec,
					       (uint64_t)st.st_size, hex));
	assert_int_equal(vig_proctable_hash_file(t, "/nonexistent/x", 0, hex), VIG_EIO);
	assert_int_equal(vig_proctable_hash_file(t, g_dir, 0, hex), VIG_EIO); /* a directory */
	vig_proctable_free(t);
}

/* ---- /proc/net ---- */

static void test_proc_net_parse(void **state)
{
	struct vig_abi_net r;
	unsigned st;
	uint64_t ino;
	char ip[64];
	uint8_t ip16[16] = { 0 };

	(void)state;
	assert_false(vig_agent_parse_proc_net_line(
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
		false, &r, &st, &ino));
	assert_true(vig_agent_parse_proc_net_line(
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 31337 1 "
		"0000000000000000 100 0 0 10 0", false, &r, &st, &ino));
	assert_int_equal(st, 0x0A);
	assert_int_equal(ino, 31337);
	assert_int_equal(r.sport, 8080);
	assert_int_equal(r.uid, 1000);
	assert_int_equal(r.family, 2);
	ip16[10] = ip16[11] = 0xff;
	memcpy(ip16 + 12, r.saddr, 4);
	vig_ip_format(ip16, ip);
	assert_string_equal(ip, "127.0.0.1");
	assert_true(vig_agent_parse_proc_net_line(
		"   1: 00000000000000000000000001000000:A2C4 00000000000000000000000001000000:0016 01 "
		"00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 20 4 30 10 -1",
		true, &r, &st, &ino));
	vig_ip_format(r.daddr, ip);
	assert_string_equal(ip, "::1");
	assert_int_equal(r.dport, 22);
	assert_int_equal(r.sport, 0xA2C4);
	assert_int_equal(st, 1);
	/* wrong family width, garbage, truncated lines */
	assert_false(vig_agent_parse_proc_net_line(
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 1", true, &r, &st, &ino));
	assert_false(vig_agent_parse_proc_net_line("   0: zz:1 00:0 0A", false, &r, &st, &ino));
	assert_false(vig_agent_parse_proc_net_line("", false, &r, &st, &ino));
}

/* ---- mapping and the record path ---- */

static struct vig_agent *new_agent(struct capture *cap, bool watch)
{
	struct vig_agent_config cfg = { 0 };
	char path[256], err[VIG_ERRBUF_SIZE];
	struct vig_agent *a;

	snprintf(path, sizeof(path), "%s/machine-id", g_dir);
	write_file(path, "0123456789abcdef0123456789abcdef\n", 33);
	cfg.machine_id_path = strdup(path);
	cfg.proc_root = strdup(g_dir);
	if (watch) {
		snprintf(path, sizeof(path), "%s/watched", g_dir);
		cfg.watch[cfg.n_watch++] = strdup(path);
	}
	a = vig_agent_new(&cfg, capture_emit, cap, err);
	assert_non_null(a);
	return a;
}

static void free_agent(struct vig_agent *a)
{
	const struct vig_agent_config *cfg = vig_agent_config(a);

	free((char *)cfg->machine_id_path);
	free((char *)cfg->proc_root);
	for (size_t i = 0; i < cfg->n_watch; i++)
		free((char *)cfg->watch[i]);
	vig_agent_free(a);
}

static void fill_task(struct vig_abi_task *t, uint32_t ppid, uint64_t start, const char *comm)
{
	memset(t, 0, sizeof(*t));
	t->ppid = ppid;
	t->uid = 1000;
	t->euid = 0;
	t->auid = 1000;
	t->sessionid = 7;
	t->start_boot_ns = start;
	snprintf(t->comm, sizeof(t->comm), "%s", comm);
}

static void test_record_path(void **state)
{
	struct capture cap = { 0 };
	struct vig_agent *a = new_agent(&cap, false);
	struct vig_abi_exec *ex = calloc(1, sizeof(*ex));
	struct vig_abi_fork fk;
	struct vig_abi_exit xt;
	const struct vig_agent_host *host = vig_agent_host(a);
	char id[33], pid_id[33];
	json_t *e, *anc;
	static const char argv[] = "/memfd:x\0--flag\0value with space";

	(void)state;
	assert_string_equal(host->id, "0123456789abcdef0123456789abcdef");
	/* parent (fork of pid 300 from 200) then exec in the child */
	memset(&fk, 0, sizeof(fk));
	fk.hdr.type = VIG_ABI_FORK;
	fk.hdr.size = sizeof(fk);
	fk.hdr.pid = 300;
	fill_task(&fk.task, 200, 5 * VIG_NS_PER_SEC + 123, "bash");
	assert_int_equal(vig_agent_on_record(a, &fk, sizeof(fk)), VIG_OK);
	ex->hdr.type = VIG_ABI_EXEC;
	ex->hdr.pid = 300;
	ex->hdr.ktime_ns = 6 * VIG_NS_PER_SEC;
	ex->hdr.flags = VIG_ABI_F_ARGS_TRUNC;
	fill_task(&ex->task, 200, 5 * VIG_NS_PER_SEC + 123, "3");
	snprintf(ex->filename, sizeof(ex->filename), "/dev/fd/3");
	snprintf(ex->exe_dname, sizeof(ex->exe_dname), "memfd:x");
	memcpy(ex->cwd, "work\0home\0", 10);
	ex->cwd_len = 10;
	memcpy(ex->args, argv, sizeof(argv) - 1);
	ex->args_len = sizeof(argv) - 1;
	/* the kernel sends the record without the unused tail of args[] */
	ex->hdr.size = VIG_ABI_EXEC_SIZE(ex->args_len);
	assert_int_equal(vig_agent_on_record(a, ex, VIG_ABI_EXEC_SIZE(ex->args_len) - 1), VIG_EPARSE);
	assert_int_equal(vig_agent_on_record(a, ex, VIG_ABI_EXEC_SIZE(ex->args_len)), VIG_OK);
	assert_int_equal(cap.n, 2);
	e = cap.events[1];
	assert_string_equal(jstr(e, "event.action"), "exec");
	assert_string_equal(jstr(e, "event.category"), "process");
	assert_string_equal(jstr(e, "event.type"), "start");
	assert_string_equal(jstr(e, "host.id"), "0123456789abcdef0123456789abcdef");
	vig_entity_id(host->id, 300, vig_agent_ticks_round(5 * VIG_NS_PER_SEC + 123), id);
	assert_string_equal(jstr(e, "process.entity_id"), id);
	/* fork and exec share the identity */
	assert_string_equal(jstr(cap.events[0], "process.entity_id"), id);
	assert_string_equal(jstr(cap.events[0], "event.action"), "fork");
	assert_int_equal(json_integer_value(jpath(e, "process.pid")), 300);
	assert_int_equal(json_integer_value(jpath(e, "process.parent.pid")), 200);
	assert_string_equal(jstr(e, "process.command_line"), "/memfd:x --flag value with space");
	assert_int_equal(json_array_size(jpath(e, "process.args")), 3);
	assert_string_equal(json_string_value(json_array_get(jpath(e, "process.args"), 2)), "value with space");
	assert_true(json_is_true(jpath(e, "vigil.exec.memfd")));
	assert_string_equal(jstr(e, "process.working_directory"), "/home/work");
	assert_string_equal(jstr(e, "process.executable"), "/memfd:x"); /* gone from /proc: named from the dentry */
	assert_true(json_is_true(jpath(e, "vigil.process.args_truncated")));
	assert_string_equal(jstr(e, "user.id"), "1000");
	assert_string_equal(jstr(e, "user.effective.id"), "0");
	assert_string_equal(jstr(e, "user.effective.name"), "root");
	assert_int_equal(json_integer_value(jpath(e, "process.audit.login_uid")), 1000);
	assert_int_equal(json_integer_value(jpath(e, "process.audit.session_id")), 7);
	/* a grandchild gets the ancestry chain */
	memset(&fk, 0, sizeof(fk));
	fk.hdr.type = VIG_ABI_FORK;
	fk.hdr.size = sizeof(fk);
	fk.hdr.pid = 301;
	fill_task(&fk.task, 300, 7 * VIG_NS_PER_SEC, "x");
	assert_int_equal(vig_agent_on_record(a, &fk, sizeof(fk)), VIG_OK);
	e = cap.events[2];
	anc = jpath(e, "process.ancestry");
	assert_int_equal(json_array_size(anc), 1);
	assert_string_equal(json_string_value(json_array_get(anc, 0)), id);
	assert_string_equal(jstr(e, "process.parent.entity_id"), id);
	assert_string_equal(jstr(e, "process.parent.command_line"), "/memfd:x --flag value with space");
	/* the forked child inherits the image */
	assert_string_equal(jstr(e, "process.command_line"), "/memfd:x --flag value with space");
	vig_entity_id(host->id, 301, vig_agent_ticks_round(7 * VIG_NS_PER_SEC), pid_id);
	/* exit of 300, killed by SIGKILL, then forgotten */
	memset(&xt, 0, sizeof(xt));
	xt.hdr.type = VIG_ABI_EXIT;
	xt.hdr.size = sizeof(xt);
	xt.hdr.pid = 300;
	xt.hdr.ktime_ns = 9 * VIG_NS_PER_SEC;
	xt.exit_code = 9;
	xt.start_boot_ns = 5 * VIG_NS_PER_SEC + 123;
	assert_int_equal(vig_agent_on_record(a, &xt, sizeof(xt)), VIG_OK);
	e = cap.events[3];
	assert_string_equal(jstr(e, "event.type"), "end");
	assert_int_equal(json_integer_value(jpath(e, "process.exit_code")), 137);
	assert_int_equal(json_integer_value(jpath(e, "event.duration")), 4 * VIG_NS_PER_SEC - 123);
	assert_string_equal(jstr(e, "process.entity_id"), id);
	/* kept through the drain that read the exit (later records in other rings), then forgotten */
	assert_non_null(vig_proctable_get(vig_agent_procs(a), 300));
	vig_agent_drained(a);
	assert_non_null(vig_proctable_get(vig_agent_procs(a), 300));
	vig_agent_drained(a);
	assert_null(vig_proctable_get(vig_agent_procs(a), 300));
	assert_non_null(vig_proctable_get(vig_agent_procs(a), 301));
	assert_string_equal(vig_proctable_get(vig_agent_procs(a), 301)->entity_id, pid_id);

	/* malformed records are refused and counted, never crash */
	assert_int_equal(vig_agent_on_record(a, ex, 10), VIG_EPARSE);
	ex->hdr.size = 12;
	assert_int_equal(vig_agent_on_record(a, ex, sizeof(*ex)), VIG_EPARSE);
	ex->hdr.size = sizeof(*ex);
	assert_int_equal(vig_agent_on_record(a, ex, sizeof(struct vig_abi_fork)), VIG_EPARSE);
	ex->hdr.type = 99;
	assert_int_equal(vig_agent_on_record(a, ex, sizeof(*ex)), VIG_EPARSE);
	ex->hdr.type = VIG_ABI_EXEC;
	ex->args_len = VIG_ABI_ARGS_LEN + 5;
	assert_int_equal(vig_agent_on_record(a, ex, sizeof(*ex)), VIG_EPARSE);
	ex->args_len = 3; /* a size that disagrees with args_len (an ABI mismatch) */
	assert_int_equal(vig_agent_on_record(a, ex, sizeof(*ex)), VIG_EPARSE);
	assert_int_equal(vig_agent_health(a)->bad_records, 7);
	assert_int_equal(cap.n, 4);
	capture_free(&cap);
	free(ex);
	free_agent(a);
}

static void test_file_and_net_records(void **state)
{
	struct capture cap = { 0 };
	struct vig_agent *a = new_agent(&cap, true);
	struct vig_abi_file f;
	struct vig_abi_net n;
	char path[512], dir[256];
	json_t *e;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/watched", g_dir);
	/* a relative rename from a process whose cwd (fixture) is the watched dir */
	snprintf(path, sizeof(path), "%s/555", g_dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/555/cwd", g_dir);
	assert_int_equal(symlink(dir, path), 0);
	memset(&f, 0, sizeof(f));
	f.hdr.type = VIG_ABI_FILE;
	f.hdr.size = sizeof(f);
	f.hdr.pid = 555;
	f.hdr.flags = VIG_ABI_F_REL_PATH;
	f.op = VIG_ABI_FILE_RENAME;
	f.dirfd = f.dirfd2 = -100;
	snprintf(f.path, sizeof(f.path), "old.txt");
	snprintf(f.path2, sizeof(f.path2), "./new.txt");
	snprintf(f.comm, sizeof(f.comm), "mv");
	assert_int_equal(vig_agent_on_record(a, &f, sizeof(f)), VIG_OK);
	assert_int_equal(cap.n, 1);
	e = cap.events[0];
	snprintf(path, sizeof(path), "%s/old.txt", dir);
	assert_string_equal(jstr(e, "file.path"), path);
	snprintf(path, sizeof(path), "%s/new.txt", dir);
	assert_string_equal(jstr(e, "file.target_path"), path);
	assert_string_equal(jstr(e, "event.action"), "rename");
	assert_string_equal(jstr(e, "event.category"), "file");
	assert_string_equal(jstr(e, "process.name"), "mv");
	/* an absolute path outside the watched tree is dropped in user space too */
	f.op = VIG_ABI_FILE_UNLINK;
	snprintf(f.path, sizeof(f.path), "/elsewhere/x");
	f.path2[0] = 0;
	assert_int_equal(vig_agent_on_record(a, &f, sizeof(f)), VIG_OK);
	assert_int_equal(cap.n, 1);
	/* a created file with its mode */
	f.op = VIG_ABI_FILE_OPEN;
	f.hdr.flags = VIG_ABI_F_CREATED;
	f.open_flags = 0101;
	f.mode = 0640;
	snprintf(f.path, sizeof(f.path), "%s/watched/new", g_dir);
	assert_int_equal(vig_agent_on_record(a, &f, sizeof(f)), VIG_OK);
	assert_int_equal(cap.n, 2);
	assert_string_equal(jstr(cap.events[1], "event.type"), "creation");
	assert_string_equal(jstr(cap.events[1], "file.mode"), "0640");
	assert_string_equal(jstr(cap.events[1], "file.name"), "new");

	/* an accepted IPv4 connection: source is the remote end */
	memset(&n, 0, sizeof(n));
	n.hdr.type = VIG_ABI_NET;
	n.hdr.size = sizeof(n);
	n.hdr.pid = 0;
	n.op = VIG_ABI_NET_ACCEPT;
	n.family = 2;
	n.protocol = 6;
	n.sport = 8443;
	n.dport = 51000;
	n.uid = UINT32_MAX;
	memcpy(n.saddr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(n.daddr, (uint8_t[]){ 192, 168, 1, 9 }, 4);
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	e = cap.events[2];
	assert_string_equal(jstr(e, "event.action"), "connection_accepted");
	assert_string_equal(jstr(e, "network.direction"), "ingress");
	assert_string_equal(jstr(e, "network.transport"), "tcp");
	assert_string_equal(jstr(e, "source.ip"), "192.168.1.9");
	assert_int_equal(json_integer_value(jpath(e, "source.port")), 51000);
	assert_string_equal(jstr(e, "destination.ip"), "10.0.0.1");
	assert_int_equal(json_integer_value(jpath(e, "destination.port")), 8443);
	assert_null(jpath(e, "process.pid"));
	/* an IPv6 connect */
	n.op = VIG_ABI_NET_CONNECT;
	n.family = 10;
	n.hdr.pid = 4321;
	memset(n.daddr, 0, 16);
	n.daddr[15] = 1;
	snprintf(n.comm, sizeof(n.comm), "curl");
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	e = cap.events[3];
	assert_string_equal(jstr(e, "event.action"), "connection_attempted");
	assert_string_equal(jstr(e, "network.direction"), "egress");
	assert_string_equal(jstr(e, "destination.ip"), "::1");
	assert_string_equal(jstr(e, "process.name"), "curl");
	/* unknown op and family are mapping errors, counted */
	n.op = 77;
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	assert_int_equal(cap.n, 4);
	assert_int_equal(vig_agent_health(a)->bad_records, 1);
	capture_free(&cap);
	free_agent(a);
}

static void test_misc_and_health(void **state)
{
	struct capture cap = { 0 };
	struct vig_agent *a = new_agent(&cap, false);
	struct vig_agent_health *h = vig_agent_health(a);
	struct vig_abi_misc m;
	json_t *e;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.hdr.type = VIG_ABI_MISC;
	m.hdr.size = sizeof(m);
	m.hdr.pid = 999999; /* not in the fixture /proc */
	m.op = VIG_ABI_MISC_SETUID;
	m.nr = VIG_NR_SETRESUID;
	m.old_uid = 1000;
	m.old_euid = 1000;
	m.new_uid = 0;
	m.new_euid = 0;
	snprintf(m.comm, sizeof(m.comm), "sudo");
	assert_int_equal(vig_agent_on_record(a, &m, sizeof(m)), VIG_OK);
	e = cap.events[0];
	assert_string_equal(jstr(e, "event.action"), "setuid");
	assert_string_equal(jstr(e, "event.outcome"), "success");
	assert_string_equal(jstr(e, "user.id"), "1000");
	assert_string_equal(jstr(e, "user.effective.id"), "0");
	assert_int_equal(json_integer_value(jpath(e, "vigil.creds.new_euid")), 0);
	m.op = VIG_ABI_MISC_MEMFD;
	m.ret = -12;
	snprintf(m.name, sizeof(m.name), "payload");
	assert_int_equal(vig_agent_on_record(a, &m, sizeof(m)), VIG_OK);
	e = cap.events[1];
	assert_string_equal(jstr(e, "event.action"), "memfd_create");
	assert_string_equal(jstr(e, "event.outcome"), "failure");
	assert_string_equal(jstr(e, "file.name"), "payload");

	h->mode = "fallback";
	snprintf(h->failure, sizeof(h->failure), "process probes failed to load");
	h->drops[VIG_ABI_DROP_FILE] = 42;
	h->n_progs = 1;
	snprintf(h->progs[0].name, sizeof(h->progs[0].name), "vig_exec");
	snprintf(h->progs[0].error, sizeof(h->progs[0].error), "load failed");
	vig_agent_emit_health(a);
	e = cap.events[2];
	assert_string_equal(jstr(e, "event.kind"), "state");
	assert_string_equal(jstr(e, "event.dataset"), "vigil.agent.health");
	assert_string_equal(jstr(e, "vigil.agent.mode"), "fallback");
	assert_string_equal(jstr(e, "vigil.agent.failure"), "process probes failed to load");
	assert_int_equal(json_integer_value(jpath(e, "vigil.agent.drops.file")), 42);
	assert_string_equal(jstr(e, "vigil.agent.probes.vig_exec"), "off");
	assert_string_equal(jstr(e, "vigil.agent.probe_errors.vig_exec"), "load failed");
	capture_free(&cap);
	free_agent(a);
}

/* UDP records, the rate-limit summary, the new drop slot and the sensor mode choice. */
static void test_udp_rate_and_mode(void **state)
{
	struct capture cap = { 0 };
	struct vig_agent *a = new_agent(&cap, false);
	struct vig_agent_health *h = vig_agent_health(a);
	struct vig_abi_net n;
	struct vig_abi_rate r;
	json_t *e;

	(void)state;
	memset(&n, 0, sizeof(n));
	n.hdr.type = VIG_ABI_NET;
	n.hdr.size = sizeof(n);
	n.hdr.pid = 999999;
	n.op = VIG_ABI_NET_UDP_SEND;
	n.family = 2;
	n.protocol = 17;
	n.sport = 40000;
	n.dport = 53;
	n.uid = 0;
	memcpy(n.saddr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	memcpy(n.daddr, (uint8_t[]){ 10, 0, 0, 53 }, 4);
	snprintf(n.comm, sizeof(n.comm), "dig");
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	e = cap.events[0];
	assert_string_equal(jstr(e, "event.action"), "udp_send");
	assert_string_equal(jstr(e, "event.category"), "network");
	assert_string_equal(jstr(e, "network.transport"), "udp");
	assert_string_equal(jstr(e, "network.protocol"), "dns");
	assert_string_equal(jstr(e, "network.type"), "ipv4");
	assert_string_equal(jstr(e, "network.direction"), "egress");
	assert_string_equal(jstr(e, "source.ip"), "10.0.0.2");
	assert_int_equal(json_integer_value(jpath(e, "source.port")), 40000);
	assert_string_equal(jstr(e, "destination.ip"), "10.0.0.53");
	assert_int_equal(json_integer_value(jpath(e, "destination.port")), 53);
	assert_string_equal(jstr(e, "process.name"), "dig");
	/* a received datagram: the peer is the source; not DNS */
	n.op = VIG_ABI_NET_UDP_RECV;
	n.dport = 9999;
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	e = cap.events[1];
	assert_string_equal(jstr(e, "event.action"), "udp_recv");
	assert_string_equal(jstr(e, "network.direction"), "ingress");
	assert_string_equal(jstr(e, "network.protocol"), "ipv4");
	assert_string_equal(jstr(e, "source.ip"), "10.0.0.53");
	assert_int_equal(json_integer_value(jpath(e, "source.port")), 9999);
	assert_string_equal(jstr(e, "destination.ip"), "10.0.0.2");
	n.op = VIG_ABI_NET_UDP_CONNECT;
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	assert_string_equal(jstr(cap.events[2], "event.action"), "udp_connect");
	/* a UDP op claiming TCP, and a TCP op claiming UDP, are refused and counted */
	n.protocol = 6;
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	n.protocol = 17;
	n.op = VIG_ABI_NET_CONNECT;
	assert_int_equal(vig_agent_on_record(a, &n, sizeof(n)), VIG_OK);
	assert_int_equal(cap.n, 3);
	assert_int_equal(h->bad_records, 2);

	memset(&r, 0, sizeof(r));
	r.hdr.type = VIG_ABI_RATE;
	r.hdr.size = sizeof(r);
	r.hdr.pid = 999999;
	r.suppressed = 384;
	r.first_ns = 1000000000;
	r.last_ns = 3000000000;
	snprintf(r.comm, sizeof(r.comm), "flood");
	assert_int_equal(vig_agent_on_record(a, &r, sizeof(r)), VIG_OK);
	e = cap.events[3];
	assert_string_equal(jstr(e, "event.action"), "file_events_rate_limited");
	assert_string_equal(jstr(e, "event.category"), "file");
	assert_int_equal(json_integer_value(jpath(e, "vigil.rate_limit.suppressed")), 384);
	assert_int_equal(json_integer_value(jpath(e, "process.pid")), 999999);
	assert_string_equal(jstr(e, "process.name"), "flood");
	assert_non_null(jstr(e, "event.start"));
	assert_non_null(jstr(e, "event.end"));
	/* a summary of nothing, a short record */
	r.suppressed = 0;
	assert_int_equal(vig_agent_on_record(a, &r, sizeof(r)), VIG_OK);
	assert_int_equal(vig_agent_on_record(a, &r, sizeof(r) - 8), VIG_EPARSE);
	assert_int_equal(cap.n, 4);
	assert_int_equal(h->bad_records, 4);

	h->drops[VIG_ABI_DROP_FILE_RATE] = 384;
	h->mode = vig_agent_sensor_mode(false, false);
	vig_agent_emit_health(a);
	e = cap.events[4];
	assert_int_equal(json_integer_value(jpath(e, "vigil.agent.drops.file_rate_limited")), 384);
	assert_string_equal(jstr(e, "vigil.agent.mode"), "ebpf-tracepoint");
	assert_string_equal(jstr(e, "message"), "agent sensors running on ebpf");
	assert_string_equal(vig_agent_sensor_mode(true, false), "ebpf-fentry");
	assert_string_equal(vig_agent_sensor_mode(true, true), "ebpf-lsm");
	assert_string_equal(vig_agent_sensor_mode(false, true), "ebpf-lsm");
	assert_string_equal(vig_agent_ebpf_mode(NULL), "ebpf-tracepoint");
	capture_free(&cap);
	free_agent(a);
}

static void test_poster_bad_args(void **state)
{
	char err[VIG_ERRBUF_SIZE];

	(void)state;
	assert_null(vig_agent_poster_new("ftp://x", "t", NULL, 0, err));
	assert_non_null(strstr(err, "http"));
	assert_null(vig_agent_poster_new("http://127.0.0.1:1", "", NULL, 0, err));
	assert_null(vig_agent_poster_new("http://127.0.0.1:1", "a\r\nX-Evil: 1", NULL, 0, err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_layout),
		cmocka_unit_test(test_args_split_join),
		cmocka_unit_test(test_cwd_components),
		cmocka_unit_test(test_exec_flags),
		cmocka_unit_test(test_container_id),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_table_ancestry),
		cmocka_unit_test(test_table_reuse_and_bounds),
		cmocka_unit_test_setup_teardown(test_table_load_fixture, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_hash_cache, setup_dir, teardown_dir),
		cmocka_unit_test(test_proc_net_parse),
		cmocka_unit_test_setup_teardown(test_record_path, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_file_and_net_records, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_misc_and_health, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_udp_rate_and_mode, setup_dir, teardown_dir),
		cmocka_unit_test(test_poster_bad_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
