/*
 * parse_bench.c - vig-parse-bench FORMAT FILE [REPEAT]: parse-only throughput of one parser.
 * Reads FILE into memory, then parses every line REPEAT times (default 5) into one event
 * whose arena is reset per line, and prints lines per CPU-second (CLOCK_PROCESS_CPUTIME_ID)
 * with the parsed/typed/failed counts. FORMAT is a registry name or "auto".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parse.h"

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a whole file (at most 1 GiB) into a NUL-terminated heap buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long sz;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || sz > (1L << 30) ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out_close;
	buf = malloc((size_t)sz + 1);
	if (!buf)
		goto out_close;
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		buf = NULL;
		goto out_close;
	}
	buf[sz] = '\0';
	*len = (size_t)sz;
out_close:
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	const struct vig_parser *p = NULL;
	struct vig_parse_ctx ctx;
	struct vig_arena arena;
	struct vig_event ev;
	char errbuf[VIG_ERRBUF_SIZE];
	size_t len = 0;
	uint64_t lines = 0, ok = 0, failed = 0;
	long repeat = argc > 3 ? strtol(argv[3], NULL, 10) : 5;
	bool autodetect;

	if (argc < 3 || repeat < 1) {
		fprintf(stderr, "usage: vig-parse-bench FORMAT FILE [REPEAT]\n");
		return 2;
	}
	autodetect = strcmp(argv[1], "auto") == 0;
	if (!autodetect && !(p = vig_parser_find(argv[1]))) {
		fprintf(stderr, "vig-parse-bench: unknown format %s\n", argv[1]);
		return 2;
	}
	char *buf = slurp(argv[2], &len);
	if (!buf) {
		fprintf(stderr, "vig-parse-bench: cannot read %s\n", argv[2]);
		return 1;
	}
	vig_parse_ctx_init(&ctx, 0);
	vig_arena_init(&arena, 64 << 10, 4 << 20);
	vig_event_init(&ev, &arena);
	double t0 = cpu_seconds();
	for (long r = 0; r < repeat; r++) {
		for (char *s = buf, *end = buf + len; s < end;) {
			char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
			vig_arena_reset(&arena);
			vig_event_clear(&ev);
			enum vig_err rc = autodetect ? vig_parse_auto(&ctx, s, n, &ev, NULL, errbuf)
						     : p->parse(&ctx, s, n, &ev, errbuf);
			lines++;
			if (rc == VIG_OK)
				ok++;
			else if (rc != VIG_ENOTFOUND)
				failed++;
			s = nl ? nl + 1 : end;
		}
	}
	double dt = cpu_seconds() - t0;
	uint64_t typed = 0;
	for (int i = 0; i < VIG_PARSER__COUNT; i++)
		typed += ctx.stats[i].typed;
	printf("format=%s lines=%llu parsed=%llu typed=%llu failed=%llu cpu_s=%.3f lines_per_cpu_s=%.0f\n",
	       argv[1], (unsigned long long)lines, (unsigned long long)ok, (unsigned long long)typed,
	       (unsigned long long)failed, dt, dt > 0 ? (double)lines / dt : 0.0);
	vig_arena_release(&arena);
	free(buf);
	return 0;
}
