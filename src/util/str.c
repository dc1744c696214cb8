/*
 * str: see str.h.
 */
#include "util/str.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void str_init(str_t *s)
{
    s->data = NULL;
    s->len = s->cap = 0;
}

void str_free(str_t *s)
{
    if (s == NULL)
        return;
    free(s->data);
    str_init(s);
}

void str_clear(str_t *s)
{
    s->len = 0;
    if (s->data != NULL)
        s->data[0] = '\0';
}

void str_reserve(str_t *s, size_t extra)
{
    if (extra >= SIZE_MAX - s->len - 1)
        xmul(SIZE_MAX, 2); /* aborts: overflow */
    size_t need = s->len + extra + 1;
    if (need <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    s->data = xrealloc(s->data, cap);
    s->cap = cap;
}

void str_append(str_t *s, const void *p, size_t n)
{
    /* room already (the common case): no call; cap > len always holds once data is set */
    if (s->data == NULL || n >= s->cap - s->len)
        str_reserve(s, n);
    if (n > 0)
        memcpy(s->data + s->len, p, n);
    s->len += n;
    s->data[s->len] = '\0';
}

void str_appendz(str_t *s, const char *z)
{
    str_append(s, z, strlen(z));
}

void str_appendc(str_t *s, char c)
{
    if (s->data == NULL || s->cap - s->len < 2)
        str_reserve(s, 1);
    s->data[s->len++] = c;
    s->data[s->len] = '\0';
}

void str_vappendf(str_t *s, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        str_append(s, small, (size_t)n);
    } else {
        str_reserve(s, (size_t)n);
        vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap2);
        s->len += (size_t)n;
    }
    va_end(ap2);
}

void str_appendf(str_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    str_vappendf(s, fmt, ap);
    va_end(ap);
}

const char *str_cstr(const str_t *s)
{
    return s->data != NULL ? s->data : "";
}

void str_consume(str_t *s, size_t n)
{
    if (n >= s->len) {
        str_clear(s);
        return;
    }
    memmove(s->data, s->data + n, s->len - n);
    s->len -= n;
    s->data[s->len] = '\0';
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool mem_ieq(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const unsigned char *x = a, *y = b;
    size_t i = 0;
    /* the usual case is the same spelling: equal bytes need no folding, eight at a time */
    for (; i + 8 <= alen; i += 8) {
        uint64_t u, v;
        memcpy(&u, x + i, 8);
        memcpy(&v, y + i, 8);
        if (u != v)
            break;
    }
    for (; i < alen; i++)
        if (x[i] != y[i] && lower(x[i]) != lower(y[i]))
            return false;
    return true;
}

bool mem_iprefix(const char *s, size_t n, const char *p, size_t m)
{
    return m <= n && mem_ieq(s, m, p, m);
}

/*
 * Candidates are found with memchr on both cases of the needle's first byte, so most of
 * the haystack is skipped at memchr's speed; each candidate is compared whole.
 */
const char *mem_ifind(const char *h, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n)
        return m == 0 ? h : NULL;
    unsigned char lo = lower((unsigned char)needle[0]);
    unsigned char up = lo >= 'a' && lo <= 'z' ? (unsigned char)(lo - 32) : lo;
    const char *end = h + (n - m) + 1; /* candidates start in [h, end) */
    const char *pl = memchr(h, lo, (size_t)(end - h));
    const char *pu = up != lo ? memchr(h, up, (size_t)(end - h)) : NULL;
    while (pl != NULL || pu != NULL) {
        bool take_l = pu == NULL || (pl != NULL && pl < pu);
        const char *p = take_l ? pl : pu;
        if (mem_ieq(p + 1, m - 1, needle + 1, m - 1))
            return p;
        const char *next = p + 1;
        if (take_l)
            pl = next < end ? memchr(next, lo, (size_t)(end - next)) : NULL;
        else
            pu = next < end ? memchr(next, up, (size_t)(end - next)) : NULL;
    }
    return NULL;
}

bool mem_iendswith(const char *s, size_t len, const char *suffix, size_t slen)
{
    return slen <= len && mem_ieq(s + len - slen, slen, suffix, slen);
}

bool mem_concat(char *dst, size_t size, ...)
{
    va_list ap;
    va_start(ap, size);
    size_t off = 0;
    bool fits = true;
    for (const char *part = va_arg(ap, const char *); part != NULL;
         part = va_arg(ap, const char *)) {
        size_t n = strlen(part);
        if (off + n >= size) {
            n = size - off - 1;
            fits = false;
        }
        memcpy(dst + off, part, n);
        off += n;
        if (!fits)
            break;
    }
    va_end(ap);
    dst[off] = '\0';
    return fits;
}

void mem_copyz(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

char *fmt_ull(char *buf, unsigned long long v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = p[0];
    size_t want;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range (RFC 3629 section 4) */
    uint32_t v;
    if (c >= 0xc2 && c <= 0xdf) {
        want = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        want = 3;
        v = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        want = 4;
        v = c & 0x07;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < want)
        return 0;
    for (size_t k = 1; k < want; k++) {
        if (p[k] < lo || p[k] > hi)
            return 0;
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (p[k] & 0x3f);
    }
    if (cp != NULL)
        *cp = v;
    return want;
}
