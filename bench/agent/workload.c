/*
 * workload.c - the four synthetic workloads of the agent overhead benchmark (bench/agent/run.sh).
 * Each mode does N bounded iterations of one kind of activity that the agent's sensors see, and
 * prints its own wall time (CLOCK_MONOTONIC, seconds) as `wall=S`, the CPU time it and its
 * children used in the same span (user + system, getrusage) as `cpu=S`, plus a mode-specific
 * line, so the script measures the workload alone rather than process start-up. On a host that
 * others load, wall time swings with their load; CPU time is what the workload itself paid
 * (BPF programs run in the context of the traced process and are charged to it):
 *
 *   workload exec N          N x (fork + execve("/bin/true") + waitpid)
 *   workload files DIR N     N x (open(O_CREAT|O_WRONLY) + write 512 B + close + unlink) in DIR
 *   workload conn N          N x (connect + accept + close) on 127.0.0.1 to a listener on an
 *                            ephemeral port, printed first as `port=P`; the client closes with
 *                            SO_LINGER 0 (RST) so repeated runs do not pile up TIME_WAIT sockets
 *   workload syscalls N      N x getppid(): no sensor follows it, so this is the tax that every
 *                            other syscall on the host pays (no events are expected)
 *
 * Exit status: 0 on success, 1 on any failed system call (with a message), 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WL_MAX_N 10000000L

static double wl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* User + system seconds of this process and its waited-for children. */
static double wl_cpu(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
			kids.ru_stime.tv_usec) / 1e6;
}

static int wl_exec(long n)
{
	char *const argv[] = { "/bin/true", NULL };
	char *const envp[] = { NULL };

	for (long i = 0; i < n; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			fprintf(stderr, "workload: fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "workload: child %ld failed\n", i);
			return 1;
		}
	}
	return 0;
}

/* N getppid() calls: a syscall no sensor follows, so this is the tax every other syscall on the
 * host pays while the agent (or auditd) runs. */
static int wl_syscalls(long n)
{
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	return 0;
}

static int wl_files(const char *dir, long n)
{
	char buf[512];
	char path[4096];

	memset(buf, 'v', sizeof(buf));
	for (long i = 0; i < n; i++) {
		int fd;

		if (snprintf(path, sizeof(path), "%s/f%07ld", dir, i) >= (int)sizeof(path)) {
			fprintf(stderr, "workload: directory name too long\n");
			return 1;
		}
		fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "workload: open %s: %s\n", path, strerror(errno));
			return 1;
		}
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			fprintf(stderr, "workload: write %s failed\n", path);
			close(fd);
			return 1;
		}
		close(fd);
		if (unlink(path) < 0) {
			fprintf(stderr, "workload: unlink %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	return 0;
}

static int wl_conn(long n, int lfd, const struct sockaddr_in *addr)
{
	const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int s;

		if (c < 0) {
			fprintf(stderr, "workload: socket: %s\n", strerror(errno));
			return 1;
		}
		if (connect(c, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
			fprintf(stderr, "workload: connect %ld: %s\n", i, strerror(errno));
			close(c);
			return 1;
		}
		s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0) {
			fprintf(stderr, "workload: accept %ld: %s\n", i, strerror(errno));
			close(c);
			return 1;
		}
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(c);
		close(s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr;
	socklen_t alen = sizeof(addr);
	const char *mode = argc > 1 ? argv[1] : "";
	int want = strcmp(mode, "files") == 0 ? 4 : 3;
	char *end = NULL;
	long n;
	int lfd = -1;
	int one = 1;
	int rc;
	double t0, c0;

	if (argc != want) {
		fprintf(stderr, "usage: workload exec N | files DIR N | conn N | syscalls N\n");
		return 2;
	}
	errno = 0;
	n = strtol(argv[want - 1], &end, 10);
	if (errno || !end || *end || n < 1 || n > WL_MAX_N) {
		fprintf(stderr, "workload: N must be 1..%ld\n", WL_MAX_N);
		return 2;
	}
	if (strcmp(mode, "conn") == 0) {
		memset(&addr, 0, sizeof(addr));
		addr.sin_family = AF_INET;
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 128) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
			fprintf(stderr, "workload: listener: %s\n", strerror(errno));
			return 1;
		}
		printf("port=%u\n", (unsigned)ntohs(addr.sin_port));
		fflush(stdout);
	}
	c0 = wl_cpu();
	t0 = wl_now();
	if (strcmp(mode, "exec") == 0)
		rc = wl_exec(n);
	else if (strcmp(mode, "files") == 0)
		rc = wl_files(argv[2], n);
	else if (strcmp(mode, "conn") == 0)
		rc = wl_conn(n, lfd, &addr);
	else if (strcmp(mode, "syscalls") == 0)
		rc = wl_syscalls(n);
	else {
		fprintf(stderr, "workload: unknown mode %s\n", mode);
		return 2;
	}
	if (lfd >= 0)
		close(lfd);
	if (rc == 0)
		printf("wall=%.6f\ncpu=%.6f\n", wl_now() - t0, wl_cpu() - c0);
	return rc;
}
