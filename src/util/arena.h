/*
 * arena: a region allocator for data that lives exactly as long as one transaction
 * (facts, DNS answers copied for it, findings, reply text). Nothing is freed one by one;
 * arena_reset() frees everything at once and keeps the first chunk for reuse.
 * Allocations are 16-byte aligned; failure aborts (see mem.h).
 */
#ifndef MB_UTIL_ARENA_H
#define MB_UTIL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena_t;

arena_t *arena_new(void);
/* An arena whose chunks hold chunk bytes (arena_new(): 4096). Small chunks suit short-lived
 * arenas that usually hold little: the C library serves them from its per-thread caches.
 * chunk is raised to 256 at least. */
arena_t *arena_new_sized(size_t chunk);
/* Frees the arena and everything allocated from it. Accepts NULL. */
void arena_free(arena_t *a);
void arena_reset(arena_t *a);
void *arena_alloc(arena_t *a, size_t n);
void *arena_calloc(arena_t *a, size_t count, size_t size);
/* Copies len bytes and appends a NUL. */
char *arena_strndup(arena_t *a, const char *s, size_t len);
char *arena_strdup(arena_t *a, const char *s);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes handed out since the last reset (for tests and statistics). */
size_t arena_used(const arena_t *a);

#endif
