/*
 * test_builtin_rules.c - the test runner of Vigil's built-in Sigma rules ($VIG_SRC_DIR/rules).
 *
 * Every rule file under rules/ (except rules/tests/) must load, and all of them together must
 * compile into one engine: a load failure fails the test with the file and the reason. Every
 * rule must have a UUID id (unique), a level, a description and at least one ATT&CK technique
 * tag; technique and tactic tags must resolve in $VIG_SHARED_DIR/attack/enterprise-attack.json
 * when that file is present (revoked and deprecated techniques do not count).
 *
 * Each rule file rules/<dir>/<stem>.yml has a test file rules/tests/<stem>.yml:
 *
 *   positive:                 # each item must fire a rule of the file
 *     - event: {...}          # an event in the event model (nested or dotted keys)
 *       rule: name-or-id      # optional: this rule must fire (default: any detection rule)
 *     - raw: "log line"       # or a raw log line, parsed by src/parse (vigparse)
 *       parser: iptables      # optional parser name; default: auto-detection
 *       set: {field: value}   # optional fields added after parsing (e.g. threat intel hits)
 *   negative:                 # each item must fire no detection rule of the file (or `rule:`)
 *     - event: {...}
 *   correlations:             # sequences fed through the correlation engine (correlate.h)
 *     - rule: name-or-id      # the correlation rule under test
 *       fires: 1              # how many times it must fire over the whole sequence
 *       events:               # in order; an item may say repeat: N (default 1) and step: S
 *         - event: {...}      # (seconds added to @timestamp per repeat); "{i}" in a string
 *           repeat: 5         # becomes the repeat index 0..N-1
 *           step: 10
 *
 * Every event is matched against the engine of ALL built-in rules, so a test also sees the
 * routing (which logsources an event belongs to) as the server does. A positive case that
 * fails only because the engine routes the event to none of the rule's logsources (for
 * instance IDS alerts before the engine routes them to category "ids") is reported as PENDING
 * and does not fail the test; it starts asserting as soon as the routing exists.
 *
 * With the correlation engine, two more checks: every correlation resolves, informational
 * detection rules only feed correlations (no alert of their own, Sigma's `generate`) and every
 * other detection rule raises alerts; and real log corpora of $VIG_SHARED_DIR (loghub OpenSSH,
 * iptables, Apache, Suricata samples) go through detection and correlation: the OpenSSH sample's
 * brute force must be found and no high or critical rule may fire on the ordinary traffic of
 * the others (the alerts per rule are printed).
 *
 * Correlation cases run when the detect library has the correlation engine (VIG_HAVE_CORRELATE,
 * set by CMake when correlate.c is part of vigdetect); without it they are reported as pending.
 * Raw log lines need vigparse (VIG_HAVE_PARSE); without it they are reported as skipped.
 */
#include <ctype.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>
#include <yaml.h>

#include "common/arena.h"
#include "detect/detect.h"
#include "detect/sigma.h"
#include "event/event_json.h"
#ifdef VIG_HAVE_CORRELATE
#include "detect/correlate.h"
#endif
#ifdef VIG_HAVE_PARSE
#include "parse/parse.h"
#endif

#define MAX_FILES 256          /* rule files under rules/ */
#define MAX_RULES_PER_FILE 64  /* documents of one rule file (the loader's own limit) */
#define MAX_HITS 256           /* rules one event may fire */
#define MAX_REPEAT 100000      /* repeat: of one correlation event */
#define REPORT_MAX (64u << 10) /* bytes of failure report kept */
#define REF_TIME_NS 1780272000000000000LL /* 2026-06-01T00:00:00Z: year of yearless syslog lines */
#define NS 1000000000LL
#define RAW_LINE_MAX (64u << 10) /* bytes of one raw test line after {i} substitution */

struct rule_file {
	char stem[128];                                 /* file name without .yml */
	char path[PATH_MAX];                            /* rules/<dir>/<stem>.yml */
	struct vig_sigma_rule *rules[MAX_RULES_PER_FILE]; /* its rules, owned by the engine */
	size_t n_rules;
};

/* The state shared by the tests of the group (built once in setup). */
static struct {
	char rules_dir[PATH_MAX];
	bool have_dir;                      /* false: VIG_SRC_DIR unset or no rules/ */
	char *paths[MAX_FILES];             /* rule files found, sorted */
	size_t n_paths;
	struct rule_file files[MAX_FILES];  /* files that loaded */
	size_t n_files;
	char load_errors[REPORT_MAX];       /* "path: reason" lines */
	size_t n_load_errors;
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *scratch;
	char build_error[VIG_ERRBUF_SIZE];  /* engine build failure, or "" */
} G;

/* A growing failure report of one test. */
struct report {
	char text[REPORT_MAX];
	size_t len;
	size_t failures, pending, passed, skipped;
};

static void report_add(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_add(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->len + 2 >= sizeof(r->text))
		return;
	va_start(ap, fmt);
	n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	r->len += (size_t)n < sizeof(r->text) - r->len ? (size_t)n : sizeof(r->text) - r->len - 1;
}

/* Prints text line by line (cmocka's print_message() cuts long messages). */
static void print_lines(const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		print_message("%.*s\n", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

/* --- loading ----------------------------------------------------------------------------- */

static int collect_path(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (flag != FTW_F || n < 5 || strcmp(path + n - 4, ".yml") != 0)
		return 0;
	if (strstr(path + strlen(G.rules_dir), "/tests/"))
		return 0;
	if (G.n_paths >= MAX_FILES)
		return 1;
	G.paths[G.n_paths] = strdup(path);
	if (G.paths[G.n_paths])
		G.n_paths++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* File name of path without directory and ".yml". */
static void stem_of(const char *path, char *out, size_t cap)
{
	const char *b = strrchr(path, '/');
	size_t n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n >= 4 && strcmp(b + n - 4, ".yml") == 0)
		n -= 4;
	snprintf(out, cap, "%.*s", (int)n, b);
}

static int group_setup(void **state)
{
	const char *src = getenv("VIG_SRC_DIR");
	struct vig_sigma_ruleset rs;
	struct stat st;
	char err[VIG_ERRBUF_SIZE];

	(void)state;
	memset(&G, 0, sizeof(G));
	if (!src) {
		print_message("VIG_SRC_DIR is not set (run through ctest): built-in rule tests skipped\n");
		return 0;
	}
	snprintf(G.rules_dir, sizeof(G.rules_dir), "%s/rules", src);
	if (stat(G.rules_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		print_message("%s is missing: built-in rule tests skipped\n", G.rules_dir);
		return 0;
	}
	G.have_dir = true;
	nftw(G.rules_dir, collect_path, 16, FTW_PHYS);
	qsort(G.paths, G.n_paths, sizeof(G.paths[0]), cmp_str);
	vig_sigma_ruleset_init(&rs, 0);
	for (size_t i = 0; i < G.n_paths; i++) {
		struct vig_sigma_rule *r = vig_sigma_load_file(G.paths[i], NULL, err);
		struct rule_file *f;
		size_t len = strlen(G.load_errors);

		if (!r) {
			snprintf(G.load_errors + len, sizeof(G.load_errors) - len, "  %s: %s\n",
				 G.paths[i] + strlen(G.rules_dir) + 1, err);
			G.n_load_errors++;
			continue;
		}
		f = &G.files[G.n_files++];
		snprintf(f->path, sizeof(f->path), "%s", G.paths[i]);
		stem_of(G.paths[i], f->stem, sizeof(f->stem));
		for (struct vig_sigma_rule *x = r; x && f->n_rules < MAX_RULES_PER_FILE; x = x->next)
			f->rules[f->n_rules++] = x;
		if (vig_sigma_ruleset_add(&rs, r) != VIG_OK) {
			snprintf(G.load_errors + len, sizeof(G.load_errors) - len, "  %s: rule set full\n",
				 G.paths[i]);
			G.n_load_errors++;
			G.n_files--;
		}
	}
	G.eng = vig_detect_build(&rs, G.build_error);
	vig_sigma_ruleset_release(&rs);
	if (G.eng && !(G.scratch = vig_detect_scratch_new(G.eng, err)))
		snprintf(G.build_error, sizeof(G.build_error), "scratch: %.200s", err);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	vig_detect_scratch_free(G.scratch);
	vig_detect_free(G.eng);
	for (size_t i = 0; i < G.n_paths; i++)
		free(G.paths[i]);
	memset(&G, 0, sizeof(G));
	return 0;
}

/* --- rule lookup ---------------------------------------------------------------------------- */

static const char *rule_label(const struct vig_sigma_rule *r)
{
	return r->name ? r->name : r->id ? r->id : r->title;
}

/* The rule whose name, id or title is ref, among all built-in rules; NULL when none. */
static const struct vig_sigma_rule *find_rule(const char *ref)
{
	for (size_t i = 0; i < G.n_files; i++)
		for (size_t j = 0; j < G.files[i].n_rules; j++) {
			const struct vig_sigma_rule *r = G.files[i].rules[j];
			if ((r->name && !strcmp(r->name, ref)) || (r->id && !strcmp(r->id, ref)) ||
			    !strcmp(r->title, ref))
				return r;
		}
	return NULL;
}

/* Categories the engine's routing can give an event (docs/rules.md, "Routing"). A rule whose
 * category is not among them cannot fire yet; its cases are checked with routing bypassed. */
static const char *const ROUTED_CATEGORIES[] = {
	"process_creation", "network_connection", "file_event", "file_change", "file_delete",
	"file_access", "file_rename", "webserver", "proxy", "firewall", "dns",
};

static bool category_routable(const struct vig_sigma_rule *r)
{
	if (!r->logsource.category)
		return true;
	for (size_t i = 0; i < sizeof(ROUTED_CATEGORIES) / sizeof(ROUTED_CATEGORIES[0]); i++)
		if (!strcasecmp(r->logsource.category, ROUTED_CATEGORIES[i]))
			return true;
	return false;
}

/* True when the engine routes ev to a logsource the rule applies to. */
static bool routed_to(const struct vig_event *ev, const struct vig_sigma_rule *r)
{
	struct vig_detect_logsource ls[VIG_DETECT_MAX_LS];
	size_t n = vig_detect_logsources(ev, ls);

	for (size_t i = 0; i < n; i++) {
		if (r->logsource.product && (!ls[i].product || strcasecmp(r->logsource.product, ls[i].product)))
			continue;
		if (r->logsource.category && (!ls[i].category || strcasecmp(r->logsource.category, ls[i].category)))
			continue;
		if (r->logsource.service && (!ls[i].service || strcasecmp(r->logsource.service, ls[i].service)))
			continue;
		return true;
	}
	return false;
}

/* --- test 1: every rule loads and compiles ------------------------------------------------- */

static void test_rules_load(void **state)
{
	size_t n_rules = 0;

	(void)state;
	if (!G.have_dir) {
		skip();
		return;
	}
	for (size_t i = 0; i < G.n_files; i++)
		n_rules += G.files[i].n_rules;
	print_message("built-in rules: %zu files, %zu rules loaded, %zu files failed\n", G.n_paths, n_rules,
		      G.n_load_errors);
	if (G.n_load_errors) {
		print_message("rule files that do not load:\n");
		print_lines(G.load_errors);
	}
	assert_int_equal(G.n_load_errors, 0);
	assert_true(G.n_paths > 0);
	if (!G.eng)
		print_message("engine build failed: %s\n", G.build_error);
	assert_non_null(G.eng);
	assert_non_null(G.scratch);
}

/* --- test 2: metadata and ATT&CK tags ------------------------------------------------------- */

/* Technique ids ("T1059.004") and tactic shortnames ("command_and_control") of ATT&CK. */
struct attack_ids {
	char **tech;
	size_t n_tech;
	char **tactic;
	size_t n_tactic;
	bool loaded;
};

static bool str_in(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(v[i], s))
			return true;
	return false;
}

static void push_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return;
	*v = nv;
	if ((nv[*n] = strdup(s)))
		(*n)++;
}

/* Reads the STIX bundle: attack-patterns (not revoked or deprecated) and tactics. */
static void attack_load(struct attack_ids *a, const char *path)
{
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr), *objs, *o;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (!root)
		return;
	objs = json_object_get(root, "objects");
	json_array_foreach(objs, i, o) {
		const char *type = json_string_value(json_object_get(o, "type"));
		json_t *refs = json_object_get(o, "external_references"), *ref;
		size_t k;

		if (!type || json_is_true(json_object_get(o, "revoked")) ||
		    json_is_true(json_object_get(o, "x_mitre_deprecated")))
			continue;
		if (!strcmp(type, "x-mitre-tactic")) {
			const char *sn = json_string_value(json_object_get(o, "x_mitre_shortname"));
			char buf[64];
			if (!sn || strlen(sn) >= sizeof(buf))
				continue;
			for (k = 0; sn[k]; k++)
				buf[k] = sn[k] == '-' ? '_' : sn[k];
			buf[k] = 0;
			push_str(&a->tactic, &a->n_tactic, buf);
		} else if (!strcmp(type, "attack-pattern")) {
			json_array_foreach(refs, k, ref) {
				const char *src = json_string_value(json_object_get(ref, "source_name"));
				const char *eid = json_string_value(json_object_get(ref, "external_id"));
				if (src && eid && !strcmp(src, "mitre-attack"))
					push_str(&a->tech, &a->n_tech, eid);
			}
		}
	}
	json_decref(root);
	a->loaded = a->n_tech > 0;
}

static void attack_free(struct attack_ids *a)
{
	for (size_t i = 0; i < a->n_tech; i++)
		free(a->tech[i]);
	for (size_t i = 0; i < a->n_tactic; i++)
		free(a->tactic[i]);
	free(a->tech);
	free(a->tactic);
}

/* "attack.t1059.004" → true and "T1059.004" in out. */
static bool technique_tag(const char *tag, char *out, size_t cap)
{
	const char *p = tag + 8;
	size_t n = 0;

	if (strncasecmp(tag, "attack.t", 8) != 0)
		return false;
	while (isdigit((unsigned char)p[n]))
		n++;
	if (n != 4)
		return false;
	if (p[n] == '.') {
		size_t m = 0;
		while (isdigit((unsigned char)p[n + 1 + m]))
			m++;
		if (m != 3)
			return false;
		n += 4;
	}
	if (p[n] || n + 2 > cap)
		return false;
	out[0] = 'T';
	memcpy(out + 1, p, n);
	out[n + 1] = 0;
	return true;
}

static bool is_uuid(const char *s)
{
	static const int groups[] = {8, 4, 4, 4, 12};

	for (size_t g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char)*s))
				return false;
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == 0;
}

static const char *const LEVELS[] = {"informational", "low", "medium", "high", "critical"};

static void check_rule_meta(struct report *rep, const struct rule_file *f, const struct vig_sigma_rule *r,
			    const struct attack_ids *a)
{
	size_t techniques = 0;
	bool level_ok = false;

	if (!r->id || !is_uuid(r->id))
		report_add(rep, "  %s: '%s': id is not a UUID\n", f->stem, r->title);
	for (size_t i = 0; r->level && i < sizeof(LEVELS) / sizeof(LEVELS[0]); i++)
		level_ok |= !strcmp(r->level, LEVELS[i]);
	if (!level_ok)
		report_add(rep, "  %s: '%s': missing or unknown level\n", f->stem, r->title);
	if (!r->description || !r->description[0])
		report_add(rep, "  %s: '%s': no description\n", f->stem, r->title);
	for (size_t i = 0; i < r->tags.n; i++) {
		const char *tag = r->tags.v[i];
		char tid[16];

		if (strncasecmp(tag, "attack.", 7) != 0)
			continue;
		if (technique_tag(tag, tid, sizeof(tid))) {
			techniques++;
			if (a->loaded && !str_in(a->tech, a->n_tech, tid))
				report_add(rep, "  %s: '%s': tag %s is not an ATT&CK technique\n", f->stem, r->title, tag);
		} else if ((tag[7] == 'g' || tag[7] == 's') && isdigit((unsigned char)tag[8])) {
			continue; /* groups and software */
		} else if (a->loaded && !str_in(a->tactic, a->n_tactic, tag + 7)) {
			report_add(rep, "  %s: '%s': tag %s is not an ATT&CK tactic\n", f->stem, r->title, tag);
		}
	}
	if (!techniques)
		report_add(rep, "  %s: '%s': no attack.tNNNN technique tag\n", f->stem, r->title);
}

static void test_rules_metadata(void **state)
{
	struct attack_ids a;
	struct report *rep = calloc(1, sizeof(*rep));
	char path[PATH_MAX];
	const char *shared = getenv("VIG_SHARED_DIR");
	size_t n;

	(void)state;
	assert_non_null(rep);
	if (!G.have_dir) {
		free(rep);
		skip();
		return;
	}
	memset(&a, 0, sizeof(a));
	if (shared) {
		snprintf(path, sizeof(path), "%s/data/attack/enterprise-attack.json", shared);
		attack_load(&a, path);
	}
	if (!a.loaded)
		print_message("ATT&CK data (VIG_SHARED_DIR/data/attack/enterprise-attack.json) absent: tags checked "
			      "for form only\n");
	else
		print_message("ATT&CK: %zu techniques, %zu tactics\n", a.n_tech, a.n_tactic);
	for (size_t i = 0; i < G.n_files; i++)
		for (size_t j = 0; j < G.files[i].n_rules; j++) {
			const struct vig_sigma_rule *r = G.files[i].rules[j];
			check_rule_meta(rep, &G.files[i], r, &a);
			/* ids and names are unique over the whole set */
			for (size_t k = 0; k < G.n_files; k++)
				for (size_t l = 0; l < G.files[k].n_rules; l++) {
					const struct vig_sigma_rule *o = G.files[k].rules[l];
					if (o == r || (k < i || (k == i && l < j)))
						continue;
					if (r->id && o->id && !strcmp(r->id, o->id))
						report_add(rep, "  %s and %s: duplicate id %s\n", G.files[i].stem,
							   G.files[k].stem, r->id);
					if (r->name && o->name && !strcmp(r->name, o->name))
						report_add(rep, "  %s and %s: duplicate name %s\n", G.files[i].stem,
							   G.files[k].stem, r->name);
				}
		}
	attack_free(&a);
	if (rep->len) {
		print_message("rule metadata problems:\n");
		print_lines(rep->text);
	}
	n = rep->len;
	free(rep);
	assert_int_equal(n, 0);
}

/* --- test cases: YAML helpers ------------------------------------------------------------ */

static yaml_node_t *map_get(yaml_document_t *d, yaml_node_t *m, const char *key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *scalar_str(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Non-negative integer of a scalar node, or def when absent; -1 when not a number. */
static long scalar_long(yaml_node_t *n, long def)
{
	const char *s = scalar_str(n);
	long v = 0;

	if (!n)
		return def;
	if (!s || !*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > LONG_MAX / 10 - 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/* Copies s into out replacing "{i}" by rep (rep < 0: no replacement). */
static void subst_index(const char *s, long rep, char *out, size_t cap)
{
	size_t o = 0;

	while (*s && o + 1 < cap) {
		if (rep >= 0 && !strncmp(s, "{i}", 3)) {
			int n = snprintf(out + o, cap - o, "%ld", rep);
			o += n > 0 && (size_t)n < cap - o ? (size_t)n : 0;
			s += 3;
			continue;
		}
		out[o++] = *s++;
	}
	out[o] = 0;
}

static bool is_int_text(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || (*s == '0' && s[1]))
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* A YAML node as JSON: plain scalars that read as integers, booleans or null take that type,
 * everything else is a string. */
static json_t *yaml_to_json(yaml_document_t *d, yaml_node_t *n, long rep, int depth)
{
	char buf[8192];
	json_t *out;

	if (!n || depth > 16)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		subst_index((const char *)n->data.scalar.value, rep, buf, sizeof(buf));
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			if (!strcmp(buf, "true") || !strcmp(buf, "false"))
				return json_boolean(buf[0] == 't');
			if (!strcmp(buf, "null") || !strcmp(buf, "~") || !buf[0])
				return json_null();
			if (is_int_text(buf) && strlen(buf) < 19) {
				json_int_t v = 0;
				for (const char *c = buf + (buf[0] == '-'); *c; c++)
					v = v * 10 + (*c - '0');
				return json_integer(buf[0] == '-' ? -v : v);
			}
		}
		return json_string(buf);
	case YAML_SEQUENCE_NODE:
		out = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start; out && it < n->data.sequence.items.top; it++)
			json_array_append_new(out, yaml_to_json(d, yaml_document_get_node(d, *it), rep, depth + 1));
		return out;
	case YAML_MAPPING_NODE:
		out = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; out && p < n->data.mapping.pairs.top; p++) {
			const char *k = scalar_str(yaml_document_get_node(d, p->key));
			if (k)
				json_object_set_new(out, k, yaml_to_json(d, yaml_document_get_node(d, p->value), rep,
									 depth + 1));
		}
		return out;
	default:
		return NULL;
	}
}

static bool load_yaml(const char *path, yaml_document_t *doc, char *err, size_t cap)
{
	FILE *fp = fopen(path, "rb");
	yaml_parser_t p;
	bool ok;

	if (!fp) {
		snprintf(err, cap, "cannot open %.*s", (int)(cap > 16 ? cap - 16 : 0), path);
		return false;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, fp);
	ok = yaml_parser_load(&p, doc) && yaml_document_get_root_node(doc);
	if (!ok)
		snprintf(err, cap, "yaml error at line %zu: %s", p.problem_mark.line + 1,
			 p.problem ? p.problem : "empty document");
	yaml_parser_delete(&p);
	fclose(fp);
	return ok;
}

/* --- test cases: events ------------------------------------------------------------------ */

/* What one case item turned into. */
enum item_result { ITEM_OK, ITEM_SKIP, ITEM_ERROR };

/*
 * Builds the event of one case item: `event:` (decoded as JSON) or `raw:` (parsed, then
 * `set:` applied). rep is the repeat index ({i}, and `step:` seconds added to @timestamp per
 * repeat). Reasons for ITEM_SKIP and ITEM_ERROR go to why.
 */
static enum item_result build_event(yaml_document_t *d, yaml_node_t *item, long rep, struct vig_event *ev,
				    void *pctx, char *why, size_t cap)
{
	yaml_node_t *evn = map_get(d, item, "event"), *raw = map_get(d, item, "raw"), *set = map_get(d, item, "set");
	long step = scalar_long(map_get(d, item, "step"), 0);
	char err[VIG_ERRBUF_SIZE];

	(void)pctx;
	if (evn) {
		json_t *j = yaml_to_json(d, evn, rep, 0);
		enum vig_err e = j && json_is_object(j) ? vig_event_from_jansson(ev, j, NULL, err) : VIG_EINVAL;
		json_decref(j);
		if (e != VIG_OK) {
			snprintf(why, cap, "event does not decode: %s", j ? err : "not a map");
			return ITEM_ERROR;
		}
	} else if (raw && scalar_str(raw)) {
#ifdef VIG_HAVE_PARSE
		const char *pname = scalar_str(map_get(d, item, "parser"));
		const struct vig_parser *p = pname ? vig_parser_find(pname) : NULL;
		char *line = malloc(RAW_LINE_MAX);
		enum vig_err e;

		if (pname && !p) {
			snprintf(why, cap, "unknown parser '%s'", pname);
			free(line);
			return ITEM_ERROR;
		}
		if (!line) {
			snprintf(why, cap, "out of memory");
			return ITEM_ERROR;
		}
		subst_index(scalar_str(raw), rep, line, RAW_LINE_MAX);
		e = p ? p->parse(pctx, line, strlen(line), ev, err)
		      : vig_parse_auto(pctx, line, strlen(line), ev, NULL, err);
		free(line);
		if (e != VIG_OK) {
			snprintf(why, cap, "raw line does not parse: %s", err);
			return ITEM_ERROR;
		}
#else
		snprintf(why, cap, "raw log line needs vigparse (not in this build)");
		return ITEM_SKIP;
#endif
	} else {
		snprintf(why, cap, "item has neither event: nor raw:");
		return ITEM_ERROR;
	}
	if (set && set->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = set->data.mapping.pairs.start; p < set->data.mapping.pairs.top; p++) {
			const char *k = scalar_str(yaml_document_get_node(d, p->key));
			const char *v = scalar_str(yaml_document_get_node(d, p->value));
			char val[1024];
			if (!k || !v) {
				snprintf(why, cap, "set: takes scalar values");
				return ITEM_ERROR;
			}
			subst_index(v, rep, val, sizeof(val));
			if (vig_event_set_by_name(ev, k, strlen(k), val, strlen(val)) != VIG_OK) {
				snprintf(why, cap, "set: field %s does not take '%s'", k, val);
				return ITEM_ERROR;
			}
		}
	}
	if (step < 0) {
		snprintf(why, cap, "step: must be a number of seconds");
		return ITEM_ERROR;
	}
	if (step && rep > 0) {
		const struct vig_val *ts = vig_event_get(ev, VIG_F_TIMESTAMP);
		if (!ts) {
			snprintf(why, cap, "step: needs an @timestamp");
			return ITEM_ERROR;
		}
		vig_event_set_ts(ev, VIG_F_TIMESTAMP, ts->u.i + (int64_t)rep * step * NS);
	}
	return ITEM_OK;
}

struct hits {
	const struct vig_sigma_rule *r[MAX_HITS];
	size_t n;
};

static int on_hit(void *ctx, const struct vig_sigma_rule *rule)
{
	struct hits *h = ctx;

	if (h->n < MAX_HITS)
		h->r[h->n++] = rule;
	return 0;
}

static bool hit(const struct hits *h, const struct vig_sigma_rule *r)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->r[i] == r)
			return true;
	return false;
}

static void hits_text(const struct hits *h, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = 0;
	for (size_t i = 0; i < h->n && o + 1 < cap; i++) {
		int n = snprintf(out + o, cap - o, "%s%s", i ? ", " : "", rule_label(h->r[i]));
		if (n < 0)
			break;
		o += (size_t)n < cap - o ? (size_t)n : cap - o - 1;
	}
	if (!h->n)
		snprintf(out, cap, "nothing");
}

/*
 * What-if check for events the engine does not route to a rule's logsource: the rules of f
 * are loaded again with their logsource reduced to product "linux" and the event gets an
 * agent.id, so every rule of the file sees it. Returns 1 when a rule with the id of one of
 * target[] fired, 0 when none did, -1 when the check could not run (reason in why).
 */
static int fires_unrouted(const struct rule_file *f, const struct vig_sigma_rule *const *target, size_t n_target,
			  struct vig_event *ev, char *why, size_t cap)
{
	char err[VIG_ERRBUF_SIZE];
	struct vig_sigma_ruleset rs;
	struct vig_sigma_rule *r = vig_sigma_load_file(f->path, NULL, err);
	struct vig_detect_engine *eng;
	struct vig_detect_scratch *sc;
	struct hits h = {.n = 0};
	int fired = 0;

	if (!r) {
		snprintf(why, cap, "reload failed: %s", err);
		return -1;
	}
	for (struct vig_sigma_rule *x = r; x; x = x->next) {
		x->logsource.product = "linux";
		x->logsource.category = NULL;
		x->logsource.service = NULL;
	}
	vig_sigma_ruleset_init(&rs, 0);
	if (vig_sigma_ruleset_add(&rs, r) != VIG_OK || !(eng = vig_detect_build(&rs, err))) {
		vig_sigma_ruleset_release(&rs);
		snprintf(why, cap, "what-if engine failed");
		return -1;
	}
	vig_sigma_ruleset_release(&rs);
	if (!(sc = vig_detect_scratch_new(eng, err))) {
		vig_detect_free(eng);
		snprintf(why, cap, "what-if scratch failed");
		return -1;
	}
	if (!vig_event_get(ev, VIG_F_AGENT_ID))
		vig_event_set_cstr(ev, VIG_F_AGENT_ID, "what-if");
	if (vig_detect_match(eng, sc, ev, on_hit, &h, NULL) == VIG_OK)
		for (size_t i = 0; i < h.n; i++)
			for (size_t j = 0; j < n_target; j++)
				if (h.r[i]->id && target[j]->id && !strcmp(h.r[i]->id, target[j]->id))
					fired = 1;
	vig_detect_scratch_free(sc);
	vig_detect_free(eng);
	return fired;
}

/* Runs one positive (want = true) or negative case item against the rules of file f. */
static void run_item(struct report *rep, const struct rule_file *f, yaml_document_t *d, yaml_node_t *item,
		     size_t idx, bool want, void *pctx)
{
	const char *which = want ? "positive" : "negative";
	const char *ref = scalar_str(map_get(d, item, "rule"));
	const struct vig_sigma_rule *target[MAX_RULES_PER_FILE];
	size_t n_target = 0;
	struct vig_arena arena;
	struct vig_event ev;
	struct hits h = {.n = 0};
	char why[VIG_ERRBUF_SIZE + 64], got[1024];
	bool fired = false, routed = false; /* routed: routable, or a category the engine routes */
	enum item_result res;

	if (ref) {
		const struct vig_sigma_rule *r = find_rule(ref);
		if (!r) {
			report_add(rep, "  %s %s #%zu: unknown rule '%s'\n", f->stem, which, idx + 1, ref);
			rep->failures++;
			return;
		}
		target[n_target++] = r;
	} else {
		for (size_t i = 0; i < f->n_rules; i++)
			if (f->rules[i]->kind == VIG_SIGMA_DETECTION)
				target[n_target++] = f->rules[i];
	}
	vig_arena_init(&arena, 4096, 4u << 20);
	vig_event_init(&ev, &arena);
	res = build_event(d, item, -1, &ev, pctx, why, sizeof(why));
	if (res != ITEM_OK) {
		report_add(rep, "  %s %s #%zu: %s%s\n", f->stem, which, idx + 1, res == ITEM_SKIP ? "SKIPPED " : "",
			   why);
		if (res == ITEM_SKIP)
			rep->skipped++;
		else
			rep->failures++;
		vig_arena_release(&arena);
		return;
	}
	assert_int_equal(vig_detect_match(G.eng, G.scratch, &ev, on_hit, &h, NULL), VIG_OK);
	for (size_t i = 0; i < n_target; i++) {
		fired |= hit(&h, target[i]);
		routed |= routed_to(&ev, target[i]) || category_routable(target[i]);
	}
	hits_text(&h, got, sizeof(got));
	if (!routed && n_target) {
		/* The engine's routing gives this event none of the rule's logsources: the case is
		 * pending on the routing, and the rule's logic is checked with routing bypassed. */
		int w = fires_unrouted(f, target, n_target, &ev, why, sizeof(why));
		const char *ls = target[0]->logsource.category ? target[0]->logsource.category
				 : target[0]->logsource.service ? target[0]->logsource.service : "-";
		if (w < 0 || (w == 1) != want) {
			report_add(rep, "  %s %s #%zu: with routing bypassed, expected %s to %s: %s\n", f->stem, which,
				   idx + 1, ref ? ref : "a rule of the file", want ? "fire" : "stay silent",
				   w < 0 ? why : w ? "it fired" : "it did not");
			rep->failures++;
		} else {
			report_add(rep, "  %s %s #%zu: PENDING routing: the engine routes this event to no '%s' "
				   "logsource; the rule logic passes with routing bypassed\n", f->stem, which, idx + 1, ls);
			rep->pending++;
		}
	} else if (fired == want) {
		rep->passed++;
	} else {
		report_add(rep, "  %s %s #%zu: expected %s%s to %s; fired: %s\n", f->stem, which, idx + 1,
			   ref ? "rule " : "a rule of the file", ref ? ref : "", want ? "fire" : "stay silent", got);
		rep->failures++;
	}
	vig_arena_release(&arena);
}

/* --- correlation cases ------------------------------------------------------------------- */

#ifdef VIG_HAVE_CORRELATE
struct fire_count {
	const struct vig_sigma_rule *target;
	size_t n;        /* firings of target */
	size_t others;   /* firings of other correlations */
};

static int on_corr_fire(void *ctx, const struct vig_corr_fire *f)
{
	struct fire_count *c = ctx;

	if (f->rule == c->target)
		c->n++;
	else
		c->others++;
	return 0;
}

struct problems {
	struct report *rep;
};

static void on_problem(void *ctx, const struct vig_sigma_rule *rule, const char *reason)
{
	struct problems *p = ctx;

	report_add(p->rep, "  correlation '%s' cannot be evaluated: %s\n", rule->title, reason);
	p->rep->failures++;
}

/* A correlation engine over all built-in rules; NULL on failure (reported). */
static struct vig_corr *corr_engine(struct report *rep)
{
	struct vig_corr *c = vig_corr_new(NULL);
	struct vig_sigma_rule *const *rules;
	struct problems pr = {rep};
	char err[VIG_ERRBUF_SIZE];
	size_t n;

	if (!c)
		return NULL;
	rules = vig_detect_rules(G.eng, &n);
	if (vig_corr_set_rules(c, rules, n, on_problem, &pr, err) != VIG_OK) {
		report_add(rep, "  correlation engine: %s\n", err);
		rep->failures++;
		vig_corr_free(c);
		return NULL;
	}
	return c;
}

/* Feeds one event item (repeated) through the detection and correlation engines. */
static bool feed_item(struct report *rep, const struct rule_file *f, struct vig_corr *c, yaml_document_t *d,
		      yaml_node_t *item, size_t ci, struct fire_count *fc, void *pctx, int64_t *last_ns)
{
	long repeat = scalar_long(map_get(d, item, "repeat"), 1);
	char why[VIG_ERRBUF_SIZE + 64];

	if (repeat < 1 || repeat > MAX_REPEAT) {
		report_add(rep, "  %s correlation #%zu: repeat: must be 1..%d\n", f->stem, ci + 1, MAX_REPEAT);
		rep->failures++;
		return false;
	}
	for (long i = 0; i < repeat; i++) {
		struct vig_arena arena;
		struct vig_event ev;
		struct hits h = {.n = 0};
		enum item_result res;
		const struct vig_val *ts;

		vig_arena_init(&arena, 4096, 4u << 20);
		vig_event_init(&ev, &arena);
		res = build_event(d, item, repeat > 1 ? i : -1, &ev, pctx, why, sizeof(why));
		if (res != ITEM_OK) {
			report_add(rep, "  %s correlation #%zu: %s%s\n", f->stem, ci + 1,
				   res == ITEM_SKIP ? "SKIPPED " : "", why);
			if (res == ITEM_SKIP)
				rep->skipped++;
			else
				rep->failures++;
			vig_arena_release(&arena);
			return false;
		}
		if (!(ts = vig_event_get(&ev, VIG_F_TIMESTAMP))) {
			report_add(rep, "  %s correlation #%zu: every event needs an @timestamp\n", f->stem, ci + 1);
			rep->failures++;
			vig_arena_release(&arena);
			return false;
		}
		if (ts->u.i > *last_ns)
			*last_ns = ts->u.i;
		assert_int_equal(vig_detect_match(G.eng, G.scratch, &ev, on_hit, &h, NULL), VIG_OK);
		for (size_t k = 0; k < h.n; k++)
			assert_int_equal(vig_corr_feed(c, h.r[k], NULL, &ev, on_corr_fire, fc, NULL), VIG_OK);
		vig_arena_release(&arena);
	}
	return true;
}

static void run_correlation(struct report *rep, const struct rule_file *f, yaml_document_t *d, yaml_node_t *cs,
			    size_t ci, void *pctx, bool *tested)
{
	const char *ref = scalar_str(map_get(d, cs, "rule"));
	long want = scalar_long(map_get(d, cs, "fires"), 1);
	yaml_node_t *events = map_get(d, cs, "events");
	const struct vig_sigma_rule *target = ref ? find_rule(ref) : NULL;
	struct fire_count fc = {.target = target};
	struct vig_corr *c;
	int64_t last_ns = 0;
	bool ok = true;

	if (!target || target->kind != VIG_SIGMA_CORRELATION || want < 0 || !events ||
	    events->type != YAML_SEQUENCE_NODE) {
		report_add(rep, "  %s correlation #%zu: needs rule: (a correlation rule), fires: N and events:\n",
			   f->stem, ci + 1);
		rep->failures++;
		return;
	}
	for (size_t i = 0; i < f->n_rules; i++)
		if (f->rules[i] == target && want > 0)
			tested[i] = true;
	if (!(c = corr_engine(rep)))
		return;
	for (yaml_node_item_t *it = events->data.sequence.items.start; ok && it < events->data.sequence.items.top;
	     it++)
		ok = feed_item(rep, f, c, d, yaml_document_get_node(d, *it), ci, &fc, pctx, &last_ns);
	if (ok)
		assert_int_equal(vig_corr_advance(c, last_ns + 7 * 86400 * NS, on_corr_fire, &fc, NULL), VIG_OK);
	vig_corr_free(c);
	if (!ok)
		return;
	if (fc.n == (size_t)want) {
		rep->passed++;
	} else {
		report_add(rep, "  %s correlation #%zu (%s): expected %ld firing(s), got %zu\n", f->stem, ci + 1, ref,
			   want, fc.n);
		rep->failures++;
	}
}
#endif

/* --- test 3: the cases of every rule file ------------------------------------------------ */

static void run_file_cases(struct report *rep, const struct rule_file *f)
{
	char path[PATH_MAX + 160], err[512];
	yaml_document_t doc;
	yaml_node_t *root, *pos, *neg, *corr;
	bool tested[MAX_RULES_PER_FILE] = {false};
	void *pctx = NULL;
#ifdef VIG_HAVE_PARSE
	struct vig_parse_ctx *ctx = calloc(1, sizeof(*ctx));
	assert_non_null(ctx);
	vig_parse_ctx_init(ctx, REF_TIME_NS);
	pctx = ctx;
#endif

	snprintf(path, sizeof(path), "%s/tests/%s.yml", G.rules_dir, f->stem);
	if (!load_yaml(path, &doc, err, sizeof(err))) {
		report_add(rep, "  %s: no usable test file rules/tests/%s.yml (%s)\n", f->stem, f->stem, err);
		rep->failures++;
		free(pctx);
		return;
	}
	root = yaml_document_get_root_node(&doc);
	pos = map_get(&doc, root, "positive");
	neg = map_get(&doc, root, "negative");
	corr = map_get(&doc, root, "correlations");
	if (!pos || pos->type != YAML_SEQUENCE_NODE || pos->data.sequence.items.top == pos->data.sequence.items.start ||
	    !neg || neg->type != YAML_SEQUENCE_NODE || neg->data.sequence.items.top == neg->data.sequence.items.start) {
		report_add(rep, "  %s: the test file needs non-empty positive: and negative: lists\n", f->stem);
		rep->failures++;
	}
	for (int pass = 0; pass < 2; pass++) {
		yaml_node_t *list = pass == 0 ? pos : neg;
		size_t idx = 0;
		if (!list || list->type != YAML_SEQUENCE_NODE)
			continue;
		for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top; it++)
			run_item(rep, f, &doc, yaml_document_get_node(&doc, *it), idx++, pass == 0, pctx);
	}
	if (corr && corr->type == YAML_SEQUENCE_NODE) {
#ifdef VIG_HAVE_CORRELATE
		size_t ci = 0;
		for (yaml_node_item_t *it = corr->data.sequence.items.start; it < corr->data.sequence.items.top; it++)
			run_correlation(rep, f, &doc, yaml_document_get_node(&doc, *it), ci++, pctx, tested);
		for (size_t i = 0; i < f->n_rules; i++)
			if (f->rules[i]->kind == VIG_SIGMA_CORRELATION && !tested[i]) {
				report_add(rep, "  %s: correlation '%s' has no case that makes it fire\n", f->stem,
					   f->rules[i]->title);
				rep->failures++;
			}
#else
		(void)tested;
		report_add(rep, "  %s: PENDING: %zu correlation case(s) not run (no correlation engine in this "
			   "build)\n", f->stem, (size_t)(corr->data.sequence.items.top - corr->data.sequence.items.start));
		rep->pending++;
#endif
	} else {
		for (size_t i = 0; i < f->n_rules; i++)
			if (f->rules[i]->kind == VIG_SIGMA_CORRELATION) {
				report_add(rep, "  %s: correlation '%s' has no correlations: case\n", f->stem,
					   f->rules[i]->title);
				rep->failures++;
			}
	}
	yaml_document_delete(&doc);
	free(pctx);
}

static void test_rule_cases(void **state)
{
	struct report *rep = calloc(1, sizeof(*rep));
	size_t failures, passed, pending;

	(void)state;
	assert_non_null(rep);
	if (!G.have_dir || !G.eng) {
		free(rep);
		skip();
		return;
	}
	for (size_t i = 0; i < G.n_files; i++)
		run_file_cases(rep, &G.files[i]);
	print_message("rule test cases: %zu passed, %zu failed, %zu pending, %zu skipped\n", rep->passed,
		      rep->failures, rep->pending, rep->skipped);
	print_lines(rep->text);
	failures = rep->failures;
	passed = rep->passed;
	pending = rep->pending;
	free(rep);
	assert_int_equal(failures, 0);
	assert_int_equal(pending, 0); /* every case runs: routing and correlation are both in the engine */
	assert_true(passed > 0);
}

/* --- test 4: the runner itself refuses what it should ------------------------------------ */

/* A negative that fires and a positive that does not must both count as failures; an event
 * that does not decode is an error, not a silent pass. */
static void test_runner_detects_failures(void **state)
{
	static const char yaml[] = "positive:\n"
				   "  - event: {agent.id: a1, event.category: process, event.type: start,\n"
				   "            process.executable: /usr/bin/true, process.command_line: 'true'}\n"
				   "negative:\n"
				   "  - event: {agent.id: a1, event.category: process, event.type: start,\n"
				   "            process.executable: /usr/bin/xmrig, process.command_line: xmrig}\n"
				   "  - event: {agent.id: a1, process.pid: not-a-number}\n";
	struct report *rep = calloc(1, sizeof(*rep));
	const struct rule_file *f = NULL;
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;

	(void)state;
	assert_non_null(rep);
	for (size_t i = 0; i < G.n_files; i++)
		if (!strcmp(G.files[i].stem, "lnx_cryptominer"))
			f = &G.files[i];
	if (!G.eng || !f) {
		free(rep);
		skip();
		return;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, sizeof(yaml) - 1);
	assert_true(yaml_parser_load(&p, &doc));
	yaml_parser_delete(&p);
	root = yaml_document_get_root_node(&doc);
	run_item(rep, f, &doc, yaml_document_get_node(&doc, *map_get(&doc, root, "positive")->data.sequence.items.start),
		 0, true, NULL);
	assert_int_equal(rep->failures, 1);
	yaml_node_t *neg = map_get(&doc, root, "negative");
	run_item(rep, f, &doc, yaml_document_get_node(&doc, neg->data.sequence.items.start[0]), 0, false, NULL);
	assert_int_equal(rep->failures, 2);
	run_item(rep, f, &doc, yaml_document_get_node(&doc, neg->data.sequence.items.start[1]), 1, false, NULL);
	assert_int_equal(rep->failures, 3);
	assert_int_equal(rep->passed, 0);
	assert_non_null(strstr(rep->text, "does not decode"));
	yaml_document_delete(&doc);
	free(rep);
}

/* --- test 6: which rules raise alerts ------------------------------------------------------ */

#ifdef VIG_HAVE_CORRELATE
/* Every correlation resolves (no inactive one), every informational detection rule only feeds
 * correlations (raises no alert of its own), and every other detection rule raises alerts. */
static void test_rule_alerting(void **state)
{
	struct report *rep = calloc(1, sizeof(*rep));
	struct vig_corr *c;
	size_t failures;

	(void)state;
	assert_non_null(rep);
	if (!G.eng) {
		free(rep);
		skip();
		return;
	}
	c = corr_engine(rep);
	assert_non_null(c);
	for (size_t i = 0; i < G.n_files; i++)
		for (size_t j = 0; j < G.files[i].n_rules; j++) {
			const struct vig_sigma_rule *r = G.files[i].rules[j];
			bool info = r->level && !strcmp(r->level, "informational");
			if (r->kind != VIG_SIGMA_DETECTION)
				continue;
			if (info && (!vig_corr_rule_used(c, r) || vig_corr_rule_alerts(c, r))) {
				report_add(rep, "  %s: informational rule '%s' should only feed correlations\n",
					   G.files[i].stem, r->title);
				rep->failures++;
			} else if (!info && !vig_corr_rule_alerts(c, r)) {
				report_add(rep, "  %s: rule '%s' (%s) raises no alert\n", G.files[i].stem, r->title,
					   r->level ? r->level : "no level");
				rep->failures++;
			}
		}
	vig_corr_free(c);
	print_lines(rep->text);
	failures = rep->failures;
	free(rep);
	assert_int_equal(failures, 0);
}
#endif

/* --- test 5: real log corpora -------------------------------------------------------------- */

#if defined(VIG_HAVE_PARSE) && defined(VIG_HAVE_CORRELATE)
#define MAX_TALLY 256

/* Alerts per rule over a corpus: detection matches that raise alerts of their own and
 * correlation firings with alert set. */
struct tally {
	const struct vig_sigma_rule *rule[MAX_TALLY];
	size_t n[MAX_TALLY];
	size_t used;
	struct vig_corr *corr;
};

static void tally_add(struct tally *t, const struct vig_sigma_rule *r)
{
	for (size_t i = 0; i < t->used; i++)
		if (t->rule[i] == r) {
			t->n[i]++;
			return;
		}
	if (t->used < MAX_TALLY) {
		t->rule[t->used] = r;
		t->n[t->used++] = 1;
	}
}

static int tally_fire(void *ctx, const struct vig_corr_fire *f)
{
	if (f->alert)
		tally_add(ctx, f->rule);
	return 0;
}

static size_t tally_get(const struct tally *t, const char *title)
{
	for (size_t i = 0; i < t->used; i++)
		if (!strcmp(t->rule[i]->title, title))
			return t->n[i];
	return 0;
}

/* Feeds every line of path (parsed by parser, NULL = auto) through detection and
 * correlation; returns the number of lines parsed, or 0 when the file is absent. */
static size_t run_corpus(struct tally *t, const char *path, const char *parser)
{
	const struct vig_parser *p = parser ? vig_parser_find(parser) : NULL;
	struct vig_parse_ctx *ctx = calloc(1, sizeof(*ctx));
	char *line = malloc(RAW_LINE_MAX), err[VIG_ERRBUF_SIZE];
	FILE *fp = fopen(path, "r");
	int64_t last = 0;
	size_t parsed = 0;

	if (!fp || !ctx || !line) {
		if (fp)
			fclose(fp);
		free(ctx);
		free(line);
		return 0;
	}
	vig_parse_ctx_init(ctx, REF_TIME_NS);
	while (fgets(line, RAW_LINE_MAX, fp)) {
		struct vig_arena arena;
		struct vig_event ev;
		struct hits h = {.n = 0};
		const struct vig_val *ts;
		size_t n = strcspn(line, "\r\n");

		line[n] = 0;
		vig_arena_init(&arena, 4096, 4u << 20);
		vig_event_init(&ev, &arena);
		if ((p ? p->parse(ctx, line, n, &ev, err) : vig_parse_auto(ctx, line, n, &ev, NULL, err)) == VIG_OK) {
			parsed++;
			if ((ts = vig_event_get(&ev, VIG_F_TIMESTAMP)) && ts->u.i > last)
				last = ts->u.i;
			assert_int_equal(vig_detect_match(G.eng, G.scratch, &ev, on_hit, &h, NULL), VIG_OK);
			for (size_t i = 0; i < h.n; i++) {
				if (vig_corr_rule_alerts(t->corr, h.r[i]))
					tally_add(t, h.r[i]);
				assert_int_equal(vig_corr_feed(t->corr, h.r[i], NULL, &ev, tally_fire, t, NULL), VIG_OK);
			}
		}
		vig_arena_release(&arena);
	}
	assert_int_equal(vig_corr_advance(t->corr, last + 86400 * NS, tally_fire, t, NULL), VIG_OK);
	fclose(fp);
	free(ctx);
	free(line);
	return parsed;
}

/* What the rules say about real logs of $VIG_SHARED_DIR: the loghub OpenSSH sample holds a
 * real brute force campaign; the iptables, Apache and Suricata samples are ordinary traffic on
 * which no high or critical rule may fire. */
static void test_rule_corpora(void **state)
{
	static const struct {
		const char *file, *parser;
		bool benign; /* no high / critical alert allowed */
	} corpora[] = {
		{"data/loghub/OpenSSH/OpenSSH_2k.log", "syslog", false},
		{"data/firewall/iptables/iptablogs_iptables.log", "iptables", true},
		{"data/firewall/iptables/py-fw-log_iptables.log", "iptables", true},
		{"data/weblogs/elastic-examples/apache_logs", "apache", true},
		{"data/suricata/surevego/eve.json", "suricata", true},
	};
	const char *shared = getenv("VIG_SHARED_DIR");
	char path[PATH_MAX];
	size_t ran = 0;

	(void)state;
	if (!G.eng || !shared) {
		print_message("VIG_SHARED_DIR unset: corpus check skipped\n");
		skip();
		return;
	}
	for (size_t c = 0; c < sizeof(corpora) / sizeof(corpora[0]); c++) {
		struct tally *t = calloc(1, sizeof(*t));
		struct vig_sigma_rule *const *rules;
		char err[VIG_ERRBUF_SIZE];
		size_t n_rules, parsed;

		assert_non_null(t);
		t->corr = vig_corr_new(NULL);
		assert_non_null(t->corr);
		rules = vig_detect_rules(G.eng, &n_rules);
		assert_int_equal(vig_corr_set_rules(t->corr, rules, n_rules, NULL, NULL, err), VIG_OK);
		snprintf(path, sizeof(path), "%s/%s", shared, corpora[c].file);
		parsed = run_corpus(t, path, corpora[c].parser);
		if (parsed) {
			ran++;
			print_message("%s: %zu events\n", corpora[c].file, parsed);
			for (size_t i = 0; i < t->used; i++) {
				const char *lvl = t->rule[i]->level ? t->rule[i]->level : "";
				print_message("  %6zu  %s [%s]\n", t->n[i], t->rule[i]->title, lvl);
				if (corpora[c].benign && (!strcmp(lvl, "high") || !strcmp(lvl, "critical")))
					fail_msg("%s: high/critical rule '%s' fired on ordinary traffic", corpora[c].file,
						 t->rule[i]->title);
			}
			if (!corpora[c].benign)
				assert_true(tally_get(t, "SSH Brute Force") > 0);
		} else {
			print_message("%s: absent, skipped\n", corpora[c].file);
		}
		vig_corr_free(t->corr);
		free(t);
	}
	if (!ran)
		skip();
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_load),
		cmocka_unit_test(test_rules_metadata),
		cmocka_unit_test(test_rule_cases),
		cmocka_unit_test(test_runner_detects_failures),
#ifdef VIG_HAVE_CORRELATE
		cmocka_unit_test(test_rule_alerting),
#endif
#if defined(VIG_HAVE_PARSE) && defined(VIG_HAVE_CORRELATE)
		cmocka_unit_test(test_rule_corpora),
#endif
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
