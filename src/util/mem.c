/*
 * mem: see mem.h. Out of memory aborts after one line on stderr.
 */
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "mailblock: fatal: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom(n);
    return p;
}

void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        oom(xmul(count, size));
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        oom(n);
    return q;
}

char *xstrndup(const char *s, size_t len)
{
    if (len == SIZE_MAX)
        oom(len);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

size_t xmul(size_t a, size_t b)
{
    if (b != 0 && a > SIZE_MAX / b) {
        fprintf(stderr, "mailblock: fatal: size overflow %zu * %zu\n", a, b);
        abort();
    }
    return a * b;
}
