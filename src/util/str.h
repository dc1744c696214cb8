/*
 * str: one binary-safe growable byte string. The length is explicit; a NUL is always kept
 * after the last byte as a safety net for printing, but content may contain NUL bytes, so
 * code that handles peer data uses len, never strlen. Growth is overflow-checked and
 * allocation failure aborts (see mem.h). The struct is public so it can be embedded.
 */
#ifndef MB_UTIL_STR_H
#define MB_UTIL_STR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct str {
    char *data; /* NULL until the first append; then data[len] == '\0' */
    size_t len;
    size_t cap;
} str_t;

#define STR_INIT {NULL, 0, 0}

void str_init(str_t *s);
/* Releases the storage; s is left empty and reusable. Accepts NULL. */
void str_free(str_t *s);
/* Empties s and keeps its storage. */
void str_clear(str_t *s);
void str_reserve(str_t *s, size_t extra);
void str_append(str_t *s, const void *p, size_t n);
void str_appendz(str_t *s, const char *z);
void str_appendc(str_t *s, char c);
void str_appendf(str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void str_vappendf(str_t *s, const char *fmt, va_list ap);
/* The content as a NUL-terminated string ("" when empty); valid until the next change. */
const char *str_cstr(const str_t *s);
/* Drops the first n bytes (n <= len). */
void str_consume(str_t *s, size_t n);

/*
 * Copies the concatenation of the NUL-terminated parts (a NULL ends the list) into
 * dst[0..size), NUL-terminated; returns false (dst holds a cut copy) when it did not fit.
 * A cheap snprintf("%s%s...") for hot paths.
 */
bool mem_concat(char *dst, size_t size, ...);
/* Copies len bytes of src and a NUL into dst[0..size), cutting at size - 1. */
void mem_copyz(char *dst, size_t size, const char *src, size_t len);
/* The decimal digits of v into buf (at least 21 bytes), NUL-terminated; returns buf. */
char *fmt_ull(char *buf, unsigned long long v);

/* ASCII case-insensitive comparison of two byte ranges. */
bool mem_ieq(const void *a, size_t alen, const void *b, size_t blen);
/* Does [s, s+n) start with [p, p+m) (ASCII case-insensitive)? */
bool mem_iprefix(const char *s, size_t n, const char *p, size_t m);
/* The first ASCII case-insensitive occurrence of [needle, needle+m) in [h, h+n), or NULL;
 * h itself for an empty needle. Bounded by n and m: NUL bytes are ordinary bytes. */
const char *mem_ifind(const char *h, size_t n, const char *needle, size_t m);
/* The length (2 to 4) of the valid UTF-8 multi-byte sequence at p[0..n) (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF), its code point in *cp unless
 * cp is NULL; 0 when there is none (an ASCII byte, a stray or truncated sequence). */
size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp);
/* Does [s, s+len) end with suffix (ASCII case-insensitive)? */
bool mem_iendswith(const char *s, size_t len, const char *suffix, size_t slen);

#endif
