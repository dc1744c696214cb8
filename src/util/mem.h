/*
 * mem: allocation that never returns NULL. Running out of memory is a broken environment,
 * not bad peer input: the process logs and aborts (Postfix's mymalloc rule). Sizes are
 * checked for overflow; a request of zero bytes allocates one byte so that callers never
 * see malloc(0)'s implementation-defined result.
 */
#ifndef MB_UTIL_MEM_H
#define MB_UTIL_MEM_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Copies len bytes and appends a NUL; the copy is owned by the caller. */
char *xstrndup(const char *s, size_t len);
char *xstrdup(const char *s);
/* a * b, aborting on overflow. */
size_t xmul(size_t a, size_t b);

#endif
