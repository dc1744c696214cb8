/*
 * arena: see arena.h. Chunks form a singly linked list; a request larger than the default
 * chunk gets a chunk of its own.
 */
#include "util/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define ARENA_CHUNK 4096u
#define ARENA_ALIGN 16u

struct chunk {
    struct chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) unsigned char mem[];
};

struct arena {
    struct chunk *head;
    size_t total;
    size_t chunk; /* bytes of a standard chunk */
};

static struct chunk *chunk_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(struct chunk))
        xmul(SIZE_MAX, 2);
    struct chunk *c = xmalloc(sizeof(struct chunk) + size);
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

arena_t *arena_new_sized(size_t chunk)
{
    if (chunk > SIZE_MAX / 2)
        xmul(SIZE_MAX, 2); /* aborts */
    arena_t *a = xmalloc(sizeof *a);
    a->head = NULL;
    a->total = 0;
    a->chunk = chunk < 256 ? 256 : (chunk + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    return a;
}

arena_t *arena_new(void)
{
    return arena_new_sized(ARENA_CHUNK);
}

static void free_chunks(struct chunk *c)
{
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

void arena_free(arena_t *a)
{
    if (a == NULL)
        return;
    free_chunks(a->head);
    free(a);
}

void arena_reset(arena_t *a)
{
    if (a->head == NULL)
        return;
    /* Keep the oldest standard-size chunk (the tail) for reuse. */
    struct chunk *keep = NULL, *c = a->head, *prev = NULL;
    while (c->next != NULL) {
        prev = c;
        c = c->next;
    }
    if (c->size == a->chunk) {
        keep = c;
        if (prev != NULL)
            prev->next = NULL;
        else
            a->head = NULL;
    }
    free_chunks(a->head);
    a->head = keep;
    if (keep != NULL)
        keep->used = 0;
    a->total = 0;
}

/* The slow path of alloc(): a new chunk (or a chunk of its own) for need bytes. */
__attribute__((noinline)) static void *alloc_new_chunk(arena_t *a, size_t need)
{
    struct chunk *c = a->head;
    if (need > a->chunk / 4) {
        /* Large: own chunk, linked behind the head so the head keeps serving. */
        struct chunk *big = chunk_new(need);
        big->used = need;
        if (c == NULL) {
            a->head = big;
        } else {
            big->next = c->next;
            c->next = big;
        }
        a->total += need;
        return big->mem;
    }
    c = chunk_new(a->chunk);
    c->next = a->head;
    a->head = c;
    void *p = c->mem + c->used;
    c->used += need;
    a->total += need;
    return p;
}

/* arena_alloc's body; the common case (room in the head chunk) calls nothing. */
static inline void *alloc(arena_t *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        xmul(SIZE_MAX, 2);
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct chunk *c = a->head;
    if (c == NULL || c->size - c->used < need)
        return alloc_new_chunk(a, need);
    void *p = c->mem + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *arena_alloc(arena_t *a, size_t n)
{
    return alloc(a, n);
}

void *arena_calloc(arena_t *a, size_t count, size_t size)
{
    size_t n = xmul(count, size);
    void *p = alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        xmul(SIZE_MAX, 2);
    char *p = alloc(a, len + 1);
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena_t *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

size_t arena_used(const arena_t *a)
{
    return a->total;
}
