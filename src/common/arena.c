/*
 * arena.c - bounded bump allocator (see arena.h).
 */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct vig_arena_chunk {
	struct vig_arena_chunk *next; /* older chunk */
	size_t size;                  /* usable bytes in data[] */
	size_t off;                   /* next free byte in data[] */
	_Alignas(16) unsigned char data[];
};

void vig_arena_init(struct vig_arena *a, size_t chunk_bytes, size_t limit_bytes)
{
	a->head = NULL;
	a->used_bytes = 0;
	a->limit_bytes = limit_bytes ? limit_bytes : ((size_t)1 << 30);
	a->chunk_bytes = chunk_bytes ? chunk_bytes : 4096;
}

void vig_arena_release(struct vig_arena *a)
{
	struct vig_arena_chunk *c = a->head;

	while (c) {
		struct vig_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->used_bytes = 0;
}

void vig_arena_reset(struct vig_arena *a)
{
	struct vig_arena_chunk *c = a->head;

	if (!c)
		return;
	/* Keep the oldest chunk: it has the normal size. */
	while (c->next) {
		struct vig_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	c->off = 0;
	a->head = c;
	a->used_bytes = 0;
}

void *vig_arena_alloc(struct vig_arena *a, size_t n)
{
	struct vig_arena_chunk *c = a->head;
	size_t need = (n + 7) & ~(size_t)7;

	if (need < n || a->used_bytes + need > a->limit_bytes)
		return NULL;
	if (!c || c->size - c->off < need) {
		size_t size = need > a->chunk_bytes ? need : a->chunk_bytes;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->off = 0;
		if (a->head && need > a->chunk_bytes) {
			/* Oversized allocation: keep it behind the current chunk so its
			 * free space is not wasted. */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	void *p = c->data + c->off;
	c->off += need;
	a->used_bytes += need;
	return p;
}

char *vig_arena_strndup(struct vig_arena *a, const char *s, size_t n)
{
	char *p = vig_arena_alloc(a, n + 1);

	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
