/*
 * act_yara.c - the "yara" response action: compiles the YARA source given in "rules" with
 * libyara and scans one file, a directory (recursively when "recursive", at most max_files
 * files) or the executable image of a process ("pid": /proc/PID/exe).
 *
 * Only regular files are scanned; symbolic links are not followed inside a directory walk,
 * which also never leaves the depth of 64 directories. Each file has a scan timeout (timeout_s,
 * default 10 s) and the whole action a budget of 10 minutes; files that cannot be opened,
 * mapped or finished in time count as errors (timeouts also in "timeouts"). Files larger than
 * 256 MiB are skipped as errors. Results are bounded: at most 10,000 matches, then "truncated".
 * yr_initialize() runs once per process; rules are compiled per action and freed after it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yara.h>

#include "act_int.h"
#include "common/vtime.h"

#define VIG_YARA_RULES_MAX (1u << 20)
#define VIG_YARA_MAX_MATCHES 10000
#define VIG_YARA_MAX_FILES 1000000
#define VIG_YARA_DEFAULT_FILES 10000
#define VIG_YARA_MAX_DEPTH 64
#define VIG_YARA_FILE_MAX (256ll << 20)
#define VIG_YARA_BUDGET_NS (600ll * VIG_NS_PER_SEC)

struct vig_yara_scan {
	YR_RULES *rules;
	int timeout_s;
	int64_t max_files;
	int64_t deadline_mono;
	json_t *matches;
	const char *label; /* the file name reported in matches */
	int64_t scanned, errors, timeouts;
	bool truncated;
	enum vig_err err; /* out of memory in the callback */
};

static pthread_once_t vig_yara_once = PTHREAD_ONCE_INIT;
static int vig_yara_init_rc = -1;

static void vig_yara_init(void)
{
	vig_yara_init_rc = yr_initialize();
}

/* Compiler messages: the first error (with its line) goes to the action's error. */
static void vig_yara_compiler_cb(int level, const char *file, int line, const YR_RULE *rule, const char *msg,
				 void *user)
{
	char *errbuf = user;

	(void)file;
	(void)rule;
	if (level == YARA_ERROR_LEVEL_ERROR && errbuf && !errbuf[0])
		vig_errf(errbuf, VIG_EPARSE, "rules line %d: %s", line, msg);
}

static int vig_yara_scan_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *user)
{
	struct vig_yara_scan *s = user;
	const YR_RULE *rule = data;
	const char *tag;
	json_t *tags, *m;

	(void)ctx;
	if (message != CALLBACK_MSG_RULE_MATCHING)
		return CALLBACK_CONTINUE;
	if (json_array_size(s->matches) >= VIG_YARA_MAX_MATCHES) {
		s->truncated = true;
		return CALLBACK_ABORT;
	}
	tags = json_array();
	if (!tags) {
		s->err = VIG_ENOMEM;
		return CALLBACK_ERROR;
	}
	yr_rule_tags_foreach(rule, tag) json_array_append_new(tags, json_string(tag));
	m = json_pack("{s:s, s:o, s:s}", "rule", rule->identifier, "tags", tags, "file", s->label);
	if (vig_act_append(s->matches, m) != VIG_OK) {
		s->err = VIG_ENOMEM;
		return CALLBACK_ERROR;
	}
	return CALLBACK_CONTINUE;
}

/* Scans one regular file: open_path is opened, label is what matches report. */
static void vig_yara_file(struct vig_yara_scan *s, const char *open_path, const char *label, bool follow)
{
	struct stat st;
	int fd, rc;

	if (s->scanned >= s->max_files || vig_time_mono() > s->deadline_mono) {
		s->truncated = true;
		return;
	}
	fd = open(open_path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		s->errors++;
		return;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > VIG_YARA_FILE_MAX) {
		s->errors++;
		close(fd);
		return;
	}
	s->label = label;
	s->scanned++;
	rc = yr_rules_scan_fd(s->rules, fd, 0, vig_yara_scan_cb, s, s->timeout_s);
	close(fd);
	if (rc == ERROR_SCAN_TIMEOUT)
		s->timeouts++;
	if (rc != ERROR_SUCCESS && !(rc == ERROR_CALLBACK_ERROR && s->truncated))
		s->errors++;
}

static void vig_yara_dir(struct vig_yara_scan *s, const char *dir, bool recursive, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d) {
		s->errors++;
		return;
	}
	while ((de = readdir(d)) && !s->truncated && s->err == VIG_OK) {
		char path[VIG_ACT_MAX_PATH];
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", de->d_name) >=
		    (int)sizeof(path)) {
			s->errors++;
			continue;
		}
		if (lstat(path, &st) != 0) {
			s->errors++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (recursive && depth < VIG_YARA_MAX_DEPTH)
				vig_yara_dir(s, path, recursive, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			vig_yara_file(s, path, path, false);
		}
	}
	closedir(d);
}

/* Compiles source into *rules. */
static enum vig_err vig_yara_compile(const char *source, YR_RULES **rules, char *errbuf)
{
	YR_COMPILER *c = NULL;
	enum vig_err err = VIG_OK;

	pthread_once(&vig_yara_once, vig_yara_init);
	if (vig_yara_init_rc != ERROR_SUCCESS)
		return vig_errf(errbuf, VIG_EUNSUPPORTED, "libyara failed to initialise (%d)", vig_yara_init_rc);
	if (yr_compiler_create(&c) != ERROR_SUCCESS)
		return vig_errf(errbuf, VIG_ENOMEM, "out of memory");
	errbuf[0] = 0;
	yr_compiler_set_callback(c, vig_yara_compiler_cb, errbuf);
	if (yr_compiler_add_string(c, source, NULL) != 0) {
		if (!errbuf[0])
			vig_errf(errbuf, VIG_EPARSE, "rules do not compile");
		err = VIG_EINVAL;
		goto out_destroy;
	}
	if (yr_compiler_get_rules(c, rules) != ERROR_SUCCESS)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_destroy:
	yr_compiler_destroy(c);
	return err;
}

enum vig_err vig_act_yara(const struct vig_action_env *env, const char *action_id, json_t *params,
			  json_t **result, char *errbuf)
{
	static const char *const known[] = {"rules", "path", "pid", "recursive", "max_files", "timeout_s", NULL};
	struct vig_yara_scan s = {0};
	const char *source, *path = NULL;
	int64_t pid, timeout_s;
	bool recursive;
	struct stat st;
	enum vig_err err;

	(void)env;
	(void)action_id;
	err = vig_act_param_only(params, known, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_str(params, "rules", true, VIG_YARA_RULES_MAX, &source, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "pid", 1, INT32_MAX, 0, &pid, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_bool(params, "recursive", false, &recursive, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "max_files", 1, VIG_YARA_MAX_FILES, VIG_YARA_DEFAULT_FILES,
					&s.max_files, errbuf);
	if (err == VIG_OK)
		err = vig_act_param_int(params, "timeout_s", 1, 600, 10, &timeout_s, errbuf);
	if (err == VIG_OK && json_object_get(params, "path"))
		err = vig_act_param_path(params, "path", &path, errbuf);
	if (err != VIG_OK)
		return err;
	if ((path != NULL) == (pid != 0))
		return vig_errf(errbuf, VIG_EINVAL, "give exactly one of path and pid");
	if (path && stat(path, &st) != 0)
		return vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "%s: %s", path, strerror(errno));
	err = vig_yara_compile(source, &s.rules, errbuf);
	if (err != VIG_OK)
		return err;
	s.timeout_s = (int)timeout_s;
	s.deadline_mono = vig_time_mono() + VIG_YARA_BUDGET_NS;
	s.matches = json_array();
	if (!s.matches) {
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
		goto out_free;
	}
	if (pid) {
		char exe_link[64], exe[VIG_ACT_MAX_PATH];
		ssize_t n;

		snprintf(exe_link, sizeof(exe_link), "/proc/%lld/exe", (long long)pid);
		n = readlink(exe_link, exe, sizeof(exe) - 1);
		if (n < 0) {
			err = vig_errf(errbuf, errno == ENOENT ? VIG_ENOTFOUND : VIG_EIO, "no executable for pid %lld: %s",
				       (long long)pid, strerror(errno));
			goto out_free;
		}
		exe[n] = 0;
		vig_yara_file(&s, exe_link, exe, true);
	} else if (S_ISDIR(st.st_mode)) {
		vig_yara_dir(&s, path, recursive, 0);
	} else {
		vig_yara_file(&s, path, path, true);
	}
	if (s.err != VIG_OK) {
		err = vig_errf(errbuf, s.err, "out of memory");
		goto out_free;
	}
	*result = json_pack("{s:O, s:I, s:I, s:I, s:b}", "matches", s.matches, "scanned", (json_int_t)s.scanned,
			    "errors", (json_int_t)s.errors, "timeouts", (json_int_t)s.timeouts, "truncated",
			    s.truncated);
	if (!*result)
		err = vig_errf(errbuf, VIG_ENOMEM, "out of memory");
out_free:
	json_decref(s.matches);
	yr_rules_destroy(s.rules);
	return err;
}
