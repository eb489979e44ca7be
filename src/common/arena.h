/*
 * arena.h - a bounded bump allocator for data that lives and dies together (one event, one
 * batch, one request). Allocation never frees individually; vig_arena_reset() drops everything
 * at once and keeps the first chunk for reuse. Every arena has a byte limit: past it, allocation
 * returns NULL and the caller reports VIG_ETOOBIG.
 */
#ifndef VIG_ARENA_H
#define VIG_ARENA_H

#include <stddef.h>

struct vig_arena_chunk;

struct vig_arena {
	struct vig_arena_chunk *head; /* newest chunk first */
	size_t used_bytes;            /* bytes handed out since the last reset */
	size_t limit_bytes;           /* most bytes handed out before NULL; 0 = 1 GiB */
	size_t chunk_bytes;           /* size of a normal chunk */
};

/* Prepares caller-owned storage; limit_bytes 0 means 1 GiB. */
void vig_arena_init(struct vig_arena *a, size_t chunk_bytes, size_t limit_bytes);
/* Frees every chunk. The arena may be reused after vig_arena_init(). */
void vig_arena_release(struct vig_arena *a);
/* Forgets all allocations; keeps one chunk to reuse. */
void vig_arena_reset(struct vig_arena *a);
/* n bytes aligned to 8, or NULL when over the limit or out of memory. */
void *vig_arena_alloc(struct vig_arena *a, size_t n);
/* Copy of [s, s+n) with a terminating NUL, or NULL. */
char *vig_arena_strndup(struct vig_arena *a, const char *s, size_t n);

#endif
